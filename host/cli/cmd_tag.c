/* rnnhost tag: the tag of every word of sentences, one a line, under a tagger: token<TAB>tag lines, a blank
 * line after each sentence, or one JSON object a sentence. */
#include <stddef.h>
#include <stdio.h>

#include "commands.h"
#include "registry.h"

typedef struct tag_opts {
    const char *model;
    classify_args a;
} tag_opts;

static const tag_opts defaults = {NULL, {NULL, 0, 0}};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(tag_opts, model), .arg = "MODEL",
     .help = "a tagger's model file, or the name of a preset"},
    {.name = "json", .kind = CLI_FLAG, .offset = offsetof(tag_opts, a.json),
     .help = "one JSON object a sentence: its tokens, their tags and each tag's probability"},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost tag -m MODEL [OPTIONS] [FILE|-]\n\n"
            "Tags every word of sentences, one a line with its words between white space (default: standard\n"
            "input). Prints token<TAB>tag for each word and a blank line after each sentence.\n\n",
    .tail = "\nA word the model's vocabulary lacks is its unknown word. An empty line, or a sentence longer than\n"
            "the model's --max-length, is an error naming the line, exit 1, after the sentences before it were\n"
            "printed. Ctrl-C (or SIGTERM) stops and exits 130.\n",
    .own = {NULL, options},
};

int cmd_tag(int argc, char **argv)
{
    tag_opts o = defaults;
    return task_model_input(&page, &o, &defaults, &o.model, &o.a.input, &task_use_tag, &o.a, argc, argv);
}
