/* Task ctc: a speech recogniser, recurrent layers (optionally both ways in time) over stacked log-mel
 * frames with a softmax over words or characters plus the CTC blank (asr.h). It trains on a manifest of
 * recordings and transcripts (ctcdata.h), validates by the greedy error rate, and its models are
 * evaluated by word error rate (ctceval.c) and exported with both directions and their front-end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctcdata.h"
#include "hostlog.h"
#include "loop.h"
#include "par.h"
#include "tasks.h"
#include "wer.h"

static const char *const unit_names[] = {"words", "chars", NULL};

static const ctc_opts ctc_defaults = {
    .units = 1, .sample_rate = 16000, .n_mels = 40, .stack = 3, .fmin = 20, .speed = 1.0,
};

static const cli_option data_options[] = {
    {.name = "manifest", .kind = CLI_STRING, .offset = offsetof(ctc_opts, manifest), .arg = "FILE",
     .help = "training utterances: TSV, one per line, path<TAB>transcript (paths relative to the manifest)"},
    {.name = "val-manifest", .kind = CLI_STRING, .offset = offsetof(ctc_opts, val_manifest), .arg = "FILE",
     .help = "validation utterances: error rate and loss", .shown = "none"},
    {.name = "units", .kind = CLI_CHOICE, .offset = offsetof(ctc_opts, units), .arg = "words|chars",
     .help = "output symbols: the words or the characters of the transcripts", .choices = unit_names,
     .flags = OPT_ARCH},
    {0},
};
static const cli_section data_section = {"Speech (ctc)", data_options};

static const cli_option frontend_options[] = {
    {.name = "sample-rate", .kind = CLI_U32, .offset = offsetof(ctc_opts, sample_rate), .arg = "HZ",
     .help = "audio is resampled to this rate", .min = 4000, .max = 192000, .flags = OPT_ARCH},
    {.name = "n-mels", .kind = CLI_U32, .offset = offsetof(ctc_opts, n_mels), .arg = "N",
     .help = "mel channels; window 25 ms, hop 10 ms", .min = 1, .max = 256, .flags = OPT_ARCH},
    {.name = "fmin", .kind = CLI_U32, .offset = offsetof(ctc_opts, fmin), .arg = "HZ",
     .help = "lower edge of the lowest mel channel", .max = 96000, .flags = OPT_ARCH},
    {.name = "stack", .kind = CLI_U32, .offset = offsetof(ctc_opts, stack), .arg = "N",
     .help = "feature frames per model step (3: 30 ms steps)", .min = 1, .max = ASR_MAX_STACK, .flags = OPT_ARCH},
    {.name = "cepstra", .kind = CLI_U32, .offset = offsetof(ctc_opts, cepstra), .arg = "K",
     .help = "smooth every frame to its first K cepstral coefficients, dropping the ripple of the voice's pitch; "
             "0: off",
     .max = 256, .flags = OPT_ARCH},
    {.name = "norm-prior", .kind = CLI_U32, .offset = offsetof(ctc_opts, norm_prior), .arg = "FRAMES",
     .help = "normalise each file with the training set's mel statistics pooled as this many frames with its "
             "own (300: a short clip keeps its spectrum); 0: each file alone, mean 0 and variance 1 per channel",
     .max = 10000000, .flags = OPT_ARCH},
    {.name = "pad-ms", .kind = CLI_U32, .offset = offsetof(ctc_opts, pad_ms), .arg = "MS",
     .help = "hear every recording with MS ms of near-silence before and after it, so a clip trimmed to the word "
             "sounds like one in a pause; 0: none",
     .max = ASR_MAX_PAD_MS, .flags = OPT_ARCH},
    {0},
};
static const cli_section frontend_section = {"Front-end (ctc; stored in the model file)", frontend_options};

static const cli_option augment_options[] = {
    {.name = "augment-noise", .kind = CLI_NUMBER, .offset = offsetof(ctc_opts, noise_snr), .arg = "SNR",
     .help = "add white or pink noise at SNR..SNR+30 dB to half the utterances; 0: off", .max = INFINITY,
     .flags = OPT_TRAIN},
    {.name = "augment-gain", .kind = CLI_NUMBER, .offset = offsetof(ctc_opts, gain_db), .arg = "DB",
     .help = "random gain within +-DB; 0: off", .max = INFINITY, .flags = OPT_TRAIN},
    {.name = "augment-speed", .kind = CLI_NUMBER, .offset = offsetof(ctc_opts, speed), .arg = "F",
     .help = "random speed between 1/F and F, F from 1 to 2", .shown = "%s, off", .min = 1, .max = 2,
     .flags = OPT_TRAIN},
    {.name = "augment-warp", .kind = CLI_NUMBER, .offset = offsetof(ctc_opts, warp), .arg = "A",
     .help = "warp each utterance's frequency axis by a factor in 1-A..1+A, A up to 0.3 (vocal tract length "
             "perturbation); 0: off",
     .max = 0.3, .flags = OPT_TRAIN},
    {.name = "augment-reverb", .kind = CLI_NUMBER, .offset = offsetof(ctc_opts, reverb), .arg = "P",
     .help = "play each utterance, with chance P, in a simulated room: a direct path, then a reverberant tail "
             "that falls 60 dB over 0.2-1 s, 6 dB above to 6 dB below the direct sound; 0: off",
     .max = 1, .flags = OPT_TRAIN},
    {.name = "augment-mask", .kind = CLI_U32, .offset = offsetof(ctc_opts, masks), .arg = "N",
     .help = "N bands of up to a fifth of the mel channels and N spans of up to a tenth of the steps set to the "
             "mean; 0: off",
     .max = 16, .flags = OPT_TRAIN},
    {0},
};
static const cli_section augment_section = {"Augmentation (ctc; new draws every epoch)", augment_options};

/* The shared options' defaults for speech. */
static void defaults(train_opts *o)
{
    o->optim.batch = 16;
    o->optim.lr = 0.001;
    o->optim.lr_decay = 1;
    o->optim.lr_decay_after = 1; /* from the second epoch on, when --lr-decay is given */
    o->stop.max_epochs = 30;
    o->report.eval_every = 0;
    o->report.print_every = 50;
}

