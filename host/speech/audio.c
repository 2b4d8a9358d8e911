/* Decoding with libsndfile, mixing down and resampling with libsamplerate's streaming interface. Both
 * libraries keep their own state between calls, so a reader needs only two fixed buffers: the
 * interleaved frames of one decoded block and the same block mixed to mono, waiting for the resampler. */
#include "audio.h"

#include <samplerate.h>
#include <sndfile.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostlog.h"

#define DEFAULT_BLOCK_FRAMES 4096
/* libsamplerate accepts ratios within 1/256 .. 256; the rates below keep every sane pair inside that. */
#define MIN_RATE 1000
#define MAX_RATE 384000
/* src_process counts frames in a long, and audio_read returns one. */
#define LONG_MAX_SAMPLES (LONG_MAX / 2)

/* A sound file held in memory, read through libsndfile's virtual I/O. */
typedef struct mem_file {
    const unsigned char *data;
    sf_count_t size, pos;
} mem_file;

struct audio_reader {
    SNDFILE *file;
    mem_file mem;         /* the bytes read by audio_open_memory (not owned), or a stream's (owned) */
    unsigned char *owned; /* a stream read whole, freed on close */
    int fd;               /* the descriptor libsndfile reads, closed on close; -1 for none or stdin */
    SF_INFO info;
    SRC_STATE *src;       /* NULL when the file is already at the target rate */
    double ratio;         /* target rate / source rate */
    size_t block_frames;
    float *interleaved;   /* (block_frames, channels) */
    float *mono;          /* (block_frames,): decoded, not yet handed to the resampler or the caller */
    size_t mono_len, mono_pos;
    int eof;              /* the decoder has nothing more */
    int done;             /* the resampler is flushed too */
    char path[512];
};

/* A file cut short (a copy interrupted, a download stopped) still opens: libsndfile shortens the audio
 * to what is there and notes in its log that the header's data length "should be" smaller. Such a file is
 * refused, so a half recording is never transcribed or trained on as if it were whole. */
static int truncated(audio_reader *r, char *err, size_t err_len)
{
    char log[2048];
    long long said, is;
    sf_command(r->file, SFC_GET_LOG_INFO, log, sizeof log);
    for (const char *p = strstr(log, "\ndata"); p; p = strstr(p + 1, "\ndata")) {
        const char *colon = strchr(p, ':');
        if (colon && sscanf(colon + 1, " %lld (should be %lld)", &said, &is) == 2 && said > is) {
            host_fmt(err, err_len, "%s: truncated (the header promises %lld bytes of audio, the file holds %lld)",
                     r->path, said, is);
            return 1;
        }
    }
    return 0;
}

static sf_count_t mem_length(void *user)
{
    return ((mem_file *)user)->size;
}

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user)
{
    mem_file *m = user;
    sf_count_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    // libsndfile seeks to offsets a header states: refuse what lies outside the bytes instead of wrapping
    if ((whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) || offset < -base ||
        offset > m->size - base)
        return -1;
    m->pos = base + offset;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user)
{
    mem_file *m = user;
    if (count < 0)
        return 0;
    sf_count_t k = m->size - m->pos < count ? m->size - m->pos : count;
    if (k > 0)
        memcpy(ptr, m->data + m->pos, (size_t)k);
    m->pos += k;
    return k;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr, (void)count, (void)user;
    return 0;
}

static sf_count_t mem_tell(void *user)
{
    return ((mem_file *)user)->pos;
}

static audio_reader *reader_new(const char *name, int target_rate, char *err, size_t err_len)
{
    if (target_rate < MIN_RATE || target_rate > MAX_RATE) {
        host_fmt(err, err_len, "%s: target sample rate %d Hz is outside %d..%d", name, target_rate, MIN_RATE, MAX_RATE);
        return NULL;
    }
    audio_reader *r = calloc(1, sizeof *r);
    if (!r) {
        host_fmt(err, err_len, "%s: out of memory", name);
        return NULL;
    }
    host_fmt(r->path, sizeof r->path, "%s", name);
    r->fd = -1;
    return r;
}

