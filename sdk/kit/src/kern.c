/* The kit's kernels (kern.h): the gates' nonlinearities, the recurrent kernel and the step's dot products,
 * each compiled for every CPU level, and the pick of one level when the plugin loads. */
#include "kern.h"

#include <string.h>

#include "rnnhost/halfstep.h"
#include "rnnhost/kit/cell.h"
#include "rnnhost/kit/cpulevel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* Each loop below is compiled for AVX-512, AVX2 and plain x86-64, and the best the CPU has is picked once
 * when the plugin loads (a constructor, not an ifunc: clang exports ifunc resolvers as extra dynamic
 * symbols, and a plugin exports exactly one). Elsewhere it is plain C. GCC's -O2 vectorises only loops
 * whose trip count it knows, so these few ask for its full vectoriser; and without AVX-512's masks it
 * if-converts the gates' selects only when told that floating-point exceptions are not looked at
 * (no-trapping-math), which changes no result. */
#if defined(__x86_64__) && defined(__GNUC__)
#define KIT_DISPATCH 1
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

#ifdef KIT_DISPATCH
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
#ifdef KIT_DISPATCH
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

#ifdef KIT_DISPATCH
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

#ifdef KIT_DISPATCH
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
void (*rhk_kern) KERN_ROWS_ARGS = kern_plain;
/* Picked together, so that the float and the half products stay the same arithmetic. */
void (*rhk_dots_float) DOTS_ARGS(float) = dots_float_plain;
void (*rhk_dots_half) DOTS_ARGS(uint16_t) = dots_half_plain;

#ifdef KIT_DISPATCH
/* The level comes from cpulevel.h: the best the CPU has, or the one RNNHOST_CPU forces. */
__attribute__((constructor)) static void pick_loops(void)
{
    switch (cpu_level_chosen()) {
    case CPU_AVX512:
        sigmoid_loop = sigmoid_avx512, tanh_loop = tanh_avx512, rhk_kern = kern_avx512;
        rhk_dots_float = dots_float_avx512, rhk_dots_half = dots_half_avx512;
        break;
    case CPU_AVX2:
        sigmoid_loop = sigmoid_avx2, tanh_loop = tanh_avx2, rhk_kern = kern_avx2;
        rhk_dots_float = dots_float_avx2, rhk_dots_half = dots_half_avx2;
        break;
    default:
        break;
    }
}
#endif

void rhk_sigmoid(float *x, size_t n)
{
    sigmoid_loop(x, n);
}

void rhk_tanh(float *x, size_t n)
{
    tanh_loop(x, n);
}
