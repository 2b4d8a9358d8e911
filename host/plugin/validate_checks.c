/* The checks of `rnnhost validate`, in the order they run, and the configs they run with. The checks
 * themselves live one family per file (validate_fixture.h lists them). */
#include "validate.h"

#include <string.h>

#include "hostlog.h"
#include "validate_fixture.h"

void validate_make_case(validate_case *vc, const validate_ctx *ctx, const host_model_desc *m, uint32_t kind)
{
    memset(vc, 0, sizeof *vc);
    vc->model = m;
    vc->config.struct_size = sizeof vc->config;
    vc->config.input_kind = kind;
    vc->config.num_layers = LAYERS;
    if (kind == RH_INPUT_DENSE) {
        vc->config.input_dim = DENSE_D, vc->config.hidden_size = DENSE_H, vc->config.output_dim = DENSE_O;
    } else {
        vc->config.input_dim = TOKEN_V, vc->config.hidden_size = TOKEN_H, vc->config.output_dim = TOKEN_O;
    }
    if (m && (m->flags & RH_MODEL_COMPOSITE))
        vc->config.core = ctx->core;
    vc->config.options = ctx->options;
    host_fmt(vc->config_label, sizeof vc->config_label, "%s %s=%u H=%u L=%u O=%u%s%s%s%s",
             kind == RH_INPUT_DENSE ? "dense" : "tokens", kind == RH_INPUT_DENSE ? "D" : "V",
             vc->config.input_dim, vc->config.hidden_size, vc->config.num_layers, vc->config.output_dim,
             vc->config.core ? " core=" : "", vc->config.core ? vc->config.core : "",
             vc->config.options ? " options=" : "", vc->config.options ? vc->config.options : "");
}

const check_def validate_checks[] = {
    {"exports", CHECK_PER_PLUGIN, validate_exports},
    {"unknown-model", CHECK_PER_PLUGIN, validate_unknown_model},
    {"bad-config", CHECK_PER_MODEL, validate_bad_config},
    {"create", CHECK_PER_CONFIG, validate_create},
    {"gradients", CHECK_PER_CONFIG, validate_gradients},
    {"dropout", CHECK_PER_CONFIG, validate_dropout},
    {"step-equals-forward", CHECK_PER_CONFIG, validate_step_equals_forward},
    {"half-step", CHECK_PER_CONFIG, validate_half_step},
    {"determinism", CHECK_PER_CONFIG, validate_determinism},
    {"finite", CHECK_PER_CONFIG, validate_finite},
    {"batch-shapes", CHECK_PER_CONFIG, validate_batch_shapes},
    {"weights-roundtrip", CHECK_PER_CONFIG, validate_weights_roundtrip},
    {"hostile-weights", CHECK_PER_CONFIG, validate_hostile_weights},
};
const size_t validate_num_checks = sizeof validate_checks / sizeof validate_checks[0];
