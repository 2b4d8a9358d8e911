#include "tokensource.h"

#include <string.h>

#include "music.h"

#define TOKEN_STEP_US ((int64_t)(EV_STEP_SECONDS * 1e6 + 0.5))
/* a model that never moves time on would flood the output: this many events at one instant is plenty */
#define TOKEN_MAX_SIMULTANEOUS 64
/* Silence longer than this tells the model nothing more */
#define TOKEN_MAX_FED_GAP_US 5000000
/* An answer is prepared this long before the listening silence is over, so it is due on time. */
#define TOKEN_ANSWER_LEAD_US 100000

void token_source_init(token_source *s, token_model model, int call_and_response)
{
    memset(s, 0, sizeof *s);
    s->model = model;
    s->call_and_response = call_and_response;
    s->listen_us = 1000000;
    s->answer_us = 4000000;
    s->velocity = 64;
    s->velocity_bin = -1;
}

/* Conditions the model on the silence from last_fed_us to t. */
static void feed_gap(token_source *s, int64_t t)
{
    int64_t gap = t - s->last_fed_us;
    if (gap > TOKEN_MAX_FED_GAP_US)
        gap = TOKEN_MAX_FED_GAP_US;
    int64_t k = (gap + TOKEN_STEP_US / 2) / TOKEN_STEP_US;
    while (k > 0 && !s->failed) {
        int64_t step = k < EV_MAX_SHIFT ? k : EV_MAX_SHIFT;
        if (s->model.feed(s->model.ctx, (int32_t)(EV_TIME_SHIFT + step - 1)) != 0)
            s->failed = 1;
        k -= step;
    }
    if (t > s->last_fed_us)
        s->last_fed_us = t;
}

static void token_heard(void *ctx, const player_event *ev)
{
    token_source *s = ctx;
    if (s->answering || s->ending) {
        /* the player has already silenced what was sounding */
        s->answering = s->ending = s->has_queued = 0;
        memset(s->sounding, 0, sizeof s->sounding);
    }
    s->heard_since_answer = 1;
    s->last_heard_us = ev->due_us;
    feed_gap(s, ev->due_us);
    const uint8_t pitch = ev->data1 & 0x7F;
    if (player_event_is_note_on(ev)) {
        int bin = ev->data2 / 4;
        if (bin != s->velocity_bin && s->model.feed(s->model.ctx, EV_VELOCITY + bin) != 0)
            s->failed = 1;
        s->velocity_bin = bin;
        if (s->model.feed(s->model.ctx, EV_NOTE_ON + pitch) != 0)
            s->failed = 1;
    } else if (s->model.feed(s->model.ctx, EV_NOTE_OFF + pitch) != 0) {
        s->failed = 1;
    }
}

static void make_event(player_event *ev, int64_t due, uint8_t status, uint8_t d1, uint8_t d2)
{
    ev->due_us = due;
    ev->turn = 0;
    ev->status = status;
    ev->data1 = d1;
    ev->data2 = d2;
}

static int token_next(void *ctx, player_event *ev, int64_t now_us, int64_t limit_us)
{
    token_source *s = ctx;
    if (s->failed)
        return PLAYER_ERROR;
    if (s->has_queued) {
        *ev = s->queued;
        s->has_queued = 0;
        return PLAYER_EVENT;
    }
    if (s->ending) {
        for (int p = 0; p < 128; p++)
            if (s->sounding[p]) {
                s->sounding[p] = 0;
                make_event(ev, s->answer_end_us, 0x80, (uint8_t)p, 0);
                return PLAYER_EVENT;
            }
        s->ending = 0;
    }
    if (s->call_and_response && !s->answering) {
        const int64_t start = s->last_heard_us + s->listen_us;
        if (!s->heard_since_answer || now_us < start - TOKEN_ANSWER_LEAD_US) {
            /* no answer can start before the silence is over, and the silence starts now at the earliest */
            ev->due_us = s->heard_since_answer ? start - TOKEN_ANSWER_LEAD_US : now_us + s->listen_us;
            return PLAYER_IDLE;
        }
        s->clock_us = start > now_us ? start : now_us;
        feed_gap(s, s->clock_us);
        s->answer_end_us = s->clock_us + s->answer_us;
        s->answering = 1;
        s->heard_since_answer = 0;
        s->same_time = 0;
    } else if (!s->call_and_response && s->clock_us < s->start_us) {
        s->clock_us = s->start_us;
    }
    for (;;) {
        if (s->failed)
            return PLAYER_ERROR;
        if (s->call_and_response && s->clock_us >= s->answer_end_us) {
            s->answering = 0;
            s->ending = 1;
            return token_next(ctx, ev, now_us, limit_us);
        }
        if (s->clock_us > limit_us) {
            ev->due_us = s->clock_us;
            return PLAYER_IDLE;
        }
        if (s->same_time >= TOKEN_MAX_SIMULTANEOUS) {
            /* time moves on a step, and the model is told, so that its clock (and the note lengths it keeps
             * to) stays the player's */
            if (s->model.feed(s->model.ctx, EV_TIME_SHIFT) != 0)
                return PLAYER_ERROR;
            s->clock_us += TOKEN_STEP_US;
            s->last_fed_us = s->clock_us;
            s->same_time = 0;
        }
        int32_t t = s->model.next(s->model.ctx);
        if (t < 0 || t >= EV_VOCAB)
            return PLAYER_ERROR;
        s->last_fed_us = s->clock_us;
        if (t >= EV_TIME_SHIFT && t < EV_VELOCITY) {
            s->clock_us += (int64_t)(t - EV_TIME_SHIFT + 1) * TOKEN_STEP_US;
            s->last_fed_us = s->clock_us;
            s->same_time = 0;
            continue;
        }
        if (t >= EV_VELOCITY) {
            s->velocity_bin = t - EV_VELOCITY;
            s->velocity = 4 * s->velocity_bin + 2;
            continue;
        }
        s->same_time++;
        const uint8_t pitch = (uint8_t)(t & 0x7F);
        if (t < EV_NOTE_OFF) {
            if (s->sounding[pitch]) {
                /* a repeated note-on ends the earlier note first, as notes_from_events reads it */
                make_event(&s->queued, s->clock_us, 0x90, pitch, (uint8_t)s->velocity);
                s->has_queued = 1;
                make_event(ev, s->clock_us, 0x80, pitch, 0);
                return PLAYER_EVENT;
            }
            s->sounding[pitch] = 1;
            make_event(ev, s->clock_us, 0x90, pitch, (uint8_t)s->velocity);
            return PLAYER_EVENT;
        }
        if (!s->sounding[pitch])
            continue; /* a note-off without its note-on sends nothing */
        s->sounding[pitch] = 0;
        make_event(ev, s->clock_us, 0x80, pitch, 0);
        return PLAYER_EVENT;
    }
}

player_source token_source_player(token_source *s)
{
    player_source p = {token_next, token_heard, s};
    return p;
}
