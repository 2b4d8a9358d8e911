/* rnnhost: the command-line entry. Global options, then dispatch through the command table. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "blas.h"
#include "commands.h"
#include "cpulevel.h"
#include "hostlog.h"
#include "interrupt.h"
#include "modelfile.h"
#include "par.h"
#include "rnnhost/rnnhost.h"

#ifndef RH_VERSION
#define RH_VERSION "0.0.0"
#endif

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"plugins", cmd_plugins, "list the plugins on the search path and their models"},
    {"validate", cmd_validate, "run the conformance checks on a plugin"},
    {"train", cmd_train, "train a model: characters (lm), MIDI events (midi-lm), piano rolls (pianoroll), speech (ctc), labels of sequences (classify) or of words (tag)"},
    {"sample", cmd_sample, "write text sampled from a language model"},
    {"score", cmd_score, "how well a language model predicts a text (nats per character)"},
    {"export", cmd_export, "a model file from a checkpoint, optionally in half precision"},
    {"eval", cmd_eval, "score a model on test data: music nll per step, speech word error rate, or classifier and tagger accuracy"},
    {"generate", cmd_generate, "write MIDI files sampled from a music model"},
    {"midi-devices", cmd_mididevices, "list the MIDI inputs and outputs (PortMidi)"},
    {"play", cmd_play, "an event model performing live on a MIDI port, or recording in real time"},
    {"pianoroll", cmd_pianoroll, "draw a MIDI file as a piano roll (SVG or PNG)"},
    {"transcribe", cmd_transcribe, "speech to text for sound files and folders (txt, json, jsonl, srt, vtt)"},
    {"features", cmd_features, "the log-mel spectrogram of a sound file (.npy array or PGM image)"},
    {"presets", cmd_presets, "list the presets (models -m NAME opens by name): task, size, description"},
    {"classify", cmd_classify, "label sequences (text, DNA, numeric rows) with a classifier"},
    {"tag", cmd_tag, "tag every word of sentences (parts of speech, names) with a tagger"},
};

static void print_help(void)
{
    size_t i;
    printf("usage: rnnhost [--help] [--version] COMMAND [OPTIONS] [ARGS]\n"
           "\n"
           "Hosts recurrent-model plugins (rnnhost ABI %u).\n"
           "\n"
           "Commands:\n",
           RH_ABI_VERSION);
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-12s %s\n", commands[i].name, commands[i].summary);
    printf("\n"
           "Run 'rnnhost COMMAND --help' for a command's options.\n"
           "\n"
           "Plugins are searched in --plugin-path, then $RNNHOST_PLUGIN_PATH (colon-separated directories\n"
           "or .so files), then the installed plugin directory (%s); never the current directory.\n"
           "-m NAME opens a model file when NAME contains a '/' or ends in .safetensors, otherwise the preset\n"
           "NAME.safetensors from $RNNHOST_PRESET_PATH (colon-separated directories, searched first), then\n"
           "from the built-in preset directory (%s); 'rnnhost presets' lists them.\n"
           "\n"
           "The shipped plugins run the best CPU kernels the machine has (plain, avx2 or avx512);\n"
           "$RNNHOST_CPU=LEVEL forces one of those (--version names the level in use).\n"
           "\n"
           "Exit status:\n"
           "  0    success\n"
           "  1    failure\n"
           "  2    usage error\n"
           "  3    a model or plugin could not be loaded\n"
           "  4    a batch partly failed (the rest was written)\n"
           "  130  interrupted\n",
           RH_PLUGIN_DIR, model_preset_dir());
}

/* Two lines: the versions, then the CPU kernel level in use and every level this CPU runs (the levels
 * .ci/run runs the models suite at). */
static void print_version(void)
{
    printf("rnnhost %s (plugin ABI %u, SDK %s)\nCPU kernels: %s (this CPU runs:", RH_VERSION, RH_ABI_VERSION,
           RNNHOST_SDK_VERSION, cpu_level_name(cpu_level_chosen()));
    for (int l = CPU_PLAIN; l < CPU_LEVELS; l++)
        if (cpu_level_supported((cpu_level)l))
            printf(" %s", cpu_level_name((cpu_level)l));
    printf(")\n");
}

/* A forced kernel level (cpulevel.h) must be one this CPU runs: a run that silently used another level would
 * test or measure what nobody asked for. 0, or -1 after one line. */
static int check_cpu_level(void)
{
    cpu_level level;
    int r = cpu_level_request(&level);
    if (r == -1)
        hostlog_error("%s='%s' is not a kernel level; use plain, avx2 or avx512", CPU_LEVEL_ENV, getenv(CPU_LEVEL_ENV));
    else if (r == -2)
        hostlog_error("%s=%s: this CPU cannot run the %s kernels (the best it runs is %s)", CPU_LEVEL_ENV,
                      cpu_level_name(level), cpu_level_name(level), cpu_level_name(cpu_level_best()));
    return r < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    size_t i;

    blas_env_defaults(); // before the first plugin loads OpenBLAS
    opterr = 0;
    /* '+' stops at the command name: everything after it belongs to the command. */
    while ((c = getopt_long(argc, argv, "+hV", long_options, NULL)) != -1) {
        switch (c) {
        case 'h':
            print_help();
            return EXIT_OK;
        case 'V':
            print_version();
            return EXIT_OK;
        default:
            hostlog_usage("unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (check_cpu_level() != 0)
        return EXIT_USAGE;
    if (optind >= argc) {
        hostlog_usage("no command given");
        return EXIT_USAGE;
    }
    host_interrupt_fallback();
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* a full getopt reset for the command's own parsing */
            hostlog_set_command(commands[i].name);
            const int rc = commands[i].run(sub_argc, sub_argv);
            host_interrupt_finished(rc);
            par_stop(); /* the ranks' end, if the command started them */
            return rc;
        }
    hostlog_usage("unknown command '%s'", argv[optind]);
    return EXIT_USAGE;
}
