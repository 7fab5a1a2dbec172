/* etude_timing.h - MIDI note timing analysis: each note's offset from the nearest click of a grid,
 * summarised as notes played, mean, standard deviation and the shares within +-10 ms and +-25 ms.
 *
 * The grid is a sorted list of material frames (the clicks the player hears). A note at material
 * frame p is matched to the grid frame g nearest to it (the earlier one on a tie) and its offset is
 * (p - g) / rate in milliseconds: positive when the note is late. The standard deviation is the
 * population one (divided by the note count), so one note gives 0. A share counts |offset| <= the
 * bound.
 *
 * Threads: [control]. One analyser is used by one thread at a time.
 */
#ifndef ETUDE_TIMING_H
#define ETUDE_TIMING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_timing etude_timing_t;

typedef struct etude_timing_result {
    uint64_t notes;     /* notes analysed */
    double mean_ms;     /* mean offset, ms (0 with no notes) */
    double sd_ms;       /* population standard deviation, ms */
    double within_10ms; /* share of notes with |offset| <= 10 ms, 0..1 */
    double within_25ms; /* share with |offset| <= 25 ms */
} etude_timing_result_t;

/* @startlifecycle timing
 * [control] sample_rate > 0 (ETUDE_EINVAL otherwise). Destroy with etude_timing_destroy(). */
int etude_timing_create(uint32_t sample_rate, etude_timing_t **out);
/* [control] NULL accepted. */
void etude_timing_destroy(etude_timing_t *timing);
/* @endlifecycle */

/* [control] Replace the grid by a copy of frames[0..n), which must be non-decreasing
 * (ETUDE_EINVAL otherwise; the old grid stays). The figures so far are kept. */
int etude_timing_set_grid(etude_timing_t *timing, const uint64_t *frames, size_t n);
/* [control] Grid points held. */
size_t etude_timing_grid_size(const etude_timing_t *timing);

/* [control] Analyse a note at material frame pos: adds it to the figures and writes its offset in
 * ms to *offset_ms (may be NULL). ETUDE_ESTATE when the grid is empty (nothing is counted). */
int etude_timing_note(etude_timing_t *timing, uint64_t pos, double *offset_ms);

/* [control] Add a note whose offset the caller computed (e.g. against an external beat grid). */
void etude_timing_add_offset(etude_timing_t *timing, double offset_ms);

/* [control] The figures so far. */
void etude_timing_result(const etude_timing_t *timing, etude_timing_result_t *out);
/* [control] Forget the figures (the grid stays). */
void etude_timing_reset(etude_timing_t *timing);

/* [any] The figures as the bus payload of session/timing:
 * {"notes":N,"mean_ms":M,"sd_ms":S,"within_10ms":A,"within_25ms":B}. Returns the length written
 * (as snprintf), truncated to len. */
int etude_timing_json(const etude_timing_result_t *res, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_TIMING_H */
