/* rnnhost export: a model file from a checkpoint or another model file: the weights and the metadata that
 * describe them, without the optimizer and training state a checkpoint carries, optionally in half
 * precision (half the size; the weights are widened back to float when loaded). The model's task opens its
 * weights (a speech model keeps both directions) and may take options of its own (a speech model's
 * padding). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "commands.h"
#include "hostlog.h"
#include "optgroups.h"
#include "registry.h"

static const char *const dtypes[] = {"f32", "f16", NULL};

typedef struct export_opts {
    const char *out, *description;
    int half; /* the index in dtypes */
} export_opts;

static const export_opts defaults = {NULL, NULL, 0};

static int parse_line(void *field, const char *arg, const char *name)
{
    if (strchr(arg, '\n') || strchr(arg, '\r')) {
        hostlog_usage("export: %s is one line", name);
        return -1;
    }
    *(const char **)field = arg;
    return 0;
}

static const cli_option options[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_STRING, .offset = offsetof(export_opts, out), .arg = "FILE|-",
     .help = "where to write, '-' for stdout (required)"},
    {.name = "dtype", .kind = CLI_CHOICE, .offset = offsetof(export_opts, half), .arg = "f32|f16",
     .help = "storage precision of the weights", .choices = dtypes},
    {.name = "description", .kind = CLI_CUSTOM, .offset = offsetof(export_opts, description), .arg = "TEXT",
     .help = "one line saying what the model is, kept in the file's metadata and shown by 'rnnhost presets'; \"\" "
             "removes it",
     .shown = "MODEL's own", .parse = parse_line, .size = sizeof(const char *)},
    {0},
};
static const cli_section section = {NULL, options};

/* export's table: its own options, the sections of tasks whose models take options of their own, the plugin
 * path. */
static int build(cli_table *tb, export_opts *o, opt_plugin *plugin)
{
    const int failed = cli_table_add(tb, &section, o, &defaults, 0) < 0 || task_add_sections(tb, TASK_EXPORT) != 0 ||
                       cli_table_add(tb, &opt_plugin_section, plugin, &opt_plugin_defaults, 0) < 0;
    return failed ? -1 : 0;
}

static const cli_page page = {
    .head = "usage: rnnhost export MODEL -o OUT.safetensors|- [OPTIONS]\n\n"
            "Writes the model in MODEL (a model file, a checkpoint or a preset name) to OUT without training\n"
            "state. A file is written atomically; a link is written through, a FIFO or device as a stream.\n\n",
};

/* Half-precision copies of the float blobs b[0..n), into halves (room for every element). */
static void to_half(rh_blob *b, uint32_t n, uint16_t *halves)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t count = 1;
        for (uint32_t d = 0; d < b[i].ndim; d++)
            count *= b[i].shape[d];
        const float *src = b[i].data;
        for (uint64_t k = 0; k < count; k++)
            halves[k] = rh_f32_to_f16(src[k]);
        b[i].dtype = RH_DTYPE_F16;
        b[i].data = halves;
        halves += count;
    }
}

/* The source's metadata as the export writes it: never a checkpoint's training state, nor the old
 * description when a new one is given; values the task changes (its options) changed. */
static rh_meta *export_meta(uint32_t *kept, char **owned, const rh_weights *w, const task_export *e,
                            const export_weights *x, const void *task_opts, const char *description)
{
    const uint32_t nm = rh_weights_meta_count(w);
    rh_meta *meta = calloc(nm + 2, sizeof *meta);
    *kept = 0;
    for (uint32_t i = 0; meta && i < nm; i++) {
        const char *k, *v;
        if (rh_weights_meta_at(w, i, &k, &v) != RH_OK || strcmp(k, "rnnhost.checkpoint") == 0 ||
            (description && strcmp(k, "rnnhost.description") == 0))
            continue;
        if (task_opts && !(v = e->meta(x, task_opts, k, v, &owned[i]))) {
            free(meta);
            return NULL;
        }
        meta[*kept].key = k;
        meta[(*kept)++].value = v;
    }
    if (meta && description && description[0]) {
        meta[*kept].key = "rnnhost.description";
        meta[(*kept)++].value = description;
    }
    return meta;
}

