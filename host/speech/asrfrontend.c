#include "asrfrontend.h"

#include <stdint.h>
#include <string.h>

size_t asr_pad_length(const asr_model *m)
{
    return (size_t)m->pad_ms * (size_t)m->fe.sample_rate / 1000;
}

float asr_pad_sample(size_t k)
{
    /* a hash of the position (splitmix64's finaliser): the same noise however the padding is fed */
    uint64_t z = (uint64_t)k + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0) * (1.0f / 32768.0f);
}

void asr_pad_fill(float *dst, size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = asr_pad_sample(first + i);
}

/* The n samples of padding through sp, a block at a time on the stack, so asr_mel allocates nothing. */
static size_t feed_pad(spectrogram *sp, float *mel, size_t n)
{
    float block[256];
    size_t frames = 0;
    const size_t M = (size_t)spec_settings_of(sp)->n_mels;
    for (size_t at = 0; at < n; at += 256) {
        const size_t k = n - at < 256 ? n - at : 256;
        asr_pad_fill(block, at, k);
        frames += spec_feed(sp, mel + frames * M, block, k);
    }
    return frames;
}

size_t asr_mel(float *mel, spectrogram *sp, const asr_model *m, const float *samples, size_t n)
{
    const size_t pad = asr_pad_length(m), M = (size_t)m->fe.n_mels;
    spec_reset(sp);
    size_t frames = feed_pad(sp, mel, pad);
    frames += spec_feed(sp, mel + frames * M, samples, n);
    return frames + feed_pad(sp, mel + frames * M, pad);
}

void asr_mel_recording(const asr_model *m, size_t frames, size_t *from, size_t *to)
{
    const size_t pf = asr_pad_length(m) / (size_t)m->fe.hop_length;
    *from = 0, *to = frames;
    if (frames > 2 * pf)
        *from = pf, *to = frames - pf;
}

size_t asr_steps_for(const asr_model *m, size_t n_samples)
{
    n_samples += 2 * asr_pad_length(m);
    size_t frames = n_samples < (size_t)m->fe.win_length ? 0 : 1 + (n_samples - (size_t)m->fe.win_length) / (size_t)m->fe.hop_length;
    return frames / m->stack;
}

size_t asr_features(float *x, float *mel, spectrogram *sp, const asr_model *m, const float *samples, size_t n)
{
    const size_t M = (size_t)m->fe.n_mels, S = m->stack;
    const size_t frames = asr_mel(mel, sp, m, samples, n);
    size_t from, to;
    asr_mel_recording(m, frames, &from, &to);
    if (m->norm_prior > 0)
        spec_norm_prior_over(mel, frames, M, m->norm_mean, m->norm_var, m->norm_prior, from, to);
    else
        spec_cmvn_over(mel, frames, M, from, to);
    const size_t steps = frames / S;
    // step t is frames t*S .. t*S+S-1 side by side: the rows are already contiguous
    memcpy(x, mel, steps * S * M * sizeof *x);
    return steps;
}
