/* etude_error.h - the one error space of etude: every library (engine, voices, store, sync client,
 * plugins, etude-syncd) returns 0 or one of these negative codes, and etude_strerror() names them.
 *
 * Module headers keep their historical names (ETUDE_STORE_EIO, ETUDE_SYNC_EAUTH, ...) as aliases
 * of these values, so a code means the same thing wherever it comes from.
 *
 * Threads: [any]; no state.
 */
#ifndef ETUDE_ERROR_H
#define ETUDE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum etude_error {
    ETUDE_OK = 0,
    ETUDE_ENOMEM = -1,        /* out of memory */
    ETUDE_EINVAL = -2,        /* invalid argument or configuration */
    ETUDE_EFULL = -3,         /* the event table, the voice pool or a queue is full */
    ETUDE_ESTALE = -4,        /* the handle names a slot that was freed or reused */
    ETUDE_EDISPOSED = -5,     /* the voice is being disposed: no further operations */
    ETUDE_EDONE = -6,         /* the event was already dispatched or cancelled */
    ETUDE_ESTATE = -7,        /* not valid in the current state */
    ETUDE_EIO = -8,           /* a file, device or database could not be read or written */
    ETUDE_EPARSE = -9,        /* malformed input */
    ETUDE_EUNSUPPORTED = -10, /* not supported */
    ETUDE_ENOTFOUND = -20,    /* no such entity, user, conflict or file */
    ETUDE_ENEWER = -21,       /* written by a newer etude: refused */
    ETUDE_EDELETED = -22,     /* the entity is a tombstone: it cannot be edited */
    ETUDE_ETIMEOUT = -23,     /* a deadline passed with work left */
    ETUDE_EEXIST = -24,       /* already exists */
    ETUDE_ELIMIT = -25,       /* a size or rate limit was exceeded */
    ETUDE_ENOTLOGGEDIN = -30, /* no token: run `etude sync login` */
    ETUDE_EAUTH = -31,        /* credentials or token refused */
    ETUDE_ENETWORK = -32,     /* connection refused, reset, timed out, TLS failure */
    ETUDE_ESERVER = -33,      /* 5xx, 429 or an unreadable answer, after the retries */
    ETUDE_EPROTOCOL = -34,    /* the peer answered something this side cannot use */
    ETUDE_EBACKOFF = -36,     /* the server asked to wait (Retry-After) beyond the deadline */
    ETUDE_EUSER = -38         /* the data belongs to another account */
};

/* [any] A static, human-readable name for an ETUDE_E* code. Never NULL. */
const char *etude_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_ERROR_H */
