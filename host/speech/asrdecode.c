#include "asrdecode.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "hostlog.h"

#define READ_BLOCK 8192
/* Voice activity: energies of 10 ms frames; speech rises VAD_RISE_DB (or a fifth of the way from the noise
 * floor to the loud end, when that is more) above the chunk's floor, its 10th percentile; a burst shorter
 * than VAD_MIN_SPEECH, or whose loudest frame stays VAD_QUIET_DB under the chunk's loud end (its 95th
 * percentile: a click, a breath, a door), is not speech; an utterance is decoded with up to VAD_MARGIN of
 * the silence around it, as a training clip has some. */
#define VAD_FRAMES_PER_SECOND 100
#define VAD_RISE_DB 10.0f
#define VAD_QUIET_DB 25.0f
#define VAD_DIGITAL_SILENCE_DB -90.0f
#define VAD_MIN_SPEECH 0.06
#define VAD_MARGIN 0.2
/* A phrase less likely than the best unrestricted answer by this many nats (a factor of about 150) is
 * rejected. */
#define ASR_REJECT_NATS 5.0

struct asr_session {
    const asr_model *m;
    asr_decode_opts o;
    spectrogram *sp;
    size_t cap;    /* samples per chunk */
    uint32_t Tcap; /* model steps per chunk */
    float *buf, *mel, *x, *logits, *ws[2], *scratch;
    double *align;
    int32_t *labels;
    uint32_t *starts, *ends;
    float *conf;
    float *energy, *sorted; /* voice activity: dB of each 10 ms frame of the chunk, and a sorted copy */
    size_t *runs;           /* speech runs [runs[2k], runs[2k+1]) of frames */
    size_t hop;             /* samples per frame */
};

asr_session *asr_session_new(const asr_model *m, const asr_decode_opts *o, char *err, size_t err_len)
{
    asr_session *s = calloc(1, sizeof *s);
    if (!s) {
        host_fmt(err, err_len, "out of memory");
        return NULL;
    }
    s->m = m;
    s->o = *o;
    if (!(s->o.chunk_seconds > 0))
        s->o.chunk_seconds = 30.0;
    if (!(s->o.segment_gap > 0))
        s->o.segment_gap = 0.8;
    if (!(s->o.min_pause > 0))
        s->o.min_pause = 0.3;
    if (s->o.reject_below < 0)
        s->o.reject_below = m->words ? ASR_REJECT_WORDS : 0;
    s->cap = (size_t)(s->o.chunk_seconds * m->fe.sample_rate);
    if (s->cap < (size_t)m->fe.win_length * 4)
        s->cap = (size_t)m->fe.win_length * 4;
    s->Tcap = (uint32_t)asr_steps_for(m, s->cap) + 1;
    const size_t K = m->spec.output_dim, frames = (size_t)s->Tcap * m->stack + m->stack + 2;
    if (!(s->sp = spec_new(&m->fe, err, err_len))) {
        free(s);
        return NULL;
    }
    s->buf = malloc((s->cap + READ_BLOCK) * sizeof *s->buf);
    s->mel = malloc(frames * (size_t)m->fe.n_mels * sizeof *s->mel);
    s->x = malloc((size_t)s->Tcap * asr_input_dim(m) * sizeof *s->x);
    s->logits = malloc((size_t)s->Tcap * K * sizeof *s->logits);
    for (int d = 0; d < asr_dirs(m); d++)
        s->ws[d] = malloc(asr_workspace_size(m, s->Tcap, 1) * sizeof(float));
    s->scratch = malloc(asr_scratch_size(m, s->Tcap, 1) * sizeof(float));
    s->align = malloc(rh_ctc_align_scratch_size(s->Tcap, s->Tcap, (uint32_t)K) * sizeof(double));
    s->labels = malloc(2 * ((size_t)s->Tcap + 1) * sizeof *s->labels); /* the second half for the unrestricted beam */
    s->starts = malloc(((size_t)s->Tcap + 1) * sizeof *s->starts);
    s->ends = malloc(((size_t)s->Tcap + 1) * sizeof *s->ends);
    s->conf = malloc(((size_t)s->Tcap + 1) * sizeof *s->conf);
    s->hop = (size_t)m->fe.sample_rate / VAD_FRAMES_PER_SECOND;
    if (s->hop == 0)
        s->hop = 1;
    const size_t nf = (s->cap + READ_BLOCK) / s->hop + 2;
    s->energy = malloc(nf * sizeof *s->energy);
    s->sorted = malloc(nf * sizeof *s->sorted);
    s->runs = malloc((nf + 2) * sizeof *s->runs);
    if (!s->buf || !s->mel || !s->x || !s->logits || !s->ws[0] || (m->bidirectional && !s->ws[1]) || !s->scratch ||
        !s->align || !s->labels || !s->starts || !s->ends || !s->conf || !s->energy || !s->sorted || !s->runs) {
        host_fmt(err, err_len, "out of memory for %.0f s chunks", s->o.chunk_seconds);
        asr_session_free(s);
        return NULL;
    }
    return s;
}

