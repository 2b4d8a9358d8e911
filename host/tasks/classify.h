/* What the classify and tag tasks share, in training, eval and their commands: the model (one kit cell
 * stack per direction whose output is one logit per label at every step, and a head host-side), its model
 * file, its data (TSV lines label<TAB>sequence, or CoNLL token<TAB>tag lines with a blank line between
 * sentences) and its trainer. Private to host/tasks/.
 *
 * The head: the stack's projection is linear, so pooling its outputs pools the logits.
 *   last   the logits at each sequence's last step (for the backward direction: after reading the whole
 *          sequence backwards, at its first element)
 *   mean   the mean of the logits over the steps, which is W mean(h) + b
 *   max    each label's largest logit over the steps (max-pooled logits)
 *   each   (tag) no pooling: the logits of every step, the backward direction's of the same element added
 * With two directions the pooled logits of each are added. The gradient of the pooled logits goes back to
 * the steps the pooling took them from.
 */
#ifndef RNNHOST_CLASSIFY_H
#define RNNHOST_CLASSIFY_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "hostmodel.h"
#include "loader.h"
#include "loop.h"
#include "modelfile.h"
#include "rnnhost/rnnhost.h"
#include "task.h"
#include "text.h"

#define CLS_TASK "classify"
#define TAG_TASK "tag"

enum { CLS_POOL_LAST, CLS_POOL_MEAN, CLS_POOL_MAX, CLS_POOL_EACH };
enum { CLS_IN_CHARS, CLS_IN_NUMERIC, CLS_IN_WORDS };

extern const char *const cls_pool_names[];  /* "last", "mean", "max", "each", NULL */
extern const char *const cls_input_names[]; /* "chars", "numeric", "words", NULL */

/* The longest sequence (in elements: characters, or time steps of numeric rows) --max-length allows. */
#define CLS_MAX_LENGTH 100000u
/* The most values a numeric step may have. */
#define CLS_MAX_CHANNELS 4096u
/* Words with a spelling model: the most characters of a word it reads (a longer word: its first and its
 * last CLS_SPELL_MAX / 2), and the most units a direction of it may have. */
#define CLS_SPELL_MAX 20u
#define CLS_MAX_SPELLING 1024u
/* The widest word vector (--word-dim). */
#define CLS_MAX_WORD_DIM 4096u

typedef struct cls_model {
    model_spec spec;          /* the stack of each direction: output_dim = the number of labels */
    host_model dir[2];        /* dir[1]: over reversed time, when bidirectional */
    int tagger;               /* a tag model: a label (tag) for every element, pool each, input words */
    int bidirectional, pool, input;
    uint32_t n_labels;
    char **labels;            /* (n_labels) labels or tags as the data spells them, in order of first appearance */
    vocab voc;                /* chars: the code points, ascending; a symbol's id is its index */
    char **words;             /* words (n_words): ascending by strcmp; word i's id is i + 1, and id 0 stands */
    uint32_t n_words;         /* for every word outside them (the unknown word) */
    uint32_t min_count;       /* a new model's words: the fewest times a word is seen to join the vocabulary */
    uint32_t channels;        /* numeric: values per step */
    float *mean, *std;        /* numeric (channels): the training set's statistics, (v - mean) / std the input */
    uint32_t max_len;         /* the longest sequence the model takes */
    /* words with vectors (word_dim > 0): the stacks read dense rows, each word's vector (word_dim wide,
     * from the table "words.embed"; id 0 the unknown word's), and with a spelling model (--spelling) its
     * spelling vector beside it: the word's characters (ids: 1 + the index of the code point in spell_voc,
     * 0 for any other) through a character model, a bidirectional classifier over chars pooled last whose
     * 2 x spelling outputs are that vector, so a word the training data lacks still carries its spelling.
     * word_dim 0 (files made before word vectors): the stacks read the word ids themselves. */
    uint32_t word_dim;
    uint32_t spelling;        /* the character model's units per direction; 0: no spelling model */
    vocab spell_voc;
    struct cls_model *spell;  /* its parameters live in this model's buffer, at off_spell */
    /* Every parameter as one buffer: dir 0, dir 1, the word vectors (off_embed), the character model
     * (off_spell); and their table, the stacks' tensors named "fw.x" and "bw.x" when bidirectional, as the
     * directions' own names otherwise, then "words.embed" and the character model's as "spell.fw.x". */
    float *params, *grads, *pdir[2], *gdir[2];
    uint64_t np[2], P, off_embed, off_spell;
    rh_tensor *tensors;
    char (*names)[RH_MAX_NAME + 8];
    uint32_t num_tensors;
} cls_model;

