#include "asrbidir.h"

#include <string.h>

size_t asr_workspace_size(const asr_model *m, uint32_t T, uint32_t B)
{
    const host_model *hm = &m->dir[0];
    return hm->vt->workspace_size(hm->model, T, B) + 1;
}

size_t asr_scratch_size(const asr_model *m, uint32_t T, uint32_t B)
{
    if (!m->bidirectional)
        return 1;
    return (size_t)T * B * (asr_input_dim(m) + 2 * (size_t)m->spec.output_dim) + 1;
}

// dst row (t,b) = src row (len_b - 1 - t, b) for t < len_b; rows past a sequence's length are zeroed.
static void reverse_rows(float *dst, const float *src, const uint32_t *lengths, uint32_t T, uint32_t B, size_t W)
{
    for (uint32_t b = 0; b < B; b++) {
        const uint32_t len = lengths ? lengths[b] : T;
        for (uint32_t t = 0; t < T; t++) {
            float *d = dst + ((size_t)t * B + b) * W;
            if (t < len)
                memcpy(d, src + ((size_t)(len - 1 - t) * B + b) * W, W * sizeof *d);
            else
                memset(d, 0, W * sizeof *d);
        }
    }
}

/* The backward direction's masks: another seed, so the two directions drop independently. */
static const rh_dropout_masks *backward_masks(rh_dropout_masks *mine, const rh_dropout_masks *masks)
{
    if (!masks)
        return NULL;
    *mine = *masks;
    mine->seed ^= 0x6261636b77617264ULL;
    return mine;
}

rh_status asr_forward(const asr_model *m, float *logits, float **ws, float *scratch, float *const *params,
                      const float *x, const uint32_t *lengths, uint32_t T, uint32_t B, const rh_dropout_masks *masks)
{
    const host_model *f = &m->dir[0];
    rh_batch batch = {T, B, lengths, x, NULL};
    rh_status st = host_model_train_forward(f, params ? params[0] : f->params, logits, NULL, ws[0], &batch, NULL,
                                            masks);
    if (st != RH_OK || !m->bidirectional)
        return st;
    const host_model *bw = &m->dir[1];
    const size_t D = asr_input_dim(m), K = m->spec.output_dim, rows = (size_t)T * B;
    float *xr = scratch, *yr = xr + rows * D, *back = yr + rows * K;
    reverse_rows(xr, x, lengths, T, B, D);
    rh_batch rb = {T, B, lengths, xr, NULL};
    rh_dropout_masks bm;
    if ((st = host_model_train_forward(bw, params ? params[1] : bw->params, yr, NULL, ws[1], &rb, NULL,
                                       backward_masks(&bm, masks))) != RH_OK)
        return st;
    reverse_rows(back, yr, lengths, T, B, K);
    for (size_t i = 0; i < rows * K; i++)
        logits[i] += back[i];
    return RH_OK;
}

rh_status asr_backward(const asr_model *m, float **grads, float **ws, float *scratch, float *const *params,
                       const float *x, const uint32_t *lengths, const float *dlogits, uint32_t T, uint32_t B,
                       const rh_dropout_masks *masks)
{
    const host_model *f = &m->dir[0];
    rh_batch batch = {T, B, lengths, x, NULL};
    rh_status st = host_model_train_backward(f, params ? params[0] : f->params, grads[0], NULL, NULL, ws[0], &batch,
                                             NULL, dlogits, NULL, masks);
    if (st != RH_OK || !m->bidirectional)
        return st;
    const host_model *bw = &m->dir[1];
    const size_t D = asr_input_dim(m), K = m->spec.output_dim, rows = (size_t)T * B;
    float *xr = scratch, *dyr = xr + rows * D + rows * K; // xr still holds the reversed input of asr_forward
    reverse_rows(dyr, dlogits, lengths, T, B, K);
    rh_batch rb = {T, B, lengths, xr, NULL};
    rh_dropout_masks bm;
    return host_model_train_backward(bw, params ? params[1] : bw->params, grads[1], NULL, NULL, ws[1], &rb, NULL, dyr,
                                     NULL, backward_masks(&bm, masks));
}
