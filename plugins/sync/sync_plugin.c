/* sync_plugin.c - etude.sync/1, the default plugin: writes session records into the local store
 * on its own worker thread. The sync orchestrator (sync/etude_syncclient.h) runs beside it and
 * syncs with etude-syncd once logged in (`etude sync login`); without a login it stores and queues. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_plugin.h"
#include "etude_store.h"
#include "etude_syncclient.h"
#include "plugin_worker.h"

typedef struct sync_plugin {
    etude_plugin_host_t host;
    etude_store_t *store; /* owned by the worker thread once started */
    plugin_worker_t *worker;
    etude_sync_orchestrator_t *orch; /* NULL when sync is off (config "sync": false, or a custom "db") */
} sync_plugin_t;

static void say(sync_plugin_t *p, int level, const char *msg)
{
    if (p->host.log)
        p->host.log(p->host.ctx, level, "etude.sync/1", msg);
}

static int handle(void *user, const char *record)
{
    sync_plugin_t *p = user;
    etude_store_put_stats_t st;
    int rc = etude_store_put_session(p->store, record, &st);
    if (rc) {
        char msg[700];
        snprintf(msg, sizeof msg, "cannot store a session: %s", etude_store_errmsg(p->store));
        say(p, ETUDE_PLUGIN_LOG_ERROR, msg);
        return ETUDE_PLUGIN_EIO;
    }
    /* The session ended: the engine is no longer playing, and its session syncs now. */
    etude_sync_orchestrator_set_playing(p->orch, 0);
    etude_sync_orchestrator_notify(p->orch, ETUDE_SYNC_REASON_SESSION_END);
    return 0;
}

static void publish_sync(void *ctx, const char *topic, const char *name, const char *json)
{
    sync_plugin_t *p = ctx;
    if (p->host.publish)
        p->host.publish(p->host.ctx, topic, name, json);
}

static int sp_create(const char *config_json, const etude_plugin_host_t *host, void **instance)
{
    sync_plugin_t *p = calloc(1, sizeof *p);
    if (!p)
        return ETUDE_PLUGIN_ENOMEM;
    memcpy(&p->host, host, host->size < sizeof p->host ? host->size : sizeof p->host);
    char path[4096];
    snprintf(path, sizeof path, "%s/etude.db", host->etude_home);
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *db = cJSON_GetObjectItemCaseSensitive(cfg, "db");
    if (cJSON_IsString(db) && db->valuestring[0])
        snprintf(path, sizeof path, "%s", db->valuestring);
    const cJSON *sync_on = cJSON_GetObjectItemCaseSensitive(cfg, "sync");
    int want_sync = !cJSON_IsFalse(sync_on) && !(cJSON_IsString(db) && db->valuestring[0]);
    cJSON_Delete(cfg);
    int rc = etude_store_open(path, &p->store);
    if (rc) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s", p->store ? etude_store_errmsg(p->store) : etude_store_strerror(rc));
        say(p, ETUDE_PLUGIN_LOG_ERROR, msg);
        etude_store_close(p->store);
        free(p);
        return rc == ETUDE_STORE_ENOMEM ? ETUDE_PLUGIN_ENOMEM : ETUDE_PLUGIN_EIO;
    }
    if (want_sync) {
        int src = etude_sync_orchestrator_start(host->etude_home, publish_sync, p, &p->orch);
        if (src) {
            char msg[200];
            snprintf(msg, sizeof msg, "sync is off for this run (%s); sessions are stored and queued",
                     etude_sync_strerror(src));
            say(p, ETUDE_PLUGIN_LOG_WARN, msg);
            p->orch = NULL;
        } else {
            etude_sync_orchestrator_set_playing(p->orch, 1); /* created as playback starts */
        }
    }
    p->worker = plugin_worker_start(handle, p, 256);
    if (!p->worker) {
        etude_sync_orchestrator_stop(p->orch);
        etude_store_close(p->store);
        free(p);
        return ETUDE_PLUGIN_ENOMEM;
    }
    *instance = p;
    return 0;
}

static int sp_on_record(void *instance, const char *record_json)
{
    sync_plugin_t *p = instance;
    return plugin_worker_push(p->worker, record_json);
}

static int sp_flush(void *instance, int64_t deadline_us)
{
    sync_plugin_t *p = instance;
    return plugin_worker_flush(p->worker, deadline_us);
}

static void sp_destroy(void *instance)
{
    sync_plugin_t *p = instance;
    if (!p)
        return;
    plugin_worker_stop(p->worker);
    /* A session's sync gets a few seconds to finish; what does not stays queued. */
    etude_sync_orchestrator_drain(p->orch, etude_sync_now_us() + 5000000);
    etude_sync_orchestrator_stop(p->orch);
    etude_store_close(p->store);
    free(p);
}

ETUDE_PLUGIN_EXPORT const etude_plugin_entry_t etude_plugin_entry = {
    .abi_version = ETUDE_PLUGIN_ABI_VERSION,
    .size = sizeof(etude_plugin_entry_t),
    .id = "etude.sync/1",
    .description = "stores practice sessions in the local store (SQLite) and queues them for sync",
    .create = sp_create,
    .on_record = sp_on_record,
    .flush = sp_flush,
    .destroy = sp_destroy,
};
