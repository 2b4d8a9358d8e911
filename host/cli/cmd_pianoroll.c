/* rnnhost pianoroll: a picture of a MIDI file, time across and pitch up, so a person can see what a model
 * generated. The picture is laid out once as a list of rectangles; SVG writes them as elements and PNG
 * paints them into pixels, so both formats show the same thing. The PNG encoder is our own and tiny
 * (stored deflate blocks): a picture is written once and looked at, so size matters less than having no
 * image library to depend on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "music.h"
#include "smf.h"

#define DEFAULT_WIDTH 1200
#define DEFAULT_HEIGHT 480
#define MIN_SIDE 16
#define MAX_SIDE 8192

/* ---- layout ----------------------------------------------------------------------------------------- */

enum shape_kind { SHAPE_BACKGROUND, SHAPE_KEY, SHAPE_GRID, SHAPE_NOTE };

typedef struct shape {
    double x, y, w, h;  /* pixels, origin top left */
    uint8_t rgb[3];
    uint8_t kind;       /* enum shape_kind */
    size_t note;        /* SHAPE_NOTE: index into the notes */
} shape;

typedef struct label {
    double x, y;
    char text[16];
    uint8_t anchor_end; /* right-aligned (pitch names) rather than centred (times) */
} label;

typedef struct picture {
    int width, height;
    shape *shapes;
    size_t nshapes, cap;
    label labels[160];  /* SVG only: a PNG has no font */
    size_t nlabels;
} picture;

static int add_shape(picture *pic, double x, double y, double w, double h, const uint8_t rgb[3], int kind,
                     size_t note_index)
{
    if (pic->nshapes == pic->cap) {
        size_t c = pic->cap ? 2 * pic->cap : 256;
        shape *grown = realloc(pic->shapes, c * sizeof *grown);
        if (!grown)
            return -1;
        pic->shapes = grown;
        pic->cap = c;
    }
    pic->shapes[pic->nshapes++] = (shape){x, y, w, h, {rgb[0], rgb[1], rgb[2]}, (uint8_t)kind, note_index};
    return 0;
}

static void add_label(picture *pic, double x, double y, int anchor_end, const char *fmt, ...) HOST_PRINTF(5, 6);

