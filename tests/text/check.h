/* Assertion helpers for the text tests: a failed CHECK says where and why and the test keeps going, so
 * one run reports every broken property; TEST_EXIT turns the count into the exit status (0 pass, 1 fail). */
#ifndef RNNHOST_TEST_TEXT_CHECK_H
#define RNNHOST_TEST_TEXT_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            check_failures++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                  \
            fputc('\n', stderr);                                                                           \
        }                                                                                                  \
    } while (0)

// The whole message, exactly.
#define CHECK_MSG(err, want) CHECK(strcmp((err), (want)) == 0, "message \"%s\", want \"%s\"", (err), (want))

// The message starts with prefix (the reason after it is free wording).
#define CHECK_PREFIX(err, prefix)                                                                          \
    CHECK(strncmp((err), (prefix), strlen(prefix)) == 0, "message \"%s\", want it to start \"%s\"", (err),    \
          (prefix))

#define TEST_EXIT()                                                                                        \
    do {                                                                                                   \
        if (check_failures)                                                                                \
            fprintf(stderr, "%d check(s) failed\n", check_failures);                                      \
        return check_failures ? 1 : 0;                                                                     \
    } while (0)

#endif /* RNNHOST_TEST_TEXT_CHECK_H */
