/* The layer stack shared by the rnn and gru plugins: config checks, the tensor table, batched forward and
 * BPTT, and the streaming step. See stack.h for how a cell plugs in. */
#include "stack.h"

#include <cblas.h>
#include "rnnhost/halfstep.h"
#include "cpulevel.h"
#include "pool.h"
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* A table of 2^32 tensors is not a model anyone means; the bound keeps the allocation and the u32 counts sane. */
#define STACK_MAX_LAYERS 4096u
/* 2^40 floats is 4 TiB of parameters before gradients and moments: past it a config is a typo or an
 * attack, and refusing it here gives a clear message instead of an allocation failure later. */
#define STACK_MAX_PARAMS (1ull << 40)
/* Past a few threads the steps' products are too small to share further. */
#define STACK_MAX_THREADS 16u

/* Tensors of layer l sit at 3l (W_x or embed), 3l+1 (W_h), 3l+2 (b); then out.W and out.b. */
enum { T_WX = 0, T_WH = 1, T_B = 2, T_PER_LAYER = 3 };

typedef struct stack_model {
    rh_model base; /* first, so an rh_model * is a stack_model * */
    const rh_host *host;
    const stack_cell *cell;
    uint32_t kind;     /* RH_INPUT_DENSE or RH_INPUT_TOKENS */
    uint32_t D;        /* input floats per step, or vocabulary size */
    uint32_t H, L, G;  /* hidden units, layers, gate blocks */
    uint32_t O;        /* configured output_dim; 0 means the top hidden state is the output */
    uint32_t num_tensors;
    uint64_t num_params;
    rh_tensor *tensors;
    char (*names)[RH_MAX_NAME];
    stack_pool *pool;                 /* threads for one call, or NULL */
    const rh_ext_threads *threads;    /* the host's grant per call, or NULL (one thread) */
    uint64_t *half_off;               /* (num_tensors) where each tensor starts in the half-step copy, in
                                         halves, or NO_HALF for tensors the copy leaves out */
    uint64_t half_count;              /* halves in the copy */
} stack_model;

#define NO_HALF UINT64_MAX

void stack_log(const rh_host *host, int32_t level, const char *fmt, ...)
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
 * below); rh (T,B,H) when the cell has rh gates. Then shared backward scratch: dym (T,B,O), four (B,H)
 * rows for the sweep and the top layer's dy Wy for a chunk of steps (top_chunk); last the forward's packed
 * copy of one layer's W_h (pack_floats). */
typedef struct stack_ws {
    float *z, *hs, *rh; /* of the layer asked for */
} stack_ws;

static uint64_t layer_floats(const stack_model *m, uint64_t TB, uint64_t B)
{
    uint64_t H = m->H;
    uint64_t n = sat_mul(TB, (uint64_t)m->G * H);
    n = sat_add(n, sat_mul(sat_add(TB, B), H));
    if (m->cell->rh_gates > 0)
        n = sat_add(n, sat_mul(TB, H));
    return n;
}

/* The recurrent kernel's block: KMR rows of the batch by KNR units (see kern below). */
enum { KMR = 8, KNR = 32 };

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

static uint64_t ws_floats(const stack_model *m, uint32_t T, uint32_t B)
{
    uint64_t TB = (uint64_t)T * B;
    uint64_t n = sat_mul(layer_floats(m, TB, B), m->L);
    n = sat_add(n, sat_mul(TB, out_dim(m)));
    n = sat_add(n, sat_mul(4, sat_mul(B, m->H)));
    if (m->O > 0)
        n = sat_add(n, sat_mul(sat_mul(top_chunk(T, B), B), m->H));
    return sat_add(n, pack_floats(m));
}

static stack_ws ws_layer(const stack_model *m, float *ws, uint32_t l, size_t TB, size_t B)
{
    size_t H = m->H;
    float *base = ws + (size_t)l * layer_floats(m, TB, B);
    stack_ws w;
    w.z = base;
    w.hs = w.z + TB * m->G * H;
    w.rh = m->cell->rh_gates > 0 ? w.hs + (TB + B) * H : NULL;
    return w;
}

static float *ws_shared(const stack_model *m, float *ws, size_t TB, size_t B)
{
    return ws + (size_t)m->L * layer_floats(m, TB, B);
}

static float *ws_pack(const stack_model *m, float *ws, size_t T, size_t B)
{
    size_t TB = T * B, chunk = m->O > 0 ? (size_t)top_chunk((uint32_t)T, (uint32_t)B) * B * m->H : 0;
    return ws_shared(m, ws, TB, B) + TB * out_dim(m) + 4 * B * m->H + chunk;
}

/* ---- vtable ---------------------------------------------------------------------------------------- */

static void stack_destroy(rh_model *model)
{
    if (model != NULL)
        pool_destroy(as_stack(model)->pool);
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
    info.state_size = m->L * m->H;
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
    // z (B,GH), rh (B,H), h_prev (B,H), h (B,H)
    return sat_mul(B, (uint64_t)m->G * m->H + 3ull * m->H);
}

