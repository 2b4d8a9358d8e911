/* Scoring transcripts, and running many files through a speech model on several threads. */
#ifndef RNNHOST_ASREVAL_H
#define RNNHOST_ASREVAL_H

#include <stddef.h>
#include <stdint.h>

#include "asrdecode.h"

/* Levenshtein distance between label sequences a (n) and b (m): substitutions, insertions, deletions. */
uint64_t asr_edit_distance(const int32_t *a, uint32_t n, const int32_t *b, uint32_t m);

/* Word edits between hyp and ref (space-separated words) and *ref_words, the reference's word count. */
uint64_t asr_word_edits(const char *hyp, const char *ref, uint64_t *ref_words);

/* Character edits (UTF-8 characters, spaces included) and *ref_chars. */
uint64_t asr_char_edits(const char *hyp, const char *ref, uint64_t *ref_chars);

/* Transcribes paths[0..n) with `jobs` threads (one session each; BLAS is set to one thread while they
 * run). results (n) is filled in input order whatever the scheduling, so output does not depend on -j.
 * done(ctx, i) is called as file i finishes (from the worker, under a lock; may be NULL) for progress and
 * for writing outputs as they come. stop, when not NULL, is polled between files: when it becomes non-zero
 * no new file starts. Returns 0, or -1 with err when a session cannot be made. */
int asr_run_files(tx_result *results, const char *const *paths, size_t n, const asr_model *m,
                  const asr_decode_opts *o, int jobs, void (*done)(void *ctx, size_t i), void *ctx,
                  volatile int *stop, char *err, size_t err_len);

#endif /* RNNHOST_ASREVAL_H */
