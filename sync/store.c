/* store.c - the local store: SQLite (WAL) entities with outbox, audit and sync metadata. */
#include "etude_store.h"
#include "etude_canon.h"
#include "etude_entity.h"
#include "etude_time.h"
#include "store_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <sqlite3.h>

static int fail(etude_store_t *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(etude_store_t *s, int code, const char *fmt, ...)
{
    if (s) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, sizeof s->err, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int dbfail(etude_store_t *s, const char *what)
{
    return fail(s, ETUDE_STORE_EIO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int cprep(etude_store_t *s, const char *sql, sqlite3_stmt **out)
{
    int i;
    for (i = 0; i < STMT_CACHE && s->cache[i].sql; i++)
        if (s->cache[i].sql == sql) {
            *out = s->cache[i].st;
            return SQLITE_OK;
        }
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc == SQLITE_OK && i < STMT_CACHE) {
        s->cache[i].sql = sql;
        s->cache[i].st = *out;
    }
    return rc;
}

static void cdone(etude_store_t *s, sqlite3_stmt *st)
{
    for (int i = 0; i < STMT_CACHE && s->cache[i].sql; i++)
        if (s->cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    sqlite3_finalize(st);
}

/* The store's own helpers, for its other files (store_sync.c). */
int etude_store_i_fail(etude_store_t *s, int code, const char *msg)
{
    return fail(s, code, "%s", msg);
}

int etude_store_i_dbfail(etude_store_t *s, const char *what)
{
    return dbfail(s, what);
}

int etude_store_i_prep(etude_store_t *s, const char *sql, sqlite3_stmt **out)
{
    return cprep(s, sql, out);
}

void etude_store_i_done(etude_store_t *s, sqlite3_stmt *st)
{
    cdone(s, st);
}

const char *etude_store_errmsg(const etude_store_t *store)
{
    return store ? store->err : "";
}

const char *etude_store_path(const etude_store_t *store)
{
    return store->path;
}

static const char *const sync_statuses[] = {"pending", "syncing", "synced", "conflict"};

int etude_entity_type_valid(const char *type)
{
    return etude_entity_type_known(type);
}

static int status_valid(const char *st)
{
    for (size_t i = 0; i < sizeof sync_statuses / sizeof *sync_statuses; i++)
        if (!strcmp(st, sync_statuses[i]))
            return 1;
    return 0;
}

void etude_entity_clear(etude_entity_t *e)
{
    if (!e)
        return;
    free(e->remote_id);
    free(e->data);
    e->remote_id = NULL;
    e->data = NULL;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (strlen(path) >= sizeof tmp)
        return -1;
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) && errno != EEXIST)
        return -1;
    return 0;
}

int etude_store_home(char *buf, size_t size, int create, char *err, size_t errsize)
{
    const char *home = getenv("ETUDE_HOME");
    int n;
    if (home && *home) {
        n = snprintf(buf, size, "%s", home);
    } else if ((home = getenv("XDG_DATA_HOME")) && *home) {
        n = snprintf(buf, size, "%s/etude", home);
    } else if ((home = getenv("HOME")) && *home) {
        n = snprintf(buf, size, "%s/.local/share/etude", home);
    } else {
        if (err)
            snprintf(err, errsize, "no data directory: set ETUDE_HOME (or XDG_DATA_HOME or HOME)");
        return ETUDE_STORE_EINVAL;
    }
    if (n < 0 || (size_t)n >= size) {
        if (err)
            snprintf(err, errsize, "ETUDE_HOME: path too long");
        return ETUDE_STORE_EINVAL;
    }
    if (create && mkdir_p(buf)) {
        if (err)
            snprintf(err, errsize, "%s: cannot create the data directory: %s", buf, strerror(errno));
        return ETUDE_STORE_EIO;
    }
    return 0;
}

/* ---- open, migrations --------------------------------------------------------------------- */

static const char migration_1[] =
    "CREATE TABLE entities ("
    "  local_id INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  remote_id TEXT,"
    "  entity_type TEXT NOT NULL CHECK (entity_type IN"
    "    ('practiceSession','practiceLog','goal','logbookEntry')),"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL,"
    "  deleted_at TEXT,"
    "  sync_status TEXT NOT NULL DEFAULT 'pending' CHECK (sync_status IN"
    "    ('pending','syncing','synced','conflict')),"
    "  sync_version INTEGER NOT NULL DEFAULT 0,"
    "  checksum TEXT NOT NULL,"
    "  data TEXT NOT NULL);"
    "CREATE INDEX entities_type ON entities(entity_type, deleted_at);"
    "CREATE INDEX entities_checksum ON entities(entity_type, checksum);"
    "CREATE INDEX entities_session ON entities(json_extract(data, '$.sessionId'))"
    "  WHERE entity_type IN ('practiceLog','logbookEntry');"
    /* One row per change to send; written in the same transaction as the change. */
    "CREATE TABLE outbox ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  mutation_seq INTEGER NOT NULL UNIQUE,"
    "  entity_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  op TEXT NOT NULL CHECK (op IN ('create','update','delete')),"
    "  payload TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at TEXT,"
    "  batch_id TEXT);"
    "CREATE INDEX outbox_entity ON outbox(entity_id);"
    "CREATE TABLE sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    /* Changes the server refused (4xx) with its reason: kept, never dropped. */
    "CREATE TABLE dead_letter ("
    "  id INTEGER PRIMARY KEY,"
    "  outbox_seq INTEGER NOT NULL,"
    "  mutation_seq INTEGER NOT NULL,"
    "  entity_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  op TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  http_status INTEGER,"
    "  failed_at TEXT NOT NULL);"
    "CREATE TABLE conflicts ("
    "  id INTEGER PRIMARY KEY,"
    "  entity_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  local_payload TEXT NOT NULL,"
    "  remote_payload TEXT NOT NULL,"
    "  local_version INTEGER NOT NULL,"
    "  remote_version INTEGER NOT NULL,"
    "  detected_at TEXT NOT NULL,"
    "  resolved_at TEXT,"
    "  resolution TEXT CHECK (resolution IN ('local','remote','merged')));"
    "CREATE INDEX conflicts_open ON conflicts(entity_id) WHERE resolved_at IS NULL;"
    /* Every change, by whom: local (the CLI, the recorder), import, sync. */
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at TEXT NOT NULL,"
    "  entity_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  action TEXT NOT NULL CHECK (action IN ('create','update','delete')),"
    "  actor TEXT NOT NULL,"
    "  old_checksum TEXT,"
    "  new_checksum TEXT,"
    "  mutation_seq INTEGER);"
    "CREATE INDEX audit_entity ON audit(entity_id);";

/* Accounts: every row belongs to one; the rows written so far belong to the store's user. */
static const char migration_2[] =
    "ALTER TABLE entities ADD COLUMN account TEXT NOT NULL DEFAULT 'anonymous';"
    "ALTER TABLE outbox ADD COLUMN account TEXT NOT NULL DEFAULT 'anonymous';"
    "ALTER TABLE conflicts ADD COLUMN account TEXT NOT NULL DEFAULT 'anonymous';"
    "ALTER TABLE dead_letter ADD COLUMN account TEXT NOT NULL DEFAULT 'anonymous';"
    "UPDATE entities SET account = coalesce((SELECT value FROM sync_meta WHERE key = 'user_id'), 'anonymous');"
    "UPDATE outbox SET account = coalesce((SELECT value FROM sync_meta WHERE key = 'user_id'), 'anonymous');"
    "UPDATE conflicts SET account = coalesce((SELECT value FROM sync_meta WHERE key = 'user_id'), 'anonymous');"
    "UPDATE dead_letter SET account = coalesce((SELECT value FROM sync_meta WHERE key = 'user_id'), 'anonymous');"
    "CREATE INDEX entities_account ON entities(account, entity_type, deleted_at);"
    "CREATE INDEX outbox_account ON outbox(account, seq);"
    /* the per-account sync_meta keys get their account's suffix */
    "UPDATE sync_meta SET key = key || '@' || coalesce((SELECT value FROM sync_meta WHERE key = 'user_id'), 'anonymous')"
    "  WHERE key IN ('cursor', 'last_sync_at', 'sync_state', 'last_error') OR key LIKE 'merge_created:%';"
    /* a store already logged in has had its first account */
    "INSERT INTO sync_meta(key, value) SELECT 'adopted', value FROM sync_meta WHERE key = 'user_id'"
    "  AND value <> 'anonymous';"
    "PRAGMA user_version = 2;";

static int exec(etude_store_t *s, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = fail(s, ETUDE_STORE_EIO, "%s: %s: %s", s->path, what, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int user_version(etude_store_t *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

int etude_store_schema_version(etude_store_t *store)
{
    return user_version(store);
}

static int meta_set(etude_store_t *s, const char *key, const char *value);

static int migrate(etude_store_t *s)
{
    /* BEGIN IMMEDIATE takes the write lock first, so two processes never both migrate. */
    int rc = exec(s, "BEGIN IMMEDIATE", "begin migration");
    if (rc)
        return rc;
    int v = user_version(s);
    if (v < 0) {
        exec(s, "ROLLBACK", "rollback");
        return dbfail(s, "reading the schema version");
    }
    if (v > ETUDE_STORE_SCHEMA_VERSION) {
        exec(s, "ROLLBACK", "rollback");
        return fail(s, ETUDE_STORE_ENEWER,
                    "%s: store schema version %d was written by a newer etude (this one knows up to %d); "
                    "refusing to open it",
                    s->path, v, ETUDE_STORE_SCHEMA_VERSION);
    }
    if (v < 1) {
        char dev[37], now[32];
        etude_uuid_new(dev);
        etude_time_now_iso(now);
        if ((rc = exec(s, migration_1, "migration 1")) || (rc = meta_set(s, "device_id", dev)) ||
            (rc = meta_set(s, "user_id", "anonymous")) || (rc = meta_set(s, "mutation_seq", "0")) ||
            (rc = meta_set(s, "created_at", now)) || (rc = exec(s, "PRAGMA user_version = 1", "migration 1"))) {
            exec(s, "ROLLBACK", "rollback");
            return rc;
        }
    }
    if (v < 2 && (rc = exec(s, migration_2, "migration 2"))) {
        exec(s, "ROLLBACK", "rollback");
        return rc;
    }
    /* Later migrations go here: if (v < 3) { ... PRAGMA user_version = 3 } */
    return exec(s, "COMMIT", "commit migration");
}

static void account_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    etude_store_t *s = sqlite3_user_data(ctx);
    sqlite3_result_text(ctx, s->account, -1, SQLITE_TRANSIENT);
}

int etude_store_open(const char *path, etude_store_t **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return ETUDE_STORE_EIO;
    etude_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return ETUDE_STORE_ENOMEM;
    char buf[4096];
    if (!path) {
        char err[512];
        int rc = etude_store_home(buf, sizeof buf - 16, 1, err, sizeof err);
        if (rc) {
            snprintf(s->err, sizeof s->err, "%s", err);
            *out = s;
            return rc;
        }
        strcat(buf, "/etude.db");
        path = buf;
    }
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return ETUDE_STORE_ENOMEM;
    }
    *out = s;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        int rc = fail(s, ETUDE_STORE_EIO, "%s: cannot open: %s", path,
                      s->db ? sqlite3_errmsg(s->db) : "out of memory");
        return rc;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    snprintf(s->account, sizeof s->account, "%s", ETUDE_STORE_ANONYMOUS);
    if (sqlite3_create_function(s->db, "etude_account", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, s, account_fn, NULL,
                                NULL) != SQLITE_OK)
        return fail(s, ETUDE_STORE_EIO, "%s: cannot register etude_account(): %s", path, sqlite3_errmsg(s->db));
    int v = user_version(s);
    if (v < 0)
        return fail(s, ETUDE_STORE_EIO, "%s: not an etude store (or not an SQLite database): %s", path,
                    sqlite3_errmsg(s->db));
    if (v > ETUDE_STORE_SCHEMA_VERSION)
        return fail(s, ETUDE_STORE_ENEWER,
                    "%s: store schema version %d was written by a newer etude (this one knows up to %d); "
                    "refusing to open it",
                    path, v, ETUDE_STORE_SCHEMA_VERSION);
    int rc;
    if (strcmp(path, ":memory:") && (rc = exec(s, "PRAGMA journal_mode=WAL", "enabling WAL")))
        return rc;
    if ((rc = exec(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", "pragmas")))
        return rc;
    if ((rc = migrate(s)))
        return rc;
    if ((rc = etude_store_reload_account(s)))
        return rc;
    etude_time_boot_id(s->boot);
    char off[32];
    if (etude_store_meta_get(s, "clock_offset_ms", off, sizeof off) == 0) {
        s->clock_offset_ms = strtoll(off, NULL, 10);
        s->clock_known = 1;
        /* Kept before the uncertainty was: as uncertain as the old filter's noise. */
        s->clock_unc_ms = ETUDE_STORE_CLOCK_NOISE_MS;
        s->clock_at_ms = etude_time_wall_ms();
        if (etude_store_meta_get(s, "clock_uncertainty_ms", off, sizeof off) == 0)
            s->clock_unc_ms = strtoll(off, NULL, 10);
        if (etude_store_meta_get(s, "clock_at_ms", off, sizeof off) == 0)
            s->clock_at_ms = strtoll(off, NULL, 10);
        if (etude_store_meta_get(s, "clock_mono_ms", off, sizeof off) == 0)
            s->clock_mono_ms = strtoll(off, NULL, 10);
        if (etude_store_meta_get(s, "clock_boot_id", s->clock_boot, sizeof s->clock_boot) != 0)
            s->clock_boot[0] = 0;
    }
    s->err[0] = 0;
    return 0;
}

void etude_store_close(etude_store_t *store)
{
    if (!store)
        return;
    for (int i = 0; i < STMT_CACHE && store->cache[i].sql; i++)
        sqlite3_finalize(store->cache[i].st);
    if (store->db)
        sqlite3_close_v2(store->db);
    free(store->path);
    free(store);
}

/* ---- sync meta ---------------------------------------------------------------------------- */

static int meta_set(etude_store_t *s, const char *key, const char *value)
{
    sqlite3_stmt *st;
    const char *sql = value ? "INSERT INTO sync_meta(key, value) VALUES (?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                            : "DELETE FROM sync_meta WHERE key = ?1";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dbfail(s, "sync_meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dbfail(s, "sync_meta");
    sqlite3_finalize(st);
    return rc;
}

/* The per-account keys are kept as KEY@ACCOUNT. */
static const char *meta_key(etude_store_t *s, const char *key, char *buf, size_t size)
{
    static const char *const per_account[] = {"cursor", "last_sync_at", "sync_state", "last_error",
                                              "status_report_sig", "status_report_at_ms", "status_report_error"};
    int mine = !strncmp(key, "merge_created:", 14);
    for (size_t i = 0; !mine && i < sizeof per_account / sizeof *per_account; i++)
        mine = !strcmp(key, per_account[i]);
    if (!mine)
        return key;
    snprintf(buf, size, "%s@%s", key, s->account);
    return buf;
}

int etude_store_meta_set(etude_store_t *store, const char *key, const char *value)
{
    if (!key)
        return ETUDE_STORE_EINVAL;
    char k[256];
    return meta_set(store, meta_key(store, key, k, sizeof k), value);
}

int etude_store_meta_get(etude_store_t *store, const char *key, char *buf, size_t size)
{
    char k[256];
    key = meta_key(store, key, k, sizeof k);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store->db, "SELECT value FROM sync_meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
        return dbfail(store, "sync_meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = ETUDE_STORE_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc)
        fail(store, rc, "sync_meta: no value for '%s'", key);
    return rc;
}

static int64_t next_mutation_seq(etude_store_t *s)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    static const char sql[] = "UPDATE sync_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'mutation_seq' "
                              "RETURNING CAST(value AS INTEGER)";
    if (cprep(s, sql, &st) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    cdone(s, st);
    return v;
}

static int begin(etude_store_t *s);
static int finish(etude_store_t *s, int rc);

/* ---- clock ---------------------------------------------------------------------------------- */

/* The kept measurement was taken in this boot, so the monotonic clock can carry it. */
static int clock_same_boot(const etude_store_t *s)
{
    return s->clock_known && s->boot[0] && !strcmp(s->clock_boot, s->boot);
}

/* The offset of the server's clock to this machine's wall clock now, from the kept measurement:
 * within its boot, the server's time then plus the monotonic time since, minus the wall clock now
 * (so a wall clock set since then is accounted for); across boots, the kept offset as it is. */
/* Two clocks read a moment apart (each to the millisecond) disagree by this much at most. */
#define CLOCK_READ_SLACK_MS 50

static int64_t offset_now(const etude_store_t *s, int64_t wall_now)
{
    if (!clock_same_boot(s))
        return s->clock_offset_ms;
    int64_t carried = s->clock_at_ms + s->clock_offset_ms + (etude_time_mono_ms() - s->clock_mono_ms) - wall_now;
    int64_t moved = carried - s->clock_offset_ms;
    /* Within the slack: the two clocks read a moment apart, not a wall clock that was set. */
    return moved > -CLOCK_READ_SLACK_MS && moved < CLOCK_READ_SLACK_MS ? s->clock_offset_ms : carried;
}

int64_t etude_store_now_ms(etude_store_t *store)
{
    int64_t wall = etude_time_wall_ms();
    return wall + offset_now(store, wall);
}

void etude_store_i_now(etude_store_t *s, char out[32])
{
    etude_time_format_ms(etude_store_now_ms(s), out);
}

int etude_store_clock_offset(etude_store_t *store, int64_t *offset_ms)
{
    if (offset_ms)
        *offset_ms = store->clock_known ? offset_now(store, etude_time_wall_ms()) : 0;
    return store->clock_known;
}

/* Shift the times of every entity with queued changes (and the queue times) by ms: they were
 * stamped by this machine's clock before its offset to the server was known. */
static int restamp_queued(etude_store_t *s, int64_t ms)
{
    char mod[48];
    snprintf(mod, sizeof mod, "%+.3f seconds", (double)ms / 1000.0);
    sqlite3_stmt *st;
    static const char *const sqls[] = {
        "UPDATE entities SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, ?1),"
        " deleted_at = CASE WHEN deleted_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', deleted_at, ?1) END,"
        " created_at = CASE WHEN sync_version = 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', created_at, ?1) ELSE created_at END"
        " WHERE id IN (SELECT entity_id FROM outbox WHERE account = etude_account())",
        ("UPDATE entities SET created_at = updated_at WHERE created_at > updated_at AND id IN (SELECT entity_id FROM outbox"
         " WHERE account = etude_account())"),
        "UPDATE outbox SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at, ?1) WHERE account = etude_account()",
    };
    for (size_t i = 0; i < sizeof sqls / sizeof *sqls; i++) {
        if (sqlite3_prepare_v2(s->db, sqls[i], -1, &st, NULL) != SQLITE_OK)
            return dbfail(s, "clock");
        if (sqlite3_bind_parameter_count(st) >= 1)
            sqlite3_bind_text(st, 1, mod, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dbfail(s, "clock");
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    return 0;
}

int64_t etude_store_clock_uncertainty(etude_store_t *store)
{
    if (!store->clock_known)
        return -1;
    int64_t age = clock_same_boot(store) ? etude_time_mono_ms() - store->clock_mono_ms
                                         : etude_time_wall_ms() - store->clock_at_ms;
    if (age < 0)
        age = 0; /* the wall clock went back across a reboot: the disagreement test catches a step */
    return store->clock_unc_ms + age * ETUDE_STORE_CLOCK_DRIFT_PPM / 1000000;
}

/* Keep offset_ms +- unc_ms as measured now (a transaction of its own, or within restamp's). */
static int clock_keep(etude_store_t *store, int first, int64_t offset_ms, int64_t unc_ms)
{
    int rc = begin(store);
    if (rc)
        return rc;
    /* Changes stamped before any offset was known were stamped by this clock alone: they move
     * with it, so a device hours off neither wins nor loses a conflict because of its clock. Not
     * when the measurement cannot tell the offset from zero (a slow first answer: offset within
     * its own uncertainty): that would move correct stamps by up to half the round trip. */
    int64_t mag = offset_ms < 0 ? -offset_ms : offset_ms;
    if (first && mag >= ETUDE_STORE_CLOCK_NOISE_MS && mag > unc_ms)
        rc = restamp_queued(store, offset_ms);
    int64_t wall = etude_time_wall_ms(), mono = etude_time_mono_ms();
    char b[32], u[32], a[32], m[32];
    snprintf(b, sizeof b, "%lld", (long long)offset_ms);
    snprintf(u, sizeof u, "%lld", (long long)unc_ms);
    snprintf(a, sizeof a, "%lld", (long long)wall);
    snprintf(m, sizeof m, "%lld", (long long)mono);
    if (!rc)
        rc = meta_set(store, "clock_offset_ms", b);
    if (!rc)
        rc = meta_set(store, "clock_uncertainty_ms", u);
    if (!rc)
        rc = meta_set(store, "clock_at_ms", a);
    if (!rc)
        rc = meta_set(store, "clock_mono_ms", m);
    if (!rc)
        rc = meta_set(store, "clock_boot_id", store->boot[0] ? store->boot : NULL);
    rc = finish(store, rc);
    if (!rc) {
        store->clock_offset_ms = offset_ms;
        store->clock_unc_ms = unc_ms;
        store->clock_at_ms = wall;
        store->clock_mono_ms = mono;
        snprintf(store->clock_boot, sizeof store->clock_boot, "%s", store->boot);
        store->clock_known = 1;
    }
    return rc;
}

int etude_store_clock_sample(etude_store_t *store, int64_t offset_ms, int64_t uncertainty_ms)
{
    if (uncertainty_ms < 0)
        uncertainty_ms = 0;
    if (!store->clock_known)
        return clock_keep(store, 1, offset_ms, uncertainty_ms);
    int64_t wall = etude_time_wall_ms();
    int64_t kept = etude_store_clock_uncertainty(store);
    int64_t kept_off = offset_now(store, wall); /* the kept measurement, carried to now */
    int64_t d = offset_ms - kept_off;
    int64_t ad = d < 0 ? -d : d;
    if (uncertainty_ms > kept && ad <= uncertainty_ms + kept) {
        /* Consistent with the kept offset and less precise: keep that one. If this machine's wall
         * clock was set since it was measured, store it carried to now, so the next boot (which
         * cannot carry it on the monotonic clock) starts from the right offset. */
        int64_t moved = kept_off - store->clock_offset_ms;
        if (moved >= 1000 || moved <= -1000)
            return clock_keep(store, 0, kept_off, kept);
        return 0;
    }
    /* Kept: write only what changes the stamps or the filter, not every answer. */
    if (ad < 2 && uncertainty_ms + 2 >= kept)
        return 0;
    return clock_keep(store, 0, offset_ms, uncertainty_ms);
}

int etude_store_set_clock_offset(etude_store_t *store, int64_t offset_ms)
{
    return etude_store_clock_sample(store, offset_ms, 0);
}

int etude_store_clamp_queued_times(etude_store_t *store)
{
    /* A queued change stamped ahead of corrected now (a clock that was wrong, a hand-made import,
     * a year 9999) takes the time it was queued, or now if that is ahead too. */
    /* Only what lies ahead by more than the clocks' reading slack: corrected now read on the
     * monotonic clock can be a millisecond behind a stamp just made from the wall clock. */
    char now[32], ahead[32];
    int64_t now_ms = etude_store_now_ms(store);
    etude_time_format_ms(now_ms, now);
    etude_time_format_ms(now_ms + CLOCK_READ_SLACK_MS, ahead);
    sqlite3_stmt *st;
    static const char *const sqls[] = {
        "UPDATE entities SET updated_at = min(?1, (SELECT max(o.created_at) FROM outbox o WHERE o.entity_id = entities.id))"
        " WHERE (updated_at > ?2 OR created_at > ?2 OR deleted_at > ?2) AND id IN (SELECT entity_id FROM outbox WHERE account = etude_account())",
        "UPDATE entities SET created_at = min(created_at, updated_at),"
        " deleted_at = CASE WHEN deleted_at IS NULL THEN NULL ELSE min(deleted_at, updated_at) END"
        " WHERE (created_at > updated_at OR deleted_at > updated_at) AND id IN (SELECT entity_id FROM outbox"
        " WHERE account = etude_account())",
    };
    int rc = begin(store);
    for (size_t i = 0; !rc && i < sizeof sqls / sizeof *sqls; i++) {
        if (sqlite3_prepare_v2(store->db, sqls[i], -1, &st, NULL) != SQLITE_OK)
            return finish(store, dbfail(store, "clock"));
        if (sqlite3_bind_parameter_count(st) >= 2) {
            sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, ahead, -1, SQLITE_TRANSIENT);
        }
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dbfail(store, "clock");
        sqlite3_finalize(st);
    }
    return finish(store, rc);
}

/* ---- accounts ------------------------------------------------------------------------------- */

int etude_store_account(etude_store_t *store, char *buf, size_t size)
{
    snprintf(buf, size, "%s", store->account);
    return 0;
}

int etude_store_reload_account(etude_store_t *store)
{
    char acct[128];
    int rc = etude_store_meta_get(store, "user_id", acct, sizeof acct);
    if (rc == ETUDE_STORE_ENOTFOUND)
        snprintf(acct, sizeof acct, "%s", ETUDE_STORE_ANONYMOUS);
    else if (rc)
        return rc;
    snprintf(store->account, sizeof store->account, "%s", acct);
    store->err[0] = 0;
    return 0;
}

int etude_store_set_account(etude_store_t *store, const char *account)
{
    if (!account || !*account || strlen(account) >= sizeof store->account || strchr(account, '@'))
        return fail(store, ETUDE_STORE_EINVAL, "account '%s': expected 1 to %zu characters without '@'",
                    account ? account : "", sizeof store->account - 1);
    int rc = begin(store);
    if (rc)
        return rc;
    char adopted[128];
    int first = strcmp(account, ETUDE_STORE_ANONYMOUS) &&
                etude_store_meta_get(store, "adopted", adopted, sizeof adopted) == ETUDE_STORE_ENOTFOUND;
    static const char *const adopt[] = {
        "UPDATE entities SET account = ?1 WHERE account = 'anonymous'",
        "UPDATE outbox SET account = ?1 WHERE account = 'anonymous'",
        "UPDATE conflicts SET account = ?1 WHERE account = 'anonymous'",
        "UPDATE dead_letter SET account = ?1 WHERE account = 'anonymous'",
        "UPDATE sync_meta SET key = substr(key, 1, length(key) - 9) || ?1 WHERE key LIKE '%@anonymous'",
    };
    for (size_t i = 0; first && !rc && i < sizeof adopt / sizeof *adopt; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(store->db, adopt[i], -1, &st, NULL) != SQLITE_OK) {
            rc = dbfail(store, "adopting the anonymous data");
            break;
        }
        char suffix[160];
        snprintf(suffix, sizeof suffix, "@%s", account);
        sqlite3_bind_text(st, 1, i == 4 ? suffix : account, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dbfail(store, "adopting the anonymous data");
        sqlite3_finalize(st);
    }
    if (!rc && first)
        rc = meta_set(store, "adopted", account);
    if (!rc)
        rc = meta_set(store, "user_id", account);
    rc = finish(store, rc);
    if (!rc)
        snprintf(store->account, sizeof store->account, "%s", account);
    return rc;
}

int64_t etude_store_outbox_count(etude_store_t *store)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store->db, "SELECT count(*) FROM outbox WHERE account = etude_account()", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

int etude_store_check(etude_store_t *store)
{
    sqlite3_stmt *st;
    int rc = ETUDE_STORE_EIO;
    if (sqlite3_prepare_v2(store->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return dbfail(store, "integrity_check");
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (r && !strcmp(r, "ok"))
            rc = 0;
        else
            fail(store, rc, "%s: integrity_check: %s", store->path, r ? r : "?");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- rows ---------------------------------------------------------------------------------- */

#define SELECT_COLS                                                                                           \
    "SELECT local_id, id, remote_id, entity_type, created_at, updated_at, deleted_at, sync_status, sync_version, " \
    "checksum, data FROM entities "
static const char select_cols[] = SELECT_COLS;
static const char get_sql[] = SELECT_COLS "WHERE id = ?1 AND account = etude_account()";

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int row_to_entity(sqlite3_stmt *st, etude_entity_t *e)
{
    memset(e, 0, sizeof *e);
    e->local_id = sqlite3_column_int64(st, 0);
    copy_col(st, 1, e->id, sizeof e->id);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
        e->remote_id = strdup((const char *)sqlite3_column_text(st, 2));
        if (!e->remote_id)
            return ETUDE_STORE_ENOMEM;
    }
    copy_col(st, 3, e->entity_type, sizeof e->entity_type);
    copy_col(st, 4, e->created_at, sizeof e->created_at);
    copy_col(st, 5, e->updated_at, sizeof e->updated_at);
    copy_col(st, 6, e->deleted_at, sizeof e->deleted_at);
    copy_col(st, 7, e->sync_status, sizeof e->sync_status);
    e->sync_version = sqlite3_column_int64(st, 8);
    copy_col(st, 9, e->checksum, sizeof e->checksum);
    e->data = strdup((const char *)sqlite3_column_text(st, 10));
    if (!e->data) {
        free(e->remote_id);
        e->remote_id = NULL;
        return ETUDE_STORE_ENOMEM;
    }
    return 0;
}

int etude_store_get(etude_store_t *store, const char *id, etude_entity_t *out)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    if (cprep(store, get_sql, &st) != SQLITE_OK)
        return dbfail(store, "get");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = row_to_entity(st, out);
    else if (rc == SQLITE_DONE)
        rc = fail(store, ETUDE_STORE_ENOTFOUND, "no entity with id '%s'", id);
    else
        rc = dbfail(store, "get");
    cdone(store, st);
    return rc;
}

int etude_store_resolve(etude_store_t *store, const char *prefix, char out_id[37])
{
    if (!prefix || strlen(prefix) < 4 || strlen(prefix) > 36 || strspn(prefix, "0123456789abcdef-") != strlen(prefix))
        return fail(store, ETUDE_STORE_ENOTFOUND,
                    "'%s' is not an entity id (give the id, or at least its first 4 characters)", prefix ? prefix : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store->db, "SELECT id FROM entities WHERE substr(id, 1, length(?1)) = ?1 AND account = etude_account() LIMIT 2", -1,
                           &st, NULL) != SQLITE_OK)
        return dbfail(store, "resolve");
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!n)
            copy_col(st, 0, out_id, 37);
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0)
        return fail(store, ETUDE_STORE_ENOTFOUND, "no entity with id '%s'", prefix);
    if (n > 1)
        return fail(store, ETUDE_STORE_ENOTFOUND, "id prefix '%s' is ambiguous: give more characters", prefix);
    return 0;
}

int etude_store_list(etude_store_t *store, const char *type, const char *parent, int with_deleted,
                     etude_entity_fn fn, void *user)
{
    char sql[768];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql,
             "%s WHERE account = etude_account() AND (?1 IS NULL OR entity_type = ?1) AND (?2 OR deleted_at IS NULL) "
             "AND (?3 IS NULL OR (entity_type IN ('practiceLog','logbookEntry') AND "
             "json_extract(data, '$.sessionId') = ?3)) ORDER BY local_id",
             select_cols);
    if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dbfail(store, "list");
    if (type)
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, with_deleted ? 1 : 0);
    if (parent)
        sqlite3_bind_text(st, 3, parent, -1, SQLITE_STATIC);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        etude_entity_t e;
        if ((rc = row_to_entity(st, &e)))
            break;
        int stop = fn(user, &e);
        etude_entity_clear(&e);
        if (stop)
            break;
    }
    if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = dbfail(store, "list");
    sqlite3_finalize(st);
    return rc;
}

int64_t etude_store_count(etude_store_t *store, const char *type, int with_deleted)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store->db,
                           "SELECT count(*) FROM entities WHERE account = etude_account() AND (?1 IS NULL OR entity_type = ?1) "
                           "AND (?2 OR deleted_at IS NULL)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (type)
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, with_deleted ? 1 : 0);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---- writes --------------------------------------------------------------------------------- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static char *entity_json_text(const etude_entity_t *e);

/* The JSON object for an entity, as exported and as carried in outbox payloads. */
static cJSON *entity_json(const etude_entity_t *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_Parse(e->data);
    if (!o || !data) {
        cJSON_Delete(o);
        cJSON_Delete(data);
        return NULL;
    }
    cJSON_AddStringToObject(o, "entityType", e->entity_type);
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddNumberToObject(o, "localId", (double)e->local_id);
    if (e->remote_id)
        cJSON_AddStringToObject(o, "remoteId", e->remote_id);
    else
        cJSON_AddNullToObject(o, "remoteId");
    cJSON_AddStringToObject(o, "createdAt", e->created_at);
    cJSON_AddStringToObject(o, "updatedAt", e->updated_at);
    if (e->deleted_at[0])
        cJSON_AddStringToObject(o, "deletedAt", e->deleted_at);
    else
        cJSON_AddNullToObject(o, "deletedAt");
    cJSON_AddStringToObject(o, "syncStatus", e->sync_status);
    cJSON_AddNumberToObject(o, "syncVersion", (double)e->sync_version);
    cJSON_AddStringToObject(o, "checksum", e->checksum);
    cJSON_AddItemToObject(o, "data", data);
    return o;
}

char *etude_entity_json(const etude_entity_t *e)
{
    return entity_json_text(e);
}

static char *entity_json_text(const etude_entity_t *e)
{
    cJSON *o = entity_json(e);
    if (!o)
        return NULL;
    char *t = etude_canon_print(o); /* exact numbers, unlike cJSON's printer */
    cJSON_Delete(o);
    return t;
}

/* Insert or replace the row for e (by id), then queue (when queue) and audit the change. */
static int write_row(etude_store_t *s, etude_entity_t *e, int is_insert, const char *op, const char *actor,
                     const char *old_checksum, int queue)
{
    sqlite3_stmt *st;
    static const char insert_sql[] =
        "INSERT INTO entities(local_id, id, remote_id, entity_type, created_at, updated_at, "
        "deleted_at, sync_status, sync_version, checksum, data, account) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, etude_account()) RETURNING local_id";
    static const char update_sql[] =
        "UPDATE entities SET remote_id = ?3, entity_type = ?4, created_at = ?5, "
        "updated_at = ?6, deleted_at = ?7, sync_status = ?8, sync_version = ?9, checksum = ?10, "
        "data = ?11 WHERE id = ?2 AND account = etude_account() RETURNING local_id";
    static const char outbox_sql[] = "INSERT INTO outbox(mutation_seq, entity_id, entity_type, op, payload, created_at, "
                                     "account) VALUES (?1, ?2, ?3, ?4, ?5, ?6, etude_account())";
    static const char audit_sql[] = "INSERT INTO audit(at, entity_id, entity_type, action, actor, old_checksum, "
                                    "new_checksum, mutation_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    if (cprep(s, is_insert ? insert_sql : update_sql, &st) != SQLITE_OK)
        return dbfail(s, "write");
    if (is_insert && e->local_id > 0)
        sqlite3_bind_int64(st, 1, e->local_id);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
    bind_text_or_null(st, 3, e->remote_id);
    sqlite3_bind_text(st, 4, e->entity_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->created_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->updated_at, -1, SQLITE_STATIC);
    bind_text_or_null(st, 7, e->deleted_at);
    sqlite3_bind_text(st, 8, e->sync_status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, e->sync_version);
    sqlite3_bind_text(st, 10, e->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, e->data, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        e->local_id = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = dbfail(s, "write");
    }
    cdone(s, st);
    if (rc)
        return rc;

    int64_t mseq = 0;
    if (queue) {
        mseq = next_mutation_seq(s);
        if (mseq < 0)
            return dbfail(s, "mutation sequence");
        char *payload = entity_json_text(e);
        if (!payload)
            return fail(s, ETUDE_STORE_ENOMEM, "out of memory");
        char now[32];
        etude_store_i_now(s, now);
        if (cprep(s, outbox_sql, &st) != SQLITE_OK) {
            free(payload);
            return dbfail(s, "outbox");
        }
        sqlite3_bind_int64(st, 1, mseq);
        sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, e->entity_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, op, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, payload, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dbfail(s, "outbox");
        cdone(s, st);
        free(payload);
        if (rc)
            return rc;
    }
    char now[32];
    etude_store_i_now(s, now);
    if (cprep(s, audit_sql, &st) != SQLITE_OK)
        return dbfail(s, "audit");
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->entity_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, op, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, actor, -1, SQLITE_STATIC);
    bind_text_or_null(st, 6, old_checksum);
    sqlite3_bind_text(st, 7, e->checksum, -1, SQLITE_STATIC);
    if (queue)
        sqlite3_bind_int64(st, 8, mseq);
    else
        sqlite3_bind_null(st, 8);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dbfail(s, "audit");
    cdone(s, st);
    return rc;
}

static int begin(etude_store_t *s)
{
    return exec(s, "BEGIN IMMEDIATE", "begin");
}

static int finish(etude_store_t *s, int rc)
{
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(s, "COMMIT", "commit");
}

/* Canonicalise data (must be an object) and compute its checksum into e. */
static int set_data(etude_store_t *s, etude_entity_t *e, const char *data_json)
{
    char *canon = NULL;
    int rc = etude_canon_json(data_json, &canon);
    if (rc == -1)
        return fail(s, ETUDE_STORE_ENOMEM, "out of memory");
    if (rc || canon[0] != '{') {
        free(canon);
        return fail(s, ETUDE_STORE_EINVAL, "data: not a JSON object");
    }
    cJSON *d = cJSON_Parse(canon);
    etude_entity_fault_t fault;
    rc = d ? etude_entity_check_data(e->entity_type[0] ? e->entity_type : NULL, d, &fault) : ETUDE_ENOMEM;
    cJSON_Delete(d);
    if (rc) {
        free(canon);
        if (rc == ETUDE_ENOMEM)
            return fail(s, ETUDE_STORE_ENOMEM, "out of memory");
        return fail(s, ETUDE_STORE_EINVAL, "%s: %s", fault.field, fault.reason);
    }
    free(e->data);
    e->data = canon;
    etude_canon_sha256_hex(canon, strlen(canon), e->checksum);
    return 0;
}

static int create_in_tx(etude_store_t *s, const char *type, const char *id, const char *data_json, char out_id[37])
{
    etude_entity_t e;
    memset(&e, 0, sizeof e);
    if (!etude_entity_type_valid(type))
        return fail(s, ETUDE_STORE_EINVAL,
                    "entity type '%s': expected practiceSession, practiceLog, goal or logbookEntry", type ? type : "");
    if (id && *id && !etude_uuid_valid(id))
        return fail(s, ETUDE_STORE_EINVAL, "id '%s': not a lowercase UUID", id);
    snprintf(e.entity_type, sizeof e.entity_type, "%s", type);
    int rc = set_data(s, &e, data_json);
    if (rc)
        return rc;
    if (id && *id)
        snprintf(e.id, sizeof e.id, "%s", id);
    else
        etude_uuid_new(e.id);
    etude_store_i_now(s, e.created_at);
    memcpy(e.updated_at, e.created_at, sizeof e.updated_at);
    strcpy(e.sync_status, "pending");
    rc = write_row(s, &e, 1, "create", "local", NULL, 1);
    if (!rc && out_id)
        memcpy(out_id, e.id, 37);
    etude_entity_clear(&e);
    return rc;
}

int etude_store_create(etude_store_t *store, const char *type, const char *id, const char *data_json,
                       char out_id[37])
{
    int rc = begin(store);
    if (rc)
        return rc;
    return finish(store, create_in_tx(store, type, id, data_json, out_id));
}

/* Touch updated_at so it is strictly later than before, even within one millisecond, in corrected
 * time. A stored time further ahead of corrected now than the server would accept (a wrong clock, a
 * hand-made import) is not followed: the edit takes corrected now, so such a stamp neither wins
 * forever nor makes later edits unexportable (createdAt is brought down with it when needed). */
static void bump_updated(etude_store_t *s, etude_entity_t *e)
{
    char now[32];
    etude_store_i_now(s, now);
    if (strcmp(now, e->updated_at) <= 0) {
        int64_t old_ms = 0, now_ms = 0;
        etude_time_parse_ms(now, &now_ms);
        if (etude_time_parse_ms(e->updated_at, &old_ms) == 0 && old_ms - now_ms < ETUDE_STORE_MAX_AHEAD_MS)
            etude_time_format_ms(old_ms + 1, now);
    }
    memcpy(e->updated_at, now, sizeof now);
    if (strcmp(e->created_at, e->updated_at) > 0)
        memcpy(e->created_at, e->updated_at, sizeof e->created_at);
}

static int update_in_tx(etude_store_t *s, const char *id, const char *data_json, int *changed)
{
    etude_entity_t e;
    int rc = etude_store_get(s, id, &e);
    if (changed)
        *changed = 0;
    if (rc)
        return rc;
    if (e.deleted_at[0]) {
        etude_entity_clear(&e);
        return fail(s, ETUDE_STORE_EDELETED, "entity %s was deleted at %s: it cannot be edited", id, e.deleted_at);
    }
    char old[65];
    memcpy(old, e.checksum, sizeof old);
    rc = set_data(s, &e, data_json);
    if (!rc && strcmp(old, e.checksum)) {
        bump_updated(s, &e);
        strcpy(e.sync_status, "pending");
        rc = write_row(s, &e, 0, "update", "local", old, 1);
        if (changed)
            *changed = 1;
    }
    etude_entity_clear(&e);
    return rc;
}

int etude_store_update(etude_store_t *store, const char *id, const char *data_json)
{
    int rc = begin(store);
    if (rc)
        return rc;
    return finish(store, update_in_tx(store, id, data_json, NULL));
}

int etude_store_delete(etude_store_t *store, const char *id)
{
    int rc = begin(store);
    if (rc)
        return rc;
    etude_entity_t e;
    rc = etude_store_get(store, id, &e);
    if (rc)
        return finish(store, rc);
    if (!e.deleted_at[0]) {
        bump_updated(store, &e);
        memcpy(e.deleted_at, e.updated_at, sizeof e.deleted_at);
        strcpy(e.sync_status, "pending");
        rc = write_row(store, &e, 0, "delete", "local", e.checksum, 1);
    }
    etude_entity_clear(&e);
    return finish(store, rc);
}

/* ---- session records ---------------------------------------------------------------------- */

static int put_one(etude_store_t *s, const char *type, const char *id, const cJSON *data,
                   etude_store_put_stats_t *stats)
{
    char *text = etude_canon_print(data);
    if (!text)
        return fail(s, ETUDE_STORE_ENOMEM, "out of memory");
    etude_entity_t e;
    int rc = etude_store_get(s, id, &e);
    if (rc == ETUDE_STORE_ENOTFOUND) {
        rc = create_in_tx(s, type, id, text, NULL);
        if (!rc)
            stats->created++;
    } else if (!rc) {
        int keep = 0;
        if (strcmp(e.entity_type, type)) {
            rc = fail(s, ETUDE_STORE_EINVAL, "record id %s is already a %s, not a %s", id, e.entity_type, type);
        } else if (e.deleted_at[0]) {
            keep = 1; /* a tombstone never comes back */
        } else if (!strcmp(type, "practiceSession")) {
            cJSON *old = cJSON_Parse(e.data);
            const cJSON *oi = cJSON_GetObjectItemCaseSensitive(old, "interrupted");
            const cJSON *ni = cJSON_GetObjectItemCaseSensitive(data, "interrupted");
            /* A recovered copy never replaces the completed session. */
            if (old && !cJSON_IsTrue(oi) && cJSON_IsTrue(ni))
                keep = 1;
            cJSON_Delete(old);
        }
        if (!rc && !keep) {
            int changed = 0;
            rc = update_in_tx(s, id, text, &changed);
            if (!rc && changed)
                stats->updated++;
            else if (!rc)
                stats->skipped++;
        } else if (!rc) {
            stats->skipped++;
        }
        etude_entity_clear(&e);
    }
    free(text);
    return rc;
}

int etude_store_put_session(etude_store_t *store, const char *record_json, etude_store_put_stats_t *stats)
{
    etude_store_put_stats_t local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    cJSON *r = cJSON_Parse(record_json ? record_json : "");
    if (!r)
        return fail(store, ETUDE_STORE_EINVAL, "session record: not JSON");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "data");
    const cJSON *logs = cJSON_GetObjectItemCaseSensitive(r, "logs");
    int rc = 0;
    if (!cJSON_IsString(id) || !etude_uuid_valid(id->valuestring))
        rc = fail(store, ETUDE_STORE_EINVAL, "session record: field 'id': expected a UUID");
    else if (!cJSON_IsObject(data))
        rc = fail(store, ETUDE_STORE_EINVAL, "session record: field 'data': expected an object");
    else if (logs && !cJSON_IsArray(logs))
        rc = fail(store, ETUDE_STORE_EINVAL, "session record: field 'logs': expected an array");
    if (!rc)
        rc = begin(store);
    if (!rc) {
        rc = put_one(store, "practiceSession", id->valuestring, data, stats);
        const cJSON *l;
        int i = 0;
        cJSON_ArrayForEach(l, logs)
        {
            if (rc)
                break;
            const cJSON *lid = cJSON_GetObjectItemCaseSensitive(l, "id");
            const cJSON *ldata = cJSON_GetObjectItemCaseSensitive(l, "data");
            if (!cJSON_IsString(lid) || !etude_uuid_valid(lid->valuestring) || !cJSON_IsObject(ldata))
                rc = fail(store, ETUDE_STORE_EINVAL, "session record: logs[%d]: expected {\"id\": UUID, \"data\": {...}}",
                          i);
            else
                rc = put_one(store, "practiceLog", lid->valuestring, ldata, stats);
            i++;
        }
        rc = finish(store, rc);
    }
    cJSON_Delete(r);
    return rc;
}

