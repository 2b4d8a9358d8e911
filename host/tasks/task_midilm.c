/* Task midi-lm: a language model of Performance RNN event tokens (note-on, note-off, time shift, velocity;
 * music.h) over MIDI files, read as streams; augmented with transposed and stretched copies. Its models
 * generate and play event by event (eventgen.h), and eval gives nats per event. */
#include <stdlib.h>
#include <string.h>

#include "eventgen.h"
#include "hostlog.h"
#include "interrupt.h"
#include "seqtask.h"
#include "tasks.h"

static int midi_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path)
{
    seq_trainer *tr = st;
    const seq_opts *so = c->own;
    char err[512];
    if (from) {
        model_spec spec;
        if (model_spec_from_weights(&spec, from, err, sizeof err) != 0) {
            hostlog_error("%s: %s", from_path, err);
            return EXIT_LOAD;
        }
        if (seq_adopt_spec(tr, c, &spec, from_path, 1) != 0)
            return EXIT_FAIL;
    }
    if (midi_tokens(&tr->ids, &tr->n, so->data, so->transpose, so->stretch, "--data") != 0)
        return EXIT_FAIL;
    if (so->val_data) {
        tr->own_val = 1;
        if (midi_tokens(&tr->val_ids, &tr->n_val, so->val_data, 0, 1.0, "--val-data") != 0)
            return EXIT_FAIL;
    }
    if (seq_split_streams(tr, c) != 0)
        return EXIT_FAIL;
    tr->range = events_range(tr->ids, tr->n);
    tr->V = EV_VOCAB;
    return seq_start(tr, c, from, from_path);
}

static int midi_meta(void *st, const train_ctx *c, meta_list *ml)
{
    (void)c;
    const seq_trainer *tr = st;
    char range[128];
    music_range_json(range, sizeof range, &tr->range, "seconds");
    return seq_meta(st, ml, "rnnhost.encoding", "performance-events-1") != 0 ||
                   meta_add(ml, MUSIC_RANGE_META, "%s", range) != 0
               ? -1
               : 0;
}

static const cli_section *const sections[] = {&seq_data_section, &seq_bptt_section, &seq_token_section, &seq_events_section, NULL};

static const task_train train = {
    SEQ_TASK_TRAIN,
    .about = "Performance RNN event tokens of MIDI files",
    .usage = "--data FILE|DIR",
    .sections = sections,
    .data_differs = "the training events differ",
    .check = seq_check,
    .open = midi_open,
    .step = seq_token_step,
    .validate = seq_token_validate,
    .meta = midi_meta,
};

/* ---- eval: nats per event ------------------------------------------------------------------------------- */

static int midi_eval(const char *path, plugin_registry *r, const void *opts, int json)
{
    const music_eval_opts *o = opts;
    host_model hm;
    model_spec spec;
    rh_weights *w = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    char why[1024];
    double total = 0;
    uint64_t count = 0;
    int rc = EXIT_FAIL;
    if (music_eval_check(o) != 0)
        return EXIT_USAGE;
    if (model_open(&hm, &spec, &w, r, path, EVENTS_TASK, why, sizeof why) != EXIT_OK) {
        hostlog_error("%s", why);
        return EXIT_LOAD;
    }
    rh_weights_close(w);
    if (midi_tokens(&ids, &n, o->data, 0, 1.0, "--data") != 0)
        goto done;
    if (lm_nll_until(&total, &count, &hm, ids, n, o->streams, 256, &host_interrupted) < 0) {
        hostlog_error("evaluation failed (out of memory or a model error)");
        goto done;
    }
    rc = music_eval_report(path, spec.task, o, total, count, 0, "event", json);
done:
    free(ids);
    host_model_destroy(&hm);
    return rc;
}

static const task_eval eval_ops = MUSIC_EVAL(midi_eval);

/* ---- generate: event by event ----------------------------------------------------------------------------- */

static int midi_generator(music_gen **g, const char *path, plugin_registry *r, const opt_sampling *s, char *why,
                     size_t why_len)
{
    return music_gen_events(g, r, path, (float)s->temperature, (uint32_t)(s->top_k > EV_VOCAB ? EV_VOCAB : s->top_k),
                            why, why_len);
}

static const task_generate generate = {MUSIC_GEN_EVENTS, midi_generator};

const task_ops task_midi_lm = {
    .name = EVENTS_TASK,
    .noun = "a MIDI event model (Performance RNN tokens)",
    .train = &train,
    .eval = &eval_ops,
    .generate = &generate,
    .export = &single_export,
};
