/* Task lm: a character language model (charlm over a recurrent core) on UTF-8 text. The vocabulary is
 * every code point of the training and validation text, stored in the model file. A file or folder is
 * streamed from disk as training goes (corpus.h); standard input, FIFOs and --per-line are held in memory;
 * both ways train the same model bit for bit. sample and score are this task's (lmtext.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "seqtask.h"
#include "tasks.h"
#include "text.h"
#include "trainutil.h"

#define ROW_BUFFER ((size_t)16 * 1024)  /* per stream cursor: several steps of the longest UTF-8 */
#define HASH_CHUNK ((size_t)64 * 1024) /* ids decoded at a time while hashing */

/* ---- data ------------------------------------------------------------------------------------------------ */

static int encode_or_explain(int32_t **ids, const text_buf *t, const vocab *v, const char *what)
{
    size_t bad = 0;
    *ids = malloc((t->n ? t->n : 1) * sizeof **ids);
    if (!*ids) {
        hostlog_error("out of memory");
        return -1;
    }
    if (text_encode(*ids, t, v, &bad) != 0) {
        char sym[32];
        size_t line, col;
        symbol_describe(sym, sizeof sym, t->cp[bad]);
        text_position(t, bad, &line, &col);
        hostlog_error("%s: symbol %s at line %zu, column %zu is not in the model's vocabulary", what, sym, line,
                      col);
        return -1;
    }
    return 0;
}

/* 1 after explaining the first symbol of c outside the given vocabulary, 0 when there is none. */
static int explain_vocab_fault(const corpus *c, const char *what)
{
    uint32_t cp;
    size_t line, col;
    char sym[32];
    if (!c || !corpus_vocab_fault(c, &cp, &line, &col))
        return 0;
    symbol_describe(sym, sizeof sym, cp);
    hostlog_error("%s: symbol %s at line %zu, column %zu is not in the model's vocabulary", what, sym, line, col);
    return 1;
}

/* The hash seq_hash_ids would give of symbols first .. first+n-1, decoded a chunk at a time. */
static int corpus_hash(uint64_t *h, corpus *c, size_t first, size_t n)
{
    corpus_cursor cur;
    int32_t *ids = malloc(HASH_CHUNK * sizeof *ids);
    char err[512];
    int rc = -1;
    if (corpus_cursor_init(&cur, (size_t)1 << 20) != 0 || !ids) {
        hostlog_error("out of memory");
        goto done;
    }
    *h = TRAIN_HASH_SEED;
    for (size_t at = 0; at < n; at += HASH_CHUNK) {
        const size_t k = n - at < HASH_CHUNK ? n - at : HASH_CHUNK;
        if (corpus_read(c, &cur, ids, first + at, k, err, sizeof err) != 0) {
            hostlog_error("%s", err);
            goto done;
        }
        *h = seq_hash_ids(*h, ids, k);
    }
    rc = 0;
done:
    corpus_cursor_free(&cur);
    free(ids);
    return rc;
}

static corpus_cursor *cursors(uint32_t n)
{
    corpus_cursor *v = calloc(n, sizeof *v);
    for (uint32_t i = 0; v && i < n; i++)
        if (corpus_cursor_init(&v[i], ROW_BUFFER) != 0) {
            while (i > 0)
                corpus_cursor_free(&v[--i]);
            free(v);
            return NULL;
        }
    return v;
}

static int copy_vocab(vocab *dst, const vocab *src)
{
    dst->n = src->n;
    dst->cp = malloc(src->n * sizeof *dst->cp);
    if (!dst->cp)
        return -1;
    memcpy(dst->cp, src->cp, src->n * sizeof *dst->cp);
    return 0;
}

/* Streams over a file or a directory: the same symbols, vocabulary, split and hashes as load_text's
 * in-memory path, with the text left on disk (see corpus.h). */
