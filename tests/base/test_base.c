/* The host's shared plumbing (host/base/): the folder walk's order, filters and errors, the whole-input
 * reader's bound, the growing buffer and the one error formatter. One case per run: test_base CASE. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../scratch.h"
#include "../sdk/check.h"
#include "bytebuf.h"
#include "cliargs.h"
#include "dirwalk.h"
#include "hostlog.h"
#include "readall.h"

/* The paths dir_walk visits, relative to the scratch folder, joined by spaces. */
typedef struct seen {
    char text[2048];
} seen;

static int note_rel(void *ctx, const dir_entry *e)
{
    seen *s = ctx;
    size_t n = strlen(s->text);
    host_fmt(s->text + n, sizeof s->text - n, "%s%s", n ? " " : "", e->rel);
    return 0;
}

static const char *walk(const char *rel, const dir_walk_options *o)
{
    static seen s;
    char err[512] = "";
    s.text[0] = '\0';
    int rc = dir_walk(scratch_at(rel), o, note_rel, &s, err, sizeof err);
    CHECK(rc == 0, "dir_walk %s: %d %s", rel, rc, err);
    return s.text;
}

/* A tree whose names sort differently one folder at a time and as whole paths ('-' sorts before '/'). */
static void make_tree(void)
{
    scratch_dir("t");
    scratch_dir("t/a");
    scratch_dir("t/a-b");
    scratch_dir("t/a/deep");
    scratch_dir("t/.hid");
    scratch_put("t/a/x.mid", "", 0);
    scratch_put("t/a/deep/y.MIDI", "", 0);
    scratch_put("t/a-b/z.mid", "", 0);
    scratch_put("t/.h.mid", "", 0);
    scratch_put("t/.hid/w.mid", "", 0);
    scratch_put("t/note.txt", "", 0);
    scratch_put("t/mid", "", 0); // no longer than the ending alone: not a ".mid"
}

static void case_order(void)
{
    const dir_walk_options all = {.recurse = 1};
    CHECK_MSG(walk("t", &all), "a/deep/y.MIDI a/x.mid a-b/z.mid mid note.txt");
    char **paths;
    size_t n;
    char err[256];
    CHECK(dir_list(&paths, &n, scratch_at("t"), &all, err, sizeof err) == 0, "dir_list: %s", err);
    CHECK(n == 5, "%zu paths", n);
    if (n == 5) {
        // as whole paths: "t/a-b/..." before "t/a/..."
        CHECK_MSG(paths[0] + strlen(scratch_at("t")), "/a-b/z.mid");
        CHECK_MSG(paths[1] + strlen(scratch_at("t")), "/a/deep/y.MIDI");
    }
    dir_list_free(paths, n);
    // a folder given with a trailing '/' gets no second one
    CHECK(dir_list(&paths, &n, scratch_at("t/a-b/"), NULL, err, sizeof err) == 0 && n == 1, "t/a-b/: %s", err);
    if (n == 1)
        CHECK_MSG(paths[0], scratch_at("t/a-b/z.mid"));
    dir_list_free(paths, n);
}

static void case_filters(void)
{
    const dir_walk_options midi = {.recurse = 1, .suffixes = ".mid|.midi", .suffix_nocase = 1};
    CHECK_MSG(walk("t", &midi), "a/deep/y.MIDI a/x.mid a-b/z.mid");
    const dir_walk_options exact = {.recurse = 1, .suffixes = ".mid|.midi"};
    CHECK_MSG(walk("t", &exact), "a/x.mid a-b/z.mid");
    const dir_walk_options hidden = {.recurse = 1, .hidden = 1, .suffixes = ".mid"};
    CHECK_MSG(walk("t", &hidden), ".h.mid .hid/w.mid a/x.mid a-b/z.mid");
    const dir_walk_options shallow = {.recurse = 1, .max_depth = 1, .suffixes = ".mid|.midi", .suffix_nocase = 1};
    CHECK_MSG(walk("t", &shallow), "a/x.mid a-b/z.mid");
    const dir_walk_options flat = {0};
    CHECK_MSG(walk("t", &flat), "mid note.txt");
    const dir_walk_options folders = {.list = DIR_FOLDERS};
    CHECK_MSG(walk("t", &folders), "a a-b");
    const dir_walk_options everything = {.list = DIR_EVERYTHING, .hidden = 1};
    CHECK_MSG(walk("t", &everything), ".h.mid .hid a a-b mid note.txt");
}

