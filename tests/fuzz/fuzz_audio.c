/* Audio through the speech front end: libsndfile decodes the bytes through its virtual I/O
 * (audio_open_memory in host/speech/audio.c), the reader mixes down and resamples to 16 kHz, and the
 * spectrogram (host/speech/spectrogram.c) turns the samples into normalised log-mel frames. */
#include <math.h>
#include <string.h>

#include "audio.h"
#include "fuzz.h"
#include "spectrogram.h"

/* Decoding stops after this many output samples: headers may promise hours of audio in a few bytes. */
#define MAX_SAMPLES 48000
#define PIECE 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static spectrogram *sp;
    static float samples[MAX_SAMPLES], *mel;
    char err[512];
    if (!sp) {
        const spec_settings s = spec_default_settings();
        FUZZ_ASSERT((sp = spec_new(&s, err, sizeof err)) != NULL);
        FUZZ_ASSERT((mel = malloc(spec_frames_for(sp, MAX_SAMPLES) * (size_t)s.n_mels * sizeof *mel)) != NULL);
    }
    // a small block makes the reader refill many times, as over a long file
    audio_reader *r = audio_open_memory(data, size, "fuzz.wav", 16000, 512, err, sizeof err);
    if (!r) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(audio_source_channels(r) >= 1 && audio_source_rate(r) >= 1000);
    size_t n = 0;
    long got;
    while (n < MAX_SAMPLES) {
        const size_t want = MAX_SAMPLES - n < PIECE ? MAX_SAMPLES - n : PIECE;
        got = audio_read(r, samples + n, want, err, sizeof err);
        FUZZ_ASSERT(got <= (long)want);
        if (got <= 0) {
            FUZZ_ASSERT(got == 0 || err[0] != '\0');
            break;
        }
        n += (size_t)got;
    }
    audio_close(r);
    // Float files pass their values through unscaled; the front end must survive whatever they hold.
    spec_reset(sp);
    size_t frames = 0;
    for (size_t at = 0; at < n; at += PIECE) {
        const size_t k = n - at < PIECE ? n - at : PIECE;
        frames += spec_feed(sp, mel + frames * (size_t)spec_settings_of(sp)->n_mels, samples + at, k);
    }
    spec_reset(sp);
    FUZZ_ASSERT(frames == spec_frames_for(sp, n));
    spec_cmvn(mel, frames, (size_t)spec_settings_of(sp)->n_mels);
    return 0;
}
