/* The reader against hand-spelled files, the writer against the same bytes, round trips through both for
 * formats 0 and 1, running status around meta and sysex events, the tempo map both ways, format 2
 * layout, and atomic writes of files built with smf_append. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sdk/check.h"
#include "build.h"
#include "smf.h"

typedef struct {
    uint64_t tick;
    uint16_t track;
    uint8_t status, data1, data2;
    const char *meta; // meta payload as a string (NULL: none)
} want_event;

static void check_events(const smf_file *f, const want_event *want, size_t n, const char *what)
{
    CHECK(f->n == n, "%s: %zu events, want %zu", what, f->n, n);
    for (size_t i = 0; i < n && i < f->n; i++) {
        const smf_event *e = &f->events[i];
        const want_event *w = &want[i];
        CHECK(e->tick == w->tick && e->track == w->track && e->status == w->status && e->data1 == w->data1 &&
                  e->data2 == w->data2,
              "%s: event %zu is (%llu, track %u, %02X %02X %02X), want (%llu, track %u, %02X %02X %02X)", what,
              i, (unsigned long long)e->tick, e->track, e->status, e->data1, e->data2,
              (unsigned long long)w->tick, w->track, w->status, w->data1, w->data2);
        if (w->meta) {
            const size_t len = strlen(w->meta);
            CHECK(e->meta_len == len && e->meta_offset + len <= f->meta_size &&
                      memcmp(f->meta_data + e->meta_offset, w->meta, len) == 0,
                  "%s: event %zu meta payload differs", what, i);
        } else if (e->status == 0xFF && e->data1 != 0x51 && e->data1 != 0x58) {
            CHECK(e->meta_len == 0, "%s: event %zu has %u meta bytes, want none", what, i, e->meta_len);
        }
    }
}

// Everything the reader reports, payloads by content; times exactly (the same ticks through the same
// tempo map must give the same doubles). ignore_track compares a format-0 rewrite with its source.
static int same_events(const smf_file *a, const smf_file *b, int ignore_track, int skip_eot)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (skip_eot && i < a->n && a->events[i].status == 0xFF && a->events[i].data1 == 0x2F)
            i++;
        while (skip_eot && j < b->n && b->events[j].status == 0xFF && b->events[j].data1 == 0x2F)
            j++;
        if (i == a->n || j == b->n)
            break;
        const smf_event *x = &a->events[i], *y = &b->events[j];
        if (x->tick != y->tick || x->time != y->time || x->status != y->status || x->data1 != y->data1 ||
            x->data2 != y->data2 || x->meta_len != y->meta_len || (!ignore_track && x->track != y->track) ||
            (x->meta_len && memcmp(a->meta_data + x->meta_offset, b->meta_data + y->meta_offset, x->meta_len))) {
            fprintf(stderr, "events %zu/%zu differ: (%llu %u %02X %02X %02X) vs (%llu %u %02X %02X %02X)\n", i, j,
                    (unsigned long long)x->tick, x->track, x->status, x->data1, x->data2,
                    (unsigned long long)y->tick, y->track, y->status, y->data1, y->data2);
            return 0;
        }
        i++;
        j++;
    }
    return i == a->n && j == b->n;
}

/* A format-1 file spelled the way the writer writes: running status wherever it applies, the status
 * byte again after every meta event, each track's end-of-track last. */
