/* Optimizers: one step against the documented formula (recomputed here in double), convergence on a
 * quadratic, slot counts, and decoupled weight decay on a tiny buffer against values worked out by hand. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rnnhost/optim.h"
#include "rnnhost/rng.h"

enum { N = 16 };

static int close_to(double got, double want)
{
    return fabs(got - want) <= 1e-6 * fabs(want) + 1e-7;
}

/* Decoupled weight decay (AdamW): p -= lr W p, then the optimizer's own step from the gradient alone. With
 * lr 0.1 and W 0.5 every parameter first loses 5 % of itself. */
static void check_weight_decay(void)
{
    const float p0[4] = {1.0f, -2.0f, 0.5f, 0.0f}, g[4] = {0.5f, 0.25f, -1.0f, 2.0f};
    float p[4], state[8];
    rh_optimizer opt;

    rh_optimizer_init(&opt, RH_OPT_SGD, 0.1f, 4, NULL);
    CHECK(opt.weight_decay == 0.0f, "weight decay is not off by default");
    opt.weight_decay = 0.5f;
    memcpy(p, p0, sizeof p);
    rh_optimizer_step(&opt, p, g);
    // 0.95 p - 0.1 g
    const double sgd1[4] = {0.9, -1.925, 0.575, -0.2};
    for (int i = 0; i < 4; i++)
        CHECK(close_to(p[i], sgd1[i]), "sgd with decay: p[%d] %.9g, want %.9g", i, p[i], sgd1[i]);
    // the decay follows the rate of the step (a schedule's): 0.975 p - 0.05 g
    opt.lr = 0.05f;
    rh_optimizer_step(&opt, p, g);
    const double sgd2[4] = {0.9 * 0.975 - 0.025, -1.925 * 0.975 - 0.0125, 0.575 * 0.975 + 0.05, -0.2 * 0.975 - 0.1};
    for (int i = 0; i < 4; i++)
        CHECK(close_to(p[i], sgd2[i]), "sgd with decay, second step: p[%d] %.9g, want %.9g", i, p[i], sgd2[i]);

    // Adam's first step is lr sign(g) (m^ = g, v^ = g^2); the decay comes on top, unscaled by the moments:
    // 0.95 p - 0.1 sign(g). Decay added to the gradient instead (L2) would give 0.9, -1.9, 0.6, -0.1.
    rh_optimizer_init(&opt, RH_OPT_ADAM, 0.1f, 4, state);
    opt.weight_decay = 0.5f;
    memcpy(p, p0, sizeof p);
    rh_optimizer_step(&opt, p, g);
    const double adam1[4] = {0.85, -2.0, 0.575, -0.1};
    for (int i = 0; i < 4; i++)
        CHECK(close_to(p[i], adam1[i]), "adam with decay: p[%d] %.9g, want %.9g", i, p[i], adam1[i]);
    for (int i = 0; i < 4; i++)
        CHECK(close_to(state[i], 0.1 * g[i]) && close_to(state[4 + i], 0.001 * g[i] * g[i]),
              "adam's moments saw the decay: m[%d] %.9g, v[%d] %.9g", i, state[i], i, state[4 + i]);

    // Every kind: the moments are those of the same step without decay, and the weights differ by the decay.
    for (uint32_t kind = RH_OPT_SGD; kind <= RH_OPT_ADAM; kind++) {
        float q[4], without[4], plain_state[8];
        rh_optimizer plain;
        rh_optimizer_init(&opt, kind, 0.1f, 4, state);
        rh_optimizer_init(&plain, kind, 0.1f, 4, plain_state);
        opt.weight_decay = 0.5f;
        memcpy(q, p0, sizeof q);
        memcpy(without, p0, sizeof without);
        rh_optimizer_step(&opt, q, g);
        rh_optimizer_step(&plain, without, g);
        CHECK(memcmp(state, plain_state, rh_optimizer_slots(kind) * 4 * sizeof(float)) == 0,
              "kind %u: the decay reached the moments", kind);
        for (int i = 0; i < 4; i++)
            CHECK(close_to(q[i], without[i] - 0.05 * p0[i]), "kind %u: p[%d] %.9g, want %.9g", kind, i, q[i],
                  without[i] - 0.05 * p0[i]);
    }
}

