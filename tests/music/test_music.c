/* The music encodings (host/music/music.c): event tokens, augmentation, piano rolls from JSON and from notes,
 * notes of a MIDI timeline and back. One program, one group of checks per argument:
 *   test_music events|augment|json|roll|smf|jsb DIR
 * Exit 0 on pass, 1 on fail, 77 when the data a check needs is absent. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "music.h"

/* xorshift64*: the same notes on every machine. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0;
}

static int cmp_pitch_start(const void *pa, const void *pb)
{
    const note *a = pa, *b = pb;
    if (a->pitch != b->pitch)
        return a->pitch < b->pitch ? -1 : 1;
    return (a->start > b->start) - (a->start < b->start);
}

/* Random notes on every channel where no two of the same pitch overlap (a merged token stream cannot hold
 * that), at least 10 ms long, with gaps both short and longer than the longest time shift. */
static size_t random_notes(note *out, size_t max)
{
    double free_from[128] = {0};
    size_t n = 0;
    double t = 0;
    while (n < max) {
        t += rnd() % 8 == 0 ? uniform(1.0, 3.5) : uniform(0, 0.2);
        const uint8_t pitch = (uint8_t)(rnd() % 128);
        if (t < free_from[pitch])
            continue;
        const double len = uniform(0.01, 1.5);
        out[n] = (note){.start = t, .end = t + len, .pitch = pitch, .velocity = (uint8_t)(1 + rnd() % 127),
                        .channel = (uint8_t)(rnd() % 16)};
        free_from[pitch] = t + len;
        n++;
    }
    return n;
}

static int64_t shift_steps(const int32_t *tok, size_t n)
{
    int64_t steps = 0;
    for (size_t i = 0; i < n; i++)
        if (tok[i] >= EV_TIME_SHIFT && tok[i] < EV_TIME_SHIFT + EV_MAX_SHIFT)
            steps += tok[i] - EV_TIME_SHIFT + 1;
    return steps;
}

