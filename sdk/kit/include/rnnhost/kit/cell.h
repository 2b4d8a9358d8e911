/* rnnhost cell kit: a whole model plugin around a recurrent cell's element-wise mathematics.
 *
 * The kit makes a stack of recurrent layers with an optional linear output projection and answers the
 * whole model vtable (model.h) for it: config checks, the tensor table, batched forward and BPTT over
 * padded batches, the streaming step, the half-precision step (halfstep.h), threads granted by the host
 * (RH_EXT_THREADS) and the CPU kernel level (cpulevel.h). The matrix products are its own: the input
 * projections of all steps, the output projection and every weight gradient are one GEMM each over all
 * T*B rows; the recurrent products inside the sequence run on a register-blocked kernel over W_h packed
 * once per call. A cell brings only what differs between cells: one step forward and the same step
 * backward, element by element, calling rhk_rec and rhk_rec_back for its recurrent products.
 *
 * The kit is not ABI. It is a static library (librnnhost-kit.a, `pkg-config rnnhost-kit`) built with hidden
 * visibility, so a plugin that links it still exports nothing but its entry; every plugin carries its own
 * copy, and a newer kit reaches a plugin when the plugin is rebuilt. C99.
 *
 * The model a cell gets (H hidden units, L layers, G gate blocks, input D, output O):
 *   tensors of layer l: lN.W_x (G*H, D or H), or l0.embed (D, G*H) for token input; lN.W_h (G*H, H);
 *                       lN.b (G*H), or one bias per gate block lN.b_NAME (H) when the cell names its gates;
 *   then out.W (O, H) and out.b (O) when output_dim > 0.
 *   Gate block g is rows [g*H, (g+1)*H) of W_x, W_h and the bias. W_x and W_h start uniform within
 *   1/sqrt(H + fan-in), biases at the cell's values (0 unless it says otherwise).
 *   state per sequence (B,S), S = L * (1 + C) * H: for each layer its output h (H), then the C*H floats of
 *   state the cell carries beside it (C = rhk_cell.carry; the LSTM's cell state c, C = 1).
 *   options (config.options, "key=value;..."): "dropout=P", 0 <= P < 1: in training (rnnhost/dropout.h) each
 *   unit of every layer's output is dropped with chance P, a new mask every step, before the layer above or
 *   the output projection reads it; "recurrent_dropout=P": in training each unit of h<t-1> is dropped from
 *   the recurrent products (rhk_rec) with chance P, one mask per sequence and layer for all its steps; never
 *   in forward, backward or step. Any other key is refused.
 *
 * One step of one layer, as the cell sees it, for the B rows of the batch:
 *   z (B,G*H) arrives holding the input projection plus the bias; the cell adds its recurrent products
 *   (rhk_rec), applies its nonlinearities and writes h (B,H) and its carried state c (B,C*H). z keeps the
 *   cell's activations for backward, which turns them into dLoss/dz: the kit then makes every weight
 *   gradient from dz. Padding is the kit's: a row past its sequence's length keeps its state and gets zero
 *   gradients, and the cell never knows.
 *
 * Threads: a call's threads each own a block of hidden units [u0, u1) of every gate block (whole panels of
 * the kernel) and write only those columns of z, h, c and the gradients; they read whole rows of what the
 * others wrote only after rhk_sync. With one thread u0 = 0, u1 = H and rhk_sync does nothing. Every unit is
 * summed in the same order whichever thread computes it, so any number of threads gives the same bits.
 *
 * The rules of the ABI hold for a cell as for any plugin code: no allocation, no I/O, no locks. Element-wise
 * loops should use rhk_sigmoid and rhk_tanh, so that forward and step (the same cell function) agree. */
#ifndef RNNHOST_KIT_CELL_H
#define RNNHOST_KIT_CELL_H

#include <stddef.h>
#include <stdint.h>

#include "rnnhost/host.h"
#include "rnnhost/model.h"
#include "rnnhost/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything the kit defines stays inside the plugin that links it. */
#if defined(__GNUC__) || defined(__clang__)
#define RHK_API __attribute__((visibility("hidden")))
#else
#define RHK_API
#endif

/* The calling thread's share of one step: the hidden units [u0, u1) of every gate block. */
typedef struct rhk_part {
    uint32_t u0, u1; /* the units this thread owns */
    uint32_t B, H;   /* rows of the batch, hidden units */
    /* The kit's own; a cell never reads them. */
    const float *W_h;         /* (G*H,H) */
    const float *pack;        /* W_h^T in the kernel's panels (batched forward), W_h in panels of its columns
                                 (backward), or NULL (step) */
    const uint16_t *W_h_half; /* the half-step copy's W_h, or NULL */
    void *pool;
    uint32_t n; /* threads of the call */
    uint32_t G; /* gate blocks of W_h */
    const float *rmask; /* recurrent dropout's masks (B,H) of the layer in training, or NULL */
    float *rinput;      /* (B,H) this thread's own: a recurrent product's input times rmask */
} rhk_part;

