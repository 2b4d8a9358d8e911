#include "transcript.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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
            snprintf(bad, bad_len, "%.*s", (int)len, p);
            return -1;
        }
        *mask |= bit;
        p += len + (p[len] == ',');
    }
    if (!*mask) {
        snprintf(bad, bad_len, "%s", list);
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

/* A growing string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) HOST_PRINTF(2, 3);

static void put(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->s = g, b->cap = cap;
    }
}

// HH:MM:SS,mmm (SubRip) or HH:MM:SS.mmm (WebVTT)
static void put_time(sbuf *b, int64_t ms, char sep)
{
    if (ms < 0)
        ms = 0;
    put(b, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 "%c%03" PRId64, ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep,
        ms % 1000);
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
    }
    char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

char *tx_render(const tx_result *r, unsigned format, int timestamps, size_t *len)
{
    sbuf b = {0};
    if (format == TX_JSON || format == TX_JSONL) {
        char *s = render_json(r, timestamps, format == TX_JSON);
        if (!s)
            return NULL;
        put(&b, "%s\n", s);
        free(s);
    } else if (r->failed) {
        put(&b, "%s", "");
    } else if (format == TX_TXT) {
        put(&b, "%s\n", r->text ? r->text : "");
    } else {
        const int vtt = format == TX_VTT;
        put(&b, "%s", vtt ? "WEBVTT\n\n" : "");
        for (uint32_t k = 0; k < r->n_segments; k++) {
            const tx_segment *sg = &r->segments[k];
            if (!vtt)
                put(&b, "%u\n", k + 1);
            put_time(&b, sg->start_ms, vtt ? '.' : ',');
            put(&b, " --> ");
            put_time(&b, sg->end_ms, vtt ? '.' : ',');
            put(&b, "\n%s\n\n", sg->text);
        }
        if (!b.s)
            put(&b, "%s", "");
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    *len = b.n;
    return b.s;
}
