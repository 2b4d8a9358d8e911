/* rnnhost train --task ctc: a recurrent model over log-mel frames trained with the CTC loss.
 *
 * The recordings of the manifest are decoded once, resampled to the model's rate and kept as 16-bit
 * samples; features are made per batch, so augmentation (speed, gain, noise) gives new input every epoch.
 * Utterances are sorted by length and cut into batches of neighbours, so padding stays small; the order of
 * the batches is shuffled every epoch. Everything the next step depends on (weights, optimizer moments,
 * RNG, batch order, position) goes into checkpoints, so --resume continues exactly.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <samplerate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "blas.h"
#include "asr.h"
#include "wer.h"
#include "cliargs.h"
#include "commands.h"
#include "hostlog.h"
#include "manifest.h"
#include "progress.h"
#include "interrupt.h"
#include "trainutil.h"

#define MAX_UTTERANCE_SECONDS 60.0

typedef struct ctc_opts {
    const char *manifest, *val_manifest, *units, *cell, *optimizer, *out, *ckpt_dir, *resume, *init_from, *log_json,
        *plugin_path;
    uint32_t hidden, layers, batch, sample_rate, n_mels, stack, norm_prior, pad_ms, cepstra, fmin;
    int bidirectional, threads, quiet;
    double lr, lr_decay, grad_clip, time_budget, noise_snr, gain_db, speed, warp;
    uint32_t masks; /* SpecAugment: this many frequency and time masks */
    uint64_t max_epochs, max_steps, eval_every, ckpt_every, print_every, seed;
    int given_arch; /* an architecture or front-end option was given (refused with --resume/--init-from) */
    int given_train; /* an optimisation option was given (refused with --resume) */
} ctc_opts;

typedef struct utt {
    int16_t *pcm;
    size_t n;        /* samples */
    int32_t *labels; /* (L) 1-based units */
    uint32_t L, need; /* need: the fewest model steps CTC can align the labels to */
} utt;

typedef struct uttset {
    utt *v;
    size_t n;
    uint64_t hash;
} uttset;

typedef struct ctc_trainer {
    ctc_opts o;
    plugin_registry reg;
    asr_model m;
    uttset train, val;
    uint32_t *order; /* utterances sorted by length */
    uint32_t *batches, n_batches; /* batch k = order[batches[k] .. batches[k] + batch) in this epoch's order */
    float *params, *grads, *opt_state, *pdir[2], *gdir[2];
    size_t np[2], P;
    rh_optimizer opt;
    rh_rng rng;
    uint64_t step, epoch;
    size_t pos; /* next batch of this epoch */
    double best_val, last_val, elapsed_before;
    /* batch buffers, sized for the longest utterance */
    uint32_t Tmax, D, K;
    float *x, *logits, *dlogits, *ws[2], *scratch, *mel, *wave, *one;
    double *ctc_scratch;
    int32_t *labels;
    uint32_t *label_offsets, *lengths;
    spectrogram *sp, *sp_warp; /* sp_warp: --augment-warp's, rebuilt per utterance; sp stays unwarped */
    FILE *log;
    char last_ckpt[4096];
} ctc_trainer;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rnnhost train --task ctc --manifest FILE [OPTIONS]\n"
            "\n"
            "Trains a speech recogniser: a recurrent model over log-mel frames with a CTC output layer.\n"
            "A manifest is TSV, one utterance per line: path<TAB>transcript (paths relative to the manifest).\n"
            "Language and music models have other options: 'rnnhost train --help'.\n"
            "\n"
            "Data\n"
            "  --manifest FILE           training utterances\n"
            "  --val-manifest FILE       validation utterances: error rate and loss; -o is then the best\n"
            "                            model on them (default: none)\n"
            "  --units words|chars       output symbols: the words or the characters of the transcripts\n"
            "                            (default: chars)\n"
            "Front-end (stored in the model file)\n"
            "  --sample-rate HZ          audio is resampled to this rate (default: 16000)\n"
            "  --n-mels N                mel channels (default: 40); window 25 ms, hop 10 ms\n"
            "  --fmin HZ                 lower edge of the lowest mel channel (default: 20)\n"
            "  --stack N                 feature frames per model step (default: 3, 30 ms steps)\n"
            "  --cepstra K               smooth every frame to its first K cepstral coefficients, dropping\n"
            "                            the ripple of the voice's pitch (default: 0, off)\n"
            "  --norm-prior FRAMES       normalise each file with the training set's mel statistics pooled as\n"
            "                            this many frames with its own (300: a short clip keeps its spectrum;\n"
            "                            default 0: each file alone, mean 0 and variance 1 per channel)\n"
            "  --pad-ms MS               hear every recording with MS ms of near-silence before and after it,\n"
            "                            so a clip trimmed to the word sounds like one in a pause; 0: none\n"
            "                            (default: 0)\n"
            "Model\n"
            "  --cell ID                 rnn, gru, lstm or any plugin's model id (default: gru)\n"
            "  --rnn-size N              hidden units per layer (default: 128)\n"
            "  --num-layers N            stacked layers (default: 2)\n"
            "  --bidirectional           a second model reads time backwards (offline transcription)\n"
            "  --init-from MODEL         start from the weights of a ctc model (a path or preset name)\n"
            "Augmentation (new draws every epoch)\n"
            "  --augment-noise SNR       add white or pink noise at SNR..SNR+30 dB to half the utterances;\n"
            "                            0: off (default: 0)\n"
            "  --augment-gain DB         random gain within +-DB; 0: off (default: 0)\n"
            "  --augment-speed F         random speed between 1/F and F (default: 1, off)\n"
            "  --augment-warp A          warp each utterance's frequency axis by a factor in 1-A..1+A\n"
            "                            (vocal tract length perturbation; default: 0, off)\n"
            "  --augment-mask N          N bands of up to a fifth of the mel channels and N spans of up to\n"
            "                            a tenth of the steps set to the mean (default: 0, off)\n"
            "Optimisation\n"
            "  --batch-size B            utterances per step (default: 16)\n"
            "  --optimizer NAME          sgd, momentum, rmsprop or adam (default: adam)\n"
            "  --learning-rate LR        (default: 0.001)\n"
            "  --lr-decay F              multiply the rate by F after every epoch; 1: never (default: 1)\n"
            "  --grad-clip NORM          clip the global gradient norm; 0 is off (default: 5)\n"
            "  --seed S                  initialisation, batch order and augmentation (default: 1)\n"
            "  --threads N               threads for the model and BLAS; 0: every core (default: 0)\n"
            "Stopping (the first limit reached ends the training; with none, only Ctrl-C does)\n"
            "  --max-epochs N            0: no limit (default: 30 unless --max-steps or --time-budget is\n"
            "                            given, then 0)\n"
            "  --max-steps N             0: no limit (default: 0)\n"
            "  --time-budget D           wall time, e.g. 90s, 10m, 2h; 0: no limit (default: 0)\n"
            "Reporting and files\n"
            "  -o, --out FILE            the model: the best on validation, else the last (default:\n"
            "                            ctc.safetensors); a file: '-', a device or a FIFO is refused\n"
            "  --checkpoint-dir DIR      (default: checkpoints)\n"
            "  --checkpoint-every N      steps between checkpoints; 0: only at the end and on Ctrl-C\n"
            "                            (default: 0)\n"
            "  --eval-every N            steps between validations; 0: every epoch (default: 0)\n"
            "  --resume CKPT             continue a training exactly where the checkpoint left it\n"
            "  --log-json FILE|-         one JSON object per step and per validation ('-': stdout)\n"
            "  --print-every N           progress line every N steps when stderr is not a terminal; 0 or\n"
            "                            1: every step (default: 50)\n"
            "  -q, --quiet               no progress\n"
            "  --plugin-path PATH        colon-separated plugin directories searched first\n"
            "  -h, --help                this help\n"
            "\n"
            "Ctrl-C writes a checkpoint and exits 130.\n");
}

