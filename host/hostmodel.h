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
} host_model;

/* Creates model_id from plugin p with config, fetches get_info and the whole tensor table and checks
 * them against the config and with rh_layout_check. On failure returns an error, writes one line into
 * why (including the plugin's own log line when it gave one) and leaves hm empty. */
rh_status host_model_create(host_model *hm, host_plugin *p, const char *model_id, const rh_config *config,
                            char *why, size_t why_len);

/* Initialises params from the tensor table's init kinds, seeded. */
void host_model_init_params(host_model *hm, uint64_t seed);

void host_model_destroy(host_model *hm);

#endif /* RNNHOST_HOSTMODEL_H */