void asr_session_free(asr_session *s)
{
    if (!s)
        return;
    spec_free(s->sp);
    free(s->buf), free(s->mel), free(s->x), free(s->logits), free(s->ws[0]), free(s->ws[1]), free(s->scratch);
    free(s->align), free(s->labels), free(s->starts), free(s->ends), free(s->conf);
    free(s->energy), free(s->sorted), free(s->runs);
    free(s);
}

void tx_result_free(tx_result *r)
{
    for (uint32_t i = 0; i < r->n_words; i++)
        free(r->words[i].text);
    for (uint32_t i = 0; i < r->n_segments; i++)
        free(r->segments[i].text);
    for (uint32_t i = 0; i < r->n_rejected; i++)
        free(r->rejected[i].text);
    free(r->words), free(r->segments), free(r->file), free(r->text), free(r->rejected);
    memset(r, 0, sizeof *r);
}

/* Appends a word; 0 or -1 (out of memory). */
static int add_word(tx_result *r, uint32_t *cap, char *text, int64_t start, int64_t end, float conf)
{
    if (r->n_words == *cap) {
        uint32_t c = *cap ? *cap * 2 : 64;
        tx_word *g = realloc(r->words, c * sizeof *g);
        if (!g)
            return -1;
        r->words = g, *cap = c;
    }
    r->words[r->n_words++] = (tx_word){text, start, end, conf, 0};
    return 0;
}

