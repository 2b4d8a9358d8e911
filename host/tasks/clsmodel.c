/* The classifier (classify.h): its stacks over one buffer, its model file, and the pooling head's forward
 * and backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "classify.h"
#include "hostlog.h"

const char *const cls_pool_names[] = {"last", "mean", "max", "each", NULL};
const char *const cls_input_names[] = {"chars", "numeric", "words", NULL};

/* ---- the model ------------------------------------------------------------------------------------------ */

/* The table of every tensor over the flat buffer (classify.h). 0, or -1 (memory). */
static int tensor_table(cls_model *m)
{
    const cls_model *sp = m->spell;
    uint32_t n = 0, k = 0;
    for (int d = 0; d < cls_dirs(m); d++)
        n += m->dir[d].info.num_tensors;
    if (m->word_dim)
        n += 1 + (sp ? sp->num_tensors : 0);
    m->tensors = calloc(n + 1, sizeof *m->tensors);
    m->names = calloc(n + 1, sizeof *m->names);
    if (!m->tensors || !m->names)
        return -1;
    uint64_t base = 0;
    for (int d = 0; d < cls_dirs(m); d++) {
        const host_model *hm = &m->dir[d];
        for (uint32_t i = 0; i < hm->info.num_tensors; i++, k++) {
            host_fmt(m->names[k], sizeof m->names[k], "%s%s", !m->bidirectional ? "" : d ? "bw." : "fw.",
                     hm->tensors[i].name);
            m->tensors[k] = hm->tensors[i];
            m->tensors[k].name = m->names[k];
            m->tensors[k].offset += base;
        }
        base += hm->info.num_params;
    }
    if (m->word_dim) {
        const rh_tensor embed = {m->names[k], 2, {m->n_words + 1, m->word_dim, 0, 0}, m->off_embed,
                                 (uint64_t)(m->n_words + 1) * m->word_dim, RH_INIT_UNIFORM, 0.1f};
        host_fmt(m->names[k], sizeof m->names[k], "words.embed");
        m->tensors[k++] = embed;
        for (uint32_t i = 0; sp && i < sp->num_tensors; i++, k++) {
            host_fmt(m->names[k], sizeof m->names[k], "spell.%s", sp->tensors[i].name);
            m->tensors[k] = sp->tensors[i];
            m->tensors[k].name = m->names[k];
            m->tensors[k].offset += m->off_spell;
        }
    }
    m->num_tensors = n;
    return 0;
}

/* The character model of a model with spelling (classify.h), with buffers of its own until cls_create
 * moves them into its owner's. */
static int create_spelling(cls_model *m, plugin_registry *r, char *why, size_t why_len)
{
    cls_model *sp = m->spell = calloc(1, sizeof *sp);
    if (!sp) {
        host_fmt(why, why_len, "out of memory");
        return EXIT_FAIL;
    }
    sp->input = CLS_IN_CHARS, sp->pool = CLS_POOL_LAST, sp->bidirectional = 1;
    sp->n_labels = 2 * m->spelling, sp->max_len = CLS_SPELL_MAX;
    host_fmt(sp->spec.task, sizeof sp->spec.task, "%s", CLS_TASK);
    host_fmt(sp->spec.model_id, sizeof sp->spec.model_id, "%s", m->spec.model_id);
    sp->spec.input_kind = RH_INPUT_TOKENS, sp->spec.input_dim = m->spell_voc.n + 1;
    sp->spec.hidden_size = m->spelling, sp->spec.num_layers = 1, sp->spec.output_dim = 2 * m->spelling;
    return cls_create(sp, r, why, why_len);
}

