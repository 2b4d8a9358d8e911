/* The plugin loader: the search path, dlopen, and every check that stands between an untrusted shared
 * object and the rest of the host. Nothing a plugin says is used before it has been bounds-checked and
 * copied into host-owned memory, so a listing never touches plugin memory again. */
#ifndef RNNHOST_LOADER_H
#define RNNHOST_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "rnnhost/rnnhost.h"

/* Strings a plugin gives us are one line, shorter than this. */
#define HOST_MAX_STRING 256

typedef struct plugin_registry plugin_registry;

typedef struct host_model_desc {
    char id[RH_MAX_NAME];
    char name[HOST_MAX_STRING];
    char version[HOST_MAX_STRING];
    char description[HOST_MAX_STRING];
    uint32_t input_kinds; /* RH_INPUT_* bitmask */
    uint32_t flags;       /* RH_MODEL_* */
} host_model_desc;

typedef struct host_plugin {
    char *path;     /* as found on the search path or given */
    char *realpath; /* to recognise the same file reached twice */
    void *handle;
    rh_plugin_entry entry; /* copied; its strings point into the arrays below, never into the plugin */
    char id[RH_MAX_NAME];
    char name[HOST_MAX_STRING];
    char vendor[HOST_MAX_STRING];
    char version[HOST_MAX_STRING];
    uint32_t num_models;
    host_model_desc *models;
    rh_host host; /* per plugin, so log lines can name who is speaking */
    plugin_registry *registry;
} host_plugin;

typedef struct host_load_error {
    char *path;
    char *error; /* the reason only; the caller prefixes "cannot load plugin PATH: " */
} host_load_error;

struct plugin_registry {
    char **search;  /* files and directories, in search order */
    size_t num_search;
    int search_loaded;
    host_plugin **plugins; /* in load order: on a conflict the earlier one wins */
    size_t num_plugins;
    host_load_error *errors;
    size_t num_errors;
    int probe_pipe[2]; /* lets us test whether plugin pointers are readable without faulting */
    /* When set, plugin log lines are kept in last_log instead of printed: the validator provokes
     * failures on purpose and reports the plugin's explanation as part of a check. */
    int capture_log;
    char last_log[512];
};

/* Builds the search path: plugin_path_option (may be NULL), then $RNNHOST_PLUGIN_PATH, then the
 * build tree's plugins or the installed plugin directory. Never the current directory. */
int registry_init(plugin_registry *r, const char *plugin_path_option);
void registry_free(plugin_registry *r);

/* Loads one file. Returns the plugin (an already loaded one when it is the same file), or NULL with the
 * failure recorded in r->errors and copied into why. */
host_plugin *registry_load_file(plugin_registry *r, const char *path, char *why, size_t why_len);

/* Loads everything on the search path, once. Returns how many files failed (now or earlier). */
size_t registry_load_search_path(plugin_registry *r);

/* A loaded plugin with this plugin id, else one providing this model id; loads the search path first
 * if nothing loaded matches. NULL when none. */
host_plugin *registry_find(plugin_registry *r, const char *id);

/* The plugin providing model_id and its descriptor, loading the search path on demand. */
host_plugin *registry_find_model(plugin_registry *r, const char *model_id, const host_model_desc **desc);

/* Creates model_id through the plugin that provides it, with that plugin's host services. */
rh_status registry_create_model(plugin_registry *r, const char *model_id, const rh_config *config,
                                rh_model **out);

/* 1 when this process is the rnnhost of the build tree it was built in: it then uses that tree's
 * plugins and presets instead of the installed ones. */
int host_in_build_tree(void);

/* The threads one call of forward, backward or step may use, which models read through the
 * "rnnhost.threads/1" extension: every online CPU until a command sets it. A command that runs calls in
 * parallel (files in transcription) sets 1 for as long as it does. */
void host_set_model_threads(uint32_t n);
uint32_t host_model_threads(void);

/* "dense", "tokens" or "dense+tokens" for an input bitmask. */
const char *input_kinds_name(uint32_t kinds);

#endif /* RNNHOST_LOADER_H */
