/* etude_plugins.c - the plugin host: plugin path, dlopen, ABI checks, record fan-out. */
#include "etude_plugins.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "etude_app.h"
#include "etude_plugin.h"
#include "etude_store.h"

typedef struct loaded {
    void *dl;
    const etude_plugin_entry_t *entry;
    void *instance;
    char path[PATH_MAX];
} loaded_t;

struct etude_plugins {
    loaded_t *v;
    size_t n, cap;
    etude_bus_t *bus;
    char home[PATH_MAX];
    etude_plugin_host_t host;
    etude_app_log_t log;
};

int64_t etude_plugins_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void host_log(void *ctx, int level, const char *plugin_id, const char *message)
{
    etude_plugins_t *p = ctx;
    etude_app_logf(&p->log, "plugin %s: %s%s", plugin_id ? plugin_id : "?",
            level == ETUDE_PLUGIN_LOG_ERROR ? "" : level == ETUDE_PLUGIN_LOG_WARN ? "warning: " : "", message);
}

static void host_publish(void *ctx, const char *topic, const char *name, const char *json)
{
    etude_plugins_t *p = ctx;
    if (p->bus)
        etude_bus_publish(p->bus, topic, name, json);
}

/* dlopen and check; on success *dl and *entry. */
static int open_checked(const char *path, void **dl, const etude_plugin_entry_t **entry, char *err, size_t errsize)
{
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        const char *e = dlerror();
        snprintf(err, errsize, "plugin %s: cannot load: %s", path, e ? e : "unknown error");
        return -1;
    }
    const etude_plugin_entry_t *en = dlsym(*dl, ETUDE_PLUGIN_ENTRY_SYMBOL);
    const char *why = NULL;
    char buf[256];
    if (!en) {
        why = "no '" ETUDE_PLUGIN_ENTRY_SYMBOL "' symbol: not an etude plugin";
    } else if (en->abi_version != ETUDE_PLUGIN_ABI_VERSION) {
        snprintf(buf, sizeof buf, "plugin ABI version %u, but this etude speaks version %u: rebuild the plugin",
                 en->abi_version, ETUDE_PLUGIN_ABI_VERSION);
        why = buf;
    } else if (en->size < sizeof(etude_plugin_entry_t)) {
        snprintf(buf, sizeof buf, "entry struct is %u bytes, smaller than the %zu bytes of ABI version %u",
                 en->size, sizeof(etude_plugin_entry_t), ETUDE_PLUGIN_ABI_VERSION);
        why = buf;
    } else if (!en->id || !en->id[0]) {
        why = "entry has no id";
    } else if (!en->create || !en->on_record || !en->flush || !en->destroy) {
        snprintf(buf, sizeof buf, "entry of '%.64s' lacks a callback (create, on_record, flush and destroy are required)",
                 en->id);
        why = buf;
    }
    if (why) {
        snprintf(err, errsize, "plugin %s: refused: %s", path, why);
        dlclose(*dl);
        *dl = NULL;
        return -1;
    }
    *entry = en;
    return 0;
}

int etude_plugins_check_file(const char *path, char *id, size_t idsize, char *err, size_t errsize)
{
    void *dl;
    const etude_plugin_entry_t *en;
    if (open_checked(path, &dl, &en, err, errsize))
        return -1;
    if (id)
        snprintf(id, idsize, "%s", en->id);
    dlclose(dl);
    return 0;
}

static int has_id(const etude_plugins_t *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].entry->id, id))
            return 1;
    return 0;
}

static int enabled(const cJSON *enable, const char *id)
{
    if (!enable)
        return !strcmp(id, "etude.sync/1");
    const cJSON *e;
    cJSON_ArrayForEach(e, enable)
    if (cJSON_IsString(e) && !strcmp(e->valuestring, id))
        return 1;
    return 0;
}

/* Create an instance of a checked plugin and keep it; on failure dlclose and return -1. */
static int adopt(etude_plugins_t *p, void *dl, const etude_plugin_entry_t *en, const char *path, const cJSON *configs,
                 char *err, size_t errsize)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        loaded_t *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            dlclose(dl);
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        p->v = v;
        p->cap = cap;
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(configs, en->id);
    char *cfg_text = cJSON_IsObject(cfg) ? cJSON_PrintUnformatted(cfg) : NULL;
    void *inst = NULL;
    int rc = en->create(cfg_text ? cfg_text : "{}", &p->host, &inst);
    cJSON_free(cfg_text);
    if (rc) {
        snprintf(err, errsize, "plugin %s (%s): create failed (%d)", path, en->id, rc);
        dlclose(dl);
        return -1;
    }
    loaded_t *l = &p->v[p->n++];
    l->dl = dl;
    l->entry = en;
    l->instance = inst;
    snprintf(l->path, sizeof l->path, "%s", path);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(etude_plugins_t *p, const char *dir, const cJSON *enable, const cJSON *configs)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t len = strlen(de->d_name);
        if (len > 3 && !strcmp(de->d_name + len - 3, ".so"))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[1024];
        void *dl;
        const etude_plugin_entry_t *en;
        if (!names[i])
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        if (open_checked(path, &dl, &en, err, sizeof err)) {
            etude_app_logf(&p->log, "warning: %s", err);
            continue;
        }
        if (!enabled(enable, en->id) || has_id(p, en->id)) {
            dlclose(dl);
            continue;
        }
        if (adopt(p, dl, en, path, configs, err, sizeof err))
            etude_app_logf(&p->log, "warning: %s", err);
    }
}

