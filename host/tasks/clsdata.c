/* The classifier's data (classify.h): TSV lines label<TAB>sequence read against a model, characters as
 * the model's symbol ids or numeric rows standardised with its statistics, and batches of them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "hostlog.h"
#include "readall.h"
#include "trainutil.h"

/* A data file may be this large: the sequences are held in memory. */
#define CLS_MAX_FILE ((size_t)1 << 31)

/* The distinct words of a new model's training data, counted: open addressing over their FNV-1a hashes. */
typedef struct word_table {
    char **word;            /* (cap) NULL: free */
    uint32_t *count, *index; /* (cap) a word's count, and its place in the order words were first seen */
    uint32_t *slot;         /* (cap / 2) where the i-th word seen sits */
    size_t n, cap;
} word_table;

static uint64_t word_hash(const char *s, size_t len)
{
    return train_hash(TRAIN_HASH_SEED, s, len);
}

/* The index (in order of first appearance) of the word s[0..len), added when new. -1: out of memory. */
static long word_add(word_table *t, const char *s, size_t len)
{
    if (2 * (t->n + 1) > t->cap) { /* at most half full */
        word_table g = {0};
        g.cap = t->cap ? 2 * t->cap : 1024;
        g.word = calloc(g.cap, sizeof *g.word);
        g.count = calloc(g.cap, sizeof *g.count);
        g.index = calloc(g.cap, sizeof *g.index);
        g.slot = calloc(g.cap / 2, sizeof *g.slot);
        if (!g.word || !g.count || !g.index || !g.slot) {
            free(g.word), free(g.count), free(g.index), free(g.slot);
            return -1;
        }
        for (size_t i = 0; i < t->n; i++) {
            const char *w = t->word[t->slot[i]];
            size_t k = word_hash(w, strlen(w)) & (g.cap - 1);
            while (g.word[k])
                k = (k + 1) & (g.cap - 1);
            g.word[k] = t->word[t->slot[i]], g.count[k] = t->count[t->slot[i]], g.index[k] = (uint32_t)i;
            g.slot[i] = (uint32_t)k;
        }
        g.n = t->n;
        free(t->word), free(t->count), free(t->index), free(t->slot);
        *t = g;
    }
    size_t k = word_hash(s, len) & (t->cap - 1);
    for (; t->word[k]; k = (k + 1) & (t->cap - 1))
        if (strncmp(t->word[k], s, len) == 0 && t->word[k][len] == '\0') {
            t->count[k]++;
            return (long)t->index[k];
        }
    if (!(t->word[k] = strndup(s, len)))
        return -1;
    t->count[k] = 1, t->index[k] = (uint32_t)t->n, t->slot[t->n] = (uint32_t)k;
    return (long)t->n++;
}

static void word_table_free(word_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->word[i]);
    free(t->word), free(t->count), free(t->index), free(t->slot);
}

