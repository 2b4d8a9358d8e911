/* Sampling from logits with temperature and top-k. */
#include <math.h>
#include <stddef.h>

#include "rnnhost/sample.h"

static uint32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* The k-th largest value of x (k >= 1), by repeated selection on a copy: C is a vocabulary, small
 * enough that O(C k) beats sorting for the usual k and needs no allocation. */
static float kth_largest(const float *x, uint32_t n, uint32_t k, float *scratch)
{
    for (uint32_t i = 0; i < n; i++)
        scratch[i] = x[i];
    float value = -INFINITY;
    for (uint32_t round = 0; round < k; round++) {
        uint32_t best = argmax(scratch, n);
        value = scratch[best];
        scratch[best] = -INFINITY;
    }
    return value;
}

int32_t rh_sample_logits(const float *logits, uint32_t C, float temperature, uint32_t top_k, float *scratch,
                         rh_rng *rng)
{
    if (C == 0)
        return -1;
    for (uint32_t i = 0; i < C; i++)
        if (isnan(logits[i]))
            return -1;
    if (!(temperature > 0.0f))
        return (int32_t)argmax(logits, C);

    float floor = -INFINITY; /* logits below the k-th largest are left out */
    if (top_k > 0 && top_k < C)
        floor = kth_largest(logits, C, top_k, scratch);

    const double max = logits[argmax(logits, C)];
    double total = 0.0;
    for (uint32_t i = 0; i < C; i++) {
        double p = logits[i] >= floor ? exp((logits[i] - max) / temperature) : 0.0;
        scratch[i] = (float)p;
        total += p;
    }
    /* One uniform draw walks the cumulative distribution; rounding can leave it past the end, where the
     * last symbol with any mass takes it. */
    double u = rh_rng_uniform(rng) * total, acc = 0.0;
    int32_t last = (int32_t)argmax(logits, C);
    for (uint32_t i = 0; i < C; i++) {
        if (scratch[i] <= 0.0f)
            continue;
        acc += scratch[i];
        last = (int32_t)i;
        if (u < acc)
            return (int32_t)i;
    }
    return last;
}

double rh_log_softmax_at(const float *logits, uint32_t C, uint32_t index)
{
    double max = logits[argmax(logits, C)], sum = 0.0;
    for (uint32_t i = 0; i < C; i++)
        sum += exp((double)logits[i] - max);
    return (double)logits[index] - max - log(sum);
}
