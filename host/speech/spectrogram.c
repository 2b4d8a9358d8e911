/* The filterbank is stored as one (first bin, bin count) span per channel into a packed weight array:
 * triangles are narrow, so a dense (n_mels, n_bins) matrix would be mostly zeros. */
#include "spectrogram.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"

#define LOG_FLOOR 1e-6f

/* FFTW's planner keeps global state; only fftw_execute is safe to call concurrently. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

void spec_fftw_lock(void)
{
    pthread_mutex_lock(&plan_lock);
}

void spec_fftw_unlock(void)
{
    pthread_mutex_unlock(&plan_lock);
}

struct spectrogram {
    spec_settings s;
    int n_bins;
    float *window;         /* (win_length) */
    float *fft_in;         /* (n_fft), fftwf_malloc'd for alignment */
    fftwf_complex *fft_out;/* (n_bins) */
    fftwf_plan plan;
    int *mel_first;        /* (n_mels): first bin of each triangle */
    int *mel_count;        /* (n_mels): bins in each triangle */
    size_t *mel_offset;    /* (n_mels): where each triangle's weights start in mel_weight */
    float *mel_weight;     /* packed weights */
    float *pending;        /* (win_length): samples waiting to complete a frame */
    size_t fill;
    float *power;          /* (n_bins): scratch for spec_feed */
    double warp;           /* spec_set_warp's factor; 1 is none */
    float *smooth;         /* (n_mels, n_mels) C_K^T C_K when cepstral smoothing is on, else NULL */
    float *raw;            /* (n_mels): a frame before smoothing */
};

spec_settings spec_default_settings(void)
{
    return (spec_settings){.sample_rate = 16000, .n_fft = 400, .win_length = 400, .hop_length = 160,
                           .n_mels = 40, .fmin = 20.0, .fmax = 8000.0};
}

int spec_check_settings(const spec_settings *s, char *err, size_t err_len)
{
    if (s->sample_rate < 1000 || s->sample_rate > 384000)
        host_fmt(err, err_len, "sample rate %d Hz is outside 1000..384000", s->sample_rate);
    else if (s->n_fft < 16 || s->n_fft > 65536)
        host_fmt(err, err_len, "n_fft %d is outside 16..65536", s->n_fft);
    else if (s->win_length < 2 || s->win_length > s->n_fft)
        host_fmt(err, err_len, "window length %d is outside 2..n_fft (%d)", s->win_length, s->n_fft);
    else if (s->hop_length < 1 || s->hop_length > s->win_length)
        host_fmt(err, err_len, "hop length %d is outside 1..window length (%d)", s->hop_length, s->win_length);
    else if (s->n_mels < 1 || s->n_mels > 1024)
        host_fmt(err, err_len, "n_mels %d is outside 1..1024", s->n_mels);
    else if (s->n_cepstra < 0 || s->n_cepstra > s->n_mels)
        host_fmt(err, err_len, "cepstra %d is outside 0..n_mels (%d)", s->n_cepstra, s->n_mels);
    else if (!(s->fmin >= 0) || !(s->fmax > s->fmin) || s->fmax > s->sample_rate / 2.0 + 1e-9)
        host_fmt(err, err_len, "mel range %g..%g Hz must satisfy 0 <= fmin < fmax <= sample rate / 2 (%g)", s->fmin,
                 s->fmax, s->sample_rate / 2.0);
    else
        return 0;
    return -1;
}

static double hz_to_mel(double f)
{
    return 2595.0 * log10(1.0 + f / 700.0);
}

