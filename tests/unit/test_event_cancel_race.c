/* test_event_cancel_race.c - a cancel that meets the dispatch of its own event. The audio thread
 * fires without a locked instruction when the process is registered for membarrier(2): it marks
 * the slot, loads its state again, and fires with a plain store if the event is still pending; a
 * canceller whose CAS succeeded then runs a membarrier and, if it sees the mark, waits for the
 * audio thread's decision (etude_event.c, fire() and cancel_resolve()). The promise either way:
 * etude_event_cancel() returns ETUDE_OK if and only if the event is never delivered, and the slot
 * returns to the table exactly once.
 *
 * The engine's fire hook holds the audio thread at the two points of the window while a second
 * thread cancels:
 *   - stage 0 (marked, deciding load not made): the cancel's CAS lands first; the dispatch must
 *     see it and drop the event, and the cancel must answer ETUDE_OK;
 *   - stage 1 (deciding load found it pending): the cancel's CAS still succeeds on the state
 *     word, but the audio thread has decided; the cancel must answer ETUDE_EDONE, the event must
 *     be delivered once and its slot freed once.
 * Checked against two broken variants: a cancel that trusts its CAS alone (cancel_slot() without
 * membarrier and cancel_resolve()): stage 1 answered ETUDE_OK (0) for an event that was delivered;
 * a fire() that decides on its first load of the state word instead of a load after the mark:
 * stage 0 delivered the event its cancel had already turned CANCELLED (the cancel, waiting on
 * the mark, then answered ETUDE_EDONE instead of ETUDE_OK).
 * A third case runs many cancels against dispatches with no hook, under both protocols
 * (etude_event_force_cas), and checks the same promise on every event.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "etude_engine.h"
#include "etude_engine_internal.h"
#include "etude_engine_test.h"

#define PERIOD 256u
#define RATE 48000u

static _Atomic uint32_t g_delivered[4096];

static void count_event(void *self, const etude_event_t *ev)
{
    (void)self;
    atomic_fetch_add(&g_delivered[ev->u.i64[0] & 4095], 1);
}

static void quiet_render(void *self, float *const out[2], uint32_t n)
{
    (void)self;
    (void)out;
    (void)n;
}

static const etude_voice_class_t count_class = {.kind = "count", .event = count_event,
                                                .render = quiet_render, .mono = true};

static float g_l[PERIOD], g_r[PERIOD];
static float *const g_mix[2] = {g_l, g_r};

typedef struct fixture {
    etude_engine_t *e;
    etude_voice_id_t vid;
} fixture_t;

static fixture_t *make(void)
{
    fixture_t *f = calloc(1, sizeof *f);
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = PERIOD;
    cfg.event_capacity = 4096;
    cfg.voice_capacity = 2;
    assert_int_equal(etude_engine_create(&cfg, &f->e), 0);
    assert_int_equal(etude_voice_add(f->e, &count_class, NULL, "count", &f->vid), 0);
    etude_engine_process(f->e, PERIOD, g_mix, NULL); /* activates the voice */
    for (size_t i = 0; i < 4096; i++)
        atomic_store(&g_delivered[i], 0);
    return f;
}

static void unmake(fixture_t *f)
{
    etude_engine_destroy(f->e);
    free(f);
}

/* The canceller thread of the hooked cases. */
static etude_engine_t *g_e;
static etude_event_id_t g_target;
static _Atomic int g_stage = -1, g_cancel_rc = 99, g_cancel_done;
static pthread_t g_canceller;

