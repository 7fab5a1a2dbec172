/* syncclient_int.h - internal interface between the sync client's files (HTTP, store access,
 * orchestrator); not installed, not part of the public contract. Threads as etude_syncclient.h. */
#ifndef ETUDE_SYNCCLIENT_INT_H
#define ETUDE_SYNCCLIENT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <time.h>

#include "etude_syncclient.h"

typedef struct etude_sync_op {
    const char *name;
    const char *hash;
} etude_sync_op_t;

/* [any] SHA-256 (hex) of the shipped document name, NULL if unknown. */
const char *etude_sync_op_hash(const char *name);

/* [any] PRAGMA data_version of the client's connection: changes when another connection commits. */
int64_t etude_sync_data_version(etude_syncclient_t *c);
/* [any] Re-read sync-token.json (a login or logout by another process). */
int etude_sync_reload_token(etude_syncclient_t *c);

/* [any] Testing: fn(ctx) runs after each upload request returned (or, in
 * etude_syncclient_apply_answer, after the batch was built) and before its answer is applied, so a
 * test can edit the store while an upload is "in flight". NULL removes it. */
void etude_sync_set_after_send(etude_syncclient_t *c, void (*fn)(void *), void *ctx);

/* [any] The variables of the ReportSyncStatus request this device would send now (its deviceId,
 * host name, last sync, pending changes, open conflicts and newest dead letters, of the store's
 * active account), as JSON text the caller frees with free(); sig receives the SHA-256 of what
 * the report says apart from its time (and the server it goes to). NULL on a store failure or
 * when out of memory (etude_syncclient_errmsg() says which). */
char *etude_sync_status_report_json(etude_syncclient_t *c, char sig[65]);
/* [any] 1 when a report with signature sig is to be sent: it differs from the last one sent, or
 * that one is 5 minutes old or more (sync_meta status_report_sig, status_report_at_ms). */
int etude_sync_status_report_due(etude_syncclient_t *c, const char sig[65]);

/* [any] curl_global_init once per process. */
void etude_sync_http_global_init(void);

typedef struct etude_sync_http_req {
    const char *base_url; /* "http://127.0.0.1:1234", no trailing slash */
    const char *path;     /* "/graphql" */
    const char *body;     /* JSON text (gzipped on the wire from 1 KiB), NULL for GET */
    const char *token;    /* bearer token or NULL */
    const char *cacert;   /* PEM CA file or NULL */
    long timeout_s;
    size_t max_response;  /* 0: 256 MiB */
    const atomic_int *cancel; /* nonzero aborts the transfer */
} etude_sync_http_req_t;

typedef struct etude_sync_http_resp {
    long status;          /* HTTP status, 0 when no answer */
    long retry_after;     /* seconds from Retry-After, -1 when absent */
    char *body;           /* malloc'd, NUL-terminated, inflated */
    size_t len;
    int64_t bytes_sent, bytes_received;
    int tls;              /* the failure was a TLS/certificate one */
    char error[512];      /* transport failure text */
} etude_sync_http_resp_t;

/* [any] One request. 0 when an HTTP answer arrived (any status), ETUDE_SYNC_ENETWORK when not. */
int etude_sync_http_post(const etude_sync_http_req_t *rq, etude_sync_http_resp_t *rs);
void etude_sync_http_resp_clear(etude_sync_http_resp_t *rs);

/* [any] Follow /events until a "changes" event (1), the deadline or *stop (0), or an error. */
int etude_sync_http_events(const char *base_url, const char *token, const char *device_id,
                           const char *cacert, int64_t deadline_us, volatile int *stop,
                           const atomic_int *cancel, long *status);

#endif
