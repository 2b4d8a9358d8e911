/* rnnhost export: a model file from a checkpoint or another model file: the weights and the metadata
 * that describe them, without the optimizer and training state a checkpoint carries, optionally in half
 * precision (half the size; the weights are widened back to float when loaded). Speech (ctc) models keep
 * both directions, and their front-end's padding can be set. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "atomicfile.h"
#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "modelfile.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost export MODEL -o OUT.safetensors|- [OPTIONS]\n"
               "\n"
               "Writes the model in MODEL (a model file, a checkpoint or a preset name) to OUT without training\n"
               "state. A file is written atomically; a link is written through, a FIFO or device as a stream.\n"
               "\n"
               "  -o, --output FILE|-     where to write, '-' for stdout (required)\n"
               "      --dtype f32|f16     storage precision of the weights (default: f32)\n"
               "      --pad-ms MS         speech models: the near-silence the front-end hears before and after\n"
               "                          every recording, 0 for none (default: the model's own)\n"
               "      --description TEXT  one line saying what the model is, kept in the file's metadata and\n"
               "                          shown by 'rnnhost presets'; \"\" removes it (default: MODEL's own)\n"
               "      --plugin-path PATH  colon-separated plugin directories searched first\n"
               "  -h, --help              this help\n");
}

/* Whether an entry of the source's metadata goes into the export: never a checkpoint's training state, nor
 * the description when a new one is given. */
static int keep_meta(const char *key, const char *description)
{
    return strcmp(key, "rnnhost.checkpoint") != 0 && !(description && strcmp(key, "rnnhost.description") == 0);
}

/* Appends the new description (none when NULL or ""). */
static void add_description(rh_meta *meta, uint32_t *kept, const char *description)
{
    if (description && description[0]) {
        meta[*kept].key = "rnnhost.description";
        meta[(*kept)++].value = description;
    }
}

/* Half-precision copies of the float blobs b[0..n), into halves (room for every element). */
static void to_half(rh_blob *b, uint32_t n, uint16_t *halves)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t count = 1;
        for (uint32_t d = 0; d < b[i].ndim; d++)
            count *= b[i].shape[d];
        const float *src = b[i].data;
        for (uint64_t k = 0; k < count; k++)
            halves[k] = rh_f32_to_f16(src[k]);
        b[i].dtype = RH_DTYPE_F16;
        b[i].data = halves;
        halves += count;
    }
}

/* The front-end description fe (JSON) with pad_ms set (removed when 0); NULL when memory runs out. */
static char *with_pad(const char *fe, uint32_t pad_ms)
{
    cJSON *j = cJSON_Parse(fe);
    char *s = NULL;
    if (j) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "pad_ms");
        if (pad_ms == 0 || cJSON_AddNumberToObject(j, "pad_ms", pad_ms))
            s = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(j);
    return s;
}

/* A speech model: both directions' weights, its metadata but the checkpoint's, the padding changed when
 * pad_ms >= 0. */
static int export_ctc(const char *path, const char *out, plugin_registry *reg, int half, long pad_ms,
                      const char *description)
{
    asr_model m;
    rh_weights *w = NULL;
    char why[1024], err[512];
    int rc = asr_open(&m, reg, path, why, sizeof why);
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        return rc;
    }
    rc = EXIT_FAIL;
    rh_blob *blobs = NULL;
    char(*names)[RH_MAX_NAME + 8] = NULL, *fe = NULL;
    const uint32_t n = asr_blobs(&blobs, &names, &m, NULL, NULL);
    uint64_t params = 0;
    for (int d = 0; d < asr_dirs(&m); d++)
        params += m.dir[d].info.num_params;
    uint16_t *halves = half ? malloc(params * sizeof *halves) : NULL;
    rh_meta *meta = NULL;
    uint32_t kept = 0;
    if (rh_weights_open(&w, path, err, sizeof err) != RH_OK) {
        hostlog_error("%s", err);
        goto done;
    }
    const uint32_t nm = rh_weights_meta_count(w);
    meta = calloc(nm + 2, sizeof *meta);
    if (!n || !meta || (half && !halves))
        goto oom;
    for (uint32_t i = 0; i < nm; i++) {
        const char *k, *v;
        if (rh_weights_meta_at(w, i, &k, &v) != RH_OK || !keep_meta(k, description))
            continue;
        if (pad_ms >= 0 && strcmp(k, "rnnhost.frontend") == 0 && !(v = fe = with_pad(v, (uint32_t)pad_ms)))
            goto oom;
        meta[kept].key = k;
        meta[kept++].value = v;
    }
    add_description(meta, &kept, description);
    if (half)
        to_half(blobs, n, halves);
    if (model_write(out, meta, kept, blobs, n, err, sizeof err) != 0) {
        hostlog_error("export: %s", err); /* err names the file */
        goto done;
    }
    fprintf(stderr, "rnnhost: wrote %s (ctc model, %llu parameters, %s, padding %u ms)\n", output_name(out),
            (unsigned long long)params, half ? "f16" : "f32", pad_ms >= 0 ? (unsigned)pad_ms : m.pad_ms);
    rc = EXIT_OK;
    goto done;