static double mel_to_hz(double m)
{
    return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

/* Point i of the n_mels + 2 equally spaced in mel: 0 is fmin, n_mels + 1 is fmax. */
static double mel_point_hz(const spec_settings *s, int i)
{
    const double lo = hz_to_mel(s->fmin), hi = hz_to_mel(s->fmax);
    return mel_to_hz(lo + (hi - lo) * i / (s->n_mels + 1));
}

double spec_mel_centre_hz(const spec_settings *s, int m)
{
    return mel_point_hz(s, m + 1);
}

/* Where frequency f is read from under warp a (Jaitly and Hinton's VTLP): f * a up to a knee, then a
 * straight line that takes fmax to fmax, so the warped axis covers the same range. */
static double warped_hz(const spec_settings *s, double a, double f)
{
    if (a == 1.0)
        return f;
    const double knee = 0.85 * s->fmax * (a < 1.0 ? 1.0 : 1.0 / a);
    if (f <= knee)
        return f * a;
    return knee * a + (f - knee) * (s->fmax - knee * a) / (s->fmax - knee);
}

static int build_filterbank(spectrogram *sp)
{
    const spec_settings *s = &sp->s;
    const int M = s->n_mels;
    sp->mel_first = calloc((size_t)M, sizeof *sp->mel_first);
    sp->mel_count = calloc((size_t)M, sizeof *sp->mel_count);
    sp->mel_offset = calloc((size_t)M, sizeof *sp->mel_offset);
    if (!sp->mel_first || !sp->mel_count || !sp->mel_offset)
        return -1;
    const double bin_hz = (double)s->sample_rate / s->n_fft;
    size_t total = 0;
    // Two passes: count the bins under each triangle, then fill the packed weights.
    for (int pass = 0; pass < 2; pass++) {
        total = 0;
        for (int m = 0; m < M; m++) {
            const double left = mel_point_hz(s, m), centre = mel_point_hz(s, m + 1), right = mel_point_hz(s, m + 2);
            int first = -1, count = 0;
            for (int k = 0; k < sp->n_bins; k++) {
                const double f = warped_hz(s, sp->warp, k * bin_hz);
                double w = 0;
                if (f > left && f < centre)
                    w = (f - left) / (centre - left);
                else if (f >= centre && f < right)
                    w = (right - f) / (right - centre);
                if (w <= 0)
                    continue;
                if (first < 0)
                    first = k;
                // Triangles are convex, so the bins with weight are contiguous from first.
                if (pass == 1)
                    sp->mel_weight[total + (size_t)(k - first)] = (float)w;
                count = k - first + 1;
            }
            sp->mel_first[m] = first < 0 ? 0 : first;
            sp->mel_count[m] = count;
            sp->mel_offset[m] = total;
            total += (size_t)count;
        }
        if (pass == 0) {
            sp->mel_weight = calloc(total ? total : 1, sizeof *sp->mel_weight);
            if (!sp->mel_weight)
                return -1;
        }
    }
    return 0;
}

/* The smoothing matrix C_K^T C_K (symmetric) for K = n_cepstra of M channels: 0, or -1 out of memory. */
static int build_smoothing(spectrogram *sp)
{
    const int M = sp->s.n_mels, K = sp->s.n_cepstra;
    if (K <= 0 || K >= M)
        return 0; /* off, or keeping every coefficient: the identity */
    sp->smooth = malloc((size_t)M * (size_t)M * sizeof *sp->smooth);
    sp->raw = malloc((size_t)M * sizeof *sp->raw);
    double *c = malloc((size_t)K * (size_t)M * sizeof *c);
    if (!sp->smooth || !sp->raw || !c) {
        free(c);
        return -1;
    }
    const double pi = 3.14159265358979323846;
    for (int k = 0; k < K; k++)
        for (int m = 0; m < M; m++)
            c[(size_t)k * M + m] = sqrt((k ? 2.0 : 1.0) / M) * cos(pi * k * (m + 0.5) / M);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            double sum = 0;
            for (int k = 0; k < K; k++)
                sum += c[(size_t)k * M + i] * c[(size_t)k * M + j];
            sp->smooth[(size_t)i * M + j] = (float)sum;
        }
    free(c);
    return 0;
}

