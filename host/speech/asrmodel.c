#include "asrmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hostlog.h"

void asr_default_frontend(spec_settings *fe, uint32_t *stack, int sample_rate)
{
    memset(fe, 0, sizeof *fe);
    fe->sample_rate = sample_rate;
    fe->win_length = sample_rate / 40;  /* 25 ms */
    fe->hop_length = sample_rate / 100; /* 10 ms */
    fe->n_fft = 1;
    while (fe->n_fft < fe->win_length)
        fe->n_fft *= 2;
    fe->n_mels = 40;
    fe->fmin = 20.0;
    fe->fmax = sample_rate / 2.0;
    *stack = 3;
}

uint32_t asr_input_dim(const asr_model *m)
{
    return (uint32_t)m->fe.n_mels * m->stack;
}

int asr_create(asr_model *m, plugin_registry *r, char *why, size_t why_len)
{
    char err[512];
    if (spec_check_settings(&m->fe, err, sizeof err) != 0) {
        host_fmt(why, why_len, "front-end: %s", err);
        return EXIT_LOAD;
    }
    if (m->stack < 1 || m->stack > ASR_MAX_STACK || m->n_units == 0) {
        host_fmt(why, why_len, "front-end stack %u or %u units out of range", m->stack, m->n_units);
        return EXIT_LOAD;
    }
    snprintf(m->spec.task, sizeof m->spec.task, "ctc");
    m->spec.input_kind = RH_INPUT_DENSE;
    m->spec.input_dim = asr_input_dim(m);
    m->spec.output_dim = m->n_units + 1;
    for (int d = 0; d < asr_dirs(m); d++) {
        int rc = model_create(&m->dir[d], r, &m->spec, why, why_len);
        if (rc != EXIT_OK)
            return rc;
    }
    return EXIT_OK;
}

/* Reads an array of n numbers, each finite and (positive) as asked, into a new buffer; NULL if not. */
static float *read_floats(const cJSON *a, size_t n, int positive)
{
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n || n == 0)
        return NULL;
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, (int)i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || fabs(x->valuedouble) > 1e6 ||
            (positive && !(x->valuedouble > 0))) {
            free(v);
            return NULL;
        }
        v[i] = (float)x->valuedouble;
    }
    return v;
}

static int read_norm(asr_model *m, const cJSON *norm, size_t n_mels, char *why, size_t why_len)
{
    const cJSON *prior = cJSON_GetObjectItemCaseSensitive(norm, "prior_frames");
    if (!cJSON_IsNumber(prior) || !(prior->valuedouble > 0 && prior->valuedouble <= 1e7)) {
        host_fmt(why, why_len, "metadata rnnhost.frontend: norm needs prior_frames in (0, 1e7]");
        return -1;
    }
    m->norm_mean = read_floats(cJSON_GetObjectItemCaseSensitive(norm, "mean"), n_mels, 0);
    m->norm_var = read_floats(cJSON_GetObjectItemCaseSensitive(norm, "var"), n_mels, 1);
    if (!m->norm_mean || !m->norm_var) {
        free(m->norm_mean), free(m->norm_var);
        m->norm_mean = m->norm_var = NULL;
        host_fmt(why, why_len, "metadata rnnhost.frontend: norm needs mean and var, %zu finite numbers each "
                 "(var positive)", n_mels);
        return -1;
    }
    m->norm_prior = prior->valuedouble;
    return 0;
}

