/* syncd.h - internal interface of etude-syncd: the store, the GraphQL request core, events, metrics.
 *
 * Threads: [any] functions may be called from any request thread; the store and the event hub lock
 * internally. Errors: 0 or a negative ETUDE_SYNCD_E* code. */
#ifndef ETUDE_SYNCD_H
#define ETUDE_SYNCD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "etude_error.h"

/* etude-syncd's codes are names in the project's one error space (etude_error.h). */
#define ETUDE_SYNCD_OK ETUDE_OK
#define ETUDE_SYNCD_ENOMEM ETUDE_ENOMEM   /* out of memory */
#define ETUDE_SYNCD_EINVAL ETUDE_EINVAL   /* invalid argument */
#define ETUDE_SYNCD_EDB ETUDE_EIO         /* the database failed */
#define ETUDE_SYNCD_EEXIST ETUDE_EEXIST   /* already exists */
#define ETUDE_SYNCD_ENOENT ETUDE_ENOTFOUND /* not found */
#define ETUDE_SYNCD_EAUTH ETUDE_EAUTH     /* authentication refused */
#define ETUDE_SYNCD_ELIMIT ETUDE_ELIMIT   /* a size limit was exceeded */

/* [any] A static name for an ETUDE_SYNCD_E* code. */
#define etude_syncd_strerror(err) etude_strerror(err)

typedef struct etude_syncd_config {
    const char *db_path;          /* SQLite file (":memory:" allowed for the fuzzer), or a libpq
                                   * connection URI (postgresql://... or postgres://...) */
    long token_ttl;               /* access token lifetime, seconds */
    long refresh_ttl;             /* refresh token lifetime, seconds */
    size_t max_body;              /* request body limit (wire bytes and inflated bytes) */
    int max_batch;                /* entities per uploadBatch */
    int max_page;                 /* syncChanges page size bound */
    int default_page;             /* syncChanges page size when limit is null */
    size_t max_entity_bytes;      /* canonical JSON size of one entity's data */
    unsigned long long pw_ops;    /* argon2id opslimit for new password hashes */
    size_t pw_mem;                /* argon2id memlimit for new password hashes */
    long refresh_grace;           /* seconds a rotated refresh token still returns the same new pair */
    int login_fail_user;          /* failed logins per user within login_window before 429 */
    int login_fail_ip;            /* failed logins per client address within login_window before 429 */
    long login_window;            /* seconds the failed-login counters look back */
    long session_ttl;             /* dashboard (cookie) session lifetime, seconds */
} etude_syncd_config_t;

/* [any] Fill *cfg with the documented defaults (docs/server.md). */
void etude_syncd_config_defaults(etude_syncd_config_t *cfg);

/* ---- store: every query scoped to a user ----
 *
 * One interface, two backends chosen by cfg->db_path: SQLite (a path: one connection, one writer,
 * WAL) or PostgreSQL (a libpq URI: a pool of connections; several etude-syncd processes may serve
 * one database, which orders them: each user's uploads take that user's counter row FOR NO KEY
 * UPDATE, so sequences stay gap-free and batch ids apply once across processes; tokens live in the
 * database;
 * a transaction failing with a serialization failure or deadlock is retried a bounded number of
 * times). Both keep a schema_version table; opening migrates to the current version in one
 * transaction and refuses a newer database. */

typedef struct etude_syncd_store etude_syncd_store_t;

/* [any] db as it may be shown in messages and logs: a path as is, a connection URI without its
 * password and parameters. Into buf (truncated to len). */
void etude_syncd_db_display(const char *db, char *buf, size_t len);

/* [control] Open (creating if needed) the database (SQLite in WAL mode), migrating it to the
 * current schema. err_msg names what failed. Close with etude_syncd_store_close(). */
int etude_syncd_store_open(const etude_syncd_config_t *cfg, etude_syncd_store_t **out,
                           char *err_msg, size_t err_len);
