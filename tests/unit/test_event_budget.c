/* test_event_budget.c - the audio side's work per chunk is bounded whatever the number of events:
 * bursts of far-future schedules, of cancels (by handle, by voice, by tag, clear), of late events,
 * and events piling up at one frame through the heap and the wheel. The bound is asserted by
 * counting work units (etude_engine_test.h), not by timing; and every event still fires exactly
 * once, at its frame (or late, for the late burst, in arrival order).
 *
 * Each test fails before the budgets (checked on fd82c7f's algorithm with only the counters added,
 * commit "engine: work counters and a producer-stall hook for tests"): the first period after a
 * burst took all 65536 positions in (intake 65536 > budget 4096), applied all 65536 cancel
 * records, fired all late events in one chunk, and moving 32768 heap events into a bucket that
 * already held 32768 later arrivals walked back over all of them each time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_engine.h"
#include "etude_engine_test.h"

#define CAP 65536u
#define PERIOD 256u
#define RATE 48000u

typedef struct cnt_voice {
    etude_engine_t *e;
    uint64_t n, late_frames, bad_order, exact;
    int64_t last_id;
    uint64_t *want; /* want[id] = the frame event id must fire at (NULL: not checked) */
} cnt_voice_t;

static void cnt_event(void *self, const etude_event_t *ev)
{
    cnt_voice_t *v = self;
    int64_t id = ev->u.i64[0];
    if (id <= v->last_id)
        v->bad_order++;
    v->last_id = id;
    if (v->want && etude_engine_audio_frame(v->e) == v->want[id])
        v->exact++;
    v->n++;
}

static void cnt_render(void *self, float *const out[2], uint32_t n)
{
    (void)self;
    (void)out;
    (void)n;
}

static const etude_voice_class_t cnt_class = {.kind = "counter", .event = cnt_event,
                                              .render = cnt_render, .mono = true};

typedef struct fx {
    etude_engine_t *e;
    cnt_voice_t v;
    etude_voice_id_t vid;
    float l[PERIOD], r[PERIOD];
    uint32_t budget;
} fx_t;

static fx_t *fx_new(void)
{
    fx_t *f = calloc(1, sizeof *f);
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = PERIOD;
    cfg.event_capacity = CAP;
    cfg.voice_capacity = 2;
    assert_int_equal(etude_engine_create(&cfg, &f->e), 0);
    f->v.e = f->e;
    f->v.last_id = -1;
    assert_int_equal(etude_voice_add(f->e, &cnt_class, &f->v, "counter", &f->vid), 0);
    return f;
}

static void fx_free(fx_t *f)
{
    etude_engine_destroy(f->e);
    free(f->v.want);
    free(f);
}

/* One period; asserts the deferrable work stayed within the budget and returns the counters. */
static etude_engine_work_t period(fx_t *f)
{
    float *const mix[2] = {f->l, f->r};
    etude_engine_process(f->e, PERIOD, mix, NULL);
    etude_engine_tick(f->e);
    etude_engine_work_t w;
    etude_engine_work(f->e, &w);
    assert_true(w.budget > 0);
    if (!f->budget)
        f->budget = w.budget;
    assert_true(w.intake <= w.budget);
    assert_true(w.cancels <= w.budget);
    assert_true(w.moves <= w.budget);
    assert_true(w.walk <= w.budget);
    return w;
}

static uint32_t periods_to_clear(uint32_t n, uint32_t budget) { return (n + budget - 1) / budget + 2; }

/* 65536 schedules 10 s ahead in one go: taken in over several periods, never more than the budget
 * in one; then they fire at their frames. */
