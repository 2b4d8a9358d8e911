/* rnnhost sample: novel text from a language model, one symbol at a time through the streaming step. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "interrupt.h"
#include "lm.h"
#include "text.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost sample -m MODEL [OPTIONS]\n"
               "\n"
               "Writes text sampled from a language model, symbol by symbol as it is generated.\n"
               "\n"
               "  -m, --model MODEL        a model file, or the name of a shipped preset (e.g. dinos)\n"
               "  -n, --length N           symbols per sample at most; 0: none, only --prime-text (default:\n"
               "                           2000)\n"
               "  -t, --temperature T      0-100: below 1 more conservative, above 1 more surprising; 0:\n"
               "                           always the likeliest, as --argmax (default: 1)\n"
               "  -k, --top-k K            draw only among the K likeliest symbols; 0 is all (default: 0)\n"
               "      --argmax             always the likeliest symbol (temperature 0)\n"
               "  -p, --prime-text TEXT    condition on this text first and print it (default: none; a model\n"
               "                           with newline in its vocabulary starts as after a newline)\n"
               "  -s, --seed S             the same seed gives the same text (default: 1)\n"
               "      --num-samples N      independent samples, each from the primed state; 0: none\n"
               "                           (default: 1)\n"
               "      --stop-at-newline    end a sample at its first newline (one line, e.g. one name)\n"
               "  -o, --output FILE|-      where to write (default: - for standard output); a file appears\n"
               "                           whole when sampling ends, a link is written through, a FIFO\n"
               "                           or device is a stream\n"
               "      --plugin-path PATH   colon-separated plugin directories searched first\n"
               "  -h, --help               this help\n"
               "\n"
               "Ctrl-C (or SIGTERM) ends the current line, writes what was sampled so far and exits 130.\n");
}

int cmd_sample(int argc, char **argv)
{
    enum { O_ARGMAX = 256, O_NUM, O_STOP, O_PLUGIN };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"length", required_argument, NULL, 'n'},
        {"temperature", required_argument, NULL, 't'},
        {"top-k", required_argument, NULL, 'k'},
        {"argmax", no_argument, NULL, O_ARGMAX},
        {"prime-text", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 's'},
        {"num-samples", required_argument, NULL, O_NUM},
        {"stop-at-newline", no_argument, NULL, O_STOP},
        {"output", required_argument, NULL, 'o'},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *prime = NULL, *out_path = "-", *plugin_path = NULL;
    unsigned long long length = 2000, num = 1, seed = 1, top_k = 0;
    double temperature = 1.0;
    int stop_at_newline = 0, c, li = -1;
    char *end;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:n:t:k:p:s:o:h", long_options, &li)) != -1) {
        const char *opt = cli_opt_name(c, long_options, li);
        li = -1;
        errno = 0;
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prime = optarg; break;
        case 'o': out_path = optarg; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case O_ARGMAX: temperature = 0; break;
        case O_STOP: stop_at_newline = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'n': case 'k': case 's': case O_NUM: {
            uint64_t v;
            if (cli_u64(&v, optarg, opt) != 0)
                return EXIT_USAGE;
            *(c == 'n' ? &length : c == 'k' ? &top_k : c == 's' ? &seed : &num) = v;
            break;
        }
        case 't':
            temperature = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(temperature >= 0) || temperature > 100) {
                hostlog_usage("sample: --temperature needs a number from 0 to 100, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        default:
            hostlog_usage("sample: unknown or incomplete option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        hostlog_usage("sample: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!model) {
        hostlog_usage("sample: -m MODEL is required");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    lm m;
    char why[1024], err[512];
    int rc = EXIT_FAIL;
    /* from here on, so that Ctrl-C while a large model loads is also a clean stop */
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
    if (host_interrupted) {
        fprintf(stderr, "rnnhost: interrupted before sampling; nothing is written\n");
        lm_close(&m);
        registry_free(&reg);
        return EXIT_INTERRUPTED;
    }
    rc = EXIT_FAIL;
    host_model_prepare_step(&m.hm);

    /* the priming text, encoded before anything is written, so an unknown symbol costs nothing */
    text_buf pt = {0};
    int32_t *prime_ids = NULL;
    if (prime && text_decode(&pt, prime, strlen(prime), "--prime-text", err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    prime_ids = malloc((pt.n + 1) * sizeof *prime_ids);
    if (!prime_ids)
        goto done;
    size_t bad;
    if (pt.n && text_encode(prime_ids, &pt, &m.voc, &bad) != 0) {
        char sym[32];
        symbol_describe(sym, sizeof sym, pt.cp[bad]);
        hostlog_error("--prime-text: symbol %s at position %zu is not in the model's vocabulary", sym, bad + 1);
        goto done;
    }
    size_t n_prime = pt.n;
    const int32_t newline = vocab_id(&m.voc, '\n');
    if (n_prime == 0 && newline >= 0)
        prime_ids[n_prime++] = newline; /* start as a line starts; not printed */

    /* A file is written beside its target and renamed at the end, so a killed or failed run never leaves
     * half a file where a whole one was (or was expected); stdout, a device or a FIFO is a stream. */
    atomic_out file = {0};
    if (atomic_out_open(&file, out_path, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    FILE *out = file.f;
    const int live = isatty(fileno(out));
    const host_model *hm = &m.hm;
    const uint32_t V = hm->info.output_dim;
    float *state = malloc(hm->info.state_size * sizeof(float)), *y = malloc(V * sizeof(float)),
          *scratch = malloc((hm->vt->step_scratch_size(hm->model, 1) + 1) * sizeof(float)),
          *draw = malloc(V * sizeof(float));
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    if (!state || !y || !scratch || !draw) {
        hostlog_error("out of memory");
        goto close;
    }
    for (unsigned long long s = 0; s < num && !host_interrupted && !ferror(out); s++) {
        char utf8[4];
        hm->vt->reset(hm->model, state, 1);
        for (size_t i = 0; i < pt.n; i++)
            fwrite(utf8, 1, utf8_encode(utf8, pt.cp[i]), out);
        int32_t sym = -1;
        for (size_t i = 0; i < n_prime; i++) {
            sym = prime_ids[i];
            if (host_model_step(hm, i + 1 == n_prime ? y : NULL, state, scratch, NULL, &sym, 1) !=
                RH_OK) {
                hostlog_error("the model's step failed");
                goto close;
            }
        }
        if (sym < 0) { /* nothing to condition on: the first symbol is drawn uniformly */
            sym = (int32_t)rh_rng_below(&rng, V);
            fwrite(utf8, 1, utf8_encode(utf8, m.voc.cp[sym]), out);
            if (host_model_step(hm, y, state, scratch, NULL, &sym, 1) != RH_OK)
                goto close;
            length = length ? length - 1 : 0;
        }
        /* a failed write (a full disk) stops here rather than sampling on into nowhere */
        for (unsigned long long i = 0; i < length && !host_interrupted && !ferror(out); i++) {
            sym = rh_sample_logits(y, V, (float)temperature, (uint32_t)(top_k > V ? V : top_k), draw, &rng);
            if (sym < 0) {
                hostlog_error("the model produced a NaN logit");
                goto close;
            }
            fwrite(utf8, 1, utf8_encode(utf8, m.voc.cp[sym]), out);
            if (live)
                fflush(out);
            if (stop_at_newline && sym == newline)
                break;
            if (i + 1 < length &&
                host_model_step(hm, y, state, scratch, NULL, &sym, 1) != RH_OK) {
                hostlog_error("the model's step failed");
                goto close;
            }
        }
        if (sym != newline)
            fputc('\n', out); /* every sample ends its line */
    }
    rc = host_interrupted ? EXIT_INTERRUPTED : EXIT_OK;
close:
    if (rc == EXIT_FAIL) {
        atomic_out_abort(&file);
    } else if (atomic_out_commit(&file, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_INTERRUPTED)
        fprintf(stderr, "rnnhost: interrupted; the text sampled so far is written\n");
    free(state), free(y), free(scratch), free(draw);
done:
    free(prime_ids);
    text_free(&pt);
    lm_close(&m);
    registry_free(&reg);
    return rc;
}
