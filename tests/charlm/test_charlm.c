/* The charlm plugin through the ABI alone, with a host of our own: this host dlopen()s the core plugins
 * given on the command line and serves create_model from them, and it wraps every core it hands out so
 * it can count destroys (a composite must never leak or double-free its core, also when it refuses one).
 *
 *   test_charlm CHARLM_SO CORE_SO...      e.g. charlm.so gru.so rnn.so
 *
 * For every core plugin and embed in {0, 3}: the tensor table (layout, names, shifted core offsets), a
 * finite-difference check of every tensor and of h_0 with padded sequences, step T times equals forward.
 * Then the refusals: missing, unknown, refusing and misbehaving cores, bad options and out-of-range tokens.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnhost/rnnhost.h"

static int failures;

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            failures++;                                                                                    \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                  \
            fputc('\n', stderr);                                                                           \
        }                                                                                                  \
    } while (0)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- the test host ----------------------------------------------------------------------------------- */

#define MAX_CORE_PLUGINS 4
#define MAX_LIVE 64

/* Ids served by the host itself, each provoking one way a core can let the composite down. */
#define ID_REFUSE "test.refuse"     /* refuses every config with RH_ERR_UNSUPPORTED */
#define ID_WIDE "test.wide"         /* a gru whose output is not its hidden state (output_dim H+1) */
#define ID_LONGNAME "test.longname" /* a gru whose first tensor name cannot take the "core." prefix */

typedef struct live_core {
    rh_model *model;
    const rh_model_vtable *orig; /* the plugin's own vtable */
    rh_model_vtable wrapped;     /* ours: counts destroy, may bend get_tensor */
    int long_name;
} live_core;

static struct {
    void *handles[MAX_CORE_PLUGINS];
    const rh_plugin_entry *entries[MAX_CORE_PLUGINS];
    int num_plugins;
    live_core live[MAX_LIVE];
    int created, destroyed;
    char last_log[256];
} th;

static live_core *find_live(const rh_model *model)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (th.live[i].model == model)
            return &th.live[i];
    return NULL;
}

static void wrapped_destroy(rh_model *model)
{
    live_core *lc = find_live(model);
    CHECK(lc != NULL, "destroy of a core this host never handed out (or a double destroy)");
    if (lc == NULL)
        return;
    model->vtable = lc->orig;
    lc->orig->destroy(model);
    memset(lc, 0, sizeof *lc);
    th.destroyed++;
}

static rh_status wrapped_get_tensor(const rh_model *model, uint32_t index, rh_tensor *out)
{
    static const char too_long[] = "a_tensor_name_of_sixty_characters_which_cannot_be_prefixed_x";
    live_core *lc = find_live(model);
    if (lc == NULL)
        return RH_ERR_INTERNAL;
    rh_status st = lc->orig->get_tensor(model, index, out);
    if (st == RH_OK && lc->long_name && index == 0)
        out->name = too_long;
    return st;
}

static const rh_plugin_entry *entry_for(const char *model_id)
{
    for (int p = 0; p < th.num_plugins; p++) {
        const rh_plugin_entry *e = th.entries[p];
        for (uint32_t i = 0; i < e->model_count(); i++)
            if (strcmp(e->model_descriptor(i)->id, model_id) == 0)
                return e;
    }
    return NULL;
}

static void host_log(const rh_host *host, int32_t level, const char *message)
{
    (void)host, (void)level;
    snprintf(th.last_log, sizeof th.last_log, "%s", message);
    if (getenv("TEST_CHARLM_VERBOSE"))
        fprintf(stderr, "log: %s\n", message);
}

static rh_status host_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                   rh_model **out)
{
    *out = NULL;
    if (strcmp(model_id, ID_REFUSE) == 0) {
        host_log(host, RH_LOG_ERROR, ID_REFUSE ": refuses every config");
        return RH_ERR_UNSUPPORTED;
    }
    rh_config cfg = *config;
    const char *real_id = model_id;
    if (strcmp(model_id, ID_WIDE) == 0 || strcmp(model_id, ID_LONGNAME) == 0)
        real_id = "gru";
    if (strcmp(model_id, ID_WIDE) == 0)
        cfg.output_dim = cfg.hidden_size + 1;
    const rh_plugin_entry *e = entry_for(real_id);
    if (e == NULL)
        return RH_ERR_UNKNOWN_MODEL;
    rh_status st = e->create_model(host, real_id, &cfg, out);
    if (st != RH_OK)
        return st;
    live_core *lc = find_live(NULL);
    if (lc == NULL) {
        fprintf(stderr, "more than %d live cores\n", MAX_LIVE);
        exit(1);
    }
    lc->model = *out;
    lc->orig = (*out)->vtable;
    lc->wrapped = *lc->orig;
    lc->wrapped.destroy = wrapped_destroy;
    lc->wrapped.get_tensor = wrapped_get_tensor;
    lc->long_name = strcmp(model_id, ID_LONGNAME) == 0;
    (*out)->vtable = &lc->wrapped;
    th.created++;
    return RH_OK;
}

