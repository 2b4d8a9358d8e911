#include "hostmodel.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    if (!hm->vt || hm->vt->struct_size < RH_MODEL_VTABLE_V1_SIZE || !hm->vt->destroy || !hm->vt->get_info ||
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
    hm->dropout = rh_dropout_of(hm->model);
    return RH_OK;
}

rh_status host_model_train_forward(const host_model *hm, const float *params, float *y, float *h_T, float *ws,
                                   const rh_batch *batch, const float *h_0, const rh_dropout_masks *masks)
{
    if (hm->dropout != NULL && masks != NULL)
        return hm->dropout->forward(hm->model, y, h_T, ws, params, batch, h_0, masks);
    return hm->vt->forward(hm->model, y, h_T, ws, params, batch, h_0);
}

rh_status host_model_train_backward(const host_model *hm, const float *params, float *grads, float *dx, float *dh_0,
                                    float *ws, const rh_batch *batch, const float *h_0, const float *dy,
                                    const float *dh_T, const rh_dropout_masks *masks)
{
    if (hm->dropout != NULL && masks != NULL)
        return hm->dropout->backward(hm->model, grads, dx, dh_0, ws, params, batch, h_0, dy, dh_T, masks);
    return hm->vt->backward(hm->model, grads, dx, dh_0, ws, params, batch, h_0, dy, dh_T);
}

void host_model_init_params(host_model *hm, uint64_t seed)
{
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    rh_params_init(hm->params, hm->tensors, hm->info.num_tensors, &rng);
}

rh_status host_model_step(const host_model *hm, float *y, float *state, float *scratch, const float *x,
                          const int32_t *tokens, uint32_t B)
{
    if (hm->half != NULL)
        return hm->half->step(hm->model, y, state, scratch, hm->params, hm->half_copy, x, tokens, B);
    return hm->vt->step(hm->model, y, state, scratch, hm->params, x, tokens, B);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds that `steps` steps from the reset state take, over params (half NULL) or the copy; < 0 when a
 * step fails. Input: token 0, or a zero frame. */
static double time_steps(const host_model *hm, const rh_ext_half_step *half, float *state, float *scratch, float *y,
                         const float *x, uint32_t steps)
{
    const int32_t token = 0;
    const int32_t *tok = hm->info.input_kind == RH_INPUT_TOKENS ? &token : NULL;
    if (hm->vt->reset(hm->model, state, 1) != RH_OK)
        return -1.0;
    double t0 = seconds_now();
    for (uint32_t s = 0; s < steps; s++) {
        rh_status st = half != NULL ? half->step(hm->model, y, state, scratch, hm->params, hm->half_copy,
                                                 tok ? NULL : x, tok, 1)
                                    : hm->vt->step(hm->model, y, state, scratch, hm->params, tok ? NULL : x, tok, 1);
        if (st != RH_OK)
            return -1.0;
    }
    return seconds_now() - t0;
}

int host_model_prepare_step(host_model *hm)
{
    enum { ROUNDS = 5, STEPS = 16 };
    if (hm->half != NULL)
        return 1;
    const rh_ext_half_step *half = rh_half_step_of(hm->model);
    if (half == NULL)
        return 0;
    uint64_t bytes = half->copy_size(hm->model);
    if (bytes == 0 || bytes > (uint64_t)MAX_PARAMS * sizeof(float))
        return 0;
    hm->half_copy = aligned_alloc(64, (size_t)(bytes + 63) / 64 * 64);
    float *state = calloc(hm->info.state_size, sizeof(float));
    float *scratch = calloc((size_t)hm->vt->step_scratch_size(hm->model, 1) + 1, sizeof(float));
    float *y = calloc(hm->info.output_dim, sizeof(float));
    float *x = calloc(hm->info.input_dim, sizeof(float));
    int use = hm->half_copy && state && scratch && y && x &&
              half->make_copy(hm->model, hm->half_copy, hm->params) == RH_OK;
    /* The faster of the two, over alternating rounds. */
    double t_float = 0.0, t_half = 0.0;
    for (int r = 0; r < ROUNDS && use; r++) {
        double a = time_steps(hm, NULL, state, scratch, y, x, STEPS);
        double b = time_steps(hm, half, state, scratch, y, x, STEPS);
        if (a < 0.0 || b < 0.0)
            use = 0;
        t_float += a, t_half += b;
    }
    use = use && t_half < t_float;
    free(state), free(scratch), free(y), free(x);
    if (!use) {
        free(hm->half_copy);
        hm->half_copy = NULL;
        return 0;
    }
    hm->half = half;
    return 1;
}

void host_model_destroy(host_model *hm)
{
    free(hm->half_copy);
    if (hm->model)
        hm->vt->destroy(hm->model);
    free(hm->tensors);
    free(hm->names);
    free(hm->params);
    free(hm->grads);
    memset(hm, 0, sizeof *hm);
}