/* ---- export --------------------------------------------------------------------------------- */

typedef struct export_ctx {
    FILE *out;
    int format;
    int err;
} export_ctx_t;

static void csv_field(FILE *f, const char *v)
{
    if (!v)
        return;
    if (strpbrk(v, ",\"\r\n")) {
        fputc('"', f);
        for (const char *c = v; *c; c++) {
            if (*c == '"')
                fputc('"', f);
            fputc(*c, f);
        }
        fputc('"', f);
    } else {
        fputs(v, f);
    }
}

static int export_one(void *user, const etude_entity_t *e)
{
    export_ctx_t *x = user;
    if (x->format == ETUDE_EXPORT_NDJSON) {
        char *t = entity_json_text(e);
        if (!t) {
            x->err = ETUDE_STORE_ENOMEM;
            return 1;
        }
        fputs(t, x->out);
        fputc('\n', x->out);
        free(t);
    } else {
        fprintf(x->out, "%s,%lld,", e->id, (long long)e->local_id);
        csv_field(x->out, e->remote_id);
        fprintf(x->out, ",%s,%s,%s,%s,%s,%lld,%s,", e->entity_type, e->created_at, e->updated_at, e->deleted_at,
                e->sync_status, (long long)e->sync_version, e->checksum);
        csv_field(x->out, e->data);
        fputs("\r\n", x->out);
    }
    if (ferror(x->out)) {
        x->err = ETUDE_STORE_EIO;
        return 1;
    }
    return 0;
}

