/* etude_engine.c - the engine: the lock-free scheduled-event table, the voice pool with its
 * deterministic disposal, and the audio-side process loop (see docs/engine.md). */
#include "etude_engine.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etude_bus.h"
#include "etude_ring.h"

#define NIL UINT32_MAX
#define NOTE_RING_RECORDS 4096u

/* An event slot's state word is (generation << 32) | state. A slot being filled by its producer
 * stays FREE until PENDING is published: only that producer can reach it, and no handle of its
 * generation exists yet. */
enum { EV_FREE = 0, EV_PENDING = 2, EV_CANCELLED = 3, EV_FIRED = 4 };

/* Where the audio thread has seen a slot (audio-only bookkeeping, see drain_*()). */
enum { RT_NONE = 0, RT_IN_HEAP = 1, RT_IN_WHEEL = 2, RT_WAIT_CANCEL = 3, RT_CANCEL_FIRST = 4 };

/* The wheel covers at least this many frames from the current chunk on (see docs/engine.md). */
#define WHEEL_MIN_FRAMES 16384u

static inline uint64_t sw_make(uint32_t gen, uint32_t st) { return ((uint64_t)gen << 32) | st; }
#define SW_GEN(w) ((uint32_t)((w) >> 32))
#define SW_ST(w) ((uint32_t)((w)&0xffffffffu))
static inline uint32_t gen_next(uint32_t g) { return g + 1 ? g + 1 : 1; }

/* Free slots travel in the free ring: the audio thread writes the index of every slot it frees at
 * position freed (its own counter) and publishes freed with a release store; a producer takes the
 * entry at position claimed by one CAS claimed -> claimed + 1, allowed while claimed < freed. The
 * position it took is the event's arrival number (the schedule takes effect at that CAS) and
 * claimed is the count of accepted events. The audio thread finds new events by walking the
 * positions claimed since its last look: it wrote those entries itself. The ring holds at least
 * 2 x capacity entries, so an entry is never overwritten before both sides are done with it (see
 * docs/engine.md). */
static inline uint32_t ring_size_for(uint32_t cap)
{
    uint32_t n = 1;
    while (n < 2 * cap)
        n <<= 1;
    return n;
}

struct ev_slot {
    _Atomic uint64_t state;
    uint64_t frame;
    _Atomic uint64_t voice;
    uint16_t kind, flags;
    _Atomic uint32_t tag;
    int64_t u[2];                 /* etude_event_t.u, copied as bytes */
    uint64_t seq;                 /* arrival order */
    uint32_t spare;
    _Atomic uint32_t cancel_next; /* next in the cancel stack */
};
_Static_assert(sizeof(struct ev_slot) == 64, "an event slot is one cache line");
_Static_assert(sizeof(((etude_event_t *)0)->u) == sizeof(((struct ev_slot *)0)->u), "event payload");

struct heap_ent {
    uint64_t frame;
    uint64_t seq;
    uint32_t idx;
};

enum { CMD_ACTIVATE = 1, CMD_DISPOSE = 2 };
struct cmd {
    uint32_t type;
    uint32_t slot;
};

enum { NOTE_EVENT = 1 };
struct note {
    uint32_t type;
    uint16_t kind, flags;
    uint32_t tag;
    uint32_t late;
    uint64_t frame;     /* the event's frame */
    uint64_t fired_at;  /* the frame it was dispatched at */
    etude_voice_id_t voice;
    int64_t i64[2];
};

struct voice_slot {
    _Atomic uint64_t state;     /* (generation << 32) | enum etude_voice_state */
    _Atomic uint32_t gain_bits; /* float bits: targets the audio thread ramps to */
    _Atomic uint32_t pan_bits;
    _Atomic int mute, solo;
    /* control side, under ctl_lock; published to audio through the command ring */
    int claimed;
    const etude_voice_class_t *cls;
    void *self;
    char name[64];
    /* audio side only */
    int rt_on, rt_fading, rt_live, rt_list_pos; /* rt_live: rt_on && !rt_fading */
    int rt_new; /* activated by this batch of commands: its gate starts settled, not ramped */
    uint32_t rt_fade_pos;
    float rt_gain, rt_pan, rt_gate;
    float *buf[2];
};

struct etude_engine {
    etude_engine_config_t cfg;

    /* event table */
    struct ev_slot *ev;
    uint32_t ev_cap;
    _Atomic uint32_t *fring; /* the free ring (see ring_size_for()) */
    uint32_t fmask;
    _Alignas(64) _Atomic uint64_t claimed; /* free-ring positions taken: producers' CAS */
    _Alignas(64) _Atomic uint64_t freed;   /* free-ring positions filled: audio's release store */
    _Alignas(64) _Atomic uint32_t cancel_head; /* cancel stack: cancellers push, audio takes all */

    /* audio-only state of the table: a wheel of one bucket per frame for events due within
     * wheel_mask + 1 frames, each bucket a list in arrival order; a heap keyed by (frame, seq)
     * for the later ones and the late ones */
    _Alignas(64) struct heap_ent *heap;
    uint32_t heap_n;
    uint32_t *hpos;
    uint8_t *rtst;
    uint32_t *wnext, *wprev; /* per slot */
    uint32_t *whead, *wtail; /* per bucket */
    uint64_t *wbits;         /* non-empty buckets */
    uint32_t wmask;
    uint64_t freed_local; /* free-ring positions written, published as freed at chunk end */
    uint64_t drained;     /* free-ring positions whose events the audio thread has taken in */
    uint32_t *holes;      /* slots claimed but not yet PENDING when last looked at */
    uint32_t holes_n;
    uint64_t rt_frame;
    uint32_t *rt_list; /* voice slots rendering now */
    uint32_t rt_list_n;

    /* voices */
    struct voice_slot *vs;
    uint32_t v_cap;
    float *fade_tab; /* fade_frames gains from ~1 down to 0 (raised cosine) */
    float *dummy[2]; /* mix buffers for process() calls made by dispose_all() */
    pthread_mutex_t ctl_lock; /* control side only: voice pool changes and command pushes */

    /* rings (each: one writer, one reader) */
    etude_ring_t cmd;      /* writer: control (under ctl_lock); reader: audio */
    etude_ring_t released; /* writer: audio; reader: tick() */
    etude_ring_t notes;    /* writer: audio; reader: tick() */

    _Atomic(etude_bus_t *) bus;
    uint64_t late_reported, notes_lost_reported; /* tick() only */

    /* written by the audio thread (one writer at a time), on their own cache line */
    _Alignas(64) _Atomic int audio_owner; /* 1 while a thread is inside process() */
    _Atomic uint64_t now;
    _Atomic uint64_t st_frames, st_periods, st_disp, st_drop, st_late, st_notes_lost;
    _Atomic uint64_t st_freed; /* event slots returned (pending = scheduled - freed) */
    _Atomic uint32_t v_active;

