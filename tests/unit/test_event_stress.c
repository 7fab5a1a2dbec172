/* test_event_stress.c - four producer threads schedule and cancel at least 10^6 events against a
 * consumer thread running periods, while a fifth control thread keeps adding and disposing a voice
 * that a quarter of the events target; every event fires exactly once at exactly its frame or was
 * reported cancelled (one by one, by tag, or by its voice's disposal) or dropped because its voice
 * was being disposed, and the counts reconcile with etude_engine_stats(). Built for TSan.
 *
 * ETUDE_STRESS_EVENTS overrides the number of events (default 1000000, in every build).
 *
 * No event may fire late, whatever the scheduling of the threads: each producer publishes a
 * watermark W (it only schedules at frames > W, and raises W after its schedule calls have
 * returned), and the consumer only renders a period that ends at or before every producer's W,
 * and only starts one at a moment when no producer is inside etude_event_schedule() (busy == 0;
 * it loads the watermarks first). The engine takes events in strictly in arrival order and waits
 * for a producer caught between its claim and its publish, so an event claimed after such a hole
 * is not taken in before the hole is filled: were the consumer to render past that event's frame
 * meanwhile, it would fire late. With busy == 0 after the watermarks were loaded, every claim made
 * so far is published, and any claim made later carries a frame above its producer's watermark,
 * hence above the range rendered.
 * Producers never wait for the consumer to finish anything; they only stop getting ahead of it
 * by more than LEAD frames, so the run stays short.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "etude_engine.h"

#define PRODUCERS 4
#define PERIOD 256u
#define SPAN 2048u   /* events land in (W, W + SPAN] */
#define ADV 32u      /* W advances by this much after each batch */
#define BATCH 16
#define LEAD 2048u   /* a producer's W stays at most this far ahead of the consumer */
#define RECENT 1024  /* the last handles a producer keeps, to cancel at random */

typedef struct shared {
    etude_engine_t *e;
    etude_voice_id_t vid;
    uint64_t total, per;
    uint64_t *frame_of;    /* written by the producer before scheduling, read by the audio thread */
    uint8_t *fired;        /* audio thread only */
    uint8_t *cancelled;    /* the producer of that id only */
    uint64_t wrong_frame;  /* audio thread only */
    uint64_t unknown_id;   /* audio thread only */
    _Atomic uint64_t wm[PRODUCERS];
    _Atomic uint64_t consumer_now;
    _Atomic int busy; /* producers inside etude_event_schedule() */
    _Atomic uint64_t last_success; /* consumer_now at some producer's latest accepted schedule */
    uint64_t periods;
    _Atomic uint64_t churn_vid; /* the churning voice's handle, 0 between voices */
    _Atomic int producers_left;
    uint64_t churn_cycles, churn_errors; /* churn thread only */
} shared_t;

typedef struct producer {
    shared_t *s;
    int index;
    uint64_t scheduled, cancelled_one, tag_cancelled, full, done_answers, errors, refused;
    int stuck; /* gave up: the table stayed full while the consumer ran on */
} producer_t;


static void v_event(void *self, const etude_event_t *ev)
{
    shared_t *s = self;
    uint64_t id = (uint64_t)ev->u.i64[0];
    if (id >= s->total) {
        s->unknown_id++;
        return;
    }
    if (s->fired[id] < 255)
        s->fired[id]++;
    if (etude_engine_audio_frame(s->e) != s->frame_of[id] || ev->frame != s->frame_of[id])
        s->wrong_frame++;
}

static void v_render(void *self, float *const out[2], uint32_t n)
{
    (void)self;
    (void)out;
    (void)n;
}

static const etude_voice_class_t v_class = {.kind = "counter", .event = v_event, .render = v_render,
                                             .mono = true};

/* The churning voice: records into the same tables; its object is freed by dispose. */
typedef struct churn_voice {
    shared_t *s;
} churn_voice_t;

