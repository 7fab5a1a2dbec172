/* test_store.c - the local store on real SQLite files: entities, outbox, audit, migrations,
 * canonical checksums, session records, export/import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "etude_canon.h"
#include "etude_store.h"
#include "etude_time.h"

typedef struct fx {
    char dir[64];
    char path[128];
    etude_store_t *st;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/etude-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/etude.db", f->dir);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    etude_store_close(f->st);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* One integer from SQL on a separate connection: what is really in the file. */
static long long q(const fx_t *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static char *qs(const fx_t *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *v = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_canonical(void **state)
{
    (void)state;
    char *c;
    assert_int_equal(etude_canon_json(" { \"b\" : [1, 2.5, true, null], \"a\": \"x\\u0001\\n\", \"c\": {\"z\":1,\"y\":1e2} } ", &c), 0);
    assert_string_equal(c, "{\"a\":\"x\\u0001\\n\",\"b\":[1,2.5,true,null],\"c\":{\"y\":100,\"z\":1}}");
    char *c2;
    assert_int_equal(etude_canon_json(c, &c2), 0);
    assert_string_equal(c, c2);
    char hex[65];
    etude_canon_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(c);
    free(c2);
    assert_int_equal(etude_canon_json("{\"a\":1,\"a\":2}", &c), -2);
    assert_int_equal(etude_canon_json("{\"a\":1} x", &c), -2);
    assert_int_equal(etude_canon_json("", &c), -2);
}

static void test_open_schema(void **state)
{
    fx_t *f = *state;
    assert_int_equal(etude_store_schema_version(f->st), ETUDE_STORE_SCHEMA_VERSION);
    assert_int_equal(q(f, "PRAGMA user_version"), ETUDE_STORE_SCHEMA_VERSION);
    char *mode = qs(f, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    char dev[64], user[64];
    assert_int_equal(etude_store_meta_get(f->st, "device_id", dev, sizeof dev), 0);
    assert_true(etude_uuid_valid(dev));
    assert_int_equal(etude_store_meta_get(f->st, "user_id", user, sizeof user), 0);
    assert_string_equal(user, "anonymous");
    assert_int_equal(etude_store_meta_get(f->st, "cursor", user, sizeof user), ETUDE_STORE_ENOTFOUND);
    assert_int_equal(etude_store_meta_set(f->st, "cursor", "abc"), 0);
    assert_int_equal(etude_store_meta_get(f->st, "cursor", user, sizeof user), 0);
    assert_string_equal(user, "abc");
    /* the tables issue 7 needs exist */
    assert_int_equal(q(f, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                          "('entities','outbox','sync_meta','dead_letter','conflicts','audit')"),
                     6);
    /* reopening keeps the device id and runs no migration again */
    etude_store_close(f->st);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    char dev2[64];
    assert_int_equal(etude_store_meta_get(f->st, "device_id", dev2, sizeof dev2), 0);
    assert_string_equal(dev, dev2);
    assert_int_equal(etude_store_check(f->st), 0);
}

static void test_newer_refused(void **state)
{
    fx_t *f = *state;
    etude_store_close(f->st);
    f->st = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    etude_store_t *st;
    assert_int_equal(etude_store_open(f->path, &st), ETUDE_STORE_ENEWER);
    assert_non_null(st);
    assert_non_null(strstr(etude_store_errmsg(st), "schema version 7"));
    assert_non_null(strstr(etude_store_errmsg(st), f->path));
    etude_store_close(st);
    assert_int_equal(q(f, "PRAGMA user_version"), 7); /* untouched */
    assert_int_equal(q(f, "SELECT count(*) FROM entities"), 0);
}

static void test_crud_outbox_audit(void **state)
{
    fx_t *f = *state;
    char id[37];
    assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\": \"scales\", \"b\": 2}", id), 0);
    assert_true(etude_uuid_valid(id));
    etude_entity_t e;
    assert_int_equal(etude_store_get(f->st, id, &e), 0);
    assert_string_equal(e.entity_type, "logbookEntry");
    assert_string_equal(e.data, "{\"b\":2,\"text\":\"scales\"}");
    char sum[65];
    etude_canon_sha256_hex(e.data, strlen(e.data), sum);
    assert_string_equal(e.checksum, sum);
    assert_string_equal(e.sync_status, "pending");
    assert_int_equal(e.sync_version, 0);
    assert_null(e.remote_id);
    assert_string_equal(e.deleted_at, "");
    assert_string_equal(e.created_at, e.updated_at);
    assert_int_equal(etude_time_parse(e.created_at, NULL), 0);
    char created[32];
    strcpy(created, e.created_at);
    etude_entity_clear(&e);
    assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE op='create'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM audit WHERE action='create' AND actor='local'"), 1);

    /* same data again: nothing changes, nothing is queued */
    assert_int_equal(etude_store_update(f->st, id, "{\"b\":2,\"text\":\"scales\"}"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 1);
    assert_int_equal(etude_store_update(f->st, id, "{\"text\":\"arpeggios\"}"), 0);
    assert_int_equal(etude_store_get(f->st, id, &e), 0);
    assert_string_equal(e.data, "{\"text\":\"arpeggios\"}");
    assert_string_equal(e.created_at, created);
    assert_true(strcmp(e.updated_at, created) > 0);
    etude_entity_clear(&e);
    assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE op='update'"), 1);
    /* the outbox mutation sequence is monotonic and matches the meta counter */
    assert_int_equal(q(f, "SELECT max(mutation_seq) FROM outbox"), 2);
    assert_int_equal(q(f, "SELECT value FROM sync_meta WHERE key='mutation_seq'"), 2);

    assert_int_equal(etude_store_delete(f->st, id), 0);
    assert_int_equal(etude_store_get(f->st, id, &e), 0);
    assert_string_equal(e.deleted_at, e.updated_at);
    etude_entity_clear(&e);
    assert_int_equal(etude_store_update(f->st, id, "{\"text\":\"x\"}"), ETUDE_STORE_EDELETED);
    assert_int_equal(etude_store_delete(f->st, id), 0); /* no-op */
    assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE op='delete'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM audit"), 3);
    assert_int_equal(etude_store_count(f->st, "logbookEntry", 0), 0);
    assert_int_equal(etude_store_count(f->st, "logbookEntry", 1), 1);

    /* bad input */
    assert_int_equal(etude_store_create(f->st, "song", NULL, "{}", id), ETUDE_STORE_EINVAL);
    assert_non_null(strstr(etude_store_errmsg(f->st), "song"));
    assert_int_equal(etude_store_create(f->st, "goal", NULL, "[1]", id), ETUDE_STORE_EINVAL);
    assert_int_equal(etude_store_create(f->st, "goal", "not-a-uuid", "{}", id), ETUDE_STORE_EINVAL);
    assert_int_equal(q(f, "SELECT count(*) FROM entities"), 1);

    /* prefixes */
    char got[37];
    assert_int_equal(etude_store_create(f->st, "goal", NULL, "{\"kind\":\"minutes\"}", id), 0);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", id);
    assert_int_equal(etude_store_resolve(f->st, prefix, got), 0);
    assert_string_equal(got, id);
    assert_int_equal(etude_store_resolve(f->st, "zzzz", got), ETUDE_STORE_ENOTFOUND);
    assert_int_equal(etude_store_check(f->st), 0);
}

static const char record1[] =
    "{\"id\":\"11111111-1111-4111-8111-111111111111\",\"data\":{\"startedAt\":\"2026-01-02T10:00:00.000Z\","
    "\"activeSeconds\":12.5,\"interrupted\":false,\"material\":\"8 4/4 120\"},"
    "\"logs\":[{\"id\":\"22222222-2222-4222-8222-222222222222\",\"data\":{\"sessionId\":"
    "\"11111111-1111-4111-8111-111111111111\",\"bpm\":120,\"index\":0}},"
    "{\"id\":\"33333333-3333-4333-8333-333333333333\",\"data\":{\"sessionId\":"
    "\"11111111-1111-4111-8111-111111111111\",\"bpm\":140,\"index\":1}}]}";

static void test_put_session(void **state)
{
    fx_t *f = *state;
    etude_store_put_stats_t st;
    assert_int_equal(etude_store_put_session(f->st, record1, &st), 0);
    assert_int_equal(st.created, 3);
    assert_int_equal(etude_store_count(f->st, "practiceSession", 0), 1);
    assert_int_equal(etude_store_count(f->st, "practiceLog", 0), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 3);
    /* delivered again (after a crash): nothing new */
    assert_int_equal(etude_store_put_session(f->st, record1, &st), 0);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.skipped, 3);
    assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 3);
    /* a recovered (interrupted) copy never replaces the completed session */
    char *interrupted = strdup(record1);
    char *p = strstr(interrupted, "\"interrupted\":false");
    memcpy(p, "\"interrupted\":true ", 19);
    assert_int_equal(etude_store_put_session(f->st, interrupted, &st), 0);
    assert_int_equal(st.updated, 0);
    etude_entity_t e;
    assert_int_equal(etude_store_get(f->st, "11111111-1111-4111-8111-111111111111", &e), 0);
    assert_non_null(strstr(e.data, "\"interrupted\":false"));
    etude_entity_clear(&e);
    free(interrupted);
    /* malformed records are refused, nothing written */
    assert_int_equal(etude_store_put_session(f->st, "{\"id\":\"x\",\"data\":{}}", &st), ETUDE_STORE_EINVAL);
    assert_non_null(strstr(etude_store_errmsg(f->st), "'id'"));
    assert_int_equal(etude_store_put_session(f->st,
                                             "{\"id\":\"44444444-4444-4444-8444-444444444444\",\"data\":{},"
                                             "\"logs\":[{\"id\":\"bad\"}]}",
                                             &st),
                     ETUDE_STORE_EINVAL);
    assert_int_equal(etude_store_count(f->st, NULL, 1), 3);
}

