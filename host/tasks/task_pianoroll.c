/* Task pianoroll: a recurrent model straight over multi-hot frames of 88 pitches, one sigmoid output per
 * pitch, every frame predicted from the one before it (roll_step). Sequences are whole pieces (cut at
 * --seq-length), shuffled every epoch. The loss and eval's figure are the published measure: the sigmoid
 * cross-entropy summed over the pitches and averaged over time steps. Its models generate frame by frame
 * (eventgen.h). */
#include <stdlib.h>
#include <string.h>

#include "eventgen.h"
#include "hostlog.h"
#include "interrupt.h"
#include "music.h"
#include "par.h"
#include "seqtask.h"
#include "tasks.h"
#include "trainutil.h"

/* ---- batches -------------------------------------------------------------------------------------------- */

/* A batch's buffers: x and target (T,B,P), weight (T*B), lengths (B); y (T,B,P) and ws the model's. */
typedef struct roll_buf {
    float *x, *target, *weight, *y, *ws;
    uint32_t *lengths;
} roll_buf;

/* The batch of the sequences seqs[which[b]] (which NULL: seqs[b]), T steps. */
static void roll_batch(roll_buf *bf, const uint8_t *frames, const span *seqs, const uint32_t *which, uint32_t B,
                       uint32_t T)
{
    const uint32_t P = ROLL_PITCHES;
    for (uint32_t b = 0; b < B; b++) {
        const span *sq = &seqs[which ? which[b] : b];
        bf->lengths[b] = sq->len;
        for (uint32_t t = 0; t < T; t++) {
            const size_t row = (size_t)t * B + b;
            bf->weight[row] = t < sq->len ? 1.0f : 0.0f;
            if (t < sq->len) {
                roll_step(bf->x + row * P, bf->target + row * P, frames + sq->start * P, t);
            } else { /* padding: read by the model, weighed 0 */
                memset(bf->x + row * P, 0, P * sizeof(float));
                memset(bf->target + row * P, 0, P * sizeof(float));
            }
        }
    }
}

/* The longest of B sequences from seqs (through which when not NULL). */
static uint32_t longest(const span *seqs, const uint32_t *which, uint32_t B)
{
    uint32_t T = 0;
    for (uint32_t b = 0; b < B; b++)
        if (seqs[which ? which[b] : b].len > T)
            T = seqs[which ? which[b] : b].len;
    return T;
}

/* The summed cross-entropy of seqs[0..count) in batches of B from the reset state, and their steps. Stops
 * between batches once *stop is set (stop may be NULL). 0, or -1 on a model failure. */
static int roll_nll(double *total, uint64_t *steps, const host_model *hm, roll_buf *bf, const uint8_t *frames,
                    const span *seqs, size_t count, uint32_t B, const volatile sig_atomic_t *stop)
{
    *total = 0, *steps = 0;
    for (size_t first = 0; first < count && !(stop && *stop); first += B) {
        const uint32_t Bc = (uint32_t)(count - first < B ? count - first : B), Tc = longest(seqs + first, NULL, Bc);
        roll_batch(bf, frames, seqs + first, NULL, Bc, Tc);
        const rh_batch batch = {Tc, Bc, bf->lengths, bf->x, NULL};
        if (hm->vt->forward(hm->model, bf->y, NULL, bf->ws, hm->params, &batch, NULL) != RH_OK)
            return -1;
        *total += rh_sigmoid_bce(NULL, bf->y, bf->target, bf->weight, Tc * Bc, ROLL_PITCHES, 1.0f);
        for (uint32_t b = 0; b < Bc; b++)
            *steps += bf->lengths[b];
    }
    return 0;
}

static roll_buf trainer_buf(seq_trainer *tr)
{
    const roll_buf bf = {tr->x, tr->ftargets, tr->weights, tr->y, tr->ws, tr->lengths};
    return bf;
}

/* ---- training --------------------------------------------------------------------------------------------- */

static uint32_t steps_per_quarter(const seq_opts *so)
{
    return 1u << so->grid;
}

static int roll_check(train_opts *o, void *own, const cli_group *groups, size_t n)
{
    seq_opts *so = own;
    so->per_line = 1; /* one sequence at a time, shuffled: the sequence machinery of --per-line */
    return seq_check(o, own, groups, n);
}