/* Everything after libsndfile opened r->file (or failed to): the checks and buffers both openers share. */
static audio_reader *reader_start(audio_reader *r, int target_rate, size_t block_frames, char *err, size_t err_len)
{
    const char *path = r->path;
    if (!r->file) {
        // sf_strerror(NULL) explains the last failed open: an unknown format or a broken header.
        host_fmt(err, err_len, "%s: not a sound file libsndfile can read (%s)", path, sf_strerror(NULL));
        audio_close(r);
        return NULL;
    }
    if (r->info.channels < 1 || r->info.channels > 256 || r->info.samplerate < MIN_RATE ||
        r->info.samplerate > MAX_RATE) {
        host_fmt(err, err_len, "%s: unsupported sound file (%d channel(s) at %d Hz)", path, r->info.channels,
                 r->info.samplerate);
        audio_close(r);
        return NULL;
    }
    if (truncated(r, err, err_len)) {
        audio_close(r);
        return NULL;
    }
    r->block_frames = block_frames ? block_frames : DEFAULT_BLOCK_FRAMES;
    // Integer files come back scaled to -1..1; float files are passed through as they are.
    sf_command(r->file, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    r->interleaved = malloc(r->block_frames * (size_t)r->info.channels * sizeof *r->interleaved);
    r->mono = malloc(r->block_frames * sizeof *r->mono);
    if (!r->interleaved || !r->mono) {
        host_fmt(err, err_len, "%s: out of memory", path);
        audio_close(r);
        return NULL;
    }
    r->ratio = (double)target_rate / r->info.samplerate;
    if (r->info.samplerate != target_rate) {
        int e = 0;
        r->src = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &e);
        if (!r->src) {
            host_fmt(err, err_len, "%s: cannot start the resampler (%s)", path, src_strerror(e));
            audio_close(r);
            return NULL;
        }
    }
    return r;
}

/* Everything fd gives until its end, at most max bytes, into r->owned and r->mem. 0, or -1 with err. */
static int read_stream(audio_reader *r, int fd, size_t max, char *err, size_t err_len)
{
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                host_fmt(err, err_len, "%s: more than %zu MB through a pipe; give it as a file", r->path,
                         max >> 20 ? max >> 20 : 1);
                return -1;
            }
            size_t c = cap ? 2 * cap : 1 << 16;
            c = c > max + 1 ? max + 1 : c; // one byte past the bound tells a stream that is too long
            unsigned char *g = realloc(r->owned, c);
            if (!g) {
                host_fmt(err, err_len, "%s: out of memory reading it", r->path);
                return -1;
            }
            r->owned = g, cap = c;
        }
        const ssize_t got = read(fd, r->owned + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            host_fmt(err, err_len, "%s: cannot read: %s", r->path, strerror(errno));
            return -1;
        }
        if (got == 0)
            break;
        len += (size_t)got;
        if (len > max) {
            host_fmt(err, err_len, "%s: more than %zu MB through a pipe; give it as a file", r->path,
                     max >> 20 ? max >> 20 : 1);
            return -1;
        }
    }
    r->mem = (mem_file){r->owned, (sf_count_t)len, 0};
    return 0;
}

audio_reader *audio_open(const char *path, int target_rate, size_t block_frames, char *err, size_t err_len)
{
    return audio_open_bounded(path, target_rate, block_frames, AUDIO_STREAM_MAX, err, err_len);
}

audio_reader *audio_open_bounded(const char *path, int target_rate, size_t block_frames, size_t stream_max,
                                 char *err, size_t err_len)
{
    audio_reader *r = reader_new(path, target_rate, err, err_len);
    if (!r)
        return NULL;
    const int is_stdin = strcmp(path, "-") == 0;
    const int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        const int e = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
        host_fmt(err, err_len, "%s: %s", path, e == ENOENT ? "no such file" : e == EISDIR ? "is a folder, not a sound file"
                                                                                     : strerror(e));
        if (fd > 0)
            close(fd);
        free(r);
        return NULL;
    }
    r->fd = is_stdin ? -1 : fd;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        // libsndfile reads from the descriptor's position on, which for stdin may be past 0
        r->file = sf_open_fd(fd, SFM_READ, &r->info, SF_FALSE);
    } else {
        if (read_stream(r, fd, stream_max, err, err_len) != 0) {
            audio_close(r);
            return NULL;
        }
        SF_VIRTUAL_IO io = {mem_length, mem_seek, mem_read, mem_write, mem_tell};
        r->file = sf_open_virtual(&io, SFM_READ, &r->info, &r->mem);
    }
    return reader_start(r, target_rate, block_frames, err, err_len);
}

