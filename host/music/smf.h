/* Standard MIDI Files: reading (formats 0, 1 and 2) into one timeline, and writing (formats 0 and 1).
 *
 * A file's bytes are untrusted: every chunk length, variable-length quantity, running status and meta
 * length is checked against the bytes that remain, and an error names the byte offset. Nothing is
 * allocated beyond what the file's size justifies.
 */
#ifndef RNNHOST_SMF_H
#define RNNHOST_SMF_H

#include <stddef.h>
#include <stdint.h>

/* One event on the merged timeline. */
typedef struct smf_event {
    uint64_t tick;   /* absolute, in the file's division */
    double time;     /* seconds from the start, through the tempo map */
    uint16_t track;  /* the track it came from */
    uint8_t status;  /* 0x80..0xEF: a channel message (channel = status & 0x0F); 0xFF: meta */
    uint8_t data1;   /* channel messages: first data byte; meta: the meta type */
    uint8_t data2;   /* channel messages: second data byte (0 for 1-byte messages) */
    uint32_t meta_len;    /* meta: bytes of meta data */
    uint32_t meta_offset; /* meta: offset of its data in smf_file.meta_data */
} smf_event;

typedef struct smf_file {
    uint16_t format;    /* 0, 1 or 2 */
    uint16_t ntracks;
    uint16_t division;  /* ticks per quarter note (SMPTE divisions are refused when reading) */
    smf_event *events;  /* (n) sorted by tick; ties keep track order, then file order; owned */
    size_t n;
    uint8_t *meta_data; /* meta payloads (texts, tempo, signatures), owned */
    size_t meta_size;
} smf_file;

/* Reads a file. Running status (also across meta and sysex events: a meta or sysex event cancels it,
 * as the standard says), all channel messages, meta events (tempo, time and key signature, end of track,
 * texts; kept), sysex (skipped). Format 2 tracks are laid one after another. On failure returns -1 and
 * writes one line into err naming the byte offset, e.g. "x.mid: byte 1234: track length 99999 runs past
 * the end of the file (1300 bytes)". An empty track list, or a header that is not MThd, is an error. */
int smf_read(smf_file *out, const char *path, char *err, size_t err_len);
int smf_read_memory(smf_file *out, const uint8_t *data, size_t size, const char *name, char *err,
                    size_t err_len);

/* Writes format 0 (one track) or 1 (track 0: tempo and meta; then one track per distinct event track)
 * from f->events (sorted by tick; their time fields are ignored: ticks are what is written). Running
 * status is used. Written atomically (temp file, fsync, rename). -1 with err on failure. */
int smf_write(const char *path, const smf_file *f, int format, char *err, size_t err_len);

/* Bytes of a file as smf_write would write it (malloc'd; the caller frees). */
int smf_encode(uint8_t **bytes, size_t *size, const smf_file *f, int format, char *err, size_t err_len);

/* The tempo map (120 bpm until the first tempo event): seconds at a tick, and the tick at seconds. */
double smf_tick_to_seconds(const smf_file *f, uint64_t tick);
uint64_t smf_seconds_to_tick(const smf_file *f, double seconds);

/* Appends an event (reallocating); meta data is copied. -1 when memory runs out. */
int smf_append(smf_file *f, const smf_event *e, const uint8_t *meta, uint32_t meta_len);

void smf_free(smf_file *f);

#endif /* RNNHOST_SMF_H */
