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

rh_status asr_forward(const asr_model *m, float *logits, float **ws, float *scratch, float *const *params,
                      const float *x, const uint32_t *lengths, uint32_t T, uint32_t B)
{
    const host_model *f = &m->dir[0];
    rh_batch batch = {T, B, lengths, x, NULL};
    rh_status st = f->vt->forward(f->model, logits, NULL, ws[0], params ? params[0] : f->params, &batch, NULL);
    if (st != RH_OK || !m->bidirectional)
        return st;
    const host_model *bw = &m->dir[1];
    const size_t D = asr_input_dim(m), K = m->spec.output_dim, rows = (size_t)T * B;
    float *xr = scratch, *yr = xr + rows * D, *back = yr + rows * K;
    reverse_rows(xr, x, lengths, T, B, D);
    rh_batch rb = {T, B, lengths, xr, NULL};
    if ((st = bw->vt->forward(bw->model, yr, NULL, ws[1], params ? params[1] : bw->params, &rb, NULL)) != RH_OK)
        return st;
    reverse_rows(back, yr, lengths, T, B, K);
    for (size_t i = 0; i < rows * K; i++)
        logits[i] += back[i];
    return RH_OK;
}

rh_status asr_backward(const asr_model *m, float **grads, float **ws, float *scratch, float *const *params,
                       const float *x, const uint32_t *lengths, const float *dlogits, uint32_t T, uint32_t B)
{
    const host_model *f = &m->dir[0];
    rh_batch batch = {T, B, lengths, x, NULL};
    rh_status st = f->vt->backward(f->model, grads[0], NULL, NULL, ws[0], params ? params[0] : f->params, &batch,
                                   NULL, dlogits, NULL);
    if (st != RH_OK || !m->bidirectional)
        return st;
    const host_model *bw = &m->dir[1];
    const size_t D = asr_input_dim(m), K = m->spec.output_dim, rows = (size_t)T * B;
    float *xr = scratch, *dyr = xr + rows * D + rows * K; // xr still holds the reversed input of asr_forward
    reverse_rows(dyr, dlogits, lengths, T, B, K);
    rh_batch rb = {T, B, lengths, xr, NULL};
    return bw->vt->backward(bw->model, grads[1], NULL, NULL, ws[1], params ? params[1] : bw->params, &rb, NULL, dyr,
                            NULL);
}
