/* rnnhost score: how well a language model predicts a text: log-probability, nats and bits per symbol,
 * perplexity, computed by the model's task exactly as training computes its validation loss. */
#include <stddef.h>
#include <stdio.h>

#include "commands.h"
#include "registry.h"

typedef struct score_opts {
    const char *model;
    score_args a;
} score_opts;

static const score_opts defaults = {.a = {.streams = 1, .seq = 256}};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(score_opts, model), .arg = "MODEL",
     .help = "a model file, or the name of a shipped preset"},
    {.name = "streams", .kind = CLI_U32, .offset = offsetof(score_opts, a.streams), .arg = "N",
     .help = "cut the text into N pieces scored side by side: faster, and each piece starts without context; "
             "1-65536",
     .min = 1, .max = 65536},
    {.name = "seq-length", .kind = CLI_U32, .offset = offsetof(score_opts, a.seq), .arg = "T",
     .help = "symbols per forward pass, 1-65536", .min = 1, .max = 65536},
    {.name = "json", .kind = CLI_FLAG, .offset = offsetof(score_opts, a.json),
     .help = "one JSON object instead of text"},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost score -m MODEL [OPTIONS] [FILE|-]\n\n"
            "Scores a UTF-8 text (default: standard input) under a language model. Every symbol but the\n"
            "first is predicted from those before it. The last line is 'nats_per_char X'.\n\n",
    .tail = "\nA symbol the model's vocabulary lacks is an error naming its line and column. Ctrl-C (or\n"
            "SIGTERM) stops, prints nothing on standard output and exits 130.\n",
    .own = {NULL, options},
};

int cmd_score(int argc, char **argv)
{
    score_opts o = defaults;
    return task_model_input(&page, &o, &defaults, &o.model, &o.a.text, &task_use_score, &o.a, argc, argv);
}
