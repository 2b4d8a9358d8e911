#include "loop.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "hostlog.h"
#include "interrupt.h"
#include "modelfile.h"
#include "par.h"
#include "progress.h"
#include "trainer.h"
#include "trainutil.h"

/* ---- options ------------------------------------------------------------------------------------------- */

const train_report train_report_defaults = {.eval_every = 1000, .print_every = 100, .ckpt_dir = "checkpoints"};

static const cli_option report_options[] = {
    {.name = "eval-every", .kind = CLI_U64, .offset = offsetof(train_report, eval_every), .arg = "N",
     .help = "validate every N steps and at the end; 0: never, or for a task that validates by epochs "
             "(ctc) 0: every epoch"},
    {.name = "print-every", .kind = CLI_U64, .offset = offsetof(train_report, print_every), .arg = "N",
     .help = "a progress line every N steps, 0 or 1: every step",
     .shown = "%s; every step on a terminal, updated in place"},
    {.name = "log-json", .kind = CLI_STRING, .offset = offsetof(train_report, log_json), .arg = "FILE|-",
     .help = "one JSON object per step and per validation, '-' for stdout", .shown = "none"},
    {.name = "checkpoint-every", .kind = CLI_U64, .offset = offsetof(train_report, ckpt_every), .arg = "N",
     .help = "a checkpoint every N steps; 0: only at the end and on Ctrl-C", .shown = "the same as --eval-every"},
    {.name = "checkpoint-dir", .kind = CLI_STRING, .offset = offsetof(train_report, ckpt_dir), .arg = "DIR"},
    {.name = "resume", .kind = CLI_STRING, .offset = offsetof(train_report, resume), .arg = "CKPT",
     .help = "continue a checkpoint exactly where it stopped; the options it was trained with are taken, "
             "and those given must agree"},
    {.name = "output", .short_name = 'o', .kind = CLI_STRING, .offset = offsetof(train_report, out), .arg = "FILE",
     .help = "the trained model: the weights of the best validation figure, whatever ended the training "
             "(--patience too); without validation the last weights; a file: '-', a device or a FIFO is refused "
             "(a link is written through)"},
    {.name = "quiet", .short_name = 'q', .kind = CLI_FLAG, .offset = offsetof(train_report, quiet),
     .help = "no progress lines"},
    {0},
};
const cli_section train_report_section = {"Reporting and files", report_options};

void train_defaults(train_opts *o, const task_ops *t, char *out)
{
    memset(o, 0, sizeof *o);
    o->task = t->name;
    o->model = opt_model_defaults;
    o->optim = opt_optim_defaults;
    o->stop = opt_stop_defaults;
    o->report = train_report_defaults;
    o->plugin = opt_plugin_defaults;
    if (t->train->defaults)
        t->train->defaults(o);
    host_fmt(out, 64, "%s.safetensors", t->name);
    o->report.out = out;
}

/* The first option of the table with one of the marks that was given, or NULL. */
static const cli_option *given_marked(const cli_group *groups, size_t n, unsigned marks)
{
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; groups[k].section->options[i].name; i++)
            if ((groups[k].section->options[i].flags & marks) && (groups[k].given >> i & 1))
                return &groups[k].section->options[i];
    return NULL;
}

/* --init-from: the task's fine-tuning defaults (task_train.finetune) for the shared options not given, put
 * there as cli_parse put the others, by the table: its groups over o's model, optimiser and stopping options,
 * bound to the fine-tuning defaults. */
static void finetune_defaults(train_opts *o, const task_ops *t, const cli_group *groups, size_t n)
{
    train_opts d;
    char out[64];
    train_defaults(&d, t, out);
    t->train->finetune(&d);
    const void *const fields[3] = {&o->model, &o->optim, &o->stop}, *const defaults[3] = {&d.model, &d.optim, &d.stop};
    cli_group g[CLI_MAX_GROUPS];
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        for (int s = 0; s < 3 && m < CLI_MAX_GROUPS; s++)
            if (groups[k].fields == fields[s]) {
                g[m] = groups[k];
                g[m++].defaults = defaults[s];
            }
    cli_fill_defaults(g, m);
}

