/* rnnhost eval: the average negative log-likelihood of music data under a model, as the published
 * polyphonic-music figures measure it: for a piano-roll model the sigmoid cross-entropy summed over the 88
 * pitches and averaged over time steps; for an event model nats per event. Last line `nll X`. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cliargs.h"
#include "asreval.h"
#include "commands.h"
#include "hostlog.h"
#include "interrupt.h"
#include "lm.h"
#include "modelfile.h"
#include "music.h"
#include "musicdata.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost eval -m MODEL --data FILE.json|DIR [OPTIONS]    music models\n"
               "       rnnhost eval -m MODEL --manifest FILE [OPTIONS]         speech models\n"
               "\n"
               "Music models (task pianoroll or midi-lm): the average negative log-likelihood (nats) of the data\n"
               "under the model, per time step summed over the 88 pitches (pianoroll) or per event (midi-lm).\n"
               "The last line is 'nll X'.\n"
               "\n"
               "  -m, --model MODEL      a model file or preset name (task pianoroll or midi-lm)\n"
               "      --data PATH        pianoroll: a JSON piano-roll file or MIDI files; midi-lm: a MIDI file or\n"
               "                         folder\n"
               "      --split NAME       pianoroll: the split to evaluate (default: valid)\n"
               "      --streams N        midi-lm: event streams scored side by side, 1-65536 (default: 8)\n"
               "      --json             one JSON object instead of text (its fields: README, 'JSON output')\n"
               "      --plugin-path PATH colon-separated plugin directories searched first\n"
               "  -h, --help             this help\n"
               "\n"
               "Speech models (task ctc, given --manifest): word and character error rates of the model's\n"
               "transcripts against a manifest of recordings and their transcripts. The last line is 'wer X'.\n"
               "\n");
    eval_ctc_options(f);
}

/* Sum of BCE over pitches and the number of time steps, every sequence from the reset state. */
static int roll_nll(double *total, uint64_t *steps, const host_model *hm, const uint8_t *frames, const span *seqs,
                    size_t count)
{
    const uint32_t P = ROLL_PITCHES, B = 16;
    uint32_t T = 0;
    for (size_t i = 0; i < count; i++)
        if (seqs[i].len > T)
            T = seqs[i].len;
    float *x = malloc((size_t)T * B * P * sizeof *x), *tg = malloc((size_t)T * B * P * sizeof *tg),
          *w = malloc((size_t)T * B * sizeof *w), *y = malloc((size_t)T * B * P * sizeof *y),
          *ws = malloc((hm->vt->workspace_size(hm->model, T, B) + 1) * sizeof *ws);
    uint32_t lengths[16];
    int rc = -1;
    *total = 0, *steps = 0;
    if (!x || !tg || !w || !y || !ws)
        goto done;
    for (size_t first = 0; first < count && !host_interrupted; first += B) {
        uint32_t Bc = (uint32_t)(count - first < B ? count - first : B), Tc = 0;
        for (uint32_t b = 0; b < Bc; b++)
            if (seqs[first + b].len > Tc)
                Tc = seqs[first + b].len;
        for (uint32_t b = 0; b < Bc; b++) {
            const span *sq = &seqs[first + b];
            lengths[b] = sq->len;
            for (uint32_t t = 0; t < Tc; t++) {
                size_t row = (size_t)t * Bc + b;
                w[row] = t < sq->len;
                for (uint32_t p = 0; p < P; p++) {
                    x[row * P + p] = t > 0 && t < sq->len ? frames[(sq->start + t - 1) * P + p] : 0.0f;
                    tg[row * P + p] = t < sq->len ? frames[(sq->start + t) * P + p] : 0.0f;
                }
            }
            *steps += sq->len;
        }
        rh_batch batch = {Tc, Bc, lengths, x, NULL};
        if (hm->vt->forward(hm->model, y, NULL, ws, hm->params, &batch, NULL) != RH_OK)
            goto done;
        *total += rh_sigmoid_bce(NULL, y, tg, w, Tc * Bc, P, 1.0f);
    }
    rc = 0;
done:
    free(x), free(tg), free(w), free(y), free(ws);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* a speech model is scored on a manifest, not on music data */
        if (strcmp(argv[i], "--manifest") == 0 || strncmp(argv[i], "--manifest=", 11) == 0)
            return cmd_eval_ctc(argc, argv);
    enum { O_DATA = 256, O_SPLIT, O_STREAMS, O_JSON, O_PLUGIN };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},     {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT}, {"streams", required_argument, NULL, O_STREAMS},
        {"json", no_argument, NULL, O_JSON},         {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *data = NULL, *split = "valid", *plugin_path = NULL;
    unsigned long streams = 8;
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_DATA: data = optarg; break;
        case O_SPLIT: split = optarg; break;
        case O_JSON: json = 1; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case O_STREAMS: {
            uint32_t v;
            if (cli_u32(&v, optarg, "--streams", 1, 65536) != 0)
                return EXIT_USAGE;
            streams = v;
            break;
        }
        case 'h': usage(stdout); return EXIT_OK;
        default: hostlog_usage("eval: unknown or incomplete option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc || !model || !data) {
        hostlog_usage(optind < argc ? "eval: unexpected argument '%s'" : "eval: -m MODEL and --data are required%s",
                      optind < argc ? argv[optind] : "");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    host_model hm;
    model_spec spec;
    rh_weights *w = NULL;
    char path[4096], why[1024];
    int rc;
    /* from here on, so that Ctrl-C while the model or the data loads is also a clean stop */
    host_catch_interrupts();
    if (registry_init(&reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        return EXIT_FAIL;
    }
    if (model_resolve(path, sizeof path, model, why, sizeof why) != 0 ||
        (rc = model_open(&hm, &spec, &w, &reg, path, "pianoroll|midi-lm", why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    const char *spq_s = rh_weights_meta(w, "rnnhost.steps_per_quarter");
    const uint32_t spq = spq_s && atoi(spq_s) >= 1 && atoi(spq_s) <= 16 ? (uint32_t)atoi(spq_s) : 1;
    rh_weights_close(w);
    rc = EXIT_FAIL;
    double total = 0;
    uint64_t count = 0, sequences = 0;
    const char *unit;
    if (strcmp(spec.task, "pianoroll") == 0) {
        uint8_t *frames = NULL;
        span *seqs = NULL;
        size_t n = 0, cut = 0;
        if (roll_spans(&frames, &seqs, &n, data, split, spq, UINT32_MAX / 2, &cut) != 0 ||
            roll_nll(&total, &count, &hm, frames, seqs, n) != 0) {
            free(frames), free(seqs);
            goto done;
        }
        sequences = n;
        free(frames), free(seqs);
        unit = "time step";
    } else if (strcmp(spec.task, "midi-lm") == 0) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (midi_tokens(&ids, &n, data, 0, 1.0, "--data") != 0)
            goto done;
        if (lm_nll_until(&total, &count, &hm, ids, n, (uint32_t)streams, 256, &host_interrupted) < 0) {
            free(ids);
            hostlog_error("evaluation failed (out of memory or a model error)");
            goto done;
        }
        free(ids);
        unit = "event";
    } else {
        hostlog_error("%s: eval has no measure for '%s' models", path, spec.task); /* model_open let it pass */
        rc = EXIT_LOAD;
        goto done;
    }
    if (host_interrupted) {
        fprintf(stderr, "rnnhost: interrupted; %s is not evaluated\n", data);
        rc = EXIT_INTERRUPTED;
        goto done;
    }
    if (count == 0) {
        hostlog_error("%s: nothing to evaluate", data);
        goto done;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "schema", 1);
        cJSON_AddStringToObject(j, "model", path);
        cJSON_AddStringToObject(j, "task", spec.task);
        cJSON_AddStringToObject(j, "data", data);
        cJSON_AddNumberToObject(j, "count", (double)count);
        cJSON_AddStringToObject(j, "unit", unit);
        cJSON_AddNumberToObject(j, "nll", total / (double)count);
        char *s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
    } else {
        if (sequences)
            printf("sequences %llu\n", (unsigned long long)sequences);
        printf("%s %llu\n", strcmp(unit, "event") == 0 ? "events" : "steps", (unsigned long long)count);
        printf("nll %.6f\n", total / (double)count);
    }
    rc = EXIT_OK;
done:
    host_model_destroy(&hm);
    registry_free(&reg);
    return rc;
}
