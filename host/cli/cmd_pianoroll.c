/* rnnhost pianoroll: a picture of a MIDI file, time across and pitch up, so a person can see what a model
 * generated. The picture and its two renderers are music/rollpicture.h's; this is the command around them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "atomicfile.h"
#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "music.h"
#include "rollpicture.h"
#include "smf.h"

#define DEFAULT_WIDTH 1200
#define DEFAULT_HEIGHT 480
#define MIN_SIDE 16
#define MAX_SIDE 8192

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
    roll_picture pic;
    bytebuf b = {0};
    if (roll_layout(&pic, notes, n, width, height) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    if (svg)
        roll_render_svg(&b, &pic, notes);
    else if (roll_render_png(&b, &pic) != 0)
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
    roll_picture_free(&pic);
    bytebuf_free(&b);
    free(notes);
    return rc;
}