static rh_status stack_reset(const rh_model *model, float *state, uint32_t B)
{
    if (model == NULL || (state == NULL && B > 0))
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    memset(state, 0, (size_t)B * m->L * m->H * sizeof(float));
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

/* ---- gate nonlinearities and the recurrent kernel ------------------------------------------------ */

/* Each loop below is compiled for AVX-512, AVX2 and plain x86-64, and the best the CPU has is picked once
 * when the plugin loads (a constructor, not an ifunc: clang exports ifunc resolvers as extra dynamic
 * symbols, and a plugin exports exactly one). Elsewhere it is plain C. GCC's -O2 vectorises only loops
 * whose trip count it knows, so these few ask for its full vectoriser; and without AVX-512's masks it
 * if-converts the gates' selects only when told that floating-point exceptions are not looked at
 * (no-trapping-math), which changes no result. */
#if defined(__x86_64__) && defined(__GNUC__)
#define STACK_DISPATCH 1
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")
#endif

/* e^x for x in [-87, 88] (clamped): x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial to
 * r^6 (relative error below 2e-7), 2^n built in the exponent bits. Rounding to n uses the 1.5*2^23 trick
 * so that no libm call (and no rounding-mode instruction older targets lack) stops vectorisation; and it is
 * always inlined, since GCC otherwise inlines it only after the vectoriser has seen a call and given up. */
__attribute__((always_inline)) static inline float exp_poly(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f; // 1.5 * 2^23
    float n = (x * 1.44269504f + shifter) - shifter;
    float r = x - n * 0.693145752f - n * 1.42860677e-6f; // ln 2 split in two for an exact n ln2
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f +
                                                                            r * (8.33333377e-3f + r * 1.38888892e-3f)))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh from e = e^{-2|x|} as (1-e)/(1+e), except near 0 where 1-e cancels: there its odd Taylor series to
 * x^11 (error below 1e-10 for |x| < 1/4). Both are computed and one is kept, so the loop has no branch. */
#define TANH_LOOP_BODY { \
    for (size_t i = 0; i < n; i++) { \
        float v = x[i], a = v < 0 ? -v : v; \
        float e = exp_poly(-2.0f * a); \
        float big = (1.0f - e) / (1.0f + e); \
        float s = a * a; \
        float small = a * (1.0f + s * (-3.33333343e-1f + s * (1.33333340e-1f + s * (-5.39682545e-2f + \
                                                                                 s * (2.18694880e-2f - s * 8.86323553e-3f))))); \
        float t = a < 0.25f ? small : big; \
        x[i] = v < 0 ? -t : t; \
    } \
}

#define SIGMOID_LOOP_BODY { \
    for (size_t i = 0; i < n; i++) \
        x[i] = 1.0f / (1.0f + exp_poly(-x[i])); \
}

/* The recurrent kernel: c (M,w, row stride ldc) += a (M,K, row stride lda) p (K,w, row stride ldp) for any
 * M rows and w <= KNR columns; the weights p are either the forward's packed panels of W_h^T or the rows of
 * W_h itself for backward. Every element is summed over k in the same order whichever thread computes it
 * and whichever block of rows it falls in, so a call gives the same bits on one thread or several.
 *
 * Plain C and AVX-512 take KMR rows at a time, whose KMR x KNR sums fill 16 AVX-512 registers while p
 * streams past once. AVX2 has 16 registers of 8 floats, which hold 6 rows of 16 columns (kern_avx2 below). */

#define KERN_FULL(MRV) { \
    float acc[MRV][KNR]; \
    memset(acc, 0, sizeof acc); \
    for (size_t k = 0; k < K; k++) { \
        const float *pk = p + k * ldp; \
        for (size_t r = 0; r < (MRV); r++) { \
            float x = a[r * lda + k]; \
            for (size_t j = 0; j < KNR; j++) \
                acc[r][j] += x * pk[j]; \
        } \
    } \
    for (size_t r = 0; r < (MRV); r++) \
        for (size_t j = 0; j < KNR; j++) \
            c[r * ldc + j] += acc[r][j]; \
}

#define KERN_BODY { \
    if (w == KNR) { \
        switch (mr) { \
        case 8: KERN_FULL(8) return; \
        case 7: KERN_FULL(7) return; \
        case 6: KERN_FULL(6) return; \
        case 5: KERN_FULL(5) return; \
        case 4: KERN_FULL(4) return; \
        case 3: KERN_FULL(3) return; \
        case 2: KERN_FULL(2) return; \
        case 1: KERN_FULL(1) return; \
        default: break; \
        } \
    } \
    for (size_t r = 0; r < mr; r++) { \
        float acc[KNR] = {0}; \
        for (size_t k = 0; k < K; k++) { \
            float x = a[r * lda + k]; \
            for (size_t j = 0; j < w; j++) \
                acc[j] += x * p[k * ldp + j]; \
        } \
        for (size_t j = 0; j < w; j++) \
            c[r * ldc + j] += acc[j]; \
    } \
}

#define KERN_ARGS (float *restrict c, size_t ldc, const float *restrict a, size_t lda, const float *restrict p, \
                   size_t ldp, size_t K, size_t mr, size_t w)
#define KERN_ROWS_ARGS (float *restrict c, size_t ldc, const float *restrict a, size_t lda, \
                        const float *restrict p, size_t ldp, size_t K, size_t M, size_t w)
/* Every M rows as blocks of KMR through BLOCK. */
#define KERN_ROWS_BODY(BLOCK) { \
    for (size_t r = 0; r < M; r += KMR) \
        BLOCK(c + r * ldc, ldc, a + r * lda, lda, p, ldp, K, M - r < KMR ? M - r : KMR, w); \
}

#ifdef STACK_DISPATCH
__attribute__((target("avx512f"))) static void sigmoid_avx512(float *x, size_t n) SIGMOID_LOOP_BODY
__attribute__((target("avx512f"))) static void tanh_avx512(float *x, size_t n) TANH_LOOP_BODY
__attribute__((target("avx2,fma"))) static void sigmoid_avx2(float *x, size_t n) SIGMOID_LOOP_BODY
__attribute__((target("avx2,fma"))) static void tanh_avx2(float *x, size_t n) TANH_LOOP_BODY
#endif
static void sigmoid_plain(float *x, size_t n) SIGMOID_LOOP_BODY
static void tanh_plain(float *x, size_t n) TANH_LOOP_BODY

