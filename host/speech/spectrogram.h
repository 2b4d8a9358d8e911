/* Log-mel spectrogram: Hann-windowed frames, FFTW's real-to-complex transform, power spectrum, a
 * triangular mel filterbank on the HTK mel scale, log, and per-utterance mean and variance normalisation.
 *
 * Framing: frame k covers samples [k*hop_length, k*hop_length + win_length); there is no padding at
 * either end, so N samples give 1 + (N - win_length) / hop_length frames (none when N < win_length) and
 * trailing samples too few for another frame are dropped. The window sits at the start of the n_fft
 * buffer, the rest is zero.
 *
 * Mel scale (HTK): mel(f) = 2595 * log10(1 + f / 700). n_mels + 2 points equally spaced in mel from
 * fmin to fmax are the edges and centres of n_mels triangles; each triangle is 1 at its centre and 0 at
 * its neighbours' centres, evaluated at the FFT bin frequencies k * sample_rate / n_fft (no area
 * normalisation). A log-mel value is log(sum of power * weight + 1e-6).
 *
 * Cepstral smoothing (n_cepstra > 0): each frame of log-mels x becomes C_K^T C_K x, where C_K is the first
 * n_cepstra rows of the orthonormal DCT-II over the n_mels channels; n_cepstra = n_mels changes nothing. */
#ifndef RNNHOST_SPECTROGRAM_H
#define RNNHOST_SPECTROGRAM_H

#include <stddef.h>

typedef struct spec_settings {
    int sample_rate; /* Hz, of the samples fed in */
    int n_fft;       /* transform size; n_fft / 2 + 1 power bins */
    int win_length;  /* samples per frame, at most n_fft */
    int hop_length;  /* samples between frame starts */
    int n_mels;      /* filterbank channels */
    double fmin;     /* Hz, lower edge of the first triangle */
    double fmax;     /* Hz, upper edge of the last triangle, at most sample_rate / 2 */
    int n_cepstra;   /* 0: off; else every log-mel frame keeps only its first n_cepstra cepstral coefficients
                      * (DCT-II over the channels, orthonormal), taken back to n_mels channels: the
                      * spectral envelope without the ripple of resolved pitch harmonics */
} spec_settings;

/* 16 kHz, n_fft 400, window 400 (25 ms), hop 160 (10 ms), 40 mels from 20 Hz to 8 kHz, no smoothing. */
spec_settings spec_default_settings(void);

/* 0, or -1 with one line in err saying which setting is wrong. */
int spec_check_settings(const spec_settings *s, char *err, size_t err_len);

/* The centre frequency of mel channel m (0-based), in Hz. */
double spec_mel_centre_hz(const spec_settings *s, int m);

typedef struct spectrogram spectrogram;

/* Builds the window, the filterbank and the FFTW plan (once; plan creation is serialised by a mutex, so
 * spectrograms may be created from several threads). NULL with one line in err on bad settings or out of
 * memory. */
spectrogram *spec_new(const spec_settings *s, char *err, size_t err_len);

void spec_free(spectrogram *sp);

const spec_settings *spec_settings_of(const spectrogram *sp);

/* Vocal tract length perturbation, for training: from now on the filterbank takes frequency f for f * a,
 * so a tone at f lands in the band of f * a, as from a shorter (a > 1) or longer vocal tract. Above a knee
 * (85 % of fmax, or of fmax / a when a > 1) a straight line takes fmax to fmax. 1 is no warp. 0, or -1 when a
 * is outside 0.5..2 or memory runs out (the filterbank is then the one before). Allocates: not for the
 * real-time path. */
int spec_set_warp(spectrogram *sp, double a);

/* How many frames the next spec_feed of n samples will produce: the row count out must have room for. */
size_t spec_frames_for(const spectrogram *sp, size_t n);

/* Feeds n samples and writes every frame they complete into out, which is (spec_frames_for(sp, n),
 * n_mels). Returns how many frames were written. Any split of a signal into calls gives the same frames.
 * Allocates nothing. */
size_t spec_feed(spectrogram *sp, float *out, const float *x, size_t n);

/* Forgets the samples held back for the next frame, to start a new utterance. */
void spec_reset(spectrogram *sp);

/* One frame's power spectrum: frame (win_length samples) is windowed, zero-padded to n_fft and
 * transformed. power is (n_fft / 2 + 1). Allocates nothing. */
void spec_power(spectrogram *sp, float *power, const float *frame);

/* Log-mel of one power spectrum, smoothed when n_cepstra is set: logmel is (n_mels), power is
 * (n_fft / 2 + 1). Uses sp's scratch: one call at a time per spectrogram. */
void spec_logmel(spectrogram *sp, float *logmel, const float *power);

/* The log-mel of one frame (win_length samples), as spec_feed makes it: logmel is (n_mels). Uses sp's
 * scratch: one call at a time per spectrogram; spectrograms of the same settings on several threads make
 * the frames of one signal between them, each the same bits as spec_feed. Allocates nothing. */
void spec_frame(spectrogram *sp, float *logmel, const float *frame);

/* Per-utterance normalisation in place: every channel of x, which is (frames, n_mels), gets mean 0 and
 * variance 1 over the frames (a constant channel becomes 0). */
void spec_cmvn(float *x, size_t frames, size_t n_mels);

/* spec_cmvn with the mean and variance taken over frames [from, to) only, then applied to every frame
 * (all frames when the range is empty or past the end). */
void spec_cmvn_over(float *x, size_t frames, size_t n_mels, size_t from, size_t to);

/* The level of x (frames, n_mels): the largest mean over the channels of one frame. A file's loudness,
 * whatever its share of silence. 0 when frames is 0. */
double spec_level(const float *x, size_t frames, size_t n_mels);

/* Normalisation with a prior, in place: the file's level is subtracted from every value, then each channel
 * is standardised with a mean and variance that pool the file's own frames with `prior` frames of the
 * training set's statistics (mean[c], var[c], of level-free features). A one-word clip is normalised
 * mostly by the training set's statistics, so its own spectrum is not subtracted away; hours of audio by
 * their own, as spec_cmvn would. */
void spec_norm_prior(float *x, size_t frames, size_t n_mels, const float *mean, const float *var, double prior);

/* spec_norm_prior with the level and the file's own statistics taken over frames [from, to) only, then
 * applied to every frame (all frames when the range is empty or past the end). */
void spec_norm_prior_over(float *x, size_t frames, size_t n_mels, const float *mean, const float *var, double prior,
                          size_t from, size_t to);

/* FFTW's planner is not thread-safe: every plan the host makes or destroys is made under this one lock. */
void spec_fftw_lock(void);
void spec_fftw_unlock(void);

#endif /* RNNHOST_SPECTROGRAM_H */
