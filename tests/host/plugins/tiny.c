/* tiny: the host tests' own plugin, a stack of tanh RNN layers with a linear output, written with plain
 * loops so that its gradients are easy to trust. Built once as the correct reference plugin and again,
 * with one TINY_* flag each, as the hostile variants the validator must catch:
 *   TINY_WRONG_ABI         abi_version 999
 *   TINY_NO_ENTRY          the entry exported under another name
 *   TINY_NULL_DESCRIPTOR   model_descriptor(0) returns NULL
 *   TINY_WRONG_GRAD        the bias gradient skips the tanh derivative
 *   TINY_CRASH_CREATE      create_model writes through a wild pointer
 *   TINY_TWO_EXPORTS       a second exported function
 *   TINY_HANG_STEP         step never returns
 *   TINY_PLUGIN_ID / TINY_MODEL_ID   ids (the duplicate variant reuses "tiny" as its model id)
 *
 * h_l<t> = tanh(Wx_l in_l<t> + Wh_l h_l<t-1> + b_l), in_0 = x (or column tok of Wx_0), in_l = h_{l-1}<t>
 * y<t> = Wy h_{L-1}<t> + by          (y = h_{L-1} when output_dim is 0) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rnnhost/rnnhost.h"

#ifndef TINY_PLUGIN_ID
#define TINY_PLUGIN_ID "tiny"
#endif
#ifndef TINY_MODEL_ID
#define TINY_MODEL_ID "tiny"
#endif

typedef struct tiny {
    rh_model base;
    uint32_t kind, D, H, L, O; /* O = 0: no projection */
    uint32_t num_tensors;
    rh_tensor tensors[3 * 8 + 2];
    char names[3 * 8 + 2][16];
    uint64_t num_params;
} tiny;

static uint32_t in_dim(const tiny *m, uint32_t l) { return l == 0 ? m->D : m->H; }
static uint32_t out_dim(const tiny *m) { return m->O ? m->O : m->H; }
/* tensors: per layer Wx (H,in) Wh (H,H) b (H), then Wy (O,H) by (O) */
static const float *T_(const tiny *m, const float *p, uint32_t i) { return p + m->tensors[i].offset; }
static float *G_(const tiny *m, float *g, uint32_t i) { return g + m->tensors[i].offset; }

static void tiny_destroy(rh_model *model) { free(model); }

static rh_status tiny_get_info(const rh_model *model, rh_model_info *out)
{
    const tiny *m = (const tiny *)model;
    rh_model_info info;
    uint32_t n = out->struct_size < sizeof info ? out->struct_size : (uint32_t)sizeof info;
    info.struct_size = n;
    info.input_kind = m->kind, info.input_dim = m->D, info.output_dim = out_dim(m);
    info.state_size = m->L * m->H, info.num_tensors = m->num_tensors, info.num_params = m->num_params;
    memcpy(out, &info, n);
    return RH_OK;
}

static rh_status tiny_get_tensor(const rh_model *model, uint32_t index, rh_tensor *out)
{
    const tiny *m = (const tiny *)model;
    if (index >= m->num_tensors)
        return RH_ERR_INVALID_ARGUMENT;
    *out = m->tensors[index];
#ifdef TINY_BAD_TABLE
    /* the last tensor claims room past the end of the parameter buffer */
    if (index + 1 == m->num_tensors)
        out->offset += 1;
#endif
    return RH_OK;
}

/* Forward keeps every layer's state at every step: (T,B,L*H). Backward adds (B,L*H) of carried dh and
 * H of scratch. */
static uint64_t tiny_workspace_size(const rh_model *model, uint32_t T, uint32_t B)
{
    const tiny *m = (const tiny *)model;
    return (uint64_t)T * B * m->L * m->H + (uint64_t)B * m->L * m->H + m->H;
}

static uint64_t tiny_step_scratch_size(const rh_model *model, uint32_t B)
{
    (void)B;
    return ((const tiny *)model)->L * ((const tiny *)model)->H;
}

