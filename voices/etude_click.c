/* etude_click.c - the click voice, its built-in sounds and the tempo-map click source (the preset
 * kind "click" is in etude_click_preset.c). */
#include "etude_click.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <samplerate.h>
#include <sndfile.h>

#define PLAYHEADS 8          /* clicks sounding at once; the oldest is cut for a ninth */
#define STOP_SECONDS 0.001   /* ALL_NOTES_OFF fade */

enum { SND_NORMAL = 0, SND_ACCENT = 1 };

typedef struct playhead {
    const float *s;
    uint32_t len, pos;
    float gain;
    uint32_t fade; /* frames left of a stop fade; 0 = not stopping */
} playhead_t;

typedef struct click {
    uint32_t rate;
    float *snd[2];
    uint32_t len[2];
    float gain[2];
    int emphasis;
    uint32_t stop_frames;
    bool released;
    playhead_t ph[PLAYHEADS];
} click_t;

const char *const etude_click_builtin_names[] = {"beep", "wood", "square", NULL};

bool etude_click_builtin_exists(const char *name)
{
    for (size_t i = 0; name && etude_click_builtin_names[i]; i++)
        if (!strcmp(name, etude_click_builtin_names[i]))
            return true;
    return false;
}

void etude_click_config_default(etude_click_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sound = "beep";
    cfg->accent_gain = cfg->normal_gain = 1.0f;
    cfg->emphasis = ETUDE_CLICK_EMPHASIS_PATTERN;
}

/* ------------------------------------------------------------------------------------------------
 * Sounds
 */

/* A built-in sound: decaying partials in cosine phase, so the first frame is the peak, ending in a
 * short fade to exact silence. Accents are higher, louder and a little longer. */
static int make_builtin(const char *name, int level, uint32_t rate, float **out, uint32_t *len)
{
    bool acc = level == SND_ACCENT;
    double amp = acc ? 0.9 : 0.6;
    double dur, f0, tau;
    int kind;
    if (!strcmp(name, "beep")) {
        kind = 0, f0 = acc ? 1760.0 : 1320.0, dur = acc ? 0.040 : 0.030, tau = 0.010;
    } else if (!strcmp(name, "wood")) {
        kind = 1, f0 = acc ? 1100.0 : 800.0, dur = acc ? 0.045 : 0.035, tau = 0.008;
    } else if (!strcmp(name, "square")) {
        kind = 2, f0 = acc ? 1000.0 : 750.0, dur = acc ? 0.060 : 0.050, tau = 0.020;
    } else {
        return ETUDE_EINVAL;
    }
    uint32_t n = (uint32_t)ceil(dur * rate);
    uint32_t fade = (uint32_t)ceil(0.004 * rate);
    if (fade >= n)
        fade = n / 2;
    float *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return ETUDE_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        double t = (double)i / rate, v;
        double ph = 2.0 * M_PI * f0 * t;
        if (kind == 0) {
            v = cos(ph) * exp(-t / tau);
        } else if (kind == 1) {
            /* a woodblock: a strong fundamental, an inharmonic partial dying fast */
            v = (0.7 * cos(ph) * exp(-t / tau) + 0.3 * cos(2.76 * ph) * exp(-t / (tau * 0.4)));
        } else {
            v = (cos(ph) >= 0.0 ? 1.0 : -1.0) * exp(-t / tau);
        }
        double g = i + fade >= n ? 0.5 * (1.0 + cos(M_PI * (double)(i + fade + 1 - n) / fade)) : 1.0;
        s[i] = (float)(amp * v * g);
    }
    *out = s;
    *len = n;
    return 0;
}

static int errmsg(char *err, size_t errsize, int rc, const char *fmt, const char *a, const char *b)
{
    if (err && errsize)
        snprintf(err, errsize, fmt, a, b);
    return rc;
}

