/* The trainer the classify and tag tasks share (classify.h): the data, the model, shuffled batches with
 * padding, and the loss per sequence (classify) or per token (tag). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "classify.h"
#include "hostlog.h"
#include "par.h"
#include "seqtask.h"

static const cli_option shared_options[] = {
    {.name = "unidirectional", .kind = CLI_FLAG, .offset = offsetof(seq_opts, unidirectional),
     .help = "read each sequence first to last only (as classify --stream needs): a tag, or a numeric "
             "sequence's label, then sees nothing after it",
     .shown = "both ways for tag and --input numeric; chars and words one way unless --bidirectional",
     .flags = OPT_ARCH},
    {.name = "min-count", .kind = CLI_U32, .offset = offsetof(seq_opts, min_count), .arg = "N",
     .help = "words: the fewest times a word is seen in the training data to have a vector of its own; rarer "
             "words, and later any word the training data lacks, are one unknown word",
     .min = 1, .max = 1000000, .flags = OPT_ARCH},
    {.name = "max-length", .kind = CLI_U32, .offset = offsetof(seq_opts, max_len), .arg = "N",
     .help = "the longest sequence, in characters, words or steps: a longer one is an error naming its line "
             "(stored in the model, which classify and tag hold to)",
     .min = 1, .max = CLS_MAX_LENGTH, .flags = OPT_ARCH},
    {.name = "spelling", .kind = CLI_U32, .offset = offsetof(seq_opts, spelling), .arg = "N",
     .help = "words: each word's characters (its first and last 10 when longer than 20) read both ways by a "
             "character model of N units a direction, whose 2N outputs join the word's vector, so that a word "
             "the training data lacks or saw too rarely still carries its spelling; 0: none; needs --word-dim",
     .max = CLS_MAX_SPELLING, .flags = OPT_ARCH},
    {.name = "word-dim", .kind = CLI_U32, .offset = offsetof(seq_opts, word_dim), .arg = "N",
     .help = "words: the width of each word's vector (a table of them, the unknown word's included), which the "
             "model reads; 0: the model reads the word ids themselves (one-hot into its first layer's weights, "
             "as many per unit as there are words)",
     .max = CLS_MAX_WORD_DIM, .flags = OPT_ARCH},
    {.name = "word-dropout", .kind = CLI_NUMBER, .offset = offsetof(seq_opts, word_dropout), .arg = "P",
     .help = "words: in training, read each word as the unknown word with chance P (a new draw every step), so "
             "the unknown word's vector, and with --spelling the spelling, learn to stand for words the data "
             "lacks; never at inference; 0-0.9",
     .max = 0.9, .flags = OPT_TRAIN},
    {0},
};
const cli_section cls_shared_section = {"Classification and tagging (classify, tag)", shared_options};

int cls_check_shared(const train_opts *o, const seq_opts *so, int words)
{
    if (so->unidirectional && o->model.bidirectional)
        return hostlog_usage("train: --unidirectional and --bidirectional contradict each other"), -1;
    if (so->spelling && !words)
        return hostlog_usage("train: --spelling is for --input words"), -1;
    if (so->word_dim != seq_opts_defaults.word_dim && !words)
        return hostlog_usage("train: --word-dim is for --input words"), -1;
    if (so->spelling && !so->word_dim)
        return hostlog_usage("train: --spelling needs word vectors: drop --word-dim 0"), -1;
    if (so->word_dropout > 0 && !words)
        return hostlog_usage("train: --word-dropout is for --input words"), -1;
    return 0;
}

void cls_defaults(train_opts *o)
{
    o->model.hidden = 64;
    o->model.layers = 1;
    o->optim.batch = 32;
    o->optim.lr_decay = 1;
    o->stop.max_epochs = 30;
    o->report.eval_every = 0;
    o->report.print_every = 50;
}


/* A new model's spec and weights, after its training data is read. */
static int make_model(cls_trainer *tr, train_ctx *c)
{
    const opt_model *om = &c->o->model;
    cls_model *m = &tr->m;
    model_spec *spec = &m->spec;
    char why[1024];
    if (m->n_labels < 2) {
        hostlog_error("%s: one %s only ('%s'): a model needs two or more", c->data_name, m->tagger ? "tag" : "label",
                      m->labels[0]);
        return EXIT_FAIL;
    }
    if (m->input == CLS_IN_NUMERIC) {
        cls_standardise_stats(m, &tr->train);
        if (!m->mean || !m->std) {
            hostlog_error("out of memory");
            return EXIT_FAIL;
        }
    }
    host_fmt(spec->task, sizeof spec->task, "%s", m->tagger ? TAG_TASK : CLS_TASK);
    host_fmt(spec->model_id, sizeof spec->model_id, "%s", om->cell);
    spec->input_kind = cls_dense(m) ? RH_INPUT_DENSE : RH_INPUT_TOKENS;
    spec->input_dim = cls_dense(m)                ? cls_dense(m)
                      : m->input == CLS_IN_CHARS ? m->voc.n
                                                 : m->n_words + 1;
    spec->hidden_size = om->hidden, spec->num_layers = om->layers;
    spec->output_dim = m->n_labels;
    opt_model_options(om, spec->options, sizeof spec->options);
    const int rc = cls_create(m, c->reg, why, sizeof why);
    if (rc != EXIT_OK) {
        hostlog_error("%s", why);
        return rc;
    }
    for (int d = 0; d < cls_dirs(m); d++) {
        host_model_init_params(&m->dir[d], c->o->optim.seed + (uint64_t)d * 0x9e3779b97f4a7c15ULL);
        memcpy(m->pdir[d], m->dir[d].params, m->np[d] * sizeof(float));
    }
    for (int d = 0; m->spelling && d < 2; d++) { /* the character model's stacks */
        cls_model *sp = m->spell;
        host_model_init_params(&sp->dir[d], c->o->optim.seed + (uint64_t)(d + 2) * 0x9e3779b97f4a7c15ULL);
        memcpy(sp->pdir[d], sp->dir[d].params, sp->np[d] * sizeof(float));
    }
    if (cls_vectors(m)) { /* the word vectors, from their own generator */
        const int32_t k = rh_tensor_find(m->tensors, m->num_tensors, "words.embed");
        rh_rng rng;
        rh_rng_seed(&rng, c->o->optim.seed ^ 0x776f72642e766563ULL);
        rh_params_init(m->params, m->tensors + k, 1, &rng);
    }
    return EXIT_OK;
}

