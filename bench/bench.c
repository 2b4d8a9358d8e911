/* The measuring half of bench/run: trains, samples and multiplies, and prints raw samples, one line per
 * figure and run set:
 *
 *     raw NAME QUANTITY UNIT v1 v2 ... vR
 *
 * bench/report.py turns these (and bench/torch_bench.py's, in the same form) into medians, ratios and the
 * table. Nothing here judges a number; it only measures honestly:
 *   - training is the exact loop of `rnnhost train` in stream mode (forward, softmax cross-entropy,
 *     backward, global-norm clipping at 5, Adam) on the rnn, gru or lstm plugin with one-hot input over 65
 *     symbols and a 65-wide output projection, loaded by path like the host loads it;
 *   - "sgemm on the same shapes" runs, with OpenBLAS alone, every matrix product one training step
 *     needs, at the sizes the step needs them, so its GFLOP/s is the ceiling a BLAS-based trainer has;
 *   - sampling times one step plus one draw at batch 1, each step timed on its own for the percentiles;
 *     beside it, the floor such a step cannot beat on this machine: the time the same threads take to
 *     read as many bytes as the step's weights once, from where they stay between steps (a step at batch
 *     1 does about two flops per weight it reads, so memory, not arithmetic, sets its pace);
 *   - classification and tagging (cls) is the very step of `rnnhost train --task classify|tag`: the task's
 *     own step (host/tasks: the batch, both directions, the pooling head, softmax cross-entropy, backward)
 *     and the training loop's update (clipping at 5, Adam), on synthetic sequences of varied lengths
 *     (words: 15,000 words, sentences of 10 to 30, 2 labels, max pooling, both directions; dna: 60 bases
 *     of 4 symbols, 3 labels, pool last, one direction; tag: 15,000 words, sentences of 8 to 32, 17 tags,
 *     both directions), written to --tokens for the PyTorch side; elements (words, bases) per second;
 *   - memory reads the kernel's peak resident set (VmHWM) after resetting it, so the program and the
 *     BLAS buffers do not count, and compares it with the analytic minimum of the same training step.
 *
 * usage: bench train|sgemm|sample|mem [--plugins DIR] [--runs R] [--min-time S] [--tokens FILE] CONFIG...
 *        bench cls [--plugins DIR] [--runs R] [--min-time S] [--tokens FILE] WORK:CELL:H:L:B...
 *        bench square N
 *        bench level    (the CPU kernel level the plugins run here, as "info cpu_level LEVEL")
 * A CONFIG is CELL:H:L:B (cell rnn, gru or lstm, hidden units, layers, batch); the sequence length is --seq
 * (64).
 */
#define _GNU_SOURCE /* clock_gettime, getline: POSIX on top of C11 */
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h" /* the classify and tag tasks' model, batches and step (host/tasks) */
#include "loop.h"
#include "rnnhost/kit/cpulevel.h"
#include "seqtask.h" /* the tasks' own options, which the step reads */
#include "rnnhost/rnnhost.h"
#include "trainutil.h"

enum { VOCAB = 65 };

typedef struct bench_opts {
    const char *plugins; /* the build's plugins directory */
    const char *tokens;  /* an int32 token file to share with the PyTorch side, or NULL */
    uint32_t runs, seq;
    double min_time; /* seconds each timed run lasts at least */
} bench_opts;

typedef struct config {
    char cell[8];
    uint32_t H, L, B;
} config;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "bench: out of memory (%zu x %zu bytes)\n", n, size);
        exit(1);
    }
    return p;
}

static int parse_config(config *c, const char *s)
{
    memset(c, 0, sizeof *c);
    char cell[8];
    unsigned H, L, B;
    char tail;
    if (sscanf(s, "%7[a-z]:%u:%u:%u%c", cell, &H, &L, &B, &tail) != 4 || H == 0 || L == 0 || B == 0 ||
        (strcmp(cell, "rnn") != 0 && strcmp(cell, "gru") != 0 && strcmp(cell, "lstm") != 0)) {
        fprintf(stderr, "bench: '%s' is not a config CELL:H:L:B (cell rnn, gru or lstm)\n", s);
        return -1;
    }
    snprintf(c->cell, sizeof c->cell, "%s", cell);
    c->H = H, c->L = L, c->B = B;
    return 0;
}

static uint32_t gates(const config *c)
{
    return strcmp(c->cell, "gru") == 0 ? 3 : strcmp(c->cell, "lstm") == 0 ? 4 : 1;
}

/* Blocks of H floats of state a cell carries beside its output, which BPTT keeps for every step (the
 * LSTM's c). */
static uint32_t carried(const config *c)
{
    return strcmp(c->cell, "lstm") == 0 ? 1 : 0;
}

/* ---- the plugin, loaded as the host loads it --------------------------------------------------------- */

typedef struct loaded {
    void *handle;
    const rh_plugin_entry *entry;
    rh_host host;
    rh_model *model;
    const rh_model_vtable *vt;
    rh_model_info info;
} loaded;

static void bench_log(const rh_host *host, int32_t level, const char *message)
{
    (void)host;
    (void)level;
    fprintf(stderr, "bench: plugin says: %s\n", message);
}

/* The model gets the threads OpenBLAS was given (OPENBLAS_NUM_THREADS, which bench/run sets to THREADS),
 * through the extension the host offers. */
static uint32_t bench_threads(const rh_host *host)
{
    (void)host;
    int n = openblas_get_num_threads();
    return n < 1 ? 1u : (uint32_t)n;
}

