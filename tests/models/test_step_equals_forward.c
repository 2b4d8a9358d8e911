/* Invariant 3 for one plugin: step T times from reset == forward over T steps; in a padded batch each
 * sequence's outputs and final state equal running it alone; and forward equals a naive double-precision
 * transcription of the equations in DESIGN.md (so a forward and backward that agree with each other but
 * compute the wrong cell still fail). Usage: test_step_equals_forward MODULE.so */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { T = 7, B = 3 };

static int close_to(float a, double b, double rtol)
{
    return fabs((double)a - b) <= 1e-6 + rtol * fmax(fabs((double)a), fabs(b));
}

typedef struct setup {
    rh_model *m;
    rh_model_info info;
    rh_tensor *tensors;
    float *params;
    float *x;       /* (T,B,D) dense */
    int32_t tokens[T * B];
    uint32_t kind, D, H, L, O;
} setup;

static int make_setup(harness *h, setup *s, uint32_t kind, uint32_t D, uint32_t H, uint32_t L, uint32_t O,
                      uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->kind = kind, s->D = D, s->H = H, s->L = L, s->O = O;
    rh_status st;
    s->m = harness_create(h, kind, D, H, L, O, &st);
    if (!check(h, s->m != NULL, "create failed: %d", st))
        return 0;
    s->info = harness_info(s->m);
    s->tensors = xcalloc(s->info.num_tensors, sizeof *s->tensors);
    for (uint32_t i = 0; i < s->info.num_tensors; i++)
        s->m->vtable->get_tensor(s->m, i, &s->tensors[i]);
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    s->params = xcalloc(s->info.num_params, sizeof(float));
    rh_params_init(s->params, s->tensors, s->info.num_tensors, &rng);
    // The default init has zero biases; random ones make every bias term visible in the comparison.
    for (uint32_t i = 0; i < s->info.num_tensors; i++)
        if (s->tensors[i].init == RH_INIT_ZERO)
            fill_uniform(s->params + s->tensors[i].offset, s->tensors[i].size, 0.5f, &rng);
    s->x = xcalloc((uint64_t)T * B * D, sizeof(float));
    fill_uniform(s->x, (uint64_t)T * B * D, 1.0f, &rng);
    for (int i = 0; i < T * B; i++)
        s->tokens[i] = (int32_t)rh_rng_below(&rng, D);
    return 1;
}

static void free_setup(setup *s)
{
    if (s->m != NULL)
        s->m->vtable->destroy(s->m);
    free(s->tensors);
    free(s->params);
    free(s->x);
}

static rh_batch make_batch(const setup *s, const uint32_t *lengths)
{
    rh_batch batch = {T, B, lengths, NULL, NULL};
    if (s->kind == RH_INPUT_DENSE)
        batch.x = s->x;
    else
        batch.tokens = s->tokens;
    return batch;
}

/* Streaming: reset, then T steps over the whole batch, against an unpadded forward. */
static void check_step(harness *h, setup *s)
{
    const rh_model *m = s->m;
    uint32_t O = s->info.output_dim, S = s->info.state_size;
    float *y = xcalloc((uint64_t)T * B * O, sizeof(float)), *h_T = xcalloc((uint64_t)B * S, sizeof(float));
    float *ws = xcalloc(m->vtable->workspace_size(m, T, B), sizeof(float));
    rh_batch batch = make_batch(s, NULL);
    check(h, m->vtable->forward(m, y, h_T, ws, s->params, &batch, NULL) == RH_OK, "forward failed");

    float *state = xcalloc((uint64_t)B * S, sizeof(float)), *ys = xcalloc((uint64_t)B * O, sizeof(float));
    float *scratch = xcalloc(m->vtable->step_scratch_size(m, B), sizeof(float));
    for (uint64_t i = 0; i < (uint64_t)B * S; i++)
        state[i] = 1234.5f; // reset must overwrite everything
    check(h, m->vtable->reset(m, state, B) == RH_OK, "reset failed");
    int bad = 0;
    for (int t = 0; t < T; t++) {
        const float *x = s->kind == RH_INPUT_DENSE ? s->x + (size_t)t * B * s->D : NULL;
        const int32_t *tok = s->kind == RH_INPUT_TOKENS ? s->tokens + t * B : NULL;
        // Every other step skips the projection (y NULL): the state must advance the same way.
        float *yt = t % 2 ? NULL : ys;
        check(h, m->vtable->step(m, yt, state, scratch, s->params, x, tok, B) == RH_OK, "step failed at t=%d", t);
        for (uint32_t i = 0; yt != NULL && i < B * O; i++)
            bad += !close_to(ys[i], y[(size_t)t * B * O + i], 1e-5);
    }
    for (uint32_t i = 0; i < B * S; i++)
        bad += !close_to(state[i], h_T[i], 1e-5);
    check(h, bad == 0, "%u values of step differ from forward", bad);
    free(y), free(h_T), free(ws), free(state), free(ys), free(scratch);
}

