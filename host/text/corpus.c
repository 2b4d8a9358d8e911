/* host/meson.build passes _GNU_SOURCE; the tests compile this file on its own, so ask for POSIX here. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "corpus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SCAN_BUFFER
#define SCAN_BUFFER ((size_t)1 << 20)
#endif
/* The index starts with one entry per 4096 symbols and never holds more than this many entries (1 MiB):
 * past that K doubles, so a seek decodes at most K symbols from the nearest entry. */
#ifndef INDEX_FIRST_K /* the tests shrink both (powers of two) to reach every path on small texts */
#define INDEX_FIRST_K ((size_t)4096)
#endif
#ifndef INDEX_MAX
#define INDEX_MAX ((size_t)65536)
#endif

struct corpus {
    char **paths; /* (n_files) in reading order */
    struct {
        uint64_t begin, end; /* the first byte after a BOM, and the size the scan saw */
    } *span;                 /* (n_files) */
    size_t n_files, n;
    size_t K;                /* the index holds symbols 0, K, 2K, ... */
    struct {
        uint32_t file;
        uint64_t off;
    } *idx;                  /* (idx_n): where symbol j * K starts */
    size_t idx_n;
    uint32_t *seen; /* bit per code point, when scanned without a vocabulary to check */
    int fault;      /* the first symbol outside the checked vocabulary */
    uint32_t fault_cp;
    size_t fault_line, fault_col;
    const vocab *voc;
    int32_t ascii[128]; /* ids of ASCII symbols under voc, -1 when absent: most text needs no search */
};

/* Reads until buf is full or the file ends; the count read, or -1 with errno. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int index_add(corpus *c, uint32_t file, uint64_t off, char *err, size_t err_len)
{
    if (c->idx_n == INDEX_MAX) { /* keep every other entry: the index of twice the stride */
        for (size_t j = 0; 2 * j < c->idx_n; j++)
            c->idx[j] = c->idx[2 * j];
        c->idx_n = (c->idx_n + 1) / 2;
        c->K *= 2;
        if ((c->n & (c->K - 1)) != 0)
            return 0;
    }
    if (!c->idx && !(c->idx = malloc(INDEX_MAX * sizeof *c->idx))) {
        host_fmt(err, err_len, "out of memory for the corpus index");
        return -1;
    }
    c->idx[c->idx_n].file = file, c->idx[c->idx_n].off = off;
    c->idx_n++;
    return 0;
}

typedef struct scan_pos {
    size_t line, col; /* of the next symbol, while the checked vocabulary has not failed yet */
} scan_pos;

/* The scan of file f through buf (SCAN_BUFFER bytes): text_read's checks in text_read's order of
 * precedence, which tests the whole file for a NUL byte before it reports invalid UTF-8. */
static int scan_file(corpus *c, uint32_t f, const vocab *check, scan_pos *pos, unsigned char *buf, char *err,
                     size_t err_len)
{
    const char *name = c->paths[f];
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        host_fmt_errno(err, err_len, name, errno);
        return -1;
    }
    uint64_t base = 0; /* file offset of buf[0] */
    size_t have = 0, i = 0;
    int first = 1, bad = 0, rc = -1;
    uint64_t bad_at = 0;
    const char *bad_why = NULL;
    unsigned char bad_byte = 0;
    for (;;) {
        ssize_t got = read_full(fd, buf + have, SCAN_BUFFER - have);
        if (got < 0) {
            host_fmt_errno(err, err_len, name, errno);
            goto done;
        }
        const int eof = have + (size_t)got < SCAN_BUFFER;
        const unsigned char *nul = got > 0 ? memchr(buf + have, 0, (size_t)got) : NULL;
        if (nul) {
            host_fmt(err, err_len, "%s: binary file (NUL byte at offset %llu)", name,
                     (unsigned long long)(base + (uint64_t)(nul - buf)));
            goto done;
        }
        have += (size_t)got;
        if (first) {
            first = 0;
            if (have >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
                i = 3;
            c->span[f].begin = i;
        }
        while (!bad && i < have) {
            uint32_t cp;
            size_t len;
            const char *why;
            int r = utf8_next(buf + i, have - i, eof, &cp, &len, &why);
            if (r == 0)
                break;
            if (r < 0) { /* reported once the rest of the file has been searched for a NUL */
                bad = 1, bad_at = base + i, bad_why = why, bad_byte = buf[i];
                break;
            }
            if ((c->n & (c->K - 1)) == 0 && index_add(c, f, base + i, err, err_len) != 0)
                goto done;
            if (c->seen)
                c->seen[cp >> 5] |= 1u << (cp & 31u);
            if (check && !c->fault) {
                if (vocab_id(check, cp) < 0) {
                    c->fault = 1, c->fault_cp = cp, c->fault_line = pos->line, c->fault_col = pos->col;
                } else if (cp == '\n') {
                    pos->line++, pos->col = 1;
                } else {
                    pos->col++;
                }
            }
            c->n++;
            i += len;
        }
        if (eof)
            break;
        /* keep the start of a sequence the buffer cut (at most 3 bytes) for the next read */
        const size_t keep = bad ? 0 : have - i;
        memmove(buf, buf + i, keep);
        base += have - keep;
        have = keep, i = 0;
    }
    if (bad) {
        host_fmt(err, err_len, "%s: invalid UTF-8 at byte %llu (0x%02x): %s", name, (unsigned long long)bad_at,
                 bad_byte, bad_why);
        goto done;
    }
    c->span[f].end = base + have;
    rc = 0;
done:
    close(fd);
    return rc;
}

