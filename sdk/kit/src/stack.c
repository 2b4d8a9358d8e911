/* The cell kit's layer stack (rnnhost/kit/cell.h): config checks, the tensor table, batched forward and
 * BPTT, the streaming step and the half step, around a cell's own element-wise step. */
#include "rnnhost/kit/cell.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "pool.h"
#include "rnnhost/dropout.h"
#include "rnnhost/halfstep.h"

/* A table of 2^32 tensors is not a model anyone means; the bound keeps the allocation and the u32 counts sane. */
#define STACK_MAX_LAYERS 4096u
/* 2^40 floats is 4 TiB of parameters before gradients and moments: past it a config is a typo or an
 * attack, and refusing it here gives a clear message instead of an allocation failure later. */
#define STACK_MAX_PARAMS (1ull << 40)
/* Past a few threads the steps' products are too small to share further. */
#define STACK_MAX_THREADS 16u
/* Gate blocks a cell may have, and blocks of state it may carry: far more than any cell has. */
#define STACK_MAX_GATES 64u
#define STACK_MAX_CARRY 16u

/* The tensors of layer l start at l * tensors_per_layer: W_x (or embed), W_h, then the bias (one tensor, or
 * one per gate block, adjacent in the buffer); out.W and out.b follow the last layer. */
enum { T_WX = 0, T_WH = 1, T_B = 2 };

typedef struct stack_model {
    rh_model base; /* first, so an rh_model * is a stack_model * */
    const rh_host *host;
    const rhk_cell *cell;
    uint32_t kind;    /* RH_INPUT_DENSE or RH_INPUT_TOKENS */
    uint32_t D;       /* input floats per step, or vocabulary size */
    uint32_t H, L, G; /* hidden units, layers, gate blocks */
    uint32_t C;       /* blocks of H floats of state the cell carries beside h */
    uint32_t O;       /* configured output_dim; 0 means the top hidden state is the output */
    uint32_t per_layer; /* tensors per layer: W_x, W_h and one bias or G of them */
    uint32_t num_tensors;
    uint64_t num_params;
    rh_tensor *tensors;
    char (*names)[RH_MAX_NAME];
    rhk_pool *pool;                /* threads for one call, or NULL */
    const rh_ext_threads *threads; /* the host's grant per call, or NULL (one thread) */
    uint64_t *half_off;            /* (num_tensors) where each tensor starts in the half-step copy, in
                                      halves, or NO_HALF for tensors the copy leaves out */
    uint64_t half_count;           /* halves in the copy */
    float dropout;                 /* the option "dropout": the chance a layer's output unit is dropped in
                                      training (rh_ext_dropout); 0: none */
    float rdropout;                /* the option "recurrent_dropout": the chance a unit of h<t-1> is dropped
                                      from the recurrent products, one mask per sequence; 0: none. Both 0:
                                      no extension */
} stack_model;

#define NO_HALF UINT64_MAX

void rhk_log(const rh_host *host, int32_t level, const char *fmt, ...)
{
    if (host == NULL || host->log == NULL)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    host->log(host, level, line);
}

static const stack_model *as_stack(const rh_model *model)
{
    return (const stack_model *)model;
}

static uint32_t out_dim(const stack_model *m)
{
    return m->O > 0 ? m->O : m->H;
}

static const float *tensor_ptr(const stack_model *m, const float *params, uint32_t index)
{
    return params + m->tensors[index].offset;
}

static float *grad_ptr(const stack_model *m, float *grads, uint32_t index)
{
    return grads + m->tensors[index].offset;
}

/* The index of layer l's tensor `which` (T_WX, T_WH, or T_B: its first bias tensor). */
static uint32_t layer_tensor(const stack_model *m, uint32_t l, uint32_t which)
{
    return l * m->per_layer + which;
}

/* The index of out.W (k = 0) or out.b (k = 1). */
static uint32_t out_tensor(const stack_model *m, uint32_t k)
{
    return m->L * m->per_layer + k;
}

/* Floats of one layer's state per sequence: h, then what the cell carries. */
static size_t layer_state(const stack_model *m)
{
    return (size_t)(1 + m->C) * m->H;
}

/* Floats of state per sequence, every layer. */
static size_t state_floats(const stack_model *m)
{
    return (size_t)m->L * layer_state(m);
}

/* ---- sizes with overflow checks -------------------------------------------------------------------- */

static int mul_ok(uint64_t *r, uint64_t a, uint64_t b)
{
    return !__builtin_mul_overflow(a, b, r);
}

static int add_ok(uint64_t *r, uint64_t a, uint64_t b)
{
    return !__builtin_add_overflow(a, b, r);
}

/* Saturates at UINT64_MAX so a huge request yields an allocation failure in the caller, not a wrap. */
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return mul_ok(&r, a, b) ? r : UINT64_MAX;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return add_ok(&r, a, b) ? r : UINT64_MAX;
}

/* ---- workspace layout ------------------------------------------------------------------------------ */

/* Per layer: z (T,B,GH) gate activations, later dz; hs (T+1,B,H) with hs[0] = h_0 and hs[t+1] = a<t>
 * (backward reuses a layer's hs, once its weight gradients are done, for the gradient it sends to the layer
 * below); rh (T,B,H) when the cell has rh gates; cs (T+1,B,CH), the carried state like hs, when the cell
 * carries any; ho (T,B,H), the outputs with dropout applied, what the layer above or the projection reads
 * in training, when the model has dropout. Then shared backward scratch: dym (T,B,O), four (B,H) rows for
 * the sweep, three (B,CH) for the carried state's gradients, and the top layer's dy Wy for a chunk of steps
 * (top_chunk); then the packed copy of one layer's W_h, forward's or backward's (pack_floats); last, with
 * recurrent dropout, its masks and each thread's masked input (rdrop_floats). A cell that carries nothing
 * leaves every (B,CH) piece empty, so its workspace is laid out as before the kit could carry state. */
typedef struct stack_ws {
    float *z, *hs, *rh, *cs; /* of the layer asked for; rh and cs NULL when the cell has none */
    float *ho;               /* NULL when the model has no dropout */
} stack_ws;

static uint64_t layer_floats(const stack_model *m, uint64_t TB, uint64_t B)
{
    uint64_t H = m->H;
    uint64_t n = sat_mul(TB, (uint64_t)m->G * H);
    n = sat_add(n, sat_mul(sat_add(TB, B), H));
    if (m->cell->rh_gates > 0)
        n = sat_add(n, sat_mul(TB, H));
    n = sat_add(n, sat_mul(sat_add(TB, B), (uint64_t)m->C * H));
    if (m->dropout > 0)
        n = sat_add(n, sat_mul(TB, H));
    return n;
}

static size_t panels(size_t H)
{
    return (H + KNR - 1) / KNR;
}

static uint64_t pack_floats(const stack_model *m)
{
    return sat_mul(sat_mul((uint64_t)m->G * panels(m->H), KNR), m->H);
}

/* Steps of dy Wy the top layer's backward makes at once: about 512 rows, one efficient GEMM, in a buffer a
 * quarter of the size of all T steps at the usual T = 64, B = 32. */
static uint64_t top_chunk(uint32_t T, uint32_t B)
{
    if (T == 0 || B == 0)
        return 0;
    uint64_t steps = B >= 512 ? 1 : 512 / B;
    return steps < T ? steps : T;
}

/* Recurrent dropout's masks (L,B,H), one per layer and sequence, and each thread's masked copy of a
 * recurrent product's input (B,H). */
static uint64_t rdrop_floats(const stack_model *m, uint32_t B)
{
    if (m->rdropout <= 0)
        return 0;
    uint64_t threads = m->pool != NULL ? rhk_pool_size(m->pool) : 1;
    return sat_mul((uint64_t)m->L + threads, sat_mul(B, m->H));
}

static uint64_t ws_floats(const stack_model *m, uint32_t T, uint32_t B)
{
    uint64_t TB = (uint64_t)T * B;
    uint64_t n = sat_mul(layer_floats(m, TB, B), m->L);
    n = sat_add(n, sat_mul(TB, out_dim(m)));
    n = sat_add(n, sat_mul(4 + 3ull * m->C, sat_mul(B, m->H)));
    if (m->O > 0)
        n = sat_add(n, sat_mul(sat_mul(top_chunk(T, B), B), m->H));
    return sat_add(sat_add(n, pack_floats(m)), rdrop_floats(m, B));
}

static stack_ws ws_layer(const stack_model *m, float *ws, uint32_t l, size_t TB, size_t B)
{
    size_t H = m->H;
    float *base = ws + (size_t)l * layer_floats(m, TB, B);
    stack_ws w;
    w.z = base;
    w.hs = w.z + TB * m->G * H;
    w.rh = m->cell->rh_gates > 0 ? w.hs + (TB + B) * H : NULL;
    w.cs = m->C > 0 ? w.hs + (TB + B) * H + (w.rh != NULL ? TB * H : 0) : NULL;
    w.ho = m->dropout > 0 ? w.hs + (TB + B) * H + (w.rh != NULL ? TB * H : 0) + (TB + B) * m->C * H : NULL;
    return w;
}