/* Fine-tuning (--init-from): a model that already knows the words meets a few recordings of one new voice
 * (the digits preset and two takes of every digit: twenty clips). With no validation data to choose the
 * best weights, a fixed number of passes over them, in batches that share them out evenly (the length-sorted
 * batches of a new model's 16 would leave the longest four a step of their own). Few passes: isolated words
 * teach that an utterance is one word, and past 20 epochs the voice's digit strings lose words faster than
 * its isolated digits gain. Augmentation stays off, as for a new model: on voices the digits preset never
 * heard, every kind of it but gain cost 3-6 points of clips exactly right after enrolment (presets/README.md,
 * "Enrolment"). Written once here: the --help page quotes them. */
#define FT_LR 0.001
#define FT_BATCH 10
#define FT_EPOCHS 20
#define FT_STR_(x) #x
#define FT_STR(x) FT_STR_(x)

static void finetune(train_opts *o)
{
    o->optim.lr = FT_LR;
    o->optim.batch = FT_BATCH;
    o->stop.max_epochs = FT_EPOCHS;
}

/* No options of its own: a heading on the --help page for the defaults above. */
static const cli_option finetune_options[] = {{0}};
static const cli_section finetune_section = {
    "Fine-tuning (ctc, --init-from MODEL): the model's shape, front-end and units are kept; the options\n"
    "not given take --learning-rate " FT_STR(FT_LR) ", --batch-size " FT_STR(FT_BATCH) ", --max-epochs "
    FT_STR(FT_EPOCHS),
    finetune_options};

