/* What a classifier's users run: eval (accuracy, each label's precision, recall and F1, the confusion
 * matrix) and classify (the label of each line, in batches of one, or streamed element by element through
 * the model's step). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "classify.h"
#include "hostlog.h"
#include "interrupt.h"
#include "tasks.h"

enum { EVAL_BATCH = 32 };

/* The confusion matrix: (L, L), a row for each true label, a column for each predicted one. */
typedef struct confusion {
    uint32_t L;
    uint64_t *counts;
} confusion;

/* The report: text, each label's line and the matrix, or one JSON object. */
static void report(void *ctx, const cls_model *m, const cls_set *s, const char *path, const char *data, int json)
{
    const uint64_t *conf = ((const confusion *)ctx)->counts;
    const size_t n = s->n;
    const uint32_t L = m->n_labels;
    uint64_t right = 0;
    for (uint32_t l = 0; l < L; l++)
        right += conf[(size_t)l * L + l];
    const double accuracy = (double)right / (double)n;
    cJSON *j = json ? eval_json(path, CLS_TASK, data) : NULL, *classes = NULL, *matrix = NULL;
    if (j) {
        cJSON_AddNumberToObject(j, "sequences", (double)n);
        classes = cJSON_AddArrayToObject(j, "classes");
        matrix = cJSON_AddArrayToObject(j, "confusion");
    } else {
        printf("sequences %zu\n%-16s %9s %9s %9s %9s\n", n, "label", "precision", "recall", "f1", "support");
    }
    for (uint32_t l = 0; l < L; l++) {
        uint64_t predicted = 0, actual = 0;
        for (uint32_t k = 0; k < L; k++)
            predicted += conf[(size_t)k * L + l], actual += conf[(size_t)l * L + k];
        const double tp = (double)conf[(size_t)l * L + l];
        const double p = predicted ? tp / (double)predicted : 0, r = actual ? tp / (double)actual : 0;
        const double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
        if (j) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "label", m->labels[l]);
            cJSON_AddNumberToObject(c, "precision", p);
            cJSON_AddNumberToObject(c, "recall", r);
            cJSON_AddNumberToObject(c, "f1", f1);
            cJSON_AddNumberToObject(c, "support", (double)actual);
            cJSON_AddItemToArray(classes, c);
            cJSON *row = cJSON_CreateArray();
            for (uint32_t k = 0; k < L; k++)
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)conf[(size_t)l * L + k]));
            cJSON_AddItemToArray(matrix, row);
        } else {
            printf("%-16s %9.4f %9.4f %9.4f %9llu\n", m->labels[l], p, r, f1, (unsigned long long)actual);
        }
    }
    if (j) {
        cJSON_AddNumberToObject(j, "accuracy", accuracy);
        eval_json_print(j);
        return;
    }
    printf("confusion (a row for each true label, a column for each predicted one, in the order above)\n");
    for (uint32_t l = 0; l < L; l++) {
        for (uint32_t k = 0; k < L; k++)
            printf("%s%llu", k ? "\t" : "", (unsigned long long)conf[(size_t)l * L + k]);
        printf("\n");
    }
    printf("accuracy %.6f\n", accuracy);
}

