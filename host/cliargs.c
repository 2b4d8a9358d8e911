#include "cliargs.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"

int cli_u64(uint64_t *out, const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        hostlog_usage("%s needs a whole number, not '%s'", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u32(uint32_t *out, const char *s, const char *name, uint32_t lo, uint32_t hi)
{
    uint64_t v;
    if (cli_u64(&v, s, name) != 0)
        return -1;
    if (v < lo || v > hi) {
        hostlog_usage("%s must be between %u and %u, not %s", name, lo, hi, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int cli_double(double *out, const char *s, const char *name)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0) {
        hostlog_usage("%s needs a non-negative number, not '%s'", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "90", "90s", "10m", "2h", "1.5h" -> seconds */
int cli_duration(double *out, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double unit = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60, end++;
    else if (*end == 'h')
        unit = 3600, end++;
    if (errno || end == s || *end || !(v >= 0) || !isfinite(v)) { /* 0: no limit */
        hostlog_usage("--time-budget needs a duration such as 90s, 10m or 2h, not '%s'", s);
        return -1;
    }
    *out = v * unit;
    return 0;
}

int cli_optimizer_kind(const char *name)
{
    static const char *names[] = {"sgd", "momentum", "rmsprop", "adam"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}
