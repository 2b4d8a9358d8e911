/* Option values shared by the commands: each parser prints one usage line (hostlog_usage) and returns -1
 * when the text is not a value of its kind; the caller then exits with EXIT_USAGE. */
#ifndef RNNHOST_CLIARGS_H
#define RNNHOST_CLIARGS_H

#include <stdint.h>

int cli_u64(uint64_t *out, const char *s, const char *name);
/* A whole number in [lo, hi]. */
int cli_u32(uint32_t *out, const char *s, const char *name, uint32_t lo, uint32_t hi);
/* A finite number >= 0. */
int cli_double(double *out, const char *s, const char *name);
/* "90", "90s", "10m", "2h", "1.5h" -> seconds (for --time-budget); "0" is 0, no limit. */
int cli_duration(double *out, const char *s);
/* sgd 0, momentum 1, rmsprop 2, adam 3 (RH_OPT_*), or -1. */
int cli_optimizer_kind(const char *name);

#endif /* RNNHOST_CLIARGS_H */