static int parse_options(ctc_opts *o, int argc, char **argv)
{
    enum {
        O_TASK = 256, O_MANIFEST, O_VAL, O_UNITS, O_RATE, O_MELS, O_STACK, O_CELL, O_SIZE, O_LAYERS, O_BI, O_INIT,
        O_NOISE, O_GAIN, O_SPEED, O_WARP, O_MASK, O_BATCH, O_OPTIM, O_LR, O_DECAY, O_CLIP, O_SEED, O_THREADS, O_EPOCHS, O_STEPS,
        O_BUDGET, O_CKPT_DIR, O_CKPT_EVERY, O_EVAL, O_RESUME, O_LOG, O_PRINT, O_PLUGIN, O_NORM, O_PAD, O_CEP, O_FMIN
    };
    static const struct option lo[] = {
        {"task", required_argument, NULL, O_TASK},         {"manifest", required_argument, NULL, O_MANIFEST},
        {"val-manifest", required_argument, NULL, O_VAL},  {"units", required_argument, NULL, O_UNITS},
        {"sample-rate", required_argument, NULL, O_RATE},  {"n-mels", required_argument, NULL, O_MELS},
        {"stack", required_argument, NULL, O_STACK},       {"cell", required_argument, NULL, O_CELL},
        {"norm-prior", required_argument, NULL, O_NORM},  {"pad-ms", required_argument, NULL, O_PAD},
        {"cepstra", required_argument, NULL, O_CEP},       {"fmin", required_argument, NULL, O_FMIN},
        {"rnn-size", required_argument, NULL, O_SIZE},     {"num-layers", required_argument, NULL, O_LAYERS},
        {"bidirectional", no_argument, NULL, O_BI},        {"init-from", required_argument, NULL, O_INIT},
        {"augment-noise", required_argument, NULL, O_NOISE}, {"augment-gain", required_argument, NULL, O_GAIN},
        {"augment-speed", required_argument, NULL, O_SPEED}, {"augment-warp", required_argument, NULL, O_WARP},
        {"augment-mask", required_argument, NULL, O_MASK}, {"batch-size", required_argument, NULL, O_BATCH},
        {"optimizer", required_argument, NULL, O_OPTIM},   {"learning-rate", required_argument, NULL, O_LR},
        {"lr-decay", required_argument, NULL, O_DECAY},    {"grad-clip", required_argument, NULL, O_CLIP},
        {"seed", required_argument, NULL, O_SEED},         {"threads", required_argument, NULL, O_THREADS},
        {"max-epochs", required_argument, NULL, O_EPOCHS}, {"max-steps", required_argument, NULL, O_STEPS},
        {"time-budget", required_argument, NULL, O_BUDGET}, {"checkpoint-dir", required_argument, NULL, O_CKPT_DIR},
        {"checkpoint-every", required_argument, NULL, O_CKPT_EVERY}, {"eval-every", required_argument, NULL, O_EVAL},
        {"resume", required_argument, NULL, O_RESUME},     {"log-json", required_argument, NULL, O_LOG},
        {"print-every", required_argument, NULL, O_PRINT}, {"plugin-path", required_argument, NULL, O_PLUGIN},
        {"out", required_argument, NULL, 'o'},             {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},                  {NULL, 0, NULL, 0}};
    o->units = "chars", o->cell = "gru", o->optimizer = "adam", o->out = "ctc.safetensors", o->ckpt_dir = "checkpoints";
    o->hidden = 128, o->layers = 2, o->batch = 16, o->sample_rate = 16000, o->n_mels = 40, o->stack = 3, o->fmin = 20;
    o->lr = 0.001, o->lr_decay = 1.0, o->grad_clip = 5.0, o->speed = 1.0, o->seed = 1, o->print_every = 50;
    uint32_t u32;
    int c, epochs_given = 0;
    opterr = 0;
    optind = 0; /* 0: glibc re-reads the option ordering, so options may follow the files */
    while ((c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_TASK:
            if (strcmp(optarg, "ctc") != 0)
                return hostlog_usage("this is the ctc trainer; --task %s is another", optarg), -1;
            break;
        case O_MANIFEST: o->manifest = optarg; break;
        case O_VAL: o->val_manifest = optarg; break;
        case O_UNITS:
            if (strcmp(optarg, "words") && strcmp(optarg, "chars"))
                return hostlog_usage("--units is words or chars, not '%s'", optarg), -1;
            o->units = optarg, o->given_arch = 1;
            break;
        case O_RATE: bad = cli_u32(&o->sample_rate, optarg, "--sample-rate", 4000, 192000); o->given_arch = 1; break;
        case O_MELS: bad = cli_u32(&o->n_mels, optarg, "--n-mels", 1, 256); o->given_arch = 1; break;
        case O_STACK: bad = cli_u32(&o->stack, optarg, "--stack", 1, ASR_MAX_STACK); o->given_arch = 1; break;
        case O_NORM: bad = cli_u32(&o->norm_prior, optarg, "--norm-prior", 0, 10000000); o->given_arch = 1; break;
        case O_PAD: bad = cli_u32(&o->pad_ms, optarg, "--pad-ms", 0, ASR_MAX_PAD_MS); o->given_arch = 1; break;
        case O_FMIN: bad = cli_u32(&o->fmin, optarg, "--fmin", 0, 96000); o->given_arch = 1; break;
        case O_CEP: bad = cli_u32(&o->cepstra, optarg, "--cepstra", 0, 256); o->given_arch = 1; break;
        case O_CELL: o->cell = optarg; o->given_arch = 1; break;
        case O_SIZE: bad = cli_u32(&o->hidden, optarg, "--rnn-size", 1, 1u << 16); o->given_arch = 1; break;
        case O_LAYERS: bad = cli_u32(&o->layers, optarg, "--num-layers", 1, 64); o->given_arch = 1; break;
        case O_BI: o->bidirectional = 1; o->given_arch = 1; break;
        case O_INIT: o->init_from = optarg; break;
        case O_NOISE: bad = cli_double(&o->noise_snr, optarg, "--augment-noise"); o->given_train = 1; break;
        case O_GAIN: bad = cli_double(&o->gain_db, optarg, "--augment-gain"); o->given_train = 1; break;
        case O_SPEED:
            bad = cli_double(&o->speed, optarg, "--augment-speed");
            if (!bad && (o->speed < 1.0 || o->speed > 2.0))
                return hostlog_usage("--augment-speed is between 1 and 2, not %s", optarg), -1;
            o->given_train = 1;
            break;
        case O_WARP:
            bad = cli_double(&o->warp, optarg, "--augment-warp");
            if (!bad && !(o->warp >= 0.0 && o->warp <= 0.3))
                return hostlog_usage("--augment-warp is between 0 and 0.3, not %s", optarg), -1;
            o->given_train = 1;
            break;
        case O_MASK: bad = cli_u32(&o->masks, optarg, "--augment-mask", 0, 16); o->given_train = 1; break;
        case O_BATCH: bad = cli_u32(&o->batch, optarg, "--batch-size", 1, 4096); o->given_train = 1; break;
        case O_OPTIM:
            if (cli_optimizer_kind(optarg) < 0)
                return hostlog_usage("--optimizer is sgd, momentum, rmsprop or adam, not '%s'", optarg), -1;
            o->optimizer = optarg, o->given_train = 1;
            break;
        case O_LR: bad = cli_double(&o->lr, optarg, "--learning-rate"); o->given_train = 1; break;
        case O_DECAY: bad = cli_double(&o->lr_decay, optarg, "--lr-decay"); o->given_train = 1; break;
        case O_CLIP: bad = cli_double(&o->grad_clip, optarg, "--grad-clip"); o->given_train = 1; break;
        case O_SEED: bad = cli_u64(&o->seed, optarg, "--seed"); o->given_train = 1; break;
        case O_THREADS: bad = cli_u32(&u32, optarg, "--threads", 0, 256); o->threads = (int)u32; break;
        case O_EPOCHS: bad = cli_u64(&o->max_epochs, optarg, "--max-epochs"), epochs_given = 1; break;
        case O_STEPS: bad = cli_u64(&o->max_steps, optarg, "--max-steps"); break;
        case O_BUDGET: bad = cli_duration(&o->time_budget, optarg); break;
        case O_CKPT_DIR: o->ckpt_dir = optarg; break;
        case O_CKPT_EVERY: bad = cli_u64(&o->ckpt_every, optarg, "--checkpoint-every"); break;
        case O_EVAL: bad = cli_u64(&o->eval_every, optarg, "--eval-every"); break;
        case O_RESUME: o->resume = optarg; break;
        case O_LOG: o->log_json = optarg; break;
        case O_PRINT:
            bad = cli_u64(&o->print_every, optarg, "--print-every");
            if (!bad && o->print_every == 0)
                o->print_every = 1;
            break;
        case O_PLUGIN: o->plugin_path = optarg; break;
        case 'o': o->out = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default:
            hostlog_usage("unknown option '%s'", argv[optind - 1]);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (optind < argc)
        return hostlog_usage("unexpected argument '%s'", argv[optind]), -1;
    if (!o->manifest)
        return hostlog_usage("--manifest FILE is required"), -1;
    if (o->fmin * 2 >= o->sample_rate)
        return hostlog_usage("--fmin %u Hz is not below half the sample rate (%u Hz)", o->fmin, o->sample_rate / 2), -1;
    if (o->cepstra > o->n_mels)
        return hostlog_usage("--cepstra %u is more than the %u mel channels", o->cepstra, o->n_mels), -1;
    if (o->resume && o->init_from)
        return hostlog_usage("--resume and --init-from exclude each other"), -1;
    if (train_check_output(o->out) != 0)
        return -1;
    if ((o->resume || o->init_from) && o->given_arch)
        return hostlog_usage("the model comes from %s: drop the architecture and front-end options",
                             o->resume ? "--resume" : "--init-from"), -1;
    if (o->resume && o->given_train)
        return hostlog_usage("--resume continues with the checkpoint's optimisation and augmentation options: "
                             "drop them"), -1;
    if (!epochs_given && !o->max_steps && !(o->time_budget > 0))
        o->max_epochs = 30; /* an explicit --max-epochs 0 means no limit, as for the other trainers */
    return 0;
}

/* ---- data --------------------------------------------------------------------------------------------- */

static void uttset_free(uttset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].pcm), free(s->v[i].labels);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Decodes every recording of a manifest and encodes its transcript. Utterances too short for their
 * labels are dropped with a count (a recording cut off, or a transcript of the wrong file). */
static int load_set(uttset *s, const manifest *mf, const char *name, const asr_model *m, int quiet)
{
    char err[512];
    memset(s, 0, sizeof *s);
    s->v = calloc(mf->n, sizeof *s->v);
    if (!s->v) {
        hostlog_error("out of memory");
        return -1;
    }
    s->hash = TRAIN_HASH_SEED;
    size_t dropped = 0;
    double seconds = 0, shown = train_now();
    for (size_t i = 0; i < mf->n; i++) {
        const manifest_entry *e = &mf->v[i];
        float *x;
        size_t n;
        if (asr_read_file(&x, &n, e->path, m->fe.sample_rate, MAX_UTTERANCE_SECONDS, err, sizeof err) != 0) {
            hostlog_error("%s:%zu: %s", name, e->line, err);
            return -1;
        }
        utt *u = &s->v[s->n];
        size_t L = strlen(e->text) + 1;
        u->labels = malloc(L * sizeof *u->labels);
        u->pcm = malloc((n + 1) * sizeof *u->pcm);
        if (!u->labels || !u->pcm) {
            free(x), free(u->labels), free(u->pcm);
            hostlog_error("out of memory");
            return -1;
        }
        long got = asr_encode(u->labels, L, m, e->text, err, sizeof err);
        if (got < 0) {
            free(x);
            hostlog_error("%s:%zu: %s", name, e->line, err);
            return -1;
        }
        u->L = (uint32_t)got;
        u->need = u->L;
        for (uint32_t k = 1; k < u->L; k++)
            u->need += u->labels[k] == u->labels[k - 1];
        for (size_t k = 0; k < n; k++) {
            float v = x[k] * 32767.0f;
            u->pcm[k] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf(v));
        }
        u->n = n;
        free(x);
        s->hash = train_hash(s->hash, u->pcm, n * sizeof *u->pcm);
        s->hash = train_hash(s->hash, e->text, strlen(e->text) + 1);
        if (asr_steps_for(m, n) < u->need || (u->need == 0 && asr_steps_for(m, n) == 0)) {
            free(u->pcm), free(u->labels);
            memset(u, 0, sizeof *u);
            dropped++;
            continue;
        }
        seconds += (double)n / m->fe.sample_rate;
        s->n++;
        if (!quiet && train_now() - shown > 2.0) {
            fprintf(stderr, "rnnhost: %s: read %zu of %zu recordings\n", name, i + 1, mf->n);
            shown = train_now();
        }
    }
    if (dropped)
        fprintf(stderr, "rnnhost: %s: %zu recordings too short for their transcripts were left out\n", name, dropped);
    if (s->n == 0) {
        hostlog_error("%s: no usable utterances", name);
        return -1;
    }
    if (!quiet)
        fprintf(stderr, "rnnhost: %s: %zu utterances, %.2f hours\n", name, s->n, seconds / 3600.0);
    return 0;
}

