/* The contract around the mathematics: descriptors, config validation, the tensor table, info, and the
 * argument errors of forward, backward and step. Usage: test_model_api MODULE.so */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static rh_config base_config(void)
{
    rh_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.input_kind = RH_INPUT_TOKENS;
    c.input_dim = 5;
    c.hidden_size = 3;
    c.num_layers = 2;
    c.output_dim = 4;
    return c;
}

static rh_status try_create(harness *h, const rh_host *host, const char *id, const rh_config *c)
{
    rh_model *m = (rh_model *)&m; // must come back NULL on failure
    rh_status st = h->entry->create_model(host, id, c, &m);
    if (st == RH_OK)
        m->vtable->destroy(m);
    else
        check(h, m == NULL, "a failed create left *out non-NULL (status %d)", st);
    return st;
}

static void check_entry(harness *h)
{
    const rh_plugin_entry *e = h->entry;
    check(h, e->struct_size == sizeof(rh_plugin_entry), "entry struct_size");
    check(h, e->model_count() == 1, "model_count");
    const rh_model_descriptor *d = e->model_descriptor(0);
    check(h, d != NULL && e->model_descriptor(1) == NULL, "descriptors");
    check(h, strcmp(e->id, d->id) == 0, "plugin id %s vs model id %s", e->id, d->id);
    check(h, d->input_kinds == (RH_INPUT_DENSE | RH_INPUT_TOKENS) && d->flags == 0, "descriptor kinds/flags");
}

static void check_configs(harness *h)
{
    const char *id = harness_model_id(h);
    rh_config c = base_config();
    check(h, try_create(h, &h->host, id, &c) == RH_OK, "base config refused");
    check(h, try_create(h, NULL, id, &c) == RH_OK, "a NULL host must be allowed");
    check(h, try_create(h, &h->host, strcmp(id, "lstm") != 0 ? "lstm" : "gru", &c) == RH_ERR_UNKNOWN_MODEL,
          "unknown id");
    check(h, try_create(h, &h->host, NULL, &c) == RH_ERR_UNKNOWN_MODEL, "NULL id");
    check(h, try_create(h, &h->host, id, NULL) == RH_ERR_INVALID_ARGUMENT, "NULL config");

    rh_config v;
    // Each invalid field alone, on top of a valid config.
    v = base_config(), v.struct_size = 8;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "small struct_size");
    v = base_config(), v.input_kind = 0;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "input_kind 0");
    v = base_config(), v.input_kind = RH_INPUT_DENSE | RH_INPUT_TOKENS;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "two input kinds");
    v = base_config(), v.input_dim = 0;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "input_dim 0");
    v = base_config(), v.hidden_size = 0;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "hidden_size 0");
    v = base_config(), v.num_layers = 0;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "num_layers 0");
    v = base_config(), v.options = "no_such_key=0.5";
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "unknown option accepted");
    v = base_config(), v.options = "dropout=0.5";
    check(h, try_create(h, &h->host, id, &v) == RH_OK, "dropout=0.5 refused");
    v = base_config(), v.options = "recurrent_dropout=0.25;dropout=0.5;";
    check(h, try_create(h, &h->host, id, &v) == RH_OK, "recurrent_dropout=0.25;dropout=0.5 refused");
    const char *const bad_dropout[] = {"dropout=1", "dropout=-0.1", "dropout=", "dropout", "dropout=0.5x",
                                       "dropout=nan", "dropout=0.1;dropout=0.2", "recurrent_dropout=1",
                                       "recurrent_dropout=-1", "recurrent_dropout=0.1;recurrent_dropout=0.1",
                                       "recurrent_dropout", "recurrent=0.1", "dropoutx=0.1"};
    for (size_t i = 0; i < sizeof bad_dropout / sizeof *bad_dropout; i++) {
        v = base_config(), v.options = bad_dropout[i];
        check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "%s accepted", bad_dropout[i]);
    }
    v = base_config(), v.options = "";
    check(h, try_create(h, &h->host, id, &v) == RH_OK, "empty options refused");
    v = base_config(), v.core = "gru";
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "core accepted by a non-composite");
    v = base_config(), v.hidden_size = 0x7fffffffu;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "hidden_size 2^31-1");
    v = base_config(), v.hidden_size = 1u << 20, v.input_dim = 0xffffffffu;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "input_dim 2^32-1");
    v = base_config(), v.hidden_size = 1u << 20, v.num_layers = 2000;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "2000 layers of 2^20");
    v = base_config(), v.hidden_size = 1u << 20, v.output_dim = 0xfffffff0u;
    check(h, try_create(h, &h->host, id, &v) == RH_ERR_INVALID_ARGUMENT, "absurd output_dim");
}

