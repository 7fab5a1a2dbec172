/* syncd_http.c - etude-syncd HTTP front end on libmicrohttpd: /graphql, /events (SSE), /healthz,
 * /metrics, and the dashboard: its page and assets (/, /static/NAME) and its cookie sessions
 * (/session, /session/logout). */
#include "syncd_http.h"

#include "etude_web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

/* One open connection, for the header and body deadlines (the sweeper cuts late ones). */
enum { PHASE_HEADERS = 0, PHASE_BODY = 1, PHASE_SERVING = 2 };
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    int phase;
    int64_t since_ms; /* monotonic start of the phase */
    int cut;
} conn_t;

struct etude_syncd_http {
    struct MHD_Daemon *d;
    etude_syncd_http_config_t hc;
    pthread_mutex_t conns_lock;
    conn_t *conns;
    pthread_t sweeper;
    int sweeper_started;
    int stop_sweeper;
    pthread_cond_t sweep_cond;
    etude_syncd_config_t cfg;
    etude_syncd_t *core;
    etude_syncd_store_t *st;
    etude_syncd_metrics_t *m;
    etude_syncd_hub_t *hub;
    int keepalive_ms;
    char address[80];
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int in_flight;
    int stopping;
    int64_t db_checked_ms; /* monotonic time the database size gauge was last read (under lock) */
    /* /healthz: the store's last reachability check (under lock), at most one a second. */
    int64_t health_checked_ms;
    int health_ok;
    int health_checking;
};

/* Sent with every answer: the dashboard's page runs only its own scripts and styles, is never
 * framed, never sniffed, and sends no Referer. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                          " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/* The largest POST /session body (a user name and a password). */
#define SESSION_MAX_BODY 8192

typedef struct req {
    etude_syncd_http_t *h;
    char *buf;
    size_t len, cap;
    size_t discarded;
    int too_large;
    int responded;
    int status;
    int retry_after;
    const char *path;
    struct timespec t0;
    size_t max_body;      /* body limit of this route */
    char set_cookie[200]; /* a Set-Cookie header to send, or "" */
} req_t;

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void etude_syncd_http_config_defaults(etude_syncd_http_config_t *hc)
{
    memset(hc, 0, sizeof *hc);
    hc->listen = "127.0.0.1:8470";
    hc->keepalive_ms = 15000;
    hc->threads = 4;
    hc->max_connections = 10000;
    hc->max_per_ip = 256;
    hc->idle_timeout = 60;
    hc->header_timeout = 20;
    hc->body_timeout = 60;
    hc->max_streams_per_user = 16;
}

static conn_t *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_phase(etude_syncd_http_t *h, struct MHD_Connection *c, int phase)
{
    conn_t *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&h->conns_lock);
    k->phase = phase;
    k->since_ms = mono_ms();
    pthread_mutex_unlock(&h->conns_lock);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    etude_syncd_http_t *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_t *k = calloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!k || !ci) {
            free(k);
            return;
        }
        k->fd = ci->connect_fd;
        k->since_ms = mono_ms();
        pthread_mutex_lock(&h->conns_lock);
        k->next = h->conns;
        if (h->conns)
            h->conns->prev = k;
        h->conns = k;
        pthread_mutex_unlock(&h->conns_lock);
        *socket_context = k;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_t *k = *socket_context;
        if (!k)
            return;
        pthread_mutex_lock(&h->conns_lock);
        if (k->prev)
            k->prev->next = k->next;
        else
            h->conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&h->conns_lock);
        free(k);
        *socket_context = NULL;
    }
}

/* Once a second: a connection still sending headers after --header-timeout, or a body after
 * --body-timeout, is shut down (the event loop then closes it). Trickling bytes does not help. */
