/* rnnhost play: an event-token model performing in real time through PortMidi (host/music/player.h), or,
 * without an output port, the same real-time loop only recording, so its timing can be measured. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <portmidi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "eventgen.h"
#include "hostlog.h"
#include "jsonout.h"
#include "interrupt.h"
#include "optgroups.h"
#include "player.h"

#define NO_PORTS_HINT                                                                                      \
    "this machine has no MIDI ports; 'rnnhost play --record FILE.mid' runs without one, and 'rnnhost "    \
    "generate -o FILE.mid' writes a file"

typedef struct play_opts {
    const char *model, *out_port, *in_port, *record;
    uint32_t latency_ms;
    double duration; /* seconds; 0: until Ctrl-C */
    opt_music music;
    opt_sampling sampling;
    opt_json json;
    opt_plugin plugin;
} play_opts;

static const play_opts defaults = {.latency_ms = 10};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(play_opts, model), .arg = "MODEL",
     .help = "an event model file, or the name of a shipped preset (e.g. folk)"},
    {.name = "output-port", .kind = CLI_STRING, .offset = offsetof(play_opts, out_port), .arg = "P",
     .help = "a MIDI output: index or name from 'rnnhost midi-devices'",
     .shown = "the system's default output, unless --record is given"},
    {.name = "input-port", .kind = CLI_STRING, .offset = offsetof(play_opts, in_port), .arg = "P",
     .help = "a MIDI input: what is played there primes the model, and after a second of silence the model "
             "answers for a few seconds"},
    {.name = "latency-ms", .kind = CLI_U32, .offset = offsetof(play_opts, latency_ms), .arg = "MS",
     .help = "how far ahead messages are timestamped, 0-10000; 0: sent the moment they are due", .max = 10000},
    {.name = "duration", .short_name = 'd', .kind = CLI_DURATION, .offset = offsetof(play_opts, duration),
     .arg = "D", .help = "stop after D: 20s, 1.5m, 500ms", .shown = "until Ctrl-C", .flags = CLI_ABOVE_ZERO},
    {.name = "record", .kind = CLI_STRING, .offset = offsetof(play_opts, record), .arg = "FILE.mid|-",
     .help = "write exactly what was sent, when it was sent (written at the end; '-' for stdout, a link is "
             "written through)"},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost play -m MODEL [--output-port NAME|INDEX] [--record FILE.mid] [OPTIONS]\n"
            "\n"
            "Plays an event-token model (trained with --task midi-lm) live: the model generates ahead of\n"
            "the clock on its own thread and the player sends each note when it is due, timestamped for\n"
            "PortMidi with the latency given. Without --output-port and with --record, the same real-time\n"
            "loop runs on PortMidi's clock and only records, and reports how late each event was sent.\n"
            "The music keeps to the model's training data as generate's does (pitches, --max-note).\n"
            "Ctrl-C sends all-notes-off and all-sound-off on every channel, writes --record and exits 130.\n"
            "\n",
    .tail = "\n"
            "With --json, the timing statistics are the JSON object.\n"
            "Exit status: 0 done; 1 no such MIDI port, or no MIDI device on this machine (see\n"
            "'rnnhost midi-devices'), or a device or file failed; 2 usage; 3 the model could not be loaded\n"
            "or is not an event model; 130 interrupted.\n",
    .own = {NULL, options},
    .parts = {OPT_MUSIC_PARTS(play_opts), CLI_PART(play_opts, json, opt_json_section, opt_json_defaults),
              CLI_PART(play_opts, plugin, opt_plugin_section, opt_plugin_defaults)},
};

static int32_t gen_next(void *ctx)
{
    return event_gen_next(ctx);
}

static int gen_feed(void *ctx, int32_t token)
{
    return event_gen_feed(ctx, token);
}

static void report(const player_result *res, const player_lateness *lt, int json, const char *record)
{
    hostlog_info("play: %zu messages sent; lateness over %zu scheduled events: median %.3f ms, p99 %.3f ms, "
                 "max %.3f ms; %llu underruns",
                 res->n_sent + res->n_unrecorded, lt->count, lt->median_us / 1000, lt->p99_us / 1000,
                 lt->max_us / 1000, (unsigned long long)res->underruns);
    if (res->n_unrecorded)
        hostlog_info("play: the record holds the first %zu messages; %zu more were sent", res->n_sent,
                     res->n_unrecorded);
    if (!json)
        return;
    cJSON *o = cJSON_CreateObject(), *l = NULL;
    const int complete =
        o && cJSON_AddNumberToObject(o, "schema", 1) &&
        cJSON_AddNumberToObject(o, "messages", (double)(res->n_sent + res->n_unrecorded)) &&
        cJSON_AddNumberToObject(o, "underruns", (double)res->underruns) &&
        cJSON_AddNumberToObject(o, "dropped", (double)res->dropped) &&
        cJSON_AddBoolToObject(o, "interrupted", res->interrupted) &&
        (record ? cJSON_AddStringToObject(o, "record", record) : cJSON_AddNullToObject(o, "record")) &&
        (l = cJSON_AddObjectToObject(o, "lateness_ms")) && cJSON_AddNumberToObject(l, "count", (double)lt->count) &&
        cJSON_AddNumberToObject(l, "median", lt->median_us / 1000) &&
        cJSON_AddNumberToObject(l, "p99", lt->p99_us / 1000) && cJSON_AddNumberToObject(l, "max", lt->max_us / 1000);
    json_print(o, complete, 0);
}

