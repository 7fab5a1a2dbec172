/* syncclient_orch.c - the sync orchestrator: one thread that decides when to sync (start, session
 * end, debounced data change, period, network back, server events) and one that follows
 * etude-syncd's /events stream; each owns its own client handle. */
#include "syncclient_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct etude_sync_orchestrator {
    char home[4096];
    etude_sync_publish_fn publish;
    void *ctx;
    etude_syncclient_t *c;      /* the sync thread's */
    etude_syncclient_t *ev;     /* the events thread's */
    etude_sync_config_t cfg;
    pthread_t sync_thread, events_thread;
    int have_sync_thread, have_events_thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;               /* under lock */
    int busy;                   /* a sync is running; under lock */
    int logged_in;              /* the sync thread's view of the token; under lock */
    pthread_cond_t idle;
    int session_end, data_changed, now_wanted; /* under lock */
    int64_t changed_at_us;      /* under lock */
    atomic_int playing;
    atomic_int events_stop;
    atomic_int completed, failed;
};

static void timespec_in(struct timespec *ts, int64_t us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += (us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *sync_main(void *arg)
{
    etude_sync_orchestrator_t *o = arg;
    const int64_t poll_us = 500000;
    int64_t last_sync = 0, retry_at = 0, offline_backoff_us = 2000000;
    int64_t seen_version = etude_sync_data_version(o->c);
    int first = 1;
    pthread_mutex_lock(&o->lock);
    while (!o->stopping) {
        struct timespec ts;
        timespec_in(&ts, poll_us);
        pthread_cond_timedwait(&o->wake, &o->lock, &ts);
        if (o->stopping)
            break;
        pthread_mutex_unlock(&o->lock);
        int64_t now = etude_sync_now_us();
        /* Another process (the CLI) committed: a data change, or a login/logout. */
        int64_t v = etude_sync_data_version(o->c);
        int external = v != seen_version;
        seen_version = v;
        etude_sync_reload_token(o->c);
        int li = etude_syncclient_logged_in(o->c);
        pthread_mutex_lock(&o->lock);
        o->logged_in = li;
        pthread_cond_broadcast(&o->idle);
        if (external && !o->data_changed) {
            o->data_changed = 1;
            o->changed_at_us = now;
        }
        int due = first || o->session_end || o->now_wanted ||
                  (o->data_changed && now - o->changed_at_us >= (int64_t)o->cfg.debounce_ms * 1000) ||
                  (last_sync && now - last_sync >= (int64_t)o->cfg.interval_s * 1000000) ||
                  (retry_at && now >= retry_at);
        int wait_play = o->cfg.wait_while_playing && atomic_load(&o->playing);
        if (!due || wait_play || !etude_syncclient_logged_in(o->c)) {
            if (!etude_syncclient_logged_in(o->c))
                first = 0;
            continue;
        }
        first = 0;
        o->session_end = o->now_wanted = o->data_changed = 0;
        o->busy = 1;
        pthread_mutex_unlock(&o->lock);
        etude_sync_stats_t st;
        int rc = etude_syncclient_sync(o->c, 0, etude_sync_now_us() + 120 * 1000000LL, &st);
        seen_version = etude_sync_data_version(o->c);
        now = etude_sync_now_us();
        last_sync = now;
        if (rc) {
            atomic_fetch_add(&o->failed, 1);
            if (rc == ETUDE_SYNC_ENETWORK || rc == ETUDE_SYNC_ESERVER || rc == ETUDE_SYNC_ETIMEOUT ||
                rc == ETUDE_SYNC_EBACKOFF) {
                /* Probe until the network is back, backing off to the periodic interval. */
                retry_at = now + offline_backoff_us;
                offline_backoff_us *= 2;
                if (offline_backoff_us > (int64_t)o->cfg.interval_s * 1000000)
                    offline_backoff_us = (int64_t)o->cfg.interval_s * 1000000;
            } else {
                retry_at = 0;
            }
        } else {
            atomic_fetch_add(&o->completed, 1);
            retry_at = 0;
            offline_backoff_us = 2000000;
        }
        pthread_mutex_lock(&o->lock);
        o->busy = 0;
        pthread_cond_broadcast(&o->idle);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

static void *events_main(void *arg)
{
    etude_sync_orchestrator_t *o = arg;
    while (!atomic_load(&o->events_stop)) {
        etude_sync_reload_token(o->ev);
        int rc = 0;
        if (etude_syncclient_logged_in(o->ev))
            rc = etude_syncclient_wait_events(o->ev, etude_sync_now_us() + 25 * 1000000LL, NULL);
        if (rc == 1) {
            etude_sync_orchestrator_notify(o, ETUDE_SYNC_REASON_NOW);
            continue;
        }
        /* Not logged in, or the stream failed: look again shortly. */
        for (int i = 0; i < 20 && !atomic_load(&o->events_stop); i++) {
            struct timespec t = {0, 100000000};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

int etude_sync_orchestrator_start(const char *home, etude_sync_publish_fn publish, void *ctx,
                                  etude_sync_orchestrator_t **out)
{
    *out = NULL;
    etude_sync_orchestrator_t *o = calloc(1, sizeof *o);
    if (!o)
        return ETUDE_SYNC_ENOMEM;
    snprintf(o->home, sizeof o->home, "%s", home ? home : "");
    o->publish = publish;
    o->ctx = ctx;
    int rc = etude_syncclient_open(home, NULL, &o->c);
    if (!rc)
        rc = etude_syncclient_open(home, NULL, &o->ev);
    if (rc) {
        etude_syncclient_close(o->c);
        etude_syncclient_close(o->ev);
        free(o);
        return rc;
    }
    etude_sync_config_defaults(&o->cfg);
    char err[512];
    etude_sync_config_load(home, &o->cfg, err, sizeof err); /* open() already refused a bad file */
    etude_syncclient_set_publish(o->c, publish, ctx);
    o->logged_in = etude_syncclient_logged_in(o->c); /* drain() may run before the thread's first look */
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->wake, &ca);
    pthread_cond_init(&o->idle, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&o->sync_thread, NULL, sync_main, o) == 0)
        o->have_sync_thread = 1;
    if (pthread_create(&o->events_thread, NULL, events_main, o) == 0)
        o->have_events_thread = 1;
    if (!o->have_sync_thread || !o->have_events_thread) {
        etude_sync_orchestrator_stop(o);
        return ETUDE_SYNC_ENOMEM;
    }
    *out = o;
    return 0;
}

void etude_sync_orchestrator_notify(etude_sync_orchestrator_t *o, int reason)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    if (reason == ETUDE_SYNC_REASON_SESSION_END)
        o->session_end = 1;
    else if (reason == ETUDE_SYNC_REASON_DATA_CHANGED) {
        if (!o->data_changed)
            o->changed_at_us = etude_sync_now_us();
        o->data_changed = 1;
    } else
        o->now_wanted = 1;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
}

void etude_sync_orchestrator_set_playing(etude_sync_orchestrator_t *o, int playing)
{
    if (!o)
        return;
    atomic_store(&o->playing, playing ? 1 : 0);
    if (!playing)
        etude_sync_orchestrator_notify(o, ETUDE_SYNC_REASON_DATA_CHANGED);
}

void etude_sync_orchestrator_counts(etude_sync_orchestrator_t *o, int *completed, int *failed)
{
    if (completed)
        *completed = atomic_load(&o->completed);
    if (failed)
        *failed = atomic_load(&o->failed);
}

void etude_sync_orchestrator_stop(etude_sync_orchestrator_t *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = 1;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    atomic_store(&o->events_stop, 1);
    etude_syncclient_cancel(o->c);
    etude_syncclient_cancel(o->ev);
    if (o->have_sync_thread)
        pthread_join(o->sync_thread, NULL);
    if (o->have_events_thread)
        pthread_join(o->events_thread, NULL);
    etude_syncclient_close(o->c);
    etude_syncclient_close(o->ev);
    pthread_cond_destroy(&o->wake);
    pthread_cond_destroy(&o->idle);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

int etude_sync_orchestrator_drain(etude_sync_orchestrator_t *o, int64_t deadline_us)
{
    if (!o)
        return 0;
    pthread_mutex_lock(&o->lock);
    int rc = 0;
    /* Only a sync that is running or asked for counts; a waiting debounce or period does not. */
    while (o->busy || ((o->session_end || o->now_wanted) && o->logged_in)) {
        if (etude_sync_now_us() >= deadline_us) {
            rc = ETUDE_SYNC_ETIMEOUT;
            break;
        }
        pthread_cond_signal(&o->wake);
        struct timespec ts;
        timespec_in(&ts, 100000);
        pthread_cond_timedwait(&o->idle, &o->lock, &ts);
    }
    pthread_mutex_unlock(&o->lock);
    return rc;
}