static void *sweeper_main(void *arg)
{
    etude_syncd_http_t *h = arg;
    pthread_mutex_lock(&h->conns_lock);
    while (!h->stop_sweeper) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&h->sweep_cond, &h->conns_lock, &until);
        int64_t now = mono_ms();
        for (conn_t *k = h->conns; k; k = k->next) {
            int64_t limit = k->phase == PHASE_HEADERS ? (int64_t)h->hc.header_timeout * 1000
                            : k->phase == PHASE_BODY  ? (int64_t)h->hc.body_timeout * 1000
                                                      : 0;
            if (limit > 0 && !k->cut && now - k->since_ms > limit) {
                k->cut = 1;
                shutdown(k->fd, SHUT_RDWR);
            }
        }
    }
    pthread_mutex_unlock(&h->conns_lock);
    return NULL;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static const char *route_name(const char *url)
{
    if (strcmp(url, "/graphql") == 0)
        return "/graphql";
    if (strcmp(url, "/events") == 0)
        return "/events";
    if (strcmp(url, "/healthz") == 0)
        return "/healthz";
    if (strcmp(url, "/metrics") == 0)
        return "/metrics";
    if (strcmp(url, "/") == 0)
        return "/";
    if (strncmp(url, "/static/", 8) == 0)
        return "/static";
    if (strcmp(url, "/session") == 0)
        return "/session";
    if (strcmp(url, "/session/logout") == 0)
        return "/session/logout";
    return "other";
}

static enum MHD_Result queue(req_t *r, struct MHD_Connection *c, int status, struct MHD_Response *resp);

/* Queues body (taking ownership of the malloc'd text) with the usual headers. */
static enum MHD_Result send_body(req_t *r, struct MHD_Connection *c, int status, const char *ctype,
                                 char *body, size_t len, int may_gzip)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    int gz = 0;
    if (may_gzip && len >= 512 && etude_syncd_accepts_gzip(ae)) {
        char *z;
        size_t zl;
        if (etude_syncd_gzip(body, len, &z, &zl) == 0) {
            free(body);
            body = z;
            len = zl;
            gz = 1;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (may_gzip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return queue(r, c, status, resp);
}

static void security_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* Adds the headers every answer carries and queues resp (which it releases). */
static enum MHD_Result queue(req_t *r, struct MHD_Connection *c, int status, struct MHD_Response *resp)
{
    security_headers(resp);
    if (r->set_cookie[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
    pthread_mutex_lock(&r->h->lock);
    int stopping = r->h->stopping;
    pthread_mutex_unlock(&r->h->lock);
    if (stopping)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                strcmp(r->path, "/graphql") == 0 || strcmp(r->path, "/session/logout") == 0 ? "POST"
                                : strcmp(r->path, "/session") == 0                                          ? "GET, POST"
                                                                                                             : "GET");
    if (status == 401 && (strcmp(r->path, "/graphql") == 0 || strcmp(r->path, "/events") == 0))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"etude-syncd\", error=\"invalid_token\"");
    if (r->retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    conn_phase(r->h, c, PHASE_SERVING);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = status;
    return ok;
}

/* An HTTP-level error as a GraphQL-style error document naming what is wrong. */
static enum MHD_Result send_error(req_t *r, struct MHD_Connection *c, int status, const char *code,
                                  const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *errs = cJSON_AddArrayToObject(root, "errors");
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "message", msg);
    cJSON *x = cJSON_AddObjectToObject(e, "extensions");
    cJSON_AddStringToObject(x, "code", code);
    cJSON_AddItemToArray(errs, e);
    if (strcmp(r->path, "/graphql") == 0)
        etude_syncd_add_server_time(root);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return MHD_NO;
    etude_syncd_metrics_error(r->h->m, code);
    return send_body(r, c, status, "application/json; charset=utf-8", text, strlen(text), 0);
}

/* The peer's address as text into buf ("" when unknown). */
static void client_address(struct MHD_Connection *c, char *buf, size_t len)
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)len);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)len);
    }
}

/* The session cookie's value into buf, or NULL when the request has none (or a malformed one). */
static const char *session_cookie(struct MHD_Connection *c, char *buf, size_t len)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
    return etude_syncd_cookie_find(h, ETUDE_SYNCD_COOKIE, buf, len) == 0 ? buf : NULL;
}

/* Whether the request carries an Origin header naming another origin than this server's: the
 * scheme and the Host the browser addressed. "null" (an opaque origin) is foreign. Served over
 * TLS, only https:// is this server; served over plain HTTP, https:// is accepted too, for a TLS
 * proxy in front of the server (the Host is the same either way). */
