/* The parameter layout: a plugin's tensor table is untrusted input, checked here once so that every
 * generic loop (zeroing, clipping, optimizers, checkpoints) can trust offsets and sizes afterwards. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnhost/params.h"

static rh_status fail(rh_status status, char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return status;
}

static int name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

// Index arrays sorted through a file-scope pointer would be hidden global state; sort entries instead.
typedef struct {
    const rh_tensor *t;
    uint32_t index;
} entry;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->t->name, ((const entry *)b)->t->name);
}

static int by_offset(const void *a, const void *b)
{
    const rh_tensor *x = ((const entry *)a)->t, *y = ((const entry *)b)->t;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

rh_status rh_layout_check(const rh_tensor *tensors, uint32_t num_tensors, uint64_t num_params, char *why,
                          size_t why_len)
{
    if (why && why_len > 0)
        why[0] = '\0';
    if (num_tensors > 0 && !tensors)
        return fail(RH_ERR_INVALID_ARGUMENT, why, why_len, "tensor table is NULL");

    // Per-tensor checks first, so that the messages below can print names safely.
    for (uint32_t i = 0; i < num_tensors; i++) {
        const rh_tensor *t = &tensors[i];
        if (!t->name)
            return fail(RH_ERR_FORMAT, why, why_len, "tensor %u has no name", i);
        size_t len = 0;
        for (; len < RH_MAX_NAME && t->name[len]; len++)
            if (!name_char_ok(t->name[len]))
                return fail(RH_ERR_FORMAT, why, why_len,
                            "tensor %u: name has a character outside [A-Za-z0-9_.] at byte %zu", i, len);
        if (len == 0)
            return fail(RH_ERR_FORMAT, why, why_len, "tensor %u has an empty name", i);
        if (len >= RH_MAX_NAME)
            return fail(RH_ERR_FORMAT, why, why_len, "tensor %u: name is %d bytes or longer (limit %d)", i,
                        RH_MAX_NAME, RH_MAX_NAME - 1);
        if (t->ndim < 1 || t->ndim > RH_MAX_DIMS)
            return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': ndim %u is outside 1..%d", t->name, t->ndim,
                        RH_MAX_DIMS);
        uint64_t product = 1;
        for (uint32_t d = 0; d < RH_MAX_DIMS; d++) {
            if (d >= t->ndim) {
                if (t->shape[d] != 0)
                    return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': shape[%u] past ndim %u is not 0",
                                t->name, d, t->ndim);
                continue;
            }
            if (t->shape[d] == 0)
                return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': dimension %u is 0", t->name, d);
            if (product > UINT64_MAX / t->shape[d])
                return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': shape product overflows 64 bits",
                            t->name);
            product *= t->shape[d];
        }
        if (t->size != product)
            return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': size %llu is not the product of its shape (%llu)",
                        t->name, (unsigned long long)t->size, (unsigned long long)product);
        if (t->offset > num_params || t->size > num_params - t->offset)
            return fail(RH_ERR_SHAPE, why, why_len,
                        "tensor '%s': [%llu, %llu + %llu) lies past the end of %llu parameters", t->name,
                        (unsigned long long)t->offset, (unsigned long long)t->offset,
                        (unsigned long long)t->size, (unsigned long long)num_params);
        if (t->init > RH_INIT_CONSTANT)
            return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': unknown init kind %u", t->name, t->init);
        if (!isfinite(t->init_scale))
            return fail(RH_ERR_SHAPE, why, why_len, "tensor '%s': init_scale is not finite", t->name);
    }

    if (num_tensors == 0)
        return num_params == 0 ? RH_OK
                               : fail(RH_ERR_SHAPE, why, why_len, "no tensors cover %llu parameters",
                                      (unsigned long long)num_params);

    entry *e = malloc((size_t)num_tensors * sizeof *e);
    if (!e)
        return fail(RH_ERR_NO_MEMORY, why, why_len, "out of memory checking %u tensors", num_tensors);
    for (uint32_t i = 0; i < num_tensors; i++) {
        e[i].t = &tensors[i];
        e[i].index = i;
    }
    rh_status st = RH_OK;

    qsort(e, num_tensors, sizeof *e, by_name);
    for (uint32_t i = 1; i < num_tensors; i++)
        if (strcmp(e[i - 1].t->name, e[i].t->name) == 0) {
            st = fail(RH_ERR_FORMAT, why, why_len, "tensors %u and %u are both called '%s'",
                      e[i - 1].index < e[i].index ? e[i - 1].index : e[i].index,
                      e[i - 1].index < e[i].index ? e[i].index : e[i - 1].index, e[i].t->name);
            goto done;
        }

    // Sizes are all >= 1 here, so sorted by offset a tiling starts at 0 and each begins where the last ended.
    qsort(e, num_tensors, sizeof *e, by_offset);
    uint64_t next = 0;
    for (uint32_t i = 0; i < num_tensors; i++) {
        const rh_tensor *t = e[i].t;
        if (t->offset < next) {
            st = fail(RH_ERR_SHAPE, why, why_len, "tensor '%s' at offset %llu overlaps tensor '%s'", t->name,
                      (unsigned long long)t->offset, e[i - 1].t->name);
            goto done;
        }
        if (t->offset > next) {
            st = fail(RH_ERR_SHAPE, why, why_len, "parameters [%llu, %llu) are not covered by any tensor",
                      (unsigned long long)next, (unsigned long long)t->offset);
            goto done;
        }
        next = t->offset + t->size;
    }
    if (next != num_params)
        st = fail(RH_ERR_SHAPE, why, why_len, "parameters [%llu, %llu) are not covered by any tensor",
                  (unsigned long long)next, (unsigned long long)num_params);
done:
    free(e);
    return st;
}

void rh_params_init(float *params, const rh_tensor *tensors, uint32_t num_tensors, rh_rng *rng)
{
    for (uint32_t i = 0; i < num_tensors; i++) {
        const rh_tensor *t = &tensors[i];
        float *p = params + t->offset;
        const double s = t->init_scale;
        for (uint64_t k = 0; k < t->size; k++) {
            switch (t->init) {
            case RH_INIT_UNIFORM: p[k] = (float)((2.0 * rh_rng_uniform(rng) - 1.0) * s); break;
            case RH_INIT_NORMAL: p[k] = (float)(rh_rng_normal(rng) * s); break;
            case RH_INIT_CONSTANT: p[k] = (float)s; break;
            default: p[k] = 0.0f; break;
            }
        }
    }
}

int32_t rh_tensor_find(const rh_tensor *tensors, uint32_t num_tensors, const char *name)
{
    if (!tensors || !name)
        return -1;
    for (uint32_t i = 0; i < num_tensors && i <= INT32_MAX; i++)
        if (tensors[i].name && strcmp(tensors[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}