/* Visit each ':'-separated entry of list: a .so is loaded (errors are fatal), a directory scanned. */
static int walk_list(etude_plugins_t *p, const char *list, const char *origin, const cJSON *enable, const cJSON *configs,
                     char *err, size_t errsize)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        struct stat st;
        if (stat(tok, &st)) {
            snprintf(err, errsize, "%s: plugin path entry '%s': %s", origin, tok, strerror(errno));
            free(copy);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            scan_dir(p, tok, enable, configs);
            continue;
        }
        void *dl;
        const etude_plugin_entry_t *en;
        if (open_checked(tok, &dl, &en, err, errsize)) {
            free(copy);
            return -1;
        }
        if (has_id(p, en->id)) {
            dlclose(dl);
            continue;
        }
        if (adopt(p, dl, en, tok, configs, err, errsize)) {
            free(copy);
            return -1;
        }
    }
    free(copy);
    return 0;
}

int etude_plugins_load(const char *plugin_path, etude_bus_t *bus, const etude_app_log_t *log, etude_plugins_t **out,
                       char *err, size_t errsize)
{
    *out = NULL;
    etude_plugins_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    p->bus = bus;
    if (log)
        p->log = *log;
    if (etude_store_home(p->home, sizeof p->home, 1, err, errsize)) {
        free(p);
        return -1;
    }
    p->host.abi_version = ETUDE_PLUGIN_ABI_VERSION;
    p->host.size = sizeof p->host;
    p->host.etude_home = p->home;
    p->host.ctx = p;
    p->host.log = host_log;
    p->host.publish = host_publish;

    /* $ETUDE_HOME/config.json: {"plugins": {"path": [...], "enable": [...], "config": {id: {...}}}} */
    char cfgpath[PATH_MAX + 16];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", p->home);
    cJSON *cfg = NULL;
    FILE *f = fopen(cfgpath, "r");
    if (f) {
        char *text = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&text, &cap, 0, f);
        fclose(f);
        cfg = n >= 0 ? cJSON_Parse(text) : NULL;
        free(text);
        if (!cJSON_IsObject(cfg)) {
            snprintf(err, errsize, "%s: not a JSON object", cfgpath);
            cJSON_Delete(cfg);
            free(p);
            return -1;
        }
    }
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(cfg, "plugins");
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(pl, "path");
    const cJSON *enable = cJSON_GetObjectItemCaseSensitive(pl, "enable");
    const cJSON *configs = cJSON_GetObjectItemCaseSensitive(pl, "config");
    const char *bad = NULL;
    if (pl && !cJSON_IsObject(pl))
        bad = "plugins: expected an object";
    else if (paths && !cJSON_IsArray(paths))
        bad = "plugins.path: expected an array of directories or .so files";
    else if (enable && !cJSON_IsArray(enable))
        bad = "plugins.enable: expected an array of plugin ids";
    else if (configs && !cJSON_IsObject(configs))
        bad = "plugins.config: expected an object keyed by plugin id";
    if (bad) {
        snprintf(err, errsize, "%s: field %s", cfgpath, bad);
        cJSON_Delete(cfg);
        free(p);
        return -1;
    }
    int rc = 0;
    if (plugin_path && *plugin_path)
        rc = walk_list(p, plugin_path, "--plugin-path", enable, configs, err, errsize);
    const cJSON *e;
    cJSON_ArrayForEach(e, paths)
    {
        if (rc)
            break;
        if (!cJSON_IsString(e)) {
            snprintf(err, errsize, "%s: field plugins.path: expected strings", cfgpath);
            rc = -1;
            break;
        }
        rc = walk_list(p, e->valuestring, cfgpath, enable, configs, err, errsize);
    }
    if (!rc) {
        char exe[PATH_MAX], dir[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = 0;
            snprintf(dir, sizeof dir, "%s/../lib/etude/plugins", exe);
            struct stat st;
            if (!stat(dir, &st) && S_ISDIR(st.st_mode))
                scan_dir(p, dir, enable, configs);
            snprintf(dir, sizeof dir, "%s/../plugins", exe);
            if (!stat(dir, &st) && S_ISDIR(st.st_mode))
                scan_dir(p, dir, enable, configs);
        }
    }
    cJSON_Delete(cfg);
    if (rc) {
        etude_plugins_unload(p);
        return -1;
    }
    *out = p;
    return 0;
}

void etude_plugins_unload(etude_plugins_t *p)
{
    if (!p)
        return;
    for (size_t i = p->n; i-- > 0;) {
        p->v[i].entry->destroy(p->v[i].instance);
        dlclose(p->v[i].dl);
    }
    free(p->v);
    free(p);
}

size_t etude_plugins_count(const etude_plugins_t *p)
{
    return p ? p->n : 0;
}

const char *etude_plugins_id(const etude_plugins_t *p, size_t i)
{
    return i < p->n ? p->v[i].entry->id : NULL;
}

const char *etude_plugins_home(const etude_plugins_t *p)
{
    return p->home;
}

int etude_plugins_record(etude_plugins_t *p, const char *record_json)
{
    int refused = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        int rc = p->v[i].entry->on_record(p->v[i].instance, record_json);
        if (rc) {
            etude_app_logf(&p->log, "plugin %s refused a session record (%d)", p->v[i].entry->id, rc);
            refused++;
        }
    }
    return refused;
}

int etude_plugins_flush(etude_plugins_t *p, int64_t deadline_us)
{
    int first = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        int rc = p->v[i].entry->flush(p->v[i].instance, deadline_us);
        if (rc && !first)
            first = rc;
    }
    return first;
}
