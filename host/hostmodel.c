#include "hostmodel.h"

#include <stdlib.h>
#include <string.h>

#include "hostlog.h"

/* Generous for any model the host can train on one machine, small enough to reject garbage sizes. */
#define MAX_TENSORS 65536u
#define MAX_PARAMS (UINT64_C(1) << 32)
#define MAX_STATE (1u << 24)

static rh_status fail(host_model *hm, rh_status st, char *why, size_t why_len, const char *msg)
{
    host_fmt(why, why_len, "%s", msg);
    host_model_destroy(hm);
    return st;
}

rh_status host_model_create(host_model *hm, host_plugin *p, const char *model_id, const rh_config *config,
                            char *why, size_t why_len)
{
    plugin_registry *r = p->registry;
    rh_status st;
    uint32_t i, expect_out;
    rh_tensor past_end;
    char msg[768];

    memset(hm, 0, sizeof *hm);
    r->last_log[0] = '\0';
    st = p->entry.create_model(&p->host, model_id, config, &hm->model);
    if (st != RH_OK || !hm->model) {
        host_fmt(msg, sizeof msg, "create_model('%s') failed: %s%s%s", model_id,
                 st == RH_OK ? "returned RH_OK but no model" : rh_strerror(st), r->last_log[0] ? ": " : "",
                 r->last_log);
        hm->model = NULL; /* a model returned with an error is not ours to destroy: we cannot trust it */
        return fail(hm, st == RH_OK ? RH_ERR_INTERNAL : st, why, why_len, msg);
    }
    hm->vt = hm->model->vtable;
    if (!hm->vt || hm->vt->struct_size < sizeof(rh_model_vtable) || !hm->vt->destroy || !hm->vt->get_info ||
        !hm->vt->get_tensor || !hm->vt->workspace_size || !hm->vt->forward || !hm->vt->backward ||
        !hm->vt->step_scratch_size || !hm->vt->step || !hm->vt->reset) {
        /* Without a trustworthy destroy we leak rather than call into garbage. */
        hm->model = NULL;
        return fail(hm, RH_ERR_ABI, why, why_len, "model vtable is NULL, too small or has NULL functions");
    }
    hm->info.struct_size = sizeof hm->info;
    if ((st = hm->vt->get_info(hm->model, &hm->info)) != RH_OK)
        return fail(hm, st, why, why_len, "get_info failed");
    expect_out = config->output_dim ? config->output_dim : config->hidden_size;
    if (hm->info.input_kind != config->input_kind || hm->info.input_dim != config->input_dim ||
        hm->info.output_dim != expect_out) {
        host_fmt(msg, sizeof msg,
                 "get_info disagrees with the config: input_kind %u input_dim %u output_dim %u, expected %u %u %u",
                 hm->info.input_kind, hm->info.input_dim, hm->info.output_dim, config->input_kind,
                 config->input_dim, expect_out);
        return fail(hm, RH_ERR_SHAPE, why, why_len, msg);
    }
    if (hm->info.state_size == 0 || hm->info.state_size > MAX_STATE || hm->info.num_tensors == 0 ||
        hm->info.num_tensors > MAX_TENSORS || hm->info.num_params == 0 || hm->info.num_params > MAX_PARAMS) {
        host_fmt(msg, sizeof msg, "get_info gives unusable sizes: state_size %u, num_tensors %u, num_params %llu",
                 hm->info.state_size, hm->info.num_tensors, (unsigned long long)hm->info.num_params);
        return fail(hm, RH_ERR_SHAPE, why, why_len, msg);
    }
    hm->tensors = calloc(hm->info.num_tensors, sizeof *hm->tensors);
    hm->names = calloc(hm->info.num_tensors, sizeof *hm->names);
    if (!hm->tensors || !hm->names)
        return fail(hm, RH_ERR_NO_MEMORY, why, why_len, "out of memory");
    for (i = 0; i < hm->info.num_tensors; i++) {
        rh_tensor *t = &hm->tensors[i];
        size_t len;
        if ((st = hm->vt->get_tensor(hm->model, i, t)) != RH_OK) {
            host_fmt(msg, sizeof msg, "get_tensor(%u) failed: %s", i, rh_strerror(st));
            return fail(hm, st, why, why_len, msg);
        }
        if (!t->name || (len = strnlen(t->name, RH_MAX_NAME)) == RH_MAX_NAME) {
            host_fmt(msg, sizeof msg, "tensor %u has a NULL or unterminated name", i);
            return fail(hm, RH_ERR_FORMAT, why, why_len, msg);
        }
        memcpy(hm->names[i], t->name, len + 1);
        t->name = hm->names[i];
    }
    if (hm->vt->get_tensor(hm->model, hm->info.num_tensors, &past_end) == RH_OK)
        return fail(hm, RH_ERR_INVALID_ARGUMENT, why, why_len, "get_tensor past the end returned RH_OK");
    if ((st = rh_layout_check(hm->tensors, hm->info.num_tensors, hm->info.num_params, msg, sizeof msg)) != RH_OK) {
        char line[900];
        host_fmt(line, sizeof line, "tensor table refused: %s", msg);
        return fail(hm, st, why, why_len, line);
    }
    hm->params = calloc((size_t)hm->info.num_params, sizeof(float));
    hm->grads = calloc((size_t)hm->info.num_params, sizeof(float));
    if (!hm->params || !hm->grads)
        return fail(hm, RH_ERR_NO_MEMORY, why, why_len, "out of memory for parameters");
    return RH_OK;
}

void host_model_init_params(host_model *hm, uint64_t seed)
{
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    rh_params_init(hm->params, hm->tensors, hm->info.num_tensors, &rng);
}

void host_model_destroy(host_model *hm)
{
    if (hm->model)
        hm->vt->destroy(hm->model);
    free(hm->tensors);
    free(hm->names);
    free(hm->params);
    free(hm->grads);
    memset(hm, 0, sizeof *hm);
}
