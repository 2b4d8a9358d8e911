#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_init(progress *p, int quiet, uint64_t every)
{
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->every = every ? every : 1;
    p->open_line = 0;
    p->rate = NAN;
    p->unit = "sym/s";
    p->last_draw = 0;
}

void progress_rate(progress *p, double per_second)
{
    p->rate = per_second;
}

void format_duration(char *out, unsigned long len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(out, len, "?");
    else if (s < 60)
        snprintf(out, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void progress_update(progress *p, uint64_t step, uint64_t total, double epoch, double loss, double val, double eta)
{
    if (p->quiet)
        return;
    if (p->tty) {
        double t = now();
        if (t - p->last_draw < 0.1)
            return;
        p->last_draw = t;
    } else if (step % p->every != 0) {
        return;
    }
    char line[256], eta_s[32];
    int n = 0;
    format_duration(eta_s, sizeof eta_s, eta);
    if (total)
        n += snprintf(line + n, sizeof line - n, "step %llu/%llu", (unsigned long long)step, (unsigned long long)total);
    else
        n += snprintf(line + n, sizeof line - n, "step %llu", (unsigned long long)step);
    n += snprintf(line + n, sizeof line - n, " | epoch %.2f | loss %.4f", epoch, loss);
    if (isfinite(val))
        n += snprintf(line + n, sizeof line - n, " | val %.4f", val);
    if (isfinite(p->rate))
        n += snprintf(line + n, sizeof line - n, " | %.0f %s", p->rate, p->unit);
    if (isfinite(eta))
        snprintf(line + n, sizeof line - n, " | ETA %s", eta_s);
    /* Written here rather than through hostlog: progress is not a diagnostic, and on a terminal its line is
     * redrawn in place and left open, which hostlog's whole lines cannot do. */
    if (p->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        p->open_line = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->open_line)
        fputc('\n', stderr);
    p->open_line = 0;
}
