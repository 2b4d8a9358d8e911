/* CTC: the loss against brute-force enumeration of every alignment, its gradient against finite
 * differences, long inputs against a long-double reference and a closed form, and the decoders against
 * constructed logits and against the exact most probable labelling found by enumeration. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rnnhost/ctc.h"
#include "rnnhost/gradcheck.h"
#include "rnnhost/rng.h"

enum { MAXT = 6, MAXC = 4, MAXCODE = 15625 }; // MAXCODE = (MAXC + 1)^MAXT labelling codes

static double scratch[1 << 16];

static void random_logits(float *z, size_t n, double sd, rh_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        z[i] = (float)(sd * rh_rng_normal(rng));
}

// A labelling as a number: digits label+1 in base C+1, so different lengths never collide.
static uint32_t code_of(const int32_t *lab, uint32_t L, uint32_t C)
{
    uint32_t code = 0;
    for (uint32_t i = 0; i < L; i++)
        code = code * (C + 1) + (uint32_t)lab[i] + 1;
    return code;
}

/* prob[code] receives the total probability of every labelling, summed over all C^T frame-wise paths:
 * the definition of CTC, with nothing shared with the recursions under test. */
static void enumerate(double *prob, const float *logits, uint32_t T, uint32_t C, uint32_t blank)
{
    double p[MAXT][MAXC];
    for (uint32_t t = 0; t < T; t++) {
        double sum = 0.0;
        for (uint32_t k = 0; k < C; k++)
            sum += exp((double)logits[t * C + k]);
        for (uint32_t k = 0; k < C; k++)
            p[t][k] = exp((double)logits[t * C + k]) / sum;
    }
    memset(prob, 0, MAXCODE * sizeof *prob);
    uint32_t npaths = 1;
    for (uint32_t t = 0; t < T; t++)
        npaths *= C;
    for (uint32_t path = 0; path < npaths; path++) {
        int32_t lab[MAXT];
        uint32_t L = 0, rest = path;
        double pr = 1.0;
        int32_t prev = -1;
        for (uint32_t t = 0; t < T; t++) {
            const int32_t k = (int32_t)(rest % C);
            rest /= C;
            pr *= p[t][k];
            if (k != (int32_t)blank && k != prev)
                lab[L++] = k;
            prev = k;
        }
        prob[code_of(lab, L, C)] += pr;
    }
}

// Negative log-likelihood by the alpha recursion in long double, written independently as a reference.
static long double reference_nll(const float *logits, const int32_t *lab, uint32_t L, uint32_t T, uint32_t C,
                                 uint32_t blank)
{
    const uint32_t S = 2 * L + 1;
    long double *a = calloc(S, sizeof *a), *b = calloc(S, sizeof *b), *lp = calloc(C, sizeof *lp);
    long double result = NAN;
    if (!a || !b || !lp)
        goto out;
    for (uint32_t t = 0; t < T; t++) {
        long double m = -INFINITY, sum = 0.0L;
        for (uint32_t k = 0; k < C; k++)
            m = fmaxl(m, logits[t * C + k]);
        for (uint32_t k = 0; k < C; k++)
            sum += expl((long double)logits[t * C + k] - m);
        for (uint32_t k = 0; k < C; k++)
            lp[k] = (long double)logits[t * C + k] - m - logl(sum);
        for (uint32_t s = 0; s < S; s++) {
            const uint32_t sym = s % 2 ? (uint32_t)lab[s / 2] : blank;
            long double terms[3];
            int n = 0;
            if (t == 0) {
                if (s < 2)
                    terms[n++] = 0.0L;
            } else {
                terms[n++] = a[s];
                if (s >= 1)
                    terms[n++] = a[s - 1];
                if (s >= 2 && s % 2 && lab[s / 2] != lab[s / 2 - 1])
                    terms[n++] = a[s - 2];
            }
            long double m2 = -INFINITY, acc = 0.0L;
            for (int i = 0; i < n; i++)
                m2 = fmaxl(m2, terms[i]);
            for (int i = 0; i < n && m2 > -INFINITY; i++)
                acc += expl(terms[i] - m2);
            b[s] = (n == 0 || m2 == -INFINITY) ? -INFINITY : m2 + logl(acc) + lp[sym];
        }
        memcpy(a, b, S * sizeof *a);
    }
    {
        long double x = a[S - 1], y = S > 1 ? a[S - 2] : -INFINITY, m = fmaxl(x, y);
        result = -(m + logl(expl(x - m) + expl(y - m)));
    }
out:
    free(a);
    free(b);
    free(lp);
    return result;
}