static int count_cb(void *user, const etude_entity_t *e)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static void test_list_parent(void **state)
{
    fx_t *f = *state;
    assert_int_equal(etude_store_put_session(f->st, record1, NULL), 0);
    int n = 0;
    assert_int_equal(etude_store_list(f->st, "practiceLog", "11111111-1111-4111-8111-111111111111", 0, count_cb, &n), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(etude_store_list(f->st, NULL, NULL, 0, count_cb, &n), 0);
    assert_int_equal(n, 3);
}

static char *export_text(etude_store_t *st, int format)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(etude_store_export(st, m, format), 0);
    fclose(m);
    return buf;
}

static void test_roundtrip(void **state)
{
    fx_t *f = *state;
    char id[37];
    assert_int_equal(etude_store_put_session(f->st, record1, NULL), 0);
    assert_int_equal(etude_store_create(f->st, "goal", NULL, "{\"kind\":\"tempo\",\"target\":160.5,\"preset\":\"a \\\"q\\\" b\"}", id), 0);
    assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\":\"unicode \\u00e9\\u266b, tab\\t\"}", id), 0);
    assert_int_equal(etude_store_update(f->st, id, "{\"text\":\"edited\"}"), 0);
    assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\":\"gone\"}", id), 0);
    assert_int_equal(etude_store_delete(f->st, id), 0);
    /* make one look synced, as issue 7 will */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE entities SET sync_status='synced', sync_version=3, remote_id='r-9' "
                                      "WHERE entity_type='goal'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    char *a = export_text(f->st, ETUDE_EXPORT_NDJSON);
    char path2[160];
    snprintf(path2, sizeof path2, "%s/second.db", f->dir);
    etude_store_t *b;
    assert_int_equal(etude_store_open(path2, &b), 0);
    FILE *in = fmemopen(a, strlen(a), "r");
    etude_import_stats_t st;
    assert_int_equal(etude_store_import(b, in, "a.ndjson", &st), 0);
    fclose(in);
    assert_int_equal(st.created, 6);
    char *a2 = export_text(b, ETUDE_EXPORT_NDJSON);
    assert_string_equal(a, a2); /* every field of every entity, ids, timestamps, localIds */
    /* importing twice creates nothing */
    in = fmemopen(a, strlen(a), "r");
    assert_int_equal(etude_store_import(b, in, "a.ndjson", &st), 0);
    fclose(in);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.updated, 0);
    assert_int_equal(st.skipped, 6);
    char *a3 = export_text(b, ETUDE_EXPORT_NDJSON);
    assert_string_equal(a, a3);
    /* pending ones are queued in the new store; the synced goal is not */
    assert_int_equal(etude_store_outbox_count(b), 5);
    char *csv = export_text(b, ETUDE_EXPORT_CSV);
    assert_non_null(strstr(csv, "id,localId,remoteId,entityType,createdAt,updatedAt,deletedAt,syncStatus,syncVersion,checksum,data\r\n"));
    assert_non_null(strstr(csv, ",r-9,goal,"));
    assert_non_null(strstr(csv, "\"{\"\"kind\"\":\"\"tempo\"\""));
    free(csv);
    free(a);
    free(a2);
    free(a3);
    etude_store_close(b);
}

