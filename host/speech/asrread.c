#include "asrread.h"

#include <stdint.h>
#include <stdlib.h>

#include "audio.h"
#include "hostlog.h"

int asr_read_file(float **samples, size_t *n, const char *path, int rate, double max_seconds, char *err,
                  size_t err_len)
{
    *samples = NULL, *n = 0;
    audio_reader *ar = audio_open(path, rate, 0, err, err_len);
    if (!ar)
        return -1;
    const size_t limit = max_seconds > 0 ? (size_t)(max_seconds * rate) : SIZE_MAX;
    size_t cap = 0;
    float *buf = NULL;
    for (;;) {
        if (*n + 4096 > cap) {
            size_t c = cap ? cap * 2 : 16384;
            float *g = realloc(buf, c * sizeof *g);
            if (!g) {
                host_fmt(err, err_len, "%s: out of memory", path);
                goto fail;
            }
            buf = g, cap = c;
        }
        long got = audio_read(ar, buf + *n, 4096, err, err_len);
        if (got < 0)
            goto fail;
        if (got == 0)
            break;
        *n += (size_t)got;
        if (*n > limit) {
            host_fmt(err, err_len, "%s: longer than %.0f s", path, max_seconds);
            goto fail;
        }
    }
    audio_close(ar);
    *samples = buf;
    return 0;
fail:
    audio_close(ar);
    free(buf);
    *n = 0;
    return -1;
}