static int cmp_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A word's id in m's vocabulary: its index + 1, or 0 (the unknown word). */
static int32_t word_id(const cls_model *m, const char *s, size_t len)
{
    size_t lo = 0, hi = m->n_words;
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        const int c = strncmp(m->words[mid], s, len);
        const int cmp = c ? c : m->words[mid][len] != '\0';
        if (cmp == 0)
            return (int32_t)mid + 1;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int cls_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

const char *cls_next_word(const char *s, size_t len, size_t *at, size_t *wlen)
{
    while (*at < len && cls_is_space(s[*at]))
        (*at)++;
    const size_t start = *at;
    while (*at < len && !cls_is_space(s[*at]))
        (*at)++;
    *wlen = *at - start;
    return s + start;
}

/* The elements of one sequence s[0..len) into tokens (code points, or the model's ids when ids is set;
 * words: their index in wt, or the model's ids) or values (numeric: m->channels a step, or any count when it
 * is 0), at most cap elements; with spt, each word's index in spt (its spelling) into spell_of. The count of
 * elements (steps; values when m->channels is 0), or -1 with why. */
static long parse_elems(const cls_model *m, int ids, word_table *wt, word_table *spt, int32_t *spell_of, const char *s,
                        size_t len, int32_t *tokens, float *values, size_t cap, char *why, size_t why_len)
{
    size_t n = 0;
    if (m->input == CLS_IN_WORDS) {
        size_t at = 0, wlen;
        for (const char *w; (w = cls_next_word(s, len, &at, &wlen)), wlen > 0;) {
            if (n >= cap) {
                host_fmt(why, why_len, "longer than %zu words (the limit)", cap);
                return -1;
            }
            const long id = ids ? word_id(m, w, wlen) : word_add(wt, w, wlen);
            const long sp = spt ? word_add(spt, w, wlen) : 0;
            if (id < 0 || sp < 0) {
                host_fmt(why, why_len, "out of memory");
                return -1;
            }
            if (spell_of)
                spell_of[n] = (int32_t)sp;
            tokens[n++] = (int32_t)id;
        }
    }
    if (len == 0 || (m->input == CLS_IN_WORDS && n == 0)) {
        host_fmt(why, why_len, "an empty sequence");
        return -1;
    }
    if (m->input == CLS_IN_WORDS)
        return (long)n;
    if (m->input == CLS_IN_CHARS) {
        for (size_t at = 0; at < len; n++) {
            uint32_t cp;
            size_t k;
            const char *bad;
            if (utf8_next((const unsigned char *)s + at, len - at, 1, &cp, &k, &bad) != 1) {
                host_fmt(why, why_len, "not UTF-8 (%s)", bad);
                return -1;
            }
            if (n >= cap) {
                host_fmt(why, why_len, "longer than %zu characters (the limit)", cap);
                return -1;
            }
            const int32_t id = ids ? vocab_id(&m->voc, cp) : (int32_t)cp;
            if (id < 0) {
                char d[64];
                symbol_describe(d, sizeof d, cp);
                host_fmt(why, why_len, "%s is not in the model's vocabulary", d);
                return -1;
            }
            tokens[n] = id;
            at += k;
        }
        return (long)n;
    }
    const size_t C = m->channels ? m->channels : 1;
    for (const char *p = s, *end = s + len; p <= end; n++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        char num[64], *e;
        const size_t k = (size_t)(stop - p);
        if (n >= cap * C) {
            host_fmt(why, why_len, "longer than %zu steps (the limit)", cap);
            return -1;
        }
        if (k == 0 || k >= sizeof num) {
            host_fmt(why, why_len, "value %zu is %s", n + 1, k ? "too long" : "empty");
            return -1;
        }
        memcpy(num, p, k);
        num[k] = '\0';
        errno = 0;
        const double v = strtod(num, &e);
        if (*e || !isfinite(v) || fabs(v) > 3e38) {
            host_fmt(why, why_len, "value %zu, '%s', is not a number", n + 1, num);
            return -1;
        }
        values[n] = (float)v;
        p = stop + 1;
    }
    if (n % C) {
        host_fmt(why, why_len, "%zu values, not a whole number of steps of %zu channels (a ragged row)", n, C);
        return -1;
    }
    return (long)(n / C);
}

/* The characters of the word w[0..len) a spelling model reads (at most CLS_SPELL_MAX: the first and the
 * last half of a longer word; a byte that is not UTF-8 reads as U+FFFD): their bits set in seen, or (seen
 * NULL) their ids in m's spelling vocabulary into ids. Their count. */
static uint32_t spell_word(const cls_model *m, const char *w, size_t len, uint32_t *seen, int32_t *ids)
{
    size_t total = 0, at, k;
    uint32_t cp, n = 0;
    const char *bad;
    for (at = 0; at < len; at += k, total++)
        if (utf8_next((const unsigned char *)w + at, len - at, 1, &cp, &k, &bad) != 1)
            k = 1;
    for (size_t i = 0, at2 = 0; at2 < len; at2 += k, i++) {
        if (utf8_next((const unsigned char *)w + at2, len - at2, 1, &cp, &k, &bad) != 1)
            cp = 0xFFFD, k = 1;
        if (total > CLS_SPELL_MAX && i >= CLS_SPELL_MAX / 2 && i < total - CLS_SPELL_MAX / 2)
            continue;
        if (seen)
            seen[cp / 32] |= 1u << (cp % 32);
        else
            ids[n] = vocab_id(&m->spell_voc, cp) + 1; /* -1 + 1: any other character */
        n++;
    }
    return n;
}

/* After b->sp's rows (B, lengths, characters) are written: its T, the padding past each row's end, and its
 * reversed copy. */
static void spell_batch_end(cls_batch *b, const cls_model *m)
{
    cls_batch *sp = b->sp;
    uint32_t Tc = 0;
    for (uint32_t r = 0; r < sp->B; r++)
        if (sp->lengths[r] > Tc)
            Tc = sp->lengths[r];
    sp->T = Tc;
    for (uint32_t r = 0; r < sp->B; r++)
        for (uint32_t t = sp->lengths[r]; t < Tc; t++)
            sp->tokens[0][(size_t)t * sp->B + r] = 0;
    cls_batch_reverse(sp, m->spell);
}

long cls_parse_line(const cls_model *m, const char *text, size_t len, size_t *stripped, cls_batch *b, const char *input,
                    size_t ln)
{
    char why[512];
    if (len && text[len - 1] == '\n')
        len--;
    if (len && text[len - 1] == '\r')
        len--;
    *stripped = len;
    float *values = cls_tokens(m) ? NULL : b->x[0];
    const long n = parse_elems(m, 1, NULL, NULL, NULL, text, len, b->tokens[0], values, m->max_len, why, sizeof why);
    if (n <= 0) {
        hostlog_error("%s:%zu: %s", input, ln, why);
        return -1;
    }
    if (values)
        for (size_t i = 0; i < (size_t)n * m->channels; i++)
            values[i] = (values[i] - m->mean[i % m->channels]) / m->std[i % m->channels];
    b->T = (uint32_t)n, b->B = 1, b->lengths[0] = (uint32_t)n;
    if (m->spelling) { /* the rows of the character model's batch: the elements in order */
        cls_batch *sp = b->sp;
        int32_t ids[CLS_SPELL_MAX];
        size_t at = 0, wlen;
        sp->B = (uint32_t)n;
        for (uint32_t r = 0; r < (uint32_t)n; r++) {
            const char *w = cls_next_word(text, len, &at, &wlen);
            const uint32_t k = spell_word(m, w, wlen, NULL, ids);
            b->slot[r] = (int32_t)r, sp->lengths[r] = k;
            for (uint32_t t = 0; t < k; t++)
                sp->tokens[0][(size_t)t * sp->B + r] = ids[t];
        }
        spell_batch_end(b, m);
    }
    cls_batch_reverse(b, m);
    return n;
}

/* The set's distinct words (spt, in the order first seen) as spellings; with grow, their characters first
 * make m's spelling vocabulary. 0, or -1 with why. */
static int set_spellings(cls_set *s, cls_model *m, const word_table *spt, int grow, char *why, size_t why_len)
{
    if (grow) {
        uint32_t *seen = calloc(VOCAB_BIT_WORDS, sizeof *seen);
        if (!seen)
            return host_fmt(why, why_len, "out of memory"), -1;
        for (size_t i = 0; i < spt->n; i++) {
            const char *w = spt->word[spt->slot[i]];
            spell_word(m, w, strlen(w), seen, NULL);
        }
        const int rc = vocab_from_bits(&m->spell_voc, seen, why, why_len);
        free(seen);
        if (rc != 0)
            return -1;
    }
    s->spell_start = malloc((spt->n + 1) * sizeof *s->spell_start);
    s->spell_chars = malloc((spt->n * CLS_SPELL_MAX + 1) * sizeof *s->spell_chars);
    if (!s->spell_start || !s->spell_chars)
        return host_fmt(why, why_len, "out of memory"), -1;
    s->spell_start[0] = 0;
    for (size_t i = 0; i < spt->n; i++) {
        const char *w = spt->word[spt->slot[i]];
        s->spell_start[i + 1] = s->spell_start[i] + spell_word(m, w, strlen(w), NULL, s->spell_chars + s->spell_start[i]);
    }
    return 0;
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        const size_t t = a % b;
        a = b, b = t;
    }
    return a;
}

