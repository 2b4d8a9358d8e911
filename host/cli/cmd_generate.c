/* rnnhost generate: Standard MIDI Files from a music model, through eventgen.h's generators: an event model
 * (midi-lm) samples Performance RNN tokens; a piano-roll model samples each pitch of the next frame. The
 * same seed gives the same file. */
#include <errno.h>
#include <getopt.h>
#include <spawn.h>
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
#include "modelfile.h"
#include "music.h"
#include "smf.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost generate -m MODEL (-o OUT.mid | --num-outputs N --output-dir DIR) [OPTIONS]\n"
               "\n"
               "Writes Standard MIDI Files sampled from a music model (task midi-lm or pianoroll).\n"
               "\n"
               "  -m, --model MODEL          a model file or preset name (e.g. folk, chorales)\n"
               "  -o, --output FILE.mid|-    the file to write, '-' for stdout\n"
               "      --num-outputs N        write N files gen_001.mid ... into --output-dir, seeds S, S+1, ...\n"
               "                             (1-100000)\n"
               "      --output-dir DIR       (default: .)\n"
               "      --length L             30s (seconds of music) or a number of model steps, above 0\n"
               "                             (default: 30s)\n"
               "  -t, --temperature T        0-1000; 0: always the likeliest event, or every pitch whose\n"
               "                             probability is above one half (default: 1)\n"
               "  -k, --top-k K              event models: sample among the K likeliest (default: 0, all)\n"
               "  -s, --seed S               (default: 1)\n"
               "      --primer-midi FILE     start from this file's notes (they are kept in the output)\n"
               "      --primer-pitches P,... start from this chord, a quarter note long\n"
               "      --qpm Q                tempo written to the file, and the piano-roll grid, 1-1000\n"
               "                             (default: 120)\n"
               "      --program P            General MIDI program, 0-127 (default: 0, piano)\n"
               "      --wav OUT.wav|-        also render the first file with FluidSynth and a GM soundfont\n"
               "      --plugin-path PATH     colon-separated plugin directories searched first\n"
               "  -h, --help                 this help\n"
               "\n"
               "A file is written atomically; a link is written through, a FIFO or device as a stream.\n"
               "Ctrl-C (or SIGTERM) stops generating: the music made so far is written as a whole MIDI file\n"
               "(earlier --num-outputs files stay as they are) and the exit code is 130.\n");
}

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

