/* etude_practice.c - tempo scale, A-B loop with count-in and speed trainer, laid out as passes. */
#include "etude_practice.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BARS ETUDE_PRACTICE_MAX_BARS
#define MAX_PASSES ETUDE_PRACTICE_MAX_PASSES

struct etude_practice {
    int refs;
    etude_midifile_t *mf;
    uint32_t rate;
    /* material */
    uint32_t ppq;
    double fixed_bpm; /* fixed material only */
    uint64_t *bar_tick; /* nbars + 1 entries: starts, then the end */
    uint32_t *bar_beats, *bar_beat_ticks;
    uint32_t nbars;
    /* region and layout */
    uint32_t a, b;        /* 0-based bars, b included */
    uint64_t ta, tb;      /* ticks: start of bar a, end of bar b */
    double sec_a, sec_b;  /* seconds at ta and tb */
    double spt_a;         /* seconds per tick at ta */
    double written_bpm;   /* quarter notes per minute at ta */
    uint32_t s;           /* 0-based bar where the first pass starts (a..b) */
    uint32_t lead;        /* bars s - a that the first pass leaves out */
    double spt_s, bpm_s;  /* seconds per tick and quarter notes per minute at bar s (the count-in's) */
    uint32_t cin_bars;
    double cin_seconds;   /* at scale 1 */
    bool endless;         /* the sequencer's loop over the last pass (pass 0, or pass 1 after a
                             first pass that starts past A) */
    bool trainer;
    uint32_t npasses;
    double *scale;        /* per pass */
    double *start;        /* npasses + 1 pass starts, in frames (double) */
    /* A tempo change inside a pass re-anchors it: pass k maps rel seconds to
     * start[k] + (rel - r0[k]) * rate / scale[k]; the count-in likewise with cin_start, cin_r0,
     * cin_scale. All r0 are 0 until etude_practice_set_tempo_scale(). */
    double *r0;
    double cin_start, cin_r0, cin_scale;
    double region_seconds; /* seconds(A..B) */
};

typedef struct tev {
    double rel; /* seconds from the start of bar A (region) or of the count-in, at scale 1 */
    etude_event_t ev;
} tev_t;

typedef struct psrc {
    etude_practice_t *p;
    tev_t *pre;     /* sent at position 0 */
    size_t npre;
    tev_t *cin;     /* count-in */
    size_t ncin;
    tev_t *reg;     /* one pass */
    size_t nreg;
    bool off_each_pass;
} psrc_t;