static float *ws_shared(const stack_model *m, float *ws, size_t TB, size_t B)
{
    return ws + (size_t)m->L * layer_floats(m, TB, B);
}

static float *ws_pack(const stack_model *m, float *ws, size_t T, size_t B)
{
    size_t TB = T * B, chunk = m->O > 0 ? (size_t)top_chunk((uint32_t)T, (uint32_t)B) * B * m->H : 0;
    return ws_shared(m, ws, TB, B) + TB * out_dim(m) + (4 + 3 * (size_t)m->C) * B * m->H + chunk;
}

/* Recurrent dropout's masks of layer l (B,H), and thread id's masked input (B,H) after all the masks. */
static float *ws_rmask(const stack_model *m, float *ws, size_t T, size_t B, uint32_t l)
{
    return ws_pack(m, ws, T, B) + pack_floats(m) + (size_t)l * B * m->H;
}

static float *ws_rinput(const stack_model *m, float *ws, size_t T, size_t B, uint32_t id)
{
    return ws_rmask(m, ws, T, B, m->L) + (size_t)id * B * m->H;
}

/* ---- vtable ---------------------------------------------------------------------------------------- */

static void stack_destroy(rh_model *model)
{
    if (model != NULL)
        rhk_pool_destroy(as_stack(model)->pool);
    free(model); /* one allocation holds the model, its tensor table and the names */
}

static rh_status stack_get_info(const rh_model *model, rh_model_info *out)
{
    if (model == NULL || out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    rh_model_info info;
    memset(&info, 0, sizeof info);
    uint32_t want = out->struct_size;
    info.struct_size = want;
    info.input_kind = m->kind;
    info.input_dim = m->D;
    info.output_dim = out_dim(m);
    info.state_size = (uint32_t)state_floats(m);
    info.num_tensors = m->num_tensors;
    info.num_params = m->num_params;
    memcpy(out, &info, want < sizeof info ? want : sizeof info);
    return RH_OK;
}

static rh_status stack_get_tensor(const rh_model *model, uint32_t index, rh_tensor *out)
{
    if (model == NULL || out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    if (index >= m->num_tensors)
        return RH_ERR_INVALID_ARGUMENT;
    *out = m->tensors[index];
    return RH_OK;
}

static uint64_t stack_workspace_size(const rh_model *model, uint32_t T, uint32_t B)
{
    return model == NULL ? 0 : ws_floats(as_stack(model), T, B);
}

static uint64_t stack_step_scratch_size(const rh_model *model, uint32_t B)
{
    if (model == NULL)
        return 0;
    const stack_model *m = as_stack(model);
    // z (B,GH), rh (B,H), h_prev (B,H), h (B,H), c_prev (B,CH), c (B,CH)
    return sat_mul(B, (uint64_t)m->G * m->H + 3ull * m->H + 2ull * m->C * m->H);
}

static rh_status stack_reset(const rh_model *model, float *state, uint32_t B)
{
    if (model == NULL || (state == NULL && B > 0))
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    memset(state, 0, (size_t)B * state_floats(m) * sizeof(float));
    return RH_OK;
}

/* ---- shared pieces of forward, backward and step -------------------------------------------------- */

static uint32_t seq_len(const rh_batch *batch, uint32_t b)
{
    return batch->lengths != NULL ? batch->lengths[b] : batch->T;
}

/* z (N,GH) = bias on every row, so the projection GEMMs accumulate with beta = 1 exactly as step does. */
static void fill_bias(float *z, const float *bias, size_t N, size_t GH)
{
    for (size_t i = 0; i < N; i++)
        memcpy(z + i * GH, bias, GH * sizeof(float));
}

/* z (M,N, row stride ldz) += a (M,K, row stride lda) W^T, W (N, row stride ldw). A single row goes through
 * gemv: OpenBLAS's sgemm packs the whole weight matrix on every call, which at one row costs more than the
 * product, and its gemv streams the weights once at memory speed. */
static void gemm_nt(float *z, size_t ldz, const float *a, size_t lda, const float *W, size_t ldw, size_t M, size_t N,
                    size_t K)
{
    if (M == 0 || N == 0)
        return;
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, W, (int)ldw, a, 1, 1.0f, z, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)lda, W, (int)ldw,
                    1.0f, z, (int)ldz);
}

/* d (M,K) = beta d + dz (M,N, row stride lddz) W, W (N,K) */
static void gemm_nn(float *d, float beta, const float *dz, size_t lddz, const float *W, size_t M, size_t N, size_t K)
{
    if (M == 0)
        return;
    if (M == 1) {
        // beta 0 must overwrite whatever d holds, NaN included, which a scaling by 0 need not do.
        if (beta == 0.0f)
            memset(d, 0, K * sizeof(float));
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)N, (int)K, 1.0f, W, (int)K, dz, 1, beta == 0.0f ? 1.0f : beta,
                    d, 1);
    }
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)N, 1.0f, dz, (int)lddz, W,
                    (int)K, beta, d, (int)K);
}

/* ---- splitting a call over threads ------------------------------------------------------------------ */

/* [*lo, *hi): thread id's share of n items */
static void share(size_t n, uint32_t id, uint32_t threads, size_t *lo, size_t *hi)
{
    *lo = n * id / threads;
    *hi = n * (id + 1) / threads;
}

/* Thread id's units: whole panels of KNR, so that no two threads write one panel. */
static void own_units(const stack_model *m, uint32_t id, uint32_t n, uint32_t *u0, uint32_t *u1)
{
    size_t p0, p1, H = m->H;
    share(panels(H), id, n, &p0, &p1);
    *u0 = (uint32_t)(p0 * KNR < H ? p0 * KNR : H);
    *u1 = (uint32_t)(p1 * KNR < H ? p1 * KNR : H);
}

void rhk_sync(const rhk_part *p)
{
    rhk_pool_sync((rhk_pool *)p->pool, p->n);
}

/* Packs W_h (G*H,H) as G*P panels of KNR columns of W_h^T, each H rows of KNR floats (zeros past H), for the
 * panels of units [u0,u1): each thread packs the panels it multiplies by, so they land in its own cache. */
static void pack_panels(float *pack, const float *W_h, size_t G, size_t H, uint32_t u0, uint32_t u1)
{
    size_t P = panels(H);
    for (size_t g = 0; g < G; g++)
        for (size_t pi = u0 / KNR; pi * KNR < u1; pi++) {
            float *dst = pack + ((g * P + pi) * H) * KNR;
            for (size_t j = 0; j < KNR; j++) {
                size_t unit = pi * KNR + j;
                if (unit < H) {
                    const float *row = W_h + (g * H + unit) * H;
                    for (size_t k = 0; k < H; k++)
                        dst[k * KNR + j] = row[k];
                } else {
                    for (size_t k = 0; k < H; k++)
                        dst[k * KNR + j] = 0.0f;
                }
            }
        }
}

/* Packs W_h (G*H,H) for the backward product as P panels of KNR of its columns, each G*H rows of KNR floats
 * (zeros past H), for the panels of units [u0,u1). The rows of W_h itself lie H floats apart, which at a
 * power-of-two H puts a panel's rows in a few cache sets, so that a chunk of them cannot stay in L1 while
 * the batch's row blocks pass over it; a panel's rows lie KNR floats apart. The kernel sees the same
 * values in the same order, so the sums are the same bits. */
static void pack_rows(float *pack, const float *W_h, size_t G, size_t H, uint32_t u0, uint32_t u1)
{
    size_t GH = G * H;
    for (size_t pi = u0 / KNR; pi * KNR < u1; pi++) {
        float *dst = pack + pi * GH * KNR;
        size_t col = pi * KNR, w = H - col < KNR ? H - col : KNR;
        for (size_t r = 0; r < GH; r++) {
            memcpy(dst + r * KNR, W_h + r * H + col, w * sizeof(float));
            memset(dst + r * KNR + w, 0, (KNR - w) * sizeof(float));
        }
    }
}

/* The step's product z (B, row stride ldz) += a (B,K, row stride lda) W^T over the N rows of W (N,K): from
 * the half-step copy Wh when there is one; at batch 1 by the dot kernel, which the copy's step shares, so
 * that the two give the same bits; else one GEMM. */
static void step_product(float *z, size_t ldz, const float *a, size_t lda, const float *W, const uint16_t *Wh,
                         size_t N, size_t K, size_t B)
{
    if (N == 0 || B == 0)
        return;
    if (Wh != NULL)
        rhk_dots_half(z, ldz, a, lda, Wh, N, K, B);
    else if (B == 1)
        rhk_dots_float(z, ldz, a, lda, W, N, K, B);
    else
        gemm_nt(z, ldz, a, lda, W, K, B, N, K);
}

