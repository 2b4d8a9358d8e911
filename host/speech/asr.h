/* A speech model as the host runs it: the front-end settings, the output units and one or two recurrent
 * models (a second one reads time backwards when the model is bidirectional), all rebuilt from one model
 * file so a model and its front-end can never disagree.
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
 * Tensors are the direction models' own, prefixed "fw." and "bw.".
 *
 * Logits of a bidirectional model are the sum of the two directions' outputs, each a linear map of its
 * own hidden state: the usual projection of the concatenated states, split in two. */
#ifndef RNNHOST_ASR_H
#define RNNHOST_ASR_H

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

/* The units of a set of transcripts: sorted distinct words (words = 1) or characters (space included). */
int asr_units_from_texts(asr_model *m, char *const *texts, size_t n, int words, char *why, size_t why_len);

/* Creates the direction models for m->spec (filled in by the caller with hidden size, layers, cell) from
 * m's front-end and units. EXIT_OK or EXIT_LOAD with why. */
int asr_create(asr_model *m, plugin_registry *r, char *why, size_t why_len);

/* Reads and checks a ctc model file's description (spec, front-end, units, directions) from its
 * metadata, creating no model: 0, or -1 with one line in why (name is the file, for messages). Free with
 * asr_close. */
int asr_describe(asr_model *m, const rh_weights *w, const char *name, char *why, size_t why_len);
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

/* Transcript symbols -> label ids (1-based, blank 0). Returns the number of labels, or -1 with why naming
 * the word or character the model does not know. labels holds cap entries. */
long asr_encode(int32_t *labels, size_t cap, const asr_model *m, const char *text, char *why, size_t why_len);

/* Input width of one model step: n_mels * stack. */
uint32_t asr_input_dim(const asr_model *m);

/* Model steps the features of n samples make. */
size_t asr_steps_for(const asr_model *m, size_t n_samples);

/* Samples of padding at each end of an utterance: pad_ms at the model's rate. */
size_t asr_pad_length(const asr_model *m);

/* The k-th sample of the padding: noise uniform within one step of 16-bit audio (about -100 dBFS), the
 * quiet of a pause in a recording rather than digital zero, the same at every call. */
float asr_pad_sample(size_t k);

/* Log-mel frames of one utterance as the model hears it, before normalisation: the padding, the n
 * samples, the padding again, through sp (reset first). mel has room for the frames of
 * n + 2 * asr_pad_length samples. Returns the frames written. Allocates nothing. */
size_t asr_mel(float *mel, spectrogram *sp, const asr_model *m, const float *samples, size_t n);

/* The frames of asr_mel's output (frames in all) that the recording made: those starting inside the
 * padding are left out, so [*from, *to) is what normalisation statistics are taken over. All frames when
 * there is no padding. */
void asr_mel_recording(const asr_model *m, size_t frames, size_t *from, size_t *to);

/* Features of one utterance: x is (asr_steps_for(n), asr_input_dim) written into caller memory; mel is
 * scratch of (frames, n_mels) with frames = spec_frames_for of a fresh spectrogram fed the n samples and
 * the padding (2 * asr_pad_length). sp must be a spectrogram of m->fe; it is reset first. Returns the
 * steps written. */
size_t asr_features(float *x, float *mel, spectrogram *sp, const asr_model *m, const float *samples, size_t n);

/* Per-direction workspace floats for a batch of T steps and B sequences. */
size_t asr_workspace_size(const asr_model *m, uint32_t T, uint32_t B);

/* Scratch floats asr_forward/asr_backward need beyond the workspaces: room for the reversed inputs,
 * outputs and output gradients of the backward direction. */
size_t asr_scratch_size(const asr_model *m, uint32_t T, uint32_t B);

/* logits (T,B,K) from x (T,B,D) with lengths (B) (NULL: all T), parameters params[d] (the models' own
 * when NULL). ws[d] are workspaces of asr_workspace_size; scratch of asr_scratch_size. */
rh_status asr_forward(const asr_model *m, float *logits, float **ws, float *scratch, float *const *params,
                      const float *x, const uint32_t *lengths, uint32_t T, uint32_t B);

/* Adds the gradients for dlogits (T,B,K) into grads[d], after asr_forward on the same inputs with the
 * same ws and scratch. */
rh_status asr_backward(const asr_model *m, float **grads, float **ws, float *scratch, float *const *params,
                       const float *x, const uint32_t *lengths, const float *dlogits, uint32_t T, uint32_t B);

/* A whole sound file as mono float samples at rate Hz (malloc'd into *samples). 0, or -1 with one line in
 * err. Refuses files longer than max_seconds (0: no limit), so a training list cannot exhaust memory. */
int asr_read_file(float **samples, size_t *n, const char *path, int rate, double max_seconds, char *err,
                  size_t err_len);

/* The model's two directions (1 or 2). */
static inline int asr_dirs(const asr_model *m)
{
    return m->bidirectional ? 2 : 1;
}

#endif /* RNNHOST_ASR_H */
