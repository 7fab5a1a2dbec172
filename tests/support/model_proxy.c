/* model_proxy.c - the fault-injecting loopback proxy of the model-based sync test (model_proxy.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "model_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

const char *model_fault_name(int kind)
{
    static const char *n[] = {"pass", "refuse", "cutreq", "drop", "delay", "500", "429"};
    return kind >= 0 && kind < MF_NKINDS ? n[kind] : "?";
}

int model_proxy_push(model_proxy_ctl_t *p, int kind, int arg)
{
    unsigned t = atomic_load_explicit(&p->tail, memory_order_relaxed);
    unsigned h = atomic_load_explicit(&p->head, memory_order_acquire);
    if (t - h >= MODEL_PROXY_RING)
        return -1;
    p->ring[t % MODEL_PROXY_RING].epoch = atomic_load_explicit(&p->epoch, memory_order_relaxed);
    p->ring[t % MODEL_PROXY_RING].kind = kind;
    p->ring[t % MODEL_PROXY_RING].arg = arg;
    atomic_store_explicit(&p->tail, t + 1, memory_order_release);
    return 0;
}

void model_proxy_clear(model_proxy_ctl_t *p)
{
    atomic_fetch_add_explicit(&p->epoch, 1, memory_order_acq_rel);
}

/* The next fault for a request (consumer side). */
static int take(model_proxy_ctl_t *p, int *arg)
{
    for (;;) {
        unsigned h = atomic_load_explicit(&p->head, memory_order_relaxed);
        unsigned t = atomic_load_explicit(&p->tail, memory_order_acquire);
        if (h == t)
            return MF_PASS;
        unsigned e = p->ring[h % MODEL_PROXY_RING].epoch;
        int k = p->ring[h % MODEL_PROXY_RING].kind;
        *arg = p->ring[h % MODEL_PROXY_RING].arg;
        atomic_store_explicit(&p->head, h + 1, memory_order_release);
        if (e == atomic_load_explicit(&p->epoch, memory_order_acquire))
            return k;
    }
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static void set_timeout(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void reset_close(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct {
    char *b;
    size_t n, cap;
} buf_t;

static int buf_add(buf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 16384;
        while (c < b->n + n + 1)
            c *= 2;
        char *nb = realloc(b->b, c);
        if (!nb)
            return -1;
        b->b = nb;
        b->cap = c;
    }
    memcpy(b->b + b->n, s, n);
    b->n += n;
    b->b[b->n] = 0;
    return 0;
}

/* Case-insensitive search for a header line "name:" in the header block; returns the value. */
static const char *header(const char *h, size_t hlen, const char *name)
{
    size_t nl = strlen(name);
    const char *p = h, *end = h + hlen;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Read one request: headers and a Content-Length body. Answers "100 Continue" when asked. */
static int read_request(int fd, buf_t *req, size_t *hend)
{
    char tmp[16384];
    *hend = 0;
    for (;;) {
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (buf_add(req, tmp, (size_t)r))
            return -1;
        char *e = memmem(req->b, req->n, "\r\n\r\n", 4);
        if (e) {
            *hend = (size_t)(e - req->b) + 4;
            break;
        }
        if (req->n > 65536)
            return -1;
    }
    const char *cl = header(req->b, *hend, "content-length");
    size_t want = cl ? (size_t)strtoull(cl, NULL, 10) : 0;
    const char *ex = header(req->b, *hend, "expect");
    if (ex && !strncasecmp(ex, "100-continue", 12) && req->n - *hend < want)
        write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    while (req->n - *hend < want) {
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (buf_add(req, tmp, (size_t)r))
            return -1;
    }
    return 0;
}

/* The request as sent upstream: without Connection, Keep-Alive and Expect, with "Connection: close". */
static int rewrite(const buf_t *req, size_t hend, buf_t *out)
{
    const char *p = req->b, *end = req->b + hend - 2;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            break;
        size_t n = (size_t)(eol - p) + 2;
        if (strncasecmp(p, "connection:", 11) && strncasecmp(p, "keep-alive:", 11) && strncasecmp(p, "expect:", 7))
            if (buf_add(out, p, n))
                return -1;
        p = eol + 2;
    }
    if (buf_add(out, "Connection: close\r\n\r\n", 21))
        return -1;
    return buf_add(out, req->b + hend, req->n - hend);
}

static int forward(int port, const buf_t *up, buf_t *resp)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    set_timeout(s, 20000);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0 || write_all(s, up->b, up->n) != 0) {
        close(s);
        return -1;
    }
    char tmp[16384];
    for (;;) {
        ssize_t r = recv(s, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(s);
            return resp->n ? 0 : -1;
        }
        if (r == 0)
            break;
        if (buf_add(resp, tmp, (size_t)r)) {
            close(s);
            return -1;
        }
    }
    close(s);
    return resp->n ? 0 : -1;
}

static void answer(int fd, int status, const char *reason, const char *extra, const char *code)
{
    char body[256], out[768];
    int bl = snprintf(body, sizeof body, "{\"errors\":[{\"message\":\"proxy: %s\",\"extensions\":{\"code\":\"%s\"}}]}",
                      reason, code);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s",
                     status, reason, bl, extra, body);
    write_all(fd, out, (size_t)n);
}

static void serve(model_proxy_ctl_t *p, int fd)
{
    int arg = 0;
    int f = take(p, &arg);
    atomic_fetch_add(&p->requests, 1);
    atomic_fetch_add(&p->injected[f], 1);
    if (f == MF_REFUSE) {
        reset_close(fd);
        return;
    }
    set_timeout(fd, 10000);
    buf_t req = {0}, up = {0}, resp = {0};
    size_t hend;
    if (read_request(fd, &req, &hend) != 0)
        goto done;
    if (f == MF_CUTREQ) {
        reset_close(fd);
        fd = -1;
        goto done;
    }
    if (f == MF_500) {
        answer(fd, 500, "Internal Server Error", "", "INTERNAL_SERVER_ERROR");
        goto done;
    }
    if (f == MF_429) {
        char ra[64];
        snprintf(ra, sizeof ra, "Retry-After: %d\r\n", arg);
        answer(fd, 429, "Too Many Requests", ra, "RATE_LIMITED");
        goto done;
    }
    if (f == MF_DELAY)
        sleep_ms(arg);
    if (rewrite(&req, hend, &up) != 0)
        goto done;
    if (forward(atomic_load(&p->target_port), &up, &resp) != 0) {
        answer(fd, 502, "Bad Gateway", "", "BAD_GATEWAY");
        goto done;
    }
    if (f == MF_DROP) {
        char *e = memmem(resp.b, resp.n, "\r\n\r\n", 4);
        size_t h = e ? (size_t)(e - resp.b) + 4 : 0;
        write_all(fd, resp.b, h + (resp.n - h) / 2);
        sleep_ms(5);
        reset_close(fd);
        fd = -1;
        goto done;
    }
    write_all(fd, resp.b, resp.n);
done:
    free(req.b);
    free(up.b);
    free(resp.b);
    if (fd >= 0) {
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}

model_proxy_ctl_t *model_proxy_start(int target_port, int *port, pid_t *pid)
{
    model_proxy_ctl_t *p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0, sizeof *p);
    atomic_store(&p->target_port, target_port);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return NULL;
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 64) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) != 0) {
        close(l);
        return NULL;
    }
    *port = ntohs(a.sin_port);
    pid_t c = fork();
    if (c < 0) {
        close(l);
        return NULL;
    }
    if (c == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            serve(p, fd);
        }
    }
    close(l);
    *pid = c;
    return p;
}