int cls_create(cls_model *m, plugin_registry *r, char *why, size_t why_len)
{
    for (int d = 0; d < cls_dirs(m); d++) {
        const int rc = model_create(&m->dir[d], r, &m->spec, why, why_len);
        if (rc != EXIT_OK)
            return rc;
        m->np[d] = m->dir[d].info.num_params;
    }
    m->P = m->np[0] + m->np[1];
    if (m->word_dim) {
        m->off_embed = m->P;
        m->P += (uint64_t)(m->n_words + 1) * m->word_dim;
        m->off_spell = m->P;
    }
    if (m->spelling) {
        const int rc = create_spelling(m, r, why, why_len);
        if (rc != EXIT_OK)
            return rc;
        m->P += m->spell->P;
    }
    m->params = calloc(m->P + 1, sizeof *m->params);
    m->grads = calloc(m->P + 1, sizeof *m->grads);
    if (!m->params || !m->grads || tensor_table(m) != 0) {
        host_fmt(why, why_len, "out of memory");
        return EXIT_FAIL;
    }
    for (int d = 0; d < 2; d++) {
        m->pdir[d] = m->params + (d ? m->np[0] : 0);
        m->gdir[d] = m->grads + (d ? m->np[0] : 0);
    }
    if (m->spell) { /* one buffer: the character model's parameters move into this one's */
        cls_model *sp = m->spell;
        free(sp->params), free(sp->grads);
        sp->params = m->params + m->off_spell, sp->grads = m->grads + m->off_spell;
        for (int d = 0; d < 2; d++) {
            sp->pdir[d] = sp->params + (d ? sp->np[0] : 0);
            sp->gdir[d] = sp->grads + (d ? sp->np[0] : 0);
        }
    }
    return EXIT_OK;
}

uint32_t cls_top(const float *z, uint32_t L)
{
    uint32_t k = 0;
    for (uint32_t l = 1; l < L; l++)
        if (z[l] > z[k])
            k = l;
    return k;
}

int32_t cls_label(const cls_model *m, const char *label)
{
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i], label) == 0)
            return (int32_t)i;
    return -1;
}

int cls_meta(meta_list *ml, const cls_model *m)
{
    cJSON *j = cJSON_CreateObject(), *labels = cJSON_CreateArray();
    char *s = NULL, *voc = NULL;
    int rc = -1;
    if (!j || !labels)
        goto done;
    cJSON_AddStringToObject(j, "input", cls_input_names[m->input]);
    cJSON_AddStringToObject(j, "pool", cls_pool_names[m->pool]);
    cJSON_AddBoolToObject(j, "bidirectional", m->bidirectional);
    cJSON_AddNumberToObject(j, "max_length", m->max_len);
    for (uint32_t i = 0; i < m->n_labels; i++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(m->labels[i]));
    cJSON_AddItemToObject(j, "labels", labels);
    labels = NULL;
    if (m->input == CLS_IN_CHARS) {
        if (!(voc = vocab_to_utf8(&m->voc)) || !cJSON_AddStringToObject(j, "vocab", voc))
            goto done;
    } else if (m->input == CLS_IN_WORDS) {
        cJSON *words = cJSON_AddArrayToObject(j, "words");
        for (uint32_t i = 0; words && i < m->n_words; i++)
            cJSON_AddItemToArray(words, cJSON_CreateString(m->words[i]));
        if (!words || cJSON_GetArraySize(words) != (int)m->n_words)
            goto done;
        if (m->word_dim && !cJSON_AddNumberToObject(j, "word_dim", m->word_dim))
            goto done;
        if (m->spelling) {
            cJSON *sp = cJSON_AddObjectToObject(j, "spelling");
            if (!sp || !(voc = vocab_to_utf8(&m->spell_voc)) || !cJSON_AddNumberToObject(sp, "units", m->spelling) ||
                !cJSON_AddStringToObject(sp, "vocab", voc))
                goto done;
        }
    } else {
        cJSON_AddNumberToObject(j, "channels", m->channels);
        if (!cJSON_AddItemToObject(j, "mean", cJSON_CreateFloatArray(m->mean, (int)m->channels)) ||
            !cJSON_AddItemToObject(j, "std", cJSON_CreateFloatArray(m->std, (int)m->channels)))
            goto done;
    }
    if ((s = cJSON_PrintUnformatted(j)) != NULL)
        rc = model_spec_to_meta(ml, &m->spec) != 0 || meta_add(ml, "rnnhost.classifier", "%s", s) != 0 ||
                     meta_add(ml, "rnnhost.bidirectional", "%d", m->bidirectional) != 0
                 ? -1
                 : 0;
done:
    cJSON_Delete(j);
    cJSON_Delete(labels);
    free(s), free(voc);
    return rc;
}

/* A choice by name from names, or -1. */
static int choice(const cJSON *j, const char *key, const char *const *names)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    for (int i = 0; cJSON_IsString(v) && names[i]; i++)
        if (strcmp(v->valuestring, names[i]) == 0)
            return i;
    return -1;
}

