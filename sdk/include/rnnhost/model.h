/* rnnhost SDK: a model is a vtable over one flat parameter buffer.
 *
 * Ownership in one sentence: the plugin owns the rh_model (create/destroy) and nothing else; the caller
 * owns every buffer (parameters, gradients, inputs, outputs, workspaces, recurrent state) and passes it in.
 * A created model is immutable: every vtable function takes `const rh_model *` (except destroy), keeps no
 * hidden state between calls, and may therefore be called from several threads at once as long as each
 * thread passes its own workspace, outputs and state. Nothing but create_model allocates.
 *
 * Shapes are written as comments, time-major: (T,B,D) means T*B*D floats, index (t*B + b)*D + d.
 */
#ifndef RNNHOST_MODEL_H
#define RNNHOST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a model reads at each time step. A descriptor advertises a bitmask; a config picks exactly one. */
enum {
    RH_INPUT_DENSE = 1u << 0, /* input_dim floats per step */
    RH_INPUT_TOKENS = 1u << 1 /* one int32 id per step in [0, input_dim): a one-hot input done as a lookup */
};

/* How the SDK initialises a tensor (rh_params_init). The plugin says what, the SDK does it, seeded. */
enum {
    RH_INIT_ZERO = 0,
    RH_INIT_UNIFORM = 1, /* uniform in [-init_scale, +init_scale] */
    RH_INIT_NORMAL = 2,  /* normal with mean 0 and standard deviation init_scale */
    RH_INIT_CONSTANT = 3 /* every element equals init_scale */
};

#define RH_MAX_DIMS 4
#define RH_MAX_NAME 64 /* tensor names and ids, including the terminating NUL */

/* What to build. Written by the caller, read by create_model only (the plugin copies what it keeps). */
typedef struct rh_config {
    uint32_t struct_size; /* sizeof(rh_config) as the caller compiled it */
    uint32_t input_kind;  /* exactly one of RH_INPUT_DENSE, RH_INPUT_TOKENS */
    uint32_t input_dim;   /* dense: floats per step; tokens: vocabulary size */
    uint32_t hidden_size; /* units per recurrent layer, >= 1 */
    uint32_t num_layers;  /* stacked recurrent layers, >= 1 */
    uint32_t output_dim;  /* linear output projection width; 0 means no projection: the output is the
                             top layer's hidden state (output_dim reported by get_info is then hidden_size) */
    const char *core;     /* composite models only: the model id of the recurrent core to create through
                             the host (e.g. "gru"); NULL for every other model */
    const char *options;  /* plugin-specific settings as "key=value;key=value", NULL or "" for none.
                             A plugin refuses (RH_ERR_INVALID_ARGUMENT) a key it does not know. */
} rh_config;

/* One named tensor inside the flat parameter buffer. Gradients and optimizer moments use the same layout. */
typedef struct rh_tensor {
    const char *name;            /* unique within the model, [A-Za-z0-9_.]+, shorter than RH_MAX_NAME;
                                    owned by the model, valid until destroy */
    uint32_t ndim;               /* 1 .. RH_MAX_DIMS */
    uint32_t shape[RH_MAX_DIMS]; /* row-major; entries past ndim are 0 */
    uint64_t offset;             /* index of the first float in the parameter buffer */
    uint64_t size;               /* product of the shape; tensors tile [0, num_params) without overlap */
    uint32_t init;               /* RH_INIT_* */
    float init_scale;            /* see RH_INIT_* */
} rh_tensor;

/* Facts about a created model that never change. */
typedef struct rh_model_info {
    uint32_t struct_size; /* set by the caller to sizeof(rh_model_info); the plugin fills at most that much */
    uint32_t input_kind;  /* RH_INPUT_DENSE or RH_INPUT_TOKENS */
    uint32_t input_dim;   /* D, or the vocabulary size */
    uint32_t output_dim;  /* O: floats per step written by forward and step */
    uint32_t state_size;  /* S: floats of recurrent state per sequence, all layers together */
    uint32_t num_tensors; /* entries in the tensor table */
    uint64_t num_params;  /* floats in the flat parameter buffer */
} rh_model_info;

