/* The GRU remembers: a symbol from {0..7} at t = 0, then T-1 = 59 random distractor tokens (8 or 9), and
 * the target at the last step is the first symbol. Only the last step's softmax cross-entropy counts.
 * Trained with the SDK's Adam from a fixed seed; passes when the loss on a fresh batch is below
 * LOSS_BOUND nats (chance is ln 8 = 2.08) within MAX_ITERS updates.
 * Usage: test_learns GRU.so [RNN.so]  (the second module, if given, is trained the same way and its result
 * printed for comparison, without an assertion) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { T = 60, B = 32, V = 10, SYMBOLS = 8, H = 24, MAX_ITERS = 1500, EVAL_B = 256 };
#define LOSS_BOUND 0.1
#define LR 1e-2f
#define CLIP_NORM 5.0
#define UPDATE_BIAS -3.0f

static void make_batch(int32_t *tokens, int32_t *targets, uint32_t nb, rh_rng *rng)
{
    for (uint32_t b = 0; b < nb; b++) {
        tokens[b] = (int32_t)rh_rng_below(rng, SYMBOLS);
        targets[b] = tokens[b];
        for (uint32_t t = 1; t < T; t++)
            tokens[(size_t)t * nb + b] = SYMBOLS + (int32_t)rh_rng_below(rng, V - SYMBOLS);
    }
}

/* Mean last-step loss and accuracy of the model on a fresh batch. */
static double evaluate(const rh_model *m, const float *params, float *ws, float *y, rh_rng *rng, double *acc)
{
    int32_t *tokens = xcalloc((uint64_t)T * EVAL_B, sizeof(int32_t)), targets[EVAL_B];
    make_batch(tokens, targets, EVAL_B, rng);
    rh_batch batch = {T, EVAL_B, NULL, NULL, tokens};
    if (m->vtable->forward(m, y, NULL, ws, params, &batch, NULL) != RH_OK) {
        free(tokens);
        return INFINITY;
    }
    const float *last = y + (size_t)(T - 1) * EVAL_B * SYMBOLS;
    double loss = rh_softmax_xent(NULL, last, targets, NULL, EVAL_B, SYMBOLS, 1.0f) / EVAL_B;
    int right = 0;
    for (int b = 0; b < EVAL_B; b++) {
        int best = 0;
        for (int o = 1; o < SYMBOLS; o++)
            if (last[b * SYMBOLS + o] > last[b * SYMBOLS + best])
                best = o;
        right += best == targets[b];
    }
    *acc = (double)right / EVAL_B;
    free(tokens);
    return loss;
}

/* Trains from seed; returns the evaluation loss and the number of updates it took to get below the bound
 * (or MAX_ITERS). */