static int load_rolls(seq_trainer *tr, train_ctx *c)
{
    const seq_opts *so = c->own;
    const uint32_t B = c->o->optim.batch;
    size_t cut = 0;
    if (roll_spans(&tr->frames, &tr->lines, &tr->n_lines, so->data, so->split, steps_per_quarter(so), so->seq_len,
                   &cut) != 0)
        return -1;
    tr->own_val_lines = 1;
    if (strcmp(so->val_split, "none") != 0 &&
        roll_spans(&tr->val_frames, &tr->val_lines, &tr->n_val_lines, so->val_data ? so->val_data : so->data,
                   so->val_split, steps_per_quarter(so), so->seq_len, &cut) != 0)
        return -1;
    if (cut && c->rank == 0) /* on several ranks, rank 0 says it for all */
        hostlog_info("%zu sequences longer than --seq-length %u were cut into pieces", cut, so->seq_len);
    if (tr->n_lines < B) {
        hostlog_error("%s: %zu training sequences, fewer than --batch-size %u", so->data, tr->n_lines, B);
        return -1;
    }
    size_t frames = 0;
    for (size_t i = 0; i < tr->n_lines; i++)
        frames += tr->lines[i].len;
    tr->n = frames;
    tr->range = rolls_range(tr->frames, tr->lines, tr->n_lines);
    const span *end = &tr->lines[tr->n_lines - 1];
    tr->data_hash = train_hash(TRAIN_HASH_SEED, tr->frames, (end->start + end->len) * ROLL_PITCHES);
    return 0;
}

static int roll_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path)
{
    seq_trainer *tr = st;
    char err[512];
    tr->per_line = 1;
    if (from) {
        model_spec spec;
        if (model_spec_from_weights(&spec, from, err, sizeof err) != 0) {
            hostlog_error("%s: %s", from_path, err);
            return EXIT_LOAD;
        }
        if (seq_adopt_spec(tr, c, &spec, from_path, 0) != 0)
            return EXIT_FAIL;
    }
    if (load_rolls(tr, c) != 0)
        return EXIT_FAIL;
    return seq_start(tr, c, from, from_path);
}

static int roll_train_step(void *st, train_ctx *c, step_result *r, char *why, size_t why_len)
{
    seq_trainer *tr = st;
    const uint32_t B = c->o->optim.batch;
    const uint32_t Bc = (uint32_t)(tr->n_lines - c->pos < B ? tr->n_lines - c->pos : B);
    uint32_t first, n;
    train_share(c, Bc, &first, &n);
    const uint32_t *mine = tr->order + c->pos + first;
    const uint32_t Tc = longest(tr->lines, mine, n);
    roll_buf bf = trainer_buf(tr);
    roll_batch(&bf, tr->frames, tr->lines, mine, n, Tc);
    return seq_backprop(tr, c, Tc, first, n, Bc, r, why, why_len);
}

static void roll_validate(void *st, train_ctx *c, val_result *v)
{
    seq_trainer *tr = st;
    roll_buf bf = trainer_buf(tr);
    double total = 0;
    uint64_t steps = 0;
    uint32_t mine, n; /* each rank its share of the sequences, the sums added over the ranks */
    train_share(c, (uint32_t)tr->n_val_lines, &mine, &n);
    double sums[3] = {0, 0, 0};
    sums[0] = roll_nll(&total, &steps, &tr->m.hm, &bf, tr->val_frames, tr->val_lines + mine, n, c->o->optim.batch,
                       NULL) != 0;
    sums[1] = total, sums[2] = (double)steps;
    par_sum_f64(sums, 3);
    if (tr->n_val_lines && !sums[0] && sums[2] > 0)
        v->figure = v->nats_per_symbol = sums[1] / sums[2];
}

static int roll_meta(void *st, const train_ctx *c, meta_list *ml)
{
    const seq_trainer *tr = st;
    char range[128];
    music_range_json(range, sizeof range, &tr->range, "frames");
    return seq_meta(st, ml, "rnnhost.encoding", "pianoroll-88-1") != 0 ||
                   meta_add(ml, "rnnhost.steps_per_quarter", "%u", steps_per_quarter(c->own)) != 0 ||
                   meta_add(ml, MUSIC_RANGE_META, "%s", range) != 0
               ? -1
               : 0;
}

