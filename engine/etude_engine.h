/* etude_engine.h - the real-time core: the engine, its scheduled-event table and its voice pool.
 *
 * Sections, one per source file (the line FluidSynth draws between synth/ and rvoice/: control
 * state apart from render state, bridged by rings):
 *   Engine            etude_engine.c  create, destroy, process (the audio loop), tick, shutdown
 *   Scheduled events  etude_event.c   the lock-free table: schedule, cancel, intake, dispatch
 *   Voices            etude_voice.c   the voice pool: lifecycle, fade, mix
 *   Notifications     etude_notify.c  what tick() and the voice calls publish on the bus
 * engine/etude_engine_internal.h holds the state they share; it is not part of the contract.
 *
 * Threads. Every function below names the threads that may call it:
 *   [control]  the engine's control thread (or any non-real-time thread; functions marked
 *              [control] may be called from several control threads at once unless they say
 *              otherwise);
 *   [audio]    the JACK process callback or the offline render loop: one thread at a time;
 *   [any]      any thread.
 * Functions marked [audio] and every voice-class callback marked [audio] must not call malloc,
 * free, locks, I/O, printf or any blocking system call, and run in bounded time.
 *
 * Errors. Functions return 0 (ETUDE_OK) or a negative ETUDE_E* code; etude_strerror() names it.
 */
#ifndef ETUDE_ENGINE_H
#define ETUDE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors: 0 or a negative code of the project's one error space (etude_error.h), named by
 * etude_strerror(). The engine returns ETUDE_ENOMEM, EINVAL, EFULL, ESTALE, EDISPOSED, EDONE,
 * ESTATE, EIO, EPARSE and EUNSUPPORTED. */

/* Handles are (generation << 32) | slot. Generations start at 1, so 0 is never a valid handle. */
typedef uint64_t etude_event_id_t;
typedef uint64_t etude_voice_id_t;
#define ETUDE_ID_SLOT(id) ((uint32_t)((id) & 0xffffffffu))
#define ETUDE_ID_GEN(id) ((uint32_t)((id) >> 32))

typedef struct etude_engine etude_engine_t;

typedef struct etude_engine_config {
    uint32_t sample_rate;    /* Hz, > 0 */
    uint32_t max_period;     /* largest chunk rendered at once; process() splits bigger periods */
    uint32_t event_capacity; /* slots in the scheduled-event table, fixed for the engine's life */
    uint32_t voice_capacity; /* slots in the voice pool, fixed for the engine's life */
    uint32_t fade_frames;    /* fade-out length when a voice is disposed; 0 picks 5 ms */
    uint32_t work_per_frame; /* audio-side budget: work units per frame of a chunk that each
                              * deferrable loop (intake, cancels, heap moves) may spend; 0 picks
                              * 16 (4096 units in a 256-frame period). See docs/engine.md. */
    uint32_t hole_wait_frames; /* how long intake waits for a producer stalled between its claim
                                * and its publish before going on without it; 0 picks 50 ms */
} etude_engine_config_t;

/* [any] Fill cfg with defaults for the given rate: max_period 4096, 65536 events, 64 voices, 5 ms fade,
 * work_per_frame and hole_wait_frames 0 (the engine picks 16 units and 50 ms). */
void etude_engine_config_default(etude_engine_config_t *cfg, uint32_t sample_rate);

/* ---------------------------------------------------------------------------------------------
 * Engine (etude_engine.c)
 */

/* @startlifecycle engine
 * [control] Create an engine. Every buffer the audio thread will touch is allocated here.
 * Returns 0 and *out, ETUDE_EINVAL for a bad config, ETUDE_ENOMEM. Destroy with etude_engine_destroy(). */
int etude_engine_create(const etude_engine_config_t *cfg, etude_engine_t **out);

/* [control] Destroy the engine: the audio thread must no longer call process(). Every voice still
 * in the pool is disposed (its class dispose() runs), every event is dropped, and all memory the
 * engine allocated is freed. NULL is accepted. */
void etude_engine_destroy(etude_engine_t *engine);
/* @endlifecycle */

/* [any] */
uint32_t etude_engine_sample_rate(const etude_engine_t *engine);
uint32_t etude_engine_max_period(const etude_engine_t *engine);
uint32_t etude_engine_fade_frames(const etude_engine_t *engine);

/* [any] The engine frame at which the next process() call starts (the frames rendered so far). */
uint64_t etude_engine_now(const etude_engine_t *engine);