int train_check(train_opts *o, const task_ops *t, const cli_group *groups, size_t n)
{
    const train_report *r = &o->report;
    if (r->resume && o->model.init_from) {
        hostlog_usage("train: --resume and --init-from exclude each other");
        return -1;
    }
    if (train_check_output(r->out) != 0)
        return -1;
    const cli_option *fixed;
    if (t->train->strict && (r->resume || o->model.init_from) && (fixed = given_marked(groups, n, OPT_ARCH))) {
        hostlog_usage("train: the model comes from %s: drop %s", r->resume ? "--resume" : "--init-from",
                      cli_long(fixed));
        return -1;
    }
    if (t->train->strict && r->resume && (fixed = given_marked(groups, n, OPT_TRAIN))) {
        hostlog_usage("train: --resume continues with the checkpoint's training options: drop %s", cli_long(fixed));
        return -1;
    }
    if (o->model.init_from && t->train->finetune)
        finetune_defaults(o, t, groups, n);
    if (!cli_was_given(groups, n, &o->stop.max_epochs) && (o->stop.max_steps || o->stop.time_budget > 0))
        o->stop.max_epochs = 0; /* the given limit alone decides */
    if (!cli_was_given(groups, n, &o->report.ckpt_every))
        o->report.ckpt_every = o->report.eval_every;
    return 0;
}

/* ---- the schedule ----------------------------------------------------------------------------------------- */

static double current_lr(const trainer *tr)
{
    const opt_optim *p = &tr->o->optim;
    double lr = p->lr;
    if (tr->c.epoch >= p->lr_decay_after)
        lr *= pow(p->lr_decay, (double)(tr->c.epoch - p->lr_decay_after + 1));
    return lr;
}

static double epoch_now(const trainer *tr)
{
    return (double)tr->c.epoch + (double)tr->c.pos / (double)(tr->c.epoch_units ? tr->c.epoch_units : 1);
}

/* ---- steps and validation --------------------------------------------------------------------------------- */

void train_share(const train_ctx *c, uint32_t n, uint32_t *first, uint32_t *count)
{
    uint64_t f, k;
    par_share(n, c->rank, c->ranks, &f, &k);
    *first = (uint32_t)f, *count = (uint32_t)k;
}

/* On several ranks, after each rank's share of a step: the shares' figures summed, each rank's gradients
 * weighed by its share and summed over the ranks (the one all-reduce of the flat buffer), and the stops
 * every rank takes together. -1 when a rank failed: that rank has said why, the others stop quietly. */
static int combine(trainer *tr, step_result *r, int failed)
{
    train_ctx *c = &tr->c;
    const double budget = tr->o->stop.time_budget;
    const double elapsed = tr->elapsed_before + (train_now() - tr->started);
    const int nps = !failed && isfinite(r->nats_per_symbol);
    double v[9] = {failed,
                   failed ? 0 : r->loss * r->weight,
                   failed ? 0 : r->weight,
                   nps ? r->nats_per_symbol * (double)r->seen : 0,
                   nps ? (double)r->seen : 0,
                   failed ? 0 : (double)r->seen,
                   failed ? 0 : r->rate,
                   host_interrupted,
                   budget > 0 && elapsed >= budget};
    par_sum_f64(v, sizeof v / sizeof v[0]);
    if (v[0] > 0)
        return -1;
    if (r->weight != v[2]) { /* the mean over the whole batch: each share's weighed by its part of it */
        const float scale = (float)(r->weight / v[2]);
        for (uint64_t i = 0; i < c->num_params; i++)
            c->grads[i] *= scale;
    }
    par_sum_f32(c->grads, c->num_params);
    r->loss = v[1] / v[2];
    r->nats_per_symbol = v[4] > 0 ? v[3] / v[4] : NAN;
    r->seen = (uint64_t)v[5];
    r->rate = v[6];
    tr->stop_interrupt = v[7] > 0, tr->stop_time = v[8] > 0;
    return 0;
}