static void test_schedule_burst(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    period(f);
    uint64_t base = etude_engine_now(f->e) + 10u * RATE;
    f->v.want = calloc(CAP, sizeof *f->v.want);
    for (uint32_t i = 0; i < CAP; i++) {
        etude_event_t ev = {.frame = base + i / 4, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        f->v.want[i] = ev.frame;
        assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    }
    etude_engine_work_t w = period(f);
    assert_true(w.intake > 0);
    assert_true(w.backlog > 0); /* the burst did not all go in at once */
    uint32_t p = 1;
    while (w.backlog) {
        w = period(f);
        p++;
        assert_true(p <= periods_to_clear(CAP, f->budget));
    }
    while (f->v.n < CAP && etude_engine_now(f->e) < base + CAP)
        period(f);
    etude_engine_work(f->e, &w);
    assert_true(w.max_intake <= w.budget && w.max_moves <= w.budget && w.max_walk <= w.budget);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(f->v.n, CAP);
    assert_int_equal(f->v.exact, CAP);
    assert_int_equal(f->v.bad_order, 0);
    assert_int_equal(st.events_late, 0);
    assert_int_equal(st.events_pending, 0);
    fx_free(f);
}

/* Fill the table with far events and let the audio side take them all in. */
static void fill_far(fx_t *f, etude_event_id_t *ids)
{
    uint64_t base = etude_engine_now(f->e) + 10u * RATE;
    for (uint32_t i = 0; i < CAP; i++) {
        etude_event_t ev = {.frame = base + i, .voice = f->vid, .kind = ETUDE_EV_TRIGGER,
                            .tag = 1 + (i & 1)};
        ev.u.i64[0] = i;
        assert_int_equal(etude_event_schedule(f->e, &ev, ids ? &ids[i] : NULL), 0);
    }
    for (uint32_t p = 0; p < periods_to_clear(CAP, 4096); p++)
        period(f);
}

/* Cancels of a full table, four ways: the audio side applies at most the budget of cancel records
 * per period, and the table is empty again within capacity / budget periods. */
static void test_cancel_bursts(void **state)
{
    (void)state;
    for (int how = 0; how < 4; how++) {
        fx_t *f = fx_new();
        period(f);
        etude_event_id_t *ids = calloc(CAP, sizeof *ids);
        fill_far(f, ids);
        etude_engine_work_t w;
        etude_engine_work(f->e, &w);
        assert_int_equal(w.backlog, 0);
        uint32_t n = 0, n2 = 0;
        switch (how) {
        case 0:
            for (uint32_t i = 0; i < CAP; i++)
                assert_int_equal(etude_event_cancel(f->e, ids[i]), 0);
            n = CAP;
            break;
        case 1:
            assert_int_equal(etude_event_cancel_voice(f->e, f->vid, &n), 0);
            break;
        case 2:
            assert_int_equal(etude_event_cancel_tag(f->e, 1, &n), 0);
            assert_int_equal(etude_event_cancel_tag(f->e, 2, &n2), 0);
            n += n2;
            break;
        default:
            assert_int_equal(etude_event_clear(f->e, &n), 0);
            break;
        }
        assert_int_equal(n, CAP);
        etude_engine_stats_t st;
        uint32_t p = 0;
        do {
            w = period(f);
            p++;
            assert_true(p <= periods_to_clear(CAP, f->budget));
            etude_engine_stats(f->e, &st);
        } while (st.events_pending);
        assert_true(p >= 2); /* the records were spread over periods */
        assert_int_equal(st.events_cancelled, CAP);
        assert_int_equal(f->v.n, 0);
        free(ids);
        fx_free(f);
    }
}

/* 65536 events scheduled far in the past: they fire late, at most a budget of them per period
 * (the intake's), all of them, in arrival order. */
static void test_late_burst(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    for (int p = 0; p < 200; p++)
        period(f);
    for (uint32_t i = 0; i < CAP; i++) {
        etude_event_t ev = {.frame = 1000 + i / 8, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    }
    uint32_t p = 0;
    etude_engine_stats_t st;
    do {
        etude_engine_work_t w = period(f);
        assert_true(w.due <= w.budget); /* late events come in through the budgeted intake */
        p++;
        assert_true(p <= periods_to_clear(CAP, f->budget));
        etude_engine_stats(f->e, &st);
    } while (st.events_pending);
    assert_true(p >= 2);
    assert_int_equal(f->v.n, CAP);
    assert_int_equal(f->v.bad_order, 0);
    assert_int_equal(st.events_late, CAP);
    fx_free(f);
}

/* 65536 events at one frame F, half scheduled while F is beyond the wheel (they wait in the heap),
 * half once F is within it: the moves from the heap are budgeted and never walk back through the
 * bucket, the events due first still fire on time, and the bucket fires in arrival order. */
static void test_one_frame_pile(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    period(f);
    uint64_t F = etude_engine_now(f->e) + 40000; /* beyond the wheel's 16384 frames */
    /* a few events due soon, scheduled first: they must fire on time through the bursts */
    uint64_t soon = etude_engine_now(f->e) + 3 * PERIOD + 7;
    f->v.want = calloc(CAP + 8, sizeof *f->v.want);
    for (uint32_t i = 0; i < 8; i++) {
        etude_event_t ev = {.frame = soon + i * 300, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        f->v.want[i] = ev.frame;
        assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    }
    period(f);
    for (uint32_t i = 8; i < CAP / 2 + 8; i++) {
        etude_event_t ev = {.frame = F, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        f->v.want[i] = F;
        assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    }
    while (etude_engine_now(f->e) + 16000 < F)
        period(f);
    for (uint32_t i = CAP / 2 + 8; i < CAP; i++) {
        etude_event_t ev = {.frame = F, .voice = f->vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        f->v.want[i] = F;
        assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    }
    while (etude_engine_now(f->e) <= F)
        period(f);
    etude_engine_work_t w;
    etude_engine_work(f->e, &w);
    assert_true(w.max_moves <= w.budget && w.max_walk <= w.budget && w.max_intake <= w.budget);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(f->v.n, CAP);
    assert_int_equal(f->v.exact, CAP);
    assert_int_equal(f->v.bad_order, 0);
    assert_int_equal(st.events_late, 0);
    fx_free(f);
}

/* The budget is a parameter: a smaller one is honoured and still gets everything through. */
static void test_budget_parameter(void **state)
{
    (void)state;
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = PERIOD;
    cfg.event_capacity = 4096;
    cfg.work_per_frame = 2; /* 512 units per 256-frame chunk */
    etude_engine_t *e;
    assert_int_equal(etude_engine_create(&cfg, &e), 0);
    cnt_voice_t v = {.e = e, .last_id = -1};
    etude_voice_id_t vid;
    assert_int_equal(etude_voice_add(e, &cnt_class, &v, "counter", &vid), 0);
    for (uint32_t i = 0; i < 4096; i++) {
        etude_event_t ev = {.frame = 100000 + i, .voice = vid, .kind = ETUDE_EV_TRIGGER};
        ev.u.i64[0] = i;
        assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    }
    float l[PERIOD], r[PERIOD];
    float *const mix[2] = {l, r};
    etude_engine_process(e, PERIOD, mix, NULL);
    etude_engine_work_t w;
    etude_engine_work(e, &w);
    assert_int_equal(w.budget, 512);
    assert_int_equal(w.intake, 512);
    assert_int_equal(w.backlog, 4096 - 512);
    while (etude_engine_now(e) < 100000 + 4096)
        etude_engine_process(e, PERIOD, mix, NULL);
    assert_int_equal(v.n, 4096);
    assert_int_equal(v.bad_order, 0);
    etude_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_burst),
        cmocka_unit_test(test_cancel_bursts),
        cmocka_unit_test(test_late_burst),
        cmocka_unit_test(test_one_frame_pile),
        cmocka_unit_test(test_budget_parameter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
