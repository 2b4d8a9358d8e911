/* host/meson.build passes _GNU_SOURCE; tests/load compiles this file with the corpus reader alone. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "dirwalk.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostlog.h"

typedef struct walk {
    const dir_walk_options *o;
    dir_visit visit;
    void *ctx;
    char *err;
    size_t err_len;
    size_t rel_at; /* where, in every path, the names below the folder given start */
} walk;

static int fail_errno(char *err, size_t err_len, const char *path, int e)
{
    host_fmt_errno(err, err_len, path, e);
    errno = e;
    return -1;
}

static int fail_memory(char *err, size_t err_len, const char *path)
{
    host_fmt(err, err_len, "%s: out of memory", path);
    errno = ENOMEM;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); // strcmp compares as unsigned char: bytewise
}

void dir_list_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

/* dir + '/' + name, without doubling a '/' that ends dir. */
static char *path_join(const char *dir, const char *name)
{
    const size_t dl = strlen(dir), nl = strlen(name);
    const size_t slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

static int is_hidden(const char *name, int hidden_wanted)
{
    if (name[0] != '.')
        return 0;
    const int dots = name[1] == '\0' || (name[1] == '.' && name[2] == '\0'); // never "." or ".."
    return dots || !hidden_wanted;
}

static int has_suffix(const char *name, const char *suffixes, int nocase)
{
    if (!suffixes)
        return 1;
    const size_t n = strlen(name);
    for (const char *s = suffixes; *s;) {
        const size_t k = strcspn(s, "|");
        if (n > k && (nocase ? strncasecmp(name + n - k, s, k) : strncmp(name + n - k, s, k)) == 0)
            return 1;
        s += k + (s[k] == '|');
    }
    return 0;
}

/* The names in dir that the walk may visit, sorted. 0; -1 when dir cannot be read (with err when strict, the
 * walk passing over it otherwise); -2 when memory runs out, which no walk passes over. errno says why. */
static int read_names(const walk *w, const char *dir, int strict, char ***names, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return strict ? fail_errno(w->err, w->err_len, dir, errno) : -1;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        const struct dirent *e = readdir(d);
        if (!e) {
            if (errno != 0 && strict)
                rc = fail_errno(w->err, w->err_len, dir, errno);
            break;
        }
        if (is_hidden(e->d_name, w->o->hidden))
            continue;
        if (n == cap) {
            const size_t c = cap ? 2 * cap : 64;
            char **grown = realloc(v, c * sizeof *grown);
            if (!grown) {
                fail_memory(w->err, w->err_len, dir);
                rc = -2;
                break;
            }
            v = grown, cap = c;
        }
        if (!(v[n] = strdup(e->d_name))) {
            fail_memory(w->err, w->err_len, dir);
            rc = -2;
            break;
        }
        n++;
    }
    const int saved = errno;
    closedir(d);
    if (rc != 0) {
        dir_list_free(v, n);
        errno = saved;
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_str);
    *names = v, *count = n;
    return 0;
}

static int walk_folder(const walk *w, const char *dir, unsigned depth);

/* What one name is, whether the walk visits it, and the walk below it when it is a folder. */
static int visit_name(const walk *w, const char *dir, const char *name, unsigned depth)
{
    const dir_walk_options *o = w->o;
    char *path = path_join(dir, name);
    if (!path)
        return fail_memory(w->err, w->err_len, dir);
    struct stat st;
    int rc = 0, link = 0;
    if (lstat(path, &st) != 0 || ((link = S_ISLNK(st.st_mode)) && o->list != DIR_EVERYTHING && stat(path, &st) != 0)) {
        rc = o->strict_entries ? fail_errno(w->err, w->err_len, path, errno) : 0;
        free(path);
        return rc;
    }
    const int folder = S_ISDIR(st.st_mode) && !(link && o->skip_linked_folders);
    int wanted;
    switch (o->list) {
    case DIR_FOLDERS: wanted = folder; break;
    case DIR_EVERYTHING: wanted = 1; break;
    default: wanted = S_ISREG(st.st_mode) && has_suffix(name, o->suffixes, o->suffix_nocase); break;
    }
    if (wanted) {
        const dir_entry e = {path, path + w->rel_at, name, &st};
        rc = w->visit(w->ctx, &e);
    }
    if (rc == 0 && folder && o->recurse && (o->max_depth == 0 || depth < o->max_depth))
        rc = walk_folder(w, path, depth + 1);
    free(path);
    return rc;
}

static int walk_folder(const walk *w, const char *dir, unsigned depth)
{
    char **names;
    size_t n;
    const int strict = depth == 0 || w->o->strict_folders;
    const int read = read_names(w, dir, strict, &names, &n);
    if (read != 0)
        return read == -1 && !strict ? 0 : -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = visit_name(w, dir, names[i], depth);
    dir_list_free(names, n);
    return rc;
}

int dir_walk(const char *dir, const dir_walk_options *opts, dir_visit visit, void *ctx, char *err, size_t err_len)
{
    static const dir_walk_options defaults;
    const size_t len = strlen(dir);
    const walk w = {opts ? opts : &defaults, visit, ctx, err, err_len, len + (len > 0 && dir[len - 1] != '/')};
    return walk_folder(&w, dir, 0);
}

typedef struct path_list {
    char **v;
    size_t n, cap;
    char *err;
    size_t err_len;
} path_list;

static int collect(void *ctx, const dir_entry *e)
{
    path_list *l = ctx;
    if (l->n == l->cap) {
        const size_t c = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->v, c * sizeof *grown);
        if (!grown)
            return fail_memory(l->err, l->err_len, e->path);
        l->v = grown, l->cap = c;
    }
    if (!(l->v[l->n] = strdup(e->path)))
        return fail_memory(l->err, l->err_len, e->path);
    l->n++;
    return 0;
}

int dir_list(char ***paths, size_t *n, const char *dir, const dir_walk_options *opts, char *err, size_t err_len)
{
    path_list l = {NULL, 0, 0, err, err_len};
    *paths = NULL, *n = 0;
    if (dir_walk(dir, opts, collect, &l, err, err_len) != 0) {
        const int saved = errno;
        dir_list_free(l.v, l.n);
        errno = saved;
        return -1;
    }
    // Each folder's names are in order, but a walk is not in path order: "a" and its "a/y" come before "a-b"
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, cmp_str);
    *paths = l.v, *n = l.n;
    return 0;
}
