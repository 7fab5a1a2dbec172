/* etude_bus.h - the event bus: non-real-time notifications by topic, with a bounded history.
 *
 * Topics are short strings: "transport", "voice", "session", "sync", "xrun", "error", "debug",
 * "meter", "position", ... The history keeps the newest 1000 messages in all, and per topic at most
 * its limit (debug 100, meter 50, position 50, error 500, others 1000): when a topic is at its
 * limit its oldest message goes first. Memory stays bounded however long the bus lives.
 *
 * Threads: every function is [control] and the bus is thread-safe (an internal mutex), so plugin
 * workers may publish too. Never call it from the audio thread: the engine carries audio-side
 * notifications over a ring and publishes them from etude_engine_tick().
 * Callbacks run on the publishing thread, after the bus lock is released.
 */
#ifndef ETUDE_BUS_H
#define ETUDE_BUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_bus etude_bus_t;

typedef struct etude_bus_msg {
    uint64_t seq;       /* monotonic, from 1 */
    int64_t time_us;    /* CLOCK_REALTIME microseconds at publication */
    const char *topic;  /* valid for the callback's duration / until the message leaves history */
    const char *name;   /* e.g. "xrun", "voice:disposed", "sync:completed" */
    const char *json;   /* payload as a JSON object text, "{}" if none */
} etude_bus_msg_t;

/* Called for each message on a subscribed topic. Must not unsubscribe itself from inside. */
typedef void (*etude_bus_fn)(void *user, const etude_bus_msg_t *msg);

#define ETUDE_BUS_HISTORY 1000

/* @startlifecycle bus
 * Returns NULL only when out of memory. */
etude_bus_t *etude_bus_create(void);
/* Frees all history and subscriptions. NULL accepted. */
void etude_bus_destroy(etude_bus_t *bus);
/* @endlifecycle */

/* Publish a message (topic, name, json are copied; json NULL means "{}"). Returns its seq, or 0
 * when out of memory (the message is then counted in etude_bus_dropped()). */
uint64_t etude_bus_publish(etude_bus_t *bus, const char *topic, const char *name, const char *json);

/* Subscribe fn to a topic ("*" for all). owner groups subscriptions for
 * etude_bus_unsubscribe_owner(). Returns a handle > 0, or 0 when out of memory. */
uint64_t etude_bus_subscribe(etude_bus_t *bus, const char *topic, etude_bus_fn fn, void *user,
                             const void *owner);
/* Returns 0, ETUDE_ENOTFOUND if the handle is unknown, ETUDE_EINVAL for a NULL bus or handle 0. */
int etude_bus_unsubscribe(etude_bus_t *bus, uint64_t handle);
/* Remove every subscription of owner; returns how many. */
size_t etude_bus_unsubscribe_owner(etude_bus_t *bus, const void *owner);

/* Copy up to max messages of a topic (NULL or "*" for all) from history, oldest first, into out;
 * the strings are copies the caller frees with etude_bus_msgs_free(). Returns the count. */
size_t etude_bus_history(etude_bus_t *bus, const char *topic, etude_bus_msg_t *out, size_t max);
void etude_bus_msgs_free(etude_bus_msg_t *msgs, size_t n);

/* Counts for tests and status: messages in history (per topic when topic is not NULL),
 * live subscriptions, messages that could not be stored. */
size_t etude_bus_count(etude_bus_t *bus, const char *topic);
size_t etude_bus_subscriptions(etude_bus_t *bus);
uint64_t etude_bus_dropped(etude_bus_t *bus);

/* Per-topic history limit; set before use to change a default. 0 < limit <= ETUDE_BUS_HISTORY. */
int etude_bus_set_limit(etude_bus_t *bus, const char *topic, size_t limit);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_BUS_H */
