/* rnnhost features: the log-mel matrix the speech front-end computes from a sound file, written as a
 * numpy .npy array or a greyscale PGM picture, so a person can look at (or load) what a model sees. The
 * audio is read and transformed block by block; only the output matrix grows with the file's length. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "atomicfile.h"
#include "audio.h"
#include "commands.h"
#include "hostlog.h"
#include "optgroups.h"
#include "spectrogram.h"

#define READ_BLOCK 16384 /* samples at the target rate per read */
#define FEATURES_MAX_THREADS 64

enum out_format { FORMAT_NPY, FORMAT_PGM };

/* The front-end's settings as options: spec_settings' own fields, so that its defaults are
 * spec_default_settings() itself. Any of them given excludes --model, which brings its own. */
static int parse_int(void *field, const char *arg, const char *name)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 10000000) {
        hostlog_usage("%s wants a positive integer, not '%s'", name, arg);
        return -1;
    }
    *(int *)field = (int)v;
    return 0;
}

static void show_int(char *buf, size_t len, const void *field)
{
    host_fmt(buf, len, "%d", *(const int *)field);
}

typedef struct frontend_opts {
    spec_settings spec;
    int cmvn;
} frontend_opts;

#define INT_OPTION(opt, member, value, text)                                                                   \
    {.name = opt, .kind = CLI_CUSTOM, .offset = offsetof(frontend_opts, spec.member), .arg = value, .help = text, \
     .parse = parse_int, .show = show_int, .size = sizeof(int)}

static const cli_option frontend_options[] = {
    INT_OPTION("sample-rate", sample_rate, "HZ", "rate the audio is resampled to"),
    INT_OPTION("n-fft", n_fft, "N", "FFT size"),
    INT_OPTION("win-length", win_length, "N", "Hann window, in samples"),
    INT_OPTION("hop-length", hop_length, "N", "samples between frames"),
    INT_OPTION("n-mels", n_mels, "N", "mel channels, HTK mel scale"),
    {.name = "fmin", .kind = CLI_NUMBER, .offset = offsetof(frontend_opts, spec.fmin), .arg = "HZ",
     .help = "lowest mel edge", .max = INFINITY},
    {.name = "fmax", .kind = CLI_NUMBER, .offset = offsetof(frontend_opts, spec.fmax), .arg = "HZ",
     .help = "highest mel edge", .shown = "%s; at most half the sample rate", .max = INFINITY},
    {.name = "cepstra", .kind = CLI_CUSTOM, .offset = offsetof(frontend_opts, spec.n_cepstra), .arg = "K",
     .help = "smooth every frame to its first K cepstral coefficients", .shown = "off", .parse = parse_int,
     .size = sizeof(int)},
    {.name = "cmvn", .kind = CLI_FLAG, .offset = offsetof(frontend_opts, cmvn),
     .help = "normalise every mel channel to mean 0, variance 1 over the file"},
    {0},
};
static const cli_section frontend_section = {
    "Front-end (not with --model, whose own settings are taken)", frontend_options};

typedef struct features_opts {
    const char *model;
    uint32_t threads; /* 0: every core */
} features_opts;

static const features_opts defaults = {NULL, 0};

static const cli_option options[] = {
    {.name = "model", .short_name = 'm', .kind = CLI_STRING, .offset = offsetof(features_opts, model), .arg = "NAME",
     .help = "a speech model (a preset name or a file): its own front-end settings, padding and normalisation, "
             "exactly what it sees"},
    {.name = "threads", .kind = CLI_U32, .offset = offsetof(features_opts, threads), .arg = "N",
     .help = "threads that make the frames, the same bits for any number, 0-64; 0: every core",
     .max = FEATURES_MAX_THREADS},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost features [OPTIONS] FILE|-\n"
            "\n"
            "Writes the log-mel spectrogram of a sound file ('-': stdin; any format libsndfile reads; mixed down\n"
            "to mono and resampled) as a numpy .npy array, float32 of shape (frames, mels), or as a greyscale\n"
            "PGM image with time across and low mels at the bottom, scaled from the matrix's minimum (black)\n"
            "to maximum (white).\n"
            "\n"
            "The output defaults to FILE's base name with .npy, here, and to stdout for '-'. Its format is npy\n"
            "or pgm, by its extension (.npy or .pgm); npy for '-' or a name without one; another extension\n"
            "needs --format.\n"
            "\n",
    .tail = "\n"
            "Frames start every hop at sample 0, without padding; a value is log(mel power + 1e-6).\n"
            "A file is written atomically; a link is written through, '-', a FIFO or device as a stream.\n"
            "Exit status: 0 written, 1 unreadable audio or a write failure, 2 usage error (an unknown output\n"
            "extension among them), 3 a model that cannot be read, 130 interrupted.\n",
    .own = {NULL, options},
};

