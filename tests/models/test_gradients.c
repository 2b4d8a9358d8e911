/* Every gradient of a plugin against central differences: each parameter tensor, dx and dh_0, for a
 * random scalar loss L = sum(R ∘ y) + sum(Q ∘ h_T) over a padded batch. R is random at padding positions
 * too, so a model that leaks padding into y or reads dy there fails. A model with dropout is checked as it
 * trains, through its dropout extension with one seed's masks held fixed.
 * Usage: test_gradients MODULE.so */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct case_def {
    const char *label;
    uint32_t kind, D, H, L, O;
    const char *options; /* config.options, NULL for none */
} case_def;

/* The loss as a function of one vector v = [params (P), x (T*B*D, dense only), h_0 (B*S)]. */
typedef struct loss_ctx {
    const rh_model *m;
    rh_model_info info;
    rh_batch batch; /* x points into v on every call */
    const int32_t *tokens;
    uint64_t P, nx, nh;
    const float *R, *Q; /* (T,B,O), (B,S) */
    float *y, *h_T, *ws, *dx, *dh0;
    const rh_ext_dropout *drop; /* with masks: the training forward and backward; NULL: the vtable's */
    rh_dropout_masks masks;
} loss_ctx;

static double loss_fn(void *vctx, const float *v, float *grad)
{
    loss_ctx *c = vctx;
    const rh_model *m = c->m;
    const float *params = v, *x = v + c->P, *h_0 = v + c->P + c->nx;
    rh_batch batch = c->batch;
    batch.x = c->nx > 0 ? x : NULL;
    uint64_t ny = (uint64_t)batch.T * batch.B * c->info.output_dim;
    rh_status st = c->drop ? c->drop->forward(m, c->y, c->h_T, c->ws, params, &batch, h_0, &c->masks)
                           : m->vtable->forward(m, c->y, c->h_T, c->ws, params, &batch, h_0);
    if (st != RH_OK)
        return 0.0 / 0.0; /* NaN: the checker reports a non-finite loss */
    double L = 0.0;
    for (uint64_t i = 0; i < ny; i++)
        L += (double)c->R[i] * c->y[i];
    for (uint64_t i = 0; i < c->nh; i++)
        L += (double)c->Q[i] * c->h_T[i];
    if (grad != NULL) {
        float *dx = c->nx > 0 ? c->dx : NULL;
        st = c->drop ? c->drop->backward(m, grad, dx, c->dh0, c->ws, params, &batch, h_0, c->R, c->Q, &c->masks)
                     : m->vtable->backward(m, grad, dx, c->dh0, c->ws, params, &batch, h_0, c->R, c->Q);
        if (st != RH_OK)
            return 0.0 / 0.0;
        for (uint64_t i = 0; i < c->nx; i++)
            grad[c->P + i] += c->dx[i];
        for (uint64_t i = 0; i < c->nh; i++)
            grad[c->P + c->nx + i] += c->dh0[i];
    }
    return L;
}

/* Checks every element of [begin, begin+count), or `samples` of them drawn at random when samples > 0. */
static int check_range(harness *h, loss_ctx *c, float *v, uint64_t n, float *scratch, uint64_t begin,
                       uint64_t count, uint64_t samples, const char *what, rh_rng *rng)
{
    // float32 forward, double loss: eps 5e-3 keeps truncation (~eps^2) and rounding (~1e-7/eps) both
    // near 1e-5, far below the O(1) relative error of a wrong sign or a missing term.
    const float eps = 5e-3f;
    const double atol = 2.5e-4, rtol = 1e-2;
    rh_gradcheck_result r;
    rh_status st = rh_gradcheck(&r, loss_fn, c, v, n, scratch, begin, count, samples, eps, atol, rtol, rng);
    uint64_t want = samples > 0 && samples < count ? samples : count;
    printf("    %-10s %5llu checked, worst ratio %.3f (analytic %+.6f numeric %+.6f)\n", what,
           (unsigned long long)r.checked, r.worst_ratio, r.analytic, r.numeric);
    return check(h, st == RH_OK && r.checked == want, "%s: gradient of %s wrong (status %d, %llu of %llu failed)",
                 harness_model_id(h), what, st, (unsigned long long)r.failed, (unsigned long long)r.checked);
}

