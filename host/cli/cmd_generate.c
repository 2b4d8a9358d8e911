/* rnnhost generate: Standard MIDI Files from a music model. The model's task opens it as a generator
 * (eventgen.h: an event model steps token by token, a piano-roll model frame by frame) and one loop writes
 * the pieces; the same seed gives the same file. */
#include <errno.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "cliargs.h"
#include "commands.h"
#include "eventgen.h"
#include "hostlog.h"
#include "interrupt.h"
#include "optgroups.h"
#include "registry.h"
#include "smf.h"

extern char **environ;

/* --length: seconds of music or model steps. */
typedef struct gen_length {
    double seconds;
    uint64_t steps;
} gen_length;

typedef struct gen_opts {
    const char *model, *out, *dir, *primer_midi, *primer_pitches, *wav;
    uint32_t num, program;
    gen_length length;
    double qpm;
    opt_music music;
    opt_sampling sampling;
    opt_plugin plugin;
} gen_opts;

static const gen_opts defaults = {.dir = ".", .length = {30.0, 0}, .qpm = 120};

/* A duration in the one syntax of every command (30s, 1.5m, 500ms) is music; a bare number is model steps. */
static int parse_length(void *field, const char *arg, const char *name)
{
    gen_length *l = field;
    double v;
    int unit;
    if (cli_parse_seconds(arg, &v, &unit) != 0 || !(v >= (unit ? 1e-3 : 1)) || v > 1e6) {
        hostlog_usage("generate: %s is a duration of music (30s, 1.5m) or a number of model steps (512), not '%s'",
                      name, arg);
        return -1;
    }
    if (unit)
        l->seconds = v, l->steps = 0;
    else
        l->steps = (uint64_t)v;
    return 0;
}

static void show_length(char *buf, size_t len, const void *field)
{
    const gen_length *l = field;
    if (l->steps)
        host_fmt(buf, len, "%llu", (unsigned long long)l->steps);
    else
        host_fmt(buf, len, "%gs", l->seconds);
}

static int parse_pitches(note **out, size_t *n, const char *s)
{
    size_t cap = 8;
    *n = 0;
    *out = malloc(cap * sizeof **out);
    while (*out && *s) {
        char *end;
        errno = 0;
        long p = strtol(s, &end, 10);
        if (errno || end == s || p < 0 || p > 127 || (*end && *end != ','))
            return -1;
        if (*n == cap) {
            note *g = realloc(*out, 2 * cap * sizeof *g);
            if (!g)
                return -1;
            *out = g, cap *= 2;
        }
        note nt = {0.0, 0.5, (uint8_t)p, 80, 0};
        (*out)[(*n)++] = nt;
        s = *end ? end + 1 : end;
    }
    return *out && *n ? 0 : -1;
}

/* --primer-pitches, checked when given. */
static int check_pitches(void *field, const char *arg, const char *name)
{
    note *notes = NULL;
    size_t n;
    const int ok = parse_pitches(&notes, &n, arg) == 0;
    free(notes);
    if (!ok) {
        hostlog_usage("generate: %s needs MIDI pitches 0-127 separated by commas, not '%s'", name, arg);
        return -1;
    }
    *(const char **)field = arg;
    return 0;
}

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(gen_opts, model), .arg = "MODEL",
     .help = "a model file or preset name (e.g. folk, chorales)"},
    {.name = "output", .short_name = 'o', .kind = CLI_STRING, .offset = offsetof(gen_opts, out), .arg = "FILE.mid|-",
     .help = "the file to write, '-' for stdout"},
    {.name = "num-outputs", .kind = CLI_U32, .offset = offsetof(gen_opts, num), .arg = "N",
     .help = "write N files gen_001.mid ... into --output-dir, seeds S, S+1, ... (1-100000)", .shown = "",
     .min = 1, .max = 100000},
    {.name = "output-dir", .kind = CLI_STRING, .offset = offsetof(gen_opts, dir), .arg = "DIR"},
    {.name = "length", .kind = CLI_CUSTOM, .offset = offsetof(gen_opts, length), .arg = "L",
     .help = "a duration of music (30s, 1.5m) or a number of model steps (512) after the primer, above 0",
     .parse = parse_length,
     .show = show_length, .size = sizeof(gen_length)},
    {.name = "primer-midi", .kind = CLI_STRING, .offset = offsetof(gen_opts, primer_midi), .arg = "FILE",
     .help = "start from this file's notes (they are kept in the output)"},
    {.name = "primer-pitches", .kind = CLI_CUSTOM, .offset = offsetof(gen_opts, primer_pitches), .arg = "P,...",
     .help = "start from this chord, a quarter note long", .shown = "", .parse = check_pitches,
     .size = sizeof(const char *)},
    {.name = "qpm", .kind = CLI_NUMBER, .offset = offsetof(gen_opts, qpm), .arg = "Q",
     .help = "tempo written to the file, and the piano-roll grid, 1-1000", .min = 1, .max = 1000},
    {.name = "program", .kind = CLI_U32, .offset = offsetof(gen_opts, program), .arg = "P",
     .help = "General MIDI program, 0-127", .shown = "%s, piano", .max = 127},
    {.name = "wav", .kind = CLI_STRING, .offset = offsetof(gen_opts, wav), .arg = "OUT.wav|-",
     .help = "also render the first file with FluidSynth and a GM soundfont"},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost generate -m MODEL (-o OUT.mid | --num-outputs N --output-dir DIR) [OPTIONS]\n"
            "\n"
            "Writes Standard MIDI Files sampled from a music model (task midi-lm or pianoroll). The music\n"
            "keeps to what the model was trained on, as its file records it: no note starts outside the\n"
            "training data's pitches, and none sounds longer than --max-note.\n"
            "\n",
    .tail = "\n"
            "A file is written atomically; a link is written through, a FIFO or device as a stream.\n"
            "Ctrl-C (or SIGTERM) stops generating: the music made so far is written as a whole MIDI file\n"
            "(earlier --num-outputs files stay as they are) and the exit code is 130.\n",
    .own = {NULL, options},
    .parts = {OPT_MUSIC_PARTS(gen_opts), CLI_PART(gen_opts, plugin, opt_plugin_section, opt_plugin_defaults)},
};

