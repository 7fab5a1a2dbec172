/* store_sync.c - the store's side of sync: outbox settlement, conflicts, dead letters and the
 * writes of applied server answers, on the store handle's one connection (store_sync.h). */
#include "store_sync.h"
#include "store_int.h"

#include "etude_canon.h"
#include "etude_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBFAIL(s, what) etude_store_i_dbfail((s), (what))

static int step_done(etude_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, what);
    etude_store_i_done(s, st);
    return rc;
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

int etude_store_tx_begin(etude_store_t *s)
{
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return DBFAIL(s, "begin");
    return 0;
}

int etude_store_tx_finish(etude_store_t *s, int rc)
{
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = DBFAIL(s, "commit");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

int64_t etude_store_data_version(etude_store_t *s)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static int audit_sync(etude_store_t *s, const char *id, const char *type, const char *action, const char *old_sum,
                      const char *new_sum)
{
    static const char sql[] = "INSERT INTO audit(at, entity_id, entity_type, action, actor, old_checksum, new_checksum)"
                              " VALUES (?,?,?,?, 'sync', ?, ?)";
    sqlite3_stmt *st;
    char now[32];
    etude_store_i_now(s, now);
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "audit");
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    if (old_sum)
        sqlite3_bind_text(st, 5, old_sum, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, new_sum, -1, SQLITE_STATIC);
    return step_done(s, st, "audit");
}

int etude_store_sync_write_remote(etude_store_t *s, const etude_remote_t *r, int *applied)
{
    static const char read_sql[] = "SELECT sync_version, deleted_at IS NOT NULL, checksum, entity_type, data "
                                   "FROM entities WHERE id=? AND account=etude_account()";
    static const char other_sql[] = "SELECT 1 FROM entities WHERE id=?1 AND account<>etude_account()";
    static const char update_sql[] = "UPDATE entities SET remote_id=?2, created_at=?4, updated_at=?5, deleted_at=?6,"
                                     " sync_status='synced', sync_version=?7, checksum=?8, data=?9 WHERE id=?1";
    static const char insert_sql[] = "INSERT INTO entities(id, remote_id, entity_type, created_at, updated_at, deleted_at,"
                                     " sync_status, sync_version, checksum, data, account)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'synced', ?7, ?8, ?9, etude_account())";
    sqlite3_stmt *st;
    int exists = 0, local_deleted = 0;
    int64_t local_version = 0;
    char old_sum[65] = "", old_type[16] = "";
    char *old_data = NULL;
    *applied = 0;
    if (etude_store_i_prep(s, read_sql, &st) != SQLITE_OK)
        return DBFAIL(s, "read entity");
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        exists = 1;
        local_version = sqlite3_column_int64(st, 0);
        local_deleted = sqlite3_column_int(st, 1);
        snprintf(old_sum, sizeof old_sum, "%s", col(st, 2));
        snprintf(old_type, sizeof old_type, "%s", col(st, 3));
        old_data = strdup(col(st, 4));
    }
    etude_store_i_done(s, st);
    if (!exists) {
        /* an id another account of this device holds is never taken over */
        if (etude_store_i_prep(s, other_sql, &st) != SQLITE_OK)
            return DBFAIL(s, "read entity");
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        int other = sqlite3_step(st) == SQLITE_ROW;
        etude_store_i_done(s, st);
        if (other)
            return 0;
    }
    int skip = (exists && strcmp(old_type, r->type))          /* an id never changes type */
               || (exists && local_deleted && !r->deleted)    /* a tombstone never comes back */
               || (exists && local_version >= r->version && !(r->deleted && !local_deleted));
    if (skip) {
        free(old_data);
        return 0;
    }
    const char *data = r->data ? r->data : old_data ? old_data : "{}";
    char sum[65];
    etude_canon_sha256_hex(data, strlen(data), sum);
    if (etude_store_i_prep(s, exists ? update_sql : insert_sql, &st) != SQLITE_OK) {
        free(old_data);
        return DBFAIL(s, "write entity");
    }
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->created, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->updated, -1, SQLITE_STATIC);
    if (r->deleted)
        sqlite3_bind_text(st, 6, r->deleted, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, r->version);
    sqlite3_bind_text(st, 8, sum, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, data, -1, SQLITE_STATIC);
    int rc = step_done(s, st, "write entity");
    free(old_data);
    if (!rc)
        rc = audit_sync(s, r->id, r->type, !exists ? "create" : r->deleted ? "delete" : "update",
                        exists ? old_sum : NULL, sum);
    if (!rc)
        *applied = 1;
    return rc;
}