static void test_import_newer_wins(void **state)
{
    fx_t *f = *state;
    const char *older = "{\"entityType\":\"goal\",\"id\":\"55555555-5555-4555-8555-555555555555\",\"localId\":4,"
                        "\"remoteId\":null,\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-01T00:00:00.000Z\","
                        "\"deletedAt\":null,\"syncStatus\":\"pending\",\"syncVersion\":0,"
                        "\"checksum\":\"%s\",\"data\":%s}\n";
    char line[1024], sum[65];
    const char *d1 = "{\"target\":1}", *d2 = "{\"target\":2}";
    etude_canon_sha256_hex(d1, strlen(d1), sum);
    snprintf(line, sizeof line, older, sum, d1);
    FILE *in = fmemopen(line, strlen(line), "r");
    assert_int_equal(etude_store_import(f->st, in, "x", NULL), 0);
    fclose(in);
    /* same time, other data: the store's copy is kept */
    etude_canon_sha256_hex(d2, strlen(d2), sum);
    snprintf(line, sizeof line, older, sum, d2);
    in = fmemopen(line, strlen(line), "r");
    etude_import_stats_t st;
    assert_int_equal(etude_store_import(f->st, in, "x", &st), 0);
    fclose(in);
    assert_int_equal(st.skipped, 1);
    etude_entity_t e;
    assert_int_equal(etude_store_get(f->st, "55555555-5555-4555-8555-555555555555", &e), 0);
    assert_string_equal(e.data, d1);
    assert_int_equal(e.local_id, 4);
    etude_entity_clear(&e);
    /* a newer updatedAt wins */
    char *newer = strdup(line);
    char *u = strstr(newer, "\"updatedAt\":\"2026-01-01");
    memcpy(u + 13, "2027", 4);
    in = fmemopen(newer, strlen(newer), "r");
    assert_int_equal(etude_store_import(f->st, in, "x", &st), 0);
    fclose(in);
    assert_int_equal(st.updated, 1);
    assert_int_equal(etude_store_get(f->st, "55555555-5555-4555-8555-555555555555", &e), 0);
    assert_string_equal(e.data, d2);
    assert_string_equal(e.updated_at, "2027-01-01T00:00:00.000Z");
    etude_entity_clear(&e);
    free(newer);
}