static const rh_ext_threads bench_threads_ext = {sizeof(rh_ext_threads), bench_threads};

static const void *bench_get_extension(const rh_host *host, const char *id)
{
    (void)host;
    return strcmp(id, RH_EXT_THREADS) == 0 ? &bench_threads_ext : NULL;
}

static int load_model(loaded *ld, const bench_opts *o, const config *c)
{
    memset(ld, 0, sizeof *ld);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s.so", o->plugins, c->cell, c->cell);
    ld->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (ld->handle == NULL) {
        fprintf(stderr, "bench: %s\n", dlerror());
        return -1;
    }
    ld->entry = (const rh_plugin_entry *)dlsym(ld->handle, RH_ENTRY_SYMBOL);
    if (ld->entry == NULL || ld->entry->abi_version != RH_ABI_VERSION) {
        fprintf(stderr, "bench: %s has no entry of ABI version %u\n", path, RH_ABI_VERSION);
        return -1;
    }
    ld->host.struct_size = sizeof ld->host;
    ld->host.log = bench_log;
    ld->host.get_extension = bench_get_extension;
    rh_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.struct_size = sizeof cfg;
    cfg.input_kind = RH_INPUT_TOKENS;
    cfg.input_dim = VOCAB;
    cfg.hidden_size = c->H;
    cfg.num_layers = c->L;
    cfg.output_dim = VOCAB;
    if (ld->entry->create_model(&ld->host, c->cell, &cfg, &ld->model) != RH_OK)
        return -1;
    ld->vt = ld->model->vtable;
    ld->info.struct_size = sizeof ld->info;
    ld->vt->get_info(ld->model, &ld->info);
    return 0;
}

static void unload_model(loaded *ld)
{
    if (ld->model != NULL)
        ld->vt->destroy(ld->model);
    if (ld->handle != NULL)
        dlclose(ld->handle);
    memset(ld, 0, sizeof *ld);
}

static float *init_params(const loaded *ld, uint64_t seed)
{
    float *p = xcalloc(ld->info.num_params, sizeof(float));
    rh_tensor *table = xcalloc(ld->info.num_tensors, sizeof *table);
    for (uint32_t i = 0; i < ld->info.num_tensors; i++)
        ld->vt->get_tensor(ld->model, i, &table[i]);
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    rh_params_init(p, table, ld->info.num_tensors, &rng);
    free(table);
    return p;
}

/* ---- the FLOPs of one training step ------------------------------------------------------------------ */

/* One matrix product C (M,N) += A (M,K) B (K,N), `count` times in a step. */
typedef struct product {
    uint32_t M, N, K, count;
    int ta, tb; /* A and B are stored transposed */
} product;

/* The matrix products of one training step in the stack's own order and layout; returns how many.
 * The one-hot input projection and its gradient are row gathers and scatters, not products, so they
 * count no FLOPs: the figure is the useful arithmetic any implementation must do. */
static size_t step_products(product *out, const config *c, uint32_t T)
{
    uint32_t H = c->H, GH = gates(c) * c->H, TB = T * c->B, B = c->B;
    size_t n = 0;
    for (uint32_t l = 0; l < c->L; l++) {
        if (l > 0) {
            out[n++] = (product){TB, GH, H, 1, 0, 1};  // forward input projection
            out[n++] = (product){GH, H, TB, 1, 1, 0};  // dW_x
            out[n++] = (product){TB, H, GH, 1, 0, 0};  // gradient to the layer below
        }
        out[n++] = (product){B, GH, H, T, 0, 1}; // forward recurrent product, each step
        out[n++] = (product){B, H, GH, T, 0, 0}; // backward recurrent product, each step
        out[n++] = (product){GH, H, TB, 1, 1, 0}; // dW_h
    }
    out[n++] = (product){TB, VOCAB, H, 1, 0, 1}; // logits
    out[n++] = (product){VOCAB, H, TB, 1, 1, 0}; // dW_out
    out[n++] = (product){TB, H, VOCAB, 1, 0, 0}; // gradient into the top layer
    return n;
}

static double step_flops(const config *c, uint32_t T)
{
    product p[16];
    size_t n = step_products(p, c, T);
    double f = 0;
    for (size_t i = 0; i < n; i++)
        f += 2.0 * p[i].M * p[i].N * p[i].K * p[i].count;
    return f;
}

/* ---- reporting ---------------------------------------------------------------------------------------- */

static void config_name(char *s, size_t n, const config *c)
{
    snprintf(s, n, "%s.h%u.l%u.b%u", c->cell, c->H, c->L, c->B);
}

static void print_raw(const char *name, const char *quantity, const char *unit, const double *v, uint32_t n)
{
    printf("raw %s %s %s", name, quantity, unit);
    for (uint32_t i = 0; i < n; i++)
        printf(" %.6g", v[i]);
    printf("\n");
    fflush(stdout);
}

/* ---- training ----------------------------------------------------------------------------------------- */

/* The corpus both sides train on: uniform symbols from a fixed seed (speed does not depend on the text),
 * written to o->tokens so the PyTorch side reads the very same ids. */
static int32_t *make_tokens(size_t n, const bench_opts *o)
{
    int32_t *ids = xcalloc(n, sizeof *ids);
    rh_rng rng;
    rh_rng_seed(&rng, 20240601);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)rh_rng_below(&rng, VOCAB);
    if (o->tokens != NULL) {
        FILE *f = fopen(o->tokens, "wb");
        if (f == NULL || fwrite(ids, sizeof *ids, n, f) != n || fclose(f) != 0) {
            fprintf(stderr, "bench: cannot write %s\n", o->tokens);
            exit(1);
        }
    }
    return ids;
}