/* ---- batches ------------------------------------------------------------------------------------------ */

static const uttset *g_sort_set;

static int by_length(const void *a, const void *b)
{
    const size_t x = g_sort_set->v[*(const uint32_t *)a].n, y = g_sort_set->v[*(const uint32_t *)b].n;
    if (x != y)
        return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void shuffle_batches(ctc_trainer *tr)
{
    for (uint32_t i = tr->n_batches; i > 1; i--) {
        uint32_t j = (uint32_t)(rh_rng_next(&tr->rng) % i);
        uint32_t t = tr->batches[i - 1];
        tr->batches[i - 1] = tr->batches[j];
        tr->batches[j] = t;
    }
}

/* The waveform of utterance u as the model will hear it this time: speed, gain and noise drawn from the
 * trainer's RNG (none for validation). Returns the sample count written into tr->wave. */
static size_t render(ctc_trainer *tr, const utt *u, int augment)
{
    float *w = tr->wave;
    size_t n = u->n;
    for (size_t k = 0; k < n; k++)
        w[k] = u->pcm[k] * (1.0f / 32768.0f);
    if (!augment)
        return n;
    const ctc_opts *o = &tr->o;
    if (o->speed > 1.0) {
        const double s = exp((2.0 * rh_rng_uniform(&tr->rng) - 1.0) * log(o->speed)); /* log-uniform in [1/F, F] */
        const size_t out_n = (size_t)((double)n / s);
        if (asr_steps_for(&tr->m, out_n) >= u->need) {
            SRC_DATA d;
            memset(&d, 0, sizeof d);
            d.data_in = w, d.input_frames = (long)n;
            d.data_out = tr->one, d.output_frames = (long)out_n;
            d.src_ratio = 1.0 / s;
            if (src_simple(&d, SRC_SINC_FASTEST, 1) == 0 && (size_t)d.output_frames_gen > 0 &&
                asr_steps_for(&tr->m, (size_t)d.output_frames_gen) >= u->need) {
                n = (size_t)d.output_frames_gen;
                memcpy(w, tr->one, n * sizeof *w);
            }
        }
    }
    if (o->gain_db > 0) {
        const float g = (float)pow(10.0, (2.0 * rh_rng_uniform(&tr->rng) - 1.0) * o->gain_db / 20.0);
        for (size_t k = 0; k < n; k++)
            w[k] *= g;
    }
    if (o->noise_snr > 0 && rh_rng_uniform(&tr->rng) < 0.5) {
        double power = 0;
        for (size_t k = 0; k < n; k++)
            power += (double)w[k] * w[k];
        power = power / (double)(n ? n : 1) + 1e-12;
        const double snr = o->noise_snr + 30.0 * rh_rng_uniform(&tr->rng);
        const int pink = rh_rng_uniform(&tr->rng) < 0.5;
        /* pink noise by a leaky integrator over white: most energy low, like rooms and fans */
        const double sd = sqrt(power / pow(10.0, snr / 10.0)) * (pink ? 0.2 : 1.0);
        double state = 0;
        for (size_t k = 0; k < n; k++) {
            double z = rh_rng_normal(&tr->rng) * sd;
            if (pink)
                z = state = 0.98 * state + z;
            w[k] += (float)z;
        }
    }
    return n;
}

/* SpecAugment-style masking of features x (steps, stack * n_mels): bands of mel channels in every
 * stacked frame, and spans of steps, set to 0, the per-utterance mean after normalisation. */
static void mask_features(ctc_trainer *tr, float *x, size_t steps)
{
    const uint32_t M = (uint32_t)tr->m.fe.n_mels, S = tr->m.stack, D = M * S;
    for (uint32_t k = 0; k < tr->o.masks; k++) {
        const uint32_t w = (uint32_t)(rh_rng_next(&tr->rng) % (M / 5 + 1));
        const uint32_t f0 = (uint32_t)(rh_rng_next(&tr->rng) % (M - w + 1));
        for (size_t t = 0; t < steps; t++)
            for (uint32_t s = 0; s < S; s++)
                memset(x + t * D + s * M + f0, 0, w * sizeof *x);
        const size_t span = (size_t)(rh_rng_next(&tr->rng) % (steps / 10 + 1));
        const size_t t0 = (size_t)(rh_rng_next(&tr->rng) % (steps - span + 1));
        memset(x + t0 * D, 0, span * D * sizeof *x);
    }
}

/* The training set's mel statistics for --norm-prior: mean and variance per channel of the level-free
 * features (spec_norm_prior) of every training recording, without augmentation. */
static int norm_stats(ctc_trainer *tr, uint32_t prior, int quiet)
{
    const size_t M = (size_t)tr->m.fe.n_mels;
    double *sum = calloc(2 * M, sizeof *sum), *sq = sum + M;
    tr->m.norm_mean = malloc(M * sizeof(float));
    tr->m.norm_var = malloc(M * sizeof(float));
    if (!sum || !tr->m.norm_mean || !tr->m.norm_var) {
        free(sum);
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < tr->train.n; i++) {
        const size_t n = render(tr, &tr->train.v[i], 0);
        const size_t frames = asr_mel(tr->mel, tr->sp, &tr->m, tr->wave, n);
        size_t from, to; /* the recording's frames, not the padding's */
        asr_mel_recording(&tr->m, frames, &from, &to);
        const double level = spec_level(tr->mel + from * M, to - from, M);
        for (size_t t = from; t < to; t++)
            for (size_t m = 0; m < M; m++) {
                const double v = tr->mel[t * M + m] - level;
                sum[m] += v, sq[m] += v * v;
            }
        count += to - from;
    }
    for (size_t m = 0; m < M; m++) {
        const double mean = count ? sum[m] / (double)count : 0.0, var = count ? sq[m] / (double)count - mean * mean : 1.0;
        tr->m.norm_mean[m] = (float)mean;
        tr->m.norm_var[m] = (float)(var > 1e-6 ? var : 1e-6);
    }
    tr->m.norm_prior = prior;
    free(sum);
    if (!quiet)
        fprintf(stderr, "rnnhost: normalisation: mel statistics of %zu frames, pooled as %u frames with each file's\n", count, prior);
    return 0;
}

/* Features and labels of utterances idx[0..B) of set into the batch buffers; returns T. */
static uint32_t make_batch(ctc_trainer *tr, const uttset *set, const uint32_t *idx, uint32_t B, int augment)
{
    const uint32_t D = tr->D;
    uint32_t T = 0, off = 0;
    tr->label_offsets[0] = 0;
    for (uint32_t b = 0; b < B; b++) {
        const utt *u = &set->v[idx[b]];
        const size_t n = render(tr, u, augment);
        spectrogram *sp = tr->sp;
        /* a failed rebuild keeps the previous factor: one utterance warped as the last, no harm */
        if (augment && tr->sp_warp &&
            spec_set_warp(tr->sp_warp, 1.0 + (2.0 * rh_rng_uniform(&tr->rng) - 1.0) * tr->o.warp) == 0)
            sp = tr->sp_warp;
        const size_t steps = asr_features(tr->one, tr->mel, sp, &tr->m, tr->wave, n);
        tr->lengths[b] = (uint32_t)steps;
        if (augment && tr->o.masks)
            mask_features(tr, tr->one, steps);
        if (steps > T)
            T = (uint32_t)steps;
        /* scatter into time-major rows; the features of b are in tr->one for now */
        for (size_t t = 0; t < steps; t++)
            memcpy(tr->x + ((size_t)t * B + b) * D, tr->one + t * D, D * sizeof(float));
        memcpy(tr->labels + off, u->labels, u->L * sizeof *u->labels);
        off += u->L;
        tr->label_offsets[b + 1] = off;
    }
    for (uint32_t b = 0; b < B; b++) /* zero the padding: the models read it, nothing depends on it */
        for (uint32_t t = tr->lengths[b]; t < T; t++)
            memset(tr->x + ((size_t)t * B + b) * D, 0, D * sizeof(float));
    return T;
}

/* ---- steps and validation ---------------------------------------------------------------------------- */

static double current_lr(const ctc_trainer *tr)
{
    return tr->o.lr * pow(tr->o.lr_decay, (double)tr->epoch);
}

static int train_step(ctc_trainer *tr, double *loss, double *norm, uint32_t *frames, char *why, size_t why_len)
{
    const uint32_t first = tr->batches[tr->pos];
    const uint32_t B = (uint32_t)(tr->train.n - first < tr->o.batch ? tr->train.n - first : tr->o.batch);
    const uint32_t T = make_batch(tr, &tr->train, tr->order + first, B, 1);
    rh_status st = asr_forward(&tr->m, tr->logits, tr->ws, tr->scratch, tr->pdir, tr->x, tr->lengths, T, B);
    if (st != RH_OK) {
        host_fmt(why, why_len, "forward failed: %s", rh_strerror(st));
        return -1;
    }
    const double total = rh_ctc_loss_batch(tr->dlogits, tr->logits, tr->labels, tr->label_offsets, tr->lengths, T, B,
                                           tr->K, 0, (float)(1.0 / B), tr->ctc_scratch);
    *loss = total / B;
    if (!isfinite(*loss)) {
        host_fmt(why, why_len, "the loss is %s", isnan(*loss) ? "NaN" : "infinite");
        return -1;
    }
    memset(tr->grads, 0, tr->P * sizeof *tr->grads);
    if ((st = asr_backward(&tr->m, tr->gdir, tr->ws, tr->scratch, tr->pdir, tr->x, tr->lengths, tr->dlogits, T, B)) !=
        RH_OK) {
        host_fmt(why, why_len, "backward failed: %s", rh_strerror(st));
        return -1;
    }
    if (train_update(&tr->opt, tr->params, tr->grads, tr->P, 0, tr->o.grad_clip, current_lr(tr), norm, why,
                     why_len) != 0)
        return -1;
    *frames = 0;
    for (uint32_t b = 0; b < B; b++)
        *frames += tr->lengths[b];
    tr->step++;
    if (++tr->pos >= tr->n_batches) {
        tr->pos = 0, tr->epoch++;
        shuffle_batches(tr);
    }
    return 0;
}

/* Greedy error rate (word or character edits per reference unit) and loss per utterance on the
 * validation set. */
static double validate(ctc_trainer *tr, double *loss)
{
    const uttset *v = &tr->val;
    uint64_t edits = 0, ref = 0;
    double total = 0;
    int32_t *hyp = malloc((tr->Tmax + 1) * sizeof *hyp);
    uint32_t *idx = malloc(tr->o.batch * sizeof *idx);
    *loss = NAN;
    if (!hyp || !idx) {
        free(hyp), free(idx);
        return NAN;
    }
    for (size_t first = 0; first < v->n; first += tr->o.batch) {
        const uint32_t B = (uint32_t)(v->n - first < tr->o.batch ? v->n - first : tr->o.batch);
        for (uint32_t b = 0; b < B; b++)
            idx[b] = (uint32_t)(first + b);
        const uint32_t T = make_batch(tr, v, idx, B, 0);
        if (asr_forward(&tr->m, tr->logits, tr->ws, tr->scratch, tr->pdir, tr->x, tr->lengths, T, B) != RH_OK)
            goto fail;
        total += rh_ctc_loss_batch(NULL, tr->logits, tr->labels, tr->label_offsets, tr->lengths, T, B, tr->K, 0, 1.0f,
                                   tr->ctc_scratch);
        for (uint32_t b = 0; b < B; b++) {
            /* frames of b are strided in the batch: gather them */
            for (uint32_t t = 0; t < tr->lengths[b]; t++)
                memcpy(tr->one + (size_t)t * tr->K, tr->logits + ((size_t)t * B + b) * tr->K, tr->K * sizeof(float));
            uint32_t n = rh_ctc_greedy(hyp, NULL, NULL, NULL, tr->one, tr->lengths[b], tr->K, 0);
            const utt *u = &v->v[idx[b]];
            edits += asr_edit_distance(hyp, n, u->labels, u->L);
            ref += u->L;
        }
    }
    free(hyp), free(idx);
    *loss = total / (double)v->n;
    return ref ? (double)edits / (double)ref : 0.0;
fail:
    free(hyp), free(idx);
    return NAN;
}

/* ---- files ------------------------------------------------------------------------------------------- */

static char *training_json(const ctc_trainer *tr)
{
    const ctc_opts *o = &tr->o;
    cJSON *j = cJSON_CreateObject();
    char hash[32];
    const char *slash = strrchr(o->manifest, '/');
    cJSON_AddStringToObject(j, "task", "ctc");
    cJSON_AddStringToObject(j, "manifest", slash && slash[1] ? slash + 1 : o->manifest);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)tr->train.hash);
    cJSON_AddStringToObject(j, "data_hash", hash);
    cJSON_AddNumberToObject(j, "utterances", (double)tr->train.n);
    cJSON_AddNumberToObject(j, "batch_size", o->batch);
    cJSON_AddStringToObject(j, "optimizer", o->optimizer);
    cJSON_AddNumberToObject(j, "learning_rate", o->lr);
    cJSON_AddNumberToObject(j, "lr_decay", o->lr_decay);
    cJSON_AddNumberToObject(j, "grad_clip", o->grad_clip);
    cJSON_AddNumberToObject(j, "augment_noise", o->noise_snr);
    cJSON_AddNumberToObject(j, "augment_gain", o->gain_db);
    cJSON_AddNumberToObject(j, "augment_speed", o->speed);
    cJSON_AddNumberToObject(j, "augment_mask", o->masks);
    cJSON_AddNumberToObject(j, "augment_warp", o->warp);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static int write_file(ctc_trainer *tr, const char *path, int checkpoint, double elapsed)
{
    enum { MAX_SLOTS = 4 }; /* optimizer moments per parameter: Adam has 2 */
    meta_list ml = {0};
    rh_blob *mb = NULL, *ob[MAX_SLOTS] = {NULL}, *all = NULL;
    char(*mn)[RH_MAX_NAME + 8] = NULL, (*on[MAX_SLOTS])[RH_MAX_NAME + 8] = {NULL}; /* alive until the write */
    char err[512], prefix[16];
    char *train_s = training_json(tr);
    int rc = -1;
    const uint32_t slots = checkpoint ? rh_optimizer_slots(tr->opt.kind) : 0;
    uint32_t n = asr_blobs(&mb, &mn, &tr->m, tr->pdir, NULL), nb = 0;
    if (!train_s || !n || slots > MAX_SLOTS || asr_meta(&ml, &tr->m) != 0 ||
        meta_add(&ml, "rnnhost.training", "%s", train_s) != 0 ||
        meta_add(&ml, "rnnhost.trained_steps", "%llu", (unsigned long long)tr->step) != 0)
        goto oom;
    if (!(all = calloc((size_t)n * (1 + slots) + 2, sizeof *all)))
        goto oom;
    memcpy(all, mb, n * sizeof *all);
    nb = n;
    if (checkpoint) {
        if (meta_add(&ml, "rnnhost.checkpoint",
                     "{\"step\":%llu,\"epoch\":%llu,\"pos\":%zu,\"opt_t\":%llu,\"elapsed\":%.3f,\"best_val\":%.17g}",
                     (unsigned long long)tr->step, (unsigned long long)tr->epoch, tr->pos,
                     (unsigned long long)tr->opt.t, elapsed, isfinite(tr->best_val) ? tr->best_val : -1.0) != 0)
            goto oom;
        for (uint32_t k = 0; k < slots; k++) {
            float *state = tr->opt_state + (size_t)k * tr->P;
            float *sd[2] = {state, state + tr->np[0]};
            snprintf(prefix, sizeof prefix, "opt.%u.", k);
            if (asr_blobs(&ob[k], &on[k], &tr->m, sd, prefix) != n)
                goto oom;
            memcpy(all + nb, ob[k], n * sizeof *all);
            nb += n;
        }
        rh_blob rng = {"train.rng", RH_DTYPE_U64, 1, {4, 0, 0, 0}, tr->rng.s};
        rh_blob order = {"train.batches", RH_DTYPE_I32, 1, {tr->n_batches, 0, 0, 0}, tr->batches};
        all[nb++] = rng;
        all[nb++] = order;
    }
    if (model_write(path, ml.items, ml.n, all, nb, err, sizeof err) != 0) {
        hostlog_error("%s not written: %s", checkpoint ? "checkpoint" : "model", err); /* err names the file */
        goto done;
    }
    rc = 0;
    goto done;
oom:
    hostlog_error("out of memory writing %s", path);
done:
    meta_free(&ml);
    for (uint32_t k = 0; k < MAX_SLOTS; k++)
        free(ob[k]), free(on[k]);
    free(train_s), free(mb), free(mn), free(all);
    return rc;
}

