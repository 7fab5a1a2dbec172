/* syncd_store.c - etude-syncd storage: users, sessions, entities, batches and audit in SQLite (WAL). */
#include "syncd.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "syncd_db.h"
#include "syncd_store_int.h"

#include "etude_canon.h"
#include "etude_entity.h"
#include "etude_time.h"

/* The store's connections. SQLite: one connection, one writer, every statement under lock (as it
 * always was). PostgreSQL: a pool of up to POOL_MAX connections handed out one per call; the
 * database itself orders concurrent writers (row locks), also across processes. */
#define POOL_MAX 16

struct etude_syncd_store {
    int kind;             /* SYNCD_DB_SQLITE or SYNCD_DB_PG */
    syncd_db_t *db;       /* the first connection (SQLite's only one) */
    pthread_mutex_t lock; /* SQLite: held around every use of db. PostgreSQL: guards the pool */
    pthread_cond_t freed; /* PostgreSQL: a pooled connection was given back */
    syncd_db_t *pool[POOL_MAX];
    int busy[POOL_MAX];
    int pool_n;
    int from_version; /* the schema version found at open (0: a new database) */
    etude_syncd_config_t cfg;
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified against for unknown users (even timing) */
    sem_t pw_slots; /* bounds concurrent argon2id checks, each of which takes pw_mem bytes */
    uint64_t epoch; /* meta 'epoch': random at creation, renewed by new-epoch after a restore */
    char instance[17]; /* random per open store: names this process in its notices */
    _Atomic int64_t purged_at; /* when this process last purged dead sessions (0: not yet) */
};

/* Session rows (device token pairs, dashboard cookies) are removed a day after their last token
 * expired and any refresh grace ended: a token presented within that day still reads "expired",
 * not "unknown", and nothing accumulates however long the server runs. At most SESSION_PURGE_MAX
 * rows per SESSION_PURGE_EVERY_MS per process, after a login or a refresh. */
#define SESSION_PURGE_AFTER_MS INT64_C(86400000)
#define SESSION_PURGE_EVERY_MS INT64_C(60000)
#define SESSION_PURGE_MAX 1000

#define PW_SLOTS 4
/* Attempts of a PostgreSQL transaction that fails with a serialization failure or deadlock. */
#define TX_ATTEMPTS 5

/* A connection for one store call; give it back with store_release(). Never NULL: if PostgreSQL
 * is unreachable, the statements on the connection fail (ETUDE_SYNCD_EDB) and the next call
 * reconnects. */
static syncd_db_t *store_acquire(etude_syncd_store_t *st)
{
    pthread_mutex_lock(&st->lock);
    if (st->kind == SYNCD_DB_SQLITE)
        return st->db;
    for (;;) {
        for (int i = 0; i < st->pool_n; i++)
            if (!st->busy[i]) {
                st->busy[i] = 1;
                pthread_mutex_unlock(&st->lock);
                syncd_db_check(st->pool[i]);
                return st->pool[i];
            }
        if (st->pool_n < POOL_MAX) {
            char err[256];
            syncd_db_t *c = NULL;
            if (syncd_db_open(st->cfg.db_path, &c, err, sizeof err) == 0) {
                st->pool[st->pool_n] = c;
                st->busy[st->pool_n++] = 1;
                pthread_mutex_unlock(&st->lock);
                return c;
            }
            /* The first connection is never closed: wait for it (or another) instead. */
        }
        pthread_cond_wait(&st->freed, &st->lock);
    }
}

static void store_release(etude_syncd_store_t *st, syncd_db_t *c)
{
    if (st->kind == SYNCD_DB_SQLITE) {
        pthread_mutex_unlock(&st->lock);
        return;
    }
    pthread_mutex_lock(&st->lock);
    for (int i = 0; i < st->pool_n; i++)
        if (st->pool[i] == c)
            st->busy[i] = 0;
    pthread_cond_signal(&st->freed);
    pthread_mutex_unlock(&st->lock);
}

static int is_pg(const syncd_db_t *c)
{
    return syncd_db_kind(c) == SYNCD_DB_PG;
}

static const char *schema_sql =
    "CREATE TABLE IF NOT EXISTS users("
    "  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,"
    "  pwhash TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions("
    "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
    "  access_hash BLOB NOT NULL UNIQUE, access_expires INTEGER NOT NULL,"
    "  refresh_hash BLOB NOT NULL UNIQUE, refresh_expires INTEGER NOT NULL,"
    "  revoked_at INTEGER, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS entities("
    "  user_id INTEGER NOT NULL REFERENCES users(id), id TEXT NOT NULL, entity_type TEXT NOT NULL,"
    "  local_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,"
    "  sync_version INTEGER NOT NULL, checksum TEXT NOT NULL, data TEXT,"
    "  server_seq INTEGER NOT NULL, device_id TEXT NOT NULL,"
    "  PRIMARY KEY(user_id, id)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS entities_by_seq ON entities(user_id, server_seq);"
    "CREATE TABLE IF NOT EXISTS devices("
    "  user_id INTEGER NOT NULL REFERENCES users(id), device_id TEXT NOT NULL,"
    "  last_seq INTEGER NOT NULL, PRIMARY KEY(user_id, device_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS batches("
    "  user_id INTEGER NOT NULL REFERENCES users(id), batch_id TEXT NOT NULL, device_id TEXT NOT NULL,"
    "  mutation_seq INTEGER NOT NULL, result TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  PRIMARY KEY(user_id, batch_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS audit("
    "  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, user_id INTEGER, operation TEXT NOT NULL,"
    "  detail TEXT NOT NULL, result TEXT NOT NULL);";

/* Version 2: the server epoch, batch tags for cursors, the session start of practice sessions for
 * the duplicate rule, and the refresh grace of rotated sessions. Applied to new and version 1
 * databases alike, in one transaction. */
static const char *schema_v2_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "ALTER TABLE batches ADD COLUMN first_seq INTEGER;"
    "ALTER TABLE batches ADD COLUMN last_seq INTEGER;"
    "ALTER TABLE batches ADD COLUMN tag INTEGER;"
    "CREATE INDEX IF NOT EXISTS batches_by_seq ON batches(user_id, last_seq) WHERE last_seq IS NOT NULL;"
    "ALTER TABLE entities ADD COLUMN start_ms INTEGER;"
    "DROP INDEX IF EXISTS entities_by_checksum;"
    "CREATE INDEX IF NOT EXISTS entities_by_start ON entities(user_id, start_ms)"
    "  WHERE start_ms IS NOT NULL AND deleted_at IS NULL;"
    "ALTER TABLE sessions ADD COLUMN rotated_to INTEGER;"
    "ALTER TABLE sessions ADD COLUMN grace_until INTEGER;"
    "ALTER TABLE sessions ADD COLUMN grace_box BLOB;";

/* Version 3: the dashboard. Operators (users.admin), dashboard sessions beside the devices' token
 * pairs in the same table (sessions.kind 1: a cookie, never accepted as a Bearer token nor the
 * other way round), and the sync status each device last reported (replaced by each report). */
static const char *schema_v3_sql =
    "ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE IF NOT EXISTS device_status("
    "  user_id INTEGER NOT NULL REFERENCES users(id), device_id TEXT NOT NULL, name TEXT,"
    "  last_sync_at TEXT NOT NULL, reported_at INTEGER NOT NULL, pending INTEGER NOT NULL,"
    "  conflicts INTEGER NOT NULL, dead_letters TEXT NOT NULL,"
    "  PRIMARY KEY(user_id, device_id)) WITHOUT ROWID;";
/* Version 4: the schema version table (both backends; SQLite keeps PRAGMA user_version in step). */
static const char *schema_v4_sql =
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);";
/* Version 5: failed-login counters shared by every process over the database (one row per key
 * hash; expired rows purged as new failures are written). */
static const char *schema_v5_sql =
    "CREATE TABLE IF NOT EXISTS login_throttle(key TEXT PRIMARY KEY, window_start INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS login_throttle_by_start ON login_throttle(window_start);";
static const char *pg_schema_v5_sql =
    "CREATE TABLE IF NOT EXISTS login_throttle(key TEXT COLLATE \"C\" PRIMARY KEY, window_start BIGINT NOT NULL,"
    "  failures INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS login_throttle_by_start ON login_throttle(window_start);";
#define SCHEMA_VERSION 5

/* PostgreSQL: the schema of version 4, created at once (there are no older PostgreSQL databases);
 * later versions are applied on top of it, to new and version 4 databases alike.
 * Identifiers and names compare bytewise (COLLATE "C"), as in SQLite. */
static const char *pg_schema_sql =
    "CREATE TABLE users("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,"
    "  name TEXT COLLATE \"C\" NOT NULL UNIQUE, pwhash TEXT NOT NULL, seq BIGINT NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL, admin INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sessions("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id),"
    "  access_hash BYTEA NOT NULL UNIQUE, access_expires BIGINT NOT NULL,"
    "  refresh_hash BYTEA NOT NULL UNIQUE, refresh_expires BIGINT NOT NULL,"
    "  revoked_at BIGINT, created_at BIGINT NOT NULL, rotated_to BIGINT, grace_until BIGINT,"
    "  grace_box BYTEA, kind INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE entities("
    "  user_id BIGINT NOT NULL REFERENCES users(id), id TEXT COLLATE \"C\" NOT NULL, entity_type TEXT NOT NULL,"
    "  local_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,"
    "  sync_version BIGINT NOT NULL, checksum TEXT NOT NULL, data TEXT,"
    "  server_seq BIGINT NOT NULL, device_id TEXT NOT NULL, start_ms BIGINT,"
    "  PRIMARY KEY(user_id, id));"
    "CREATE UNIQUE INDEX entities_by_seq ON entities(user_id, server_seq);"
    "CREATE INDEX entities_by_start ON entities(user_id, start_ms)"
    "  WHERE start_ms IS NOT NULL AND deleted_at IS NULL;"
    "CREATE TABLE devices("
    "  user_id BIGINT NOT NULL REFERENCES users(id), device_id TEXT NOT NULL,"
    "  last_seq BIGINT NOT NULL, PRIMARY KEY(user_id, device_id));"
    "CREATE TABLE batches("
    "  user_id BIGINT NOT NULL REFERENCES users(id), batch_id TEXT NOT NULL, device_id TEXT NOT NULL,"
    "  mutation_seq BIGINT NOT NULL, result TEXT NOT NULL, created_at BIGINT NOT NULL,"
    "  first_seq BIGINT, last_seq BIGINT, tag BIGINT, PRIMARY KEY(user_id, batch_id));"
    "CREATE INDEX batches_by_seq ON batches(user_id, last_seq) WHERE last_seq IS NOT NULL;"
    "CREATE TABLE audit("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, user_id BIGINT,"
    "  operation TEXT NOT NULL, detail TEXT NOT NULL, result TEXT NOT NULL);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE device_status("
    "  user_id BIGINT NOT NULL REFERENCES users(id), device_id TEXT COLLATE \"C\" NOT NULL, name TEXT,"
    "  last_sync_at TEXT NOT NULL, reported_at BIGINT NOT NULL, pending BIGINT NOT NULL,"
    "  conflicts BIGINT NOT NULL, dead_letters TEXT NOT NULL,"
    "  PRIMARY KEY(user_id, device_id));"
    "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);";

static int exec(syncd_db_t *db, const char *sql)
{
    return syncd_db_exec(db, sql) == 0 ? 0 : ETUDE_SYNCD_EDB;
}

static int64_t session_start_ms(const cJSON *data, const char *created_at);

/* Fills start_ms of the practice sessions a version 1 database holds; caller is in a transaction. */
static int backfill_start(syncd_db_t *db)
{
    syncd_stmt_t *q = NULL, *u = NULL;
    int rc = 0;
    if (syncd_db_prepare(db, "SELECT user_id, id, data, created_at FROM entities"
                               " WHERE entity_type='practiceSession' AND deleted_at IS NULL", &q) != 0 ||
        syncd_db_prepare(db, "UPDATE entities SET start_ms=? WHERE user_id=? AND id=?", &u) != 0)
        rc = ETUDE_SYNCD_EDB;
    while (!rc && syncd_db_step(q) == SYNCD_ROW) {
        cJSON *d = cJSON_Parse((const char *)syncd_db_column_text(q, 2));
        int64_t start = session_start_ms(d, (const char *)syncd_db_column_text(q, 3));
        cJSON_Delete(d);
        syncd_db_reset(u);
        if (start == INT64_MIN)
            syncd_db_bind_null(u, 1);
        else
            syncd_db_bind_int64(u, 1, start);
        syncd_db_bind_int64(u, 2, syncd_db_column_int64(q, 0));
        syncd_db_bind_text(u, 3, (const char *)syncd_db_column_text(q, 1));
        if (syncd_db_step(u) != SYNCD_DONE)
            rc = ETUDE_SYNCD_EDB;
    }
    syncd_db_finalize(q);
    syncd_db_finalize(u);
    return rc;
}

