/* The vanilla RNN plugin: a<t> = tanh(Waa a<t-1> + Wax x<t> + ba), stacked, with an optional linear output
 * projection. The layer stack, padding, projections, threads and half step are the cell kit's
 * (rnnhost/kit/cell.h); this file is the cell. */
#include <stddef.h>
#include <string.h>

#include "rnnhost/kit/cell.h"
#include "rnnhost/plugin.h"

/* The element-wise loops vectorise (GCC's -O2 needs asking); each element is computed alone, by the same
 * operations, so no result changes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

// Own columns of: h (B,H); z (B,H) Wax x + ba on entry, a<t> on exit
static void rnn_cell_forward(const rhk_part *p, const rhk_fwd *s)
{
    size_t B = p->B, H = p->H, u0 = p->u0, w = p->u1 - p->u0;
    float *z = s->z;
    rhk_rec(p, z, H, s->h_prev, 0, 1);
    for (size_t b = 0; b < B; b++) {
        rhk_tanh(z + b * H + u0, w);
        memcpy(s->h + b * H + u0, z + b * H + u0, w * sizeof(float));
    }
}

// Own columns of: dh_prev (B,H); z (B,H) a<t> on entry, dLoss/dpre on exit; dh (B,H)
static void rnn_cell_backward(const rhk_part *p, const rhk_bwd *s)
{
    size_t B = p->B, H = p->H;
    float *z = s->z;
    const float *g = s->dh;
    for (size_t b = 0; b < B; b++)
        for (size_t i = p->u0; i < p->u1; i++)
            z[b * H + i] = g[b * H + i] * (1.0f - z[b * H + i] * z[b * H + i]);
    rhk_sync(p); // each unit of dh_prev reads every unit of dz
    rhk_rec_back(p, s->dh_prev, 0.0f, z, H, 0, 1);
}

static const rhk_cell rnn_cell = {"rnn", 1, 0, 0, NULL, rnn_cell_forward, rnn_cell_backward};

static const rh_model_descriptor rnn_descriptor = {
    sizeof(rh_model_descriptor),
    "rnn",
    "Vanilla RNN",
    "1.0.0",
    "Stacked tanh RNN layers with an optional linear output projection",
    RH_INPUT_DENSE | RH_INPUT_TOKENS,
    0,
};

static uint32_t rnn_model_count(void)
{
    return 1;
}

static const rh_model_descriptor *rnn_model_descriptor(uint32_t index)
{
    return index == 0 ? &rnn_descriptor : NULL;
}

static rh_status rnn_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                  rh_model **out)
{
    return rhk_create(host, &rnn_cell, model_id, config, out);
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION, sizeof(rh_plugin_entry), "rnn", "Vanilla RNN", "rnnhost", "1.0.0",
    rnn_model_count, rnn_model_descriptor,   rnn_create_model, NULL,
};
