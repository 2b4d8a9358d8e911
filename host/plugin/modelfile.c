#include "modelfile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "dirwalk.h"
#include "hostlog.h"

#ifndef RH_SOURCE_ROOT
#define RH_SOURCE_ROOT ""
#endif
#ifndef RH_PRESET_DIR
#define RH_PRESET_DIR ""
#endif

rh_config model_spec_config(const model_spec *spec)
{
    rh_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.input_kind = spec->input_kind;
    c.input_dim = spec->input_dim;
    c.hidden_size = spec->hidden_size;
    c.num_layers = spec->num_layers;
    c.output_dim = spec->output_dim;
    c.core = spec->core[0] ? spec->core : NULL;
    c.options = spec->options[0] ? spec->options : NULL;
    return c;
}

int meta_add(meta_list *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    char *value;
    int n;
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? 2 * m->cap : 16;
        rh_meta *items = realloc(m->items, cap * sizeof *items);
        if (!items)
            return -1;
        m->items = items, m->cap = cap;
    }
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(value = malloc((size_t)n + 1)))
        return -1;
    va_start(ap, fmt);
    vsnprintf(value, (size_t)n + 1, fmt, ap);
    va_end(ap);
    char *k = strdup(key);
    if (!k) {
        free(value);
        return -1;
    }
    m->items[m->n].key = k;
    m->items[m->n].value = value;
    m->n++;
    return 0;
}

