/* A text corpus read from disk on demand, for training on texts larger than memory should hold.
 *
 * text_read decodes a whole corpus into code points (4 bytes a symbol, 8 once encoded to ids). A corpus
 * here is scanned once instead, front to back through one fixed buffer: the scan validates UTF-8 with
 * exactly text_read's rules and messages, counts the symbols, notes which symbols occur (or where the first
 * one outside a given vocabulary is) and keeps a sparse index, the byte position of every K-th symbol.
 * Afterwards cursors decode any window of symbol ids by positioned reads: a cursor continues where its last
 * read ended (or one symbol before, where consecutive windows of truncated BPTT overlap) and otherwise seeks
 * through the index. The index is capped (K doubles when it fills) and each cursor owns one buffer of a
 * size its owner picks, so memory depends on the number of cursors, not on the corpus.
 *
 * The symbol sequence is the one text_read gives for the same path: a regular file, or the regular files
 * below a directory in text_read's order, each with its own leading BOM skipped. Standard input, FIFOs and
 * devices cannot be read twice and stay with text_read (corpus_streamable says which is which).
 *
 * Nothing here prints; failures are one line in err. The files must not change while a corpus is open: a
 * cursor that finds other bytes than the scan did stops with an error rather than train on them. */
#ifndef RNNHOST_CORPUS_H
#define RNNHOST_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

typedef struct corpus corpus;

/* 1 when path is a regular file or a directory (what corpus_open reads), 0 otherwise (missing paths
 * included: text_read then gives the usual message). */
int corpus_streamable(const char *path);

/* Scans path. With check (not NULL) the first symbol outside it is remembered for corpus_vocab_fault;
 * without, the set of symbols that occur is kept for corpus_vocab. -1 with err on the same failures and
 * with the same one-line messages as text_read (invalid UTF-8 with its byte offset, binary file, empty
 * corpus, missing path). */
int corpus_open(corpus **out, const char *path, const vocab *check, char *err, size_t err_len);

void corpus_close(corpus *c); /* NULL is fine */

/* Symbols in the corpus. */
size_t corpus_size(const corpus *c);

/* The vocabulary of every symbol that occurs in any of parts[0..n) (each opened without check). */
int corpus_vocab(vocab *out, corpus *const *parts, size_t n, char *err, size_t err_len);

/* 1 and the first symbol outside the check vocabulary, with its line and column (as text_position counts
 * them over the whole corpus), or 0 when every symbol is in it. */
int corpus_vocab_fault(const corpus *c, uint32_t *cp, size_t *line, size_t *col);

/* Sets the vocabulary ids are decoded with; v must outlive the corpus and hold every symbol in it. */
void corpus_bind(corpus *c, const vocab *v);

/* A reading position with its own buffer of buf_bytes (at least 64 are used). */
typedef struct corpus_cursor {
    size_t sym;     /* index of the next symbol to decode */
    uint32_t file;  /* which file it is in, and at which byte */
    uint64_t off;
    size_t prev_sym; /* where the symbol before sym started, SIZE_MAX when unknown */
    uint32_t prev_file;
    uint64_t prev_off;
    int fd; /* open on fd_file, or -1 */
    uint32_t fd_file;
    unsigned char *buf; /* file bytes [buf_off, buf_off + buf_len) of fd_file */
    size_t buf_cap, buf_len;
    uint64_t buf_off;
} corpus_cursor;

int corpus_cursor_init(corpus_cursor *cur, size_t buf_bytes); /* -1 when out of memory */
void corpus_cursor_free(corpus_cursor *cur);

/* ids[0..count) = the ids of symbols first .. first+count-1 (within corpus_size). -1 with err when a file
 * cannot be read or no longer holds what the scan saw. */
int corpus_read(corpus *c, corpus_cursor *cur, int32_t *ids, size_t first, size_t count, char *err,
                size_t err_len);

#endif /* RNNHOST_CORPUS_H */