static int ctc_check(train_opts *o, void *own, const cli_group *groups, size_t n)
{
    const ctc_opts *co = own;
    if (!co->manifest)
        return hostlog_usage("train: --manifest FILE is required"), -1;
    if (co->fmin * 2 >= co->sample_rate)
        return hostlog_usage("train: --fmin %u Hz is not below half the sample rate (%u Hz)", co->fmin,
                             co->sample_rate / 2),
               -1;
    if (co->cepstra > co->n_mels)
        return hostlog_usage("train: --cepstra %u is more than the %u mel channels", co->cepstra, co->n_mels), -1;
    /* the dropouts are options of the recurrent core, which --init-from builds as the model file says */
    if (o->model.init_from && (cli_was_given(groups, n, &o->model.dropout) ||
                               cli_was_given(groups, n, &o->model.recurrent_dropout)))
        return hostlog_usage("train: the model comes from --init-from with the dropout it was trained with: drop "
                             "--%sdropout",
                             cli_was_given(groups, n, &o->model.dropout) ? "" : "recurrent-"),
               -1;
    return 0;
}

/* ---- the model's parameters as one buffer --------------------------------------------------------------- */

/* Both directions' tensors as one table over a buffer of np[0] + np[1] floats, named "fw.x" and "bw.x" as
 * model files hold them. 0 or -1 (memory). */
static int tensor_table(const asr_model *m, rh_tensor **tensors, char (**names)[RH_MAX_NAME + 8], uint32_t *count)
{
    uint32_t n = 0, k = 0;
    for (int d = 0; d < asr_dirs(m); d++)
        n += m->dir[d].info.num_tensors;
    *tensors = calloc(n + 1, sizeof **tensors);
    *names = calloc(n + 1, sizeof **names);
    if (!*tensors || !*names)
        return -1;
    uint64_t base = 0;
    for (int d = 0; d < asr_dirs(m); d++) {
        const host_model *hm = &m->dir[d];
        for (uint32_t i = 0; i < hm->info.num_tensors; i++, k++) {
            host_fmt((*names)[k], RH_MAX_NAME + 8, "%s%s", d ? "bw." : "fw.", hm->tensors[i].name);
            (*tensors)[k] = hm->tensors[i];
            (*tensors)[k].name = (*names)[k];
            (*tensors)[k].offset += base;
        }
        base += hm->info.num_params;
    }
    *count = n;
    return 0;
}

/* ---- training ------------------------------------------------------------------------------------------ */

/* The model: from the file a training continues, or new from the options and the training transcripts. */
static int make_model(ctc_trainer *tr, train_ctx *c, const char *from_path)
{
    const ctc_opts *co = c->own;
    opt_model *om = &c->o->model;
    char why[1024];
    int rc;
    if (from_path) {
        if ((rc = asr_open(&tr->m, c->reg, from_path, why, sizeof why)) != EXIT_OK) {
            hostlog_error("%s", why);
            return rc;
        }
        om->cell = tr->m.spec.model_id, om->hidden = tr->m.spec.hidden_size, om->layers = tr->m.spec.num_layers;
        return EXIT_OK;
    }
    char **texts = malloc((tr->mf.n + 1) * sizeof *texts);
    if (!texts) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < tr->mf.n; i++)
        texts[i] = tr->mf.v[i].text;
    const int urc = asr_units_from_texts(&tr->m, texts, tr->mf.n, co->units == 0, why, sizeof why);
    free(texts);
    if (urc != 0) {
        hostlog_error("%s: %s", co->manifest, why);
        return EXIT_FAIL;
    }
    asr_default_frontend(&tr->m.fe, &tr->m.stack, (int)co->sample_rate);
    tr->m.fe.n_mels = (int)co->n_mels;
    tr->m.fe.n_cepstra = (int)co->cepstra;
    tr->m.fe.fmin = co->fmin;
    tr->m.stack = co->stack;
    tr->m.pad_ms = co->pad_ms;
    tr->m.bidirectional = om->bidirectional;
    host_fmt(tr->m.spec.model_id, sizeof tr->m.spec.model_id, "%s", om->cell);
    tr->m.spec.hidden_size = om->hidden, tr->m.spec.num_layers = om->layers;
    opt_model_options(om, tr->m.spec.options, sizeof tr->m.spec.options);
    if ((rc = asr_create(&tr->m, c->reg, why, sizeof why)) != EXIT_OK) {
        hostlog_error("%s", why);
        return rc;
    }
    for (int d = 0; d < asr_dirs(&tr->m); d++)
        host_model_init_params(&tr->m.dir[d], c->o->optim.seed + (uint64_t)d * 0x9e3779b97f4a7c15ULL);
    return EXIT_OK;
}

