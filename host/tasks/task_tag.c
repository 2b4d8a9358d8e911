/* Task tag: a tag for every word (many-to-many with Tx = Ty: parts of speech, names in a sentence). The
 * classifier's model (classify.h) without pooling: the logits of every step, both directions' added (it
 * reads both ways unless told otherwise), a softmax per word. It trains on CoNLL lines token<TAB>tag with a
 * blank line between sentences, in the trainer it shares with classify (clstrain.c); validation is the
 * token error rate. eval adds entity-level F1 when the tags are IOB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "classify.h"
#include "hostlog.h"
#include "interrupt.h"
#include "seqtask.h"
#include "tasks.h"

static int check(train_opts *o, void *own, const cli_group *groups, size_t n)
{
    const seq_opts *so = own;
    (void)groups, (void)n;
    if (!so->data)
        return hostlog_usage("train: --data FILE is required (CoNLL: token<TAB>tag lines)"), -1;
    return cls_check_shared(o, so, 1);
}

static int tag_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path)
{
    cls_trainer *tr = st;
    tr->m.tagger = 1, tr->m.input = CLS_IN_WORDS, tr->m.pool = CLS_POOL_EACH;
    return cls_train_open(st, c, from, from_path);
}

static const cli_section *const sections[] = {&seq_data_section, &cls_shared_section, NULL};

static const task_train train = {
    CLS_TASK_TRAIN,
    .about = "a tag for every word (parts of speech, names) from CoNLL lines token<TAB>tag, a blank line between "
             "sentences",
    .usage = "--data FILE.txt",
    .sections = sections,
    .rate_unit = "sent/s",
    .data_differs = "the training sentences differ",
    .rng_salt = 0x7461675f74726e31ULL,
    .check = check,
    .open = tag_open,
};

/* ---- eval ------------------------------------------------------------------------------------------------- */

/* IOB tags: every tag is O or B-TYPE or I-TYPE, and one at least is not O. */
static int iob_tags(const cls_model *m)
{
    int typed = 0;
    for (uint32_t i = 0; i < m->n_labels; i++) {
        const char *t = m->labels[i];
        if (strcmp(t, "O") == 0)
            continue;
        if ((t[0] != 'B' && t[0] != 'I') || t[1] != '-' || !t[2])
            return 0;
        typed = 1;
    }
    return typed;
}

/* Where entity k of a sentence's tags ends (one past), and its type in *type (from its tag's third
 * character); the next entity's start in *next. An entity starts at B-X, or at I-X after anything but
 * B-X or I-X of the same type, and runs on over I-X (conlleval's reading of IOB1 and IOB2 alike). */
static size_t entity_at(const cls_model *m, const int32_t *tags, size_t n, size_t from, size_t *start,
                        const char **type)
{
    for (size_t i = from; i < n; i++) {
        const char *t = m->labels[tags[i]];
        if (strcmp(t, "O") == 0)
            continue;
        *start = i, *type = t + 2;
        size_t e = i + 1;
        while (e < n && m->labels[tags[e]][0] == 'I' && strcmp(m->labels[tags[e]] + 2, *type) == 0)
            e++;
        return e;
    }
    *start = n;
    return n;
}

/* Entities of a sentence, gold and predicted, and those both have (same span, same type). */
static void count_entities(const cls_model *m, const int32_t *gold, const int32_t *pred, size_t n, double *counts)
{
    size_t s, e;
    const char *type, *ptype;
    for (size_t at = 0; (e = entity_at(m, gold, n, at, &s, &type)), s < n; at = e) {
        counts[0]++;
        size_t ps, pe = 0;
        for (size_t pat = 0; (pe = entity_at(m, pred, n, pat, &ps, &ptype)), ps < n && ps <= s; pat = pe)
            if (ps == s && pe == e && strcmp(ptype, type) == 0)
                counts[2]++;
    }
    for (size_t at = 0; (e = entity_at(m, pred, n, at, &s, &type)), s < n; at = e)
        counts[1]++;
}

/* What eval counts over a tagger's batches. */
typedef struct tag_counts {
    const cls_model *m;
    int iob;                 /* and the entities (iob_tags) */
    int32_t *pred, *gold;    /* (the longest sentence + 1) one sentence's tags */
    double tokens, right, ent[3]; /* ent: gold, predicted, both */
} tag_counts;

static int begin(void *ctx, const cls_model *m, const cls_set *s)
{
    tag_counts *c = ctx;
    const uint32_t T = cls_longest(s);
    c->m = m;
    c->iob = iob_tags(m);
    c->pred = malloc(((size_t)T + 1) * sizeof *c->pred);
    c->gold = malloc(((size_t)T + 1) * sizeof *c->gold);
    return c->pred && c->gold ? 0 : -1;
}

static void count(void *ctx, const cls_batch *b, uint32_t n)
{
    tag_counts *c = ctx;
    const uint32_t L = c->m->n_labels;
    for (uint32_t k = 0; k < n; k++) {
        for (uint32_t t = 0; t < b->lengths[k]; t++) {
            const size_t row = (size_t)t * n + k;
            c->pred[t] = (int32_t)cls_top(b->z + row * L, L), c->gold[t] = b->targets[row];
            c->right += c->pred[t] == c->gold[t];
        }
        c->tokens += b->lengths[k];
        if (c->iob)
            count_entities(c->m, c->gold, c->pred, b->lengths[k], c->ent);
    }
}