static void test_events(void)
{
    enum { N = 600 };
    static note orig[N];
    const size_t n = random_notes(orig, N);
    int32_t *tok = NULL;
    size_t nt = 0;
    CHECK(events_from_notes(&tok, &nt, orig, n) == 0, "encoding failed");
    size_t ons = 0, offs = 0, vels = 0;
    for (size_t i = 0; i < nt; i++) {
        CHECK(tok[i] >= 0 && tok[i] < EV_VOCAB, "token %zu is %d", i, tok[i]);
        ons += tok[i] >= EV_NOTE_ON && tok[i] < EV_NOTE_OFF;
        offs += tok[i] >= EV_NOTE_OFF && tok[i] < EV_TIME_SHIFT;
        vels += tok[i] >= EV_VELOCITY && tok[i] < EV_VOCAB;
    }
    CHECK(ons == n && offs == n, "%zu notes gave %zu note-ons and %zu note-offs", n, ons, offs);
    CHECK(vels <= n && vels > n / 2, "%zu velocity tokens for %zu notes of random velocity", vels, n);

    note *back = NULL;
    size_t nb = 0;
    CHECK(notes_from_events(&back, &nb, tok, nt) == 0, "decoding failed");
    CHECK(nb == n, "%zu notes came back from %zu", nb, n);
    for (size_t i = 1; i < nb; i++)
        CHECK(back[i - 1].start < back[i].start ||
                  (back[i - 1].start == back[i].start && back[i - 1].pitch <= back[i].pitch),
              "decoded notes %zu and %zu out of (start, pitch) order", i - 1, i);
    qsort(orig, n, sizeof *orig, cmp_pitch_start);
    qsort(back, nb, sizeof *back, cmp_pitch_start);
    int bad = 0;
    for (size_t i = 0; i < n && i < nb && bad < 5; i++) {
        const note *a = &orig[i], *b = &back[i];
        int ok = a->pitch == b->pitch && fabs(a->start - b->start) <= 0.005 + 1e-9 &&
                 fabs(a->end - b->end) <= 0.005 + 1e-9 && abs((int)a->velocity - (int)b->velocity) <= 2 &&
                 b->channel == 0;
        CHECK(ok, "note %zu: pitch %d %.4f-%.4f velocity %d came back as pitch %d %.4f-%.4f velocity %d channel %d",
              i, a->pitch, a->start, a->end, a->velocity, b->pitch, b->start, b->end, b->velocity, b->channel);
        bad += !ok;
    }
    free(back);
    free(tok);

    // A 2.5 s gap is three shifts (1 s, 1 s, 0.5 s); the shared velocity bin is said once.
    const note two[2] = {{.start = 0, .end = 0.1, .pitch = 60, .velocity = 100},
                         {.start = 2.6, .end = 2.7, .pitch = 62, .velocity = 98}};
    CHECK(events_from_notes(&tok, &nt, two, 2) == 0, "encoding failed");
    const int32_t want[] = {EV_VELOCITY + 24, EV_NOTE_ON + 60, EV_TIME_SHIFT + 9, EV_NOTE_OFF + 60,
                            EV_TIME_SHIFT + 99, EV_TIME_SHIFT + 99, EV_TIME_SHIFT + 49, EV_NOTE_ON + 62,
                            EV_TIME_SHIFT + 9, EV_NOTE_OFF + 62};
    CHECK(nt == sizeof want / sizeof want[0], "%zu tokens for two notes, want %zu", nt, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < nt && i < sizeof want / sizeof want[0]; i++)
        CHECK(tok[i] == want[i], "token %zu is %d, want %d", i, tok[i], want[i]);
    free(tok);

    // Shorter than half a step: it still sounds, one step long.
    const note blip = {.start = 0.5, .end = 0.502, .pitch = 70, .velocity = 64};
    CHECK(events_from_notes(&tok, &nt, &blip, 1) == 0, "encoding failed");
    CHECK(notes_from_events(&back, &nb, tok, nt) == 0 && nb == 1, "%zu notes from a blip", nb);
    if (nb == 1) {
        CHECK_NEAR(back[0].start, 0.5, 1e-9);
        CHECK_NEAR(back[0].end, 0.51, 1e-9);
    }
    free(back);
    free(tok);

    /* Two channels sounding one pitch at once: the later note-on takes the pitch over and the earlier
     * note's off must not cut it short; two starting together become the longer one. */
    const note overlap[3] = {{.start = 0, .end = 1, .pitch = 60, .velocity = 64, .channel = 0},
                             {.start = 0.5, .end = 1.5, .pitch = 60, .velocity = 64, .channel = 1},
                             {.start = 2, .end = 2.2, .pitch = 64, .velocity = 64, .channel = 2}};
    const note together[2] = {{.start = 3, .end = 3.1, .pitch = 50, .velocity = 64, .channel = 0},
                              {.start = 3, .end = 3.4, .pitch = 50, .velocity = 64, .channel = 1}};
    note both[5];
    memcpy(both, overlap, sizeof overlap);
    memcpy(both + 3, together, sizeof together);
    CHECK(events_from_notes(&tok, &nt, both, 5) == 0, "encoding failed");
    CHECK(notes_from_events(&back, &nb, tok, nt) == 0 && nb == 4, "%zu notes from overlapping ones, want 4", nb);
    if (nb == 4) {
        CHECK(back[0].pitch == 60 && fabs(back[0].end - 0.5) < 1e-9, "first C4 ends at %.3f, want 0.5", back[0].end);
        CHECK(back[1].pitch == 60 && fabs(back[1].end - 1.5) < 1e-9, "second C4 ends at %.3f, want 1.5", back[1].end);
        CHECK(back[3].pitch == 50 && fabs(back[3].end - 3.4) < 1e-9, "merged D3 ends at %.3f, want 3.4", back[3].end);
    }
    free(back);
    free(tok);

    /* Decoding is best effort: an off without an on is ignored, unknown tokens are skipped, a re-struck
     * pitch ends the earlier note, a note still on at the end ends there, the default velocity is 62. */
    const int32_t loose[] = {EV_NOTE_OFF + 40, -3, EV_NOTE_ON + 60, EV_TIME_SHIFT + 19, EV_VOCAB + 5,
                             EV_VELOCITY + 31, EV_NOTE_ON + 60, EV_TIME_SHIFT + 29, EV_NOTE_ON + 67,
                             EV_TIME_SHIFT + 9};
    CHECK(notes_from_events(&back, &nb, loose, sizeof loose / sizeof loose[0]) == 0 && nb == 3, "%zu notes", nb);
    if (nb == 3) {
        CHECK(back[0].pitch == 60 && back[0].velocity == 62 && fabs(back[0].end - 0.2) < 1e-9,
              "first: pitch %d velocity %d end %.3f", back[0].pitch, back[0].velocity, back[0].end);
        CHECK(back[1].pitch == 60 && back[1].velocity == 126 && fabs(back[1].start - 0.2) < 1e-9 &&
                  fabs(back[1].end - 0.6) < 1e-9,
              "re-struck: pitch %d velocity %d %.3f-%.3f", back[1].pitch, back[1].velocity, back[1].start, back[1].end);
        CHECK(back[2].pitch == 67 && fabs(back[2].start - 0.5) < 1e-9 && fabs(back[2].end - 0.6) < 1e-9,
              "last: pitch %d %.3f-%.3f", back[2].pitch, back[2].start, back[2].end);
    }
    free(back);

    // A pitch struck twice at one instant is one note, the later (velocity 126 here).
    const int32_t twice[] = {EV_NOTE_ON + 50, EV_VELOCITY + 31, EV_NOTE_ON + 50, EV_TIME_SHIFT + 4, EV_NOTE_OFF + 50};
    CHECK(notes_from_events(&back, &nb, twice, 5) == 0 && nb == 1, "%zu notes from a double strike, want 1", nb);
    if (nb == 1)
        CHECK(back[0].velocity == 126 && fabs(back[0].end - 0.05) < 1e-9, "double strike: velocity %d end %.3f",
              back[0].velocity, back[0].end);
    free(back);

    CHECK(events_from_notes(&tok, &nt, NULL, 0) == 0 && nt == 0 && tok == NULL, "no notes, %zu tokens", nt);
    CHECK(notes_from_events(&back, &nb, NULL, 0) == 0 && nb == 0, "no tokens, %zu notes", nb);
}