/* Adds label to m's labels. Its index, or -1 (memory). */
static int32_t add_label(cls_model *m, const char *label, size_t len)
{
    char **more = realloc(m->labels, (m->n_labels + 1) * sizeof *more);
    if (!more)
        return -1;
    m->labels = more;
    if (!(m->labels[m->n_labels] = strndup(label, len)))
        return -1;
    return (int32_t)m->n_labels++;
}

/* The words seen at least m->min_count times as m's vocabulary, and the set's words (their indices in t)
 * as their ids, the rarer ones as the unknown word's. 0, or -1 with why. */
static int grow_words(cls_model *m, cls_set *s, word_table *t, char *why, size_t why_len)
{
    int32_t *id = malloc((t->n + 1) * sizeof *id);
    m->words = malloc((t->n + 1) * sizeof *m->words);
    if (!id || !m->words) {
        free(id);
        return host_fmt(why, why_len, "out of memory"), -1;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->count[t->slot[i]] >= m->min_count)
            m->words[m->n_words++] = t->word[t->slot[i]];
    qsort(m->words, m->n_words, sizeof *m->words, cmp_words);
    for (size_t i = 0; i < t->n; i++) {
        const char *w = t->word[t->slot[i]];
        id[i] = t->count[t->slot[i]] >= m->min_count ? word_id(m, w, strlen(w)) : 0;
    }
    for (size_t i = 0; i < t->n; i++) /* m owns the words it keeps now; the table frees the rest */
        if (t->count[t->slot[i]] >= m->min_count)
            t->word[t->slot[i]] = NULL;
    for (size_t i = 0; i < s->start[s->n]; i++)
        s->tokens[i] = id[s->tokens[i]];
    free(id);
    return 0;
}

