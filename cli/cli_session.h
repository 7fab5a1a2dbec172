/* cli_session.h - the session recorder: builds practice sessions from the event bus (transport,
 * voice, xrun, session topics; docs/bus-topics.md), checkpoints the session in progress to a
 * journal under $ETUDE_HOME, and hands each finished session to the loaded plugins.
 *
 * Use from a playing command (render, play):
 *     cli_session_opts_t so;
 *     if (cli_session_take_args(&argc, argv, &so)) return 2;   // strips --plugin-path, --no-session
 *     ... create the bus ...
 *     cli_session_t *rec = cli_session_open(bus, "render", &so); // NULL: error printed, exit 1
 *     ... publish transport messages; call cli_session_tick(rec) now and then (live loop) ...
 *     cli_session_close(rec);                                    // before destroying the bus
 *
 * Journal: $ETUDE_HOME/journal/<session id>.json, rewritten atomically (temp file, fsync, rename)
 * when a session starts, at least every 10 seconds of playing time (bar messages, and tick() by
 * wall clock), and when it ends. A journal is removed once every plugin has flushed the finished
 * record. cli_session_open() first recovers journals left by dead processes: a session that was
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
#ifndef CLI_SESSION_H
#define CLI_SESSION_H

#include "etude_bus.h"

typedef struct cli_session_opts {
    const char *plugin_path; /* --plugin-path DIR|FILE[:...]; NULL: config and default only */
    int disabled;            /* --no-session: record nothing, load no plugin */
} cli_session_opts_t;

typedef struct cli_session cli_session_t;

/* [control] Remove the recorder's flags from argv (--plugin-path P, --plugin-path=P, --no-session),
 * fill opts. Returns 0, or -1 after printing a one-line error (a flag without its value). */
int cli_session_take_args(int *argc, char **argv, cli_session_opts_t *opts);

/* @startlifecycle session
 * [control] Load the plugins, recover interrupted sessions, subscribe to the bus. command names
 * the playing command ("render", "play"). Returns NULL after printing a one-line error (a refused
 * plugin named on --plugin-path, a data directory that cannot be created, out of memory).
 * With opts->disabled it returns a recorder that records nothing. */
cli_session_t *cli_session_open(etude_bus_t *bus, const char *command, const cli_session_opts_t *opts);

/* [control] End the session in progress (endReason "exit"), flush the plugins (up to 5 s),
 * unsubscribe, unload. Call before the bus is destroyed. NULL accepted. */
void cli_session_close(cli_session_t *s);
/* @endlifecycle */

/* [control] Periodic work for a live loop: wall-clock checkpoint, idle timeout, removal of
 * journals whose records the plugins have stored. Never blocks on the plugins. */
void cli_session_tick(cli_session_t *s);

/* [any] The id of the session in progress, or of the last one ("" if none yet); for messages. */
const char *cli_session_id(cli_session_t *s);

#endif /* CLI_SESSION_H */
