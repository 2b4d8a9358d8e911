/* rnnhost transcribe: the inputs, files and folders, as jobs, and the names of their outputs. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "par.h"
#include "transcribe.h"

/* The endings of the sound files a folder is searched for (files named on the command line are read whatever
 * their name). */
#define AUDIO_SUFFIXES \
    ".wav|.wave|.flac|.ogg|.oga|.opus|.aif|.aiff|.aifc|.au|.snd|.caf|.w64|.rf64|.mp3|.voc|.sf|.htk|.paf|.mat"

/* Rank 0 says a line for every rank: a usage line or an error line. */
static void lead_say(int usage, const char *fmt, va_list ap)
{
    char line[2048];
    if (par_rank() != 0)
        return;
    host_vfmt(line, sizeof line, fmt, ap);
    if (usage)
        hostlog_usage("%s", line);
    else
        hostlog_error("%s", line);
}

void tx_lead_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lead_say(1, fmt, ap);
    va_end(ap);
}

void tx_lead_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lead_say(0, fmt, ap);
    va_end(ap);
}

static char *strip_ext(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t len = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path) : strlen(path);
    return strndup(path, len);
}

static int add_job(run *r, const char *path, const char *rel)
{
    if (r->n == r->cap) {
        size_t c = r->cap ? r->cap * 2 : 64;
        job *g = realloc(r->jobs, c * sizeof *g);
        if (!g)
            return -1;
        r->jobs = g, r->cap = c;
    }
    job *j = &r->jobs[r->n];
    memset(j, 0, sizeof *j);
    if (!(j->path = strdup(path)))
        return -1;
    if (strcmp(path, "-") == 0) {
        j->stem = strdup(r->out_dir ? "stdin" : "-");
    } else if (r->out_dir) {
        char *s = strip_ext(rel);
        size_t len = strlen(r->out_dir) + strlen(s ? s : "") + 2;
        j->stem = s ? malloc(len) : NULL;
        if (j->stem)
            snprintf(j->stem, len, "%s/%s", r->out_dir, s);
        free(s);
    } else {
        j->stem = strip_ext(path);
    }
    if (!j->stem) {
        free(j->path);
        return -1;
    }
    r->n++;
    return 0;
}

/* Sound files below a folder, by name in each folder, down to 64 levels (links to folders are followed, so a
 * cycle must end somewhere); a folder that cannot be read stops the run rather than quietly shrinking it. */
static const dir_walk_options sound_walk = {
    .recurse = 1, .max_depth = 64, .suffixes = AUDIO_SUFFIXES, .suffix_nocase = 1, .strict_folders = 1,
};

/* A sound file found in a folder becomes a job; its name below the folder is kept for --output-dir. 0, or
 * 1 when memory runs out (dir_walk's own failures are -1). */
static int add_found(void *ctx, const dir_entry *e)
{
    return add_job(ctx, e->path, e->rel) == 0 ? 0 : 1;
}

/* The job's outputs go to the run's stream rather than to files of their own. */
int tx_to_stream(const run *r, const job *j)
{
    return r->output ? r->output_stream : !r->out_dir && strcmp(j->path, "-") == 0;
}

/* The extension of the first of the formats (for messages). */
static const char *first_extension(unsigned formats)
{
    unsigned fmt = 1;
    while (fmt < TX_VTT && !(formats & fmt))
        fmt <<= 1;
    return tx_extension(fmt);
}

/* What two outputs collide on: the stem, its folder made canonical when it exists (so "d/a" and "d/./a"
 * meet). malloc'd; NULL when out of memory. */
