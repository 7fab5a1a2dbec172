/* store_sync.h - the store's interface for the sync client: the sync tables (outbox settlement,
 * conflicts, dead letters, sync metadata) and the writes that applying server answers needs. The
 * store stays the only module that issues SQL on its tables; the sync client (syncclient_*.c)
 * calls these on its store handle, so it works on the same one connection. Internal to
 * libetude-sync, not installed.
 *
 * Threads and errors as etude_store.h: [any], one thread at a time per handle; 0 or a negative
 * ETUDE_STORE_E* code with etude_store_errmsg() saying why. Functions marked "in a transaction"
 * expect the caller to hold one (etude_store_tx_begin ... etude_store_tx_finish), so an answer is
 * applied whole or not at all.
 */
#ifndef ETUDE_STORE_SYNC_H
#define ETUDE_STORE_SYNC_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "etude_store.h"

/* [any] BEGIN IMMEDIATE on the handle's connection. */
int etude_store_tx_begin(etude_store_t *s);
/* [any] COMMIT when rc is 0 (a failed commit rolls back and returns its error), else ROLLBACK and
 * return rc unchanged. */
int etude_store_tx_finish(etude_store_t *s, int rc);

/* [any] PRAGMA data_version: changes when another connection commits. */
int64_t etude_store_data_version(etude_store_t *s);

/* A remote entity already checked by the caller (ids, times, checksum of data). Nothing owned. */
typedef struct etude_remote {
    const char *id, *type, *created, *updated, *deleted;
    int64_t version;
    const char *data; /* canonical text; NULL for a tombstone */
} etude_remote_t;

/* [any] In a transaction: write r as the local row (synced) unless the local row is of another
 * type, a tombstone r would revive, or at a version >= r's; audited as actor "sync". *applied is 1
 * when written. */
int etude_store_sync_write_remote(etude_store_t *s, const etude_remote_t *r, int *applied);

/* [any] Outbox rows of id (all, or those after max_seq). Negative on error. */
int etude_store_sync_outbox_rows(etude_store_t *s, const char *id);
int etude_store_sync_newer_rows(etude_store_t *s, const char *id, int64_t max_seq);
/* [any] Settle the outbox rows of id up to max_seq (INT64_MAX: all). */
int etude_store_sync_settle(etude_store_t *s, const char *id, int64_t max_seq);

/* [any] Move id's outbox rows up to max_seq to the dead letters with reason and status. *moved
 * (may be NULL) receives the number of rows moved. */
int etude_store_sync_dead_letter(etude_store_t *s, const char *id, int64_t max_seq, const char *reason, long status,
                                 int *moved);

/* [any] Record a conflict with both versions. resolution "local", "remote", "merged" or NULL
 * (open: the entity waits for etude_syncclient_resolve). */
int etude_store_sync_record_conflict(etude_store_t *s, const char *id, const char *type, const char *local_payload,
                                     const char *remote_payload, int64_t local_version, int64_t remote_version,
                                     const char *resolution);
/* [any] An open conflict of id learns a newer remote version (pulled while it waits). */
int etude_store_sync_conflict_learn(etude_store_t *s, const char *id, const char *remote_payload,
                                    int64_t remote_version);
/* [any] Find the one open conflict named by key (its number, or an entity id prefix). *n is the
 * number of matches; with exactly one, *cid, eid, *remote_version and *remote_payload (malloc'd,
 * the caller frees) are set. */
int etude_store_sync_find_conflict(etude_store_t *s, const char *key, int *n, int64_t *cid, char eid[37],
                                   int64_t *remote_version, char **remote_payload);
/* [any] Mark conflict cid resolved with resolution now. */
int etude_store_sync_conflict_resolved(etude_store_t *s, int64_t cid, const char *resolution);

/* [any] Entity row changes the settlement needs. */
int etude_store_sync_set_version(etude_store_t *s, const char *id, int64_t version);       /* rebase */
int etude_store_sync_set_pending(etude_store_t *s, const char *id, int64_t version);       /* keep local */
int etude_store_sync_clear_for_remote(etude_store_t *s, const char *id);                   /* let a remote land */
int etude_store_sync_mark_conflict(etude_store_t *s, const char *id);
/* [any] The server accepted id at version: set it, settle the rows up to max_seq; synced unless
 * newer rows wait. */
int etude_store_sync_mark_accepted(etude_store_t *s, const char *id, int64_t version, int64_t max_seq);

/* [any] Up to max distinct entity ids with queued changes (not in manual conflict), in the order
 * of their oldest queued change. ids holds max entries; *n receives how many. */
int etude_store_sync_queued_ids(etude_store_t *s, int max, char (*ids)[37], int *n);

/* One entity as an upload sends it. data malloc'd (free it); deleted_at "" when live. */
typedef struct etude_sync_row {
    char id[37];
    char type[16];
    char created_at[32], updated_at[32], deleted_at[32];
    int64_t version;
    int64_t max_seq; /* the last queued change of the entity at reading time */
    char checksum[65];
    char *data;
} etude_sync_row_t;
/* [any] Read id's row with its last queued sequence; ETUDE_STORE_ENOTFOUND if gone. */
int etude_store_sync_row(etude_store_t *s, const char *id, etude_sync_row_t *out);

/* [any] Duplicate merge helpers. merge_created_at: in a transaction, give id the earlier creation
 * time created and queue that as an update. */
int etude_store_sync_merge_created_at(etude_store_t *s, const char *id, const char *created);
/* [any] Merges waiting for their kept entity (sync_meta merge_created:<id>), at most max. */
int etude_store_sync_waiting_merges(etude_store_t *s, int max, char (*ids)[37], char (*created)[32], int *n);
/* [any] Up to max live entities whose data.sessionId is id: ids and data (malloc'd, freed by the
 * caller). */
int etude_store_sync_refs(etude_store_t *s, const char *id, int max, char (*ids)[37], char **data, int *n);
/* [any] created_at of dup (into created, "" if gone) and whether kept is stored here. */
int etude_store_sync_dup_state(etude_store_t *s, const char *dup, const char *kept, char created[32], int *kept_here);
/* [any] In a transaction: remove id if the server never held it (version 0), audited. */
int etude_store_sync_drop_unsynced(etude_store_t *s, const char *id, const char *type);

/* [any] Status parts. Counts are negative on error. Lists are cJSON arrays (the caller deletes). */
int64_t etude_store_sync_open_conflicts(etude_store_t *s);
cJSON *etude_store_sync_dead_letters(etude_store_t *s);
cJSON *etude_store_sync_conflicts(etude_store_t *s, int all);
/* [any] The newest max dead letters of the active account, newest first, as {id (the entity's id),
 * entityType, reason, at (when it was given up on)}: what a status report carries. NULL on error
 * (etude_store_errmsg() says why) or when out of memory. */
cJSON *etude_store_sync_dead_letters_newest(etude_store_t *s, int max);
cJSON *etude_store_sync_pending(etude_store_t *s);

/* [any] Reconciliation after the server lost history (INVALID_CURSOR: a restored backup). Before
 * the full pull: seen_reset; for every entity of every page: seen_add (the version the server
 * holds); after the last page, in a transaction: requeue_unseen queues for upload every entity of
 * the active account the server lacks or holds at an older version than this store's, rebased on
 * the server's version (0 when it lacks it). *queued receives how many. */
int etude_store_sync_seen_reset(etude_store_t *s);
int etude_store_sync_seen_add(etude_store_t *s, const char *id, int64_t version);
int etude_store_sync_requeue_unseen(etude_store_t *s, int *queued);

#endif
