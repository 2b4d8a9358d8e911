#include "ctcdata.h"

#include <math.h>
#include <samplerate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "trainutil.h"

#define MAX_UTTERANCE_SECONDS 60.0

/* ---- data ------------------------------------------------------------------------------------------------ */

void ctc_free_set(uttset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].pcm), free(s->v[i].labels);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Decodes every recording of a manifest and encodes its transcript. Utterances too short for their
 * labels are dropped with a count (a recording cut off, or a transcript of the wrong file). */
int ctc_load_set(uttset *s, const manifest *mf, const char *name, const asr_model *m, int quiet, int lead)
{
    char err[512];
    memset(s, 0, sizeof *s);
    s->v = calloc(mf->n, sizeof *s->v);
    if (!s->v) {
        hostlog_error("out of memory");
        return -1;
    }
    s->hash = TRAIN_HASH_SEED;
    size_t dropped = 0;
    double seconds = 0, shown = train_now();
    for (size_t i = 0; i < mf->n; i++) {
        const manifest_entry *e = &mf->v[i];
        float *x;
        size_t n;
        if (asr_read_file(&x, &n, e->path, m->fe.sample_rate, MAX_UTTERANCE_SECONDS, err, sizeof err) != 0) {
            hostlog_error("%s:%zu: %s", name, e->line, err);
            return -1;
        }
        utt *u = &s->v[s->n];
        size_t L = strlen(e->text) + 1;
        u->labels = malloc(L * sizeof *u->labels);
        u->pcm = malloc((n + 1) * sizeof *u->pcm);
        if (!u->labels || !u->pcm) {
            free(x), free(u->labels), free(u->pcm);
            hostlog_error("out of memory");
            return -1;
        }
        long got = asr_encode(u->labels, L, m, e->text, err, sizeof err);
        if (got < 0) {
            free(x);
            hostlog_error("%s:%zu: %s", name, e->line, err);
            return -1;
        }
        u->L = (uint32_t)got;
        u->need = u->L;
        for (uint32_t k = 1; k < u->L; k++)
            u->need += u->labels[k] == u->labels[k - 1];
        for (size_t k = 0; k < n; k++) {
            float v = x[k] * 32767.0f;
            u->pcm[k] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf(v));
        }
        u->n = n;
        free(x);
        s->hash = train_hash(s->hash, u->pcm, n * sizeof *u->pcm);
        s->hash = train_hash(s->hash, e->text, strlen(e->text) + 1);
        if (asr_steps_for(m, n) < u->need || (u->need == 0 && asr_steps_for(m, n) == 0)) {
            free(u->pcm), free(u->labels);
            memset(u, 0, sizeof *u);
            dropped++;
            continue;
        }
        seconds += (double)n / m->fe.sample_rate;
        s->n++;
        if (!quiet && train_now() - shown > 2.0) {
            hostlog_info("%s: read %zu of %zu recordings", name, i + 1, mf->n);
            shown = train_now();
        }
    }
    if (dropped && lead)
        hostlog_info("%s: %zu recordings too short for their transcripts were left out", name, dropped);
    if (s->n == 0) {
        hostlog_error("%s: no usable utterances", name);
        return -1;
    }
    if (!quiet)
        hostlog_info("%s: %zu utterances, %.2f hours", name, s->n, seconds / 3600.0);
    return 0;
}

/* ---- batches --------------------------------------------------------------------------------------------- */

static const uttset *g_sort_set;

