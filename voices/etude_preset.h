/* etude_preset.h - practice presets: a JSON file (presets/README.md, presets/preset.schema.json)
 * naming a title, render defaults and a list of voices, each of a kind ("click", ...).
 *
 * Extension point. Each voice kind is an etude_preset_kind_t, declared in etude_preset_kinds.h,
 * defined in its own etude_<kind>_preset.c (the JSON half of the kind; its DSP file holds no JSON)
 * and listed once, in the kind table at the top of etude_preset.c.
 * The loader handles the fields every voice has (kind, name, volume, pan, mute, solo) and refuses
 * unknown fields; the kind parses the rest and later adds its voice (and sources) to an engine.
 *
 * Threads: everything here is [control].
 */
#ifndef ETUDE_PRESET_H
#define ETUDE_PRESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "etude_engine.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_preset etude_preset_t;

/* Where a voice entry sits, handed to a kind's parse(). */
typedef struct etude_preset_ctx {
    const char *path;   /* the preset file as given, for messages */
    const char *dir;    /* directory that relative file names in the preset resolve against */
    const char *text;   /* the whole JSON text (line numbers for messages) */
    const char *key;    /* "voices" or "click": the top-level field holding the entry */
    int index;          /* index in "voices", or -1 for "click" */
    char *err;
    size_t errsize;
    const etude_preset_t *preset; /* the voices parsed before this one (etude_preset_voice()) */
} etude_preset_ctx_t;

/* What instantiate() adds voices to. */
struct etude_practice;

typedef struct etude_preset_env {
    etude_engine_t *engine;
    etude_sequencer_t *seq;
    uint32_t rate;
    const char *name; /* the voice's name */
    /* The practice the preset's voices share in this instantiation (one per instantiation, NULL until
     * a voice sets it: etude_preset_kinds.h, etude_preset_env_practice()/_set_practice()). */
    struct etude_practice **practice;
    /* What the front end says over the practice's config (count-in, loop, trainer), or NULL. */
    const struct etude_practice_override *override;
} etude_preset_env_t;

struct etude_drone_bar_map; /* etude_drone.h */

typedef struct etude_preset_kind {
    const char *kind;
    /* The kind's own fields (NULL-terminated); any other field besides the common ones is refused. */
    const char *const *fields;
    /* [control] Parse the kind's fields of obj into a new config. On error return ETUDE_EPARSE (etc.) after
     * etude_preset_error(). */
    int (*parse)(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config);
    /* [control] Add the voice (and its sources) to env->engine / env->seq; *out gets the voice handle.
     * On error, write one line to err. */
    int (*instantiate)(void *config, const etude_preset_env_t *env, etude_voice_id_t *out,
                       char *err, size_t errsize);
    /* [control] The tempo map the voice follows, if any (the first one drives the transport's bars). May be NULL. */
    const etude_tempomap_t *(*tempomap)(const void *config);
    /* [control] Free a config from parse(). */
    void (*free)(void *config);
    /* [control] Optional. NULL when the voice may play on a real-time thread (etude play); otherwise
     * one line naming the file, line and field that would break the audio thread's rules (allocate,
     * lock or block per period), valid while config lives. */
    const char *(*realtime_refusal)(const void *config);
    /* [control] Optional. A config of this kind that plays map (taken on success), for
     * etude_preset_from_tempomap(); NULL when out of memory. Only the "click" kind has it. */
    void *(*config_from_tempomap)(etude_tempomap_t *map);
    /* [control] Optional. How many bars the voice's material has, as known at load (0: not known
     * until instantiated), so a voice that follows it can check bar numbers with the line at fault. */
    uint64_t (*bars)(const void *config);
    /* [control] Optional. The voice's sequencer source over map, a rewrite of base (the preset's first
     * tempo map: other tempi, count-in bars, a loop unrolled) whose bar k is base's bar
     * bars->fn(bars->ctx, k); both maps are borrowed and must outlive the source. *cls gets its class:
     * the caller adds it to a sequencer for the voice or frees it with (*cls)->destroy.
     * ETUDE_EUNSUPPORTED when the voice does not follow base. Only the "drone" kind has it. */
    int (*map_source)(const void *config, const etude_tempomap_t *base, const etude_tempomap_t *map,
                      const struct etude_drone_bar_map *bars, uint32_t rate, const etude_source_class_t **cls,
                      void **src);
} etude_preset_kind_t;

/* [control] Write "PATH:LINE: KEY[INDEX].FIELD: message" to ctx->err, the line being where the field's value
 * (or its sub-item sub, when sub >= 0) is in the text. field may be NULL (the entry itself).
 * Returns ETUDE_EPARSE. */
