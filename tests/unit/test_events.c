/* test_events.c - the scheduled-event table: order, same-frame order, exact offsets, cancel, clear,
 * stale handles, overflow and late events, driven through the real engine and process(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_engine.h"

/* A voice that records every event it gets with the frame it was delivered at and how many frames
 * it had rendered by then, and outputs a single 1.0 sample right at each event. */
#define MAXREC 4096
typedef struct rec_voice {
    etude_engine_t *engine;
    uint32_t n;
    uint64_t frame[MAXREC];    /* etude_engine_audio_frame() inside event() */
    uint64_t rendered[MAXREC]; /* frames rendered before the event */
    int64_t id[MAXREC];        /* ev->u.i64[0] */
    uint32_t tag[MAXREC];
    uint64_t total_rendered;
    int impulse;
    int disposed;
} rec_voice_t;

/* Every delivery of every voice, in delivery order. */
static int64_t g_log[MAXREC];
static uint32_t g_log_n;

static void rec_event(void *self, const etude_event_t *ev)
{
    rec_voice_t *v = self;
    if (g_log_n < MAXREC)
        g_log[g_log_n++] = ev->u.i64[0];
    if (v->n < MAXREC) {
        v->frame[v->n] = etude_engine_audio_frame(v->engine);
        v->rendered[v->n] = v->total_rendered;
        v->id[v->n] = ev->u.i64[0];
        v->tag[v->n] = ev->tag;
        v->n++;
    }
    v->impulse = 1;
}

static void rec_render(void *self, float *const out[2], uint32_t n)
{
    rec_voice_t *v = self;
    if (v->impulse && n > 0) {
        out[0][0] += 1.0f;
        v->impulse = 0;
    }
    v->total_rendered += n;
}

static void rec_dispose(void *self) { ((rec_voice_t *)self)->disposed++; }

static const etude_voice_class_t rec_class = {
    .kind = "recorder", .event = rec_event, .render = rec_render, .dispose = rec_dispose, .mono = true};

typedef struct fixture {
    etude_engine_t *e;
    rec_voice_t *v[2];
    etude_voice_id_t vid[2];
    float *mix[2];
    uint32_t period;
} fixture_t;

static fixture_t *fixture_new(uint32_t capacity, uint32_t max_period)
{
    fixture_t *f = calloc(1, sizeof *f);
    g_log_n = 0;
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    cfg.event_capacity = capacity;
    cfg.max_period = max_period;
    cfg.voice_capacity = 4;
    assert_int_equal(etude_engine_create(&cfg, &f->e), 0);
    for (int i = 0; i < 2; i++) {
        f->v[i] = calloc(1, sizeof *f->v[i]);
        f->v[i]->engine = f->e;
        assert_int_equal(etude_voice_add(f->e, &rec_class, f->v[i], i ? "b" : "a", &f->vid[i]), 0);
    }
    f->mix[0] = calloc(1 << 16, sizeof(float));
    f->mix[1] = calloc(1 << 16, sizeof(float));
    return f;
}

static void fixture_free(fixture_t *f)
{
    etude_engine_destroy(f->e);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(f->v[i]->disposed, 1);
        free(f->v[i]);
    }
    free(f->mix[0]);
    free(f->mix[1]);
    free(f);
}

static void run(fixture_t *f, uint32_t nframes)
{
    assert_true(nframes <= (1u << 16));
    etude_engine_process(f->e, nframes, f->mix, NULL);
    etude_engine_tick(f->e);
}

static int sched(fixture_t *f, int voice, uint64_t frame, int64_t id, uint32_t tag, etude_event_id_t *out)
{
    etude_event_t ev = {.frame = frame, .voice = f->vid[voice], .kind = ETUDE_EV_TRIGGER, .tag = tag};
    ev.u.i64[0] = id;
    return etude_event_schedule(f->e, &ev, out);
}

