/* Shared by the model tests: load a plugin module by path the way the host does, create models, fill
 * buffers from a seeded generator and count failed checks. */
#ifndef RNNHOST_TESTS_MODELS_HARNESS_H
#define RNNHOST_TESTS_MODELS_HARNESS_H

#include <stdint.h>

#include "rnnhost/rnnhost.h"

typedef struct harness {
    void *handle;
    const rh_plugin_entry *entry;
    rh_host host;
    int failures;
} harness;

/* dlopen()s path with RTLD_NOW | RTLD_LOCAL and checks the entry's ABI version; 0 on success. */
int harness_open(harness *h, const char *path);
void harness_close(harness *h);

/* The plugin's one model id (descriptor 0). */
const char *harness_model_id(const harness *h);

/* A model from a config built of the given fields, or NULL (the status goes to *status when not NULL). */
rh_model *harness_create(harness *h, uint32_t kind, uint32_t input_dim, uint32_t hidden, uint32_t layers,
                         uint32_t output_dim, rh_status *status);
/* The same with config.options (NULL for none). */
rh_model *harness_create_with(harness *h, uint32_t kind, uint32_t input_dim, uint32_t hidden, uint32_t layers,
                              uint32_t output_dim, const char *options, rh_status *status);

rh_model_info harness_info(const rh_model *m);

/* The threads a model may use per call ("rnnhost.threads/1"), read at creation and at each call; 1 until
 * set. */
void harness_set_threads(uint32_t n);

/* Fills n floats uniformly in [-scale, scale]. */
void fill_uniform(float *x, uint64_t n, float scale, rh_rng *rng);

/* Records a failure with a message on stderr when cond is false; returns cond. */
int check(harness *h, int cond, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Asserting allocation: the tests have nothing sensible to do without memory. */
void *xcalloc(uint64_t count, uint64_t size);

#endif /* RNNHOST_TESTS_MODELS_HARNESS_H */
