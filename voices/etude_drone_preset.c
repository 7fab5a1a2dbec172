/* etude_drone_preset.c - the preset kind "drone": a sustained pitch through the bars of the voice
 * before it that has bars (the practice, or a click voice's tempo map), changing note at given bars
 * or at the map's labels. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_drone.h"
#include "etude_practice.h"
#include "etude_preset_kinds.h"

/* "A3", "C#4", "Bb2" -> MIDI key (C4 = 60); -1 if not a note name. */
static int note_key(const char *s)
{
    static const int base[] = {9, 11, 0, 2, 4, 5, 7}; /* A B C D E F G */
    if (s[0] < 'A' || s[0] > 'G')
        return -1;
    int k = base[s[0] - 'A'];
    s++;
    if (*s == '#')
        k++, s++;
    else if (*s == 'b')
        k--, s++;
    char *end;
    long oct = strtol(s, &end, 10);
    if (end == s || *end || oct < -1 || oct > 9)
        return -1;
    k += (int)(oct + 1) * 12;
    return k >= 0 && k <= 127 ? k : -1;
}

#define MAX_CHANGES 10000

typedef struct drone_change_cfg {
    uint64_t bar; /* 0-based */
    double key;   /* MIDI key, or -1: silent */
} drone_change_cfg_t;

typedef struct drone_preset {
    etude_drone_config_t dc;
    /* The tempo map of the click voice the drone follows (borrowed: it lives in that voice's config,
     * freed with the same preset), or NULL: it follows the practice. */
    const etude_tempomap_t *map;
    drone_change_cfg_t *changes;
    size_t nchanges;
} drone_preset_t;

static void drone_preset_free(void *config)
{
    drone_preset_t *c = config;
    if (c)
        free(c->changes);
    free(c);
}

/* A note field: a name, a MIDI key or (if off_ok) "off" (*key = -1). */
static int parse_note(const etude_preset_ctx_t *ctx, const char *field, int sub, const cJSON *note, bool off_ok,
                      double *key)
{
    int k = cJSON_IsString(note) ? note_key(note->valuestring) : -1;
    if (k >= 0)
        *key = k;
    else if (cJSON_IsNumber(note) && note->valuedouble >= 0 && note->valuedouble <= 127)
        *key = note->valuedouble;
    else if (off_ok && cJSON_IsString(note) && !strcmp(note->valuestring, "off"))
        *key = -1;
    else if (off_ok)
        return etude_preset_error(ctx, field, sub, "note: expected a note name such as \"A3\" or \"F#2\", a MIDI key "
                                  "0..127, or \"off\" (silent until the next change)");
    else
        return etude_preset_error(ctx, field, sub, "expected a note name such as \"A3\" or \"F#2\", or a MIDI key 0..127");
    return 0;
}

/* "changes": [{"at": BAR | "LABEL", "note": NOTE | "off"}, ...], in ascending bars. */
static int parse_changes(const etude_preset_ctx_t *ctx, const cJSON *ch, drone_preset_t *c, uint64_t known)
{
    int n = cJSON_GetArraySize(ch);
    if (!cJSON_IsArray(ch) || n < 1 || n > MAX_CHANGES)
        return etude_preset_error(ctx, "changes", -1, "expected an array of 1 to %d changes "
                                  "{\"at\": BAR or \"LABEL\", \"note\": NOTE or \"off\"}", MAX_CHANGES);
    if (!(c->changes = calloc((size_t)n, sizeof *c->changes)))
        return ETUDE_ENOMEM;
    uint64_t bars = c->map ? etude_tempomap_bar_count(c->map) : known ? known : ETUDE_PRACTICE_MAX_BARS;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ch) {
        if (!cJSON_IsObject(it))
            return etude_preset_error(ctx, "changes", i, "expected {\"at\": BAR or \"LABEL\", \"note\": NOTE or \"off\"}");
        const cJSON *f;
        cJSON_ArrayForEach(f, it) {
            if (strcmp(f->string, "at") && strcmp(f->string, "note"))
                return etude_preset_error(ctx, "changes", i, "unknown field '%.40s' (a change has: at, note)", f->string);
        }
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "at");
        const cJSON *note = cJSON_GetObjectItemCaseSensitive(it, "note");
        if (!at || !note)
            return etude_preset_error(ctx, "changes", i, "missing '%s' (a change has: at, note)", at ? "note" : "at");
        drone_change_cfg_t *d = &c->changes[i];
        if (cJSON_IsNumber(at)) {
            if (at->valuedouble != floor(at->valuedouble) || !(at->valuedouble >= 1) || at->valuedouble > (double)bars)
                return etude_preset_error(ctx, "changes", i, "at: expected a bar number from 1 to %llu (%s)",
                                          (unsigned long long)bars, c->map ? "the bars of the click voice's map"
                                          : known ? "the practice's bars" : "bars");
            d->bar = (uint64_t)at->valuedouble - 1;
        } else if (cJSON_IsString(at) && c->map) {
            size_t e = 0, ne = etude_tempomap_entry_count(c->map);
            while (e < ne && strcmp(etude_tempomap_entry(c->map, e)->label, at->valuestring))
                e++;
            if (e == ne || !at->valuestring[0])
                return etude_preset_error(ctx, "changes", i, "at: no line of the tempo map is labelled '%.40s'",
                                          at->valuestring);
            d->bar = etude_tempomap_entry(c->map, e)->first_bar;
        } else {
            return etude_preset_error(ctx, "changes", i, "at: expected a bar number%s", c->map
                                      ? " (1 is the map's first bar) or a label of the tempo map"
                                      : " (1 is the first bar; labels name the lines of a click voice's tempo map)");
        }
        if (i > 0 && d->bar <= c->changes[i - 1].bar)
            return etude_preset_error(ctx, "changes", i, "at: bar %llu does not come after the previous change's bar "
                                      "%llu (list changes in the order they are played)",
                                      (unsigned long long)d->bar + 1, (unsigned long long)c->changes[i - 1].bar + 1);
        int rc = parse_note(ctx, "changes", i, note, true, &d->key);
        if (rc)
            return rc;
        c->nchanges = (size_t)++i;
    }
    return 0;
}

