/* Optimizers: one step against the documented formula (recomputed here in double), convergence on a
 * quadratic, slot counts. */
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
    TEST_EXIT();
}
