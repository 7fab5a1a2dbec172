/* plugin_worker.c - a bounded record queue with one worker thread. */
#include "plugin_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct plugin_worker {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    char **ring;
    size_t cap, head, count;
    int busy, stopping, failed;
    plugin_worker_fn fn;
    void *user;
    pthread_t thread;
};

static void *run(void *arg)
{
    plugin_worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->count && !w->stopping)
            pthread_cond_wait(&w->wake, &w->mu);
        if (!w->count && w->stopping)
            break;
        char *rec = w->ring[w->head];
        w->head = (w->head + 1) % w->cap;
        w->count--;
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        int rc = w->fn(w->user, rec);
        free(rec);
        pthread_mutex_lock(&w->mu);
        w->busy = 0;
        if (rc)
            w->failed++;
        if (!w->count)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

plugin_worker_t *plugin_worker_start(plugin_worker_fn fn, void *user, size_t capacity)
{
    plugin_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->ring = calloc(capacity, sizeof *w->ring);
    if (!w->ring) {
        free(w);
        return NULL;
    }
    w->cap = capacity;
    w->fn = fn;
    w->user = user;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->idle, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, run, w)) {
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        free(w->ring);
        free(w);
        return NULL;
    }
    return w;
}

int plugin_worker_push(plugin_worker_t *w, const char *record)
{
    char *copy = strdup(record);
    if (!copy)
        return -1;
    pthread_mutex_lock(&w->mu);
    if (w->count == w->cap) {
        pthread_mutex_unlock(&w->mu);
        free(copy);
        return -3;
    }
    w->ring[(w->head + w->count) % w->cap] = copy;
    w->count++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int plugin_worker_flush(plugin_worker_t *w, int64_t deadline_us)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_us / 1000000), .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    while ((w->count || w->busy) && !rc)
        if (pthread_cond_timedwait(&w->idle, &w->mu, &ts) == ETIMEDOUT && (w->count || w->busy))
            rc = -23;
    if (!rc && w->failed) {
        w->failed = 0;
        rc = -8;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void plugin_worker_stop(plugin_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->count; i++)
        free(w->ring[(w->head + i) % w->cap]);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w->ring);
    free(w);
}
