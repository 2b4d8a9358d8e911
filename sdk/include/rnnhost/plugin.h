/* rnnhost SDK: the plugin entry, the one symbol a plugin exports.
 *
 * A plugin is a shared module that exports exactly one dynamic symbol, `rnnhost_plugin_entry`, a const
 * rh_plugin_entry. Build it with hidden default visibility (-fvisibility=hidden) and mark the entry with
 * RH_PLUGIN_ENTRY. The host opens it with RTLD_NOW | RTLD_LOCAL and reads abi_version before anything
 * else: a plugin whose abi_version differs from the host's RH_ABI_VERSION is refused without any call.
 *
 *     RH_PLUGIN_ENTRY const rh_plugin_entry rnnhost_plugin_entry = {
 *         RH_ABI_VERSION, sizeof(rh_plugin_entry), "org.example.lstm", "LSTM", "Example", "1.0.0",
 *         model_count, model_descriptor, create_model, get_extension };
 *
 * A plugin has no global mutable state and no constructor: every model it creates is independent.
 */
#ifndef RNNHOST_PLUGIN_H
#define RNNHOST_PLUGIN_H

#include <stdint.h>

#include "host.h"
#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version. It changes only when a published struct changes in a way old code would misread;
 * new features arrive as extensions (get_extension) and members appended behind struct_size. */
#define RH_ABI_VERSION 1u

#define RH_ENTRY_SYMBOL "rnnhost_plugin_entry"

#if defined(_WIN32)
#define RH_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define RH_EXPORT __attribute__((visibility("default")))
#else
#define RH_EXPORT
#endif

#ifdef __cplusplus
#define RH_PLUGIN_ENTRY extern "C" RH_EXPORT
#else
#define RH_PLUGIN_ENTRY RH_EXPORT
#endif

/* Set in rh_model_descriptor.flags. */
enum {
    RH_MODEL_COMPOSITE = 1u << 0 /* needs rh_config.core: builds on another model through the host */
};

/* Static metadata of one model a plugin provides. Owned by the plugin, valid while it is loaded. */
typedef struct rh_model_descriptor {
    uint32_t struct_size;    /* sizeof(rh_model_descriptor) as the plugin compiled it */
    const char *id;          /* [a-z0-9_.-]+, shorter than RH_MAX_NAME, unique among loaded plugins */
    const char *name;        /* human name, one line */
    const char *version;     /* the model's own version, e.g. "1.0.0" */
    const char *description; /* one line */
    uint32_t input_kinds;    /* bitmask of RH_INPUT_* the model accepts */
    uint32_t flags;          /* RH_MODEL_* */
} rh_model_descriptor;

typedef struct rh_plugin_entry {
    uint32_t abi_version; /* RH_ABI_VERSION the plugin was built against. Always the first member. */
    uint32_t struct_size; /* sizeof(rh_plugin_entry) as the plugin compiled it */
    const char *id;       /* plugin id, [a-z0-9_.-]+, shorter than RH_MAX_NAME (e.g. "gru") */
    const char *name;     /* human name, one line */
    const char *vendor;   /* who made it, one line */
    const char *version;  /* the plugin's version, e.g. "1.0.0" */

    /* Number of models this plugin provides. Any thread. */
    uint32_t (*model_count)(void);

    /* Descriptor of model `index` (< model_count()), or NULL past the end. Any thread. */
    const rh_model_descriptor *(*model_descriptor)(uint32_t index);

    /* Creates a model. host is valid for the model's lifetime. On success returns RH_OK and sets *out;
     * on failure returns an error, leaves *out NULL and explains through host->log. An id the plugin does
     * not provide gives RH_ERR_UNKNOWN_MODEL. Any thread. */
    rh_status (*create_model)(const rh_host *host, const char *model_id, const rh_config *config,
                              rh_model **out);

    /* A plugin extension by versioned string id, or NULL. May itself be NULL when there are none. */
    const void *(*get_extension)(const char *extension_id);
} rh_plugin_entry;

/* The one exported symbol. Declared here so that its definition gets default visibility and C linkage. */
RH_EXPORT extern const rh_plugin_entry rnnhost_plugin_entry;

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_PLUGIN_H */