static void expect_import_error(fx_t *f, const char *text, const char *needle)
{
    long long before = q(f, "SELECT count(*) FROM entities");
    long long outbox = q(f, "SELECT count(*) FROM outbox");
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    int rc = etude_store_import(f->st, in, "in.ndjson", NULL);
    fclose(in);
    assert_true(rc == ETUDE_STORE_EPARSE || rc == ETUDE_STORE_ENEWER);
    if (!strstr(etude_store_errmsg(f->st), needle))
        fail_msg("message '%s' lacks '%s'", etude_store_errmsg(f->st), needle);
    assert_int_equal(q(f, "SELECT count(*) FROM entities"), before);
    assert_int_equal(q(f, "SELECT count(*) FROM outbox"), outbox);
}

static void test_import_atomic(void **state)
{
    fx_t *f = *state;
    char id[37];
    assert_int_equal(etude_store_put_session(f->st, record1, NULL), 0);
    assert_int_equal(etude_store_create(f->st, "goal", NULL, "{\"kind\":\"minutes\"}", id), 0);
    char *a = export_text(f->st, ETUDE_EXPORT_NDJSON);
    /* an empty target store: good lines, then one bad line in the middle, then good lines */
    etude_store_close(f->st);
    unlink(f->path);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", f->path);
    unlink(wal);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    size_t n = strlen(a);
    char *bad = malloc(n + 64);
    char *third = strchr(strchr(strchr(a, '\n') + 1, '\n') + 1, '\n') + 1; /* after header + 2 lines */
    size_t head = (size_t)(third - a);
    memcpy(bad, a, head);
    strcpy(bad + head, "{\"entityType\":\"goal\"}\n");
    strcat(bad, third);
    expect_import_error(f, bad, "in.ndjson:4: field 'id'");
    assert_int_equal(q(f, "SELECT count(*) FROM entities"), 0);
    free(bad);

    expect_import_error(f, "{\"etudeExport\":1,\"schemaVersion\":9}\n", "in.ndjson:1: field 'schemaVersion': 9");
    expect_import_error(f, "not json\n", "in.ndjson:1: not valid JSON");
    expect_import_error(f, "[]\n", "in.ndjson:1: expected a JSON object");
    expect_import_error(f, "", "empty file");
    expect_import_error(f, "\n", "in.ndjson:1: empty line");
    char *tampered = strdup(a);
    char *data = strstr(tampered, "\"kind\":\"minutes\"");
    memcpy(data, "\"kind\":\"MINUTES\"", 16);
    expect_import_error(f, tampered, "field 'checksum': does not match");
    free(tampered);
    char *extra = strdup(a);
    char *x = strstr(extra, "\"remoteId\"");
    memcpy(x, "\"remoteXx\"", 10);
    expect_import_error(f, extra, "in.ndjson:2: field 'remoteXx': unknown field");
    free(extra);
    char *badtime = strdup(a);
    char *t = strstr(badtime, "\"createdAt\":\"") + 13;
    memcpy(t + 5, "13", 2);
    expect_import_error(f, badtime, "in.ndjson:2: field 'createdAt'");
    free(badtime);
    char *st = strdup(a);
    char *s = strstr(st, "\"syncStatus\":\"pending\"");
    memcpy(s, "\"syncStatus\":\"pendin\"", 21);
    s[21] = ' ';
    expect_import_error(f, st, "field 'syncStatus'");
    free(st);
    /* and the original file imports fine */
    FILE *in = fmemopen(a, strlen(a), "r");
    assert_int_equal(etude_store_import(f->st, in, "in.ndjson", NULL), 0);
    fclose(in);
    assert_int_equal(q(f, "SELECT count(*) FROM entities"), 4);
    free(a);
}