/* The kernel's sums are fused multiply-adds (ISO C mode forbids GCC to contract them by itself) and its
 * row and column loops are unrolled, so that the block of sums lives in registers. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "unroll-loops")
#endif
#ifdef STACK_DISPATCH
__attribute__((target("avx512f"))) static void kern_block_avx512 KERN_ARGS KERN_BODY
__attribute__((target("avx512f"))) static void kern_avx512 KERN_ROWS_ARGS KERN_ROWS_BODY(kern_block_avx512)
#endif
static void kern_block_plain KERN_ARGS KERN_BODY
static void kern_plain KERN_ROWS_ARGS KERN_ROWS_BODY(kern_block_plain)

/* The step's products at small batches: z (B, row stride ldz) += a (B,K, row stride lda) W^T for the N
 * rows of W (N,K), the weights as floats or as the halves of the half-step copy (halfstep.h). A batch-1 step
 * reads each weight once for two flops, so these stream W once (a block of rows stays in L1 while every
 * row of a passes over it) and are written for the bytes they read, not the flops. Each dot is summed in
 * the vector's lanes, k ascending, then the lanes are folded in a fixed order; the float and the half
 * version of a level do the same arithmetic on the same values, so they give the same bits, whichever
 * block a row falls in. */
#define DOTS_ARGS(WT) (float *restrict z, size_t ldz, const float *restrict a, size_t lda, const WT *restrict W, \
                       size_t N, size_t K, size_t B)

/* Plain C: 8 lanes in an array. WLD(p, i) is element i of weights p as a float. */
#define DOTS_PLAIN_BODY(WLD) { \
    for (size_t n = 0; n < N; n++) \
        for (size_t b = 0; b < B; b++) { \
            const float *x = a + b * lda; \
            float lane[8] = {0}; \
            for (size_t k = 0; k < K; k += 8) \
                for (size_t j = 0; j < 8 && k + j < K; j++) \
                    lane[j] += WLD(W + n * K, k + j) * x[k + j]; \
            z[b * ldz + n] += ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7])); \
        } \
}
#define WLD_FLOAT(p, i) ((p)[i])
#define WLD_HALF(p, i) rh_half_to_float((p)[i])
static void dots_float_plain DOTS_ARGS(float) DOTS_PLAIN_BODY(WLD_FLOAT)
static void dots_half_plain DOTS_ARGS(uint16_t) DOTS_PLAIN_BODY(WLD_HALF)

#ifdef STACK_DISPATCH
/* AVX-512 and AVX2: four rows at a time (four sums in registers, one load of x for four weights), the
 * last K % VL elements through a zero-padded copy. VL lanes of type VEC; LD loads VL weights as floats;
 * FOLD adds the lanes. */
#define DOTS_VEC_BODY(WT, VL, VEC, ZERO, LDX, LD, FMA, FOLD) { \
    size_t kf = K - K % (VL); \
    for (size_t n = 0; n < N;) { \
        size_t nr = N - n >= 4 ? 4 : 1; \
        for (size_t b = 0; b < B; b++) { \
            const float *x = a + b * lda; \
            const WT *w = W + n * K; \
            VEC s[4] = {ZERO, ZERO, ZERO, ZERO}; \
            if (nr == 4) \
                for (size_t k = 0; k < kf; k += (VL)) { \
                    VEC xv = LDX(x + k); \
                    s[0] = FMA(LD(w + k), xv, s[0]); \
                    s[1] = FMA(LD(w + K + k), xv, s[1]); \
                    s[2] = FMA(LD(w + 2 * K + k), xv, s[2]); \
                    s[3] = FMA(LD(w + 3 * K + k), xv, s[3]); \
                } \
            else \
                for (size_t k = 0; k < kf; k += (VL)) \
                    s[0] = FMA(LD(w + k), LDX(x + k), s[0]); \
            for (size_t r = 0; r < nr; r++) { \
                if (kf < K) { \
                    WT wt[VL]; \
                    float xt[VL]; \
                    memset(wt, 0, sizeof wt); \
                    memset(xt, 0, sizeof xt); \
                    memcpy(wt, w + r * K + kf, (K - kf) * sizeof(WT)); \
                    memcpy(xt, x + kf, (K - kf) * sizeof(float)); \
                    s[r] = FMA(LD(wt), LDX(xt), s[r]); \
                } \
                z[b * ldz + n + r] += FOLD(s[r]); \
            } \
        } \
        n += nr; \
    } \
}

#define LD512_FLOAT(p) _mm512_loadu_ps(p)
#define LD512_HALF(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
__attribute__((target("avx512f"))) static void dots_float_avx512 DOTS_ARGS(float)
    DOTS_VEC_BODY(float, 16, __m512, _mm512_setzero_ps(), _mm512_loadu_ps, LD512_FLOAT, _mm512_fmadd_ps,
                  _mm512_reduce_add_ps)
__attribute__((target("avx512f"))) static void dots_half_avx512 DOTS_ARGS(uint16_t)
    DOTS_VEC_BODY(uint16_t, 16, __m512, _mm512_setzero_ps(), _mm512_loadu_ps, LD512_HALF, _mm512_fmadd_ps,
                  _mm512_reduce_add_ps)

__attribute__((target("avx2,fma,f16c"))) static inline float fold256(__m256 v)
{
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
    return _mm_cvtss_f32(q);
}
#define LD256_FLOAT(p) _mm256_loadu_ps(p)
#define LD256_HALF(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
__attribute__((target("avx2,fma,f16c"))) static void dots_float_avx2 DOTS_ARGS(float)
    DOTS_VEC_BODY(float, 8, __m256, _mm256_setzero_ps(), _mm256_loadu_ps, LD256_FLOAT, _mm256_fmadd_ps, fold256)
__attribute__((target("avx2,fma,f16c"))) static void dots_half_avx2 DOTS_ARGS(uint16_t)
    DOTS_VEC_BODY(uint16_t, 8, __m256, _mm256_setzero_ps(), _mm256_loadu_ps, LD256_HALF, _mm256_fmadd_ps, fold256)
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#ifdef STACK_DISPATCH
/* The recurrent kernel at AVX2, in intrinsics and outside the unrolling above (which doubles the loop over
 * k and spills the sums). The 32 columns of a panel are two strips of 16 (two registers a row), taken 6
 * rows at a time, so that the 12 sums, the strip's two vectors of p and the broadcast of a fit the 16
 * registers. k runs in chunks of KCHUNK2, each strip's chunk of p (16 KiB) staying in L1 while every block
 * of rows passes over it; a chunk's sums are added to c, so an element's order is the same in every block.
 * Columns past w are masked, with the same arithmetic. */
