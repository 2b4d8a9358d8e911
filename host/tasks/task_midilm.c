/* Task midi-lm: a language model of Performance RNN event tokens (note-on, note-off, time shift, velocity;
 * music.h) over MIDI files, read as streams; augmented with transposed and stretched copies. */
#include <stdlib.h>
#include <string.h>

#include "eventgen.h"
#include "hostlog.h"
#include "seqtask.h"
#include "tasks.h"

static int midi_check(train_opts *o, void *own, const cli_group *groups, size_t n)
{
    (void)o, (void)groups, (void)n;
    return seq_check(own);
}

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
    tr->V = EV_VOCAB;
    return seq_start(tr, c, from, from_path);
}

static int midi_meta(void *st, const train_ctx *c, meta_list *ml)
{
    (void)c;
    return seq_meta(st, ml, "rnnhost.encoding", "performance-events-1");
}

static const cli_section *const sections[] = {&seq_data_section, &seq_token_section, &seq_events_section, NULL};

static const task_train train = {
    .about = "Performance RNN event tokens of MIDI files",
    .usage = "--data FILE|DIR",
    .sections = sections,
    .opts_size = sizeof(seq_opts),
    .opts_defaults = &seq_opts_defaults,
    .record = SEQ_RECORD,
    .figure = "loss",
    .rate_unit = "sym/s",
    .data_differs = "the training events differ",
    .rng_salt = SEQ_RNG_SALT,
    .state_size = sizeof(seq_trainer),
    .check = midi_check,
    .open = midi_open,
    .describe = seq_describe,
    .step = seq_token_step,
    .has_validation = seq_has_validation,
    .validate = seq_token_validate,
    .meta = midi_meta,
    .record_data = seq_record_data,
    .save = seq_save,
    .restore = seq_restore,
    .close = seq_close,
};

const task_ops task_midi_lm = {
    .name = EVENTS_TASK,
    .noun = "a MIDI event model (Performance RNN tokens)",
    .train = &train,
};