static void cv_event(void *self, const etude_event_t *ev) { v_event(((churn_voice_t *)self)->s, ev); }

static void cv_dispose(void *self) { free(self); }

static const etude_voice_class_t cv_class = {.kind = "churn", .event = cv_event, .render = v_render,
                                              .dispose = cv_dispose, .mono = true};

static uint64_t consumer_at(shared_t *s)
{
    return atomic_load_explicit(&s->consumer_now, memory_order_acquire);
}

/* The control thread of the voice: add, let it play 4096 frames, dispose, tick until freed. */
static void *churn_main(void *arg)
{
    shared_t *s = arg;
    do { /* at least once, however short the run */
        churn_voice_t *cv = malloc(sizeof *cv);
        cv->s = s;
        etude_voice_id_t id;
        if (etude_voice_add(s->e, &cv_class, cv, "churn", &id) != 0) {
            free(cv);
            s->churn_errors++;
            break;
        }
        atomic_store(&s->churn_vid, id);
        uint64_t until = consumer_at(s) + 4096;
        while (consumer_at(s) < until && atomic_load(&s->producers_left) > 0) {
            if (etude_engine_tick(s->e) != 0)
                s->churn_errors++;
            sched_yield();
        }
        atomic_store(&s->churn_vid, 0);
        if (etude_voice_dispose(s->e, id) != 0)
            s->churn_errors++;
        int freed = 0;
        while (!freed && atomic_load(&s->producers_left) > 0) {
            freed = etude_engine_tick(s->e);
            sched_yield();
        }
        s->churn_cycles++;
    } while (atomic_load(&s->producers_left) > 0);
    return NULL;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    shared_t *s = p->s;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(p->index + 1);
    uint64_t base = (uint64_t)p->index * s->per, k = 0;
    uint64_t W = atomic_load_explicit(&s->wm[p->index], memory_order_acquire);
    uint64_t *rid = calloc(RECENT, sizeof *rid);
    etude_event_id_t *rh = calloc(RECENT, sizeof *rh);
    uint32_t nrecent = 0;
    uint32_t tag = (uint32_t)p->index + 1;
    while (k < s->per) {
        for (int b = 0; b < BATCH && k < s->per; b++) {
            uint64_t id = base + k;
            uint64_t f = W + 1 + rng_next(&rng) % SPAN;
            s->frame_of[id] = f;
            etude_event_t ev = {.frame = f, .voice = s->vid, .kind = ETUDE_EV_TRIGGER, .tag = tag};
            ev.u.i64[0] = (int64_t)id;
            bool churn = false;
            if (rng_next(&rng) % 4 == 0) {
                uint64_t c = atomic_load(&s->churn_vid);
                if (c) {
                    ev.voice = c;
                    churn = true;
                }
            }
            etude_event_id_t h;
            atomic_fetch_add(&s->busy, 1);
            int r = etude_event_schedule(s->e, &ev, &h);
            atomic_fetch_sub(&s->busy, 1);
            if (churn && (r == ETUDE_EDISPOSED || r == ETUDE_ESTALE)) {
                p->refused++; /* the voice went away between the load and the schedule */
                continue;
            }
            if (r == ETUDE_EFULL) {
                /* Every pending event is due within SPAN + LEAD frames of the consumer, so if no
                 * producer at all got a slot while the consumer went well past that, slots leak.
                 * (One producer alone may lose the race for freed slots for a while.) */
                uint64_t cnow = atomic_load_explicit(&s->consumer_now, memory_order_acquire);
                if (cnow > atomic_load(&s->last_success) + 4 * (SPAN + LEAD))
                    goto stuck;
                p->full++;
                break;
            }
            atomic_store(&s->last_success, atomic_load_explicit(&s->consumer_now, memory_order_acquire));
            if (r != 0) {
                p->errors++;
                break;
            }
            p->scheduled++;
            k++;
            uint32_t slot = (uint32_t)(k % RECENT);
            if (nrecent < RECENT)
                nrecent++;
            rid[slot] = id;
            rh[slot] = h;
            if (rng_next(&rng) % 3 == 0) {
                uint32_t j = (uint32_t)(rng_next(&rng) % nrecent);
                if (rh[j] != 0 && !s->cancelled[rid[j]]) {
                    r = etude_event_cancel(s->e, rh[j]);
                    if (r == 0) {
                        s->cancelled[rid[j]] = 1;
                        p->cancelled_one++;
                    } else if (r == ETUDE_EDONE || r == ETUDE_ESTALE) {
                        p->done_answers++; /* fired, or cancelled by a tag sweep */
                    } else {
                        p->errors++;
                    }
                    rh[j] = 0;
                }
            }
        }
        if (rng_next(&rng) % 8192 == 0) {
            uint32_t n = 0;
            if (etude_event_cancel_tag(s->e, tag, &n) != 0)
                p->errors++;
            p->tag_cancelled += n;
        }
        while (W + ADV > atomic_load_explicit(&s->consumer_now, memory_order_acquire) + LEAD)
            sched_yield();
        W += ADV;
        atomic_store_explicit(&s->wm[p->index], W, memory_order_release);
    }
    if (0) {
stuck:
        p->errors++;
        p->stuck = 1;
    }
    atomic_store_explicit(&s->wm[p->index], UINT64_MAX, memory_order_release);
    atomic_fetch_sub(&s->producers_left, 1);
    free(rid);
    free(rh);
    return NULL;
}

