/* rnnhost transcribe: speech to text for files and folders with a ctc model.
 *
 * The model is loaded once; files run -j at a time, one session each; outputs are written in input order
 * as soon as every earlier file is done, so what appears (and in what order) does not depend on -j. Each
 * output file is written atomically; a file that cannot be read is reported and the rest go on (exit 4).
 *
 * Under mpirun every rank lists the same inputs and checks them the same way, loads the model once and
 * takes one block of the files left to do (par_share): rank 0 the first, so its stream output comes first.
 * A rank writes its own output files; what goes to a stream (-o -, a FIFO) the other ranks hold and send to
 * rank 0 at the end, which writes it after its own, in input order. Rank 0 alone speaks for the whole run:
 * the usage lines, progress, the last lines and --summary, from every rank's counts and failures. The
 * ranks meet only where every one of them arrives: after the inputs are listed, after the model is loaded,
 * after each has done its share (or stopped on Ctrl-C), and every rank exits with rank 0's code. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "asreval.h"
#include "atomicfile.h"
#include "audio.h"
#include "bytebuf.h"
#include "commands.h"
#include "dirwalk.h"
#include "hostlog.h"
#include "interrupt.h"
#include "optgroups.h"
#include "par.h"
#include "progress.h"
#include "transcript.h"

/* The endings of the sound files a folder is searched for (files named on the command line are read whatever
 * their name). */
#define AUDIO_SUFFIXES \
    ".wav|.wave|.flac|.ogg|.oga|.opus|.aif|.aiff|.aifc|.au|.snd|.caf|.w64|.rf64|.mp3|.voc|.sf|.htk|.paf|.mat"

typedef struct transcribe_opts {
    const char *model, *formats, *out_dir, *output, *phrases, *summary;
    uint32_t jobs, beam;
    double chunk;
    int skip_existing, no_timestamps, quiet;
} transcribe_opts;

static const transcribe_opts defaults = {.formats = "txt", .jobs = 2, .beam = 1, .chunk = 30};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(transcribe_opts, model),
     .arg = "MODEL", .help = "a model file or preset name (e.g. digits)"},
    {.name = "jobs", .short_name = 'j', .kind = CLI_U32, .offset = offsetof(transcribe_opts, jobs), .arg = "N",
     .help = "files transcribed in parallel, 1-256", .min = 1, .max = 256},
    {.name = "output-format", .short_name = 'f', .kind = CLI_STRING, .offset = offsetof(transcribe_opts, formats),
     .arg = "LIST", .help = "comma-separated: txt, json, jsonl, srt, vtt"},
    {.name = "output-dir", .kind = CLI_STRING, .offset = offsetof(transcribe_opts, out_dir), .arg = "DIR",
     .help = "write DIR/NAME.EXT for each input (the folder structure below a given folder is kept)"},
    {.name = "output", .short_name = 'o', .kind = CLI_STRING, .offset = offsetof(transcribe_opts, output),
     .arg = "FILE|-",
     .help = "one output file, or '-' for stdout (one format only; '-', a FIFO or a device takes any number of "
             "inputs); without -o and --output-dir outputs go beside the inputs (NAME.EXT), and for stdin input "
             "to stdout"},
    {.name = "skip-existing", .kind = CLI_FLAG, .offset = offsetof(transcribe_opts, skip_existing),
     .help = "leave inputs whose outputs all exist (resume a batch)"},
    {.name = "no-timestamps", .kind = CLI_FLAG, .offset = offsetof(transcribe_opts, no_timestamps),
     .help = "JSON without segments and times (srt and vtt need times)"},
    {.name = "beam-size", .kind = CLI_U32, .offset = offsetof(transcribe_opts, beam), .arg = "N",
     .help = "prefix beam search with N prefixes, 1-4096; 1 is greedy", .min = 1, .max = 4096},
    {.name = "phrases", .kind = CLI_STRING, .offset = offsetof(transcribe_opts, phrases), .arg = "FILE",
     .help = "only these phrases (one per line) may be the answer; a recording whose best phrase is far less "
             "likely (e^-5) than the best answer overall is rejected: an empty transcript"},
    {.name = "chunk-seconds", .kind = CLI_NUMBER, .offset = offsetof(transcribe_opts, chunk), .arg = "S",
     .help = "long recordings are decoded in chunks of at most S seconds, cut in pauses, 1-600", .min = 1,
     .max = 600},
    {.name = "summary", .kind = CLI_STRING, .offset = offsetof(transcribe_opts, summary), .arg = "FILE|-",
     .help = "a JSON summary: counts, failures with reasons, speed"},
    {.name = "quiet", .short_name = 'q', .kind = CLI_FLAG, .offset = offsetof(transcribe_opts, quiet),
     .help = "no progress on stderr"},
    {0},
};
static const cli_section section = {NULL, options};