static int count_rows(etude_store_t *s, const char *sql, const char *id, int64_t max_seq)
{
    sqlite3_stmt *st;
    int n = -1;
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "outbox");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max_seq);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    etude_store_i_done(s, st);
    return n < 0 ? DBFAIL(s, "outbox") : n;
}

int etude_store_sync_outbox_rows(etude_store_t *s, const char *id)
{
    static const char sql[] = "SELECT count(*) FROM outbox WHERE entity_id=?1 AND seq>?2";
    return count_rows(s, sql, id, -1);
}

int etude_store_sync_newer_rows(etude_store_t *s, const char *id, int64_t max_seq)
{
    static const char sql[] = "SELECT count(*) FROM outbox WHERE entity_id=?1 AND seq>?2";
    return count_rows(s, sql, id, max_seq);
}

int etude_store_sync_settle(etude_store_t *s, const char *id, int64_t max_seq)
{
    static const char sql[] = "DELETE FROM outbox WHERE entity_id=? AND seq<=?";
    sqlite3_stmt *st;
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "outbox");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max_seq);
    return step_done(s, st, "outbox");
}

int etude_store_sync_dead_letter(etude_store_t *s, const char *id, int64_t max_seq, const char *reason, long status,
                                 int *moved)
{
    sqlite3_stmt *st;
    char now[32];
    etude_store_i_now(s, now);
    if (moved)
        *moved = 0;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO dead_letter(outbox_seq, mutation_seq, entity_id, entity_type, op, payload,"
                           " reason, http_status, failed_at, account) SELECT seq, mutation_seq, entity_id, entity_type, op,"
                           " payload, ?3, ?4, ?5, account FROM outbox WHERE entity_id=?1 AND seq<=?2",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "dead_letter");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max_seq);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, status);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "dead_letter");
    sqlite3_finalize(st);
    if (!rc && moved)
        *moved = sqlite3_changes(s->db);
    if (!rc)
        rc = etude_store_sync_settle(s, id, max_seq);
    return rc;
}

int etude_store_sync_record_conflict(etude_store_t *s, const char *id, const char *type, const char *local_payload,
                                     const char *remote_payload, int64_t local_version, int64_t remote_version,
                                     const char *resolution)
{
    sqlite3_stmt *st;
    char now[32];
    etude_store_i_now(s, now);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO conflicts(entity_id, entity_type, local_payload, remote_payload,"
                           " local_version, remote_version, detected_at, resolved_at, resolution, account)"
                           " VALUES (?,?,?,?,?,?,?,?,?, etude_account())",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "conflicts");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, local_payload, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, remote_payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, local_version);
    sqlite3_bind_int64(st, 6, remote_version);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_TRANSIENT);
    if (resolution) {
        sqlite3_bind_text(st, 8, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 9, resolution, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 8);
        sqlite3_bind_null(st, 9);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "conflicts");
    sqlite3_finalize(st);
    return rc;
}

int etude_store_sync_conflict_learn(etude_store_t *s, const char *id, const char *remote_payload,
                                    int64_t remote_version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE conflicts SET remote_payload=?1, remote_version=?2 WHERE"
                           " entity_id=?3 AND resolved_at IS NULL AND remote_version<?2 AND account=etude_account()",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "conflicts");
    sqlite3_bind_text(st, 1, remote_payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, remote_version);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "conflicts");
    sqlite3_finalize(st);
    return rc;
}

int etude_store_sync_find_conflict(etude_store_t *s, const char *key, int *n, int64_t *cid, char eid[37],
                                   int64_t *remote_version, char **remote_payload)
{
    sqlite3_stmt *st;
    char like[64];
    snprintf(like, sizeof like, "%.40s%%", key);
    *n = 0;
    *remote_payload = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, entity_id, remote_version, remote_payload FROM conflicts WHERE resolved_at IS NULL"
                           " AND account=etude_account() AND (CAST(id AS TEXT)=?1 OR entity_id LIKE ?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "conflicts");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, like, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((*n)++ == 0) {
            *cid = sqlite3_column_int64(st, 0);
            snprintf(eid, 37, "%s", col(st, 1));
            *remote_version = sqlite3_column_int64(st, 2);
            *remote_payload = strdup(col(st, 3));
        }
    }
    sqlite3_finalize(st);
    if (*n != 1) {
        free(*remote_payload);
        *remote_payload = NULL;
    }
    return 0;
}