static void check_layout(harness *h, uint32_t kind, uint32_t O)
{
    const uint32_t D = 5, H = 3, L = 2;
    const char *id = harness_model_id(h);
    int lstm = strcmp(id, "lstm") == 0;
    uint32_t G = strcmp(id, "gru") == 0 ? 3 : lstm ? 4 : 1;
    // The LSTM's state per layer is its output h and its cell state c.
    uint32_t S = lstm ? L * 2 * H : L * H;
    rh_model *m = harness_create(h, kind, D, H, L, O, NULL);
    if (!check(h, m != NULL, "create failed"))
        return;
    rh_model_info info = harness_info(m);
    check(h, info.input_kind == kind && info.input_dim == D, "info input");
    check(h, info.output_dim == (O ? O : H) && info.state_size == S, "info output_dim %u state_size %u",
          info.output_dim, info.state_size);
    uint64_t expect = (uint64_t)(kind == RH_INPUT_DENSE ? G * H * D : D * G * H) + G * H * H + G * H +
                      (uint64_t)(L - 1) * (G * H * H * 2 + G * H) + (O ? (uint64_t)O * H + O : 0);
    check(h, info.num_params == expect, "num_params %llu, expected %llu", (unsigned long long)info.num_params,
          (unsigned long long)expect);
    rh_tensor *t = xcalloc(info.num_tensors, sizeof *t);
    for (uint32_t i = 0; i < info.num_tensors; i++)
        check(h, m->vtable->get_tensor(m, i, &t[i]) == RH_OK, "get_tensor %u", i);
    rh_tensor past;
    check(h, m->vtable->get_tensor(m, info.num_tensors, &past) == RH_ERR_INVALID_ARGUMENT, "get_tensor past end");
    char why[200] = "";
    check(h, rh_layout_check(t, info.num_tensors, info.num_params, why, sizeof why) == RH_OK, "layout: %s", why);
    int32_t e = rh_tensor_find(t, info.num_tensors, kind == RH_INPUT_TOKENS ? "l0.embed" : "l0.W_x");
    if (check(h, e >= 0, "no layer-0 input tensor")) {
        // The embedding reads contiguous rows, one per token; W_x is (G*H, D) packed by gate.
        uint32_t r = kind == RH_INPUT_TOKENS ? D : G * H, c = kind == RH_INPUT_TOKENS ? G * H : D;
        check(h, t[e].ndim == 2 && t[e].shape[0] == r && t[e].shape[1] == c, "layer-0 input shape %ux%u",
              t[e].shape[0], t[e].shape[1]);
    }
    check(h, rh_tensor_find(t, info.num_tensors, "l1.W_h") >= 0 &&
                 rh_tensor_find(t, info.num_tensors, lstm ? "l1.b_f" : "l1.b") >= 0,
          "layer-1 tensors missing");
    if (lstm) // a bias per gate, i f g o, adjacent; the forget gate's starts at 1, the others at 0
        for (uint32_t l = 0; l < L; l++) {
            int32_t prev = -1;
            for (int g = 0; g < 4; g++) {
                char name[16];
                snprintf(name, sizeof name, "l%u.b_%c", l, "ifgo"[g]);
                int32_t k = rh_tensor_find(t, info.num_tensors, name);
                if (!check(h, k >= 0 && t[k].ndim == 1 && t[k].shape[0] == H, "%s missing or not (H)", name))
                    break;
                check(h, g == 1 ? t[k].init == RH_INIT_CONSTANT && t[k].init_scale == 1.0f : t[k].init == RH_INIT_ZERO,
                      "%s: init %u scale %g", name, t[k].init, (double)t[k].init_scale);
                check(h, prev < 0 || t[k].offset == t[prev].offset + H, "%s does not follow the gate before", name);
                prev = k;
            }
        }
    check(h, (rh_tensor_find(t, info.num_tensors, "out.W") >= 0) == (O > 0), "out.W present iff O > 0");

    // A caller compiled against a shorter rh_model_info gets only what it asked for.
    unsigned char buf[sizeof(rh_model_info) + 8];
    memset(buf, 0xab, sizeof buf);
    rh_model_info *small = (rh_model_info *)(void *)buf;
    small->struct_size = 8;
    m->vtable->get_info(m, small);
    check(h, buf[8] == 0xab && small->input_kind == kind, "get_info wrote past struct_size");
    free(t);
    m->vtable->destroy(m);
}

