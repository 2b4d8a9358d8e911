/* The player's scheduler: a generator thread keeps the source ahead of the clock and the calling thread sends
 * each event when it is due. Everything either thread needs is allocated in player_run before they start. */
#include "player.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "spscring.h"

/* ---- time ----------------------------------------------------------------------------------------------- */

int64_t player_monotonic_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    /* an interrupted sleep just returns early: both loops re-check their clock and flags anyway */
    nanosleep(&ts, NULL);
}

/* ---- the engine ----------------------------------------------------------------------------------------- */

typedef struct engine {
    const player_config *cfg;
    player_clock clock;
    int64_t origin_us;
    int64_t lookahead_us;
    spsc_ring out, in; /* generator -> player: what to play; player -> generator: what was heard */
    atomic_int stop_generator;
    atomic_int generator_done; /* 0 running, else the PLAYER_END or PLAYER_ERROR it ended with */
    atomic_uint turn;          /* the player moves it on when the human plays */
    _Atomic int64_t horizon_us; /* the generator has produced everything due before this */
    uint8_t sounding[16][128];  /* notes the player has turned on and not yet off */
    size_t record_cap;          /* res->sent holds this many */
} engine;

static int64_t perf_now(const engine *e)
{
    return e->clock.now_us(e->clock.ctx) - e->origin_us;
}

static void *generator_main(void *arg)
{
    engine *e = arg;
    const player_source *src = &e->cfg->source;
    player_event pending, heard;
    int have_pending = 0;
    unsigned last_turn = 0;
    while (!atomic_load_explicit(&e->stop_generator, memory_order_acquire)) {
        /* the turn is read before the heard ring is drained: the player pushes what it heard before it
         * moves the turn on, so a new turn always comes with its input */
        unsigned turn = atomic_load_explicit(&e->turn, memory_order_acquire);
        const player_event *h;
        while ((h = spsc_ring_peek(&e->in)) != NULL) {
            heard = *h;
            spsc_ring_pop(&e->in);
            if (src->heard)
                src->heard(src->ctx, &heard);
        }
        if (turn != last_turn) {
            last_turn = turn;
            have_pending = 0; /* generated for a turn the human took over */
        }
        const int64_t now = perf_now(e), limit = now + e->lookahead_us;
        if (!have_pending) {
            if (atomic_load_explicit(&e->horizon_us, memory_order_relaxed) >= limit) {
                sleep_us(2000);
                continue;
            }
            int r = src->next(src->ctx, &pending, now, limit);
            if (r == PLAYER_IDLE) {
                if (pending.due_us > atomic_load_explicit(&e->horizon_us, memory_order_relaxed))
                    atomic_store_explicit(&e->horizon_us, pending.due_us, memory_order_release);
                sleep_us(2000);
                continue;
            }
            if (r != PLAYER_EVENT) {
                atomic_store_explicit(&e->generator_done, r == PLAYER_END ? PLAYER_END : PLAYER_ERROR,
                                      memory_order_release);
                return NULL;
            }
            pending.turn = turn;
            have_pending = 1;
        }
        if (spsc_ring_push(&e->out, &pending) == 0) {
            have_pending = 0;
            if (pending.due_us > atomic_load_explicit(&e->horizon_us, memory_order_relaxed))
                atomic_store_explicit(&e->horizon_us, pending.due_us, memory_order_release);
        } else {
            sleep_us(1000); /* the ring is full: the player is far enough behind us */
        }
    }
    return NULL;
}

/* Sends and records one message; keeps the sounding-note table. -1 when the output failed. */
static int emit(engine *e, player_result *res, const player_event *ev, int scheduled)
{
    const player_config *cfg = e->cfg;
    const int64_t sent = perf_now(e);
    int rc = 0;
    if (cfg->output.send)
        rc = cfg->output.send(cfg->output.ctx, ev, e->origin_us + (scheduled ? ev->due_us : sent));
    if (player_event_is_note_on(ev))
        e->sounding[ev->status & 0x0F][ev->data1 & 0x7F] = 1;
    else if (player_event_is_note_off(ev))
        e->sounding[ev->status & 0x0F][ev->data1 & 0x7F] = 0;
    if (res->n_sent < (scheduled ? cfg->record_capacity : e->record_cap)) {
        player_sent *s = &res->sent[res->n_sent++];
        s->sent_us = sent;
        s->due_us = scheduled ? ev->due_us : sent;
        s->status = ev->status;
        s->data1 = ev->data1;
        s->data2 = ev->data2;
        s->scheduled = (uint8_t)scheduled;
    } else {
        res->n_unrecorded++;
    }
    return rc;
}

/* Note-offs for every note the player left sounding. */
static void release_all(engine *e, player_result *res)
{
    for (int ch = 0; ch < 16; ch++)
        for (int p = 0; p < 128; p++)
            if (e->sounding[ch][p]) {
                player_event off = {0, 0, (uint8_t)(0x80 | ch), (uint8_t)p, 0};
                emit(e, res, &off, 0);
            }
}

