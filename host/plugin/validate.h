/* rnnhost validate: the conformance checks. Each check is a function run in a forked child by
 * cmd_validate.c, so it may crash or hang without taking the validator down. */
#ifndef RNNHOST_VALIDATE_H
#define RNNHOST_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"

typedef struct validate_ctx {
    plugin_registry *registry;
    host_plugin *plugin; /* the plugin under test */
    uint64_t seed;
    const char *core;    /* config.core for composite models */
    const char *options; /* config.options for every model checked (--options), or NULL */
    const char *tmpdir;  /* private scratch directory for weights files, removed by the caller */
} validate_ctx;

typedef struct validate_case {
    const host_model_desc *model; /* NULL for checks on the plugin as a whole */
    rh_config config;             /* meaningful for per-config checks only */
    char config_label[96];        /* e.g. "dense D=5 H=6 L=2 O=4"; "" when there is no config */
} validate_case;

enum { CHECK_PER_PLUGIN, CHECK_PER_MODEL, CHECK_PER_CONFIG };

/* Returns 0 on pass, 1 on fail; writes one line into detail either way. rng is seeded per check. */
typedef int (*check_fn)(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                        size_t detail_len);

typedef struct check_def {
    const char *name; /* stable: tests and scripts match on it */
    int scope;        /* CHECK_PER_* */
    check_fn run;
} check_def;

extern const check_def validate_checks[];
extern const size_t validate_num_checks;

/* The config a check uses for one input kind of a model (the dense or the token config). */
void validate_make_case(validate_case *vc, const validate_ctx *ctx, const host_model_desc *m, uint32_t kind);

#endif /* RNNHOST_VALIDATE_H */
