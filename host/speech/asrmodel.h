/* A speech model as the host runs it: the front-end settings, the output units and one or two recurrent
 * models (a second one reads time backwards when the model is bidirectional), all rebuilt from one model
 * file so a model and its front-end can never disagree. This file reads and writes that description; what
 * is done with it lives beside it (asr.h lists them).
 *
 * Model file (task "ctc"): the rnnhost.* spec keys describe each direction's model (dense input of
 * n_mels * stack, output units + 1 with the blank at 0), and
 *   rnnhost.frontend       {"sample_rate":8000,"n_fft":256,"win_length":200,"hop_length":80,"n_mels":40,
 *                           "fmin":20,"fmax":4000,"stack":3,"pad_ms":100,"cepstra":20,
 *                           "norm":{"prior_frames":300,"mean":[...n_mels],"var":[...n_mels]}}
 *                          "norm" is optional: without it each file is normalised alone (spec_cmvn), with
 *                          it by spec_norm_prior and the training set's statistics
 *   rnnhost.units          {"kind":"words"|"chars","symbols":["eight","five",...]}   symbol i is output i+1
 *   rnnhost.bidirectional  "0" | "1"
 * Tensors are the direction models' own, prefixed "fw." and "bw.". */
#ifndef RNNHOST_ASRMODEL_H
#define RNNHOST_ASRMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"
#include "modelfile.h"
#include "spectrogram.h"

#define ASR_MAX_UNITS 4096u
#define ASR_MAX_STACK 16u
#define ASR_MAX_PAD_MS 1000 /* a front-end's padding at most a second at each end */

typedef struct asr_model {
    model_spec spec;     /* of each direction's model */
    host_model dir[2];   /* dir[1].model is NULL when the model reads forward only */
    int bidirectional;
    spec_settings fe;    /* front-end */
    uint32_t stack;      /* feature frames concatenated into one model step (a stride in time) */
    double norm_prior;   /* frames of training-set statistics pooled with each file's; 0: per-file CMVN */
    float *norm_mean, *norm_var; /* (n_mels) when norm_prior > 0 */
    uint32_t pad_ms;     /* near-silence (asr_pad_sample) heard before and after every utterance; 0: none */
    int words;           /* units are words (1) or characters (0) */
    uint32_t n_units;    /* output symbols besides the blank */
    char **units;        /* (n_units) UTF-8; units[i] is output i + 1 */
} asr_model;

/* Front-end defaults for 8 kHz speech: 32 ms FFT, 25 ms window, 10 ms hop, 40 mels, stacks of 3. */
void asr_default_frontend(spec_settings *fe, uint32_t *stack, int sample_rate);

/* Creates the direction models for m->spec (filled in by the caller with hidden size, layers, cell) from
 * m's front-end and units. EXIT_OK or EXIT_LOAD with why. */
int asr_create(asr_model *m, plugin_registry *r, char *why, size_t why_len);

/* Reads and checks a ctc model file's description (spec, front-end, units, directions) from its
 * metadata, creating no model: 0, or -1 with one line in why (name is the file, for messages). Free with
 * asr_close. */
int asr_describe(asr_model *m, const rh_weights *w, const char *name, char *why, size_t why_len);
/* The same for the model file at path, opened and closed here: 0, or -1 with one line in why. */
int asr_describe_file(asr_model *m, const char *path, char *why, size_t why_len);
/* Opens a ctc model file (a path; resolve names with model_resolve first). EXIT_OK or EXIT_LOAD. */
int asr_open(asr_model *m, plugin_registry *r, const char *path, char *why, size_t why_len);

/* Adds the spec, front-end, units and direction keys. -1 when memory runs out. */
int asr_meta(meta_list *ml, const asr_model *m);

/* Blobs of every tensor, named "fw.x" / "bw.x", values from params[d] (the models' own when NULL).
 * *names holds the strings; free both with free(). Returns the count, or 0 when memory runs out. */
uint32_t asr_blobs(rh_blob **blobs, char (**names)[RH_MAX_NAME + 8], const asr_model *m, float *const *params,
                   const char *prefix);

/* Loads every tensor from w (names prefixed like asr_blobs, after prefix when not NULL) into params[d]
 * (the models' own when NULL). RH_OK or an error with why. */
rh_status asr_load(const asr_model *m, float **params, const rh_weights *w, const char *prefix, char *why,
                   size_t why_len);

void asr_close(asr_model *m);

/* Input width of one model step: n_mels * stack. */
uint32_t asr_input_dim(const asr_model *m);

/* The model's two directions (1 or 2). */
static inline int asr_dirs(const asr_model *m)
{
    return m->bidirectional ? 2 : 1;
}

#endif /* RNNHOST_ASRMODEL_H */