static const rh_host test_host = {sizeof(rh_host), NULL, host_log, host_create_model, NULL};

static const rh_plugin_entry *open_plugin(const char *path, void **handle)
{
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*handle == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, dlerror());
        exit(1);
    }
    const rh_plugin_entry *e = dlsym(*handle, RH_ENTRY_SYMBOL);
    if (e == NULL || e->abi_version != RH_ABI_VERSION) {
        fprintf(stderr, "%s is not an rnnhost plugin of ABI %u\n", path, RH_ABI_VERSION);
        exit(1);
    }
    return e;
}

/* ---- model helpers ------------------------------------------------------------------------------------ */

static const rh_plugin_entry *charlm;

static rh_config lm_config(uint32_t V, uint32_t H, uint32_t L, const char *core, const char *options)
{
    rh_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.input_kind = RH_INPUT_TOKENS;
    c.input_dim = V, c.hidden_size = H, c.num_layers = L, c.output_dim = V;
    c.core = core, c.options = options;
    return c;
}

static rh_model_info info_of(const rh_model *m)
{
    rh_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    m->vtable->get_info(m, &info);
    return info;
}

static rh_tensor *tensors_of(const rh_model *m, uint32_t n)
{
    rh_tensor *t = xcalloc(n, sizeof *t);
    for (uint32_t i = 0; i < n; i++)
        CHECK(m->vtable->get_tensor(m, i, &t[i]) == RH_OK, "get_tensor(%u)", i);
    rh_tensor past;
    CHECK(m->vtable->get_tensor(m, n, &past) == RH_ERR_INVALID_ARGUMENT, "get_tensor past the end");
    return t;
}

/* ---- the tensor table ---------------------------------------------------------------------------------- */

static void check_layout(const rh_model *lm, const char *core_id, uint32_t V, uint32_t H, uint32_t L, uint32_t N)
{
    rh_config cc;
    memset(&cc, 0, sizeof cc);
    cc.struct_size = sizeof cc;
    cc.input_kind = N > 0 ? RH_INPUT_DENSE : RH_INPUT_TOKENS;
    cc.input_dim = N > 0 ? N : V, cc.hidden_size = H, cc.num_layers = L;
    rh_model *core = NULL;
    if (host_create_model(&test_host, core_id, &cc, &core) != RH_OK) {
        CHECK(0, "the core %s alone refuses the config charlm gives it", core_id);
        return;
    }
    rh_model_info ci = info_of(core), li = info_of(lm);
    uint64_t embed_size = (uint64_t)V * N;
    CHECK(li.input_kind == RH_INPUT_TOKENS && li.input_dim == V && li.output_dim == V,
          "get_info: kind %u dim %u out %u", li.input_kind, li.input_dim, li.output_dim);
    CHECK(li.state_size == ci.state_size, "state %u, the core's %u", li.state_size, ci.state_size);
    CHECK(li.num_tensors == ci.num_tensors + 2 + (N > 0), "%u tensors for a core of %u", li.num_tensors,
          ci.num_tensors);
    CHECK(li.num_params == embed_size + ci.num_params + (uint64_t)V * H + V, "%llu params",
          (unsigned long long)li.num_params);
    if (li.num_tensors != ci.num_tensors + 2 + (N > 0)) {
        core->vtable->destroy(core);
        return;
    }
    rh_tensor *lt = tensors_of(lm, li.num_tensors), *ct = tensors_of(core, ci.num_tensors);
    char why[256] = "";
    CHECK(rh_layout_check(lt, li.num_tensors, li.num_params, why, sizeof why) == RH_OK, "layout: %s", why);
    uint32_t k = 0;
    if (N > 0) {
        CHECK(strcmp(lt[0].name, "embed") == 0 && lt[0].ndim == 2 && lt[0].shape[0] == V && lt[0].shape[1] == N &&
                  lt[0].offset == 0,
              "first tensor %s (%u,%u) at %llu, want embed (V,N) at 0", lt[0].name, lt[0].shape[0], lt[0].shape[1],
              (unsigned long long)lt[0].offset);
        k = 1;
    }
    for (uint32_t i = 0; i < ci.num_tensors; i++, k++) {
        char want[RH_MAX_NAME];
        snprintf(want, sizeof want, "core.%s", ct[i].name);
        CHECK(strcmp(lt[k].name, want) == 0, "tensor %u is %s, want %s", k, lt[k].name, want);
        CHECK(lt[k].offset == ct[i].offset + embed_size && lt[k].size == ct[i].size && lt[k].ndim == ct[i].ndim &&
                  memcmp(lt[k].shape, ct[i].shape, sizeof lt[k].shape) == 0 && lt[k].init == ct[i].init,
              "%s is not the core's %s shifted by %llu", lt[k].name, ct[i].name, (unsigned long long)embed_size);
    }
    CHECK(strcmp(lt[k].name, "out.W") == 0 && lt[k].ndim == 2 && lt[k].shape[0] == V && lt[k].shape[1] == H,
          "%s (%u,%u), want out.W (V,H)", lt[k].name, lt[k].shape[0], lt[k].shape[1]);
    CHECK(strcmp(lt[k + 1].name, "out.b") == 0 && lt[k + 1].ndim == 1 && lt[k + 1].shape[0] == V,
          "%s (%u), want out.b (V)", lt[k + 1].name, lt[k + 1].shape[0]);
    free(lt);
    free(ct);
    core->vtable->destroy(core);
}