static inline int cls_dirs(const cls_model *m)
{
    return m->bidirectional ? 2 : 1;
}

/* 1 when the model reads symbol ids (chars, words), 0 when numeric rows. */
static inline int cls_tokens(const cls_model *m)
{
    return m->input != CLS_IN_NUMERIC;
}

/* 1 when the stacks read word vectors (words with word_dim > 0). */
static inline int cls_vectors(const cls_model *m)
{
    return m->input == CLS_IN_WORDS && m->word_dim;
}

/* The width of a step's dense row: numeric channels, or a spelled word's vectors; 0 when the stacks read ids. */
static inline uint32_t cls_dense(const cls_model *m)
{
    return m->input == CLS_IN_NUMERIC ? m->channels : cls_vectors(m) ? m->word_dim + 2 * m->spelling : 0;
}

/* Creates the stacks m->spec describes (m's head fields set) with the flat buffers and the table; the
 * parameters are not initialised. EXIT_OK, or an exit code with why. */
int cls_create(cls_model *m, plugin_registry *r, char *why, size_t why_len);

/* Opens a classify model file: its spec and head from the metadata, the stacks, the weights. EXIT_OK, or
 * EXIT_LOAD with why. */
int cls_open(cls_model *m, plugin_registry *r, const char *path, char *why, size_t why_len);

/* cls_open for a command: says why in one line when it fails. EXIT_OK, or EXIT_LOAD. */
int cls_load(cls_model *m, plugin_registry *r, const char *path);

/* The model file's metadata: the spec, and rnnhost.classifier (the head, labels, vocabulary, statistics). */
int cls_meta(meta_list *ml, const cls_model *m);

void cls_close(cls_model *m);

/* export of both tasks' model files: every direction's tensors, the metadata kept. */
extern const task_export cls_export;

/* A label's index, or -1. */
int32_t cls_label(const cls_model *m, const char *label);

/* The index of the largest of L logits. */
uint32_t cls_top(const float *z, uint32_t L);

/* ---- batches ---------------------------------------------------------------------------------------------- */

/* Buffers of batches of up to B sequences of up to T steps, sized once. */
typedef struct cls_batch {
    uint32_t T, B, Tmax, Bmax;
    uint32_t *lengths;        /* (B) */
    int32_t *tokens[2];       /* chars, words: (T,B), [1] each sequence reversed */
    float *x[2];              /* numeric: (T,B,C), [1] reversed */
    float *y[2], *dy[2], *ws[2]; /* each direction's logits (T,B,L), their gradient, its workspace */
    uint32_t *arg[2];         /* max: (B,L) the step each pooled logit came from */
    float *z, *dz;            /* (B,L) the pooled logits and their gradient; each: (T,B,L) */
    int32_t *targets;         /* (B); each: (T,B), -1 past a sequence's end */
    /* word vectors: x[d] (T,B,D) the stacks' rows, made in cls_forward, and dx[d] their gradient; spelling:
     * sp the batch's words, a row of sp each (the element at row r of (T,B) is sp's sequence slot[r]) */
    float *dx[2];
    int32_t *slot;
    struct cls_batch *sp;
} cls_batch;