/* A sample file, mixed to mono and resampled to rate. */
static int load_sample(const char *path, uint32_t rate, float **out, uint32_t *len, char *err,
                       size_t errsize)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        return errmsg(err, errsize, ETUDE_EIO, "%s: cannot open as a sound file: %s", path,
                      sf_strerror(NULL));
    if (info.frames <= 0 || info.channels <= 0 || info.samplerate <= 0) {
        sf_close(f);
        return errmsg(err, errsize, ETUDE_EPARSE, "%s: %s", path, "empty sound file");
    }
    if ((double)info.frames / info.samplerate > ETUDE_CLICK_MAX_SAMPLE_SECONDS) {
        sf_close(f);
        return errmsg(err, errsize, ETUDE_EPARSE, "%s: %s", path,
                      "longer than 10 seconds (a click sample must be short)");
    }
    size_t frames = (size_t)info.frames, ch = (size_t)info.channels;
    float *inter = malloc(frames * ch * sizeof *inter);
    float *mono = malloc(frames * sizeof *mono);
    if (!inter || !mono) {
        free(inter);
        free(mono);
        sf_close(f);
        return ETUDE_ENOMEM;
    }
    sf_count_t got = sf_readf_float(f, inter, (sf_count_t)frames);
    sf_close(f);
    if (got <= 0) {
        free(inter);
        free(mono);
        return errmsg(err, errsize, ETUDE_EIO, "%s: %s", path, "cannot read the sound data");
    }
    frames = (size_t)got;
    for (size_t i = 0; i < frames; i++) {
        float acc = 0;
        for (size_t c = 0; c < ch; c++)
            acc += inter[i * ch + c];
        mono[i] = acc / (float)ch;
    }
    free(inter);
    if ((uint32_t)info.samplerate != rate) {
        double ratio = (double)rate / info.samplerate;
        size_t outn = (size_t)ceil(frames * ratio) + 16;
        float *res = malloc(outn * sizeof *res);
        if (!res) {
            free(mono);
            return ETUDE_ENOMEM;
        }
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = mono;
        d.input_frames = (long)frames;
        d.data_out = res;
        d.output_frames = (long)outn;
        d.src_ratio = ratio;
        int e = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
        free(mono);
        if (e) {
            free(res);
            return errmsg(err, errsize, ETUDE_EIO, "%s: cannot resample: %s", path, src_strerror(e));
        }
        mono = res;
        frames = (size_t)d.output_frames_gen;
        if (frames == 0) {
            free(mono);
            return errmsg(err, errsize, ETUDE_EPARSE, "%s: %s", path, "empty sound file");
        }
    }
    *out = mono;
    *len = (uint32_t)frames;
    return 0;
}

void etude_click_free(void *self)
{
    click_t *c = self;
    if (!c)
        return;
    free(c->snd[0]);
    if (c->snd[1] != c->snd[0])
        free(c->snd[1]);
    free(c);
}