oom:
    hostlog_error("out of memory");
done:
    free(blobs), free(names), free(halves), free(meta), free(fe);
    rh_weights_close(w);
    asr_close(&m);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    enum { O_DTYPE = 256, O_PLUGIN, O_PAD, O_DESCRIPTION };
    static const struct option long_options[] = {
        {"output", required_argument, NULL, 'o'},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"pad-ms", required_argument, NULL, O_PAD},
        {"description", required_argument, NULL, O_DESCRIPTION},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *plugin_path = NULL, *description = NULL;
    int half = 0, c;
    long pad_ms = -1; /* the model's own */
    uint32_t u32;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_PLUGIN: plugin_path = optarg; break;
        case O_DTYPE:
            if (strcmp(optarg, "f16") != 0 && strcmp(optarg, "f32") != 0) {
                hostlog_usage("export: --dtype is f32 or f16, not '%s'", optarg);
                return EXIT_USAGE;
            }
            half = strcmp(optarg, "f16") == 0;
            break;
        case O_PAD:
            if (cli_u32(&u32, optarg, "--pad-ms", 0, ASR_MAX_PAD_MS) != 0)
                return EXIT_USAGE;
            pad_ms = u32;
            break;
        case O_DESCRIPTION:
            if (strchr(optarg, '\n') || strchr(optarg, '\r')) {
                hostlog_usage("export: --description is one line");
                return EXIT_USAGE;
            }
            description = optarg;
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            hostlog_usage("export: unknown or incomplete option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        hostlog_usage("export: needs one MODEL and -o OUT");
        return EXIT_USAGE;
    }

    plugin_registry reg;
    host_model hm;
    model_spec spec;
    rh_weights *w = NULL;
    char path[4096], why[1024], err[512];
    int rc;
    if (registry_init(&reg, plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        return EXIT_FAIL;
    }
    if (model_resolve(path, sizeof path, argv[optind], why, sizeof why) != 0) {
        hostlog_error("%s", why);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    /* a speech model describes its front-end; it holds two models when bidirectional */
    if (rh_weights_open(&w, path, err, sizeof err) != RH_OK) {
        hostlog_error("%s", err);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    const int speech = rh_weights_meta(w, "rnnhost.frontend") != NULL;
    rh_weights_close(w);
    w = NULL;
    if (speech || pad_ms >= 0) {
        if (speech) {
            rc = export_ctc(path, out, &reg, half, pad_ms, description);
        } else {
            hostlog_usage("export: --pad-ms is for speech models; %s is not one", argv[optind]);
            rc = EXIT_USAGE;
        }
        registry_free(&reg);
        return rc;
    }
    if ((rc = model_open(&hm, &spec, &w, &reg, path, NULL, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    rc = EXIT_FAIL;
    const uint32_t nt = hm.info.num_tensors, nm = rh_weights_meta_count(w);
    rh_blob *blobs = calloc(nt, sizeof *blobs);
    rh_meta *meta = calloc(nm + 2, sizeof *meta);
    uint16_t *halves = half ? malloc(hm.info.num_params * sizeof *halves) : NULL;
    uint32_t kept = 0;
    if (!blobs || !meta || (half && !halves)) {
        hostlog_error("out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < nm; i++) {
        const char *k, *v;
        if (rh_weights_meta_at(w, i, &k, &v) == RH_OK && keep_meta(k, description)) {
            meta[kept].key = k;
            meta[kept++].value = v;
        }
    }
    add_description(meta, &kept, description);
    for (uint32_t i = 0; i < nt; i++)
        blobs[i] = rh_blob_from_tensor(&hm.tensors[i], hm.params);
    if (half)
        to_half(blobs, nt, halves);
    if (model_write(out, meta, kept, blobs, nt, err, sizeof err) != 0) {
        hostlog_error("export: %s", err); /* err names the file */
        goto done;
    }
    fprintf(stderr, "rnnhost: wrote %s (%s model, %llu parameters, %s)\n", output_name(out), spec.task,
            (unsigned long long)hm.info.num_params, half ? "f16" : "f32");
    rc = EXIT_OK;
done:
    free(blobs);
    free(meta);
    free(halves);
    rh_weights_close(w);
    host_model_destroy(&hm);
    registry_free(&reg);
    return rc;
}
