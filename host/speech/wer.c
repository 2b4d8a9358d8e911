#include "wer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t asr_edit_distance(const int32_t *a, uint32_t n, const int32_t *b, uint32_t m)
{
    uint64_t *row = malloc(((size_t)m + 1) * sizeof *row);
    if (!row)
        return (uint64_t)(n > m ? n : m); /* an upper bound rather than a crash */
    for (uint32_t j = 0; j <= m; j++)
        row[j] = j;
    for (uint32_t i = 1; i <= n; i++) {
        uint64_t diag = row[0];
        row[0] = i;
        for (uint32_t j = 1; j <= m; j++) {
            const uint64_t up = row[j];
            uint64_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    uint64_t d = row[m];
    free(row);
    return d;
}

/* Tokens as int32 ids: words by their first occurrence in either string, characters by code point. */
static uint32_t tokenize(int32_t *out, const char *s, int words, char (*dict)[64], uint32_t *nd, uint32_t cap)
{
    uint32_t n = 0;
    while (*s && n < cap) {
        if (words) {
            if (*s == ' ') {
                s++;
                continue;
            }
            size_t len = strcspn(s, " ");
            char w[64];
            snprintf(w, sizeof w, "%.*s", (int)(len < 63 ? len : 63), s);
            uint32_t k = 0;
            while (k < *nd && strcmp(dict[k], w) != 0)
                k++;
            if (k == *nd && *nd < cap)
                memcpy(dict[(*nd)++], w, sizeof w);
            out[n++] = (int32_t)k;
            s += len;
        } else {
            const unsigned char c = (unsigned char)*s;
            size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
            int32_t cp = c;
            for (size_t k = 1; k < len && s[k]; k++)
                cp = cp * 256 + (unsigned char)s[k];
            out[n++] = cp;
            s += strnlen(s, len);
        }
    }
    return n;
}

static uint64_t edits(const char *hyp, const char *ref, uint64_t *ref_n, int words)
{
    const uint32_t cap = (uint32_t)(strlen(hyp) + strlen(ref) + 1);
    int32_t *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    char(*dict)[64] = words ? malloc((size_t)cap * sizeof *dict) : NULL;
    uint32_t nd = 0;
    if (!a || !b || (words && !dict)) {
        free(a), free(b), free(dict);
        *ref_n = 0;
        return 0;
    }
    const uint32_t n = tokenize(a, hyp, words, dict, &nd, cap), m = tokenize(b, ref, words, dict, &nd, cap);
    uint64_t d = asr_edit_distance(a, n, b, m);
    *ref_n = m;
    free(a), free(b), free(dict);
    return d;
}

uint64_t asr_word_edits(const char *hyp, const char *ref, uint64_t *ref_words)
{
    return edits(hyp, ref, ref_words, 1);
}

uint64_t asr_char_edits(const char *hyp, const char *ref, uint64_t *ref_chars)
{
    return edits(hyp, ref, ref_chars, 0);
}

