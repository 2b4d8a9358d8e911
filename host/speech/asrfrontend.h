/* What a speech model hears: an utterance between two stretches of near-silence (the model's padding), as
 * log-mel frames, normalised, stacked into model steps. Training, transcription and `rnnhost features -m`
 * all take the padding from here, so the three can never hear different things. */
#ifndef RNNHOST_ASRFRONTEND_H
#define RNNHOST_ASRFRONTEND_H

#include <stddef.h>

#include "asrmodel.h"
#include "spectrogram.h"

/* Samples of padding at each end of an utterance: pad_ms at the model's rate. */
size_t asr_pad_length(const asr_model *m);

/* The k-th sample of the padding: noise uniform within one step of 16-bit audio (about -100 dBFS), the
 * quiet of a pause in a recording rather than digital zero, the same at every call. */
float asr_pad_sample(size_t k);

/* Samples first .. first + n - 1 of the padding into dst, for a reader that feeds it in pieces. */
void asr_pad_fill(float *dst, size_t first, size_t n);

/* Log-mel frames of one utterance as the model hears it, before normalisation: the padding, the n
 * samples, the padding again, through sp (reset first). mel has room for the frames of
 * n + 2 * asr_pad_length samples. Returns the frames written. Allocates nothing. */
size_t asr_mel(float *mel, spectrogram *sp, const asr_model *m, const float *samples, size_t n);

/* The frames of asr_mel's output (frames in all) that the recording made: those starting inside the
 * padding are left out, so [*from, *to) is what normalisation statistics are taken over. All frames when
 * there is no padding. */
void asr_mel_recording(const asr_model *m, size_t frames, size_t *from, size_t *to);

/* Model steps the features of n samples make. */
size_t asr_steps_for(const asr_model *m, size_t n_samples);

/* Features of one utterance: x is (asr_steps_for(n), asr_input_dim) written into caller memory; mel is
 * scratch of (frames, n_mels) with frames = spec_frames_for of a fresh spectrogram fed the n samples and
 * the padding (2 * asr_pad_length). sp must be a spectrogram of m->fe; it is reset first. Returns the
 * steps written. */
size_t asr_features(float *x, float *mel, spectrogram *sp, const asr_model *m, const float *samples, size_t n);

#endif /* RNNHOST_ASRFRONTEND_H */