int corpus_streamable(const char *path)
{
    struct stat st;
    return path && strcmp(path, "-") != 0 && stat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

int corpus_open(corpus **out, const char *path, const vocab *check, char *err, size_t err_len)
{
    corpus *c = calloc(1, sizeof *c);
    unsigned char *buf = NULL;
    struct stat st;
    int is_dir = 0;
    if (!c) {
        host_fmt(err, err_len, "out of memory");
        return -1;
    }
    c->K = INDEX_FIRST_K;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        host_fmt_errno(err, err_len, path, errno);
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    close(fd);
    is_dir = S_ISDIR(st.st_mode);
    if (is_dir) {
        if (text_list_files(&c->paths, &c->n_files, path, err, err_len) != 0)
            goto fail;
    } else {
        c->paths = malloc(sizeof *c->paths);
        if (!c->paths || !(c->paths[0] = strdup(path))) {
            host_fmt(err, err_len, "out of memory");
            goto fail;
        }
        c->n_files = 1;
    }
    c->span = calloc(c->n_files, sizeof *c->span);
    buf = malloc(SCAN_BUFFER);
    if (!check)
        c->seen = calloc(VOCAB_BIT_WORDS, sizeof *c->seen);
    if (!c->span || !buf || (!check && !c->seen)) {
        host_fmt(err, err_len, "out of memory");
        goto fail;
    }
    scan_pos pos = {1, 1};
    for (size_t f = 0; f < c->n_files; f++)
        if (scan_file(c, (uint32_t)f, check, &pos, buf, err, err_len) != 0)
            goto fail;
    if (c->n == 0) {
        if (is_dir)
            host_fmt(err, err_len, "%s: empty corpus (all %zu files are empty)", path, c->n_files);
        else
            host_fmt(err, err_len, "%s: empty file", path);
        goto fail;
    }
    free(buf);
    for (int i = 0; i < 128; i++)
        c->ascii[i] = -1;
    *out = c;
    return 0;
fail:
    free(buf);
    corpus_close(c);
    return -1;
}

void corpus_close(corpus *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->paths && i < c->n_files; i++)
        free(c->paths[i]);
    free(c->paths);
    free(c->span);
    free(c->idx);
    free(c->seen);
    free(c);
}

size_t corpus_size(const corpus *c)
{
    return c->n;
}

int corpus_vocab(vocab *out, corpus *const *parts, size_t n, char *err, size_t err_len)
{
    uint32_t *seen = calloc(VOCAB_BIT_WORDS, sizeof *seen);
    if (!seen) {
        host_fmt(err, err_len, "out of memory building the vocabulary");
        return -1;
    }
    for (size_t p = 0; p < n; p++)
        if (parts[p]->seen)
            for (size_t w = 0; w < VOCAB_BIT_WORDS; w++)
                seen[w] |= parts[p]->seen[w];
    int rc = vocab_from_bits(out, seen, err, err_len);
    free(seen);
    return rc;
}

int corpus_vocab_fault(const corpus *c, uint32_t *cp, size_t *line, size_t *col)
{
    if (!c->fault)
        return 0;
    *cp = c->fault_cp, *line = c->fault_line, *col = c->fault_col;
    return 1;
}

void corpus_bind(corpus *c, const vocab *v)
{
    c->voc = v;
    for (uint32_t i = 0; i < 128; i++)
        c->ascii[i] = vocab_id(v, i);
}

/* ---- cursors ------------------------------------------------------------------------------------------ */

int corpus_cursor_init(corpus_cursor *cur, size_t buf_bytes)
{
    memset(cur, 0, sizeof *cur);
    cur->fd = -1;
    cur->sym = cur->prev_sym = SIZE_MAX; /* the first read seeks */
    cur->buf_cap = buf_bytes < 64 ? 64 : buf_bytes;
    cur->buf = malloc(cur->buf_cap);
    return cur->buf ? 0 : -1;
}

