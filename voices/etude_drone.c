/* etude_drone.c - the drone voice: a sustained pitch for intonation practice. */
#include "etude_drone.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
 * The source: the drone through a tempo map's bars.
 */

typedef struct map_source {
    const etude_tempomap_t *map;
    uint32_t rate;
    etude_drone_change_t *changes;
    size_t n;
    bool cached; /* the next expand most likely starts where the last one ended */
    uint64_t next_from;
    uint64_t (*bar_of)(const void *ctx, uint64_t bar); /* NULL: the changes count map's bars */
    unsigned char bar_ctx[ETUDE_DRONE_BAR_MAP_CTX];
} map_source_t;

int etude_drone_map_source_create(const etude_tempomap_t *map, uint32_t rate, const etude_drone_change_t *changes,
                                  size_t n, void **out)
{
    *out = NULL;
    if (!map || rate == 0 || !changes || n == 0 || changes[0].bar != 0)
        return ETUDE_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && changes[i].bar <= changes[i - 1].bar) || !(changes[i].hz >= 0) || changes[i].hz >= rate / 2.0)
            return ETUDE_EINVAL;
    map_source_t *s = calloc(1, sizeof *s);
    if (!s || !(s->changes = malloc(n * sizeof *s->changes))) {
        free(s);
        return ETUDE_ENOMEM;
    }
    memcpy(s->changes, changes, n * sizeof *changes);
    s->n = n;
    s->map = map;
    s->rate = rate;
    *out = s;
    return 0;
}

void etude_drone_map_source_free(void *self)
{
    map_source_t *s = self;
    if (s)
        free(s->changes);
    free(s);
}

int etude_drone_map_source_remap(void *self, const etude_tempomap_t *map, const etude_drone_bar_map_t *bars)
{
    map_source_t *s = self;
    if (!s || !map || !bars || !bars->fn || bars->ctx_size > sizeof s->bar_ctx || (bars->ctx_size && !bars->ctx))
        return ETUDE_EINVAL;
    s->map = map;
    s->bar_of = bars->fn;
    memset(s->bar_ctx, 0, sizeof s->bar_ctx);
    if (bars->ctx_size)
        memcpy(s->bar_ctx, bars->ctx, bars->ctx_size);
    s->cached = false;
    return 0;
}

/* The change in force at bar (of the map played). */
static const etude_drone_change_t *change_at(const map_source_t *s, uint64_t bar)
{
    if (s->bar_of)
        bar = s->bar_of(s->bar_ctx, bar);
    size_t lo = 0, hi = s->n; /* the first change after bar */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->changes[mid].bar <= bar)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &s->changes[lo - 1]; /* changes[0].bar == 0 */
}

static int emit_state(const map_source_t *s, uint64_t bar, uint64_t pos, etude_emit_fn emit, void *ctx)
{
    const etude_drone_change_t *c = change_at(s, bar);
    etude_event_t ev;
    memset(&ev, 0, sizeof ev);
    if (c->hz == 0) {
        ev.kind = ETUDE_EV_NOTE_OFF;
        return emit(ctx, pos, &ev);
    }
    ev.kind = ETUDE_EV_PARAM;
    ev.u.param.id = ETUDE_DRONE_PARAM_HZ;
    ev.u.param.value = (float)c->hz;
    int rc = emit(ctx, pos, &ev);
    if (rc < 0)
        return rc;
    memset(&ev, 0, sizeof ev);
    ev.kind = ETUDE_EV_NOTE_ON;
    ev.u.note.velocity = 100;
    return emit(ctx, pos, &ev);
}

static uint64_t bar_frame(const map_source_t *s, uint64_t bar)
{
    uint64_t beat = etude_tempomap_bar_first_beat(s->map, bar);
    return beat == UINT64_MAX ? UINT64_MAX : etude_tempomap_beat_frame(s->map, beat, s->rate);
}

static int map_source_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    map_source_t *s = self;
    bool jumped = !(s->cached && s->next_from == from);
    s->cached = false;
    uint64_t bars = etude_tempomap_bar_count(s->map);
    uint64_t end = etude_tempomap_frames(s->map, s->rate);
    int rc;
    /* the first bar that starts at or after from */
    uint64_t k = etude_tempomap_beat_at_frame(s->map, from, s->rate), bar = bars;
    etude_tempomap_beat_t b;
    if (k < etude_tempomap_beat_count(s->map) && etude_tempomap_beat(s->map, k, &b) == 0)
        bar = b.bar + (b.beat_in_bar != 0);
    if (jumped && bar > 0 && from < end && (bar >= bars || bar_frame(s, bar) > from))
        if ((rc = emit_state(s, bar - 1, from, emit, ctx)) < 0)
            return rc;
    for (; bar < bars; bar++) {
        uint64_t f = bar_frame(s, bar);
        if (f >= to)
            break;
        if ((rc = emit_state(s, bar, f, emit, ctx)) < 0)
            return rc;
    }
    if (end != UINT64_MAX && end >= from && end < to) {
        etude_event_t off;
        memset(&off, 0, sizeof off);
        off.kind = ETUDE_EV_ALL_NOTES_OFF;
        if ((rc = emit(ctx, end, &off)) < 0)
            return rc;
    }
    s->cached = true;
    s->next_from = to;
    return 0;
}

static uint64_t map_source_length(void *self)
{
    map_source_t *s = self;
    return etude_tempomap_frames(s->map, s->rate);
}

const etude_source_class_t etude_drone_map_source_class = {
    .kind = "drone",
    .expand = map_source_expand,
    .length = map_source_length,
    .destroy = etude_drone_map_source_free,
};