/* One step forward. Own columns [u0,u1) of every block unless said otherwise. */
typedef struct rhk_fwd {
    float *z;            /* (B,G*H) input projection plus bias on entry; the cell's activations on exit */
    float *h;            /* (B,H) written: the layer's output at this step; never aliases h_prev */
    float *c;            /* (B,C*H) written: the carried state, or NULL when C = 0; never aliases c_prev */
    float *rh;           /* (B,H) written when rh_gates > 0 (see rhk_cell), else NULL */
    const float *h_prev; /* (B,H) the output of the step before (the state's h at t = 0) */
    const float *c_prev; /* (B,C*H) the carried state of the step before, or NULL when C = 0 */
} rhk_fwd;

/* The same step backwards. A zero row of dh and dc must give zero rows of z, dh_prev and dc_prev. */
typedef struct rhk_bwd {
    float *z;            /* (B,G*H) the activations forward left on entry; dLoss/dz on exit */
    float *dh_prev;      /* (B,H) written: dLoss/dh_prev */
    float *dc_prev;      /* (B,C*H) written: dLoss/dc_prev, or NULL when C = 0 */
    float *scratch;      /* (B,H) the cell's own */
    const float *dh;     /* (B,H) dLoss/dh: from the layer above and from the next step */
    const float *dc;     /* (B,C*H) dLoss/dc from the next step, or NULL when C = 0 */
    const float *h;      /* (B,H) this step's output, as forward wrote it */
    const float *c;      /* (B,C*H) this step's carried state, or NULL */
    const float *h_prev; /* (B,H) */
    const float *c_prev; /* (B,C*H) or NULL */
} rhk_bwd;

/* A gate block's name and the value its bias starts at. */
typedef struct rhk_gate {
    const char *name; /* [A-Za-z0-9_]+, short: the bias tensor is lN.b_NAME */
    float bias;
} rhk_gate;

/* A cell: what the kit needs to know, and its two functions. Static data of the plugin. */
typedef struct rhk_cell {
    const char *model_id; /* the model id create answers to, also the prefix of its log lines */
    uint32_t gates;       /* G: gate blocks of H rows, packed in W_x, W_h and the bias */
    /* The last rh_gates blocks multiply W_h not by h_prev but by rh (B,H), a function of h_prev that
     * forward writes for every step (the GRU candidate reads Γr * c<t-1>); their W_h gradient is dz^T rh. */
    uint32_t rh_gates;
    /* C: blocks of H floats of state the cell carries from step to step beside its output h (the LSTM's
     * cell state: 1). The kit keeps them for every step for BPTT, passes them in the state and pads them. */
    uint32_t carry;
    /* NULL: every bias starts at 0, in one tensor lN.b. Else G entries, one per gate block, and each
     * block's bias is a tensor of its own, lN.b_NAME, initialised to its value (an LSTM's forget gate: 1);
     * the blocks are still adjacent in the parameter buffer, so the cell sees one (G*H) bias. */
    const rhk_gate *gate_info;

    /* One step: the recurrent products (rhk_rec) and the nonlinearities, own columns. */
    void (*forward)(const rhk_part *p, const rhk_fwd *s);
    /* The same step backwards: dLoss/dz into z, dh_prev and dc_prev (rhk_rec_back), own columns. */
    void (*backward)(const rhk_part *p, const rhk_bwd *s);
} rhk_cell;

/* The recurrent products on the calling thread's own units, in forward (batched or step).
 *   z (B, row stride ldz), columns g*H + [u0,u1) of the gate blocks g in [g0, g0+ng):
 *       += a (B,H) W_h[rows of those blocks]^T
 * With recurrent dropout (the option "recurrent_dropout=P", training only) the product reads a times the
 * sequence's mask, the same at every step (variational dropout, Gal and Ghahramani 2016), and rhk_rec_back
 * masks its product the same way: a cell needs nothing of its own for it. */
RHK_API void rhk_rec(const rhk_part *p, float *z, size_t ldz, const float *a, uint32_t g0, uint32_t ng);

/* The recurrent products of backward, on the calling thread's own units.
 *   d (B,H), columns [u0,u1): = beta d + dz (B, ng*H, row stride lddz) W_h[rows of blocks g0 .. g0+ng)
 * dz must be whole (every thread's columns): call rhk_sync after writing it. */
RHK_API void rhk_rec_back(const rhk_part *p, float *d, float beta, const float *dz, size_t lddz, uint32_t g0,
                          uint32_t ng);

/* Waits for the other threads of the call, between a phase that writes own columns and one that reads
 * whole rows. */
RHK_API void rhk_sync(const rhk_part *p);

/* x (n) = σ(x) and x (n) = tanh(x) in place: branch-free polynomial forms at the CPU's kernel level,
 * within a few ulp of libm, and the same function for forward and step. */
RHK_API void rhk_sigmoid(float *x, size_t n);
RHK_API void rhk_tanh(float *x, size_t n);

/* create_model for a cell: checks model_id against cell->model_id (RH_ERR_UNKNOWN_MODEL otherwise) and
 * the config, builds the tensor table and the model, and starts the threads the host grants. Explains a
 * refusal through host->log. */
RHK_API rh_status rhk_create(const rh_host *host, const rhk_cell *cell, const char *model_id,
                             const rh_config *config, rh_model **out);

/* Logs one formatted line through host->log, when host and host->log exist. */
RHK_API void rhk_log(const rh_host *host, int32_t level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_KIT_CELL_H */