static int drone_parse(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config)
{
    drone_preset_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_ENOMEM;
    etude_drone_config_default(&c->dc);
    /* The clock: the first voice before this one that has bars. */
    bool clock = false;
    uint64_t bars = 0; /* a practice's bars, when known at load */
    for (size_t i = 0; ctx->preset && i < etude_preset_voice_count(ctx->preset) && !clock; i++) {
        const etude_preset_voice_t *v = etude_preset_voice(ctx->preset, i);
        if (!strcmp(v->kind->kind, "practice") || !strcmp(v->kind->kind, "midi")) {
            clock = true;
            bars = v->kind->bars ? v->kind->bars(v->config) : 0;
        }
        else if (v->kind->tempomap && (c->map = v->kind->tempomap(v->config)))
            clock = true;
    }
    int rc = 0;
    if (!clock)
        rc = etude_preset_error(ctx, NULL, -1, "a drone follows the bars of a practice (or midi) voice, or a click "
                                "voice's tempo map: list one before it");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(obj, "note");
    if (!rc && note)
        rc = parse_note(ctx, "note", -1, note, false, &c->dc.key);
    if (!rc)
        rc = etude_preset_json_number(ctx, obj, "cents", "cents", -100, 100, false, &c->dc.cents);
    if (!rc)
        rc = etude_preset_json_number(ctx, obj, "a4", "a4", 400, 480, false, &c->dc.a4_hz);
    double level = c->dc.level;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "level", "level", 0, 1, false, &level)))
        c->dc.level = (float)level;
    const cJSON *wave = cJSON_GetObjectItemCaseSensitive(obj, "wave");
    if (!rc && wave) {
        if (cJSON_IsString(wave) && !strcmp(wave->valuestring, "sine"))
            c->dc.wave = ETUDE_DRONE_SINE;
        else if (cJSON_IsString(wave) && !strcmp(wave->valuestring, "organ"))
            c->dc.wave = ETUDE_DRONE_ORGAN;
        else
            rc = etude_preset_error(ctx, "wave", -1, "expected \"sine\" or \"organ\"");
    }
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(obj, "changes");
    if (!rc && ch)
        rc = parse_changes(ctx, ch, c, bars);
    if (rc) {
        drone_preset_free(c);
        return rc;
    }
    *config = c;
    return 0;
}

/* The pitch of a key in c's tuning; 0 for a silent change. */
static double key_hz(const drone_preset_t *c, double key)
{
    if (key < 0)
        return 0;
    etude_drone_config_t dc = c->dc;
    dc.key = key;
    return etude_drone_hz(&dc);
}

/* The practice's bar events of a drone with changes: its pitch then a note-on, or a note-off. */
static size_t practice_bar_events(uint32_t bar, void *user, etude_event_t *out, size_t max)
{
    const drone_preset_t *c = user;
    double key = c->dc.key;
    for (size_t i = 0; i < c->nchanges && c->changes[i].bar <= bar; i++)
        key = c->changes[i].key;
    if (max < 2)
        return 0;
    memset(out, 0, 2 * sizeof *out);
    if (key < 0) {
        out[0].kind = ETUDE_EV_NOTE_OFF;
        return 1;
    }
    out[0].kind = ETUDE_EV_PARAM;
    out[0].u.param.id = ETUDE_DRONE_PARAM_HZ;
    out[0].u.param.value = (float)key_hz(c, key);
    out[1].kind = ETUDE_EV_NOTE_ON;
    out[1].u.note.velocity = 100;
    return 2;
}

