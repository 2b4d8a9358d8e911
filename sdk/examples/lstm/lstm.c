/* An LSTM model plugin for rnnhost: the template for writing your own.
 *
 * It shows the whole plugin contract in one file with plain loops (no BLAS), so it builds with nothing
 * but the installed SDK headers:
 *   - one exported symbol, `rnnhost_plugin_entry` (compile with -fvisibility=hidden);
 *   - a model is immutable after create; every buffer belongs to the caller;
 *   - forward/backward over a time-major batch with per-sequence lengths, backward ADDS into grads;
 *   - step equals forward and never allocates;
 *   - errors are returned as rh_status and explained through host->log, never printed.
 * Check your changes with `rnnhost validate ./build/lstm.so` (this folder's `meson test` does it).
 *
 * The cell, per layer (i, f, o input/forget/output gates, g the candidate):
 *   z = W_x x<t> + W_h h<t-1> + b            z is (4H) in the order i, f, g, o
 *   i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)
 *   c<t> = f * c<t-1> + i * g                h<t> = o * tanh(c<t>)
 * Output: y<t> = W_y h_top<t> + b_y, or h_top<t> itself when output_dim is 0.
 * State per sequence: for each layer, h (H floats) then c (H floats).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rnnhost/plugin.h>

#define LSTM_MAX_LAYERS 16
#define LSTM_MAX_UNITS (1u << 16)

typedef struct lstm {
    rh_model base; /* first member: the host sees an rh_model */
    uint32_t D, H, L, O;
    uint64_t num_params;
    uint32_t num_tensors;
    rh_tensor tensors[3 * LSTM_MAX_LAYERS + 2];
    char names[3 * LSTM_MAX_LAYERS + 2][RH_MAX_NAME];
} lstm;

static const lstm *self_of(const rh_model *m) { return (const lstm *)m->plugin_data; }

static float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

static uint32_t layer_input(const lstm *s, uint32_t l) { return l == 0 ? s->D : s->H; }
static uint32_t out_dim(const lstm *s) { return s->O ? s->O : s->H; }

/* Tensor indices: layer l has W_x, W_h, b at 3l, 3l+1, 3l+2; the output projection follows. */
static const float *tensor_data(const lstm *s, const float *params, uint32_t index) {
    return params + s->tensors[index].offset;
}

static void add_tensor(lstm *s, const char *name, uint32_t rows, uint32_t cols, uint32_t init, float scale) {
    rh_tensor *t = &s->tensors[s->num_tensors];
    snprintf(s->names[s->num_tensors], RH_MAX_NAME, "%s", name);
    memset(t, 0, sizeof *t);
    t->name = s->names[s->num_tensors];
    t->ndim = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->size = (uint64_t)rows * (cols ? cols : 1);
    t->offset = s->num_params;
    t->init = init;
    t->init_scale = scale;
    s->num_params += t->size;
    s->num_tensors++;
}

/* ---- the cell ---------------------------------------------------------------------------------------- */

/* gates is (4H) written with post-activation i, f, g, o; c, h, tc are (H) written (tc = tanh(c)).
 * h may alias h_prev and c may alias c_prev: the gates are complete before either is written. */
static void cell_forward(float *gates, float *c, float *h, float *tc, const float *W_x, const float *W_h,
                         const float *b, const float *x, const float *h_prev, const float *c_prev,
                         uint32_t Din, uint32_t H) {
    for (uint32_t r = 0; r < 4 * H; r++) {
        float z = b[r];
        const float *wx = W_x + (size_t)r * Din, *wh = W_h + (size_t)r * H;
        for (uint32_t k = 0; k < Din; k++) z += wx[k] * x[k];
        for (uint32_t k = 0; k < H; k++) z += wh[k] * h_prev[k];
        gates[r] = (r >= 2 * H && r < 3 * H) ? tanhf(z) : sigmoidf_(z);
    }
    for (uint32_t j = 0; j < H; j++) {
        float i = gates[j], f = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
        c[j] = f * c_prev[j] + i * g;
        tc[j] = tanhf(c[j]);
        h[j] = o * tc[j];
    }
}

static void project(float *y, const lstm *s, const float *params, const float *h) {
    if (!s->O) {
        memcpy(y, h, sizeof(float) * s->H);
        return;
    }
    const float *W = tensor_data(s, params, 3 * s->L), *b = tensor_data(s, params, 3 * s->L + 1);
    for (uint32_t o = 0; o < s->O; o++) {
        float acc = b[o];
        for (uint32_t k = 0; k < s->H; k++) acc += W[(size_t)o * s->H + k] * h[k];
        y[o] = acc;
    }
}

