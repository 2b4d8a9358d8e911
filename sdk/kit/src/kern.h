/* The kit's kernels at the CPU's level: the gates' nonlinearities, the register-blocked recurrent kernel and
 * the step's dot products. kern.c compiles each for plain C, AVX2 and AVX-512 and picks one set when the
 * plugin loads (cpulevel.h); these pointers then stay as they are. Private to the kit. */
#ifndef RNNHOST_KIT_KERN_H
#define RNNHOST_KIT_KERN_H

#include <stddef.h>
#include <stdint.h>

/* The recurrent kernel's block: KMR rows of the batch by KNR units; W_h is packed in panels of KNR units. */
enum { KMR = 8, KNR = 32 };

/* c (M,w, row stride ldc) += a (M,K, row stride lda) p (K,w, row stride ldp), for any M rows and w <= KNR
 * columns; p is a packed panel of W_h^T (forward) or rows of W_h (backward). Every element is summed over k
 * in the same order whichever block of rows it falls in, so a call gives the same bits on any thread. */
extern void (*rhk_kern)(float *restrict c, size_t ldc, const float *restrict a, size_t lda,
                        const float *restrict p, size_t ldp, size_t K, size_t M, size_t w);

/* The step's products at small batches: z (B, row stride ldz) += a (B,K, row stride lda) W^T for the N rows
 * of W (N,K), the weights as floats or as halves; both give the same bits over the same values. */
extern void (*rhk_dots_float)(float *restrict z, size_t ldz, const float *restrict a, size_t lda,
                              const float *restrict W, size_t N, size_t K, size_t B);
extern void (*rhk_dots_half)(float *restrict z, size_t ldz, const float *restrict a, size_t lda,
                             const uint16_t *restrict W, size_t N, size_t K, size_t B);

#endif /* RNNHOST_KIT_KERN_H */