int etude_store_sync_conflict_resolved(etude_store_t *s, int64_t cid, const char *resolution)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE conflicts SET resolved_at=?, resolution=? WHERE id=?", -1, &st, NULL) !=
        SQLITE_OK)
        return DBFAIL(s, "resolve");
    char now[32];
    etude_store_i_now(s, now);
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, resolution, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, cid);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "resolve");
    sqlite3_finalize(st);
    return rc;
}

static int id_version_update(etude_store_t *s, const char *sql, const char *id, int64_t version, int bind_version)
{
    sqlite3_stmt *st;
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "entity");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (bind_version)
        sqlite3_bind_int64(st, 2, version);
    return step_done(s, st, "entity");
}

int etude_store_sync_set_version(etude_store_t *s, const char *id, int64_t version)
{
    static const char sql[] = "UPDATE entities SET sync_version=?2 WHERE id=?1";
    return id_version_update(s, sql, id, version, 1);
}

int etude_store_sync_set_pending(etude_store_t *s, const char *id, int64_t version)
{
    static const char sql[] = "UPDATE entities SET sync_version=?2, sync_status='pending' WHERE id=?1";
    return id_version_update(s, sql, id, version, 1);
}

int etude_store_sync_clear_for_remote(etude_store_t *s, const char *id)
{
    static const char sql[] = "UPDATE entities SET sync_version=0, deleted_at=NULL WHERE id=?1";
    return id_version_update(s, sql, id, 0, 0);
}

int etude_store_sync_mark_conflict(etude_store_t *s, const char *id)
{
    static const char sql[] = "UPDATE entities SET sync_status='conflict' WHERE id=?1";
    return id_version_update(s, sql, id, 0, 0);
}

int etude_store_sync_mark_accepted(etude_store_t *s, const char *id, int64_t version, int64_t max_seq)
{
    static const char sql[] = "UPDATE entities SET sync_version=?2, remote_id=?1, sync_status=CASE WHEN EXISTS"
                              " (SELECT 1 FROM outbox WHERE entity_id=?1 AND seq>?3) THEN 'pending' ELSE 'synced' END"
                              " WHERE id=?1";
    sqlite3_stmt *st;
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "accept");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int64(st, 3, max_seq);
    int rc = step_done(s, st, "accept");
    return rc ? rc : etude_store_sync_settle(s, id, max_seq);
}

int etude_store_sync_queued_ids(etude_store_t *s, int max, char (*ids)[37], int *n)
{
    /* Distinct entities in the order of their oldest queued change; walking the outbox by its key
     * keeps each batch's cost independent of the queue's length. */
    static const char sql[] = "SELECT o.entity_id FROM outbox o JOIN entities e ON e.id=o.entity_id"
                              " WHERE o.account=etude_account() AND e.sync_status<>'conflict' ORDER BY o.seq LIMIT ?";
    sqlite3_stmt *st;
    *n = 0;
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "outbox");
    sqlite3_bind_int(st, 1, max * 4);
    int r;
    while (*n < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = col(st, 0);
        int seen = 0;
        for (int i = *n - 1; i >= 0 && !seen; i--)
            seen = !strcmp(ids[i], id);
        if (!seen)
            snprintf(ids[(*n)++], 37, "%s", id);
    }
    etude_store_i_done(s, st);
    return 0;
}

