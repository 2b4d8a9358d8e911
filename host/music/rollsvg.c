/* The picture of notes as SVG: one rect element per shape, a tooltip per note, and the labels. */
#include "rollpicture.h"

static const char *const pitch_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

void roll_render_svg(bytebuf *b, const roll_picture *pic, const note *notes)
{
    bytebuf_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
                   "<style>text{font:10px sans-serif;fill:#555}</style>\n",
                   pic->width, pic->height, pic->width, pic->height);
    static const char *const kind_names[] = {"background", "key", "grid", "note"};
    for (size_t i = 0; i < pic->nshapes; i++) {
        const roll_shape *s = &pic->shapes[i];
        bytebuf_printf(b,
                       "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%02x%02x%02x\"",
                       kind_names[s->kind], s->x, s->y, s->w, s->h, s->rgb[0], s->rgb[1], s->rgb[2]);
        if (s->kind != ROLL_NOTE) {
            bytebuf_printf(b, "/>\n");
            continue;
        }
        // A tooltip, so a note can be identified by pointing at it.
        const note *m = &notes[s->note];
        uint8_t edge[3];
        roll_note_edge(edge, s->rgb);
        bytebuf_printf(b, " stroke=\"#%02x%02x%02x\" stroke-width=\"%s\"", edge[0], edge[1], edge[2],
                       s->w >= 3 && s->h >= 3 ? "1" : "0");
        bytebuf_printf(b, "><title>%s%d (%u), channel %u, velocity %u, %.3f-%.3f s</title></rect>\n",
                       pitch_names[m->pitch % 12], m->pitch / 12 - 1, m->pitch, m->channel + 1u, m->velocity, m->start,
                       m->end);
    }
    for (size_t i = 0; i < pic->nlabels; i++) {
        const roll_label *l = &pic->labels[i];
        bytebuf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\">%s</text>\n", l->x, l->y,
                       l->anchor_end ? "end" : "middle", l->text);
    }
    bytebuf_printf(b, "</svg>\n");
}