    /* written by control threads */
    _Alignas(64) _Atomic uint64_t st_canc, st_full;
    _Atomic uint32_t v_in_use;
};

static _Thread_local int tl_in_audio;

static inline void add_u64(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Single-writer counters: a load and a store, no read-modify-write on the audio path. */
static inline void bump_u64(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline float bits_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

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
}

void etude_engine_destroy(etude_engine_t *e)
{
    if (!e)
        return;
    if (e->vs) {
        for (uint32_t i = 0; i < e->v_cap; i++) {
            struct voice_slot *v = &e->vs[i];
            uint64_t w = atomic_load(&v->state);
            if (SW_ST(w) != ETUDE_VOICE_FREE && v->cls && v->cls->dispose)
                v->cls->dispose(v->self);
            free(v->buf[0]);
        }
    }
    free(e->vs);
    free(e->ev);
    free((void *)e->fring);
    free(e->holes);
    free(e->heap);
    free(e->hpos);
    free(e->wnext);
    free(e->wprev);
    free(e->whead);
    free(e->wtail);
    free(e->wbits);
    free(e->rtst);
    free(e->rt_list);
    free(e->fade_tab);
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
    if (e->cfg.fade_frames == 0)
        e->cfg.fade_frames = cfg->sample_rate / 200 ? cfg->sample_rate / 200 : 1;
    e->ev_cap = cfg->event_capacity;
    e->v_cap = cfg->voice_capacity;
    pthread_mutex_init(&e->ctl_lock, NULL);

    e->ev = aligned_alloc(64, (size_t)e->ev_cap * sizeof *e->ev);
    uint32_t fring_n = ring_size_for(e->ev_cap);
    e->fring = calloc(fring_n, sizeof *e->fring);
    e->fmask = fring_n - 1;
    e->holes = calloc(e->ev_cap, sizeof *e->holes);
    e->heap = calloc(e->ev_cap, sizeof *e->heap);
    e->hpos = calloc(e->ev_cap, sizeof *e->hpos);
    e->rtst = calloc(e->ev_cap, 1);
    uint32_t wheel = WHEEL_MIN_FRAMES;
    while (wheel < 2 * cfg->max_period)
        wheel <<= 1;
    e->wmask = wheel - 1;
    e->wnext = malloc(e->ev_cap * sizeof *e->wnext);
    e->wprev = malloc(e->ev_cap * sizeof *e->wprev);
    e->whead = malloc(wheel * sizeof *e->whead);
    e->wtail = malloc(wheel * sizeof *e->wtail);
    e->wbits = calloc(wheel / 64, sizeof *e->wbits);
    e->vs = calloc(e->v_cap, sizeof *e->vs);
    e->rt_list = calloc(e->v_cap, sizeof *e->rt_list);
    e->fade_tab = calloc(e->cfg.fade_frames, sizeof *e->fade_tab);
    e->dummy[0] = calloc((size_t)cfg->max_period * 2, sizeof(float));
    int rc = 0;
    rc |= etude_ring_init(&e->cmd, (size_t)e->v_cap * 2, sizeof(struct cmd));
    rc |= etude_ring_init(&e->released, e->v_cap, sizeof(uint32_t));
    rc |= etude_ring_init(&e->notes, NOTE_RING_RECORDS, sizeof(struct note));
    if (rc || !e->ev || !e->fring || !e->holes || !e->heap || !e->hpos || !e->rtst || !e->vs || !e->rt_list || !e->fade_tab ||
        !e->dummy[0] || !e->wnext || !e->wprev || !e->whead || !e->wtail || !e->wbits) {
        etude_engine_destroy(e);
        return ETUDE_ENOMEM;
    }
    e->dummy[1] = e->dummy[0] + cfg->max_period;

    for (uint32_t i = 0; i < e->ev_cap; i++) {
        struct ev_slot *s = &e->ev[i];
        memset(s, 0, sizeof *s);
        atomic_init(&s->state, sw_make(1, EV_FREE));
        atomic_init(&s->voice, 0);
        atomic_init(&s->tag, 0);
        atomic_init(&e->fring[i], i);
        atomic_init(&s->cancel_next, NIL);
        e->hpos[i] = NIL;
        e->wnext[i] = e->wprev[i] = NIL;
    }
    for (uint32_t b = 0; b <= e->wmask; b++)
        e->whead[b] = e->wtail[b] = NIL;
    atomic_init(&e->claimed, 0);
    atomic_init(&e->freed, e->ev_cap);
    e->freed_local = e->ev_cap;
    atomic_init(&e->cancel_head, NIL);

    for (uint32_t i = 0; i < e->v_cap; i++) {
        struct voice_slot *v = &e->vs[i];
        atomic_init(&v->state, sw_make(1, ETUDE_VOICE_FREE));
        v->buf[0] = calloc((size_t)cfg->max_period * 2, sizeof(float));
        if (!v->buf[0]) {
            etude_engine_destroy(e);
            return ETUDE_ENOMEM;
        }
        v->buf[1] = v->buf[0] + cfg->max_period;
    }
    /* Raised cosine from just under 1 to exactly 0 at the last frame. */
    uint32_t f = e->cfg.fade_frames;
    for (uint32_t k = 0; k < f; k++)
        e->fade_tab[k] = (float)(0.5 * (1.0 + cos(M_PI * (double)(k + 1) / (double)f)));
    e->fade_tab[f - 1] = 0.0f;
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
/* bus publishing (control side) */

static void json_str(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3)
        return;
    dst[n++] = '"';
    for (; s && *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n++] = '"';
    dst[n] = 0;
}

static void publish_voice(etude_engine_t *e, const char *what, const char *name, const char *kind,
                          const char *value_json)
{
    etude_bus_t *bus = atomic_load(&e->bus);
    if (!bus)
        return;
    char n[160], k[160], json[400];
    json_str(n, sizeof n, name);
    json_str(k, sizeof k, kind ? kind : "");
    snprintf(json, sizeof json, "{\"voice\":%s,\"kind\":%s,\"value\":%s}", n, k,
             value_json ? value_json : "null");
    etude_bus_publish(bus, "voice", what, json);
}

/* ------------------------------------------------------------------------------------------ */
/* voices: control side */

/* Loads a voice's state word and checks the handle. Returns 0 with *slot set, or an error. */
static inline int voice_lookup(const etude_engine_t *e, etude_voice_id_t id, struct voice_slot **slot,
                        uint32_t *state)
{
    uint32_t i = ETUDE_ID_SLOT(id), g = ETUDE_ID_GEN(id);
    if (!e || g == 0 || i >= e->v_cap)
        return ETUDE_ESTALE;
    struct voice_slot *v = &e->vs[i];
    uint64_t w = atomic_load_explicit(&v->state, memory_order_acquire);
    if (SW_GEN(w) != g || SW_ST(w) == ETUDE_VOICE_FREE)
        return ETUDE_ESTALE;
    *slot = v;
    *state = SW_ST(w);
    return 0;
}

/* A voice that may still be operated on: PREPARED or ACTIVE. */
static inline int voice_live(const etude_engine_t *e, etude_voice_id_t id, struct voice_slot **slot)
{
    uint32_t st;
    int r = voice_lookup(e, id, slot, &st);
    if (r)
        return r;
    if (st == ETUDE_VOICE_DISPOSING || st == ETUDE_VOICE_RELEASED)
        return ETUDE_EDISPOSED;
    return 0;
}

static void push_cmd_locked(etude_engine_t *e, uint32_t type, uint32_t slot)
{
    struct cmd c = {type, slot};
    /* Cannot fail: at most two commands (activate, dispose) per voice slot are ever in flight. */
    bool ok = etude_ring_push(&e->cmd, &c);
    (void)ok;
}

int etude_voice_add(etude_engine_t *e, const etude_voice_class_t *cls, void *self, const char *name,
                    etude_voice_id_t *out)
{
    if (!e || !cls || !cls->render)
        return ETUDE_EINVAL;
    pthread_mutex_lock(&e->ctl_lock);
    uint32_t i;
    for (i = 0; i < e->v_cap; i++) {
        struct voice_slot *v = &e->vs[i];
        if (!v->claimed && SW_ST(atomic_load(&v->state)) == ETUDE_VOICE_FREE)
            break;
    }
    if (i == e->v_cap) {
        pthread_mutex_unlock(&e->ctl_lock);
        return ETUDE_EFULL;
    }
    struct voice_slot *v = &e->vs[i];
    v->claimed = 1;
    pthread_mutex_unlock(&e->ctl_lock);

    /* prepare may load files for a long time: it runs without the lock, the slot is claimed. */
    int r = cls->prepare ? cls->prepare(self, e->cfg.sample_rate, e->cfg.max_period) : 0;
    pthread_mutex_lock(&e->ctl_lock);
    if (r < 0) {
        v->claimed = 0;
        pthread_mutex_unlock(&e->ctl_lock);
        return r;
    }
    v->cls = cls;
    v->self = self;
    snprintf(v->name, sizeof v->name, "%s", name ? name : "");
    atomic_store(&v->gain_bits, float_bits(1.0f));
    atomic_store(&v->pan_bits, float_bits(0.0f));
    atomic_store(&v->mute, 0);
    atomic_store(&v->solo, 0);
    uint32_t gen = SW_GEN(atomic_load(&v->state));
    atomic_store_explicit(&v->state, sw_make(gen, ETUDE_VOICE_PREPARED), memory_order_release);
    v->claimed = 0;
    atomic_fetch_add(&e->v_in_use, 1);
    push_cmd_locked(e, CMD_ACTIVATE, i);
    char nm[64];
    memcpy(nm, v->name, sizeof nm);
    pthread_mutex_unlock(&e->ctl_lock);
    if (out)
        *out = ((uint64_t)gen << 32) | i;
    publish_voice(e, "added", nm, cls->kind, NULL);
    return ETUDE_OK;
}

int etude_voice_dispose(etude_engine_t *e, etude_voice_id_t id)
{
    struct voice_slot *v;
    pthread_mutex_lock(&e->ctl_lock);
    int r = voice_live(e, id, &v);
    if (r) {
        pthread_mutex_unlock(&e->ctl_lock);
        return r;
    }
    uint64_t w = atomic_load(&v->state);
    for (;;) {
        uint32_t st = SW_ST(w);
        if (SW_GEN(w) != ETUDE_ID_GEN(id) || (st != ETUDE_VOICE_PREPARED && st != ETUDE_VOICE_ACTIVE)) {
            pthread_mutex_unlock(&e->ctl_lock);
            return st == ETUDE_VOICE_DISPOSING ? ETUDE_EDISPOSED : ETUDE_ESTALE;
        }
        /* CAS: the audio thread may be moving PREPARED -> ACTIVE at the same time. */
        if (atomic_compare_exchange_weak(&v->state, &w, sw_make(SW_GEN(w), ETUDE_VOICE_DISPOSING)))
            break;
    }
    push_cmd_locked(e, CMD_DISPOSE, ETUDE_ID_SLOT(id));
    pthread_mutex_unlock(&e->ctl_lock);
    /* Events scheduled after this point are refused (EDISPOSED); ones racing with it are dropped
     * at dispatch because the voice is no longer ACTIVE. */
    etude_event_cancel_voice(e, id, NULL);
    return ETUDE_OK;
}

static int set_param(etude_engine_t *e, etude_voice_id_t id, int which, float f, int b)
{
    struct voice_slot *v;
    if (!e)
        return ETUDE_EINVAL;
    /* Under the lock: tick() cannot free the slot (and add() reuse it) between check and store. */
    pthread_mutex_lock(&e->ctl_lock);
    int r = voice_live(e, id, &v);
    if (r) {
        pthread_mutex_unlock(&e->ctl_lock);
        return r;
    }
    char val[48];
    switch (which) {
    case 0:
        atomic_store(&v->gain_bits, float_bits(f));
        snprintf(val, sizeof val, "%.6g", (double)f);
        break;
    case 1:
        atomic_store(&v->pan_bits, float_bits(f));
        snprintf(val, sizeof val, "%.6g", (double)f);
        break;
    case 2:
        atomic_store(&v->mute, b);
        snprintf(val, sizeof val, "%s", b ? "true" : "false");
        break;
    default:
        atomic_store(&v->solo, b);
        snprintf(val, sizeof val, "%s", b ? "true" : "false");
        break;
    }
    char nm[64], kind[64];
    memcpy(nm, v->name, sizeof nm);
    snprintf(kind, sizeof kind, "%s", v->cls && v->cls->kind ? v->cls->kind : "");
    pthread_mutex_unlock(&e->ctl_lock);
    static const char *names[] = {"gain", "pan", "mute", "solo"};
    publish_voice(e, names[which], nm, kind, val);
    return ETUDE_OK;
}

int etude_voice_set_gain(etude_engine_t *e, etude_voice_id_t voice, float gain)
{
    if (!(gain >= 0.0f) || !isfinite(gain))
        return ETUDE_EINVAL;
    return set_param(e, voice, 0, gain, 0);
}

int etude_voice_set_pan(etude_engine_t *e, etude_voice_id_t voice, float pan)
{
    if (!(pan >= -1.0f && pan <= 1.0f))
        return ETUDE_EINVAL;
    return set_param(e, voice, 1, pan, 0);
}

int etude_voice_set_mute(etude_engine_t *e, etude_voice_id_t voice, bool mute)
{
    return set_param(e, voice, 2, 0.0f, mute);
}

int etude_voice_set_solo(etude_engine_t *e, etude_voice_id_t voice, bool solo)
{
    return set_param(e, voice, 3, 0.0f, solo);
}

int etude_voice_info(const etude_engine_t *ce, etude_voice_id_t id, etude_voice_info_t *out)
{
    etude_engine_t *e = (etude_engine_t *)ce;
    struct voice_slot *v;
    uint32_t st;
    if (!e || !out)
        return ETUDE_EINVAL;
    pthread_mutex_lock(&e->ctl_lock);
    int r = voice_lookup(e, id, &v, &st);
    if (r == 0) {
        memset(out, 0, sizeof *out);
        out->id = id;
        out->slot = ETUDE_ID_SLOT(id);
        out->state = (int)st;
        memcpy(out->name, v->name, sizeof out->name);
        out->kind = v->cls ? v->cls->kind : NULL;
        out->gain = bits_float(atomic_load(&v->gain_bits));
        out->pan = bits_float(atomic_load(&v->pan_bits));
        out->mute = atomic_load(&v->mute) != 0;
        out->solo = atomic_load(&v->solo) != 0;
        out->self = v->self;
    }
    pthread_mutex_unlock(&e->ctl_lock);
    return r;
}

size_t etude_engine_voices(const etude_engine_t *ce, etude_voice_id_t *out, size_t max)
{
    etude_engine_t *e = (etude_engine_t *)ce;
    size_t n = 0;
    if (!e)
        return 0;
    pthread_mutex_lock(&e->ctl_lock);
    for (uint32_t i = 0; i < e->v_cap; i++) {
        uint64_t w = atomic_load(&e->vs[i].state);
        uint32_t st = SW_ST(w);
        if (st != ETUDE_VOICE_PREPARED && st != ETUDE_VOICE_ACTIVE)
            continue;
        if (out && n < max)
            out[n] = ((uint64_t)SW_GEN(w) << 32) | i;
        n++;
    }
    pthread_mutex_unlock(&e->ctl_lock);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* events: control side */

static inline bool kind_ok(uint16_t k) { return (k >= ETUDE_EV_NOTE_ON && k <= ETUDE_EV_MARKER) || k >= ETUDE_EV_USER; }

/* Take the next free-ring entry: one CAS. *seq gets the arrival number. NIL when the table is
 * full. The entry is read before the CAS: once claimed has moved past a position the audio thread
 * may reuse it (see ring_size_for()). */
static inline uint32_t slot_claim(etude_engine_t *e, uint64_t *seq)
{
    uint64_t c = atomic_load_explicit(&e->claimed, memory_order_relaxed);
    for (;;) {
        /* Acquire: the entry and the slot's FREE state word were written before freed moved. */
        uint64_t f = atomic_load_explicit(&e->freed, memory_order_acquire);
        if (c >= f)
            return NIL; /* claimed >= c >= freed at this load: every slot is in use */
        uint32_t idx = atomic_load_explicit(&e->fring[c & e->fmask], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&e->claimed, &c, c + 1, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *seq = c;
            return idx;
        }
    }
}

/* Push onto an intrusive stack of slot indices (the cancel stack). A stack that is only pushed to
 * and emptied as a whole (never popped one by one) has no ABA problem. */
static inline void stack_push(_Atomic uint32_t *head, _Atomic uint32_t *link, uint32_t idx)
{
    uint32_t old = atomic_load_explicit(head, memory_order_relaxed);
    do {
        atomic_store_explicit(link, old, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(head, &old, idx, memory_order_release,
                                                    memory_order_relaxed));
}

/* The checks etude_event_schedule() makes before it takes a slot. */
static inline int event_check(const etude_engine_t *e, const etude_event_t *ev)
{
    if (!kind_ok(ev->kind))
        return ETUDE_EINVAL;
    if (ev->voice == 0)
        return ev->kind == ETUDE_EV_MARKER ? 0 : ETUDE_EINVAL;
    struct voice_slot *v;
    return voice_live(e, ev->voice, &v);
}

/* Fill a slot this producer has popped and mark it PENDING; returns its handle. */
static inline etude_event_id_t slot_fill(etude_engine_t *e, uint32_t idx, const etude_event_t *ev,
                                         uint64_t seq)
{
    struct ev_slot *s = &e->ev[idx];
    uint32_t gen = SW_GEN(atomic_load_explicit(&s->state, memory_order_relaxed));
    s->frame = ev->frame;
    atomic_store_explicit(&s->voice, ev->voice, memory_order_relaxed);
    s->kind = ev->kind;
    s->flags = ev->flags;
    atomic_store_explicit(&s->tag, ev->tag, memory_order_relaxed);
    memcpy(s->u, &ev->u, sizeof s->u);
    s->seq = seq;
    atomic_store_explicit(&s->state, sw_make(gen, EV_PENDING), memory_order_release);
    return ((uint64_t)gen << 32) | idx;
}

int etude_event_schedule(etude_engine_t *e, const etude_event_t *ev, etude_event_id_t *out)
{
    if (!e || !ev)
        return ETUDE_EINVAL;
    int r = event_check(e, ev);
    if (r)
        return r;
    uint64_t seq;
    uint32_t idx = slot_claim(e, &seq);
    if (idx == NIL) {
        add_u64(&e->st_full, 1);
        return ETUDE_EFULL;
    }
    etude_event_id_t id = slot_fill(e, idx, ev, seq);
    if (out)
        *out = id;
    return ETUDE_OK;
}

int etude_event_schedule_many(etude_engine_t *e, const etude_event_t *evs, size_t n,
                              etude_event_id_t *out)
{
    if (!e || (!evs && n) || n > ETUDE_EVENT_BATCH_MAX)
        return ETUDE_EINVAL;
    for (size_t k = 0; k < n; k++) {
        int r = event_check(e, &evs[k]);
        if (r)
            return r;
    }
    if (n == 0)
        return ETUDE_OK;
    /* n consecutive free-ring entries with one CAS; the entries are read before it (as in
     * slot_claim()). */
    uint32_t idx[ETUDE_EVENT_BATCH_MAX];
    uint64_t c = atomic_load_explicit(&e->claimed, memory_order_relaxed);
    for (;;) {
        uint64_t f = atomic_load_explicit(&e->freed, memory_order_acquire);
        if (c + n > f) {
            add_u64(&e->st_full, 1);
            return ETUDE_EFULL; /* fewer than n free at that load, whatever c's age */
        }
        for (size_t k = 0; k < n; k++)
            idx[k] = atomic_load_explicit(&e->fring[(c + k) & e->fmask], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&e->claimed, &c, c + n, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    for (size_t k = 0; k < n; k++) {
        etude_event_id_t id = slot_fill(e, idx[k], &evs[k], c + k);
        if (out)
            out[k] = id;
    }
    return ETUDE_OK;
}

/* PENDING -> CANCELLED for the incarnation in w, then hand the slot to the audio thread. */
static bool cancel_slot(etude_engine_t *e, uint32_t idx, uint64_t w)
{
    struct ev_slot *s = &e->ev[idx];
    if (!atomic_compare_exchange_strong_explicit(&s->state, &w, sw_make(SW_GEN(w), EV_CANCELLED),
                                                 memory_order_acq_rel, memory_order_relaxed))
        return false;
    stack_push(&e->cancel_head, &s->cancel_next, idx);
    return true;
}

int etude_event_cancel(etude_engine_t *e, etude_event_id_t id)
{
    uint32_t idx = ETUDE_ID_SLOT(id), gen = ETUDE_ID_GEN(id);
    if (!e)
        return ETUDE_EINVAL;
    if (gen == 0 || idx >= e->ev_cap)
        return ETUDE_ESTALE;
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
    for (;;) {
        uint32_t g = SW_GEN(w), st = SW_ST(w);
        if (g == gen) {
            if (st == EV_PENDING) {
                if (cancel_slot(e, idx, w)) {
                    add_u64(&e->st_canc, 1);
                    return ETUDE_OK;
                }
                w = atomic_load_explicit(&s->state, memory_order_acquire);
                continue;
            }
            return (st == EV_CANCELLED || st == EV_FIRED) ? ETUDE_EDONE : ETUDE_ESTALE;
        }
        /* Freed after firing or cancelling, and not reused yet. */
        if (g == gen_next(gen) && st == EV_FREE)
            return ETUDE_EDONE;
        return ETUDE_ESTALE;
    }
}

enum { MATCH_ALL, MATCH_VOICE, MATCH_TAG };

static uint32_t cancel_scan(etude_engine_t *e, int how, uint64_t key)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->ev_cap; i++) {
        struct ev_slot *s = &e->ev[i];
        uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
        if (SW_ST(w) != EV_PENDING)
            continue;
        /* The copies may belong to a newer incarnation; then the CAS on w fails. */
        if (how == MATCH_VOICE && atomic_load_explicit(&s->voice, memory_order_relaxed) != key)
            continue;
        if (how == MATCH_TAG && atomic_load_explicit(&s->tag, memory_order_relaxed) != (uint32_t)key)
            continue;
        if (cancel_slot(e, i, w))
            n++;
    }
    if (n)
        add_u64(&e->st_canc, n);
    return n;
}

int etude_event_cancel_voice(etude_engine_t *e, etude_voice_id_t voice, uint32_t *ncancelled)
{
    if (!e || voice == 0)
        return ETUDE_EINVAL;
    uint32_t n = cancel_scan(e, MATCH_VOICE, voice);
    if (ncancelled)
        *ncancelled = n;
    return ETUDE_OK;
}

int etude_event_cancel_tag(etude_engine_t *e, uint32_t tag, uint32_t *ncancelled)
{
    if (!e)
        return ETUDE_EINVAL;
    uint32_t n = cancel_scan(e, MATCH_TAG, tag);
    if (ncancelled)
        *ncancelled = n;
    return ETUDE_OK;
}

int etude_event_clear(etude_engine_t *e, uint32_t *ncancelled)
{
    if (!e)
        return ETUDE_EINVAL;
    uint32_t n = cancel_scan(e, MATCH_ALL, 0);
    if (ncancelled)
        *ncancelled = n;
    return ETUDE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* audio side: the heap of pending events, keyed by (frame, seq) */

static inline bool ent_less(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->frame < b->frame || (a->frame == b->frame && a->seq < b->seq);
}

static void heap_sift_up(etude_engine_t *e, uint32_t i, struct heap_ent x)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ent_less(&x, &e->heap[p]))
            break;
        e->heap[i] = e->heap[p];
        e->hpos[e->heap[i].idx] = i;
        i = p;
    }
    e->heap[i] = x;
    e->hpos[x.idx] = i;
}

static void heap_sift_down(etude_engine_t *e, uint32_t i, struct heap_ent x)
{
    uint32_t n = e->heap_n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ent_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!ent_less(&e->heap[c], &x))
            break;
        e->heap[i] = e->heap[c];
        e->hpos[e->heap[i].idx] = i;
        i = c;
    }
    e->heap[i] = x;
    e->hpos[x.idx] = i;
}