int etude_store_sync_row(etude_store_t *s, const char *id, etude_sync_row_t *out)
{
    static const char sql[] = "SELECT id, (SELECT max(seq) FROM outbox WHERE entity_id=?1), entity_type, created_at,"
                              " updated_at, deleted_at, sync_version, checksum, data FROM entities WHERE id=?1";
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "outbox");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW) {
        snprintf(out->id, sizeof out->id, "%s", col(st, 0));
        out->max_seq = sqlite3_column_int64(st, 1);
        snprintf(out->type, sizeof out->type, "%s", col(st, 2));
        snprintf(out->created_at, sizeof out->created_at, "%s", col(st, 3));
        snprintf(out->updated_at, sizeof out->updated_at, "%s", col(st, 4));
        snprintf(out->deleted_at, sizeof out->deleted_at, "%s", col(st, 5));
        out->version = sqlite3_column_int64(st, 6);
        snprintf(out->checksum, sizeof out->checksum, "%s", col(st, 7));
        out->data = strdup(col(st, 8));
        if (!out->data)
            rc = etude_store_i_fail(s, ETUDE_STORE_ENOMEM, "out of memory");
    } else if (r == SQLITE_DONE) {
        rc = ETUDE_STORE_ENOTFOUND;
    } else {
        rc = DBFAIL(s, "outbox");
    }
    etude_store_i_done(s, st);
    return rc;
}

int etude_store_sync_merge_created_at(etude_store_t *s, const char *id, const char *created)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE entities SET created_at=?2, sync_status='pending' WHERE id=?1 AND created_at>?2"
                           " AND deleted_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "merge");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, created, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "merge");
    sqlite3_finalize(st);
    if (rc || sqlite3_changes(s->db) == 0)
        return rc;
    int64_t mseq = -1;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE sync_meta SET value=CAST(value AS INTEGER)+1 WHERE key='mutation_seq'"
                           " RETURNING CAST(value AS INTEGER)",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            mseq = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (mseq < 0)
        return DBFAIL(s, "mutation sequence");
    char now[32];
    etude_store_i_now(s, now);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO outbox(mutation_seq, entity_id, entity_type, op, payload, created_at, account)"
                           " SELECT ?1, id, entity_type, 'update', json_object('id', id, 'entityType', entity_type,"
                           " 'createdAt', created_at, 'updatedAt', updated_at, 'checksum', checksum), ?2, account"
                           " FROM entities WHERE id=?3",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "outbox");
    sqlite3_bind_int64(st, 1, mseq);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "outbox");
    sqlite3_finalize(st);
    return rc;
}

int etude_store_sync_waiting_merges(etude_store_t *s, int max, char (*ids)[37], char (*created)[32], int *n)
{
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT substr(m.key, 15, 36), m.value FROM sync_meta m JOIN entities e ON e.id=substr(m.key, 15, 36)"
                           " WHERE m.key LIKE 'merge_created:%' AND m.key = 'merge_created:' || e.id || '@' || etude_account()"
                           " AND e.account=etude_account() LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "merges");
    sqlite3_bind_int(st, 1, max);
    while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(ids[*n], 37, "%s", col(st, 0));
        snprintf(created[*n], 32, "%s", col(st, 1));
        (*n)++;
    }
    sqlite3_finalize(st);
    return 0;
}

int etude_store_sync_refs(etude_store_t *s, const char *id, int max, char (*ids)[37], char **data, int *n)
{
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, data FROM entities WHERE json_extract(data,'$.sessionId')=? AND deleted_at IS NULL"
                           " AND account=etude_account()"
                           " LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "references");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max);
    while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(ids[*n], 37, "%s", col(st, 0));
        data[*n] = strdup(col(st, 1));
        (*n)++;
    }
    sqlite3_finalize(st);
    return 0;
}

