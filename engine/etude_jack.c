/* etude_jack.c - the JACK driver: client, ports, process callback, transport, MIDI input, timing. */
#include "etude_jack.h"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/statistics.h>
#include <jack/transport.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIST_BINS 32768u /* 1 us bins; the last one counts everything slower */
#define TICKS_PER_BEAT 1920.0
#define TWORDS 14

typedef struct beat_grid {
    size_t n;
    etude_jack_beat_t beats[];
} beat_grid_t;

struct etude_jack {
    jack_client_t *client;
    char name[128];
    int mode;
    bool want_midi;
    etude_engine_t *engine;
    uint32_t engine_rate;

    /* voice ports, indexed by voice slot */
    uint32_t voice_cap;
    _Atomic(jack_port_t *) *voice_ports;
    etude_voice_id_t *voice_ids; /* control side */
    float **voice_bufs;          /* audio side scratch */
    jack_port_t *mix[2];
    jack_port_t *midi_in;

    atomic_uint rate, bufsize;
    atomic_bool active;
    atomic_bool shutdown;
    char shutdown_reason[128];
    atomic_bool rate_changed;
    atomic_uint_fast64_t buffer_changes, xruns, periods, midi_dropped;
    atomic_uint xrun_delay_bits;

    /* callback timing */
    _Atomic uint32_t *hist;
    atomic_uint_fast64_t t_count, t_sum_ns, t_max_ns;
    atomic_uint_fast64_t reset_req, reset_done;

    /* MIDI ring: single writer (audio), single reader (control) */
    etude_jack_note_t *ring;
    uint32_t ring_mask;
    atomic_uint_fast64_t ring_head, ring_tail;

    /* transport snapshot: seqlock written by the audio thread only */
    atomic_uint_fast64_t tseq;
    atomic_uint_fast64_t tw[TWORDS];
    bool seen_period;       /* audio side */
    bool last_rolling;      /* audio side */
    bool last_starting;     /* audio side */
    uint64_t last_frame;    /* audio side: the frame expected next period */
    atomic_uint_fast64_t epoch, ack;
    /* slow sync: the audio thread asks (sync_pos) for a start at a transport frame; the control
     * thread arms the sequencer to play it from engine frame armed_at; the sync callback then says
     * "ready" in the period just before armed_at, so the transport rolls exactly there. */
    atomic_uint_fast64_t sync_pos;  /* audio: transport frame + 1 of the pending start (0: none) */
    atomic_uint_fast64_t armed_pos; /* control: transport frame + 1 armed for */
    atomic_uint_fast64_t armed_at;  /* control: engine frame that frame plays at */
    uint64_t followed;      /* control side: the epoch etude_jack_follow() handled last */
    bool follow_playing;    /* control side: a START was reported and no STOP since */

    /* beat grid for the timebase callback */
    etude_jack_grid_t *grid;
};

struct etude_jack_grid {
    _Atomic(beat_grid_t *) cur;  /* written by the control thread only */
    _Atomic(beat_grid_t *) busy; /* written by the reader only: the grid it is reading, or NULL */
};

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---------------------------------------------------------------------------------------------
 * The JACK thread's context, for the audio-thread interposer (tests/support/rt_interpose.c). */

static _Thread_local int tl_jack_audio;

int etude_jack_in_audio(void) { return tl_jack_audio; }

/* Defined only by the interposer (a weak reference: NULL in every other process). Under a test it
 * makes one of the callbacks below commit a forbidden call once, to prove they are all covered. */
extern void etude_rt_inject(const char *where) __attribute__((weak));

static inline void jack_enter(const char *where)
{
    tl_jack_audio = 1;
    if (etude_rt_inject)
        etude_rt_inject(where);
}

static inline void jack_leave(void) { tl_jack_audio = 0; }

/* ---------------------------------------------------------------------------------------------
 * Transport snapshot (seqlock over atomic words, so readers never see a torn position). */

static void snap_write(etude_jack_t *j, const etude_jack_transport_t *t)
{
    uint64_t w[TWORDS] = {0};
    w[0] = (uint64_t)t->rolling | ((uint64_t)t->starting << 1);
    w[1] = t->frame;
    w[2] = t->engine_frame;
    w[3] = t->epoch;
    w[4] = (uint64_t)t->bbt_valid | ((uint64_t)t->bbt_ours << 1);
    w[5] = (uint32_t)t->bar;
    w[6] = (uint32_t)t->beat;
    w[7] = (uint32_t)t->tick;
    w[8] = f2u(t->beats_per_bar);
    w[9] = f2u(t->beat_type);
    memcpy(&w[10], &t->ticks_per_beat, 8);
    memcpy(&w[11], &t->bpm, 8);
    /* Release stores (no fences: TSan does not model them): a reader that sees any word of this
     * write also sees the odd sequence number stored before it, and retries. */
    uint64_t s = atomic_load_explicit(&j->tseq, memory_order_relaxed);
    atomic_store_explicit(&j->tseq, s + 1, memory_order_relaxed);
    for (int i = 0; i < TWORDS; i++)
        atomic_store_explicit(&j->tw[i], w[i], memory_order_release);
    atomic_store_explicit(&j->tseq, s + 2, memory_order_release);
}

