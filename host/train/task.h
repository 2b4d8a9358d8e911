/* A task is a module: what one shape of problem (characters of text, MIDI events, piano rolls, speech)
 * brings to rnnhost's one training loop (loop.h) and to the commands that use its models. The loop owns
 * what every task shares (stopping, Ctrl-C, the NaN stop, checkpoints and --resume, the log, progress,
 * the learning-rate schedule, clipping, the best-model policy); a task brings its data, its batches and
 * loss, its validation figure, its metadata in the model file and its state in a checkpoint, and what
 * eval, generate, sample, score and export need from its models.
 *
 * The registry (host/tasks/registry.h) maps the name a model file stores in rnnhost.task to the module;
 * commands ask it, never compare names. A new task is a new module and one line in the registry.
 *
 * Every member below runs on the main thread. A member a task does not offer is NULL, and the commands
 * that need it refuse the task's models by name ("x is a 'lm' model; eval needs a 'pianoroll' or
 * 'midi-lm' model"). Failures are said in one line (hostlog_error) by the member, or returned in why
 * where a member has one; return codes are the process's exit codes (hostlog.h) where a member says so.
 */
#ifndef RNNHOST_TASK_H
#define RNNHOST_TASK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cliopts.h"
#include "eventgen.h"
#include "loader.h"
#include "modelfile.h"
#include "optgroups.h"
#include "rnnhost/rnnhost.h"

typedef struct train_opts train_opts; /* loop.h */

/* What the loop lends a task during a training. */
typedef struct train_ctx {
    /* The shared options and the task's own (its struct): final, defaults and a checkpoint's record
     * applied, but for what the task takes from a model file it continues (its shape). */
    train_opts *o;
    void *own;
    const cli_group *groups; /* the table they were parsed by: cli_was_given says what the user gave */
    size_t n_groups;
    plugin_registry *reg;
    rh_rng *rng;             /* for shuffling and augmentation; the loop checkpoints it */
    int resuming;            /* open is followed by restore */
    /* Where training stands in the data: the task moves both in step; the loop checkpoints them. */
    uint64_t epoch;
    size_t pos;              /* 0 .. epoch_units within an epoch */
    /* Set by open. */
    float *params, *grads;   /* (num_params) the flat buffers the optimizer updates; the task owns them */
    uint64_t num_params;
    const rh_tensor *tensors; /* (num_tensors) the parameters over params, named as model files hold them */
    uint32_t num_tensors;
    uint64_t steps_per_epoch;
    size_t epoch_units;
    uint64_t data_hash;      /* ties a checkpoint to its training data */
    const char *data_name;   /* the training data as the user named it, for messages */
    /* The ranks of a run on several processes (par.h; rank 0 of 1 otherwise). Every rank holds the whole
     * model and the whole data position; a step computes only this rank's share of the batch (train_share),
     * and the loop sums the shares' gradients, so every rank takes the same update. Anything a task draws
     * from rng in a step it draws for the whole batch, on every rank. */
    int rank, ranks;
} train_ctx;

/* One step's figures. */
typedef struct step_result {
    double loss;             /* the objective, as the task defines it */
    double nats_per_symbol;  /* NAN when the task has no such figure */
    uint64_t seen;           /* units consumed (symbols, frames), summed into the checkpoint */
    double rate;             /* units for the progress rate (task_train.rate_unit) */
    /* What loss and gradients are averaged over on this rank (predicted symbols, sequences, utterances):
     * the loop weighs the ranks' shares by it. 0 for an empty share (no gradient). */
    double weight;
    double norm;             /* set by the loop: the gradient norm before clipping */
} step_result;

/* A validation. */
typedef struct val_result {
    double figure;           /* what decides the best model, lower is better; NAN: none */
    double loss;             /* logged beside it when figure is not the loss; NAN: none */
    double nats_per_symbol;  /* NAN: none */
    double accuracy;         /* the share of examples labelled right (classifiers); NAN: none */
} val_result;