/* One update. 0, or -1 with why (the task's failure, or a loss, gradient or weight that is not finite).
 * On several ranks *own says whether the failure is this rank's alone (its share's); a failure of another
 * rank's leaves why empty, and one every rank meets (after the all-reduce) is the same on all. */
static int step(trainer *tr, step_result *r, char *why, size_t why_len, int *own)
{
    train_ctx *c = &tr->c;
    const double lr = current_lr(tr); /* the epoch this batch belongs to, before the task moves on */
    memset(r, 0, sizeof *r);
    r->nats_per_symbol = NAN;
    why[0] = '\0';
    *own = tr->tt->step(tr->st, c, r, why, why_len) != 0;
    if (c->ranks > 1 && combine(tr, r, *own) != 0) {
        if (*own) {
            char mine[1024];
            host_fmt(mine, sizeof mine, "rank %d: %s", c->rank, why);
            host_fmt(why, why_len, "%s", mine);
        }
        return -1;
    }
    if (*own)
        return -1;
    if (!isfinite(r->loss)) {
        host_fmt(why, why_len, "the loss is %s", isnan(r->loss) ? "NaN" : "infinite");
        return -1;
    }
    if (train_update(&tr->opt, c->params, c->grads, c->num_params, tr->o->optim.clip_value, tr->o->optim.grad_clip, lr,
                     &r->norm, why, why_len) != 0)
        return -1;
    tr->seen += r->seen;
    tr->step++;
    return 0;
}

/* ---- what rank 0 writes for every rank ------------------------------------------------------------------ */

/* Every rank's verdict: 0 when rc is 0 on every rank, else -1. */
static int agree(const trainer *tr, int rc)
{
    if (tr->c.ranks == 1)
        return rc;
    double failed = rc != 0;
    par_max_f64(&failed, 1);
    return failed > 0 ? -1 : 0;
}

/* The ranks' weights must stay the same bits: a hash of each compared with rank 0's. 0, or -1 after one
 * line (from rank 0). */
static int same_weights(const trainer *tr)
{
    const train_ctx *c = &tr->c;
    if (c->ranks == 1)
        return 0;
    const uint64_t h = train_hash(TRAIN_HASH_SEED, c->params, c->num_params * sizeof(float));
    const int k = par_first_differing(&h, 1, NULL);
    if (k && c->rank == 0)
        hostlog_error("after step %llu the weights of rank %d differ from rank 0's: every rank must run the same "
                      "rnnhost build on the same kind of CPU (RNNHOST_CPU forces one kernel level)",
                      (unsigned long long)tr->step, k);
    return k ? -1 : 0;
}

/* A hash of the options as parsed (the task's and the shared ones): every rank must run the same command. */
static uint64_t options_hash(const cli_group *groups, size_t n)
{
    uint64_t h = TRAIN_HASH_SEED;
    for (size_t k = 0; k < n; k++)
        for (const cli_option *o = groups[k].section->options; o->name; o++) {
            const void *field = cli_field(&groups[k], o);
            h = train_hash(h, o->name, strlen(o->name) + 1);
            if (o->kind == CLI_STRING) {
                const char *v = *(const char *const *)field;
                h = train_hash(h, v ? v : "", v ? strlen(v) + 1 : 0);
            } else if (o->kind != CLI_CUSTOM) { /* CLI_CUSTOM fields may hold pointers */
                h = train_hash(h, field, cli_field_size(o));
            }
        }
    return h;
}

/* Every rank must run the same training, the same options (options: their hash) on the same data: else
 * they would part at the first step, or wait in different collectives. 0, or -1 after one line (rank 0's). */
static int same_training(const trainer *tr, uint64_t options)
{
    const train_ctx *c = &tr->c;
    const uint64_t mine[2] = {options, c->data_hash};
    size_t which = 0;
    const int k = par_first_differing(mine, 2, &which);
    if (k && c->rank == 0)
        hostlog_error("rank %d was started with other %s than rank 0: every rank must run the same command on the "
                      "same data", k, which == 0 ? "options" : "training data");
    return k ? -1 : 0;
}

