/* CTC: loss and gradient by the forward-backward recursions over the blank-extended labelling, and greedy
 * and prefix-beam decoding. All probabilities live in log space in double: a product over thousands of
 * frames underflows any linear representation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnhost/ctc.h"

static double lse2(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

// out is (C): log softmax of one row of logits, in double.
static void log_softmax_row(double *out, const float *z, uint32_t C)
{
    double zmax = -INFINITY;
    for (uint32_t k = 0; k < C; k++)
        if (z[k] > zmax)
            zmax = z[k];
    double sum = 0.0;
    for (uint32_t k = 0; k < C; k++)
        sum += exp((double)z[k] - zmax);
    // Subtracting zmax before the log term keeps it: with logits near 1e22, zmax + log(sum) rounds back
    // to zmax, every symbol would get probability 1 and the loss would turn negative.
    const double log_sum = log(sum);
    for (uint32_t k = 0; k < C; k++)
        out[k] = ((double)z[k] - zmax) - log_sum;
}

// Symbol of state s in the extended labelling (blank, l1, blank, l2, ..., blank).
static uint32_t ext_symbol(const int32_t *labels, uint32_t blank, uint32_t s)
{
    return (s & 1u) ? (uint32_t)labels[s >> 1] : blank;
}

size_t rh_ctc_scratch_size(uint32_t L, uint32_t T, uint32_t C)
{
    const size_t S = 2 * (size_t)L + 1;
    return (size_t)T * C + (size_t)T * S + 2 * S + C;
}

static void zero_rows(float *d, size_t stride, uint32_t T, uint32_t C)
{
    if (d)
        for (uint32_t t = 0; t < T; t++)
            memset(d + t * stride, 0, (size_t)C * sizeof *d);
}

// One sequence whose frame t starts at logits + t * stride (stride C when contiguous, B*C in a batch).
static double ctc_loss_strided(float *dlogits, const float *logits, size_t stride, const int32_t *labels,
                               uint32_t L, uint32_t T, uint32_t C, uint32_t blank, float scale, double *scratch)
{
    int bad = blank >= C;
    uint32_t need = L; // frames the shortest alignment takes: one per label plus a blank between equal ones
    for (uint32_t i = 0; i < L && !bad; i++) {
        bad = labels[i] < 0 || (uint32_t)labels[i] >= C || (uint32_t)labels[i] == blank;
        if (i > 0 && labels[i] == labels[i - 1])
            need++;
    }
    if (bad || T < need) {
        zero_rows(dlogits, stride, T, C);
        return bad ? NAN : INFINITY;
    }
    if (T == 0)
        return 0.0; // only the empty labelling, with probability 1

    const uint32_t S = 2 * L + 1;
    double *lp = scratch;                   // (T,C) log softmax
    double *alpha = lp + (size_t)T * C;     // (T,S) log prob of all prefixes of paths in state s at t
    double *bcur = alpha + (size_t)T * S;   // (S) log prob of completing from state s at t, frames > t
    double *bnext = bcur + S;               // (S) the same at t + 1
    double *occ = bnext + S;                // (C) posterior occupancy of each symbol at t

    for (uint32_t t = 0; t < T; t++)
        log_softmax_row(lp + (size_t)t * C, logits + t * stride, C);

    for (uint32_t s = 0; s < S; s++)
        alpha[s] = -INFINITY;
    alpha[0] = lp[blank];
    if (L > 0)
        alpha[1] = lp[labels[0]];
    for (uint32_t t = 1; t < T; t++) {
        const double *prev = alpha + (size_t)(t - 1) * S, *row = lp + (size_t)t * C;
        double *a = alpha + (size_t)t * S;
        for (uint32_t s = 0; s < S; s++) {
            const uint32_t sym = ext_symbol(labels, blank, s);
            double v = prev[s];
            if (s >= 1)
                v = lse2(v, prev[s - 1]);
            // Skipping the blank between two labels is allowed only when they differ.
            if (s >= 2 && sym != blank && sym != ext_symbol(labels, blank, s - 2))
                v = lse2(v, prev[s - 2]);
            a[s] = v + row[sym];
        }
    }
    const double *last = alpha + (size_t)(T - 1) * S;
    const double logp = lse2(last[S - 1], S > 1 ? last[S - 2] : -INFINITY);
    if (logp == -INFINITY) {
        // Reachable only when some probability underflowed to exactly zero (a logit of -inf).
        zero_rows(dlogits, stride, T, C);
        return INFINITY;
    }
    if (!dlogits)
        return -logp;

    for (uint32_t s = 0; s < S; s++)
        bcur[s] = (s + 2 >= S) ? 0.0 : -INFINITY; // paths must end on the last label or the final blank
    for (uint32_t t = T; t-- > 0;) {
        if (t + 1 < T) {
            double *swap = bnext;
            bnext = bcur;
            bcur = swap;
            const double *row = lp + (size_t)(t + 1) * C;
            for (uint32_t s = 0; s < S; s++) {
                const uint32_t sym = ext_symbol(labels, blank, s);
                double v = bnext[s] + row[sym];
                if (s + 1 < S)
                    v = lse2(v, bnext[s + 1] + row[ext_symbol(labels, blank, s + 1)]);
                if (s + 2 < S) {
                    const uint32_t sym2 = ext_symbol(labels, blank, s + 2);
                    if (sym2 != blank && sym2 != sym)
                        v = lse2(v, bnext[s + 2] + row[sym2]);
                }
                bcur[s] = v;
            }
        }
        // alpha includes frame t's emission and beta does not, so their product is the mass through (t,s).
        memset(occ, 0, (size_t)C * sizeof *occ);
        const double *a = alpha + (size_t)t * S;
        for (uint32_t s = 0; s < S; s++)
            occ[ext_symbol(labels, blank, s)] += exp(a[s] + bcur[s] - logp);
        const double *row = lp + (size_t)t * C;
        float *d = dlogits + t * stride;
        for (uint32_t k = 0; k < C; k++)
            d[k] = (float)((double)scale * (exp(row[k]) - occ[k]));
    }
    return -logp;
}

double rh_ctc_loss(float *dlogits, const float *logits, const int32_t *labels, uint32_t L, uint32_t T,
                   uint32_t C, uint32_t blank, float scale, double *scratch)
{
    return ctc_loss_strided(dlogits, logits, C, labels, L, T, C, blank, scale, scratch);
}

double rh_ctc_loss_batch(float *dlogits, const float *logits, const int32_t *labels, const uint32_t *label_offsets,
                         const uint32_t *input_lengths, uint32_t T, uint32_t B, uint32_t C, uint32_t blank,
                         float scale, double *scratch)
{
    const size_t stride = (size_t)B * C;
    double total = 0.0;
    for (uint32_t b = 0; b < B; b++) {
        const uint32_t Tb = input_lengths[b];
        const uint32_t first = label_offsets[b], end = label_offsets[b + 1];
        float *db = dlogits ? dlogits + (size_t)b * C : NULL;
        if (Tb > T || end < first) {
            zero_rows(db, stride, T, C);
            total += NAN;
            continue;
        }
        total += ctc_loss_strided(db, logits + (size_t)b * C, stride, labels + first, end - first, Tb, C, blank,
                                  scale, scratch);
        if (db)
            for (uint32_t t = Tb; t < T; t++)
                memset(db + t * stride, 0, (size_t)C * sizeof *db);
    }
    return total;
}

uint32_t rh_ctc_greedy(int32_t *out, uint32_t *starts, uint32_t *ends, float *conf, const float *logits,
                       uint32_t T, uint32_t C, uint32_t blank)
{
    uint32_t n = 0;
    int64_t prev = -1; // the previous frame's symbol; -1 before the first frame
    double run_sum = 0.0;
    uint32_t run_len = 0;
    for (uint32_t t = 0; t < T && C > 0; t++) {
        const float *z = logits + (size_t)t * C;
        uint32_t best = 0;
        for (uint32_t k = 1; k < C; k++)
            if (z[k] > z[best])
                best = k;
        if (best == blank) {
            prev = best;
            continue;
        }
        double sum = 0.0;
        for (uint32_t k = 0; k < C; k++)
            sum += exp((double)z[k] - (double)z[best]);
        const double p = 1.0 / sum;
        if ((int64_t)best != prev) {
            if (out)
                out[n] = (int32_t)best;
            if (starts)
                starts[n] = t;
            n++;
            run_sum = 0.0;
            run_len = 0;
        }
        run_sum += p;
        run_len++;
        if (ends)
            ends[n - 1] = t;
        if (conf)
            conf[n - 1] = (float)(run_sum / run_len);
        prev = best;
    }
    return n;
}

size_t rh_ctc_align_scratch_size(uint32_t L, uint32_t T, uint32_t C)
{
    const size_t S = 2 * (size_t)L + 1;
    return (size_t)T * C + (size_t)T * S + 2 * S;
}

double rh_ctc_align(uint32_t *starts, uint32_t *ends, float *conf, const float *logits, const int32_t *labels,
                    uint32_t L, uint32_t T, uint32_t C, uint32_t blank, double *scratch)
{
    if (blank >= C)
        return NAN;
    uint32_t need = L;
    for (uint32_t i = 0; i < L; i++) {
        if (labels[i] < 0 || (uint32_t)labels[i] >= C || (uint32_t)labels[i] == blank)
            return NAN;
        if (i > 0 && labels[i] == labels[i - 1])
            need++;
    }
    if (T < need || (T == 0 && L > 0))
        return -INFINITY;
    if (T == 0)
        return 0.0;
    const uint32_t S = 2 * L + 1;
    double *lp = scratch;                    // (T,C) log softmax
    double *from = lp + (size_t)T * C;       // (T,S) the state each state came from, as a double
    double *prev = from + (size_t)T * S, *cur = prev + S; // (S) Viterbi scores of two frames
    for (uint32_t t = 0; t < T; t++)
        log_softmax_row(lp + (size_t)t * C, logits + (size_t)t * C, C);
    for (uint32_t s = 0; s < S; s++)
        prev[s] = s < 2 ? lp[ext_symbol(labels, blank, s)] : -INFINITY;
    for (uint32_t t = 1; t < T; t++) {
        const double *row = lp + (size_t)t * C;
        double *bp = from + (size_t)t * S;
        for (uint32_t s = 0; s < S; s++) {
            const uint32_t sym = ext_symbol(labels, blank, s);
            double best = prev[s];
            uint32_t arg = s;
            if (s >= 1 && prev[s - 1] > best)
                best = prev[s - 1], arg = s - 1;
            // skipping the blank between two labels is allowed only when they differ
            if (s >= 2 && (s & 1u) && labels[s >> 1] != labels[(s >> 1) - 1] && prev[s - 2] > best)
                best = prev[s - 2], arg = s - 2;
            cur[s] = best + row[sym];
            bp[s] = (double)arg;
        }
        double *swap = prev;
        prev = cur, cur = swap;
    }
    uint32_t s = S - 1;
    if (S >= 2 && prev[S - 2] > prev[S - 1])
        s = S - 2;
    const double total = prev[s];
    if (total == -INFINITY)
        return -INFINITY;
    // walk back; every label state is on the path, so each label gets at least one frame
    double *psum = cur, *count = cur + L; // (L) each, in the spare score row: S = 2L + 1
    for (uint32_t i = 0; i < 2 * L; i++)
        cur[i] = 0.0;
    for (uint32_t t = T; t-- > 0;) {
        if (s & 1u) {
            const uint32_t i = s >> 1;
            if (ends && count[i] == 0.0)
                ends[i] = t;
            if (starts)
                starts[i] = t;
            psum[i] += exp(lp[(size_t)t * C + (uint32_t)labels[i]]);
            count[i] += 1.0;
        }
        if (t > 0)
            s = (uint32_t)from[(size_t)t * S + s];
    }
    if (conf)
        for (uint32_t i = 0; i < L; i++)
            conf[i] = (float)(psum[i] / count[i]);
    return total;
}

/* Beam search keeps its prefixes in a tree: a prefix is a node, its last label the node's label, and
 * extending it by one label is following (or creating) a child. With phrases the tree is the phrase trie,
 * built up front and then frozen, so "is this a prefix of an allowed phrase" is "does the child exist". */
