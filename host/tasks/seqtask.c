#include "seqtask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "music.h"
#include "par.h"
#include "trainutil.h"

/* ---- options -------------------------------------------------------------------------------------------- */

static const char *const grids[] = {"quarter", "eighth", "sixteenth", NULL};

const seq_opts seq_opts_defaults = {
    .seq_len = 50, .val_frac = 0.05, .eval_streams = 8, .stretch = 1.0, .split = "train", .val_split = "valid",
    .max_len = 2000, .min_count = 2, .word_dim = 64,
};

static const cli_option data_options[] = {
    {.name = "data", .kind = CLI_STRING, .offset = offsetof(seq_opts, data), .arg = "FILE|DIR|-",
     .help = "lm: UTF-8 text (a file, every file below a directory, or stdin; a file or directory is read from "
             "disk as training goes, stdin and --per-line are held in memory); midi-lm: a MIDI file or a "
             "directory of them; pianoroll: a JSON piano-roll file ({\"train\": [[[pitch, ...], ...], ...], ...}) "
             "or a MIDI file or directory (nine files in ten train, every tenth validates: splits train, valid, "
             "all); classify: TSV lines label<TAB>sequence"},
    {.name = "val-data", .kind = CLI_STRING, .offset = offsetof(seq_opts, val_data), .arg = "FILE",
     .help = "validation data", .shown = "the last --val-frac of --data; pianoroll: --data's --val-split; "
     "classify: none"},
    {0},
};
const cli_section seq_data_section = {NULL, data_options};

static const cli_option bptt_options[] = {
    {.name = "seq-length", .kind = CLI_U32, .offset = offsetof(seq_opts, seq_len), .arg = "T",
     .help = "steps of backpropagation through time; longer piano rolls are cut into pieces", .min = 1,
     .max = 65536, .flags = OPT_TRAIN},
    {0},
};
const cli_section seq_bptt_section = {NULL, bptt_options};

static const cli_option token_options[] = {
    {.name = "val-frac", .kind = CLI_NUMBER, .offset = offsetof(seq_opts, val_frac), .arg = "F",
     .help = "share of --data held out for validation; 0: none", .max = 1, .flags = CLI_BELOW_MAX | OPT_TRAIN},
    {.name = "eval-streams", .kind = CLI_U32, .offset = offsetof(seq_opts, eval_streams), .arg = "N",
     .help = "streams the validation data is cut into", .min = 1, .max = 65536, .flags = OPT_TRAIN},
    {.name = "embed", .kind = CLI_U32, .offset = offsetof(seq_opts, embed), .arg = "N",
     .help = "learned embedding width; 0 feeds symbols one-hot", .max = 65536, .flags = OPT_ARCH},
    {0},
};
const cli_section seq_token_section = {"Text and event models (lm, midi-lm)", token_options};

static const cli_option lines_options[] = {
    {.name = "per-line", .kind = CLI_FLAG, .offset = offsetof(seq_opts, per_line),
     .help = "one line = one sequence, started and ended by a newline",
     .shown = "contiguous streams with the state carried", .flags = OPT_TRAIN},
    {0},
};
const cli_section seq_lines_section = {"Text (lm)", lines_options};

static const cli_option events_options[] = {
    {.name = "transpose", .kind = CLI_U32, .offset = offsetof(seq_opts, transpose), .arg = "N",
     .help = "also train on copies transposed 1..N semitones up and down", .max = 24},
    {.name = "stretch", .kind = CLI_NUMBER, .offset = offsetof(seq_opts, stretch), .arg = "F",
     .help = "also train on copies F times slower and faster, e.g. 1.1", .shown = "%s, none", .min = 1, .max = 4},
    {0},
};
const cli_section seq_events_section = {"MIDI events (midi-lm)", events_options};

static const cli_option roll_options[] = {
    {.name = "grid", .kind = CLI_CHOICE, .offset = offsetof(seq_opts, grid), .arg = "G",
     .help = "from MIDI: quarter, eighth or sixteenth frames", .choices = grids},
    {.name = "split", .kind = CLI_STRING, .offset = offsetof(seq_opts, split), .arg = "NAME",
     .help = "the training split"},
    {.name = "val-split", .kind = CLI_STRING, .offset = offsetof(seq_opts, val_split), .arg = "NAME",
     .help = "the validation split, or none"},
    {0},
};
const cli_section seq_roll_section = {"Piano rolls (pianoroll)", roll_options};

