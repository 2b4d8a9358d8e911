/* Losses: gradients against finite differences, known values, masking, extremes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rnnhost/gradcheck.h"
#include "rnnhost/loss.h"

enum { N = 6, C = 5 };

typedef struct {
    const int32_t *targets;    // softmax
    const float *soft_targets; // bce
    const float *weights;
    float scale;
    float scratch[N * C];
} loss_ctx;

// Returns scale * loss so that the written gradient (which includes scale) is its exact derivative.
static double xent_fn(void *vctx, const float *v, float *grad)
{
    loss_ctx *c = vctx;
    double l = rh_softmax_xent(grad ? c->scratch : NULL, v, c->targets, c->weights, N, C, c->scale);
    if (grad)
        for (int i = 0; i < N * C; i++)
            grad[i] += c->scratch[i];
    return c->scale * l;
}

static double bce_fn(void *vctx, const float *v, float *grad)
{
    loss_ctx *c = vctx;
    double l = rh_sigmoid_bce(grad ? c->scratch : NULL, v, c->soft_targets, c->weights, N, C, c->scale);
    if (grad)
        for (int i = 0; i < N * C; i++)
            grad[i] += c->scratch[i];
    return c->scale * l;
}

int main(void)
{
    rh_rng rng;
    rh_rng_seed(&rng, 2024);
    float logits[N * C], grad[N * C], soft[N * C], weights[N];
    int32_t targets[N];
    rh_gradcheck_result res;

    // Gradients, over several random draws of logits, targets (some masked), weights (one zero) and scale.
    for (int trial = 0; trial < 5; trial++) {
        for (int i = 0; i < N * C; i++) {
            logits[i] = (float)(3.0 * rh_rng_normal(&rng));
            soft[i] = (float)rh_rng_uniform(&rng);
        }
        for (int r = 0; r < N; r++) {
            targets[r] = (int32_t)rh_rng_below(&rng, C);
            weights[r] = (float)(0.25 + 2.0 * rh_rng_uniform(&rng));
        }
        targets[1] = -1;
        weights[3] = 0.0f;
        loss_ctx ctx = {targets, soft, trial % 2 ? weights : NULL, (float)(0.1 + rh_rng_uniform(&rng)), {0}};
        rh_status st = rh_gradcheck(&res, xent_fn, &ctx, logits, N * C, grad, 0, N * C, 0, 1e-2f, 1e-4, 2e-3, NULL);
        CHECK(st == RH_OK && res.checked == N * C, "softmax_xent gradient, trial %d: index %llu analytic %g numeric %g",
              trial, (unsigned long long)res.worst_index, res.analytic, res.numeric);
        st = rh_gradcheck(&res, bce_fn, &ctx, logits, N * C, grad, 0, N * C, 0, 1e-2f, 1e-4, 2e-3, NULL);
        CHECK(st == RH_OK && res.checked == N * C, "sigmoid_bce gradient, trial %d: index %llu analytic %g numeric %g",
              trial, (unsigned long long)res.worst_index, res.analytic, res.numeric);
    }

    // Known values: equal logits give log C per row, weighted.
    for (int i = 0; i < N * C; i++)
        logits[i] = 0.37f;
    for (int r = 0; r < N; r++) {
        targets[r] = r % C;
        weights[r] = (float)(r + 1);
    }
    CHECK_NEAR(rh_softmax_xent(NULL, logits, targets, NULL, N, C, 1.0f), N * log((double)C), 1e-9);
    CHECK_NEAR(rh_softmax_xent(NULL, logits, targets, weights, N, C, 1.0f), 21.0 * log((double)C), 1e-9);
    // Two classes with logits (0, log 3): p = (1/4, 3/4).
    {
        float z[2] = {0.0f, (float)log(3.0)};
        int32_t t = 0;
        float dz[2];
        CHECK_NEAR(rh_softmax_xent(dz, z, &t, NULL, 1, 2, 2.0f), log(4.0), 1e-6);
        CHECK_NEAR(dz[0], 2.0 * (0.25 - 1.0), 1e-6);
        CHECK_NEAR(dz[1], 2.0 * 0.75, 1e-6);
        float y = 1.0f, zb = 0.0f, dzb;
        CHECK_NEAR(rh_sigmoid_bce(&dzb, &zb, &y, NULL, 1, 1, 1.0f), log(2.0), 1e-12);
        CHECK_NEAR(dzb, -0.5, 1e-7);
    }

    // Masking: masked rows add nothing and get exactly zero gradient, the rest are unchanged.
    for (int i = 0; i < N * C; i++)
        logits[i] = (float)rh_rng_normal(&rng);
    for (int r = 0; r < N; r++) {
        targets[r] = (int32_t)rh_rng_below(&rng, C);
        weights[r] = 1.0f;
    }
    double per_row[N];
    for (int r = 0; r < N; r++)
        per_row[r] = rh_softmax_xent(NULL, logits + r * C, targets + r, NULL, 1, C, 1.0f);
    targets[2] = -5;
    weights[4] = 0.0f;
    for (int i = 0; i < N * C; i++)
        grad[i] = 7.0f; // must be overwritten, not added into
    double total = rh_softmax_xent(grad, logits, targets, weights, N, C, 1.0f);
    CHECK_NEAR(total, per_row[0] + per_row[1] + per_row[3] + per_row[5], 1e-9);
    int zero_rows = 1;
    for (int j = 0; j < C; j++)
        zero_rows &= grad[2 * C + j] == 0.0f && grad[4 * C + j] == 0.0f;
    CHECK(zero_rows, "masked rows must have zero gradient");
    double row_sum = 0.0;
    for (int j = 0; j < C; j++)
        row_sum += grad[0 * C + j];
    CHECK_NEAR(row_sum, 0.0, 1e-6); // softmax minus one-hot sums to zero
    for (int i = 0; i < N * C; i++)
        grad[i] = 7.0f;
    double bce_masked = rh_sigmoid_bce(grad, logits, soft, weights, N, C, 1.0f);
    double bce_row4 = rh_sigmoid_bce(NULL, logits + 4 * C, soft + 4 * C, NULL, 1, C, 1.0f);
    double bce_all = rh_sigmoid_bce(NULL, logits, soft, NULL, N, C, 1.0f);
    CHECK_NEAR(bce_masked, bce_all - bce_row4, 1e-9);
    zero_rows = 1;
    for (int j = 0; j < C; j++)
        zero_rows &= grad[4 * C + j] == 0.0f;
    CHECK(zero_rows, "masked BCE row must have zero gradient");

    // A target >= C is a caller bug and must not pass unseen.
    targets[0] = C;
    CHECK(isnan(rh_softmax_xent(NULL, logits, targets, NULL, N, C, 1.0f)), "target >= C must give NaN");

    // Extreme logits stay finite and correct.
    {
        float z[3] = {1000.0f, -1000.0f, 0.0f};
        int32_t t = 1;
        float dz[3];
        double l = rh_softmax_xent(dz, z, &t, NULL, 1, 3, 1.0f);
        CHECK_NEAR(l, 2000.0, 1e-6);
        CHECK(isfinite(dz[0]) && isfinite(dz[1]) && isfinite(dz[2]), "extreme softmax gradient not finite");
        CHECK_NEAR(dz[0], 1.0, 1e-6);
        CHECK_NEAR(dz[1], -1.0, 1e-6);
        float tb[3] = {0.0f, 1.0f, 1.0f};
        l = rh_sigmoid_bce(dz, z, tb, NULL, 1, 3, 1.0f);
        CHECK_NEAR(l, 1000.0 + 1000.0 + log(2.0), 1e-6);
        CHECK_NEAR(dz[0], 1.0, 1e-6);
        CHECK_NEAR(dz[1], -1.0, 1e-6);
        float p[3];
        rh_softmax(p, z, 1, 3);
        CHECK(p[0] == 1.0f && p[1] == 0.0f, "softmax of extremes: %g %g %g", p[0], p[1], p[2]);
    }

    // Softmax rows sum to 1, order follows the logits, and in place equals out of place.
    for (int i = 0; i < N * C; i++)
        logits[i] = (float)(10.0 * rh_rng_normal(&rng));
    float probs[N * C], inplace[N * C];
    memcpy(inplace, logits, sizeof inplace);
    rh_softmax(probs, logits, N, C);
    rh_softmax(inplace, inplace, N, C);
    CHECK(memcmp(probs, inplace, sizeof probs) == 0, "in-place softmax differs");
    for (int r = 0; r < N; r++) {
        double s = 0.0;
        for (int j = 0; j < C; j++) {
            s += probs[r * C + j];
            CHECK(probs[r * C + j] >= 0.0f, "negative probability");
            if (j > 0)
                CHECK((logits[r * C + j] > logits[r * C + j - 1]) == (probs[r * C + j] > probs[r * C + j - 1]) ||
                          probs[r * C + j] == probs[r * C + j - 1],
                      "softmax changed the order in row %d", r);
        }
        CHECK_NEAR(s, 1.0, 1e-6);
    }
    TEST_EXIT();
}
