#include "eventgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "interrupt.h"
#include "modelfile.h"
#include "musicdata.h"
#include "musicrange.h"

struct event_gen {
    host_model hm;
    model_spec spec;
    float *state, *y, *scratch, *draw;
    int have_logits; /* y holds the distribution of the next token */
    rh_rng rng, rng0;
    float temperature;
    uint32_t top_k;
    /* What may be said next: what the training data spanned (musicrange.h), and a note held max_ticks
     * (10 ms each; 0: no limit) is ended. The clock and the notes sounding follow every token fed. */
    music_range range;
    int64_t max_ticks, clock, on[128]; /* on: the tick each pitch started at, or -1 */
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
    if ((rc = model_open(&g->hm, &g->spec, &w, r, path, EVENTS_TASK, why, why_len)) != EXIT_OK) {
        free(g);
        return rc;
    }
    g->range = music_range_of(w, "seconds");
    rh_weights_close(w);
    event_gen_set_max_note(g, -1);
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

void event_gen_set_max_note(event_gen *g, double seconds)
{
    if (seconds < 0)
        seconds = g->range.longest;
    g->max_ticks = seconds > 0 ? (int64_t)llround(seconds / EV_STEP_SECONDS) : 0;
    if (seconds > 0 && g->max_ticks < 1)
        g->max_ticks = 1;
}

void event_gen_reset(event_gen *g)
{
    g->hm.vt->reset(g->hm.model, g->state, 1);
    g->rng = g->rng0;
    g->have_logits = 0;
    g->clock = 0;
    for (int p = 0; p < 128; p++)
        g->on[p] = -1;
}

/* The clock and the sounding notes after token. */
static void follow(event_gen *g, int32_t token)
{
    if (token >= EV_TIME_SHIFT && token < EV_VELOCITY)
        g->clock += token - EV_TIME_SHIFT + 1;
    else if (token >= EV_NOTE_ON && token < EV_NOTE_OFF)
        g->on[token - EV_NOTE_ON] = g->clock; /* a note-on of a sounding pitch starts it again */
    else if (token >= EV_NOTE_OFF && token < EV_TIME_SHIFT)
        g->on[token - EV_NOTE_OFF] = -1;
}

int event_gen_feed(event_gen *g, int32_t token)
{
    if (token < 0 || token >= EV_VOCAB)
        return -1;
    if (host_model_step(&g->hm, g->y, g->state, g->scratch, NULL, &token, 1) != RH_OK)
        return -1;
    g->have_logits = 1;
    follow(g, token);
    return 0;
}

/* Keeps the next token to what the model learnt: a note-on outside the training pitches is never drawn,
 * and no time shift carries the longest-sounding note past max_ticks. Returns the note-off that must come
 * first when that note has reached it, else -1 (y masked, to be drawn from). */
static int32_t constrain(event_gen *g)
{
    if (g->range.low <= g->range.high)
        for (int p = 0; p < 128; p++)
            if (p < g->range.low || p > g->range.high)
                g->y[EV_NOTE_ON + p] = -INFINITY;
    if (g->max_ticks == 0)
        return -1;
    int oldest = -1;
    for (int p = 0; p < 128; p++)
        if (g->on[p] >= 0 && (oldest < 0 || g->on[p] < g->on[oldest]))
            oldest = p;
    if (oldest < 0)
        return -1;
    const int64_t left = g->max_ticks - (g->clock - g->on[oldest]);
    if (left < 1)
        return EV_NOTE_OFF + oldest;
    for (int64_t k = left + 1; k <= EV_MAX_SHIFT; k++)
        g->y[EV_TIME_SHIFT + k - 1] = -INFINITY;
    return -1;
}

int32_t event_gen_next(event_gen *g)
{
    if (!g->have_logits) {
        /* nothing to condition on yet: a short silence starts every performance */
        if (event_gen_feed(g, EV_TIME_SHIFT + 9) != 0)
            return -1;
    }
    const int32_t forced = constrain(g);
    int32_t t = forced >= 0 ? forced : rh_sample_logits(g->y, EV_VOCAB, g->temperature, g->top_k, g->draw, &g->rng);
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

/* ---- pieces for generate --------------------------------------------------------------------------------- */

struct music_gen {
    music_gen_kind kind;
    event_gen *events;          /* MUSIC_GEN_EVENTS */
    host_model hm;              /* MUSIC_GEN_FRAMES */
    uint32_t steps_per_quarter;
    float temperature;
    float *state, *x, *y, *scratch;
    music_range range;          /* frames: the training rolls' pitches and longest run (frames) */
    double max_note;            /* frames: seconds as music_gen_set_max_note says (below 0: the range's) */
};

int music_gen_events(music_gen **out, plugin_registry *r, const char *path, float temperature, uint32_t top_k,
                     char *why, size_t why_len)
{
    music_gen *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g) {
        host_fmt(why, why_len, "out of memory");
        return EXIT_FAIL;
    }
    g->kind = MUSIC_GEN_EVENTS;
    const int rc = event_gen_open(&g->events, r, path, 0, temperature, top_k > EV_VOCAB ? EV_VOCAB : top_k, why,
                                  why_len);
    if (rc != EXIT_OK) {
        free(g);
        return rc;
    }
    *out = g;
    return EXIT_OK;
}

int music_gen_frames(music_gen **out, host_model *hm, uint32_t steps_per_quarter, const music_range *range,
                     float temperature, char *why, size_t why_len)
{
    music_gen *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g) {
        host_fmt(why, why_len, "out of memory");
        host_model_destroy(hm);
        return EXIT_FAIL;
    }
    g->kind = MUSIC_GEN_FRAMES;
    g->hm = *hm;
    memset(hm, 0, sizeof *hm);
    g->steps_per_quarter = steps_per_quarter;
    g->temperature = temperature;
    g->range = *range;
    g->max_note = -1;
    host_model_prepare_step(&g->hm);
    g->state = malloc(g->hm.info.state_size * sizeof *g->state);
    g->x = calloc(ROLL_PITCHES, sizeof *g->x);
    g->y = malloc(ROLL_PITCHES * sizeof *g->y);
    g->scratch = malloc((g->hm.vt->step_scratch_size(g->hm.model, 1) + 1) * sizeof *g->scratch);
    if (!g->state || !g->x || !g->y || !g->scratch) {
        host_fmt(why, why_len, "out of memory");
        music_gen_close(g);
        return EXIT_FAIL;
    }
    *out = g;
    return EXIT_OK;
}

