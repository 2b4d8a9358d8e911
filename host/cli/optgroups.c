#include "optgroups.h"

#include "cliargs.h"
#include "hostlog.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

const char *const opt_optimizer_names[] = {"sgd", "momentum", "rmsprop", "adam", NULL};

/* ---- model ----------------------------------------------------------------------------------------------- */

const opt_model opt_model_defaults = {.cell = "gru", .hidden = 128, .layers = 2};

static const cli_option model_options[] = {
    {.name = "cell", .kind = CLI_STRING, .offset = offsetof(opt_model, cell), .arg = "ID",
     .help = "recurrent core: rnn, gru, lstm or any plugin's model id", .flags = OPT_ARCH},
    {.name = "rnn-size", .kind = CLI_U32, .offset = offsetof(opt_model, hidden), .arg = "N",
     .help = "hidden units per layer", .min = 1, .max = 65536, .flags = OPT_ARCH},
    {.name = "num-layers", .kind = CLI_U32, .offset = offsetof(opt_model, layers), .arg = "N",
     .help = "stacked layers", .min = 1, .max = 64, .flags = OPT_ARCH},
    {.name = "bidirectional", .kind = CLI_FLAG, .offset = offsetof(opt_model, bidirectional),
     .help = "ctc and classify: a second model reads time backwards (ctc: offline transcription; classify: the "
             "two pooled logits are added; already so for tag and --input numeric)",
     .flags = OPT_ARCH},
    {.name = "init-from", .kind = CLI_STRING, .offset = offsetof(opt_model, init_from), .arg = "MODEL",
     .help = "start from these weights (a path or preset name); the model's shape comes with them"},
    {.name = "dropout", .kind = CLI_NUMBER, .offset = offsetof(opt_model, dropout), .arg = "P",
     .help = "in training, drop each unit of every layer's output (the input of the layer above, and of the "
             "output projection) with chance P, a new mask every step; never at inference; 0-0.9",
     .max = 0.9, .flags = OPT_TRAIN},
    {.name = "recurrent-dropout", .kind = CLI_NUMBER, .offset = offsetof(opt_model, recurrent_dropout),
     .arg = "P",
     .help = "in training, drop each unit of a layer's state h<t-1> from its recurrent products with chance P, "
             "one mask per sequence for all its steps (variational dropout); never at inference; 0-0.9",
     .max = 0.9, .flags = OPT_TRAIN},
    {0},
};
const cli_section opt_model_section = {"Model", model_options};

void opt_model_options(const opt_model *om, char *options, size_t size)
{
    const char *const keys[2] = {"dropout", "recurrent_dropout"};
    const double values[2] = {om->dropout, om->recurrent_dropout};
    for (int k = 0; k < 2; k++)
        if (values[k] > 0) {
            const size_t used = strlen(options);
            host_fmt(options + used, size - used, "%s%s=%g", used ? ";" : "", keys[k], values[k]);
        }
}

/* ---- optimiser ------------------------------------------------------------------------------------------- */

const opt_optim opt_optim_defaults = {
    .batch = 50, .optimizer = 3, .lr = 2e-3, .lr_decay = 0.97, .lr_decay_after = 10, .grad_clip = 5,
    .clip_value = 0, .seed = 1, .threads = 0,
};

static const cli_option optim_options[] = {
    {.name = "batch-size", .kind = CLI_U32, .offset = offsetof(opt_optim, batch), .arg = "B",
     .help = "examples per step: streams, lines, sequences or utterances", .min = 1, .max = 65536,
     .flags = OPT_TRAIN},
    {.name = "optimizer", .kind = CLI_CHOICE, .offset = offsetof(opt_optim, optimizer), .arg = "NAME",
     .help = "sgd, momentum, rmsprop or adam", .choices = opt_optimizer_names, .flags = OPT_TRAIN},
    {.name = "learning-rate", .kind = CLI_NUMBER, .offset = offsetof(opt_optim, lr), .arg = "LR",
     .max = INFINITY, .flags = OPT_TRAIN},
    {.name = "lr-decay", .kind = CLI_NUMBER, .offset = offsetof(opt_optim, lr_decay), .arg = "F",
     .help = "multiply the rate by F every epoch after --lr-decay-after; 1: never", .max = INFINITY,
     .flags = OPT_TRAIN},
    {.name = "lr-decay-after", .kind = CLI_U32, .offset = offsetof(opt_optim, lr_decay_after), .arg = "N",
     .help = "epochs at the full rate; 0: decay from the first", .max = UINT32_MAX, .flags = OPT_TRAIN},
    {.name = "grad-clip", .kind = CLI_NUMBER, .offset = offsetof(opt_optim, grad_clip), .arg = "NORM",
     .help = "clip the global gradient norm; 0 is off", .max = INFINITY, .flags = OPT_TRAIN},
    {.name = "clip-value", .kind = CLI_NUMBER, .offset = offsetof(opt_optim, clip_value), .arg = "V",
     .help = "clip each gradient to [-V, V]; 0 is off", .max = INFINITY, .flags = OPT_TRAIN},
    {.name = "weight-decay", .kind = CLI_NUMBER, .offset = offsetof(opt_optim, weight_decay), .arg = "W",
     .help = "decoupled (AdamW), with every optimizer: each step also takes rate * W of every weight, biases "
             "included, apart from the gradient; 0 is off",
     .max = INFINITY, .flags = OPT_TRAIN},
    {.name = "seed", .kind = CLI_U64, .offset = offsetof(opt_optim, seed), .arg = "S",
     .help = "initialisation, shuffling and augmentation", .flags = OPT_TRAIN},
    {.name = "threads", .kind = CLI_U32, .offset = offsetof(opt_optim, threads), .arg = "N",
     .help = "threads for the model and BLAS; 0: every core", .max = 1024},
    {0},
};
const cli_section opt_optim_section = {"Optimisation", optim_options};

