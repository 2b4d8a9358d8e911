/* An LSTM model plugin for rnnhost, on the cell kit: the template for writing your own cell.
 *
 * A plugin built on the kit (rnnhost/kit/cell.h, `pkg-config rnnhost-kit`) brings only its cell's
 * element-wise mathematics: one step forward and the same step backward, unit by unit. The kit makes the
 * rest of the model: the tensor table, the input and output projections as BLAS products over all steps,
 * the recurrent products on its own packed kernel, padding, stacked layers, BPTT, the streaming step, the
 * half-precision step, the threads the host grants and the CPU level (plain, AVX2, AVX-512). The plugin
 * contract still holds, and the kit keeps it for you:
 *   - one exported symbol, `rnnhost_plugin_entry` (the kit links in hidden; compile with -fvisibility=hidden);
 *   - a model is immutable after create; every buffer belongs to the caller;
 *   - forward/backward over a time-major batch with per-sequence lengths, backward ADDS into grads;
 *   - step equals forward and never allocates;
 *   - errors are returned as rh_status and explained through host->log, never printed.
 * Check your changes with `rnnhost validate ./build/lstm.so` (this folder's `meson test` does it).
 *
 * The cell, per layer (i, f, o input, forget and output gates, g the candidate):
 *   z = W_x x<t> + W_h h<t-1> + b            z is (4H) in the order i, f, g, o
 *   i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)
 *   c<t> = f * c<t-1> + i * g                h<t> = o * tanh(c<t>)
 * Output: y<t> = W_y h_top<t> + b_y, or h_top<t> itself when output_dim is 0.
 * State per sequence: for each layer, h (H floats) then c (H floats): the cell carries c beside h.
 */
#include <stddef.h>
#include <string.h>

#include <rnnhost/kit/cell.h>
#include <rnnhost/plugin.h>

/* One step forward, on the units [u0, u1) this thread owns (all of them with one thread).
 * s->z (B,4H) holds W_x x<t> + b on entry; the cell adds the recurrent part W_h h<t-1> with rhk_rec, then
 * leaves its activations in z for backward. It writes h<t> (B,H) and c<t> (B,H). */
static void cell_forward(const rhk_part *p, const rhk_fwd *s) {
    const size_t B = p->B, H = p->H, G4 = 4 * H, u0 = p->u0, u1 = p->u1, w = u1 - u0;
    rhk_rec(p, s->z, G4, s->h_prev, 0, 4); /* z += h<t-1> W_h^T, all four gates */
    for (size_t b = 0; b < B; b++) {
        float *z = s->z + b * G4, *c = s->c + b * H, *h = s->h + b * H;
        const float *c_prev = s->c_prev + b * H;
        rhk_sigmoid(z + u0, w);         /* i */
        rhk_sigmoid(z + H + u0, w);     /* f */
        rhk_tanh(z + 2 * H + u0, w);    /* g */
        rhk_sigmoid(z + 3 * H + u0, w); /* o */
        for (size_t j = u0; j < u1; j++) h[j] = c[j] = z[H + j] * c_prev[j] + z[j] * z[2 * H + j];
        rhk_tanh(h + u0, w);
        for (size_t j = u0; j < u1; j++) h[j] *= z[3 * H + j];
    }
}

/* The same step backwards. s->dh is dLoss/dh<t> (from the layer above and the next step), s->dc dLoss/dc<t>
 * from the next step. The cell turns z into dLoss/dz (the kit makes every weight gradient from it) and
 * writes dLoss/dc<t-1> and, with rhk_rec_back, dLoss/dh<t-1>. */
static void cell_backward(const rhk_part *p, const rhk_bwd *s) {
    const size_t B = p->B, H = p->H, G4 = 4 * H, u0 = p->u0, u1 = p->u1;
    for (size_t b = 0; b < B; b++) {
        float *z = s->z + b * G4, *tc = s->scratch + b * H, *dc_prev = s->dc_prev + b * H;
        const float *dh = s->dh + b * H, *dc = s->dc + b * H, *c_prev = s->c_prev + b * H;
        memcpy(tc + u0, s->c + b * H + u0, (u1 - u0) * sizeof(float));
        rhk_tanh(tc + u0, u1 - u0); /* tanh(c<t>), by the very function forward used */
        for (size_t j = u0; j < u1; j++) {
            const float i = z[j], f = z[H + j], g = z[2 * H + j], o = z[3 * H + j], t = tc[j];
            const float dct = dc[j] + dh[j] * o * (1.0f - t * t);
            z[j] = dct * g * i * (1.0f - i);
            z[H + j] = dct * c_prev[j] * f * (1.0f - f);
            z[2 * H + j] = dct * i * (1.0f - g * g);
            z[3 * H + j] = dh[j] * t * o * (1.0f - o);
            dc_prev[j] = dct * f;
        }
    }
    rhk_sync(p); /* dh<t-1> sums over every unit of dz: wait for the other threads' units */
    rhk_rec_back(p, s->dh_prev, 0.0f, s->z, G4, 0, 4); /* dh<t-1> = dz W_h */
}

/* The gates in their packed order, each with its bias's initial value: the forget gate starts at 1, so a
 * new model carries c rather than forgets it. Each becomes a tensor of its own, lN.b_i ... lN.b_o. */
static const rhk_gate gates[4] = {{"i", 0.0f}, {"f", 1.0f}, {"g", 0.0f}, {"o", 0.0f}};

/* 4 gate blocks, none reading a function of h<t-1> (a GRU's candidate would), 1 block of carried state (c). */
static const rhk_cell cell = {"example.lstm", 4, 0, 1, gates, cell_forward, cell_backward};

/* ---- the entry ------------------------------------------------------------------------------------------ */

/* This model takes dense input only (the kit could do token input too): as a language model's core it needs
 * the host's embedding (`--embed N`). */
static const rh_model_descriptor lstm_descriptor = {
    sizeof(rh_model_descriptor), "example.lstm", "LSTM (template)", "1.0.0",
    "Long short-term memory on the cell kit: the template for third-party plugins", RH_INPUT_DENSE, 0,
};

static uint32_t model_count(void) { return 1; }

static const rh_model_descriptor *model_descriptor(uint32_t index) { return index == 0 ? &lstm_descriptor : NULL; }

static rh_status create_model(const rh_host *host, const char *model_id, const rh_config *cfg, rh_model **out) {
    const int ours = model_id && strcmp(model_id, cell.model_id) == 0;
    if (ours && out && cfg && cfg->input_kind == RH_INPUT_TOKENS) { /* what the descriptor does not offer */
        *out = NULL;
        if (host && host->log) host->log(host, RH_LOG_ERROR, "example.lstm takes dense input only");
        return RH_ERR_UNSUPPORTED;
    }
    return rhk_create(host, &cell, model_id, cfg, out); /* checks the id and the whole config */
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION, sizeof(rh_plugin_entry), "example.lstm", "Example LSTM plugin", "rnnhost example", "1.0.0",
    model_count,    model_descriptor,        create_model,   NULL,
};
