/* eval of speech (ctc) models: word and character error rates over a manifest of recordings and their
 * transcripts, the files transcribed on several threads (asreval.h). The last line is `wer X`. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "asreval.h"
#include "hostlog.h"
#include "interrupt.h"
#include "manifest.h"
#include "tasks.h"
#include "wer.h"

typedef struct ctc_eval_opts {
    const char *manifest, *phrases;
    uint32_t jobs, beam;
    int errors;
} ctc_eval_opts;

static const ctc_eval_opts defaults = {.jobs = 2, .beam = 1};

static const cli_option options[] = {
    {.name = "manifest", .kind = CLI_STRING, .offset = offsetof(ctc_eval_opts, manifest), .arg = "FILE",
     .help = "the test utterances, path<TAB>transcript per line"},
    {.name = "jobs", .short_name = 'j', .kind = CLI_U32, .offset = offsetof(ctc_eval_opts, jobs), .arg = "N",
     .help = "files transcribed in parallel, 1-256", .min = 1, .max = 256},
    {.name = "beam-size", .kind = CLI_U32, .offset = offsetof(ctc_eval_opts, beam), .arg = "N",
     .help = "prefix beam search with N prefixes; 1: greedy", .min = 1, .max = 4096},
    {.name = "phrases", .kind = CLI_STRING, .offset = offsetof(ctc_eval_opts, phrases), .arg = "FILE",
     .help = "only these phrases (one per line) are allowed"},
    {.name = "errors", .kind = CLI_FLAG, .offset = offsetof(ctc_eval_opts, errors),
     .help = "print every utterance that is not exactly right"},
    {0},
};
static const cli_section section = {
    "Speech models (task ctc, given --manifest): word and character error rates of the model's transcripts "
    "against a manifest of recordings and their transcripts. The last line is 'wer X'.",
    options};

static int ctc_eval_run(const char *path, plugin_registry *r, const void *opts, int json)
{
    const ctc_eval_opts *eo = opts;
    const char *mpath = eo->manifest;
    if (!mpath) {
        hostlog_usage("eval: --manifest is required for a speech model");
        return EXIT_USAGE;
    }
    const char *phrases = eo->phrases;
    asr_model m;
    manifest mf = {0};
    rh_ctc_phrases ph = {0};
    tx_result *res = NULL;
    const char **paths = NULL;
    char why[1024];
    int rc = EXIT_FAIL;
    memset(&m, 0, sizeof m);
    if (asr_open(&m, r, path, why, sizeof why) != EXIT_OK) {
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
    asr_decode_opts o = {eo->beam, phrases ? &ph : NULL, 0, 0, 0, 0, 0};
    if (asr_run_files(res, paths, mf.n, &m, &o, (int)eo->jobs, NULL, NULL, &host_interrupted, why, sizeof why) != 0) {
        hostlog_error("%s", why);
        goto done;
    }
    if (host_interrupted) {
        hostlog_info("interrupted; %s is not evaluated", mpath);
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
        if (eo->errors && e)
            printf("%s\tref: %s\thyp: %s\n", mf.v[i].path, mf.v[i].text, res[i].text);
    }
    if (failed) {
        hostlog_error("%llu of %zu files could not be read; the rates cover the others", (unsigned long long)failed,
                      mf.n);
    }
    const double wer = wn ? (double)we / (double)wn : 0, cer = cn ? (double)ce / (double)cn : 0;
    const double exact_fraction = mf.n - failed ? (double)exact / (double)(mf.n - failed) : 0.0;
    if (json) {
        /* the first ten fields as they always were ("exact" a count); the envelope and the fraction that
         * the text output calls "exact" added */
        cJSON *j = cJSON_CreateObject();
        char *text = NULL;
        if (j && cJSON_AddNumberToObject(j, "files", (double)mf.n) &&
            cJSON_AddNumberToObject(j, "failed", (double)failed) &&
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
    return rc;
}

const task_eval ctc_eval = {"--manifest FILE", "speech models", &section, sizeof(ctc_eval_opts), &defaults, ctc_eval_run};
