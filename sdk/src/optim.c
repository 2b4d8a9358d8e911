/* Optimizers over the flat parameter buffer. Per-element arithmetic runs in double and is stored as float,
 * so the update matches the formulas in optim.h to float rounding, whatever the magnitudes. */

/* Built with -fno-math-errno and the whole vectoriser (sdk/meson.build says why). */#include <math.h>
#include <string.h>

#include "rnnhost/optim.h"

uint32_t rh_optimizer_slots(uint32_t kind)
{
    switch (kind) {
    case RH_OPT_SGD: return 0;
    case RH_OPT_MOMENTUM: return 1;
    case RH_OPT_RMSPROP: return 1;
    case RH_OPT_ADAM: return 2;
    default: return 0;
    }
}

rh_status rh_optimizer_init(rh_optimizer *opt, uint32_t kind, float lr, uint64_t n, float *state)
{
    if (!opt || kind > RH_OPT_ADAM)
        return RH_ERR_INVALID_ARGUMENT;
    uint32_t slots = rh_optimizer_slots(kind);
    if (slots > 0 && n > 0 && !state)
        return RH_ERR_INVALID_ARGUMENT;
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->lr = lr;
    opt->momentum = 0.9f;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->decay = 0.95f;
    opt->eps = 1e-8f;
    opt->t = 0;
    opt->n = n;
    opt->state = state;
    opt->weight_decay = 0.0f;
    if (slots > 0 && n > 0)
        memset(state, 0, (size_t)slots * (size_t)n * sizeof *state);
    return RH_OK;
}

void rh_optimizer_step(rh_optimizer *opt, float *params, const float *grads)
{
    const uint64_t n = opt->n;
    const double lr = opt->lr;
    opt->t++;
    if (opt->weight_decay != 0) {
        /* decoupled, before the update as in PyTorch's AdamW: the update does not depend on p, so the order
         * only decides the rounding; skipped at 0, so that the default stays the same bits */
        const double wd = lr * opt->weight_decay;
        for (uint64_t i = 0; i < n; i++)
            params[i] = (float)(params[i] - wd * params[i]);
    }
    switch (opt->kind) {
    case RH_OPT_SGD:
        for (uint64_t i = 0; i < n; i++)
            params[i] = (float)(params[i] - lr * grads[i]);
        break;
    case RH_OPT_MOMENTUM: {
        float *v = opt->state;
        const double mu = opt->momentum;
        for (uint64_t i = 0; i < n; i++) {
            v[i] = (float)(mu * v[i] + grads[i]);
            params[i] = (float)(params[i] - lr * v[i]);
        }
        break;
    }
    case RH_OPT_RMSPROP: {
        float *s = opt->state;
        const double d = opt->decay, eps = opt->eps;
        for (uint64_t i = 0; i < n; i++) {
            const double g = grads[i];
            s[i] = (float)(d * s[i] + (1.0 - d) * g * g);
            params[i] = (float)(params[i] - lr * g / (sqrt((double)s[i]) + eps));
        }
        break;
    }
    case RH_OPT_ADAM: {
        float *m = opt->state, *v = opt->state + n;
        const double b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
        const double c1 = 1.0 - pow(b1, (double)opt->t), c2 = 1.0 - pow(b2, (double)opt->t);
        for (uint64_t i = 0; i < n; i++) {
            const double g = grads[i];
            m[i] = (float)(b1 * m[i] + (1.0 - b1) * g);
            v[i] = (float)(b2 * v[i] + (1.0 - b2) * g * g);
            params[i] = (float)(params[i] - lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps));
        }
        break;
    }
    default:
        // rh_optimizer_init refuses unknown kinds; a struct filled by hand with one does nothing.
        break;
    }
}