/* A words model's vectors and spelling model (rnnhost.classifier's "word_dim" and "spelling"; without
 * them the stacks read word ids). 0, or -1 with why. */
static int read_word_vectors(cls_model *m, const cJSON *j, char *why, size_t why_len)
{
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(j, "word_dim");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "spelling");
    if (dim && (!cJSON_IsNumber(dim) || dim->valuedouble < 1 || dim->valuedouble > CLS_MAX_WORD_DIM)) {
        host_fmt(why, why_len, "a word vector width (rnnhost.classifier) that does not fit its model");
        return -1;
    }
    m->word_dim = dim ? (uint32_t)dim->valuedouble : 0;
    if (!sp)
        return 0;
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(sp, "units");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sp, "vocab");
    char err[256];
    if (!m->word_dim || !cJSON_IsNumber(units) || units->valuedouble < 1 || units->valuedouble > CLS_MAX_SPELLING ||
        !cJSON_IsString(v) || vocab_from_utf8(&m->spell_voc, v->valuestring, err, sizeof err) != 0) {
        host_fmt(why, why_len, "a spelling model (rnnhost.classifier) that does not fit its model");
        return -1;
    }
    m->spelling = (uint32_t)units->valuedouble;
    return 0;
}

/* The head from rnnhost.classifier, checked against the spec. 0, or -1 with why. */
static int read_head(cls_model *m, const char *text, char *why, size_t why_len)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    int rc = -1;
    if (!j) {
        host_fmt(why, why_len, "no classifier description (rnnhost.classifier)");
        return -1;
    }
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(j, "max_length");
    const cJSON *bi = cJSON_GetObjectItemCaseSensitive(j, "bidirectional");
    m->input = choice(j, "input", cls_input_names);
    m->pool = choice(j, "pool", cls_pool_names);
    m->bidirectional = cJSON_IsTrue(bi);
    const int n = cJSON_GetArraySize(labels);
    m->tagger = strcmp(m->spec.task, TAG_TASK) == 0;
    if (m->input < 0 || m->pool < 0 || (m->pool == CLS_POOL_EACH) != m->tagger || !cJSON_IsBool(bi) || !cJSON_IsArray(labels) || n < 2 ||
        (uint32_t)n != m->spec.output_dim || !cJSON_IsNumber(ml) || ml->valuedouble < 1 ||
        ml->valuedouble > CLS_MAX_LENGTH) {
        host_fmt(why, why_len, "a classifier description (rnnhost.classifier) that does not fit its model");
        goto done;
    }
    m->max_len = (uint32_t)ml->valuedouble;
    m->n_labels = (uint32_t)n;
    if (!(m->labels = calloc((size_t)n, sizeof *m->labels)))
        goto memory;
    for (int i = 0; i < n; i++) {
        const cJSON *l = cJSON_GetArrayItem(labels, i);
        if (!cJSON_IsString(l)) {
            host_fmt(why, why_len, "label %d is not a string (rnnhost.classifier)", i + 1);
            goto done;
        }
        if (!(m->labels[i] = strdup(l->valuestring)))
            goto memory;
    }
    if (m->input == CLS_IN_CHARS) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vocab");
        char err[256];
        if (!cJSON_IsString(v) || vocab_from_utf8(&m->voc, v->valuestring, err, sizeof err) != 0 ||
            m->spec.input_kind != RH_INPUT_TOKENS || m->voc.n != m->spec.input_dim) {
            host_fmt(why, why_len, "a vocabulary (rnnhost.classifier) that does not fit its model");
            goto done;
        }
    } else if (m->input == CLS_IN_WORDS) {
        const cJSON *words = cJSON_GetObjectItemCaseSensitive(j, "words");
        const int nw = cJSON_GetArraySize(words);
        if (read_word_vectors(m, j, why, why_len) != 0)
            goto done;
        if (!cJSON_IsArray(words) || m->spec.input_kind != (m->word_dim ? RH_INPUT_DENSE : RH_INPUT_TOKENS) ||
            (m->word_dim ? cls_dense(m) : (uint32_t)nw + 1) != m->spec.input_dim) {
            host_fmt(why, why_len, "a vocabulary (rnnhost.classifier) that does not fit its model");
            goto done;
        }
        if (!(m->words = calloc((size_t)nw + 1, sizeof *m->words)))
            goto memory;
        for (int i = 0; i < nw; i++, m->n_words++) {
            const cJSON *w = cJSON_GetArrayItem(words, i);
            /* ascending and distinct, so that finding a word can halve the search */
            if (!cJSON_IsString(w) || (i && strcmp(m->words[i - 1], w->valuestring) >= 0)) {
                host_fmt(why, why_len, "word %d of the vocabulary (rnnhost.classifier) is out of order", i + 1);
                goto done;
            }
            if (!(m->words[i] = strdup(w->valuestring)))
                goto memory;
        }
    } else {
        const cJSON *mean = cJSON_GetObjectItemCaseSensitive(j, "mean"), *sd = cJSON_GetObjectItemCaseSensitive(j, "std");
        m->channels = m->spec.input_dim;
        if (m->spec.input_kind != RH_INPUT_DENSE || cJSON_GetArraySize(mean) != (int)m->channels ||
            cJSON_GetArraySize(sd) != (int)m->channels) {
            host_fmt(why, why_len, "channel statistics (rnnhost.classifier) that do not fit the model");
            goto done;
        }
        m->mean = malloc(m->channels * sizeof *m->mean);
        m->std = malloc(m->channels * sizeof *m->std);
        if (!m->mean || !m->std)
            goto memory;
        for (uint32_t c = 0; c < m->channels; c++) {
            const cJSON *a = cJSON_GetArrayItem(mean, (int)c), *b = cJSON_GetArrayItem(sd, (int)c);
            if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !isfinite(a->valuedouble) || !(b->valuedouble > 0) ||
                !isfinite(b->valuedouble)) {
                host_fmt(why, why_len, "channel %u's statistics (rnnhost.classifier) are not numbers", c + 1);
                goto done;
            }
            m->mean[c] = (float)a->valuedouble;
            m->std[c] = (float)b->valuedouble;
        }
    }
    rc = 0;
    goto done;