/* One step of one sequence: h_out (L*H) from h_in (L*H). Shared by forward and step, so they agree. */
static void tiny_cell(const tiny *m, float *h_out, const float *h_in, const float *params, const float *x,
                      int32_t tok)
{
    uint32_t l, i, j, H = m->H;
    for (l = 0; l < m->L; l++) {
        const float *Wx = T_(m, params, 3 * l), *Wh = T_(m, params, 3 * l + 1), *b = T_(m, params, 3 * l + 2);
        const float *in = l == 0 ? x : h_out + (l - 1) * H;
        uint32_t n_in = in_dim(m, l);
        for (i = 0; i < H; i++) {
            float a = b[i];
            if (l == 0 && !x)
                a += Wx[i * n_in + (uint32_t)tok];
            else
                for (j = 0; j < n_in; j++)
                    a += Wx[i * n_in + j] * in[j];
            for (j = 0; j < H; j++)
                a += Wh[i * H + j] * h_in[l * H + j];
            h_out[l * H + i] = tanhf(a);
        }
    }
}

static void tiny_project(const tiny *m, float *y, const float *h, const float *params)
{
    const float *top = h + (m->L - 1) * m->H;
    uint32_t o, j;
    if (!m->O) {
        memcpy(y, top, m->H * sizeof *y);
        return;
    }
    for (o = 0; o < m->O; o++) {
        float a = T_(m, params, 3 * m->L + 1)[o];
        for (j = 0; j < m->H; j++)
            a += T_(m, params, 3 * m->L)[o * m->H + j] * top[j];
        y[o] = a;
    }
#ifdef TINY_NAN_OUTPUT
    /* overflows to a NaN only on large inputs, which random test inputs alone do not reach */
    if (fabsf(h[0]) > 0.999f)
        y[0] = NAN;
#endif
}

static int tokens_ok(const tiny *m, const rh_batch *batch)
{
    uint32_t t, b;
    if (m->kind != RH_INPUT_TOKENS)
        return batch->x != NULL || batch->T == 0 || batch->B == 0;
    for (t = 0; t < batch->T; t++)
        for (b = 0; b < batch->B; b++) {
            int32_t k;
            if (batch->lengths && t >= batch->lengths[b])
                continue;
            k = batch->tokens[t * batch->B + b];
            if (k < 0 || (uint32_t)k >= m->D)
                return 0;
        }
    return 1;
}

static uint32_t len_of(const rh_batch *batch, uint32_t b)
{
    return batch->lengths ? batch->lengths[b] : batch->T;
}

static rh_status tiny_forward(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                              const rh_batch *batch, const float *h_0)
{
    const tiny *m = (const tiny *)model;
    const uint32_t T = batch->T, B = batch->B, S = m->L * m->H, O = out_dim(m);
    uint32_t t, b;
    if (!tokens_ok(m, batch))
        return RH_ERR_INVALID_ARGUMENT;
    for (b = 0; b < B; b++)
        if (len_of(batch, b) > T)
            return RH_ERR_INVALID_ARGUMENT;
    for (t = 0; t < T; t++)
        for (b = 0; b < B; b++) {
            float *h = workspace + ((size_t)t * B + b) * S;
            const float *prev = t ? workspace + ((size_t)(t - 1) * B + b) * S : NULL;
            float zero_prev[3 * 8 * 64];
            if (!prev) {
                if (h_0)
                    prev = h_0 + (size_t)b * S;
                else {
                    memset(zero_prev, 0, S * sizeof *zero_prev);
                    prev = zero_prev;
                }
            }
            if (t >= len_of(batch, b)) {
                memmove(h, prev, S * sizeof *h);
                memset(y + ((size_t)t * B + b) * O, 0, O * sizeof *y);
                continue;
            }
            tiny_cell(m, h, prev, params, m->kind == RH_INPUT_DENSE ? batch->x + ((size_t)t * B + b) * m->D : NULL,
                      m->kind == RH_INPUT_TOKENS ? batch->tokens[t * B + b] : 0);
            tiny_project(m, y + ((size_t)t * B + b) * O, h, params);
        }
    if (h_T)
        for (b = 0; b < B; b++) {
            if (T > 0)
                memcpy(h_T + (size_t)b * S, workspace + ((size_t)(T - 1) * B + b) * S, S * sizeof *h_T);
            else if (h_0)
                memcpy(h_T + (size_t)b * S, h_0 + (size_t)b * S, S * sizeof *h_T);
            else
                memset(h_T + (size_t)b * S, 0, S * sizeof *h_T);
        }
    return RH_OK;
}