/* Words of one chunk's logits (T steps), times offset by the chunk's first sample. */
static int decode_chunk(asr_session *s, tx_result *r, uint32_t *cap, uint32_t T, size_t n, size_t offset)
{
    const asr_model *m = s->m;
    const uint32_t K = m->spec.output_dim;
    uint32_t L = 0;
    if (s->o.beam_size > 1 || s->o.phrases) {
        const uint32_t beam = s->o.beam_size ? s->o.beam_size : 1;
        double lp, lp_free;
        rh_status st = rh_ctc_beam(s->labels, &L, &lp, s->logits, s->o.phrases, beam, T + 1, T, K, 0);
        if (st == RH_OK && s->o.phrases && L > 0) {
            /* the best allowed phrase must be about as likely as the best answer overall: otherwise the
             * recording says something else, and it is rejected rather than forced into a phrase */
            uint32_t Lf;
            st = rh_ctc_beam(s->labels + T + 1, &Lf, &lp_free, s->logits, NULL, beam, T + 1, T, K, 0);
            if (st == RH_OK && lp < lp_free - ASR_REJECT_NATS)
                L = 0;
        }
        if (st != RH_OK) {
            host_fmt(r->error, sizeof r->error, "beam search failed: %s", rh_strerror(st));
            return -1;
        }
    } else {
        L = rh_ctc_greedy(s->labels, NULL, NULL, NULL, s->logits, T, K, 0);
    }
    if (L == 0)
        return 0;
    if (!isfinite(rh_ctc_align(s->starts, s->ends, s->conf, s->logits, s->labels, L, T, K, 0, s->align))) {
        host_fmt(r->error, sizeof r->error, "internal error: no alignment for the decoded labels");
        return -1;
    }
    const double rate = m->fe.sample_rate, step = (double)m->stack * m->fe.hop_length, pad = (double)asr_pad_length(m);
    /* a position in the padded chunk, in ms of the recording: the padding is outside it */
#define MS(samples) ((int64_t)llround(((double)offset + fmin(fmax((samples) - pad, 0.0), (double)n)) * 1000.0 / rate))
    for (uint32_t i = 0; i < L;) {
        /* a word: one unit (word units), or a run of characters up to a space */
        uint32_t j = i + 1;
        if (!m->words) {
            if (strcmp(m->units[s->labels[i] - 1], " ") == 0) {
                i++;
                continue;
            }
            while (j < L && strcmp(m->units[s->labels[j] - 1], " ") != 0)
                j++;
        }
        size_t len = 1;
        double conf = 0;
        for (uint32_t k = i; k < j; k++)
            len += strlen(m->units[s->labels[k] - 1]), conf += s->conf[k];
        char *text = malloc(len);
        if (!text)
            return -1;
        text[0] = '\0';
        for (uint32_t k = i; k < j; k++)
            strcat(text, m->units[s->labels[k] - 1]);
        const int64_t start = MS(s->starts[i] * step), end = MS((s->ends[j - 1] + 1) * step);
        if (add_word(r, cap, text, start, end, (float)(conf / (j - i))) != 0) {
            free(text);
            return -1;
        }
        i = j;
    }
#undef MS
    return 0;
}

/* Where to end a full chunk of n samples: the centre of its quietest 100 ms in the last third. */
static size_t cut_point(const float *x, size_t n, int rate)
{
    const size_t w = (size_t)rate / 10, from = n - n / 3;
    size_t best = n;
    double best_e = INFINITY;
    for (size_t a = from; a + w <= n; a += w / 2) {
        double e = 0;
        for (size_t k = a; k < a + w; k++)
            e += (double)x[k] * x[k];
        if (e < best_e)
            best_e = e, best = a + w / 2;
    }
    return best;
}

/* The words [first, r->n_words), one utterance's, taken back into r's rejected list when the least confident
 * of them is below the threshold. 0, or -1 when memory runs out. */
static int reject_utterance(const asr_session *s, tx_result *r, uint32_t first)
{
    if (!(s->o.reject_below > 0) || first >= r->n_words)
        return 0;
    float least = 1;
    size_t len = 1;
    for (uint32_t i = first; i < r->n_words; i++)
        least = fminf(least, r->words[i].confidence), len += strlen(r->words[i].text) + 1;
    if (least >= s->o.reject_below)
        return 0;
    tx_rejected *g = realloc(r->rejected, (r->n_rejected + 1) * sizeof *g);
    char *text = malloc(len);
    if (!g || !text) {
        free(text);
        if (g)
            r->rejected = g;
        return -1;
    }
    r->rejected = g;
    text[0] = '\0';
    for (uint32_t i = first; i < r->n_words; i++) {
        strcat(strcat(text, i > first ? " " : ""), r->words[i].text);
        free(r->words[i].text);
    }
    const tx_rejected x = {r->words[first].start_ms, r->words[r->n_words - 1].end_ms, text, least};
    r->rejected[r->n_rejected++] = x;
    r->n_words = first;
    return 0;
}

/* Decodes the n samples at x, which start offset samples into the recording. */
static int run_chunk(asr_session *s, tx_result *r, uint32_t *cap, const float *x, size_t n, size_t offset)
{
    const size_t T = asr_features(s->x, s->mel, s->sp, s->m, x, n);
    if (T == 0)
        return 0;
    rh_status st = asr_forward(s->m, s->logits, s->ws, s->scratch, NULL, s->x, NULL, (uint32_t)T, 1, NULL);
    if (st != RH_OK) {
        host_fmt(r->error, sizeof r->error, "the model failed: %s", rh_strerror(st));
        return -1;
    }
    return decode_chunk(s, r, cap, (uint32_t)T, n, offset);
}

