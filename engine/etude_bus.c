/* etude_bus.c - the event bus: topic notifications, a bounded history with per-topic limits, and
 * subscriptions, all behind one mutex (never taken on the audio thread). */
#include "etude_bus.h"
#include "etude_engine.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A topic's record: its limit and its messages in history, oldest first. Records of topics with
 * no message and no explicit limit are freed, so publishing under ever new topic names stays
 * bounded (at most ETUDE_BUS_HISTORY records with messages, plus the ones with a set limit). */
typedef struct bus_topic {
    struct bus_topic *next;
    struct bus_msg *head, *tail;
    size_t count;
    size_t limit;
    bool explicit_limit;
    char name[];
} bus_topic_t;

/* One message, its strings stored after it in the same block. refs: one for the history, one per
 * publisher still running callbacks with it; freed when both are gone. */
typedef struct bus_msg {
    etude_bus_msg_t m;
    struct bus_msg *gprev, *gnext; /* history order */
    struct bus_msg *tprev, *tnext; /* order within its topic */
    bus_topic_t *topic;
    unsigned refs;
    char data[];
} bus_msg_t;

typedef struct bus_sub {
    struct bus_sub *next;
    uint64_t handle;
    etude_bus_fn fn;
    void *user;
    const void *owner;
    unsigned refs;  /* the list's reference plus deliveries in flight */
    bool removed;
    char topic[];
} bus_sub_t;

struct etude_bus {
    pthread_mutex_t lock;
    bus_msg_t *head, *tail; /* history, oldest first */
    size_t count;
    bus_topic_t *topics;
    bus_sub_t *subs;
    size_t nsubs;
    uint64_t next_seq;
    uint64_t next_handle;
    uint64_t dropped;
};

static size_t default_limit(const char *topic)
{
    if (!strcmp(topic, "debug"))
        return 100;
    if (!strcmp(topic, "meter") || !strcmp(topic, "position"))
        return 50;
    if (!strcmp(topic, "error"))
        return 500;
    return ETUDE_BUS_HISTORY;
}

static bus_topic_t *topic_find(etude_bus_t *bus, const char *name)
{
    for (bus_topic_t *t = bus->topics; t; t = t->next)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

static bus_topic_t *topic_get(etude_bus_t *bus, const char *name)
{
    bus_topic_t *t = topic_find(bus, name);
    if (t)
        return t;
    size_t len = strlen(name);
    t = calloc(1, sizeof *t + len + 1);
    if (!t)
        return NULL;
    memcpy(t->name, name, len + 1);
    t->limit = default_limit(name);
    t->next = bus->topics;
    bus->topics = t;
    return t;
}

static void topic_prune(etude_bus_t *bus, bus_topic_t *t)
{
    if (t->count || t->explicit_limit)
        return;
    for (bus_topic_t **p = &bus->topics; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            free(t);
            return;
        }
    }
}

static void msg_unref(bus_msg_t *m)
{
    if (--m->refs == 0)
        free(m);
}

/* Takes a message out of history (lock held). Its topic record is freed when it empties, unless
 * it is keep (the topic a caller is still working on). */
static void history_remove(etude_bus_t *bus, bus_msg_t *m, const bus_topic_t *keep)
{
    bus_topic_t *t = m->topic;
    if (m->gprev)
        m->gprev->gnext = m->gnext;
    else
        bus->head = m->gnext;
    if (m->gnext)
        m->gnext->gprev = m->gprev;
    else
        bus->tail = m->gprev;
    if (m->tprev)
        m->tprev->tnext = m->tnext;
    else
        t->head = m->tnext;
    if (m->tnext)
        m->tnext->tprev = m->tprev;
    else
        t->tail = m->tprev;
    bus->count--;
    t->count--;
    m->topic = NULL;
    if (t != keep)
        topic_prune(bus, t);
    msg_unref(m);
}

etude_bus_t *etude_bus_create(void)
{
    etude_bus_t *bus = calloc(1, sizeof *bus);
    if (!bus)
        return NULL;
    if (pthread_mutex_init(&bus->lock, NULL)) {
        free(bus);
        return NULL;
    }
    bus->next_seq = 1;
    bus->next_handle = 1;
    return bus;
}