/* FILE's base name with its extension replaced by .npy, in the current directory. */
static void default_output(char *dst, size_t len, const char *in)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    const char *dot = strrchr(base, '.');
    const int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    host_fmt(dst, len, "%.*s.npy", stem, base);
}

/* The log-mel matrix of a file: (frames, n_mels), grown as blocks arrive. */
typedef struct matrix {
    float *data;
    size_t frames, cap;
} matrix;

/* Samples gathered before their frames are made, so that a batch of frames outweighs starting threads. */
#define CHUNK ((size_t)1 << 18)

/* Frames made over several threads: the samples from the start of the next frame wait in buf until a chunk
 * is there; then each thread makes a share of its frames with a spectrogram of its own. A frame depends on
 * its samples alone, so any split gives the bits of one spec_feed over the whole file. The workers live as
 * long as the file's reading and meet the reading thread at two barriers per chunk. */
typedef struct framer framer;

typedef struct frame_worker {
    framer *fr;
    unsigned t; /* its share */
} frame_worker;

struct framer {
    spectrogram *sp[FEATURES_MAX_THREADS]; /* one per thread, the same settings */
    unsigned threads;                      /* the reading thread and the workers that started */
    float *buf;                            /* (CHUNK + win_length) */
    size_t fill;
    float *out;                            /* the chunk's frames go to (frames, n_mels) here */
    size_t frames, hop, n_mels;
    int quit;
    pthread_t tid[FEATURES_MAX_THREADS];
    frame_worker arg[FEATURES_MAX_THREADS];
    sem_t ready;                           /* a worker waits here until the barriers exist */
    pthread_barrier_t go, done;
};

/* Thread t's share of the chunk's frames. */
static void make_frames(framer *fr, unsigned t)
{
    const size_t first = fr->frames * t / fr->threads, last = fr->frames * (t + 1) / fr->threads;
    for (size_t k = first; k < last; k++)
        spec_frame(fr->sp[t], fr->out + k * fr->n_mels, fr->buf + k * fr->hop);
}

static void *frame_worker_main(void *arg)
{
    const frame_worker *w = arg;
    framer *fr = w->fr;
    while (sem_wait(&fr->ready) != 0) // EINTR
        ;
    for (;;) {
        pthread_barrier_wait(&fr->go);
        if (fr->quit)
            return NULL;
        make_frames(fr, w->t);
        pthread_barrier_wait(&fr->done);
    }
}

/* Starts up to threads - 1 workers; fewer start when the system has no more to give. 0, or -1 with err. */
static int framer_start(framer *fr, const spec_settings *s, unsigned threads, char *err, size_t err_len)
{
    memset(fr, 0, sizeof *fr);
    fr->hop = (size_t)s->hop_length, fr->n_mels = (size_t)s->n_mels, fr->threads = 1;
    fr->buf = malloc((CHUNK + (size_t)s->win_length) * sizeof *fr->buf);
    if (!fr->buf || sem_init(&fr->ready, 0, 0) != 0) {
        free(fr->buf);
        host_fmt(err, err_len, "out of memory");
        return -1;
    }
    for (unsigned t = 0; t < threads; t++)
        if (!(fr->sp[t] = spec_new(s, err, err_len)))
            break; // err says which setting, or that memory ran out
    if (fr->sp[0] == NULL)
        return -1;
    for (unsigned t = 1; t < threads && fr->sp[t] != NULL; t++) {
        fr->arg[t] = (frame_worker){fr, t};
        if (pthread_create(&fr->tid[t], NULL, frame_worker_main, &fr->arg[t]) != 0)
            break;
        fr->threads = t + 1;
    }
    if (fr->threads > 1) {
        pthread_barrier_init(&fr->go, NULL, fr->threads);
        pthread_barrier_init(&fr->done, NULL, fr->threads);
        for (unsigned t = 1; t < fr->threads; t++)
            sem_post(&fr->ready);
    }
    return 0;
}