/* The training symbols as m's vocabulary, and the set's code points as their ids. 0, or -1 with why. */
static int grow_vocab(cls_model *m, cls_set *s, char *why, size_t why_len)
{
    uint32_t *seen = calloc(VOCAB_BIT_WORDS, sizeof *seen);
    if (!seen)
        return host_fmt(why, why_len, "out of memory"), -1;
    const size_t total = s->start[s->n];
    for (size_t i = 0; i < total; i++)
        seen[(uint32_t)s->tokens[i] / 32] |= 1u << ((uint32_t)s->tokens[i] % 32);
    const int rc = vocab_from_bits(&m->voc, seen, why, why_len);
    free(seen);
    for (size_t i = 0; rc == 0 && i < total; i++)
        s->tokens[i] = vocab_id(&m->voc, (uint32_t)s->tokens[i]);
    return rc;
}

/* The index of the label (or tag) l[0..k) in m, added when grow; -1 after one line naming path:ln when it is
 * not there (or memory ran out). */
static int32_t find_label(cls_model *m, const char *l, size_t k, int grow, const char *path, size_t ln)
{
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (strlen(m->labels[i]) == k && memcmp(m->labels[i], l, k) == 0)
            return (int32_t)i;
    if (!grow) {
        hostlog_error("%s:%zu: %s '%.*s' is not one of the model's %u %ss (seen only here, not in the training data)",
                      path, ln, m->tagger ? "tag" : "label", (int)(k > 80 ? 80 : k), l, m->n_labels,
                      m->tagger ? "tag" : "label");
        return -1;
    }
    const int32_t i = add_label(m, l, k);
    if (i < 0)
        hostlog_error("out of memory");
    return i;
}