void etude_bus_destroy(etude_bus_t *bus)
{
    if (!bus)
        return;
    while (bus->head)
        history_remove(bus, bus->head, NULL);
    while (bus->topics) {
        bus_topic_t *t = bus->topics;
        bus->topics = t->next;
        free(t);
    }
    while (bus->subs) {
        bus_sub_t *s = bus->subs;
        bus->subs = s->next;
        free(s);
    }
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool sub_matches(const bus_sub_t *s, const char *topic)
{
    return !s->removed && (!strcmp(s->topic, "*") || !strcmp(s->topic, topic));
}

uint64_t etude_bus_publish(etude_bus_t *bus, const char *topic, const char *name, const char *json)
{
    if (!bus || !topic || !name)
        return 0;
    if (!json)
        json = "{}";
    size_t lt = strlen(topic) + 1, ln = strlen(name) + 1, lj = strlen(json) + 1;
    bus_msg_t *m = malloc(sizeof *m + lt + ln + lj);
    pthread_mutex_lock(&bus->lock);
    bus_topic_t *t = m ? topic_get(bus, topic) : NULL;
    if (!t) {
        bus->dropped++;
        pthread_mutex_unlock(&bus->lock);
        free(m);
        return 0;
    }
    memset(m, 0, sizeof *m);
    char *p = m->data;
    memcpy(p, topic, lt);
    m->m.topic = p;
    memcpy(p + lt, name, ln);
    m->m.name = p + lt;
    memcpy(p + lt + ln, json, lj);
    m->m.json = p + lt + ln;
    m->m.seq = bus->next_seq++;
    m->m.time_us = now_us();
    m->topic = t;
    m->refs = 1;

    /* Make room: the topic's own limit first, then the overall one. */
    while (t->count >= t->limit && t->head)
        history_remove(bus, t->head, t);
    m->gprev = bus->tail;
    if (bus->tail)
        bus->tail->gnext = m;
    else
        bus->head = m;
    bus->tail = m;
    m->tprev = t->tail;
    if (t->tail)
        t->tail->tnext = m;
    else
        t->head = m;
    t->tail = m;
    t->count++;
    bus->count++;
    while (bus->count > ETUDE_BUS_HISTORY)
        history_remove(bus, bus->head, t);

    /* Snapshot the matching subscriptions, so callbacks run without the lock held. */
    size_t n = 0;
    bus_sub_t *local[16];
    bus_sub_t **snap = local;
    for (bus_sub_t *s = bus->subs; s; s = s->next)
        n += sub_matches(s, topic);
    if (n > sizeof local / sizeof local[0]) {
        snap = malloc(n * sizeof *snap);
        if (!snap) {
            n = 0; /* stored in history, but not delivered */
            bus->dropped++;
        }
    }
    size_t k = 0;
    for (bus_sub_t *s = bus->subs; s && k < n; s = s->next) {
        if (sub_matches(s, topic)) {
            s->refs++;
            snap[k++] = s;
        }
    }
    uint64_t seq = m->m.seq;
    if (k)
        m->refs++;
    pthread_mutex_unlock(&bus->lock);

    if (!k)
        return seq;
    for (size_t i = 0; i < k; i++) {
        pthread_mutex_lock(&bus->lock);
        bool live = !snap[i]->removed;
        pthread_mutex_unlock(&bus->lock);
        if (live)
            snap[i]->fn(snap[i]->user, &m->m);
    }
    pthread_mutex_lock(&bus->lock);
    for (size_t i = 0; i < k; i++)
        if (--snap[i]->refs == 0)
            free(snap[i]);
    msg_unref(m);
    pthread_mutex_unlock(&bus->lock);
    if (snap != local)
        free(snap);
    return seq;
}

uint64_t etude_bus_subscribe(etude_bus_t *bus, const char *topic, etude_bus_fn fn, void *user,
                             const void *owner)
{
    if (!bus || !topic || !fn)
        return 0;
    size_t len = strlen(topic);
    bus_sub_t *s = calloc(1, sizeof *s + len + 1);
    if (!s)
        return 0;
    memcpy(s->topic, topic, len + 1);
    s->fn = fn;
    s->user = user;
    s->owner = owner;
    s->refs = 1;
    pthread_mutex_lock(&bus->lock);
    s->handle = bus->next_handle++;
    /* Appended, so subscribers are called in subscription order. */
    bus_sub_t **p = &bus->subs;
    while (*p)
        p = &(*p)->next;
    *p = s;
    bus->nsubs++;
    uint64_t h = s->handle;
    pthread_mutex_unlock(&bus->lock);
    return h;
}

/* Unlinks *p (lock held); the record is freed once no delivery holds it. */
static void sub_unlink(etude_bus_t *bus, bus_sub_t **p)
{
    bus_sub_t *s = *p;
    *p = s->next;
    s->removed = true;
    bus->nsubs--;
    if (--s->refs == 0)
        free(s);
}

int etude_bus_unsubscribe(etude_bus_t *bus, uint64_t handle)
{
    if (!bus || !handle)
        return ETUDE_EINVAL;
    int rc = ETUDE_ENOTFOUND;
    pthread_mutex_lock(&bus->lock);
    for (bus_sub_t **p = &bus->subs; *p; p = &(*p)->next) {
        if ((*p)->handle == handle) {
            sub_unlink(bus, p);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&bus->lock);
    return rc;
}

size_t etude_bus_unsubscribe_owner(etude_bus_t *bus, const void *owner)
{
    if (!bus)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&bus->lock);
    for (bus_sub_t **p = &bus->subs; *p;) {
        if ((*p)->owner == owner) {
            sub_unlink(bus, p);
            n++;
        } else {
            p = &(*p)->next;
        }
    }
    pthread_mutex_unlock(&bus->lock);
    return n;
}

static bool all_topics(const char *topic)
{
    return !topic || !strcmp(topic, "*");
}

size_t etude_bus_history(etude_bus_t *bus, const char *topic, etude_bus_msg_t *out, size_t max)
{
    if (!bus || !out || !max)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&bus->lock);
    bus_msg_t *m;
    if (all_topics(topic)) {
        m = bus->head;
    } else {
        bus_topic_t *t = topic_find(bus, topic);
        m = t ? t->head : NULL;
    }
    bool all = all_topics(topic);
    for (; m && n < max; m = all ? m->gnext : m->tnext) {
        size_t lt = strlen(m->m.topic) + 1, ln = strlen(m->m.name) + 1, lj = strlen(m->m.json) + 1;
        char *block = malloc(lt + ln + lj);
        if (!block)
            break;
        memcpy(block, m->m.topic, lt);
        memcpy(block + lt, m->m.name, ln);
        memcpy(block + lt + ln, m->m.json, lj);
        out[n] = m->m;
        out[n].topic = block;
        out[n].name = block + lt;
        out[n].json = block + lt + ln;
        n++;
    }
    pthread_mutex_unlock(&bus->lock);
    return n;
}

