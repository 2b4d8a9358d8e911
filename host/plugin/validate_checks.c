/* The checks of `rnnhost validate`. Every plugin answer is treated as untrusted: buffers are sized
 * exactly as the plugin asked (so a sanitizer sees any overrun), workspaces start as NaN (so a plugin
 * that reads what it never wrote shows up in its outputs), and padding tokens are out of range. */
#include "validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elfsyms.h"
#include "hostlog.h"
#include "hostmodel.h"

/* The two configs every model is checked with: small enough to be fast, large enough that every index
 * (layer, unit, input) differs from every other. */
#define DENSE_D 5
#define DENSE_H 6
#define DENSE_O 4
#define TOKEN_V 7
#define TOKEN_H 5
#define TOKEN_O 7
#define LAYERS 2

/* float32 through a few tanh layers: central differences at this eps are good to ~1e-4. */
#define GRAD_EPS 5e-3f
#define GRAD_ATOL 1e-3
#define GRAD_RTOL 2e-2
#define GRAD_SAMPLES 50

/* Two routes to the same number (batched vs alone, step vs forward) may sum in another order. */
#define SAME_ATOL 1e-5
#define SAME_RTOL 1e-4

void validate_make_case(validate_case *vc, const validate_ctx *ctx, const host_model_desc *m, uint32_t kind)
{
    memset(vc, 0, sizeof *vc);
    vc->model = m;
    vc->config.struct_size = sizeof vc->config;
    vc->config.input_kind = kind;
    vc->config.num_layers = LAYERS;
    if (kind == RH_INPUT_DENSE) {
        vc->config.input_dim = DENSE_D, vc->config.hidden_size = DENSE_H, vc->config.output_dim = DENSE_O;
    } else {
        vc->config.input_dim = TOKEN_V, vc->config.hidden_size = TOKEN_H, vc->config.output_dim = TOKEN_O;
    }
    if (m && (m->flags & RH_MODEL_COMPOSITE))
        vc->config.core = ctx->core;
    vc->config.options = ctx->options;
    host_fmt(vc->config_label, sizeof vc->config_label, "%s %s=%u H=%u L=%u O=%u%s%s%s%s",
             kind == RH_INPUT_DENSE ? "dense" : "tokens", kind == RH_INPUT_DENSE ? "D" : "V",
             vc->config.input_dim, vc->config.hidden_size, vc->config.num_layers, vc->config.output_dim,
             vc->config.core ? " core=" : "", vc->config.core ? vc->config.core : "",
             vc->config.options ? " options=" : "", vc->config.options ? vc->config.options : "");
}

/* ---- small helpers --------------------------------------------------------------------------------- */

static float *alloc_floats(uint64_t n, float fill)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    uint64_t i;
    if (p)
        for (i = 0; i < n; i++)
            p[i] = fill;
    return p;
}

static int all_finite(const float *v, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Index of the first pair outside tolerance, or -1. */
static int64_t first_mismatch(const float *a, const float *b, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= SAME_ATOL + SAME_RTOL * fabs((double)b[i])))
            return (int64_t)i;
    }
    return -1;
}

static int create(const validate_ctx *ctx, const validate_case *vc, host_model *hm, char *detail, size_t len)
{
    return host_model_create(hm, ctx->plugin, vc->model->id, &vc->config, detail, len) == RH_OK ? 0 : -1;
}

/* A batch with its own storage. Dense inputs are normal * scale; padding tokens are -1. */
typedef struct owned_batch {
    rh_batch b;
    uint32_t *lengths;
    float *x;
    int32_t *tokens;
} owned_batch;

static void batch_free(owned_batch *ob)
{
    free(ob->lengths);
    free(ob->x);
    free(ob->tokens);
    memset(ob, 0, sizeof *ob);
}

/* lengths may be NULL for "all T". */
static int batch_make(owned_batch *ob, const rh_model_info *info, uint32_t T, uint32_t B,
                      const uint32_t *lengths, double scale, rh_rng *rng)
{
    uint32_t t, b, d;
    memset(ob, 0, sizeof *ob);
    ob->b.T = T, ob->b.B = B;
    if (lengths) {
        if (!(ob->lengths = malloc((B ? B : 1) * sizeof *ob->lengths)))
            return -1;
        memcpy(ob->lengths, lengths, B * sizeof *lengths);
        ob->b.lengths = ob->lengths;
    }
    if (info->input_kind == RH_INPUT_DENSE) {
        if (!(ob->x = alloc_floats((uint64_t)T * B * info->input_dim, 0.0f)))
            return -1;
        for (t = 0; t < T; t++)
            for (b = 0; b < B; b++)
                for (d = 0; d < info->input_dim; d++)
                    ob->x[((size_t)t * B + b) * info->input_dim + d] = (float)(scale * rh_rng_normal(rng));
        ob->b.x = ob->x;
    } else {
        if (!(ob->tokens = malloc(((size_t)T * B > 0 ? (size_t)T * B : 1) * sizeof *ob->tokens)))
            return -1;
        for (t = 0; t < T; t++)
            for (b = 0; b < B; b++)
                ob->tokens[(size_t)t * B + b] =
                    (lengths && t >= lengths[b]) ? -1 : (int32_t)rh_rng_below(rng, info->input_dim);
        ob->b.tokens = ob->tokens;
    }
    return 0;
}

/* Runs forward with a NaN-filled workspace of exactly the size the model asked for. *ws_out keeps the
 * workspace for a following backward (freed by the caller), or is freed here when ws_out is NULL. */
static rh_status forward(const host_model *hm, float *y, float *h_T, const float *params, const rh_batch *batch,
                         const float *h_0, float **ws_out)
{
    uint64_t n = hm->vt->workspace_size(hm->model, batch->T, batch->B);
    float *ws = alloc_floats(n, NAN);
    rh_status st;
    if (!ws)
        return RH_ERR_NO_MEMORY;
    st = hm->vt->forward(hm->model, y, h_T, ws, params, batch, h_0);
    if (ws_out)
        *ws_out = ws;
    else
        free(ws);
    return st;
}

/* ---- exports --------------------------------------------------------------------------------------- */

