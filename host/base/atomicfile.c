#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostlog.h"

/* Links followed before giving up, as the kernel's own limit for a path. */
#define MAX_LINKS 40

char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    const size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return NULL;
    memcpy(dir, !slash ? "." : slash == path ? "/" : path, n);
    dir[n] = '\0';
    return dir;
}

const char *output_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "standard output" : path;
}

/* The descriptor a name such as /dev/stdout, /dev/fd/3 or /proc/self/fd/3 stands for, or -1. Such a name
 * is written through the descriptor the process already holds: opening /proc/self/fd/1 anew would fail for
 * a socket and start at offset 0 of a file the shell opened for appending. */
static int named_fd(const char *p)
{
    static const char *dirs[] = {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"};
    if (strcmp(p, "/dev/stdout") == 0)
        return 1;
    if (strcmp(p, "/dev/stderr") == 0)
        return 2;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        const size_t n = strlen(dirs[i]);
        if (strncmp(p, dirs[i], n) != 0 || !p[n])
            continue;
        long fd = 0;
        for (const char *d = p + n; *d; d++) {
            if (*d < '0' || *d > '9' || fd > INT_MAX / 10)
                return -1;
            fd = fd * 10 + (*d - '0');
        }
        return (int)fd;
    }
    return -1;
}

/* Where output to path lands. Returns 0 with *fd >= 0 (an open descriptor's name) or *target (path with
 * the links of its last component followed, malloc'd; the links of the folders above are the kernel's
 * business, as they do not change which file a rename replaces); -1 with err. */
static int resolve(const char *path, char **target, int *fd, char *err, size_t err_len)
{
    char *cur = strdup(path);
    *target = NULL;
    *fd = -1;
    for (int hop = 0; cur; hop++) {
        struct stat st;
        if ((*fd = named_fd(cur)) >= 0) {
            free(cur);
            return 0;
        }
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *target = cur; // a new file, or one whose trouble the write itself reports
            return 0;
        }
        if (hop == MAX_LINKS) {
            host_fmt(err, err_len, "%s: cannot write: %s", path, strerror(ELOOP));
            free(cur);
            return -1;
        }
        char link[PATH_MAX];
        const ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            host_fmt(err, err_len, "%s: cannot follow the link: %s", path, strerror(errno));
            free(cur);
            return -1;
        }
        link[n] = '\0';
        char *next = NULL;
        if (link[0] == '/') {
            next = strdup(link);
        } else { // relative to the folder that holds the link
            char *dir = path_dir(cur);
            const size_t len = (dir ? strlen(dir) : 0) + (size_t)n + 2;
            next = dir ? malloc(len) : NULL;
            if (next)
                snprintf(next, len, "%s%s%s", strcmp(dir, "/") == 0 ? "" : dir, "/", link);
            free(dir);
        }
        free(cur);
        cur = next;
    }
    host_fmt(err, err_len, "%s: out of memory writing it", path);
    return -1;
}

int output_is_stream(const char *path)
{
    char *target;
    int fd;
    struct stat st;
    if (strcmp(path, "-") == 0)
        return 1;
    if (resolve(path, &target, &fd, NULL, 0) != 0)
        return 0; // the write reports the trouble
    const int stream = fd >= 0 || (stat(target, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode));
    free(target);
    return stream;
}

