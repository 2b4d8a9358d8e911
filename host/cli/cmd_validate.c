/* rnnhost validate: loads one plugin and runs every check on it, each in a forked child with a time
 * limit, so a plugin that crashes or hangs fails a named check and the run still ends in a summary. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "dirwalk.h"
#include "hostlog.h"
#include "jsonout.h"
#include "interrupt.h"
#include "loader.h"
#include "optgroups.h"
#include "validate.h"


static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct check_report {
    int32_t failed; /* 0 pass, 1 fail */
    char detail[1000];
} check_report;

/* s as a whole number >= 0 in C's notation (decimal, 0x hex or 0 octal, as the seeds in plugin authors'
 * reports are written); 0 or -1. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_seed(void *field, const char *arg, const char *name)
{
    if (parse_u64(arg, field) != 0) {
        hostlog_usage("validate: %s wants a non-negative integer, not '%s'", name, arg);
        return -1;
    }
    return 0;
}

static int parse_timeout(void *field, const char *arg, const char *name)
{
    uint64_t v;
    if (parse_u64(arg, &v) != 0 || v == 0 || v > 86400) {
        hostlog_usage("validate: %s wants seconds in 1..86400, not '%s'", name, arg);
        return -1;
    }
    *(unsigned *)field = (unsigned)v;
    return 0;
}

static void show_seed(char *buf, size_t len, const void *field)
{
    host_fmt(buf, len, "%llu", (unsigned long long)*(const uint64_t *)field);
}

static void show_timeout(char *buf, size_t len, const void *field)
{
    host_fmt(buf, len, "%u", *(const unsigned *)field);
}

typedef struct validate_opts {
    const char *model;   /* NULL: every model */
    const char *core, *options;
    uint64_t seed;
    unsigned timeout;    /* seconds per check */
    opt_json json;
    opt_plugin plugin;
} validate_opts;

static const validate_opts defaults = {.core = "gru", .seed = 1, .timeout = 120};

static const cli_option options[] = {
    {.name = "seed", .kind = CLI_CUSTOM, .offset = offsetof(validate_opts, seed), .arg = "N",
     .help = "seed of every random input and parameter", .parse = parse_seed, .show = show_seed,
     .size = sizeof(uint64_t)},
    {.name = "model", .kind = CLI_STRING, .offset = offsetof(validate_opts, model), .arg = "ID",
     .help = "check only this model of the plugin", .shown = "every model"},
    {.name = "core", .kind = CLI_STRING, .offset = offsetof(validate_opts, core), .arg = "ID",
     .help = "config.core for composite models"},
    {.name = "options", .kind = CLI_STRING, .offset = offsetof(validate_opts, options), .arg = "STRING",
     .help = "config.options for every model checked, \"key=value;...\"", .shown = "none"},
    {.name = "timeout", .kind = CLI_CUSTOM, .offset = offsetof(validate_opts, timeout), .arg = "SECONDS",
     .help = "time limit of each check, 1-86400", .parse = parse_timeout, .show = show_timeout,
     .size = sizeof(unsigned)},
    {0},
};

static void validate_help(FILE *f, const cli_group *groups, size_t n)
{
    size_t i;
    fprintf(f, "usage: rnnhost validate PLUGIN [OPTIONS]\n"
               "\n"
               "Runs the conformance checks on a plugin. PLUGIN is a path when it contains a '/', else a plugin\n"
               "id or model id found on the search path. Each check runs in its own process with a time limit.\n"
               "\n");
    cli_help(f, groups, n);
    fprintf(f, "\nChecks:");
    for (i = 0; i < validate_num_checks; i++)
        fprintf(f, "%s %s", i ? "," : "", validate_checks[i].name);
    fprintf(f, "\n\nExit status: 0 every check passed, 1 a check failed, 2 usage error, 3 the plugin could not be "
               "loaded.\n");
}
static const cli_page page = {
    .print = validate_help,
    .own = {NULL, options},
    .parts = {CLI_PART(validate_opts, json, opt_json_section, opt_json_defaults),
              CLI_PART(validate_opts, plugin, opt_plugin_section, opt_plugin_defaults)},
};

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGTRAP: return "SIGTRAP";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    default: return NULL;
    }
}

