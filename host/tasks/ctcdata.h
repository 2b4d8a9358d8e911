/* The ctc task's data: the recordings of a manifest decoded once, resampled to the model's rate and kept as
 * 16-bit samples; features made per batch, so augmentation (speed, gain, noise, warp, masks) gives new
 * input every epoch. Utterances are sorted by length and cut into batches of neighbours, so padding stays
 * small; the order of the batches is shuffled every epoch. Private to host/tasks/. */
#ifndef RNNHOST_CTCDATA_H
#define RNNHOST_CTCDATA_H

#include <stddef.h>
#include <stdint.h>

#include "asr.h"
#include "manifest.h"
#include "room.h"
#include "task.h"

/* The ctc task's own options of train. */
typedef struct ctc_opts {
    const char *manifest, *val_manifest;
    int units;              /* 0 words, 1 characters */
    uint32_t sample_rate, n_mels, stack, norm_prior, pad_ms, cepstra, fmin;
    double noise_snr, gain_db, speed, warp;
    double reverb;          /* the chance of a simulated room per utterance */
    uint32_t masks;         /* SpecAugment: this many frequency and time masks */
} ctc_opts;

typedef struct utt {
    int16_t *pcm;
    size_t n;               /* samples */
    int32_t *labels;        /* (L) 1-based units */
    uint32_t L, need;       /* need: the fewest model steps CTC can align the labels to */
} utt;

typedef struct uttset {
    utt *v;
    size_t n;
    uint64_t hash;
} uttset;

typedef struct ctc_trainer {
    asr_model m;
    manifest mf, vmf;
    uttset train, val;
    uint32_t *order;        /* utterances sorted by length */
    uint32_t *batches, n_batches; /* batch k = order[batches[k] .. batches[k] + batch) in this epoch's order */
    float *params, *grads, *pdir[2], *gdir[2]; /* one flat buffer over both directions, and each's part */
    size_t np[2], P;
    rh_tensor *tensors;     /* both directions' parameters over params, named "fw.x" and "bw.x" */
    char (*names)[RH_MAX_NAME + 8];
    uint32_t num_tensors;
    const ctc_opts *co;     /* the options, for augmentation */
    rh_rng *rng;            /* the loop's: the batch order, and one seed per utterance of each batch */
    rh_rng aug;             /* the augmentation of the utterance being made, from its own seed */
    uint64_t *seeds;        /* (batch) this step's seeds */
    /* batch buffers, sized for the longest utterance */
    uint32_t Tmax, D, K;
    float *x, *logits, *dlogits, *ws[2], *scratch, *mel, *wave, *one;
    double *ctc_scratch;
    int32_t *labels;
    uint32_t *label_offsets, *lengths;
    room *room;             /* --augment-reverb's */
    spectrogram *sp, *sp_warp; /* sp_warp: --augment-warp's, rebuilt per utterance; sp stays unwarped */
} ctc_trainer;

/* Decodes every recording of a manifest and encodes its transcript. Utterances too short for their labels
 * are dropped with a count, said when lead (rank 0 of a run on several ranks, or the one process). 0, or -1
 * after one line. */
int ctc_load_set(uttset *s, const manifest *mf, const char *name, const asr_model *m, int quiet, int lead);
void ctc_free_set(uttset *s);

/* Buffers for the longest utterance of both sets (with the fastest speed-up's worth of extra samples). */
int ctc_alloc_buffers(ctc_trainer *tr, uint32_t batch);

/* The training set's mel statistics for --norm-prior, into the model. 0 or -1 (memory). */
int ctc_norm_stats(ctc_trainer *tr, uint32_t prior, int quiet);

/* Batches of neighbours in length, in the first shuffled order. 0 or -1 (memory). */
int ctc_batches(ctc_trainer *tr, uint32_t batch);
void ctc_shuffle_batches(ctc_trainer *tr);

/* Features and labels of utterances idx[0..B) of set into the batch buffers, augmented when asked; T. */
uint32_t ctc_make_batch(ctc_trainer *tr, const uttset *set, const uint32_t *idx, uint32_t B, const uint64_t *seeds);

#endif /* RNNHOST_CTCDATA_H */
