/* What flows through the real-time player (player.h): short MIDI messages on the performance timeline, and
 * the interface of whatever generates them. Times are microseconds of performance time. */
#ifndef RNNHOST_PLAYEREVENT_H
#define RNNHOST_PLAYEREVENT_H

#include <stdint.h>

/* One short MIDI message at a time on the performance timeline. */
typedef struct player_event {
    int64_t due_us;   /* when it should be sent, in performance time */
    uint32_t turn;    /* set by the player: the call-and-response turn it was generated in */
    uint8_t status;   /* 0x80..0xEF */
    uint8_t data1, data2;
} player_event;

enum {
    PLAYER_EVENT = 1, /* *ev is the next event */
    PLAYER_IDLE = 0,  /* nothing to play before ev->due_us: the generator asks again later */
    PLAYER_END = -1,  /* the source has nothing more, ever */
    PLAYER_ERROR = -2 /* the model failed; the performance stops as after PLAYER_END */
};

/* What generates. Called on the generator thread only. */
typedef struct player_source {
    /* The next event, due at or before limit_us if it can be; a source that reaches limit_us without an
     * event returns PLAYER_IDLE with ev->due_us set to how far it got. now_us is the performance time. */
    int (*next)(void *ctx, player_event *ev, int64_t now_us, int64_t limit_us);
    /* What the human played (note-on and note-off only, in performance time), in order. May be NULL. */
    void (*heard)(void *ctx, const player_event *ev);
    void *ctx;
} player_source;

/* A note-on with a velocity; a note-on of velocity 0 is a note-off, as MIDI has it. */
static inline int player_event_is_note_on(const player_event *ev)
{
    return (ev->status & 0xF0) == 0x90 && ev->data2 > 0;
}

static inline int player_event_is_note_off(const player_event *ev)
{
    return (ev->status & 0xF0) == 0x80 || ((ev->status & 0xF0) == 0x90 && ev->data2 == 0);
}

#endif /* RNNHOST_PLAYEREVENT_H */
