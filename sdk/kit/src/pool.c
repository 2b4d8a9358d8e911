/* The worker pool of pool.h: a generation counter hands out tasks, a counting barrier separates phases.
 * Nothing a call does takes a lock: a sleeping worker waits on a semaphore, which the call posts (a
 * semaphore post is the wake-up that real-time audio code is allowed to make). */
#define _GNU_SOURCE /* getpid */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Every wait looks at its flag again and again: the first POOL_SPIN_YIELD looks pause, the later ones
 * yield the core, since when the machine has more runnable threads than cores (another program, or a host
 * that calls models from several threads) the thread waited for may be the one that needs it. An idle
 * worker sleeps after POOL_SPIN looks or POOL_IDLE_NS, whichever comes first (a millisecond or two): long
 * enough to span the host's work between two steps of sampling, short enough not to hold a core through a
 * pause; the time bound matters on a loaded machine, where every yielding look can last a time slice.
 *
 * Going to sleep: a worker counts itself in `sleepers`, then looks at the generation once more, then waits
 * on the semaphore; a call bumps the generation, then takes the count (setting it to 0) and posts that many
 * times. All of it sequentially consistent, so either the worker sees the new generation or the call sees
 * the sleeper: a wake-up is never lost. A worker that sees the new generation takes its count back; if a
 * call took it first, a token is on its way and the worker collects it, so tokens never pile up. `away`
 * counts workers from the moment they start going to sleep until they are spinning again. */
#define POOL_SPIN_YIELD 2000u
#define POOL_SPIN 4000u
#define POOL_IDLE_NS 2000000

struct rhk_pool {
    uint32_t size; /* threads in all, caller included */
    pid_t owner;
    atomic_flag busy;
    sem_t wake;
    atomic_uint sleepers; /* workers owed a token */
    atomic_uint away;     /* workers asleep or on their way to or from sleep */
    atomic_uint gen;      /* bumped once per run */
    atomic_uint done;     /* workers finished with the current run */
    atomic_int quit;
    uint32_t n; /* threads of the current run */
    rhk_pool_task task;
    void *arg;
    atomic_uint bar_count, bar_gen;
    uint32_t started;
    pthread_t *workers;
    uint32_t *ids;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* One more look of a wait: pause while the wait is short, then give the core away. */
static inline void wait_a_little(uint32_t *looks)
{
    if ((*looks)++ < POOL_SPIN_YIELD)
        cpu_relax();
    else
        sched_yield();
}

/* Takes one back from a count that a call may have taken (set to 0) meanwhile: 0 if it had. */
static int take_back(atomic_uint *count)
{
    unsigned k = atomic_load(count);
    while (k > 0)
        if (atomic_compare_exchange_weak(count, &k, k - 1))
            return 1;
    return 0;
}

/* Wakes every worker counted asleep. */
static void wake_sleepers(rhk_pool *pool)
{
    for (unsigned k = atomic_exchange(&pool->sleepers, 0); k > 0; k--)
        sem_post(&pool->wake);
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

typedef struct worker_arg {
    rhk_pool *pool;
    uint32_t id;
} worker_arg;

static void *worker_main(void *p)
{
    rhk_pool *pool = ((worker_arg *)p)->pool;
    uint32_t id = ((worker_arg *)p)->id;
    free(p);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        uint32_t looks = 0;
        int64_t idle_from = now_ns();
        while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&pool->quit, memory_order_relaxed)) {
            if (looks < POOL_SPIN_YIELD || (looks < POOL_SPIN && now_ns() - idle_from < POOL_IDLE_NS)) {
                wait_a_little(&looks);
                continue;
            }
            atomic_fetch_add(&pool->away, 1);
            atomic_fetch_add(&pool->sleepers, 1);
            if ((atomic_load(&pool->gen) == seen && !atomic_load(&pool->quit)) || !take_back(&pool->sleepers))
                while (sem_wait(&pool->wake) != 0) /* EINTR: a signal for the process, not for us */
                    ;
            atomic_fetch_sub(&pool->away, 1);
            looks = 0;
            idle_from = now_ns();
        }
        if (atomic_load(&pool->quit))
            return NULL;
        seen = g;
        if (id < pool->n)
            pool->task(pool->arg, id, pool->n);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
}

rhk_pool *rhk_pool_create(uint32_t threads)
{
    if (threads < 2)
        return NULL;
    rhk_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->workers = calloc(threads - 1, sizeof *pool->workers);
    if (pool->workers == NULL || sem_init(&pool->wake, 0, 0) != 0) {
        free(pool->workers);
        free(pool);
        return NULL;
    }
    pool->size = threads;
    pool->owner = getpid();
    atomic_flag_clear(&pool->busy);
    for (uint32_t i = 1; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a == NULL)
            break;
        a->pool = pool;
        a->id = i;
        if (pthread_create(&pool->workers[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            break;
        }
        pool->started++;
    }
    if (pool->started + 1 < threads) { /* fewer workers than asked: a smaller pool is still a pool */
        if (pool->started == 0) {
            rhk_pool_destroy(pool);
            return NULL;
        }
        pool->size = pool->started + 1;
    }
    return pool;
}

void rhk_pool_destroy(rhk_pool *pool)
{
    if (pool == NULL)
        return;
    if (getpid() == pool->owner) {
        atomic_store(&pool->quit, 1);
        wake_sleepers(pool);
        for (uint32_t i = 0; i < pool->started; i++)
            pthread_join(pool->workers[i], NULL);
    }
    sem_destroy(&pool->wake);
    free(pool->workers);
    free(pool);
}

uint32_t rhk_pool_size(const rhk_pool *pool)
{
    return pool == NULL ? 1 : pool->size;
}

uint32_t rhk_pool_away(rhk_pool *pool)
{
    return pool == NULL ? 0 : atomic_load(&pool->away);
}

int rhk_pool_run(rhk_pool *pool, uint32_t n, rhk_pool_task task, void *arg, int if_awake)
{
    if (pool == NULL || n < 2 || n > pool->size || getpid() != pool->owner)
        return -1;
    if (if_awake && atomic_load(&pool->away) > 0) {
        wake_sleepers(pool); /* for the next call; this one does not wait for them */
        return -1;
    }
    if (atomic_flag_test_and_set_explicit(&pool->busy, memory_order_acquire))
        return -1;
    pool->n = n;
    pool->task = task;
    pool->arg = arg;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->bar_count, 0, memory_order_relaxed);
    atomic_fetch_add(&pool->gen, 1);
    wake_sleepers(pool);
    task(arg, 0, n);
    uint32_t looks = 0;
    while (atomic_load_explicit(&pool->done, memory_order_acquire) < pool->size - 1)
        wait_a_little(&looks);
    atomic_flag_clear_explicit(&pool->busy, memory_order_release);
    return 0;
}

void rhk_pool_sync(rhk_pool *pool, uint32_t n)
{
    if (pool == NULL || n < 2)
        return;
    unsigned g = atomic_load_explicit(&pool->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&pool->bar_count, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&pool->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&pool->bar_gen, 1, memory_order_release);
    } else {
        uint32_t looks = 0;
        while (atomic_load_explicit(&pool->bar_gen, memory_order_acquire) == g)
            wait_a_little(&looks);
    }
}
