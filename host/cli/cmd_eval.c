/* rnnhost eval: a model's figure on test data, measured by its task (task.h: task_eval). The table is eval's
 * own options and each task's section; the options given say which tasks' models are meant, and the model
 * file says which task it is: a model of another task is refused by name before its weights are read. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hostlog.h"
#include "interrupt.h"
#include "optgroups.h"
#include "registry.h"

#define MAX_GROUPS 8

typedef struct eval_opts {
    const char *model;
    int json;
} eval_opts;

static const eval_opts defaults = {NULL, 0};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(eval_opts, model), .arg = "MODEL",
     .help = "a model file or preset name"},
    {.name = "json", .kind = CLI_FLAG, .offset = offsetof(eval_opts, json),
     .help = "one JSON object instead of text (its fields: README, 'JSON output')"},
    {0},
};
static const cli_section section = {NULL, options};

typedef struct table {
    cli_group g[MAX_GROUPS];
    size_t n;
    void *store[MAX_GROUPS]; /* a task section's options; NULL for eval's own groups */
} table;

static int build(table *tb, eval_opts *o, opt_plugin *plugin)
{
    const cli_group own = {&section, o, &defaults, 0, 0};
    tb->g[tb->n++] = own;
    for (size_t i = 0; i < task_count(); i++) {
        const task_eval *e = task_at(i)->eval;
        size_t k = 0;
        while (e && k < tb->n && tb->g[k].section != e->section)
            k++;
        if (!e || k < tb->n) /* tasks that take the same options share a section */
            continue;
        if (tb->n + 2 > MAX_GROUPS || !(tb->store[tb->n] = malloc(e->opts_size)))
            return -1;
        const cli_group g = {e->section, tb->store[tb->n], e->opts_defaults, 0, 0};
        tb->g[tb->n++] = g;
    }
    const cli_group pg = {&opt_plugin_section, plugin, &opt_plugin_defaults, 0, 0};
    tb->g[tb->n++] = pg;
    return 0;
}

static void usage(FILE *f, const table *tb)
{
    const char *lead = "usage:";
    for (size_t k = 0; k < tb->n; k++)
        for (size_t i = 0; i < task_count(); i++) {
            const task_eval *e = task_at(i)->eval;
            if (e && e->section == tb->g[k].section) {
                fprintf(f, "%s rnnhost eval -m MODEL %s [OPTIONS]    %s\n", lead, e->usage, e->about);
                lead = "      ";
                break;
            }
        }
    fprintf(f, "\nA model's figure on test data, as its task measures it; the options below the model's own are for\n"
               "the models named in their heading.\n\n");
    cli_help(f, tb->g, tb->n);
}

/* The task section whose options were given (NULL: none); -1 after a usage line when two were. */
static int given_section(const table *tb, const cli_section **s)
{
    *s = NULL;
    for (size_t k = 0; k < tb->n; k++) {
        if (!tb->store[k] || !tb->g[k].given)
            continue;
        if (*s) {
            hostlog_usage("eval: options of two kinds of model were given (see 'rnnhost eval --help')");
            return -1;
        }
        *s = tb->g[k].section;
    }
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    table tb;
    eval_opts o;
    opt_plugin plugin;
    plugin_registry reg;
    const cli_section *s;
    const task_ops *t;
    char path[4096], why[1024];
    int first, rc = EXIT_USAGE;
    memset(&tb, 0, sizeof tb);
    if (build(&tb, &o, &plugin) != 0) {
        hostlog_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    const int parsed = cli_parse(tb.g, tb.n, argc, argv, &first);
    if (parsed == CLI_HELP) {
        usage(stdout, &tb);
        rc = EXIT_OK;
        goto done;
    }
    if (parsed == CLI_ERROR || given_section(&tb, &s) != 0)
        goto done;
    if (first < argc || !o.model) {
        hostlog_usage(first < argc ? "eval: unexpected argument '%s'" : "eval: -m MODEL is required%s",
                      first < argc ? argv[first] : "");
        goto done;
    }
    /* from here on, so that Ctrl-C while the model or the data loads is also a clean stop */
    host_catch_interrupts();
    if (registry_init(&reg, plugin.path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        rc = EXIT_FAIL;
        goto done;
    }
    if ((rc = task_of_model(&t, path, sizeof path, o.model, task_can_eval, s, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
    } else {
        size_t k = 0;
        while (tb.g[k].section != t->eval->section)
            k++;
        rc = t->eval->run(path, &reg, tb.store[k], o.json);
    }
    registry_free(&reg);
done:
    for (size_t k = 0; k < tb.n; k++)
        free(tb.store[k]);
    return rc;
}
