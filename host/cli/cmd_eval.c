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

typedef struct eval_opts {
    const char *model;
} eval_opts;

static const eval_opts defaults = {NULL};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(eval_opts, model), .arg = "MODEL",
     .help = "a model file or preset name"},
    {0},
};
static const cli_section section = {NULL, options};

/* eval's table: its own options, every task's eval section (tasks that take the same options share one), the
 * plugin path. */
static int build(cli_table *tb, eval_opts *o, opt_json *json, opt_plugin *plugin)
{
    const int failed = cli_table_add(tb, &section, o, &defaults, 0) < 0 ||
                       cli_table_add(tb, &opt_json_section, json, &opt_json_defaults, 0) < 0 ||
                       task_add_sections(tb, TASK_EVAL) != 0 ||
                       cli_table_add(tb, &opt_plugin_section, plugin, &opt_plugin_defaults, 0) < 0;
    return failed ? -1 : 0;
}

static void usage(FILE *f, const cli_group *groups, size_t n)
{
    const char *lead = "usage:";
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < task_count(); i++) {
            const task_eval *e = task_at(i)->eval;
            if (e && e->section == groups[k].section) {
                fprintf(f, "%s rnnhost eval -m MODEL %s [OPTIONS]    %s\n", lead, e->usage, e->about);
                lead = "      ";
                break;
            }
        }
    fprintf(f, "\nA model's figure on test data, as its task measures it; the options below the model's own are for\n"
               "the models named in their heading.\n\n");
    cli_help(f, groups, n);
}
static const cli_page page = {.print = usage};

/* The task section whose options were given (NULL: none); -1 after a usage line when two were. */
static int given_section(const cli_table *tb, const cli_section **s)
{
    *s = NULL;
    for (size_t k = 0; k < tb->n; k++) {
        if (!cli_table_made(tb, tb->g[k].defaults) || !tb->g[k].given)
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
    cli_table tb;
    eval_opts o;
    opt_json json;
    opt_plugin plugin;
    task_model m;
    const cli_section *s;
    int rc = EXIT_USAGE;
    memset(&tb, 0, sizeof tb);
    if (build(&tb, &o, &json, &plugin) != 0) {
        hostlog_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    const int started = cli_start(tb.g, tb.n, argc, argv, NULL, &page);
    if (started >= 0) {
        rc = started;
        goto done;
    }
    if (given_section(&tb, &s) != 0)
        goto done;
    if (!o.model) {
        hostlog_usage("eval: -m MODEL is required");
        goto done;
    }
    host_catch_interrupts(); /* from here on, so that Ctrl-C while the model or the data loads is a clean stop */
    if ((rc = task_model_open(&m, plugin.path, o.model, task_can_eval, s)) == EXIT_OK) {
        const task_eval *e = m.t->eval;
        rc = e->run(m.path, &m.reg, cli_table_made(&tb, e->opts_defaults), json.on);
        task_model_close(&m);
    }
done:
    cli_table_free(&tb);
    return rc;
}
