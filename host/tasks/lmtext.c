/* What sample and score do with a language model (task lm): text drawn symbol by symbol through the
 * streaming step, and the log-probability of a text, computed exactly as training's validation (lm_nll). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "atomicfile.h"
#include "hostlog.h"
#include "interrupt.h"
#include "lm.h"
#include "tasks.h"
#include "text.h"

/* The prime text's ids, plus the newline a model with one starts from when there is none. -1 after one line. */
static int prime_ids(int32_t **ids, size_t *n, text_buf *pt, const lm *m, const char *prime)
{
    char err[512];
    size_t bad;
    if (prime && text_decode(pt, prime, strlen(prime), "--prime-text", err, sizeof err) != 0) {
        hostlog_error("%s", err);
        return -1;
    }
    if (!(*ids = malloc((pt->n + 1) * sizeof **ids))) {
        hostlog_error("out of memory");
        return -1;
    }
    if (pt->n && text_encode(*ids, pt, &m->voc, &bad) != 0) {
        char sym[32];
        symbol_describe(sym, sizeof sym, pt->cp[bad]);
        hostlog_error("--prime-text: symbol %s at position %zu is not in the model's vocabulary", sym, bad + 1);
        return -1;
    }
    *n = pt->n;
    const int32_t newline = vocab_id(&m->voc, '\n');
    if (*n == 0 && newline >= 0)
        (*ids)[(*n)++] = newline; /* start as a line starts; not printed */
    return 0;
}

/* The samples into out. EXIT_OK, EXIT_INTERRUPTED, or EXIT_FAIL after one line. */
static int draw(FILE *out, const lm *m, const sample_args *a, const text_buf *pt, const int32_t *prime, size_t n_prime)
{
    const int live = isatty(fileno(out));
    const host_model *hm = &m->hm;
    const uint32_t V = hm->info.output_dim;
    const int32_t newline = vocab_id(&m->voc, '\n');
    const uint32_t top_k = (uint32_t)(a->sampling.top_k > V ? V : a->sampling.top_k);
    float *state = malloc(hm->info.state_size * sizeof(float)), *y = malloc(V * sizeof(float)),
          *scratch = malloc((hm->vt->step_scratch_size(hm->model, 1) + 1) * sizeof(float)),
          *buf = malloc(V * sizeof(float));
    int rc = EXIT_FAIL;
    rh_rng rng;
    rh_rng_seed(&rng, a->sampling.seed);
    if (!state || !y || !scratch || !buf) {
        hostlog_error("out of memory");
        goto done;
    }
    for (uint64_t s = 0; s < a->num && !host_interrupted && !ferror(out); s++) {
        char utf8[4];
        uint64_t length = a->length;
        hm->vt->reset(hm->model, state, 1);
        for (size_t i = 0; i < pt->n; i++)
            fwrite(utf8, 1, utf8_encode(utf8, pt->cp[i]), out);
        int32_t sym = -1;
        for (size_t i = 0; i < n_prime; i++) {
            sym = prime[i];
            if (host_model_step(hm, i + 1 == n_prime ? y : NULL, state, scratch, NULL, &sym, 1) != RH_OK) {
                hostlog_error("the model's step failed");
                goto done;
            }
        }
        if (sym < 0) { /* nothing to condition on: the first symbol is drawn uniformly */
            sym = (int32_t)rh_rng_below(&rng, V);
            fwrite(utf8, 1, utf8_encode(utf8, m->voc.cp[sym]), out);
            if (host_model_step(hm, y, state, scratch, NULL, &sym, 1) != RH_OK)
                goto done;
            length = length ? length - 1 : 0;
        }
        /* a failed write (a full disk) stops here rather than sampling on into nowhere */
        for (uint64_t i = 0; i < length && !host_interrupted && !ferror(out); i++) {
            sym = rh_sample_logits(y, V, (float)a->sampling.temperature, top_k, buf, &rng);
            if (sym < 0) {
                hostlog_error("the model produced a NaN logit");
                goto done;
            }
            fwrite(utf8, 1, utf8_encode(utf8, m->voc.cp[sym]), out);
            if (live)
                fflush(out);
            if (a->stop_at_newline && sym == newline)
                break;
            if (i + 1 < length && host_model_step(hm, y, state, scratch, NULL, &sym, 1) != RH_OK) {
                hostlog_error("the model's step failed");
                goto done;
            }
        }
        if (sym != newline)
            fputc('\n', out); /* every sample ends its line */
    }
    rc = host_interrupted ? EXIT_INTERRUPTED : EXIT_OK;
done:
    free(state), free(y), free(scratch), free(buf);
    return rc;
}