typedef struct trainer {
    loaded ld;
    uint32_t T, B;
    float *params, *grads, *opt_state, *ws, *y, *dy, *state, *next_state;
    int32_t *tokens, *targets;
    rh_optimizer opt;
    const int32_t *corpus;
    size_t corpus_len, seg, pos;
} trainer;

static uint64_t workspace_floats(const trainer *tr)
{
    return tr->ld.vt->workspace_size(tr->ld.model, tr->T, tr->B);
}

static int trainer_init(trainer *tr, const bench_opts *o, const config *c, const int32_t *corpus, size_t n)
{
    memset(tr, 0, sizeof *tr);
    if (load_model(&tr->ld, o, c) != 0)
        return -1;
    tr->T = o->seq, tr->B = c->B;
    size_t P = tr->ld.info.num_params, TB = (size_t)tr->T * tr->B, S = tr->ld.info.state_size;
    tr->params = init_params(&tr->ld, 1);
    tr->grads = xcalloc(P, sizeof(float));
    tr->opt_state = xcalloc(2 * P, sizeof(float));
    tr->ws = xcalloc(workspace_floats(tr), sizeof(float));
    tr->y = xcalloc(TB * VOCAB, sizeof(float));
    tr->dy = xcalloc(TB * VOCAB, sizeof(float));
    tr->state = xcalloc((size_t)tr->B * S, sizeof(float));
    tr->next_state = xcalloc((size_t)tr->B * S, sizeof(float));
    tr->tokens = xcalloc(TB, sizeof(int32_t));
    tr->targets = xcalloc(TB, sizeof(int32_t));
    rh_optimizer_init(&tr->opt, RH_OPT_ADAM, 2e-3f, P, tr->opt_state);
    tr->corpus = corpus, tr->corpus_len = n;
    tr->seg = n / tr->B; // B contiguous streams, as `rnnhost train` reads them
    return 0;
}

static void trainer_free(trainer *tr)
{
    free(tr->params), free(tr->grads), free(tr->opt_state), free(tr->ws), free(tr->y), free(tr->dy);
    free(tr->state), free(tr->next_state), free(tr->tokens), free(tr->targets);
    unload_model(&tr->ld);
}

/* One step of truncated BPTT; returns the mean loss per symbol. */
static double trainer_step(trainer *tr)
{
    size_t T = tr->T, B = tr->B, P = tr->ld.info.num_params;
    if (tr->pos + T + 1 > tr->seg) {
        tr->pos = 0;
        memset(tr->state, 0, B * tr->ld.info.state_size * sizeof(float));
    }
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            const int32_t *s = tr->corpus + b * tr->seg + tr->pos + t;
            tr->tokens[t * B + b] = s[0];
            tr->targets[t * B + b] = s[1];
        }
    tr->pos += T;
    rh_batch batch = {(uint32_t)T, (uint32_t)B, NULL, NULL, tr->tokens};
    if (tr->ld.vt->forward(tr->ld.model, tr->y, tr->next_state, tr->ws, tr->params, &batch, tr->state) != RH_OK) {
        fprintf(stderr, "bench: forward failed\n");
        exit(1);
    }
    double nats = rh_softmax_xent(tr->dy, tr->y, tr->targets, NULL, (uint32_t)(T * B), VOCAB, 1.0f / (float)(T * B));
    memset(tr->grads, 0, P * sizeof(float));
    if (tr->ld.vt->backward(tr->ld.model, tr->grads, NULL, NULL, tr->ws, tr->params, &batch, tr->state, tr->dy,
                            NULL) != RH_OK) {
        fprintf(stderr, "bench: backward failed\n");
        exit(1);
    }
    rh_clip_global_norm(tr->grads, P, 5.0);
    rh_optimizer_step(&tr->opt, tr->params, tr->grads);
    float *swap = tr->state;
    tr->state = tr->next_state;
    tr->next_state = swap;
    return nats / (double)(T * B);
}

/* Steps per timed run so that a run lasts at least min_time, from one timed step after a warm-up one. */
static uint32_t steps_for(trainer *tr, double min_time)
{
    trainer_step(tr);
    double t0 = now();
    trainer_step(tr);
    double dt = now() - t0;
    uint32_t n = (uint32_t)ceil(min_time / (dt > 1e-9 ? dt : 1e-9));
    return n < 2 ? 2 : n;
}

static int cmd_train(const bench_opts *o, const config *cs, size_t nc)
{
    size_t n = (size_t)1 << 21;
    int32_t *corpus = make_tokens(n, o);
    for (size_t i = 0; i < nc; i++) {
        trainer tr;
        if (trainer_init(&tr, o, &cs[i], corpus, n) != 0)
            return 1;
        uint32_t steps = steps_for(&tr, o->min_time);
        double *tps = xcalloc(o->runs, sizeof(double));
        double loss = 0;
        for (uint32_t r = 0; r < o->runs; r++) {
            double t0 = now();
            for (uint32_t s = 0; s < steps; s++)
                loss = trainer_step(&tr);
            tps[r] = (double)steps * tr.T * tr.B / (now() - t0);
        }
        if (!isfinite(loss)) {
            fprintf(stderr, "bench: training diverged\n");
            return 1;
        }
        char name[64];
        config_name(name, sizeof name, &cs[i]);
        double fpt = step_flops(&cs[i], o->seq) / ((double)o->seq * cs[i].B);
        print_raw(name, "flop_per_token", "FLOP", &fpt, 1);
        print_raw(name, "train", "tok/s", tps, o->runs);
        free(tps);
        trainer_free(&tr);
    }
    free(corpus);
    return 0;
}

