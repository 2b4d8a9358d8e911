/* The GRU plugin, the full cell with the relevance gate:
 *   Γu = σ(Wu[c<t-1>, x<t>] + bu), Γr = σ(Wr[c<t-1>, x<t>] + br),
 *   c̃<t> = tanh(Wc[Γr * c<t-1>, x<t>] + bc), c<t> = Γu * c̃<t> + (1 - Γu) * c<t-1>, a<t> = c<t>.
 * Gates are packed u, r, c in W_x (3H,D), W_h (3H,H) and b (3H). Γr scales c<t-1> before the candidate's
 * recurrent product, so that product waits for Γr: one GEMM for the u and r rows, then one for the c rows.
 * The layer stack, padding, projections, threads and half step are the cell kit's (rnnhost/kit/cell.h);
 * this file is the cell. */
#include <stddef.h>
#include <string.h>

#include "rnnhost/kit/cell.h"
#include "rnnhost/plugin.h"

/* The element-wise loops vectorise (GCC's -O2 needs asking); each element is computed alone, by the same
 * operations, so no result changes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

// Own columns [u0,u1) of: z (B,3H) input part on entry, [Γu, Γr, c̃] on exit; rh (B,H) = Γr * c<t-1>; h (B,H)
static void gru_cell_forward(const rhk_part *p, const rhk_fwd *s)
{
    size_t B = p->B, H = p->H, G3 = 3 * H, u0 = p->u0, w = p->u1 - p->u0;
    float *z = s->z, *h = s->h, *rh = s->rh;
    const float *h_prev = s->h_prev;
    rhk_rec(p, z, G3, h_prev, 0, 2);
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3;
        const float *hp = h_prev + b * H;
        rhk_sigmoid(zb + u0, w);
        rhk_sigmoid(zb + H + u0, w);
        for (size_t i = u0; i < u0 + w; i++)
            rh[b * H + i] = zb[H + i] * hp[i];
    }
    rhk_sync(p); // the candidate's product reads every unit of rh
    rhk_rec(p, z, G3, rh, 2, 1);
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3, *hb = h + b * H;
        const float *hp = h_prev + b * H;
        rhk_tanh(zb + 2 * H + u0, w);
        for (size_t i = u0; i < u0 + w; i++) {
            float u = zb[i], c = zb[2 * H + i];
            hb[i] = u * c + (1.0f - u) * hp[i];
        }
    }
}

// Own columns of: dh_prev (B,H); z (B,3H) [Γu, Γr, c̃] on entry, dLoss/dpre on exit; scratch (B,H) dLoss/d(Γr*c)
static void gru_cell_backward(const rhk_part *p, const rhk_bwd *s)
{
    size_t B = p->B, H = p->H, G3 = 3 * H, u0 = p->u0, u1 = p->u1;
    float *z = s->z, *dh_prev = s->dh_prev, *scratch = s->scratch;
    const float *g = s->dh, *h_prev = s->h_prev;
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3, *dhb = dh_prev + b * H;
        const float *gb = g + b * H, *hp = h_prev + b * H;
        for (size_t i = u0; i < u1; i++) {
            float u = zb[i], c = zb[2 * H + i];
            zb[2 * H + i] = gb[i] * u * (1.0f - c * c);
            zb[i] = gb[i] * (c - hp[i]) * u * (1.0f - u);
            dhb[i] = gb[i] * (1.0f - u);
        }
    }
    rhk_sync(p); // every unit's dpre_c feeds each unit of the product below
    // scratch (B,H) = dpre_c (B,H) Wc_h (H,H)
    rhk_rec_back(p, scratch, 0.0f, z + 2 * H, G3, 2, 1);
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3, *dhb = dh_prev + b * H;
        const float *drh = scratch + b * H, *hp = h_prev + b * H;
        for (size_t i = u0; i < u1; i++) {
            float r = zb[H + i];
            zb[H + i] = drh[i] * hp[i] * r * (1.0f - r);
            dhb[i] += drh[i] * r;
        }
    }
    rhk_sync(p);
    // dh_prev (B,H) += [dpre_u, dpre_r] (B,2H) W_h[u,r] (2H,H)
    rhk_rec_back(p, dh_prev, 1.0f, z, G3, 0, 2);
}

static const rhk_cell gru_cell = {"gru", 3, 1, 0, NULL, gru_cell_forward, gru_cell_backward};

static const rh_model_descriptor gru_descriptor = {
    sizeof(rh_model_descriptor),
    "gru",
    "GRU",
    "1.0.0",
    "Stacked GRU layers (update and relevance gates) with an optional linear output projection",
    RH_INPUT_DENSE | RH_INPUT_TOKENS,
    0,
};

static uint32_t gru_model_count(void)
{
    return 1;
}

static const rh_model_descriptor *gru_model_descriptor(uint32_t index)
{
    return index == 0 ? &gru_descriptor : NULL;
}

static rh_status gru_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                  rh_model **out)
{
    return rhk_create(host, &gru_cell, model_id, config, out);
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION, sizeof(rh_plugin_entry), "gru", "GRU", "rnnhost", "1.0.0",
    gru_model_count, gru_model_descriptor,   gru_create_model, NULL,
};