static void heap_insert(etude_engine_t *e, uint32_t idx)
{
    struct heap_ent x = {e->ev[idx].frame, e->ev[idx].seq, idx};
    heap_sift_up(e, e->heap_n++, x);
}

static void heap_remove_at(etude_engine_t *e, uint32_t i)
{
    uint32_t gone = e->heap[i].idx;
    struct heap_ent last = e->heap[--e->heap_n];
    e->hpos[gone] = NIL;
    if (i == e->heap_n)
        return;
    if (i > 0 && ent_less(&last, &e->heap[(i - 1) / 2]))
        heap_sift_up(e, i, last);
    else
        heap_sift_down(e, i, last);
}

/* Insert into the bucket of its frame, keeping the bucket in arrival (seq) order; submissions
 * arrive nearly in that order, so the walk from the tail is short. */
static void wheel_insert(etude_engine_t *e, uint32_t idx, uint64_t frame)
{
    uint32_t b = (uint32_t)frame & e->wmask;
    uint32_t after = e->wtail[b];
    e->rtst[idx] = RT_IN_WHEEL;
    if (after == NIL) { /* the common case: an empty bucket */
        e->whead[b] = e->wtail[b] = idx;
        e->wprev[idx] = e->wnext[idx] = NIL;
        e->wbits[b >> 6] |= 1ull << (b & 63);
        return;
    }
    uint64_t seq = e->ev[idx].seq;
    while (after != NIL && e->ev[after].seq > seq)
        after = e->wprev[after];
    uint32_t before = after == NIL ? e->whead[b] : e->wnext[after];
    e->wprev[idx] = after;
    e->wnext[idx] = before;
    if (after == NIL)
        e->whead[b] = idx;
    else
        e->wnext[after] = idx;
    if (before == NIL)
        e->wtail[b] = idx;
    else
        e->wprev[before] = idx;
}

