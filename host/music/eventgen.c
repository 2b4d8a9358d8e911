#include "eventgen.h"

#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "hostmodel.h"
#include "modelfile.h"
#include "music.h"

struct event_gen {
    host_model hm;
    model_spec spec;
    float *state, *y, *scratch, *draw;
    int have_logits; /* y holds the distribution of the next token */
    rh_rng rng, rng0;
    float temperature;
    uint32_t top_k;
};

int event_gen_open(event_gen **out, plugin_registry *r, const char *model, uint64_t seed, float temperature,
                   uint32_t top_k, char *why, size_t why_len)
{
    char path[4096];
    rh_weights *w = NULL;
    int rc;
    event_gen *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g) {
        host_fmt(why, why_len, "out of memory");
        return EXIT_FAIL;
    }
    if (model_resolve(path, sizeof path, model, why, why_len) != 0) {
        free(g);
        return EXIT_LOAD;
    }
    if ((rc = model_open(&g->hm, &g->spec, &w, r, path, "midi-lm", why, why_len)) != EXIT_OK) {
        free(g);
        return rc;
    }
    rh_weights_close(w);
    const host_model *hm = &g->hm;
    if (hm->info.input_kind != RH_INPUT_TOKENS || hm->info.input_dim != EV_VOCAB || hm->info.output_dim != EV_VOCAB) {
        host_fmt(why, why_len, "%s: not an event model of %d tokens", path, EV_VOCAB);
        event_gen_close(g);
        return EXIT_LOAD;
    }
    host_model_prepare_step(&g->hm);
    g->state = malloc(hm->info.state_size * sizeof(float));
    g->y = malloc(EV_VOCAB * sizeof(float));
    g->draw = malloc(EV_VOCAB * sizeof(float));
    g->scratch = malloc((hm->vt->step_scratch_size(hm->model, 1) + 1) * sizeof(float));
    if (!g->state || !g->y || !g->draw || !g->scratch) {
        host_fmt(why, why_len, "out of memory");
        event_gen_close(g);
        return EXIT_FAIL;
    }
    rh_rng_seed(&g->rng0, seed);
    g->temperature = temperature;
    g->top_k = top_k;
    event_gen_reset(g);
    *out = g;
    return EXIT_OK;
}

void event_gen_reset(event_gen *g)
{
    g->hm.vt->reset(g->hm.model, g->state, 1);
    g->rng = g->rng0;
    g->have_logits = 0;
}

int event_gen_feed(event_gen *g, int32_t token)
{
    if (token < 0 || token >= EV_VOCAB)
        return -1;
    if (host_model_step(&g->hm, g->y, g->state, g->scratch, NULL, &token, 1) != RH_OK)
        return -1;
    g->have_logits = 1;
    return 0;
}

int32_t event_gen_next(event_gen *g)
{
    if (!g->have_logits) {
        /* nothing to condition on yet: a short silence starts every performance */
        if (event_gen_feed(g, EV_TIME_SHIFT + 9) != 0)
            return -1;
    }
    int32_t t = rh_sample_logits(g->y, EV_VOCAB, g->temperature, g->top_k, g->draw, &g->rng);
    if (t < 0 || event_gen_feed(g, t) != 0)
        return -1;
    return t;
}

void event_gen_close(event_gen *g)
{
    if (!g)
        return;
    host_model_destroy(&g->hm);
    free(g->state), free(g->y), free(g->scratch), free(g->draw);
    free(g);
}
