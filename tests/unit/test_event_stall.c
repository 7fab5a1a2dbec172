/* test_event_stall.c - producers stalled between claiming a slot and publishing their event
 * (etude_engine_test.h's claim hook blocks them there, as a preemption would):
 * - events at one frame keep their arrival order across producers while a stalled producer is
 *   waited for (a NOTE_OFF scheduled later must not overtake the NOTE_ON before it), and the wait
 *   is bounded: past the hole wait the others' events go on without it;
 * - etude_event_schedule_many() keeps its batch in array order, with nothing in between, when it
 *   stalls in the middle of publishing the batch;
 * - an event whose schedule raced its voice's disposal is dropped when the audio side takes it
 *   in, instead of pinning its slot until its frame.
 *
 * Checked before the fix (fd82c7f's algorithm with only the hook and counters added, commit
 * "engine: work counters and a producer-stall hook for tests"): the later NOTE_OFF fired at the
 * frame and the stalled NOTE_ON after it (stuck note); the batch's members 0 and 1 fired, then the
 * single scheduled after the batch, then members 2 and 3; the raced event kept events_pending at 1
 * until its frame, 10 s later.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_engine.h"
#include "etude_engine_test.h"

#define PERIOD 256u
#define RATE 48000u

/* Every delivery, in order. */
typedef struct log_voice {
    etude_engine_t *e;
    uint32_t n;
    int64_t id[64];
    uint16_t kind[64];
    uint64_t at[64];
} log_voice_t;

static void log_event(void *self, const etude_event_t *ev)
{
    log_voice_t *v = self;
    if (v->n < 64) {
        v->id[v->n] = ev->u.i64[0];
        v->kind[v->n] = ev->kind;
        v->at[v->n] = etude_engine_audio_frame(v->e);
        v->n++;
    }
}

static void log_render(void *self, float *const out[2], uint32_t n)
{
    (void)self;
    (void)out;
    (void)n;
}

static void log_dispose(void *self) { (void)self; }

static const etude_voice_class_t log_class = {.kind = "log", .event = log_event, .render = log_render,
                                              .dispose = log_dispose, .mono = true};

/* The stall: the producer whose claim is the target-th since arming (and, in a batch, at index
 * stall_k) waits in the hook until released. */
static sem_t g_stalled, g_release;
static _Atomic int g_armed;
static size_t g_stall_k;

static void stall_hook(etude_engine_t *e, uint64_t arrival, size_t k)
{
    (void)e;
    (void)arrival;
    if (k != g_stall_k)
        return;
    int one = 1;
    if (atomic_compare_exchange_strong(&g_armed, &one, 0)) {
        sem_post(&g_stalled);
        sem_wait(&g_release);
    }
}

typedef struct producer {
    etude_engine_t *e;
    etude_event_t evs[8];
    size_t n; /* 1: etude_event_schedule(); more: etude_event_schedule_many() */
    int rc;
    pthread_t th;
} producer_t;

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    p->rc = p->n == 1 ? etude_event_schedule(p->e, &p->evs[0], NULL)
                      : etude_event_schedule_many(p->e, p->evs, p->n, NULL);
    return NULL;
}

/* Start p on its own thread, armed to stall at batch index k; returns once it is stalled. */
static void start_stalled(producer_t *p, size_t k)
{
    g_stall_k = k;
    atomic_store(&g_armed, 1);
    assert_int_equal(pthread_create(&p->th, NULL, producer_main, p), 0);
    sem_wait(&g_stalled);
}

static void release(producer_t *p)
{
    sem_post(&g_release);
    pthread_join(p->th, NULL);
    assert_int_equal(p->rc, 0);
}

typedef struct fx {
    etude_engine_t *e;
    log_voice_t v;
    etude_voice_id_t vid;
    float l[PERIOD], r[PERIOD];
} fx_t;

static fx_t *fx_new(void)
{
    fx_t *f = calloc(1, sizeof *f);
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = PERIOD;
    cfg.event_capacity = 1024;
    cfg.voice_capacity = 2;
    assert_int_equal(etude_engine_create(&cfg, &f->e), 0);
    f->v.e = f->e;
    assert_int_equal(etude_voice_add(f->e, &log_class, &f->v, "log", &f->vid), 0);
    sem_init(&g_stalled, 0, 0);
    sem_init(&g_release, 0, 0);
    etude_event_claim_hook = stall_hook;
    return f;
}

static void fx_free(fx_t *f)
{
    etude_event_claim_hook = NULL;
    etude_engine_destroy(f->e);
    sem_destroy(&g_stalled);
    sem_destroy(&g_release);
    free(f);
}

static void periods(fx_t *f, int n)
{
    float *const mix[2] = {f->l, f->r};
    for (int i = 0; i < n; i++) {
        etude_engine_process(f->e, PERIOD, mix, NULL);
        etude_engine_tick(f->e);
    }
}

static etude_event_t note(fx_t *f, uint16_t kind, uint64_t frame, int64_t id)
{
    etude_event_t ev = {.frame = frame, .voice = f->vid, .kind = kind};
    ev.u.note.key = 60;
    ev.u.i64[1] = 0;
    ev.u.i64[0] = id;
    return ev;
}