static void usage(FILE *f, const cli_group *groups, size_t n)
{
    fprintf(f,
            "usage: rnnhost transcribe -m MODEL [OPTIONS] FILE|DIR|- ...\n"
            "\n"
            "Speech to text with a speech (ctc) model. Folders are searched recursively for sound files\n"
            "(wav, flac, ogg, aiff, ...); '-' reads one sound file from stdin. Input that cannot seek (a pipe,\n"
            "a FIFO) is read whole into memory first, at most %zu MB.\n"
            "\n"
            "An output is named after its input without the extension (a.wav -> a.txt). Inputs that differ\n"
            "only in extension keep it (a.wav.txt, a.flac.txt); inputs that would still write the same output\n"
            "(one file twice, two folders' e01.wav into one --output-dir) are refused, naming both (exit 2).\n"
            "A file is written atomically, a link is written through, a FIFO or device is a stream.\n"
            "\n"
            "Under mpirun -np N the files are dealt out in blocks to N processes, each writing its own\n"
            "outputs; rank 0 writes a stream (-o -) in input order, the progress, the last lines and\n"
            "--summary for all, and every process exits with rank 0's code. '-' is refused there.\n"
            "\n",
            AUDIO_STREAM_MAX >> 20);
    cli_help(f, groups, n);
    fprintf(f, "\n"
               "Exit codes: 0 all transcribed, 1 nothing could be transcribed and written, 2 usage, 3 model not\n"
               "loadable, 4 some files failed or could not be written (the others are written), 130 interrupted\n"
               "(files finished so far are written).\n");
}
static const cli_page page = {.print = usage};

typedef struct job {
    char *path;    /* to read */
    char *stem;    /* output name without extension: beside the input or under --output-dir */
    int skipped;   /* --skip-existing found its outputs */
} job;

typedef struct run {
    job *jobs;
    size_t n, cap;
    const char *out_dir, *output;
    unsigned formats;
    int timestamps, skip_existing, quiet;
    /* Results live only while their window of files runs: a result is over half a kilobyte, and a
     * folder of 100,000 files should not hold them all. Failures are copied out for the summary. */
    tx_result *results; /* (window) results[k] is file base + k */
    size_t base, window;
    const char **paths; /* of the jobs transcribed */
    size_t *which;      /* index among them -> job index */
    size_t n_todo, next_write, done, failed, written_failed;
    unsigned char *finished;         /* (n_todo) 0 not (yet) done, else DONE_OK, DONE_FAILED, DONE_UNWRITTEN */
    size_t unwritten;                /* files transcribed whose outputs could not all be written */
    char **fail_file, **fail_error; /* (n_todo) for each file that failed either way, the file and why */
    size_t first, end;               /* this rank's share of the files to do: [first, end) */
    int ranks, lead;                 /* how many; this one is rank 0, which speaks for all */
    bytebuf held;                    /* (ranks other than 0) stream output, sent to rank 0 at the end */
    int write_error;                /* an output shared by the run (the stream, --summary) failed */
    int sink_failed;                /* the stream failed: later files are not tried on it, only counted */
    double audio, start, last_print;
    int output_stream; /* -o names a stream ('-', /dev/stdout, a FIFO, ...): every transcript goes there */
    atomic_out sink;   /* that stream, or stdout for stdin input without -o or --output-dir; open for the run */
} run;

enum { DONE_OK = 1, DONE_FAILED, DONE_UNWRITTEN };

/* A usage line, or an error line, about what every rank sees alike (the options, the inputs): rank 0 says
 * it, once. */
static void lead_usage(const char *fmt, ...) HOST_PRINTF(1, 2);
static void lead_usage(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (par_rank() != 0)
        return;
    va_start(ap, fmt);
    host_vfmt(line, sizeof line, fmt, ap);
    va_end(ap);
    hostlog_usage("%s", line);
}

static void lead_error(const char *fmt, ...) HOST_PRINTF(1, 2);
static void lead_error(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (par_rank() != 0)
        return;
    va_start(ap, fmt);
    host_vfmt(line, sizeof line, fmt, ap);
    va_end(ap);
    hostlog_error("%s", line);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* path without its extension (the last '.' after the last '/'). */
static char *strip_ext(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t len = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path) : strlen(path);
    return strndup(path, len);
}

static int add_job(run *r, const char *path, const char *rel)
{
    if (r->n == r->cap) {
        size_t c = r->cap ? r->cap * 2 : 64;
        job *g = realloc(r->jobs, c * sizeof *g);
        if (!g)
            return -1;
        r->jobs = g, r->cap = c;
    }
    job *j = &r->jobs[r->n];
    memset(j, 0, sizeof *j);
    if (!(j->path = strdup(path)))
        return -1;
    if (strcmp(path, "-") == 0) {
        j->stem = strdup(r->out_dir ? "stdin" : "-");
    } else if (r->out_dir) {
        char *s = strip_ext(rel);
        size_t len = strlen(r->out_dir) + strlen(s ? s : "") + 2;
        j->stem = s ? malloc(len) : NULL;
        if (j->stem)
            snprintf(j->stem, len, "%s/%s", r->out_dir, s);
        free(s);
    } else {
        j->stem = strip_ext(path);
    }
    if (!j->stem) {
        free(j->path);
        return -1;
    }
    r->n++;
    return 0;
}

/* Sound files below a folder, by name in each folder, down to 64 levels (links to folders are followed, so a
 * cycle must end somewhere); a folder that cannot be read stops the run rather than quietly shrinking it. */
static const dir_walk_options sound_walk = {
    .recurse = 1, .max_depth = 64, .suffixes = AUDIO_SUFFIXES, .suffix_nocase = 1, .strict_folders = 1,
};

