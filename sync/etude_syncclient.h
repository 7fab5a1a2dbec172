/* etude_syncclient.h - the network side of sync: a GraphQL-over-HTTP client for etude-syncd and
 * the orchestrator that pushes the local store's outbox in batches, pulls remote pages, settles
 * conflicts and duplicates, retries with backoff and keeps the login token.
 *
 * Threads. A client handle belongs to one thread at a time: every function is [any] but not
 * reentrant on the same handle (the sync plugin's worker owns one; the CLI owns its own). Several
 * handles, in several processes, may work on the same $ETUDE_HOME: the store's SQLite WAL
 * serialises the writers.
 *
 * Errors. Functions return 0 or a negative ETUDE_SYNC_E* code; etude_syncclient_errmsg() gives
 * a one-line description of the last failure (the flag, field or URL at fault).
 *
 * Files under the data directory: etude.db (the store: this module reads and writes its sync_meta,
 * outbox, conflicts and dead_letter tables only through the store's functions, on the store
 * handle's one connection), sync-token.json (mode 0600: server URL,
 * user, access and refresh tokens, CA file) and sync.json (optional settings, see docs/sync.md).
 */
#ifndef ETUDE_SYNCCLIENT_H
#define ETUDE_SYNCCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "etude_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The sync client's codes are names in the project's one error space (etude_error.h). */
#define ETUDE_SYNC_OK ETUDE_OK
#define ETUDE_SYNC_ENOMEM ETUDE_ENOMEM             /* out of memory */
#define ETUDE_SYNC_EINVAL ETUDE_EINVAL             /* invalid argument or configuration */
#define ETUDE_SYNC_EIO ETUDE_EIO                   /* the local store or a file failed */
#define ETUDE_SYNC_ENOTLOGGEDIN ETUDE_ENOTLOGGEDIN /* no token: run `etude sync login` */
#define ETUDE_SYNC_EAUTH ETUDE_EAUTH               /* the server refused the credentials or the refresh token */
#define ETUDE_SYNC_ENETWORK ETUDE_ENETWORK         /* connection refused, reset, timed out, TLS failure */
#define ETUDE_SYNC_ESERVER ETUDE_ESERVER           /* 5xx, 429 or an unreadable answer, after the retries */
#define ETUDE_SYNC_EPROTOCOL ETUDE_EPROTOCOL       /* the server answered something this client cannot use */
#define ETUDE_SYNC_ETIMEOUT ETUDE_ETIMEOUT         /* the deadline passed with work left */
#define ETUDE_SYNC_EBACKOFF ETUDE_EBACKOFF         /* the server asked to wait (Retry-After) beyond the deadline */
#define ETUDE_SYNC_ENOTFOUND ETUDE_ENOTFOUND       /* no such conflict */
#define ETUDE_SYNC_EUSER ETUDE_EUSER               /* kept for callers; no longer returned: accounts are partitioned */

/* [any] A static name for an error code: etude_strerror(). Never NULL. */
#define etude_sync_strerror(err) etude_strerror(err)

/* How a conflict (both sides changed one entity) is settled. */
enum etude_sync_strategy {
    ETUDE_SYNC_LAST_WRITE_WINS = 0, /* newer updatedAt wins; a tie goes to the larger checksum */
    ETUDE_SYNC_SERVER_WINS = 1,
    ETUDE_SYNC_CLIENT_WINS = 2,
    ETUDE_SYNC_MANUAL = 3           /* kept for `etude sync resolve` */
};

/* What happens to a batch once max_retries transient failures in a row are spent. */
enum etude_sync_past_limit {
    ETUDE_SYNC_PAST_LIMIT_KEEP = 0,       /* stays queued; state "error"; next sync tries again */
    ETUDE_SYNC_PAST_LIMIT_DEAD_LETTER = 1 /* the batch's changes move to the dead-letter table */
};

typedef struct etude_sync_config {
    int strategy;            /* etude_sync_strategy; default last-write-wins */
    int batch_max;           /* entities per upload, default 250 (capped by the server's limit) */
    size_t batch_bytes;      /* uncompressed request size cap, default 1 MiB */
    int page_size;           /* syncChanges page size, default 500 */
    int max_retries;         /* transient failures in a row before giving up, default 6 */
    int64_t backoff_base_ms; /* first backoff ceiling, default 250 */
    double backoff_multiplier; /* ceiling growth per retry, default 2 */
    int64_t backoff_max_ms;  /* ceiling cap, default 30000 */
    int past_limit;          /* etude_sync_past_limit; default keep */
    long request_timeout_s;  /* one HTTP request, default 30 */
    int wait_while_playing;  /* uploads wait while the engine plays (the plugin), default 1 */
    int interval_s;          /* the orchestrator's periodic sync, default 300 */
    int debounce_ms;         /* quiet time after a data change before syncing, default 2000 */
} etude_sync_config_t;

/* [any] Fill *cfg with the defaults above. */
void etude_sync_config_defaults(etude_sync_config_t *cfg);