/* CoNLL lines token<TAB>tag into s, a sentence a sequence; blank lines end sentences. 0, or -1 after one
 * line. */
static int read_conll(cls_set *s, const char *path, const char *data, size_t size, cls_model *m, int grow,
                      word_table *wt, word_table *spt)
{
    size_t at = 0, ln = 0;
    for (const char *p = data, *end = data + size; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        ln++;
        if (stop > p && stop[-1] == '\r')
            stop--;
        const int blank = stop == p;
        if (!blank) {
            const char *tab = memchr(p, '\t', (size_t)(stop - p));
            if (!tab || tab == p || tab + 1 == stop) {
                hostlog_error("%s:%zu: %s", path, ln,
                              !tab ? "no tab: a line is token<TAB>tag, a blank line between sentences"
                                   : tab == p ? "an empty token" : "an empty tag");
                return -1;
            }
            if (at == s->start[s->n]) /* a sentence starts */
                s->line[s->n] = ln, s->label[s->n] = -1;
            long id = grow ? word_add(wt, p, (size_t)(tab - p)) : word_id(m, p, (size_t)(tab - p));
            const long sp = spt && id >= 0 ? word_add(spt, p, (size_t)(tab - p)) : 0;
            id = sp < 0 ? -1 : id;
            const int32_t tag = id < 0 ? -1 : find_label(m, tab + 1, (size_t)(stop - tab - 1), grow, path, ln);
            if (id < 0 || tag < 0) {
                if (id < 0)
                    hostlog_error("out of memory");
                return -1;
            }
            if (spt)
                s->spell_of[at] = (int32_t)sp;
            s->tokens[at] = (int32_t)id, s->tags[at++] = tag;
            if (at - s->start[s->n] > m->max_len) {
                hostlog_error("%s:%zu: a sentence of more than %u tokens, longer than the limit (--max-length)", path,
                              s->line[s->n], m->max_len);
                return -1;
            }
        }
        p = nl ? nl + 1 : end;
        if ((blank || p == end) && at > s->start[s->n]) /* a sentence ends */
            s->start[++s->n] = at;
    }
    return 0;
}

/* Lines label<TAB>sequence, or sequences alone (labelled 0), into s; the gcd of their lengths. 0, or -1
 * after one line. */
static int read_lines(cls_set *s, const char *path, const char *data, size_t size, cls_model *m, int grow,
                      word_table *wt, word_table *spt, int labelled, size_t *steps_gcd_out)
{
    const int find_channels = m->input == CLS_IN_NUMERIC && m->channels == 0;
    char why[512];
    size_t at = 0, line = 0, steps_gcd = 0;
    for (const char *p = data, *end = data + size; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        const char *seq = p;
        const size_t ln = line + 1;
        if (stop > p && stop[-1] == '\r')
            stop--;
        s->line[s->n] = ln;
        s->label[s->n] = -1;
        if (labelled) {
            const char *tab = memchr(p, '\t', (size_t)(stop - p));
            if (!tab || tab == p) {
                hostlog_error("%s:%zu: %s", path, ln, tab ? "an empty label" : "no tab: a line is label<TAB>sequence");
                return -1;
            }
            if ((s->label[s->n] = find_label(m, p, (size_t)(tab - p), grow, path, ln)) < 0)
                return -1;
            seq = tab + 1;
        }
        const long n = parse_elems(m, !grow, wt, spt, spt ? s->spell_of + at : NULL, seq, (size_t)(stop - seq),
                                   s->tokens ? s->tokens + at : NULL, s->values ? s->values + at : NULL,
                                   SIZE_MAX / 8192, why, sizeof why);
        if (n < 0) {
            hostlog_error("%s:%zu: %s", path, ln, why);
            return -1;
        }
        if (!find_channels && (size_t)n > m->max_len) {
            hostlog_error("%s:%zu: a sequence of %ld elements, longer than the limit of %u (--max-length)", path, ln, n,
                          m->max_len);
            return -1;
        }
        at += (size_t)n * (m->input == CLS_IN_NUMERIC && !find_channels ? m->channels : 1);
        steps_gcd = gcd(steps_gcd, (size_t)n);
        s->start[++s->n] = at;
        p = nl ? nl + 1 : end;
    }
    *steps_gcd_out = steps_gcd;
    return 0;
}

