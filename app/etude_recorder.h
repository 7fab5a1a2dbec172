/* etude_recorder.h - the session recorder: builds practice sessions from the event bus (transport,
 * voice, xrun, session topics; docs/bus-topics.md), checkpoints the session in progress to a
 * journal under $ETUDE_HOME, and hands each finished session to the loaded plugins.
 *
 * Use from a front end that plays material (etude render, etude play, an OSC daemon):
 *     etude_recorder_opts_t so = {.plugin_path = NULL, .log = {print_line, NULL}};
 *     ... create the bus ...
 *     etude_recorder_t *rec;
 *     if (etude_recorder_open(bus, "render", &so, &rec, err, sizeof err) < 0) ... report err ...
 *     ... publish transport messages (the player does); call etude_recorder_tick(rec) now and then ...
 *     etude_recorder_close(rec);                                    // before destroying the bus
 *
 * Journal: $ETUDE_HOME/journal/<session id>.json, rewritten atomically (temp file, fsync, rename)
 * when a session starts, at least every 10 seconds of playing time (bar messages, and tick() by
 * wall clock), and when it ends. A journal is removed once every plugin has flushed the finished
 * record. etude_recorder_open() first recovers journals left by dead processes: a session that was
 * still playing is handed to the plugins marked interrupted (endedAt = its last checkpoint), one
 * that had ended is handed over again as it was (plugins are idempotent by id).
 *
 * Test hook: ETUDE_SESSION_TEST_PACE_US=N sleeps N microseconds in the recorder on every
 * transport bar, which paces a fast offline render so the crash test can kill it mid-session.
 * ETUDE_SESSION_IDLE_SECONDS (default 300) ends a session that saw no transport message for that
 * long (checked by tick()).
 *
 * Threads: open, tick and close are [control]; the bus callbacks take an internal lock, so the
 * topics may be published from other threads too (e.g. xrun from a JACK thread). Plugins are
 * called only from the thread that publishes transport messages, tick or close.
 */
#ifndef ETUDE_RECORDER_H
#define ETUDE_RECORDER_H

#include <stddef.h>

#include "etude_app.h"
#include "etude_bus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_recorder_opts {
    const char *plugin_path; /* directories or .so files, ':'-separated; NULL: config and default only */
    int disabled;            /* record nothing, load no plugin */
    etude_app_log_t log;     /* warnings (journal trouble, plugins' log lines); [any], may be {0} */
} etude_recorder_opts_t;

typedef struct etude_recorder etude_recorder_t;

/* @startlifecycle session
 * [control] Load the plugins, recover interrupted sessions, subscribe to the bus. command names
 * the playing command ("render", "play"); the start message's "command" overrides it. opts may be
 * NULL. Returns 0 and *out (freed by etude_recorder_close()); or a negative ETUDE_E* code with a
 * one-line message in err (a refused plugin named on plugin_path, a data directory that cannot be
 * created, out of memory). With opts->disabled *out is a recorder that records nothing. */
int etude_recorder_open(etude_bus_t *bus, const char *command, const etude_recorder_opts_t *opts,
                        etude_recorder_t **out, char *err, size_t errlen);

/* [control] End the session in progress (endReason "exit"), flush the plugins (up to 5 s),
 * unsubscribe, unload. Call before the bus is destroyed. NULL accepted. */
void etude_recorder_close(etude_recorder_t *s);
/* @endlifecycle */

/* [control] Forget the session in progress: no record, its journal removed (a render that wrote
 * nothing is no session). The next transport start begins a new one. NULL accepted. */
void etude_recorder_discard(etude_recorder_t *s);

/* [control] Periodic work for a live loop: wall-clock checkpoint, idle timeout, removal of
 * journals whose records the plugins have stored. Never blocks on the plugins. NULL accepted. */
void etude_recorder_tick(etude_recorder_t *s);

/* [any] The id of the session in progress, or of the last one ("" if none yet); valid until the
 * next session starts or the recorder is closed. */
const char *etude_recorder_id(etude_recorder_t *s);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_RECORDER_H */