static void test_augment(void)
{
    note ns[6] = {{.start = 0, .end = 1, .pitch = 0},    {.start = 1, .end = 2, .pitch = 5},
                  {.start = 2, .end = 3, .pitch = 60},   {.start = 3, .end = 4, .pitch = 120},
                  {.start = 4, .end = 5, .pitch = 127},  {.start = 5, .end = 6, .pitch = 100}};
    for (int i = 0; i < 6; i++)
        ns[i].velocity = (uint8_t)(10 + i);
    size_t n = 6;
    size_t dropped = notes_transpose(ns, &n, 8);
    CHECK(dropped == 2 && n == 4, "up 8: dropped %zu, kept %zu; want 2 and 4", dropped, n);
    const uint8_t want_up[4] = {8, 13, 68, 108}, vel_up[4] = {10, 11, 12, 15};
    for (size_t i = 0; i < n && i < 4; i++)
        CHECK(ns[i].pitch == want_up[i] && ns[i].velocity == vel_up[i], "up 8: note %zu pitch %d velocity %d", i,
              ns[i].pitch, ns[i].velocity);
    dropped = notes_transpose(ns, &n, -10);
    CHECK(dropped == 1 && n == 3 && ns[0].pitch == 3 && ns[2].pitch == 98,
          "down 10: dropped %zu, kept %zu, first %d", dropped, n, ns[0].pitch);
    dropped = notes_transpose(ns, &n, 0);
    CHECK(dropped == 0 && n == 3, "by 0: dropped %zu", dropped);
    dropped = notes_transpose(ns, &n, -200);
    CHECK(dropped == 3 && n == 0, "down 200: dropped %zu, kept %zu", dropped, n);

    // A roll keeps its own range, A0..C8: what leaves it is dropped, the rest moves.
    pianoroll roll = {.T = 2, .on = calloc(2 * ROLL_PITCHES, 1)};
    if (!roll.on)
        exit(1);
    roll.on[0] = roll.on[40] = roll.on[ROLL_PITCHES - 1] = 1;      // A0, C#4, C8
    roll.on[ROLL_PITCHES + 2] = roll.on[ROLL_PITCHES + 85] = 1;     // B0, A7
    dropped = pianoroll_transpose(&roll, 3);
    CHECK(dropped == 2, "roll up 3: dropped %zu cells, want 2 (C8, A7)", dropped);
    CHECK(roll.on[3] && roll.on[43] && !roll.on[0] && !roll.on[ROLL_PITCHES - 1] && roll.on[ROLL_PITCHES + 5] &&
              !roll.on[ROLL_PITCHES + 2],
          "roll up 3: the cells did not move by 3");
    size_t on = 0;
    for (size_t i = 0; i < 2 * ROLL_PITCHES; i++)
        on += roll.on[i];
    CHECK(on == 3, "roll up 3: %zu cells sound, want 3", on);
    dropped = pianoroll_transpose(&roll, -5);
    CHECK(dropped == 1 && roll.on[38] && !roll.on[43] && roll.on[ROLL_PITCHES], "roll down 5: dropped %zu, want 1",
          dropped);
    free(roll.on);

    // Stretch scales every time, and the token stream's total duration with it.
    note m[3] = {{.start = 0.5, .end = 1.0, .pitch = 60, .velocity = 80},
                 {.start = 1.0, .end = 2.2, .pitch = 64, .velocity = 80},
                 {.start = 2.0, .end = 4.0, .pitch = 67, .velocity = 80}};
    int32_t *tok;
    size_t nt;
    CHECK(events_from_notes(&tok, &nt, m, 3) == 0, "encoding failed");
    const int64_t before = shift_steps(tok, nt);
    free(tok);
    notes_stretch(m, 3, 1.5);
    CHECK_NEAR(m[0].start, 0.75, 1e-12);
    CHECK_NEAR(m[1].end, 3.3, 1e-12);
    CHECK_NEAR(m[2].end, 6.0, 1e-12);
    CHECK(events_from_notes(&tok, &nt, m, 3) == 0, "encoding failed");
    const int64_t after = shift_steps(tok, nt);
    free(tok);
    CHECK(before == 400 && after == 600, "the stream lasts %lld then %lld steps, want 400 then 600", (long long)before,
          (long long)after);
}

