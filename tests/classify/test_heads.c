/* The classifier's pooling heads (host/tasks/classify.h) against finite differences: last, mean and max,
 * and a tagger's logits at every step, each over one direction and over two (the backward one on reversed
 * time), on a batch of sequences of different lengths, under softmax cross-entropy; and again with
 * dropout in training (its masks held fixed). The plugins' own gradients are checked elsewhere; this
 * checks the pooling, its padding and the sum of the directions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "hostlog.h"
#include "rnnhost/rnnhost.h"

enum { T = 7, B = 3, C = 3, L = 4 };

typedef struct ctx {
    cls_model *m;
    cls_batch *b;
    const rh_dropout_masks *masks;
} ctx;

static double loss(void *vc, const float *v, float *grad)
{
    ctx *c = vc;
    if (cls_forward(c->m, c->b, v, c->masks) != RH_OK)
        return NAN;
    const uint32_t rows = c->m->tagger ? T * B : B;
    const double l = rh_softmax_xent(grad ? c->b->dz : NULL, c->b->z, c->b->targets, NULL, rows, L, 1.0f);
    if (grad && cls_backward(c->m, c->b, grad, v, c->masks) != RH_OK)
        return NAN;
    return l;
}

/* m (its head set: input, pool, directions, channels or words) made with stacks of `layers` GRU layers of 5
 * over its dense rows, parameters drawn from seed, and b a batch of sequences of lengths 7, 4 and 5 with
 * their labels or (a tagger) every element's tag. 0, or 1 after a line. */
static const uint32_t lengths[B] = {7, 4, 5};

static int make(cls_model *m, cls_batch *b, plugin_registry *reg, uint64_t seed, uint32_t layers, rh_rng *rng)
{
    char why[1024];
    const int32_t targets[B] = {1, 3, 0};
    m->tagger = m->pool == CLS_POOL_EACH, m->n_labels = L, m->max_len = T;
    snprintf(m->spec.task, sizeof m->spec.task, "%s", m->tagger ? TAG_TASK : CLS_TASK);
    snprintf(m->spec.model_id, sizeof m->spec.model_id, "gru");
    m->spec.input_kind = RH_INPUT_DENSE, m->spec.input_dim = cls_dense(m), m->spec.hidden_size = 5;
    m->spec.num_layers = layers, m->spec.output_dim = L;
    if (cls_create(m, reg, why, sizeof why) != EXIT_OK || cls_batch_alloc(b, m, T, B) != 0) {
        fprintf(stderr, "FAIL: %s\n", why);
        return 1;
    }
    rh_rng_seed(rng, seed);
    for (uint64_t i = 0; i < m->P; i++)
        m->params[i] = (float)(0.5 * rh_rng_normal(rng));
    b->T = T, b->B = B;
    memcpy(b->lengths, lengths, sizeof lengths);
    memcpy(b->targets, targets, sizeof targets);
    for (uint32_t t = 0; m->tagger && t < T; t++) /* a tag for every element, none past the end */
        for (uint32_t k = 0; k < B; k++)
            b->targets[t * B + k] = t < lengths[k] ? (int32_t)((t + k) % L) : -1;
    return 0;
}

/* The checks of one head. */
static int check(plugin_registry *reg, int pool, int bidirectional, const char *options, const rh_dropout_masks *masks)
{
    cls_model m;
    cls_batch b;
    rh_rng rng;
    memset(&m, 0, sizeof m);
    m.input = CLS_IN_NUMERIC, m.pool = pool, m.bidirectional = bidirectional, m.channels = C;
    snprintf(m.spec.options, sizeof m.spec.options, "%s", options);
    if (make(&m, &b, reg, 11 + (uint64_t)pool, 2, &rng) != 0)
        return 1;
    for (size_t i = 0; i < (size_t)T * B * C; i++)
        b.x[0][i] = (float)rh_rng_normal(&rng);
    cls_batch_reverse(&b, &m);
    ctx c = {&m, &b, masks};
    int fails = 0;
    rh_gradcheck_result res;
    /* max is smooth but for where two steps tie: a smaller step keeps the differences off those kinks */
    const float eps = pool == CLS_POOL_MAX ? 1e-3f : 1e-2f;
    const rh_status st = rh_gradcheck(&res, loss, &c, m.params, m.P, m.grads, 0, m.P, m.P, eps, 1e-3, 2e-2, &rng);
    if (st != RH_OK) {
        fprintf(stderr, "FAIL: pool %s%s%s: %s: %llu of %llu, worst at %llu: analytic %g numeric %g\n",
                cls_pool_names[pool], bidirectional ? " bidirectional" : "", masks ? " dropout" : "", rh_strerror(st),
                (unsigned long long)res.failed, (unsigned long long)res.checked,
                (unsigned long long)res.worst_index, res.analytic, res.numeric);
        fails++;
    }
    /* padding must not matter: change the input past a short sequence's end, the loss stays */
    const double before = loss(&c, m.params, NULL);
    for (size_t t = 4; t < T; t++)
        for (size_t k = 0; k < C; k++)
            b.x[0][(t * B + 1) * C + k] += 3.0f;
    cls_batch_reverse(&b, &m);
    const double after = loss(&c, m.params, NULL);
    if (fabs(before - after) > 1e-9 * fabs(before)) {
        fprintf(stderr, "FAIL: pool %s: the padding of a short sequence changed the loss: %.9g vs %.9g\n",
                cls_pool_names[pool], before, after);
        fails++;
    }
    /* the backward direction must matter: zero it and the loss changes */
    if (bidirectional) {
        memset(m.params + m.np[0], 0, m.np[1] * sizeof(float));
        if (fabs(loss(&c, m.params, NULL) - after) < 1e-6) {
            fprintf(stderr, "FAIL: pool %s: the backward direction does not reach the logits\n", cls_pool_names[pool]);
            fails++;
        }
    }
    if (!fails)
        printf("ok: pool %s%s%s, %llu parameters\n", cls_pool_names[pool], bidirectional ? ", bidirectional" : "",
               masks ? ", dropout" : "", (unsigned long long)m.P);
    cls_batch_free(&b);
    cls_close(&m);
    return fails;
}