static void framer_stop(framer *fr)
{
    if (fr->threads > 1) {
        fr->quit = 1;
        pthread_barrier_wait(&fr->go);
        for (unsigned t = 1; t < fr->threads; t++)
            pthread_join(fr->tid[t], NULL);
        pthread_barrier_destroy(&fr->go);
        pthread_barrier_destroy(&fr->done);
    }
    sem_destroy(&fr->ready);
    for (unsigned t = 0; t < FEATURES_MAX_THREADS; t++)
        spec_free(fr->sp[t]);
    free(fr->buf);
}

/* Makes every frame the buffered samples complete, appends them to mx and keeps the rest. */
static int flush(matrix *mx, framer *fr, const spec_settings *s, const char *path, char *err, size_t err_len)
{
    const size_t W = (size_t)s->win_length, H = fr->hop, M = fr->n_mels;
    const size_t f = fr->fill < W ? 0 : (fr->fill - W) / H + 1;
    if (f == 0)
        return 0;
    if (mx->frames + f > mx->cap) {
        size_t c = mx->cap ? mx->cap : 1024;
        while (c < mx->frames + f)
            c *= 2;
        float *grown = realloc(mx->data, c * M * sizeof *grown);
        if (!grown) {
            host_fmt(err, err_len, "%s: out of memory for %zu frames", path, c);
            return -1;
        }
        mx->data = grown;
        mx->cap = c;
    }
    fr->out = mx->data + mx->frames * M, fr->frames = f;
    if (fr->threads > 1)
        pthread_barrier_wait(&fr->go);
    make_frames(fr, 0);
    if (fr->threads > 1)
        pthread_barrier_wait(&fr->done);
    mx->frames += f;
    fr->fill -= f * H;
    memmove(fr->buf, fr->buf + f * H, fr->fill * sizeof *fr->buf);
    return 0;
}

/* Appends k samples (or, when x is NULL, k samples of the model front-end's padding). */
static int append(matrix *mx, framer *fr, const spec_settings *s, const float *x, size_t k, const char *path,
                  char *err, size_t err_len)
{
    for (size_t at = 0; at < k;) {
        const size_t room = CHUNK + (size_t)s->win_length - fr->fill, n = k - at < room ? k - at : room;
        if (x)
            memcpy(fr->buf + fr->fill, x + at, n * sizeof *x);
        else
            asr_pad_fill(fr->buf + fr->fill, at, n);
        fr->fill += n;
        at += n;
        if (fr->fill == CHUNK + (size_t)s->win_length && flush(mx, fr, s, path, err, err_len) != 0)
            return -1;
    }
    return 0;
}

/* The frames of the file at path, between pad samples of padding at each end (a model's front-end), made on
 * up to threads threads. */
static int compute(matrix *mx, const char *path, const spec_settings *s, size_t pad, unsigned threads, char *err,
                   size_t err_len)
{
    framer fr;
    if (framer_start(&fr, s, threads, err, err_len) != 0)
        return -1;
    int rc = -1;
    float *block = malloc(READ_BLOCK * sizeof *block);
    audio_reader *ar = NULL;
    if (!block) {
        host_fmt(err, err_len, "out of memory");
        goto done;
    }
    ar = audio_open(path, s->sample_rate, 0, err, err_len);
    if (!ar)
        goto done;
    if (append(mx, &fr, s, NULL, pad, path, err, err_len) != 0)
        goto done;
    for (;;) {
        long got = audio_read(ar, block, READ_BLOCK, err, err_len);
        if (got < 0)
            goto done;
        if (got == 0)
            break;
        if (append(mx, &fr, s, block, (size_t)got, path, err, err_len) != 0)
            goto done;
    }
    if (append(mx, &fr, s, NULL, pad, path, err, err_len) != 0 || flush(mx, &fr, s, path, err, err_len) != 0)
        goto done;
    rc = 0;
done:
    audio_close(ar);
    framer_stop(&fr);
    free(block);
    return rc;
}

