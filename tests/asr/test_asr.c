/* The speech command's pure parts: the manifest parser, the transcript writers, the error rates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "manifest.h"
#include "transcript.h"
#include "wer.h"

static int fails;
#define CHECK(cond, ...)                                                                                       \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                               \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fputc('\n', stderr);                                                                               \
            fails++;                                                                                           \
        }                                                                                                      \
    } while (0)

static void test_manifest(void)
{
    manifest m;
    char err[256];
    const char good[] = "# comment\nclips/a.wav\tone  two \n\n/abs/b.wav\t\r\nc.flac\t\tthree\n";
    CHECK(manifest_parse(&m, good, sizeof good - 1, "data/train.tsv", err, sizeof err) == 0, "good: %s", err);
    CHECK(m.n == 3, "three utterances, not %zu", m.n);
    if (m.n == 3) {
        CHECK(strcmp(m.v[0].path, "data/clips/a.wav") == 0, "relative to the manifest: %s", m.v[0].path);
        CHECK(strcmp(m.v[0].text, "one two") == 0, "spaces collapsed: '%s'", m.v[0].text);
        CHECK(strcmp(m.v[1].path, "/abs/b.wav") == 0 && m.v[1].text[0] == '\0', "absolute path, empty text");
        CHECK(strcmp(m.v[2].text, "three") == 0 && m.v[2].line == 5, "tab inside text, line %zu", m.v[2].line);
    }
    manifest_free(&m);
    const char notab[] = "a.wav\tone\nb.wav one\n";
    CHECK(manifest_parse(&m, notab, sizeof notab - 1, "x.tsv", err, sizeof err) != 0 && strstr(err, "x.tsv:2"),
          "no tab names line 2: %s", err);
    const char badutf[] = "a.wav\t\xff\xfe\n";
    CHECK(manifest_parse(&m, badutf, sizeof badutf - 1, "x.tsv", err, sizeof err) != 0 && strstr(err, "UTF-8"),
          "invalid UTF-8: %s", err);
    const char nul[] = "a.wav\tone\0\n";
    CHECK(manifest_parse(&m, nul, sizeof nul - 1, "x.tsv", err, sizeof err) != 0, "NUL byte refused");
    CHECK(manifest_parse(&m, "", 0, "x.tsv", err, sizeof err) != 0, "empty manifest refused");
    CHECK(manifest_parse(&m, "\tone\n", 5, "x.tsv", err, sizeof err) != 0, "empty path refused");
}

static void test_wer(void)
{
    uint64_t n;
    CHECK(asr_word_edits("one two three", "one two three", &n) == 0 && n == 3, "identical");
    CHECK(asr_word_edits("one three", "one two three", &n) == 1 && n == 3, "a deletion");
    CHECK(asr_word_edits("one two two three", "one two three", &n) == 1, "an insertion");
    CHECK(asr_word_edits("nine two three", "one two three", &n) == 1, "a substitution");
    CHECK(asr_word_edits("", "one two", &n) == 2 && n == 2, "empty hypothesis");
    CHECK(asr_word_edits("one", "", &n) == 1 && n == 0, "empty reference");
    CHECK(asr_char_edits("cat", "cut", &n) == 1 && n == 3, "characters");
    CHECK(asr_char_edits("\xc3\xa9t\xc3\xa9", "\xc3\xa9te", &n) == 1 && n == 3, "UTF-8 characters count once: n=%llu",
          (unsigned long long)n);
    const int32_t a[] = {1, 2, 3, 4}, b[] = {2, 3, 4, 5};
    CHECK(asr_edit_distance(a, 4, b, 4) == 2, "labels: delete one, insert one");
}

static tx_result sample_result(void)
{
    static tx_word words[] = {
        {"one", 1200, 1650, 0.9f, 0}, {"two", 1700, 2100, 0.8f, 0}, {"nine", 3725001, 3725500, 0.5f, 0}};
    static tx_segment segs[] = {{1200, 2100, "one two", 0.85f, 0, 2}, {3725001, 3725500, "nine", 0.5f, 2, 1}};
    tx_result r;
    memset(&r, 0, sizeof r);
    r.file = "dir/a \"b\".wav";
    r.duration = 3726.25;
    r.text = "one two nine";
    r.words = words, r.n_words = 3, r.segments = segs, r.n_segments = 2;
    return r;
}

static void test_writers(void)
{
    unsigned mask;
    char bad[32];
    CHECK(tx_parse_formats(&mask, "txt,srt,vtt", bad, sizeof bad) == 0 && mask == (TX_TXT | TX_SRT | TX_VTT), "formats");
    CHECK(tx_parse_formats(&mask, "txt,doc", bad, sizeof bad) != 0 && strcmp(bad, "doc") == 0, "unknown format named");
    tx_result r = sample_result();
    size_t len;
    char *s = tx_render(&r, TX_SRT, 1, &len);
    const char srt[] = "1\n00:00:01,200 --> 00:00:02,100\none two\n\n2\n01:02:05,001 --> 01:02:05,500\nnine\n\n";
    CHECK(s && strcmp(s, srt) == 0 && len == strlen(srt), "srt:\n%s", s ? s : "(null)");
    free(s);
    s = tx_render(&r, TX_VTT, 1, &len);
    CHECK(s && strncmp(s, "WEBVTT\n\n00:00:01.200 --> 00:00:02.100\none two\n\n", 47) == 0, "vtt:\n%s", s ? s : "");
    free(s);
    s = tx_render(&r, TX_TXT, 1, &len);
    CHECK(s && strcmp(s, "one two nine\n") == 0, "txt: %s", s ? s : "");
    free(s);
    s = tx_render(&r, TX_JSONL, 1, &len);
    CHECK(s && len > 0 && s[len - 1] == '\n' && !memchr(s, '\n', len - 1), "jsonl is one line");
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version"), *f = cJSON_GetObjectItemCaseSensitive(j, "file"),
                *segs = cJSON_GetObjectItemCaseSensitive(j, "segments");
    CHECK(cJSON_IsNumber(v) && v->valueint == TX_SCHEMA_VERSION, "version field");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "schema"), *d = cJSON_GetObjectItemCaseSensitive(j, "duration"),
                *dms = cJSON_GetObjectItemCaseSensitive(j, "duration_ms");
    CHECK(cJSON_IsNumber(sc) && sc->valueint == TX_SCHEMA_VERSION, "schema field, as every JSON output has");
    CHECK(cJSON_IsNumber(d) && d->valuedouble == 3726.25, "duration in seconds (version 1)");
    CHECK(cJSON_IsNumber(dms) && dms->valuedouble == 3726250, "duration_ms in milliseconds, as the times are");
    CHECK(cJSON_IsString(f) && strcmp(f->valuestring, r.file) == 0, "file name with quotes survives");
    CHECK(cJSON_GetArraySize(segs) == 2, "two segments");
    const cJSON *s1 = cJSON_GetArrayItem(segs, 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(s1, "start")->valuedouble == 3725001, "start in ms");
    const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(segs, 0), "words"), 1);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(w, "word")->valuestring, "two") == 0, "words in segments");
    cJSON_Delete(j);
    free(s);
    s = tx_render(&r, TX_JSON, 0, &len);
    j = s ? cJSON_Parse(s) : NULL;
    CHECK(j && !cJSON_GetObjectItemCaseSensitive(j, "segments") &&
              strcmp(cJSON_GetObjectItemCaseSensitive(j, "text")->valuestring, "one two nine") == 0,
          "no timestamps: text only");
    cJSON_Delete(j);
    free(s);
    r.failed = 1;
    snprintf(r.error, sizeof r.error, "dir/a.wav: truncated");
    s = tx_render(&r, TX_JSONL, 1, &len);
    j = s ? cJSON_Parse(s) : NULL;
    CHECK(j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")) && !cJSON_GetObjectItemCaseSensitive(j, "text"),
          "a failed file: its error, no text");
    CHECK(j && cJSON_GetObjectItemCaseSensitive(j, "schema") && cJSON_GetObjectItemCaseSensitive(j, "version"),
          "a failed file: schema and version too");
    cJSON_Delete(j);
    free(s);
}

int main(void)
{
    test_manifest();
    test_wer();
    test_writers();
    if (fails)
        fprintf(stderr, "%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
