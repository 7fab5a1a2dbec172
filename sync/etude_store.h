/* etude_store.h - the local-first store: practice sessions, logs, goals and logbook entries as
 * syncable entities in SQLite (WAL), with an outbox row, an audit row and a mutation sequence
 * written in the same transaction as every change.
 *
 * Threads. A store handle belongs to one thread at a time: every function is [any] but not
 * reentrant on the same handle (the sync plugin's worker owns its own handle; the CLI owns its
 * own). Several handles, in several processes, may open the same file: SQLite's WAL and a busy
 * timeout serialise the writers.
 *
 * Errors. Functions return 0 (ETUDE_STORE_OK) or a negative ETUDE_STORE_E* code;
 * etude_store_strerror() names the code and etude_store_errmsg() gives the last failure's detail
 * (the file, line and field at fault for an import).
 *
 * Timestamps are ISO-8601 UTC text with milliseconds ("2026-11-25T15:54:11.123Z"), ids are
 * lowercase UUIDs (v4), data is a JSON object kept in canonical form (etude_canon.h) and
 * checksum is the SHA-256 of that canonical text, in lowercase hex.
 */
#ifndef ETUDE_STORE_H
#define ETUDE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "etude_error.h"
#include "etude_time.h"
#include "etude_uuid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this library writes (PRAGMA user_version). Migrations run from 1 upwards. */
#define ETUDE_STORE_SCHEMA_VERSION 2

/* The store's codes are names in the project's one error space (etude_error.h). */
#define ETUDE_STORE_OK ETUDE_OK
#define ETUDE_STORE_ENOMEM ETUDE_ENOMEM       /* out of memory */
#define ETUDE_STORE_EINVAL ETUDE_EINVAL       /* invalid argument (bad entity type, malformed JSON data, ...) */
#define ETUDE_STORE_EIO ETUDE_EIO             /* SQLite or the file system failed */
#define ETUDE_STORE_EPARSE ETUDE_EPARSE       /* malformed import input */
#define ETUDE_STORE_ENOTFOUND ETUDE_ENOTFOUND /* no entity with that id (or the id prefix is ambiguous) */
#define ETUDE_STORE_ENEWER ETUDE_ENEWER       /* the store was written by a newer etude: refused */
#define ETUDE_STORE_EDELETED ETUDE_EDELETED   /* the entity is a tombstone: it cannot be edited */
#define ETUDE_STORE_ETIMEOUT ETUDE_ETIMEOUT   /* a deadline passed */

/* [any] A static name for an error code: etude_strerror(). Never NULL. */
#define etude_store_strerror(err) etude_strerror(err)

typedef struct etude_store etude_store_t;

/* One entity row: every SyncableEntity field (DESIGN.md section 7). */
typedef struct etude_entity {
    char id[37];          /* client UUID: the identity everywhere */
    int64_t local_id;     /* this store's own row number */
    char *remote_id;      /* the server's id, NULL until synced */
    char entity_type[16]; /* practiceSession | practiceLog | goal | logbookEntry */
    char created_at[32];
    char updated_at[32];
    char deleted_at[32];  /* "" when not deleted; else the tombstone time */
    char sync_status[12]; /* pending | syncing | synced | conflict */
    int64_t sync_version;
    char checksum[65];
    char *data;           /* canonical JSON object text */
} etude_entity_t;

/* [any] Free what an etude_entity_t filled by this library owns (remote_id, data); the struct
 * itself stays the caller's. */
void etude_entity_clear(etude_entity_t *e);

/* [any] Nonzero if type is one of the four entity types. */
int etude_entity_type_valid(const char *type);

/* [any] The data directory: $ETUDE_HOME, else $XDG_DATA_HOME/etude, else $HOME/.local/share/etude.
 * Writes it into buf (created with mode 0700 when create is nonzero). Returns 0,
 * ETUDE_STORE_EINVAL if it does not fit or no variable is set, ETUDE_STORE_EIO if it cannot be
 * created (etude_store_errmsg(NULL) is not available: the message goes to err, which may be NULL). */
int etude_store_home(char *buf, size_t size, int create, char *err, size_t errsize);

/* @startlifecycle store
 * [any] Open (creating if needed) the store at path, run the migrations it lacks, and set up WAL.
 * path NULL means <etude_store_home()>/etude.db. ":memory:" works for tests and fuzzing.
 * A store whose user_version is above ETUDE_STORE_SCHEMA_VERSION is refused with
 * ETUDE_STORE_ENEWER and nothing is written to it. On failure *out is still set when the error
 * message could be kept (call etude_store_errmsg() on it, then etude_store_close()), else NULL. */
int etude_store_open(const char *path, etude_store_t **out);

/* [any] Close the handle. NULL accepted. */
void etude_store_close(etude_store_t *store);
/* @endlifecycle */

/* [any] The last failure's detail for this handle; "" if none. Valid until the next call. */
const char *etude_store_errmsg(const etude_store_t *store);