static rh_status tiny_backward(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                               const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                               const float *dh_T)
{
    const tiny *m = (const tiny *)model;
    const uint32_t T = batch->T, B = batch->B, H = m->H, S = m->L * H, O = out_dim(m);
    float *carry = workspace + (size_t)T * B * S; /* (B,S): dL/dh for the step being processed */
    float *da = carry + (size_t)B * S;             /* (H) */
    uint32_t t, b, l, i, j, o;
    if (dh_T)
        memcpy(carry, dh_T, (size_t)B * S * sizeof *carry);
    else
        memset(carry, 0, (size_t)B * S * sizeof *carry);
    if (dx)
        memset(dx, 0, (size_t)T * B * m->D * sizeof *dx);
    for (t = T; t-- > 0;)
        for (b = 0; b < B; b++) {
            const float *h = workspace + ((size_t)t * B + b) * S;
            const float *prev = t ? workspace + ((size_t)(t - 1) * B + b) * S : (h_0 ? h_0 + (size_t)b * S : NULL);
            float *dh = carry + (size_t)b * S;
            if (t >= len_of(batch, b))
                continue; /* padding carries the state, and its gradient, unchanged */
            if (m->O) {
                const float *dyt = dy + ((size_t)t * B + b) * O;
                for (o = 0; o < O; o++) {
                    for (j = 0; j < H; j++) {
                        G_(m, grads, 3 * m->L)[o * H + j] += dyt[o] * h[(m->L - 1) * H + j];
                        dh[(m->L - 1) * H + j] += T_(m, params, 3 * m->L)[o * H + j] * dyt[o];
                    }
                    G_(m, grads, 3 * m->L + 1)[o] += dyt[o];
                }
            } else {
                for (j = 0; j < H; j++)
                    dh[(m->L - 1) * H + j] += dy[((size_t)t * B + b) * O + j];
            }
            for (l = m->L; l-- > 0;) {
                const uint32_t n_in = in_dim(m, l);
                const float *Wx = T_(m, params, 3 * l), *Wh = T_(m, params, 3 * l + 1);
                float *gWx = G_(m, grads, 3 * l), *gWh = G_(m, grads, 3 * l + 1), *gb = G_(m, grads, 3 * l + 2);
                for (i = 0; i < H; i++) {
                    float hi = h[l * H + i];
                    da[i] = dh[l * H + i] * (1.0f - hi * hi);
#ifdef TINY_WRONG_GRAD
                    gb[i] += dh[l * H + i];
#else
                    gb[i] += da[i];
#endif
                }
                for (i = 0; i < H; i++) {
                    if (l == 0 && m->kind == RH_INPUT_TOKENS)
                        gWx[i * n_in + (uint32_t)batch->tokens[t * B + b]] += da[i];
                    else if (l == 0)
                        for (j = 0; j < n_in; j++)
                            gWx[i * n_in + j] += da[i] * batch->x[((size_t)t * B + b) * m->D + j];
                    else
                        for (j = 0; j < n_in; j++)
                            gWx[i * n_in + j] += da[i] * h[(l - 1) * H + j];
                    for (j = 0; j < H; j++)
                        gWh[i * H + j] += da[i] * (prev ? prev[l * H + j] : 0.0f);
                }
                /* dh of this layer now becomes the gradient for step t-1; the layer below gets its input's */
                for (j = 0; j < H; j++) {
                    float s = 0.0f;
                    for (i = 0; i < H; i++)
                        s += Wh[i * H + j] * da[i];
                    dh[l * H + j] = s;
                }
                if (l > 0) {
                    for (j = 0; j < H; j++)
                        for (i = 0; i < H; i++)
                            dh[(l - 1) * H + j] += Wx[i * n_in + j] * da[i];
                } else if (dx) {
                    for (j = 0; j < n_in; j++) {
                        float s = 0.0f;
                        for (i = 0; i < H; i++)
                            s += Wx[i * n_in + j] * da[i];
                        dx[((size_t)t * B + b) * m->D + j] = s;
                    }
                }
            }
        }
    if (dh_0)
        memcpy(dh_0, carry, (size_t)B * S * sizeof *dh_0);
    return RH_OK;
}

