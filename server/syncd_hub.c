/* syncd_hub.c - etude-syncd event hub: fans "changes exist" notices out to open /events streams.
 *
 * Streams never hold a thread: a stream with nothing to send is parked (the HTTP layer suspends
 * its connection) and woken by a publish, by the keep-alive ticker, or by shutdown. */
#include "syncd.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct etude_syncd_stream {
    etude_syncd_hub_t *hub;
    etude_syncd_stream_t *next;
    int64_t user_id;
    char device[80];
    char latest_cursor[ETUDE_SYNCD_CURSOR_LEN]; /* for the ready event */
    int sent_ready;
    /* One coalesced pending notice: the client only needs "pull up to seq". */
    int pending;
    int64_t seq;
    char cursor[ETUDE_SYNCD_CURSOR_LEN];
    int count;
    char origin[80];
    int status_pending; /* a device reported its sync status (event `status`) */
    char status_device[80];
    int64_t last_sent_ms; /* monotonic */
    int keepalive_due;
    int parked;
    int gone; /* the client closed its end (seen by the ticker while parked) */
    int fd;
    etude_syncd_wake_fn wake;
    void *wake_arg;
};

struct etude_syncd_hub {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    etude_syncd_stream_t *streams;
    int shutting_down;
    int stop_ticker;
    int keepalive_ms;
    int max_per_user;
    pthread_t ticker;
    int ticker_started;
    /* PostgreSQL: the listener thread, which publishes other processes' notices. */
    etude_syncd_store_t *st;
    pthread_t listener;
    int listener_started;
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Caller holds the lock. */
static void unpark(etude_syncd_stream_t *s)
{
    if (s->parked) {
        s->parked = 0;
        if (s->wake)
            s->wake(s->wake_arg);
    }
}

/* Wakes parked streams whose keep-alive comment is due, once a second. */
static void *ticker_main(void *arg)
{
    etude_syncd_hub_t *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop_ticker) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&h->cond, &h->lock, &until);
        int64_t now = mono_ms();
        for (etude_syncd_stream_t *s = h->streams; s; s = s->next) {
            if (!s->parked)
                continue;
            /* A suspended connection is not watched by the event loop: look for a closed peer
             * here, so its place (and the per-user count) is freed within a second. */
            char b;
            ssize_t n = s->fd >= 0 ? recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) : -1;
            if (s->fd >= 0 && (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)))
                s->gone = 1;
            if (s->gone || now - s->last_sent_ms >= h->keepalive_ms) {
                s->keepalive_due = 1;
                unpark(s);
            }
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

etude_syncd_hub_t *etude_syncd_hub_create(void)
{
    etude_syncd_hub_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->keepalive_ms = 15000;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->ticker, NULL, ticker_main, h) == 0)
        h->ticker_started = 1;
    return h;
}

void etude_syncd_hub_configure(etude_syncd_hub_t *h, int keepalive_ms, int max_per_user)
{
    pthread_mutex_lock(&h->lock);
    if (keepalive_ms > 0)
        h->keepalive_ms = keepalive_ms;
    h->max_per_user = max_per_user;
    pthread_mutex_unlock(&h->lock);
}

void etude_syncd_hub_destroy(etude_syncd_hub_t *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop_ticker = 1;
    h->shutting_down = 1; /* the listener stops too */
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (h->ticker_started)
        pthread_join(h->ticker, NULL);
    if (h->listener_started)
        pthread_join(h->listener, NULL);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Whether stream s is told of what device origin (NULL: none named) did for user_id: the user's
 * streams, except the one of the device that did it. Caller holds the hub's lock. */
static int stream_hears(const etude_syncd_stream_t *s, int64_t user_id, const char *origin)
{
    return s->user_id == user_id && !(s->device[0] && origin && strcmp(s->device, origin) == 0);
}

void etude_syncd_hub_publish(etude_syncd_hub_t *h, int64_t user_id, const char *origin_device,
                             int64_t seq, const char *cursor, int count)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    for (etude_syncd_stream_t *s = h->streams; s; s = s->next) {
        if (!stream_hears(s, user_id, origin_device))
            continue;
        if (!s->pending || seq > s->seq) {
            s->seq = seq;
            snprintf(s->cursor, sizeof s->cursor, "%s", cursor);
        }
        s->count += count;
        s->pending = 1;
        snprintf(s->origin, sizeof s->origin, "%s", origin_device ? origin_device : "");
        unpark(s);
    }
    pthread_mutex_unlock(&h->lock);
}