static void test_time(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(etude_time_parse("2026-02-28T23:59:59.999Z", &us), 0);
    char back[32];
    etude_time_iso(us, back);
    assert_string_equal(back, "2026-02-28T23:59:59.999Z");
    assert_int_equal(etude_time_parse("2026-02-30T00:00:00.000Z", &us), ETUDE_STORE_EINVAL);
    assert_int_equal(etude_time_parse("2026-02-28 00:00:00.000Z", &us), ETUDE_STORE_EINVAL);
    assert_int_equal(etude_time_parse("2026-02-28T00:00:00Z", &us), ETUDE_STORE_EINVAL);
    assert_int_equal(etude_time_parse("+026-02-28T00:00:00.000Z", &us), ETUDE_STORE_EINVAL);
}

/* The clock filter keeps the most certain measurement of the offset. A first, rough one (the
 * answer took 1.6 s) is replaced by a precise one 700 ms away; a later answer delayed on one way
 * (uncertain by 600 ms, 600 ms off) does not replace it; a measurement that disagrees with the
 * kept one by more than both uncertainties (the server's clock, or this one, was set) does; and a
 * kept offset's uncertainty grows with its age (after an hour a 350 ms one is better again).
 * Fails on 5ea0c9c, whose store kept every offset 1 s or more away from the stored one and
 * ignored the rest: the precise measurement was dropped (2000 stayed) and every later stamp was
 * 700 ms off. */