void music_gen_set_max_note(music_gen *g, double seconds)
{
    if (g->kind == MUSIC_GEN_EVENTS)
        event_gen_set_max_note(g->events, seconds);
    else
        g->max_note = seconds;
}

/* Event model: primer tokens, then samples until what follows the primer is long enough. */
static int event_piece(note **notes, size_t *n, event_gen *g, uint64_t seed, const gen_piece *p)
{
    int32_t *tokens = NULL, *primer = NULL;
    size_t nt = 0, cap = 0, np = 0;
    double t = 0;
    int rc = -1;
    rh_rng_seed(&g->rng0, seed);
    event_gen_reset(g);
    if (p->n_primer && events_from_notes(&primer, &np, p->primer, p->n_primer) != 0)
        return -1;
    for (size_t i = 0; i < np; i++)
        if (event_gen_feed(g, primer[i]) != 0)
            goto done;
    for (uint64_t step = 0;; step++) {
        if ((p->steps ? step >= p->steps : t >= p->seconds) || host_interrupted)
            break;
        const int32_t tok = event_gen_next(g);
        if (tok < 0)
            goto done;
        if (tok >= EV_TIME_SHIFT && tok < EV_VELOCITY)
            t += (tok - EV_TIME_SHIFT + 1) * EV_STEP_SECONDS;
        if (nt == cap) {
            cap = cap ? 2 * cap : 1024;
            int32_t *grown = realloc(tokens, cap * sizeof *grown);
            if (!grown)
                goto done;
            tokens = grown;
        }
        tokens[nt++] = tok;
    }
    /* the primer and what followed it, as one token stream */
    int32_t *all = malloc((np + nt + 1) * sizeof *all);
    if (!all)
        goto done;
    if (np)
        memcpy(all, primer, np * sizeof *all);
    if (nt)
        memcpy(all + np, tokens, nt * sizeof *all);
    rc = notes_from_events(notes, n, all, np + nt);
    free(all);
done:
    free(tokens);
    free(primer);
    return rc;
}

