/* The text front end (host/text/text.c): strict UTF-8 decoding, and the vocabulary's stored form. What decodes
 * encodes back to the same bytes (less a BOM), and a vocabulary survives its stored form. */
#include <string.h>

#include "fuzz.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    // The same bytes as a stored vocabulary, which arrives as a C string from a model file.
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    vocab sv;
    if (vocab_from_utf8(&sv, s, err, sizeof err) == 0) {
        FUZZ_ASSERT(sv.n > 0);
        for (uint32_t i = 1; i < sv.n; i++)
            FUZZ_ASSERT(sv.cp[i - 1] < sv.cp[i]);
        vocab_free(&sv);
    }
    free(s);

    text_buf t;
    if (text_decode(&t, (const char *)data, size, "fuzz.txt", err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    // Encoding every code point again gives the input back, a leading BOM aside.
    size_t skip = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, at = skip;
    for (size_t i = 0; i < t.n; i++) {
        char u[4];
        size_t k = utf8_encode(u, t.cp[i]);
        FUZZ_ASSERT(at + k <= size && memcmp(u, data + at, k) == 0);
        at += k;
    }
    FUZZ_ASSERT(at == size);
    if (t.n > 0) {
        vocab v, back;
        FUZZ_ASSERT(vocab_build(&v, &t, err, sizeof err) == 0);
        char *stored = vocab_to_utf8(&v);
        FUZZ_ASSERT(stored != NULL);
        FUZZ_ASSERT(vocab_from_utf8(&back, stored, err, sizeof err) == 0 && back.n == v.n);
        int32_t *ids = malloc(t.n * sizeof *ids);
        if (ids) {
            size_t bad = 0;
            FUZZ_ASSERT(text_encode(ids, &t, &v, &bad) == 0);
            free(ids);
        }
        char desc[32];
        symbol_describe(desc, sizeof desc, t.cp[t.n - 1]);
        size_t line, col;
        text_position(&t, t.n - 1, &line, &col);
        FUZZ_ASSERT(line >= 1 && col >= 1);
        free(stored);
        vocab_free(&back);
        vocab_free(&v);
    }
    text_free(&t);
    return 0;
}