void rhk_rec(const rhk_part *p, float *z, size_t ldz, const float *a, uint32_t g0, uint32_t ng)
{
    size_t B = p->B, H = p->H, P = panels(H);
    if (p->u1 <= p->u0)
        return;
    if (p->rmask != NULL) { // recurrent dropout: the whole input, masked, in this thread's own copy
        for (size_t i = 0; i < B * H; i++)
            p->rinput[i] = a[i] * p->rmask[i];
        a = p->rinput;
    }
    for (size_t g = g0; g < (size_t)g0 + ng; g++) {
        if (p->pack == NULL) { // step: the rows of W_h as they are
            size_t row = g * H + p->u0;
            step_product(z + g * H + p->u0, ldz, a, H, p->W_h + row * H,
                         p->W_h_half != NULL ? p->W_h_half + row * H : NULL, p->u1 - p->u0, H, B);
            continue;
        }
        for (size_t pi = p->u0 / KNR; pi * KNR < p->u1; pi++) {
            size_t col = pi * KNR, w = H - col < KNR ? H - col : KNR;
            const float *panel = p->pack + ((g * P + pi) * H) * KNR;
            rhk_kern(z + g * H + col, ldz, a, H, panel, KNR, H, B, w);
        }
    }
}

/* Reduction chunk of the backward product: KCHUNK rows of a panel (16 KiB) stay in L1 while every row
 * block of the batch passes over them. */
enum { KCHUNK = 128 };

/* d (B,H), columns [u0,u1): = beta d + dz (B,N, row stride lddz) W (N,H); W's panel of columns col is at
 * W + col with rows ldw apart (W_h itself, ldw = H) or at W + col / KNR * panel (pack_rows, ldw = KNR). */
static void rows_back(float *d, float beta, const float *dz, size_t lddz, const float *W, size_t ldw, size_t panel,
                      size_t N, size_t B, size_t H, size_t u0, size_t u1)
{
    if (u1 <= u0)
        return;
    for (size_t b = 0; b < B; b++) {
        float *db = d + b * H;
        for (size_t i = u0; i < u1; i++)
            db[i] = beta == 0.0f ? 0.0f : beta * db[i];
    }
    for (size_t col = u0; col < u1; col += KNR) {
        size_t w = u1 - col < KNR ? u1 - col : KNR;
        for (size_t n0 = 0; n0 < N; n0 += KCHUNK) {
            size_t nk = N - n0 < KCHUNK ? N - n0 : KCHUNK;
            const float *p = panel > 0 ? W + col / KNR * panel : W + col;
            rhk_kern(d + col, H, dz + n0, lddz, p + n0 * ldw, ldw, nk, B, w);
        }
    }
}

void rhk_rec_back(const rhk_part *p, float *d, float beta, const float *dz, size_t lddz, uint32_t g0,
                  uint32_t ng)
{
    size_t H = p->H, N = (size_t)ng * H;
    if (p->rmask != NULL) { // recurrent dropout: d = beta d + rmask (dz W), the product made in rinput
        rhk_part q = *p;
        q.rmask = NULL;
        rhk_rec_back(&q, p->rinput, 0.0f, dz, lddz, g0, ng);
        for (size_t b = 0; b < p->B; b++)
            for (size_t i = p->u0; i < p->u1; i++) {
                size_t k = b * H + i;
                d[k] = (beta == 0.0f ? 0.0f : beta * d[k]) + p->rmask[k] * p->rinput[k];
            }
        return;
    }
    if (p->pack != NULL) // pack_rows: panels of all G*H rows
        rows_back(d, beta, dz, lddz, p->pack + (size_t)g0 * H * KNR, KNR, (size_t)p->G * H * KNR, N, p->B, H, p->u0,
                  p->u1);
    else
        rows_back(d, beta, dz, lddz, p->W_h + (size_t)g0 * H * H, H, 0, N, p->B, H, p->u0, p->u1);
}

/* z (N,GH) += in (N,K, row stride ld) W^T, W (GH,K). */
static void add_input_proj(float *z, const float *in, size_t ld, const float *W, size_t N, size_t K, size_t GH)
{
    gemm_nt(z, GH, in, ld, W, K, N, GH, K);
}

/* dst (n) += src (n) */
static void add_row(float *dst, const float *src, size_t n)
{
    for (size_t j = 0; j < n; j++)
        dst[j] += src[j];
}

/* Rejects what would make the batched paths read out of bounds. */
static rh_status check_batch(const stack_model *m, const char *what, const float *params, const float *ws,
                             const rh_batch *batch)
{
    if (batch == NULL || params == NULL) {
        rhk_log(m->host, RH_LOG_ERROR, "%s: %s is NULL", what, batch == NULL ? "batch" : "params");
        return RH_ERR_INVALID_ARGUMENT;
    }
    uint32_t T = batch->T, B = batch->B;
    if (T == 0 || B == 0)
        return RH_OK;
    if ((uint64_t)T * B > INT_MAX) {
        rhk_log(m->host, RH_LOG_ERROR, "%s: T*B = %llu exceeds the BLAS row limit", what,
                  (unsigned long long)T * B);
        return RH_ERR_INVALID_ARGUMENT;
    }
    if (ws == NULL) {
        rhk_log(m->host, RH_LOG_ERROR, "%s: workspace is NULL", what);
        return RH_ERR_INVALID_ARGUMENT;
    }
    if (batch->lengths != NULL)
        for (uint32_t b = 0; b < B; b++)
            if (batch->lengths[b] > T) {
                rhk_log(m->host, RH_LOG_ERROR, "%s: lengths[%u] = %u exceeds T = %u", what, b,
                          batch->lengths[b], T);
                return RH_ERR_INVALID_ARGUMENT;
            }
    if (m->kind == RH_INPUT_DENSE) {
        if (batch->x == NULL) {
            rhk_log(m->host, RH_LOG_ERROR, "%s: dense model given no x", what);
            return RH_ERR_INVALID_ARGUMENT;
        }
        return RH_OK;
    }
    if (batch->tokens == NULL) {
        rhk_log(m->host, RH_LOG_ERROR, "%s: token model given no tokens", what);
        return RH_ERR_INVALID_ARGUMENT;
    }
    for (uint32_t b = 0; b < B; b++) {
        uint32_t len = seq_len(batch, b);
        for (uint32_t t = 0; t < len; t++) {
            int32_t tok = batch->tokens[(size_t)t * B + b];
            if (tok < 0 || (uint32_t)tok >= m->D) {
                rhk_log(m->host, RH_LOG_ERROR, "%s: token %d at t=%u, b=%u is outside [0, %u)", what, tok, t,
                          b, m->D);
                return RH_ERR_INVALID_ARGUMENT;
            }
        }
    }
    return RH_OK;
}

/* Layer l's state of a (B,S) state, in blocks of H floats: block 0 is h, blocks 1..C what the cell carries.
 * state_get copies units [u0,u1) of the nb blocks from block k0 on into a (B, nb*H), or zeros when state is
 * NULL; state_put copies them back. */
static void state_get(const stack_model *m, float *a, const float *state, uint32_t l, uint32_t k0, uint32_t nb,
                      size_t B, size_t u0, size_t u1)
{
    size_t H = m->H, S = state_floats(m), at = l * layer_state(m) + k0 * H, w = nb * H;
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < nb; k++) {
            if (state != NULL)
                memcpy(a + b * w + k * H + u0, state + b * S + at + k * H + u0, (u1 - u0) * sizeof(float));
            else
                memset(a + b * w + k * H + u0, 0, (u1 - u0) * sizeof(float));
        }
}

static void state_put(const stack_model *m, float *state, const float *a, uint32_t l, uint32_t k0, uint32_t nb,
                      size_t B, size_t u0, size_t u1)
{
    size_t H = m->H, S = state_floats(m), at = l * layer_state(m) + k0 * H, w = nb * H;
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < nb; k++)
            memcpy(state + b * S + at + k * H + u0, a + b * w + k * H + u0, (u1 - u0) * sizeof(float));
}

/* Units [u0,u1) of the nb blocks of H of row b: dst = src. */
static void copy_units(float *dst, const float *src, size_t b, uint32_t nb, size_t H, size_t u0, size_t u1)
{
    for (size_t k = 0; k < nb; k++)
        memcpy(dst + (b * nb + k) * H + u0, src + (b * nb + k) * H + u0, (u1 - u0) * sizeof(float));
}

/* dst (n) = src, or zeros when src is NULL (the reset state, or no gradient); nothing when dst is NULL. */
static void pass_through(float *dst, const float *src, size_t n)
{
    if (dst == NULL)
        return;
    if (src != NULL)
        memmove(dst, src, n * sizeof(float));
    else
        memset(dst, 0, n * sizeof(float));
}

/* The checks and empty cases forward and backward share: 1 when the call has work to do, else 0 with the
 * call's result in *st. With no steps nothing happens, so the state (forward) or its gradient (backward)
 * passes from src to dst unchanged. */
static int call_needed(const stack_model *m, const char *what, const float *params, const float *ws,
                       const rh_batch *batch, float *dst, const float *src, rh_status *st)
{
    *st = check_batch(m, what, params, ws, batch);
    if (*st != RH_OK || batch->B == 0)
        return 0;
    if (batch->T == 0) {
        pass_through(dst, src, (size_t)batch->B * state_floats(m));
        return 0;
    }
    return 1;
}

