/* The audio front-end (host/speech/audio.c, host/speech/spectrogram.c) against independent references: a direct DFT,
 * pure tones whose bins and bands are known in advance, the same signal recorded at two rates, broken
 * files, and one long file read in small and in whole blocks. Fixtures are generated here with libsndfile.
 * Usage: test_frontend CASE; exits 0 on pass, 1 on fail. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audio.h"
#include "room.h"
#include "spectrogram.h"

#define PI 3.14159265358979323846

static int failures;
static char tmpdir[256];

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                          \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

/* xorshift64*, so the fixtures are the same on every run and platform. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static void path_in_tmp(char *dst, size_t len, const char *name)
{
    snprintf(dst, len, "%s/%s", tmpdir, name);
}

/* Writes x, which is (frames, channels), as 16-bit PCM WAV (or 32-bit float when as_float). */
static int write_wav(const char *path, const float *x, int64_t frames, int channels, int rate, int as_float)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | (as_float ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16);
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) {
        fprintf(stderr, "cannot write fixture %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    sf_count_t w = sf_writef_float(f, x, frames);
    sf_close(f);
    return w == frames ? 0 : -1;
}

/* Every sample of the file at rate, in calls of `chunk` samples. *n gets the count. */
static float *read_all(const char *path, int rate, size_t block_frames, size_t chunk, size_t *n)
{
    char err[600];
    audio_reader *r = audio_open(path, rate, block_frames, err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    float *x = malloc(cap * sizeof *x);
    for (;;) {
        if (cap - len < chunk) {
            while (cap - len < chunk)
                cap *= 2;
            x = realloc(x, cap * sizeof *x);
        }
        long got = audio_read(r, x + len, chunk, err, sizeof err);
        if (got < 0) {
            fprintf(stderr, "%s\n", err);
            free(x);
            audio_close(r);
            return NULL;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    audio_close(r);
    *n = len;
    return x;
}

/* Log-mel frames of x fed in pieces of `chunk` samples: (*frames, n_mels). */
static float *features(const spec_settings *s, const float *x, size_t n, size_t chunk, size_t *frames)
{
    char err[256];
    spectrogram *sp = spec_new(s, err, sizeof err);
    if (!sp) {
        fprintf(stderr, "spec_new: %s\n", err);
        return NULL;
    }
    float *out = malloc((spec_frames_for(sp, n) + 1) * (size_t)s->n_mels * sizeof *out);
    size_t f = 0;
    for (size_t at = 0; at < n; at += chunk) {
        const size_t take = n - at < chunk ? n - at : chunk;
        f += spec_feed(sp, out + f * (size_t)s->n_mels, x + at, take);
    }
    spec_free(sp);
    *frames = f;
    return out;
}

/* ---- FFTW against a direct DFT ------------------------------------------------------------------------ */

static void check_dft(int n_fft, int win)
{
    spec_settings s = spec_default_settings();
    s.n_fft = n_fft;
    s.win_length = win;
    s.hop_length = win / 2;
    char err[256];
    spectrogram *sp = spec_new(&s, err, sizeof err);
    CHECK(sp, "%s", err);
    if (!sp)
        return;
    const int bins = n_fft / 2 + 1;
    float *frame = malloc((size_t)win * sizeof *frame), *power = malloc((size_t)bins * sizeof *power);
    double *ref = malloc((size_t)bins * sizeof *ref);
    for (int trial = 0; trial < 8; trial++) {
        for (int i = 0; i < win; i++)
            frame[i] = (float)(2 * uniform() - 1);
        spec_power(sp, power, frame);
        double num = 0, den = 0, peak = 0, worst = 0;
        for (int k = 0; k < bins; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < win; i++) {
                const double w = 0.5 - 0.5 * cos(2 * PI * i / win); // periodic Hann, written out again
                const double a = -2 * PI * (double)((long)k * i % n_fft) / n_fft;
                re += w * frame[i] * cos(a);
                im += w * frame[i] * sin(a);
            }
            ref[k] = re * re + im * im;
            peak = ref[k] > peak ? ref[k] : peak;
        }
        for (int k = 0; k < bins; k++) {
            const double d = power[k] - ref[k];
            num += d * d;
            den += ref[k] * ref[k];
            worst = fabs(d) > worst ? fabs(d) : worst;
        }
        CHECK(sqrt(num / den) < 1e-4, "n_fft %d: relative L2 error %g", n_fft, sqrt(num / den));
        CHECK(worst < 1e-4 * peak, "n_fft %d: worst bin error %g of peak %g", n_fft, worst, peak);
    }
    free(frame);
    free(power);
    free(ref);
    spec_free(sp);
}

static void case_dft(void)
{
    check_dft(400, 400);  // the default: a size FFTW does with mixed radices
    check_dft(512, 400);  // zero padding after the window
    check_dft(256, 200);
}

/* ---- pure tones --------------------------------------------------------------------------------------- */

static int nearest_band(const spec_settings *s, double hz)
{
    int best = 0;
    for (int m = 1; m < s->n_mels; m++)
        if (fabs(spec_mel_centre_hz(s, m) - hz) < fabs(spec_mel_centre_hz(s, best) - hz))
            best = m;
    return best;
}

static void check_tone(double hz, int channels)
{
    const int rate = 16000, n = rate;
    float *x = malloc((size_t)n * (size_t)channels * sizeof *x);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < channels; c++)
            x[i * channels + c] = (float)(0.5 * sin(2 * PI * hz * i / rate));
    char path[512];
    path_in_tmp(path, sizeof path, "tone.wav");
    CHECK(write_wav(path, x, n, channels, rate, 0) == 0, "writing %s", path);
    free(x);

    size_t len = 0;
    float *y = read_all(path, rate, 0, 1000, &len);
    CHECK(y && len == (size_t)n, "read %zu of %d samples", len, n);
    if (!y)
        return;
    spec_settings s = spec_default_settings();
    char err[256];
    spectrogram *sp = spec_new(&s, err, sizeof err);
    float power[201];
    spec_power(sp, power, y + 1600);
    int peak = 0;
    for (int k = 1; k < 201; k++)
        if (power[k] > power[peak])
            peak = k;
    const int want_bin = (int)lround(hz * s.n_fft / rate);
    CHECK(peak == want_bin, "%g Hz peaks in bin %d, not %d", hz, peak, want_bin);
    spec_free(sp);

    size_t frames = 0;
    float *f = features(&s, y, len, 777, &frames);
    CHECK(frames == (size_t)(1 + (n - s.win_length) / s.hop_length), "%zu frames", frames);
    const int want_band = nearest_band(&s, hz);
    for (size_t t = 0; t < frames; t++) {
        int band = 0;
        for (int m = 1; m < s.n_mels; m++)
            if (f[t * 40 + m] > f[t * 40 + band])
                band = m;
        if (band != want_band) {
            CHECK(band == want_band, "%g Hz frame %zu loudest in band %d, not %d", hz, t, band, want_band);
            break;
        }
    }
    free(f);
    free(y);
}

static void case_tone(void)
{
    check_tone(1000, 1);
    check_tone(3000, 2); // stereo: the mix-down must keep it
    check_tone(440, 1);
}

/* ---- the same signal at two rates --------------------------------------------------------------------- */

/* 48 tones below 3.4 kHz at fixed random frequencies and phases: dense enough that every mel band has
 * energy, and band-limited so an 8 kHz recording holds all of it. */
static float *multitone(int rate, int n)
{
    double f[48], ph[48];
    rng_state = 12345;
    for (int j = 0; j < 48; j++) {
        f[j] = 60 + 3340 * uniform();
        ph[j] = 2 * PI * uniform();
    }
    float *x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) {
        double v = 0;
        for (int j = 0; j < 48; j++)
            v += sin(2 * PI * f[j] * i / rate + ph[j]);
        x[i] = (float)(0.015 * v);
    }
    return x;
}

static void case_resample(void)
{
    const double seconds = 2.0;
    float *x8 = multitone(8000, (int)(8000 * seconds)), *x16 = multitone(16000, (int)(16000 * seconds));
    char p8[512], p16[512];
    path_in_tmp(p8, sizeof p8, "at8k.wav");
    path_in_tmp(p16, sizeof p16, "at16k.wav");
    CHECK(write_wav(p8, x8, (int64_t)(8000 * seconds), 1, 8000, 1) == 0, "writing %s", p8);
    CHECK(write_wav(p16, x16, (int64_t)(16000 * seconds), 1, 16000, 1) == 0, "writing %s", p16);
    free(x8);
    free(x16);
    size_t n8 = 0, n16 = 0;
    float *y8 = read_all(p8, 16000, 0, 4096, &n8), *y16 = read_all(p16, 16000, 0, 4096, &n16);
    CHECK(y8 && y16, "reading the fixtures");
    if (!y8 || !y16)
        return;
    // The resampler must neither drop nor invent more than a few samples at the ends.
    CHECK(labs((long)n8 - (long)n16) <= 2, "8 kHz file gives %zu samples at 16 kHz, the 16 kHz file %zu", n8, n16);
    spec_settings s = spec_default_settings();
    s.fmax = 3600; // below the resampler's transition band near 4 kHz
    size_t f8 = 0, f16 = 0;
    float *a = features(&s, y8, n8, 4096, &f8), *b = features(&s, y16, n16, 4096, &f16);
    const size_t frames = f8 < f16 ? f8 : f16;
    CHECK(frames > 100 && (f8 > f16 ? f8 - f16 : f16 - f8) <= 1, "%zu and %zu frames", f8, f16);
    // The first and last frames see the resampler's edges; the rest must agree.
    double sum = 0, worst = 0;
    size_t count = 0;
    for (size_t t = 3; t + 3 < frames; t++)
        for (int m = 0; m < s.n_mels; m++) {
            const double d = fabs(a[t * 40 + m] - b[t * 40 + m]);
            sum += d;
            worst = d > worst ? d : worst;
            count++;
        }
    fprintf(stderr, "resample: mean |diff| %.5f, max %.5f (log-mel)\n", sum / count, worst);
    // Tolerance in natural-log units: 0.001 mean is 0.1 % of band power, 0.01 worst is 1 % (measured:
    // about 3e-5 and 2e-3 with SRC_SINC_MEDIUM_QUALITY).
    CHECK(sum / count < 0.001, "mean log-mel difference %g", sum / count);
    CHECK(worst < 0.01, "largest log-mel difference %g", worst);
    free(a);
    free(b);
    free(y8);
    free(y16);
}

/* ---- broken files ------------------------------------------------------------------------------------- */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static void expect_refused(const char *path, const char *what, const char *why)
{
    char err[600] = "";
    audio_reader *r = audio_open(path, 16000, 0, err, sizeof err);
    CHECK(!r, "%s was opened", what);
    CHECK(strstr(err, path) == err, "%s: the error does not start with the file name: '%s'", what, err);
    CHECK(strstr(err, why), "%s: '%s' is not in the error '%s'", what, why, err);
    CHECK(!strchr(err, '\n'), "%s: error is more than one line", what);
    audio_close(r);
}

static void case_corrupt(void)
{
    const int n = 16000;
    float *x = multitone(16000, n);
    char good[512], path[512];
    path_in_tmp(good, sizeof good, "good.wav");
    CHECK(write_wav(good, x, n, 1, 16000, 0) == 0, "writing %s", good);
    free(x);
    FILE *f = fopen(good, "rb");
    unsigned char *bytes = malloc(40000);
    size_t size = f ? fread(bytes, 1, 40000, f) : 0;
    if (f)
        fclose(f);
    CHECK(size > 44, "fixture size %zu", size);

    path_in_tmp(path, sizeof path, "header.wav");
    write_bytes(path, bytes, 30); // cut inside the fmt chunk
    expect_refused(path, "a truncated header", "not a sound file libsndfile can read");
    path_in_tmp(path, sizeof path, "random.wav");
    for (int i = 0; i < 4096; i++)
        bytes[i] = (unsigned char)(uniform() * 256);
    write_bytes(path, bytes, 4096);
    expect_refused(path, "random bytes", "not a sound file libsndfile can read");
    path_in_tmp(path, sizeof path, "empty.wav");
    write_bytes(path, "", 0);
    expect_refused(path, "an empty file", "not a sound file libsndfile can read");
    path_in_tmp(path, sizeof path, "missing.wav");
    expect_refused(path, "a missing file", ": no such file");

    // A valid header over data cut short (a copy or download stopped half way) is refused, so half a
    // recording is never transcribed or trained on as if it were whole.
    f = fopen(good, "rb");
    size = f ? fread(bytes, 1, 40000, f) : 0;
    if (f)
        fclose(f);
    path_in_tmp(path, sizeof path, "short-data.wav");
    write_bytes(path, bytes, size / 2);
    char err[512] = "";
    audio_reader *ar = audio_open(path, 8000, 0, err, sizeof err);
    CHECK(ar == NULL && strstr(err, "truncated"), "a WAV with its data cut short: '%s'", err);
    audio_close(ar);
    free(bytes);
}

/* ---- input that cannot seek ---------------------------------------------------------------------------- */

/* A child process writes the file at src into the FIFO at fifo, then exits; its pid. */
static pid_t feed_fifo(const char *src, const char *fifo)
{
    const pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGPIPE, SIG_DFL); // a reader that stops early ends the child, as it would end `cat`
    FILE *in = fopen(src, "rb"), *out = fopen(fifo, "wb");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            break;
    if (out)
        fclose(out);
    _exit(0);
}