memory:
    host_fmt(why, why_len, "out of memory");
done:
    cJSON_Delete(j);
    return rc;
}

int cls_open(cls_model *m, plugin_registry *r, const char *path, char *why, size_t why_len)
{
    char err[512];
    rh_weights *w = NULL;
    memset(m, 0, sizeof *m);
    if (rh_weights_open(&w, path, why, why_len) != RH_OK)
        return EXIT_LOAD;
    int rc = EXIT_LOAD;
    if (model_spec_from_weights(&m->spec, w, err, sizeof err) != 0)
        goto done;
    if (strcmp(m->spec.task, CLS_TASK) != 0 && strcmp(m->spec.task, TAG_TASK) != 0) {
        host_fmt(err, sizeof err, "a '%s' model, not a classifier or tagger", m->spec.task);
        goto done;
    }
    if (read_head(m, rh_weights_meta(w, "rnnhost.classifier"), err, sizeof err) != 0)
        goto done;
    if ((rc = cls_create(m, r, err, sizeof err)) != EXIT_OK)
        goto done;
    rc = rh_weights_load_tensors(w, m->params, m->tensors, m->num_tensors, NULL, err, sizeof err) != RH_OK ? EXIT_LOAD
                                                                                                          : EXIT_OK;
done:
    rh_weights_close(w);
    if (rc != EXIT_OK) {
        host_fmt(why, why_len, "%s: %s", path, err);
        cls_close(m);
    }
    return rc;
}

void cls_close(cls_model *m)
{
    if (m->spell) {
        if (m->params && m->spell->params == m->params + m->off_spell) /* this model's buffer */
            m->spell->params = m->spell->grads = NULL;
        cls_close(m->spell);
        free(m->spell);
    }
    vocab_free(&m->spell_voc);
    for (int d = 0; d < 2; d++)
        if (m->dir[d].model)
            host_model_destroy(&m->dir[d]);
    for (uint32_t i = 0; m->labels && i < m->n_labels; i++)
        free(m->labels[i]);
    for (uint32_t i = 0; m->words && i < m->n_words; i++)
        free(m->words[i]);
    free(m->labels), free(m->words);
    vocab_free(&m->voc);
    free(m->mean), free(m->std), free(m->params), free(m->grads), free(m->tensors), free(m->names);
    memset(m, 0, sizeof *m);
}

/* ---- export: both directions over the one buffer, the metadata as it is ---------------------------------- */