/* ---- sgemm -------------------------------------------------------------------------------------------- */

static void run_products(float **bufs, const product *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int lda = p[i].ta ? (int)p[i].M : (int)p[i].K, ldb = p[i].tb ? (int)p[i].K : (int)p[i].N;
        for (uint32_t k = 0; k < p[i].count; k++)
            cblas_sgemm(CblasRowMajor, p[i].ta ? CblasTrans : CblasNoTrans, p[i].tb ? CblasTrans : CblasNoTrans,
                        (int)p[i].M, (int)p[i].N, (int)p[i].K, 1.0f, bufs[0], lda, bufs[1], ldb, 1.0f, bufs[2],
                        (int)p[i].N);
    }
}

/* GFLOP/s of the given products run back to back, once per timed run. */
static void time_products(double *gflops, const product *p, size_t n, const bench_opts *o)
{
    size_t big = 0;
    double flops = 0;
    for (size_t i = 0; i < n; i++) {
        size_t a = (size_t)p[i].M * p[i].K, b = (size_t)p[i].K * p[i].N, c = (size_t)p[i].M * p[i].N;
        big = a > big ? a : big, big = b > big ? b : big, big = c > big ? c : big;
        flops += 2.0 * p[i].M * p[i].N * p[i].K * p[i].count;
    }
    float *bufs[3];
    rh_rng rng;
    rh_rng_seed(&rng, 7);
    for (int k = 0; k < 3; k++) {
        bufs[k] = xcalloc(big, sizeof(float));
        for (size_t i = 0; i < big; i++)
            bufs[k][i] = (float)(rh_rng_uniform(&rng) - 0.5) * 0.01f;
    }
    run_products(bufs, p, n);
    double t0 = now();
    run_products(bufs, p, n);
    double dt = now() - t0;
    uint32_t reps = (uint32_t)ceil(o->min_time / (dt > 1e-9 ? dt : 1e-9));
    for (uint32_t r = 0; r < o->runs; r++) {
        t0 = now();
        for (uint32_t k = 0; k < reps; k++)
            run_products(bufs, p, n);
        gflops[r] = flops * reps / (now() - t0) * 1e-9;
    }
    for (int k = 0; k < 3; k++)
        free(bufs[k]);
}

static int cmd_sgemm(const bench_opts *o, const config *cs, size_t nc)
{
    double *g = xcalloc(o->runs, sizeof(double));
    for (size_t i = 0; i < nc; i++) {
        product p[16];
        size_t n = step_products(p, &cs[i], o->seq);
        char name[64];
        config_name(name, sizeof name, &cs[i]);
        time_products(g, p, n, o);
        print_raw(name, "sgemm", "GFLOP/s", g, o->runs);
    }
    free(g);
    return 0;
}

static int cmd_square(const bench_opts *o, uint32_t N)
{
    product p = {N, N, N, 1, 0, 0};
    double *g = xcalloc(o->runs, sizeof(double));
    time_products(g, &p, 1, o);
    char name[32];
    snprintf(name, sizeof name, "sgemm%u", N);
    print_raw(name, "sgemm", "GFLOP/s", g, o->runs);
    free(g);
    return 0;
}

/* ---- sampling ----------------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The read floor: `threads` threads each sum their share of n floats (OpenBLAS sasum, on one thread, the
 * fastest read of memory this program has at hand), meet at a spinning barrier, and do it again; the
 * median time of a sweep over all n. The buffer is read over and over, so it sits in the caches as far as
 * they hold it, as a model's weights do between two steps of sampling. */
typedef struct floor_share {
    const float *p;
    size_t n;
    uint32_t sweeps, threads;
    atomic_uint *arrived;
    double *lat; /* thread 0 only */
} floor_share;

static void floor_meet(atomic_uint *arrived, uint32_t threads, unsigned round)
{
    atomic_fetch_add(arrived, 1);
    while (atomic_load(arrived) < round * threads)
        ;
}

static void *floor_sweeps(void *arg)
{
    floor_share *f = arg;
    volatile float sink = 0.0f;
    unsigned round = 0;
    for (uint32_t s = 0; s < f->sweeps; s++) {
        floor_meet(f->arrived, f->threads, ++round);
        double t0 = now();
        sink += cblas_sasum((blasint)f->n, f->p, 1);
        floor_meet(f->arrived, f->threads, ++round);
        if (f->lat)
            f->lat[s] = (now() - t0) * 1e6;
    }
    (void)sink;
    return NULL;
}

static int cmp_double(const void *a, const void *b);

