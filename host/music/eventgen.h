/* Music from a model, one step at a time: the streaming side of `generate` and `play`.
 *
 *   event_gen  an event-token language model (task "midi-lm") stepping one token at a time: what `play`
 *              performs live. Everything is allocated in event_gen_open; next and feed never allocate.
 *   music_gen  what `generate` writes a piece with: an event model, or a piano-roll model (task
 *              "pianoroll") stepping one frame at a time, behind one interface. Either way the piece is
 *              the primer's notes and what the model adds to them, and the same seed gives the same piece.
 */
#ifndef RNNHOST_EVENTGEN_H
#define RNNHOST_EVENTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"
#include "loader.h"
#include "music.h"
#include "musicrange.h"

/* The task of event models, as model files name it. */
#define EVENTS_TASK "midi-lm"

typedef struct event_gen event_gen;

/* Opens -m NAME (path or preset) of task "midi-lm". EXIT_OK, or EXIT_LOAD with one line in why. */
int event_gen_open(event_gen **g, plugin_registry *r, const char *model, uint64_t seed, float temperature,
                   uint32_t top_k, char *why, size_t why_len);

/* Conditions the model on one token (a primer, or what a player played). 0, or -1 on a model error. */
int event_gen_feed(event_gen *g, int32_t token);

/* Samples the next token from the model's current state and conditions on it. The token, or -1. */
int32_t event_gen_next(event_gen *g);

/* Back to the start state (as after open). */
void event_gen_reset(event_gen *g);

/* The longest a note may sound before the generator ends it: seconds; 0 for no limit; below 0 the longest
 * note of the model's training data, as its file records it (no limit for a file from before the record),
 * which is what open sets. Note-ons are always kept to the training data's pitches where the file records
 * them. */
void event_gen_set_max_note(event_gen *g, double seconds);

void event_gen_close(event_gen *g);

/* ---- pieces for generate --------------------------------------------------------------------------------- */

/* The kinds of generator, in the order messages list the tasks that offer them. */
typedef enum music_gen_kind { MUSIC_GEN_EVENTS, MUSIC_GEN_FRAMES } music_gen_kind;

typedef struct gen_piece {
    double seconds;      /* > 0: stop after this much music after the primer */
    uint64_t steps;      /* > 0: stop after this many model steps after the primer instead */
    double qpm;          /* piano rolls: their grid is a quarter note at this tempo over steps_per_quarter */
    const note *primer;  /* the piece starts with these notes, kept in it (NULL: none) */
    size_t n_primer;
} gen_piece;

typedef struct music_gen music_gen;

/* An event model's generator, as event_gen_open opens one. EXIT_OK, or an exit code with why. */
int music_gen_events(music_gen **g, plugin_registry *r, const char *path, float temperature, uint32_t top_k,
                     char *why, size_t why_len);

/* A piano-roll model's generator over hm (taken over: music_gen_close destroys it), whose frames are
 * 1/steps_per_quarter of a quarter note, kept to range (its file's record, musicrange.h; longest in
 * frames). EXIT_OK, or EXIT_FAIL with why. */
int music_gen_frames(music_gen **g, host_model *hm, uint32_t steps_per_quarter, const music_range *range,
                     float temperature, char *why, size_t why_len);

/* The longest a generated note may sound, as event_gen_set_max_note says (below 0: the model's record). */
void music_gen_set_max_note(music_gen *g, double seconds);

/* The piece for seed: the primer's notes and what follows them, into *notes (malloc'd). Stops early, the
 * piece so far kept, once host_interrupted is set. 0, or -1 on a model error or when memory runs out. */
int music_gen_piece(music_gen *g, uint64_t seed, const gen_piece *p, note **notes, size_t *n);

void music_gen_close(music_gen *g);

#endif /* RNNHOST_EVENTGEN_H */
