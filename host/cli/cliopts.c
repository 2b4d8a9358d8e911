#include "cliopts.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cliargs.h"
#include "hostlog.h"

#define HELP_WIDTH 100 /* columns --help wraps at */
#define HELP_COLUMN 30 /* where help texts start, unless every option's name is shorter */

size_t cli_field_size(const cli_option *o)
{
    switch (o->kind) {
    case CLI_FLAG:
    case CLI_CHOICE: return sizeof(int);
    case CLI_STRING: return sizeof(const char *);
    case CLI_U32: return sizeof(uint32_t);
    case CLI_U64: return sizeof(uint64_t);
    case CLI_NUMBER:
    case CLI_DURATION:
    case CLI_CONST: return sizeof(double);
    case CLI_CUSTOM: return o->size;
    }
    return 0;
}

void *cli_field(const cli_group *g, const cli_option *o)
{
    return (char *)g->fields + o->offset;
}

const void *cli_default(const cli_group *g, const cli_option *o)
{
    return (const char *)g->defaults + o->offset;
}

const char *cli_long(const cli_option *o)
{
    static char name[80];
    host_fmt(name, sizeof name, "--%s", o->name);
    return name;
}

/* Another option of g writing the same field was given (--argmax beside --temperature). */
static int field_given(const cli_group *g, size_t offset)
{
    for (size_t i = 0; g->section->options[i].name; i++)
        if ((g->given >> i & 1) && g->section->options[i].offset == offset)
            return 1;
    return 0;
}

void cli_fill_defaults(cli_group *groups, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const cli_group *g = &groups[k];
        for (size_t i = 0; g->section->options[i].name; i++) {
            const cli_option *o = &g->section->options[i];
            if (!field_given(g, o->offset))
                memcpy(cli_field(g, o), cli_default(g, o), cli_field_size(o));
        }
    }
}

int cli_was_given(const cli_group *groups, size_t n, const void *field)
{
    for (size_t k = 0; k < n; k++) {
        const char *base = groups[k].fields;
        for (size_t i = 0; groups[k].section->options[i].name; i++)
            if (base + groups[k].section->options[i].offset == (const char *)field &&
                field_given(&groups[k], groups[k].section->options[i].offset))
                return 1;
    }
    return 0;
}

const cli_option *cli_find(const cli_group *groups, size_t n, const char *name, size_t *group)
{
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; groups[k].section->options[i].name; i++)
            if (strcmp(groups[k].section->options[i].name, name) == 0) {
                if (group)
                    *group = k;
                return &groups[k].section->options[i];
            }
    return NULL;
}

void cli_format(char *buf, size_t len, const cli_option *o, const void *field)
{
    switch (o->kind) {
    case CLI_FLAG: host_fmt(buf, len, "%s", *(const int *)field ? "on" : "off"); break;
    case CLI_STRING: {
        const char *s = *(const char *const *)field;
        host_fmt(buf, len, "%s", s ? s : "none");
        break;
    }
    case CLI_U32: host_fmt(buf, len, "%u", *(const uint32_t *)field); break;
    case CLI_U64: host_fmt(buf, len, "%llu", (unsigned long long)*(const uint64_t *)field); break;
    case CLI_NUMBER:
    case CLI_DURATION:
    case CLI_CONST: host_fmt(buf, len, "%g", *(const double *)field); break;
    case CLI_CHOICE: host_fmt(buf, len, "%s", o->choices[*(const int *)field]); break;
    case CLI_CUSTOM:
        if (o->show)
            o->show(buf, len, field);
        else
            host_fmt(buf, len, "?");
        break;
    }
}