static bytes canonical_format1(void)
{
    bytes b = {0};
    b_header(&b, 1, 3, 480);

    b_track_begin(&b);
    b_meta(&b, 0, 0x03, "tempo map", 9);
    b_meta(&b, 0, 0x58, "\x04\x02\x18\x08", 4);
    b_tempo(&b, 0, 500000);
    b_tempo(&b, 960, 1000000);
    b_eot(&b, 960);
    b_track_end(&b);

    b_track_begin(&b);
    b_meta(&b, 0, 0x03, "melody", 6);
    B_RAW(&b, 0x00, 0xC0, 0x05);       // program change: one data byte
    B_RAW(&b, 0x00, 0x90, 0x3C, 0x64); // note on
    B_RAW(&b, 0x83, 0x60, 0x3C, 0x00); // delta 480, running status: note off by velocity 0
    B_RAW(&b, 0x00, 0x3E, 0x50);       // running status again
    b_meta(&b, 0, 0x01, "mid", 3);     // cancels running status
    B_RAW(&b, 0x81, 0x70, 0x90, 0x3E, 0x00); // delta 240: the status is spelled again
    B_RAW(&b, 0x00, 0xB0, 0x07, 0x64);       // control change
    B_RAW(&b, 0x00, 0xE0, 0x00, 0x40);       // pitch bend, centre
    B_RAW(&b, 0x0A, 0xD0, 0x30);             // channel pressure: one data byte
    B_RAW(&b, 0x0A, 0x31);                   // running status with one data byte
    B_RAW(&b, 0x00, 0xA0, 0x3C, 0x20);       // poly pressure
    B_RAW(&b, 0x00, 0x80, 0x3C, 0x40);       // note off
    b_eot(&b, 100);
    b_track_end(&b);

    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x99, 0x24, 0x7F); // drums, channel 10
    B_RAW(&b, 0x00, 0x2A, 0x60);
    B_RAW(&b, 0x78, 0x89, 0x24, 0x40); // delta 120
    B_RAW(&b, 0x00, 0x2A, 0x40);
    b_eot(&b, 0);
    b_track_end(&b);
    return b;
}

static const want_event format1_events[] = {
    {0, 0, 0xFF, 0x03, 0, "tempo map"},
    {0, 0, 0xFF, 0x58, 0, "\x04\x02\x18\x08"},
    {0, 0, 0xFF, 0x51, 0, "\x07\xA1\x20"},
    {0, 1, 0xFF, 0x03, 0, "melody"},
    {0, 1, 0xC0, 0x05, 0, NULL},
    {0, 1, 0x90, 0x3C, 0x64, NULL},
    {0, 2, 0x99, 0x24, 0x7F, NULL},
    {0, 2, 0x99, 0x2A, 0x60, NULL},
    {120, 2, 0x89, 0x24, 0x40, NULL},
    {120, 2, 0x89, 0x2A, 0x40, NULL},
    {120, 2, 0xFF, 0x2F, 0, NULL},
    {480, 1, 0x90, 0x3C, 0x00, NULL},
    {480, 1, 0x90, 0x3E, 0x50, NULL},
    {480, 1, 0xFF, 0x01, 0, "mid"},
    {720, 1, 0x90, 0x3E, 0x00, NULL},
    {720, 1, 0xB0, 0x07, 0x64, NULL},
    {720, 1, 0xE0, 0x00, 0x40, NULL},
    {730, 1, 0xD0, 0x30, 0, NULL},
    {740, 1, 0xD0, 0x31, 0, NULL},
    {740, 1, 0xA0, 0x3C, 0x20, NULL},
    {740, 1, 0x80, 0x3C, 0x40, NULL},
    {840, 1, 0xFF, 0x2F, 0, NULL},
    {960, 0, 0xFF, 0x51, 0, "\x0F\x42\x40"},
    {1920, 0, 0xFF, 0x2F, 0, NULL},
};