static int errf(char *err, size_t errsize, const char *fmt, ...)
{
    if (err && errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return ETUDE_EINVAL;
}

void etude_practice_config_default(etude_practice_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tempo_scale = 1.0;
    cfg->times = 1;
    cfg->every = 1;
}

void etude_practice_override_apply(const etude_practice_override_t *o, etude_practice_config_t *cfg)
{
    if (!o)
        return;
    if (o->count_in_set)
        cfg->count_in = o->count_in;
    if (o->loop_set) {
        cfg->from_bar = o->from_bar;
        cfg->to_bar = o->to_bar;
    }
    if (o->start_set)
        cfg->start_bar = o->start_bar;
    if (o->times_set) {
        cfg->times = o->times;
        cfg->trainer = false;
    }
    if (o->trainer_set) {
        cfg->trainer = true;
        cfg->start_bpm = o->start_bpm;
        cfg->step_bpm = o->step_bpm;
        cfg->target_bpm = o->target_bpm;
        cfg->every = o->every;
    }
}

static double seconds_at(const etude_practice_t *p, uint64_t tick)
{
    if (p->mf)
        return etude_midifile_seconds(p->mf, tick);
    return (double)tick / p->ppq * 60.0 / p->fixed_bpm;
}

static int add_bar(etude_practice_t *p, uint64_t start, uint32_t beats, uint32_t beat_ticks)
{
    if (p->nbars >= MAX_BARS)
        return ETUDE_EINVAL;
    size_t n = p->nbars + 2;
    uint64_t *bt = realloc(p->bar_tick, n * sizeof *bt);
    if (!bt)
        return ETUDE_ENOMEM;
    p->bar_tick = bt;
    uint32_t *bb = realloc(p->bar_beats, n * sizeof *bb);
    if (!bb)
        return ETUDE_ENOMEM;
    p->bar_beats = bb;
    uint32_t *bk = realloc(p->bar_beat_ticks, n * sizeof *bk);
    if (!bk)
        return ETUDE_ENOMEM;
    p->bar_beat_ticks = bk;
    p->bar_tick[p->nbars] = start;
    p->bar_beats[p->nbars] = beats;
    p->bar_beat_ticks[p->nbars] = beat_ticks;
    p->nbars++;
    p->bar_tick[p->nbars] = start + (uint64_t)beats * beat_ticks;
    return 0;
}

/* Lays out the region, count-in and passes once the bars are known. */
static int layout(etude_practice_t *p, const etude_practice_config_t *cfg, char *err, size_t errsize)
{
    if (cfg->from_bar > p->nbars)
        return errf(err, errsize, "from_bar %u is past the last bar (%u)", cfg->from_bar, p->nbars);
    if (cfg->to_bar > p->nbars)
        return errf(err, errsize, "to_bar %u is past the last bar (%u)", cfg->to_bar, p->nbars);
    p->a = cfg->from_bar ? cfg->from_bar - 1 : 0;
    p->b = cfg->to_bar ? cfg->to_bar - 1 : p->nbars - 1;
    if (p->b < p->a)
        return errf(err, errsize, "to_bar %u comes before from_bar %u", cfg->to_bar, cfg->from_bar);
    if (cfg->count_in > 16)
        return errf(err, errsize, "count_in %u is more than 16 bars", cfg->count_in);
    if (cfg->start_bar && (cfg->start_bar - 1 < p->a || cfg->start_bar - 1 > p->b))
        return errf(err, errsize, "start_bar %u is outside the loop (bars %u to %u)", cfg->start_bar, p->a + 1,
                    p->b + 1);
    p->s = cfg->start_bar ? cfg->start_bar - 1 : p->a;
    p->lead = p->s - p->a;
    p->ta = p->bar_tick[p->a];
    p->tb = p->bar_tick[p->b + 1];
    p->sec_a = seconds_at(p, p->ta);
    p->sec_b = seconds_at(p, p->tb);
    if (p->mf) {
        uint32_t usq = etude_midifile_tempo_at(p->mf, p->ta);
        p->spt_a = usq / 1e6 / p->ppq;
        p->written_bpm = 60e6 / usq;
        usq = etude_midifile_tempo_at(p->mf, p->bar_tick[p->s]);
        p->spt_s = usq / 1e6 / p->ppq;
        p->bpm_s = 60e6 / usq;
    } else {
        p->spt_a = p->spt_s = 60.0 / p->fixed_bpm / p->ppq;
        p->written_bpm = p->bpm_s = p->fixed_bpm;
    }
    p->cin_bars = cfg->count_in;
    p->cin_seconds = (double)cfg->count_in * p->bar_beats[p->s] * p->bar_beat_ticks[p->s] * p->spt_s;

    uint32_t n;
    if (cfg->trainer) {
        if (!(cfg->start_bpm > 0) || !(cfg->step_bpm > 0) || !(cfg->target_bpm >= cfg->start_bpm))
            return errf(err, errsize, "trainer: need start_bpm > 0, step_bpm > 0 and target_bpm >= start_bpm");
        if (cfg->every < 1)
            return errf(err, errsize, "trainer: every must be at least 1 pass");
        double steps = floor((cfg->target_bpm - cfg->start_bpm) / cfg->step_bpm + 1e-9);
        /* one pass group per tempo: start, start + step, ..., and the target itself if not on the grid */
        double tempi = steps + 1 + ((cfg->start_bpm + steps * cfg->step_bpm) < cfg->target_bpm - 1e-9 ? 1 : 0);
        if (tempi * cfg->every > MAX_PASSES)
            return errf(err, errsize, "trainer: %.0f passes is more than %u", tempi * cfg->every, MAX_PASSES);
        n = (uint32_t)tempi * cfg->every;
    } else {
        if (!(cfg->tempo_scale >= 0.1 && cfg->tempo_scale <= 4.0))
            return errf(err, errsize, "tempo_scale %g is outside 0.1 .. 4", cfg->tempo_scale);
        if (cfg->times > MAX_PASSES)
            return errf(err, errsize, "times %u is more than %u", cfg->times, MAX_PASSES);
        p->endless = cfg->times == 0;
        n = p->endless ? (p->lead ? 2 : 1) : cfg->times; /* endless: a first pass from s, then A..B */
    }
    p->npasses = n;
    p->trainer = cfg->trainer;
    p->scale = calloc(n, sizeof *p->scale);
    p->start = calloc((size_t)n + 1, sizeof *p->start);
    p->r0 = calloc(n, sizeof *p->r0);
    if (!p->scale || !p->start || !p->r0)
        return ETUDE_ENOMEM;
    for (uint32_t k = 0; k < n; k++) {
        if (cfg->trainer) {
            double bpm = cfg->start_bpm + floor((double)(k / cfg->every)) * cfg->step_bpm;
            if (bpm > cfg->target_bpm)
                bpm = cfg->target_bpm;
            p->scale[k] = bpm / p->written_bpm;
        } else {
            p->scale[k] = cfg->tempo_scale;
        }
        if (!(p->scale[k] >= 0.05 && p->scale[k] <= 8))
            return errf(err, errsize, "tempo %.2f BPM is too far from the written %.2f BPM", p->scale[k] * p->written_bpm,
                        p->written_bpm);
    }
    double L = (p->sec_b - p->sec_a) * p->rate;
    p->region_seconds = p->sec_b - p->sec_a;
    p->cin_scale = p->scale[0];
    p->start[0] = p->cin_seconds * p->rate / p->scale[0];
    /* the first pass starts at bar s: anchored as if it had started at A, what lies before s left out */
    p->r0[0] = seconds_at(p, p->bar_tick[p->s]) - p->sec_a;
    for (uint32_t k = 0; k < n; k++)
        p->start[k + 1] = p->start[k] + (L - p->r0[k] * p->rate) / p->scale[k];
    return 0;
}

static int finish_create(etude_practice_t *p, const etude_practice_config_t *cfg, etude_practice_t **out,
                         char *err, size_t errsize)
{
    etude_practice_config_t def;
    if (!cfg) {
        etude_practice_config_default(&def);
        cfg = &def;
    }
    int rc = layout(p, cfg, err, errsize);
    if (rc) {
        if (rc == ETUDE_ENOMEM)
            errf(err, errsize, "out of memory");
        etude_practice_unref(p);
        return rc;
    }
    *out = p;
    return 0;
}

int etude_practice_create_midi(etude_midifile_t *mf, const etude_practice_config_t *cfg, uint32_t rate,
                               etude_practice_t **out, char *err, size_t errsize)
{
    if (!out || !mf || !rate) {
        etude_midifile_free(mf);
        return ETUDE_EINVAL;
    }
    *out = NULL;
    etude_practice_t *p = calloc(1, sizeof *p);
    if (!p) {
        etude_midifile_free(mf);
        return ETUDE_ENOMEM;
    }
    p->refs = 1;
    p->mf = mf;
    p->rate = rate;
    int smpte = 0;
    p->ppq = etude_midifile_division(mf, &smpte);
    if (smpte)
        p->ppq /= 2; /* SMPTE files have no beats: count 120 quarter notes per minute */
    if (!p->ppq)
        p->ppq = 1;
    uint64_t len = etude_midifile_length_ticks(mf);
    uint64_t t = 0;
    int rc = 0;
    do {
        uint32_t num, den;
        etude_midifile_meter_at(mf, t, &num, &den, NULL);
        uint32_t beat_ticks = (uint32_t)((uint64_t)p->ppq * 4 / den);
        if (!beat_ticks)
            beat_ticks = 1;
        rc = add_bar(p, t, num, beat_ticks);
        t = p->bar_tick[p->nbars];
    } while (!rc && t < len);
    if (rc) {
        errf(err, errsize, rc == ETUDE_ENOMEM ? "out of memory" : "the MIDI file has more than %u bars", MAX_BARS);
        etude_practice_unref(p);
        return rc;
    }
    return finish_create(p, cfg, out, err, errsize);
}

int etude_practice_create_fixed(double bpm, uint32_t num, uint32_t den, uint32_t bars,
                                const etude_practice_config_t *cfg, uint32_t rate, etude_practice_t **out,
                                char *err, size_t errsize)
{
    if (!out || !rate)
        return ETUDE_EINVAL;
    *out = NULL;
    if (!(bpm >= 1 && bpm <= 1000))
        return errf(err, errsize, "tempo %g is outside 1 .. 1000 BPM", bpm);
    if (num < 1 || num > 64 || (den != 1 && den != 2 && den != 4 && den != 8 && den != 16 && den != 32))
        return errf(err, errsize, "meter %u/%u is not usable (beats 1..64, denominator a power of two up to 32)", num, den);
    if (bars < 1 || bars > MAX_BARS)
        return errf(err, errsize, "bars %u is outside 1 .. %u", bars, MAX_BARS);
    etude_practice_t *p = calloc(1, sizeof *p);
    if (!p)
        return ETUDE_ENOMEM;
    p->refs = 1;
    p->rate = rate;
    p->ppq = 960;
    p->fixed_bpm = bpm;
    uint32_t beat_ticks = 960 * 4 / den;
    for (uint32_t i = 0; i < bars; i++) {
        int rc = add_bar(p, (uint64_t)i * num * beat_ticks, num, beat_ticks);
        if (rc) {
            etude_practice_unref(p);
            return rc;
        }
    }
    return finish_create(p, cfg, out, err, errsize);
}

etude_practice_t *etude_practice_ref(etude_practice_t *p)
{
    if (p)
        p->refs++;
    return p;
}

void etude_practice_unref(etude_practice_t *p)
{
    if (!p || --p->refs > 0)
        return;
    etude_midifile_free(p->mf);
    free(p->bar_tick);
    free(p->bar_beats);
    free(p->bar_beat_ticks);
    free(p->scale);
    free(p->start);
    free(p->r0);
    free(p);
}

const etude_midifile_t *etude_practice_midifile(const etude_practice_t *p) { return p->mf; }
uint32_t etude_practice_passes(const etude_practice_t *p) { return p->endless ? UINT32_MAX : p->npasses; }
uint32_t etude_practice_pass_bars(const etude_practice_t *p) { return p->b - p->a + 1; }
uint32_t etude_practice_bars(const etude_practice_t *p) { return p->nbars; }
uint32_t etude_practice_beats_per_bar(const etude_practice_t *p) { return p->bar_beats[p->s]; }
uint32_t etude_practice_bar_beats(const etude_practice_t *p, uint32_t i) { return i < p->nbars ? p->bar_beats[i] : 0; }

double etude_practice_pass_scale(const etude_practice_t *p, uint32_t k)
{
    return p->scale[k < p->npasses ? k : p->npasses - 1];
}

double etude_practice_pass_bpm(const etude_practice_t *p, uint32_t k)
{
    return etude_practice_pass_scale(p, k) * p->written_bpm;
}

uint64_t etude_practice_pass_start(const etude_practice_t *p, uint32_t k)
{
    if (k > p->npasses)
        k = p->npasses;
    return (uint64_t)llround(p->start[k]);
}

int etude_practice_bar_info(const etude_practice_t *p, uint32_t i, uint64_t *frame, double *bpm, int *pass)
{
    uint32_t nb = p->b - p->a + 1;
    uint32_t passes = p->npasses;
    if (i < p->cin_bars) {
        double bar_s = (double)p->bar_beats[p->s] * p->bar_beat_ticks[p->s] * p->spt_s;
        if (frame)
            *frame = (uint64_t)llround(p->cin_start + ((double)i * bar_s - p->cin_r0) * p->rate / p->cin_scale);
        if (bpm)
            *bpm = p->bpm_s * p->cin_scale;
        if (pass)
            *pass = -1;
        return 0;
    }
    uint64_t j = (uint64_t)i - p->cin_bars + p->lead; /* the first pass starts at bar s */
    if (j >= (uint64_t)nb * passes)
        return ETUDE_EINVAL;
    uint32_t k = (uint32_t)(j / nb), bar = p->a + (uint32_t)(j % nb);
    double rel = seconds_at(p, p->bar_tick[bar]) - p->sec_a;
    if (frame)
        *frame = (uint64_t)llround(p->start[k] + (rel - p->r0[k]) * p->rate / p->scale[k]);
    if (bpm) {
        double qpm = p->mf ? 60e6 / etude_midifile_tempo_at(p->mf, p->bar_tick[bar]) : p->fixed_bpm;
        *bpm = qpm * p->scale[k];
    }
    if (pass)
        *pass = (int)k;
    return 0;
}

uint64_t etude_practice_length(const etude_practice_t *p)
{
    return p->endless ? UINT64_MAX : (uint64_t)llround(p->start[p->npasses]);
}

int etude_practice_attach(etude_practice_t *p, etude_sequencer_t *seq)
{
    if (!p || !seq)
        return ETUDE_EINVAL;
    if (!p->endless)
        return 0;
    return etude_sequencer_set_loop(seq, etude_practice_pass_start(p, p->npasses - 1),
                                    etude_practice_pass_start(p, p->npasses));
}

int etude_practice_set_tempo_scale(etude_practice_t *p, etude_sequencer_t *seq, double scale)
{
    if (!p || !seq || !(scale >= 0.1 && scale <= 4.0))
        return ETUDE_EINVAL;
    if (p->trainer)
        return ETUDE_ESTATE;
    double pos = (double)etude_sequencer_position(seq);
    double rate = p->rate;
    uint32_t n = p->npasses;
    if (p->endless && !p->lead) {
        /* The sequencer's loop replays pass 0 from its start: keep that start, stretch the pass,
         * and relocate to the same musical point. */
        if (pos < p->start[0]) {
            double rel = p->cin_r0 + (pos - p->cin_start) * p->cin_scale / rate;
            p->cin_start = 0;
            p->cin_r0 = 0;
            p->cin_scale = scale;
            p->start[0] = p->cin_seconds * rate / scale;
            pos = rel * rate / scale;
        } else {
            double rel = (pos - p->start[0]) * p->scale[0] / rate;
            pos = p->start[0] + rel * rate / scale;
        }
        p->scale[0] = scale;
        p->start[1] = p->start[0] + p->region_seconds * rate / scale;
        int rc = etude_sequencer_set_loop(seq, etude_practice_pass_start(p, 0), etude_practice_pass_start(p, 1));
        return rc ? rc : etude_sequencer_locate(seq, (uint64_t)llround(pos));
    }
    uint32_t k = 0;
    if (p->endless && pos >= p->start[1]) {
        /* in the looped pass after a first pass from bar s: keep its start (the loop's), stretch it,
         * and relocate to the same musical point */
        double rel = (pos - p->start[1]) * p->scale[1] / rate;
        p->scale[1] = scale;
        p->start[2] = p->start[1] + p->region_seconds * rate / scale;
        int rc = etude_sequencer_set_loop(seq, etude_practice_pass_start(p, 1), etude_practice_pass_start(p, 2));
        return rc ? rc : etude_sequencer_locate(seq, (uint64_t)llround(p->start[1] + rel * rate / scale));
    }
    if (pos < p->start[0]) { /* in the count-in: re-anchor it, every pass follows */
        p->cin_r0 += (pos - p->cin_start) * p->cin_scale / rate;
        p->cin_start = pos;
        p->cin_scale = scale;
        p->start[0] = pos + (p->cin_seconds - p->cin_r0) * rate / scale;
    } else {
        while (k + 1 < n && p->start[k + 1] <= pos)
            k++;
        if (pos >= p->start[n])
            return 0; /* the material is over */
        p->r0[k] += (pos - p->start[k]) * p->scale[k] / rate;
        p->start[k] = pos;
    }
    for (uint32_t j = k; j < n; j++) {
        p->scale[j] = scale;
        if (j > k)
            p->r0[j] = 0;
        p->start[j + 1] = p->start[j] + (p->region_seconds - p->r0[j]) * rate / scale;
    }
    if (p->endless) { /* the looped pass moved */
        int rc = etude_sequencer_set_loop(seq, etude_practice_pass_start(p, 1), etude_practice_pass_start(p, 2));
        if (rc)
            return rc;
    }
    return etude_sequencer_invalidate(seq);
}

/* ---------------------------------------------------------------------------------------------
 * Sources
 */

static int push(tev_t **arr, size_t *n, size_t *cap, double rel, const etude_event_t *ev)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        tev_t *a = realloc(*arr, nc * sizeof *a);
        if (!a)
            return ETUDE_ENOMEM;
        *arr = a;
        *cap = nc;
    }
    (*arr)[*n].rel = rel;
    (*arr)[(*n)++].ev = *ev;
    return 0;
}