typedef struct {
    int32_t parent, label, child, sibling;
    uint32_t len;
    uint32_t stamp;   // frame (plus one) whose next-frame scores below are valid
    int terminal;     // a whole phrase (only consulted when phrases restrict the search)
    double npb, npnb; // next-frame log prob of the prefix with paths ending in blank / in its last label
} beam_node;

typedef struct {
    beam_node *v;
    uint32_t n, cap;
    int frozen;
} node_pool;

typedef struct {
    int32_t node;
    double pb, pnb, score;
} beam_entry;

// Returns the child of parent labelled k, -1 if there is none and the pool is frozen, -2 on no memory.
static int32_t child_of(node_pool *pool, int32_t parent, int32_t k)
{
    for (int32_t c = pool->v[parent].child; c >= 0; c = pool->v[c].sibling)
        if (pool->v[c].label == k)
            return c;
    if (pool->frozen)
        return -1;
    if (pool->n == pool->cap) {
        if (pool->cap > (uint32_t)INT32_MAX / 2)
            return -2;
        uint32_t cap = pool->cap * 2;
        beam_node *v = realloc(pool->v, (size_t)cap * sizeof *v);
        if (!v)
            return -2;
        pool->v = v;
        pool->cap = cap;
    }
    const int32_t c = (int32_t)pool->n++;
    beam_node *node = &pool->v[c];
    node->parent = parent;
    node->label = k;
    node->child = -1;
    node->sibling = pool->v[parent].child;
    node->len = pool->v[parent].len + 1;
    node->stamp = 0;
    node->terminal = 0;
    pool->v[parent].child = c;
    return c;
}

