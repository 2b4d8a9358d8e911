/* rh_rng: reproducible, restorable from its four words, and statistically sane. */
#include <string.h>

#include "check.h"
#include "rnnhost/rng.h"

int main(void)
{
    rh_rng a, b;
    rh_rng_seed(&a, 42);
    rh_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= rh_rng_next(&a) == rh_rng_next(&b);
    CHECK(same, "same seed gave different sequences");

    rh_rng_seed(&a, 1);
    rh_rng_seed(&b, 2);
    int equal = 0;
    for (int i = 0; i < 100; i++)
        equal += rh_rng_next(&a) == rh_rng_next(&b);
    CHECK(equal == 0, "seeds 1 and 2 agreed on %d of 100 draws", equal);

    rh_rng_seed(&a, 0);
    CHECK(a.s[0] | a.s[1] | a.s[2] | a.s[3], "seed 0 gave the all-zero state");

    // Saving the four words mid-stream and restoring them must replay every kind of draw.
    rh_rng_seed(&a, 7);
    for (int i = 0; i < 37; i++)
        rh_rng_normal(&a);
    rh_rng saved;
    memcpy(saved.s, a.s, sizeof saved.s);
    double first[64], again[64];
    for (int i = 0; i < 64; i++)
        first[i] = (i % 3 == 0) ? rh_rng_normal(&a) : (i % 3 == 1) ? rh_rng_uniform(&a) : rh_rng_below(&a, 1000);
    memcpy(b.s, saved.s, sizeof b.s);
    for (int i = 0; i < 64; i++)
        again[i] = (i % 3 == 0) ? rh_rng_normal(&b) : (i % 3 == 1) ? rh_rng_uniform(&b) : rh_rng_below(&b, 1000);
    CHECK(memcmp(first, again, sizeof first) == 0, "restored state did not continue identically");

    // rh_rng_below: in range and roughly uniform (chi-square, 9 degrees of freedom; 40 is p < 1e-5).
    rh_rng_seed(&a, 123);
    CHECK(rh_rng_below(&a, 0) == 0, "below(0) must be 0");
    CHECK(rh_rng_below(&a, 1) == 0, "below(1) must be 0");
    enum { K = 10, DRAWS = 100000 };
    long counts[K] = {0};
    int out_of_range = 0;
    for (int i = 0; i < DRAWS; i++) {
        uint32_t r = rh_rng_below(&a, K);
        if (r >= K)
            out_of_range++;
        else
            counts[r]++;
    }
    CHECK(out_of_range == 0, "%d draws out of [0, %d)", out_of_range, K);
    double chi2 = 0.0, expect = (double)DRAWS / K;
    for (int k = 0; k < K; k++)
        chi2 += (counts[k] - expect) * (counts[k] - expect) / expect;
    CHECK(chi2 < 40.0, "chi-square %g over %d bins", chi2, K);

    // With n = 2/3 of 2^32 a plain modulo would map the top third of 32-bit draws onto [0, n/2), so the
    // upper half of the range would get only a third of the draws instead of half.
    const uint32_t big = 0xAAAAAAAAu;
    long upper = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t r = rh_rng_below(&a, big);
        CHECK(r < big, "below(%u) gave %u", big, r);
        upper += r >= big / 2;
    }
    CHECK(upper > 9500 && upper < 10500, "%ld of 20000 draws in the upper half of [0, %u)", upper, big);

    double umin = 1.0, umax = 0.0, usum = 0.0;
    double nsum = 0.0, nsq = 0.0;
    const int M = 200000;
    for (int i = 0; i < M; i++) {
        double u = rh_rng_uniform(&a);
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        usum += u;
        double z = rh_rng_normal(&a);
        nsum += z;
        nsq += z * z;
    }
    CHECK(umin >= 0.0 && umax < 1.0, "uniform range [%g, %g]", umin, umax);
    CHECK_NEAR(usum / M, 0.5, 0.005);
    double mean = nsum / M, var = nsq / M - mean * mean;
    CHECK_NEAR(mean, 0.0, 0.01);
    CHECK_NEAR(var, 1.0, 0.02);
    TEST_EXIT();
}
