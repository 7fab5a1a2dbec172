/* etude_practice_preset.c - the preset kind "practice": the practice (tempo scale, loop, count-in,
 * trainer) over a MIDI file or fixed bars, and its click. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_click.h"
#include "etude_practice.h"
#include "etude_preset_kinds.h"

typedef struct practice_preset {
    char *midi;
    double tempo;
    uint32_t num, den, bars;
    etude_practice_config_t pc;
    char *sound;
    char *pattern; /* klick's beat pattern for the click, or NULL */
    bool beats;
    uint32_t bars_known; /* the material's bars, found when the practice was built at load */
} practice_preset_t;

static void practice_preset_free(void *config)
{
    practice_preset_t *c = config;
    if (!c)
        return;
    free(c->midi);
    free(c->sound);
    free(c->pattern);
    free(c);
}

/* Builds the practice a config describes (with pc for its practice config), at rate. err gets one line. */
static int practice_build(const practice_preset_t *c, const etude_practice_config_t *pc, uint32_t rate,
                          etude_practice_t **out, char *err, size_t errsize)
{
    if (c->midi) {
        etude_midifile_t *mf = NULL;
        etude_midifile_error_t me;
        int rc = etude_midifile_load(c->midi, &mf, &me);
        if (rc) {
            snprintf(err, errsize, "%s: %s", c->midi, me.message);
            return rc;
        }
        return etude_practice_create_midi(mf, pc, rate, out, err, errsize);
    }
    return etude_practice_create_fixed(c->tempo, c->num, c->den, c->bars, pc, rate, out, err, errsize);
}

static int parse_meter(const etude_preset_ctx_t *ctx, const cJSON *obj, uint32_t *num, uint32_t *den)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "meter");
    if (!m)
        return 0;
    unsigned a, b;
    char extra;
    if (!cJSON_IsString(m) || sscanf(m->valuestring, "%u/%u%c", &a, &b, &extra) != 2 || a < 1 || a > 64 ||
        (b != 1 && b != 2 && b != 4 && b != 8 && b != 16 && b != 32))
        return etude_preset_error(ctx, "meter", -1, "expected \"BEATS/DENOMINATOR\" such as \"4/4\" or \"7/8\"");
    *num = a;
    *den = b;
    return 0;
}