static void test_order(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(1024, 256);
    /* 500 events at pseudo-random frames, scheduled out of order. */
    uint64_t frames[500];
    uint32_t x = 12345;
    for (int i = 0; i < 500; i++) {
        x = x * 1103515245u + 12345u;
        frames[i] = (x >> 8) % 20000;
        assert_int_equal(sched(f, 0, frames[i], i, 0, NULL), 0);
    }
    for (int p = 0; p < 100; p++)
        run(f, 256);
    rec_voice_t *v = f->v[0];
    assert_int_equal(v->n, 500);
    for (uint32_t i = 0; i < v->n; i++) {
        assert_int_equal(v->frame[i], frames[v->id[i]]);
        assert_int_equal(v->rendered[i], frames[v->id[i]]);
        if (i)
            assert_true(v->frame[i - 1] <= v->frame[i]);
    }
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_scheduled, 500);
    assert_int_equal(st.events_dispatched, 500);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.events_late, 0);
    fixture_free(f);
}

static void test_same_frame_order(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(1024, 128);
    /* 300 events on three frames, interleaved; within each frame arrival order must hold, also
     * across the two voices (one table, one sequence). */
    for (int i = 0; i < 300; i++)
        assert_int_equal(sched(f, i % 2, 1000 + 7 * (uint64_t)(i % 3), i, 0, NULL), 0);
    run(f, 500); /* some arrive in one period... */
    for (int i = 300; i < 400; i++)
        assert_int_equal(sched(f, i % 2, 1007, i, 0, NULL), 0); /* ...some later, same frame */
    run(f, 2000);
    int64_t last_id[3] = {-1, -1, -1};
    assert_int_equal(f->v[0]->n + f->v[1]->n, 400);
    assert_int_equal(g_log_n, 400);
    /* Across both voices (one table, one arrival sequence), ids of one frame increase. */
    uint64_t last_frame = 0;
    for (uint32_t i = 0; i < g_log_n; i++) {
        int64_t id = g_log[i];
        uint64_t frame = id < 300 ? 1000 + 7 * (uint64_t)(id % 3) : 1007;
        int k = (int)((frame - 1000) / 7);
        assert_true(frame >= last_frame);
        assert_true(id > last_id[k]);
        last_id[k] = id;
        last_frame = frame;
    }
    for (int vi = 0; vi < 2; vi++)
        for (uint32_t i = 0; i < f->v[vi]->n; i++) {
            int64_t id = f->v[vi]->id[i];
            assert_int_equal(f->v[vi]->frame[i], id < 300 ? 1000 + 7 * (uint64_t)(id % 3) : 1007);
        }
    fixture_free(f);
}

/* Events inside a period, on period edges and across process() calls larger than max_period fire
 * at their exact frame: the voice has rendered exactly that many frames and the impulse lands on
 * that sample of the mix. */
static void test_exact_offset(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(64, 64);
    const uint64_t frames[] = {0, 1, 63, 64, 65, 127, 128, 333, 1000, 4095};
    const int n = (int)(sizeof frames / sizeof frames[0]);
    for (int i = 0; i < n; i++)
        assert_int_equal(sched(f, 0, frames[i], i, 0, NULL), 0);
    /* one call of 4096 frames: 64 chunks of max_period */
    etude_engine_process(f->e, 4096, f->mix, NULL);
    rec_voice_t *v = f->v[0];
    assert_int_equal(v->n, (uint32_t)n);
    int hits = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(v->frame[i], frames[i]);
        assert_int_equal(v->rendered[i], frames[i]);
        assert_float_equal(f->mix[0][frames[i]], 1.0f, 1e-6);
        assert_float_equal(f->mix[1][frames[i]], 1.0f, 1e-6);
    }
    for (int k = 0; k < 4096; k++)
        hits += f->mix[0][k] != 0.0f;
    assert_int_equal(hits, n);
    assert_int_equal(etude_engine_now(f->e), 4096);
    fixture_free(f);
}

