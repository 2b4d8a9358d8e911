/* A model granted two threads ("rnnhost.threads/1") against the same model on one: forward, backward and
 * step give the same numbers whichever thread computes them, and so do training's forward and backward with
 * dropout ("rnnhost.dropout/1", both kinds of the kit, one seed's masks); two calls at once on one model, and a call in
 * a child process after fork (where the model's threads do not exist), still give them. The sizes are
 * large enough that the plugin does spread its steps (a step of at least 2^17 weight products).
 * Usage: test_threads MODULE.so */
#define _GNU_SOURCE /* fork, waitpid */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

enum { T = 6, B = 14 };

typedef struct run {
    float *y, *h_T, *grads, *dx, *dh0, *ws;
} run;

typedef struct setup {
    const rh_model *m;
    rh_model_info info;
    const float *params, *x, *R, *Q;
    const int32_t *tokens;
    const uint32_t *lengths;
    uint32_t kind, D;
    const rh_dropout_masks *masks; /* training with dropout through the extension, or NULL */
} setup;

static void run_alloc(run *r, const setup *s)
{
    uint64_t ny = (uint64_t)T * B * s->info.output_dim, nh = (uint64_t)B * s->info.state_size;
    r->y = xcalloc(ny, sizeof(float));
    r->h_T = xcalloc(nh, sizeof(float));
    r->grads = xcalloc(s->info.num_params, sizeof(float));
    r->dx = xcalloc((uint64_t)T * B * s->D, sizeof(float));
    r->dh0 = xcalloc(nh, sizeof(float));
    r->ws = xcalloc(s->m->vtable->workspace_size(s->m, T, B), sizeof(float));
}

static void run_free(run *r)
{
    free(r->y), free(r->h_T), free(r->grads), free(r->dx), free(r->dh0), free(r->ws);
}

static int run_once(run *r, const setup *s)
{
    rh_batch batch = {T, B, s->lengths, s->kind == RH_INPUT_DENSE ? s->x : NULL,
                      s->kind == RH_INPUT_TOKENS ? s->tokens : NULL};
    memset(r->grads, 0, s->info.num_params * sizeof(float));
    float *dx = s->kind == RH_INPUT_DENSE ? r->dx : NULL;
    if (s->masks != NULL) {
        const rh_ext_dropout *d = rh_dropout_of(s->m);
        if (d == NULL || d->forward(s->m, r->y, r->h_T, r->ws, s->params, &batch, NULL, s->masks) != RH_OK)
            return -1;
        return d->backward(s->m, r->grads, dx, r->dh0, r->ws, s->params, &batch, NULL, s->R, s->Q, s->masks) == RH_OK
                   ? 0
                   : -1;
    }
    if (s->m->vtable->forward(s->m, r->y, r->h_T, r->ws, s->params, &batch, NULL) != RH_OK)
        return -1;
    return s->m->vtable->backward(s->m, r->grads, dx, r->dh0, r->ws, s->params, &batch, NULL, s->R, s->Q) == RH_OK
               ? 0
               : -1;
}

/* Values of a and b (n) further apart than float rounding of a sum allows. */
static uint64_t count_apart(const float *a, const float *b, uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad += !(fabsf(a[i] - b[i]) <= 1e-6f * (1.0f + fabsf(b[i])));
    return bad;
}

