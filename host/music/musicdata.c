#include "musicdata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dirwalk.h"
#include "hostlog.h"
#include "music.h"
#include "smf.h"

static int has_midi_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcasecmp(name + n - 4, ".mid") == 0) || (n > 5 && strcasecmp(name + n - 5, ".midi") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .mid/.midi file at or below path, sorted, hidden entries skipped. */
int list_midi(char ***files, size_t *n, size_t *cap, const char *path, int top)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return top ? -1 : 0;
    if (S_ISREG(st.st_mode)) {
        if (!top && !has_midi_suffix(path))
            return 0;
        if (*n == *cap) {
            size_t c = *cap ? 2 * *cap : 64;
            char **f = realloc(*files, c * sizeof *f);
            if (!f)
                return -1;
            *files = f, *cap = c;
        }
        if (!((*files)[*n] = strdup(path)))
            return -1;
        (*n)++;
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    static const dir_walk_options midi_files = {.recurse = 1, .suffixes = ".mid|.midi", .suffix_nocase = 1};
    char **found;
    size_t nf;
    if (dir_list(&found, &nf, path, &midi_files, NULL, 0) != 0)
        return top ? -1 : 0;
    if (*n + nf > *cap) {
        char **f = realloc(*files, (*n + nf) * sizeof *f);
        if (!f) {
            dir_list_free(found, nf);
            return -1;
        }
        *files = f, *cap = *n + nf;
    }
    for (size_t i = 0; i < nf; i++)
        (*files)[(*n)++] = found[i];
    free(found);
    if (top)
        qsort(*files, *n, sizeof **files, cmp_str);
    return 0;
}

/* One MIDI file's notes and the length of its first quarter note in seconds (quarter may be NULL): 0, or 1
 * when the file does not parse (counted in *skipped, the first reason kept in first), or -1 when memory ran
 * out. A scraped MIDI folder always holds a few files that do not parse, so they are skipped, not fatal. */
static int read_midi_notes(const char *file, note **notes, size_t *nn, double *quarter, size_t *skipped, char *first,
                           size_t first_len)
{
    char err[512];
    smf_file f;
    *notes = NULL, *nn = 0;
    if (smf_read(&f, file, err, sizeof err) != 0) {
        if (!(*skipped)++)
            snprintf(first, first_len, "%s", err);
        return 1;
    }
    if (quarter)
        *quarter = smf_tick_to_seconds(&f, f.division);
    const int rc = notes_from_smf(notes, nn, &f) == 0 ? 0 : -1;
    smf_free(&f);
    return rc;
}

static void say_skipped(const char *what, size_t skipped, size_t nf, const char *first)
{
    if (skipped)
        hostlog_info("%s: skipped %zu of %zu MIDI files that do not parse (first: %s)", what, skipped,
                nf, first);
}

/* Event tokens of every MIDI file below path, one after another, with --transpose copies. Files that do
 * not parse are skipped and counted: a scraped MIDI folder always holds a few. */
int midi_tokens(int32_t **ids, size_t *n, const char *path, uint32_t transpose, double stretch, const char *what)
{
    char **files = NULL, first[600] = "";
    size_t nf = 0, cap = 0, skipped = 0, total = 0, room = 0;
    int rc = -1;
    *ids = NULL, *n = 0;
    if (list_midi(&files, &nf, &cap, path, 1) != 0) {
        hostlog_error("%s: %s", path, errno ? strerror(errno) : "cannot list");
        goto done;
    }
    for (size_t i = 0; i < nf; i++) {
        note *notes;
        size_t nn;
        const int got = read_midi_notes(files[i], &notes, &nn, NULL, &skipped, first, sizeof first);
        if (got > 0)
            continue;
        if (got < 0)
            goto done;
        int ok;
        const double tempos[3] = {1.0, stretch, 1.0 / stretch};
        for (int copy_i = 0; copy_i < (stretch > 1.0 ? 3 : 1) * (2 * (int)transpose + 1); copy_i++) {
            const int shift = copy_i % (2 * (int)transpose + 1) - (int)transpose;
            const double tempo = tempos[copy_i / (2 * (int)transpose + 1)];
            note *copy = malloc((nn + 1) * sizeof *copy);
            size_t kept = nn;
            int32_t *tok = NULL;
            size_t nt = 0;
            if (!copy)
                goto done;
            memcpy(copy, notes, nn * sizeof *copy);
            if (shift)
                notes_transpose(copy, &kept, shift);
            if (tempo != 1.0)
                notes_stretch(copy, kept, tempo);
            ok = events_from_notes(&tok, &nt, copy, kept) == 0;
            free(copy);
            if (!ok)
                goto done;
            if (total + nt > room) {
                size_t want = (total + nt) * 2;
                int32_t *grown = realloc(*ids, want * sizeof *grown);
                if (!grown) {
                    free(tok);
                    goto done;
                }
                *ids = grown, room = want;
            }
            memcpy(*ids + total, tok, nt * sizeof *tok);
            total += nt;
            free(tok);
        }
        free(notes);
    }
    say_skipped(what, skipped, nf, first);
    if (total < 2) {
        hostlog_error("%s: no notes in %zu MIDI file%s", path, nf, nf == 1 ? "" : "s");
        goto done;
    }
    *n = total;
    rc = 0;
done:
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

/* Piano rolls of MIDI files: split "train" takes nine files in ten, "valid" every tenth (by sorted
 * path), "all" every file; one frame per 1/steps_per_quarter of a quarter note at the file's first tempo.
 * Files that do not parse are skipped and counted. */
static int rolls_from_midi(pianoroll **rolls, size_t *nr, const char *path, const char *split,
                           uint32_t steps_per_quarter)
{
    char **files = NULL, first[600] = "";
    size_t nf = 0, cap = 0, skipped = 0;
    const int pick = strcmp(split, "train") == 0 ? 0 : strcmp(split, "valid") == 0 ? 1 : strcmp(split, "all") == 0 ? 2 : -1;
    *rolls = NULL, *nr = 0;
    if (pick < 0) {
        hostlog_error("%s: a MIDI folder has the splits train, valid and all, not '%s'", path, split);
        return -1;
    }
    if (list_midi(&files, &nf, &cap, path, 1) != 0) {
        hostlog_error("%s: %s", path, errno ? strerror(errno) : "cannot list");
        return -1;
    }
    *rolls = calloc(nf + 1, sizeof **rolls);
    int rc = *rolls ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        if ((pick == 0 && i % 10 == 9) || (pick == 1 && i % 10 != 9))
            continue;
        note *notes;
        size_t nn;
        double quarter;
        const int got = read_midi_notes(files[i], &notes, &nn, &quarter, &skipped, first, sizeof first);
        if (got > 0)
            continue;
        if (got < 0 ||
            pianoroll_from_notes(&(*rolls)[*nr], notes, nn, quarter / steps_per_quarter) != 0)
            rc = -1;
        else if ((*rolls)[*nr].T > 0)
            (*nr)++;
        else { /* a file with no notes */
            free((*rolls)[*nr].on);
            (*rolls)[*nr].on = NULL;
        }
        free(notes);
    }
    say_skipped(path, skipped, nf, first);
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    if (rc != 0)
        hostlog_error("out of memory reading %s", path);
    return rc;
}

static int ends_with_json(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".json") == 0;
}