static int practice_parse(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config)
{
    practice_preset_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_ENOMEM;
    etude_practice_config_default(&c->pc);
    c->num = c->den = 4;
    c->bars = 0;
    c->beats = true;
    double v;
    int rc = etude_preset_json_file(ctx, obj, "midi", "midi", &c->midi);
    bool has_tempo = cJSON_GetObjectItemCaseSensitive(obj, "tempo") != NULL;
    if (!rc && c->midi && (has_tempo || cJSON_GetObjectItemCaseSensitive(obj, "meter") ||
                           cJSON_GetObjectItemCaseSensitive(obj, "bars")))
        rc = etude_preset_error(ctx, "midi", -1, "give 'midi' or 'tempo', 'meter' and 'bars', not both");
    if (!rc && !c->midi && !has_tempo)
        rc = etude_preset_error(ctx, NULL, -1, "missing 'midi' (a MIDI file) or 'tempo' (with 'bars')");
    if (!rc && !c->midi) {
        v = 0;
        if (!(rc = etude_preset_json_number(ctx, obj, "tempo", "tempo", 1, 1000, false, &v)))
            c->tempo = v;
        if (!rc)
            rc = parse_meter(ctx, obj, &c->num, &c->den);
        v = 0;
        if (!rc && !cJSON_GetObjectItemCaseSensitive(obj, "bars"))
            rc = etude_preset_error(ctx, NULL, -1, "missing 'bars' (how many bars of 'tempo' and 'meter')");
        if (!rc && !(rc = etude_preset_json_number(ctx, obj, "bars", "bars", 1, ETUDE_PRACTICE_MAX_BARS, true, &v)))
            c->bars = (uint32_t)v;
    }
    v = c->pc.tempo_scale;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "tempo_scale", "tempo_scale", 0.1, 4, false, &v)))
        c->pc.tempo_scale = v;
    v = 0;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "count_in", "count_in", 0, 16, true, &v)))
        c->pc.count_in = (uint32_t)v;
    if (!rc)
        rc = etude_preset_json_bool(ctx, obj, "beats", "beats", &c->beats);
    const cJSON *loop = cJSON_GetObjectItemCaseSensitive(obj, "loop");
    if (!rc && loop) {
        static const char *const lf[] = {"from_bar", "to_bar", "times", NULL};
        if (!cJSON_IsObject(loop))
            rc = etude_preset_error(ctx, "loop", -1, "expected {\"from_bar\": A, \"to_bar\": B, \"times\": N}");
        if (!rc)
            rc = etude_preset_json_only(ctx, loop, "loop", lf, "from_bar, to_bar, times");
        v = 0;
        if (!rc && !(rc = etude_preset_json_number(ctx, loop, "from_bar", "loop.from_bar", 1, ETUDE_PRACTICE_MAX_BARS, true, &v)))
            c->pc.from_bar = (uint32_t)v;
        v = 0;
        if (!rc && !(rc = etude_preset_json_number(ctx, loop, "to_bar", "loop.to_bar", 1, ETUDE_PRACTICE_MAX_BARS, true, &v)))
            c->pc.to_bar = (uint32_t)v;
        v = 1;
        if (!rc && !(rc = etude_preset_json_number(ctx, loop, "times", "loop.times", 0, ETUDE_PRACTICE_MAX_PASSES, true, &v)))
            c->pc.times = (uint32_t)v;
    }
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(obj, "trainer");
    if (!rc && tr) {
        static const char *const tf[] = {"start", "step", "target", "every", NULL};
        if (!cJSON_IsObject(tr))
            rc = etude_preset_error(ctx, "trainer", -1, "expected {\"start\": BPM, \"step\": BPM, \"target\": BPM, \"every\": N}");
        if (!rc)
            rc = etude_preset_json_only(ctx, tr, "trainer", tf, "start, step, target, every");
        for (int i = 0; !rc && i < 3; i++)
            if (!cJSON_GetObjectItemCaseSensitive(tr, tf[i]))
                rc = etude_preset_error(ctx, "trainer", -1, "missing '%s' (the trainer needs start, step and target)", tf[i]);
        c->pc.trainer = true;
        if (!rc)
            rc = etude_preset_json_number(ctx, tr, "start", "trainer.start", 1, 1000, false, &c->pc.start_bpm);
        if (!rc)
            rc = etude_preset_json_number(ctx, tr, "step", "trainer.step", 0.01, 1000, false, &c->pc.step_bpm);
        if (!rc)
            rc = etude_preset_json_number(ctx, tr, "target", "trainer.target", 1, 1000, false, &c->pc.target_bpm);
        v = 1;
        if (!rc && !(rc = etude_preset_json_number(ctx, tr, "every", "trainer.every", 1, 1000, true, &v)))
            c->pc.every = (uint32_t)v;
        if (!rc && c->pc.target_bpm < c->pc.start_bpm)
            rc = etude_preset_error(ctx, "trainer.target", -1, "target %g is below start %g", c->pc.target_bpm,
                                    c->pc.start_bpm);
        if (!rc && loop && cJSON_GetObjectItemCaseSensitive(loop, "times"))
            rc = etude_preset_error(ctx, "loop.times", -1, "the trainer decides the passes; leave 'times' out");
    }
    const cJSON *sound = cJSON_GetObjectItemCaseSensitive(obj, "sound");
    if (!rc && sound) {
        if (!cJSON_IsString(sound) || !etude_click_builtin_exists(sound->valuestring))
            rc = etude_preset_error(ctx, "sound", -1, "expected a built-in click sound: beep, wood or square");
        else if (!(c->sound = strdup(sound->valuestring)))
            rc = ETUDE_ENOMEM;
    }
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(obj, "pattern");
    if (!rc && pattern) {
        size_t n = cJSON_IsString(pattern) ? strlen(pattern->valuestring) : 0;
        if (n == 0 || n > 256 || strspn(pattern->valuestring, "Xx.") != n)
            rc = etude_preset_error(ctx, "pattern", -1, "expected klick's beat pattern: 1 to 256 characters, each X "
                                    "(accent), x (normal) or . (silent), e.g. \"X..x..\" to count 6/8 in two");
        else if (!(c->pattern = strdup(pattern->valuestring)))
            rc = ETUDE_ENOMEM;
    }
    if (!rc) {
        /* Build it once now, so a bad file, bar or tempo is refused before anything starts. */
        etude_practice_t *p = NULL;
        char why[400];
        rc = practice_build(c, &c->pc, 48000, &p, why, sizeof why);
        if (rc) {
            const char *field = c->midi && (rc == ETUDE_EIO || rc == ETUDE_EPARSE || rc == ETUDE_EUNSUPPORTED) ? "midi"
                                : !strncmp(why, "from_bar", 8) ? "loop.from_bar"
                                : !strncmp(why, "to_bar", 6)   ? "loop.to_bar"
                                : !strncmp(why, "trainer", 7)  ? "trainer"
                                : !strncmp(why, "times", 5)    ? "loop.times"
                                : !strncmp(why, "tempo", 5)    ? (c->pc.trainer ? "trainer" : "tempo_scale")
                                                               : NULL;
            rc = etude_preset_error(ctx, field, -1, "%s", why);
        }
        if (!rc)
            c->bars_known = etude_practice_bars(p);
        if (!rc && c->pattern) {
            uint32_t n = (uint32_t)strlen(c->pattern), fits = 0;
            for (uint32_t i = 0; i < etude_practice_bars(p) && !fits; i++)
                fits = etude_practice_bar_beats(p, i) == n;
            if (!fits)
                rc = etude_preset_error(ctx, "pattern", -1, "%u beats, but no bar of the %s has %u beats (the pattern "
                                        "gives one character per beat: \"X..x..\" for a bar of 6/8)", n,
                                        c->midi ? "MIDI file" : "meter", n);
        }
        etude_practice_unref(p);
    }
    if (rc) {
        practice_preset_free(c);
        return rc;
    }
    *config = c;
    return 0;
}

