/* The lock-free ring between the player's two threads: one thread pushes, the other peeks and pops, and
 * neither ever waits for the other. Pushing, peeking and popping are inline here because the player calls
 * them on its real-time path: they allocate nothing, take no lock and make no system call.
 *
 * head is only written by the producer and tail only by the consumer; each publishes with release and
 * reads the other's index with acquire, so a slot's contents are visible before its index moves. */
#ifndef RNNHOST_SPSCRING_H
#define RNNHOST_SPSCRING_H

#include <stdatomic.h>
#include <stddef.h>

#include "playerevent.h"

typedef struct spsc_ring {
    player_event *slots; /* (mask + 1) */
    size_t mask;
    _Alignas(64) atomic_size_t head;
    _Alignas(64) atomic_size_t tail;
} spsc_ring;

/* Room for at least capacity events (a power of 2, at least 2), allocated here, before the threads start.
 * 0, or -1 when memory runs out. */
int spsc_ring_init(spsc_ring *r, size_t capacity);
void spsc_ring_free(spsc_ring *r);

/* The producer's side: 0, or -1 when the ring is full (nothing is pushed). */
static inline int spsc_ring_push(spsc_ring *r, const player_event *ev)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail > r->mask)
        return -1;
    r->slots[head & r->mask] = *ev;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return 0;
}

/* The consumer's side: the oldest event, left in place, or NULL. */
static inline const player_event *spsc_ring_peek(spsc_ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return head == tail ? NULL : &r->slots[tail & r->mask];
}

/* The consumer's side: drops the event spsc_ring_peek gave. */
static inline void spsc_ring_pop(spsc_ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

#endif /* RNNHOST_SPSCRING_H */
