/* Music encodings: notes of a MIDI timeline and back, Performance RNN event tokens, piano rolls. */
#include "music.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hostlog.h"
#include "readall.h"

/* In a comparator: the order of x and y when they differ; when they are equal the next key decides. */
#define ORDER_BY(x, y)                                                                                             \
    do {                                                                                                           \
        if ((x) != (y))                                                                                            \
            return (x) < (y) ? -1 : 1;                                                                             \
    } while (0)

/* ---- notes ------------------------------------------------------------------------------------------ */

static int cmp_note(const void *pa, const void *pb)
{
    const note *a = pa, *b = pb;
    ORDER_BY(a->start, b->start);
    ORDER_BY(a->pitch, b->pitch);
    // The rest only makes the order total, so equal inputs sort the same on every libc.
    ORDER_BY(a->channel, b->channel);
    ORDER_BY(a->end, b->end);
    return (a->velocity > b->velocity) - (a->velocity < b->velocity);
}

static void sort_notes(note *notes, size_t n)
{
    if (n > 1)
        qsort(notes, n, sizeof *notes, cmp_note);
}

static int is_note_on(const smf_event *e)
{
    return (e->status & 0xF0) == 0x90 && e->data2 > 0;
}

static int is_note_off(const smf_event *e)
{
    return (e->status & 0xF0) == 0x80 || ((e->status & 0xF0) == 0x90 && e->data2 == 0);
}

int notes_from_smf(note **notes, size_t *n, const smf_file *f)
{
    enum { KEYS = 16 * 128 };
    size_t count = 0;
    *notes = NULL;
    *n = 0;
    for (size_t i = 0; i < f->n; i++)
        count += is_note_on(&f->events[i]);
    if (count == 0)
        return 0;
    note *out = malloc(count * sizeof *out);
    uint64_t *start_tick = malloc(count * sizeof *start_tick);
    // Open notes of each (channel, pitch) form a singly linked list threaded through next_open.
    size_t *next_open = malloc(count * sizeof *next_open);
    size_t *head = malloc(KEYS * sizeof *head);
    if (!out || !start_tick || !next_open || !head) {
        free(out);
        free(start_tick);
        free(next_open);
        free(head);
        return -1;
    }
    const size_t none = SIZE_MAX;
    for (size_t k = 0; k < KEYS; k++)
        head[k] = none;
    size_t made = 0;
    for (size_t i = 0; i < f->n; i++) {
        const smf_event *e = &f->events[i];
        const size_t key = (size_t)(e->status & 0x0F) * 128 + (e->data1 & 0x7F);
        if (is_note_on(e)) {
            note *m = &out[made];
            m->start = m->end = e->time;
            m->pitch = e->data1 & 0x7F;
            m->velocity = e->data2 & 0x7F;
            m->channel = e->status & 0x0F;
            start_tick[made] = e->tick;
            next_open[made] = head[key];
            head[key] = made++;
        } else if (is_note_off(e)) {
            /* The off ends every open note of its key that began earlier. Notes that began on this very
             * tick stay open, because writers often put a re-struck note's on before the old note's off;
             * only when nothing earlier is open does the off end them (a genuine zero-length note). */
            int any_earlier = 0;
            for (size_t j = head[key]; j != none; j = next_open[j])
                any_earlier |= start_tick[j] < e->tick;
            size_t *link = &head[key];
            while (*link != none) {
                size_t j = *link;
                if (!any_earlier || start_tick[j] < e->tick) {
                    out[j].end = e->time;
                    *link = next_open[j];
                } else {
                    link = &next_open[j];
                }
            }
        }
    }
    const double last = f->n ? f->events[f->n - 1].time : 0.0;
    for (size_t k = 0; k < KEYS; k++)
        for (size_t j = head[k]; j != none; j = next_open[j])
            out[j].end = last;
    free(start_tick);
    free(next_open);
    free(head);
    sort_notes(out, made);
    *notes = out;
    *n = made;
    return 0;
}

/* Which event sorts first at one tick of one track: settings, then offs, then ons, so a note re-struck on
 * the tick another ends is not cut short when read back. */