static char *stem_key(const char *stem)
{
    char *dir = path_dir(stem), *real = dir ? realpath(dir, NULL) : NULL, *key;
    const char *base = strrchr(stem, '/');
    base = base ? base + 1 : stem;
    if (real) {
        const size_t len = strlen(real) + strlen(base) + 2;
        if ((key = malloc(len)))
            snprintf(key, len, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    } else {
        key = strdup(stem);
    }
    free(dir), free(real);
    return key;
}

typedef struct stem_ref {
    char *key;
    size_t job;
} stem_ref;

static int cmp_ref(const void *a, const void *b)
{
    const stem_ref *x = a, *y = b;
    const int c = strcmp(x->key, y->key);
    return c ? c : (x->job > y->job) - (x->job < y->job);
}

/* The jobs that write files, sorted by stem_key; NULL when out of memory (*n is then 0). */
static stem_ref *stem_refs(const run *r, size_t *n)
{
    stem_ref *refs = calloc(r->n + 1, sizeof *refs);
    *n = 0;
    for (size_t i = 0; refs && i < r->n; i++) {
        if (tx_to_stream(r, &r->jobs[i]))
            continue;
        if (!(refs[*n].key = stem_key(r->jobs[i].stem))) {
            for (size_t k = 0; k < *n; k++)
                free(refs[k].key);
            free(refs);
            *n = 0;
            return NULL;
        }
        refs[(*n)++].job = i;
    }
    if (refs)
        qsort(refs, *n, sizeof *refs, cmp_ref);
    return refs;
}

static void refs_free(stem_ref *refs, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(refs[k].key);
    free(refs);
}

/* Two inputs would write the same outputs: a usage line naming both. */
static void collision(const run *r, const job *x, const job *y)
{
    tx_lead_usage("transcribe: %s and %s would both write %s.%s (an output never replaces another input's): "
                  "give them different --output-dir folders, or rename one", x->path, y->path, x->stem,
                  first_extension(r->formats));
}

/* The extension of the input (".wav"), or "" without one. */
static const char *input_ext(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash + 1) ? dot : "";
}

/* No input's outputs may overwrite another's. Inputs whose outputs would share a name but whose own
 * extensions differ keep their extension in it (a.wav and a.flac write a.wav.txt and a.flac.txt); inputs
 * that collide otherwise (one file given twice, or two folders holding e01.wav with one --output-dir) are
 * a usage error naming both. 0, -1 after the usage line, -2 when out of memory. */
static int outputs_apart(run *r)
{
    size_t n;
    stem_ref *refs = stem_refs(r, &n);
    int rc = 0;
    if (!refs)
        return -2;
    for (size_t a = 0, b; a < n && rc == 0; a = b) {
        for (b = a + 1; b < n && strcmp(refs[b].key, refs[a].key) == 0; b++)
            ;
        for (size_t k = a; k < b && rc == 0; k++) /* the extension tells them apart only if it differs */
            for (size_t m = a; m < k && rc == 0; m++)
                if (strcmp(input_ext(r->jobs[refs[k].job].path), input_ext(r->jobs[refs[m].job].path)) == 0) {
                    collision(r, &r->jobs[refs[m].job], &r->jobs[refs[k].job]);
                    rc = -1;
                }
        for (size_t k = a; k < b && b - a > 1 && rc == 0; k++) {
            job *j = &r->jobs[refs[k].job];
            const char *ext = input_ext(j->path);
            const size_t len = strlen(j->stem) + strlen(ext) + 1;
            char *stem = malloc(len);
            if (!stem) {
                rc = -2;
                break;
            }
            snprintf(stem, len, "%s%s", j->stem, ext);
            free(j->stem);
            j->stem = stem;
        }
        if (rc == 0 && b - a > 1 && !r->quiet)
            hostlog_info("%s and %zu more input%s differ only in extension; each output keeps its input's (%s.%s)",
                         r->jobs[refs[a].job].path, b - a - 1, b - a > 2 ? "s" : "", r->jobs[refs[a].job].stem,
                         first_extension(r->formats));
    }
    refs_free(refs, n);
    if (rc != 0)
        return rc;
    /* a kept extension may meet another input's name (a.wav beside a.wav.wav) */
    if (!(refs = stem_refs(r, &n)))
        return -2;
    for (size_t k = 1; k < n && rc == 0; k++)
        if (strcmp(refs[k].key, refs[k - 1].key) == 0) {
            collision(r, &r->jobs[refs[k - 1].job], &r->jobs[refs[k].job]);
            rc = -1;
        }
    refs_free(refs, n);
    return rc;
}

