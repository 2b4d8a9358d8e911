/* Language models as the host uses them: a model file of task "lm" (a token model whose outputs are
 * logits over its vocabulary) plus that vocabulary, and the one way rnnhost measures such a model on a
 * text, shared by `train` (validation loss) and `score`, so the two always agree. */
#ifndef RNNHOST_LM_H
#define RNNHOST_LM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"
#include "modelfile.h"
#include "text.h"

/* The task of language models, as model files name it. */
#define LM_TASK "lm"

typedef struct lm {
    host_model hm;
    model_spec spec;
    vocab voc;
} lm;

/* Opens -m NAME (a path or a preset name) as a language model. EXIT_OK, or EXIT_LOAD with one line in
 * why (a file for another task included). */
int lm_open(lm *m, plugin_registry *r, const char *name, char *why, size_t why_len);

/* Checks that a spec and vocabulary fit together (token input and logits both of the vocabulary size). */
int lm_check_spec(const model_spec *spec, const vocab *v, char *why, size_t why_len);

void lm_close(lm *m);

/* Negative log-likelihood of a token sequence: ids is split into `streams` contiguous segments run side
 * by side, T steps at a time with the state carried, from the reset state; every symbol but the first of
 * each segment is predicted from those before it. *nll is the sum in nats, *count the predictions.
 * -1 on allocation or model failure. */
int lm_nll(double *nll, uint64_t *count, const host_model *hm, const int32_t *ids, size_t n, uint32_t streams,
           uint32_t T);

/* lm_nll that stops between chunks once *stop is set (stop may be NULL): 0, 1 when stopped (the sums then
 * cover part of the text), -1 on allocation or model failure. */
int lm_nll_until(double *nll, uint64_t *count, const host_model *hm, const int32_t *ids, size_t n, uint32_t streams,
                 uint32_t T, const volatile sig_atomic_t *stop);

/* Where lm_nll_read gets its tokens: ids[0..count) = symbols first .. first+count-1 of the sequence, asked
 * for by segment `stream` (each segment's reads move forward, a chunk's window starting on the last
 * symbol of the one before). 0, or -1 to stop. */
typedef int (*lm_reader)(void *ctx, uint32_t stream, size_t first, size_t count, int32_t *ids);

/* lm_nll over a sequence of n symbols read through read(ctx, ...), for texts not held in memory; the same
 * numbers as lm_nll over the same ids. */
int lm_nll_read(double *nll, uint64_t *count, const host_model *hm, lm_reader read, void *ctx, size_t n,
                uint32_t streams, uint32_t T);

/* lm_nll_read over part `part` of `parts` of the segments (par_share's shares; a part may be empty): the
 * parts' sums add up to lm_nll_read's. For validation shared by the ranks of a training. */
int lm_nll_part(double *nll, uint64_t *count, const host_model *hm, lm_reader read, void *ctx, size_t n,
                uint32_t streams, uint32_t T, int part, int parts);

#endif /* RNNHOST_LM_H */