/* The source of a drone under its click voice's map: the starting note at bar 0, then the changes
 * (one at bar 1 replaces it). */
static int map_source_create(const drone_preset_t *c, uint32_t rate, void **src)
{
    etude_drone_change_t *ch = calloc(c->nchanges + 1, sizeof *ch);
    if (!ch)
        return ETUDE_ENOMEM;
    size_t n = 0;
    ch[n++] = (etude_drone_change_t){0, key_hz(c, c->dc.key)};
    for (size_t i = 0; i < c->nchanges; i++) {
        if (c->changes[i].bar == 0)
            n = 0;
        ch[n++] = (etude_drone_change_t){c->changes[i].bar, key_hz(c, c->changes[i].key)};
    }
    int rc = etude_drone_map_source_create(c->map, rate, ch, n, src);
    free(ch);
    return rc;
}

/* The same source over a rewrite of the map it follows (etude_preset_kind_t.map_source). */
static int drone_map_source(const void *config, const etude_tempomap_t *base, const etude_tempomap_t *map,
                            const struct etude_drone_bar_map *bars, uint32_t rate, const etude_source_class_t **cls,
                            void **src)
{
    const drone_preset_t *c = config;
    *src = NULL;
    if (!c->map || c->map != base)
        return ETUDE_EUNSUPPORTED;
    int rc = map_source_create(c, rate, src);
    if (rc == 0 && (rc = etude_drone_map_source_remap(*src, map, bars)) < 0) {
        etude_drone_map_source_free(*src);
        *src = NULL;
    }
    if (rc == 0)
        *cls = &etude_drone_map_source_class;
    return rc;
}

static int drone_instantiate(void *config, const etude_preset_env_t *env, etude_voice_id_t *out, char *err,
                             size_t errsize)
{
    drone_preset_t *c = config;
    etude_practice_t *p = c->map ? NULL : etude_preset_env_practice(env);
    if (!c->map && !p) {
        snprintf(err, errsize, "voice '%s': a drone follows the bars of a practice voice; list one before it", env->name);
        return ETUDE_ESTATE;
    }
    if (p && c->nchanges && c->changes[c->nchanges - 1].bar >= etude_practice_bars(p)) {
        snprintf(err, errsize, "voice '%s': changes[%zu].at: bar %llu is past the last bar (%u)", env->name,
                 c->nchanges - 1, (unsigned long long)c->changes[c->nchanges - 1].bar + 1, etude_practice_bars(p));
        return ETUDE_EINVAL;
    }
    etude_drone_t *d = etude_drone_create(&c->dc);
    int rc = d ? etude_voice_add(env->engine, &etude_drone_class, d, env->name, out) : ETUDE_ENOMEM;
    if (rc) {
        etude_drone_free(d);
        snprintf(err, errsize, "voice '%s': cannot add: %s", env->name, etude_strerror(rc));
        return rc;
    }
    if (c->map) {
        void *src = NULL;
        rc = map_source_create(c, env->rate, &src);
        if (rc == 0 && (rc = etude_sequencer_add_source(env->seq, &etude_drone_map_source_class, src, *out, NULL)))
            etude_drone_map_source_free(src);
        if (rc)
            snprintf(err, errsize, "voice '%s': cannot add its source: %s", env->name, etude_strerror(rc));
        return rc;
    }
    void *src;
    if (c->nchanges) {
        src = etude_practice_bar_events_source(p, practice_bar_events, c);
    } else {
        etude_event_t on = {.kind = ETUDE_EV_NOTE_ON};
        on.u.note.velocity = 100;
        src = etude_practice_bar_source(p, &on);
    }
    rc = src ? etude_sequencer_add_source(env->seq, &etude_practice_source_class, src, *out, NULL) : ETUDE_ENOMEM;
    if (rc) {
        etude_practice_source_class.destroy(src);
        snprintf(err, errsize, "voice '%s': cannot add its source: %s", env->name, etude_strerror(rc));
    }
    return rc;
}

static const char *const drone_fields[] = {"note", "cents", "a4", "wave", "level", "changes", NULL};

const etude_preset_kind_t etude_preset_kind_drone = {
    .kind = "drone",
    .fields = drone_fields,
    .parse = drone_parse,
    .instantiate = drone_instantiate,
    .tempomap = NULL,
    .free = drone_preset_free,
    .map_source = drone_map_source,
};
