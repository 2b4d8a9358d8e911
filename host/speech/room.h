/* Simulated rooms, for training a speech model to hear reverberant speech: an impulse response of a direct
 * path and a reverberant tail, applied to a recording by FFT convolution (FFTW).
 *
 * The response: 1 at sample 0 (the direct sound), nothing until the predelay (the first reflection), then
 * Gaussian noise whose envelope falls by 60 dB over the reverberation time rt60, scaled so that the direct
 * sound's energy over the tail's is drr_db. The noise comes from d->seed alone, so a room is reproducible.
 * A recording played in the room keeps its length (the tail past its end is dropped) and its RMS level. */
#ifndef RNNHOST_ROOM_H
#define RNNHOST_ROOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct room_draw {
    double rt60;     /* s, > 0 */
    double drr_db;   /* direct-to-reverberant energy ratio */
    double predelay; /* s, >= 0 */
    uint64_t seed;   /* of the tail's noise */
} room_draw;

typedef struct room room;

/* Buffers and plans for recordings of up to max_n samples at rate Hz and responses of up to max_seconds.
 * NULL when out of memory. */
room *room_new(size_t max_n, int rate, double max_seconds);
void room_free(room *r); /* NULL is fine */

/* The response of d into h[0..cap): its length (at most cap, and at most the room's longest). */
size_t room_response(const room *r, const room_draw *d, float *h, size_t cap);

/* Plays w[0..n) in room d, in place. 0, or -1 when n is beyond the room's max_n or FFTW cannot plan. */
int room_apply(room *r, float *w, size_t n, const room_draw *d);

#endif /* RNNHOST_ROOM_H */
