#include "musicrange.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "hostlog.h"
#include "music.h"

music_range music_range_none(void)
{
    return (music_range){128, -1, 0.0};
}

static void widen(music_range *r, int pitch)
{
    if (pitch < r->low)
        r->low = pitch;
    if (pitch > r->high)
        r->high = pitch;
}

music_range events_range(const int32_t *tokens, size_t n)
{
    music_range r = music_range_none();
    double on[128], t = 0;
    for (int p = 0; p < 128; p++)
        on[p] = -1;
    for (size_t i = 0; i < n; i++) {
        const int32_t k = tokens[i];
        if (k >= EV_TIME_SHIFT && k < EV_VELOCITY) {
            t += (k - EV_TIME_SHIFT + 1) * EV_STEP_SECONDS;
            continue;
        }
        if (k < EV_NOTE_ON || k >= EV_TIME_SHIFT)
            continue;
        const int p = k < EV_NOTE_OFF ? k - EV_NOTE_ON : k - EV_NOTE_OFF;
        if (on[p] >= 0 && t - on[p] > r.longest) /* ended: by its note-off or by the same pitch again */
            r.longest = t - on[p];
        on[p] = -1;
        if (k < EV_NOTE_OFF) {
            on[p] = t;
            widen(&r, p);
        }
    }
    /* the shifts are sums of 10 ms steps: the longest is a whole number of them */
    r.longest = round(r.longest / EV_STEP_SECONDS) * EV_STEP_SECONDS;
    return r;
}

music_range rolls_range(const uint8_t *frames, const span *spans, size_t count)
{
    music_range r = music_range_none();
    for (size_t s = 0; s < count; s++)
        for (int k = 0; k < ROLL_PITCHES; k++) {
            uint32_t run = 0;
            for (uint32_t t = 0; t < spans[s].len; t++) {
                if (frames[(spans[s].start + t) * ROLL_PITCHES + k]) {
                    run++;
                    widen(&r, ROLL_LOW + k);
                    if (run > r.longest)
                        r.longest = run;
                } else {
                    run = 0;
                }
            }
        }
    return r;
}

void music_range_json(char *buf, size_t len, const music_range *r, const char *longest_unit)
{
    host_fmt(buf, len, "{\"low\": %d, \"high\": %d, \"longest_%s\": %.17g}", r->low, r->high, longest_unit,
             r->longest);
}

music_range music_range_of(const rh_weights *w, const char *longest_unit)
{
    music_range r = music_range_none();
    const char *s = w ? rh_weights_meta(w, MUSIC_RANGE_META) : NULL;
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    char key[64];
    host_fmt(key, sizeof key, "longest_%s", longest_unit);
    const cJSON *low = cJSON_GetObjectItemCaseSensitive(j, "low"), *high = cJSON_GetObjectItemCaseSensitive(j, "high"),
                *longest = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsNumber(low) && cJSON_IsNumber(high) && cJSON_IsNumber(longest) && low->valuedouble >= 0 &&
        high->valuedouble <= 127 && low->valuedouble <= high->valuedouble && longest->valuedouble >= 0 &&
        isfinite(longest->valuedouble))
        r = (music_range){(int)low->valuedouble, (int)high->valuedouble, longest->valuedouble};
    cJSON_Delete(j);
    return r;
}
