/* Clipping by value and by global norm, and NaN/inf detection. */
#include <math.h>

#include "check.h"
#include "rnnhost/clip.h"
#include "rnnhost/rng.h"

int main(void)
{
    float g[6] = {-3.0f, -1.0f, 0.5f, 2.0f, 1.0f, -0.25f};
    CHECK(rh_clip_value(g, 6, 1.0f) == 2, "two values exceed 1");
    const float want[6] = {-1.0f, -1.0f, 0.5f, 1.0f, 1.0f, -0.25f};
    for (int i = 0; i < 6; i++)
        CHECK(g[i] == want[i], "g[%d] = %g, want %g", i, g[i], want[i]);
    CHECK(rh_clip_value(g, 6, 1.0f) == 0, "clipping twice changes nothing");

    float h[2] = {3.0f, 4.0f};
    CHECK_NEAR(rh_global_norm(h, 2), 5.0, 1e-12);
    CHECK(rh_global_norm(h, 0) == 0.0, "empty norm");
    // Squares of 1e30 overflow float but not the double accumulator.
    float huge[2] = {3e30f, 4e30f};
    CHECK_NEAR(rh_global_norm(huge, 2) / 5e30, 1.0, 1e-6);

    rh_rng rng;
    rh_rng_seed(&rng, 5);
    float v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = (float)(10.0 * rh_rng_normal(&rng));
    float orig[1000];
    for (int i = 0; i < 1000; i++)
        orig[i] = v[i];
    double before = rh_global_norm(v, 1000);
    double returned = rh_clip_global_norm(v, 1000, 1.5);
    CHECK(returned == before, "returned %g, norm before %g", returned, before);
    CHECK_NEAR(rh_global_norm(v, 1000), 1.5, 1.5e-6);
    // Direction is kept: every element scaled by the same factor.
    double k = 1.5 / before;
    int same_direction = 1;
    for (int i = 0; i < 1000; i++)
        same_direction &= fabs(v[i] - orig[i] * k) <= 1e-6 * fabs(orig[i] * k) + 1e-30;
    CHECK(same_direction, "clip_global_norm changed the direction");

    // With the norm given: the very bits of rh_clip_global_norm.
    float a[1000], b[1000];
    for (int i = 0; i < 1000; i++)
        a[i] = b[i] = (float)sin(i * 0.37) * 3.0f;
    const double na = rh_clip_global_norm(a, 1000, 1.5);
    rh_clip_to_norm(b, 1000, rh_global_norm(b, 1000), 1.5);
    CHECK(memcmp(a, b, sizeof a) == 0 && na > 1.5, "clip_to_norm differs from clip_global_norm");

    // Below the limit nothing changes.
    float small[2] = {0.3f, 0.4f};
    CHECK_NEAR(rh_clip_global_norm(small, 2, 1.0), 0.5, 1e-7);
    CHECK(small[0] == 0.3f && small[1] == 0.4f, "a small gradient was scaled");

    // Non-finite: detected, reported as the norm, and g left untouched.
    float bad[3] = {1.0f, NAN, 2.0f};
    CHECK(!rh_all_finite(bad, 3), "NaN not detected");
    CHECK(rh_all_finite(bad, 1), "finite prefix refused");
    CHECK(isnan(rh_global_norm(bad, 3)), "norm with NaN");
    CHECK(isnan(rh_clip_global_norm(bad, 3, 1.0)) && bad[0] == 1.0f && bad[2] == 2.0f, "NaN gradient was scaled");
    float inf[2] = {INFINITY, 1.0f};
    CHECK(!rh_all_finite(inf, 2), "inf not detected");
    CHECK(isinf(rh_global_norm(inf, 2)), "norm with inf");
    CHECK(isinf(rh_clip_global_norm(inf, 2, 1.0)) && inf[1] == 1.0f, "inf gradient was scaled");
    float neg[1] = {-INFINITY};
    CHECK(!rh_all_finite(neg, 1), "-inf not detected");
    CHECK(rh_all_finite(v, 1000), "finite vector refused");
    TEST_EXIT();
}