static void case_pipe(void)
{
    // FLAC decoding seeks; through a pipe it failed ("flac decoder lost sync") where WAV worked.
    const int n = 3 * 16000;
    float *x = multitone(16000, n);
    char flac[512], fifo[512];
    path_in_tmp(flac, sizeof flac, "tones.flac");
    path_in_tmp(fifo, sizeof fifo, "pipe");
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = 16000, info.channels = 1, info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    SNDFILE *f = sf_open(flac, SFM_WRITE, &info);
    CHECK(f && sf_writef_float(f, x, n) == n, "writing %s: %s", flac, sf_strerror(f));
    sf_close(f);
    free(x);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    size_t nf = 0, np = 0;
    float *from_file = read_all(flac, 8000, 0, 1000, &nf);
    pid_t child = feed_fifo(flac, fifo);
    float *from_pipe = read_all(fifo, 8000, 0, 1000, &np);
    waitpid(child, NULL, 0);
    CHECK(from_file && nf > 20000, "the FLAC file gives %zu samples", nf);
    CHECK(from_pipe && np == nf && memcmp(from_file, from_pipe, nf * sizeof *from_file) == 0,
          "the FLAC file through a FIFO: %zu samples (from the file %zu), %s", np, nf,
          from_pipe && np == nf ? "different" : "");
    free(from_file), free(from_pipe);

    // The whole stream is held in memory, so it has a bound; a longer one is refused, saying so.
    struct stat st;
    CHECK(stat(flac, &st) == 0, "stat %s", flac);
    char err[600] = "";
    child = feed_fifo(flac, fifo);
    audio_reader *r = audio_open_bounded(fifo, 8000, 0, (size_t)st.st_size - 1, err, sizeof err);
    waitpid(child, NULL, 0);
    CHECK(!r && strstr(err, "through a pipe"), "a stream one byte over the bound: '%s'", err);
    audio_close(r);
    child = feed_fifo(flac, fifo);
    r = audio_open_bounded(fifo, 8000, 0, (size_t)st.st_size, err, sizeof err);
    waitpid(child, NULL, 0);
    CHECK(r != NULL, "a stream exactly at the bound: '%s'", err);
    audio_close(r);
}