static void test_format1(void)
{
    char err[256];
    bytes src = canonical_format1();
    smf_file f;
    CHECK(smf_read_memory(&f, src.d, src.n, "f1.mid", err, sizeof err) == 0, "%s", err);
    CHECK(f.format == 1 && f.ntracks == 3 && f.division == 480, "header %u %u %u", f.format, f.ntracks,
          f.division);
    check_events(&f, format1_events, sizeof format1_events / sizeof *format1_events, "format 1");

    uint8_t *enc = NULL;
    size_t enc_n = 0;
    CHECK(smf_encode(&enc, &enc_n, &f, 1, err, sizeof err) == 0, "%s", err);
    CHECK(enc_n == src.n && enc && memcmp(enc, src.d, src.n) == 0,
          "the writer's bytes (%zu) differ from the canonical file's (%zu)", enc_n, src.n);
    if (enc && enc_n == src.n)
        for (size_t i = 0; i < enc_n; i++)
            if (enc[i] != src.d[i]) {
                CHECK(0, "first difference at byte %zu: %02X, want %02X", i, enc[i], src.d[i]);
                break;
            }
    smf_file g;
    CHECK(smf_read_memory(&g, enc, enc_n, "again.mid", err, sizeof err) == 0, "%s", err);
    CHECK(same_events(&f, &g, 0, 0), "format 1: read, write, read changed the events");
    smf_free(&g);
    free(enc);

    // The same timeline as one track: every event but the end-of-track markers survives, in order.
    CHECK(smf_encode(&enc, &enc_n, &f, 0, err, sizeof err) == 0, "%s", err);
    CHECK(smf_read_memory(&g, enc, enc_n, "f0.mid", err, sizeof err) == 0, "%s", err);
    CHECK(g.format == 0 && g.ntracks == 1, "format %u with %u tracks", g.format, g.ntracks);
    CHECK(same_events(&f, &g, 1, 1), "format 1 written as format 0 changed the events");
    size_t eots = 0;
    for (size_t i = 0; i < g.n; i++)
        eots += g.events[i].status == 0xFF && g.events[i].data1 == 0x2F;
    CHECK(eots == 1 && g.n && g.events[g.n - 1].data1 == 0x2F && g.events[g.n - 1].tick == 1920,
          "format 0 has %zu end-of-track events, want one at the end (1920)", eots);

    // Format 0 round trip, and a second encoding is byte-identical to the first.
    uint8_t *enc2 = NULL;
    size_t enc2_n = 0;
    CHECK(smf_encode(&enc2, &enc2_n, &g, 0, err, sizeof err) == 0, "%s", err);
    CHECK(enc2_n == enc_n && memcmp(enc, enc2, enc_n) == 0, "format 0 re-encoding differs");
    smf_file h;
    CHECK(smf_read_memory(&h, enc2, enc2_n, "f0b.mid", err, sizeof err) == 0, "%s", err);
    CHECK(same_events(&g, &h, 0, 0), "format 0: read, write, read changed the events");
    smf_free(&h);
    free(enc2);
    smf_free(&g);
    free(enc);
    smf_free(&f);
    free(src.d);
}

static void expect_error(const bytes *b, const char *want_prefix, const char *want_word)
{
    char err[256];
    smf_file f;
    CHECK(smf_read_memory(&f, b->d, b->n, "bad.mid", err, sizeof err) == -1, "accepted, want \"%s\"",
          want_prefix);
    CHECK_PREFIX(err, want_prefix);
    CHECK(strstr(err, want_word) != NULL, "message \"%s\" does not say \"%s\"", err, want_word);
    CHECK(f.n == 0 && f.events == NULL && f.meta_data == NULL, "a failed read left events behind");
}

static void test_running_status(void)
{
    // After a meta event a data byte has no status to run on: the standard cancels it.
    bytes b = {0};
    b_header(&b, 0, 1, 96);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x90, 0x40, 0x50); // bytes 22..25
    b_meta(&b, 0, 0x01, "x", 1);       // bytes 26..30
    B_RAW(&b, 0x00, 0x40, 0x00);       // the data byte 0x40 is at byte 32
    b_eot(&b, 0);
    b_track_end(&b);
    expect_error(&b, "bad.mid: byte 32: data byte 0x40", "cancelled");
    free(b.d);

    // Likewise after sysex; and a sysex (F0 and F7 forms) is skipped by its length with its delta kept.
    b = (bytes){0};
    b_header(&b, 0, 1, 96);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x90, 0x40, 0x50);
    B_RAW(&b, 0x10, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7); // delta 16
    B_RAW(&b, 0x10, 0xF7, 0x02, 0x90, 0x90);                   // delta 16; its bytes are not events
    B_RAW(&b, 0x10, 0x80, 0x40, 0x00);                         // delta 16: tick 48
    B_RAW(&b, 0x00, 0x41, 0x00);                               // running status
    b_eot(&b, 0);
    b_track_end(&b);
    char err[256];
    smf_file f;
    CHECK(smf_read_memory(&f, b.d, b.n, "sysex.mid", err, sizeof err) == 0, "%s", err);
    const want_event sysex_want[] = {
        {0, 0, 0x90, 0x40, 0x50, NULL},
        {48, 0, 0x80, 0x40, 0x00, NULL},
        {48, 0, 0x80, 0x41, 0x00, NULL},
        {48, 0, 0xFF, 0x2F, 0, NULL},
    };
    check_events(&f, sysex_want, 4, "sysex");
    smf_free(&f);
    free(b.d);

    b = (bytes){0};
    b_header(&b, 0, 1, 96);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x90, 0x40, 0x50);
    B_RAW(&b, 0x00, 0xF0, 0x01, 0xF7); // bytes 26..29
    B_RAW(&b, 0x00, 0x40, 0x00);       // data byte at 31
    b_track_end(&b);
    expect_error(&b, "bad.mid: byte 31: data byte 0x40", "status");
    free(b.d);

    // Running status at the start of a track, and across a track boundary, is an error too.
    b = (bytes){0};
    b_header(&b, 1, 2, 96);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x90, 0x40, 0x50);
    b_track_end(&b);
    b_track_begin(&b); // starts at byte 26; its first event's byte at 35
    B_RAW(&b, 0x00, 0x41, 0x50);
    b_track_end(&b);
    expect_error(&b, "bad.mid: byte 35: data byte 0x41", "status");
    free(b.d);
}