/* ---- gradients ------------------------------------------------------------------------------------------ */

/* L = sum(R∘y) + sum(Q∘h_T) as a function of the parameters or of h_0. */
typedef struct grad_ctx {
    const rh_model *m;
    rh_model_info info;
    rh_batch batch;
    const float *params, *h_0, *R, *Q;
    float *y, *h_T, *dh_0, *sink, *ws;
    int wrt_h0;
    rh_status error;
} grad_ctx;

static double loss(void *vctx, const float *v, float *grad)
{
    grad_ctx *g = vctx;
    const float *params = g->wrt_h0 ? g->params : v, *h_0 = g->wrt_h0 ? v : g->h_0;
    uint64_t ny = (uint64_t)g->batch.T * g->batch.B * g->info.output_dim, ns = (uint64_t)g->batch.B * g->info.state_size;
    rh_status st = g->m->vtable->forward(g->m, g->y, g->h_T, g->ws, params, &g->batch, h_0);
    if (st != RH_OK) {
        g->error = st;
        return NAN;
    }
    double L = 0;
    for (uint64_t i = 0; i < ny; i++)
        L += (double)g->R[i] * g->y[i];
    for (uint64_t i = 0; i < ns; i++)
        L += (double)g->Q[i] * g->h_T[i];
    if (grad != NULL) {
        st = g->m->vtable->backward(g->m, g->wrt_h0 ? g->sink : grad, NULL, g->dh_0, g->ws, params, &g->batch, h_0,
                                    g->R, g->Q);
        if (st != RH_OK) {
            g->error = st;
            return NAN;
        }
        if (g->wrt_h0)
            for (uint64_t i = 0; i < ns; i++)
                grad[i] += g->dh_0[i];
    }
    return L;
}