int etude_click_create(const etude_click_config_t *cfg, uint32_t rate, void **out, char *err,
                       size_t errsize)
{
    *out = NULL;
    if (!cfg || rate == 0)
        return ETUDE_EINVAL;
    click_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_ENOMEM;
    c->rate = rate;
    c->gain[SND_NORMAL] = cfg->normal_gain;
    c->gain[SND_ACCENT] = cfg->accent_gain;
    c->emphasis = cfg->emphasis;
    c->stop_frames = (uint32_t)ceil(STOP_SECONDS * rate);
    int rc;
    if (cfg->normal_file) {
        rc = load_sample(cfg->normal_file, rate, &c->snd[SND_NORMAL], &c->len[SND_NORMAL], err, errsize);
        if (rc == 0 && cfg->accent_file)
            rc = load_sample(cfg->accent_file, rate, &c->snd[SND_ACCENT], &c->len[SND_ACCENT], err,
                             errsize);
        else if (rc == 0) {
            c->snd[SND_ACCENT] = c->snd[SND_NORMAL];
            c->len[SND_ACCENT] = c->len[SND_NORMAL];
        }
    } else {
        const char *name = cfg->sound ? cfg->sound : "beep";
        rc = make_builtin(name, SND_NORMAL, rate, &c->snd[SND_NORMAL], &c->len[SND_NORMAL]);
        if (rc == 0)
            rc = make_builtin(name, SND_ACCENT, rate, &c->snd[SND_ACCENT], &c->len[SND_ACCENT]);
        if (rc == ETUDE_EINVAL)
            errmsg(err, errsize, rc, "unknown built-in click sound '%s'%s", name,
                   " (expected beep, wood or square)");
    }
    if (rc) {
        etude_click_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

uint32_t etude_click_sound_frames(const void *self)
{
    const click_t *c = self;
    return c->len[0] > c->len[1] ? c->len[0] : c->len[1];
}

uint32_t etude_click_copy_sound(const void *self, int level, float *out, uint32_t max)
{
    const click_t *c = self;
    int k = level == ETUDE_CLICK_ACCENT ? SND_ACCENT : SND_NORMAL;
    uint32_t n = c->len[k] < max ? c->len[k] : max;
    memcpy(out, c->snd[k], n * sizeof *out);
    return c->len[k];
}

/* ------------------------------------------------------------------------------------------------
 * The voice class. event/render/release run on the audio thread: no allocation, no locks.
 */

static int click_prepare(void *self, uint32_t sample_rate, uint32_t max_period)
{
    (void)max_period;
    click_t *c = self;
    return sample_rate == c->rate ? 0 : ETUDE_EINVAL;
}

static void click_event(void *self, const etude_event_t *ev)
{
    click_t *c = self;
    if (ev->kind == ETUDE_EV_ALL_NOTES_OFF) {
        for (int i = 0; i < PLAYHEADS; i++)
            if (c->ph[i].pos < c->ph[i].len && !c->ph[i].fade)
                c->ph[i].fade = c->stop_frames;
        return;
    }
    if (ev->kind != ETUDE_EV_CLICK || c->released)
        return;
    int k = ev->u.click.level == ETUDE_CLICK_ACCENT ? SND_ACCENT : SND_NORMAL;
    if (c->emphasis == ETUDE_CLICK_EMPHASIS_NONE)
        k = SND_NORMAL;
    else if (c->emphasis == ETUDE_CLICK_EMPHASIS_ALL)
        k = SND_ACCENT;
    playhead_t *p = &c->ph[0];
    for (int i = 0; i < PLAYHEADS; i++) {
        if (c->ph[i].pos >= c->ph[i].len) {
            p = &c->ph[i];
            break;
        }
        if (c->ph[i].pos > p->pos)
            p = &c->ph[i];
    }
    p->s = c->snd[k];
    p->len = c->len[k];
    p->pos = 0;
    p->fade = 0;
    p->gain = ev->u.click.gain * c->gain[k];
}

static void click_render(void *self, float *const out[2], uint32_t nframes)
{
    click_t *c = self;
    float *o = out[0];
    for (int i = 0; i < PLAYHEADS; i++) {
        playhead_t *p = &c->ph[i];
        if (p->pos >= p->len)
            continue;
        uint32_t n = p->len - p->pos < nframes ? p->len - p->pos : nframes;
        const float *s = p->s + p->pos;
        if (!p->fade) {
            for (uint32_t j = 0; j < n; j++)
                o[j] += s[j] * p->gain;
            p->pos += n;
        } else {
            float step = 1.0f / (float)c->stop_frames;
            if (p->fade < n)
                n = p->fade;
            for (uint32_t j = 0; j < n; j++)
                o[j] += s[j] * p->gain * (float)(p->fade - j) * step;
            p->fade -= n;
            p->pos += n;
            if (p->fade == 0)
                p->pos = p->len;
        }
    }
}

static void click_release(void *self)
{
    ((click_t *)self)->released = true;
}

const etude_voice_class_t etude_click_voice_class = {
    .kind = "click",
    .prepare = click_prepare,
    .event = click_event,
    .render = click_render,
    .release = click_release,
    .dispose = etude_click_free,
    .mono = true,
};

/* ------------------------------------------------------------------------------------------------
 * The source: the map's sounding beats as click events.
 */

typedef struct click_source {
    const etude_tempomap_t *map;
    uint32_t rate;
    bool cached; /* the next expand most likely starts where the last one ended */
    uint64_t next_from, next_k;
} click_source_t;

int etude_click_source_create(const etude_tempomap_t *map, uint32_t rate, void **out)
{
    *out = NULL;
    if (!map || rate == 0)
        return ETUDE_EINVAL;
    click_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return ETUDE_ENOMEM;
    s->map = map;
    s->rate = rate;
    *out = s;
    return 0;
}

void etude_click_source_free(void *self)
{
    free(self);
}

static int source_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    click_source_t *s = self;
    uint64_t k = s->cached && s->next_from == from ? s->next_k
                                                   : etude_tempomap_beat_at_frame(s->map, from, s->rate);
    uint64_t n = etude_tempomap_beat_count(s->map);
    s->cached = false;
    for (; k < n; k++) {
        uint64_t f = etude_tempomap_beat_frame(s->map, k, s->rate);
        if (f >= to)
            break;
        etude_tempomap_beat_t b;
        if (etude_tempomap_beat(s->map, k, &b) < 0)
            break;
        if (b.type == ETUDE_BEAT_SILENT)
            continue;
        etude_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = ETUDE_EV_CLICK;
        ev.u.click.level = b.type == ETUDE_BEAT_ACCENT ? ETUDE_CLICK_ACCENT : ETUDE_CLICK_NORMAL;
        ev.u.click.gain = b.volume;
        int rc = emit(ctx, f, &ev);
        if (rc < 0)
            return rc;
    }
    s->cached = true;
    s->next_from = to;
    s->next_k = k;
    return 0;
}

static uint64_t source_length(void *self)
{
    click_source_t *s = self;
    return etude_tempomap_frames(s->map, s->rate);
}

const etude_source_class_t etude_click_source_class = {
    .kind = "click",
    .expand = source_expand,
    .length = source_length,
    .destroy = etude_click_source_free,
};
