/* Standard MIDI Files: a two-pass reader over untrusted bytes, and a running-status writer.
 *
 * The reader walks every track twice with the same code: the first pass validates and counts, so the
 * second allocates exactly what the file holds (each event takes at least two bytes, so never more than
 * the file's size justifies) and cannot fail half-way. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // malloc_usable_size, fchmod, mkstemp
#endif

#include "smf.h"

#include "atomicfile.h"
#include "hostlog.h"
#include "readall.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TICK ((uint64_t)1 << 40) // far beyond any piece, yet tick * tempo stays exact in a double
#define MAX_VLQ 0x0FFFFFFFu          // four 7-bit groups
#define MAX_FILE_BYTES (64u << 20)   // real MIDI files are kilobytes; events cost ~16x their bytes
#define DEFAULT_TEMPO 500000u        // microseconds per quarter: 120 bpm, until the first tempo event

/* ---------------------------------------------------------------------------------------------------- */
/* Reading                                                                                              */

typedef struct {
    const uint8_t *d;
    size_t size;
    const char *name;
    char *err;
    size_t err_len;
} reader;

// What one track holds; the counting pass fills it, the storing pass relies on it.
typedef struct {
    size_t events;
    size_t meta_bytes;
    uint64_t end_tick; // absolute: its end-of-track, or its last delta when that is missing
} track_info;

// Where the storing pass puts a track's events and meta payloads; NULL events means "count only".
typedef struct {
    smf_event *events;
    uint8_t *meta;
    size_t meta_at;
} track_sink;

