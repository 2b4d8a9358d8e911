/* rnnhost eval for speech models: word and character error rates over a manifest. Last line `wer X`. */
#include "asreval.h"
#include "loader.h"
#include "wer.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "blas.h"
#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "interrupt.h"
#include "manifest.h"

/* ---- the worker pool ------------------------------------------------------------------------------------ */

typedef struct pool {
    tx_result *results;
    const char *const *paths;
    size_t n, next;
    asr_session **sessions;
    void (*done)(void *, size_t);
    void *ctx;
    volatile int *stop;
    pthread_mutex_t lock;
} pool;

typedef struct worker {
    pool *p;
    asr_session *s;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    pool *p = w->p;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next < p->n && !(p->stop && *p->stop) ? p->next++ : p->n;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            return NULL;
        asr_transcribe(w->s, &p->results[i], p->paths[i]);
        if (p->done) {
            pthread_mutex_lock(&p->lock);
            p->done(p->ctx, i);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

int asr_run_files(tx_result *results, const char *const *paths, size_t n, const asr_model *m,
                  const asr_decode_opts *o, int jobs, void (*done)(void *ctx, size_t i), void *ctx,
                  volatile int *stop, char *err, size_t err_len)
{
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > n && n > 0)
        jobs = (int)n;
    pool p = {results, paths, n, 0, NULL, done, ctx, stop, PTHREAD_MUTEX_INITIALIZER};
    worker *ws = calloc((size_t)jobs, sizeof *ws);
    pthread_t *th = calloc((size_t)jobs, sizeof *th);
    int rc = -1, started = 0;
    if (!ws || !th) {
        host_fmt(err, err_len, "out of memory");
        goto done;
    }
    for (int k = 0; k < jobs; k++) {
        ws[k].p = &p;
        if (!(ws[k].s = asr_session_new(m, o, err, err_len)))
            goto done;
    }
    const int blas_before = blas_threads();
    if (jobs > 1) /* files in parallel, each product on one core: no oversubscription */
        blas_set_threads(1);
    /* Files are the unit of parallelism here, and one thread per call keeps -j 1 and -j N bit-identical. */
    const uint32_t model_threads = host_model_threads();
    host_set_model_threads(1);
    for (int k = 1; k < jobs; k++) {
        if (pthread_create(&th[k], NULL, work, &ws[k]) != 0)
            break;
        started = k;
    }
    work(&ws[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(th[k], NULL);
    if (jobs > 1)
        blas_set_threads(blas_before);
    host_set_model_threads(model_threads);
    rc = 0;
done:
    for (int k = 0; ws && k < jobs; k++)
        asr_session_free(ws[k].s);
    free(ws), free(th);
    return rc;
}

/* ---- rnnhost eval -m SPEECH_MODEL --manifest FILE ------------------------------------------------------ */

void eval_ctc_options(FILE *f)
{
    fprintf(f, "  -m, --model MODEL      a model file or preset name (task ctc)\n"
               "      --manifest FILE    the test utterances, path<TAB>transcript per line\n"
               "  -j, --jobs N           files transcribed in parallel, 1-256 (default: 2)\n"
               "      --beam-size N      prefix beam search with N prefixes; 1: greedy (default: 1)\n"
               "      --phrases FILE     only these phrases (one per line) are allowed\n"
               "      --errors           print every utterance that is not exactly right\n"
               "      --json             one JSON object instead of text (its fields: README, 'JSON output')\n"
               "      --plugin-path PATH colon-separated plugin directories searched first\n"
               "  -h, --help             this help\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost eval -m MODEL --manifest FILE [OPTIONS]\n"
               "\n"
               "Word and character error rates of a speech (ctc) model over a manifest (path<TAB>transcript).\n"
               "The last line is 'wer X'. (Music models: 'rnnhost eval --help'.)\n"
               "\n");
    eval_ctc_options(f);
}

int cmd_eval_ctc(int argc, char **argv)
{
    enum { O_MANIFEST = 256, O_BEAM, O_PHRASES, O_ERRORS, O_JSON, O_PLUGIN };
    static const struct option lo[] = {{"model", required_argument, NULL, 'm'},
                                       {"manifest", required_argument, NULL, O_MANIFEST},
                                       {"jobs", required_argument, NULL, 'j'},
                                       {"beam-size", required_argument, NULL, O_BEAM},
                                       {"phrases", required_argument, NULL, O_PHRASES},
                                       {"errors", no_argument, NULL, O_ERRORS},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"plugin-path", required_argument, NULL, O_PLUGIN},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *model = NULL, *mpath = NULL, *phrases = NULL, *plugin_path = NULL;
    uint32_t jobs = 2, beam = 1;
    int json = 0, show_errors = 0, c;
    opterr = 0;
    optind = 0; /* 0: glibc re-reads the option ordering, so options may follow the files */
    while ((c = getopt_long(argc, argv, "m:j:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_MANIFEST: mpath = optarg; break;
        case 'j':
            if (cli_u32(&jobs, optarg, "--jobs", 1, 256) != 0)
                return EXIT_USAGE;
            break;
        case O_BEAM:
            if (cli_u32(&beam, optarg, "--beam-size", 1, 4096) != 0)
                return EXIT_USAGE;
            break;
        case O_PHRASES: phrases = optarg; break;
        case O_ERRORS: show_errors = 1; break;
        case O_JSON: json = 1; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: hostlog_usage("eval: unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc || !model || !mpath) {
        hostlog_usage(optind < argc ? "eval: unexpected argument '%s'" : "eval: -m MODEL and --manifest are required%s",
                      optind < argc ? argv[optind] : "");
        return EXIT_USAGE;
    }
    plugin_registry reg;
    asr_model m;
    manifest mf = {0};
    rh_ctc_phrases ph = {0};
    tx_result *res = NULL;
    const char **paths = NULL;
    char path[4096], why[1024];
    int rc = EXIT_FAIL;
    memset(&m, 0, sizeof m);
    /* from here on, so that Ctrl-C while the model loads is also a clean stop */
    host_catch_interrupts();
    if (registry_init(&reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        return EXIT_FAIL;
    }
    if (model_resolve(path, sizeof path, model, why, sizeof why) != 0 ||
        asr_open(&m, &reg, path, why, sizeof why) != EXIT_OK) {
        hostlog_error("%s", why);
        rc = EXIT_LOAD;
        goto done;
    }
    if (manifest_read(&mf, mpath, why, sizeof why) != 0 ||
        (phrases && asr_phrases_read(&ph, &m, phrases, why, sizeof why) != 0)) {
        hostlog_error("%s", why);
        goto done;
    }
    res = calloc(mf.n, sizeof *res);
    paths = calloc(mf.n, sizeof *paths);
    if (!res || !paths) {
        hostlog_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < mf.n; i++)
        paths[i] = mf.v[i].path;
    asr_decode_opts o = {beam, phrases ? &ph : NULL, 0, 0};
    if (asr_run_files(res, paths, mf.n, &m, &o, (int)jobs, NULL, NULL, &host_interrupted, why, sizeof why) != 0) {
        hostlog_error("%s", why);
        goto done;
    }
    if (host_interrupted) {
        fprintf(stderr, "rnnhost: interrupted; %s is not evaluated\n", mpath);
        rc = EXIT_INTERRUPTED;
        goto done;
    }
    uint64_t we = 0, wn = 0, ce = 0, cn = 0, exact = 0, failed = 0;
    double audio = 0;
    for (size_t i = 0; i < mf.n; i++) {
        if (res[i].failed) {
            hostlog_error("%s:%zu: %s", mpath, mf.v[i].line, res[i].error);
            failed++;
            continue;
        }
        uint64_t rw, rcn;
        const uint64_t e = asr_word_edits(res[i].text, mf.v[i].text, &rw);
        we += e, wn += rw;
        ce += asr_char_edits(res[i].text, mf.v[i].text, &rcn), cn += rcn;
        exact += e == 0 && strcmp(res[i].text, mf.v[i].text) == 0;
        audio += res[i].duration;
        if (show_errors && e)
            printf("%s\tref: %s\thyp: %s\n", mf.v[i].path, mf.v[i].text, res[i].text);
    }
    if (failed) {
        hostlog_error("%llu of %zu files could not be read; the rates cover the others", (unsigned long long)failed, mf.n);
    }
    const double wer = wn ? (double)we / (double)wn : 0, cer = cn ? (double)ce / (double)cn : 0;
    const double exact_fraction = mf.n - failed ? (double)exact / (double)(mf.n - failed) : 0.0;
    if (json) {
        /* the first ten fields as they always were ("exact" a count); the envelope and the fraction that
         * the text output calls "exact" added */
        cJSON *j = cJSON_CreateObject();
        char *text = NULL;
        if (j && cJSON_AddNumberToObject(j, "files", (double)mf.n) && cJSON_AddNumberToObject(j, "failed", (double)failed) &&
            cJSON_AddNumberToObject(j, "exact", (double)exact) &&
            cJSON_AddNumberToObject(j, "audio_seconds", (double)(int64_t)(audio * 1000.0 + 0.5) / 1000.0) &&
            cJSON_AddNumberToObject(j, "word_errors", (double)we) && cJSON_AddNumberToObject(j, "words", (double)wn) &&
            cJSON_AddNumberToObject(j, "char_errors", (double)ce) && cJSON_AddNumberToObject(j, "chars", (double)cn) &&
            cJSON_AddNumberToObject(j, "cer", cer) && cJSON_AddNumberToObject(j, "wer", wer) &&
            cJSON_AddNumberToObject(j, "schema", 1) && cJSON_AddStringToObject(j, "model", path) &&
            cJSON_AddStringToObject(j, "task", "ctc") && cJSON_AddStringToObject(j, "manifest", mpath) &&
            cJSON_AddNumberToObject(j, "exact_fraction", exact_fraction))
            text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!text) {
            hostlog_error("out of memory");
            goto done;
        }
        printf("%s\n", text);
        cJSON_free(text);
    } else {
        printf("files %zu\nfailed %llu\nexact %.4f\naudio_seconds %.1f\ncer %.4f\nwer %.4f\n", mf.n,
               (unsigned long long)failed, exact_fraction, audio, cer, wer);
    }
    rc = failed ? EXIT_PARTIAL : EXIT_OK;
done:
    for (size_t i = 0; res && i < mf.n; i++)
        tx_result_free(&res[i]);
    free(res);
    free(paths);
    asr_phrases_free(&ph);
    manifest_free(&mf);
    asr_close(&m);
    registry_free(&reg);
    return rc;
}
