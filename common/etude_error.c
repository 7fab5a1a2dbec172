/* etude_error.c - names for the codes of etude_error.h. */
#include "etude_error.h"

const char *etude_strerror(int err)
{
    switch (err) {
    case ETUDE_OK: return "success";
    case ETUDE_ENOMEM: return "out of memory";
    case ETUDE_EINVAL: return "invalid argument";
    case ETUDE_EFULL: return "full: the event table, the voice pool or a queue has no room";
    case ETUDE_ESTALE: return "stale handle: the slot was freed or reused, or the handle is malformed";
    case ETUDE_EDISPOSED: return "the voice is being disposed";
    case ETUDE_EDONE: return "the event was already dispatched or cancelled";
    case ETUDE_ESTATE: return "not valid in the current state";
    case ETUDE_EIO: return "a file, device or database could not be read or written";
    case ETUDE_EPARSE: return "malformed input";
    case ETUDE_EUNSUPPORTED: return "not supported";
    case ETUDE_ENOTFOUND: return "not found";
    case ETUDE_ENEWER: return "written by a newer etude";
    case ETUDE_EDELETED: return "the entity is deleted";
    case ETUDE_ETIMEOUT: return "deadline passed";
    case ETUDE_EEXIST: return "already exists";
    case ETUDE_ELIMIT: return "limit exceeded";
    case ETUDE_ENOTLOGGEDIN: return "not logged in";
    case ETUDE_EAUTH: return "authentication refused";
    case ETUDE_ENETWORK: return "network error";
    case ETUDE_ESERVER: return "server error";
    case ETUDE_EPROTOCOL: return "unusable answer";
    case ETUDE_EBACKOFF: return "server asked to retry later";
    case ETUDE_EUSER: return "the data belongs to another account";
    default: return err > 0 ? "not an error code (positive value)" : "unknown error code";
    }
}