/* ---- block-wise reading ------------------------------------------------------------------------------- */

static void case_blocks(void)
{
    // Two minutes of 44.1 kHz stereo: a different chirp in each channel, so the mix-down matters.
    const int rate = 44100, n = rate * 120;
    float *x = malloc((size_t)n * 2 * sizeof *x);
    for (int i = 0; i < n; i++) {
        const double t = (double)i / rate;
        x[2 * i] = (float)(0.4 * sin(2 * PI * (200 * t + 15 * t * t)));
        x[2 * i + 1] = (float)(0.3 * sin(2 * PI * (3000 * t - 10 * t * t)) + 0.05 * (uniform() - 0.5));
    }
    char path[512];
    path_in_tmp(path, sizeof path, "long.wav");
    CHECK(write_wav(path, x, n, 2, rate, 0) == 0, "writing %s", path);
    free(x);

    spec_settings s = spec_default_settings();
    size_t na = 0, nb = 0, fa = 0, fb = 0;
    // Small odd sizes everywhere: decoder blocks, read calls and feeds all straddle frame boundaries.
    float *ya = read_all(path, 16000, 97, 113, &na);
    float *yb = read_all(path, 16000, (size_t)n, (size_t)n, &nb);
    CHECK(ya && yb, "reading %s", path);
    if (!ya || !yb)
        return;
    CHECK(na == nb, "%zu samples in small blocks, %zu at once", na, nb);
    const size_t expected = (size_t)llround(n * 16000.0 / rate);
    CHECK(na + 2 >= expected && na <= expected + 2, "%zu samples at 16 kHz, expected about %zu", na, expected);
    float *a = features(&s, ya, na, 113, &fa), *b = features(&s, yb, nb, nb, &fb);
    CHECK(fa == fb && fa == 1 + (na - 400) / 160, "%zu and %zu frames", fa, fb);
    double worst = 0;
    for (size_t i = 0; i < (fa < fb ? fa : fb) * 40; i++) {
        const double d = fabs(a[i] - b[i]);
        worst = d > worst ? d : worst;
    }
    fprintf(stderr, "blocks: %zu frames, max |diff| %g\n", fa, worst);
    CHECK(worst <= 1e-5, "block-wise features differ by %g", worst);
    free(a);
    free(b);
    free(ya);
    free(yb);
}

