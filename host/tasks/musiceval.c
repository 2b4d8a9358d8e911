/* What eval does alike for the two music tasks: their options (one section, so --data means one thing)
 * and the report of an average negative log-likelihood; and the head of the JSON report of every task's
 * eval over --data. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "hostlog.h"
#include "interrupt.h"
#include "tasks.h"

const music_eval_opts music_eval_defaults = {.split = "valid", .streams = 8};

static const cli_option options[] = {
    {.name = "data", .kind = CLI_STRING, .offset = offsetof(music_eval_opts, data), .arg = "PATH",
     .help = "pianoroll: a JSON piano-roll file or MIDI files; midi-lm: a MIDI file or folder; classify: TSV lines "
             "label<TAB>sequence"},
    {.name = "split", .kind = CLI_STRING, .offset = offsetof(music_eval_opts, split), .arg = "NAME",
     .help = "pianoroll: the split to evaluate"},
    {.name = "streams", .kind = CLI_U32, .offset = offsetof(music_eval_opts, streams), .arg = "N",
     .help = "midi-lm: event streams scored side by side, 1-65536", .min = 1, .max = 65536},
    {0},
};
const cli_section music_eval_section = {
    "Music models (task pianoroll or midi-lm): the average negative log-likelihood (nats) of the data under the "
    "model, per time step summed over the 88 pitches (pianoroll) or per event (midi-lm). The last line is 'nll X'. "
    "Classifiers (task classify) take --data too: accuracy, each label's precision, recall and F1, and the "
    "confusion matrix; the last line is 'accuracy X', a fraction.",
    options};

cJSON *eval_json(const char *path, const char *task, const char *data)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "schema", 1);
    cJSON_AddStringToObject(j, "model", path);
    cJSON_AddStringToObject(j, "task", task);
    cJSON_AddStringToObject(j, "data", data);
    return j;
}

void eval_json_print(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

int music_eval_check(const music_eval_opts *o)
{
    if (o->data)
        return 0;
    hostlog_usage("eval: --data is required for a music model");
    return -1;
}

int music_eval_report(const char *path, const char *task, const music_eval_opts *o, double total, uint64_t count,
                      uint64_t sequences, const char *unit, int json)
{
    if (host_interrupted) {
        hostlog_info("interrupted; %s is not evaluated", o->data);
        return EXIT_INTERRUPTED;
    }
    if (count == 0) {
        hostlog_error("%s: nothing to evaluate", o->data);
        return EXIT_FAIL;
    }
    if (json) {
        cJSON *j = eval_json(path, task, o->data);
        cJSON_AddNumberToObject(j, "count", (double)count);
        cJSON_AddStringToObject(j, "unit", unit);
        cJSON_AddNumberToObject(j, "nll", total / (double)count);
        eval_json_print(j);
    } else {
        if (sequences)
            printf("sequences %llu\n", (unsigned long long)sequences);
        printf("%s %llu\n", sequences ? "steps" : "events", (unsigned long long)count);
        printf("nll %.6f\n", total / (double)count);
    }
    return EXIT_OK;
}
