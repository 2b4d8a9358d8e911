/* Strict UTF-8 decoding in memory: round trips, every class of ill-formed input with its byte offset,
 * and the decoder against an independent table-driven validator on exhaustive and random inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/check.h"
#include "text.h"

/* The reference: Unicode's table of well-formed byte sequences (Table 3-7), written as ranges rather
 * than the decoder's shift-and-check, so the two cannot share a mistake. Returns the offset of the first
 * byte of the first ill-formed sequence, or n when s is well-formed. */
static size_t reference_bad_offset(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned b = s[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t len;
        if (b <= 0x7F) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF)
            len = 2;
        else if (b == 0xE0)
            len = 3, lo = 0xA0;
        else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
            len = 3;
        else if (b == 0xED)
            len = 3, hi = 0x9F;
        else if (b == 0xF0)
            len = 4, lo = 0x90;
        else if (b >= 0xF1 && b <= 0xF3)
            len = 4;
        else if (b == 0xF4)
            len = 4, hi = 0x8F;
        else
            return i;
        if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t j = 2; j < len; j++)
            if (i + j >= n || s[i + j] < 0x80 || s[i + j] > 0xBF)
                return i;
        i += len;
    }
    return n;
}

/* Decodes and checks the outcome against the reference; on success, re-encoding must give the bytes back
 * (minus a leading BOM). Returns 1 when the decoder agreed. */