static void add_label(picture *pic, double x, double y, int anchor_end, const char *fmt, ...)
{
    if (pic->nlabels == sizeof pic->labels / sizeof pic->labels[0])
        return;
    label *l = &pic->labels[pic->nlabels++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    l->x = x;
    l->y = y;
    l->anchor_end = (uint8_t)anchor_end;
}

/* One colour per channel, bright enough to stay readable when velocity fades it towards white. */
static const uint8_t channel_colours[16][3] = {
    {31, 119, 180}, {214, 39, 40},  {44, 160, 44},  {148, 103, 189}, {255, 127, 14}, {140, 86, 75},
    {227, 119, 194}, {23, 190, 207}, {188, 189, 34}, {0, 0, 0},      {57, 59, 121}, {173, 73, 74},
    {99, 121, 57},  {123, 65, 115}, {214, 97, 107}, {82, 84, 163},
};

static void note_colour(uint8_t rgb[3], const note *m)
{
    const uint8_t *base = channel_colours[m->channel & 0x0F];
    // Soft notes fade towards white; the loudest keep the full channel colour.
    const double fade = 0.75 * (1.0 - (double)(m->velocity & 0x7F) / 127.0);
    for (int i = 0; i < 3; i++)
        rgb[i] = (uint8_t)lround(base[i] + (255.0 - base[i]) * fade);
}

static void note_edge(uint8_t edge[3], const uint8_t fill[3])
{
    for (int i = 0; i < 3; i++)
        edge[i] = (uint8_t)(fill[i] * 3 / 5);
}

static int is_black_key(int pitch)
{
    const int pc = pitch % 12;
    return pc == 1 || pc == 3 || pc == 6 || pc == 8 || pc == 10;
}

/* Seconds between vertical grid lines: a round number giving at most about 20 lines. */
static double time_grid(double seconds)
{
    static const double steps[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (seconds / steps[i] <= 20)
            return steps[i];
    return ceil(seconds / 20 / 3600) * 3600;
}

static int layout(picture *pic, const note *notes, size_t n, int width, int height)
{
    static const uint8_t white[3] = {255, 255, 255}, key[3] = {240, 240, 244}, octave[3] = {160, 160, 170},
                         second[3] = {222, 222, 228};
    memset(pic, 0, sizeof *pic);
    pic->width = width;
    pic->height = height;

    int lo = 127, hi = 0;
    double end = 0;
    for (size_t i = 0; i < n; i++) {
        lo = notes[i].pitch < lo ? notes[i].pitch : lo;
        hi = notes[i].pitch > hi ? notes[i].pitch : hi;
        end = notes[i].end > end ? notes[i].end : end;
    }
    if (n == 0)
        lo = 48, hi = 83;
    // Whole octaves, C to B, so the octave lines frame the music.
    lo = lo / 12 * 12;
    hi = hi / 12 * 12 + 11;
    if (!(end > 0))
        end = 1;

    const double left = width >= 200 ? 36 : 0, right = width >= 200 ? 8 : 0;
    const double top = height >= 120 ? 8 : 0, bottom = height >= 120 ? 20 : 0;
    const double pw = width - left - right, ph = height - top - bottom;
    const int rows = hi - lo + 1;
    const double rh = ph / rows;
    const double xscale = pw / end;

    if (add_shape(pic, 0, 0, width, height, white, SHAPE_BACKGROUND, 0) != 0)
        return -1;
    for (int p = lo; p <= hi; p++)
        if (is_black_key(p) && add_shape(pic, left, top + (hi - p) * rh, pw, rh, key, SHAPE_KEY, 0) != 0)
            return -1;
    const double grid = time_grid(end);
    for (int k = 0; k * grid <= end + 1e-9; k++) {
        const double x = left + k * grid * xscale;
        if (add_shape(pic, x, top, 1, ph, second, SHAPE_GRID, 0) != 0)
            return -1;
        if (bottom > 0 && (k * grid < end - 0.5 * grid || k == 0))
            add_label(pic, x, height - 6, 0, "%gs", k * grid);
    }
    for (int p = lo; p <= hi + 1; p += 12) {
        // The line sits under each C: the bottom edge of its row.
        const double y = top + (hi - p + 1) * rh;
        if (add_shape(pic, left, y - (p == hi + 1 ? 0 : 1), pw, 1, octave, SHAPE_GRID, 0) != 0)
            return -1;
        if (left > 0 && p <= hi)
            add_label(pic, left - 4, y - 1, 1, "C%d", p / 12 - 1);
    }
    const double gap = rh >= 4 ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t rgb[3];
        note_colour(rgb, &notes[i]);
        const double x = left + notes[i].start * xscale;
        const double w = (notes[i].end - notes[i].start) * xscale;
        if (add_shape(pic, x, top + (hi - notes[i].pitch) * rh + gap / 2, w, rh - gap, rgb, SHAPE_NOTE, i) != 0)
            return -1;
    }
    return 0;
}

/* ---- output buffers --------------------------------------------------------------------------------- */

typedef struct buffer {
    uint8_t *data;
    size_t len, cap;
    int failed;
} buffer;

static void buf_put(buffer *b, const void *p, size_t n)
{
    if (b->failed || n == 0) // n == 0 may come with p == NULL (IEND), which memcpy must not see
        return;
    if (b->cap - b->len < n) {
        size_t c = b->cap ? b->cap : 4096;
        while (c - b->len < n)
            c *= 2;
        uint8_t *grown = realloc(b->data, c);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = c;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_printf(buffer *b, const char *fmt, ...) HOST_PRINTF(2, 3);

static void buf_printf(buffer *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof line) {
        b->failed = 1;
        return;
    }
    buf_put(b, line, (size_t)w);
}

static void buf_be32(buffer *b, uint32_t v)
{
    const uint8_t bytes[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_put(b, bytes, 4);
}

/* ---- SVG -------------------------------------------------------------------------------------------- */

static const char *const pitch_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

static void render_svg(buffer *b, const picture *pic, const note *notes)
{
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
               "<style>text{font:10px sans-serif;fill:#555}</style>\n",
               pic->width, pic->height, pic->width, pic->height);
    static const char *const kind_names[] = {"background", "key", "grid", "note"};
    for (size_t i = 0; i < pic->nshapes; i++) {
        const shape *s = &pic->shapes[i];
        buf_printf(b, "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%02x%02x%02x\"",
                   kind_names[s->kind], s->x, s->y, s->w, s->h, s->rgb[0], s->rgb[1], s->rgb[2]);
        if (s->kind != SHAPE_NOTE) {
            buf_printf(b, "/>\n");
            continue;
        }
        // A tooltip, so a note can be identified by pointing at it.
        const note *m = &notes[s->note];
        uint8_t edge[3];
        note_edge(edge, s->rgb);
        buf_printf(b, " stroke=\"#%02x%02x%02x\" stroke-width=\"%s\"", edge[0], edge[1], edge[2],
                   s->w >= 3 && s->h >= 3 ? "1" : "0");
        buf_printf(b, "><title>%s%d (%u), channel %u, velocity %u, %.3f-%.3f s</title></rect>\n",
                   pitch_names[m->pitch % 12], m->pitch / 12 - 1, m->pitch, m->channel + 1u, m->velocity, m->start,
                   m->end);
    }
    for (size_t i = 0; i < pic->nlabels; i++) {
        const label *l = &pic->labels[i];
        buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\">%s</text>\n", l->x, l->y,
                   l->anchor_end ? "end" : "middle", l->text);
    }
    buf_printf(b, "</svg>\n");
}

/* ---- PNG -------------------------------------------------------------------------------------------- */

static uint32_t crc32_of(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t adler32_of(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t a = adler & 0xFFFF, b = adler >> 16;
    while (n > 0) {
        // 5552 bytes is the most that can be summed before b may overflow 32 bits.
        size_t chunk = n < 5552 ? n : 5552;
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

/* One chunk: length, type, data, and the CRC of type and data. */
static void png_chunk(buffer *b, const char type[4], const uint8_t *data, size_t n)
{
    buf_be32(b, (uint32_t)n);
    const size_t at = b->len;
    buf_put(b, type, 4);
    buf_put(b, data, n);
    if (!b->failed)
        buf_be32(b, crc32_of(0, b->data + at, n + 4));
}

/* An 8-bit RGB PNG of rgb (height rows of width*3 bytes), every row with filter 0 and the zlib stream made
 * of stored blocks. */
static int png_encode(buffer *b, const uint8_t *rgb, uint32_t width, uint32_t height)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    const size_t row = (size_t)width * 3, raw = (row + 1) * height;
    const size_t blocks = raw ? (raw + 65534) / 65535 : 1;
    const size_t zlen = 2 + raw + 5 * blocks + 4;
    if (zlen > 0x7FFFFFFF) // the most one chunk may hold
        return -1;
    uint8_t *z = malloc(zlen);
    if (!z)
        return -1;
    size_t k = 0;
    z[k++] = 0x78; // deflate, 32 KiB window
    z[k++] = 0x01; // no preset dictionary, lowest level; 0x7801 is a multiple of 31 as the header requires
    uint32_t adler = 1;
    size_t done = 0;
    /* The raw scanlines are streamed into blocks without being built first: the filter byte of each row is
     * the only thing interleaved with the pixels. */
    size_t y = 0, x = 0; // position in the raw stream: row y, byte x of (filter byte + row)
    for (size_t blk = 0; blk < blocks; blk++) {
        const size_t len = raw - done < 65535 ? raw - done : 65535;
        z[k++] = blk + 1 == blocks ? 1 : 0; // BFINAL on the last, BTYPE 00 (stored)
        z[k++] = (uint8_t)len;
        z[k++] = (uint8_t)(len >> 8);
        z[k++] = (uint8_t)~len;
        z[k++] = (uint8_t)(~len >> 8);
        const size_t start = k;
        size_t left = len;
        while (left > 0) {
            if (x == 0) {
                z[k++] = 0; // filter: none
                x = 1;
                left--;
                continue;
            }
            size_t take = row + 1 - x < left ? row + 1 - x : left;
            memcpy(z + k, rgb + y * row + (x - 1), take);
            k += take;
            x += take;
            left -= take;
            if (x == row + 1)
                x = 0, y++;
        }
        adler = adler32_of(adler, z + start, len);
        done += len;
    }
    z[k++] = (uint8_t)(adler >> 24);
    z[k++] = (uint8_t)(adler >> 16);
    z[k++] = (uint8_t)(adler >> 8);
    z[k++] = (uint8_t)adler;

    const uint8_t ihdr[13] = {(uint8_t)(width >> 24), (uint8_t)(width >> 16), (uint8_t)(width >> 8), (uint8_t)width,
                              (uint8_t)(height >> 24), (uint8_t)(height >> 16), (uint8_t)(height >> 8), (uint8_t)height,
                              8, 2, 0, 0, 0}; // 8 bits, truecolour, deflate, filter method 0, no interlace
    buf_put(b, signature, 8);
    png_chunk(b, "IHDR", ihdr, sizeof ihdr);
    png_chunk(b, "IDAT", z, k);
    png_chunk(b, "IEND", NULL, 0);
    free(z);
    return b->failed ? -1 : 0;
}

/* The pixels a rectangle covers: from the pixel its edge falls in, at least one pixel wide and high so
 * thin lines and short notes stay visible. */
static void paint(uint8_t *rgb, int width, int height, const shape *s)
{
    long x0 = lround(s->x), y0 = lround(s->y);
    long x1 = lround(s->x + s->w), y1 = lround(s->y + s->h);
    if (x1 <= x0)
        x1 = x0 + 1;
    if (y1 <= y0)
        y1 = y0 + 1;
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > width ? width : x1;
    y1 = y1 > height ? height : y1;
    uint8_t edge[3];
    note_edge(edge, s->rgb);
    // Notes wide and tall enough get a darker outline, so repeated notes of one pitch stay apart.
    const int outline = s->kind == SHAPE_NOTE && x1 - x0 >= 3 && y1 - y0 >= 3;
    for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++) {
            const int border = outline && (x == x0 || x == x1 - 1 || y == y0 || y == y1 - 1);
            memcpy(rgb + ((size_t)y * (size_t)width + (size_t)x) * 3, border ? edge : s->rgb, 3);
        }
}

static int render_png(buffer *b, const picture *pic)
{
    uint8_t *rgb = malloc((size_t)pic->width * (size_t)pic->height * 3);
    if (!rgb)
        return -1;
    for (size_t i = 0; i < pic->nshapes; i++)
        paint(rgb, pic->width, pic->height, &pic->shapes[i]);
    int rc = png_encode(b, rgb, (uint32_t)pic->width, (uint32_t)pic->height);
    free(rgb);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rnnhost pianoroll IN.mid -o OUT.svg|OUT.png|- [OPTIONS]\n"
            "\n"
            "Draws a piano roll of a Standard MIDI File: time from left to right, pitch upwards (the range\n"
            "the notes use, in whole octaves, with a line under every C), one rectangle per note, coloured\n"
            "by channel and paler the softer it is played. The format follows OUT's extension; SVG carries\n"
            "labels and a tooltip per note. A file is written atomically (a link is written through).\n"
            "\n"
            "  -o, --output FILE   where to write, ending in .svg or .png, or '-' for stdout (required)\n"
            "  -f, --format FMT    svg or png (default: OUT's extension; needed for '-' or a name without one)\n"
            "      --width N       width in pixels, %d..%d (default: %d)\n"
            "      --height N      height in pixels, %d..%d (default: %d)\n"
            "  -h, --help          this help\n",
            MIN_SIDE, MAX_SIDE, DEFAULT_WIDTH, MIN_SIDE, MAX_SIDE, DEFAULT_HEIGHT);
}

static int parse_side(int *out, const char *opt, const char *text)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < MIN_SIDE || v > MAX_SIDE) {
        hostlog_usage("pianoroll: %s takes a whole number of pixels in %d..%d, not '%s'", opt, MIN_SIDE, MAX_SIDE,
                      text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cmd_pianoroll(int argc, char **argv)
{
    enum { O_WIDTH = 256, O_HEIGHT };
    static const struct option long_options[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"width", required_argument, NULL, O_WIDTH},
        {"height", required_argument, NULL, O_HEIGHT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *format = NULL;
    int width = DEFAULT_WIDTH, height = DEFAULT_HEIGHT, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:f:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f': format = optarg; break;
        case O_WIDTH:
            if (parse_side(&width, "--width", optarg) != 0)
                return EXIT_USAGE;
            break;
        case O_HEIGHT:
            if (parse_side(&height, "--height", optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            hostlog_usage("pianoroll: unknown or incomplete option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        hostlog_usage("pianoroll: needs one IN.mid and -o OUT");
        return EXIT_USAGE;
    }
    static const char *const format_names[] = {"svg", "png"};
    const int fmt = cli_output_format(out, format, format_names, 2, -1, "pianoroll");
    if (fmt < 0)
        return EXIT_USAGE;
    const int svg = fmt == 0;

    const char *in = argv[optind];
    smf_file f;
    char err[1024];
    if (smf_read(&f, in, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        return EXIT_FAIL;
    }
    note *notes = NULL;
    size_t n = 0;
    int ok = notes_from_smf(&notes, &n, &f) == 0;
    smf_free(&f);
    if (!ok) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }

    int rc = EXIT_FAIL;
    picture pic;
    buffer b = {0};
    if (layout(&pic, notes, n, width, height) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    if (svg)
        render_svg(&b, &pic, notes);
    else if (render_png(&b, &pic) != 0)
        b.failed = 1;
    if (b.failed) {
        hostlog_error("out of memory drawing %s", out);
        goto done;
    }
    if (write_file_atomic(out, b.data, b.len, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    double end = 0;
    for (size_t i = 0; i < n; i++)
        end = notes[i].end > end ? notes[i].end : end;
    hostlog_info("wrote %s (%d x %d, %zu note%s, %.1f s)", output_name(out), width, height, n, n == 1 ? "" : "s", end);
    rc = EXIT_OK;
done:
    free(pic.shapes);
    free(b.data);
    free(notes);
    return rc;
}