/* A sound file found in a folder becomes a job; its name below the folder is kept for --output-dir. 0, or
 * 1 when memory runs out (dir_walk's own failures are -1). */
static int add_found(void *ctx, const dir_entry *e)
{
    return add_job(ctx, e->path, e->rel) == 0 ? 0 : 1;
}

/* The job's outputs go to the run's stream rather than to files of their own. */
static int to_stream(const run *r, const job *j)
{
    return r->output ? r->output_stream : !r->out_dir && strcmp(j->path, "-") == 0;
}

/* The extension of the first of the formats (for messages). */
static const char *first_extension(unsigned formats)
{
    unsigned fmt = 1;
    while (fmt < TX_VTT && !(formats & fmt))
        fmt <<= 1;
    return tx_extension(fmt);
}

/* What two outputs collide on: the stem, its folder made canonical when it exists (so "d/a" and "d/./a"
 * meet). malloc'd; NULL when out of memory. */
static char *stem_key(const char *stem)
{
    char *dir = path_dir(stem), *real = dir ? realpath(dir, NULL) : NULL, *key;
    const char *base = strrchr(stem, '/');
    base = base ? base + 1 : stem;
    if (real) {
        const size_t len = strlen(real) + strlen(base) + 2;
        if ((key = malloc(len)))
            snprintf(key, len, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    } else {
        key = strdup(stem);
    }
    free(dir), free(real);
    return key;
}

typedef struct stem_ref {
    char *key;
    size_t job;
} stem_ref;

static int cmp_ref(const void *a, const void *b)
{
    const stem_ref *x = a, *y = b;
    const int c = strcmp(x->key, y->key);
    return c ? c : (x->job > y->job) - (x->job < y->job);
}

/* The jobs that write files, sorted by stem_key; NULL when out of memory (*n is then 0). */
static stem_ref *stem_refs(const run *r, size_t *n)
{
    stem_ref *refs = calloc(r->n + 1, sizeof *refs);
    *n = 0;
    for (size_t i = 0; refs && i < r->n; i++) {
        if (to_stream(r, &r->jobs[i]))
            continue;
        if (!(refs[*n].key = stem_key(r->jobs[i].stem))) {
            for (size_t k = 0; k < *n; k++)
                free(refs[k].key);
            free(refs);
            *n = 0;
            return NULL;
        }
        refs[(*n)++].job = i;
    }
    if (refs)
        qsort(refs, *n, sizeof *refs, cmp_ref);
    return refs;
}

static void refs_free(stem_ref *refs, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(refs[k].key);
    free(refs);
}

/* Two inputs would write the same outputs: a usage line naming both. */
static void collision(const run *r, const job *x, const job *y)
{
    lead_usage("transcribe: %s and %s would both write %s.%s (an output never replaces another input's): "
                  "give them different --output-dir folders, or rename one", x->path, y->path, x->stem,
                  first_extension(r->formats));
}

/* The extension of the input (".wav"), or "" without one. */
static const char *input_ext(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash + 1) ? dot : "";
}

/* No input's outputs may overwrite another's. Inputs whose outputs would share a name but whose own
 * extensions differ keep their extension in it (a.wav and a.flac write a.wav.txt and a.flac.txt); inputs
 * that collide otherwise (one file given twice, or two folders holding e01.wav with one --output-dir) are
 * a usage error naming both. 0, -1 after the usage line, -2 when out of memory. */
static int outputs_apart(run *r)
{
    size_t n;
    stem_ref *refs = stem_refs(r, &n);
    int rc = 0;
    if (!refs)
        return -2;
    for (size_t a = 0, b; a < n && rc == 0; a = b) {
        for (b = a + 1; b < n && strcmp(refs[b].key, refs[a].key) == 0; b++)
            ;
        for (size_t k = a; k < b && rc == 0; k++) /* the extension tells them apart only if it differs */
            for (size_t m = a; m < k && rc == 0; m++)
                if (strcmp(input_ext(r->jobs[refs[k].job].path), input_ext(r->jobs[refs[m].job].path)) == 0) {
                    collision(r, &r->jobs[refs[m].job], &r->jobs[refs[k].job]);
                    rc = -1;
                }
        for (size_t k = a; k < b && b - a > 1 && rc == 0; k++) {
            job *j = &r->jobs[refs[k].job];
            const char *ext = input_ext(j->path);
            const size_t len = strlen(j->stem) + strlen(ext) + 1;
            char *stem = malloc(len);
            if (!stem) {
                rc = -2;
                break;
            }
            snprintf(stem, len, "%s%s", j->stem, ext);
            free(j->stem);
            j->stem = stem;
        }
        if (rc == 0 && b - a > 1 && !r->quiet)
            hostlog_info("%s and %zu more input%s differ only in extension; each output keeps its input's (%s.%s)",
                         r->jobs[refs[a].job].path, b - a - 1, b - a > 2 ? "s" : "", r->jobs[refs[a].job].stem,
                         first_extension(r->formats));
    }
    refs_free(refs, n);
    if (rc != 0)
        return rc;
    /* a kept extension may meet another input's name (a.wav beside a.wav.wav) */
    if (!(refs = stem_refs(r, &n)))
        return -2;
    for (size_t k = 1; k < n && rc == 0; k++)
        if (strcmp(refs[k].key, refs[k - 1].key) == 0) {
            collision(r, &r->jobs[refs[k - 1].job], &r->jobs[refs[k].job]);
            rc = -1;
        }
    refs_free(refs, n);
    return rc;
}