int etude_store_export(etude_store_t *store, FILE *out, int format)
{
    if (format != ETUDE_EXPORT_NDJSON && format != ETUDE_EXPORT_CSV)
        return fail(store, ETUDE_STORE_EINVAL, "export: unknown format");
    /* One read transaction, so the export is a consistent snapshot. */
    int rc = exec(store, "BEGIN", "begin export");
    if (rc)
        return rc;
    if (format == ETUDE_EXPORT_NDJSON)
        fprintf(out, "{\"etudeExport\":1,\"schemaVersion\":%d}\n", ETUDE_STORE_SCHEMA_VERSION);
    else
        fputs("id,localId,remoteId,entityType,createdAt,updatedAt,deletedAt,syncStatus,syncVersion,checksum,data\r\n",
              out);
    export_ctx_t x = {out, format, 0};
    rc = etude_store_list(store, NULL, NULL, 1, export_one, &x);
    sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && x.err)
        rc = fail(store, x.err, "export: cannot write the output: %s", strerror(errno));
    if (!rc && fflush(out))
        rc = fail(store, ETUDE_STORE_EIO, "export: cannot write the output: %s", strerror(errno));
    return rc;
}

/* ---- import --------------------------------------------------------------------------------- */

static const char *const import_fields[] = {"entityType", "id",         "localId",     "remoteId",
                                             "createdAt",  "updatedAt",  "deletedAt",   "syncStatus",
                                             "syncVersion", "checksum",  "data"};