/* [any] Read home/sync.json over *cfg (missing file: unchanged). A bad value fails with
 * ETUDE_SYNC_EINVAL and err names the file and field. */
int etude_sync_config_load(const char *home, etude_sync_config_t *cfg, char *err, size_t errsize);

typedef struct etude_syncclient etude_syncclient_t;

/* Optional event sink: topic "sync", names sync:started, sync:completed, sync:error; json is an
 * object text valid for the call only. */
typedef void (*etude_sync_publish_fn)(void *ctx, const char *topic, const char *name, const char *json);

/* @startlifecycle syncclient
 * [any] Open a client over the data directory home (NULL: etude_store_home()), opening the store
 * (home/etude.db, migrated) and reading sync.json and sync-token.json. cfg NULL: sync.json over
 * the defaults. On failure *out is still set when the message could be kept (read it with
 * etude_syncclient_errmsg(), then close), else NULL. */
int etude_syncclient_open(const char *home, const etude_sync_config_t *cfg, etude_syncclient_t **out);

/* [any] Close the handle. NULL accepted. */
void etude_syncclient_close(etude_syncclient_t *c);
/* @endlifecycle */

/* [any] The last failure's one-line description; "" if none. Valid until the next call. */
const char *etude_syncclient_errmsg(const etude_syncclient_t *c);

/* [any] Set the bus sink (may be NULL). */
void etude_syncclient_set_publish(etude_syncclient_t *c, etude_sync_publish_fn fn, void *ctx);

/* [any] Log in to server_url (http:// or https://) as user. cacert (may be NULL) is a PEM file of
 * the CA that signed the server's certificate; https always verifies. The account becomes the
 * store's active one (etude_store_set_account): the first account ever adopts the anonymous local
 * data; another account's data stays in its partition. Does not sync (call etude_syncclient_sync
 * with full = 1). Refuses plain http to a non-loopback host (see etude_syncclient_login_opts). */
int etude_syncclient_login(etude_syncclient_t *c, const char *server_url, const char *user,
                           const char *password, const char *cacert);

/* Flags of etude_syncclient_login_opts(). */
#define ETUDE_SYNC_LOGIN_ALLOW_INSECURE_HTTP 1u /* accept http:// to a host that is not loopback */

/* [any] etude_syncclient_login() with flags. Plain http:// to a host that is not loopback
 * (127.0.0.0/8, ::1, localhost) is refused with ETUDE_SYNC_EINVAL (the message names
 * --allow-insecure-http) unless ETUDE_SYNC_LOGIN_ALLOW_INSECURE_HTTP is given; the choice is
 * remembered with the token, and a sync to such a server without it is refused the same way. */
int etude_syncclient_login_opts(etude_syncclient_t *c, const char *server_url, const char *user,
                                const char *password, const char *cacert, unsigned flags);

/* [any] Nonzero when a token is stored. */
int etude_syncclient_logged_in(const etude_syncclient_t *c);

typedef struct etude_sync_stats {
    int uploaded;     /* entities the server accepted */
    int downloaded;   /* remote changes applied locally */
    int conflicts;    /* conflicts met (settled or left for manual) */
    int duplicates;   /* duplicates merged */
    int dead_letters; /* changes moved to the dead-letter table */
    int requests;     /* HTTP requests made */
    int retries;      /* of which retries */
    int64_t bytes_sent;     /* request bodies on the wire (after gzip) */
    int64_t bytes_received; /* response bodies on the wire */
    int64_t pending;  /* outbox rows left */
    int reconciled;   /* entities queued again after the server lost history (INVALID_CURSOR) */
    /* After a completed sync the device reports its own state (ReportSyncStatus: pending changes,
     * open conflicts, the newest 50 dead letters): 1 sent, 0 not sent (unchanged and reported less
     * than 5 minutes ago, an older server without the document asked less than 5 minutes ago, the
     * deadline passed, or another account became the store's active one meanwhile), -1 failed (noted in etude_syncclient_status_json()'s statusReport; the sync still succeeded).
     * Not counted in requests. */
    int status_report;
} etude_sync_stats_t;

/* [any] One sync: push the outbox in batches, then pull pages until the server has nothing newer.
 * full restarts the pull from the beginning (used at login). Transient failures are retried with
 * backoff until deadline_us (CLOCK_MONOTONIC; 0 = none) or max_retries. stats may be NULL. */
int etude_syncclient_sync(etude_syncclient_t *c, int full, int64_t deadline_us, etude_sync_stats_t *stats);

/* [any] A final sync bounded by deadline_us, then log out (server and token file). Local data is
 * kept; what did not upload stays queued for this user's next login: *pending receives the count. */
int etude_syncclient_logout(etude_syncclient_t *c, int64_t deadline_us, int64_t *pending);