int cls_train_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path)
{
    cls_trainer *tr = st;
    const seq_opts *co = c->own;
    opt_model *om = &c->o->model;
    const uint32_t B = c->o->optim.batch;
    cls_model *m = &tr->m;
    char why[1024];
    int rc;
    from_path = from ? from_path : NULL;
    c->data_name = co->data;
    if (from_path) { /* the model decides its shape, head, labels and symbols */
        if ((rc = cls_open(m, c->reg, from_path, why, sizeof why)) != EXIT_OK) {
            hostlog_error("%s", why);
            return rc;
        }
        om->cell = m->spec.model_id, om->hidden = m->spec.hidden_size, om->layers = m->spec.num_layers;
        om->bidirectional = m->bidirectional;
    } else { /* a tagger's input and head are its task's, already set */
        if (!m->tagger)
            m->input = co->input, m->pool = co->pool;
        /* a sentence or a recording is read both ways unless told; text and DNA lines, only when told */
        m->bidirectional = m->tagger || m->input == CLS_IN_NUMERIC ? !co->unidirectional : om->bidirectional;
        m->channels = co->channels, m->max_len = co->max_len, m->min_count = co->min_count;
        m->spelling = co->spelling, m->word_dim = m->input == CLS_IN_WORDS ? co->word_dim : 0;
    }
    const int format = m->tagger ? CLS_READ_CONLL : CLS_READ_LABELS;
    if (cls_read(&tr->train, co->data, m, format | (from_path ? 0 : CLS_READ_GROW)) != 0)
        return EXIT_FAIL;
    if (!from_path && (rc = make_model(tr, c)) != EXIT_OK)
        return rc;
    if (from_path && m->input == CLS_IN_NUMERIC)
        cls_standardise(m, &tr->train);
    if (co->val_data) {
        if (cls_read(&tr->val, co->val_data, m, format) != 0)
            return EXIT_FAIL;
        if (m->input == CLS_IN_NUMERIC)
            cls_standardise(m, &tr->val);
    }
    const uint32_t Tv = cls_longest(&tr->val), T = cls_longest(&tr->train);
    tr->order = malloc(tr->train.n * sizeof *tr->order);
    tr->idx = malloc(B * sizeof *tr->idx);
    if (!tr->order || !tr->idx || cls_batch_alloc(&tr->b, m, T > Tv ? T : Tv, B) != 0) {
        hostlog_error("out of memory for a batch of %u x %u", B, T > Tv ? T : Tv);
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < tr->train.n; i++)
        tr->order[i] = (uint32_t)i;
    seq_shuffle(tr->order, tr->train.n, c->rng);
    tr->n_batches = (tr->train.n + B - 1) / B;
    c->params = m->params, c->grads = m->grads, c->num_params = m->P;
    c->tensors = m->tensors, c->num_tensors = m->num_tensors;
    c->steps_per_epoch = tr->n_batches;
    c->epoch_units = tr->train.n;
    c->data_hash = tr->train.hash;
    return EXIT_OK;
}