void etude_bus_msgs_free(etude_bus_msg_t *msgs, size_t n)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < n; i++) {
        free((void *)msgs[i].topic); /* the block holding all three strings */
        msgs[i].topic = msgs[i].name = msgs[i].json = NULL;
    }
}

size_t etude_bus_count(etude_bus_t *bus, const char *topic)
{
    if (!bus)
        return 0;
    pthread_mutex_lock(&bus->lock);
    size_t n;
    if (all_topics(topic)) {
        n = bus->count;
    } else {
        bus_topic_t *t = topic_find(bus, topic);
        n = t ? t->count : 0;
    }
    pthread_mutex_unlock(&bus->lock);
    return n;
}

size_t etude_bus_subscriptions(etude_bus_t *bus)
{
    if (!bus)
        return 0;
    pthread_mutex_lock(&bus->lock);
    size_t n = bus->nsubs;
    pthread_mutex_unlock(&bus->lock);
    return n;
}

uint64_t etude_bus_dropped(etude_bus_t *bus)
{
    if (!bus)
        return 0;
    pthread_mutex_lock(&bus->lock);
    uint64_t n = bus->dropped;
    pthread_mutex_unlock(&bus->lock);
    return n;
}

int etude_bus_set_limit(etude_bus_t *bus, const char *topic, size_t limit)
{
    if (!bus || !topic || all_topics(topic) || limit == 0 || limit > ETUDE_BUS_HISTORY)
        return ETUDE_EINVAL;
    pthread_mutex_lock(&bus->lock);
    bus_topic_t *t = topic_get(bus, topic);
    if (!t) {
        pthread_mutex_unlock(&bus->lock);
        return ETUDE_ENOMEM;
    }
    t->limit = limit;
    t->explicit_limit = true;
    while (t->count > t->limit)
        history_remove(bus, t->head, t);
    pthread_mutex_unlock(&bus->lock);
    return 0;
}
