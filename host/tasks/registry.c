#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "interrupt.h"
#include "modelfile.h"
#include "tasks.h"

/* Every task, in the order --help and messages list them. */
static const task_ops *const tasks[] = {&task_lm, &task_pianoroll, &task_midi_lm, &task_ctc, &task_classify, &task_tag};
#define N_TASKS (sizeof tasks / sizeof tasks[0])

size_t task_count(void)
{
    return N_TASKS;
}

const task_ops *task_at(size_t i)
{
    return i < N_TASKS ? tasks[i] : NULL;
}

const task_ops *task_named(const char *name)
{
    for (size_t i = 0; i < N_TASKS; i++)
        if (strcmp(tasks[i]->name, name) == 0)
            return tasks[i];
    return NULL;
}

const char *task_noun(const char *name)
{
    const task_ops *t = task_named(name);
    return t ? t->noun : NULL;
}

int task_add_sections(cli_table *tb, task_part part)
{
    for (size_t i = 0; i < N_TASKS; i++) {
        const task_eval *e = part == TASK_EVAL ? tasks[i]->eval : NULL;
        const task_export *x = part == TASK_EXPORT ? tasks[i]->export : NULL;
        const cli_section *s = e ? e->section : x ? x->section : NULL;
        if (s && cli_table_add(tb, s, NULL, e ? e->opts_defaults : x->opts_defaults,
                               e ? e->opts_size : x->opts_size) < 0)
            return -1;
    }
    return 0;
}

/* A task can what its module has a member for. */
#define TASK_CAN(what, member)                                                                                 \
    int task_can_##what(const task_ops *t, const void *arg)                                                    \
    {                                                                                                          \
        (void)arg;                                                                                             \
        return t->member != NULL;                                                                              \
    }
TASK_CAN(train, train)
TASK_CAN(sample, sample)
TASK_CAN(score, score)
TASK_CAN(generate, generate)
TASK_CAN(export, export)
TASK_CAN(classify, classify)
TASK_CAN(tag, tag)

/* A command uses the task's member of its name. */
#define TASK_USE(member)                                                                                       \
    static int run_##member(task_model *m, const void *args)                                                   \
    {                                                                                                          \
        return m->t->member(m->path, &m->reg, args);                                                           \
    }                                                                                                          \
    const task_use task_use_##member = {task_can_##member, run_##member};
TASK_USE(sample)
TASK_USE(score)
TASK_USE(classify)
TASK_USE(tag)

int task_can_eval(const task_ops *t, const void *arg)
{
    return t->eval && (!arg || t->eval->section == arg);
}

/* Where t comes in a list of tasks: generators by kind (event models, which `play` also takes, first). */
static int rank(const task_ops *t, task_can can)
{
    return can == task_can_generate ? (int)t->generate->kind : 0;
}

void task_names(char *buf, size_t len, task_can can, const void *arg)
{
    size_t at = 0, count = 0, listed = 0;
    for (size_t i = 0; i < N_TASKS; i++)
        count += can(tasks[i], arg) != 0;
    host_fmt(buf, len, "a");
    for (int r = 0; r < 4; r++)
        for (size_t i = 0; i < N_TASKS; i++) {
            if (!can(tasks[i], arg) || rank(tasks[i], can) != r)
                continue;
            at = strlen(buf);
            host_fmt(buf + at, len - at, "%s'%s'", listed == 0 ? " " : listed + 1 == count ? " or " : ", ",
                     tasks[i]->name);
            listed++;
        }
}

int task_of_model(const task_ops **t, char *path, size_t path_len, const char *name, task_can can, const void *arg,
                  char *why, size_t why_len)
{
    rh_weights *w = NULL;
    model_spec spec;
    char err[512], wanted[256];
    *t = NULL;
    if (model_resolve(path, path_len, name, why, why_len) != 0)
        return EXIT_LOAD;
    if (rh_weights_open(&w, path, err, sizeof err) != RH_OK) {
        host_fmt(why, why_len, "%s", err);
        return EXIT_LOAD;
    }
    const int described = model_spec_from_weights(&spec, w, err, sizeof err);
    rh_weights_close(w);
    if (described != 0) {
        host_fmt(why, why_len, "%s: %s", path, err);
        return EXIT_LOAD;
    }
    const task_ops *found = task_named(spec.task);
    if (!found || !can(found, arg)) {
        task_names(wanted, sizeof wanted, can, arg);
        host_fmt(why, why_len, "%s is a '%s' model; %s needs %s model", path, spec.task, hostlog_command(), wanted);
        return EXIT_LOAD;
    }
    *t = found;
    return EXIT_OK;
}

int task_model_open(task_model *m, const char *plugin_path, const char *name, task_can can, const void *arg)
{
    char why[1024];
    if (registry_init(&m->reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        return EXIT_FAIL;
    }
    const int rc = task_of_model(&m->t, m->path, sizeof m->path, name, can, arg, why, sizeof why);
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        registry_free(&m->reg);
    }
    return rc;
}

void task_model_close(task_model *m)
{
    registry_free(&m->reg);
}

int task_model_run(const char *plugin_path, const char *name, const task_use *use, const void *args)
{
    task_model m;
    host_catch_interrupts();
    int rc = task_model_open(&m, plugin_path, name, use->can, NULL);
    if (rc == EXIT_OK) {
        rc = use->run(&m, args);
        task_model_close(&m);
    }
    return rc;
}

int task_model_input(const cli_page *page, void *opts, const void *defaults, const char *const *model,
                     const char **input, const task_use *use, const void *args, int argc, char **argv)
{
    opt_plugin plugin;
    cli_group groups[] = {
        {&page->own, opts, defaults, 0, 0},
        OPT_GROUP(opt_plugin_section, &plugin, &opt_plugin_defaults),
    };
    int first;
    const int started = cli_start(groups, CLI_COUNT(groups), argc, argv, &first, page);
    if (started >= 0)
        return started;
    if (first + 1 < argc) {
        hostlog_usage("%s: one input at a time ('%s' is extra)", hostlog_command(), argv[first + 1]);
        return EXIT_USAGE;
    }
    /* the input is an operand, not an option: the table's defaults never reach it */
    *input = first < argc ? argv[first] : "-";
    if (!*model) {
        hostlog_usage("%s: -m MODEL is required", hostlog_command());
        return EXIT_USAGE;
    }
    return task_model_run(plugin.path, *model, use, args);
}

/* ---- export of a model file that holds one model ----------------------------------------------------------- */

static int single_open(export_weights *x, const char *path, plugin_registry *r, char *why, size_t why_len)
{
    host_model *hm = x->priv;
    model_spec spec;
    rh_weights *w = NULL;
    const int rc = model_open(hm, &spec, &w, r, path, NULL, why, why_len);
    rh_weights_close(w);
    x->tensors = hm->tensors, x->num_tensors = hm->info.num_tensors;
    x->params = hm->params, x->num_params = hm->info.num_params;
    return rc;
}

static void single_close(export_weights *x)
{
    host_model_destroy(x->priv);
}

const task_export single_export = {
    .priv_size = sizeof(host_model),
    .open = single_open,
    .close = single_close,
};
