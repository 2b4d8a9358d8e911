/* rnnhost train: one option table over every task's options (the loop's groups and each task's own
 * sections), and the task --task names trained in the one loop (loop.h). A task with defaults of its own
 * (ctc) has its own page of --help; an option of another task is a usage error naming the tasks it is for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hostlog.h"
#include "loop.h"
#include "registry.h"

static char task_arg[128], task_help[1024];
static cli_option task_options[] = {
    {.name = "task", .kind = CLI_STRING, .offset = offsetof(train_opts, task), .arg = task_arg, .help = task_help},
    {0},
};
static const cli_section task_section = {"Data", task_options};

/* The table: the --task option, every task's sections (over the task's options struct, one per defaults),
 * then the loop's groups, each bound to its fields in o and its defaults in d. owner[i]: the first task that
 * lists group i's section; NULL for the shared groups. */
typedef struct table {
    cli_table t;
    const task_ops *owner[CLI_MAX_GROUPS];
} table;

static int add(table *tb, const cli_section *s, void *fields, const void *defaults, size_t size, const task_ops *t)
{
    const int i = cli_table_add(&tb->t, s, fields, defaults, size);
    if (i >= 0 && !tb->owner[i])
        tb->owner[i] = t;
    return i < 0 ? -1 : 0;
}

static int build(table *tb, train_opts *o, train_opts *d)
{
    char *at = task_help;
    host_fmt(task_arg, sizeof task_arg, "NAME");
    host_fmt(task_help, sizeof task_help, "what to train:");
    for (size_t i = 0; i < task_count(); i++) {
        const task_ops *t = task_at(i);
        if (!t->train)
            continue;
        at += strlen(at);
        host_fmt(at, sizeof task_help - (size_t)(at - task_help), "%s %s: %s%s", i ? ";" : "", t->name, t->train->about,
                 t->train->defaults ? " (options apart)" : "");
    }
    int rc = add(tb, &task_section, o, d, 0, NULL);
    for (size_t i = 0; i < task_count(); i++) {
        const task_train *tt = task_at(i)->train;
        for (size_t k = 0; tt && tt->sections[k]; k++)
            rc |= add(tb, tt->sections[k], NULL, tt->opts_defaults, tt->opts_size, task_at(i));
    }
    rc |= add(tb, &opt_model_section, &o->model, &d->model, 0, NULL);
    rc |= add(tb, &opt_optim_section, &o->optim, &d->optim, 0, NULL);
    rc |= add(tb, &opt_stop_section, &o->stop, &d->stop, 0, NULL);
    rc |= add(tb, &train_report_section, &o->report, &d->report, 0, NULL);
    rc |= add(tb, &opt_plugin_section, &o->plugin, &d->plugin, 0, NULL);
    return rc;
}

/* 1 when task t lists section s. */
static int lists(const task_ops *t, const cli_section *s)
{
    for (size_t k = 0; t->train && t->train->sections[k]; k++)
        if (t->train->sections[k] == s)
            return 1;
    return 0;
}

/* "lm or midi-lm": the tasks that list s. */
static void owners(char *buf, size_t len, const cli_section *s)
{
    size_t count = 0, listed = 0;
    for (size_t i = 0; i < task_count(); i++)
        count += lists(task_at(i), s);
    buf[0] = '\0';
    for (size_t i = 0; i < task_count(); i++) {
        if (!lists(task_at(i), s))
            continue;
        const size_t at = strlen(buf);
        host_fmt(buf + at, len - at, "%s%s", listed == 0 ? "" : listed + 1 == count ? " or " : ", ", task_at(i)->name);
        listed++;
    }
}

/* Every option given belongs to task t. 0, or -1 after a usage line. */
static int check_owned(const table *tb, const task_ops *t)
{
    for (size_t i = 0; i < tb->t.n; i++) {
        const cli_option *o = cli_first_given(&tb->t.g[i]);
        if (!tb->owner[i] || !o || lists(t, tb->t.g[i].section))
            continue;
        char who[256];
        owners(who, sizeof who, tb->t.g[i].section);
        hostlog_usage("train: %s is for --task %s", cli_long(o), who);
        return -1;
    }
    return 0;
}

static void usage(FILE *f, table *tb, const task_ops *t)
{
    fprintf(f, "usage:");
    for (size_t i = 0, k = 0; i < task_count(); i++) {
        const task_ops *u = task_at(i);
        if (u->train)
            fprintf(f, "%s rnnhost train --task %s %s [OPTIONS]\n", k++ ? "      " : "", u->name, u->train->usage);
    }
    fprintf(f, "\nTrains a model of one of the tasks by truncated backpropagation through time. Every task trains\n"
               "in one loop, by the same rules: -o is the model of the best validation figure (the loss; for ctc\n"
               "classify and tag the error rate), rewritten whenever it improves, whatever ends the training\n"
               "(--patience too), or without validation the last weights; the learning rate is multiplied by\n"
               "--lr-decay at the start of every epoch after --lr-decay-after.\n\n");
    const int apart = t->train->defaults != NULL;
    for (size_t i = 0; i < tb->t.n; i++) /* a page shows its task's sections, or those of every task without one */
        tb->t.g[i].hidden = tb->owner[i] && !(apart ? lists(t, tb->t.g[i].section)
                                                     : tb->owner[i]->train->defaults == NULL);
    if (apart)
        fprintf(f, "The options of --task %s, with its defaults:\n", t->name);
    cli_help(f, tb->t.g, tb->t.n);
    for (size_t i = 0; i < task_count() && !apart; i++) {
        const task_ops *u = task_at(i);
        if (u->train && u->train->defaults)
            fprintf(f, "\n--task %s (%s) has options and defaults of its own:\n'rnnhost train --task %s --help' lists "
                       "them.\n",
                    u->name, u->noun, u->name);
    }
    fprintf(f, "\nCtrl-C writes a checkpoint and exits 130. A NaN or infinite loss or gradient stops with exit 1,\n"
               "naming the step; the checkpoints written before it are intact.\n");
}

int cmd_train(int argc, char **argv)
{
    table tb;
    train_opts o, d;
    char out[64];
    int first, rc = EXIT_USAGE;
    memset(&tb, 0, sizeof tb);
    const task_ops *t = task_at(0); /* the registry's first task is the default */
    train_defaults(&d, t, out);
    o = d;
    if (build(&tb, &o, &d) != 0) {
        hostlog_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    const int parsed = cli_parse(tb.t.g, tb.t.n, argc, argv, &first);
    if (parsed == CLI_ERROR)
        goto done;
    if (!(t = task_named(o.task)) || !t->train) {
        char known[256];
        task_names(known, sizeof known, task_can_train, NULL);
        hostlog_usage("train: --task %s is not available (there is %s model)", o.task, known);
        goto done;
    }
    train_defaults(&d, t, out); /* the task's own defaults for what was not given */
    cli_fill_defaults(tb.t.g, tb.t.n);
    if (parsed == CLI_HELP) {
        usage(stdout, &tb, t);
        rc = EXIT_OK;
        goto done;
    }
    if (first < argc) {
        hostlog_usage("train: unexpected argument '%s'", argv[first]);
        goto done;
    }
    void *own = cli_table_made(&tb.t, t->train->opts_defaults);
    if (check_owned(&tb, t) != 0 || train_check(&o, t, tb.t.g, tb.t.n) != 0 ||
        (t->train->check && t->train->check(&o, own, tb.t.g, tb.t.n) != 0))
        goto done;
    rc = train_run(t, &o, own, tb.t.g, tb.t.n);
done:
    cli_table_free(&tb.t);
    return rc;
}