static int load_stream(seq_trainer *tr, train_ctx *c, const vocab *given_vocab)
{
    const seq_opts *so = c->own;
    const uint32_t B = c->o->optim.batch;
    char err[512];
    if (corpus_open(&tr->cor, so->data, given_vocab, err, sizeof err) != 0 ||
        (so->val_data && corpus_open(&tr->val_cor, so->val_data, given_vocab, err, sizeof err) != 0)) {
        hostlog_error("%s", err);
        return -1;
    }
    if (given_vocab) {
        if (copy_vocab(&tr->m.voc, given_vocab) != 0) {
            hostlog_error("out of memory");
            return -1;
        }
        if (explain_vocab_fault(tr->cor, so->data) || explain_vocab_fault(tr->val_cor, so->val_data))
            return -1;
    } else {
        corpus *parts[2] = {tr->cor, tr->val_cor};
        if (corpus_vocab(&tr->m.voc, parts, tr->val_cor ? 2 : 1, err, sizeof err) != 0) {
            hostlog_error("%s: %s", so->data, err);
            return -1;
        }
    }
    corpus_bind(tr->cor, &tr->m.voc);
    if (tr->val_cor)
        corpus_bind(tr->val_cor, &tr->m.voc);
    tr->n = corpus_size(tr->cor);
    if (tr->val_cor) {
        tr->n_val = corpus_size(tr->val_cor);
        tr->val_first = 0;
    } else {
        tr->n_val = (size_t)floor(tr->n * so->val_frac);
        tr->n -= tr->n_val;
        tr->val_first = tr->n;
    }
    if (seq_streams_fit(tr, c) != 0)
        return -1;
    if (corpus_hash(&tr->data_hash, tr->cor, 0, tr->n) != 0)
        return -1;
    uint64_t val_hash; /* read once now, so that unreadable validation text fails before training */
    if (tr->n_val && corpus_hash(&val_hash, tr->val_cor ? tr->val_cor : tr->cor, tr->val_first, tr->n_val) != 0)
        return -1;
    tr->n_rows = B;
    tr->n_val_rows = so->eval_streams;
    tr->rows = cursors(tr->n_rows);
    tr->val_rows = cursors(tr->n_val_rows);
    tr->window = malloc(((size_t)so->seq_len + 1) * sizeof *tr->window);
    if (!tr->rows || !tr->val_rows || !tr->window) {
        hostlog_error("out of memory for %u corpus cursors", tr->n_rows + tr->n_val_rows);
        return -1;
    }
    return 0;
}

/* Lines of ids[0..n) split at newline, empty ones skipped, each cut to max_len symbols. */
static span *split_lines(size_t *count, size_t *truncated, const int32_t *ids, size_t n, int32_t newline,
                         uint32_t max_len)
{
    size_t cap = 16, k = 0;
    span *out = malloc(cap * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ids[j] != newline)
            j++;
        if (j > i) {
            if (k == cap) {
                span *grown = realloc(out, 2 * cap * sizeof *out);
                if (!grown) {
                    free(out);
                    return NULL;
                }
                out = grown, cap *= 2;
            }
            size_t len = j - i;
            if (len > max_len)
                len = max_len, (*truncated)++;
            out[k].start = i, out[k].len = (uint32_t)len;
            k++;
        }
        i = j + 1;
    }
    *count = k;
    return out;
}

/* --per-line: the lines of the text (and of --val-data, or the last --val-frac of them). */
static int load_lines(seq_trainer *tr, train_ctx *c)
{
    const seq_opts *so = c->own;
    const uint32_t B = c->o->optim.batch;
    size_t n_all, truncated = 0;
    tr->newline = vocab_id(&tr->m.voc, '\n');
    if (tr->newline < 0) {
        hostlog_error("%s: --per-line needs newlines in the text (and in the vocabulary)", so->data);
        return -1;
    }
    span *all = split_lines(&n_all, &truncated, tr->ids, tr->n, tr->newline, so->seq_len - 1);
    if (!all)
        return -1;
    tr->lines = all;
    if (so->val_data) {
        tr->n_lines = n_all;
        tr->val_lines = split_lines(&tr->n_val_lines, &truncated, tr->val_ids, tr->n_val, tr->newline, so->seq_len - 1);
        tr->own_val_lines = 1;
        if (!tr->val_lines)
            return -1;
    } else {
        const size_t n_val = (size_t)floor(n_all * so->val_frac);
        tr->n_lines = n_all - n_val;
        tr->val_lines = all + tr->n_lines; /* points into `all`: freed with it */
        tr->n_val_lines = n_val;
        tr->val_ids = tr->ids;
    }
    if (tr->n_lines == 0) {
        hostlog_error("%s: no non-empty line to train on", so->data);
        return -1;
    }
    if (tr->n_lines < B) {
        hostlog_error("%s: %zu training lines, fewer than --batch-size %u", so->data, tr->n_lines, B);
        return -1;
    }
    tr->data_hash = seq_hash_ids(TRAIN_HASH_SEED, tr->ids, tr->n);
    if (truncated && c->rank == 0) /* on several ranks, rank 0 says it for all */
        hostlog_info("%zu lines longer than --seq-length - 1 = %u symbols were cut", truncated,
                so->seq_len - 1);
    return 0;
}