/* Piano-roll model: each frame's pitches drawn independently from sigmoid(logit / T), then kept to the
 * training rolls: a pitch outside their range stays silent, and one that has sounded for the longest run
 * (or --max-note) is ended. */
static int frame_piece(note **notes, size_t *n, music_gen *g, uint64_t seed, const gen_piece *p)
{
    const host_model *hm = &g->hm;
    const double step = 60.0 / p->qpm / g->steps_per_quarter; /* the grid the model was trained on */
    pianoroll primer = {0}, roll = {0};
    const uint64_t steps = p->steps ? p->steps : (uint64_t)ceil(p->seconds / step);
    /* the longest a note may sound, in frames; 0: no limit */
    const double limit = g->max_note < 0  ? g->range.longest
                         : g->max_note > 0 ? fmax(1, floor(g->max_note / step + 1e-9))
                                           : 0;
    uint64_t run[ROLL_PITCHES] = {0}; /* frames each pitch has sounded up to the frame before */
    int rc = -1;
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    if (p->n_primer && pianoroll_from_notes(&primer, p->primer, p->n_primer, step) != 0)
        goto done;
    roll.T = (uint32_t)(primer.T + steps);
    roll.on = calloc((size_t)roll.T * ROLL_PITCHES + 1, 1);
    if (!roll.on)
        goto done;
    if (primer.T)
        memcpy(roll.on, primer.on, (size_t)primer.T * ROLL_PITCHES);
    hm->vt->reset(hm->model, g->state, 1);
    for (uint32_t t = 0; t < roll.T; t++) {
        if (host_interrupted && t >= primer.T) { /* the frames so far are the piece */
            roll.T = t;
            break;
        }
        roll_step(g->x, NULL, roll.on, t);
        if (host_model_step(hm, g->y, g->state, g->scratch, g->x, NULL, 1) != RH_OK)
            goto done;
        for (uint32_t k = 0; t >= primer.T && k < ROLL_PITCHES; k++) {
            const double prob = g->temperature > 0 ? 1.0 / (1.0 + exp(-g->y[k] / g->temperature)) : (g->y[k] > 0);
            const int pitch = ROLL_LOW + (int)k;
            const int allowed = (g->range.low > g->range.high || (pitch >= g->range.low && pitch <= g->range.high)) &&
                                !(limit > 0 && run[k] >= limit);
            roll.on[(size_t)t * ROLL_PITCHES + k] = (rh_rng_uniform(&rng) < prob) && allowed;
        }
        for (uint32_t k = 0; k < ROLL_PITCHES; k++)
            run[k] = roll.on[(size_t)t * ROLL_PITCHES + k] ? run[k] + 1 : 0;
    }
    rc = notes_from_pianoroll(notes, n, &roll, step);
done:
    free(primer.on), free(roll.on);
    return rc;
}

int music_gen_piece(music_gen *g, uint64_t seed, const gen_piece *p, note **notes, size_t *n)
{
    *notes = NULL, *n = 0;
    return g->kind == MUSIC_GEN_EVENTS ? event_piece(notes, n, g->events, seed, p) : frame_piece(notes, n, g, seed, p);
}

void music_gen_close(music_gen *g)
{
    if (!g)
        return;
    event_gen_close(g->events);
    if (g->hm.model)
        host_model_destroy(&g->hm);
    free(g->state), free(g->x), free(g->y), free(g->scratch);
    free(g);
}