/* ---- normalisation ------------------------------------------------------------------------------------ */

static void case_cmvn(void)
{
    const size_t T = 300, M = 7;
    float *x = malloc(T * M * sizeof *x);
    for (size_t t = 0; t < T; t++)
        for (size_t m = 0; m < M; m++)
            x[t * M + m] = m == 3 ? 2.5f : (float)(m * 10.0 + (m + 1) * uniform());
    spec_cmvn(x, T, M);
    for (size_t m = 0; m < M; m++) {
        double mean = 0, var = 0;
        for (size_t t = 0; t < T; t++)
            mean += x[t * M + m];
        mean /= T;
        for (size_t t = 0; t < T; t++)
            var += (x[t * M + m] - mean) * (x[t * M + m] - mean);
        var /= T;
        CHECK(fabs(mean) < 1e-5, "channel %zu mean %g", m, mean);
        if (m == 3)
            CHECK(var == 0, "a constant channel has variance %g", var);
        else
            CHECK(fabs(var - 1) < 1e-4, "channel %zu variance %g", m, var);
    }
    free(x);
    spec_settings bad = spec_default_settings();
    bad.fmax = 9000;
    char err[256] = "";
    CHECK(spec_new(&bad, err, sizeof err) == NULL && strstr(err, "9000"),
          "fmax above Nyquist accepted or unexplained: '%s'", err);
}

