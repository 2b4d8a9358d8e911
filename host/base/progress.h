/* Progress of long work on stderr: on a terminal one line redrawn in place, elsewhere (a log file, CI) a
 * plain line every N steps, so logs stay readable. */
#ifndef RNNHOST_PROGRESS_H
#define RNNHOST_PROGRESS_H

#include <stdint.h>

typedef struct progress {
    int quiet, tty, open_line;
    uint64_t every;   /* lines every N steps when stderr is not a terminal */
    double rate;      /* symbols per second, as last measured */
    double last_draw; /* terminal redraws are limited to ten a second */
    const char *unit; /* of the rate: "sym/s" unless set after progress_init */
} progress;

void progress_init(progress *p, int quiet, uint64_t every);

/* The current throughput in symbols per second. */
void progress_rate(progress *p, double per_second);

/* step of total (0: unknown), loss and val (NAN: not known yet), eta in seconds (NAN: unknown). */
void progress_update(progress *p, uint64_t step, uint64_t total, double epoch, double loss, double val,
                     double eta);

/* Ends a line left open on a terminal. */
void progress_end(progress *p);

/* "3m12s", "1h04m", "42s" */
void format_duration(char *out, unsigned long len, double seconds);

#endif /* RNNHOST_PROGRESS_H */
