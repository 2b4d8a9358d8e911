/* Hostile and broken files: each named defect gets an error naming its byte, every truncation of a valid
 * file is refused, and thousands of random mutations never crash, hang or yield an inconsistent file;
 * what the reader does accept must survive the writer and the reader again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/check.h"
#include "build.h"
#include "smf.h"

#define MAX_TICK ((uint64_t)1 << 40)

// A valid format-1 file touching every kind of event the reader handles.
static bytes valid_file(void)
{
    bytes b = {0};
    b_header(&b, 1, 2, 384);
    b_track_begin(&b);
    b_meta(&b, 0, 0x03, "title", 5);
    b_meta(&b, 0, 0x58, "\x03\x02\x18\x08", 4);
    b_meta(&b, 0, 0x59, "\x01\x00", 2);
    b_tempo(&b, 0, 400000);
    b_tempo(&b, 768, 700000);
    b_eot(&b, 0);
    b_track_end(&b);
    b_track_begin(&b);
    B_RAW(&b, 0x00, 0xC3, 0x10);
    B_RAW(&b, 0x00, 0xF0, 0x03, 0x43, 0x12, 0xF7);
    B_RAW(&b, 0x00, 0x93, 0x3C, 0x64);
    B_RAW(&b, 0x00, 0x40, 0x64);
    B_RAW(&b, 0x83, 0x00, 0x3C, 0x00);
    b_meta(&b, 0, 0x05, "la", 2);
    B_RAW(&b, 0x81, 0x00, 0xB3, 0x40, 0x7F);
    B_RAW(&b, 0x00, 0xE3, 0x10, 0x50);
    B_RAW(&b, 0x10, 0xD3, 0x22);
    B_RAW(&b, 0x10, 0x83, 0x40, 0x00);
    b_eot(&b, 0);
    b_track_end(&b);
    return b;
}

// A reader's answer must be all or nothing: an error with a message naming a byte and nothing owned, or
// a file whose fields agree with each other and with the input's size.
static int check_result(int rc, const smf_file *f, const char *err, size_t size, const char *what)
{
    if (rc != 0) {
        CHECK(rc == -1, "%s: returned %d", what, rc);
        CHECK(err[0] != '\0' && strstr(err, "byte ") != NULL, "%s: message \"%s\" names no byte", what, err);
        CHECK(f->events == NULL && f->meta_data == NULL && f->n == 0, "%s: failure left data", what);
        return 0;
    }
    int ok = f->n <= size / 2 && f->meta_size <= size && f->format <= 2 && f->ntracks >= 1 &&
             f->division > 0 && f->division < 0x8000;
    for (size_t i = 0; i < f->n && ok; i++) {
        const smf_event *e = &f->events[i];
        ok = e->tick <= MAX_TICK && (i == 0 || f->events[i - 1].tick <= e->tick) && e->track < f->ntracks &&
             ((e->status >= 0x80 && e->status < 0xF0 && e->data1 < 0x80 && e->data2 < 0x80) ||
              (e->status == 0xFF && (uint64_t)e->meta_offset + e->meta_len <= f->meta_size)) &&
             e->time >= 0.0 && (i == 0 || f->events[i - 1].time <= e->time);
        if (!ok)
            CHECK(0, "%s: event %zu inconsistent", what, i);
    }
    CHECK(ok, "%s: accepted file is inconsistent (%zu events from %zu bytes)", what, f->n, size);
    return ok;
}

static void expect(const bytes *b, const char *prefix, const char *word)
{
    char err[256] = "";
    smf_file f;
    const int rc = smf_read_memory(&f, b->d, b->n, "bad.mid", err, sizeof err);
    CHECK(rc == -1, "accepted; want \"%s\"", prefix);
    check_result(rc, &f, err, b->n, prefix);
    CHECK_PREFIX(err, prefix);
    CHECK(strstr(err, word) != NULL, "message \"%s\" does not say \"%s\"", err, word);
    smf_free(&f);
}

// One track of division 96 around the given event bytes (the track body starts at byte 22).
static bytes one_track(const uint8_t *body, size_t n, int with_eot)
{
    bytes b = {0};
    b_header(&b, 0, 1, 96);
    b_track_begin(&b);
    b_put(&b, body, n);
    if (with_eot)
        b_eot(&b, 0);
    b_track_end(&b);
    return b;
}

static void named_defects(void)
{
    bytes b;
    // Not MIDI at all, or too short to say.
    b = (bytes){0};
    b_put(&b, "RIFF\0\0\0\0", 8);
    expect(&b, "bad.mid: byte 0: ", "MThd");
    b.n = 3;
    expect(&b, "bad.mid: byte 0: ", "MThd");
    free(b.d);

    // Header lengths that lie, zero tracks, format 3, SMPTE and zero divisions.
    b = (bytes){0};
    b_header(&b, 0, 1, 96);
    b.d[7] = 5;
    expect(&b, "bad.mid: byte 4: header length 5", "shorter");
    b.d[7] = 200;
    expect(&b, "bad.mid: byte 4: header length 200", "past the end");
    b.d[7] = 6;
    b.d[11] = 0;
    expect(&b, "bad.mid: byte 10: ", "zero tracks");
    b.d[11] = 1;
    b.d[9] = 3;
    expect(&b, "bad.mid: byte 8: format 3", "0, 1 or 2");
    b.d[9] = 0;
    b.d[12] = 0xE7;
    b.d[13] = 0x28;
    expect(&b, "bad.mid: byte 12: SMPTE", "0xE728");
    b.d[12] = 0;
    b.d[13] = 0;
    expect(&b, "bad.mid: byte 12: ", "0 ticks");
    free(b.d);

    // Fewer track chunks than declared.
    b = (bytes){0};
    b_header(&b, 1, 3, 96);
    b_track_begin(&b);
    b_eot(&b, 0);
    b_track_end(&b);
    expect(&b, "bad.mid: byte 26: ", "1 of 3 tracks");
    free(b.d);

    // A track length past the end of the file, and one that cuts an event in half.
    const uint8_t note[] = {0x00, 0x90, 0x3C, 0x40, 0x10, 0x80, 0x3C, 0x40};
    b = one_track(note, sizeof note, 1);
    b.d[21] = (uint8_t)(b.d[21] + 1);
    expect(&b, "bad.mid: byte 18: track length 13", "past the end of the file (34 bytes)");
    b.d[21] = 7; // the track now ends inside the note-off
    expect(&b, "bad.mid: byte 27: message 0x80 needs 2", "the track ends");
    b.d[21] = 6; // ... right after its status byte
    expect(&b, "bad.mid: byte 27: message 0x80 needs 2", "the track ends");
    b.d[21] = 5; // ... right after its delta time
    expect(&b, "bad.mid: byte 27: ", "without its event");
    free(b.d);
    // An unknown chunk whose length runs past the end.
    b = (bytes){0};
    b_header(&b, 0, 1, 96);
    b_put(&b, "JUNK", 4);
    b_be32(&b, 1000);
    expect(&b, "bad.mid: byte 18: chunk length 1000", "past the end");
    free(b.d);

    // A five-byte variable-length quantity: as a delta, as a meta length, as a sysex length.
    const uint8_t vlq5[] = {0x81, 0x80, 0x80, 0x80, 0x00, 0x90, 0x3C, 0x40};
    b = one_track(vlq5, sizeof vlq5, 1);
    expect(&b, "bad.mid: byte 22: delta time", "longer than 4 bytes");
    free(b.d);
    const uint8_t meta5[] = {0x00, 0xFF, 0x01, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F};
    b = one_track(meta5, sizeof meta5, 1);
    expect(&b, "bad.mid: byte 25: meta event length", "longer than 4 bytes");
    free(b.d);
    const uint8_t sysex5[] = {0x00, 0xF0, 0x80, 0x80, 0x80, 0x80, 0x01};
    b = one_track(sysex5, sizeof sysex5, 1);
    expect(&b, "bad.mid: byte 24: sysex length", "longer than 4 bytes");
    free(b.d);

    // A meta or sysex length past the end of its track.
    const uint8_t meta_long[] = {0x00, 0xFF, 0x01, 0x20, 'a', 'b'};
    b = one_track(meta_long, sizeof meta_long, 1);
    expect(&b, "bad.mid: byte 25: meta event 0x01 of 32 bytes", "(6 left)");
    free(b.d);
    const uint8_t meta_huge[] = {0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0x7F};
    b = one_track(meta_huge, sizeof meta_huge, 0);
    expect(&b, "bad.mid: byte 25: meta event 0x01 of 268435455 bytes", "past the end");
    free(b.d);
    const uint8_t sysex_long[] = {0x00, 0xF0, 0x40, 0x01};
    b = one_track(sysex_long, sizeof sysex_long, 1);
    expect(&b, "bad.mid: byte 24: sysex of 64 bytes", "past the end");
    free(b.d);
    const uint8_t meta_cut[] = {0x00, 0xFF};
    b = one_track(meta_cut, sizeof meta_cut, 0);
    expect(&b, "bad.mid: byte 23: meta event without its type", "ends");
    free(b.d);

    // A byte with the high bit set where a data byte belongs, in each position.
    const uint8_t high1[] = {0x00, 0x90, 0x90, 0x40};
    b = one_track(high1, sizeof high1, 1);
    expect(&b, "bad.mid: byte 24: byte 0x90 where a data byte", "0x90");
    free(b.d);
    const uint8_t high2[] = {0x00, 0xB0, 0x07, 0xFF};
    b = one_track(high2, sizeof high2, 1);
    expect(&b, "bad.mid: byte 25: byte 0xFF where a data byte", "0xB0");
    free(b.d);
    const uint8_t high_pc[] = {0x00, 0xC0, 0x80};
    b = one_track(high_pc, sizeof high_pc, 1);
    expect(&b, "bad.mid: byte 24: byte 0x80", "0xC0");
    free(b.d);

    // Running status at the start of a track.
    const uint8_t rs_start[] = {0x00, 0x3C, 0x40};
    b = one_track(rs_start, sizeof rs_start, 1);
    expect(&b, "bad.mid: byte 23: data byte 0x3C", "no running status");
    free(b.d);
    // Running status across a meta event (the standard cancels it there).
    const uint8_t rs_meta[] = {0x00, 0x90, 0x3C, 0x40, 0x00, 0xFF, 0x06, 0x01, 'm', 0x10, 0x3C, 0x00};
    b = one_track(rs_meta, sizeof rs_meta, 1);
    expect(&b, "bad.mid: byte 32: data byte 0x3C", "cancelled");
    free(b.d);

    // System messages have no place in a file.
    for (unsigned s = 0xF1; s <= 0xFE; s++) {
        if (s == 0xF7)
            continue;
        const uint8_t sys[] = {0x00, (uint8_t)s, 0x00, 0x00};
        b = one_track(sys, sizeof sys, 1);
        char want[64];
        snprintf(want, sizeof want, "system message 0x%02X", s);
        expect(&b, "bad.mid: byte 23: ", want);
        free(b.d);
    }

    // Tempo events that cannot be: the wrong size, zero.
    const uint8_t tempo4[] = {0x00, 0xFF, 0x51, 0x04, 0x07, 0xA1, 0x20, 0x00};
    b = one_track(tempo4, sizeof tempo4, 1);
    expect(&b, "bad.mid: byte 23: tempo event of 4 bytes", "3 expected");
    free(b.d);
    const uint8_t tempo0[] = {0x00, 0xFF, 0x51, 0x03, 0x00, 0x00, 0x00};
    b = one_track(tempo0, sizeof tempo0, 1);
    expect(&b, "bad.mid: byte 23: tempo of 0", "microseconds");
    free(b.d);
}

// Deltas of 2^28 - 1 up to the 2^40 cap are fine and exact; one more step is refused.
static void huge_deltas(void)
{
    const uint32_t max_delta = 0x0FFFFFFF;
    const size_t fits = (size_t)(MAX_TICK / max_delta); // 4096 such deltas stay at or below 2^40
    bytes b = {0};
    b_header(&b, 0, 1, 1);
    b_track_begin(&b);
    for (size_t i = 0; i < fits; i++) {
        b_vlq(&b, max_delta);
        B_RAW(&b, 0x90, 0x3C, 0x40);
    }
    b_eot(&b, 0);
    b_track_end(&b);
    char err[256];
    smf_file f;
    CHECK(smf_read_memory(&f, b.d, b.n, "huge.mid", err, sizeof err) == 0, "%s", err);
    CHECK(f.n == fits + 1 && f.events[f.n - 1].tick == (uint64_t)fits * max_delta,
          "%zu events, last tick %llu", f.n, f.n ? (unsigned long long)f.events[f.n - 1].tick : 0ull);
    CHECK(f.n && f.events[f.n - 1].time > 0 && f.events[f.n - 1].time < 1e12, "a finite time");
    smf_free(&f);
    free(b.d);

    b = (bytes){0};
    b_header(&b, 0, 1, 1);
    b_track_begin(&b);
    for (size_t i = 0; i < fits + 1; i++) {
        b_vlq(&b, max_delta);
        B_RAW(&b, 0x90, 0x3C, 0x40);
    }
    b_track_end(&b);
    char want[64];
    snprintf(want, sizeof want, "bad.mid: byte %zu: absolute tick", 22 + fits * 7);
    expect(&b, want, "2^40");
    free(b.d);

    // In format 2 the patterns' lengths add up: each under the cap, together over it.
    b = (bytes){0};
    b_header(&b, 2, 2, 1);
    for (int t = 0; t < 2; t++) {
        b_track_begin(&b);
        for (size_t i = 0; i < fits * 3 / 4; i++) {
            b_vlq(&b, max_delta);
            B_RAW(&b, 0x90, 0x3C, 0x40);
        }
        b_track_end(&b);
    }
    expect(&b, "bad.mid: byte ", "2^40");
    free(b.d);
}

static void truncations(void)
{
    bytes v = valid_file();
    char err[256];
    smf_file f;
    CHECK(smf_read_memory(&f, v.d, v.n, "valid.mid", err, sizeof err) == 0, "the valid file: %s", err);
    CHECK(f.n == 16, "the valid file has %zu events, want 16", f.n);
    smf_free(&f);
    // The exact length matters: trailing bytes after the tracks are not read, but any cut is refused.
    size_t refused = 0;
    for (size_t len = 0; len < v.n; len++) {
        uint8_t *copy = malloc(len ? len : 1); // its own block, so ASan sees any read past the cut
        memcpy(copy, v.d, len);
        const int rc = smf_read_memory(&f, copy, len, "cut.mid", err, sizeof err);
        char what[64];
        snprintf(what, sizeof what, "cut at %zu", len);
        check_result(rc, &f, err, len, what);
        refused += rc == -1;
        smf_free(&f);
        free(copy);
    }
    CHECK(refused == v.n, "%zu of %zu truncations refused", refused, v.n);
    free(v.d);
}

// xorshift64*: the mutations are the same on every run, so a failure can be reproduced by its index.
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static void mutations(void)
{
    bytes v = valid_file();
    const uint8_t interesting[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xF0, 0xF7, 0xFF, 0x2F, 0x51, 0x90, 0xC0};
    size_t accepted = 0, rewritten = 0;
    const int rounds = 4000;
    for (int k = 0; k < rounds; k++) {
        size_t n = v.n;
        uint8_t *m = malloc(v.n + 16);
        memcpy(m, v.d, v.n);
        const int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++) {
            const uint32_t op = rnd() % 5, at = n ? rnd() % (uint32_t)n : 0;
            if (op == 0 && n)
                m[at] = (uint8_t)rnd();
            else if (op == 1 && n)
                m[at] = interesting[rnd() % sizeof interesting];
            else if (op == 2 && n)
                m[at] ^= (uint8_t)(1u << (rnd() % 8));
            else if (op == 3 && n > 1) { // delete a byte
                memmove(m + at, m + at + 1, n - at - 1);
                n--;
            } else if (n < v.n + 16) { // insert one
                memmove(m + at + 1, m + at, n - at);
                m[at] = interesting[rnd() % sizeof interesting];
                n++;
            }
        }
        uint8_t *exact = malloc(n ? n : 1); // exact size so ASan catches any read past the end
        memcpy(exact, m, n);
        free(m);
        char err[256] = "", what[64];
        snprintf(what, sizeof what, "mutation %d", k);
        smf_file f;
        const int rc = smf_read_memory(&f, exact, n, "mut.mid", err, sizeof err);
        if (check_result(rc, &f, err, n, what)) {
            accepted++;
            // What the reader accepts, the writer writes and the reader reads back unchanged (as one
            // track: end-of-track markers merge, everything else keeps its tick, time and order).
            uint8_t *enc;
            size_t enc_n;
            if (smf_encode(&enc, &enc_n, &f, 0, err, sizeof err) == 0) {
                rewritten++;
                smf_file g;
                CHECK(smf_read_memory(&g, enc, enc_n, "re.mid", err, sizeof err) == 0, "%s: re-read: %s", what, err);
                size_t i = 0, j = 0;
                int same = 1;
                for (; same; i++, j++) {
                    while (i < f.n && f.events[i].status == 0xFF && f.events[i].data1 == 0x2F)
                        i++;
                    while (j < g.n && g.events[j].status == 0xFF && g.events[j].data1 == 0x2F)
                        j++;
                    if (i == f.n || j == g.n) {
                        same = i == f.n && j == g.n;
                        break;
                    }
                    const smf_event *a = &f.events[i], *b = &g.events[j];
                    same = a->tick == b->tick && a->status == b->status && a->data1 == b->data1 &&
                           a->data2 == b->data2 && a->meta_len == b->meta_len && a->time == b->time &&
                           (!a->meta_len ||
                            memcmp(f.meta_data + a->meta_offset, g.meta_data + b->meta_offset, a->meta_len) == 0);
                }
                CHECK(same, "%s: rewritten file differs at event %zu", what, i);
                smf_free(&g);
                free(enc);
            } else {
                CHECK(strstr(err, "gap") != NULL, "%s: an accepted file cannot be written: %s", what, err);
            }
        }
        smf_free(&f);
        free(exact);
    }
    // Guard against a reader that refuses everything (then the round trip above proves nothing).
    CHECK(accepted > (size_t)rounds / 50, "only %zu of %d mutations were readable", accepted, rounds);
    printf("mutations: %d tried, %zu read, %zu rewritten and compared\n", rounds, accepted, rewritten);
    free(v.d);
}

int main(void)
{
    named_defects();
    huge_deltas();
    truncations();
    mutations();
    TEST_EXIT();
}