static int practice_instantiate(void *config, const etude_preset_env_t *env, etude_voice_id_t *out, char *err,
                                size_t errsize)
{
    practice_preset_t *c = config;
    if (etude_preset_env_practice(env)) {
        snprintf(err, errsize, "voice '%s': only one practice voice, listed before the midi, drone and sample voices",
                 env->name);
        return ETUDE_ESTATE;
    }
    etude_practice_t *p = NULL;
    etude_practice_config_t pc;
    etude_preset_env_practice_config(env, &c->pc, &pc);
    int rc = practice_build(c, &pc, env->rate, &p, err, errsize);
    if (rc)
        return rc;
    etude_click_config_t cc;
    etude_click_config_default(&cc);
    if (c->sound)
        cc.sound = c->sound;
    void *click = NULL;
    rc = etude_click_create(&cc, env->rate, &click, err, errsize);
    if (!rc) {
        rc = etude_voice_add(env->engine, &etude_click_voice_class, click, env->name, out);
        if (rc) {
            etude_click_free(click);
            snprintf(err, errsize, "voice '%s': cannot add: %s", env->name, etude_strerror(rc));
        }
    }
    void *src = NULL;
    if (!rc) {
        src = etude_practice_pattern_click_source(p, c->beats, c->pattern);
        rc = src ? etude_sequencer_add_source(env->seq, &etude_practice_source_class, src, *out, NULL) : ETUDE_ENOMEM;
        if (rc) {
            etude_practice_source_class.destroy(src);
            snprintf(err, errsize, "voice '%s': cannot add its source: %s", env->name, etude_strerror(rc));
        }
    }
    if (!rc && (rc = etude_preset_env_set_practice(env, p)))
        snprintf(err, errsize, "voice '%s': cannot register the practice: %s", env->name, etude_strerror(rc));
    if (!rc && (rc = etude_practice_attach(p, env->seq)))
        snprintf(err, errsize, "voice '%s': cannot set the loop: %s", env->name, etude_strerror(rc));
    etude_practice_unref(p);
    return rc;
}

static uint64_t practice_bars(const void *config)
{
    return ((const practice_preset_t *)config)->bars_known;
}

static const char *const practice_fields[] = {"midi", "tempo", "meter", "bars", "tempo_scale", "count_in",
                                              "loop", "trainer", "sound", "beats", "pattern", NULL};

const etude_preset_kind_t etude_preset_kind_practice = {
    .kind = "practice",
    .fields = practice_fields,
    .parse = practice_parse,
    .instantiate = practice_instantiate,
    .tempomap = NULL,
    .free = practice_preset_free,
    .bars = practice_bars,
};
