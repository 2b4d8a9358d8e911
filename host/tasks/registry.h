/* The tasks rnnhost knows, by the name model files store in rnnhost.task. A command asks this registry
 * which module a model belongs to and whether that module does what the command needs; it never
 * compares task names itself. Adding a task: its module (task.h) and one line in registry.c. */
#ifndef RNNHOST_REGISTRY_H
#define RNNHOST_REGISTRY_H

#include <stddef.h>

#include "task.h"

/* The tasks in the order --help and messages list them. */
size_t task_count(void);
const task_ops *task_at(size_t i);

/* The task called name, or NULL. */
const task_ops *task_named(const char *name);

/* What the models of the task called name are ("a character language model"), from its module; NULL when
 * no task is called so. */
const char *task_noun(const char *name);

/* What a command needs of a task: 1 when t can (arg: the command's own detail, e.g. the eval section whose
 * options were given). */
typedef int (*task_can)(const task_ops *t, const void *arg);
int task_can_train(const task_ops *t, const void *arg);
int task_can_sample(const task_ops *t, const void *arg);
int task_can_score(const task_ops *t, const void *arg);
int task_can_generate(const task_ops *t, const void *arg);
int task_can_export(const task_ops *t, const void *arg);
int task_can_classify(const task_ops *t, const void *arg);
int task_can_tag(const task_ops *t, const void *arg);
int task_can_eval(const task_ops *t, const void *arg); /* arg NULL, or the eval section the options came from */

/* The command whose options for a task's models each task's module may bring. */
typedef enum task_part { TASK_EVAL, TASK_EXPORT } task_part;

/* Adds to tb the section of every task's options for that command, in registry order (a section several
 * tasks share once), each over a struct the table makes from its defaults. 0, or -1 when the table is
 * full or memory ran out. */
int task_add_sections(cli_table *tb, task_part part);

/* "a 'x' or 'y'": the tasks that can, in registry order (generators: event models first). */
void task_names(char *buf, size_t len, task_can can, const void *arg);

/* -m NAME: resolves it into path (model_resolve), reads the task its metadata names, and finds the module.
 * A model whose task cannot do what the command needs is refused by name before any weights are read
 * ("x is a 'ctc' model; generate needs a 'midi-lm' or 'pianoroll' model"). EXIT_OK, or EXIT_LOAD with
 * one line in why. */
int task_of_model(const task_ops **t, char *path, size_t path_len, const char *name, task_can can, const void *arg,
                  char *why, size_t why_len);

/* What a command runs a model's task with: the plugins, and the model file's path and task. */
typedef struct task_model {
    plugin_registry reg;
    char path[4096];
    const task_ops *t;
} task_model;

/* The plugin search path (plugin_path first; may be NULL) and -m NAME's file and task, which must can.
 * EXIT_OK (then task_model_close), or an exit code after one line. */
int task_model_open(task_model *m, const char *plugin_path, const char *name, task_can can, const void *arg);
void task_model_close(task_model *m);

/* What sample, score, classify and tag use of a model's task: whether it can, and its member of the
 * command's name run with the command's arguments (an exit code). */
typedef struct task_use {
    task_can can;
    int (*run)(task_model *m, const void *args);
} task_use;
extern const task_use task_use_sample, task_use_score, task_use_classify, task_use_tag;

/* The whole of a command's work with a model: catches Ctrl-C from here on (so that one while the model or
 * the command's data loads is a clean stop), opens -m NAME (task_model_open), which must use->can, runs it
 * and closes it. run's exit code, or task_model_open's. */
int task_model_run(const char *plugin_path, const char *name, const task_use *use, const void *args);

/* The whole of a command that applies a model (-m, one of its own options) to one input named by an
 * operand, or standard input ('-') when none is: score, classify, tag. Parses the command's own options
 * (page->own, over opts and defaults) and the plugin path, sets *input, checks that *model is given, and
 * runs task_model_run with args. The exit code (0 after --help, 2 after a usage line). */
int task_model_input(const cli_page *page, void *opts, const void *defaults, const char *const *model,
                     const char **input, const task_use *use, const void *args, int argc, char **argv);

#endif /* RNNHOST_REGISTRY_H */
