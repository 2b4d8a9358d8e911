#include "validate_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float *alloc_floats(uint64_t n, float fill)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    uint64_t i;
    if (p)
        for (i = 0; i < n; i++)
            p[i] = fill;
    return p;
}

int all_finite(const float *v, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int64_t first_mismatch(const float *a, const float *b, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= SAME_ATOL + SAME_RTOL * fabs((double)b[i])))
            return (int64_t)i;
    }
    return -1;
}

void batch_free(owned_batch *ob)
{
    free(ob->lengths);
    free(ob->x);
    free(ob->tokens);
    memset(ob, 0, sizeof *ob);
}

int batch_make(owned_batch *ob, const rh_model_info *info, uint32_t T, uint32_t B,
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

rh_status forward(const host_model *hm, float *y, float *h_T, const float *params, const rh_batch *batch,
                         const float *h_0, float **ws_out)
{
    return forward_masked(hm, y, h_T, params, batch, h_0, NULL, ws_out);
}

rh_status forward_masked(const host_model *hm, float *y, float *h_T, const float *params, const rh_batch *batch,
                         const float *h_0, const rh_dropout_masks *masks, float **ws_out)
{
    uint64_t n = hm->vt->workspace_size(hm->model, batch->T, batch->B);
    float *ws = alloc_floats(n, NAN);
    rh_status st;
    if (!ws)
        return RH_ERR_NO_MEMORY;
    st = host_model_train_forward(hm, params, y, h_T, ws, batch, h_0, masks);
    if (ws_out)
        *ws_out = ws;
    else
        free(ws);
    return st;
}

rh_status forward_both(const host_model *a, const host_model *b, const rh_batch *batch, float *ya, float *ha,
                       float *yb, float *hb)
{
    const rh_status st = forward(a, ya, ha, a->params, batch, NULL, NULL);
    return st != RH_OK ? st : forward(b, yb, hb, b->params, batch, NULL, NULL);
}

sizes sizes_of(const host_model *hm, uint32_t T, uint32_t B)
{
    const rh_model_info *in = &hm->info;
    const sizes n = {T, B, (uint64_t)T * B * in->output_dim, (uint64_t)B * in->state_size,
                     in->input_kind == RH_INPUT_DENSE ? (uint64_t)T * B * in->input_dim : 0};
    return n;
}

int fixture_begin(fixture *f, const validate_ctx *ctx, const validate_case *vc, rh_rng *draw, char *detail,
                  size_t len)
{
    memset(f, 0, sizeof *f);
    if (host_model_create(&f->hm, ctx->plugin, vc->model->id, &vc->config, detail, len) != RH_OK)
        return -1;
    if (draw)
        host_model_init_params(&f->hm, rh_rng_next(draw));
    return 0;
}

int fixture_begin_pair(fixture *a, fixture *b, const validate_ctx *ctx, const validate_case *vc, rh_rng *draw,
                       char *detail, size_t len)
{
    if (fixture_begin(a, ctx, vc, draw, detail, len) != 0)
        return -1;
    if (fixture_begin(b, ctx, vc, NULL, detail, len) != 0) {
        fixture_end(a);
        fixture_end(b);
        return -1;
    }
    return 0;
}

float *fixture_floats(fixture *f, uint64_t n, float fill)
{
    float *p = f->n_floats < FIXTURE_MAX_FLOATS ? alloc_floats(n, fill) : NULL;
    if (!p)
        f->out_of_memory = 1;
    else
        f->floats[f->n_floats++] = p;
    return p;
}

void fixture_end(fixture *f)
{
    for (unsigned i = 0; i < f->n_floats; i++)
        free(f->floats[i]);
    f->n_floats = 0;
    batch_free(&f->ob);
    host_model_destroy(&f->hm);
}