/* spec_norm_prior: a file's gain does not matter; with almost no prior it is spec_cmvn after the level; with
 * an overwhelming prior every channel is (x - level - mean) / sqrt(var); in between, the pooled formula
 * computed here in double from its definition. */
static void case_norm_prior(void)
{
    const size_t T = 40, M = 5;
    float *x = malloc(T * M * sizeof *x), *y = malloc(T * M * sizeof *y), *z = malloc(T * M * sizeof *z);
    const float mean[5] = {-3.0f, -2.0f, -4.5f, -1.0f, -6.0f}, var[5] = {2.0f, 1.5f, 3.0f, 0.5f, 4.0f};
    for (size_t i = 0; i < T * M; i++)
        x[i] = (float)(-8.0 + 6.0 * uniform());
    double level = -1e300;
    for (size_t t = 0; t < T; t++) {
        double e = 0;
        for (size_t m = 0; m < M; m++)
            e += x[t * M + m];
        level = e / M > level ? e / M : level;
    }
    CHECK(fabs(spec_level(x, T, M) - level) < 1e-9, "level %g, want %g", spec_level(x, T, M), level);

    /* gain: log-mels of a file 20 dB louder are all larger by ln(100) */
    for (size_t i = 0; i < T * M; i++)
        y[i] = x[i], z[i] = x[i] + (float)log(100.0);
    spec_norm_prior(y, T, M, mean, var, 300);
    spec_norm_prior(z, T, M, mean, var, 300);
    double worst = 0;
    for (size_t i = 0; i < T * M; i++)
        worst = fmax(worst, fabs(y[i] - z[i]));
    CHECK(worst < 1e-4, "a louder copy normalises differently by %g", worst);

    /* the pooled formula, in double */
    const double prior = 30;
    worst = 0;
    for (size_t m = 0; m < M; m++) {
        double own = 0, sq = 0;
        for (size_t t = 0; t < T; t++)
            own += x[t * M + m] - level;
        const double mu = (own + prior * mean[m]) / (T + prior);
        for (size_t t = 0; t < T; t++)
            sq += (x[t * M + m] - level - mu) * (x[t * M + m] - level - mu);
        const double v = (sq + prior * (var[m] + (mean[m] - mu) * (mean[m] - mu))) / (T + prior);
        for (size_t t = 0; t < T; t++)
            z[t * M + m] = (float)((x[t * M + m] - level - mu) / sqrt(v));
    }
    memcpy(y, x, T * M * sizeof *y);
    spec_norm_prior(y, T, M, mean, var, prior);
    for (size_t i = 0; i < T * M; i++)
        worst = fmax(worst, fabs(y[i] - z[i]));
    CHECK(worst < 1e-5, "pooled statistics off by %g", worst);

    /* the two ends */
    memcpy(y, x, T * M * sizeof *y);
    memcpy(z, x, T * M * sizeof *z);
    spec_norm_prior(y, T, M, mean, var, 1e-9);
    spec_cmvn(z, T, M);
    worst = 0;
    for (size_t i = 0; i < T * M; i++)
        worst = fmax(worst, fabs(y[i] - z[i]));
    CHECK(worst < 1e-4, "a vanishing prior differs from spec_cmvn by %g", worst);
    memcpy(y, x, T * M * sizeof *y);
    spec_norm_prior(y, T, M, mean, var, 1e9);
    worst = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t m = 0; m < M; m++)
            worst = fmax(worst, fabs(y[t * M + m] - (x[t * M + m] - level - mean[m]) / sqrt(var[m])));
    CHECK(worst < 1e-4, "an overwhelming prior differs from the training statistics by %g", worst);
    free(x), free(y), free(z);
}

