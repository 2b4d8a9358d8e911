/* rnnhost SDK: status codes shared by plugins, the SDK library and the host.
 *
 * Every function across the plugin ABI that can fail returns an rh_status. Codes are stable: a value,
 * once published, keeps its meaning in every later ABI version. New codes are only ever added.
 */
#ifndef RNNHOST_STATUS_H
#define RNNHOST_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t rh_status;

enum {
    RH_OK = 0,
    RH_ERR_INVALID_ARGUMENT = -1, /* a pointer, size, token or config value the callee cannot accept */
    RH_ERR_UNKNOWN_MODEL = -2,    /* create_model was given a model id the plugin does not provide */
    RH_ERR_NO_MEMORY = -3,        /* an allocation failed (only ever in create, never in step) */
    RH_ERR_UNSUPPORTED = -4,      /* a valid request the callee does not implement (e.g. an input kind) */
    RH_ERR_SHAPE = -5,            /* tensor shapes or sizes disagree */
    RH_ERR_FORMAT = -6,           /* malformed data: a weights file, a header, a string */
    RH_ERR_IO = -7,               /* the operating system refused a read or write */
    RH_ERR_NOT_FINITE = -8,       /* a NaN or an infinity where a finite number is required */
    RH_ERR_ABI = -9,              /* a struct or ABI version the callee does not understand */
    RH_ERR_INTERNAL = -10         /* a broken invariant inside the callee: a bug, please report it */
};

/* A short, static, English description of `status` ("invalid argument"). Never NULL; unknown codes give
 * "unknown status". Defined in libsdk (link with `pkg-config --libs rnnhost-sdk`). Thread-safe. */
const char *rh_strerror(rh_status status);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_STATUS_H */