int etude_store_sync_dup_state(etude_store_t *s, const char *dup, const char *kept, char created[32], int *kept_here)
{
    sqlite3_stmt *st;
    created[0] = 0;
    *kept_here = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT (SELECT created_at FROM entities WHERE id=?1),"
                                  " EXISTS(SELECT 1 FROM entities WHERE id=?2)", -1, &st, NULL) != SQLITE_OK)
        return DBFAIL(s, "merge");
    sqlite3_bind_text(st, 1, dup, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kept, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        snprintf(created, 32, "%s", col(st, 0));
        *kept_here = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

int etude_store_sync_drop_unsynced(etude_store_t *s, const char *id, const char *type)
{
    sqlite3_stmt *st;
    char sum[65] = "";
    if (sqlite3_prepare_v2(s->db, "DELETE FROM entities WHERE id=? AND sync_version=0 RETURNING checksum", -1, &st,
                           NULL) != SQLITE_OK)
        return DBFAIL(s, "merge");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(sum, sizeof sum, "%s", col(st, 0));
    sqlite3_finalize(st);
    return sum[0] ? audit_sync(s, id, type, "delete", sum, sum) : 0;
}

int64_t etude_store_sync_open_conflicts(etude_store_t *s)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL AND account=etude_account()", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

/* How one column of a listing becomes a member of its row's JSON object. */
typedef enum { COL_TEXT, COL_INT, COL_JSON, COL_TEXT_OR_NULL } col_kind_t;
typedef struct col_spec {
    const char *key;
    col_kind_t kind; /* COL_TEXT: "" for NULL; COL_JSON: parsed, null if unparsable or NULL */
} col_spec_t;

/* The rows of the statement sql (with ?1 bound to arg1 when has_arg) as a JSON array of objects,
 * one member per column as spec says. NULL on a database error (etude_store_errmsg() says where)
 * or when out of memory: never a partial list. */
static cJSON *rows_json(etude_store_t *s, const char *what, const char *sql, const col_spec_t *spec, int ncols,
                        int has_arg, int64_t arg1)
{
    cJSON *a = cJSON_CreateArray();
    sqlite3_stmt *st;
    if (!a)
        return NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        etude_store_i_dbfail(s, what);
        cJSON_Delete(a);
        return NULL;
    }
    if (has_arg)
        sqlite3_bind_int64(st, 1, arg1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *d = cJSON_CreateObject();
        int ok = d && cJSON_AddItemToArray(a, d);
        if (!ok)
            cJSON_Delete(d);
        for (int i = 0; ok && i < ncols; i++) {
            cJSON *v;
            switch (spec[i].kind) {
            case COL_INT:
                v = cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
                break;
            case COL_JSON:
                v = cJSON_Parse(col(st, i));
                if (!v)
                    v = cJSON_CreateNull();
                break;
            case COL_TEXT_OR_NULL:
                v = sqlite3_column_type(st, i) == SQLITE_NULL ? cJSON_CreateNull() : cJSON_CreateString(col(st, i));
                break;
            default:
                v = cJSON_CreateString(col(st, i));
                break;
            }
            ok = v && cJSON_AddItemToObject(d, spec[i].key, v);
            if (!ok)
                cJSON_Delete(v);
        }
        if (!ok) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_NOMEM)
            etude_store_i_fail(s, ETUDE_ENOMEM, "out of memory");
        else
            etude_store_i_dbfail(s, what);
        cJSON_Delete(a);
        a = NULL;
    }
    sqlite3_finalize(st);
    return a;
}

cJSON *etude_store_sync_dead_letters(etude_store_t *s)
{
    static const col_spec_t spec[] = {{"entityId", COL_TEXT}, {"entityType", COL_TEXT}, {"op", COL_TEXT},
                                      {"reason", COL_TEXT},   {"httpStatus", COL_INT},  {"failedAt", COL_TEXT}};
    return rows_json(s, "dead_letter",
                     "SELECT entity_id, entity_type, op, reason, http_status, failed_at FROM dead_letter"
                     " WHERE account=etude_account() ORDER BY id",
                     spec, 6, 0, 0);
}

cJSON *etude_store_sync_dead_letters_newest(etude_store_t *s, int max)
{
    static const col_spec_t spec[] = {
        {"id", COL_TEXT}, {"entityType", COL_TEXT}, {"reason", COL_TEXT}, {"at", COL_TEXT}};
    return rows_json(s, "dead_letter",
                     "SELECT entity_id, entity_type, reason, failed_at FROM dead_letter"
                     " WHERE account=etude_account() ORDER BY id DESC LIMIT ?1",
                     spec, 4, 1, max < 0 ? 0 : max);
}

cJSON *etude_store_sync_conflicts(etude_store_t *s, int all)
{
    /* all: also the resolved ones, with when and which side was kept (the loser is preserved here) */
    static const col_spec_t spec[] = {
        {"id", COL_INT},           {"entityId", COL_TEXT},     {"entityType", COL_TEXT},
        {"localVersion", COL_INT}, {"remoteVersion", COL_INT}, {"detectedAt", COL_TEXT},
        {"local", COL_JSON},       {"remote", COL_JSON},       {"resolvedAt", COL_TEXT_OR_NULL},
        {"kept", COL_TEXT_OR_NULL}};
    return rows_json(s, "conflicts",
                     all ? "SELECT id, entity_id, entity_type, local_version, remote_version, detected_at,"
                           " local_payload, remote_payload, resolved_at, resolution FROM conflicts"
                           " WHERE account=etude_account() ORDER BY id"
                         : "SELECT id, entity_id, entity_type, local_version, remote_version, detected_at,"
                           " local_payload, remote_payload FROM conflicts"
                           " WHERE resolved_at IS NULL AND account=etude_account() ORDER BY id",
                     spec, all ? 10 : 8, 0, 0);
}