static void test_tempo(void)
{
    char err[256];
    bytes src = canonical_format1(); // 120 bpm, then 60 bpm from tick 960, division 480
    smf_file f;
    CHECK(smf_read_memory(&f, src.d, src.n, "t.mid", err, sizeof err) == 0, "%s", err);
    const struct {
        uint64_t tick;
        double seconds;
    } points[] = {{0, 0.0}, {240, 0.25}, {480, 0.5}, {960, 1.0}, {1200, 1.5}, {1440, 2.0}, {1920, 3.0}, {4800, 9.0}};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        CHECK_NEAR(smf_tick_to_seconds(&f, points[i].tick), points[i].seconds, 1e-12);
        CHECK(smf_seconds_to_tick(&f, points[i].seconds) == points[i].tick, "seconds %g give tick %llu, want %llu",
              points[i].seconds, (unsigned long long)smf_seconds_to_tick(&f, points[i].seconds),
              (unsigned long long)points[i].tick);
    }
    for (size_t i = 0; i < f.n; i++)
        CHECK(f.events[i].time == smf_tick_to_seconds(&f, f.events[i].tick), "event %zu time %.9g, map %.9g", i,
              f.events[i].time, smf_tick_to_seconds(&f, f.events[i].tick));
    int bad = 0;
    for (uint64_t t = 0; t < 100000; t += 7)
        bad += smf_seconds_to_tick(&f, smf_tick_to_seconds(&f, t)) != t;
    CHECK(bad == 0, "%d ticks do not survive ticks -> seconds -> ticks", bad);
    CHECK(smf_seconds_to_tick(&f, 0.9999) == 960, "just before the change rounds to it: %llu",
          (unsigned long long)smf_seconds_to_tick(&f, 0.9999));
    CHECK(smf_seconds_to_tick(&f, -1.0) == 0 && smf_seconds_to_tick(&f, NAN) == 0, "negative or NaN seconds");
    CHECK(smf_seconds_to_tick(&f, 1e300) == (uint64_t)1 << 40, "huge seconds clamp to 2^40");
    smf_free(&f);
    free(src.d);

    // A tempo change in any track of a format-1 file moves every track's later events; several changes at
    // one tick: the last one holds.
    bytes b = {0};
    b_header(&b, 1, 2, 100);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x90, 0x40, 0x50);
    B_RAW(&b, 0x81, 0x48, 0x40, 0x00); // tick 200
    b_eot(&b, 0);
    b_track_end(&b);
    b_track_begin(&b);
    b_tempo(&b, 100, 250000);  // tick 100: 240 bpm
    b_tempo(&b, 0, 2000000);   // tick 100: 30 bpm, which holds
    b_eot(&b, 0);
    b_track_end(&b);
    CHECK(smf_read_memory(&f, b.d, b.n, "t2.mid", err, sizeof err) == 0, "%s", err);
    CHECK(f.n == 6 && f.events[4].tick == 200 && f.events[4].track == 0, "merged timeline");
    if (f.n == 6)
        CHECK_NEAR(f.events[4].time, 0.5 + 2.0, 1e-12); // 100 ticks at 120 bpm, 100 at 30 bpm
    CHECK(smf_seconds_to_tick(&f, 1.5) == 150, "1.5 s is tick %llu, want 150",
          (unsigned long long)smf_seconds_to_tick(&f, 1.5));
    smf_free(&f);
    free(b.d);

    // No tempo event: 120 bpm.
    smf_file e = {0};
    e.division = 96;
    CHECK_NEAR(smf_tick_to_seconds(&e, 96), 0.5, 1e-12);
    CHECK(smf_seconds_to_tick(&e, 2.0) == 384, "default tempo");
}