static uint64_t compare(const run *a, const run *b, const setup *s)
{
    uint64_t ny = (uint64_t)T * B * s->info.output_dim, nh = (uint64_t)B * s->info.state_size;
    return count_apart(a->y, b->y, ny) + count_apart(a->h_T, b->h_T, nh) +
           count_apart(a->grads, b->grads, s->info.num_params) + count_apart(a->dx, b->dx, (uint64_t)T * B * s->D) +
           count_apart(a->dh0, b->dh0, nh);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

typedef struct concurrent {
    const setup *s;
    const run *ref;
    uint64_t bad;
    int failed;
} concurrent;

static void *concurrent_main(void *p)
{
    concurrent *c = p;
    run r;
    run_alloc(&r, c->s);
    for (int i = 0; i < 10; i++) {
        c->failed |= run_once(&r, c->s) != 0;
        c->bad += compare(&r, c->ref, c->s);
    }
    run_free(&r);
    return NULL;
}

static void run_case(harness *h, uint32_t kind, uint32_t D, uint32_t H, uint32_t L, uint32_t O, uint64_t seed,
                     const char *options)
{
    printf("  %s: %s D=%u H=%u L=%u O=%u T=%u B=%u%s%s\n", harness_model_id(h),
           kind == RH_INPUT_DENSE ? "dense" : "tokens", D, H, L, O, T, B, options ? " " : "", options ? options : "");
    rh_status st;
    int before = count_threads();
    harness_set_threads(1);
    rh_model *one = harness_create_with(h, kind, D, H, L, O, options, &st);
    int after_one = count_threads();
    harness_set_threads(2);
    rh_model *two = harness_create_with(h, kind, D, H, L, O, options, &st);
    int after_two = count_threads();
    if (!check(h, one != NULL && two != NULL, "create failed: %d", st))
        return;
    check(h, after_one == before && after_two == before + 1,
          "threads: %d before, %d with the one-thread model, %d with the two-thread model", before, after_one,
          after_two);

    rh_model_info info = harness_info(one);
    rh_tensor *tensors = xcalloc(info.num_tensors, sizeof *tensors);
    for (uint32_t i = 0; i < info.num_tensors; i++)
        one->vtable->get_tensor(one, i, &tensors[i]);
    rh_rng rng;
    rh_rng_seed(&rng, seed);
    float *params = xcalloc(info.num_params, sizeof(float));
    rh_params_init(params, tensors, info.num_tensors, &rng);
    for (uint32_t i = 0; i < info.num_tensors; i++)
        if (tensors[i].init == RH_INIT_ZERO)
            fill_uniform(params + tensors[i].offset, tensors[i].size, 0.5f, &rng);
    const uint32_t lengths[B] = {T, 3, 0, T, 1, T, 5, T, 2, T, T, 4, T, 6};
    float *x = xcalloc((uint64_t)T * B * D, sizeof(float));
    fill_uniform(x, (uint64_t)T * B * D, 1.0f, &rng);
    int32_t tokens[T * B];
    for (int i = 0; i < T * B; i++)
        tokens[i] = (int32_t)rh_rng_below(&rng, D);
    uint64_t ny = (uint64_t)T * B * info.output_dim, nh = (uint64_t)B * info.state_size;
    float *R = xcalloc(ny, sizeof(float)), *Q = xcalloc(nh, sizeof(float));
    fill_uniform(R, ny, 1.0f, &rng);
    fill_uniform(Q, nh, 1.0f, &rng);

    const rh_dropout_masks masks = {seed * 104729, 3};
    setup s1 = {one, info, params, x, R, Q, tokens, lengths, kind, D, options != NULL ? &masks : NULL}, s2 = s1;
    s2.m = two;
    run r1, r2;
    run_alloc(&r1, &s1);
    run_alloc(&r2, &s2);
    check(h, run_once(&r1, &s1) == 0 && run_once(&r2, &s2) == 0, "forward or backward failed");
    uint64_t bad = compare(&r2, &r1, &s1);
    check(h, bad == 0, "%llu values of forward and backward differ between one thread and two",
          (unsigned long long)bad);

    // Step on two threads from reset over every sequence at full length, against forward.
    {
        float *state = xcalloc(nh, sizeof(float)), *ys = xcalloc((uint64_t)B * info.output_dim, sizeof(float));
        float *scratch = xcalloc(two->vtable->step_scratch_size(two, B), sizeof(float));
        run full;
        run_alloc(&full, &s1);
        rh_batch batch = {T, B, NULL, kind == RH_INPUT_DENSE ? x : NULL, kind == RH_INPUT_TOKENS ? tokens : NULL};
        check(h, one->vtable->forward(one, full.y, full.h_T, full.ws, params, &batch, NULL) == RH_OK, "forward");
        two->vtable->reset(two, state, B);
        uint64_t off = 0;
        for (uint32_t t = 0; t < T; t++) {
            check(h,
                  two->vtable->step(two, ys, state, scratch, params,
                                    kind == RH_INPUT_DENSE ? x + (size_t)t * B * D : NULL,
                                    kind == RH_INPUT_TOKENS ? tokens + t * B : NULL, B) == RH_OK,
                  "step failed");
            for (uint64_t i = 0; i < (uint64_t)B * info.output_dim; i++)
                off += !(fabsf(ys[i] - full.y[(size_t)t * B * info.output_dim + i]) <=
                         1e-5f * (1.0f + fabsf(ys[i])));
        }
        off += count_apart(state, full.h_T, nh) > 0;
        check(h, off == 0, "%llu outputs of step on two threads differ from forward", (unsigned long long)off);
        run_free(&full);
        free(state), free(ys), free(scratch);
    }

    // Two calls at once on the two-thread model: one gets its threads, the other runs alone; both right.
    {
        concurrent c[2] = {{&s2, &r1, 0, 0}, {&s2, &r1, 0, 0}};
        pthread_t th;
        int started = pthread_create(&th, NULL, concurrent_main, &c[1]) == 0;
        concurrent_main(&c[0]);
        if (started)
            pthread_join(th, NULL);
        check(h, started && !c[0].failed && !c[1].failed && c[0].bad + c[1].bad == 0,
              "concurrent calls: %llu values differ", (unsigned long long)(c[0].bad + c[1].bad));
    }

    // In a child after fork the model's worker threads are gone: the call must still finish, and agree.
    {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            run rc;
            run_alloc(&rc, &s2);
            alarm(60); // a call waiting for threads that do not exist would hang
            _exit(run_once(&rc, &s2) == 0 && compare(&rc, &r1, &s1) == 0 ? 0 : 1);
        }
        int status = 0;
        check(h, pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a call in a forked child failed or differed (status %d)", status);
    }

    run_free(&r1), run_free(&r2);
    free(params), free(x), free(R), free(Q), free(tensors);
    one->vtable->destroy(one);
    // (OpenBLAS stops its own threads around fork and starts them again later, so only this difference
    // is the model's.)
    int with_two = count_threads();
    two->vtable->destroy(two);
    check(h, count_threads() == with_two - 1, "threads after destroy: %d, were %d with the model", count_threads(),
          with_two);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
        return 1;
    }
    harness h;
    if (harness_open(&h, argv[1]) != 0)
        return 1;
    run_case(&h, RH_INPUT_TOKENS, 11, 100, 2, 9, 5, NULL);
    run_case(&h, RH_INPUT_DENSE, 5, 128, 1, 0, 6, NULL);
    run_case(&h, RH_INPUT_TOKENS, 11, 100, 2, 9, 7, "dropout=0.3;recurrent_dropout=0.4");
    harness_close(&h);
    printf("%s: %s\n", argv[0], h.failures ? "FAILED" : "ok");
    return h.failures ? 1 : 0;
}
