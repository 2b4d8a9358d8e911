/* Model files and checkpoints of a training, the training record they carry, and --resume. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hostlog.h"
#include "modelfile.h"
#include "trainer.h"
#include "trainutil.h"

/* ---- the training record: how the model was trained ----------------------------------------------------- */

/* The options of the task's record list, in order, with their fields and keys in the record: the long
 * name with '_' for '-' ("learning_rate"). Names the table lacks are skipped. Returns the count. */
#define MAX_RECORDED 32
typedef struct recorded {
    const cli_option *opt;
    void *field;
    char key[64];
} recorded;

static size_t record_list(const trainer *tr, recorded *out)
{
    size_t k = 0;
    for (const char *p = tr->tt->record; p && *p && k < MAX_RECORDED;) {
        p += strspn(p, " ");
        const size_t len = strcspn(p, " ");
        char name[64];
        size_t g;
        host_fmt(name, sizeof name, "%.*s", (int)len, p);
        p += len;
        const cli_option *o = len ? cli_find(tr->groups, tr->n_groups, name, &g) : NULL;
        if (!o)
            continue;
        out[k].opt = o;
        out[k].field = cli_field(&tr->groups[g], o);
        host_fmt(out[k].key, sizeof out[k].key, "%s", o->name);
        for (char *c = out[k].key; *c; c++)
            if (*c == '-')
                *c = '_';
        k++;
    }
    return k;
}

