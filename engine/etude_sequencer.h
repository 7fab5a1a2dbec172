/* etude_sequencer.h - the lookahead clock: expands musical material into the event table ahead of
 * the audio thread (the "two clocks" pattern).
 *
 * Material is described by sources. A source lays its events out in material frames: frames from
 * the start of the material at the engine's sample rate, as the material's own tempo map places
 * them (positions computed in double precision from the start and rounded once, so nothing drifts).
 * The sequencer maps material frames to engine frames through an anchor
 *     engine_frame = anchor_frame + (pos - anchor_pos)
 * and, on every tick, asks each source for the events in [horizon, now + lookahead) and schedules
 * them. Stop, locate, loop jumps and invalidate() cancel what was scheduled ahead and send
 * ETUDE_EV_ALL_NOTES_OFF to the sources' voices, so a change takes effect within one period and no
 * stale event fires afterwards.
 *
 * Threads: all functions are [control] and must be called from one control thread.
 */
#ifndef ETUDE_SEQUENCER_H
#define ETUDE_SEQUENCER_H

#include <stdbool.h>
#include <stdint.h>

#include "etude_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_sequencer etude_sequencer_t;

/* Schedules one event at material position pos. ev->frame is ignored; ev->voice 0 means the
 * source's voice; ev->tag is overwritten with the source id. Returns 0 or a negative ETUDE_E*. */
typedef int (*etude_emit_fn)(void *ctx, uint64_t pos, const etude_event_t *ev);

typedef struct etude_source_class {
    const char *kind;
    /* [control] Emit, in position order, every event whose position p has from <= p < to.
     * Return 0, or the first negative error (including one returned by emit). */
    int (*expand)(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx);
    /* [control] The material's length in material frames; UINT64_MAX if endless. */
    uint64_t (*length)(void *self);
    /* [control] Free self. May be NULL when the caller keeps ownership. */
    void (*destroy)(void *self);
} etude_source_class_t;

/* @startlifecycle sequencer
 * lookahead_frames: how far ahead events are scheduled (typically 100-200 ms). */
int etude_sequencer_create(etude_engine_t *engine, uint32_t lookahead_frames, etude_sequencer_t **out);
/* Stops, cancels everything it scheduled and destroys every source. NULL accepted. */
void etude_sequencer_destroy(etude_sequencer_t *seq);
/* @endlifecycle */

/* Add a source whose events go to voice (0: the events name their voice). Takes ownership of self
 * on success. *id (may be NULL) receives the source id, also used as the events' tag. */
int etude_sequencer_add_source(etude_sequencer_t *seq, const etude_source_class_t *cls, void *self,
                               etude_voice_id_t voice, uint32_t *id);
/* Remove a source: cancels its pending events, silences its voice, destroys it. */
int etude_sequencer_remove_source(etude_sequencer_t *seq, uint32_t id);

/* Start rolling from the current position; the first events fire at engine frame at_frame, or
 * from the next period when at_frame is 0 (or already past). */
int etude_sequencer_start(etude_sequencer_t *seq, uint64_t at_frame);
/* Stop: cancel what was scheduled ahead, send ALL_NOTES_OFF to every source's voice. */
int etude_sequencer_stop(etude_sequencer_t *seq);
/* Relocate to material position pos (rolling or not). */
int etude_sequencer_locate(etude_sequencer_t *seq, uint64_t pos);
/* Loop [a, b) in material frames; b == 0 turns looping off. */
int etude_sequencer_set_loop(etude_sequencer_t *seq, uint64_t a, uint64_t b);
/* Completed loop passes, counted when the audio reaches the jump. */
uint64_t etude_sequencer_loops(etude_sequencer_t *seq);
/* The material changed from the current position on (tempo scale, edits): cancel what was
 * scheduled ahead and expand again. */
int etude_sequencer_invalidate(etude_sequencer_t *seq);

/* Schedule every event due up to engine now + lookahead. Call often (every few ms live, after every
 * period offline). ETUDE_EFULL: the table was full; what did not fit is tried again next tick. */
int etude_sequencer_tick(etude_sequencer_t *seq);

bool etude_sequencer_rolling(const etude_sequencer_t *seq);
/* Material position at engine frame etude_engine_now(). */
uint64_t etude_sequencer_position(const etude_sequencer_t *seq);
/* The material's length: the longest source's length() in material frames (a source without
 * length() counts as endless); UINT64_MAX if endless, 0 with no sources. */
uint64_t etude_sequencer_length(const etude_sequencer_t *seq);
/* Rolling past the end of every source's material with no loop set. */
bool etude_sequencer_finished(const etude_sequencer_t *seq);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_SEQUENCER_H */
