/* test_offline.c - unit tests of the offline driver: exact lengths (fixed, material + tail),
 * sample-exact output through the real engine, early stop from write(), progress, bad arguments. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_engine.h"
#include "etude_offline.h"
#include "etude_sequencer.h"

/* A voice that outputs a single 1.0 sample at the frame of each event it receives: the render
 * call after an event starts exactly at the event's frame. */
typedef struct impulse {
    int pending;
} impulse_t;

static void imp_event(void *self, const etude_event_t *ev)
{
    if (ev->kind == ETUDE_EV_TRIGGER)
        ((impulse_t *)self)->pending = 1;
}

static void imp_render(void *self, float *const out[2], uint32_t nframes)
{
    impulse_t *v = self;
    if (v->pending && nframes) {
        out[0][0] += 1.0f;
        v->pending = 0;
    }
}

static void imp_dispose(void *self)
{
    free(self);
}

static const etude_voice_class_t imp_class = {
    .kind = "impulse", .event = imp_event, .render = imp_render, .dispose = imp_dispose, .mono = true};

typedef struct grid {
    uint64_t every, length;
} grid_t;

static int grid_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    grid_t *g = self;
    if (to > g->length)
        to = g->length;
    for (uint64_t p = (from + g->every - 1) / g->every * g->every; p < to; p += g->every) {
        etude_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = ETUDE_EV_TRIGGER;
        int rc = emit(ctx, p, &ev);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static uint64_t grid_length(void *self)
{
    return ((grid_t *)self)->length;
}

static const etude_source_class_t grid_class = {
    .kind = "grid", .expand = grid_expand, .length = grid_length, .destroy = free};

/* The captured output of a run. */
typedef struct sink {
    float *l;
    size_t n, cap;
    size_t calls;
    uint32_t max_chunk;
    uint64_t stop_after; /* write() returns 42 once this many frames arrived (0: never) */
    uint64_t last_done, last_total;
    size_t progress_calls;
    int progress_monotonic;
} sink_t;

static int sink_write(void *user, const float *const mix[2], uint32_t nframes)
{
    sink_t *s = user;
    if (s->n + nframes > s->cap) {
        s->cap = (s->n + nframes) * 2;
        s->l = realloc(s->l, s->cap * sizeof *s->l);
    }
    memcpy(s->l + s->n, mix[0], nframes * sizeof *s->l);
    s->n += nframes;
    s->calls++;
    if (nframes > s->max_chunk)
        s->max_chunk = nframes;
    if (s->stop_after && s->n >= s->stop_after)
        return 42;
    return 0;
}

static void sink_progress(void *user, uint64_t done, uint64_t total)
{
    sink_t *s = user;
    if (s->progress_calls && done < s->last_done)
        s->progress_monotonic = 0;
    s->last_done = done;
    s->last_total = total;
    s->progress_calls++;
}

static etude_engine_t *engine_new(etude_voice_id_t *voice)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    cfg.max_period = 512;
    cfg.event_capacity = 256;
    etude_engine_t *e;
    assert_int_equal(etude_engine_create(&cfg, &e), 0);
    impulse_t *v = calloc(1, sizeof *v);
    assert_int_equal(etude_voice_add(e, &imp_class, v, "impulse", voice), 0);
    return e;
}

static etude_sequencer_t *seq_new(etude_engine_t *e, etude_voice_id_t voice, uint64_t every, uint64_t length)
{
    etude_sequencer_t *seq;
    assert_int_equal(etude_sequencer_create(e, 4800, &seq), 0);
    grid_t *g = malloc(sizeof *g);
    g->every = every;
    g->length = length;
    assert_int_equal(etude_sequencer_add_source(seq, &grid_class, g, voice, NULL), 0);
    return seq;
}

/* The material's end plus the tail, exactly, with an impulse at every event frame and nowhere else. */
static void test_material_plus_tail(void **state)
{
    (void)state;
    etude_voice_id_t voice;
    etude_engine_t *e = engine_new(&voice);
    etude_sequencer_t *seq = seq_new(e, voice, 1000, 48123);
    sink_t s = {.progress_monotonic = 1};
    etude_offline_config_t cfg = {.period = 256, .tail_frames = 777, .write = sink_write,
                                  .progress = sink_progress, .user = &s};
    assert_int_equal(etude_offline_run(e, seq, &cfg), 0);
    assert_int_equal(s.n, 48123 + 777);
    assert_int_equal(s.max_chunk, 256);
    for (size_t i = 0; i < s.n; i++) {
        if (i % 1000 == 0 && i < 48123)
            assert_true(fabsf(s.l[i]) > 0.1f);
        else
            assert_true(s.l[i] == 0.0f);
    }
    assert_true(s.progress_calls >= 50);
    assert_true(s.progress_monotonic);
    assert_int_equal(s.last_done, s.n);
    assert_int_equal(s.last_total, s.n);
    assert_true(etude_sequencer_finished(seq));
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    assert_int_equal(st.events_dispatched, 49);
    assert_int_equal(st.events_late, 0);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(e);
    free(s.l);
}