static int check_exports(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                         size_t len)
{
    elf_exports ex;
    char why[256], extra[256] = "";
    size_t i, n_other = 0, used = 0;
    int has_entry = 0;
    (void)vc, (void)rng;
    if (elf_read_exports(&ex, ctx->plugin->realpath, why, sizeof why) != 0) {
        host_fmt(detail, len, "cannot read the dynamic symbol table: %s", why);
        return 1;
    }
    for (i = 0; i < ex.count; i++) {
        if (strcmp(ex.names[i], RH_ENTRY_SYMBOL) == 0) {
            has_entry = 1;
            continue;
        }
        /* Linker-defined markers older binutils export from every shared object, and the ODR indicators
         * AddressSanitizer adds beside each exported global: neither is the plugin author's doing. */
        if (!strcmp(ex.names[i], "_init") || !strcmp(ex.names[i], "_fini") || !strcmp(ex.names[i], "_edata") ||
            !strcmp(ex.names[i], "_end") || !strcmp(ex.names[i], "__bss_start") ||
            !strncmp(ex.names[i], "__odr_asan", 10))
            continue;
        if (n_other < 4 && used + strlen(ex.names[i]) + 3 < sizeof extra)
            used += (size_t)snprintf(extra + used, sizeof extra - used, "%s%s", n_other ? ", " : "", ex.names[i]);
        n_other++;
    }
    elf_exports_free(&ex);
    if (!has_entry) {
        host_fmt(detail, len, "'%s' is not in the dynamic symbol table", RH_ENTRY_SYMBOL);
        return 1;
    }
    if (n_other) {
        host_fmt(detail, len, "%zu exported symbol(s) besides %s: %s%s (build with -fvisibility=hidden)", n_other,
                 RH_ENTRY_SYMBOL, extra, n_other > 4 ? ", ..." : "");
        return 1;
    }
    host_fmt(detail, len, "only %s is exported", RH_ENTRY_SYMBOL);
    return 0;
}

/* ---- unknown-model and bad-config ------------------------------------------------------------------- */

static int check_unknown_model(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                               size_t len)
{
    rh_model *out = NULL;
    rh_config config;
    validate_case base;
    rh_status st;
    (void)vc, (void)rng;
    validate_make_case(&base, ctx, &ctx->plugin->models[0],
                       (ctx->plugin->models[0].input_kinds & RH_INPUT_DENSE) ? RH_INPUT_DENSE : RH_INPUT_TOKENS);
    config = base.config;
    config.core = ctx->core;
    st = ctx->plugin->entry.create_model(&ctx->plugin->host, "rnnhost-validate.no-such-model", &config, &out);
    if (st != RH_ERR_UNKNOWN_MODEL) {
        host_fmt(detail, len, "create_model of an unknown id returned %d (%s), expected RH_ERR_UNKNOWN_MODEL", st,
                 rh_strerror(st));
        return 1;
    }
    if (out) {
        host_fmt(detail, len, "create_model of an unknown id returned RH_ERR_UNKNOWN_MODEL but set *out");
        return 1;
    }
    host_fmt(detail, len, "refused with RH_ERR_UNKNOWN_MODEL");
    return 0;
}

static int check_bad_config(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                            size_t len)
{
    static const char *const what[] = {"hidden_size 0", "num_layers 0", "input_kind 0",
                                       "input_kind dense|tokens", "an unknown options key"};
    validate_case base;
    uint32_t kind = (vc->model->input_kinds & RH_INPUT_DENSE) ? RH_INPUT_DENSE : RH_INPUT_TOKENS;
    size_t i;
    (void)rng;
    validate_make_case(&base, ctx, vc->model, kind);
    for (i = 0; i < sizeof what / sizeof what[0]; i++) {
        rh_config c = base.config;
        rh_model *out = NULL;
        rh_status st;
        switch (i) {
        case 0: c.hidden_size = 0; break;
        case 1: c.num_layers = 0; break;
        case 2: c.input_kind = 0; break;
        case 3: c.input_kind = RH_INPUT_DENSE | RH_INPUT_TOKENS; break;
        default: c.options = "rnnhost_validate_no_such_key=1"; break;
        }
        ctx->registry->last_log[0] = '\0';
        st = ctx->plugin->entry.create_model(&ctx->plugin->host, vc->model->id, &c, &out);
        if (st == RH_OK) {
            host_fmt(detail, len, "a config with %s was accepted", what[i]);
            if (out && out->vtable && out->vtable->destroy)
                out->vtable->destroy(out);
            return 1;
        }
        if (out) {
            host_fmt(detail, len, "a config with %s was refused (%s) but *out was set", what[i], rh_strerror(st));
            return 1;
        }
        if (st < RH_ERR_INTERNAL) {
            host_fmt(detail, len, "a config with %s was refused with an unknown status %d", what[i], st);
            return 1;
        }
    }
    host_fmt(detail, len, "%zu bad configs refused%s%s", sizeof what / sizeof what[0],
             ctx->registry->last_log[0] ? ", e.g. \"" : "", ctx->registry->last_log);
    if (ctx->registry->last_log[0] && strlen(detail) + 2 < len)
        strcat(detail, "\"");
    return 0;
}

/* ---- create ---------------------------------------------------------------------------------------- */

static int check_create(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    host_model hm;
    uint64_t w_small, w_big, s1, s3;
    float *state = NULL, *state2 = NULL;
    rh_status st;
    int rc = 1;
    (void)rng;
    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    w_small = hm.vt->workspace_size(hm.model, 1, 1);
    w_big = hm.vt->workspace_size(hm.model, 7, 3);
    s1 = hm.vt->step_scratch_size(hm.model, 1);
    s3 = hm.vt->step_scratch_size(hm.model, 3);
    if (w_big < w_small || s3 < s1 || w_big > (UINT64_C(1) << 32) || s3 > (UINT64_C(1) << 32)) {
        host_fmt(detail, len, "workspace/scratch sizes not monotonic or absurd: ws(1,1)=%llu ws(7,3)=%llu "
                 "scratch(1)=%llu scratch(3)=%llu", (unsigned long long)w_small, (unsigned long long)w_big,
                 (unsigned long long)s1, (unsigned long long)s3);
        goto done;
    }
    state = alloc_floats((uint64_t)3 * hm.info.state_size, NAN);
    state2 = alloc_floats((uint64_t)3 * hm.info.state_size, NAN);
    if (!state || !state2) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = hm.vt->reset(hm.model, state, 3)) != RH_OK || !all_finite(state, (uint64_t)3 * hm.info.state_size)) {
        host_fmt(detail, len, "reset failed or left non-finite state (%s)", rh_strerror(st));
        goto done;
    }
    host_fmt(detail, len, "%llu params in %u tensors, state %u floats, output %u",
             (unsigned long long)hm.info.num_params, hm.info.num_tensors, hm.info.state_size, hm.info.output_dim);
    rc = 0;