static psrc_t *psrc_new(etude_practice_t *p)
{
    psrc_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = etude_practice_ref(p);
    return s;
}

static void psrc_free(void *self)
{
    psrc_t *s = self;
    if (!s)
        return;
    etude_practice_unref(s->p);
    free(s->pre);
    free(s->cin);
    free(s->reg);
    free(s);
}

static int64_t cin_pos(const psrc_t *s, const tev_t *t)
{
    const etude_practice_t *p = s->p;
    return llround(p->cin_start + (t->rel - p->cin_r0) * p->rate / p->cin_scale);
}

static int64_t reg_pos(const psrc_t *s, uint32_t k, const tev_t *t)
{
    const etude_practice_t *p = s->p;
    return llround(p->start[k] + (t->rel - p->r0[k]) * p->rate / p->scale[k]);
}

static size_t first_at(const psrc_t *s, const tev_t *arr, size_t n, int k, uint64_t from)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t pos = k < 0 ? cin_pos(s, &arr[mid]) : reg_pos(s, (uint32_t)k, &arr[mid]);
        if (pos < (int64_t)from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int psrc_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    psrc_t *s = self;
    const etude_practice_t *p = s->p;
    int rc;
    if (from >= to)
        return 0;
    if (from == 0)
        for (size_t i = 0; i < s->npre; i++)
            if ((rc = emit(ctx, 0, &s->pre[i].ev)))
                return rc;
    for (size_t i = first_at(s, s->cin, s->ncin, -1, from); i < s->ncin; i++) {
        int64_t pos = cin_pos(s, &s->cin[i]);
        if (pos >= (int64_t)to)
            return 0;
        if (pos < llround(p->cin_start))
            continue; /* played before a tempo change re-anchored the count-in */
        if ((rc = emit(ctx, (uint64_t)pos, &s->cin[i].ev)))
            return rc;
    }
    /* first pass whose end is after from */
    uint32_t lo = 0, hi = p->npasses;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (llround(p->start[mid + 1]) <= (int64_t)from)
            lo = mid + 1;
        else
            hi = mid;
    }
    const etude_event_t off = {.kind = ETUDE_EV_ALL_NOTES_OFF};
    for (uint32_t k = lo; k < p->npasses; k++) {
        int64_t sk = llround(p->start[k]), ek = llround(p->start[k + 1]);
        if (sk >= (int64_t)to)
            return 0;
        for (size_t i = first_at(s, s->reg, s->nreg, (int)k, from); i < s->nreg; i++) {
            int64_t pos = reg_pos(s, k, &s->reg[i]);
            if (pos >= (int64_t)to)
                return 0;
            if (pos < sk)
                continue; /* played before a tempo change re-anchored this pass */
            if ((rc = emit(ctx, (uint64_t)pos, &s->reg[i].ev)))
                return rc;
        }
        bool last = k + 1 == p->npasses;
        if ((s->off_each_pass || (last && !p->endless)) && ek >= (int64_t)from && ek < (int64_t)to)
            if ((rc = emit(ctx, (uint64_t)ek, &off)))
                return rc;
    }
    return 0;
}