int etude_preset_error(const etude_preset_ctx_t *ctx, const char *field, int sub, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* [any] The line (1-based) of the value at a path in JSON text: keys are strings, array indices are given
 * as "#N". Returns 0 if not found. Exposed for the kinds and tests. */
unsigned etude_json_line(const char *text, const char *const *path, size_t depth);

/* [control] Resolve a file name in a preset against ctx->dir; the result is malloc'd (NULL: out of memory). */
char *etude_preset_resolve(const etude_preset_ctx_t *ctx, const char *file);

typedef struct etude_preset_voice {
    char name[64];
    const etude_preset_kind_t *kind;
    void *config;
    float volume, pan;
    bool mute, solo;
} etude_preset_voice_t;

typedef struct etude_preset_render {
    uint32_t rate;         /* 0: not set */
    double duration;       /* seconds; 0: the material's length */
    double tail;           /* seconds rendered after the material's end */
    char sample_format[8]; /* "float", "pcm24", "pcm16", or "" (float WAV, 24-bit FLAC) */
} etude_preset_render_t;

/* @startlifecycle preset
 * [control] Load a preset file. On failure returns ETUDE_EIO / ETUDE_EPARSE / ETUDE_ENOMEM with one line in err
 * naming the file, line and field: "p.json:7: voices[0].volume: expected a number >= 0". */
int etude_preset_load(const char *path, etude_preset_t **out, char *err, size_t errsize);
/* [control] Parse preset text; path names it in messages and relative file names resolve against its directory. */
int etude_preset_parse(const char *text, size_t len, const char *path, etude_preset_t **out, char *err,
                       size_t errsize);
/* [control] A preset of one click voice playing map (taken over on success, freed with the preset; on failure
 * the caller keeps it); material names it
 * (the --click line or the map's path) and becomes its title. */
int etude_preset_from_tempomap(etude_tempomap_t *map, const char *material, etude_preset_t **out);
/* [control] Frees the configs. Voices already instantiated live on in their engine. NULL accepted. */
void etude_preset_destroy(etude_preset_t *preset);
/* @endlifecycle */

/* [control] Accessors; pointers stay valid while the preset lives. */
const char *etude_preset_title(const etude_preset_t *preset);
const etude_preset_render_t *etude_preset_render(const etude_preset_t *preset);
size_t etude_preset_voice_count(const etude_preset_t *preset);
const etude_preset_voice_t *etude_preset_voice(const etude_preset_t *preset, size_t i);
/* [control] The first voice's tempo map (drives the transport's bar messages), or NULL. Valid while the preset lives. */
const etude_tempomap_t *etude_preset_tempomap(const etude_preset_t *preset);

/* [control] Add every voice to the engine and sequencer (engine rate env->rate; env->name is ignored) and
 * apply volume, pan, mute and solo. ids (may be NULL) receives one handle per voice. The preset must
 * outlive the sequencer (sources borrow its tempo maps). On error, err names the voice at fault. */
int etude_preset_instantiate(const etude_preset_t *preset, etude_engine_t *engine,
                             etude_sequencer_t *seq, etude_voice_id_t *ids, char *err, size_t errsize);
/* [control] The same, handing over the practice the voices share (practice, midi, drone and sample
 * voices), or NULL when there is none: *practice holds a reference the caller drops with
 * etude_practice_unref() once done with it. */
int etude_preset_instantiate_practice(const etude_preset_t *preset, etude_engine_t *engine, etude_sequencer_t *seq,
                                      etude_voice_id_t *ids, struct etude_practice **practice, char *err,
                                      size_t errsize);

/* [control] Make later instantiations apply o (copied; NULL clears) over the practice config of
 * the preset's practice or midi voice (etude_practice.h): how a front end's --loop, --count-in and
 * --trainer override a preset. */
struct etude_practice_override;
int etude_preset_set_practice_override(etude_preset_t *preset, const struct etude_practice_override *o);

/* [control] Whether every voice of the preset may play on a real-time thread (etude play, etude's
 * JACK callback): 0, or ETUDE_EINVAL with the first voice's reason in err ("p.json:9:
 * voices[1].effects: ..."). etude render does not ask: its audio runs on no real-time thread. */
int etude_preset_check_realtime(const etude_preset_t *preset, char *err, size_t errsize);

/* [any] The kind table's lookup (NULL if unknown), and the kinds' names joined by ", " for messages. */
const etude_preset_kind_t *etude_preset_kind_find(const char *kind);
const char *etude_preset_kind_names(void);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PRESET_H */