int lm_sample_text(const char *path, plugin_registry *r, const sample_args *a)
{
    lm m;
    text_buf pt = {0};
    int32_t *prime = NULL;
    size_t n_prime = 0;
    char why[1024], err[512];
    int rc = lm_open(&m, r, path, why, sizeof why);
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        return rc;
    }
    if (host_interrupted) {
        hostlog_info("interrupted before sampling; nothing is written");
        lm_close(&m);
        return EXIT_INTERRUPTED;
    }
    rc = EXIT_FAIL;
    host_model_prepare_step(&m.hm);
    /* the priming text, encoded before anything is written, so an unknown symbol costs nothing */
    if (prime_ids(&prime, &n_prime, &pt, &m, a->prime) != 0)
        goto done;
    /* A file is written beside its target and renamed at the end, so a killed or failed run never leaves
     * half a file where a whole one was (or was expected); stdout, a device or a FIFO is a stream. */
    atomic_out file = {0};
    if (atomic_out_open(&file, a->out, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    rc = draw(file.f, &m, a, &pt, prime, n_prime);
    if (rc == EXIT_FAIL) {
        atomic_out_abort(&file);
    } else if (atomic_out_commit(&file, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_INTERRUPTED)
        hostlog_info("interrupted; the text sampled so far is written");
done:
    free(prime);
    text_free(&pt);
    lm_close(&m);
    return rc;
}

static void score_report(const score_args *a, size_t symbols, uint64_t count, double nll)
{
    const double npc = nll / (double)count;
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "schema", 1);
        cJSON_AddStringToObject(j, "file", a->text);
        cJSON_AddNumberToObject(j, "symbols", (double)symbols);
        cJSON_AddNumberToObject(j, "predicted", (double)count);
        cJSON_AddNumberToObject(j, "log_prob", -nll);
        cJSON_AddNumberToObject(j, "nats_per_char", npc);
        cJSON_AddNumberToObject(j, "bits_per_char", npc / log(2.0));
        cJSON_AddNumberToObject(j, "perplexity", exp(npc));
        char *s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
        return;
    }
    printf("file %s\n", a->text);
    printf("symbols %zu (%llu predicted)\n", symbols, (unsigned long long)count);
    printf("log_prob %.4f\n", -nll);
    printf("bits_per_char %.6f\n", npc / log(2.0));
    printf("perplexity %.6f\n", exp(npc));
    printf("nats_per_char %.6f\n", npc);
}

int lm_score_text(const char *path, plugin_registry *r, const score_args *a)
{
    lm m;
    text_buf text = {0};
    int32_t *ids = NULL;
    char why[1024], err[512];
    int rc = lm_open(&m, r, path, why, sizeof why);
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        return rc;
    }
    rc = EXIT_FAIL;
    if (text_read(&text, a->text, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    if (text.n < 2) {
        hostlog_error("%s: a text of %zu symbol%s has nothing to predict", a->text, text.n, text.n == 1 ? "" : "s");
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
        hostlog_error("%s: symbol %s at line %zu, column %zu is not in the model's vocabulary", a->text, sym, line,
                      col);
        goto done;
    }
    double nll;
    uint64_t count;
    const int scored =
        host_interrupted ? 1 : lm_nll_until(&nll, &count, &m.hm, ids, text.n, a->streams, a->seq, &host_interrupted);
    if (scored == 1) {
        hostlog_info("interrupted; %s is not scored",
                strcmp(a->text, "-") == 0 ? "standard input" : a->text);
        rc = EXIT_INTERRUPTED;
        goto done;
    }
    if (scored != 0 || count == 0) {
        hostlog_error("scoring failed (out of memory or a model error)");
        goto done;
    }
    score_report(a, text.n, count, nll);
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
done:
    free(ids);
    text_free(&text);
    lm_close(&m);
    return rc;
}
