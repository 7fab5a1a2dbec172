/* test_event_batch.c - etude_event_schedule_many(): array order within a batch, all-or-nothing on
 * a full table and on bad input, usable handles, and several producers batching against a running
 * consumer (every event exactly once at its exact frame, each batch's same-frame events together
 * and in array order), through the real engine and process(). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_engine.h"

/* A voice that logs every delivery: the event's id (u.i64[0]), the frame it came at, and a
 * running delivery number. Written by the audio side only, read after it has stopped. */
#define MAXLOG (1u << 17)
typedef struct log_voice {
    etude_engine_t *engine;
    uint32_t n;
    int64_t id[MAXLOG];
    uint64_t frame[MAXLOG];
} log_voice_t;

static void log_event(void *self, const etude_event_t *ev)
{
    log_voice_t *v = self;
    if (v->n < MAXLOG) {
        v->id[v->n] = ev->u.i64[0];
        v->frame[v->n] = etude_engine_audio_frame(v->engine);
    }
    v->n++;
}

static void log_render(void *self, float *const out[2], uint32_t n)
{
    (void)self;
    (void)out;
    (void)n;
}

static const etude_voice_class_t log_class = {.kind = "log", .event = log_event, .render = log_render,
                                              .mono = true};

static float g_l[256], g_r[256];
static float *const g_mix[2] = {g_l, g_r};

static etude_engine_t *make_engine(uint32_t capacity, log_voice_t *v, etude_voice_id_t *vid)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    cfg.event_capacity = capacity;
    cfg.max_period = 256;
    cfg.voice_capacity = 2;
    etude_engine_t *e;
    assert_int_equal(etude_engine_create(&cfg, &e), 0);
    v->engine = e;
    assert_int_equal(etude_voice_add(e, &log_class, v, "log", vid), 0);
    return e;
}

static etude_event_t ev_at(etude_voice_id_t vid, uint64_t frame, int64_t id)
{
    etude_event_t ev = {.frame = frame, .voice = vid, .kind = ETUDE_EV_TRIGGER};
    ev.u.i64[0] = id;
    return ev;
}

static uint32_t pending(etude_engine_t *e)
{
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    return st.events_pending;
}

/* Singles and batches at one frame fire in call order, each batch in array order; other frames
 * fire at their exact frame. */
static void test_order(void **state)
{
    (void)state;
    log_voice_t *v = calloc(1, sizeof *v);
    etude_voice_id_t vid;
    etude_engine_t *e = make_engine(256, v, &vid);
    etude_engine_process(e, 256, g_mix, NULL);
    uint64_t at = etude_engine_now(e) + 300;
    etude_event_t one = ev_at(vid, at, 0);
    assert_int_equal(etude_event_schedule(e, &one, NULL), 0);
    etude_event_t b[10];
    for (int k = 0; k < 10; k++)
        b[k] = ev_at(vid, k % 2 ? at : at - 7 + k, 1 + k); /* odd ones share the frame */
    etude_event_id_t ids[10];
    assert_int_equal(etude_event_schedule_many(e, b, 10, ids), 0);
    one = ev_at(vid, at, 11);
    assert_int_equal(etude_event_schedule(e, &one, NULL), 0);
    for (int k = 0; k < 10; k++)
        assert_int_not_equal(ids[k], 0);
    assert_int_equal(pending(e), 12);
    for (int p = 0; p < 4; p++)
        etude_engine_process(e, 256, g_mix, NULL);
    assert_int_equal(v->n, 12);
    /* At `at`: the single before, the batch's odd members (ids 2..10) in array order, the single
     * after. The even members (ids 1, 3, ..., 9) at their own frames. */
    int64_t want_at[] = {0, 2, 4, 6, 8, 10, 11};
    uint32_t j = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->frame[i] != at) {
            int64_t id = v->id[i];
            assert_true(id >= 1 && id <= 10 && (id - 1) % 2 == 0);
            assert_int_equal(v->frame[i], at - 7 + (uint64_t)(id - 1));
            continue;
        }
        assert_true(j < 7);
        assert_int_equal(v->id[i], want_at[j]);
        j++;
    }
    assert_int_equal(j, 7);
    etude_engine_destroy(e);
    free(v);
}