/* ---- workspace layout ----------------------------------------------------------------------------------
 * per layer l: gates (T,B,4H), c (T,B,H), h (T,B,H), tc (T,B,H)          forward activations
 * then: dext (T,B,H), dnext (T,B,max(D,H)), dh (B,H), dc (B,H), dz (4H)   backward scratch */

typedef struct acts {
    float *gates, *c, *h, *tc;
} acts;

static acts layer_acts(const lstm *s, float *ws, uint32_t l, uint32_t T, uint32_t B) {
    size_t n = (size_t)T * B * s->H;
    float *base = ws + (size_t)l * 7 * n;
    acts a = {base, base + 4 * n, base + 5 * n, base + 6 * n};
    return a;
}

static uint64_t lstm_workspace_size(const rh_model *m, uint32_t T, uint32_t B) {
    const lstm *s = self_of(m);
    uint64_t tb = (uint64_t)T * B, dmax = s->D > s->H ? s->D : s->H;
    return s->L * 7 * tb * s->H + tb * s->H + tb * dmax + 2 * (uint64_t)B * s->H + 4 * (uint64_t)s->H;
}

static int check_batch(const lstm *s, const rh_batch *batch) {
    if (!batch || !batch->x || batch->tokens) return 0;
    if (batch->lengths)
        for (uint32_t b = 0; b < batch->B; b++)
            if (batch->lengths[b] > batch->T) return 0;
    (void)s;
    return 1;
}

static uint32_t len_of(const rh_batch *batch, uint32_t b) { return batch->lengths ? batch->lengths[b] : batch->T; }

static rh_status lstm_forward(const rh_model *m, float *y, float *h_T, float *ws, const float *params,
                              const rh_batch *batch, const float *h_0) {
    const lstm *s = self_of(m);
    if (!check_batch(s, batch) || (!y && batch->T && batch->B)) return RH_ERR_INVALID_ARGUMENT;
    const uint32_t T = batch->T, B = batch->B, H = s->H, S = 2 * H * s->L, O = out_dim(s);

    for (uint32_t l = 0; l < s->L; l++) {
        acts a = layer_acts(s, ws, l, T, B), below = l ? layer_acts(s, ws, l - 1, T, B) : a;
        const float *W_x = tensor_data(s, params, 3 * l), *W_h = tensor_data(s, params, 3 * l + 1),
                    *bias = tensor_data(s, params, 3 * l + 2);
        const uint32_t Din = layer_input(s, l);
        for (uint32_t b = 0; b < B; b++) {
            const uint32_t len = len_of(batch, b);
            for (uint32_t t = 0; t < T; t++) {
                const size_t i = (size_t)t * B + b;
                const float *hp, *cp;
                if (t == 0) {
                    /* the initial state: h_0 or zeros, staged in this slot's h/c before being overwritten */
                    float *h0 = a.h + i * H, *c0 = a.c + i * H;
                    if (h_0) {
                        memcpy(h0, h_0 + (size_t)b * S + 2 * H * l, sizeof(float) * H);
                        memcpy(c0, h_0 + (size_t)b * S + 2 * H * l + H, sizeof(float) * H);
                    } else {
                        memset(h0, 0, sizeof(float) * H);
                        memset(c0, 0, sizeof(float) * H);
                    }
                    hp = h0;
                    cp = c0;
                } else {
                    hp = a.h + (i - B) * H;
                    cp = a.c + (i - B) * H;
                }
                if (t >= len) { /* padding: carry the state, no gates */
                    if (t > 0) {
                        memcpy(a.h + i * H, hp, sizeof(float) * H);
                        memcpy(a.c + i * H, cp, sizeof(float) * H);
                    }
                    memset(a.gates + i * 4 * H, 0, sizeof(float) * 4 * H);
                    continue;
                }
                const float *x = l ? below.h + i * H : batch->x + i * Din;
                cell_forward(a.gates + i * 4 * H, a.c + i * H, a.h + i * H, a.tc + i * H, W_x, W_h, bias, x,
                             hp, cp, Din, H);
            }
        }
    }

    acts top = layer_acts(s, ws, s->L - 1, T, B);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t b = 0; b < B; b++) {
            const size_t i = (size_t)t * B + b;
            if (t < len_of(batch, b))
                project(y + i * O, s, params, top.h + i * H);
            else
                memset(y + i * O, 0, sizeof(float) * O);
        }

    if (h_T)
        for (uint32_t b = 0; b < B; b++) {
            const uint32_t len = len_of(batch, b);
            for (uint32_t l = 0; l < s->L; l++) {
                float *dst = h_T + (size_t)b * S + 2 * H * l;
                if (len == 0) {
                    if (h_0)
                        memcpy(dst, h_0 + (size_t)b * S + 2 * H * l, sizeof(float) * 2 * H);
                    else
                        memset(dst, 0, sizeof(float) * 2 * H);
                    continue;
                }
                acts a = layer_acts(s, ws, l, T, B);
                const size_t i = (size_t)(len - 1) * B + b;
                memcpy(dst, a.h + i * H, sizeof(float) * H);
                memcpy(dst + H, a.c + i * H, sizeof(float) * H);
            }
        }
    return RH_OK;
}