/* CTC puts a word on one or two frames (a spike), well inside the word: each word is widened by up to
 * 100 ms before and 250 ms after, never into its neighbours' spikes or past the ends of the recording. */
static void widen_words(tx_result *r)
{
    const int64_t total = (int64_t)(r->duration * 1000.0 + 0.5);
    int64_t prev_end = 0;
    for (uint32_t i = 0; i < r->n_words; i++) {
        tx_word *w = &r->words[i];
        const int64_t next = i + 1 < r->n_words ? r->words[i + 1].start_ms : total;
        if (w->placed) {
            prev_end = w->end_ms;
            continue;
        }
        const int64_t a = w->start_ms - 100, b = w->end_ms + 250;
        if (a > prev_end)
            w->start_ms = a;
        else if (prev_end < w->start_ms)
            w->start_ms = prev_end;
        if (b < next)
            w->end_ms = b;
        else if (next > w->end_ms)
            w->end_ms = next;
        prev_end = w->end_ms;
    }
}

/* Segments from the words, and the text. */
static int finish(asr_session *s, tx_result *r, const uint32_t *chunk_first, uint32_t n_chunks)
{
    widen_words(r);
    size_t len = 1;
    for (uint32_t i = 0; i < r->n_words; i++)
        len += strlen(r->words[i].text) + 1;
    if (!(r->text = malloc(len)))
        return -1;
    r->text[0] = '\0';
    if (r->n_words && !(r->segments = calloc(r->n_words, sizeof *r->segments)))
        return -1;
    const int64_t gap = (int64_t)(s->o.segment_gap * 1000.0);
    uint32_t c = 0;
    char *p = r->text;
    for (uint32_t i = 0; i < r->n_words; i++) {
        const tx_word *w = &r->words[i];
        int chunk_start = 0;
        while (c < n_chunks && chunk_first[c] <= i)
            chunk_start |= chunk_first[c++] == i;
        if (i == 0 || chunk_start || w->start_ms - r->words[i - 1].end_ms >= gap) {
            tx_segment *sg = &r->segments[r->n_segments++];
            sg->first_word = i, sg->start_ms = w->start_ms;
        }
        tx_segment *sg = &r->segments[r->n_segments - 1];
        sg->n_words++, sg->end_ms = w->end_ms;
        sg->confidence += w->confidence;
        p += sprintf(p, "%s%s", i ? " " : "", w->text);
    }
    for (uint32_t k = 0; k < r->n_segments; k++) {
        tx_segment *sg = &r->segments[k];
        size_t sl = 1;
        for (uint32_t i = 0; i < sg->n_words; i++)
            sl += strlen(r->words[sg->first_word + i].text) + 1;
        if (!(sg->text = malloc(sl)))
            return -1;
        char *q = sg->text;
        *q = '\0';
        for (uint32_t i = 0; i < sg->n_words; i++)
            q += sprintf(q, "%s%s", i ? " " : "", r->words[sg->first_word + i].text);
        sg->confidence /= (float)sg->n_words;
    }
    return 0;
}

/* Notes that a decoded piece (an utterance or a chunk) starts at word `at`: segments never span two. 0, or
 * -1 when memory runs out. */
static int mark_piece(uint32_t **first, uint32_t *n, uint32_t *cap, uint32_t at)
{
    if (*n == *cap) {
        const uint32_t c = *cap ? *cap * 2 : 16;
        uint32_t *g = realloc(*first, c * sizeof *g);
        if (!g)
            return -1;
        *first = g, *cap = c;
    }
    (*first)[(*n)++] = at;
    return 0;
}

