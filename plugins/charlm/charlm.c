/* The charlm plugin: a symbol-level language model over any recurrent core.
 *
 *   token ids (T,B) in [0, V) -> [embed (V,N)] -> core (another plugin's model) -> out.W, out.b -> logits (T,B,V)
 *
 * The core comes from whichever plugin provides config->core, through host->create_model, so this file
 * holds no recurrent mathematics at all: only the embedding lookup and the output projection, and the
 * plumbing that makes one flat parameter buffer and one workspace serve both models. The host applies
 * softmax; sampling and scoring are the host's too.
 *
 * Options ("key=value;..."): embed=N. With N = 0 (the default) the tokens go straight to the core's token
 * input, a one-hot input as char-rnn has it. With N > 0 a learned table "embed" (V,N) feeds the core's
 * dense input, which is how a dense-only cell becomes a language model. Every other key (the kit's dropout=P
 * and recurrent_dropout=P) is the core's: it is passed to the core, which checks it, and this model trains
 * with dropout (rnnhost/dropout.h) when the core does.
 *
 * Parameter layout: [embed (V,N)], core.* (the core's own table, shifted), out.W (V,H), out.b (V).
 * The core receives params + core_offset and grads + core_offset, so it never knows it is embedded.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnhost/dropout.h"
#include "rnnhost/halfstep.h"
#include "rnnhost/plugin.h"

#define CHARLM_ID "charlm"
#define CORE_PREFIX "core."
/* Same bound as the layer stack: past 2^40 floats a config is a typo or an attack, and a clear refusal
 * beats an allocation failure later. */
#define CHARLM_MAX_PARAMS (1ull << 40)
/* A sanity bound on the core's table, so a hostile answer cannot make us allocate without limit. */
#define CHARLM_MAX_CORE_TENSORS 65536u

typedef struct charlm_model {
    rh_model base; /* first, so an rh_model * is a charlm_model * */
    const rh_host *host;
    rh_model *core;
    const rh_model_vtable *cv; /* the core's vtable, read once so every call goes through the same one */
    const rh_ext_half_step *core_half; /* the core's half-step extension, or NULL: ours is the core's */
    const rh_ext_dropout *core_drop;   /* the core's dropout extension, or NULL: ours is the core's */
    uint32_t V, H, N;          /* vocabulary, core hidden size, embedding width (0: tokens straight in) */
    uint32_t S;                /* the core's state size, which is ours too */
    uint64_t core_offset;      /* first float of the core's parameters in our buffer */
    uint64_t out_offset;       /* out.W; out.b follows it */
    uint32_t num_tensors;
    uint64_t num_params;
    rh_tensor *tensors;
    char (*names)[RH_MAX_NAME];
} charlm_model;

