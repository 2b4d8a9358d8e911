/* Output heads and their losses. Row sums run in double; logits are shifted by their row maximum (or
 * use the log1p form) so that +-1000 stays finite. */
#include <math.h>
#include <string.h>

#include "rnnhost/loss.h"

// log(sum_j exp(z_j)) of one row, shifted by the maximum so no exp overflows.
static double row_logsumexp(const float *z, uint32_t C)
{
    double zmax = -INFINITY;
    for (uint32_t j = 0; j < C; j++)
        if (z[j] > zmax)
            zmax = z[j];
    if (!isfinite(zmax))
        return zmax; // +inf dominates; -inf means every logit is -inf (or C == 0)
    double sum = 0.0;
    for (uint32_t j = 0; j < C; j++)
        sum += exp((double)z[j] - zmax);
    return zmax + log(sum);
}

double rh_softmax_xent(float *dlogits, const float *logits, const int32_t *targets, const float *weights,
                       uint32_t N, uint32_t C, float scale)
{
    double total = 0.0;
    for (uint32_t r = 0; r < N; r++) {
        const float *z = logits + (size_t)r * C;
        float *dz = dlogits ? dlogits + (size_t)r * C : NULL;
        const int32_t target = targets[r];
        const double w = weights ? weights[r] : 1.0;
        if (target < 0 || w == 0.0) {
            if (dz)
                memset(dz, 0, (size_t)C * sizeof *dz);
            continue;
        }
        if ((uint32_t)target >= C) {
            total += NAN;
            if (dz)
                for (uint32_t j = 0; j < C; j++)
                    dz[j] = NAN;
            continue;
        }
        const double lse = row_logsumexp(z, C);
        total += w * (lse - (double)z[target]);
        if (dz) {
            const double k = (double)scale * w;
            for (uint32_t j = 0; j < C; j++) {
                double p = exp((double)z[j] - lse);
                dz[j] = (float)(k * (p - (j == (uint32_t)target ? 1.0 : 0.0)));
            }
        }
    }
    return total;
}

void rh_softmax(float *probs, const float *logits, uint32_t N, uint32_t C)
{
    for (uint32_t r = 0; r < N; r++) {
        const float *z = logits + (size_t)r * C;
        float *p = probs + (size_t)r * C;
        // lse is computed before any write, and each p[j] only replaces z[j], so probs may alias logits.
        const double lse = row_logsumexp(z, C);
        for (uint32_t j = 0; j < C; j++)
            p[j] = (float)exp((double)z[j] - lse);
    }
}

double rh_sigmoid_bce(float *dlogits, const float *logits, const float *targets, const float *weights,
                      uint32_t N, uint32_t C, float scale)
{
    double total = 0.0;
    for (uint32_t r = 0; r < N; r++) {
        const float *z = logits + (size_t)r * C;
        const float *t = targets + (size_t)r * C;
        float *dz = dlogits ? dlogits + (size_t)r * C : NULL;
        const double w = weights ? weights[r] : 1.0;
        if (w == 0.0) {
            if (dz)
                memset(dz, 0, (size_t)C * sizeof *dz);
            continue;
        }
        double row = 0.0;
        for (uint32_t j = 0; j < C; j++) {
            const double x = z[j], y = t[j];
            // -[y log s + (1-y) log(1-s)] rewritten so neither exp nor log can overflow.
            row += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
            if (dz) {
                const double s = x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
                dz[j] = (float)((double)scale * w * (s - y));
            }
        }
        total += w * row;
    }
    return total;
}
