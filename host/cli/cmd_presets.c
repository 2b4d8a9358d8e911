/* rnnhost presets: every model -m NAME can open by name, with its task, its size and one line saying what
 * it is. The line is the file's own "rnnhost.description" when it has one (`rnnhost export
 * --description`), otherwise one made from what its metadata says of the task and the network. Only the
 * file headers are read: no plugin is loaded, so a preset whose plugin is missing is still listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "hostlog.h"
#include "jsonout.h"
#include "modelfile.h"
#include "optgroups.h"
#include "registry.h"

static void usage(FILE *f, const cli_group *groups, size_t n)
{
    fprintf(f, "usage: rnnhost presets [--json]\n"
               "\n"
               "Lists every preset, the models '-m NAME' opens by name: its task, its number of parameters\n"
               "and file size, and one line of description.\n"
               "\n");
    cli_help(f, groups, n);
    fprintf(f, "\n"
               "With --json: {\"schema\": 1, \"search_path\": [...], \"presets\": [...], \"errors\": [...]}.\n"
               "Presets are NAME.safetensors files found in $RNNHOST_PRESET_PATH (colon-separated folders,\n"
               "searched first; unset: none), then in the built-in folder (%s); a name\n"
               "in an earlier folder hides the same name in a later one. Never the current directory.\n"
               "\n"
               "Exit status: 0 when every preset could be read, 3 when one could not (it is listed under\n"
               "errors), 2 on a usage error.\n",
               model_preset_dir());
}
static const cli_page page = {.print = usage};

/* Code points in a UTF-8 string (its continuation bytes are not counted). */
static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The one line for a file without "rnnhost.description": the task, then the network and its outputs, from
 * the metadata alone, e.g. "a character language model: rnn, 1 layer of 50, 27 symbols". */
static void derived_description(char *out, size_t len, const model_spec *spec, const rh_weights *w)
{
    const char *noun = task_noun(spec->task), *vocab = rh_weights_meta(w, "rnnhost.vocab"),
               *units = rh_weights_meta(w, "rnnhost.units"), *fe = rh_weights_meta(w, "rnnhost.frontend"),
               *bidir = rh_weights_meta(w, "rnnhost.bidirectional");
    char outputs[96] = "";
    if (vocab) {
        host_fmt(outputs, sizeof outputs, ", %zu symbols", utf8_length(vocab));
    } else if (units) {
        cJSON *u = cJSON_Parse(units), *f = fe ? cJSON_Parse(fe) : NULL;
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(u, "kind"),
                    *symbols = cJSON_GetObjectItemCaseSensitive(u, "symbols"),
                    *rate = cJSON_GetObjectItemCaseSensitive(f, "sample_rate");
        if (cJSON_IsString(kind) && cJSON_IsArray(symbols))
            host_fmt(outputs, sizeof outputs, ", %d %s", cJSON_GetArraySize(symbols),
                     strcmp(kind->valuestring, "words") == 0 ? "words" : "characters");
        if (cJSON_IsNumber(rate) && strlen(outputs) + 16 < sizeof outputs)
            host_fmt(outputs + strlen(outputs), sizeof outputs - strlen(outputs), " at %d Hz", (int)rate->valuedouble);
        cJSON_Delete(u);
        cJSON_Delete(f);
    } else {
        host_fmt(outputs, sizeof outputs, ", %u outputs", spec->output_dim);
    }
    const int bidirectional = bidir && strcmp(bidir, "0") != 0 && strcmp(bidir, "false") != 0;
    char task[64];
    if (!noun)
        host_fmt(task, sizeof task, "a '%s' model", spec->task);
    host_fmt(out, len, "%s: %s, %u layer%s of %u%s%s", noun ? noun : task, spec->core[0] ? spec->core : spec->model_id,
             spec->num_layers, spec->num_layers == 1 ? "" : "s", spec->hidden_size,
             bidirectional ? " per direction, bidirectional" : "", outputs);
}

/* Parameters (every array but a checkpoint's "opt." and "train." state) and their storage type. */
static uint64_t count_parameters(const rh_weights *w, const char **dtype)
{
    uint64_t total = 0;
    int f16 = 0, f32 = 0;
    for (uint32_t i = 0; i < rh_weights_count(w); i++) {
        rh_blob b;
        if (rh_weights_get(w, i, &b) != RH_OK || strncmp(b.name, "opt.", 4) == 0 || strncmp(b.name, "train.", 6) == 0)
            continue;
        uint64_t count = 1;
        for (uint32_t d = 0; d < b.ndim; d++)
            count *= b.shape[d];
        total += count;
        f16 |= b.dtype == RH_DTYPE_F16, f32 |= b.dtype == RH_DTYPE_F32;
    }
    *dtype = f16 && f32 ? "f16+f32" : f16 ? "f16" : "f32";
    return total;
}

typedef struct preset_info {
    const preset_entry *entry;
    char error[512]; /* "" when the file was read */
    model_spec spec;
    uint64_t parameters, bytes;
    const char *dtype;
    char description[512];
    int described; /* the file's own description */
} preset_info;