int cls_read(cls_set *s, const char *path, cls_model *m, int how)
{
    const int grow = (how & CLS_READ_GROW) != 0, labelled = (how & CLS_READ_LABELS) != 0;
    const int conll = (how & CLS_READ_CONLL) != 0;
    const int find_channels = m->input == CLS_IN_NUMERIC && m->channels == 0;
    char *data = NULL, why[512];
    size_t size = 0, lines = 1;
    word_table wt = {0}, spt = {0};
    word_table *spelled = m->spelling ? &spt : NULL;
    memset(s, 0, sizeof *s);
    const int read = strcmp(path, "-") == 0 ? read_all(stdin, CLS_MAX_FILE, &data, &size)
                                            : read_all_path(path, CLS_MAX_FILE, &data, &size);
    if (read != 0) {
        host_fmt_errno(why, sizeof why, path, errno);
        hostlog_error("%s", why);
        return -1;
    }
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    s->hash = train_hash(TRAIN_HASH_SEED, data, size);
    s->label = malloc(lines * sizeof *s->label);
    s->start = calloc(lines + 1, sizeof *s->start);
    s->line = malloc(lines * sizeof *s->line);
    if (cls_tokens(m))
        s->tokens = malloc((size + 1) * sizeof *s->tokens);
    else
        s->values = malloc((size / 2 + 2) * sizeof *s->values);
    if (conll)
        s->tags = malloc(lines * sizeof *s->tags);
    if (spelled)
        s->spell_of = malloc((size + 1) * sizeof *s->spell_of);
    if (!s->label || !s->start || !s->line || (!s->tokens && !s->values) || (conll && !s->tags) ||
        (spelled && !s->spell_of)) {
        hostlog_error("%s: out of memory for its sequences", path);
        goto fail;
    }
    size_t steps_gcd = 0;
    if (conll ? read_conll(s, path, data, size, m, grow, &wt, spelled) != 0
              : read_lines(s, path, data, size, m, grow, &wt, spelled, labelled, &steps_gcd) != 0)
        goto fail;
    if (s->n == 0) {
        hostlog_error("%s: no sequences", path);
        goto fail;
    }
    if (find_channels) { /* every row a whole number of steps of the channels: their common divisor */
        if (steps_gcd > CLS_MAX_CHANNELS) {
            hostlog_error("%s: cannot tell the channels from the rows' lengths: give --channels", path);
            goto fail;
        }
        m->channels = (uint32_t)steps_gcd;
        for (size_t i = 0; i < s->n; i++)
            if ((s->start[i + 1] - s->start[i]) % m->channels == 0 &&
                (s->start[i + 1] - s->start[i]) / m->channels > m->max_len) {
                hostlog_error("%s:%zu: a sequence of %zu steps, longer than the limit of %u (--max-length)", path,
                              s->line[i], (s->start[i + 1] - s->start[i]) / m->channels, m->max_len);
                goto fail;
            }
    }
    if (m->input == CLS_IN_NUMERIC)
        for (size_t i = 0; i <= s->n; i++)
            s->start[i] /= m->channels;
    if ((grow && ((m->input == CLS_IN_CHARS && grow_vocab(m, s, why, sizeof why) != 0) ||
                  (m->input == CLS_IN_WORDS && grow_words(m, s, &wt, why, sizeof why) != 0))) ||
        (spelled && set_spellings(s, m, spelled, grow, why, sizeof why) != 0)) {
        hostlog_error("%s: %s", path, why);
        goto fail;
    }
    word_table_free(&wt);
    word_table_free(&spt);
    free(data);
    return 0;
fail:
    word_table_free(&wt);
    word_table_free(&spt);
    free(data);
    cls_set_free(s);
    return -1;
}

