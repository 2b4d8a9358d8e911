/* The picture of notes as PNG: every shape painted into pixels in order, then encoded (base/png.h). */
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

int roll_render_png(bytebuf *b, const roll_picture *pic)
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