void cls_describe(void *st, const train_ctx *c, char *buf, size_t len)
{
    const cls_trainer *tr = st;
    const cls_model *m = &tr->m;
    const opt_model *om = &c->o->model;
    char in[160];
    if (m->input == CLS_IN_CHARS)
        host_fmt(in, sizeof in, "%u symbols", m->voc.n);
    else if (m->input == CLS_IN_WORDS && m->spelling)
        host_fmt(in, sizeof in, "%u words and the unknown word, vectors of %u and a spelling by %u x 2 units over %u "
                 "characters", m->n_words, m->word_dim, m->spelling, m->spell_voc.n);
    else if (cls_vectors(m))
        host_fmt(in, sizeof in, "%u words and the unknown word, vectors of %u", m->n_words, m->word_dim);
    else if (m->input == CLS_IN_WORDS)
        host_fmt(in, sizeof in, "%u words and the unknown word", m->n_words);
    else
        host_fmt(in, sizeof in, "%u channels", m->channels);
    char pool[32] = "";
    if (!m->tagger)
        host_fmt(pool, sizeof pool, ", pool %s", cls_pool_names[m->pool]);
    host_fmt(buf, len,
             "%s %s%s (%u x %u, %llu parameters%s) over %s into %u %s; %zu sequences, %zu for validation; %llu steps "
             "per epoch",
             m->spec.task, m->bidirectional ? "bidirectional " : "", om->cell, om->layers, om->hidden,
             (unsigned long long)m->P, pool, in, m->n_labels, m->tagger ? "tags" : "labels", tr->train.n, tr->val.n,
             (unsigned long long)tr->n_batches);
}

/* --word-dropout: each word of the batch (sequence k of the step's whole batch is first + k, element t) read
 * as the unknown word when a hash of (seed, its place) falls below p; the draws depend on the place alone,
 * so any split of the batch over ranks drops the same words. */
static void word_dropout(cls_batch *b, const cls_model *m, uint64_t seed, uint32_t first, double p)
{
    const uint64_t below = (uint64_t)(p * 18446744073709551616.0);
    for (uint32_t t = 0; t < b->T; t++)
        for (uint32_t k = 0; k < b->B; k++) {
            uint64_t h = seed ^ (((uint64_t)(first + k) << 32 | t) * 0x9e3779b97f4a7c15ULL);
            h ^= h >> 31, h *= 0xbf58476d1ce4e5b9ULL, h ^= h >> 29, h *= 0x94d049bb133111ebULL, h ^= h >> 32;
            if (t < b->lengths[k] && h < below)
                b->tokens[0][(size_t)t * b->B + k] = 0;
        }
    cls_batch_reverse(b, m);
}

static void advance(cls_trainer *tr, train_ctx *c, uint32_t whole)
{
    c->pos += whole;
    if (c->pos >= tr->train.n) {
        c->pos = 0, c->epoch++;
        seq_shuffle(tr->order, tr->train.n, c->rng);
    }
}

int cls_step(void *st, train_ctx *c, step_result *r, char *why, size_t why_len)
{
    cls_trainer *tr = st;
    cls_model *m = &tr->m;
    cls_batch *b = &tr->b;
    const uint32_t B = c->o->optim.batch;
    const uint32_t whole = (uint32_t)(tr->train.n - c->pos < B ? tr->train.n - c->pos : B);
    uint32_t mine, n;
    train_share(c, whole, &mine, &n);
    /* the dropout masks, drawn (when there is dropout) for the whole batch on every rank */
    const seq_opts *so = c->own;
    const rh_dropout_masks masks = {m->dir[0].dropout ? rh_rng_next(c->rng) : 0, mine};
    const uint64_t word_seed = so->word_dropout > 0 ? rh_rng_next(c->rng) : 0;
    memset(m->grads, 0, m->P * sizeof *m->grads);
    r->loss = 0, r->weight = 0;
    if (n == 0) { /* another rank has the batch's last sequences */
        advance(tr, c, whole);
        return 0;
    }
    cls_batch_fill(b, m, &tr->train, tr->order + c->pos + mine, n);
    if (so->word_dropout > 0)
        word_dropout(b, m, word_seed, mine, so->word_dropout);
    rh_status s = cls_forward(m, b, NULL, &masks);
    if (s != RH_OK) {
        host_fmt(why, why_len, "forward failed: %s", rh_strerror(s));
        return -1;
    }
    /* a classifier's loss is per sequence, a tagger's per token */
    const uint32_t rows = m->tagger ? b->T * n : n;
    uint64_t steps = 0;
    for (uint32_t k = 0; k < n; k++)
        steps += b->lengths[k];
    const double per = m->tagger ? (double)steps : (double)n;
    const double nats = rh_softmax_xent(b->dz, b->z, b->targets, NULL, rows, m->n_labels, (float)(1.0 / per));
    r->loss = nats / per;
    r->weight = per;
    if (!isfinite(r->loss)) {
        host_fmt(why, why_len, "the loss is %s", isnan(r->loss) ? "NaN" : "infinite");
        return -1;
    }
    if ((s = cls_backward(m, b, m->grads, NULL, &masks)) != RH_OK) {
        host_fmt(why, why_len, "backward failed: %s", rh_strerror(s));
        return -1;
    }
    r->seen = steps;
    r->rate = n;
    advance(tr, c, whole);
    return 0;
}