static int mkdirs_for(const char *file)
{
    char *d = strdup(file);
    if (!d)
        return -1;
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(d, 0777) != 0 && errno != EEXIST) {
            free(d);
            return -1;
        }
        *p = '/';
    }
    free(d);
    return 0;
}

static char *out_path(const run *r, const job *j, unsigned fmt)
{
    if (r->output)
        return strdup(r->output);
    size_t len = strlen(j->stem) + 8;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s.%s", j->stem, tx_extension(fmt));
    return p;
}

/* Before a message, the progress line left open on a terminal (print_progress) is cleared, so the message
 * stands on a line of its own. */
static void clear_progress(const run *r)
{
    if (!r->quiet && isatty(2))
        fputs("\r\033[K", stderr);
}

/* Notes that file k's outputs are not all written: the first reason, in the list of failures. */
static void lost_output(run *r, size_t k, const char *why)
{
    r->unwritten++;
    r->finished[k] = DONE_UNWRITTEN;
    r->fail_file[k] = strdup(r->paths[k]);
    r->fail_error[k] = strdup(why);
}

/* Writes every output of file k (the job which[k]), whose result is in the window. A file whose outputs
 * cannot all be written is counted apart from those that could not be transcribed, never as done. */
static void write_result(run *r, size_t k)
{
    const tx_result *res = &r->results[k - r->base];
    const job *j = &r->jobs[r->which[k]];
    char err[1024], first[1024] = "";
    for (unsigned fmt = 1; fmt <= TX_VTT; fmt <<= 1) {
        if (!(r->formats & fmt))
            continue;
        size_t len;
        if (res->failed && !(fmt & (TX_JSON | TX_JSONL)))
            continue; /* a failed file leaves no empty transcript behind to be mistaken for silence */
        if (res->failed && !to_stream(r, j))
            continue; /* ... nor a file: --skip-existing will try it again */
        if (to_stream(r, j) && r->sink_failed) {
            host_fmt(first, sizeof first, "%s: not written, the output failed before", r->sink.path);
            continue;
        }
        char *s = tx_render(res, fmt, r->timestamps, &len);
        err[0] = '\0';
        if (!s) {
            host_fmt(err, sizeof err, "%s: out of memory", j->path);
        } else if (to_stream(r, j) && !r->lead) {
            bytebuf_put(&r->held, s, len);
            if (r->held.failed)
                host_fmt(err, sizeof err, "%s: out of memory holding its transcript for rank 0", j->path);
        } else if (to_stream(r, j)) {
            if (fwrite(s, 1, len, r->sink.f) != len || fflush(r->sink.f) != 0) {
                host_fmt(err, sizeof err, "%s: cannot write: %s", r->sink.path, strerror(errno));
                r->sink_failed = r->write_error = 1;
            }
        } else {
            char *p = out_path(r, j, fmt);
            if (!p)
                host_fmt(err, sizeof err, "out of memory");
            else if (mkdirs_for(p) != 0)
                host_fmt(err, sizeof err, "%s: cannot create its folder: %s", p, strerror(errno));
            else
                write_file_atomic(p, s, len, err, sizeof err);
            free(p);
        }
        free(s);
        if (err[0]) {
            clear_progress(r);
            hostlog_error("%s", err);
            if (!first[0])
                host_fmt(first, sizeof first, "%s", err);
        }
    }
    if (first[0] && !res->failed)
        lost_output(r, k, first);
}

static void print_progress(run *r, int final)
{
    if (r->quiet)
        return;
    double now = now_seconds(), wall = now - r->start;
    if (!final && now - r->last_print < (isatty(2) ? 0.2 : 5.0))
        return;
    r->last_print = now;
    /* Progress, not a diagnostic: on a terminal the line is redrawn in place and left open, which hostlog's
     * whole lines cannot do; elsewhere it is one line like theirs, written at once (under mpirun a launcher
     * passes on each write). Rank 0 counts its own share as it goes, and every rank's in the last line. */
    char line[512];
    size_t len = 0;
#define ADD(...) (len += (size_t)snprintf(line + len, len < sizeof line ? sizeof line - len : 0, __VA_ARGS__))
    ADD("%srnnhost: %zu/%zu files", isatty(2) ? "\r\033[K" : "", r->done,
        final || r->ranks == 1 ? r->n_todo : r->end - r->first);
    if (!final && r->ranks > 1)
        ADD(" on rank 0 of %d", r->ranks);
    ADD(" | %.1f s of audio | %.0fx real time", r->audio, wall > 0 ? r->audio / wall : 0.0);
    if (r->failed)
        ADD(" | %zu failed", r->failed);
    if (r->unwritten)
        ADD(" | %zu not written", r->unwritten);
    ADD("%s", isatty(2) && !final ? "" : "\n");
#undef ADD
    fputs(line, stderr);
}

