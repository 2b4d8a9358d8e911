/* host/meson.build passes _GNU_SOURCE; the tests compile this file on its own, so ask for POSIX here. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"

#define STDIN_NAME "standard input"
/* First buffer for a stream whose size we cannot know; it doubles from here. */
#define STREAM_CHUNK ((size_t)64 * 1024)

/* ---- UTF-8 ------------------------------------------------------------------------------------------- */

typedef struct utf8_fault {
    size_t at;       /* first byte of the ill-formed sequence */
    const char *why; /* a few words for the message */
} utf8_fault;

int utf8_next(const unsigned char *s, size_t avail, int eof, uint32_t *cp_out, size_t *len_out, const char **why)
{
    unsigned b = s[0];
    size_t len;
    uint32_t cp, min;
    if (b < 0x80) {
        *cp_out = b, *len_out = 1;
        return 1;
    }
    if (b < 0xC0) {
        *why = "unexpected continuation byte";
        return -1;
    } else if (b < 0xC2) {
        *why = "byte never used in UTF-8"; // C0 and C1 can only start overlongs
        return -1;
    } else if (b < 0xE0) {
        len = 2, cp = b & 0x1Fu, min = 0x80;
    } else if (b < 0xF0) {
        len = 3, cp = b & 0x0Fu, min = 0x800;
    } else if (b < 0xF5) {
        len = 4, cp = b & 0x07u, min = 0x10000;
    } else {
        *why = "byte never used in UTF-8";
        return -1;
    }
    for (size_t j = 1; j < len; j++) {
        if (j >= avail) {
            if (!eof)
                return 0;
            *why = "truncated sequence at end of input";
            return -1;
        }
        unsigned c = s[j];
        if ((c & 0xC0u) != 0x80u) {
            *why = "missing continuation byte";
            return -1;
        }
        cp = (cp << 6) | (c & 0x3Fu);
    }
    if (cp < min) {
        *why = "overlong encoding";
        return -1;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        *why = "UTF-16 surrogate";
        return -1;
    }
    if (cp > UTF8_MAX_SCALAR) {
        *why = "above U+10FFFF";
        return -1;
    }
    *cp_out = cp, *len_out = len;
    return 1;
}

/* Validates s and counts its code points; writes them too when out is not NULL, so the caller can count
 * first and allocate exactly. The offset reported is the start of the bad sequence, which is where a
 * user looking at the file in a hex editor wants to land. Returns 0 or -1 with *fault filled. */
static int utf8_scan(uint32_t *out, size_t *count, const unsigned char *s, size_t n, utf8_fault *fault)
{
    size_t i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        size_t len;
        if (utf8_next(s + i, n - i, 1, &cp, &len, &fault->why) != 1) {
            fault->at = i;
            return -1;
        }
        if (out)
            out[k] = cp;
        k++;
        i += len;
    }
    *count = k;
    return 0;
}

size_t utf8_encode(char *out, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > UTF8_MAX_SCALAR)
        cp = 0xFFFD;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes bytes and appends them to acc, whose allocation holds *cap code points. The first append into
 * an empty buffer allocates exactly; later ones grow by half again so a directory of many small files
 * costs linear time, and text_read trims the slack at the end. */
