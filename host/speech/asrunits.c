#include "asrunits.h"

#include <stdlib.h>
#include <string.h>

#include "hostlog.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* Calls fn for each unit of text (words: space-separated; chars: every UTF-8 character). */
typedef int (*unit_fn)(void *ctx, const char *s, size_t len);

static int for_each_unit(const char *text, int words, unit_fn fn, void *ctx)
{
    const char *p = text;
    while (*p) {
        size_t len;
        if (words) {
            if (*p == ' ') {
                p++;
                continue;
            }
            len = strcspn(p, " ");
        } else {
            len = utf8_len((unsigned char)*p);
            for (size_t k = 1; k < len; k++)
                if (!p[k]) {
                    len = k;
                    break;
                }
        }
        int rc = fn(ctx, p, len);
        if (rc)
            return rc;
        p += len;
    }
    return 0;
}

typedef struct unit_set {
    char **v;
    size_t n, cap;
} unit_set;

static int collect_unit(void *ctx, const char *s, size_t len)
{
    unit_set *u = ctx;
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 64;
        char **g = realloc(u->v, cap * sizeof *g);
        if (!g)
            return -1;
        u->v = g, u->cap = cap;
    }
    if (!(u->v[u->n] = strndup(s, len)))
        return -1;
    u->n++;
    return 0;
}

int asr_units_from_texts(asr_model *m, char *const *texts, size_t n, int words, char *why, size_t why_len)
{
    unit_set u = {0};
    for (size_t i = 0; i < n; i++)
        if (for_each_unit(texts[i], words, collect_unit, &u) != 0) {
            host_fmt(why, why_len, "out of memory");
            goto fail;
        }
    if (u.n == 0) {
        host_fmt(why, why_len, "the transcripts hold no %s", words ? "words" : "characters");
        goto fail;
    }
    qsort(u.v, u.n, sizeof *u.v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < u.n; i++) {
        if (k > 0 && strcmp(u.v[k - 1], u.v[i]) == 0)
            free(u.v[i]);
        else
            u.v[k++] = u.v[i];
    }
    if (k > ASR_MAX_UNITS) {
        host_fmt(why, why_len, "%zu distinct %s, more than %u", k, words ? "words" : "characters", ASR_MAX_UNITS);
        u.n = k;
        goto fail;
    }
    m->units = u.v, m->n_units = (uint32_t)k, m->words = words;
    return 0;
fail:
    for (size_t i = 0; i < u.n; i++)
        free(u.v[i]);
    free(u.v);
    return -1;
}

typedef struct encode_ctx {
    int32_t *labels;
    size_t cap, n;
    const asr_model *m;
    char *why;
    size_t why_len;
} encode_ctx;

static int encode_unit(void *vctx, const char *s, size_t len)
{
    encode_ctx *c = vctx;
    char key[260];
    if (len >= sizeof key) {
        host_fmt(c->why, c->why_len, "a %s of %zu bytes is longer than any the model knows", c->m->words ? "word" : "character", len);
        return -1;
    }
    memcpy(key, s, len);
    key[len] = '\0';
    const char *kp = key;
    char **hit = bsearch(&kp, c->m->units, c->m->n_units, sizeof *c->m->units, cmp_str);
    if (!hit) {
        host_fmt(c->why, c->why_len, "the model knows no %s '%s'", c->m->words ? "word" : "character", key);
        return -1;
    }
    if (c->n < c->cap)
        c->labels[c->n] = (int32_t)(hit - c->m->units) + 1;
    c->n++;
    return 0;
}

long asr_encode(int32_t *labels, size_t cap, const asr_model *m, const char *text, char *why, size_t why_len)
{
    encode_ctx c = {labels, cap, 0, m, why, why_len};
    if (for_each_unit(text, m->words, encode_unit, &c) != 0)
        return -1;
    if (c.n > cap) {
        host_fmt(why, why_len, "a transcript of %zu units, more than %zu", c.n, cap);
        return -1;
    }
    return (long)c.n;
}
