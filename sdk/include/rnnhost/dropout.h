/* rnnhost SDK: model extension "rnnhost.dropout/1", training with dropout.
 *
 * A model configured with dropout (the cell kit's option "dropout=P", 0 <= P < 1) drops units only while
 * it trains: the vtable's forward, backward and step never drop, so inference, validation and streaming
 * read the whole network and need no rescaling (inverted dropout: a kept unit is scaled by 1/(1-P) in
 * training). A trainer calls this extension's forward and backward in their place. Which units are dropped
 * is a function of the call's seed and of each unit's position alone (layer, step, sequence, unit): the
 * same seed drops the same units, so a training step is reproducible, a resumed run continues bit for bit,
 * and a gradient can be checked against finite differences with the mask held fixed. A model without
 * dropout (P = 0) offers no extension, and the plain forward is then exactly what training runs.
 *
 * Where the units are dropped is the model's choice, documented by its plugin; the cell kit drops each
 * layer's output: the input of every layer above the first and the top layer's output before the output
 * projection (as char-rnn and PyTorch's stacked RNNs), a new mask at every step; and with its option
 * "recurrent_dropout=P" the state h<t-1> in each recurrent product, one mask per sequence for all its
 * steps (variational dropout). */
#ifndef RNNHOST_DROPOUT_H
#define RNNHOST_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RH_EXT_DROPOUT "rnnhost.dropout/1"

/* What picks the masks of one training call. */
typedef struct rh_dropout_masks {
    uint64_t seed;  /* draw a new one for every step, from the trainer's seeded generator */
    uint32_t first; /* the index of the batch's sequence 0 in the whole batch when the call trains a share
                       of it (several processes); 0 otherwise. A sequence's masks follow from the seed and
                       its index in the whole batch, so the shares drop what the whole batch would. */
} rh_dropout_masks;

typedef struct rh_ext_dropout {
    uint32_t struct_size; /* sizeof(rh_ext_dropout) as the plugin compiled it */

    /* forward (model.h), dropping units as masks says. The same workspace size. */
    rh_status (*forward)(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                         const rh_batch *batch, const float *h_0, const rh_dropout_masks *masks);

    /* backward (model.h) of the directly preceding forward of this extension, with the same masks. */
    rh_status (*backward)(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                          const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                          const float *dh_T, const rh_dropout_masks *masks);
} rh_ext_dropout;

/* The model's dropout extension when it offers a usable one (its vtable reaches get_extension, the struct
 * reaches backward, no function is NULL), else NULL: the model trains without dropout. */
static inline const rh_ext_dropout *rh_dropout_of(const rh_model *model)
{
    const rh_model_vtable *vt = model != NULL ? model->vtable : NULL;
    if (vt == NULL || !RH_VTABLE_HAS(vt, get_extension))
        return NULL;
    const rh_ext_dropout *dx = (const rh_ext_dropout *)vt->get_extension(model, RH_EXT_DROPOUT);
    if (dx == NULL || dx->struct_size < offsetof(rh_ext_dropout, backward) + sizeof dx->backward ||
        dx->forward == NULL || dx->backward == NULL)
        return NULL;
    return dx;
}

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_DROPOUT_H */
