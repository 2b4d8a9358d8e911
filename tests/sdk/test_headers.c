/* The public headers compile cleanly as strict C99, C11 and C++ (this file is built once per language
 * mode with -Wall -Wextra -pedantic -Werror) and describe the same ABI in each; the cell kit's headers, installed
 * beside them, too. */
#include <rnnhost/kit/cell.h>
#include <rnnhost/kit/cpulevel.h>
#include <rnnhost/rnnhost.h>

#include <stddef.h>
#include <string.h>

#include "check.h"

#ifdef __cplusplus
#define LANGUAGE "C++"
#elif __STDC_VERSION__ >= 201112L
#define LANGUAGE "C11"
#else
#define LANGUAGE "C99"
#endif

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

// Every plugin is built by some compiler in some language mode: the layout must not depend on which.
static void check_tensor_layout(void)
{
    const size_t p = sizeof(void *);
    const size_t off_offset = round_up(p + 4 + 4 * RH_MAX_DIMS, 8);
    CHECK(offsetof(rh_tensor, name) == 0, LANGUAGE);
    CHECK(offsetof(rh_tensor, ndim) == p, LANGUAGE);
    CHECK(offsetof(rh_tensor, shape) == p + 4, LANGUAGE);
    CHECK(offsetof(rh_tensor, offset) == off_offset, LANGUAGE);
    CHECK(offsetof(rh_tensor, size) == off_offset + 8, LANGUAGE);
    CHECK(offsetof(rh_tensor, init) == off_offset + 16, LANGUAGE);
    CHECK(offsetof(rh_tensor, init_scale) == off_offset + 20, LANGUAGE);
    CHECK(sizeof(rh_tensor) == off_offset + 24, "%s: sizeof(rh_tensor) = %zu", LANGUAGE, sizeof(rh_tensor));
    CHECK(offsetof(rh_plugin_entry, abi_version) == 0, "%s: abi_version must come first", LANGUAGE);
    CHECK(offsetof(rh_plugin_entry, struct_size) == 4, LANGUAGE);
    CHECK(offsetof(rh_rng, s) == 0 && sizeof(rh_rng) == 32, LANGUAGE);
    CHECK(offsetof(rh_model, vtable) == 0, LANGUAGE);
}

int main(void)
{
    CHECK(RH_ABI_VERSION == 1u, "%s: RH_ABI_VERSION is %u", LANGUAGE, (unsigned)RH_ABI_VERSION);
    CHECK(strcmp(RH_ENTRY_SYMBOL, "rnnhost_plugin_entry") == 0, LANGUAGE);
    CHECK(RH_MAX_DIMS == 4 && RH_MAX_NAME == 64, LANGUAGE);
    check_tensor_layout();

    // Links against libsdk from this language too (extern "C" in the headers).
    const char *ok = rh_strerror(RH_OK);
    CHECK(ok != NULL && ok[0] != '\0', "%s: rh_strerror(RH_OK) is empty", LANGUAGE);
    CHECK(strcmp(rh_strerror(-1000), "unknown status") == 0, "%s: %s", LANGUAGE, rh_strerror(-1000));
    CHECK(strcmp(rh_strerror(1), "unknown status") == 0, "%s: positive codes are unknown", LANGUAGE);
    // Every published code has its own words.
    for (rh_status a = RH_ERR_INTERNAL; a <= RH_OK; a++) {
        CHECK(strcmp(rh_strerror(a), "unknown status") != 0, "%s: code %d has no text", LANGUAGE, (int)a);
        for (rh_status b = RH_ERR_INTERNAL; b < a; b++)
            CHECK(strcmp(rh_strerror(a), rh_strerror(b)) != 0, "%s: codes %d and %d share text", LANGUAGE, (int)a,
                  (int)b);
    }
    rh_rng rng;
    rh_rng_seed(&rng, 1);
    CHECK(rh_rng_below(&rng, 10) < 10, LANGUAGE);

    // The cell kit links from this language too; σ(0) and tanh(0) are exact at every kernel level.
    CHECK(strcmp(cpu_level_name(CPU_PLAIN), "plain") == 0, LANGUAGE);
    float x[2] = {0.0f, 0.0f};
    rhk_sigmoid(x, 1);
    rhk_tanh(x + 1, 1);
    CHECK(x[0] == 0.5f && x[1] == 0.0f, "%s: the kit's sigmoid(0) %g, tanh(0) %g", LANGUAGE, (double)x[0], (double)x[1]);
    TEST_EXIT();
}