static void test_clock_filter(void **state)
{
    fx_t *f = *state;
    int64_t off = 0;
    assert_int_equal(etude_store_clock_uncertainty(f->st), -1);
    assert_int_equal(etude_store_clock_sample(f->st, 2000, 800), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == 2000);
    assert_int_equal(etude_store_clock_sample(f->st, 1300, 3), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == 1300);
    assert_int_equal(etude_store_clock_sample(f->st, 1900, 600), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == 1300);
    /* Kept across handles, with its uncertainty. */
    etude_store_close(f->st);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == 1300);
    int64_t u = etude_store_clock_uncertainty(f->st);
    assert_true(u >= 3 && u < 20);
    assert_int_equal(etude_store_clock_sample(f->st, 1600, 350), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == 1300);
    /* A step: the server now says this clock is 5 s ahead. */
    assert_int_equal(etude_store_clock_sample(f->st, -5000, 40), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == -5000);
    /* This machine's wall clock is set 3 s back: within the boot the corrected clock runs on the
     * monotonic clock from the measurement and does not move; the offset now says +3 s more. */
    int64_t before = etude_store_now_ms(f->st);
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", "-3000", 1);
    assert_true(llabs(etude_store_now_ms(f->st) - before) < 1000);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(llabs(off - (-5000 + 3000)) < 1000);
    /* A measurement consistent with that, but less precise, is not kept, and the carried offset
     * is written so a later boot starts from it. */
    assert_int_equal(etude_store_clock_sample(f->st, -2000 + 200, 300), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(llabs(off - (-2000)) < 1000);
    char b[64] = "";
    assert_int_equal(etude_store_meta_get(f->st, "clock_offset_ms", b, sizeof b), 0);
    assert_true(llabs(strtoll(b, NULL, 10) - (-2000)) < 1000);
    unsetenv("ETUDE_TEST_CLOCK_SKEW_MS");
    assert_int_equal(etude_store_clock_sample(f->st, -5000, 40), 0);
    /* After a reboot (another boot id) the wall clock carries it, and an hour later (this
     * machine's clock an hour on) the kept 40 ms has grown by 360 ms. */
    assert_int_equal(etude_store_meta_set(f->st, "clock_boot_id", "another-boot"), 0);
    etude_store_close(f->st);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", "3600000", 1);
    u = etude_store_clock_uncertainty(f->st);
    assert_true(u >= 400 && u < 420);
    assert_int_equal(etude_store_clock_sample(f->st, -5300, 350), 0);
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == -5300);
    unsetenv("ETUDE_TEST_CLOCK_SKEW_MS");
}

/* A queued change made before this machine's wall clock was set back, and synced before any
 * answer told the client so, keeps its time: the clamp of times ahead of corrected now (which
 * keeps a wrong clock's year 9999 from winning) measures "now" on the monotonic clock from the
 * last measurement, which setting the wall clock does not move. Fails on 4995e43, where corrected
 * now was wall + offset: the change's time was pulled 4 s back, below an earlier edit it then lost
 * to (the model-based test's seed 401013). */
static void test_clock_step_clamp(void **state)
{
    fx_t *f = *state;
    assert_int_equal(etude_store_clock_sample(f->st, 0, 2), 0);
    /* Corrected now read on the monotonic clock can be 1 ms behind a stamp just made from the
     * wall clock: each clock is read to the millisecond, and how their fractions line up is fixed
     * for a boot. Take the boot where the monotonic reading of the measurement came out 1 ms late
     * (its kept reading moved on by 1 ms): a stamp that close must stay. Fails on d252d8e, where
     * the clamp took 1 ms off it (seen once in CI at random; here in nearly every round). */
    char mono[32] = "";
    assert_int_equal(etude_store_meta_get(f->st, "clock_mono_ms", mono, sizeof mono), 0);
    snprintf(mono, sizeof mono, "%lld", strtoll(mono, NULL, 10) + 1);
    assert_int_equal(etude_store_meta_set(f->st, "clock_mono_ms", mono), 0);
    etude_store_close(f->st);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    for (int round = 0; round < 200; round++) {
        char a[37];
        assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\":\"before the step\"}", a), 0);
        etude_entity_t e;
        assert_int_equal(etude_store_get(f->st, a, &e), 0);
        char stamped[40];
        snprintf(stamped, sizeof stamped, "%s", e.updated_at);
        etude_entity_clear(&e);
        struct timespec nap = {0, (round % 10) * 100000L};
        nanosleep(&nap, NULL);
        setenv("ETUDE_TEST_CLOCK_SKEW_MS", "-4000", 1);
        assert_int_equal(etude_store_clamp_queued_times(f->st), 0);
        unsetenv("ETUDE_TEST_CLOCK_SKEW_MS");
        assert_int_equal(etude_store_get(f->st, a, &e), 0);
        assert_string_equal(e.updated_at, stamped);
        etude_entity_clear(&e);
    }
}