/* Threads for a call whose every step multiplies `macs` weights: the host's grant, capped by the pool, and 1
 * when the step is too small for the threads to pay for meeting each other. */
enum { POOL_MIN_MACS = 1 << 17 };

static uint32_t call_threads(const stack_model *m, uint64_t macs)
{
    if (m->pool == NULL || m->threads == NULL || macs < POOL_MIN_MACS)
        return 1;
    uint32_t n = m->threads->threads(m->host);
    uint32_t size = rhk_pool_size(m->pool);
    return n < 2 ? 1 : n < size ? n : size;
}

/* Runs task on n threads of the model's pool, with OpenBLAS on one thread meanwhile (each share makes its
 * own BLAS calls, and BLAS threads of their own would fight the pool's for the cores), or on the caller
 * alone when n is 1 or the pool is taken. `step` runs alone too while the workers sleep (it wakes them for
 * the next step): one step is short, and the real-time path must not wait for a thread to be scheduled. */
static void run_split(const stack_model *m, uint32_t n, rhk_pool_task task, void *arg, int step)
{
    if (n > 1) {
        int blas = openblas_get_num_threads();
        if (blas != 1)
            openblas_set_num_threads(1);
        int ran = rhk_pool_run(m->pool, n, task, arg, step);
        if (blas != 1)
            openblas_set_num_threads(blas);
        if (ran == 0)
            return;
    }
    task(arg, 0, 1);
}

/* ---- dropout (rnnhost/dropout.h) ------------------------------------------------------------------- */

/* Each draw is SplitMix64's finaliser over a key: a counter-based generator, so a unit's mask depends on
 * its position and the seed alone, not on the order or the thread that draws it. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15ull

/* The masks of one training call: those of the output of layer l at step t of sequence b (its index in
 * the whole batch) are drawn from row_key(l, t, b); recurrent dropout's, one for all steps of sequence b
 * in layer l, from state_key(l, b). */
typedef struct drop_ctx {
    uint64_t seed;
    uint32_t first;
    uint32_t threshold;  /* a unit is dropped when the top 24 bits of its draw are below it */
    float scale;         /* 1/(1-P): a kept unit's factor, so the expected output is the undropped one */
    uint32_t rthreshold; /* the same two for recurrent dropout */
    float rscale;
} drop_ctx;

static drop_ctx drop_setup(const stack_model *m, const rh_dropout_masks *masks)
{
    drop_ctx d = {masks->seed,
                  masks->first,
                  (uint32_t)lrint(m->dropout * 16777216.0),
                  1.0f / (1.0f - m->dropout),
                  (uint32_t)lrint(m->rdropout * 16777216.0),
                  1.0f / (1.0f - m->rdropout)};
    return d;
}

static uint64_t row_key(const drop_ctx *d, uint32_t l, size_t t, size_t b)
{
    uint64_t k = mix64(d->seed + GOLDEN * (l + 1ull));
    k = mix64(k + GOLDEN * (t + 1ull));
    return mix64(k + GOLDEN * (d->first + b + 1ull));
}

/* Unit i's factor in the row of key: 0 or the scale. */
static float unit_factor(const drop_ctx *d, uint64_t key, size_t i)
{
    return (uint32_t)(mix64(key + GOLDEN * (i + 1ull)) >> 40) < d->threshold ? 0.0f : d->scale;
}

/* Recurrent dropout's masks of layer l, own units [u0,u1) of every sequence's row (B,H): drawn apart from
 * the output's (another stream of the seed), the same at every step. */
static void fill_state_masks(const drop_ctx *d, float *mask, uint32_t l, size_t B, size_t H, size_t u0, size_t u1)
{
    const uint64_t stream = mix64(d->seed ^ 0x5851f42d4c957f2dull);
    for (size_t b = 0; b < B; b++) {
        uint64_t key = mix64(mix64(stream + GOLDEN * (l + 1ull)) + GOLDEN * (d->first + b + 1ull));
        for (size_t i = u0; i < u1; i++)
            mask[b * H + i] =
                (uint32_t)(mix64(key + GOLDEN * (i + 1ull)) >> 40) < d->rthreshold ? 0.0f : d->rscale;
    }
}

/* rows [r0,r1) of x (rows of B sequences, each H) *= their sequence's mask (B,H) */
static void mask_rows(float *x, const float *mask, size_t B, size_t H, size_t r0, size_t r1)
{
    for (size_t r = r0; r < r1; r++)
        for (size_t i = 0; i < H; i++)
            x[r * H + i] *= mask[(r % B) * H + i];
}

/* ho rows [r0,r1) (each H) = hs rows, dropped: the output of layer l as its consumer reads it in training. */
static void drop_rows(const drop_ctx *d, float *ho, const float *hs, uint32_t l, size_t B, size_t H, size_t r0,
                      size_t r1)
{
    for (size_t r = r0; r < r1; r++) {
        const uint64_t key = row_key(d, l, r / B, r % B);
        for (size_t i = 0; i < H; i++)
            ho[r * H + i] = hs[r * H + i] * unit_factor(d, key, i);
    }
}

/* ---- forward --------------------------------------------------------------------------------------- */

typedef struct fwd_call {
    const stack_model *m;
    float *y, *h_T, *ws;
    const float *params, *h_0;
    const rh_batch *batch;
    const drop_ctx *drop;  /* NULL: no output is dropped (inference, or no dropout) */
    const drop_ctx *rdrop; /* NULL: no recurrent dropout */
} fwd_call;

/* What reads layer l's output (the layer above, the projection) reads from row 0 on: ho in training with
 * dropout, else hs past its h_0 row. */
static const float *layer_out(const stack_ws *w, const drop_ctx *drop, size_t B, size_t H)
{
    return drop != NULL ? w->ho : w->hs + B * H;
}

static void forward_task(void *arg, uint32_t id, uint32_t n)
{
    const fwd_call *c = arg;
    const stack_model *m = c->m;
    const rh_batch *batch = c->batch;
    const float *params = c->params;
    size_t T = batch->T, B = batch->B, TB = T * B, H = m->H, GH = (size_t)m->G * H, O = out_dim(m);
    size_t CH = (size_t)m->C * H;
    size_t r0, r1; // this thread's rows of (T*B, ...) products
    share(TB, id, n, &r0, &r1);
    uint32_t u0, u1;
    own_units(m, id, n, &u0, &u1);
    float *pack = ws_pack(m, c->ws, T, B);

    for (uint32_t l = 0; l < m->L; l++) {
        stack_ws w = ws_layer(m, c->ws, l, TB, B);
        const float *W_x = tensor_ptr(m, params, layer_tensor(m, l, T_WX));
        const float *W_h = tensor_ptr(m, params, layer_tensor(m, l, T_WH));
        fill_bias(w.z + r0 * GH, tensor_ptr(m, params, layer_tensor(m, l, T_B)), r1 - r0, GH);
        if (l > 0) {
            stack_ws below = ws_layer(m, c->ws, l - 1, TB, B);
            add_input_proj(w.z + r0 * GH, layer_out(&below, c->drop, B, H) + r0 * H, H, W_x, r1 - r0, H, GH);
        } else if (m->kind == RH_INPUT_DENSE) {
            add_input_proj(w.z + r0 * GH, batch->x + r0 * m->D, m->D, W_x, r1 - r0, m->D, GH);
        } else {
            // Padding positions are never read: their rows keep the bias and their outputs are discarded.
            for (size_t r = r0; r < r1; r++)
                if (r / B < seq_len(batch, (uint32_t)(r % B)))
                    add_row(w.z + r * GH, W_x + (size_t)batch->tokens[r] * GH, GH);
        }
        pack_panels(pack, W_h, m->G, H, u0, u1);
        state_get(m, w.hs, c->h_0, l, 0, 1, B, u0, u1);
        if (m->C > 0)
            state_get(m, w.cs, c->h_0, l, 1, m->C, B, u0, u1);
        rhk_part part = {u0, u1, (uint32_t)B, m->H, W_h, pack, NULL, m->pool, n, m->G, NULL, NULL};
        if (c->rdrop != NULL) {
            float *rmask = ws_rmask(m, c->ws, T, B, l);
            fill_state_masks(c->rdrop, rmask, l, B, H, u0, u1);
            part.rmask = rmask, part.rinput = ws_rinput(m, c->ws, T, B, id);
        }
        for (size_t t = 0; t < T; t++) {
            rhk_sync(&part); // h_prev whole, and (at t = 0) this layer's input projection done
            rhk_fwd s = {w.z + t * B * GH, w.hs + (t + 1) * B * H, NULL, w.rh != NULL ? w.rh + t * B * H : NULL,
                         w.hs + t * B * H, NULL};
            if (m->C > 0)
                s.c = w.cs + (t + 1) * B * CH, s.c_prev = w.cs + t * B * CH;
            m->cell->forward(&part, &s);
            for (size_t b = 0; b < B; b++)
                if (t >= seq_len(batch, (uint32_t)b)) {
                    copy_units(s.h, s.h_prev, b, 1, H, u0, u1);
                    if (m->C > 0)
                        copy_units(s.c, s.c_prev, b, m->C, H, u0, u1);
                }
        }
        if (c->h_T != NULL) {
            state_put(m, c->h_T, w.hs + T * B * H, l, 0, 1, B, u0, u1);
            if (m->C > 0)
                state_put(m, c->h_T, w.cs + T * B * CH, l, 1, m->C, B, u0, u1);
        }
        rhk_sync(&part); // the layer's outputs whole before the next layer or the projection reads them
        // Dropped by the rows this thread's next input projection reads: no further wait.
        if (c->drop != NULL)
            drop_rows(c->drop, w.ho, w.hs + B * H, l, B, H, r0, r1);
    }

    stack_ws top = ws_layer(m, c->ws, m->L - 1, TB, B);
    float *y = c->y + r0 * O;
    const float *a = layer_out(&top, c->drop, B, H) + r0 * H;
    if (m->O == 0) {
        memcpy(y, a, (r1 - r0) * H * sizeof(float));
    } else {
        fill_bias(y, tensor_ptr(m, params, out_tensor(m, 1)), r1 - r0, O);
        add_input_proj(y, a, H, tensor_ptr(m, params, out_tensor(m, 0)), r1 - r0, H, O);
    }
    for (size_t r = r0; r < r1; r++)
        if (r / B >= seq_len(batch, (uint32_t)(r % B)))
            memset(c->y + r * O, 0, O * sizeof(float));
}

