/* rnnhost transcribe's parts (host/cli), private to the command: the batch (run) and its files (job);
 * transcribe_inputs.c lists the inputs and names the outputs, transcribe_ranks.c is where the ranks of a
 * run under mpirun meet, cmd_transcribe.c runs the files and writes what they give. */
#ifndef RNNHOST_TRANSCRIBE_H
#define RNNHOST_TRANSCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "asreval.h"
#include "atomicfile.h"
#include "bytebuf.h"
#include "hostlog.h"
#include "transcript.h"

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

/* ---- inputs and output names (transcribe_inputs.c) ---- */

/* A usage line, or an error line, about what every rank sees alike (the options, the inputs): rank 0 says
 * it, once. */
void tx_lead_usage(const char *fmt, ...) HOST_PRINTF(1, 2);
void tx_lead_error(const char *fmt, ...) HOST_PRINTF(1, 2);
/* The jobs of the inputs args[0..n_args) (files, folders searched for sound files), their output names
 * checked apart, and those --skip-existing leaves out; result buffers for window files at a time.
 * 0, or an exit code after one line. */
int tx_list_inputs(run *r, char **args, int n_args, size_t window);
/* 1 when j's transcript goes to the stream. */
int tx_to_stream(const run *r, const job *j);
/* The output file of job j in format fmt (TX_*), allocated; NULL when memory ran out. */
char *tx_out_path(const run *r, const job *j, unsigned fmt);
/* The folders above file, made as needed. 0 or -1 (errno). */
int tx_mkdirs_for(const char *file);

/* ---- where the ranks meet (transcribe_ranks.c) ---- */

/* After listing the inputs: every rank's jobs the same and the same verdict, or none goes on. The exit
 * code every rank returns, 0 to go on. */
int tx_agree_inputs(const run *r, int rc);
/* After loading the model: the worst exit code of all; the lowest failing rank says why, once. */
int tx_agree_setup(int status, const char *why);
/* After its share: each rank's stream output and results to rank 0, which writes the stream in input order.
 * Every rank calls it. */
void tx_gather_results(run *r);

/* ---- progress and results (cmd_transcribe.c) ---- */

void tx_clear_progress(const run *r);
void tx_print_progress(run *r, int final);
/* File k's transcript could not be written, for the reason why. */
void tx_lost_output(run *r, size_t k, const char *why);

#endif /* RNNHOST_TRANSCRIBE_H */
