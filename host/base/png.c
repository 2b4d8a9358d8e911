/* A PNG encoder of our own, and a tiny one: stored deflate blocks, no compression. A picture is written once
 * and looked at, so its size matters less than having no image library to depend on. */
#include "png.h"

#include <stdlib.h>
#include <string.h>

static void put_be32(bytebuf *b, uint32_t v)
{
    const uint8_t bytes[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    bytebuf_put(b, bytes, 4);
}

static uint32_t crc32_of(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t adler32_of(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t a = adler & 0xFFFF, b = adler >> 16;
    while (n > 0) {
        // 5552 bytes is the most that can be summed before b may overflow 32 bits.
        size_t chunk = n < 5552 ? n : 5552;
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

/* One chunk: length, type, data, and the CRC of type and data. */
static void png_chunk(bytebuf *b, const char type[4], const uint8_t *data, size_t n)
{
    put_be32(b, (uint32_t)n);
    const size_t at = b->len;
    bytebuf_put(b, type, 4);
    bytebuf_put(b, data, n);
    if (!b->failed)
        put_be32(b, crc32_of(0, (const uint8_t *)b->data + at, n + 4));
}

/* An 8-bit RGB PNG of rgb (height rows of width*3 bytes), every row with filter 0 and the zlib stream made
 * of stored blocks. */
int png_encode(bytebuf *b, const uint8_t *rgb, uint32_t width, uint32_t height)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    const size_t row = (size_t)width * 3, raw = (row + 1) * height;
    const size_t blocks = raw ? (raw + 65534) / 65535 : 1;
    const size_t zlen = 2 + raw + 5 * blocks + 4;
    if (zlen > 0x7FFFFFFF) // the most one chunk may hold
        return -1;
    uint8_t *z = malloc(zlen);
    if (!z)
        return -1;
    size_t k = 0;
    z[k++] = 0x78; // deflate, 32 KiB window
    z[k++] = 0x01; // no preset dictionary, lowest level; 0x7801 is a multiple of 31 as the header requires
    uint32_t adler = 1;
    size_t done = 0;
    /* The raw scanlines are streamed into blocks without being built first: the filter byte of each row is
     * the only thing interleaved with the pixels. */
    size_t y = 0, x = 0; // position in the raw stream: row y, byte x of (filter byte + row)
    for (size_t blk = 0; blk < blocks; blk++) {
        const size_t len = raw - done < 65535 ? raw - done : 65535;
        z[k++] = blk + 1 == blocks ? 1 : 0; // BFINAL on the last, BTYPE 00 (stored)
        z[k++] = (uint8_t)len;
        z[k++] = (uint8_t)(len >> 8);
        z[k++] = (uint8_t)~len;
        z[k++] = (uint8_t)(~len >> 8);
        const size_t start = k;
        size_t left = len;
        while (left > 0) {
            if (x == 0) {
                z[k++] = 0; // filter: none
                x = 1;
                left--;
                continue;
            }
            size_t take = row + 1 - x < left ? row + 1 - x : left;
            memcpy(z + k, rgb + y * row + (x - 1), take);
            k += take;
            x += take;
            left -= take;
            if (x == row + 1)
                x = 0, y++;
        }
        adler = adler32_of(adler, z + start, len);
        done += len;
    }
    z[k++] = (uint8_t)(adler >> 24);
    z[k++] = (uint8_t)(adler >> 16);
    z[k++] = (uint8_t)(adler >> 8);
    z[k++] = (uint8_t)adler;

    const uint8_t ihdr[13] = {(uint8_t)(width >> 24), (uint8_t)(width >> 16), (uint8_t)(width >> 8), (uint8_t)width,
                              (uint8_t)(height >> 24), (uint8_t)(height >> 16), (uint8_t)(height >> 8), (uint8_t)height,
                              8, 2, 0, 0, 0}; // 8 bits, truecolour, deflate, filter method 0, no interlace
    bytebuf_put(b, signature, 8);
    png_chunk(b, "IHDR", ihdr, sizeof ihdr);
    png_chunk(b, "IDAT", z, k);
    png_chunk(b, "IEND", NULL, 0);
    free(z);
    return b->failed ? -1 : 0;
}
