/* The checks on the plugin as a whole and on creating its models: one exported symbol, unknown ids and bad
 * configs refused cleanly, and a model that reports sane sizes and resets to a finite state. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elfsyms.h"
#include "hostlog.h"
#include "validate_fixture.h"

/* ---- exports --------------------------------------------------------------------------------------- */

int validate_exports(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    elf_exports ex;
    char why[256], extra[256] = "";
    size_t i, n_other = 0, used = 0;
    int has_entry = 0;
    (void)vc, (void)rng;
    if (elf_read_exports(&ex, ctx->plugin->realpath, why, sizeof why) != 0) {
        host_fmt(detail, len, "cannot read the dynamic symbol table: %s", why);
        return 1;
    }
    for (i = 0; i < ex.count; i++) {
        if (strcmp(ex.names[i], RH_ENTRY_SYMBOL) == 0) {
            has_entry = 1;
            continue;
        }
        /* Linker-defined markers older binutils export from every shared object, and the ODR indicators
         * AddressSanitizer adds beside each exported global: neither is the plugin author's doing. */
        if (!strcmp(ex.names[i], "_init") || !strcmp(ex.names[i], "_fini") || !strcmp(ex.names[i], "_edata") ||
            !strcmp(ex.names[i], "_end") || !strcmp(ex.names[i], "__bss_start") ||
            !strncmp(ex.names[i], "__odr_asan", 10))
            continue;
        if (n_other < 4 && used + strlen(ex.names[i]) + 3 < sizeof extra)
            used += (size_t)snprintf(extra + used, sizeof extra - used, "%s%s", n_other ? ", " : "", ex.names[i]);
        n_other++;
    }
    elf_exports_free(&ex);
    if (!has_entry) {
        host_fmt(detail, len, "'%s' is not in the dynamic symbol table", RH_ENTRY_SYMBOL);
        return 1;
    }
    if (n_other) {
        host_fmt(detail, len, "%zu exported symbol(s) besides %s: %s%s (build with -fvisibility=hidden)", n_other,
                 RH_ENTRY_SYMBOL, extra, n_other > 4 ? ", ..." : "");
        return 1;
    }
    host_fmt(detail, len, "only %s is exported", RH_ENTRY_SYMBOL);
    return 0;
}

/* ---- unknown-model and bad-config ------------------------------------------------------------------- */

int validate_unknown_model(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    rh_model *out = NULL;
    rh_config config;
    validate_case base;
    rh_status st;
    (void)vc, (void)rng;
    validate_make_case(&base, ctx, &ctx->plugin->models[0],
                       (ctx->plugin->models[0].input_kinds & RH_INPUT_DENSE) ? RH_INPUT_DENSE : RH_INPUT_TOKENS);
    config = base.config;
    config.core = ctx->core;
    st = ctx->plugin->entry.create_model(&ctx->plugin->host, "rnnhost-validate.no-such-model", &config, &out);
    if (st != RH_ERR_UNKNOWN_MODEL) {
        host_fmt(detail, len, "create_model of an unknown id returned %d (%s), expected RH_ERR_UNKNOWN_MODEL", st,
                 rh_strerror(st));
        return 1;
    }
    if (out) {
        host_fmt(detail, len, "create_model of an unknown id returned RH_ERR_UNKNOWN_MODEL but set *out");
        return 1;
    }
    host_fmt(detail, len, "refused with RH_ERR_UNKNOWN_MODEL");
    return 0;
}

int validate_bad_config(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    static const char *const what[] = {"hidden_size 0", "num_layers 0", "input_kind 0",
                                       "input_kind dense|tokens", "an unknown options key"};
    validate_case base;
    uint32_t kind = (vc->model->input_kinds & RH_INPUT_DENSE) ? RH_INPUT_DENSE : RH_INPUT_TOKENS;
    size_t i;
    (void)rng;
    validate_make_case(&base, ctx, vc->model, kind);
    for (i = 0; i < sizeof what / sizeof what[0]; i++) {
        rh_config c = base.config;
        rh_model *out = NULL;
        rh_status st;
        switch (i) {
        case 0: c.hidden_size = 0; break;
        case 1: c.num_layers = 0; break;
        case 2: c.input_kind = 0; break;
        case 3: c.input_kind = RH_INPUT_DENSE | RH_INPUT_TOKENS; break;
        default: c.options = "rnnhost_validate_no_such_key=1"; break;
        }
        ctx->registry->last_log[0] = '\0';
        st = ctx->plugin->entry.create_model(&ctx->plugin->host, vc->model->id, &c, &out);
        if (st == RH_OK) {
            host_fmt(detail, len, "a config with %s was accepted", what[i]);
            if (out && out->vtable && out->vtable->destroy)
                out->vtable->destroy(out);
            return 1;
        }
        if (out) {
            host_fmt(detail, len, "a config with %s was refused (%s) but *out was set", what[i], rh_strerror(st));
            return 1;
        }
        if (st < RH_ERR_INTERNAL) {
            host_fmt(detail, len, "a config with %s was refused with an unknown status %d", what[i], st);
            return 1;
        }
    }
    host_fmt(detail, len, "%zu bad configs refused%s%s", sizeof what / sizeof what[0],
             ctx->registry->last_log[0] ? ", e.g. \"" : "", ctx->registry->last_log);
    if (ctx->registry->last_log[0] && strlen(detail) + 2 < len)
        strcat(detail, "\"");
    return 0;
}

/* ---- create ---------------------------------------------------------------------------------------- */

int validate_create(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    fixture f;
    host_model *hm = &f.hm;
    uint64_t w_small, w_big, s1, s3;
    rh_status st;
    int rc = 1;
    (void)rng;
    if (fixture_begin(&f, ctx, vc, NULL, detail, len) != 0)
        return 1;
    w_small = hm->vt->workspace_size(hm->model, 1, 1);
    w_big = hm->vt->workspace_size(hm->model, 7, 3);
    s1 = hm->vt->step_scratch_size(hm->model, 1);
    s3 = hm->vt->step_scratch_size(hm->model, 3);
    if (w_big < w_small || s3 < s1 || w_big > (UINT64_C(1) << 32) || s3 > (UINT64_C(1) << 32)) {
        host_fmt(detail, len, "workspace/scratch sizes not monotonic or absurd: ws(1,1)=%llu ws(7,3)=%llu "
                 "scratch(1)=%llu scratch(3)=%llu", (unsigned long long)w_small, (unsigned long long)w_big,
                 (unsigned long long)s1, (unsigned long long)s3);
        goto done;
    }
    float *state = fixture_floats(&f, (uint64_t)3 * hm->info.state_size, NAN);
    if (f.out_of_memory) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = hm->vt->reset(hm->model, state, 3)) != RH_OK || !all_finite(state, (uint64_t)3 * hm->info.state_size)) {
        host_fmt(detail, len, "reset failed or left non-finite state (%s)", rh_strerror(st));
        goto done;
    }
    host_fmt(detail, len, "%llu params in %u tensors, state %u floats, output %u",
             (unsigned long long)hm->info.num_params, hm->info.num_tensors, hm->info.state_size, hm->info.output_dim);
    rc = 0;
done:
    fixture_end(&f);
    return rc;
}