/* ---- stopping -------------------------------------------------------------------------------------------- */

const opt_stop opt_stop_defaults = {.max_epochs = 50};

static const cli_option stop_options[] = {
    {.name = "max-epochs", .kind = CLI_U64, .offset = offsetof(opt_stop, max_epochs), .arg = "N",
     .help = "0: no limit", .shown = "%s unless --max-steps or --time-budget is given, then 0"},
    {.name = "max-steps", .kind = CLI_U64, .offset = offsetof(opt_stop, max_steps), .arg = "N", .help = "0: no limit"},
    {.name = "time-budget", .kind = CLI_DURATION, .offset = offsetof(opt_stop, time_budget), .arg = "D",
     .help = "wall time, e.g. 90s, 10m, 2h; 0: no limit"},
    {.name = "patience", .kind = CLI_U64, .offset = offsetof(opt_stop, patience), .arg = "N",
     .help = "stop when N validations in a row have not bettered the best (-o keeps the best); 0: no limit"},
    {0},
};
const cli_section opt_stop_section = {
    "Stopping (the first limit reached ends the training; with none, only Ctrl-C does)", stop_options};

/* ---- sampling -------------------------------------------------------------------------------------------- */

const opt_sampling opt_sampling_defaults = {.temperature = 1, .top_k = 0, .seed = 1};

static const cli_option sampling_options[] = {
    {.name = "temperature", .short_name = 't', .kind = CLI_NUMBER, .offset = offsetof(opt_sampling, temperature),
     .arg = "T",
     .help = "0-1000: below 1 more conservative, above 1 more surprising; 0: always the likeliest, as --argmax "
             "(in music, 0: always the likeliest event, or every pitch whose probability is above one half)",
     .max = 1000},
    {.name = "top-k", .short_name = 'k', .kind = CLI_U64, .offset = offsetof(opt_sampling, top_k), .arg = "K",
     .help = "draw only among the K likeliest symbols or events; 0 is all", .shown = "%s, all"},
    {.name = "argmax", .kind = CLI_CONST, .offset = offsetof(opt_sampling, temperature),
     .help = "always the likeliest: temperature 0", .min = 0},
    {.name = "seed", .short_name = 's', .kind = CLI_U64, .offset = offsetof(opt_sampling, seed), .arg = "S",
     .help = "the same seed gives the same output"},
    {0},
};
const cli_section opt_sampling_section = {"Sampling", sampling_options};

/* ---- plugins --------------------------------------------------------------------------------------------- */

const opt_plugin opt_plugin_defaults = {NULL};

static const cli_option plugin_options[] = {
    {.name = "plugin-path", .kind = CLI_STRING, .offset = offsetof(opt_plugin, path), .arg = "PATH",
     .help = "colon-separated plugin directories or .so files, searched first"},
    {0},
};
const cli_section opt_plugin_section = {NULL, plugin_options};

/* ---- JSON output ----------------------------------------------------------------------------------------- */

const opt_json opt_json_defaults = {0};

static const cli_option json_options[] = {
    {.name = "json", .kind = CLI_FLAG, .offset = offsetof(opt_json, on),
     .help = "one JSON object on standard output instead of text (its fields: README, 'JSON output')"},
    {0},
};
const cli_section opt_json_section = {NULL, json_options};

/* ---- music generation ------------------------------------------------------------------------------------ */

const opt_music opt_music_defaults = {.max_note = -1};

static const cli_option music_options[] = {
    {.name = "max-note", .kind = CLI_DURATION, .offset = offsetof(opt_music, max_note), .arg = "D",
     .help = "end a note that has sounded this long: 12s, 500ms; 0: no limit",
     .shown = "the longest note of the model's training data, as its file records it"},
    {0},
};
const cli_section opt_music_section = {NULL, music_options};

/* ---- one output file ------------------------------------------------------------------------------------- */

const opt_output opt_output_defaults = {NULL, NULL};

static const cli_option output_options[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_STRING, .offset = offsetof(opt_output, path), .arg = "FILE|-",
     .help = "where to write, '-' for standard output; a file appears whole (written atomically), a link is "
             "written through, a FIFO or device is a stream"},
    {.name = "format", .short_name = 'f', .kind = CLI_STRING, .offset = offsetof(opt_output, format), .arg = "FMT",
     .help = "the output's format", .shown = "the output's extension"},
    {0},
};
const cli_section opt_output_section = {NULL, output_options};

int opt_output_format(const opt_output *o, const char *const *names, int n, int fallback)
{
    return cli_output_format(o->path, o->format, names, n, fallback, hostlog_command());
}