enum { RANK_META, RANK_PROGRAM, RANK_OFF, RANK_ON };

static int event_rank(const smf_event *e)
{
    if (e->status == 0xFF)
        return RANK_META;
    switch (e->status & 0xF0) {
    case 0xC0: return RANK_PROGRAM;
    case 0x80: return RANK_OFF;
    default: return RANK_ON;
    }
}

static int cmp_event(const void *pa, const void *pb)
{
    const smf_event *a = pa, *b = pb;
    ORDER_BY(a->tick, b->tick);
    ORDER_BY(a->track, b->track);
    ORDER_BY(event_rank(a), event_rank(b));
    ORDER_BY(a->status, b->status);
    return a->data1 - b->data1;
}

static uint64_t seconds_to_ticks(double seconds, double ticks_per_second)
{
    double t = seconds * ticks_per_second;
    if (!(t > 0))
        return 0;
    if (t > 9.0e15) // far beyond any real piece; keeps the conversion defined
        t = 9.0e15;
    return (uint64_t)llround(t);
}

int notes_to_smf(smf_file *out, const note *notes, size_t n, double qpm, uint8_t program)
{
    const uint16_t division = 480;
    memset(out, 0, sizeof *out);
    if (!(qpm > 0) || !isfinite(qpm))
        qpm = 120.0;
    // The tempo meta stores microseconds per quarter in 24 bits.
    double us = 60.0e6 / qpm;
    if (us < 1)
        us = 1;
    if (us > 0xFFFFFF)
        us = 0xFFFFFF;
    const uint32_t us_per_quarter = (uint32_t)lround(us);
    // What the written tempo actually says, so ticks and seconds agree exactly when read back.
    const double ticks_per_second = division * 1.0e6 / us_per_quarter;

    int track_of_channel[16];
    uint16_t tracks = 1;
    for (int c = 0; c < 16; c++)
        track_of_channel[c] = 0;
    for (size_t i = 0; i < n; i++)
        track_of_channel[notes[i].channel & 0x0F] = 1;
    for (int c = 0; c < 16; c++)
        if (track_of_channel[c])
            track_of_channel[c] = tracks++;

    const size_t nev = 1 + (size_t)(tracks - 1) + 2 * n;
    smf_event *ev = calloc(nev, sizeof *ev);
    uint8_t *meta = malloc(3);
    if (!ev || !meta) {
        free(ev);
        free(meta);
        return -1;
    }
    meta[0] = (uint8_t)(us_per_quarter >> 16);
    meta[1] = (uint8_t)(us_per_quarter >> 8);
    meta[2] = (uint8_t)us_per_quarter;
    size_t k = 0;
    ev[k++] = (smf_event){.status = 0xFF, .data1 = 0x51, .meta_len = 3, .meta_offset = 0};
    for (int c = 0; c < 16; c++)
        if (track_of_channel[c])
            ev[k++] = (smf_event){.track = (uint16_t)track_of_channel[c], .status = (uint8_t)(0xC0 | c),
                                  .data1 = program & 0x7F};
    for (size_t i = 0; i < n; i++) {
        const note *m = &notes[i];
        const uint16_t track = (uint16_t)track_of_channel[m->channel & 0x0F];
        const uint64_t on = seconds_to_ticks(m->start, ticks_per_second);
        uint64_t off = seconds_to_ticks(m->end, ticks_per_second);
        // A zero-tick note would read back paired with some later off, or not at all.
        if (off <= on)
            off = on + 1;
        // A note-on of velocity 0 means note-off.
        const uint8_t velocity = (m->velocity & 0x7F) ? (m->velocity & 0x7F) : 1;
        ev[k++] = (smf_event){.tick = on, .track = track, .status = (uint8_t)(0x90 | (m->channel & 0x0F)),
                              .data1 = m->pitch & 0x7F, .data2 = velocity};
        ev[k++] = (smf_event){.tick = off, .track = track, .status = (uint8_t)(0x80 | (m->channel & 0x0F)),
                              .data1 = m->pitch & 0x7F, .data2 = 64};
    }
    qsort(ev, nev, sizeof *ev, cmp_event);
    for (size_t i = 0; i < nev; i++)
        ev[i].time = (double)ev[i].tick / ticks_per_second;
    out->format = 1;
    out->ntracks = tracks;
    out->division = division;
    out->events = ev;
    out->n = nev;
    out->meta_data = meta;
    out->meta_size = 3;
    return 0;
}

