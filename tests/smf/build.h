/* Byte-level MIDI file building for the tests: each test spells out the exact bytes it feeds the reader,
 * so a reader bug cannot hide behind a matching writer bug. */
#ifndef RNNHOST_TEST_SMF_BUILD_H
#define RNNHOST_TEST_SMF_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *d;
    size_t n, cap;
    size_t track_at; // where the open track's length goes
} bytes;

static void b_put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->d = realloc(b->d, cap);
        if (!b->d) {
            fputs("out of memory\n", stderr);
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void b_u8(bytes *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    b_put(b, &c, 1);
}

// Up to 8 raw bytes given as arguments; for spelling events inline.
#define B_RAW(b, ...)                                                                                      \
    do {                                                                                                   \
        const uint8_t raw_[] = {__VA_ARGS__};                                                              \
        b_put((b), raw_, sizeof raw_);                                                                     \
    } while (0)

static void b_be32(bytes *b, uint32_t v)
{
    B_RAW(b, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v);
}

// A variable-length quantity (any 32-bit value; values above 0x0FFFFFFF take 5 bytes, for bad files).
static void b_vlq(bytes *b, uint32_t v)
{
    uint8_t tmp[5];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)(v & 0x7F);
        v >>= 7;
    } while (v);
    while (n-- > 0)
        b_u8(b, tmp[n] | (n ? 0x80u : 0u));
}

static void b_header(bytes *b, unsigned format, unsigned ntracks, unsigned division)
{
    b_put(b, "MThd", 4);
    b_be32(b, 6);
    B_RAW(b, (uint8_t)(format >> 8), (uint8_t)format, (uint8_t)(ntracks >> 8), (uint8_t)ntracks,
          (uint8_t)(division >> 8), (uint8_t)division);
}

static void b_track_begin(bytes *b)
{
    b_put(b, "MTrk", 4);
    b->track_at = b->n;
    b_be32(b, 0);
}

static void b_track_end(bytes *b)
{
    const uint32_t len = (uint32_t)(b->n - b->track_at - 4);
    b->d[b->track_at] = (uint8_t)(len >> 24);
    b->d[b->track_at + 1] = (uint8_t)(len >> 16);
    b->d[b->track_at + 2] = (uint8_t)(len >> 8);
    b->d[b->track_at + 3] = (uint8_t)len;
}

static void b_meta(bytes *b, uint32_t delta, unsigned type, const void *data, uint32_t len)
{
    b_vlq(b, delta);
    B_RAW(b, 0xFF, (uint8_t)type);
    b_vlq(b, len);
    if (len)
        b_put(b, data, len);
}

static void b_tempo(bytes *b, uint32_t delta, uint32_t us_per_quarter)
{
    const uint8_t t[3] = {(uint8_t)(us_per_quarter >> 16), (uint8_t)(us_per_quarter >> 8),
                          (uint8_t)us_per_quarter};
    b_meta(b, delta, 0x51, t, 3);
}

static void b_eot(bytes *b, uint32_t delta)
{
    b_meta(b, delta, 0x2F, NULL, 0);
}

#endif /* RNNHOST_TEST_SMF_BUILD_H */
