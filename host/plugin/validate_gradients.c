/* The gradients check: backward against central differences of forward, for the parameters, the inputs
 * and the initial state, over a batch with padding and an empty sequence. A model with dropout (--options
 * dropout=P) is checked as it trains: through its dropout extension, with one seed's masks held fixed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "validate_fixture.h"

/* ---- gradients ------------------------------------------------------------------------------------- */

/* L = sum(R∘y) + sum(Q∘h_T) as a function of one of params, x or h_0 (the others held fixed). */
enum { WRT_PARAMS, WRT_X, WRT_H0 };

typedef struct grad_ctx {
    const host_model *hm;
    rh_batch batch;
    const float *params, *x, *h_0;
    const float *R, *Q; /* R is (T,B,O), Q is (B,S) */
    float *y, *h_T, *dx, *dh_0, *sink;
    const rh_dropout_masks *masks; /* the model's dropout masks, or NULL when it has no dropout */
    int wrt;
    rh_status error;
} grad_ctx;

static double loss_fn(void *vctx, const float *v, float *grad)
{
    grad_ctx *g = vctx;
    const host_model *hm = g->hm;
    const float *params = g->wrt == WRT_PARAMS ? v : g->params;
    const float *h_0 = g->wrt == WRT_H0 ? v : g->h_0;
    rh_batch batch = g->batch;
    uint64_t ny = (uint64_t)batch.T * batch.B * hm->info.output_dim, ns = (uint64_t)batch.B * hm->info.state_size;
    uint64_t nx = (uint64_t)batch.T * batch.B * hm->info.input_dim, i;
    float *ws = NULL;
    double L = 0.0;
    rh_status st;
    if (g->wrt == WRT_X)
        batch.x = v;
    st = forward_masked(hm, g->y, g->h_T, params, &batch, h_0, g->masks, &ws);
    if (st != RH_OK) {
        g->error = st;
        free(ws);
        return NAN;
    }
    for (i = 0; i < ny; i++)
        L += (double)g->R[i] * g->y[i];
    for (i = 0; i < ns; i++)
        L += (double)g->Q[i] * g->h_T[i];
    if (grad) {
        float *dparams = g->wrt == WRT_PARAMS ? grad : g->sink;
        st = host_model_train_backward(hm, params, dparams, g->wrt == WRT_X ? g->dx : NULL,
                                       g->wrt == WRT_H0 ? g->dh_0 : NULL, ws, &batch, h_0, g->R, g->Q, g->masks);
        if (st != RH_OK) {
            g->error = st;
            free(ws);
            return NAN;
        }
        if (g->wrt == WRT_X)
            for (i = 0; i < nx; i++)
                grad[i] += g->dx[i];
        if (g->wrt == WRT_H0)
            for (i = 0; i < ns; i++)
                grad[i] += g->dh_0[i];
    }
    free(ws);
    return L;
}

typedef struct worst_grad {
    double ratio, analytic, numeric;
    char where[96];
    uint64_t checked, failed;
} worst_grad;

/* Checks entries [begin, begin + count) of v; folds the outcome into worst. */
static rh_status grad_range(worst_grad *worst, grad_ctx *g, float *v, uint64_t n, float *scratch, uint64_t begin,
                            uint64_t count, const char *name, rh_rng *rng)
{
    rh_gradcheck_result res;
    rh_status st;
    memset(&res, 0, sizeof res);
    st = rh_gradcheck(&res, loss_fn, g, v, n, scratch, begin, count, GRAD_SAMPLES, GRAD_EPS, GRAD_ATOL, GRAD_RTOL,
                      rng);
    worst->checked += res.checked;
    worst->failed += res.failed;
    if (res.checked && (res.worst_ratio > worst->ratio || worst->where[0] == '\0')) {
        worst->ratio = res.worst_ratio;
        worst->analytic = res.analytic;
        worst->numeric = res.numeric;
        host_fmt(worst->where, sizeof worst->where, "%s[%llu]", name,
                 (unsigned long long)(res.worst_index - begin));
    }
    if (g->error != RH_OK)
        return g->error;
    return st;
}

