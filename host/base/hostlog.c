#include "hostlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *command = "rnnhost";

void hostlog_set_command(const char *name)
{
    command = name;
}

const char *hostlog_command(void)
{
    return command;
}

void host_vfmt(char *dst, size_t len, const char *fmt, va_list ap)
{
    if (!dst || len == 0)
        return;
    vsnprintf(dst, len, fmt, ap);
}

void host_fmt(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_vfmt(dst, len, fmt, ap);
    va_end(ap);
}

void host_fmt_errno(char *dst, size_t len, const char *name, int errnum)
{
    char reason[128];
    host_fmt(reason, sizeof reason, "%s", strerror(errnum));
    // "No such file" but not "ELF ...": only a capital that starts a word of small letters is lowered
    if (reason[0] >= 'A' && reason[0] <= 'Z' && reason[1] >= 'a' && reason[1] <= 'z')
        reason[0] = (char)(reason[0] - 'A' + 'a');
    host_fmt(dst, len, "%s: %s", name, reason);
}

/* "rnnhost: " + the message + tail, formatted first and then written with one call, so that the line
 * cannot be split by another thread's. A line longer than the stack buffer is formatted again into memory
 * of its size; without that memory it is cut rather than lost. */
static void write_line(const char *tail, const char *fmt, va_list ap)
{
    static const char prefix[] = "rnnhost: ";
    char small[1024], *line = small;
    va_list again;
    va_copy(again, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    const size_t need = sizeof prefix - 1 + (n > 0 ? (size_t)n : 0) + strlen(tail) + 1;
    if (need > sizeof small && !(line = malloc(need)))
        line = small;
    const size_t room = line == small ? sizeof small : need;
    memcpy(line, prefix, sizeof prefix - 1);
    host_vfmt(line + sizeof prefix - 1, room - (sizeof prefix - 1), fmt, again);
    va_end(again);
    const size_t used = strlen(line), tail_len = strlen(tail);
    if (used + tail_len < room)
        memcpy(line + used, tail, tail_len + 1);
    else
        memcpy(line + room - 1 - tail_len, tail, tail_len + 1); // cut: the tail (the newline) still ends it
    fputs(line, stderr);
    if (line != small)
        free(line);
}

void hostlog_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line("\n", fmt, ap);
    va_end(ap);
}

void hostlog_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line("; try 'rnnhost --help'\n", fmt, ap);
    va_end(ap);
}