/* A checkpoint: every rank's share of the task's state brought together, rank 0 writes. 0 or -1. */
static int checkpoint(trainer *tr, double elapsed)
{
    if (tr->c.ranks > 1 && tr->tt->gather)
        tr->tt->gather(tr->st, &tr->c);
    if (same_weights(tr) != 0)
        return -1;
    if (agree(tr, tr->c.rank == 0 ? trainer_checkpoint(tr, elapsed) : 0) != 0)
        return -1;
    if (tr->c.rank > 0) /* the file rank 0 wrote, for this rank's messages */
        train_checkpoint_path(tr->last_ckpt, sizeof tr->last_ckpt, tr->o->report.ckpt_dir, tr->t->name, tr->step,
                              tr->last_val);
    return 0;
}

/* -o: rank 0 writes it. 0 or -1. */
static int write_model(trainer *tr)
{
    return agree(tr, tr->c.rank == 0 ? trainer_write(tr, tr->o->report.out, 0, 0) : 0);
}

/* Validates, logs, and writes -o when the figure is the best so far. 1 when it wrote, 0, -1 on a failed write. */
static int validate(trainer *tr)
{
    val_result v = {NAN, NAN, NAN, NAN};
    tr->tt->validate(tr->st, &tr->c, &v);
    tr->last_val = v.figure;
    if (!isfinite(v.figure))
        return 0;
    if (tr->log) {
        fprintf(tr->log, "{\"schema\":1,\"type\":\"val\",\"step\":%llu,\"%s\":%.6f", (unsigned long long)tr->step,
                tr->tt->figure, v.figure);
        if (isfinite(v.loss) && strcmp(tr->tt->figure, "loss") != 0)
            fprintf(tr->log, ",\"loss\":%.6f", v.loss);
        if (isfinite(v.nats_per_symbol))
            fprintf(tr->log, ",\"nats_per_symbol\":%.6f", v.nats_per_symbol);
        if (isfinite(v.accuracy))
            fprintf(tr->log, ",\"accuracy\":%.6f", v.accuracy);
        fprintf(tr->log, "}\n");
    }
    if (same_weights(tr) != 0)
        return -1;
    /* every rank has the same figure (the shares' sums), so every rank counts the same for --patience */
    if (!(v.figure < tr->best_val)) {
        tr->stale_vals++;
        return 0;
    }
    tr->best_val = v.figure, tr->best_step = tr->step, tr->stale_vals = 0;
    return write_model(tr) == 0 ? 1 : -1;
}

static void log_step(trainer *tr, const step_result *r)
{
    fprintf(tr->log, "{\"schema\":1,\"type\":\"train\",\"step\":%llu,\"epoch\":%.4f,\"loss\":%.6f",
            (unsigned long long)tr->step, epoch_now(tr), r->loss);
    if (isfinite(r->nats_per_symbol))
        fprintf(tr->log, ",\"nats_per_symbol\":%.6f", r->nats_per_symbol);
    fprintf(tr->log, ",\"grad_norm\":%.4f,\"lr\":%.6g}\n", r->norm, (double)tr->opt.lr);
}

/* ---- setting up ------------------------------------------------------------------------------------------- */

/* The --resume or --init-from file: a model (or checkpoint) of this task. EXIT_OK, or an exit code after
 * one line; *from stays NULL for new weights. */
