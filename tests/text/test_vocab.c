/* The vocabulary (build, stored form, lookup, encoding a text) and the helpers for error messages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/check.h"
#include "text.h"

static text_buf decode(const char *s)
{
    text_buf t = {NULL, 0};
    char err[256] = "";
    if (text_decode(&t, s, strlen(s), "literal", err, sizeof err) != 0) {
        fprintf(stderr, "test literal does not decode: %s\n", err);
        exit(1);
    }
    return t;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void test_build_and_round_trip(void)
{
    char err[256] = "";
    text_buf t = decode("hello w\xc3\xb6rld\n\xf0\x9f\x8e\xb5\xe2\x82\xac hello");
    vocab v = {NULL, 0};
    CHECK(vocab_build(&v, &t, err, sizeof err) == 0, "%s", err);
    const uint32_t want[] = {'\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 0xF6, 0x20AC, 0x1F3B5};
    CHECK(v.n == sizeof want / sizeof want[0], "%u symbols, want %zu", v.n, sizeof want / sizeof want[0]);
    for (uint32_t i = 0; i < v.n && i < sizeof want / sizeof want[0]; i++)
        CHECK(v.cp[i] == want[i], "symbol %u is U+%04X, want U+%04X", i, (unsigned)v.cp[i], (unsigned)want[i]);

    // ids map back to the text's symbols.
    int32_t *ids = malloc(t.n * sizeof *ids);
    size_t bad = 777;
    CHECK(text_encode(ids, &t, &v, &bad) == 0, "text_encode refused its own vocabulary");
    CHECK(bad == 777, "bad written on success");
    for (size_t i = 0; i < t.n; i++)
        CHECK(ids[i] >= 0 && (uint32_t)ids[i] < v.n && v.cp[ids[i]] == t.cp[i], "id %zu wrong", i);
    free(ids);

    // Stored form and back.
    char *s = vocab_to_utf8(&v);
    CHECK(s && strcmp(s, "\n dehlorw\xc3\xb6\xe2\x82\xac\xf0\x9f\x8e\xb5") == 0, "stored form \"%s\"",
          s ? s : "(null)");
    vocab w = {NULL, 0};
    CHECK(vocab_from_utf8(&w, s, err, sizeof err) == 0, "%s", err);
    CHECK(w.n == v.n && memcmp(w.cp, v.cp, v.n * sizeof *v.cp) == 0, "round trip changed the vocabulary");
    free(s);
    vocab_free(&w);
    vocab_free(&v);
    CHECK(v.cp == NULL && v.n == 0, "vocab_free leaves it empty");
    vocab_free(&v);
    text_free(&t);

    // A random text against sort-and-unique, with symbols from every plane.
    uint64_t x = 88172645463325252ull;
    text_buf r = {malloc(20000 * sizeof(uint32_t)), 20000};
    for (size_t i = 0; i < r.n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t c = (uint32_t)(x % 3 == 0 ? (x >> 8) % 0x110000 : (x >> 8) % 300);
        r.cp[i] = (c >= 0xD800 && c <= 0xDFFF) || c == 0 ? 'q' : c;
    }
    uint32_t *sorted = malloc(r.n * sizeof *sorted);
    memcpy(sorted, r.cp, r.n * sizeof *sorted);
    qsort(sorted, r.n, sizeof *sorted, cmp_u32);
    size_t distinct = 0;
    for (size_t i = 0; i < r.n; i++)
        if (i == 0 || sorted[i] != sorted[i - 1])
            sorted[distinct++] = sorted[i];
    CHECK(vocab_build(&v, &r, err, sizeof err) == 0, "%s", err);
    CHECK(v.n == distinct && memcmp(v.cp, sorted, distinct * sizeof *sorted) == 0,
          "random text: %u symbols, want %zu, or in another order", v.n, distinct);
    s = vocab_to_utf8(&v);
    CHECK(s && vocab_from_utf8(&w, s, err, sizeof err) == 0, "random vocabulary round trip: %s", err);
    CHECK(w.n == v.n && memcmp(w.cp, v.cp, v.n * sizeof *v.cp) == 0, "random round trip changed it");
    for (uint32_t i = 0; i < v.n; i++)
        CHECK(vocab_id(&v, v.cp[i]) == (int32_t)i, "vocab_id of symbol %u", i);
    free(s);
    free(sorted);
    vocab_free(&w);
    vocab_free(&v);
    text_free(&r);

    // U+FEFF can be the smallest symbol: the stored form must not lose it as a BOM.
    CHECK(vocab_from_utf8(&w, "\xef\xbb\xbf\xf0\x9f\x98\x80", err, sizeof err) == 0 && w.n == 2 &&
              w.cp[0] == 0xFEFF && w.cp[1] == 0x1F600, "leading U+FEFF lost (%u symbols)", w.n);
    vocab_free(&w);

    text_buf empty = {NULL, 0};
    err[0] = '\0';
    CHECK(vocab_build(&v, &empty, err, sizeof err) == -1 && err[0], "empty text gave a vocabulary");
}

static void test_from_utf8_refusals(void)
{
    static const struct {
        const char *s;
        const char *says;
    } bad[] = {
        {"", "empty"},
        {"ba", "ascending"},
        {"abcb", "ascending"},
        {"aab", "repeated"},
        {"ab\xc3\xa9\xc3\xa9", "repeated"},
        {"\xc3\xa9" "a", "ascending"},
        {"ab\xff", "invalid UTF-8"},
        {"a\xc0\x80", "invalid UTF-8"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char err[256] = "";
        vocab v = {NULL, 0};
        CHECK(vocab_from_utf8(&v, bad[k].s, err, sizeof err) == -1, "\"%s\" accepted", bad[k].s);
        CHECK(v.cp == NULL, "case %zu: out written", k);
        CHECK(strstr(err, bad[k].says) != NULL, "case %zu: \"%s\" does not say \"%s\"", k, err, bad[k].says);
    }
    char err[256] = "";
    vocab v = {NULL, 0};
    CHECK(vocab_from_utf8(&v, NULL, err, sizeof err) == -1, "NULL accepted");
    // The message points at the offending symbol.
    CHECK(vocab_from_utf8(&v, "abcb", err, sizeof err) == -1, "unsorted accepted");
    CHECK(strstr(err, "'b' after 'c'") != NULL, "\"%s\" does not name the pair", err);
}

static void test_lookup_and_encode(void)
{
    vocab v = {NULL, 0};
    char err[256] = "";
    CHECK(vocab_from_utf8(&v, "bdf\xc3\xa9", err, sizeof err) == 0, "%s", err);
    const struct {
        uint32_t cp;
        int32_t id;
    } q[] = {{'a', -1}, {'b', 0}, {'c', -1}, {'d', 1}, {'e', -1}, {'f', 2}, {'g', -1}, {0xE9, 3}, {0x10FFFF, -1},
             {0, -1}};
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++)
        CHECK(vocab_id(&v, q[k].cp) == q[k].id, "vocab_id(U+%04X) = %d, want %d", (unsigned)q[k].cp,
              (int)vocab_id(&v, q[k].cp), (int)q[k].id);

    text_buf t = decode("fd\xc3\xa9" "bxbz");
    int32_t ids[7];
    for (int i = 0; i < 7; i++)
        ids[i] = -9;
    size_t bad = 0;
    CHECK(text_encode(ids, &t, &v, &bad) == -1, "unknown 'x' accepted");
    CHECK(bad == 4, "first unknown at %zu, want 4", bad);
    CHECK(ids[0] == 2 && ids[1] == 1 && ids[2] == 3 && ids[3] == 0, "ids before the unknown: %d %d %d %d",
          (int)ids[0], (int)ids[1], (int)ids[2], (int)ids[3]);
    CHECK(text_encode(ids, &t, &v, NULL) == -1, "NULL bad must be allowed");
    text_free(&t);

    vocab empty = {NULL, 0};
    CHECK(vocab_id(&empty, 'a') == -1, "empty vocabulary found a symbol");
    vocab_free(&v);
}

static void test_position(void)
{
    text_buf t = decode("ab\ncd\r\n\n\xc3\xa9x");
    // index: a0 b1 \n2 c3 d4 \r5 \n6 \n7 é8 x9
    static const size_t want[][3] = {{0, 1, 1}, {1, 1, 2}, {2, 1, 3}, {3, 2, 1}, {4, 2, 2},  {5, 2, 3},
                                     {6, 2, 4}, {7, 3, 1}, {8, 4, 1}, {9, 4, 2}, {10, 4, 3}, {99, 4, 3}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        size_t line = 0, col = 0;
        text_position(&t, want[k][0], &line, &col);
        CHECK(line == want[k][1] && col == want[k][2], "index %zu at %zu:%zu, want %zu:%zu", want[k][0], line, col,
              want[k][1], want[k][2]);
    }
    text_free(&t);
}

static void test_describe(void)
{
    static const struct {
        uint32_t cp;
        const char *want;
    } cases[] = {
        {'a', "'a'"},       {' ', "' '"},          {'~', "'~'"},      {'\n', "'\\n'"},     {'\t', "'\\t'"},
        {'\r', "'\\r'"},    {'\'', "'\\''"},       {'\\', "'\\\\'"},  {0x07, "U+0007"},    {0x00, "U+0000"},
        {0x7F, "U+007F"},   {0x85, "U+0085"},      {0xA0, "U+00A0"},  {0x200B, "U+200B"},  {0xFEFF, "U+FEFF"},
        {0x0301, "U+0301"}, {0xE000, "U+E000"},    {0xFFFF, "U+FFFF"}, {0x10FFFF, "U+10FFFF"},
        {0xE9, "'\xc3\xa9' (U+00E9)"},             {0x430, "'\xd0\xb0' (U+0430)"}, // Cyrillic a, not Latin a
        {0x1F3B5, "'\xf0\x9f\x8e\xb5' (U+1F3B5)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char out[64];
        symbol_describe(out, sizeof out, cases[k].cp);
        CHECK(strcmp(out, cases[k].want) == 0, "U+%04X described as \"%s\", want \"%s\"", (unsigned)cases[k].cp,
              out, cases[k].want);
    }

    // Short buffers: never more than len bytes, always terminated, never half a character.
    char out[16];
    memset(out, '#', sizeof out);
    symbol_describe(out, 3, 'a');
    CHECK(strcmp(out, "'a") == 0 && out[3] == '#', "len 3 gave \"%s\"", out);
    memset(out, '#', sizeof out);
    symbol_describe(out, 0, 'a');
    CHECK(out[0] == '#', "len 0 wrote");
    symbol_describe(out, 1, 'a');
    CHECK(out[0] == '\0' && out[1] == '#', "len 1 must give the empty string");
    memset(out, '#', sizeof out);
    symbol_describe(out, 6, 0xE9); // "'é' (U+00E9)" does not fit
    CHECK(strcmp(out, "U+00E") == 0 && out[6] == '#', "len 6 for U+00E9 gave \"%s\"", out);
    memset(out, '#', sizeof out);
    symbol_describe(out, 7, 0xE9);
    CHECK(strcmp(out, "U+00E9") == 0, "len 7 for U+00E9 gave \"%s\"", out);
}

int main(void)
{
    test_build_and_round_trip();
    test_from_utf8_refusals();
    test_lookup_and_encode();
    test_position();
    test_describe();
    TEST_EXIT();
}