void meta_free(meta_list *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        free((char *)m->items[i].key);
        free((char *)m->items[i].value);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

int model_spec_to_meta(meta_list *m, const model_spec *s)
{
    int rc = 0;
    rc |= meta_add(m, "rnnhost.format", "1");
    rc |= meta_add(m, "rnnhost.task", "%s", s->task);
    rc |= meta_add(m, "rnnhost.model", "%s", s->model_id);
    rc |= meta_add(m, "rnnhost.core", "%s", s->core);
    rc |= meta_add(m, "rnnhost.options", "%s", s->options);
    rc |= meta_add(m, "rnnhost.input", "%s", s->input_kind == RH_INPUT_TOKENS ? "tokens" : "dense");
    rc |= meta_add(m, "rnnhost.input_dim", "%u", s->input_dim);
    rc |= meta_add(m, "rnnhost.hidden_size", "%u", s->hidden_size);
    rc |= meta_add(m, "rnnhost.num_layers", "%u", s->num_layers);
    rc |= meta_add(m, "rnnhost.output_dim", "%u", s->output_dim);
    return rc ? -1 : 0;
}

static int meta_string(char *dst, size_t len, const rh_weights *w, const char *key, int required, char *why,
                       size_t why_len)
{
    const char *v = rh_weights_meta(w, key);
    if (!v) {
        if (!required) {
            dst[0] = '\0';
            return 0;
        }
        host_fmt(why, why_len, "not an rnnhost model file (no '%s' in its metadata)", key);
        return -1;
    }
    if (strlen(v) >= len) {
        host_fmt(why, why_len, "metadata '%s' is too long", key);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int meta_u32(uint32_t *dst, const rh_weights *w, const char *key, uint32_t lo, uint32_t hi, char *why,
                    size_t why_len)
{
    const char *v = rh_weights_meta(w, key);
    char *end;
    unsigned long long x;
    if (!v) {
        host_fmt(why, why_len, "not an rnnhost model file (no '%s' in its metadata)", key);
        return -1;
    }
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi) {
        host_fmt(why, why_len, "metadata '%s' is '%.40s', not a whole number in %u..%u", key, v, lo, hi);
        return -1;
    }
    *dst = (uint32_t)x;
    return 0;
}

int model_spec_from_weights(model_spec *s, const rh_weights *w, char *why, size_t why_len)
{
    char input[16];
    memset(s, 0, sizeof *s);
    if (meta_string(s->task, sizeof s->task, w, "rnnhost.task", 1, why, why_len) ||
        meta_string(s->model_id, sizeof s->model_id, w, "rnnhost.model", 1, why, why_len) ||
        meta_string(s->core, sizeof s->core, w, "rnnhost.core", 0, why, why_len) ||
        meta_string(s->options, sizeof s->options, w, "rnnhost.options", 0, why, why_len) ||
        meta_string(input, sizeof input, w, "rnnhost.input", 1, why, why_len) ||
        meta_u32(&s->input_dim, w, "rnnhost.input_dim", 1, 1u << 24, why, why_len) ||
        meta_u32(&s->hidden_size, w, "rnnhost.hidden_size", 1, 1u << 20, why, why_len) ||
        meta_u32(&s->num_layers, w, "rnnhost.num_layers", 1, 4096, why, why_len) ||
        meta_u32(&s->output_dim, w, "rnnhost.output_dim", 0, 1u << 24, why, why_len))
        return -1;
    if (strcmp(input, "tokens") == 0)
        s->input_kind = RH_INPUT_TOKENS;
    else if (strcmp(input, "dense") == 0)
        s->input_kind = RH_INPUT_DENSE;
    else {
        host_fmt(why, why_len, "metadata 'rnnhost.input' is '%.20s', not 'dense' or 'tokens'", input);
        return -1;
    }
    return 0;
}

int model_write(const char *path, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs, uint32_t num_blobs,
                char *err, size_t err_len)
{
    atomic_out a;
    char why[512];
    if (atomic_out_open(&a, path, err, err_len) != 0)
        return -1;
    // the SDK writes to the descriptor itself: nothing may wait in the stream's buffer before it
    if (fflush(a.f) != 0) {
        host_fmt(err, err_len, "%s: cannot write: %s", a.path, strerror(errno));
        atomic_out_abort(&a);
        return -1;
    }
    const rh_status st = rh_weights_write_fd(fileno(a.f), meta, num_meta, blobs, num_blobs, why, sizeof why);
    if (st != RH_OK) {
        host_fmt(err, err_len, "%s: %s", a.path, why);
        atomic_out_abort(&a);
        return -1;
    }
    return atomic_out_commit(&a, err, err_len);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

const char *model_preset_dir(void)
{
    return host_in_build_tree() && RH_SOURCE_ROOT[0] != '\0' ? RH_SOURCE_ROOT "/presets" : RH_PRESET_DIR;
}

void model_strings_free(char **strings, size_t n)
{
    for (size_t i = 0; strings && i < n; i++)
        free(strings[i]);
    free(strings);
}

static int push_string(char ***list, size_t *n, const char *s, size_t len)
{
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *list = grown;
    if (!(grown[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

int model_preset_dirs(char ***dirs, size_t *n)
{
    const char *env = getenv("RNNHOST_PRESET_PATH"), *builtin = model_preset_dir();
    *dirs = NULL, *n = 0;
    for (const char *p = env ? env : ""; *p;) {
        size_t len = strcspn(p, ":");
        if (len > 0 && push_string(dirs, n, p, len) != 0) /* an empty element is no folder at all */
            goto oom;
        p += len + (p[len] == ':');
    }
    if (builtin[0] && push_string(dirs, n, builtin, strlen(builtin)) != 0)
        goto oom;
    return 0;
oom:
    model_strings_free(*dirs, *n);
    *dirs = NULL, *n = 0;
    return -1;
}

void model_presets_free(preset_entry *presets, size_t n)
{
    for (size_t i = 0; presets && i < n; i++)
        free(presets[i].name), free(presets[i].path);
    free(presets);
}

static int cmp_preset(const void *a, const void *b)
{
    return strcmp(((const preset_entry *)a)->name, ((const preset_entry *)b)->name);
}

typedef struct preset_walk {
    preset_entry **presets;
    size_t *n, earlier;
} preset_walk;

static int add_preset(void *ctx, const dir_entry *e)
{
    preset_walk *w = ctx;
    const size_t name_len = strlen(e->name) - (sizeof ".safetensors" - 1);
    for (size_t i = 0; i < w->earlier; i++)
        if (strlen((*w->presets)[i].name) == name_len && memcmp((*w->presets)[i].name, e->name, name_len) == 0)
            return 0; /* an earlier folder's preset of that name wins */
    preset_entry *grown = realloc(*w->presets, (*w->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *w->presets = grown;
    preset_entry *p = &grown[(*w->n)++];
    p->name = strndup(e->name, name_len);
    p->path = strdup(e->path);
    return p->name && p->path ? 0 : -1;
}

/* Adds dir's presets (its *.safetensors files) whose names the first `earlier` entries do not have; a
 * folder that cannot be read adds none. -1 when memory runs out. */
static int scan_preset_dir(preset_entry **presets, size_t *n, size_t earlier, const char *dir)
{
    preset_walk w = {presets, n, earlier};
    const dir_walk_options opts = {.list = DIR_FILES, .suffixes = ".safetensors"};
    errno = 0;
    const int rc = dir_walk(dir, &opts, add_preset, &w, NULL, 0);
    return rc == 0 || (rc < 0 && errno != ENOMEM) ? 0 : -1;
}

int model_presets(preset_entry **presets, size_t *n)
{
    char **dirs;
    size_t nd;
    int rc = 0;
    *presets = NULL, *n = 0;
    if (model_preset_dirs(&dirs, &nd) != 0)
        return -1;
    for (size_t k = 0; k < nd && rc == 0; k++)
        rc = scan_preset_dir(presets, n, *n, dirs[k]);
    model_strings_free(dirs, nd);
    if (rc != 0) {
        model_presets_free(*presets, *n);
        *presets = NULL, *n = 0;
        return -1;
    }
    if (*n > 1)
        qsort(*presets, *n, sizeof **presets, cmp_preset);
    return 0;
}

int model_resolve(char *path, size_t path_len, const char *name, char *why, size_t why_len)
{
    if (strchr(name, '/') || ends_with(name, ".safetensors")) {
        host_fmt(path, path_len, "%s", name);
        return 0;
    }
    char **dirs;
    size_t nd;
    if (model_preset_dirs(&dirs, &nd) != 0) {
        host_fmt(why, why_len, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < nd; k++) {
        char candidate[PATH_MAX];
        if (snprintf(candidate, sizeof candidate, "%s/%s.safetensors", dirs[k], name) < (int)sizeof candidate &&
            is_file(candidate)) {
            host_fmt(path, path_len, "%s", candidate);
            model_strings_free(dirs, nd);
            return 0;
        }
    }
    /* One line that says what there is: the names on the preset path, then the folders searched. */
    preset_entry *presets;
    size_t np, used;
    used = (size_t)snprintf(why, why_len, "no preset named '%s' (", name);
    if (model_presets(&presets, &np) == 0 && np > 0) {
        for (size_t i = 0; i < np && used < why_len; i++)
            used += (size_t)snprintf(why + used, why_len - used, "%s%s", i ? ", " : "presets: ", presets[i].name);
    } else if (used < why_len) {
        used += (size_t)snprintf(why + used, why_len - used, "no presets");
    }
    model_presets_free(presets, np);
    for (size_t k = 0; k < nd && used < why_len; k++)
        used += (size_t)snprintf(why + used, why_len - used, "%s%s", k ? ", " : " in ", dirs[k]);
    if (used < why_len)
        snprintf(why + used, why_len - used, "; see 'rnnhost presets', or give a path to use a model file)");
    model_strings_free(dirs, nd);
    return -1;
}

int model_create(host_model *hm, plugin_registry *r, const model_spec *spec, char *why, size_t why_len)
{
    const host_model_desc *desc = NULL;
    host_plugin *p = registry_find_model(r, spec->model_id, &desc);
    char msg[768];
    if (!p) {
        host_fmt(why, why_len, "no plugin provides model '%s' (see 'rnnhost plugins')", spec->model_id);
        return EXIT_LOAD;
    }
    rh_config config = model_spec_config(spec);
    if (host_model_create(hm, p, spec->model_id, &config, msg, sizeof msg) != RH_OK) {
        host_fmt(why, why_len, "%s", msg);
        return EXIT_LOAD;
    }
    return EXIT_OK;
}

/* task is one of the '|'-separated tasks. */
static int task_in(const char *task, const char *tasks)
{
    const size_t n = strlen(task);
    for (const char *p = tasks; *p;) {
        const size_t k = strcspn(p, "|");
        if (k == n && strncmp(p, task, n) == 0)
            return 1;
        p += k + (p[k] == '|');
    }
    return 0;
}

/* "a|b" as "a 'a' or 'b'" for a message ("an" before a vowel sound is not worth the trouble: every task
 * name is quoted). */
static void task_list(char *dst, size_t len, const char *tasks)
{
    host_fmt(dst, len, "a");
    size_t at = strlen(dst);
    for (const char *p = tasks; *p && at < len;) {
        const size_t k = strcspn(p, "|");
        host_fmt(dst + at, len - at, "%s'%.*s'", p == tasks ? " " : " or ", (int)k, p);
        at += strlen(dst + at);
        p += k + (p[k] == '|');
    }
}

int model_open(host_model *hm, model_spec *spec, rh_weights **w, plugin_registry *r, const char *path,
               const char *task, char *why, size_t why_len)
{
    char err[512];
    *w = NULL;
    memset(hm, 0, sizeof *hm);
    if (rh_weights_open(w, path, err, sizeof err) != RH_OK) {
        host_fmt(why, why_len, "%s", err);
        return EXIT_LOAD;
    }
    if (model_spec_from_weights(spec, *w, err, sizeof err) != 0) {
        host_fmt(why, why_len, "%s: %s", path, err);
        goto fail;
    }
    if (task && !task_in(spec->task, task)) {
        char wanted[128];
        task_list(wanted, sizeof wanted, task);
        host_fmt(why, why_len, "%s is a '%s' model; %s needs %s model", path, spec->task, hostlog_command(), wanted);
        goto fail;
    }
    if (model_create(hm, r, spec, err, sizeof err) != EXIT_OK) {
        host_fmt(why, why_len, "%s: %s", path, err);
        goto fail;
    }
    if (rh_weights_load_tensors(*w, hm->params, hm->tensors, hm->info.num_tensors, NULL, err, sizeof err) !=
        RH_OK) {
        host_fmt(why, why_len, "%s: %s", path, err);
        host_model_destroy(hm);
        goto fail;
    }
    return EXIT_OK;
fail:
    rh_weights_close(*w);
    *w = NULL;
    return EXIT_LOAD;
}
