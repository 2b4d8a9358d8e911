#include "player.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <portmidi.h>
#include <porttime.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "music.h"

/* ---- a single-producer single-consumer ring ------------------------------------------------------------ */

/* head is only written by the producer and tail only by the consumer; each publishes with release and
 * reads the other's index with acquire, so a slot's contents are visible before its index moves. */
typedef struct spsc_ring {
    player_event *slots; /* (mask + 1) */
    size_t mask;
    _Alignas(64) atomic_size_t head;
    _Alignas(64) atomic_size_t tail;
} spsc_ring;

static int ring_init(spsc_ring *r, size_t capacity)
{
    size_t n = 2;
    while (n < capacity)
        n <<= 1;
    r->slots = calloc(n, sizeof *r->slots);
    r->mask = n - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r->slots ? 0 : -1;
}

static int ring_push(spsc_ring *r, const player_event *ev)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail > r->mask)
        return -1;
    r->slots[head & r->mask] = *ev;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return 0;
}

/* The oldest event, left in place, or NULL. */
static const player_event *ring_peek(spsc_ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return head == tail ? NULL : &r->slots[tail & r->mask];
}

static void ring_pop(spsc_ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

/* ---- time ----------------------------------------------------------------------------------------------- */

static int64_t monotonic_us(void *ctx)
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
        while ((h = ring_peek(&e->in)) != NULL) {
            heard = *h;
            ring_pop(&e->in);
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
        if (ring_push(&e->out, &pending) == 0) {
            have_pending = 0;
            if (pending.due_us > atomic_load_explicit(&e->horizon_us, memory_order_relaxed))
                atomic_store_explicit(&e->horizon_us, pending.due_us, memory_order_release);
        } else {
            sleep_us(1000); /* the ring is full: the player is far enough behind us */
        }
    }
    return NULL;
}

static int is_note_on(const player_event *ev)
{
    return (ev->status & 0xF0) == 0x90 && ev->data2 > 0;
}

static int is_note_off(const player_event *ev)
{
    return (ev->status & 0xF0) == 0x80 || ((ev->status & 0xF0) == 0x90 && ev->data2 == 0);
}

/* Sends and records one message; keeps the sounding-note table. -1 when the output failed. */
static int emit(engine *e, player_result *res, const player_event *ev, int scheduled)
{
    const player_config *cfg = e->cfg;
    const int64_t sent = perf_now(e);
    int rc = 0;
    if (cfg->output.send)
        rc = cfg->output.send(cfg->output.ctx, ev, e->origin_us + (scheduled ? ev->due_us : sent));
    if (is_note_on(ev))
        e->sounding[ev->status & 0x0F][ev->data1 & 0x7F] = 1;
    else if (is_note_off(ev))
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
        e->clock.now_us = monotonic_us;
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
    if (!res->sent || ring_init(&e->out, cfg->ring_capacity ? cfg->ring_capacity : 4096) != 0 ||
        ring_init(&e->in, 1024) != 0) {
        free(e->out.slots), free(e->in.slots), free(e);
        free(res->sent), res->sent = NULL;
        return -1;
    }
    e->origin_us = e->clock.now_us(e->clock.ctx) + preroll;
    res->origin_us = e->origin_us;

    pthread_t generator;
    if (pthread_create(&generator, NULL, generator_main, e) != 0) {
        free(e->out.slots), free(e->in.slots), free(e);
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
                if (!is_note_on(&heard[i]) && !is_note_off(&heard[i]))
                    continue;
                heard[i].due_us -= e->origin_us;
                ring_push(&e->in, &heard[i]); /* a full ring drops what the model cannot keep up with */
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
        while ((ev = ring_peek(&e->out)) != NULL) {
            if (ev->turn != turn) {
                ring_pop(&e->out);
                res->dropped++;
                continue;
            }
            if (ev->due_us > now)
                break;
            if (cfg->duration_us > 0 && ev->due_us >= cfg->duration_us)
                break;
            player_event send = *ev;
            ring_pop(&e->out);
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
                if (ring_peek(&e->out))
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
    free(e->out.slots), free(e->in.slots), free(e);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int player_lateness_stats(player_lateness *out, const player_result *res)
{
    memset(out, 0, sizeof *out);
    int64_t *late = malloc((res->n_sent + 1) * sizeof *late);
    if (!late)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < res->n_sent; i++)
        if (res->sent[i].scheduled)
            late[n++] = res->sent[i].sent_us - res->sent[i].due_us;
    if (n) {
        qsort(late, n, sizeof *late, cmp_i64);
        out->count = n;
        out->median_us = n % 2 ? (double)late[n / 2] : 0.5 * ((double)late[n / 2 - 1] + (double)late[n / 2]);
        /* nearest rank: the smallest lateness that at least 99% of the events do not exceed */
        size_t rank = (size_t)((99 * n + 99) / 100);
        out->p99_us = (double)late[rank - 1];
        out->max_us = (double)late[n - 1];
    }
    free(late);
    return 0;
}

int player_record_to_smf(smf_file *out, const player_result *res)
{
    memset(out, 0, sizeof *out);
    out->format = 0;
    out->ntracks = 1;
    out->division = PLAYER_SMF_DIVISION;
    /* 120 bpm, said explicitly so a reader need not know the default: 500000 us per quarter note */
    static const uint8_t tempo[3] = {0x07, 0xA1, 0x20};
    smf_event t = {0};
    t.status = 0xFF;
    t.data1 = 0x51;
    if (smf_append(out, &t, tempo, sizeof tempo) != 0)
        goto fail;
    const double ticks_per_us = PLAYER_SMF_DIVISION / 500000.0;
    uint64_t last = 0;
    for (size_t i = 0; i < res->n_sent; i++) {
        const player_sent *s = &res->sent[i];
        smf_event ev = {0};
        /* a message sent during the preroll (never, but a clock can jump) still keeps the order */
        int64_t us = s->sent_us > 0 ? s->sent_us : 0;
        uint64_t tick = (uint64_t)((double)us * ticks_per_us + 0.5);
        ev.tick = tick < last ? last : tick;
        last = ev.tick;
        ev.time = (double)us * 1e-6;
        ev.status = s->status;
        ev.data1 = s->data1;
        ev.data2 = s->data2;
        if (smf_append(out, &ev, NULL, 0) != 0)
            goto fail;
    }
    return 0;
fail:
    smf_free(out);
    return -1;
}

void player_result_free(player_result *res)
{
    free(res->sent);
    memset(res, 0, sizeof *res);
}

/* ---- event tokens over a model ------------------------------------------------------------------------ */

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
    if (is_note_on(ev)) {
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
        if (++s->same_time > TOKEN_MAX_SIMULTANEOUS) {
            s->clock_us += TOKEN_STEP_US;
            s->same_time = 1;
        }
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

int64_t player_parse_duration_us(const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || !(v >= 0) || text[0] == '-')
        return -1;
    double scale = 1e6;
    if (strcmp(end, "ms") == 0)
        scale = 1e3;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60e6;
    else if (strcmp(end, "h") == 0)
        scale = 3600e6;
    else if (*end && strcmp(end, "s") != 0)
        return -1;
    v *= scale;
    if (v > 1e15)
        return -1;
    return (int64_t)(v + 0.5);
}

/* ---- PortMidi --------------------------------------------------------------------------------------- */

/* PortMidi 217 keeps the default device names it allocates in Pm_Initialize for ever (Pm_Terminate does
 * not free them): not ours to fix, and not worth failing a sanitized run over. LeakSanitizer asks the
 * program for this hook. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PLAYER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PLAYER_ASAN)
#define PLAYER_ASAN 1
#endif
#ifdef PLAYER_ASAN
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libportmidi.so\n";
}
/* and quietly: the report of what was suppressed would break the one-line promise on stderr */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}
#endif

int midi_init(void)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);
    if (saved >= 0 && devnull >= 0)
        dup2(devnull, STDERR_FILENO);
    PmError rc = Pm_Initialize();
    if (saved >= 0 && devnull >= 0)
        dup2(saved, STDERR_FILENO);
    if (saved >= 0)
        close(saved);
    if (devnull >= 0)
        close(devnull);
    if (rc != pmNoError)
        return -1;
    if (!Pt_Started() && Pt_Start(1, NULL, NULL) != ptNoError) {
        Pm_Terminate();
        return -1;
    }
    return 0;
}

