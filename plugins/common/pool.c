/* The worker pool of pool.h: a generation counter hands out tasks, a counting barrier separates phases. */
#define _GNU_SOURCE /* getpid */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Every wait looks at its flag again and again: the first POOL_SPIN_YIELD looks pause, the later ones
 * yield the core, since when the machine has more runnable threads than cores (another program, or a host
 * that calls models from several threads) the thread waited for may be the one that needs it. An idle
 * worker sleeps after POOL_SPIN looks (a millisecond or two): long enough to span the host's work between
 * two steps of sampling, short enough not to hold a core through a pause. */
#define POOL_SPIN_YIELD 2000u
#define POOL_SPIN 4000u

struct stack_pool {
    uint32_t size; /* threads in all, caller included */
    pid_t owner;
    atomic_flag busy;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint gen;  /* bumped once per run */
    atomic_uint done; /* workers finished with the current run */
    atomic_int quit;
    uint32_t n; /* threads of the current run */
    pool_task task;
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

typedef struct worker_arg {
    stack_pool *pool;
    uint32_t id;
} worker_arg;

static void *worker_main(void *p)
{
    stack_pool *pool = ((worker_arg *)p)->pool;
    uint32_t id = ((worker_arg *)p)->id;
    free(p);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        uint32_t looks = 0;
        while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&pool->quit, memory_order_relaxed)) {
            if (looks < POOL_SPIN) {
                wait_a_little(&looks);
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            while (atomic_load(&pool->gen) == seen && !atomic_load(&pool->quit))
                pthread_cond_wait(&pool->wake, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->quit))
            return NULL;
        seen = g;
        if (id < pool->n)
            pool->task(pool->arg, id, pool->n);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
}

stack_pool *pool_create(uint32_t threads)
{
    if (threads < 2)
        return NULL;
    stack_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->workers = calloc(threads - 1, sizeof *pool->workers);
    if (pool->workers == NULL || pthread_mutex_init(&pool->mu, NULL) != 0) {
        free(pool->workers);
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->mu);
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
            pool_destroy(pool);
            return NULL;
        }
        pool->size = pool->started + 1;
    }
    return pool;
}

void pool_destroy(stack_pool *pool)
{
    if (pool == NULL)
        return;
    if (getpid() == pool->owner) {
        pthread_mutex_lock(&pool->mu);
        atomic_store(&pool->quit, 1);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mu);
        for (uint32_t i = 0; i < pool->started; i++)
            pthread_join(pool->workers[i], NULL);
    }
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mu);
    free(pool->workers);
    free(pool);
}

uint32_t pool_size(const stack_pool *pool)
{
    return pool == NULL ? 1 : pool->size;
}

int pool_run(stack_pool *pool, uint32_t n, pool_task task, void *arg)
{
    if (pool == NULL || n < 2 || n > pool->size || getpid() != pool->owner)
        return -1;
    if (atomic_flag_test_and_set_explicit(&pool->busy, memory_order_acquire))
        return -1;
    pool->n = n;
    pool->task = task;
    pool->arg = arg;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->bar_count, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    task(arg, 0, n);
    uint32_t looks = 0;
    while (atomic_load_explicit(&pool->done, memory_order_acquire) < pool->size - 1)
        wait_a_little(&looks);
    atomic_flag_clear_explicit(&pool->busy, memory_order_release);
    return 0;
}

void pool_sync(stack_pool *pool, uint32_t n)
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