/* [audio] The exact engine frame being rendered or dispatched right now; inside a voice's event()
 * callback it is the event's dispatch frame. */
uint64_t etude_engine_audio_frame(const etude_engine_t *engine);

/* [audio] Render nframes (any size; chunks of max_period internally).
 * Work per chunk is bounded: besides the events due in the chunk (fired whatever their number),
 * each of the loops over events that can wait (intake of new events, cancel records, moves from
 * the heap to the wheel) does at most work_per_frame x chunk frames units and carries the rest to
 * the next chunk (see docs/engine.md).
 * First applies queued commands (voice activation, disposal, cancellations), then renders voices,
 * dispatching every due event at its exact frame offset inside the period: voices are rendered up
 * to the event's frame, the event is delivered, rendering continues. Events whose frame has
 * already passed fire at offset 0 and are counted as late.
 * mix[0], mix[1]: the stereo mix, overwritten. voice_out: NULL, or an array of voice_capacity mono
 * buffers indexed by voice slot (NULL entries are skipped) that receive each voice's own signal
 * after gain and fade, before pan and mute/solo. */
void etude_engine_process(etude_engine_t *engine, uint32_t nframes, float *const mix[2],
                          float *const *voice_out);

/* [any] Nonzero while the calling thread is inside etude_engine_process(). The audio-thread
 * safety test's interposer uses it to tell the audio context from the rest. */
int etude_engine_in_audio(void);

/* [control] The control side's periodic work; call it at least once per period's worth of time
 * (live: from the control loop every few ms; offline: after every process()). It frees voices the
 * audio thread has released (their class dispose() runs here), returns event slots, and moves
 * notifications from the audio thread onto the bus (see etude_engine_set_bus()).
 * Returns the number of voices freed, or a negative error. Not reentrant: one control thread. */
int etude_engine_tick(etude_engine_t *engine);

struct etude_bus;
/* [control] Attach an event bus (etude_bus.h) that tick() and the voice calls publish to
 * (topics "voice", "position", "error"; formatted by etude_notify.c). The engine does not own it.
 * NULL detaches. */
void etude_engine_set_bus(etude_engine_t *engine, struct etude_bus *bus);

typedef struct etude_engine_stats {
    uint64_t frames;            /* frames rendered */
    uint64_t periods;           /* process() calls */
    uint64_t events_scheduled;  /* accepted by etude_event_schedule() */
    uint64_t events_dispatched; /* delivered to a voice */
    uint64_t events_cancelled;  /* cancelled before dispatch */
    uint64_t events_dropped;    /* due for a voice that was gone or disposing */
    uint64_t events_late;       /* fired after their frame (scheduled too late) */
    uint64_t schedule_full;     /* ETUDE_EFULL answers */
    uint32_t events_pending;    /* slots in use now */
    uint32_t voices_in_use;     /* voice slots not FREE */
    uint32_t voices_active;     /* voices rendering */
} etude_engine_stats_t;

/* [any] A consistent-enough snapshot of the counters (each read atomically). */
void etude_engine_stats(const etude_engine_t *engine, etude_engine_stats_t *out);

/* ---------------------------------------------------------------------------------------------
 * Scheduled events (etude_event.c)
 */

enum etude_event_kind {
    ETUDE_EV_NOTE_ON = 1,       /* u.note */
    ETUDE_EV_NOTE_OFF = 2,      /* u.note */
    ETUDE_EV_ALL_NOTES_OFF = 3, /* silence every sounding note of the voice now (stop, relocate, mute) */
    ETUDE_EV_CLICK = 4,         /* u.click: a metronome click */
    ETUDE_EV_PARAM = 5,         /* u.param: a voice-defined parameter change */
    ETUDE_EV_TRIGGER = 6,       /* u.trigger: a voice-defined one-shot */
    ETUDE_EV_MARKER = 7,        /* no voice action; used for notifications (flag NOTIFY) */
    ETUDE_EV_USER = 64          /* and above: free for voice kinds */
};

enum etude_event_flags {
    ETUDE_EVF_NOTIFY = 1u << 0 /* post a notification to the control side when dispatched */
};

enum etude_click_level {
    ETUDE_CLICK_NORMAL = 0, /* 'x' in a klick pattern */
    ETUDE_CLICK_ACCENT = 1  /* 'X' in a klick pattern */
};

