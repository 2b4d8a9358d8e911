/* The streamed corpus (host/text/corpus.c) against the in-memory reader (host/text/text.c) it stands in for: the
 * same symbols, vocabulary, messages and line/column positions. meson.build compiles corpus.c here with a
 * tiny scan buffer and index, so sequences cut by a buffer end, index compaction and seeks all happen on
 * texts of a few kilobytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../scratch.h"
#include "../sdk/check.h"
#include "corpus.h"
#include "text.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t below)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % below);
}

/* n symbols of 1 to 4 bytes, newlines among them, as UTF-8 into out (at least 4n bytes). */
static size_t random_text(char *out, size_t n)
{
    static const uint32_t pool[] = {'a', 'b', 'c', ' ', '\n', 0xE9, 0x3B1, 0x20AC, 0x4E2D, 0x1F600, 0x10348};
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += utf8_encode(out + m, pool[rnd(sizeof pool / sizeof pool[0])]);
    return m;
}

/* corpus_read of many windows (random ones, and the overlapping ones of truncated BPTT) equals the ids
 * of text_read's text. */
static void check_same(const char *path)
{
    char err[512] = "", cerr[512] = "";
    text_buf t = {NULL, 0};
    vocab v = {NULL, 0}, cv = {NULL, 0};
    corpus *c = NULL;
    if (text_read(&t, path, err, sizeof err) != 0 || vocab_build(&v, &t, err, sizeof err) != 0) {
        CHECK(0, "text_read %s: %s", path, err);
        return;
    }
    if (corpus_open(&c, path, NULL, cerr, sizeof cerr) != 0) {
        CHECK(0, "corpus_open %s: %s", path, cerr);
        goto done;
    }
    CHECK(corpus_size(c) == t.n, "%s: %zu symbols streamed, %zu read", path, corpus_size(c), t.n);
    corpus *parts[1] = {c};
    if (corpus_vocab(&cv, parts, 1, cerr, sizeof cerr) != 0) {
        CHECK(0, "corpus_vocab: %s", cerr);
        goto done;
    }
    CHECK(cv.n == v.n && memcmp(cv.cp, v.cp, v.n * sizeof *v.cp) == 0, "%s: vocabularies differ (%u, %u)", path,
          cv.n, v.n);
    corpus_bind(c, &v);
    int32_t *ids = malloc(t.n * sizeof *ids), *got = malloc(t.n * sizeof *got);
    if (!ids || !got || text_encode(ids, &t, &v, NULL) != 0) {
        CHECK(0, "encode");
        free(ids), free(got);
        goto done;
    }
    corpus_cursor cur[3];
    for (int k = 0; k < 3; k++)
        if (corpus_cursor_init(&cur[k], k == 0 ? 64 : 4096) != 0)
            exit(1);
    for (int trial = 0; trial < 400; trial++) {
        size_t first = rnd((uint32_t)t.n), count = 1 + rnd((uint32_t)(t.n - first));
        if (count > 200)
            count = 1 + rnd(200);
        corpus_cursor *cu = &cur[rnd(3)];
        if (corpus_read(c, cu, got, first, count, cerr, sizeof cerr) != 0) {
            CHECK(0, "corpus_read %zu+%zu: %s", first, count, cerr);
            break;
        }
        CHECK(memcmp(got, ids + first, count * sizeof *ids) == 0, "%s: window %zu+%zu differs", path, first, count);
    }
    const size_t T = 7; /* windows of T+1 that share their edge symbol, from a few starts */
    for (size_t start = 0; start < t.n; start += t.n / 3 + 1)
        for (size_t pos = start; pos + T + 1 <= t.n; pos += T) {
            if (corpus_read(c, &cur[0], got, pos, T + 1, cerr, sizeof cerr) != 0) {
                CHECK(0, "corpus_read %zu: %s", pos, cerr);
                break;
            }
            if (memcmp(got, ids + pos, (T + 1) * sizeof *ids) != 0) {
                CHECK(0, "%s: sequential window at %zu differs", path, pos);
                break;
            }
        }
    char tail[512];
    CHECK(corpus_read(c, &cur[1], got, t.n - 1, 2, tail, sizeof tail) != 0, "a read past the end succeeded");
    for (int k = 0; k < 3; k++)
        corpus_cursor_free(&cur[k]);
    free(ids), free(got);
done:
    corpus_close(c);
    text_free(&t);
    vocab_free(&v);
    vocab_free(&cv);
}