static void wheel_unlink(etude_engine_t *e, uint32_t idx)
{
    uint32_t b = (uint32_t)e->ev[idx].frame & e->wmask;
    uint32_t p = e->wprev[idx], n = e->wnext[idx];
    if (p == NIL)
        e->whead[b] = n;
    else
        e->wnext[p] = n;
    if (n == NIL)
        e->wtail[b] = p;
    else
        e->wprev[n] = p;
    if (e->whead[b] == NIL)
        e->wbits[b >> 6] &= ~(1ull << (b & 63));
}

/* An event the audio thread has just received: due within the wheel's span from start goes to the
 * wheel, anything else (later, or already late) to the heap. */
static void place(etude_engine_t *e, uint32_t idx, uint64_t start)
{
    uint64_t f = e->ev[idx].frame;
    if (f >= start && f - start <= e->wmask) {
        wheel_insert(e, idx, f);
    } else {
        e->rtst[idx] = RT_IN_HEAP;
        heap_insert(e, idx);
    }
}

/* Queue a slot already marked FREE (under its next generation) for the free list. */
static inline void slot_chain(etude_engine_t *e, struct ev_slot *s, uint32_t idx)
{
    (void)s;
    atomic_store_explicit(&e->fring[e->freed_local & e->fmask], idx, memory_order_relaxed);
    e->freed_local++;
}