static void check_gradients(const rh_model *m, const char *label, rh_rng *rng)
{
    enum { T = 5, B = 3 };
    static const uint32_t lengths[B] = {T, 2, 0}; /* a full, a padded and an empty sequence */
    grad_ctx g;
    memset(&g, 0, sizeof g);
    g.m = m;
    g.info = info_of(m);
    uint64_t P = g.info.num_params, S = g.info.state_size, ny = (uint64_t)T * B * g.info.output_dim;
    rh_tensor *t = tensors_of(m, g.info.num_tensors);
    int32_t tokens[T * B];
    for (uint32_t tt = 0; tt < T; tt++)
        for (uint32_t b = 0; b < B; b++)
            tokens[tt * B + b] = tt < lengths[b] ? (int32_t)rh_rng_below(rng, g.info.input_dim) : -1;
    g.batch.T = T, g.batch.B = B, g.batch.lengths = lengths, g.batch.tokens = tokens;

    float *params = xcalloc(P, sizeof *params), *v = xcalloc(P > B * S ? P : B * S, sizeof(float));
    float *scratch = xcalloc(P > B * S ? P : B * S, sizeof(float));
    float *R = xcalloc(ny, sizeof *R), *Q = xcalloc(B * S, sizeof *Q), *h_0 = xcalloc(B * S, sizeof *h_0);
    g.y = xcalloc(ny, sizeof *g.y), g.h_T = xcalloc(B * S, sizeof *g.h_T), g.dh_0 = xcalloc(B * S, sizeof *g.dh_0);
    g.sink = xcalloc(P, sizeof *g.sink);
    uint64_t nws = m->vtable->workspace_size(m, T, B);
    g.ws = xcalloc(nws, sizeof *g.ws);
    rh_params_init(params, t, g.info.num_tensors, rng);
    for (uint64_t i = 0; i < ny; i++)
        R[i] = (float)rh_rng_normal(rng);
    for (uint64_t i = 0; i < B * S; i++)
        Q[i] = (float)rh_rng_normal(rng);
    CHECK(m->vtable->reset(m, h_0, B) == RH_OK, "%s: reset", label);
    for (uint64_t i = 0; i < B * S; i++)
        h_0[i] += (float)(0.5 * (rh_rng_uniform(rng) - 0.5));
    g.params = params, g.h_0 = h_0, g.R = R, g.Q = Q;

    // Padding is zero in y and leaves the state alone.
    CHECK(loss(&g, params, NULL) == loss(&g, params, NULL), "%s: forward failed or is not deterministic", label);
    for (uint32_t tt = 0; tt < T; tt++)
        for (uint32_t b = 0; b < B; b++)
            for (uint32_t o = 0; tt >= lengths[b] && o < g.info.output_dim; o++)
                CHECK(g.y[(tt * B + b) * g.info.output_dim + o] == 0.0f, "%s: y[t=%u,b=%u] not zero at padding",
                      label, tt, b);
    CHECK(memcmp(g.h_T + 2 * S, h_0 + 2 * S, S * sizeof(float)) == 0, "%s: an empty sequence changed its state",
          label);

    for (uint32_t k = 0; k < g.info.num_tensors; k++) {
        rh_gradcheck_result res;
        memcpy(v, params, P * sizeof *v);
        rh_status st = rh_gradcheck(&res, loss, &g, v, P, scratch, t[k].offset, t[k].size, 40, 5e-3f, 1e-3, 2e-2,
                                    rng);
        CHECK(st == RH_OK && g.error == RH_OK && res.checked > 0,
              "%s: d/d %s: status %d, %llu of %llu off, worst [%llu] analytic %.6g numeric %.6g", label, t[k].name,
              st, (unsigned long long)res.failed, (unsigned long long)res.checked,
              (unsigned long long)(res.worst_index - t[k].offset), res.analytic, res.numeric);
    }
    {
        rh_gradcheck_result res;
        g.wrt_h0 = 1;
        memcpy(v, h_0, B * S * sizeof *v);
        rh_status st = rh_gradcheck(&res, loss, &g, v, B * S, scratch, 0, B * S, B * S, 5e-3f, 1e-3, 2e-2, rng);
        CHECK(st == RH_OK && g.error == RH_OK && res.checked == B * S,
              "%s: d/d h_0: status %d, %llu of %llu off, worst [%llu] analytic %.6g numeric %.6g", label, st,
              (unsigned long long)res.failed, (unsigned long long)res.checked, (unsigned long long)res.worst_index,
              res.analytic, res.numeric);
    }
    free(t), free(params), free(v), free(scratch), free(R), free(Q), free(h_0);
    free(g.y), free(g.h_T), free(g.dh_0), free(g.sink), free(g.ws);
}

/* ---- step equals forward --------------------------------------------------------------------------------- */