/* ---- event tokens ----------------------------------------------------------------------------------- */

static int64_t to_step(double seconds)
{
    double s = seconds / EV_STEP_SECONDS;
    if (!(s > 0))
        return 0;
    if (s > 1.0e15)
        s = 1.0e15;
    return (int64_t)llround(s);
}

static int velocity_bin(uint8_t velocity)
{
    return velocity ? (velocity - 1) / 4 : 0;
}

typedef struct timed {
    int64_t step;
    size_t note;   /* index into the notes */
    uint8_t off;   /* 1 for the end of a note */
    uint8_t pitch; /* copied here: qsort's comparison sees nothing but the two elements */
} timed;

static int cmp_timed(const void *pa, const void *pb)
{
    const timed *a = pa, *b = pb;
    if (a->step != b->step)
        return a->step < b->step ? -1 : 1;
    if (a->off != b->off) // ends before starts: a note ending where another begins frees its pitch first
        return a->off ? -1 : 1;
    if (a->pitch != b->pitch)
        return a->pitch < b->pitch ? -1 : 1;
    return (a->note > b->note) - (a->note < b->note);
}

/* Appends a token, growing the buffer geometrically. */
static int push_token(int32_t **tokens, size_t *n, size_t *cap, int32_t t)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        int32_t *grown = realloc(*tokens, c * sizeof *grown);
        if (!grown)
            return -1;
        *tokens = grown;
        *cap = c;
    }
    (*tokens)[(*n)++] = t;
    return 0;
}

int events_from_notes(int32_t **tokens, size_t *n, const note *notes, size_t nn)
{
    *tokens = NULL;
    *n = 0;
    if (nn == 0)
        return 0;
    timed *ev = malloc(2 * nn * sizeof *ev);
    int64_t *start = malloc(nn * sizeof *start), *end = malloc(nn * sizeof *end);
    if (!ev || !start || !end) {
        free(ev);
        free(start);
        free(end);
        return -1;
    }
    for (size_t i = 0; i < nn; i++) {
        start[i] = to_step(notes[i].start);
        end[i] = to_step(notes[i].end);
        if (end[i] <= start[i]) // a note shorter than half a step still sounds, one step long
            end[i] = start[i] + 1;
        ev[2 * i] = (timed){start[i], i, 0, notes[i].pitch & 0x7F};
        ev[2 * i + 1] = (timed){end[i], i, 1, notes[i].pitch & 0x7F};
    }
    qsort(ev, 2 * nn, sizeof *ev, cmp_timed);

    /* Channels merge into one stream, where a second note-on of a sounding pitch ends the first when
     * decoded. So each pitch has one owner, the note whose on was written last; only the owner's off is
     * written (an earlier note's off would cut the owner short), and two notes starting on the same step
     * become one, with the later end. */
    size_t owner[128];
    const size_t none = SIZE_MAX;
    for (int p = 0; p < 128; p++)
        owner[p] = none;
    int32_t *out = NULL;
    size_t count = 0, cap = 0;
    int64_t now = 0;
    int bin = -1;
    int rc = 0;
    for (size_t i = 0; i < 2 * nn && rc == 0; i++) {
        const size_t k = ev[i].note;
        const int p = notes[k].pitch & 0x7F;
        if (ev[i].off) {
            if (owner[p] != k)
                continue;
            owner[p] = none;
        } else if (owner[p] != none && start[owner[p]] == start[k]) {
            if (end[k] > end[owner[p]])
                owner[p] = k;
            continue;
        }
        while (now < ev[i].step && rc == 0) {
            const int64_t shift = ev[i].step - now < EV_MAX_SHIFT ? ev[i].step - now : EV_MAX_SHIFT;
            rc = push_token(&out, &count, &cap, EV_TIME_SHIFT + (int32_t)shift - 1);
            now += shift;
        }
        if (ev[i].off) {
            rc = rc ? rc : push_token(&out, &count, &cap, EV_NOTE_OFF + p);
        } else {
            const int b = velocity_bin(notes[k].velocity);
            if (b != bin && rc == 0)
                rc = push_token(&out, &count, &cap, EV_VELOCITY + b);
            bin = b;
            rc = rc ? rc : push_token(&out, &count, &cap, EV_NOTE_ON + p);
            owner[p] = k;
        }
    }
    free(ev);
    free(start);
    free(end);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *tokens = out;
    *n = count;
    return 0;
}