static int write_checkpoint(ctc_trainer *tr, double elapsed)
{
    char path[4096];
    train_checkpoint_path(path, sizeof path, tr->o.ckpt_dir, "ctc", tr->step, tr->last_val);
    if (write_file(tr, path, 1, elapsed) != 0)
        return -1;
    snprintf(tr->last_ckpt, sizeof tr->last_ckpt, "%s", path);
    return 0;
}

/* The optimisation options of a checkpoint's training record (resume keeps them). */
static int adopt_training(ctc_trainer *tr, const char *json, const char *from)
{
    static char optimizer[32];
    cJSON *j = cJSON_Parse(json ? json : "");
    const char *num[] = {"batch_size", "learning_rate", "lr_decay", "grad_clip", "augment_noise", "augment_gain",
                         "augment_speed", "seed", "augment_mask"};
    double v[9];
    int ok = j != NULL;
    for (int i = 0; ok && i < 9; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, num[i]);
        ok = cJSON_IsNumber(x) && x->valuedouble >= 0;
        if (ok)
            v[i] = x->valuedouble;
    }
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    ok = ok && cJSON_IsString(opt) && cli_optimizer_kind(opt->valuestring) >= 0 && v[0] >= 1 && v[0] <= 4096;
    if (ok) {
        snprintf(optimizer, sizeof optimizer, "%s", opt->valuestring);
        tr->o.optimizer = optimizer;
        tr->o.batch = (uint32_t)v[0], tr->o.lr = v[1], tr->o.lr_decay = v[2], tr->o.grad_clip = v[3];
        tr->o.noise_snr = v[4], tr->o.gain_db = v[5], tr->o.speed = v[6] < 1 ? 1 : v[6], tr->o.seed = (uint64_t)v[7];
        tr->o.masks = v[8] > 16 ? 16 : (uint32_t)v[8];
        const cJSON *warp = cJSON_GetObjectItemCaseSensitive(j, "augment_warp"); /* absent before it existed */
        tr->o.warp = cJSON_IsNumber(warp) && warp->valuedouble > 0 && warp->valuedouble <= 0.3 ? warp->valuedouble : 0;
    }
    cJSON_Delete(j);
    if (!ok)
        hostlog_error("%s: its training record (rnnhost.training) is missing or incomplete", from);
    return ok ? 0 : -1;
}