/* Retire a slot: bump its generation, mark it FREE and queue it for the free list. */
static void slot_free(etude_engine_t *e, uint32_t idx)
{
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);
    atomic_store_explicit(&s->state, sw_make(gen_next(SW_GEN(w)), EV_FREE), memory_order_release);
    e->rtst[idx] = RT_NONE;
    slot_chain(e, s, idx);
}

/* Give this chunk's retired slots back to the producers: one release store, no CAS. */
static void slot_flush(etude_engine_t *e)
{
    uint64_t f = atomic_load_explicit(&e->freed, memory_order_relaxed);
    if (f == e->freed_local)
        return;
    bump_u64(&e->st_freed, e->freed_local - f);
    atomic_store_explicit(&e->freed, e->freed_local, memory_order_release);
}

/* A slot whose event has been published (PENDING, or already CANCELLED): into the wheel or the
 * heap, or freed if its cancel record came first. */
static inline __attribute__((always_inline)) void take_in(etude_engine_t *e, uint32_t idx,
                                                          uint64_t start)
{
    if (__builtin_expect(e->rtst[idx] == RT_CANCEL_FIRST, 0)) {
        slot_free(e, idx);
        return;
    }
    /* The common case inline: due within the wheel's span, after everything already in its bucket
     * (or into an empty one). */
    uint64_t f = e->ev[idx].frame;
    if (f >= start && f - start <= e->wmask) {
        uint32_t b = (uint32_t)f & e->wmask;
        uint32_t tail = e->wtail[b];
        if (tail == NIL || e->ev[tail].seq < e->ev[idx].seq) {
            e->rtst[idx] = RT_IN_WHEEL;
            e->wnext[idx] = NIL;
            e->wprev[idx] = tail;
            if (tail == NIL) {
                e->whead[b] = idx;
                e->wbits[b >> 6] |= 1ull << (b & 63);
            } else {
                e->wnext[tail] = idx;
            }
            e->wtail[b] = idx;
            return;
        }
    }
    place(e, idx, start);
}