static void charlm_log(const rh_host *host, int32_t level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void charlm_log(const rh_host *host, int32_t level, const char *fmt, ...)
{
    if (host == NULL || host->log == NULL)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    host->log(host, level, line);
}

static const charlm_model *as_charlm(const rh_model *model)
{
    return (const charlm_model *)model;
}

/* ---- sizes ----------------------------------------------------------------------------------------- */

/* Saturates at UINT64_MAX so an absurd request fails as an allocation in the caller, not as a wrap. */
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* ---- workspace layout ------------------------------------------------------------------------------
 * core (the core's workspace_size(T,B)), then emb (T,B,N) the embedded inputs, hid (T,B,H) the core's
 * outputs, demb (T,B,N) and dhid (T,B,H) their gradients, dym (T,B,V) dy with padding rows zeroed so
 * that padded positions reach neither out.b nor out.W whatever the caller left there. */
typedef struct charlm_ws {
    float *core, *emb, *hid, *demb, *dhid, *dym;
} charlm_ws;

static uint64_t own_floats_per_row(const charlm_model *m)
{
    return 2ull * m->N + 2ull * m->H + m->V;
}

static uint64_t ws_floats(const charlm_model *m, uint32_t T, uint32_t B)
{
    uint64_t TB = (uint64_t)T * B;
    return sat_add(m->cv->workspace_size(m->core, T, B), sat_mul(TB, own_floats_per_row(m)));
}

static charlm_ws ws_split(const charlm_model *m, float *ws, uint32_t T, uint32_t B)
{
    size_t TB = (size_t)T * B;
    charlm_ws w;
    w.core = ws;
    w.emb = ws + (size_t)m->cv->workspace_size(m->core, T, B);
    w.hid = w.emb + TB * m->N;
    w.demb = w.hid + TB * m->H;
    w.dhid = w.demb + TB * m->N;
    w.dym = w.dhid + TB * m->H;
    return w;
}

/* ---- vtable: the simple delegations ------------------------------------------------------------------ */

static void charlm_destroy(rh_model *model)
{
    if (model == NULL)
        return;
    charlm_model *m = (charlm_model *)model;
    m->cv->destroy(m->core);
    free(m); /* one allocation holds the model, its tensor table and the names */
}

static rh_status charlm_get_info(const rh_model *model, rh_model_info *out)
{
    if (model == NULL || out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    rh_model_info info;
    memset(&info, 0, sizeof info);
    uint32_t want = out->struct_size;
    info.struct_size = want;
    info.input_kind = RH_INPUT_TOKENS;
    info.input_dim = m->V;
    info.output_dim = m->V;
    info.state_size = m->S;
    info.num_tensors = m->num_tensors;
    info.num_params = m->num_params;
    memcpy(out, &info, want < sizeof info ? want : sizeof info);
    return RH_OK;
}

static rh_status charlm_get_tensor(const rh_model *model, uint32_t index, rh_tensor *out)
{
    if (model == NULL || out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    if (index >= m->num_tensors)
        return RH_ERR_INVALID_ARGUMENT;
    *out = m->tensors[index];
    return RH_OK;
}

static uint64_t charlm_workspace_size(const rh_model *model, uint32_t T, uint32_t B)
{
    return model == NULL ? 0 : ws_floats(as_charlm(model), T, B);
}

static uint64_t charlm_step_scratch_size(const rh_model *model, uint32_t B)
{
    if (model == NULL)
        return 0;
    const charlm_model *m = as_charlm(model);
    // emb (B,N), hid (B,H), then the core's scratch
    return sat_add(sat_mul(B, (uint64_t)m->N + m->H), m->cv->step_scratch_size(m->core, B));
}

static rh_status charlm_reset(const rh_model *model, float *state, uint32_t B)
{
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    return m->cv->reset(m->core, state, B);
}

/* ---- shared pieces of forward, backward and step ------------------------------------------------------ */

static uint32_t seq_len(const rh_batch *batch, uint32_t b)
{
    return batch->lengths != NULL ? batch->lengths[b] : batch->T;
}

/* A core is free to insist on non-NULL inputs even for an empty batch, and an empty batch may come with
 * no workspace to point into: this stands in for "no rows". */
static const float no_rows_x[1];
static const int32_t no_rows_tokens[1];

/* Rejects what would make the batched paths read out of bounds, tokens outside [0, V) included: with
 * N > 0 the core never sees the ids, so nobody else would catch them. */
static rh_status check_batch(const charlm_model *m, const char *what, const float *params, const float *ws,
                             const rh_batch *batch)
{
    if (batch == NULL || params == NULL) {
        charlm_log(m->host, RH_LOG_ERROR, "%s: %s is NULL", what, batch == NULL ? "batch" : "params");
        return RH_ERR_INVALID_ARGUMENT;
    }
    uint32_t T = batch->T, B = batch->B;
    if (T == 0 || B == 0)
        return RH_OK;
    if ((uint64_t)T * B > INT_MAX) {
        charlm_log(m->host, RH_LOG_ERROR, "%s: T*B = %llu exceeds the BLAS row limit", what,
                   (unsigned long long)T * B);
        return RH_ERR_INVALID_ARGUMENT;
    }
    if (ws == NULL || batch->tokens == NULL) {
        charlm_log(m->host, RH_LOG_ERROR, "%s: %s is NULL", what, ws == NULL ? "workspace" : "batch.tokens");
        return RH_ERR_INVALID_ARGUMENT;
    }
    for (uint32_t b = 0; b < B; b++) {
        uint32_t len = seq_len(batch, b);
        if (len > T) {
            charlm_log(m->host, RH_LOG_ERROR, "%s: lengths[%u] = %u exceeds T = %u", what, b, len, T);
            return RH_ERR_INVALID_ARGUMENT;
        }
        for (uint32_t t = 0; t < len; t++) {
            int32_t tok = batch->tokens[(size_t)t * B + b];
            if (tok < 0 || (uint32_t)tok >= m->V) {
                charlm_log(m->host, RH_LOG_ERROR, "%s: token %d at t=%u, b=%u is outside [0, %u)", what, tok, t, b,
                           m->V);
                return RH_ERR_INVALID_ARGUMENT;
            }
        }
    }
    return RH_OK;
}

/* The batch as the core sees it: the same shape and lengths, our embeddings or the caller's tokens. */
static rh_batch core_batch(const charlm_model *m, const rh_batch *batch, const charlm_ws *w)
{
    int empty = batch->T == 0 || batch->B == 0;
    rh_batch cb;
    memset(&cb, 0, sizeof cb);
    cb.T = batch->T;
    cb.B = batch->B;
    cb.lengths = batch->lengths;
    if (m->N > 0)
        cb.x = empty ? no_rows_x : w->emb;
    else
        cb.tokens = batch->tokens != NULL ? batch->tokens : no_rows_tokens;
    return cb;
}

static const float *out_W(const charlm_model *m, const float *params)
{
    return params + m->out_offset;
}

static const float *out_b(const charlm_model *m, const float *params)
{
    return params + m->out_offset + (uint64_t)m->V * m->H;
}

// y (R,V) = out.b + h (R,H) out.W^T, out.W is (V,H)
static void project(const charlm_model *m, float *y, const float *h, const float *params, size_t R)
{
    size_t V = m->V, H = m->H;
    const float *bias = out_b(m, params);
    for (size_t r = 0; r < R; r++)
        memcpy(y + r * V, bias, V * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)V, (int)H, 1.0f, h, (int)H,
                out_W(m, params), (int)H, 1.0f, y, (int)V);
}

/* ---- forward --------------------------------------------------------------------------------------- */

// y is (T,B,V), h_T and h_0 are (B,S), workspace is ws_floats(T,B); masks NULL, or the core's dropout
static rh_status forward_with(const rh_model *model, float *y, float *h_T, float *workspace, const float *params,
                              const rh_batch *batch, const float *h_0, const rh_dropout_masks *masks)
{
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    rh_status st = check_batch(m, "forward", params, workspace, batch);
    if (st != RH_OK)
        return st;
    size_t T = batch->T, B = batch->B, TB = T * B, V = m->V, N = m->N;
    if (TB > 0 && y == NULL) {
        charlm_log(m->host, RH_LOG_ERROR, "forward: y is NULL");
        return RH_ERR_INVALID_ARGUMENT;
    }
    charlm_ws w = {0};
    if (TB > 0)
        w = ws_split(m, workspace, batch->T, batch->B);
    else
        w.core = workspace; /* the core may still want its own (small) workspace to carry h_0 to h_T */

    if (N > 0 && TB > 0) {
        const float *embed = params; /* the table is the first tensor */
        for (size_t t = 0; t < T; t++)
            for (size_t b = 0; b < B; b++) {
                float *row = w.emb + (t * B + b) * N;
                if (t < seq_len(batch, (uint32_t)b))
                    memcpy(row, embed + (size_t)batch->tokens[t * B + b] * N, N * sizeof(float));
                else
                    memset(row, 0, N * sizeof(float));
            }
    }
    rh_batch cb = core_batch(m, batch, &w);
    float *hid = TB > 0 ? w.hid : NULL;
    const float *core_params = params + m->core_offset;
    st = masks != NULL ? m->core_drop->forward(m->core, hid, h_T, w.core, core_params, &cb, h_0, masks)
                       : m->cv->forward(m->core, hid, h_T, w.core, core_params, &cb, h_0);
    if (st != RH_OK) {
        charlm_log(m->host, RH_LOG_ERROR, "forward: the core failed: %d", st);
        return st;
    }
    if (TB == 0)
        return RH_OK;

    // One GEMM over every row; padded rows are then cleared, as the batch contract asks.
    project(m, y, w.hid, params, TB);
    for (size_t b = 0; b < B; b++)
        for (size_t t = seq_len(batch, (uint32_t)b); t < T; t++)
            memset(y + (t * B + b) * V, 0, V * sizeof(float));
    return RH_OK;
}

/* ---- backward -------------------------------------------------------------------------------------- */

/* The core's backward, or its dropout backward with the forward's masks. */
static rh_status core_backward(const charlm_model *m, float *grads, float *dx, float *dh_0, float *workspace,
                               const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                               const float *dh_T, const rh_dropout_masks *masks)
{
    return masks != NULL
               ? m->core_drop->backward(m->core, grads, dx, dh_0, workspace, params, batch, h_0, dy, dh_T, masks)
               : m->cv->backward(m->core, grads, dx, dh_0, workspace, params, batch, h_0, dy, dh_T);
}

// grads (P) added into; dx unused (token input); dh_0 (B,S) written; dy (T,B,V); dh_T (B,S) or NULL; masks those
// of the forward, or NULL
static rh_status backward_with(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                               const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                               const float *dh_T, const rh_dropout_masks *masks)
{
    (void)dx; /* a token input has no gradient */
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    rh_status st = check_batch(m, "backward", params, workspace, batch);
    if (st != RH_OK)
        return st;
    size_t T = batch->T, B = batch->B, TB = T * B, V = m->V, H = m->H, N = m->N;
    if (TB > 0 && (grads == NULL || dy == NULL)) {
        charlm_log(m->host, RH_LOG_ERROR, "backward: %s is NULL", grads == NULL ? "grads" : "dy");
        return RH_ERR_INVALID_ARGUMENT;
    }
    charlm_ws w = {0};
    if (TB > 0)
        w = ws_split(m, workspace, batch->T, batch->B);
    else
        w.core = workspace;
    float *core_grads = grads != NULL ? grads + m->core_offset : NULL;
    rh_batch cb = core_batch(m, batch, &w);
    if (TB == 0)
        return core_backward(m, core_grads, NULL, dh_0, w.core, params + m->core_offset, &cb, h_0, NULL, dh_T,
                             masks);

    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            float *row = w.dym + (t * B + b) * V;
            if (t < seq_len(batch, (uint32_t)b))
                memcpy(row, dy + (t * B + b) * V, V * sizeof(float));
            else
                memset(row, 0, V * sizeof(float));
        }
    float *dW = grads + m->out_offset, *db = dW + V * H;
    for (size_t r = 0; r < TB; r++)
        for (size_t v = 0; v < V; v++)
            db[v] += w.dym[r * V + v];
    // dW (V,H) += dym^T (V,TB) hid (TB,H)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)V, (int)H, (int)TB, 1.0f, w.dym, (int)V, w.hid,
                (int)H, 1.0f, dW, (int)H);
    // dhid (TB,H) = dym (TB,V) out.W (V,H)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)TB, (int)H, (int)V, 1.0f, w.dym, (int)V,
                out_W(m, params), (int)H, 0.0f, w.dhid, (int)H);

    st = core_backward(m, core_grads, N > 0 ? w.demb : NULL, dh_0, w.core, params + m->core_offset, &cb, h_0,
                       w.dhid, dh_T, masks);
    if (st != RH_OK) {
        charlm_log(m->host, RH_LOG_ERROR, "backward: the core failed: %d", st);
        return st;
    }
    if (N > 0) {
        // The lookup's gradient is a scatter-add into the rows of the tokens seen.
        float *dembed = grads;
        for (size_t b = 0; b < B; b++)
            for (size_t t = 0, len = seq_len(batch, (uint32_t)b); t < len; t++) {
                float *dst = dembed + (size_t)batch->tokens[t * B + b] * N;
                const float *src = w.demb + (t * B + b) * N;
                for (size_t j = 0; j < N; j++)
                    dst[j] += src[j];
            }
    }
    return RH_OK;
}