typedef struct {
    const int32_t *labels;
    uint32_t L, T, C, blank;
    float scale;
    float grad[MAXT * MAXC];
} loss_ctx;

static double loss_fn(void *vctx, const float *v, float *grad)
{
    loss_ctx *c = vctx;
    double l = rh_ctc_loss(grad ? c->grad : NULL, v, c->labels, c->L, c->T, c->C, c->blank, c->scale, scratch);
    if (grad)
        for (uint32_t i = 0; i < c->T * c->C; i++)
            grad[i] += c->grad[i];
    return c->scale * l;
}

static void test_against_enumeration(rh_rng *rng)
{
    static double prob[MAXCODE];
    // Fixed cases a person can read: empty, repeats that need a blank between, and alternations.
    static const int32_t fixed[][4] = {{1, 1, -1, -1}, {1, 2, 1, -1}, {2, 2, 2, -1}, {1, -1, -1, -1}, {1, 2, 2, 1}};
    int compared = 0, infinite = 0;
    for (int trial = 0; trial < 60; trial++) {
        const uint32_t T = 1 + (uint32_t)rh_rng_below(rng, MAXT), C = 2 + (uint32_t)rh_rng_below(rng, MAXC - 1);
        const uint32_t blank = trial % 2 ? 0 : C - 1;
        float logits[MAXT * MAXC];
        random_logits(logits, (size_t)T * C, 1.5, rng);
        enumerate(prob, logits, T, C, blank);
        double total = 0.0;
        for (uint32_t i = 0; i < MAXCODE; i++)
            total += prob[i];
        CHECK_NEAR(total, 1.0, 1e-12);

        int32_t lab[MAXT];
        uint32_t L = 0;
        const int f = trial % 6;
        if (f < 5) { // a fixed shape, mapped onto this trial's non-blank symbols
            for (; L < 4 && fixed[f][L] >= 0; L++)
                lab[L] = (int32_t)(((uint32_t)fixed[f][L] - 1) % (C - 1)) + (blank == 0 ? 1 : 0);
        } else { // random, possibly empty, possibly longer than fits
            L = (uint32_t)rh_rng_below(rng, T + 1);
            for (uint32_t i = 0; i < L; i++)
                lab[i] = (int32_t)rh_rng_below(rng, C - 1) + (blank == 0 ? 1 : 0);
        }
        const double want = prob[code_of(lab, L, C)];
        const double got = rh_ctc_loss(NULL, logits, lab, L, T, C, blank, 1.0f, scratch);
        if (want == 0.0) {
            CHECK(got == INFINITY, "trial %d: T=%u L=%u has no alignment, loss %g", trial, T, L, got);
            infinite++;
        } else {
            CHECK(fabs(got + log(want)) <= 1e-9 * (1.0 + fabs(got)), "trial %d (T=%u C=%u L=%u blank=%u): loss %.12g, enumeration %.12g",
                  trial, T, C, L, blank, got, -log(want));
            compared++;
        }
        // The empty labelling: only the all-blank path.
        const double empty = rh_ctc_loss(NULL, logits, lab, 0, T, C, blank, 1.0f, scratch);
        CHECK(fabs(empty + log(prob[0])) <= 1e-9 * (1.0 + fabs(empty)), "empty labelling %.12g vs %.12g", empty, -log(prob[0]));
    }
    // Both branches must have been exercised, or the comparison above says little.
    CHECK(compared >= 30 && infinite >= 3, "compared %d, infinite %d", compared, infinite);
}

