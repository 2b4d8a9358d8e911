/* rnnhost SDK: output heads and their losses. Losses are summed (not averaged) over rows; the caller
 * picks the normalisation through `scale`, which multiplies the gradient only. Sums are kept in double. */
#ifndef RNNHOST_LOSS_H
#define RNNHOST_LOSS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Softmax cross-entropy over N rows of C logits. logits is (N,C). targets is (N), a class in [0,C), or
 * negative to mask the row out. weights is (N) or NULL for all ones; a zero weight masks the row.
 * dlogits is (N,C), written with scale * weight * (softmax - onehot) (zero on masked rows), or NULL.
 * Returns the sum over rows of weight * -log softmax[target]; a target >= C is a caller bug and
 * contributes NaN so it cannot pass unseen. */
double rh_softmax_xent(float *dlogits, const float *logits, const int32_t *targets, const float *weights,
                       uint32_t N, uint32_t C, float scale);

/* Softmax of each row of logits (N,C) into probs (N,C), numerically stable. probs may equal logits. */
void rh_softmax(float *probs, const float *logits, uint32_t N, uint32_t C);

/* Sigmoid binary cross-entropy for multi-label outputs. logits and targets are (N,C), targets in [0,1].
 * weights is (N) or NULL; a zero weight masks the row. dlogits is (N,C) written with
 * scale * weight * (sigmoid - target), or NULL. Returns the sum of weight * BCE over all rows and units. */
double rh_sigmoid_bce(float *dlogits, const float *logits, const float *targets, const float *weights,
                      uint32_t N, uint32_t C, float scale);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_LOSS_H */
