/* rnnhost pianoroll: a picture of a MIDI file, time across and pitch up, so a person can see what a model
 * generated. The picture and its two renderers are music/rollpicture.h's; this is the command around them. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "atomicfile.h"
#include "commands.h"
#include "hostlog.h"
#include "music.h"
#include "optgroups.h"
#include "rollpicture.h"
#include "smf.h"

typedef struct roll_opts {
    uint32_t width, height; /* pixels */
} roll_opts;

static const roll_opts defaults = {.width = 1200, .height = 480};

static const cli_option options[] = {
    {.name = "width", .kind = CLI_U32, .offset = offsetof(roll_opts, width), .arg = "N",
     .help = "width in pixels, 16-8192", .min = 16, .max = 8192},
    {.name = "height", .kind = CLI_U32, .offset = offsetof(roll_opts, height), .arg = "N",
     .help = "height in pixels, 16-8192", .min = 16, .max = 8192},
    {0},
};

static const cli_page page = {
    .head = "usage: rnnhost pianoroll IN.mid -o OUT.svg|OUT.png|- [OPTIONS]\n"
            "\n"
            "Draws a piano roll of a Standard MIDI File: time from left to right, pitch upwards (the range\n"
            "the notes use, in whole octaves, with a line under every C), one rectangle per note, coloured\n"
            "by channel and paler the softer it is played. -o is required; the format follows OUT's\n"
            "extension, .svg or .png, and --format svg or png is needed for '-' or a name without one.\n"
            "SVG carries labels and a tooltip per note.\n"
            "\n",
    .own = {NULL, options},
};

int cmd_pianoroll(int argc, char **argv)
{
    opt_output out;
    roll_opts o;
    cli_group groups[] = {
        OPT_GROUP(opt_output_section, &out, &opt_output_defaults),
        {&page.own, &o, &defaults, 0, 0},
    };
    int first;
    const int started = cli_start(groups, CLI_COUNT(groups), argc, argv, &first, &page);
    if (started >= 0)
        return started;
    if (first + 1 != argc || !out.path) {
        hostlog_usage("pianoroll: needs one IN.mid and -o OUT");
        return EXIT_USAGE;
    }
    static const char *const format_names[] = {"svg", "png"};
    const int fmt = opt_output_format(&out, format_names, 2, -1);
    if (fmt < 0)
        return EXIT_USAGE;
    const int svg = fmt == 0;

    const char *in = argv[first];
    const int width = (int)o.width, height = (int)o.height;
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
        hostlog_error("out of memory drawing %s", out.path);
        goto done;
    }
    if (write_file_atomic(out.path, b.data, b.len, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        goto done;
    }
    double end = 0;
    for (size_t i = 0; i < n; i++)
        end = notes[i].end > end ? notes[i].end : end;
    hostlog_info("wrote %s (%d x %d, %zu note%s, %.1f s)", output_name(out.path), width, height, n, n == 1 ? "" : "s",
                 end);
    rc = EXIT_OK;
done:
    roll_picture_free(&pic);
    bytebuf_free(&b);
    free(notes);
    return rc;
}