static int read_frontend(asr_model *m, const char *json, char *why, size_t why_len)
{
    cJSON *j = cJSON_Parse(json);
    const char *keys[] = {"sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "fmin", "fmax", "stack"};
    double v[8];
    int ok = j != NULL;
    for (int i = 0; ok && i < 8; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        ok = cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= 1e6;
        if (ok)
            v[i] = x->valuedouble;
        else
            host_fmt(why, why_len, "metadata rnnhost.frontend: '%s' missing or out of range", keys[i]);
    }
    const cJSON *pad = ok ? cJSON_GetObjectItemCaseSensitive(j, "pad_ms") : NULL;
    if (pad && !(cJSON_IsNumber(pad) && pad->valuedouble >= 0 && pad->valuedouble <= ASR_MAX_PAD_MS)) {
        host_fmt(why, why_len, "metadata rnnhost.frontend: 'pad_ms' out of range (0..%d)", ASR_MAX_PAD_MS);
        ok = 0;
    }
    m->pad_ms = pad && ok ? (uint32_t)pad->valuedouble : 0;
    const cJSON *cep = ok ? cJSON_GetObjectItemCaseSensitive(j, "cepstra") : NULL;
    if (cep && !(cJSON_IsNumber(cep) && cep->valuedouble >= 0 && cep->valuedouble <= 1024)) {
        host_fmt(why, why_len, "metadata rnnhost.frontend: 'cepstra' out of range (0..n_mels)");
        ok = 0;
    }
    m->fe.n_cepstra = cep && ok ? (int)cep->valuedouble : 0;
    const cJSON *norm = ok ? cJSON_GetObjectItemCaseSensitive(j, "norm") : NULL;
    if (ok && norm && read_norm(m, norm, (size_t)v[4], why, why_len) != 0)
        ok = 0;
    cJSON_Delete(j);
    if (!j)
        host_fmt(why, why_len, "metadata rnnhost.frontend is not JSON");
    if (!ok)
        return -1;
    m->fe.sample_rate = (int)v[0], m->fe.n_fft = (int)v[1], m->fe.win_length = (int)v[2];
    m->fe.hop_length = (int)v[3], m->fe.n_mels = (int)v[4], m->fe.fmin = v[5], m->fe.fmax = v[6];
    m->stack = (uint32_t)v[7];
    char err[256];
    if (spec_check_settings(&m->fe, err, sizeof err) != 0 || m->stack < 1 || m->stack > ASR_MAX_STACK) {
        host_fmt(why, why_len, "metadata rnnhost.frontend: %s", m->stack < 1 || m->stack > ASR_MAX_STACK ? "stack out of range" : err);
        return -1;
    }
    return 0;
}

static int read_units(asr_model *m, const char *json, char *why, size_t why_len)
{
    cJSON *j = cJSON_Parse(json);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind"), *sym = cJSON_GetObjectItemCaseSensitive(j, "symbols");
    int rc = -1;
    if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "words") && strcmp(kind->valuestring, "chars")) ||
        !cJSON_IsArray(sym)) {
        host_fmt(why, why_len, "metadata rnnhost.units: needs \"kind\" words|chars and a \"symbols\" array");
        goto done;
    }
    int n = cJSON_GetArraySize(sym);
    if (n < 1 || (uint32_t)n > ASR_MAX_UNITS) {
        host_fmt(why, why_len, "metadata rnnhost.units: %d symbols (1..%u)", n, ASR_MAX_UNITS);
        goto done;
    }
    m->words = kind->valuestring[0] == 'w';
    if (!(m->units = calloc((size_t)n, sizeof *m->units))) {
        host_fmt(why, why_len, "out of memory");
        goto done;
    }
    m->n_units = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(sym, i);
        if (!cJSON_IsString(s) || !s->valuestring[0] || strlen(s->valuestring) > 256 ||
            (i > 0 && strcmp(m->units[i - 1], s->valuestring) >= 0)) {
            host_fmt(why, why_len, "metadata rnnhost.units: symbol %d is empty, too long or out of order", i);
            goto done;
        }
        if (!(m->units[i] = strdup(s->valuestring))) {
            host_fmt(why, why_len, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

int asr_describe(asr_model *m, const rh_weights *w, const char *name, char *why, size_t why_len)
{
    char err[512];
    memset(m, 0, sizeof *m);
    const char *fe = rh_weights_meta(w, "rnnhost.frontend"), *un = rh_weights_meta(w, "rnnhost.units"),
               *bi = rh_weights_meta(w, "rnnhost.bidirectional");
    if (model_spec_from_weights(&m->spec, w, err, sizeof err) != 0) {
        host_fmt(why, why_len, "%s: %s", name, err);
        goto fail;
    }
    if (strcmp(m->spec.task, "ctc") != 0) {
        host_fmt(why, why_len, "%s is a '%s' model; %s needs a 'ctc' (speech) model", name, m->spec.task,
                 hostlog_command());
        goto fail;
    }
    if (!fe || !un || !bi || (strcmp(bi, "0") && strcmp(bi, "1"))) {
        host_fmt(why, why_len, "%s: a ctc model needs rnnhost.frontend, rnnhost.units and rnnhost.bidirectional", name);
        goto fail;
    }
    m->bidirectional = bi[0] == '1';
    if (read_frontend(m, fe, err, sizeof err) != 0 || read_units(m, un, err, sizeof err) != 0) {
        host_fmt(why, why_len, "%s: %s", name, err);
        goto fail;
    }
    if (m->spec.input_kind != RH_INPUT_DENSE || m->spec.input_dim != asr_input_dim(m) ||
        m->spec.output_dim != m->n_units + 1) {
        host_fmt(why, why_len, "%s: the model's input (%u) or output (%u) does not fit its front-end (%u) and units (%u + blank)",
                 name, m->spec.input_dim, m->spec.output_dim, asr_input_dim(m), m->n_units);
        goto fail;
    }
    return 0;
fail:
    asr_close(m);
    return -1;
}

int asr_describe_file(asr_model *m, const char *path, char *why, size_t why_len)
{
    rh_weights *w = NULL;
    memset(m, 0, sizeof *m);
    if (rh_weights_open(&w, path, why, why_len) != RH_OK)
        return -1;
    const int rc = asr_describe(m, w, path, why, why_len);
    rh_weights_close(w);
    return rc;
}

int asr_open(asr_model *m, plugin_registry *r, const char *path, char *why, size_t why_len)
{
    char err[512];
    rh_weights *w = NULL;
    memset(m, 0, sizeof *m);
    if (rh_weights_open(&w, path, why, why_len) != RH_OK)
        return EXIT_LOAD;
    int ok = asr_describe(m, w, path, why, why_len) == 0; // which closes m when it fails
    if (ok && (asr_create(m, r, err, sizeof err) != EXIT_OK || asr_load(m, NULL, w, NULL, err, sizeof err) != RH_OK)) {
        host_fmt(why, why_len, "%s: %s", path, err);
        asr_close(m);
        ok = 0;
    }
    rh_weights_close(w);
    return ok ? EXIT_OK : EXIT_LOAD;
}

static const char *dir_prefix(int d)
{
    return d ? "bw." : "fw.";
}

rh_status asr_load(const asr_model *m, float **params, const rh_weights *w, const char *prefix, char *why,
                   size_t why_len)
{
    char err[512], pre[64];
    for (int d = 0; d < asr_dirs(m); d++) {
        const host_model *hm = &m->dir[d];
        snprintf(pre, sizeof pre, "%s%s", prefix ? prefix : "", dir_prefix(d));
        rh_status st = rh_weights_load_tensors(w, params ? params[d] : hm->params, hm->tensors, hm->info.num_tensors,
                                               pre, err, sizeof err);
        if (st != RH_OK) {
            host_fmt(why, why_len, "%s", err);
            return st;
        }
    }
    return RH_OK;
}

int asr_meta(meta_list *ml, const asr_model *m)
{
    cJSON *fe = cJSON_CreateObject(), *un = cJSON_CreateObject(), *sym = cJSON_CreateArray();
    char *fs = NULL, *us = NULL;
    int rc = -1;
    if (!fe || !un || !sym)
        goto done;
    cJSON_AddNumberToObject(fe, "sample_rate", m->fe.sample_rate);
    cJSON_AddNumberToObject(fe, "n_fft", m->fe.n_fft);
    cJSON_AddNumberToObject(fe, "win_length", m->fe.win_length);
    cJSON_AddNumberToObject(fe, "hop_length", m->fe.hop_length);
    cJSON_AddNumberToObject(fe, "n_mels", m->fe.n_mels);
    cJSON_AddNumberToObject(fe, "fmin", m->fe.fmin);
    cJSON_AddNumberToObject(fe, "fmax", m->fe.fmax);
    cJSON_AddNumberToObject(fe, "stack", m->stack);
    if (m->pad_ms > 0)
        cJSON_AddNumberToObject(fe, "pad_ms", m->pad_ms);
    if (m->fe.n_cepstra > 0)
        cJSON_AddNumberToObject(fe, "cepstra", m->fe.n_cepstra);
    if (m->norm_prior > 0) {
        cJSON *norm = cJSON_AddObjectToObject(fe, "norm");
        if (!norm || !cJSON_AddNumberToObject(norm, "prior_frames", m->norm_prior) ||
            !cJSON_AddItemToObject(norm, "mean", cJSON_CreateFloatArray(m->norm_mean, m->fe.n_mels)) ||
            !cJSON_AddItemToObject(norm, "var", cJSON_CreateFloatArray(m->norm_var, m->fe.n_mels)))
            goto done;
    }
    cJSON_AddStringToObject(un, "kind", m->words ? "words" : "chars");
    for (uint32_t i = 0; i < m->n_units; i++)
        cJSON_AddItemToArray(sym, cJSON_CreateString(m->units[i]));
    cJSON_AddItemToObject(un, "symbols", sym);
    sym = NULL;
    fs = cJSON_PrintUnformatted(fe), us = cJSON_PrintUnformatted(un);
    if (!fs || !us || model_spec_to_meta(ml, &m->spec) != 0 || meta_add(ml, "rnnhost.frontend", "%s", fs) != 0 ||
        meta_add(ml, "rnnhost.units", "%s", us) != 0 ||
        meta_add(ml, "rnnhost.bidirectional", "%d", m->bidirectional) != 0)
        goto done;
    rc = 0;
done:
    cJSON_Delete(fe);
    cJSON_Delete(un);
    cJSON_Delete(sym);
    free(fs);
    free(us);
    return rc;
}

uint32_t asr_blobs(rh_blob **blobs, char (**names)[RH_MAX_NAME + 8], const asr_model *m, float *const *params,
                   const char *prefix)
{
    uint32_t n = 0, k = 0;
    for (int d = 0; d < asr_dirs(m); d++)
        n += m->dir[d].info.num_tensors;
    *blobs = calloc(n, sizeof **blobs);
    *names = calloc(n, sizeof **names);
    if (!*blobs || !*names) {
        free(*blobs), free(*names);
        *blobs = NULL, *names = NULL;
        return 0;
    }
    for (int d = 0; d < asr_dirs(m); d++) {
        const host_model *hm = &m->dir[d];
        for (uint32_t i = 0; i < hm->info.num_tensors; i++, k++) {
            snprintf((*names)[k], RH_MAX_NAME + 8, "%s%s%s", prefix ? prefix : "", dir_prefix(d), hm->tensors[i].name);
            (*blobs)[k] = rh_blob_from_tensor(&hm->tensors[i], params ? params[d] : hm->params);
            (*blobs)[k].name = (*names)[k];
        }
    }
    return n;
}

void asr_close(asr_model *m)
{
    for (int d = 0; d < 2; d++)
        if (m->dir[d].model)
            host_model_destroy(&m->dir[d]);
    for (uint32_t i = 0; i < m->n_units; i++)
        free(m->units ? m->units[i] : NULL);
    free(m->units);
    m->units = NULL, m->n_units = 0;
    free(m->norm_mean), free(m->norm_var);
    m->norm_mean = m->norm_var = NULL, m->norm_prior = 0;
}