/* [control] Close the database cleanly (WAL checkpointed by SQLite). NULL is a no-op. */
void etude_syncd_store_close(etude_syncd_store_t *st);

/* [control] Give the database a new random epoch, so every cursor issued before is refused with
 * INVALID_CURSOR (run after restoring a backup). The database must exist. On success the new epoch
 * is written as 16 hex digits into epoch_hex[17]. err_msg names what failed. */
int etude_syncd_store_new_epoch(const char *db_path, char epoch_hex[17], char *err_msg, size_t err_len);
/* [control] Bring an existing database (a SQLite file that must exist, or a PostgreSQL URI) to the
 * current schema version in one transaction; *from is the version it had (0: an empty PostgreSQL
 * database), *to the current one. A database of a newer version is refused (ETUDE_SYNCD_EDB,
 * err_msg "made by a newer etude-syncd"). */
int etude_syncd_store_migrate(const char *db_path, int *from, int *to, char *err_msg, size_t err_len);
/* One table of a db copy: copied (rows, checksum, identity) or skipped by name as transient. */
typedef struct etude_syncd_copy_table {
    char name[64];
    int skipped;          /* 1: not copied, transient state (why says what) */
    const char *why;      /* static text, skipped tables only */
    int64_t rows;         /* rows copied (skipped: rows left behind in the source) */
    char checksum[65];    /* BLAKE2b-256 of the canonical rows in key order, hex; equal on both sides */
    int64_t next_id;      /* the next value of the table's identity column (0: none) */
    int64_t fixed;        /* audit details that were not UTF-8, stored with ? as the server does */
} etude_syncd_copy_table_t;

#define ETUDE_SYNCD_COPY_MAX_TABLES 32

typedef struct etude_syncd_copy_result {
    etude_syncd_copy_table_t table[ETUDE_SYNCD_COPY_MAX_TABLES]; /* in copy order, then skipped */
    int n;
    int64_t rows;   /* rows copied in all */
    char epoch[17]; /* the epoch the copy keeps (meta), hex */
} etude_syncd_copy_result_t;

/* [control] etude-syncd db copy: everything of the SQLite database at from_path (an etude-syncd
 * database at the current schema version, opened read-only and never written) into the PostgreSQL
 * database to_uri, which must hold no users and no entities. In one target transaction: the schema
 * is created or migrated (the store's own), every table of the schema is copied in key order except
 * the transient ones named in syncd_store_copy.c, identity sequences are set past the copied ids,
 * then each table's row count and checksum (BLAKE2b-256 over canonical rows in key order, computed
 * alike from the source and from the target inside the transaction) are compared; any refusal,
 * failure or mismatch rolls back, so the target is left as it was. *res (caller's memory) is
 * filled on success. err_msg: one line naming the path, URI (without password) or table at fault.
 * ETUDE_SYNCD_ENOENT (no source), ETUDE_SYNCD_EINVAL (not an etude-syncd database, an older or a
 * newer schema), ETUDE_SYNCD_EEXIST (the target holds data), ETUDE_SYNCD_EDB (a database failed, or
 * the verification did). */
int etude_syncd_store_copy(const char *from_path, const char *to_uri, etude_syncd_copy_result_t *res,
                           char *err_msg, size_t err_len);
/* [any] This database's epoch (constant while it is open). */
uint64_t etude_syncd_store_epoch(const etude_syncd_store_t *st);

/* [any] Add a user with an argon2id hash of password. ETUDE_SYNCD_EEXIST if the name is taken. */
int etude_syncd_store_user_add(etude_syncd_store_t *st, const char *name, const char *password);
/* [any] etude_syncd_store_user_add, with the operator (admin) flag when admin is non-zero. */
int etude_syncd_store_user_add_admin(etude_syncd_store_t *st, const char *name, const char *password,
                                     int admin);

