/* The host's one voice on stderr: every diagnostic is one line starting with "rnnhost: ", and every "why"
 * buffer a function fills for its caller is written by the one formatter below, host_fmt. */
#ifndef RNNHOST_HOSTLOG_H
#define RNNHOST_HOSTLOG_H

#include <stdarg.h>
#include <stddef.h>

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

/* "rnnhost: <message>\n" on stderr, written whole at once so that lines from threads working side by side
 * never interleave. */
void hostlog_error(const char *fmt, ...) HOST_PRINTF(1, 2);

/* The same line for what is not a failure: what was written, what was skipped, a summary. */
#define hostlog_info hostlog_error

/* A usage error: the message, then the hint to read --help. The caller returns EXIT_USAGE. */
void hostlog_usage(const char *fmt, ...) HOST_PRINTF(1, 2);

/* The command being run ("generate"), for messages that name it; "rnnhost" until main sets it. */
void hostlog_set_command(const char *name);
const char *hostlog_command(void);

/* The formatter: snprintf that never overflows and always terminates, for the many fixed "why" buffers.
 * A NULL dst or a len of 0 writes nothing, so a caller that does not want the reason may pass neither. */
void host_fmt(char *dst, size_t len, const char *fmt, ...) HOST_PRINTF(3, 4);
void host_vfmt(char *dst, size_t len, const char *fmt, va_list ap);

/* "name: reason" for an errno, the reason as strerror words it but with a small first letter, as it reads
 * after a colon: "corpus/a.txt: no such file or directory". */
void host_fmt_errno(char *dst, size_t len, const char *name, int errnum);

#endif /* RNNHOST_HOSTLOG_H */
