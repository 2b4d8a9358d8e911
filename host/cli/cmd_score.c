/* rnnhost score: how well a language model predicts a text: log-probability, nats and bits per symbol,
 * perplexity. Computed exactly as `train` computes its validation loss (lm_nll), so the two agree. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "interrupt.h"
#include "lm.h"
#include "text.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost score -m MODEL [OPTIONS] [FILE|-]\n"
               "\n"
               "Scores a UTF-8 text (default: standard input) under a language model. Every symbol but the\n"
               "first is predicted from those before it. The last line is 'nats_per_char X'.\n"
               "\n"
               "  -m, --model MODEL      a model file, or the name of a shipped preset\n"
               "      --streams N        cut the text into N pieces scored side by side: faster, and each\n"
               "                         piece starts without context; 1-65536 (default: 1)\n"
               "      --seq-length T     symbols per forward pass, 1-65536 (default: 256)\n"
               "      --json             one JSON object instead of text\n"
               "      --plugin-path PATH colon-separated plugin directories searched first\n"
               "  -h, --help             this help\n"
               "\n"
               "A symbol the model's vocabulary lacks is an error naming its line and column. Ctrl-C (or\n"
               "SIGTERM) stops, prints nothing on standard output and exits 130.\n");
}

int cmd_score(int argc, char **argv)
{
    enum { O_STREAMS = 256, O_SEQ, O_JSON, O_PLUGIN };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"streams", required_argument, NULL, O_STREAMS},
        {"seq-length", required_argument, NULL, O_SEQ},
        {"json", no_argument, NULL, O_JSON},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *plugin_path = NULL, *path = "-";
    unsigned long streams = 1, seq = 256;
    int json = 0, c, li = -1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:h", long_options, &li)) != -1) {
        const char *opt = cli_opt_name(c, long_options, li);
        li = -1;
        switch (c) {
        case 'm': model = optarg; break;
        case O_JSON: json = 1; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        case O_STREAMS: case O_SEQ: {
            uint32_t v;
            if (cli_u32(&v, optarg, opt, 1, 65536) != 0)
                return EXIT_USAGE;
            *(c == O_STREAMS ? &streams : &seq) = v;
            break;
        }
        default:
            hostlog_usage("score: unknown or incomplete option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 < argc) {
        hostlog_usage("score: one text at a time ('%s' is extra)", argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (optind < argc)
        path = argv[optind];
    if (!model) {
        hostlog_usage("score: -m MODEL is required");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    lm m;
    text_buf text = {0};
    int32_t *ids = NULL;
    char why[1024], err[512];
    int rc;
    /* from here on, so that Ctrl-C while the model or the text loads is also a clean stop */
    host_catch_interrupts();
    if (registry_init(&reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        return EXIT_FAIL;
    }
    if ((rc = lm_open(&m, &reg, model, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        registry_free(&reg);
        return rc;
    }
    rc = EXIT_FAIL;
    if (text_read(&text, path, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    if (text.n < 2) {
        hostlog_error("%s: a text of %zu symbol%s has nothing to predict", path, text.n, text.n == 1 ? "" : "s");
        goto done;
    }
    ids = malloc(text.n * sizeof *ids);
    size_t bad;
    if (!ids) {
        hostlog_error("out of memory");
        goto done;
    }
    if (text_encode(ids, &text, &m.voc, &bad) != 0) {
        char sym[32];
        size_t line, col;
        symbol_describe(sym, sizeof sym, text.cp[bad]);
        text_position(&text, bad, &line, &col);
        hostlog_error("%s: symbol %s at line %zu, column %zu is not in the model's vocabulary", path, sym, line,
                      col);
        goto done;
    }
    double nll;
    uint64_t count;
    const int scored = host_interrupted ? 1 : lm_nll_until(&nll, &count, &m.hm, ids, text.n, (uint32_t)streams,
                                                           (uint32_t)seq, &host_interrupted);
    if (scored == 1) {
        fprintf(stderr, "rnnhost: interrupted; %s is not scored\n", strcmp(path, "-") == 0 ? "standard input" : path);
        rc = EXIT_INTERRUPTED;
        goto done;
    }
    if (scored != 0 || count == 0) {
        hostlog_error("scoring failed (out of memory or a model error)");
        goto done;
    }
    const double npc = nll / (double)count;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "schema", 1);
        cJSON_AddStringToObject(j, "file", path);
        cJSON_AddNumberToObject(j, "symbols", (double)text.n);
        cJSON_AddNumberToObject(j, "predicted", (double)count);
        cJSON_AddNumberToObject(j, "log_prob", -nll);
        cJSON_AddNumberToObject(j, "nats_per_char", npc);
        cJSON_AddNumberToObject(j, "bits_per_char", npc / log(2.0));
        cJSON_AddNumberToObject(j, "perplexity", exp(npc));
        char *s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
    } else {
        printf("file %s\n", path);
        printf("symbols %zu (%llu predicted)\n", text.n, (unsigned long long)count);
        printf("log_prob %.4f\n", -nll);
        printf("bits_per_char %.6f\n", npc / log(2.0));
        printf("perplexity %.6f\n", exp(npc));
        printf("nats_per_char %.6f\n", npc);
    }
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
done:
    free(ids);
    text_free(&text);
    lm_close(&m);
    registry_free(&reg);
    return rc;
}
