/* Model files: the SDK's safetensors reader (sdk/src/weights.c) over bytes in memory, then what the host
 * makes of a file that reads: the model spec (host/plugin/modelfile.c), a speech model's front-end and units
 * (host/speech/asrmodel.c) or a text model's vocabulary (host/text/text.c), and loading its tensors into a parameter
 * buffer laid out like the file's own arrays, as a plugin's tensor table would ask for them. */
#include <math.h>
#include <string.h>

#include "asr.h"
#include "fuzz.h"
#include "modelfile.h"
#include "rnnhost/params.h"
#include "rnnhost/weights.h"
#include "text.h"

/* Floats a fuzz input may ask to load; real files are far larger, but the fuzzer's are small. */
#define MAX_LOAD_FLOATS (1u << 22)

static void describe(const rh_weights *w)
{
    char why[512];
    model_spec spec;
    if (model_spec_from_weights(&spec, w, why, sizeof why) != 0) {
        FUZZ_ASSERT(why[0] != '\0');
        return;
    }
    FUZZ_ASSERT(memchr(spec.task, '\0', sizeof spec.task) && memchr(spec.model_id, '\0', sizeof spec.model_id));
    (void)model_spec_config(&spec);
    asr_model m;
    if (asr_describe(&m, w, "fuzz.safetensors", why, sizeof why) == 0) {
        FUZZ_ASSERT(m.n_units >= 1 && m.spec.output_dim == m.n_units + 1);
        FUZZ_ASSERT(m.stack >= 1 && m.stack <= ASR_MAX_STACK);
        FUZZ_ASSERT(asr_input_dim(&m) == m.spec.input_dim);
        (void)asr_steps_for(&m, 16000);
        // a unit the model knows encodes to its own label
        int32_t label;
        if (m.words && !strchr(m.units[0], ' ') && asr_encode(&label, 1, &m, m.units[0], why, sizeof why) == 1)
            FUZZ_ASSERT(label == 1);
        asr_close(&m);
    } else {
        FUZZ_ASSERT(why[0] != '\0');
    }
    const char *stored = rh_weights_meta(w, "rnnhost.vocab");
    vocab v;
    if (stored && vocab_from_utf8(&v, stored, why, sizeof why) == 0) {
        FUZZ_ASSERT(v.n > 0);
        vocab_free(&v);
    }
}

/* A tensor table over the file's float arrays (F32/F16, 1..RH_MAX_DIMS dims, names that fit), packed one
 * after another, and a load through it: what a model of exactly this file's shapes would do. */
static void load_all(const rh_weights *w)
{
    const uint32_t n = rh_weights_count(w);
    rh_tensor *t = calloc(n ? n : 1, sizeof *t);
    char(*names)[RH_MAX_NAME] = calloc(n ? n : 1, sizeof *names);
    uint32_t k = 0;
    uint64_t total = 0;
    if (!t || !names)
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        rh_blob b;
        FUZZ_ASSERT(rh_weights_get(w, i, &b) == RH_OK);
        FUZZ_ASSERT(b.name && rh_weights_find(w, b.name) == (int32_t)i);
        uint64_t count = 1;
        for (uint32_t d = 0; d < b.ndim; d++)
            count *= b.shape[d];
        // every element is readable: a sum touches them all, and AddressSanitizer watches
        volatile uint8_t sink = 0;
        const uint8_t *p = b.data;
        for (uint64_t j = 0; j < count * rh_dtype_size(b.dtype); j++)
            sink ^= p[j];
        (void)sink;
        if ((b.dtype != RH_DTYPE_F32 && b.dtype != RH_DTYPE_F16) || b.ndim < 1 || strlen(b.name) >= RH_MAX_NAME)
            continue;
        int fits = 1;
        for (uint32_t d = 0; d < b.ndim; d++)
            fits &= b.shape[d] >= 1 && b.shape[d] <= UINT32_MAX;
        if (!fits || total + count > MAX_LOAD_FLOATS)
            continue;
        memcpy(names[k], b.name, strlen(b.name) + 1);
        t[k].name = names[k];
        t[k].ndim = b.ndim;
        for (uint32_t d = 0; d < b.ndim; d++)
            t[k].shape[d] = (uint32_t)b.shape[d];
        t[k].offset = total;
        t[k].size = count;
        total += count;
        k++;
    }
    if (k > 0) {
        float *buf = malloc(total * sizeof *buf);
        char err[512];
        if (buf) {
            if (rh_weights_load_tensors(w, buf, t, k, NULL, err, sizeof err) == RH_OK) {
                for (uint64_t j = 0; j < total; j++)
                    FUZZ_ASSERT(isfinite(buf[j]));
            } else {
                FUZZ_ASSERT(err[0] != '\0');
            }
            free(buf);
        }
    }
done:
    free(t);
    free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rh_weights *w = NULL;
    char err[512];
    if (rh_weights_from_memory(&w, data, size, err, sizeof err) != RH_OK) {
        FUZZ_ASSERT(w == NULL && err[0] != '\0');
        return 0;
    }
    const uint32_t nm = rh_weights_meta_count(w);
    for (uint32_t i = 0; i < nm; i++) {
        const char *k, *v;
        FUZZ_ASSERT(rh_weights_meta_at(w, i, &k, &v) == RH_OK && k && v);
        FUZZ_ASSERT(rh_weights_meta(w, k) != NULL);
    }
    const char *k, *v;
    FUZZ_ASSERT(rh_weights_meta_at(w, nm, &k, &v) != RH_OK);
    load_all(w);
    describe(w);
    rh_weights_close(w);
    return 0;
}
