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
