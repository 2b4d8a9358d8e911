/* Many files through a speech model on several threads: transcribe's batches and eval's test sets. */
#include "asreval.h"

#include <pthread.h>
#include <stdlib.h>

#include "blas.h"
#include "hostlog.h"

/* ---- the worker pool ------------------------------------------------------------------------------------ */

typedef struct pool {
    tx_result *results;
    const char *const *paths;
    size_t n, next;
    asr_session **sessions;
    void (*done)(void *, size_t);
    void *ctx;
    volatile int *stop;
    pthread_mutex_t lock;
} pool;

typedef struct worker {
    pool *p;
    asr_session *s;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    pool *p = w->p;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next < p->n && !(p->stop && *p->stop) ? p->next++ : p->n;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            return NULL;
        asr_transcribe(w->s, &p->results[i], p->paths[i]);
        if (p->done) {
            pthread_mutex_lock(&p->lock);
            p->done(p->ctx, i);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

int asr_run_files(tx_result *results, const char *const *paths, size_t n, const asr_model *m,
                  const asr_decode_opts *o, int jobs, void (*done)(void *ctx, size_t i), void *ctx,
                  volatile int *stop, char *err, size_t err_len)
{
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > n && n > 0)
        jobs = (int)n;
    pool p = {results, paths, n, 0, NULL, done, ctx, stop, PTHREAD_MUTEX_INITIALIZER};
    worker *ws = calloc((size_t)jobs, sizeof *ws);
    pthread_t *th = calloc((size_t)jobs, sizeof *th);
    int rc = -1, started = 0;
    if (!ws || !th) {
        host_fmt(err, err_len, "out of memory");
        goto done;
    }
    for (int k = 0; k < jobs; k++) {
        ws[k].p = &p;
        if (!(ws[k].s = asr_session_new(m, o, err, err_len)))
            goto done;
    }
    /* Files are the unit of parallelism here, each product on one core: no oversubscription, and one thread
     * per call, BLAS's too (OpenBLAS's edge kernels round some shapes otherwise on two threads than on one),
     * keeps -j 1 and -j N, and any number of MPI ranks, bit-identical. */
    const int blas_before = blas_threads();
    blas_set_threads(1);
    const uint32_t model_threads = host_model_threads();
    host_set_model_threads(1);
    for (int k = 1; k < jobs; k++) {
        if (pthread_create(&th[k], NULL, work, &ws[k]) != 0)
            break;
        started = k;
    }
    work(&ws[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(th[k], NULL);
    blas_set_threads(blas_before);
    host_set_model_threads(model_threads);
    rc = 0;
done:
    for (int k = 0; ws && k < jobs; k++)
        asr_session_free(ws[k].s);
    free(ws), free(th);
    return rc;
}