typedef struct task_train {
    const char *about;       /* one line for train --help: "characters of UTF-8 text" */
    const char *usage;       /* its arguments in train's usage line: "--data FILE|DIR|-" */
    /* Its options: sections over its own struct (opts_size bytes, defaults at opts_defaults); tasks that
     * share a struct share the defaults pointer, and a section shared by several tasks is listed by each. */
    const cli_section *const *sections; /* NULL-terminated */
    size_t opts_size;
    const void *opts_defaults;
    /* Defaults of its own for the shared options (NULL: the common ones); its options then have a --help
     * page of their own, 'rnnhost train --task NAME --help'. */
    void (*defaults)(train_opts *o);
    /* The options recorded in the model file's training record, in order, by long name; with --resume the
     * recorded values of those the user did not give are taken (and the OPT_TRAIN ones given must agree). */
    const char *record;
    /* Fine-tuning, a training that starts from a model's weights (--init-from): defaults of its own for the
     * shared options the user did not give, applied over those of defaults (NULL: a new model's). Its --help
     * page says them. */
    void (*finetune)(train_opts *o);
    /* 1: an OPT_ARCH option given with --resume or --init-from, or an OPT_TRAIN one with --resume, is a
     * usage error (the file decides); 0: it must agree with the file (exit 1 when it does not). */
    int strict;
    const char *figure;      /* the validation figure's name in the log: "loss", "error_rate" */
    const char *rate_unit;   /* of step_result.rate per second in the progress line: "sym/s" */
    const char *data_differs; /* why a checkpoint of other data is refused: "the training text differs" */
    uint64_t rng_salt;       /* the loop's generator is seeded with --seed ^ this */
    int validate_epochs;     /* --eval-every 0 validates at every epoch's end (else it means never) */
    size_t state_size;       /* of the task's trainer, zeroed by the loop */

    /* After parsing: combinations of options that do not go together. 0, or -1 after a usage line. */
    int (*check)(train_opts *o, void *own, const cli_group *groups, size_t n);
    /* Reads the data and builds or loads the model (from: the --resume or --init-from file, already
     * checked to be of this task, else NULL for new weights); fills the ctx members marked "set by open".
     * EXIT_OK, or an exit code after one line. */
    int (*open)(void *st, train_ctx *c, const rh_weights *from, const char *from_path);
    /* The line saying what trains on what, after "rnnhost: training ". */
    void (*describe)(void *st, const train_ctx *c, char *buf, size_t len);
    /* One batch: forward, loss, gradients into c->grads (zeroed here), and the data position moved on.
     * 0, or -1 with why (a model failure, a non-finite loss, data that cannot be read). */
    int (*step)(void *st, train_ctx *c, step_result *r, char *why, size_t why_len);
    /* 1 when there is validation data. */
    int (*has_validation)(void *st);
    /* The validation figures with the current weights (figure NAN when they cannot be had). */
    void (*validate)(void *st, train_ctx *c, val_result *v);
    /* The model file's metadata: the spec and the task's own keys (vocabulary, front-end, ...). */
    int (*meta)(void *st, const train_ctx *c, meta_list *ml);
    /* The training record's description of the data ("data", "data_hash", ...), before the options. */
    void (*record_data)(void *st, const train_ctx *c, cJSON *record);
    /* Its state in a checkpoint: up to 2 blobs (train.order, train.state, ...), pointing into its memory. */
    uint32_t (*save)(void *st, const train_ctx *c, rh_blob *blobs);
    /* Its state from a checkpoint. 0, or -1 after one line. The loop then checks c->pos against epoch_units;
     * a task whose position needs more of its data checks that here. */
    int (*restore)(void *st, train_ctx *c, const rh_weights *w, const char *path);
    /* On several ranks, before save: every rank's share of the task's state brought to every rank (the
     * carried state of the streams each rank steps). Called on every rank at once. NULL: nothing is a share. */
    void (*gather)(void *st, const train_ctx *c);
    void (*close)(void *st);
} task_train;

