#include "harness.h"
#include "rnnhost/kit/cpulevel.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_log(const rh_host *host, int32_t level, const char *message)
{
    (void)host;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "  [plugin %s] %s\n", level >= 0 && level <= 3 ? names[level] : "?", message);
}

/* The "rnnhost.threads/1" grant: harness_set_threads changes what models created and called afterwards
 * may use; 1 (no threads of their own) until a test says otherwise. */
static uint32_t granted_threads = 1;

void harness_set_threads(uint32_t n)
{
    granted_threads = n;
}

static uint32_t test_threads(const rh_host *host)
{
    (void)host;
    return granted_threads;
}

static const rh_ext_threads threads_ext = {sizeof(rh_ext_threads), test_threads};

static const void *test_get_extension(const rh_host *host, const char *id)
{
    (void)host;
    return strcmp(id, RH_EXT_THREADS) == 0 ? &threads_ext : NULL;
}

int harness_open(harness *h, const char *path)
{
    memset(h, 0, sizeof *h);
    // A forced kernel level the CPU lacks would quietly test another one: refuse it, as the host does.
    cpu_level level;
    int r = cpu_level_request(&level);
    if (r < 0) {
        fprintf(stderr, "%s=%s: %s\n", CPU_LEVEL_ENV, getenv(CPU_LEVEL_ENV),
                r == -1 ? "not a kernel level (plain, avx2, avx512)" : "this CPU cannot run that level");
        return -1;
    }
    if (r == 1)
        fprintf(stderr, "kernel level forced: %s\n", cpu_level_name(level));
    h->host.struct_size = sizeof h->host;
    h->host.log = test_log;
    h->host.get_extension = test_get_extension;
    h->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h->handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    h->entry = (const rh_plugin_entry *)dlsym(h->handle, RH_ENTRY_SYMBOL);
    if (h->entry == NULL || h->entry->abi_version != RH_ABI_VERSION) {
        fprintf(stderr, "%s: no %s of ABI version %u\n", path, RH_ENTRY_SYMBOL, RH_ABI_VERSION);
        dlclose(h->handle);
        h->handle = NULL;
        return -1;
    }
    return 0;
}

void harness_close(harness *h)
{
    if (h->handle != NULL)
        dlclose(h->handle);
    h->handle = NULL;
}

const char *harness_model_id(const harness *h)
{
    return h->entry->model_descriptor(0)->id;
}

rh_model *harness_create(harness *h, uint32_t kind, uint32_t input_dim, uint32_t hidden, uint32_t layers,
                         uint32_t output_dim, rh_status *status)
{
    return harness_create_with(h, kind, input_dim, hidden, layers, output_dim, NULL, status);
}

rh_model *harness_create_with(harness *h, uint32_t kind, uint32_t input_dim, uint32_t hidden, uint32_t layers,
                              uint32_t output_dim, const char *options, rh_status *status)
{
    rh_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.input_kind = kind;
    c.input_dim = input_dim;
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.output_dim = output_dim;
    c.options = options;
    rh_model *m = NULL;
    rh_status st = h->entry->create_model(&h->host, harness_model_id(h), &c, &m);
    if (status != NULL)
        *status = st;
    return st == RH_OK ? m : NULL;
}

rh_model_info harness_info(const rh_model *m)
{
    rh_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    m->vtable->get_info(m, &info);
    return info;
}

void fill_uniform(float *x, uint64_t n, float scale, rh_rng *rng)
{
    for (uint64_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * rh_rng_uniform(rng) - 1.0) * scale);
}

int check(harness *h, int cond, const char *fmt, ...)
{
    if (cond)
        return 1;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    h->failures++;
    return 0;
}

void *xcalloc(uint64_t count, uint64_t size)
{
    // calloc(0) may return NULL; a test asking for nothing still wants a valid pointer.
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}