// y is (T,B,O), h_T and h_0 are (B,S), workspace is ws_floats(T,B); masks NULL for no dropout
static rh_status forward_with(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                              const rh_batch *batch, const float *h_0, const rh_dropout_masks *masks)
{
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    rh_status st;
    if (!call_needed(m, "forward", params, workspace, batch, h_T, h_0, &st))
        return st;
    if (y == NULL) {
        rhk_log(m->host, RH_LOG_ERROR, "forward: y is NULL");
        return RH_ERR_INVALID_ARGUMENT;
    }
    const drop_ctx drop = masks != NULL ? drop_setup(m, masks) : (drop_ctx){0};
    fwd_call c = {m,     y,    h_T, workspace, params, h_0, batch, masks != NULL && m->dropout > 0 ? &drop : NULL,
                  masks != NULL && m->rdropout > 0 ? &drop : NULL};
    run_split(m, call_threads(m, (uint64_t)batch->B * m->G * m->H * m->H), forward_task, &c, 0);
    return RH_OK;
}

static rh_status stack_forward(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                               const rh_batch *batch, const float *h_0)
{
    return forward_with(model, y, h_T, workspace, params, batch, h_0, NULL);
}

/* ---- backward -------------------------------------------------------------------------------------- */

/* dW (rows,K) += dz[:, 0:rows]^T (N rows, stride ld) in (N,K, row stride ldin). */
static void add_weight_grad(float *dW, const float *dz, size_t ld, const float *in, size_t ldin, size_t N,
                            size_t rows, size_t K)
{
    if (rows == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)K, (int)N, 1.0f, dz, (int)ld, in, (int)ldin,
                1.0f, dW, (int)K);
}

/* db (n) += column sums of d (N,n, row stride ld), accumulated in double so long sequences do not lose
 * small terms. The columns go in blocks, each summed down all rows at once, so d is read row by row (a
 * column at a time strides a whole row per element) and the inner loop vectorises (each column's sum in
 * its own lane, in the same order: GCC's -O2 needs asking). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#endif
static void add_bias_grad(float *db, const float *d, size_t ld, size_t N, size_t n)
{
    enum { BLOCK = 64 };
    for (size_t j0 = 0; j0 < n; j0 += BLOCK) {
        size_t w = n - j0 < BLOCK ? n - j0 : BLOCK;
        double s[BLOCK] = {0};
        for (size_t i = 0; i < N; i++) {
            const float *row = d + i * ld + j0;
            for (size_t j = 0; j < w; j++)
                s[j] += row[j];
        }
        for (size_t j = 0; j < w; j++)
            db[j0 + j] += (float)s[j];
    }
}

typedef struct bwd_call {
    const stack_model *m;
    float *grads, *dx, *dh_0, *ws;
    const float *params, *dy, *dh_T;
    const rh_batch *batch;
    const drop_ctx *drop, *rdrop; /* the forward's masks, or NULL */
} bwd_call;