static void test_cancel_one(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(64, 64);
    etude_event_id_t a, b, c;
    assert_int_equal(sched(f, 0, 100, 1, 0, &a), 0);
    assert_int_equal(sched(f, 0, 100, 2, 0, &b), 0);
    assert_int_equal(sched(f, 0, 300, 3, 0, &c), 0);
    assert_int_equal(etude_event_cancel(f->e, a), 0); /* before the audio thread has seen it */
    assert_int_equal(etude_event_cancel(f->e, a), ETUDE_EDONE);
    run(f, 64);                                       /* b and c now in the audio thread's heap */
    assert_int_equal(etude_event_cancel(f->e, c), 0); /* removed from the heap */
    run(f, 512);
    rec_voice_t *v = f->v[0];
    assert_int_equal(v->n, 1);
    assert_int_equal(v->id[0], 2);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_cancelled, 2);
    assert_int_equal(st.events_dispatched, 1);
    assert_int_equal(st.events_pending, 0);
    fixture_free(f);
}

static void test_cancel_voice_and_tag(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(256, 64);
    for (int i = 0; i < 40; i++)
        assert_int_equal(sched(f, i % 2, 50 + (uint64_t)i * 10, i, (uint32_t)(i % 4), NULL), 0);
    run(f, 64); /* frames 50 and 60 fire; the rest is in the heap */
    uint32_t n = 0;
    assert_int_equal(etude_event_cancel_voice(f->e, f->vid[1], &n), 0);
    assert_int_equal(n, 19); /* odd ids 3..39 */
    /* tag 2 on voice 0: ids 2, 6, 10, ... 38; id 2 fired at frame 70? no: 50+20 = 70 > 64 */
    assert_int_equal(etude_event_cancel_tag(f->e, 2, &n), 0);
    assert_int_equal(n, 10);
    assert_int_equal(etude_event_cancel_tag(f->e, 2, &n), 0);
    assert_int_equal(n, 0);
    run(f, 1024);
    rec_voice_t *v0 = f->v[0], *v1 = f->v[1];
    assert_int_equal(v1->n, 1); /* only id 1 (frame 60) */
    assert_int_equal(v1->id[0], 1);
    for (uint32_t i = 0; i < v0->n; i++) {
        assert_int_equal(v0->id[i] % 2, 0);
        assert_true(v0->id[i] == 0 || v0->tag[i] != 2);
    }
    assert_int_equal(v0->n, 10); /* 20 even ids minus 10 with tag 2 */
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_cancelled, 29);
    assert_int_equal(st.events_dispatched, 11);
    assert_int_equal(st.events_pending, 0);
    fixture_free(f);
}

static void test_clear(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(256, 64);
    etude_event_id_t ids[100];
    for (int i = 0; i < 100; i++)
        assert_int_equal(sched(f, i % 2, 10 + (uint64_t)i * 5, i, 0, &ids[i]), 0);
    run(f, 64); /* frames 10..60: 11 events */
    uint32_t n = 0;
    assert_int_equal(etude_event_clear(f->e, &n), 0);
    assert_int_equal(n, 89);
    for (int i = 0; i < 100; i++)
        assert_int_equal(etude_event_cancel(f->e, ids[i]), ETUDE_EDONE);
    run(f, 1024);
    assert_int_equal(f->v[0]->n + f->v[1]->n, 11);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.events_cancelled, 89);
    /* the table is whole again: every slot can be scheduled */
    for (int i = 0; i < 256; i++)
        assert_int_equal(sched(f, 0, 5000, i, 0, NULL), 0);
    assert_int_equal(sched(f, 0, 5000, 0, 0, NULL), ETUDE_EFULL);
    fixture_free(f);
}

