/* etude_app.h - what the app library's modules (player, recorder, plugin host) share: the sink
 * for warnings that are not errors of the call at hand.
 *
 * Errors of a call come back as a negative ETUDE_E* code with a one-line message in the caller's
 * buffer. Warnings (a refused plugin found by scanning a directory, a journal that could not be
 * read) go to an etude_app_log_fn the front end supplies; the library never writes to stderr.
 */
#ifndef ETUDE_APP_H
#define ETUDE_APP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Receives one line (no trailing newline), valid only during the call. [control] unless a module
 * says otherwise. NULL as a sink drops the warnings. */
typedef void (*etude_app_log_fn)(void *user, const char *line);

typedef struct etude_app_log {
    etude_app_log_fn fn;
    void *user;
} etude_app_log_t;

/* [any] Send a printf-formatted line to log (nothing when log or log->fn is NULL). */
void etude_app_logf(const etude_app_log_t *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_APP_H */