/* A padded batch: each sequence as if run alone for lengths[b] steps. */
static void check_padding(harness *h, setup *s)
{
    const rh_model *m = s->m;
    const uint32_t lengths[B] = {T, 4, 1};
    uint32_t O = s->info.output_dim, S = s->info.state_size, D = s->D;
    float *y = xcalloc((uint64_t)T * B * O, sizeof(float)), *h_T = xcalloc((uint64_t)B * S, sizeof(float));
    float *ws = xcalloc(m->vtable->workspace_size(m, T, B), sizeof(float));
    for (uint64_t i = 0; i < (uint64_t)T * B * O; i++)
        y[i] = 99.0f; // padding must be written as zeros
    rh_batch batch = make_batch(s, lengths);
    check(h, m->vtable->forward(m, y, h_T, ws, s->params, &batch, NULL) == RH_OK, "padded forward failed");

    float *y1 = xcalloc((uint64_t)T * O, sizeof(float)), *h1 = xcalloc(S, sizeof(float));
    float *x1 = xcalloc((uint64_t)T * D, sizeof(float));
    int32_t tok1[T];
    int bad = 0;
    for (uint32_t b = 0; b < B; b++) {
        for (uint32_t t = 0; t < lengths[b]; t++) {
            memcpy(x1 + (size_t)t * D, s->x + ((size_t)t * B + b) * D, D * sizeof(float));
            tok1[t] = s->tokens[t * B + b];
        }
        rh_batch one = {lengths[b], 1, NULL, s->kind == RH_INPUT_DENSE ? x1 : NULL,
                        s->kind == RH_INPUT_TOKENS ? tok1 : NULL};
        check(h, m->vtable->forward(m, y1, h1, ws, s->params, &one, NULL) == RH_OK, "lone forward failed");
        for (uint32_t t = 0; t < T; t++)
            for (uint32_t o = 0; o < O; o++) {
                float got = y[((size_t)t * B + b) * O + o];
                bad += t < lengths[b] ? !close_to(got, y1[(size_t)t * O + o], 1e-5) : got != 0.0f;
            }
        for (uint32_t i = 0; i < S; i++)
            bad += !close_to(h_T[(size_t)b * S + i], h1[i], 1e-5);
    }
    check(h, bad == 0, "%d values of the padded batch differ from lone runs", bad);
    free(y), free(h_T), free(ws), free(y1), free(h1), free(x1);
}

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

static const float *param(const setup *s, const char *name)
{
    int32_t i = rh_tensor_find(s->tensors, s->info.num_tensors, name);
    return i < 0 ? NULL : s->params + s->tensors[i].offset;
}

enum cell { CELL_RNN, CELL_GRU, CELL_LSTM };

/* Layer l's bias of pre-activation row j (of G*H): one tensor lN.b, or for the LSTM one per gate, lN.b_i,
 * lN.b_f, lN.b_g, lN.b_o. */
