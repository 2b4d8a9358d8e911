#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "readall.h"
#include "text.h"

#define MAX_MANIFEST_BYTES (1u << 30)

static int valid_utf8(const char *s, size_t n)
{
    text_buf t = {0};
    char err[8];
    int ok = text_decode(&t, s, n, "", err, sizeof err) == 0;
    text_free(&t);
    return ok;
}

/* Copies the transcript with whitespace runs collapsed and the ends trimmed. */
static char *normalise(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r') {
            if (k > 0 && out[k - 1] != ' ')
                out[k++] = ' ';
            continue;
        }
        out[k++] = c;
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
    return out;
}

int manifest_parse(manifest *out, const char *bytes, size_t n, const char *name, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t dirlen = 0, cap = 0;
    const char *slash = strrchr(name, '/');
    if (slash && strcmp(name, "-") != 0)
        dirlen = (size_t)(slash - name) + 1;
    if (memchr(bytes, '\0', n)) {
        host_fmt(err, err_len, "%s: a NUL byte: not a text manifest", name);
        return -1;
    }
    size_t line = 0;
    for (size_t pos = 0; pos < n;) {
        const char *p = bytes + pos, *nl = memchr(p, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - p) : n - pos;
        pos += len + (nl ? 1 : 0);
        line++;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0 || p[0] == '#')
            continue;
        const char *tab = memchr(p, '\t', len);
        if (!tab || tab == p) {
            host_fmt(err, err_len, "%s:%zu: expected 'path<TAB>transcript'%s", name, line,
                     tab ? " (the path is empty)" : " (no tab)");
            goto fail;
        }
        if (!valid_utf8(p, len)) {
            host_fmt(err, err_len, "%s:%zu: not valid UTF-8", name, line);
            goto fail;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            manifest_entry *g = realloc(out->v, cap * sizeof *g);
            if (!g)
                goto oom;
            out->v = g;
        }
        const size_t plen = (size_t)(tab - p);
        const int relative = p[0] != '/';
        manifest_entry *e = &out->v[out->n];
        e->line = line;
        e->path = malloc((relative ? dirlen : 0) + plen + 1);
        e->text = normalise(tab + 1, len - plen - 1);
        if (!e->path || !e->text) {
            free(e->path), free(e->text);
            goto oom;
        }
        size_t k = 0;
        if (relative)
            memcpy(e->path, name, dirlen), k = dirlen;
        memcpy(e->path + k, p, plen);
        e->path[k + plen] = '\0';
        out->n++;
    }
    if (out->n == 0) {
        host_fmt(err, err_len, "%s: no utterances", name);
        goto fail;
    }
    return 0;
oom:
    host_fmt(err, err_len, "%s: out of memory", name);
fail:
    manifest_free(out);
    return -1;
}

int manifest_read(manifest *out, const char *path, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        host_fmt(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf;
    size_t n;
    int rc = -1;
    if (read_all(f, MAX_MANIFEST_BYTES, &buf, &n) == 0)
        rc = manifest_parse(out, buf, n, path, err, err_len);
    else
        host_fmt(err, err_len, "%s: %s", path,
                 errno == EFBIG ? "larger than 1 GiB" : errno == ENOMEM ? "out of memory" : strerror(errno));
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}

void manifest_free(manifest *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].path), free(m->v[i].text);
    free(m->v);
    memset(m, 0, sizeof *m);
}
