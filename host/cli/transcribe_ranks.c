/* rnnhost transcribe under mpirun: where the ranks meet (transcribe.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "transcribe.h"
#include "trainutil.h"

/* The jobs as this rank sees them: the inputs, their output names and what is left to do. */
static uint64_t jobs_hash(const run *r)
{
    uint64_t h = TRAIN_HASH_SEED;
    for (size_t i = 0; i < r->n; i++) {
        const job *j = &r->jobs[i];
        h = train_hash(h, j->path, strlen(j->path) + 1);
        h = train_hash(h, j->stem, strlen(j->stem) + 1);
        h = train_hash(h, &j->skipped, sizeof j->skipped);
    }
    return h;
}

/* The ranks meet after listing the inputs: each has the same jobs (the same folders seen alike) and the
 * same verdict, or none goes on. The exit code every rank returns, 0 to go on. */
int tx_agree_inputs(const run *r, int rc)
{
    const uint64_t mine[3] = {(uint64_t)rc, r->n, rc == 0 ? jobs_hash(r) : 0};
    size_t which = 0;
    const int k = par_first_differing(mine, 3, &which);
    if (!k)
        return rc;
    tx_lead_error("rank %d did not find the inputs rank 0 found (%s): every rank must see the same files and "
                  "folders", k, which == 0 ? "another verdict on them" : which == 1 ? "another number of files"
                                                                                   : "other names or outputs");
    return EXIT_FAIL;
}

/* The ranks meet after loading the model: status is this rank's exit code so far (0 when it is ready) and
 * why its line. Every rank returns the worst code; the lowest rank that failed says why, once. */
int tx_agree_setup(int status, const char *why)
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
            tx_lost_output(r, k, reason);
            why = NULL;
        }
}

/* After its share, each rank sends rank 0 its stream output and which of its files finished, failed or
 * could not be written (and why). Rank 0 writes their stream output after its own, rank by rank: input
 * order. Every rank calls this. */
void tx_gather_results(run *r)
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
            tx_clear_progress(r);
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
