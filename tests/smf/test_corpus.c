/* Real files: every MIDI file of ../shared/data/nottingham-midi (beside the project root given as the
 * argument) must parse, hold notes whose ons and offs pair up, and survive the writer unchanged.
 * Exits 77 (skipped) when the folder is absent. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/check.h"
#include "smf.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Same events apart from end-of-track markers and the track field (the rewrite is one track).
static int same_timeline(const smf_file *a, const smf_file *b)
{
    size_t i = 0, j = 0;
    for (;; i++, j++) {
        while (i < a->n && a->events[i].status == 0xFF && a->events[i].data1 == 0x2F)
            i++;
        while (j < b->n && b->events[j].status == 0xFF && b->events[j].data1 == 0x2F)
            j++;
        if (i == a->n || j == b->n)
            return i == a->n && j == b->n;
        const smf_event *x = &a->events[i], *y = &b->events[j];
        if (x->tick != y->tick || x->time != y->time || x->status != y->status || x->data1 != y->data1 ||
            x->data2 != y->data2 || x->meta_len != y->meta_len ||
            (x->meta_len && memcmp(a->meta_data + x->meta_offset, b->meta_data + y->meta_offset, x->meta_len)))
            return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PROJECT_SOURCE_ROOT\n", argv[0]);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/../shared/data/nottingham-midi", argv[1]);
    DIR *d = opendir(dir);
    if (!d && errno == ENOENT) { // only a missing folder skips; one that cannot be read fails
        printf("%s is absent: skipped\n", dir);
        return 77;
    }
    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".mid") != 0)
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 1024;
            names = realloc(names, cap * sizeof *names);
        }
        names[count++] = strdup(e->d_name);
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, by_name);
    CHECK(count > 0, "no .mid files in %s", dir);

    size_t parsed = 0, events = 0, notes = 0, unpaired = 0, rewritten = 0;
    double seconds = 0.0;
    for (size_t k = 0; k < count; k++) {
        char path[8192], err[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        smf_file f;
        if (smf_read(&f, path, err, sizeof err) != 0) {
            CHECK(0, "%s", err);
            continue;
        }
        parsed++;
        events += f.n;
        if (f.n)
            seconds += f.events[f.n - 1].time;
        // Sounding notes per channel and pitch: a miscounted data byte would shift every later message
        // and leave these unbalanced.
        static int on[16][128];
        memset(on, 0, sizeof on);
        size_t file_notes = 0;
        for (size_t i = 0; i < f.n; i++) {
            const smf_event *e = &f.events[i];
            const unsigned kind = e->status & 0xF0u, ch = e->status & 0x0Fu;
            if (kind == 0x90 && e->data2 > 0) {
                on[ch][e->data1]++;
                file_notes++;
            } else if (kind == 0x80 || (kind == 0x90 && e->data2 == 0)) {
                if (on[ch][e->data1] > 0)
                    on[ch][e->data1]--;
                else
                    unpaired++;
            }
        }
        for (int c = 0; c < 16; c++)
            for (int p = 0; p < 128; p++)
                unpaired += (size_t)on[c][p];
        notes += file_notes;
        CHECK(file_notes > 0, "%s: no notes", names[k]);

        uint8_t *bytes;
        size_t size;
        if (smf_encode(&bytes, &size, &f, 0, err, sizeof err) == 0) {
            smf_file g;
            if (smf_read_memory(&g, bytes, size, names[k], err, sizeof err) == 0) {
                CHECK(same_timeline(&f, &g), "%s: read, write, read changed the events", names[k]);
                rewritten++;
                smf_free(&g);
            } else {
                CHECK(0, "re-reading the rewrite: %s", err);
            }
            free(bytes);
        } else {
            CHECK(0, "%s: %s", names[k], err);
        }
        smf_free(&f);
    }
    CHECK(unpaired == 0, "%zu note-ons or note-offs without a partner", unpaired);
    printf("%zu of %zu files parsed (%zu rewritten identically): %zu events, %zu notes, %.1f minutes\n", parsed,
           count, rewritten, events, notes, seconds / 60.0);
    for (size_t k = 0; k < count; k++)
        free(names[k]);
    free(names);
    TEST_EXIT();
}