static int ifail(etude_store_t *s, const char *name, int line, const char *field, const char *what)
{
    if (field)
        return fail(s, ETUDE_STORE_EPARSE, "%s:%d: field '%s': %s", name, line, field, what);
    return fail(s, ETUDE_STORE_EPARSE, "%s:%d: %s", name, line, what);
}

static int import_line(etude_store_t *s, const char *name, int lineno, const char *text, int *header_ok,
                       etude_import_stats_t *stats)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(text, &end, 1);
    if (!o)
        return ifail(s, name, lineno, NULL, "not valid JSON");
    int rc = 0;
    etude_entity_t e, old;
    memset(&e, 0, sizeof e);
    memset(&old, 0, sizeof old);
    if (!cJSON_IsObject(o)) {
        rc = ifail(s, name, lineno, NULL, "expected a JSON object");
        goto out;
    }
    const cJSON *hdr = cJSON_GetObjectItemCaseSensitive(o, "etudeExport");
    if (hdr) {
        const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "schemaVersion");
        if (!*header_ok)
            rc = ifail(s, name, lineno, "etudeExport", "an export header may only be the first line");
        else if (!cJSON_IsNumber(hdr) || hdr->valuedouble != 1)
            rc = ifail(s, name, lineno, "etudeExport", "unknown export format version (this etude reads 1)");
        else if (!cJSON_IsNumber(sv) || sv->valuedouble < 1 || sv->valuedouble != (int)sv->valuedouble)
            rc = ifail(s, name, lineno, "schemaVersion", "expected a positive integer");
        else if (sv->valuedouble > ETUDE_STORE_SCHEMA_VERSION)
            rc = fail(s, ETUDE_STORE_ENEWER, "%s:%d: field 'schemaVersion': %d was written by a newer etude (this one knows up to %d)",
                      name, lineno, (int)sv->valuedouble, ETUDE_STORE_SCHEMA_VERSION);
        else if (cJSON_GetArraySize(o) != 2)
            rc = ifail(s, name, lineno, NULL, "the header has only etudeExport and schemaVersion");
        *header_ok = 0;
        goto out;
    }
    *header_ok = 0;
    for (const cJSON *c = o->child; c; c = c->next) {
        int known = 0;
        for (size_t i = 0; i < sizeof import_fields / sizeof *import_fields; i++)
            if (!strcmp(c->string, import_fields[i]))
                known = 1;
        if (!known) {
            rc = ifail(s, name, lineno, c->string, "unknown field");
            goto out;
        }
    }
