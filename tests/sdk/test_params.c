/* Tensor tables: rh_layout_check accepts a good one and refuses each kind of bad one; init is seeded. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rnnhost/params.h"

// W (3,4) at 0, b (4) at 12, g (2,1,1,2) at 16: 20 parameters.
static void good_table(rh_tensor t[3])
{
    memset(t, 0, 3 * sizeof *t);
    t[0] = (rh_tensor){"l0.W", 2, {3, 4, 0, 0}, 0, 12, RH_INIT_UNIFORM, 0.5f};
    t[1] = (rh_tensor){"l0.b", 1, {4, 0, 0, 0}, 12, 4, RH_INIT_CONSTANT, 0.25f};
    t[2] = (rh_tensor){"out_g", 4, {2, 1, 1, 2}, 16, 4, RH_INIT_NORMAL, 2.0f};
}

static void expect_refused(const rh_tensor *t, uint32_t n, uint64_t num_params, rh_status want, const char *what)
{
    char why[160];
    memset(why, 'x', sizeof why);
    rh_status st = rh_layout_check(t, n, num_params, why, sizeof why);
    CHECK(st == want, "%s: status %d, want %d (%s)", what, st, want, why);
    CHECK(why[0] != '\0' && memchr(why, '\0', sizeof why) && !strchr(why, '\n'), "%s: no one-line reason", what);
    // A zero-length buffer must not be written, and the answer must not change.
    CHECK(rh_layout_check(t, n, num_params, NULL, 0) == want, "%s: different answer without why", what);
}

int main(void)
{
    rh_tensor t[3];
    char why[160];
    good_table(t);
    CHECK(rh_layout_check(t, 3, 20, why, sizeof why) == RH_OK, "good table refused: %s", why);
    // Table order need not be offset order.
    rh_tensor shuffled[3] = {t[2], t[0], t[1]};
    CHECK(rh_layout_check(shuffled, 3, 20, why, sizeof why) == RH_OK, "shuffled table refused: %s", why);
    CHECK(rh_layout_check(NULL, 0, 0, why, sizeof why) == RH_OK, "empty layout refused");
    expect_refused(NULL, 0, 5, RH_ERR_SHAPE, "no tensors for 5 params");

    good_table(t); t[1].offset = 11;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "overlap");
    good_table(t); t[1].offset = 13; t[2].offset = 17;
    expect_refused(t, 3, 21, RH_ERR_SHAPE, "gap");
    good_table(t);
    expect_refused(t, 3, 19, RH_ERR_SHAPE, "past the end");
    expect_refused(t, 3, 21, RH_ERR_SHAPE, "last float uncovered");
    good_table(t); t[2].offset = UINT64_MAX - 1;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "offset + size overflows");
    good_table(t); t[0].size = 13;
    expect_refused(t, 3, 21, RH_ERR_SHAPE, "size != product");
    good_table(t); t[1].ndim = 0; t[1].shape[0] = 0;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "ndim 0");
    good_table(t); t[2].ndim = 5;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "ndim 5");
    good_table(t); t[1].shape[1] = 1;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "shape past ndim not 0");
    good_table(t); t[1].shape[0] = 0; t[1].size = 0;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "zero dimension");
    good_table(t); t[0].name = "l0.b";
    expect_refused(t, 3, 20, RH_ERR_FORMAT, "duplicate name");
    good_table(t); t[2].name = "out-g";
    expect_refused(t, 3, 20, RH_ERR_FORMAT, "'-' in a name");
    good_table(t); t[2].name = "out g";
    expect_refused(t, 3, 20, RH_ERR_FORMAT, "space in a name");
    good_table(t); t[2].name = "";
    expect_refused(t, 3, 20, RH_ERR_FORMAT, "empty name");
    good_table(t); t[2].name = NULL;
    expect_refused(t, 3, 20, RH_ERR_FORMAT, "NULL name");
    char long_name[RH_MAX_NAME + 1];
    memset(long_name, 'a', RH_MAX_NAME);
    long_name[RH_MAX_NAME] = '\0';
    good_table(t); t[2].name = long_name;
    expect_refused(t, 3, 20, RH_ERR_FORMAT, "name of RH_MAX_NAME bytes");
    long_name[RH_MAX_NAME - 1] = '\0';
    CHECK(rh_layout_check(t, 3, 20, why, sizeof why) == RH_OK, "name of RH_MAX_NAME-1 bytes refused: %s", why);
    // 2^32 * 2^32 wraps to 0 in 64 bits; a product of (2^16)^4 = 2^64 does too.
    rh_tensor over = {"big", 4, {65536, 65536, 65536, 65536}, 0, 0, RH_INIT_ZERO, 0.0f};
    expect_refused(&over, 1, 0, RH_ERR_SHAPE, "shape product overflow to 0");
    over.shape[3] = 65537;
    over.size = 65536ull * 65536ull * 65536ull * 65536ull; // wraps
    expect_refused(&over, 1, over.size, RH_ERR_SHAPE, "shape product overflow");
    good_table(t); t[1].init = 9;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "unknown init");
    good_table(t); t[0].init_scale = NAN;
    expect_refused(t, 3, 20, RH_ERR_SHAPE, "NaN init_scale");

    // rh_tensor_find
    good_table(t);
    CHECK(rh_tensor_find(t, 3, "l0.b") == 1 && rh_tensor_find(t, 3, "out_g") == 2, "find");
    CHECK(rh_tensor_find(t, 3, "l0") == -1 && rh_tensor_find(t, 3, "") == -1, "find of a missing name");

    // rh_params_init: within bounds, deterministic per seed, and different seeds differ.
    float p[20], q[20];
    rh_rng rng;
    rh_rng_seed(&rng, 3);
    memset(p, 0xff, sizeof p); // NaN everywhere: every float must be written
    rh_params_init(p, t, 3, &rng);
    rh_rng_seed(&rng, 3);
    rh_params_init(q, t, 3, &rng);
    CHECK(memcmp(p, q, sizeof p) == 0, "same seed gave different parameters");
    int in_bounds = 1, nonzero = 0;
    for (int i = 0; i < 12; i++) {
        in_bounds &= fabsf(p[i]) <= 0.5f;
        nonzero += p[i] != 0.0f;
    }
    CHECK(in_bounds && nonzero == 12, "uniform init outside [-0.5, 0.5] or zero");
    for (int i = 12; i < 16; i++)
        CHECK(p[i] == 0.25f, "constant init p[%d] = %g", i, p[i]);
    for (int i = 16; i < 20; i++)
        CHECK(isfinite(p[i]) && p[i] != 0.0f && fabsf(p[i]) < 2.0f * 8.0f, "normal init p[%d] = %g", i, p[i]);
    rh_rng_seed(&rng, 4);
    rh_params_init(q, t, 3, &rng);
    CHECK(memcmp(p, q, 12 * sizeof *p) != 0, "different seeds gave the same parameters");
    rh_tensor z = {"z", 1, {5, 0, 0, 0}, 0, 5, RH_INIT_ZERO, 3.0f};
    const float p5 = p[5];
    rh_params_init(p, &z, 1, &rng);
    CHECK(p[0] == 0.0f && p[4] == 0.0f && p[5] == p5, "zero init wrote outside its tensor or not zero");

    // Statistics of a larger uniform/normal init.
    static float big[20000];
    rh_tensor u = {"u", 2, {100, 100, 0, 0}, 0, 10000, RH_INIT_UNIFORM, 0.1f};
    rh_tensor nrm = {"n", 1, {10000, 0, 0, 0}, 10000, 10000, RH_INIT_NORMAL, 0.1f};
    rh_tensor both[2] = {u, nrm};
    CHECK(rh_layout_check(both, 2, 20000, why, sizeof why) == RH_OK, "%s", why);
    rh_params_init(big, both, 2, &rng);
    double us = 0, usq = 0, ns = 0, nsq = 0;
    for (int i = 0; i < 10000; i++) {
        us += big[i];
        usq += (double)big[i] * big[i];
        ns += big[10000 + i];
        nsq += (double)big[10000 + i] * big[10000 + i];
    }
    CHECK_NEAR(usq / 10000, 0.01 / 3.0, 0.0003); // variance of U(-a, a) is a^2/3
    CHECK_NEAR(nsq / 10000, 0.01, 0.0006);
    CHECK_NEAR(us / 10000, 0.0, 0.003);
    CHECK_NEAR(ns / 10000, 0.0, 0.005);
    TEST_EXIT();
}
