/* A whole input in memory: read in growing blocks rather than trusting a size from stat, so a pipe, a FIFO
 * or a file still being written reads as a file does; and bounded, so a hostile or mistaken input cannot
 * take all the memory there is. */
#ifndef RNNHOST_READALL_H
#define RNNHOST_READALL_H

#include <stddef.h>
#include <stdio.h>

/* Reads f to its end: *data is malloc'd, the *size bytes followed by a NUL (so text can be parsed in place).
 * 0, or -1 with errno set and *data NULL: EFBIG when f holds more than max bytes (*size then says how far it
 * got), ENOMEM, or the read's error (EIO when it gave none). f stays open. */
int read_all(FILE *f, size_t max, char **data, size_t *size);

/* The same for the file at path, opened and closed here (errno from fopen when it cannot be opened). */
int read_all_path(const char *path, size_t max, char **data, size_t *size);

#endif /* RNNHOST_READALL_H */
