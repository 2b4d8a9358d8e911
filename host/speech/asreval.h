/* Running many files through a speech model on several threads. */
#ifndef RNNHOST_ASREVAL_H
#define RNNHOST_ASREVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "asrdecode.h"

/* Transcribes paths[0..n) with `jobs` threads (one session each; BLAS is set to one thread while they
 * run). results (n) is filled in input order whatever the scheduling, so output does not depend on -j.
 * done(ctx, i) is called as file i finishes (from the worker, under a lock; may be NULL) for progress and
 * for writing outputs as they come. stop, when not NULL, is polled between files: when it becomes non-zero
 * no new file starts. Returns 0, or -1 with err when a session cannot be made. */
int asr_run_files(tx_result *results, const char *const *paths, size_t n, const asr_model *m,
                  const asr_decode_opts *o, int jobs, void (*done)(void *ctx, size_t i), void *ctx,
                  volatile int *stop, char *err, size_t err_len);

#endif /* RNNHOST_ASREVAL_H */
