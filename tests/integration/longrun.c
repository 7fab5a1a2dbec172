/* longrun.c - a simulated 24-hour session, offline and as fast as the machine goes: continual
 * scheduling and cancelling, voice create/dispose, sequencer stop/start/locate/loop and bus
 * traffic; memory (RSS, heap in use) and the pools' counts must be flat from warm-up to the end.
 *
 * This is a memory check, not a timing check: the wall time is printed, never judged.
 * Environment:
 *   ETUDE_LONGRUN_HOURS   simulated hours (default 24; the sanitizer builds register it with less,
 *                         see longrun.cmake, since they run the same work 5-20x slower)
 *   ETUDE_LONGRUN_PERIOD  frames per period (default 4096)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etude_bus.h"
#include "etude_engine.h"
#include "etude_sequencer.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1 /* quarantines and shadow memory make RSS and mallinfo meaningless */
#else
#define UNDER_SANITIZER 0
#endif

#define RATE 48000u
#define PERSISTENT_VOICES 2

static int failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "longrun: FAIL: " __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- a cheap voice: a 64-frame decaying blip per event; an owned buffer so create/dispose
 * really allocate and free on the control thread */

typedef struct blip {
    float *table; /* 64 frames, allocated in prepare */
    uint32_t pos; /* frames of the current blip played; 64 = silent */
    float gain;
} blip_t;

static int blip_prepare(void *self, uint32_t rate, uint32_t max_period)
{
    (void)rate;
    (void)max_period;
    blip_t *b = self;
    b->table = malloc(64 * sizeof *b->table);
    if (!b->table)
        return ETUDE_ENOMEM;
    for (int i = 0; i < 64; i++)
        b->table[i] = (float)(64 - i) / 64.0f * ((i & 1) ? -1.0f : 1.0f);
    b->pos = 64;
    return 0;
}

static void blip_event(void *self, const etude_event_t *ev)
{
    blip_t *b = self;
    if (ev->kind == ETUDE_EV_ALL_NOTES_OFF) {
        b->pos = 64;
    } else {
        b->pos = 0;
        b->gain = ev->kind == ETUDE_EV_CLICK ? ev->u.click.gain : 0.5f;
    }
}

static void blip_render(void *self, float *const out[2], uint32_t nframes)
{
    blip_t *b = self;
    for (uint32_t i = 0; i < nframes && b->pos < 64; i++)
        out[0][i] += b->gain * b->table[b->pos++];
}

static void blip_dispose(void *self)
{
    blip_t *b = self;
    free(b->table);
    free(b);
}

static const etude_voice_class_t blip_class = {.kind = "blip", .prepare = blip_prepare,
                                               .event = blip_event, .render = blip_render,
                                               .dispose = blip_dispose, .mono = true};

/* ---- a source: a click every `every` frames, endless */

typedef struct grid {
    uint64_t every;
} grid_t;

static int grid_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    grid_t *g = self;
    for (uint64_t p = (from + g->every - 1) / g->every * g->every; p < to; p += g->every) {
        etude_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = ETUDE_EV_CLICK;
        ev.u.click.level = (p / g->every) % 4 == 0 ? ETUDE_CLICK_ACCENT : ETUDE_CLICK_NORMAL;
        ev.u.click.gain = 0.4f;
        int rc = emit(ctx, p, &ev);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static uint64_t endless(void *self)
{
    (void)self;
    return UINT64_MAX;
}

static const etude_source_class_t grid_class = {
    .kind = "grid", .expand = grid_expand, .length = endless, .destroy = free};

/* ---- the session */

typedef struct session {
    etude_engine_t *engine;
    etude_sequencer_t *seq;
    etude_bus_t *bus;
    uint32_t period;
    float *l, *r;
    etude_voice_id_t persistent[PERSISTENT_VOICES];
    etude_voice_id_t churn;
    uint32_t churn_source;
    etude_event_id_t handles[64];
    uint64_t rng;
    uint64_t churned, direct_scheduled, direct_cancelled, full;
} session_t;

static uint64_t rnd(session_t *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "longrun: %s: %s\n", what, etude_strerror(rc));
    exit(1);
}

static etude_voice_id_t add_blip(session_t *s, const char *name)
{
    blip_t *b = calloc(1, sizeof *b);
    etude_voice_id_t id;
    int rc = etude_voice_add(s->engine, &blip_class, b, name, &id);
    if (rc < 0)
        die("voice add", rc);
    return id;
}

static void churn_in(session_t *s)
{
    char name[32];
    snprintf(name, sizeof name, "churn-%llu", (unsigned long long)s->churned++);
    s->churn = add_blip(s, name);
    grid_t *g = malloc(sizeof *g);
    g->every = 3000 + rnd(s) % 9000;
    int rc = etude_sequencer_add_source(s->seq, &grid_class, g, s->churn, &s->churn_source);
    if (rc < 0)
        die("add source", rc);
}

static void churn_out(session_t *s)
{
    if (!s->churn)
        return;
    etude_sequencer_remove_source(s->seq, s->churn_source);
    int rc = etude_voice_dispose(s->engine, s->churn);
    if (rc < 0)
        die("voice dispose", rc);
    s->churn = 0;
}