static void *consumer_main(void *arg)
{
    shared_t *s = arg;
    static float l[PERIOD], r[PERIOD];
    float *const mix[2] = {l, r};
    uint64_t now = etude_engine_now(s->e), tail_periods = 0;
    for (;;) {
        uint64_t min = UINT64_MAX;
        for (int i = 0; i < PRODUCERS; i++) {
            uint64_t w = atomic_load(&s->wm[i]);
            if (w < min)
                min = w;
        }
        if (min == UINT64_MAX) {
            /* everything is scheduled: run until the table is empty, but not forever (a slot
             * that is never returned fails the checks instead of hanging the test) */
            etude_engine_stats_t st;
            etude_engine_stats(s->e, &st);
            if (st.events_pending == 0 || tail_periods++ > (SPAN + LEAD) / PERIOD + 16)
                break;
        } else if (now + PERIOD > min || atomic_load(&s->busy) != 0) {
            sched_yield();
            continue;
        }
        etude_engine_process(s->e, PERIOD, mix, NULL);
        s->periods++;
        now += PERIOD;
        atomic_store_explicit(&s->consumer_now, now, memory_order_release);
    }
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    shared_t *s = calloc(1, sizeof *s);
    const char *env = getenv("ETUDE_STRESS_EVENTS");
    s->total = env ? strtoull(env, NULL, 10) : 1000000u;
    if (s->total < PRODUCERS)
        s->total = PRODUCERS;
    s->per = s->total / PRODUCERS;
    s->total = s->per * PRODUCERS;
    s->frame_of = calloc(s->total, sizeof *s->frame_of);
    s->fired = calloc(s->total, 1);
    s->cancelled = calloc(s->total, 1);
    assert_non_null(s->frame_of);
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    cfg.event_capacity = 4096; /* small enough that producers meet ETUDE_EFULL now and then */
    cfg.max_period = PERIOD;
    cfg.voice_capacity = 2;
    assert_int_equal(etude_engine_create(&cfg, &s->e), 0);
    assert_int_equal(etude_voice_add(s->e, &v_class, s, "counter", &s->vid), 0);
    static float l[PERIOD], r[PERIOD];
    etude_engine_process(s->e, PERIOD, (float *const[2]){l, r}, NULL); /* activate the voice */
    atomic_store(&s->consumer_now, etude_engine_now(s->e));
    for (int i = 0; i < PRODUCERS; i++)
        atomic_store(&s->wm[i], etude_engine_now(s->e));

    producer_t pr[PRODUCERS] = {0};
    pthread_t th[PRODUCERS], cons, churn;
    atomic_store(&s->producers_left, PRODUCERS);
    assert_int_equal(pthread_create(&cons, NULL, consumer_main, s), 0);
    assert_int_equal(pthread_create(&churn, NULL, churn_main, s), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        pr[i].s = s;
        pr[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, producer_main, &pr[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    pthread_join(churn, NULL);
    pthread_join(cons, NULL);
    /* No audio thread any more: dispose_all drives the last fade itself. */
    assert_int_equal(etude_engine_dispose_all(s->e, 30000), 0);

    uint64_t scheduled = 0, cancelled_one = 0, tag_cancelled = 0, full = 0, errors = 0, done = 0;
    uint64_t refused = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        scheduled += pr[i].scheduled;
        cancelled_one += pr[i].cancelled_one;
        tag_cancelled += pr[i].tag_cancelled;
        full += pr[i].full;
        errors += pr[i].errors;
        done += pr[i].done_answers;
        refused += pr[i].refused;
    }
    uint64_t fired = 0, twice = 0, fired_and_cancelled = 0;
    for (uint64_t id = 0; id < s->total; id++) {
        fired += s->fired[id];
        twice += s->fired[id] > 1;
        fired_and_cancelled += s->fired[id] && s->cancelled[id];
    }
    etude_engine_stats_t st;
    etude_engine_stats(s->e, &st);
    printf("stress: late %llu, wrong frame %llu\n", (unsigned long long)st.events_late,
           (unsigned long long)s->wrong_frame);
    printf("stress: %llu events scheduled by %d producers, %llu fired, %llu cancelled one by one, "
           "%llu by tag, %llu EFULL answers, %llu EDONE/ESTALE answers, %llu periods\n",
           (unsigned long long)scheduled, PRODUCERS, (unsigned long long)fired,
           (unsigned long long)cancelled_one, (unsigned long long)tag_cancelled,
           (unsigned long long)full, (unsigned long long)done, (unsigned long long)s->periods);
    printf("stress: %llu voices added and disposed meanwhile, %llu events cancelled by disposal, "
           "%llu dropped (voice disposing), %llu refused (voice gone)\n",
           (unsigned long long)s->churn_cycles,
           (unsigned long long)(st.events_cancelled - cancelled_one - tag_cancelled),
           (unsigned long long)st.events_dropped, (unsigned long long)refused);
    for (int i = 0; i < PRODUCERS; i++)
        if (pr[i].stuck)
            printf("stress: producer %d gave up: the table stayed full\n", i);
    assert_int_equal(errors, 0);
    assert_int_equal(s->churn_errors, 0);
    assert_true(s->churn_cycles > 0);
    assert_int_equal(s->unknown_id, 0);
    assert_int_equal(scheduled, s->total);
    assert_int_equal(twice, 0);
    assert_int_equal(fired_and_cancelled, 0);
    assert_int_equal(s->wrong_frame, 0);
    /* every event fired once, or was cancelled, or dropped because its voice was disposing:
     * nothing lost, nothing doubled */
    assert_int_equal(st.events_scheduled, scheduled);
    assert_int_equal(st.events_dispatched, fired);
    assert_true(st.events_cancelled >= cancelled_one + tag_cancelled);
    assert_int_equal(fired + st.events_cancelled + st.events_dropped, scheduled);
    assert_int_equal(st.voices_in_use, 0);
    assert_int_equal(st.events_late, 0);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.schedule_full, full);
    assert_true(cancelled_one > 0);
    etude_engine_destroy(s->e);
    free(s->frame_of);
    free(s->fired);
    free(s->cancelled);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stress)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
