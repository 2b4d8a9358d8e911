/* What every fuzz target shares: the libFuzzer entry point, and a check that stops the run when a
 * parser breaks one of its own promises (a crash is what libFuzzer and the replay driver report). */
#ifndef RNNHOST_FUZZ_H
#define RNNHOST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                            \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

#endif /* RNNHOST_FUZZ_H */