/* Writes the export. EXIT_OK, or an exit code after one line. */
static int write_export(const export_opts *o, const char *path, const char *task, const task_export *e,
                        const void *task_opts, plugin_registry *reg)
{
    export_weights x;
    rh_weights *w = NULL;
    char why[1024], err[512], more[128] = "";
    memset(&x, 0, sizeof x);
    void *priv = x.priv = calloc(1, e->priv_size);
    if (!priv) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    int rc = e->open(&x, path, reg, why, sizeof why);
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        free(priv);
        return rc;
    }
    rc = EXIT_FAIL;
    rh_blob *blobs = calloc(x.num_tensors + 1, sizeof *blobs);
    uint16_t *halves = o->half ? malloc((x.num_params + 1) * sizeof *halves) : NULL;
    rh_meta *meta = NULL;
    char **owned = NULL;
    uint32_t kept = 0;
    if (rh_weights_open(&w, path, err, sizeof err) != RH_OK) {
        hostlog_error("%s", err);
        goto done;
    }
    owned = calloc(rh_weights_meta_count(w) + 1, sizeof *owned);
    if (!blobs || (o->half && !halves) || !owned ||
        !(meta = export_meta(&kept, owned, w, e, &x, task_opts, o->description))) {
        hostlog_error("out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < x.num_tensors; i++)
        blobs[i] = rh_blob_from_tensor(&x.tensors[i], x.params);
    if (o->half)
        to_half(blobs, x.num_tensors, halves);
    if (model_write(o->out, meta, kept, blobs, x.num_tensors, err, sizeof err) != 0) {
        hostlog_error("export: %s", err); /* err names the file */
        goto done;
    }
    if (task_opts)
        e->describe(&x, task_opts, more, sizeof more);
    fprintf(stderr, "rnnhost: wrote %s (%s model, %llu parameters, %s%s)\n", output_name(o->out), task,
            (unsigned long long)x.num_params, dtypes[o->half], more);
    rc = EXIT_OK;
done:
    for (uint32_t i = 0; owned && w && i < rh_weights_meta_count(w); i++)
        free(owned[i]);
    free(owned), free(meta), free(blobs), free(halves);
    rh_weights_close(w);
    e->close(&x);
    free(priv);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    cli_table tb;
    export_opts o;
    opt_plugin plugin;
    task_model m;
    int first, rc = EXIT_USAGE;
    memset(&tb, 0, sizeof tb);
    if (build(&tb, &o, &plugin) != 0) {
        hostlog_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    const int started = cli_start(tb.g, tb.n, argc, argv, &first, &page);
    if (started >= 0) {
        rc = started;
        goto done;
    }
    if (first + 1 != argc || !o.out) {
        hostlog_usage("export: needs one MODEL and -o OUT");
        goto done;
    }
    if ((rc = task_model_open(&m, plugin.path, argv[first], task_can_export, NULL)) != EXIT_OK)
        goto done;
    const task_export *e = m.t->export;
    for (size_t k = 0; k < tb.n; k++) { /* options for another task's models are refused */
        const cli_option *given = cli_first_given(&tb.g[k]);
        if (given && cli_table_made(&tb, tb.g[k].defaults) && tb.g[k].section != e->section) {
            hostlog_usage("export: %s is not an option for %s, a '%s' model", cli_long(given), argv[first],
                          m.t->name);
            rc = EXIT_USAGE;
        }
    }
    if (rc == EXIT_OK)
        rc = write_export(&o, m.path, m.t->name, e, e->section ? cli_table_made(&tb, e->opts_defaults) : NULL, &m.reg);
    task_model_close(&m);
done:
    cli_table_free(&tb);
    return rc;
}
