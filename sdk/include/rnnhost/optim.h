/* rnnhost SDK: optimizers over the flat parameter buffer. The moments live in one caller-owned buffer of
 * rh_optimizer_slots(kind) * n floats with the parameters' layout, so a checkpoint saves them as tensors
 * and `--resume` continues exactly.
 *
 * Weight decay is decoupled from the gradient (AdamW, Loshchilov & Hutter 2019): every step first shrinks
 * each parameter by lr * weight_decay of itself, then takes the optimizer's own update from the gradient
 * alone, so the decay is neither scaled by Adam's or RMSProp's moments nor carried in momentum. It applies
 * to every parameter, biases and embeddings included (as PyTorch's AdamW does by default): the flat buffer
 * has no notion of which is which. With weight_decay 0 (the default) the update is the same bits as without
 * it. */
#ifndef RNNHOST_OPTIM_H
#define RNNHOST_OPTIM_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { RH_OPT_SGD = 0, RH_OPT_MOMENTUM = 1, RH_OPT_RMSPROP = 2, RH_OPT_ADAM = 3 };

typedef struct rh_optimizer {
    uint32_t kind;      /* RH_OPT_* */
    float lr;           /* learning rate */
    float momentum;     /* momentum: velocity decay (default 0.9) */
    float beta1, beta2; /* adam (defaults 0.9, 0.999) */
    float decay;        /* rmsprop: squared-gradient decay (default 0.95, as char-rnn) */
    float eps;          /* rmsprop and adam (default 1e-8) */
    uint64_t t;         /* steps taken; adam's bias correction uses it; save it in checkpoints */
    uint64_t n;         /* parameters */
    float *state;       /* slots * n floats, caller-owned */
    float weight_decay; /* decoupled, every kind (above); 0 (the default) is off */
} rh_optimizer;

/* Moment buffers the kind needs: sgd 0, momentum 1, rmsprop 1, adam 2. 0 for an unknown kind. */
uint32_t rh_optimizer_slots(uint32_t kind);

/* Sets defaults for kind, lr, n and state (slots * n floats, zeroed here), t = 0, weight_decay 0.
 * RH_ERR_INVALID_ARGUMENT for an unknown kind, or a NULL state when slots > 0. */
rh_status rh_optimizer_init(rh_optimizer *opt, uint32_t kind, float lr, uint64_t n, float *state);

/* One update of params (n) from grads (n). t is incremented first; with weight_decay W > 0 each parameter
 * first becomes p -= lr W p (the lr of this step), then every kind updates it from grads:
 * sgd:      p -= lr g
 * momentum: v = momentum v + g;  p -= lr v
 * rmsprop:  s = decay s + (1-decay) g^2;  p -= lr g / (sqrt(s) + eps)
 * adam:     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) */
void rh_optimizer_step(rh_optimizer *opt, float *params, const float *grads);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_OPTIM_H */