static uint64_t random_epoch(void)
{
    uint64_t e = 0;
    while (e == 0)
        randombytes_buf(&e, sizeof e);
    return e;
}

static int set_epoch(syncd_db_t *db, uint64_t epoch)
{
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO meta(key, value) VALUES('epoch', '%016llx')"
             " ON CONFLICT(key) DO UPDATE SET value=excluded.value", (unsigned long long)epoch);
    return exec(db, sql);
}

static int read_epoch(syncd_db_t *db, uint64_t *epoch)
{
    syncd_stmt_t *q = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(db, "SELECT value FROM meta WHERE key='epoch'", &q) == 0 &&
        syncd_db_step(q) == SYNCD_ROW) {
        const char *t = (const char *)syncd_db_column_text(q, 0);
        char *end = NULL;
        unsigned long long v = t ? strtoull(t, &end, 16) : 0;
        if (t && end && *end == '\0' && v) {
            *epoch = v;
            rc = 0;
        }
    }
    syncd_db_finalize(q);
    return rc;
}

static int user_version(syncd_db_t *db)
{
    syncd_stmt_t *q = NULL;
    int v = -1;
    if (syncd_db_prepare(db, "PRAGMA user_version", &q) == 0 && syncd_db_step(q) == SYNCD_ROW)
        v = (int)syncd_db_column_int64(q, 0);
    syncd_db_finalize(q);
    return v;
}

static int record_version(syncd_db_t *db)
{
    char sql[160];
    snprintf(sql, sizeof sql, "INSERT INTO schema_version(version, applied_at) VALUES(%d, %lld)"
             " ON CONFLICT(version) DO NOTHING", SCHEMA_VERSION, (long long)etude_syncd_now_ms());
    return exec(db, sql);
}

/* SQLite: creates the schema or brings an older one to the current version, in one transaction.
 * *found is the version the database had (-1 unreadable). */
static int migrate(syncd_db_t *db, int *found)
{
    if (exec(db, "BEGIN IMMEDIATE"))
        return ETUDE_SYNCD_EDB;
    int v = user_version(db);
    *found = v;
    int rc = v < 0 || v > SCHEMA_VERSION ? ETUDE_SYNCD_EDB : exec(db, schema_sql);
    if (!rc && v < 2) {
        rc = exec(db, schema_v2_sql);
        if (!rc)
            rc = backfill_start(db);
        if (!rc)
            rc = set_epoch(db, random_epoch());
    }
    if (!rc && v < 3)
        rc = exec(db, schema_v3_sql);
    if (!rc && v < 4)
        rc = exec(db, schema_v4_sql);
    if (!rc && v < 5)
        rc = exec(db, schema_v5_sql);
    if (!rc && v < SCHEMA_VERSION) {
        char sql[48];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
        rc = exec(db, sql);
        if (!rc)
            rc = record_version(db);
    }
    if (rc || exec(db, "COMMIT")) {
        exec(db, "ROLLBACK");
        return ETUDE_SYNCD_EDB;
    }
    return 0;
}

/* PostgreSQL: the same, under an advisory lock so that processes starting together over one
 * database migrate it once (DDL is transactional: all or nothing). Runs in the caller's
 * transaction (pg_migrate's own, or db copy's). */
static int pg_migrate_tx(syncd_db_t *db, int *found)
{
    *found = -1;
    int rc = exec(db, "SELECT pg_advisory_xact_lock(7310312664925286)"); /* 'etude-syncd' */
    syncd_stmt_t *q = NULL;
    int v = -1;
    if (!rc && syncd_db_prepare(db, "SELECT count(*) FROM information_schema.tables"
                                    " WHERE table_schema = current_schema() AND table_name IN ('schema_version', 'users')",
                                &q) == 0 &&
        syncd_db_step(q) == SYNCD_ROW) {
        int64_t n = syncd_db_column_int64(q, 0);
        v = n == 0 ? 0 : n == 2 ? -2 : -1; /* -1: users without schema_version: not ours */
    }
    syncd_db_finalize(q);
    q = NULL;
    if (v == -2) {
        v = -1;
        if (syncd_db_prepare(db, "SELECT max(version) FROM schema_version", &q) == 0 && syncd_db_step(q) == SYNCD_ROW &&
            !syncd_db_column_null(q, 0))
            v = (int)syncd_db_column_int64(q, 0);
        syncd_db_finalize(q);
    }
    *found = v;
    if (rc || v < 0 || v > SCHEMA_VERSION)
        rc = ETUDE_SYNCD_EDB;
    if (!rc && v == 0) {
        rc = exec(db, pg_schema_sql);
        if (!rc)
            rc = set_epoch(db, random_epoch());
    }
    if (!rc && v < 5)
        rc = exec(db, pg_schema_v5_sql);
    if (!rc && v < SCHEMA_VERSION)
        rc = record_version(db);
    return rc ? ETUDE_SYNCD_EDB : 0;
}

static int pg_migrate(syncd_db_t *db, int *found)
{
    *found = -1;
    if (exec(db, "BEGIN"))
        return ETUDE_SYNCD_EDB;
    if (pg_migrate_tx(db, found) || exec(db, "COMMIT")) {
        exec(db, "ROLLBACK");
        return ETUDE_SYNCD_EDB;
    }
    return 0;
}

int syncd_store_pg_schema_tx(syncd_db_t *db, int *found)
{
    return pg_migrate_tx(db, found);
}

int syncd_store_schema_version(void)
{
    return SCHEMA_VERSION;
}

/* Creates a missing database file 0600 before SQLite opens it: SQLite gives the -wal and -shm
 * files the permissions of the database file. */
static int create_private(const char *path)
{
    if (strcmp(path, ":memory:") == 0 || path[0] == '\0')
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

void etude_syncd_db_display(const char *db, char *buf, size_t len)
{
    if (!syncd_db_is_uri(db)) {
        snprintf(buf, len, "%s", db);
        return;
    }
    /* scheme://[user[:password]@]host[:port][/dbname][?params]: the password and the parameters
     * (which may hold one) are left out. */
    const char *rest = strstr(db, "://") + 3;
    size_t scheme = (size_t)(rest - db);
    size_t auth = strcspn(rest, "/?");
    const char *at = memchr(rest, '@', auth);
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    size_t user = at ? (size_t)((colon ? colon : at) - rest) : 0;
    const char *host = at ? at + 1 : rest;
    size_t tail = strcspn(host, "?");
    snprintf(buf, len, "%.*s%.*s%s%.*s", (int)scheme, db, (int)user, rest, at ? "@" : "", (int)tail, host);
}

int etude_syncd_store_open(const etude_syncd_config_t *cfg, etude_syncd_store_t **out,
                           char *err_msg, size_t err_len)
{
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err_msg, err_len, "libsodium failed to initialise");
        return ETUDE_SYNCD_EINVAL;
    }
    etude_syncd_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return ETUDE_SYNCD_ENOMEM;
    st->cfg = *cfg;
    st->kind = syncd_db_is_uri(cfg->db_path) ? SYNCD_DB_PG : SYNCD_DB_SQLITE;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->freed, NULL);
    sem_init(&st->pw_slots, 0, PW_SLOTS);
    char shown[512];
    etude_syncd_db_display(cfg->db_path, shown, sizeof shown);
    if (st->kind == SYNCD_DB_SQLITE && create_private(cfg->db_path) != 0) {
        snprintf(err_msg, err_len, "%s: cannot open database: %s", shown, strerror(errno));
        etude_syncd_store_close(st);
        return ETUDE_SYNCD_EDB;
    }
    char dberr[400];
    if (syncd_db_open(cfg->db_path, &st->db, dberr, sizeof dberr) != 0) {
        snprintf(err_msg, err_len, "%s: cannot open database: %s", shown, dberr);
        etude_syncd_store_close(st);
        return ETUDE_SYNCD_EDB;
    }
    st->pool[0] = st->db;
    st->pool_n = 1;
    syncd_db_t *c = st->db;
    int found = 0;
    int bad = st->kind == SYNCD_DB_SQLITE
                  ? exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;") ||
                        migrate(c, &found) || read_epoch(c, &st->epoch)
                  : pg_migrate(c, &found) || read_epoch(c, &st->epoch);
    if (bad) {
        snprintf(err_msg, err_len, "%s: cannot initialise database: %s", shown,
                 found > SCHEMA_VERSION ? "made by a newer etude-syncd"
                 : found < 0 && st->kind == SYNCD_DB_PG ? "holds tables of something else (no schema_version)"
                                                        : syncd_db_errmsg(c));
        etude_syncd_store_close(st);
        return ETUDE_SYNCD_EDB;
    }
    st->from_version = found;
    uint64_t inst = random_epoch();
    snprintf(st->instance, sizeof st->instance, "%016llx", (unsigned long long)inst);
    if (crypto_pwhash_str(st->dummy_hash, "etude-syncd-dummy", 17, cfg->pw_ops, cfg->pw_mem) != 0) {
        snprintf(err_msg, err_len, "argon2id: out of memory");
        etude_syncd_store_close(st);
        return ETUDE_SYNCD_ENOMEM;
    }
    *out = st;
    return 0;
}

uint64_t etude_syncd_store_epoch(const etude_syncd_store_t *st)
{
    return st->epoch;
}

/* Opens an existing database for a maintenance command (the dummy hash at its cheapest). */
static int open_existing(const char *db_path, etude_syncd_store_t **st, char *err_msg, size_t err_len)
{
    if (!syncd_db_is_uri(db_path) && access(db_path, F_OK) != 0) {
        snprintf(err_msg, err_len, "%s: %s", db_path, strerror(errno));
        return ETUDE_SYNCD_ENOENT;
    }
    etude_syncd_config_t cfg;
    etude_syncd_config_defaults(&cfg);
    cfg.db_path = db_path;
    cfg.pw_ops = crypto_pwhash_OPSLIMIT_MIN; /* the dummy hash is not used here */
    cfg.pw_mem = crypto_pwhash_MEMLIMIT_MIN;
    return etude_syncd_store_open(&cfg, st, err_msg, err_len);
}

int etude_syncd_store_new_epoch(const char *db_path, char epoch_hex[17], char *err_msg, size_t err_len)
{
    etude_syncd_store_t *st = NULL;
    int rc = open_existing(db_path, &st, err_msg, err_len);
    if (rc)
        return rc;
    uint64_t e = random_epoch();
    while (e == st->epoch)
        e = random_epoch();
    syncd_db_t *c = st->db;
    rc = set_epoch(c, e);
    if (rc) {
        char shown[512];
        etude_syncd_db_display(db_path, shown, sizeof shown);
        snprintf(err_msg, err_len, "%s: cannot write the epoch: %s", shown, syncd_db_errmsg(c));
    } else {
        snprintf(epoch_hex, 17, "%016llx", (unsigned long long)e);
    }
    etude_syncd_store_close(st);
    return rc;
}

int etude_syncd_store_migrate(const char *db_path, int *from, int *to, char *err_msg, size_t err_len)
{
    etude_syncd_store_t *st = NULL;
    int rc = open_existing(db_path, &st, err_msg, err_len);
    if (rc)
        return rc;
    *from = st->from_version;
    *to = SCHEMA_VERSION;
    etude_syncd_store_close(st);
    return 0;
}

void etude_syncd_store_close(etude_syncd_store_t *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->pool_n; i++)
        syncd_db_close(st->pool[i]);
    if (st->pool_n == 0)
        syncd_db_close(st->db);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->freed);
    sem_destroy(&st->pw_slots);
    free(st);
}

