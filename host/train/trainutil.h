/* What the trainers (cmd_train.c for token and piano-roll models, train_ctc.c for speech) share: the
 * clock, the Ctrl-C flag, the update after backward, checkpoint names, the saved random generator and
 * the data hash that ties a checkpoint to its data. */
#ifndef RNNHOST_TRAINUTIL_H
#define RNNHOST_TRAINUTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "rnnhost/rnnhost.h"


/* Monotonic seconds. */
double train_now(void);

/* dir exists as a folder, or is made (one level). 0, or -1 with errno. */
int train_ensure_dir(const char *dir);

/* FNV-1a over n bytes, continuing from h (start with TRAIN_HASH_SEED). */
#define TRAIN_HASH_SEED 1469598103934665603ULL
uint64_t train_hash(uint64_t h, const void *p, size_t n);

/* After backward: the gradient norm into *norm (before clipping), clipping by value (clip_value > 0) and
 * by global norm (grad_clip > 0), one optimizer step at rate lr, and the weights checked finite. 0, or -1
 * with the reason in why (a non-finite gradient or weight). */
int train_update(rh_optimizer *opt, float *params, float *grads, uint64_t n, double clip_value, double grad_clip,
                 double lr, double *norm, char *why, size_t why_len);

/* DIR/TASK_stepNNNNNNN[_valX.XXXX].safetensors (val NAN: without). */
void train_checkpoint_path(char *out, size_t len, const char *dir, const char *task, uint64_t step, double val);

/* Removes DIR/TASK_step*.safetensors.tmp.XXXXXX, the temporary files of checkpoint writes a killed run
 * left behind (a finished write renames its file, a failed one removes it), and likewise out's own
 * (out may be NULL). They are never read as checkpoints; this only keeps them from piling up. Two
 * trainings sharing one checkpoint folder and task would remove each other's: they must not. Returns how
 * many were removed. */
size_t train_remove_stale_temps(const char *dir, const char *task, const char *out);

/* The --log-json file: truncated, or for a resume appended to after cutting off a last line that a killed
 * run left half written, so the file stays one JSON object per line. '-', a device or a FIFO (atomicfile.h)
 * is written as a stream. NULL with errno. */
FILE *train_open_log(const char *path, int append);

/* -o names a file the trainer can write and rewrite: standard output, a device or a FIFO is refused with
 * a usage line (the caller returns EXIT_USAGE). 0 or -1. */
int train_check_output(const char *out);

/* The "train.rng" array of a checkpoint into rng. 0, or -1 after printing why. */
int train_read_rng(rh_rng *rng, const rh_weights *w, const char *path);

/* Seconds left: by the pace since first_step toward total (0: unknown), or the time budget's remainder
 * when that comes first (budget 0: none). NAN when neither is known yet. */
double train_eta(double since_start, uint64_t first_step, uint64_t step, uint64_t total, double budget,
                 double elapsed);

#endif /* RNNHOST_TRAINUTIL_H */