/* Take in the events scheduled since the last look, in arrival order: first the slots that were
 * claimed but not yet published then, then the free-ring positions claimed since. A slot still
 * FREE is one whose producer is between its claim and its PENDING store: it waits in holes (it
 * cannot hold anyone else up, and its arrival number keeps its place in its bucket). */
static void drain_submissions(etude_engine_t *e, uint64_t start)
{
    uint32_t keep = 0;
    for (uint32_t h = 0; h < e->holes_n; h++) {
        uint32_t idx = e->holes[h];
        if (SW_ST(atomic_load_explicit(&e->ev[idx].state, memory_order_acquire)) == EV_FREE)
            e->holes[keep++] = idx;
        else
            take_in(e, idx, start);
    }
    e->holes_n = keep;
    uint64_t end = atomic_load_explicit(&e->claimed, memory_order_acquire);
    for (uint64_t t = e->drained; t < end; t++) {
        uint32_t idx = atomic_load_explicit(&e->fring[t & e->fmask], memory_order_relaxed);
        /* Acquire: the event's fields were written before its PENDING store. */
        if (__builtin_expect(SW_ST(atomic_load_explicit(&e->ev[idx].state, memory_order_acquire)) ==
                                 EV_FREE,
                             0))
            e->holes[e->holes_n++] = idx;
        else
            take_in(e, idx, start);
    }
    e->drained = end;
}

