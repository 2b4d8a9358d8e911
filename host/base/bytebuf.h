/* A growing buffer of bytes that remembers a failure: a writer appends without checking each step and looks
 * once at the end, so a renderer reads as the document it makes. The bytes are always followed by a NUL,
 * so text built here is a C string. */
#ifndef RNNHOST_BYTEBUF_H
#define RNNHOST_BYTEBUF_H

#include <stddef.h>

#include "hostlog.h"

typedef struct bytebuf {
    char *data;  /* (len) bytes and a NUL, owned; NULL until something is appended */
    size_t len;  /* bytes appended, the NUL not counted */
    size_t cap;  /* bytes allocated */
    int failed;  /* memory ran out: the bytes stop where it happened, and later appends do nothing */
} bytebuf;

/* Appends n bytes from p (p may be NULL when n is 0: nothing is appended). */
void bytebuf_put(bytebuf *b, const void *p, size_t n);

/* Appends printf's output; data is then never NULL, even for an empty string. */
void bytebuf_printf(bytebuf *b, const char *fmt, ...) HOST_PRINTF(2, 3);

/* Frees the bytes and empties b. */
void bytebuf_free(bytebuf *b);

#endif /* RNNHOST_BYTEBUF_H */