typedef struct etude_syncd_user {
    int64_t id;
    char uuid[40];
    char name[128];
    int64_t session_id;
    int admin;          /* users.admin: may read adminMetrics */
    int64_t expires_ms; /* when the session's access (or dashboard) token stops working */
} etude_syncd_user_t;

/* Session kinds: a device's Bearer token pair, or a dashboard's cookie. A token of one kind is
 * never accepted as the other. */
enum { ETUDE_SYNCD_SESSION_DEVICE = 0, ETUDE_SYNCD_SESSION_WEB = 1 };

typedef struct etude_syncd_tokens {
    char access[64];
    char refresh[64];
    int64_t access_expires;
    int64_t refresh_expires;
} etude_syncd_tokens_t;

/* [any] Verify name/password and open a session. ETUDE_SYNCD_EAUTH for wrong credentials. */
int etude_syncd_store_login(etude_syncd_store_t *st, const char *name, const char *password,
                            etude_syncd_tokens_t *tok, etude_syncd_user_t *user);
/* [any] Rotate a refresh token into a new session (the old one is revoked). */
int etude_syncd_store_refresh(etude_syncd_store_t *st, const char *refresh,
                              etude_syncd_tokens_t *tok, etude_syncd_user_t *user);
/* [any] Resolve an access token. ETUDE_SYNCD_EAUTH with *why = "unknown", "expired" or "revoked". */
int etude_syncd_store_auth(etude_syncd_store_t *st, const char *access, etude_syncd_user_t *user,
                           const char **why);
/* [any] Open a dashboard session for a user whose password was verified (etude_syncd_store_login's
 * check): token[64] gets the cookie value (43 base64url characters; only its SHA-256 is stored),
 * user->expires_ms its end (now + ttl_s). ETUDE_SYNCD_EAUTH for wrong credentials. */
int etude_syncd_store_login_web(etude_syncd_store_t *st, const char *name, const char *password,
                                long ttl_s, char token[64], etude_syncd_user_t *user);
/* [any] Resolve a dashboard session cookie (like etude_syncd_store_auth, web sessions only). */
int etude_syncd_store_auth_web(etude_syncd_store_t *st, const char *token, etude_syncd_user_t *user,
                               const char **why);
/* [any] The database's 32-byte secret key named name (meta table), created at random on first
 * use; the same for every process over the same database and across restarts. */
int etude_syncd_store_secret(etude_syncd_store_t *st, const char *name, unsigned char key[32]);
/* [any] Revoke the session of user->session_id. */
int etude_syncd_store_logout(etude_syncd_store_t *st, const etude_syncd_user_t *user);

/* [any] Append an audit row (who, operation, detail, result). */
void etude_syncd_store_audit(etude_syncd_store_t *st, int64_t user_id, const char *operation,
                             const char *detail, const char *result);

/* Result of an upload, for the caller's metrics and events. */
typedef struct etude_syncd_upload_stats {
    int accepted, conflicts, duplicates, rejected, replayed;
    int64_t latest_seq;
    char latest_cursor[48]; /* cursor of latest_seq when accepted > 0 */
} etude_syncd_upload_stats_t;

/* [any] Apply one uploadBatch input (already shape-checked by the core) in one transaction.
 * On success *result is the UploadBatchResult object (caller deletes). On a batch-level refusal
 * returns ETUDE_SYNCD_EINVAL with *err_code and err_msg set. */
int etude_syncd_store_upload(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                             const cJSON *batch, cJSON **result, etude_syncd_upload_stats_t *stats,
                             const char **err_code, char *err_msg, size_t err_len);
/* [any] One page of changes after the cursor since (NULL: from the beginning): fills *page
 * (ChangesPage object, caller deletes). ETUDE_SYNCD_EINVAL with *why set (static text) when since
 * is not a cursor of this epoch, is ahead of the user's latest sequence, or names a sequence this
 * database assigned differently (a restored server). */