static int append_decoded(text_buf *acc, size_t *cap, const char *bytes, size_t n, const char *name,
                          int skip_bom, char *err, size_t err_len)
{
    const unsigned char *s = (const unsigned char *)bytes;
    size_t off = 0, count;
    utf8_fault fault;
    if (n == 0)
        return 0; // bytes may be NULL then, and NULL + 0 is undefined
    const unsigned char *nul = memchr(s, 0, n);
    // Binary files usually hold invalid UTF-8 too; "binary file" is the more useful thing to say.
    if (nul) {
        host_fmt(err, err_len, "%s: binary file (NUL byte at offset %zu)", name, (size_t)(nul - s));
        return -1;
    }
    if (skip_bom && n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        off = 3;
    if (utf8_scan(NULL, &count, s + off, n - off, &fault) != 0) {
        size_t at = off + fault.at;
        host_fmt(err, err_len, "%s: invalid UTF-8 at byte %zu (0x%02x): %s", name, at, s[at], fault.why);
        return -1;
    }
    if (count == 0)
        return 0;
    if (acc->n + count > *cap) {
        size_t want = acc->n + count;
        size_t grown = *cap + *cap / 2;
        if (*cap > 0 && grown > want)
            want = grown;
        if (want > SIZE_MAX / sizeof(uint32_t)) {
            host_fmt(err, err_len, "%s: text too large", name);
            return -1;
        }
        uint32_t *p = realloc(acc->cp, want * sizeof(uint32_t));
        if (!p) {
            host_fmt(err, err_len, "%s: out of memory for %zu code points", name, want);
            return -1;
        }
        acc->cp = p;
        *cap = want;
    }
    utf8_scan(acc->cp + acc->n, &count, s + off, n - off, &fault);
    acc->n += count;
    return 0;
}

int text_decode(text_buf *out, const char *bytes, size_t n, const char *name, char *err, size_t err_len)
{
    text_buf t = {NULL, 0};
    size_t cap = 0;
    if (!name)
        name = "text";
    if (append_decoded(&t, &cap, bytes, n, name, 1, err, err_len) != 0) {
        free(t.cp);
        return -1;
    }
    *out = t;
    return 0;
}

void text_free(text_buf *t)
{
    if (t) {
        free(t->cp);
        *t = (text_buf){0};
    }
}

/* ---- reading files ----------------------------------------------------------------------------------- */

typedef struct byte_buf {
    char *p;
    size_t n, cap;
} byte_buf;

static int byte_reserve(byte_buf *b, size_t cap, const char *name, char *err, size_t err_len)
{
    if (cap <= b->cap)
        return 0;
    char *p = realloc(b->p, cap);
    if (!p) {
        host_fmt(err, err_len, "%s: out of memory for %zu bytes", name, cap);
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Reads fd to its end into b (b->n = bytes read). A regular file is sized by fstat, with one spare byte
 * so the read that sees end of file needs no second buffer; a stream starts small and doubles. */
static int read_fd(byte_buf *b, int fd, const char *name, char *err, size_t err_len)
{
    struct stat st;
    size_t want = STREAM_CHUNK;
    b->n = 0;
    if (fstat(fd, &st) != 0) {
        host_fmt_errno(err, err_len, name, errno);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        host_fmt_errno(err, err_len, name, EISDIR);
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        if ((unsigned long long)st.st_size >= SIZE_MAX / sizeof(uint32_t)) {
            host_fmt(err, err_len, "%s: file too large", name);
            return -1;
        }
        // Files like those in /proc report size 0 and still have content: they grow like a stream.
        want = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    }
    if (byte_reserve(b, want, name, err, err_len) != 0)
        return -1;
    for (;;) {
        if (b->n == b->cap) {
            if (b->cap > SIZE_MAX / 2 / sizeof(uint32_t)) {
                host_fmt(err, err_len, "%s: input too large", name);
                return -1;
            }
            if (byte_reserve(b, b->cap * 2, name, err, err_len) != 0)
                return -1;
        }
        ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            host_fmt_errno(err, err_len, name, errno);
            return -1;
        }
        if (r == 0)
            return 0;
        b->n += (size_t)r;
    }
}

static int read_path(byte_buf *b, const char *path, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        host_fmt_errno(err, err_len, path, errno);
        return -1;
    }
    int rc = read_fd(b, fd, path, err, err_len);
    close(fd);
    return rc;
}

/* Below a folder: its regular files and links to files, every level down; links to folders are left out so a
 * link cycle cannot loop, and what cannot be read is an error rather than a file quietly missing from the
 * corpus. */
static const dir_walk_options corpus_walk = {
    .recurse = 1, .skip_linked_folders = 1, .strict_folders = 1, .strict_entries = 1,
};

int text_list_files(char ***paths, size_t *n, const char *dir, char *err, size_t err_len)
{
    if (dir_list(paths, n, dir, &corpus_walk, err, err_len) != 0)
        return -1;
    if (*n == 0) {
        host_fmt(err, err_len, "%s: no files in directory (hidden files are skipped)", dir);
        dir_list_free(*paths, *n);
        *paths = NULL;
        return -1;
    }
    return 0;
}

static int read_directory(text_buf *acc, size_t *cap, const char *dir, char *err, size_t err_len)
{
    char **files = NULL;
    size_t n = 0;
    byte_buf b = {NULL, 0, 0};
    int rc = text_list_files(&files, &n, dir, err, err_len);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = read_path(&b, files[i], err, err_len);
        if (rc == 0)
            rc = append_decoded(acc, cap, b.p, b.n, files[i], 1, err, err_len);
    }
    if (rc == 0 && acc->n == 0) {
        host_fmt(err, err_len, "%s: empty corpus (all %zu files are empty)", dir, n);
        rc = -1;
    }
    free(b.p);
    dir_list_free(files, n);
    return rc;
}