/* Called as each file finishes: report failures, write everything now in order, free what is written. */
static void on_done(void *ctx, size_t i)
{
    run *r = ctx;
    const tx_result *res = &r->results[i];
    const size_t k = r->base + i;
    r->finished[k] = DONE_OK;
    r->done++;
    if (res->failed) {
        clear_progress(r);
        hostlog_error("%s", res->error);
        r->finished[k] = DONE_FAILED;
        r->fail_file[k] = strdup(res->file ? res->file : r->paths[k]);
        r->fail_error[k] = strdup(res->error);
        r->failed++;
    } else {
        r->audio += res->duration;
    }
    while (r->next_write < r->base + r->window && r->next_write < r->end && r->finished[r->next_write]) {
        write_result(r, r->next_write);
        tx_result_free(&r->results[r->next_write - r->base]);
        r->next_write++;
    }
    print_progress(r, 0);
}

static int write_summary(const run *r, const char *path, double wall, int interrupted)
{
    cJSON *j = cJSON_CreateObject(), *failed = NULL;
    char err[1024];
    if (!j)
        return -1;
    cJSON_AddNumberToObject(j, "version", TX_SCHEMA_VERSION);
    cJSON_AddNumberToObject(j, "schema", TX_SCHEMA_VERSION);
    cJSON_AddNumberToObject(j, "files", (double)r->n);
    cJSON_AddNumberToObject(j, "transcribed", (double)(r->done - r->failed - r->unwritten));
    cJSON_AddNumberToObject(j, "not_written", (double)r->unwritten);
    cJSON_AddNumberToObject(j, "skipped", (double)(r->n - r->n_todo));
    cJSON_AddBoolToObject(j, "interrupted", interrupted);
    cJSON_AddNumberToObject(j, "audio_seconds", r->audio);
    cJSON_AddNumberToObject(j, "wall_seconds", wall);
    /* real_time_factor (version 1) is audio over wall time, "times faster than real time", the inverse of
     * the usual meaning; rtf is the usual one (processing time over audio time, below 1 is faster) */
    cJSON_AddNumberToObject(j, "real_time_factor", wall > 0 ? r->audio / wall : 0);
    cJSON_AddNumberToObject(j, "speed_vs_real_time", wall > 0 ? r->audio / wall : 0);
    cJSON_AddNumberToObject(j, "rtf", r->audio > 0 ? wall / r->audio : 0);
    failed = cJSON_AddArrayToObject(j, "failed");
    for (size_t k = 0; k < r->n_todo; k++) { /* in input order, whatever -j and the ranks */
        if (r->finished[k] != DONE_FAILED && r->finished[k] != DONE_UNWRITTEN)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", r->fail_file[k] ? r->fail_file[k] : "");
        cJSON_AddStringToObject(o, "error", r->fail_error[k] ? r->fail_error[k] : "out of memory");
        cJSON_AddItemToArray(failed, o);
    }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s)
        return -1;
    size_t len = strlen(s);
    s[len] = '\0';
    char *withnl = malloc(len + 2);
    int rc = -1;
    if (withnl) {
        memcpy(withnl, s, len);
        withnl[len] = '\n';
        rc = write_file_atomic(path, withnl, len + 1, err, sizeof err);
        if (rc != 0)
            hostlog_error("%s", err);
    }
    free(withnl);
    free(s);
    return rc;
}

/* The inputs as jobs, their output names checked, the memory for the run, and which files are left to do
 * (--skip-existing). 0, or the exit code after one line (said by rank 0 alone when every rank would say it). */
static int list_inputs(run *r, char **args, int n_args, size_t window)
{
    for (int i = 0; i < n_args; i++) {
        struct stat st;
        const char *a = args[i];
        if (strcmp(a, "-") != 0 && stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
            size_t before = r->n;
            char *trimmed = strdup(a);
            if (!trimmed)
                goto oom;
            for (size_t k = strlen(trimmed); k > 1 && trimmed[k - 1] == '/'; k--)
                trimmed[k - 1] = '\0';
            char why_dir[1024];
            const int arc = dir_walk(trimmed, &sound_walk, add_found, r, why_dir, sizeof why_dir);
            free(trimmed);
            if (arc == -1) {
                lead_error("%s", why_dir);
                return EXIT_FAIL;
            }
            if (arc != 0)
                goto oom;
            if (r->n == before && r->lead)
                hostlog_info("%s: no sound files in this folder", a);
        } else {
            /* a missing or unreadable file is a failed file of the batch, reported like any other */
            const char *slash = strrchr(a, '/');
            if (add_job(r, a, slash ? slash + 1 : a) != 0)
                goto oom;
        }
    }
    if (r->n == 0) {
        lead_error("nothing to transcribe");
        return EXIT_FAIL;
    }
    r->output_stream = r->output && output_is_stream(r->output);
    if (r->output && !r->output_stream && r->n > 1) {
        lead_usage("-o FILE takes one input; use --output-dir or -o - for %zu", r->n);
        return EXIT_USAGE;
    }
    if (!r->output) {
        const int apart = outputs_apart(r);
        if (apart == -2)
            goto oom;
        if (apart != 0)
            return EXIT_USAGE;
    }

    /* a window of many files per job, so the pause at each window's end (the slowest file of it) is rare */
    r->results = calloc(r->n < window ? r->n : window, sizeof *r->results);
    r->paths = calloc(r->n, sizeof *r->paths);
    r->which = calloc(r->n, sizeof *r->which);
    r->finished = calloc(r->n, 1);
    r->fail_file = calloc(r->n, sizeof *r->fail_file);
    r->fail_error = calloc(r->n, sizeof *r->fail_error);
    if (!r->results || !r->paths || !r->which || !r->finished || !r->fail_file || !r->fail_error)
        goto oom;
    /* before any rank writes anything (the ranks meet next), so every rank finds the same outputs */
    for (size_t i = 0; i < r->n; i++) {
        job *j = &r->jobs[i];
        if (r->skip_existing && !to_stream(r, j)) {
            int all = 1;
            for (unsigned fmt = 1; fmt <= TX_VTT && all; fmt <<= 1)
                if (r->formats & fmt) {
                    char *p = out_path(r, j, fmt);
                    all = p && access(p, F_OK) == 0;
                    free(p);
                }
            if (all) {
                j->skipped = 1;
                continue;
            }
        }
        r->paths[r->n_todo] = j->path;
        r->which[r->n_todo++] = i;
    }
    if (!r->quiet && r->n_todo < r->n)
        hostlog_info("%zu of %zu files already have their outputs (--skip-existing)", r->n - r->n_todo, r->n);
    return 0;
oom:
    hostlog_error("out of memory");
    return EXIT_FAIL;
}

