/* rnnhost SDK: connectionist temporal classification (CTC), the head that lets T input frames carry a
 * shorter labelling. One symbol, `blank`, means "no label here"; a labelling is read off a frame-wise path
 * by merging repeats and then dropping blanks, so "a a" needs a blank between its two a's.
 *
 * Every function here takes unnormalised logits: the softmax over C symbols is applied inside, in double,
 * in log space, so inputs thousands of frames long with logits in the hundreds stay finite.
 * The loss and greedy decoding never allocate; beam search does (it is not on the real-time path). */
#ifndef RNNHOST_CTC_H
#define RNNHOST_CTC_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of DOUBLES of scratch rh_ctc_loss needs for L labels, T frames and C symbols:
 * T*C + T*(2L+1) + 2*(2L+1) + C. */
size_t rh_ctc_scratch_size(uint32_t L, uint32_t T, uint32_t C);

/* CTC loss of one sequence. logits is (T,C); labels is (L), each in [0,C) and != blank; scratch holds
 * rh_ctc_scratch_size(L, T, C) doubles owned by the caller. Returns -log p(labels | logits), summed over
 * all alignments. dlogits is (T,C), written with scale * d(loss)/d(logits) = scale * (softmax - posterior
 * occupancy of each symbol), or NULL. When no alignment fits in T frames (T < L + number of adjacent
 * equal labels) returns INFINITY and zeroes dlogits. A label out of range or equal to blank, or
 * blank >= C, is a caller bug: returns NaN and zeroes dlogits. */
double rh_ctc_loss(float *dlogits, const float *logits, const int32_t *labels, uint32_t L, uint32_t T,
                   uint32_t C, uint32_t blank, float scale, double *scratch);

/* CTC loss over a time-major batch. logits and dlogits are (T,B,C); sequence b uses frames
 * [0, input_lengths[b]) and the labels[label_offsets[b] .. label_offsets[b+1]) (label_offsets is (B+1)).
 * scratch holds rh_ctc_scratch_size(max label length, T, C) doubles. Frames past a sequence's length get
 * a zero gradient. Returns the sum of the B losses (infinite if any sequence's labels do not fit; then
 * only that sequence's gradient is zero). dlogits may be NULL. */
double rh_ctc_loss_batch(float *dlogits, const float *logits, const int32_t *labels, const uint32_t *label_offsets,
                         const uint32_t *input_lengths, uint32_t T, uint32_t B, uint32_t C, uint32_t blank,
                         float scale, double *scratch);

/* Greedy (best path) decoding of logits (T,C): the argmax of each frame (the first of equal maxima), repeats
 * merged, blanks removed. For the i-th emitted label, out[i] is the label, starts[i] and ends[i] its first
 * and last frame (inclusive) of the run that produced it, and conf[i] the mean softmax probability of the
 * label over that run. Each output array holds up to T entries; any of them may be NULL. Returns the
 * number of labels emitted. */
uint32_t rh_ctc_greedy(int32_t *out, uint32_t *starts, uint32_t *ends, float *conf, const float *logits,
                       uint32_t T, uint32_t C, uint32_t blank);

/* Number of DOUBLES of scratch rh_ctc_align needs: T*C + T*(2L+1) + 2*(2L+1) (the backpointers are
 * stored as doubles too, so one buffer serves). */
size_t rh_ctc_align_scratch_size(uint32_t L, uint32_t T, uint32_t C);

/* Forced alignment: the single most probable frame-wise path (Viterbi) that reads as labels (L) over
 * logits (T,C). For label i, starts[i] and ends[i] receive the first and last frame (inclusive) the path
 * spends on it, and conf[i] the mean softmax probability of the label over those frames; any of the three
 * may be NULL. Gives the times of a labelling found by beam search, where no single path was kept.
 * Returns the log probability of that path, or -INFINITY when no alignment fits in T frames (outputs
 * untouched); NaN for a label out of range or equal to blank. Allocates nothing. */
double rh_ctc_align(uint32_t *starts, uint32_t *ends, float *conf, const float *logits, const int32_t *labels,
                    uint32_t L, uint32_t T, uint32_t C, uint32_t blank, double *scratch);

/* A set of allowed labellings ("phrases", e.g. the ten digit words spelled in the model's symbols).
 * Phrase i is labels[offsets[i] .. offsets[i+1]); offsets is (count+1) with offsets[0] = 0. The caller
 * owns both arrays. An empty phrase (offsets[i] == offsets[i+1]) allows the empty labelling. */
typedef struct rh_ctc_phrases {
    const int32_t *labels;
    const uint32_t *offsets;
    uint32_t count;
} rh_ctc_phrases;

/* Prefix beam search over logits (T,C): keeps the beam_size most probable label prefixes after each frame,
 * each scored by the total probability of all its alignments so far (split into paths ending in blank and
 * in a label, so "a" + "a" is kept apart from "a a"). With a beam as large as the number of possible
 * prefixes the result is the exact most probable labelling.
 *
 * When phrases is not NULL only prefixes of some phrase survive, and the answer must be a whole phrase;
 * if none is left in the beam at the end the result is empty with *log_prob = -INFINITY (rejected). Note
 * the restriction acts on the beam, so too small a beam can reject input that a wider one would accept.
 *
 * out holds capacity labels; *out_len receives the length of the best labelling and *log_prob its log
 * probability (either may be NULL). A labelling never exceeds T labels (or the longest phrase).
 * Allocates working memory (frees it before returning). Returns RH_OK, RH_ERR_INVALID_ARGUMENT (beam_size
 * 0, blank >= C, a phrase label out of range or equal to blank, NULL logits with T > 0), RH_ERR_SHAPE (the
 * best labelling does not fit in capacity; *out_len still says how long it is), RH_ERR_NO_MEMORY. */
rh_status rh_ctc_beam(int32_t *out, uint32_t *out_len, double *log_prob, const float *logits,
                      const rh_ctc_phrases *phrases, uint32_t beam_size, uint32_t capacity, uint32_t T, uint32_t C,
                      uint32_t blank);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_CTC_H */
