/* rnnhost train: truncated BPTT for language models (the text task; speech and music add theirs).
 *
 * Two ways to cut a corpus into examples:
 *   streams (default)  the text is split into B contiguous streams read side by side, T symbols a step,
 *                      the hidden state carried from one chunk to the next (char-rnn's scheme); the loss
 *                      is averaged per predicted symbol.
 *   --per-line         one line is one sequence, started by a newline symbol and ending by predicting
 *                      one, in batches of B lines shuffled every epoch (the Dinosaur Island exercise);
 *                      the loss is summed over a line and averaged over the lines of a batch.
 * Everything that decides the next step (weights, optimizer moments, RNG, data position, carried state,
 * line order) goes into checkpoints, so --resume continues bit for bit.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "blas.h"
#include "cliargs.h"
#include "corpus.h"
#include "commands.h"
#include "interrupt.h"
#include "trainutil.h"
#include "hostlog.h"
#include "lm.h"
#include "loader.h"
#include "modelfile.h"
#include "music.h"
#include "musicdata.h"
#include "progress.h"
#include "smf.h"
#include "text.h"

/* ---- options -------------------------------------------------------------------------------------- */

enum { /* options whose explicit use must agree with a checkpoint or model we continue from */
       G_CORE = 1 << 0,
       G_SIZE = 1 << 1,
       G_LAYERS = 1 << 2,
       G_EMBED = 1 << 3,
       G_SEQ = 1 << 4,
       G_BATCH = 1 << 5,
       G_PERLINE = 1 << 6,
       G_OPTIM = 1 << 7,
       G_LR = 1 << 8,
       G_DECAY = 1 << 9,
       G_DECAY_AFTER = 1 << 10,
       G_CLIP = 1 << 11,
       G_CLIPV = 1 << 12,
       G_VALFRAC = 1 << 13,
       G_EVALSTREAMS = 1 << 14,
       G_SEED = 1 << 15 };

typedef struct train_opts {
    const char *task, *data, *val_data, *core, *optimizer, *out, *ckpt_dir, *resume, *init_from, *log_json,
        *plugin_path, *split, *val_split;
    uint32_t transpose; /* midi-lm: also train on copies transposed by 1..N semitones up and down */
    double stretch;     /* midi-lm: and on copies this many times slower and faster (1: none) */
    uint32_t steps_per_quarter; /* pianoroll from MIDI: the grid */
    uint32_t hidden, layers, embed, seq_len, batch, eval_streams, lr_decay_after;
    double lr, lr_decay, grad_clip, clip_value, val_frac, time_budget;
    uint64_t max_epochs, max_steps, eval_every, print_every, ckpt_every, seed;
    int threads, per_line, quiet;
    unsigned given;
} train_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rnnhost train --data FILE|DIR|- [OPTIONS]\n"
            "       rnnhost train --task ctc --manifest FILE [OPTIONS]   (speech: see below)\n"
            "\n"
            "Trains a character-level language model (charlm over a recurrent core) by truncated BPTT, or\n"
            "a music model. Speech recognisers (--task ctc: recurrent layers over log-mels with a CTC output,\n"
            "trained on a manifest of recordings and transcripts) have options of their own:\n"
            "'rnnhost train --task ctc --help' lists them.\n"
            "\n"
            "Data\n"
            "  --task lm|midi-lm|pianoroll|ctc  what to train (default: lm): characters of text,\n"
            "                            Performance RNN event tokens of MIDI files, multi-hot piano-roll\n"
            "                            frames, or speech (ctc, options apart)\n"
            "  --data FILE|DIR|-         lm: UTF-8 text (a file, every file below a directory, or stdin;\n"
            "                            a file or directory is read from disk as training goes, stdin\n"
            "                            and --per-line are held in memory);\n"
            "                            midi-lm: a MIDI file or a directory of them; pianoroll: a JSON\n"
            "                            piano-roll file ({\"train\": [[[pitch, ...], ...], ...], ...})\n"
            "                            or a MIDI file or directory (nine files in ten train, every tenth\n"
            "                            validates: splits train, valid, all)\n"
            "  --grid G                  pianoroll from MIDI: quarter, eighth or sixteenth frames\n"
            "                            (default: quarter)\n"
            "  --split NAME              pianoroll: the training split (default: train)\n"
            "  --val-split NAME          pianoroll: the validation split, or none (default: valid)\n"
            "  --transpose N             midi-lm: also train on copies transposed 1..N semitones up and\n"
            "                            down (default: 0)\n"
            "  --stretch F               midi-lm: also train on copies F times slower and faster, e.g.\n"
            "                            1.1 (default: 1, none)\n"
            "  --val-data FILE           validation text (default: the last --val-frac of --data)\n"
            "  --val-frac F              share of --data held out for validation; 0: none (default: 0.05)\n"
            "  --per-line                one line = one sequence, started and ended by a newline\n"
            "                            (default: contiguous streams with the state carried)\n"
            "Model\n"
            "  --cell ID                 recurrent core: rnn, gru, lstm or any plugin's model id (default: gru)\n"
            "  --rnn-size N              hidden units per layer (default: 128)\n"
            "  --num-layers N            stacked layers (default: 2)\n"
            "  --embed N                 learned embedding width; 0 feeds symbols one-hot (default: 0)\n"
            "  --init-from MODEL         start from these weights (a path or preset name)\n"
            "Optimisation\n"
            "  --seq-length T            steps of backpropagation through time (default: 50)\n"
            "  --batch-size B            streams or lines per step (default: 50)\n"
            "  --optimizer NAME          sgd, momentum, rmsprop or adam (default: adam)\n"
            "  --learning-rate LR        (default: 0.002)\n"
            "  --lr-decay F              multiply the rate by F every epoch after --lr-decay-after;\n"
            "                            1: never (default: 0.97)\n"
            "  --lr-decay-after N        epochs at the full rate; 0: decay from the first (default: 10)\n"
            "  --grad-clip NORM          clip the global gradient norm; 0 is off (default: 5)\n"
            "  --clip-value V            clip each gradient to [-V, V]; 0 is off (default: 0)\n"
            "  --seed S                  initialisation and shuffling (default: 1)\n"
            "  --threads N               threads for the model and BLAS; 0: every core (default: 0)\n"
            "Stopping (the first limit reached ends the training; with none, only Ctrl-C does)\n"
            "  --max-epochs N            0: no limit (default: 50 unless --max-steps or --time-budget is\n"
            "                            given, then 0)\n"
            "  --max-steps N             0: no limit (default: 0)\n"
            "  --time-budget D           wall time, e.g. 90s, 10m, 2h; 0: no limit (default: 0)\n"
            "Reporting and files\n"
            "  --eval-every N            validate every N steps and at the end; 0: never (default: 1000)\n"
            "  --eval-streams N          streams the validation text is cut into (default: 8)\n"
            "  --print-every N           a progress line every N steps, 0 or 1: every step (default: 100;\n"
            "                            every step on a terminal, updated in place)\n"
            "  --log-json FILE|-         one JSON object per step and per validation, '-' for stdout\n"
            "                            (default: none)\n"
            "  --checkpoint-every N      a checkpoint every N steps; 0: only at the end and on Ctrl-C\n"
            "                            (default: the same as --eval-every)\n"
            "  --checkpoint-dir DIR      (default: checkpoints)\n"
            "  --resume CKPT             continue a checkpoint exactly where it stopped\n"
            "  -o, --output FILE         the trained model (default: lm.safetensors); a file: '-', a device\n"
            "                            or a FIFO is refused (a link is written through)\n"
            "  --plugin-path PATH        colon-separated plugin directories searched first\n"
            "  -q, --quiet               no progress lines\n"
            "  -h, --help                this help\n"
            "\n"
            "Ctrl-C writes a checkpoint and exits 130. A NaN or infinite loss or gradient stops with exit 1,\n"
            "naming the step; the checkpoints written before it are intact.\n");
}


/* ---- the trainer's state ----------------------------------------------------------------------------- */


enum { TASK_LM, TASK_MIDI, TASK_ROLL };

typedef struct trainer {
    train_opts o;
    plugin_registry reg;
    lm m;
    int kind;         /* TASK_* */
    int32_t *ids, *val_ids;
    size_t n, n_val;
    uint8_t *frames, *val_frames; /* pianoroll: (frames, ROLL_PITCHES) multi-hot, sequences are spans */
    float *x, *ftargets, *weights; /* pianoroll step buffers: (T,B,P), (T,B,P), (T*B) */
    uint64_t data_hash, val_hash;
    int32_t newline; /* per-line mode: the id of '\n' */
    span *lines, *val_lines;
    size_t n_lines, n_val_lines, truncated;
    uint32_t *order; /* per-line: this epoch's order of lines */
    size_t seg;      /* streams: symbols per stream */
    /* streams over a file or directory: the ids are read from disk on demand instead of held in ids */
    corpus *cor, *val_cor; /* val_cor: a separate --val-data; otherwise validation is cor's tail */
    size_t val_first;      /* where the validation symbols start in their corpus */
    corpus_cursor *rows, *val_rows; /* one per training stream, one per validation stream */
    uint32_t n_rows, n_val_rows;
    int32_t *window; /* (T+1) one stream's symbols of a step */

    /* where training stands: all of it is checkpointed */
    uint64_t step, epoch, tokens_seen;
    size_t pos;
    rh_rng rng;
    rh_optimizer opt;
    float *opt_state;
    float *state, *next_state; /* (B,S) carried across chunks in stream mode */
    double elapsed_before;     /* seconds trained before a resume */

    /* step buffers */
    int32_t *tokens, *targets;
    uint32_t *lengths;
    float *y, *dy, *ws;
    uint32_t V, S;

    FILE *log;
    double last_val;
    char last_ckpt[4096];
} trainer;

