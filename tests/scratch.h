/* A private scratch folder for the C tests that read files: scratch_init makes it under $TMPDIR (or
 * /tmp), scratch_at names a path inside it, scratch_put and scratch_dir fill it, scratch_remove deletes
 * it with everything in it. A failure to set it up ends the test (exit 1): nothing after it would mean
 * anything. Needs _GNU_SOURCE or _XOPEN_SOURCE 500 for nftw. Inline, so a test that uses part of it
 * builds without unused-function warnings. */
#ifndef RNNHOST_TESTS_SCRATCH_H
#define RNNHOST_TESTS_SCRATCH_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char scratch_root[1024];

static inline void scratch_init(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_root, sizeof scratch_root, "%s/rnnhost-%s.XXXXXX", tmp && tmp[0] ? tmp : "/tmp", name);
    if (!mkdtemp(scratch_root)) {
        fprintf(stderr, "mkdtemp %s: %s\n", scratch_root, strerror(errno));
        exit(1);
    }
}

/* Four buffers in turn, so a call may take up to four paths at once. */
static inline const char *scratch_at(const char *rel)
{
    static char bufs[4][4096];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", scratch_root, rel);
    return p;
}

static inline void scratch_put(const char *rel, const char *bytes, size_t n)
{
    FILE *f = fopen(scratch_at(rel), "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", scratch_at(rel));
        exit(1);
    }
}

static inline void scratch_dir(const char *rel)
{
    if (mkdir(scratch_at(rel), 0755) != 0) {
        fprintf(stderr, "cannot mkdir %s\n", scratch_at(rel));
        exit(1);
    }
}

static inline int scratch_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void scratch_remove(void)
{
    nftw(scratch_root, scratch_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* RNNHOST_TESTS_SCRATCH_H */
