/* etude_engine_test.h - test instruments of the engine: counters of the work the audio thread does
 * in each chunk, and a hook that stalls a producer between claiming an event slot and publishing
 * the event. Production code never sets the hook (it stays NULL: one predictable branch per
 * schedule) and never reads the counters. Not part of the contract of etude_engine.h.
 */
#ifndef ETUDE_ENGINE_TEST_H
#define ETUDE_ENGINE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Work units of the audio side. One unit is one event (or cancel record) handled by a loop: a
 * free-ring position looked at by intake (taken in, dropped, or found unpublished), a set-aside
 * slot looked at again, a cancel record applied, an event moved from the heap to the wheel, a
 * step walked back through a wheel bucket. Units spent on events due inside the chunk (moved
 * because due, fired late, fired from their bucket) are counted apart in due: they are never
 * deferred. */
typedef struct etude_engine_work {
    uint32_t budget;       /* units each deferrable loop may spend in one chunk (last chunk) */
    uint32_t intake;       /* last chunk: positions and set-aside slots looked at */
    uint32_t cancels;      /* last chunk: cancel records applied */
    uint32_t moves;        /* last chunk: heap -> wheel moves of events not yet due */
    uint32_t walk;         /* last chunk: steps walked back through wheel buckets */
    uint32_t due;          /* last chunk: events handled because due in it (not budgeted) */
    uint32_t max_intake, max_cancels, max_moves, max_walk; /* maxima over all chunks */
    uint64_t chunks;       /* chunks processed */
    uint64_t backlog;      /* free-ring positions claimed but not taken in yet (after the chunk) */
    uint32_t set_aside;    /* slots whose producer stalled past the hole wait, not yet published */
} etude_engine_work_t;

/* [audio] (or any thread once process() has returned on the thread that called it, as tests do)
 * Copy the counters. */
void etude_engine_work(const etude_engine_t *engine, etude_engine_work_t *out);

/* Called by etude_event_schedule() (k = 0) and etude_event_schedule_many() (k = index in the batch)
 * after the slot's claim and before the event is written and published; arrival is the event's
 * free-ring position. A test sets it before starting its producers; it may block to stall one. */
typedef void (*etude_event_claim_hook_t)(etude_engine_t *engine, uint64_t arrival, size_t k);
extern etude_event_claim_hook_t etude_event_claim_hook;

/* Called on the audio thread by the dispatch of an event when the engine fires without a locked
 * instruction (membarrier registered): stage 0 after it marked the slot and before its deciding
 * load of the slot's state, stage 1 after that load found the event pending and before it frees
 * the slot and delivers. id is the event's handle. A test may sleep in it to widen the window in
 * which a cancel meets the dispatch. */
typedef void (*etude_event_fire_hook_t)(etude_engine_t *engine, etude_event_id_t id, int stage);
extern etude_event_fire_hook_t etude_event_fire_hook;

/* Set before etude_engine_create(): the engine fires with a CAS per event and cancels without
 * membarrier, as on a system without membarrier(2). */
extern bool etude_event_force_cas;

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_ENGINE_TEST_H */
