/* Option values: the number parsers behind cliopts' kinds, and the output-format rule of commands that
 * write one file. Each prints one usage line (hostlog_usage) and returns -1 when the text is not a value of
 * its kind; the caller then exits with EXIT_USAGE. */
#ifndef RNNHOST_CLIARGS_H
#define RNNHOST_CLIARGS_H

#include <stdint.h>

/* A whole number >= 0. */
int cli_u64(uint64_t *out, const char *s, const char *name);
/* A whole number in [lo, hi]. */
int cli_u32(uint32_t *out, const char *s, const char *name, uint32_t lo, uint32_t hi);
/* "90", "90s", "10m", "2h", "1.5h" -> seconds (for --time-budget); "0" is 0, no limit. name is the option
 * as written, for the message. */
/* Durations: "90", "90s", "500ms", "10m", "10min", "2h", "1.5h" -> seconds. cli_parse_seconds says nothing
 * (-1 on a malformed one; *unit, if not NULL, says whether a unit was written); cli_duration says one usage
 * line naming the option. */
int cli_parse_seconds(const char *s, double *out, int *unit);
int cli_duration(double *out, const char *s, const char *name, int above_zero);
/* The format of an output file, one of names[0..n): the one --format gave (given, NULL when not), else the
 * one out's extension names (case aside), else fallback (-1: none, and out needs an extension or
 * --format). An extension of a known format that disagrees with --format, or an unknown extension without
 * --format, is a usage error listing the known ones. The index, or -1 after the usage line. */
int cli_output_format(const char *out, const char *given, const char *const *names, int n, int fallback,
                      const char *cmd);

#endif /* RNNHOST_CLIARGS_H */