static int foreign_origin(etude_syncd_http_t *h, struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return 0;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host || !host[0])
        return 1;
    const char *rest = NULL;
    if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    else if (!h->hc.tls_cert && strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    return !rest || strcasecmp(rest, host) != 0;
}

static int media_of(struct MHD_Connection *c)
{
    return etude_syncd_negotiate_accept(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
}

/* Whether the request's Content-Length is unreadable or above max (*cl, if given, gets its text). */
static int content_length_over(struct MHD_Connection *c, size_t max, const char **cl_out)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl_out)
        *cl_out = cl;
    if (!cl)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno || *end || n > max;
}

/* Checks a POST /graphql can be served before its body is read; responds and returns 1 if not. */
static int graphql_precheck(req_t *r, struct MHD_Connection *c, const char *method)
{
    if (strcmp(method, "POST") != 0) {
        send_error(r, c, 405, "METHOD_NOT_ALLOWED", "method: /graphql accepts POST only");
        return 1;
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        send_error(r, c, 415, "UNSUPPORTED_MEDIA_TYPE",
                   "Content-Type: expected application/json");
        return 1;
    }
    if (media_of(c) < 0) {
        send_error(r, c, 406, "NOT_ACCEPTABLE",
                   "Accept: offers neither application/graphql-response+json nor application/json");
        return 1;
    }
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (ce && strcasecmp(ce, "gzip") != 0 && strcasecmp(ce, "identity") != 0) {
        send_error(r, c, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Encoding: expected gzip or identity");
        return 1;
    }
    const char *cl = NULL;
    if (content_length_over(c, r->h->cfg.max_body, &cl)) {
        char msg[128];
        snprintf(msg, sizeof msg, "body: %s bytes, the limit is %zu", cl, r->h->cfg.max_body);
        send_error(r, c, 413, "PAYLOAD_TOO_LARGE", msg);
        return 1;
    }
    return 0;
}

static enum MHD_Result graphql_complete(req_t *r, struct MHD_Connection *c)
{
    etude_syncd_http_t *h = r->h;
    if (r->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "body: more than %zu bytes", h->cfg.max_body);
        return send_error(r, c, 413, "PAYLOAD_TOO_LARGE", msg);
    }
    const char *body = r->buf ? r->buf : "";
    size_t len = r->len;
    char *inflated = NULL;
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (ce && strcasecmp(ce, "gzip") == 0) {
        int rc = etude_syncd_gunzip(body, len, h->cfg.max_body, &inflated, &len);
        if (rc == ETUDE_SYNCD_ELIMIT) {
            char msg[128];
            snprintf(msg, sizeof msg, "body: inflates to more than %zu bytes", h->cfg.max_body);
            return send_error(r, c, 413, "PAYLOAD_TOO_LARGE", msg);
        }
        if (rc)
            return send_error(r, c, 400, "BAD_REQUEST", "body: Content-Encoding is gzip but the body is not valid gzip");
        body = inflated;
    }
    int media = media_of(c);
    etude_syncd_reply_t rep;
    char client[INET6_ADDRSTRLEN] = "", cookie[128];
    client_address(c, client, sizeof client);
    etude_syncd_request_t rq = {
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .session = session_cookie(c, cookie, sizeof cookie),
        .csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token"),
        .client = client[0] ? client : NULL,
        .foreign_origin = foreign_origin(h, c),
    };
    etude_syncd_execute_req(h->core, body, len, &rq, media, &rep);
    sodium_memzero(cookie, sizeof cookie);
    free(inflated);
    if (!rep.body)
        return MHD_NO;
    r->retry_after = rep.retry_after;
    return send_body(r, c, rep.status,
                     media == ETUDE_SYNCD_MEDIA_JSON ? "application/json; charset=utf-8"
                                                     : "application/graphql-response+json; charset=utf-8",
                     rep.body, rep.len, 1);
}

typedef struct sse {
    etude_syncd_http_t *h;
    etude_syncd_stream_t *s;
    struct MHD_Connection *c;
} sse_t;