bool etude_jack_transport(etude_jack_t *j, etude_jack_transport_t *t)
{
    uint64_t w[TWORDS];
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&j->tseq, memory_order_acquire);
        if (s1 == 0)
            return false;
        if (s1 & 1)
            continue;
        for (int i = 0; i < TWORDS; i++)
            w[i] = atomic_load_explicit(&j->tw[i], memory_order_acquire);
        if (atomic_load_explicit(&j->tseq, memory_order_relaxed) == s1)
            break;
    }
    memset(t, 0, sizeof *t);
    t->rolling = w[0] & 1;
    t->starting = (w[0] >> 1) & 1;
    t->frame = w[1];
    t->engine_frame = w[2];
    t->epoch = w[3];
    t->bbt_valid = w[4] & 1;
    t->bbt_ours = (w[4] >> 1) & 1;
    t->bar = (int32_t)(uint32_t)w[5];
    t->beat = (int32_t)(uint32_t)w[6];
    t->tick = (int32_t)(uint32_t)w[7];
    t->beats_per_bar = u2f((uint32_t)w[8]);
    t->beat_type = u2f((uint32_t)w[9]);
    memcpy(&t->ticks_per_beat, &w[10], 8);
    memcpy(&t->bpm, &w[11], 8);
    return true;
}

void etude_jack_transport_ack(etude_jack_t *j, uint64_t epoch)
{
    atomic_store_explicit(&j->ack, epoch, memory_order_release);
}

/* ---------------------------------------------------------------------------------------------
 * BBT from a beat grid. */

static size_t beat_index(const etude_jack_beat_t *b, size_t n, uint64_t frame)
{
    size_t lo = 0, hi = n; /* last beat with b[i].frame <= frame, or 0 */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].frame <= frame)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

bool etude_jack_bbt_at(const etude_jack_beat_t *b, size_t n, uint64_t frame, uint32_t rate,
                       int32_t *bar, int32_t *beat, int32_t *tick, double *bar_start_tick,
                       double *bpm)
{
    if (!b || n == 0 || rate == 0)
        return false;
    size_t i = beat_index(b, n, frame);
    const etude_jack_beat_t *x = &b[i];
    double beat_len; /* frames */
    if (i + 1 < n)
        beat_len = (double)(b[i + 1].frame - x->frame);
    else
        beat_len = 60.0 * rate / (x->bpm > 0 ? x->bpm : 120.0);
    int32_t bb = x->bar, bt = x->beat;
    size_t first_of_bar = i >= (size_t)(bt - 1) ? i - (size_t)(bt - 1) : 0;
    double bst = (double)first_of_bar * TICKS_PER_BEAT;
    double frac;
    if (frame < x->frame) { /* before the grid: count beats backwards is not meaningful */
        frac = 0.0;
    } else {
        double beats_in = (double)(frame - x->frame) / beat_len;
        if (i + 1 < n || beats_in < 1.0) {
            frac = beats_in;
        } else { /* past the end: the last meter and tempo continue */
            uint64_t whole = (uint64_t)floor(beats_in);
            frac = beats_in - (double)whole;
            int32_t bpb = x->beats_per_bar > 0 ? (int32_t)x->beats_per_bar : 4;
            uint64_t pos = (uint64_t)(bt - 1) + whole;
            bb += (int32_t)(pos / (uint64_t)bpb);
            bt = (int32_t)(pos % (uint64_t)bpb) + 1;
            bst = (double)(first_of_bar + (pos / (uint64_t)bpb) * (uint64_t)bpb) * TICKS_PER_BEAT;
        }
    }
    int32_t tk = (int32_t)floor(frac * TICKS_PER_BEAT);
    if (tk >= (int32_t)TICKS_PER_BEAT)
        tk = (int32_t)TICKS_PER_BEAT - 1;
    if (tk < 0)
        tk = 0;
    *bar = bb;
    *beat = bt;
    *tick = tk;
    *bar_start_tick = bst;
    *bpm = i + 1 < n ? 60.0 * rate / beat_len : x->bpm;
    return true;
}

/* The grid hand-over. The reader announces the grid it is about to read (busy = g) and then checks
 * that it is still current; the writer publishes the new grid (cur = new) and then checks whether
 * the reader announced the old one. Each side stores and then loads another variable: the
 * store-buffering pattern, which release/acquire does not order (a release store may become visible
 * after a later acquire load of another variable, even on x86), so with release/acquire both sides
 * could read the other's old value: the reader keeps the old grid while the writer sees no reader
 * and frees it. All four accesses are therefore seq_cst: they fall in one total order, and if the
 * writer's load of busy comes before the reader's store of it, the writer's store of cur came
 * before both, so the reader's re-check sees the new grid and backs off; otherwise the writer sees
 * busy == old and waits until the reader clears it (release: its reads of the grid happen before
 * the writer's acquire of NULL, and so before the free). */

/* Test only: tests/unit/test_jack_grid_weak.cmake builds a separate binary (not a ctest) from this
 * file with fd82c7f's release/acquire orders, to show that test_jack_grid's litmus case catches
 * them. The library (etude-engine) never defines it; the switch refuses to work without its
 * companion define. */
