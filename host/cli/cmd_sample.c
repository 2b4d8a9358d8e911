/* rnnhost sample: novel text from a language model, one symbol at a time, as the model's task draws it
 * (task.h: sample). */
#include <stddef.h>
#include <stdio.h>

#include "commands.h"
#include "hostlog.h"
#include "optgroups.h"
#include "registry.h"

typedef struct sample_opts {
    const char *model;
    sample_args a;
    opt_plugin plugin;
} sample_opts;

static const sample_opts defaults = {.a = {.length = 2000, .num = 1, .out = "-"}};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(sample_opts, model), .arg = "MODEL",
     .help = "a model file, or the name of a shipped preset (e.g. dinos)"},
    {.name = "length", .short_name = 'n', .kind = CLI_U64, .offset = offsetof(sample_opts, a.length), .arg = "N",
     .help = "symbols per sample at most; 0: none, only --prime-text"},
    {.name = "prime-text", .short_name = 'p', .kind = CLI_STRING, .offset = offsetof(sample_opts, a.prime),
     .arg = "TEXT", .help = "condition on this text first and print it",
     .shown = "none; a model with newline in its vocabulary starts as after a newline"},
    {.name = "num-samples", .kind = CLI_U64, .offset = offsetof(sample_opts, a.num), .arg = "N",
     .help = "independent samples, each from the primed state; 0: none"},
    {.name = "stop-at-newline", .kind = CLI_FLAG, .offset = offsetof(sample_opts, a.stop_at_newline),
     .help = "end a sample at its first newline (one line, e.g. one name)"},
    {.name = "output", .short_name = 'o', .kind = CLI_STRING, .offset = offsetof(sample_opts, a.out), .arg = "FILE|-",
     .help = "where to write, - for standard output; a file appears whole when sampling ends, a link is written "
             "through, a FIFO or device is a stream"},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost sample -m MODEL [OPTIONS]\n\n"
            "Writes text sampled from a language model, symbol by symbol as it is generated.\n\n",
    .tail = "\nCtrl-C (or SIGTERM) ends the current line, writes what was sampled so far and exits 130.\n",
    .own = {NULL, options},
    .parts = {CLI_PART(sample_opts, a.sampling, opt_sampling_section, opt_sampling_defaults),
              CLI_PART(sample_opts, plugin, opt_plugin_section, opt_plugin_defaults)},
};

int cmd_sample(int argc, char **argv)
{
    sample_opts o;
    const int started = cli_start_page(&page, &o, &defaults, argc, argv, NULL);
    if (started >= 0)
        return started;
    if (!o.model) {
        hostlog_usage("sample: -m MODEL is required");
        return EXIT_USAGE;
    }
    return task_model_run(o.plugin.path, o.model, &task_use_sample, &o.a);
}