/* Park and wake run with the hub's lock held, so a publish cannot fall between them. */
static void sse_park(void *arg)
{
    sse_t *x = arg;
    MHD_suspend_connection(x->c);
}

static void sse_wake(void *arg)
{
    sse_t *x = arg;
    MHD_resume_connection(x->c);
}

/* Never blocks: with nothing to send the connection is suspended (no thread waits on it) and
 * resumed by the hub when a notice, a keep-alive or shutdown is due. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_t *x = cls;
    long n = etude_syncd_stream_next(x->s, buf, max, sse_park, x);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_t *x = cls;
    etude_syncd_stream_close(x->s);
    etude_syncd_metrics_gauge_add(x->h->m, ETUDE_SYNCD_GAUGE_SSE, -1);
    free(x);
}

static enum MHD_Result events(req_t *r, struct MHD_Connection *c)
{
    etude_syncd_http_t *h = r->h;
    etude_syncd_user_t user;
    const char *why = NULL;
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char cookie[128];
    const char *session = authz ? NULL : session_cookie(c, cookie, sizeof cookie);
    /* A browser's EventSource cannot send headers: the dashboard's session cookie opens the same
     * stream of the same user. (Reading a stream changes nothing, so no CSRF token is asked.) */
    int rc = session ? etude_syncd_web_session(h->core, session, &user, &why)
                     : etude_syncd_authenticate(h->core, authz, &user, &why);
    sodium_memzero(cookie, sizeof cookie);
    if (rc != 0) {
        char msg[200];
        if (session)
            snprintf(msg, sizeof msg, "Cookie: %s dashboard session (log in again: POST /session)", why ? why : "invalid");
        else
            snprintf(msg, sizeof msg, "Authorization: %s access token (send 'Authorization: Bearer <accessToken>')",
                     why ? why : "invalid");
        return send_error(r, c, 401, "UNAUTHENTICATED", msg);
    }
    const char *dev = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "deviceId");
    if (dev && (strlen(dev) == 0 || strlen(dev) > 64))
        return send_error(r, c, 400, "BAD_REQUEST", "deviceId: expected 1 to 64 characters");
    sse_t *x = calloc(1, sizeof *x);
    if (!x)
        return MHD_NO;
    x->h = h;
    x->c = c;
    char latest[ETUDE_SYNCD_CURSOR_LEN];
    if (etude_syncd_store_latest_cursor(h->st, user.id, latest, sizeof latest) != 0) {
        free(x);
        return send_error(r, c, 500, "INTERNAL_SERVER_ERROR", "events: the database failed");
    }
    int too_many = 0;
    const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    x->s = etude_syncd_hub_open(h->hub, user.id, dev, latest, fdi ? (int)fdi->connect_fd : -1, sse_wake, x,
                                &too_many);
    if (!x->s) {
        free(x);
        if (too_many) {
            char msg[160];
            snprintf(msg, sizeof msg, "events: this user already holds %d open event streams (the limit)",
                     h->hc.max_streams_per_user);
            etude_syncd_store_audit(h->st, user.id, "events", dev ? dev : "", "TOO_MANY_STREAMS");
            r->retry_after = 30;
            return send_error(r, c, 429, "TOO_MANY_STREAMS", msg);
        }
        return send_error(r, c, 503, "SHUTTING_DOWN", "server: shutting down");
    }
    etude_syncd_metrics_gauge_add(h->m, ETUDE_SYNCD_GAUGE_SSE, 1);
    etude_syncd_store_audit(h->st, user.id, "events", dev ? dev : "", "ok");
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_read, x, sse_free);
    if (!resp) {
        sse_free(x);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    security_headers(resp);
    /* Parked streams send keep-alives; the idle timeout is not theirs. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)0);
    conn_phase(h, c, PHASE_SERVING);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = 200;
    return ok;
}

/* ---- the dashboard: page, assets, cookie sessions ---- */

static enum MHD_Result send_static(req_t *r, struct MHD_Connection *c, const char *url)
{
    char path[128];
    const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 8; /* after "/static/" */
    const etude_web_asset_t *a = NULL;
    if (name[0] && !strchr(name, '/') && snprintf(path, sizeof path, "/%s", name) < (int)sizeof path)
        a = etude_web_asset_find(path);
    if (!a)
        return send_error(r, c, 404, "NOT_FOUND", "path: no such asset (the page is at /, its files under /static/)");
    struct MHD_Response *resp = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    /* Built into the binary: a new server may bring new files, so the browser asks each time. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return queue(r, c, 200, resp);
}

/* {"error": msg} with status. */
static enum MHD_Result send_session_error(req_t *r, struct MHD_Connection *c, int status, const char *code,
                                          const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return MHD_NO;
    etude_syncd_metrics_error(r->h->m, code);
    return send_body(r, c, status, "application/json; charset=utf-8", text, strlen(text), 0);
}

/* The session's description: {"user": {"id", "name"}, "admin", "csrfToken", "expiresAt"}. */
static enum MHD_Result send_session(req_t *r, struct MHD_Connection *c, const char *token,
                                    const etude_syncd_user_t *u)
{
    char csrf[64], at[48];
    etude_syncd_csrf_token(r->h->core, token, csrf);
    etude_syncd_format_time(u->expires_ms, at, sizeof at);
    cJSON *o = cJSON_CreateObject();
    cJSON *uo = cJSON_AddObjectToObject(o, "user");
    cJSON_AddStringToObject(uo, "id", u->uuid);
    cJSON_AddStringToObject(uo, "name", u->name);
    cJSON_AddBoolToObject(o, "admin", u->admin != 0);
    cJSON_AddStringToObject(o, "csrfToken", csrf);
    cJSON_AddStringToObject(o, "expiresAt", at);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    sodium_memzero(csrf, sizeof csrf);
    return text ? send_body(r, c, 200, "application/json; charset=utf-8", text, strlen(text), 0) : MHD_NO;
}

static void set_cookie(req_t *r, const char *value, long max_age)
{
    snprintf(r->set_cookie, sizeof r->set_cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
             ETUDE_SYNCD_COOKIE, value, max_age, r->h->hc.tls_cert ? "; Secure" : "");
}

/* Checks a /session request can be served before its body is read; responds and returns 1 if not. */
static int session_precheck(req_t *r, struct MHD_Connection *c, const char *method)
{
    int logout = strcmp(r->path, "/session/logout") == 0;
    int post = strcmp(method, "POST") == 0;
    if (!post && (logout || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))) {
        send_session_error(r, c, 405, "METHOD_NOT_ALLOWED",
                           logout ? "method: /session/logout accepts POST only" : "method: /session accepts GET and POST");
        return 1;
    }
    if (!post)
        return 0;
    /* A login or logout sent by another site's page (login CSRF): the browser names that page's
     * origin. Requests without Origin (curl, devices) are not from a page. */
    if (foreign_origin(r->h, c)) {
        send_session_error(r, c, 403, "CSRF", "Origin: not this server's origin");
        return 1;
    }
    if (logout)
        return 0;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        send_session_error(r, c, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type: expected application/json");
        return 1;
    }
    if (content_length_over(c, SESSION_MAX_BODY, NULL)) {
        char msg[96];
        snprintf(msg, sizeof msg, "body: more than %d bytes", SESSION_MAX_BODY);
        send_session_error(r, c, 413, "PAYLOAD_TOO_LARGE", msg);
        return 1;
    }
    return 0;
}

static enum MHD_Result session_login(req_t *r, struct MHD_Connection *c)
{
    etude_syncd_http_t *h = r->h;
    if (r->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "body: more than %d bytes", SESSION_MAX_BODY);
        return send_session_error(r, c, 413, "PAYLOAD_TOO_LARGE", msg);
    }
    cJSON *doc = NULL;
    const char *name = NULL, *password = NULL, *why = NULL;
    if (etude_syncd_parse_login_body(r->buf, r->len, &doc, &name, &password, &why) != 0)
        return send_session_error(r, c, 400, "BAD_REQUEST", why);
    char client[INET6_ADDRSTRLEN], token[64];
    client_address(c, client, sizeof client);
    etude_syncd_user_t user;
    int wait = 0;
    int rc = etude_syncd_web_login(h->core, name, password, client[0] ? client : NULL, token, &user, &wait);
    if (password)
        sodium_memzero((void *)password, strlen(password));
    cJSON_Delete(doc);
    if (r->buf)
        sodium_memzero(r->buf, r->len);
    if (rc == ETUDE_SYNCD_ELIMIT) {
        char msg[96];
        snprintf(msg, sizeof msg, "login: too many failed logins; retry in %d s", wait);
        r->retry_after = wait;
        return send_session_error(r, c, 429, "RATE_LIMITED", msg);
    }
    if (rc == ETUDE_SYNCD_EAUTH)
        return send_session_error(r, c, 401, "INVALID_CREDENTIALS", "login: unknown username or wrong password");
    if (rc)
        return send_session_error(r, c, 500, "INTERNAL_SERVER_ERROR", "login: the database failed");
    int64_t left = (user.expires_ms - etude_syncd_now_ms() + 999) / 1000;
    set_cookie(r, token, left > 0 ? (long)left : 0);
    enum MHD_Result ok = send_session(r, c, token, &user);
    sodium_memzero(token, sizeof token);
    return ok;
}

