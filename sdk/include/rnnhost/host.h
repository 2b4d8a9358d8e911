/* rnnhost SDK: services the host offers to plugins.
 *
 * The host passes an rh_host to create_model. A plugin may keep the pointer for the model's lifetime:
 * the host keeps it valid until every model created with it has been destroyed. Plugins never print,
 * open files or exit; they explain through log and return an rh_status.
 */
#ifndef RNNHOST_HOST_H
#define RNNHOST_HOST_H

#include <stdint.h>

#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { RH_LOG_DEBUG = 0, RH_LOG_INFO = 1, RH_LOG_WARNING = 2, RH_LOG_ERROR = 3 };

typedef struct rh_host rh_host;

struct rh_host {
    uint32_t struct_size; /* sizeof(rh_host) as the host compiled it: check before reading a member
                             added after ABI version 1 */
    void *host_data;      /* host-private */

    /* One line of explanation, without a trailing newline, copied by the host before returning.
     * Any thread. Not real-time safe: never call it from step. */
    void (*log)(const rh_host *host, int32_t level, const char *message);

    /* Creates a model provided by any loaded plugin (the same plugin included): how a composite model
     * gets its recurrent core without copying its code. On success *out is a model the caller destroys
     * through its own vtable. Returns RH_ERR_UNKNOWN_MODEL when no loaded plugin provides model_id.
     * Any thread, but not from step. */
    rh_status (*create_model)(const rh_host *host, const char *model_id, const rh_config *config,
                              rh_model **out);

    /* A host extension by versioned string id ("rnnhost.something/1"), or NULL when the host has none. */
    const void *(*get_extension)(const rh_host *host, const char *extension_id);
};

/* Extension "rnnhost.threads/1": how many threads a model may use for one call of forward, backward or
 * step, the calling thread included. A host that runs several models or files at once says 1; one that
 * gives a single model the machine says how many cores that is. The value may change between calls, so a
 * model reads it at each call (it is cheap) and sizes any threads of its own when it is created. A host
 * without the extension means 1. */
#define RH_EXT_THREADS "rnnhost.threads/1"

typedef struct rh_ext_threads {
    uint32_t struct_size; /* sizeof(rh_ext_threads) as the host compiled it */
    uint32_t (*threads)(const rh_host *host);
} rh_ext_threads;

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_HOST_H */
