/* etude_error.c - names for the ETUDE_E* error codes of etude_engine.h. */
#include "etude_engine.h"

const char *etude_strerror(int err)
{
    switch (err) {
    case ETUDE_OK: return "success";
    case ETUDE_ENOMEM: return "out of memory";
    case ETUDE_EINVAL: return "invalid argument";
    case ETUDE_EFULL: return "the event table or the voice pool is full";
    case ETUDE_ESTALE: return "stale handle: the slot was freed or reused, or the handle is malformed";
    case ETUDE_EDISPOSED: return "the voice is being disposed";
    case ETUDE_EDONE: return "the event was already dispatched or cancelled";
    case ETUDE_ESTATE: return "not valid in the current state";
    case ETUDE_EIO: return "a file or device could not be read or written";
    case ETUDE_EPARSE: return "malformed input";
    case ETUDE_EUNSUPPORTED: return "not supported";
    default: return err > 0 ? "not an error code (positive value)" : "unknown error code";
    }
}
