/* A created model as the host holds it: the plugin's answers about it fetched once, checked (they are
 * untrusted) and copied, plus the parameter and gradient buffers the host owns. */
#ifndef RNNHOST_HOSTMODEL_H
#define RNNHOST_HOSTMODEL_H

#include <stddef.h>

#include "loader.h"

typedef struct host_model {
    rh_model *model;
    const rh_model_vtable *vt; /* copied so a plugin cannot swap it under us */
    rh_model_info info;
    rh_tensor *tensors;        /* (num_tensors), names point into names */
    char (*names)[RH_MAX_NAME];
    float *params;             /* (num_params) */
    float *grads;              /* (num_params) */
    const rh_ext_half_step *half; /* the model's half-step extension while its copy is in use, else NULL */
    void *half_copy;              /* the copy of params it steps over (halfstep.h) */
    const rh_ext_dropout *dropout; /* the model's dropout extension (dropout.h), or NULL: it has none */
} host_model;

/* Creates model_id from plugin p with config, fetches get_info and the whole tensor table and checks
 * them against the config and with rh_layout_check. On failure returns an error, writes one line into
 * why (including the plugin's own log line when it gave one) and leaves hm empty. */
rh_status host_model_create(host_model *hm, host_plugin *p, const char *model_id, const rh_config *config,
                            char *why, size_t why_len);

/* Initialises params from the tensor table's init kinds, seeded. */
void host_model_init_params(host_model *hm, uint64_t seed);

/* For sampling and generation, once params are final: when the model offers the half-step extension and
 * every weight it would copy is a half (as in files exported with --dtype f16), makes the copy and keeps
 * it if a short trial finds stepping over it faster here (on models whose weights fit in the caches it
 * need not be). Either way host_model_step gives the same bits at batch 1, so this changes speed only.
 * Returns 1 when the copy is in use, 0 when steps read params. Not for the real-time path. */
int host_model_prepare_step(host_model *hm);

/* The model's step over params, or over the half-step copy when host_model_prepare_step kept one. */
rh_status host_model_step(const host_model *hm, float *y, float *state, float *scratch, const float *x,
                          const int32_t *tokens, uint32_t B);

/* A training step's forward and backward over params: with the model's dropout extension and the masks of
 * masks when it has one (masks NULL: none, as in validation), else the vtable's own. */
rh_status host_model_train_forward(const host_model *hm, const float *params, float *y, float *h_T, float *ws,
                                   const rh_batch *batch, const float *h_0, const rh_dropout_masks *masks);
rh_status host_model_train_backward(const host_model *hm, const float *params, float *grads, float *dx, float *dh_0,
                                    float *ws, const rh_batch *batch, const float *h_0, const float *dy,
                                    const float *dh_T, const rh_dropout_masks *masks);

void host_model_destroy(host_model *hm);

#endif /* RNNHOST_HOSTMODEL_H */
