/* rnnhost SDK: a small seedable random generator whose whole state is four integers, so a checkpoint
 * can save it and a resumed run draws exactly the numbers an uninterrupted run would have drawn.
 * xoshiro256** seeded through splitmix64. Not for cryptography. Not thread-safe: one per thread. */
#ifndef RNNHOST_RNG_H
#define RNNHOST_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rh_rng {
    uint64_t s[4]; /* the complete state; save and restore it verbatim */
} rh_rng;

/* Same seed, same sequence, on every machine. */
void rh_rng_seed(rh_rng *rng, uint64_t seed);
uint64_t rh_rng_next(rh_rng *rng);
/* Uniform integer in [0, n), unbiased; 0 when n is 0. */
uint32_t rh_rng_below(rh_rng *rng, uint32_t n);
/* Uniform in [0, 1). */
double rh_rng_uniform(rh_rng *rng);
/* Standard normal. */
double rh_rng_normal(rh_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_RNG_H */
