/* CTC over logits from anywhere: the SDK's loss, greedy decoding, forced alignment and prefix beam
 * search (sdk/src/ctc.c), and the host's words-with-times decoding on top (asr_decode_logits in
 * host/speech/asrdecode.c), fed sizes, labels, phrases and raw floats (NaN and infinities included) from the
 * input.
 *
 * Layout: 8 header bytes (T, C, L, beam, flags, phrase count, two spare), then L label bytes, phrase
 * lengths and phrase labels, then the logits as little-endian floats (missing ones are 0). */
#include <math.h>
#include <string.h>

#include "asrdecode.h"
#include "fuzz.h"
#include "rnnhost/ctc.h"

#define MAX_T 48
#define MAX_C 12
#define MAX_PHRASES 4

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static uint8_t byte(cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

/* A two-unit-or-more model without plugins: what decoding reads of an asr_model. */
static void fake_model(asr_model *m, char **units, char (*store)[4], uint32_t C, int words)
{
    memset(m, 0, sizeof *m);
    m->spec.output_dim = C;
    m->words = words;
    m->n_units = C - 1;
    m->units = units;
    m->stack = 3;
    m->fe = spec_default_settings();
    for (uint32_t i = 0; i + 1 < C; i++) {
        // character units include a space, which separates words
        store[i][0] = i == 1 && !words ? ' ' : (char)('a' + i);
        store[i][1] = '\0';
        units[i] = store[i];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cursor c = {data, size};
    const uint32_t T = byte(&c) % (MAX_T + 1), C = 2 + byte(&c) % (MAX_C - 1);
    uint32_t L = byte(&c) % (MAX_T + 2);
    const uint32_t beam = 1 + byte(&c) % 8;
    const uint8_t flags = byte(&c);
    const uint32_t n_phrases = byte(&c) % (MAX_PHRASES + 1);
    (void)byte(&c), (void)byte(&c);
    const uint32_t blank = flags & 1 ? C - 1 : 0;

    int32_t labels[MAX_T + 2];
    for (uint32_t i = 0; i < L; i++) {
        // mostly valid labels; bit 1 lets raw bytes through, out of range and blank ones included
        const uint8_t b = byte(&c);
        labels[i] = flags & 2 ? (int32_t)(int8_t)b : (int32_t)(blank == 0 ? 1 + b % (C - 1) : b % (C - 1));
    }
    int32_t plabels[MAX_PHRASES * 8];
    uint32_t offsets[MAX_PHRASES + 1] = {0};
    for (uint32_t i = 0; i < n_phrases; i++) {
        const uint32_t len = byte(&c) % 8;
        for (uint32_t j = 0; j < len; j++)
            plabels[offsets[i] + j] = (int32_t)(byte(&c) % (C + 1)); /* C itself and blank are invalid */
        offsets[i + 1] = offsets[i] + len;
    }
    float *logits = calloc((size_t)T * C + 1, sizeof *logits), *dlogits = malloc(((size_t)T * C + 1) * sizeof *dlogits);
    double *scratch = malloc((rh_ctc_scratch_size(L, T, C) + rh_ctc_align_scratch_size(L, T, C)) * sizeof *scratch);
    uint32_t *starts = malloc((L + T + 1) * sizeof *starts), *ends = malloc((L + T + 1) * sizeof *ends);
    float *conf = malloc((L + T + 1) * sizeof *conf);
    int32_t *out = malloc((T + 1) * sizeof *out);
    if (!logits || !dlogits || !scratch || !starts || !ends || !conf || !out)
        goto done;
    for (size_t i = 0; i < (size_t)T * C && c.n >= 4; i++) {
        uint32_t bits = (uint32_t)byte(&c) | (uint32_t)byte(&c) << 8 | (uint32_t)byte(&c) << 16 | (uint32_t)byte(&c) << 24;
        memcpy(&logits[i], &bits, sizeof bits);
    }
    int finite_in = 1;
    for (size_t i = 0; i < (size_t)T * C; i++)
        finite_in &= isfinite(logits[i]) && fabsf(logits[i]) < 1e30f;

    const double loss = rh_ctc_loss(dlogits, logits, labels, L, T, C, blank, 1.0f, scratch);
    int labels_ok = 1;
    for (uint32_t i = 0; i < L; i++)
        labels_ok &= labels[i] >= 0 && (uint32_t)labels[i] < C && (uint32_t)labels[i] != blank;
    if (finite_in && labels_ok)
        FUZZ_ASSERT(!isnan(loss) && loss >= -1e-6);

    uint32_t in_len[1] = {T}, loff[2] = {0, L};
    (void)rh_ctc_loss_batch(NULL, logits, labels, loff, in_len, T, 1, C, blank, 0.5f, scratch);

    const uint32_t g = rh_ctc_greedy(out, starts, ends, conf, logits, T, C, blank);
    FUZZ_ASSERT(g <= T);
    for (uint32_t i = 0; i < g; i++)
        FUZZ_ASSERT(out[i] >= 0 && (uint32_t)out[i] < C && (uint32_t)out[i] != blank && starts[i] <= ends[i] &&
                    ends[i] < T);

    const double lp = rh_ctc_align(starts, ends, conf, logits, labels, L, T, C, blank, scratch);
    if (finite_in && labels_ok && isfinite(lp))
        for (uint32_t i = 0; i < L; i++)
            FUZZ_ASSERT(starts[i] <= ends[i] && ends[i] < T);

    const rh_ctc_phrases ph = {plabels, offsets, n_phrases};
    uint32_t out_len = 0;
    double beam_lp;
    rh_status st = rh_ctc_beam(out, &out_len, &beam_lp, logits, n_phrases ? &ph : NULL, beam, T + 1, T, C, blank);
    if (st == RH_OK)
        FUZZ_ASSERT(out_len <= T);

    // The host's decoding takes blank 0 and valid phrases, as asr_phrases_read makes them.
    if (blank == 0 && T > 0) {
        int phrases_ok = 1;
        for (uint32_t i = 0; i < offsets[n_phrases]; i++)
            phrases_ok &= plabels[i] >= 1 && (uint32_t)plabels[i] < C;
        char *units[MAX_C];
        char store[MAX_C][4];
        asr_model m;
        fake_model(&m, units, store, C, flags & 4);
        asr_decode_opts o = {.beam_size = flags & 8 ? beam : 0, .phrases = n_phrases && phrases_ok ? &ph : NULL};
        tx_result r = {0};
        if (asr_decode_logits(&r, &m, &o, logits, T) == 0) {
            for (uint32_t i = 0; i < r.n_words; i++)
                FUZZ_ASSERT(r.words[i].text && r.words[i].start_ms <= r.words[i].end_ms);
            FUZZ_ASSERT(r.text != NULL);
        } else {
            FUZZ_ASSERT(r.failed && r.error[0]);
        }
        tx_result_free(&r);
    }
done:
    free(logits), free(dlogits), free(scratch), free(starts), free(ends), free(conf), free(out);
    return 0;
}