static int by_length(const void *a, const void *b)
{
    const size_t x = g_sort_set->v[*(const uint32_t *)a].n, y = g_sort_set->v[*(const uint32_t *)b].n;
    if (x != y)
        return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

void ctc_shuffle_batches(ctc_trainer *tr)
{
    for (uint32_t i = tr->n_batches; i > 1; i--) {
        uint32_t j = (uint32_t)(rh_rng_next(tr->rng) % i);
        uint32_t t = tr->batches[i - 1];
        tr->batches[i - 1] = tr->batches[j];
        tr->batches[j] = t;
    }
}

int ctc_batches(ctc_trainer *tr, uint32_t batch)
{
    tr->order = malloc((tr->train.n + 1) * sizeof *tr->order);
    tr->n_batches = (uint32_t)((tr->train.n + batch - 1) / batch);
    tr->batches = malloc(((size_t)tr->n_batches + 1) * sizeof *tr->batches);
    if (!tr->order || !tr->batches)
        return -1;
    for (uint32_t i = 0; i < tr->train.n; i++)
        tr->order[i] = i;
    g_sort_set = &tr->train;
    qsort(tr->order, tr->train.n, sizeof *tr->order, by_length);
    for (uint32_t k = 0; k < tr->n_batches; k++)
        tr->batches[k] = k * batch;
    ctc_shuffle_batches(tr);
    return 0;
}

/* The waveform of utterance u as the model will hear it this time: speed, a room, gain and noise drawn from its
 * own generator, tr->aug (none for validation). Returns the sample count written into tr->wave. */
static size_t render(ctc_trainer *tr, const utt *u, int augment)
{
    float *w = tr->wave;
    size_t n = u->n;
    for (size_t k = 0; k < n; k++)
        w[k] = u->pcm[k] * (1.0f / 32768.0f);
    if (!augment)
        return n;
    const ctc_opts *o = tr->co;
    if (o->speed > 1.0) {
        const double s = exp((2.0 * rh_rng_uniform(&tr->aug) - 1.0) * log(o->speed)); /* log-uniform in [1/F, F] */
        const size_t out_n = (size_t)((double)n / s);
        if (asr_steps_for(&tr->m, out_n) >= u->need) {
            SRC_DATA d;
            memset(&d, 0, sizeof d);
            d.data_in = w, d.input_frames = (long)n;
            d.data_out = tr->one, d.output_frames = (long)out_n;
            d.src_ratio = 1.0 / s;
            if (src_simple(&d, SRC_SINC_FASTEST, 1) == 0 && (size_t)d.output_frames_gen > 0 &&
                asr_steps_for(&tr->m, (size_t)d.output_frames_gen) >= u->need) {
                n = (size_t)d.output_frames_gen;
                memcpy(w, tr->one, n * sizeof *w);
            }
        }
    }
    if (o->reverb > 0 && rh_rng_uniform(&tr->aug) < o->reverb) {
        /* a room from small and dry to a hall: the draws, then its tail's noise from a seed of its own */
        const room_draw d = {.rt60 = 0.2 + 0.8 * rh_rng_uniform(&tr->aug),
                             .drr_db = -6.0 + 12.0 * rh_rng_uniform(&tr->aug),
                             .predelay = 0.002 + 0.018 * rh_rng_uniform(&tr->aug),
                             .seed = rh_rng_next(&tr->aug)};
        room_apply(tr->room, w, n, &d); /* n is within the buffers the room was made for */
    }
    if (o->gain_db > 0) {
        const float g = (float)pow(10.0, (2.0 * rh_rng_uniform(&tr->aug) - 1.0) * o->gain_db / 20.0);
        for (size_t k = 0; k < n; k++)
            w[k] *= g;
    }
    if (o->noise_snr > 0 && rh_rng_uniform(&tr->aug) < 0.5) {
        double power = 0;
        for (size_t k = 0; k < n; k++)
            power += (double)w[k] * w[k];
        power = power / (double)(n ? n : 1) + 1e-12;
        const double snr = o->noise_snr + 30.0 * rh_rng_uniform(&tr->aug);
        const int pink = rh_rng_uniform(&tr->aug) < 0.5;
        /* pink noise by a leaky integrator over white: most energy low, like rooms and fans */
        const double sd = sqrt(power / pow(10.0, snr / 10.0)) * (pink ? 0.2 : 1.0);
        double state = 0;
        for (size_t k = 0; k < n; k++) {
            double z = rh_rng_normal(&tr->aug) * sd;
            if (pink)
                z = state = 0.98 * state + z;
            w[k] += (float)z;
        }
    }
    return n;
}

/* SpecAugment-style masking of features x (steps, stack * n_mels): bands of mel channels in every
 * stacked frame, and spans of steps, set to 0, the per-utterance mean after normalisation. */
static void mask_features(ctc_trainer *tr, float *x, size_t steps)
{
    const uint32_t M = (uint32_t)tr->m.fe.n_mels, S = tr->m.stack, D = M * S;
    for (uint32_t k = 0; k < tr->co->masks; k++) {
        const uint32_t w = (uint32_t)(rh_rng_next(&tr->aug) % (M / 5 + 1));
        const uint32_t f0 = (uint32_t)(rh_rng_next(&tr->aug) % (M - w + 1));
        for (size_t t = 0; t < steps; t++)
            for (uint32_t s = 0; s < S; s++)
                memset(x + t * D + s * M + f0, 0, w * sizeof *x);
        const size_t span = (size_t)(rh_rng_next(&tr->aug) % (steps / 10 + 1));
        const size_t t0 = (size_t)(rh_rng_next(&tr->aug) % (steps - span + 1));
        memset(x + t0 * D, 0, span * D * sizeof *x);
    }
}

/* The training set's mel statistics for --norm-prior: mean and variance per channel of the level-free
 * features (spec_norm_prior) of every training recording, without augmentation. */
int ctc_norm_stats(ctc_trainer *tr, uint32_t prior, int quiet)
{
    const size_t M = (size_t)tr->m.fe.n_mels;
    double *sum = calloc(2 * M, sizeof *sum), *sq = sum + M;
    tr->m.norm_mean = malloc(M * sizeof(float));
    tr->m.norm_var = malloc(M * sizeof(float));
    if (!sum || !tr->m.norm_mean || !tr->m.norm_var) {
        free(sum);
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < tr->train.n; i++) {
        const size_t n = render(tr, &tr->train.v[i], 0);
        const size_t frames = asr_mel(tr->mel, tr->sp, &tr->m, tr->wave, n);
        size_t from, to; /* the recording's frames, not the padding's */
        asr_mel_recording(&tr->m, frames, &from, &to);
        const double level = spec_level(tr->mel + from * M, to - from, M);
        for (size_t t = from; t < to; t++)
            for (size_t m = 0; m < M; m++) {
                const double v = tr->mel[t * M + m] - level;
                sum[m] += v, sq[m] += v * v;
            }
        count += to - from;
    }
    for (size_t m = 0; m < M; m++) {
        const double mean = count ? sum[m] / (double)count : 0.0;
        const double var = count ? sq[m] / (double)count - mean * mean : 1.0;
        tr->m.norm_mean[m] = (float)mean;
        tr->m.norm_var[m] = (float)(var > 1e-6 ? var : 1e-6);
    }
    tr->m.norm_prior = prior;
    free(sum);
    if (!quiet)
        hostlog_info("normalisation: the mel statistics of %zu training frames, pooled as %u frames with each "
                     "file's own", count, prior);
    return 0;
}

/* Features and labels of utterances idx[0..B) of set into the batch buffers; returns T. Utterance b's
 * augmentation comes from seeds[b] alone, so it does not depend on which other utterances this process makes
 * (on several ranks, each makes its share of a batch). seeds NULL: none. */
uint32_t ctc_make_batch(ctc_trainer *tr, const uttset *set, const uint32_t *idx, uint32_t B, const uint64_t *seeds)
{
    const int augment = seeds != NULL;
    const uint32_t D = tr->D;
    uint32_t T = 0, off = 0;
    tr->label_offsets[0] = 0;
    for (uint32_t b = 0; b < B; b++) {
        const utt *u = &set->v[idx[b]];
        if (augment)
            rh_rng_seed(&tr->aug, seeds[b]);
        const size_t n = render(tr, u, augment);
        spectrogram *sp = tr->sp;
        /* a failed rebuild keeps the previous factor: one utterance warped as the last, no harm */
        if (augment && tr->sp_warp &&
            spec_set_warp(tr->sp_warp, 1.0 + (2.0 * rh_rng_uniform(&tr->aug) - 1.0) * tr->co->warp) == 0)
            sp = tr->sp_warp;
        const size_t steps = asr_features(tr->one, tr->mel, sp, &tr->m, tr->wave, n);
        tr->lengths[b] = (uint32_t)steps;
        if (augment && tr->co->masks)
            mask_features(tr, tr->one, steps);
        if (steps > T)
            T = (uint32_t)steps;
        /* scatter into time-major rows; the features of b are in tr->one for now */
        for (size_t t = 0; t < steps; t++)
            memcpy(tr->x + ((size_t)t * B + b) * D, tr->one + t * D, D * sizeof(float));
        memcpy(tr->labels + off, u->labels, u->L * sizeof *u->labels);
        off += u->L;
        tr->label_offsets[b + 1] = off;
    }
    for (uint32_t b = 0; b < B; b++) /* zero the padding: the models read it, nothing depends on it */
        for (uint32_t t = tr->lengths[b]; t < T; t++)
            memset(tr->x + ((size_t)t * B + b) * D, 0, D * sizeof(float));
    return T;
}

/* Buffers for the longest utterance (with the fastest speed-up's worth of extra samples). */
int ctc_alloc_buffers(ctc_trainer *tr, uint32_t batch)
{
    size_t max_n = 0;
    uint32_t max_L = 1;
    const uttset *sets[2] = {&tr->train, &tr->val};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            if (sets[s]->v[i].n > max_n)
                max_n = sets[s]->v[i].n;
            if (sets[s]->v[i].L > max_L)
                max_L = sets[s]->v[i].L;
        }
    max_n = (size_t)((double)max_n * tr->co->speed) + 16;
    const uint32_t B = batch;
    tr->D = asr_input_dim(&tr->m), tr->K = tr->m.spec.output_dim;
    tr->Tmax = (uint32_t)asr_steps_for(&tr->m, max_n) + 1;
    const size_t T = tr->Tmax, frames = T * tr->m.stack + tr->m.stack + 2;
    const size_t one = max_n > T * (tr->D > tr->K ? tr->D : tr->K) ? max_n : T * (tr->D > tr->K ? tr->D : tr->K);
    char err[256];
    tr->sp = spec_new(&tr->m.fe, err, sizeof err);
    if (tr->co->warp > 0)
        tr->sp_warp = spec_new(&tr->m.fe, err, sizeof err);
    if (tr->co->reverb > 0)
        tr->room = room_new(max_n, tr->m.fe.sample_rate, 1.05); /* the longest room ctc draws, with its predelay */
    tr->x = malloc(T * B * tr->D * sizeof(float));
    tr->logits = malloc(T * B * tr->K * sizeof(float));
    tr->dlogits = malloc(T * B * tr->K * sizeof(float));
    for (int d = 0; d < asr_dirs(&tr->m); d++)
        tr->ws[d] = malloc(asr_workspace_size(&tr->m, (uint32_t)T, B) * sizeof(float));
    tr->scratch = malloc(asr_scratch_size(&tr->m, (uint32_t)T, B) * sizeof(float));
    tr->mel = malloc(frames * (size_t)tr->m.fe.n_mels * sizeof(float));
    tr->wave = malloc(max_n * sizeof(float));
    tr->one = malloc(one * sizeof(float));
    tr->ctc_scratch = malloc(rh_ctc_scratch_size(max_L, (uint32_t)T, tr->K) * sizeof(double));
    tr->labels = malloc((size_t)max_L * B * sizeof *tr->labels);
    tr->label_offsets = malloc((B + 1) * sizeof *tr->label_offsets);
    tr->lengths = malloc(B * sizeof *tr->lengths);
    tr->seeds = malloc(B * sizeof *tr->seeds);
    int ok = tr->sp && (tr->co->warp == 0 || tr->sp_warp) && (tr->co->reverb == 0 || tr->room) && tr->x && tr->logits && tr->dlogits && tr->ws[0] &&
             (!tr->m.bidirectional || tr->ws[1]) && tr->scratch && tr->mel && tr->wave && tr->one && tr->ctc_scratch && tr->labels && tr->label_offsets &&
             tr->lengths && tr->seeds;
    if (!ok)
        hostlog_error("out of memory for a batch of %u x %zu steps", B, T);
    return ok ? 0 : -1;
}

