/* The real-time MIDI engine behind `rnnhost play`: a generator thread runs an event source ahead of the
 * clock into a lock-free ring, and the player (the calling thread) sends each event when it is due.
 *
 * Threads: player_run blocks the calling thread (the player) and starts one generator thread for its
 * duration. The source's callbacks run on the generator thread only; the output, input and clock
 * callbacks on the player thread only. Neither thread allocates, locks or does I/O (beyond the MIDI
 * calls themselves) while running: rings and the record are sized in player_run before the threads start.
 *
 * Times are microseconds. "Performance time" starts at 0 when the performance starts (after a short
 * preroll that lets the generator get ahead); the clock callback tells the player's own time base. */
#ifndef RNNHOST_PLAYER_H
#define RNNHOST_PLAYER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "smf.h"

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

/* Where events go. Called on the player thread only. */
typedef struct player_output {
    /* Sends one message now; it should sound at clock time at_us (plus the device's latency). 0 or -1. */
    int (*send)(void *ctx, const player_event *ev, int64_t at_us);
    void *ctx;
} player_output;

/* What the human plays. Called on the player thread only. */
typedef struct player_input {
    /* Up to max messages received so far (due_us = when received, in clock time); how many, or -1. */
    int (*poll)(void *ctx, player_event *evs, int max);
    void *ctx;
} player_input;

/* The player's clock, microseconds, monotonic. NULL now_us: CLOCK_MONOTONIC. */
typedef struct player_clock {
    int64_t (*now_us)(void *ctx);
    void *ctx;
} player_clock;

/* One message that was sent, as the record keeps it. */
typedef struct player_sent {
    int64_t sent_us;  /* performance time when send was called */
    int64_t due_us;   /* performance time it was due (equal to sent_us for the messages of a stop) */
    uint8_t status, data1, data2;
    uint8_t scheduled; /* 1: a source event (counts in the lateness statistics); 0: sent by the player */
} player_sent;

typedef struct player_config {
    player_source source;
    player_output output;   /* send NULL: record only */
    player_input input;     /* poll NULL: no input, the source plays freely */
    player_clock clock;
    int64_t duration_us;    /* performance time at which to stop; 0: until stopped */
    int64_t lookahead_us;   /* how far ahead of the clock the generator runs; 0: 1.5 s */
    int64_t preroll_us;     /* from player_run to performance time 0; 0: 200 ms */
    size_t record_capacity; /* messages kept in the record; later ones are sent but not kept */
    size_t ring_capacity;   /* events between generator and player (rounded up to a power of 2); 0: 4096 */
    /* Set by a signal handler to stop: the player sends note-offs for what sounds, then all-notes-off
     * (CC 123) and all-sound-off (CC 120) on all 16 channels. May be NULL. */
    const volatile sig_atomic_t *stop;
    /* Ask for real-time scheduling (SCHED_FIFO, low priority) and no timer slack for the player thread
     * while it runs; best effort: without the privilege the player runs as before. The generator
     * thread keeps the normal policy, so a slow model cannot starve the machine. */
    int realtime;
} player_config;

typedef struct player_result {
    player_sent *sent;   /* (n_sent) in the order sent; owned: player_result_free */
    size_t n_sent;
    size_t n_unrecorded; /* sent after the record was full */
    uint64_t underruns;  /* times the player found the generator behind the clock */
    uint64_t dropped;    /* source events discarded because the human started playing */
    int interrupted;     /* stopped through config.stop */
    int source_failed;   /* the source returned PLAYER_ERROR */
    int send_failed;     /* an output send returned -1 (the performance stopped) */
    int64_t origin_us;   /* clock time of performance time 0 */
} player_result;

/* Lateness (sent - due) of the scheduled messages of a result, in microseconds. */
typedef struct player_lateness {
    size_t count;
    double median_us, p99_us, max_us;
} player_lateness;

/* Runs a performance to its end (duration, source end, stop flag or a failed send). 0, or -1 when the
 * rings, the record or the thread could not be set up (nothing was sent). */
int player_run(player_result *res, const player_config *cfg);

/* Lateness statistics of res (allocates a sorted copy; call after player_run). -1 on allocation failure. */
int player_lateness_stats(player_lateness *out, const player_result *res);

/* A format-0 Standard MIDI File of exactly the messages sent, at the times they were sent (division
 * PLAYER_SMF_DIVISION at 120 bpm: 0.5 ms per tick). -1 when memory runs out. */
#define PLAYER_SMF_DIVISION 1000
int player_record_to_smf(smf_file *out, const player_result *res);

void player_result_free(player_result *res);

/* An event-token source (host/music/music.h tokens) over any token model: the token/MIDI conversion and the
 * call-and-response policy of `rnnhost play`, testable without a model.
 * Without input the model plays freely. With input, what the human plays is fed to the model as tokens
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

/* Microseconds of a duration string: "20s", "1.5s", "250ms", "2m", or plain seconds "20". -1 if invalid. */
int64_t player_parse_duration_us(const char *text);

/* ---- PortMidi: the devices, and an output, input and clock for the player --------------------------- */

/* Initialises PortMidi and starts its clock. ALSA's own complaint on a machine without a sequencer
 * (printed straight to stderr) is kept off the terminal: the caller says it in one line instead. */
int midi_init(void);
void midi_terminate(void);

/* The PortMidi device id of spec: a device index, or a name (exact, then case-insensitive substring),
 * among outputs (want_output) or inputs. -1 when there is none. */
int midi_find_device(const char *spec, int want_output);

/* PortMidi's clock (Pt_Time, milliseconds) carried on with microsecond resolution by CLOCK_MONOTONIC
 * from the moment of midi_clock_init, so lateness below a millisecond can be measured. */
typedef struct midi_clock {
    int64_t mono0_us, pt0_us;
} midi_clock;
void midi_clock_init(midi_clock *c);
int64_t midi_clock_now_us(void *midi_clock_ctx);

/* The stream is a PortMidiStream *, opened by the caller with its latency: a message is timestamped
 * with the PortMidi time it is due, and PortMidi delays it by the latency. */
int midi_output_send(void *stream, const player_event *ev, int64_t at_us);
/* Note messages only; other messages are read and skipped. */
int midi_input_poll(void *stream, player_event *evs, int max);

#endif /* RNNHOST_PLAYER_H */
