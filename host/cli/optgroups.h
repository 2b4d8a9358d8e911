/* Option groups several commands share (cliopts.h): each is a struct, a const instance holding its
 * defaults, and a section describing its options. A command embeds the struct in its own options and
 * lists the section in its table, binding it to its field and to the defaults instance (or to a copy whose
 * values it changes: train's tasks have defaults of their own).
 *
 *   model      the recurrent core a training builds: --cell, --rnn-size, --num-layers, --init-from
 *   optimiser  batch, optimizer, learning rate and its schedule, clipping, weight decay, seed, threads
 *   stopping   --max-epochs, --max-steps, --time-budget, --patience
 *   sampling   --temperature, --top-k, --argmax, --seed: drawing from a model's outputs
 *   plugin     --plugin-path
 *   json       --json: one JSON object on standard output instead of text
 *   output     -o/--output and -f/--format of a command that writes one file whose format its extension
 *              names (opt_output_format picks it); the command's usage text says which formats and the
 *              default output, which differ from command to command
 */
#ifndef RNNHOST_OPTGROUPS_H
#define RNNHOST_OPTGROUPS_H

#include <stdint.h>

#include "cliopts.h"

/* Marks of train's options (cli_option.flags): what a model or a checkpoint fixes. */
enum {
    OPT_ARCH = CLI_USER << 0,  /* the model's shape: with --resume or --init-from it comes from the model file */
    OPT_TRAIN = CLI_USER << 1, /* how it trains: with --resume it comes from the checkpoint's training record */
};

typedef struct opt_model {
    const char *cell;       /* the recurrent core's model id */
    uint32_t hidden, layers;
    int bidirectional;      /* a second model over reversed time (tasks that read whole sequences before they answer) */
    const char *init_from;  /* NULL: new weights */
    double dropout;         /* the chance a layer's output unit is dropped in training (rnnhost/dropout.h) */
    double recurrent_dropout; /* the chance a unit of h<t-1> is dropped from the recurrent products */
} opt_model;

/* Appends the model options the dropouts ask for ("dropout=P;recurrent_dropout=P", those above 0) to the
 * options string, after a ';' when it holds any. */
void opt_model_options(const opt_model *om, char *options, size_t size);

typedef struct opt_optim {
    uint32_t batch;
    int optimizer;          /* RH_OPT_*: the index in opt_optimizer_names */
    double lr, lr_decay;
    uint32_t lr_decay_after;
    double grad_clip, clip_value;
    double weight_decay;    /* decoupled (rnnhost/optim.h); 0: off */
    uint64_t seed;
    uint32_t threads;       /* 0: every core */
} opt_optim;

typedef struct opt_stop {
    uint64_t max_epochs, max_steps; /* 0: no limit */
    double time_budget;             /* seconds; 0: no limit */
    uint64_t patience;              /* validations in a row without a better figure; 0: no limit */
} opt_stop;

typedef struct opt_sampling {
    double temperature;
    uint64_t top_k;         /* 0: all */
    uint64_t seed;
} opt_sampling;

typedef struct opt_plugin {
    const char *path;       /* searched before RNNHOST_PLUGIN_PATH; NULL: none */
} opt_plugin;

typedef struct opt_json {
    int on;
} opt_json;

typedef struct opt_music {
    double max_note;        /* seconds; 0: no limit; below 0: the model's record (musicrange.h) */
} opt_music;

typedef struct opt_output {
    const char *path;       /* NULL: the command's default */
    const char *format;     /* NULL: the one path's extension names */
} opt_output;

extern const char *const opt_optimizer_names[]; /* "sgd", "momentum", "rmsprop", "adam", NULL */

extern const opt_model opt_model_defaults;
extern const opt_optim opt_optim_defaults;
extern const opt_stop opt_stop_defaults;
extern const opt_sampling opt_sampling_defaults;
extern const opt_plugin opt_plugin_defaults;
extern const opt_json opt_json_defaults;
extern const opt_music opt_music_defaults;
extern const opt_output opt_output_defaults;

extern const cli_section opt_model_section;
extern const cli_section opt_optim_section;
extern const cli_section opt_stop_section;
extern const cli_section opt_sampling_section;
extern const cli_section opt_plugin_section;
extern const cli_section opt_json_section;
extern const cli_section opt_music_section;   /* --max-note: generate, play */
extern const cli_section opt_output_section;

/* The format of o->path, one of names[0..n) (cli_output_format: --format, else the extension, else fallback;
 * -1 for none). The index, or -1 after a usage line. */
int opt_output_format(const opt_output *o, const char *const *names, int n, int fallback);

/* What a command that writes music from a model takes (generate, play): the music's limits and the sampling,
 * the members music and sampling of its options struct. */
#define OPT_MUSIC_PARTS(type)                                                                               \
    CLI_PART(type, music, opt_music_section, opt_music_defaults),                                          \
        CLI_PART(type, sampling, opt_sampling_section, opt_sampling_defaults)

/* A group of a shared section over its struct and default instance. */
#define OPT_GROUP(section, fields, defaults) {&(section), (fields), (defaults), 0, 0}

#endif /* RNNHOST_OPTGROUPS_H */
