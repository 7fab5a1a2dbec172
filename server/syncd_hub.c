/* syncd_hub.c - etude-syncd event hub: fans "changes exist" notices out to open /events streams. */
#include "syncd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

struct etude_syncd_hub {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    etude_syncd_stream_t *streams;
    int shutting_down;
};

etude_syncd_hub_t *etude_syncd_hub_create(void)
{
    etude_syncd_hub_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void etude_syncd_hub_destroy(etude_syncd_hub_t *h)
{
    if (!h)
        return;
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void etude_syncd_hub_publish(etude_syncd_hub_t *h, int64_t user_id, const char *origin_device,
                             int64_t seq, const char *cursor, int count)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    int woke = 0;
    for (etude_syncd_stream_t *s = h->streams; s; s = s->next) {
        if (s->user_id != user_id)
            continue;
        if (s->device[0] && origin_device && strcmp(s->device, origin_device) == 0)
            continue;
        if (!s->pending || seq > s->seq) {
            s->seq = seq;
            snprintf(s->cursor, sizeof s->cursor, "%s", cursor);
        }
        s->count += count;
        s->pending = 1;
        snprintf(s->origin, sizeof s->origin, "%s", origin_device ? origin_device : "");
        woke = 1;
    }
    if (woke)
        pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

void etude_syncd_hub_shutdown(etude_syncd_hub_t *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->shutting_down = 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

etude_syncd_stream_t *etude_syncd_hub_open(etude_syncd_hub_t *h, int64_t user_id,
                                           const char *device_id, const char *latest_cursor)
{
    etude_syncd_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hub = h;
    s->user_id = user_id;
    snprintf(s->latest_cursor, sizeof s->latest_cursor, "%s", latest_cursor);
    snprintf(s->device, sizeof s->device, "%s", device_id ? device_id : "");
    pthread_mutex_lock(&h->lock);
    if (h->shutting_down) {
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

long etude_syncd_stream_read(etude_syncd_stream_t *s, char *buf, size_t max, int keepalive_ms)
{
    etude_syncd_hub_t *h = s->hub;
    char cursor[48], origin[200];
    if (!s->sent_ready) {
        s->sent_ready = 1;
        snprintf(cursor, sizeof cursor, "%s", s->latest_cursor);
        int n = snprintf(buf, max, "retry: 3000\nevent: ready\ndata: {\"latestCursor\":\"%s\"}\n\n",
                         cursor);
        return n < 0 || (size_t)n >= max ? -1 : n;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += keepalive_ms / 1000;
    until.tv_nsec += (long)(keepalive_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    int rc = 0;
    while (!s->pending && !h->shutting_down && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&h->cond, &h->lock, &until);
    if (h->shutting_down) {
        pthread_mutex_unlock(&h->lock);
        return -1;
    }
    if (!s->pending) {
        pthread_mutex_unlock(&h->lock);
        int n = snprintf(buf, max, ": keepalive\n\n");
        return n < 0 || (size_t)n >= max ? -1 : n;
    }
    int64_t seq = s->seq;
    int count = s->count;
    snprintf(cursor, sizeof cursor, "%s", s->cursor);
    json_escape(s->origin, origin, sizeof origin);
    s->pending = 0;
    s->count = 0;
    pthread_mutex_unlock(&h->lock);
    int n = snprintf(buf, max,
                     "id: %lld\nevent: changes\ndata: {\"cursor\":\"%s\",\"count\":%d,\"deviceId\":%s}\n\n",
                     (long long)seq, cursor, count, origin);
    return n < 0 || (size_t)n >= max ? -1 : n;
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