void midi_terminate(void)
{
    Pm_Terminate();
    if (Pt_Started())
        Pt_Stop();
}

static int has_direction(const PmDeviceInfo *info, int want_output)
{
    return info && (want_output ? info->output : info->input);
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

int midi_find_device(const char *spec, int want_output)
{
    const int count = Pm_CountDevices();
    char *end;
    errno = 0;
    long idx = strtol(spec, &end, 10);
    if (*spec && !*end && !errno && isdigit((unsigned char)spec[0]))
        return idx < count && has_direction(Pm_GetDeviceInfo((PmDeviceID)idx), want_output) ? (int)idx : -1;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < count; i++) {
            const PmDeviceInfo *info = Pm_GetDeviceInfo(i);
            if (!has_direction(info, want_output) || !info->name)
                continue;
            if (pass == 0 ? strcasecmp(info->name, spec) == 0 : contains_nocase(info->name, spec))
                return i;
        }
    return -1;
}

void midi_clock_init(midi_clock *c)
{
    c->pt0_us = (int64_t)Pt_Time() * 1000;
    c->mono0_us = monotonic_us(NULL);
}

int64_t midi_clock_now_us(void *ctx)
{
    const midi_clock *c = ctx;
    return c->pt0_us + (monotonic_us(NULL) - c->mono0_us);
}

int midi_output_send(void *stream, const player_event *ev, int64_t at_us)
{
    PmTimestamp ts = (PmTimestamp)((at_us + 500) / 1000);
    return Pm_WriteShort((PortMidiStream *)stream, ts, Pm_Message(ev->status, ev->data1, ev->data2)) == pmNoError
               ? 0
               : -1;
}

int midi_input_poll(void *stream, player_event *evs, int max)
{
    PmEvent buf[64];
    int n = 0;
    if (max > 64)
        max = 64;
    int got = Pm_Read((PortMidiStream *)stream, buf, max);
    if (got < 0)
        return -1;
    for (int i = 0; i < got; i++) {
        const uint8_t status = (uint8_t)Pm_MessageStatus(buf[i].message);
        if ((status & 0xE0) != 0x80) /* 0x80..0x9F: note-off and note-on */
            continue;
        player_event *ev = &evs[n++];
        ev->due_us = (int64_t)buf[i].timestamp * 1000;
        ev->turn = 0;
        ev->status = status;
        ev->data1 = (uint8_t)Pm_MessageData1(buf[i].message);
        ev->data2 = (uint8_t)Pm_MessageData2(buf[i].message);
    }
    return n;
}