/* [any] The path the store was opened with (valid while open). */
const char *etude_store_path(const etude_store_t *store);

/* [any] The schema version of the open store (PRAGMA user_version). */
int etude_store_schema_version(etude_store_t *store);

/* ---- entities ----------------------------------------------------------------------------- */

/* [any] Create an entity of type with data (a JSON object; canonicalised). id NULL or "" makes a
 * new UUID; out_id (may be NULL) receives the id. Writes the row, an outbox "create" row and an
 * audit row in one transaction. */
int etude_store_create(etude_store_t *store, const char *type, const char *id, const char *data_json,
                       char out_id[37]);

/* [any] Replace an entity's data: bumps updated_at, sets sync_status pending, queues an outbox
 * "update" and audits it. ETUDE_STORE_EDELETED on a tombstone; unchanged data is a no-op. */
int etude_store_update(etude_store_t *store, const char *id, const char *data_json);

/* [any] Tombstone an entity (deleted_at, pending, outbox "delete", audit). The row stays, so the
 * deletion syncs and the entity never comes back. Deleting a tombstone is a no-op. */
int etude_store_delete(etude_store_t *store, const char *id);

/* [any] Read one entity by id into *out (clear it with etude_entity_clear()). */
int etude_store_get(etude_store_t *store, const char *id, etude_entity_t *out);

/* [any] Resolve a full id or a unique id prefix (at least 4 characters) into out_id.
 * ETUDE_STORE_ENOTFOUND when nothing or more than one entity matches. */
int etude_store_resolve(etude_store_t *store, const char *prefix, char out_id[37]);

/* Called for each listed entity; e is valid for the call only. Return nonzero to stop. */
typedef int (*etude_entity_fn)(void *user, const etude_entity_t *e);

/* [any] List entities of type (NULL: all) in local_id order; tombstones only if with_deleted.
 * parent (may be NULL) keeps the ones whose data.sessionId equals it. Returns 0 or an error. */
int etude_store_list(etude_store_t *store, const char *type, const char *parent, int with_deleted,
                     etude_entity_fn fn, void *user);

/* [any] The entity as a JSON object text in the export form (camelCase SyncableEntity fields,
 * data nested). Returns a malloc'd string the caller frees with free(), NULL when out of memory. */
char *etude_entity_json(const etude_entity_t *e);

/* [any] Count entities of type (NULL: all), tombstones included when with_deleted. */
int64_t etude_store_count(etude_store_t *store, const char *type, int with_deleted);

/* ---- session records (what the recorder hands to plugins) --------------------------------- */

typedef struct etude_store_put_stats {
    int created, updated, skipped;
} etude_store_put_stats_t;

/* [any] Store one session record: {"id": UUID, "data": {...}, "logs": [{"id": UUID, "data": {...}},
 * ...]} as one practiceSession and its practiceLog entities, in one transaction. Idempotent: a
 * record already stored with the same data is skipped, and a recovered (data.interrupted true)
 * copy never replaces a session already stored as completed. stats may be NULL. */
int etude_store_put_session(etude_store_t *store, const char *record_json, etude_store_put_stats_t *stats);

/* ---- export / import ---------------------------------------------------------------------- */

enum etude_export_format { ETUDE_EXPORT_NDJSON = 0, ETUDE_EXPORT_CSV = 1 };

/* [any] Write every entity, tombstones included, in local_id order. NDJSON: a header line
 * {"etudeExport":1,"schemaVersion":N} then one entity object per line with every SyncableEntity
 * field (camelCase) and data as a nested object. CSV: RFC 4180, a header row, data as JSON text. */
int etude_store_export(etude_store_t *store, FILE *out, int format);

typedef struct etude_import_stats {
    int lines, created, updated, skipped;
} etude_import_stats_t;

/* [any] Import NDJSON (the export format) from in, name naming it in messages. One transaction:
 * the first bad line (unknown or missing field, wrong type, checksum mismatch, ...) rolls back
 * everything and the message names name, the line and the field. Merge by id: an unknown id is
 * inserted with all its fields (its localId kept when free), a known one is updated only when the
 * file's updatedAt is newer, identical ones are skipped, so importing twice creates nothing.
 * Entities imported as pending get an outbox row. stats may be NULL. */
int etude_store_import(etude_store_t *store, FILE *in, const char *name, etude_import_stats_t *stats);

/* ---- sync metadata (for the sync client) ------------------------------------------------- */

/* [any] Read a sync_meta value (keys: device_id, user_id, cursor, mutation_seq, last_sync_at,
 * server_url, status_report_sig, status_report_at_ms, status_report_error) into buf;
 * ETUDE_STORE_ENOTFOUND if unset. The store starts with a device_id and user_id "anonymous". */
int etude_store_meta_get(etude_store_t *store, const char *key, char *buf, size_t size);
/* [any] Set (value NULL: remove) a sync_meta value. */
int etude_store_meta_set(etude_store_t *store, const char *key, const char *value);