/* The whole of a file into memory; NULL with errno. */
static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            uint8_t *g = realloc(buf, cap);
            if (!g)
                break;
            buf = g;
        }
        const size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                break;
            fclose(f);
            *size = len;
            return buf;
        }
    }
    const int e = errno ? errno : EIO;
    fclose(f);
    free(buf);
    errno = e;
    return NULL;
}

/* Renders f with FluidSynth and a General MIDI soundfont into wav, which is written as every output is
 * (atomicfile.h: a file atomically, a link through, '-' or a FIFO as a stream). FluidSynth works in a
 * private temporary folder, so it never sees the names the user gave. */
static int render_wav(const smf_file *f, const char *wav, const char *mid_name)
{
    static const char *fonts[] = {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                                  "/usr/share/soundfonts/default.sf2"};
    const char *font = NULL;
    struct stat st;
    for (size_t i = 0; i < sizeof fonts / sizeof *fonts && !font; i++)
        if (stat(fonts[i], &st) == 0)
            font = fonts[i];
    if (!font) {
        hostlog_error("--wav needs FluidSynth and a General MIDI soundfont (Debian: apt install fluidsynth "
                      "fluid-soundfont-gm); the MIDI file %s was written", mid_name);
        return -1;
    }
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], mid[4200], out[4200], err[1024];
    host_fmt(dir, sizeof dir, "%s/rnnhost-wav.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        hostlog_error("--wav: cannot make a temporary folder %s: %s", dir, strerror(errno));
        return -1;
    }
    host_fmt(mid, sizeof mid, "%s/in.mid", dir);
    host_fmt(out, sizeof out, "%s/out.wav", dir);
    int rc = -1;
    if (smf_write(mid, f, 1, err, sizeof err) != 0) {
        hostlog_error("--wav: %s", err);
        goto done;
    }
    char *args[] = {"fluidsynth", "-ni", "-q", "-F", out, "-r", "44100", (char *)font, mid, NULL};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "fluidsynth", NULL, NULL, args, environ) != 0) {
        hostlog_error("--wav needs FluidSynth (Debian: apt install fluidsynth); the MIDI file %s was written",
                      mid_name);
        goto done;
    }
    size_t size = 0;
    uint8_t *bytes = NULL;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        !(bytes = slurp(out, &size))) {
        hostlog_error("fluidsynth could not render %s to %s", mid_name, output_name(wav));
        goto done;
    }
    if (write_file_atomic(wav, bytes, size, err, sizeof err) != 0)
        hostlog_error("%s", err);
    else
        rc = 0;
    free(bytes);
done:
    unlink(mid);
    unlink(out);
    rmdir(dir);
    return rc;
}

