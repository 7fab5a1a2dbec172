/* etude_material.h - practice material given directly: what a file is (a preset, a Standard MIDI
 * File or a klick tempo map), a MIDI file as a preset of its own (one FluidSynth voice per part),
 * and a readable description of any of the three for `etude info`.
 *
 * Threads: every function is [control].
 */
#ifndef ETUDE_MATERIAL_H
#define ETUDE_MATERIAL_H

#include <stddef.h>

#include "etude_preset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum etude_material_kind {
    ETUDE_MATERIAL_PRESET = 1, /* anything else: a JSON preset */
    ETUDE_MATERIAL_MIDI,       /* a Standard MIDI File (its first bytes are "MThd") */
    ETUDE_MATERIAL_TEMPOMAP,   /* a klick tempo map: a file named *.map */
} etude_material_kind_t;

/* What path holds, from its first bytes. Returns 0 and *kind, or ETUDE_EIO with err naming the
 * file ("PATH: cannot read: ..."). */
int etude_material_kind(const char *path, etude_material_kind_t *kind, char *err, size_t errlen);

/* A MIDI file as a preset titled by its sequence name (etude_midifile_title()), else by its file
 * name: one "midi" voice per part, named after the part (or "part N"), on soundfont (NULL: the default SoundFont, etude_fluid_default_soundfont()).
 * Returns 0 and *out (etude_preset_destroy()), or a negative ETUDE_E* with err naming the file. */
int etude_material_midi_preset(const char *path, const char *soundfont, etude_preset_t **out, char *err,
                               size_t errlen);

/* A description of the material at path for people: a MIDI file's parts (names, channels, programs,
 * notes), bars, tempi and length; a preset's title and voices; a tempo map's bars, labels, tempi and
 * length. Returns 0 and *text (free()), or a negative ETUDE_E* with err naming the file. */
int etude_material_describe(const char *path, char **text, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_MATERIAL_H */
