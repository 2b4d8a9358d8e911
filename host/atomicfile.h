/* Replacing a file so that a reader, or a crash, sees the old file or the whole new one, never half:
 * a temporary file beside the target, fsync, rename over it, fsync of the directory. Model files use the
 * SDK's own writer (rh_weights_write) the same way. */
#ifndef RNNHOST_ATOMICFILE_H
#define RNNHOST_ATOMICFILE_H

#include <stddef.h>

/* Writes size bytes to path atomically. A new file gets mode 0644, a replaced one keeps its mode. On
 * failure returns -1, writes one line into err ("PATH: cannot write: No space left on device") and
 * leaves path as it was (no temporary file is left behind). */
int write_file_atomic(const char *path, const void *data, size_t size, char *err, size_t err_len);

#endif /* RNNHOST_ATOMICFILE_H */
