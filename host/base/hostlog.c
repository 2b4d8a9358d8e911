#include "hostlog.h"

#include <stdio.h>

static const char *command = "rnnhost";

void hostlog_set_command(const char *name)
{
    command = name;
}

const char *hostlog_command(void)
{
    return command;
}

void hostlog_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rnnhost: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void hostlog_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rnnhost: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("; try 'rnnhost --help'\n", stderr);
    va_end(ap);
}

void host_fmt(char *dst, unsigned long len, const char *fmt, ...)
{
    va_list ap;
    if (len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}
