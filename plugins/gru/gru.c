/* The GRU plugin, the full cell with the relevance gate:
 *   Γu = σ(Wu[c<t-1>, x<t>] + bu), Γr = σ(Wr[c<t-1>, x<t>] + br),
 *   c̃<t> = tanh(Wc[Γr * c<t-1>, x<t>] + bc), c<t> = Γu * c̃<t> + (1 - Γu) * c<t-1>, a<t> = c<t>.
 * Gates are packed u, r, c in W_x (3H,D), W_h (3H,H) and b (3H). Γr scales c<t-1> before the candidate's
 * recurrent product, so that product waits for Γr: one GEMM for the u and r rows, then one for the c rows.
 * The stack, padding and projections live in ../common/stack.c. */
#include <stddef.h>
#include <string.h>

#include "rnnhost/plugin.h"
#include "stack.h"

/* The element-wise loops vectorise (GCC's -O2 needs asking); each element is computed alone, by the same
 * operations, so no result changes. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

// Own columns [u0,u1) of: z (B,3H) input part on entry, [Γu, Γr, c̃] on exit; rh (B,H) = Γr * c<t-1>; h (B,H)
static void gru_cell_forward(const stack_part *p, float *h, float *z, float *rh, const float *h_prev)
{
    size_t B = p->B, H = p->H, G3 = 3 * H, u0 = p->u0, w = p->u1 - p->u0;
    stack_rec(p, z, G3, h_prev, 0, 2);
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3;
        const float *hp = h_prev + b * H;
        stack_sigmoid(zb + u0, w);
        stack_sigmoid(zb + H + u0, w);
        for (size_t i = u0; i < u0 + w; i++)
            rh[b * H + i] = zb[H + i] * hp[i];
    }
    stack_sync(p); // the candidate's product reads every unit of rh
    stack_rec(p, z, G3, rh, 2, 1);
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3, *hb = h + b * H;
        const float *hp = h_prev + b * H;
        stack_tanh(zb + 2 * H + u0, w);
        for (size_t i = u0; i < u0 + w; i++) {
            float u = zb[i], c = zb[2 * H + i];
            hb[i] = u * c + (1.0f - u) * hp[i];
        }
    }
}

// Own columns of: dh_prev (B,H); z (B,3H) [Γu, Γr, c̃] on entry, dLoss/dpre on exit; scratch (B,H) dLoss/d(Γr*c)
static void gru_cell_backward(const stack_part *p, float *dh_prev, float *z, float *scratch, const float *g,
                              const float *h, const float *h_prev)
{
    (void)h;
    size_t B = p->B, H = p->H, G3 = 3 * H, u0 = p->u0, u1 = p->u1;
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
    stack_sync(p); // every unit's dpre_c feeds each unit of the product below
    // scratch (B,H) = dpre_c (B,H) Wc_h (H,H)
    stack_rec_back(p, scratch, 0.0f, z + 2 * H, G3, 2, 1);
    for (size_t b = 0; b < B; b++) {
        float *zb = z + b * G3, *dhb = dh_prev + b * H;
        const float *drh = scratch + b * H, *hp = h_prev + b * H;
        for (size_t i = u0; i < u1; i++) {
            float r = zb[H + i];
            zb[H + i] = drh[i] * hp[i] * r * (1.0f - r);
            dhb[i] += drh[i] * r;
        }
    }
    stack_sync(p);
    // dh_prev (B,H) += [dpre_u, dpre_r] (B,2H) W_h[u,r] (2H,H)
    stack_rec_back(p, dh_prev, 1.0f, z, G3, 0, 2);
}

static const stack_cell gru_cell = {"gru", 3, 1, gru_cell_forward, gru_cell_backward};

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
    if (out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (model_id == NULL || strcmp(model_id, gru_descriptor.id) != 0) {
        stack_log(host, RH_LOG_ERROR, "gru plugin: unknown model id '%s'", model_id ? model_id : "(null)");
        return RH_ERR_UNKNOWN_MODEL;
    }
    return stack_create(host, &gru_cell, config, out);
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION, sizeof(rh_plugin_entry), "gru", "GRU", "rnnhost", "1.0.0",
    gru_model_count, gru_model_descriptor,   gru_create_model, NULL,
};