typedef struct etude_event {
    uint64_t frame;         /* absolute engine frame at which it fires */
    etude_voice_id_t voice; /* target voice; 0 for events without a voice (MARKER) */
    uint16_t kind;          /* enum etude_event_kind */
    uint16_t flags;         /* enum etude_event_flags */
    uint32_t tag;           /* free for the scheduler (e.g. the material source); returned in notifications */
    union {
        struct { uint8_t channel, key, velocity; } note;
        struct { uint8_t level; float gain; } click;  /* level: enum etude_click_level */
        struct { uint32_t id; float value; } param;
        struct { uint32_t id; float value; } trigger;
        int64_t i64[2];
        double f64[2];
    } u;
} etude_event_t;

/* [control] Schedule a copy of *ev. On success *out (if not NULL) is the event's handle.
 * Lock-free and allocation-free; safe from several control threads at once.
 * Order: events due at the same frame fire in the order their schedule calls took effect (each
 * call takes its arrival number with one atomic operation, before it writes the event). This holds
 * across threads even when a scheduling thread is preempted between taking its number and
 * publishing its event: the audio thread takes events in strictly in arrival order and waits for
 * the missing one, for at most hole_wait_frames (etude_engine_config_t). Past that bound the
 * others go on without it, and the stalled event, once published, fires after the events already
 * at its frame (or late). Events scheduled at least hole_wait_frames ahead are never late because
 * of such a wait; a sequencer's lookahead (100-200 ms) is longer than the 50 ms default.
 * A schedule that races its voice's etude_voice_dispose() either fails (ETUDE_EDISPOSED) or its
 * event is dropped (counted in events_dropped) when the audio thread takes it in: it never holds
 * its slot until its frame.
 * ETUDE_EFULL: every slot is in use (nothing was scheduled). ETUDE_ESTALE / ETUDE_EDISPOSED: the
 * target voice is gone or being disposed. ETUDE_EINVAL: bad kind or voice. */
int etude_event_schedule(etude_engine_t *engine, const etude_event_t *ev, etude_event_id_t *out);

/* Most events one etude_event_schedule_many() call takes. */
#define ETUDE_EVENT_BATCH_MAX 256

/* [control] Schedule n events (at most ETUDE_EVENT_BATCH_MAX, else ETUDE_EINVAL), taking their
 * slots with one atomic operation instead of one per event. All or nothing: either all n are
 * scheduled, in array order (for events due at the same frame, evs[k] fires before evs[k + 1], and
 * no other call's event comes between them, also when this thread is preempted while publishing
 * the batch, within the bound described at etude_event_schedule()), or none is. out (if not NULL) receives n handles.
 * Errors as for etude_event_schedule(), for the first bad event; ETUDE_EFULL when fewer than n
 * slots are free.
 * Lock-free and allocation-free; safe from several control threads at once. n == 0 is a no-op. */
int etude_event_schedule_many(etude_engine_t *engine, const etude_event_t *evs, size_t n,
                              etude_event_id_t *out);

/* [control] Cancel one pending event. ETUDE_ESTALE if the handle's slot was reused or the handle is
 * malformed, ETUDE_EDONE if it already fired or was already cancelled. O(1). */
int etude_event_cancel(etude_engine_t *engine, etude_event_id_t id);

/* Cancels (all four calls): the cancelling thread decides with one CAS on the slot's state, so a
 * cancelled event can no longer fire once the call returns. Where membarrier(2) is available the
 * audio thread fires without a locked instruction and a cancel pays instead: one membarrier per
 * call (per 1024 cancelled events for the scans, a few microseconds each), and, when the CAS met
 * the dispatch of that very event, a wait of a few instructions for the audio thread's decision. The audio thread applies the cancel records (freeing the
 * slots) at most work_per_frame x period of them per period, so after a large cancel the slots
 * return to the table over a few periods (a full 65536-event table: 16 periods by default). */

/* [control] Cancel every pending event of a voice; *ncancelled (may be NULL) gets the count.
 * O(event_capacity). */
int etude_event_cancel_voice(etude_engine_t *engine, etude_voice_id_t voice, uint32_t *ncancelled);

/* [control] Cancel every pending event whose tag equals tag. O(event_capacity). */
int etude_event_cancel_tag(etude_engine_t *engine, uint32_t tag, uint32_t *ncancelled);

/* [control] Cancel every pending event. O(event_capacity). */
int etude_event_clear(etude_engine_t *engine, uint32_t *ncancelled);