static char tmpdir[256];

static void write_file(char *path, size_t len, const char *name, const char *text)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* The file must be refused with a message containing every one of the pieces. */
static void expect_json_error(const char *name, const char *text, const char *split, const char *piece1,
                              const char *piece2)
{
    char path[512], err[512] = "";
    pianoroll *rolls = NULL;
    size_t n = 99;
    write_file(path, sizeof path, name, text);
    int rc = pianorolls_from_json(&rolls, &n, path, split, err, sizeof err);
    CHECK(rc == -1 && rolls == NULL && n == 0, "%s: accepted (rc %d, %zu rolls)", name, rc, n);
    CHECK(strstr(err, path) != NULL, "%s: message \"%s\" does not name the file", name, err);
    CHECK(strstr(err, piece1) != NULL, "%s: message \"%s\" lacks \"%s\"", name, err, piece1);
    CHECK(!piece2 || strstr(err, piece2) != NULL, "%s: message \"%s\" lacks \"%s\"", name, err, piece2);
    CHECK(strchr(err, '\n') == NULL, "%s: message is more than one line", name);
    pianorolls_free(rolls, n);
    unlink(path);
}

static void test_json(void)
{
    char path[512], err[512];
    pianoroll *rolls = NULL;
    size_t n = 0;
    write_file(path, sizeof path, "good.json",
               "{\"train\": [[[60, 64, 67], [], [21, 108]], [[55]]],\n \"valid\": [[[50], [50], [52]]]}\n");
    CHECK(pianorolls_from_json(&rolls, &n, path, "train", err, sizeof err) == 0, "good file refused: %s", err);
    CHECK(n == 2, "%zu train sequences, want 2", n);
    if (n == 2) {
        CHECK(rolls[0].T == 3 && rolls[1].T == 1, "lengths %u and %u, want 3 and 1", rolls[0].T, rolls[1].T);
        size_t on = 0;
        for (size_t i = 0; i < (size_t)rolls[0].T * ROLL_PITCHES; i++)
            on += rolls[0].on[i];
        CHECK(on == 5, "%zu pitches on in sequence 0, want 5", on);
        const uint8_t *r = rolls[0].on;
        CHECK(r[60 - ROLL_LOW] && r[64 - ROLL_LOW] && r[67 - ROLL_LOW], "step 0 lacks its chord");
        CHECK(r[2 * ROLL_PITCHES + 0] && r[2 * ROLL_PITCHES + ROLL_PITCHES - 1], "step 2 lacks A0 and C8");
        CHECK(rolls[1].on[55 - ROLL_LOW] == 1, "sequence 1 lacks G3");
    }
    pianorolls_free(rolls, n);
    CHECK(pianorolls_from_json(&rolls, &n, path, "valid", err, sizeof err) == 0 && n == 1 && rolls[0].T == 3,
          "valid split: %zu sequences", n);
    pianorolls_free(rolls, n);
    write_file(path, sizeof path, "empty.json", "{\"test\": []}");
    CHECK(pianorolls_from_json(&rolls, &n, path, "test", err, sizeof err) == 0 && n == 0, "an empty split: %s", err);
    pianorolls_free(rolls, n);
    unlink(path);
    snprintf(path, sizeof path, "%s/good.json", tmpdir);
    unlink(path);

    expect_json_error("low.json", "{\"train\": [[[60]], [[60], [64, 20]]]}", "train", "sequence 1, step 1",
                      "pitch 20");
    expect_json_error("high.json", "{\"train\": [[[60], [109]]]}", "train", "sequence 0, step 1", "pitch 109");
    expect_json_error("frac.json", "{\"train\": [[[60.5]]]}", "train", "sequence 0, step 0", "integer");
    expect_json_error("str.json", "{\"train\": [[[\"60\"]]]}", "train", "sequence 0, step 0", "integer");
    expect_json_error("nosplit.json", "{\"train\": [[[60]]], \"valid\": []}", "test", "no split 'test'", "valid");
    expect_json_error("steplist.json", "{\"train\": [[[60], 64]]}", "train", "sequence 0, step 1", "not a list");
    expect_json_error("seqlist.json", "{\"train\": [[[60]], 7]}", "train", "sequence 1", "not a list");
    expect_json_error("splitlist.json", "{\"train\": {\"a\": 1}}", "train", "split 'train'", "not a list");
    expect_json_error("top.json", "[[[60]]]", "train", "not a piano-roll file", NULL);
    expect_json_error("broken.json", "{\"train\": [[[60]],\n [[61]]\n", "train", "not valid JSON", "line");
    snprintf(path, sizeof path, "%s/absent.json", tmpdir);
    CHECK(pianorolls_from_json(&rolls, &n, path, "train", err, sizeof err) == -1 && strstr(err, "absent.json"),
          "a missing file: \"%s\"", err);
}