int player_run(player_result *res, const player_config *cfg)
{
    memset(res, 0, sizeof *res);
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->cfg = cfg;
    e->clock = cfg->clock;
    if (!e->clock.now_us)
        e->clock.now_us = player_monotonic_us;
    e->lookahead_us = cfg->lookahead_us > 0 ? cfg->lookahead_us : 1500000;
    const int64_t preroll = cfg->preroll_us > 0 ? cfg->preroll_us : 200000;
    atomic_init(&e->stop_generator, 0);
    atomic_init(&e->generator_done, 0);
    atomic_init(&e->turn, 0);
    atomic_init(&e->horizon_us, INT64_MIN);
    /* room beyond the capacity for what a stop sends (every note off, 32 controller messages), so the
     * record always ends the way the performance did */
    e->record_cap = cfg->record_capacity + 16 * 128 + 32;
    res->sent = malloc(e->record_cap * sizeof *res->sent);
    if (!res->sent || spsc_ring_init(&e->out, cfg->ring_capacity ? cfg->ring_capacity : 4096) != 0 ||
        spsc_ring_init(&e->in, 1024) != 0) {
        spsc_ring_free(&e->out), spsc_ring_free(&e->in), free(e);
        free(res->sent), res->sent = NULL;
        return -1;
    }
    e->origin_us = e->clock.now_us(e->clock.ctx) + preroll;
    res->origin_us = e->origin_us;

    pthread_t generator;
    if (pthread_create(&generator, NULL, generator_main, e) != 0) {
        spsc_ring_free(&e->out), spsc_ring_free(&e->in), free(e);
        free(res->sent), res->sent = NULL;
        return -1;
    }

    /* after the generator has started, so it does not inherit the real-time policy */
    int old_policy = SCHED_OTHER, rt = 0;
    struct sched_param old_param;
    const int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (cfg->realtime) {
        struct sched_param p = {0};
        p.sched_priority = sched_get_priority_min(SCHED_FIFO) + 9;
        prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); /* the default 50 us would be most of our lateness */
        rt = pthread_getschedparam(pthread_self(), &old_policy, &old_param) == 0 &&
             pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0;
    }

    player_event heard[64];
    int behind = 0; /* inside an underrun: counted once however long it lasts */
    unsigned turn = 0;
    for (;;) {
        if (cfg->stop && *cfg->stop) {
            res->interrupted = 1;
            break;
        }
        int64_t now = perf_now(e);
        if (cfg->duration_us > 0 && now >= cfg->duration_us)
            break;

        if (cfg->input.poll) {
            int n = cfg->input.poll(cfg->input.ctx, heard, (int)(sizeof heard / sizeof heard[0]));
            int human_played = 0;
            for (int i = 0; i < n; i++) {
                if (!player_event_is_note_on(&heard[i]) && !player_event_is_note_off(&heard[i]))
                    continue;
                heard[i].due_us -= e->origin_us;
                spsc_ring_push(&e->in, &heard[i]); /* a full ring drops what the model cannot keep up with */
                human_played = 1;
            }
            if (human_played) {
                /* the human has the floor: what the model prepared is dropped and its notes end */
                atomic_store_explicit(&e->turn, ++turn, memory_order_release);
                release_all(e, res);
            }
        }

        const player_event *ev;
        int failed = 0;
        while ((ev = spsc_ring_peek(&e->out)) != NULL) {
            if (ev->turn != turn) {
                spsc_ring_pop(&e->out);
                res->dropped++;
                continue;
            }
            if (ev->due_us > now)
                break;
            if (cfg->duration_us > 0 && ev->due_us >= cfg->duration_us)
                break;
            player_event send = *ev;
            spsc_ring_pop(&e->out);
            if (emit(e, res, &send, 1) != 0) {
                failed = 1;
                break;
            }
            now = perf_now(e);
        }
        if (failed) {
            res->send_failed = 1;
            break;
        }

        int64_t wake = now + 1000; /* input and the stop flag are looked at every millisecond */
        if (ev) {
            behind = 0;
            if (ev->due_us < wake)
                wake = ev->due_us;
        } else {
            int done = atomic_load_explicit(&e->generator_done, memory_order_acquire);
            if (done) {
                /* the generator pushed its last event before saying so: look once more */
                if (spsc_ring_peek(&e->out))
                    continue;
                res->source_failed = done == PLAYER_ERROR;
                break;
            }
            /* during the preroll the generator is still getting ahead: that is what the preroll is for */
            if (now >= 0 && atomic_load_explicit(&e->horizon_us, memory_order_acquire) < now) {
                if (!behind)
                    res->underruns++;
                behind = 1;
            } else {
                behind = 0;
            }
        }
        if (cfg->duration_us > 0 && cfg->duration_us < wake)
            wake = cfg->duration_us;
        sleep_us(wake - perf_now(e));
    }

    if (rt)
        pthread_setschedparam(pthread_self(), old_policy, &old_param);
    if (cfg->realtime && old_slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0);
    atomic_store_explicit(&e->stop_generator, 1, memory_order_release);
    pthread_join(generator, NULL);

    release_all(e, res);
    if (res->interrupted)
        for (int ch = 0; ch < 16; ch++) {
            player_event notes_off = {0, 0, (uint8_t)(0xB0 | ch), 123, 0};
            player_event sound_off = {0, 0, (uint8_t)(0xB0 | ch), 120, 0};
            emit(e, res, &notes_off, 0);
            emit(e, res, &sound_off, 0);
        }
    spsc_ring_free(&e->out), spsc_ring_free(&e->in), free(e);
    return 0;
}
