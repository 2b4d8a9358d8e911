/* The half-step extension (halfstep.h) of one plugin: over parameters that are all halves, stepping over
 * the half-precision copy gives the very bits of step at batch 1 (outputs and state, step after step, on
 * one thread and on two) and the same numbers up to summation order at batch 3, step by step; the copy refuses
 * parameters it cannot hold exactly, and leaves out what a step reads one row of (a token layer's
 * embedding). Usage: test_half_step MODULE.so */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { T = 9, BMAX = 3 };

typedef struct half_case {
    uint32_t kind, D, H, L, O, threads;
} half_case;

/* Random parameters, biases included, rounded to the nearest halves. */
static float *half_params(const rh_model_info *info, rh_rng *rng)
{
    float *p = xcalloc(info->num_params, sizeof(float));
    fill_uniform(p, info->num_params, 0.6f, rng);
    for (uint64_t i = 0; i < info->num_params; i++)
        p[i] = rh_f16_to_f32(rh_f32_to_f16(p[i]));
    return p;
}

/* Runs T steps of B sequences from the reset state, over params or (copy) the copy; y (T,B,O), states
 * (T,B,S). */
static int run_steps(harness *h, rh_model *m, const rh_ext_half_step *hx, const void *copy, const float *params,
                     const rh_model_info *info, const float *x, const int32_t *tokens, uint32_t B, float *y,
                     float *states)
{
    size_t O = info->output_dim, S = info->state_size, D = info->input_dim;
    float *scratch = xcalloc(m->vtable->step_scratch_size(m, B), sizeof(float));
    float *state = xcalloc((uint64_t)B * S, sizeof(float));
    int ok = check(h, m->vtable->reset(m, state, B) == RH_OK, "reset");
    for (uint32_t t = 0; t < T && ok; t++) {
        const float *xt = info->input_kind == RH_INPUT_DENSE ? x + (size_t)t * B * D : NULL;
        const int32_t *tt = info->input_kind == RH_INPUT_TOKENS ? tokens + (size_t)t * B : NULL;
        rh_status st = copy != NULL ? hx->step(m, y + (size_t)t * B * O, state, scratch, params, copy, xt, tt, B)
                                    : m->vtable->step(m, y + (size_t)t * B * O, state, scratch, params, xt, tt, B);
        ok = check(h, st == RH_OK, "step %u (%s) failed: %d", t, copy ? "half" : "float", st);
        memcpy(states + (size_t)t * B * S, state, (size_t)B * S * sizeof(float));
    }
    free(scratch), free(state);
    return ok;
}