static int same_roll(const pianoroll *a, const pianoroll *b)
{
    return a->T == b->T && (a->T == 0 || memcmp(a->on, b->on, (size_t)a->T * ROLL_PITCHES) == 0);
}

static void test_roll(void)
{
    // A random roll through notes and back is the same roll, and each note is one maximal run.
    const double step = 0.25;
    for (int trial = 0; trial < 20; trial++) {
        pianoroll r = {.T = 1 + (uint32_t)(rnd() % 64)};
        r.on = calloc((size_t)r.T * ROLL_PITCHES, 1);
        if (!r.on)
            exit(1);
        for (size_t i = 0; i < (size_t)r.T * ROLL_PITCHES; i++)
            r.on[i] = rnd() % 5 == 0;
        // The last frame sounds, since a roll made from notes ends at its last sounding frame.
        r.on[(size_t)(r.T - 1) * ROLL_PITCHES + rnd() % ROLL_PITCHES] = 1;
        note *ns = NULL;
        size_t n = 0;
        CHECK(notes_from_pianoroll(&ns, &n, &r, step) == 0, "notes of a roll failed");
        for (size_t i = 0; i < n; i++) {
            const size_t t0 = (size_t)(ns[i].start / step + 0.5), t1 = (size_t)(ns[i].end / step + 0.5);
            const size_t p = ns[i].pitch - ROLL_LOW;
            CHECK(t1 > t0 && ns[i].velocity == 80 && ns[i].channel == 0, "note %zu: frames %zu-%zu", i, t0, t1);
            CHECK(t0 == 0 || !r.on[(t0 - 1) * ROLL_PITCHES + p], "note %zu does not start a run", i);
            CHECK(t1 == r.T || !r.on[t1 * ROLL_PITCHES + p], "note %zu does not end its run", i);
            CHECK(i == 0 || ns[i - 1].start < ns[i].start ||
                      (ns[i - 1].start == ns[i].start && ns[i - 1].pitch < ns[i].pitch),
                  "notes %zu and %zu out of order", i - 1, i);
        }
        pianoroll back;
        CHECK(pianoroll_from_notes(&back, ns, n, step) == 0, "roll of notes failed");
        CHECK(same_roll(&r, &back), "trial %d: a roll of %u frames came back as %u frames or other bits", trial, r.T,
              back.T);
        free(back.on);
        free(ns);
        free(r.on);
    }

    // Half a frame is the threshold; pitches the roll cannot hold are left out.
    const note ns[4] = {{.start = 0.1, .end = 0.6, .pitch = 60, .velocity = 90},
                        {.start = 0.5, .end = 0.62, .pitch = 62, .velocity = 90},
                        {.start = 0.5, .end = 0.63, .pitch = 64, .velocity = 90},
                        {.start = 0.0, .end = 2.0, .pitch = 12, .velocity = 90}};
    pianoroll r;
    CHECK(pianoroll_from_notes(&r, ns, 4, step) == 0, "roll of notes failed");
    CHECK(r.T == 3, "%u frames, want 3 (the last with E4, nothing sounds later)", r.T);
    if (r.T == 3) {
        const uint8_t *c4 = r.on + (60 - ROLL_LOW), *d4 = r.on + (62 - ROLL_LOW), *e4 = r.on + (64 - ROLL_LOW);
        CHECK(c4[0] && c4[ROLL_PITCHES] && !c4[2 * ROLL_PITCHES], "C4 in frames %d %d %d, want 1 1 0", c4[0],
              c4[ROLL_PITCHES], c4[2 * ROLL_PITCHES]);
        CHECK(!d4[2 * ROLL_PITCHES], "D4 covers 0.12 of a 0.25 frame and still sounds");
        CHECK(e4[2 * ROLL_PITCHES], "E4 covers 0.13 of a 0.25 frame and does not sound");
        size_t on = 0;
        for (size_t i = 0; i < 3 * ROLL_PITCHES; i++)
            on += r.on[i];
        CHECK(on == 3, "%zu cells on, want 3", on);
    }
    free(r.on);
}