static char *training_json(const trainer *tr)
{
    cJSON *j = cJSON_CreateObject();
    recorded r[MAX_RECORDED];
    const size_t n = record_list(tr, r);
    cJSON_AddStringToObject(j, "task", tr->t->name);
    tr->tt->record_data(tr->st, &tr->c, j);
    for (size_t i = 0; i < n; i++) {
        const cli_option *o = r[i].opt;
        const void *field = r[i].field;
        const char *key = r[i].key;
        switch (o->kind) {
        case CLI_FLAG: cJSON_AddBoolToObject(j, key, *(const int *)field); break;
        case CLI_STRING: {
            const char *v = *(const char *const *)field;
            cJSON_AddStringToObject(j, key, v ? v : "");
            break;
        }
        case CLI_CHOICE: cJSON_AddStringToObject(j, key, o->choices[*(const int *)field]); break;
        case CLI_U32: cJSON_AddNumberToObject(j, key, *(const uint32_t *)field); break;
        case CLI_U64: cJSON_AddNumberToObject(j, key, (double)*(const uint64_t *)field); break;
        case CLI_NUMBER:
        case CLI_DURATION:
        case CLI_CONST: cJSON_AddNumberToObject(j, key, *(const double *)field); break;
        case CLI_CUSTOM: break;
        }
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* A recorded value v for option o: into field (take), or compared with it (given). 0, or -1 after one line. */
static int adopt_one(trainer *tr, const cli_option *o, void *field, const cJSON *v, int given, const char *from)
{
    const char *opt = cli_long(o);
    char was[256], now[256];
    if (o->kind == CLI_FLAG) {
        if (!cJSON_IsBool(v))
            return 0;
        if (given && *(int *)field != cJSON_IsTrue(v)) {
            hostlog_error("%s was trained %s %s: drop the option or start a new training", from,
                          cJSON_IsTrue(v) ? "with" : "without", opt);
            return -1;
        }
        *(int *)field = cJSON_IsTrue(v);
        return 0;
    }
    if (o->kind == CLI_CHOICE || o->kind == CLI_STRING) {
        if (!cJSON_IsString(v))
            return 0;
        int choice = -1;
        for (int i = 0; o->kind == CLI_CHOICE && o->choices[i]; i++)
            if (strcmp(o->choices[i], v->valuestring) == 0)
                choice = i;
        if (o->kind == CLI_CHOICE && choice < 0) {
            hostlog_error("%s: its training record has %s '%.40s', which is none of its values", from, opt,
                          v->valuestring);
            return -1;
        }
        cli_format(now, sizeof now, o, field);
        if (given && strcmp(now, v->valuestring) != 0) {
            hostlog_error("%s was trained with %s %s: drop the option or start a new training", from, opt,
                          v->valuestring);
            return -1;
        }
        if (o->kind == CLI_CHOICE) {
            *(int *)field = choice;
            return 0;
        }
        /* a copy kept with the trainer, as the record's JSON is freed: one per string option taken */
        char **copy = realloc(tr->strings, (tr->n_strings + 1) * sizeof *copy);
        if (!copy || !(copy[tr->n_strings] = strdup(v->valuestring))) {
            tr->strings = copy ? copy : tr->strings;
            hostlog_error("out of memory");
            return -1;
        }
        tr->strings = copy;
        *(const char **)field = copy[tr->n_strings++];
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return 0;
    const double x = v->valuedouble;
    const int whole = o->kind == CLI_U32 || o->kind == CLI_U64;
    if (!isfinite(x) || x < 0 || (whole && x != floor(x)) || (o->kind == CLI_U32 && (x < o->min || x > o->max)) ||
        (o->kind == CLI_NUMBER && (x < o->min || x > o->max))) {
        hostlog_error("%s: its training record has %s %g, outside what the option takes", from, opt, x);
        return -1;
    }
    cli_format(now, sizeof now, o, field);
    host_fmt(was, sizeof was, "%g", x);
    if (given) {
        const double mine = o->kind == CLI_U32   ? *(uint32_t *)field
                            : o->kind == CLI_U64 ? (double)*(uint64_t *)field
                                                 : *(double *)field;
        if (mine != x) {
            hostlog_error("%s was trained with %s %s, not %s: drop the option or start a new training", from, opt,
                          was, now);
            return -1;
        }
        return 0;
    }
    if (o->kind == CLI_U32)
        *(uint32_t *)field = (uint32_t)x;
    else if (o->kind == CLI_U64)
        *(uint64_t *)field = (uint64_t)x;
    else
        *(double *)field = x;
    return 0;
}

int trainer_adopt(trainer *tr, const char *record, const char *from)
{
    cJSON *j = cJSON_Parse(record);
    recorded r[MAX_RECORDED];
    const size_t n = record_list(tr, r);
    int rc = -1;
    if (!j) {
        hostlog_error("%s: its training record (rnnhost.training) is not valid JSON", from);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].opt->flags & OPT_ARCH) /* the model's shape comes from its spec (the task's open) */
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, r[i].key);
        if (v && adopt_one(tr, r[i].opt, r[i].field, v, cli_was_given(tr->groups, tr->n_groups, r[i].field), from) != 0)
            goto done;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* ---- files -------------------------------------------------------------------------------------------- */

int trainer_write(trainer *tr, const char *path, int checkpoint, double elapsed)
{
    const train_ctx *c = &tr->c;
    const uint32_t slots = checkpoint ? rh_optimizer_slots(tr->opt.kind) : 0, nt = c->num_tensors;
    meta_list ml = {0};
    rh_blob *blobs = calloc((size_t)nt * (1 + slots) + 4, sizeof *blobs);
    char(*names)[RH_MAX_NAME + 16] = calloc((size_t)nt * slots + 1, sizeof *names);
    char *record = training_json(tr), err[512];
    uint32_t nb = 0;
    int rc = -1;
    if (!blobs || !names || !record || tr->tt->meta(tr->st, c, &ml) != 0 ||
        meta_add(&ml, "rnnhost.training", "%s", record) != 0 ||
        meta_add(&ml, "rnnhost.trained_steps", "%llu", (unsigned long long)tr->step) != 0)
        goto oom;
    if (checkpoint &&
        meta_add(&ml, "rnnhost.checkpoint",
                 "{\"step\":%llu,\"epoch\":%llu,\"pos\":%zu,\"opt_t\":%llu,\"tokens_seen\":%llu,\"elapsed\":%.3f,"
                 "\"val_loss\":%.17g,\"best_val\":%.17g,\"best_step\":%llu,\"stale_vals\":%llu}",
                 (unsigned long long)tr->step, (unsigned long long)c->epoch, c->pos, (unsigned long long)tr->opt.t,
                 (unsigned long long)tr->seen, elapsed, isfinite(tr->last_val) ? tr->last_val : -1.0,
                 isfinite(tr->best_val) ? tr->best_val : -1.0, (unsigned long long)tr->best_step,
                 (unsigned long long)tr->stale_vals) != 0)
        goto oom;
    for (uint32_t i = 0; i < nt; i++)
        blobs[nb++] = rh_blob_from_tensor(&c->tensors[i], c->params);
    for (uint32_t k = 0; k < slots; k++)
        for (uint32_t i = 0; i < nt; i++) {
            char *name = names[(size_t)k * nt + i];
            host_fmt(name, RH_MAX_NAME + 16, "opt.%u.%s", k, c->tensors[i].name);
            blobs[nb] = rh_blob_from_tensor(&c->tensors[i], tr->opt_state + (size_t)k * c->num_params);
            blobs[nb++].name = name;
        }
    if (checkpoint) {
        const rh_blob rng = {"train.rng", RH_DTYPE_U64, 1, {4, 0, 0, 0}, tr->rng.s};
        blobs[nb++] = rng;
        nb += tr->tt->save(tr->st, c, blobs + nb);
    }
    if (model_write(path, ml.items, ml.n, blobs, nb, err, sizeof err) != 0) {
        if (checkpoint)
            hostlog_error("checkpoint at step %llu not written: %s", (unsigned long long)tr->step, err);
        else
            hostlog_error("model not written: %s", err); /* err names the file */
        goto done;
    }
    rc = 0;
    goto done;
oom:
    hostlog_error("out of memory writing %s", path);
done:
    meta_free(&ml);
    free(blobs);
    free(names);
    free(record);
    return rc;
}

int trainer_checkpoint(trainer *tr, double elapsed)
{
    char path[4096];
    train_checkpoint_path(path, sizeof path, tr->o->report.ckpt_dir, tr->t->name, tr->step, tr->last_val);
    if (trainer_write(tr, path, 1, elapsed) != 0)
        return -1;
    host_fmt(tr->last_ckpt, sizeof tr->last_ckpt, "%s", path);
    return 0;
}

/* ---- --resume ---------------------------------------------------------------------------------------- */

/* A whole number >= 0 from a JSON member, or -1 when it is not one. */
static int json_count(const cJSON *j, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
        return -1;
    *out = v->valuedouble;
    return 0;
}

int trainer_restore(trainer *tr, const rh_weights *w, const char *path)
{
    train_ctx *c = &tr->c;
    char expect[32], err[512], prefix[16];
    cJSON *j = cJSON_Parse(rh_weights_meta(w, "rnnhost.training"));
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "data_hash");
    host_fmt(expect, sizeof expect, "%016llx", (unsigned long long)c->data_hash);
    const int same = cJSON_IsString(h) && strcmp(h->valuestring, expect) == 0;
    cJSON_Delete(j);
    if (!same) {
        hostlog_error("%s was trained on other data than %s (%s)", path, c->data_name, tr->tt->data_differs);
        return -1;
    }
    const uint32_t slots = rh_optimizer_slots(tr->opt.kind);
    for (uint32_t k = 0; k < slots; k++) {
        host_fmt(prefix, sizeof prefix, "opt.%u.", k);
        if (rh_weights_load_tensors(w, tr->opt_state + (size_t)k * c->num_params, c->tensors, c->num_tensors, prefix,
                                    err, sizeof err) != RH_OK) {
            hostlog_error("%s: optimizer state: %s", path, err);
            return -1;
        }
    }
    if (train_read_rng(&tr->rng, w, path) != 0)
        return -1;
    j = cJSON_Parse(rh_weights_meta(w, "rnnhost.checkpoint") ? rh_weights_meta(w, "rnnhost.checkpoint") : "");
    double step, epoch, pos, t, v;
    int ok = json_count(j, "step", &step) == 0 && json_count(j, "epoch", &epoch) == 0 &&
             json_count(j, "pos", &pos) == 0 && json_count(j, "opt_t", &t) == 0 &&
             cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "elapsed"));
    if (ok) {
        tr->step = (uint64_t)step, c->epoch = (uint64_t)epoch, c->pos = (size_t)pos, tr->opt.t = (uint64_t)t;
        tr->elapsed_before = cJSON_GetObjectItemCaseSensitive(j, "elapsed")->valuedouble;
        tr->seen = json_count(j, "tokens_seen", &v) == 0 ? (uint64_t)v : 0;
        /* -1 (or absent, in checkpoints older than the field): none yet */
        tr->last_val = json_count(j, "val_loss", &v) == 0 ? v : NAN;
        tr->best_val = json_count(j, "best_val", &v) == 0 ? v : INFINITY;
        /* absent in checkpoints older than --patience: its count starts anew */
        tr->best_step = json_count(j, "best_step", &v) == 0 ? (uint64_t)v : 0;
        tr->stale_vals = json_count(j, "stale_vals", &v) == 0 ? (uint64_t)v : 0;
    }
    cJSON_Delete(j);
    if (ok && tr->tt->restore(tr->st, c, w, path) != 0)
        return -1;
    if (!ok || c->pos >= c->epoch_units) {
        hostlog_error("%s: its position (rnnhost.checkpoint) is missing or does not fit the data", path);
        return -1;
    }
    return 0;
}