static void test_stale_handles(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(4, 64);
    etude_event_id_t fired, cancelled, reused;
    assert_int_equal(sched(f, 0, 10, 1, 0, &fired), 0);
    assert_int_equal(sched(f, 0, 1000, 2, 0, &cancelled), 0);
    assert_int_equal(etude_event_cancel(f->e, cancelled), 0);
    run(f, 64);
    assert_int_equal(f->v[0]->n, 1);
    /* after fire and after cancel, before reuse: already done */
    assert_int_equal(etude_event_cancel(f->e, fired), ETUDE_EDONE);
    assert_int_equal(etude_event_cancel(f->e, cancelled), ETUDE_EDONE);
    /* fill every slot: both old slots are reused with a new generation */
    etude_event_id_t now[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(sched(f, 0, 2000, 10 + i, 0, &now[i]), 0);
    int reused_fired = 0, reused_cancelled = 0;
    for (int i = 0; i < 4; i++) {
        reused_fired += ETUDE_ID_SLOT(now[i]) == ETUDE_ID_SLOT(fired);
        reused_cancelled += ETUDE_ID_SLOT(now[i]) == ETUDE_ID_SLOT(cancelled);
        assert_true(now[i] != fired && now[i] != cancelled);
    }
    assert_int_equal(reused_fired, 1);
    assert_int_equal(reused_cancelled, 1);
    assert_int_equal(etude_event_cancel(f->e, fired), ETUDE_ESTALE);
    assert_int_equal(etude_event_cancel(f->e, cancelled), ETUDE_ESTALE);
    reused = now[0];
    /* the new handles still work */
    assert_int_equal(etude_event_cancel(f->e, reused), 0);
    /* garbage */
    assert_int_equal(etude_event_cancel(f->e, 0), ETUDE_ESTALE);
    assert_int_equal(etude_event_cancel(f->e, ((uint64_t)1 << 32) | 4), ETUDE_ESTALE); /* slot out of range */
    assert_int_equal(etude_event_cancel(f->e, ETUDE_ID_SLOT(now[1])), ETUDE_ESTALE);  /* generation 0 */
    assert_int_equal(etude_event_cancel(f->e, now[1] + ((uint64_t)7 << 32)), ETUDE_ESTALE);
    assert_int_equal(etude_event_cancel(f->e, UINT64_MAX), ETUDE_ESTALE);
    /* a free slot's own generation was never handed out */
    run(f, 64);
    assert_int_equal(etude_event_cancel(f->e, reused), ETUDE_EDONE);
    assert_int_equal(etude_event_cancel(f->e, reused + ((uint64_t)1 << 32)), ETUDE_ESTALE);
    fixture_free(f);
}

static void test_overflow(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(16, 64);
    for (int i = 0; i < 16; i++)
        assert_int_equal(sched(f, 0, 100 + (uint64_t)i, i, 0, NULL), 0);
    assert_int_equal(sched(f, 0, 50, 99, 0, NULL), ETUDE_EFULL);
    assert_int_equal(sched(f, 1, 50, 99, 0, NULL), ETUDE_EFULL);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.schedule_full, 2);
    assert_int_equal(st.events_pending, 16);
    assert_int_equal(st.events_scheduled, 16);
    run(f, 64);
    run(f, 64); /* all 16 fire in the second period; nothing lost, nothing extra */
    assert_int_equal(f->v[0]->n, 16);
    assert_int_equal(f->v[1]->n, 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(f->v[0]->id[i], i);
        assert_int_equal(f->v[0]->frame[i], 100 + (uint64_t)i);
    }
    assert_int_equal(sched(f, 0, 500, 1, 0, NULL), 0);
    fixture_free(f);
}

static void test_late(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(16, 64);
    run(f, 1000);
    assert_int_equal(sched(f, 0, 10, 1, 0, NULL), 0);   /* long past */
    assert_int_equal(sched(f, 0, 999, 2, 0, NULL), 0);  /* just past */
    assert_int_equal(sched(f, 0, 1000, 3, 0, NULL), 0); /* exactly now: on time */
    assert_int_equal(sched(f, 0, 1001, 4, 0, NULL), 0);
    run(f, 64);
    rec_voice_t *v = f->v[0];
    assert_int_equal(v->n, 4);
    assert_int_equal(v->frame[0], 1000);
    assert_int_equal(v->frame[1], 1000);
    assert_int_equal(v->frame[2], 1000);
    assert_int_equal(v->frame[3], 1001);
    assert_int_equal(v->id[0], 1);
    assert_int_equal(v->id[1], 2);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_late, 2);
    assert_int_equal(st.events_dispatched, 4);
    fixture_free(f);
}