/* [any] Status as a JSON object text: state (idle|syncing|offline|error), server, user,
 * lastSyncAt, lastError, pending, conflicts (open), deadLetters (count and list), retryAfter,
 * statusReport {at, error} (when the server last took this device's status report, or an older
 * server without the document was last asked; and why the last attempt failed, null when it did
 * not). Caller frees with free(). NULL when out of memory. */
char *etude_syncclient_status_json(etude_syncclient_t *c);

/* [any] Queued changes as a JSON array text of {entityId, entityType, op, changes, queuedAt} (one
 * entry per entity, oldest first). Caller frees with free(). */
char *etude_syncclient_pending_json(etude_syncclient_t *c);

/* [any] Open conflicts as a JSON array text of {id, entityId, entityType, localVersion,
 * remoteVersion, detectedAt, local, remote}. Caller frees with free(). */
char *etude_syncclient_conflicts_json(etude_syncclient_t *c);

/* [any] Every conflict ever met, settled ones included, as a JSON array text: the fields of
 * etude_syncclient_conflicts_json() plus resolvedAt (null while open) and kept ("local", "remote",
 * "merged" or null while open). The version not kept is the loser, preserved here. Caller frees
 * with free(). */
char *etude_syncclient_conflicts_all_json(etude_syncclient_t *c);

/* [any] Settle open conflict id (its number, or the entity's id or a unique prefix) keeping the
 * local or the remote version. The local choice is queued for upload. */
int etude_syncclient_resolve(etude_syncclient_t *c, const char *id, int keep_local);

/* [any] Block until the server's /events stream announces a change, deadline_us passes or
 * *stop becomes nonzero (polled). Returns 1 when told to pull, 0 otherwise, or an error. */
int etude_syncclient_wait_events(etude_syncclient_t *c, int64_t deadline_us, volatile int *stop);

/* [any] Testing and fuzzing, no network: handle body (len bytes) as the server's HTTP 200 answer
 * to op: "SyncChanges" applies it as a page (cursor included), "UploadBatch" applies it to a batch
 * built from the current outbox (conflicts, duplicates, rejections). Whatever the bytes, the store
 * stays consistent: an unusable answer returns ETUDE_SYNC_EPROTOCOL and changes nothing. */
int etude_syncclient_apply_answer(etude_syncclient_t *c, const char *op, const char *body, size_t len);

/* [any] Make the running (and every later) network call of c return soon with ETUDE_SYNC_ETIMEOUT:
 * used to stop a worker promptly. Safe from another thread than the one using c. */
void etude_syncclient_cancel(etude_syncclient_t *c);

/* ---- the orchestrator (DESIGN.md section 7): the sync plugin's worker ------------------------ */

typedef struct etude_sync_orchestrator etude_sync_orchestrator_t;

enum etude_sync_reason {
    ETUDE_SYNC_REASON_SESSION_END = 1, /* a practice session was stored */
    ETUDE_SYNC_REASON_DATA_CHANGED = 2, /* debounced by debounce_ms */
    ETUDE_SYNC_REASON_NOW = 3
};

/* @startlifecycle orchestrator
 * [control] Start the orchestrator on its own threads over the data directory home: it syncs once
 * at start, when a session ends, after data changes (debounced; changes by other processes are seen
 * through SQLite's data_version), every interval_s, when the network comes back (probing with
 * backoff while offline) and when etude-syncd's /events says another device wrote. While playing
 * and wait_while_playing is set, syncs wait. Does nothing until a token exists (`etude sync login`),
 * which it re-reads as it goes. publish (may be NULL) receives sync:started, sync:completed and
 * sync:error from the orchestrator thread. Returns 0 or an ETUDE_SYNC_E* code. */
int etude_sync_orchestrator_start(const char *home, etude_sync_publish_fn publish, void *ctx,
                                  etude_sync_orchestrator_t **out);
/* [control] Stop: cancel what runs, join the threads, free. NULL accepted. */
void etude_sync_orchestrator_stop(etude_sync_orchestrator_t *o);
/* @endlifecycle */

/* [control] Wait until no sync is running or asked for (a session end, "now"), or until deadline_us
 * (CLOCK_MONOTONIC): 0 or ETUDE_SYNC_ETIMEOUT. Used before stop so a session's sync can finish. */
int etude_sync_orchestrator_drain(etude_sync_orchestrator_t *o, int64_t deadline_us);
/* [any] Tell the orchestrator something happened (an etude_sync_reason). */
void etude_sync_orchestrator_notify(etude_sync_orchestrator_t *o, int reason);
/* [any] The engine started (1) or stopped (0) playing. */
void etude_sync_orchestrator_set_playing(etude_sync_orchestrator_t *o, int playing);
/* [any] Syncs completed and failed so far (for tests and status). */
void etude_sync_orchestrator_counts(etude_sync_orchestrator_t *o, int *completed, int *failed);

/* [any] CLOCK_MONOTONIC in microseconds (the clock deadlines use). */
int64_t etude_sync_now_us(void);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_SYNCCLIENT_H */