static void random_uuid(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int etude_syncd_store_user_add(etude_syncd_store_t *st, const char *name, const char *password)
{
    return etude_syncd_store_user_add_admin(st, name, password, 0);
}

int etude_syncd_store_user_add_admin(etude_syncd_store_t *st, const char *name, const char *password,
                                     int admin)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), st->cfg.pw_ops, st->cfg.pw_mem) != 0)
        return ETUDE_SYNCD_ENOMEM;
    char uuid[37];
    random_uuid(uuid);
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(c, "INSERT INTO users(uuid, name, pwhash, created_at, admin) VALUES(?,?,?,?,?)", &s) == 0) {
        syncd_db_bind_text(s, 1, uuid);
        syncd_db_bind_text(s, 2, name);
        syncd_db_bind_text(s, 3, hash);
        syncd_db_bind_int64(s, 4, etude_syncd_now_ms());
        syncd_db_bind_int64(s, 5, admin ? 1 : 0);
        int r = syncd_db_step(s);
        rc = r == SYNCD_DONE ? 0 : r == SYNCD_CONSTRAINT ? ETUDE_SYNCD_EEXIST : ETUDE_SYNCD_EDB;
    }
    syncd_db_finalize(s);
    store_release(st, c);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

static void new_token(char out[64], unsigned char hash[32])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, 64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(hash, (const unsigned char *)out, strlen(out));
    sodium_memzero(raw, sizeof raw);
}

/* Creates a session of kind for user_id; caller holds the lock. A dashboard session (web_ttl_s > 0)
 * lives web_ttl_s seconds and its refresh token is never given out: it cannot be refreshed. */
static int create_session_kind(etude_syncd_store_t *st, syncd_db_t *c, int64_t user_id, long web_ttl_s,
                               etude_syncd_tokens_t *tok, int64_t *session_id)
{
    unsigned char ah[32], rh[32];
    new_token(tok->access, ah);
    new_token(tok->refresh, rh);
    int64_t now = etude_syncd_now_ms();
    tok->access_expires = now + (int64_t)(web_ttl_s > 0 ? web_ttl_s : st->cfg.token_ttl) * 1000;
    tok->refresh_expires = web_ttl_s > 0 ? tok->access_expires : now + (int64_t)st->cfg.refresh_ttl * 1000;
    if (web_ttl_s > 0)
        sodium_memzero(tok->refresh, sizeof tok->refresh);
    syncd_stmt_t *s = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(c, "INSERT INTO sessions(user_id, access_hash, access_expires, refresh_hash,"
                           " refresh_expires, created_at, kind) VALUES(?,?,?,?,?,?,?) RETURNING id", &s) == 0) {
        syncd_db_bind_int64(s, 7, web_ttl_s > 0 ? ETUDE_SYNCD_SESSION_WEB : ETUDE_SYNCD_SESSION_DEVICE);
        syncd_db_bind_int64(s, 1, user_id);
        syncd_db_bind_blob(s, 2, ah, 32);
        syncd_db_bind_int64(s, 3, tok->access_expires);
        syncd_db_bind_blob(s, 4, rh, 32);
        syncd_db_bind_int64(s, 5, tok->refresh_expires);
        syncd_db_bind_int64(s, 6, now);
        if (syncd_db_step(s) == SYNCD_ROW) {
            rc = 0;
            *session_id = syncd_db_column_int64(s, 0);
        }
    }
    syncd_db_finalize(s);
    return rc;
}

static int create_session(etude_syncd_store_t *st, syncd_db_t *c, int64_t user_id, etude_syncd_tokens_t *tok,
                          int64_t *session_id)
{
    return create_session_kind(st, c, user_id, 0, tok, session_id);
}

static void fill_user(etude_syncd_user_t *u, int64_t id, const unsigned char *uuid,
                      const unsigned char *name, int64_t session)
{
    memset(u, 0, sizeof *u);
    u->id = id;
    snprintf(u->uuid, sizeof u->uuid, "%s", uuid ? (const char *)uuid : "");
    snprintf(u->name, sizeof u->name, "%s", name ? (const char *)name : "");
    u->session_id = session;
}

/* Removes dead session rows (see SESSION_PURGE_AFTER_MS), at most once a minute per process; c is
 * not in a transaction. Best effort: a failure leaves the rows for the next time. */
static void purge_sessions(etude_syncd_store_t *st, syncd_db_t *c)
{
    int64_t now = etude_syncd_now_ms(), last = atomic_load(&st->purged_at);
    if (last != 0 && now - last < SESSION_PURGE_EVERY_MS && now >= last)
        return;
    if (!atomic_compare_exchange_strong(&st->purged_at, &last, now))
        return; /* another thread of this process is at it */
    syncd_stmt_t *q = NULL;
    if (syncd_db_prepare(c, "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE refresh_expires < ?"
                           " AND (grace_until IS NULL OR grace_until < ?) ORDER BY id LIMIT ?)", &q) == 0) {
        syncd_db_bind_int64(q, 1, now - SESSION_PURGE_AFTER_MS);
        syncd_db_bind_int64(q, 2, now);
        syncd_db_bind_int64(q, 3, SESSION_PURGE_MAX);
        if (syncd_db_step(q) != SYNCD_DONE)
            fprintf(stderr, "etude-syncd: purging expired sessions: %s\n", syncd_db_errmsg(c));
    }
    syncd_db_finalize(q);
}

/* Verifies name/password (argon2id, outside the lock; unknown users cost the same) and opens a
 * session: a device's token pair (web_ttl_s 0) or a dashboard session of web_ttl_s seconds. */
static int login_kind(etude_syncd_store_t *st, const char *name, const char *password, long web_ttl_s,
                      etude_syncd_tokens_t *tok, etude_syncd_user_t *user)
{
    char hash[crypto_pwhash_STRBYTES] = "";
    int64_t uid = 0;
    int admin = 0;
    char uuid[40] = "";
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    if (syncd_db_prepare(c, "SELECT id, uuid, pwhash, admin FROM users WHERE name=?", &s) ==
        0) {
        syncd_db_bind_text(s, 1, name);
        if (syncd_db_step(s) == SYNCD_ROW) {
            uid = syncd_db_column_int64(s, 0);
            snprintf(uuid, sizeof uuid, "%s", (const char *)syncd_db_column_text(s, 1));
            snprintf(hash, sizeof hash, "%s", (const char *)syncd_db_column_text(s, 2));
            admin = syncd_db_column_int64(s, 3);
        }
    }
    syncd_db_finalize(s);
    store_release(st, c);
    /* The slow argon2id check runs outside the lock. */
    while (sem_wait(&st->pw_slots) != 0)
        ;
    int ok = crypto_pwhash_str_verify(uid ? hash : st->dummy_hash, password, strlen(password)) == 0;
    sem_post(&st->pw_slots);
    if (!uid || !ok)
        return ETUDE_SYNCD_EAUTH;
    int64_t sid = 0;
    c = store_acquire(st);
    int rc = create_session_kind(st, c, uid, web_ttl_s, tok, &sid);
    if (rc == 0)
        purge_sessions(st, c);
    store_release(st, c);
    if (rc == 0) {
        fill_user(user, uid, (const unsigned char *)uuid, (const unsigned char *)name, sid);
        user->admin = admin;
        user->expires_ms = tok->access_expires;
    }
    return rc;
}

int etude_syncd_store_login(etude_syncd_store_t *st, const char *name, const char *password,
                            etude_syncd_tokens_t *tok, etude_syncd_user_t *user)
{
    return login_kind(st, name, password, 0, tok, user);
}

int etude_syncd_store_login_web(etude_syncd_store_t *st, const char *name, const char *password,
                                long ttl_s, char token[64], etude_syncd_user_t *user)
{
    etude_syncd_tokens_t tok;
    int rc = login_kind(st, name, password, ttl_s > 0 ? ttl_s : 1, &tok, user);
    if (rc == 0)
        memcpy(token, tok.access, 64);
    sodium_memzero(&tok, sizeof tok);
    return rc;
}

/* The key that seals a rotation's answer for its grace window: derived from the old refresh
 * token, which the server never stores, so the database alone cannot open it. */
static void grace_key(const char *refresh, unsigned char key[crypto_secretbox_KEYBYTES])
{
    static const char ctx[] = "etude-syncd refresh grace";
    crypto_generichash(key, crypto_secretbox_KEYBYTES, (const unsigned char *)refresh, strlen(refresh),
                       (const unsigned char *)ctx, sizeof ctx - 1);
}

#define GRACE_BOX_LEN (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + sizeof(etude_syncd_tokens_t))

/* Seals tok under the old refresh token into box[GRACE_BOX_LEN]. */
static void grace_seal(const char *refresh, const etude_syncd_tokens_t *tok, unsigned char *box)
{
    unsigned char key[crypto_secretbox_KEYBYTES];
    grace_key(refresh, key);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)tok, sizeof *tok, box, key);
    sodium_memzero(key, sizeof key);
}

static int grace_open(const char *refresh, const unsigned char *box, size_t len, etude_syncd_tokens_t *tok)
{
    if (!box || len != GRACE_BOX_LEN)
        return -1;
    unsigned char key[crypto_secretbox_KEYBYTES];
    grace_key(refresh, key);
    int rc = crypto_secretbox_open_easy((unsigned char *)tok, box + crypto_secretbox_NONCEBYTES,
                                        len - crypto_secretbox_NONCEBYTES, box, key);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* Whether session sid is neither revoked nor expired; caller holds the lock. */
static int session_live(syncd_db_t *c, int64_t sid, int64_t now)
{
    syncd_stmt_t *q = NULL;
    int live = 0;
    if (syncd_db_prepare(c, "SELECT 1 FROM sessions WHERE id=? AND revoked_at IS NULL AND refresh_expires>?", &q) == 0) {
        syncd_db_bind_int64(q, 1, sid);
        syncd_db_bind_int64(q, 2, now);
        live = syncd_db_step(q) == SYNCD_ROW;
    }
    syncd_db_finalize(q);
    return live;
}

/* One attempt at a rotation, in its own transaction. PostgreSQL: the old session's row is locked
 * (FOR UPDATE), so two processes rotating one token at once take turns, and the second sees the
 * first's rotation (the grace answer). */
static int refresh_tx(etude_syncd_store_t *st, syncd_db_t *c, const char *refresh, const unsigned char h[32],
                      int64_t now, etude_syncd_tokens_t *tok, etude_syncd_user_t *user)
{
    int rc = ETUDE_SYNCD_EAUTH;
    syncd_stmt_t *s = NULL;
    if (syncd_db_begin(c) != 0)
        return ETUDE_SYNCD_EDB;
#define REFRESH_SELECT                                                                                        \
    "SELECT s.id, s.user_id, s.refresh_expires, s.revoked_at, u.uuid, u.name,"                                \
    " s.rotated_to, s.grace_until, s.grace_box"                                                               \
    " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.refresh_hash=? AND s.kind=0"
    if (syncd_db_prepare(c, is_pg(c) ? REFRESH_SELECT " FOR UPDATE OF s" : REFRESH_SELECT, &s) == 0) {
        syncd_db_bind_blob(s, 1, h, 32);
        if (syncd_db_step(s) == SYNCD_ROW) {
            int64_t old = syncd_db_column_int64(s, 0), uid = syncd_db_column_int64(s, 1);
            char uuid[40], name[128];
            snprintf(uuid, sizeof uuid, "%s", (const char *)syncd_db_column_text(s, 4));
            snprintf(name, sizeof name, "%s", (const char *)syncd_db_column_text(s, 5));
            if (syncd_db_column_null(s, 3) && syncd_db_column_int64(s, 2) > now) {
                int64_t sid = 0;
                rc = create_session(st, c, uid, tok, &sid);
                syncd_stmt_t *u = NULL;
                if (rc == 0 &&
                    syncd_db_prepare(c, "UPDATE sessions SET revoked_at=?, rotated_to=?, grace_until=?,"
                                               " grace_box=? WHERE id=?", &u) == 0) {
                    unsigned char box[GRACE_BOX_LEN];
                    syncd_db_bind_int64(u, 1, now);
                    syncd_db_bind_int64(u, 2, sid);
                    if (st->cfg.refresh_grace > 0) {
                        grace_seal(refresh, tok, box);
                        syncd_db_bind_int64(u, 3, now + (int64_t)st->cfg.refresh_grace * 1000);
                        syncd_db_bind_blob(u, 4, box, sizeof box);
                    }
                    syncd_db_bind_int64(u, 5, old);
                    rc = syncd_db_step(u) == SYNCD_DONE ? 0 : ETUDE_SYNCD_EDB;
                } else if (rc == 0) {
                    rc = ETUDE_SYNCD_EDB;
                }
                syncd_db_finalize(u);
                if (rc == 0)
                    fill_user(user, uid, (const unsigned char *)uuid, (const unsigned char *)name, sid);
            } else if (!syncd_db_column_null(s, 6) && !syncd_db_column_null(s, 7) &&
                       syncd_db_column_int64(s, 7) > now) {
                /* Rotated moments ago (a concurrent refresh of the same token): the same new pair,
                 * as long as that session is still live. */
                int64_t sid = syncd_db_column_int64(s, 6);
                if (grace_open(refresh, syncd_db_column_blob(s, 8), (size_t)syncd_db_column_bytes(s, 8), tok) == 0 &&
                    session_live(c, sid, now)) {
                    fill_user(user, uid, (const unsigned char *)uuid, (const unsigned char *)name, sid);
                    rc = 0;
                } else {
                    sodium_memzero(tok, sizeof *tok);
                }
            }
        }
    } else {
        rc = ETUDE_SYNCD_EDB;
    }
    syncd_db_finalize(s);
    if (rc == 0 && exec(c, "COMMIT") != 0)
        rc = ETUDE_SYNCD_EDB;
    if (rc != 0)
        exec(c, "ROLLBACK");
    return rc;
}

int etude_syncd_store_refresh(etude_syncd_store_t *st, const char *refresh,
                              etude_syncd_tokens_t *tok, etude_syncd_user_t *user)
{
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)refresh, strlen(refresh));
    int64_t now = etude_syncd_now_ms();
    syncd_db_t *c = store_acquire(st);
    int rc;
    for (int attempt = 1;; attempt++) {
        rc = refresh_tx(st, c, refresh, h, now, tok, user);
        if (rc == 0 || !syncd_db_retryable(c))
            break;
        fprintf(stderr, "etude-syncd: refreshToken: attempt %d of %d ended by the database (%s)%s\n", attempt,
                TX_ATTEMPTS, syncd_db_errmsg(c), attempt < TX_ATTEMPTS ? "; trying again" : "");
        if (attempt >= TX_ATTEMPTS)
            break;
    }
    if (rc == 0)
        purge_sessions(st, c);
    store_release(st, c);
    return rc;
}

