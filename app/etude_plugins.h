/* etude_plugins.h - the plugin host: finds plugins on the plugin path, loads them with dlopen,
 * checks their ABI version and size before use, and fans session records out to them.
 *
 * Plugin path, searched in this order: the --plugin-path flag (directories or .so files, separated
 * by ':'), the "path" list of the "plugins" object in $ETUDE_HOME/config.json, then the default
 * next to the binary: <bindir>/../lib/etude/plugins in an install, <bindir>/../plugins in a build
 * tree. From directories, the plugins whose id is enabled are loaded (config "enable", default
 * ["etude.sync/1"]); a .so named directly on --plugin-path is always loaded. Each plugin gets its
 * object from config "config" (by id) as create()'s config_json.
 *
 * Threads: every function is [control]; plugins are only ever called from this thread.
 */
#ifndef ETUDE_PLUGINS_H
#define ETUDE_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

#include "etude_app.h"
#include "etude_bus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_plugins etude_plugins_t;

/* @startlifecycle plugins
 * Load the plugins. plugin_path may be NULL. bus may be NULL (plugins then cannot publish).
 * Returns 0 and *out; or -1 with a one-line message in err naming the file at fault (a plugin
 * named on --plugin-path that is refused, a malformed config file). A refused plugin found by
 * scanning a directory, a record a plugin refuses and the plugins' own log lines go to log (may be
 * NULL; a plugin may log from its worker thread, so the sink must be [any]). */
int etude_plugins_load(const char *plugin_path, etude_bus_t *bus, const etude_app_log_t *log, etude_plugins_t **out,
                       char *err, size_t errsize);
/* Destroy every instance and dlclose. NULL accepted. */
void etude_plugins_unload(etude_plugins_t *p);
/* @endlifecycle */

/* Check one .so file: load it, verify the entry symbol, version, size and callbacks, unload it.
 * Returns 0 (id copied into id, may be NULL), or -1 with the refusal in err. */
int etude_plugins_check_file(const char *path, char *id, size_t idsize, char *err, size_t errsize);

size_t etude_plugins_count(const etude_plugins_t *p);
/* The id of plugin i ("etude.sync/1"); valid until unload. */
const char *etude_plugins_id(const etude_plugins_t *p, size_t i);
/* The data directory plugins were given. */
const char *etude_plugins_home(const etude_plugins_t *p);

/* Hand a record to every plugin (on_record). Returns the number of plugins that refused it. */
int etude_plugins_record(etude_plugins_t *p, const char *record_json);
/* flush(deadline_us, CLOCK_MONOTONIC) on every plugin; 0 when all are done, else the first
 * non-zero answer. */
int etude_plugins_flush(etude_plugins_t *p, int64_t deadline_us);

/* CLOCK_MONOTONIC now, in microseconds. */
int64_t etude_plugins_now_us(void);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PLUGINS_H */
