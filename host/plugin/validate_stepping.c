/* The checks of streaming: running step T times gives what forward gives over T steps, and the optional
 * half-precision step (halfstep.h) gives step's very bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "validate_fixture.h"

/* ---- step-equals-forward ---------------------------------------------------------------------------- */

int validate_step_equals_forward(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                                 size_t len)
{
    const uint32_t T = 7, B = 3;
    fixture f;
    int64_t bad;
    rh_status st;
    int rc = 1;
    if (fixture_begin(&f, ctx, vc, rng, detail, len) != 0)
        return 1;
    host_model *hm = &f.hm;
    const uint64_t O = hm->info.output_dim, S = hm->info.state_size, D = hm->info.input_dim;
    float *y = fixture_floats(&f, T * B * O, 0), *h_T = fixture_floats(&f, B * S, 0);
    float *ys = fixture_floats(&f, B * O, 0), *state = fixture_floats(&f, B * S, 0);
    float *state2 = fixture_floats(&f, B * S, 0);
    float *scratch = fixture_floats(&f, hm->vt->step_scratch_size(hm->model, B), NAN);
    if (f.out_of_memory || batch_make(&f.ob, &hm->info, T, B, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(hm, y, h_T, hm->params, &f.ob.b, NULL, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
        goto done;
    }
    if ((st = hm->vt->reset(hm->model, state, B)) != RH_OK || (st = hm->vt->reset(hm->model, state2, B)) != RH_OK) {
        host_fmt(detail, len, "reset failed: %s", rh_strerror(st));
        goto done;
    }
    for (uint32_t t = 0; t < T; t++) {
        const float *x = f.ob.x ? f.ob.x + (size_t)t * B * D : NULL;
        const int32_t *tok = f.ob.tokens ? f.ob.tokens + (size_t)t * B : NULL;
        if ((st = hm->vt->step(hm->model, ys, state, scratch, hm->params, x, tok, B)) != RH_OK ||
            (st = hm->vt->step(hm->model, NULL, state2, scratch, hm->params, x, tok, B)) != RH_OK) {
            host_fmt(detail, len, "step %u failed: %s", t, rh_strerror(st));
            goto done;
        }
        if ((bad = first_mismatch(ys, y + (size_t)t * B * O, B * O)) >= 0) {
            host_fmt(detail, len, "step %u: y[%lld] = %.9g but forward gives %.9g", t, (long long)bad, ys[bad],
                     y[(size_t)t * B * O + (size_t)bad]);
            goto done;
        }
        if (memcmp(state, state2, (size_t)(B * S) * sizeof *state) != 0) {
            host_fmt(detail, len, "step %u: the state differs when y is NULL", t);
            goto done;
        }
    }
    if ((bad = first_mismatch(state, h_T, B * S)) >= 0) {
        host_fmt(detail, len, "after %u steps state[%lld] = %.9g but forward's h_T gives %.9g", T, (long long)bad,
                 state[bad], h_T[bad]);
        goto done;
    }
    host_fmt(detail, len, "%u steps of B=%u match forward (y and h_T)", T, B);
    rc = 0;
done:
    fixture_end(&f);
    return rc;
}

/* ---- half-step --------------------------------------------------------------------------------------- */

/* Steps T steps at batch 1 from the reset state over params, or over the half-step copy; y (T,O) and the
 * states (T,S) after each step. */
static rh_status steps_b1(const host_model *hm, const rh_ext_half_step *hx, const void *copy, const float *params,
                          const owned_batch *ob, uint32_t T, float *y, float *states, float *scratch)
{
    uint64_t O = hm->info.output_dim, S = hm->info.state_size, D = hm->info.input_dim;
    rh_status st = hm->vt->reset(hm->model, states, 1);
    for (uint32_t t = 0; t < T && st == RH_OK; t++) {
        float *state = states + (size_t)t * S;
        if (t > 0)
            memcpy(state, state - S, (size_t)S * sizeof *state);
        const float *x = ob->x ? ob->x + (size_t)t * D : NULL;
        const int32_t *tok = ob->tokens ? ob->tokens + t : NULL;
        st = copy ? hx->step(hm->model, y + (size_t)t * O, state, scratch, params, copy, x, tok, 1)
                  : hm->vt->step(hm->model, y + (size_t)t * O, state, scratch, params, x, tok, 1);
    }
    return st;
}

/* The optional half-step extension (halfstep.h), where the model offers it: over parameters that are all
 * halves, stepping over the copy gives the bits step gives at batch 1; over parameters that are not, the
 * copy is either refused or still gives those bits (a copy may never change a result). */
int validate_half_step(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    const uint32_t T = 7;
    fixture f;
    void *copy = NULL; // the half copy, aligned as the extension asks
    rh_status st;
    int rc = 1;
    if (fixture_begin(&f, ctx, vc, NULL, detail, len) != 0)
        return 1;
    host_model *hm = &f.hm;
    const rh_ext_half_step *hx = rh_half_step_of(hm->model);
    if (hx == NULL) {
        // Offered but unusable fails; not offered at all passes, the extension being optional.
        int offered = RH_VTABLE_HAS(hm->vt, get_extension) && hm->vt->get_extension(hm->model, RH_EXT_HALF_STEP);
        host_fmt(detail, len, offered ? "the extension is too small or has NULL functions" : "not offered (optional)");
        rc = offered;
        goto done;
    }
    uint64_t O = hm->info.output_dim, S = hm->info.state_size, bytes = hx->copy_size(hm->model);
    if (bytes == 0 || bytes > hm->info.num_params * sizeof(float)) {
        host_fmt(detail, len, "copy_size %llu for %llu parameters", (unsigned long long)bytes,
                 (unsigned long long)hm->info.num_params);
        goto done;
    }
    float *y = fixture_floats(&f, T * O, 0), *yh = fixture_floats(&f, T * O, 0);
    float *st1 = fixture_floats(&f, T * S, 0), *sth = fixture_floats(&f, T * S, 0);
    float *scratch = fixture_floats(&f, hm->vt->step_scratch_size(hm->model, 1), NAN);
    copy = aligned_alloc(64, (size_t)(bytes + 63) / 64 * 64);
    if (f.out_of_memory || !copy || batch_make(&f.ob, &hm->info, T, 1, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (int halves = 1; halves >= 0; halves--) {
        const char *what = halves ? "half" : "float";
        host_model_init_params(hm, rh_rng_next(rng));
        for (uint64_t i = 0; halves && i < hm->info.num_params; i++)
            hm->params[i] = rh_f16_to_f32(rh_f32_to_f16(hm->params[i]));
        memset(copy, 0xff, (size_t)bytes); // NaN halves: a copy that make_copy did not fill shows
        st = hx->make_copy(hm->model, copy, hm->params);
        if (!halves && st != RH_OK)
            break; // refusing parameters that are no halves is right
        if (st != RH_OK) {
            host_fmt(detail, len, "make_copy over half parameters failed: %s", rh_strerror(st));
            goto done;
        }
        if ((st = steps_b1(hm, hx, NULL, hm->params, &f.ob, T, y, st1, scratch)) != RH_OK ||
            (st = steps_b1(hm, hx, copy, hm->params, &f.ob, T, yh, sth, scratch)) != RH_OK) {
            host_fmt(detail, len, "step failed: %s", rh_strerror(st));
            goto done;
        }
        for (uint64_t i = 0; i < T * O; i++)
            if (memcmp(&y[i], &yh[i], sizeof *y) != 0) {
                host_fmt(detail, len, "%s parameters: step %llu: y[%llu] = %.9g over the copy, %.9g over params",
                         what, (unsigned long long)(i / O), (unsigned long long)(i % O), yh[i], y[i]);
                goto done;
            }
        if (memcmp(st1, sth, (size_t)(T * S) * sizeof *st1) != 0) {
            host_fmt(detail, len, "%s parameters: the state over the copy differs from step's", what);
            goto done;
        }
    }
    host_fmt(detail, len, "%u steps over the half copy give step's bits (y and state), %llu bytes", T,
             (unsigned long long)bytes);
    rc = 0;
done:
    free(copy);
    fixture_end(&f);
    return rc;
}
