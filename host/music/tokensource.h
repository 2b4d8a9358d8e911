/* The event-token source of `rnnhost play`: the token/MIDI conversion and the call-and-response policy over
 * any model of music.h's event tokens, testable without a model. */
#ifndef RNNHOST_TOKENSOURCE_H
#define RNNHOST_TOKENSOURCE_H

#include <stdint.h>

#include "playerevent.h"

/* Without input the model plays freely. With input, what the human plays is fed to the model as tokens
 * (time shifts since the last event, velocity, note-on/off); once the human has been silent for
 * listen_us the model answers for answer_us of performance time, ends its notes, and listens again. */
typedef struct token_model {
    int32_t (*next)(void *ctx);              /* samples and conditions on the next token; -1 on failure */
    int (*feed)(void *ctx, int32_t token);   /* conditions on a token; 0 or -1 */
    void *ctx;
} token_model;

typedef struct token_source {
    token_model model;
    int call_and_response;
    int64_t listen_us;  /* silence that ends the human's turn (default 1 s) */
    int64_t answer_us;  /* length of an answer (default 4 s) */
    int64_t start_us;   /* performance time of the first free-running event (default 0) */
    /* the source's state; zeroed by token_source_init */
    int64_t clock_us, answer_end_us, last_heard_us, last_fed_us;
    int answering, heard_since_answer, ending, failed;
    int velocity, velocity_bin;
    uint32_t same_time;
    uint8_t sounding[128]; /* pitches the source has turned on (channel 0) */
    player_event queued;   /* a note-on that waits for the note-off of its repeated pitch */
    int has_queued;
} token_source;

void token_source_init(token_source *s, token_model model, int call_and_response);
/* The player_source over s. */
player_source token_source_player(token_source *s);

#endif /* RNNHOST_TOKENSOURCE_H */
