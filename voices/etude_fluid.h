/* etude_fluid.h - the FluidSynth voice: a SoundFont instrument played by note events from the
 * scheduled-event table.
 *
 * Each voice owns one FluidSynth synth, created with synth.threadsafe-api 0 (no mutex on the
 * audio path), synth.dynamic-sample-loading 0 (every sample is in memory after prepare) and no
 * audio driver: the engine's audio thread calls fluid_synth_write_float() into buffers allocated at
 * prepare, and delivers note events to the synth between those calls.
 *
 * Onset accuracy: FluidSynth renders in blocks of 64 frames and applies events at block
 * boundaries, so a note starts up to 63 frames after the frame it was scheduled for. That is the
 * accepted bound for this voice (other voices are sample-accurate).
 *
 * Events handled: ETUDE_EV_NOTE_ON / NOTE_OFF (u.note), ETUDE_EV_ALL_NOTES_OFF (sustain and
 * sostenuto are lifted first, so nothing keeps sounding), ETUDE_EV_PARAM with
 * u.param.id = ETUDE_MIDI_PARAM_ID(status, d1) (etude_midifile.h): control change, program change
 * (ignored when the voice was given a program), pitch bend, channel pressure.
 */
#ifndef ETUDE_FLUID_H
#define ETUDE_FLUID_H

#include <stdbool.h>
#include <stddef.h>

#include "etude_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_fluid etude_fluid_t;

typedef struct etude_fluid_config {
    const char *soundfont; /* path; NULL or "" = etude_fluid_default_soundfont() */
    int bank;              /* 0..16383 */
    int program;           /* 0..127 applied to every channel at prepare; -1 keeps the file's / GM default */
    int polyphony;         /* FluidSynth voices; 0 = FluidSynth's default (256) */
    bool effects;          /* FluidSynth's reverb and chorus; off by default, see below */
} etude_fluid_config_t;

/* [any] Defaults: default SoundFont, bank 0, program -1, polyphony 0, effects off.
 * Effects are off by default because Debian 12's FluidSynth 2.3 mixes its effects inside an OpenMP
 * parallel region on every fluid_synth_write_float(), and libgomp allocates and frees its thread
 * team there: with effects on, the audio thread allocates once per period (the rt_safety tests show
 * it). With them off, nothing on the audio path allocates. Offline renders may turn them on; a
 * "midi" preset voice with "effects": true is refused by etude_preset_check_realtime(). */
void etude_fluid_config_default(etude_fluid_config_t *cfg);

/* [control] The first SoundFont found at Debian's standard paths (/usr/share/sounds/sf2/
 * TimGM6mb.sf2, FluidR3_GM.sf2, default-GM.sf2), or NULL when none is installed. Static string. */
const char *etude_fluid_default_soundfont(void);

/* [control] Check that path names a readable SoundFont 2 file (RIFF 'sfbk'), without loading it.
 * Returns 0, ETUDE_EIO (cannot be opened) or ETUDE_EPARSE (not a SoundFont); err (may be NULL)
 * gets a one-line reason. */
int etude_fluid_check_soundfont(const char *path, char *err, size_t errlen);

/* @startlifecycle fluid
 * [control] Create a voice object (nothing loaded yet: the SoundFont is loaded by the class's
 * prepare(), called by etude_voice_add()). cfg is copied. Returns NULL when out of memory.
 * Hand it to etude_voice_add(engine, &etude_fluid_class, fluid, name, &id); on success the engine
 * owns it. If it was never added (or adding failed), free it with etude_fluid_free(). */
etude_fluid_t *etude_fluid_create(const etude_fluid_config_t *cfg);
void etude_fluid_free(etude_fluid_t *fluid);
/* @endlifecycle */

/* [control] Why the last prepare() failed (one line), or "" . Valid until the voice is freed. */
const char *etude_fluid_error(const etude_fluid_t *fluid);

/* [any] FluidSynth voices sounding now (a relaxed read of a counter the audio thread updates
 * after every render). */
int etude_fluid_active_voices(const etude_fluid_t *fluid);

/* [control] The class: prepare loads the SoundFont, render runs the synth. */
extern const etude_voice_class_t etude_fluid_class;

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_FLUID_H */