/* ---- vocal tract length perturbation ------------------------------------------------------------------ */

/* The loudest mel band of one frame of a tone at hz, under warp a. */
static int tone_band(spectrogram *sp, double hz)
{
    const spec_settings *s = spec_settings_of(sp);
    float frame[400], power[201], mel[40];
    for (int i = 0; i < s->win_length; i++)
        frame[i] = (float)(0.5 * sin(2 * PI * hz * i / s->sample_rate));
    spec_power(sp, power, frame);
    spec_logmel(sp, mel, power);
    int band = 0;
    for (int m = 1; m < s->n_mels; m++)
        if (mel[m] > mel[band])
            band = m;
    return band;
}

static void case_warp(void)
{
    spec_settings s = spec_default_settings();
    char err[256];
    spectrogram *sp = spec_new(&s, err, sizeof err), *plain = spec_new(&s, err, sizeof err);
    /* below the knee a tone at f lands in the band of a * f; each of these moves a band or more */
    const double tones[] = {1000, 2000, 3000, 5000};
    const double warps[] = {0.9, 1.1, 0.8, 1.2};
    for (size_t i = 0; i < sizeof tones / sizeof *tones; i++)
        for (size_t k = 0; k < sizeof warps / sizeof *warps; k++) {
            CHECK(spec_set_warp(sp, warps[k]) == 0, "warp %g refused", warps[k]);
            const int got = tone_band(sp, tones[i]), want = nearest_band(&s, tones[i] * warps[k]);
            const int unwarped = tone_band(plain, tones[i]);
            CHECK(got == want && got != unwarped, "%g Hz under warp %g: band %d, want %d (unwarped %d)", tones[i],
                  warps[k], got, want, unwarped);
        }
    /* above the knee the line ends at fmax: the top band still hears a tone just below fmax */
    CHECK(spec_set_warp(sp, 1.2) == 0, "warp 1.2 refused");
    CHECK(tone_band(sp, 7900) == s.n_mels - 1, "7900 Hz under warp 1.2 left the top band for %d", tone_band(sp, 7900));
    /* out of range is refused and keeps the filterbank; back to 1 is exactly the plain front-end */
    const double bad[] = {0.4, 2.5, NAN, 0};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        CHECK(spec_set_warp(sp, bad[k]) == -1, "warp %g accepted", bad[k]);
    CHECK(tone_band(sp, 1000) == nearest_band(&s, 1200), "a refused warp changed the filterbank");
    CHECK(spec_set_warp(sp, 1.0) == 0, "warp 1 refused");
    float *x = multitone(16000, 16000);
    float *a = malloc(spec_frames_for(sp, 16000) * 40 * sizeof *a), *b = malloc(spec_frames_for(plain, 16000) * 40 * sizeof *b);
    const size_t na = spec_feed(sp, a, x, 16000), nb = spec_feed(plain, b, x, 16000);
    CHECK(na == nb && memcmp(a, b, na * 40 * sizeof *a) == 0, "warp 1 after 1.2 differs from no warp");
    free(x), free(a), free(b);
    spec_free(sp), spec_free(plain);
}

/* ---- cepstral smoothing ----------------------------------------------------------------------------- */

/* A voiced sound: harmonics of f0 up to 3.8 kHz under a fixed envelope of two formants (700, 1800 Hz),
 * n samples at 8 kHz. Its envelope, not its pitch, says which vowel it is. */
static float *vowel(double f0, int n)
{
    float *x = calloc((size_t)n, sizeof *x);
    for (int h = 1; h * f0 < 3800; h++) {
        const double f = h * f0, a = 1.0 / (1.0 + pow((f - 700) / 150, 2)) + 0.5 / (1.0 + pow((f - 1800) / 200, 2));
        for (int i = 0; i < n; i++)
            x[i] += (float)(0.3 * a * sin(2 * PI * f * i / 8000 + h));
    }
    return x;
}

