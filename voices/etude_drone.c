/* etude_drone.c - the drone voice: a sustained pitch for intonation practice. */
#include "etude_drone.h"

#include <math.h>
#include <stdlib.h>

struct etude_drone {
    etude_drone_config_t cfg;
    double hz;
    double phase; /* 0..1 */
    double inc;
    uint32_t rate;
    float env;    /* 0..1 */
    float step;   /* per-frame envelope change over the 30 ms ramp */
    int on;
};

void etude_drone_config_default(etude_drone_config_t *cfg)
{
    cfg->key = 57;
    cfg->cents = 0;
    cfg->a4_hz = 440;
    cfg->wave = ETUDE_DRONE_ORGAN;
    cfg->level = 0.25f;
}

double etude_drone_hz(const etude_drone_config_t *cfg)
{
    return cfg->a4_hz * pow(2.0, (cfg->key - 69.0 + cfg->cents / 100.0) / 12.0);
}

etude_drone_t *etude_drone_create(const etude_drone_config_t *cfg)
{
    if (!cfg || !(cfg->a4_hz > 0) || !(cfg->level >= 0 && cfg->level <= 1) ||
        (cfg->wave != ETUDE_DRONE_SINE && cfg->wave != ETUDE_DRONE_ORGAN))
        return NULL;
    etude_drone_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = *cfg;
    d->hz = etude_drone_hz(cfg);
    return d;
}

void etude_drone_free(etude_drone_t *d) { free(d); }

static int drone_prepare(void *self, uint32_t sample_rate, uint32_t max_period)
{
    (void)max_period;
    etude_drone_t *d = self;
    if (!(d->hz > 0) || d->hz >= sample_rate / 2.0)
        return ETUDE_EINVAL;
    d->rate = sample_rate;
    d->inc = d->hz / sample_rate;
    d->step = 1.0f / (0.030f * (float)sample_rate);
    return 0;
}

static void drone_event(void *self, const etude_event_t *ev)
{
    etude_drone_t *d = self;
    switch (ev->kind) {
    case ETUDE_EV_NOTE_ON:
        d->on = ev->u.note.velocity > 0;
        break;
    case ETUDE_EV_NOTE_OFF:
    case ETUDE_EV_ALL_NOTES_OFF:
        d->on = 0;
        break;
    case ETUDE_EV_PARAM:
        if (ev->u.param.id == ETUDE_DRONE_PARAM_HZ && ev->u.param.value > 0 && ev->u.param.value < d->rate / 2.0f) {
            d->hz = ev->u.param.value;
            d->inc = d->hz / d->rate;
        }
        break;
    default:
        break;
    }
}

static void drone_render(void *self, float *const out[2], uint32_t nframes)
{
    etude_drone_t *d = self;
    if (!d->on && d->env <= 0)
        return;
    const double tau = 6.283185307179586;
    float level = d->cfg.level;
    for (uint32_t i = 0; i < nframes; i++) {
        if (d->on && d->env < 1) {
            d->env += d->step;
            if (d->env > 1)
                d->env = 1;
        } else if (!d->on && d->env > 0) {
            d->env -= d->step;
            if (d->env <= 0) {
                d->env = 0;
                break;
            }
        }
        double x = d->phase * tau;
        double v;
        if (d->cfg.wave == ETUDE_DRONE_SINE)
            v = sin(x);
        else /* weights sum to 1, so the level is the peak bound */
            v = 0.52 * sin(x) + 0.26 * sin(2 * x) + 0.14 * sin(3 * x) + 0.08 * sin(4 * x);
        out[0][i] += (float)(v * level * d->env);
        d->phase += d->inc;
        if (d->phase >= 1)
            d->phase -= 1;
    }
}

static void drone_release(void *self) { ((etude_drone_t *)self)->on = 0; }
static void drone_dispose(void *self) { etude_drone_free(self); }

const etude_voice_class_t etude_drone_class = {
    .kind = "drone",
    .prepare = drone_prepare,
    .event = drone_event,
    .render = drone_render,
    .release = drone_release,
    .dispose = drone_dispose,
    .mono = true,
};

/* ---------------------------------------------------------------------------------------------
 * The "drone" preset kind: sounds through every bar of the sequencer's practice.
 */

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_practice.h"
#include "etude_preset.h"

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
    if (!etude_practice_json_has_clock(ctx))
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
        rc = etude_practice_json_number(ctx, obj, "cents", "cents", -100, 100, false, &c->cents);
    if (!rc)
        rc = etude_practice_json_number(ctx, obj, "a4", "a4", 400, 480, false, &c->a4_hz);
    double level = c->level;
    if (!rc && !(rc = etude_practice_json_number(ctx, obj, "level", "level", 0, 1, false, &level)))
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
    etude_practice_t *p = etude_practice_of_env(env);
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
