/* jsonl_plugin.c - etude.jsonl/1: appends every session record as one JSON line to a file
 * (config {"path": FILE}, default $ETUDE_HOME/sessions.jsonl), on its own worker thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "etude_plugin.h"
#include "plugin_worker.h"

typedef struct jsonl_plugin {
    etude_plugin_host_t host;
    char path[4096];
    int fd;
    plugin_worker_t *worker;
} jsonl_plugin_t;

static void say(jsonl_plugin_t *p, const char *what)
{
    char msg[4200];
    snprintf(msg, sizeof msg, "%s: %s: %s", p->path, what, strerror(errno));
    if (p->host.log)
        p->host.log(p->host.ctx, ETUDE_PLUGIN_LOG_ERROR, "etude.jsonl/1", msg);
}

static int handle(void *user, const char *record)
{
    jsonl_plugin_t *p = user;
    cJSON *r = cJSON_Parse(record);
    char *line = r ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    if (!line)
        return ETUDE_PLUGIN_EINVAL;
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL: one write() per line keeps appends whole */
    ssize_t w = write(p->fd, line, n + 1);
    free(line);
    if (w != (ssize_t)(n + 1)) {
        say(p, "cannot append");
        return ETUDE_PLUGIN_EIO;
    }
    if (fdatasync(p->fd)) {
        say(p, "cannot sync");
        return ETUDE_PLUGIN_EIO;
    }
    return 0;
}

static int jp_create(const char *config_json, const etude_plugin_host_t *host, void **instance)
{
    jsonl_plugin_t *p = calloc(1, sizeof *p);
    if (!p)
        return ETUDE_PLUGIN_ENOMEM;
    memcpy(&p->host, host, host->size < sizeof p->host ? host->size : sizeof p->host);
    snprintf(p->path, sizeof p->path, "%s/sessions.jsonl", host->etude_home);
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(cfg, "path");
    if (cJSON_IsString(path) && path->valuestring[0])
        snprintf(p->path, sizeof p->path, "%s", path->valuestring);
    cJSON_Delete(cfg);
    p->fd = open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        say(p, "cannot open");
        free(p);
        return ETUDE_PLUGIN_EIO;
    }
    p->worker = plugin_worker_start(handle, p, 256);
    if (!p->worker) {
        close(p->fd);
        free(p);
        return ETUDE_PLUGIN_ENOMEM;
    }
    *instance = p;
    return 0;
}

static int jp_on_record(void *instance, const char *record_json)
{
    return plugin_worker_push(((jsonl_plugin_t *)instance)->worker, record_json);
}

static int jp_flush(void *instance, int64_t deadline_us)
{
    return plugin_worker_flush(((jsonl_plugin_t *)instance)->worker, deadline_us);
}

static void jp_destroy(void *instance)
{
    jsonl_plugin_t *p = instance;
    if (!p)
        return;
    plugin_worker_stop(p->worker);
    close(p->fd);
    free(p);
}

ETUDE_PLUGIN_EXPORT const etude_plugin_entry_t etude_plugin_entry = {
    .abi_version = ETUDE_PLUGIN_ABI_VERSION,
    .size = sizeof(etude_plugin_entry_t),
    .id = "etude.jsonl/1",
    .description = "appends practice session records as JSON lines to a file",
    .create = jp_create,
    .on_record = jp_on_record,
    .flush = jp_flush,
    .destroy = jp_destroy,
};