static int ctc_open(void *st, train_ctx *c, const rh_weights *from, const char *from_path)
{
    ctc_trainer *tr = st;
    const ctc_opts *co = c->own;
    const train_opts *o = c->o;
    char err[512];
    int rc;
    tr->co = co, tr->rng = c->rng;
    if (manifest_read(&tr->mf, co->manifest, err, sizeof err) != 0 ||
        (co->val_manifest && manifest_read(&tr->vmf, co->val_manifest, err, sizeof err) != 0)) {
        hostlog_error("%s", err);
        return EXIT_FAIL;
    }
    if ((rc = make_model(tr, c, from ? from_path : NULL)) != EXIT_OK)
        return rc;
    if (ctc_load_set(&tr->train, &tr->mf, co->manifest, &tr->m, o->report.quiet, c->rank == 0) != 0 ||
        (co->val_manifest && ctc_load_set(&tr->val, &tr->vmf, co->val_manifest, &tr->m, o->report.quiet, c->rank == 0) != 0))
        return EXIT_FAIL;
    /* one flat parameter buffer over both directions: one optimizer, one gradient norm */
    for (int d = 0; d < asr_dirs(&tr->m); d++)
        tr->np[d] = tr->m.dir[d].info.num_params;
    tr->P = tr->np[0] + tr->np[1];
    tr->params = malloc(tr->P * sizeof(float));
    tr->grads = malloc(tr->P * sizeof(float));
    if (!tr->params || !tr->grads || ctc_alloc_buffers(tr, o->optim.batch) != 0 ||
        tensor_table(&tr->m, &tr->tensors, &tr->names, &tr->num_tensors) != 0 ||
        (!from && co->norm_prior > 0 && ctc_norm_stats(tr, co->norm_prior, o->report.quiet) != 0)) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    for (int d = 0; d < asr_dirs(&tr->m); d++) {
        tr->pdir[d] = tr->params + (d ? tr->np[0] : 0);
        tr->gdir[d] = tr->grads + (d ? tr->np[0] : 0);
        memcpy(tr->pdir[d], tr->m.dir[d].params, tr->np[d] * sizeof(float));
    }
    if (ctc_batches(tr, o->optim.batch) != 0) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    c->params = tr->params, c->grads = tr->grads, c->num_params = tr->P;
    c->tensors = tr->tensors, c->num_tensors = tr->num_tensors;
    c->steps_per_epoch = c->epoch_units = tr->n_batches;
    c->data_hash = tr->train.hash;
    c->data_name = co->manifest;
    return EXIT_OK;
}

static void ctc_describe(void *st, const train_ctx *c, char *buf, size_t len)
{
    const ctc_trainer *tr = st;
    const opt_model *om = &c->o->model;
    host_fmt(buf, len, "ctc %s%s (%u x %u, %zu parameters) over %u %s + blank; %zu utterances, %u steps per epoch",
             tr->m.bidirectional ? "bidirectional " : "", om->cell, om->layers, om->hidden, tr->P, tr->m.n_units,
             tr->m.words ? "words" : "characters", tr->train.n, tr->n_batches);
}

