/* The dropout check (rnnhost/dropout.h): a model that takes the option "dropout" is the same model with it
 * at 0, never drops outside training, and drops in training as its seed says. Its gradients with the masks
 * held fixed are the gradients check's, run with --options dropout=P. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "validate_fixture.h"

/* The case's model with "dropout=P" after the case's options, its parameters those of base (same layout). */
static int begin_with_dropout(fixture *f, const validate_ctx *ctx, const validate_case *vc, const char *p,
                              const host_model *base, char *detail, size_t len)
{
    char options[512];
    validate_case dc = *vc;
    host_fmt(options, sizeof options, "%s%sdropout=%s", vc->config.options ? vc->config.options : "",
             vc->config.options && vc->config.options[0] ? ";" : "", p);
    dc.config.options = options;
    if (fixture_begin(f, ctx, &dc, NULL, detail, len) != 0)
        return -1;
    if (f->hm.info.num_params != base->info.num_params) {
        host_fmt(detail, len, "dropout=%s changes the parameter count (%llu, not %llu)", p,
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

int validate_dropout(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail, size_t len)
{
    static const uint32_t lengths[3] = {6, 4, 0};
    if (vc->config.options && strstr(vc->config.options, "dropout")) {
        host_fmt(detail, len, "--options sets dropout: its gradients are the gradients check's");
        return 0;
    }
    fixture base, zero, half;
    memset(&zero, 0, sizeof zero);
    memset(&half, 0, sizeof half);
    int rc = 1;
    if (fixture_begin(&base, ctx, vc, rng, detail, len) != 0)
        return 1;
    char why[512];
    if (begin_with_dropout(&zero, ctx, vc, "0", &base.hm, why, sizeof why) != 0) {
        // A model without the option passes, dropout being optional; one that takes 0.5 but not 0 does not.
        host_fmt(detail, len, "not offered (optional): %s", why);
        rc = begin_with_dropout(&half, ctx, vc, "0.5", &base.hm, why, sizeof why) == 0;
        if (rc)
            host_fmt(detail, len, "takes dropout=0.5 but refuses dropout=0");
        goto done;
    }
    if (begin_with_dropout(&half, ctx, vc, "0.5", &base.hm, detail, len) != 0)
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
        host_fmt(detail, len, zero.hm.dropout ? "dropout=0 offers the training extension"
                                              : "dropout=0.5 is taken but the extension " RH_EXT_DROPOUT
                                                " is missing or unusable");
        goto done;
    }
    for (int k = 0; k < RUNS; k++) {
        rh_status st = run(models[k], &base.ob.b, o[k].y, o[k].h, masks[k]);
        if (st != RH_OK) {
            host_fmt(detail, len, "forward %d of %d failed: %s", k + 1, RUNS, rh_strerror(st));
            goto done;
        }
    }
    const char *wrong = !same(&o[BASE], &o[ZERO])   ? "dropout=0 changes forward: not the same model"
                        : !same(&o[BASE], &o[OFF])  ? "forward with dropout=0.5 drops outside training"
                        : !same(&o[SEED], &o[AGAIN]) ? "two training forwards with one seed differ"
                        : same(&o[BASE], &o[SEED])  ? "dropout=0.5 drops nothing in training"
                        : same(&o[SEED], &o[OTHER]) ? "another seed drops the same units"
                                                    : NULL;
    host_fmt(detail, len, "%s",
             wrong ? wrong : "dropout=0 is the same model; dropout=0.5 drops in training only, as its seed says");
    rc = wrong != NULL;
done:
    fixture_end(&half);
    fixture_end(&zero);
    fixture_end(&base);
    return rc;
}
