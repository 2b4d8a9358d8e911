#include "readall.h"

#include <errno.h>
#include <stdlib.h>

int read_all(FILE *f, size_t max, char **data, size_t *size)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    *data = NULL;
    for (;;) {
        if (cap - len < 65536 && cap <= max) {
            const size_t c = cap ? 2 * cap : 65536;
            char *grown = c > cap ? realloc(buf, c + 1) : NULL; // + 1: the NUL
            if (!grown) {
                free(buf);
                *size = len;
                errno = ENOMEM;
                return -1;
            }
            buf = grown, cap = c;
        }
        errno = 0;
        const size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > max) {
            free(buf);
            *size = len;
            errno = EFBIG;
            return -1;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        const int e = errno ? errno : EIO; // the read's own reason ("Is a directory") where it gave one
        free(buf);
        *size = len;
        errno = e;
        return -1;
    }
    buf[len] = '\0';
    *data = buf, *size = len;
    return 0;
}

int read_all_path(const char *path, size_t max, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    *data = NULL, *size = 0;
    if (!f)
        return -1;
    const int rc = read_all(f, max, data, size);
    const int saved = errno;
    fclose(f);
    errno = saved;
    return rc;
}