static void check_step_equals_forward(const rh_model *m, const char *label, rh_rng *rng)
{
    enum { T = 6, B = 3 };
    rh_model_info info = info_of(m);
    uint64_t O = info.output_dim, S = info.state_size;
    rh_tensor *t = tensors_of(m, info.num_tensors);
    float *params = xcalloc(info.num_params, sizeof *params);
    rh_params_init(params, t, info.num_tensors, rng);
    int32_t tokens[T * B];
    for (uint32_t i = 0; i < T * B; i++)
        tokens[i] = (int32_t)rh_rng_below(rng, info.input_dim);
    rh_batch batch = {T, B, NULL, NULL, tokens};
    float *y = xcalloc(T * B * O, sizeof *y), *h_T = xcalloc(B * S, sizeof *h_T);
    float *ws = xcalloc(m->vtable->workspace_size(m, T, B), sizeof *ws);
    float *ys = xcalloc(B * O, sizeof *ys), *state = xcalloc(B * S, sizeof *state);
    float *state2 = xcalloc(B * S, sizeof *state2);
    float *scratch = xcalloc(m->vtable->step_scratch_size(m, B), sizeof *scratch);
    CHECK(m->vtable->forward(m, y, h_T, ws, params, &batch, NULL) == RH_OK, "%s: forward", label);
    CHECK(m->vtable->reset(m, state, B) == RH_OK && m->vtable->reset(m, state2, B) == RH_OK, "%s: reset", label);
    double worst = 0;
    for (uint32_t tt = 0; tt < T; tt++) {
        CHECK(m->vtable->step(m, ys, state, scratch, params, NULL, tokens + tt * B, B) == RH_OK, "%s: step", label);
        CHECK(m->vtable->step(m, NULL, state2, scratch, params, NULL, tokens + tt * B, B) == RH_OK,
              "%s: step without y", label);
        for (uint64_t i = 0; i < B * O; i++) {
            double d = fabs((double)ys[i] - y[tt * B * O + i]) / (1e-5 + 1e-4 * fabs((double)y[tt * B * O + i]));
            worst = d > worst || isnan(d) ? d : worst;
        }
        CHECK(memcmp(state, state2, B * S * sizeof *state) == 0, "%s: step %u: the state differs without y",
              label, tt);
    }
    CHECK(worst <= 1.0, "%s: step y differs from forward y by %.3g tolerances", label, worst);
    for (uint64_t i = 0; i < B * S; i++)
        CHECK(fabs((double)state[i] - h_T[i]) <= 1e-5 + 1e-4 * fabs((double)h_T[i]),
              "%s: state[%llu] %.9g after T steps, forward's h_T %.9g", label, (unsigned long long)i, state[i],
              h_T[i]);

    // Ids outside [0, V) are refused, never read.
    int32_t bad[B] = {0, (int32_t)info.input_dim, 1};
    CHECK(m->vtable->step(m, ys, state, scratch, params, NULL, bad, B) == RH_ERR_INVALID_ARGUMENT,
          "%s: step accepted token V", label);
    bad[1] = -1;
    CHECK(m->vtable->step(m, ys, state, scratch, params, NULL, bad, B) == RH_ERR_INVALID_ARGUMENT,
          "%s: step accepted token -1", label);
    tokens[2 * B + 1] = (int32_t)info.input_dim;
    CHECK(m->vtable->forward(m, y, h_T, ws, params, &batch, NULL) == RH_ERR_INVALID_ARGUMENT,
          "%s: forward accepted token V", label);
    free(t), free(params), free(y), free(h_T), free(ws), free(ys), free(state), free(state2), free(scratch);
}

/* ---- refusals ------------------------------------------------------------------------------------------- */

/* Creates charlm with config and expects status; *out must stay NULL and no core may stay alive. */
static void expect_refused(const rh_config *config, rh_status want, const char *what)
{
    rh_model *out = (rh_model *)&out; /* garbage the plugin must overwrite */
    th.last_log[0] = '\0';
    rh_status st = charlm->create_model(&test_host, "charlm", config, &out);
    CHECK(st == want, "%s: status %d, want %d (%s)", what, st, want, th.last_log);
    CHECK(out == NULL, "%s: refused but *out was set", what);
    CHECK(th.last_log[0] != '\0', "%s: refused without a log line", what);
    CHECK(th.created == th.destroyed, "%s: %d cores created, %d destroyed", what, th.created, th.destroyed);
    if (st == RH_OK && out != NULL)
        out->vtable->destroy(out);
}