static void backward_task(void *arg, uint32_t id, uint32_t n)
{
    const bwd_call *c = arg;
    const stack_model *m = c->m;
    const rh_batch *batch = c->batch;
    const float *params = c->params;
    float *grads = c->grads;
    size_t T = batch->T, B = batch->B, TB = T * B, H = m->H, GH = (size_t)m->G * H, O = out_dim(m);
    size_t r0, r1, q0, q1;
    share(TB, id, n, &r0, &r1);
    share(GH, id, n, &q0, &q1); // rows of the layer's weight gradients, columns of its bias gradient
    uint32_t u0, u1;
    own_units(m, id, n, &u0, &u1);
    float *pack = ws_pack(m, c->ws, T, B); // W_h of the layer at hand, for rhk_rec_back (pack_rows)
    rhk_part part = {u0, u1, (uint32_t)B, m->H, NULL, pack, NULL, m->pool, n, m->G, NULL, NULL};
    if (c->rdrop != NULL)
        part.rinput = ws_rinput(m, c->ws, T, B, id);

    size_t C = m->C, CH = C * H;
    float *dym = ws_shared(m, c->ws, TB, B); // (T,B,O) dy with padding zeroed, when there is padding
    float *dh = dym + TB * O, *dhp = dh + B * H, *g = dhp + B * H, *scratch = g + B * H; // (B,H) each
    // (B,CH) each: dLoss/dc of the carried state at this step and the one before, and what the cell gets
    float *dc = scratch + B * H, *dcp = dc + B * CH, *gc = dcp + B * CH;
    float *dychunk = gc + B * CH; // (top_chunk,B,H) dy Wy
    size_t TC = (size_t)top_chunk((uint32_t)T, (uint32_t)B), t0 = 0;
    const float *Wy = m->O > 0 ? tensor_ptr(m, params, out_tensor(m, 0)) : NULL;

    const float *dyz = c->dy; // dy with zeros at padding
    if (batch->lengths != NULL) {
        for (size_t r = r0; r < r1; r++) {
            float *row = dym + r * O;
            if (r / B < seq_len(batch, (uint32_t)(r % B)))
                memcpy(row, c->dy + r * O, O * sizeof(float));
            else
                memset(row, 0, O * sizeof(float));
        }
        dyz = dym;
        rhk_sync(&part);
    }
    stack_ws top = ws_layer(m, c->ws, m->L - 1, TB, B);
    if (m->O > 0) {
        size_t o0, o1;
        share(O, id, n, &o0, &o1);
        add_weight_grad(grad_ptr(m, grads, out_tensor(m, 0)) + o0 * H, dyz + o0, O, layer_out(&top, c->drop, B, H), H,
                        TB, o1 - o0, H);
        add_bias_grad(grad_ptr(m, grads, out_tensor(m, 1)) + o0, dyz + o0, O, TB, o1 - o0);
    }

    for (uint32_t l = m->L; l-- > 0;) {
        stack_ws w = ws_layer(m, c->ws, l, TB, B);
        const float *W_x = tensor_ptr(m, params, layer_tensor(m, l, T_WX));
        // dLoss/d a<t> from above (T,B,H): the layer above left it in its hs; the top layer makes it from
        // dy step by step (dy Wy when there is a projection, dy itself when not).
        const float *da = l + 1 < m->L ? ws_layer(m, c->ws, l + 1, TB, B).hs : NULL;
        part.W_h = tensor_ptr(m, params, layer_tensor(m, l, T_WH));
        pack_rows(pack, part.W_h, m->G, H, u0, u1);
        if (c->rdrop != NULL) {
            float *rmask = ws_rmask(m, c->ws, T, B, l);
            fill_state_masks(c->rdrop, rmask, l, B, H, u0, u1);
            part.rmask = rmask;
        }
        state_get(m, dh, c->dh_T, l, 0, 1, B, u0, u1);
        if (C > 0)
            state_get(m, dc, c->dh_T, l, 1, m->C, B, u0, u1);
        for (size_t t = T; t-- > 0;) {
            rhk_sync(&part); // da whole (at the top step) and the step above done with dh and g
            if (da == NULL && Wy != NULL && (t == T - 1 || t % TC == TC - 1)) {
                // The chunk of steps [t0, t], own columns only, so no other thread waits for it.
                t0 = t - t % TC;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)((t - t0 + 1) * B), (int)(u1 - u0), (int)O,
                            1.0f, dyz + t0 * B * O, (int)O, Wy + u0, (int)H, 0.0f, dychunk + u0, (int)H);
            }
            for (size_t b = 0; b < B; b++) {
                float *gb = g + b * H;
                if (t < seq_len(batch, (uint32_t)b)) {
                    const float *dhb = dh + b * H;
                    // what reached the output from above: from the layer above, through the projection, or
                    // the output itself
                    const float *up = da != NULL   ? da + (t * B + b) * H
                                      : Wy != NULL ? dychunk + ((t - t0) * B + b) * H
                                                   : dyz + (t * B + b) * O;
                    if (c->drop == NULL) {
                        for (size_t i = u0; i < u1; i++)
                            gb[i] = dhb[i] + up[i];
                    } else { // the output was dropped on its way up: so is its gradient on the way down
                        const uint64_t key = row_key(c->drop, l, t, b);
                        for (size_t i = u0; i < u1; i++)
                            gb[i] = dhb[i] + up[i] * unit_factor(c->drop, key, i);
                    }
                    if (C > 0)
                        copy_units(gc, dc, b, m->C, H, u0, u1);
                } else {
                    memset(gb + u0, 0, (u1 - u0) * sizeof(float));
                    for (size_t k = 0; k < C; k++)
                        memset(gc + (b * C + k) * H + u0, 0, (u1 - u0) * sizeof(float));
                }
            }
            rhk_bwd s = {w.z + t * B * GH, dhp, NULL, scratch, g, NULL, w.hs + (t + 1) * B * H, NULL,
                         w.hs + t * B * H, NULL};
            if (C > 0) {
                s.dc_prev = dcp, s.dc = gc;
                s.c = w.cs + (t + 1) * B * CH, s.c_prev = w.cs + t * B * CH;
            }
            m->cell->backward(&part, &s);
            // A padded step passed the state through unchanged, so its gradient passes through too.
            for (size_t b = 0; b < B; b++)
                if (t >= seq_len(batch, (uint32_t)b)) {
                    copy_units(dhp, dh, b, 1, H, u0, u1);
                    if (C > 0)
                        copy_units(dcp, dc, b, m->C, H, u0, u1);
                }
            float *swap = dh;
            dh = dhp;
            dhp = swap;
            swap = dc;
            dc = dcp;
            dcp = swap;
        }
        if (c->dh_0 != NULL) {
            state_put(m, c->dh_0, dh, l, 0, 1, B, u0, u1);
            if (C > 0)
                state_put(m, c->dh_0, dc, l, 1, m->C, B, u0, u1);
        }
        rhk_sync(&part); // every step's dz whole
        if (c->rdrop != NULL) {
            // The recurrent products read their inputs masked: so do their weight gradients. hs and rh are
            // not read as they were again (hs becomes the gradient for the layer below).
            mask_rows(w.hs, part.rmask, B, H, r0, r1);
            if (w.rh != NULL)
                mask_rows(w.rh, part.rmask, B, H, r0, r1);
            rhk_sync(&part);
        }

        // Weight gradients over all steps at once; padded rows of dz are zero and add nothing. Each thread
        // takes rows [q0,q1) of dW and the same columns of db.
        float *dW_h = grad_ptr(m, grads, layer_tensor(m, l, T_WH));
        size_t plain = (size_t)(m->G - m->cell->rh_gates) * H;
        if (q0 < plain)
            add_weight_grad(dW_h + q0 * H, w.z + q0, GH, w.hs, H, TB, (q1 < plain ? q1 : plain) - q0, H);
        if (m->cell->rh_gates > 0 && q1 > plain) {
            size_t a0 = q0 > plain ? q0 : plain;
            add_weight_grad(dW_h + a0 * H, w.z + a0, GH, w.rh, H, TB, q1 - a0, H);
        }
        add_bias_grad(grad_ptr(m, grads, layer_tensor(m, l, T_B)) + q0, w.z + q0, GH, TB, q1 - q0);
        float *dW_x = grad_ptr(m, grads, layer_tensor(m, l, T_WX));
        if (l > 0) {
            stack_ws below = ws_layer(m, c->ws, l - 1, TB, B);
            add_weight_grad(dW_x + q0 * H, w.z + q0, GH, layer_out(&below, c->drop, B, H), H, TB, q1 - q0, H);
            rhk_sync(&part); // every thread done reading this layer's hs
            // hs (TB,H) = dz (TB,GH) W_x (GH,H): the gradient reaching the layer below
            gemm_nn(w.hs + r0 * H, 0.0f, w.z + r0 * GH, GH, W_x, r1 - r0, GH, H);
        } else if (m->kind == RH_INPUT_DENSE) {
            size_t D = m->D;
            add_weight_grad(dW_x + q0 * D, w.z + q0, GH, batch->x, D, TB, q1 - q0, D);
            if (c->dx != NULL)
                gemm_nn(c->dx + r0 * D, 0.0f, w.z + r0 * GH, GH, W_x, r1 - r0, GH, D);
        } else {
            // The one-hot input's weight gradient is a scatter-add into the rows of the tokens seen; each
            // thread adds its columns [q0,q1) of every row.
            for (size_t r = 0; r < TB; r++)
                if (r / B < seq_len(batch, (uint32_t)(r % B)))
                    add_row(dW_x + (size_t)batch->tokens[r] * GH + q0, w.z + r * GH + q0, q1 - q0);
        }
    }
}

// grads (P) added into; dx (T,B,D) and dh_0 (B,S) written; dy (T,B,O); dh_T (B,S) or NULL; masks those of the
// forward, NULL for none
static rh_status backward_with(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                               const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                               const float *dh_T, const rh_dropout_masks *masks)
{
    (void)h_0; /* forward kept it in hs[0] */
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    rh_status st;
    if (!call_needed(m, "backward", params, workspace, batch, dh_0, dh_T, &st))
        return st;
    if (grads == NULL || dy == NULL) {
        rhk_log(m->host, RH_LOG_ERROR, "backward: %s is NULL", grads == NULL ? "grads" : "dy");
        return RH_ERR_INVALID_ARGUMENT;
    }
    const drop_ctx drop = masks != NULL ? drop_setup(m, masks) : (drop_ctx){0};
    bwd_call c = {m,     grads, dx,    dh_0, workspace, params, dy, dh_T, batch,
                  masks != NULL && m->dropout > 0 ? &drop : NULL, masks != NULL && m->rdropout > 0 ? &drop : NULL};
    run_split(m, call_threads(m, (uint64_t)batch->B * m->G * m->H * m->H), backward_task, &c, 0);
    return RH_OK;
}

static rh_status stack_backward(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                                const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                                const float *dh_T)
{
    return backward_with(model, grads, dx, dh_0, workspace, params, batch, h_0, dy, dh_T, NULL);
}