/* A version 1.0 .npy: magic, version, a little-endian header length, a Python dict literal padded with
 * spaces to a multiple of 64 bytes and ended by a newline, then the little-endian float32 data. */
static uint8_t *encode_npy(const matrix *mx, size_t n_mels, size_t *size)
{
    char dict[160];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                      mx->frames, n_mels);
    if (dl < 0 || (size_t)dl >= sizeof dict)
        return NULL;
    size_t header = 10 + (size_t)dl + 1;
    header = (header + 63) / 64 * 64;
    const size_t count = mx->frames * n_mels;
    uint8_t *b = malloc(header + count * 4);
    if (!b)
        return NULL;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)((header - 10) & 0xFF);
    b[9] = (uint8_t)((header - 10) >> 8);
    memset(b + 10, ' ', header - 10);
    memcpy(b + 10, dict, (size_t)dl);
    b[header - 1] = '\n';
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &mx->data[i], 4);
        uint8_t *p = b + header + 4 * i;
        p[0] = (uint8_t)u, p[1] = (uint8_t)(u >> 8), p[2] = (uint8_t)(u >> 16), p[3] = (uint8_t)(u >> 24);
    }
    *size = header + count * 4;
    return b;
}

/* Binary PGM, one column per frame and one row per mel channel with the highest at the top. */
static uint8_t *encode_pgm(const matrix *mx, size_t n_mels, size_t *size)
{
    const size_t W = mx->frames, H = n_mels;
    char head[64];
    int hl = snprintf(head, sizeof head, "P5\n%zu %zu\n255\n", W, H);
    if (hl < 0 || (size_t)hl >= sizeof head)
        return NULL;
    uint8_t *b = malloc((size_t)hl + W * H);
    if (!b)
        return NULL;
    memcpy(b, head, (size_t)hl);
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < W * H; i++) {
        lo = mx->data[i] < lo ? mx->data[i] : lo;
        hi = mx->data[i] > hi ? mx->data[i] : hi;
    }
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    uint8_t *px = b + hl;
    for (size_t y = 0; y < H; y++)
        for (size_t t = 0; t < W; t++)
            px[y * W + t] = (uint8_t)lrintf((mx->data[t * n_mels + (H - 1 - y)] - lo) * scale);
    *size = (size_t)hl + W * H;
    return b;
}