/* ---- voice activity ------------------------------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The dB of every whole frame of x[0..n) into s->energy; returns how many, and the speech threshold. */
static size_t frame_energies(asr_session *s, const float *x, size_t n, float *threshold, float *loud_end)
{
    const size_t nf = n / s->hop;
    for (size_t f = 0; f < nf; f++) {
        double e = 0;
        for (size_t k = f * s->hop; k < (f + 1) * s->hop; k++)
            e += (double)x[k] * x[k];
        s->energy[f] = (float)(10.0 * log10(e / (double)s->hop + 1e-10));
    }
    *threshold = INFINITY, *loud_end = INFINITY;
    /* the floor and the loud end of what was recorded: digital silence (inserted, or a muted input) is
     * left out, or it would make a recording's own noise look like speech */
    size_t ns = 0;
    for (size_t f = 0; f < nf; f++)
        if (s->energy[f] > VAD_DIGITAL_SILENCE_DB)
            s->sorted[ns++] = s->energy[f];
    if (ns == 0)
        return nf;
    qsort(s->sorted, ns, sizeof *s->sorted, cmp_float);
    const float floor = s->sorted[ns / 10], loud = s->sorted[ns - 1 - ns / 20];
    *threshold = floor + fmaxf(VAD_RISE_DB, 0.2f * (loud - floor));
    *loud_end = loud;
    return nf;
}

/* The utterances of frames [0, nf): runs of speech frames, those closer than min_pause joined, those
 * shorter than VAD_MIN_SPEECH or quieter than loud - VAD_QUIET_DB dropped, into s->runs as [start, end)
 * pairs. Returns how many. */
static size_t find_utterances(asr_session *s, size_t nf, float threshold, float loud)
{
    const size_t pause = (size_t)(s->o.min_pause * VAD_FRAMES_PER_SECOND + 0.5);
    const size_t shortest = (size_t)(VAD_MIN_SPEECH * VAD_FRAMES_PER_SECOND + 0.5);
    size_t k = 0;
    for (size_t f = 0; f < nf;) {
        if (!(s->energy[f] > threshold)) {
            f++;
            continue;
        }
        size_t e = f;
        while (e < nf && s->energy[e] > threshold)
            e++;
        if (k > 0 && f - s->runs[2 * k - 1] < pause)
            s->runs[2 * k - 1] = e; /* a short pause inside one utterance */
        else
            s->runs[2 * k] = f, s->runs[2 * k + 1] = e, k++;
        f = e;
    }
    size_t kept = 0;
    for (size_t u = 0; u < k; u++) {
        float peak = -INFINITY;
        for (size_t f = s->runs[2 * u]; f < s->runs[2 * u + 1]; f++)
            peak = fmaxf(peak, s->energy[f]);
        if (s->runs[2 * u + 1] - s->runs[2 * u] >= shortest && peak >= loud - VAD_QUIET_DB)
            s->runs[2 * kept] = s->runs[2 * u], s->runs[2 * kept + 1] = s->runs[2 * u + 1], kept++;
    }
    return kept;
}

/* The words [first, r->n_words) of an utterance whose speech is frames [a, b) of the chunk (which starts
 * offset samples into the recording), placed on the speech: the first starts at a, the last ends at b, and
 * two neighbours part where the speech pauses between their spikes (or at its quietest frame there). */
