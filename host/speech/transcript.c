#include "transcript.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bytebuf.h"
#include "hostlog.h"

static const struct {
    const char *name;
    unsigned bit;
} formats[] = {{"txt", TX_TXT}, {"json", TX_JSON}, {"jsonl", TX_JSONL}, {"srt", TX_SRT}, {"vtt", TX_VTT}};

int tx_parse_formats(unsigned *mask, const char *list, char *bad, size_t bad_len)
{
    *mask = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
            if (strlen(formats[i].name) == len && strncmp(formats[i].name, p, len) == 0)
                bit = formats[i].bit;
        if (!bit) {
            host_fmt(bad, bad_len, "%.*s", (int)len, p);
            return -1;
        }
        *mask |= bit;
        p += len + (p[len] == ',');
    }
    if (!*mask) {
        host_fmt(bad, bad_len, "%s", list);
        return -1;
    }
    return 0;
}

const char *tx_extension(unsigned format)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (formats[i].bit == format)
            return formats[i].name;
    return "txt";
}

// HH:MM:SS,mmm (SubRip) or HH:MM:SS.mmm (WebVTT)
static void put_time(bytebuf *b, int64_t ms, char sep)
{
    if (ms < 0)
        ms = 0;
    bytebuf_printf(b, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 "%c%03" PRId64, ms / 3600000, ms / 60000 % 60,
                   ms / 1000 % 60, sep, ms % 1000);
}

static char *render_json(const tx_result *r, int timestamps, int pretty)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    const int64_t duration_ms = (int64_t)(r->duration * 1000.0 + 0.5);
    cJSON_AddNumberToObject(j, "version", TX_SCHEMA_VERSION);
    cJSON_AddNumberToObject(j, "schema", TX_SCHEMA_VERSION); /* the key every other JSON output uses */
    cJSON_AddStringToObject(j, "file", r->file ? r->file : "");
    if (r->failed) {
        cJSON_AddStringToObject(j, "error", r->error);
    } else {
        cJSON_AddNumberToObject(j, "duration", (double)duration_ms / 1000.0); /* seconds, for version 1 readers */
        cJSON_AddNumberToObject(j, "duration_ms", (double)duration_ms);  /* milliseconds, as every time */
        cJSON_AddStringToObject(j, "text", r->text ? r->text : "");
        if (timestamps) {
            cJSON *segs = cJSON_AddArrayToObject(j, "segments");
            for (uint32_t k = 0; segs && k < r->n_segments; k++) {
                const tx_segment *sg = &r->segments[k];
                cJSON *s = cJSON_CreateObject();
                cJSON_AddItemToArray(segs, s);
                cJSON_AddNumberToObject(s, "start", (double)sg->start_ms);
                cJSON_AddNumberToObject(s, "end", (double)sg->end_ms);
                cJSON_AddStringToObject(s, "text", sg->text);
                cJSON_AddNumberToObject(s, "confidence", (double)(int)(sg->confidence * 10000.0f + 0.5f) / 10000.0);
                cJSON *words = cJSON_AddArrayToObject(s, "words");
                for (uint32_t i = 0; words && i < sg->n_words; i++) {
                    const tx_word *w = &r->words[sg->first_word + i];
                    cJSON *o = cJSON_CreateObject();
                    cJSON_AddItemToArray(words, o);
                    cJSON_AddStringToObject(o, "word", w->text);
                    cJSON_AddNumberToObject(o, "start", (double)w->start_ms);
                    cJSON_AddNumberToObject(o, "end", (double)w->end_ms);
                    cJSON_AddNumberToObject(o, "confidence", (double)(int)(w->confidence * 10000.0f + 0.5f) / 10000.0);
                }
            }
        }
        /* what was heard but not taken (--reject-below): its times, what the model would have said, and the
         * confidence of its least confident word */
        cJSON *rej = cJSON_AddArrayToObject(j, "rejected");
        for (uint32_t k = 0; rej && k < r->n_rejected; k++) {
            const tx_rejected *x = &r->rejected[k];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(rej, o);
            if (timestamps) {
                cJSON_AddNumberToObject(o, "start", (double)x->start_ms);
                cJSON_AddNumberToObject(o, "end", (double)x->end_ms);
            }
            cJSON_AddStringToObject(o, "text", x->text);
            cJSON_AddNumberToObject(o, "confidence", (double)(int)(x->confidence * 10000.0f + 0.5f) / 10000.0);
        }
    }
    char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

char *tx_render(const tx_result *r, unsigned format, int timestamps, size_t *len)
{
    bytebuf b = {0};
    if (format == TX_JSON || format == TX_JSONL) {
        char *s = render_json(r, timestamps, format == TX_JSON);
        if (!s)
            return NULL;
        bytebuf_printf(&b, "%s\n", s);
        free(s);
    } else if (r->failed) {
        bytebuf_printf(&b, "%s", "");
    } else if (format == TX_TXT) {
        bytebuf_printf(&b, "%s\n", r->text ? r->text : "");
    } else {
        const int vtt = format == TX_VTT;
        bytebuf_printf(&b, "%s", vtt ? "WEBVTT\n\n" : "");
        for (uint32_t k = 0; k < r->n_segments; k++) {
            const tx_segment *sg = &r->segments[k];
            if (!vtt)
                bytebuf_printf(&b, "%u\n", k + 1);
            put_time(&b, sg->start_ms, vtt ? '.' : ',');
            bytebuf_printf(&b, " --> ");
            put_time(&b, sg->end_ms, vtt ? '.' : ',');
            bytebuf_printf(&b, "\n%s\n\n", sg->text);
        }
        if (!b.data)
            bytebuf_printf(&b, "%s", "");
    }
    if (b.failed) {
        bytebuf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}