static void report(void *ctx, const cls_model *m, const cls_set *s, const char *path, const char *data, int json)
{
    const tag_counts *c = ctx;
    const double tokens = c->tokens, accuracy = c->right / tokens, *ent = c->ent;
    const double p = ent[1] ? ent[2] / ent[1] : 0, rec = ent[0] ? ent[2] / ent[0] : 0;
    const double f1 = p + rec > 0 ? 2 * p * rec / (p + rec) : 0;
    (void)m;
    if (json) {
        cJSON *j = eval_json(path, TAG_TASK, data);
        cJSON_AddNumberToObject(j, "sentences", (double)s->n);
        cJSON_AddNumberToObject(j, "tokens", tokens);
        if (c->iob) {
            cJSON *e = cJSON_AddObjectToObject(j, "entities");
            cJSON_AddNumberToObject(e, "gold", ent[0]);
            cJSON_AddNumberToObject(e, "predicted", ent[1]);
            cJSON_AddNumberToObject(e, "correct", ent[2]);
            cJSON_AddNumberToObject(e, "precision", p);
            cJSON_AddNumberToObject(e, "recall", rec);
            cJSON_AddNumberToObject(e, "f1", f1);
        }
        cJSON_AddNumberToObject(j, "accuracy", accuracy);
        eval_json_print(j);
    } else {
        printf("sentences %zu\ntokens %.0f\n", s->n, tokens);
        if (c->iob)
            printf("entities %.0f, predicted %.0f, right %.0f: precision %.6f recall %.6f f1 %.6f\n", ent[0], ent[1],
                   ent[2], p, rec, f1);
        printf("accuracy %.6f\n", accuracy);
    }
}

static const cls_eval_kind tagger = {"a tagger", CLS_READ_CONLL, begin, count, report};

static int eval_run(const char *path, plugin_registry *r, const void *opts, int json)
{
    tag_counts c = {0};
    const int rc = cls_evaluate(&tagger, &c, path, r, ((const music_eval_opts *)opts)->data, json);
    free(c.pred), free(c.gold);
    return rc;
}

static const task_eval eval_ops = {"--data FILE.txt", "taggers", &music_eval_section, sizeof(music_eval_opts),
                                   &music_eval_defaults, eval_run};

/* ---- tag ---------------------------------------------------------------------------------------------------- */

/* One sentence's output: token<TAB>tag lines and a blank line, or one JSON object. */
static void print_sentence(const cls_model *m, const char *line, size_t len, const float *z, uint32_t n, int json)
{
    const uint32_t L = m->n_labels;
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    cJSON *tokens = j ? cJSON_AddArrayToObject(j, "tokens") : NULL, *tags = j ? cJSON_AddArrayToObject(j, "tags") : NULL;
    cJSON *probs = j ? cJSON_AddArrayToObject(j, "probabilities") : NULL;
    float *p = malloc(L * sizeof *p);
    size_t at = 0, wlen;
    for (uint32_t t = 0; t < n && p; t++) {
        const char *w = cls_next_word(line, len, &at, &wlen);
        rh_softmax(p, z + (size_t)t * L, 1, L);
        const uint32_t k = cls_top(p, L);
        if (j) {
            char *word = strndup(w, wlen);
            cJSON_AddItemToArray(tokens, cJSON_CreateString(word ? word : ""));
            cJSON_AddItemToArray(tags, cJSON_CreateString(m->labels[k]));
            cJSON_AddItemToArray(probs, cJSON_CreateNumber(p[k]));
            free(word);
        } else {
            printf("%.*s\t%s\n", (int)wlen, w, m->labels[k]);
        }
    }
    free(p);
    if (!j) {
        printf("\n");
        return;
    }
    char *text = cJSON_PrintUnformatted(j);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
}

static int tag_run(const char *path, plugin_registry *r, const classify_args *a)
{
    cls_model m;
    cls_batch b;
    char *line = NULL;
    size_t cap = 0, ln = 0;
    int rc = EXIT_FAIL;
    if (cls_load(&m, r, path) != EXIT_OK)
        return EXIT_LOAD;
    memset(&b, 0, sizeof b);
    FILE *f = cls_open_input(a->input);
    if (!f) {
        cls_close(&m);
        return EXIT_FAIL;
    }
    if (cls_batch_alloc(&b, &m, m.max_len, 1) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0 && !host_interrupted) {
        ln++;
        size_t len;
        const long n = cls_parse_line(&m, line, (size_t)got, &len, &b, a->input, ln);
        if (n < 0)
            goto done;
        const rh_status st = cls_forward(&m, &b, NULL, NULL);
        if (st != RH_OK) {
            hostlog_error("%s: the model failed on line %zu: %s", path, ln, rh_strerror(st));
            goto done;
        }
        print_sentence(&m, line, len, b.z, (uint32_t)n, a->json);
    }
    rc = cls_lines_end(f, a->input);
done:
    if (f != stdin)
        fclose(f);
    free(line);
    cls_batch_free(&b);
    cls_close(&m);
    return rc;
}

const task_ops task_tag = {
    .name = TAG_TASK,
    .noun = "a word tagger",
    .train = &train,
    .eval = &eval_ops,
    .tag = tag_run,
    .export = &cls_export,
};
