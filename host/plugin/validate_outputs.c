/* The checks of what a model computes: the same numbers every time (re-created, repeated, from any reset
 * buffer), finite numbers for inputs that saturate every unit, and a batch of any shape equal to its
 * sequences run alone, with padding left at zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "validate_fixture.h"

/* ---- determinism ------------------------------------------------------------------------------------ */

int validate_determinism(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    fixture fa, fb; /* fa holds the batch and the buffers */
    host_model *a = &fa.hm, *b = &fb.hm;
    rh_status st;
    int rc = 1;
    if (fixture_begin_pair(&fa, &fb, ctx, vc, NULL, detail, len) != 0)
        return 1;
    host_model_init_params(a, 42);
    host_model_init_params(b, 42);
    if (a->info.num_params != b->info.num_params || memcmp(a->params, b->params, (size_t)a->info.num_params * 4) != 0) {
        host_fmt(detail, len, "two models from the same config have different layouts");
        goto done;
    }
    const sizes n = sizes_of(a, 6, 2);
    const uint64_t ny = n.y, ns = n.s;
    float *ya = fixture_floats(&fa, ny, 0), *yb = fixture_floats(&fa, ny, 0);
    float *ha = fixture_floats(&fa, ns, 0), *hb = fixture_floats(&fa, ns, 0);
    float *s0 = fixture_floats(&fa, ns, NAN), *s1 = fixture_floats(&fa, ns, 1e30f);
    if (fa.out_of_memory || batch_make(&fa.ob, &a->info, n.T, n.B, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    /* reset must not depend on what the buffer held before */
    if ((st = a->vt->reset(a->model, s0, n.B)) != RH_OK || (st = b->vt->reset(b->model, s1, n.B)) != RH_OK) {
        host_fmt(detail, len, "reset failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(s0, s1, (size_t)ns * sizeof *s0) != 0) {
        host_fmt(detail, len, "reset gives different states depending on the buffer's previous content");
        goto done;
    }
    if ((st = forward_both(a, b, &fa.ob.b, ya, ha, yb, hb)) != RH_OK) {
        host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(ya, yb, (size_t)ny * 4) != 0 || memcmp(ha, hb, (size_t)ns * 4) != 0) {
        host_fmt(detail, len, "a re-created model gives different outputs for the same params and input");
        goto done;
    }
    if ((st = forward(a, yb, hb, a->params, &fa.ob.b, s0, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward from an explicit reset state failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(ya, yb, (size_t)ny * 4) != 0 || memcmp(ha, hb, (size_t)ns * 4) != 0) {
        host_fmt(detail, len, "forward from h_0 = reset state differs from forward with h_0 NULL");
        goto done;
    }
    for (unsigned run = 2; run <= 4; run++) {
        if ((st = forward(a, yb, hb, a->params, &fa.ob.b, NULL, NULL)) != RH_OK) {
            host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
            goto done;
        }
        if (memcmp(ya, yb, (size_t)ny * 4) != 0 || memcmp(ha, hb, (size_t)ns * 4) != 0) {
            host_fmt(detail, len, "repeating forward on the same model gives different outputs (run %u)", run);
            goto done;
        }
    }
    host_fmt(detail, len, "re-created models, repeated runs and reset agree bit for bit");
    rc = 0;
done:
    fixture_end(&fa);
    fixture_end(&fb);
    return rc;
}

/* ---- finite ---------------------------------------------------------------------------------------- */

int validate_finite(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    fixture f;
    float *ws = NULL; // forward's workspace, kept for backward
    rh_status st;
    int rc = 1;
    if (fixture_begin(&f, ctx, vc, rng, detail, len) != 0)
        return 1;
    host_model *hm = &f.hm;
    const sizes n = sizes_of(hm, 20, 4);
    float *y = fixture_floats(&f, n.y, 0), *h_T = fixture_floats(&f, n.s, 0), *dy = fixture_floats(&f, n.y, 0);
    float *dx = fixture_floats(&f, n.x, 0), *dh_0 = fixture_floats(&f, n.s, 0);
    if (f.out_of_memory || batch_make(&f.ob, &hm->info, n.T, n.B, NULL, 100.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    /* saturate every unit both ways, not only at random */
    for (uint64_t i = 0; i < n.x; i++)
        if (i % 3 == 0)
            f.ob.x[i] = (i / 3) % 2 ? 100.0f : -100.0f;
    for (uint64_t i = 0; i < n.y; i++)
        dy[i] = (float)rh_rng_normal(rng);
    if ((st = forward(hm, y, h_T, hm->params, &f.ob.b, NULL, &ws)) != RH_OK) {
        host_fmt(detail, len, "forward failed on inputs of magnitude 100: %s", rh_strerror(st));
        goto done;
    }
    if (!all_finite(y, n.y) || !all_finite(h_T, n.s)) {
        host_fmt(detail, len, "forward gives non-finite outputs for inputs of magnitude 100");
        goto done;
    }
    if ((st = hm->vt->backward(hm->model, hm->grads, n.x ? dx : NULL, dh_0, ws, hm->params, &f.ob.b, NULL, dy,
                               NULL)) != RH_OK) {
        host_fmt(detail, len, "backward failed: %s", rh_strerror(st));
        goto done;
    }
    if (!all_finite(hm->grads, hm->info.num_params) || !all_finite(dx, n.x) || !all_finite(dh_0, n.s)) {
        host_fmt(detail, len, "backward gives non-finite gradients for inputs of magnitude 100");
        goto done;
    }
    host_fmt(detail, len, "outputs and gradients finite for inputs up to +-100");
    rc = 0;
done:
    free(ws);
    fixture_end(&f);
    return rc;
}

/* ---- batch-shapes ----------------------------------------------------------------------------------- */

/* Runs one sequence of ob alone and compares it with batched outputs y (T,B,O) and h_T (B,S). */
static int compare_alone(const host_model *hm, const owned_batch *ob, uint32_t b, const float *y, const float *h_T,
                         const float *reset1, char *detail, size_t len)
{
    const uint32_t T = ob->b.T, B = ob->b.B, L = ob->b.lengths ? ob->b.lengths[b] : T;
    const uint64_t O = hm->info.output_dim, S = hm->info.state_size, D = hm->info.input_dim;
    float *ya = alloc_floats((uint64_t)L * O, NAN), *ha = alloc_floats(S, NAN), *xa = NULL;
    int32_t *ta = NULL;
    rh_batch one;
    uint32_t t;
    int64_t bad;
    rh_status st;
    int rc = -1;
    memset(&one, 0, sizeof one);
    one.T = L, one.B = 1;
    if (ob->x) {
        xa = alloc_floats((uint64_t)L * D, 0);
        for (t = 0; xa && t < L; t++)
            memcpy(xa + t * D, ob->x + ((size_t)t * B + b) * D, (size_t)D * sizeof *xa);
        one.x = xa;
    } else {
        ta = malloc((L ? L : 1) * sizeof *ta);
        for (t = 0; ta && t < L; t++)
            ta[t] = ob->tokens[(size_t)t * B + b];
        one.tokens = ta;
    }
    if (!ya || !ha || (!xa && !ta)) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(hm, ya, ha, hm->params, &one, NULL, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward of sequence %u alone (T=%u) failed: %s", b, L, rh_strerror(st));
        goto done;
    }
    for (t = 0; t < L; t++)
        if ((bad = first_mismatch(y + ((size_t)t * B + b) * O, ya + (size_t)t * O, O)) >= 0) {
            host_fmt(detail, len, "T=%u B=%u: y[t=%u,b=%u,%lld] = %.9g in the batch but %.9g alone", T, B, t, b,
                     (long long)bad, y[((size_t)t * B + b) * O + (size_t)bad], ya[(size_t)t * O + (size_t)bad]);
            goto done;
        }
    if ((bad = first_mismatch(h_T + (size_t)b * S, ha, S)) >= 0) {
        host_fmt(detail, len, "T=%u B=%u: h_T[b=%u,%lld] (length %u) = %.9g in the batch but %.9g alone", T, B, b,
                 (long long)bad, L, h_T[(size_t)b * S + (size_t)bad], ha[bad]);
        goto done;
    }
    if (L == 0 && memcmp(ha, reset1, (size_t)S * sizeof *ha) != 0) {
        host_fmt(detail, len, "T=%u B=%u: a sequence of length 0 does not end in the reset state", T, B);
        goto done;
    }
    rc = 0;
done:
    free(ya), free(ha), free(xa), free(ta);
    return rc;
}

/* 1, with detail saying where, when a row of v (T,B,W) past its sequence's length is not zero. */
static int padding_not_zero(const float *v, const char *name, uint64_t W, uint32_t T, uint32_t B,
                            const uint32_t *lengths, char *detail, size_t len)
{
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t b = 0; b < B; b++)
            for (uint64_t i = 0; t >= lengths[b] && i < W; i++)
                if (v[((size_t)t * B + b) * W + i] != 0.0f) {
                    host_fmt(detail, len, "T=%u B=%u: %s[t=%u,b=%u] is not zero past the length %u", T, B, name, t, b,
                             lengths[b]);
                    return 1;
                }
    return 0;
}

static int one_shape(const host_model *hm, uint32_t T, uint32_t B, const float *reset1, rh_rng *rng, char *detail,
                     size_t len)
{
    const uint64_t O = hm->info.output_dim, D = hm->info.input_dim;
    const sizes n = sizes_of(hm, T, B);
    const uint64_t ny = n.y, ns = n.s, nx = n.x;
    uint32_t *lengths = malloc((B ? B : 1) * sizeof *lengths), b;
    owned_batch ob;
    float *y = alloc_floats(ny, NAN), *h_T = alloc_floats(ns, NAN), *dy = alloc_floats(ny, 0);
    float *dx = alloc_floats(nx, NAN), *dh_0 = alloc_floats(ns, NAN), *ws = NULL;
    uint64_t i;
    rh_status st;
    int rc = -1;
    memset(&ob, 0, sizeof ob);
    if (!lengths || !y || !h_T || !dy || !dx || !dh_0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (b = 0; b < B; b++)
        lengths[b] = rh_rng_below(rng, T + 1);
    if (B > 0)
        lengths[0] = T; /* the longest and the empty sequence are always in the batch */
    if (B > 1)
        lengths[1] = 0;
    if (batch_make(&ob, &hm->info, T, B, lengths, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward(hm, y, h_T, hm->params, &ob.b, NULL, &ws)) != RH_OK) {
        host_fmt(detail, len, "forward with T=%u B=%u failed: %s", T, B, rh_strerror(st));
        goto done;
    }
    if (padding_not_zero(y, "y", O, T, B, lengths, detail, len))
        goto done;
    for (b = 0; b < B; b++)
        if (compare_alone(hm, &ob, b, y, h_T, reset1, detail, len) != 0)
            goto done;
    for (i = 0; i < ny; i++)
        dy[i] = (float)rh_rng_normal(rng);
    if ((st = hm->vt->backward(hm->model, hm->grads, nx ? dx : NULL, dh_0, ws, hm->params, &ob.b, NULL, dy, NULL)) !=
        RH_OK) {
        host_fmt(detail, len, "backward with T=%u B=%u failed: %s", T, B, rh_strerror(st));
        goto done;
    }
    if (nx && padding_not_zero(dx, "dx", D, T, B, lengths, detail, len))
        goto done;
    if (!all_finite(dh_0, ns) || !all_finite(dx, nx)) {
        host_fmt(detail, len, "T=%u B=%u: backward left dx or dh_0 unwritten or non-finite", T, B);
        goto done;
    }
    rc = 0;
done:
    free(lengths), free(y), free(h_T), free(dy), free(dx), free(dh_0), free(ws);
    batch_free(&ob);
    return rc;
}

int validate_batch_shapes(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    static const uint32_t Ts[] = {0, 1, 7, 100}, Bs[] = {0, 1, 3, 33};
    fixture f;
    host_model *hm = &f.hm;
    float *reset1;
    size_t i, j;
    int rc = 1;
    if (fixture_begin(&f, ctx, vc, rng, detail, len) != 0)
        return 1;
    if (!(reset1 = fixture_floats(&f, hm->info.state_size, 0)) || hm->vt->reset(hm->model, reset1, 1) != RH_OK) {
        host_fmt(detail, len, "reset failed");
        goto done;
    }
    for (i = 0; i < sizeof Ts / sizeof Ts[0]; i++)
        for (j = 0; j < sizeof Bs / sizeof Bs[0]; j++)
            if (one_shape(hm, Ts[i], Bs[j], reset1, rng, detail, len) != 0)
                goto done;
    host_fmt(detail, len, "T in {0,1,7,100} x B in {0,1,3,33} with mixed lengths match sequences run alone");
    rc = 0;
done:
    fixture_end(&f);
    return rc;
}