#define FIELD(n) const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, #n)
    FIELD(entityType);
    FIELD(id);
    FIELD(localId);
    FIELD(remoteId);
    FIELD(createdAt);
    FIELD(updatedAt);
    FIELD(deletedAt);
    FIELD(syncStatus);
    FIELD(syncVersion);
    FIELD(checksum);
    FIELD(data);
#undef FIELD
    if (deletedAt && !cJSON_IsNull(deletedAt) && !cJSON_IsString(deletedAt)) {
        rc = ifail(s, name, lineno, "deletedAt", "expected a UTC time or null");
        goto out;
    }
    {
        /* The checks the server and the sync client apply too (etude_entity.h). */
        etude_entity_view_t view = {cJSON_GetStringValue(id), cJSON_GetStringValue(entityType),
                                    cJSON_GetStringValue(createdAt), cJSON_GetStringValue(updatedAt),
                                    cJSON_GetStringValue(deletedAt), cJSON_IsString(deletedAt) ? NULL : data};
        etude_entity_fault_t fault;
        int vr = etude_entity_check(&view, 0, &fault);
        if (vr == ETUDE_ENOMEM) {
            rc = fail(s, ETUDE_STORE_ENOMEM, "out of memory");
            goto out;
        }
        if (vr) {
            rc = ifail(s, name, lineno, fault.field, fault.reason);
            goto out;
        }
    }
    if (localId && !(cJSON_IsNumber(localId) && localId->valuedouble >= 1 && localId->valuedouble < 9007199254740992.0 &&
                     localId->valuedouble == (double)(int64_t)localId->valuedouble)) {
        rc = ifail(s, name, lineno, "localId", "expected a positive integer");
        goto out;
    }
    if (remoteId && !cJSON_IsNull(remoteId) && !(cJSON_IsString(remoteId) && remoteId->valuestring[0])) {
        rc = ifail(s, name, lineno, "remoteId", "expected a non-empty string or null");
        goto out;
    }
    if (!cJSON_IsString(syncStatus) || !status_valid(syncStatus->valuestring)) {
        rc = ifail(s, name, lineno, "syncStatus", "expected pending, syncing, synced or conflict");
        goto out;
    }
    if (!cJSON_IsNumber(syncVersion) || syncVersion->valuedouble < 0 || syncVersion->valuedouble >= 9007199254740992.0 ||
        syncVersion->valuedouble != (double)(int64_t)syncVersion->valuedouble) {
        rc = ifail(s, name, lineno, "syncVersion", "expected an integer >= 0");
        goto out;
    }
    if (!cJSON_IsString(checksum) || strlen(checksum->valuestring) != 64 ||
        strspn(checksum->valuestring, "0123456789abcdef") != 64) {
        rc = ifail(s, name, lineno, "checksum", "expected 64 lowercase hex characters (SHA-256)");
        goto out;
    }
    if (!cJSON_IsObject(data)) {
        rc = ifail(s, name, lineno, "data", "expected a JSON object");
        goto out;
    }
    char *dtext = etude_canon_print(data); /* exact numbers, unlike cJSON's printer */
    if (!dtext) {
        rc = fail(s, ETUDE_STORE_ENOMEM, "out of memory");
        goto out;
    }
    rc = set_data(s, &e, dtext);
    free(dtext);
    if (rc) {
        rc = ifail(s, name, lineno, "data", "cannot be canonicalised (duplicate keys or non-finite numbers)");
        goto out;
    }
    if (strcmp(e.checksum, checksum->valuestring)) {
        rc = ifail(s, name, lineno, "checksum", "does not match the SHA-256 of the canonical data");
        goto out;
    }
    snprintf(e.id, sizeof e.id, "%s", id->valuestring);
    snprintf(e.entity_type, sizeof e.entity_type, "%s", entityType->valuestring);
    snprintf(e.created_at, sizeof e.created_at, "%s", createdAt->valuestring);
    snprintf(e.updated_at, sizeof e.updated_at, "%s", updatedAt->valuestring);
    if (cJSON_IsString(deletedAt))
        snprintf(e.deleted_at, sizeof e.deleted_at, "%s", deletedAt->valuestring);
    snprintf(e.sync_status, sizeof e.sync_status, "%s", syncStatus->valuestring);
    e.sync_version = (int64_t)syncVersion->valuedouble;
    if (cJSON_IsString(remoteId) && !(e.remote_id = strdup(remoteId->valuestring))) {
        rc = fail(s, ETUDE_STORE_ENOMEM, "out of memory");
        goto out;
    }
    if (strcmp(e.updated_at, e.created_at) < 0) {
        rc = ifail(s, name, lineno, "updatedAt", "is before createdAt");
        goto out;
    }
    int queue = !strcmp(e.sync_status, "pending");
    rc = etude_store_get(s, e.id, &old);
    if (rc == ETUDE_STORE_ENOTFOUND) {
        e.local_id = 0;
        if (localId) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM entities WHERE local_id = ?1", -1, &st, NULL) != SQLITE_OK) {
                rc = dbfail(s, "import");
                goto out;
            }
            sqlite3_bind_int64(st, 1, (int64_t)localId->valuedouble);
            if (sqlite3_step(st) == SQLITE_DONE)
                e.local_id = (int64_t)localId->valuedouble;
            sqlite3_finalize(st);
        }
        rc = write_row(s, &e, 1, e.deleted_at[0] ? "delete" : "create", "import", NULL, queue);
        if (!rc)
            stats->created++;
    } else if (!rc) {
        if (strcmp(old.entity_type, e.entity_type)) {
            rc = ifail(s, name, lineno, "entityType", "this id is already stored as another entity type");
        } else if (strcmp(e.updated_at, old.updated_at) > 0 && !old.deleted_at[0]) {
            const char *op = e.deleted_at[0] ? "delete" : "update";
            rc = write_row(s, &e, 0, op, "import", old.checksum, queue);
            if (!rc)
                stats->updated++;
        } else {
            stats->skipped++;
        }
    } else {
        goto out;
    }
    if (rc && rc != ETUDE_STORE_EPARSE) {
        char detail[sizeof s->err];
        memcpy(detail, s->err, sizeof detail);
        rc = fail(s, rc, "%s:%d: %s", name, lineno, detail);
    }
out:
    etude_entity_clear(&e);
    etude_entity_clear(&old);
    cJSON_Delete(o);
    return rc;
}

int etude_store_import(etude_store_t *store, FILE *in, const char *name, etude_import_stats_t *stats)
{
    etude_import_stats_t local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!name)
        name = "<input>";
    int rc = begin(store);
    if (rc)
        return rc;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, header_ok = 1;
    while (!rc && (n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if ((size_t)n != strlen(line)) {
            rc = ifail(store, name, lineno, NULL, "contains a NUL byte");
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0) {
            rc = ifail(store, name, lineno, NULL, "empty line (NDJSON has one JSON object per line)");
            break;
        }
        rc = import_line(store, name, lineno, line, &header_ok, stats);
    }
    free(line);
    if (!rc && ferror(in))
        rc = fail(store, ETUDE_STORE_EIO, "%s: read error: %s", name, strerror(errno));
    if (!rc && lineno == 0)
        rc = fail(store, ETUDE_STORE_EPARSE, "%s: empty file: nothing to import", name);
    stats->lines = lineno;
    if (rc)
        stats->created = stats->updated = stats->skipped = 0;
    return finish(store, rc);
}