static int agrees_with_reference(const unsigned char *s, size_t n)
{
    char err[256] = "";
    text_buf t = {NULL, 0};
    int rc = text_decode(&t, (const char *)s, n, "buf", err, sizeof err);
    const unsigned char *nul = n ? memchr(s, 0, n) : NULL;
    int ok = 1;
    if (nul) {
        char want[96];
        snprintf(want, sizeof want, "buf: binary file (NUL byte at offset %zu)", (size_t)(nul - s));
        ok = rc == -1 && strcmp(err, want) == 0;
    } else {
        size_t bad = reference_bad_offset(s, n);
        if (bad < n) {
            char want[96];
            snprintf(want, sizeof want, "buf: invalid UTF-8 at byte %zu (0x%02x)", bad, s[bad]);
            ok = rc == -1 && strncmp(err, want, strlen(want)) == 0;
        } else if (rc != 0) {
            ok = 0;
        } else {
            size_t skip = n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF ? 3 : 0;
            unsigned char *back = malloc(4 * t.n + 1);
            size_t m = 0;
            for (size_t i = 0; i < t.n; i++)
                m += utf8_encode((char *)back + m, t.cp[i]);
            ok = m == n - skip && memcmp(back, s + skip, m) == 0;
            free(back);
        }
    }
    if (!ok) {
        fprintf(stderr, "disagreement on %zu bytes:", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x", s[i]);
        fprintf(stderr, " -> rc %d, \"%s\"\n", rc, err);
    }
    text_free(&t);
    return ok;
}

static void test_round_trip(void)
{
    // 1, 2, 3 and 4-byte sequences, CRLF, and U+FEFF in the middle (only a leading one is a BOM).
    const char *s = "h\xc3\xa9llo, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\xb5\r\n\xef\xbb\xbfz\xf4\x8f\xbf\xbf";
    const uint32_t want[] = {'h', 0xE9, 'l', 'l', 'o', ',', ' ', 0x4E16, 0x754C, ' ', 0x1F3B5, '\r', '\n',
                             0xFEFF, 'z', 0x10FFFF};
    size_t nwant = sizeof want / sizeof want[0];
    char err[256] = "";
    text_buf t = {NULL, 0};
    CHECK(text_decode(&t, s, strlen(s), "s", err, sizeof err) == 0, "decode failed: %s", err);
    CHECK(t.n == nwant, "%zu code points, want %zu", t.n, nwant);
    for (size_t i = 0; i < t.n && i < nwant; i++)
        CHECK(t.cp[i] == want[i], "cp[%zu] = U+%04X, want U+%04X", i, (unsigned)t.cp[i], (unsigned)want[i]);
    char back[128];
    size_t m = 0;
    for (size_t i = 0; i < t.n; i++)
        m += utf8_encode(back + m, t.cp[i]);
    CHECK(m == strlen(s) && memcmp(back, s, m) == 0, "re-encoding differs (%zu bytes, want %zu)", m, strlen(s));
    text_free(&t);
    CHECK(t.cp == NULL && t.n == 0, "text_free leaves the buffer empty");
    text_free(&t); // twice is harmless

    // Every scalar value, in one buffer: decode gives each back, and encode uses the shortest form.
    size_t cap = 4 * 0x110000, n = 0, count = 0;
    char *all = malloc(cap);
    for (uint32_t c = 1; c <= 0x10FFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        size_t k = utf8_encode(all + n, c);
        size_t want_len = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (k != want_len) {
            CHECK(k == want_len, "U+%04X encoded in %zu bytes, want %zu", (unsigned)c, k, want_len);
            break;
        }
        n += k;
        count++;
    }
    CHECK(text_decode(&t, all, n, "all", err, sizeof err) == 0, "decoding every scalar failed: %s", err);
    CHECK(t.n == count, "%zu code points, want %zu", t.n, count);
    size_t mismatches = 0;
    for (size_t i = 0; i < t.n && i < count; i++) {
        uint32_t c = (uint32_t)i + 1;
        if (c >= 0xD800)
            c += 0x800;
        mismatches += t.cp[i] != c;
    }
    CHECK(mismatches == 0, "%zu code points decoded wrong", mismatches);
    text_free(&t);
    free(all);

    // Not scalar values: written as U+FFFD rather than as bytes no decoder accepts.
    const uint32_t not_scalar[] = {0xD800, 0xDFFF, 0x110000, 0xFFFFFFFF};
    for (size_t i = 0; i < 4; i++) {
        char b[4];
        CHECK(utf8_encode(b, not_scalar[i]) == 3 && memcmp(b, "\xef\xbf\xbd", 3) == 0, "0x%X not U+FFFD",
              (unsigned)not_scalar[i]);
    }
}

static void test_invalid_classes(void)
{
    // Each case: a valid 7-byte prefix ("ab\xc3\xa9cd " is 7 bytes), then the bad bytes, then "xyz"
    // unless the case is about the end. The offset is always 7, the start of the bad sequence.
    static const struct {
        const char *bad;
        size_t len;
        int at_end;
        const char *reason; // a word the reason must contain
    } cases[] = {
        {"\xc0\xaf", 2, 0, "never"},               // overlong '/' in two bytes, via C0
        {"\xc1\xbf", 2, 0, "never"},               // C1: overlong too
        {"\xe0\x80\xaf", 3, 0, "overlong"},        // overlong '/' in three bytes
        {"\xe0\x9f\xbf", 3, 0, "overlong"},        // U+07FF in three bytes
        {"\xf0\x80\x80\xaf", 4, 0, "overlong"},    // overlong '/' in four bytes
        {"\xf0\x8f\xbf\xbf", 4, 0, "overlong"},    // U+FFFF in four bytes
        {"\xed\xa0\x80", 3, 0, "surrogate"},       // U+D800
        {"\xed\xbf\xbf", 3, 0, "surrogate"},       // U+DFFF
        {"\xf4\x90\x80\x80", 4, 0, "10FFFF"},      // U+110000
        {"\x80", 1, 0, "continuation"},            // stray continuation byte
        {"\xbf\x80", 2, 0, "continuation"},        // two of them
        {"\xc3" "x", 2, 0, "continuation"},        // lead byte, then ASCII
        {"\xe4\xb8" "x", 3, 0, "continuation"},    // cut short inside the text
        {"\xc3", 1, 1, "truncated"},               // truncated at the end: 2-byte
        {"\xe4\xb8", 2, 1, "truncated"},           // 3-byte
        {"\xf0\x9f\x8e", 3, 1, "truncated"},       // 4-byte
        {"\xf5\x80\x80\x80", 4, 0, "never"},
        {"\xf8\x88\x80\x80\x80", 5, 0, "never"},   // the old 5-byte form
        {"\xfc\x84\x80\x80\x80\x80", 6, 0, "never"},
        {"\xfe", 1, 0, "never"},
        {"\xff", 1, 0, "never"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char buf[32], err[256] = "", want[64];
        size_t n = 0;
        memcpy(buf, "ab\xc3\xa9" "cd ", 7);
        n = 7;
        memcpy(buf + n, cases[k].bad, cases[k].len);
        n += cases[k].len;
        if (!cases[k].at_end) {
            memcpy(buf + n, "xyz", 3);
            n += 3;
        }
        text_buf t = {NULL, 0};
        int rc = text_decode(&t, buf, n, "in.txt", err, sizeof err);
        snprintf(want, sizeof want, "in.txt: invalid UTF-8 at byte 7 (0x%02x)", (unsigned char)cases[k].bad[0]);
        CHECK(rc == -1, "case %zu accepted", k);
        CHECK(t.cp == NULL, "case %zu: out written on failure", k);
        CHECK_PREFIX(err, want);
        CHECK(strstr(err, cases[k].reason) != NULL, "case %zu: \"%s\" does not say \"%s\"", k, err,
              cases[k].reason);
        CHECK(strchr(err, '\n') == NULL, "case %zu: more than one line", k);
    }

    // 0xF5..0xFF never start anything, whatever follows.
    for (unsigned b = 0xF5; b <= 0xFF; b++) {
        char buf[5] = {'o', 'k', (char)b, '\x80', '\x80'}, err[256] = "", want[64];
        text_buf t = {NULL, 0};
        snprintf(want, sizeof want, "x: invalid UTF-8 at byte 2 (0x%02x)", b);
        CHECK(text_decode(&t, buf, sizeof buf, "x", err, sizeof err) == -1, "0x%02x accepted", b);
        CHECK_PREFIX(err, want);
    }

    // The smallest and largest valid sequence of each length are accepted.
    const char *edges[] = {"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                           "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++) {
        char err[256] = "";
        text_buf t = {NULL, 0};
        CHECK(text_decode(&t, edges[k], strlen(edges[k]), "e", err, sizeof err) == 0 && t.n == 1,
              "edge %zu refused: %s", k, err);
        text_free(&t);
    }
}

static void test_bom_nul_empty(void)
{
    char err[256] = "";
    text_buf t = {NULL, 0};
    CHECK(text_decode(&t, "\xef\xbb\xbf" "a\r\nb", 7, "bom", err, sizeof err) == 0, "%s", err);
    CHECK(t.n == 4 && t.cp[0] == 'a' && t.cp[1] == '\r' && t.cp[2] == '\n' && t.cp[3] == 'b',
          "BOM not skipped or CRLF changed (n = %zu)", t.n);
    text_free(&t);

    // An invalid byte right after the BOM: the offset counts the BOM's three bytes.
    CHECK(text_decode(&t, "\xef\xbb\xbf\xff", 4, "bom", err, sizeof err) == -1, "0xff after BOM accepted");
    CHECK_PREFIX(err, "bom: invalid UTF-8 at byte 3 (0xff)");

    // Only a leading BOM is skipped.
    CHECK(text_decode(&t, "\xef\xbb\xbf\xef\xbb\xbf", 6, "bom", err, sizeof err) == 0 && t.n == 1 &&
              t.cp[0] == 0xFEFF, "second BOM should stay a U+FEFF symbol");
    text_free(&t);

    char bin[40];
    memset(bin, 'x', sizeof bin);
    bin[17] = '\0';
    bin[3] = (char)0xff; // binary beats invalid UTF-8: the NUL is the more telling symptom
    CHECK(text_decode(&t, bin, sizeof bin, "x.bin", err, sizeof err) == -1, "NUL accepted");
    CHECK_MSG(err, "x.bin: binary file (NUL byte at offset 17)");
    CHECK(text_decode(&t, "\0", 1, "z", err, sizeof err) == -1, "lone NUL accepted");
    CHECK_MSG(err, "z: binary file (NUL byte at offset 0)");

    t.n = 99;
    CHECK(text_decode(&t, NULL, 0, "e", err, sizeof err) == 0 && t.n == 0, "empty input refused");
    CHECK(text_decode(&t, "\xef\xbb\xbf", 3, "e", err, sizeof err) == 0 && t.n == 0, "BOM-only refused");
    text_free(&t);

    // A small err buffer is truncated, not overrun; a NULL one is allowed.
    char tiny[8];
    memset(tiny, '#', sizeof tiny);
    CHECK(text_decode(&t, "\xff", 1, "a-long-file-name.txt", tiny, 5) == -1, "0xff accepted");
    CHECK(tiny[4] == '\0' && tiny[5] == '#', "err_len not respected");
    CHECK(text_decode(&t, "\xff", 1, "n", NULL, 0) == -1, "0xff accepted with no err buffer");
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void)
{
    // splitmix64: deterministic, so a failure reproduces
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void test_against_reference(void)
{
    unsigned char s[80];
    size_t disagreements = 0;

    // Every two-byte input.
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            s[0] = (unsigned char)a, s[1] = (unsigned char)b;
            disagreements += !agrees_with_reference(s, 2);
        }
    // Every lead byte with every second byte, and third/fourth bytes at the interesting edges.
    const unsigned char tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    for (unsigned a = 0xC0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof tails; c++)
                for (size_t d = 0; d < sizeof tails; d += 3) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b, s[2] = tails[c], s[3] = tails[d];
                    disagreements += !agrees_with_reference(s, 3);
                    disagreements += !agrees_with_reference(s, 4);
                }
    CHECK(disagreements == 0, "%zu exhaustive inputs disagree with the reference", disagreements);

    // Random buffers: half of the pieces are valid encodings so that many buffers decode, the rest are
    // random bytes (NUL rarely) or valid encodings cut short, so that every path gets exercised.
    size_t decoded = 0;
    disagreements = 0;
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = 0, target = (size_t)(next_random() % 64);
        if (next_random() % 8 == 0) {
            memcpy(s, "\xef\xbb\xbf", 3);
            n = 3;
        }
        while (n < target) {
            uint64_t r = next_random();
            char enc[4];
            if (r % 100 < 60) {
                static const uint32_t top[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF, 0x10FFFF};
                uint32_t c = (uint32_t)((r >> 8) % (top[(r >> 40) % 5] + 1));
                size_t k = utf8_encode(enc, c == 0 ? 'a' : c);
                if (r % 100 < 3 && k > 1)
                    k--; // a sequence cut short
                for (size_t j = 0; j < k && n < sizeof s; j++)
                    s[n++] = (unsigned char)enc[j];
            } else {
                unsigned char b = (unsigned char)(r >> 16);
                s[n++] = b == 0 && (r >> 24) % 16 != 0 ? 0x80 : b;
            }
        }
        text_buf t = {NULL, 0};
        char err[256];
        if (text_decode(&t, (const char *)s, n, "r", err, sizeof err) == 0)
            decoded++;
        text_free(&t);
        disagreements += !agrees_with_reference(s, n);
    }
    CHECK(disagreements == 0, "%zu random buffers disagree with the reference", disagreements);
    // The generator must reach both outcomes, or the loop tests nothing.
    CHECK(decoded > 500 && decoded < 4500, "%zu of 5000 random buffers decoded", decoded);
}

int main(void)
{
    test_round_trip();
    test_invalid_classes();
    test_bom_nul_empty();
    test_against_reference();
    TEST_EXIT();
}