static int rfail(const reader *r, size_t at, const char *fmt, ...) HOST_PRINTF(3, 4);
static int rfail(const reader *r, size_t at, const char *fmt, ...)
{
    host_fmt(r->err, r->err_len, "%s: byte %zu: ", r->name, at);
    const size_t k = r->err ? strlen(r->err) : 0;
    if (k + 1 < r->err_len) {
        va_list ap;
        va_start(ap, fmt);
        host_vfmt(r->err + k, r->err_len - k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int read_vlq(const reader *r, size_t *pos, size_t end, uint32_t *out, const char *what)
{
    const size_t start = *pos;
    uint32_t v = 0;
    *out = 0; // defined on failure too, which lets the compiler see every use is initialised
    for (int i = 0; i < 4; i++) {
        if (*pos >= end)
            return rfail(r, start, "%s runs past the end of the track", what);
        const uint8_t b = r->d[(*pos)++];
        v = v << 7 | (b & 0x7Fu);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return rfail(r, start, "%s is longer than 4 bytes", what);
}

static int parse_track(const reader *r, size_t pos, size_t end, uint16_t track, uint64_t base,
                       track_info *info, track_sink *sink)
{
    uint64_t tick = base;
    uint8_t running = 0; // 0: no running status in effect
    size_t count = 0, meta_bytes = 0;
    while (pos < end) {
        const size_t at = pos;
        uint32_t delta;
        if (read_vlq(r, &pos, end, &delta, "delta time") != 0)
            return -1;
        tick += delta; // both below 2^40 + 2^28: no overflow
        if (tick > MAX_TICK)
            return rfail(r, at, "absolute tick %llu is past the limit of 2^40", (unsigned long long)tick);
        if (pos >= end)
            return rfail(r, pos, "the track ends after a delta time, without its event");

        const size_t ev_at = pos;
        uint8_t status = r->d[pos];
        if (status < 0x80) {
            if (!running)
                return rfail(r, pos,
                             "data byte 0x%02X where a status byte is expected (no running status in effect: "
                             "the track starts here or a meta or sysex event cancelled it)",
                             status);
            status = running;
        } else {
            pos++;
        }

        if (status < 0xF0) {
            const unsigned kind = status & 0xF0u;
            const size_t nd = (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
            if (end - pos < nd)
                return rfail(r, ev_at, "message 0x%02X needs %zu data byte(s) but the track ends", status, nd);
            for (size_t i = 0; i < nd; i++)
                if (r->d[pos + i] >= 0x80)
                    return rfail(r, pos + i, "byte 0x%02X where a data byte of message 0x%02X is expected",
                                 r->d[pos + i], status);
            if (sink->events) {
                smf_event *e = &sink->events[count];
                memset(e, 0, sizeof *e);
                e->tick = tick;
                e->track = track;
                e->status = status;
                e->data1 = r->d[pos];
                e->data2 = nd == 2 ? r->d[pos + 1] : 0;
            }
            count++;
            pos += nd;
            running = status;
        } else if (status == 0xFF) {
            running = 0;
            if (pos >= end)
                return rfail(r, ev_at, "meta event without its type: the track ends");
            const uint8_t type = r->d[pos++];
            const size_t len_at = pos;
            uint32_t len;
            if (read_vlq(r, &pos, end, &len, "meta event length") != 0)
                return -1;
            if (len > end - pos)
                return rfail(r, len_at, "meta event 0x%02X of %u bytes runs past the end of the track (%zu left)",
                             type, len, end - pos);
            if (type == 0x51) {
                if (len != 3)
                    return rfail(r, ev_at, "tempo event of %u bytes (3 expected)", len);
                if (((uint32_t)r->d[pos] << 16 | (uint32_t)r->d[pos + 1] << 8 | r->d[pos + 2]) == 0)
                    return rfail(r, ev_at, "tempo of 0 microseconds per quarter note");
            }
            if (sink->events) {
                smf_event *e = &sink->events[count];
                memset(e, 0, sizeof *e);
                e->tick = tick;
                e->track = track;
                e->status = 0xFF;
                e->data1 = type;
                e->meta_len = len;
                e->meta_offset = (uint32_t)(sink->meta_at + meta_bytes);
                if (len)
                    memcpy(sink->meta + sink->meta_at + meta_bytes, r->d + pos, len);
            }
            count++;
            meta_bytes += len;
            pos += len;
            if (type == 0x2F)
                break; // whatever follows end-of-track in its chunk is not part of the track
        } else if (status == 0xF0 || status == 0xF7) {
            running = 0;
            const size_t len_at = pos;
            uint32_t len;
            if (read_vlq(r, &pos, end, &len, "sysex length") != 0)
                return -1;
            if (len > end - pos)
                return rfail(r, len_at, "sysex of %u bytes runs past the end of the track (%zu left)", len,
                             end - pos);
            pos += len;
        } else {
            return rfail(r, ev_at, "system message 0x%02X cannot appear in a file", status);
        }
    }
    info->events = count;
    info->meta_bytes = meta_bytes;
    info->end_tick = tick;
    return 0;
}

// Stable: equal ticks keep their order, which is track order then file order as the tracks were laid.
static void sort_by_tick(smf_event *ev, smf_event *tmp, size_t n)
{
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = ev[i - 1].tick <= ev[i].tick;
    if (sorted)
        return;
    smf_event *src = ev, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[j].tick < src[i].tick ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        smf_event *t = src;
        src = dst;
        dst = t;
    }
    if (src != ev)
        memcpy(ev, src, n * sizeof *ev);
}

// Microseconds per quarter of a well-formed tempo event, else 0. Checks the bounds, since callers may
// hand in a file they built themselves.
static uint32_t tempo_of(const smf_file *f, const smf_event *e)
{
    if (e->status != 0xFF || e->data1 != 0x51 || e->meta_len != 3 || !f->meta_data ||
        (uint64_t)e->meta_offset + 3 > f->meta_size)
        return 0;
    const uint8_t *p = f->meta_data + e->meta_offset;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

// One piece of the tempo map: from `tick` (at `seconds`) on, `tempo` microseconds per quarter.
typedef struct {
    uint64_t tick;
    double seconds;
    uint32_t tempo;
} tempo_segment;

static double segment_seconds(const tempo_segment *s, uint64_t tick, uint16_t division)
{
    return s->seconds + (double)(tick - s->tick) * s->tempo / (1e6 * division);
}

static void fill_times(smf_file *f)
{
    tempo_segment seg = {0, 0.0, DEFAULT_TEMPO};
    for (size_t i = 0; i < f->n; i++) {
        smf_event *e = &f->events[i];
        e->time = segment_seconds(&seg, e->tick, f->division);
        const uint32_t t = tempo_of(f, e);
        if (t) {
            seg.tick = e->tick;
            seg.seconds = e->time;
            seg.tempo = t;
        }
    }
}

int smf_read_memory(smf_file *out, const uint8_t *data, size_t size, const char *name, char *err,
                    size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (!out) {
        host_fmt(err, err_len, "smf_read_memory: no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    reader r = {data, size, name ? name : "(memory)", err, err_len};
    if (!data && size)
        return rfail(&r, 0, "no data");
    if (size > UINT32_MAX)
        return rfail(&r, 0, "%zu bytes is more than a MIDI file can be (meta offsets are 32-bit)", size);

    if (size < 8 || memcmp(data, "MThd", 4) != 0)
        return rfail(&r, 0, "not a Standard MIDI File: it does not start with an MThd header");
    const uint32_t hlen = be32(data + 4);
    if (hlen < 6)
        return rfail(&r, 4, "header length %u is shorter than 6", hlen);
    if (hlen > size - 8)
        return rfail(&r, 4, "header length %u runs past the end of the file (%zu bytes)", hlen, size);
    const uint16_t format = be16(data + 8), ntracks = be16(data + 10), division = be16(data + 12);
    if (format > 2)
        return rfail(&r, 8, "format %u is not 0, 1 or 2", format);
    if (ntracks == 0)
        return rfail(&r, 10, "the header declares zero tracks");
    if (division & 0x8000)
        return rfail(&r, 12, "SMPTE time division (0x%04X) is not supported; only ticks per quarter note",
                     division);
    if (division == 0)
        return rfail(&r, 12, "time division of 0 ticks per quarter note");

    // Pass 1: find the track chunks, validate them and count what they hold.
    size_t *starts = malloc(ntracks * sizeof *starts);
    size_t *ends = malloc(ntracks * sizeof *ends);
    track_info *info = calloc(ntracks, sizeof *info);
    if (!starts || !ends || !info) {
        free(starts);
        free(ends);
        free(info);
        host_fmt(err, err_len, "%s: out of memory for %u tracks", r.name, ntracks);
        return -1;
    }
    int rc = -1;
    size_t pos = 8 + (size_t)hlen; // extra header bytes, from a later revision, are skipped
    size_t total_events = 0, total_meta = 0;
    uint64_t base = 0;
    uint16_t found = 0;
    while (found < ntracks) {
        if (size - pos < 8) {
            rfail(&r, pos, "the file ends after %u of %u tracks", found, ntracks);
            goto done;
        }
        const uint32_t clen = be32(data + pos + 4);
        if (clen > size - pos - 8) {
            rfail(&r, pos + 4, "%s length %u runs past the end of the file (%zu bytes)",
                  memcmp(data + pos, "MTrk", 4) == 0 ? "track" : "chunk", clen, size);
            goto done;
        }
        const size_t body = pos + 8;
        if (memcmp(data + pos, "MTrk", 4) == 0) {
            track_sink count_only = {NULL, NULL, 0};
            if (parse_track(&r, body, body + clen, found, base, &info[found], &count_only) != 0)
                goto done;
            starts[found] = body;
            ends[found] = body + clen;
            total_events += info[found].events;
            total_meta += info[found].meta_bytes;
            if (format == 2)
                base = info[found].end_tick; // the next pattern starts where this one ends
            found++;
        }
        pos = body + clen;
    }

    // Pass 2: store. Nothing can fail here but memory.
    out->events = total_events ? malloc(total_events * sizeof *out->events) : NULL;
    out->meta_data = total_meta ? malloc(total_meta) : NULL;
    smf_event *tmp = total_events ? malloc(total_events * sizeof *tmp) : NULL;
    if ((total_events && (!out->events || !tmp)) || (total_meta && !out->meta_data)) {
        free(tmp);
        host_fmt(err, err_len, "%s: out of memory for %zu events", r.name, total_events);
        goto done;
    }
    track_sink sink = {out->events, out->meta_data, 0};
    base = 0;
    for (uint16_t t = 0; t < ntracks; t++) {
        track_info again;
        if (parse_track(&r, starts[t], ends[t], t, base, &again, &sink) != 0) {
            free(tmp);
            goto done;
        }
        // a file whose tracks hold no events has no event array: no offset may be added to NULL
        if (again.events)
            sink.events += again.events;
        sink.meta_at += again.meta_bytes;
        if (format == 2)
            base = again.end_tick;
    }
    out->format = format;
    out->ntracks = ntracks;
    out->division = division;
    out->n = total_events;
    out->meta_size = total_meta;
    sort_by_tick(out->events, tmp, out->n);
    free(tmp);
    fill_times(out);
    rc = 0;
done:
    if (rc != 0)
        smf_free(out);
    free(starts);
    free(ends);
    free(info);
    return rc;
}

int smf_read(smf_file *out, const char *path, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || !path) {
        host_fmt(err, err_len, "smf_read: no file or no output");
        return -1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        host_fmt(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf;
    size_t len;
    const int got = read_all(fp, MAX_FILE_BYTES, &buf, &len), e = errno;
    fclose(fp); // before parsing: a file is open no longer than it takes to read it
    if (got != 0) {
        if (e == EFBIG)
            host_fmt(err, err_len, "%s: byte %zu: more than %u bytes, larger than any MIDI file", path, len,
                     MAX_FILE_BYTES);
        else if (e == ENOMEM)
            host_fmt(err, err_len, "%s: out of memory reading it", path);
        else
            host_fmt(err, err_len, "%s: cannot read: %s", path, strerror(e));
        return -1;
    }
    const int rc = smf_read_memory(out, (const uint8_t *)buf, len, path, err, err_len);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The tempo map                                                                                        */

double smf_tick_to_seconds(const smf_file *f, uint64_t tick)
{
    if (!f || f->division == 0)
        return 0.0;
    tempo_segment seg = {0, 0.0, DEFAULT_TEMPO};
    for (size_t i = 0; i < f->n && f->events[i].tick <= tick; i++) {
        const uint32_t t = tempo_of(f, &f->events[i]);
        if (t) {
            seg.seconds = segment_seconds(&seg, f->events[i].tick, f->division);
            seg.tick = f->events[i].tick;
            seg.tempo = t;
        }
    }
    return segment_seconds(&seg, tick, f->division);
}

uint64_t smf_seconds_to_tick(const smf_file *f, double seconds)
{
    if (!f || f->division == 0 || !(seconds > 0.0)) // also NaN
        return 0;
    tempo_segment seg = {0, 0.0, DEFAULT_TEMPO};
    for (size_t i = 0; i < f->n; i++) {
        const uint32_t t = tempo_of(f, &f->events[i]);
        if (!t)
            continue;
        const double at = segment_seconds(&seg, f->events[i].tick, f->division);
        if (at > seconds)
            break;
        seg.seconds = at;
        seg.tick = f->events[i].tick;
        seg.tempo = t;
    }
    const double ticks = (seconds - seg.seconds) * 1e6 * f->division / seg.tempo + 0.5; // nearest
    if (!(ticks < (double)MAX_TICK) || (uint64_t)ticks > MAX_TICK - seg.tick)
        return MAX_TICK;
    return seg.tick + (uint64_t)ticks;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Writing                                                                                              */

static int is_end_of_track(const smf_event *e)
{
    return e->status == 0xFF && e->data1 == 0x2F;
}

// Meta events that describe the whole piece: a format-1 file keeps them in its first track.
static int is_global_meta(const smf_event *e)
{
    return e->status == 0xFF && (e->data1 == 0x51 || e->data1 == 0x54 || e->data1 == 0x58 || e->data1 == 0x59);
}

static size_t put_vlq(uint8_t *p, uint32_t v)
{
    uint8_t tmp[4];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)(v & 0x7F);
        v >>= 7;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(tmp[n - 1 - i] | (i + 1 < n ? 0x80 : 0));
    return n;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int check_events(const smf_file *f, char *err, size_t err_len)
{
    for (size_t i = 0; i < f->n; i++) {
        const smf_event *e = &f->events[i];
        if (i > 0 && e->tick < f->events[i - 1].tick) {
            host_fmt(err, err_len, "event %zu: tick %llu comes before the previous event's %llu (not sorted)", i,
                     (unsigned long long)e->tick, (unsigned long long)f->events[i - 1].tick);
            return -1;
        }
        if (e->status >= 0x80 && e->status < 0xF0) {
            if (e->data1 >= 0x80 || e->data2 >= 0x80) {
                host_fmt(err, err_len, "event %zu: message 0x%02X has a data byte with the high bit set", i,
                         e->status);
                return -1;
            }
        } else if (e->status == 0xFF) {
            if (e->meta_len > MAX_VLQ || (e->meta_len && !f->meta_data) ||
                (uint64_t)e->meta_offset + e->meta_len > f->meta_size) {
                host_fmt(err, err_len, "event %zu: meta data (%u bytes at %u) lies outside the %zu stored", i,
                         e->meta_len, e->meta_offset, f->meta_size);
                return -1;
            }
        } else {
            host_fmt(err, err_len, "event %zu: status 0x%02X is neither a channel message nor a meta event", i,
                     e->status);
            return -1;
        }
    }
    return 0;
}

int smf_encode(uint8_t **bytes, size_t *size, const smf_file *f, int format, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (!bytes || !size || !f || (f->n && !f->events)) {
        host_fmt(err, err_len, "smf_encode: missing output or events");
        return -1;
    }
    *bytes = NULL;
    *size = 0;
    if (format != 0 && format != 1) {
        host_fmt(err, err_len, "cannot write format %d: only formats 0 and 1", format);
        return -1;
    }
    if (f->division == 0 || f->division >= 0x8000) {
        host_fmt(err, err_len, "cannot write a time division of %u: ticks per quarter must be 1..32767",
                 f->division);
        return -1;
    }
    if (check_events(f, err, err_len) != 0)
        return -1;

    // Which output track each event goes to: format 1 gives every source track with channel messages
    // its own track, in source order, after track 0, which takes the piece-wide meta events.
    uint16_t *map = calloc(65536, sizeof *map);
    uint16_t *dest = malloc((f->n ? f->n : 1) * sizeof *dest);
    uint8_t *buf = NULL;
    size_t *first = NULL;
    size_t *order = NULL;
    int rc = -1;
    if (!map || !dest) {
        host_fmt(err, err_len, "out of memory encoding %zu events", f->n);
        goto out;
    }
    size_t ntracks = 1;
    if (format == 1) {
        for (size_t i = 0; i < f->n; i++)
            if (f->events[i].status < 0xF0)
                map[f->events[i].track] = 1;
        for (size_t t = 0; t < 65536; t++)
            if (map[t]) {
                if (ntracks == 65535) {
                    host_fmt(err, err_len, "more than 65534 tracks hold channel messages");
                    goto out;
                }
                map[t] = (uint16_t)ntracks++;
            }
    }
    for (size_t i = 0; i < f->n; i++)
        dest[i] = (format == 0 || is_global_meta(&f->events[i])) ? 0 : map[f->events[i].track];

    // Events grouped by output track, each group in timeline order (a counting sort keeps it stable).
    first = calloc(ntracks + 1, sizeof *first);
    order = malloc((f->n ? f->n : 1) * sizeof *order);
    if (!first || !order) {
        host_fmt(err, err_len, "out of memory encoding %zu events", f->n);
        goto out;
    }
    size_t bound = 14 + ntracks * (8 + 4 + 3); // header; per track its chunk header and end-of-track
    for (size_t i = 0; i < f->n; i++) {
        first[dest[i] + 1]++;
        bound += f->events[i].status == 0xFF ? 4 + 2 + 4 + (size_t)f->events[i].meta_len : 4 + 3;
    }
    for (size_t t = 0; t < ntracks; t++)
        first[t + 1] += first[t];
    {
        size_t *fill = malloc((ntracks ? ntracks : 1) * sizeof *fill);
        if (!fill) {
            host_fmt(err, err_len, "out of memory encoding %zu events", f->n);
            goto out;
        }
        memcpy(fill, first, ntracks * sizeof *fill);
        for (size_t i = 0; i < f->n; i++)
            order[fill[dest[i]]++] = i;
        free(fill);
    }

    buf = malloc(bound);
    if (!buf) {
        host_fmt(err, err_len, "out of memory encoding %zu events", f->n);
        goto out;
    }
    uint8_t *p = buf;
    memcpy(p, "MThd", 4);
    put_be32(p + 4, 6);
    p[8] = 0;
    p[9] = (uint8_t)format;
    p[10] = (uint8_t)(ntracks >> 8);
    p[11] = (uint8_t)ntracks;
    p[12] = (uint8_t)(f->division >> 8);
    p[13] = (uint8_t)f->division;
    p += 14;
    for (size_t t = 0; t < ntracks; t++) {
        uint8_t *chunk = p;
        memcpy(p, "MTrk", 4);
        p += 8;
        uint64_t last = 0, end = 0;
        uint8_t running = 0;
        for (size_t k = first[t]; k < first[t + 1]; k++) {
            const size_t i = order[k];
            const smf_event *e = &f->events[i];
            if (is_end_of_track(e)) { // written once, at the latest end any source track asked for
                if (e->tick > end)
                    end = e->tick;
                continue;
            }
            if (e->tick - last > MAX_VLQ) {
                host_fmt(err, err_len, "event %zu: a gap of %llu ticks is more than a file can hold (%u)", i,
                         (unsigned long long)(e->tick - last), MAX_VLQ);
                goto out;
            }
            p += put_vlq(p, (uint32_t)(e->tick - last));
            last = e->tick;
            if (e->status == 0xFF) {
                *p++ = 0xFF;
                *p++ = e->data1;
                p += put_vlq(p, e->meta_len);
                if (e->meta_len)
                    memcpy(p, f->meta_data + e->meta_offset, e->meta_len);
                p += e->meta_len;
                running = 0; // a meta event cancels running status for readers that follow the standard
            } else {
                if (e->status != running)
                    *p++ = e->status;
                running = e->status;
                *p++ = e->data1;
                const unsigned kind = e->status & 0xF0u;
                if (kind != 0xC0 && kind != 0xD0)
                    *p++ = e->data2;
            }
        }
        if (end < last)
            end = last;
        if (end - last > MAX_VLQ) {
            host_fmt(err, err_len, "end of track %zu: a gap of %llu ticks is more than a file can hold (%u)", t,
                     (unsigned long long)(end - last), MAX_VLQ);
            goto out;
        }
        p += put_vlq(p, (uint32_t)(end - last));
        *p++ = 0xFF;
        *p++ = 0x2F;
        *p++ = 0x00;
        const size_t clen = (size_t)(p - chunk) - 8;
        if (clen > UINT32_MAX) {
            host_fmt(err, err_len, "track %zu: %zu bytes is more than a chunk can hold", t, clen);
            goto out;
        }
        put_be32(chunk + 4, (uint32_t)clen);
    }
    *size = (size_t)(p - buf);
    *bytes = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    free(map);
    free(dest);
    free(first);
    free(order);
    return rc;
}

int smf_write(const char *path, const smf_file *f, int format, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (!path || !*path) {
        host_fmt(err, err_len, "smf_write: no path");
        return -1;
    }
    uint8_t *bytes;
    size_t size;
    char why[256];
    if (smf_encode(&bytes, &size, f, format, why, sizeof why) != 0) {
        host_fmt(err, err_len, "%s: %s", path, why);
        return -1;
    }
    const int rc = write_file_atomic(path, bytes, size, err, err_len);
    free(bytes);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Building                                                                                             */

// Grows a malloc'd block to hold `need` bytes, doubling, whoever allocated it: the struct has no capacity
// field, so the allocator's own record of the block's size stands in for one.
static int reserve(void **block, size_t need)
{
    if (*block && malloc_usable_size(*block) >= need)
        return 0;
    size_t cap = *block ? malloc_usable_size(*block) : 0;
    if (cap < 256)
        cap = 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    void *p = realloc(*block, cap);
    if (!p)
        return -1;
    *block = p;
    return 0;
}

int smf_append(smf_file *f, const smf_event *e, const uint8_t *meta, uint32_t meta_len)
{
    if (!f || !e || (meta_len && !meta) || f->n >= SIZE_MAX / sizeof *f->events - 1)
        return -1;
    smf_event copy = *e;
    if (e->status == 0xFF) {
        if (f->meta_size + meta_len > UINT32_MAX)
            return -1;
        if (meta_len) {
            void *block = f->meta_data;
            if (reserve(&block, f->meta_size + meta_len) != 0)
                return -1;
            f->meta_data = block;
            memcpy(f->meta_data + f->meta_size, meta, meta_len);
        }
        copy.meta_offset = (uint32_t)f->meta_size;
        copy.meta_len = meta_len;
    } else {
        copy.meta_offset = 0;
        copy.meta_len = 0;
    }
    void *block = f->events;
    if (reserve(&block, (f->n + 1) * sizeof *f->events) != 0)
        return -1;
    f->events = block;
    f->events[f->n++] = copy;
    if (e->status == 0xFF)
        f->meta_size += meta_len;
    return 0;
}

void smf_free(smf_file *f)
{
    if (!f)
        return;
    free(f->events);
    free(f->meta_data);
    memset(f, 0, sizeof *f);
}
