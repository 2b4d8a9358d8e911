/* The real-time MIDI engine behind `rnnhost play`: a generator thread runs an event source ahead of the
 * clock into a lock-free ring, and the player (the calling thread) sends each event when it is due.
 *
 * Threads: player_run blocks the calling thread (the player) and starts one generator thread for its
 * duration. The source's callbacks run on the generator thread only; the output, input and clock
 * callbacks on the player thread only. Neither thread allocates, locks or does I/O (beyond the MIDI
 * calls themselves) while running: rings and the record are sized in player_run before the threads start.
 *
 * Times are microseconds. "Performance time" starts at 0 when the performance starts (after a short
 * preroll that lets the generator get ahead); the clock callback tells the player's own time base.
 *
 * The parts, each in its own file, all included here:
 *   playerevent.h  the events and the source interface
 *   spscring.h     the lock-free ring between the two threads (the scheduler's own, not included here)
 *   player.c       the scheduler: the generator thread and the real-time loop of player_run
 *   playerrecord.c what a performance leaves: the record, its lateness, a MIDI file of it
 *   tokensource.h  the event-token source over a model, with call and response
 *   midiport.h     the PortMidi back end: devices, output, input, clock */
#ifndef RNNHOST_PLAYER_H
#define RNNHOST_PLAYER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "midiport.h"
#include "playerevent.h"
#include "smf.h"
#include "tokensource.h"

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

/* The player's clock, microseconds, monotonic. NULL now_us: CLOCK_MONOTONIC (player_monotonic_us). */
typedef struct player_clock {
    int64_t (*now_us)(void *ctx);
    void *ctx;
} player_clock;

/* CLOCK_MONOTONIC in microseconds; ctx is not used. */
int64_t player_monotonic_us(void *ctx);

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

/* ---- the record (playerrecord.c) ---- */

/* Lateness statistics of res (allocates a sorted copy; call after player_run). -1 on allocation failure. */
int player_lateness_stats(player_lateness *out, const player_result *res);

/* A format-0 Standard MIDI File of exactly the messages sent, at the times they were sent (division
 * PLAYER_SMF_DIVISION at 120 bpm: 0.5 ms per tick). -1 when memory runs out. */
#define PLAYER_SMF_DIVISION 1000
int player_record_to_smf(smf_file *out, const player_result *res);

void player_result_free(player_result *res);

#endif /* RNNHOST_PLAYER_H */
