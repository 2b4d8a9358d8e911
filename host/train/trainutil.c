#include "trainutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "dirwalk.h"
#include "hostlog.h"

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
    if (grad_clip > 0 && clip_value > 0) /* the values clipped: the norm changed */
        rh_clip_global_norm(grads, n, grad_clip);
    else if (grad_clip > 0)
        rh_clip_to_norm(grads, n, *norm, grad_clip);
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

/* name is PREFIX(anything when wild).tmp.XXXXXX, as mkstemp completes it. */
static int is_temp_of(const char *name, const char *prefix, int wild)
{
    const size_t n = strlen(name), p = strlen(prefix), tail = sizeof ".tmp.XXXXXX" - 1;
    if (n < p + tail || strncmp(name, prefix, p) != 0 || strncmp(name + n - tail, ".tmp.", 5) != 0)
        return 0;
    if (!wild && n != p + tail)
        return 0;
    for (size_t i = n - 6; i < n; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= 'A' && name[i] <= 'Z')))
            return 0;
    return 1;
}

typedef struct temp_walk {
    const char *prefix, *suffix;
    int wild;
    size_t removed;
} temp_walk;

static int remove_if_temp(void *ctx, const dir_entry *e)
{
    temp_walk *w = ctx;
    const size_t n = strlen(e->name), s = strlen(w->suffix), tail = sizeof ".tmp.XXXXXX" - 1;
    if (is_temp_of(e->name, w->prefix, w->wild) && n >= tail + s &&
        strncmp(e->name + n - tail - s, w->suffix, s) == 0 && unlink(e->path) == 0)
        w->removed++;
    return 0;
}

/* Removes dir's temporary files of prefix and suffix (hidden ones too: a temporary file may start with '.');
 * a folder that cannot be read has none to remove. */
static size_t remove_temps(const char *dir, const char *prefix, int wild, const char *suffix)
{
    temp_walk w = {prefix, suffix, wild, 0};
    const dir_walk_options opts = {.list = DIR_FILES, .hidden = 1};
    (void)dir_walk(dir, &opts, remove_if_temp, &w, NULL, 0);
    return w.removed;
}

size_t train_remove_stale_temps(const char *dir, const char *task, const char *out)
{
    char prefix[256];
    host_fmt(prefix, sizeof prefix, "%s_step", task);
    size_t removed = remove_temps(dir, prefix, 1, ".safetensors");
    // out's temporary files lie beside the file it replaces, which is out itself unless out is a link
    char *target = out ? output_target(out) : NULL;
    char *odir = target ? path_dir(target) : NULL;
    if (odir) {
        const char *slash = strrchr(target, '/');
        removed += remove_temps(odir, slash ? slash + 1 : target, 0, "");
    }
    free(odir);
    free(target);
    return removed;
}

int train_check_output(const char *out)
{
    if (!output_is_stream(out))
        return 0;
    hostlog_usage("train: -o needs a model file, not %s (a model is written whole, and a speech model is rewritten "
                  "as validation improves): write a file and copy it", strcmp(out, "-") == 0 ? "'-'" : out);
    return -1;
}

FILE *train_open_log(const char *path, int append)
{
    if (output_is_stream(path))
        return output_stream_open(path);
    if (!append)
        return fopen(path, "w");
    FILE *f = fopen(path, "a+");
    if (!f)
        return NULL;
    // Back from the end to the last newline: whatever follows it is a line cut short by a kill.
    char buf[4096];
    if (fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    off_t end = ftello(f), keep = 0;
    for (off_t pos = end; pos > 0 && !keep;) {
        const size_t n = (size_t)(pos < (off_t)sizeof buf ? pos : (off_t)sizeof buf);
        pos -= (off_t)n;
        if (fseeko(f, pos, SEEK_SET) != 0 || fread(buf, 1, n, f) != n) {
            fclose(f);
            errno = errno ? errno : EIO;
            return NULL;
        }
        for (size_t i = n; i > 0; i--)
            if (buf[i - 1] == '\n') {
                keep = pos + (off_t)i;
                break;
            }
    }
    if ((keep != end && ftruncate(fileno(f), keep) != 0) || fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    return f; // "a+": every write goes to the (new) end
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
