#include "spscring.h"

#include <stdlib.h>

int spsc_ring_init(spsc_ring *r, size_t capacity)
{
    size_t n = 2;
    while (n < capacity)
        n <<= 1;
    r->slots = calloc(n, sizeof *r->slots);
    r->mask = n - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r->slots ? 0 : -1;
}

void spsc_ring_free(spsc_ring *r)
{
    free(r->slots);
    r->slots = NULL;
}