static int auth_kind(etude_syncd_store_t *st, const char *access, int kind, etude_syncd_user_t *user,
                     const char **why)
{
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)access, strlen(access));
    *why = "unknown";
    syncd_db_t *c = store_acquire(st);
    int rc = ETUDE_SYNCD_EAUTH;
    syncd_stmt_t *s = NULL;
    if (syncd_db_prepare(c, "SELECT s.id, s.user_id, s.access_expires, s.revoked_at, u.uuid, u.name, u.admin"
                           " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.access_hash=? AND s.kind=?", &s) == 0) {
        syncd_db_bind_blob(s, 1, h, 32);
        syncd_db_bind_int64(s, 2, kind);
        if (syncd_db_step(s) == SYNCD_ROW) {
            if (!syncd_db_column_null(s, 3)) {
                *why = "revoked";
            } else if (syncd_db_column_int64(s, 2) <= etude_syncd_now_ms()) {
                *why = "expired";
            } else {
                fill_user(user, syncd_db_column_int64(s, 1), syncd_db_column_text(s, 4),
                          syncd_db_column_text(s, 5), syncd_db_column_int64(s, 0));
                user->admin = syncd_db_column_int64(s, 6);
                user->expires_ms = syncd_db_column_int64(s, 2);
                rc = 0;
                *why = NULL;
            }
        }
    } else {
        rc = ETUDE_SYNCD_EDB;
    }
    syncd_db_finalize(s);
    store_release(st, c);
    return rc;
}

int etude_syncd_store_auth(etude_syncd_store_t *st, const char *access, etude_syncd_user_t *user,
                           const char **why)
{
    return auth_kind(st, access, ETUDE_SYNCD_SESSION_DEVICE, user, why);
}

int etude_syncd_store_auth_web(etude_syncd_store_t *st, const char *token, etude_syncd_user_t *user,
                               const char **why)
{
    return auth_kind(st, token, ETUDE_SYNCD_SESSION_WEB, user, why);
}

int etude_syncd_store_secret(etude_syncd_store_t *st, const char *name, unsigned char key[32])
{
    unsigned char fresh[32];
    char hex[65];
    randombytes_buf(fresh, sizeof fresh);
    sodium_bin2hex(hex, sizeof hex, fresh, sizeof fresh);
    sodium_memzero(fresh, sizeof fresh);
    char mkey[80];
    snprintf(mkey, sizeof mkey, "secret.%s", name);
    int rc = ETUDE_SYNCD_EDB;
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    /* Another process over the same database may create it first: the first one written wins. */
    if (syncd_db_prepare(c, is_pg(c) ? "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING"
                                     : "INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)", &s) == 0) {
        syncd_db_bind_text(s, 1, mkey);
        syncd_db_bind_text(s, 2, hex);
        if (syncd_db_step(s) == SYNCD_DONE)
            rc = 0;
    }
    syncd_db_finalize(s);
    sodium_memzero(hex, sizeof hex);
    s = NULL;
    if (rc == 0) {
        rc = ETUDE_SYNCD_EDB;
        if (syncd_db_prepare(c, "SELECT value FROM meta WHERE key=?", &s) == 0) {
            syncd_db_bind_text(s, 1, mkey);
            size_t n = 0;
            if (syncd_db_step(s) == SYNCD_ROW && syncd_db_column_text(s, 0) &&
                sodium_hex2bin(key, 32, (const char *)syncd_db_column_text(s, 0), 64, NULL, &n, NULL) == 0 && n == 32)
                rc = 0;
        }
        syncd_db_finalize(s);
    }
    store_release(st, c);
    return rc;
}

int etude_syncd_store_logout(etude_syncd_store_t *st, const etude_syncd_user_t *user)
{
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(c, "UPDATE sessions SET revoked_at=? WHERE id=? AND user_id=? AND revoked_at IS NULL", &s) == 0) {
        syncd_db_bind_int64(s, 1, etude_syncd_now_ms());
        syncd_db_bind_int64(s, 2, user->session_id);
        syncd_db_bind_int64(s, 3, user->id);
        rc = syncd_db_step(s) == SYNCD_DONE ? 0 : ETUDE_SYNCD_EDB;
    }
    syncd_db_finalize(s);
    store_release(st, c);
    return rc;
}

/* Caller holds the lock. */
static void audit_locked(syncd_db_t *c, int64_t user_id, const char *op,
                         const char *detail, const char *result)
{
    syncd_stmt_t *s = NULL;
    if (syncd_db_prepare(c, "INSERT INTO audit(at, user_id, operation, detail, result) VALUES(?,?,?,?,?)", &s) == 0) {
        syncd_db_bind_int64(s, 1, etude_syncd_now_ms());
        if (user_id > 0)
            syncd_db_bind_int64(s, 2, user_id);
        else
            syncd_db_bind_null(s, 2);
        char *clean = NULL;
        detail = detail ? detail : "";
        if (is_pg(c) && !etude_utf8_valid(detail, strlen(detail)) && (clean = strdup(detail)) != NULL) {
            /* PostgreSQL refuses text that is not UTF-8 (and a failed statement would end the
             * caller's transaction): the bytes of a name or id as sent, made printable. */
            for (char *q = clean; *q; q++)
                if ((unsigned char)*q >= 0x80)
                    *q = '?';
            detail = clean;
        }
        syncd_db_bind_text(s, 3, op);
        syncd_db_bind_text(s, 4, detail);
        syncd_db_bind_text(s, 5, result ? result : "");
        syncd_db_step(s);
        free(clean);
    }
    syncd_db_finalize(s);
}

void etude_syncd_store_audit(etude_syncd_store_t *st, int64_t user_id, const char *operation,
                             const char *detail, const char *result)
{
    syncd_db_t *c = store_acquire(st);
    audit_locked(c, user_id, operation, detail, result);
    store_release(st, c);
}

/* The tag of the batch that assigned seq to user_id (0 for sequence 0 or a sequence assigned
 * before batches carried tags); caller holds the lock. */
static int seq_tag_locked(syncd_db_t *c, int64_t user_id, int64_t seq, uint64_t *tag)
{
    *tag = 0;
    if (seq <= 0)
        return 0;
    syncd_stmt_t *q = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(c, "SELECT first_seq, tag FROM batches INDEXED BY batches_by_seq"
                                   " WHERE user_id=? AND last_seq>=? AND last_seq IS NOT NULL"
                                   " ORDER BY last_seq LIMIT 1", &q) == 0) {
        syncd_db_bind_int64(q, 1, user_id);
        syncd_db_bind_int64(q, 2, seq);
        int r = syncd_db_step(q);
        if (r == SYNCD_ROW && syncd_db_column_int64(q, 0) <= seq)
            *tag = (uint64_t)syncd_db_column_int64(q, 1);
        rc = r == SYNCD_ROW || r == SYNCD_DONE ? 0 : ETUDE_SYNCD_EDB;
    }
    syncd_db_finalize(q);
    return rc;
}

/* The user's latest sequence; caller holds the lock. */
static int latest_seq_locked(syncd_db_t *c, int64_t user_id, int64_t *seq)
{
    *seq = 0;
    syncd_stmt_t *s = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(c, "SELECT seq FROM users WHERE id=?", &s) == 0) {
        syncd_db_bind_int64(s, 1, user_id);
        if (syncd_db_step(s) == SYNCD_ROW) {
            *seq = syncd_db_column_int64(s, 0);
            rc = 0;
        }
    }
    syncd_db_finalize(s);
    return rc;
}

static int cursor_locked(etude_syncd_store_t *st, syncd_db_t *c, int64_t user_id, int64_t seq, char *buf, size_t len)
{
    uint64_t tag = 0;
    int rc = seq_tag_locked(c, user_id, seq, &tag);
    etude_syncd_cursor_encode(st->epoch, seq, tag, buf, len);
    return rc;
}

int etude_syncd_store_latest_cursor(etude_syncd_store_t *st, int64_t user_id, char *buf, size_t len)
{
    int64_t seq = 0;
    syncd_db_t *c = store_acquire(st);
    int rc = latest_seq_locked(c, user_id, &seq);
    if (!rc)
        rc = cursor_locked(st, c, user_id, seq, buf, len);
    store_release(st, c);
    return rc;
}

/* ---- entities ---- */

/* Ids, types, timestamps and data are checked by libetude-common (etude_entity.h), exactly as
 * every client checks them. */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Start of a practice session (data.startedAt), the key of the duplicate index; INT64_MIN when
 * absent (then the session is nobody's duplicate, etude_entity_same_thing). */
static int64_t session_start_ms(const cJSON *data, const char *created_at)
{
    (void)created_at;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "startedAt");
    int64_t t = 0;
    return cJSON_IsString(v) && etude_time_parse_ms(v->valuestring, &t) == 0 ? t : INT64_MIN;
}

/* The start tolerance of the duplicate rule, for the index range. */
#define SAME_START_MS ETUDE_ENTITY_DUP_START_MS


/* A validated upload entity; strings point into the request JSON. */
typedef struct entity_in {
    const char *id, *local_id, *type, *created, *updated, *deleted, *checksum;
    int64_t base;
    char *canon; /* canonical data, malloc'd; "null" for tombstones */
    const cJSON *data;
    char field[64]; /* the field at fault, when etude_entity_check refused it */
} entity_in_t;

