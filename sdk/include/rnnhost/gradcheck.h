/* rnnhost SDK: finite-difference gradient checking. Every gradient in rnnhost is checked with this. */
#ifndef RNNHOST_GRADCHECK_H
#define RNNHOST_GRADCHECK_H

#include <stdint.h>

#include "rng.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A scalar function of a float vector. Returns f(v); when grad is not NULL also ADDS df/dv into grad.
 * Must be deterministic. */
typedef double (*rh_scalar_fn)(void *ctx, const float *v, float *grad);

typedef struct rh_gradcheck_result {
    uint64_t checked;     /* entries compared */
    uint64_t failed;      /* entries outside tolerance */
    uint64_t worst_index; /* index (into v) of the largest error relative to tolerance */
    double analytic;      /* gradient at worst_index from fn */
    double numeric;       /* central difference at worst_index */
    double worst_ratio;   /* |analytic - numeric| / (atol + rtol * max(|analytic|, |numeric|)); <= 1 passes */
} rh_gradcheck_result;

/* Compares fn's gradient with central differences (f(v + eps e_i) - f(v - eps e_i)) / 2 eps on entries
 * [begin, begin + count) of v; when max_samples < count, on max_samples entries drawn from rng. v is
 * perturbed and restored exactly. grad_scratch holds the length of v, n floats. Returns RH_OK when
 * every checked entry is within tolerance, RH_ERR_NOT_FINITE if fn returned a non-finite value,
 * RH_ERR_SHAPE otherwise (result says where). */
rh_status rh_gradcheck(rh_gradcheck_result *result, rh_scalar_fn fn, void *ctx, float *v, uint64_t n,
                       float *grad_scratch, uint64_t begin, uint64_t count, uint64_t max_samples, float eps,
                       double atol, double rtol, rh_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_GRADCHECK_H */