static rh_status charlm_forward(const rh_model *model, float *y, float *h_T, float *workspace,
                                const float *params, const rh_batch *batch, const float *h_0)
{
    return forward_with(model, y, h_T, workspace, params, batch, h_0, NULL);
}

static rh_status charlm_backward(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                                 const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                                 const float *dh_T)
{
    return backward_with(model, grads, dx, dh_0, workspace, params, batch, h_0, dy, dh_T, NULL);
}

static rh_status charlm_drop_forward(const rh_model *model, float *y, float *h_T, float *workspace,
                                     const float *params, const rh_batch *batch, const float *h_0,
                                     const rh_dropout_masks *masks)
{
    if (masks == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return forward_with(model, y, h_T, workspace, params, batch, h_0, masks);
}

static rh_status charlm_drop_backward(const rh_model *model, float *grads, float *dx, float *dh_0, float *workspace,
                                      const float *params, const rh_batch *batch, const float *h_0, const float *dy,
                                      const float *dh_T, const rh_dropout_masks *masks)
{
    if (masks == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return backward_with(model, grads, dx, dh_0, workspace, params, batch, h_0, dy, dh_T, masks);
}

static const rh_ext_dropout charlm_drop_ext = {sizeof(rh_ext_dropout), charlm_drop_forward, charlm_drop_backward};

/* ---- step ------------------------------------------------------------------------------------------ */

// y is (B,V) or NULL, state is (B,S), tokens is (B); x must be NULL (token input); copy is the core's half-step
// copy or NULL
static rh_status step_with(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                           const void *copy, const float *x, const int32_t *tokens, uint32_t B)
{
    if (model == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    if (B == 0)
        return RH_OK;
    if (state == NULL || scratch == NULL || params == NULL || tokens == NULL || x != NULL || B > INT_MAX)
        return RH_ERR_INVALID_ARGUMENT;
    for (uint32_t b = 0; b < B; b++)
        if (tokens[b] < 0 || (uint32_t)tokens[b] >= m->V)
            return RH_ERR_INVALID_ARGUMENT;

    size_t N = m->N, H = m->H;
    float *emb = scratch, *hid = emb + (size_t)B * N, *core_scratch = hid + (size_t)B * H;
    for (size_t b = 0; b < B && N > 0; b++)
        memcpy(emb + b * N, params + (size_t)tokens[b] * N, N * sizeof(float));
    // Without y the core skips its own output too, but its state still advances.
    rh_status st =
        copy != NULL ? m->core_half->step(m->core, y != NULL ? hid : NULL, state, core_scratch, params + m->core_offset,
                                          copy, N > 0 ? emb : NULL, N > 0 ? NULL : tokens, B)
                     : m->cv->step(m->core, y != NULL ? hid : NULL, state, core_scratch, params + m->core_offset,
                                   N > 0 ? emb : NULL, N > 0 ? NULL : tokens, B);
    if (st != RH_OK)
        return st;
    if (y != NULL)
        project(m, y, hid, params, B);
    return RH_OK;
}

static rh_status charlm_step(const rh_model *model, float *y, float *state, float *scratch, const float *params,
                             const float *x, const int32_t *tokens, uint32_t B)
{
    return step_with(model, y, state, scratch, params, NULL, x, tokens, B);
}

/* ---- the half-step copy (halfstep.h) ----------------------------------------------------------------- */

/* Ours is the core's copy: the core's matrices are nearly all of the bytes a step reads. The embedding
 * gives one row a step, and the output projection stays in floats, the same product in both steps. */
static uint64_t charlm_half_copy_size(const rh_model *model)
{
    const charlm_model *m = as_charlm(model);
    return model == NULL ? 0 : m->core_half->copy_size(m->core);
}

static rh_status charlm_half_make_copy(const rh_model *model, void *copy, const float *params)
{
    if (model == NULL || copy == NULL || params == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    const charlm_model *m = as_charlm(model);
    return m->core_half->make_copy(m->core, copy, params + m->core_offset);
}

static rh_status charlm_half_step(const rh_model *model, float *y, float *state, float *scratch,
                                  const float *params, const void *copy, const float *x, const int32_t *tokens,
                                  uint32_t B)
{
    if (copy == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return step_with(model, y, state, scratch, params, copy, x, tokens, B);
}

static const rh_ext_half_step charlm_half_ext = {
    sizeof(rh_ext_half_step), charlm_half_copy_size, charlm_half_make_copy, charlm_half_step,
};

static const void *charlm_get_extension(const rh_model *model, const char *extension_id)
{
    if (model == NULL || extension_id == NULL)
        return NULL;
    if (strcmp(extension_id, RH_EXT_HALF_STEP) == 0)
        return as_charlm(model)->core_half != NULL ? &charlm_half_ext : NULL;
    if (strcmp(extension_id, RH_EXT_DROPOUT) == 0)
        return as_charlm(model)->core_drop != NULL ? &charlm_drop_ext : NULL;
    return NULL;
}

static const rh_model_vtable charlm_vtable = {
    sizeof(rh_model_vtable), charlm_destroy,  charlm_get_info,          charlm_get_tensor, charlm_workspace_size,
    charlm_forward,          charlm_backward, charlm_step_scratch_size, charlm_step,       charlm_reset,
    charlm_get_extension,
};

/* ---- create ---------------------------------------------------------------------------------------- */

static rh_status refuse(const rh_host *host, rh_status status, const char *why)
{
    charlm_log(host, RH_LOG_ERROR, CHARLM_ID ": %s", why);
    return status;
}

/* Parses "key=value;key=value" into *embed, and every other key (dropout, recurrent_dropout) into
 * core_options, as given: the core checks them, a key it does not know or one given twice included. Empty
 * items (a trailing ';') are allowed; embed given twice is refused rather than silently resolved one way or
 * the other. */
static rh_status parse_options(const rh_host *host, const char *options, uint32_t *embed, char *core_options,
                               size_t core_len)
{
    int seen_embed = 0;
    size_t core_used = 0;
    *embed = 0;
    core_options[0] = '\0';
    for (const char *p = options; p != NULL && *p != '\0';) {
        size_t item = strcspn(p, ";");
        size_t klen = strcspn(p, "=;");
        if (item == 0) {
            p++;
            continue;
        }
        if (klen == item) {
            charlm_log(host, RH_LOG_ERROR, CHARLM_ID ": option '%.*s' has no '=value'", (int)(item < 64 ? item : 64),
                       p);
            return RH_ERR_INVALID_ARGUMENT;
        }
        const char *val = p + klen + 1;
        size_t vlen = item - klen - 1;
        if (klen != 5 || strncmp(p, "embed", 5) != 0) { // the core's
            if (core_used + item + 2 > core_len) {
                charlm_log(host, RH_LOG_ERROR, CHARLM_ID ": the core's options are too long");
                return RH_ERR_INVALID_ARGUMENT;
            }
            core_used += (size_t)snprintf(core_options + core_used, core_len - core_used, "%s%.*s",
                                          core_used > 0 ? ";" : "", (int)item, p);
            p += item;
            continue;
        }
        if (seen_embed++) {
            charlm_log(host, RH_LOG_ERROR, CHARLM_ID ": option 'embed' given twice");
            return RH_ERR_INVALID_ARGUMENT;
        }
        uint64_t v = 0;
        int ok = vlen > 0 && vlen <= 10;
        for (size_t i = 0; ok && i < vlen; i++) {
            ok = val[i] >= '0' && val[i] <= '9';
            v = v * 10 + (uint64_t)(val[i] - '0');
        }
        if (!ok || v > INT_MAX) {
            charlm_log(host, RH_LOG_ERROR, CHARLM_ID ": embed wants an integer in 0..%d, not '%.*s'", INT_MAX,
                       (int)(vlen < 64 ? vlen : 64), val);
            return RH_ERR_INVALID_ARGUMENT;
        }
        *embed = (uint32_t)v;
        p += item;
    }
    return RH_OK;
}

/* Reads the core's facts and checks them against what was asked of it. */
static rh_status check_core(const rh_host *host, const char *core_id, rh_model *core, const rh_config *core_cfg,
                            rh_model_info *info)
{
    const rh_model_vtable *cv = core->vtable;
    char why[200];
    if (cv == NULL || cv->struct_size < RH_MODEL_VTABLE_V1_SIZE || cv->destroy == NULL || cv->get_info == NULL ||
        cv->get_tensor == NULL || cv->workspace_size == NULL || cv->forward == NULL || cv->backward == NULL ||
        cv->step_scratch_size == NULL || cv->step == NULL || cv->reset == NULL) {
        snprintf(why, sizeof why, "core '%s' has a NULL, too small or incomplete vtable", core_id);
        return refuse(host, RH_ERR_ABI, why);
    }
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    rh_status st = cv->get_info(core, info);
    if (st != RH_OK) {
        snprintf(why, sizeof why, "core '%s': get_info failed (%d)", core_id, st);
        return refuse(host, st, why);
    }
    if (info->input_kind != core_cfg->input_kind || info->input_dim != core_cfg->input_dim ||
        info->output_dim != core_cfg->hidden_size) {
        snprintf(why, sizeof why,
                 "core '%s' reports input kind %u, input_dim %u, output_dim %u; asked for %u, %u and its top "
                 "hidden state (%u)",
                 core_id, info->input_kind, info->input_dim, info->output_dim, core_cfg->input_kind,
                 core_cfg->input_dim, core_cfg->hidden_size);
        return refuse(host, RH_ERR_SHAPE, why);
    }
    if (info->state_size == 0 || info->num_tensors == 0 || info->num_tensors > CHARLM_MAX_CORE_TENSORS ||
        info->num_params == 0 || info->num_params > CHARLM_MAX_PARAMS) {
        snprintf(why, sizeof why, "core '%s' reports unusable sizes (state %u, %u tensors, %llu params)", core_id,
                 info->state_size, info->num_tensors, (unsigned long long)info->num_params);
        return refuse(host, RH_ERR_SHAPE, why);
    }
    return RH_OK;
}

/* Length of a string the core or the caller gave us, or RH_MAX_NAME when it is NULL or does not end
 * within RH_MAX_NAME bytes (never reads past that). */
static size_t bounded_len(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return RH_MAX_NAME;
    while (n < RH_MAX_NAME && s[n] != '\0')
        n++;
    return n;
}

static void set_tensor(rh_tensor *t, const char *name, uint32_t rows, uint32_t cols, uint64_t offset, uint32_t init,
                       float scale)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->offset = offset;
    t->size = (uint64_t)rows * (cols > 0 ? cols : 1);
    t->init = init;
    t->init_scale = scale;
}

/* Builds the model around an accepted core; on failure the caller still owns (and destroys) the core. */
static rh_status build(const rh_host *host, const char *core_id, rh_model *core, const rh_model_info *ci,
                       uint32_t V, uint32_t H, uint32_t N, rh_model **out)
{
    char why[200];
    uint64_t embed_size = (uint64_t)V * N, out_size = (uint64_t)V * H + V;
    uint64_t total = sat_add(sat_add(embed_size, ci->num_params), out_size);
    if (total > CHARLM_MAX_PARAMS || total > (uint64_t)SIZE_MAX / sizeof(float) / 8) {
        snprintf(why, sizeof why, "more than 2^40 parameters (V %u, H %u, embed %u, core %llu)", V, H, N,
                 (unsigned long long)ci->num_params);
        return refuse(host, RH_ERR_INVALID_ARGUMENT, why);
    }
    uint32_t nt = ci->num_tensors + 2 + (N > 0 ? 1 : 0);
    charlm_model *m = calloc(1, sizeof *m + (size_t)nt * (sizeof(rh_tensor) + RH_MAX_NAME));
    if (m == NULL)
        return refuse(host, RH_ERR_NO_MEMORY, "out of memory for the tensor table");
    m->base.vtable = &charlm_vtable;
    m->base.plugin_data = m;
    m->host = host;
    m->core = core;
    m->cv = core->vtable;
    m->core_half = rh_half_step_of(core);
    m->core_drop = rh_dropout_of(core);
    m->V = V, m->H = H, m->N = N, m->S = ci->state_size;
    m->num_tensors = nt;
    m->tensors = (rh_tensor *)(m + 1);
    m->names = (char(*)[RH_MAX_NAME])(m->tensors + nt);
    m->core_offset = embed_size;
    m->out_offset = embed_size + ci->num_params;
    m->num_params = total;

    uint32_t k = 0;
    if (N > 0) {
        // Unit-variance rows in total, like the one-hot column they replace.
        snprintf(m->names[k], RH_MAX_NAME, "embed");
        set_tensor(&m->tensors[k], m->names[k], V, N, 0, RH_INIT_NORMAL, (float)(1.0 / sqrt((double)N)));
        k++;
    }
    for (uint32_t i = 0; i < ci->num_tensors; i++, k++) {
        rh_tensor t;
        memset(&t, 0, sizeof t);
        rh_status st = m->cv->get_tensor(core, i, &t);
        size_t len = bounded_len(t.name);
        uint64_t end;
        if (st != RH_OK || len == 0 || len + sizeof CORE_PREFIX > RH_MAX_NAME) {
            snprintf(why, sizeof why,
                     st != RH_OK ? "core '%s': get_tensor(%u) failed"
                                 : "core '%s': tensor %u has no name or one too long to prefix with '" CORE_PREFIX "'",
                     core_id, i);
            free(m);
            return refuse(host, st != RH_OK ? st : RH_ERR_FORMAT, why);
        }
        if (__builtin_add_overflow(t.offset, t.size, &end) || end > ci->num_params) {
            snprintf(why, sizeof why, "core '%s': tensor %u lies outside its %llu parameters", core_id, i,
                     (unsigned long long)ci->num_params);
            free(m);
            return refuse(host, RH_ERR_SHAPE, why);
        }
        snprintf(m->names[k], RH_MAX_NAME, CORE_PREFIX "%.*s", (int)len, t.name);
        t.name = m->names[k];
        t.offset += m->core_offset;
        m->tensors[k] = t;
    }
    snprintf(m->names[k], RH_MAX_NAME, "out.W");
    set_tensor(&m->tensors[k], m->names[k], V, H, m->out_offset, RH_INIT_UNIFORM, (float)(1.0 / sqrt((double)H)));
    k++;
    snprintf(m->names[k], RH_MAX_NAME, "out.b");
    set_tensor(&m->tensors[k], m->names[k], V, 0, m->out_offset + (uint64_t)V * H, RH_INIT_ZERO, 0.0f);
    *out = &m->base;
    return RH_OK;
}

static rh_status charlm_create(const rh_host *host, const rh_config *config, rh_model **out)
{
    char why[200];
    if (config == NULL)
        return refuse(host, RH_ERR_INVALID_ARGUMENT, "config is NULL");
    if (config->struct_size < offsetof(rh_config, options) + sizeof(config->options))
        return refuse(host, RH_ERR_INVALID_ARGUMENT, "config.struct_size is smaller than rh_config of ABI version 1");
    if (config->input_kind != RH_INPUT_TOKENS)
        return refuse(host, config->input_kind == RH_INPUT_DENSE ? RH_ERR_UNSUPPORTED : RH_ERR_INVALID_ARGUMENT,
                      "config.input_kind must be RH_INPUT_TOKENS (a language model reads token ids)");
    if (config->input_dim == 0 || config->hidden_size == 0 || config->num_layers == 0)
        return refuse(host, RH_ERR_INVALID_ARGUMENT,
                      "config.input_dim (vocabulary), hidden_size and num_layers must be at least 1");
    if (config->input_dim > INT_MAX || config->hidden_size > INT_MAX) /* both are BLAS ints below */
        return refuse(host, RH_ERR_INVALID_ARGUMENT, "config.input_dim or hidden_size exceeds INT_MAX");
    if (config->output_dim != 0 && config->output_dim != config->input_dim) {
        snprintf(why, sizeof why, "config.output_dim must be 0 or the vocabulary size %u (logits), not %u",
                 config->input_dim, config->output_dim);
        return refuse(host, RH_ERR_INVALID_ARGUMENT, why);
    }
    if (config->core == NULL || config->core[0] == '\0')
        return refuse(host, RH_ERR_INVALID_ARGUMENT,
                      "config.core is required: the model id of the recurrent core (e.g. \"gru\")");
    if (bounded_len(config->core) == RH_MAX_NAME)
        return refuse(host, RH_ERR_INVALID_ARGUMENT, "config.core is longer than a model id can be");
    uint32_t N;
    char core_options[128];
    rh_status st = parse_options(host, config->options, &N, core_options, sizeof core_options);
    if (st != RH_OK)
        return st;
    if (host == NULL || host->create_model == NULL)
        return refuse(host, RH_ERR_UNSUPPORTED, "the host offers no create_model service to build the core with");

    rh_config core_cfg;
    memset(&core_cfg, 0, sizeof core_cfg);
    core_cfg.struct_size = sizeof core_cfg;
    core_cfg.input_kind = N > 0 ? RH_INPUT_DENSE : RH_INPUT_TOKENS;
    core_cfg.input_dim = N > 0 ? N : config->input_dim;
    core_cfg.hidden_size = config->hidden_size;
    core_cfg.num_layers = config->num_layers;
    core_cfg.output_dim = 0; /* we want the top hidden state: the projection to logits is ours */
    core_cfg.options = core_options[0] != '\0' ? core_options : NULL;

    rh_model *core = NULL;
    st = host->create_model(host, config->core, &core_cfg, &core);
    if (st != RH_OK || core == NULL) {
        snprintf(why, sizeof why, "core '%s' refused {%s, input_dim %u, hidden_size %u, num_layers %u} with status %d%s",
                 config->core, N > 0 ? "dense" : "tokens", core_cfg.input_dim, core_cfg.hidden_size,
                 core_cfg.num_layers, st,
                 st == RH_ERR_UNKNOWN_MODEL ? " (no loaded plugin provides it)"
                 : st == RH_ERR_UNSUPPORTED && N == 0 ? " (a dense-only core needs options embed=N)" : "");
        /* A model handed back with an error is not trustworthy enough to destroy. */
        return refuse(host, st != RH_OK ? st : RH_ERR_INTERNAL, why);
    }
    rh_model_info ci;
    st = check_core(host, config->core, core, &core_cfg, &ci);
    if (st == RH_OK)
        st = build(host, config->core, core, &ci, config->input_dim, config->hidden_size, N, out);
    if (st != RH_OK && core->vtable != NULL && core->vtable->destroy != NULL)
        core->vtable->destroy(core);
    return st;
}

/* ---- the entry ------------------------------------------------------------------------------------- */

static const rh_model_descriptor charlm_descriptor = {
    sizeof(rh_model_descriptor),
    CHARLM_ID,
    "Character-level language model",
    "1.0.0",
    "Token ids through an optional embedding and any recurrent core (config.core) to vocabulary logits",
    RH_INPUT_TOKENS,
    RH_MODEL_COMPOSITE,
};

static uint32_t charlm_model_count(void)
{
    return 1;
}

static const rh_model_descriptor *charlm_model_descriptor(uint32_t index)
{
    return index == 0 ? &charlm_descriptor : NULL;
}

static rh_status charlm_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                     rh_model **out)
{
    if (out == NULL)
        return RH_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (model_id == NULL || strcmp(model_id, charlm_descriptor.id) != 0) {
        charlm_log(host, RH_LOG_ERROR, CHARLM_ID " plugin: unknown model id '%.64s'",
                   model_id != NULL ? model_id : "(null)");
        return RH_ERR_UNKNOWN_MODEL;
    }
    return charlm_create(host, config, out);
}

RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
    RH_ABI_VERSION,     sizeof(rh_plugin_entry), CHARLM_ID,           "Character-level language model",
    "rnnhost",          "1.0.0",                 charlm_model_count,  charlm_model_descriptor,
    charlm_create_model, NULL,
};
