/* Option tables: one table per command drives its parsing, its --help and its defaults, so that a default
 * is written once, in the initialiser of a defaults struct, and the help printer reads it from there (the
 * shape of whisper.cpp's params struct and usage printer).
 *
 *   cli_option   one option: long name, short name, kind, the offset of its field in a struct, the name of
 *                its value and its help text (which says what special values mean: "0: no limit")
 *   cli_section  a title and a list of options over one struct type; a command's own options are one or a
 *                few sections, and optgroups.h has the groups several commands share (model, plugin path,
 *                optimiser, stopping, sampling)
 *   cli_group    a section bound to the struct that receives the values (fields), the struct that holds the
 *                defaults (defaults), and, after parsing, the options that were given (given: bit i for
 *                options[i])
 *
 * A command's table is an array of groups. cli_parse copies every default into its field, runs getopt_long
 * over the table, checks each value against its kind and range (one usage line naming the option as the
 * user wrote it: "-n needs a whole number >= 0, not '-5'"), and leaves positional arguments at
 * argv[*first..argc). cli_help prints the table, each default read from the group's defaults. A command
 * whose defaults depend on a value it parses (train's --task) parses once, points the groups at the
 * defaults that value selects, and calls cli_fill_defaults: every field the user did not give takes its
 * new default. cli_was_given says whether the option behind a field was given.
 *
 * Converting a command: a struct of its options (holding, as members, the structs of the shared sections
 * it takes) and a const instance holding the defaults, the table of its own options, its --help page
 * (cli_page: the text around the table, its own options and its parts, the shared sections), and
 * cli_start_page. A command whose table is assembled at run time builds an array of groups and calls
 * cli_start.
 * Everything here runs on the main thread at start-up; nothing is allocated after cli_parse returns.
 */
#ifndef RNNHOST_CLIOPTS_H
#define RNNHOST_CLIOPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cli_kind {
    CLI_FLAG,     /* int: 1 when given; takes no value */
    CLI_STRING,   /* const char *: the argument as given (it points into argv) */
    CLI_U32,      /* uint32_t: a whole number from min to max */
    CLI_U64,      /* uint64_t: a whole number >= 0 */
    CLI_NUMBER,   /* double: a finite number from min to max (CLI_BELOW_MAX: below max) */
    CLI_DURATION, /* double: seconds, from "90", "90s", "500ms", "10m", "2h" or "1.5h" (cliargs.h) */
    CLI_CHOICE,   /* int: the index of the argument in choices */
    CLI_CONST,    /* double: takes no value and sets the field to min (--argmax: temperature 0) */
    CLI_CUSTOM,   /* size bytes: whatever parse writes; show prints the default */
} cli_kind;

enum {
    CLI_BELOW_MAX = 1u << 0,  /* CLI_NUMBER: max itself is out of range */
    CLI_ABOVE_ZERO = 1u << 1, /* CLI_DURATION: 0 is out of range (without it, 0 usually means no limit) */
    /* Bits from 8 up are the command's own: train marks the options a model or a checkpoint fixes. */
    CLI_USER = 1u << 8,
};

typedef struct cli_option {
    const char *name;   /* the long name without "--"; NULL ends a section */
    int short_name;     /* 'o' for -o; 0 for none */
    cli_kind kind;
    size_t offset;      /* of the field in the section's struct */
    const char *arg;    /* the value's name in --help: "N", "FILE|-" (NULL for flags) */
    const char *help;   /* what it does, with the meaning of special values; --help wraps it */
    /* How --help shows the default: NULL "(default: VALUE)"; "" not at all; otherwise a text that is shown
     * instead, whose first "%s" (if any) stands for the value: "%s unless --max-steps is given, then 0". A
     * flag and a string whose default is NULL show none unless shown says one. */
    const char *shown;
    double min, max;              /* CLI_U32 and CLI_NUMBER: the range; CLI_CONST: the value it sets */
    const char *const *choices;   /* CLI_CHOICE: the names, NULL-terminated */
    /* CLI_CUSTOM: parse writes the field from the argument (0), or says why in one usage line (-1); show
     * writes the field's value as --help shows it. size is the field's size, for copying defaults. */
    int (*parse)(void *field, const char *arg, const char *name);
    void (*show)(char *buf, size_t len, const void *field);
    size_t size;
    unsigned flags;               /* CLI_* above, and the command's own from CLI_USER up */
} cli_option;

typedef struct cli_section {
    const char *title;          /* the heading in --help; NULL: the options follow the previous section's */
    const cli_option *options;  /* ended by an option whose name is NULL; at most 64 */
} cli_section;

typedef struct cli_group {
    const cli_section *section;
    void *fields;               /* the struct the options' offsets point into */
    const void *defaults;       /* a struct of the same type holding the defaults */
    uint64_t given;             /* set by cli_parse: bit i when section->options[i] was given */
    int hidden;                 /* parsed but left out of --help (a command shows it on another page) */
} cli_group;

enum { CLI_OK = 0, CLI_HELP = 1, CLI_ERROR = -1 };