/* "a, b or c" of a NULL-terminated list. */
static void list_choices(char *dst, size_t len, const char *const *names)
{
    size_t at = 0, n = 0;
    while (names[n])
        n++;
    dst[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        host_fmt(dst + at, len - at, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
        at += strlen(dst + at);
    }
}

/* The argument of option o, as the user named it (`name`), into field. 0, or -1 after one usage line. */
static int parse_value(void *field, const cli_option *o, const char *arg, const char *name)
{
    switch (o->kind) {
    case CLI_FLAG: *(int *)field = 1; return 0;
    case CLI_CONST: *(double *)field = o->min; return 0;
    case CLI_STRING: *(const char **)field = arg; return 0;
    case CLI_U32: return cli_u32(field, arg, name, (uint32_t)o->min, (uint32_t)o->max);
    case CLI_U64: return cli_u64(field, arg, name);
    case CLI_DURATION: return cli_duration(field, arg, name, (o->flags & CLI_ABOVE_ZERO) != 0);
    case CLI_CUSTOM: return o->parse(field, arg, name);
    case CLI_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (strcmp(arg, o->choices[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        {
            char known[160];
            list_choices(known, sizeof known, o->choices);
            hostlog_usage("%s: %s is %s, not '%s'", hostlog_command(), name, known, arg);
        }
        return -1;
    case CLI_NUMBER: {
        char *end;
        const double v = strtod(arg, &end);
        const int below = (o->flags & CLI_BELOW_MAX) != 0;
        if (end == arg || *end || !isfinite(v) || v < o->min || v > o->max || (below && v >= o->max)) {
            if (isinf(o->max) && o->min == 0)
                hostlog_usage("%s needs a non-negative number, not '%s'", name, arg);
            else
                hostlog_usage("%s needs a number from %g to %s%g, not '%s'", name, o->min, below ? "below " : "",
                              o->max, arg);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    }
    return -1;
}

int cli_parse(cli_group *groups, size_t n, int argc, char **argv, int *first)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        groups[k].given = 0;
        for (size_t i = 0; groups[k].section->options[i].name; i++)
            total++;
    }
    cli_fill_defaults(groups, n);
    struct option *lo = calloc(total + 2, sizeof *lo);
    size_t *owner = calloc(total + 1, sizeof *owner), *index = calloc(total + 1, sizeof *index);
    char *shorts = calloc(2 * total + 4, 1);
    int rc = CLI_ERROR, help = 0;
    if (!lo || !owner || !index || !shorts) {
        hostlog_error("out of memory");
        goto done;
    }
    size_t at = 0, sp = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; groups[k].section->options[i].name; i++, at++) {
            const cli_option *o = &groups[k].section->options[i];
            const int takes = o->kind != CLI_FLAG && o->kind != CLI_CONST;
            lo[at].name = o->name;
            lo[at].has_arg = takes ? required_argument : no_argument;
            lo[at].val = 256 + (int)at;
            owner[at] = k, index[at] = i;
            if (o->short_name) {
                shorts[sp++] = (char)o->short_name;
                if (takes)
                    shorts[sp++] = ':';
            }
        }
    lo[at].name = "help", lo[at].val = 'h';
    shorts[sp++] = 'h';
    opterr = 0;
    optind = 0; /* a full reset: glibc re-reads the ordering, so options may follow the positional arguments */
    for (;;) {
        int li = -1;
        const int c = getopt_long(argc, argv, shorts, lo, &li);
        if (c == -1)
            break;
        if (c == 'h') {
            help = 1;
            continue;
        }
        size_t g = total;
        if (c >= 256 && (size_t)(c - 256) < total) {
            g = (size_t)(c - 256);
        } else if (c != '?' && c != ':') {
            for (size_t j = 0; j < total && g == total; j++)
                if (groups[owner[j]].section->options[index[j]].short_name == c)
                    g = j;
        }
        if (g == total) {
            hostlog_usage("%s: unknown or incomplete option '%s'", hostlog_command(), argv[optind - 1]);
            goto done;
        }
        cli_group *grp = &groups[owner[g]];
        const cli_option *o = &grp->section->options[index[g]];
        char name[80];
        if (li >= 0)
            host_fmt(name, sizeof name, "--%s", o->name);
        else
            host_fmt(name, sizeof name, "-%c", o->short_name);
        if (parse_value(cli_field(grp, o), o, optarg, name) != 0)
            goto done;
        grp->given |= (uint64_t)1 << index[g];
    }
    *first = optind;
    rc = help ? CLI_HELP : CLI_OK;
done:
    free(lo), free(owner), free(index), free(shorts);
    return rc;
}

void cli_print_page(FILE *f, const cli_page *page, const cli_group *groups, size_t n)
{
    if (page->print) {
        page->print(f, groups, n);
        return;
    }
    fputs(page->head, f);
    cli_help(f, groups, n);
    if (page->tail)
        fputs(page->tail, f);
}

int cli_start(cli_group *groups, size_t n, int argc, char **argv, int *first, const cli_page *page)
{
    int at;
    const int rc = cli_parse(groups, n, argc, argv, &at);
    if (rc == CLI_HELP) {
        cli_print_page(stdout, page, groups, n);
        return EXIT_OK;
    }
    if (rc == CLI_ERROR)
        return EXIT_USAGE;
    if (!first && at < argc) {
        hostlog_usage("%s: unexpected argument '%s'", hostlog_command(), argv[at]);
        return EXIT_USAGE;
    }
    if (first)
        *first = at;
    return -1;
}

int cli_start_page(const cli_page *page, void *opts, const void *defaults, int argc, char **argv, int *first)
{
    cli_group groups[1 + CLI_MAX_PARTS] = {{&page->own, opts, defaults, 0, 0}};
    size_t n = 1;
    for (const cli_part *p = page->parts; p < page->parts + CLI_MAX_PARTS && p->section; p++)
        groups[n++] = (cli_group){p->section, (char *)opts + p->offset, p->defaults, 0, 0};
    return cli_start(groups, n, argc, argv, first, page);
}

const cli_option *cli_first_given(const cli_group *g)
{
    for (size_t i = 0; g->section->options[i].name; i++)
        if (g->given >> i & 1)
            return &g->section->options[i];
    return NULL;
}

/* ---- tables assembled at run time ------------------------------------------------------------------------ */

void *cli_table_made(const cli_table *t, const void *defaults)
{
    for (size_t i = 0; i < t->n_made; i++)
        if (t->made_from[i] == defaults)
            return t->made[i];
    return NULL;
}

int cli_table_add(cli_table *t, const cli_section *s, void *fields, const void *defaults, size_t size)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->g[i].section == s)
            return (int)i;
    if (t->n == CLI_MAX_GROUPS)
        return -1;
    if (!fields && !(fields = cli_table_made(t, defaults))) {
        if (!(fields = malloc(size)))
            return -1;
        memcpy(fields, defaults, size);
        t->made[t->n_made] = fields, t->made_from[t->n_made++] = defaults;
    }
    const cli_group g = {s, fields, defaults, 0, 0};
    t->g[t->n] = g;
    return (int)t->n++;
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->n_made; i++)
        free(t->made[i]);
    memset(t, 0, sizeof *t);
}