static int read_checkpoint(ctc_trainer *tr, const rh_weights *w, const char *path)
{
    char err[512], prefix[16];
    const uint32_t slots = rh_optimizer_slots(tr->opt.kind);
    for (uint32_t k = 0; k < slots; k++) {
        float *state = tr->opt_state + (size_t)k * tr->P;
        float *sd[2] = {state, state + tr->np[0]};
        snprintf(prefix, sizeof prefix, "opt.%u.", k);
        if (asr_load(&tr->m, sd, w, prefix, err, sizeof err) != RH_OK) {
            hostlog_error("%s: optimizer state: %s", path, err);
            return -1;
        }
    }
    if (train_read_rng(&tr->rng, w, path) != 0)
        return -1;
    rh_blob b;
    int32_t i;
    i = rh_weights_find(w, "train.batches");
    if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_I32 || b.ndim != 1 ||
        b.shape[0] != tr->n_batches) {
        hostlog_error("%s: no batch order for %u batches (train.batches): was it trained on this manifest?", path,
                      tr->n_batches);
        return -1;
    }
    const int32_t *ord = b.data;
    for (uint32_t k = 0; k < tr->n_batches; k++) {
        if (ord[k] < 0 || (size_t)ord[k] >= tr->train.n || ord[k] % tr->o.batch) {
            hostlog_error("%s: train.batches holds %d, not a batch start", path, ord[k]);
            return -1;
        }
        tr->batches[k] = (uint32_t)ord[k];
    }
    cJSON *j = cJSON_Parse(rh_weights_meta(w, "rnnhost.checkpoint") ? rh_weights_meta(w, "rnnhost.checkpoint") : "");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step"), *epoch = cJSON_GetObjectItemCaseSensitive(j, "epoch"),
                *pos = cJSON_GetObjectItemCaseSensitive(j, "pos"), *t = cJSON_GetObjectItemCaseSensitive(j, "opt_t"),
                *el = cJSON_GetObjectItemCaseSensitive(j, "elapsed"), *best = cJSON_GetObjectItemCaseSensitive(j, "best_val");
    int ok = cJSON_IsNumber(step) && cJSON_IsNumber(epoch) && cJSON_IsNumber(pos) && cJSON_IsNumber(t) &&
             cJSON_IsNumber(el) && cJSON_IsNumber(best) && step->valuedouble >= 0 && epoch->valuedouble >= 0 &&
             pos->valuedouble >= 0 && pos->valuedouble < tr->n_batches && t->valuedouble >= 0;
    if (ok) {
        tr->step = (uint64_t)step->valuedouble, tr->epoch = (uint64_t)epoch->valuedouble;
        tr->pos = (size_t)pos->valuedouble, tr->opt.t = (uint64_t)t->valuedouble;
        tr->elapsed_before = el->valuedouble;
        tr->best_val = best->valuedouble >= 0 ? best->valuedouble : INFINITY;
    }
    cJSON_Delete(j);
    if (!ok)
        hostlog_error("%s: its position (rnnhost.checkpoint) is missing or does not fit the data", path);
    return ok ? 0 : -1;
}