static void run_case(harness *h, const case_def *cd, uint64_t seed)
{
    printf("  %s: %s D=%u H=%u L=%u O=%u\n", harness_model_id(h), cd->label, cd->D, cd->H, cd->L, cd->O);
    rh_status st;
    rh_model *m = harness_create_with(h, cd->kind, cd->D, cd->H, cd->L, cd->O, cd->options, &st);
    if (!check(h, m != NULL, "create %s failed: %d", cd->label, st))
        return;
    rh_model_info info = harness_info(m);
    rh_tensor *tensors = xcalloc(info.num_tensors, sizeof *tensors);
    for (uint32_t i = 0; i < info.num_tensors; i++)
        m->vtable->get_tensor(m, i, &tensors[i]);
    char why[200];
    check(h, rh_layout_check(tensors, info.num_tensors, info.num_params, why, sizeof why) == RH_OK,
          "layout: %s", why);

    enum { T = 5, B = 4 };
    const uint32_t lengths[B] = {5, 2, 0, 4}; // a full, a short and an empty sequence
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    int32_t tokens[T * B];
    for (int i = 0; i < T * B; i++)
        tokens[i] = (int32_t)rh_rng_below(&rng, cd->D);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            if ((uint32_t)t >= lengths[b])
                tokens[t * B + b] = -1; // never read: an out-of-range id proves it

    loss_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.info = info;
    c.drop = rh_dropout_of(m);
    c.masks = (rh_dropout_masks){seed * 7919, 2};
    if (cd->options != NULL && !check(h, c.drop != NULL, "%s: no dropout extension", cd->label))
        return;
    c.batch.T = T;
    c.batch.B = B;
    c.batch.lengths = lengths;
    c.batch.tokens = cd->kind == RH_INPUT_TOKENS ? tokens : NULL;
    c.P = info.num_params;
    c.nx = cd->kind == RH_INPUT_DENSE ? (uint64_t)T * B * cd->D : 0;
    c.nh = (uint64_t)B * info.state_size;
    uint64_t ny = (uint64_t)T * B * info.output_dim;
    float *R = xcalloc(ny, sizeof(float)), *Q = xcalloc(c.nh, sizeof(float));
    fill_uniform(R, ny, 1.0f, &rng);
    fill_uniform(Q, c.nh, 1.0f, &rng);
    c.R = R;
    c.Q = Q;
    c.y = xcalloc(ny, sizeof(float));
    c.h_T = xcalloc(c.nh, sizeof(float));
    c.ws = xcalloc(m->vtable->workspace_size(m, T, B), sizeof(float));
    c.dx = xcalloc(c.nx, sizeof(float));
    c.dh0 = xcalloc(c.nh, sizeof(float));

    uint64_t n = c.P + c.nx + c.nh;
    float *v = xcalloc(n, sizeof(float)), *scratch = xcalloc(n, sizeof(float));
    // Larger than the default init so that gates saturate unevenly and every term of the cell matters; for
    // wide layers scaled by 1/sqrt(H) like the default init, or sums of H terms drown the float32 differences.
    fill_uniform(v, n, cd->H > 8 ? 0.8f * sqrtf(4.0f / (float)cd->H) : 0.8f, &rng);

    // A wide model's tensors are sampled: a wrong product or gate term spoils far more than a few hundred
    // elements, and checking all of them costs minutes under the sanitizers.
    uint64_t samples = cd->H > 8 ? 300 : 0;
    for (uint32_t i = 0; i < info.num_tensors; i++)
        check_range(h, &c, v, n, scratch, tensors[i].offset, tensors[i].size, samples, tensors[i].name, &rng);
    if (c.nx > 0)
        check_range(h, &c, v, n, scratch, c.P, c.nx, samples, "dx", &rng);
    check_range(h, &c, v, n, scratch, c.P + c.nx, c.nh, samples, "dh_0", &rng);

    // dx is zero at padding positions and dh_0 of the empty sequence is exactly dh_T.
    memset(scratch, 0, n * sizeof(float));
    loss_fn(&c, v, scratch);
    for (int t = 0; t < T && c.nx > 0; t++)
        for (int b = 0; b < B; b++)
            for (uint32_t d = 0; (uint32_t)t >= lengths[b] && d < cd->D; d++)
                check(h, c.dx[((size_t)t * B + b) * cd->D + d] == 0.0f, "dx not zero at padding t=%d b=%d", t, b);
    for (uint32_t s = 0; s < info.state_size; s++)
        check(h, c.dh0[2 * info.state_size + s] == Q[2 * info.state_size + s],
              "dh_0 of an empty sequence differs from dh_T");

    free(v);
    free(scratch);
    free(R);
    free(Q);
    free(c.y);
    free(c.h_T);
    free(c.ws);
    free(c.dx);
    free(c.dh0);
    free(tensors);
    m->vtable->destroy(m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
        return 1;
    }
    harness h;
    if (harness_open(&h, argv[1]) != 0)
        return 1;
    const case_def cases[] = {
        {"tokens, 3 layers, projection", RH_INPUT_TOKENS, 7, 5, 3, 4, NULL},
        {"tokens, 2 layers, no projection", RH_INPUT_TOKENS, 6, 4, 2, 0, NULL},
        {"dense, 2 layers, projection", RH_INPUT_DENSE, 3, 4, 2, 3, NULL},
        {"dense, 1 layer, no projection", RH_INPUT_DENSE, 3, 4, 1, 0, NULL},
        // wider than one 32-unit panel of the recurrent kernel, with a partial panel after it
        {"tokens, 2 layers, 40 units", RH_INPUT_TOKENS, 6, 40, 2, 3, NULL},
        {"dense, 1 layer, 64 units", RH_INPUT_DENSE, 3, 64, 1, 0, NULL},
        // dropout in training, its masks fixed: on the outputs of every layer, before the projection or as y
        {"tokens, 3 layers, projection, dropout 0.4", RH_INPUT_TOKENS, 7, 5, 3, 4, "dropout=0.4"},
        {"dense, 2 layers, no projection, dropout 0.3", RH_INPUT_DENSE, 3, 4, 2, 0, "dropout=0.3"},
        {"tokens, 2 layers, 40 units, dropout 0.5", RH_INPUT_TOKENS, 6, 40, 2, 3, "dropout=0.5"},
        // recurrent dropout: h<t-1> masked in every recurrent product, one mask per sequence and layer
        {"tokens, 2 layers, projection, recurrent dropout 0.4", RH_INPUT_TOKENS, 7, 5, 2, 4,
         "recurrent_dropout=0.4"},
        // (milder at 40 units: a kept unit's factor 1/(1-P) scales the sums, and with them the float32
        // rounding of the finite differences)
        {"dense, 2 layers, 40 units, both dropouts", RH_INPUT_DENSE, 3, 40, 2, 0, "dropout=0.2;recurrent_dropout=0.3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&h, &cases[i], 1000 + i);
    harness_close(&h);
    printf("%s: %s\n", argv[0], h.failures ? "FAILED" : "ok");
    return h.failures ? 1 : 0;
}