enum { KCHUNK2 = 256, AVX2_ROWS = 6 };

/* The first n (0 to 8) lanes. */
__attribute__((target("avx2,fma"))) static inline __m256i lanes_upto(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define AVX2_ROW(r) \
    if (R > (r)) { \
        __m256 x = _mm256_broadcast_ss(a + (r) * lda + k); \
        s[r][0] = _mm256_fmadd_ps(x, p0, s[r][0]); \
        s[r][1] = _mm256_fmadd_ps(x, p1, s[r][1]); \
    }

/* c row r += its sums */
#define AVX2_ADD(r) \
    if (R > (r)) { \
        float *cr = c + (r) * ldc; \
        if (full) { \
            _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), s[r][0])); \
            _mm256_storeu_ps(cr + 8, _mm256_add_ps(_mm256_loadu_ps(cr + 8), s[r][1])); \
        } else { \
            _mm256_maskstore_ps(cr, m0, _mm256_add_ps(_mm256_maskload_ps(cr, m0), s[r][0])); \
            _mm256_maskstore_ps(cr + 8, m1, _mm256_add_ps(_mm256_maskload_ps(cr + 8, m1), s[r][1])); \
        } \
    }

/* c (R,16 or fewer: masks m0 m1 unless full) += a (R,[k0,k1)) p ([k0,k1),16); R and full are constants
 * wherever this is inlined. */
__attribute__((target("avx2,fma"), always_inline)) static inline void avx2_block(
    float *restrict c, size_t ldc, const float *restrict a, size_t lda, const float *restrict p, size_t ldp, size_t k0,
    size_t k1, const int R, const int full, __m256i m0, __m256i m1)
{
    // Every index of s is a constant (no loop over rows), so that the compiler keeps s in registers.
    const __m256 zero = _mm256_setzero_ps();
    __m256 s[AVX2_ROWS][2] = {{zero, zero}, {zero, zero}, {zero, zero}, {zero, zero}, {zero, zero}, {zero, zero}};
    for (size_t k = k0; k < k1; k++) {
        const float *pk = p + k * ldp;
        __m256 p0 = full ? _mm256_loadu_ps(pk) : _mm256_maskload_ps(pk, m0);
        __m256 p1 = full ? _mm256_loadu_ps(pk + 8) : _mm256_maskload_ps(pk + 8, m1);
        AVX2_ROW(0) AVX2_ROW(1) AVX2_ROW(2) AVX2_ROW(3) AVX2_ROW(4) AVX2_ROW(5)
    }
    AVX2_ADD(0) AVX2_ADD(1) AVX2_ADD(2) AVX2_ADD(3) AVX2_ADD(4) AVX2_ADD(5)
}

/* Every block of rows of one strip and chunk, with R and full known to the compiler in each call. */
#define AVX2_STRIP(FULL) { \
    size_t r = 0; \
    for (; r + AVX2_ROWS <= M; r += AVX2_ROWS) \
        avx2_block(c + r * ldc + j0, ldc, a + r * lda, lda, p + j0, ldp, k0, k1, AVX2_ROWS, FULL, m0, m1); \
    switch (M - r) { \
    case 5: avx2_block(c + r * ldc + j0, ldc, a + r * lda, lda, p + j0, ldp, k0, k1, 5, FULL, m0, m1); break; \
    case 4: avx2_block(c + r * ldc + j0, ldc, a + r * lda, lda, p + j0, ldp, k0, k1, 4, FULL, m0, m1); break; \
    case 3: avx2_block(c + r * ldc + j0, ldc, a + r * lda, lda, p + j0, ldp, k0, k1, 3, FULL, m0, m1); break; \
    case 2: avx2_block(c + r * ldc + j0, ldc, a + r * lda, lda, p + j0, ldp, k0, k1, 2, FULL, m0, m1); break; \
    case 1: avx2_block(c + r * ldc + j0, ldc, a + r * lda, lda, p + j0, ldp, k0, k1, 1, FULL, m0, m1); break; \
    default: break; \
    } \
}

__attribute__((target("avx2,fma"))) static void kern_avx2 KERN_ROWS_ARGS
{
    for (size_t k0 = 0; k0 < K; k0 += KCHUNK2) {
        size_t k1 = K - k0 < KCHUNK2 ? K : k0 + KCHUNK2;
        for (size_t j0 = 0; j0 < w; j0 += 16) {
            size_t cw = w - j0 < 16 ? w - j0 : 16;
            __m256i m0 = lanes_upto(cw < 8 ? cw : 8), m1 = lanes_upto(cw > 8 ? cw - 8 : 0);
            if (cw == 16)
                AVX2_STRIP(1)
            else
                AVX2_STRIP(0)
        }
    }
}
#endif

static void (*sigmoid_loop)(float *, size_t) = sigmoid_plain;
static void (*tanh_loop)(float *, size_t) = tanh_plain;
static void (*kern) KERN_ROWS_ARGS = kern_plain;
/* Picked together, so that the float and the half products stay the same arithmetic. */
static void (*dots_float) DOTS_ARGS(float) = dots_float_plain;
static void (*dots_half) DOTS_ARGS(uint16_t) = dots_half_plain;

#ifdef STACK_DISPATCH
/* The level comes from cpulevel.h: the best the CPU has, or the one RNNHOST_CPU forces. */
__attribute__((constructor)) static void pick_loops(void)
{
    switch (cpu_level_chosen()) {
    case CPU_AVX512:
        sigmoid_loop = sigmoid_avx512, tanh_loop = tanh_avx512, kern = kern_avx512;
        dots_float = dots_float_avx512, dots_half = dots_half_avx512;
        break;
    case CPU_AVX2:
        sigmoid_loop = sigmoid_avx2, tanh_loop = tanh_avx2, kern = kern_avx2;
        dots_float = dots_float_avx2, dots_half = dots_half_avx2;
        break;
    default:
        break;
    }
}
#endif

