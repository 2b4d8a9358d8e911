/* The picture of notes as PNG: every shape painted into pixels in order, then the labels, then encoded
 * (base/png.h). */
#include "rollpicture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "png.h"

/* The pixels a rectangle covers: from the pixel its edge falls in, at least one pixel wide and high so
 * thin lines and short notes stay visible. */
static void paint(uint8_t *rgb, int width, int height, const roll_shape *s)
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
    roll_note_edge(edge, s->rgb);
    // Notes wide and tall enough get a darker outline, so repeated notes of one pitch stay apart.
    const int outline = s->kind == ROLL_NOTE && x1 - x0 >= 3 && y1 - y0 >= 3;
    for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++) {
            const int border = outline && (x == x0 || x == x1 - 1 || y == y0 || y == y1 - 1);
            memcpy(rgb + ((size_t)y * (size_t)width + (size_t)x) * 3, border ? edge : s->rgb, 3);
        }
}

/* The labels' characters (times such as "2.5s" and "1e+03s", octaves such as "C4" and "C-1") in a 5x7 font of
 * our own: seven rows of five pixels each, the leftmost the highest bit. */
static const struct glyph {
    char c;
    uint8_t rows[7];
} font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}}, {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
};
enum { GLYPH_W = 5, GLYPH_H = 7, GLYPH_ADVANCE = GLYPH_W + 1 };

/* A label in the SVG's text colour: its baseline (the font's bottom row) at y, centred on x or ending there.
 * A character the font lacks leaves its space blank; pixels outside the picture are skipped. */
static void paint_label(uint8_t *rgb, int width, int height, const roll_label *l)
{
    static const uint8_t ink[3] = {0x55, 0x55, 0x55};
    const long len = (long)strlen(l->text), w = len * GLYPH_ADVANCE - 1;
    const long x0 = lround(l->anchor_end ? l->x - w : l->x - w / 2.0), y0 = lround(l->y) - GLYPH_H + 1;
    for (long i = 0; i < len; i++) {
        const struct glyph *g = NULL;
        for (size_t k = 0; k < sizeof font / sizeof font[0]; k++)
            if (font[k].c == l->text[i])
                g = &font[k];
        for (int r = 0; g && r < GLYPH_H; r++)
            for (int c = 0; c < GLYPH_W; c++) {
                const long x = x0 + i * GLYPH_ADVANCE + c, y = y0 + r;
                if ((g->rows[r] >> (GLYPH_W - 1 - c)) & 1 && x >= 0 && x < width && y >= 0 && y < height)
                    memcpy(rgb + ((size_t)y * (size_t)width + (size_t)x) * 3, ink, 3);
            }
    }
}

int roll_render_png(bytebuf *b, const roll_picture *pic)
{
    uint8_t *rgb = malloc((size_t)pic->width * (size_t)pic->height * 3);
    if (!rgb)
        return -1;
    for (size_t i = 0; i < pic->nshapes; i++)
        paint(rgb, pic->width, pic->height, &pic->shapes[i]);
    for (size_t i = 0; i < pic->nlabels; i++)
        paint_label(rgb, pic->width, pic->height, &pic->labels[i]);
    int rc = png_encode(b, rgb, (uint32_t)pic->width, (uint32_t)pic->height);
    free(rgb);
    return rc;
}