/* ---- --help ------------------------------------------------------------------------------------------ */

static int any_short(const cli_group *groups, size_t n)
{
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; !groups[k].hidden && groups[k].section->options[i].name; i++)
            if (groups[k].section->options[i].short_name)
                return 1;
    return 0;
}

/* "  -o, --output FILE" (or "      --plugin-path PATH" beside options with a short name). */
static void left_part(char *buf, size_t len, const cli_option *o, int shorts)
{
    char sh[8] = "";
    if (o->short_name)
        host_fmt(sh, sizeof sh, "-%c, ", o->short_name);
    else if (shorts)
        host_fmt(sh, sizeof sh, "    ");
    host_fmt(buf, len, "  %s--%s%s%s", sh, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* The default as --help says it, "" for none. */
static void default_text(char *buf, size_t len, const cli_group *g, const cli_option *o)
{
    char value[256];
    buf[0] = '\0';
    if (o->shown && !o->shown[0])
        return;
    cli_format(value, sizeof value, o, cli_default(g, o));
    if (!o->shown) {
        const int none = o->kind == CLI_FLAG || o->kind == CLI_CONST ||
                         (o->kind == CLI_STRING && !*(const char *const *)cli_default(g, o));
        if (!none)
            host_fmt(buf, len, "(default: %s)", value);
        return;
    }
    const char *at = strstr(o->shown, "%s");
    if (at)
        host_fmt(buf, len, "(default: %.*s%s%s)", (int)(at - o->shown), o->shown, value, at + 2);
    else
        host_fmt(buf, len, "(default: %s)", o->shown);
}

/* text, wrapped at HELP_WIDTH, its lines after the first indented to column col; the first line goes on
 * from column `at`. */
static void wrapped(FILE *f, const char *text, size_t at, size_t col)
{
    const char *p = text;
    int first = 1;
    while (*p) {
        while (*p == ' ')
            p++;
        const size_t word = strcspn(p, " ");
        if (!word)
            break;
        if (!first && at + 1 + word > HELP_WIDTH) {
            fprintf(f, "\n%*s", (int)col, "");
            at = col;
        } else if (!first) {
            fputc(' ', f);
            at++;
        }
        fwrite(p, 1, word, f);
        at += word;
        p += word;
        first = 0;
    }
    fputc('\n', f);
}

void cli_help(FILE *f, const cli_group *groups, size_t n)
{
    const int shorts = any_short(groups, n);
    const cli_option help = {.name = "help", .short_name = 'h'};
    char left[160], def[512], text[2048];
    /* the column fits -h, --help too: a table of one short option (--json) is narrower than it */
    left_part(left, sizeof left, &help, shorts);
    size_t col = strlen(left) + 2;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; !groups[k].hidden && groups[k].section->options[i].name; i++) {
            left_part(left, sizeof left, &groups[k].section->options[i], shorts);
            if (strlen(left) + 2 > col)
                col = strlen(left) + 2;
        }
    if (col > HELP_COLUMN)
        col = HELP_COLUMN;
    for (size_t k = 0; k < n; k++) {
        const cli_group *g = &groups[k];
        if (g->hidden)
            continue;
        if (g->section->title)
            fprintf(f, "%s\n", g->section->title);
        for (size_t i = 0; g->section->options[i].name; i++) {
            const cli_option *o = &g->section->options[i];
            left_part(left, sizeof left, o, shorts);
            default_text(def, sizeof def, g, o);
            host_fmt(text, sizeof text, "%s%s%s", o->help ? o->help : "", o->help && def[0] ? " " : "", def);
            size_t at = strlen(left);
            fputs(left, f);
            if (at + 1 > col) {
                fprintf(f, "\n%*s", (int)col, "");
            } else {
                fprintf(f, "%*s", (int)(col - at), "");
            }
            wrapped(f, text, col, col);
        }
    }
    left_part(left, sizeof left, &help, shorts);
    fprintf(f, "%-*s", (int)col, left);
    wrapped(f, "this help", col, col);
}
