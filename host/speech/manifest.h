/* Training and test lists for speech: TSV, one utterance per line, `path<TAB>transcript`. A relative path
 * is relative to the manifest's own directory, so a data folder can move as a whole. Blank lines and lines
 * starting with '#' are skipped. The transcript is UTF-8; runs of spaces collapse to one and ends are
 * trimmed; it may be empty (silence). */
#ifndef RNNHOST_MANIFEST_H
#define RNNHOST_MANIFEST_H

#include <stddef.h>

typedef struct manifest_entry {
    char *path; /* resolved */
    char *text; /* normalised */
    size_t line;
} manifest_entry;

typedef struct manifest {
    manifest_entry *v;
    size_t n;
} manifest;

/* Parses bytes (n) read from a file called name (for messages and for resolving relative paths).
 * 0, or -1 with one line in err naming the line: no tab, an empty path, invalid UTF-8, a NUL byte. */
int manifest_parse(manifest *out, const char *bytes, size_t n, const char *name, char *err, size_t err_len);

/* Reads and parses a file ("-" is stdin, paths then relative to the current directory). */
int manifest_read(manifest *out, const char *path, char *err, size_t err_len);

void manifest_free(manifest *m);

#endif /* RNNHOST_MANIFEST_H */
