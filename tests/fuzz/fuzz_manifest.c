/* Training lists (host/speech/manifest.c): any bytes either parse into entries with a path and a normalised
 * transcript, or are refused with a line number. */
#include <string.h>

#include "fuzz.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    manifest m;
    char err[512];
    if (manifest_parse(&m, (const char *)data, size, "data/train.tsv", err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < m.n; i++) {
        const manifest_entry *e = &m.v[i];
        FUZZ_ASSERT(e->path && e->path[0] && e->text);
        const size_t len = strlen(e->text);
        // normalised: no leading, trailing or doubled spaces
        FUZZ_ASSERT(len == 0 || (e->text[0] != ' ' && e->text[len - 1] != ' '));
        FUZZ_ASSERT(!strstr(e->text, "  "));
        FUZZ_ASSERT(i == 0 || m.v[i - 1].line < e->line);
    }
    manifest_free(&m);
    return 0;
}
