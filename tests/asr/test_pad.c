/* The front-end's padding (asr_mel, --pad-ms): an utterance is heard between two stretches of the same
 * near-silence, as if the padding were part of the recording, and its own frames are normalised as they
 * were without it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/check.h"
#include "asr.h"
#include "rnnhost/rnnhost.h"

/* Features of n samples by m, into a fresh buffer; *steps gets the count. */
static float *features(const asr_model *m, const float *x, size_t n, size_t *steps)
{
    char err[256];
    spectrogram *sp = spec_new(&m->fe, err, sizeof err);
    const size_t T = asr_steps_for(m, n);
    float *out = calloc(T * asr_input_dim(m) + 1, sizeof *out);
    float *mel = calloc((T + 1) * m->stack * (size_t)m->fe.n_mels + 64, sizeof *mel);
    CHECK(sp && out && mel, "spec_new: %s", err);
    *steps = sp && out && mel ? asr_features(out, mel, sp, m, x, n) : 0;
    CHECK(*steps == T, "%zu steps written, asr_steps_for says %zu", *steps, T);
    spec_free(sp);
    free(mel);
    return out;
}

/* The padding's frames are those of the recording padded by hand. */
static void check_mel_as_padded_by_hand(asr_model *m, const float *x, size_t n)
{
    const size_t P = asr_pad_length(m), M = (size_t)m->fe.n_mels;
    float *y = malloc((n + 2 * P) * sizeof *y);
    for (size_t k = 0; k < P; k++)
        y[k] = y[P + n + k] = asr_pad_sample(k);
    memcpy(y + P, x, n * sizeof *x);
    char err[256];
    spectrogram *sp = spec_new(&m->fe, err, sizeof err);
    const size_t cap = (n + 2 * P) / (size_t)m->fe.hop_length + 2;
    float *a = malloc(cap * M * sizeof *a), *b = malloc(cap * M * sizeof *b);
    const size_t fa = asr_mel(a, sp, m, x, n);
    spec_reset(sp);
    const size_t fb = spec_feed(sp, b, y, n + 2 * P);
    CHECK(fa == fb, "%zu frames padded by the front-end, %zu padded by hand", fa, fb);
    CHECK(fa == fb && memcmp(a, b, fa * M * sizeof *a) == 0, "the frames differ from the recording padded by hand");
    spec_free(sp);
    free(a), free(b), free(y);
}

/* The recording's frames are normalised exactly as without the padding (the statistics leave it out), and
 * the padding's own frames lie below them. */
static void check_normalised_as_unpadded(asr_model *m, const float *x, size_t n)
{
    const size_t M = (size_t)m->fe.n_mels, pf = asr_pad_length(m) / (size_t)m->fe.hop_length;
    size_t ta, tb;
    float *a = features(m, x, n, &ta);
    const uint32_t pad_ms = m->pad_ms;
    m->pad_ms = 0;
    float *b = features(m, x, n, &tb);
    m->pad_ms = pad_ms;
    /* rows are frames: the padded run's frame pf + k is the plain run's frame k */
    const size_t rows_a = ta * m->stack, rows_b = tb * m->stack;
    CHECK(rows_a >= pf + rows_b, "%zu padded rows, %zu plain", rows_a, rows_b);
    size_t differ = 0;
    for (size_t i = 0; rows_a >= pf + rows_b && i < rows_b * M; i++)
        differ += a[pf * M + i] != b[i];
    CHECK(differ == 0, "%zu of the recording's features changed with the padding (prior %g)", differ, m->norm_prior);
    double pad_mean = 0, rec_mean = 0;
    for (size_t i = 0; i < pf * M; i++)
        pad_mean += a[i];
    for (size_t i = 0; i < rows_b * M; i++)
        rec_mean += b[i];
    pad_mean /= (double)(pf * M), rec_mean /= (double)(rows_b * M);
    CHECK(pad_mean < rec_mean - 1.0, "the padding's frames average %.2f, the recording's %.2f", pad_mean, rec_mean);
    free(a), free(b);
}

int main(void)
{
    asr_model m;
    memset(&m, 0, sizeof m);
    asr_default_frontend(&m.fe, &m.stack, 8000);

    /* the padding: quiet, centred, not constant, and the same at every call */
    double sum = 0, peak = 0;
    int changes = 0;
    for (size_t k = 0; k < 8000; k++) {
        const float v = asr_pad_sample(k);
        sum += v, peak = fmax(peak, fabs(v));
        changes += k && v != asr_pad_sample(k - 1);
        if (v != asr_pad_sample(k)) {
            CHECK(0, "asr_pad_sample(%zu) differs between calls", k);
            break;
        }
    }
    CHECK(peak <= 1.0 / 32768 && peak > 0.5 / 32768, "padding peak %g, want within one 16-bit step", peak);
    CHECK(fabs(sum / 8000) < 0.05 / 32768, "padding mean %g", sum / 8000);
    CHECK(changes > 7900, "the padding changes only %d times in 8000 samples", changes);

    /* a chirp with a little noise: 0.4 s at 8 kHz */
    const size_t n = 3200;
    float *x = malloc(n * sizeof *x);
    rh_rng rng;
    rh_rng_seed(&rng, 3);
    for (size_t k = 0; k < n; k++)
        x[k] = (float)(0.3 * sin(0.002 * (double)k * (double)k / 8.0) + 0.01 * rh_rng_normal(&rng));

    m.pad_ms = 0;
    CHECK(asr_pad_length(&m) == 0, "no padding by default");
    const size_t plain = asr_steps_for(&m, n);
    m.pad_ms = 120;
    CHECK(asr_pad_length(&m) == 960, "120 ms at 8 kHz is %zu samples", asr_pad_length(&m));
    /* 240 ms more: 24 frames of 10 ms, 8 steps of 3 */
    CHECK(asr_steps_for(&m, n) == plain + 8, "%zu steps with the padding, %zu without", asr_steps_for(&m, n), plain);

    check_mel_as_padded_by_hand(&m, x, n);
    check_normalised_as_unpadded(&m, x, n); /* per-file normalisation */
    float mean[40], var[40];
    for (int c = 0; c < 40; c++)
        mean[c] = (float)(-2.0 - 0.05 * c), var[c] = (float)(4.0 + 0.1 * c);
    m.norm_prior = 300, m.norm_mean = mean, m.norm_var = var;
    check_normalised_as_unpadded(&m, x, n); /* the training set's statistics pooled with the file's */
    free(x);
    TEST_EXIT();
}