int text_read(text_buf *out, const char *path, char *err, size_t err_len)
{
    text_buf acc = {NULL, 0};
    byte_buf b = {NULL, 0, 0};
    size_t cap = 0;
    int rc;
    if (!path || !path[0]) {
        host_fmt(err, err_len, "no corpus path given");
        return -1;
    }
    if (strcmp(path, "-") == 0) {
        rc = read_fd(&b, STDIN_FILENO, STDIN_NAME, err, err_len);
        if (rc == 0)
            rc = append_decoded(&acc, &cap, b.p, b.n, STDIN_NAME, 1, err, err_len);
        if (rc == 0 && acc.n == 0) {
            host_fmt(err, err_len, "%s: empty file", STDIN_NAME);
            rc = -1;
        }
    } else {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            host_fmt_errno(err, err_len, path, errno);
            return -1;
        }
        if (fstat(fd, &st) != 0) {
            host_fmt_errno(err, err_len, path, errno);
            close(fd);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            close(fd);
            rc = read_directory(&acc, &cap, path, err, err_len);
        } else {
            rc = read_fd(&b, fd, path, err, err_len);
            close(fd);
            if (rc == 0)
                rc = append_decoded(&acc, &cap, b.p, b.n, path, 1, err, err_len);
            if (rc == 0 && acc.n == 0) {
                host_fmt(err, err_len, "%s: empty file", path);
                rc = -1;
            }
        }
    }
    free(b.p);
    if (rc != 0) {
        free(acc.cp);
        return -1;
    }
    if (cap > acc.n) {
        uint32_t *p = realloc(acc.cp, acc.n * sizeof(uint32_t));
        if (p) // keeping the larger block is harmless
            acc.cp = p;
    }
    *out = acc;
    return 0;
}

/* ---- vocabulary --------------------------------------------------------------------------------------- */

int vocab_from_bits(vocab *out, const uint32_t *seen, char *err, size_t err_len)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < VOCAB_BIT_WORDS; w++)
        n += (uint32_t)__builtin_popcount(seen[w]);
    if (n == 0) {
        host_fmt(err, err_len, "empty text: no symbols to build a vocabulary from");
        return -1;
    }
    uint32_t *cp = malloc((size_t)n * sizeof(uint32_t)), k = 0;
    if (!cp) {
        host_fmt(err, err_len, "out of memory building the vocabulary");
        return -1;
    }
    for (uint32_t w = 0; w < VOCAB_BIT_WORDS; w++)
        for (uint32_t bits = seen[w]; bits; bits &= bits - 1)
            cp[k++] = (w << 5) | (uint32_t)__builtin_ctz(bits);
    out->cp = cp;
    out->n = n;
    return 0;
}

int vocab_build(vocab *out, const text_buf *t, char *err, size_t err_len)
{
    if (!t || t->n == 0) {
        host_fmt(err, err_len, "empty text: no symbols to build a vocabulary from");
        return -1;
    }
    // One bit per possible code point (136 KiB): linear in the text, and the ascending order comes free.
    uint32_t *seen = calloc(VOCAB_BIT_WORDS, sizeof(uint32_t));
    if (!seen) {
        host_fmt(err, err_len, "out of memory building the vocabulary");
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        uint32_t c = t->cp[i];
        if (c > UTF8_MAX_SCALAR) {
            host_fmt(err, err_len, "not a Unicode code point (0x%lx) at index %zu", (unsigned long)c, i);
            free(seen);
            return -1;
        }
        seen[c >> 5] |= 1u << (c & 31u);
    }
    int rc = vocab_from_bits(out, seen, err, err_len);
    free(seen);
    return rc;
}

int vocab_from_utf8(vocab *out, const char *s, char *err, size_t err_len)
{
    text_buf t = {NULL, 0};
    size_t cap = 0;
    char a[32], b[32];
    if (!s || !s[0]) {
        host_fmt(err, err_len, "vocabulary: empty");
        return -1;
    }
    // No BOM skipping: U+FEFF can be a real symbol, and the smallest one when the text is all emoji.
    if (append_decoded(&t, &cap, s, strlen(s), "vocabulary", 0, err, err_len) != 0) {
        free(t.cp);
        return -1;
    }
    if (t.n > (size_t)INT32_MAX) {
        host_fmt(err, err_len, "vocabulary: too many symbols");
        free(t.cp);
        return -1;
    }
    for (size_t i = 1; i < t.n; i++) {
        if (t.cp[i] > t.cp[i - 1])
            continue;
        symbol_describe(a, sizeof a, t.cp[i]);
        if (t.cp[i] == t.cp[i - 1]) {
            host_fmt(err, err_len, "vocabulary: symbol %s repeated (at symbol %zu)", a, i);
        } else {
            symbol_describe(b, sizeof b, t.cp[i - 1]);
            host_fmt(err, err_len, "vocabulary: not in ascending order (%s after %s at symbol %zu)", a, b, i);
        }
        free(t.cp);
        return -1;
    }
    out->cp = t.cp;
    out->n = (uint32_t)t.n;
    return 0;
}