static void place_words(asr_session *s, tx_result *r, uint32_t first, size_t a, size_t b, size_t offset,
                        float threshold)
{
    const double rate = s->m->fe.sample_rate;
    /* frames of the chunk and ms of the recording, both ways */
#define FRAME_OF(ms) ((double)(ms) * rate / 1000.0 - (double)offset) / (double)s->hop
#define MS_OF(frame) ((int64_t)llround(((double)offset + (double)(frame) * (double)s->hop) * 1000.0 / rate))
    size_t prev_end = a;
    for (uint32_t i = first; i < r->n_words; i++) {
        tx_word *w = &r->words[i];
        size_t start = prev_end, end = b;
        if (i + 1 < r->n_words) {
            /* from this word's spike to the next one's, inside the speech */
            const double lo = fmax(FRAME_OF(w->end_ms), (double)start);
            const double hi = fmin(FRAME_OF(r->words[i + 1].start_ms), (double)b);
            size_t f0 = (size_t)lo, f1 = hi > lo ? (size_t)hi : f0;
            size_t quiet = f0, pause_at = SIZE_MAX, pause_end = f0;
            for (size_t f = f0; f < f1 && f < b; f++) {
                if (s->energy[f] < s->energy[quiet])
                    quiet = f;
                if (!(s->energy[f] > threshold)) {
                    if (pause_at == SIZE_MAX)
                        pause_at = f;
                    pause_end = f + 1;
                }
            }
            end = pause_at != SIZE_MAX ? pause_at : quiet;
            prev_end = pause_at != SIZE_MAX ? pause_end : quiet;
        }
        w->start_ms = MS_OF(start);
        w->end_ms = MS_OF(end > start ? end : start + 1);
        w->placed = 1;
    }
#undef FRAME_OF
#undef MS_OF
}

/* What a full chunk of n samples (or the last, at eof) gives: its complete utterances decoded one by one.
 * Returns the samples used up (the rest starts the next chunk), or -1 on a failure in r. */
static long run_utterances(asr_session *s, tx_result *r, uint32_t *cap, size_t n, size_t offset, int eof,
                           uint32_t **chunk_first, uint32_t *n_chunks, uint32_t *chunk_cap)
{
    float threshold, loud;
    const size_t nf = frame_energies(s, s->buf, n, &threshold, &loud), nu = find_utterances(s, nf, threshold, loud);
    const size_t margin = (size_t)(VAD_MARGIN * VAD_FRAMES_PER_SECOND);
    const size_t pause = (size_t)(s->o.min_pause * VAD_FRAMES_PER_SECOND);
    size_t used = 0;
    for (size_t u = 0; u < nu; u++) {
        const size_t a = s->runs[2 * u], b = s->runs[2 * u + 1];
        if (!eof && b + pause > nf)
            break; /* it may go on in what is still to be read */
        /* the margins: shared with the neighbours at most halfway, and without digital silence, which no
         * recording the model learnt from has */
        size_t before = u > 0 ? (a - s->runs[2 * u - 1]) / 2 : a;
        size_t after = u + 1 < nu ? (s->runs[2 * u + 2] - b) / 2 : nf - b;
        before = before < margin ? before : margin, after = after < margin ? after : margin;
        for (size_t k = 1; k <= before; k++)
            if (!(s->energy[a - k] > VAD_DIGITAL_SILENCE_DB)) {
                before = k - 1;
                break;
            }
        for (size_t k = 0; k < after; k++)
            if (!(s->energy[b + k] > VAD_DIGITAL_SILENCE_DB)) {
                after = k;
                break;
            }
        const size_t lo = (a - before) * s->hop > used ? (a - before) * s->hop : used;
        const size_t hi = u + 1 == nu && eof && after == nf - b ? n : (b + after) * s->hop;
        const uint32_t first = r->n_words;
        if (mark_piece(chunk_first, n_chunks, chunk_cap, first) != 0 ||
            run_chunk(s, r, cap, s->buf + lo, hi - lo, offset + lo) != 0)
            return -1;
        place_words(s, r, first, a, b, offset, threshold);
        if (reject_utterance(s, r, first) != 0)
            return -1;
        used = hi;
    }
    if (eof)
        return (long)n;
    if (used > 0)
        return (long)used;
    /* nothing complete in a full chunk: silence, which goes but for a margin; or speech starting late, which
     * waits for the next read; or speech all through, which is cut as before */
    if (nu == 0)
        return (long)(n > margin * s->hop ? n - margin * s->hop : 0);
    if (s->runs[0] > margin)
        return (long)((s->runs[0] - margin) * s->hop);
    return 0;
}