/* ---- clock: time corrected by the server's ------------------------------------------------ */

/* A stored time further ahead of corrected now than this is a wrong clock's (the server refuses
 * such times, common/etude_entity.h): an edit does not follow it. */
#define ETUDE_STORE_MAX_AHEAD_MS INT64_C(600000)
/* The first offset learned restamps queued changes only when it is at least this large. */
#define ETUDE_STORE_CLOCK_NOISE_MS INT64_C(1000)
/* How fast a kept offset's uncertainty grows with its age: 100 ppm (0.1 ms a second), ten times
 * a quartz clock's usual drift. */
#define ETUDE_STORE_CLOCK_DRIFT_PPM INT64_C(100)

/* [any] The store's corrected wall clock in unix ms: etude_time_wall_ms() plus the learned offset
 * (0 until one is learned); within the boot of the kept measurement, the server's time then plus
 * the monotonic time since (setting the wall clock does not move it). Every createdAt, updatedAt, deletedAt, queue and audit time the store
 * writes is this clock's. */
int64_t etude_store_now_ms(etude_store_t *store);

/* [any] The learned offset (server clock minus this machine's, ms) into *offset_ms (may be NULL);
 * returns 1 when one was learned, 0 when not (the offset is then 0). */
int etude_store_clock_offset(etude_store_t *store, int64_t *offset_ms);

/* [any] Offer one measurement of the offset to the server's clock: offset_ms with its
 * uncertainty_ms (the true offset lies within offset_ms +- uncertainty_ms: half the round trip of
 * the answer that carried the server's time). The store keeps the best one, as NTP's clock filter
 * does: the new measurement replaces the kept one when its uncertainty is no larger than the kept
 * one's grown with its age (ETUDE_STORE_CLOCK_DRIFT_PPM), or when the two disagree by more than
 * their uncertainties together (this machine's clock, or the server's, was set). A measurement
 * delayed on one way only (a slow request, a retransmission) thus never replaces a better one.
 * Kept in sync_meta (clock_offset_ms, clock_uncertainty_ms, clock_at_ms) so this and later handles
 * stamp corrected time. The first time an offset is learned, the times of every entity with
 * queued changes (createdAt too while it was never synced) and the queue times are shifted by it
 * (when at least ETUDE_STORE_CLOCK_NOISE_MS and larger than its uncertainty, so that a slow first
 * answer cannot move right stamps): they were stamped by this clock alone. Returns 0
 * (also when the measurement was not kept) or an error of the store. */
int etude_store_clock_sample(etude_store_t *store, int64_t offset_ms, int64_t uncertainty_ms);

/* [any] etude_store_clock_sample(store, offset_ms, 0): set the offset as exact. */
int etude_store_set_clock_offset(etude_store_t *store, int64_t offset_ms);

/* [any] The kept offset's uncertainty now (ms, grown with its age), or -1 when none is known. */
int64_t etude_store_clock_uncertainty(etude_store_t *store);

/* [any] Bring the times of queued changes that lie ahead of corrected now down to the time the
 * change was queued (or now, if that is ahead too), keeping createdAt <= updatedAt and deletedAt
 * <= updatedAt. The sync client calls it before every upload, so no wrong clock's stamp wins a
 * last-write-wins conflict or is refused by the server as being in the future. */
int etude_store_clamp_queued_times(etude_store_t *store);

/* ---- accounts: one device, several accounts, nothing shared ---------------------------------- */

/* The account of data written before any login. */
#define ETUDE_STORE_ANONYMOUS "anonymous"

/* [any] The active account into buf: the server's user id of the last login, or "anonymous" before
 * the first one. Every entity, queued change, conflict and dead letter belongs to one account, and
 * every function of this header sees only the active account's (lists, get, export, import,
 * outbox). So do the per-account sync_meta keys (cursor, last_sync_at, sync_state, last_error, and
 * the status report's status_report_sig, status_report_at_ms and status_report_error). */
int etude_store_account(etude_store_t *store, char *buf, size_t size);

/* [any] Make account the active one (kept in sync_meta user_id, for this and later handles). The
 * first account ever made active adopts the anonymous data (written before any login). Switching
 * back to an account shows its data again. */
int etude_store_set_account(etude_store_t *store, const char *account);

/* [any] Re-read the active account (another process may have logged in as someone else). */
int etude_store_reload_account(etude_store_t *store);

/* [any] Rows waiting in the outbox. */
int64_t etude_store_outbox_count(etude_store_t *store);

/* [any] Run PRAGMA integrity_check; 0 when it answers "ok". */
int etude_store_check(etude_store_t *store);

/* ---- helpers ------------------------------------------------------------------------------ */

/* UUIDs and timestamps: etude_uuid.h and etude_time.h (libetude-common), included above. */

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_STORE_H */
