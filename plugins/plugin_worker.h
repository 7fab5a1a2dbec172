/* plugin_worker.h - a record queue drained by one worker thread, shared by the bundled plugins so
 * that on_record never blocks the host's control thread.
 *
 * Threads: push and flush are [control] (the plugin's host thread); the handler runs on the worker.
 */
#ifndef ETUDE_PLUGIN_WORKER_H
#define ETUDE_PLUGIN_WORKER_H

#include <stddef.h>
#include <stdint.h>

/* Handle one record on the worker; return 0, or a negative code (counted, reported by flush). */
typedef int (*plugin_worker_fn)(void *user, const char *record);

typedef struct plugin_worker plugin_worker_t;

/* Start a worker with room for capacity queued records. NULL when out of memory. */
plugin_worker_t *plugin_worker_start(plugin_worker_fn fn, void *user, size_t capacity);
/* [control] Queue a copy of record: 0, -1 out of memory, -3 queue full. Never waits for the worker
 * beyond a short critical section. */
int plugin_worker_push(plugin_worker_t *w, const char *record);
/* [control] Wait until the queue is drained or deadline_us (CLOCK_MONOTONIC) passes: 0, -23 on
 * timeout, -8 if a record failed since the last flush. */
int plugin_worker_flush(plugin_worker_t *w, int64_t deadline_us);
/* [control] Drain what is queued, stop the thread, free everything. NULL accepted. */
void plugin_worker_stop(plugin_worker_t *w);

#endif