void etude_syncd_hub_publish_status(etude_syncd_hub_t *h, int64_t user_id, const char *device_id)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    for (etude_syncd_stream_t *s = h->streams; s; s = s->next) {
        if (!stream_hears(s, user_id, device_id))
            continue;
        s->status_pending = 1; /* coalesced: the page reads every device's status anyway */
        snprintf(s->status_device, sizeof s->status_device, "%s", device_id ? device_id : "");
        unpark(s);
    }
    pthread_mutex_unlock(&h->lock);
}

void etude_syncd_hub_shutdown(etude_syncd_hub_t *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->shutting_down = 1;
    for (etude_syncd_stream_t *s = h->streams; s; s = s->next)
        unpark(s);
    pthread_cond_broadcast(&h->cond); /* the listener's backoff ends */
    pthread_mutex_unlock(&h->lock);
}

/* ---- the listener: other processes' notices (PostgreSQL) ---- */

static int stopping(etude_syncd_hub_t *h)
{
    pthread_mutex_lock(&h->lock);
    int stop = h->shutting_down;
    pthread_mutex_unlock(&h->lock);
    return stop;
}

/* Waits ms or until shutdown. */
static void pause_ms(etude_syncd_hub_t *h, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (!h->shutting_down && pthread_cond_timedwait(&h->cond, &h->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&h->lock);
}

/* After the listening connection was lost: every open stream gets a `changes` event at its user's
 * latest cursor, since a notice may have gone by unheard. 0, or -1 when a cursor could not be read
 * (the database is still unreachable: try again later). */
static int wake_all(etude_syncd_hub_t *h)
{
    int64_t *users = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&h->lock);
    for (etude_syncd_stream_t *s = h->streams; s; s = s->next) {
        size_t i = 0;
        while (i < n && users[i] != s->user_id)
            i++;
        if (i < n)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            int64_t *p = realloc(users, ncap * sizeof *users);
            if (!p)
                break;
            users = p;
            cap = ncap;
        }
        users[n++] = s->user_id;
    }
    pthread_mutex_unlock(&h->lock);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char cursor[ETUDE_SYNCD_CURSOR_LEN];
        uint64_t epoch, tag;
        int64_t seq;
        if (etude_syncd_store_latest_cursor(h->st, users[i], cursor, sizeof cursor) != 0 ||
            etude_syncd_cursor_decode(cursor, &epoch, &seq, &tag) != 0)
            rc = -1;
        else
            etude_syncd_hub_publish(h, users[i], NULL, seq, cursor, 0);
    }
    free(users);
    return rc;
}

static void *listener_main(void *arg)
{
    etude_syncd_hub_t *h = arg;
    etude_syncd_listener_t *l = NULL;
    int backoff_ms = 100, lost = 0;
    while (!stopping(h)) {
        if (!l) {
            char err[256];
            if (etude_syncd_listener_open(h->st, &l, err, sizeof err) != 0) {
                if (!lost)
                    fprintf(stderr, "etude-syncd: notices from other processes: cannot listen: %s; trying again\n",
                            err);
                lost = 1;
                pause_ms(h, backoff_ms);
                backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
                continue;
            }
            if (lost) {
                if (wake_all(h) != 0) {
                    etude_syncd_listener_close(l);
                    l = NULL;
                    pause_ms(h, backoff_ms);
                    continue;
                }
                fprintf(stderr, "etude-syncd: notices from other processes: listening again; open streams woken\n");
            }
            lost = 0;
            backoff_ms = 100;
        }
        struct pollfd p = {.fd = etude_syncd_listener_fd(l), .events = POLLIN};
        if (p.fd < 0 || poll(&p, 1, 250) < 0) {
            if (p.fd >= 0 && errno == EINTR)
                continue;
            p.revents = POLLERR;
        }
        etude_syncd_notice_t n;
        int r;
        while ((r = etude_syncd_listener_next(l, &n)) == 1) {
            if (n.kind == ETUDE_SYNCD_NOTICE_STATUS)
                etude_syncd_hub_publish_status(h, n.user_id, n.device);
            else
                etude_syncd_hub_publish(h, n.user_id, n.device, n.seq, n.cursor, n.count);
        }
        if (r < 0 || (p.revents & (POLLERR | POLLNVAL))) {
            fprintf(stderr, "etude-syncd: notices from other processes: connection lost; reconnecting\n");
            etude_syncd_listener_close(l);
            l = NULL;
            lost = 1;
        }
    }
    etude_syncd_listener_close(l);
    return NULL;
}