static void test_gradient(rh_rng *rng)
{
    static const int32_t label_sets[][3] = {{1, 1, 2}, {2, 1, 2}, {3, 3, 3}};
    static const uint32_t lengths[] = {3, 2, 2, 1, 0};
    rh_gradcheck_result res;
    for (int trial = 0; trial < 10; trial++) {
        const uint32_t T = MAXT, C = MAXC;
        float logits[MAXT * MAXC], g[MAXT * MAXC];
        random_logits(logits, T * C, 2.0, rng);
        loss_ctx ctx = {label_sets[trial % 3], lengths[trial % 5], T, C, 0, (float)(0.2 + rh_rng_uniform(rng)), {0}};
        rh_status st = rh_gradcheck(&res, loss_fn, &ctx, logits, T * C, g, 0, T * C, 0, 1e-2f, 1e-4, 2e-3, NULL);
        CHECK(st == RH_OK && res.checked == T * C, "trial %d L=%u: index %llu analytic %g numeric %g", trial, ctx.L,
              (unsigned long long)res.worst_index, res.analytic, res.numeric);
        // softmax and the occupancy both sum to one over symbols, so every gradient row sums to zero
        rh_ctc_loss(g, logits, ctx.labels, ctx.L, T, C, 0, 1.0f, scratch);
        for (uint32_t t = 0; t < T; t++) {
            double row = 0.0;
            for (uint32_t k = 0; k < C; k++)
                row += g[t * C + k];
            CHECK_NEAR(row, 0.0, 1e-6);
        }
    }
}

static void test_too_short_and_invalid(void)
{
    float logits[3 * 4] = {0}, d[3 * 4];
    const int32_t aa[2] = {2, 2}, abc[4] = {1, 2, 3, 1}, bad[1] = {0};
    for (int i = 0; i < 12; i++)
        d[i] = 7.0f;
    CHECK(rh_ctc_loss(d, logits, aa, 2, 2, 4, 0, 1.0f, scratch) == INFINITY, "\"a a\" needs 3 frames");
    int zero = 1;
    for (int i = 0; i < 8; i++)
        zero &= d[i] == 0.0f;
    CHECK(zero, "gradient zeroed when infinite");
    // Three frames fit "a a" in exactly one way: a, blank, a; with uniform logits its probability is 4^-3.
    CHECK_NEAR(rh_ctc_loss(d, logits, aa, 2, 3, 4, 0, 1.0f, scratch), 3.0 * log(4.0), 1e-12);
    CHECK(rh_ctc_loss(NULL, logits, abc, 4, 3, 4, 0, 1.0f, scratch) == INFINITY, "4 labels in 3 frames");
    CHECK(isnan(rh_ctc_loss(d, logits, bad, 1, 3, 4, 0, 1.0f, scratch)), "label equal to blank");
    CHECK(isnan(rh_ctc_loss(d, logits, abc, 1, 3, 4, 4, 1.0f, scratch)), "blank out of range");
    CHECK(rh_ctc_loss(NULL, logits, aa, 0, 0, 4, 0, 1.0f, scratch) == 0.0, "empty input, empty labels");
}