static rh_status lstm_backward(const rh_model *m, float *grads, float *dx, float *dh_0, float *ws,
                               const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                               const float *dh_T) {
    const lstm *s = self_of(m);
    if (!check_batch(s, batch) || !grads || (!dy && batch->T && batch->B)) return RH_ERR_INVALID_ARGUMENT;
    const uint32_t T = batch->T, B = batch->B, H = s->H, S = 2 * H * s->L, O = out_dim(s), L = s->L;
    const size_t tb = (size_t)T * B;
    float *dext = ws + (size_t)L * 7 * tb * H, *dnext = dext + tb * H;
    const uint32_t dmax = s->D > H ? s->D : H;
    float *dh = dnext + tb * dmax, *dc = dh + (size_t)B * H, *dz = dc + (size_t)B * H;

    /* The output projection: dext = W_y^T dy on the top layer, and its own gradients. */
    acts top = layer_acts(s, ws, L - 1, T, B);
    memset(dext, 0, sizeof(float) * tb * H);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t b = 0; b < B; b++) {
            const size_t i = (size_t)t * B + b;
            if (t >= len_of(batch, b)) continue;
            const float *g = dy + i * O;
            if (!s->O) {
                memcpy(dext + i * H, g, sizeof(float) * H);
                continue;
            }
            const float *W = tensor_data(s, params, 3 * L);
            float *dW = grads + s->tensors[3 * L].offset, *db = grads + s->tensors[3 * L + 1].offset;
            for (uint32_t o = 0; o < O; o++) {
                db[o] += g[o];
                for (uint32_t k = 0; k < H; k++) {
                    dW[(size_t)o * H + k] += g[o] * top.h[i * H + k];
                    dext[i * H + k] += W[(size_t)o * H + k] * g[o];
                }
            }
        }

    for (uint32_t l = L; l-- > 0;) {
        acts a = layer_acts(s, ws, l, T, B), below = l ? layer_acts(s, ws, l - 1, T, B) : a;
        const uint32_t Din = layer_input(s, l);
        const float *W_x = tensor_data(s, params, 3 * l), *W_h = tensor_data(s, params, 3 * l + 1);
        float *dW_x = grads + s->tensors[3 * l].offset, *dW_h = grads + s->tensors[3 * l + 1].offset,
              *db = grads + s->tensors[3 * l + 2].offset;
        /* the gradient for the layer below (or for x): written for every (t, b), zero at padding */
        float *din = l ? dnext : dx;
        if (din) memset(din, 0, sizeof(float) * tb * Din);

        for (uint32_t b = 0; b < B; b++) {
            const uint32_t len = len_of(batch, b);
            float *dhb = dh + (size_t)b * H, *dcb = dc + (size_t)b * H;
            if (dh_T) {
                memcpy(dhb, dh_T + (size_t)b * S + 2 * H * l, sizeof(float) * H);
                memcpy(dcb, dh_T + (size_t)b * S + 2 * H * l + H, sizeof(float) * H);
            } else {
                memset(dhb, 0, sizeof(float) * H);
                memset(dcb, 0, sizeof(float) * H);
            }
            for (uint32_t t = len; t-- > 0;) {
                const size_t i = (size_t)t * B + b;
                const float *gt = a.gates + i * 4 * H, *tc = a.tc + i * H;
                /* c<t-1>, h<t-1>: the previous slot, or the initial state at t = 0 */
                const float *cp, *hp;
                if (t > 0) {
                    cp = a.c + (i - B) * H;
                    hp = a.h + (i - B) * H;
                } else {
                    cp = h_0 ? h_0 + (size_t)b * S + 2 * H * l + H : NULL;
                    hp = h_0 ? h_0 + (size_t)b * S + 2 * H * l : NULL;
                }
                const float *x = l ? below.h + i * H : batch->x + i * Din;
                for (uint32_t j = 0; j < H; j++) {
                    float ig = gt[j], fg = gt[H + j], gg = gt[2 * H + j], og = gt[3 * H + j];
                    float dhj = dhb[j] + dext[i * H + j];
                    float dcj = dcb[j] + dhj * og * (1.0f - tc[j] * tc[j]);
                    float cprev = cp ? cp[j] : 0.0f;
                    dz[j] = dcj * gg * ig * (1.0f - ig);
                    dz[H + j] = dcj * cprev * fg * (1.0f - fg);
                    dz[2 * H + j] = dcj * ig * (1.0f - gg * gg);
                    dz[3 * H + j] = dhj * tc[j] * og * (1.0f - og);
                    dcb[j] = dcj * fg;
                }
                memset(dhb, 0, sizeof(float) * H);
                for (uint32_t r = 0; r < 4 * H; r++) {
                    const float d = dz[r];
                    db[r] += d;
                    for (uint32_t k = 0; k < Din; k++) dW_x[(size_t)r * Din + k] += d * x[k];
                    if (din)
                        for (uint32_t k = 0; k < Din; k++) din[i * Din + k] += W_x[(size_t)r * Din + k] * d;
                    for (uint32_t k = 0; k < H; k++) {
                        if (hp) dW_h[(size_t)r * H + k] += d * hp[k];
                        dhb[k] += W_h[(size_t)r * H + k] * d;
                    }
                }
            }
            if (dh_0) {
                memcpy(dh_0 + (size_t)b * S + 2 * H * l, dhb, sizeof(float) * H);
                memcpy(dh_0 + (size_t)b * S + 2 * H * l + H, dcb, sizeof(float) * H);
            }
        }
        if (l) memcpy(dext, dnext, sizeof(float) * tb * H);
    }
    return RH_OK;
}