#ifdef ETUDE_JACK_GRID_WEAK_ORDER_FOR_TEST
#ifndef ETUDE_JACK_GRID_WEAK_ORDER_IS_A_TEST_BINARY
#error "ETUDE_JACK_GRID_WEAK_ORDER_FOR_TEST reintroduces a use-after-free; test binaries only"
#endif
#define GRID_XCHG memory_order_acq_rel
#define GRID_STORE memory_order_release
#define GRID_LOAD memory_order_acquire
#else
#define GRID_XCHG memory_order_seq_cst
#define GRID_STORE memory_order_seq_cst
#define GRID_LOAD memory_order_seq_cst
#endif

etude_jack_grid_t *etude_jack_grid_create(void)
{
    return calloc(1, sizeof(etude_jack_grid_t));
}

void etude_jack_grid_destroy(etude_jack_grid_t *gr)
{
    if (!gr)
        return;
    free(atomic_load(&gr->cur));
    free(gr);
}

int etude_jack_grid_set(etude_jack_grid_t *gr, const etude_jack_beat_t *beats, size_t n)
{
    beat_grid_t *g = NULL;
    if (n) {
        for (size_t i = 1; i < n; i++)
            if (beats[i].frame <= beats[i - 1].frame)
                return ETUDE_EINVAL;
        g = malloc(sizeof *g + n * sizeof *beats);
        if (!g)
            return ETUDE_ENOMEM;
        g->n = n;
        memcpy(g->beats, beats, n * sizeof *beats);
    }
    beat_grid_t *old = atomic_exchange_explicit(&gr->cur, g, GRID_XCHG);
    if (old) {
        struct timespec ts = {0, 100000};
        while (atomic_load_explicit(&gr->busy, GRID_LOAD) == old)
            nanosleep(&ts, NULL);
        free(old);
    }
    return ETUDE_OK;
}

bool etude_jack_grid_bbt(etude_jack_grid_t *gr, uint64_t frame, uint32_t rate, etude_jack_bbt_t *o)
{
    beat_grid_t *g = atomic_load_explicit(&gr->cur, memory_order_relaxed);
    if (!g)
        return false;
    atomic_store_explicit(&gr->busy, g, GRID_STORE);
    /* re-check: the writer may have swapped (and be about to free g) in between */
    if (atomic_load_explicit(&gr->cur, GRID_LOAD) != g) {
        atomic_store_explicit(&gr->busy, NULL, memory_order_release);
        return false;
    }
    bool ok = etude_jack_bbt_at(g->beats, g->n, frame, rate, &o->bar, &o->beat, &o->tick,
                                &o->bar_start_tick, &o->bpm);
    if (ok) {
        size_t i = beat_index(g->beats, g->n, frame);
        o->beats_per_bar = g->beats[i].beats_per_bar;
        o->beat_type = g->beats[i].beat_type;
    }
    atomic_store_explicit(&gr->busy, NULL, memory_order_release);
    return ok;
}

/* [audio] JACK calls it after the process callbacks of a cycle while etude is timebase master. */
static void timebase_cb(jack_transport_state_t state, jack_nframes_t nframes, jack_position_t *pos,
                        int new_pos, void *arg)
{
    (void)state;
    (void)nframes;
    (void)new_pos;
    etude_jack_t *j = arg;
    jack_enter("timebase");
    etude_jack_bbt_t b;
    if (etude_jack_grid_bbt(j->grid, pos->frame, pos->frame_rate ? pos->frame_rate : j->engine_rate, &b)) {
        pos->valid = JackPositionBBT;
        pos->bar = b.bar;
        pos->beat = b.beat;
        pos->tick = b.tick;
        pos->bar_start_tick = b.bar_start_tick;
        pos->beats_per_bar = b.beats_per_bar;
        pos->beat_type = b.beat_type;
        pos->ticks_per_beat = TICKS_PER_BEAT;
        pos->beats_per_minute = b.bpm;
    }
    jack_leave();
}

int etude_jack_set_beats(etude_jack_t *j, const etude_jack_beat_t *beats, size_t n)
{
    return etude_jack_grid_set(j->grid, beats, n);
}

/* ---------------------------------------------------------------------------------------------
 * The process callback. [audio]: no malloc, free, locks, I/O or printf below. */

static void silence(float *buf, jack_nframes_t n)
{
    if (buf)
        memset(buf, 0, n * sizeof *buf);
}