int etude_syncd_store_changes(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                              const char *since, int limit, cJSON **page, int64_t *since_seq,
                              const char **why);
/* [any] The SyncMetadata object (caller deletes). */
int etude_syncd_store_metadata(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                               cJSON **meta);
/* [any] One page of the user's current (non-deleted) entities of type in server order, after the
 * opaque position after (NULL: from the start), at most limit: fills *page (DashboardPage object,
 * caller deletes). ETUDE_SYNCD_EINVAL with *why (static) when after is not a position of this
 * database's epoch. */
int etude_syncd_store_dashboard(etude_syncd_store_t *st, const etude_syncd_user_t *user, const char *type,
                                const char *after, int limit, cJSON **page, const char **why);
/* [any] Replace the sync status device_id of the user last reported; status is a validated
 * SyncStatusInput (fields as in sync.graphql). */
int etude_syncd_store_report_status(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                                    const cJSON *status);
/* [any] The user's devices' last reports, a [DeviceSyncStatus] array (caller deletes). */
int etude_syncd_store_device_status(etude_syncd_store_t *st, const etude_syncd_user_t *user, cJSON **list);
/* [any] Bytes of the database file and its WAL (0 for ":memory:"); PostgreSQL: the database's size. */
int64_t etude_syncd_store_bytes(etude_syncd_store_t *st);
/* [any] The latest cursor of a user into buf (at least ETUDE_SYNCD_CURSOR_LEN bytes). */
int etude_syncd_store_latest_cursor(etude_syncd_store_t *st, int64_t user_id, char *buf, size_t len);
/* [any] Whether the store reaches its database now: 0, or ETUDE_SYNCD_EDB (PostgreSQL down or
 * unreachable; a lost connection is tried again first). One cheap query. */
int etude_syncd_store_ping(etude_syncd_store_t *st);

/* ---- failed-login counters, shared by every process over the database ----
 *
 * One row per key (the caller's "u:NAME" or "i:ADDRESS", stored as its SHA-256): a fixed window
 * that opens at the key's first failure and lasts window_s seconds. Each failure written also
 * deletes a few expired rows, so the table holds about the keys that failed within one window. */

/* [any] Seconds until key may try again (0: now, also when the database fails): its window is open
 * and holds limit failures or more. limit <= 0: never throttled. */
int etude_syncd_store_throttle_wait(etude_syncd_store_t *st, const char *key, int limit, long window_s,
                                    int64_t now_ms);
/* [any] Count one failure of key (a new window when none is open). */
void etude_syncd_store_throttle_fail(etude_syncd_store_t *st, const char *key, long window_s, int64_t now_ms);
/* [any] Forget key's failures (a successful login). */
void etude_syncd_store_throttle_clear(etude_syncd_store_t *st, const char *key);

/* ---- notices across processes (PostgreSQL): LISTEN/NOTIFY on channel etude_sync ----
 *
 * An upload that wrote entities and a status report notify the channel inside their transaction
 * (delivered on commit) with the user, origin device, kind and this store's random instance id.
 * A listener (its own connection) hands out the notices of other instances. */

enum { ETUDE_SYNCD_NOTICE_CHANGES = 0, ETUDE_SYNCD_NOTICE_STATUS = 1 };
typedef struct etude_syncd_notice {
    int kind;        /* ETUDE_SYNCD_NOTICE_* */
    int64_t user_id;
    char device[80]; /* origin device ("" if none) */
    int64_t seq;     /* changes: the latest sequence written, its cursor and the entities' count */
    char cursor[48]; /* ETUDE_SYNCD_CURSOR_LEN */
    int count;
} etude_syncd_notice_t;
typedef struct etude_syncd_listener etude_syncd_listener_t;

