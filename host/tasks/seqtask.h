/* What the sequence tasks share (lm, midi-lm and pianoroll: a recurrent model read a step at a time,
 * trained by truncated BPTT): their options, their trainer, and the two ways they cut data into batches.
 *
 *   streams    the data is B contiguous streams read side by side, T steps a batch, the hidden state
 *              carried from one chunk to the next (char-rnn's scheme); the loss is averaged per predicted
 *              symbol. lm by default, midi-lm always.
 *   sequences  one example (a line of text, a piano roll) is one sequence from the reset state, in batches
 *              of B shuffled every epoch. lm --per-line (the loss summed over a line, averaged over the
 *              lines of a batch) and pianoroll (averaged over time steps).
 *
 * Everything that decides the next step (data position, carried state, sequence order) goes into
 * checkpoints, so --resume continues bit for bit. Private to host/tasks/.
 */
#ifndef RNNHOST_SEQTASK_H
#define RNNHOST_SEQTASK_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"
#include "lm.h"
#include "loop.h"
#include "musicdata.h"
#include "musicrange.h"
#include "task.h"

/* The options of the three tasks and classify: one struct, its sections shared by the tasks that take them. */
typedef struct seq_opts {
    const char *data, *val_data;
    uint32_t seq_len;
    double val_frac;
    uint32_t eval_streams, embed;
    int per_line;
    uint32_t transpose;     /* midi-lm: copies transposed 1..N semitones up and down */
    double stretch;         /* midi-lm: and copies this many times slower and faster (1: none) */
    const char *split, *val_split;
    int grid;               /* pianoroll from MIDI: 0 quarter, 1 eighth, 2 sixteenth notes */
    /* classify and tag (task_classify.c, task_tag.c), which share --data and --val-data */
    int input, pool;
    uint32_t channels, max_len, min_count;
    uint32_t spelling, word_dim; /* words: the spelling model's units (0: none), the word vectors' width */
    double word_dropout;         /* words: in training, the chance a word is read as the unknown word */
    int unidirectional;     /* tag and numeric classify, which read both ways unless told */
} seq_opts;

extern const seq_opts seq_opts_defaults;
extern const cli_section seq_data_section;   /* --data, --val-data: all three, and classify */
extern const cli_section seq_bptt_section;   /* --seq-length: all three */
extern const cli_section seq_token_section;  /* --val-frac, --eval-streams, --embed: lm, midi-lm */
extern const cli_section seq_lines_section;  /* --per-line: lm */
extern const cli_section seq_events_section; /* --transpose, --stretch: midi-lm */
extern const cli_section seq_roll_section;   /* --grid, --split, --val-split: pianoroll */

/* The options recorded in a model file, in the order files have always had them. */
#define SEQ_RECORD                                                                                            \
    "cell rnn-size num-layers embed seq-length batch-size per-line optimizer learning-rate lr-decay "         \
    "lr-decay-after grad-clip clip-value weight-decay val-frac eval-streams seed dropout recurrent-dropout"
#define SEQ_RNG_SALT 0x7261696e5f6c6dULL

typedef struct seq_trainer {
    lm m;                   /* the model, its spec, and (lm) its vocabulary */
    char cell[RH_MAX_NAME]; /* the core's id when it comes from a model file */
    int per_line;           /* sequences rather than streams */
    /* tokens: the ids of the training and validation data, in memory ... */
    int32_t *ids, *val_ids; /* val_ids points into ids when validation is the tail (own_val 0) */
    int own_val;
    size_t n, n_val;        /* symbols, or (pianoroll) training frames */
    size_t seg;             /* streams: symbols per stream */
    /* ... or on disk, read by streams as training goes (lm) */
    corpus *cor, *val_cor;  /* val_cor: a separate --val-data; otherwise validation is cor's tail */
    size_t val_first;       /* where the validation symbols start in their corpus */
    corpus_cursor *rows, *val_rows; /* one per training stream, one per validation stream */
    uint32_t n_rows, n_val_rows;
    int32_t *window;        /* (T+1) one stream's symbols of a step */
    /* sequences: spans of ids (lines) or of frames (piano rolls) */
    span *lines, *val_lines; /* val_lines points into lines when it is their tail (own_val_lines 0) */
    int own_val_lines;
    size_t n_lines, n_val_lines;
    uint32_t *order;        /* this epoch's order of the training sequences */
    int32_t newline;        /* lines: the id of '\n', which starts and ends every line */
    uint8_t *frames, *val_frames; /* piano rolls: (frames, ROLL_PITCHES) multi-hot */
    music_range range;      /* music: what the training data spans, kept in the model file (musicrange.h) */
    uint64_t data_hash;
    /* the carried state of streams (B,S), swapped after each step */
    float *state, *next_state;
    /* step buffers, sized once for the largest step */
    int32_t *tokens, *targets;
    float *x, *ftargets, *weights; /* piano rolls: (T,B,P), (T,B,P), (T*B) */
    uint32_t *lengths;
    float *y, *dy, *ws;
    uint32_t V, S;
} seq_trainer;