/* ---- what other commands need ------------------------------------------------------------------------- */

/* eval: a figure of a model on test data. Tasks that take the same options share one section. */
typedef struct task_eval {
    const char *usage;       /* its arguments in eval's usage line, and for what: "--manifest FILE" */
    const char *about;       /* "speech models" */
    const cli_section *section;
    size_t opts_size;
    const void *opts_defaults;
    /* Evaluates the model file at path (its task checked) with the options; json: one JSON object on
     * stdout instead of text. Returns the exit code. */
    int (*run)(const char *path, plugin_registry *r, const void *opts, int json);
} task_eval;

/* sample: text from a language model. */
typedef struct sample_args {
    uint64_t length, num;
    const char *prime, *out;
    int stop_at_newline;
    opt_sampling sampling;
} sample_args;

/* score: how well a model predicts a text. */
typedef struct score_args {
    const char *text;        /* a file, or "-" for standard input */
    uint32_t streams, seq;
    int json;
} score_args;

/* classify: the label of each sequence of a text, one a line; tag: the tag of each word of a text, one
 * sentence a line. */
typedef struct classify_args {
    const char *input;       /* a file, or "-" for standard input */
    int json;                /* classify: every label's probability; tag: a sentence's tags; one JSON object a line */
    int stream;              /* classify: the top label's probability after every element, through the model's step */
} classify_args;

/* export: a model file without training state. */
typedef struct export_weights {
    const rh_tensor *tensors; /* (num_tensors) over params */
    uint32_t num_tensors;
    const float *params;
    uint64_t num_params;
    void *priv;               /* the task's: task_export.priv_size bytes, zeroed, from before open to after close */
} export_weights;

typedef struct task_export {
    const cli_section *section; /* options only its models take (NULL: none) */
    size_t opts_size;
    const void *opts_defaults;
    size_t priv_size;         /* of the task's state at x->priv */
    /* The model file at path as tensors over one buffer. EXIT_OK, or EXIT_LOAD or EXIT_FAIL with why (and
     * nothing left to close). */
    int (*open)(export_weights *x, const char *path, plugin_registry *r, char *why, size_t why_len);
    /* With a section (called with its options; NULL without one): a metadata value as the export writes
     * it: value itself, or a replacement (*owned set to free it afterwards), or NULL when memory ran out. */
    const char *(*meta)(const export_weights *x, const void *opts, const char *key, const char *value,
                        char **owned);
    /* With a section (likewise): what the "wrote" line says after the parameter count: ", padding 100 ms". */
    void (*describe)(const export_weights *x, const void *opts, char *buf, size_t len);
    /* Frees what open made (not x->priv itself). */
    void (*close)(export_weights *x);
} task_export;

/* generate: music from a model, through eventgen.h's generators. */
typedef struct task_generate {
    music_gen_kind kind;
    /* Opens the model file at path as a generator. EXIT_OK, or EXIT_LOAD / EXIT_FAIL with why. */
    int (*open)(music_gen **g, const char *path, plugin_registry *r, const opt_sampling *s, char *why,
                size_t why_len);
} task_generate;

typedef struct task_ops {
    const char *name;        /* as model files store it in rnnhost.task */
    const char *noun;        /* what its models are, for messages and lists: "a character language model" */
    const task_train *train;
    const task_eval *eval;
    const task_generate *generate;
    /* sample and score: EXIT_* codes, everything said. */
    int (*sample)(const char *path, plugin_registry *r, const sample_args *a);
    int (*score)(const char *path, plugin_registry *r, const score_args *a);
    const task_export *export;
    /* classify and tag: EXIT_* codes, everything said. */
    int (*classify)(const char *path, plugin_registry *r, const classify_args *a);
    int (*tag)(const char *path, plugin_registry *r, const classify_args *a);
} task_ops;

#endif /* RNNHOST_TASK_H */