static enum MHD_Result session_get(req_t *r, struct MHD_Connection *c)
{
    char cookie[128];
    const char *token = session_cookie(c, cookie, sizeof cookie);
    etude_syncd_user_t user;
    const char *why = NULL;
    enum MHD_Result ok;
    if (etude_syncd_web_session(r->h->core, token, &user, &why) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "Cookie: %s dashboard session (log in: POST /session)", why ? why : "invalid");
        ok = send_session_error(r, c, 401, "UNAUTHENTICATED", msg);
    } else {
        ok = send_session(r, c, token, &user);
    }
    sodium_memzero(cookie, sizeof cookie);
    return ok;
}

static enum MHD_Result session_logout(req_t *r, struct MHD_Connection *c)
{
    char cookie[128];
    const char *token = session_cookie(c, cookie, sizeof cookie);
    etude_syncd_user_t user;
    const char *why = NULL;
    enum MHD_Result ok;
    const char *csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    if (etude_syncd_web_session(r->h->core, token, &user, &why) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "Cookie: %s dashboard session", why ? why : "invalid");
        ok = send_session_error(r, c, 401, "UNAUTHENTICATED", msg);
    } else if (!etude_syncd_csrf_ok(r->h->core, token, csrf)) {
        ok = send_session_error(r, c, 403, "CSRF",
                                csrf ? "X-CSRF-Token: not this session's token" : "X-CSRF-Token: missing");
    } else if (etude_syncd_web_logout(r->h->core, &user) != 0) {
        ok = send_session_error(r, c, 500, "INTERNAL_SERVER_ERROR", "logout: the database failed");
    } else {
        set_cookie(r, "", 0);
        char *b = strdup("{\"ok\":true}");
        ok = b ? send_body(r, c, 200, "application/json; charset=utf-8", b, strlen(b), 0) : MHD_NO;
    }
    sodium_memzero(cookie, sizeof cookie);
    return ok;
}