void stack_sigmoid(float *x, size_t n)
{
    sigmoid_loop(x, n);
}

void stack_tanh(float *x, size_t n)
{
    tanh_loop(x, n);
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

void stack_sync(const stack_part *p)
{
    pool_sync((stack_pool *)p->pool, p->n);
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

/* The step's product z (B, row stride ldz) += a (B,K, row stride lda) W^T over the N rows of W (N,K): from
 * the half-step copy Wh when there is one; at batch 1 by the dot kernel, which the copy's step shares, so
 * that the two give the same bits; else one GEMM. */
static void step_product(float *z, size_t ldz, const float *a, size_t lda, const float *W, const uint16_t *Wh,
                         size_t N, size_t K, size_t B)
{
    if (N == 0 || B == 0)
        return;
    if (Wh != NULL)
        dots_half(z, ldz, a, lda, Wh, N, K, B);
    else if (B == 1)
        dots_float(z, ldz, a, lda, W, N, K, B);
    else
        gemm_nt(z, ldz, a, lda, W, K, B, N, K);
}

void stack_rec(const stack_part *p, float *z, size_t ldz, const float *a, uint32_t g0, uint32_t ng)
{
    size_t B = p->B, H = p->H, P = panels(H);
    if (p->u1 <= p->u0)
        return;
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
            kern(z + g * H + col, ldz, a, H, panel, KNR, H, B, w);
        }
    }
}

/* Reduction chunk of the backward product: KCHUNK rows of a panel (16 KiB) stay in L1 while every row
 * block of the batch passes over them. */
enum { KCHUNK = 128 };

/* d (B,H), columns [u0,u1): = beta d + dz (B,N, row stride lddz) W (N,H) */
static void rows_back(float *d, float beta, const float *dz, size_t lddz, const float *W, size_t N, size_t B,
                      size_t H, size_t u0, size_t u1)
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
            kern(d + col, H, dz + n0, lddz, W + n0 * H + col, H, nk, B, w);
        }
    }
}

void stack_rec_back(const stack_part *p, float *d, float beta, const float *dz, size_t lddz, uint32_t g0,
                    uint32_t ng)
{
    size_t H = p->H;
    rows_back(d, beta, dz, lddz, p->W_h + (size_t)g0 * H * H, (size_t)ng * H, p->B, H, p->u0, p->u1);
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
        stack_log(m->host, RH_LOG_ERROR, "%s: %s is NULL", what, batch == NULL ? "batch" : "params");
        return RH_ERR_INVALID_ARGUMENT;
    }
    uint32_t T = batch->T, B = batch->B;
    if (T == 0 || B == 0)
        return RH_OK;
    if ((uint64_t)T * B > INT_MAX) {
        stack_log(m->host, RH_LOG_ERROR, "%s: T*B = %llu exceeds the BLAS row limit", what,
                  (unsigned long long)T * B);
        return RH_ERR_INVALID_ARGUMENT;
    }
    if (ws == NULL) {
        stack_log(m->host, RH_LOG_ERROR, "%s: workspace is NULL", what);
        return RH_ERR_INVALID_ARGUMENT;
    }
    if (batch->lengths != NULL)
        for (uint32_t b = 0; b < B; b++)
            if (batch->lengths[b] > T) {
                stack_log(m->host, RH_LOG_ERROR, "%s: lengths[%u] = %u exceeds T = %u", what, b,
                          batch->lengths[b], T);
                return RH_ERR_INVALID_ARGUMENT;
            }
    if (m->kind == RH_INPUT_DENSE) {
        if (batch->x == NULL) {
            stack_log(m->host, RH_LOG_ERROR, "%s: dense model given no x", what);
            return RH_ERR_INVALID_ARGUMENT;
        }
        return RH_OK;
    }
    if (batch->tokens == NULL) {
        stack_log(m->host, RH_LOG_ERROR, "%s: token model given no tokens", what);
        return RH_ERR_INVALID_ARGUMENT;
    }
    for (uint32_t b = 0; b < B; b++) {
        uint32_t len = seq_len(batch, b);
        for (uint32_t t = 0; t < len; t++) {
            int32_t tok = batch->tokens[(size_t)t * B + b];
            if (tok < 0 || (uint32_t)tok >= m->D) {
                stack_log(m->host, RH_LOG_ERROR, "%s: token %d at t=%u, b=%u is outside [0, %u)", what, tok, t,
                          b, m->D);
                return RH_ERR_INVALID_ARGUMENT;
            }
        }
    }
    return RH_OK;
}

/* Units [u0,u1) of layer l's (B,H) block out of a (B,S) state into h (B,H), or zeros when state is NULL. */
static void state_get(const stack_model *m, float *h, const float *state, uint32_t l, size_t B, size_t u0, size_t u1)
{
    size_t H = m->H, S = (size_t)m->L * H;
    for (size_t b = 0; b < B; b++) {
        if (state != NULL)
            memcpy(h + b * H + u0, state + b * S + l * H + u0, (u1 - u0) * sizeof(float));
        else
            memset(h + b * H + u0, 0, (u1 - u0) * sizeof(float));
    }
}

static void state_put(const stack_model *m, float *state, const float *h, uint32_t l, size_t B, size_t u0, size_t u1)
{
    size_t H = m->H, S = (size_t)m->L * H;
    for (size_t b = 0; b < B; b++)
        memcpy(state + b * S + l * H + u0, h + b * H + u0, (u1 - u0) * sizeof(float));
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
        pass_through(dst, src, (size_t)batch->B * m->L * m->H);
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
    uint32_t size = pool_size(m->pool);
    return n < 2 ? 1 : n < size ? n : size;
}

/* Runs task on n threads of the model's pool, with OpenBLAS on one thread meanwhile (each share makes its
 * own BLAS calls, and BLAS threads of their own would fight the pool's for the cores), or on the caller
 * alone when n is 1 or the pool is taken. `step` runs alone too while the workers sleep (it wakes them for
 * the next step): one step is short, and the real-time path must not wait for a thread to be scheduled. */
