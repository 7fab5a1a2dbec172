/* etude_timeline.h - the practice timeline over any material: a click count-in, a loop of bars
 * (numbers, or labels of a klick tempo map) played N times or for ever, the bar playback starts at,
 * and the speed trainer; the parsers of their textual forms (the --count-in, --loop, --loops,
 * --start and --trainer flags of etude play and render), and a tempo map rewritten so that a click
 * plays them.
 *
 * The timeline lays the material out as practice presets do (docs/practice.md): count-in bars at
 * the tempo and meter of the first bar played, then passes over the loop's bars A..B (the whole
 * material when there is no loop). The first pass starts at the start bar (A by default), later
 * ones at A. The trainer plays `every` passes at each tempo from start_bpm up by step_bpm to
 * target_bpm (quarter notes per minute at bar A; other bars keep their proportion to it).
 *
 * Threads: every function is [any]: they read only their arguments (a tempo map is immutable).
 * Errors: 0 or ETUDE_EINVAL (ETUDE_ENOMEM) with one line in err naming the flag at fault.
 */
#ifndef ETUDE_TIMELINE_H
#define ETUDE_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_tempomap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ETUDE_TIMELINE_MAX_COUNT_IN 16u
#define ETUDE_TIMELINE_MAX_PASSES 10000u

typedef struct etude_timeline {
    int count_in;      /* bars 0..16; -1: as the material says */
    char loop[128];    /* "A-B", "A", "LABEL" (its section), "LABEL-LABEL"; "": none */
    int32_t loops;     /* passes 1..10000, 0: for ever; -1: as the material says (once by default) */
    char start[128];   /* a bar (1-based) or a label; "": the loop's first bar */
    bool trainer;
    double start_bpm, step_bpm, target_bpm;
    uint32_t every;    /* passes at each tempo */
} etude_timeline_t;

/* Nothing set: the material as it is. */
void etude_timeline_init(etude_timeline_t *t);
bool etude_timeline_empty(const etude_timeline_t *t);

/* The flags' values, checked for form (bars and labels are checked against the material later, by
 * etude_timeline_resolve()). Each names its flag in err: "--loop '8-5': the loop ends (bar 5)
 * before it starts (bar 8)". */
int etude_timeline_set_count_in(etude_timeline_t *t, const char *text, char *err, size_t len);
int etude_timeline_set_loop(etude_timeline_t *t, const char *text, char *err, size_t len);
int etude_timeline_set_loops(etude_timeline_t *t, const char *text, char *err, size_t len);
int etude_timeline_set_start(etude_timeline_t *t, const char *text, char *err, size_t len);
/* "START:STEP:EVERY:TARGET": bpm, bpm added, passes at each tempo, bpm (START <= TARGET). */
int etude_timeline_set_trainer(etude_timeline_t *t, const char *text, char *err, size_t len);
/* Whether the flags go together (--loops with --trainer does not: the trainer decides the passes). */
int etude_timeline_check(const etude_timeline_t *t, char *err, size_t len);

/* The timeline's bars in material of `bars` bars (UINT32_MAX: endless), labels looked up in map
 * (NULL: the material has none; a label is then refused). A label names its entry's first bar, and
 * as a loop the section it begins, up to the next labelled entry. */
typedef struct etude_timeline_bars {
    bool loop;         /* a --loop was given */
    uint32_t from, to; /* 1-based, inclusive; to == UINT32_MAX: to the (endless) end */
    uint32_t start;    /* 1-based, from..to */
} etude_timeline_bars_t;
int etude_timeline_resolve(const etude_timeline_t *t, const etude_tempomap_t *map, uint32_t bars,
                           etude_timeline_bars_t *out, char *err, size_t len);

/* The passes the timeline plays (0: for ever) and, for the trainer, the tempo of pass k in quarter
 * notes per minute. */
uint32_t etude_timeline_passes(const etude_timeline_t *t);
double etude_timeline_pass_bpm(const etude_timeline_t *t, uint32_t k);

/* A tempo map that plays map's timeline: count-in, the first pass from bar b->start, the other
 * passes from b->from, each to b->to (for ever: the first pass, then one more to loop over when the
 * first starts past b->from). *out is destroyed with etude_tempomap_destroy(); *loop_bar gets the
 * 0-based bar of *out where the looped pass starts (UINT64_MAX when the timeline ends by itself):
 * the caller loops from there to the end of *out. name names the map in messages. */
int etude_timeline_map(const etude_tempomap_t *map, const etude_timeline_t *t, const etude_timeline_bars_t *b,
                       const char *name, etude_tempomap_t **out, uint64_t *loop_bar, char *err, size_t len);

/* Where the bars of etude_timeline_map()'s map come from, for voices keyed by the material's bars
 * (a drone's changes): etude_timeline_bar_of(layout, k) is the 0-based bar of the material that bar
 * k (0-based) of the rewritten map plays. Count-in bars play the first bar played (b->start). */
typedef struct etude_timeline_layout {
    uint32_t count_in;       /* count-in bars, first */
    uint32_t start, from, to; /* as etude_timeline_bars_t (to == UINT32_MAX: endless) */
} etude_timeline_layout_t;
void etude_timeline_layout(const etude_timeline_t *t, const etude_timeline_bars_t *b, etude_timeline_layout_t *out);
/* layout points to an etude_timeline_layout_t (void: a drone source's bar map, etude_drone.h). */
uint64_t etude_timeline_bar_of(const void *layout, uint64_t bar);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_TIMELINE_H */