static void test_long_input(rh_rng *rng)
{
    enum { T = 2000, C = 5 };
    static float logits[T * C], d[T * C];
    static double big[T * C + T * 41 + 2 * 41 + C];
    CHECK(rh_ctc_scratch_size(20, T, C) == sizeof big / sizeof big[0], "scratch size %zu",
          rh_ctc_scratch_size(20, T, C));

    /* Equal logits (here 500, far past where exp overflows a float): every path has probability C^-T and
     * one label a has T(T+1)/2 alignments (blank^i a^j blank^k with j >= 1), none labels nothing but one. */
    for (int i = 0; i < T * C; i++)
        logits[i] = 500.0f;
    const int32_t one[1] = {3};
    CHECK_NEAR(rh_ctc_loss(NULL, logits, one, 0, T, C, 0, 1.0f, big), T * log((double)C), 1e-9 * T);
    CHECK_NEAR(rh_ctc_loss(d, logits, one, 1, T, C, 0, 1.0f, big), T * log((double)C) - log(T * (T + 1) / 2.0),
               1e-9 * T);

    // Random large logits, with repeated labels: against the long-double reference, and a finite gradient.
    int32_t lab[20];
    for (int i = 0; i < 20; i++)
        lab[i] = i % 5 == 4 ? lab[i - 1] : 1 + (int32_t)rh_rng_below(rng, C - 1);
    random_logits(logits, T * C, 60.0, rng);
    const double got = rh_ctc_loss(d, logits, lab, 20, T, C, 0, 1.0f, big);
    const long double want = reference_nll(logits, lab, 20, T, C, 0);
    CHECK(isfinite(got) && fabs(got - (double)want) <= 1e-9 * fabs((double)want), "loss %.15g, reference %.15Lg", got,
          want);
    int finite = 1;
    for (int i = 0; i < T * C; i++)
        finite &= isfinite(d[i]) && fabsf(d[i]) <= 1.0f + 1e-5f;
    CHECK(finite, "gradient finite and within [-1, 1]");
}

static void test_batch(rh_rng *rng)
{
    enum { T = 6, B = 3, C = 4 };
    float logits[T * B * C], d[T * B * C], one[T * C], done[T * C];
    const int32_t labels[] = {1, 1, 2, 3, 2};
    const uint32_t offsets[B + 1] = {0, 2, 2, 5}, lengths[B] = {6, 3, 5};
    random_logits(logits, T * B * C, 1.0, rng);
    for (int i = 0; i < T * B * C; i++)
        d[i] = 9.0f;
    const double total = rh_ctc_loss_batch(d, logits, labels, offsets, lengths, T, B, C, 0, 0.5f, scratch);
    double sum = 0.0;
    for (uint32_t b = 0; b < B; b++) {
        for (uint32_t t = 0; t < T; t++)
            memcpy(one + t * C, logits + (t * B + b) * C, C * sizeof *one);
        sum += rh_ctc_loss(done, one, labels + offsets[b], offsets[b + 1] - offsets[b], lengths[b], C, 0, 0.5f, scratch);
        int same = 1;
        for (uint32_t t = 0; t < T; t++)
            for (uint32_t k = 0; k < C; k++)
                same &= d[(t * B + b) * C + k] == (t < lengths[b] ? done[t * C + k] : 0.0f);
        CHECK(same, "batch gradient of sequence %u equals the single one, zero past its length", b);
    }
    CHECK_NEAR(total, sum, 1e-12 * sum);
}

static void test_greedy(void)
{
    enum { T = 10, C = 4 };
    // Frame-wise winners 0 1 1 0 1 2 2 2 0 3 with blank 0: labels 1 1 2 3 (the blank splits the ones).
    static const int winner[T] = {0, 1, 1, 0, 1, 2, 2, 2, 0, 3};
    static const double pwin[T] = {0.9, 0.6, 0.8, 0.7, 0.5, 0.4, 0.9, 0.95, 0.55, 0.7};
    float logits[T * C];
    for (int t = 0; t < T; t++)
        for (int k = 0; k < C; k++)
            logits[t * C + k] = (float)log(k == winner[t] ? pwin[t] : (1.0 - pwin[t]) / (C - 1)) + 3.0f;
    int32_t out[T];
    uint32_t starts[T], ends[T];
    float conf[T];
    const uint32_t n = rh_ctc_greedy(out, starts, ends, conf, logits, T, C, 0);
    static const int32_t want[4] = {1, 1, 2, 3};
    static const uint32_t want_s[4] = {1, 4, 5, 9}, want_e[4] = {2, 4, 7, 9};
    const double want_c[4] = {(0.6 + 0.8) / 2, 0.5, (0.4 + 0.9 + 0.95) / 3, 0.7};
    CHECK(n == 4, "greedy emitted %u labels", n);
    for (uint32_t i = 0; i < 4 && i < n; i++) {
        CHECK(out[i] == want[i] && starts[i] == want_s[i] && ends[i] == want_e[i], "label %u: %d [%u, %u]", i, out[i],
              starts[i], ends[i]);
        CHECK_NEAR(conf[i], want_c[i], 1e-6);
    }
    CHECK(rh_ctc_greedy(NULL, NULL, NULL, NULL, logits, T, C, 0) == 4, "NULL outputs");
    // With blank 2 instead, the winners read 0 1 1 0 1 _ _ _ 0 3: labels 0 1 0 1 0 3.
    const uint32_t m = rh_ctc_greedy(out, NULL, ends, NULL, logits, T, C, 2);
    static const int32_t want2[6] = {0, 1, 0, 1, 0, 3};
    CHECK(m == 6 && memcmp(out, want2, sizeof want2) == 0 && ends[4] == 8, "blank 2: %u labels", m);
}

