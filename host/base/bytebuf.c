#include "bytebuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for extra more bytes and the NUL after them. 0, or -1 (and b->failed) when memory runs out. */
static int reserve(bytebuf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->data && b->cap - b->len > extra)
        return 0;
    size_t c = b->cap ? b->cap : 256;
    while (c - b->len <= extra) {
        if (c > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        c *= 2;
    }
    char *grown = realloc(b->data, c);
    if (!grown) {
        b->failed = 1;
        return -1;
    }
    b->data = grown, b->cap = c;
    return 0;
}

void bytebuf_put(bytebuf *b, const void *p, size_t n)
{
    if (n == 0 || reserve(b, n) != 0) // n == 0 may come with p == NULL, which memcpy must not see
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void bytebuf_printf(bytebuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bytebuf_free(bytebuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