static rh_status tiny_step(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                           const float *x, const int32_t *tokens, uint32_t B)
{
    const tiny *m = (const tiny *)model;
    const uint32_t S = m->L * m->H;
    uint32_t b;
#ifdef TINY_HANG_STEP
    {
        volatile int spin = 1;
        while (spin) {
        }
    }
#endif
#ifdef TINY_CRASH_STEP
    {
        volatile uintptr_t wild = 16;
        *(volatile int *)wild = 1;
    }
#endif
    if ((m->kind == RH_INPUT_DENSE) != (x != NULL) || (m->kind == RH_INPUT_TOKENS) != (tokens != NULL))
        return RH_ERR_INVALID_ARGUMENT;
    for (b = 0; b < B; b++)
        if (tokens && (tokens[b] < 0 || (uint32_t)tokens[b] >= m->D))
            return RH_ERR_INVALID_ARGUMENT;
    for (b = 0; b < B; b++) {
        tiny_cell(m, scratch, state + (size_t)b * S, params, x ? x + (size_t)b * m->D : NULL, tokens ? tokens[b] : 0);
        memcpy(state + (size_t)b * S, scratch, S * sizeof *state);
        if (y)
            tiny_project(m, y + (size_t)b * out_dim(m), scratch, params);
    }
    return RH_OK;
}

static rh_status tiny_reset(const rh_model *model, float *state, uint32_t B)
{
    const tiny *m = (const tiny *)model;
    memset(state, 0, (size_t)B * m->L * m->H * sizeof *state);
    return RH_OK;
}

#ifdef TINY_BAD_HALF
/* A half-step copy that rounds: float parameters cut to half precision (the low 13 bits of the fraction
 * dropped) and always accepted. Over parameters that are halves it changes nothing; over others it changes
 * the results, which the extension forbids and validate's half-step check must catch. */
static uint64_t bad_half_size(const rh_model *model)
{
    return ((const tiny *)model)->num_params * sizeof(float);
}

static rh_status bad_half_make_copy(const rh_model *model, void *copy, const float *params)
{
    float *dst = copy;
    for (uint64_t i = 0; i < ((const tiny *)model)->num_params; i++) {
        uint32_t u;
        memcpy(&u, &params[i], sizeof u);
        u &= ~0x1fffu;
        memcpy(&dst[i], &u, sizeof u);
    }
    return RH_OK;
}

static rh_status bad_half_step(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                               const void *copy, const float *x, const int32_t *tokens, uint32_t B)
{
    (void)params;
    return tiny_step(model, y, state, scratch, (const float *)copy, x, tokens, B);
}

static const rh_ext_half_step bad_half_ext = {sizeof(rh_ext_half_step), bad_half_size, bad_half_make_copy,
                                              bad_half_step};

static const void *tiny_get_extension(const rh_model *model, const char *id)
{
    (void)model;
    return strcmp(id, RH_EXT_HALF_STEP) == 0 ? &bad_half_ext : NULL;
}

static const rh_model_vtable tiny_vtable = {
    sizeof(rh_model_vtable), tiny_destroy,  tiny_get_info,          tiny_get_tensor, tiny_workspace_size,
    tiny_forward,            tiny_backward, tiny_step_scratch_size, tiny_step,       tiny_reset,
    tiny_get_extension,
};
#else
/* The vtable as ABI version 1 first published it, without the appended get_extension: a host must keep
 * accepting plugins built before members were appended. */
static const rh_model_vtable tiny_vtable = {
    RH_MODEL_VTABLE_V1_SIZE, tiny_destroy,  tiny_get_info,          tiny_get_tensor, tiny_workspace_size,
    tiny_forward,            tiny_backward, tiny_step_scratch_size, tiny_step,       tiny_reset,
    NULL, /* past struct_size: never read */
};
#endif

#ifdef TINY_LONG_NAME
/* a name that runs on for 64 KiB: the host must bound what it reads */
static char tiny_long_name[1 << 16];
__attribute__((constructor)) static void tiny_fill_name(void) { memset(tiny_long_name, 'x', sizeof tiny_long_name - 1); }
#define TINY_MODEL_NAME tiny_long_name
#else
#define TINY_MODEL_NAME "Tiny tanh RNN"
#endif

