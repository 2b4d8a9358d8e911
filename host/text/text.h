/* The text front end: a corpus read as Unicode code points, and the vocabulary that maps those code points
 * to the symbol ids a character-level model sees. Input is strict UTF-8 only, so a file in a legacy
 * encoding or a binary file stops with one line naming the file and the byte, instead of silently teaching
 * the model mojibake. Nothing here prints; every failure is explained through the caller's err buffer. */
#ifndef RNNHOST_TEXT_H
#define RNNHOST_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "hostlog.h"

/* A corpus as Unicode code points. */
typedef struct text_buf {
    uint32_t *cp; /* (n) code points, owned; NULL when n is 0 */
    size_t n;
} text_buf;

/* Reads a corpus: a file, every regular file below a directory (recursive, sorted by path bytewise,
 * hidden files and dirs — names starting with '.' — skipped, concatenated in that order), or "-" for
 * standard input. Decodes strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF,
 * no truncated sequence at the end); a leading UTF-8 BOM is skipped; CRLF is kept as is. On failure
 * returns -1 and writes ONE line into err, naming the file and, for invalid UTF-8, the byte offset, e.g.
 * "corpus.txt: invalid UTF-8 at byte 1234 (0xff)" or "corpus.txt: empty file" (an empty corpus, or a
 * directory with no files, is an error) or "data/: no such file or directory". A file containing a NUL
 * byte is refused as binary: "x.bin: binary file (NUL byte at offset 17)".
 *
 * Details: the byte offset counts from the start of the file (a BOM included) and points at the first
 * byte of the ill-formed sequence; a short reason follows the byte ("...(0xe0): overlong encoding").
 * Each file of a directory is decoded on its own (a sequence cannot straddle two files) and may start
 * with its own BOM; empty files inside a directory are fine as long as the whole corpus is not empty.
 * Below a directory, symbolic links to files are followed, symbolic links to directories are not (so a
 * link cycle cannot loop), and FIFOs, sockets and devices are skipped. The top-level path itself may be
 * a FIFO or a character device (e.g. "<(zcat corpus.gz)"), read to its end like standard input. */
int text_read(text_buf *out, const char *path, char *err, size_t err_len);

/* The files text_read reads below directory dir, in the order it reads them (the same walk and rules).
 * *paths is a malloc'd array of *n malloc'd paths (caller frees both); -1 with err when the walk fails or
 * finds no file ("dir: no files in directory ..."). */
int text_list_files(char ***paths, size_t *n, const char *dir, char *err, size_t err_len);

/* The same decoding for bytes in memory; name is used in messages. Empty input is allowed here
 * (out->n = 0). A NUL byte is refused as binary here too. */
int text_decode(text_buf *out, const char *bytes, size_t n, const char *name, char *err, size_t err_len);

/* Frees t->cp and empties t; NULL and an already freed buffer are fine. */
void text_free(text_buf *t);

/* The largest Unicode scalar value. */
#define UTF8_MAX_SCALAR 0x10FFFFu

/* One UTF-8 sequence from s[0..avail) (avail >= 1) under the strict rules every text reader shares (no
 * overlongs, surrogates or values above U+10FFFF). Returns 1 with the code point and its length in bytes;
 * 0 when the sequence runs past avail and more input may follow (eof 0); -1 with a few words in *why when
 * it is ill-formed (with eof set, a sequence cut short by the end is). */
int utf8_next(const unsigned char *s, size_t avail, int eof, uint32_t *cp, size_t *len, const char **why);

/* UTF-8 encoding of one code point into out (at least 4 bytes); returns the byte count (1..4). A value
 * that is not a Unicode scalar value (a surrogate, or above U+10FFFF) is written as U+FFFD. */
size_t utf8_encode(char *out, uint32_t cp);

/* The vocabulary: distinct code points in ascending order; a symbol's id is its index. */
typedef struct vocab {
    uint32_t *cp; /* (n) ascending, distinct, owned */
    uint32_t n;
} vocab;

/* A set of code points as bits: word cp / 32, bit cp % 32. */
#define VOCAB_BIT_WORDS ((UTF8_MAX_SCALAR + 1) / 32)

/* The vocabulary of the code points set in seen (VOCAB_BIT_WORDS words), in ascending order; -1 with a
 * message when none is set. */
int vocab_from_bits(vocab *out, const uint32_t *seen, char *err, size_t err_len);

/* Every distinct code point of t. -1 (with err) if t is empty or allocation fails. */
int vocab_build(vocab *out, const text_buf *t, char *err, size_t err_len);

/* Vocabulary from its stored form: a UTF-8 string holding every symbol once, in ascending order (that is
 * what vocab_to_utf8 writes and what model files keep in their metadata). -1 with err when the string is
 * not valid UTF-8, is empty, is not strictly ascending, or repeats a symbol. A leading U+FEFF is a symbol
 * here, not a BOM. */
int vocab_from_utf8(vocab *out, const char *s, char *err, size_t err_len);

/* The stored form: a NUL-terminated malloc'd UTF-8 string (caller frees), or NULL on allocation failure. */
char *vocab_to_utf8(const vocab *v);

/* Id of cp, or -1 when the vocabulary lacks it (binary search). */
int32_t vocab_id(const vocab *v, uint32_t cp);

/* ids (t->n) = the ids of t's symbols. On the first symbol not in v returns -1, sets *bad to its index
 * in t, and leaves ids partly written. bad may be NULL. */
int text_encode(int32_t *ids, const text_buf *t, const vocab *v, size_t *bad);

/* A human description of code point cp for error messages: "'a'", "'\\n'", "U+00A0". Writes at most
 * len bytes including NUL. Printable characters beyond ASCII also carry their number, because look-alikes
 * are the usual reason a symbol is missing: "'é' (U+00E9)". Whether a non-ASCII character is printable
 * is judged from a short list of invisible and control ranges, not from Unicode tables. When the text does
 * not fit, a shorter ASCII form is truncated, so out is always NUL-terminated valid UTF-8 (if len > 0). */
void symbol_describe(char *out, size_t len, uint32_t cp);

/* Line and column (both from 1, columns in code points) of index i in t. Lines end at '\n' only, so the
 * '\r' of a CRLF is the last column of its line. An i at or past the end gives the position after the
 * last symbol. */
void text_position(const text_buf *t, size_t i, size_t *line, size_t *col);

/* Frees v->cp and empties v; NULL is fine. */
void vocab_free(vocab *v);

/* The wording both corpus readers (this one and corpus.h's) give their one-line errors is the host's own
 * (hostlog.h): text_set_err is its bounded printf into err (NULL or 0 bytes: nothing), text_set_errno_err
 * words an errno after a name. */
#define text_set_err host_fmt
#define text_set_errno_err host_fmt_errno

#endif /* RNNHOST_TEXT_H */