char *vocab_to_utf8(const vocab *v)
{
    size_t len = 0;
    char tmp[4];
    for (uint32_t i = 0; i < v->n; i++)
        len += utf8_encode(tmp, v->cp[i]);
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    size_t at = 0;
    for (uint32_t i = 0; i < v->n; i++)
        at += utf8_encode(s + at, v->cp[i]);
    s[at] = '\0';
    return s;
}

int32_t vocab_id(const vocab *v, uint32_t cp)
{
    uint32_t lo = 0, hi = v->n; // the answer, if any, is in [lo, hi)
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->cp[mid] < cp)
            lo = mid + 1;
        else if (v->cp[mid] > cp)
            hi = mid;
        else
            return (int32_t)mid;
    }
    return -1;
}

int text_encode(int32_t *ids, const text_buf *t, const vocab *v, size_t *bad)
{
    for (size_t i = 0; i < t->n; i++) {
        int32_t id = vocab_id(v, t->cp[i]);
        if (id < 0) {
            if (bad)
                *bad = i;
            return -1;
        }
        ids[i] = id;
    }
    return 0;
}

void vocab_free(vocab *v)
{
    if (v) {
        free(v->cp);
        *v = (vocab){0};
    }
}

/* ---- messages ----------------------------------------------------------------------------------------- */

/* Characters that show nothing (or something misleading) between quotes in a terminal: controls, spaces
 * other than U+0020, zero-width and direction marks, combining marks that would attach to the quote,
 * variation selectors, private use, noncharacters. A heuristic without Unicode tables, erring towards
 * the number. */
static int invisible_nonascii(uint32_t c)
{
    static const uint32_t ranges[][2] = {
        {0x7F, 0xA0},       {0xAD, 0xAD},       {0x300, 0x36F},     {0x115F, 0x1160},   {0x1680, 0x1680},
        {0x180B, 0x180F},   {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF},   {0x2000, 0x200F},   {0x2028, 0x202F},
        {0x205F, 0x206F},   {0x20D0, 0x20FF},   {0x3000, 0x3000},   {0x3164, 0x3164},   {0xD800, 0xF8FF},
        {0xFDD0, 0xFDEF},   {0xFE00, 0xFE0F},   {0xFE20, 0xFE2F},   {0xFEFF, 0xFEFF},   {0xFFA0, 0xFFA0},
        {0xFFF0, 0xFFFD},   {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF}, {0xF0000, 0xFFFFFFFF},
    };
    if ((c & 0xFFFEu) == 0xFFFEu)
        return 1; // U+xxFFFE and U+xxFFFF in every plane
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (c >= ranges[i][0] && c <= ranges[i][1])
            return 1;
    return 0;
}

void symbol_describe(char *out, size_t len, uint32_t cp)
{
    char full[40], number[16];
    const char *esc = NULL;
    if (!out || len == 0)
        return;
    snprintf(number, sizeof number, "U+%04lX", (unsigned long)cp);
    switch (cp) {
    case '\n': esc = "'\\n'"; break;
    case '\t': esc = "'\\t'"; break;
    case '\r': esc = "'\\r'"; break;
    case '\'': esc = "'\\''"; break;
    case '\\': esc = "'\\\\'"; break;
    default: break;
    }
    if (esc) {
        snprintf(full, sizeof full, "%s", esc);
    } else if (cp >= 0x20 && cp < 0x7F) {
        snprintf(full, sizeof full, "'%c'", (char)cp);
    } else if (cp < 0x20 || invisible_nonascii(cp)) {
        snprintf(full, sizeof full, "%s", number);
    } else {
        char u[5];
        u[utf8_encode(u, cp)] = '\0';
        snprintf(full, sizeof full, "'%s' (%s)", u, number);
    }
    // Never cut a multi-byte character in half: fall back to the all-ASCII number when short of room.
    const char *pick = full;
    if (strlen(full) >= len) {
        for (const char *p = full; *p; p++)
            if ((unsigned char)*p >= 0x80) {
                pick = number;
                break;
            }
    }
    snprintf(out, len, "%s", pick);
}

void text_position(const text_buf *t, size_t i, size_t *line, size_t *col)
{
    size_t l = 1, c = 1, end = i < t->n ? i : t->n;
    for (size_t j = 0; j < end; j++) {
        if (t->cp[j] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}