/* Both readers refuse path with the same message. */
static void check_refused(const char *path, const char *contains)
{
    char err[512] = "", cerr[512] = "";
    text_buf t = {NULL, 0};
    corpus *c = NULL;
    int a = text_read(&t, path, err, sizeof err), b = corpus_open(&c, path, NULL, cerr, sizeof cerr);
    CHECK(a != 0 && b != 0, "%s: text_read %d, corpus_open %d", path, a, b);
    CHECK_MSG(cerr, err);
    CHECK(strstr(cerr, contains) != NULL, "message \"%s\" lacks \"%s\"", cerr, contains);
    text_free(&t);
    corpus_close(c);
}

static void check_errors(void)
{
    char big[200];
    memset(big, 'x', sizeof big);
    struct {
        const char *name;
        const char *bytes;
        size_t n;
        const char *contains;
    } cases[] = {
        {"bad1.txt", "hello w\xffrld\n", 12, "invalid UTF-8 at byte 7 (0xff)"},
        /* the scan buffer is 16 bytes here: sequences cut by its end, bad and good */
        {"bad2.txt", "0123456789abcd\xe2\x82X", 17, "at byte 14 (0xe2): missing continuation byte"},
        {"bad3.txt", "0123456789abcde\xf0\x9f\x98", 18, "truncated sequence at end of input"},
        {"bad4.txt", "\xef\xbb\xbf" "abc\xc0\xaf", 8, "at byte 6 (0xc0)"},
        {"bad5.txt", "ab\xed\xa0\x80", 5, "UTF-16 surrogate"},
        {"bad6.txt", "\xf4\x90\x80\x80", 4, "above U+10FFFF"},
        {"bad7.txt", "\xe0\x80\x80", 3, "overlong"},
        /* a NUL anywhere makes it a binary file, even past an earlier UTF-8 fault */
        {"bin1.txt", "a\xff" "0123456789abcdefghij\0z", 23, "binary file (NUL byte at offset 22)"},
        {"bin2.txt", "abc\0", 4, "NUL byte at offset 3"},
        {"empty.txt", "", 0, "empty file"},
        {"bom.txt", "\xef\xbb\xbf", 3, "empty file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scratch_put(cases[i].name, cases[i].bytes, cases[i].n);
        check_refused(scratch_at(cases[i].name), cases[i].contains);
    }
    check_refused(scratch_at("missing.txt"), "no such file or directory");
    scratch_dir("nofiles");
    scratch_dir("nofiles/.hidden");
    check_refused(scratch_at("nofiles"), "no files in directory");
    scratch_dir("empties");
    scratch_put("empties/a", "", 0);
    scratch_put("empties/b", "\xef\xbb\xbf", 3);
    check_refused(scratch_at("empties"), "empty corpus (all 2 files are empty)");
    scratch_dir("badtree");
    scratch_put("badtree/a.txt", "fine\n", 5);
    scratch_put("badtree/b.txt", big, sizeof big);
    scratch_put("badtree/c.txt", "x\x80", 2);
    check_refused(scratch_at("badtree"), "c.txt: invalid UTF-8 at byte 1 (0x80)");
}

/* A given vocabulary: the first symbol outside it, where text_position puts it in the whole corpus. */
static void check_vocab_fault(const char *path, uint32_t drop)
{
    char err[512] = "";
    text_buf t = {NULL, 0};
    vocab full = {NULL, 0}, v = {NULL, 0};
    corpus *c = NULL;
    if (text_read(&t, path, err, sizeof err) != 0 || vocab_build(&full, &t, err, sizeof err) != 0) {
        CHECK(0, "%s: %s", path, err);
        return;
    }
    v.cp = malloc(full.n * sizeof *v.cp);
    for (uint32_t i = 0; i < full.n; i++)
        if (full.cp[i] != drop)
            v.cp[v.n++] = full.cp[i];
    CHECK(v.n + 1 == full.n, "symbol %u not in %s", (unsigned)drop, path);
    int32_t *ids = malloc(t.n * sizeof *ids);
    size_t bad = 0, line, col, cline = 0, ccol = 0;
    uint32_t cp = 0;
    CHECK(text_encode(ids, &t, &v, &bad) != 0, "encoding without U+%04X succeeded", (unsigned)drop);
    text_position(&t, bad, &line, &col);
    if (corpus_open(&c, path, &v, err, sizeof err) != 0) {
        CHECK(0, "corpus_open with a vocabulary: %s", err);
    } else {
        CHECK(corpus_vocab_fault(c, &cp, &cline, &ccol) == 1, "no fault reported");
        CHECK(cp == drop && cline == line && ccol == col, "fault U+%04X at %zu:%zu, want U+%04X at %zu:%zu",
              (unsigned)cp, cline, ccol, (unsigned)drop, line, col);
    }
    corpus_close(c);
    c = NULL;
    if (corpus_open(&c, path, &full, err, sizeof err) == 0)
        CHECK(corpus_vocab_fault(c, &cp, &cline, &ccol) == 0, "a fault with the full vocabulary");
    corpus_close(c);
    free(ids);
    free(v.cp);
    vocab_free(&full);
    text_free(&t);
}

/* A file rewritten after the scan is refused, not read as something else. */
static void check_changed(void)
{
    char err[512] = "";
    corpus *c = NULL;
    vocab v = {NULL, 0};
    scratch_put("changing.txt", "abcabcabc\n", 10);
    if (corpus_open(&c, scratch_at("changing.txt"), NULL, err, sizeof err) != 0 || corpus_vocab(&v, &c, 1, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    corpus_bind(c, &v);
    scratch_put("changing.txt", "abcz", 4);
    corpus_cursor cur;
    int32_t ids[10];
    if (corpus_cursor_init(&cur, 64) != 0)
        exit(1);
    CHECK(corpus_read(c, &cur, ids, 0, 10, err, sizeof err) != 0, "a rewritten file was read");
    CHECK(strstr(err, "changed while in use") != NULL, "message \"%s\"", err);
    corpus_cursor_free(&cur);
    corpus_close(c);
    vocab_free(&v);
}

int main(void)
{
    scratch_init("corpus");
    char *text = malloc(4 * 3000);
    size_t m = random_text(text, 3000);
    scratch_put("one.txt", text, m);
    check_same(scratch_at("one.txt"));
    check_vocab_fault(scratch_at("one.txt"), 0x1F600);
    check_vocab_fault(scratch_at("one.txt"), '\n');

    /* a directory: BOMs, an empty file, a nested folder, a hidden file that does not count */
    scratch_dir("tree");
    scratch_dir("tree/sub");
    memcpy(text, "\xef\xbb\xbf", 3);
    m = 3 + random_text(text + 3, 700);
    scratch_put("tree/a.txt", text, m);
    scratch_put("tree/b-empty.txt", "", 0);
    m = random_text(text, 900);
    scratch_put("tree/sub/c.txt", text, m);
    memcpy(text, "\xef\xbb\xbf", 3);
    m = 3 + random_text(text + 3, 500);
    scratch_put("tree/sub/d.txt", text, m);
    scratch_put("tree/.hidden", "\xff", 1);
    check_same(scratch_at("tree"));
    check_vocab_fault(scratch_at("tree"), 0x10348);

    scratch_put("tiny.txt", "ab", 2);
    check_same(scratch_at("tiny.txt"));
    free(text);

    check_errors();
    check_changed();
    scratch_remove();
    TEST_EXIT();
}