static int export_open(export_weights *x, const char *path, plugin_registry *r, char *why, size_t why_len)
{
    cls_model *m = x->priv;
    const int rc = cls_open(m, r, path, why, why_len);
    x->tensors = m->tensors, x->num_tensors = m->num_tensors;
    x->params = m->params, x->num_params = m->P;
    return rc;
}

static void export_close(export_weights *x)
{
    cls_close(x->priv);
}

const task_export cls_export = {
    .priv_size = sizeof(cls_model),
    .open = export_open,
    .close = export_close,
};

/* ---- batches ---------------------------------------------------------------------------------------------- */

int cls_batch_alloc(cls_batch *b, const cls_model *m, uint32_t T, uint32_t B)
{
    const size_t rows = (size_t)T * B, L = m->n_labels, outs = m->tagger ? rows : B, D = cls_dense(m);
    memset(b, 0, sizeof *b);
    b->Tmax = T, b->Bmax = B;
    b->lengths = calloc(B, sizeof *b->lengths);
    b->z = calloc(outs * L + 1, sizeof *b->z);
    b->dz = calloc(outs * L + 1, sizeof *b->dz);
    b->targets = calloc(outs + 1, sizeof *b->targets);
    int ok = b->lengths && b->z && b->dz && b->targets;
    for (int d = 0; d < cls_dirs(m) && ok; d++) {
        const host_model *hm = &m->dir[d];
        if (cls_tokens(m))
            ok &= (b->tokens[d] = calloc(rows + 1, sizeof(int32_t))) != NULL;
        if (D)
            ok &= (b->x[d] = calloc(rows * D + 1, sizeof(float))) != NULL;
        if (cls_vectors(m))
            ok &= (b->dx[d] = calloc(rows * D + 1, sizeof(float))) != NULL;
        b->y[d] = malloc((rows * L + 1) * sizeof(float));
        b->dy[d] = malloc((rows * L + 1) * sizeof(float));
        b->ws[d] = malloc((hm->vt->workspace_size(hm->model, T, B) + 1) * sizeof(float));
        b->arg[d] = calloc((size_t)B * L + 1, sizeof(uint32_t));
        ok &= b->y[d] && b->dy[d] && b->ws[d] && b->arg[d];
    }
    if (ok && m->spelling) { /* a row of the character model's batch for every element */
        ok = (b->slot = calloc(rows + 1, sizeof *b->slot)) != NULL && (b->sp = calloc(1, sizeof *b->sp)) != NULL &&
             cls_batch_alloc(b->sp, m->spell, CLS_SPELL_MAX, (uint32_t)rows) == 0;
    }
    if (!ok)
        cls_batch_free(b);
    return ok ? 0 : -1;
}

void cls_batch_free(cls_batch *b)
{
    free(b->lengths), free(b->z), free(b->dz), free(b->targets), free(b->slot);
    for (int d = 0; d < 2; d++)
        free(b->tokens[d]), free(b->x[d]), free(b->dx[d]), free(b->y[d]), free(b->dy[d]), free(b->ws[d]),
            free(b->arg[d]);
    if (b->sp)
        cls_batch_free(b->sp);
    free(b->sp);
    memset(b, 0, sizeof *b);
}

/* x[1] (T,B,D) from x[0]: each sequence's rows in reverse, padding rows as they are. */
static void reverse_rows(cls_batch *b, size_t D)
{
    for (uint32_t s = 0; s < b->B; s++)
        for (uint32_t t = 0; t < b->T; t++) {
            const size_t to = (size_t)t * b->B + s;
            const size_t from = t < b->lengths[s] ? (size_t)(b->lengths[s] - 1 - t) * b->B + s : to;
            memcpy(b->x[1] + to * D, b->x[0] + from * D, D * sizeof(float));
        }
}

void cls_batch_reverse(cls_batch *b, const cls_model *m)
{
    if (!m->bidirectional)
        return;
    if (!cls_tokens(m)) {
        reverse_rows(b, m->channels);
        return;
    }
    for (uint32_t s = 0; s < b->B; s++)
        for (uint32_t t = 0; t < b->T; t++) {
            const size_t to = (size_t)t * b->B + s;
            const size_t from = t < b->lengths[s] ? (size_t)(b->lengths[s] - 1 - t) * b->B + s : to;
            b->tokens[1][to] = b->tokens[0][from];
        }
}

/* Pools the logits y (T,B,L) of sequences of lengths len into z (B,L), added when add; arg (B,L) takes
 * each max's step. */