static void record_time(etude_jack_t *j, uint64_t ns)
{
    uint64_t us = ns / 1000u;
    uint32_t bin = us >= HIST_BINS - 1 ? HIST_BINS - 1 : (uint32_t)us;
    atomic_store_explicit(&j->hist[bin], atomic_load_explicit(&j->hist[bin], memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&j->t_count, atomic_load_explicit(&j->t_count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&j->t_sum_ns, atomic_load_explicit(&j->t_sum_ns, memory_order_relaxed) + ns,
                          memory_order_relaxed);
    if (ns > atomic_load_explicit(&j->t_max_ns, memory_order_relaxed))
        atomic_store_explicit(&j->t_max_ns, ns, memory_order_relaxed);
}

static void read_midi(etude_jack_t *j, jack_nframes_t n, uint64_t eng, bool rolling, uint64_t tframe)
{
    void *buf = jack_port_get_buffer(j->midi_in, n);
    if (!buf)
        return;
    uint32_t count = jack_midi_get_event_count(buf);
    uint64_t head = atomic_load_explicit(&j->ring_head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&j->ring_tail, memory_order_acquire);
    for (uint32_t i = 0; i < count; i++) {
        jack_midi_event_t ev;
        if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size < 3)
            continue;
        if ((ev.buffer[0] & 0xf0) != 0x90 || ev.buffer[2] == 0)
            continue;
        if (head - tail > j->ring_mask) {
            atomic_fetch_add_explicit(&j->midi_dropped, 1, memory_order_relaxed);
            continue;
        }
        etude_jack_note_t *note = &j->ring[head & j->ring_mask];
        note->engine_frame = eng + ev.time;
        note->rolling = rolling;
        note->transport_frame = rolling ? tframe + ev.time : 0;
        note->channel = ev.buffer[0] & 0x0f;
        note->key = ev.buffer[1] & 0x7f;
        note->velocity = ev.buffer[2] & 0x7f;
        head++;
    }
    atomic_store_explicit(&j->ring_head, head, memory_order_release);
}

/* [audio] JACK's slow-sync callback (follow and master mode): ready once the control thread has
 * armed the sequencer for this position, in the period right before the armed engine frame. */
static int sync_body(jack_transport_state_t state, jack_position_t *pos, void *arg)
{
    etude_jack_t *j = arg;
    if (state != JackTransportStarting)
        return 1;
    uint64_t want = (uint64_t)pos->frame + 1;
    atomic_store_explicit(&j->sync_pos, want, memory_order_release);
    if (atomic_load_explicit(&j->armed_pos, memory_order_acquire) != want)
        return 0;
    uint64_t at = atomic_load_explicit(&j->armed_at, memory_order_acquire);
    uint64_t next = etude_engine_now(j->engine) + atomic_load_explicit(&j->bufsize, memory_order_relaxed);
    if (next < at)
        return 0;
    if (next > at) /* missed the armed period: ask for another */
        atomic_store_explicit(&j->armed_pos, 0, memory_order_release);
    return next == at;
}

static int sync_cb(jack_transport_state_t state, jack_position_t *pos, void *arg)
{
    jack_enter("sync");
    int r = sync_body(state, pos, arg);
    jack_leave();
    return r;
}

static int process_body(jack_nframes_t n, void *arg)
{
    etude_jack_t *j = arg;
    uint64_t t0 = mono_ns();
    uint64_t req = atomic_load_explicit(&j->reset_req, memory_order_acquire);
    if (req != atomic_load_explicit(&j->reset_done, memory_order_relaxed)) {
        for (uint32_t i = 0; i < HIST_BINS; i++)
            atomic_store_explicit(&j->hist[i], 0, memory_order_relaxed);
        atomic_store_explicit(&j->t_count, 0, memory_order_relaxed);
        atomic_store_explicit(&j->t_sum_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&j->t_max_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&j->reset_done, req, memory_order_release);
    }

    uint64_t eng = etude_engine_now(j->engine);
    jack_position_t pos;
    jack_transport_state_t st = jack_transport_query(j->client, &pos);
    bool rolling = st == JackTransportRolling;
    bool starting = st == JackTransportStarting;
    uint64_t epoch = atomic_load_explicit(&j->epoch, memory_order_relaxed);
    if (j->mode != ETUDE_JACK_TRANSPORT_OFF) {
        bool jump = j->seen_period && (rolling != j->last_rolling || starting != j->last_starting ||
                                       pos.frame != j->last_frame);
        if (jump || (!j->seen_period && (rolling || starting))) {
            atomic_store_explicit(&j->epoch, ++epoch, memory_order_release);
            /* rolling from exactly the armed frame at the armed period: the sequencer is already
             * placed (etude_jack_follow()), so nothing is silenced */
            if (rolling && atomic_load_explicit(&j->armed_pos, memory_order_acquire) == (uint64_t)pos.frame + 1 &&
                atomic_load_explicit(&j->armed_at, memory_order_acquire) == eng)
                atomic_store_explicit(&j->ack, epoch, memory_order_release);
        }
    }
    j->seen_period = true;
    j->last_rolling = rolling;
    j->last_starting = starting;
    j->last_frame = pos.frame + (rolling ? n : 0);

    etude_jack_transport_t t = {
        .rolling = rolling,
        .starting = starting,
        .frame = pos.frame,
        .engine_frame = eng,
        .epoch = epoch,
        .bbt_valid = (pos.valid & JackPositionBBT) != 0,
        .bbt_ours = j->mode == ETUDE_JACK_TRANSPORT_MASTER && (pos.valid & JackPositionBBT) != 0,
    };
    if (t.bbt_valid) {
        t.bar = pos.bar;
        t.beat = pos.beat;
        t.tick = pos.tick;
        t.beats_per_bar = pos.beats_per_bar;
        t.beat_type = pos.beat_type;
        t.ticks_per_beat = pos.ticks_per_beat;
        t.bpm = pos.beats_per_minute;
    }
    snap_write(j, &t);

    if (j->midi_in)
        read_midi(j, n, eng, rolling, pos.frame);

    float *mix[2] = {jack_port_get_buffer(j->mix[0], n), jack_port_get_buffer(j->mix[1], n)};
    for (uint32_t s = 0; s < j->voice_cap; s++) {
        jack_port_t *p = atomic_load_explicit(&j->voice_ports[s], memory_order_acquire);
        j->voice_bufs[s] = p ? jack_port_get_buffer(p, n) : NULL;
        silence(j->voice_bufs[s], n);
    }
    etude_engine_process(j->engine, n, mix, j->voice_bufs);

    if (j->mode != ETUDE_JACK_TRANSPORT_OFF && atomic_load_explicit(&j->ack, memory_order_acquire) < epoch) {
        silence(mix[0], n);
        silence(mix[1], n);
        for (uint32_t s = 0; s < j->voice_cap; s++)
            silence(j->voice_bufs[s], n);
    }
    atomic_fetch_add_explicit(&j->periods, 1, memory_order_release);
    record_time(j, mono_ns() - t0);
    return 0;
}

/* The whole callback is the audio context, port buffers, transport and MIDI included. */
static int process_cb(jack_nframes_t n, void *arg)
{
    jack_enter("process");
    int r = process_body(n, arg);
    jack_leave();
    return r;
}

/* JACK2 calls these on its notification thread; they only store into atomics. */
static int bufsize_cb(jack_nframes_t n, void *arg)
{
    etude_jack_t *j = arg;
    if (atomic_exchange(&j->bufsize, n) != n && atomic_load(&j->active))
        atomic_fetch_add(&j->buffer_changes, 1);
    return 0;
}

static int rate_cb(jack_nframes_t r, void *arg)
{
    etude_jack_t *j = arg;
    atomic_store(&j->rate, r);
    if (j->engine_rate && r != j->engine_rate)
        atomic_store(&j->rate_changed, true);
    return 0;
}

static int xrun_cb(void *arg)
{
    etude_jack_t *j = arg;
    atomic_store(&j->xrun_delay_bits, f2u(jack_get_xrun_delayed_usecs(j->client)));
    atomic_fetch_add(&j->xruns, 1);
    return 0;
}

static void shutdown_cb(jack_status_t code, const char *reason, void *arg)
{
    (void)code;
    etude_jack_t *j = arg;
    if (!atomic_load(&j->shutdown)) {
        snprintf(j->shutdown_reason, sizeof j->shutdown_reason, "%s",
                 reason && *reason ? reason : "the JACK server shut the client down");
        atomic_store(&j->shutdown, true);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Control side. */

static void jack_quiet(const char *msg)
{
    (void)msg;
}

int etude_jack_open(const etude_jack_config_t *cfg, etude_jack_t **out, char *err, size_t errlen)
{
    *out = NULL;
    etude_jack_t *j = calloc(1, sizeof *j);
    if (!j)
        return ETUDE_ENOMEM;
    j->mode = cfg->transport;
    j->want_midi = cfg->midi_input;
    uint32_t cap = cfg->midi_ring ? cfg->midi_ring : 4096;
    uint32_t pow2 = 1;
    while (pow2 < cap)
        pow2 <<= 1;
    j->ring = calloc(pow2, sizeof *j->ring);
    j->ring_mask = pow2 - 1;
    j->hist = calloc(HIST_BINS, sizeof *j->hist);
    j->grid = etude_jack_grid_create();
    if (!j->ring || !j->hist || !j->grid) {
        etude_jack_grid_destroy(j->grid);
        free(j->ring);
        free((void *)j->hist);
        free(j);
        return ETUDE_ENOMEM;
    }
    const char *cname = cfg->client_name && *cfg->client_name ? cfg->client_name : "etude";
    jack_status_t status = 0;
    jack_options_t opts = JackNoStartServer;
    /* libjack reports a missing server, or one that went away, in several lines of its own;
     * every failure it can cause reaches the caller as an error code and one line of ours */
    if (!getenv("ETUDE_JACK_DEBUG")) { /* ETUDE_JACK_DEBUG=1 shows libjack's messages */
        jack_set_error_function(jack_quiet);
        jack_set_info_function(jack_quiet);
    }
    if (cfg->server_name)
        opts |= JackServerName;
    j->client = cfg->server_name ? jack_client_open(cname, opts, &status, cfg->server_name)
                                 : jack_client_open(cname, opts, &status);
    if (!j->client) {
        const char *srv = cfg->server_name ? cfg->server_name : getenv("JACK_DEFAULT_SERVER");
        if (status & JackServerFailed)
            seterr(err, errlen, "no JACK server is running (server '%s'; start one, e.g. jackd -d alsa)",
                   srv && *srv ? srv : "default");
        else if (status & JackNameNotUnique)
            seterr(err, errlen, "JACK client name '%s' is already in use", cname);
        else
            seterr(err, errlen, "could not open a JACK client '%s' (JACK status 0x%x)", cname,
                   (unsigned)status);
        etude_jack_grid_destroy(j->grid);
        free(j->ring);
        free((void *)j->hist);
        free(j);
        return ETUDE_EIO;
    }
    snprintf(j->name, sizeof j->name, "%s", jack_get_client_name(j->client));
    atomic_store(&j->rate, jack_get_sample_rate(j->client));
    atomic_store(&j->bufsize, jack_get_buffer_size(j->client));
    jack_set_process_callback(j->client, process_cb, j);
    if (j->mode != ETUDE_JACK_TRANSPORT_OFF)
        jack_set_sync_callback(j->client, sync_cb, j);
    jack_set_buffer_size_callback(j->client, bufsize_cb, j);
    jack_set_sample_rate_callback(j->client, rate_cb, j);
    jack_set_xrun_callback(j->client, xrun_cb, j);
    jack_on_info_shutdown(j->client, shutdown_cb, j);
    *out = j;
    return ETUDE_OK;
}

const char *etude_jack_client_name(const etude_jack_t *j) { return j->name; }
uint32_t etude_jack_sample_rate(const etude_jack_t *j) { return atomic_load(&((etude_jack_t *)j)->rate); }
uint32_t etude_jack_buffer_size(const etude_jack_t *j) { return atomic_load(&((etude_jack_t *)j)->bufsize); }

int etude_jack_attach(etude_jack_t *j, etude_engine_t *engine, uint32_t voice_capacity, char *err,
                      size_t errlen)
{
    if (!engine || j->engine)
        return ETUDE_EINVAL;
    uint32_t rate = etude_engine_sample_rate(engine);
    if (rate != atomic_load(&j->rate)) {
        seterr(err, errlen, "engine rate %u Hz differs from the JACK server's %u Hz", rate,
               atomic_load(&j->rate));
        return ETUDE_EINVAL;
    }
    if (voice_capacity == 0)
        return ETUDE_EINVAL;
    uint32_t cap = voice_capacity;
    j->voice_cap = cap;
    j->voice_ports = calloc(cap, sizeof *j->voice_ports);
    j->voice_ids = calloc(cap, sizeof *j->voice_ids);
    j->voice_bufs = calloc(cap, sizeof *j->voice_bufs);
    if (!j->voice_ports || !j->voice_ids || !j->voice_bufs)
        return ETUDE_ENOMEM;
    const char *names[2] = {"mix_L", "mix_R"};
    for (int c = 0; c < 2; c++) {
        j->mix[c] = jack_port_register(j->client, names[c], JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!j->mix[c]) {
            seterr(err, errlen, "JACK refused the port %s:%s", j->name, names[c]);
            return ETUDE_EIO;
        }
    }
    if (j->want_midi) {
        j->midi_in = jack_port_register(j->client, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
        if (!j->midi_in) {
            seterr(err, errlen, "JACK refused the port %s:midi_in", j->name);
            return ETUDE_EIO;
        }
    }
    j->engine = engine;
    j->engine_rate = rate;
    return ETUDE_OK;
}

int etude_jack_add_voice_port(etude_jack_t *j, etude_voice_id_t voice, const char *name, char *err,
                              size_t errlen)
{
    etude_voice_info_t info;
    int rc = etude_voice_info(j->engine, voice, &info);
    if (rc < 0)
        return rc;
    if (info.slot >= j->voice_cap) {
        seterr(err, errlen, "voice slot %u beyond the driver's %u ports", info.slot, j->voice_cap);
        return ETUDE_EFULL;
    }
    if (atomic_load(&j->voice_ports[info.slot]))
        etude_jack_remove_voice_port(j, j->voice_ids[info.slot]);
    char pname[64];
    snprintf(pname, sizeof pname, "%s", name && *name ? name : info.name);
    jack_port_t *p = jack_port_register(j->client, pname, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    if (!p) {
        seterr(err, errlen, "JACK refused the port %s:%s (name taken or invalid)", j->name, pname);
        return ETUDE_EIO;
    }
    j->voice_ids[info.slot] = voice;
    atomic_store_explicit(&j->voice_ports[info.slot], p, memory_order_release);
    return ETUDE_OK;
}

/* Wait until the audio thread has started two more periods (or is not running). */
static void wait_periods(etude_jack_t *j)
{
    uint64_t p0 = atomic_load(&j->periods);
    struct timespec ts = {0, 200000};
    for (int i = 0; i < 2500; i++) { /* 500 ms at most */
        if (!atomic_load(&j->active) || atomic_load(&j->shutdown) || atomic_load(&j->periods) >= p0 + 2)
            return;
        nanosleep(&ts, NULL);
    }
}

int etude_jack_remove_voice_port(etude_jack_t *j, etude_voice_id_t voice)
{
    for (uint32_t s = 0; s < j->voice_cap; s++) {
        if (j->voice_ids[s] != voice || !atomic_load(&j->voice_ports[s]))
            continue;
        jack_port_t *p = atomic_exchange(&j->voice_ports[s], NULL);
        wait_periods(j);
        if (!atomic_load(&j->shutdown))
            jack_port_unregister(j->client, p);
        j->voice_ids[s] = 0;
        return ETUDE_OK;
    }
    return ETUDE_EINVAL;
}

int etude_jack_activate(etude_jack_t *j, char *err, size_t errlen)
{
    if (!j->engine) {
        seterr(err, errlen, "no engine attached");
        return ETUDE_ESTATE;
    }
    if (jack_activate(j->client)) {
        seterr(err, errlen, "JACK refused to activate client '%s'", j->name);
        return ETUDE_EIO;
    }
    atomic_store(&j->active, true);
    if (j->mode == ETUDE_JACK_TRANSPORT_MASTER && jack_set_timebase_callback(j->client, 0, timebase_cb, j)) {
        seterr(err, errlen, "could not become JACK timebase master");
        return ETUDE_EIO;
    }
    return ETUDE_OK;
}

int etude_jack_connect_mix(etude_jack_t *j, const char *const *ports, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n || (n == 1 && i < 2); i++) {
        const char *dst = ports[n == 1 ? 0 : i];
        jack_port_t *src = j->mix[i % 2];
        if (!jack_port_by_name(j->client, dst)) {
            seterr(err, errlen, "--connect: no JACK port named '%s'", dst);
            return ETUDE_EINVAL;
        }
        int rc = jack_connect(j->client, jack_port_name(src), dst);
        if (rc != 0 && rc != EEXIST) {
            seterr(err, errlen, "--connect: JACK refused to connect %s to '%s'", jack_port_name(src), dst);
            return ETUDE_EINVAL;
        }
    }
    return ETUDE_OK;
}

void etude_jack_close(etude_jack_t *j)
{
    if (!j)
        return;
    if (j->client) {
        bool gone = atomic_load(&j->shutdown);
        if (!gone && j->mode == ETUDE_JACK_TRANSPORT_MASTER && atomic_load(&j->active))
            jack_release_timebase(j->client);
        if (!gone && atomic_load(&j->active))
            jack_deactivate(j->client);
        atomic_store(&j->active, false);
        jack_client_close(j->client);
    }
    etude_jack_grid_destroy(j->grid);
    free((void *)j->voice_ports);
    free(j->voice_ids);
    free(j->voice_bufs);
    free(j->ring);
    free((void *)j->hist);
    free(j);
}

void etude_jack_status(etude_jack_t *j, etude_jack_status_t *o)
{
    memset(o, 0, sizeof *o);
    o->shutdown = atomic_load(&j->shutdown);
    if (o->shutdown)
        snprintf(o->shutdown_reason, sizeof o->shutdown_reason, "%s", j->shutdown_reason);
    o->sample_rate = atomic_load(&j->rate);
    o->rate_changed = atomic_load(&j->rate_changed);
    o->buffer_size = atomic_load(&j->bufsize);
    o->buffer_changes = atomic_load(&j->buffer_changes);
    o->xruns = atomic_load(&j->xruns);
    o->last_xrun_delay_us = u2f(atomic_load(&j->xrun_delay_bits));
    o->periods = atomic_load(&j->periods);
    o->midi_dropped = atomic_load(&j->midi_dropped);
}

void etude_jack_timing(etude_jack_t *j, etude_jack_timing_t *o)
{
    memset(o, 0, sizeof *o);
    uint32_t rate = atomic_load(&j->rate), n = atomic_load(&j->bufsize);
    o->period_us = rate ? 1e6 * n / rate : 0.0;
    uint64_t count = atomic_load_explicit(&j->t_count, memory_order_relaxed);
    o->periods = count;
    if (count) {
        o->mean_us = atomic_load_explicit(&j->t_sum_ns, memory_order_relaxed) / 1000.0 / (double)count;
        o->max_us = atomic_load_explicit(&j->t_max_ns, memory_order_relaxed) / 1000.0;
        uint64_t total = 0;
        for (uint32_t i = 0; i < HIST_BINS; i++)
            total += atomic_load_explicit(&j->hist[i], memory_order_relaxed);
        uint64_t want = (total * 99 + 99) / 100, seen = 0;
        for (uint32_t i = 0; i < HIST_BINS; i++) {
            seen += atomic_load_explicit(&j->hist[i], memory_order_relaxed);
            if (seen >= want && total) {
                o->p99_us = i + 1; /* the bin's upper edge */
                break;
            }
        }
        if (o->p99_us > o->max_us)
            o->p99_us = o->max_us;
    }
    if (o->period_us > 0) {
        o->mean_share = o->mean_us / o->period_us;
        o->p99_share = o->p99_us / o->period_us;
        o->max_share = o->max_us / o->period_us;
    }
}

void etude_jack_timing_reset(etude_jack_t *j)
{
    if (!atomic_load(&j->active) || atomic_load(&j->shutdown)) {
        for (uint32_t i = 0; i < HIST_BINS; i++)
            atomic_store(&j->hist[i], 0);
        atomic_store(&j->t_count, 0);
        atomic_store(&j->t_sum_ns, 0);
        atomic_store(&j->t_max_ns, 0);
        return;
    }
    atomic_fetch_add_explicit(&j->reset_req, 1, memory_order_release);
}

size_t etude_jack_read_notes(etude_jack_t *j, etude_jack_note_t *out, size_t max)
{
    uint64_t tail = atomic_load_explicit(&j->ring_tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&j->ring_head, memory_order_acquire);
    size_t n = 0;
    while (tail != head && n < max)
        out[n++] = j->ring[tail++ & j->ring_mask];
    atomic_store_explicit(&j->ring_tail, tail, memory_order_release);
    return n;
}

int etude_jack_transport_start(etude_jack_t *j)
{
    if (atomic_load(&j->shutdown))
        return ETUDE_ESTATE;
    jack_transport_start(j->client);
    return ETUDE_OK;
}

int etude_jack_transport_stop(etude_jack_t *j)
{
    if (atomic_load(&j->shutdown))
        return ETUDE_ESTATE;
    jack_transport_stop(j->client);
    return ETUDE_OK;
}

int etude_jack_transport_locate(etude_jack_t *j, uint64_t frame)
{
    if (atomic_load(&j->shutdown))
        return ETUDE_ESTATE;
    if (frame > UINT32_MAX)
        return ETUDE_EINVAL;
    return jack_transport_locate(j->client, (jack_nframes_t)frame) ? ETUDE_EINVAL : ETUDE_OK;
}

int etude_jack_follow(etude_jack_t *j, etude_sequencer_t *seq, etude_jack_follow_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    etude_jack_transport_t t;
    if (!etude_jack_transport(j, &t))
        return 0;
    bool was = etude_sequencer_rolling(seq);
    int rc = ETUDE_OK;
    uint64_t req = atomic_load_explicit(&j->sync_pos, memory_order_acquire);
    if (t.starting && req && atomic_load_explicit(&j->armed_pos, memory_order_acquire) != req) {
        /* arm: the material from the requested frame plays from a period boundary far enough
         * ahead for the scheduling; the sync callback lets the transport roll right there */
        uint32_t n = atomic_load(&j->bufsize);
        uint64_t now = etude_engine_now(j->engine);
        uint64_t at = t.engine_frame;
        while (at < now + 2u * n + j->engine_rate / 1000u)
            at += n;
        if (was)
            rc = etude_sequencer_stop(seq);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_locate(seq, req - 1);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_start(seq, at);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_tick(seq);
        if (rc == ETUDE_EFULL)
            rc = ETUDE_OK;
        atomic_store_explicit(&j->armed_at, at, memory_order_release);
        atomic_store_explicit(&j->armed_pos, req, memory_order_release);
        j->followed = t.epoch; /* the Starting epoch: silence ends, nothing sounds before at */
        etude_jack_transport_ack(j, t.epoch);
        return 0;
    }
    if (t.epoch == j->followed)
        return 0;
    if (t.rolling && was && atomic_load_explicit(&j->armed_pos, memory_order_acquire) == t.frame + 1 &&
        t.engine_frame == atomic_load_explicit(&j->armed_at, memory_order_acquire)) {
        /* rolled exactly where armed: nothing to move */
        atomic_store_explicit(&j->armed_pos, 0, memory_order_release);
        ev->kind = j->follow_playing ? ETUDE_JACK_FOLLOW_LOCATE : ETUDE_JACK_FOLLOW_START;
        ev->pos = t.frame;
        ev->at = t.engine_frame;
        j->follow_playing = true;
        j->followed = t.epoch;
        etude_jack_transport_ack(j, t.epoch);
        return 1;
    }
    if (t.starting) {
        /* a start or relocation waiting for sync: silence what was scheduled, report nothing yet */
        if (was)
            rc = etude_sequencer_stop(seq);
    } else if (!t.rolling) {
        if (was)
            rc = etude_sequencer_stop(seq);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_locate(seq, t.frame);
        ev->kind = j->follow_playing ? ETUDE_JACK_FOLLOW_STOP : ETUDE_JACK_FOLLOW_LOCATE;
        ev->pos = t.frame;
        j->follow_playing = false;
    } else {
        uint32_t n = atomic_load(&j->bufsize);
        uint64_t now = etude_engine_now(j->engine);
        uint64_t at = now + 2u * n + j->engine_rate / 1000u;
        if (at < t.engine_frame)
            at = t.engine_frame;
        uint64_t pos = t.frame + (at - t.engine_frame);
        if (was)
            rc = etude_sequencer_stop(seq);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_locate(seq, pos);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_start(seq, at);
        if (rc == ETUDE_OK)
            rc = etude_sequencer_tick(seq);
        if (rc == ETUDE_EFULL)
            rc = ETUDE_OK; /* the rest is scheduled by the next tick */
        ev->kind = j->follow_playing ? ETUDE_JACK_FOLLOW_LOCATE : ETUDE_JACK_FOLLOW_START;
        ev->pos = pos;
        ev->at = at;
        j->follow_playing = true;
    }
    j->followed = t.epoch;
    etude_jack_transport_ack(j, t.epoch);
    if (rc < 0)
        return rc;
    return ev->kind != ETUDE_JACK_FOLLOW_NONE;
}

void etude_jack_follow_reset(etude_jack_t *j)
{
    j->followed = UINT64_MAX;
}