static uint64_t lstm_step_scratch_size(const rh_model *m, uint32_t B) {
    (void)B;
    return 5 * (uint64_t)self_of(m)->H; /* gates (4H) and tanh(c) (H), reused for every sequence */
}

static rh_status lstm_step(const rh_model *m, float *y, float *state, float *scratch, const float *params,
                           const float *x, const int32_t *tokens, uint32_t B) {
    const lstm *s = self_of(m);
    if (!x || tokens || !state || !scratch) return RH_ERR_INVALID_ARGUMENT;
    const uint32_t H = s->H, S = 2 * H * s->L, O = out_dim(s);
    for (uint32_t b = 0; b < B; b++) {
        float *st = state + (size_t)b * S;
        for (uint32_t l = 0; l < s->L; l++) {
            const float *in = l ? st + 2 * H * (l - 1) : x + (size_t)b * s->D;
            float *h = st + 2 * H * l, *c = h + H;
            cell_forward(scratch, c, h, scratch + 4 * H, tensor_data(s, params, 3 * l),
                         tensor_data(s, params, 3 * l + 1), tensor_data(s, params, 3 * l + 2), in, h, c,
                         layer_input(s, l), H);
        }
        if (y) project(y + (size_t)b * O, s, params, st + 2 * H * (s->L - 1));
    }
    return RH_OK;
}

static rh_status lstm_reset(const rh_model *m, float *state, uint32_t B) {
    if (!state && B) return RH_ERR_INVALID_ARGUMENT;
    memset(state, 0, sizeof(float) * (size_t)B * 2 * self_of(m)->H * self_of(m)->L);
    return RH_OK;
}

static rh_status lstm_get_info(const rh_model *m, rh_model_info *out) {
    const lstm *s = self_of(m);
    if (!out || out->struct_size < sizeof *out) return RH_ERR_ABI;
    out->input_kind = RH_INPUT_DENSE;
    out->input_dim = s->D;
    out->output_dim = out_dim(s);
    out->state_size = 2 * s->H * s->L;
    out->num_tensors = s->num_tensors;
    out->num_params = s->num_params;
    return RH_OK;
}