done:
    free(state);
    free(state2);
    host_model_destroy(&hm);
    return rc;
}

/* ---- gradients ------------------------------------------------------------------------------------- */

/* L = sum(R∘y) + sum(Q∘h_T) as a function of one of params, x or h_0 (the others held fixed). */
enum { WRT_PARAMS, WRT_X, WRT_H0 };

typedef struct grad_ctx {
    const host_model *hm;
    rh_batch batch;
    const float *params, *x, *h_0;
    const float *R, *Q; /* R is (T,B,O), Q is (B,S) */
    float *y, *h_T, *dx, *dh_0, *sink;
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
    st = forward(hm, g->y, g->h_T, params, &batch, h_0, &ws);
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
        st = hm->vt->backward(hm->model, g->wrt == WRT_PARAMS ? grad : g->sink, g->wrt == WRT_X ? g->dx : NULL,
                              g->wrt == WRT_H0 ? g->dh_0 : NULL, ws, params, &batch, h_0, g->R, g->Q);
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

static int check_gradients(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                           size_t len)
{
    static const uint32_t lengths[3] = {5, 3, 0}; /* padding and an empty sequence both get checked */
    const uint32_t T = 5, B = 3;
    host_model hm;
    owned_batch ob;
    grad_ctx g;
    worst_grad worst;
    float *R = NULL, *Q = NULL, *h_0 = NULL, *y = NULL, *h_T = NULL, *dx = NULL, *dh_0 = NULL, *sink = NULL;
    float *v = NULL, *scratch = NULL;
    uint64_t ny, ns, nx, i, P;
    uint32_t k;
    rh_status st = RH_OK;
    int rc = 1;

    memset(&ob, 0, sizeof ob);
    memset(&worst, 0, sizeof worst);
    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    host_model_init_params(&hm, rh_rng_next(rng));
    P = hm.info.num_params;
    ny = (uint64_t)T * B * hm.info.output_dim, ns = (uint64_t)B * hm.info.state_size;
    nx = hm.info.input_kind == RH_INPUT_DENSE ? (uint64_t)T * B * hm.info.input_dim : 0;
    R = alloc_floats(ny, 0), Q = alloc_floats(ns, 0), h_0 = alloc_floats(ns, 0), y = alloc_floats(ny, 0);
    h_T = alloc_floats(ns, 0), dx = alloc_floats(nx, 0), dh_0 = alloc_floats(ns, 0), sink = alloc_floats(P, 0);
    v = alloc_floats(P > nx ? (P > ns ? P : ns) : (nx > ns ? nx : ns), 0);
    scratch = alloc_floats(P > nx ? (P > ns ? P : ns) : (nx > ns ? nx : ns), 0);
    if (!R || !Q || !h_0 || !y || !h_T || !dx || !dh_0 || !sink || !v || !scratch ||
        batch_make(&ob, &hm.info, T, B, lengths, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (i = 0; i < ny; i++)
        R[i] = (float)rh_rng_normal(rng);
    for (i = 0; i < ns; i++)
        Q[i] = (float)rh_rng_normal(rng);
    /* A state a model could have reached: small, so saturating gates do not hide errors. */
    if ((st = hm.vt->reset(hm.model, h_0, B)) != RH_OK) {
        host_fmt(detail, len, "reset failed: %s", rh_strerror(st));
        goto done;
    }
    for (i = 0; i < ns; i++)
        h_0[i] += (float)(0.5 * (rh_rng_uniform(rng) - 0.5));

    memset(&g, 0, sizeof g);
    g.hm = &hm, g.batch = ob.b, g.params = hm.params, g.x = ob.x, g.h_0 = h_0, g.R = R, g.Q = Q;
    g.y = y, g.h_T = h_T, g.dx = dx, g.dh_0 = dh_0, g.sink = sink;

    g.wrt = WRT_PARAMS;
    memcpy(v, hm.params, (size_t)P * sizeof *v);
    for (k = 0; k < hm.info.num_tensors && st == RH_OK; k++)
        if (hm.tensors[k].size)
            st = grad_range(&worst, &g, v, P, scratch, hm.tensors[k].offset, hm.tensors[k].size,
                            hm.tensors[k].name, rng);
    if (st == RH_OK && nx) {
        g.wrt = WRT_X;
        memcpy(v, ob.x, (size_t)nx * sizeof *v);
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
    free(R), free(Q), free(h_0), free(y), free(h_T), free(dx), free(dh_0), free(sink), free(v), free(scratch);
    batch_free(&ob);
    host_model_destroy(&hm);
    return rc;
}

/* ---- step-equals-forward ---------------------------------------------------------------------------- */

static int check_step_equals_forward(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                                     size_t len)
{
    const uint32_t T = 7, B = 3;
    host_model hm;
    owned_batch ob;
    float *y = NULL, *h_T = NULL, *ys = NULL, *state = NULL, *state2 = NULL, *scratch = NULL;
    uint64_t O, S, D, nscratch;
    uint32_t t;
    int64_t bad;
    rh_status st;
    int rc = 1;

    memset(&ob, 0, sizeof ob);
    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    host_model_init_params(&hm, rh_rng_next(rng));
    O = hm.info.output_dim, S = hm.info.state_size, D = hm.info.input_dim;
    nscratch = hm.vt->step_scratch_size(hm.model, B);
    y = alloc_floats(T * B * O, 0), h_T = alloc_floats(B * S, 0), ys = alloc_floats(B * O, 0);
    state = alloc_floats(B * S, 0), state2 = alloc_floats(B * S, 0), scratch = alloc_floats(nscratch, NAN);
    if (!y || !h_T || !ys || !state || !state2 || !scratch || batch_make(&ob, &hm.info, T, B, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(&hm, y, h_T, hm.params, &ob.b, NULL, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
        goto done;
    }
    if ((st = hm.vt->reset(hm.model, state, B)) != RH_OK || (st = hm.vt->reset(hm.model, state2, B)) != RH_OK) {
        host_fmt(detail, len, "reset failed: %s", rh_strerror(st));
        goto done;
    }
    for (t = 0; t < T; t++) {
        const float *x = ob.x ? ob.x + (size_t)t * B * D : NULL;
        const int32_t *tok = ob.tokens ? ob.tokens + (size_t)t * B : NULL;
        if ((st = hm.vt->step(hm.model, ys, state, scratch, hm.params, x, tok, B)) != RH_OK ||
            (st = hm.vt->step(hm.model, NULL, state2, scratch, hm.params, x, tok, B)) != RH_OK) {
            host_fmt(detail, len, "step %u failed: %s", t, rh_strerror(st));
            goto done;
        }
        if ((bad = first_mismatch(ys, y + (size_t)t * B * O, B * O)) >= 0) {
            host_fmt(detail, len, "step %u: y[%lld] = %.9g but forward gives %.9g", t, (long long)bad, ys[bad],
                     y[(size_t)t * B * O + (size_t)bad]);
            goto done;
        }
        if (memcmp(state, state2, (size_t)(B * S) * sizeof *state) != 0) {
            host_fmt(detail, len, "step %u: the state differs when y is NULL", t);
            goto done;
        }
    }
    if ((bad = first_mismatch(state, h_T, B * S)) >= 0) {
        host_fmt(detail, len, "after %u steps state[%lld] = %.9g but forward's h_T gives %.9g", T, (long long)bad,
                 state[bad], h_T[bad]);
        goto done;
    }
    host_fmt(detail, len, "%u steps of B=%u match forward (y and h_T)", T, B);
    rc = 0;
done:
    free(y), free(h_T), free(ys), free(state), free(state2), free(scratch);
    batch_free(&ob);
    host_model_destroy(&hm);
    return rc;
}

/* ---- half-step --------------------------------------------------------------------------------------- */

/* Steps T steps at batch 1 from the reset state over params, or over the half-step copy; y (T,O) and the
 * states (T,S) after each step. */
static rh_status steps_b1(const host_model *hm, const rh_ext_half_step *hx, const void *copy, const float *params,
                          const owned_batch *ob, uint32_t T, float *y, float *states, float *scratch)
{
    uint64_t O = hm->info.output_dim, S = hm->info.state_size, D = hm->info.input_dim;
    rh_status st = hm->vt->reset(hm->model, states, 1);
    for (uint32_t t = 0; t < T && st == RH_OK; t++) {
        float *state = states + (size_t)t * S;
        if (t > 0)
            memcpy(state, state - S, (size_t)S * sizeof *state);
        const float *x = ob->x ? ob->x + (size_t)t * D : NULL;
        const int32_t *tok = ob->tokens ? ob->tokens + t : NULL;
        st = copy ? hx->step(hm->model, y + (size_t)t * O, state, scratch, params, copy, x, tok, 1)
                  : hm->vt->step(hm->model, y + (size_t)t * O, state, scratch, params, x, tok, 1);
    }
    return st;
}

/* The optional half-step extension (halfstep.h), where the model offers it: over parameters that are all
 * halves, stepping over the copy gives the bits step gives at batch 1; over parameters that are not, the
 * copy is either refused or still gives those bits (a copy may never change a result). */
static int check_half_step(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    const uint32_t T = 7;
    host_model hm;
    owned_batch ob;
    float *y = NULL, *yh = NULL, *st1 = NULL, *sth = NULL, *scratch = NULL;
    void *copy = NULL;
    rh_status st;
    int rc = 1;

    memset(&ob, 0, sizeof ob);
    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    const rh_ext_half_step *hx = rh_half_step_of(hm.model);
    if (hx == NULL) {
        // Offered but unusable fails; not offered at all passes, the extension being optional.
        int offered = RH_VTABLE_HAS(hm.vt, get_extension) && hm.vt->get_extension(hm.model, RH_EXT_HALF_STEP);
        host_fmt(detail, len, offered ? "the extension is too small or has NULL functions" : "not offered (optional)");
        rc = offered;
        goto done;
    }
    uint64_t O = hm.info.output_dim, S = hm.info.state_size, bytes = hx->copy_size(hm.model);
    if (bytes == 0 || bytes > hm.info.num_params * sizeof(float)) {
        host_fmt(detail, len, "copy_size %llu for %llu parameters", (unsigned long long)bytes,
                 (unsigned long long)hm.info.num_params);
        goto done;
    }
    y = alloc_floats(T * O, 0), yh = alloc_floats(T * O, 0), st1 = alloc_floats(T * S, 0);
    sth = alloc_floats(T * S, 0), scratch = alloc_floats(hm.vt->step_scratch_size(hm.model, 1), NAN);
    copy = aligned_alloc(64, (size_t)(bytes + 63) / 64 * 64);
    if (!y || !yh || !st1 || !sth || !scratch || !copy || batch_make(&ob, &hm.info, T, 1, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (int halves = 1; halves >= 0; halves--) {
        const char *what = halves ? "half" : "float";
        host_model_init_params(&hm, rh_rng_next(rng));
        for (uint64_t i = 0; halves && i < hm.info.num_params; i++)
            hm.params[i] = rh_f16_to_f32(rh_f32_to_f16(hm.params[i]));
        memset(copy, 0xff, (size_t)bytes); // NaN halves: a copy that make_copy did not fill shows
        st = hx->make_copy(hm.model, copy, hm.params);
        if (!halves && st != RH_OK)
            break; // refusing parameters that are no halves is right
        if (st != RH_OK) {
            host_fmt(detail, len, "make_copy over half parameters failed: %s", rh_strerror(st));
            goto done;
        }
        if ((st = steps_b1(&hm, hx, NULL, hm.params, &ob, T, y, st1, scratch)) != RH_OK ||
            (st = steps_b1(&hm, hx, copy, hm.params, &ob, T, yh, sth, scratch)) != RH_OK) {
            host_fmt(detail, len, "step failed: %s", rh_strerror(st));
            goto done;
        }
        for (uint64_t i = 0; i < T * O; i++)
            if (memcmp(&y[i], &yh[i], sizeof *y) != 0) {
                host_fmt(detail, len, "%s parameters: step %llu: y[%llu] = %.9g over the copy, %.9g over params",
                         what, (unsigned long long)(i / O), (unsigned long long)(i % O), yh[i], y[i]);
                goto done;
            }
        if (memcmp(st1, sth, (size_t)(T * S) * sizeof *st1) != 0) {
            host_fmt(detail, len, "%s parameters: the state over the copy differs from step's", what);
            goto done;
        }
    }
    host_fmt(detail, len, "%u steps over the half copy give step's bits (y and state), %llu bytes", T,
             (unsigned long long)bytes);
    rc = 0;
done:
    free(y), free(yh), free(st1), free(sth), free(scratch), free(copy);
    batch_free(&ob);
    host_model_destroy(&hm);
    return rc;
}

/* ---- determinism ------------------------------------------------------------------------------------ */

static int check_determinism(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                             size_t len)
{
    const uint32_t T = 6, B = 2;
    host_model a, b;
    owned_batch ob;
    float *ya = NULL, *yb = NULL, *ha = NULL, *hb = NULL, *s0 = NULL, *s1 = NULL;
    uint64_t ny, ns, i;
    rh_status st;
    int rc = 1;

    memset(&ob, 0, sizeof ob);
    memset(&b, 0, sizeof b);
    if (create(ctx, vc, &a, detail, len) != 0)
        return 1;
    if (create(ctx, vc, &b, detail, len) != 0)
        goto done;
    host_model_init_params(&a, 42);
    host_model_init_params(&b, 42);
    if (a.info.num_params != b.info.num_params || memcmp(a.params, b.params, (size_t)a.info.num_params * 4) != 0) {
        host_fmt(detail, len, "two models from the same config have different layouts");
        goto done;
    }
    ny = (uint64_t)T * B * a.info.output_dim, ns = (uint64_t)B * a.info.state_size;
    ya = alloc_floats(ny, 0), yb = alloc_floats(ny, 0), ha = alloc_floats(ns, 0), hb = alloc_floats(ns, 0);
    s0 = alloc_floats(ns, NAN), s1 = alloc_floats(ns, 1e30f);
    if (!ya || !yb || !ha || !hb || !s0 || !s1 || batch_make(&ob, &a.info, T, B, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    /* reset must not depend on what the buffer held before */
    if ((st = a.vt->reset(a.model, s0, B)) != RH_OK || (st = b.vt->reset(b.model, s1, B)) != RH_OK) {
        host_fmt(detail, len, "reset failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(s0, s1, (size_t)ns * sizeof *s0) != 0) {
        host_fmt(detail, len, "reset gives different states depending on the buffer's previous content");
        goto done;
    }
    if ((st = forward(&a, ya, ha, a.params, &ob.b, NULL, NULL)) != RH_OK ||
        (st = forward(&b, yb, hb, b.params, &ob.b, NULL, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(ya, yb, (size_t)ny * 4) != 0 || memcmp(ha, hb, (size_t)ns * 4) != 0) {
        host_fmt(detail, len, "a re-created model gives different outputs for the same params and input");
        goto done;
    }
    if ((st = forward(&a, yb, hb, a.params, &ob.b, s0, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward from an explicit reset state failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(ya, yb, (size_t)ny * 4) != 0 || memcmp(ha, hb, (size_t)ns * 4) != 0) {
        host_fmt(detail, len, "forward from h_0 = reset state differs from forward with h_0 NULL");
        goto done;
    }
    for (i = 0; i < 3; i++) {
        if ((st = forward(&a, yb, hb, a.params, &ob.b, NULL, NULL)) != RH_OK) {
            host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
            goto done;
        }
        if (memcmp(ya, yb, (size_t)ny * 4) != 0 || memcmp(ha, hb, (size_t)ns * 4) != 0) {
            host_fmt(detail, len, "repeating forward on the same model gives different outputs (run %llu)",
                     (unsigned long long)i + 2);
            goto done;
        }
    }
    host_fmt(detail, len, "re-created models, repeated runs and reset agree bit for bit");
    rc = 0;
done:
    free(ya), free(yb), free(ha), free(hb), free(s0), free(s1);
    batch_free(&ob);
    host_model_destroy(&a);
    host_model_destroy(&b);
    return rc;
}

/* ---- finite ---------------------------------------------------------------------------------------- */

static int check_finite(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    const uint32_t T = 20, B = 4;
    host_model hm;
    owned_batch ob;
    float *y = NULL, *h_T = NULL, *dy = NULL, *dx = NULL, *dh_0 = NULL, *ws = NULL;
    uint64_t ny, ns, nx, i;
    rh_status st;
    int rc = 1;

    memset(&ob, 0, sizeof ob);
    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    host_model_init_params(&hm, rh_rng_next(rng));
    ny = (uint64_t)T * B * hm.info.output_dim, ns = (uint64_t)B * hm.info.state_size;
    nx = hm.info.input_kind == RH_INPUT_DENSE ? (uint64_t)T * B * hm.info.input_dim : 0;
    y = alloc_floats(ny, 0), h_T = alloc_floats(ns, 0), dy = alloc_floats(ny, 0), dx = alloc_floats(nx, 0);
    dh_0 = alloc_floats(ns, 0);
    if (!y || !h_T || !dy || !dx || !dh_0 || batch_make(&ob, &hm.info, T, B, NULL, 100.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    /* saturate every unit both ways, not only at random */
    for (i = 0; i < nx; i++)
        if (i % 3 == 0)
            ob.x[i] = (i / 3) % 2 ? 100.0f : -100.0f;
    for (i = 0; i < ny; i++)
        dy[i] = (float)rh_rng_normal(rng);
    if ((st = forward(&hm, y, h_T, hm.params, &ob.b, NULL, &ws)) != RH_OK) {
        host_fmt(detail, len, "forward failed on inputs of magnitude 100: %s", rh_strerror(st));
        goto done;
    }
    if (!all_finite(y, ny) || !all_finite(h_T, ns)) {
        host_fmt(detail, len, "forward gives non-finite outputs for inputs of magnitude 100");
        goto done;
    }
    if ((st = hm.vt->backward(hm.model, hm.grads, nx ? dx : NULL, dh_0, ws, hm.params, &ob.b, NULL, dy, NULL)) !=
        RH_OK) {
        host_fmt(detail, len, "backward failed: %s", rh_strerror(st));
        goto done;
    }
    if (!all_finite(hm.grads, hm.info.num_params) || !all_finite(dx, nx) || !all_finite(dh_0, ns)) {
        host_fmt(detail, len, "backward gives non-finite gradients for inputs of magnitude 100");
        goto done;
    }
    host_fmt(detail, len, "outputs and gradients finite for inputs up to +-100");
    rc = 0;
done:
    free(y), free(h_T), free(dy), free(dx), free(dh_0), free(ws);
    batch_free(&ob);
    host_model_destroy(&hm);
    return rc;
}

/* ---- batch-shapes ----------------------------------------------------------------------------------- */

/* Runs one sequence of ob alone and compares it with batched outputs y (T,B,O) and h_T (B,S). */
static int compare_alone(const host_model *hm, const owned_batch *ob, uint32_t b, const float *y, const float *h_T,
                         const float *reset1, char *detail, size_t len)
{
    const uint32_t T = ob->b.T, B = ob->b.B, L = ob->b.lengths ? ob->b.lengths[b] : T;
    const uint64_t O = hm->info.output_dim, S = hm->info.state_size, D = hm->info.input_dim;
    float *ya = alloc_floats((uint64_t)L * O, NAN), *ha = alloc_floats(S, NAN), *xa = NULL;
    int32_t *ta = NULL;
    rh_batch one;
    uint32_t t;
    int64_t bad;
    rh_status st;
    int rc = -1;
    memset(&one, 0, sizeof one);
    one.T = L, one.B = 1;
    if (ob->x) {
        xa = alloc_floats((uint64_t)L * D, 0);
        for (t = 0; xa && t < L; t++)
            memcpy(xa + t * D, ob->x + ((size_t)t * B + b) * D, (size_t)D * sizeof *xa);
        one.x = xa;
    } else {
        ta = malloc((L ? L : 1) * sizeof *ta);
        for (t = 0; ta && t < L; t++)
            ta[t] = ob->tokens[(size_t)t * B + b];
        one.tokens = ta;
    }
    if (!ya || !ha || (!xa && !ta)) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(hm, ya, ha, hm->params, &one, NULL, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward of sequence %u alone (T=%u) failed: %s", b, L, rh_strerror(st));
        goto done;
    }
    for (t = 0; t < L; t++)
        if ((bad = first_mismatch(y + ((size_t)t * B + b) * O, ya + (size_t)t * O, O)) >= 0) {
            host_fmt(detail, len, "T=%u B=%u: y[t=%u,b=%u,%lld] = %.9g in the batch but %.9g alone", T, B, t, b,
                     (long long)bad, y[((size_t)t * B + b) * O + (size_t)bad], ya[(size_t)t * O + (size_t)bad]);
            goto done;
        }
    if ((bad = first_mismatch(h_T + (size_t)b * S, ha, S)) >= 0) {
        host_fmt(detail, len, "T=%u B=%u: h_T[b=%u,%lld] (length %u) = %.9g in the batch but %.9g alone", T, B, b,
                 (long long)bad, L, h_T[(size_t)b * S + (size_t)bad], ha[bad]);
        goto done;
    }
    if (L == 0 && memcmp(ha, reset1, (size_t)S * sizeof *ha) != 0) {
        host_fmt(detail, len, "T=%u B=%u: a sequence of length 0 does not end in the reset state", T, B);
        goto done;
    }
    rc = 0;
done:
    free(ya), free(ha), free(xa), free(ta);
    return rc;
}

static int one_shape(const host_model *hm, uint32_t T, uint32_t B, const float *reset1, rh_rng *rng, char *detail,
                     size_t len)
{
    const uint64_t O = hm->info.output_dim, S = hm->info.state_size, D = hm->info.input_dim;
    const uint64_t ny = (uint64_t)T * B * O, ns = (uint64_t)B * S;
    const uint64_t nx = hm->info.input_kind == RH_INPUT_DENSE ? (uint64_t)T * B * D : 0;
    uint32_t *lengths = malloc((B ? B : 1) * sizeof *lengths), b, t;
    owned_batch ob;
    float *y = alloc_floats(ny, NAN), *h_T = alloc_floats(ns, NAN), *dy = alloc_floats(ny, 0);
    float *dx = alloc_floats(nx, NAN), *dh_0 = alloc_floats(ns, NAN), *ws = NULL;
    uint64_t i;
    rh_status st;
    int rc = -1;
    memset(&ob, 0, sizeof ob);
    if (!lengths || !y || !h_T || !dy || !dx || !dh_0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (b = 0; b < B; b++)
        lengths[b] = rh_rng_below(rng, T + 1);
    if (B > 0)
        lengths[0] = T; /* the longest and the empty sequence are always in the batch */
    if (B > 1)
        lengths[1] = 0;
    if (batch_make(&ob, &hm->info, T, B, lengths, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(hm, y, h_T, hm->params, &ob.b, NULL, &ws)) != RH_OK) {
        host_fmt(detail, len, "forward with T=%u B=%u failed: %s", T, B, rh_strerror(st));
        goto done;
    }
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++)
            for (i = 0; t >= lengths[b] && i < O; i++)
                if (y[((size_t)t * B + b) * O + i] != 0.0f) {
                    host_fmt(detail, len, "T=%u B=%u: y[t=%u,b=%u] is not zero past the length %u", T, B, t, b,
                             lengths[b]);
                    goto done;
                }
    for (b = 0; b < B; b++)
        if (compare_alone(hm, &ob, b, y, h_T, reset1, detail, len) != 0)
            goto done;
    for (i = 0; i < ny; i++)
        dy[i] = (float)rh_rng_normal(rng);
    if ((st = hm->vt->backward(hm->model, hm->grads, nx ? dx : NULL, dh_0, ws, hm->params, &ob.b, NULL, dy, NULL)) !=
        RH_OK) {
        host_fmt(detail, len, "backward with T=%u B=%u failed: %s", T, B, rh_strerror(st));
        goto done;
    }
    for (t = 0; nx && t < T; t++)
        for (b = 0; b < B; b++)
            for (i = 0; t >= lengths[b] && i < D; i++)
                if (dx[((size_t)t * B + b) * D + i] != 0.0f) {
                    host_fmt(detail, len, "T=%u B=%u: dx[t=%u,b=%u] is not zero past the length %u", T, B, t, b,
                             lengths[b]);
                    goto done;
                }
    if (!all_finite(dh_0, ns) || !all_finite(dx, nx)) {
        host_fmt(detail, len, "T=%u B=%u: backward left dx or dh_0 unwritten or non-finite", T, B);
        goto done;
    }
    rc = 0;
done:
    free(lengths), free(y), free(h_T), free(dy), free(dx), free(dh_0), free(ws);
    batch_free(&ob);
    return rc;
}

static int check_batch_shapes(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                              size_t len)
{
    static const uint32_t Ts[] = {0, 1, 7, 100}, Bs[] = {0, 1, 3, 33};
    host_model hm;
    float *reset1 = NULL;
    size_t i, j;
    int rc = 1;
    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    host_model_init_params(&hm, rh_rng_next(rng));
    if (!(reset1 = alloc_floats(hm.info.state_size, 0)) || hm.vt->reset(hm.model, reset1, 1) != RH_OK) {
        host_fmt(detail, len, "reset failed");
        goto done;
    }
    for (i = 0; i < sizeof Ts / sizeof Ts[0]; i++)
        for (j = 0; j < sizeof Bs / sizeof Bs[0]; j++)
            if (one_shape(&hm, Ts[i], Bs[j], reset1, rng, detail, len) != 0)
                goto done;
    host_fmt(detail, len, "T in {0,1,7,100} x B in {0,1,3,33} with mixed lengths match sequences run alone");
    rc = 0;
done:
    free(reset1);
    host_model_destroy(&hm);
    return rc;
}

/* ---- weights-roundtrip and hostile-weights ----------------------------------------------------------- */

static int write_params(const validate_ctx *ctx, const host_model *hm, const char *path, const rh_tensor *tensors,
                        const float *const *datas, uint32_t n, char *detail, size_t len)
{
    rh_blob *blobs = calloc(n ? n : 1, sizeof *blobs);
    rh_meta meta[2] = {{"plugin", ctx->plugin->id}, {"validate", "1"}};
    char err[256];
    uint32_t i;
    rh_status st;
    if (!blobs) {
        host_fmt(detail, len, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++)
        blobs[i] = rh_blob_from_tensor(&tensors[i], datas ? datas[i] : hm->params);
    st = rh_weights_write(path, meta, 2, blobs, n, err, sizeof err);
    free(blobs);
    if (st != RH_OK) {
        host_fmt(detail, len, "rh_weights_write failed: %s: %s", rh_strerror(st), err);
        return -1;
    }
    return 0;
}

static void weights_path(char *path, size_t n, const validate_ctx *ctx, const validate_case *vc, const char *what)
{
    host_fmt(path, n, "%s/%s-%s-%u.safetensors", ctx->tmpdir, vc->model->id, what, vc->config.input_kind);
}

static int check_weights_roundtrip(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                                   size_t len)
{
    const uint32_t T = 5, B = 2;
    host_model a, b;
    owned_batch ob;
    rh_weights *w = NULL;
    char path[1024], err[256];
    float *ya = NULL, *yb = NULL;
    uint64_t ny;
    const char *plugin_meta;
    rh_status st;
    int rc = 1;

    memset(&ob, 0, sizeof ob);
    memset(&b, 0, sizeof b);
    if (create(ctx, vc, &a, detail, len) != 0)
        return 1;
    if (create(ctx, vc, &b, detail, len) != 0)
        goto done;
    host_model_init_params(&a, rh_rng_next(rng));
    weights_path(path, sizeof path, ctx, vc, "roundtrip");
    if (write_params(ctx, &a, path, a.tensors, NULL, a.info.num_tensors, detail, len) != 0)
        goto done;
    if ((st = rh_weights_open(&w, path, err, sizeof err)) != RH_OK) {
        host_fmt(detail, len, "the file just written cannot be read: %s: %s", rh_strerror(st), err);
        goto done;
    }
    if (!(plugin_meta = rh_weights_meta(w, "plugin")) || strcmp(plugin_meta, ctx->plugin->id) != 0) {
        host_fmt(detail, len, "metadata \"plugin\" did not survive the round trip");
        goto done;
    }
    if ((st = rh_weights_load_tensors(w, b.params, b.tensors, b.info.num_tensors, NULL, err, sizeof err)) != RH_OK) {
        host_fmt(detail, len, "loading the tensors back failed: %s: %s", rh_strerror(st), err);
        goto done;
    }
    if (memcmp(a.params, b.params, (size_t)a.info.num_params * sizeof(float)) != 0) {
        host_fmt(detail, len, "parameters read back differ from those written");
        goto done;
    }
    ny = (uint64_t)T * B * a.info.output_dim;
    ya = alloc_floats(ny, 0), yb = alloc_floats(ny, 0);
    if (!ya || !yb || batch_make(&ob, &a.info, T, B, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(&a, ya, NULL, a.params, &ob.b, NULL, NULL)) != RH_OK ||
        (st = forward(&b, yb, NULL, b.params, &ob.b, NULL, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(ya, yb, (size_t)ny * sizeof *ya) != 0) {
        host_fmt(detail, len, "a model with reloaded weights gives different outputs");
        goto done;
    }
    host_fmt(detail, len, "%u tensors saved and reloaded bit-identical, same outputs", a.info.num_tensors);
    rc = 0;
done:
    rh_weights_close(w);
    unlink(path);
    free(ya), free(yb);
    batch_free(&ob);
    host_model_destroy(&a);
    host_model_destroy(&b);
    return rc;
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *d = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (d = malloc((size_t)n + 1)) != NULL && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    if (d)
        *size = (size_t)n;
    fclose(f);
    return d;
}

/* 0 when the bytes are refused (by the reader or by the loader), 1 when they load into the layout. */
static int accepted(const host_model *hm, const void *bytes, size_t n, const char *path)
{
    rh_weights *w = NULL;
    char err[256];
    int ok;
    if (path) {
        FILE *f = fopen(path, "wb");
        if (!f)
            return 0;
        if (n)
            fwrite(bytes, 1, n, f);
        fclose(f);
        ok = rh_weights_open(&w, path, err, sizeof err) == RH_OK;
        unlink(path);
    } else {
        ok = rh_weights_from_memory(&w, bytes, n, err, sizeof err) == RH_OK;
    }
    if (ok)
        ok = rh_weights_load_tensors(w, hm->grads, hm->tensors, hm->info.num_tensors, NULL, err, sizeof err) == RH_OK;
    rh_weights_close(w);
    return ok;
}

static int check_hostile_weights(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                                 size_t len)
{
    host_model hm;
    char path[1024], scratch_path[1024];
    unsigned char *good = NULL, *junk = NULL;
    size_t size = 0, cuts = 0, i;
    uint64_t header_len = 0;
    rh_tensor *bent = NULL;
    const float **datas = NULL;
    float *big = NULL;
    uint32_t k, n;
    int rc = 1;

    if (create(ctx, vc, &hm, detail, len) != 0)
        return 1;
    n = hm.info.num_tensors;
    host_model_init_params(&hm, rh_rng_next(rng));
    weights_path(path, sizeof path, ctx, vc, "hostile");
    weights_path(scratch_path, sizeof scratch_path, ctx, vc, "hostile-cut");
    if (write_params(ctx, &hm, path, hm.tensors, NULL, n, detail, len) != 0)
        goto done;
    if (!(good = read_file(path, &size)) || size < 8) {
        host_fmt(detail, len, "cannot read back %s", path);
        goto done;
    }
    if (!accepted(&hm, good, size, NULL)) {
        host_fmt(detail, len, "the untouched file is refused");
        goto done;
    }
    for (i = 0; i < 8; i++)
        header_len |= (uint64_t)good[i] << (8 * i);
    /* Every truncation is refused: the cut points that matter (inside the length, the header, each
     * boundary) plus random ones; a few go through the file path, the rest through memory. */
    {
        size_t fixed[] = {0, 1, 4, 7, 8, 9, 10, 16};
        size_t cut;
        for (i = 0; i < 8 + 8 + 24; i++) {
            if (i < 8)
                cut = fixed[i];
            else if (i < 16)
                cut = (size_t)(8 + header_len) + (i - 12); /* around the end of the JSON header */
            else if (i < 20)
                cut = size - 1 - (i - 16) * 3;
            else
                cut = rh_rng_below(rng, (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size));
            if (cut >= size)
                continue;
            if (accepted(&hm, good, cut, i % 5 == 0 ? scratch_path : NULL)) {
                host_fmt(detail, len, "the file truncated to %zu of %zu bytes was accepted", cut, size);
                goto done;
            }
            cuts++;
        }
    }
    /* Random bytes, and random bytes behind a plausible header length. */
    if (!(junk = malloc(size + 64))) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (i = 0; i < 24; i++) {
        size_t m = rh_rng_below(rng, (uint32_t)(size + 64)), j;
        for (j = 0; j < m; j++)
            junk[j] = (unsigned char)rh_rng_below(rng, 256);
        if (i % 2 && m >= 8) {
            uint64_t hl = rh_rng_below(rng, (uint32_t)m);
            for (j = 0; j < 8; j++)
                junk[j] = (unsigned char)(hl >> (8 * j));
            if (m > 8)
                junk[8] = '{';
        }
        if (accepted(&hm, junk, m, i % 6 == 0 ? scratch_path : NULL)) {
            host_fmt(detail, len, "%zu random bytes were accepted as weights", m);
            goto done;
        }
    }
    /* Flipped bytes may or may not be valid: here only "no crash" is asked. */
    for (i = 0; i < 24; i++) {
        memcpy(junk, good, size);
        junk[rh_rng_below(rng, (uint32_t)size)] ^= (unsigned char)(1u + rh_rng_below(rng, 255));
        (void)accepted(&hm, junk, size, NULL);
    }
    /* The first tensor one element longer than the model's: a shape mismatch must be refused. */
    bent = malloc(n * sizeof *bent);
    datas = malloc(n * sizeof *datas);
    big = alloc_floats(hm.tensors[0].size + 1, 0.5f);
    if (!bent || !datas || !big) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    memcpy(bent, hm.tensors, n * sizeof *bent);
    for (k = 0; k < n; k++)
        datas[k] = hm.params;
    bent[0].ndim = 1;
    memset(bent[0].shape, 0, sizeof bent[0].shape);
    bent[0].shape[0] = (uint32_t)hm.tensors[0].size + 1;
    bent[0].size = hm.tensors[0].size + 1;
    bent[0].offset = 0;
    datas[0] = big;
    if (write_params(ctx, &hm, path, bent, datas, n, detail, len) != 0)
        goto done;
    free(good);
    if (!(good = read_file(path, &size)) || accepted(&hm, good, size, NULL)) {
        host_fmt(detail, len, "a file whose tensor '%s' has the wrong shape was accepted", hm.tensors[0].name);
        goto done;
    }
    /* And a file missing the last tensor. */
    if (write_params(ctx, &hm, path, hm.tensors, NULL, n - 1, detail, len) != 0)
        goto done;
    free(good);
    if (!(good = read_file(path, &size)) || accepted(&hm, good, size, NULL)) {
        host_fmt(detail, len, "a file missing tensor '%s' was accepted", hm.tensors[n - 1].name);
        goto done;
    }
    host_fmt(detail, len, "%zu truncations, 24 random files, a wrong shape and a missing tensor refused", cuts);
    rc = 0;
done:
    unlink(path);
    unlink(scratch_path);
    free(good), free(junk), free(bent), free(datas), free(big);
    host_model_destroy(&hm);
    return rc;
}

const check_def validate_checks[] = {
    {"exports", CHECK_PER_PLUGIN, check_exports},
    {"unknown-model", CHECK_PER_PLUGIN, check_unknown_model},
    {"bad-config", CHECK_PER_MODEL, check_bad_config},
    {"create", CHECK_PER_CONFIG, check_create},
    {"gradients", CHECK_PER_CONFIG, check_gradients},
    {"step-equals-forward", CHECK_PER_CONFIG, check_step_equals_forward},
    {"half-step", CHECK_PER_CONFIG, check_half_step},
    {"determinism", CHECK_PER_CONFIG, check_determinism},
    {"finite", CHECK_PER_CONFIG, check_finite},
    {"batch-shapes", CHECK_PER_CONFIG, check_batch_shapes},
    {"weights-roundtrip", CHECK_PER_CONFIG, check_weights_roundtrip},
    {"hostile-weights", CHECK_PER_CONFIG, check_hostile_weights},
};
const size_t validate_num_checks = sizeof validate_checks / sizeof validate_checks[0];
