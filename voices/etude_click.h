/* etude_click.h - the click: a voice that plays an accent or a normal sound at each click event, and
 * the sequencer source that lays a tempo map's beats out as click events.
 *
 * Sounds are built in (generated when the voice is created, at the engine's rate) or read from the
 * user's sample files with libsndfile (mixed to mono, resampled with libsamplerate when the file's
 * rate differs). Each sound starts at full level on its first frame, so a click's onset is the very
 * frame of its event.
 */
#ifndef ETUDE_CLICK_H
#define ETUDE_CLICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_engine.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which pattern beats sound accented (klick's -e / -E). */
enum etude_click_emphasis {
    ETUDE_CLICK_EMPHASIS_PATTERN = 0, /* as the pattern says */
    ETUDE_CLICK_EMPHASIS_NONE = 1,    /* every click normal */
    ETUDE_CLICK_EMPHASIS_ALL = 2      /* every click accented */
};

#define ETUDE_CLICK_MAX_SAMPLE_SECONDS 10.0 /* longest sample file accepted */

typedef struct etude_click_config {
    const char *sound;       /* a built-in sound name (etude_click_builtin_names), used when
                              * normal_file is NULL; NULL means "beep" */
    const char *normal_file; /* sample file for normal clicks, or NULL */
    const char *accent_file; /* sample file for accented clicks; NULL: normal_file's sound */
    float accent_gain;       /* linear level of accented clicks, default 1.0 */
    float normal_gain;       /* linear level of normal clicks, default 1.0 */
    int emphasis;            /* enum etude_click_emphasis */
} etude_click_config_t;

/* [any] Defaults: "beep", both gains 1, emphasis from the pattern. */
void etude_click_config_default(etude_click_config_t *cfg);

/* [any] The built-in sound names, NULL-terminated, and whether name is one of them. */
extern const char *const etude_click_builtin_names[];
bool etude_click_builtin_exists(const char *name);

/* @startlifecycle click voice
 * [control] Create a click voice object for the voice class etude_click_voice_class, its sounds
 * made or loaded for rate. On failure returns a negative ETUDE_E* and writes one line naming the file
 * at fault to err ("snare.wav: cannot open: ..."). The object is handed to etude_voice_add(), which
 * then owns it (the class's dispose frees it); if that fails, free it with etude_click_free(). */
int etude_click_create(const etude_click_config_t *cfg, uint32_t rate, void **out, char *err,
                       size_t errsize);
void etude_click_free(void *click);
/* @endlifecycle */

/* [any] The voice class (kind "click", mono); its callbacks run on the threads the engine names. Events: ETUDE_EV_CLICK (u.click.level, u.click.gain) starts
 * a sound at its frame; ETUDE_EV_ALL_NOTES_OFF fades every sounding click out within 1 ms. */
extern const etude_voice_class_t etude_click_voice_class;

/* [control] The length in frames of the longer of the voice's two sounds. */
uint32_t etude_click_sound_frames(const void *click);

/* [audio] Render one sound into a buffer without an engine, for tests: level ETUDE_CLICK_ACCENT or
 * ETUDE_CLICK_NORMAL. Returns the sound's frames (copies at most max). */
uint32_t etude_click_copy_sound(const void *click, int level, float *out, uint32_t max);

/* @startlifecycle click source
 * [control] A sequencer source playing map at rate: one ETUDE_EV_CLICK per sounding beat, at
 * material position floor(seconds * rate), with u.click.level from the pattern and u.click.gain the
 * entry's volume. map is borrowed: it must outlive the source. The sequencer owns the source once
 * added (etude_click_source_class.destroy frees it); otherwise free it with etude_click_source_free(). */
int etude_click_source_create(const etude_tempomap_t *map, uint32_t rate, void **out);
void etude_click_source_free(void *source);
/* @endlifecycle */

extern const etude_source_class_t etude_click_source_class;

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_CLICK_H */
