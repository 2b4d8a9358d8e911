/* Music encodings: notes from MIDI files and back, Performance RNN style event tokens, piano rolls. */
#ifndef RNNHOST_MUSIC_H
#define RNNHOST_MUSIC_H

#include <stddef.h>
#include <stdint.h>

#include "smf.h"

typedef struct note {
    double start, end; /* seconds */
    uint8_t pitch;     /* 0..127 */
    uint8_t velocity;  /* 1..127 */
    uint8_t channel;   /* 0..15 */
} note;

/* Notes of a file, sorted by start then pitch: note-on paired with the next note-off (or note-on with
 * velocity 0) of the same channel and pitch; a note never ended ends at the last event. Drums (channel
 * 9) are kept. -1 on allocation failure. */
int notes_from_smf(note **notes, size_t *n, const smf_file *f);

/* A format-1 file of these notes at qpm quarter notes per minute (division 480), with a program change
 * to `program` (0..127) on every channel used. */
int notes_to_smf(smf_file *out, const note *notes, size_t n, double qpm, uint8_t program);

/* Event tokens (Performance RNN): note-on p, note-off p, a time shift of k*10 ms (k = 1..100), velocity
 * in 32 bins. A velocity token precedes a note-on only when the bin changes. */
enum {
    EV_NOTE_ON = 0,       /* + pitch, 128 tokens */
    EV_NOTE_OFF = 128,    /* + pitch, 128 tokens */
    EV_TIME_SHIFT = 256,  /* + k - 1 for a shift of k * 10 ms, 100 tokens */
    EV_VELOCITY = 356,    /* + bin, 32 tokens */
    EV_VOCAB = 388
};
#define EV_STEP_SECONDS 0.01
#define EV_MAX_SHIFT 100

/* Tokens of notes (times quantised to 10 ms, velocity to 32 bins; longer gaps become several shifts).
 * Channels are merged. -1 on allocation failure. */
int events_from_notes(int32_t **tokens, size_t *n, const note *notes, size_t nn);

/* Notes of tokens, best effort: a note-off without its note-on is ignored, a note still on at the end is
 * ended there, a repeated note-on ends the earlier note first. Velocity bin b maps to 4b + 2. */
int notes_from_events(note **notes, size_t *nn, const int32_t *tokens, size_t n);

/* Piano rolls: multi-hot frames of P pitches from `low`, one frame per step. */
#define ROLL_LOW 21   /* A0 */
#define ROLL_PITCHES 88
typedef struct pianoroll {
    uint32_t T;     /* frames */
    uint8_t *on;    /* (T, ROLL_PITCHES), 1 where a pitch sounds */
} pianoroll;

/* Every sequence of split `split` ("train", "valid", ...) of a JSON piano-roll file
 * ({"split": [[[pitch, ...], ...], ...]}): pitches outside 21..108 are an error naming the sequence and
 * step. -1 with one line in err. */
int pianorolls_from_json(pianoroll **rolls, size_t *n, const char *path, const char *split, char *err,
                         size_t err_len);

/* A roll of notes on a grid of `step` seconds (a note sounds in every frame its span covers for at least
 * half the frame). */
int pianoroll_from_notes(pianoroll *roll, const note *notes, size_t n, double step);

/* Notes of a roll (consecutive frames of a pitch join into one note), velocity 80, channel 0. */
int notes_from_pianoroll(note **notes, size_t *n, const pianoroll *roll, double step);

/* Augmentation: transposes by `semitones`; a note pushed outside 0..127 (or the roll's range) is dropped.
 * Returns how many were dropped. */
size_t notes_transpose(note *notes, size_t *n, int semitones);
/* The roll's counterpart: moves every frame by `semitones` in place; a pitch pushed outside the roll's
 * 88 is dropped. Returns how many sounding cells were dropped. */
size_t pianoroll_transpose(pianoroll *roll, int semitones);
/* Scales every time by factor (tempo stretch). */
void notes_stretch(note *notes, size_t n, double factor);

void pianorolls_free(pianoroll *rolls, size_t n);

#endif /* RNNHOST_MUSIC_H */
