#include "rollpicture.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"

static int add_shape(roll_picture *pic, double x, double y, double w, double h, const uint8_t rgb[3], int kind,
                     size_t note_index)
{
    if (pic->nshapes == pic->cap) {
        size_t c = pic->cap ? 2 * pic->cap : 256;
        roll_shape *grown = realloc(pic->shapes, c * sizeof *grown);
        if (!grown)
            return -1;
        pic->shapes = grown;
        pic->cap = c;
    }
    pic->shapes[pic->nshapes++] = (roll_shape){x, y, w, h, {rgb[0], rgb[1], rgb[2]}, (uint8_t)kind, note_index};
    return 0;
}

static void add_label(roll_picture *pic, double x, double y, int anchor_end, const char *fmt, ...) HOST_PRINTF(5, 6);

static void add_label(roll_picture *pic, double x, double y, int anchor_end, const char *fmt, ...)
{
    if (pic->nlabels == sizeof pic->labels / sizeof pic->labels[0])
        return;
    roll_label *l = &pic->labels[pic->nlabels++];
    va_list ap;
    va_start(ap, fmt);
    host_vfmt(l->text, sizeof l->text, fmt, ap);
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

void roll_note_edge(uint8_t edge[3], const uint8_t fill[3])
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

int roll_layout(roll_picture *pic, const note *notes, size_t n, int width, int height)
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

    if (add_shape(pic, 0, 0, width, height, white, ROLL_BACKGROUND, 0) != 0)
        return -1;
    for (int p = lo; p <= hi; p++)
        if (is_black_key(p) && add_shape(pic, left, top + (hi - p) * rh, pw, rh, key, ROLL_KEY, 0) != 0)
            return -1;
    const double grid = time_grid(end);
    for (int k = 0; k * grid <= end + 1e-9; k++) {
        const double x = left + k * grid * xscale;
        if (add_shape(pic, x, top, 1, ph, second, ROLL_GRID, 0) != 0)
            return -1;
        if (bottom > 0 && (k * grid < end - 0.5 * grid || k == 0))
            add_label(pic, x, height - 6, 0, "%gs", k * grid);
    }
    for (int p = lo; p <= hi + 1; p += 12) {
        // The line sits under each C: the bottom edge of its row.
        const double y = top + (hi - p + 1) * rh;
        if (add_shape(pic, left, y - (p == hi + 1 ? 0 : 1), pw, 1, octave, ROLL_GRID, 0) != 0)
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
        if (add_shape(pic, x, top + (hi - notes[i].pitch) * rh + gap / 2, w, rh - gap, rgb, ROLL_NOTE, i) != 0)
            return -1;
    }
    return 0;
}

void roll_picture_free(roll_picture *pic)
{
    free(pic->shapes);
    pic->shapes = NULL;
    pic->nshapes = pic->cap = 0;
}
