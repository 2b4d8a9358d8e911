/* rh_sample_logits: argmax, the softmax distribution at a temperature, top-k, determinism. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rnnhost/rnnhost.h"

#define C 6

int main(void)
{
    const float logits[C] = {0.5f, 2.0f, -1.0f, 1.0f, 2.0f, 0.0f};
    float scratch[C];
    rh_rng rng;
    rh_rng_seed(&rng, 7);

    /* temperature 0: the first of the equal maxima, and no draw taken from the generator */
    rh_rng before = rng;
    CHECK(rh_sample_logits(logits, C, 0.0f, 0, scratch, &rng) == 1, "argmax");
    CHECK(memcmp(&before, &rng, sizeof rng) == 0, "argmax must not draw");

    /* temperature 1 and 0.5: frequencies follow softmax(logits / T) (chi-square, 5 degrees of freedom,
     * bound far above the 99.9th percentile of 20.5 so only a wrong distribution fails) */
    const float temps[2] = {1.0f, 0.5f};
    for (int k = 0; k < 2; k++) {
        const int draws = 200000;
        long counts[C] = {0};
        for (int i = 0; i < draws; i++) {
            int32_t s = rh_sample_logits(logits, C, temps[k], 0, scratch, &rng);
            CHECK(s >= 0 && s < C, "index %d in range", s);
            if (s >= 0 && s < C)
                counts[s]++;
        }
        double z = 0, chi2 = 0;
        for (int i = 0; i < C; i++)
            z += exp(logits[i] / temps[k]);
        for (int i = 0; i < C; i++) {
            double expected = draws * exp(logits[i] / temps[k]) / z;
            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
        }
        CHECK(chi2 < 40.0, "temperature %g: chi-square %.1f", temps[k], chi2);
    }

    /* top-k 2: only the two largest (indices 1 and 4), about equally often */
    long top[C] = {0};
    for (int i = 0; i < 20000; i++) {
        int32_t s = rh_sample_logits(logits, C, 1.0f, 2, scratch, &rng);
        if (s >= 0 && s < C)
            top[s]++;
    }
    CHECK(top[0] == 0 && top[2] == 0 && top[3] == 0 && top[5] == 0, "top-k 2 drew outside the top 2");
    CHECK(top[1] > 9000 && top[4] > 9000, "top-k 2 split %ld / %ld", top[1], top[4]);

    /* the same seed, the same draws */
    rh_rng a, b;
    rh_rng_seed(&a, 99);
    rh_rng_seed(&b, 99);
    for (int i = 0; i < 1000; i++)
        CHECK(rh_sample_logits(logits, C, 0.8f, 0, scratch, &a) == rh_sample_logits(logits, C, 0.8f, 0, scratch, &b),
              "draw %d differs for the same seed", i);

    /* a NaN logit or an empty vocabulary is refused */
    float bad[C];
    memcpy(bad, logits, sizeof bad);
    bad[3] = NAN;
    CHECK(rh_sample_logits(bad, C, 1.0f, 0, scratch, &rng) == -1, "NaN refused");
    CHECK(rh_sample_logits(logits, 0, 1.0f, 0, scratch, &rng) == -1, "C = 0 refused");

    /* log softmax: sums to one, stable for huge logits */
    double total = 0;
    for (uint32_t i = 0; i < C; i++)
        total += exp(rh_log_softmax_at(logits, C, i));
    CHECK_NEAR(total, 1.0, 1e-9);
    const float huge[3] = {1000.0f, 1000.0f, -1000.0f};
    CHECK_NEAR(rh_log_softmax_at(huge, 3, 0), -log(2.0), 1e-9);
    TEST_EXIT();
}