static double read_floor_us(const float *p, size_t n, uint32_t threads)
{
    enum { SWEEPS = 3000, MAX_THREADS = 64 };
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double *lat = xcalloc(SWEEPS, sizeof(double));
    atomic_uint arrived = 0;
    floor_share f[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    size_t per = (n + threads - 1) / threads;
    uint32_t started = 1;
    for (uint32_t i = 0; i < threads; i++) {
        size_t a = i * per < n ? i * per : n, b = a + per < n ? a + per : n;
        f[i] = (floor_share){p + a, b - a, SWEEPS, threads, &arrived, i == 0 ? lat : NULL};
    }
    for (; started < threads; started++)
        if (pthread_create(&t[started], NULL, floor_sweeps, &f[started]) != 0) {
            fprintf(stderr, "bench: cannot start a thread for the read floor\n");
            exit(1);
        }
    floor_sweeps(&f[0]);
    for (uint32_t i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    openblas_set_num_threads(blas);
    qsort(lat + SWEEPS / 10, SWEEPS - SWEEPS / 10, sizeof(double), cmp_double);
    double med = lat[SWEEPS / 10 + (SWEEPS - SWEEPS / 10) / 2];
    free(lat);
    return med;
}

/* Times `runs` runs of STEPS steps (one step plus one draw each, at batch 1) after a warm-up, over the float
 * parameters or, with hx and copy, over the half-step copy; med and p99 (runs) in microseconds. */
static int time_sampling(const loaded *ld, const bench_opts *o, const float *params, const rh_ext_half_step *hx,
                         const void *copy, double *med, double *p99)
{
    enum { STEPS = 4000, WARM = 300 };
    double *lat = xcalloc(STEPS, sizeof(double));
    float *scratch = xcalloc(ld->vt->step_scratch_size(ld->model, 1), sizeof(float));
    float *state = xcalloc(ld->info.state_size, sizeof(float)), *y = xcalloc(VOCAB, sizeof(float));
    float *draw = xcalloc(VOCAB, sizeof(float));
    rh_rng rng;
    rh_rng_seed(&rng, 3);
    int32_t tok = 0;
    int rc = 0;
    ld->vt->reset(ld->model, state, 1);
    for (uint32_t r = 0; r < o->runs && rc == 0; r++) {
        for (uint32_t s = 0; s < STEPS + WARM; s++) {
            double t0 = now();
            rh_status st = hx != NULL ? hx->step(ld->model, y, state, scratch, params, copy, NULL, &tok, 1)
                                      : ld->vt->step(ld->model, y, state, scratch, params, NULL, &tok, 1);
            if (st != RH_OK) {
                fprintf(stderr, "bench: step failed\n");
                rc = 1;
                break;
            }
            tok = rh_sample_logits(y, VOCAB, 1.0f, 0, draw, &rng);
            if (s >= WARM)
                lat[s - WARM] = (now() - t0) * 1e6;
        }
        qsort(lat, STEPS, sizeof(double), cmp_double);
        med[r] = lat[STEPS / 2];
        p99[r] = lat[STEPS * 99 / 100];
    }
    free(lat), free(scratch), free(state), free(y), free(draw);
    return rc;
}

/* Sampling over float weights, then over the same weights rounded to halves (as `rnnhost export --dtype f16`
 * writes them and the presets ship) through the model's half-step copy (halfstep.h); each beside its read
 * floor: the half copy's is the time to read half as many bytes. */
static int cmd_sample(const bench_opts *o, const config *cs, size_t nc)
{
    double *med = xcalloc(o->runs, sizeof(double)), *p99 = xcalloc(o->runs, sizeof(double));
    for (size_t i = 0; i < nc; i++) {
        loaded ld;
        if (load_model(&ld, o, &cs[i]) != 0)
            return 1;
        float *params = init_params(&ld, 1);
        char name[64];
        snprintf(name, sizeof name, "%s.h%u.l%u", cs[i].cell, cs[i].H, cs[i].L);
        if (time_sampling(&ld, o, params, NULL, NULL, med, p99) != 0)
            return 1;
        print_raw(name, "sample_median", "us", med, o->runs);
        print_raw(name, "sample_p99", "us", p99, o->runs);
        /* The weights a step reads: every parameter but the rows of the first layer's input matrix that
         * one token does not pick (D - 1 of them, G*H wide). */
        size_t read = ld.info.num_params - (size_t)(VOCAB - 1) * gates(&cs[i]) * cs[i].H;
        uint32_t threads = bench_threads(&ld.host);
        for (uint32_t r = 0; r < o->runs; r++)
            med[r] = read_floor_us(params, read, threads);
        print_raw(name, "sample_read_floor", "us", med, o->runs);

        const rh_ext_half_step *hx = rh_half_step_of(ld.model);
        if (hx != NULL) {
            for (uint64_t k = 0; k < ld.info.num_params; k++)
                params[k] = rh_f16_to_f32(rh_f32_to_f16(params[k]));
            size_t bytes = (size_t)hx->copy_size(ld.model);
            void *copy = aligned_alloc(64, (bytes + 63) / 64 * 64);
            if (copy == NULL || hx->make_copy(ld.model, copy, params) != RH_OK) {
                fprintf(stderr, "bench: no half-step copy of %s\n", name);
                return 1;
            }
            if (time_sampling(&ld, o, params, hx, copy, med, p99) != 0)
                return 1;
            print_raw(name, "sample_half_median", "us", med, o->runs);
            print_raw(name, "sample_half_p99", "us", p99, o->runs);
            for (uint32_t r = 0; r < o->runs; r++)
                med[r] = read_floor_us(params, read / 2, threads);
            print_raw(name, "sample_half_read_floor", "us", med, o->runs);
            free(copy);
        }
        free(params);
        unload_model(&ld);
    }
    free(med), free(p99);
    return 0;
}

/* ---- memory ------------------------------------------------------------------------------------------- */

/* A field of /proc/self/status in KiB, or -1. */
static long proc_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Resets VmHWM to the current resident set; 0 when the kernel allowed it. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Floats a training step cannot do without: parameters, gradients and Adam's two moments; per step and
 * sequence the tokens and targets, each layer's gate activations, output and carried state (what BPTT
 * reads back), and the logits with their gradient. Everything else (workspace scratch, the state carried
 * between chunks) is overhead. */
static double analytic_floats(const trainer *tr, const config *c)
{
    double P = (double)tr->ld.info.num_params, TB = (double)tr->T * tr->B;
    double per_token = 2 + c->L * (gates(c) + 1.0 + carried(c)) * c->H + 2.0 * VOCAB;
    return 4 * P + TB * per_token;
}

static int cmd_mem(const bench_opts *o, const config *cs, size_t nc)
{
    size_t n = (size_t)1 << 20;
    int32_t *corpus = make_tokens(n, o);
    // OpenBLAS maps its buffers on first use: warm it up so that they count as the program, not the model.
    bench_opts warm = *o;
    warm.min_time = 0.01, warm.runs = 1;
    product p = {512, 512, 512, 1, 0, 0};
    double g;
    time_products(&g, &p, 1, &warm);
    for (size_t i = 0; i < nc; i++) {
        long base = proc_status_kib("VmRSS");
        int reset = reset_peak();
        trainer tr;
        if (trainer_init(&tr, o, &cs[i], corpus, n) != 0)
            return 1;
        for (int s = 0; s < 3; s++)
            trainer_step(&tr);
        long peak = proc_status_kib("VmHWM");
        double peak_mib = (double)(peak - base) / 1024.0, min_mib = analytic_floats(&tr, &cs[i]) * 4 / 1048576.0;
        char name[64];
        config_name(name, sizeof name, &cs[i]);
        if (reset != 0 || base < 0 || peak < 0) {
            fprintf(stderr, "bench: cannot read or reset the peak resident set; no memory figure\n");
        } else {
            print_raw(name, "train_peak_rss", "MiB", &peak_mib, 1);
            print_raw(name, "train_analytic_min", "MiB", &min_mib, 1);
        }
        trainer_free(&tr);
    }
    free(corpus);
    return 0;
}

/* ---- classification and tagging ---------------------------------------------------------------------- */

/* A workload of the classify and tag tasks: the model's head and input, and the synthetic sequences it
 * trains on (uniform symbols, lengths uniform in [min_len, max_len], labels or tags uniform). */
typedef struct cls_work {
    const char *name;
    int tagger, input, pool, bidirectional;
    uint32_t symbols; /* words: the vocabulary without the unknown word; chars: the symbols */
    uint32_t labels, min_len, max_len;
} cls_work;

static const cls_work cls_works[] = {
    /* sentiment of a sentence: words, bidirectional, max-pooled logits, two labels */
    {"words", 0, CLS_IN_WORDS, CLS_POOL_MAX, 1, 15000, 2, 10, 30},
    /* a DNA splice site: 60 bases, 4 symbols, 3 labels, the task's defaults (one direction, pool last) */
    {"dna", 0, CLS_IN_CHARS, CLS_POOL_LAST, 0, 4, 3, 60, 60},
    /* parts of speech: a tag for every word of a sentence, both directions, 17 tags */
    {"tag", 1, CLS_IN_WORDS, CLS_POOL_EACH, 1, 15000, 17, 8, 32},
};

enum { CLS_BATCHES = 64, CLS_WARM_STEPS = 8, CLS_RUN_STEPS = 16 }; /* the set's batches; steps */

typedef struct cls_config {
    const cls_work *w;
    config c; /* cell, hidden units, layers, batch */
} cls_config;

/* WORK:CELL:H:L:B, as words:gru:128:1:32. */
static int parse_cls_config(cls_config *cc, const char *s)
{
    const char *colon = strchr(s, ':');
    cc->w = NULL;
    for (size_t i = 0; colon && i < sizeof cls_works / sizeof cls_works[0]; i++)
        if (strlen(cls_works[i].name) == (size_t)(colon - s) && strncmp(s, cls_works[i].name, colon - s) == 0)
            cc->w = &cls_works[i];
    if (cc->w == NULL) {
        fprintf(stderr, "bench: '%s' is not a config WORK:CELL:H:L:B (work words, dna or tag)\n", s);
        return -1;
    }
    return parse_config(&cc->c, colon + 1);
}

/* The sequences of a workload: n of them, from a fixed seed; written to path (when not NULL) for the PyTorch
 * side as int32: n, the elements in all, the input width, the labels; then the lengths (n), the labels (n),
 * the elements and their tags (the elements' count each; 0 for a classifier's). */
static void make_cls_set(cls_set *s, const cls_work *w, size_t n, uint32_t input_dim, const char *path)
{
    memset(s, 0, sizeof *s);
    rh_rng rng;
    rh_rng_seed(&rng, 20240602);
    s->n = n;
    s->start = xcalloc(n + 1, sizeof *s->start);
    s->label = xcalloc(n, sizeof *s->label);
    for (size_t i = 0; i < n; i++) {
        s->start[i + 1] = s->start[i] + w->min_len + rh_rng_below(&rng, w->max_len - w->min_len + 1);
        s->label[i] = w->tagger ? -1 : (int32_t)rh_rng_below(&rng, w->labels);
    }
    const size_t total = s->start[n];
    s->tokens = xcalloc(total, sizeof *s->tokens);
    s->tags = xcalloc(total, sizeof *s->tags);
    for (size_t k = 0; k < total; k++) {
        s->tokens[k] = (int32_t)rh_rng_below(&rng, input_dim);
        s->tags[k] = w->tagger ? (int32_t)rh_rng_below(&rng, w->labels) : 0;
    }
    if (path == NULL)
        return;
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    const int32_t head[4] = {(int32_t)n, (int32_t)total, (int32_t)input_dim, (int32_t)w->labels};
    ok = ok && fwrite(head, sizeof head, 1, f) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        const int32_t len = (int32_t)(s->start[i + 1] - s->start[i]);
        ok = fwrite(&len, sizeof len, 1, f) == 1;
    }
    ok = ok && fwrite(s->label, sizeof *s->label, n, f) == n;
    ok = ok && fwrite(s->tokens, sizeof *s->tokens, total, f) == total;
    ok = ok && fwrite(s->tags, sizeof *s->tags, total, f) == total;
    if (f == NULL || fclose(f) != 0 || !ok) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        exit(1);
    }
}

