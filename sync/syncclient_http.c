/* syncclient_http.c - one GraphQL-over-HTTP exchange with etude-syncd over libcurl: trusted
 * documents by hash, gzip request bodies, status, Retry-After and wire byte counts. */
#include "syncclient_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "etude_gzip.h"

/* SHA-256 of the shipped documents in sync/schema/operations (the server accepts only these);
 * tests/unit/test_syncclient.c checks them against sync/schema/operations.sha256. */
static const etude_sync_op_t etude_sync_ops[] = {
    {"Login", "c94da8a2cf968fcd5c045fd78b9e87322285498b0cb9969024744faa4fd3ab78"},
    {"Logout", "8fb34ba37100ff93c281b971c2ab33ddac874fda24116e8f298e4f0dbefb07d8"},
    {"RefreshToken", "8c1bf2c506b76803d4e2c6c4f34ea7a569ddb7911701ee451c8072db444ee15f"},
    {"ReportSyncStatus", "2789e9b3828066aca6873c9b3f31123920b9758e1911907e6f9bbf7105118ffc"},
    {"SyncChanges", "257165e43c1cc3c756e20f75031c6916bf4c56349309d511265078f81f5045ab"},
    {"SyncMetadata", "b7c331b7e0a2d6b4daf4d7f92ed3c854a5b487e57f205ff426e3fd1c0bc02b0e"},
    {"UploadBatch", "c676c11b4de8d5b8aeecfbdb29310aea89fd445e4e06bf79085d44f55e44d0c2"},
    {NULL, NULL},
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void etude_sync_http_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

const char *etude_sync_op_hash(const char *name)
{
    for (const etude_sync_op_t *o = etude_sync_ops; o->name; o++)
        if (!strcmp(o->name, name))
            return o->hash;
    return NULL;
}

typedef struct buf {
    char *p;
    size_t n, cap, max;
    int overflow;
} buf_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    buf_t *b = user;
    size_t n = size * nmemb;
    if (b->n + n + 1 > b->max) {
        b->overflow = 1;
        return 0;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

typedef struct hdrs {
    long retry_after;
} hdrs_t;

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    hdrs_t *h = user;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(data, "Retry-After:", 12)) {
        char tmp[64];
        size_t k = n - 12 < sizeof tmp - 1 ? n - 12 : sizeof tmp - 1;
        memcpy(tmp, data + 12, k);
        tmp[k] = 0;
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            h->retry_after = v > 86400 ? 86400 : v;
        else {
            /* An HTTP-date: honour it as well. */
            time_t t = curl_getdate(tmp, NULL);
            time_t now = time(NULL);
            if (t > 0)
                h->retry_after = t > now ? (long)(t - now) : 0;
        }
    }
    return n;
}

static int gzip_buf(const char *in, size_t len, char **out, size_t *out_len)
{
    return etude_gzip(in, len, out, out_len) ? -1 : 0;
}

static int on_cancel_check(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    const atomic_int *cancel = user;
    return cancel && atomic_load(cancel) ? 1 : 0;
}

int etude_sync_http_post(const etude_sync_http_req_t *rq, etude_sync_http_resp_t *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->retry_after = -1;
    etude_sync_http_global_init();
    CURL *h = curl_easy_init();
    if (!h)
        return ETUDE_SYNC_ENOMEM;
    char url[2048];
    snprintf(url, sizeof url, "%s%s", rq->base_url, rq->path);
    size_t blen = rq->body ? strlen(rq->body) : 0;
    char *gz = NULL;
    size_t gzlen = 0;
    const char *send = rq->body;
    size_t send_len = blen;
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "Accept: application/graphql-response+json, application/json;q=0.9");
    if (rq->body) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        if (blen >= 1024 && gzip_buf(rq->body, blen, &gz, &gzlen) == 0) {
            send = gz;
            send_len = gzlen;
            hl = curl_slist_append(hl, "Content-Encoding: gzip");
        }
    }
    char auth[256];
    if (rq->token && rq->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", rq->token);
        hl = curl_slist_append(hl, auth);
    }
    buf_t b = {.max = rq->max_response ? rq->max_response : (size_t)256 << 20};
    hdrs_t hd = {.retry_after = -1};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout_s > 0 ? rq->timeout_s : 30L);
    if (rq->cancel) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_cancel_check);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)rq->cancel);
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rq->cacert && rq->cacert[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, rq->cacert);
    if (rq->body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, send);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send_len);
    }
    CURLcode cr = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t down = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
    rs->bytes_sent = (int64_t)send_len;
    rs->bytes_received = (int64_t)down;
    rs->status = status;
    rs->retry_after = hd.retry_after;
    rs->body = b.p;
    rs->len = b.n;
    int rc = 0;
    if (cr != CURLE_OK) {
        snprintf(rs->error, sizeof rs->error, "%.300s: %s", url,
                 b.overflow ? "response larger than the limit" : curl_easy_strerror(cr));
        rs->tls = cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CONNECT_ERROR ||
                  cr == CURLE_SSL_CACERT_BADFILE || cr == CURLE_SSL_CERTPROBLEM;
        rc = b.overflow ? ETUDE_SYNC_EPROTOCOL : ETUDE_SYNC_ENETWORK;
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    free(gz);
    return rc;
}

void etude_sync_http_resp_clear(etude_sync_http_resp_t *rs)
{
    free(rs->body);
    rs->body = NULL;
    rs->len = 0;
}

/* ---- /events (Server-Sent Events) ---- */

typedef struct sse {
    char line[4096];
    size_t n;
    int told;
    int64_t deadline_us;
    volatile int *stop;
    const atomic_int *cancel;
} sse_t;

static size_t on_sse(char *data, size_t size, size_t nmemb, void *user)
{
    sse_t *s = user;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n; i++) {
        char ch = data[i];
        if (ch == '\n') {
            s->line[s->n] = 0;
            if (!strcmp(s->line, "event: changes"))
                s->told = 1;
            s->n = 0;
            if (s->told)
                return 0; /* stop the transfer: the caller pulls */
        } else if (s->n + 1 < sizeof s->line) {
            s->line[s->n++] = ch;
        }
    }
    return n;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    sse_t *s = user;
    if (s->stop && *s->stop)
        return 1;
    if (s->cancel && atomic_load(s->cancel))
        return 1;
    if (s->deadline_us && etude_sync_now_us() >= s->deadline_us)
        return 1;
    return 0;
}

int etude_sync_http_events(const char *base_url, const char *token, const char *device_id,
                           const char *cacert, int64_t deadline_us, volatile int *stop,
                           const atomic_int *cancel, long *status)
{
    etude_sync_http_global_init();
    CURL *h = curl_easy_init();
    if (!h)
        return ETUDE_SYNC_ENOMEM;
    char url[2048], auth[256];
    snprintf(url, sizeof url, "%s/events?deviceId=%s", base_url, device_id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    hl = curl_slist_append(hl, "Accept: text/event-stream");
    sse_t s = {.deadline_us = deadline_us, .stop = stop, .cancel = cancel};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cacert && cacert[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
    CURLcode cr = curl_easy_perform(h);
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    if (status)
        *status = st;
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (s.told)
        return 1;
    if (cr == CURLE_ABORTED_BY_CALLBACK || cr == CURLE_OK)
        return 0;
    return ETUDE_SYNC_ENETWORK;
}
