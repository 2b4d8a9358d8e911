/* The LSTM plugin, long short-term memory with input, forget and output gates:
 *   i = σ(Wi[h<t-1>, x<t>] + bi), f = σ(Wf[h<t-1>, x<t>] + bf), g = tanh(Wg[h<t-1>, x<t>] + bg),
 *   o = σ(Wo[h<t-1>, x<t>] + bo), c<t> = f * c<t-1> + i * g, h<t> = o * tanh(c<t>), a<t> = h<t>.
 * Gates are packed i, f, g, o in W_x (4H,D) and W_h (4H,H); each gate's bias is a tensor of its own
 * (lN.b_i, lN.b_f, lN.b_g, lN.b_o), and the forget gate's starts at 1 so that a new model remembers
 * rather than forgets. The cell carries c beside h: the state of a layer is (h, c), 2H floats. The layer
 * stack, padding, projections, threads and half step are the cell kit's (rnnhost/kit/cell.h); this file is
 * the cell. */
#include <stddef.h>
#include <string.h>

#include "rnnhost/kit/cell.h"
#include "rnnhost/plugin.h"

/* The element-wise loops vectorise (GCC's -O2 needs asking); each element is computed alone, by the same
 * operations, so no result changes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

// Own columns [u0,u1) of: z (B,4H) input part on entry, [i, f, g, o] on exit; c (B,H); h (B,H)
static void lstm_cell_forward(const rhk_part *p, const rhk_fwd *s)
{
    size_t B = p->B, H = p->H, G4 = 4 * H, u0 = p->u0, u1 = p->u1, w = u1 - u0;
    rhk_rec(p, s->z, G4, s->h_prev, 0, 4);
    for (size_t b = 0; b < B; b++) {
        float *zb = s->z + b * G4, *cb = s->c + b * H, *hb = s->h + b * H;
        const float *cp = s->c_prev + b * H;
        rhk_sigmoid(zb + u0, w);
        rhk_sigmoid(zb + H + u0, w);
        rhk_tanh(zb + 2 * H + u0, w);
        rhk_sigmoid(zb + 3 * H + u0, w);
        for (size_t j = u0; j < u1; j++)
            hb[j] = cb[j] = zb[H + j] * cp[j] + zb[j] * zb[2 * H + j];
        rhk_tanh(hb + u0, w);
        for (size_t j = u0; j < u1; j++)
            hb[j] *= zb[3 * H + j];
    }
}

// Own columns of: z (B,4H) [i, f, g, o] on entry, dLoss/dpre on exit; dc_prev (B,H); dh_prev (B,H);
// scratch (B,H) tanh(c<t>), made again by the function forward used
static void lstm_cell_backward(const rhk_part *p, const rhk_bwd *s)
{
    size_t B = p->B, H = p->H, G4 = 4 * H, u0 = p->u0, u1 = p->u1;
    for (size_t b = 0; b < B; b++) {
        float *zb = s->z + b * G4, *tc = s->scratch + b * H, *dcp = s->dc_prev + b * H;
        const float *dh = s->dh + b * H, *dc = s->dc + b * H, *cp = s->c_prev + b * H;
        memcpy(tc + u0, s->c + b * H + u0, (u1 - u0) * sizeof(float));
        rhk_tanh(tc + u0, u1 - u0);
        for (size_t j = u0; j < u1; j++) {
            float i = zb[j], f = zb[H + j], g = zb[2 * H + j], o = zb[3 * H + j], t = tc[j];
            float dct = dc[j] + dh[j] * o * (1.0f - t * t); // dLoss/dc<t>, through h<t> and c<t+1>
            zb[j] = dct * g * i * (1.0f - i);
            zb[H + j] = dct * cp[j] * f * (1.0f - f);
            zb[2 * H + j] = dct * i * (1.0f - g * g);
            zb[3 * H + j] = dh[j] * t * o * (1.0f - o);
            dcp[j] = dct * f;
        }
    }
    rhk_sync(p); // each unit of dh_prev reads every unit of dz
    // dh_prev (B,H) = dpre (B,4H) W_h (4H,H)
    rhk_rec_back(p, s->dh_prev, 0.0f, s->z, G4, 0, 4);
}

static const rhk_gate lstm_gates[4] = {{"i", 0.0f}, {"f", 1.0f}, {"g", 0.0f}, {"o", 0.0f}};

static const rhk_cell lstm_cell = {"lstm", 4, 0, 1, lstm_gates, lstm_cell_forward, lstm_cell_backward};

static const rh_model_descriptor lstm_descriptor = {
    sizeof(rh_model_descriptor),
    "lstm",
    "LSTM",
    "1.0.0",
    "Stacked LSTM layers (input, forget and output gates; forget bias 1) with an optional linear output projection",
    RH_INPUT_DENSE | RH_INPUT_TOKENS,
    0,
};

static uint32_t lstm_model_count(void)
{
    return 1;
}

static const rh_model_descriptor *lstm_model_descriptor(uint32_t index)
{
    return index == 0 ? &lstm_descriptor : NULL;
}

static rh_status lstm_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                   rh_model **out)
{
    return rhk_create(host, &lstm_cell, model_id, config, out);
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION,   sizeof(rh_plugin_entry), "lstm",            "LSTM", "rnnhost", "1.0.0",
    lstm_model_count, lstm_model_descriptor,   lstm_create_model, NULL,
};