static void hash_bytes(uint64_t *h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) /* FNV-1a */
        *h = (*h ^ ((const unsigned char *)p)[i]) * 0x100000001b3u;
}

/* The jobs as this rank sees them: the inputs, their output names and what is left to do. */
static uint64_t jobs_hash(const run *r)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < r->n; i++) {
        const job *j = &r->jobs[i];
        hash_bytes(&h, j->path, strlen(j->path) + 1);
        hash_bytes(&h, j->stem, strlen(j->stem) + 1);
        hash_bytes(&h, &j->skipped, sizeof j->skipped);
    }
    return h;
}

/* The ranks meet after listing the inputs: each has the same jobs (the same folders seen alike) and the
 * same verdict, or none goes on. The exit code every rank returns, 0 to go on. */
static int agree_inputs(const run *r, int rc)
{
    const int ranks = par_size();
    if (ranks == 1)
        return rc;
    const uint64_t mine[3] = {(uint64_t)rc, r->n, rc == 0 ? jobs_hash(r) : 0};
    uint64_t *all = malloc(3 * (size_t)ranks * sizeof *all);
    if (!all) {
        hostlog_error("out of memory");
        exit(EXIT_FAIL); /* the launcher ends the other ranks */
    }
    par_all_gather_u64(mine, all, 3);
    for (int k = 1; k < ranks; k++)
        if (memcmp(all + 3 * k, all, sizeof mine) != 0) {
            lead_error("rank %d did not find the inputs rank 0 found (%" PRIu64 " files against %" PRIu64
                       ", or other names or outputs): every rank must see the same files and folders",
                       k, all[3 * k + 1], all[1]);
            rc = EXIT_FAIL;
            break;
        }
    free(all);
    return rc;
}

/* The ranks meet after loading the model: status is this rank's exit code so far (0 when it is ready) and
 * why its line. Every rank returns the worst code; the lowest rank that failed says why, once. */
static int agree_setup(int status, const char *why)
{
    const int ranks = par_size(), rank = par_rank();
    double v[2] = {status, status ? (double)(ranks - rank) : 0};
    par_max_f64(v, 2);
    if (status && v[1] == (double)(ranks - rank))
        hostlog_error("%s", why);
    return (int)v[0];
}

/* Files [from, to) went to the stream after it failed: those transcribed are not written, the first for
 * the reason why (when given), the others because the stream had failed before, as in one process. */
static void stream_lost(run *r, size_t from, size_t to, const char *why)
{
    char reason[1024];
    for (size_t k = from; k < to; k++)
        if (r->finished[k] == DONE_OK) {
            if (why)
                host_fmt(reason, sizeof reason, "%s", why);
            else
                host_fmt(reason, sizeof reason, "%s: not written, the output failed before", r->sink.path);
            lost_output(r, k, reason);
            why = NULL;
        }
}

/* After its share, each rank sends rank 0 its stream output and which of its files finished, failed or
 * could not be written (and why). Rank 0 writes their stream output after its own, rank by rank: input
 * order. Every rank calls this. */