int cls_batch_alloc(cls_batch *b, const cls_model *m, uint32_t T, uint32_t B);
void cls_batch_free(cls_batch *b);

/* After the forward direction's inputs and the lengths are in b (T, B set): the backward direction's. */
void cls_batch_reverse(cls_batch *b, const cls_model *m);

/* The pooled logits b->z of the batch over params (the layout of m->params; NULL: m's own), with dropout
 * as masks says (NULL: none). */
rh_status cls_forward(const cls_model *m, cls_batch *b, const float *params, const rh_dropout_masks *masks);
/* Adds the gradients of the pooled logits' gradient b->dz into grads (m->P), after cls_forward of the same
 * batch, params and masks. */
rh_status cls_backward(const cls_model *m, cls_batch *b, float *grads, const float *params,
                       const rh_dropout_masks *masks);

/* ---- data ------------------------------------------------------------------------------------------------ */

/* Sequences with their labels: elements of sequence i are [start[i], start[i+1]) of tokens (chars) or of
 * the rows of values (numeric, channels each, standardised when read against a model with statistics). */
typedef struct cls_set {
    size_t n;
    int32_t *label;           /* (n) -1 when read without labels, and for tagged sentences */
    int32_t *tags;            /* tagged sentences: each element's tag, beside tokens */
    size_t *start;            /* (n+1) */
    int32_t *tokens;          /* chars, words */
    float *values;
    size_t *line;             /* (n) each sequence's line in its file, for messages */
    /* spelling: each token's word as characters, sequence spell_of[i] of the set's distinct words, whose
     * character ids are spell_chars[spell_start[k] .. spell_start[k+1]) */
    int32_t *spell_of, *spell_chars;
    size_t *spell_start;
    uint64_t hash;            /* of the labels and the elements as read */
} cls_set;

/* How a file is read against m. */
enum {
    CLS_READ_GROW = 1,   /* new labels and symbols join m (a new model's training data) */
    CLS_READ_LABELS = 2, /* lines are label<TAB>sequence; without it a line is a sequence */
    CLS_READ_CONLL = 4,  /* lines are token<TAB>tag (words), a blank line between sentences */
};

/* Reads path ("-": standard input) against m: numeric rows of m->channels values a step (0: the channel count
 * is the greatest common divisor of the training rows' lengths, and set in m). Every bad line is one
 * message naming path and its line, and -1. */
int cls_read(cls_set *s, const char *path, cls_model *m, int how);

/* The training set's statistics into m (numeric), and the set standardised with them. */
void cls_standardise_stats(cls_model *m, cls_set *s);
/* Standardises s with m's statistics. */
void cls_standardise(const cls_model *m, cls_set *s);

/* One sequence from line ln of input, got bytes as getline read them (its newline and CR are dropped, and
 * *len is what is left), into b, a batch of one (cls_batch_alloc with m->max_len and 1): tokens,
 * standardised values, spellings, both directions. Its length, or -1 after one line naming input:ln. */
long cls_parse_line(const cls_model *m, const char *line, size_t got, size_t *len, cls_batch *b, const char *input,
                    size_t ln);

void cls_set_free(cls_set *s);

/* Fills b with the sequences which[0..B) of s (which NULL: 0..B-1) and their labels; its T. */
void cls_batch_fill(cls_batch *b, const cls_model *m, const cls_set *s, const uint32_t *which, uint32_t B);

/* White space between words: ' ', tab, CR, VT, FF. */
int cls_is_space(char c);

/* The next word of s[0..len) from *at (which moves past it): its start, and its length in *wlen (0: none
 * left). */
const char *cls_next_word(const char *s, size_t len, size_t *at, size_t *wlen);

/* After reading input (FILE f, named input) line by line and printing a result for each: EXIT_INTERRUPTED
 * after Ctrl-C, EXIT_FAIL after one line when the input could not be read or the results written, else
 * EXIT_OK. classify and tag end this way. */
