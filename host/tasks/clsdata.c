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

/* The elements of one sequence s[0..len) into tokens (code points, or the model's ids when ids is set) or
 * values (numeric: m->channels a step, or any count when it is 0), at most cap elements. The count of
 * elements (steps; values when m->channels is 0), or -1 with why. */
static long parse_elems(const cls_model *m, int ids, const char *s, size_t len, int32_t *tokens, float *values,
                        size_t cap, char *why, size_t why_len)
{
    size_t n = 0;
    if (len == 0) {
        host_fmt(why, why_len, "an empty sequence");
        return -1;
    }
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

long cls_parse_sequence(const cls_model *m, const char *text, size_t len, int32_t *tokens, float *values, char *why,
                        size_t why_len)
{
    if (len && text[len - 1] == '\r')
        len--;
    const long n = parse_elems(m, 1, text, len, tokens, values, m->max_len, why, why_len);
    if (n > 0 && values)
        for (size_t i = 0; i < (size_t)n * m->channels; i++)
            values[i] = (values[i] - m->mean[i % m->channels]) / m->std[i % m->channels];
    return n;
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

int cls_read(cls_set *s, const char *path, cls_model *m, int how)
{
    const int grow = (how & CLS_READ_GROW) != 0, labelled = (how & CLS_READ_LABELS) != 0;
    const int find_channels = m->input == CLS_IN_NUMERIC && m->channels == 0;
    char *data = NULL, why[512];
    size_t size = 0, lines = 1;
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
    if (m->input == CLS_IN_CHARS)
        s->tokens = malloc((size + 1) * sizeof *s->tokens);
    else
        s->values = malloc((size / 2 + 2) * sizeof *s->values);
    if (!s->label || !s->start || !s->line || (!s->tokens && !s->values)) {
        hostlog_error("%s: out of memory for its sequences", path);
        goto fail;
    }
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
                goto fail;
            }
            const size_t k = (size_t)(tab - p);
            for (uint32_t i = 0; i < m->n_labels && s->label[s->n] < 0; i++)
                if (strlen(m->labels[i]) == k && memcmp(m->labels[i], p, k) == 0)
                    s->label[s->n] = (int32_t)i;
            if (s->label[s->n] < 0 && !grow) {
                hostlog_error("%s:%zu: label '%.*s' is not one of the model's %u labels (seen only here, not in the "
                              "training data)",
                              path, ln, (int)(k > 80 ? 80 : k), p, m->n_labels);
                goto fail;
            }
            if (s->label[s->n] < 0 && (s->label[s->n] = add_label(m, p, k)) < 0) {
                hostlog_error("out of memory");
                goto fail;
            }
            seq = tab + 1;
        }
        const long n = parse_elems(m, !grow, seq, (size_t)(stop - seq), s->tokens ? s->tokens + at : NULL,
                                   s->values ? s->values + at : NULL, SIZE_MAX / 8192, why, sizeof why);
        if (n < 0) {
            hostlog_error("%s:%zu: %s", path, ln, why);
            goto fail;
        }
        if (!find_channels && (size_t)n > m->max_len) {
            hostlog_error("%s:%zu: a sequence of %ld elements, longer than the limit of %u (--max-length)", path, ln, n,
                          m->max_len);
            goto fail;
        }
        at += (size_t)n * (m->input == CLS_IN_NUMERIC && !find_channels ? m->channels : 1);
        steps_gcd = gcd(steps_gcd, (size_t)n);
        s->start[++s->n] = at;
        p = nl ? nl + 1 : end;
    }
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
    if (grow && m->input == CLS_IN_CHARS && grow_vocab(m, s, why, sizeof why) != 0) {
        hostlog_error("%s: %s", path, why);
        goto fail;
    }
    free(data);
    return 0;
fail:
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
    free(s->label), free(s->start), free(s->tokens), free(s->values), free(s->line);
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
            if (m->input == CLS_IN_CHARS)
                b->tokens[0][row] = in ? s->tokens[s->start[i] + t] : 0;
            else if (in)
                memcpy(b->x[0] + row * C, s->values + (s->start[i] + t) * C, C * sizeof(float));
            else
                memset(b->x[0] + row * C, 0, C * sizeof(float));
        }
    }
    cls_batch_reverse(b, m);
}
