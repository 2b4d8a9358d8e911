/* The host's one voice on stderr: every diagnostic is one line starting with "rnnhost: ". */
#ifndef RNNHOST_HOSTLOG_H
#define RNNHOST_HOSTLOG_H

#include <stdarg.h>

#if defined(__GNUC__) || defined(__clang__)
#define HOST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HOST_PRINTF(a, b)
#endif

/* Exit codes, stable: scripts depend on them and `rnnhost --help` lists them. */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_LOAD = 3,
    EXIT_PARTIAL = 4,
    EXIT_INTERRUPTED = 130
};

/* "rnnhost: <message>\n" on stderr. */
void hostlog_error(const char *fmt, ...) HOST_PRINTF(1, 2);

/* A usage error: the message, then the hint to read --help. The caller returns EXIT_USAGE. */
void hostlog_usage(const char *fmt, ...) HOST_PRINTF(1, 2);

/* The command being run ("generate"), for messages that name it; "rnnhost" until main sets it. */
void hostlog_set_command(const char *name);
const char *hostlog_command(void);

/* snprintf that never overflows and always terminates, for the many fixed "why" buffers. */
void host_fmt(char *dst, unsigned long len, const char *fmt, ...) HOST_PRINTF(3, 4);

#endif /* RNNHOST_HOSTLOG_H */
