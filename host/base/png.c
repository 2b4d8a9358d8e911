/* A PNG encoder: 8-bit RGB, every row unfiltered (the pictures are flat colours, which deflate shrinks as
 * well without a filter), the scanlines deflated by zlib. */
#include "png.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_be32(bytebuf *b, uint32_t v)
{
    const uint8_t bytes[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    bytebuf_put(b, bytes, 4);
}

/* One chunk: length, type, data, and the CRC of type and data. */
static void png_chunk(bytebuf *b, const char type[4], const uint8_t *data, size_t n)
{
    put_be32(b, (uint32_t)n);
    const size_t at = b->len;
    bytebuf_put(b, type, 4);
    bytebuf_put(b, data, n);
    if (!b->failed)
        put_be32(b, (uint32_t)crc32(0, (const Bytef *)b->data + at, (uInt)(n + 4)));
}

int png_encode(bytebuf *b, const uint8_t *rgb, uint32_t width, uint32_t height)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    const size_t row = (size_t)width * 3, raw = (row + 1) * height;
    if (raw > 0x7FFFFFFF) // more than one chunk may hold, and than zlib's one call takes
        return -1;
    uint8_t *lines = malloc(raw + 1);
    uLongf zlen = compressBound((uLong)raw);
    uint8_t *z = malloc(zlen);
    int rc = -1;
    if (!lines || !z)
        goto done;
    for (size_t y = 0; y < height; y++) {
        lines[y * (row + 1)] = 0; // filter: none
        memcpy(lines + y * (row + 1) + 1, rgb + y * row, row);
    }
    if (compress2(z, &zlen, lines, (uLong)raw, Z_BEST_COMPRESSION) != Z_OK || zlen > 0x7FFFFFFF)
        goto done;
    const uint8_t ihdr[13] = {(uint8_t)(width >> 24), (uint8_t)(width >> 16), (uint8_t)(width >> 8), (uint8_t)width,
                              (uint8_t)(height >> 24), (uint8_t)(height >> 16), (uint8_t)(height >> 8), (uint8_t)height,
                              8, 2, 0, 0, 0}; // 8 bits, truecolour, deflate, filter method 0, no interlace
    bytebuf_put(b, signature, 8);
    png_chunk(b, "IHDR", ihdr, sizeof ihdr);
    png_chunk(b, "IDAT", z, zlen);
    png_chunk(b, "IEND", NULL, 0);
    rc = b->failed ? -1 : 0;
done:
    free(lines);
    free(z);
    return rc;
}