/* A words model with a spelling model (classify.h): the word vectors, the character model's two stacks and
 * the word stacks checked together, as a classifier (max) or a tagger, over one direction and two. Words
 * 0-5 (0 the unknown word) and characters 0-4 (0 any other), spellings of 1 to 5 characters. */
static int check_spelled(plugin_registry *reg, int tagger, int bidirectional)
{
    cls_model m;
    cls_batch b;
    rh_rng rng;
    memset(&m, 0, sizeof m);
    m.input = CLS_IN_WORDS, m.pool = tagger ? CLS_POOL_EACH : CLS_POOL_MAX, m.bidirectional = bidirectional;
    m.n_words = 5, m.spelling = 3, m.word_dim = 4;
    m.spell_voc.n = 4;
    m.spell_voc.cp = malloc(4 * sizeof *m.spell_voc.cp);
    for (uint32_t i = 0; i < 4; i++)
        m.spell_voc.cp[i] = 'a' + i;
    if (make(&m, &b, reg, 23 + (uint64_t)tagger, 1, &rng) != 0)
        return 1;
    cls_batch *sp = b.sp;
    sp->B = 0, sp->T = 0;
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t k = 0; k < B; k++) {
            const size_t r = (size_t)t * B + k;
            b.tokens[0][r] = t < lengths[k] ? (int32_t)((t * 3 + k) % 6) : 0;
            if (t < lengths[k])
                b.slot[r] = (int32_t)sp->B++;
        }
    for (uint32_t r = 0; r < sp->B; r++)
        sp->lengths[r] = 1 + r % 5, sp->T = sp->lengths[r] > sp->T ? sp->lengths[r] : sp->T;
    for (uint32_t r = 0; r < sp->B; r++)
        for (uint32_t c = 0; c < sp->T; c++)
            sp->tokens[0][c * sp->B + r] = c < sp->lengths[r] ? (int32_t)((r + c) % 5) : 0;
    cls_batch_reverse(sp, m.spell);
    cls_batch_reverse(&b, &m);
    ctx c = {&m, &b, NULL};
    rh_gradcheck_result res;
    const float eps = tagger ? 1e-2f : 1e-3f;
    int fails = 0;
    const rh_status st = rh_gradcheck(&res, loss, &c, m.params, m.P, m.grads, 0, m.P, m.P, eps, 1e-3, 2e-2, &rng);
    if (st != RH_OK) {
        fprintf(stderr, "FAIL: spelled %s%s: %s: %llu of %llu, worst at %llu: analytic %g numeric %g\n",
                tagger ? "tagger" : "classifier", bidirectional ? " bidirectional" : "", rh_strerror(st),
                (unsigned long long)res.failed, (unsigned long long)res.checked,
                (unsigned long long)res.worst_index, res.analytic, res.numeric);
        fails++;
    }
    /* a word's spelling must reach the logits: change one element's characters and the loss changes */
    const double before = loss(&c, m.params, NULL);
    sp->tokens[0][0] = (sp->tokens[0][0] + 1) % 5;
    cls_batch_reverse(sp, m.spell);
    if (fabs(loss(&c, m.params, NULL) - before) < 1e-7) {
        fprintf(stderr, "FAIL: spelled %s: a word's characters do not reach the loss\n", tagger ? "tagger" : "classifier");
        fails++;
    }
    if (!fails)
        printf("ok: spelled %s%s, %llu parameters\n", tagger ? "tagger" : "classifier",
               bidirectional ? ", bidirectional" : "", (unsigned long long)m.P);
    cls_batch_free(&b);
    cls_close(&m);
    return fails;
}

int main(void)
{
    plugin_registry reg;
    if (registry_init(&reg, TEST_PLUGIN_DIR) != 0)
        return 1;
    const rh_dropout_masks masks = {42, 1};
    int fails = 0;
    for (int pool = CLS_POOL_LAST; pool <= CLS_POOL_EACH; pool++)
        for (int bi = 0; bi < 2; bi++)
            fails += check(&reg, pool, bi, "", NULL);
    fails += check(&reg, CLS_POOL_MEAN, 1, "dropout=0.3", &masks);
    fails += check(&reg, CLS_POOL_EACH, 1, "dropout=0.3", &masks);
    for (int tagger = 0; tagger < 2; tagger++)
        for (int bi = 0; bi < 2; bi++)
            fails += check_spelled(&reg, tagger, bi);
    registry_free(&reg);
    return fails ? 1 : 0;
}
