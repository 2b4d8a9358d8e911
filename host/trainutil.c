#include "trainutil.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hostlog.h"

volatile sig_atomic_t train_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    train_interrupted = 1;
}

void train_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int train_ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
        return -1;
    }
    return mkdir(dir, 0777);
}

uint64_t train_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

int train_update(rh_optimizer *opt, float *params, float *grads, uint64_t n, double clip_value, double grad_clip,
                 double lr, double *norm, char *why, size_t why_len)
{
    *norm = rh_global_norm(grads, n);
    if (!isfinite(*norm)) {
        host_fmt(why, why_len, "the gradient is %s", isnan(*norm) ? "NaN" : "infinite");
        return -1;
    }
    if (clip_value > 0)
        rh_clip_value(grads, n, (float)clip_value);
    if (grad_clip > 0)
        rh_clip_global_norm(grads, n, grad_clip);
    opt->lr = (float)lr;
    rh_optimizer_step(opt, params, grads);
    if (!rh_all_finite(params, n)) {
        host_fmt(why, why_len, "the update made a weight non-finite");
        return -1;
    }
    return 0;
}

void train_checkpoint_path(char *out, size_t len, const char *dir, const char *task, uint64_t step, double val)
{
    if (isfinite(val))
        host_fmt(out, len, "%s/%s_step%07llu_val%.4f.safetensors", dir, task, (unsigned long long)step, val);
    else
        host_fmt(out, len, "%s/%s_step%07llu.safetensors", dir, task, (unsigned long long)step);
}

int train_read_rng(rh_rng *rng, const rh_weights *w, const char *path)
{
    rh_blob b;
    int32_t i = rh_weights_find(w, "train.rng");
    if (i < 0 || rh_weights_get(w, (uint32_t)i, &b) != RH_OK || b.dtype != RH_DTYPE_U64 || b.ndim != 1 ||
        b.shape[0] != 4) {
        hostlog_error("%s: not a checkpoint (no train.rng of 4 U64)", path);
        return -1;
    }
    memcpy(rng->s, b.data, sizeof rng->s);
    return 0;
}

double train_eta(double since_start, uint64_t first_step, uint64_t step, uint64_t total, double budget,
                 double elapsed)
{
    double eta = NAN;
    if (total && step > first_step && total > step)
        eta = since_start / (double)(step - first_step) * (double)(total - step);
    if (budget > 0 && (!isfinite(eta) || budget - elapsed < eta))
        eta = budget - elapsed;
    return eta;
}
