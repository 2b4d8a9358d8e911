/* The vanilla RNN plugin: a<t> = tanh(Waa a<t-1> + Wax x<t> + ba), stacked, with an optional linear
 * output projection. The stack, padding and projections live in ../common/stack.c; this file is the cell. */
#include <stddef.h>
#include <string.h>

#include "rnnhost/plugin.h"
#include "stack.h"

// h is (B,H) and may alias h_prev (B,H); z is (B,H) on entry Wax x + ba, on exit a<t>; W_h is (H,H)
static void rnn_cell_forward(float *h, float *z, float *rh, const float *h_prev, const float *W_h, uint32_t B,
                             uint32_t H)
{
    (void)rh;
    size_t n = (size_t)B * H;
    stack_gemm_nt(z, H, h_prev, H, W_h, B, H, H);
    stack_tanh(z, n);
    memcpy(h, z, n * sizeof(float));
}

// dh_prev is (B,H); z is (B,H) a<t> on entry, dLoss/dpre on exit; g is (B,H)
static void rnn_cell_backward(float *dh_prev, float *z, float *scratch, const float *g, const float *h,
                              const float *h_prev, const float *W_h, uint32_t B, uint32_t H)
{
    (void)scratch;
    (void)h;
    (void)h_prev;
    size_t n = (size_t)B * H;
    for (size_t i = 0; i < n; i++)
        z[i] = g[i] * (1.0f - z[i] * z[i]);
    stack_gemm_nn(dh_prev, 0.0f, z, H, W_h, B, H, H);
}

static const stack_cell rnn_cell = {"rnn", 1, 0, rnn_cell_forward, rnn_cell_backward};

static const rh_model_descriptor rnn_descriptor = {
    sizeof(rh_model_descriptor),
    "rnn",
    "Vanilla RNN",
    "1.0.0",
    "Stacked tanh RNN layers with an optional linear output projection",
    RH_INPUT_DENSE | RH_INPUT_TOKENS,
    0,
};

static uint32_t rnn_model_count(void)
{
    return 1;
}

static const rh_model_descriptor *rnn_model_descriptor(uint32_t index)
{
    return index == 0 ? &rnn_descriptor : NULL;
}

static rh_status rnn_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                  rh_model **out)
{
    if (out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (model_id == NULL || strcmp(model_id, rnn_descriptor.id) != 0) {
        stack_log(host, RH_LOG_ERROR, "rnn plugin: unknown model id '%s'", model_id ? model_id : "(null)");
        return RH_ERR_UNKNOWN_MODEL;
    }
    return stack_create(host, &rnn_cell, config, out);
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION, sizeof(rh_plugin_entry), "rnn", "Vanilla RNN", "rnnhost", "1.0.0",
    rnn_model_count, rnn_model_descriptor,   rnn_create_model, NULL,
};