int tx_mkdirs_for(const char *file)
{
    char *d = strdup(file);
    if (!d)
        return -1;
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(d, 0777) != 0 && errno != EEXIST) {
            free(d);
            return -1;
        }
        *p = '/';
    }
    free(d);
    return 0;
}

char *tx_out_path(const run *r, const job *j, unsigned fmt)
{
    if (r->output)
        return strdup(r->output);
    size_t len = strlen(j->stem) + 8;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s.%s", j->stem, tx_extension(fmt));
    return p;
}

/* Before a message, the progress line left open on a terminal (tx_print_progress) is cleared, so the message
 * stands on a line of its own. */
int tx_list_inputs(run *r, char **args, int n_args, size_t window)
{
    for (int i = 0; i < n_args; i++) {
        struct stat st;
        const char *a = args[i];
        if (strcmp(a, "-") != 0 && stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
            size_t before = r->n;
            char *trimmed = strdup(a);
            if (!trimmed)
                goto oom;
            for (size_t k = strlen(trimmed); k > 1 && trimmed[k - 1] == '/'; k--)
                trimmed[k - 1] = '\0';
            char why_dir[1024];
            const int arc = dir_walk(trimmed, &sound_walk, add_found, r, why_dir, sizeof why_dir);
            free(trimmed);
            if (arc == -1) {
                tx_lead_error("%s", why_dir);
                return EXIT_FAIL;
            }
            if (arc != 0)
                goto oom;
            if (r->n == before && r->lead)
                hostlog_info("%s: no sound files in this folder", a);
        } else {
            /* a missing or unreadable file is a failed file of the batch, reported like any other */
            const char *slash = strrchr(a, '/');
            if (add_job(r, a, slash ? slash + 1 : a) != 0)
                goto oom;
        }
    }
    if (r->n == 0) {
        tx_lead_error("nothing to transcribe");
        return EXIT_FAIL;
    }
    r->output_stream = r->output && output_is_stream(r->output);
    if (r->output && !r->output_stream && r->n > 1) {
        tx_lead_usage("-o FILE takes one input; use --output-dir or -o - for %zu", r->n);
        return EXIT_USAGE;
    }
    if (!r->output) {
        const int apart = outputs_apart(r);
        if (apart == -2)
            goto oom;
        if (apart != 0)
            return EXIT_USAGE;
    }

    /* a window of many files per job, so the pause at each window's end (the slowest file of it) is rare */
    r->results = calloc(r->n < window ? r->n : window, sizeof *r->results);
    r->paths = calloc(r->n, sizeof *r->paths);
    r->which = calloc(r->n, sizeof *r->which);
    r->finished = calloc(r->n, 1);
    r->fail_file = calloc(r->n, sizeof *r->fail_file);
    r->fail_error = calloc(r->n, sizeof *r->fail_error);
    if (!r->results || !r->paths || !r->which || !r->finished || !r->fail_file || !r->fail_error)
        goto oom;
    /* before any rank writes anything (the ranks meet next), so every rank finds the same outputs */
    for (size_t i = 0; i < r->n; i++) {
        job *j = &r->jobs[i];
        if (r->skip_existing && !tx_to_stream(r, j)) {
            int all = 1;
            for (unsigned fmt = 1; fmt <= TX_VTT && all; fmt <<= 1)
                if (r->formats & fmt) {
                    char *p = tx_out_path(r, j, fmt);
                    all = p && access(p, F_OK) == 0;
                    free(p);
                }
            if (all) {
                j->skipped = 1;
                continue;
            }
        }
        r->paths[r->n_todo] = j->path;
        r->which[r->n_todo++] = i;
    }
    if (!r->quiet && r->n_todo < r->n)
        hostlog_info("%zu of %zu files already have their outputs (--skip-existing)", r->n - r->n_todo, r->n);
    return 0;
oom:
    hostlog_error("out of memory");
    return EXIT_FAIL;
}
