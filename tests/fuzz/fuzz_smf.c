/* Standard MIDI Files (host/music/smf.c): any bytes either read or are refused with a message; what reads is
 * sorted, its tempo map answers for every tick, and it writes back into a file that reads again. */
#include <string.h>

#include "fuzz.h"
#include "smf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smf_file f;
    char err[512];
    if (smf_read_memory(&f, data, size, "fuzz.mid", err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(f.format <= 2 && f.ntracks > 0);
    for (size_t i = 0; i < f.n; i++) {
        const smf_event *e = &f.events[i];
        FUZZ_ASSERT(i == 0 || f.events[i - 1].tick <= e->tick);
        FUZZ_ASSERT(e->status >= 0x80);
        if (e->status == 0xFF)
            FUZZ_ASSERT((uint64_t)e->meta_offset + e->meta_len <= f.meta_size);
    }
    if (f.n > 0) {
        const uint64_t last = f.events[f.n - 1].tick;
        const double t = smf_tick_to_seconds(&f, last);
        FUZZ_ASSERT(t >= 0);
        (void)smf_seconds_to_tick(&f, t);
    }
    for (int format = 0; format <= 1; format++) {
        uint8_t *bytes = NULL;
        size_t n = 0;
        if (smf_encode(&bytes, &n, &f, format, err, sizeof err) != 0)
            continue;
        smf_file again;
        const int rc = smf_read_memory(&again, bytes, n, "again.mid", err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "written file does not read back: %s\n", err);
        FUZZ_ASSERT(rc == 0);
        smf_free(&again);
        free(bytes);
    }
    smf_free(&f);
    return 0;
}