/* ---- the command ---------------------------------------------------------------------------------------- */

static void trainer_free(ctc_trainer *tr)
{
    asr_close(&tr->m);
    registry_free(&tr->reg);
    uttset_free(&tr->train);
    uttset_free(&tr->val);
    spec_free(tr->sp);
    spec_free(tr->sp_warp);
    free(tr->order), free(tr->batches), free(tr->params), free(tr->grads), free(tr->opt_state);
    free(tr->x), free(tr->logits), free(tr->dlogits), free(tr->ws[0]), free(tr->ws[1]), free(tr->scratch);
    free(tr->mel), free(tr->wave), free(tr->one), free(tr->ctc_scratch), free(tr->labels), free(tr->label_offsets);
    free(tr->lengths);
    if (tr->log)
        fclose(tr->log);
}

/* Buffers for the longest utterance (with the fastest speed-up's worth of extra samples). */
static int alloc_buffers(ctc_trainer *tr)
{
    size_t max_n = 0;
    uint32_t max_L = 1;
    const uttset *sets[2] = {&tr->train, &tr->val};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            if (sets[s]->v[i].n > max_n)
                max_n = sets[s]->v[i].n;
            if (sets[s]->v[i].L > max_L)
                max_L = sets[s]->v[i].L;
        }
    max_n = (size_t)((double)max_n * tr->o.speed) + 16;
    const uint32_t B = tr->o.batch;
    tr->D = asr_input_dim(&tr->m), tr->K = tr->m.spec.output_dim;
    tr->Tmax = (uint32_t)asr_steps_for(&tr->m, max_n) + 1;
    const size_t T = tr->Tmax, frames = T * tr->m.stack + tr->m.stack + 2;
    const size_t one = max_n > T * (tr->D > tr->K ? tr->D : tr->K) ? max_n : T * (tr->D > tr->K ? tr->D : tr->K);
    char err[256];
    tr->sp = spec_new(&tr->m.fe, err, sizeof err);
    if (tr->o.warp > 0)
        tr->sp_warp = spec_new(&tr->m.fe, err, sizeof err);
    tr->x = malloc(T * B * tr->D * sizeof(float));
    tr->logits = malloc(T * B * tr->K * sizeof(float));
    tr->dlogits = malloc(T * B * tr->K * sizeof(float));
    for (int d = 0; d < asr_dirs(&tr->m); d++)
        tr->ws[d] = malloc(asr_workspace_size(&tr->m, (uint32_t)T, B) * sizeof(float));
    tr->scratch = malloc(asr_scratch_size(&tr->m, (uint32_t)T, B) * sizeof(float));
    tr->mel = malloc(frames * (size_t)tr->m.fe.n_mels * sizeof(float));
    tr->wave = malloc(max_n * sizeof(float));
    tr->one = malloc(one * sizeof(float));
    tr->ctc_scratch = malloc(rh_ctc_scratch_size(max_L, (uint32_t)T, tr->K) * sizeof(double));
    tr->labels = malloc((size_t)max_L * B * sizeof *tr->labels);
    tr->label_offsets = malloc((B + 1) * sizeof *tr->label_offsets);
    tr->lengths = malloc(B * sizeof *tr->lengths);
    int ok = tr->sp && (tr->o.warp == 0 || tr->sp_warp) && tr->x && tr->logits && tr->dlogits && tr->ws[0] && (!tr->m.bidirectional || tr->ws[1]) &&
             tr->scratch && tr->mel && tr->wave && tr->one && tr->ctc_scratch && tr->labels && tr->label_offsets &&
             tr->lengths;
    if (!ok)
        hostlog_error("out of memory for a batch of %u x %zu steps", B, T);
    return ok ? 0 : -1;
}