void cls_standardise_stats(cls_model *m, cls_set *s)
{
    const size_t C = m->channels, rows = s->start[s->n];
    double *sum = calloc(2 * C, sizeof *sum);
    m->mean = malloc(C * sizeof *m->mean);
    m->std = malloc(C * sizeof *m->std);
    if (!sum || !m->mean || !m->std) { /* left to the caller's check of m->mean and m->std */
        free(sum);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < C; c++) {
            const double v = s->values[r * C + c];
            sum[c] += v, sum[C + c] += v * v;
        }
    for (size_t c = 0; c < C; c++) {
        const double mean = sum[c] / (double)rows, var = sum[C + c] / (double)rows - mean * mean;
        m->mean[c] = (float)mean;
        /* a constant channel is left as it is, shifted to 0 */
        m->std[c] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
    }
    free(sum);
    cls_standardise(m, s);
}

void cls_standardise(const cls_model *m, cls_set *s)
{
    const size_t C = m->channels, n = s->start[s->n] * C;
    for (size_t i = 0; i < n; i++)
        s->values[i] = (s->values[i] - m->mean[i % C]) / m->std[i % C];
}

void cls_set_free(cls_set *s)
{
    free(s->label), free(s->start), free(s->tokens), free(s->values), free(s->line), free(s->tags);
    free(s->spell_of), free(s->spell_chars), free(s->spell_start);
    memset(s, 0, sizeof *s);
}

uint32_t cls_longest(const cls_set *s)
{
    size_t T = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->start[i + 1] - s->start[i] > T)
            T = s->start[i + 1] - s->start[i];
    return (uint32_t)T;
}

void cls_batch_fill(cls_batch *b, const cls_model *m, const cls_set *s, const uint32_t *which, uint32_t B)
{
    const size_t C = m->channels;
    uint32_t T = 0;
    for (uint32_t k = 0; k < B; k++) {
        const size_t i = which ? which[k] : k;
        b->lengths[k] = (uint32_t)(s->start[i + 1] - s->start[i]);
        if (!m->tagger)
            b->targets[k] = s->label[i];
        if (b->lengths[k] > T)
            T = b->lengths[k];
    }
    b->T = T, b->B = B;
    for (uint32_t k = 0; k < B; k++) {
        const size_t i = which ? which[k] : k;
        for (uint32_t t = 0; t < T; t++) {
            const size_t row = (size_t)t * B + k;
            const int in = t < b->lengths[k];
            if (m->tagger)
                b->targets[row] = in ? s->tags[s->start[i] + t] : -1;
            if (cls_tokens(m))
                b->tokens[0][row] = in ? s->tokens[s->start[i] + t] : 0;
            else if (in)
                memcpy(b->x[0] + row * C, s->values + (s->start[i] + t) * C, C * sizeof(float));
            else
                memset(b->x[0] + row * C, 0, C * sizeof(float));
        }
    }
    if (m->spelling) { /* a row of the character model's batch for every element, in the order of the rows */
        cls_batch *sp = b->sp;
        sp->B = 0;
        for (uint32_t t = 0; t < T; t++)
            for (uint32_t k = 0; k < B; k++)
                if (t < b->lengths[k])
                    b->slot[(size_t)t * B + k] = (int32_t)sp->B++;
        for (uint32_t t = 0; t < T; t++)
            for (uint32_t k = 0; k < B; k++) {
                if (t >= b->lengths[k])
                    continue;
                const size_t i = which ? which[k] : k, r = (size_t)b->slot[(size_t)t * B + k];
                const int32_t w = s->spell_of[s->start[i] + t];
                const size_t from = s->spell_start[w], n = s->spell_start[w + 1] - from;
                sp->lengths[r] = (uint32_t)n;
                for (size_t c = 0; c < n; c++)
                    sp->tokens[0][c * sp->B + r] = s->spell_chars[from + c];
            }
        spell_batch_end(b, m);
    }
    cls_batch_reverse(b, m);
}