/* Before any velocity token a stream plays mezzo-forte (bin 15, velocity 62). */
#define EV_DEFAULT_BIN 15

int notes_from_events(note **notes, size_t *nn, const int32_t *tokens, size_t n)
{
    *notes = NULL;
    *nn = 0;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += tokens[i] >= EV_NOTE_ON && tokens[i] < EV_NOTE_ON + 128;
    if (cap == 0)
        return 0;
    note *out = malloc(cap * sizeof *out);
    if (!out)
        return -1;
    size_t open[128], count = 0;
    const size_t none = SIZE_MAX;
    for (int p = 0; p < 128; p++)
        open[p] = none;
    int64_t now = 0;
    int velocity = 4 * EV_DEFAULT_BIN + 2;
    /* A note that would end where it began lasts one step instead, as in the encoder; a note replaced by
     * a re-strike at the same instant is dropped, since the new note stands for it. */
    int dropped_any = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t t = tokens[i];
        const double time = (double)now * EV_STEP_SECONDS;
        if (t >= EV_NOTE_ON && t < EV_NOTE_ON + 128) {
            const int p = t - EV_NOTE_ON;
            if (open[p] != none) {
                note *old = &out[open[p]];
                if (old->start == time) {
                    old->velocity = 0; // marks it for removal below
                    dropped_any = 1;
                } else {
                    old->end = time;
                }
            }
            out[count] = (note){.start = time, .end = time, .pitch = (uint8_t)p, .velocity = (uint8_t)velocity};
            open[p] = count++;
        } else if (t >= EV_NOTE_OFF && t < EV_NOTE_OFF + 128) {
            const int p = t - EV_NOTE_OFF;
            if (open[p] != none) {
                note *m = &out[open[p]];
                m->end = m->start == time ? time + EV_STEP_SECONDS : time;
                open[p] = none;
            }
        } else if (t >= EV_TIME_SHIFT && t < EV_TIME_SHIFT + EV_MAX_SHIFT) {
            now += t - EV_TIME_SHIFT + 1;
        } else if (t >= EV_VELOCITY && t < EV_VOCAB) {
            velocity = 4 * (t - EV_VELOCITY) + 2;
        }
    }
    const double last = (double)now * EV_STEP_SECONDS;
    for (int p = 0; p < 128; p++)
        if (open[p] != none) {
            note *m = &out[open[p]];
            m->end = m->start == last ? last + EV_STEP_SECONDS : last;
        }
    if (dropped_any) {
        size_t kept = 0;
        for (size_t i = 0; i < count; i++)
            if (out[i].velocity)
                out[kept++] = out[i];
        count = kept;
    }
    sort_notes(out, count);
    *notes = out;
    *nn = count;
    return 0;
}

/* ---- augmentation ----------------------------------------------------------------------------------- */

size_t notes_transpose(note *notes, size_t *n, int semitones)
{
    size_t kept = 0, total = *n;
    for (size_t i = 0; i < total; i++) {
        const long p = (long)notes[i].pitch + semitones;
        if (p < 0 || p > 127)
            continue;
        notes[kept] = notes[i];
        notes[kept++].pitch = (uint8_t)p;
    }
    *n = kept;
    return total - kept;
}

