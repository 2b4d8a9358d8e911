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
#include "transcribe.h"
#include "transcript.h"

typedef struct transcribe_opts {
    const char *model, *formats, *out_dir, *output, *phrases, *summary;
    uint32_t jobs, beam;
    double chunk, min_pause, reject_below;
    int vad; /* the index in vad_names: 0 energy, 1 off */
    int skip_existing, no_timestamps, quiet;
    opt_plugin plugin;
} transcribe_opts;

static const transcribe_opts defaults = {
    .formats = "txt", .jobs = 2, .beam = 1, .chunk = 30, .min_pause = 0.3, .reject_below = -1};
static const char *const vad_names[] = {"energy", "off", NULL};

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
     .help = "long recordings are read in chunks of at most S seconds, 1-600", .min = 1, .max = 600},
    {.name = "vad", .kind = CLI_CHOICE, .offset = offsetof(transcribe_opts, vad), .arg = "energy|off",
     .help = "voice activity: energy cuts a chunk into utterances at its pauses and decodes each alone, as the "
             "model's clips were, and places the words on the speech; off decodes whole chunks, cut in pauses",
     .choices = vad_names},
    {.name = "reject-below", .kind = CLI_NUMBER, .offset = offsetof(transcribe_opts, reject_below), .arg = "C",
     .help = "with --vad energy, an utterance whose least confident word is below C (0-1) says nothing: listed "
             "as rejected in JSON, absent from the text; 0: every utterance is taken",
     .shown = "0.55 for a model of whole words (a closed vocabulary), 0 for characters", .max = 1},
    {.name = "min-pause", .kind = CLI_DURATION, .offset = offsetof(transcribe_opts, min_pause), .arg = "D",
     .help = "with --vad energy, a pause this long parts two utterances: 300ms, 1s", .flags = CLI_ABOVE_ZERO},
    {.name = "summary", .kind = CLI_STRING, .offset = offsetof(transcribe_opts, summary), .arg = "FILE|-",
     .help = "a JSON summary: counts, failures with reasons, speed"},
    {.name = "quiet", .short_name = 'q', .kind = CLI_FLAG, .offset = offsetof(transcribe_opts, quiet),
     .help = "no progress on stderr"},
    {0},
};

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
static const cli_page page = {
    .print = usage,
    .own = {NULL, options},
    .parts = {CLI_PART(transcribe_opts, plugin, opt_plugin_section, opt_plugin_defaults)},
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* path without its extension (the last '.' after the last '/'). */
void tx_clear_progress(const run *r)
{
    if (!r->quiet && isatty(2))
        fputs("\r\033[K", stderr);
}

/* Notes that file k's outputs are not all written: the first reason, in the list of failures. */
void tx_lost_output(run *r, size_t k, const char *why)
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
        if (res->failed && !tx_to_stream(r, j))
            continue; /* ... nor a file: --skip-existing will try it again */
        if (tx_to_stream(r, j) && r->sink_failed) {
            host_fmt(first, sizeof first, "%s: not written, the output failed before", r->sink.path);
            continue;
        }
        char *s = tx_render(res, fmt, r->timestamps, &len);
        err[0] = '\0';
        if (!s) {
            host_fmt(err, sizeof err, "%s: out of memory", j->path);
        } else if (tx_to_stream(r, j) && !r->lead) {
            bytebuf_put(&r->held, s, len);
            if (r->held.failed)
                host_fmt(err, sizeof err, "%s: out of memory holding its transcript for rank 0", j->path);
        } else if (tx_to_stream(r, j)) {
            if (fwrite(s, 1, len, r->sink.f) != len || fflush(r->sink.f) != 0) {
                host_fmt(err, sizeof err, "%s: cannot write: %s", r->sink.path, strerror(errno));
                r->sink_failed = r->write_error = 1;
            }
        } else {
            char *p = tx_out_path(r, j, fmt);
            if (!p)
                host_fmt(err, sizeof err, "out of memory");
            else if (tx_mkdirs_for(p) != 0)
                host_fmt(err, sizeof err, "%s: cannot create its folder: %s", p, strerror(errno));
            else
                write_file_atomic(p, s, len, err, sizeof err);
            free(p);
        }
        free(s);
        if (err[0]) {
            tx_clear_progress(r);
            hostlog_error("%s", err);
            if (!first[0])
                host_fmt(first, sizeof first, "%s", err);
        }
    }
    if (first[0] && !res->failed)
        tx_lost_output(r, k, first);
}

void tx_print_progress(run *r, int final)
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
        tx_clear_progress(r);
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
    tx_print_progress(r, 0);
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
static int conclude(run *r, const char *summary, double wall, int interrupted)
{
    if (r->n_todo)
        tx_print_progress(r, 1);
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
    int first;
    const int started = cli_start_page(&page, &o, &defaults, argc, argv, &first);
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
        tx_lead_usage("--output-format: '%s' is not txt, json, jsonl, srt or vtt", bad);
        return EXIT_USAGE;
    }
    if (!model || first >= argc) {
        tx_lead_usage("transcribe: -m MODEL and at least one FILE, DIR or - are required");
        return EXIT_USAGE;
    }
    if (!r.timestamps && (r.formats & (TX_SRT | TX_VTT))) {
        tx_lead_usage("--no-timestamps: srt and vtt subtitles are made of timestamps");
        return EXIT_USAGE;
    }
    if (r.output && r.out_dir) {
        tx_lead_usage("-o and --output-dir exclude each other");
        return EXIT_USAGE;
    }
    if (r.output && (r.formats & (r.formats - 1))) {
        tx_lead_usage("-o writes one format; use --output-dir for several");
        return EXIT_USAGE;
    }
    int stdin_inputs = 0;
    for (int i = first; i < argc; i++)
        stdin_inputs += strcmp(argv[i], "-") == 0;
    if (stdin_inputs > 1) {
        tx_lead_usage("'-' (stdin) can be given once");
        return EXIT_USAGE;
    }
    if (stdin_inputs && r.ranks > 1) {
        tx_lead_usage("'-' (stdin): under mpirun standard input reaches rank 0 alone; give files or folders");
        return EXIT_USAGE;
    }
    if (summary && strcmp(summary, "-") == 0 &&
        (r.output ? strcmp(r.output, "-") == 0 : !r.out_dir && stdin_inputs)) {
        tx_lead_usage("--summary - and the transcripts would both go to standard output");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    asr_model m;
    rh_ctc_phrases ph = {0};
    memset(&m, 0, sizeof m);
    memset(&reg, 0, sizeof reg);
    int have_reg = 0;
    const size_t window = (size_t)o.jobs * 128;
    int rc = tx_agree_inputs(&r, tx_list_inputs(&r, argv + first, argc - first, window));
    if (rc != 0)
        goto done;

    /* the model, on every rank */
    char path[4096], why[1024] = "";
    int status = EXIT_OK;
    if (registry_init(&reg, o.plugin.path) != 0) {
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
    if ((rc = tx_agree_setup(status, why)) != 0)
        goto done;

    /* this rank's share */
    uint64_t share_first, share_n;
    par_share(r.n_todo, par_rank(), r.ranks, &share_first, &share_n);
    r.first = r.next_write = (size_t)share_first;
    r.end = (size_t)(share_first + share_n);
    host_catch_interrupts();
    r.start = r.last_print = now_seconds();
    asr_decode_opts dec = {o.beam, phrases ? &ph : NULL, o.chunk, 0, o.vad == 1, o.min_pause, o.reject_below};
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
    tx_gather_results(&r);
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
