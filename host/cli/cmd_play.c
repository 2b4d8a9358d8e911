/* rnnhost play: an event-token model performing in real time through PortMidi (host/music/player.h), or,
 * without an output port, the same real-time loop only recording, so its timing can be measured. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <portmidi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cliargs.h"
#include "commands.h"
#include "eventgen.h"
#include "hostlog.h"
#include "jsonout.h"
#include "interrupt.h"
#include "player.h"

#define NO_PORTS_HINT                                                                                      \
    "this machine has no MIDI ports; 'rnnhost play --record FILE.mid' runs without one, and 'rnnhost "    \
    "generate -o FILE.mid' writes a file"

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost play -m MODEL [--output-port NAME|INDEX] [--record FILE.mid] [OPTIONS]\n"
               "\n"
               "Plays an event-token model (trained with --task midi-lm) live: the model generates ahead of\n"
               "the clock on its own thread and the player sends each note when it is due, timestamped for\n"
               "PortMidi with the latency given. Without --output-port and with --record, the same real-time\n"
               "loop runs on PortMidi's clock and only records, and reports how late each event was sent.\n"
               "Ctrl-C sends all-notes-off and all-sound-off on every channel, writes --record and exits 130.\n"
               "\n"
               "  -m, --model MODEL          an event model file, or the name of a shipped preset (e.g. folk)\n"
               "      --output-port P        a MIDI output: index or name from 'rnnhost midi-devices'\n"
               "                             (default: the system's default output, unless --record is given)\n"
               "      --input-port P         a MIDI input: what is played there primes the model, and after a\n"
               "                             second of silence the model answers for a few seconds\n"
               "      --latency-ms MS        how far ahead messages are timestamped, 0-10000; 0: sent the\n"
               "                             moment they are due (default: 10)\n"
               "  -t, --temperature T        0-100: below 1 more conservative, above 1 more surprising; 0:\n"
               "                             always the likeliest token (default: 1)\n"
               "  -k, --top-k K              draw only among the K likeliest tokens; 0 is all (default: 0)\n"
               "  -s, --seed S               the seed of the sampler (default: 1)\n"
               "  -d, --duration D           stop after D: 20s, 1.5m, 500ms (default: until Ctrl-C)\n"
               "      --record FILE.mid|-    write exactly what was sent, when it was sent (written at the end;\n"
               "                             '-' for stdout, a link is written through)\n"
               "      --json                 the timing statistics as one JSON object on standard output\n"
               "      --plugin-path PATH     colon-separated plugin directories searched first\n"
               "  -h, --help                 this help\n"
               "\n"
               "Exit status: 0 done; 1 no such MIDI port, or no MIDI device on this machine (see\n"
               "'rnnhost midi-devices'), or a device or file failed; 2 usage; 3 the model could not be loaded\n"
               "or is not an event model; 130 interrupted.\n");
}

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
    enum { O_OUT = 256, O_IN, O_LATENCY, O_RECORD, O_JSON, O_PLUGIN };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"output-port", required_argument, NULL, O_OUT},
        {"input-port", required_argument, NULL, O_IN},
        {"latency-ms", required_argument, NULL, O_LATENCY},
        {"temperature", required_argument, NULL, 't'},
        {"top-k", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"record", required_argument, NULL, O_RECORD},
        {"json", no_argument, NULL, O_JSON},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *out_port = NULL, *in_port = NULL, *record = NULL, *plugin_path = NULL;
    unsigned long long seed = 1, top_k = 0, latency_ms = 10;
    double temperature = 1.0;
    int64_t duration_us = 0;
    int json = 0, c, li = -1;
    char *end;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:t:k:s:d:h", long_options, &li)) != -1) {
        const char *opt = cli_opt_name(c, long_options, li);
        li = -1;
        errno = 0;
        switch (c) {
        case 'm': model = optarg; break;
        case O_OUT: out_port = optarg; break;
        case O_IN: in_port = optarg; break;
        case O_RECORD: record = optarg; break;
        case O_JSON: json = 1; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'k': case 's': case O_LATENCY: {
            uint64_t v;
            uint32_t v32;
            if (c == O_LATENCY) {
                if (cli_u32(&v32, optarg, opt, 0, 10000) != 0)
                    return EXIT_USAGE;
                v = v32;
            } else if (cli_u64(&v, optarg, opt) != 0) {
                return EXIT_USAGE;
            }
            if (c == 'k' && v > UINT32_MAX) /* more than every token is every token */
                v = UINT32_MAX;
            *(c == 'k' ? &top_k : c == 's' ? &seed : &latency_ms) = v;
            break;
        }
        case 't':
            temperature = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(temperature >= 0) || temperature > 100) {
                hostlog_usage("play: --temperature needs a number from 0 to 100, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'd':
            duration_us = player_parse_duration_us(optarg);
            if (duration_us <= 0) {
                hostlog_usage("play: --duration needs a length such as 20s, 1.5m or 500ms, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        default:
            hostlog_usage("play: unknown or incomplete option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        hostlog_usage("play: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (record && json && strcmp(record, "-") == 0) {
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
    if (registry_init(&reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        midi_terminate();
        return EXIT_FAIL;
    }
    if ((rc = event_gen_open(&gen, &reg, model, seed, (float)temperature, (uint32_t)top_k, why, sizeof why)) !=
        EXIT_OK) {
        hostlog_error("%s", why);
        goto done;
    }
    rc = EXIT_FAIL;
    PmError pe;
    if (out_id >= 0 && (pe = Pm_OpenOutput(&out, out_id, NULL, 0, NULL, NULL, (int32_t)latency_ms)) != pmNoError) {
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
        struct timespec ts = {0, (long)(latency_ms + 50) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }

    player_lateness lt;
    if (player_lateness_stats(&lt, &res) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    report(&res, &lt, json, record);
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
