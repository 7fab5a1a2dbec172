/* syncd_http.h - etude-syncd's HTTP front end on libmicrohttpd: routes, limits, gzip, SSE, shutdown. */
#ifndef ETUDE_SYNCD_HTTP_H
#define ETUDE_SYNCD_HTTP_H

#include "syncd.h"

typedef struct etude_syncd_http etude_syncd_http_t;

typedef struct etude_syncd_http_config {
    const char *listen;   /* "ADDR:PORT" (IPv4, or [IPv6]:PORT); port 0 picks a free one */
    char *tls_cert;       /* PEM text or NULL (owned by the caller) */
    char *tls_key;        /* PEM text or NULL */
    int keepalive_ms;     /* SSE keep-alive comment interval */
    unsigned threads;          /* worker threads, each an epoll loop over its connections */
    unsigned max_connections;  /* all open connections */
    unsigned max_per_ip;       /* open connections from one address (0: no limit) */
    unsigned idle_timeout;     /* seconds without a byte before a connection is closed */
    unsigned header_timeout;   /* seconds from connect (or the previous answer) to complete headers */
    unsigned body_timeout;     /* seconds from complete headers to the complete body */
    int max_streams_per_user;  /* open /events streams of one user (0: no limit) */
} etude_syncd_http_config_t;

/* [any] Fill *hc with the documented defaults (docs/server.md); listen is 127.0.0.1:8470. */
void etude_syncd_http_config_defaults(etude_syncd_http_config_t *hc);

/* [control] Start serving. On failure writes a one-line reason naming the flag at fault. */
int etude_syncd_http_start(const etude_syncd_http_config_t *hc, const etude_syncd_config_t *cfg,
                           etude_syncd_t *core, etude_syncd_store_t *st, etude_syncd_metrics_t *m,
                           etude_syncd_hub_t *hub, etude_syncd_http_t **out, char *err, size_t len);
/* [control] The bound "ADDR:PORT" text. */
const char *etude_syncd_http_address(const etude_syncd_http_t *h);
/* [control] Graceful stop: stop accepting, end event streams, wait up to timeout_s for in-flight
 * requests, then stop the daemon. Returns the number of requests still running at the deadline. */
int etude_syncd_http_stop(etude_syncd_http_t *h, int timeout_s);

#endif