void corpus_cursor_free(corpus_cursor *cur)
{
    if (cur->fd >= 0)
        close(cur->fd);
    free(cur->buf);
    memset(cur, 0, sizeof *cur);
    cur->fd = -1;
}

static void changed(const corpus *c, const corpus_cursor *cur, const char *what, char *err, size_t err_len)
{
    host_fmt(err, err_len, "%s: changed while in use (%s at byte %llu)", c->paths[cur->file], what,
             (unsigned long long)cur->off);
}

/* Makes the buffer hold the bytes at cur->off: at least the 4 a sequence may need, or up to the end. */
static int cursor_fill(const corpus *c, corpus_cursor *cur, char *err, size_t err_len)
{
    const uint64_t end = c->span[cur->file].end;
    if (cur->fd >= 0 && cur->fd_file == cur->file && cur->off >= cur->buf_off &&
        (cur->off + 4 <= cur->buf_off + cur->buf_len || cur->buf_off + cur->buf_len >= end))
        return 0;
    if (cur->fd < 0 || cur->fd_file != cur->file) {
        if (cur->fd >= 0)
            close(cur->fd);
        cur->fd = open(c->paths[cur->file], O_RDONLY | O_CLOEXEC);
        if (cur->fd < 0) {
            host_fmt_errno(err, err_len, c->paths[cur->file], errno);
            return -1;
        }
        cur->fd_file = cur->file;
    }
    size_t want = end - cur->off < cur->buf_cap ? (size_t)(end - cur->off) : cur->buf_cap, got = 0;
    while (got < want) {
        ssize_t r = pread(cur->fd, cur->buf + got, want - got, (off_t)(cur->off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            host_fmt_errno(err, err_len, c->paths[cur->file], errno);
            cur->buf_len = 0;
            return -1;
        }
        if (r == 0) {
            cur->buf_len = 0;
            changed(c, cur, "shorter", err, err_len);
            return -1;
        }
        got += (size_t)r;
    }
    cur->buf_off = cur->off, cur->buf_len = got;
    return 0;
}

static int cursor_next(const corpus *c, corpus_cursor *cur, uint32_t *cp, char *err, size_t err_len)
{
    while (cur->off >= c->span[cur->file].end) { /* sym < n, so a later file holds it */
        cur->file++;
        cur->off = c->span[cur->file].begin;
    }
    if (cursor_fill(c, cur, err, err_len) != 0)
        return -1;
    const size_t at = (size_t)(cur->off - cur->buf_off);
    size_t len;
    const char *why;
    if (utf8_next(cur->buf + at, cur->buf_len - at, 1, cp, &len, &why) != 1 || cur->buf[at] == 0) {
        changed(c, cur, "not the text it held", err, err_len);
        return -1;
    }
    cur->off += len;
    cur->sym++;
    return 0;
}

int corpus_read(corpus *c, corpus_cursor *cur, int32_t *ids, size_t first, size_t count, char *err,
                size_t err_len)
{
    if (count == 0)
        return 0;
    if (first > c->n || count > c->n - first) {
        host_fmt(err, err_len, "%s: symbols %zu..%zu asked of a corpus of %zu", c->paths[0], first,
                 first + count - 1, c->n);
        return -1;
    }
    if (first == cur->prev_sym && cur->prev_sym != SIZE_MAX) { /* windows that share their edge symbol */
        cur->sym = cur->prev_sym, cur->file = cur->prev_file, cur->off = cur->prev_off;
    } else if (cur->sym == SIZE_MAX || first < cur->sym || first - cur->sym >= c->K) {
        const size_t j = first / c->K;
        cur->sym = j * c->K, cur->file = c->idx[j].file, cur->off = c->idx[j].off;
    }
    uint32_t cp;
    while (cur->sym < first)
        if (cursor_next(c, cur, &cp, err, err_len) != 0)
            return -1;
    for (size_t i = 0; i < count; i++) {
        cur->prev_sym = cur->sym, cur->prev_file = cur->file, cur->prev_off = cur->off;
        if (cursor_next(c, cur, &cp, err, err_len) != 0) {
            cur->sym = cur->prev_sym = SIZE_MAX;
            return -1;
        }
        const int32_t id = cp < 128 ? c->ascii[cp] : vocab_id(c->voc, cp);
        if (id < 0) {
            cur->file = cur->prev_file, cur->off = cur->prev_off;
            changed(c, cur, "a symbol outside the vocabulary", err, err_len);
            cur->sym = cur->prev_sym = SIZE_MAX;
            return -1;
        }
        ids[i] = id;
    }
    return 0;
}
