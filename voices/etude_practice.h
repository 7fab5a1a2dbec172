/* etude_practice.h - practice controls: tempo scale, A-B loop by bars with count-in, and the speed
 * trainer, over material with bars (a MIDI file, or a fixed tempo and meter), and the sequencer
 * sources that play that material through them.
 *
 * The practice lays the material out in passes. Pass k plays bars A..B at tempo scale s_k; before
 * pass 0 come count_in bars of click at pass 0's tempo. Positions are computed from the start in
 * double precision per event and rounded once, so nothing drifts:
 *     S_0 = count-in length,  S_{k+1} = S_k + L / s_k,  L = seconds(A..B) * rate
 *     pos_k(tick) = S_k + (seconds(tick) - seconds(A)) * rate / s_k
 * A finite number of passes (a loop played N times, the speed trainer) is laid out this way, so each
 * tempo step lands on the exact frame of its pass's downbeat and the material ends by itself. An
 * endless loop at one tempo uses the sequencer's own loop over pass 0 instead (etude_practice_attach());
 * its passes are counted by etude_sequencer_loops(). Every MIDI part stops its notes at the end of
 * each pass (as the sequencer does at a loop jump), and every source silences its voice at the end
 * of the material, so no note outlives the practice.
 *
 * Threads: every function is [control]. A practice is shared by its sources (reference counted) and
 * freed when the last reference goes.
 */
#ifndef ETUDE_PRACTICE_H
#define ETUDE_PRACTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_engine.h"
#include "etude_midifile.h"
#include "etude_sequencer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_practice etude_practice_t;

#define ETUDE_PRACTICE_MAX_BARS 100000u   /* bars of material, and the highest bar number A or B */
#define ETUDE_PRACTICE_MAX_PASSES 10000u  /* passes laid out (a loop's times, the trainer's passes) */

typedef struct etude_practice_config {
    double tempo_scale;  /* 0.1 .. 4 (e.g. 0.5 = half speed); ignored by the trainer */
    uint32_t from_bar;   /* A, 1-based; 0 = the first bar */
    uint32_t to_bar;     /* B, 1-based and included; 0 = the last bar */
    uint32_t count_in;   /* bars of click before the first pass, 0..16, at the tempo and meter of
                            the first bar played */
    uint32_t start_bar;  /* 1-based, A..B: the first pass starts at this bar (later ones at A);
                            0 = at A */
    uint32_t times;      /* passes; 0 = endless (the sequencer's loop); ignored by the trainer */
    /* Speed trainer: start at start_bpm, add step_bpm every `every` passes, up to target_bpm,
     * which is then played `every` passes too. Tempi are quarter notes per minute of bar A (the
     * written tempo elsewhere is scaled in proportion). */
    bool trainer;
    double start_bpm, step_bpm, target_bpm;
    uint32_t every;
} etude_practice_config_t;

/* [any] Defaults: scale 1, the whole material once, no count-in, no trainer. */
void etude_practice_config_default(etude_practice_config_t *cfg);

/* What a front end says over a preset's practice (etude play/render's --count-in, --loop, --loops,
 * --start, --trainer): each field set replaces the preset's. times replaces the preset's trainer
 * too (passes at one tempo); a trainer replaces the preset's times. */
typedef struct etude_practice_override {
    bool count_in_set, loop_set, times_set, start_set, trainer_set;
    uint32_t count_in, from_bar, to_bar, times, start_bar;
    double start_bpm, step_bpm, target_bpm;
    uint32_t every;
} etude_practice_override_t;

/* [any] Apply o (NULL: nothing) over cfg. */
void etude_practice_override_apply(const etude_practice_override_t *o, etude_practice_config_t *cfg);

/* @startlifecycle practice
 * [control] Create a practice over a MIDI file (taken over: freed with the practice, also on
 * failure), or over fixed material: bars of num/den at bpm quarter notes per minute.
 * On a bad configuration returns ETUDE_EINVAL with one line in err naming the field
 * ("to_bar 12 is past the last bar (8)"). *out holds one reference. */
int etude_practice_create_midi(etude_midifile_t *mf, const etude_practice_config_t *cfg, uint32_t rate,
                               etude_practice_t **out, char *err, size_t errsize);
int etude_practice_create_fixed(double bpm, uint32_t num, uint32_t den, uint32_t bars,
                                const etude_practice_config_t *cfg, uint32_t rate, etude_practice_t **out,
                                char *err, size_t errsize);
etude_practice_t *etude_practice_ref(etude_practice_t *p);
void etude_practice_unref(etude_practice_t *p); /* NULL accepted */
/* @endlifecycle */

/* [control] The MIDI file (NULL for fixed material). Valid while the practice lives. */
const etude_midifile_t *etude_practice_midifile(const etude_practice_t *p);

