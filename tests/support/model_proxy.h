/* model_proxy.h - a fault-injecting HTTP/1.1 proxy on loopback for the model-based sync test
 * (tests/integration/sync_model.c), run as a child process and steered through shared memory.
 *
 * The driver pushes faults into a ring; the proxy takes one per request (none: pass). Every
 * request is answered with "Connection: close", so one connection carries one request and the
 * proxy can serve connections one at a time. Faults:
 *   refuse   the connection is reset before the request is read (nothing reaches the server)
 *   cutreq   the request is read, then the connection closes without an answer (server untouched)
 *   drop     the request reaches the server, which applies it; half of the answer is sent, then the
 *            connection is reset (the hard case: the client must replay, not duplicate)
 *   delay    the request waits arg ms before it is forwarded
 *   e500     a 500 answer, the server untouched
 *   e429     a 429 answer with "Retry-After: arg", the server untouched
 * When the server is down the proxy answers 502.
 *
 * Threads: the proxy process is single-threaded. The ring is single producer (the driver process)
 * single consumer (the proxy process), with C11 acquire/release atomics on shared memory.
 */
#ifndef MODEL_PROXY_H
#define MODEL_PROXY_H

#include <stdatomic.h>
#include <sys/types.h>

enum model_fault { MF_PASS = 0, MF_REFUSE, MF_CUTREQ, MF_DROP, MF_DELAY, MF_500, MF_429, MF_NKINDS };

#define MODEL_PROXY_RING 256

typedef struct model_proxy_ctl {
    _Atomic int target_port;   /* the server's port on 127.0.0.1 */
    _Atomic unsigned epoch;    /* faults pushed under an older epoch are skipped (faults off) */
    _Atomic unsigned head;     /* consumer index (proxy) */
    _Atomic unsigned tail;     /* producer index (driver) */
    struct {
        unsigned epoch;
        int kind;
        int arg;
    } ring[MODEL_PROXY_RING];
    _Atomic long requests;
    _Atomic long injected[MF_NKINDS];
} model_proxy_ctl_t;

/* [control] Map the shared control block, bind 127.0.0.1:0 and fork the proxy process. Returns
 * the block (never freed: it lives as long as the driver) and sets *port and *pid; NULL on
 * failure with errno set. The proxy dies with its parent (PR_SET_PDEATHSIG). */
model_proxy_ctl_t *model_proxy_start(int target_port, int *port, pid_t *pid);

/* [control] Queue one fault for a coming request. Returns 0, or -1 when the ring is full. */
int model_proxy_push(model_proxy_ctl_t *p, int kind, int arg);

/* [control] Drop every queued fault: from now on every request passes until the next push. */
void model_proxy_clear(model_proxy_ctl_t *p);

/* [any] A fault's name for logs. */
const char *model_fault_name(int kind);

#endif /* MODEL_PROXY_H */