static void check_refusals(void)
{
    rh_config c = lm_config(6, 4, 1, NULL, NULL);
    expect_refused(&c, RH_ERR_INVALID_ARGUMENT, "core NULL");
    c.core = "";
    expect_refused(&c, RH_ERR_INVALID_ARGUMENT, "core \"\"");
    int before = th.created;
    c.core = "no.such.core";
    expect_refused(&c, RH_ERR_UNKNOWN_MODEL, "an unknown core");
    c.core = ID_REFUSE;
    expect_refused(&c, RH_ERR_UNSUPPORTED, "a core that refuses its config");
    CHECK(th.created == before, "a refused core was counted as created");
    c.core = ID_WIDE;
    expect_refused(&c, RH_ERR_SHAPE, "a core whose output is not its hidden state");
    CHECK(th.created == before + 1, "test.wide was never created, so its refusal proves nothing");
    c.core = ID_LONGNAME;
    expect_refused(&c, RH_ERR_FORMAT, "a core tensor name too long for the prefix");
    CHECK(th.created == before + 2, "test.longname was never created");

    c.core = "gru";
    static const char *const bad_options[] = {"embedding=3", "embed", "embed=", "embed=x", "embed=-1",
                                              "embed=3;embed=4", "embed=99999999999", ";foo=1"};
    for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
        c.options = bad_options[i];
        expect_refused(&c, RH_ERR_INVALID_ARGUMENT, bad_options[i]);
    }
    c.options = NULL;
    c.output_dim = 5;
    expect_refused(&c, RH_ERR_INVALID_ARGUMENT, "output_dim neither 0 nor V");
    c.output_dim = 6;
    c.input_kind = RH_INPUT_DENSE;
    expect_refused(&c, RH_ERR_UNSUPPORTED, "dense input");
    c.input_kind = RH_INPUT_TOKENS | RH_INPUT_DENSE;
    expect_refused(&c, RH_ERR_INVALID_ARGUMENT, "two input kinds");
    c.input_kind = RH_INPUT_TOKENS;
    c.input_dim = 0;
    expect_refused(&c, RH_ERR_INVALID_ARGUMENT, "an empty vocabulary");

    rh_model *out = (rh_model *)&out;
    c = lm_config(6, 4, 1, "gru", NULL);
    CHECK(charlm->create_model(&test_host, "charlm.nope", &c, &out) == RH_ERR_UNKNOWN_MODEL && out == NULL,
          "an unknown model id");

    // Accepted spellings: output_dim 0 means V logits, a trailing ';' is an empty item.
    c.output_dim = 0;
    c.options = "embed=2;";
    out = NULL;
    CHECK(charlm->create_model(&test_host, "charlm", &c, &out) == RH_OK && out != NULL, "output_dim 0: %s",
          th.last_log);
    if (out != NULL) {
        rh_model_info info = info_of(out);
        CHECK(info.output_dim == 6, "output_dim 0 gives %u outputs, want V = 6", info.output_dim);
        CHECK(th.created == th.destroyed + 1, "one live core while the model lives");
        out->vtable->destroy(out);
        CHECK(th.created == th.destroyed, "destroy left the core alive");
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_CORE_PLUGINS) {
        fprintf(stderr, "usage: %s CHARLM_SO CORE_SO...\n", argv[0]);
        return 1;
    }
    void *charlm_handle;
    charlm = open_plugin(argv[1], &charlm_handle);
    for (int i = 2; i < argc; i++)
        th.entries[th.num_plugins] = open_plugin(argv[i], &th.handles[th.num_plugins]), th.num_plugins++;
    rh_rng rng;
    rh_rng_seed(&rng, 20240611);

    const uint32_t V = 6, H = 4, L = 2;
    for (int p = 0; p < th.num_plugins; p++)
        for (uint32_t N = 0; N <= 3; N += 3) {
            const char *core_id = th.entries[p]->model_descriptor(0)->id;
            char options[32], label[64];
            snprintf(options, sizeof options, "embed=%u", N);
            snprintf(label, sizeof label, "charlm over %s, embed=%u", core_id, N);
            rh_config c = lm_config(V, H, L, core_id, N > 0 ? options : NULL);
            rh_model *m = NULL;
            rh_status st = charlm->create_model(&test_host, "charlm", &c, &m);
            CHECK(st == RH_OK && m != NULL, "%s: create: %d (%s)", label, st, th.last_log);
            if (m == NULL)
                continue;
            int failed_before = failures;
            check_layout(m, core_id, V, H, L, N);
            check_gradients(m, label, &rng);
            check_step_equals_forward(m, label, &rng);
            m->vtable->destroy(m);
            CHECK(th.created == th.destroyed, "%s: the core outlived the model", label);
            fprintf(stderr, "%s: %s\n", label, failures == failed_before ? "ok" : "FAILED");
        }
    check_refusals();

    dlclose(charlm_handle);
    for (int p = 0; p < th.num_plugins; p++)
        dlclose(th.handles[p]);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
