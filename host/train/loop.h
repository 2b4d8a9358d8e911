/* rnnhost's one training loop, for every task (task.h): next batch, forward, loss, backward (the task's
 * step), then what every task shares, here once: the learning-rate schedule, clipping by value and by
 * norm and the optimizer step (trainutil.h), the NaN stop, validation and the best-model policy,
 * checkpoints and bit-exact --resume, Ctrl-C, the JSON log, progress and the stop conditions.
 *
 * Policies, the same for every task:
 *   - The rate is --learning-rate for the first --lr-decay-after epochs, then multiplied by --lr-decay at
 *     the start of every epoch after them: lr * decay^(epoch - after + 1) from epoch `after` (counted
 *     from 0) on. --lr-decay-after 0 decays from the first epoch.
 *   - Validation runs every --eval-every steps, at the last step, and at the end when a time budget stops
 *     the training between validations; a task that validates by epochs (ctc) takes --eval-every 0 as
 *     every epoch's end, the others as never.
 *   - -o is the model of the best validation figure (lower is better), written whenever validation
 *     improves on it, whatever ends the training; without validation, the weights at the end. A resumed run
 *     that finds nothing better keeps the file the run before it wrote.
 *   - --patience N ends the training, in one line and with exit 0 as the other limits, once N validations
 *     in a row have not bettered the best figure. The count (and the best figure's step) is checkpointed,
 *     so a resumed run stops at the step the uninterrupted one would; it needs validation.
 *   - A checkpoint is written every --checkpoint-every steps, at the end, and on Ctrl-C (then exit 130).
 *     It holds the weights, the optimizer's moments, the random generator, the position in the data and
 *     the task's own state, so --resume continues bit for bit; it refuses a checkpoint of other data.
 *   - A NaN or infinite loss, gradient or weight stops with exit 1, naming the step.
 *   - Under mpirun (par.h), the ranks split every batch (train_share), sum their gradients with one
 *     all-reduce of the flat buffer before clipping and take the same step; rank 0 alone writes checkpoints,
 *     -o, the log and progress. Ranks agree on every stop (Ctrl-C, time budget, a failure) at a step's end
 *     (--patience needs no vote: every rank has the same validation figure, so the same count), and compare
 *     a hash of their weights at every validation and checkpoint.
 */
#ifndef RNNHOST_LOOP_H
#define RNNHOST_LOOP_H

#include <stdint.h>

#include "cliopts.h"
#include "optgroups.h"
#include "task.h"

/* Reporting and files. */
typedef struct train_report {
    uint64_t eval_every;  /* 0: never, or every epoch (task_train.validate_epochs) */
    uint64_t print_every; /* 0 or 1: every step */
    uint64_t ckpt_every;  /* 0: only at the end and on Ctrl-C */
    const char *log_json, *ckpt_dir, *resume, *out;
    int quiet;
} train_report;

struct train_opts {
    const char *task;     /* the task's name */
    opt_model model;
    opt_optim optim;
    opt_stop stop;
    train_report report;
    opt_plugin plugin;
};

extern const train_report train_report_defaults;
extern const cli_section train_report_section;

/* The shared options' defaults for task t: the groups' own, then the task's (task_train.defaults), and -o
 * named after the task (out names a buffer of 64 bytes that must outlive o). */
void train_defaults(train_opts *o, const task_ops *t, char *out);

/* Checks that do not depend on a task: --resume against --init-from, -o a file, and with a strict task,
 * options the model or checkpoint fixes. Also settles the defaults that depend on others (--max-epochs,
 * --checkpoint-every, and with --init-from the task's fine-tuning ones: task_train.finetune). 0, or -1 after a
 * usage line. */
int train_check(train_opts *o, const task_ops *t, const cli_group *groups, size_t n);

/* Trains task t with options o (final but for what --resume takes from the checkpoint), own (the task's
 * options struct) and the table they were parsed by (groups: which options were given, how each is
 * recorded). Returns the exit code. */
int train_run(const task_ops *t, train_opts *o, void *own, const cli_group *groups, size_t n);

/* This rank's share of n items of a batch (streams, sequences, utterances): [*first, *first + *count). */
void train_share(const train_ctx *c, uint32_t n, uint32_t *first, uint32_t *count);

#endif /* RNNHOST_LOOP_H */