static void test_smf(void)
{
    /* A timeline as smf_read gives it: 480 ticks per quarter at 120 bpm, so 960 ticks a second. A note-on
     * of velocity 0 ends a note; a note never ended ends at the last event; the re-struck E4 at tick 960
     * has its on before the old note's off in file order and must not be ended by it. */
    smf_event ev[] = {
        {.tick = 0, .status = 0xFF, .data1 = 0x51, .meta_len = 3},
        {.tick = 0, .status = 0x90, .data1 = 64, .data2 = 100},
        {.tick = 0, .status = 0x99, .data1 = 36, .data2 = 120},
        {.tick = 240, .status = 0x99, .data1 = 36, .data2 = 0},
        {.tick = 480, .status = 0x91, .data1 = 60, .data2 = 70},
        {.tick = 960, .status = 0x90, .data1 = 64, .data2 = 90},
        {.tick = 960, .status = 0x80, .data1 = 64, .data2 = 0},
        {.tick = 960, .status = 0xB0, .data1 = 7, .data2 = 100},
        {.tick = 1440, .status = 0x80, .data1 = 64, .data2 = 40},
        {.tick = 1440, .status = 0x81, .data1 = 61, .data2 = 40},
        {.tick = 1920, .status = 0x91, .data1 = 67, .data2 = 50},
        {.tick = 2400, .status = 0xFF, .data1 = 0x2F},
    };
    uint8_t tempo[3] = {0x07, 0xA1, 0x20};
    const size_t nev = sizeof ev / sizeof ev[0];
    for (size_t i = 0; i < nev; i++)
        ev[i].time = ev[i].tick / 960.0;
    smf_file f = {.format = 1, .ntracks = 1, .division = 480, .events = ev, .n = nev, .meta_data = tempo,
                  .meta_size = 3};
    note *ns = NULL;
    size_t n = 0;
    CHECK(notes_from_smf(&ns, &n, &f) == 0, "notes_from_smf failed");
    const note want[5] = {{0, 0.25, 36, 120, 9}, {0, 1.0, 64, 100, 0}, {0.5, 2.5, 60, 70, 1},
                          {1.0, 1.5, 64, 90, 0}, {2.0, 2.5, 67, 50, 1}};
    CHECK(n == 5, "%zu notes, want 5", n);
    for (size_t i = 0; i < n && i < 5; i++)
        CHECK(fabs(ns[i].start - want[i].start) < 1e-9 && fabs(ns[i].end - want[i].end) < 1e-9 &&
                  ns[i].pitch == want[i].pitch && ns[i].velocity == want[i].velocity &&
                  ns[i].channel == want[i].channel,
              "note %zu: %.3f-%.3f pitch %d velocity %d channel %d", i, ns[i].start, ns[i].end, ns[i].pitch,
              ns[i].velocity, ns[i].channel);

    // Back to a timeline: format 1, division 480, the tempo in track 0, one track and program per channel.
    smf_file g;
    CHECK(notes_to_smf(&g, ns, n, 90.0, 5) == 0, "notes_to_smf failed");
    CHECK(g.format == 1 && g.division == 480 && g.ntracks == 4, "format %u division %u tracks %u", g.format,
          g.division, g.ntracks);
    size_t tempos = 0, programs = 0, ons = 0, offs = 0;
    for (size_t i = 0; i < g.n; i++) {
        const smf_event *e = &g.events[i];
        CHECK(i == 0 || g.events[i - 1].tick <= e->tick, "event %zu out of tick order", i);
        if (e->status == 0xFF && e->data1 == 0x51) {
            tempos++;
            CHECK(e->track == 0 && e->meta_len == 3 && e->meta_offset + 3 <= g.meta_size, "tempo event placement");
            if (e->meta_offset + 3 <= g.meta_size) {
                const uint8_t *d = g.meta_data + e->meta_offset;
                CHECK(((uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2]) == 666667, "tempo %u us per quarter",
                      (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2]);
            }
        } else if ((e->status & 0xF0) == 0xC0) {
            programs++;
            CHECK(e->data1 == 5 && e->tick == 0 && e->track != 0, "program change %u at %llu on track %u", e->data1,
                  (unsigned long long)e->tick, e->track);
        } else {
            ons += (e->status & 0xF0) == 0x90;
            offs += (e->status & 0xF0) == 0x80;
            const uint8_t ch = e->status & 0x0F;
            CHECK(e->track == (ch == 9 ? 3 : 1 + ch), "channel %u on track %u", ch, e->track);
        }
    }
    CHECK(tempos == 1 && programs == 3 && ons == 5 && offs == 5, "%zu tempos, %zu programs, %zu ons, %zu offs",
          tempos, programs, ons, offs);
    // At 90 qpm a second is 720 ticks; the timeline read back holds the same notes.
    note *again = NULL;
    size_t n2 = 0;
    CHECK(notes_from_smf(&again, &n2, &g) == 0 && n2 == n, "%zu notes read back from %zu", n2, n);
    for (size_t i = 0; i < n2 && i < n; i++)
        CHECK(fabs(again[i].start - ns[i].start) < 1e-3 && fabs(again[i].end - ns[i].end) < 1e-3 &&
                  again[i].pitch == ns[i].pitch && again[i].velocity == ns[i].velocity &&
                  again[i].channel == ns[i].channel,
              "note %zu changed on the way through a timeline", i);
    for (size_t i = 0; i < g.n; i++)
        if ((g.events[i].status & 0xF0) == 0x90 && g.events[i].data1 == 36)
            CHECK(g.events[i].tick == 0, "the drum hit is at tick %llu", (unsigned long long)g.events[i].tick);
        else if ((g.events[i].status & 0xF0) == 0x80 && g.events[i].data1 == 36)
            CHECK(g.events[i].tick == 180, "the drum ends at tick %llu, want 180", (unsigned long long)g.events[i].tick);
    free(again);

    // Through bytes and the real reader: the same notes again.
    uint8_t *bytes = NULL;
    size_t size = 0;
    char err[512] = "";
    CHECK(smf_encode(&bytes, &size, &g, 1, err, sizeof err) == 0, "smf_encode: %s", err);
    smf_file h;
    if (bytes && smf_read_memory(&h, bytes, size, "notes.mid", err, sizeof err) == 0) {
        CHECK(notes_from_smf(&again, &n2, &h) == 0 && n2 == n, "%zu notes read from bytes, want %zu", n2, n);
        for (size_t i = 0; i < n2 && i < n; i++)
            CHECK(fabs(again[i].start - ns[i].start) < 1e-3 && fabs(again[i].end - ns[i].end) < 1e-3 &&
                      again[i].pitch == ns[i].pitch && again[i].velocity == ns[i].velocity &&
                      again[i].channel == ns[i].channel,
                  "note %zu: %.4f-%.4f pitch %d came back %.4f-%.4f pitch %d", i, ns[i].start, ns[i].end,
                  ns[i].pitch, again[i].start, again[i].end, again[i].pitch);
        free(again);
        smf_free(&h);
    } else {
        CHECK(0, "smf_read_memory of what notes_to_smf made: %s", err);
    }
    free(bytes);

    // A note of no length still gets a tick, so a reader pairs its on with its own off.
    const note instant[2] = {{.start = 1, .end = 1, .pitch = 70, .velocity = 60},
                             {.start = 1, .end = 2, .pitch = 70, .velocity = 61, .channel = 1}};
    smf_file z;
    CHECK(notes_to_smf(&z, instant, 2, 120.0, 0) == 0, "notes_to_smf failed");
    for (size_t i = 0; i < z.n; i++)
        if ((z.events[i].status & 0xF0) == 0x80 && z.events[i].track == 1)
            CHECK(z.events[i].tick == 961, "the instant note ends at tick %llu, want 961",
                  (unsigned long long)z.events[i].tick);
    bytes = NULL;
    CHECK(smf_encode(&bytes, &size, &z, 1, err, sizeof err) == 0, "smf_encode: %s", err);
    if (bytes && smf_read_memory(&h, bytes, size, "instant.mid", err, sizeof err) == 0) {
        CHECK(notes_from_smf(&again, &n2, &h) == 0 && n2 == 2, "%zu notes from the instant file", n2);
        if (n2 == 2)
            CHECK(again[0].channel == 0 && fabs(again[0].end - (1 + 1 / 960.0)) < 1e-6 && again[1].end == 2.0,
                  "instant note ends at %.6f, the other at %.6f", again[0].end, again[1].end);
        free(again);
        smf_free(&h);
    } else {
        CHECK(0, "smf_read_memory of the instant file: %s", err);
    }
    free(bytes);
    smf_free(&z);

    // Random notes of every channel, through bytes: within a tick of where they were.
    enum { N = 300 };
    static note rn[N];
    random_notes(rn, N);
    smf_file r;
    CHECK(notes_to_smf(&r, rn, N, 120.0, 0) == 0, "notes_to_smf of random notes failed");
    bytes = NULL;
    CHECK(smf_encode(&bytes, &size, &r, 1, err, sizeof err) == 0, "smf_encode: %s", err);
    if (bytes && smf_read_memory(&h, bytes, size, "random.mid", err, sizeof err) == 0) {
        CHECK(notes_from_smf(&again, &n2, &h) == 0 && n2 == N, "%zu random notes came back, want %d", n2, N);
        note *sorted = malloc(sizeof rn);
        if (!sorted)
            exit(1);
        memcpy(sorted, rn, sizeof rn);
        qsort(sorted, N, sizeof *sorted, cmp_pitch_start);
        if (n2 == N)
            qsort(again, n2, sizeof *again, cmp_pitch_start);
        for (size_t i = 0, bad = 0; i < n2 && i < N && bad < 5; i++) {
            int ok = sorted[i].pitch == again[i].pitch && fabs(sorted[i].start - again[i].start) <= 0.6 / 960 &&
                     fabs(sorted[i].end - again[i].end) <= 0.6 / 960 && sorted[i].velocity == again[i].velocity &&
                     sorted[i].channel == again[i].channel;
            CHECK(ok, "random note %zu changed through a file", i);
            bad += !ok;
        }
        free(sorted);
        free(again);
        smf_free(&h);
    } else {
        CHECK(0, "smf_read_memory of random notes: %s", err);
    }
    free(bytes);
    smf_free(&r);
    smf_free(&g);
    free(ns);
}

