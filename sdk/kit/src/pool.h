/* A small pool of threads that one call of forward, backward or step spreads its work over: the caller is
 * thread 0 and the pool's workers are 1..n-1. Every thread runs the same task on its own share (a block of
 * hidden units, or of rows) and meets the others at rhk_pool_sync where a result of another share is needed
 * next. Workers spin for a short while after a task, so that the steps of a sequence or of sampling find
 * them awake, and then sleep on a semaphore. No call takes a lock.
 *
 * The pool is created with the model (nothing else allocates) and serves one call at a time: a second call
 * that arrives while the pool is busy, or a call in a child process after fork (where the workers do not
 * exist), gets rhk_pool_run's -1 and runs the task alone with n = 1. Private to the cell kit, which every
 * plugin built on it links with hidden visibility. */
#ifndef RNNHOST_KIT_POOL_H
#define RNNHOST_KIT_POOL_H

#include <stdint.h>

typedef struct rhk_pool rhk_pool;

/* The work of one call: thread id of n (0 is the caller). */
typedef void (*rhk_pool_task)(void *arg, uint32_t id, uint32_t n);

/* A pool of `threads` threads in all, the caller included; NULL when threads < 2 or the workers cannot be
 * started (the model then runs on the caller's thread alone). */
rhk_pool *rhk_pool_create(uint32_t threads);
void rhk_pool_destroy(rhk_pool *pool);

/* Threads the pool has, the caller included (1 for NULL). */
uint32_t rhk_pool_size(const rhk_pool *pool);

/* Workers asleep, or on their way to or from sleep (for tests). */
uint32_t rhk_pool_away(rhk_pool *pool);

/* Runs task on n threads (2 <= n <= rhk_pool_size), the caller as thread 0, and returns 0 once all have
 * finished. Returns -1 and runs nothing when the pool is NULL, busy with another call, or was created by
 * another process. With if_awake (the streaming step, which must not wait for a thread to be scheduled),
 * it also returns -1 when a worker has gone to sleep, after waking it for the calls that follow. */
int rhk_pool_run(rhk_pool *pool, uint32_t n, rhk_pool_task task, void *arg, int if_awake);

/* Inside a task: waits until every thread of the run has arrived. Nothing when pool is NULL or the run
 * has one thread. */
void rhk_pool_sync(rhk_pool *pool, uint32_t n);

#endif /* RNNHOST_KIT_POOL_H */
