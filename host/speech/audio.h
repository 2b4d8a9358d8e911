/* Audio in: any file libsndfile decodes, mixed down to mono and resampled to one target rate, handed out
 * block by block. Memory stays bounded whatever the file's length: one block of decoded frames and one
 * resampler state, never the whole recording. */
#ifndef RNNHOST_AUDIO_H
#define RNNHOST_AUDIO_H

#include <stddef.h>
#include <stdint.h>

typedef struct audio_reader audio_reader;

/* Input that cannot seek (a pipe on stdin, a FIFO, a character device) is read whole into memory first,
 * at most this many bytes, and then decoded exactly as a file would be: FLAC and some other formats need
 * to seek while decoding. 1 GiB holds over nine hours of 16 kHz 16-bit mono WAV. */
#define AUDIO_STREAM_MAX ((size_t)1 << 30)

/* Opens path ("-" is stdin) for reading mono float samples (about -1..1) at target_rate Hz. block_frames is
 * how many source frames are decoded at a time (0: a default of 4096); it changes memory use, not the
 * samples. Returns NULL with one line in err naming the file ("x.wav: no such file", "x.wav: not a sound
 * file libsndfile can read (...)") when the file is missing, unreadable or of an unknown format, a stream
 * is longer than AUDIO_STREAM_MAX, or the rates are out of range. */
audio_reader *audio_open(const char *path, int target_rate, size_t block_frames, char *err, size_t err_len);

/* audio_open with another bound for input that cannot seek (tests use a small one). */
audio_reader *audio_open_bounded(const char *path, int target_rate, size_t block_frames, size_t stream_max,
                                 char *err, size_t err_len);

/* The same for a sound file held in memory (data, size bytes; not copied: it must outlive the reader),
 * read through libsndfile's virtual I/O; name is used in messages. */
audio_reader *audio_open_memory(const void *data, size_t size, const char *name, int target_rate,
                                size_t block_frames, char *err, size_t err_len);
/* Writes up to max (> 0) samples at the target rate into out. Returns how many (fewer than max only at the end
 * of the file), 0 once everything has been read, or -1 with one line in err on a decode or resampling
 * error. Reading in many small calls or in one large call gives the same samples. */
long audio_read(audio_reader *r, float *out, size_t max, char *err, size_t err_len);

/* The file as found: its own sample rate, channel count and length in its own frames (-1 if libsndfile
 * cannot tell, e.g. for some compressed streams). */
int audio_source_rate(const audio_reader *r);
int audio_source_channels(const audio_reader *r);
int64_t audio_source_frames(const audio_reader *r);

/* Closes the file and frees everything. NULL is accepted. */
void audio_close(audio_reader *r);

#endif /* RNNHOST_AUDIO_H */