static const char *opt_string(const cJSON *o, const char *k, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

/* Validates one entity; on failure sets *field and reason and returns -1. */
static int validate_entity(const etude_syncd_store_t *st, const cJSON *o, entity_in_t *e,
                           const char **field, char *reason, size_t rlen)
{
    memset(e, 0, sizeof *e);
    int bad = 0;
    if (!cJSON_IsObject(o)) {
        *field = "entity";
        snprintf(reason, rlen, "must be an object");
        return -1;
    }
#define NEED_STRING(var, key)                                                                      \
    do {                                                                                           \
        bad = 0;                                                                                   \
        var = opt_string(o, key, &bad);                                                            \
        if (!var) {                                                                                \
            *field = key;                                                                          \
            snprintf(reason, rlen, bad ? "must be a string" : "missing");                          \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    NEED_STRING(e->id, "id");
    NEED_STRING(e->type, "entityType");
    NEED_STRING(e->created, "createdAt");
    NEED_STRING(e->updated, "updatedAt");
    bad = 0;
    e->deleted = opt_string(o, "deletedAt", &bad);
    if (bad) {
        *field = "deletedAt";
        snprintf(reason, rlen, "must be null or a string");
        return -1;
    }
    e->data = cJSON_GetObjectItemCaseSensitive(o, "data");
    /* What every client accepts, no more: strict times, updatedAt >= createdAt, UTF-8, ranges,
     * and nothing more than ETUDE_ENTITY_MAX_AHEAD_MS ahead of this server's clock. */
    etude_entity_view_t view = {e->id, e->type, e->created, e->updated, e->deleted, e->deleted ? NULL : e->data};
    etude_entity_fault_t fault;
    int vr = etude_entity_check(&view, etude_syncd_now_ms(), &fault);
    if (vr) {
        if (vr == ETUDE_ENOMEM)
            return -1; /* no field: reported as out of memory */
        snprintf(e->field, sizeof e->field, "%s", fault.field);
        *field = e->field;
        snprintf(reason, rlen, "%s", fault.reason);
        return -1;
    }
    NEED_STRING(e->checksum, "checksum");
#undef NEED_STRING
    e->local_id = opt_string(o, "localId", &bad);
    if (bad || (e->local_id && (strlen(e->local_id) > 256 || !etude_utf8_valid(e->local_id, strlen(e->local_id))))) {
        *field = "localId";
        snprintf(reason, rlen, "must be null or a UTF-8 string of at most 256 bytes");
        return -1;
    }
    const cJSON *bv = cJSON_GetObjectItemCaseSensitive(o, "baseVersion");
    if (bv && !cJSON_IsNull(bv)) {
        if (!cJSON_IsNumber(bv) || bv->valuedouble < 0 || bv->valuedouble > 2147483647.0 ||
            bv->valuedouble != (double)(int64_t)bv->valuedouble) {
            *field = "baseVersion";
            snprintf(reason, rlen, "must be null or an integer >= 0");
            return -1;
        }
        e->base = (int64_t)bv->valuedouble;
    }
    if (!is_hex64(e->checksum)) {
        *field = "checksum";
        snprintf(reason, rlen, "must be 64 lowercase hex digits (SHA-256)");
        return -1;
    }
    if (e->deleted) {
        e->canon = strdup("null"); /* a tombstone keeps no data */
        return e->canon ? 0 : -1;
    }
    if (!cJSON_IsObject(e->data)) {
        *field = "data";
        snprintf(reason, rlen, e->data && !cJSON_IsNull(e->data) ? "must be a JSON object" : "missing");
        return -1;
    }
    e->canon = etude_syncd_canonical_json(e->data);
    if (!e->canon) {
        *field = "data";
        snprintf(reason, rlen, "cannot be canonicalised (nested deeper than 64 levels)");
        return -1;
    }
    size_t n = strlen(e->canon);
    if (n > st->cfg.max_entity_bytes) {
        *field = "data";
        snprintf(reason, rlen, "oversized: %zu bytes of canonical JSON, limit %zu", n,
                 st->cfg.max_entity_bytes);
        free(e->canon);
        e->canon = NULL;
        return -1;
    }
    char hex[65];
    etude_syncd_sha256_hex(e->canon, n, hex);
    if (strcmp(hex, e->checksum) != 0) {
        *field = "checksum";
        snprintf(reason, rlen, "does not match the SHA-256 of the canonical data (%s)", hex);
        free(e->canon);
        e->canon = NULL;
        return -1;
    }
    return 0;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *parse_data(const char *text)
{
    if (!text)
        return cJSON_CreateNull();
    cJSON *d = cJSON_Parse(text);
    return d ? d : cJSON_CreateNull();
}

/* SyncableEntity from a row of: id, entity_type, local_id, created_at, updated_at, deleted_at,
 * sync_version, checksum, data. */
static cJSON *row_entity(syncd_stmt_t *s)
{
    cJSON *o = cJSON_CreateObject();
    const char *id = (const char *)syncd_db_column_text(s, 0);
    cJSON_AddStringToObject(o, "id", id);
    add_str_or_null(o, "localId", (const char *)syncd_db_column_text(s, 2));
    cJSON_AddStringToObject(o, "remoteId", id);
    cJSON_AddStringToObject(o, "createdAt", (const char *)syncd_db_column_text(s, 3));
    cJSON_AddStringToObject(o, "updatedAt", (const char *)syncd_db_column_text(s, 4));
    add_str_or_null(o, "deletedAt", (const char *)syncd_db_column_text(s, 5));
    cJSON_AddStringToObject(o, "syncStatus", "synced");
    cJSON_AddNumberToObject(o, "syncVersion", (double)syncd_db_column_int64(s, 6));
    cJSON_AddStringToObject(o, "checksum", (const char *)syncd_db_column_text(s, 7));
    cJSON_AddStringToObject(o, "entityType", (const char *)syncd_db_column_text(s, 1));
    cJSON_AddItemToObject(o, "data", parse_data((const char *)syncd_db_column_text(s, 8)));
    return o;
}

static cJSON *input_entity(const entity_in_t *e, const char *checksum)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->id);
    add_str_or_null(o, "localId", e->local_id);
    cJSON_AddStringToObject(o, "remoteId", e->id);
    cJSON_AddStringToObject(o, "createdAt", e->created);
    cJSON_AddStringToObject(o, "updatedAt", e->updated);
    add_str_or_null(o, "deletedAt", e->deleted);
    cJSON_AddStringToObject(o, "syncStatus", "conflict");
    cJSON_AddNumberToObject(o, "syncVersion", (double)e->base);
    cJSON_AddStringToObject(o, "checksum", checksum);
    cJSON_AddStringToObject(o, "entityType", e->type);
    cJSON_AddItemToObject(o, "data", parse_data(e->canon));
    return o;
}

#define ENTITY_COLS "id, entity_type, local_id, created_at, updated_at, deleted_at, sync_version, checksum, data"

static void reject(cJSON *arr, int index, const char *id, const char *field, const char *reason)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "index", index);
    add_str_or_null(r, "id", id);
    cJSON_AddStringToObject(r, "field", field);
    cJSON_AddStringToObject(r, "reason", reason);
    cJSON_AddItemToArray(arr, r);
}

/* One entity of a batch after the lock-free checks. */
typedef struct pre {
    entity_in_t e;
    int bad;
    const char *field;
    const char *raw_id;
    char reason[200];
} pre_t;

static void free_pre(pre_t *pre, int n)
{
    for (int i = 0; i < n; i++)
        free(pre[i].e.canon);
    free(pre);
}

/* Returned by upload_tx when the attempt should run again (PostgreSQL: a serialization failure,
 * a deadlock, or the same batch committed by another process meanwhile). */
#define TX_AGAIN 1

/* One attempt at applying a validated batch, in its own transaction. */
/* PostgreSQL: NOTIFY etude_sync with a notice of kind for user_id inside the caller's transaction
 * (sent on commit, dropped on rollback); SQLite: nothing. The payload is a JSON object: "i" this
 * store's instance, "k" the kind ("changes" or "status"), "u" the user id, "d" the origin device,
 * and for changes "s" the latest sequence, "c" its cursor and "n" the count. */
static int notify_locked(etude_syncd_store_t *st, syncd_db_t *c, int kind, int64_t user_id, const char *device,
                         int64_t seq, const char *cursor, int count)
{
    if (!is_pg(c))
        return 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "i", st->instance);
    cJSON_AddStringToObject(o, "k", kind == ETUDE_SYNCD_NOTICE_STATUS ? "status" : "changes");
    cJSON_AddNumberToObject(o, "u", (double)user_id);
    cJSON_AddStringToObject(o, "d", device ? device : "");
    if (kind == ETUDE_SYNCD_NOTICE_CHANGES) {
        cJSON_AddNumberToObject(o, "s", (double)seq);
        cJSON_AddStringToObject(o, "c", cursor);
        cJSON_AddNumberToObject(o, "n", count);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    syncd_stmt_t *q = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (text && syncd_db_prepare(c, "SELECT pg_notify('etude_sync', ?)", &q) == 0) {
        syncd_db_bind_text(q, 1, text);
        if (syncd_db_step(q) == SYNCD_ROW)
            rc = 0;
    }
    syncd_db_finalize(q);
    cJSON_free(text);
    return rc;
}

