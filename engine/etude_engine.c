/* etude_engine.c - the engine proper: creation and destruction, the audio thread's process loop
 * (which drives the event table and the voice pool chunk by chunk), the control side's tick and
 * shutdown (see docs/engine.md). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "etude_engine_internal.h"

static _Thread_local int tl_in_audio;

/* ------------------------------------------------------------------------------------------ */
/* configuration, creation, destruction */

void etude_engine_config_default(etude_engine_config_t *cfg, uint32_t sample_rate)
{
    if (!cfg)
        return;
    cfg->sample_rate = sample_rate;
    cfg->max_period = 4096;
    cfg->event_capacity = 65536;
    cfg->voice_capacity = 64;
    cfg->fade_frames = sample_rate / 200;
    cfg->work_per_frame = 0;
    cfg->hole_wait_frames = 0;
}

void etude_engine_destroy(etude_engine_t *e)
{
    if (!e)
        return;
    vp_fini(e);
    ev_table_fini(e);
    free(e->dummy[0]);
    etude_ring_fini(&e->cmd);
    etude_ring_fini(&e->released);
    etude_ring_fini(&e->notes);
    pthread_mutex_destroy(&e->ctl_lock);
    free(e);
}

int etude_engine_create(const etude_engine_config_t *cfg, etude_engine_t **out)
{
    if (!cfg || !out || cfg->sample_rate == 0 || cfg->max_period == 0 || cfg->event_capacity == 0 ||
        cfg->voice_capacity == 0 || cfg->event_capacity >= NIL || cfg->voice_capacity >= NIL ||
        cfg->max_period > (1u << 24) || cfg->event_capacity > (1u << 30) ||
        cfg->voice_capacity > (1u << 16))
        return ETUDE_EINVAL;
    *out = NULL;
    etude_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return ETUDE_ENOMEM;
    e->cfg = *cfg;
    if (e->cfg.work_per_frame == 0)
        e->cfg.work_per_frame = 16;
    if (e->cfg.hole_wait_frames == 0)
        e->cfg.hole_wait_frames = cfg->sample_rate / 20 ? cfg->sample_rate / 20 : 1;
    if (e->cfg.fade_frames == 0)
        e->cfg.fade_frames = cfg->sample_rate / 200 ? cfg->sample_rate / 200 : 1;
    e->ev_cap = cfg->event_capacity;
    e->v_cap = cfg->voice_capacity;
    pthread_mutex_init(&e->ctl_lock, NULL);

    e->dummy[0] = calloc((size_t)cfg->max_period * 2, sizeof(float));
    int rc = 0;
    rc |= etude_ring_init(&e->cmd, (size_t)e->v_cap * 2, sizeof(struct cmd));
    rc |= etude_ring_init(&e->released, e->v_cap, sizeof(uint32_t));
    rc |= etude_ring_init(&e->notes, NOTE_RING_RECORDS, sizeof(struct note));
    if (rc || !e->dummy[0] || ev_table_init(e) != ETUDE_OK || vp_init(e) != ETUDE_OK) {
        etude_engine_destroy(e);
        return ETUDE_ENOMEM;
    }
    e->dummy[1] = e->dummy[0] + cfg->max_period;
    *out = e;
    return ETUDE_OK;
}

uint32_t etude_engine_sample_rate(const etude_engine_t *e) { return e ? e->cfg.sample_rate : 0; }
uint32_t etude_engine_max_period(const etude_engine_t *e) { return e ? e->cfg.max_period : 0; }
uint32_t etude_engine_fade_frames(const etude_engine_t *e) { return e ? e->cfg.fade_frames : 0; }

uint64_t etude_engine_now(const etude_engine_t *e)
{
    return e ? atomic_load_explicit(&((etude_engine_t *)e)->now, memory_order_acquire) : 0;
}

uint64_t etude_engine_audio_frame(const etude_engine_t *e) { return e ? e->rt_frame : 0; }

int etude_engine_in_audio(void) { return tl_in_audio; }

void etude_engine_set_bus(etude_engine_t *e, struct etude_bus *bus)
{
    if (e)
        atomic_store(&e->bus, bus);
}

void etude_engine_stats(const etude_engine_t *ce, etude_engine_stats_t *out)
{
    if (!ce || !out)
        return;
    etude_engine_t *e = (etude_engine_t *)ce;
    out->frames = atomic_load(&e->st_frames);
    out->periods = atomic_load(&e->st_periods);
    /* freed first: every freed event took its sequence number before it was freed */
    uint64_t freed = atomic_load(&e->st_freed);
    uint64_t seq = atomic_load(&e->claimed);
    out->events_scheduled = seq;
    out->events_dispatched = atomic_load(&e->st_disp);
    out->events_cancelled = atomic_load(&e->st_canc);
    out->events_dropped = atomic_load(&e->st_drop);
    out->events_late = atomic_load(&e->st_late);
    out->schedule_full = atomic_load(&e->st_full);
    out->events_pending = (uint32_t)(seq - freed);
    out->voices_in_use = atomic_load(&e->v_in_use);
    out->voices_active = atomic_load(&e->v_active);
}

/* ------------------------------------------------------------------------------------------ */
/* audio side: the process loop */