static void run_split(const stack_model *m, uint32_t n, pool_task task, void *arg, int step)
{
    if (n > 1) {
        int blas = openblas_get_num_threads();
        if (blas != 1)
            openblas_set_num_threads(1);
        int ran = pool_run(m->pool, n, task, arg, step);
        if (blas != 1)
            openblas_set_num_threads(blas);
        if (ran == 0)
            return;
    }
    task(arg, 0, 1);
}

/* ---- forward --------------------------------------------------------------------------------------- */

typedef struct fwd_call {
    const stack_model *m;
    float *y, *h_T, *ws;
    const float *params, *h_0;
    const rh_batch *batch;
} fwd_call;

static void forward_task(void *arg, uint32_t id, uint32_t n)
{
    const fwd_call *c = arg;
    const stack_model *m = c->m;
    const rh_batch *batch = c->batch;
    const float *params = c->params;
    size_t T = batch->T, B = batch->B, TB = T * B, H = m->H, GH = (size_t)m->G * H, O = out_dim(m);
    size_t r0, r1; // this thread's rows of (T*B, ...) products
    share(TB, id, n, &r0, &r1);
    uint32_t u0, u1;
    own_units(m, id, n, &u0, &u1);
    float *pack = ws_pack(m, c->ws, T, B);

    for (uint32_t l = 0; l < m->L; l++) {
        stack_ws w = ws_layer(m, c->ws, l, TB, B);
        const float *W_x = tensor_ptr(m, params, l * T_PER_LAYER + T_WX);
        const float *W_h = tensor_ptr(m, params, l * T_PER_LAYER + T_WH);
        fill_bias(w.z + r0 * GH, tensor_ptr(m, params, l * T_PER_LAYER + T_B), r1 - r0, GH);
        if (l > 0) {
            stack_ws below = ws_layer(m, c->ws, l - 1, TB, B);
            add_input_proj(w.z + r0 * GH, below.hs + (B + r0) * H, H, W_x, r1 - r0, H, GH);
        } else if (m->kind == RH_INPUT_DENSE) {
            add_input_proj(w.z + r0 * GH, batch->x + r0 * m->D, m->D, W_x, r1 - r0, m->D, GH);
        } else {
            // Padding positions are never read: their rows keep the bias and their outputs are discarded.
            for (size_t r = r0; r < r1; r++)
                if (r / B < seq_len(batch, (uint32_t)(r % B)))
                    add_row(w.z + r * GH, W_x + (size_t)batch->tokens[r] * GH, GH);
        }
        pack_panels(pack, W_h, m->G, H, u0, u1);
        state_get(m, w.hs, c->h_0, l, B, u0, u1);
        stack_part part = {u0, u1, (uint32_t)B, m->H, W_h, pack, m->pool, n, NULL};
        for (size_t t = 0; t < T; t++) {
            stack_sync(&part); // h_prev whole, and (at t = 0) this layer's input projection done
            float *h_prev = w.hs + t * B * H, *h = h_prev + B * H;
            m->cell->forward(&part, h, w.z + t * B * GH, w.rh != NULL ? w.rh + t * B * H : NULL, h_prev);
            for (size_t b = 0; b < B; b++)
                if (t >= seq_len(batch, (uint32_t)b))
                    memcpy(h + b * H + u0, h_prev + b * H + u0, (u1 - u0) * sizeof(float));
        }
        if (c->h_T != NULL)
            state_put(m, c->h_T, w.hs + T * B * H, l, B, u0, u1);
        stack_sync(&part); // the layer's outputs whole before the next layer or the projection reads them
    }

    stack_ws top = ws_layer(m, c->ws, m->L - 1, TB, B);
    float *y = c->y + r0 * O;
    const float *a = top.hs + (B + r0) * H;
    if (m->O == 0) {
        memcpy(y, a, (r1 - r0) * H * sizeof(float));
    } else {
        uint32_t wi = m->L * T_PER_LAYER;
        fill_bias(y, tensor_ptr(m, params, wi + 1), r1 - r0, O);
        add_input_proj(y, a, H, tensor_ptr(m, params, wi), r1 - r0, H, O);
    }
    for (size_t r = r0; r < r1; r++)
        if (r / B >= seq_len(batch, (uint32_t)(r % B)))
            memset(c->y + r * O, 0, O * sizeof(float));
}