static void test_layout(void)
{
    char err[256];
    smf_file f;
    // Format 2: each pattern starts where the previous one ended (its end-of-track).
    bytes b = {0};
    b_header(&b, 2, 2, 96);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x90, 0x40, 0x50);
    B_RAW(&b, 0x60, 0x40, 0x00); // 96
    b_eot(&b, 96);               // 192
    b_track_end(&b);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0x91, 0x30, 0x50);
    B_RAW(&b, 0x0A, 0x30, 0x00);
    b_track_end(&b); // no end-of-track: tolerated at the chunk's end
    CHECK(smf_read_memory(&f, b.d, b.n, "f2.mid", err, sizeof err) == 0, "%s", err);
    const want_event f2_want[] = {
        {0, 0, 0x90, 0x40, 0x50, NULL}, {96, 0, 0x90, 0x40, 0x00, NULL}, {192, 0, 0xFF, 0x2F, 0, NULL},
        {192, 1, 0x91, 0x30, 0x50, NULL}, {202, 1, 0x91, 0x30, 0x00, NULL},
    };
    check_events(&f, f2_want, 5, "format 2");
    CHECK(f.format == 2, "format %u", f.format);
    smf_free(&f);
    free(b.d);

    // A longer header (its extra bytes skipped), an unknown chunk skipped by its length, bytes after an
    // end-of-track ignored.
    b = (bytes){0};
    b_put(&b, "MThd", 4);
    b_be32(&b, 8);
    B_RAW(&b, 0, 0, 0, 1, 0, 96, 0xAB, 0xCD);
    b_put(&b, "XFIH", 4);
    b_be32(&b, 3);
    B_RAW(&b, 0xFF, 0xFF, 0xFF);
    b_track_begin(&b);
    B_RAW(&b, 0x05, 0x92, 0x10, 0x20);
    b_eot(&b, 0);
    B_RAW(&b, 0xF4, 0xF4, 0x80);
    b_track_end(&b);
    CHECK(smf_read_memory(&f, b.d, b.n, "odd.mid", err, sizeof err) == 0, "%s", err);
    const want_event odd_want[] = {{5, 0, 0x92, 0x10, 0x20, NULL}, {5, 0, 0xFF, 0x2F, 0, NULL}};
    check_events(&f, odd_want, 2, "odd chunks");
    smf_free(&f);
    free(b.d);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_build_and_write(void)
{
    char err[256];
    smf_file f = {0};
    f.division = 480;
    const uint8_t tempo[3] = {0x09, 0x27, 0xC0}; // 600000 us: 100 bpm
    smf_event e = {0};
    e.status = 0xFF;
    e.data1 = 0x51;
    CHECK(smf_append(&f, &e, tempo, 3) == 0, "append tempo");
    e.data1 = 0x03;
    CHECK(smf_append(&f, &e, (const uint8_t *)"piano", 5) == 0, "append name");
    // Enough notes that growth happens many times; two tracks, interleaved by tick.
    for (uint32_t i = 0; i < 20000; i++) {
        smf_event n = {0};
        n.tick = (uint64_t)i * 30;
        n.track = (uint16_t)(1 + i % 2);
        n.status = (uint8_t)((i % 3 ? 0x90 : 0x80) | (i % 2));
        n.data1 = (uint8_t)(36 + i % 50);
        n.data2 = (uint8_t)(i % 128);
        CHECK(smf_append(&f, &n, NULL, 0) == 0, "append %u", i);
    }
    CHECK(f.n == 20002 && f.meta_size == 8, "%zu events, %zu meta bytes", f.n, f.meta_size);

    char dir[] = "/tmp/test_smf_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/out.mid", dir);
    // smf_append leaves times alone; the reader computes them, so give the built file the same.
    for (size_t i = 0; i < f.n; i++)
        f.events[i].time = smf_tick_to_seconds(&f, f.events[i].tick);
    for (int format = 0; format <= 1; format++) {
        CHECK(smf_write(path, &f, format, err, sizeof err) == 0, "%s", err);
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode %o", (unsigned)sb.st_mode & 0777);
        CHECK(count_entries(dir) == 1, "%zu files in the directory: a temporary file was left", count_entries(dir));
        smf_file g;
        CHECK(smf_read(&g, path, err, sizeof err) == 0, "%s", err);
        CHECK(g.format == format && g.ntracks == (format ? 3 : 1), "format %u, %u tracks", g.format, g.ntracks);
        CHECK(same_events(&f, &g, format == 0, 1), "format %d: built, written, read: events differ", format);
        CHECK_NEAR(g.events[g.n - 1].time, 19999 * 30 / 480.0 * 0.6, 1e-9);
        smf_free(&g);
    }

    // Refusals leave the existing file alone.
    smf_event saved = f.events[5];
    f.events[5].tick = 1u << 30; // now out of order
    CHECK(smf_write(path, &f, 1, err, sizeof err) == -1 && strstr(err, "event 6: tick") && strstr(err, "sorted"),
          "unsorted: \"%s\"", err);
    f.events[5] = saved;
    saved = f.events[7];
    f.events[7].data2 = 0x80;
    CHECK(smf_write(path, &f, 1, err, sizeof err) == -1 && strstr(err, "event 7"), "high data byte: \"%s\"", err);
    f.events[7] = saved;
    f.events[7].status = 0xF0;
    CHECK(smf_write(path, &f, 0, err, sizeof err) == -1 && strstr(err, "0xF0"), "sysex status: \"%s\"", err);
    f.events[7] = saved;
    f.events[1].meta_offset = 6;
    CHECK(smf_write(path, &f, 0, err, sizeof err) == -1 && strstr(err, "event 1: meta"), "meta bounds: \"%s\"", err);
    f.events[1].meta_offset = 3;
    CHECK(smf_write(path, &f, 2, err, sizeof err) == -1 && strstr(err, "format 2"), "format 2: \"%s\"", err);
    f.events[f.n - 1].tick += 0x10000000; // a gap no variable-length quantity holds
    CHECK(smf_write(path, &f, 0, err, sizeof err) == -1 && strstr(err, "gap"), "gap: \"%s\"", err);
    f.events[f.n - 1].tick -= 0x10000000;
    f.division = 0x8000;
    CHECK(smf_write(path, &f, 0, err, sizeof err) == -1 && strstr(err, "division"), "division: \"%s\"", err);
    f.division = 480;
    smf_file g;
    CHECK(smf_read(&g, path, err, sizeof err) == 0, "the earlier file: %s", err);
    CHECK(same_events(&f, &g, 0, 1), "refused writes changed the earlier file");
    smf_free(&g);
    CHECK(count_entries(dir) == 1, "refused writes left %zu files", count_entries(dir));

    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir.mid", dir);
    CHECK(smf_write(missing, &f, 0, err, sizeof err) == -1 && strstr(err, missing), "missing dir: \"%s\"", err);
    CHECK(smf_read(&g, missing, err, sizeof err) == -1 && strstr(err, "cannot open"), "missing file: \"%s\"", err);

    unlink(path);
    rmdir(dir);
    smf_free(&f);
    CHECK(f.events == NULL && f.n == 0, "smf_free clears");
}

int main(void)
{
    test_format1();
    test_running_status();
    test_tempo();
    test_layout();
    test_build_and_write();
    TEST_EXIT();
}