int cmd_generate(int argc, char **argv)
{
    enum { O_NUM = 256, O_DIR, O_LENGTH, O_PRIMER_MIDI, O_PRIMER_PITCHES, O_QPM, O_PROGRAM, O_WAV, O_PLUGIN };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"num-outputs", required_argument, NULL, O_NUM},
        {"output-dir", required_argument, NULL, O_DIR},
        {"length", required_argument, NULL, O_LENGTH},
        {"temperature", required_argument, NULL, 't'},
        {"top-k", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, 's'},
        {"primer-midi", required_argument, NULL, O_PRIMER_MIDI},
        {"primer-pitches", required_argument, NULL, O_PRIMER_PITCHES},
        {"qpm", required_argument, NULL, O_QPM},
        {"program", required_argument, NULL, O_PROGRAM},
        {"wav", required_argument, NULL, O_WAV},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *out = NULL, *dir = ".", *primer_midi = NULL, *primer_pitches = NULL, *wav = NULL,
               *plugin_path = NULL;
    unsigned long long num = 0, seed = 1, top_k = 0, program = 0;
    gen_piece o = {30.0, 0, 120.0, NULL, 0};
    float temperature = 1.0f;
    int c, li = -1;
    char *end;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:o:t:k:s:h", long_options, &li)) != -1) {
        const char *opt = cli_opt_name(c, long_options, li);
        li = -1;
        errno = 0;
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case O_DIR: dir = optarg; break;
        case O_PRIMER_MIDI: primer_midi = optarg; break;
        case O_PRIMER_PITCHES: primer_pitches = optarg; break;
        case O_WAV: wav = optarg; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        case O_LENGTH: {
            double v = strtod(optarg, &end);
            if (errno || end == optarg || !(v > 0) || (*end && strcmp(end, "s") != 0) || v > 1e6) {
                hostlog_usage("generate: --length is seconds (30s) or steps (512), not '%s'", optarg);
                return EXIT_USAGE;
            }
            if (*end == 's')
                o.seconds = v, o.steps = 0;
            else
                o.steps = (uint64_t)v;
            break;
        }
        case 't': case O_QPM: {
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || v < 0 || v > 1000 || (c == O_QPM && v < 1)) {
                hostlog_usage("generate: %s needs a number from %d to 1000, not '%s'", opt, c == O_QPM, optarg);
                return EXIT_USAGE;
            }
            if (c == 't')
                temperature = (float)v;
            else
                o.qpm = v;
            break;
        }
        case 'k': case 's': case O_NUM: case O_PROGRAM: {
            uint64_t v;
            uint32_t v32;
            if (c == O_PROGRAM || c == O_NUM) {
                if (cli_u32(&v32, optarg, opt, c == O_NUM, c == O_NUM ? 100000 : 127) != 0)
                    return EXIT_USAGE;
                v = v32;
            } else if (cli_u64(&v, optarg, opt) != 0) {
                return EXIT_USAGE;
            }
            *(c == 'k' ? &top_k : c == 's' ? &seed : c == O_NUM ? &num : &program) = v;
            break;
        }
        default: hostlog_usage("generate: unknown or incomplete option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc || !model || (!out && !num) || (out && num) || (primer_midi && primer_pitches)) {
        hostlog_usage("generate: needs -m MODEL and either -o FILE.mid or --num-outputs N%s",
                      primer_midi && primer_pitches ? " (and one primer at most)" : "");
        return EXIT_USAGE;
    }
    if (out && wav && strcmp(out, "-") == 0 && strcmp(wav, "-") == 0) {
        hostlog_usage("generate: -o - and --wav - would both write to standard output");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    host_model hm;
    model_spec spec;
    rh_weights *w = NULL;
    music_gen *g = NULL;
    note *primer = NULL;
    char path[4096], why[1024], err[512];
    int rc = EXIT_FAIL;
    memset(&hm, 0, sizeof hm);
    /* from here on, so that Ctrl-C while the model loads is also a clean stop (nothing written) */
    host_catch_interrupts();
    if (registry_init(&reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        return EXIT_FAIL;
    }
    if (model_resolve(path, sizeof path, model, why, sizeof why) != 0 ||
        model_open(&hm, &spec, &w, &reg, path, "midi-lm|pianoroll", why, sizeof why) != EXIT_OK) {
        hostlog_error("%s", why);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    const char *spq_s = rh_weights_meta(w, "rnnhost.steps_per_quarter");
    const uint32_t spq = spq_s && atoi(spq_s) >= 1 && atoi(spq_s) <= 16 ? (uint32_t)atoi(spq_s) : 1;
    rh_weights_close(w);
    if (strcmp(spec.task, "pianoroll") == 0) {
        rc = music_gen_frames(&g, &hm, spq, temperature, why, sizeof why);
    } else { /* midi-lm */
        host_model_destroy(&hm); /* the event generator opens its own */
        rc = music_gen_events(&g, &reg, path, temperature, (uint32_t)(top_k > EV_VOCAB ? EV_VOCAB : top_k), why,
                              sizeof why);
    }
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        goto done;
    }
    rc = EXIT_FAIL;

    if (primer_pitches && parse_pitches(&primer, &o.n_primer, primer_pitches) != 0) {
        hostlog_usage("generate: --primer-pitches needs MIDI pitches 0-127 separated by commas, not '%s'",
                      primer_pitches);
        rc = EXIT_USAGE;
        goto done;
    }
    if (primer_midi) {
        smf_file pf;
        if (smf_read(&pf, primer_midi, err, sizeof err) != 0) {
            hostlog_error("%s", err);
            goto done;
        }
        int ok = notes_from_smf(&primer, &o.n_primer, &pf) == 0;
        smf_free(&pf);
        if (!ok)
            goto done;
    }
    o.primer = primer;
    if (num && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        hostlog_error("cannot create %s: %s", dir, strerror(errno));
        goto done;
    }

    for (unsigned long long i = 0; i < (num ? num : 1); i++) {
        char file[4096];
        if (num)
            snprintf(file, sizeof file, "%s/gen_%03llu.mid", dir, i + 1);
        else
            snprintf(file, sizeof file, "%s", out);
        note *notes = NULL;
        size_t n = 0;
        int ok = music_gen_piece(g, seed + i, &o, &notes, &n) == 0;
        if (ok && host_interrupted && n == 0) { /* stopped before a note: no empty file to be taken for music */
            free(notes);
            fprintf(stderr, "rnnhost: interrupted before %s had a note; it is not written\n", file);
            rc = EXIT_INTERRUPTED;
            goto done;
        }
        smf_file f;
        memset(&f, 0, sizeof f);
        if (!ok || notes_to_smf(&f, notes, n, o.qpm, (uint8_t)program) != 0) {
            free(notes);
            hostlog_error("generation failed (a model error or out of memory)");
            goto done;
        }
        free(notes);
        if (smf_write(file, &f, 1, err, sizeof err) != 0) {
            smf_free(&f);
            hostlog_error("%s", err);
            goto done;
        }
        fprintf(stderr, "rnnhost: wrote %s (%zu notes)%s\n", output_name(file), n,
                host_interrupted ? "; interrupted" : "");
        ok = host_interrupted || !wav || i > 0 || render_wav(&f, wav, output_name(file)) == 0;
        smf_free(&f);
        if (host_interrupted) {
            rc = EXIT_INTERRUPTED;
            goto done;
        }
        if (!ok)
            goto done;
    }
    rc = EXIT_OK;
done:
    free(primer);
    music_gen_close(g);
    host_model_destroy(&hm);
    registry_free(&reg);
    return rc;
}
