/* What a performance leaves: the record of every message sent, its lateness, and a MIDI file of it. */
#include "player.h"

#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int player_lateness_stats(player_lateness *out, const player_result *res)
{
    memset(out, 0, sizeof *out);
    int64_t *late = malloc((res->n_sent + 1) * sizeof *late);
    if (!late)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < res->n_sent; i++)
        if (res->sent[i].scheduled)
            late[n++] = res->sent[i].sent_us - res->sent[i].due_us;
    if (n) {
        qsort(late, n, sizeof *late, cmp_i64);
        out->count = n;
        out->median_us = n % 2 ? (double)late[n / 2] : 0.5 * ((double)late[n / 2 - 1] + (double)late[n / 2]);
        /* nearest rank: the smallest lateness that at least 99% of the events do not exceed */
        size_t rank = (size_t)((99 * n + 99) / 100);
        out->p99_us = (double)late[rank - 1];
        out->max_us = (double)late[n - 1];
    }
    free(late);
    return 0;
}

int player_record_to_smf(smf_file *out, const player_result *res)
{
    memset(out, 0, sizeof *out);
    out->format = 0;
    out->ntracks = 1;
    out->division = PLAYER_SMF_DIVISION;
    /* 120 bpm, said explicitly so a reader need not know the default: 500000 us per quarter note */
    static const uint8_t tempo[3] = {0x07, 0xA1, 0x20};
    smf_event t = {0};
    t.status = 0xFF;
    t.data1 = 0x51;
    if (smf_append(out, &t, tempo, sizeof tempo) != 0)
        goto fail;
    const double ticks_per_us = PLAYER_SMF_DIVISION / 500000.0;
    uint64_t last = 0;
    for (size_t i = 0; i < res->n_sent; i++) {
        const player_sent *s = &res->sent[i];
        smf_event ev = {0};
        /* a message sent during the preroll (never, but a clock can jump) still keeps the order */
        int64_t us = s->sent_us > 0 ? s->sent_us : 0;
        uint64_t tick = (uint64_t)((double)us * ticks_per_us + 0.5);
        ev.tick = tick < last ? last : tick;
        last = ev.tick;
        ev.time = (double)us * 1e-6;
        ev.status = s->status;
        ev.data1 = s->data1;
        ev.data2 = s->data2;
        if (smf_append(out, &ev, NULL, 0) != 0)
            goto fail;
    }
    return 0;
fail:
    smf_free(out);
    return -1;
}

void player_result_free(player_result *res)
{
    free(res->sent);
    memset(res, 0, sizeof *res);
}