static uint64_t psrc_length(void *self)
{
    const psrc_t *s = self;
    /* An endless practice (the sequencer's loop over pass 0) never ends: a renderer needs a duration. */
    return s->p->endless ? UINT64_MAX : (uint64_t)llround(s->p->start[s->p->npasses]);
}

const etude_source_class_t etude_practice_source_class = {
    .kind = "practice",
    .expand = psrc_expand,
    .length = psrc_length,
    .destroy = psrc_free,
};

void *etude_practice_midi_source(etude_practice_t *p, size_t part)
{
    if (!p || !p->mf || part >= etude_midifile_parts(p->mf))
        return NULL;
    psrc_t *s = psrc_new(p);
    if (!s)
        return NULL;
    s->off_each_pass = true;
    size_t n, cpre = 0, creg = 0;
    const etude_midi_msg_t *m = etude_midifile_part_msgs(p->mf, part, &n);
    for (size_t i = 0; i < n; i++) {
        uint8_t kind = m[i].status & 0xf0;
        etude_event_t ev = {0};
        if (kind == 0x90 || kind == 0x80) {
            ev.kind = kind == 0x90 ? ETUDE_EV_NOTE_ON : ETUDE_EV_NOTE_OFF;
            ev.u.note.channel = m[i].status & 0x0f;
            ev.u.note.key = m[i].d1;
            ev.u.note.velocity = m[i].d2;
        } else {
            ev.kind = ETUDE_EV_PARAM;
            ev.u.param.id = ETUDE_MIDI_PARAM_ID(m[i].status, kind == 0xe0 ? 0 : m[i].d1);
            ev.u.param.value = kind == 0xe0 ? (float)(m[i].d1 | m[i].d2 << 7)
                               : (kind == 0xc0 || kind == 0xd0) ? m[i].d1 : m[i].d2;
        }
        int rc = 0;
        if (m[i].tick < p->ta) {
            if (ev.kind == ETUDE_EV_PARAM) /* controllers and programs in force at bar A */
                rc = push(&s->pre, &s->npre, &cpre, 0, &ev);
        } else if (m[i].tick < p->tb) {
            rc = push(&s->reg, &s->nreg, &creg, seconds_at(p, m[i].tick) - p->sec_a, &ev);
        }
        if (rc) {
            psrc_free(s);
            return NULL;
        }
    }
    return s;
}