static double bias_at(const setup *s, enum cell cell, uint32_t l, uint32_t j)
{
    char name[32];
    if (cell != CELL_LSTM) {
        snprintf(name, sizeof name, "l%u.b", l);
        return param(s, name)[j];
    }
    snprintf(name, sizeof name, "l%u.b_%c", l, "ifgo"[j / s->H]);
    return param(s, name)[j % s->H];
}

/* The equations of DESIGN.md (the RNN and the GRU) and of the LSTM (plugins/lstm/lstm.c), one sequence at a
 * time, in double, written without reference to the plugin's packing beyond the documented gate orders
 * u, r, c and i, f, g, o. */
static void check_reference(harness *h, setup *s, enum cell cell)
{
    const rh_model *m = s->m;
    int gru = cell == CELL_GRU;
    uint32_t H = s->H, L = s->L, D = s->D, O = s->info.output_dim, G = gru ? 3 : cell == CELL_LSTM ? 4 : 1;
    float *y = xcalloc((uint64_t)T * B * O, sizeof(float));
    float *ws = xcalloc(m->vtable->workspace_size(m, T, B), sizeof(float));
    rh_batch batch = make_batch(s, NULL);
    check(h, m->vtable->forward(m, y, NULL, ws, s->params, &batch, NULL) == RH_OK, "forward failed");
    double *a = xcalloc((uint64_t)L * H, sizeof(double)), *pre = xcalloc((uint64_t)G * H, sizeof(double));
    double *rc = xcalloc(H, sizeof(double)), *next = xcalloc(H, sizeof(double));
    double *gu = xcalloc(H, sizeof(double)), *gr = xcalloc(H, sizeof(double));
    double *cell_state = xcalloc((uint64_t)L * H, sizeof(double)); // the LSTM's c of every layer
    int bad = 0;
    char name[32];
    for (uint32_t b = 0; b < B; b++) {
        memset(a, 0, (size_t)L * H * sizeof(double));
        memset(cell_state, 0, (size_t)L * H * sizeof(double));
        for (uint32_t t = 0; t < T; t++) {
            for (uint32_t l = 0; l < L; l++) {
                snprintf(name, sizeof name, "l%u.W_h", l);
                const float *Wh = param(s, name);
                double *c = a + (size_t)l * H;
                // x-part of every gate pre-activation, plus bias
                for (uint32_t j = 0; j < G * H; j++) {
                    double v = bias_at(s, cell, l, j);
                    if (l == 0 && s->kind == RH_INPUT_TOKENS) {
                        v += param(s, "l0.embed")[(size_t)s->tokens[t * B + b] * G * H + j];
                    } else {
                        snprintf(name, sizeof name, "l%u.W_x", l);
                        const float *Wx = param(s, name);
                        uint32_t K = l == 0 ? D : H;
                        for (uint32_t k = 0; k < K; k++)
                            v += (double)Wx[(size_t)j * K + k] *
                                 (l == 0 ? s->x[((size_t)t * B + b) * D + k] : a[(size_t)(l - 1) * H + k]);
                    }
                    pre[j] = v;
                }
                if (cell == CELL_LSTM) {
                    // i, f, g, o; c<t> = f c<t-1> + i g; h<t> = o tanh(c<t>)
                    double *cs = cell_state + (size_t)l * H;
                    for (uint32_t j = 0; j < H; j++) {
                        double z[4];
                        for (uint32_t q = 0; q < 4; q++) {
                            z[q] = pre[q * H + j];
                            for (uint32_t k = 0; k < H; k++)
                                z[q] += (double)Wh[(size_t)(q * H + j) * H + k] * c[k];
                        }
                        double gi = sigmoid(z[0]), gf = sigmoid(z[1]), gg = tanh(z[2]), go = sigmoid(z[3]);
                        cs[j] = gf * cs[j] + gi * gg;
                        next[j] = go * tanh(cs[j]);
                    }
                    memcpy(c, next, H * sizeof(double));
                    continue;
                }
                if (!gru) {
                    for (uint32_t j = 0; j < H; j++) {
                        double v = pre[j];
                        for (uint32_t k = 0; k < H; k++)
                            v += (double)Wh[(size_t)j * H + k] * c[k];
                        next[j] = tanh(v);
                    }
                    memcpy(c, next, H * sizeof(double));
                    continue;
                }
                for (uint32_t j = 0; j < H; j++) {
                    double u = pre[j], r = pre[H + j];
                    for (uint32_t k = 0; k < H; k++) {
                        u += (double)Wh[(size_t)j * H + k] * c[k];
                        r += (double)Wh[(size_t)(H + j) * H + k] * c[k];
                    }
                    gu[j] = sigmoid(u);
                    gr[j] = sigmoid(r);
                }
                for (uint32_t k = 0; k < H; k++)
                    rc[k] = gr[k] * c[k];
                for (uint32_t j = 0; j < H; j++) {
                    double v = pre[2 * H + j];
                    for (uint32_t k = 0; k < H; k++)
                        v += (double)Wh[(size_t)(2 * H + j) * H + k] * rc[k];
                    next[j] = gu[j] * tanh(v) + (1.0 - gu[j]) * c[j];
                }
                memcpy(c, next, H * sizeof(double));
            }
            const double *top = a + (size_t)(L - 1) * H;
            for (uint32_t o = 0; o < O; o++) {
                double v = top[o]; // O == H without a projection
                if (s->O > 0) {
                    v = param(s, "out.b")[o];
                    for (uint32_t k = 0; k < H; k++)
                        v += (double)param(s, "out.W")[(size_t)o * H + k] * top[k];
                }
                bad += !close_to(y[((size_t)t * B + b) * O + o], v, 1e-4);
            }
        }
    }
    check(h, bad == 0, "%d outputs differ from the reference equations", bad);
    free(y), free(ws), free(a), free(pre), free(rc), free(next), free(gu), free(gr), free(cell_state);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
        return 1;
    }
    harness h;
    if (harness_open(&h, argv[1]) != 0)
        return 1;
    const char *id = harness_model_id(&h);
    enum cell cell = strcmp(id, "gru") == 0 ? CELL_GRU : strcmp(id, "lstm") == 0 ? CELL_LSTM : CELL_RNN;
    // The wide ones run the recurrent kernel's full 32-unit panels (and a partial one); the last is large
    // enough that the model spreads its steps over the two threads it is granted.
    struct {
        uint32_t kind, D, H, L, O, threads;
    } cfg[] = {{RH_INPUT_DENSE, 5, 6, 2, 3, 1},   {RH_INPUT_TOKENS, 9, 5, 2, 0, 1}, {RH_INPUT_TOKENS, 4, 7, 3, 4, 1},
               {RH_INPUT_TOKENS, 9, 40, 2, 3, 1}, {RH_INPUT_DENSE, 5, 64, 1, 0, 1}, {RH_INPUT_TOKENS, 9, 210, 2, 5, 2}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        setup s;
        harness_set_threads(cfg[i].threads);
        printf("  %s: %s D=%u H=%u L=%u O=%u, %u thread(s)\n", harness_model_id(&h),
               cfg[i].kind == RH_INPUT_DENSE ? "dense" : "tokens", cfg[i].D, cfg[i].H, cfg[i].L, cfg[i].O,
               cfg[i].threads);
        if (make_setup(&h, &s, cfg[i].kind, cfg[i].D, cfg[i].H, cfg[i].L, cfg[i].O, 77 + i)) {
            check_step(&h, &s);
            check_padding(&h, &s);
            check_reference(&h, &s, cell);
        }
        free_setup(&s);
    }
    harness_close(&h);
    printf("%s: %s\n", argv[0], h.failures ? "FAILED" : "ok");
    return h.failures ? 1 : 0;
}