/* The chunk loop over any sample source: read(ctx, out, max) returns samples, 0 at the end, -1 on error. */
typedef long (*sample_source)(void *ctx, float *out, size_t max, char *err, size_t err_len);

static int transcribe_source(asr_session *s, tx_result *r, sample_source read, void *ctx)
{
    uint32_t cap = 0, n_chunks = 0, chunk_cap = 0, *chunk_first = NULL;
    size_t n = 0, offset = 0;
    int eof = 0, rc = -1;
    while (!eof || n > 0) {
        while (!eof && n < s->cap) {
            size_t want = s->cap - n < READ_BLOCK ? s->cap - n : READ_BLOCK;
            long got = read(ctx, s->buf + n, want, r->error, sizeof r->error);
            if (got < 0)
                goto done;
            if (got == 0)
                eof = 1;
            n += (size_t)got;
        }
        size_t use = 0;
        if (!s->o.no_vad) {
            const long got = run_utterances(s, r, &cap, n, offset, eof, &chunk_first, &n_chunks, &chunk_cap);
            if (got < 0) {
                if (!r->error[0])
                    goto oom;
                goto done;
            }
            use = (size_t)got;
        }
        if (use == 0 && n > 0) { /* whole chunks: without voice activity, or speech that fills a chunk */
            use = eof ? n : cut_point(s->buf, n, s->m->fe.sample_rate);
            if (mark_piece(&chunk_first, &n_chunks, &chunk_cap, r->n_words) != 0)
                goto oom;
            /* no rejection here: a whole chunk is not an utterance, and one unsure word would silence it all */
            if (run_chunk(s, r, &cap, s->buf, use, offset) != 0) {
                if (!r->error[0])
                    goto oom;
                goto done;
            }
        }
        memmove(s->buf, s->buf + use, (n - use) * sizeof *s->buf);
        offset += use, n -= use;
    }
    r->duration = (double)offset / s->m->fe.sample_rate;
    if (finish(s, r, chunk_first, n_chunks) != 0)
        goto oom;
    rc = 0;
    goto done;
oom:
    host_fmt(r->error, sizeof r->error, "out of memory");
done:
    free(chunk_first);
    if (rc != 0)
        r->failed = 1;
    return rc;
}

static long read_audio(void *ctx, float *out, size_t max, char *err, size_t err_len)
{
    return audio_read(ctx, out, max, err, err_len);
}

int asr_transcribe(asr_session *s, tx_result *r, const char *path)
{
    if (!(r->file = strdup(path))) {
        r->failed = 1;
        host_fmt(r->error, sizeof r->error, "out of memory");
        return -1;
    }
    audio_reader *ar = audio_open(path, s->m->fe.sample_rate, 0, r->error, sizeof r->error);
    if (!ar) {
        r->failed = 1;
        return -1;
    }
    int rc = transcribe_source(s, r, read_audio, ar);
    audio_close(ar);
    return rc;
}

typedef struct mem_source {
    const float *x;
    size_t n, pos;
} mem_source;

static long read_memory(void *ctx, float *out, size_t max, char *err, size_t err_len)
{
    (void)err, (void)err_len;
    mem_source *m = ctx;
    size_t k = m->n - m->pos < max ? m->n - m->pos : max;
    memcpy(out, m->x + m->pos, k * sizeof *out);
    m->pos += k;
    return (long)k;
}

int asr_transcribe_samples(asr_session *s, tx_result *r, const float *x, size_t n)
{
    mem_source src = {x, n, 0};
    return transcribe_source(s, r, read_memory, &src);
}