static void run_child(const validate_ctx *ctx, const check_def *check, const validate_case *vc, unsigned timeout,
                      int fd)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    check_report rep;
    rh_rng rng;
    uint64_t seed = ctx->seed;
    const char *s;
    size_t i, off = 0;
    /* Sanitizer runtimes catch SIGSEGV and exit with their own status; the default action lets the
     * parent name the signal, which is what the user needs to hear about a plugin. */
    for (i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    alarm(timeout);
    ctx->registry->capture_log = 1;
    /* Each check draws from its own stream, so results do not depend on which checks ran before. */
    for (s = check->name; *s; s++)
        seed = seed * 1099511628211u ^ (unsigned char)*s;
    for (s = vc->model ? vc->model->id : ""; *s; s++)
        seed = seed * 1099511628211u ^ (unsigned char)*s;
    seed = seed * 31u + vc->config.input_kind;
    rh_rng_seed(&rng, seed);
    memset(&rep, 0, sizeof rep);
    rep.failed = check->run(ctx, vc, &rng, rep.detail, sizeof rep.detail) != 0;
    while (off < sizeof rep) {
        ssize_t w = write(fd, (const char *)&rep + off, sizeof rep - off);
        if (w <= 0 && errno != EINTR)
            _exit(98);
        if (w > 0)
            off += (size_t)w;
    }
    _exit(0);
}