static void check_calls(harness *h)
{
    rh_model *m = harness_create(h, RH_INPUT_TOKENS, 5, 3, 2, 4, NULL);
    if (!check(h, m != NULL, "create failed"))
        return;
    const rh_model_vtable *vt = m->vtable;
    rh_model_info info = harness_info(m);
    enum { T = 3, B = 2 };
    float *params = xcalloc(info.num_params, sizeof(float)), *grads = xcalloc(info.num_params, sizeof(float));
    float *ws = xcalloc(vt->workspace_size(m, T, B), sizeof(float));
    // S = 6 floats of state per sequence (2 layers of 3), 12 for the LSTM's h and c
    enum { SMAX = 12 };
    float y[T * B * 4], dy[T * B * 4] = {0}, hT[B * SMAX], h0[B * SMAX], dh0[B * SMAX];
    const uint32_t S = info.state_size;
    if (!check(h, S == 6 || S == 2 * 6, "state_size %u", S)) {
        free(params), free(grads), free(ws);
        vt->destroy(m);
        return;
    }
    rh_rng rng;
    rh_rng_seed(&rng, 5);
    fill_uniform(params, info.num_params, 0.5f, &rng);
    fill_uniform(h0, B * SMAX, 1.0f, &rng);
    check(h, vt->workspace_size(m, T + 1, B) >= vt->workspace_size(m, T, B) &&
                 vt->workspace_size(m, T, B + 1) >= vt->workspace_size(m, T, B),
          "workspace_size not monotonic");

    int32_t tokens[T * B] = {0, 1, 2, 3, 4, 0};
    uint32_t lengths[B] = {3, 1};
    rh_batch batch = {T, B, lengths, NULL, tokens};
    check(h, vt->forward(m, y, hT, ws, params, &batch, h0) == RH_OK, "valid forward");
    tokens[2] = 5;
    check(h, vt->forward(m, y, hT, ws, params, &batch, h0) == RH_ERR_INVALID_ARGUMENT, "token == vocab accepted");
    tokens[2] = -1;
    check(h, vt->forward(m, y, hT, ws, params, &batch, h0) == RH_ERR_INVALID_ARGUMENT, "negative token accepted");
    tokens[2] = 2;
    tokens[3] = 77; // t=1, b=1 is padding for length 1: never read
    check(h, vt->forward(m, y, hT, ws, params, &batch, h0) == RH_OK, "a padding token was validated");
    lengths[1] = T + 1;
    check(h, vt->forward(m, y, hT, ws, params, &batch, h0) == RH_ERR_INVALID_ARGUMENT, "lengths > T accepted");
    check(h, vt->backward(m, grads, NULL, dh0, ws, params, &batch, h0, dy, NULL) == RH_ERR_INVALID_ARGUMENT,
          "backward: lengths > T accepted");
    lengths[1] = 1;
    rh_batch dense = {T, B, NULL, NULL, NULL};
    check(h, vt->forward(m, y, hT, ws, params, &dense, h0) == RH_ERR_INVALID_ARGUMENT, "no tokens accepted");

    // T == 0: nothing happens except h_T = h_0 and dh_0 = dh_T.
    rh_batch empty = {0, B, NULL, NULL, tokens};
    check(h, vt->forward(m, NULL, hT, NULL, params, &empty, h0) == RH_OK, "T = 0 forward");
    check(h, memcmp(hT, h0, B * S * sizeof(float)) == 0, "T = 0: h_T != h_0");
    memset(grads, 0, info.num_params * sizeof(float));
    check(h, vt->backward(m, grads, NULL, dh0, NULL, params, &empty, h0, NULL, h0) == RH_OK, "T = 0 backward");
    check(h, memcmp(dh0, h0, B * S * sizeof(float)) == 0, "T = 0: dh_0 != dh_T");
    int nonzero = 0;
    for (uint64_t i = 0; i < info.num_params; i++)
        nonzero += grads[i] != 0.0f;
    check(h, nonzero == 0, "T = 0 changed grads");
    rh_batch none = {T, 0, NULL, NULL, tokens};
    check(h, vt->forward(m, NULL, NULL, NULL, params, &none, NULL) == RH_OK, "B = 0 forward");

    float state[B * SMAX], scratch[256];
    check(h, vt->step_scratch_size(m, B) <= 256, "step scratch unexpectedly large");
    vt->reset(m, state, B);
    int32_t bad_tok[B] = {1, 9};
    check(h, vt->step(m, y, state, scratch, params, NULL, bad_tok, B) == RH_ERR_INVALID_ARGUMENT,
          "step accepted token 9");
    float x[B * 5] = {0};
    check(h, vt->step(m, y, state, scratch, params, x, NULL, B) == RH_ERR_INVALID_ARGUMENT,
          "step accepted dense input on a token model");
    free(params), free(grads), free(ws);
    vt->destroy(m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
        return 1;
    }
    harness h;
    if (harness_open(&h, argv[1]) != 0)
        return 1;
    check_entry(&h);
    check_configs(&h);
    check_layout(&h, RH_INPUT_TOKENS, 4);
    check_layout(&h, RH_INPUT_DENSE, 0);
    check_calls(&h);
    harness_close(&h);
    printf("%s (%s): %s\n", argv[0], argv[1], h.failures ? "FAILED" : "ok");
    return h.failures ? 1 : 0;
}