int cls_has_validation(void *st)
{
    return ((cls_trainer *)st)->val.n > 0;
}

/* Error rate, loss and accuracy per sequence (classifiers) or token (taggers); each rank its share of the
 * sequences, the sums added. */
void cls_validate(void *st, train_ctx *c, val_result *v)
{
    cls_trainer *tr = st;
    cls_model *m = &tr->m;
    const uint32_t B = c->o->optim.batch, L = m->n_labels;
    double sums[4] = {0, 0, 0, 0}; /* failed, loss, errors, predictions */
    uint32_t mine, count;
    train_share(c, (uint32_t)tr->val.n, &mine, &count);
    for (size_t first = mine; first < (size_t)mine + count; first += B) {
        const uint32_t n = (uint32_t)(mine + count - first < B ? mine + count - first : B);
        for (uint32_t k = 0; k < n; k++)
            tr->idx[k] = (uint32_t)(first + k);
        cls_batch_fill(&tr->b, m, &tr->val, tr->idx, n);
        if (cls_forward(m, &tr->b, NULL, NULL) != RH_OK) {
            sums[0] = 1;
            break;
        }
        const uint32_t rows = m->tagger ? tr->b.T * n : n;
        sums[1] += rh_softmax_xent(NULL, tr->b.z, tr->b.targets, NULL, rows, L, 1.0f);
        for (uint32_t k = 0; k < rows; k++)
            if (tr->b.targets[k] >= 0)
                sums[2] += cls_top(tr->b.z + (size_t)k * L, L) != (uint32_t)tr->b.targets[k], sums[3]++;
    }
    par_sum_f64(sums, 4);
    if (sums[0] || sums[3] == 0)
        return;
    v->figure = sums[2] / sums[3];
    v->loss = sums[1] / sums[3];
    v->accuracy = 1.0 - v->figure;
}

int cls_train_meta(void *st, const train_ctx *c, meta_list *ml)
{
    (void)c;
    return cls_meta(ml, &((cls_trainer *)st)->m);
}

void cls_record_data(void *st, const train_ctx *c, cJSON *j)
{
    const cls_trainer *tr = st;
    seq_record_files(j, c->own, tr->train.hash, "sequences", (double)tr->train.n);
}

uint32_t cls_save(void *st, const train_ctx *c, rh_blob *blobs)
{
    cls_trainer *tr = st;
    (void)c;
    const rh_blob order = {"train.order", RH_DTYPE_I32, 1, {(uint32_t)tr->train.n, 0, 0, 0}, tr->order};
    blobs[0] = order;
    return 1;
}

int cls_restore(void *st, train_ctx *c, const rh_weights *w, const char *path)
{
    cls_trainer *tr = st;
    (void)c;
    rh_blob b;
    const int32_t i = rh_weights_find(w, "train.order");
    if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_I32 || b.ndim != 1 ||
        b.shape[0] != tr->train.n) {
        hostlog_error("%s: no order of %zu sequences (train.order): was it trained on this data?", path, tr->train.n);
        return -1;
    }
    const int32_t *ord = b.data;
    for (size_t k = 0; k < tr->train.n; k++) {
        if (ord[k] < 0 || (size_t)ord[k] >= tr->train.n) {
            hostlog_error("%s: train.order holds %d, outside 0..%zu", path, ord[k], tr->train.n - 1);
            return -1;
        }
        tr->order[k] = (uint32_t)ord[k];
    }
    return 0;
}

void cls_train_close(void *st)
{
    cls_trainer *tr = st;
    cls_batch_free(&tr->b);
    cls_set_free(&tr->train);
    cls_set_free(&tr->val);
    cls_close(&tr->m);
    free(tr->order), free(tr->idx);
}

