/* The gradient checker must pass a right gradient and catch a wrong one, pointing at the right entry. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rnnhost/gradcheck.h"

enum { N = 12 };

typedef struct {
    int wrong_index; // -1: correct gradient
    double wrong_factor;
    int calls;
} cubic_ctx;

// f(v) = sum_i (i+1) v_i^3 + v_0 v_1; df/dv_i = 3 (i+1) v_i^2 (+ the cross terms)
static double cubic(void *vctx, const float *v, float *grad)
{
    cubic_ctx *c = vctx;
    c->calls++;
    double f = (double)v[0] * v[1];
    for (int i = 0; i < N; i++)
        f += (i + 1) * (double)v[i] * v[i] * v[i];
    if (grad) {
        for (int i = 0; i < N; i++) {
            double g = 3.0 * (i + 1) * (double)v[i] * v[i];
            if (i == 0)
                g += v[1];
            if (i == 1)
                g += v[0];
            if (i == c->wrong_index)
                g *= c->wrong_factor;
            grad[i] += (float)g;
        }
    }
    return f;
}

static double blows_up(void *ctx, const float *v, float *grad)
{
    (void)ctx;
    (void)grad;
    return v[3] > 0.5f ? INFINITY : v[3];
}

int main(void)
{
    rh_rng rng;
    rh_rng_seed(&rng, 99);
    float v[N], before[N], scratch[N];
    for (int i = 0; i < N; i++)
        v[i] = (float)((i % 2 ? -1.0 : 1.0) * (0.5 + 0.5 * rh_rng_uniform(&rng))); // away from 0, so 5% is visible
    memcpy(before, v, sizeof v);
    rh_gradcheck_result res;

    cubic_ctx ok = {-1, 1.0, 0};
    rh_status st = rh_gradcheck(&res, cubic, &ok, v, N, scratch, 0, N, 0, 1e-3f, 1e-4, 1e-3, NULL);
    CHECK(st == RH_OK, "correct gradient refused: status %d, index %llu, ratio %g", st,
          (unsigned long long)res.worst_index, res.worst_ratio);
    CHECK(res.checked == N && res.failed == 0, "checked %llu failed %llu", (unsigned long long)res.checked,
          (unsigned long long)res.failed);
    CHECK(res.worst_ratio <= 1.0, "worst ratio %g", res.worst_ratio);
    CHECK(ok.calls == 1 + 2 * N, "fn called %d times", ok.calls);
    CHECK(memcmp(v, before, sizeof v) == 0, "v was not restored exactly");

    // 5% off on one entry must be caught and located.
    for (int bad = 0; bad < N; bad += 5) {
        cubic_ctx wrong = {bad, 1.05, 0};
        st = rh_gradcheck(&res, cubic, &wrong, v, N, scratch, 0, N, 0, 1e-3f, 1e-4, 1e-3, NULL);
        CHECK(st == RH_ERR_SHAPE, "wrong gradient at %d accepted (status %d)", bad, st);
        CHECK(res.worst_index == (uint64_t)bad, "worst_index %llu, expected %d", (unsigned long long)res.worst_index, bad);
        CHECK(res.failed == 1 && res.worst_ratio > 1.0, "failed %llu ratio %g", (unsigned long long)res.failed,
              res.worst_ratio);
        CHECK(fabs(res.analytic / res.numeric - 1.05) < 0.01, "analytic %g numeric %g", res.analytic, res.numeric);
    }

    // A range that excludes the wrong entry passes; one that includes it fails.
    cubic_ctx wrong = {7, -1.0, 0};
    st = rh_gradcheck(&res, cubic, &wrong, v, N, scratch, 0, 7, 0, 1e-3f, 1e-4, 1e-3, NULL);
    CHECK(st == RH_OK && res.checked == 7, "range [0,7) status %d checked %llu", st, (unsigned long long)res.checked);
    st = rh_gradcheck(&res, cubic, &wrong, v, N, scratch, 5, 4, 0, 1e-3f, 1e-4, 1e-3, NULL);
    CHECK(st == RH_ERR_SHAPE && res.worst_index == 7, "range [5,9) status %d worst %llu", st,
          (unsigned long long)res.worst_index);

    // Sampling checks exactly max_samples entries inside the range, and needs an rng.
    st = rh_gradcheck(&res, cubic, &ok, v, N, scratch, 2, 8, 3, 1e-3f, 1e-4, 1e-3, &rng);
    CHECK(st == RH_OK && res.checked == 3, "sampled status %d checked %llu", st, (unsigned long long)res.checked);
    CHECK(res.worst_index >= 2 && res.worst_index < 10, "sampled index %llu outside range",
          (unsigned long long)res.worst_index);
    st = rh_gradcheck(&res, cubic, &ok, v, N, scratch, 2, 8, 3, 1e-3f, 1e-4, 1e-3, NULL);
    CHECK(st == RH_ERR_INVALID_ARGUMENT, "sampling without rng: status %d", st);
    // Sampling enough times always finds a wrong entry among 2.
    cubic_ctx wrong2 = {3, 2.0, 0};
    int found = 0;
    for (int k = 0; k < 64 && !found; k++) {
        st = rh_gradcheck(&res, cubic, &wrong2, v, N, scratch, 2, 2, 1, 1e-3f, 1e-4, 1e-3, &rng);
        found = st == RH_ERR_SHAPE && res.worst_index == 3;
    }
    CHECK(found, "64 single samples never hit the wrong entry");

    st = rh_gradcheck(&res, cubic, &ok, v, N, scratch, 10, 5, 0, 1e-3f, 1e-4, 1e-3, NULL);
    CHECK(st == RH_ERR_INVALID_ARGUMENT, "range past n: status %d", st);

    // A function that turns infinite under perturbation is reported as such, with the entry.
    float w[N] = {0};
    w[3] = 0.4995f; // only the + eps side crosses 0.5
    st = rh_gradcheck(&res, blows_up, NULL, w, N, scratch, 0, N, 0, 1e-3f, 1e-4, 1e-3, NULL);
    CHECK(st == RH_ERR_NOT_FINITE && res.worst_index == 3, "non-finite: status %d index %llu", st,
          (unsigned long long)res.worst_index);
    CHECK(w[3] == 0.4995f, "v not restored after a non-finite evaluation");
    TEST_EXIT();
}