int cls_evaluate(const cls_eval_kind *k, void *ctx, const char *path, plugin_registry *r, const char *data,
                 int json)
{
    cls_model m;
    cls_set s;
    cls_batch b;
    uint32_t idx[EVAL_BATCH];
    int rc = EXIT_FAIL;
    if (!data) {
        hostlog_usage("eval: --data FILE is required for %s", k->noun);
        return EXIT_USAGE;
    }
    if (cls_load(&m, r, path) != EXIT_OK)
        return EXIT_LOAD;
    memset(&b, 0, sizeof b);
    if (cls_read(&s, data, &m, k->how) != 0)
        goto done;
    if (m.input == CLS_IN_NUMERIC)
        cls_standardise(&m, &s);
    if (k->begin(ctx, &m, &s) != 0 || cls_batch_alloc(&b, &m, cls_longest(&s), EVAL_BATCH) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    for (size_t first = 0; first < s.n; first += EVAL_BATCH) {
        if (host_interrupted) {
            hostlog_info("interrupted; %s is not evaluated", data);
            rc = EXIT_INTERRUPTED;
            goto done;
        }
        const uint32_t n = (uint32_t)(s.n - first < EVAL_BATCH ? s.n - first : EVAL_BATCH);
        for (uint32_t i = 0; i < n; i++)
            idx[i] = (uint32_t)(first + i);
        cls_batch_fill(&b, &m, &s, idx, n);
        if (cls_forward(&m, &b, NULL, NULL) != RH_OK) {
            hostlog_error("%s: the model failed", path);
            goto done;
        }
        k->count(ctx, &b, n);
    }
    k->report(ctx, &m, &s, path, data, json);
    rc = EXIT_OK;
done:
    cls_batch_free(&b);
    cls_set_free(&s);
    cls_close(&m);
    return rc;
}

static int begin(void *ctx, const cls_model *m, const cls_set *s)
{
    confusion *c = ctx;
    (void)s;
    c->L = m->n_labels;
    c->counts = calloc((size_t)c->L * c->L, sizeof *c->counts);
    return c->counts ? 0 : -1;
}

static void count(void *ctx, const cls_batch *b, uint32_t n)
{
    confusion *c = ctx;
    for (uint32_t k = 0; k < n; k++)
        c->counts[(size_t)b->targets[k] * c->L + cls_top(b->z + (size_t)k * c->L, c->L)]++;
}

static const cls_eval_kind classifier = {"a classifier", CLS_READ_LABELS, begin, count, report};

static int eval_run(const char *path, plugin_registry *r, const void *opts, int json)
{
    confusion c = {0, NULL};
    const int rc = cls_evaluate(&classifier, &c, path, r, ((const music_eval_opts *)opts)->data, json);
    free(c.counts);
    return rc;
}

const task_eval cls_eval = {"--data FILE.tsv", "classifiers", &music_eval_section, sizeof(music_eval_opts),
                            &music_eval_defaults, eval_run};

/* ---- classify ----------------------------------------------------------------------------------------------- */

/* One line of output: the top label and its probability, or (json) every label's. */
static void print_result(const cls_model *m, const float *probs, int json)
{
    const uint32_t k = cls_top(probs, m->n_labels);
    if (!json) {
        printf("%s\t%.6f\n", m->labels[k], probs[k]);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "label", m->labels[k]);
    cJSON_AddNumberToObject(j, "probability", probs[k]);
    cJSON *p = cJSON_AddObjectToObject(j, "probabilities");
    for (uint32_t l = 0; l < m->n_labels; l++)
        cJSON_AddNumberToObject(p, m->labels[l], probs[l]);
    char *s = cJSON_PrintUnformatted(j);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

/* The probabilities after every element of one sequence of n, stepped from the reset state. */
static rh_status stream_one(const cls_model *m, const cls_batch *b, float *state, float *scratch, float *probs,
                            uint32_t n, int json)
{
    const host_model *hm = &m->dir[0];
    rh_status st = hm->vt->reset(hm->model, state, 1);
    const int vectors = cls_vectors(m); /* the word's vector is the step's input */
    for (uint32_t t = 0; t < n && st == RH_OK; t++) {
        const float *x = vectors    ? m->params + m->off_embed + (size_t)b->tokens[0][t] * m->word_dim
                         : b->x[0] ? b->x[0] + (size_t)t * m->channels
                                   : NULL;
        const int32_t *tok = !vectors && b->tokens[0] ? b->tokens[0] + t : NULL;
        if ((st = hm->vt->step(hm->model, probs, state, scratch, m->pdir[0], x, tok, 1)) == RH_OK) {
            rh_softmax(probs, probs, 1, m->n_labels);
            print_result(m, probs, json);
        }
    }
    return st;
}

int cls_classify(const char *path, plugin_registry *r, const classify_args *a)
{
    cls_model m;
    cls_batch b;
    char *line = NULL;
    size_t cap = 0, ln = 0;
    float *probs = NULL, *state = NULL, *scratch = NULL;
    int rc = EXIT_FAIL;
    if (cls_load(&m, r, path) != EXIT_OK)
        return EXIT_LOAD;
    memset(&b, 0, sizeof b);
    if (a->stream && (m.bidirectional || m.pool != CLS_POOL_LAST || m.spelling)) {
        hostlog_error("%s: --stream needs a unidirectional model with --pool last and no spelling model (this one is "
                      "%s, pool %s%s)",
                      path, m.bidirectional ? "bidirectional" : "unidirectional", cls_pool_names[m.pool],
                      m.spelling ? ", spelled" : "");
        cls_close(&m);
        return EXIT_FAIL;
    }
    FILE *f = cls_open_input(a->input);
    if (!f) {
        cls_close(&m);
        return EXIT_FAIL;
    }
    const host_model *hm = &m.dir[0];
    probs = malloc((m.n_labels + 1) * sizeof *probs);
    state = malloc(((size_t)hm->info.state_size + 1) * sizeof *state);
    scratch = malloc((hm->vt->step_scratch_size(hm->model, 1) + 1) * sizeof *scratch);
    if (!probs || !state || !scratch || cls_batch_alloc(&b, &m, m.max_len, 1) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        ln++;
        if (host_interrupted)
            break;
        size_t len;
        const long n = cls_parse_line(&m, line, (size_t)got, &len, &b, a->input, ln);
        if (n < 0)
            goto done;
        rh_status st = a->stream ? stream_one(&m, &b, state, scratch, probs, (uint32_t)n, a->json)
                                 : cls_forward(&m, &b, NULL, NULL);
        if (st != RH_OK) {
            hostlog_error("%s: the model failed on line %zu: %s", path, ln, rh_strerror(st));
            goto done;
        }
        if (!a->stream) {
            rh_softmax(probs, b.z, 1, m.n_labels);
            print_result(&m, probs, a->json);
        }
    }
    rc = cls_lines_end(f, a->input);
done:
    if (f != stdin)
        fclose(f);
    free(line), free(probs), free(state), free(scratch);
    cls_batch_free(&b);
    cls_close(&m);
    return rc;
}

int cls_lines_end(FILE *f, const char *input)
{
    char why[512];
    if (host_interrupted)
        return EXIT_INTERRUPTED;
    if (ferror(f)) {
        host_fmt_errno(why, sizeof why, input, errno);
        hostlog_error("%s", why);
        return EXIT_FAIL;
    }
    if (fflush(stdout) != 0) {
        hostlog_error("cannot write the results");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

FILE *cls_open_input(const char *input)
{
    FILE *f = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
    if (!f) {
        char why[512];
        host_fmt_errno(why, sizeof why, input, errno);
        hostlog_error("%s", why);
    }
    return f;
}
