/* rnnhost SDK: model extension "rnnhost.half_step/1", stepping over a half-precision copy of the weights.
 *
 * Sampling steps one sequence at a time, and at batch 1 a step reads every weight once for two flops: the
 * speed of memory sets its pace, not arithmetic. A model whose weights are all exactly half-precision
 * numbers (as `rnnhost export --dtype f16` writes them, and the shipped presets are) can step over a copy
 * of its big matrices in IEEE 754 half precision: half the bytes, the same values. Converting a half to a
 * float is exact and the sums stay in float, so this step gives what step gives over the float
 * parameters: the same bits at batch 1 (a plugin that implements the extension promises this, and
 * `rnnhost validate` checks it), and the same up to the order of summation at larger batches.
 *
 * The caller owns the copy, as it owns every buffer: it asks copy_size, allocates that many bytes aligned
 * to 64, has make_copy fill them from the parameters, and makes the copy again whenever the parameters
 * change. A model offers the extension through its vtable's get_extension (model.h). */
#ifndef RNNHOST_HALFSTEP_H
#define RNNHOST_HALFSTEP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RH_EXT_HALF_STEP "rnnhost.half_step/1"

typedef struct rh_ext_half_step {
    uint32_t struct_size; /* sizeof(rh_ext_half_step) as the plugin compiled it */

    /* Bytes of the copy for this model. Any thread. */
    uint64_t (*copy_size)(const rh_model *model);

    /* Writes the copy of params into copy (copy_size bytes, 64-byte aligned). RH_ERR_UNSUPPORTED when a
     * weight the copy would hold is not exactly a half: the copy is then unusable and the caller keeps to
     * step. Reads every weight once, so not for the real-time path. Any thread. */
    rh_status (*make_copy)(const rh_model *model, void *copy, const float *params);

    /* step (model.h), with the weights of copy, made by make_copy from these params, in place of those
     * params. Every other rule of step holds: real-time safe, the same scratch, the same errors. */
    rh_status (*step)(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                      const void *copy, const float *x, const int32_t *tokens, uint32_t B);
} rh_ext_half_step;

/* The model's half-step extension when it offers a usable one (its vtable reaches get_extension, the
 * struct reaches step, no function is NULL), else NULL. What a caller checks before using it, in one place. */
static inline const rh_ext_half_step *rh_half_step_of(const rh_model *model)
{
    const rh_model_vtable *vt = model != NULL ? model->vtable : NULL;
    if (vt == NULL || !RH_VTABLE_HAS(vt, get_extension))
        return NULL;
    const rh_ext_half_step *hx = (const rh_ext_half_step *)vt->get_extension(model, RH_EXT_HALF_STEP);
    if (hx == NULL || hx->struct_size < offsetof(rh_ext_half_step, step) + sizeof hx->step || hx->copy_size == NULL ||
        hx->make_copy == NULL || hx->step == NULL)
        return NULL;
    return hx;
}

/* Writes into *h the IEEE half equal to x and returns 1, or returns 0 when no half equals x (too fine a
 * fraction, too large, too small, not finite). -0 stays -0. For plugins that make the copy. */
static inline int rh_half_from_float_exact(float x, uint16_t *h)
{
    uint32_t f;
    memcpy(&f, &x, sizeof f);
    const uint32_t sign = (f >> 16) & 0x8000u, exp = (f >> 23) & 0xffu, man = f & 0x7fffffu;
    if (exp == 0 && man == 0) {
        *h = (uint16_t)sign;
        return 1;
    }
    const int e = (int)exp - 127; // the power of two of the leading bit
    if (exp == 0 || exp == 0xffu || e > 15 || e < -24)
        return 0; // float subnormals are far below the smallest half; infinities and NaNs are no weights
    if (e >= -14) { // a normal half: 10 bits of fraction
        if (man & 0x1fffu)
            return 0;
        *h = (uint16_t)(sign | ((uint32_t)(e + 15) << 10) | (man >> 13));
        return 1;
    }
    // A subnormal half k * 2^-24: k = (2^23 + man) * 2^(e + 1), exact only when the shift drops zeros.
    const unsigned shift = (unsigned)(-e - 1);
    const uint32_t m = man | 0x800000u;
    if (m & ((1u << shift) - 1))
        return 0;
    *h = (uint16_t)(sign | (m >> shift));
    return 1;
}

/* The float equal to the half h (every half is a float). */
static inline float rh_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu, f;
    if (exp == 0x1fu)
        f = sign | 0x7f800000u | (man << 13);
    else if (exp != 0)
        f = sign | ((exp + 127 - 15) << 23) | (man << 13);
    else if (man == 0)
        f = sign;
    else {
        uint32_t e = 127 - 15 + 1; // a subnormal half: the leading one moves up to the implicit bit
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        f = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    float x;
    memcpy(&x, &f, sizeof x);
    return x;
}

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_HALFSTEP_H */