/* [any] Whether the store's backend has notices across processes (PostgreSQL). */
int etude_syncd_store_has_notices(const etude_syncd_store_t *st);
/* [control] Open a listening connection (application_name "etude-syncd listener", LISTEN
 * etude_sync). 0, or ETUDE_SYNCD_EDB with err naming why (*out NULL). Used by one thread; free
 * with etude_syncd_listener_close(). The store must outlive it. */
int etude_syncd_listener_open(etude_syncd_store_t *st, etude_syncd_listener_t **out, char *err, size_t len);
/* [any] The listening connection's socket, to poll() for input. */
int etude_syncd_listener_fd(etude_syncd_listener_t *l);
/* [any] The next notice of another instance, without blocking: 1 (filled *n), 0 none waiting, or
 * ETUDE_SYNCD_EDB when the connection is lost (close it and open another). Notices of this store's
 * own instance and malformed payloads are skipped. */
int etude_syncd_listener_next(etude_syncd_listener_t *l, etude_syncd_notice_t *n);
/* [control] Close the connection and free l. NULL is a no-op. */
void etude_syncd_listener_close(etude_syncd_listener_t *l);

/* ---- helpers shared by the store and the core ---- */

/* Cursor text length bound (including the terminating NUL). */
#define ETUDE_SYNCD_CURSOR_LEN 48
/* [any] Opaque cursor text "c2." + base64url(epoch, seq, tag): the database's epoch, a per-user
 * sequence and the 48-bit tag of the batch that assigned that sequence (0 for sequence 0). */
void etude_syncd_cursor_encode(uint64_t epoch, int64_t seq, uint64_t tag, char *buf, size_t len);
/* [any] Decode a cursor; ETUDE_SYNCD_EINVAL for anything not made by cursor_encode. */
int etude_syncd_cursor_decode(const char *text, uint64_t *epoch, int64_t *seq, uint64_t *tag);
/* [any] Canonical JSON of v (object keys sorted by bytes, no whitespace); caller frees. */
char *etude_syncd_canonical_json(const cJSON *v);
/* [any] Lowercase hex SHA-256 of data, into hex[65]. */
void etude_syncd_sha256_hex(const void *data, size_t len, char hex[65]);
/* [any] RFC 3339 UTC time with milliseconds for a unix time in ms; buf of at least 32 bytes. */
void etude_syncd_format_time(int64_t unix_ms, char *buf, size_t len);
/* [any] Current unix time in milliseconds. */
int64_t etude_syncd_now_ms(void);

/* ---- metrics ---- */

typedef struct etude_syncd_metrics etude_syncd_metrics_t;
/* [control] Create the counters (NULL: out of memory); destroy after the last request. */
etude_syncd_metrics_t *etude_syncd_metrics_create(void);
/* [control] Free the counters. NULL is a no-op. */
void etude_syncd_metrics_destroy(etude_syncd_metrics_t *m);
/* [any] Count one finished HTTP request. */
void etude_syncd_metrics_request(etude_syncd_metrics_t *m, const char *path, int status,
                                 double seconds);
/* [any] Count one GraphQL operation and its outcome ("ok" or an error code). */
void etude_syncd_metrics_operation(etude_syncd_metrics_t *m, const char *operation,
                                   const char *result);
/* [any] Count an error by its extensions.code. */
void etude_syncd_metrics_error(etude_syncd_metrics_t *m, const char *code);
/* [any] Count one uploadBatch outcome. */
void etude_syncd_metrics_upload(etude_syncd_metrics_t *m, const etude_syncd_upload_stats_t *s);
/* [any] Move a gauge (ETUDE_SYNCD_GAUGE_*) by delta. */
void etude_syncd_metrics_gauge_add(etude_syncd_metrics_t *m, int which, int delta);
enum { ETUDE_SYNCD_GAUGE_IN_FLIGHT = 0, ETUDE_SYNCD_GAUGE_SSE = 1 };
/* [any] Set the database size gauge (bytes of the database files). */
void etude_syncd_metrics_db_bytes(etude_syncd_metrics_t *m, int64_t bytes);
/* [any] Prometheus text exposition; caller frees. */
char *etude_syncd_metrics_render(etude_syncd_metrics_t *m);