/* Reads the text, takes or builds the vocabulary, encodes, and splits off validation. */
static int load_text(seq_trainer *tr, train_ctx *c, const vocab *given_vocab)
{
    const seq_opts *so = c->own;
    char err[512];
    text_buf text = {0}, val_text = {0};
    int rc = -1;
    /* Standard input and FIFOs can be read only once, and --per-line needs every line's place: those
     * are held in memory. */
    if (!tr->per_line && corpus_streamable(so->data) && (!so->val_data || corpus_streamable(so->val_data)))
        return load_stream(tr, c, given_vocab);
    if (text_read(&text, so->data, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        return -1;
    }
    if (so->val_data && text_read(&val_text, so->val_data, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    if (given_vocab) {
        if (copy_vocab(&tr->m.voc, given_vocab) != 0)
            goto done;
    } else {
        /* one vocabulary for training and validation text alike, so validation never meets a stranger */
        text_buf both = {0};
        both.n = text.n + val_text.n;
        both.cp = malloc(both.n * sizeof *both.cp);
        if (!both.cp)
            goto done;
        memcpy(both.cp, text.cp, text.n * sizeof *both.cp);
        if (val_text.n)
            memcpy(both.cp + text.n, val_text.cp, val_text.n * sizeof *both.cp);
        const int built = vocab_build(&tr->m.voc, &both, err, sizeof err);
        free(both.cp);
        if (built != 0) {
            hostlog_error("%s: %s", so->data, err);
            goto done;
        }
    }
    if (encode_or_explain(&tr->ids, &text, &tr->m.voc, so->data) != 0)
        goto done;
    tr->n = text.n;
    if (so->val_data) {
        tr->own_val = 1;
        if (encode_or_explain(&tr->val_ids, &val_text, &tr->m.voc, so->val_data) != 0)
            goto done;
        tr->n_val = val_text.n;
    }
    rc = tr->per_line ? load_lines(tr, c) : seq_split_streams(tr, c);
done:
    text_free(&text);
    text_free(&val_text);
    return rc;
}

/* ---- the task --------------------------------------------------------------------------------------------- */

static int lm_train_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path)
{
    seq_trainer *tr = st;
    const seq_opts *so = c->own;
    vocab from_vocab = {0};
    char err[512];
    int rc = EXIT_FAIL;
    tr->per_line = so->per_line;
    if (from) {
        model_spec spec;
        const char *stored = rh_weights_meta(from, "rnnhost.vocab");
        if (model_spec_from_weights(&spec, from, err, sizeof err) != 0 || !stored ||
            vocab_from_utf8(&from_vocab, stored, err, sizeof err) != 0) {
            hostlog_error("%s: no valid vocabulary in its metadata", from_path);
            return EXIT_LOAD;
        }
        if (seq_adopt_spec(tr, c, &spec, from_path, 1) != 0)
            goto done;
    }
    if (load_text(tr, c, from ? &from_vocab : NULL) != 0)
        goto done;
    tr->V = tr->m.voc.n;
    rc = seq_start(tr, c, from, from_path);
done:
    vocab_free(&from_vocab);
    return rc;
}

static int lm_meta(void *st, const train_ctx *c, meta_list *ml)
{
    seq_trainer *tr = st;
    (void)c;
    char *v = vocab_to_utf8(&tr->m.voc);
    const int rc = v ? seq_meta(tr, ml, "rnnhost.vocab", v) : -1;
    free(v);
    return rc;
}

static const cli_section *const sections[] = {&seq_data_section, &seq_bptt_section, &seq_token_section, &seq_lines_section, NULL};

static const task_train train = {
    SEQ_TASK_TRAIN,
    .about = "characters of UTF-8 text",
    .usage = "--data FILE|DIR|-",
    .sections = sections,
    .data_differs = "the training text differs",
    .check = seq_check,
    .open = lm_train_open,
    .step = seq_token_step,
    .validate = seq_token_validate,
    .meta = lm_meta,
};

const task_ops task_lm = {
    .name = LM_TASK,
    .noun = "a character language model",
    .train = &train,
    .sample = lm_sample_text,
    .score = lm_score_text,
    .export = &single_export,
};
