/* Music training and evaluation data: MIDI folders as event-token streams, JSON piano rolls as spans of
 * one frame array, and the one rule of what a piano-roll model sees at each step. Shared by `train`,
 * `eval` and `generate`, so all read and step through data the same way. */
#ifndef RNNHOST_MUSICDATA_H
#define RNNHOST_MUSICDATA_H

#include <stddef.h>
#include <stdint.h>

/* A sequence inside a larger array: [start, start + len). */
typedef struct span {
    size_t start;
    uint32_t len;
} span;

/* Every .mid/.midi file at or below path (path itself when it is a file), sorted, hidden entries
 * skipped; appended to *files (n used, cap allocated). -1 when path cannot be read. */
int list_midi(char ***files, size_t *n, size_t *cap, const char *path, int top);

/* Event tokens of every MIDI file below path, one after another, plus copies transposed by 1..transpose
 * semitones up and down and, when stretch > 1, copies played stretch times slower and faster. Files that do not parse are skipped and counted on stderr (`what` names the
 * option). -1 with one line on stderr when nothing usable is left. */
int midi_tokens(int32_t **ids, size_t *n, const char *path, uint32_t transpose, double stretch, const char *what);

/* The piano rolls of a JSON split (path ending in .json) or of the MIDI files at or below path, as spans
 * of one (frames, ROLL_PITCHES) array; sequences longer than max_len are cut into pieces (counted in *cut).
 * For MIDI, split "train" is nine files in ten, "valid" every tenth, "all" every file, and a frame is
 * 1/steps_per_quarter of a quarter note at the file's first tempo. -1 with one line on stderr. */
int roll_spans(uint8_t **frames, span **spans, size_t *count, const char *path, const char *split,
               uint32_t steps_per_quarter, uint32_t max_len, size_t *cut);

/* The task of piano-roll models, as model files name it. */
#define ROLL_TASK "pianoroll"

/* What a piano-roll model sees and predicts at step t of a sequence whose frames (ROLL_PITCHES each) start
 * at `frames`: the input x is frame t-1 (silence at t = 0) and the target frame t, so every frame is
 * predicted once. target may be NULL (generation, where frame t is still to be drawn). */
void roll_step(float *x, float *target, const uint8_t *frames, uint32_t t);

#endif /* RNNHOST_MUSICDATA_H */
