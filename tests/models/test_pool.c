/* The cell kit's thread pool (sdk/kit/src/pool.c) on its own: a run reaches every thread and its barrier
 * holds; a worker that has gone to sleep is woken by the next run and never missed (runs spaced across the
 * spin limit, where a lost wake-up would hang the run: the alarm fails it); a streaming-step run
 * (if_awake) never waits for a sleeping worker: it returns -1, and the worker it woke takes part in the runs
 * that follow. Nothing here depends on how fast the machine is or how busy: waits for a state poll for it,
 * for up to a minute.
 * Usage: test_pool */
#define _POSIX_C_SOURCE 200809L
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

enum { THREADS = 3, ROUNDS = 4 };

typedef struct job {
    rhk_pool *pool;
    atomic_uint ran[THREADS];
    atomic_uint arrived;
    atomic_int bad;
} job;

static int failures;

#define CHECK(cond, ...)                                                                                        \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "test_pool: " __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                               \
            failures++;                                                                                        \
        }                                                                                                      \
    } while (0)

/* Every thread arrives ROUNDS times; after each barrier all n must have arrived as often as this one. */
static void task(void *arg, uint32_t id, uint32_t n)
{
    job *j = arg;
    atomic_fetch_add(&j->ran[id], 1);
    for (uint32_t r = 1; r <= ROUNDS; r++) {
        atomic_fetch_add(&j->arrived, 1);
        rhk_pool_sync(j->pool, n);
        if (atomic_load(&j->arrived) < r * n)
            atomic_store(&j->bad, 1);
        rhk_pool_sync(j->pool, n);
    }
}

static void job_reset(job *j, rhk_pool *pool)
{
    j->pool = pool;
    for (int i = 0; i < THREADS; i++)
        atomic_store(&j->ran[i], 0);
    atomic_store(&j->arrived, 0);
    atomic_store(&j->bad, 0);
}

static void nap_us(long us)
{
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0)
        ;
}

static int all_ran(job *j, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load(&j->ran[i]) != 1)
            return 0;
    for (uint32_t i = n; i < THREADS; i++)
        if (atomic_load(&j->ran[i]) != 0)
            return 0;
    return !atomic_load(&j->bad) && atomic_load(&j->arrived) == ROUNDS * n;
}

/* Polls until every worker is asleep (they go after a short spin; on a loaded machine the spin's yields
 * make that longer). */
static int wait_asleep(rhk_pool *pool)
{
    for (int i = 0; i < 60000; i++) {
        if (rhk_pool_away(pool) == THREADS - 1)
            return 1;
        nap_us(1000);
    }
    return 0;
}

int main(void)
{
    alarm(120);
    rhk_pool *pool = rhk_pool_create(THREADS);
    if (pool == NULL) {
        fprintf(stderr, "test_pool: no pool of %d threads\n", THREADS);
        return 1;
    }
    CHECK(rhk_pool_size(pool) == THREADS, "rhk_pool_size %u, want %d", rhk_pool_size(pool), THREADS);
    CHECK(rhk_pool_create(1) == NULL, "a pool of one thread is the caller alone (NULL)");
    job j;

    /* Every size of run, back to back (workers awake or not, whatever the machine does) and with every
     * worker asleep. */
    for (uint32_t n = 2; n <= THREADS; n++)
        for (int pause = 0; pause < 2; pause++) {
            if (pause)
                CHECK(wait_asleep(pool), "the idle workers never went to sleep");
            job_reset(&j, pool);
            int rc = rhk_pool_run(pool, n, task, &j, 0);
            CHECK(rc == 0 && all_ran(&j, n), "run on %u threads (pause %d): rc %d, not every thread ran once "
                                             "or the barrier let one through early", n, pause, rc);
        }
    job_reset(&j, pool);
    CHECK(rhk_pool_run(pool, THREADS + 1, task, &j, 0) == -1 && atomic_load(&j.ran[0]) == 0,
          "a run on more threads than the pool has must be refused");

    /* Runs spaced from nothing to past the spin limit: every one reaches every worker. */
    srand(7);
    for (int i = 0; i < 400; i++) {
        if (i % 3)
            nap_us(rand() % 4000);
        job_reset(&j, pool);
        int rc = rhk_pool_run(pool, THREADS, task, &j, 0);
        if (rc != 0 || !all_ran(&j, THREADS)) {
            CHECK(0, "run %d: rc %d or a worker missed it", i, rc);
            break;
        }
    }

    /* The streaming step: with the workers asleep it does not wait for them, and wakes them. */
    CHECK(wait_asleep(pool), "the idle workers never went to sleep");
    job_reset(&j, pool);
    int rc = rhk_pool_run(pool, THREADS, task, &j, 1);
    CHECK(rc == -1, "an if_awake run with sleeping workers returned %d, want -1", rc);
    CHECK(atomic_load(&j.ran[1]) == 0 && atomic_load(&j.ran[2]) == 0, "a refused run reached a worker");
    int joined = 0;
    for (int i = 0; i < 60000 && !joined; i++) {
        job_reset(&j, pool);
        if (rhk_pool_run(pool, THREADS, task, &j, 1) == 0) {
            CHECK(all_ran(&j, THREADS), "an if_awake run that returned 0 missed a thread");
            joined = 1;
        } else {
            // The refused run woke the workers: try again as soon as they are all up, before their idle
            // spin (a millisecond or two) sends them back to sleep, which on a loaded machine a fixed nap
            // could outlast every time.
            CHECK(atomic_load(&j.ran[0]) == 0, "a refused run ran the task");
            for (int k = 0; k < 100000 && rhk_pool_away(pool) > 0; k++)
                sched_yield();
        }
    }
    CHECK(joined, "the workers an if_awake run woke never took part in the runs that followed");

    rhk_pool_destroy(pool);
    if (failures)
        return 1;
    printf("test_pool: ok\n");
    return 0;
}
