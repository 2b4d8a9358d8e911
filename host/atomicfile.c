#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, char *err, size_t err_len)
{
    const uint8_t *bytes = data;
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    char *dir = malloc(plen + 2);
    int rc = -1, fd = -1;
    if (!tmp || !dir) {
        put_err(err, err_len, "%s: out of memory writing it", path);
        goto out;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    const char *slash = strrchr(path, '/');
    if (!slash)
        memcpy(dir, ".", 2);
    else if (slash == path)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    // Beside the target, so the rename stays on one filesystem and a reader sees the old file or the
    // whole new one, never half of it.
    fd = mkstemp(tmp);
    if (fd < 0) {
        put_err(err, err_len, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        goto out;
    }
    struct stat sb;
    const mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644; // mkstemp makes 0600
    if (fchmod(fd, mode) != 0 || write_all(fd, bytes, size) != 0 || fsync(fd) != 0) {
        put_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
        goto fail_unlink;
    }
    const int closed = close(fd);
    fd = -1;
    if (closed != 0) {
        put_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
        goto fail_unlink;
    }
    if (rename(tmp, path) != 0) {
        put_err(err, err_len, "%s: cannot rename %s onto it: %s", path, tmp, strerror(errno));
        goto fail_unlink;
    }
    // Without this the rename itself may be lost in a crash, bringing the old file back.
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            put_err(err, err_len, "%s: written, but cannot sync its directory: %s", path, strerror(errno));
            close(dfd);
            goto out;
        }
        close(dfd);
    }
    rc = 0;
    goto out;
fail_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    free(tmp);
    free(dir);
    return rc;
}