static int by_score_desc(const void *pa, const void *pb)
{
    const beam_entry *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->node > b->node) - (a->node < b->node); // ties broken the same way on every platform
}

static int phrases_valid(const rh_ctc_phrases *ph, uint32_t C, uint32_t blank)
{
    if (ph->count > 0 && (!ph->offsets || ph->offsets[0] != 0))
        return 0;
    for (uint32_t i = 0; i < ph->count; i++) {
        if (ph->offsets[i + 1] < ph->offsets[i])
            return 0;
        for (uint32_t j = ph->offsets[i]; j < ph->offsets[i + 1]; j++) {
            if (!ph->labels)
                return 0;
            const int32_t k = ph->labels[j];
            if (k < 0 || (uint32_t)k >= C || (uint32_t)k == blank)
                return 0;
        }
    }
    return 1;
}

rh_status rh_ctc_beam(int32_t *out, uint32_t *out_len, double *log_prob, const float *logits,
                      const rh_ctc_phrases *phrases, uint32_t beam_size, uint32_t capacity, uint32_t T, uint32_t C,
                      uint32_t blank)
{
    if (out_len)
        *out_len = 0;
    if (log_prob)
        *log_prob = -INFINITY;
    if (beam_size == 0 || blank >= C || (T > 0 && !logits) || (capacity > 0 && !out) ||
        (phrases && !phrases_valid(phrases, C, blank)))
        return RH_ERR_INVALID_ARGUMENT;
    // Each beam entry touches itself and at most C - 1 children per frame.
    const size_t touched_cap = (size_t)beam_size * C;
    if (touched_cap / C != beam_size || touched_cap > SIZE_MAX / sizeof(beam_entry))
        return RH_ERR_NO_MEMORY;

    rh_status status = RH_OK;
    node_pool pool = {NULL, 1, 64, 0};
    beam_entry *cand = malloc(touched_cap * sizeof *cand);
    beam_entry *beam = malloc((size_t)beam_size * sizeof *beam);
    double *lp = malloc((size_t)C * sizeof *lp);
    pool.v = malloc((size_t)pool.cap * sizeof *pool.v);
    if (!cand || !beam || !lp || !pool.v) {
        status = RH_ERR_NO_MEMORY;
        goto done;
    }
    pool.v[0] = (beam_node){-1, -1, -1, -1, 0, 0, 0, 0.0, 0.0};
    if (phrases) {
        for (uint32_t i = 0; i < phrases->count; i++) {
            int32_t node = 0;
            for (uint32_t j = phrases->offsets[i]; j < phrases->offsets[i + 1] && node >= 0; j++)
                node = child_of(&pool, node, phrases->labels[j]);
            if (node < 0) {
                status = RH_ERR_NO_MEMORY;
                goto done;
            }
            pool.v[node].terminal = 1;
        }
        pool.frozen = 1;
    }

    uint32_t nbeam = 1;
    beam[0] = (beam_entry){0, 0.0, -INFINITY, 0.0};
    for (uint32_t t = 0; t < T; t++) {
        log_softmax_row(lp, logits + (size_t)t * C, C);
        const uint32_t stamp = t + 1;
        uint32_t ncand = 0;
        for (uint32_t e = 0; e < nbeam; e++) {
            const int32_t n = beam[e].node;
            const double pb = beam[e].pb, pnb = beam[e].pnb, total = lse2(pb, pnb);
            const int32_t last = pool.v[n].label; // -1 at the root, which matches no label
            // child_of may move pool.v, so nodes are always reached through the pool, never a saved pointer.
            if (pool.v[n].stamp != stamp) {
                pool.v[n].stamp = stamp;
                pool.v[n].npb = pool.v[n].npnb = -INFINITY;
                cand[ncand++].node = n;
            }
            // A blank keeps the prefix; repeating the last label without a blank between also keeps it.
            pool.v[n].npb = lse2(pool.v[n].npb, total + lp[blank]);
            if (last >= 0)
                pool.v[n].npnb = lse2(pool.v[n].npnb, pnb + lp[last]);
            for (uint32_t k = 0; k < C; k++) {
                if (k == blank)
                    continue;
                const int32_t c = child_of(&pool, n, (int32_t)k);
                if (c == -1)
                    continue;
                if (c < 0) {
                    status = RH_ERR_NO_MEMORY;
                    goto done;
                }
                if (pool.v[c].stamp != stamp) {
                    pool.v[c].stamp = stamp;
                    pool.v[c].npb = pool.v[c].npnb = -INFINITY;
                    cand[ncand++].node = c;
                }
                // The same label again only starts a new one after a blank.
                const double from = (int32_t)k == last ? pb : total;
                pool.v[c].npnb = lse2(pool.v[c].npnb, from + lp[k]);
            }
        }
        for (uint32_t i = 0; i < ncand; i++) {
            const beam_node *node = &pool.v[cand[i].node];
            cand[i].pb = node->npb;
            cand[i].pnb = node->npnb;
            cand[i].score = lse2(node->npb, node->npnb);
        }
        qsort(cand, ncand, sizeof *cand, by_score_desc);
        nbeam = 0;
        for (uint32_t i = 0; i < ncand && nbeam < beam_size && cand[i].score > -INFINITY; i++)
            beam[nbeam++] = cand[i];
    }

    int32_t best = -1;
    double best_score = -INFINITY;
    for (uint32_t e = 0; e < nbeam; e++) {
        const double score = lse2(beam[e].pb, beam[e].pnb);
        if ((!phrases || pool.v[beam[e].node].terminal) && (best < 0 || score > best_score)) {
            best = beam[e].node;
            best_score = score;
        }
    }
    if (best < 0)
        goto done; // rejected: nothing allowed survived
    const uint32_t len = pool.v[best].len;
    if (out_len)
        *out_len = len;
    if (log_prob)
        *log_prob = best_score;
    if (len > capacity) {
        status = RH_ERR_SHAPE;
        goto done;
    }
    for (int32_t n = best; n > 0; n = pool.v[n].parent)
        out[pool.v[n].len - 1] = pool.v[n].label;

done:
    free(pool.v);
    free(lp);
    free(beam);
    free(cand);
    return status;
}
