/* _GNU_SOURCE comes from host/meson.build: dladdr1 gives the size of the entry symbol. */
#include "loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "hostlog.h"

#ifndef RH_PLUGIN_DIR
#define RH_PLUGIN_DIR "/usr/local/lib/rnnhost/plugins"
#endif
#ifndef RH_BUILD_ROOT
#define RH_BUILD_ROOT ""
#endif

#define MAX_MODELS 1024u

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- reading untrusted memory ---------------------------------------------------------------------
 * A plugin's pointers may point anywhere. write() from an unmapped address fails with EFAULT instead of
 * raising SIGSEGV, so copying through a pipe tells us whether the bytes are readable. Chunks stop at page
 * boundaries so a string ending just before an unmapped page is still read. */

static int probe_read(plugin_registry *r, void *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!src)
        return -1;
    while (n > 0) {
        size_t room = page - ((uintptr_t)s % page);
        size_t chunk = n < room ? n : room;
        ssize_t w, got = 0;
        if (chunk > 4096)
            chunk = 4096;
        w = write(r->probe_pipe[1], s, chunk);
        if (w <= 0)
            return -1;
        while (got < w) {
            ssize_t k = read(r->probe_pipe[0], d + got, (size_t)(w - got));
            if (k <= 0)
                return -1;
            got += k;
        }
        s += w, d += w, n -= (size_t)w;
    }
    return 0;
}

