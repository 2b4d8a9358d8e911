/* Tiny assertion helpers shared by the C tests: a failed CHECK prints where and why and the test keeps
 * going, so one run reports every broken property; TEST_EXIT turns the count into the exit status. */
#ifndef RNNHOST_TEST_CHECK_H
#define RNNHOST_TEST_CHECK_H

#include <math.h>
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

// |a - b| <= tol, with NaN failing.
#define CHECK_NEAR(a, b, tol)                                                                              \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s = %.9g, %s = %.9g, tolerance %g", #a, (double)(a), \
          #b, (double)(b), (double)(tol))

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

#endif /* RNNHOST_TEST_CHECK_H */