/* A full table refuses the whole batch; bad input anywhere in it schedules nothing. */
static void test_all_or_nothing(void **state)
{
    (void)state;
    log_voice_t *v = calloc(1, sizeof *v);
    etude_voice_id_t vid;
    etude_engine_t *e = make_engine(8, v, &vid);
    etude_engine_process(e, 256, g_mix, NULL);
    uint64_t at = etude_engine_now(e) + 1000;
    etude_event_t b[9];
    for (int k = 0; k < 9; k++)
        b[k] = ev_at(vid, at + (uint64_t)k, k);
    assert_int_equal(etude_event_schedule_many(e, b, 5, NULL), 0);
    assert_int_equal(pending(e), 5);
    assert_int_equal(etude_event_schedule_many(e, b + 5, 4, NULL), ETUDE_EFULL);
    assert_int_equal(pending(e), 5);
    assert_int_equal(etude_event_schedule_many(e, b, 9, NULL), ETUDE_EFULL);
    assert_int_equal(pending(e), 5);
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    assert_int_equal(st.schedule_full, 2);
    assert_int_equal(st.events_scheduled, 5);
    assert_int_equal(etude_event_schedule_many(e, b + 5, 3, NULL), 0);
    assert_int_equal(pending(e), 8);
    assert_int_equal(etude_event_schedule_many(e, b + 8, 1, NULL), ETUDE_EFULL);
    uint32_t n;
    assert_int_equal(etude_event_clear(e, &n), 0);
    assert_int_equal(n, 8);
    etude_engine_process(e, 256, g_mix, NULL);
    assert_int_equal(pending(e), 0);

    /* Bad kind, voiceless non-marker, stale voice: nothing scheduled. */
    b[3].kind = 0;
    assert_int_equal(etude_event_schedule_many(e, b, 5, NULL), ETUDE_EINVAL);
    b[3] = ev_at(vid, at, 3);
    b[4].voice = 0;
    assert_int_equal(etude_event_schedule_many(e, b, 5, NULL), ETUDE_EINVAL);
    b[4] = ev_at(vid + 1, at, 4); /* slot 1: never used */
    assert_int_equal(etude_event_schedule_many(e, b, 5, NULL), ETUDE_ESTALE);
    assert_int_equal(pending(e), 0);
    assert_int_equal(etude_event_schedule_many(e, NULL, 3, NULL), ETUDE_EINVAL);
    assert_int_equal(etude_event_schedule_many(e, b, ETUDE_EVENT_BATCH_MAX + 1, NULL), ETUDE_EINVAL);
    assert_int_equal(etude_event_schedule_many(e, b, 0, NULL), 0);
    assert_int_equal(etude_event_schedule_many(NULL, b, 1, NULL), ETUDE_EINVAL);
    /* A disposing voice. */
    b[4] = ev_at(vid, at, 4);
    assert_int_equal(etude_voice_dispose(e, vid), 0);
    assert_int_equal(etude_event_schedule_many(e, b, 5, NULL), ETUDE_EDISPOSED);
    assert_int_equal(pending(e), 0);
    etude_engine_destroy(e);
    free(v);
}

/* Batch handles cancel like single ones, and go stale once fired. */
static void test_handles(void **state)
{
    (void)state;
    log_voice_t *v = calloc(1, sizeof *v);
    etude_voice_id_t vid;
    etude_engine_t *e = make_engine(64, v, &vid);
    etude_engine_process(e, 256, g_mix, NULL);
    uint64_t at = etude_engine_now(e) + 10;
    etude_event_t b[6];
    for (int k = 0; k < 6; k++)
        b[k] = ev_at(vid, at + (uint64_t)k, k);
    etude_event_id_t ids[6];
    assert_int_equal(etude_event_schedule_many(e, b, 6, ids), 0);
    assert_int_equal(etude_event_cancel(e, ids[1]), 0);
    assert_int_equal(etude_event_cancel(e, ids[4]), 0);
    assert_int_equal(etude_event_cancel(e, ids[4]), ETUDE_EDONE);
    etude_engine_process(e, 256, g_mix, NULL);
    assert_int_equal(v->n, 4);
    int64_t want[] = {0, 2, 3, 5};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(v->id[i], want[i]);
        assert_int_equal(v->frame[i], at + (uint64_t)want[i]);
    }
    assert_int_equal(etude_event_cancel(e, ids[0]), ETUDE_EDONE);
    assert_int_equal(pending(e), 0);
    etude_engine_destroy(e);
    free(v);
}

/* Several producers, each mixing batches and single calls, against a consumer running periods. */
#define PRODUCERS 3
#define PER_PRODUCER 20000
#define CAPACITY 1024

struct shared {
    etude_engine_t *e;
    etude_voice_id_t vid;
    _Atomic uint64_t water[PRODUCERS]; /* producer i schedules only at frames > water[i] */
    _Atomic int busy; /* producers inside a schedule call; the consumer starts a period only at 0
                       * (after loading the waters): the engine waits for a producer caught
                       * between claim and publish before it takes in later arrivals, so this
                       * keeps those later events from being rendered past meanwhile (see
                       * test_event_stress.c) */
    _Atomic int done;
};