spectrogram *spec_new(const spec_settings *s, char *err, size_t err_len)
{
    if (spec_check_settings(s, err, err_len) != 0)
        return NULL;
    spectrogram *sp = calloc(1, sizeof *sp);
    if (!sp) {
        host_fmt(err, err_len, "out of memory");
        return NULL;
    }
    sp->s = *s;
    sp->n_bins = s->n_fft / 2 + 1;
    sp->warp = 1.0;
    sp->window = malloc((size_t)s->win_length * sizeof *sp->window);
    sp->pending = malloc((size_t)s->win_length * sizeof *sp->pending);
    sp->power = malloc((size_t)sp->n_bins * sizeof *sp->power);
    sp->fft_in = fftwf_malloc((size_t)s->n_fft * sizeof *sp->fft_in);
    sp->fft_out = fftwf_malloc((size_t)sp->n_bins * sizeof *sp->fft_out);
    if (!sp->window || !sp->pending || !sp->power || !sp->fft_in || !sp->fft_out || build_filterbank(sp) != 0 ||
        build_smoothing(sp) != 0) {
        host_fmt(err, err_len, "out of memory");
        spec_free(sp);
        return NULL;
    }
    // Periodic Hann (the DFT-even form): overlapping windows at hop = win/2 sum to a constant.
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < s->win_length; i++)
        sp->window[i] = (float)(0.5 - 0.5 * cos(2.0 * pi * i / s->win_length));
    memset(sp->fft_in, 0, (size_t)s->n_fft * sizeof *sp->fft_in);
    pthread_mutex_lock(&plan_lock);
    sp->plan = fftwf_plan_dft_r2c_1d(s->n_fft, sp->fft_in, sp->fft_out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    if (!sp->plan) {
        host_fmt(err, err_len, "FFTW could not plan a transform of size %d", s->n_fft);
        spec_free(sp);
        return NULL;
    }
    return sp;
}

void spec_free(spectrogram *sp)
{
    if (!sp)
        return;
    if (sp->plan) {
        pthread_mutex_lock(&plan_lock);
        fftwf_destroy_plan(sp->plan);
        pthread_mutex_unlock(&plan_lock);
    }
    fftwf_free(sp->fft_in);
    fftwf_free(sp->fft_out);
    free(sp->window);
    free(sp->pending);
    free(sp->power);
    free(sp->mel_first);
    free(sp->mel_count);
    free(sp->mel_offset);
    free(sp->mel_weight);
    free(sp->smooth);
    free(sp->raw);
    free(sp);
}

int spec_set_warp(spectrogram *sp, double a)
{
    if (!(a >= 0.5 && a <= 2.0))
        return -1;
    if (a == sp->warp)
        return 0;
    int *first = sp->mel_first, *count = sp->mel_count;
    size_t *offset = sp->mel_offset;
    float *weight = sp->mel_weight;
    const double was = sp->warp;
    sp->mel_first = NULL, sp->mel_count = NULL, sp->mel_offset = NULL, sp->mel_weight = NULL;
    sp->warp = a;
    if (build_filterbank(sp) != 0) { /* keep the filterbank it had */
        free(sp->mel_first), free(sp->mel_count), free(sp->mel_offset), free(sp->mel_weight);
        sp->mel_first = first, sp->mel_count = count, sp->mel_offset = offset, sp->mel_weight = weight;
        sp->warp = was;
        return -1;
    }
    free(first), free(count), free(offset), free(weight);
    return 0;
}

const spec_settings *spec_settings_of(const spectrogram *sp)
{
    return &sp->s;
}

