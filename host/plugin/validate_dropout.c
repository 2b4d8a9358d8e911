/* The dropout check (rnnhost/dropout.h): a model that takes the option "dropout" (or the cell kit's
 * "recurrent_dropout") is the same model with it at 0, never drops outside training, and drops in training
 * as its seed says. Its gradients with the masks held fixed are the gradients check's, run with
 * --options dropout=P. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "validate_fixture.h"

/* The case's model with "KEY=P" after the case's options, its parameters those of base (same layout). */
static int begin_with_dropout(fixture *f, const validate_ctx *ctx, const validate_case *vc, const char *key,
                              const char *p, const host_model *base, char *detail, size_t len)
{
    char options[512];
    validate_case dc = *vc;
    host_fmt(options, sizeof options, "%s%s%s=%s", vc->config.options ? vc->config.options : "",
             vc->config.options && vc->config.options[0] ? ";" : "", key, p);
    dc.config.options = options;
    if (fixture_begin(f, ctx, &dc, NULL, detail, len) != 0)
        return -1;
    if (f->hm.info.num_params != base->info.num_params) {
        host_fmt(detail, len, "%s=%s changes the parameter count (%llu, not %llu)", key, p,
                 (unsigned long long)f->hm.info.num_params, (unsigned long long)base->info.num_params);
        return -1;
    }
    memcpy(f->hm.params, base->params, (size_t)base->info.num_params * sizeof(float));
    return 0;
}

/* A forward's outputs. */
typedef struct out {
    float *y, *h;
    uint64_t ny, nh;
} out;

/* Whether two forwards gave the same bits. */
static int same(const out *a, const out *b)
{
    return !memcmp(a->y, b->y, a->ny * sizeof *a->y) && !memcmp(a->h, b->h, a->nh * sizeof *a->h);
}

/* forward of hm over batch, with masks (NULL: the vtable's), into y and h_T. */
static rh_status run(const host_model *hm, const rh_batch *batch, float *y, float *h_T, const rh_dropout_masks *masks)
{
    float *ws = alloc_floats(hm->vt->workspace_size(hm->model, batch->T, batch->B), NAN);
    if (!ws)
        return RH_ERR_NO_MEMORY;
    const rh_status st = host_model_train_forward(hm, hm->params, y, h_T, ws, batch, NULL, masks);
    free(ws);
    return st;
}

/* The check of one option, key: 0 when it passes (or the model does not take it), 1 when not; detail says. */
static int check_option(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, const char *key,
                        char *detail, size_t len)
{
    static const uint32_t lengths[3] = {6, 4, 0};
    fixture base, zero, half;
    memset(&zero, 0, sizeof zero);
    memset(&half, 0, sizeof half);
    int rc = 1;
    if (fixture_begin(&base, ctx, vc, rng, detail, len) != 0)
        return 1;
    char why[512];
    if (begin_with_dropout(&zero, ctx, vc, key, "0", &base.hm, why, sizeof why) != 0) {
        // A model without the option passes, dropout being optional; one that takes 0.5 but not 0 does not.
        host_fmt(detail, len, "%s not offered (optional): %s", key, why);
        rc = begin_with_dropout(&half, ctx, vc, key, "0.5", &base.hm, why, sizeof why) == 0;
        if (rc)
            host_fmt(detail, len, "takes %s=0.5 but refuses %s=0", key, key);
        goto done;
    }
    if (begin_with_dropout(&half, ctx, vc, key, "0.5", &base.hm, detail, len) != 0)
        goto done;
    /* one batch through: the model without the option, with dropout=0, with dropout=0.5 outside training,
     * in training with a seed, again with it, and with another seed */
    enum { BASE, ZERO, OFF, SEED, AGAIN, OTHER, RUNS };
    const rh_dropout_masks one = {rh_rng_next(rng), 0}, other = {one.seed + 1, 0};
    const host_model *models[RUNS] = {&base.hm, &zero.hm, &half.hm, &half.hm, &half.hm, &half.hm};
    const rh_dropout_masks *masks[RUNS] = {NULL, NULL, NULL, &one, &one, &other};
    const sizes n = sizes_of(&base.hm, 6, 3);
    out o[RUNS];
    for (int k = 0; k < RUNS; k++)
        o[k] = (out){fixture_floats(&base, n.y, 0), fixture_floats(&base, n.s, 0), n.y, n.s};
    if (base.out_of_memory || batch_make(&base.ob, &base.hm.info, n.T, n.B, lengths, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if (zero.hm.dropout || !half.hm.dropout) {
        host_fmt(detail, len,
                 zero.hm.dropout ? "%s=0 offers the training extension"
                                 : "%s=0.5 is taken but the extension " RH_EXT_DROPOUT " is missing or unusable",
                 key);
        goto done;
    }
    for (int k = 0; k < RUNS; k++) {
        rh_status st = run(models[k], &base.ob.b, o[k].y, o[k].h, masks[k]);
        if (st != RH_OK) {
            host_fmt(detail, len, "forward %d of %d failed: %s", k + 1, RUNS, rh_strerror(st));
            goto done;
        }
    }
    const char *wrong = !same(&o[BASE], &o[ZERO])   ? "=0 changes forward: not the same model"
                        : !same(&o[BASE], &o[OFF])  ? "=0.5: forward drops outside training"
                        : !same(&o[SEED], &o[AGAIN]) ? "=0.5: two training forwards with one seed differ"
                        : same(&o[BASE], &o[SEED])  ? "=0.5 drops nothing in training"
                        : same(&o[SEED], &o[OTHER]) ? "=0.5: another seed drops the same units"
                                                    : NULL;
    if (wrong)
        host_fmt(detail, len, "%s%s", key, wrong);
    else
        host_fmt(detail, len, "%s=0 is the same model; %s=0.5 drops in training only, as its seed says", key, key);
    rc = wrong != NULL;
done:
    fixture_end(&half);
    fixture_end(&zero);
    fixture_end(&base);
    return rc;
}

int validate_dropout(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    if (vc->config.options && strstr(vc->config.options, "dropout")) {
        host_fmt(detail, len, "--options sets dropout: its gradients are the gradients check's");
        return 0;
    }
    // The output's dropout, then the recurrent state's (the cell kit's option; optional like the first)
    char first[512], second[512];
    if (check_option(ctx, vc, rng, "dropout", first, sizeof first) != 0) {
        host_fmt(detail, len, "%s", first);
        return 1;
    }
    const int rc = check_option(ctx, vc, rng, "recurrent_dropout", second, sizeof second);
    host_fmt(detail, len, "%s; %s", first, second);
    return rc;
}