int main(void)
{
    CHECK(rh_optimizer_slots(RH_OPT_SGD) == 0 && rh_optimizer_slots(RH_OPT_MOMENTUM) == 1 &&
              rh_optimizer_slots(RH_OPT_RMSPROP) == 1 && rh_optimizer_slots(RH_OPT_ADAM) == 2 &&
              rh_optimizer_slots(77) == 0,
          "slot counts");
    rh_optimizer opt;
    float state[2 * N];
    CHECK(rh_optimizer_init(&opt, 77, 0.1f, N, state) == RH_ERR_INVALID_ARGUMENT, "unknown kind accepted");
    CHECK(rh_optimizer_init(&opt, RH_OPT_ADAM, 0.1f, N, NULL) == RH_ERR_INVALID_ARGUMENT, "NULL state accepted");
    CHECK(rh_optimizer_init(&opt, RH_OPT_SGD, 0.1f, N, NULL) == RH_OK, "SGD needs no state");

    rh_rng rng;
    rh_rng_seed(&rng, 11);
    float p0[N], g1[N], g2[N];
    for (int i = 0; i < N; i++) {
        p0[i] = (float)rh_rng_normal(&rng);
        g1[i] = (float)rh_rng_normal(&rng);
        g2[i] = (float)(0.01 * rh_rng_normal(&rng));
    }

    for (uint32_t kind = RH_OPT_SGD; kind <= RH_OPT_ADAM; kind++) {
        for (int i = 0; i < 2 * N; i++)
            state[i] = 123.0f; // init must zero it
        CHECK(rh_optimizer_init(&opt, kind, 0.05f, N, state) == RH_OK, "init kind %u", kind);
        CHECK(opt.t == 0 && opt.n == N && opt.lr == 0.05f, "init fields kind %u", kind);
        int zeroed = 1;
        for (uint32_t i = 0; i < rh_optimizer_slots(kind) * N; i++)
            zeroed &= state[i] == 0.0f;
        CHECK(zeroed, "state not zeroed for kind %u", kind);
        CHECK(opt.momentum == 0.9f && opt.beta1 == 0.9f && opt.beta2 == 0.999f && opt.decay == 0.95f &&
                  opt.eps == 1e-8f,
              "defaults for kind %u", kind);

        // Two steps with different gradients, so that state carried between steps matters.
        float p[N];
        memcpy(p, p0, sizeof p);
        double ref[N], m[N] = {0}, v[N] = {0};
        for (int i = 0; i < N; i++)
            ref[i] = p0[i];
        const double lr = 0.05, mu = 0.9, b1 = 0.9, b2 = 0.999, dec = 0.95, eps = 1e-8;
        for (int step = 1; step <= 2; step++) {
            const float *g = step == 1 ? g1 : g2;
            rh_optimizer_step(&opt, p, g);
            CHECK(opt.t == (uint64_t)step, "t after step %d is %llu", step, (unsigned long long)opt.t);
            for (int i = 0; i < N; i++) {
                double gi = g[i];
                switch (kind) {
                case RH_OPT_SGD: ref[i] -= lr * gi; break;
                case RH_OPT_MOMENTUM:
                    m[i] = mu * m[i] + gi;
                    ref[i] -= lr * m[i];
                    break;
                case RH_OPT_RMSPROP:
                    m[i] = dec * m[i] + (1 - dec) * gi * gi;
                    ref[i] -= lr * gi / (sqrt(m[i]) + eps);
                    break;
                case RH_OPT_ADAM:
                    m[i] = b1 * m[i] + (1 - b1) * gi;
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                    ref[i] -= lr * (m[i] / (1 - pow(b1, step))) / (sqrt(v[i] / (1 - pow(b2, step))) + eps);
                    break;
                }
            }
            int match = 1;
            for (int i = 0; i < N; i++)
                match &= close_to(p[i], ref[i]);
            CHECK(match, "kind %u step %d differs from the formula (p[0] %.9g, want %.9g)", kind, step, p[0], ref[0]);
        }
        if (kind == RH_OPT_ADAM)
            CHECK(close_to(state[0], m[0]) && close_to(state[N], v[0]), "adam slots hold m then v");
        if (kind == RH_OPT_MOMENTUM || kind == RH_OPT_RMSPROP)
            CHECK(close_to(state[0], m[0]), "slot 0 of kind %u", kind);

        // Each optimizer walks f(p) = sum c_i (p_i - a_i)^2 / 2 downhill.
        float q[N], grad[N], c[N], a[N];
        for (int i = 0; i < N; i++) {
            c[i] = (float)(0.5 + i * 0.1);
            a[i] = (float)rh_rng_normal(&rng);
            q[i] = 0.0f;
        }
        rh_optimizer_init(&opt, kind, kind == RH_OPT_SGD || kind == RH_OPT_MOMENTUM ? 0.05f : 0.01f, N, state);
        double f0 = 0.0, f = 0.0;
        for (int i = 0; i < N; i++)
            f0 += 0.5 * c[i] * (q[i] - a[i]) * (q[i] - a[i]);
        for (int it = 0; it < 2000; it++) {
            for (int i = 0; i < N; i++)
                grad[i] = c[i] * (q[i] - a[i]);
            rh_optimizer_step(&opt, q, grad);
        }
        for (int i = 0; i < N; i++)
            f += 0.5 * c[i] * (q[i] - a[i]) * (q[i] - a[i]);
        CHECK(f < 1e-3 * f0, "kind %u: quadratic went from %g to %g", kind, f0, f);
    }
    check_weight_decay();
    TEST_EXIT();
}