/* The click level of beat j of a bar of `beats` beats: the pattern's when it fits the bar, else an
 * accent on the first beat and normal ones after; -1 for a silent beat. */
static int click_level(const char *pattern, size_t plen, uint32_t beats, uint32_t j)
{
    if (plen == beats)
        return pattern[j] == 'X' ? ETUDE_CLICK_ACCENT : pattern[j] == 'x' ? ETUDE_CLICK_NORMAL : -1;
    return j == 0 ? ETUDE_CLICK_ACCENT : ETUDE_CLICK_NORMAL;
}

void *etude_practice_click_source(etude_practice_t *p, bool every_pass)
{
    return etude_practice_pattern_click_source(p, every_pass, NULL);
}

void *etude_practice_pattern_click_source(etude_practice_t *p, bool every_pass, const char *pattern)
{
    size_t plen = pattern ? strlen(pattern) : 0;
    if (!p || strspn(pattern ? pattern : "", "Xx.") != plen)
        return NULL;
    psrc_t *s = psrc_new(p);
    if (!s)
        return NULL;
    size_t ccin = 0, creg = 0;
    etude_event_t ev = {.kind = ETUDE_EV_CLICK};
    ev.u.click.gain = 1.0f;
    uint32_t beats = p->bar_beats[p->s];
    double beat_s = p->bar_beat_ticks[p->s] * p->spt_s;
    for (uint32_t bar = 0; bar < p->cin_bars; bar++)
        for (uint32_t j = 0; j < beats; j++) {
            int level = click_level(pattern, plen, beats, j);
            if (level < 0)
                continue;
            ev.u.click.level = (uint8_t)level;
            if (push(&s->cin, &s->ncin, &ccin, ((double)bar * beats + j) * beat_s, &ev)) {
                psrc_free(s);
                return NULL;
            }
        }
    for (uint32_t bar = p->a; every_pass && bar <= p->b; bar++)
        for (uint32_t j = 0; j < p->bar_beats[bar]; j++) {
            int level = click_level(pattern, plen, p->bar_beats[bar], j);
            if (level < 0)
                continue;
            ev.u.click.level = (uint8_t)level;
            uint64_t tick = p->bar_tick[bar] + (uint64_t)j * p->bar_beat_ticks[bar];
            if (push(&s->reg, &s->nreg, &creg, seconds_at(p, tick) - p->sec_a, &ev)) {
                psrc_free(s);
                return NULL;
            }
        }
    return s;
}