/* The trainer of `rnnhost train --task classify|tag` over the synthetic set, as the task opens it with the
 * tasks' defaults (Adam at 2e-3, gradient-norm clipping at 5, no dropout): each step is the task's own
 * (cls_step: the batch filled, both directions forward, the head, the loss, backward) and the loop's
 * update after it (train_update). */
typedef struct cls_bench {
    cls_trainer tr;
    train_opts o;
    seq_opts own;
    train_ctx c;
    rh_rng rng;
    rh_optimizer opt;
    float *opt_state;
    uint64_t elements; /* the elements (words, bases) the steps so far consumed */
} cls_bench;

static int cls_bench_init(cls_bench *cb, plugin_registry *reg, const cls_config *cc, const char *path)
{
    const cls_work *w = cc->w;
    memset(cb, 0, sizeof *cb);
    cls_model *m = &cb->tr.m;
    m->tagger = w->tagger, m->input = w->input, m->pool = w->pool, m->bidirectional = w->bidirectional;
    m->n_labels = w->labels, m->max_len = w->max_len;
    /* words: vectors as wide as the hidden state (--word-dim H), as PyTorch's side has them */
    m->n_words = w->input == CLS_IN_WORDS ? w->symbols : 0, m->word_dim = w->input == CLS_IN_WORDS ? cc->c.H : 0;
    snprintf(m->spec.task, sizeof m->spec.task, "%s", w->tagger ? TAG_TASK : CLS_TASK);
    snprintf(m->spec.model_id, sizeof m->spec.model_id, "%s", cc->c.cell);
    m->spec.input_kind = cls_dense(m) ? RH_INPUT_DENSE : RH_INPUT_TOKENS;
    m->spec.input_dim = cls_dense(m) ? cls_dense(m) : w->symbols;
    const uint32_t symbols = w->input == CLS_IN_WORDS ? w->symbols + 1 : w->symbols; /* words: and the unknown word */
    m->spec.hidden_size = cc->c.H, m->spec.num_layers = cc->c.L, m->spec.output_dim = w->labels;
    char why[1024];
    if (cls_create(m, reg, why, sizeof why) != EXIT_OK) {
        fprintf(stderr, "bench: %s\n", why);
        return -1;
    }
    for (int d = 0; d < cls_dirs(m); d++) {
        host_model_init_params(&m->dir[d], 1 + (uint64_t)d * 0x9e3779b97f4a7c15ULL);
        memcpy(m->pdir[d], m->dir[d].params, m->np[d] * sizeof(float));
    }
    if (m->word_dim) {
        rh_rng_seed(&cb->rng, 3);
        rh_params_init(m->params, m->tensors + rh_tensor_find(m->tensors, m->num_tensors, "words.embed"), 1, &cb->rng);
    }
    const uint32_t B = cc->c.B;
    make_cls_set(&cb->tr.train, w, (size_t)CLS_BATCHES * B, symbols, path);
    if (cls_batch_alloc(&cb->tr.b, m, w->max_len, B) != 0) {
        fprintf(stderr, "bench: out of memory\n");
        return -1;
    }
    cb->tr.order = xcalloc(cb->tr.train.n, sizeof *cb->tr.order);
    cb->tr.idx = xcalloc(B, sizeof *cb->tr.idx);
    for (size_t i = 0; i < cb->tr.train.n; i++)
        cb->tr.order[i] = (uint32_t)i;
    cb->tr.n_batches = (cb->tr.train.n + B - 1) / B;
    cb->o.model = opt_model_defaults, cb->o.optim = opt_optim_defaults, cb->o.stop = opt_stop_defaults;
    cls_defaults(&cb->o);
    cb->o.optim.batch = B;
    rh_rng_seed(&cb->rng, 5);
    cb->own = seq_opts_defaults;
    cb->c.o = &cb->o, cb->c.own = &cb->own, cb->c.rng = &cb->rng, cb->c.reg = reg, cb->c.rank = 0, cb->c.ranks = 1;
    cb->c.params = m->params, cb->c.grads = m->grads, cb->c.num_params = m->P;
    const uint32_t kind = (uint32_t)cb->o.optim.optimizer;
    cb->opt_state = xcalloc(rh_optimizer_slots(kind) * m->P + 1, sizeof(float));
    rh_optimizer_init(&cb->opt, kind, (float)cb->o.optim.lr, m->P, cb->opt_state);
    return 0;
}