/* The mean over frames of a signal's features, each frame's own channel mean removed. */
static void mean_shape(const spec_settings *s, const float *x, int n, double *shape)
{
    size_t frames;
    float *f = features(s, x, (size_t)n, (size_t)n, &frames);
    const int M = s->n_mels;
    for (int m = 0; m < M; m++)
        shape[m] = 0;
    for (size_t t = 0; t < frames; t++) {
        double mu = 0;
        for (int m = 0; m < M; m++)
            mu += f[t * M + m];
        for (int m = 0; m < M; m++)
            shape[m] += (f[t * M + m] - mu / M) / (double)frames;
    }
    free(f);
}

static double distance(const double *a, const double *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(d);
}

static void case_cepstra(void)
{
    spec_settings plain = spec_default_settings();
    plain.sample_rate = 8000, plain.n_fft = 256, plain.win_length = 200, plain.hop_length = 80;
    plain.fmin = 100, plain.fmax = 4000;
    const int M = plain.n_mels, K = 16, n = 8000;
    spec_settings smooth = plain;
    smooth.n_cepstra = K;
    /* each frame is its log-mels with the cepstral coefficients from K on set to zero, computed here as a
     * DCT-II and its inverse in double precision */
    float *x = multitone(8000, n);
    size_t nf, ns;
    float *a = features(&plain, x, (size_t)n, 777, &nf), *b = features(&smooth, x, (size_t)n, 777, &ns);
    CHECK(nf == ns && nf > 90, "%zu and %zu frames", nf, ns);
    double worst = 0, mean_moved = 0;
    for (size_t t = 0; t < nf && nf == ns; t++) {
        double c[40], mu_a = 0, mu_b = 0;
        for (int k = 0; k < M; k++) {
            c[k] = 0;
            for (int m = 0; m < M; m++)
                c[k] += a[t * M + m] * cos(PI * k * (2 * m + 1) / (2.0 * M));
            c[k] *= k ? sqrt(2.0 / M) : sqrt(1.0 / M);
        }
        for (int m = 0; m < M; m++) {
            double y = c[0] * sqrt(1.0 / M);
            for (int k = 1; k < K; k++)
                y += c[k] * sqrt(2.0 / M) * cos(PI * k * (2 * m + 1) / (2.0 * M));
            worst = fmax(worst, fabs(y - b[t * M + m]));
            mu_a += a[t * M + m], mu_b += b[t * M + m];
        }
        mean_moved = fmax(mean_moved, fabs(mu_a - mu_b) / M);
    }
    CHECK(worst < 1e-4, "smoothed frames differ from the truncated DCT by up to %g", worst);
    CHECK(mean_moved < 1e-4, "smoothing moved a frame's mean by %g", mean_moved);
    free(a), free(b), free(x);
    /* what it is for: one vowel at two pitches. Above the first harmonics, plain log-mels see the
     * harmonics move through the bands; the smoothed ones see mostly the same envelope */
    double p100[40], p130[40], s100[40], s130[40];
    float *v100 = vowel(100, n), *v130 = vowel(130, n);
    mean_shape(&plain, v100, n, p100), mean_shape(&plain, v130, n, p130);
    mean_shape(&smooth, v100, n, s100), mean_shape(&smooth, v130, n, s130);
    int low = 0;
    while (spec_mel_centre_hz(&plain, low) < 300)
        low++;
    const double dp = distance(p100 + low, p130 + low, M - low), ds = distance(s100 + low, s130 + low, M - low);
    CHECK(ds < 0.5 * dp, "pitch 100 vs 130 Hz: smoothed features %.3f apart, plain %.3f", ds, dp);
    free(v100), free(v130);
    /* keeping every coefficient is the plain front-end, bit for bit; more than n_mels is refused */
    spec_settings all = plain;
    all.n_cepstra = M;
    x = multitone(8000, n);
    a = features(&plain, x, (size_t)n, (size_t)n, &nf), b = features(&all, x, (size_t)n, (size_t)n, &ns);
    CHECK(nf == ns && memcmp(a, b, nf * (size_t)M * sizeof *a) == 0, "cepstra = n_mels changed the features");
    free(a), free(b), free(x);
    char err[256];
    all.n_cepstra = M + 1;
    CHECK(spec_check_settings(&all, err, sizeof err) == -1 && strstr(err, "cepstra"), "cepstra %d of %d accepted", M + 1, M);
    all.n_cepstra = -1;
    CHECK(spec_check_settings(&all, err, sizeof err) == -1, "cepstra -1 accepted");
}