static const rh_model_descriptor tiny_descriptor = {
    sizeof(rh_model_descriptor), TINY_MODEL_ID, TINY_MODEL_NAME, "1.0.0",
    "test plugin: stacked tanh RNN with plain loops", RH_INPUT_DENSE | RH_INPUT_TOKENS, 0,
};

static uint32_t tiny_model_count(void) { return 1; }

static const rh_model_descriptor *tiny_model_descriptor(uint32_t index)
{
#ifdef TINY_NULL_DESCRIPTOR
    (void)index;
    (void)tiny_descriptor;
    return NULL;
#else
    return index == 0 ? &tiny_descriptor : NULL;
#endif
}

static void add_tensor(tiny *m, const char *name, uint32_t layer, uint32_t rows, uint32_t cols, uint32_t init,
                       float scale)
{
    rh_tensor *t = &m->tensors[m->num_tensors];
    char *n = m->names[m->num_tensors];
    size_t len = strlen(name);
    memcpy(n, name, len);
    n[len] = layer < 10 ? (char)('0' + layer) : '\0';
    n[len + 1] = '\0';
    t->name = n;
    t->ndim = cols ? 2 : 1;
    memset(t->shape, 0, sizeof t->shape);
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->offset = m->num_params;
    t->size = (uint64_t)rows * (cols ? cols : 1);
    t->init = init;
    t->init_scale = scale;
    m->num_params += t->size;
    m->num_tensors++;
}

static rh_status tiny_create(const rh_host *host, const char *model_id, const rh_config *config, rh_model **out)
{
    tiny *m;
    uint32_t l;
#ifdef TINY_CRASH_CREATE
    {
        volatile uintptr_t wild = 16;
        *(volatile int *)wild = 1;
    }
#endif
    *out = NULL;
    if (strcmp(model_id, TINY_MODEL_ID) != 0)
        return RH_ERR_UNKNOWN_MODEL;
    if (!config || config->struct_size < sizeof *config || config->hidden_size == 0 || config->hidden_size > 64 ||
        config->num_layers == 0 || config->num_layers > 8 || config->input_dim == 0 ||
        (config->input_kind != RH_INPUT_DENSE && config->input_kind != RH_INPUT_TOKENS) ||
        (config->options && config->options[0])) {
        host->log(host, RH_LOG_ERROR, "tiny: needs 1..64 hidden units, 1..8 layers, one input kind, no options");
        return RH_ERR_INVALID_ARGUMENT;
    }
    if (!(m = calloc(1, sizeof *m)))
        return RH_ERR_NO_MEMORY;
    m->base.vtable = &tiny_vtable;
    m->kind = config->input_kind, m->D = config->input_dim, m->H = config->hidden_size;
    m->L = config->num_layers, m->O = config->output_dim;
    for (l = 0; l < m->L; l++) {
        float scale = 1.0f / sqrtf((float)(in_dim(m, l) + m->H));
        add_tensor(m, "Wx", l, m->H, in_dim(m, l), RH_INIT_UNIFORM, 2.0f * scale);
        add_tensor(m, "Wh", l, m->H, m->H, RH_INIT_UNIFORM, 2.0f * scale);
        add_tensor(m, "b", l, m->H, 0, RH_INIT_UNIFORM, 0.1f);
    }
    if (m->O) {
        add_tensor(m, "Wy", 10, m->O, m->H, RH_INIT_UNIFORM, 1.0f / sqrtf((float)m->H));
        add_tensor(m, "by", 10, m->O, 0, RH_INIT_ZERO, 0.0f);
    }
    *out = &m->base;
    return RH_OK;
}

#ifdef TINY_TWO_EXPORTS
RH_EXPORT int tiny_extra_export(void);
RH_EXPORT int tiny_extra_export(void) { return 42; }
#endif

#ifdef TINY_WRONG_ABI
#define TINY_ABI 999u
#else
#define TINY_ABI RH_ABI_VERSION
#endif

#ifdef TINY_NO_ENTRY
RH_EXPORT extern const rh_plugin_entry tiny_not_the_entry;
RH_EXPORT const rh_plugin_entry tiny_not_the_entry = {
#else
RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
#endif
    TINY_ABI,          sizeof(rh_plugin_entry), TINY_PLUGIN_ID, "Tiny test plugin", "rnnhost tests", "1.0.0",
    tiny_model_count, tiny_model_descriptor,   tiny_create,    NULL,
};