/* Parses argv[1..argc) (argv[0] is the command's name) by the table: every field gets its default, then
 * each option given sets its field. Options and positional arguments may come in any order; the
 * positional ones end up in argv[*first..argc). Returns CLI_OK, CLI_HELP when -h or --help was given (the
 * caller prints its help and exits 0; every other option is parsed all the same), or CLI_ERROR after one
 * usage line. Any number of groups; options' names must be unique across them. */
int cli_parse(cli_group *groups, size_t n, int argc, char **argv, int *first);

/* A command's --help page made at run time: its usage line and what it does, cli_help(f, groups, n), and what
 * follows. */
typedef void cli_usage_fn(FILE *f, const cli_group *groups, size_t n);

/* A command's --help page as data: head (its usage line and what it does), the table of its options
 * (cli_help), then tail (NULL: nothing); or, when print is set, what print writes. own is the section of
 * the command's own options, which its group binds ({&page.own, &o, &defaults, 0, 0}): a command whose
 * options are one table needs no section of its own. */
/* A shared section (optgroups.h) that a member of a command's options struct receives. */
typedef struct cli_part {
    const cli_section *section;
    size_t offset;          /* of the member in the command's options struct */
    const void *defaults;   /* the member's defaults: a struct of its type */
} cli_part;
#define CLI_MAX_PARTS 4

typedef struct cli_page {
    const char *head;
    const char *tail;
    cli_usage_fn *print;
    cli_section own;
    /* The shared sections, in the order --help shows them after the command's own (the first whose
     * section is NULL ends them): see cli_start_page. */
    cli_part parts[CLI_MAX_PARTS];
} cli_page;

/* A member of a command's options struct that a shared section fills: CLI_PART(gen_opts, sampling,
 * opt_sampling_section, opt_sampling_defaults). */
#define CLI_PART(type, member, section, defaults) {&(section), offsetof(type, member), &(defaults)}

void cli_print_page(FILE *f, const cli_page *page, const cli_group *groups, size_t n);

/* What every command does first: cli_parse, then on -h or --help its page on stdout. Returns -1 when the
 * command goes on (its positional arguments at argv[*first..argc)), otherwise its exit code: EXIT_OK after
 * the help, EXIT_USAGE after one usage line. first NULL: the command takes no positional arguments, and one
 * is a usage error ("plugins: unexpected argument 'x'"). */
int cli_start(cli_group *groups, size_t n, int argc, char **argv, int *first, const cli_page *page);

/* cli_start over the page's own options (into opts, from defaults) and its parts (each into its member of
 * opts, from its own defaults): a command whose table is fixed needs no array of groups. */
int cli_start_page(const cli_page *page, void *opts, const void *defaults, int argc, char **argv, int *first);

/* The number of groups in an array of them. */
#define CLI_COUNT(groups) (sizeof(groups) / sizeof((groups)[0]))

/* Sets every field whose option was not given to its group's default. */
void cli_fill_defaults(cli_group *groups, size_t n);

/* 1 when the option whose field is at `field` (inside one of the groups' fields) was given. */
int cli_was_given(const cli_group *groups, size_t n, const void *field);

/* The option called name (long name) and, in *group, the index of its group; NULL when none is. */
const cli_option *cli_find(const cli_group *groups, size_t n, const char *name, size_t *group);

/* Where an option's field is in a group's fields, or its default in the group's defaults. */
void *cli_field(const cli_group *g, const cli_option *o);
/* The bytes of an option's field (its kind's type; CLI_CUSTOM: its size). */
size_t cli_field_size(const cli_option *o);
const void *cli_default(const cli_group *g, const cli_option *o);

/* The option's value in fields (or defaults) as --help and messages show it: "0.002", "adam", "none". */
void cli_format(char *buf, size_t len, const cli_option *o, const void *field);

/* Prints the table's options, section by section (hidden groups left out), each with its help and its
 * default, then -h, --help. */
void cli_help(FILE *f, const cli_group *groups, size_t n);

/* How a section's option is written on the command line: "--rnn-size" (for messages). */
const char *cli_long(const cli_option *o);

/* The first option of g that was given, or NULL. */
const cli_option *cli_first_given(const cli_group *g);

/* ---- tables assembled at run time ----------------------------------------------------------------------- */

/* A command whose table depends on what else is linked in (train, eval and export take the sections of
 * every task) builds it here: groups are added in order, a section added again is kept once, and groups
 * added without fields get them from a struct made from their defaults, one per defaults struct, so that
 * sections over the same struct fill the same fields. */
#define CLI_MAX_GROUPS 24
typedef struct cli_table {
    cli_group g[CLI_MAX_GROUPS];
    size_t n;
    void *made[CLI_MAX_GROUPS];            /* the structs made here, and the defaults each was made from */
    const void *made_from[CLI_MAX_GROUPS];
    size_t n_made;
} cli_table;

/* Adds section s over fields, or (fields NULL) over the struct of size bytes made from defaults. The
 * group's index (the earlier one when s is already there), or -1 when the table is full or memory ran out. */
int cli_table_add(cli_table *t, const cli_section *s, void *fields, const void *defaults, size_t size);

/* The struct made from defaults, or NULL. */
void *cli_table_made(const cli_table *t, const void *defaults);

void cli_table_free(cli_table *t);

#endif /* RNNHOST_CLIOPTS_H */
