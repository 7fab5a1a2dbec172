/* etude_plugin.h - the plugin ABI: what a loadable etude plugin (.so) exports and what the host
 * gives it. Compiles as C and as C++.
 *
 * A plugin exports exactly one data symbol, ETUDE_PLUGIN_ENTRY_SYMBOL, an etude_plugin_entry_t
 * whose first two fields are the ABI version and the struct's own size. The host reads those two
 * before anything else and refuses the plugin with a clear message when the version differs from
 * ETUDE_PLUGIN_ABI_VERSION or the size is smaller than the struct it knows; a larger size (fields
 * appended by a later minor revision) is accepted.
 *
 * Threads. The host calls create, on_record, flush and destroy on its control thread only, one
 * call at a time per instance. on_record must not block: a plugin that does I/O queues the record
 * and does the work on its own worker thread. The host callbacks (etude_plugin_host_t) are [any].
 *
 * Memory. Allocation and freeing stay on the same side of the boundary: strings the host passes
 * are valid for the call only (copy what you keep); the instance is freed by destroy.
 */
#ifndef ETUDE_PLUGIN_H
#define ETUDE_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ETUDE_PLUGIN_ABI_VERSION 1u
#define ETUDE_PLUGIN_ENTRY_SYMBOL "etude_plugin_entry"

/* Return codes: the same values as ETUDE_ENOMEM, EINVAL, EFULL, EIO and ETIMEOUT of the project's one
 * error space (common/etude_error.h), written out so this ABI header stands alone for plugin authors. */
#define ETUDE_PLUGIN_OK 0
#define ETUDE_PLUGIN_ENOMEM (-1)
#define ETUDE_PLUGIN_EINVAL (-2)
#define ETUDE_PLUGIN_EFULL (-3)    /* on_record: the plugin's queue is full; the record was not taken */
#define ETUDE_PLUGIN_EIO (-8)
#define ETUDE_PLUGIN_ETIMEOUT (-23) /* flush: the deadline passed with work still queued */

enum etude_plugin_log_level { ETUDE_PLUGIN_LOG_ERROR = 0, ETUDE_PLUGIN_LOG_WARN = 1, ETUDE_PLUGIN_LOG_INFO = 2 };

/* What the host offers a plugin. Valid from create until destroy returns. */
typedef struct etude_plugin_host {
    uint32_t abi_version; /* ETUDE_PLUGIN_ABI_VERSION */
    uint32_t size;        /* sizeof(etude_plugin_host_t) as the host knows it */
    const char *etude_home; /* the data directory ($ETUDE_HOME), created */
    void *ctx;              /* pass back to the callbacks */
    /* [any] A one-line message for the user (stderr). */
    void (*log)(void *ctx, int level, const char *plugin_id, const char *message);
    /* [any] Publish on the engine's event bus (topic, name, JSON object text). May be NULL when
     * the host has no bus. */
    void (*publish)(void *ctx, const char *topic, const char *name, const char *json);
} etude_plugin_host_t;

typedef struct etude_plugin_entry {
    uint32_t abi_version; /* ETUDE_PLUGIN_ABI_VERSION */
    uint32_t size;        /* sizeof(etude_plugin_entry_t) */
    const char *id;       /* "vendor.name/major", e.g. "etude.sync/1" */
    const char *description;

    /* [control] Make an instance. config_json is the plugin's object from the host's config file
     * ("{}" when none). Return 0 and *instance, or a negative code (then *instance is ignored). */
    int (*create)(const char *config_json, const etude_plugin_host_t *host, void **instance);

    /* [control] One finished (or recovered, or checkpointed-and-interrupted) practice session:
     * {"id": UUID, "data": {...practiceSession...}, "logs": [{"id": UUID, "data": {...}}, ...]}.
     * The same record may arrive more than once (after a crash): ids make it idempotent.
     * Must not block. Returns 0 when the record is taken. */
    int (*on_record)(void *instance, const char *record_json);

    /* [control] Wait until every record taken so far is durably handled, or until deadline_us
     * (CLOCK_MONOTONIC microseconds) passes: then ETUDE_PLUGIN_ETIMEOUT. A deadline in the past
     * polls without waiting. Returns ETUDE_PLUGIN_EIO if a record could not be handled. */
    int (*flush)(void *instance, int64_t deadline_us);

    /* [control] Finish queued work (best effort) and free the instance. */
    void (*destroy)(void *instance);
} etude_plugin_entry_t;

#if defined(__GNUC__)
#define ETUDE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define ETUDE_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PLUGIN_H */