/* The ids' little-endian bytes, whatever the machine's order, so a checkpoint's data hash travels;
 * h is TRAIN_HASH_SEED, or the hash of the ids before these when they come in pieces. */
static uint64_t fnv1a_more(uint64_t h, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint32_t v = (uint32_t)ids[i];
        const unsigned char le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
        h = train_hash(h, le, 4);
    }
    return h;
}

static uint64_t fnv1a(const int32_t *ids, size_t n)
{
    return fnv1a_more(TRAIN_HASH_SEED, ids, n);
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

static void shuffle(uint32_t *order, size_t n, rh_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rh_rng_below(rng, (uint32_t)i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

static uint64_t steps_per_epoch(const trainer *tr)
{
    if (tr->o.per_line)
        return (tr->n_lines + tr->o.batch - 1) / tr->o.batch;
    return (tr->seg - 1) / tr->o.seq_len;
}

/* ---- data ---------------------------------------------------------------------------------------------- */

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


static int load_rolls(trainer *tr)
{
    size_t cut = 0;
    if (roll_spans(&tr->frames, &tr->lines, &tr->n_lines, tr->o.data, tr->o.split ? tr->o.split : "train",
                   tr->o.steps_per_quarter, tr->o.seq_len, &cut) != 0)
        return -1;
    const char *vpath = tr->o.val_data ? tr->o.val_data : tr->o.data;
    if (strcmp(tr->o.val_split ? tr->o.val_split : "valid", "none") != 0 &&
        roll_spans(&tr->val_frames, &tr->val_lines, &tr->n_val_lines, vpath,
                   tr->o.val_split ? tr->o.val_split : "valid", tr->o.steps_per_quarter, tr->o.seq_len, &cut) != 0)
        return -1;
    if (cut)
        fprintf(stderr, "rnnhost: %zu sequences longer than --seq-length %u were cut into pieces\n", cut,
                tr->o.seq_len);
    if (tr->n_lines < tr->o.batch) {
        hostlog_error("%s: %zu training sequences, fewer than --batch-size %u", tr->o.data, tr->n_lines, tr->o.batch);
        return -1;
    }
    size_t frames = 0;
    for (size_t i = 0; i < tr->n_lines; i++)
        frames += tr->lines[i].len;
    tr->n = frames;
    tr->data_hash = train_hash(TRAIN_HASH_SEED, tr->frames, tr->lines[tr->n_lines - 1].start * ROLL_PITCHES +
                                                (size_t)tr->lines[tr->n_lines - 1].len * ROLL_PITCHES);
    return 0;
}

#define ROW_BUFFER ((size_t)16 * 1024)  /* per stream cursor: several steps of the longest UTF-8 */
#define HASH_CHUNK ((size_t)64 * 1024) /* ids decoded at a time while hashing */

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

/* The hash fnv1a would give of symbols first .. first+n-1, decoded a chunk at a time. */
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
        *h = fnv1a_more(*h, ids, k);
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

/* Streams over a file or a directory: the same symbols, vocabulary, split and hashes as load_data's
 * in-memory path, with the text left on disk (see corpus.h). */
static int load_stream(trainer *tr, const vocab *given_vocab)
{
    char err[512];
    if (corpus_open(&tr->cor, tr->o.data, given_vocab, err, sizeof err) != 0 ||
        (tr->o.val_data && corpus_open(&tr->val_cor, tr->o.val_data, given_vocab, err, sizeof err) != 0)) {
        hostlog_error("%s", err);
        return -1;
    }
    if (given_vocab) {
        tr->m.voc.n = given_vocab->n;
        tr->m.voc.cp = malloc(given_vocab->n * sizeof *tr->m.voc.cp);
        if (!tr->m.voc.cp) {
            hostlog_error("out of memory");
            return -1;
        }
        memcpy(tr->m.voc.cp, given_vocab->cp, given_vocab->n * sizeof *tr->m.voc.cp);
        if (explain_vocab_fault(tr->cor, tr->o.data) || explain_vocab_fault(tr->val_cor, tr->o.val_data))
            return -1;
    } else {
        corpus *parts[2] = {tr->cor, tr->val_cor};
        if (corpus_vocab(&tr->m.voc, parts, tr->val_cor ? 2 : 1, err, sizeof err) != 0) {
            hostlog_error("%s: %s", tr->o.data, err);
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
        tr->n_val = (size_t)floor(tr->n * tr->o.val_frac);
        tr->n -= tr->n_val;
        tr->val_first = tr->n;
    }
    const size_t need = (size_t)tr->o.batch * (tr->o.seq_len + 1);
    if (tr->n < need) {
        hostlog_error("%s: %zu symbols to train on, fewer than one batch needs (--batch-size %u x "
                      "(--seq-length %u + 1) = %zu)",
                      tr->o.data, tr->n, tr->o.batch, tr->o.seq_len, need);
        return -1;
    }
    tr->seg = tr->n / tr->o.batch;
    if (corpus_hash(&tr->data_hash, tr->cor, 0, tr->n) != 0)
        return -1;
    tr->val_hash = 0;
    if (tr->n_val && corpus_hash(&tr->val_hash, tr->val_cor ? tr->val_cor : tr->cor, tr->val_first, tr->n_val) != 0)
        return -1;
    tr->n_rows = tr->o.batch;
    tr->n_val_rows = tr->o.eval_streams;
    tr->rows = cursors(tr->n_rows);
    tr->val_rows = cursors(tr->n_val_rows);
    tr->window = malloc(((size_t)tr->o.seq_len + 1) * sizeof *tr->window);
    if (!tr->rows || !tr->val_rows || !tr->window) {
        hostlog_error("out of memory for %u corpus cursors", tr->n_rows + tr->n_val_rows);
        return -1;
    }
    return 0;
}

/* Reads the corpus, takes or builds the vocabulary, encodes, and splits off validation. */
static int load_data(trainer *tr, const vocab *given_vocab)
{
    char err[512];
    text_buf text = {0}, val_text = {0};
    int rc = -1;
    if (tr->kind == TASK_ROLL)
        return load_rolls(tr);
    /* Standard input and FIFOs can be read only once, and --per-line needs every line's place: those
     * are held in memory. */
    if (tr->kind == TASK_LM && !tr->o.per_line && corpus_streamable(tr->o.data) &&
        (!tr->o.val_data || corpus_streamable(tr->o.val_data)))
        return load_stream(tr, given_vocab);
    if (tr->kind == TASK_MIDI) {
        if (midi_tokens(&tr->ids, &tr->n, tr->o.data, tr->o.transpose, tr->o.stretch, "--data") != 0)
            return -1;
        if (tr->o.val_data && midi_tokens(&tr->val_ids, &tr->n_val, tr->o.val_data, 0, 1.0, "--val-data") != 0)
            return -1;
        goto split;
    }
    if (text_read(&text, tr->o.data, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        return -1;
    }
    if (tr->o.val_data && text_read(&val_text, tr->o.val_data, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    if (given_vocab) {
        tr->m.voc.n = given_vocab->n;
        tr->m.voc.cp = malloc(given_vocab->n * sizeof *tr->m.voc.cp);
        if (!tr->m.voc.cp)
            goto done;
        memcpy(tr->m.voc.cp, given_vocab->cp, given_vocab->n * sizeof *tr->m.voc.cp);
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
        int built = vocab_build(&tr->m.voc, &both, err, sizeof err);
        free(both.cp);
        if (built != 0) {
            hostlog_error("%s: %s", tr->o.data, err);
            goto done;
        }
    }
    if (encode_or_explain(&tr->ids, &text, &tr->m.voc, tr->o.data) != 0)
        goto done;
    tr->n = text.n;
    if (tr->o.val_data) {
        if (encode_or_explain(&tr->val_ids, &val_text, &tr->m.voc, tr->o.val_data) != 0)
            goto done;
        tr->n_val = val_text.n;
    }

split:
    if (tr->o.per_line) {
        tr->newline = vocab_id(&tr->m.voc, '\n');
        if (tr->newline < 0) {
            hostlog_error("%s: --per-line needs newlines in the text (and in the vocabulary)", tr->o.data);
            goto done;
        }
        size_t n_all;
        span *all = split_lines(&n_all, &tr->truncated, tr->ids, tr->n, tr->newline, tr->o.seq_len - 1);
        if (!all)
            goto done;
        if (tr->o.val_data) {
            tr->lines = all, tr->n_lines = n_all;
            tr->val_lines = split_lines(&tr->n_val_lines, &tr->truncated, tr->val_ids, tr->n_val, tr->newline,
                                        tr->o.seq_len - 1);
            if (!tr->val_lines)
                goto done;
        } else {
            size_t n_val = (size_t)floor(n_all * tr->o.val_frac);
            tr->n_lines = n_all - n_val;
            tr->lines = all;
            tr->val_lines = all + tr->n_lines; /* points into `all`: freed with it */
            tr->n_val_lines = n_val;
            tr->val_ids = tr->ids;
        }
        if (tr->n_lines == 0) {
            hostlog_error("%s: no non-empty line to train on", tr->o.data);
            goto done;
        }
        if (tr->n_lines < tr->o.batch) {
            hostlog_error("%s: %zu training lines, fewer than --batch-size %u", tr->o.data, tr->n_lines,
                          tr->o.batch);
            goto done;
        }
        tr->data_hash = fnv1a(tr->ids, tr->n);
    } else {
        if (!tr->o.val_data) {
            size_t n_val = (size_t)floor(tr->n * tr->o.val_frac);
            tr->n -= n_val;
            tr->val_ids = tr->ids + tr->n; /* the tail of the corpus */
            tr->n_val = n_val;
        }
        const size_t need = (size_t)tr->o.batch * (tr->o.seq_len + 1);
        if (tr->n < need) {
            hostlog_error("%s: %zu symbols to train on, fewer than one batch needs (--batch-size %u x "
                          "(--seq-length %u + 1) = %zu)",
                          tr->o.data, tr->n, tr->o.batch, tr->o.seq_len, need);
            goto done;
        }
        tr->seg = tr->n / tr->o.batch;
        tr->data_hash = fnv1a(tr->ids, tr->n);
    }
    tr->val_hash = tr->n_val ? fnv1a(tr->val_ids, tr->n_val) : 0;
    rc = 0;
done:
    text_free(&text);
    text_free(&val_text);
    return rc;
}

/* ---- one step --------------------------------------------------------------------------------------- */

/* Piano-roll batch of the sequences lines[which[b]] (which NULL: lines[b]): frame t is predicted from
 * frame t-1 (silence before the first), so every frame of a sequence is predicted once. */
static void roll_batch(trainer *tr, const uint8_t *frames, const span *lines, const uint32_t *which, uint32_t B,
                       uint32_t T)
{
    const uint32_t P = ROLL_PITCHES;
    for (uint32_t b = 0; b < B; b++) {
        const span *sq = &lines[which ? which[b] : b];
        tr->lengths[b] = sq->len;
        for (uint32_t t = 0; t < T; t++) {
            size_t row = (size_t)t * B + b;
            float *x = tr->x + row * P, *y = tr->ftargets + row * P;
            tr->weights[row] = t < sq->len ? 1.0f : 0.0f;
            for (uint32_t p = 0; p < P; p++) {
                x[p] = t > 0 && t < sq->len ? frames[(sq->start + t - 1) * P + p] : 0.0f;
                y[p] = t < sq->len ? frames[(sq->start + t) * P + p] : 0.0f;
            }
        }
    }
}

/* Fills tokens/targets/lengths for the current position and gives the batch's T and B; -1 with why
 * when a streamed corpus cannot be read. */
static int make_batch(trainer *tr, uint32_t *T_out, uint32_t *B_out, char *why, size_t why_len)
{
    const uint32_t B = tr->o.batch, T = tr->o.seq_len;
    if (!tr->o.per_line) {
        for (uint32_t b = 0; b < B; b++) {
            const int32_t *src;
            if (tr->cor) {
                if (corpus_read(tr->cor, &tr->rows[b], tr->window, b * tr->seg + tr->pos, (size_t)T + 1, why,
                                why_len) != 0)
                    return -1;
                src = tr->window;
            } else {
                src = tr->ids + b * tr->seg + tr->pos;
            }
            for (uint32_t t = 0; t < T; t++) {
                tr->tokens[(size_t)t * B + b] = src[t];
                tr->targets[(size_t)t * B + b] = src[t + 1];
            }
        }
        *T_out = T, *B_out = B;
        return 0;
    }
    if (tr->kind == TASK_ROLL) {
        uint32_t Bc = (uint32_t)(tr->n_lines - tr->pos < B ? tr->n_lines - tr->pos : B), Tc = 0;
        for (uint32_t b = 0; b < Bc; b++)
            if (tr->lines[tr->order[tr->pos + b]].len > Tc)
                Tc = tr->lines[tr->order[tr->pos + b]].len;
        roll_batch(tr, tr->frames, tr->lines, tr->order + tr->pos, Bc, Tc);
        *T_out = Tc, *B_out = Bc;
        return 0;
    }
    uint32_t Bc = (uint32_t)(tr->n_lines - tr->pos < B ? tr->n_lines - tr->pos : B), Tc = 0;
    for (uint32_t b = 0; b < Bc; b++) {
        uint32_t len = tr->lines[tr->order[tr->pos + b]].len + 1;
        if (len > Tc)
            Tc = len;
    }
    for (uint32_t b = 0; b < Bc; b++) {
        const span *ln = &tr->lines[tr->order[tr->pos + b]];
        const int32_t *src = tr->ids + ln->start;
        tr->lengths[b] = ln->len + 1;
        for (uint32_t t = 0; t < Tc; t++) {
            size_t i = (size_t)t * Bc + b;
            if (t > ln->len) {
                tr->tokens[i] = 0, tr->targets[i] = -1; /* padding: not read, not scored */
                continue;
            }
            tr->tokens[i] = t == 0 ? tr->newline : src[t - 1];
            tr->targets[i] = t < ln->len ? src[t] : tr->newline;
        }
    }
    *T_out = Tc, *B_out = Bc;
    return 0;
}

static void advance(trainer *tr, uint32_t B)
{
    if (tr->o.per_line) {
        tr->pos += B;
        if (tr->pos >= tr->n_lines) {
            tr->pos = 0, tr->epoch++;
            shuffle(tr->order, tr->n_lines, &tr->rng);
        }
        return;
    }
    float *t = tr->state;
    tr->state = tr->next_state, tr->next_state = t;
    tr->pos += tr->o.seq_len;
    if (tr->pos + tr->o.seq_len + 1 > tr->seg) {
        tr->pos = 0, tr->epoch++;
        tr->m.hm.vt->reset(tr->m.hm.model, tr->state, tr->o.batch);
    }
}

static double current_lr(const trainer *tr)
{
    double lr = tr->o.lr;
    if (tr->epoch >= tr->o.lr_decay_after)
        lr *= pow(tr->o.lr_decay, (double)(tr->epoch - tr->o.lr_decay_after + 1));
    return lr;
}

typedef struct step_result {
    double loss;   /* the objective: per symbol (streams) or per line (--per-line) */
    double nats;   /* summed over predicted symbols */
    uint64_t symbols;
    double norm; /* gradient norm before clipping */
} step_result;

/* One update. Returns 0, or -1 with a reason when the loss or the gradient is not finite. */
static int train_step(trainer *tr, step_result *r, char *why, size_t why_len)
{
    host_model *hm = &tr->m.hm;
    uint32_t T, B;
    if (make_batch(tr, &T, &B, why, why_len) != 0)
        return -1;
    const size_t rows = (size_t)T * B;
    const int roll = tr->kind == TASK_ROLL;
    rh_batch batch = {T, B, tr->o.per_line ? tr->lengths : NULL, roll ? tr->x : NULL, roll ? NULL : tr->tokens};
    const float *h0 = tr->o.per_line ? NULL : tr->state;
    float *hT = tr->o.per_line ? NULL : tr->next_state;

    rh_status st = hm->vt->forward(hm->model, tr->y, hT, tr->ws, hm->params, &batch, h0);
    if (st != RH_OK) {
        host_fmt(why, why_len, "forward failed: %s", rh_strerror(st));
        return -1;
    }
    r->symbols = 0;
    double norm_by;
    if (roll) { /* the published measure: summed over the pitches, averaged over time steps */
        for (size_t i = 0; i < rows; i++)
            r->symbols += tr->weights[i] > 0;
        norm_by = (double)r->symbols;
        r->nats = rh_sigmoid_bce(tr->dy, tr->y, tr->ftargets, tr->weights, (uint32_t)rows, tr->V,
                                 (float)(1.0 / norm_by));
    } else {
        for (size_t i = 0; i < rows; i++)
            r->symbols += tr->targets[i] >= 0;
        norm_by = tr->o.per_line ? (double)B : (double)r->symbols;
        r->nats = rh_softmax_xent(tr->dy, tr->y, tr->targets, NULL, (uint32_t)rows, tr->V, (float)(1.0 / norm_by));
    }
    r->loss = r->nats / norm_by;
    if (!isfinite(r->loss)) {
        host_fmt(why, why_len, "the loss is %s", isnan(r->loss) ? "NaN" : "infinite");
        return -1;
    }
    memset(hm->grads, 0, hm->info.num_params * sizeof(float));
    st = hm->vt->backward(hm->model, hm->grads, NULL, NULL, tr->ws, hm->params, &batch, h0, tr->dy, NULL);
    if (st != RH_OK) {
        host_fmt(why, why_len, "backward failed: %s", rh_strerror(st));
        return -1;
    }
    if (train_update(&tr->opt, hm->params, hm->grads, hm->info.num_params, tr->o.clip_value, tr->o.grad_clip,
                     current_lr(tr), &r->norm, why, why_len) != 0)
        return -1;
    tr->tokens_seen += r->symbols;
    advance(tr, B);
    tr->step++;
    return 0;
}

/* lm_reader over the validation symbols of a streamed corpus. */
static int read_val(void *ctx, uint32_t stream, size_t first, size_t count, int32_t *ids)
{
    trainer *tr = ctx;
    char err[512];
    if (stream >= tr->n_val_rows ||
        corpus_read(tr->val_cor ? tr->val_cor : tr->cor, &tr->val_rows[stream], ids, tr->val_first + first, count,
                    err, sizeof err) != 0) {
        hostlog_error("validation: %s", stream >= tr->n_val_rows ? "too many streams" : err);
        return -1;
    }
    return 0;
}

/* Validation loss in the units of the training loss; NAN when there is no validation text. */
static double validate(trainer *tr, double *nats_per_symbol)
{
    host_model *hm = &tr->m.hm;
    *nats_per_symbol = NAN;
    if (!tr->o.per_line) {
        double nll;
        uint64_t count;
        const int failed = tr->n_val < 2 ||
                           (tr->cor ? lm_nll_read(&nll, &count, hm, read_val, tr, tr->n_val, tr->o.eval_streams,
                                                  tr->o.seq_len)
                                    : lm_nll(&nll, &count, hm, tr->val_ids, tr->n_val, tr->o.eval_streams,
                                             tr->o.seq_len)) != 0;
        if (failed || count == 0)
            return NAN;
        *nats_per_symbol = nll / (double)count;
        return *nats_per_symbol;
    }
    if (tr->n_val_lines == 0)
        return NAN;
    const uint32_t B = tr->o.batch;
    if (tr->kind == TASK_ROLL) {
        double total = 0;
        uint64_t steps = 0;
        for (size_t first = 0; first < tr->n_val_lines; first += B) {
            uint32_t Bc = (uint32_t)(tr->n_val_lines - first < B ? tr->n_val_lines - first : B), Tc = 0;
            for (uint32_t b = 0; b < Bc; b++)
                if (tr->val_lines[first + b].len > Tc)
                    Tc = tr->val_lines[first + b].len;
            roll_batch(tr, tr->val_frames, tr->val_lines + first, NULL, Bc, Tc);
            rh_batch batch = {Tc, Bc, tr->lengths, tr->x, NULL};
            if (hm->vt->forward(hm->model, tr->y, NULL, tr->ws, hm->params, &batch, NULL) != RH_OK)
                return NAN;
            total += rh_sigmoid_bce(NULL, tr->y, tr->ftargets, tr->weights, Tc * Bc, tr->V, 1.0f);
            for (uint32_t b = 0; b < Bc; b++)
                steps += tr->lengths[b];
        }
        *nats_per_symbol = total / (double)steps;
        return *nats_per_symbol;
    }
    double total = 0;
    uint64_t symbols = 0;
    for (size_t first = 0; first < tr->n_val_lines; first += B) {
        uint32_t Bc = (uint32_t)(tr->n_val_lines - first < B ? tr->n_val_lines - first : B), Tc = 0;
        for (uint32_t b = 0; b < Bc; b++)
            if (tr->val_lines[first + b].len + 1 > Tc)
                Tc = tr->val_lines[first + b].len + 1;
        for (uint32_t b = 0; b < Bc; b++) {
            const span *ln = &tr->val_lines[first + b];
            const int32_t *src = tr->val_ids + ln->start;
            tr->lengths[b] = ln->len + 1;
            for (uint32_t t = 0; t < Tc; t++) {
                size_t i = (size_t)t * Bc + b;
                if (t > ln->len) {
                    tr->tokens[i] = 0, tr->targets[i] = -1;
                    continue;
                }
                tr->tokens[i] = t == 0 ? tr->newline : src[t - 1];
                tr->targets[i] = t < ln->len ? src[t] : tr->newline;
                symbols++;
            }
        }
        rh_batch batch = {Tc, Bc, tr->lengths, NULL, tr->tokens};
        if (hm->vt->forward(hm->model, tr->y, NULL, tr->ws, hm->params, &batch, NULL) != RH_OK)
            return NAN;
        total += rh_softmax_xent(NULL, tr->y, tr->targets, NULL, Tc * Bc, tr->V, 1.0f);
    }
    *nats_per_symbol = total / (double)symbols;
    return total / (double)tr->n_val_lines;
}

/* ---- files -------------------------------------------------------------------------------------------- */

static char *training_json(const trainer *tr)
{
    const train_opts *o = &tr->o;
    cJSON *j = cJSON_CreateObject();
    char hash[32];
    cJSON_AddStringToObject(j, "task", o->task);
    /* the file's name, not where it sat on the machine that trained: model files travel */
    const char *slash = strrchr(o->data, '/');
    cJSON_AddStringToObject(j, "data", slash && slash[1] ? slash + 1 : o->data);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)tr->data_hash);
    cJSON_AddStringToObject(j, "data_hash", hash);
    cJSON_AddNumberToObject(j, "data_symbols", (double)tr->n);
    const char *vslash = o->val_data ? strrchr(o->val_data, '/') : NULL;
    cJSON_AddStringToObject(j, "val_data", !o->val_data ? "" : vslash && vslash[1] ? vslash + 1 : o->val_data);
    cJSON_AddStringToObject(j, "cell", o->core);
    cJSON_AddNumberToObject(j, "rnn_size", o->hidden);
    cJSON_AddNumberToObject(j, "num_layers", o->layers);
    cJSON_AddNumberToObject(j, "embed", o->embed);
    cJSON_AddNumberToObject(j, "seq_length", o->seq_len);
    cJSON_AddNumberToObject(j, "batch_size", o->batch);
    cJSON_AddBoolToObject(j, "per_line", o->per_line);
    cJSON_AddStringToObject(j, "optimizer", o->optimizer);
    cJSON_AddNumberToObject(j, "learning_rate", o->lr);
    cJSON_AddNumberToObject(j, "lr_decay", o->lr_decay);
    cJSON_AddNumberToObject(j, "lr_decay_after", o->lr_decay_after);
    cJSON_AddNumberToObject(j, "grad_clip", o->grad_clip);
    cJSON_AddNumberToObject(j, "clip_value", o->clip_value);
    cJSON_AddNumberToObject(j, "val_frac", o->val_frac);
    cJSON_AddNumberToObject(j, "eval_streams", o->eval_streams);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* The model's metadata: spec, vocabulary, and how it was trained. */
static int model_meta(meta_list *ml, const trainer *tr)
{
    const int lm = tr->kind == TASK_LM;
    char *vocab_s = lm ? vocab_to_utf8(&tr->m.voc) : strdup(tr->kind == TASK_MIDI ? "performance-events-1" : "pianoroll-88-1"),
         *train_s = training_json(tr);
    int rc = (!vocab_s || !train_s || model_spec_to_meta(ml, &tr->m.spec) != 0 ||
              meta_add(ml, lm ? "rnnhost.vocab" : "rnnhost.encoding", "%s", vocab_s) != 0 ||
              (tr->kind == TASK_ROLL &&
               meta_add(ml, "rnnhost.steps_per_quarter", "%u", tr->o.steps_per_quarter) != 0) ||
              meta_add(ml, "rnnhost.training", "%s", train_s) != 0 ||
              meta_add(ml, "rnnhost.trained_steps", "%llu", (unsigned long long)tr->step) != 0)
                 ? -1
                 : 0;
    free(vocab_s);
    free(train_s);
    return rc;
}

static int write_model(const trainer *tr, const char *path)
{
    const host_model *hm = &tr->m.hm;
    meta_list ml = {0};
    rh_blob *blobs = calloc(hm->info.num_tensors, sizeof *blobs);
    char err[512];
    int rc = -1;
    if (!blobs || model_meta(&ml, tr) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < hm->info.num_tensors; i++)
        blobs[i] = rh_blob_from_tensor(&hm->tensors[i], hm->params);
    if (model_write(path, ml.items, ml.n, blobs, hm->info.num_tensors, err, sizeof err) != 0) {
        hostlog_error("model not written: %s", err); /* err names the file */
        goto done;
    }
    rc = 0;
done:
    meta_free(&ml);
    free(blobs);
    return rc;
}

/* A checkpoint: the model file plus everything the next step depends on. */
static int write_checkpoint(trainer *tr, double elapsed)
{
    const host_model *hm = &tr->m.hm;
    const uint32_t slots = rh_optimizer_slots(tr->opt.kind), nt = hm->info.num_tensors;
    char path[4096], err[512];
    train_checkpoint_path(path, sizeof path, tr->o.ckpt_dir, tr->o.task, tr->step, tr->last_val);

    meta_list ml = {0};
    const size_t max_blobs = (size_t)nt * (1 + slots) + 3;
    rh_blob *blobs = calloc(max_blobs, sizeof *blobs);
    char(*names)[RH_MAX_NAME + 8] = calloc((size_t)nt * slots + 1, sizeof *names);
    uint32_t nb = 0;
    int rc = -1;
    if (!blobs || !names || model_meta(&ml, tr) != 0)
        goto oom;
    if (meta_add(&ml, "rnnhost.checkpoint",
                 "{\"step\":%llu,\"epoch\":%llu,\"pos\":%zu,\"opt_t\":%llu,\"tokens_seen\":%llu,"
                 "\"elapsed\":%.3f,\"val_loss\":%.17g}",
                 (unsigned long long)tr->step, (unsigned long long)tr->epoch, tr->pos,
                 (unsigned long long)tr->opt.t, (unsigned long long)tr->tokens_seen, elapsed,
                 isfinite(tr->last_val) ? tr->last_val : -1.0) != 0)
        goto oom;
    for (uint32_t i = 0; i < nt; i++)
        blobs[nb++] = rh_blob_from_tensor(&hm->tensors[i], hm->params);
    for (uint32_t k = 0; k < slots; k++)
        for (uint32_t i = 0; i < nt; i++) {
            char *name = names[(size_t)k * nt + i];
            snprintf(name, RH_MAX_NAME + 8, "opt.%u.%s", k, hm->tensors[i].name);
            blobs[nb] = rh_blob_from_tensor(&hm->tensors[i], tr->opt_state + (size_t)k * hm->info.num_params);
            blobs[nb++].name = name;
        }
    rh_blob rng = {"train.rng", RH_DTYPE_U64, 1, {4, 0, 0, 0}, tr->rng.s};
    blobs[nb++] = rng;
    if (tr->o.per_line) {
        rh_blob order = {"train.order", RH_DTYPE_I32, 1, {tr->n_lines, 0, 0, 0}, tr->order};
        blobs[nb++] = order;
    } else {
        rh_blob state = {"train.state", RH_DTYPE_F32, 2, {tr->o.batch, tr->S, 0, 0}, tr->state};
        blobs[nb++] = state;
    }
    if (model_write(path, ml.items, ml.n, blobs, nb, err, sizeof err) != 0) {
        hostlog_error("checkpoint at step %llu not written: %s", (unsigned long long)tr->step, err);
        goto done;
    }
    snprintf(tr->last_ckpt, sizeof tr->last_ckpt, "%s", path);
    rc = 0;
    goto done;
oom:
    hostlog_error("out of memory writing a checkpoint");
done:
    meta_free(&ml);
    free(blobs);
    free(names);
    return rc;
}

/* Options that must agree with what we continue from: given ones are compared, missing ones adopted. */
static int adopt_training(trainer *tr, const char *json_text, const char *from)
{
    train_opts *o = &tr->o;
    cJSON *j = cJSON_Parse(json_text);
    int rc = -1;
    if (!j) {
        hostlog_error("%s: its training record is not valid JSON", from);
        return -1;
    }
#define ADOPT_NUM(flag, field, key, optname)                                                                  \
    do {                                                                                                       \
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);                                             \
        if (!cJSON_IsNumber(v))                                                                                \
            break;                                                                                             \
        if (!(o->given & (flag)))                                                                              \
            o->field = (__typeof__(o->field))v->valuedouble;                                                   \
        else if ((double)o->field != v->valuedouble) {                                                         \
            hostlog_error("%s was trained with %s %g, not %g: drop the option or start a new training", from, \
                          optname, v->valuedouble, (double)o->field);                                          \
            goto done;                                                                                         \
        }                                                                                                      \
    } while (0)
    ADOPT_NUM(G_SIZE, hidden, "rnn_size", "--rnn-size");
    ADOPT_NUM(G_LAYERS, layers, "num_layers", "--num-layers");
    ADOPT_NUM(G_EMBED, embed, "embed", "--embed");
    ADOPT_NUM(G_SEQ, seq_len, "seq_length", "--seq-length");
    ADOPT_NUM(G_BATCH, batch, "batch_size", "--batch-size");
    ADOPT_NUM(G_VALFRAC, val_frac, "val_frac", "--val-frac");
    ADOPT_NUM(G_LR, lr, "learning_rate", "--learning-rate");
    ADOPT_NUM(G_DECAY, lr_decay, "lr_decay", "--lr-decay");
    ADOPT_NUM(G_DECAY_AFTER, lr_decay_after, "lr_decay_after", "--lr-decay-after");
    ADOPT_NUM(G_CLIP, grad_clip, "grad_clip", "--grad-clip");
    ADOPT_NUM(G_CLIPV, clip_value, "clip_value", "--clip-value");
    ADOPT_NUM(G_EVALSTREAMS, eval_streams, "eval_streams", "--eval-streams");
    ADOPT_NUM(G_SEED, seed, "seed", "--seed");
#undef ADOPT_NUM
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(j, "per_line");
    if (cJSON_IsBool(pl)) {
        int v = cJSON_IsTrue(pl);
        if (!(o->given & G_PERLINE))
            o->per_line = v;
        else if (o->per_line != v) {
            hostlog_error("%s was trained %s --per-line: drop the option or start a new training", from,
                          v ? "with" : "without");
            goto done;
        }
    }
    static char optimizer[32]; /* outlives the JSON: o->optimizer points here */
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    if (cJSON_IsString(opt) && strlen(opt->valuestring) < sizeof optimizer) {
        if (!(o->given & G_OPTIM)) {
            snprintf(optimizer, sizeof optimizer, "%s", opt->valuestring);
            o->optimizer = optimizer;
        } else if (strcmp(o->optimizer, opt->valuestring) != 0) {
            hostlog_error("%s was trained with --optimizer %s: drop the option or start a new training", from,
                          opt->valuestring);
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* The architecture of a model file we continue from; given options must agree. */
static int adopt_spec(trainer *tr, const model_spec *spec, const char *from)
{
    train_opts *o = &tr->o;
    uint32_t embed = 0;
    if (tr->kind == TASK_ROLL) { /* a recurrent model straight over the frames */
        static char cell[RH_MAX_NAME];
        if ((o->given & G_CORE) && strcmp(o->core, spec->model_id) != 0) {
            hostlog_error("%s is a '%s' model, not '%s': drop --cell or start a new training", from,
                          spec->model_id, o->core);
            return -1;
        }
        snprintf(cell, sizeof cell, "%s", spec->model_id);
        o->core = cell;
        if ((o->given & G_SIZE) && o->hidden != spec->hidden_size) {
            hostlog_error("%s has --rnn-size %u, not %u", from, spec->hidden_size, o->hidden);
            return -1;
        }
        if ((o->given & G_LAYERS) && o->layers != spec->num_layers) {
            hostlog_error("%s has --num-layers %u, not %u", from, spec->num_layers, o->layers);
            return -1;
        }
        o->hidden = spec->hidden_size, o->layers = spec->num_layers;
        return 0;
    }
    if (strcmp(spec->model_id, "charlm") != 0 || !spec->core[0]) {
        hostlog_error("%s: a '%s' model; train continues only charlm language models", from, spec->model_id);
        return -1;
    }
    if (spec->options[0] && sscanf(spec->options, "embed=%u", &embed) != 1) {
        hostlog_error("%s: unknown model options '%s'", from, spec->options);
        return -1;
    }
    static char core[RH_MAX_NAME];
    if ((o->given & G_CORE) && strcmp(o->core, spec->core) != 0) {
        hostlog_error("%s has a '%s' core, not '%s': drop --cell or start a new training", from, spec->core,
                      o->core);
        return -1;
    }
    snprintf(core, sizeof core, "%s", spec->core);
    o->core = core;
#define SAME(flag, field, value, optname)                                                                     \
    do {                                                                                                       \
        if ((o->given & (flag)) && o->field != (value)) {                                                      \
            hostlog_error("%s has %s %u, not %u: drop the option or start a new training", from, optname,     \
                          (unsigned)(value), (unsigned)o->field);                                              \
            return -1;                                                                                         \
        }                                                                                                      \
        o->field = (value);                                                                                    \
    } while (0)
    SAME(G_SIZE, hidden, spec->hidden_size, "--rnn-size");
    SAME(G_LAYERS, layers, spec->num_layers, "--num-layers");
    SAME(G_EMBED, embed, embed, "--embed");
#undef SAME
    return 0;
}

static int read_checkpoint_state(trainer *tr, const rh_weights *w, const char *path, double *elapsed)
{
    const host_model *hm = &tr->m.hm;
    const uint32_t slots = rh_optimizer_slots(tr->opt.kind), nt = hm->info.num_tensors;
    char err[512], prefix[16];
    for (uint32_t k = 0; k < slots; k++) {
        snprintf(prefix, sizeof prefix, "opt.%u.", k);
        if (rh_weights_load_tensors(w, tr->opt_state + (size_t)k * hm->info.num_params, hm->tensors, nt, prefix,
                                    err, sizeof err) != RH_OK) {
            hostlog_error("%s: optimizer state: %s", path, err);
            return -1;
        }
    }
    if (train_read_rng(&tr->rng, w, path) != 0)
        return -1;
    rh_blob b;
    int32_t i;
    if (tr->o.per_line) {
        i = rh_weights_find(w, "train.order");
        if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_I32 || b.ndim != 1 ||
            b.shape[0] != tr->n_lines) {
            hostlog_error("%s: no line order for %zu lines (train.order)", path, tr->n_lines);
            return -1;
        }
        const int32_t *ord = b.data;
        for (size_t k = 0; k < tr->n_lines; k++) {
            if (ord[k] < 0 || (size_t)ord[k] >= tr->n_lines) {
                hostlog_error("%s: train.order holds %d, outside 0..%zu", path, ord[k], tr->n_lines - 1);
                return -1;
            }
            tr->order[k] = (uint32_t)ord[k];
        }
    } else {
        i = rh_weights_find(w, "train.state");
        if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_F32 || b.ndim != 2 ||
            b.shape[0] != tr->o.batch || b.shape[1] != tr->S) {
            hostlog_error("%s: no carried state of (%u, %u) (train.state)", path, tr->o.batch, tr->S);
            return -1;
        }
        memcpy(tr->state, b.data, (size_t)tr->o.batch * tr->S * sizeof(float));
    }
    const char *cp = rh_weights_meta(w, "rnnhost.checkpoint");
    cJSON *j = cp ? cJSON_Parse(cp) : NULL;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step"), *epoch = cJSON_GetObjectItemCaseSensitive(j, "epoch"),
                *pos = cJSON_GetObjectItemCaseSensitive(j, "pos"), *t = cJSON_GetObjectItemCaseSensitive(j, "opt_t"),
                *seen = cJSON_GetObjectItemCaseSensitive(j, "tokens_seen"),
                *el = cJSON_GetObjectItemCaseSensitive(j, "elapsed"), *val = cJSON_GetObjectItemCaseSensitive(j, "val_loss");
    int ok = cJSON_IsNumber(step) && cJSON_IsNumber(epoch) && cJSON_IsNumber(pos) && cJSON_IsNumber(t) &&
             cJSON_IsNumber(seen) && cJSON_IsNumber(el) && step->valuedouble >= 0 && epoch->valuedouble >= 0 &&
             pos->valuedouble >= 0 && t->valuedouble >= 0;
    if (ok) {
        tr->step = (uint64_t)step->valuedouble;
        tr->epoch = (uint64_t)epoch->valuedouble;
        tr->pos = (size_t)pos->valuedouble;
        tr->opt.t = (uint64_t)t->valuedouble;
        tr->tokens_seen = (uint64_t)seen->valuedouble;
        *elapsed = el->valuedouble;
        tr->last_val = cJSON_IsNumber(val) && val->valuedouble >= 0 ? val->valuedouble : NAN;
        ok = tr->o.per_line ? tr->pos < tr->n_lines : tr->pos + tr->o.seq_len + 1 <= tr->seg;
    }
    cJSON_Delete(j);
    if (!ok) {
        hostlog_error("%s: its position (rnnhost.checkpoint) is missing or does not fit the data", path);
        return -1;
    }
    return 0;
}

/* ---- the command ------------------------------------------------------------------------------------- */

static int parse_options(train_opts *o, int argc, char **argv)
{
    enum {
        O_TASK = 256, O_DATA, O_VAL_DATA, O_VAL_FRAC, O_PER_LINE, O_CELL, O_SIZE, O_LAYERS, O_EMBED, O_INIT,
        O_SEQ, O_BATCH, O_OPTIM, O_LR, O_DECAY, O_DECAY_AFTER, O_CLIP, O_CLIPV, O_SEED, O_THREADS, O_EPOCHS,
        O_STEPS, O_BUDGET, O_EVAL, O_EVAL_STREAMS, O_PRINT, O_LOG, O_CKPT_EVERY, O_CKPT_DIR, O_RESUME, O_PLUGIN,
        O_SPLIT, O_VAL_SPLIT, O_TRANSPOSE, O_STRETCH, O_GRID
    };
    static const struct option long_options[] = {
        {"task", required_argument, NULL, O_TASK},
        {"data", required_argument, NULL, O_DATA},
        {"val-data", required_argument, NULL, O_VAL_DATA},
        {"val-frac", required_argument, NULL, O_VAL_FRAC},
        {"per-line", no_argument, NULL, O_PER_LINE},
        {"cell", required_argument, NULL, O_CELL},
        {"rnn-size", required_argument, NULL, O_SIZE},
        {"num-layers", required_argument, NULL, O_LAYERS},
        {"embed", required_argument, NULL, O_EMBED},
        {"init-from", required_argument, NULL, O_INIT},
        {"seq-length", required_argument, NULL, O_SEQ},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"optimizer", required_argument, NULL, O_OPTIM},
        {"learning-rate", required_argument, NULL, O_LR},
        {"lr-decay", required_argument, NULL, O_DECAY},
        {"lr-decay-after", required_argument, NULL, O_DECAY_AFTER},
        {"grad-clip", required_argument, NULL, O_CLIP},
        {"clip-value", required_argument, NULL, O_CLIPV},
        {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-epochs", required_argument, NULL, O_EPOCHS},
        {"max-steps", required_argument, NULL, O_STEPS},
        {"time-budget", required_argument, NULL, O_BUDGET},
        {"eval-every", required_argument, NULL, O_EVAL},
        {"eval-streams", required_argument, NULL, O_EVAL_STREAMS},
        {"print-every", required_argument, NULL, O_PRINT},
        {"log-json", required_argument, NULL, O_LOG},
        {"checkpoint-every", required_argument, NULL, O_CKPT_EVERY},
        {"checkpoint-dir", required_argument, NULL, O_CKPT_DIR},
        {"resume", required_argument, NULL, O_RESUME},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"split", required_argument, NULL, O_SPLIT},
        {"val-split", required_argument, NULL, O_VAL_SPLIT},
        {"transpose", required_argument, NULL, O_TRANSPOSE},
        {"stretch", required_argument, NULL, O_STRETCH},
        {"grid", required_argument, NULL, O_GRID},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, epochs_given = 0, ckpt_every_given = 0;
    uint32_t threads = 0;
    memset(o, 0, sizeof *o);
    o->task = "lm", o->core = "gru", o->optimizer = "adam", o->out = "lm.safetensors", o->ckpt_dir = "checkpoints";
    o->hidden = 128, o->layers = 2, o->embed = 0, o->seq_len = 50, o->batch = 50, o->eval_streams = 8;
    o->lr = 2e-3, o->lr_decay = 0.97, o->lr_decay_after = 10, o->grad_clip = 5, o->clip_value = 0;
    o->val_frac = 0.05, o->stretch = 1.0, o->steps_per_quarter = 1, o->max_epochs = 50, o->eval_every = 1000, o->print_every = 100, o->seed = 1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", long_options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_TASK: o->task = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_VAL_DATA: o->val_data = optarg; break;
        case O_VAL_FRAC:
            bad = cli_double(&o->val_frac, optarg, "--val-frac");
            if (!bad && o->val_frac >= 1) {
                hostlog_usage("--val-frac must be below 1");
                bad = 1;
            }
            o->given |= G_VALFRAC;
            break;
        case O_PER_LINE: o->per_line = 1, o->given |= G_PERLINE; break;
        case O_CELL: o->core = optarg, o->given |= G_CORE; break;
        case O_SIZE: bad = cli_u32(&o->hidden, optarg, "--rnn-size", 1, 1u << 16), o->given |= G_SIZE; break;
        case O_LAYERS: bad = cli_u32(&o->layers, optarg, "--num-layers", 1, 64), o->given |= G_LAYERS; break;
        case O_EMBED: bad = cli_u32(&o->embed, optarg, "--embed", 0, 1u << 16), o->given |= G_EMBED; break;
        case O_INIT: o->init_from = optarg; break;
        case O_SEQ: bad = cli_u32(&o->seq_len, optarg, "--seq-length", 1, 1u << 16), o->given |= G_SEQ; break;
        case O_BATCH: bad = cli_u32(&o->batch, optarg, "--batch-size", 1, 1u << 16), o->given |= G_BATCH; break;
        case O_OPTIM:
            o->optimizer = optarg, o->given |= G_OPTIM;
            if (cli_optimizer_kind(optarg) < 0) {
                hostlog_usage("--optimizer must be sgd, momentum, rmsprop or adam, not '%s'", optarg);
                bad = 1;
            }
            break;
        case O_LR: bad = cli_double(&o->lr, optarg, "--learning-rate"), o->given |= G_LR; break;
        case O_DECAY: bad = cli_double(&o->lr_decay, optarg, "--lr-decay"), o->given |= G_DECAY; break;
        case O_DECAY_AFTER:
            bad = cli_u32(&o->lr_decay_after, optarg, "--lr-decay-after", 0, UINT32_MAX), o->given |= G_DECAY_AFTER;
            break;
        case O_CLIP: bad = cli_double(&o->grad_clip, optarg, "--grad-clip"), o->given |= G_CLIP; break;
        case O_CLIPV: bad = cli_double(&o->clip_value, optarg, "--clip-value"), o->given |= G_CLIPV; break;
        case O_SEED: bad = cli_u64(&o->seed, optarg, "--seed"), o->given |= G_SEED; break;
        case O_THREADS: bad = cli_u32(&threads, optarg, "--threads", 0, 1024), o->threads = (int)threads; break;
        case O_EPOCHS: bad = cli_u64(&o->max_epochs, optarg, "--max-epochs"), epochs_given = 1; break;
        case O_STEPS: bad = cli_u64(&o->max_steps, optarg, "--max-steps"); break;
        case O_BUDGET: bad = cli_duration(&o->time_budget, optarg); break;
        case O_EVAL: bad = cli_u64(&o->eval_every, optarg, "--eval-every"); break;
        case O_EVAL_STREAMS:
            bad = cli_u32(&o->eval_streams, optarg, "--eval-streams", 1, 1u << 16), o->given |= G_EVALSTREAMS;
            break;
        case O_PRINT:
            bad = cli_u64(&o->print_every, optarg, "--print-every");
            if (!bad && o->print_every == 0)
                o->print_every = 1; /* every step, as for the ctc trainer; and never a division by zero */
            break;
        case O_LOG: o->log_json = optarg; break;
        case O_CKPT_EVERY: bad = cli_u64(&o->ckpt_every, optarg, "--checkpoint-every"), ckpt_every_given = 1; break;
        case O_CKPT_DIR: o->ckpt_dir = optarg; break;
        case O_RESUME: o->resume = optarg; break;
        case O_PLUGIN: o->plugin_path = optarg; break;
        case O_SPLIT: o->split = optarg; break;
        case O_VAL_SPLIT: o->val_split = optarg; break;
        case O_TRANSPOSE: bad = cli_u32(&o->transpose, optarg, "--transpose", 0, 24); break;
        case O_GRID:
            o->steps_per_quarter = strcmp(optarg, "quarter") == 0     ? 1
                                   : strcmp(optarg, "eighth") == 0    ? 2
                                   : strcmp(optarg, "sixteenth") == 0 ? 4
                                                                      : 0;
            if (!o->steps_per_quarter) {
                hostlog_usage("--grid is quarter, eighth or sixteenth, not '%s'", optarg);
                bad = 1;
            }
            break;
        case O_STRETCH:
            bad = cli_double(&o->stretch, optarg, "--stretch");
            if (!bad && (o->stretch < 1.0 || o->stretch > 4.0)) {
                hostlog_usage("--stretch must be from 1 to 4, not %s", optarg);
                bad = 1;
            }
            break;
        case 'o': o->out = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default:
            hostlog_usage("train: unknown or incomplete option '%s'", argv[optind - 1]);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (optind < argc) {
        hostlog_usage("train: unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (strcmp(o->task, "lm") != 0 && strcmp(o->task, "midi-lm") != 0 && strcmp(o->task, "pianoroll") != 0) {
        hostlog_usage("train: --task %s is not available (available: lm, midi-lm, pianoroll)", o->task);
        return -1;
    }
    if (strcmp(o->task, "lm") != 0 && o->per_line) {
        hostlog_usage("train: --per-line is for --task lm");
        return -1;
    }
    if (!o->data) {
        hostlog_usage("train: --data is required");
        return -1;
    }
    if (o->resume && o->init_from) {
        hostlog_usage("train: --resume and --init-from exclude each other");
        return -1;
    }
    if (train_check_output(o->out) != 0)
        return -1;
    if (!epochs_given && (o->max_steps || o->time_budget > 0))
        o->max_epochs = 0; /* the given limit alone decides */
    if (!ckpt_every_given)
        o->ckpt_every = o->eval_every;
    if (o->per_line && o->seq_len < 2) {
        hostlog_usage("train: --per-line needs --seq-length of at least 2");
        return -1;
    }
    return 0;
}

static void trainer_free(trainer *tr)
{
    lm_close(&tr->m);
    registry_free(&tr->reg);
    if (tr->o.val_data)
        free(tr->val_ids); /* otherwise it points into ids */
    free(tr->ids);
    free(tr->lines);
    if (tr->o.val_data || tr->kind == TASK_ROLL)
        free(tr->val_lines);
    free(tr->order);
    free(tr->frames);
    free(tr->val_frames);
    free(tr->x);
    free(tr->ftargets);
    free(tr->weights);
    for (uint32_t i = 0; tr->rows && i < tr->n_rows; i++)
        corpus_cursor_free(&tr->rows[i]);
    for (uint32_t i = 0; tr->val_rows && i < tr->n_val_rows; i++)
        corpus_cursor_free(&tr->val_rows[i]);
    free(tr->rows);
    free(tr->val_rows);
    free(tr->window);
    corpus_close(tr->cor);
    corpus_close(tr->val_cor);
    free(tr->opt_state);
    free(tr->state);
    free(tr->next_state);
    free(tr->tokens);
    free(tr->targets);
    free(tr->lengths);
    free(tr->y);
    free(tr->dy);
    free(tr->ws);
    if (tr->log)
        fclose(tr->log);
}

/* --task ctc has its own trainer: utterances and a CTC head rather than token streams. */
static int wants_ctc(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if ((strcmp(argv[i], "--task") == 0 && i + 1 < argc && strcmp(argv[i + 1], "ctc") == 0) ||
            strcmp(argv[i], "--task=ctc") == 0)
            return 1;
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    if (wants_ctc(argc, argv))
        return cmd_train_ctc(argc, argv);
    trainer *tr = calloc(1, sizeof *tr);
    char why[1024];
    int rc = EXIT_FAIL;
    rh_weights *from = NULL;
    model_spec from_spec;
    vocab from_vocab = {0};
    if (!tr) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    tr->last_val = NAN;
    int p = parse_options(&tr->o, argc, argv);
    if (p != 0) {
        free(tr);
        return p > 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (registry_init(&tr->reg, tr->o.plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        free(tr);
        return EXIT_FAIL;
    }
    if (tr->o.threads > 0) {
        blas_set_threads(tr->o.threads);
        host_set_model_threads((uint32_t)tr->o.threads);
    }
    tr->kind = strcmp(tr->o.task, "lm") == 0 ? TASK_LM : strcmp(tr->o.task, "midi-lm") == 0 ? TASK_MIDI : TASK_ROLL;
    if (tr->kind == TASK_ROLL)
        tr->o.per_line = 1; /* one sequence at a time, shuffled: the sequence machinery of --per-line */

    /* What we continue from decides the architecture and, for --resume, the training options. */
    const char *from_name = tr->o.resume ? tr->o.resume : tr->o.init_from;
    if (from_name) {
        char path[4096], err[512];
        if (model_resolve(path, sizeof path, from_name, why, sizeof why) != 0) {
            hostlog_error("%s", why);
            rc = EXIT_LOAD;
            goto done;
        }
        if (rh_weights_open(&from, path, err, sizeof err) != RH_OK) {
            hostlog_error("%s", err);
            rc = EXIT_LOAD;
            goto done;
        }
        if (model_spec_from_weights(&from_spec, from, err, sizeof err) != 0) {
            hostlog_error("%s: %s", path, err);
            rc = EXIT_LOAD;
            goto done;
        }
        if (strcmp(from_spec.task, tr->o.task) != 0) {
            hostlog_error("%s is a '%s' model; train --task %s needs a '%s' model (or give --task %s)", path,
                          from_spec.task, tr->o.task, tr->o.task, from_spec.task);
            rc = EXIT_LOAD;
            goto done;
        }
        const char *stored = rh_weights_meta(from, "rnnhost.vocab");
        if (tr->kind == TASK_LM && (!stored || vocab_from_utf8(&from_vocab, stored, err, sizeof err) != 0)) {
            hostlog_error("%s: no valid vocabulary in its metadata", path);
            rc = EXIT_LOAD;
            goto done;
        }
        if (adopt_spec(tr, &from_spec, path) != 0)
            goto done;
        if (tr->o.resume) {
            const char *tj = rh_weights_meta(from, "rnnhost.training");
            if (!rh_weights_meta(from, "rnnhost.checkpoint") || !tj) {
                hostlog_error("%s is a model, not a checkpoint: use --init-from to start from its weights", path);
                goto done;
            }
            if (adopt_training(tr, tj, path) != 0)
                goto done;
        }
    }

    if (load_data(tr, from_name && tr->kind == TASK_LM ? &from_vocab : NULL) != 0)
        goto done;
    if (tr->truncated)
        fprintf(stderr, "rnnhost: %zu lines longer than --seq-length - 1 = %u symbols were cut\n", tr->truncated,
                tr->o.seq_len - 1);

    /* the model */
    model_spec *spec = &tr->m.spec;
    memset(spec, 0, sizeof *spec);
    snprintf(spec->task, sizeof spec->task, "%s", tr->o.task);
    spec->hidden_size = tr->o.hidden;
    spec->num_layers = tr->o.layers;
    if (tr->kind == TASK_ROLL) { /* the cell itself over multi-hot frames, one logit per pitch */
        snprintf(spec->model_id, sizeof spec->model_id, "%s", tr->o.core);
        spec->input_kind = RH_INPUT_DENSE;
        spec->input_dim = spec->output_dim = ROLL_PITCHES;
    } else {
        const uint32_t V = tr->kind == TASK_LM ? tr->m.voc.n : EV_VOCAB;
        snprintf(spec->model_id, sizeof spec->model_id, "charlm");
        snprintf(spec->core, sizeof spec->core, "%s", tr->o.core);
        if (tr->o.embed)
            snprintf(spec->options, sizeof spec->options, "embed=%u", tr->o.embed);
        spec->input_kind = RH_INPUT_TOKENS;
        spec->input_dim = spec->output_dim = V;
    }
    if ((rc = model_create(&tr->m.hm, &tr->reg, spec, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        goto done;
    }
    rc = EXIT_FAIL;
    host_model *hm = &tr->m.hm;
    tr->V = hm->info.output_dim, tr->S = hm->info.state_size;
    if (from) {
        char err[512];
        if (rh_weights_load_tensors(from, hm->params, hm->tensors, hm->info.num_tensors, NULL, err, sizeof err) !=
            RH_OK) {
            hostlog_error("%s: %s", from_name, err);
            rc = EXIT_LOAD;
            goto done;
        }
    } else {
        host_model_init_params(hm, tr->o.seed);
    }

    /* buffers, sized once for the largest step */
    const uint32_t B = tr->o.batch, T = tr->o.seq_len;
    const uint32_t evalB = tr->o.per_line ? B : (tr->o.eval_streams > B ? tr->o.eval_streams : B);
    const uint32_t kind = (uint32_t)cli_optimizer_kind(tr->o.optimizer), slots = rh_optimizer_slots(kind);
    tr->opt_state = calloc((size_t)slots * hm->info.num_params + 1, sizeof(float));
    tr->state = calloc((size_t)B * tr->S, sizeof(float));
    tr->next_state = calloc((size_t)B * tr->S, sizeof(float));
    tr->tokens = calloc((size_t)T * evalB, sizeof *tr->tokens);
    tr->targets = calloc((size_t)T * evalB, sizeof *tr->targets);
    tr->lengths = calloc(evalB, sizeof *tr->lengths);
    tr->y = malloc((size_t)T * evalB * tr->V * sizeof(float));
    tr->dy = malloc((size_t)T * B * tr->V * sizeof(float));
    tr->ws = malloc((hm->vt->workspace_size(hm->model, T, evalB) + 1) * sizeof(float));
    tr->order = tr->o.per_line ? malloc((tr->n_lines + 1) * sizeof *tr->order) : NULL;
    if (tr->kind == TASK_ROLL) {
        tr->x = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
        tr->ftargets = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
        tr->weights = malloc((size_t)T * B * sizeof(float));
        if (!tr->x || !tr->ftargets || !tr->weights) {
            hostlog_error("out of memory for a batch of %u x %u", B, T);
            goto done;
        }
    }
    if (!tr->opt_state || !tr->state || !tr->next_state || !tr->tokens || !tr->targets || !tr->lengths || !tr->y ||
        !tr->dy || !tr->ws || (tr->o.per_line && !tr->order)) {
        hostlog_error("out of memory for a batch of %u x %u", B, T);
        goto done;
    }
    rh_optimizer_init(&tr->opt, kind, (float)tr->o.lr, hm->info.num_params, tr->opt_state);
    rh_rng_seed(&tr->rng, tr->o.seed ^ 0x7261696e5f6c6dULL); /* shuffling, apart from initialisation */
    hm->vt->reset(hm->model, tr->state, B);
    if (tr->o.per_line) {
        for (size_t i = 0; i < tr->n_lines; i++)
            tr->order[i] = (uint32_t)i;
        shuffle(tr->order, tr->n_lines, &tr->rng);
    }
    if (tr->o.resume) {
        char expect[32];
        const char *tj = rh_weights_meta(from, "rnnhost.training");
        cJSON *j = cJSON_Parse(tj);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "data_hash");
        snprintf(expect, sizeof expect, "%016llx", (unsigned long long)tr->data_hash);
        int same = cJSON_IsString(h) && strcmp(h->valuestring, expect) == 0;
        cJSON_Delete(j);
        if (!same) {
            hostlog_error("%s was trained on other data than %s (the training text differs)", tr->o.resume,
                          tr->o.data);
            goto done;
        }
        if (read_checkpoint_state(tr, from, tr->o.resume, &tr->elapsed_before) != 0)
            goto done;
    }
    rh_weights_close(from);
    from = NULL;

    if (train_ensure_dir(tr->o.ckpt_dir) != 0) {
        hostlog_error("cannot use checkpoint directory %s: %s", tr->o.ckpt_dir, strerror(errno));
        goto done;
    }
    const size_t stale = train_remove_stale_temps(tr->o.ckpt_dir, tr->o.task, tr->o.out);
    if (stale && !tr->o.quiet)
        fprintf(stderr, "rnnhost: removed %zu temporary file%s a killed run left unfinished\n", stale,
                stale == 1 ? "" : "s");
    if (tr->o.log_json && !(tr->log = train_open_log(tr->o.log_json, tr->o.resume != NULL))) {
        hostlog_error("cannot write %s: %s", tr->o.log_json, strerror(errno));
        goto done;
    }

    const uint64_t per_epoch = steps_per_epoch(tr);
    uint64_t total = tr->o.max_steps;
    if (tr->o.max_epochs && (!total || tr->o.max_epochs * per_epoch < total))
        total = tr->o.max_epochs * per_epoch;
    if (!tr->o.quiet)
        fprintf(stderr,
                "rnnhost: training %s %s (%u x %u, %llu parameters) on %zu %s (%u-wide input), "
                "%zu %s for validation; %llu steps per epoch\n",
                tr->o.task, tr->o.core, tr->o.layers, tr->o.hidden, (unsigned long long)hm->info.num_params, tr->n,
                tr->kind == TASK_ROLL ? "frames" : "symbols", hm->info.input_dim,
                tr->o.per_line ? tr->n_val_lines : tr->n_val, tr->o.per_line ? "sequences" : "symbols",
                (unsigned long long)per_epoch);

    host_catch_interrupts();

    progress pr;
    progress_init(&pr, tr->o.quiet, tr->o.print_every);
    const double start = train_now();
    const uint64_t first_step = tr->step;
    uint64_t checkpointed = UINT64_MAX; /* the step of the newest checkpoint */
    double window_start = start;
    uint64_t window_tokens = 0;
    double train_loss = NAN;
    for (;;) {
        double elapsed = tr->elapsed_before + (train_now() - start);
        if ((tr->o.max_steps && tr->step >= tr->o.max_steps) ||
            (tr->o.max_epochs && tr->epoch >= tr->o.max_epochs) ||
            (tr->o.time_budget > 0 && elapsed >= tr->o.time_budget))
            break;
        if (host_interrupted) {
            progress_end(&pr);
            if (write_checkpoint(tr, elapsed) != 0)
                goto done;
            fprintf(stderr, "rnnhost: interrupted at step %llu; checkpoint %s (continue with --resume %s)\n",
                    (unsigned long long)tr->step, tr->last_ckpt, tr->last_ckpt);
            rc = EXIT_INTERRUPTED;
            goto done;
        }
        step_result r;
        if (train_step(tr, &r, why, sizeof why) != 0) {
            progress_end(&pr);
            hostlog_error("step %llu: %s; stopping (lower --learning-rate or clip gradients)%s%s",
                          (unsigned long long)tr->step + 1, why, tr->last_ckpt[0] ? "; last good checkpoint " : "",
                          tr->last_ckpt);
            goto done;
        }
        train_loss = r.loss;
        window_tokens += r.symbols;
        if (tr->log)
            fprintf(tr->log,
                    "{\"schema\":1,\"type\":\"train\",\"step\":%llu,\"epoch\":%.4f,\"loss\":%.6f,\"nats_per_symbol\":%.6f,"
                    "\"grad_norm\":%.4f,\"lr\":%.6g}\n",
                    (unsigned long long)tr->step, tr->epoch + (double)tr->pos / (tr->o.per_line ? tr->n_lines : tr->seg),
                    r.loss, r.nats / (double)r.symbols, r.norm, (double)tr->opt.lr);
        const int last = (tr->o.max_steps && tr->step >= tr->o.max_steps) ||
                         (tr->o.max_epochs && tr->epoch >= tr->o.max_epochs);
        if (tr->o.eval_every && (tr->step % tr->o.eval_every == 0 || last)) {
            double per_symbol;
            tr->last_val = validate(tr, &per_symbol);
            if (tr->log && isfinite(tr->last_val))
                fprintf(tr->log, "{\"schema\":1,\"type\":\"val\",\"step\":%llu,\"loss\":%.6f,\"nats_per_symbol\":%.6f}\n",
                        (unsigned long long)tr->step, tr->last_val, per_symbol);
        }
        double now = train_now();
        elapsed = tr->elapsed_before + (now - start);
        if (now - window_start > 0.5 || tr->step % tr->o.print_every == 0) {
            progress_rate(&pr, window_tokens / (now - window_start));
            window_start = now, window_tokens = 0;
        }
        const double eta = train_eta(now - start, first_step, tr->step, total, tr->o.time_budget, elapsed);
        progress_update(&pr, tr->step, total, tr->epoch + (double)tr->pos / (tr->o.per_line ? tr->n_lines : tr->seg),
                        train_loss, tr->last_val, eta);
        if (tr->o.ckpt_every && tr->step % tr->o.ckpt_every == 0) {
            if (write_checkpoint(tr, elapsed) != 0)
                goto done;
            checkpointed = tr->step;
        }
        if (tr->log)
            fflush(tr->log);
    }
    progress_end(&pr);
    if (tr->o.eval_every && tr->step % tr->o.eval_every != 0) {
        double per_symbol;
        tr->last_val = validate(tr, &per_symbol);
        if (tr->log && isfinite(tr->last_val))
            fprintf(tr->log, "{\"schema\":1,\"type\":\"val\",\"step\":%llu,\"loss\":%.6f,\"nats_per_symbol\":%.6f}\n",
                    (unsigned long long)tr->step, tr->last_val, per_symbol);
    }
    if ((checkpointed != tr->step && write_checkpoint(tr, tr->elapsed_before + (train_now() - start)) != 0) ||
        write_model(tr, tr->o.out) != 0)
        goto done;
    if (!tr->o.quiet) {
        fprintf(stderr, "rnnhost: wrote %s after %llu steps (%.1f epochs, %.0f s)", tr->o.out,
                (unsigned long long)tr->step, tr->epoch + (double)tr->pos / (tr->o.per_line ? tr->n_lines : tr->seg),
                tr->elapsed_before + (train_now() - start));
        if (isfinite(tr->last_val))
            fprintf(stderr, "; validation loss %.4f", tr->last_val);
        fprintf(stderr, "\n");
    }
    rc = EXIT_OK;
done:
    rh_weights_close(from);
    vocab_free(&from_vocab);
    trainer_free(tr);
    free(tr);
    return rc;
}