static void case_links(void)
{
    scratch_dir("l");
    scratch_dir("l/real");
    scratch_put("l/real/f.txt", "", 0);
    CHECK(symlink("real", scratch_at("l/to-real")) == 0, "symlink");
    CHECK(symlink("real/f.txt", scratch_at("l/to-file")) == 0, "symlink");
    const dir_walk_options follow = {.recurse = 1};
    CHECK_MSG(walk("l", &follow), "real/f.txt to-file to-real/f.txt");
    const dir_walk_options no_folder_links = {.recurse = 1, .skip_linked_folders = 1};
    CHECK_MSG(walk("l", &no_folder_links), "real/f.txt to-file");
    // a dangling link: passed over, or an error naming it
    CHECK(symlink("gone", scratch_at("l/zz-dangling")) == 0, "symlink");
    CHECK_MSG(walk("l", &no_folder_links), "real/f.txt to-file");
    const dir_walk_options strict = {.recurse = 1, .skip_linked_folders = 1, .strict_entries = 1};
    seen s = {""};
    char err[512] = "", want[600];
    CHECK(dir_walk(scratch_at("l"), &strict, note_rel, &s, err, sizeof err) == -1 && errno == ENOENT, "strict");
    host_fmt(want, sizeof want, "%s: no such file or directory", scratch_at("l/zz-dangling"));
    CHECK_MSG(err, want);
    // a folder that is not there is always an error, and errno says why
    char **paths;
    size_t n;
    CHECK(dir_list(&paths, &n, scratch_at("nowhere"), NULL, err, sizeof err) == -1 && errno == ENOENT, "missing");
    CHECK(paths == NULL && n == 0, "nothing to free");
    host_fmt(want, sizeof want, "%s: no such file or directory", scratch_at("nowhere"));
    CHECK_MSG(err, want);
}

static int stop_at_second(void *ctx, const dir_entry *e)
{
    (void)e;
    return ++*(int *)ctx == 2 ? 7 : 0;
}

static void case_stop(void)
{
    int calls = 0;
    const dir_walk_options all = {.recurse = 1};
    CHECK(dir_walk(scratch_at("t"), &all, stop_at_second, &calls, NULL, 0) == 7 && calls == 2, "stop: %d", calls);
}

static void case_readall(void)
{
    scratch_put("r.bin", "abc\0def", 7);
    char *data;
    size_t n;
    CHECK(read_all_path(scratch_at("r.bin"), 7, &data, &n) == 0 && n == 7, "read 7 of at most 7");
    CHECK(data && memcmp(data, "abc\0def", 8) == 0, "the bytes and a NUL after them");
    free(data);
    CHECK(read_all_path(scratch_at("r.bin"), 6, &data, &n) == -1 && errno == EFBIG && !data && n > 6,
          "more than the limit: EFBIG");
    CHECK(read_all_path(scratch_at("nothing"), 6, &data, &n) == -1 && errno == ENOENT && !data, "missing: ENOENT");
    CHECK(read_all_path(scratch_at("t"), 100, &data, &n) == -1 && errno == EISDIR, "a folder: EISDIR (%d)", errno);
}

static void case_bytebuf(void)
{
    bytebuf b = {0};
    bytebuf_printf(&b, "%s", "");
    CHECK(b.data && b.len == 0 && b.data[0] == '\0', "an empty string still gives a string");
    for (int i = 0; i < 1000; i++)
        bytebuf_printf(&b, "%04d,", i);
    bytebuf_put(&b, NULL, 0);
    bytebuf_put(&b, "!", 1);
    CHECK(!b.failed && b.len == 5001 && strncmp(b.data + 4990, "0998,0999,!", 11) == 0 && b.data[5001] == '\0',
          "5001 bytes, the last ones '%s'", b.data ? b.data + 4990 : "");
    bytebuf_free(&b);
    CHECK(!b.data && b.len == 0, "freed");
}

static void case_format(void)
{
    char small[8];
    host_fmt(small, sizeof small, "%s", "truncated here");
    CHECK_MSG(small, "truncat");
    host_fmt(NULL, 0, "%s", "nowhere"); // no buffer: nothing happens
    char e[64];
    host_fmt_errno(e, sizeof e, "x.txt", ENOENT);
    CHECK_MSG(e, "x.txt: no such file or directory");
}

/* One syntax of a duration for every option (play --duration, generate --length, train --time-budget). */
static void case_duration(void)
{
    static const struct {
        const char *text;
        double seconds;
        int unit;
    } good[] = {{"20", 20, 0}, {"20s", 20, 1}, {"1.5s", 1.5, 1}, {"250ms", 0.25, 1}, {"2m", 120, 1},
                {"1.5min", 90, 1}, {"2h", 7200, 1}, {"0", 0, 0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -1;
        int unit = -1;
        CHECK(cli_parse_seconds(good[i].text, &v, &unit) == 0 && v == good[i].seconds && unit == good[i].unit,
              "'%s' gave %g s (unit %d), not %g s (unit %d)", good[i].text, v, unit, good[i].seconds, good[i].unit);
    }
    static const char *const bad[] = {"-1s", "abc", "5 parsecs", "", "2ms2", "inf", "nan", "1e400", "3d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = -1;
        CHECK(cli_parse_seconds(bad[i], &v, NULL) == -1, "'%s' accepted as %g s", bad[i], v);
    }
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {{"order", case_order},   {"filters", case_filters}, {"links", case_links},
                 {"stop", case_stop},     {"readall", case_readall}, {"bytebuf", case_bytebuf},
                 {"format", case_format}, {"duration", case_duration}};
    if (argc != 2) {
        fprintf(stderr, "usage: test_base CASE\n");
        return 2;
    }
    scratch_init("base");
    make_tree();
    int found = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(argv[1], cases[i].name) == 0)
            cases[i].run(), found = 1;
    CHECK(found, "no case '%s'", argv[1]);
    scratch_remove();
    TEST_EXIT();
}