/* A batch of B sequences of up to T steps, time-major. Read-only for the callee.
 * Padding: for t >= lengths[b] the model writes y[t,b,:] = 0, carries the state of sequence b unchanged
 * (so h_T holds the state after lengths[b] steps) and ignores dy[t,b,:] in backward. */
typedef struct rh_batch {
    uint32_t T;              /* steps, may be 0 */
    uint32_t B;              /* sequences, may be 0 */
    const uint32_t *lengths; /* (B) each <= T, or NULL when every sequence has length T */
    const float *x;          /* (T,B,D) dense input; NULL for token models */
    const int32_t *tokens;   /* (T,B) token ids; NULL for dense models. Padding positions are not read. */
} rh_batch;

typedef struct rh_model rh_model;

typedef struct rh_model_vtable {
    uint32_t struct_size; /* sizeof(rh_model_vtable) as the plugin compiled it */

    /* Frees the model. The model pointer is invalid afterwards. Any thread, never concurrently with a
     * call on the same model. */
    void (*destroy)(rh_model *model);

    /* Fills *out (up to out->struct_size bytes). Never fails on a valid model. */
    rh_status (*get_info)(const rh_model *model, rh_model_info *out);

    /* Fills *out with tensor `index` of the tensor table; RH_ERR_INVALID_ARGUMENT past the end. */
    rh_status (*get_tensor)(const rh_model *model, uint32_t index, rh_tensor *out);

    /* Floats of workspace that forward and backward need for a batch of this shape (activations kept for
     * BPTT plus scratch). Monotonic in T and B. */
    uint64_t (*workspace_size)(const rh_model *model, uint32_t T, uint32_t B);

    /* Runs the whole batch. y is (T,B,O), written. h_T is (B,S) or NULL, written with each sequence's
     * final state. workspace holds workspace_size(T,B) floats; forward fills it for backward.
     * params is (num_params). h_0 is (B,S) or NULL for the reset state. */
    rh_status (*forward)(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                         const rh_batch *batch, const float *h_0);

    /* Backpropagation through time for the batch of the directly preceding forward, with the same
     * workspace, params, batch and h_0. grads (num_params) is ADDED into. dx is (T,B,D) or NULL, written
     * (dense models only; zero at padding). dh_0 is (B,S) or NULL, written. dy is (T,B,O), dh_T is (B,S)
     * or NULL for zero. The workspace content is unspecified afterwards. */
    rh_status (*backward)(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                          const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                          const float *dh_T);

    /* Floats of scratch that step needs for B sequences. */
    uint64_t (*step_scratch_size)(const rh_model *model, uint32_t B);

    /* Advances B sequences by one time step: the streaming path, real-time safe (no allocation, locking
     * or I/O). y is (B,O) written, or NULL to skip the output projection. state is (B,S), read and
     * written in place. Exactly one of x (B,D) and tokens (B) is non-NULL, matching the input kind.
     * Running step T times from the reset state equals forward over T steps. */
    rh_status (*step)(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                      const float *x, const int32_t *tokens, uint32_t B);

    /* Writes the initial state of B sequences into state (B,S). Real-time safe. */
    rh_status (*reset)(const rh_model *model, float *state, uint32_t B);

    /* Appended after ABI version 1 was first published: read it only when struct_size reaches past it
     * (RH_VTABLE_HAS). A model extension by versioned string id (e.g. RH_EXT_HALF_STEP, halfstep.h), or
     * NULL when the model has none; the returned struct belongs to the plugin and stays valid while the
     * model lives. May itself be NULL. Any thread. */
    const void *(*get_extension)(const rh_model *model, const char *extension_id);
} rh_model_vtable;

/* The size of the vtable as ABI version 1 first published it, the least a host accepts. */
#define RH_MODEL_VTABLE_V1_SIZE offsetof(rh_model_vtable, get_extension)

/* Whether a vtable, by its struct_size, has the member `member` (appended after the first release). */
#define RH_VTABLE_HAS(vt, member) \
    ((vt)->struct_size >= offsetof(rh_model_vtable, member) + sizeof((vt)->member) && (vt)->member != NULL)

/* Made by the plugin's create_model; the plugin may embed it as the first member of its own struct. */
struct rh_model {
    const rh_model_vtable *vtable; /* never NULL; owned by the plugin, valid while it is loaded */
    void *plugin_data;             /* plugin-private */
};

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_MODEL_H */