static int ctc_step(void *st, train_ctx *c, step_result *r, char *why, size_t why_len)
{
    ctc_trainer *tr = st;
    const uint32_t batch = c->o->optim.batch, first = tr->batches[c->pos];
    const uint32_t whole = (uint32_t)(tr->train.n - first < batch ? tr->train.n - first : batch);
    for (uint32_t b = 0; b < whole; b++) /* every rank draws the whole batch's */
        tr->seeds[b] = rh_rng_next(c->rng);
    uint32_t mine, B;
    train_share(c, whole, &mine, &B);
    /* the dropout masks, drawn (when there is dropout) for the whole batch too */
    const rh_dropout_masks masks = {tr->m.dir[0].dropout ? rh_rng_next(c->rng) : 0, mine};
    if (B == 0) { /* another rank has the batch's last utterances */
        memset(tr->grads, 0, tr->P * sizeof *tr->grads);
        r->loss = 0, r->weight = 0;
        goto moved;
    }
    const uint32_t T = ctc_make_batch(tr, &tr->train, tr->order + first + mine, B, tr->seeds + mine);
    rh_status st_ = asr_forward(&tr->m, tr->logits, tr->ws, tr->scratch, tr->pdir, tr->x, tr->lengths, T, B, &masks);
    if (st_ != RH_OK) {
        host_fmt(why, why_len, "forward failed: %s", rh_strerror(st_));
        return -1;
    }
    const double total = rh_ctc_loss_batch(tr->dlogits, tr->logits, tr->labels, tr->label_offsets, tr->lengths, T, B,
                                           tr->K, 0, (float)(1.0 / B), tr->ctc_scratch);
    r->loss = total / B;
    r->weight = B;
    if (!isfinite(r->loss)) {
        host_fmt(why, why_len, "the loss is %s", isnan(r->loss) ? "NaN" : "infinite");
        return -1;
    }
    memset(tr->grads, 0, tr->P * sizeof *tr->grads);
    st_ = asr_backward(&tr->m, tr->gdir, tr->ws, tr->scratch, tr->pdir, tr->x, tr->lengths, tr->dlogits, T, B,
                       &masks);
    if (st_ != RH_OK) {
        host_fmt(why, why_len, "backward failed: %s", rh_strerror(st_));
        return -1;
    }
    uint64_t frames = 0;
    for (uint32_t b = 0; b < B; b++)
        frames += tr->lengths[b];
    r->seen = frames;
    r->rate = (double)frames * tr->m.stack * tr->m.fe.hop_length / (double)tr->m.fe.sample_rate; /* seconds */
moved:
    if (++c->pos >= tr->n_batches) {
        c->pos = 0, c->epoch++;
        ctc_shuffle_batches(tr);
    }
    return 0;
}

static int ctc_has_validation(void *st)
{
    return ((ctc_trainer *)st)->val.n > 0;
}

/* Greedy error rate (word or character edits per reference unit) and loss per utterance; each rank its
 * share of the utterances, the sums added over the ranks. */
static void ctc_validate(void *st, train_ctx *c, val_result *v)
{
    ctc_trainer *tr = st;
    const uttset *vs = &tr->val;
    const uint32_t batch = c->o->optim.batch;
    double sums[4] = {0, 0, 0, 0}; /* failed, loss, edits, reference units */
    int32_t *hyp = malloc((tr->Tmax + 1) * sizeof *hyp);
    uint32_t *idx = malloc(batch * sizeof *idx), mine, count;
    train_share(c, (uint32_t)vs->n, &mine, &count);
    if (!hyp || !idx)
        sums[0] = 1;
    for (size_t first = mine; !sums[0] && first < (size_t)mine + count; first += batch) {
        const uint32_t B = (uint32_t)(mine + count - first < batch ? mine + count - first : batch);
        for (uint32_t b = 0; b < B; b++)
            idx[b] = (uint32_t)(first + b);
        const uint32_t T = ctc_make_batch(tr, vs, idx, B, NULL);
        if (asr_forward(&tr->m, tr->logits, tr->ws, tr->scratch, tr->pdir, tr->x, tr->lengths, T, B, NULL) != RH_OK) {
            sums[0] = 1;
            break;
        }
        sums[1] += rh_ctc_loss_batch(NULL, tr->logits, tr->labels, tr->label_offsets, tr->lengths, T, B, tr->K, 0,
                                     1.0f, tr->ctc_scratch);
        for (uint32_t b = 0; b < B; b++) {
            /* frames of b are strided in the batch: gather them */
            for (uint32_t t = 0; t < tr->lengths[b]; t++)
                memcpy(tr->one + (size_t)t * tr->K, tr->logits + ((size_t)t * B + b) * tr->K, tr->K * sizeof(float));
            const uint32_t n = rh_ctc_greedy(hyp, NULL, NULL, NULL, tr->one, tr->lengths[b], tr->K, 0);
            const utt *u = &vs->v[idx[b]];
            sums[2] += (double)asr_edit_distance(hyp, n, u->labels, u->L);
            sums[3] += u->L;
        }
    }
    free(hyp), free(idx);
    par_sum_f64(sums, 4);
    if (sums[0])
        return;
    v->loss = sums[1] / (double)vs->n;
    v->figure = sums[3] > 0 ? sums[2] / sums[3] : 0.0;
}