int seq_check(train_opts *o, void *own, const cli_group *groups, size_t n)
{
    const seq_opts *so = own;
    (void)groups, (void)n;
    if (!so->data) {
        hostlog_usage("train: --data is required");
        return -1;
    }
    if (o->model.bidirectional) { /* they predict what comes next: the future is not theirs to read */
        hostlog_usage("train: --bidirectional is for --task ctc or classify");
        return -1;
    }
    if (so->per_line && so->seq_len < 2) {
        hostlog_usage("train: --per-line needs --seq-length of at least 2");
        return -1;
    }
    return 0;
}

/* ---- setting up --------------------------------------------------------------------------------------------- */

uint64_t seq_hash_ids(uint64_t h, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) { /* little-endian whatever the machine's order, so a hash travels */
        const uint32_t v = (uint32_t)ids[i];
        const unsigned char le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
        h = train_hash(h, le, 4);
    }
    return h;
}

void seq_shuffle(uint32_t *order, size_t n, rh_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rh_rng_below(rng, (uint32_t)i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

int seq_adopt_spec(seq_trainer *tr, train_ctx *c, const model_spec *spec, const char *from, int charlm)
{
    opt_model *m = &c->o->model;
    seq_opts *so = c->own;
    const int cell_given = cli_was_given(c->groups, c->n_groups, &m->cell);
    uint32_t embed = 0;
    if (!charlm) { /* a recurrent model straight over the frames */
        if (cell_given && strcmp(m->cell, spec->model_id) != 0) {
            hostlog_error("%s is a '%s' model, not '%s': drop --cell or start a new training", from, spec->model_id,
                          m->cell);
            return -1;
        }
        host_fmt(tr->cell, sizeof tr->cell, "%s", spec->model_id);
    } else {
        if (strcmp(spec->model_id, "charlm") != 0 || !spec->core[0]) {
            hostlog_error("%s: a '%s' model; train continues only charlm language models", from, spec->model_id);
            return -1;
        }
        const char *e = strstr(spec->options, "embed="); /* dropout, the other option, is the run's own */
        if (e && sscanf(e, "embed=%u", &embed) != 1) {
            hostlog_error("%s: unknown model options '%s'", from, spec->options);
            return -1;
        }
        if (cell_given && strcmp(m->cell, spec->core) != 0) {
            hostlog_error("%s has a '%s' core, not '%s': drop --cell or start a new training", from, spec->core,
                          m->cell);
            return -1;
        }
        host_fmt(tr->cell, sizeof tr->cell, "%s", spec->core);
    }
    m->cell = tr->cell;
    const struct {
        uint32_t *field, value;
        const char *name;
    } shape[] = {{&m->hidden, spec->hidden_size, "--rnn-size"},
                 {&m->layers, spec->num_layers, "--num-layers"},
                 {&so->embed, embed, "--embed"}};
    for (size_t i = 0; i < (charlm ? 3u : 2u); i++) {
        if (cli_was_given(c->groups, c->n_groups, shape[i].field) && *shape[i].field != shape[i].value) {
            hostlog_error("%s has %s %u, not %u: drop the option or start a new training", from, shape[i].name,
                          shape[i].value, *shape[i].field);
            return -1;
        }
        *shape[i].field = shape[i].value;
    }
    return 0;
}

int seq_streams_fit(seq_trainer *tr, const train_ctx *c)
{
    const seq_opts *so = c->own;
    const uint32_t B = c->o->optim.batch;
    const size_t need = (size_t)B * (so->seq_len + 1);
    if (tr->n < need) {
        hostlog_error("%s: %zu symbols to train on, fewer than one batch needs (--batch-size %u x "
                      "(--seq-length %u + 1) = %zu)",
                      so->data, tr->n, B, so->seq_len, need);
        return -1;
    }
    tr->seg = tr->n / B;
    return 0;
}

int seq_split_streams(seq_trainer *tr, train_ctx *c)
{
    const seq_opts *so = c->own;
    if (!so->val_data) {
        const size_t n_val = (size_t)floor(tr->n * so->val_frac);
        tr->n -= n_val;
        tr->val_ids = tr->ids + tr->n; /* the tail of the data */
        tr->n_val = n_val;
    }
    if (seq_streams_fit(tr, c) != 0)
        return -1;
    tr->data_hash = seq_hash_ids(TRAIN_HASH_SEED, tr->ids, tr->n);
    return 0;
}

int seq_start(seq_trainer *tr, train_ctx *c, const rh_weights *from, const char *from_path)
{
    const train_opts *o = c->o;
    const seq_opts *so = c->own;
    model_spec *spec = &tr->m.spec;
    char why[1024];
    int rc;
    memset(spec, 0, sizeof *spec);
    host_fmt(spec->task, sizeof spec->task, "%s", o->task);
    spec->hidden_size = o->model.hidden;
    spec->num_layers = o->model.layers;
    if (tr->frames) { /* the cell itself over multi-hot frames, one logit per pitch */
        host_fmt(spec->model_id, sizeof spec->model_id, "%s", o->model.cell);
        spec->input_kind = RH_INPUT_DENSE;
        spec->input_dim = spec->output_dim = ROLL_PITCHES;
    } else {
        host_fmt(spec->model_id, sizeof spec->model_id, "charlm");
        host_fmt(spec->core, sizeof spec->core, "%s", o->model.cell);
        if (so->embed)
            host_fmt(spec->options, sizeof spec->options, "embed=%u", so->embed);
        spec->input_kind = RH_INPUT_TOKENS;
        spec->input_dim = spec->output_dim = tr->V;
    }
    opt_model_options(&o->model, spec->options, sizeof spec->options);
    if ((rc = model_create(&tr->m.hm, c->reg, spec, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        return rc;
    }
    host_model *hm = &tr->m.hm;
    tr->V = hm->info.output_dim, tr->S = hm->info.state_size;
    if (from) {
        char err[512];
        if (rh_weights_load_tensors(from, hm->params, hm->tensors, hm->info.num_tensors, NULL, err, sizeof err) !=
            RH_OK) {
            hostlog_error("%s: %s", from_path, err);
            return EXIT_LOAD;
        }
    } else {
        host_model_init_params(hm, o->optim.seed);
    }

    /* buffers, sized once for the largest step */
    const uint32_t B = o->optim.batch, T = so->seq_len;
    const uint32_t evalB = tr->per_line ? B : (so->eval_streams > B ? so->eval_streams : B);
    tr->state = calloc((size_t)B * tr->S, sizeof(float));
    tr->next_state = calloc((size_t)B * tr->S, sizeof(float));
    tr->tokens = calloc((size_t)T * evalB, sizeof *tr->tokens);
    tr->targets = calloc((size_t)T * evalB, sizeof *tr->targets);
    tr->lengths = calloc(evalB, sizeof *tr->lengths);
    tr->y = malloc((size_t)T * evalB * tr->V * sizeof(float));
    tr->dy = malloc((size_t)T * B * tr->V * sizeof(float));
    tr->ws = malloc((hm->vt->workspace_size(hm->model, T, evalB) + 1) * sizeof(float));
    tr->order = tr->per_line ? malloc((tr->n_lines + 1) * sizeof *tr->order) : NULL;
    if (tr->frames) {
        tr->x = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
        tr->ftargets = malloc((size_t)T * B * ROLL_PITCHES * sizeof(float));
        tr->weights = malloc((size_t)T * B * sizeof(float));
    }
    if (!tr->state || !tr->next_state || !tr->tokens || !tr->targets || !tr->lengths || !tr->y || !tr->dy ||
        !tr->ws || (tr->per_line && !tr->order) || (tr->frames && (!tr->x || !tr->ftargets || !tr->weights))) {
        hostlog_error("out of memory for a batch of %u x %u", B, T);
        return EXIT_FAIL;
    }
    hm->vt->reset(hm->model, tr->state, B);
    if (tr->per_line) {
        for (size_t i = 0; i < tr->n_lines; i++)
            tr->order[i] = (uint32_t)i;
        seq_shuffle(tr->order, tr->n_lines, c->rng);
    }
    c->params = hm->params, c->grads = hm->grads, c->num_params = hm->info.num_params;
    c->tensors = hm->tensors, c->num_tensors = hm->info.num_tensors;
    c->steps_per_epoch = tr->per_line ? (tr->n_lines + B - 1) / B : (tr->seg - 1) / T;
    c->epoch_units = tr->per_line ? tr->n_lines : tr->seg;
    c->data_hash = tr->data_hash;
    c->data_name = so->data;
    return EXIT_OK;
}

/* ---- steps ---------------------------------------------------------------------------------------------- */

/* Tokens and targets of the lines lines[which[b]] (which NULL: lines[b]): every line starts from the
 * newline symbol and ends by predicting one. Returns the symbols predicted. */
static uint64_t line_batch(seq_trainer *tr, const int32_t *ids, const span *lines, const uint32_t *which, uint32_t B,
                           uint32_t T)
{
    uint64_t symbols = 0;
    for (uint32_t b = 0; b < B; b++) {
        const span *ln = &lines[which ? which[b] : b];
        const int32_t *src = ids + ln->start;
        tr->lengths[b] = ln->len + 1;
        for (uint32_t t = 0; t < T; t++) {
            const size_t i = (size_t)t * B + b;
            if (t > ln->len) {
                tr->tokens[i] = 0, tr->targets[i] = -1; /* padding: not read, not scored */
                continue;
            }
            tr->tokens[i] = t == 0 ? tr->newline : src[t - 1];
            tr->targets[i] = t < ln->len ? src[t] : tr->newline;
            symbols++;
        }
    }
    return symbols;
}

/* The longest of B sequences from lines (through which when not NULL), plus extra. */
static uint32_t longest(const span *lines, const uint32_t *which, uint32_t B, uint32_t extra)
{
    uint32_t T = 0;
    for (uint32_t b = 0; b < B; b++)
        if (lines[which ? which[b] : b].len + extra > T)
            T = lines[which ? which[b] : b].len + extra;
    return T;
}

int seq_token_step(void *st, train_ctx *c, step_result *r, char *why, size_t why_len)
{
    seq_trainer *tr = st;
    const seq_opts *so = c->own;
    const uint32_t B = c->o->optim.batch, T = so->seq_len;
    uint32_t first, n;
    if (tr->per_line) {
        const uint32_t Bc = (uint32_t)(tr->n_lines - c->pos < B ? tr->n_lines - c->pos : B);
        train_share(c, Bc, &first, &n);
        const uint32_t *mine = tr->order + c->pos + first;
        const uint32_t Tc = longest(tr->lines, mine, n, 1);
        line_batch(tr, tr->ids, tr->lines, mine, n, Tc);
        return seq_backprop(tr, c, Tc, first, n, Bc, r, why, why_len);
    }
    train_share(c, B, &first, &n); /* streams first .. first + n, as rows 0 .. n of the step */
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t b = first + k;
        const int32_t *src;
        if (tr->cor) {
            if (corpus_read(tr->cor, &tr->rows[b], tr->window, b * tr->seg + c->pos, (size_t)T + 1, why, why_len) != 0)
                return -1;
            src = tr->window;
        } else {
            src = tr->ids + b * tr->seg + c->pos;
        }
        for (uint32_t t = 0; t < T; t++) {
            tr->tokens[(size_t)t * n + k] = src[t];
            tr->targets[(size_t)t * n + k] = src[t + 1];
        }
    }
    return seq_backprop(tr, c, T, first, n, B, r, why, why_len);
}

/* The position after a step of B sequences or one chunk: a new epoch reshuffles, or resets the state. */
static void advance(seq_trainer *tr, train_ctx *c, uint32_t B)
{
    const seq_opts *so = c->own;
    if (tr->per_line) {
        c->pos += B;
        if (c->pos >= tr->n_lines) {
            c->pos = 0, c->epoch++;
            seq_shuffle(tr->order, tr->n_lines, c->rng);
        }
        return;
    }
    float *t = tr->state;
    tr->state = tr->next_state, tr->next_state = t;
    c->pos += so->seq_len;
    if (c->pos + so->seq_len + 1 > tr->seg) {
        c->pos = 0, c->epoch++;
        tr->m.hm.vt->reset(tr->m.hm.model, tr->state, c->o->optim.batch);
    }
}

int seq_backprop(seq_trainer *tr, train_ctx *c, uint32_t T, uint32_t first, uint32_t B, uint32_t whole,
                 step_result *r, char *why, size_t why_len)
{
    host_model *hm = &tr->m.hm;
    const size_t rows = (size_t)T * B;
    const int roll = tr->frames != NULL;
    /* the step's dropout masks, drawn for the whole batch on every rank (so only with dropout: a run
     * without it draws what it always drew) */
    const rh_dropout_masks masks = {hm->dropout != NULL ? rh_rng_next(c->rng) : 0, first};
    if (B == 0) { /* a share of nothing: another rank has the batch's last sequences */
        memset(hm->grads, 0, hm->info.num_params * sizeof(float));
        r->loss = 0, r->weight = 0;
        advance(tr, c, whole);
        return 0;
    }
    const rh_batch batch = {T, B, tr->per_line ? tr->lengths : NULL, roll ? tr->x : NULL, roll ? NULL : tr->tokens};
    const float *h0 = tr->per_line ? NULL : tr->state + (size_t)first * tr->S;
    float *hT = tr->per_line ? NULL : tr->next_state + (size_t)first * tr->S;
    rh_status st = host_model_train_forward(hm, hm->params, tr->y, hT, tr->ws, &batch, h0, &masks);
    if (st != RH_OK) {
        host_fmt(why, why_len, "forward failed: %s", rh_strerror(st));
        return -1;
    }
    uint64_t symbols = 0;
    double nats, norm_by;
    if (roll) { /* the published measure: summed over the pitches, averaged over time steps */
        for (size_t i = 0; i < rows; i++)
            symbols += tr->weights[i] > 0;
        norm_by = (double)symbols;
        nats = rh_sigmoid_bce(tr->dy, tr->y, tr->ftargets, tr->weights, (uint32_t)rows, tr->V, (float)(1.0 / norm_by));
    } else {
        for (size_t i = 0; i < rows; i++)
            symbols += tr->targets[i] >= 0;
        norm_by = tr->per_line ? (double)B : (double)symbols;
        nats = rh_softmax_xent(tr->dy, tr->y, tr->targets, NULL, (uint32_t)rows, tr->V, (float)(1.0 / norm_by));
    }
    r->loss = nats / norm_by;
    r->weight = norm_by;
    if (!isfinite(r->loss)) {
        host_fmt(why, why_len, "the loss is %s", isnan(r->loss) ? "NaN" : "infinite");
        return -1;
    }
    memset(hm->grads, 0, hm->info.num_params * sizeof(float));
    st = host_model_train_backward(hm, hm->params, hm->grads, NULL, NULL, tr->ws, &batch, h0, tr->dy, NULL, &masks);
    if (st != RH_OK) {
        host_fmt(why, why_len, "backward failed: %s", rh_strerror(st));
        return -1;
    }
    r->nats_per_symbol = nats / (double)symbols;
    r->seen = symbols;
    r->rate = (double)symbols;
    advance(tr, c, whole);
    return 0;
}

void seq_gather(void *st, const train_ctx *c)
{
    seq_trainer *tr = st;
    if (tr->per_line)
        return; /* sequences carry nothing from step to step */
    const uint32_t B = c->o->optim.batch;
    uint32_t *count = malloc((size_t)c->ranks * sizeof *count), first = 0;
    if (!count) {
        hostlog_error("out of memory");
        exit(EXIT_FAIL); /* the other ranks wait in the gather: the launcher ends them */
    }
    for (int k = 0; k < c->ranks; k++) {
        uint64_t f, m;
        par_share(B, k, c->ranks, &f, &m);
        count[k] = (uint32_t)m;
        if (k == c->rank)
            first = (uint32_t)f;
    }
    par_all_gather_rows(tr->state + (size_t)first * tr->S, tr->state, count, tr->S);
    free(count);
}

/* ---- validation ------------------------------------------------------------------------------------------- */

/* lm_reader over the validation symbols of a streamed corpus. */
static int read_val(void *ctx, uint32_t stream, size_t first, size_t count, int32_t *ids)
{
    seq_trainer *tr = ctx;
    char err[512];
    if (stream >= tr->n_val_rows ||
        corpus_read(tr->val_cor ? tr->val_cor : tr->cor, &tr->val_rows[stream], ids, tr->val_first + first, count,
                    err, sizeof err) != 0) {
        hostlog_error("validation: %s", stream >= tr->n_val_rows ? "too many streams" : err);
        return -1;
    }
    return 0;
}

int seq_has_validation(void *st)
{
    const seq_trainer *tr = st;
    return tr->per_line ? tr->n_val_lines > 0 : tr->n_val >= 2;
}

/* lm_reader over validation symbols held in memory. */
static int read_val_ids(void *ctx, uint32_t stream, size_t first, size_t count, int32_t *ids)
{
    (void)stream;
    memcpy(ids, ((const seq_trainer *)ctx)->val_ids + first, count * sizeof *ids);
    return 0;
}

/* Each rank validates its share (streams, or lines) and the sums are added over the ranks. */
void seq_token_validate(void *st, train_ctx *c, val_result *v)
{
    seq_trainer *tr = st;
    const seq_opts *so = c->own;
    host_model *hm = &tr->m.hm;
    if (!tr->per_line) { /* in the units of the training loss, exactly as `score` computes it */
        double nll;
        uint64_t count;
        const uint32_t B = so->eval_streams, T = so->seq_len;
        const int failed = tr->n_val < 2 || lm_nll_part(&nll, &count, hm, tr->cor ? read_val : read_val_ids, tr,
                                                        tr->n_val, B, T, c->rank, c->ranks) != 0;
        double sums[3] = {failed, failed ? 0 : nll, failed ? 0 : (double)count};
        par_sum_f64(sums, 3);
        if (!sums[0] && sums[2] > 0)
            v->figure = v->nats_per_symbol = sums[1] / sums[2];
        return;
    }
    const uint32_t B = c->o->optim.batch;
    uint32_t mine, n;
    train_share(c, (uint32_t)tr->n_val_lines, &mine, &n);
    double sums[3] = {0, 0, 0}; /* failed, nats, symbols */
    for (size_t first = mine; first < (size_t)mine + n; first += B) {
        const uint32_t Bc = (uint32_t)(mine + n - first < B ? mine + n - first : B);
        const uint32_t Tc = longest(tr->val_lines + first, NULL, Bc, 1);
        sums[2] += (double)line_batch(tr, tr->val_ids, tr->val_lines + first, NULL, Bc, Tc);
        const rh_batch batch = {Tc, Bc, tr->lengths, NULL, tr->tokens};
        if (hm->vt->forward(hm->model, tr->y, NULL, tr->ws, hm->params, &batch, NULL) != RH_OK) {
            sums[0] = 1;
            break;
        }
        sums[1] += rh_softmax_xent(NULL, tr->y, tr->targets, NULL, Tc * Bc, tr->V, 1.0f);
    }
    par_sum_f64(sums, 3);
    if (sums[0])
        return;
    v->nats_per_symbol = sums[1] / sums[2];
    v->figure = sums[1] / (double)tr->n_val_lines; /* per line, as the training loss */
}

/* ---- files -------------------------------------------------------------------------------------------- */

void seq_describe(void *st, const train_ctx *c, char *buf, size_t len)
{
    const seq_trainer *tr = st;
    const train_opts *o = c->o;
    host_fmt(buf, len,
             "%s %s (%u x %u, %llu parameters) on %zu %s (%u-wide input), %zu %s for validation; %llu steps per "
             "epoch",
             o->task, o->model.cell, o->model.layers, o->model.hidden, (unsigned long long)tr->m.hm.info.num_params,
             tr->n, tr->frames ? "frames" : "symbols", tr->m.hm.info.input_dim,
             tr->per_line ? tr->n_val_lines : tr->n_val, tr->per_line ? "sequences" : "symbols",
             (unsigned long long)c->steps_per_epoch);
}

/* A file's name without the folders it sat in on the machine that trained: model files travel. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

void seq_record_files(cJSON *j, const seq_opts *so, uint64_t hash, const char *count_key, double count)
{
    char hex[32];
    cJSON_AddStringToObject(j, "data", base_name(so->data));
    host_fmt(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    cJSON_AddStringToObject(j, "data_hash", hex);
    cJSON_AddNumberToObject(j, count_key, count);
    cJSON_AddStringToObject(j, "val_data", so->val_data ? base_name(so->val_data) : "");
}

void seq_record_data(void *st, const train_ctx *c, cJSON *j)
{
    const seq_trainer *tr = st;
    seq_record_files(j, c->own, tr->data_hash, "data_symbols", (double)tr->n);
}

int seq_meta(seq_trainer *tr, meta_list *ml, const char *key, const char *value)
{
    if (model_spec_to_meta(ml, &tr->m.spec) != 0)
        return -1;
    return key ? meta_add(ml, key, "%s", value) : 0;
}

uint32_t seq_save(void *st, const train_ctx *c, rh_blob *blobs)
{
    seq_trainer *tr = st;
    if (tr->per_line) {
        const rh_blob order = {"train.order", RH_DTYPE_I32, 1, {tr->n_lines, 0, 0, 0}, tr->order};
        blobs[0] = order;
    } else {
        const rh_blob state = {"train.state", RH_DTYPE_F32, 2, {c->o->optim.batch, tr->S, 0, 0}, tr->state};
        blobs[0] = state;
    }
    return 1;
}

int seq_restore(void *st, train_ctx *c, const rh_weights *w, const char *path)
{
    seq_trainer *tr = st;
    const seq_opts *so = c->own;
    const uint32_t B = c->o->optim.batch;
    rh_blob b;
    int32_t i;
    if (tr->per_line) {
        i = rh_weights_find(w, "train.order");
        if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_I32 || b.ndim != 1 ||
            b.shape[0] != tr->n_lines) {
            hostlog_error("%s: no line order for %zu lines (train.order)", path, tr->n_lines);
            return -1;
        }
        const int32_t *ord = b.data;
        for (size_t k = 0; k < tr->n_lines; k++) {
            if (ord[k] < 0 || (size_t)ord[k] >= tr->n_lines) {
                hostlog_error("%s: train.order holds %d, outside 0..%zu", path, ord[k], tr->n_lines - 1);
                return -1;
            }
            tr->order[k] = (uint32_t)ord[k];
        }
    } else {
        i = rh_weights_find(w, "train.state");
        if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_F32 || b.ndim != 2 ||
            b.shape[0] != B || b.shape[1] != tr->S) {
            hostlog_error("%s: no carried state of (%u, %u) (train.state)", path, B, tr->S);
            return -1;
        }
        memcpy(tr->state, b.data, (size_t)B * tr->S * sizeof(float));
    }
    /* a stream's position needs a whole window after it (the loop checks the lines' and the epoch's) */
    if (!tr->per_line && c->pos + so->seq_len + 1 > tr->seg) {
        hostlog_error("%s: its position (rnnhost.checkpoint) is missing or does not fit the data", path);
        return -1;
    }
    return 0;
}

void seq_close(void *st)
{
    seq_trainer *tr = st;
    lm_close(&tr->m);
    if (tr->own_val)
        free(tr->val_ids);
    free(tr->ids);
    free(tr->lines);
    if (tr->own_val_lines)
        free(tr->val_lines);
    free(tr->order);
    free(tr->frames);
    free(tr->val_frames);
    free(tr->x);
    free(tr->ftargets);
    free(tr->weights);
    for (uint32_t i = 0; tr->rows && i < tr->n_rows; i++)
        corpus_cursor_free(&tr->rows[i]);
    for (uint32_t i = 0; tr->val_rows && i < tr->n_val_rows; i++)
        corpus_cursor_free(&tr->val_rows[i]);
    free(tr->rows);
    free(tr->val_rows);
    free(tr->window);
    corpus_close(tr->cor);
    corpus_close(tr->val_cor);
    free(tr->state);
    free(tr->next_state);
    free(tr->tokens);
    free(tr->targets);
    free(tr->lengths);
    free(tr->y);
    free(tr->dy);
    free(tr->ws);
}