static void drain_cancels(etude_engine_t *e)
{
    uint32_t i = atomic_exchange_explicit(&e->cancel_head, NIL, memory_order_acquire);
    while (i != NIL) {
        uint32_t next = atomic_load_explicit(&e->ev[i].cancel_next, memory_order_relaxed);
        switch (e->rtst[i]) {
        case RT_IN_HEAP:
            heap_remove_at(e, e->hpos[i]);
            slot_free(e, i);
            break;
        case RT_IN_WHEEL:
            wheel_unlink(e, i);
            slot_free(e, i);
            break;
        case RT_WAIT_CANCEL:
            slot_free(e, i);
            break;
        default: /* cancelled before its submission reached us: free it when it does */
            e->rtst[i] = RT_CANCEL_FIRST;
            break;
        }
        i = next;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* audio side: voices */

static bool any_solo(etude_engine_t *e)
{
    for (uint32_t k = 0; k < e->rt_list_n; k++)
        if (atomic_load_explicit(&e->vs[e->rt_list[k]].solo, memory_order_relaxed))
            return true;
    return false;
}

static float gate_of(struct voice_slot *v, bool solo_any)
{
    if (atomic_load_explicit(&v->mute, memory_order_relaxed))
        return 0.0f;
    if (solo_any && !atomic_load_explicit(&v->solo, memory_order_relaxed))
        return 0.0f;
    return 1.0f;
}

static void rt_list_remove(etude_engine_t *e, struct voice_slot *v)
{
    uint32_t pos = (uint32_t)v->rt_list_pos;
    uint32_t last = e->rt_list[--e->rt_list_n];
    e->rt_list[pos] = last;
    e->vs[last].rt_list_pos = (int)pos;
}

static void voice_released(etude_engine_t *e, uint32_t slot)
{
    struct voice_slot *v = &e->vs[slot];
    uint64_t w = atomic_load_explicit(&v->state, memory_order_relaxed);
    atomic_store_explicit(&v->state, sw_make(SW_GEN(w), ETUDE_VOICE_RELEASED), memory_order_release);
    /* Cannot fail: each slot is in this ring at most once. */
    bool ok = etude_ring_push(&e->released, &slot);
    (void)ok;
}

static void apply_commands(etude_engine_t *e)
{
    struct cmd c;
    bool activated = false;
    while (etude_ring_pop(&e->cmd, &c)) {
        struct voice_slot *v = &e->vs[c.slot];
        if (c.type == CMD_ACTIVATE) {
            bool solo_any = any_solo(e);
            activated = true;
            v->rt_new = 1;
            v->rt_on = 1;
            v->rt_fading = 0;
            v->rt_live = 1;
            v->rt_fade_pos = 0;
            v->rt_gain = bits_float(atomic_load_explicit(&v->gain_bits, memory_order_relaxed));
            v->rt_pan = bits_float(atomic_load_explicit(&v->pan_bits, memory_order_relaxed));
            v->rt_gate = gate_of(v, solo_any);
            v->rt_list_pos = (int)e->rt_list_n;
            e->rt_list[e->rt_list_n++] = c.slot;
            uint64_t w = atomic_load_explicit(&v->state, memory_order_acquire);
            if (SW_ST(w) == ETUDE_VOICE_PREPARED)
                atomic_compare_exchange_strong(&v->state, &w, sw_make(SW_GEN(w), ETUDE_VOICE_ACTIVE));
            atomic_fetch_add_explicit(&e->v_active, 1, memory_order_relaxed);
        } else if (c.type == CMD_DISPOSE) {
            if (v->rt_on && !v->rt_fading) {
                v->rt_fading = 1;
                v->rt_live = 0;
                v->rt_fade_pos = 0;
                if (v->cls->release)
                    v->cls->release(v->self);
            }
        }
    }
    if (!activated)
        return;
    /* A voice activated in the same batch as a soloed one must start silent, not fade out over its
     * first period: settle the new voices' gates once every activation of the batch is known. */
    bool solo_any = any_solo(e);
    for (uint32_t k = 0; k < e->rt_list_n; k++) {
        struct voice_slot *v = &e->vs[e->rt_list[k]];
        if (v->rt_new) {
            v->rt_gate = gate_of(v, solo_any);
            v->rt_new = 0;
        }
    }
}

/* Zero every rendering voice's buffers for the chunk (once: render() adds into them). */
static void clear_voices(etude_engine_t *e, uint32_t n)
{
    for (uint32_t k = 0; k < e->rt_list_n; k++) {
        struct voice_slot *v = &e->vs[e->rt_list[k]];
        memset(v->buf[0], 0, n * sizeof(float));
        memset(v->buf[1], 0, n * sizeof(float));
    }
}

static void render_voices(etude_engine_t *e, uint32_t a, uint32_t b, uint64_t start)
{
    e->rt_frame = start + a;
    for (uint32_t k = 0; k < e->rt_list_n; k++) {
        struct voice_slot *v = &e->vs[e->rt_list[k]];
        float *out[2] = {v->buf[0] + a, v->buf[1] + a};
        v->cls->render(v->self, out, b - a);
    }
}

/* Kept out of line so that the common path of deliver() needs no stack frame for the record. */
static __attribute__((noinline, cold)) void post_note(etude_engine_t *e, const etude_event_t *ev,
                                                      uint64_t at, bool late)
{
    struct note nt = {.type = NOTE_EVENT, .kind = ev->kind, .flags = ev->flags, .tag = ev->tag,
                      .late = late, .frame = ev->frame, .fired_at = at, .voice = ev->voice,
                      .i64 = {ev->u.i64[0], ev->u.i64[1]}};
    if (!etude_ring_push(&e->notes, &nt))
        bump_u64(&e->st_notes_lost, 1);
}

/* Per-chunk tallies of the dispatch loop, published once per chunk (single-writer counters). */
struct tally {
    uint64_t disp, drop, late;
};

/* Deliver a fired event to its voice (or only notify, for a voiceless MARKER). The voice must be
 * ACTIVE under the handle's generation and not fading; otherwise the event is counted dropped. */
static inline __attribute__((always_inline)) void deliver(etude_engine_t *e, const etude_event_t *ev,
                                                         uint64_t at, bool late, struct tally *t)
{
    e->rt_frame = at;
    if (ev->voice) {
        uint32_t vi = ETUDE_ID_SLOT(ev->voice);
        struct voice_slot *v = &e->vs[vi];
        /* The handle's generation and ACTIVE, compared as one word. */
        uint64_t want = (ev->voice & ~(uint64_t)0xffffffffu) | ETUDE_VOICE_ACTIVE;
        if (vi >= e->v_cap || atomic_load_explicit(&v->state, memory_order_acquire) != want ||
            !v->rt_live) {
            t->drop++;
            t->late += late;
            return;
        }
        if (v->cls->event)
            v->cls->event(v->self, ev);
    }
    t->disp++;
    t->late += late;
    if (__builtin_expect(ev->flags & ETUDE_EVF_NOTIFY, 0))
        post_note(e, ev, at, late);
}

/* Apply gain (smoothed over the chunk), the dispose fade, pan and mute/solo; sum into the mix. */
static void mix_voices(etude_engine_t *e, uint32_t n, float *const mix[2], float *const *voice_out,
                       uint32_t off)
{
    bool solo_any = any_solo(e);
    float inv = 1.0f / (float)n;
    for (uint32_t k = 0; k < e->rt_list_n;) {
        uint32_t slot = e->rt_list[k];
        struct voice_slot *v = &e->vs[slot];
        float g0 = v->rt_gain, g1 = bits_float(atomic_load_explicit(&v->gain_bits, memory_order_relaxed));
        float p0 = v->rt_pan, p1 = bits_float(atomic_load_explicit(&v->pan_bits, memory_order_relaxed));
        float m0 = v->rt_gate, m1 = gate_of(v, solo_any);
        float *vo = voice_out ? voice_out[slot] : NULL;
        const float *L = v->buf[0], *R = v->cls->mono ? v->buf[0] : v->buf[1];
        float *ml = mix[0] + off, *mr = mix[1] + off;
        uint32_t fpos = v->rt_fade_pos, flen = e->cfg.fade_frames;
        for (uint32_t i = 0; i < n; i++) {
            float t = (float)(i + 1) * inv;
            float g = g0 + (g1 - g0) * t;
            if (v->rt_fading)
                g *= fpos + i < flen ? e->fade_tab[fpos + i] : 0.0f;
            float p = p0 + (p1 - p0) * t;
            float m = m0 + (m1 - m0) * t;
            /* Linear balance: the centre passes both sides at unity. */
            float pl = p > 0.0f ? 1.0f - p : 1.0f, pr = p < 0.0f ? 1.0f + p : 1.0f;
            float l = L[i] * g, r = R[i] * g;
            if (vo)
                vo[off + i] = v->cls->mono ? l : 0.5f * (l + r);
            ml[i] += l * pl * m;
            mr[i] += r * pr * m;
        }
        v->rt_gain = g1;
        v->rt_pan = p1;
        v->rt_gate = m1;
        if (v->rt_fading) {
            v->rt_fade_pos = fpos + n;
            if (v->rt_fade_pos >= flen) {
                v->rt_on = 0;
                v->rt_live = 0;
                rt_list_remove(e, v);
                atomic_fetch_sub_explicit(&e->v_active, 1, memory_order_relaxed);
                voice_released(e, slot);
                continue; /* slot k now holds another voice */
            }
        }
        k++;
    }
}

/* Dispatch one event the audio thread has taken out of the wheel or the heap. One CAS takes the
 * slot from PENDING straight to FREE under the next generation: it decides a cancel racing this
 * dispatch exactly once (a later cancel with the old handle answers EDONE), and no producer can
 * reach the slot before slot_flush() puts it back on the free list, so the event stays readable
 * here until then. */
static inline __attribute__((always_inline)) void fire(etude_engine_t *e, uint32_t idx, uint64_t at,
                                                       bool late, struct tally *t)
{
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
    if (SW_ST(w) == EV_PENDING &&
        atomic_compare_exchange_strong_explicit(&s->state, &w, sw_make(gen_next(SW_GEN(w)), EV_FREE),
                                                memory_order_acq_rel, memory_order_acquire)) {
        e->rtst[idx] = RT_NONE;
        etude_event_t ev = {.frame = s->frame,
                            .voice = atomic_load_explicit(&s->voice, memory_order_relaxed),
                            .kind = s->kind,
                            .flags = s->flags,
                            .tag = atomic_load_explicit(&s->tag, memory_order_relaxed)};
        memcpy(&ev.u, s->u, sizeof ev.u);
        deliver(e, &ev, at, late, t);
        slot_chain(e, s, idx);
    } else {
        e->rtst[idx] = RT_WAIT_CANCEL; /* its cancel record is on the way */
    }
}

/* Publish a chunk's tallies. */
static inline void tally_flush(etude_engine_t *e, const struct tally *t)
{
    if (t->disp)
        bump_u64(&e->st_disp, t->disp);
    if (t->drop)
        bump_u64(&e->st_drop, t->drop);
    if (t->late)
        bump_u64(&e->st_late, t->late);
}

static void process_chunk(etude_engine_t *e, uint32_t n, float *const mix[2], float *const *voice_out,
                          uint32_t off)
{
    uint64_t start = atomic_load_explicit(&e->now, memory_order_relaxed);
    uint64_t end = start + n;
    /* Submissions before commands: an event whose submission is visible was scheduled after its
     * voice's activation was queued, so that activation is visible too. */
    drain_submissions(e, start);
    apply_commands(e);
    drain_cancels(e);

    memset(mix[0] + off, 0, n * sizeof(float));
    memset(mix[1] + off, 0, n * sizeof(float));
    if (voice_out)
        for (uint32_t i = 0; i < e->v_cap; i++)
            if (voice_out[i])
                memset(voice_out[i] + off, 0, n * sizeof(float));

    clear_voices(e, n);
    struct tally t = {0, 0, 0};
    /* Late events first, at offset 0, in (frame, seq) order; then the heap's events that have come
     * within the wheel's span move to the wheel. */
    while (e->heap_n && e->heap[0].frame < start) {
        uint32_t idx = e->heap[0].idx;
        heap_remove_at(e, 0);
        e->rtst[idx] = RT_NONE;
        fire(e, idx, start, true, &t);
    }
    while (e->heap_n && e->heap[0].frame - start <= e->wmask) {
        uint32_t idx = e->heap[0].idx;
        heap_remove_at(e, 0);
        wheel_insert(e, idx, e->ev[idx].frame);
    }

    /* Walk the chunk's buckets through the bitmap: render up to each busy frame, fire its events. */
    uint32_t pos = 0;
    uint64_t f = start;
    while (f < end) {
        uint32_t b = (uint32_t)f & e->wmask;
        uint64_t bits = e->wbits[b >> 6] >> (b & 63);
        if (!bits) {
            f += 64 - (b & 63);
            continue;
        }
        f += (uint64_t)__builtin_ctzll(bits);
        if (f >= end)
            break;
        b = (uint32_t)f & e->wmask;
        uint32_t at = (uint32_t)(f - start);
        if (at > pos) {
            render_voices(e, pos, at, start);
            pos = at;
        }
        /* Take the whole bucket: nothing else touches the wheel until the next chunk's drains. */
        uint32_t idx = e->whead[b];
        e->whead[b] = e->wtail[b] = NIL;
        e->wbits[b >> 6] &= ~(1ull << (b & 63));
        do {
            uint32_t next = e->wnext[idx];
            fire(e, idx, f, false, &t);
            idx = next;
        } while (idx != NIL);
        f++;
    }
    if (pos < n)
        render_voices(e, pos, n, start);
    tally_flush(e, &t);
    mix_voices(e, n, mix, voice_out, off);
    slot_flush(e);
    e->rt_frame = end;
    atomic_store_explicit(&e->now, end, memory_order_release);
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
        drain_submissions(e, atomic_load_explicit(&e->now, memory_order_relaxed));
        apply_commands(e);
        drain_cancels(e);
        slot_flush(e);
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
    int freed = 0;
    uint32_t slot;
    while (etude_ring_pop(&e->released, &slot)) {
        struct voice_slot *v = &e->vs[slot];
        pthread_mutex_lock(&e->ctl_lock);
        const etude_voice_class_t *cls = v->cls;
        void *self = v->self;
        char nm[64], kind[64];
        memcpy(nm, v->name, sizeof nm);
        snprintf(kind, sizeof kind, "%s", cls->kind ? cls->kind : "");
        pthread_mutex_unlock(&e->ctl_lock);
        if (cls->dispose)
            cls->dispose(self);
        pthread_mutex_lock(&e->ctl_lock);
        uint64_t w = atomic_load(&v->state);
        v->cls = NULL;
        v->self = NULL;
        v->name[0] = 0;
        atomic_store_explicit(&v->state, sw_make(gen_next(SW_GEN(w)), ETUDE_VOICE_FREE),
                              memory_order_release);
        atomic_fetch_sub(&e->v_in_use, 1);
        pthread_mutex_unlock(&e->ctl_lock);
        publish_voice(e, "disposed", nm, kind, NULL);
        freed++;
    }
    etude_bus_t *bus = atomic_load(&e->bus);
    struct note nt;
    while (etude_ring_pop(&e->notes, &nt)) {
        if (!bus)
            continue;
        char json[320];
        snprintf(json, sizeof json,
                 "{\"kind\":%u,\"tag\":%u,\"frame\":%llu,\"fired_at\":%llu,\"late\":%s,"
                 "\"voice\":%llu,\"i64\":[%lld,%lld]}",
                 (unsigned)nt.kind, (unsigned)nt.tag, (unsigned long long)nt.frame,
                 (unsigned long long)nt.fired_at, nt.late ? "true" : "false",
                 (unsigned long long)nt.voice, (long long)nt.i64[0], (long long)nt.i64[1]);
        etude_bus_publish(bus, "position", "event", json);
    }
    uint64_t late = atomic_load(&e->st_late), lost = atomic_load(&e->st_notes_lost);
    if (bus && late != e->late_reported) {
        char json[160];
        snprintf(json, sizeof json, "{\"message\":\"%llu event(s) fired late\",\"new\":%llu,\"total\":%llu}",
                 (unsigned long long)(late - e->late_reported),
                 (unsigned long long)(late - e->late_reported), (unsigned long long)late);
        etude_bus_publish(bus, "error", "events-late", json);
    }
    if (bus && lost != e->notes_lost_reported) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"message\":\"%llu notification(s) lost: tick() not called often enough\",\"total\":%llu}",
                 (unsigned long long)(lost - e->notes_lost_reported), (unsigned long long)lost);
        etude_bus_publish(bus, "error", "notifications-lost", json);
    }
    e->late_reported = late;
    e->notes_lost_reported = lost;
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