/* Piano rolls of a JSON split or a MIDI folder as spans of one frame array; sequences longer than
 * max_len are cut. */
int roll_spans(uint8_t **frames, span **spans, size_t *count, const char *path, const char *split,
               uint32_t steps_per_quarter, uint32_t max_len, size_t *cut)
{
    pianoroll *rolls = NULL;
    size_t nr = 0, total = 0, k = 0;
    char err[512];
    if (!ends_with_json(path)) {
        if (rolls_from_midi(&rolls, &nr, path, split, steps_per_quarter) != 0) {
            pianorolls_free(rolls, nr);
            return -1;
        }
    } else if (pianorolls_from_json(&rolls, &nr, path, split, err, sizeof err) != 0) {
        hostlog_error("%s", err);
        return -1;
    }
    size_t pieces = 0;
    for (size_t i = 0; i < nr; i++) {
        total += rolls[i].T;
        pieces += (rolls[i].T + max_len - 1) / max_len;
    }
    *frames = malloc((total + 1) * ROLL_PITCHES);
    *spans = malloc((pieces + 1) * sizeof **spans);
    if (!*frames || !*spans) {
        pianorolls_free(rolls, nr);
        hostlog_error("out of memory");
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < nr; i++) {
        memcpy(*frames + at * ROLL_PITCHES, rolls[i].on, (size_t)rolls[i].T * ROLL_PITCHES);
        for (uint32_t t = 0; t < rolls[i].T; t += max_len) {
            uint32_t len = rolls[i].T - t < max_len ? rolls[i].T - t : max_len;
            (*spans)[k].start = at + t, (*spans)[k].len = len;
            k++;
        }
        if (rolls[i].T > max_len)
            (*cut)++;
        at += rolls[i].T;
    }
    pianorolls_free(rolls, nr);
    *count = k;
    if (k == 0) {
        hostlog_error("%s: split '%s' holds no sequence", path, split);
        return -1;
    }
    return 0;
}


void roll_step(float *x, float *target, const uint8_t *frames, uint32_t t)
{
    for (uint32_t p = 0; p < ROLL_PITCHES; p++) {
        x[p] = t > 0 ? frames[(size_t)(t - 1) * ROLL_PITCHES + p] : 0.0f;
        if (target)
            target[p] = frames[(size_t)t * ROLL_PITCHES + p];
    }
}