static void test_beam(rh_rng *rng)
{
    static double prob[MAXCODE];
    for (int trial = 0; trial < 40; trial++) {
        const uint32_t T = 1 + (uint32_t)rh_rng_below(rng, 5), C = 2 + (uint32_t)rh_rng_below(rng, MAXC - 1);
        const uint32_t blank = (uint32_t)rh_rng_below(rng, C);
        float logits[MAXT * MAXC];
        random_logits(logits, (size_t)T * C, 1.0, rng);
        enumerate(prob, logits, T, C, blank);
        uint32_t best = 0;
        for (uint32_t i = 1; i < MAXCODE; i++)
            if (prob[i] > prob[best])
                best = i;

        // 512 exceeds the number of prefixes of up to 5 labels over 3 symbols (364): the search is exact.
        int32_t out[MAXT];
        uint32_t len = 99;
        double lp = 0.0;
        rh_status st = rh_ctc_beam(out, &len, &lp, logits, NULL, 512, MAXT, T, C, blank);
        CHECK(st == RH_OK, "beam status %d", st);
        CHECK(code_of(out, len, C) == best, "trial %d: beam found code %u, enumeration %u", trial, code_of(out, len, C),
              best);
        CHECK_NEAR(lp, log(prob[best]), 1e-9);
        // Its score is the same quantity the loss computes.
        CHECK_NEAR(-lp, rh_ctc_loss(NULL, logits, out, len, T, C, blank, 1.0f, scratch), 1e-9);

        // A narrow beam can miss the best labelling but never claims more than a labelling's true probability.
        st = rh_ctc_beam(out, &len, &lp, logits, NULL, 1, MAXT, T, C, blank);
        CHECK(st == RH_OK && lp <= log(prob[best]) + 1e-9 && lp <= log(prob[code_of(out, len, C)]) + 1e-9,
              "beam 1 claims %g", lp);

        // Restricted to three random phrases, the answer is the most probable of them.
        int32_t ph_labels[9];
        uint32_t offsets[4] = {0};
        for (uint32_t i = 0; i < 3; i++) {
            const uint32_t n = (uint32_t)rh_rng_below(rng, 4);
            for (uint32_t j = 0; j < n; j++) {
                int32_t k = (int32_t)rh_rng_below(rng, C - 1);
                ph_labels[offsets[i] + j] = k >= (int32_t)blank ? k + 1 : k;
            }
            offsets[i + 1] = offsets[i] + n;
        }
        const rh_ctc_phrases phrases = {ph_labels, offsets, 3};
        double best_phrase = -INFINITY;
        uint32_t best_i = 0;
        for (uint32_t i = 0; i < 3; i++) {
            const double p = prob[code_of(ph_labels + offsets[i], offsets[i + 1] - offsets[i], C)];
            if (log(p) > best_phrase) {
                best_phrase = log(p);
                best_i = i;
            }
        }
        st = rh_ctc_beam(out, &len, &lp, logits, &phrases, 512, MAXT, T, C, blank);
        CHECK(st == RH_OK, "phrase beam status %d", st);
        if (best_phrase == -INFINITY) {
            CHECK(len == 0 && lp == -INFINITY, "trial %d: no phrase fits, got %u labels, %g", trial, len, lp);
        } else {
            CHECK(len == offsets[best_i + 1] - offsets[best_i] &&
                      memcmp(out, ph_labels + offsets[best_i], len * sizeof *out) == 0,
                  "trial %d: phrase beam picked another labelling", trial);
            CHECK_NEAR(lp, best_phrase, 1e-9);
        }
    }
}