static size_t differing(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

/* Float sums in another order (the batched float step's GEMM against the half step's dots), over one step. */
static size_t not_close(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += !(fabs((double)a[i] - b[i]) <= 1e-5 + 1e-5 * fabs((double)b[i]));
    return d;
}

/* At B > 1 the float step sums in another order than the half step, and a tanh RNN with these weights is
 * chaotic: a last-bit difference doubles with every step, so nine steps run apart can differ anywhere on
 * any CPU. What the extension promises is the same numbers up to that order, step by step: so each half
 * step here starts from the float run's state (yf, sf its outputs and states, (T,B,O) and (T,B,S)) and its
 * output and new state must be that step's up to rounding. Returns the values that are not. */
static size_t one_step_apart(harness *h, rh_model *m, const rh_ext_half_step *hx, const void *copy,
                             const float *params, const rh_model_info *info, const float *x, const int32_t *tokens,
                             uint32_t B, const float *yf, const float *sf)
{
    size_t O = info->output_dim, S = info->state_size, D = info->input_dim, apart = 0;
    float *scratch = xcalloc(m->vtable->step_scratch_size(m, B), sizeof(float));
    float *state = xcalloc((uint64_t)B * S, sizeof(float)), *y = xcalloc((uint64_t)B * O, sizeof(float));
    for (uint32_t t = 0; t < T; t++) {
        if (t == 0)
            m->vtable->reset(m, state, B);
        else
            memcpy(state, sf + (size_t)(t - 1) * B * S, (size_t)B * S * sizeof(float));
        const float *xt = info->input_kind == RH_INPUT_DENSE ? x + (size_t)t * B * D : NULL;
        const int32_t *tt = info->input_kind == RH_INPUT_TOKENS ? tokens + (size_t)t * B : NULL;
        if (!check(h, hx->step(m, y, state, scratch, params, copy, xt, tt, B) == RH_OK, "half step %u failed", t))
            break;
        apart += not_close(y, yf + (size_t)t * B * O, (size_t)B * O) +
                 not_close(state, sf + (size_t)t * B * S, (size_t)B * S);
    }
    free(scratch), free(state), free(y);
    return apart;
}

/* Sequence b of a (T,B,W) array as (T,1,W). */
static void column(float *dst, const float *src, uint32_t B, uint32_t b, size_t W)
{
    for (uint32_t t = 0; t < T; t++)
        memcpy(dst + (size_t)t * W, src + ((size_t)t * B + b) * W, W * sizeof(float));
}

static void check_case(harness *h, const half_case *c, uint64_t seed)
{
    char label[96];
    snprintf(label, sizeof label, "%s D=%u H=%u L=%u O=%u threads=%u", c->kind == RH_INPUT_TOKENS ? "tokens" : "dense",
             c->D, c->H, c->L, c->O, c->threads);
    harness_set_threads(c->threads);
    rh_status st;
    rh_model *m = harness_create(h, c->kind, c->D, c->H, c->L, c->O, &st);
    if (!check(h, m != NULL, "%s: create failed: %d", label, st))
        return;
    rh_model_info info = harness_info(m);
    const rh_model_vtable *vt = m->vtable;
    const rh_ext_half_step *hx = rh_half_step_of(m);
    if (!check(h, hx != NULL, "%s: no %s extension", label, RH_EXT_HALF_STEP)) {
        vt->destroy(m);
        return;
    }
    check(h, vt->get_extension(m, "rnnhost.no-such-thing/1") == NULL, "%s: an unknown extension answered", label);

    rh_rng rng;
    rh_rng_seed(&rng, seed);
    float *params = half_params(&info, &rng);
    size_t O = info.output_dim, S = info.state_size, D = info.input_dim;
    float *x = xcalloc((uint64_t)T * BMAX * D, sizeof(float));
    fill_uniform(x, (uint64_t)T * BMAX * D, 1.0f, &rng);
    int32_t tokens[T * BMAX];
    for (int i = 0; i < T * BMAX; i++)
        tokens[i] = (int32_t)rh_rng_below(&rng, D);

    uint64_t bytes = hx->copy_size(m);
    check(h, bytes > 0 && bytes < info.num_params * sizeof(float), "%s: copy of %llu bytes for %llu floats", label,
          (unsigned long long)bytes, (unsigned long long)info.num_params);
    void *copy = aligned_alloc(64, (size_t)(bytes + 63) / 64 * 64);
    if (!check(h, copy != NULL && hx->make_copy(m, copy, params) == RH_OK, "%s: make_copy over halves", label))
        goto done;

    for (uint32_t B = 1; B <= BMAX; B += BMAX - 1) {
        size_t ny = (size_t)T * B * O, ns = (size_t)T * B * S;
        float *yf = xcalloc(ny, sizeof(float)), *yh = xcalloc(ny, sizeof(float));
        float *sf = xcalloc(ns, sizeof(float)), *sh = xcalloc(ns, sizeof(float));
        if (run_steps(h, m, hx, NULL, params, &info, x, tokens, B, yf, sf) &&
            run_steps(h, m, hx, copy, params, &info, x, tokens, B, yh, sh)) {
            if (B == 1) {
                size_t dy = differing(yh, yf, ny), ds = differing(sh, sf, ns);
                check(h, dy == 0 && ds == 0, "%s B=1: half step differs from step in %zu of %zu outputs and %zu of "
                      "%zu state values (must be the same bits)", label, dy, ny, ds, ns);
            } else {
                size_t apart = one_step_apart(h, m, hx, copy, params, &info, x, tokens, B, yf, sf);
                check(h, apart == 0, "%s B=%u: one half step from the float step's state differs from it in %zu "
                      "values, past rounding", label, B, apart);
                // Each sequence of the batch gets the very bits it gets stepped alone.
                float *x1 = xcalloc((uint64_t)T * D, sizeof(float)), *y1 = xcalloc((uint64_t)T * O, sizeof(float));
                float *s1 = xcalloc((uint64_t)T * S, sizeof(float)), *yb = xcalloc((uint64_t)T * O, sizeof(float));
                float *sb = xcalloc((uint64_t)T * S, sizeof(float));
                int32_t tok1[T];
                for (uint32_t b = 0; b < B; b++) {
                    column(x1, x, B, b, D);
                    for (uint32_t t = 0; t < T; t++)
                        tok1[t] = tokens[t * B + b];
                    if (!run_steps(h, m, hx, copy, params, &info, x1, tok1, 1, y1, s1))
                        break;
                    column(yb, yh, B, b, O);
                    column(sb, sh, B, b, S);
                    check(h, differing(y1, yb, (size_t)T * O) == 0 && differing(s1, sb, (size_t)T * S) == 0,
                          "%s: sequence %u of a half step at B=%u differs from the same sequence alone", label, b, B);
                }
                free(x1), free(y1), free(s1), free(yb), free(sb);
            }
        }
        free(yf), free(yh), free(sf), free(sh);
    }

    // A weight the copy holds that is no half: refused. One that the copy leaves out (a token layer's
    // embedding row): accepted, and the step still reads it from params.
    float *bent = xcalloc(info.num_params, sizeof(float));
    for (uint32_t i = 0; i < info.num_tensors; i++) {
        rh_tensor t;
        vt->get_tensor(m, i, &t);
        memcpy(bent, params, info.num_params * sizeof(float));
        bent[t.offset + t.size / 2] += 0x1p-20f;
        int left_out = t.ndim == 1 || (i == 0 && c->kind == RH_INPUT_TOKENS);
        st = hx->make_copy(m, copy, bent);
        if (!left_out) {
            check(h, st == RH_ERR_UNSUPPORTED, "%s: make_copy took %s with a weight that is no half: %d", label, t.name,
                  st);
            memcpy(bent, params, info.num_params * sizeof(float));
            bent[t.offset] = 1e6f; // past the largest half
            check(h, hx->make_copy(m, copy, bent) == RH_ERR_UNSUPPORTED, "%s: make_copy took 1e6 in %s", label, t.name);
            continue;
        }
        if (!check(h, st == RH_OK, "%s: make_copy refused %s, which it leaves out: %d", label, t.name, st))
            continue;
        size_t ny = (size_t)T * O, ns = (size_t)T * S;
        float *yf = xcalloc(ny, sizeof(float)), *yh = xcalloc(ny, sizeof(float));
        float *sf = xcalloc(ns, sizeof(float)), *sh = xcalloc(ns, sizeof(float));
        if (run_steps(h, m, hx, NULL, bent, &info, x, tokens, 1, yf, sf) &&
            run_steps(h, m, hx, copy, bent, &info, x, tokens, 1, yh, sh))
            check(h, differing(yh, yf, ny) == 0 && differing(sh, sf, ns) == 0,
                  "%s: with %s bent, the half step no longer equals step", label, t.name);
        free(yf), free(yh), free(sf), free(sh);
    }
    free(bent);

    float *scratch = xcalloc(vt->step_scratch_size(m, 1), sizeof(float)), *state = xcalloc(S, sizeof(float));
    float *y = xcalloc(O, sizeof(float));
    check(h, hx->step(m, y, state, scratch, params, NULL, c->kind == RH_INPUT_DENSE ? x : NULL,
                      c->kind == RH_INPUT_TOKENS ? tokens : NULL, 1) == RH_ERR_INVALID_ARGUMENT,
          "%s: a half step without a copy", label);
    free(scratch), free(state), free(y);
done:
    free(copy), free(params), free(x);
    vt->destroy(m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
        return 2;
    }
    harness h;
    if (harness_open(&h, argv[1]) != 0)
        return 1;
    // Sizes off the kernels' blocks (rows in fours, 16 or 8 lanes) and on them; dense and token input;
    // with and without an output projection; the last one large enough to be spread over two threads.
    const half_case cases[] = {
        {RH_INPUT_TOKENS, 11, 40, 2, 7, 1},  {RH_INPUT_DENSE, 13, 37, 1, 0, 1}, {RH_INPUT_DENSE, 16, 5, 3, 3, 1},
        {RH_INPUT_TOKENS, 65, 64, 2, 65, 1}, {RH_INPUT_TOKENS, 65, 210, 2, 30, 2},
        {RH_INPUT_DENSE, 50, 256, 1, 9, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_case(&h, &cases[i], 100 + i);
    harness_close(&h);
    if (h.failures)
        fprintf(stderr, "%s: %d check(s) failed\n", argv[0], h.failures);
    else
        printf("%s: half step equals step\n", argv[1]);
    return h.failures ? 1 : 0;
}
