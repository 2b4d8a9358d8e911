/* The writer against an independent parser: files written by smf_write are read by midicsv (or, without
 * it, python3's mido) and must give back the same channel messages at the same ticks on the same tracks,
 * the tempo and the header. With csvmidi the other way too: its files through smf_read. Exits 77
 * (skipped) when neither parser is installed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sdk/check.h"
#include "smf.h"

// mido's messages printed the way midicsv prints them, for the fields this test compares.
static const char mido_script[] =
    "import sys, mido\n"
    "m = mido.MidiFile(sys.argv[1])\n"
    "print('0, 0, Header, %d, %d, %d' % (m.type, len(m.tracks), m.ticks_per_beat))\n"
    "for i, tr in enumerate(m.tracks):\n"
    "    t = 0\n"
    "    for x in tr:\n"
    "        t += x.time\n"
    "        p = '%d, %d, ' % (i + 1, t)\n"
    "        if x.type == 'note_on': print(p + 'Note_on_c, %d, %d, %d' % (x.channel, x.note, x.velocity))\n"
    "        elif x.type == 'note_off': print(p + 'Note_off_c, %d, %d, %d' % (x.channel, x.note, x.velocity))\n"
    "        elif x.type == 'control_change': print(p + 'Control_c, %d, %d, %d' % (x.channel, x.control, x.value))\n"
    "        elif x.type == 'program_change': print(p + 'Program_c, %d, %d' % (x.channel, x.program))\n"
    "        elif x.type == 'pitchwheel': print(p + 'Pitch_bend_c, %d, %d' % (x.channel, x.pitch + 8192))\n"
    "        elif x.type == 'aftertouch': print(p + 'Channel_aftertouch_c, %d, %d' % (x.channel, x.value))\n"
    "        elif x.type == 'polytouch': print(p + 'Poly_aftertouch_c, %d, %d, %d' % (x.channel, x.note, x.value))\n"
    "        elif x.type == 'set_tempo': print(p + 'Tempo, %d' % x.tempo)\n"
    "        elif x.type == 'end_of_track': print(p + 'End_track')\n";

typedef struct {
    unsigned track;
    unsigned long long tick;
    unsigned status, data1, data2;
} msg;

typedef struct {
    msg *m;
    size_t n;
    unsigned format, ntracks, division, end_tracks;
    unsigned long long tempo_tick;
    long tempo; // -1: none seen
} parsed;

// One line of midicsv's output into a channel message; other record types fill the header fields.
static void parse_line(parsed *p, const char *line)
{
    unsigned track, a, b, c;
    unsigned long long tick;
    char type[64];
    int used = 0;
    if (sscanf(line, "%u, %llu, %63[A-Za-z_],%n", &track, &tick, type, &used) < 3)
        return;
    const char *rest = line + used;
    msg m = {track, tick, 0, 0, 0};
    if (strcmp(type, "Header") == 0) {
        sscanf(rest, "%u, %u, %u", &p->format, &p->ntracks, &p->division);
        return;
    } else if (strcmp(type, "End_track") == 0) {
        p->end_tracks++;
        return;
    } else if (strcmp(type, "Tempo") == 0) {
        long t;
        if (sscanf(rest, "%ld", &t) == 1) {
            p->tempo = t;
            p->tempo_tick = tick;
        }
        return;
    } else if (strcmp(type, "Note_on_c") == 0 && sscanf(rest, "%u, %u, %u", &a, &b, &c) == 3) {
        m = (msg){track, tick, 0x90 | a, b, c};
    } else if (strcmp(type, "Note_off_c") == 0 && sscanf(rest, "%u, %u, %u", &a, &b, &c) == 3) {
        m = (msg){track, tick, 0x80 | a, b, c};
    } else if (strcmp(type, "Poly_aftertouch_c") == 0 && sscanf(rest, "%u, %u, %u", &a, &b, &c) == 3) {
        m = (msg){track, tick, 0xA0 | a, b, c};
    } else if (strcmp(type, "Control_c") == 0 && sscanf(rest, "%u, %u, %u", &a, &b, &c) == 3) {
        m = (msg){track, tick, 0xB0 | a, b, c};
    } else if (strcmp(type, "Program_c") == 0 && sscanf(rest, "%u, %u", &a, &b) == 2) {
        m = (msg){track, tick, 0xC0 | a, b, 0};
    } else if (strcmp(type, "Channel_aftertouch_c") == 0 && sscanf(rest, "%u, %u", &a, &b) == 2) {
        m = (msg){track, tick, 0xD0 | a, b, 0};
    } else if (strcmp(type, "Pitch_bend_c") == 0 && sscanf(rest, "%u, %u", &a, &b) == 2) {
        m = (msg){track, tick, 0xE0 | a, b & 0x7F, b >> 7};
    } else {
        return;
    }
    p->m = realloc(p->m, (p->n + 1) * sizeof *p->m);
    p->m[p->n++] = m;
}

static int run_parser(parsed *p, const char *tool, const char *path)
{
    memset(p, 0, sizeof *p);
    p->tempo = -1;
    char cmd[8192];
    if (strcmp(tool, "midicsv") == 0)
        snprintf(cmd, sizeof cmd, "midicsv '%s'", path);
    else
        snprintf(cmd, sizeof cmd, "python3 -c \"$SMF_MIDO_SCRIPT\" '%s'", path);
    FILE *fp = popen(cmd, "r");
    if (!fp)
        return -1;
    char line[1024];
    while (fgets(line, sizeof line, fp))
        parse_line(p, line);
    return pclose(fp) == 0 ? 0 : -1;
}

// The file smf_write is given: a tempo map and signature, a melody with chords, controllers and bends on
// one track, drums on another.
static void build(smf_file *f)
{
    memset(f, 0, sizeof *f);
    f->division = 480;
    smf_event e = {0};
    e.status = 0xFF;
    e.data1 = 0x58;
    smf_append(f, &e, (const uint8_t *)"\x03\x02\x18\x08", 4);
    e.data1 = 0x51;
    smf_append(f, &e, (const uint8_t *)"\x09\x27\xC0", 3); // 600000 us: 100 bpm
    e.track = 1;
    e.data1 = 0x03;
    smf_append(f, &e, (const uint8_t *)"melody", 6);
    const uint8_t chords[4][3] = {{60, 64, 67}, {62, 65, 69}, {59, 62, 67}, {60, 64, 72}};
    uint64_t t = 0;
    smf_event pc = {.tick = 0, .track = 1, .status = 0xC0, .data1 = 24};
    smf_append(f, &pc, NULL, 0);
    smf_event drum_pc = {.tick = 0, .track = 2, .status = 0xC9, .data1 = 0};
    smf_append(f, &drum_pc, NULL, 0);
    for (int bar = 0; bar < 8; bar++) {
        const uint8_t *ch = chords[bar % 4];
        for (int k = 0; k < 3; k++) { // a chord: three note-ons at one tick, running status in the file
            smf_event n = {.tick = t, .track = 1, .status = 0x90, .data1 = ch[k], .data2 = (uint8_t)(60 + 8 * k + bar)};
            smf_append(f, &n, NULL, 0);
        }
        smf_event cc = {.tick = t + 5, .track = 1, .status = 0xB0, .data1 = 11, .data2 = (uint8_t)(40 + 10 * bar)};
        smf_append(f, &cc, NULL, 0);
        smf_event drum = {.tick = t + 7, .track = 2, .status = 0x99, .data1 = 36, .data2 = 110};
        smf_append(f, &drum, NULL, 0);
        smf_event bend = {.tick = t + 240, .track = 1, .status = 0xE0, .data1 = (uint8_t)(bar * 13), .data2 = (uint8_t)(64 - bar)};
        smf_append(f, &bend, NULL, 0);
        smf_event press = {.tick = t + 250, .track = 1, .status = 0xD0, .data1 = (uint8_t)(20 + bar)};
        smf_append(f, &press, NULL, 0);
        smf_event poly = {.tick = t + 260, .track = 1, .status = 0xA0, .data1 = ch[0], .data2 = 30};
        smf_append(f, &poly, NULL, 0);
        smf_event drum_off = {.tick = t + 300, .track = 2, .status = 0x89, .data1 = 36, .data2 = 64};
        smf_append(f, &drum_off, NULL, 0);
        for (int k = 0; k < 3; k++) { // note-offs both ways: 0x80, and note-on with velocity 0
            smf_event n = {.tick = t + 1800, .track = 1, .status = (uint8_t)(k ? 0x90 : 0x80), .data1 = ch[k], .data2 = 0};
            smf_append(f, &n, NULL, 0);
        }
        t += 1920;
    }
}

// The source's channel messages that land on output track `out` (1-based, as midicsv numbers them).
static void check_against(const smf_file *f, const parsed *p, int format, const char *what)
{
    CHECK(p->format == (unsigned)format && p->division == 480, "%s: header format %u division %u", what, p->format,
          p->division);
    const unsigned want_tracks = format == 0 ? 1 : 3;
    CHECK(p->ntracks == want_tracks && p->end_tracks == want_tracks, "%s: %u tracks, %u ends, want %u", what,
          p->ntracks, p->end_tracks, want_tracks);
    CHECK(p->tempo == 600000 && p->tempo_tick == 0, "%s: tempo %ld at %llu", what, p->tempo, p->tempo_tick);
    size_t k = 0, mismatches = 0;
    for (unsigned out = 1; out <= want_tracks; out++)
        for (size_t i = 0; i < f->n; i++) {
            const smf_event *e = &f->events[i];
            if (e->status == 0xFF || (format == 1 && e->track + 1u != out))
                continue;
            if (k < p->n) {
                const msg *m = &p->m[k];
                const int same = m->track == out && m->tick == e->tick && m->status == e->status &&
                                 m->data1 == e->data1 && m->data2 == e->data2;
                if (!same && mismatches++ < 5)
                    CHECK(0, "%s: message %zu is (track %u, %llu, %02X %u %u), want (track %u, %llu, %02X %u %u)",
                          what, k, m->track, m->tick, m->status, m->data1, m->data2, out,
                          (unsigned long long)e->tick, e->status, e->data1, e->data2);
            }
            k++;
        }
    CHECK(k == p->n && k > 0, "%s: the parser saw %zu channel messages, want %zu", what, p->n, k);
    CHECK(mismatches == 0, "%s: %zu messages differ", what, mismatches);
}

// csvmidi writes a file from text; smf_read must see what the text says (a sysex in the middle skipped).
static void from_csvmidi(const char *dir)
{
    char csv[4096], mid[4096], cmd[9000], err[512];
    snprintf(csv, sizeof csv, "%s/in.csv", dir);
    snprintf(mid, sizeof mid, "%s/in.mid", dir);
    FILE *fp = fopen(csv, "w");
    CHECK(fp != NULL, "cannot write %s", csv);
    if (!fp)
        return;
    fputs("0, 0, Header, 1, 2, 96\n"
          "1, 0, Start_track\n"
          "1, 0, Tempo, 400000\n"
          "1, 192, Tempo, 800000\n"
          "1, 192, End_track\n"
          "2, 0, Start_track\n"
          "2, 0, Title_t, \"tune\"\n"
          "2, 0, Note_on_c, 2, 70, 90\n"
          "2, 10, System_exclusive, 4, 126, 127, 9, 247\n"
          "2, 48, Note_on_c, 2, 70, 0\n"
          "2, 48, Note_on_c, 2, 72, 91\n"
          "2, 96, Pitch_bend_c, 2, 9000\n"
          "2, 200, Note_off_c, 2, 72, 64\n"
          "2, 200, End_track\n"
          "0, 0, End_of_file\n",
          fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "csvmidi '%s' '%s'", csv, mid);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    smf_file f;
    CHECK(smf_read(&f, mid, err, sizeof err) == 0, "%s", err);
    const struct {
        uint64_t tick;
        uint8_t status, data1, data2;
    } want[] = {{0, 0x92, 70, 90}, {48, 0x92, 70, 0}, {48, 0x92, 72, 91}, {96, 0xE2, 9000 & 0x7F, 9000 >> 7},
                {200, 0x82, 72, 64}};
    size_t k = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (f.events[i].status == 0xFF)
            continue;
        if (k < 5)
            CHECK(f.events[i].tick == want[k].tick && f.events[i].status == want[k].status &&
                      f.events[i].data1 == want[k].data1 && f.events[i].data2 == want[k].data2 && f.events[i].track == 1,
                  "csvmidi message %zu: (%llu %02X %u %u)", k, (unsigned long long)f.events[i].tick,
                  f.events[i].status, f.events[i].data1, f.events[i].data2);
        k++;
    }
    CHECK(k == 5, "%zu channel messages, want 5", k);
    // 192 ticks at 150 bpm (0.8 s), then 8 more at 75 bpm.
    if (f.n)
        CHECK_NEAR(f.events[f.n - 1].time, 0.8 + 8 / 96.0 * 0.8, 1e-12);
    smf_free(&f);
    unlink(csv);
    unlink(mid);
}

int main(void)
{
    const char *tool = NULL;
    if (system("command -v midicsv >/dev/null 2>&1") == 0)
        tool = "midicsv";
    else if (system("python3 -c 'import mido' >/dev/null 2>&1") == 0)
        tool = "mido";
    if (!tool) {
        printf("neither midicsv nor python3's mido is installed: skipped\n");
        return 77;
    }
    setenv("SMF_MIDO_SCRIPT", mido_script, 1);
    char dir[] = "/tmp/test_smf_ext_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    smf_file f;
    build(&f);
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/out.mid", dir);
    for (int format = 0; format <= 1; format++) {
        char what[64];
        snprintf(what, sizeof what, "%s, format %d", tool, format);
        CHECK(smf_write(path, &f, format, err, sizeof err) == 0, "%s", err);
        parsed p;
        CHECK(run_parser(&p, tool, path) == 0, "%s could not read the file", what);
        check_against(&f, &p, format, what);
        free(p.m);
    }
    printf("%s read the written files back\n", tool);
    unlink(path);
    smf_free(&f);
    if (system("command -v csvmidi >/dev/null 2>&1") == 0) {
        from_csvmidi(dir);
        printf("csvmidi's file read back\n");
    }
    rmdir(dir);
    TEST_EXIT();
}