static void run_one(check_report *rep, const validate_ctx *ctx, const check_def *check, const validate_case *vc,
                    unsigned timeout)
{
    int fds[2], status = 0;
    size_t got = 0;
    pid_t pid;
    memset(rep, 0, sizeof *rep);
    rep->failed = 1;
    if (interrupted) {
        host_fmt(rep->detail, sizeof rep->detail, "interrupted");
        return;
    }
    if (pipe(fds) != 0) {
        host_fmt(rep->detail, sizeof rep->detail, "cannot create a pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        host_fmt(rep->detail, sizeof rep->detail, "cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(ctx, check, vc, timeout, fds[1]);
    }
    close(fds[1]);
    while (got < sizeof *rep) {
        ssize_t r = read(fds[0], (char *)rep + got, sizeof *rep - got);
        if (interrupted) {
            kill(pid, SIGKILL);
            break;
        }
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
        if (r > 0)
            got += (size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got == sizeof *rep && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rep->detail[sizeof rep->detail - 1] = '\0';
        rep->failed = rep->failed != 0;
        return;
    }
    rep->failed = 1;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        host_fmt(rep->detail, sizeof rep->detail, "timed out after %u s", timeout);
    } else if (WIFSIGNALED(status)) {
        const char *name = signal_name(WTERMSIG(status));
        if (name)
            host_fmt(rep->detail, sizeof rep->detail, "crashed with %s", name);
        else
            host_fmt(rep->detail, sizeof rep->detail, "crashed with signal %d", WTERMSIG(status));
    } else {
        /* e.g. a sanitizer found a memory error and exited, or the plugin called exit() */
        host_fmt(rep->detail, sizeof rep->detail, "crashed: the check's process exited with status %d before "
                 "reporting", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

typedef struct run_totals {
    unsigned passed, failed;
    cJSON *checks; /* NULL in text mode */
} run_totals;

static void report(run_totals *tot, const check_def *check, const validate_case *vc, const check_report *rep)
{
    const char *model = vc->model ? vc->model->id : NULL;
    const char *config = vc->config_label[0] ? vc->config_label : NULL;
    if (rep->failed)
        tot->failed++;
    else
        tot->passed++;
    if (tot->checks) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", check->name);
        if (model)
            cJSON_AddStringToObject(o, "model", model);
        else
            cJSON_AddNullToObject(o, "model");
        if (config)
            cJSON_AddStringToObject(o, "config", config);
        else
            cJSON_AddNullToObject(o, "config");
        cJSON_AddStringToObject(o, "status", rep->failed ? "fail" : "pass");
        cJSON_AddStringToObject(o, "detail", rep->detail);
        cJSON_AddItemToArray(tot->checks, o);
        return;
    }
    printf("%s %s (%s%s%s): %s\n", rep->failed ? "FAIL" : "PASS", check->name, model ? model : "plugin",
           config ? ", " : "", config ? config : "", rep->detail);
    fflush(stdout);
}

static int unlink_entry(void *ctx, const dir_entry *e)
{
    (void)ctx;
    unlink(e->path);
    return 0;
}

/* Checks unlink their own files; a crashed check may leave one behind. Only flat files live here, hidden
 * ones included. */
static void remove_tmpdir(const char *dir)
{
    static const dir_walk_options every_entry = {.list = DIR_EVERYTHING, .hidden = 1};
    dir_walk(dir, &every_entry, unlink_entry, NULL, NULL, 0);
    rmdir(dir);
}

int cmd_validate(int argc, char **argv)
{
    validate_opts o;
    const char *target;
    int first, rc = EXIT_FAIL;
    plugin_registry reg;
    validate_ctx ctx;
    host_plugin *p;
    run_totals tot;
    char why[512], tmpdir[] = "/tmp/rnnhost-validate-XXXXXX";
    cJSON *root = NULL;
    size_t ci;
    uint32_t mi, any_model = 0;

    const int started = cli_start_page(&page, &o, &defaults, argc, argv, &first);
    if (started >= 0)
        return started;
    if (first != argc - 1) {
        hostlog_usage(first >= argc ? "validate: which plugin? (a path, a plugin id or a model id)"
                                    : "validate: one plugin at a time");
        return EXIT_USAGE;
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.core = o.core;
    ctx.options = o.options;
    target = argv[first];
    if (registry_init(&reg, o.plugin.path) != 0) {
        registry_free(&reg);
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    if (strchr(target, '/')) {
        if (!(p = registry_load_file(&reg, target, why, sizeof why))) {
            hostlog_error("cannot load plugin %s: %s", target, why);
            registry_free(&reg);
            return EXIT_LOAD;
        }
    } else if (!(p = registry_find(&reg, target))) {
        size_t k;
        for (k = 0; k < reg.num_errors; k++)
            hostlog_error("cannot load plugin %s: %s", reg.errors[k].path, reg.errors[k].error);
        hostlog_error("no plugin or model '%s' on the search path (see 'rnnhost plugins')", target);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    if (o.model) {
        for (mi = 0; mi < p->num_models; mi++)
            any_model |= strcmp(p->models[mi].id, o.model) == 0;
        if (!any_model) {
            hostlog_error("plugin %s does not provide model '%s'", p->path, o.model);
            registry_free(&reg);
            return EXIT_LOAD;
        }
    }
    if (!mkdtemp(tmpdir)) {
        hostlog_error("cannot create a temporary directory: %s", strerror(errno));
        registry_free(&reg);
        return EXIT_FAIL;
    }
    ctx.registry = &reg, ctx.plugin = p, ctx.seed = o.seed, ctx.tmpdir = tmpdir;
    /* No SA_RESTART: the wait for a check's report must wake up so the scratch directory is removed. */
    host_on_interrupt(on_interrupt, 0);
    memset(&tot, 0, sizeof tot);
    if (o.json.on) {
        root = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "schema", 1);
        cJSON_AddStringToObject(root, "plugin", p->id);
        cJSON_AddStringToObject(root, "path", p->path);
        cJSON_AddNumberToObject(root, "abi_version", p->entry.abi_version);
        cJSON_AddNumberToObject(root, "seed", (double)o.seed);
        tot.checks = cJSON_AddArrayToObject(root, "checks");
    }

    for (ci = 0; ci < validate_num_checks && !interrupted; ci++) {
        const check_def *check = &validate_checks[ci];
        check_report rep;
        validate_case vc;
        if (check->scope == CHECK_PER_PLUGIN) {
            memset(&vc, 0, sizeof vc);
            run_one(&rep, &ctx, check, &vc, o.timeout);
            report(&tot, check, &vc, &rep);
            continue;
        }
        for (mi = 0; mi < p->num_models; mi++) {
            const host_model_desc *m = &p->models[mi];
            uint32_t kind;
            if (o.model && strcmp(m->id, o.model) != 0)
                continue;
            if (check->scope == CHECK_PER_MODEL) {
                memset(&vc, 0, sizeof vc);
                vc.model = m;
                run_one(&rep, &ctx, check, &vc, o.timeout);
                report(&tot, check, &vc, &rep);
                continue;
            }
            for (kind = RH_INPUT_DENSE; kind <= RH_INPUT_TOKENS; kind <<= 1) {
                if (!(m->input_kinds & kind))
                    continue;
                validate_make_case(&vc, &ctx, m, kind);
                run_one(&rep, &ctx, check, &vc, o.timeout);
                report(&tot, check, &vc, &rep);
            }
        }
    }
    remove_tmpdir(tmpdir);
    if (interrupted) {
        hostlog_error("validate: interrupted");
        cJSON_Delete(root);
        registry_free(&reg);
        return EXIT_INTERRUPTED;
    }

    if (root) {
        cJSON_AddNumberToObject(root, "passed", tot.passed);
        cJSON_AddNumberToObject(root, "failed", tot.failed);
        json_print(root, 1, 1);
    } else {
        printf("%u passed, %u failed\n", tot.passed, tot.failed);
    }
    rc = tot.failed ? EXIT_FAIL : EXIT_OK;
    registry_free(&reg);
    return rc;
}