/* The first offset learned moves the stamps of queued changes only when the measurement tells it
 * from zero. A first answer that took 2.3 s (offset 1148 +- 1150 ms: this clock may well be right)
 * leaves them; one of 5000 +- 100 ms moves them by 5 s. The first part fails on ccc2a8b, which
 * moved a never-synced entity's createdAt by 1.148 s (seen as scenario 5 failing on a loaded
 * machine). */
static void test_clock_first_uncertain(void **state)
{
    fx_t *f = *state;
    char a[37];
    assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\":\"offline\"}", a), 0);
    etude_entity_t e;
    assert_int_equal(etude_store_get(f->st, a, &e), 0);
    char created[40], updated[40];
    snprintf(created, sizeof created, "%s", e.created_at);
    snprintf(updated, sizeof updated, "%s", e.updated_at);
    etude_entity_clear(&e);
    assert_int_equal(etude_store_clock_sample(f->st, 1148, 1150), 0);
    int64_t off = 0;
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == 1148);
    assert_int_equal(etude_store_get(f->st, a, &e), 0);
    assert_string_equal(e.created_at, created);
    assert_string_equal(e.updated_at, updated);
    etude_entity_clear(&e);
    /* a precise measurement later replaces the offset but does not restamp (only the first does) */
    assert_int_equal(etude_store_clock_sample(f->st, 3, 2), 0);
    assert_int_equal(etude_store_get(f->st, a, &e), 0);
    assert_string_equal(e.created_at, created);
    etude_entity_clear(&e);

    /* a second store whose first measurement is certain: moved by it */
    char path2[600];
    snprintf(path2, sizeof path2, "%s.second", f->path);
    etude_store_t *s2;
    assert_int_equal(etude_store_open(path2, &s2), 0);
    char b[37];
    assert_int_equal(etude_store_create(s2, "logbookEntry", NULL, "{\"text\":\"offline\"}", b), 0);
    assert_int_equal(etude_store_get(s2, b, &e), 0);
    int64_t before = 0, after = 0;
    assert_int_equal(etude_time_parse_ms(e.created_at, &before), 0);
    etude_entity_clear(&e);
    assert_int_equal(etude_store_clock_sample(s2, 5000, 100), 0);
    assert_int_equal(etude_store_get(s2, b, &e), 0);
    assert_int_equal(etude_time_parse_ms(e.created_at, &after), 0);
    etude_entity_clear(&e);
    assert_true(after - before == 5000);
    etude_store_close(s2);
    remove(path2);
}

/* Clocks: the store stamps corrected time. Changes stamped before any offset was known move with the
 * first learned offset; a stored updatedAt far ahead (year 9999) is not followed by an edit, and
 * queued times ahead of corrected now are brought down. The 9999 part fails on fd82c7f: the edit
 * wrote updatedAt 10000-01-01T00:00:00.000Z (strictly later than 9999), which no export imports;
 * the offset functions are new. */
