/* Exploding gradients: clip by value, by global norm, and spot NaN/inf before they poison the weights. */
#include <math.h>

#include "rnnhost/clip.h"

uint64_t rh_clip_value(float *g, uint64_t n, float limit)
{
    uint64_t changed = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (g[i] > limit) {
            g[i] = limit;
            changed++;
        } else if (g[i] < -limit) {
            g[i] = -limit;
            changed++;
        }
    }
    return changed;
}

double rh_global_norm(const float *g, uint64_t n)
{
    // A float squared always fits a double, so the sum cannot overflow before sqrt; NaN propagates.
    double sum = 0.0;
    for (uint64_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}

void rh_clip_to_norm(float *g, uint64_t n, double norm, double max_norm)
{
    if (!isfinite(norm) || norm <= max_norm || norm <= 0.0)
        return;
    double s = max_norm / norm;
    for (uint64_t i = 0; i < n; i++)
        g[i] = (float)((double)g[i] * s);
}

double rh_clip_global_norm(float *g, uint64_t n, double max_norm)
{
    const double norm = rh_global_norm(g, n);
    rh_clip_to_norm(g, n, norm, max_norm);
    return norm;
}

int rh_all_finite(const float *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}
