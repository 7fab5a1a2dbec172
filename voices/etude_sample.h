/* etude_sample.h - the sample voice: a sound file played one-shot or looped on note events.
 *
 * The file is read whole with libsndfile by the class's prepare() on the control thread and, when
 * its rate differs from the engine's, converted there with libsamplerate, so the audio thread only
 * copies from memory. Mono files give a mono voice; stereo files keep two channels (further
 * channels are dropped).
 *
 * Events: ETUDE_EV_NOTE_ON and ETUDE_EV_TRIGGER start a playback (velocity / value scales it;
 * up to ETUDE_SAMPLE_POLYPHONY at once, the oldest is cut when more arrive). A one-shot plays to
 * its end; a looped sample plays until ETUDE_EV_NOTE_OFF or ETUDE_EV_ALL_NOTES_OFF, which end
 * every playback with a 5 ms fade.
 */
#ifndef ETUDE_SAMPLE_H
#define ETUDE_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ETUDE_SAMPLE_POLYPHONY 8

typedef struct etude_sample etude_sample_t;

typedef struct etude_sample_config {
    const char *path; /* the sound file (any format libsndfile reads) */
    bool loop;        /* loop until note-off instead of playing once */
    int key;          /* only note-ons of this key start it; -1 = any key */
} etude_sample_config_t;

/* @startlifecycle sample
 * [control] Create a voice object; the file is read by the class's prepare() (etude_voice_add()).
 * cfg is copied. NULL when out of memory. Once added the engine owns it; otherwise free it with
 * etude_sample_free(). */
etude_sample_t *etude_sample_create(const etude_sample_config_t *cfg);
void etude_sample_free(etude_sample_t *s);
/* @endlifecycle */

/* [control] Check that path is a sound file libsndfile can read, without loading it. 0 or
 * ETUDE_EIO; err (may be NULL) gets a one-line reason. */
int etude_sample_check_file(const char *path, char *err, size_t errlen);

/* [control] Why the last prepare() failed, or "". */
const char *etude_sample_error(const etude_sample_t *s);

/* [control] After prepare: frames held (at the engine's rate), channels (1 or 2), and the file's
 * own rate. */
uint64_t etude_sample_frames(const etude_sample_t *s);
int etude_sample_channels(const etude_sample_t *s);
uint32_t etude_sample_file_rate(const etude_sample_t *s);

/* The classes: etude_sample_class_mono for mono files (the engine pans them), _stereo otherwise.
 * etude_sample_class() picks the right one after etude_sample_probe(). */
extern const etude_voice_class_t etude_sample_class_mono;
extern const etude_voice_class_t etude_sample_class_stereo;

/* [control] Read the file's header (channels) so etude_sample_class() can choose; 0 or ETUDE_EIO. */
int etude_sample_probe(etude_sample_t *s);
const etude_voice_class_t *etude_sample_class(const etude_sample_t *s);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_SAMPLE_H */