/* A fixed length with periods above max_period and a last partial one; no sequencer. */
static void test_fixed_length(void **state)
{
    (void)state;
    etude_voice_id_t voice;
    etude_engine_t *e = engine_new(&voice);
    sink_t s = {.progress_monotonic = 1};
    etude_offline_config_t cfg = {.period = 1500, .total_frames = 100000, .write = sink_write,
                                  .progress = sink_progress, .user = &s};
    assert_int_equal(etude_offline_run(e, NULL, &cfg), 0);
    assert_int_equal(s.n, 100000);
    assert_int_equal(s.calls, 67);
    assert_int_equal(etude_engine_now(e), 100000);
    assert_int_equal(s.last_total, 100000);
    assert_int_equal(s.last_done, 100000);
    assert_true(s.progress_monotonic);

    /* With a looping sequencer and a fixed length: renders exactly that, loop after loop. */
    etude_sequencer_t *seq = seq_new(e, voice, 500, 100000);
    assert_int_equal(etude_sequencer_set_loop(seq, 0, 2000), 0);
    assert_int_equal(etude_sequencer_start(seq, 0), 0);
    sink_t t = {0};
    cfg = (etude_offline_config_t){.period = 300, .total_frames = 20000, .write = sink_write, .user = &t};
    assert_int_equal(etude_offline_run(e, seq, &cfg), 0);
    assert_int_equal(t.n, 20000);
    for (size_t i = 0; i < t.n; i++)
        assert_true((i % 500 == 0) == (fabsf(t.l[i]) > 0.1f));
    assert_int_equal(etude_sequencer_loops(seq), 10);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(e);
    free(s.l);
    free(t.l);
}

/* write() stops the run with its own value; nothing is rendered after. */
static void test_write_stops(void **state)
{
    (void)state;
    etude_voice_id_t voice;
    etude_engine_t *e = engine_new(&voice);
    etude_sequencer_t *seq = seq_new(e, voice, 100, UINT64_MAX);
    sink_t s = {.stop_after = 5000};
    etude_offline_config_t cfg = {.period = 512, .write = sink_write, .user = &s};
    assert_int_equal(etude_offline_run(e, seq, &cfg), 42);
    assert_int_equal(s.n, 5120);
    assert_int_equal(etude_engine_now(e), 5120);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(e);
    free(s.l);
}

/* No sources: only the tail. Bad arguments are refused. */
static void test_edges(void **state)
{
    (void)state;
    etude_voice_id_t voice;
    etude_engine_t *e = engine_new(&voice);
    etude_sequencer_t *seq;
    assert_int_equal(etude_sequencer_create(e, 4800, &seq), 0);
    sink_t s = {0};
    etude_offline_config_t cfg = {.period = 256, .tail_frames = 1000, .write = sink_write, .user = &s};
    assert_int_equal(etude_offline_run(e, seq, &cfg), 0);
    assert_int_equal(s.n, 1000);

    assert_int_equal(etude_offline_run(e, NULL, &cfg), ETUDE_EINVAL); /* no seq, no length */
    cfg.period = 0;
    assert_int_equal(etude_offline_run(e, seq, &cfg), ETUDE_EINVAL);
    assert_int_equal(etude_offline_run(e, seq, NULL), ETUDE_EINVAL);
    assert_int_equal(etude_offline_run(NULL, seq, &cfg), ETUDE_EINVAL);
    /* write may be NULL: render and discard. */
    cfg = (etude_offline_config_t){.period = 64, .total_frames = 640};
    assert_int_equal(etude_offline_run(e, seq, &cfg), 0);
    assert_int_equal(etude_engine_now(e), 1640);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(e);
    free(s.l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_material_plus_tail),
        cmocka_unit_test(test_fixed_length),
        cmocka_unit_test(test_write_stops),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