// y is (T,B,O), h_T and h_0 are (B,S), workspace is ws_floats(T,B)
static rh_status stack_forward(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                               const rh_batch *batch, const float *h_0)
{
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    rh_status st;
    if (!call_needed(m, "forward", params, workspace, batch, h_T, h_0, &st))
        return st;
    if (y == NULL) {
        stack_log(m->host, RH_LOG_ERROR, "forward: y is NULL");
        return RH_ERR_INVALID_ARGUMENT;
    }
    fwd_call c = {m, y, h_T, workspace, params, h_0, batch};
    run_split(m, call_threads(m, (uint64_t)batch->B * m->G * m->H * m->H), forward_task, &c, 0);
    return RH_OK;
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
    stack_part part = {u0, u1, (uint32_t)B, m->H, NULL, NULL, m->pool, n, NULL};

    float *dym = ws_shared(m, c->ws, TB, B); // (T,B,O) dy with padding zeroed, when there is padding
    float *dh = dym + TB * O, *dhp = dh + B * H, *g = dhp + B * H, *scratch = g + B * H; // (B,H) each
    float *dychunk = scratch + B * H; // (top_chunk,B,H) dy Wy
    size_t TC = (size_t)top_chunk((uint32_t)T, (uint32_t)B), t0 = 0;
    const float *Wy = m->O > 0 ? tensor_ptr(m, params, m->L * T_PER_LAYER) : NULL;

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
        stack_sync(&part);
    }
    stack_ws top = ws_layer(m, c->ws, m->L - 1, TB, B);
    if (m->O > 0) {
        uint32_t wi = m->L * T_PER_LAYER;
        size_t o0, o1;
        share(O, id, n, &o0, &o1);
        add_weight_grad(grad_ptr(m, grads, wi) + o0 * H, dyz + o0, O, top.hs + B * H, H, TB, o1 - o0, H);
        add_bias_grad(grad_ptr(m, grads, wi + 1) + o0, dyz + o0, O, TB, o1 - o0);
    }

    for (uint32_t l = m->L; l-- > 0;) {
        stack_ws w = ws_layer(m, c->ws, l, TB, B);
        const float *W_x = tensor_ptr(m, params, l * T_PER_LAYER + T_WX);
        // dLoss/d a<t> from above (T,B,H): the layer above left it in its hs; the top layer makes it from
        // dy step by step (dy Wy when there is a projection, dy itself when not).
        const float *da = l + 1 < m->L ? ws_layer(m, c->ws, l + 1, TB, B).hs : NULL;
        part.W_h = tensor_ptr(m, params, l * T_PER_LAYER + T_WH);
        state_get(m, dh, c->dh_T, l, B, u0, u1);
        for (size_t t = T; t-- > 0;) {
            stack_sync(&part); // da whole (at the top step) and the step above done with dh and g
            const float *h_prev = w.hs + t * B * H, *h = h_prev + B * H;
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
                    if (da != NULL) {
                        const float *dab = da + (t * B + b) * H;
                        for (size_t i = u0; i < u1; i++)
                            gb[i] = dhb[i] + dab[i];
                    } else if (Wy != NULL) {
                        const float *dcb = dychunk + ((t - t0) * B + b) * H;
                        for (size_t i = u0; i < u1; i++)
                            gb[i] = dhb[i] + dcb[i];
                    } else {
                        const float *dyb = dyz + (t * B + b) * O;
                        for (size_t i = u0; i < u1; i++)
                            gb[i] = dhb[i] + dyb[i];
                    }
                } else {
                    memset(gb + u0, 0, (u1 - u0) * sizeof(float));
                }
            }
            m->cell->backward(&part, dhp, w.z + t * B * GH, scratch, g, h, h_prev);
            // A padded step passed the state through unchanged, so its gradient passes through too.
            for (size_t b = 0; b < B; b++)
                if (t >= seq_len(batch, (uint32_t)b))
                    memcpy(dhp + b * H + u0, dh + b * H + u0, (u1 - u0) * sizeof(float));
            float *swap = dh;
            dh = dhp;
            dhp = swap;
        }
        if (c->dh_0 != NULL)
            state_put(m, c->dh_0, dh, l, B, u0, u1);
        stack_sync(&part); // every step's dz whole

        // Weight gradients over all steps at once; padded rows of dz are zero and add nothing. Each thread
        // takes rows [q0,q1) of dW and the same columns of db.
        float *dW_h = grad_ptr(m, grads, l * T_PER_LAYER + T_WH);
        size_t plain = (size_t)(m->G - m->cell->rh_gates) * H;
        if (q0 < plain)
            add_weight_grad(dW_h + q0 * H, w.z + q0, GH, w.hs, H, TB, (q1 < plain ? q1 : plain) - q0, H);
        if (m->cell->rh_gates > 0 && q1 > plain) {
            size_t a0 = q0 > plain ? q0 : plain;
            add_weight_grad(dW_h + a0 * H, w.z + a0, GH, w.rh, H, TB, q1 - a0, H);
        }
        add_bias_grad(grad_ptr(m, grads, l * T_PER_LAYER + T_B) + q0, w.z + q0, GH, TB, q1 - q0);
        float *dW_x = grad_ptr(m, grads, l * T_PER_LAYER + T_WX);
        if (l > 0) {
            stack_ws below = ws_layer(m, c->ws, l - 1, TB, B);
            add_weight_grad(dW_x + q0 * H, w.z + q0, GH, below.hs + B * H, H, TB, q1 - q0, H);
            stack_sync(&part); // every thread done reading this layer's hs
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

// grads (P) added into; dx (T,B,D) and dh_0 (B,S) written; dy (T,B,O); dh_T (B,S) or NULL
static rh_status stack_backward(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                                const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                                const float *dh_T)
{
    (void)h_0; /* forward kept it in hs[0] */
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const stack_model *m = as_stack(model);
    rh_status st;
    if (!call_needed(m, "backward", params, workspace, batch, dh_0, dh_T, &st))
        return st;
    if (grads == NULL || dy == NULL) {
        stack_log(m->host, RH_LOG_ERROR, "backward: %s is NULL", grads == NULL ? "grads" : "dy");
        return RH_ERR_INVALID_ARGUMENT;
    }
    bwd_call c = {m, grads, dx, dh_0, workspace, params, dy, dh_T, batch};
    run_split(m, call_threads(m, (uint64_t)batch->B * m->G * m->H * m->H), backward_task, &c, 0);
    return RH_OK;
}

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
    size_t B = c->B, H = m->H, G = m->G, GH = G * H, S = (size_t)m->L * H;
    float *z = c->scratch, *rh = z + B * GH, *hp = rh + B * H, *h = hp + B * H;
    uint32_t u0, u1;
    own_units(m, id, n, &u0, &u1);
    stack_part part = {u0, u1, (uint32_t)B, m->H, NULL, NULL, m->pool, n, NULL};
    for (uint32_t l = 0; l < m->L; l++) {
        const float *W_x = tensor_ptr(m, c->params, l * T_PER_LAYER + T_WX);
        const float *bias = tensor_ptr(m, c->params, l * T_PER_LAYER + T_B);
        const uint16_t *W_x_half = half_ptr(m, c->half, l * T_PER_LAYER + T_WX);
        part.W_h = tensor_ptr(m, c->params, l * T_PER_LAYER + T_WH);
        part.W_h_half = half_ptr(m, c->half, l * T_PER_LAYER + T_WH);
        for (size_t g = 0; g < G; g++) {
            size_t col = g * H + u0, w = u1 - u0;
            for (size_t b = 0; b < B; b++)
                memcpy(z + b * GH + col, bias + col, w * sizeof(float));
            if (l > 0)
                step_product(z + col, GH, c->state + (l - 1) * H, S, W_x + col * H,
                             W_x_half != NULL ? W_x_half + col * H : NULL, w, H, B);
            else if (c->x != NULL)
                step_product(z + col, GH, c->x, m->D, W_x + col * m->D,
                             W_x_half != NULL ? W_x_half + col * m->D : NULL, w, m->D, B);
            else
                for (size_t b = 0; b < B; b++)
                    add_row(z + b * GH + col, W_x + (size_t)c->tokens[b] * GH + col, w);
        }
        state_get(m, hp, c->state, l, B, u0, u1);
        stack_sync(&part); // the state of layer l whole before the cell reads it
        m->cell->forward(&part, h, z, rh, hp);
        state_put(m, c->state, h, l, B, u0, u1);
        stack_sync(&part); // the new state whole before the layer above reads it
    }
    if (c->y == NULL)
        return;
    size_t O = out_dim(m), o0, o1;
    share(O, id, n, &o0, &o1);
    const float *a = c->state + (m->L - 1) * H;
    for (size_t b = 0; b < B; b++) {
        if (m->O == 0)
            memcpy(c->y + b * O + o0, a + b * S + o0, (o1 - o0) * sizeof(float));
        else
            memcpy(c->y + b * O + o0, tensor_ptr(m, c->params, m->L * T_PER_LAYER + 1) + o0,
                   (o1 - o0) * sizeof(float));
    }
    if (m->O > 0) {
        const uint16_t *W_half = half_ptr(m, c->half, m->L * T_PER_LAYER);
        step_product(c->y + o0, O, a, S, tensor_ptr(m, c->params, m->L * T_PER_LAYER) + o0 * H,
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
    return strcmp(extension_id, RH_EXT_HALF_STEP) == 0 ? &stack_half_ext : NULL;
}

static const rh_model_vtable stack_vtable = {
    sizeof(rh_model_vtable), stack_destroy,  stack_get_info,          stack_get_tensor, stack_workspace_size,
    stack_forward,           stack_backward, stack_step_scratch_size, stack_step,       stack_reset,
    stack_get_extension,
};

/* ---- create ---------------------------------------------------------------------------------------- */

static rh_status refuse(const rh_host *host, const char *id, const char *why)
{
    stack_log(host, RH_LOG_ERROR, "%s: %s", id, why);
    return RH_ERR_INVALID_ARGUMENT;
}

rh_status stack_create(const rh_host *host, const stack_cell *cell, const rh_config *config, rh_model **out)
{
    const char *id = cell->model_id;
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
    if (config->options != NULL && config->options[0] != '\0') {
        char key[RH_MAX_NAME];
        size_t n = strcspn(config->options, "=;");
        snprintf(key, sizeof key, "%.*s", (int)(n < sizeof key - 1 ? n : sizeof key - 1), config->options);
        stack_log(host, RH_LOG_ERROR, "%s: unknown option '%s' (this model has no options)", id, key);
        return RH_ERR_INVALID_ARGUMENT;
    }

    uint64_t D = config->input_dim, H = config->hidden_size, L = config->num_layers, O = config->output_dim;
    uint64_t G = cell->gates, GH = G * H;
    // Every dimension is a BLAS int somewhere, and the state size is a u32 in rh_model_info.
    if (GH > INT_MAX || D > INT_MAX || O > INT_MAX || L > STACK_MAX_LAYERS || L * H > INT_MAX) {
        stack_log(host, RH_LOG_ERROR,
                  "%s: sizes out of range (input_dim %llu, hidden_size %llu, num_layers %llu, output_dim %llu)", id,
                  (unsigned long long)D, (unsigned long long)H, (unsigned long long)L, (unsigned long long)O);
        return RH_ERR_INVALID_ARGUMENT;
    }

    uint32_t num_tensors = (uint32_t)(L * T_PER_LAYER + (O > 0 ? 2 : 0));
    size_t bytes = sizeof(stack_model) + num_tensors * (sizeof(rh_tensor) + sizeof(uint64_t) + RH_MAX_NAME);
    stack_model *m = calloc(1, bytes);
    if (m == NULL) {
        stack_log(host, RH_LOG_ERROR, "%s: out of memory for the tensor table", id);
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
    m->O = (uint32_t)O;
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
        struct {
            const char *suffix;
            uint64_t r, c;
            uint32_t ndim, init;
        } spec[T_PER_LAYER] = {
            {embed ? "embed" : "W_x", embed ? D : GH, embed ? GH : D, 2, RH_INIT_UNIFORM},
            {"W_h", GH, H, 2, RH_INIT_UNIFORM},
            {"b", GH, 0, 1, RH_INIT_ZERO},
        };
        if (l > 0)
            spec[0].c = H;
        for (uint32_t s = 0; s < T_PER_LAYER; s++, k++) {
            rh_tensor *t = &m->tensors[k];
            snprintf(m->names[k], RH_MAX_NAME, "l%u.%s", l, spec[s].suffix);
            t->name = m->names[k];
            t->ndim = spec[s].ndim;
            t->shape[0] = (uint32_t)spec[s].r;
            t->shape[1] = (uint32_t)spec[s].c;
            t->offset = offset;
            t->size = spec[s].ndim == 2 ? spec[s].r * spec[s].c : spec[s].r;
            t->init = spec[s].init;
            t->init_scale = spec[s].init == RH_INIT_UNIFORM ? scale : 0.0f;
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
        stack_log(host, RH_LOG_ERROR, "%s: more than 2^40 parameters (input_dim %llu, hidden_size %llu, "
                                      "num_layers %llu, output_dim %llu)",
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
            m->pool = pool_create(n > STACK_MAX_THREADS ? STACK_MAX_THREADS : n);
        }
    }
    *out = &m->base;
    return RH_OK;
}