cJSON *etude_store_sync_pending(etude_store_t *s)
{
    static const col_spec_t spec[] = {{"entityId", COL_TEXT},
                                      {"entityType", COL_TEXT},
                                      {"op", COL_TEXT},
                                      {"changes", COL_INT},
                                      {"queuedAt", COL_TEXT}};
    return rows_json(s, "outbox",
                     "SELECT entity_id, entity_type, (SELECT op FROM outbox i WHERE i.entity_id=o.entity_id"
                     " ORDER BY seq DESC LIMIT 1), count(*), min(created_at) FROM outbox o WHERE account=etude_account()"
                     " GROUP BY entity_id"
                     " ORDER BY min(seq)",
                     spec, 5, 0, 0);
}

/* ---- reconciliation after a server restore -------------------------------------------------- */

int etude_store_sync_seen_reset(etude_store_t *s)
{
    if (sqlite3_exec(s->db,
                     "CREATE TEMP TABLE IF NOT EXISTS sync_seen(id TEXT PRIMARY KEY, version INTEGER NOT NULL);"
                     "DELETE FROM temp.sync_seen;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return DBFAIL(s, "reconcile");
    return 0;
}

int etude_store_sync_seen_add(etude_store_t *s, const char *id, int64_t version)
{
    static const char sql[] = "INSERT INTO temp.sync_seen(id, version) VALUES (?1, ?2)"
                              " ON CONFLICT(id) DO UPDATE SET version = max(version, excluded.version)";
    sqlite3_stmt *st;
    if (etude_store_i_prep(s, sql, &st) != SQLITE_OK)
        return DBFAIL(s, "reconcile");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    return step_done(s, st, "reconcile");
}

int etude_store_sync_requeue_unseen(etude_store_t *s, int *queued)
{
    char now[32];
    etude_store_i_now(s, now);
    *queued = 0;
    static const char *const sqls[] = {
        /* a change for every entity the server lacks or holds at an older version */
        "INSERT INTO outbox(mutation_seq, entity_id, entity_type, op, payload, created_at, account)"
        " SELECT (SELECT CAST(value AS INTEGER) FROM sync_meta WHERE key = 'mutation_seq')"
        "   + row_number() OVER (ORDER BY local_id), id, entity_type,"
        "   CASE WHEN deleted_at IS NULL THEN 'update' ELSE 'delete' END,"
        "   json_object('id', id, 'entityType', entity_type, 'createdAt', created_at, 'updatedAt', updated_at,"
        "     'checksum', checksum), ?1, account"
        " FROM entities e WHERE account = etude_account()"
        "   AND sync_version > coalesce((SELECT version FROM temp.sync_seen WHERE id = e.id), 0)"
        "   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = e.id)",
        "UPDATE sync_meta SET value = max(CAST(value AS INTEGER), (SELECT coalesce(max(mutation_seq), 0) FROM outbox))"
        " WHERE key = 'mutation_seq'",
        /* every such entity goes up against the version the server holds now (0: none) */
        "UPDATE entities SET sync_version = coalesce((SELECT version FROM temp.sync_seen WHERE id = entities.id), 0),"
        " sync_status = 'pending'"
        " WHERE account = etude_account()"
        "   AND sync_version > coalesce((SELECT version FROM temp.sync_seen WHERE id = entities.id), 0)",
    };
    for (size_t i = 0; i < sizeof sqls / sizeof *sqls; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sqls[i], -1, &st, NULL) != SQLITE_OK)
            return DBFAIL(s, "reconcile");
        if (sqlite3_bind_parameter_count(st) >= 1)
            sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : DBFAIL(s, "reconcile");
        sqlite3_finalize(st);
        if (rc)
            return rc;
        if (i == 2)
            *queued = sqlite3_changes(s->db);
    }
    return 0;
}