static int upload_tx(etude_syncd_store_t *st, syncd_db_t *c, const etude_syncd_user_t *user, const char *batch_id,
                     const char *device, int64_t mseq, const cJSON *ents, const pre_t *pre, cJSON **result,
                     etude_syncd_upload_stats_t *stats, const char **err_code, char *err_msg, size_t err_len)
{
    *result = NULL;
    memset(stats, 0, sizeof *stats);
    if (syncd_db_begin(c) != 0) {
        *err_code = "INTERNAL_SERVER_ERROR";
        snprintf(err_msg, err_len, "database busy");
        return syncd_db_retryable(c) ? TX_AGAIN : ETUDE_SYNCD_EDB;
    }
    int rc = 0;
    syncd_stmt_t *q = NULL;
    if (is_pg(c)) {
        /* The user's counter row, locked until the commit: this user's uploads, through any
         * process, apply one at a time, so the replay check below sees every batch committed
         * before and sequences are handed out gap-free and in order. NO KEY UPDATE: the lock the
         * sequence's UPDATE takes anyway, which does not wait for the key-share locks that the
         * user's other writes (a login's session row, a status report) take on it. */
        if (syncd_db_prepare(c, "SELECT seq FROM users WHERE id=? FOR NO KEY UPDATE", &q) != 0)
            rc = ETUDE_SYNCD_EDB;
        syncd_db_bind_int64(q, 1, user->id);
        if (!rc && syncd_db_step(q) != SYNCD_ROW)
            rc = ETUDE_SYNCD_EDB;
        syncd_db_finalize(q);
        q = NULL;
        if (rc) {
            exec(c, "ROLLBACK");
            *err_code = "INTERNAL_SERVER_ERROR";
            snprintf(err_msg, err_len, "uploadBatch: the database refused the write; nothing was applied");
            return syncd_db_retryable(c) ? TX_AGAIN : rc;
        }
    }
    /* Replay? The stored answer is returned and nothing changes. */
    syncd_db_prepare(c, "SELECT device_id, mutation_seq, result FROM batches WHERE user_id=? AND batch_id=?", &q);
    syncd_db_bind_int64(q, 1, user->id);
    syncd_db_bind_text(q, 2, batch_id);
    if (syncd_db_step(q) == SYNCD_ROW) {
        if (strcmp((const char *)syncd_db_column_text(q, 0), device) == 0 &&
            syncd_db_column_int64(q, 1) == mseq) {
            *result = cJSON_Parse((const char *)syncd_db_column_text(q, 2));
            if (*result) {
                cJSON_ReplaceItemInObjectCaseSensitive(*result, "replayed", cJSON_CreateTrue());
                stats->replayed = 1;
            } else {
                rc = ETUDE_SYNCD_EDB;
                *err_code = "INTERNAL_SERVER_ERROR";
                snprintf(err_msg, err_len, "stored batch answer unreadable");
            }
        } else {
            rc = ETUDE_SYNCD_EINVAL;
            *err_code = "BATCH_ID_REUSED";
            snprintf(err_msg, err_len,
                     "batch.batchId: '%.80s' was already used with another deviceId or mutationSeq",
                     batch_id);
        }
        syncd_db_finalize(q);
        exec(c, "ROLLBACK");
        return rc;
    }
    syncd_db_finalize(q);
    syncd_db_prepare(c, "SELECT last_seq FROM devices WHERE user_id=? AND device_id=?", &q);
    syncd_db_bind_int64(q, 1, user->id);
    syncd_db_bind_text(q, 2, device);
    if (syncd_db_step(q) == SYNCD_ROW && syncd_db_column_int64(q, 0) >= mseq) {
        snprintf(err_msg, err_len,
                 "batch.mutationSeq: %lld is not above this device's last sequence %lld",
                 (long long)mseq, (long long)syncd_db_column_int64(q, 0));
        syncd_db_finalize(q);
        exec(c, "ROLLBACK");
        *err_code = "MUTATION_SEQ_NOT_INCREASING";
        return ETUDE_SYNCD_EINVAL;
    }
    syncd_db_finalize(q);

    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "batchId", batch_id);
    cJSON_AddStringToObject(res, "deviceId", device);
    cJSON_AddNumberToObject(res, "mutationSeq", (double)mseq);
    cJSON_AddFalseToObject(res, "replayed");
    cJSON *acc = cJSON_AddArrayToObject(res, "accepted");
    cJSON *con = cJSON_AddArrayToObject(res, "conflicts");
    cJSON *dup = cJSON_AddArrayToObject(res, "duplicates");
    cJSON *rej = cJSON_AddArrayToObject(res, "rejected");

    syncd_stmt_t *get = NULL, *dupq = NULL, *seq = NULL, *put = NULL;
    int prep = syncd_db_prepare(c, "SELECT " ENTITY_COLS " FROM entities WHERE user_id=? AND id=?", &get) |
               syncd_db_prepare(c, /* Without statistics the planner prefers the primary key (user_id, id) and
                                   * scans all of a user's rows; the start index is the right one. */
                                  "SELECT id, data, created_at FROM entities INDEXED BY entities_by_start"
                                  " WHERE user_id=? AND start_ms BETWEEN ? AND ? AND start_ms IS NOT NULL"
                                  " AND deleted_at IS NULL AND id<>? AND entity_type='practiceSession'", &dupq) |
               syncd_db_prepare(c, "UPDATE users SET seq=seq+1 WHERE id=? RETURNING seq", &seq) |
               syncd_db_prepare(c, "INSERT INTO entities(user_id, id, entity_type, local_id, created_at,"
                                  " updated_at, deleted_at, sync_version, checksum, data, server_seq, device_id,"
                                  " start_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(user_id, id) DO UPDATE SET"
                                  " local_id=excluded.local_id, created_at=excluded.created_at,"
                                  " updated_at=excluded.updated_at, deleted_at=excluded.deleted_at,"
                                  " sync_version=excluded.sync_version, checksum=excluded.checksum,"
                                  " data=excluded.data, server_seq=excluded.server_seq,"
                                  " device_id=excluded.device_id, start_ms=excluded.start_ms", &put);
    if (prep != 0)
        rc = ETUDE_SYNCD_EDB;

    int index = -1, again = 0;
    int64_t first_seq = 0;
    uint64_t tag = 0;
    while (tag == 0) { /* the batch's tag, carried by the cursors of the sequences it assigns */
        randombytes_buf(&tag, sizeof tag);
        tag &= 0xffffffffffffULL;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, ents)
    {
        if (rc)
            break;
        index++;
        if (pre[index].bad) {
            reject(rej, index, pre[index].raw_id, pre[index].field, pre[index].reason);
            stats->rejected++;
            continue;
        }
        entity_in_t e = pre[index].e;
        const char *checksum = e.checksum;
        char null_sum[65];
        if (e.deleted) {
            etude_syncd_sha256_hex("null", 4, null_sum);
            checksum = null_sum;
        }
        syncd_db_reset(get);
        syncd_db_bind_int64(get, 1, user->id);
        syncd_db_bind_text(get, 2, e.id);
        int r = syncd_db_step(get);
        int exists = r == SYNCD_ROW;
        if (r != SYNCD_ROW && r != SYNCD_DONE) {
            rc = ETUDE_SYNCD_EDB;
            break;
        }
        int64_t version = exists ? syncd_db_column_int64(get, 6) : 0;
        if (exists && e.base != version) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "id", e.id);
            cJSON_AddStringToObject(c, "entityType", (const char *)syncd_db_column_text(get, 1));
            cJSON_AddNumberToObject(c, "baseVersion", (double)e.base);
            cJSON_AddNumberToObject(c, "serverVersion", (double)version);
            cJSON_AddItemToObject(c, "server", row_entity(get));
            cJSON_AddItemToObject(c, "client", input_entity(&e, checksum));
            cJSON_AddItemToArray(con, c);
            stats->conflicts++;
            continue;
        }
        if (exists && strcmp((const char *)syncd_db_column_text(get, 1), e.type) != 0) {
            reject(rej, index, e.id, "entityType", "differs from the stored entity's type");
            stats->rejected++;
            continue;
        }
        if (exists && !syncd_db_column_null(get, 5) && !e.deleted) {
            reject(rej, index, e.id, "deletedAt", "the entity is deleted; a tombstone cannot be revived");
            stats->rejected++;
            continue;
        }
        syncd_db_reset(get);
        int64_t start_ms = INT64_MIN;
        if (!e.deleted && strcmp(e.type, "practiceSession") == 0)
            start_ms = session_start_ms(e.data, e.created);
        if (start_ms != INT64_MIN) {
            syncd_db_reset(dupq);
            syncd_db_bind_int64(dupq, 1, user->id);
            syncd_db_bind_int64(dupq, 2, start_ms - SAME_START_MS);
            syncd_db_bind_int64(dupq, 3, start_ms + SAME_START_MS);
            syncd_db_bind_text(dupq, 4, e.id);
            int found = 0;
            while (!found && syncd_db_step(dupq) == SYNCD_ROW) {
                cJSON *other = cJSON_Parse((const char *)syncd_db_column_text(dupq, 1));
                found = other && etude_entity_same_thing("practiceSession", e.data, other);
                cJSON_Delete(other);
                if (found) {
                    cJSON *d = cJSON_CreateObject();
                    cJSON_AddStringToObject(d, "id", e.id);
                    cJSON_AddStringToObject(d, "duplicateOf", (const char *)syncd_db_column_text(dupq, 0));
                    cJSON_AddStringToObject(d, "entityType", e.type);
                    cJSON_AddStringToObject(d, "checksum", e.checksum);
                    cJSON_AddItemToArray(dup, d);
                    stats->duplicates++;
                }
            }
            syncd_db_reset(dupq);
            if (found)
                continue;
        }
        syncd_db_reset(seq);
        syncd_db_bind_int64(seq, 1, user->id);
        if (syncd_db_step(seq) != SYNCD_ROW) {
            rc = ETUDE_SYNCD_EDB;
            break;
        }
        int64_t sseq = syncd_db_column_int64(seq, 0);
        syncd_db_reset(seq);
        syncd_db_reset(put);
        syncd_db_bind_int64(put, 1, user->id);
        syncd_db_bind_text(put, 2, e.id);
        syncd_db_bind_text(put, 3, e.type);
        if (e.local_id)
            syncd_db_bind_text(put, 4, e.local_id);
        else
            syncd_db_bind_null(put, 4);
        syncd_db_bind_text(put, 5, e.created);
        syncd_db_bind_text(put, 6, e.updated);
        if (e.deleted)
            syncd_db_bind_text(put, 7, e.deleted);
        else
            syncd_db_bind_null(put, 7);
        syncd_db_bind_int64(put, 8, version + 1);
        syncd_db_bind_text(put, 9, checksum);
        if (e.deleted)
            syncd_db_bind_null(put, 10);
        else
            syncd_db_bind_text(put, 10, e.canon);
        syncd_db_bind_int64(put, 11, sseq);
        syncd_db_bind_text(put, 12, device);
        if (start_ms != INT64_MIN)
            syncd_db_bind_int64(put, 13, start_ms);
        else
            syncd_db_bind_null(put, 13);
        r = syncd_db_step(put);
        if (r != SYNCD_DONE) {
            rc = ETUDE_SYNCD_EDB;
            break;
        }
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "id", e.id);
        cJSON_AddStringToObject(a, "remoteId", e.id);
        cJSON_AddNumberToObject(a, "syncVersion", (double)(version + 1));
        cJSON_AddItemToArray(acc, a);
        if (stats->accepted == 0)
            first_seq = sseq;
        stats->accepted++;
        stats->latest_seq = sseq;
    }
    syncd_db_finalize(get);
    syncd_db_finalize(dupq);
    syncd_db_finalize(seq);
    syncd_db_finalize(put);

    char *text = rc ? NULL : etude_canon_print(res); /* exact numbers, unlike cJSON's printer */
    if (!rc && !text)
        rc = ETUDE_SYNCD_ENOMEM;
    if (!rc) {
        q = NULL;
        if (syncd_db_prepare(c, "INSERT INTO devices(user_id, device_id, last_seq) VALUES(?,?,?)"
                               " ON CONFLICT(user_id, device_id) DO UPDATE SET last_seq=excluded.last_seq", &q) != 0)
            rc = ETUDE_SYNCD_EDB;
        else {
            syncd_db_bind_int64(q, 1, user->id);
            syncd_db_bind_text(q, 2, device);
            syncd_db_bind_int64(q, 3, mseq);
            if (syncd_db_step(q) != SYNCD_DONE)
                rc = ETUDE_SYNCD_EDB;
        }
        syncd_db_finalize(q);
    }
    if (!rc) {
        q = NULL;
        if (syncd_db_prepare(c, "INSERT INTO batches(user_id, batch_id, device_id, mutation_seq, result, created_at,"
                               " first_seq, last_seq, tag) VALUES(?,?,?,?,?,?,?,?,?)", &q) != 0)
            rc = ETUDE_SYNCD_EDB;
        else {
            syncd_db_bind_int64(q, 1, user->id);
            syncd_db_bind_text(q, 2, batch_id);
            syncd_db_bind_text(q, 3, device);
            syncd_db_bind_int64(q, 4, mseq);
            syncd_db_bind_text(q, 5, text);
            syncd_db_bind_int64(q, 6, etude_syncd_now_ms());
            if (stats->accepted > 0) {
                syncd_db_bind_int64(q, 7, first_seq);
                syncd_db_bind_int64(q, 8, stats->latest_seq);
                syncd_db_bind_int64(q, 9, (int64_t)tag);
            }
            int r = syncd_db_step(q);
            if (r == SYNCD_CONSTRAINT && is_pg(c))
                again = 1; /* the same batch committed meanwhile: the next attempt replays it */
            if (r != SYNCD_DONE)
                rc = ETUDE_SYNCD_EDB;
        }
        syncd_db_finalize(q);
    }
    cJSON_free(text);
    if (!rc) {
        char detail[256];
        snprintf(detail, sizeof detail, "batch=%.64s device=%.64s seq=%lld entities=%d",
                 batch_id, device, (long long)mseq, cJSON_GetArraySize(ents));
        char outcome[128];
        snprintf(outcome, sizeof outcome, "ok accepted=%d conflicts=%d duplicates=%d rejected=%d",
                 stats->accepted, stats->conflicts, stats->duplicates, stats->rejected);
        audit_locked(c, user->id, "uploadBatch", detail, outcome);
    }
    if (!rc && stats->accepted > 0) {
        /* Other processes' streams hear of it through the database, on commit. */
        char cursor[ETUDE_SYNCD_CURSOR_LEN];
        etude_syncd_cursor_encode(st->epoch, stats->latest_seq, tag, cursor, sizeof cursor);
        rc = notify_locked(st, c, ETUDE_SYNCD_NOTICE_CHANGES, user->id, device, stats->latest_seq, cursor,
                           stats->accepted);
    }
    if (rc || exec(c, "COMMIT") != 0) {
        exec(c, "ROLLBACK");
        cJSON_Delete(res);
        memset(stats, 0, sizeof *stats);
        *err_code = "INTERNAL_SERVER_ERROR";
        snprintf(err_msg, err_len, "uploadBatch: the database refused the write; nothing was applied");
        return again || syncd_db_retryable(c) ? TX_AGAIN : rc ? rc : ETUDE_SYNCD_EDB;
    }
    if (stats->accepted > 0)
        etude_syncd_cursor_encode(st->epoch, stats->latest_seq, tag, stats->latest_cursor,
                                  sizeof stats->latest_cursor);
    *result = res;
    return 0;
}