int cmd_play(int argc, char **argv)
{
    play_opts o;
    const int started = cli_start_page(&page, &o, &defaults, argc, argv, NULL);
    if (started >= 0)
        return started;
    const char *model = o.model, *out_port = o.out_port, *in_port = o.in_port, *record = o.record;
    /* more than every token is every token */
    const uint32_t top_k = o.sampling.top_k > UINT32_MAX ? UINT32_MAX : (uint32_t)o.sampling.top_k;
    /* a thousand years is until Ctrl-C */
    const int64_t duration_us = o.duration > 3e10 ? 0 : (int64_t)(o.duration * 1e6 + 0.5);
    if (record && o.json.on && strcmp(record, "-") == 0) {
        hostlog_usage("play: --record - and --json would both write to standard output");
        return EXIT_USAGE;
    }

    /* The ports first: on a machine without MIDI that is the one thing the user needs to hear. */
    if (midi_init() != 0) {
        hostlog_error("play: PortMidi could not start");
        return EXIT_FAIL;
    }
    int out_id = -1, in_id = -1;
    if (out_port) {
        if ((out_id = midi_find_device(out_port, 1)) < 0) {
            hostlog_error("no MIDI output '%s' (%s)", out_port, Pm_CountDevices() ? "see 'rnnhost midi-devices'; "
                          "'rnnhost play --record FILE.mid' runs without one" : NO_PORTS_HINT);
            midi_terminate();
            return EXIT_FAIL;
        }
    } else if (!record && (out_id = Pm_GetDefaultOutputDeviceID()) < 0) {
        hostlog_error("no MIDI output (%s)", NO_PORTS_HINT);
        midi_terminate();
        return EXIT_FAIL;
    }
    if (in_port && (in_id = midi_find_device(in_port, 0)) < 0) {
        hostlog_error("no MIDI input '%s' (%s)", in_port,
                      Pm_CountDevices() ? "see 'rnnhost midi-devices'" : "this machine has no MIDI ports");
        midi_terminate();
        return EXIT_FAIL;
    }
    if (!model) {
        hostlog_usage("play: -m MODEL is required");
        midi_terminate();
        return EXIT_USAGE;
    }

    plugin_registry reg;
    event_gen *gen = NULL;
    PortMidiStream *out = NULL, *in = NULL;
    player_result res = {0};
    char why[1024];
    int rc;
    if (registry_init(&reg, o.plugin.path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        midi_terminate();
        return EXIT_FAIL;
    }
    if ((rc = event_gen_open(&gen, &reg, model, o.sampling.seed, (float)o.sampling.temperature, top_k, why, sizeof why)) !=
        EXIT_OK) {
        hostlog_error("%s", why);
        goto done;
    }
    event_gen_set_max_note(gen, o.music.max_note);
    rc = EXIT_FAIL;
    PmError pe;
    if (out_id >= 0 && (pe = Pm_OpenOutput(&out, out_id, NULL, 0, NULL, NULL, (int32_t)o.latency_ms)) != pmNoError) {
        hostlog_error("cannot open MIDI output '%s': %s", Pm_GetDeviceInfo(out_id)->name, Pm_GetErrorText(pe));
        out = NULL;
        goto done;
    }
    if (in_id >= 0) {
        if ((pe = Pm_OpenInput(&in, in_id, NULL, 512, NULL, NULL)) != pmNoError) {
            hostlog_error("cannot open MIDI input '%s': %s", Pm_GetDeviceInfo(in_id)->name, Pm_GetErrorText(pe));
            in = NULL;
            goto done;
        }
        /* clocks, active sensing and the like would only wake the player for nothing */
        Pm_SetFilter(in, PM_FILT_REALTIME | PM_FILT_SYSTEMCOMMON);
    }

    token_source src;
    token_model tm = {gen_next, gen_feed, gen};
    token_source_init(&src, tm, in != NULL);
    midi_clock clock;
    midi_clock_init(&clock);
    player_config cfg = {0};
    cfg.source = token_source_player(&src);
    if (out) {
        cfg.output.send = midi_output_send;
        cfg.output.ctx = out;
    }
    if (in) {
        cfg.input.poll = midi_input_poll;
        cfg.input.ctx = in;
    }
    cfg.clock.now_us = midi_clock_now_us;
    cfg.clock.ctx = &clock;
    cfg.duration_us = duration_us;
    cfg.stop = &host_interrupted;
    cfg.realtime = 1;
    /* a performance rarely passes 100 messages a second; a model that floods is cut off in the record */
    cfg.record_capacity = duration_us ? (size_t)(duration_us / 1000) + 1024 : (size_t)1 << 20;

    host_catch_interrupts();
    if (player_run(&res, &cfg) != 0) {
        hostlog_error("play: out of memory or threads");
        goto done;
    }
    if (out) {
        /* drain: PortMidi holds messages until their timestamp plus latency, and closing drops them */
        struct timespec ts = {0, (long)(o.latency_ms + 50) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }

    player_lateness lt;
    if (player_lateness_stats(&lt, &res) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    report(&res, &lt, o.json.on, record);
    rc = res.interrupted ? EXIT_INTERRUPTED : EXIT_OK;
    if (res.source_failed) {
        hostlog_error("play: the model failed while generating");
        rc = EXIT_FAIL;
    }
    if (res.send_failed) {
        hostlog_error("play: the MIDI output failed; the performance stopped");
        rc = EXIT_FAIL;
    }
    if (record) {
        smf_file f;
        char err[512];
        if (player_record_to_smf(&f, &res) != 0) {
            hostlog_error("out of memory");
            rc = EXIT_FAIL;
        } else {
            if (smf_write(record, &f, 0, err, sizeof err) != 0) {
                hostlog_error("%s", err);
                rc = EXIT_FAIL;
            }
            smf_free(&f);
        }
    }
done:
    if (out)
        Pm_Close(out);
    if (in)
        Pm_Close(in);
    player_result_free(&res);
    event_gen_close(gen);
    registry_free(&reg);
    midi_terminate();
    return rc;
}
