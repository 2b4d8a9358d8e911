/* A stack of recurrent layers with an optional linear output projection: everything the rnn and gru
 * plugins share except the mathematics of one cell. Each plugin compiles this file into its own module
 * (hidden visibility), so nothing here is part of the ABI.
 *
 * A cell with G gate blocks reads a pre-activation z (B,G*H) that already holds the input projection and
 * the bias; the cell adds its recurrent products and applies its nonlinearities. The driver owns the
 * input projection over all steps (one GEMM per layer, or a row gather for tokens), padding, the layer
 * stacking, the output projection and the weight gradients as GEMMs over all steps.
 */
#ifndef RNNHOST_PLUGINS_STACK_H
#define RNNHOST_PLUGINS_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "rnnhost/host.h"
#include "rnnhost/model.h"
#include "rnnhost/plugin.h"

/* One thread's share of one call: the hidden units [u0, u1) of every gate block, whose columns of z, h and
 * the gradients this thread computes. A cell reads whole rows of its inputs but writes only its own
 * columns, and calls stack_sync between a phase that writes columns and one that reads whole rows. With
 * one thread u0 = 0, u1 = H and stack_sync does nothing. */
typedef struct stack_part {
    uint32_t u0, u1; /* the units this thread owns */
    uint32_t B, H;
    /* private to stack.c */
    const float *W_h;  /* (G*H,H) */
    const float *pack; /* W_h^T in column panels for the batched forward, or NULL */
    void *pool;
    uint32_t n;
    const uint16_t *W_h_half; /* step over the half-step copy: W_h there, or NULL */
} stack_part;

typedef struct stack_cell {
    const char *model_id;
    uint32_t gates; /* G: packed gate blocks of H rows in W_x, W_h and b */
    /* Trailing gate blocks whose recurrent product reads rh (B,H), a cell-defined function of h_prev,
     * instead of h_prev itself (the GRU candidate reads Γr * c<t-1>). Their W_h gradient is
     * dz^T rh, so forward keeps rh for every step. */
    uint32_t rh_gates;

    /* One step, own columns. z (B,G*H): input projection plus bias on entry, the cell's activations on
     * exit (kept for backward). h (B,H) written; it never aliases h_prev (B,H). rh (B,H) written when
     * rh_gates > 0. */
    void (*forward)(const stack_part *p, float *h, float *z, float *rh, const float *h_prev);

    /* The same step backwards, own columns. g (B,H) is dLoss/dh. z (B,G*H) holds the activations from
     * forward on entry and dLoss/dz on exit. dh_prev (B,H) written. h (B,H) is the step's output, h_prev its
     * input. scratch holds B*H floats. A zero row of g must give zero rows of dz and dh_prev. */
    void (*backward)(const stack_part *p, float *dh_prev, float *z, float *scratch, const float *g,
                     const float *h, const float *h_prev);
} stack_cell;

/* The recurrent products of a cell, on the calling thread's own units.
 * z (B, row stride ldz), columns g*H + [u0,u1) for the gate blocks g in [g0, g0+ng):
 *     += a (B,H) W_h[those rows]^T */
void stack_rec(const stack_part *p, float *z, size_t ldz, const float *a, uint32_t g0, uint32_t ng);
/* d (B,H), columns [u0,u1): = beta d + dz (B, ng*H, row stride lddz) W_h[rows of blocks g0 .. g0+ng) */
void stack_rec_back(const stack_part *p, float *d, float beta, const float *dz, size_t lddz, uint32_t g0,
                    uint32_t ng);
/* Waits for the other threads of the call. */
void stack_sync(const stack_part *p);

/* x (n) = σ(x) and x (n) = tanh(x) in place, for the gate code of the cells. Branch-free polynomial forms
 * that the compiler vectorises (libm's expf and tanhf are scalar calls, and a quarter of the GRU's time
 * went into them); within a few ulp of libm, and the same function serves forward and step, so step still
 * equals forward. */
void stack_sigmoid(float *x, size_t n);
void stack_tanh(float *x, size_t n);

/* Validates config, builds the tensor table and the model. Logs through host on failure. */
rh_status stack_create(const rh_host *host, const stack_cell *cell, const rh_config *config, rh_model **out);

/* Logs one formatted line when host and host->log exist. */
void stack_log(const rh_host *host, int32_t level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* RNNHOST_PLUGINS_STACK_H */