static const cli_section *const sections[] = {&seq_data_section, &seq_bptt_section, &seq_roll_section, NULL};

static const task_train train = {
    SEQ_TASK_TRAIN,
    .about = "multi-hot piano-roll frames",
    .usage = "--data FILE.json|DIR",
    .sections = sections,
    .data_differs = "the training rolls differ",
    .check = roll_check,
    .open = roll_open,
    .step = roll_train_step,
    .validate = roll_validate,
    .meta = roll_meta,
};

/* ---- eval and generate ------------------------------------------------------------------------------------ */

/* A piano-roll model file and the grid it was trained on. EXIT_OK or EXIT_LOAD with why. */
static int open_model(host_model *hm, uint32_t *spq, music_range *range, plugin_registry *r, const char *path,
                      char *why, size_t why_len)
{
    model_spec spec;
    rh_weights *w = NULL;
    const int rc = model_open(hm, &spec, &w, r, path, ROLL_TASK, why, why_len);
    if (rc != EXIT_OK)
        return rc;
    const char *s = rh_weights_meta(w, "rnnhost.steps_per_quarter");
    *spq = s && atoi(s) >= 1 && atoi(s) <= 16 ? (uint32_t)atoi(s) : 1;
    if (range)
        *range = music_range_of(w, "frames");
    rh_weights_close(w);
    return EXIT_OK;
}

static int roll_eval(const char *path, plugin_registry *r, const void *opts, int json)
{
    const music_eval_opts *o = opts;
    enum { B = 16 };
    host_model hm;
    uint8_t *frames = NULL;
    span *seqs = NULL;
    size_t n = 0, cut = 0;
    uint32_t spq;
    char why[1024];
    roll_buf bf = {0};
    int rc = EXIT_FAIL;
    if (music_eval_check(o) != 0)
        return EXIT_USAGE;
    if (open_model(&hm, &spq, NULL, r, path, why, sizeof why) != EXIT_OK) {
        hostlog_error("%s", why);
        return EXIT_LOAD;
    }
    if (roll_spans(&frames, &seqs, &n, o->data, o->split, spq, UINT32_MAX / 2, &cut) != 0)
        goto done;
    const uint32_t T = longest(seqs, NULL, (uint32_t)n);
    bf.x = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
    bf.target = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
    bf.weight = malloc((size_t)T * B * sizeof(float));
    bf.y = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
    bf.ws = malloc((hm.vt->workspace_size(hm.model, T, B) + 1) * sizeof(float));
    bf.lengths = malloc(B * sizeof *bf.lengths);
    double total = 0;
    uint64_t steps = 0;
    if (!bf.x || !bf.target || !bf.weight || !bf.y || !bf.ws || !bf.lengths ||
        roll_nll(&total, &steps, &hm, &bf, frames, seqs, n, B, &host_interrupted) != 0) {
        hostlog_error("evaluation failed (out of memory or a model error)");
        goto done;
    }
    rc = music_eval_report(path, ROLL_TASK, o, total, steps, n, "time step", json);
done:
    free(bf.x), free(bf.target), free(bf.weight), free(bf.y), free(bf.ws), free(bf.lengths);
    free(frames), free(seqs);
    host_model_destroy(&hm);
    return rc;
}

static const task_eval eval_ops = MUSIC_EVAL(roll_eval);

static int roll_generator(music_gen **g, const char *path, plugin_registry *r, const opt_sampling *s, char *why,
                     size_t why_len)
{
    host_model hm;
    uint32_t spq;
    music_range range;
    const int rc = open_model(&hm, &spq, &range, r, path, why, why_len);
    return rc != EXIT_OK ? rc : music_gen_frames(g, &hm, spq, &range, (float)s->temperature, why, why_len);
}

static const task_generate generate = {MUSIC_GEN_FRAMES, roll_generator};

const task_ops task_pianoroll = {
    .name = ROLL_TASK,
    .noun = "a piano-roll model (88 pitches, sigmoid outputs)",
    .train = &train,
    .eval = &eval_ops,
    .generate = &generate,
    .export = &single_export,
};
