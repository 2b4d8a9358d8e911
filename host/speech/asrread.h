/* A whole recording in memory, for what needs all of it at once (a training list, a test); transcription
 * reads in blocks instead (asrdecode.h), so its memory does not grow with the recording. */
#ifndef RNNHOST_ASRREAD_H
#define RNNHOST_ASRREAD_H

#include <stddef.h>

/* A whole sound file as mono float samples at rate Hz (malloc'd into *samples). 0, or -1 with one line in
 * err. Refuses files longer than max_seconds (0: no limit), so a training list cannot exhaust memory. */
int asr_read_file(float **samples, size_t *n, const char *path, int rate, double max_seconds, char *err,
                  size_t err_len);

#endif /* RNNHOST_ASRREAD_H */