static int ctc_meta(void *st, const train_ctx *c, meta_list *ml)
{
    (void)c;
    return asr_meta(ml, &((ctc_trainer *)st)->m);
}

static void ctc_record_data(void *st, const train_ctx *c, cJSON *j)
{
    const ctc_trainer *tr = st;
    const ctc_opts *co = c->own;
    const char *slash = strrchr(co->manifest, '/');
    char hash[32];
    cJSON_AddStringToObject(j, "manifest", slash && slash[1] ? slash + 1 : co->manifest);
    host_fmt(hash, sizeof hash, "%016llx", (unsigned long long)tr->train.hash);
    cJSON_AddStringToObject(j, "data_hash", hash);
    cJSON_AddNumberToObject(j, "utterances", (double)tr->train.n);
}

static uint32_t ctc_save(void *st, const train_ctx *c, rh_blob *blobs)
{
    ctc_trainer *tr = st;
    (void)c;
    const rh_blob order = {"train.batches", RH_DTYPE_I32, 1, {tr->n_batches, 0, 0, 0}, tr->batches};
    blobs[0] = order;
    return 1;
}

static int ctc_restore(void *st, train_ctx *c, const rh_weights *w, const char *path)
{
    ctc_trainer *tr = st;
    const uint32_t batch = c->o->optim.batch;
    rh_blob b;
    const int32_t i = rh_weights_find(w, "train.batches");
    if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_I32 || b.ndim != 1 ||
        b.shape[0] != tr->n_batches) {
        hostlog_error("%s: no batch order for %u batches (train.batches): was it trained on this manifest?", path,
                      tr->n_batches);
        return -1;
    }
    const int32_t *ord = b.data;
    for (uint32_t k = 0; k < tr->n_batches; k++) {
        if (ord[k] < 0 || (size_t)ord[k] >= tr->train.n || ord[k] % batch) {
            hostlog_error("%s: train.batches holds %d, not a batch start", path, ord[k]);
            return -1;
        }
        tr->batches[k] = (uint32_t)ord[k];
    }
    return 0;
}

static void ctc_close(void *st)
{
    ctc_trainer *tr = st;
    asr_close(&tr->m);
    manifest_free(&tr->mf);
    manifest_free(&tr->vmf);
    ctc_free_set(&tr->train);
    ctc_free_set(&tr->val);
    spec_free(tr->sp);
    spec_free(tr->sp_warp);
    room_free(tr->room);
    free(tr->order), free(tr->batches), free(tr->params), free(tr->grads), free(tr->tensors), free(tr->names);
    free(tr->x), free(tr->logits), free(tr->dlogits), free(tr->ws[0]), free(tr->ws[1]), free(tr->scratch);
    free(tr->mel), free(tr->wave), free(tr->one), free(tr->ctc_scratch), free(tr->labels), free(tr->label_offsets);
    free(tr->lengths), free(tr->seeds);
}

static const cli_section *const sections[] = {&data_section, &frontend_section, &augment_section, &finetune_section,
                                              NULL};

static const task_train train = {
    .about = "speech recognition, recurrent layers over log-mels with a CTC output, trained on a manifest of "
             "recordings and their transcripts",
    .usage = "--manifest FILE",
    .sections = sections,
    .opts_size = sizeof(ctc_opts),
    .opts_defaults = &ctc_defaults,
    .defaults = defaults,
    .finetune = finetune,
    .record = "batch-size optimizer learning-rate lr-decay grad-clip weight-decay augment-noise augment-gain "
              "augment-speed augment-mask augment-warp augment-reverb seed dropout lr-decay-after clip-value recurrent-dropout",
    .strict = 1,
    .figure = "error_rate",
    .rate_unit = "x real time",
    .data_differs = "the recordings or transcripts differ",
    .rng_salt = 0x6374635f74726e55ULL,
    .validate_epochs = 1,
    .state_size = sizeof(ctc_trainer),
    .check = ctc_check,
    .open = ctc_open,
    .describe = ctc_describe,
    .step = ctc_step,
    .has_validation = ctc_has_validation,
    .validate = ctc_validate,
    .meta = ctc_meta,
    .record_data = ctc_record_data,
    .save = ctc_save,
    .restore = ctc_restore,
    .close = ctc_close,
};

