/* rnnhost classify: the label of every line of a text under a classifier, with its probability; --json
 * gives every label's, --stream the top label's after every element. */
#include <stddef.h>
#include <stdio.h>

#include "commands.h"
#include "registry.h"

typedef struct classify_opts {
    const char *model;
    classify_args a;
} classify_opts;

static const classify_opts defaults = {NULL, {NULL, 0, 0}};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(classify_opts, model),
     .arg = "MODEL", .help = "a classifier's model file, or the name of a preset"},
    {.name = "json", .kind = CLI_FLAG, .offset = offsetof(classify_opts, a.json),
     .help = "one JSON object a line: the label and every label's probability"},
    {.name = "stream", .kind = CLI_FLAG, .offset = offsetof(classify_opts, a.stream),
     .help = "read each sequence element by element through the model's step and print a line after every "
             "element: the label so far (unidirectional models with pool last)"},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost classify -m MODEL [OPTIONS] [FILE|-]\n\n"
            "Labels sequences, one a line (default: standard input), as the model was trained on them:\n"
            "characters, words between white space, or comma-separated values. Prints label<TAB>probability\n"
            "for each line.\n\n",
    .tail = "\nA word the model's vocabulary lacks is its unknown word. A line that the model cannot read (a\n"
            "character outside its vocabulary, an empty sequence, a ragged numeric row, a sequence longer than\n"
            "its --max-length) is an error naming the line, exit 1, after the lines before it were printed.\n"
            "Ctrl-C (or SIGTERM) stops and exits 130.\n",
    .own = {NULL, options},
};

int cmd_classify(int argc, char **argv)
{
    classify_opts o = defaults;
    return task_model_input(&page, &o, &defaults, &o.model, &o.a.input, &task_use_classify, &o.a, argc, argv);
}