static void pool(float *z, uint32_t *arg, const float *y, const uint32_t *len, uint32_t T, uint32_t B, uint32_t L,
                 int kind, int add)
{
    (void)T;
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t l = 0; l < L; l++) {
            const uint32_t n = len[b];
            float v = 0;
            if (kind == CLS_POOL_LAST) {
                v = y[((size_t)(n - 1) * B + b) * L + l];
            } else if (kind == CLS_POOL_MEAN) {
                double s = 0;
                for (uint32_t t = 0; t < n; t++)
                    s += y[((size_t)t * B + b) * L + l];
                v = (float)(s / n);
            } else {
                uint32_t at = 0;
                v = y[(size_t)b * L + l];
                for (uint32_t t = 1; t < n; t++)
                    if (y[((size_t)t * B + b) * L + l] > v)
                        v = y[((size_t)t * B + b) * L + l], at = t;
                arg[(size_t)b * L + l] = at;
            }
            z[(size_t)b * L + l] = add ? z[(size_t)b * L + l] + v : v;
        }
}

/* The gradient of the steps' logits dy (T,B,L), written whole, from the pooled logits' dz (B,L). */
static void unpool(float *dy, const uint32_t *arg, const float *dz, const uint32_t *len, uint32_t T, uint32_t B,
                   uint32_t L, int kind)
{
    memset(dy, 0, (size_t)T * B * L * sizeof *dy);
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t l = 0; l < L; l++) {
            const float g = dz[(size_t)b * L + l];
            const uint32_t n = len[b];
            if (kind == CLS_POOL_LAST)
                dy[((size_t)(n - 1) * B + b) * L + l] = g;
            else if (kind == CLS_POOL_MEAN)
                for (uint32_t t = 0; t < n; t++)
                    dy[((size_t)t * B + b) * L + l] = g / (float)n;
            else
                dy[((size_t)arg[(size_t)b * L + l] * B + b) * L + l] = g;
        }
}

/* A tagger's logits: z (T,B,L) takes direction d's y (T,B,L), the backward direction's steps put back in
 * the order of the elements (padding rows stay 0). */
static void gather_steps(float *z, const float *y, const uint32_t *len, uint32_t T, uint32_t B, uint32_t L, int d)
{
    if (d == 0) {
        memcpy(z, y, (size_t)T * B * L * sizeof *z);
        return;
    }
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t t = 0; t < len[b]; t++) {
            float *to = z + ((size_t)t * B + b) * L;
            const float *from = y + ((size_t)(len[b] - 1 - t) * B + b) * L;
            for (uint32_t l = 0; l < L; l++)
                to[l] += from[l];
        }
}

/* Its backward: direction d's dy from dz. */
static void scatter_steps(float *dy, const float *dz, const uint32_t *len, uint32_t T, uint32_t B, uint32_t L, int d)
{
    if (d == 0) {
        memcpy(dy, dz, (size_t)T * B * L * sizeof *dy);
        return;
    }
    memset(dy, 0, (size_t)T * B * L * sizeof *dy);
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t t = 0; t < len[b]; t++)
            memcpy(dy + ((size_t)(len[b] - 1 - t) * B + b) * L, dz + ((size_t)t * B + b) * L, L * sizeof *dy);
}

/* The backward direction's masks: another seed, so the two directions drop independently. */
static const rh_dropout_masks *dir_masks(rh_dropout_masks *mine, const rh_dropout_masks *masks, int d)
{
    if (!masks || d == 0)
        return masks;
    *mine = *masks;
    mine->seed ^= 0x6261636b77617264ULL;
    return mine;
}

static rh_batch dir_batch(const cls_batch *b, const cls_model *m, int d)
{
    const rh_batch rb = {b->T, b->B, b->lengths, b->x[d], cls_dense(m) ? NULL : b->tokens[d]};
    return rb;
}

/* The rows x (T,B,D) of a batch of words with vectors: each element's word vector, from the table at embed,
 * and with spelling its spelling vector, from the character model's pooled outputs; padding rows 0. */