audio_reader *audio_open_memory(const void *data, size_t size, const char *name, int target_rate,
                                size_t block_frames, char *err, size_t err_len)
{
    if (size > (size_t)INT64_MAX) {
        host_fmt(err, err_len, "%s: too large", name);
        return NULL;
    }
    audio_reader *r = reader_new(name, target_rate, err, err_len);
    if (!r)
        return NULL;
    r->mem = (mem_file){data, (sf_count_t)size, 0};
    SF_VIRTUAL_IO io = {mem_length, mem_seek, mem_read, mem_write, mem_tell};
    r->file = sf_open_virtual(&io, SFM_READ, &r->info, &r->mem);
    return reader_start(r, target_rate, block_frames, err, err_len);
}

/* Decodes the next block into r->mono. Returns 0, or -1 with err set. */
static int refill(audio_reader *r, char *err, size_t err_len)
{
    const int ch = r->info.channels;
    sf_count_t got = sf_readf_float(r->file, r->interleaved, (sf_count_t)r->block_frames);
    if (got < 0 || (got == 0 && sf_error(r->file) != SF_ERR_NO_ERROR)) {
        host_fmt(err, err_len, "%s: cannot decode (%s)", r->path, sf_strerror(r->file));
        return -1;
    }
    if (got == 0)
        r->eof = 1;
    // The mean of the channels keeps a mono file unchanged and a stereo one from clipping.
    const float scale = 1.0f / (float)ch;
    for (sf_count_t i = 0; i < got; i++) {
        const float *frame = r->interleaved + (size_t)i * (size_t)ch;
        float sum = 0;
        for (int c = 0; c < ch; c++)
            sum += frame[c];
        r->mono[i] = ch == 1 ? sum : sum * scale;
    }
    r->mono_len = (size_t)got;
    r->mono_pos = 0;
    return 0;
}

long audio_read(audio_reader *r, float *out, size_t max, char *err, size_t err_len)
{
    if (max > (size_t)LONG_MAX_SAMPLES)
        max = (size_t)LONG_MAX_SAMPLES;
    size_t produced = 0;
    while (produced < max && !r->done) {
        if (r->mono_pos == r->mono_len && !r->eof && refill(r, err, err_len) != 0)
            return -1;
        const size_t pending = r->mono_len - r->mono_pos;
        if (!r->src) {
            if (pending == 0) {
                r->done = r->eof;
                continue;
            }
            const size_t take = pending < max - produced ? pending : max - produced;
            memcpy(out + produced, r->mono + r->mono_pos, take * sizeof *out);
            r->mono_pos += take;
            produced += take;
            continue;
        }
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = r->mono + r->mono_pos;
        d.input_frames = (long)pending;
        d.data_out = out + produced;
        d.output_frames = (long)(max - produced);
        // All pending input is offered, so the end of the file is the end of the resampler's input.
        d.end_of_input = r->eof;
        d.src_ratio = r->ratio;
        const int e = src_process(r->src, &d);
        if (e != 0) {
            host_fmt(err, err_len, "%s: resampling failed (%s)", r->path, src_strerror(e));
            return -1;
        }
        r->mono_pos += (size_t)d.input_frames_used;
        produced += (size_t)d.output_frames_gen;
        if (r->eof && d.output_frames_gen == 0 && r->mono_pos == r->mono_len)
            r->done = 1;
    }
    return (long)produced;
}

int audio_source_rate(const audio_reader *r)
{
    return r->info.samplerate;
}

int audio_source_channels(const audio_reader *r)
{
    return r->info.channels;
}

int64_t audio_source_frames(const audio_reader *r)
{
    // libsndfile reports SF_COUNT_MAX when a stream's length is unknown.
    return r->info.frames == SF_COUNT_MAX ? -1 : (int64_t)r->info.frames;
}

void audio_close(audio_reader *r)
{
    if (!r)
        return;
    if (r->src)
        src_delete(r->src);
    if (r->file)
        sf_close(r->file);
    if (r->fd >= 0)
        close(r->fd);
    free(r->owned);
    free(r->interleaved);
    free(r->mono);
    free(r);
}