static void test_jsb(const char *dir)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/jsb-chorales-pianoroll.json", dir);
    if (access(path, F_OK) != 0 && errno == ENOENT) { // only a missing file skips; an unreadable one fails below
        printf("SKIP: %s is absent\n", path);
        exit(77);
    }
    static const struct { const char *split; size_t count; } want[2] = {{"train", 229}, {"valid", 76}};
    for (int s = 0; s < 2; s++) {
        pianoroll *rolls = NULL;
        size_t n = 0, frames = 0, on = 0;
        CHECK(pianorolls_from_json(&rolls, &n, path, want[s].split, err, sizeof err) == 0, "%s", err);
        CHECK(n == want[s].count, "%zu %s chorales, want %zu", n, want[s].split, want[s].count);
        for (size_t i = 0; i < n; i++) {
            frames += rolls[i].T;
            for (size_t k = 0; k < (size_t)rolls[i].T * ROLL_PITCHES; k++)
                on += rolls[i].on[k];
        }
        // Four voices: between three and four pitches sound in an average quarter-note step.
        CHECK(frames > 0 && on > 3 * frames && on <= 4 * frames, "%s: %zu pitches over %zu steps", want[s].split, on,
              frames);
        pianorolls_free(rolls, n);
    }
    pianoroll *rolls = NULL;
    size_t n = 0;
    CHECK(pianorolls_from_json(&rolls, &n, path, "test", err, sizeof err) == -1 && strstr(err, "no split 'test'"),
          "the held-back test split: \"%s\"", err);
    pianorolls_free(rolls, n);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_music events|augment|json|roll|smf|jsb DIR\n");
        return 1;
    }
    const char *what = argv[1];
    if (strcmp(what, "events") == 0)
        test_events();
    else if (strcmp(what, "augment") == 0)
        test_augment();
    else if (strcmp(what, "json") == 0) {
        snprintf(tmpdir, sizeof tmpdir, "%s/rnnhost-music.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 1;
        }
        test_json();
        rmdir(tmpdir);
    } else if (strcmp(what, "roll") == 0)
        test_roll();
    else if (strcmp(what, "smf") == 0)
        test_smf();
    else if (strcmp(what, "jsb") == 0 && argc == 3)
        test_jsb(argv[2]);
    else {
        fprintf(stderr, "test_music: unknown group '%s'\n", what);
        return 1;
    }
    TEST_EXIT();
}