static void *cancel_thread(void *arg)
{
    (void)arg;
    atomic_store(&g_cancel_rc, etude_event_cancel(g_e, g_target));
    atomic_store(&g_cancel_done, 1);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* On the audio thread: at the armed stage, start the canceller and hold until its CAS has turned
 * the slot's state word CANCELLED (bounded: 10 s, then the test fails), then a little longer so
 * it is usually inside its wait for our decision. */
static void hold_hook(etude_engine_t *e, etude_event_id_t id, int stage)
{
    if (id != g_target || stage != atomic_load(&g_stage))
        return;
    atomic_store(&g_stage, -1);
    assert_int_equal(pthread_create(&g_canceller, NULL, cancel_thread, NULL), 0);
    struct ev_slot *s = &e->ev[ETUDE_ID_SLOT(id)];
    uint64_t want = ((uint64_t)ETUDE_ID_GEN(id) << 32) | EV_CANCELLED;
    for (int i = 0; i < 10000 && atomic_load(&s->state) != want; i++)
        sleep_ms(1);
    assert_true(atomic_load(&s->state) == want);
    sleep_ms(5);
}

static void run_hooked(int stage, int want_rc, uint32_t want_delivered)
{
    fixture_t *f = make();
    bool asym = f->e->fire_asym;
    if (!asym) {
        unmake(f);
        skip(); /* no membarrier here: the engine fires with a CAS and has no such window */
        return;
    }
    uint64_t now = etude_engine_now(f->e);
    etude_event_t ev = {.frame = now + 10, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
    ev.u.i64[0] = 7;
    assert_int_equal(etude_event_schedule(f->e, &ev, &g_target), 0);
    g_e = f->e;
    atomic_store(&g_cancel_done, 0);
    atomic_store(&g_cancel_rc, 99);
    atomic_store(&g_stage, stage);
    etude_event_fire_hook = hold_hook;
    etude_engine_process(f->e, PERIOD, g_mix, NULL);
    etude_event_fire_hook = NULL;
    assert_int_equal(atomic_load(&g_stage), -1); /* the hook ran */
    assert_int_equal(pthread_join(g_canceller, NULL), 0);
    assert_int_equal(atomic_load(&g_cancel_rc), want_rc);
    assert_int_equal(atomic_load(&g_delivered[7]), want_delivered);
    /* The cancel record (if any) is applied and the slot freed, once. */
    etude_engine_process(f->e, PERIOD, g_mix, NULL);
    etude_engine_process(f->e, PERIOD, g_mix, NULL);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.events_dispatched, want_delivered);
    assert_int_equal(st.events_cancelled, want_rc == ETUDE_OK ? 1 : 0);
    /* The table is whole: every slot can be scheduled again. */
    uint32_t ok = 0;
    for (uint32_t i = 0; i < 4096; i++) {
        etude_event_t more = {.frame = etude_engine_now(f->e) + 100000, .voice = f->vid,
                              .kind = ETUDE_EV_TRIGGER};
        if (etude_event_schedule(f->e, &more, NULL) == 0)
            ok++;
    }
    assert_int_equal(ok, 4096);
    unmake(f);
}

static void test_cancel_before_decision(void **state)
{
    (void)state;
    run_hooked(0, ETUDE_OK, 0);
}

static void test_cancel_after_decision(void **state)
{
    (void)state;
    run_hooked(1, ETUDE_EDONE, 1);
}

/* Unhooked races: a canceller cancels events while the audio thread dispatches them. */
typedef struct race {
    fixture_t *f;
    etude_event_id_t id[4096];
    _Atomic int rc[4096];
    _Atomic int go, stop;
} race_t;

static void *race_canceller(void *arg)
{
    race_t *r = arg;
    while (!atomic_load(&r->go))
        sched_yield();
    for (uint32_t i = 0; i < 4096; i++)
        atomic_store(&r->rc[i], etude_event_cancel(r->f->e, r->id[i]));
    atomic_store(&r->stop, 1);
    return NULL;
}

static void race_once(bool force_cas, uint32_t *won, uint32_t *lost)
{
    etude_event_force_cas = force_cas;
    fixture_t *f = make();
    etude_event_force_cas = false;
    assert_true(force_cas ? !f->e->fire_asym : true);
    race_t *r = calloc(1, sizeof *r);
    r->f = f;
    /* One event per frame over 16 periods, so the cancels run into the dispatch front. */
    uint64_t base = etude_engine_now(f->e) + 8;
    for (uint32_t i = 0; i < 4096; i++) {
        etude_event_t ev = {.frame = base + i, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        assert_int_equal(etude_event_schedule(f->e, &ev, &r->id[i]), 0);
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_canceller, r), 0);
    atomic_store(&r->go, 1);
    /* Paced at about a period per millisecond, near the canceller's own speed, so the two
     * fronts meet. */
    for (int p = 0; p < 40; p++) {
        etude_engine_process(f->e, PERIOD, g_mix, NULL);
        sleep_ms(1);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int p = 0; p < 4; p++)
        etude_engine_process(f->e, PERIOD, g_mix, NULL);
    for (uint32_t i = 0; i < 4096; i++) {
        int rc = atomic_load(&r->rc[i]);
        uint32_t d = atomic_load(&g_delivered[i]);
        if (rc == ETUDE_OK) {
            assert_int_equal(d, 0);
            (*won)++;
        } else {
            assert_int_equal(rc, ETUDE_EDONE);
            assert_int_equal(d, 1);
            (*lost)++;
        }
    }
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.events_dispatched + st.events_cancelled, 4096);
    free(r);
    unmake(f);
}

static void test_unhooked_races(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        uint32_t won = 0, lost = 0;
        for (int k = 0; k < 8; k++)
            race_once(mode == 1, &won, &lost);
        print_message("%s: %u cancels won, %u found their event fired\n",
                      mode ? "CAS per event" : "membarrier protocol", won, lost);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_before_decision),
        cmocka_unit_test(test_cancel_after_decision),
        cmocka_unit_test(test_unhooked_races),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
