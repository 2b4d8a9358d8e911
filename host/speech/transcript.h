/* Transcripts as files: plain text, JSON (one object per file, schema version 1), JSON Lines (the same
 * object on one line), SubRip and WebVTT subtitles. Rendering is pure (a string from a result), so every
 * writer is tested without audio, and outputs can be written atomically.
 *
 * JSON, version 1 (stable; fields are only ever added):
 *   {"version":1,"schema":1,"file":"a.wav","duration":1.234,"duration_ms":1234,"text":"one two",
 *    "segments":[{"start":120,"end":980,"text":"one two","confidence":0.93,
 *                 "words":[{"word":"one","start":120,"end":450,"confidence":0.95}, ...]}]}
 * start, end and duration_ms are milliseconds from the start of the file; duration is the same length in
 * seconds (the first field, kept for version 1 readers); confidence is 0..1. "schema" equals "version" and
 * is the key every other rnnhost JSON output uses. A file that could not be transcribed is
 * {"version":1,"schema":1,"file":"bad.wav","error":"..."}. With timestamps off, "segments" is left out. */
#ifndef RNNHOST_TRANSCRIPT_H
#define RNNHOST_TRANSCRIPT_H

#include <stddef.h>

#include "asrdecode.h"

enum { TX_TXT = 1, TX_JSON = 2, TX_JSONL = 4, TX_SRT = 8, TX_VTT = 16 };

#define TX_SCHEMA_VERSION 1

/* "txt,json,srt" -> a mask of TX_*. -1 with the unknown name in bad (bad_len bytes). */
int tx_parse_formats(unsigned *mask, const char *list, char *bad, size_t bad_len);

/* The file extension of one format, without the dot. */
const char *tx_extension(unsigned format);

/* The result in one format, as a malloc'd NUL-terminated string (*len bytes), or NULL when memory runs
 * out. A failed result renders only in json/jsonl (its error); other formats give "". */
char *tx_render(const tx_result *r, unsigned format, int timestamps, size_t *len);

#endif /* RNNHOST_TRANSCRIPT_H */