/* The input classify and tag read line by line: standard input for "-", else the file; NULL after one line
 * saying why it cannot be opened. */
FILE *cls_open_input(const char *input);

int cls_lines_end(FILE *f, const char *input);

/* The longest sequence of s. */
uint32_t cls_longest(const cls_set *s);

/* What eval of a classifier or of a tagger counts and reports, over its counts (ctx). */
typedef struct cls_eval_kind {
    const char *noun;        /* "a classifier": "eval: --data FILE is required for a classifier" */
    int how;                 /* how --data is read (cls_read) */
    /* Makes room in ctx for counting m's batches over s: 0, or -1 when memory ran out. */
    int (*begin)(void *ctx, const cls_model *m, const cls_set *s);
    /* Counts a batch of n sequences, after the forward pass. */
    void (*count)(void *ctx, const cls_batch *b, uint32_t n);
    /* The report on standard output: text, or (json) one object. */
    void (*report)(void *ctx, const cls_model *m, const cls_set *s, const char *path, const char *data, int json);
} cls_eval_kind;

/* eval of the model at path over data (NULL: not given, a usage error): its batches counted into ctx, then
 * the report. The exit code, everything said; the caller frees what begin put in ctx. */
int cls_evaluate(const cls_eval_kind *k, void *ctx, const char *path, plugin_registry *r, const char *data,
                 int json);

/* ---- the trainer (clstrain.c) --------------------------------------------------------------------------- */

typedef struct cls_trainer {
    cls_model m;            /* a tag task's open sets tagger, input, pool and directions before cls_train_open */
    cls_set train, val;
    cls_batch b;
    uint32_t *order;        /* this epoch's order of the training sequences */
    uint32_t *idx;          /* (batch) validation's sequences of a batch */
    uint64_t n_batches;
} cls_trainer;

/* The options both tasks take (--unidirectional, --min-count, --max-length, the words' vectors and spelling),
 * over seq_opts (seqtask.h). */
extern const cli_section cls_shared_section;

/* The checks of the options both tasks take (--spelling, --word-dim, --unidirectional), for a task whose
 * input is (words) or is not words: 0, or -1 after a usage line. */
struct seq_opts;
int cls_check_shared(const train_opts *o, const struct seq_opts *so, int words);

/* The shared options' defaults for both tasks: a smaller model and batch, validation every epoch. */
void cls_defaults(train_opts *o);

int cls_train_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path);
void cls_describe(void *st, const train_ctx *c, char *buf, size_t len);
int cls_step(void *st, train_ctx *c, step_result *r, char *why, size_t why_len);
int cls_has_validation(void *st);
void cls_validate(void *st, train_ctx *c, val_result *v);
int cls_train_meta(void *st, const train_ctx *c, meta_list *ml);
void cls_record_data(void *st, const train_ctx *c, cJSON *record);
uint32_t cls_save(void *st, const train_ctx *c, rh_blob *blobs);
int cls_restore(void *st, train_ctx *c, const rh_weights *w, const char *path);
void cls_train_close(void *st);

/* The members of task_train both tasks share. */
#define CLS_TASK_TRAIN                                                                                           \
    .opts_size = sizeof(seq_opts), .opts_defaults = &seq_opts_defaults, .defaults = cls_defaults,                \
    .record = "batch-size optimizer learning-rate lr-decay lr-decay-after grad-clip clip-value weight-decay seed " \
              "dropout recurrent-dropout word-dropout",                                                                       \
    .strict = 1, .figure = "error_rate", .validate_epochs = 1, .state_size = sizeof(cls_trainer),                \
    .describe = cls_describe, .step = cls_step, .has_validation = cls_has_validation, .validate = cls_validate,  \
    .meta = cls_train_meta, .record_data = cls_record_data, .save = cls_save, .restore = cls_restore,            \
    .close = cls_train_close

#endif /* RNNHOST_CLASSIFY_H */
