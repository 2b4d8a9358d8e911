/* Where a command's output goes: one rule for every file any command writes (models go through it too,
 * see model_write in modelfile.h):
 *
 *   "-"                      standard output, written as a stream
 *   /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N
 *                            that open descriptor, written as a stream (so a shell's redirection holds)
 *   a symbolic link          followed first: the link stays a link and its target gets the content
 *   a character or block device, a FIFO, a socket
 *                            opened and written as a stream
 *   a regular file, or no file yet
 *                            replaced atomically, so a reader, or a crash, sees the old file or the whole
 *                            new one, never half: a temporary file beside the target, fsync, rename over
 *                            it, fsync of the directory. A temporary file is named TARGET.tmp.XXXXXX; one
 *                            left by a killed process is never taken for the target, and its writer may
 *                            remove it later.
 *
 * A stream cannot be taken back: what was written before a failure stays written. */
#ifndef RNNHOST_ATOMICFILE_H
#define RNNHOST_ATOMICFILE_H

#include <stdio.h>
#include <stddef.h>

/* The folder path is in ("." for a bare name, "/" at the root), malloc'd; NULL when out of memory. */
char *path_dir(const char *path);

/* 1 when output to path is a stream by the rule above ('-', an open descriptor's name, a device, a FIFO,
 * or a link to one), 0 when it replaces a file atomically. */
int output_is_stream(const char *path);

/* The file an atomic write to path replaces: path with the links of its last component followed,
 * malloc'd. NULL for a stream, a loop of links, or out of memory. */
char *output_target(const char *path);

/* A stream output (see output_is_stream) opened to be written as things happen, such as a log; the caller
 * fcloses it ("-" is a duplicate of stdout's descriptor). NULL with errno. */
FILE *output_stream_open(const char *path);

/* How path is called in messages: "standard output" for "-", else path itself. */
const char *output_name(const char *path);

/* Writes size bytes to path by the rule above. A new file gets mode 0644, a replaced one keeps its mode. On
 * failure returns -1, writes one line into err ("PATH: cannot write: No space left on device") and
 * leaves a file as it was (no temporary file is left behind). */
int write_file_atomic(const char *path, const void *data, size_t size, char *err, size_t err_len);

/* The same for output produced as it goes (sample -o): write to f, then commit or abort. */
typedef struct atomic_out {
    FILE *f;      /* where the caller writes: the temporary file (fully buffered), or the stream */
    char *path;   /* the output as named, for messages */
    char *target; /* the file replaced: path with its links followed; NULL for a stream */
    char *tmp;    /* the temporary file beside target; NULL for a stream */
    int stream;   /* written directly (f may be stdout or stderr, which are never closed) */
} atomic_out;

/* 0, or -1 with err (nothing is left on disk). A FIFO blocks here until it has a reader. */
int atomic_out_open(atomic_out *a, const char *path, char *err, size_t err_len);
/* Flushes, fsyncs and renames onto the target, then fsyncs the directory (a stream: flushes it and closes
 * what was opened). 0, or -1 with err: a target file is as it was and the temporary file is gone. Either
 * way a is closed. */
int atomic_out_commit(atomic_out *a, char *err, size_t err_len);
/* Closes and removes the temporary file; a target file is untouched. Safe on a closed or zeroed a. */
void atomic_out_abort(atomic_out *a);

#endif /* RNNHOST_ATOMICFILE_H */