static void test_phrase_refusal(void)
{
    enum { T = 6, C = 4 };
    // Frames clearly say "1 2": the unrestricted search reads it, a digits-like list without it refuses it.
    static const int path[T] = {1, 1, 0, 2, 2, 0};
    float logits[T * C];
    for (int t = 0; t < T; t++)
        for (int k = 0; k < C; k++)
            logits[t * C + k] = k == path[t] ? 6.0f : 0.0f;
    int32_t out[T];
    uint32_t len;
    double lp;
    CHECK(rh_ctc_beam(out, &len, &lp, logits, NULL, 8, T, T, C, 0) == RH_OK && len == 2 && out[0] == 1 && out[1] == 2,
          "unrestricted reads 1 2");
    const int32_t words[] = {1, 3, 2, 2};
    const uint32_t offs[] = {0, 2, 4};
    const rh_ctc_phrases allowed = {words, offs, 2}; // "1 3" and "2 2"
    CHECK(rh_ctc_beam(out, &len, &lp, logits, &allowed, 8, T, T, C, 0) == RH_OK, "restricted runs");
    CHECK(len == 2 && !(out[0] == 1 && out[1] == 2) &&
              ((out[0] == 1 && out[1] == 3) || (out[0] == 2 && out[1] == 2)),
          "restricted answer is a phrase: %u labels", len);
    CHECK(isfinite(lp) && lp < -5.0, "a poor fit scores low: %g", lp);
    // A phrase that cannot fit in T frames: nothing is allowed, the input is rejected.
    const int32_t longw[] = {3, 3, 3, 3};
    const uint32_t longo[] = {0, 4};
    const rh_ctc_phrases too_long = {longw, longo, 1};
    CHECK(rh_ctc_beam(out, &len, &lp, logits, &too_long, 8, T, T, C, 0) == RH_OK && len == 0 && lp == -INFINITY,
          "rejected: %u labels, %g", len, lp);
    // Capacity and argument errors.
    CHECK(rh_ctc_beam(out, &len, &lp, logits, NULL, 8, 1, T, C, 0) == RH_ERR_SHAPE && len == 2, "capacity");
    CHECK(rh_ctc_beam(out, &len, &lp, logits, NULL, 0, T, T, C, 0) == RH_ERR_INVALID_ARGUMENT, "beam 0");
    const int32_t blankw[] = {0};
    const uint32_t blanko[] = {0, 1};
    const rh_ctc_phrases with_blank = {blankw, blanko, 1};
    CHECK(rh_ctc_beam(out, &len, &lp, logits, &with_blank, 8, T, T, C, 0) == RH_ERR_INVALID_ARGUMENT, "blank in phrase");
}

/* Forced alignment against the best of all C^T paths that read as the labelling: the same log probability,
 * the same frames per label; and the path of a clear labelling where the answer is known. */