/* GCC's -O2 vectorises only loops it needs no run-time check for; the loops below are most of a frame's
 * work beside the transform, and vectorising them changes no result (each element is computed alone). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize")
#endif
void spec_power(spectrogram *sp, float *power, const float *frame)
{
    const int W = sp->s.win_length, K = sp->n_bins;
    float *restrict in = sp->fft_in;
    const float *restrict window = sp->window, *restrict x = frame;
    // The padding beyond the window was zeroed at creation and is never written.
    for (int i = 0; i < W; i++)
        in[i] = x[i] * window[i];
    fftwf_execute(sp->plan);
    const float *restrict c = &sp->fft_out[0][0]; // (re, im) pairs
    float *restrict pw = power;
    for (int k = 0; k < K; k++)
        pw[k] = c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1];
}

void spec_logmel(spectrogram *sp, float *logmel, const float *power)
{
    const int M = sp->s.n_mels;
    float *x = sp->smooth ? sp->raw : logmel;
    for (int m = 0; m < M; m++) {
        const float *w = sp->mel_weight + sp->mel_offset[m];
        const float *p = power + sp->mel_first[m];
        double sum = 0;
        for (int j = 0; j < sp->mel_count[m]; j++)
            sum += (double)w[j] * p[j];
        x[m] = logf((float)sum + LOG_FLOOR);
    }
    if (!sp->smooth)
        return;
    for (int i = 0; i < M; i++) {
        const float *row = sp->smooth + (size_t)i * M;
        double sum = 0;
        for (int j = 0; j < M; j++)
            sum += (double)row[j] * x[j];
        logmel[i] = (float)sum;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

void spec_frame(spectrogram *sp, float *logmel, const float *frame)
{
    spec_power(sp, sp->power, frame);
    spec_logmel(sp, logmel, sp->power);
}

size_t spec_frames_for(const spectrogram *sp, size_t n)
{
    const size_t W = (size_t)sp->s.win_length, H = (size_t)sp->s.hop_length;
    const size_t have = sp->fill + n;
    return have < W ? 0 : (have - W) / H + 1;
}

size_t spec_feed(spectrogram *sp, float *out, const float *x, size_t n)
{
    const size_t W = (size_t)sp->s.win_length, H = (size_t)sp->s.hop_length, M = (size_t)sp->s.n_mels;
    size_t frames = 0;
    while (n > 0) {
        const size_t take = W - sp->fill < n ? W - sp->fill : n;
        memcpy(sp->pending + sp->fill, x, take * sizeof *x);
        sp->fill += take;
        x += take;
        n -= take;
        if (sp->fill < W)
            break;
        spec_frame(sp, out + frames * M, sp->pending);
        frames++;
        // The overlap moves to the front and waits for the next hop's samples.
        memmove(sp->pending, sp->pending + H, (W - H) * sizeof *sp->pending);
        sp->fill = W - H;
    }
    return frames;
}

void spec_reset(spectrogram *sp)
{
    sp->fill = 0;
}

void spec_cmvn(float *x, size_t frames, size_t n_mels)
{
    spec_cmvn_over(x, frames, n_mels, 0, frames);
}

void spec_cmvn_over(float *x, size_t frames, size_t n_mels, size_t from, size_t to)
{
    if (from >= to || to > frames)
        from = 0, to = frames;
    if (frames == 0)
        return;
    const double n = (double)(to - from);
    for (size_t m = 0; m < n_mels; m++) {
        // Two passes in double: the mean first, so the variance does not cancel catastrophically.
        double mean = 0, var = 0;
        for (size_t t = from; t < to; t++)
            mean += x[t * n_mels + m];
        mean /= n;
        for (size_t t = from; t < to; t++) {
            const double d = x[t * n_mels + m] - mean;
            var += d * d;
        }
        var /= n;
        const double inv = var > 1e-12 ? 1.0 / sqrt(var) : 0.0;
        for (size_t t = 0; t < frames; t++)
            x[t * n_mels + m] = (float)((x[t * n_mels + m] - mean) * inv);
    }
}

double spec_level(const float *x, size_t frames, size_t n_mels)
{
    double level = 0;
    for (size_t t = 0; t < frames; t++) {
        double e = 0;
        for (size_t m = 0; m < n_mels; m++)
            e += x[t * n_mels + m];
        e /= (double)n_mels;
        if (t == 0 || e > level)
            level = e;
    }
    return level;
}

void spec_norm_prior(float *x, size_t frames, size_t n_mels, const float *mean, const float *var, double prior)
{
    spec_norm_prior_over(x, frames, n_mels, mean, var, prior, 0, frames);
}

void spec_norm_prior_over(float *x, size_t frames, size_t n_mels, const float *mean, const float *var, double prior,
                          size_t from, size_t to)
{
    if (from >= to || to > frames)
        from = 0, to = frames;
    const double level = spec_level(x + from * n_mels, to - from, n_mels), n = (double)(to - from);
    for (size_t m = 0; m < n_mels; m++) {
        double own = 0, sq = 0;
        for (size_t t = from; t < to; t++)
            own += x[t * n_mels + m] - level;
        const double mu = (own + prior * mean[m]) / (n + prior);
        for (size_t t = from; t < to; t++) {
            const double d = x[t * n_mels + m] - level - mu;
            sq += d * d;
        }
        // the prior's frames scatter around mu by their variance plus the distance of their mean from mu
        const double dm = mean[m] - mu, v = (sq + prior * (var[m] + dm * dm)) / (n + prior);
        const double inv = v > 1e-12 ? 1.0 / sqrt(v) : 0.0;
        for (size_t t = 0; t < frames; t++)
            x[t * n_mels + m] = (float)((x[t * n_mels + m] - level - mu) * inv);
    }
}