int cmd_features(int argc, char **argv)
{
    features_opts o;
    opt_output out;
    frontend_opts fe;
    const frontend_opts fe_defaults = {spec_default_settings(), 0};
    cli_group groups[] = {
        OPT_GROUP(opt_output_section, &out, &opt_output_defaults),
        {&page.own, &o, &defaults, 0, 0},
        {&frontend_section, &fe, &fe_defaults, 0, 0},
    };
    int first;
    const int started = cli_start(groups, CLI_COUNT(groups), argc, argv, &first, &page);
    if (started >= 0)
        return started;
    spec_settings s = fe.spec;
    int cmvn = fe.cmvn;
    float *norm_mean = NULL, *norm_var = NULL; // a model's training-set statistics (--model, norm_prior > 0)
    double prior = 0;
    size_t pad = 0; // a model's padding, in samples at each end
    uint32_t threads = o.threads;
    if (first + 1 != argc) {
        hostlog_usage("%s", first == argc ? "no sound file given" : "one sound file at a time");
        return EXIT_USAGE;
    }
    const char *in = argv[first];
    char err[768];
    if (o.model) {
        if (cli_first_given(&groups[2])) { // the front-end's; not --threads: the frames stay the same
            hostlog_usage("--model takes every front-end setting from the model; give either, not both");
            return EXIT_USAGE;
        }
        char path[4096], why[768];
        asr_model am;
        if (model_resolve(path, sizeof path, o.model, why, sizeof why) != 0 ||
            asr_describe_file(&am, path, why, sizeof why) != 0) {
            hostlog_error("%s", why);
            return EXIT_LOAD;
        }
        s = am.fe;
        cmvn = 1; // the model's features are normalised as asr_features does
        prior = am.norm_prior;
        pad = asr_pad_length(&am);
        if (prior > 0) { // keep the model's statistics, the model itself is not needed
            norm_mean = am.norm_mean, norm_var = am.norm_var;
            am.norm_mean = am.norm_var = NULL;
        }
        asr_close(&am);
    }
    if (!o.model) {
        // A lower rate without --fmax would put the default 8 kHz above Nyquist; follow the rate down instead.
        if (!cli_was_given(groups, CLI_COUNT(groups), &fe.spec.fmax) && s.fmax > s.sample_rate / 2.0)
            s.fmax = s.sample_rate / 2.0;
        // A smaller --n-fft alone shrinks the window with it, so one option is enough for a quick change.
        if (s.win_length > s.n_fft && s.win_length == fe_defaults.spec.win_length)
            s.win_length = s.n_fft;
        if (s.hop_length > s.win_length && s.hop_length == fe_defaults.spec.hop_length)
            s.hop_length = s.win_length;
    }
    if (spec_check_settings(&s, err, sizeof err) != 0) {
        hostlog_usage("%s", err);
        free(norm_mean), free(norm_var);
        return EXIT_USAGE;
    }
    char default_out[512];
    if (!out.path && strcmp(in, "-") == 0) {
        out.path = "-"; /* stdin's features go to stdout, as transcribe's transcripts do */
    } else if (!out.path) {
        default_output(default_out, sizeof default_out, in);
        out.path = default_out;
    }
    static const char *const format_names[] = {"npy", "pgm"}; /* in enum out_format's order */
    const int f = opt_output_format(&out, format_names, 2, FORMAT_NPY);
    if (f < 0) {
        free(norm_mean), free(norm_var);
        return EXIT_USAGE;
    }
    const enum out_format fmt = (enum out_format)f;

    matrix mx = {0};
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : cores > FEATURES_MAX_THREADS ? FEATURES_MAX_THREADS : (uint32_t)cores;
    }
    if (compute(&mx, in, &s, pad, threads, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        free(mx.data);
        free(norm_mean), free(norm_var);
        return EXIT_FAIL;
    }
    if (prior > 0)
        spec_norm_prior(mx.data, mx.frames, (size_t)s.n_mels, norm_mean, norm_var, prior);
    else if (cmvn)
        spec_cmvn(mx.data, mx.frames, (size_t)s.n_mels);
    free(norm_mean), free(norm_var);
    norm_mean = norm_var = NULL;
    if (fmt == FORMAT_PGM && mx.frames == 0) {
        hostlog_error("%s: shorter than one window (%d samples at %d Hz): no image to draw", in, s.win_length,
                      s.sample_rate);
        free(mx.data);
        return EXIT_FAIL;
    }
    size_t size = 0;
    uint8_t *bytes = fmt == FORMAT_PGM ? encode_pgm(&mx, (size_t)s.n_mels, &size)
                                       : encode_npy(&mx, (size_t)s.n_mels, &size);
    int rc = EXIT_FAIL;
    if (!bytes) {
        hostlog_error("out of memory encoding %s", out.path);
    } else if (write_file_atomic(out.path, bytes, size, err, sizeof err) != 0) {
        hostlog_error("%s", err);
    } else if (strcmp(out.path, "-") == 0) {
        rc = EXIT_OK;
    } else {
        hostlog_info("wrote %s (%zu frames x %d mels, %.2f s at %d Hz)", out.path, mx.frames, s.n_mels,
                     mx.frames ? ((double)(mx.frames - 1) * s.hop_length + s.win_length) / s.sample_rate : 0.0,
                     s.sample_rate);
        rc = EXIT_OK;
    }
    free(bytes);
    free(mx.data);
    return rc;
}