struct producer {
    struct shared *s;
    int index;
    uint32_t nbatch;
    int error;
    uint32_t first_of_batch[PER_PRODUCER]; /* event k's batch starts at this k */
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    struct shared *s = p->s;
    uint32_t x = 777u + (uint32_t)p->index * 1000u;
    etude_event_t b[16];
    uint32_t k = 0;
    while (k < PER_PRODUCER) {
        uint64_t floor = atomic_load(&s->water[p->index]);
        x = x * 1103515245u + 12345u;
        uint32_t want = 1 + (x >> 16) % 16;
        if (want > PER_PRODUCER - k)
            want = PER_PRODUCER - k;
        uint64_t frame = floor + 1 + (x >> 8) % 700;
        for (uint32_t j = 0; j < want; j++) {
            /* about half the batch at one frame, the rest spread */
            uint64_t f = j % 2 ? frame : frame + j * 3;
            b[j] = ev_at(s->vid, f, ((int64_t)p->index << 32) | (k + j));
            p->first_of_batch[k + j] = k;
        }
        int r;
        atomic_fetch_add(&s->busy, 1);
        if (want == 1 && (x & 0x100))
            r = etude_event_schedule(s->e, &b[0], NULL);
        else
            r = etude_event_schedule_many(s->e, b, want, NULL);
        atomic_fetch_sub(&s->busy, 1);
        if (r == ETUDE_EFULL) {
            /* Let the consumer move on (it waits for every watermark) so that slots come free. */
            uint64_t now = etude_engine_now(s->e);
            atomic_store(&s->water[p->index], now + 512 > floor ? now + 512 : floor);
            sched_yield();
            continue;
        }
        if (r != 0) {
            p->error = r;
            break;
        }
        k += want;
        p->nbatch++;
        /* Later batches go after what the consumer may render next. */
        uint64_t now = etude_engine_now(s->e);
        uint64_t w = now + 512 > floor ? now + 512 : floor;
        atomic_store(&s->water[p->index], w);
    }
    atomic_store(&s->water[p->index], UINT64_MAX);
    return NULL;
}

static void *consumer_main(void *arg)
{
    struct shared *s = arg;
    for (;;) {
        uint64_t end = etude_engine_now(s->e) + 256;
        uint64_t low = UINT64_MAX;
        for (int i = 0; i < PRODUCERS; i++) {
            uint64_t w = atomic_load(&s->water[i]);
            if (w < low)
                low = w;
        }
        if (low == UINT64_MAX) {
            etude_engine_stats_t st;
            etude_engine_stats(s->e, &st);
            if (st.events_pending == 0)
                break;
        } else if (low < end || atomic_load(&s->busy) != 0) {
            sched_yield();
            continue;
        }
        etude_engine_process(s->e, 256, g_mix, NULL);
        etude_engine_tick(s->e);
    }
    return NULL;
}

static void test_producers(void **state)
{
    (void)state;
    log_voice_t *v = calloc(1, sizeof *v);
    struct shared *s = calloc(1, sizeof *s);
    struct producer *pr = calloc(PRODUCERS, sizeof *pr);
    s->e = make_engine(CAPACITY, v, &s->vid);
    etude_engine_process(s->e, 256, g_mix, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        atomic_init(&s->water[i], etude_engine_now(s->e) + 256);
    pthread_t th[PRODUCERS], cons;
    assert_int_equal(pthread_create(&cons, NULL, consumer_main, s), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        pr[i].s = s;
        pr[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, producer_main, &pr[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    pthread_join(cons, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pr[i].error, 0);

    uint32_t total = PRODUCERS * PER_PRODUCER;
    assert_int_equal(v->n, total);
    /* Exactly once; frames in order; each batch's same-frame events back to back in array order. */
    uint8_t *seen = calloc(total, 1);
    for (uint32_t i = 0; i < total; i++) {
        int p = (int)(v->id[i] >> 32);
        uint32_t k = (uint32_t)(v->id[i] & 0xffffffff);
        assert_true(p >= 0 && p < PRODUCERS && k < PER_PRODUCER);
        assert_int_equal(seen[p * PER_PRODUCER + k], 0);
        seen[p * PER_PRODUCER + k] = 1;
        if (i)
            assert_true(v->frame[i - 1] <= v->frame[i]);
        uint32_t first = pr[p].first_of_batch[k];
        if ((k - first) % 2 == 1) {
            /* Members 0, 1, 3, 5, ... of a batch share a frame: the one before in that list fired
             * right before this one. */
            uint32_t prev = k - first == 1 ? first : k - 2;
            assert_true(i > 0);
            assert_int_equal(v->id[i - 1], ((int64_t)p << 32) | prev);
            assert_int_equal(v->frame[i - 1], v->frame[i]);
        }
    }
    free(seen);
    etude_engine_stats_t st;
    etude_engine_stats(s->e, &st);
    assert_int_equal(st.events_scheduled, total);
    assert_int_equal(st.events_dispatched, total);
    assert_int_equal(st.events_late, 0);
    assert_int_equal(st.events_pending, 0);
    etude_engine_destroy(s->e);
    free(pr);
    free(s);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