static void cls_bench_free(cls_bench *cb)
{
    cls_train_close(&cb->tr);
    free(cb->opt_state);
}

/* One training step; its loss. */
static double cls_bench_step(cls_bench *cb)
{
    step_result r;
    char why[1024];
    double norm;
    memset(&r, 0, sizeof r);
    if (cls_step(&cb->tr, &cb->c, &r, why, sizeof why) != 0 ||
        train_update(&cb->opt, cb->c.params, cb->c.grads, cb->c.num_params, cb->o.optim.clip_value,
                     cb->o.optim.grad_clip, cb->o.optim.lr, &norm, why, sizeof why) != 0) {
        fprintf(stderr, "bench: training step failed: %s\n", why);
        exit(1);
    }
    cb->elements += r.seen;
    return r.loss;
}

static int cmd_cls(const bench_opts *o, const cls_config *cs, size_t nc)
{
    /* the cells' folders of --plugins, as the search path of `rnnhost --plugin-path` */
    char path[3 * 4096 + 64];
    snprintf(path, sizeof path, "%s/gru:%s/lstm:%s/rnn", o->plugins, o->plugins, o->plugins);
    plugin_registry reg;
    if (registry_init(&reg, path) != 0)
        return 1;
    host_set_model_threads(bench_threads(NULL));
    int rc = 0;
    for (size_t i = 0; i < nc && rc == 0; i++) {
        cls_bench cb;
        if (cls_bench_init(&cb, &reg, &cs[i], o->tokens) != 0) {
            rc = 1;
            break;
        }
        /* 8 warm-up steps, then runs of as many steps as min_time takes, and a quarter of an epoch at least,
         * so that a run averages over the batches' lengths (torch_bench.py does the same) */
        const double t0 = now();
        for (int s = 0; s < CLS_WARM_STEPS; s++)
            cls_bench_step(&cb);
        const double per = (now() - t0) / CLS_WARM_STEPS;
        uint32_t steps = (uint32_t)ceil(o->min_time / (per > 1e-9 ? per : 1e-9));
        steps = steps < CLS_RUN_STEPS ? CLS_RUN_STEPS : steps;
        double *eps = xcalloc(o->runs, sizeof(double)), loss = 0;
        for (uint32_t r = 0; r < o->runs; r++) {
            const uint64_t e0 = cb.elements;
            const double t1 = now();
            for (uint32_t s = 0; s < steps; s++)
                loss = cls_bench_step(&cb);
            eps[r] = (double)(cb.elements - e0) / (now() - t1);
        }
        if (!isfinite(loss)) {
            fprintf(stderr, "bench: training diverged\n");
            rc = 1;
        }
        char name[96];
        snprintf(name, sizeof name, "%s.", cs[i].w->name);
        config_name(name + strlen(name), sizeof name - strlen(name), &cs[i].c);
        print_raw(name, "cls_train", "tok/s", eps, o->runs);
        free(eps);
        cls_bench_free(&cb);
    }
    registry_free(&reg);
    return rc;
}

