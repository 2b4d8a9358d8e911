/* rh_strerror: the one place status codes become words. */
#include "rnnhost/status.h"

const char *rh_strerror(rh_status status)
{
    switch (status) {
    case RH_OK: return "ok";
    case RH_ERR_INVALID_ARGUMENT: return "invalid argument";
    case RH_ERR_UNKNOWN_MODEL: return "unknown model";
    case RH_ERR_NO_MEMORY: return "out of memory";
    case RH_ERR_UNSUPPORTED: return "unsupported";
    case RH_ERR_SHAPE: return "shape mismatch";
    case RH_ERR_FORMAT: return "malformed data";
    case RH_ERR_IO: return "input/output error";
    case RH_ERR_NOT_FINITE: return "not a finite number";
    case RH_ERR_ABI: return "ABI mismatch";
    case RH_ERR_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}