int asr_decode_logits(tx_result *r, const asr_model *m, const asr_decode_opts *o, const float *logits, uint32_t T)
{
    // A session holding only what decode_chunk and finish use: no spectrogram, no model workspaces.
    asr_session s = {.m = m, .o = *o, .Tcap = T};
    uint32_t cap = 0, first = 0;
    int rc = -1;
    if (!(s.o.segment_gap > 0))
        s.o.segment_gap = 0.8;
    if (T == 0 || T > UINT32_MAX / 2 - 1) {
        host_fmt(r->error, sizeof r->error, "%u steps of logits", T);
        r->failed = 1;
        return -1;
    }
    s.logits = (float *)logits; /* only read */
    s.align = malloc(rh_ctc_align_scratch_size(T, T, m->spec.output_dim) * sizeof(double));
    s.labels = malloc(2 * ((size_t)T + 1) * sizeof *s.labels);
    s.starts = malloc(((size_t)T + 1) * sizeof *s.starts);
    s.ends = malloc(((size_t)T + 1) * sizeof *s.ends);
    s.conf = malloc(((size_t)T + 1) * sizeof *s.conf);
    if (!s.align || !s.labels || !s.starts || !s.ends || !s.conf) {
        host_fmt(r->error, sizeof r->error, "out of memory");
        goto done;
    }
    r->error[0] = '\0';
    /* the recording the logits stand for: their steps less the front-end's padding */
    const size_t span = (size_t)T * m->stack * (size_t)m->fe.hop_length, pad = 2 * asr_pad_length(m);
    const size_t n = span > pad ? span - pad : 0;
    if (decode_chunk(&s, r, &cap, T, n, 0) != 0) {
        if (!r->error[0])
            host_fmt(r->error, sizeof r->error, "out of memory");
        goto done;
    }
    r->duration = (double)n / m->fe.sample_rate;
    if (finish(&s, r, &first, 1) != 0) {
        host_fmt(r->error, sizeof r->error, "out of memory");
        goto done;
    }
    rc = 0;
done:
    free(s.align), free(s.labels), free(s.starts), free(s.ends), free(s.conf);
    if (rc != 0)
        r->failed = 1;
    return rc;
}

int asr_phrases_read(rh_ctc_phrases *out, const asr_model *m, const char *path, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        host_fmt(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    int32_t *labels = NULL;
    uint32_t *offsets = malloc(sizeof *offsets), count = 0, ocap = 1;
    size_t lcap = 0, used = 0, line_no = 0;
    char line[4096], why[512];
    int rc = -1;
    if (!offsets)
        goto oom;
    offsets[0] = 0;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        if (!strchr(line, '\n') && !feof(f)) {
            host_fmt(err, err_len, "%s:%zu: a phrase longer than %zu bytes", path, line_no, sizeof line - 2);
            goto done;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[strspn(line, " \t")])
            continue;
        for (char *t = line; *t; t++)
            if (*t == '\t')
                *t = ' ';
        const size_t room = strlen(line) + 1;
        if (used + room > lcap) {
            lcap = (used + room) * 2;
            int32_t *g = realloc(labels, lcap * sizeof *g);
            if (!g)
                goto oom;
            labels = g;
        }
        long k = asr_encode(labels + used, room, m, line, why, sizeof why);
        if (k < 0) {
            host_fmt(err, err_len, "%s:%zu: %s", path, line_no, why);
            goto done;
        }
        used += (size_t)k;
        if (count + 2 > ocap) {
            ocap = (count + 2) * 2;
            uint32_t *g = realloc(offsets, ocap * sizeof *g);
            if (!g)
                goto oom;
            offsets = g;
        }
        offsets[++count] = (uint32_t)used;
    }
    if (count == 0) {
        host_fmt(err, err_len, "%s: no phrases", path);
        goto done;
    }
    out->labels = labels ? labels : malloc(sizeof *labels);
    out->offsets = offsets;
    out->count = count;
    labels = NULL, offsets = NULL;
    rc = out->labels ? 0 : -1;
    goto done;
oom:
    host_fmt(err, err_len, "out of memory");
done:
    fclose(f);
    free(labels);
    free(offsets);
    return rc;
}

void asr_phrases_free(rh_ctc_phrases *p)
{
    free((void *)p->labels);
    free((void *)p->offsets);
    memset(p, 0, sizeof *p);
}