/* [control] Passes laid out (UINT32_MAX: endless), the tempo scale and the tempo (quarter notes per
 * minute at bar A) of pass k, its first material frame, and the bars each pass plays. */
uint32_t etude_practice_passes(const etude_practice_t *p);
double etude_practice_pass_scale(const etude_practice_t *p, uint32_t k);
double etude_practice_pass_bpm(const etude_practice_t *p, uint32_t k);
uint64_t etude_practice_pass_start(const etude_practice_t *p, uint32_t k);
uint32_t etude_practice_pass_bars(const etude_practice_t *p);
/* [control] Bars of the material in all, and beats per bar of bar A. */
uint32_t etude_practice_bars(const etude_practice_t *p);
uint32_t etude_practice_beats_per_bar(const etude_practice_t *p);
/* [control] Beats of material bar i (0-based), or 0 past the last bar. */
uint32_t etude_practice_bar_beats(const etude_practice_t *p, uint32_t i);

/* [control] The i-th bar played, counting the count-in's bars first, then each pass's bars A..B in
 * turn (an endless practice has pass 0's only): its first material frame, its tempo (quarter notes
 * per minute at its first beat, with the pass's tempo scale) and its pass (-1 in the count-in).
 * Any out-pointer may be NULL. ETUDE_EINVAL past the last bar. Used to announce bars and loops. */
int etude_practice_bar_info(const etude_practice_t *p, uint32_t i, uint64_t *frame, double *bpm, int *pass);

/* [control] The material's length in frames (count-in and every pass); UINT64_MAX if endless. */
uint64_t etude_practice_length(const etude_practice_t *p);

/* [control] For an endless loop (times 0, no trainer) set the sequencer's loop over pass 0;
 * otherwise nothing. Call once after adding the sources, before starting. */
int etude_practice_attach(etude_practice_t *p, etude_sequencer_t *seq);

/* [control] Change the tempo scale from the current position on, while playing or not (etude play's
 * control): the rest of the current pass and every later pass (and the count-in, if it is still
 * sounding) follow the new scale; what already played stays where it was. The change takes effect
 * within one period: the sequencer drops what it scheduled ahead and expands again (sounding notes
 * end there). An endless loop keeps its start and is relocated to the same musical point.
 * ETUDE_EINVAL outside 0.1 .. 4, ETUDE_ESTATE for a trainer (its tempi are planned). */
int etude_practice_set_tempo_scale(etude_practice_t *p, etude_sequencer_t *seq, double scale);

/* Sources. Each holds a reference to the practice, released by the class's destroy() (the
 * sequencer calls it). All share etude_practice_source_class; NULL when out of memory or for a
 * bad argument. */
extern const etude_source_class_t etude_practice_source_class;

/* The notes and controllers of a MIDI part (controllers before bar A are sent at the start). */
void *etude_practice_midi_source(etude_practice_t *p, size_t part);
/* ETUDE_EV_CLICK on every beat of the count-in and, when every_pass is true, of every pass
 * (u.click.level ACCENT on each bar's first beat, gain 1). For the click voice of etude_click.h. */
void *etude_practice_click_source(etude_practice_t *p, bool every_pass);
/* The same with klick's beat pattern (one character per beat: 'X' accent, 'x' normal, '.' silent,
 * e.g. "X..x.." to count 6/8 in two): every bar with as many beats as the pattern has characters,
 * count-in included, sounds as the pattern says; other bars as above. pattern NULL or "": as
 * etude_practice_click_source(). NULL for a pattern with other characters. */
void *etude_practice_pattern_click_source(etude_practice_t *p, bool every_pass, const char *pattern);
/* A copy of *ev at the first frame of every bar, count-in included, and ETUDE_EV_ALL_NOTES_OFF at
 * the end (used to keep a drone sounding: a note-on per bar survives loop jumps). */
void *etude_practice_bar_source(etude_practice_t *p, const etude_event_t *ev);
/* The same with events chosen per bar: at the first frame of every bar, the events fn writes for
 * that material bar (0-based; a count-in bar counts as the first bar played) into out (at most
 * max = 4), in order;
 * fn returns how many. fn is called only within this call. */
typedef size_t (*etude_practice_bar_events_fn)(uint32_t bar, void *user, etude_event_t *out, size_t max);
void *etude_practice_bar_events_source(etude_practice_t *p, etude_practice_bar_events_fn fn, void *user);
/* A step pattern per bar: one character per step, steps evenly spread over the bar: 'X' note-on
 * velocity 127, 'x' velocity 90, '.' nothing. Notes use key. Not in the count-in. NULL for an
 * empty pattern or other characters. */
void *etude_practice_pattern_source(etude_practice_t *p, const char *pattern, uint8_t key);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PRACTICE_H */
