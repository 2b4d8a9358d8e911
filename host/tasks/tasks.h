/* The task modules and what several of them share. Private to host/tasks/: commands use registry.h. */
#ifndef RNNHOST_TASKS_H
#define RNNHOST_TASKS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "task.h"

extern const task_ops task_lm;        /* task_lm.c */
extern const task_ops task_midi_lm;   /* task_midilm.c */
extern const task_ops task_pianoroll; /* task_pianoroll.c */
extern const task_ops task_ctc;       /* task_ctc.c */
extern const task_ops task_classify;  /* task_classify.c */
extern const task_ops task_tag;       /* task_tag.c */

/* sample and score for language models (lmtext.c). */
int lm_sample_text(const char *path, plugin_registry *r, const sample_args *a);
int lm_score_text(const char *path, plugin_registry *r, const score_args *a);

/* eval of speech models (ctceval.c). */
extern const task_eval ctc_eval;

/* eval and classify of classifiers (clseval.c). */
extern const task_eval cls_eval;
int cls_classify(const char *path, plugin_registry *r, const classify_args *a);

/* export for tasks whose model file holds one model (registry.c). */
extern const task_export single_export;

/* eval of music models (musiceval.c): the options both music tasks take, and their report. */
typedef struct music_eval_opts {
    const char *data, *split;
    uint32_t streams;
} music_eval_opts;
extern const cli_section music_eval_section;
extern const music_eval_opts music_eval_defaults;

/* The task_eval of a music task whose measure is run. */
#define MUSIC_EVAL(run) {"--data FILE.json|DIR", "music models", &music_eval_section, sizeof(music_eval_opts), \
                         &music_eval_defaults, (run)}

/* The JSON object eval prints, begun: "schema" 1, "model" path, "task" and "data" (NULL when memory ran
 * out); eval_json_print prints it on one line and deletes it. */
cJSON *eval_json(const char *path, const char *task, const char *data);
void eval_json_print(cJSON *j);

/* --data given (0), or a usage line (-1). */
int music_eval_check(const music_eval_opts *o);

/* The last lines of eval for music data: "sequences N" (when not 0), "steps N" or "events N", "nll X" (the
 * average over count), or one JSON object; "interrupted" and exit 130 when Ctrl-C stopped it. The exit code. */
int music_eval_report(const char *path, const char *task, const music_eval_opts *o, double total, uint64_t count,
                      uint64_t sequences, const char *unit, int json);

#endif /* RNNHOST_TASKS_H */