size_t pianoroll_transpose(pianoroll *roll, int semitones)
{
    size_t dropped = 0;
    for (size_t t = 0; t < roll->T; t++) {
        uint8_t *frame = roll->on + t * ROLL_PITCHES, moved[ROLL_PITCHES] = {0};
        for (int p = 0; p < ROLL_PITCHES; p++) {
            if (!frame[p])
                continue;
            const long q = (long)p + semitones;
            if (q < 0 || q >= ROLL_PITCHES)
                dropped++;
            else
                moved[q] = 1;
        }
        memcpy(frame, moved, ROLL_PITCHES);
    }
    return dropped;
}

void notes_stretch(note *notes, size_t n, double factor)
{
    for (size_t i = 0; i < n; i++) {
        notes[i].start *= factor;
        notes[i].end *= factor;
    }
}

/* ---- piano rolls ------------------------------------------------------------------------------------ */

void pianorolls_free(pianoroll *rolls, size_t n)
{
    if (!rolls)
        return;
    for (size_t i = 0; i < n; i++)
        free(rolls[i].on);
    free(rolls);
}

/* The split names of a JSON object, for the message when the asked one is missing. */
static void list_keys(char *dst, size_t len, const cJSON *root)
{
    size_t used = 0;
    dst[0] = '\0';
    for (const cJSON *c = root->child; c && used + 1 < len; c = c->next) {
        int w = snprintf(dst + used, len - used, "%s%s", used ? ", " : "", c->string ? c->string : "?");
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int pianorolls_from_json(pianoroll **rolls, size_t *n, const char *path, const char *split, char *err,
                         size_t err_len)
{
    size_t size = 0;
    *rolls = NULL;
    *n = 0;
    char *text;
    if (read_all_path(path, SIZE_MAX, &text, &size) != 0) {
        host_fmt(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, size);
    if (!root) {
        // cJSON points at where parsing stopped; a line number is what a person can use.
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;
        if (at && at >= text && at <= text + size)
            for (const char *p = text; p < at; p++)
                line += *p == '\n';
        host_fmt(err, err_len, "%s: not valid JSON (near line %zu)", path, line);
        free(text);
        return -1;
    }
    free(text);
    int rc = -1;
    pianoroll *out = NULL;
    size_t count = 0;
    if (!cJSON_IsObject(root)) {
        host_fmt(err, err_len, "%s: not a piano-roll file (the top level is not an object of splits)", path);
        goto done;
    }
    const cJSON *seqs = cJSON_GetObjectItemCaseSensitive(root, split);
    if (!seqs) {
        char keys[256];
        list_keys(keys, sizeof keys, root);
        host_fmt(err, err_len, "%s: no split '%s' (the file has: %s)", path, split, keys[0] ? keys : "none");
        goto done;
    }
    if (!cJSON_IsArray(seqs)) {
        host_fmt(err, err_len, "%s: split '%s' is not a list of sequences", path, split);
        goto done;
    }
    const size_t total = (size_t)cJSON_GetArraySize(seqs);
    out = calloc(total ? total : 1, sizeof *out);
    if (!out) {
        host_fmt(err, err_len, "%s: out of memory", path);
        goto done;
    }
    for (const cJSON *seq = seqs->child; seq; seq = seq->next, count++) {
        if (!cJSON_IsArray(seq)) {
            host_fmt(err, err_len, "%s: split '%s', sequence %zu: not a list of steps", path, split, count);
            goto done;
        }
        const size_t T = (size_t)cJSON_GetArraySize(seq);
        if (T > UINT32_MAX) {
            host_fmt(err, err_len, "%s: split '%s', sequence %zu: too long", path, split, count);
            goto done;
        }
        out[count].T = (uint32_t)T;
        out[count].on = calloc(T ? T * ROLL_PITCHES : 1, 1);
        if (!out[count].on) {
            host_fmt(err, err_len, "%s: out of memory", path);
            count++; // so the allocated ones before it are freed
            goto done;
        }
        size_t t = 0;
        for (const cJSON *step = seq->child; step; step = step->next, t++) {
            if (!cJSON_IsArray(step)) {
                host_fmt(err, err_len, "%s: split '%s', sequence %zu, step %zu: not a list of pitches", path,
                         split, count, t);
                count++;
                goto done;
            }
            for (const cJSON *p = step->child; p; p = p->next) {
                const double v = cJSON_IsNumber(p) ? p->valuedouble : NAN;
                if (!cJSON_IsNumber(p) || v != floor(v)) {
                    host_fmt(err, err_len, "%s: split '%s', sequence %zu, step %zu: a pitch that is not an integer",
                             path, split, count, t);
                    count++;
                    goto done;
                }
                if (v < ROLL_LOW || v >= ROLL_LOW + ROLL_PITCHES) {
                    host_fmt(err, err_len, "%s: split '%s', sequence %zu, step %zu: pitch %.0f outside %d..%d", path,
                             split, count, t, v, ROLL_LOW, ROLL_LOW + ROLL_PITCHES - 1);
                    count++;
                    goto done;
                }
                out[count].on[t * ROLL_PITCHES + (size_t)(v - ROLL_LOW)] = 1;
            }
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) {
        pianorolls_free(out, count);
        return -1;
    }
    *rolls = out;
    *n = count;
    return 0;
}

int pianoroll_from_notes(pianoroll *roll, const note *notes, size_t n, double step)
{
    roll->T = 0;
    roll->on = NULL;
    if (!(step > 0))
        return -1;
    /* A frame t spans [t*step, (t+1)*step); a note sounds in it when they overlap by at least half a frame.
     * The small slack keeps notes that sit exactly on the grid from losing a frame to rounding. */
    const double half = 0.5 * step * (1 - 1e-9);
    double last_end = 0;
    for (size_t i = 0; i < n; i++)
        if (notes[i].end > last_end)
            last_end = notes[i].end;
    const double frames = ceil(last_end / step);
    if (frames > (double)UINT32_MAX || frames * ROLL_PITCHES > (double)SIZE_MAX / 2)
        return -1;
    size_t T = (size_t)frames;
    uint8_t *on = calloc(T ? T * ROLL_PITCHES : 1, 1);
    if (!on)
        return -1;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const note *m = &notes[i];
        if (m->pitch < ROLL_LOW || m->pitch >= ROLL_LOW + ROLL_PITCHES || !(m->end > m->start))
            continue;
        const double a = m->start > 0 ? m->start : 0;
        size_t t0 = (size_t)floor(a / step);
        for (size_t t = t0; t < T && (double)t * step < m->end; t++) {
            const double lo = a > (double)t * step ? a : (double)t * step;
            const double hi = m->end < (double)(t + 1) * step ? m->end : (double)(t + 1) * step;
            if (hi - lo >= half) {
                on[t * ROLL_PITCHES + (m->pitch - ROLL_LOW)] = 1;
                if (t + 1 > used)
                    used = t + 1;
            }
        }
    }
    // Frames after the last sounding one carry nothing (a note too short to claim its final frame).
    roll->T = (uint32_t)used;
    roll->on = on;
    return 0;
}

int notes_from_pianoroll(note **notes, size_t *n, const pianoroll *roll, double step)
{
    size_t count = 0;
    *notes = NULL;
    *n = 0;
    const size_t T = roll->T;
    // A note starts wherever a pitch sounds and did not in the frame before.
    for (size_t t = 0; t < T; t++)
        for (size_t p = 0; p < ROLL_PITCHES; p++)
            count += roll->on[t * ROLL_PITCHES + p] && (t == 0 || !roll->on[(t - 1) * ROLL_PITCHES + p]);
    if (count == 0)
        return 0;
    note *out = malloc(count * sizeof *out);
    if (!out)
        return -1;
    size_t k = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t p = 0; p < ROLL_PITCHES; p++) {
            if (!roll->on[t * ROLL_PITCHES + p] || (t > 0 && roll->on[(t - 1) * ROLL_PITCHES + p]))
                continue;
            size_t u = t + 1;
            while (u < T && roll->on[u * ROLL_PITCHES + p])
                u++;
            out[k++] = (note){.start = (double)t * step, .end = (double)u * step,
                              .pitch = (uint8_t)(ROLL_LOW + p), .velocity = 80, .channel = 0};
        }
    // Built frame by frame and pitch by pitch, already in (start, pitch) order.
    *notes = out;
    *n = count;
    return 0;
}