static void read_preset(preset_info *p)
{
    rh_weights *w = NULL;
    char err[512];
    FILE *f = fopen(p->entry->path, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        p->bytes = end > 0 ? (uint64_t)end : 0;
    }
    if (f)
        fclose(f);
    if (rh_weights_open(&w, p->entry->path, err, sizeof err) != RH_OK) {
        host_fmt(p->error, sizeof p->error, "%s", err);
        return;
    }
    if (model_spec_from_weights(&p->spec, w, err, sizeof err) != 0) {
        host_fmt(p->error, sizeof p->error, "%s: %s", p->entry->path, err);
        rh_weights_close(w);
        return;
    }
    p->parameters = count_parameters(w, &p->dtype);
    const char *own = rh_weights_meta(w, "rnnhost.description");
    if (own && own[0]) {
        /* one line, whatever the file holds */
        host_fmt(p->description, sizeof p->description, "%s", own);
        for (char *c = p->description; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
        p->described = 1;
    } else {
        derived_description(p->description, sizeof p->description, &p->spec, w);
    }
    rh_weights_close(w);
}

/* 1234567 -> "1.23 M"; below 10,000 the number itself. */
static void short_count(char *out, size_t len, double x, const char *unit)
{
    if (x >= 1e6)
        host_fmt(out, len, "%.2f M%s", x / 1e6, unit);
    else if (x >= 1e4)
        host_fmt(out, len, "%.0f k%s", x / 1e3, unit);
    else
        host_fmt(out, len, "%.0f %s", x, unit);
}

static void print_text(const preset_info *v, size_t n)
{
    size_t width = 4;
    for (size_t i = 0; i < n; i++)
        if (!v[i].error[0] && strlen(v[i].entry->name) > width)
            width = strlen(v[i].entry->name);
    printf("%-*s  %-9s  %-10s  %-8s  %s\n", (int)width, "NAME", "TASK", "PARAMETERS", "FILE", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        char params[32], bytes[32];
        if (v[i].error[0])
            continue;
        short_count(params, sizeof params, (double)v[i].parameters, "");
        short_count(bytes, sizeof bytes, (double)v[i].bytes, "B");
        printf("%-*s  %-9s  %-10s  %-8s  %s\n", (int)width, v[i].entry->name, v[i].spec.task, params, bytes,
               v[i].description);
    }
}

static int print_json(const preset_info *v, size_t n, char **dirs, size_t nd)
{
    cJSON *root = cJSON_CreateObject(), *path, *list, *errors;
    int ok = root && cJSON_AddNumberToObject(root, "schema", 1) &&
             (path = cJSON_AddArrayToObject(root, "search_path")) != NULL &&
             (list = cJSON_AddArrayToObject(root, "presets")) != NULL &&
             (errors = cJSON_AddArrayToObject(root, "errors")) != NULL;
    for (size_t k = 0; ok && k < nd; k++)
        ok = cJSON_AddItemToArray(path, cJSON_CreateString(dirs[k]));
    for (size_t i = 0; ok && i < n; i++) {
        const preset_info *p = &v[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(p->error[0] ? errors : list, o) &&
             cJSON_AddStringToObject(o, "name", p->entry->name) && cJSON_AddStringToObject(o, "path", p->entry->path);
        if (ok && p->error[0]) {
            ok = cJSON_AddStringToObject(o, "error", p->error) != NULL;
            continue;
        }
        ok = ok && cJSON_AddStringToObject(o, "task", p->spec.task) &&
             cJSON_AddStringToObject(o, "model", p->spec.model_id) &&
             cJSON_AddStringToObject(o, "core", p->spec.core) &&
             cJSON_AddNumberToObject(o, "hidden_size", p->spec.hidden_size) &&
             cJSON_AddNumberToObject(o, "num_layers", p->spec.num_layers) &&
             cJSON_AddNumberToObject(o, "parameters", (double)p->parameters) &&
             cJSON_AddStringToObject(o, "dtype", p->dtype) &&
             cJSON_AddNumberToObject(o, "bytes", (double)p->bytes) &&
             cJSON_AddStringToObject(o, "description", p->description) &&
             cJSON_AddStringToObject(o, "description_from", p->described ? "metadata" : "derived");
    }
    return json_print(root, ok, 1);
}

int cmd_presets(int argc, char **argv)
{
    opt_json json;
    cli_group groups[] = {OPT_GROUP(opt_json_section, &json, &opt_json_defaults)};
    int rc = EXIT_OK;
    const int started = cli_start(groups, CLI_COUNT(groups), argc, argv, NULL, &page);
    if (started >= 0)
        return started;
    preset_entry *entries = NULL;
    preset_info *info = NULL;
    char **dirs = NULL;
    size_t n = 0, nd = 0;
    if (model_presets(&entries, &n) != 0 || model_preset_dirs(&dirs, &nd) != 0 ||
        (n && !(info = calloc(n, sizeof *info)))) {
        hostlog_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        info[i].entry = &entries[i];
        read_preset(&info[i]);
    }
    if (json.on) {
        if (print_json(info, n, dirs, nd) != 0) {
            rc = EXIT_FAIL;
            goto done;
        }
    } else if (n == 0) {
        printf("no presets\n");
    } else {
        print_text(info, n);
    }
    if (!json.on) {
        printf("\nsearched:");
        for (size_t k = 0; k < nd; k++)
            printf(" %s%s", dirs[k], k + 1 < nd ? "," : "");
        printf("%s\n", nd ? "" : " nothing");
    }
    fflush(stdout);
    for (size_t i = 0; i < n; i++)
        if (info[i].error[0]) {
            hostlog_error("cannot read preset %s: %s", entries[i].name, info[i].error);
            rc = EXIT_LOAD;
        }
done:
    free(info);
    model_presets_free(entries, n);
    model_strings_free(dirs, nd);
    return rc;
}
