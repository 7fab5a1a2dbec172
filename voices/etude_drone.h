/* etude_drone.h - the drone voice: a sustained pitch for intonation practice.
 *
 * A mono tone (a pure sine, or "organ": the first four harmonics, softly weighted) at a MIDI key
 * plus a detune in cents, tuned to a reference A4. ETUDE_EV_NOTE_ON starts it (a repeated note-on
 * while it sounds changes nothing, so a source may re-send it at every bar to survive loop jumps);
 * ETUDE_EV_NOTE_OFF and ETUDE_EV_ALL_NOTES_OFF end it. Starts and ends are 30 ms ramps, so no
 * clicks. ETUDE_EV_PARAM with u.param.id ETUDE_DRONE_PARAM_HZ sets the pitch in Hz from the next
 * frame (the phase stays continuous). The drone map source plays it through a tempo map's bars.
 */
#ifndef ETUDE_DRONE_H
#define ETUDE_DRONE_H

#include <stddef.h>
#include <stdint.h>

#include "etude_engine.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_drone etude_drone_t;

enum etude_drone_wave { ETUDE_DRONE_SINE = 0, ETUDE_DRONE_ORGAN = 1 };

#define ETUDE_DRONE_PARAM_HZ 1u

typedef struct etude_drone_config {
    double key;     /* MIDI key, e.g. 57 for A3; fractional keys allowed */
    double cents;   /* detune */
    double a4_hz;   /* reference, e.g. 440 */
    int wave;       /* enum etude_drone_wave */
    float level;    /* peak amplitude, 0..1 */
} etude_drone_config_t;

/* [any] Defaults: A3 (key 57), 0 cents, A4 = 440 Hz, organ, level 0.25. */
void etude_drone_config_default(etude_drone_config_t *cfg);

/* [any] The frequency in Hz of cfg's pitch. */
double etude_drone_hz(const etude_drone_config_t *cfg);

/* @startlifecycle drone
 * [control] NULL when out of memory or for a bad config (a4_hz <= 0, level outside 0..1, wave).
 * Once added with etude_voice_add(engine, &etude_drone_class, ...) the engine owns it; otherwise
 * free it with etude_drone_free(). */
etude_drone_t *etude_drone_create(const etude_drone_config_t *cfg);
void etude_drone_free(etude_drone_t *d);
/* @endlifecycle */

extern const etude_voice_class_t etude_drone_class;

/* A change of the drone at a bar: from bar on (0-based), it sounds at hz, or is silent if hz is 0. */
typedef struct etude_drone_change {
    uint64_t bar;
    double hz;
} etude_drone_change_t;

/* @startlifecycle drone map source
 * [control] A sequencer source that sounds a drone through the bars of a klick tempo map: at the
 * first frame of every bar, the state of the last change at or before that bar (ETUDE_EV_PARAM
 * ETUDE_DRONE_PARAM_HZ then ETUDE_EV_NOTE_ON, or ETUDE_EV_NOTE_OFF for a silent change), so the
 * drone starts with the map, changes at its bars and survives loop jumps; after a jump into the
 * middle of a bar (a locate) that bar's state is sent at once; ETUDE_EV_ALL_NOTES_OFF at the map's
 * end. changes: n entries in strictly ascending bars, the first at bar 0 (copied). map is borrowed:
 * it must outlive the source. The sequencer owns the source once added (the class's destroy frees
 * it); otherwise free it with etude_drone_map_source_free(). ETUDE_EINVAL for bad arguments. */
int etude_drone_map_source_create(const etude_tempomap_t *map, uint32_t rate, const etude_drone_change_t *changes,
                                  size_t n, void **out);
void etude_drone_map_source_free(void *source);
/* @endlifecycle */

/* Which bar of the changes' map a bar of a rewritten map is (other tempi, count-in bars, a loop
 * unrolled, a later start): fn(ctx, bar) (0-based both), a pure function, called on the thread that
 * expands the source; ctx is copied (at most ETUDE_DRONE_BAR_MAP_CTX bytes). */
#define ETUDE_DRONE_BAR_MAP_CTX 64u
typedef struct etude_drone_bar_map {
    uint64_t (*fn)(const void *ctx, uint64_t bar);
    const void *ctx;
    size_t ctx_size;
} etude_drone_bar_map_t;

/* [control] Make the source play map (borrowed, as above) in place of its own, its bar k sounding
 * the change in force at bar bars->fn(ctx, k) of the changes; before the source is added to a
 * sequencer. ETUDE_EINVAL for bad arguments. */
int etude_drone_map_source_remap(void *source, const etude_tempomap_t *map, const etude_drone_bar_map_t *bars);

extern const etude_source_class_t etude_drone_map_source_class;

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_DRONE_H */