/* Whether the store reaches its database: checked at most once a second by one request, the others
 * answered from the last check. */
static int healthy(etude_syncd_http_t *h)
{
    int64_t now = mono_ms();
    pthread_mutex_lock(&h->lock);
    int due = !h->health_checking && (h->health_checked_ms == 0 || now - h->health_checked_ms >= 1000);
    if (due)
        h->health_checking = 1;
    int ok = h->health_ok;
    pthread_mutex_unlock(&h->lock);
    if (!due)
        return ok;
    ok = etude_syncd_store_ping(h->st) == 0;
    pthread_mutex_lock(&h->lock);
    h->health_ok = ok;
    h->health_checked_ms = mono_ms();
    h->health_checking = 0;
    pthread_mutex_unlock(&h->lock);
    return ok;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    (void)version;
    etude_syncd_http_t *h = cls;
    req_t *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->h = h;
        r->path = route_name(url);
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        *con_cls = r;
        conn_phase(h, c, PHASE_BODY);
        pthread_mutex_lock(&h->lock);
        h->in_flight++;
        pthread_mutex_unlock(&h->lock);
        etude_syncd_metrics_gauge_add(h->m, ETUDE_SYNCD_GAUGE_IN_FLIGHT, 1);
        r->max_body = h->cfg.max_body;
        if (strcmp(r->path, "/graphql") == 0)
            graphql_precheck(r, c, method);
        else if (strcmp(r->path, "/session") == 0 || strcmp(r->path, "/session/logout") == 0) {
            r->max_body = SESSION_MAX_BODY;
            session_precheck(r, c, method);
        }
        return MHD_YES;
    }
    if (r->responded) {
        /* Answered before the body was read: drop the rest, and give up on endless bodies. */
        r->discarded += *upload_data_size;
        *upload_data_size = 0;
        return r->discarded > 4 * h->cfg.max_body + 65536 ? MHD_NO : MHD_YES;
    }
    int is_session = strcmp(r->path, "/session") == 0;
    if (strcmp(r->path, "/graphql") == 0 || is_session) {
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            if (since(&r->t0) > h->hc.body_timeout) /* a trickled body: the sweeper's check, sooner */
                return MHD_NO;
            *upload_data_size = 0;
            if (r->too_large || r->len + n > r->max_body) {
                r->too_large = 1;
                r->discarded += n;
                return r->discarded > 4 * h->cfg.max_body + 65536 ? MHD_NO : MHD_YES;
            }
            if (r->len + n + 1 > r->cap) {
                size_t ncap = (r->len + n + 1) * 2;
                if (ncap > r->max_body + 1)
                    ncap = r->max_body + 1;
                char *nb = realloc(r->buf, ncap);
                if (!nb)
                    return MHD_NO;
                r->buf = nb;
                r->cap = ncap;
            }
            memcpy(r->buf + r->len, upload_data, n);
            r->len += n;
            r->buf[r->len] = '\0';
            return MHD_YES;
        }
        if (is_session)
            return strcmp(method, "POST") == 0 ? session_login(r, c) : session_get(r, c);
        return graphql_complete(r, c);
    }
    if (*upload_data_size) { /* bodies on other routes are ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(r->path, "/session/logout") == 0)
        return session_logout(r, c);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(r, c, 405, "METHOD_NOT_ALLOWED", "method: this path accepts GET only");
    if (strcmp(r->path, "/healthz") == 0) {
        int ok = healthy(h);
        char *b = strdup(ok ? "{\"status\":\"ok\"}\n" : "{\"status\":\"unavailable\",\"reason\":\"database unreachable\"}\n");
        return b ? send_body(r, c, ok ? 200 : 503, "application/json", b, strlen(b), 0) : MHD_NO;
    }
    if (strcmp(r->path, "/metrics") == 0) {
        etude_syncd_metrics_db_bytes(h->m, etude_syncd_store_bytes(h->st));
        char *b = etude_syncd_metrics_render(h->m);
        return b ? send_body(r, c, 200, "text/plain; version=0.0.4; charset=utf-8", b, strlen(b), 1) : MHD_NO;
    }
    if (strcmp(r->path, "/events") == 0)
        return events(r, c);
    if (strcmp(r->path, "/") == 0 || strcmp(r->path, "/static") == 0)
        return send_static(r, c, url);
    return send_error(r, c, 404, "NOT_FOUND",
                      "path: not found (served: /, /static/NAME, /session, /graphql, /events, /healthz, /metrics)");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    etude_syncd_http_t *h = cls;
    req_t *r = *con_cls;
    if (!r)
        return;
    etude_syncd_metrics_request(h->m, r->path, r->responded ? r->status : 499, since(&r->t0));
    /* The database size gauge, read at most once a second. */
    int64_t now = mono_ms();
    pthread_mutex_lock(&h->lock);
    int due = now - h->db_checked_ms >= 1000;
    if (due)
        h->db_checked_ms = now;
    pthread_mutex_unlock(&h->lock);
    if (due)
        etude_syncd_metrics_db_bytes(h->m, etude_syncd_store_bytes(h->st));
    conn_phase(h, c, PHASE_HEADERS); /* keep-alive: the next request's headers are due in time */
    etude_syncd_metrics_gauge_add(h->m, ETUDE_SYNCD_GAUGE_IN_FLIGHT, -1);
    free(r->buf);
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&h->lock);
    h->in_flight--;
    if (h->in_flight == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
}