static void gather_results(run *r)
{
    if (r->ranks == 1)
        return;
    bytebuf b = {0};
    const uint64_t held = r->held.failed ? 0 : r->held.len;
    bytebuf_put(&b, &held, sizeof held);
    bytebuf_put(&b, r->held.data, (size_t)held);
    for (size_t k = r->first; k < r->end && !r->lead; k++) {
        if (!r->finished[k])
            continue;
        const uint64_t at = k;
        bytebuf_put(&b, &at, sizeof at);
        bytebuf_put(&b, &r->finished[k], 1);
        if (r->finished[k] != DONE_OK) {
            const char *file = r->fail_file[k] ? r->fail_file[k] : "", *error = r->fail_error[k];
            bytebuf_put(&b, file, strlen(file) + 1);
            bytebuf_put(&b, error ? error : "out of memory", strlen(error ? error : "out of memory") + 1);
        }
    }
    if (b.failed) { /* what rank 0 cannot be told is not written */
        hostlog_error("out of memory");
        r->write_error = 1;
        b.len = 0;
    }
    uint64_t *count = calloc((size_t)r->ranks, sizeof *count);
    if (!count) {
        hostlog_error("out of memory");
        exit(EXIT_FAIL); /* the launcher ends the other ranks */
    }
    char *all = par_gather_bytes(b.data, r->lead ? 0 : b.len, count, 0);
    bytebuf_free(&b);
    const char *at = all;
    for (int rank = 1; r->lead && rank < r->ranks; rank++) {
        const char *end = at + count[rank];
        uint64_t len = 0, first, n;
        par_share(r->n_todo, rank, r->ranks, &first, &n);
        if (count[rank] >= sizeof len)
            memcpy(&len, at, sizeof len);
        const char *stream = at + sizeof len;
        for (const char *p = stream + len; p + sizeof(uint64_t) + 1 <= end;) {
            uint64_t k;
            memcpy(&k, p, sizeof k);
            const unsigned char state = (unsigned char)p[sizeof k];
            p += sizeof k + 1;
            if (k < first || k >= first + n)
                break; /* cannot be: the same program on every rank */
            r->finished[k] = state;
            if (state != DONE_OK) {
                const size_t file_len = strlen(p), error_len = strlen(p + file_len + 1);
                r->fail_file[k] = strdup(p);
                r->fail_error[k] = strdup(p + file_len + 1);
                p += file_len + error_len + 2;
            }
        }
        if (!r->output_stream)
            ;
        else if (r->sink_failed)
            stream_lost(r, first, first + n, NULL);
        else if (len && (fwrite(stream, 1, len, r->sink.f) != len || fflush(r->sink.f) != 0)) {
            char err[1024];
            host_fmt(err, sizeof err, "%s: cannot write: %s", r->sink.path, strerror(errno));
            clear_progress(r);
            hostlog_error("%s", err);
            r->sink_failed = r->write_error = 1;
            stream_lost(r, first, first + n, err);
        }
        at = end;
    }
    free(all);
    free(count);
}

/* Rank 0's last lines and --summary, over every rank's counts; the run's exit code. */
static int conclude(run *r, const char *summary, double wall, int interrupted)
{
    if (r->n_todo)
        print_progress(r, 1);
    if (summary && write_summary(r, summary, wall, interrupted) != 0)
        r->write_error = 1;
    const size_t lost = r->failed + r->unwritten;
    if (interrupted) {
        hostlog_error("interrupted: %zu of %zu files done and written; --skip-existing continues", r->done - lost,
                      r->n_todo);
        return EXIT_INTERRUPTED;
    }
    if (!lost)
        return r->write_error ? EXIT_FAIL : EXIT_OK;
    if (!r->quiet) {
        char what[256] = "";
        if (r->failed)
            host_fmt(what, sizeof what, "%zu of %zu files could not be transcribed", r->failed, r->n_todo);
        if (r->unwritten)
            host_fmt(what + strlen(what), sizeof what - strlen(what), "%s%zu of %zu files could not be written",
                     r->failed ? "; " : "", r->unwritten, r->n_todo);
        hostlog_error("%s%s", what, lost < r->n_todo ? " (the others are written)" : "");
    }
    return r->write_error || lost == r->n_todo ? EXIT_FAIL : EXIT_PARTIAL;
}