/* Simulated rooms (room.h): the response has its direct path, its 60 dB fall over rt60 and its
 * direct-to-reverberant ratio; a recording played in the room is the direct convolution with it, at the
 * recording's level; the same draw gives the same bits, another seed another tail. */
static void case_room(void)
{
    const int rate = 8000;
    const size_t n = 6000;
    room *r = room_new(n, rate, 1.05);
    CHECK(r != NULL, "room_new");
    if (!r)
        return;
    const room_draw d = {.rt60 = 0.6, .drr_db = 3.0, .predelay = 0.01, .seed = 42};
    float *h = malloc(9000 * sizeof *h), *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    const size_t len = room_response(r, &d, h, 9000);
    const size_t pre = 81; /* 10 ms at 8 kHz, and the direct sound's own sample */
    CHECK(len == pre + 4800, "response length %zu", len);
    CHECK(h[0] == 1.0f, "direct path %g", h[0]);
    int quiet = 1;
    for (size_t k = 1; k < pre; k++)
        quiet &= h[k] == 0.0f;
    CHECK(quiet, "nothing before the predelay");
    double tail = 0, first = 0, third = 0;
    for (size_t k = pre; k < len; k++)
        tail += (double)h[k] * h[k];
    CHECK(fabs(10.0 * log10(1.0 / tail) - 3.0) < 1e-3, "direct-to-reverberant ratio %.4f dB", 10.0 * log10(1.0 / tail));
    /* the envelope over the first and third 10th of rt60 (480 samples each): 60 dB / 10 * 2 = 12 dB apart */
    for (size_t k = 0; k < 480; k++)
        first += (double)h[pre + k] * h[pre + k], third += (double)h[pre + 960 + k] * h[pre + 960 + k];
    CHECK(fabs(10.0 * log10(first / third) - 12.0) < 2.0, "decay over 0.12 s %.2f dB, not 12", 10.0 * log10(first / third));
    /* played in the room: the direct convolution's first n samples, scaled to the dry level */
    double dry = 0, wet = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(sin(2.0 * PI * 300.0 * (double)i / rate) * (i < 2000 ? 1.0 : 0.2) + 0.1 * (uniform() - 0.5));
        dry += (double)x[i] * x[i];
    }
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (size_t k = 0; k < len && k <= i; k++)
            v += (double)h[k] * x[i - k];
        ref[i] = v, wet += v * v;
    }
    memcpy(y, x, n * sizeof *x);
    CHECK(room_apply(r, y, n, &d) == 0, "room_apply");
    const double g = sqrt(dry / wet);
    double worst = 0, out = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(y[i] - ref[i] * g));
        out += (double)y[i] * y[i];
    }
    CHECK(worst < 1e-4, "differs from the direct convolution by %g", worst);
    CHECK(fabs(sqrt(out / dry) - 1.0) < 1e-4, "level %g of the dry one", sqrt(out / dry));
    memcpy(x, y, n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(ref[i] * g); /* any input will do for the repeat */
    float *z = malloc(n * sizeof *z);
    memcpy(z, y, n * sizeof *z);
    room_apply(r, y, n, &d);
    room_apply(r, z, n, &d);
    CHECK(memcmp(y, z, n * sizeof *y) == 0, "the same room twice gave different bits");
    room_draw other = d;
    other.seed = 43;
    memcpy(z, x, n * sizeof *z);
    room_apply(r, z, n, &other);
    room_apply(r, x, n, &d);
    CHECK(memcmp(x, z, n * sizeof *x) != 0, "another seed gave the same room");
    CHECK(room_apply(r, z, n + 1, &d) == -1, "a recording longer than the room was made for");
    free(h), free(x), free(y), free(z), free(ref);
    room_free(r);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {{"dft", case_dft},         {"tone", case_tone},     {"resample", case_resample},
                 {"corrupt", case_corrupt}, {"blocks", case_blocks}, {"cmvn", case_cmvn},
                 {"norm_prior", case_norm_prior}, {"warp", case_warp}, {"cepstra", case_cepstra},
                 {"pipe", case_pipe}, {"room", case_room}};
    if (argc != 2) {
        fprintf(stderr, "usage: test_frontend CASE\n");
        return 1;
    }
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/rh-audio-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    int found = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            found = 1;
        }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    if (!found) {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 1;
    }
    if (failures)
        fprintf(stderr, "%s: %d check(s) failed\n", argv[1], failures);
    return failures ? 1 : 0;
}
