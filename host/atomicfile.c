#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

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

/* PATH.tmp.XXXXXX created beside path with the mode path has (0644 when new): the open descriptor, or -1
 * with err. *tmp is the caller's to free (also on failure). */
static int open_temp(char **tmp, const char *path, char *err, size_t err_len)
{
    const size_t plen = strlen(path);
    *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!*tmp) {
        put_err(err, err_len, "%s: out of memory writing it", path);
        return -1;
    }
    memcpy(*tmp, path, plen);
    memcpy(*tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    // Beside the target, so the rename stays on one filesystem and a reader sees the old file or the
    // whole new one, never half of it.
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        put_err(err, err_len, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    const mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644; // mkstemp makes 0600
    if (fchmod(fd, mode) != 0) {
        put_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(*tmp);
        return -1;
    }
    return fd;
}

/* The temporary file, written and closed, becomes path; on failure it is removed. */
static int publish(const char *tmp, const char *path, char *err, size_t err_len)
{
    if (rename(tmp, path) != 0) {
        put_err(err, err_len, "%s: cannot rename %s onto it: %s", path, tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    char *dir = path_dir(path);
    if (!dir)
        return 0; // the file is in place; only the directory's sync is skipped
    // Without this the rename itself may be lost in a crash, bringing the old file back.
    int rc = 0;
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            put_err(err, err_len, "%s: written, but cannot sync its directory: %s", path, strerror(errno));
            rc = -1;
        }
        close(dfd);
    }
    free(dir);
    return rc;
}

int atomic_out_open(atomic_out *a, const char *path, char *err, size_t err_len)
{
    memset(a, 0, sizeof *a);
    a->path = strdup(path);
    if (!a->path) {
        put_err(err, err_len, "%s: out of memory writing it", path);
        return -1;
    }
    const int fd = open_temp(&a->tmp, path, err, err_len);
    if (fd < 0 || !(a->f = fdopen(fd, "wb"))) {
        if (fd >= 0) {
            put_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
            close(fd);
            unlink(a->tmp);
        }
        free(a->tmp), free(a->path);
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

int atomic_out_commit(atomic_out *a, char *err, size_t err_len)
{
    if (!a->f) {
        put_err(err, err_len, "%s: not open for writing", a->path ? a->path : "?");
        atomic_out_abort(a);
        return -1;
    }
    // ferror catches a write that failed earlier inside a buffered fwrite whose result went unchecked.
    errno = 0;
    int bad = fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0;
    const int saved = bad ? (errno ? errno : EIO) : 0;
    const int closed = fclose(a->f);
    a->f = NULL;
    int rc = -1;
    if (bad || closed != 0) {
        put_err(err, err_len, "%s: cannot write: %s", a->path, strerror(bad ? saved : errno));
        unlink(a->tmp);
    } else {
        rc = publish(a->tmp, a->path, err, err_len);
    }
    free(a->tmp), free(a->path);
    memset(a, 0, sizeof *a);
    return rc;
}

void atomic_out_abort(atomic_out *a)
{
    if (a->f) {
        fclose(a->f);
        unlink(a->tmp);
    }
    free(a->tmp), free(a->path);
    memset(a, 0, sizeof *a);
}

int write_file_atomic(const char *path, const void *data, size_t size, char *err, size_t err_len)
{
    atomic_out a;
    if (atomic_out_open(&a, path, err, err_len) != 0)
        return -1;
    if (size && fwrite(data, 1, size, a.f) != size) {
        put_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
        atomic_out_abort(&a);
        return -1;
    }
    return atomic_out_commit(&a, err, err_len);
}
