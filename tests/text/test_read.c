/* Reading a corpus from files, directory trees and standard input, in a scratch directory of our own. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../scratch.h"
#include "../sdk/check.h"
#include "text.h"

/* The corpus as a byte string again, for comparing against what the files held. */
static char *utf8_of(const text_buf *t)
{
    char *s = malloc(4 * t->n + 1);
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++)
        m += utf8_encode(s + m, t->cp[i]);
    s[m] = '\0';
    return s;
}

/* Reads path and compares the text with want (UTF-8). */
static void expect_text(const char *path, const char *want)
{
    char err[512] = "";
    text_buf t = {NULL, 0};
    if (text_read(&t, path, err, sizeof err) != 0) {
        CHECK(0, "reading %s failed: %s", path, err);
        return;
    }
    char *got = utf8_of(&t);
    CHECK(strcmp(got, want) == 0, "%s read as \"%s\", want \"%s\"", path, got, want);
    free(got);
    text_free(&t);
}

static void expect_error(const char *path, const char *want, int exact)
{
    char err[512] = "";
    text_buf t = {NULL, 0};
    t.n = 12345;
    int rc = text_read(&t, path, err, sizeof err);
    CHECK(rc == -1, "reading %s succeeded, want \"%s\"", path, want);
    CHECK(t.n == 12345, "out touched on failure for %s", path);
    if (rc == 0)
        text_free(&t);
    if (exact)
        CHECK_MSG(err, want);
    else
        CHECK_PREFIX(err, want);
    CHECK(strchr(err, '\n') == NULL, "more than one line: \"%s\"", err);
}

static void test_files(void)
{
    char want[128];
    const char *text = "na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb9\r\nline 2\n";
    scratch_put("multi.txt", text, strlen(text));
    expect_text(scratch_at("multi.txt"), text);

    // Decode from the file equals decode from memory, code point for code point.
    text_buf a = {NULL, 0}, b = {NULL, 0};
    char err[512] = "";
    CHECK(text_read(&a, scratch_at("multi.txt"), err, sizeof err) == 0, "%s", err);
    CHECK(text_decode(&b, text, strlen(text), "m", err, sizeof err) == 0, "%s", err);
    CHECK(a.n == b.n && a.n > 0 && memcmp(a.cp, b.cp, a.n * sizeof *a.cp) == 0, "file and memory differ");
    text_free(&a);
    text_free(&b);

    scratch_put("bom.txt", "\xef\xbb\xbfhi\r\n", 7);
    expect_text(scratch_at("bom.txt"), "hi\r\n");

    scratch_put("empty.txt", "", 0);
    snprintf(want, sizeof want, "%s: empty file", scratch_at("empty.txt"));
    expect_error(scratch_at("empty.txt"), want, 1);
    scratch_put("bomonly.txt", "\xef\xbb\xbf", 3);
    snprintf(want, sizeof want, "%s: empty file", scratch_at("bomonly.txt"));
    expect_error(scratch_at("bomonly.txt"), want, 1);

    char bin[64];
    memset(bin, 'b', sizeof bin);
    bin[17] = '\0';
    scratch_put("x.bin", bin, sizeof bin);
    snprintf(want, sizeof want, "%s: binary file (NUL byte at offset 17)", scratch_at("x.bin"));
    expect_error(scratch_at("x.bin"), want, 1);

    scratch_put("latin1.txt", "caf\xe9 au lait", 12);
    snprintf(want, sizeof want, "%s: invalid UTF-8 at byte 3 (0xe9)", scratch_at("latin1.txt"));
    expect_error(scratch_at("latin1.txt"), want, 0);

    snprintf(want, sizeof want, "%s: no such file or directory", scratch_at("missing.txt"));
    expect_error(scratch_at("missing.txt"), want, 1);
    snprintf(want, sizeof want, "%s: no such file or directory", scratch_at("nodir/"));
    expect_error(scratch_at("nodir/"), want, 1);

    // A file large enough for several reads.
    size_t big = 3 * 1000 * 1000;
    char *huge = malloc(big + 1);
    for (size_t i = 0; i < big; i += 3)
        memcpy(huge + i, i % 2 ? "\xe2\x82\xac" : "abc", 3);
    huge[big] = '\0';
    scratch_put("big.txt", huge, big);
    CHECK(text_read(&a, scratch_at("big.txt"), err, sizeof err) == 0, "%s", err);
    CHECK(a.n == big / 6 * 4, "big file: %zu code points, want %zu", a.n, big / 6 * 4);
    char *back = utf8_of(&a);
    CHECK(strcmp(back, huge) == 0, "big file changed on the way");
    free(back);
    free(huge);
    text_free(&a);
}