/* The ring of the last ETUDE_SYNCD_RING_MINUTES minutes, one slot per wall-clock minute, filled by
 * the calls above (no thread of its own: a call in a new minute closes the slots before it). */
#define ETUDE_SYNCD_RING_MINUTES 360
typedef struct etude_syncd_metrics_point {
    int64_t at_ms;               /* start of the minute, unix ms */
    unsigned long long requests; /* HTTP requests finished in the minute */
    unsigned long long errors;   /* of which answered with a status >= 400 */
    unsigned long long uploads;  /* uploadBatch operations */
    unsigned long long pulls;    /* syncChanges operations */
    unsigned long long graphql;  /* /graphql requests timed (latency sample count) */
    double p50_ms, p99_ms;       /* latency quantiles of the /graphql requests; < 0: none */
    long sse_streams;            /* open event streams at the end of the minute (or now) */
    int64_t db_bytes;            /* database bytes at the end of the minute (or now) */
} etude_syncd_metrics_point_t;
/* [any] Copy the last minutes (1..ETUDE_SYNCD_RING_MINUTES, current minute included, none from
 * before the counters were created) into out, oldest first; returns how many. */
int etude_syncd_metrics_points(etude_syncd_metrics_t *m, int minutes, etude_syncd_metrics_point_t *out);
/* [control] Tests only: read the wall clock from fn (unix ms) instead of etude_syncd_now_ms(). */
void etude_syncd_metrics_set_clock(etude_syncd_metrics_t *m, int64_t (*fn)(void));

/* ---- event hub: Server-Sent Events fan-out ---- */

typedef struct etude_syncd_hub etude_syncd_hub_t;
typedef struct etude_syncd_stream etude_syncd_stream_t;
/* [control] Create the hub (NULL: out of memory); destroy it after the HTTP daemon stopped. */
etude_syncd_hub_t *etude_syncd_hub_create(void);
/* [control] Free the hub; every stream must be closed. NULL is a no-op. */
void etude_syncd_hub_destroy(etude_syncd_hub_t *h);
/* [any] Tell every stream of user_id (other than device_id's) that device_id reported a new
 * sync status (event `status`). */
void etude_syncd_hub_publish_status(etude_syncd_hub_t *h, int64_t user_id, const char *device_id);
/* [any] Tell every stream of user_id (other than origin_device's) that changes up to seq
 * (whose cursor text is cursor) exist. */
void etude_syncd_hub_publish(etude_syncd_hub_t *h, int64_t user_id, const char *origin_device,
                             int64_t seq, const char *cursor, int count);
/* [any] End every stream (shutdown); later opens fail. */
void etude_syncd_hub_shutdown(etude_syncd_hub_t *h);
/* [control] PostgreSQL: start the hub's listener thread over st (not owned; it must outlive the
 * hub), which publishes other processes' uploads and status reports to this process's streams. It
 * reconnects with backoff when its connection is lost and then wakes every stream with a `changes`
 * event at its user's latest cursor (a notice may have been missed). Stopped by
 * etude_syncd_hub_shutdown, joined by etude_syncd_hub_destroy. SQLite: does nothing. 0, or
 * ETUDE_SYNCD_ENOMEM when the thread cannot start. */
int etude_syncd_hub_follow(etude_syncd_hub_t *h, etude_syncd_store_t *st);
/* Called by the hub with its lock held, so it must not call back into the hub. */
typedef void (*etude_syncd_wake_fn)(void *arg);
/* [control] Keep-alive interval of parked streams, and the most streams one user may hold open
 * (0: no limit). */