static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        *sl = sizeof *a;
        return AF_INET6;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    *sl = sizeof *a;
    return AF_INET;
}

int etude_syncd_http_start(const etude_syncd_http_config_t *hc, const etude_syncd_config_t *cfg,
                           etude_syncd_t *core, etude_syncd_store_t *st, etude_syncd_metrics_t *m,
                           etude_syncd_hub_t *hub, etude_syncd_http_t **out, char *err, size_t len)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int fam = parse_listen(hc->listen, &ss, &sl);
    if (fam < 0) {
        snprintf(err, len, "--listen: '%s' is not ADDR:PORT (e.g. 127.0.0.1:8470 or [::1]:8470)", hc->listen);
        return ETUDE_SYNCD_EINVAL;
    }
    etude_syncd_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return ETUDE_SYNCD_ENOMEM;
    h->cfg = *cfg;
    h->core = core;
    h->st = st;
    h->m = m;
    h->hub = hub;
    h->health_ok = 1; /* until the first check says otherwise */
    h->hc = *hc;
    h->keepalive_ms = hc->keepalive_ms > 0 ? hc->keepalive_ms : 15000;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    pthread_mutex_init(&h->conns_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->sweep_cond, &ca);
    pthread_condattr_destroy(&ca);
    etude_syncd_hub_configure(hub, h->keepalive_ms, hc->max_streams_per_user);
    /* Event-driven: a few epoll loops serve every connection; an idle or slow connection, or a
     * parked event stream, costs a socket and a little memory, never a thread. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (fam == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (hc->tls_cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, hc->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, hc->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, h,
                            MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(hc->threads ? hc->threads : 1),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)hc->max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)hc->max_per_ip,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)hc->idle_timeout,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
                            MHD_OPTION_ARRAY, hc->tls_cert ? tls : tls + 2, MHD_OPTION_END);
    if (h->d && pthread_create(&h->sweeper, NULL, sweeper_main, h) == 0)
        h->sweeper_started = 1;
    if (!h->d) {
        snprintf(err, len, "--listen: cannot serve on %s%s (address in use, not local, or bad TLS key/cert)",
                 hc->listen, hc->tls_cert ? " with --tls-cert/--tls-key" : "");
        pthread_cond_destroy(&h->idle);
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->sweep_cond);
        pthread_mutex_destroy(&h->conns_lock);
        free(h);
        return ETUDE_SYNCD_EINVAL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    char host[64];
    const char *colon = strrchr(hc->listen, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - hc->listen), hc->listen);
    snprintf(h->address, sizeof h->address, "%s:%u", host, port);
    /* PostgreSQL: other processes' uploads and reports reach this process's streams. */
    if (etude_syncd_hub_follow(hub, st) != 0)
        fprintf(stderr, "etude-syncd: cannot start the listener for other processes' notices\n");
    *out = h;
    return 0;
}

const char *etude_syncd_http_address(const etude_syncd_http_t *h)
{
    return h->address;
}

int etude_syncd_http_stop(etude_syncd_http_t *h, int timeout_s)
{
    if (!h)
        return 0;
    MHD_socket fd = MHD_quiesce_daemon(h->d); /* no new connections from here on */
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_mutex_unlock(&h->lock);
    etude_syncd_hub_shutdown(h->hub); /* event streams end, so they are not waited for */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s;
    pthread_mutex_lock(&h->lock);
    int rc = 0;
    while (h->in_flight > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&h->idle, &h->lock, &until);
    int left = h->in_flight;
    pthread_mutex_unlock(&h->lock);
    MHD_stop_daemon(h->d);
    pthread_mutex_lock(&h->conns_lock);
    h->stop_sweeper = 1;
    pthread_cond_broadcast(&h->sweep_cond);
    pthread_mutex_unlock(&h->conns_lock);
    if (h->sweeper_started)
        pthread_join(h->sweeper, NULL);
    pthread_cond_destroy(&h->sweep_cond);
    pthread_mutex_destroy(&h->conns_lock);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return left;
}