/* Events beyond the near window (the first 16384 frames ahead) wait in a heap and move to the
 * per-frame wheel as the window reaches them; same-frame order must survive that move, also
 * against events of the same frame scheduled later that went to the wheel directly. Cancelling
 * far events returns their slots at once. */
static void test_far_events(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(64, 256);
    etude_event_id_t far_cancel, far2;
    assert_int_equal(sched(f, 0, 20000, 1, 0, NULL), 0);
    assert_int_equal(sched(f, 0, 20000, 2, 0, NULL), 0);
    assert_int_equal(sched(f, 0, 1000000, 3, 0, &far_cancel), 0);
    assert_int_equal(sched(f, 0, 5000000000ull, 4, 0, &far2), 0); /* frame beyond 32 bits */
    /* now 3840: the last chunk (from 3584) saw 20000 outside the window, the next one (from 3840)
     * will find it inside */
    for (int i = 0; i < 15; i++)
        run(f, 256);
    assert_int_equal(sched(f, 0, 20000, 5, 0, NULL), 0);
    assert_int_equal(sched(f, 0, 19999, 6, 0, NULL), 0);
    assert_int_equal(etude_event_cancel(f->e, far_cancel), 0);
    run(f, 256); /* 5 and 6 go straight to the wheel, then 1 and 2 move there (before 5) */
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_pending, 5);
    while (etude_engine_now(f->e) < 20480)
        run(f, 256);
    rec_voice_t *v = f->v[0];
    assert_int_equal(v->n, 4);
    assert_int_equal(v->id[0], 6);
    assert_int_equal(v->frame[0], 19999);
    assert_int_equal(v->id[1], 1);
    assert_int_equal(v->id[2], 2);
    assert_int_equal(v->id[3], 5);
    for (int i = 1; i < 4; i++)
        assert_int_equal(v->frame[i], 20000);
    assert_int_equal(etude_event_cancel(f->e, far2), 0);
    run(f, 256);
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.events_cancelled, 2);
    fixture_free(f);
}

static void test_bad_input(void **state)
{
    (void)state;
    fixture_t *f = fixture_new(16, 64);
    etude_event_t ev = {.frame = 1, .voice = f->vid[0], .kind = 0};
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), ETUDE_EINVAL);
    ev.kind = 8;
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), ETUDE_EINVAL);
    ev.kind = ETUDE_EV_USER + 3;
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    ev.voice = 0;
    ev.kind = ETUDE_EV_NOTE_ON;
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), ETUDE_EINVAL);
    ev.kind = ETUDE_EV_MARKER; /* a marker needs no voice */
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), 0);
    ev.voice = f->vid[0] + ((uint64_t)1 << 32);
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), ETUDE_ESTALE);
    ev.voice = 3; /* slot 3 generation 0 */
    assert_int_equal(etude_event_schedule(f->e, &ev, NULL), ETUDE_ESTALE);
    assert_int_equal(etude_event_schedule(f->e, NULL, NULL), ETUDE_EINVAL);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_scheduled, 2);
    assert_int_equal(st.events_pending, 2);
    run(f, 64);
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_dispatched, 2);
    assert_int_equal(f->v[0]->n, 1);
    assert_string_equal(etude_strerror(ETUDE_ESTALE), etude_strerror(-4));
    assert_true(strstr(etude_strerror(ETUDE_EFULL), "full") != NULL);
    assert_true(strstr(etude_strerror(-99), "unknown") != NULL);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),          cmocka_unit_test(test_same_frame_order),
        cmocka_unit_test(test_exact_offset),   cmocka_unit_test(test_cancel_one),
        cmocka_unit_test(test_cancel_voice_and_tag), cmocka_unit_test(test_clear),
        cmocka_unit_test(test_stale_handles),  cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_late),           cmocka_unit_test(test_far_events),           cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