static void test_directories(void)
{
    char want[256];
    // Bytewise path order puts "a-b.txt" < "a.txt" < "a/x.txt" ('-' < '.' < '/'), which sorting each
    // directory's names on their own ("a" < "a-b.txt" < "a.txt") would get wrong.
    scratch_dir("tree");
    scratch_dir("tree/a");
    scratch_dir("tree/a/y");
    scratch_dir("tree/.git");
    scratch_dir("tree/c");
    scratch_dir("tree/sub");
    scratch_put("tree/b.txt", "\xef\xbb\xbf" "B", 4); // each file may carry its own BOM
    scratch_put("tree/a.txt", "A", 1);
    scratch_put("tree/a-b.txt", "D", 1);
    scratch_put("tree/a/x.txt", "X", 1);
    scratch_put("tree/a/y/z.txt", "Z", 1);
    scratch_put("tree/.hidden", "H", 1);
    scratch_put("tree/.git/config", "G", 1);
    scratch_put("tree/c/.secret", "S", 1);
    scratch_put("tree/empty.txt", "", 0);
    scratch_put("tree/\xc3\xa9t\xc3\xa9.txt", "\xc3\x89", 2); // non-ASCII names sort after ASCII ones
    CHECK(symlink("a.txt", scratch_at("tree/link.txt")) == 0, "symlink: %s", strerror(errno));
    CHECK(symlink("a", scratch_at("tree/dirlink")) == 0, "symlink: %s", strerror(errno)); // not followed
    CHECK(mkfifo(scratch_at("tree/fifo"), 0644) == 0, "mkfifo: %s", strerror(errno));    // skipped, never opened
    expect_text(scratch_at("tree"), "DAXZBA\xc3\x89");
    expect_text(scratch_at("tree/"), "DAXZBA\xc3\x89");

    // The error names the file inside the tree, with the offset inside that file.
    scratch_dir("bad");
    scratch_put("bad/1.txt", "fine", 4);
    scratch_put("bad/2.txt", "ok\xff", 3);
    snprintf(want, sizeof want, "%s: invalid UTF-8 at byte 2 (0xff)", scratch_at("bad/2.txt"));
    expect_error(scratch_at("bad"), want, 0);

    // Files are decoded one by one: a sequence cannot start in one file and end in the next.
    scratch_dir("split");
    scratch_put("split/1.txt", "x\xc3", 2);
    scratch_put("split/2.txt", "\xa9y", 2);
    snprintf(want, sizeof want, "%s: invalid UTF-8 at byte 1 (0xc3)", scratch_at("split/1.txt"));
    expect_error(scratch_at("split"), want, 0);

    scratch_dir("nul");
    scratch_put("nul/a.txt", "text", 4);
    scratch_put("nul/b.bin", "ab\0", 3);
    snprintf(want, sizeof want, "%s: binary file (NUL byte at offset 2)", scratch_at("nul/b.bin"));
    expect_error(scratch_at("nul"), want, 1);

    scratch_dir("dangling");
    scratch_put("dangling/a.txt", "a", 1);
    CHECK(symlink("gone.txt", scratch_at("dangling/b.txt")) == 0, "symlink: %s", strerror(errno));
    snprintf(want, sizeof want, "%s: no such file or directory", scratch_at("dangling/b.txt"));
    expect_error(scratch_at("dangling"), want, 1);

    // Permission bits do not stop root, so this case only means something for other users.
    scratch_dir("locked");
    scratch_put("locked/a.txt", "a", 1);
    scratch_put("locked/b.txt", "b", 1);
    CHECK(chmod(scratch_at("locked/b.txt"), 0) == 0, "chmod: %s", strerror(errno));
    if (geteuid() != 0) {
        snprintf(want, sizeof want, "%s: permission denied", scratch_at("locked/b.txt"));
        expect_error(scratch_at("locked"), want, 1);
    } else {
        fprintf(stderr, "note: running as root, the unreadable-file case is covered by the dangling link\n");
    }

    scratch_dir("nothing");
    snprintf(want, sizeof want, "%s: no files", scratch_at("nothing"));
    expect_error(scratch_at("nothing"), want, 0);
    scratch_dir("onlyhidden");
    scratch_put("onlyhidden/.x", "x", 1);
    scratch_dir("onlyhidden/.d");
    scratch_put("onlyhidden/.d/y", "y", 1);
    snprintf(want, sizeof want, "%s: no files", scratch_at("onlyhidden"));
    expect_error(scratch_at("onlyhidden"), want, 0);
    scratch_dir("allempty");
    scratch_put("allempty/a", "", 0);
    scratch_put("allempty/b", "\xef\xbb\xbf", 3);
    snprintf(want, sizeof want, "%s: empty corpus", scratch_at("allempty"));
    expect_error(scratch_at("allempty"), want, 0);
}