static rh_status stack_drop_forward(const rh_model *model, float *y, float *h_T, float *workspace,
                                    const float *params, const rh_batch *batch, const float *h_0,
                                    const rh_dropout_masks *masks)
{
    if (masks == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return forward_with(model, y, h_T, workspace, params, batch, h_0, masks);
}

static rh_status stack_drop_backward(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                                     const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                                     const float *dh_T, const rh_dropout_masks *masks)
{
    if (masks == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return backward_with(model, grads, dx, dh_0, workspace, params, batch, h_0, dy, dh_T, masks);
}

static const rh_ext_dropout stack_drop_ext = {sizeof(rh_ext_dropout), stack_drop_forward, stack_drop_backward};

/* ---- step ------------------------------------------------------------------------------------------ */

typedef struct step_call {
    const stack_model *m;
    float *y, *state, *scratch;
    const float *params, *x;
    const int32_t *tokens;
    uint32_t B;
    const uint16_t *half; /* the half-step copy, or NULL for the float weights */
} step_call;

/* Tensor k's weights in the half-step copy, or NULL when the step reads floats. */
static const uint16_t *half_ptr(const stack_model *m, const uint16_t *half, uint32_t k)
{
    return half != NULL && m->half_off[k] != NO_HALF ? half + m->half_off[k] : NULL;
}

static void step_task(void *arg, uint32_t id, uint32_t n)
{
    const step_call *c = arg;
    const stack_model *m = c->m;
    size_t B = c->B, H = m->H, G = m->G, GH = G * H, S = state_floats(m), LS = layer_state(m);
    size_t CH = (size_t)m->C * H;
    float *z = c->scratch, *rh = z + B * GH, *hp = rh + B * H, *h = hp + B * H, *cp = h + B * H, *cn = cp + B * CH;
    uint32_t u0, u1;
    own_units(m, id, n, &u0, &u1);
    rhk_part part = {u0, u1, (uint32_t)B, m->H, NULL, NULL, NULL, m->pool, n, m->G, NULL, NULL};
    for (uint32_t l = 0; l < m->L; l++) {
        const float *W_x = tensor_ptr(m, c->params, layer_tensor(m, l, T_WX));
        const float *bias = tensor_ptr(m, c->params, layer_tensor(m, l, T_B));
        const uint16_t *W_x_half = half_ptr(m, c->half, layer_tensor(m, l, T_WX));
        part.W_h = tensor_ptr(m, c->params, layer_tensor(m, l, T_WH));
        part.W_h_half = half_ptr(m, c->half, layer_tensor(m, l, T_WH));
        for (size_t g = 0; g < G; g++) {
            size_t col = g * H + u0, w = u1 - u0;
            for (size_t b = 0; b < B; b++)
                memcpy(z + b * GH + col, bias + col, w * sizeof(float));
            if (l > 0)
                step_product(z + col, GH, c->state + (l - 1) * LS, S, W_x + col * H,
                             W_x_half != NULL ? W_x_half + col * H : NULL, w, H, B);
            else if (c->x != NULL)
                step_product(z + col, GH, c->x, m->D, W_x + col * m->D,
                             W_x_half != NULL ? W_x_half + col * m->D : NULL, w, m->D, B);
            else
                for (size_t b = 0; b < B; b++)
                    add_row(z + b * GH + col, W_x + (size_t)c->tokens[b] * GH + col, w);
        }
        state_get(m, hp, c->state, l, 0, 1, B, u0, u1);
        if (m->C > 0)
            state_get(m, cp, c->state, l, 1, m->C, B, u0, u1);
        rhk_sync(&part); // the state of layer l whole before the cell reads it
        rhk_fwd s = {z, h, m->C > 0 ? cn : NULL, rh, hp, m->C > 0 ? cp : NULL};
        m->cell->forward(&part, &s);
        state_put(m, c->state, h, l, 0, 1, B, u0, u1);
        if (m->C > 0)
            state_put(m, c->state, cn, l, 1, m->C, B, u0, u1);
        rhk_sync(&part); // the new state whole before the layer above reads it
    }
    if (c->y == NULL)
        return;
    size_t O = out_dim(m), o0, o1;
    share(O, id, n, &o0, &o1);
    const float *a = c->state + (m->L - 1) * LS;
    for (size_t b = 0; b < B; b++) {
        if (m->O == 0)
            memcpy(c->y + b * O + o0, a + b * S + o0, (o1 - o0) * sizeof(float));
        else
            memcpy(c->y + b * O + o0, tensor_ptr(m, c->params, out_tensor(m, 1)) + o0, (o1 - o0) * sizeof(float));
    }
    if (m->O > 0) {
        const uint16_t *W_half = half_ptr(m, c->half, out_tensor(m, 0));
        step_product(c->y + o0, O, a, S, tensor_ptr(m, c->params, out_tensor(m, 0)) + o0 * H,
                     W_half != NULL ? W_half + o0 * H : NULL, o1 - o0, H, B);
    }
}

// y is (B,O) or NULL, state is (B,S), x is (B,D) or tokens is (B), half is the half-step copy or NULL
static rh_status step_with(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                           const uint16_t *half, const float *x, const int32_t *tokens, uint32_t B)
{
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    if (B == 0)
        return RH_OK;
    if (state == NULL || scratch == NULL || params == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    if (m->kind == RH_INPUT_DENSE ? (x == NULL || tokens != NULL) : (tokens == NULL || x != NULL))
        return RH_ERR_INVALID_ARGUMENT;
    if (B > INT_MAX)
        return RH_ERR_INVALID_ARGUMENT;
    if (tokens != NULL)
        for (uint32_t b = 0; b < B; b++)
            if (tokens[b] < 0 || (uint32_t)tokens[b] >= m->D)
                return RH_ERR_INVALID_ARGUMENT;
    step_call c = {m, y, state, scratch, params, x, tokens, B, half};
    uint64_t in = m->L > 1 ? m->H : m->kind == RH_INPUT_DENSE ? m->D : 0;
    run_split(m, call_threads(m, (uint64_t)B * m->G * m->H * (m->H + in)), step_task, &c, 1);
    return RH_OK;
}

static rh_status stack_step(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                            const float *x, const int32_t *tokens, uint32_t B)
{
    return step_with(model, y, state, scratch, params, NULL, x, tokens, B);
}

/* ---- the half-step copy (halfstep.h) --------------------------------------------------------------- */

/* The copy holds, as halves, every matrix a step reads whole: W_x (but a token layer's embedding, of
 * which a step reads one row) and W_h of every layer, and out.W; each starts on 64 bytes. */
static void half_layout(stack_model *m)
{
    uint64_t at = 0;
    for (uint32_t k = 0; k < m->num_tensors; k++) {
        const rh_tensor *t = &m->tensors[k];
        int embed = k == T_WX && m->kind == RH_INPUT_TOKENS;
        if (t->ndim != 2 || embed) {
            m->half_off[k] = NO_HALF;
            continue;
        }
        m->half_off[k] = at;
        at = sat_add(at, (t->size + 31) / 32 * 32);
    }
    m->half_count = at;
}

static uint64_t stack_half_copy_size(const rh_model *model)
{
    return model == NULL ? 0 : sat_mul(as_stack(model)->half_count, sizeof(uint16_t));
}

static rh_status stack_half_make_copy(const rh_model *model, void *copy, const float *params)
{
    if (model == NULL || copy == NULL || params == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    uint16_t *half = copy;
    for (uint32_t k = 0; k < m->num_tensors; k++) {
        if (m->half_off[k] == NO_HALF)
            continue;
        const rh_tensor *t = &m->tensors[k];
        const float *src = params + t->offset;
        uint16_t *dst = half + m->half_off[k];
        for (uint64_t i = 0; i < t->size; i++)
            if (!rh_half_from_float_exact(src[i], &dst[i]))
                return RH_ERR_UNSUPPORTED; // a float model: the caller keeps to step, nothing to explain
        for (uint64_t i = t->size; i % 32 != 0; i++)
            dst[i] = 0;
    }
    return RH_OK;
}

static rh_status stack_half_step(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                                 const void *copy, const float *x, const int32_t *tokens, uint32_t B)
{
    if (copy == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return step_with(model, y, state, scratch, params, copy, x, tokens, B);
}

static const rh_ext_half_step stack_half_ext = {
    sizeof(rh_ext_half_step), stack_half_copy_size, stack_half_make_copy, stack_half_step,
};

static const void *stack_get_extension(const rh_model *model, const char *extension_id)
{
    if (model == NULL || extension_id == NULL)
        return NULL;
    if (strcmp(extension_id, RH_EXT_HALF_STEP) == 0)
        return &stack_half_ext;
    if (strcmp(extension_id, RH_EXT_DROPOUT) == 0)
        return as_stack(model)->dropout > 0 || as_stack(model)->rdropout > 0 ? &stack_drop_ext : NULL;
    return NULL;
}

static const rh_model_vtable stack_vtable = {
    sizeof(rh_model_vtable), stack_destroy,  stack_get_info,          stack_get_tensor, stack_workspace_size,
    stack_forward,           stack_backward, stack_step_scratch_size, stack_step,       stack_reset,
    stack_get_extension,
};

/* ---- create ---------------------------------------------------------------------------------------- */

static rh_status refuse(const rh_host *host, const char *id, const char *why)
{
    rhk_log(host, RH_LOG_ERROR, "%s: %s", id, why);
    return RH_ERR_INVALID_ARGUMENT;
}

/* Reads the options "key=value;...": dropout=P and recurrent_dropout=P, 0 <= P < 1 (rnnhost/dropout.h,
 * cell.h). Empty items are allowed; an unknown key, a key given twice or a value out of range is refused
 * in one line. */
static rh_status parse_options(const rh_host *host, const char *id, const char *options, float *dropout,
                               float *rdropout)
{
    static const char *const keys[2] = {"dropout", "recurrent_dropout"};
    float *const values[2] = {dropout, rdropout};
    int seen[2] = {0, 0};
    *dropout = 0, *rdropout = 0;
    for (const char *p = options; p != NULL && *p != '\0';) {
        const size_t item = strcspn(p, ";"), klen = strcspn(p, "=;");
        if (item == 0) {
            p++;
            continue;
        }
        int k = 0;
        while (k < 2 && (klen != strlen(keys[k]) || strncmp(p, keys[k], klen) != 0))
            k++;
        if (klen == item || k == 2) {
            rhk_log(host, RH_LOG_ERROR, "%s: unknown option '%.*s' (known: dropout=P, recurrent_dropout=P)", id,
                    (int)(klen < 64 ? klen : 64), p);
            return RH_ERR_INVALID_ARGUMENT;
        }
        if (seen[k]++) {
            rhk_log(host, RH_LOG_ERROR, "%s: option '%s' given twice", id, keys[k]);
            return RH_ERR_INVALID_ARGUMENT;
        }
        char value[32] = "", *end = NULL;
        const size_t vlen = item - klen - 1;
        if (vlen > 0 && vlen < sizeof value)
            memcpy(value, p + klen + 1, vlen);
        const double v = value[0] != '\0' ? strtod(value, &end) : NAN;
        if (!(v >= 0 && v < 1) || end == NULL || *end != '\0') {
            rhk_log(host, RH_LOG_ERROR, "%s: %s wants a number in [0, 1), not '%.*s'", id, keys[k],
                    (int)(vlen < 64 ? vlen : 64), p + klen + 1);
            return RH_ERR_INVALID_ARGUMENT;
        }
        *values[k] = (float)v;
        p += item;
    }
    return RH_OK;
}

/* Whether the cell itself makes sense: a plugin's mistake, told apart from a bad config. */
static int cell_ok(const rhk_cell *cell)
{
    if (cell->model_id == NULL || cell->forward == NULL || cell->backward == NULL || cell->gates == 0 ||
        cell->gates > STACK_MAX_GATES || cell->rh_gates > cell->gates || cell->carry > STACK_MAX_CARRY)
        return 0;
    for (uint32_t g = 0; cell->gate_info != NULL && g < cell->gates; g++) {
        const char *name = cell->gate_info[g].name;
        // "l4095.b_" and the name, shorter than RH_MAX_NAME
        if (name == NULL || name[0] == '\0' || strlen(name) > RH_MAX_NAME - 10)
            return 0;
    }
    return 1;
}

rh_status rhk_create(const rh_host *host, const rhk_cell *cell, const char *model_id, const rh_config *config,
                     rh_model **out)
{
    if (out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (cell == NULL || !cell_ok(cell)) {
        rhk_log(host, RH_LOG_ERROR, "%s: the plugin's cell is malformed (gates, functions or gate names)",
                cell != NULL && cell->model_id != NULL ? cell->model_id : "rhk_create");
        return RH_ERR_INTERNAL;
    }
    const char *id = cell->model_id;
    if (model_id == NULL || strcmp(model_id, id) != 0) {
        rhk_log(host, RH_LOG_ERROR, "%s plugin: unknown model id '%s'", id, model_id != NULL ? model_id : "(null)");
        return RH_ERR_UNKNOWN_MODEL;
    }
    if (config == NULL)
        return refuse(host, id, "config is NULL");
    if (config->struct_size < offsetof(rh_config, options) + sizeof(config->options))
        return refuse(host, id, "config.struct_size is smaller than rh_config of ABI version 1");
    if (config->input_kind != RH_INPUT_DENSE && config->input_kind != RH_INPUT_TOKENS)
        return refuse(host, id, "config.input_kind must be exactly one of RH_INPUT_DENSE, RH_INPUT_TOKENS");
    if (config->input_dim == 0 || config->hidden_size == 0 || config->num_layers == 0)
        return refuse(host, id, "config.input_dim, hidden_size and num_layers must be at least 1");
    if (config->core != NULL && config->core[0] != '\0')
        return refuse(host, id, "config.core is for composite models; this model has no core");
    float dropout, rdropout;
    rh_status st = parse_options(host, id, config->options, &dropout, &rdropout);
    if (st != RH_OK)
        return st;

    uint64_t D = config->input_dim, H = config->hidden_size, L = config->num_layers, O = config->output_dim;
    uint64_t G = cell->gates, GH = G * H, C = cell->carry;
    // Every dimension is a BLAS int somewhere, and the state size is a u32 in rh_model_info.
    if (GH > INT_MAX || D > INT_MAX || O > INT_MAX || L > STACK_MAX_LAYERS || L * (1 + C) * H > INT_MAX) {
        rhk_log(host, RH_LOG_ERROR,
                "%s: sizes out of range (input_dim %llu, hidden_size %llu, num_layers %llu, output_dim %llu)", id,
                (unsigned long long)D, (unsigned long long)H, (unsigned long long)L, (unsigned long long)O);
        return RH_ERR_INVALID_ARGUMENT;
    }

    uint32_t biases = cell->gate_info != NULL ? (uint32_t)G : 1, per_layer = 2 + biases;
    uint32_t num_tensors = (uint32_t)(L * per_layer + (O > 0 ? 2 : 0));
    size_t bytes = sizeof(stack_model) + num_tensors * (sizeof(rh_tensor) + sizeof(uint64_t) + RH_MAX_NAME);
    stack_model *m = calloc(1, bytes);
    if (m == NULL) {
        rhk_log(host, RH_LOG_ERROR, "%s: out of memory for the tensor table", id);
        return RH_ERR_NO_MEMORY;
    }
    m->base.vtable = &stack_vtable;
    m->base.plugin_data = m;
    m->host = host;
    m->cell = cell;
    m->kind = config->input_kind;
    m->D = (uint32_t)D;
    m->H = (uint32_t)H;
    m->L = (uint32_t)L;
    m->G = (uint32_t)G;
    m->C = (uint32_t)C;
    m->O = (uint32_t)O;
    m->per_layer = per_layer;
    m->dropout = dropout;
    m->rdropout = rdropout;
    m->num_tensors = num_tensors;
    m->tensors = (rh_tensor *)(m + 1);
    m->half_off = (uint64_t *)(m->tensors + num_tensors);
    m->names = (char(*)[RH_MAX_NAME])(m->half_off + num_tensors);

    uint64_t offset = 0;
    int ok = 1;
    uint32_t k = 0;
    for (uint32_t l = 0; l < L && ok; l++) {
        int embed = l == 0 && m->kind == RH_INPUT_TOKENS;
        uint64_t in = l == 0 ? D : H;
        // char-rnn style: uniform within 1/sqrt(fan_in) of the cell's concatenated [h, x] input; a one-hot
        // input contributes a single active unit to the fan-in.
        float scale = (float)(1.0 / sqrt((double)H + (embed ? 1.0 : (double)in)));
        for (uint32_t s = 0; s < per_layer; s++, k++) {
            rh_tensor *t = &m->tensors[k];
            t->name = m->names[k];
            t->offset = offset;
            if (s == T_WX || s == T_WH) {
                uint64_t r = s == T_WH ? GH : embed ? D : GH, c = s == T_WH ? H : embed ? GH : in;
                snprintf(m->names[k], RH_MAX_NAME, "l%u.%s", l, s == T_WH ? "W_h" : embed ? "embed" : "W_x");
                *t = (rh_tensor){m->names[k], 2, {(uint32_t)r, (uint32_t)c, 0, 0}, offset, r * c, RH_INIT_UNIFORM,
                                 scale};
            } else if (cell->gate_info == NULL) {
                snprintf(m->names[k], RH_MAX_NAME, "l%u.b", l);
                *t = (rh_tensor){m->names[k], 1, {(uint32_t)GH, 0, 0, 0}, offset, GH, RH_INIT_ZERO, 0.0f};
            } else {
                // One gate block's bias, right after the block before it: the cell still sees one (G*H) bias.
                const rhk_gate *gate = &cell->gate_info[s - T_B];
                snprintf(m->names[k], RH_MAX_NAME, "l%u.b_%s", l, gate->name);
                *t = (rh_tensor){m->names[k], 1, {(uint32_t)H, 0, 0, 0}, offset, H,
                                 gate->bias != 0.0f ? RH_INIT_CONSTANT : RH_INIT_ZERO, gate->bias};
            }
            ok = ok && add_ok(&offset, offset, t->size);
        }
    }
    if (O > 0 && ok) {
        rh_tensor *t = &m->tensors[k];
        snprintf(m->names[k], RH_MAX_NAME, "out.W");
        *t = (rh_tensor){m->names[k], 2, {(uint32_t)O, (uint32_t)H, 0, 0}, offset, O * H, RH_INIT_UNIFORM,
                         (float)(1.0 / sqrt((double)H))};
        ok = ok && add_ok(&offset, offset, O * H);
        k++;
        t = &m->tensors[k];
        snprintf(m->names[k], RH_MAX_NAME, "out.b");
        *t = (rh_tensor){m->names[k], 1, {(uint32_t)O, 0, 0, 0}, offset, O, RH_INIT_ZERO, 0.0f};
        ok = ok && add_ok(&offset, offset, O);
    }
    if (!ok || offset > STACK_MAX_PARAMS || offset > (uint64_t)SIZE_MAX / sizeof(float) / 8) {
        rhk_log(host, RH_LOG_ERROR,
                "%s: more than 2^40 parameters (input_dim %llu, hidden_size %llu, num_layers %llu, output_dim %llu)",
                id, (unsigned long long)D, (unsigned long long)H, (unsigned long long)L, (unsigned long long)O);
        free(m);
        return RH_ERR_INVALID_ARGUMENT;
    }
    m->num_params = offset;
    half_layout(m);
    if (host != NULL && host->struct_size >= offsetof(rh_host, get_extension) + sizeof host->get_extension &&
        host->get_extension != NULL) {
        const rh_ext_threads *ext = host->get_extension(host, RH_EXT_THREADS);
        if (ext != NULL && ext->struct_size >= offsetof(rh_ext_threads, threads) + sizeof ext->threads &&
            ext->threads != NULL) {
            uint32_t n = ext->threads(host);
            m->threads = ext;
            m->pool = rhk_pool_create(n > STACK_MAX_THREADS ? STACK_MAX_THREADS : n);
        }
    }
    *out = &m->base;
    return RH_OK;
}
