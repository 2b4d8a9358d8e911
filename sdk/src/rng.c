/* xoshiro256** seeded through splitmix64. Everything derives from the four state words, so saving
 * rh_rng.s is enough to resume a sequence exactly (no cached Gaussian spare, no hidden statics). */
#include <math.h>

#include "rnnhost/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rh_rng_seed(rh_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    // splitmix64 never yields four zero words from one seed, so the all-zero fixed point is unreachable.
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t rh_rng_next(rh_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rh_rng_below(rh_rng *rng, uint32_t n)
{
    if (n == 0)
        return 0;
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const uint32_t limit = (uint32_t)(-n) % n; // 2^32 mod n
    for (;;) {
        uint32_t r = (uint32_t)(rh_rng_next(rng) >> 32);
        if (r >= limit)
            return r % n;
    }
}

double rh_rng_uniform(rh_rng *rng)
{
    // 53 high bits fill a double's mantissa exactly: every value is k / 2^53, never 1.
    return (double)(rh_rng_next(rng) >> 11) * 0x1.0p-53;
}

double rh_rng_normal(rh_rng *rng)
{
    // Marsaglia polar; the second variate is thrown away because keeping it would be state outside s[].
    for (;;) {
        double u = 2.0 * rh_rng_uniform(rng) - 1.0;
        double v = 2.0 * rh_rng_uniform(rng) - 1.0;
        double q = u * u + v * v;
        if (q > 0.0 && q < 1.0)
            return u * sqrt(-2.0 * log(q) / q);
    }
}