int cmd_train_ctc(int argc, char **argv)
{
    ctc_trainer *tr = calloc(1, sizeof *tr);
    char why[1024], err[512];
    int rc = EXIT_FAIL;
    rh_weights *from = NULL;
    manifest mf = {0}, vmf = {0};
    if (!tr) {
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    tr->best_val = INFINITY, tr->last_val = NAN;
    int p = parse_options(&tr->o, argc, argv);
    if (p != 0) {
        free(tr);
        return p > 0 ? EXIT_OK : EXIT_USAGE;
    }
    ctc_opts *o = &tr->o;
    if (registry_init(&tr->reg, o->plugin_path) != 0) {
        hostlog_error("cannot set up the plugin search path");
        free(tr);
        return EXIT_FAIL;
    }
    if (o->threads > 0)
        blas_set_threads(o->threads), host_set_model_threads((uint32_t)o->threads);
    if (manifest_read(&mf, o->manifest, err, sizeof err) != 0 ||
        (o->val_manifest && manifest_read(&vmf, o->val_manifest, err, sizeof err) != 0)) {
        hostlog_error("%s", err);
        goto done;
    }

    /* the model: from a file, or new from the options and the training transcripts */
    const char *from_name = o->resume ? o->resume : o->init_from;
    if (from_name) {
        char path[4096];
        if (model_resolve(path, sizeof path, from_name, why, sizeof why) != 0 ||
            asr_open(&tr->m, &tr->reg, path, why, sizeof why) != EXIT_OK) {
            hostlog_error("%s", why);
            rc = EXIT_LOAD;
            goto done;
        }
        if (rh_weights_open(&from, path, err, sizeof err) != RH_OK) {
            hostlog_error("%s", err);
            rc = EXIT_LOAD;
            goto done;
        }
        if (o->resume) {
            if (!rh_weights_meta(from, "rnnhost.checkpoint")) {
                hostlog_error("%s is a model, not a checkpoint: use --init-from to start from its weights", path);
                goto done;
            }
            if (adopt_training(tr, rh_weights_meta(from, "rnnhost.training"), path) != 0)
                goto done;
        }
        o->cell = tr->m.spec.model_id, o->hidden = tr->m.spec.hidden_size, o->layers = tr->m.spec.num_layers;
    } else {
        char **texts = malloc(mf.n * sizeof *texts);
        if (!texts) {
            hostlog_error("out of memory");
            goto done;
        }
        for (size_t i = 0; i < mf.n; i++)
            texts[i] = mf.v[i].text;
        int urc = asr_units_from_texts(&tr->m, texts, mf.n, strcmp(o->units, "words") == 0, why, sizeof why);
        free(texts);
        if (urc != 0) {
            hostlog_error("%s: %s", o->manifest, why);
            goto done;
        }
        asr_default_frontend(&tr->m.fe, &tr->m.stack, (int)o->sample_rate);
        tr->m.fe.n_mels = (int)o->n_mels;
        tr->m.fe.n_cepstra = (int)o->cepstra;
        tr->m.fe.fmin = o->fmin;
        tr->m.stack = o->stack;
        tr->m.pad_ms = o->pad_ms;
        tr->m.bidirectional = o->bidirectional;
        snprintf(tr->m.spec.model_id, sizeof tr->m.spec.model_id, "%s", o->cell);
        tr->m.spec.hidden_size = o->hidden, tr->m.spec.num_layers = o->layers;
        if ((rc = asr_create(&tr->m, &tr->reg, why, sizeof why)) != EXIT_OK) {
            hostlog_error("%s", why);
            goto done;
        }
        rc = EXIT_FAIL;
        for (int d = 0; d < asr_dirs(&tr->m); d++)
            host_model_init_params(&tr->m.dir[d], o->seed + (uint64_t)d * 0x9e3779b97f4a7c15ULL);
    }

    if (load_set(&tr->train, &mf, o->manifest, &tr->m, o->quiet) != 0 ||
        (o->val_manifest && load_set(&tr->val, &vmf, o->val_manifest, &tr->m, o->quiet) != 0))
        goto done;

    /* one flat parameter buffer over both directions: one optimizer, one gradient norm */
    for (int d = 0; d < asr_dirs(&tr->m); d++)
        tr->np[d] = tr->m.dir[d].info.num_params;
    tr->P = tr->np[0] + tr->np[1];
    const int kind = cli_optimizer_kind(o->optimizer);
    tr->params = malloc(tr->P * sizeof(float));
    tr->grads = malloc(tr->P * sizeof(float));
    tr->opt_state = calloc((size_t)rh_optimizer_slots((uint32_t)kind) * tr->P + 1, sizeof(float));
    if (!tr->params || !tr->grads || !tr->opt_state || alloc_buffers(tr) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    if (!from_name && o->norm_prior > 0 && norm_stats(tr, o->norm_prior, o->quiet) != 0) {
        hostlog_error("out of memory");
        goto done;
    }
    for (int d = 0; d < asr_dirs(&tr->m); d++) {
        tr->pdir[d] = tr->params + (d ? tr->np[0] : 0);
        tr->gdir[d] = tr->grads + (d ? tr->np[0] : 0);
        memcpy(tr->pdir[d], tr->m.dir[d].params, tr->np[d] * sizeof(float));
    }
    rh_optimizer_init(&tr->opt, (uint32_t)kind, (float)o->lr, tr->P, tr->opt_state);
    rh_rng_seed(&tr->rng, o->seed ^ 0x6374635f74726e55ULL);

    /* batches of neighbours in length */
    tr->order = malloc(tr->train.n * sizeof *tr->order);
    tr->n_batches = (uint32_t)((tr->train.n + o->batch - 1) / o->batch);
    tr->batches = malloc(tr->n_batches * sizeof *tr->batches);
    if (!tr->order || !tr->batches) {
        hostlog_error("out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < tr->train.n; i++)
        tr->order[i] = i;
    g_sort_set = &tr->train;
    qsort(tr->order, tr->train.n, sizeof *tr->order, by_length);
    for (uint32_t k = 0; k < tr->n_batches; k++)
        tr->batches[k] = k * o->batch;
    shuffle_batches(tr);
    if (o->resume) {
        cJSON *j = cJSON_Parse(rh_weights_meta(from, "rnnhost.training"));
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "data_hash");
        char expect[32];
        snprintf(expect, sizeof expect, "%016llx", (unsigned long long)tr->train.hash);
        int same = cJSON_IsString(h) && strcmp(h->valuestring, expect) == 0;
        cJSON_Delete(j);
        if (!same) {
            hostlog_error("%s was trained on other data than %s (the recordings or transcripts differ)", o->resume,
                          o->manifest);
            goto done;
        }
        if (read_checkpoint(tr, from, o->resume) != 0)
            goto done;
    }
    rh_weights_close(from);
    from = NULL;

    if (train_ensure_dir(o->ckpt_dir) != 0) {
        hostlog_error("cannot use checkpoint directory %s: %s", o->ckpt_dir, strerror(errno));
        goto done;
    }
    const size_t stale = train_remove_stale_temps(o->ckpt_dir, "ctc", o->out);
    if (stale && !o->quiet)
        fprintf(stderr, "rnnhost: removed %zu temporary file%s a killed run left unfinished\n", stale,
                stale == 1 ? "" : "s");
    if (o->log_json && !(tr->log = train_open_log(o->log_json, o->resume != NULL))) {
        hostlog_error("cannot write %s: %s", o->log_json, strerror(errno));
        goto done;
    }
    uint64_t total = o->max_steps;
    if (o->max_epochs && (!total || o->max_epochs * tr->n_batches < total))
        total = o->max_epochs * tr->n_batches;
    if (!o->quiet)
        fprintf(stderr,
                "rnnhost: training ctc %s%s (%u x %u, %zu parameters) over %u %s + blank; %zu utterances, %u steps "
                "per epoch\n",
                tr->m.bidirectional ? "bidirectional " : "", o->cell, o->layers, o->hidden, tr->P, tr->m.n_units,
                tr->m.words ? "words" : "characters", tr->train.n, tr->n_batches);

    host_catch_interrupts();

    progress pr;
    progress_init(&pr, o->quiet, o->print_every);
    pr.unit = "x real time";
    const double start = train_now();
    const uint64_t first_step = tr->step;
    uint64_t checkpointed = UINT64_MAX, frames_window = 0;
    double window_start = start, train_loss = NAN;
    int wrote_best = 0;
    for (;;) {
        double elapsed = tr->elapsed_before + (train_now() - start);
        if ((o->max_steps && tr->step >= o->max_steps) || (o->max_epochs && tr->epoch >= o->max_epochs) ||
            (o->time_budget > 0 && elapsed >= o->time_budget))
            break;
        if (host_interrupted) {
            progress_end(&pr);
            if (write_checkpoint(tr, elapsed) != 0)
                goto done;
            fprintf(stderr, "rnnhost: interrupted at step %llu; checkpoint %s (continue with --resume %s)\n",
                    (unsigned long long)tr->step, tr->last_ckpt, tr->last_ckpt);
            rc = EXIT_INTERRUPTED;
            goto done;
        }
        const uint64_t epoch_before = tr->epoch;
        double loss, norm;
        uint32_t frames;
        if (train_step(tr, &loss, &norm, &frames, why, sizeof why) != 0) {
            progress_end(&pr);
            hostlog_error("step %llu: %s; stopping (lower --learning-rate or clip gradients)%s%s",
                          (unsigned long long)tr->step + 1, why, tr->last_ckpt[0] ? "; last good checkpoint " : "",
                          tr->last_ckpt);
            goto done;
        }
        train_loss = isfinite(train_loss) ? 0.95 * train_loss + 0.05 * loss : loss;
        frames_window += frames;
        if (tr->log)
            fprintf(tr->log, "{\"schema\":1,\"type\":\"train\",\"step\":%llu,\"epoch\":%.4f,\"loss\":%.6f,\"grad_norm\":%.4f,\"lr\":%.6g}\n",
                    (unsigned long long)tr->step, tr->epoch + (double)tr->pos / tr->n_batches, loss, norm,
                    (double)tr->opt.lr);
        const int last = (o->max_steps && tr->step >= o->max_steps) || (o->max_epochs && tr->epoch >= o->max_epochs);
        const int eval_now = o->eval_every ? tr->step % o->eval_every == 0 : tr->epoch != epoch_before;
        if (tr->val.n && (eval_now || last)) {
            double vloss;
            tr->last_val = validate(tr, &vloss);
            if (tr->log)
                fprintf(tr->log, "{\"schema\":1,\"type\":\"val\",\"step\":%llu,\"error_rate\":%.6f,\"loss\":%.6f}\n",
                        (unsigned long long)tr->step, tr->last_val, vloss);
            if (tr->last_val < tr->best_val) { /* the model written is the best on validation */
                tr->best_val = tr->last_val;
                if (write_file(tr, o->out, 0, 0) != 0)
                    goto done;
                wrote_best = 1;
            }
        }
        double now = train_now();
        elapsed = tr->elapsed_before + (now - start);
        if (now - window_start > 0.5) {
            progress_rate(&pr, frames_window * tr->m.stack * tr->m.fe.hop_length / (double)tr->m.fe.sample_rate /
                                   (now - window_start));
            window_start = now, frames_window = 0;
        }
        const double eta = train_eta(now - start, first_step, tr->step, total, o->time_budget, elapsed);
        progress_update(&pr, tr->step, total, tr->epoch + (double)tr->pos / tr->n_batches, train_loss, tr->last_val,
                        eta);
        if (o->ckpt_every && tr->step % o->ckpt_every == 0) {
            if (write_checkpoint(tr, elapsed) != 0)
                goto done;
            checkpointed = tr->step;
        }
        if (tr->log)
            fflush(tr->log);
    }
    progress_end(&pr);
    if (checkpointed != tr->step && write_checkpoint(tr, tr->elapsed_before + (train_now() - start)) != 0)
        goto done;
    /* without validation the last weights are the model; a resumed run that found nothing better keeps
     * the best written before it */
    if (!wrote_best && !(tr->val.n && o->resume && access(o->out, F_OK) == 0) && write_file(tr, o->out, 0, 0) != 0)
        goto done;
    if (!o->quiet) {
        fprintf(stderr, "rnnhost: %s after %llu steps (%.1f epochs, %.0f s)", o->out, (unsigned long long)tr->step,
                tr->epoch + (double)tr->pos / tr->n_batches, tr->elapsed_before + (train_now() - start));
        if (isfinite(tr->best_val) && tr->val.n)
            fprintf(stderr, "; best validation error rate %.4f (the model written)", tr->best_val);
        fprintf(stderr, "\n");
    }
    rc = EXIT_OK;
done:
    rh_weights_close(from);
    manifest_free(&mf);
    manifest_free(&vmf);
    trainer_free(tr);
    free(tr);
    return rc;
}
