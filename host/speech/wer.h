/* Error rates of transcripts: edit distances over labels, words and characters. */
#ifndef RNNHOST_WER_H
#define RNNHOST_WER_H

#include <stdint.h>

/* Levenshtein distance between label sequences a (n) and b (m): substitutions, insertions, deletions. */
uint64_t asr_edit_distance(const int32_t *a, uint32_t n, const int32_t *b, uint32_t m);

/* Word edits between hyp and ref (space-separated words) and *ref_words, the reference's word count. */
uint64_t asr_word_edits(const char *hyp, const char *ref, uint64_t *ref_words);

/* Character edits (UTF-8 characters, spaces included) and *ref_chars. */
uint64_t asr_char_edits(const char *hyp, const char *ref, uint64_t *ref_chars);

#endif /* RNNHOST_WER_H */