static rh_status lstm_get_tensor(const rh_model *m, uint32_t index, rh_tensor *out) {
    const lstm *s = self_of(m);
    if (!out || index >= s->num_tensors) return RH_ERR_INVALID_ARGUMENT;
    *out = s->tensors[index];
    return RH_OK;
}

static void lstm_destroy(rh_model *m) { free(m ? m->plugin_data : NULL); }

static const rh_model_vtable lstm_vtable = {
    sizeof(rh_model_vtable), lstm_destroy,     lstm_get_info,          lstm_get_tensor, lstm_workspace_size,
    lstm_forward,            lstm_backward,    lstm_step_scratch_size, lstm_step,       lstm_reset,
    NULL, /* get_extension: this model offers none */
};

/* ---- the entry ------------------------------------------------------------------------------------------ */

static const rh_model_descriptor lstm_descriptor = {
    sizeof(rh_model_descriptor), "example.lstm", "LSTM (template)", "1.0.0",
    "Long short-term memory, plain loops: the template for third-party plugins", RH_INPUT_DENSE, 0,
};

static uint32_t model_count(void) { return 1; }

static const rh_model_descriptor *model_descriptor(uint32_t index) { return index == 0 ? &lstm_descriptor : NULL; }

static rh_status refuse(const rh_host *host, rh_status status, const char *why) {
    if (host && host->log) host->log(host, RH_LOG_ERROR, why);
    return status;
}

static rh_status create_model(const rh_host *host, const char *model_id, const rh_config *cfg, rh_model **out) {
    if (!out) return RH_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!model_id || strcmp(model_id, lstm_descriptor.id) != 0) return RH_ERR_UNKNOWN_MODEL;
    if (!cfg || cfg->struct_size < sizeof *cfg) return refuse(host, RH_ERR_ABI, "config struct too small");
    if (cfg->input_kind != RH_INPUT_DENSE)
        return refuse(host, cfg->input_kind == RH_INPUT_TOKENS ? RH_ERR_UNSUPPORTED : RH_ERR_INVALID_ARGUMENT,
                      "example.lstm takes dense input only");
    if (!cfg->input_dim || !cfg->hidden_size || !cfg->num_layers || cfg->input_dim > LSTM_MAX_UNITS ||
        cfg->hidden_size > LSTM_MAX_UNITS || cfg->output_dim > LSTM_MAX_UNITS || cfg->num_layers > LSTM_MAX_LAYERS)
        return refuse(host, RH_ERR_INVALID_ARGUMENT, "input_dim, hidden_size and num_layers must be 1..65536 (layers 1..16)");
    if (cfg->options && cfg->options[0]) return refuse(host, RH_ERR_INVALID_ARGUMENT, "example.lstm takes no options");

    lstm *s = calloc(1, sizeof *s);
    if (!s) return RH_ERR_NO_MEMORY;
    s->D = cfg->input_dim;
    s->H = cfg->hidden_size;
    s->L = cfg->num_layers;
    s->O = cfg->output_dim;
    for (uint32_t l = 0; l < s->L; l++) {
        char name[RH_MAX_NAME];
        const float scale = 1.0f / sqrtf((float)s->H);
        snprintf(name, sizeof name, "l%u.W_x", l);
        add_tensor(s, name, 4 * s->H, layer_input(s, l), RH_INIT_UNIFORM, scale);
        snprintf(name, sizeof name, "l%u.W_h", l);
        add_tensor(s, name, 4 * s->H, s->H, RH_INIT_UNIFORM, scale);
        snprintf(name, sizeof name, "l%u.b", l);
        add_tensor(s, name, 4 * s->H, 0, RH_INIT_ZERO, 0.0f);
    }
    if (s->O) {
        add_tensor(s, "out.W", s->O, s->H, RH_INIT_UNIFORM, 1.0f / sqrtf((float)s->H));
        add_tensor(s, "out.b", s->O, 0, RH_INIT_ZERO, 0.0f);
    }
    s->base.vtable = &lstm_vtable;
    s->base.plugin_data = s;
    *out = &s->base;
    return RH_OK;
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION, sizeof(rh_plugin_entry), "example.lstm", "Example LSTM plugin", "rnnhost example", "1.0.0",
    model_count,    model_descriptor,        create_model,   NULL,
};
