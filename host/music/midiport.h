/* The PortMidi back end of the player: the devices, and an output, an input and a clock for player_run
 * (player.h). Only these files know PortMidi's types; the player sees callbacks. */
#ifndef RNNHOST_MIDIPORT_H
#define RNNHOST_MIDIPORT_H

#include <stdint.h>

#include "playerevent.h"

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

#endif /* RNNHOST_MIDIPORT_H */