static void period(session_t *s)
{
    int rc = etude_sequencer_tick(s->seq);
    if (rc == ETUDE_EFULL)
        s->full++;
    else if (rc < 0)
        die("sequencer tick", rc);
    float *const mix[2] = {s->l, s->r};
    etude_engine_process(s->engine, s->period, mix, NULL);
    rc = etude_engine_tick(s->engine);
    if (rc < 0)
        die("engine tick", rc);
}

/* The control work of one period: direct events scheduled and cancelled, and now and then the
 * transport and the voice pool changed. */
static void control(session_t *s, uint64_t n)
{
    uint64_t now = etude_engine_now(s->engine);
    for (int i = 0; i < 4; i++) {
        etude_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.frame = now + rnd(s) % (3 * s->period);
        ev.voice = s->persistent[i & 1];
        ev.kind = i == 3 ? ETUDE_EV_MARKER : ETUDE_EV_TRIGGER;
        if (ev.kind == ETUDE_EV_MARKER) {
            ev.voice = 0;
            ev.flags = ETUDE_EVF_NOTIFY; /* exercises the notification ring and the bus */
            if (n % 64)
                continue;
        }
        etude_event_id_t h;
        int rc = etude_event_schedule(s->engine, &ev, &h);
        if (rc == ETUDE_EFULL) {
            s->full++;
            continue;
        }
        if (rc < 0)
            die("schedule", rc);
        s->direct_scheduled++;
        s->handles[rnd(s) % 64] = h;
    }
    for (int i = 0; i < 2; i++) {
        etude_event_id_t h = s->handles[rnd(s) % 64];
        if (h && etude_event_cancel(s->engine, h) == 0)
            s->direct_cancelled++;
    }
    if (n % 37 == 0)
        etude_event_cancel_voice(s->engine, s->persistent[1], NULL);
    if (n % 100 == 0) {
        churn_out(s);
        churn_in(s);
    }
    if (n % 1009 == 0)
        etude_sequencer_locate(s->seq, rnd(s) % (3600ull * RATE));
    if (n % 5003 == 0) {
        uint64_t a = rnd(s) % (600ull * RATE);
        etude_sequencer_set_loop(s->seq, a, a + RATE + rnd(s) % (30ull * RATE));
    }
    if (n % 5003 == 2500)
        etude_sequencer_set_loop(s->seq, 0, 0);
    if (n % 7919 == 0) {
        etude_sequencer_stop(s->seq);
        period(s);
        etude_sequencer_start(s->seq, 0);
    }
    char json[64];
    snprintf(json, sizeof json, "{\"period\":%llu}", (unsigned long long)n);
    etude_bus_publish(s->bus, n % 2 ? "debug" : "position", "tick", json);
    if (n % 2 == 0)
        etude_bus_publish(s->bus, "session", "checkpoint", json);
}

typedef struct sample {
    size_t rss, heap;
    etude_engine_stats_t st;
    size_t bus_count, bus_subs;
} sample_t;

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Bring the session to a quiet, comparable state (sequencer stopped, no pending event, only the
 * persistent voices), take the sample, and start again. */
static void quiesce_and_sample(session_t *s, sample_t *out)
{
    etude_sequencer_stop(s->seq);
    churn_out(s);
    etude_event_clear(s->engine, NULL);
    etude_engine_stats_t st;
    int i;
    for (i = 0; i < 16; i++) {
        period(s);
        etude_engine_stats(s->engine, &st);
        if (st.events_pending == 0 && st.voices_in_use == PERSISTENT_VOICES)
            break;
    }
    CHECK(i < 16, "the engine did not come back to its quiet state within 16 periods "
                  "(pending %u, voices %u)", st.events_pending, st.voices_in_use);
    malloc_trim(0);
    out->rss = rss_bytes();
    struct mallinfo2 mi = mallinfo2();
    out->heap = mi.uordblks + mi.hblkhd;
    out->st = st;
    out->bus_count = etude_bus_count(s->bus, NULL);
    out->bus_subs = etude_bus_subscriptions(s->bus);
    churn_in(s);
    etude_sequencer_start(s->seq, 0);
}

static void on_bus(void *user, const etude_bus_msg_t *m)
{
    (void)m;
    (*(uint64_t *)user)++;
}

