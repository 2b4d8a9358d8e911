/* rnnhost SDK: drawing a symbol from a model's logits, and the log-probability of one. Shared by every
 * host command that samples (text, MIDI events) or scores. */
#ifndef RNNHOST_SAMPLE_H
#define RNNHOST_SAMPLE_H

#include <stdint.h>

#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Draws an index from softmax(logits / temperature) restricted to the top_k largest logits (top_k 0 or
 * >= C: all of them). temperature <= 0 means argmax (the first of equal maxima). scratch holds C floats.
 * Uses exactly one draw from rng unless it takes the argmax. Returns -1 when C is 0 or a logit is NaN. */
int32_t rh_sample_logits(const float *logits, uint32_t C, float temperature, uint32_t top_k, float *scratch,
                         rh_rng *rng);

/* log softmax(logits)[index], computed stably in double. */
double rh_log_softmax_at(const float *logits, uint32_t C, uint32_t index);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_SAMPLE_H */