static void spelled_rows(const cls_model *m, cls_batch *b, const float *embed)
{
    const size_t E = m->word_dim, S = 2 * m->spelling, D = E + S;
    for (uint32_t t = 0; t < b->T; t++)
        for (uint32_t k = 0; k < b->B; k++) {
            const size_t r = (size_t)t * b->B + k;
            float *x = b->x[0] + r * D;
            if (t >= b->lengths[k]) {
                memset(x, 0, D * sizeof *x);
                continue;
            }
            memcpy(x, embed + (size_t)b->tokens[0][r] * E, E * sizeof *x);
            if (S)
                memcpy(x + E, b->sp->z + (size_t)b->slot[r] * S, S * sizeof *x);
        }
    if (m->bidirectional)
        reverse_rows(b, D);
}

/* The backward of spelled_rows: both directions' dx (the backward one's rows put back in order) into the
 * word vectors' gradient at gembed and (spelling) the character model's pooled outputs' gradient sp->dz. */
static void spelled_rows_back(const cls_model *m, cls_batch *b, float *gembed)
{
    const size_t E = m->word_dim, S = 2 * m->spelling, D = E + S;
    for (uint32_t k = 0; k < b->B; k++)
        for (uint32_t t = 0; t < b->lengths[k]; t++) {
            const size_t r = (size_t)t * b->B + k;
            const float *g = b->dx[0] + r * D;
            const float *g1 = m->bidirectional ? b->dx[1] + ((size_t)(b->lengths[k] - 1 - t) * b->B + k) * D : NULL;
            float *ge = gembed + (size_t)b->tokens[0][r] * E, *gs = S ? b->sp->dz + (size_t)b->slot[r] * S : NULL;
            for (size_t i = 0; i < E; i++)
                ge[i] += g1 ? g[i] + g1[i] : g[i];
            for (size_t i = 0; i < S; i++)
                gs[i] = g1 ? g[E + i] + g1[E + i] : g[E + i];
        }
}

rh_status cls_forward(const cls_model *m, cls_batch *b, const float *params, const rh_dropout_masks *masks)
{
    const float *p = params ? params : m->params;
    const rh_status sp = m->spelling ? cls_forward(m->spell, b->sp, p + m->off_spell, NULL) : RH_OK;
    if (sp != RH_OK)
        return sp;
    if (cls_vectors(m))
        spelled_rows(m, b, p + m->off_embed);
    for (int d = 0; d < cls_dirs(m); d++) {
        const host_model *hm = &m->dir[d];
        const rh_batch rb = dir_batch(b, m, d);
        rh_dropout_masks mine;
        const rh_status st = host_model_train_forward(hm, p + (d ? m->np[0] : 0), b->y[d], NULL, b->ws[d], &rb, NULL,
                                                      dir_masks(&mine, masks, d));
        if (st != RH_OK)
            return st;
        if (m->pool == CLS_POOL_EACH)
            gather_steps(b->z, b->y[d], b->lengths, b->T, b->B, m->n_labels, d);
        else
            pool(b->z, b->arg[d], b->y[d], b->lengths, b->T, b->B, m->n_labels, m->pool, d);
    }
    return RH_OK;
}

rh_status cls_backward(const cls_model *m, cls_batch *b, float *grads, const float *params,
                       const rh_dropout_masks *masks)
{
    const float *p = params ? params : m->params;
    for (int d = 0; d < cls_dirs(m); d++) {
        const host_model *hm = &m->dir[d];
        const rh_batch rb = dir_batch(b, m, d);
        const uint64_t at = d ? m->np[0] : 0;
        rh_dropout_masks mine;
        if (m->pool == CLS_POOL_EACH)
            scatter_steps(b->dy[d], b->dz, b->lengths, b->T, b->B, m->n_labels, d);
        else
            unpool(b->dy[d], b->arg[d], b->dz, b->lengths, b->T, b->B, m->n_labels, m->pool);
        const rh_status st = host_model_train_backward(hm, p + at, grads + at, b->dx[d], NULL, b->ws[d], &rb, NULL,
                                                       b->dy[d], NULL, dir_masks(&mine, masks, d));
        if (st != RH_OK)
            return st;
    }
    if (cls_vectors(m))
        spelled_rows_back(m, b, grads + m->off_embed);
    return m->spelling ? cls_backward(m->spell, b->sp, grads + m->off_spell, p + m->off_spell, NULL) : RH_OK;
}

int cls_load(cls_model *m, plugin_registry *r, const char *path)
{
    char why[1024];
    if (cls_open(m, r, path, why, sizeof why) == EXIT_OK)
        return EXIT_OK;
    hostlog_error("%s", why);
    return EXIT_LOAD;
}