static void test_clock(void **state)
{
    fx_t *f = *state;
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", "21600000", 1); /* this machine's clock: 6 h ahead */
    assert_int_equal(etude_store_clock_offset(f->st, NULL), 0);
    char a[37], b[37];
    assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\":\"before\"}", a), 0);
    etude_entity_t e;
    assert_int_equal(etude_store_get(f->st, a, &e), 0);
    int64_t real_ms = etude_store_now_ms(f->st) - 21600000, t = 0;
    assert_int_equal(etude_time_parse_ms(e.updated_at, &t), 0);
    assert_true(t > real_ms + 21500000); /* stamped by the wrong clock */
    etude_entity_clear(&e);
    /* The server says: you are 6 h ahead. The queued change moves with the offset. */
    assert_int_equal(etude_store_set_clock_offset(f->st, -21600000), 0);
    int64_t off = 0;
    assert_int_equal(etude_store_clock_offset(f->st, &off), 1);
    assert_true(off == -21600000);
    assert_int_equal(etude_store_get(f->st, a, &e), 0);
    assert_int_equal(etude_time_parse_ms(e.updated_at, &t), 0);
    assert_true(llabs(t - real_ms) < 10000);
    assert_int_equal(etude_time_parse_ms(e.created_at, &t), 0);
    assert_true(llabs(t - real_ms) < 10000);
    etude_entity_clear(&e);
    /* Later changes are stamped corrected, and a new handle keeps the offset. */
    etude_store_close(f->st);
    assert_int_equal(etude_store_open(f->path, &f->st), 0);
    assert_int_equal(etude_store_create(f->st, "logbookEntry", NULL, "{\"text\":\"after\"}", b), 0);
    assert_int_equal(etude_store_get(f->st, b, &e), 0);
    assert_int_equal(etude_time_parse_ms(e.created_at, &t), 0);
    assert_true(llabs(t - real_ms) < 10000);
    etude_entity_clear(&e);
    unsetenv("ETUDE_TEST_CLOCK_SKEW_MS");
    assert_int_equal(etude_store_set_clock_offset(f->st, 0), 0);

    /* A stored updatedAt in year 9999 (an import, a broken clock) does not hold later edits. */
    const char *id = "15151515-1515-4515-8515-151515151515";
    const char *data = "{\"text\":\"far\"}";
    char sum[65], line[1024];
    etude_canon_sha256_hex(data, strlen(data), sum);
    snprintf(line, sizeof line,
             "{\"etudeExport\":1,\"schemaVersion\":1}\n{\"id\":\"%s\",\"entityType\":\"logbookEntry\",\"createdAt\":"
             "\"9999-12-31T23:59:58.000Z\",\"updatedAt\":\"9999-12-31T23:59:59.000Z\",\"deletedAt\":null,\"syncStatus\":"
             "\"pending\",\"syncVersion\":0,\"checksum\":\"%s\",\"data\":%s}\n",
             id, sum, data);
    FILE *in = fmemopen(line, strlen(line), "r");
    assert_int_equal(etude_store_import(f->st, in, "far.ndjson", NULL), 0);
    fclose(in);
    assert_int_equal(etude_store_update(f->st, id, "{\"text\":\"edited\"}"), 0);
    assert_int_equal(etude_store_get(f->st, id, &e), 0);
    assert_true(strcmp(e.updated_at, "2100") < 0);
    assert_true(strcmp(e.created_at, e.updated_at) <= 0);
    etude_entity_clear(&e);
    /* ... and queued times ahead of now come down to the time they were queued. */
    assert_int_equal(etude_store_create(f->st, "goal", NULL, "{\"target\":3}", b), 0);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE entities SET created_at='9999-01-01T00:00:00.000Z', updated_at="
                              "'9999-01-02T00:00:00.000Z' WHERE id='%s'", b);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(etude_store_clamp_queued_times(f->st), 0);
    assert_int_equal(etude_store_get(f->st, b, &e), 0);
    assert_true(strcmp(e.updated_at, "2100") < 0);
    assert_true(strcmp(e.created_at, e.updated_at) <= 0);
    etude_entity_clear(&e);
    /* export -> import into an empty store works again */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(etude_store_export(f->st, out, ETUDE_EXPORT_NDJSON), 0);
    fclose(out);
    char p2[160];
    snprintf(p2, sizeof p2, "%s/two.db", f->dir);
    etude_store_t *two;
    assert_int_equal(etude_store_open(p2, &two), 0);
    in = fmemopen(buf, len, "r");
    int rc = etude_store_import(two, in, "export.ndjson", NULL);
    if (rc)
        fail_msg("%s", etude_store_errmsg(two));
    fclose(in);
    free(buf);
    etude_store_close(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_time),
        cmocka_unit_test_setup_teardown(test_open_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crud_outbox_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_newer_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_first_uncertain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_step_clamp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
