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

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_HOST_H */