/* --data given, and options that need others (task_train.check). 0, or -1 after a usage line. */
int seq_check(train_opts *o, void *own, const cli_group *groups, size_t n);

/* The members of task_train the three tasks share. */
#define SEQ_TASK_TRAIN                                                                                        \
    .opts_size = sizeof(seq_opts), .opts_defaults = &seq_opts_defaults, .record = SEQ_RECORD, .figure = "loss", \
    .rate_unit = "sym/s", .rng_salt = SEQ_RNG_SALT, .state_size = sizeof(seq_trainer), .describe = seq_describe, \
    .has_validation = seq_has_validation, .record_data = seq_record_data, .save = seq_save,                     \
    .restore = seq_restore, .gather = seq_gather, .close = seq_close

/* The architecture of the model a training continues (from): given options must agree, the others are
 * taken. charlm: a token model whose core is the cell; otherwise the cell itself. 0, or -1 after one line. */
int seq_adopt_spec(seq_trainer *tr, train_ctx *c, const model_spec *spec, const char *from, int charlm);

/* Streams of tr->n symbols: at least one batch of them (-1 after one line when not), and their length. */
int seq_streams_fit(seq_trainer *tr, const train_ctx *c);

/* Streams over ids[0..n) (lm in memory, midi-lm): the validation tail (--val-frac) unless val_ids holds
 * --val-data, the stream length, and the hashes. 0, or -1 after one line. */
int seq_split_streams(seq_trainer *tr, train_ctx *c);

/* The model the spec says (from: its weights, else new ones from --seed), the step buffers, the first
 * sequence order, and the ctx's parameter table and epoch figures. EXIT_OK or an exit code after one line. */
int seq_start(seq_trainer *tr, train_ctx *c, const rh_weights *from, const char *from_path);

/* A step of token streams or token lines (softmax cross-entropy). */
int seq_token_step(void *st, train_ctx *c, step_result *r, char *why, size_t why_len);
/* The forward and backward of this rank's share of a batch, already in the buffers (tokens or frames):
 * B sequences or streams from the batch's first (its place in the carried state), its loss into r, and the
 * position moved on by the whole batch (whole sequences) or one chunk. 0, or -1 with why. */
int seq_backprop(seq_trainer *tr, train_ctx *c, uint32_t T, uint32_t first, uint32_t B, uint32_t whole,
                 step_result *r, char *why, size_t why_len);
/* task_train.gather: the carried state of every rank's streams, on every rank. */
void seq_gather(void *st, const train_ctx *c);
/* The token tasks' validation: streams through lm_nll, lines batch by batch. */
void seq_token_validate(void *st, train_ctx *c, val_result *v);

int seq_has_validation(void *st);
void seq_describe(void *st, const train_ctx *c, char *buf, size_t len);
void seq_record_data(void *st, const train_ctx *c, cJSON *record);
/* What every task over seq_opts records of its data: "data", "data_hash", count_key = count, "val_data"; the
 * files by their base names, since model files travel. */
void seq_record_files(cJSON *record, const seq_opts *so, uint64_t hash, const char *count_key, double count);
uint32_t seq_save(void *st, const train_ctx *c, rh_blob *blobs);
int seq_restore(void *st, train_ctx *c, const rh_weights *w, const char *path);
void seq_close(void *st);

/* The spec's keys, then key = value (encoding or vocabulary) when key is not NULL. */
int seq_meta(seq_trainer *tr, meta_list *ml, const char *key, const char *value);

/* One sequence order shuffled in place (Fisher-Yates with the run's generator). */
void seq_shuffle(uint32_t *order, size_t n, rh_rng *rng);

/* FNV-1a of ids as little-endian bytes, continuing from h (TRAIN_HASH_SEED to start). */
uint64_t seq_hash_ids(uint64_t h, const int32_t *ids, size_t n);

#endif /* RNNHOST_SEQTASK_H */
