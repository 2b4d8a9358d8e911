/* A speech model's output units: the words or characters of its transcripts, sorted, each an output of the
 * model after the CTC blank. Training collects them from the transcripts; every transcript becomes labels
 * through them. */
#ifndef RNNHOST_ASRUNITS_H
#define RNNHOST_ASRUNITS_H

#include <stddef.h>
#include <stdint.h>

#include "asrmodel.h"

/* The units of a set of transcripts: sorted distinct words (words = 1) or characters (space included). */
int asr_units_from_texts(asr_model *m, char *const *texts, size_t n, int words, char *why, size_t why_len);

/* Transcript symbols -> label ids (1-based, blank 0). Returns the number of labels, or -1 with why naming
 * the word or character the model does not know. labels holds cap entries. */
long asr_encode(int32_t *labels, size_t cap, const asr_model *m, const char *text, char *why, size_t why_len);

#endif /* RNNHOST_ASRUNITS_H */