int validate_gradients(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    static const uint32_t lengths[3] = {5, 3, 0}; /* padding and an empty sequence both get checked */
    fixture f;
    grad_ctx g;
    worst_grad worst;
    rh_status st = RH_OK;
    int rc = 1;
    memset(&worst, 0, sizeof worst);
    if (fixture_begin(&f, ctx, vc, rng, detail, len) != 0)
        return 1;
    host_model *hm = &f.hm;
    const sizes n = sizes_of(hm, 5, 3);
    const uint64_t ny = n.y, ns = n.s, nx = n.x, P = hm->info.num_params;
    const uint64_t widest = P > nx ? (P > ns ? P : ns) : (nx > ns ? nx : ns);
    float *R = fixture_floats(&f, ny, 0), *Q = fixture_floats(&f, ns, 0), *h_0 = fixture_floats(&f, ns, 0);
    float *y = fixture_floats(&f, ny, 0), *h_T = fixture_floats(&f, ns, 0), *dx = fixture_floats(&f, nx, 0);
    float *dh_0 = fixture_floats(&f, ns, 0), *sink = fixture_floats(&f, P, 0);
    float *v = fixture_floats(&f, widest, 0), *scratch = fixture_floats(&f, widest, 0);
    if (f.out_of_memory || batch_make(&f.ob, &hm->info, n.T, n.B, lengths, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < ny; i++)
        R[i] = (float)rh_rng_normal(rng);
    for (uint64_t i = 0; i < ns; i++)
        Q[i] = (float)rh_rng_normal(rng);
    /* A state a model could have reached: small, so saturating gates do not hide errors. */
    if ((st = hm->vt->reset(hm->model, h_0, n.B)) != RH_OK) {
        host_fmt(detail, len, "reset failed: %s", rh_strerror(st));
        goto done;
    }
    for (uint64_t i = 0; i < ns; i++)
        h_0[i] += (float)(0.5 * (rh_rng_uniform(rng) - 0.5));

    memset(&g, 0, sizeof g);
    g.hm = hm, g.batch = f.ob.b, g.params = hm->params, g.x = f.ob.x, g.h_0 = h_0, g.R = R, g.Q = Q;
    g.y = y, g.h_T = h_T, g.dx = dx, g.dh_0 = dh_0, g.sink = sink;
    const rh_dropout_masks masks = {rh_rng_next(rng), 1};
    g.masks = hm->dropout ? &masks : NULL;

    g.wrt = WRT_PARAMS;
    memcpy(v, hm->params, (size_t)P * sizeof *v);
    for (uint32_t k = 0; k < hm->info.num_tensors && st == RH_OK; k++)
        if (hm->tensors[k].size)
            st = grad_range(&worst, &g, v, P, scratch, hm->tensors[k].offset, hm->tensors[k].size,
                            hm->tensors[k].name, rng);
    if (st == RH_OK && nx) {
        g.wrt = WRT_X;
        memcpy(v, f.ob.x, (size_t)nx * sizeof *v);
        st = grad_range(&worst, &g, v, nx, scratch, 0, nx, "dx", rng);
    }
    if (st == RH_OK) {
        g.wrt = WRT_H0;
        memcpy(v, h_0, (size_t)ns * sizeof *v);
        st = grad_range(&worst, &g, v, ns, scratch, 0, ns, "dh_0", rng);
    }
    if (g.error != RH_OK) {
        host_fmt(detail, len, "forward/backward failed: %s", rh_strerror(g.error));
    } else if (st == RH_ERR_NOT_FINITE) {
        host_fmt(detail, len, "the loss became non-finite");
    } else if (st != RH_OK && st != RH_ERR_SHAPE) {
        host_fmt(detail, len, "gradient checker failed: %s", rh_strerror(st));
    } else if (worst.failed || st == RH_ERR_SHAPE) {
        host_fmt(detail, len, "%llu of %llu entries off; worst %s: analytic %.6g, numeric %.6g",
                 (unsigned long long)worst.failed, (unsigned long long)worst.checked, worst.where, worst.analytic,
                 worst.numeric);
    } else if (worst.checked == 0) {
        host_fmt(detail, len, "no entries were checked");
    } else {
        host_fmt(detail, len, "%llu entries within tolerance; worst %s: analytic %.6g, numeric %.6g",
                 (unsigned long long)worst.checked, worst.where, worst.analytic, worst.numeric);
        rc = 0;
    }
done:
    fixture_end(&f);
    return rc;
}