int main(void)
{
    const char *h = getenv("ETUDE_LONGRUN_HOURS"), *p = getenv("ETUDE_LONGRUN_PERIOD");
    double hours = h && *h ? atof(h) : 24.0;
    long per = p && *p ? atol(p) : 4096;
    if (!(hours > 0) || per < 64 || per > 8192) {
        fprintf(stderr, "longrun: ETUDE_LONGRUN_HOURS must be > 0 and ETUDE_LONGRUN_PERIOD in 64..8192\n");
        return 2;
    }
    session_t s = {.period = (uint32_t)per, .rng = 0x9e3779b97f4a7c15ull};
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = s.period;
    cfg.event_capacity = 2048;
    cfg.voice_capacity = 16;
    int rc = etude_engine_create(&cfg, &s.engine);
    if (rc < 0)
        die("engine create", rc);
    s.bus = etude_bus_create();
    uint64_t delivered = 0;
    etude_bus_subscribe(s.bus, "*", on_bus, &delivered, &s);
    etude_engine_set_bus(s.engine, s.bus);
    rc = etude_sequencer_create(s.engine, 2 * s.period, &s.seq);
    if (rc < 0)
        die("sequencer create", rc);
    s.l = calloc(s.period, sizeof(float));
    s.r = calloc(s.period, sizeof(float));
    s.persistent[0] = add_blip(&s, "click");
    s.persistent[1] = add_blip(&s, "pad");
    grid_t *g = malloc(sizeof *g);
    g->every = 12000;
    etude_sequencer_add_source(s.seq, &grid_class, g, s.persistent[0], NULL);
    churn_in(&s);
    etude_sequencer_start(s.seq, 0);

    const uint64_t total = (uint64_t)(hours * 3600.0 * RATE);
    const uint64_t periods = total / s.period;
    /* Warm-up: the first simulated hour, or 4000 periods (the bus history is full by then). */
    const uint64_t warm = periods / 24 > 4000 ? periods / 24 : (periods / 2 < 4000 ? periods / 2 : 4000);
    sample_t base = {0}, end = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t n = 1; n <= periods; n++) {
        control(&s, n);
        period(&s);
        if (n == warm)
            quiesce_and_sample(&s, &base);
    }
    quiesce_and_sample(&s, &end);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    const etude_engine_stats_t *a = &base.st, *b = &end.st;
    printf("longrun: %.2f simulated hours (%llu frames, %llu periods of %u) in %.1f s wall (%.0fx real time)\n",
           (double)b->frames / RATE / 3600.0, (unsigned long long)b->frames,
           (unsigned long long)b->periods, s.period, wall, (double)b->frames / RATE / wall);
    printf("longrun: events scheduled %llu, dispatched %llu, cancelled %llu, dropped %llu, late %llu, "
           "table full %llu; voices churned %llu; bus delivered %llu\n",
           (unsigned long long)b->events_scheduled, (unsigned long long)b->events_dispatched,
           (unsigned long long)b->events_cancelled, (unsigned long long)b->events_dropped,
           (unsigned long long)b->events_late, (unsigned long long)s.full,
           (unsigned long long)s.churned, (unsigned long long)delivered);
    printf("longrun: after warm-up: RSS %zu KiB, heap %zu B, pending %u, voices %u, bus %zu msgs %zu subs\n",
           base.rss / 1024, base.heap, a->events_pending, a->voices_in_use, base.bus_count, base.bus_subs);
    printf("longrun: at the end:    RSS %zu KiB, heap %zu B, pending %u, voices %u, bus %zu msgs %zu subs\n",
           end.rss / 1024, end.heap, b->events_pending, b->voices_in_use, end.bus_count, end.bus_subs);

    CHECK(b->frames >= total - s.period, "rendered %llu frames, wanted %llu", (unsigned long long)b->frames,
          (unsigned long long)total);
    CHECK(b->events_pending == a->events_pending, "events pending %u -> %u", a->events_pending, b->events_pending);
    CHECK(b->voices_in_use == a->voices_in_use, "voices in use %u -> %u", a->voices_in_use, b->voices_in_use);
    CHECK(end.bus_count == base.bus_count && end.bus_count <= ETUDE_BUS_HISTORY, "bus history %zu -> %zu",
          base.bus_count, end.bus_count);
    CHECK(end.bus_subs == base.bus_subs, "bus subscriptions %zu -> %zu", base.bus_subs, end.bus_subs);
    /* Every event accepted was either delivered, cancelled or dropped (its voice gone): none lost. */
    CHECK(b->events_scheduled == b->events_dispatched + b->events_cancelled + b->events_dropped,
          "scheduled %llu != dispatched + cancelled + dropped %llu", (unsigned long long)b->events_scheduled,
          (unsigned long long)(b->events_dispatched + b->events_cancelled + b->events_dropped));
    CHECK(b->events_scheduled - a->events_scheduled > periods, "too little scheduling happened");
    CHECK(s.churned > periods / 100, "too little voice churn happened");
    if (!UNDER_SANITIZER) {
        /* Fixed margins, independent of the run's length: growth proportional to time fails them. */
        CHECK(end.heap <= base.heap + 256 * 1024, "heap in use grew from %zu to %zu bytes", base.heap, end.heap);
        CHECK(end.rss <= base.rss + 4 * 1024 * 1024, "RSS grew from %zu to %zu KiB", base.rss / 1024, end.rss / 1024);
    }

    etude_sequencer_destroy(s.seq);
    etude_engine_destroy(s.engine);
    etude_bus_destroy(s.bus);
    free(s.l);
    free(s.r);
    if (failures) {
        fprintf(stderr, "longrun: %d check(s) failed\n", failures);
        return 1;
    }
    printf("longrun: PASS: memory and pool counts flat from warm-up to the end\n");
    return 0;
}
