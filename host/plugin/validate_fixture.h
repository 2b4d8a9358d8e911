/* What every check of `rnnhost validate` works with (validate.h lists the checks): the configs and
 * tolerances, batches with their own storage, a forward pass over a NaN-filled workspace, and the fixture
 * that holds a check's model, batch and buffers so that a check has one way out. Every plugin answer is
 * treated as untrusted: buffers are sized exactly as the plugin asked (so a sanitizer sees any overrun),
 * workspaces start as NaN (so a plugin that reads what it never wrote shows up in its outputs), and padding
 * tokens are out of range.
 *
 * The checks, one family per file:
 *   validate_plugin.c     exports, unknown-model, bad-config, create
 *   validate_gradients.c  gradients against finite differences (through the dropout extension, its masks
 *                         fixed, when the model has dropout)
 *   validate_dropout.c    dropout
 *   validate_stepping.c   step-equals-forward, half-step
 *   validate_outputs.c    determinism, finite, batch-shapes
 *   validate_weights.c    weights-roundtrip, hostile-weights */
#ifndef RNNHOST_VALIDATE_FIXTURE_H
#define RNNHOST_VALIDATE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"
#include "validate.h"

/* The two configs every model is checked with: small enough to be fast, large enough that every index
 * (layer, unit, input) differs from every other. */
#define DENSE_D 5
#define DENSE_H 6
#define DENSE_O 4
#define TOKEN_V 7
#define TOKEN_H 5
#define TOKEN_O 7
#define LAYERS 2

/* float32 through a few tanh layers: central differences at this eps are good to ~1e-4. */
#define GRAD_EPS 5e-3f
#define GRAD_ATOL 1e-3
#define GRAD_RTOL 2e-2
#define GRAD_SAMPLES 50

/* Two routes to the same number (batched vs alone, step vs forward) may sum in another order. */
#define SAME_ATOL 1e-5
#define SAME_RTOL 1e-4

/* n floats (at least one, so a size of 0 is no failure) set to fill; NULL when memory runs out. */
float *alloc_floats(uint64_t n, float fill);

/* 1 when every one of the n values is finite. */
int all_finite(const float *v, uint64_t n);

/* Index of the first pair outside SAME_ATOL + SAME_RTOL * |b|, or -1. */
int64_t first_mismatch(const float *a, const float *b, uint64_t n);

/* A batch with its own storage. Dense inputs are normal * scale; padding tokens are -1. */
typedef struct owned_batch {
    rh_batch b;
    uint32_t *lengths;
    float *x;
    int32_t *tokens;
} owned_batch;

/* lengths may be NULL for "all T". 0, or -1 when memory runs out (batch_free is still safe). */
int batch_make(owned_batch *ob, const rh_model_info *info, uint32_t T, uint32_t B, const uint32_t *lengths,
               double scale, rh_rng *rng);
void batch_free(owned_batch *ob);

/* Runs forward with a NaN-filled workspace of exactly the size the model asked for. *ws_out keeps the
 * workspace for a following backward (freed by the caller), or is freed here when ws_out is NULL. */
rh_status forward(const host_model *hm, float *y, float *h_T, const float *params, const rh_batch *batch,
                  const float *h_0, float **ws_out);

/* forward, or with masks the dropout extension's forward (host_model_train_forward). */
rh_status forward_masked(const host_model *hm, float *y, float *h_T, const float *params, const rh_batch *batch,
                         const float *h_0, const rh_dropout_masks *masks, float **ws_out);

/* The same batch through models a and b, each over its own parameters (ha and hb may be NULL): RH_OK, or
 * the first failure. */
rh_status forward_both(const host_model *a, const host_model *b, const rh_batch *batch, float *ya, float *ha,
                       float *yb, float *hb);

/* The float counts of a batch of T steps of B sequences through hm: outputs y (T,B,O), states (B,S) and
 * dense inputs x (T,B,D), 0 for token inputs. */
typedef struct sizes {
    uint32_t T, B;
    uint64_t y, s, x;
} sizes;
sizes sizes_of(const host_model *hm, uint32_t T, uint32_t B);

/* A check's model, its batch and the float buffers it asked for, all freed by fixture_end. */
#define FIXTURE_MAX_FLOATS 12
typedef struct fixture {
    host_model hm;
    owned_batch ob;
    float *floats[FIXTURE_MAX_FLOATS];
    unsigned n_floats;
    int out_of_memory; /* a fixture_floats call found no memory (or no room) */
} fixture;

/* Empties f and creates the model of the case, its parameters drawn from draw (rh_rng_next) or, when draw is
 * NULL, as the model made them: 0, or -1 with why in detail (fixture_end is still safe). */
int fixture_begin(fixture *f, const validate_ctx *ctx, const validate_case *vc, rh_rng *draw, char *detail,
                  size_t len);

/* Two fixtures of the same case, for a check that compares two models: a's parameters drawn from draw as
 * fixture_begin does, b's as the model made them. 0, or -1 with why in detail and nothing left to free. */
int fixture_begin_pair(fixture *a, fixture *b, const validate_ctx *ctx, const validate_case *vc, rh_rng *draw,
                       char *detail, size_t len);

/* alloc_floats, kept in f to be freed by fixture_end; NULL, with f->out_of_memory set, when it fails. */
float *fixture_floats(fixture *f, uint64_t n, float fill);

void fixture_end(fixture *f);

/* The checks, by family: each is a check_fn (validate.h), declared through the function type. */
typedef int check_body(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len);
check_body validate_exports, validate_unknown_model, validate_bad_config, validate_create; /* validate_plugin.c */
check_body validate_gradients;                                                             /* validate_gradients.c */
check_body validate_dropout;                                                               /* validate_dropout.c */
check_body validate_step_equals_forward, validate_half_step;                               /* validate_stepping.c */
check_body validate_determinism, validate_finite, validate_batch_shapes;                   /* validate_outputs.c */
check_body validate_weights_roundtrip, validate_hostile_weights;                           /* validate_weights.c */

#endif /* RNNHOST_VALIDATE_FIXTURE_H */
