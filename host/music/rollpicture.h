/* A picture of notes, as `rnnhost pianoroll` draws them: time from left to right, pitch upwards (the range
 * the notes use, in whole octaves, with a line under every C), one rectangle per note, coloured by channel
 * and paler the softer it is played, with the times below and the octaves at the left. The picture is laid
 * out once as a list of rectangles and labels; the SVG renderer writes them as elements and the PNG renderer
 * paints them into pixels (the labels in a small font of its own), so both formats show the same. */
#ifndef RNNHOST_ROLLPICTURE_H
#define RNNHOST_ROLLPICTURE_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "music.h"

enum roll_shape_kind { ROLL_BACKGROUND, ROLL_KEY, ROLL_GRID, ROLL_NOTE };

typedef struct roll_shape {
    double x, y, w, h;  /* pixels, origin top left */
    uint8_t rgb[3];
    uint8_t kind;       /* enum roll_shape_kind */
    size_t note;        /* ROLL_NOTE: index into the notes */
} roll_shape;

typedef struct roll_label {
    double x, y;
    char text[16];
    uint8_t anchor_end; /* right-aligned (pitch names) rather than centred (times) */
} roll_label;

typedef struct roll_picture {
    int width, height;
    roll_shape *shapes; /* in drawing order: later ones cover earlier ones */
    size_t nshapes, cap;
    roll_label labels[160]; /* drawn over the shapes */
    size_t nlabels;
} roll_picture;

/* Lays out the n notes (seconds) in a picture of width x height pixels. 0, or -1 when memory runs out;
 * either way roll_picture_free frees it. */
int roll_layout(roll_picture *pic, const note *notes, size_t n, int width, int height);
void roll_picture_free(roll_picture *pic);

/* The outline of a note of colour fill: darker, so repeated notes of one pitch stay apart. */
void roll_note_edge(uint8_t edge[3], const uint8_t fill[3]);

/* The picture as an SVG document, with labels and a tooltip per note (notes are the ones laid out). */
void roll_render_svg(bytebuf *b, const roll_picture *pic, const note *notes);

/* The picture as a PNG. 0, or -1 when memory runs out. */
int roll_render_png(bytebuf *b, const roll_picture *pic);

#endif /* RNNHOST_ROLLPICTURE_H */
