/* From a recording to a transcript with times: the file is read in chunks of at most chunk_seconds, and a
 * chunk is cut into utterances where its energy shows pauses (voice activity: speech is what rises well
 * above the chunk's noise floor; pauses of min_pause or more part utterances), each decoded alone with a
 * little of the silence around it, as the model's training clips were. Speech that runs on for a whole
 * chunk is cut in the quietest 100 ms of its last third instead. Each utterance becomes features, logits
 * and a labelling (greedy or prefix beam search, optionally restricted to phrases), whose forced alignment
 * gives every word its confidence and its place; a word's start and end are then the edges of the speech
 * around its spike (an utterance's first word starts where its speech starts, its last ends where the
 * speech ends, and neighbours part at the quietest point between their spikes). Memory is one chunk,
 * whatever the file's length.
 *
 * A session holds the buffers for one thread; the model is shared read-only, so N threads transcribe N
 * files at once with N sessions. */
#ifndef RNNHOST_ASRDECODE_H
#define RNNHOST_ASRDECODE_H

#include <stddef.h>
#include <stdint.h>

#include "asr.h"

typedef struct tx_word {
    char *text;
    int64_t start_ms, end_ms;
    float confidence; /* mean softmax probability of the word's symbols over their aligned frames */
    int placed;       /* start and end are the speech's edges (voice activity), not the spike's widening */
} tx_word;

typedef struct tx_segment {
    int64_t start_ms, end_ms;
    char *text;
    float confidence;
    uint32_t first_word, n_words;
} tx_segment;

/* An utterance said but not taken: its least confident word fell below the rejection threshold. */
typedef struct tx_rejected {
    int64_t start_ms, end_ms;
    char *text;       /* what the model would have said */
    float confidence; /* of its least confident word */
} tx_rejected;

typedef struct tx_result {
    char *file;      /* as given */
    double duration; /* seconds */
    char *text;      /* all words, spaces between */
    tx_word *words;
    uint32_t n_words;
    tx_segment *segments;
    uint32_t n_segments;
    tx_rejected *rejected;
    uint32_t n_rejected;
    int failed;        /* the file could not be transcribed: error says why */
    char error[512];
} tx_result;

typedef struct asr_decode_opts {
    uint32_t beam_size;             /* 0 or 1: greedy */
    const rh_ctc_phrases *phrases;  /* NULL: any labelling */
    double chunk_seconds;           /* 0: 30 */
    double segment_gap;             /* a pause this long (s) starts a new segment; 0: 0.8 */
    int no_vad;                     /* 1: decode whole chunks, as before voice activity was looked at */
    double min_pause;               /* a pause this long (s) parts utterances; 0: 0.3 */
    double reject_below;            /* an utterance whose least confident word is below this says nothing (voice
                                       activity finds utterances: whole chunks are never rejected); below 0:
                                       ASR_REJECT_WORDS for a model of whole words, none for characters */
} asr_decode_opts;

/* The default rejection threshold of a model of whole words (a closed vocabulary, which otherwise forces
 * every sound it hears into its words). */
#define ASR_REJECT_WORDS 0.55

typedef struct asr_session asr_session;

asr_session *asr_session_new(const asr_model *m, const asr_decode_opts *o, char *err, size_t err_len);
void asr_session_free(asr_session *s);

/* Transcribes one file (path, or "-" for stdin when the caller allows it) into r, which the caller zeroes
 * first. Returns 0, or -1 with r->failed set and r->error holding one line (unreadable, corrupt, out of
 * memory). r->file is set either way. */
int asr_transcribe(asr_session *s, tx_result *r, const char *path);

/* The same for samples already in memory (mono, at the model's rate). */
int asr_transcribe_samples(asr_session *s, tx_result *r, const float *x, size_t n);

/* The words of logits (T steps of output_dim values, one chunk) as asr_transcribe would find them, with
 * times from m's front-end: the decoding and alignment alone, without audio or a model. 0, or -1 with
 * r->failed set and r->error holding one line. */
int asr_decode_logits(tx_result *r, const asr_model *m, const asr_decode_opts *o, const float *logits, uint32_t T);
void tx_result_free(tx_result *r);

/* Phrases from a file, one per line, each encoded in the model's units; blank lines skipped. 0, or -1 with
 * err naming the line and the unit the model does not know. Free with asr_phrases_free. */
int asr_phrases_read(rh_ctc_phrases *out, const asr_model *m, const char *path, char *err, size_t err_len);
void asr_phrases_free(rh_ctc_phrases *p);

#endif /* RNNHOST_ASRDECODE_H */