void etude_syncd_hub_configure(etude_syncd_hub_t *h, int keepalive_ms, int max_per_user);
/* [any] Register a stream; wake(wake_arg) is called when a parked stream has something to send.
 * fd is the client's socket (or -1): while parked, a closed peer ends the stream within a second.
 * NULL when shutting down, out of memory, or (*too_many set) the user holds max_per_user streams. */
etude_syncd_stream_t *etude_syncd_hub_open(etude_syncd_hub_t *h, int64_t user_id, const char *device_id,
                                           const char *latest_cursor, int fd, etude_syncd_wake_fn wake,
                                           void *wake_arg, int *too_many);
/* [any] Next chunk of the stream into buf, never blocking: bytes written (> 0), 0 when there is
 * nothing to send (then park(park_arg) was called with the hub's lock held, and the stream's wake
 * follows once there is), or -1 at the end (shutdown). One caller at a time per stream. */
long etude_syncd_stream_next(etude_syncd_stream_t *s, char *buf, size_t max, etude_syncd_wake_fn park,
                             void *park_arg);
/* [any] Unregister and free a stream (the thread that read it). NULL is a no-op. */
void etude_syncd_stream_close(etude_syncd_stream_t *s);

/* ---- the GraphQL-over-HTTP core ---- */

typedef struct etude_syncd etude_syncd_t;

/* [control] Create the core over an opened store (not owned); metrics and hub may be NULL. */
etude_syncd_t *etude_syncd_create(const etude_syncd_config_t *cfg, etude_syncd_store_t *st,
                                  etude_syncd_metrics_t *m, etude_syncd_hub_t *h);
/* [control] Free the core (not the store, metrics or hub). NULL is a no-op. */
void etude_syncd_destroy(etude_syncd_t *s);

enum { ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE = 0, ETUDE_SYNCD_MEDIA_JSON = 1 };

typedef struct etude_syncd_reply {
    int status;          /* HTTP status */
    char *body;          /* JSON text, malloc'd; caller frees */
    size_t len;
    const char *www_authenticate; /* static, set with 401 */
    const char *operation;        /* static operation name or "unknown" */
    int retry_after;              /* seconds, sent as Retry-After when > 0 (with 429) */
} etude_syncd_reply_t;

/* [any] Execute one GraphQL-over-HTTP request body (already inflated). authorization is the raw
 * Authorization header or NULL; media is the negotiated response type. Always fills *reply. */
void etude_syncd_execute(etude_syncd_t *s, const char *body, size_t len, const char *authorization,
                         int media, etude_syncd_reply_t *reply);
/* [any] etude_syncd_execute for a request from client (the peer's address as text, or NULL),
 * which login throttling counts failed attempts against: after cfg.login_fail_user failed logins
 * of one user name, or cfg.login_fail_ip from one address, within cfg.login_window seconds,
 * Login answers 429 (RATE_LIMITED) with retry_after until the window ends. */
void etude_syncd_execute_from(etude_syncd_t *s, const char *body, size_t len, const char *authorization,
                              int media, const char *client, etude_syncd_reply_t *reply);

/* Who sent a request, as the HTTP layer saw it. */
typedef struct etude_syncd_request {
    const char *authorization; /* the raw Authorization header, or NULL */
    const char *session;       /* the etude_session cookie's value, or NULL */
    const char *csrf;          /* the X-CSRF-Token header, or NULL */
    const char *client;        /* the peer's address as text, or NULL (login throttling) */
    int foreign_origin;        /* an Origin header was sent and is not this server's origin */
} etude_syncd_request_t;

/* [any] etude_syncd_execute_from with the dashboard's credentials: without an Authorization
 * header, a session cookie authenticates DashboardEntities, DeviceSyncStatus, AdminMetrics and
 * SyncMetadata only (other documents: 401), and only with csrf equal to the session's token and no
 * foreign Origin (else 403, code CSRF). */
void etude_syncd_execute_req(etude_syncd_t *s, const char *body, size_t len, const etude_syncd_request_t *rq,
                             int media, etude_syncd_reply_t *reply);

