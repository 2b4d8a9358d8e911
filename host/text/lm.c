#include "lm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "par.h"

int lm_check_spec(const model_spec *spec, const vocab *v, char *why, size_t why_len)
{
    if (spec->input_kind != RH_INPUT_TOKENS || spec->input_dim != v->n ||
        (spec->output_dim != 0 && spec->output_dim != v->n)) {
        host_fmt(why, why_len, "model input %u / output %u do not match its vocabulary of %u symbols",
                 spec->input_dim, spec->output_dim, v->n);
        return -1;
    }
    return 0;
}

int lm_open(lm *m, plugin_registry *r, const char *name, char *why, size_t why_len)
{
    char path[4096], err[512];
    rh_weights *w = NULL;
    int rc;
    memset(m, 0, sizeof *m);
    if (model_resolve(path, sizeof path, name, why, why_len) != 0)
        return EXIT_LOAD;
    if ((rc = model_open(&m->hm, &m->spec, &w, r, path, LM_TASK, why, why_len)) != EXIT_OK)
        return rc;
    const char *stored = rh_weights_meta(w, "rnnhost.vocab");
    if (!stored) {
        host_fmt(why, why_len, "%s: no vocabulary ('rnnhost.vocab') in its metadata", path);
        goto fail;
    }
    if (vocab_from_utf8(&m->voc, stored, err, sizeof err) != 0) {
        host_fmt(why, why_len, "%s: %s", path, err); // err begins "vocabulary: "
        goto fail;
    }
    if (lm_check_spec(&m->spec, &m->voc, err, sizeof err) != 0) {
        host_fmt(why, why_len, "%s: %s", path, err);
        goto fail;
    }
    rh_weights_close(w);
    return EXIT_OK;
fail:
    rh_weights_close(w);
    lm_close(m);
    return EXIT_LOAD;
}

void lm_close(lm *m)
{
    host_model_destroy(&m->hm);
    vocab_free(&m->voc);
    memset(m, 0, sizeof *m);
}

static int read_array(void *ctx, uint32_t stream, size_t first, size_t count, int32_t *ids)
{
    (void)stream;
    memcpy(ids, (const int32_t *)ctx + first, count * sizeof *ids);
    return 0;
}

int lm_nll(double *nll, uint64_t *count, const host_model *hm, const int32_t *ids, size_t n, uint32_t streams,
           uint32_t T)
{
    return lm_nll_read(nll, count, hm, read_array, (void *)(uintptr_t)ids, n, streams, T);
}

typedef struct stoppable {
    const int32_t *ids;
    const volatile sig_atomic_t *stop;
} stoppable;

static int read_until(void *ctx, uint32_t stream, size_t first, size_t count, int32_t *ids)
{
    const stoppable *s = ctx;
    if (s->stop && *s->stop)
        return -1;
    return read_array((void *)(uintptr_t)s->ids, stream, first, count, ids);
}

int lm_nll_until(double *nll, uint64_t *count, const host_model *hm, const int32_t *ids, size_t n, uint32_t streams,
                 uint32_t T, const volatile sig_atomic_t *stop)
{
    stoppable s = {ids, stop};
    const int rc = lm_nll_read(nll, count, hm, read_until, &s, n, streams, T);
    return rc != 0 && stop && *stop ? 1 : rc;
}

int lm_nll_read(double *nll, uint64_t *count, const host_model *hm, lm_reader read, void *ctx, size_t n,
                uint32_t streams, uint32_t T)
{
    return lm_nll_part(nll, count, hm, read, ctx, n, streams, T, 0, 1);
}

int lm_nll_part(double *nll, uint64_t *count, const host_model *hm, lm_reader read, void *ctx, size_t n,
                uint32_t streams, uint32_t T, int part, int parts)
{
    *nll = 0.0;
    *count = 0;
    if (n < 2)
        return 0;
    if (streams == 0 || T == 0)
        return -1;
    if (streams > n / 2)
        streams = (uint32_t)(n / 2); /* every segment holds at least one prediction */
    uint64_t first_seg, mine;
    par_share(streams, part, parts, &first_seg, &mine);
    if (mine == 0)
        return 0;
    const uint32_t B = (uint32_t)mine, V = hm->info.output_dim, S = hm->info.state_size;
    const size_t seg = n / streams;
    size_t *start = calloc(B, sizeof *start), *end = calloc(B, sizeof *end);
    uint32_t *lengths = calloc(B, sizeof *lengths);
    int32_t *tokens = calloc((size_t)T * B, sizeof *tokens);
    int32_t *window = malloc(((size_t)T + 1) * B * sizeof *window); /* (B, T+1): inputs and the next target */
    float *y = malloc((size_t)T * B * V * sizeof *y), *state = malloc((size_t)B * S * sizeof *state);
    float *next = malloc((size_t)B * S * sizeof *next); /* the ABI does not let h_T alias h_0 */
    float *ws = malloc(hm->vt->workspace_size(hm->model, T, B) * sizeof(float) + sizeof(float));
    int rc = -1;
    if (!start || !end || !lengths || !tokens || !window || !y || !state || !next || !ws)
        goto done;
    for (uint32_t b = 0; b < B; b++) { /* this part's segments: first_seg .. first_seg + B */
        const size_t k = first_seg + b;
        start[b] = k * seg;
        end[b] = k + 1 < streams ? (k + 1) * seg : n;
    }
    if (hm->vt->reset(hm->model, state, B) != RH_OK)
        goto done;
    for (size_t chunk = 0;; chunk += T) {
        /* stream b predicts positions start+chunk+1 .. from inputs start+chunk .. */
        uint32_t active = 0;
        for (uint32_t b = 0; b < B; b++) {
            size_t first = start[b] + chunk, remaining = first + 1 < end[b] ? end[b] - first - 1 : 0;
            int32_t *w = window + (size_t)b * (T + 1);
            lengths[b] = remaining < T ? (uint32_t)remaining : T;
            if (lengths[b] && read(ctx, (uint32_t)first_seg + b, first, (size_t)lengths[b] + 1, w) != 0)
                goto done;
            for (uint32_t t = 0; t < lengths[b]; t++)
                tokens[(size_t)t * B + b] = w[t];
            active += lengths[b] > 0;
        }
        if (!active)
            break;
        rh_batch batch = {T, B, lengths, NULL, tokens};
        if (hm->vt->forward(hm->model, y, next, ws, hm->params, &batch, state) != RH_OK)
            goto done;
        float *swap = state;
        state = next, next = swap;
        for (uint32_t b = 0; b < B; b++)
            for (uint32_t t = 0; t < lengths[b]; t++) {
                int32_t target = window[(size_t)b * (T + 1) + t + 1];
                *nll -= rh_log_softmax_at(y + ((size_t)t * B + b) * V, V, (uint32_t)target);
                (*count)++;
            }
    }
    rc = 0;
done:
    free(start), free(end), free(lengths), free(tokens), free(window), free(y), free(state), free(next), free(ws);
    return rc;
}
