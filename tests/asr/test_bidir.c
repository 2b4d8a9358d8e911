/* The speech model's composition, checked against finite differences: a forward and a backward GRU over
 * reversed time (sequences of different lengths in one batch), summed into logits, under the CTC loss.
 * The plugins' own gradients are checked elsewhere; this checks the reversal and the sum, and both again
 * with dropout in training (its masks held fixed), which the two directions draw apart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "hostlog.h"
#include "rnnhost/rnnhost.h"

enum { T = 7, B = 3 };

typedef struct ctx {
    asr_model *m;
    float *x, *logits, *dlogits, *ws[2], *scratch;
    double *ctc;
    uint32_t lengths[B], offsets[B + 1];
    const rh_dropout_masks *masks;
    int32_t labels[8];
    size_t np0;
} ctx;

static double loss(void *vc, const float *v, float *grad)
{
    ctx *c = vc;
    float *p[2] = {(float *)v, (float *)v + c->np0};
    if (asr_forward(c->m, c->logits, c->ws, c->scratch, p, c->x, c->lengths, T, B, c->masks) != RH_OK)
        return NAN;
    const uint32_t K = c->m->spec.output_dim;
    double l = rh_ctc_loss_batch(grad ? c->dlogits : NULL, c->logits, c->labels, c->offsets, c->lengths, T, B, K, 0,
                                 1.0f, c->ctc);
    if (grad) {
        float *g[2] = {grad, grad + c->np0};
        if (asr_backward(c->m, g, c->ws, c->scratch, p, c->x, c->lengths, c->dlogits, T, B, c->masks) != RH_OK)
            return NAN;
    }
    return l;
}

/* The checks on a model made with options; masks for a training step's dropout, or NULL. */
static int check(plugin_registry *reg, const char *options, const rh_dropout_masks *masks)
{
    asr_model m;
    char why[1024];
    memset(&m, 0, sizeof m);
    char *texts[] = {"a b c"};
    if (asr_units_from_texts(&m, texts, 1, 1, why, sizeof why) != 0)
        return 1;
    asr_default_frontend(&m.fe, &m.stack, 8000);
    m.fe.n_mels = 3, m.stack = 2, m.bidirectional = 1;
    snprintf(m.spec.model_id, sizeof m.spec.model_id, "gru");
    m.spec.hidden_size = 4, m.spec.num_layers = 2;
    snprintf(m.spec.options, sizeof m.spec.options, "%s", options);
    if (asr_create(&m, reg, why, sizeof why) != EXIT_OK) {
        fprintf(stderr, "FAIL: %s\n", why);
        return 1;
    }
    ctx c = {.m = &m, .lengths = {7, 4, 5}, .offsets = {0, 3, 4, 6}, .labels = {1, 2, 3, 2, 3, 3}, .masks = masks};
    c.np0 = m.dir[0].info.num_params;
    const size_t n = c.np0 + m.dir[1].info.num_params, D = asr_input_dim(&m), K = m.spec.output_dim;
    float *v = malloc(n * sizeof *v), *g = malloc(n * sizeof *g);
    c.x = malloc(T * B * D * sizeof *c.x);
    c.logits = malloc(T * B * K * sizeof(float));
    c.dlogits = malloc(T * B * K * sizeof(float));
    c.ws[0] = malloc(asr_workspace_size(&m, T, B) * sizeof(float));
    c.ws[1] = malloc(asr_workspace_size(&m, T, B) * sizeof(float));
    c.scratch = malloc(asr_scratch_size(&m, T, B) * sizeof(float));
    c.ctc = malloc(rh_ctc_scratch_size(3, T, (uint32_t)K) * sizeof(double));
    rh_rng rng;
    rh_rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(0.5 * rh_rng_normal(&rng));
    for (size_t i = 0; i < T * B * D; i++)
        c.x[i] = (float)rh_rng_normal(&rng);
    int fails = 0;
    rh_gradcheck_result res;
    /* every parameter of both directions */
    rh_status st = rh_gradcheck(&res, loss, &c, v, n, g, 0, n, n, 1e-2f, 1e-3, 2e-2, &rng);
    if (st != RH_OK) {
        fprintf(stderr, "FAIL: gradient check %s: %llu of %llu, worst at %llu: analytic %g numeric %g\n",
                rh_strerror(st), (unsigned long long)res.failed, (unsigned long long)res.checked,
                (unsigned long long)res.worst_index, res.analytic, res.numeric);
        fails++;
    }
    if (masks) {
        /* the masks matter, and only through the seed: the same seed the same loss, another seed another,
         * and without masks (inference) nothing is dropped */
        const double one = loss(&c, v, NULL), again = loss(&c, v, NULL);
        rh_dropout_masks other = *masks;
        other.seed++;
        c.masks = &other;
        const double two = loss(&c, v, NULL);
        c.masks = NULL;
        const double none = loss(&c, v, NULL);
        c.masks = masks;
        if (one != again || one == two || one == none) {
            fprintf(stderr, "FAIL: dropout: seed %.9g, again %.9g, another seed %.9g, none %.9g\n", one, again, two,
                    none);
            fails++;
        }
    }
    /* padding must not matter: change the input past a sequence's length, the loss stays */
    const double before = loss(&c, v, NULL);
    for (size_t t = 4; t < T; t++)
        for (size_t k = 0; k < D; k++)
            c.x[(t * B + 1) * D + k] += 3.0f;
    const double after = loss(&c, v, NULL);
    if (fabs(before - after) > 1e-9 * fabs(before)) {
        fprintf(stderr, "FAIL: the padding of a short sequence changed the loss: %.9g vs %.9g\n", before, after);
        fails++;
    }
    /* the backward direction must matter: zero it and the loss changes */
    memset(v + c.np0, 0, (n - c.np0) * sizeof *v);
    if (fabs(loss(&c, v, NULL) - after) < 1e-6) {
        fprintf(stderr, "FAIL: the backward direction does not reach the logits\n");
        fails++;
    }
    free(v), free(g), free(c.x), free(c.logits), free(c.dlogits), free(c.ws[0]), free(c.ws[1]), free(c.scratch);
    free(c.ctc);
    asr_close(&m);
    if (!fails)
        printf("ok: %zu parameters checked%s%s\n", n, options[0] ? ", " : "", options);
    return fails;
}

int main(void)
{
    plugin_registry reg;
    if (registry_init(&reg, TEST_PLUGIN_DIR) != 0)
        return 1;
    const rh_dropout_masks masks = {42, 1};
    const int fails = check(&reg, "", NULL) + check(&reg, "dropout=0.3", &masks);
    registry_free(&reg);
    return fails ? 1 : 0;
}