/* The primer's notes (none: NULL). 0, or -1 after one line. */
static int primer_notes(note **notes, size_t *n, const gen_opts *o)
{
    char err[512];
    *notes = NULL, *n = 0;
    if (o->primer_pitches)
        return parse_pitches(notes, n, o->primer_pitches) == 0 ? 0 : (hostlog_error("out of memory"), -1);
    if (!o->primer_midi)
        return 0;
    smf_file pf;
    if (smf_read(&pf, o->primer_midi, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        return -1;
    }
    const int ok = notes_from_smf(notes, n, &pf) == 0;
    smf_free(&pf);
    return ok ? 0 : -1;
}

/* Writes piece i (file) from g. EXIT_OK, EXIT_INTERRUPTED (the piece so far written), or EXIT_FAIL. */
static int write_piece(music_gen *g, const gen_opts *o, const gen_piece *p, uint32_t i, const char *file)
{
    note *notes = NULL;
    size_t n = 0;
    char err[512];
    const int ok = music_gen_piece(g, o->sampling.seed + i, p, &notes, &n) == 0;
    if (ok && host_interrupted && n == 0) { /* stopped before a note: no empty file to be taken for music */
        free(notes);
        fprintf(stderr, "rnnhost: interrupted before %s had a note; it is not written\n", file);
        return EXIT_INTERRUPTED;
    }
    smf_file f;
    memset(&f, 0, sizeof f);
    if (!ok || notes_to_smf(&f, notes, n, o->qpm, (uint8_t)o->program) != 0) {
        free(notes);
        hostlog_error("generation failed (a model error or out of memory)");
        return EXIT_FAIL;
    }
    free(notes);
    if (smf_write(file, &f, 1, err, sizeof err) != 0) {
        smf_free(&f);
        hostlog_error("%s", err);
        return EXIT_FAIL;
    }
    fprintf(stderr, "rnnhost: wrote %s (%zu notes)%s\n", output_name(file), n, host_interrupted ? "; interrupted" : "");
    const int rendered = host_interrupted || !o->wav || i > 0 || render_wav(&f, o->wav, output_name(file)) == 0;
    smf_free(&f);
    return host_interrupted ? EXIT_INTERRUPTED : rendered ? EXIT_OK : EXIT_FAIL;
}

int cmd_generate(int argc, char **argv)
{
    gen_opts o;
    const int started = cli_start_page(&page, &o, &defaults, argc, argv, NULL);
    if (started >= 0)
        return started;
    if (!o.model || (!o.out && !o.num) || (o.out && o.num) || (o.primer_midi && o.primer_pitches)) {
        hostlog_usage("generate: needs -m MODEL and either -o FILE.mid or --num-outputs N%s",
                      o.primer_midi && o.primer_pitches ? " (and one primer at most)" : "");
        return EXIT_USAGE;
    }
    if (o.out && o.wav && strcmp(o.out, "-") == 0 && strcmp(o.wav, "-") == 0) {
        hostlog_usage("generate: -o - and --wav - would both write to standard output");
        return EXIT_USAGE;
    }

    task_model m;
    music_gen *g = NULL;
    note *primer = NULL;
    char why[1024];
    host_catch_interrupts(); /* from here on, so that Ctrl-C while the model loads is a clean stop (nothing written) */
    int rc = task_model_open(&m, o.plugin.path, o.model, task_can_generate, NULL);
    if (rc != EXIT_OK)
        return rc;
    if ((rc = m.t->generate->open(&g, m.path, &m.reg, &o.sampling, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        task_model_close(&m);
        return rc;
    }
    music_gen_set_max_note(g, o.music.max_note);
    rc = EXIT_FAIL;
    gen_piece piece = {o.length.seconds, o.length.steps, o.qpm, NULL, 0};
    if (primer_notes(&primer, &piece.n_primer, &o) != 0)
        goto done;
    piece.primer = primer;
    if (o.num && mkdir(o.dir, 0777) != 0 && errno != EEXIST) {
        hostlog_error("cannot create %s: %s", o.dir, strerror(errno));
        goto done;
    }
    for (uint32_t i = 0; i < (o.num ? o.num : 1); i++) {
        char file[4096];
        if (o.num)
            snprintf(file, sizeof file, "%s/gen_%03u.mid", o.dir, i + 1);
        else
            snprintf(file, sizeof file, "%s", o.out);
        if ((rc = write_piece(g, &o, &piece, i, file)) != EXIT_OK)
            goto done;
    }
    rc = EXIT_OK;
done:
    free(primer);
    music_gen_close(g);
    task_model_close(&m);
    return rc;
}
