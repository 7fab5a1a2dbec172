/* etude_drone_preset.c - the preset kind "drone": a sustained pitch through every bar of the
 * practice. */
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

static int drone_parse(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config)
{
    etude_drone_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_ENOMEM;
    etude_drone_config_default(c);
    int rc = 0;
    if (!etude_preset_json_has_clock(ctx))
        rc = etude_preset_error(ctx, NULL, -1, "a drone follows the bars of a practice (or midi) voice: list one before it");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(obj, "note");
    if (!rc && note) {
        int k = cJSON_IsString(note) ? note_key(note->valuestring) : -1;
        if (k >= 0)
            c->key = k;
        else if (cJSON_IsNumber(note) && note->valuedouble >= 0 && note->valuedouble <= 127)
            c->key = note->valuedouble;
        else
            rc = etude_preset_error(ctx, "note", -1, "expected a note name such as \"A3\" or \"F#2\", or a MIDI key 0..127");
    }
    if (!rc)
        rc = etude_preset_json_number(ctx, obj, "cents", "cents", -100, 100, false, &c->cents);
    if (!rc)
        rc = etude_preset_json_number(ctx, obj, "a4", "a4", 400, 480, false, &c->a4_hz);
    double level = c->level;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "level", "level", 0, 1, false, &level)))
        c->level = (float)level;
    const cJSON *wave = cJSON_GetObjectItemCaseSensitive(obj, "wave");
    if (!rc && wave) {
        if (cJSON_IsString(wave) && !strcmp(wave->valuestring, "sine"))
            c->wave = ETUDE_DRONE_SINE;
        else if (cJSON_IsString(wave) && !strcmp(wave->valuestring, "organ"))
            c->wave = ETUDE_DRONE_ORGAN;
        else
            rc = etude_preset_error(ctx, "wave", -1, "expected \"sine\" or \"organ\"");
    }
    if (rc) {
        free(c);
        return rc;
    }
    *config = c;
    return 0;
}

static int drone_instantiate(void *config, const etude_preset_env_t *env, etude_voice_id_t *out, char *err,
                             size_t errsize)
{
    etude_practice_t *p = etude_preset_env_practice(env);
    if (!p) {
        snprintf(err, errsize, "voice '%s': a drone follows the bars of a practice voice; list one before it", env->name);
        return ETUDE_ESTATE;
    }
    etude_drone_t *d = etude_drone_create(config);
    int rc = d ? etude_voice_add(env->engine, &etude_drone_class, d, env->name, out) : ETUDE_ENOMEM;
    if (rc) {
        etude_drone_free(d);
        snprintf(err, errsize, "voice '%s': cannot add: %s", env->name, etude_strerror(rc));
        return rc;
    }
    etude_event_t on = {.kind = ETUDE_EV_NOTE_ON};
    on.u.note.velocity = 100;
    void *src = etude_practice_bar_source(p, &on);
    rc = src ? etude_sequencer_add_source(env->seq, &etude_practice_source_class, src, *out, NULL) : ETUDE_ENOMEM;
    if (rc) {
        etude_practice_source_class.destroy(src);
        snprintf(err, errsize, "voice '%s': cannot add its source: %s", env->name, etude_strerror(rc));
    }
    return rc;
}

static const char *const drone_fields[] = {"note", "cents", "a4", "wave", "level", NULL};

const etude_preset_kind_t etude_preset_kind_drone = {
    .kind = "drone",
    .fields = drone_fields,
    .parse = drone_parse,
    .instantiate = drone_instantiate,
    .tempomap = NULL,
    .free = free,
};
