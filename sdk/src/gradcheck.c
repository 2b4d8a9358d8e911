/* Finite-difference gradient checking: the referee for every backward pass in rnnhost. */
#include <math.h>
#include <string.h>

#include "rnnhost/gradcheck.h"

// Uniform in [0, n) for 64-bit n (rh_rng_below only covers 32 bits), unbiased by rejection.
static uint64_t below64(rh_rng *rng, uint64_t n)
{
    const uint64_t limit = (0 - n) % n; // 2^64 mod n
    for (;;) {
        uint64_t r = rh_rng_next(rng);
        if (r >= limit)
            return r % n;
    }
}

rh_status rh_gradcheck(rh_gradcheck_result *result, rh_scalar_fn fn, void *ctx, float *v, uint64_t n,
                       float *grad_scratch, uint64_t begin, uint64_t count, uint64_t max_samples, float eps,
                       double atol, double rtol, rh_rng *rng)
{
    rh_gradcheck_result res;
    memset(&res, 0, sizeof res);
    if (result)
        *result = res;
    if (!result || !fn || !v || !grad_scratch || begin > n || count > n - begin || !(eps > 0.0f))
        return RH_ERR_INVALID_ARGUMENT;
    // max_samples == 0 means "no limit": a check that silently compares nothing must not pass.
    const int sampled = max_samples > 0 && max_samples < count;
    if (sampled && !rng)
        return RH_ERR_INVALID_ARGUMENT;
    const uint64_t todo = sampled ? max_samples : count;

    memset(grad_scratch, 0, (size_t)n * sizeof *grad_scratch);
    const double f0 = fn(ctx, v, grad_scratch);
    if (!isfinite(f0)) {
        *result = res;
        return RH_ERR_NOT_FINITE;
    }

    double worst = -1.0;
    for (uint64_t k = 0; k < todo; k++) {
        const uint64_t i = begin + (sampled ? below64(rng, count) : k);
        const float saved = v[i];
        const float up = saved + eps, down = saved - eps;
        v[i] = up;
        const double fp = fn(ctx, v, NULL);
        v[i] = down;
        const double fm = fn(ctx, v, NULL);
        v[i] = saved;
        if (!isfinite(fp) || !isfinite(fm)) {
            res.worst_index = i;
            res.analytic = grad_scratch[i];
            res.numeric = NAN;
            res.worst_ratio = INFINITY;
            *result = res;
            return RH_ERR_NOT_FINITE;
        }
        // Divide by the step float rounding actually took, not 2 eps: near large |v| they differ.
        const double numeric = (fp - fm) / ((double)up - (double)down);
        const double analytic = grad_scratch[i];
        const double tol = atol + rtol * fmax(fabs(analytic), fabs(numeric));
        const double diff = fabs(analytic - numeric);
        double ratio = diff == 0.0 ? 0.0 : diff / tol;
        if (!(ratio <= 1.0)) {
            res.failed++;
            if (isnan(ratio))
                ratio = INFINITY;
        }
        res.checked++;
        if (ratio > worst) {
            worst = ratio;
            res.worst_index = i;
            res.analytic = analytic;
            res.numeric = numeric;
            res.worst_ratio = ratio;
        }
    }
    *result = res;
    return res.failed ? RH_ERR_SHAPE : RH_OK;
}
