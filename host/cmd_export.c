/* rnnhost export: a model file from a checkpoint or another model file: the weights and the metadata
 * that describe them, without the optimizer and training state a checkpoint carries, optionally in half
 * precision (half the size; the weights are widened back to float when loaded). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hostlog.h"
#include "modelfile.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnhost export MODEL -o OUT.safetensors [OPTIONS]\n"
               "\n"
               "Writes the model in MODEL (a model file, a checkpoint or a preset name) to OUT without training\n"
               "state. The file is written atomically.\n"
               "\n"
               "  -o, --output FILE       where to write (required)\n"
               "      --dtype f32|f16     storage precision of the weights (default: f32)\n"
               "      --plugin-path PATH  colon-separated plugin directories searched first\n"
               "  -h, --help              this help\n");
}

int cmd_export(int argc, char **argv)
{
    enum { O_DTYPE = 256, O_PLUGIN };
    static const struct option long_options[] = {
        {"output", required_argument, NULL, 'o'},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *plugin_path = NULL;
    int half = 0, c;
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
    if (model_resolve(path, sizeof path, argv[optind], why, sizeof why) != 0 ||
        (rc = model_open(&hm, &spec, &w, &reg, path, NULL, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        registry_free(&reg);
        return EXIT_LOAD;
    }
    rc = EXIT_FAIL;
    const uint32_t nt = hm.info.num_tensors, nm = rh_weights_meta_count(w);
    rh_blob *blobs = calloc(nt, sizeof *blobs);
    rh_meta *meta = calloc(nm + 1, sizeof *meta);
    uint16_t *halves = half ? malloc(hm.info.num_params * sizeof *halves) : NULL;
    uint32_t kept = 0;
    if (!blobs || !meta || (half && !halves)) {
        hostlog_error("out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < nm; i++) {
        const char *k, *v;
        if (rh_weights_meta_at(w, i, &k, &v) == RH_OK && strcmp(k, "rnnhost.checkpoint") != 0) {
            meta[kept].key = k;
            meta[kept++].value = v;
        }
    }
    for (uint32_t i = 0; i < nt; i++) {
        blobs[i] = rh_blob_from_tensor(&hm.tensors[i], hm.params);
        if (half) {
            uint16_t *dst = halves + hm.tensors[i].offset;
            for (uint64_t k = 0; k < hm.tensors[i].size; k++)
                dst[k] = rh_f32_to_f16(hm.params[hm.tensors[i].offset + k]);
            blobs[i].dtype = RH_DTYPE_F16;
            blobs[i].data = dst;
        }
    }
    if (rh_weights_write(out, meta, kept, blobs, nt, err, sizeof err) != RH_OK) {
        hostlog_error("export: %s", err); /* err names the file */
        goto done;
    }
    fprintf(stderr, "rnnhost: wrote %s (%s model, %llu parameters, %s)\n", out, spec.task,
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