void *etude_practice_bar_source(etude_practice_t *p, const etude_event_t *tmpl)
{
    if (!p || !tmpl)
        return NULL;
    psrc_t *s = psrc_new(p);
    if (!s)
        return NULL;
    size_t ccin = 0, creg = 0;
    double bar_s = (double)p->bar_beats[p->s] * p->bar_beat_ticks[p->s] * p->spt_s;
    for (uint32_t bar = 0; bar < p->cin_bars; bar++)
        if (push(&s->cin, &s->ncin, &ccin, bar * bar_s, tmpl)) {
            psrc_free(s);
            return NULL;
        }
    for (uint32_t bar = p->a; bar <= p->b; bar++)
        if (push(&s->reg, &s->nreg, &creg, seconds_at(p, p->bar_tick[bar]) - p->sec_a, tmpl)) {
            psrc_free(s);
            return NULL;
        }
    return s;
}

void *etude_practice_bar_events_source(etude_practice_t *p, etude_practice_bar_events_fn fn, void *user)
{
    if (!p || !fn)
        return NULL;
    psrc_t *s = psrc_new(p);
    if (!s)
        return NULL;
    size_t ccin = 0, creg = 0;
    etude_event_t ev[4];
    double bar_s = (double)p->bar_beats[p->s] * p->bar_beat_ticks[p->s] * p->spt_s;
    size_t n = fn(p->s, user, ev, 4);
    for (uint32_t bar = 0; bar < p->cin_bars; bar++)
        for (size_t i = 0; i < n && i < 4; i++)
            if (push(&s->cin, &s->ncin, &ccin, bar * bar_s, &ev[i])) {
                psrc_free(s);
                return NULL;
            }
    for (uint32_t bar = p->a; bar <= p->b; bar++) {
        n = fn(bar, user, ev, 4);
        for (size_t i = 0; i < n && i < 4; i++)
            if (push(&s->reg, &s->nreg, &creg, seconds_at(p, p->bar_tick[bar]) - p->sec_a, &ev[i])) {
                psrc_free(s);
                return NULL;
            }
    }
    return s;
}

void *etude_practice_pattern_source(etude_practice_t *p, const char *pattern, uint8_t key)
{
    if (!p || !pattern || !pattern[0])
        return NULL;
    size_t steps = strlen(pattern);
    for (size_t i = 0; i < steps; i++)
        if (pattern[i] != 'X' && pattern[i] != 'x' && pattern[i] != '.')
            return NULL;
    psrc_t *s = psrc_new(p);
    if (!s)
        return NULL;
    size_t creg = 0;
    for (uint32_t bar = p->a; bar <= p->b; bar++) {
        uint64_t t0 = p->bar_tick[bar], len = p->bar_tick[bar + 1] - t0;
        for (size_t i = 0; i < steps; i++) {
            if (pattern[i] == '.')
                continue;
            etude_event_t ev = {.kind = ETUDE_EV_NOTE_ON};
            ev.u.note.key = key & 127;
            ev.u.note.velocity = pattern[i] == 'X' ? 127 : 90;
            uint64_t tick = t0 + len * i / steps;
            if (push(&s->reg, &s->nreg, &creg, seconds_at(p, tick) - p->sec_a, &ev)) {
                psrc_free(s);
                return NULL;
            }
        }
    }
    return s;
}