/* ---- dashboard sessions (cookie) ---- */

/* Name of the session cookie. */
#define ETUDE_SYNCD_COOKIE "etude_session"
/* [any] Parse a login body {"username": "...", "password": "..."} (nothing else required; other
 * members ignored). Returns 0 with *name and *password pointing into *doc (caller deletes *doc),
 * or ETUDE_SYNCD_EINVAL with a static one-line reason naming the field in *why. */
int etude_syncd_parse_login_body(const char *body, size_t len, cJSON **doc, const char **name,
                                 const char **password, const char **why);
/* [any] The value of cookie name in a Cookie header into out (at most len - 1 bytes). 0 when
 * present and made only of base64url characters (a token this server could have issued), else
 * ETUDE_SYNCD_ENOENT (absent) or ETUDE_SYNCD_EINVAL (malformed or too long). */
int etude_syncd_cookie_find(const char *header, const char *name, char *out, size_t len);
/* [any] Log in for the dashboard, throttled by the same counters as the Login operation. 0 with
 * token[64] (the cookie) and *user; ETUDE_SYNCD_EAUTH for wrong credentials; ETUDE_SYNCD_ELIMIT
 * when throttled (*retry_after seconds); ETUDE_SYNCD_EDB. */
int etude_syncd_web_login(etude_syncd_t *s, const char *name, const char *password, const char *client,
                          char token[64], etude_syncd_user_t *user, int *retry_after);
/* [any] Resolve a session cookie; 0 or ETUDE_SYNCD_EAUTH (*why: "unknown", "expired", "revoked"). */
int etude_syncd_web_session(etude_syncd_t *s, const char *token, etude_syncd_user_t *user, const char **why);
/* [any] The CSRF token of session token (base64url of a keyed BLAKE2b of it under the database's
 * secret) into out[64]. */
void etude_syncd_csrf_token(etude_syncd_t *s, const char *token, char out[64]);
/* [any] Whether header (may be NULL) is the CSRF token of session token, compared in constant time. */
int etude_syncd_csrf_ok(etude_syncd_t *s, const char *token, const char *header);
/* [any] Revoke the dashboard session of user (resolved from its cookie). */
int etude_syncd_web_logout(etude_syncd_t *s, const etude_syncd_user_t *user);

/* [any] Add "extensions": {"serverTimeMs": <unix ms>} to a response object (kept if it has one). */
void etude_syncd_add_server_time(cJSON *root);

/* [any] Resolve "Bearer <token>" to a user for /events; 0 or ETUDE_SYNCD_EAUTH. */
int etude_syncd_authenticate(etude_syncd_t *s, const char *authorization, etude_syncd_user_t *user,
                             const char **why);

/* [any] Negotiate Accept: returns a ETUDE_SYNCD_MEDIA_* or -1 for 406. NULL/empty means JSON. */
int etude_syncd_negotiate_accept(const char *accept);
/* [any] True when Accept-Encoding allows gzip. */
int etude_syncd_accepts_gzip(const char *accept_encoding);
/* [any] Inflate a gzip body up to max bytes. 0, ETUDE_SYNCD_ELIMIT (too large), EINVAL (corrupt). */
int etude_syncd_gunzip(const void *in, size_t in_len, size_t max, char **out, size_t *out_len);
/* [any] gzip-compress; 0 or ENOMEM. */
int etude_syncd_gzip(const void *in, size_t in_len, char **out, size_t *out_len);

/* Shipped operation documents (generated from sync/schema/operations at build time). */
typedef struct etude_syncd_document {
    const char *name;          /* operation name = file name without .graphql */
    const unsigned char *text; /* exact file bytes */
    size_t len;
} etude_syncd_document_t;
extern const etude_syncd_document_t etude_syncd_documents[];
extern const size_t etude_syncd_document_count;

#endif