/* The test counters of etude_engine_test.h: reset per chunk, maxima kept. */
static void work_begin(etude_engine_t *e, uint32_t n)
{
    etude_engine_work_t *w = &e->rt_work;
    uint64_t b = (uint64_t)e->cfg.work_per_frame * n;
    e->rt_budget = b < ETUDE_WORK_MIN ? ETUDE_WORK_MIN : b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
    w->budget = e->rt_budget;
    w->intake = w->cancels = w->moves = w->walk = w->due = 0;
}

static void work_end(etude_engine_t *e)
{
    etude_engine_work_t *w = &e->rt_work;
#define KEEP_MAX(m, v) if ((v) > (m)) (m) = (v)
    KEEP_MAX(w->max_intake, w->intake);
    KEEP_MAX(w->max_cancels, w->cancels);
    KEEP_MAX(w->max_moves, w->moves);
    KEEP_MAX(w->max_walk, w->walk);
#undef KEEP_MAX
    w->chunks++;
    w->backlog = atomic_load_explicit(&e->claimed, memory_order_relaxed) - e->drained;
    w->set_aside = e->holes_n;
}

void etude_engine_work(const etude_engine_t *e, etude_engine_work_t *out)
{
    if (e && out)
        *out = e->rt_work;
}

static void process_chunk(etude_engine_t *e, uint32_t n, float *const mix[2], float *const *voice_out,
                          uint32_t off)
{
    uint64_t start = atomic_load_explicit(&e->now, memory_order_relaxed);
    work_begin(e, n);
    /* Submissions before commands: an event whose submission is visible was scheduled after its
     * voice's activation was queued, so that activation is visible too. */
    ev_rt_intake(e, start);
    vp_rt_commands(e);
    ev_rt_cancels(e);

    memset(mix[0] + off, 0, n * sizeof(float));
    memset(mix[1] + off, 0, n * sizeof(float));
    if (voice_out)
        for (uint32_t i = 0; i < e->v_cap; i++)
            if (voice_out[i])
                memset(voice_out[i] + off, 0, n * sizeof(float));

    vp_rt_clear(e, n);
    ev_rt_dispatch(e, start, n);
    vp_rt_mix(e, n, mix, voice_out, off);
    ev_rt_flush(e);
    work_end(e);
    e->rt_frame = start + n;
    atomic_store_explicit(&e->now, start + n, memory_order_release);
    bump_u64(&e->st_frames, n);
}

void etude_engine_process(etude_engine_t *e, uint32_t nframes, float *const mix[2],
                          float *const *voice_out)
{
    int was = tl_in_audio;
    tl_in_audio = 1;
    int expect = 0;
    if (!atomic_compare_exchange_strong_explicit(&e->audio_owner, &expect, 1, memory_order_acquire,
                                                 memory_order_relaxed)) {
        /* dispose_all() is running the engine because no audio thread was: output silence. */
        for (int c = 0; c < 2; c++)
            memset(mix[c], 0, nframes * sizeof(float));
        if (voice_out)
            for (uint32_t i = 0; i < e->v_cap; i++)
                if (voice_out[i])
                    memset(voice_out[i], 0, nframes * sizeof(float));
        tl_in_audio = was;
        return;
    }
    uint32_t off = 0;
    while (off < nframes) {
        uint32_t n = nframes - off;
        if (n > e->cfg.max_period)
            n = e->cfg.max_period;
        process_chunk(e, n, mix, voice_out, off);
        off += n;
    }
    if (nframes == 0) {
        work_begin(e, 0);
        ev_rt_intake(e, atomic_load_explicit(&e->now, memory_order_relaxed));
        vp_rt_commands(e);
        ev_rt_cancels(e);
        ev_rt_flush(e);
    }
    bump_u64(&e->st_periods, 1);
    atomic_store_explicit(&e->audio_owner, 0, memory_order_release);
    tl_in_audio = was;
}

/* ------------------------------------------------------------------------------------------ */
/* control side: tick and shutdown */

int etude_engine_tick(etude_engine_t *e)
{
    if (!e)
        return ETUDE_EINVAL;
    int freed = vp_reap(e);
    nt_publish(e);
    return freed;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int etude_engine_dispose_all(etude_engine_t *e, uint32_t timeout_ms)
{
    if (!e)
        return 0;
    for (uint32_t i = 0; i < e->v_cap; i++) {
        uint64_t w = atomic_load(&e->vs[i].state);
        uint32_t st = SW_ST(w);
        if (st == ETUDE_VOICE_PREPARED || st == ETUDE_VOICE_ACTIVE)
            etude_voice_dispose(e, ((uint64_t)SW_GEN(w) << 32) | i);
    }
    /* If no process() call starts for this long, no audio thread is running: drive the fades
     * ourselves, one max_period at a time, into scratch buffers. */
    uint64_t idle_ms = 2000ull * e->cfg.max_period / e->cfg.sample_rate;
    if (idle_ms < 50)
        idle_ms = 50;
    uint64_t t0 = mono_ms(), last_change = t0;
    uint64_t last_periods = atomic_load(&e->st_periods);
    for (;;) {
        etude_engine_tick(e);
        if (atomic_load(&e->v_in_use) == 0)
            return 0;
        uint64_t t = mono_ms();
        uint64_t p = atomic_load(&e->st_periods);
        if (p != last_periods) {
            last_periods = p;
            last_change = t;
        } else if (t - last_change >= idle_ms) {
            etude_engine_process(e, e->cfg.max_period, e->dummy, NULL);
            last_periods = atomic_load(&e->st_periods);
            continue;
        }
        if (t - t0 >= timeout_ms)
            return (int)atomic_load(&e->v_in_use);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}
