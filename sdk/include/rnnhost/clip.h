/* rnnhost SDK: exploding gradients. Clip by value, clip by global norm, and detect NaN or infinity so
 * that training stops with a clear message instead of learning from garbage. */
#ifndef RNNHOST_CLIP_H
#define RNNHOST_CLIP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clamps each of the n values into [-limit, limit]. Returns how many were changed. */
uint64_t rh_clip_value(float *g, uint64_t n, float limit);

/* Euclidean norm of n values, accumulated in double. NaN or infinity if any value is. */
double rh_global_norm(const float *g, uint64_t n);

/* Scales g so its global norm is at most max_norm. Returns the norm before clipping (check it with
 * isfinite: a non-finite norm leaves g untouched). */
double rh_clip_global_norm(float *g, uint64_t n, double max_norm);

/* The same for a caller that has g's global norm already (norm, as rh_global_norm gives it): scales g so
 * that its norm is at most max_norm, the same bits as rh_clip_global_norm, without a second pass to find
 * the norm. A non-finite norm leaves g untouched. */
void rh_clip_to_norm(float *g, uint64_t n, double norm, double max_norm);

/* 1 when all n values are finite, 0 otherwise. */
int rh_all_finite(const float *x, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_CLIP_H */