/* ---- export: both directions, the padding settable ------------------------------------------------------- */

typedef struct ctc_export_opts {
    uint32_t pad_ms; /* UINT32_MAX: the model's own */
} ctc_export_opts;

static const ctc_export_opts export_defaults = {UINT32_MAX};

static const cli_option export_options[] = {
    {.name = "pad-ms", .kind = CLI_U32, .offset = offsetof(ctc_export_opts, pad_ms), .arg = "MS",
     .help = "speech models: the near-silence the front-end hears before and after every recording, 0 for none",
     .shown = "the model's own", .max = ASR_MAX_PAD_MS},
    {0},
};
static const cli_section export_section = {NULL, export_options};

typedef struct exported {
    asr_model m;
    float *params;
    rh_tensor *tensors;
    char (*names)[RH_MAX_NAME + 8];
} exported;

static void export_close(export_weights *x)
{
    exported *e = x->priv;
    asr_close(&e->m);
    free(e->params), free(e->tensors), free(e->names);
}

static int export_open(export_weights *x, const char *path, plugin_registry *r, char *why, size_t why_len)
{
    exported *e = x->priv;
    const int rc = asr_open(&e->m, r, path, why, why_len);
    if (rc != EXIT_OK)
        return rc;
    uint64_t n = 0;
    for (int d = 0; d < asr_dirs(&e->m); d++)
        n += e->m.dir[d].info.num_params;
    if (!(e->params = malloc((n + 1) * sizeof *e->params)) ||
        tensor_table(&e->m, &e->tensors, &e->names, &x->num_tensors) != 0) {
        host_fmt(why, why_len, "out of memory");
        export_close(x);
        return EXIT_FAIL;
    }
    uint64_t at = 0;
    for (int d = 0; d < asr_dirs(&e->m); d++) {
        memcpy(e->params + at, e->m.dir[d].params, e->m.dir[d].info.num_params * sizeof(float));
        at += e->m.dir[d].info.num_params;
    }
    x->tensors = e->tensors, x->params = e->params, x->num_params = n;
    return EXIT_OK;
}

/* The front-end description fe (JSON) with pad_ms set (removed when 0); NULL when memory runs out. */
static char *with_pad(const char *fe, uint32_t pad_ms)
{
    cJSON *j = cJSON_Parse(fe);
    char *s = NULL;
    if (j) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "pad_ms");
        if (pad_ms == 0 || cJSON_AddNumberToObject(j, "pad_ms", pad_ms))
            s = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(j);
    return s;
}

static const char *export_meta(const export_weights *x, const void *opts, const char *key, const char *value,
                               char **owned)
{
    const ctc_export_opts *o = opts;
    (void)x;
    if (o->pad_ms == UINT32_MAX || strcmp(key, "rnnhost.frontend") != 0)
        return value;
    return *owned = with_pad(value, o->pad_ms);
}

static void export_describe(const export_weights *x, const void *opts, char *buf, size_t len)
{
    const ctc_export_opts *o = opts;
    const exported *e = x->priv;
    host_fmt(buf, len, ", padding %u ms", o->pad_ms != UINT32_MAX ? o->pad_ms : e->m.pad_ms);
}

static const task_export export_ops = {
    .section = &export_section,
    .opts_size = sizeof(ctc_export_opts),
    .opts_defaults = &export_defaults,
    .priv_size = sizeof(exported),
    .open = export_open,
    .meta = export_meta,
    .describe = export_describe,
    .close = export_close,
};

const task_ops task_ctc = {
    .name = "ctc",
    .noun = "a speech recogniser (CTC)",
    .train = &train,
    .eval = &ctc_eval,
    .export = &export_ops,
};
