/* etude_engine_internal.h - internal: the engine's state shared by its four files, the event table
 * (etude_event.c), the voice pool (etude_voice.c), the engine proper (etude_engine.c: create,
 * process, tick) and the notification formatting (etude_notify.c). Not installed, not for callers:
 * etude_engine.h is the contract.
 *
 * Ownership of the state below: fields marked "audio only" are touched by the thread inside
 * etude_engine_process() (one at a time, see audio_owner); fields marked "control" by control
 * threads under ctl_lock unless they are atomics; the rings name their writer and reader.
 */
#ifndef ETUDE_ENGINE_INTERNAL_H
#define ETUDE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "etude_engine.h"
#include "etude_engine_test.h"
#include "etude_bus.h"
#include "etude_ring.h"

struct etude_bus;

#define NIL UINT32_MAX
#define NOTE_RING_RECORDS 4096u

/* An event slot's state word is (generation << 32) | state. A slot being filled by its producer
 * stays FREE until PENDING is published: only that producer can reach it, and no handle of its
 * generation exists yet. */
enum { EV_FREE = 0, EV_PENDING = 2, EV_CANCELLED = 3 };

/* Where the audio thread has seen a slot (audio-only bookkeeping, see drain_*()). */
enum { RT_NONE = 0, RT_IN_HEAP = 1, RT_IN_WHEEL = 2, RT_WAIT_CANCEL = 3, RT_CANCEL_FIRST = 4 };

/* The wheel covers at least this many frames from the current chunk on (see docs/engine.md). */
#define WHEEL_MIN_FRAMES 16384u

/* The least work budget of a chunk, however short (process(0) included), so intake and cancels
 * always make progress. */
#define ETUDE_WORK_MIN 64u

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
    /* The event as scheduled, handed to the voice in place (no copy at dispatch). voice and tag are
     * also read by cancel scans on other threads while a producer may be refilling a recycled
     * slot: those two are written and scanned with __atomic builtins (relaxed); the audio thread
     * reads the whole event after its acquire of PENDING. */
    etude_event_t ev;
    uint64_t seq;                 /* arrival order */
    /* Written by the audio thread only: the generation of the incarnation it is about to fire,
     * stored before its deciding load of state, and 0 again if that load found it cancelled (see
     * fire() and cancel_resolve() in etude_event.c). */
    _Atomic uint32_t fire_mark;
    _Atomic uint32_t cancel_next; /* next in the cancel stack */
};
_Static_assert(sizeof(struct ev_slot) == 64, "an event slot is one cache line");

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
    /* Set once at create: the process is registered for private expedited membarrier(2), so the
     * audio thread fires with plain stores and cancellers pay for the fence (see fire()). */
    bool fire_asym;

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
    uint32_t *holes;      /* set aside: slots whose producer stalled past the hole wait */
    uint32_t holes_n, holes_rr;
    uint64_t hole_pos;        /* the position intake is waiting at (UINT64_MAX: none yet) */
    uint64_t hole_since;      /* the chunk start at which it began waiting there */
    uint64_t hole_claimed;    /* claimed when that wait began */
    uint64_t hole_skip_below; /* holes below this position are set aside without a wait */
    uint64_t wheel_end;       /* the heap holds no event due before this frame */
    uint32_t cancel_local;    /* cancel records taken from the stack, not yet applied */
    uint32_t rt_budget;       /* work units per deferrable loop in this chunk */
    uint64_t rt_frame;
    uint32_t *rt_list; /* voice slots rendering now */
    uint32_t rt_list_n;
    etude_engine_work_t rt_work; /* this chunk's work units (tests read them, etude_engine_test.h) */

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

/* ---------------------------------------------------------------------------------------------
 * The event table (etude_event.c)
 */

/* [control] Allocate and initialise the table's memory (inside etude_engine_create()). */
int ev_table_init(etude_engine_t *e);
/* [control] Free it (NULL fields are fine). */
void ev_table_fini(etude_engine_t *e);

/* [audio] At a chunk's start: take in new submissions and cancel records. */
void ev_rt_intake(etude_engine_t *e, uint64_t start);
void ev_rt_cancels(etude_engine_t *e);
/* [audio] Fire the chunk's events at their frames, rendering the voices in between. */
void ev_rt_dispatch(etude_engine_t *e, uint64_t start, uint32_t n);
/* [audio] Give this chunk's retired slots back to the producers. */
void ev_rt_flush(etude_engine_t *e);

/* ---------------------------------------------------------------------------------------------
 * The voice pool (etude_voice.c)
 */

/* [control] Allocate and initialise the pool (inside etude_engine_create()); free it. */
int vp_init(etude_engine_t *e);
void vp_fini(etude_engine_t *e);

/* [control] Check a voice handle: 0 with *slot (and *state) set, or ETUDE_ESTALE / EDISPOSED.
 * Inline: every schedule call checks its voice. */
/* Loads a voice's state word and checks the handle. Returns 0 with *slot set, or an error. */
static inline int vp_lookup(const etude_engine_t *e, etude_voice_id_t id, struct voice_slot **slot, uint32_t *state)
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
static inline int vp_live(const etude_engine_t *e, etude_voice_id_t id, struct voice_slot **slot)
{
    uint32_t st;
    int r = vp_lookup(e, id, slot, &st);
    if (r)
        return r;
    if (st == ETUDE_VOICE_DISPOSING || st == ETUDE_VOICE_RELEASED)
        return ETUDE_EDISPOSED;
    return 0;
}


/* [control] Free the voices the audio thread has released; returns how many. */
int vp_reap(etude_engine_t *e);

/* [audio] Apply queued activations and disposals. */
void vp_rt_commands(etude_engine_t *e);
/* [audio] Zero the rendering voices' buffers for an n-frame chunk. */
void vp_rt_clear(etude_engine_t *e, uint32_t n);
/* [audio] Render frames [a, b) of the chunk starting at start. */
void vp_rt_render(etude_engine_t *e, uint32_t a, uint32_t b, uint64_t start);
/* [audio] Gain, fade, pan, mute/solo; sum into the mix at offset off. */
void vp_rt_mix(etude_engine_t *e, uint32_t n, float *const mix[2], float *const *voice_out, uint32_t off);

/* ---------------------------------------------------------------------------------------------
 * Notifications (etude_notify.c): what tick() publishes on the bus
 */

/* [control] Publish voice / WHAT {voice, kind, value} when a bus is attached. value_json may be NULL. */
void nt_voice(etude_engine_t *e, const char *what, const char *name, const char *kind,
              const char *value_json);
/* [audio] Post a NOTIFY event's record on the notes ring (counted when the ring is full). */
void nt_post(etude_engine_t *e, const etude_event_t *ev, uint64_t at, bool late);
/* [control] Move the notes ring onto the bus and report late events and lost notifications. */
void nt_publish(etude_engine_t *e);

#endif /* ETUDE_ENGINE_INTERNAL_H */