/* Copies a plugin string. Returns NULL on success, or what is wrong with it. */
static const char *probe_string(plugin_registry *r, char *dst, size_t cap, const char *src, int is_id)
{
    size_t i;
    if (!src)
        return "is NULL";
    for (i = 0; i < cap; i++) {
        unsigned char c;
        if (probe_read(r, &c, src + i, 1) != 0)
            return "points to unreadable memory";
        dst[i] = (char)c;
        if (c == '\0') {
            if (is_id && i == 0)
                return "is empty";
            return NULL;
        }
        if (is_id && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return "has characters outside [a-z0-9_.-]";
        if (c < 0x20 || c == 0x7f)
            return "contains control characters";
    }
    dst[cap - 1] = '\0';
    return is_id ? "is too long (RH_MAX_NAME)" : "is too long";
}

/* ---- the search path ------------------------------------------------------------------------------ */

static int push_search(plugin_registry *r, const char *item, size_t len)
{
    char **grown;
    char *s;
    if (len == 0) /* an empty element must not mean "here", as it would for LD_LIBRARY_PATH */
        return 0;
    if (!(s = malloc(len + 1)))
        return -1;
    memcpy(s, item, len);
    s[len] = '\0';
    if (!(grown = realloc(r->search, (r->num_search + 1) * sizeof *grown))) {
        free(s);
        return -1;
    }
    r->search = grown;
    r->search[r->num_search++] = s;
    return 0;
}

static int push_path_list(plugin_registry *r, const char *list)
{
    while (list && *list) {
        const char *colon = strchr(list, ':');
        size_t len = colon ? (size_t)(colon - list) : strlen(list);
        if (push_search(r, list, len) != 0)
            return -1;
        list = colon ? colon + 1 : NULL;
    }
    return 0;
}

/* A folder on the search path offers the plugins it holds directly (regular files named *.so, in name
 * order); the build tree's plugins/ folder its sub-folders, one per plugin. */
static const dir_walk_options plugin_files = {.suffixes = ".so"};
static const dir_walk_options plugin_folders = {.list = DIR_FOLDERS};

int host_in_build_tree(void)
{
    char self[PATH_MAX], built[PATH_MAX];
    if (RH_BUILD_ROOT[0] == '\0' || !realpath("/proc/self/exe", self) ||
        !realpath(RH_BUILD_ROOT "/host/rnnhost", built))
        return 0;
    return strcmp(self, built) == 0;
}

int registry_init(plugin_registry *r, const char *plugin_path_option)
{
    memset(r, 0, sizeof *r);
    if (pipe(r->probe_pipe) != 0) {
        r->probe_pipe[0] = r->probe_pipe[1] = -1;
        return -1;
    }
    fcntl(r->probe_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(r->probe_pipe[1], F_SETFD, FD_CLOEXEC);
    if (push_path_list(r, plugin_path_option) != 0 || push_path_list(r, getenv("RNNHOST_PLUGIN_PATH")) != 0)
        return -1;
    if (host_in_build_tree()) {
        size_t n, i;
        char **dirs;
        dir_list(&dirs, &n, RH_BUILD_ROOT "/plugins", &plugin_folders, NULL, 0); // none when it cannot be read
        for (i = 0; i < n; i++)
            if (push_search(r, dirs[i], strlen(dirs[i])) != 0)
                break;
        dir_list_free(dirs, n);
    } else {
        struct stat st;
        if (stat(RH_PLUGIN_DIR, &st) == 0 && S_ISDIR(st.st_mode))
            push_search(r, RH_PLUGIN_DIR, strlen(RH_PLUGIN_DIR));
    }
    return 0;
}

static void plugin_free(host_plugin *p)
{
    if (!p)
        return;
    if (p->handle)
        dlclose(p->handle);
    free(p->path);
    free(p->realpath);
    free(p->models);
    free(p);
}

void registry_free(plugin_registry *r)
{
    size_t i;
    for (i = 0; i < r->num_plugins; i++)
        plugin_free(r->plugins[i]);
    for (i = 0; i < r->num_errors; i++) {
        free(r->errors[i].path);
        free(r->errors[i].error);
    }
    free(r->plugins);
    free(r->errors);
    dir_list_free(r->search, r->num_search); // a list of malloc'd paths like dir_list's
    if (r->probe_pipe[0] >= 0) {
        close(r->probe_pipe[0]);
        close(r->probe_pipe[1]);
    }
    memset(r, 0, sizeof *r);
}

/* ---- host services --------------------------------------------------------------------------------- */

static void service_log(const rh_host *host, int32_t level, const char *message)
{
    host_plugin *p;
    plugin_registry *r;
    char line[512];
    const char *bad;
    if (!host || !(p = host->host_data))
        return;
    r = p->registry;
    /* Long messages are cut, not refused: a log line is still worth having. */
    bad = probe_string(r, line, sizeof line, message, 0);
    if (bad && strcmp(bad, "is too long") != 0)
        host_fmt(line, sizeof line, "(unreadable log message: %s)", bad);
    if (r->capture_log) {
        host_fmt(r->last_log, sizeof r->last_log, "%s", line);
        return;
    }
    if (level <= RH_LOG_DEBUG && !getenv("RNNHOST_DEBUG"))
        return;
    hostlog_info("%s: %s%s", p->id, level == RH_LOG_WARNING ? "warning: " : "", line);
}

static rh_status service_create_model(const rh_host *host, const char *model_id, const rh_config *config,
                                      rh_model **out)
{
    host_plugin *p;
    char id[RH_MAX_NAME];
    if (out)
        *out = NULL;
    if (!host || !(p = host->host_data) || !out || !config)
        return RH_ERR_INVALID_ARGUMENT;
    if (probe_string(p->registry, id, sizeof id, model_id, 1) != NULL)
        return RH_ERR_INVALID_ARGUMENT;
    return registry_create_model(p->registry, id, config, out);
}

/* The threads one call of a model may use: every online CPU until a command says otherwise. 0 means not
 * yet decided. */
static _Atomic uint32_t model_threads;

void host_set_model_threads(uint32_t n)
{
    atomic_store(&model_threads, n < 1 ? 1 : n);
}

uint32_t host_model_threads(void)
{
    uint32_t n = atomic_load(&model_threads);
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus < 1 ? 1 : cpus > 256 ? 256 : (uint32_t)cpus;
        atomic_store(&model_threads, n);
    }
    return n;
}

static uint32_t service_threads(const rh_host *host)
{
    (void)host;
    return host_model_threads();
}

static const rh_ext_threads threads_extension = {sizeof(rh_ext_threads), service_threads};

static const void *service_get_extension(const rh_host *host, const char *extension_id)
{
    (void)host;
    if (extension_id != NULL && strcmp(extension_id, RH_EXT_THREADS) == 0)
        return &threads_extension;
    return NULL;
}

/* ---- loading one file ------------------------------------------------------------------------------ */

static void record_error(plugin_registry *r, const char *path, const char *error)
{
    host_load_error *grown = realloc(r->errors, (r->num_errors + 1) * sizeof *grown);
    if (!grown)
        return;
    r->errors = grown;
    grown[r->num_errors].path = dup_str(path);
    grown[r->num_errors].error = dup_str(error);
    if (grown[r->num_errors].path && grown[r->num_errors].error) {
        r->num_errors++;
    } else {
        free(grown[r->num_errors].path);
        free(grown[r->num_errors].error);
    }
}

/* dlerror() repeats the path; keep only the reason and say plainly what it means. */
static void describe_dlerror(char *why, size_t why_len, const char *path)
{
    const char *e = dlerror();
    size_t plen = strlen(path);
    if (!e)
        e = "unknown dlopen failure";
    if (strncmp(e, path, plen) == 0 && e[plen] == ':')
        e += plen + 1 + (e[plen + 1] == ' ');
    if (strstr(e, "invalid ELF header") || strstr(e, "file too short"))
        host_fmt(why, why_len, "not a shared object (%s)", e);
    else
        host_fmt(why, why_len, "%s", e);
}

static int check_entry(plugin_registry *r, host_plugin *p, const void *sym, char *why, size_t why_len)
{
    uint32_t head[2];
    const ElfW(Sym) *elf_sym = NULL;
    Dl_info info;
    const char *bad;
    uint64_t symbol_size = sizeof(rh_plugin_entry);
    uint32_t i, j;

    if (dladdr1(sym, &info, (void **)&elf_sym, RTLD_DL_SYMENT) && elf_sym && elf_sym->st_size > 0)
        symbol_size = elf_sym->st_size;
    if (symbol_size < sizeof head || probe_read(r, head, sym, sizeof head) != 0) {
        host_fmt(why, why_len, "entry symbol '%s' is not an rh_plugin_entry", RH_ENTRY_SYMBOL);
        return -1;
    }
    /* The ABI version decides how to read everything else, so it is checked before anything else. */
    if (head[0] != RH_ABI_VERSION) {
        host_fmt(why, why_len, "built for plugin ABI %u, this host speaks ABI %u", head[0], RH_ABI_VERSION);
        return -1;
    }
    if (head[1] < sizeof(rh_plugin_entry) || symbol_size < sizeof(rh_plugin_entry)) {
        host_fmt(why, why_len, "entry struct_size %u is smaller than ABI %u's %u", head[1], RH_ABI_VERSION,
                 (unsigned)sizeof(rh_plugin_entry));
        return -1;
    }
    if (probe_read(r, &p->entry, sym, sizeof p->entry) != 0) {
        host_fmt(why, why_len, "entry symbol is unreadable");
        return -1;
    }
    if ((bad = probe_string(r, p->id, sizeof p->id, p->entry.id, 1)) != NULL) {
        host_fmt(why, why_len, "invalid entry: plugin id %s", bad);
        return -1;
    }
    if ((bad = probe_string(r, p->name, sizeof p->name, p->entry.name, 0)) != NULL ||
        (bad = probe_string(r, p->vendor, sizeof p->vendor, p->entry.vendor, 0)) != NULL ||
        (bad = probe_string(r, p->version, sizeof p->version, p->entry.version, 0)) != NULL) {
        host_fmt(why, why_len, "invalid entry: a name, vendor or version string %s", bad);
        return -1;
    }
    p->entry.id = p->id, p->entry.name = p->name, p->entry.vendor = p->vendor, p->entry.version = p->version;
    if (!p->entry.model_count || !p->entry.model_descriptor || !p->entry.create_model) {
        host_fmt(why, why_len, "invalid entry: model_count, model_descriptor and create_model must be set");
        return -1;
    }
    p->num_models = p->entry.model_count();
    if (p->num_models == 0 || p->num_models > MAX_MODELS) {
        host_fmt(why, why_len, "invalid entry: model_count %u (must be 1..%u)", p->num_models, MAX_MODELS);
        return -1;
    }
    if (!(p->models = calloc(p->num_models, sizeof *p->models))) {
        host_fmt(why, why_len, "out of memory");
        return -1;
    }
    for (i = 0; i < p->num_models; i++) {
        const rh_model_descriptor *dp = p->entry.model_descriptor(i);
        rh_model_descriptor d;
        host_model_desc *m = &p->models[i];
        if (!dp) {
            host_fmt(why, why_len, "invalid descriptor: model %u is NULL", i);
            return -1;
        }
        if (probe_read(r, &d.struct_size, dp, sizeof d.struct_size) != 0) {
            host_fmt(why, why_len, "invalid descriptor: model %u is unreadable", i);
            return -1;
        }
        if (d.struct_size < sizeof d || probe_read(r, &d, dp, sizeof d) != 0) {
            host_fmt(why, why_len, "invalid descriptor: model %u has struct_size %u, ABI %u needs %u", i,
                     d.struct_size, RH_ABI_VERSION, (unsigned)sizeof d);
            return -1;
        }
        if ((bad = probe_string(r, m->id, sizeof m->id, d.id, 1)) != NULL) {
            host_fmt(why, why_len, "invalid descriptor: model %u id %s", i, bad);
            return -1;
        }
        if ((bad = probe_string(r, m->name, sizeof m->name, d.name, 0)) != NULL ||
            (bad = probe_string(r, m->version, sizeof m->version, d.version, 0)) != NULL ||
            (bad = probe_string(r, m->description, sizeof m->description, d.description, 0)) != NULL) {
            host_fmt(why, why_len, "invalid descriptor: model '%s' has a name, version or description that %s",
                     m->id, bad);
            return -1;
        }
        m->input_kinds = d.input_kinds;
        m->flags = d.flags;
        if (m->input_kinds == 0 || (m->input_kinds & ~(uint32_t)(RH_INPUT_DENSE | RH_INPUT_TOKENS)) != 0) {
            host_fmt(why, why_len, "invalid descriptor: model '%s' has input_kinds 0x%x", m->id, m->input_kinds);
            return -1;
        }
        for (j = 0; j < i; j++)
            if (strcmp(p->models[j].id, m->id) == 0) {
                host_fmt(why, why_len, "invalid descriptor: model id '%s' appears twice", m->id);
                return -1;
            }
    }
    return 0;
}

/* First come, first served: the earlier plugin on the search path keeps its ids. */
static int check_conflicts(plugin_registry *r, const host_plugin *p, char *why, size_t why_len)
{
    size_t k;
    uint32_t i, j;
    for (k = 0; k < r->num_plugins; k++) {
        const host_plugin *q = r->plugins[k];
        if (strcmp(q->id, p->id) == 0) {
            host_fmt(why, why_len, "plugin id '%s' is already provided by %s", p->id, q->path);
            return -1;
        }
        for (i = 0; i < p->num_models; i++)
            for (j = 0; j < q->num_models; j++)
                if (strcmp(p->models[i].id, q->models[j].id) == 0) {
                    host_fmt(why, why_len, "model id '%s' is already provided by %s", p->models[i].id, q->path);
                    return -1;
                }
    }
    return 0;
}

host_plugin *registry_load_file(plugin_registry *r, const char *path, char *why, size_t why_len)
{
    char resolved[PATH_MAX], *open_path = NULL;
    struct stat st;
    host_plugin *p = NULL, **grown;
    void *sym;
    size_t k;

    if (stat(path, &st) != 0) {
        host_fmt(why, why_len, "%s", errno == ENOENT ? "no such file" : strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        host_fmt(why, why_len, "%s", S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        goto fail;
    }
    if (!realpath(path, resolved)) {
        host_fmt(why, why_len, "%s", strerror(errno));
        goto fail;
    }
    for (k = 0; k < r->num_plugins; k++)
        if (strcmp(r->plugins[k]->realpath, resolved) == 0)
            return r->plugins[k];
    if (!(p = calloc(1, sizeof *p)) || !(p->path = dup_str(path)) || !(p->realpath = dup_str(resolved))) {
        host_fmt(why, why_len, "out of memory");
        goto fail;
    }
    p->registry = r;
    /* dlopen searches LD_LIBRARY_PATH for a name without a slash; our paths are always paths. */
    if (!strchr(path, '/')) {
        if (!(open_path = malloc(strlen(path) + 3))) {
            host_fmt(why, why_len, "out of memory");
            goto fail;
        }
        sprintf(open_path, "./%s", path);
    }
    dlerror();
    p->handle = dlopen(open_path ? open_path : path, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        describe_dlerror(why, why_len, open_path ? open_path : path);
        goto fail;
    }
    sym = dlsym(p->handle, RH_ENTRY_SYMBOL);
    if (sym) {
        /* dlsym also searches the object's dependencies; the entry must be this file's own. */
        Dl_info info;
        char owner[PATH_MAX];
        if (!dladdr(sym, &info) || !info.dli_fname || !realpath(info.dli_fname, owner) ||
            strcmp(owner, resolved) != 0)
            sym = NULL;
    }
    if (!sym) {
        host_fmt(why, why_len, "no entry symbol '%s' (not an rnnhost plugin)", RH_ENTRY_SYMBOL);
        goto fail;
    }
    if (check_entry(r, p, sym, why, why_len) != 0 || check_conflicts(r, p, why, why_len) != 0)
        goto fail;
    p->host.struct_size = sizeof p->host;
    p->host.host_data = p;
    p->host.log = service_log;
    p->host.create_model = service_create_model;
    p->host.get_extension = service_get_extension;
    if (!(grown = realloc(r->plugins, (r->num_plugins + 1) * sizeof *grown))) {
        host_fmt(why, why_len, "out of memory");
        goto fail;
    }
    r->plugins = grown;
    r->plugins[r->num_plugins++] = p;
    free(open_path);
    return p;
fail:
    free(open_path);
    plugin_free(p);
    record_error(r, path, why);
    return NULL;
}

size_t registry_load_search_path(plugin_registry *r)
{
    size_t i;
    if (!r->search_loaded) {
        r->search_loaded = 1;
        for (i = 0; i < r->num_search; i++) {
            struct stat st;
            char why[512];
            if (stat(r->search[i], &st) == 0 && S_ISDIR(st.st_mode)) {
                size_t n, k;
                char **files;
                dir_list(&files, &n, r->search[i], &plugin_files, NULL, 0); // none when it cannot be read
                for (k = 0; k < n; k++)
                    registry_load_file(r, files[k], why, sizeof why);
                dir_list_free(files, n);
            } else {
                registry_load_file(r, r->search[i], why, sizeof why);
            }
        }
    }
    return r->num_errors;
}

static host_plugin *find_loaded(plugin_registry *r, const char *id, int plugin_ids, const host_model_desc **desc)
{
    size_t k;
    uint32_t i;
    for (k = 0; k < r->num_plugins; k++) {
        host_plugin *p = r->plugins[k];
        if (plugin_ids && strcmp(p->id, id) == 0)
            return p;
        for (i = 0; i < p->num_models; i++)
            if (strcmp(p->models[i].id, id) == 0) {
                if (desc)
                    *desc = &p->models[i];
                return p;
            }
    }
    return NULL;
}

host_plugin *registry_find(plugin_registry *r, const char *id)
{
    host_plugin *p = find_loaded(r, id, 1, NULL);
    if (!p && !r->search_loaded) {
        registry_load_search_path(r);
        p = find_loaded(r, id, 1, NULL);
    }
    return p;
}

host_plugin *registry_find_model(plugin_registry *r, const char *model_id, const host_model_desc **desc)
{
    host_plugin *p = find_loaded(r, model_id, 0, desc);
    if (!p && !r->search_loaded) {
        registry_load_search_path(r);
        p = find_loaded(r, model_id, 0, desc);
    }
    return p;
}

rh_status registry_create_model(plugin_registry *r, const char *model_id, const rh_config *config,
                                rh_model **out)
{
    host_plugin *p = registry_find_model(r, model_id, NULL);
    *out = NULL;
    if (!p)
        return RH_ERR_UNKNOWN_MODEL;
    return p->entry.create_model(&p->host, model_id, config, out);
}

const char *input_kinds_name(uint32_t kinds)
{
    switch (kinds & (RH_INPUT_DENSE | RH_INPUT_TOKENS)) {
    case RH_INPUT_DENSE: return "dense";
    case RH_INPUT_TOKENS: return "tokens";
    case RH_INPUT_DENSE | RH_INPUT_TOKENS: return "dense+tokens";
    default: return "none";
    }
}
