/* The checks of weights files: the parameters written by the SDK and read back give the same model, and
 * files that lie (truncated, random, a tensor of the wrong shape, a tensor missing) are refused, never
 * crash. The files live in the run's private scratch folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlog.h"
#include "readall.h"
#include "validate_fixture.h"

/* ---- weights-roundtrip and hostile-weights ----------------------------------------------------------- */

static int write_params(const validate_ctx *ctx, const host_model *hm, const char *path, const rh_tensor *tensors,
                        const float *const *datas, uint32_t n, char *detail, size_t len)
{
    rh_blob *blobs = calloc(n ? n : 1, sizeof *blobs);
    rh_meta meta[2] = {{"plugin", ctx->plugin->id}, {"validate", "1"}};
    char err[256];
    uint32_t i;
    rh_status st;
    if (!blobs) {
        host_fmt(detail, len, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++)
        blobs[i] = rh_blob_from_tensor(&tensors[i], datas ? datas[i] : hm->params);
    st = rh_weights_write(path, meta, 2, blobs, n, err, sizeof err);
    free(blobs);
    if (st != RH_OK) {
        host_fmt(detail, len, "rh_weights_write failed: %s: %s", rh_strerror(st), err);
        return -1;
    }
    return 0;
}

static void weights_path(char *path, size_t n, const validate_ctx *ctx, const validate_case *vc, const char *what)
{
    host_fmt(path, n, "%s/%s-%s-%u.safetensors", ctx->tmpdir, vc->model->id, what, vc->config.input_kind);
}

int validate_weights_roundtrip(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                               size_t len)
{
    fixture fa, fb; /* fa holds the batch and the buffers */
    host_model *a = &fa.hm, *b = &fb.hm;
    rh_weights *w = NULL;
    char path[1024], err[256];
    const char *plugin_meta;
    rh_status st;
    int rc = 1;

    if (fixture_begin_pair(&fa, &fb, ctx, vc, rng, detail, len) != 0)
        return 1;
    weights_path(path, sizeof path, ctx, vc, "roundtrip");
    if (write_params(ctx, a, path, a->tensors, NULL, a->info.num_tensors, detail, len) != 0)
        goto done;
    if ((st = rh_weights_open(&w, path, err, sizeof err)) != RH_OK) {
        host_fmt(detail, len, "the file just written cannot be read: %s: %s", rh_strerror(st), err);
        goto done;
    }
    if (!(plugin_meta = rh_weights_meta(w, "plugin")) || strcmp(plugin_meta, ctx->plugin->id) != 0) {
        host_fmt(detail, len, "metadata \"plugin\" did not survive the round trip");
        goto done;
    }
    if ((st = rh_weights_load_tensors(w, b->params, b->tensors, b->info.num_tensors, NULL, err, sizeof err)) != RH_OK) {
        host_fmt(detail, len, "loading the tensors back failed: %s: %s", rh_strerror(st), err);
        goto done;
    }
    if (memcmp(a->params, b->params, (size_t)a->info.num_params * sizeof(float)) != 0) {
        host_fmt(detail, len, "parameters read back differ from those written");
        goto done;
    }
    const sizes n = sizes_of(a, 5, 2);
    float *ya = fixture_floats(&fa, n.y, 0), *yb = fixture_floats(&fa, n.y, 0);
    if (fa.out_of_memory || batch_make(&fa.ob, &a->info, n.T, n.B, NULL, 1.0, rng) != 0) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    if ((st = forward_both(a, b, &fa.ob.b, ya, NULL, yb, NULL)) != RH_OK) {
        host_fmt(detail, len, "forward failed: %s", rh_strerror(st));
        goto done;
    }
    if (memcmp(ya, yb, (size_t)n.y * sizeof *ya) != 0) {
        host_fmt(detail, len, "a model with reloaded weights gives different outputs");
        goto done;
    }
    host_fmt(detail, len, "%u tensors saved and reloaded bit-identical, same outputs", a->info.num_tensors);
    rc = 0;
done:
    rh_weights_close(w);
    unlink(path);
    fixture_end(&fa);
    fixture_end(&fb);
    return rc;
}

static unsigned char *read_file(const char *path, size_t *size)
{
    char *d;
    return read_all_path(path, SIZE_MAX, &d, size) == 0 ? (unsigned char *)d : NULL;
}

/* 0 when the bytes are refused (by the reader or by the loader), 1 when they load into the layout. */
static int accepted(const host_model *hm, const void *bytes, size_t n, const char *path)
{
    rh_weights *w = NULL;
    char err[256];
    int ok;
    if (path) {
        FILE *f = fopen(path, "wb");
        if (!f)
            return 0;
        if (n)
            fwrite(bytes, 1, n, f);
        fclose(f);
        ok = rh_weights_open(&w, path, err, sizeof err) == RH_OK;
        unlink(path);
    } else {
        ok = rh_weights_from_memory(&w, bytes, n, err, sizeof err) == RH_OK;
    }
    if (ok)
        ok = rh_weights_load_tensors(w, hm->grads, hm->tensors, hm->info.num_tensors, NULL, err, sizeof err) == RH_OK;
    rh_weights_close(w);
    return ok;
}

int validate_hostile_weights(const validate_ctx *ctx, const validate_case *vc, rh_rng *rng, char *detail,
                             size_t len)
{
    fixture f;
    host_model *hm = &f.hm;
    char path[1024], scratch_path[1024];
    unsigned char *good = NULL, *junk = NULL;
    size_t size = 0, cuts = 0, i;
    uint64_t header_len = 0;
    rh_tensor *bent = NULL;
    const float **datas = NULL;
    float *big = NULL;
    uint32_t k, n;
    int rc = 1;

    if (fixture_begin(&f, ctx, vc, rng, detail, len) != 0)
        return 1;
    n = hm->info.num_tensors;
    weights_path(path, sizeof path, ctx, vc, "hostile");
    weights_path(scratch_path, sizeof scratch_path, ctx, vc, "hostile-cut");
    if (write_params(ctx, hm, path, hm->tensors, NULL, n, detail, len) != 0)
        goto done;
    if (!(good = read_file(path, &size)) || size < 8) {
        host_fmt(detail, len, "cannot read back %s", path);
        goto done;
    }
    if (!accepted(hm, good, size, NULL)) {
        host_fmt(detail, len, "the untouched file is refused");
        goto done;
    }
    for (i = 0; i < 8; i++)
        header_len |= (uint64_t)good[i] << (8 * i);
    /* Every truncation is refused: the cut points that matter (inside the length, the header, each
     * boundary) plus random ones; a few go through the file path, the rest through memory. */
    {
        size_t fixed[] = {0, 1, 4, 7, 8, 9, 10, 16};
        size_t cut;
        for (i = 0; i < 8 + 8 + 24; i++) {
            if (i < 8)
                cut = fixed[i];
            else if (i < 16)
                cut = (size_t)(8 + header_len) + (i - 12); /* around the end of the JSON header */
            else if (i < 20)
                cut = size - 1 - (i - 16) * 3;
            else
                cut = rh_rng_below(rng, (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size));
            if (cut >= size)
                continue;
            if (accepted(hm, good, cut, i % 5 == 0 ? scratch_path : NULL)) {
                host_fmt(detail, len, "the file truncated to %zu of %zu bytes was accepted", cut, size);
                goto done;
            }
            cuts++;
        }
    }
    /* Random bytes, and random bytes behind a plausible header length. */
    if (!(junk = malloc(size + 64))) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    for (i = 0; i < 24; i++) {
        size_t m = rh_rng_below(rng, (uint32_t)(size + 64)), j;
        for (j = 0; j < m; j++)
            junk[j] = (unsigned char)rh_rng_below(rng, 256);
        if (i % 2 && m >= 8) {
            uint64_t hl = rh_rng_below(rng, (uint32_t)m);
            for (j = 0; j < 8; j++)
                junk[j] = (unsigned char)(hl >> (8 * j));
            if (m > 8)
                junk[8] = '{';
        }
        if (accepted(hm, junk, m, i % 6 == 0 ? scratch_path : NULL)) {
            host_fmt(detail, len, "%zu random bytes were accepted as weights", m);
            goto done;
        }
    }
    /* Flipped bytes may or may not be valid: here only "no crash" is asked. */
    for (i = 0; i < 24; i++) {
        memcpy(junk, good, size);
        junk[rh_rng_below(rng, (uint32_t)size)] ^= (unsigned char)(1u + rh_rng_below(rng, 255));
        (void)accepted(hm, junk, size, NULL);
    }
    /* The first tensor one element longer than the model's: a shape mismatch must be refused. */
    bent = malloc(n * sizeof *bent);
    datas = malloc(n * sizeof *datas);
    big = alloc_floats(hm->tensors[0].size + 1, 0.5f);
    if (!bent || !datas || !big) {
        host_fmt(detail, len, "out of memory");
        goto done;
    }
    memcpy(bent, hm->tensors, n * sizeof *bent);
    for (k = 0; k < n; k++)
        datas[k] = hm->params;
    bent[0].ndim = 1;
    memset(bent[0].shape, 0, sizeof bent[0].shape);
    bent[0].shape[0] = (uint32_t)hm->tensors[0].size + 1;
    bent[0].size = hm->tensors[0].size + 1;
    bent[0].offset = 0;
    datas[0] = big;
    if (write_params(ctx, hm, path, bent, datas, n, detail, len) != 0)
        goto done;
    free(good);
    if (!(good = read_file(path, &size)) || accepted(hm, good, size, NULL)) {
        host_fmt(detail, len, "a file whose tensor '%s' has the wrong shape was accepted", hm->tensors[0].name);
        goto done;
    }
    /* And a file missing the last tensor. */
    if (write_params(ctx, hm, path, hm->tensors, NULL, n - 1, detail, len) != 0)
        goto done;
    free(good);
    if (!(good = read_file(path, &size)) || accepted(hm, good, size, NULL)) {
        host_fmt(detail, len, "a file missing tensor '%s' was accepted", hm->tensors[n - 1].name);
        goto done;
    }
    host_fmt(detail, len, "%zu truncations, 24 random files, a wrong shape and a missing tensor refused", cuts);
    rc = 0;
done:
    unlink(path);
    unlink(scratch_path);
    free(good), free(junk), free(bent), free(datas), free(big);
    fixture_end(&f);
    return rc;
}