static double train(harness *h, int report_every, int *iters_used, double *acc)
{
    rh_status st;
    rh_model *m = harness_create(h, RH_INPUT_TOKENS, V, H, 1, SYMBOLS, &st);
    if (!check(h, m != NULL, "create failed: %d", st))
        return INFINITY;
    rh_model_info info = harness_info(m);
    rh_tensor *tensors = xcalloc(info.num_tensors, sizeof *tensors);
    for (uint32_t i = 0; i < info.num_tensors; i++)
        m->vtable->get_tensor(m, i, &tensors[i]);
    rh_rng rng;
    rh_rng_seed(&rng, 2024);
    uint64_t P = info.num_params;
    float *params = xcalloc(P, sizeof(float)), *grads = xcalloc(P, sizeof(float));
    float *moments = xcalloc(2 * P, sizeof(float));
    rh_params_init(params, tensors, info.num_tensors, &rng);
    // With zero biases Γu = 0.5 and the gradient from the last step back to t = 0 shrinks like 0.5^59.
    // Biasing the cell to carry its state by default (as LSTMs bias the forget gate) lets it reach t = 0;
    // the GRU packs its gates u, r, c, so b's first H entries are bu. The vanilla RNN has no such gate.
    if (strcmp(harness_model_id(h), "gru") == 0) {
        int32_t bi = rh_tensor_find(tensors, info.num_tensors, "l0.b");
        for (uint32_t j = 0; bi >= 0 && j < H; j++)
            params[tensors[bi].offset + j] = UPDATE_BIAS;
    }
    rh_optimizer opt;
    rh_optimizer_init(&opt, RH_OPT_ADAM, LR, P, moments);

    uint32_t evb = EVAL_B > B ? EVAL_B : B;
    float *ws = xcalloc(m->vtable->workspace_size(m, T, evb), sizeof(float));
    float *y = xcalloc((uint64_t)T * evb * SYMBOLS, sizeof(float));
    float *dy = xcalloc((uint64_t)T * B * SYMBOLS, sizeof(float));
    int32_t *tokens = xcalloc((uint64_t)T * B, sizeof(int32_t)), targets[B];
    rh_rng eval_rng;
    double loss = INFINITY, running = log(SYMBOLS);
    int it = 0;
    printf("  %s: H=%d, B=%d, T=%d, Adam lr %g\n", harness_model_id(h), H, B, T, (double)LR);
    for (; it < MAX_ITERS; it++) {
        make_batch(tokens, targets, B, &rng);
        rh_batch batch = {T, B, NULL, NULL, tokens};
        if (!check(h, m->vtable->forward(m, y, NULL, ws, params, &batch, NULL) == RH_OK, "forward failed"))
            break;
        // dy is zero except at the last step, where the loss lives.
        float *dlast = dy + (size_t)(T - 1) * B * SYMBOLS;
        double l = rh_softmax_xent(dlast, y + (size_t)(T - 1) * B * SYMBOLS, targets, NULL, B, SYMBOLS,
                                   1.0f / B) / B;
        running = 0.9 * running + 0.1 * l;
        memset(grads, 0, P * sizeof(float));
        if (!check(h, m->vtable->backward(m, grads, NULL, NULL, ws, params, &batch, NULL, dy, NULL) == RH_OK,
                   "backward failed"))
            break;
        double norm = rh_clip_global_norm(grads, P, CLIP_NORM);
        if (!check(h, isfinite(norm), "gradient norm not finite at update %d", it))
            break;
        rh_optimizer_step(&opt, params, grads);
        if ((it + 1) % report_every == 0 || running < LOSS_BOUND / 2) {
            rh_rng_seed(&eval_rng, 99);
            loss = evaluate(m, params, ws, y, &eval_rng, acc);
            printf("    update %4d: train loss %.4f, eval loss %.4f, accuracy %.3f\n", it + 1, running, loss, *acc);
            if (loss < LOSS_BOUND) {
                it++;
                break;
            }
        }
    }
    rh_rng_seed(&eval_rng, 99);
    loss = evaluate(m, params, ws, y, &eval_rng, acc);
    *iters_used = it;
    free(tensors), free(params), free(grads), free(moments), free(ws), free(y), free(dy), free(tokens);
    m->vtable->destroy(m);
    return loss;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s GRU.so [RNN.so]\n", argv[0]);
        return 1;
    }
    harness h;
    if (harness_open(&h, argv[1]) != 0)
        return 1;
    int iters;
    double acc = 0.0;
    double loss = train(&h, 25, &iters, &acc);
    printf("  %s: eval loss %.4f nats (bound %.2f, chance %.2f), accuracy %.3f after %d updates\n",
           harness_model_id(&h), loss, LOSS_BOUND, log(SYMBOLS), acc, iters);
    check(&h, loss < LOSS_BOUND, "%s did not learn to remember over %d steps: loss %.4f", harness_model_id(&h), T,
          loss);
    int failures = h.failures;
    harness_close(&h);

    if (argc == 3) {
        harness r;
        if (harness_open(&r, argv[2]) != 0)
            return 1;
        double rl = train(&r, 250, &iters, &acc);
        printf("  for comparison, %s: eval loss %.4f nats, accuracy %.3f after %d updates\n", harness_model_id(&r),
               rl, acc, iters);
        failures += r.failures;
        harness_close(&r);
    }
    printf("%s: %s\n", argv[0], failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
