/* cli_osc.h - the OSC control of `etude play`: a liblo UDP server polled on the control thread,
 * which checks every message against the address space of docs/osc.md and calls the player's API
 * (app/etude_player.h). A malformed, unknown or mistyped message gets an /etude/error reply, never a crash.
 *
 * Threads: [control]. The server has no thread of its own: etude_osc_poll() receives and handles
 * pending messages on the caller's thread, so the operations run on the control thread.
 */
#ifndef ETUDE_CLI_OSC_H
#define ETUDE_CLI_OSC_H

#include <stdbool.h>
#include <stddef.h>

#include "etude_player.h"

typedef struct etude_osc etude_osc_t;

/* @startlifecycle osc
 * [control] Listen on UDP port (a decimal string, "0" or NULL for any free port) and drive player
 * (borrowed: it must outlive the server). Returns 0, or ETUDE_EIO with err naming the port when it
 * cannot be bound. */
int etude_osc_create(const char *port, etude_player_t *player, etude_osc_t **out, char *err, size_t errlen);
/* [control] NULL accepted. */
void etude_osc_destroy(etude_osc_t *osc);
/* @endlifecycle */

/* [control] The UDP port actually bound. */
int etude_osc_port(const etude_osc_t *osc);

/* [control] Handle every pending message, waiting at most timeout_ms for the first one.
 * Returns the number handled. */
int etude_osc_poll(etude_osc_t *osc, int timeout_ms);

/* [control] Handle one datagram of n bytes (copied; at most 64 KiB) as if it had arrived, with no
 * sender to reply to (errors are counted). Returns the number of messages handled. For tests. */
int etude_osc_handle(etude_osc_t *osc, const void *data, size_t n);

/* [control] Counters for status and tests: messages handled, and error replies sent. */
unsigned long etude_osc_handled(const etude_osc_t *osc);
unsigned long etude_osc_errors(const etude_osc_t *osc);

#endif /* ETUDE_CLI_OSC_H */
