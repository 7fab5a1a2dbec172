/* fuzz_sync_response.c - libFuzzer target: arbitrary bytes as etude-syncd's answer to SyncChanges
 * or UploadBatch (first byte chooses), applied to a real store on disk with queued changes. Whatever
 * the answer, nothing crashes and the store stays consistent: integrity_check passes, every entity
 * has a UUID, a known type, JSON object data and the checksum of that data, and every outbox row
 * names an existing entity. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "etude_canon.h"
#include "etude_store.h"
#include "etude_syncclient.h"

static char home[256];
static etude_syncclient_t *client;
static sqlite3 *db;

static void seed(void)
{
    etude_store_t *st;
    char path[300];
    snprintf(path, sizeof path, "%s/etude.db", home);
    if (etude_store_open(path, &st))
        abort();
    /* Fixed ids, so corpus answers can name them. */
    etude_store_create(st, "practiceSession", "11111111-1111-4111-8111-111111111111", "{\"minutes\":20,\"title\":\"scales\"}", NULL);
    etude_store_create(st, "logbookEntry", "22222222-2222-4222-8222-222222222222",
                       "{\"sessionId\":\"11111111-1111-4111-8111-111111111111\",\"text\":\"slow\"}", NULL);
    etude_store_create(st, "goal", "33333333-3333-4333-8333-333333333333", "{\"minutes\":30}", NULL);
    etude_store_delete(st, "33333333-3333-4333-8333-333333333333");
    etude_store_close(st);
}

static void cleanup(void);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(home, sizeof home, "/tmp/etude-fuzz-sync-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", home, home);
    if (system(cmd))
        abort();
    seed();
    etude_sync_config_t cfg;
    etude_sync_config_defaults(&cfg);
    if (etude_syncclient_open(home, &cfg, &client))
        abort();
    char path[300];
    snprintf(path, sizeof path, "%s/etude.db", home);
    if (sqlite3_open(path, &db))
        abort();
    atexit(cleanup);
    return 0;
}

static void cleanup(void)
{
    etude_syncclient_close(client);
    sqlite3_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    if (system(cmd)) {
    }
}

static void check(void)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) || sqlite3_step(s) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(s, 0), "ok"))
        abort();
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(db, "SELECT id, entity_type, checksum, data FROM entities", -1, &s, NULL))
        abort();
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *type = (const char *)sqlite3_column_text(s, 1);
        const char *sum = (const char *)sqlite3_column_text(s, 2);
        const char *data = (const char *)sqlite3_column_text(s, 3);
        if (!etude_uuid_valid(id) || !etude_entity_type_valid(type) || data[0] != '{')
            abort();
        char *canon = NULL;
        if (etude_canon_json(data, &canon) || strcmp(canon, data))
            abort();
        char hex[65];
        etude_canon_sha256_hex(canon, strlen(canon), hex);
        free(canon);
        if (strcmp(hex, sum))
            abort();
    }
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE entity_id NOT IN (SELECT id FROM entities)", -1,
                           &s, NULL) ||
        sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0) != 0)
        abort();
    sqlite3_finalize(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *op = data[0] & 1 ? "UploadBatch" : "SyncChanges";
    etude_syncclient_apply_answer(client, op, (const char *)data + 1, size - 1);
    check();
    return 0;
}