/* ---------------------------------------------------------------------------------------------
 * Voices (etude_voice.c)
 *
 * Lifecycle: FREE -> PREPARED -> ACTIVE -> DISPOSING -> RELEASED -> FREE.
 * etude_voice_add() prepares a voice on the control thread and queues its activation; the audio
 * thread makes it ACTIVE at its next period. etude_voice_dispose() cancels the voice's events,
 * marks it DISPOSING (every later operation on the handle fails with ETUDE_EDISPOSED, and once
 * freed with ETUDE_ESTALE), and asks the audio thread to fade it out over fade_frames; the audio
 * thread then marks it RELEASED and hands it back, and the next etude_engine_tick() calls the
 * class dispose() and frees the slot. Bound: dispose -> RELEASED within fade_frames + 2 periods of
 * audio; RELEASED -> FREE at the next tick.
 */

enum etude_voice_state {
    ETUDE_VOICE_FREE = 0,
    ETUDE_VOICE_PREPARED = 1,
    ETUDE_VOICE_ACTIVE = 2,
    ETUDE_VOICE_DISPOSING = 3,
    ETUDE_VOICE_RELEASED = 4
};

typedef struct etude_voice_class {
    const char *kind; /* "click", "fluid", "sample", "drone", ... */
    /* [control] Called by etude_voice_add(): allocate and load everything render needs. May be NULL. */
    int (*prepare)(void *self, uint32_t sample_rate, uint32_t max_period);
    /* [audio] Handle one event at the current frame (etude_engine_audio_frame()). */
    void (*event)(void *self, const etude_event_t *ev);
    /* [audio] Add nframes of output to out[0] (left) and out[1] (right); the engine zeroes them
     * first. A mono voice writes out[0] only and sets mono in the class. */
    void (*render)(void *self, float *const out[2], uint32_t nframes);
    /* [audio] The voice starts its dispose fade: stop starting new sounds. May be NULL. */
    void (*release)(void *self);
    /* [control] Free everything the voice owns, self included. Called once, by tick() or destroy. */
    void (*dispose)(void *self);
    bool mono; /* render writes out[0] only; the engine treats it as centre-panned mono */
} etude_voice_class_t;

/* [control] Add a voice of class cls with state self (the class's own object) under a name
 * (copied, at most 63 bytes kept). Runs cls->prepare, then queues activation.
 * On success the engine owns self (cls->dispose frees it) and *out is the handle; on failure the
 * caller still owns self. ETUDE_EFULL when the pool is full. */
int etude_voice_add(etude_engine_t *engine, const etude_voice_class_t *cls, void *self,
                    const char *name, etude_voice_id_t *out);

/* [control] Start disposing a voice (see the lifecycle above). ETUDE_ESTALE for a stale handle,
 * ETUDE_EDISPOSED if already disposing. */
int etude_voice_dispose(etude_engine_t *engine, etude_voice_id_t voice);

/* [control] Mix parameters, applied from the next period, smoothed to avoid clicks.
 * gain: linear, >= 0. pan: -1 (left) .. +1 (right). If any voice is soloed, only soloed voices
 * reach the mix. Each returns ETUDE_ESTALE / ETUDE_EDISPOSED for a dead handle. */
int etude_voice_set_gain(etude_engine_t *engine, etude_voice_id_t voice, float gain);
int etude_voice_set_pan(etude_engine_t *engine, etude_voice_id_t voice, float pan);
int etude_voice_set_mute(etude_engine_t *engine, etude_voice_id_t voice, bool mute);
int etude_voice_set_solo(etude_engine_t *engine, etude_voice_id_t voice, bool solo);

typedef struct etude_voice_info {
    etude_voice_id_t id;
    uint32_t slot;
    int state; /* enum etude_voice_state */
    char name[64];
    const char *kind; /* the class's kind string */
    float gain, pan;
    bool mute, solo;
    void *self; /* the class object; valid until the voice is freed */
} etude_voice_info_t;

/* [control] Describe a voice. ETUDE_ESTALE if the handle is stale (a DISPOSING voice is still
 * described, with state DISPOSING). */
int etude_voice_info(const etude_engine_t *engine, etude_voice_id_t voice, etude_voice_info_t *out);

/* [control] Write up to max handles of voices in the pool that are not FREE and not disposing,
 * in slot order; returns how many there are in all. */
size_t etude_engine_voices(const etude_engine_t *engine, etude_voice_id_t *out, size_t max);

/* [control] Dispose every voice and wait (by running tick() and, if the audio thread is not
 * running, nothing else) until the pool is empty or timeout_ms passes. Returns the number of
 * voices still not freed. Used by shutdown. */
int etude_engine_dispose_all(etude_engine_t *engine, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_ENGINE_H */