FILE *output_stream_open(const char *path)
{
    char *target = NULL;
    int fd = strcmp(path, "-") == 0 ? 1 : -1;
    if (fd < 0 && resolve(path, &target, &fd, NULL, 0) != 0) {
        errno = errno ? errno : ENOMEM;
        return NULL;
    }
    const int d = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : open(target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    free(target);
    if (d < 0)
        return NULL;
    FILE *f = fdopen(d, "w");
    if (!f) {
        const int e = errno;
        close(d);
        errno = e;
    }
    return f;
}

char *output_target(const char *path)
{
    char *target;
    int fd;
    if (strcmp(path, "-") == 0 || resolve(path, &target, &fd, NULL, 0) != 0)
        return NULL;
    struct stat st;
    if (fd >= 0 || (target && stat(target, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        free(target);
        return NULL;
    }
    return target;
}

/* TARGET.tmp.XXXXXX created beside target with the mode target has (0644 when new): the open descriptor,
 * or -1 with err naming the output as given (name). *tmp is the caller's to free (also on failure). */
static int open_temp(char **tmp, const char *target, const char *name, char *err, size_t err_len)
{
    const size_t plen = strlen(target);
    *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!*tmp) {
        host_fmt(err, err_len, "%s: out of memory writing it", name);
        return -1;
    }
    memcpy(*tmp, target, plen);
    memcpy(*tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    // Beside the target, so the rename stays on one filesystem and a reader sees the old file or the
    // whole new one, never half of it.
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        host_fmt(err, err_len, "%s: cannot create a temporary file beside it: %s", name, strerror(errno));
        return -1;
    }
    struct stat sb;
    const mode_t mode = stat(target, &sb) == 0 ? (sb.st_mode & 07777) : 0644; // mkstemp makes 0600
    if (fchmod(fd, mode) != 0) {
        host_fmt(err, err_len, "%s: cannot write: %s", name, strerror(errno));
        close(fd);
        unlink(*tmp);
        return -1;
    }
    return fd;
}

/* The temporary file, written and closed, becomes the target; on failure it is removed. */
static int publish(const char *tmp, const char *target, const char *name, char *err, size_t err_len)
{
    if (rename(tmp, target) != 0) {
        host_fmt(err, err_len, "%s: cannot rename %s onto it: %s", name, tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    char *dir = path_dir(target);
    if (!dir)
        return 0; // the file is in place; only the directory's sync is skipped
    // Without this the rename itself may be lost in a crash, bringing the old file back.
    int rc = 0;
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            host_fmt(err, err_len, "%s: written, but cannot sync its directory: %s", name, strerror(errno));
            rc = -1;
        }
        close(dfd);
    }
    free(dir);
    return rc;
}

static void out_free(atomic_out *a)
{
    free(a->tmp), free(a->target), free(a->path);
    memset(a, 0, sizeof *a);
}

/* Opens the stream a names: stdout or stderr themselves (so what else the command prints there keeps its
 * order), another descriptor through a duplicate, or target, a device or FIFO. */
static int open_stream(atomic_out *a, int fd, const char *target, char *err, size_t err_len)
{
    a->stream = 1;
    if (fd == 1 || fd == 2) {
        a->f = fd == 1 ? stdout : stderr;
        return 0;
    }
    const int d = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : open(target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (d < 0) {
        if (fd >= 0)
            host_fmt(err, err_len, "%s: descriptor %d is not open", a->path, fd);
        else
            host_fmt(err, err_len, "%s: cannot write: %s", a->path, strerror(errno));
        return -1;
    }
    if (!(a->f = fdopen(d, "wb"))) {
        host_fmt(err, err_len, "%s: cannot write: %s", a->path, strerror(errno));
        close(d);
        return -1;
    }
    return 0;
}

int atomic_out_open(atomic_out *a, const char *path, char *err, size_t err_len)
{
    memset(a, 0, sizeof *a);
    a->path = strdup(output_name(path));
    if (!a->path) {
        host_fmt(err, err_len, "%s: out of memory writing it", output_name(path));
        return -1;
    }
    int fd = strcmp(path, "-") == 0 ? 1 : -1;
    char *target = NULL;
    if (fd < 0 && resolve(path, &target, &fd, err, err_len) != 0)
        goto fail;
    struct stat st;
    if (fd >= 0 || (stat(target, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        const int rc = open_stream(a, fd, target, err, err_len);
        free(target);
        if (rc != 0)
            goto fail;
        return 0;
    }
    a->target = target;
    if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
        host_fmt(err, err_len, "%s: cannot write: %s", a->path, strerror(EISDIR));
        goto fail;
    }
    fd = open_temp(&a->tmp, target, a->path, err, err_len);
    if (fd < 0)
        goto fail;
    if (!(a->f = fdopen(fd, "wb"))) {
        host_fmt(err, err_len, "%s: cannot write: %s", a->path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        goto fail;
    }
    return 0;
fail:
    out_free(a);
    return -1;
}

/* The end of a stream: flushed, and closed unless it is stdout or stderr. */
static int close_stream(atomic_out *a, char *err, size_t err_len)
{
    // ferror catches a write that failed earlier inside a buffered fwrite whose result went unchecked.
    errno = 0;
    int bad = fflush(a->f) != 0 || ferror(a->f);
    int saved = bad ? (errno ? errno : EIO) : 0;
    if (a->f != stdout && a->f != stderr && fclose(a->f) != 0 && !bad)
        bad = 1, saved = errno;
    if (bad)
        host_fmt(err, err_len, "%s: cannot write: %s", a->path, strerror(saved));
    out_free(a);
    return bad ? -1 : 0;
}

int atomic_out_commit(atomic_out *a, char *err, size_t err_len)
{
    if (!a->f) {
        host_fmt(err, err_len, "%s: not open for writing", a->path ? a->path : "?");
        atomic_out_abort(a);
        return -1;
    }
    if (a->stream)
        return close_stream(a, err, err_len);
    errno = 0;
    int bad = fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0;
    const int saved = bad ? (errno ? errno : EIO) : 0;
    const int closed = fclose(a->f);
    a->f = NULL;
    int rc = -1;
    if (bad || closed != 0) {
        host_fmt(err, err_len, "%s: cannot write: %s", a->path, strerror(bad ? saved : errno));
        unlink(a->tmp);
    } else {
        rc = publish(a->tmp, a->target, a->path, err, err_len);
    }
    out_free(a);
    return rc;
}

void atomic_out_abort(atomic_out *a)
{
    if (a->f && a->stream) {
        if (a->f == stdout || a->f == stderr)
            fflush(a->f);
        else
            fclose(a->f);
    } else if (a->f) {
        fclose(a->f);
        unlink(a->tmp);
    }
    out_free(a);
}

int write_file_atomic(const char *path, const void *data, size_t size, char *err, size_t err_len)
{
    atomic_out a;
    if (atomic_out_open(&a, path, err, err_len) != 0)
        return -1;
    if (size && fwrite(data, 1, size, a.f) != size) {
        host_fmt(err, err_len, "%s: cannot write: %s", a.path, strerror(errno));
        atomic_out_abort(&a);
        return -1;
    }
    return atomic_out_commit(&a, err, err_len);
}