static void test_align(rh_rng *rng)
{
    for (int trial = 0; trial < 40; trial++) {
        const uint32_t T = 2 + (uint32_t)(rh_rng_next(rng) % (MAXT - 1)), C = 2 + (uint32_t)(rh_rng_next(rng) % (MAXC - 1)),
                       blank = (uint32_t)(rh_rng_next(rng) % C);
        float logits[MAXT * MAXC];
        random_logits(logits, (size_t)T * C, 2.0, rng);
        // the labelling of a random path, so it always fits
        int32_t lab[MAXT];
        uint32_t L = 0;
        int32_t prev = -1;
        for (uint32_t t = 0; t < T; t++) {
            int32_t k = (int32_t)(rh_rng_next(rng) % C);
            if (k != (int32_t)blank && k != prev)
                lab[L++] = k;
            prev = k;
        }
        double best = -INFINITY;
        uint32_t bstart[MAXT] = {0}, bend[MAXT] = {0};
        uint32_t npaths = 1;
        for (uint32_t t = 0; t < T; t++)
            npaths *= C;
        for (uint32_t path = 0; path < npaths; path++) {
            int32_t got[MAXT];
            uint32_t n = 0, rest = path, st[MAXT], en[MAXT];
            double lp = 0.0;
            prev = -1;
            for (uint32_t t = 0; t < T; t++) {
                const int32_t k = (int32_t)(rest % C);
                rest /= C;
                double sum = 0.0;
                for (uint32_t c = 0; c < C; c++)
                    sum += exp((double)logits[t * C + c]);
                lp += (double)logits[t * C + (uint32_t)k] - log(sum);
                if (k != (int32_t)blank && k != prev)
                    got[n] = k, st[n] = t, n++;
                if (k != (int32_t)blank)
                    en[n - 1] = t;
                prev = k;
            }
            if (n == L && memcmp(got, lab, L * sizeof *lab) == 0 && lp > best) {
                best = lp;
                memcpy(bstart, st, sizeof st);
                memcpy(bend, en, sizeof en);
            }
        }
        uint32_t starts[MAXT], ends[MAXT];
        float conf[MAXT];
        CHECK(rh_ctc_align_scratch_size(L, T, C) <= sizeof scratch / sizeof *scratch, "scratch fits");
        const double lp = rh_ctc_align(starts, ends, conf, logits, lab, L, T, C, blank, scratch);
        CHECK(fabs(lp - best) < 1e-9, "align: best path log prob %g vs enumeration %g", lp, best);
        for (uint32_t i = 0; i < L; i++) {
            CHECK(starts[i] == bstart[i] && ends[i] == bend[i], "align: label %u frames %u-%u vs %u-%u", i,
                  starts[i], ends[i], bstart[i], bend[i]);
            CHECK(conf[i] > 0.0f && conf[i] <= 1.0f, "align: confidence %g", conf[i]);
        }
    }
    // a clear case: blank blank a a blank b, blank = 0
    enum { T = 6, C = 3 };
    float z[T * C];
    const int32_t path[T] = {0, 0, 1, 1, 0, 2}, ab[2] = {1, 2}, aa[2] = {1, 1};
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t c = 0; c < C; c++)
            z[t * C + c] = (int32_t)c == path[t] ? 6.0f : 0.0f;
    uint32_t s[2], e[2];
    float cf[2];
    CHECK(isfinite(rh_ctc_align(s, e, cf, z, ab, 2, T, C, 0, scratch)) && s[0] == 2 && e[0] == 3 && s[1] == 5 &&
              e[1] == 5 && cf[0] > 0.9f,
          "align: clear path");
    CHECK(rh_ctc_align(s, e, cf, z, aa, 2, 2, C, 0, scratch) == -INFINITY, "align: 'a a' needs 3 frames");
    CHECK(isnan(rh_ctc_align(s, e, cf, z, aa, 2, T, C, 1, scratch)), "align: label equal to blank");
    CHECK(rh_ctc_align(NULL, NULL, NULL, z, NULL, 0, T, C, 0, scratch) < 0, "align: the empty labelling");
}

int main(void)
{
    rh_rng rng;
    rh_rng_seed(&rng, 4);
    test_against_enumeration(&rng);
    test_gradient(&rng);
    test_too_short_and_invalid();
    test_long_input(&rng);
    test_batch(&rng);
    test_greedy();
    test_beam(&rng);
    test_phrase_refusal();
    test_align(&rng);
    TEST_EXIT();
}
