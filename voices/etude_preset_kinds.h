/* etude_preset_kinds.h - the voice kinds of presets and what their JSON parsers share.
 *
 * Each kind's preset half (its fields, parse, instantiate) lives in a file of its own next to its
 * DSP: etude_click_preset.c, etude_practice_preset.c, etude_midi_preset.c (FluidSynth playing a
 * MIDI file), etude_drone_preset.c, etude_sample_preset.c. The DSP files know nothing of JSON or of
 * presets; the preset files know the DSP only through its public header. The loader
 * (etude_preset.c) lists the kinds declared here in its kind table, and a new kind is declared here
 * and defined in its own file.
 *
 * Threads: everything here is [control].
 */
#ifndef ETUDE_PRESET_KINDS_H
#define ETUDE_PRESET_KINDS_H

#include <stdbool.h>

#include "etude_preset.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const etude_preset_kind_t etude_preset_kind_click;    /* etude_click_preset.c */
extern const etude_preset_kind_t etude_preset_kind_practice; /* etude_practice_preset.c */
extern const etude_preset_kind_t etude_preset_kind_midi;     /* etude_midi_preset.c */
extern const etude_preset_kind_t etude_preset_kind_drone;    /* etude_drone_preset.c */
extern const etude_preset_kind_t etude_preset_kind_sample;   /* etude_sample_preset.c */

/* The practice one instantiation's voices share (etude_preset_instantiate_practice()): a "practice"
 * voice creates it (it must come before the others); without one, the first "midi" voice creates a
 * practice of its file played once as written. "drone" and "sample" voices need one (they take their
 * bars and length from it). It is held in env->practice, owned by the caller of the instantiation:
 * nothing is kept per process or per sequencer. */

/* [control] The instantiation's practice, or NULL. Borrowed. */
struct etude_practice *etude_preset_env_practice(const etude_preset_env_t *env);
/* [control] The practice config of a voice instantiated in env: cfg (NULL: the defaults) with the
 * instantiation's override (etude_preset_set_practice_override()) applied. */
struct etude_practice_config;
void etude_preset_env_practice_config(const etude_preset_env_t *env, const struct etude_practice_config *cfg,
                                      struct etude_practice_config *out);
/* [control] Make p the instantiation's practice (takes a reference, handed to the caller of
 * etude_preset_instantiate_practice()). ETUDE_ESTATE if it already has one. */
int etude_preset_env_set_practice(const etude_preset_env_t *env, struct etude_practice *p);

/* [control] Helpers for the kinds' parse(): read an optional number field name of obj into *out when
 * present, refusing a wrong type or a value outside [min, max] (integer: whole numbers only) with
 * etude_preset_error(). field is what messages call it; it may be "a.b" for a member of a sub-object
 * (then obj is the sub-object). Each returns 0 when the field is absent. */
int etude_preset_json_number(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name, const char *field,
                             double min, double max, bool integer, double *out);
int etude_preset_json_bool(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name, const char *field,
                           bool *out);
/* A file name field, resolved against the preset's folder; *out is malloc'd (NULL if absent). */
int etude_preset_json_file(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name, const char *field,
                           char **out);
/* Refuses members of the sub-object obj (called field in messages) other than those in allowed
 * (NULL-terminated); list is how the message names them. */
int etude_preset_json_only(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *field,
                           const char *const *allowed, const char *list);
/* Whether a voice listed before the one being parsed creates the practice (kind "practice" or
 * "midi"), so a drone or sample voice can refuse at load time, with the file and line. */
bool etude_preset_json_has_clock(const etude_preset_ctx_t *ctx);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PRESET_KINDS_H */
