#include "cliargs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostlog.h"

/* s as a whole number >= 0 (no sign, nothing after it); 0 or -1. */
static int parse_u64(uint64_t *out, const char *s)
{
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] < '0' || s[0] > '9') // no sign, no blank before it
        return -1;
    *out = v;
    return 0;
}

int cli_u64(uint64_t *out, const char *s, const char *name)
{
    if (parse_u64(out, s) != 0) {
        hostlog_usage("%s needs a whole number >= 0, not '%s'", name, s);
        return -1;
    }
    return 0;
}

int cli_u32(uint32_t *out, const char *s, const char *name, uint32_t lo, uint32_t hi)
{
    uint64_t v;
    if (parse_u64(&v, s) != 0 || v < lo || v > hi) {
        hostlog_usage("%s needs a whole number from %u to %u, not '%s'", name, lo, hi, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* The one syntax of a duration, for every command: "90" or "90s" seconds, "500ms", "10m" or "10min",
 * "2h" or "1.5h". *unit says whether a unit was written (generate reads a bare number as model steps). */
int cli_parse_seconds(const char *s, double *out, int *unit)
{
    static const struct {
        const char *suffix;
        double seconds;
    } units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"m", 60}, {"min", 60}, {"h", 3600}};
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || !isfinite(v) || s[0] == '-')
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            *out = v * units[i].seconds;
            if (unit)
                *unit = i > 0;
            return 0;
        }
    return -1;
}

int cli_duration(double *out, const char *s, const char *name, int above_zero)
{
    double v;
    if (cli_parse_seconds(s, &v, NULL) != 0 || (above_zero && !(v > 0))) {
        hostlog_usage("%s needs a duration%s such as 90s, 500ms, 1.5m or 2h, not '%s'", name,
                      above_zero ? " above 0" : "", s);
        return -1;
    }
    *out = v; /* 0: no limit, where 0 is allowed */
    return 0;
}

/* "npy or pgm", "svg, png or pdf": the names for a message. */
static void list_names(char *dst, size_t len, const char *prefix, const char *const *names, int n)
{
    size_t at = 0;
    dst[0] = '\0';
    for (int i = 0; i < n && at < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int k = snprintf(dst + at, len - at, "%s%s%s", sep, prefix, names[i]);
        if (k < 0)
            break;
        at += (size_t)k;
    }
}

int cli_output_format(const char *out, const char *given, const char *const *names, int n, int fallback,
                      const char *cmd)
{
    char known[128];
    int g = -1, e = -1;
    if (given) {
        for (int i = 0; i < n && g < 0; i++)
            if (strcasecmp(given, names[i]) == 0)
                g = i;
        if (g < 0) {
            list_names(known, sizeof known, "", names, n);
            hostlog_usage("%s: --format is %s, not '%s'", cmd, known, given);
            return -1;
        }
    }
    // the extension of the last path component; '-' and names without one have none
    const char *base = strrchr(out, '/');
    base = base ? base + 1 : out;
    const char *dot = strcmp(out, "-") == 0 ? NULL : strrchr(base, '.');
    if (dot == base)
        dot = NULL; // a hidden file's name, not an extension
    if (dot)
        for (int i = 0; i < n && e < 0; i++)
            if (strcasecmp(dot + 1, names[i]) == 0)
                e = i;
    if (e >= 0 && g >= 0 && e != g) {
        hostlog_usage("%s: --format %s, but %s ends in .%s", cmd, names[g], out, names[e]);
        return -1;
    }
    if (e >= 0 || g >= 0)
        return e >= 0 ? e : g;
    if (!dot && fallback >= 0)
        return fallback;
    list_names(known, sizeof known, ".", names, n);
    if (dot)
        hostlog_usage("%s: the format follows the output's extension, %s; '%s' is none of them (or give --format)",
                      cmd, known, out);
    else
        hostlog_usage("%s: the format follows the output's extension, %s; '%s' has none: give --format", cmd, known,
                      out);
    return -1;
}