/* Runs text_read("-") with fd 0 replaced by fd, then puts the real standard input back. */
static int read_stdin_from(int fd, text_buf *t, char *err, size_t err_len)
{
    int saved = dup(0);
    if (saved < 0 || dup2(fd, 0) < 0) {
        fprintf(stderr, "dup2: %s\n", strerror(errno));
        exit(1);
    }
    close(fd);
    int rc = text_read(t, "-", err, err_len);
    dup2(saved, 0);
    close(saved);
    return rc;
}

static void test_stdin(void)
{
    char err[512] = "";
    text_buf t = {NULL, 0};

    // A regular file on fd 0 (as with `rnnhost train - < corpus.txt`).
    scratch_put("stdin.txt", "\xef\xbb\xbfstd \xce\xb1\xce\xb2", 11);
    int fd = open(scratch_at("stdin.txt"), O_RDONLY);
    CHECK(read_stdin_from(fd, &t, err, sizeof err) == 0, "%s", err);
    char *got = utf8_of(&t);
    CHECK(strcmp(got, "std \xce\xb1\xce\xb2") == 0, "stdin read as \"%s\"", got);
    free(got);
    text_free(&t);

    // A pipe fed by a child, longer than the first stream buffer so the buffer has to grow.
    const char *piece = "\xce\xb1\xce\xb2\xce\xb3 line\n"; // 12 bytes, 9 code points
    const size_t reps = 50000;
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (size_t i = 0; i < reps; i++)
            if (write(p[1], piece, 12) != 12)
                _exit(1);
        _exit(0);
    }
    close(p[1]);
    CHECK(read_stdin_from(p[0], &t, err, sizeof err) == 0, "%s", err);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer failed");
    CHECK(t.n == reps * 9, "pipe gave %zu code points, want %zu", t.n, reps * 9);
    static const uint32_t one[9] = {0x3B1, 0x3B2, 0x3B3, ' ', 'l', 'i', 'n', 'e', '\n'};
    size_t wrong = 0;
    for (size_t i = 0; i < t.n; i++)
        wrong += t.cp[i] != one[i % 9];
    CHECK(wrong == 0, "%zu code points from the pipe differ", wrong);
    text_free(&t);

    // Empty standard input is an empty corpus, named as such.
    CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
    close(p[1]);
    CHECK(read_stdin_from(p[0], &t, err, sizeof err) == -1, "empty stdin accepted");
    CHECK_MSG(err, "standard input: empty file");

    scratch_put("stdin-bad.txt", "ab\xed\xa0\x80", 5);
    fd = open(scratch_at("stdin-bad.txt"), O_RDONLY);
    CHECK(read_stdin_from(fd, &t, err, sizeof err) == -1, "surrogate on stdin accepted");
    CHECK_PREFIX(err, "standard input: invalid UTF-8 at byte 2 (0xed)");
}

int main(void)
{
    scratch_init("text");
    test_files();
    test_directories();
    test_stdin();
    scratch_remove();
    TEST_EXIT();
}