int etude_syncd_store_upload(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                             const cJSON *batch, cJSON **result, etude_syncd_upload_stats_t *stats,
                             const char **err_code, char *err_msg, size_t err_len)
{
    *result = NULL;
    memset(stats, 0, sizeof *stats);
    const char *batch_id = cJSON_GetObjectItemCaseSensitive(batch, "batchId")->valuestring;
    const char *device = cJSON_GetObjectItemCaseSensitive(batch, "deviceId")->valuestring;
    int64_t mseq = (int64_t)cJSON_GetObjectItemCaseSensitive(batch, "mutationSeq")->valuedouble;
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(batch, "entities");

    /* Validation, canonicalisation and hashing need no database: done before taking the lock. */
    int count = cJSON_GetArraySize(ents);
    pre_t *pre = calloc(count ? (size_t)count : 1, sizeof *pre);
    if (!pre) {
        *err_code = "INTERNAL_SERVER_ERROR";
        snprintf(err_msg, err_len, "uploadBatch: out of memory");
        return ETUDE_SYNCD_ENOMEM;
    }
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ents)
    {
        pre_t *p = &pre[k];
        const cJSON *idv = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "id") : NULL;
        p->raw_id = cJSON_IsString(idv) ? idv->valuestring : NULL;
        if (validate_entity(st, it, &p->e, &p->field, p->reason, sizeof p->reason) != 0) {
            p->bad = 1;
            if (!p->field) {
                p->field = "entity";
                snprintf(p->reason, sizeof p->reason, "out of memory");
            }
        } else {
            for (int j = 0; j < k; j++)
                if (!pre[j].bad && strcmp(pre[j].e.id, p->e.id) == 0) { /* only the first counts */
                    p->bad = 1;
                    p->field = "id";
                    snprintf(p->reason, sizeof p->reason, "appears more than once in this batch");
                    break;
                }
        }
        k++;
    }

    syncd_db_t *c = store_acquire(st);
    int rc;
    for (int attempt = 1;; attempt++) {
        rc = upload_tx(st, c, user, batch_id, device, mseq, ents, pre, result, stats, err_code, err_msg, err_len);
        if (rc != TX_AGAIN)
            break;
        fprintf(stderr, "etude-syncd: uploadBatch: attempt %d of %d ended by the database (%s)%s\n", attempt,
                TX_ATTEMPTS, syncd_db_errmsg(c), attempt < TX_ATTEMPTS ? "; trying again" : "");
        if (attempt >= TX_ATTEMPTS) {
            rc = ETUDE_SYNCD_EDB;
            break;
        }
    }
    store_release(st, c);
    free_pre(pre, count);
    return rc;
}

int etude_syncd_store_changes(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                              const char *since, int limit, cJSON **page, int64_t *since_out,
                              const char **why)
{
    *page = NULL;
    *why = NULL;
    uint64_t epoch = st->epoch, tag = 0, want = 0;
    int64_t since_seq = 0, latest = 0;
    if (since && etude_syncd_cursor_decode(since, &epoch, &since_seq, &tag) != 0) {
        *why = "syncChanges: since is not a cursor this server issued";
        return ETUDE_SYNCD_EINVAL;
    }
    if (epoch != st->epoch) {
        *why = "syncChanges: since was issued by another server epoch (the server was restored or replaced);"
               " pull from the beginning (since null)";
        return ETUDE_SYNCD_EINVAL;
    }
    *since_out = since_seq;
    syncd_db_t *c = store_acquire(st);
    if (latest_seq_locked(c, user->id, &latest) || seq_tag_locked(c, user->id, since_seq, &want)) {
        store_release(st, c);
        return ETUDE_SYNCD_EDB;
    }
    if (since_seq > latest) {
        store_release(st, c);
        *why = "syncChanges: since is ahead of the server's latest change (the server was restored from a"
               " backup); pull from the beginning (since null)";
        return ETUDE_SYNCD_EINVAL;
    }
    if (tag != want) {
        store_release(st, c);
        *why = "syncChanges: since names a change this server assigned differently (the server was restored"
               " from a backup); pull from the beginning (since null)";
        return ETUDE_SYNCD_EINVAL;
    }
    syncd_stmt_t *s = NULL;
    if (syncd_db_prepare(c, "SELECT " ENTITY_COLS ", server_seq FROM entities WHERE user_id=? AND server_seq>?"
                           " ORDER BY server_seq LIMIT ?", &s) != 0) {
        store_release(st, c);
        return ETUDE_SYNCD_EDB;
    }
    syncd_db_bind_int64(s, 1, user->id);
    syncd_db_bind_int64(s, 2, since_seq);
    syncd_db_bind_int64(s, 3, limit + 1);
    cJSON *p = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(p, "changes");
    int n = 0, more = 0, r;
    int64_t last = since_seq;
    while ((r = syncd_db_step(s)) == SYNCD_ROW) {
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(arr, row_entity(s));
        last = syncd_db_column_int64(s, 9);
        n++;
    }
    syncd_db_finalize(s);
    char cur[ETUDE_SYNCD_CURSOR_LEN];
    int crc = r == SYNCD_ROW || r == SYNCD_DONE ? cursor_locked(st, c, user->id, last, cur, sizeof cur) : 0;
    store_release(st, c);
    if ((r != SYNCD_ROW && r != SYNCD_DONE) || crc) {
        cJSON_Delete(p);
        return ETUDE_SYNCD_EDB;
    }
    cJSON_AddStringToObject(p, "cursor", cur);
    cJSON_AddBoolToObject(p, "hasMore", more);
    *page = p;
    return 0;
}

int etude_syncd_store_metadata(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                               cJSON **meta)
{
    *meta = NULL;
    int64_t seq = 0, count = 0;
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_prepare(c, "SELECT u.seq, (SELECT count(*) FROM entities e WHERE e.user_id=u.id"
                           " AND e.deleted_at IS NULL) FROM users u WHERE u.id=?", &s) == 0) {
        syncd_db_bind_int64(s, 1, user->id);
        if (syncd_db_step(s) == SYNCD_ROW) {
            seq = syncd_db_column_int64(s, 0);
            count = syncd_db_column_int64(s, 1);
            rc = 0;
        }
    }
    syncd_db_finalize(s);
    char cursor[ETUDE_SYNCD_CURSOR_LEN];
    if (!rc)
        rc = cursor_locked(st, c, user->id, seq, cursor, sizeof cursor);
    store_release(st, c);
    if (rc)
        return rc;
    cJSON *m = cJSON_CreateObject();
    cJSON *u = cJSON_AddObjectToObject(m, "user");
    cJSON_AddStringToObject(u, "id", user->uuid);
    cJSON_AddStringToObject(u, "name", user->name);
    char buf[48];
    etude_syncd_format_time(etude_syncd_now_ms(), buf, sizeof buf);
    cJSON_AddStringToObject(m, "serverTime", buf);
    cJSON_AddNumberToObject(m, "protocolVersion", 1);
    cJSON_AddStringToObject(m, "latestCursor", cursor);
    cJSON_AddNumberToObject(m, "entityCount", (double)count);
    cJSON *l = cJSON_AddObjectToObject(m, "limits");
    cJSON_AddNumberToObject(l, "maxBodyBytes", (double)st->cfg.max_body);
    cJSON_AddNumberToObject(l, "maxBatchSize", st->cfg.max_batch);
    cJSON_AddNumberToObject(l, "maxPageSize", st->cfg.max_page);
    cJSON_AddNumberToObject(l, "maxEntityBytes", (double)st->cfg.max_entity_bytes);
    *meta = m;
    return 0;
}

/* ---- the dashboard's reads and the devices' reports ---- */

/* Dashboard positions are "d1." + base64url(8-byte epoch, 8-byte server sequence): opaque to the
 * page; they only ever select rows of the session's user after that sequence. */
static void dash_encode(uint64_t epoch, int64_t seq, char *buf, size_t len)
{
    unsigned char raw[16];
    for (int i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(epoch >> (56 - 8 * i));
        raw[8 + i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
    }
    char b64[32];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(buf, len, "d1.%s", b64);
}

static int dash_decode(const char *text, uint64_t epoch, int64_t *seq)
{
    if (!text || strncmp(text, "d1.", 3) != 0 || strlen(text) != 3 + 22)
        return -1;
    unsigned char raw[16];
    size_t n = 0;
    if (sodium_base642bin(raw, sizeof raw, text + 3, 22, NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != 16)
        return -1;
    uint64_t e = 0, v = 0;
    for (int i = 0; i < 8; i++) {
        e = (e << 8) | raw[i];
        v = (v << 8) | raw[8 + i];
    }
    if (e != epoch || v > (uint64_t)INT64_MAX)
        return -1;
    char again[48];
    dash_encode(e, (int64_t)v, again, sizeof again);
    if (strcmp(again, text) != 0)
        return -1;
    *seq = (int64_t)v;
    return 0;
}

int etude_syncd_store_dashboard(etude_syncd_store_t *st, const etude_syncd_user_t *user, const char *type,
                                const char *after, int limit, cJSON **page, const char **why)
{
    *page = NULL;
    *why = NULL;
    int64_t after_seq = 0;
    if (after && dash_decode(after, st->epoch, &after_seq) != 0) {
        *why = "dashboardEntities: after is not a position this server gave (or the server was restored);"
               " start again with after null";
        return ETUDE_SYNCD_EINVAL;
    }
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    if (syncd_db_prepare(c, "SELECT id, entity_type, created_at, updated_at, data, server_seq FROM entities"
                           " INDEXED BY entities_by_seq WHERE user_id=? AND server_seq>? AND entity_type=?"
                           " AND deleted_at IS NULL ORDER BY server_seq LIMIT ?", &s) != 0) {
        store_release(st, c);
        return ETUDE_SYNCD_EDB;
    }
    syncd_db_bind_int64(s, 1, user->id);
    syncd_db_bind_int64(s, 2, after_seq);
    syncd_db_bind_text(s, 3, type);
    syncd_db_bind_int64(s, 4, limit + 1);
    cJSON *p = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(p, "entities");
    int n = 0, more = 0, r;
    int64_t last = after_seq;
    while ((r = syncd_db_step(s)) == SYNCD_ROW) {
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", (const char *)syncd_db_column_text(s, 0));
        cJSON_AddStringToObject(o, "entityType", (const char *)syncd_db_column_text(s, 1));
        cJSON_AddStringToObject(o, "createdAt", (const char *)syncd_db_column_text(s, 2));
        cJSON_AddStringToObject(o, "updatedAt", (const char *)syncd_db_column_text(s, 3));
        cJSON *d = parse_data((const char *)syncd_db_column_text(s, 4));
        if (!cJSON_IsObject(d)) {
            cJSON_Delete(d);
            d = cJSON_CreateObject();
        }
        cJSON_AddItemToObject(o, "data", d);
        cJSON_AddItemToArray(arr, o);
        last = syncd_db_column_int64(s, 5);
        n++;
    }
    syncd_db_finalize(s);
    store_release(st, c);
    if (r != SYNCD_ROW && r != SYNCD_DONE) {
        cJSON_Delete(p);
        return ETUDE_SYNCD_EDB;
    }
    if (more) {
        char next[48];
        dash_encode(st->epoch, last, next, sizeof next);
        cJSON_AddStringToObject(p, "next", next);
    } else {
        cJSON_AddNullToObject(p, "next");
    }
    *page = p;
    return 0;
}

int etude_syncd_store_report_status(etude_syncd_store_t *st, const etude_syncd_user_t *user,
                                    const cJSON *status)
{
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(status, "deviceId");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(status, "name");
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(status, "lastSyncAt");
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(status, "pending");
    const cJSON *conflicts = cJSON_GetObjectItemCaseSensitive(status, "conflicts");
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(status, "deadLetters");
    /* Only the schema's fields are kept, whatever else the input held. */
    cJSON *keep = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, dl)
    {
        cJSON *o = cJSON_CreateObject();
        static const char *const keys[] = {"id", "entityType", "reason", "at"};
        for (size_t i = 0; i < 4; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, keys[i]);
            if (cJSON_IsString(v))
                cJSON_AddStringToObject(o, keys[i], v->valuestring);
            else
                cJSON_AddNullToObject(o, keys[i]);
        }
        cJSON_AddItemToArray(keep, o);
    }
    char *text = etude_canon_print(keep);
    cJSON_Delete(keep);
    if (!text)
        return ETUDE_SYNCD_ENOMEM;
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    int rc = ETUDE_SYNCD_EDB;
    /* PostgreSQL: the report and its notice commit together. */
    int tx = is_pg(c) && syncd_db_begin(c) == 0;
#define STATUS_COLS "(user_id, device_id, name, last_sync_at, reported_at, pending, conflicts, dead_letters)"
    if (syncd_db_prepare(c, is_pg(c) ? "INSERT INTO device_status" STATUS_COLS " VALUES(?,?,?,?,?,?,?,?)"
                                       " ON CONFLICT(user_id, device_id) DO UPDATE SET name=excluded.name,"
                                       " last_sync_at=excluded.last_sync_at, reported_at=excluded.reported_at,"
                                       " pending=excluded.pending, conflicts=excluded.conflicts,"
                                       " dead_letters=excluded.dead_letters"
                                     : "INSERT OR REPLACE INTO device_status" STATUS_COLS " VALUES(?,?,?,?,?,?,?,?)",
                         &s) == 0) {
        syncd_db_bind_int64(s, 1, user->id);
        syncd_db_bind_text(s, 2, dev->valuestring);
        if (cJSON_IsString(name))
            syncd_db_bind_text(s, 3, name->valuestring);
        else
            syncd_db_bind_null(s, 3);
        syncd_db_bind_text(s, 4, last->valuestring);
        syncd_db_bind_int64(s, 5, etude_syncd_now_ms());
        syncd_db_bind_int64(s, 6, (int64_t)pending->valuedouble);
        syncd_db_bind_int64(s, 7, (int64_t)conflicts->valuedouble);
        syncd_db_bind_text(s, 8, text);
        if (syncd_db_step(s) == SYNCD_DONE)
            rc = 0;
    }
    syncd_db_finalize(s);
    if (rc == 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "device=%.64s", dev->valuestring);
        audit_locked(c, user->id, "reportSyncStatus", detail, "ok");
        rc = notify_locked(st, c, ETUDE_SYNCD_NOTICE_STATUS, user->id, dev->valuestring, 0, NULL, 0);
    }
    if (tx && (rc || exec(c, "COMMIT") != 0)) {
        exec(c, "ROLLBACK");
        rc = ETUDE_SYNCD_EDB;
    }
    store_release(st, c);
    cJSON_free(text);
    return rc;
}