static int open_from(trainer *tr, rh_weights **from, char *path, size_t path_len)
{
    const train_opts *o = tr->o;
    const char *name = o->report.resume ? o->report.resume : o->model.init_from;
    char why[1024], err[512];
    model_spec spec;
    *from = NULL;
    if (!name)
        return EXIT_OK;
    if (model_resolve(path, path_len, name, why, sizeof why) != 0) {
        hostlog_error("%s", why);
        return EXIT_LOAD;
    }
    if (rh_weights_open(from, path, err, sizeof err) != RH_OK) {
        hostlog_error("%s", err);
        return EXIT_LOAD;
    }
    if (model_spec_from_weights(&spec, *from, err, sizeof err) != 0) {
        hostlog_error("%s: %s", path, err);
        return EXIT_LOAD;
    }
    if (strcmp(spec.task, tr->t->name) != 0) {
        hostlog_error("%s is a '%s' model; train --task %s needs a '%s' model (or give --task %s)", path, spec.task,
                      tr->t->name, tr->t->name, spec.task);
        return EXIT_LOAD;
    }
    if (!o->report.resume)
        return EXIT_OK;
    const char *record = rh_weights_meta(*from, "rnnhost.training");
    if (!rh_weights_meta(*from, "rnnhost.checkpoint") || !record) {
        hostlog_error("%s is a model, not a checkpoint: use --init-from to start from its weights", path);
        return EXIT_FAIL;
    }
    return trainer_adopt(tr, record, path) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* Everything before the first step: the model and data (the task's), the optimizer, a resumed state, the
 * checkpoint folder and the log. EXIT_OK or an exit code after one line. */
static int set_up(trainer *tr)
{
    train_opts *o = tr->o;
    train_ctx *c = &tr->c;
    rh_weights *from = NULL;
    char path[4096] = "";
    int rc = open_from(tr, &from, path, sizeof path);
    if (rc != EXIT_OK)
        goto done;
    rc = EXIT_FAIL;
    rh_rng_seed(&tr->rng, o->optim.seed ^ tr->tt->rng_salt); /* shuffling, apart from initialisation */
    c->resuming = o->report.resume != NULL;
    if ((rc = tr->tt->open(tr->st, c, from, path)) != EXIT_OK)
        goto done;
    rc = EXIT_FAIL;
    const uint32_t kind = (uint32_t)o->optim.optimizer, slots = rh_optimizer_slots(kind);
    if (!(tr->opt_state = calloc((size_t)slots * c->num_params + 1, sizeof(float)))) {
        hostlog_error("out of memory for the optimizer's state");
        goto done;
    }
    rh_optimizer_init(&tr->opt, kind, (float)o->optim.lr, c->num_params, tr->opt_state);
    tr->opt.weight_decay = (float)o->optim.weight_decay;
    if (o->report.resume && trainer_restore(tr, from, path) != 0)
        goto done;
    rh_weights_close(from);
    from = NULL;
    if (c->rank > 0) { /* rank 0 alone writes */
        rc = EXIT_OK;
        goto done;
    }
    if (train_ensure_dir(o->report.ckpt_dir) != 0) {
        hostlog_error("cannot use checkpoint directory %s: %s", o->report.ckpt_dir, strerror(errno));
        goto done;
    }
    const size_t stale = train_remove_stale_temps(o->report.ckpt_dir, tr->t->name, o->report.out);
    if (stale && !o->report.quiet)
        hostlog_info("removed %zu temporary file%s a killed run left unfinished", stale,
                stale == 1 ? "" : "s");
    if (o->report.log_json && !(tr->log = train_open_log(o->report.log_json, o->report.resume != NULL))) {
        hostlog_error("cannot write %s: %s", o->report.log_json, strerror(errno));
        goto done;
    }
    if (!o->report.quiet) {
        char what[1024];
        tr->tt->describe(tr->st, c, what, sizeof what);
        if (c->ranks > 1)
            hostlog_info("training %s; each batch shared by %d ranks", what, c->ranks);
        else
            hostlog_info("training %s", what);
    }
    rc = EXIT_OK;
done:
    rh_weights_close(from);
    return rc;
}

/* ---- the loop --------------------------------------------------------------------------------------------- */

static int run(trainer *tr)
{
    const train_opts *o = tr->o;
    const opt_stop *stop = &o->stop;
    const uint64_t per_epoch = tr->c.steps_per_epoch;
    uint64_t total = stop->max_steps;
    if (stop->max_epochs && (!total || stop->max_epochs * per_epoch < total))
        total = stop->max_epochs * per_epoch;
    const int validating = tr->tt->has_validation(tr->st) && (o->report.eval_every || tr->tt->validate_epochs);
    const double start = train_now();
    const uint64_t first_step = tr->step;
    uint64_t checkpointed = UINT64_MAX, validated = UINT64_MAX;
    double window_start = start, window = 0, loss = NAN;
    int wrote_best = 0, impatient = 0;
    char why[1024];
    progress pr;
    if (stop->patience && !validating) {
        if (tr->c.rank == 0)
            hostlog_usage("train: --patience counts validations, and this training has none: give validation data "
                          "and --eval-every");
        return EXIT_USAGE;
    }
    progress_init(&pr, o->report.quiet, o->report.print_every ? o->report.print_every : 1);
    pr.unit = tr->tt->rate_unit;
    host_catch_interrupts();
    tr->started = start;
    const int ranks = tr->c.ranks, speaks = tr->c.rank == 0;
    for (;;) {
        double elapsed = tr->elapsed_before + (train_now() - start);
        /* on several ranks the stops that depend on a clock or a signal are the ones the last step agreed on */
        const int time_up = ranks > 1 ? tr->stop_time : stop->time_budget > 0 && elapsed >= stop->time_budget;
        const int limit = (stop->max_steps && tr->step >= stop->max_steps) ||
                          (stop->max_epochs && tr->c.epoch >= stop->max_epochs) || time_up;
        /* the count is checkpointed, so a resumed run stops where the uninterrupted one does */
        impatient = !limit && stop->patience && tr->stale_vals >= stop->patience;
        if (limit || impatient)
            break;
        if (ranks > 1 ? tr->stop_interrupt : host_interrupted) {
            progress_end(&pr);
            if (checkpoint(tr, elapsed) != 0)
                return EXIT_FAIL;
            if (speaks)
                hostlog_info("interrupted at step %llu; checkpoint %s (continue with --resume %s)",
                             (unsigned long long)tr->step, tr->last_ckpt, tr->last_ckpt);
            return EXIT_INTERRUPTED;
        }
        const uint64_t epoch_before = tr->c.epoch;
        step_result r;
        int own;
        if (step(tr, &r, why, sizeof why, &own) != 0) {
            progress_end(&pr);
            /* one line: the failing rank's, or rank 0's for what every rank met */
            if (own || (speaks && why[0]))
                hostlog_error("step %llu: %s; stopping (lower --learning-rate or clip gradients)%s%s",
                              (unsigned long long)tr->step + 1, why, tr->last_ckpt[0] ? "; last good checkpoint " : "",
                              tr->last_ckpt);
            return EXIT_FAIL;
        }
        loss = isfinite(loss) ? 0.95 * loss + 0.05 * r.loss : r.loss; /* shown smoothed; logged as it is */
        window += r.rate;
        if (tr->log)
            log_step(tr, &r);
        const int last = (stop->max_steps && tr->step >= stop->max_steps) ||
                         (stop->max_epochs && tr->c.epoch >= stop->max_epochs);
        const int due = o->report.eval_every ? tr->step % o->report.eval_every == 0 : tr->c.epoch != epoch_before;
        if (validating && (due || last)) {
            const int w = validate(tr);
            if (w < 0)
                return EXIT_FAIL;
            wrote_best |= w;
            validated = tr->step;
        }
        const double now = train_now();
        elapsed = tr->elapsed_before + (now - start);
        if (now - window_start > 0.5 || tr->step % pr.every == 0) {
            progress_rate(&pr, window / (now - window_start));
            window_start = now, window = 0;
        }
        progress_update(&pr, tr->step, total, epoch_now(tr), loss, tr->last_val,
                        train_eta(now - start, first_step, tr->step, total, stop->time_budget, elapsed));
        if (o->report.ckpt_every && tr->step % o->report.ckpt_every == 0) {
            if (checkpoint(tr, elapsed) != 0)
                return EXIT_FAIL;
            checkpointed = tr->step;
        }
        if (tr->log)
            fflush(tr->log);
    }
    progress_end(&pr);
    if (impatient && speaks) /* a stop the user may not expect, said even with --quiet, as Ctrl-C's is */
        hostlog_info("step %llu: no better validation %s in %llu evaluations since step %llu (best %.4f); stopped",
                     (unsigned long long)tr->step, tr->tt->figure, (unsigned long long)tr->stale_vals,
                     (unsigned long long)tr->best_step, tr->best_val);
    if (validating && validated != tr->step) { /* a time budget ended it between validations */
        const int w = validate(tr);
        if (w < 0)
            return EXIT_FAIL;
        wrote_best |= w;
    }
    const double elapsed = tr->elapsed_before + (train_now() - start);
    if (checkpointed != tr->step && checkpoint(tr, elapsed) != 0)
        return EXIT_FAIL;
    /* without validation the last weights are the model; a resumed run that found nothing better keeps the
     * best written before it */
    int kept = !wrote_best && validating && o->report.resume && isfinite(tr->best_val) &&
               access(o->report.out, F_OK) == 0;
    if (ranks > 1) /* rank 0's file system decides */
        par_broadcast(&kept, sizeof kept, 0);
    if (!wrote_best && !kept && write_model(tr) != 0)
        return EXIT_FAIL;
    if (!o->report.quiet) {
        fprintf(stderr, "rnnhost: %s after %llu steps (%.1f epochs, %.0f s): ", o->report.out,
                (unsigned long long)tr->step, epoch_now(tr), elapsed);
        if (wrote_best || kept)
            fprintf(stderr, "the best validation %s, %.4f%s\n", tr->tt->figure, tr->best_val,
                    kept ? ", from before the resume" : "");
        else
            fprintf(stderr, "the last weights%s\n", validating ? " (no validation figure)" : "");
    }
    return EXIT_OK;
}

int train_run(const task_ops *t, train_opts *o, void *own, const cli_group *groups, size_t n)
{
    trainer *tr = calloc(1, sizeof *tr);
    int rc = EXIT_FAIL;
    if (!tr || !(tr->st = calloc(1, t->train->state_size))) {
        hostlog_error("out of memory");
        free(tr);
        return EXIT_FAIL;
    }
    tr->t = t, tr->tt = t->train, tr->o = o, tr->groups = groups, tr->n_groups = n;
    tr->c.o = o, tr->c.own = own, tr->c.reg = &tr->reg, tr->c.rng = &tr->rng;
    tr->c.groups = groups, tr->c.n_groups = n;
    tr->last_val = NAN, tr->best_val = INFINITY;
    if (par_start(NULL, NULL) != 0)
        goto done;
    tr->c.rank = par_rank(), tr->c.ranks = par_size();
    const uint64_t options = options_hash(groups, n); /* before rank 0's own reporting is taken from the others */
    if ((uint32_t)tr->c.ranks > o->optim.batch) {
        if (tr->c.rank == 0)
            hostlog_usage("train: --batch-size %u cannot be shared by %d ranks: give at least %d", o->optim.batch,
                          tr->c.ranks, tr->c.ranks);
        rc = EXIT_USAGE;
        goto done;
    }
    if (tr->c.rank > 0) /* rank 0 speaks and writes for all */
        o->report.quiet = 1, o->report.log_json = NULL;
    if (registry_init(&tr->reg, o->plugin.path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        goto done;
    }
    if (o->optim.threads > 0) {
        blas_set_threads((int)o->optim.threads);
        host_set_model_threads(o->optim.threads);
    }
    rc = set_up(tr);
    if (agree(tr, rc) != 0 && rc == EXIT_OK) /* another rank could not start, and said why */
        rc = EXIT_FAIL;
    if (rc == EXIT_OK && same_training(tr, options) != 0)
        rc = EXIT_FAIL;
    if (rc == EXIT_OK)
        rc = run(tr);
    tr->tt->close(tr->st);
    registry_free(&tr->reg);
done:
    if (tr->log)
        fclose(tr->log);
    for (size_t i = 0; i < tr->n_strings; i++)
        free(tr->strings[i]);
    free(tr->strings);
    free(tr->opt_state);
    free(tr->st);
    free(tr);
    return rc;
}