int cmd_transcribe(int argc, char **argv)
{
    transcribe_opts o;
    opt_plugin plugin;
    cli_group groups[] = {
        {&section, &o, &defaults, 0, 0},
        OPT_GROUP(opt_plugin_section, &plugin, &opt_plugin_defaults),
    };
    int first;
    const int started = cli_start(groups, CLI_COUNT(groups), argc, argv, &first, &page);
    if (started >= 0)
        return started;
    if (par_start(&argc, &argv) != 0)
        return EXIT_FAIL;
    /* from here on every rank decides alike (the same arguments) and rank 0 alone says so */
    const char *model = o.model, *phrases = o.phrases, *summary = o.summary;
    run r;
    memset(&r, 0, sizeof r);
    r.out_dir = o.out_dir, r.output = o.output;
    r.ranks = par_size(), r.lead = par_rank() == 0;
    r.skip_existing = o.skip_existing, r.timestamps = !o.no_timestamps, r.quiet = o.quiet || !r.lead;
    char bad[64];
    if (tx_parse_formats(&r.formats, o.formats, bad, sizeof bad) != 0) {
        lead_usage("--output-format: '%s' is not txt, json, jsonl, srt or vtt", bad);
        return EXIT_USAGE;
    }
    if (!model || first >= argc) {
        lead_usage("transcribe: -m MODEL and at least one FILE, DIR or - are required");
        return EXIT_USAGE;
    }
    if (!r.timestamps && (r.formats & (TX_SRT | TX_VTT))) {
        lead_usage("--no-timestamps: srt and vtt subtitles are made of timestamps");
        return EXIT_USAGE;
    }
    if (r.output && r.out_dir) {
        lead_usage("-o and --output-dir exclude each other");
        return EXIT_USAGE;
    }
    if (r.output && (r.formats & (r.formats - 1))) {
        lead_usage("-o writes one format; use --output-dir for several");
        return EXIT_USAGE;
    }
    int stdin_inputs = 0;
    for (int i = first; i < argc; i++)
        stdin_inputs += strcmp(argv[i], "-") == 0;
    if (stdin_inputs > 1) {
        lead_usage("'-' (stdin) can be given once");
        return EXIT_USAGE;
    }
    if (stdin_inputs && r.ranks > 1) {
        lead_usage("'-' (stdin): under mpirun standard input reaches rank 0 alone; give files or folders");
        return EXIT_USAGE;
    }
    if (summary && strcmp(summary, "-") == 0 &&
        (r.output ? strcmp(r.output, "-") == 0 : !r.out_dir && stdin_inputs)) {
        lead_usage("--summary - and the transcripts would both go to standard output");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    asr_model m;
    rh_ctc_phrases ph = {0};
    memset(&m, 0, sizeof m);
    memset(&reg, 0, sizeof reg);
    int have_reg = 0;
    const size_t window = (size_t)o.jobs * 128;
    int rc = agree_inputs(&r, list_inputs(&r, argv + first, argc - first, window));
    if (rc != 0)
        goto done;

    /* the model, on every rank */
    char path[4096], why[1024] = "";
    int status = EXIT_OK;
    if (registry_init(&reg, plugin.path) != 0) {
        host_fmt(why, sizeof why, "cannot set up the plugin search path");
        status = EXIT_FAIL;
    } else if (!(have_reg = 1) || model_resolve(path, sizeof path, model, why, sizeof why) != 0 ||
               asr_open(&m, &reg, path, why, sizeof why) != EXIT_OK) {
        status = EXIT_LOAD;
    } else if (phrases && asr_phrases_read(&ph, &m, phrases, why, sizeof why) != 0) {
        status = EXIT_FAIL;
    } else if (r.lead && (r.output_stream || (!r.output && !r.out_dir && stdin_inputs)) &&
               atomic_out_open(&r.sink, r.output ? r.output : "-", why, sizeof why) != 0) {
        /* one stream for the whole run: a FIFO's reader sees one end, after the last transcript */
        status = EXIT_FAIL;
    }
    if ((rc = agree_setup(status, why)) != 0)
        goto done;

    /* this rank's share */
    uint64_t share_first, share_n;
    par_share(r.n_todo, par_rank(), r.ranks, &share_first, &share_n);
    r.first = r.next_write = (size_t)share_first;
    r.end = (size_t)(share_first + share_n);
    host_catch_interrupts();
    r.start = r.last_print = now_seconds();
    asr_decode_opts dec = {o.beam, phrases ? &ph : NULL, o.chunk, 0};
    int broken = 0; /* a session could not be made */
    for (r.base = r.first; r.base < r.end && !host_interrupted; r.base += r.window) {
        r.window = r.end - r.base < window ? r.end - r.base : window;
        if (asr_run_files(r.results, r.paths + r.base, r.window, &m, &dec, (int)o.jobs, on_done, &r, &host_interrupted,
                          why, sizeof why) != 0) {
            hostlog_error("%s", why);
            broken = 1;
            break;
        }
        for (size_t k = 0; k < r.window; k++) /* those an interruption left unwritten */
            tx_result_free(&r.results[k]);
    }
    double wall = now_seconds() - r.start;

    /* every rank's results to rank 0, and every rank's counts to all */
    gather_results(&r);
    double sums[4] = {(double)r.done, (double)r.failed, (double)r.unwritten, r.audio};
    double maxes[4] = {wall, host_interrupted != 0, r.write_error, broken};
    par_sum_f64(sums, 4);
    par_max_f64(maxes, 4);
    r.done = (size_t)sums[0], r.failed = (size_t)sums[1], r.unwritten = (size_t)sums[2], r.audio = sums[3];
    wall = maxes[0], r.write_error = maxes[2] != 0, broken = maxes[3] != 0;
    if (r.sink_failed || broken) /* said once already */
        atomic_out_abort(&r.sink);
    else if (r.sink.f && atomic_out_commit(&r.sink, why, sizeof why) != 0) {
        hostlog_error("%s", why);
        r.write_error = 1;
    }
    int32_t code = EXIT_FAIL; /* a session could not be made: said, nothing else is */
    if (r.lead && !broken)
        code = conclude(&r, summary, wall, maxes[1] != 0);
    par_broadcast(&code, sizeof code, 0);
    rc = code;
done:
    atomic_out_abort(&r.sink);
    for (size_t i = 0; r.results && i < r.window; i++)
        tx_result_free(&r.results[i]);
    for (size_t i = 0; r.fail_file && i < r.n_todo; i++)
        free(r.fail_file[i]), free(r.fail_error[i]);
    free(r.fail_file), free(r.fail_error);
    for (size_t i = 0; i < r.n; i++)
        free(r.jobs[i].path), free(r.jobs[i].stem);
    free(r.jobs), free(r.results), free(r.paths), free(r.which), free(r.finished);
    bytebuf_free(&r.held);
    asr_phrases_free(&ph);
    asr_close(&m);
    if (have_reg)
        registry_free(&reg);
    return rc;
}