int etude_syncd_store_device_status(etude_syncd_store_t *st, const etude_syncd_user_t *user, cJSON **list)
{
    *list = NULL;
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *s = NULL;
    if (syncd_db_prepare(c, "SELECT device_id, name, last_sync_at, reported_at, pending, conflicts, dead_letters"
                           " FROM device_status WHERE user_id=? ORDER BY device_id", &s) != 0) {
        store_release(st, c);
        return ETUDE_SYNCD_EDB;
    }
    syncd_db_bind_int64(s, 1, user->id);
    cJSON *arr = cJSON_CreateArray();
    int r;
    while ((r = syncd_db_step(s)) == SYNCD_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "deviceId", (const char *)syncd_db_column_text(s, 0));
        add_str_or_null(o, "name", (const char *)syncd_db_column_text(s, 1));
        cJSON_AddStringToObject(o, "lastSyncAt", (const char *)syncd_db_column_text(s, 2));
        char buf[48];
        etude_syncd_format_time(syncd_db_column_int64(s, 3), buf, sizeof buf);
        cJSON_AddStringToObject(o, "reportedAt", buf);
        cJSON_AddNumberToObject(o, "pending", (double)syncd_db_column_int64(s, 4));
        cJSON_AddNumberToObject(o, "conflicts", (double)syncd_db_column_int64(s, 5));
        cJSON *dl = cJSON_Parse((const char *)syncd_db_column_text(s, 6));
        if (!cJSON_IsArray(dl)) {
            cJSON_Delete(dl);
            dl = cJSON_CreateArray();
        }
        cJSON_AddItemToObject(o, "deadLetters", dl);
        cJSON_AddItemToArray(arr, o);
    }
    syncd_db_finalize(s);
    store_release(st, c);
    if (r != SYNCD_DONE) {
        cJSON_Delete(arr);
        return ETUDE_SYNCD_EDB;
    }
    *list = arr;
    return 0;
}

int64_t etude_syncd_store_bytes(etude_syncd_store_t *st)
{
    if (st->kind == SYNCD_DB_PG) {
        syncd_db_t *c = store_acquire(st);
        syncd_stmt_t *s = NULL;
        int64_t n = 0;
        if (syncd_db_prepare(c, "SELECT pg_database_size(current_database())", &s) == 0 && syncd_db_step(s) == SYNCD_ROW)
            n = syncd_db_column_int64(s, 0);
        syncd_db_finalize(s);
        store_release(st, c);
        return n;
    }
    const char *p = st->cfg.db_path;
    if (!p || !p[0] || strcmp(p, ":memory:") == 0)
        return 0;
    struct stat sb;
    int64_t n = 0;
    if (stat(p, &sb) == 0)
        n += (int64_t)sb.st_size;
    char wal[PATH_MAX];
    if ((size_t)snprintf(wal, sizeof wal, "%s-wal", p) < sizeof wal && stat(wal, &sb) == 0)
        n += (int64_t)sb.st_size;
    return n;
}

int etude_syncd_store_ping(etude_syncd_store_t *st)
{
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *q = NULL;
    int rc = ETUDE_SYNCD_EDB;
    if (syncd_db_check(c) == 0 && syncd_db_prepare(c, "SELECT 1", &q) == 0 && syncd_db_step(q) == SYNCD_ROW)
        rc = 0;
    syncd_db_finalize(q);
    store_release(st, c);
    return rc;
}

/* ---- failed-login counters ---- */

/* The row key of a counter key: hex SHA-256 (fixed length, whatever bytes the name holds). */
static void throttle_row(const char *key, char hex[65])
{
    etude_syncd_sha256_hex(key, strlen(key), hex);
}

int etude_syncd_store_throttle_wait(etude_syncd_store_t *st, const char *key, int limit, long window_s,
                                    int64_t now_ms)
{
    if (limit <= 0)
        return 0;
    char row[65];
    throttle_row(key, row);
    int64_t window = (int64_t)window_s * 1000;
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *q = NULL;
    int wait = 0;
    if (syncd_db_prepare(c, "SELECT window_start, failures FROM login_throttle WHERE key=?", &q) == 0) {
        syncd_db_bind_text(q, 1, row);
        if (syncd_db_step(q) == SYNCD_ROW) {
            int64_t start = syncd_db_column_int64(q, 0);
            int64_t left = start + window - now_ms;
            if (syncd_db_column_int64(q, 1) >= limit && left > 0)
                wait = (int)((left + 999) / 1000);
        }
    }
    syncd_db_finalize(q);
    store_release(st, c);
    return wait;
}

void etude_syncd_store_throttle_fail(etude_syncd_store_t *st, const char *key, long window_s, int64_t now_ms)
{
    char row[65];
    throttle_row(key, row);
    int64_t expired = now_ms - (int64_t)window_s * 1000; /* a window that started at or before this ended */
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *q = NULL;
    /* One statement: concurrent failures through several processes each count (the row is locked
     * by the conflict's update). */
    if (syncd_db_prepare(c, "INSERT INTO login_throttle(key, window_start, failures) VALUES(?, ?, 1)"
                           " ON CONFLICT(key) DO UPDATE SET"
                           " failures = CASE WHEN login_throttle.window_start <= ? THEN 1"
                           "   ELSE login_throttle.failures + 1 END,"
                           " window_start = CASE WHEN login_throttle.window_start <= ? THEN excluded.window_start"
                           "   ELSE login_throttle.window_start END", &q) == 0) {
        syncd_db_bind_text(q, 1, row);
        syncd_db_bind_int64(q, 2, now_ms);
        syncd_db_bind_int64(q, 3, expired);
        syncd_db_bind_int64(q, 4, expired);
        if (syncd_db_step(q) != SYNCD_DONE)
            fprintf(stderr, "etude-syncd: login throttle: %s\n", syncd_db_errmsg(c));
    }
    syncd_db_finalize(q);
    q = NULL;
    /* At most 32 expired rows go per failure written, more than the one row a failure may add: the
     * table shrinks back to the keys that failed within the current window. */
    if (syncd_db_prepare(c, "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle"
                           " WHERE window_start <= ? ORDER BY window_start LIMIT 32)",
                         &q) == 0) {
        syncd_db_bind_int64(q, 1, expired);
        syncd_db_step(q);
    }
    syncd_db_finalize(q);
    store_release(st, c);
}

void etude_syncd_store_throttle_clear(etude_syncd_store_t *st, const char *key)
{
    char row[65];
    throttle_row(key, row);
    syncd_db_t *c = store_acquire(st);
    syncd_stmt_t *q = NULL;
    if (syncd_db_prepare(c, "DELETE FROM login_throttle WHERE key=?", &q) == 0) {
        syncd_db_bind_text(q, 1, row);
        syncd_db_step(q);
    }
    syncd_db_finalize(q);
    store_release(st, c);
}

/* ---- notices across processes ---- */

struct etude_syncd_listener {
    etude_syncd_store_t *st;
    syncd_db_t *db;
};

int etude_syncd_store_has_notices(const etude_syncd_store_t *st)
{
    return st->kind == SYNCD_DB_PG;
}

int etude_syncd_listener_open(etude_syncd_store_t *st, etude_syncd_listener_t **out, char *err, size_t len)
{
    *out = NULL;
    if (st->kind != SYNCD_DB_PG) {
        snprintf(err, len, "notices need PostgreSQL");
        return ETUDE_SYNCD_EINVAL;
    }
    etude_syncd_listener_t *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, len, "out of memory");
        return ETUDE_SYNCD_ENOMEM;
    }
    l->st = st;
    if (syncd_db_open(st->cfg.db_path, &l->db, err, len) != 0) {
        free(l);
        return ETUDE_SYNCD_EDB;
    }
    if (syncd_db_exec(l->db, "SET application_name = 'etude-syncd listener'; LISTEN etude_sync") != 0) {
        snprintf(err, len, "%s", syncd_db_errmsg(l->db));
        etude_syncd_listener_close(l);
        return ETUDE_SYNCD_EDB;
    }
    *out = l;
    return 0;
}

int etude_syncd_listener_fd(etude_syncd_listener_t *l)
{
    return syncd_db_socket(l->db);
}

/* Fills *n from a notice's payload; -1 when it is not one of ours or is malformed. */
static int parse_notice(const char *text, const char *self, etude_syncd_notice_t *n)
{
    cJSON *o = cJSON_Parse(text);
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "i"), *k = cJSON_GetObjectItemCaseSensitive(o, "k"),
                *u = cJSON_GetObjectItemCaseSensitive(o, "u"), *d = cJSON_GetObjectItemCaseSensitive(o, "d");
    int rc = -1;
    memset(n, 0, sizeof *n);
    if (cJSON_IsString(i) && strcmp(i->valuestring, self) != 0 && cJSON_IsString(k) && cJSON_IsNumber(u) &&
        u->valuedouble >= 1 && u->valuedouble <= 9007199254740991.0 && cJSON_IsString(d) &&
        strlen(d->valuestring) < sizeof n->device) {
        n->user_id = (int64_t)u->valuedouble;
        snprintf(n->device, sizeof n->device, "%s", d->valuestring);
        if (strcmp(k->valuestring, "status") == 0) {
            n->kind = ETUDE_SYNCD_NOTICE_STATUS;
            rc = 0;
        } else if (strcmp(k->valuestring, "changes") == 0) {
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(o, "s"), *c = cJSON_GetObjectItemCaseSensitive(o, "c"),
                        *cn = cJSON_GetObjectItemCaseSensitive(o, "n");
            if (cJSON_IsNumber(sq) && sq->valuedouble >= 0 && sq->valuedouble <= 9007199254740991.0 &&
                cJSON_IsString(c) && strlen(c->valuestring) < sizeof n->cursor && cJSON_IsNumber(cn) &&
                cn->valuedouble >= 0 && cn->valuedouble <= 1e6) {
                n->kind = ETUDE_SYNCD_NOTICE_CHANGES;
                n->seq = (int64_t)sq->valuedouble;
                snprintf(n->cursor, sizeof n->cursor, "%s", c->valuestring);
                n->count = (int)cn->valuedouble;
                rc = 0;
            }
        }
    }
    cJSON_Delete(o);
    return rc;
}

int etude_syncd_listener_next(etude_syncd_listener_t *l, etude_syncd_notice_t *n)
{
    char buf[1024];
    for (;;) {
        int r = syncd_db_notification(l->db, buf, sizeof buf);
        if (r < 0)
            return ETUDE_SYNCD_EDB;
        if (r == 0)
            return 0;
        if (parse_notice(buf, l->st->instance, n) == 0)
            return 1;
    }
}

void etude_syncd_listener_close(etude_syncd_listener_t *l)
{
    if (!l)
        return;
    syncd_db_close(l->db);
    free(l);
}