/* Producer A takes its arrival number for a NOTE_ON at F and stalls; the main thread then
 * schedules a NOTE_OFF at F. The audio side reaches F (and goes past it) while A is stalled:
 * the NOTE_OFF must not fire before the NOTE_ON. */
static void test_cross_producer_order(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    periods(f, 1);
    uint64_t F = etude_engine_now(f->e) + 2 * PERIOD + 10;
    producer_t a = {.e = f->e, .n = 1};
    a.evs[0] = note(f, ETUDE_EV_NOTE_ON, F, 1);
    start_stalled(&a, 0);
    etude_event_t off = note(f, ETUDE_EV_NOTE_OFF, F, 2);
    assert_int_equal(etude_event_schedule(f->e, &off, NULL), 0);
    periods(f, 5); /* past F: 1280 frames, within the hole wait (50 ms = 2400 frames) */
    assert_int_equal(f->v.n, 0);
    release(&a);
    periods(f, 1);
    assert_int_equal(f->v.n, 2);
    assert_int_equal(f->v.id[0], 1);
    assert_int_equal(f->v.kind[0], ETUDE_EV_NOTE_ON);
    assert_int_equal(f->v.id[1], 2);
    assert_int_equal(f->v.kind[1], ETUDE_EV_NOTE_OFF);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_late, 2);
    assert_int_equal(st.events_pending, 0);
    fx_free(f);
}

/* The wait is bounded: a producer stalled longer than the hole wait no longer holds the others
 * back; their events fire at most the hole wait plus one period late, and the stalled event fires
 * when it is published (late, after them: the documented behaviour past the bound). */
static void test_hole_wait_bounded(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    periods(f, 1);
    uint64_t F = etude_engine_now(f->e) + 2 * PERIOD + 10;
    producer_t a = {.e = f->e, .n = 1};
    a.evs[0] = note(f, ETUDE_EV_NOTE_ON, F, 1);
    start_stalled(&a, 0);
    etude_event_t off = note(f, ETUDE_EV_NOTE_OFF, F, 2);
    assert_int_equal(etude_event_schedule(f->e, &off, NULL), 0);
    uint32_t wait = RATE / 20;
    periods(f, (int)((wait + 4 * PERIOD) / PERIOD));
    assert_int_equal(f->v.n, 1);
    assert_int_equal(f->v.id[0], 2);
    assert_true(f->v.at[0] <= F + wait + 2 * PERIOD);
    etude_engine_work_t w;
    etude_engine_work(f->e, &w);
    assert_int_equal(w.set_aside, 1);
    release(&a);
    periods(f, 1);
    assert_int_equal(f->v.n, 2);
    assert_int_equal(f->v.id[1], 1);
    etude_engine_work(f->e, &w);
    assert_int_equal(w.set_aside, 0);
    fx_free(f);
}

/* A batch of four events at F stalls after publishing two of them; the main thread schedules a
 * fifth at F after the batch. Order: 10, 11, 12, 13, then 20. */
static void test_batch_order(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    periods(f, 1);
    uint64_t F = etude_engine_now(f->e) + 2 * PERIOD + 10;
    producer_t a = {.e = f->e, .n = 4};
    for (int k = 0; k < 4; k++)
        a.evs[k] = note(f, ETUDE_EV_TRIGGER, F, 10 + k);
    start_stalled(&a, 2);
    etude_event_t single = note(f, ETUDE_EV_TRIGGER, F, 20);
    assert_int_equal(etude_event_schedule(f->e, &single, NULL), 0);
    periods(f, 5);
    release(&a);
    periods(f, 1);
    assert_int_equal(f->v.n, 5);
    for (int k = 0; k < 4; k++)
        assert_int_equal(f->v.id[k], 10 + k);
    assert_int_equal(f->v.id[4], 20);
    fx_free(f);
}

/* Producer A checks its voice (alive), claims a slot for an event 10 s ahead and stalls; the voice
 * is disposed and freed meanwhile (its cancel scan cannot see the unpublished event). Once A
 * publishes, the audio side drops the event at intake: the slot is free again at once. */
static void test_dead_voice_dropped_at_intake(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    periods(f, 1);
    producer_t a = {.e = f->e, .n = 1};
    a.evs[0] = note(f, ETUDE_EV_NOTE_ON, etude_engine_now(f->e) + 10u * RATE, 1);
    start_stalled(&a, 0);
    assert_int_equal(etude_voice_dispose(f->e, f->vid), 0);
    periods(f, 4);
    etude_voice_info_t info;
    assert_int_equal(etude_voice_info(f->e, f->vid, &info), ETUDE_ESTALE); /* freed */
    release(&a);
    periods(f, 2);
    etude_engine_stats_t st;
    etude_engine_stats(f->e, &st);
    assert_int_equal(st.events_pending, 0);
    assert_int_equal(st.events_dropped, 1);
    assert_int_equal(f->v.n, 0);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_producer_order),
        cmocka_unit_test(test_hole_wait_bounded),
        cmocka_unit_test(test_batch_order),
        cmocka_unit_test(test_dead_voice_dropped_at_intake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