int etude_syncd_hub_follow(etude_syncd_hub_t *h, etude_syncd_store_t *st)
{
    if (!h || !st || !etude_syncd_store_has_notices(st) || h->listener_started)
        return 0;
    h->st = st;
    if (pthread_create(&h->listener, NULL, listener_main, h) != 0)
        return ETUDE_SYNCD_ENOMEM;
    h->listener_started = 1;
    return 0;
}

etude_syncd_stream_t *etude_syncd_hub_open(etude_syncd_hub_t *h, int64_t user_id, const char *device_id,
                                           const char *latest_cursor, int fd, etude_syncd_wake_fn wake,
                                           void *wake_arg, int *too_many)
{
    *too_many = 0;
    etude_syncd_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hub = h;
    s->user_id = user_id;
    s->wake = wake;
    s->wake_arg = wake_arg;
    s->fd = fd;
    s->last_sent_ms = mono_ms();
    snprintf(s->latest_cursor, sizeof s->latest_cursor, "%s", latest_cursor);
    snprintf(s->device, sizeof s->device, "%s", device_id ? device_id : "");
    pthread_mutex_lock(&h->lock);
    int mine = 0;
    for (etude_syncd_stream_t *o = h->streams; o; o = o->next)
        mine += o->user_id == user_id;
    if (h->shutting_down || (h->max_per_user > 0 && mine >= h->max_per_user)) {
        *too_many = !h->shutting_down;
        pthread_mutex_unlock(&h->lock);
        free(s);
        return NULL;
    }
    s->next = h->streams;
    h->streams = s;
    pthread_mutex_unlock(&h->lock);
    return s;
}

static void json_escape(const char *in, char *out, size_t len)
{
    cJSON *str = cJSON_CreateString(in);
    char *p = str ? cJSON_PrintUnformatted(str) : NULL;
    snprintf(out, len, "%s", p ? p : "\"\"");
    cJSON_free(p);
    cJSON_Delete(str);
}

long etude_syncd_stream_next(etude_syncd_stream_t *s, char *buf, size_t max, etude_syncd_wake_fn park,
                             void *park_arg)
{
    etude_syncd_hub_t *h = s->hub;
    char cursor[ETUDE_SYNCD_CURSOR_LEN], origin[200];
    int n;
    pthread_mutex_lock(&h->lock);
    if (h->shutting_down || s->gone) {
        pthread_mutex_unlock(&h->lock);
        return -1;
    }
    if (!s->sent_ready) {
        s->sent_ready = 1;
        s->last_sent_ms = mono_ms();
        snprintf(cursor, sizeof cursor, "%s", s->latest_cursor);
        pthread_mutex_unlock(&h->lock);
        n = snprintf(buf, max, "retry: 3000\nevent: ready\ndata: {\"latestCursor\":\"%s\"}\n\n", cursor);
        return n < 0 || (size_t)n >= max ? -1 : n;
    }
    if (s->pending) {
        int64_t seq = s->seq;
        int count = s->count;
        snprintf(cursor, sizeof cursor, "%s", s->cursor);
        json_escape(s->origin, origin, sizeof origin);
        s->pending = 0;
        s->count = 0;
        s->keepalive_due = 0;
        s->last_sent_ms = mono_ms();
        pthread_mutex_unlock(&h->lock);
        n = snprintf(buf, max,
                     "id: %lld\nevent: changes\ndata: {\"cursor\":\"%s\",\"count\":%d,\"deviceId\":%s}\n\n",
                     (long long)seq, cursor, count, origin);
        return n < 0 || (size_t)n >= max ? -1 : n;
    }
    if (s->status_pending) {
        json_escape(s->status_device, origin, sizeof origin);
        s->status_pending = 0;
        s->keepalive_due = 0;
        s->last_sent_ms = mono_ms();
        pthread_mutex_unlock(&h->lock);
        n = snprintf(buf, max, "event: status\ndata: {\"deviceId\":%s}\n\n", origin);
        return n < 0 || (size_t)n >= max ? -1 : n;
    }
    if (s->keepalive_due || mono_ms() - s->last_sent_ms >= h->keepalive_ms) {
        s->keepalive_due = 0;
        s->last_sent_ms = mono_ms();
        pthread_mutex_unlock(&h->lock);
        n = snprintf(buf, max, ": keepalive\n\n");
        return n < 0 || (size_t)n >= max ? -1 : n;
    }
    /* Nothing to send: park under the lock, so a publish cannot slip in between. */
    s->parked = 1;
    if (park)
        park(park_arg);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void etude_syncd_stream_close(etude_syncd_stream_t *s)
{
    if (!s)
        return;
    etude_syncd_hub_t *h = s->hub;
    pthread_mutex_lock(&h->lock);
    for (etude_syncd_stream_t **pp = &h->streams; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    free(s);
}
