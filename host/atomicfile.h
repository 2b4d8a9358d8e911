/* Replacing a file so that a reader, or a crash, sees the old file or the whole new one, never half:
 * a temporary file beside the target, fsync, rename over it, fsync of the directory. Model files use the
 * SDK's own writer (rh_weights_write) the same way. A temporary file is named TARGET.tmp.XXXXXX; one left
 * by a killed process is never taken for the target, and its writer may remove it later. */
#ifndef RNNHOST_ATOMICFILE_H
#define RNNHOST_ATOMICFILE_H

#include <stdio.h>
#include <stddef.h>

/* The folder path is in ("." for a bare name, "/" at the root), malloc'd; NULL when out of memory. */
char *path_dir(const char *path);

/* Writes size bytes to path atomically. A new file gets mode 0644, a replaced one keeps its mode. On
 * failure returns -1, writes one line into err ("PATH: cannot write: No space left on device") and
 * leaves path as it was (no temporary file is left behind). */
int write_file_atomic(const char *path, const void *data, size_t size, char *err, size_t err_len);

/* The same for output produced as it goes (sample -o): write to f, then commit or abort. */
typedef struct atomic_out {
    FILE *f;      /* the temporary file, fully buffered; the caller writes here */
    char *path;   /* the target */
    char *tmp;    /* the temporary file beside it */
} atomic_out;

/* 0, or -1 with err (nothing is left on disk). */
int atomic_out_open(atomic_out *a, const char *path, char *err, size_t err_len);
/* Flushes, fsyncs and renames onto the target, then fsyncs the directory. 0, or -1 with err: the target
 * is as it was and the temporary file is gone. Either way a is closed. */
int atomic_out_commit(atomic_out *a, char *err, size_t err_len);
/* Closes and removes the temporary file; the target is untouched. Safe on a closed or zeroed a. */
void atomic_out_abort(atomic_out *a);

#endif /* RNNHOST_ATOMICFILE_H */
