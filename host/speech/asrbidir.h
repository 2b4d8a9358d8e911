/* A speech model's forward and backward passes over its one or two directions. Logits of a bidirectional
 * model are the sum of the two directions' outputs, each a linear map of its own hidden state: the usual
 * projection of the concatenated states, split in two. The backward direction runs the plugin's model on
 * each sequence reversed within its own length, so padding stays at the end where the plugin expects it. */
#ifndef RNNHOST_ASRBIDIR_H
#define RNNHOST_ASRBIDIR_H

#include <stddef.h>
#include <stdint.h>

#include "asrmodel.h"

/* Per-direction workspace floats for a batch of T steps and B sequences. */
size_t asr_workspace_size(const asr_model *m, uint32_t T, uint32_t B);

/* Scratch floats asr_forward/asr_backward need beyond the workspaces: room for the reversed inputs,
 * outputs and output gradients of the backward direction. */
size_t asr_scratch_size(const asr_model *m, uint32_t T, uint32_t B);

/* logits (T,B,K) from x (T,B,D) with lengths (B) (NULL: all T), parameters params[d] (the models' own
 * when NULL). ws[d] are workspaces of asr_workspace_size; scratch of asr_scratch_size. masks: a training
 * step's dropout masks (rnnhost/dropout.h; the backward direction draws its own from them), or NULL. */
rh_status asr_forward(const asr_model *m, float *logits, float **ws, float *scratch, float *const *params,
                      const float *x, const uint32_t *lengths, uint32_t T, uint32_t B, const rh_dropout_masks *masks);

/* Adds the gradients for dlogits (T,B,K) into grads[d], after asr_forward on the same inputs with the
 * same ws, scratch and masks. */
rh_status asr_backward(const asr_model *m, float **grads, float **ws, float *scratch, float *const *params,
                       const float *x, const uint32_t *lengths, const float *dlogits, uint32_t T, uint32_t B,
                       const rh_dropout_masks *masks);

#endif /* RNNHOST_ASRBIDIR_H */