/* ---- main --------------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench train|sgemm|sample|mem [--plugins DIR] [--runs R] [--min-time S] [--seq T]\n"
               "                                    [--tokens FILE] CELL:H:L:B...\n"
               "       bench cls [--plugins DIR] [--runs R] [--min-time S] [--tokens FILE] WORK:CELL:H:L:B...\n"
               "       bench square N [--runs R] [--min-time S]\n"
               "       bench level\n");
}

/* The kernel level the plugins will run (cpulevel.h), for the report; a forced level this CPU lacks is
 * refused, so that no figure is labelled with a level it was not measured at. */
static int cmd_level(void)
{
    cpu_level level;
    int r = cpu_level_request(&level);
    if (r < 0) {
        fprintf(stderr, "bench: %s=%s: %s\n", CPU_LEVEL_ENV, getenv(CPU_LEVEL_ENV),
                r == -1 ? "not a kernel level (plain, avx2, avx512)" : "this CPU cannot run that level");
        return 2;
    }
    printf("info cpu_level %s\n", cpu_level_name(level));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "level") == 0 && argc == 2)
        return cmd_level();
    bench_opts o = {BENCH_PLUGIN_DIR, NULL, 5, 64, 0.5};
    config *cs = xcalloc((size_t)argc, sizeof *cs);
    cls_config *ccs = xcalloc((size_t)argc, sizeof *ccs);
    const int cls = strcmp(argv[1], "cls") == 0;
    size_t nc = 0;
    uint32_t square = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--plugins") == 0 && v)
            o.plugins = v, i++;
        else if (strcmp(a, "--tokens") == 0 && v)
            o.tokens = v, i++;
        else if (strcmp(a, "--runs") == 0 && v)
            o.runs = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (strcmp(a, "--seq") == 0 && v)
            o.seq = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (strcmp(a, "--min-time") == 0 && v)
            o.min_time = strtod(v, NULL), i++;
        else if (strcmp(argv[1], "square") == 0 && square == 0)
            square = (uint32_t)strtoul(a, NULL, 10);
        else if (a[0] != '-' && (cls ? parse_cls_config(&ccs[nc], a) : parse_config(&cs[nc], a)) == 0)
            nc++;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (o.runs == 0 || o.seq == 0 || !(o.min_time >= 0)) {
        usage(stderr);
        return 2;
    }
    int rc;
    if (strcmp(argv[1], "train") == 0)
        rc = cmd_train(&o, cs, nc);
    else if (strcmp(argv[1], "sgemm") == 0)
        rc = cmd_sgemm(&o, cs, nc);
    else if (strcmp(argv[1], "sample") == 0)
        rc = cmd_sample(&o, cs, nc);
    else if (strcmp(argv[1], "mem") == 0)
        rc = cmd_mem(&o, cs, nc);
    else if (cls)
        rc = cmd_cls(&o, ccs, nc);
    else if (strcmp(argv[1], "square") == 0 && square > 0)
        rc = cmd_square(&o, square);
    else {
        usage(stderr);
        rc = 2;
    }
    free(cs), free(ccs);
    return rc;
}
