/* An event-token language model (task "midi-lm") stepping one token at a time: the streaming side of
 * `generate` and `play`. Everything is allocated in event_gen_open; next and feed never allocate. */
#ifndef RNNHOST_EVENTGEN_H
#define RNNHOST_EVENTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"

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

void event_gen_close(event_gen *g);

#endif /* RNNHOST_EVENTGEN_H */
