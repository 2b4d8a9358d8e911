/* What a music model's training data spanned: the lowest and highest pitch it sounded and its longest note.
 * Training measures it on what the model saw (augmented copies included) and keeps it in the model file
 * ("rnnhost.music"); generation keeps to it, so a model never starts a pitch it was never shown or holds a
 * note longer than any it learnt from. */
#ifndef RNNHOST_MUSICRANGE_H
#define RNNHOST_MUSICRANGE_H

#include <stddef.h>
#include <stdint.h>

#include "musicdata.h"
#include "rnnhost/weights.h"

#define MUSIC_RANGE_META "rnnhost.music"

typedef struct music_range {
    int low, high;  /* MIDI pitches, low <= high; low > high: nothing recorded (any pitch) */
    double longest; /* the longest note: seconds (event models) or frames (piano rolls); 0: not recorded */
} music_range;

/* Nothing recorded: every pitch, no limit. */
music_range music_range_none(void);

/* The range of an event-token stream (music.h): pitches of its note-ons, and the longest time between a
 * note-on and what ends it (its note-off, or a note-on of the same pitch). */
music_range events_range(const int32_t *tokens, size_t n);

/* The range of piano-roll sequences: sounding pitches, and the longest run of frames of one pitch. */
music_range rolls_range(const uint8_t *frames, const span *spans, size_t count);

/* The range as the JSON value of MUSIC_RANGE_META (80 bytes suffice); longest_unit says seconds or frames. */
void music_range_json(char *buf, size_t len, const music_range *r, const char *longest_unit);

/* The range a model file records (unit as music_range_json wrote it), or music_range_none() when it
 * records none or one that does not parse. */
music_range music_range_of(const rh_weights *w, const char *longest_unit);

#endif /* RNNHOST_MUSICRANGE_H */
