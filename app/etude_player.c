/* etude_player.c - the player: material in an engine, transport, tempo, voices, JACK transport
 * following, MIDI timing, and the bus messages of docs/bus-topics.md. */
#include "etude_player.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etude_click.h"
#include "etude_drone.h"
#include "etude_material.h"
#include "etude_practice.h"
#include "etude_presets.h"
#include "etude_tempomap.h"
#include "etude_timeline.h"

#define MAX_VOICES 64
#define MAX_GRID 1000000u      /* beats kept for timing analysis and the timebase master */
#define LOOKAHEAD_MS 150       /* the sequencers' lookahead */
#define LOOP_SLEEP_US 10000    /* follow/master: the control side of the slow-sync handshake */
#define IDLE_WAIT_MS 50        /* off mode: longest wait, a third of the lookahead */
#define TIMING_EVERY_S 5.0     /* session/timing publication */
#define END_TAIL_S 0.5         /* off mode: play on after the material's end */

typedef struct pvoice {
    etude_voice_id_t id;
    char name[64];
    char kind[32];
    float gain; /* the preset's volume; OSC gain replaces it, OSC volume scales all */
    bool mute, solo;
} pvoice_t;

struct etude_player {
    int mode;
    char command[16];
    char material[512];
    char preset_path[512]; /* "" when the material is not a preset file */

    etude_jack_t *jack; /* NULL: offline */
    etude_engine_t *engine;
    etude_sequencer_t *seq;
    etude_bus_t *bus;
    etude_timing_t *timing;
    etude_preset_t *preset;
    etude_practice_t *practice; /* the voices' shared practice (a reference), or NULL */
    const etude_tempomap_t *map;
    uint32_t rate;

    pvoice_t voices[MAX_VOICES];
    size_t nvoices;
    float volume;

    bool playing;         /* a transport start was published and no stop yet */
    uint64_t start_engine_frame;
    uint64_t frames_played;
    uint64_t next_bar;    /* bar index whose start is the next to announce */
    int last_pass;        /* practice material: the pass of the last bar announced */
    uint64_t loops_seen;
    uint64_t xruns_seen;
    uint64_t buffer_changes_seen;
    uint64_t notes_unmatched;
    double last_timing_pub;
    double end_at; /* OFF: when the tail after the material's end is over (0: not yet ended) */
    bool quit;
    const char *reason;
    char message[300]; /* why the player stopped by itself, for the front end */

    /* OSC tempo changes (off mode, click material): the map rewritten at a tempo scale, played by
     * its own sequencer while the scale is not 1 */
    double scale;
    etude_tempomap_t *scaled_map;
    etude_sequencer_t *scaled_seq;

    /* follow mode under another timebase master: clicks on its beats, from a second sequencer */
    etude_sequencer_t *bbt_seq;
    bool ext_active;

    /* the practice timeline (etude_player_set_timeline()) of click material: the map rewritten to
     * play it, the bar where its endless loop starts (UINT64_MAX: none), and whether the trainer
     * plans its tempi */
    etude_tempomap_t *timeline_map;
    uint64_t timeline_loop_bar;
    bool timeline_trainer;
    bool timeline_endless; /* it plays an endless map's last entry (written out as 900 hours) */
    uint32_t timeline_cin_bars; /* the rewritten map's count-in bars, first */
    etude_timeline_layout_t timeline_layout; /* the material's bar of each bar of timeline_map */

    /* live: tap tempo and the tempo reached (etude_player_tap(), etude_player_tempo_reached()) */
    double taps[ETUDE_PLAYER_TAPS];
    int ntaps;
    bool span_valid;  /* the audio played on continuously from span_pos, folded so far */
    uint64_t span_pos;
    uint64_t fold_next; /* the first beat start after the last fold (0: fold on the next call) */
    double reached_lo, reached_hi;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* JSON string escaping for payloads built here. */
static void json_str(char *out, size_t len, const char *s)
{
    size_t o = 0;
    if (len < 3)
        return;
    out[o++] = '"';
    for (; s && *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = 0;
}

static void publish(etude_player_t *p, const char *topic, const char *name, const char *json)
{
    if (p->bus)
        etude_bus_publish(p->bus, topic, name, json);
}

/* ---------------------------------------------------------------------------------------------
 * Material: the tempo map's beats for timing analysis, bars and the timebase master. */

static double beat_bpm_jack(const etude_tempomap_t *map, const etude_tempomap_beat_t *b)
{
    const etude_tempomap_entry_t *e = etude_tempomap_entry(map, b->entry);
    return b->bpm * (e ? e->denom : 4) / 4.0; /* JACK counts beats of beat_type, klick quarters */
}

static int setup_grids(etude_player_t *p)
{
    if (!p->map)
        return ETUDE_OK;
    uint64_t nb = etude_tempomap_beat_count(p->map);
    if (nb > MAX_GRID)
        nb = MAX_GRID;
    uint64_t *frames = malloc(nb * sizeof *frames + 1);
    etude_jack_beat_t *beats = malloc(nb * sizeof *beats + 1);
    if (!frames || !beats) {
        free(frames);
        free(beats);
        return ETUDE_ENOMEM;
    }
    size_t n = 0;
    for (uint64_t i = 0; i < nb; i++) {
        etude_tempomap_beat_t b;
        if (etude_tempomap_beat(p->map, i, &b) < 0)
            break;
        uint64_t f = etude_tempomap_beat_frame(p->map, i, p->rate);
        if (n && f <= frames[n - 1])
            continue; /* beats closer than a frame: keep the first */
        const etude_tempomap_entry_t *e = etude_tempomap_entry(p->map, b.entry);
        frames[n] = f;
        beats[n] = (etude_jack_beat_t){
            .frame = f,
            .bar = (int32_t)b.bar + 1,
            .beat = (int32_t)b.beat_in_bar + 1,
            .beats_per_bar = e ? (float)e->beats : 4.0f,
            .beat_type = e ? (float)e->denom : 4.0f,
            .bpm = beat_bpm_jack(p->map, &b),
        };
        n++;
    }
    int rc = etude_timing_set_grid(p->timing, frames, n);
    if (rc == ETUDE_OK && p->jack && p->mode == ETUDE_JACK_TRANSPORT_MASTER)
        rc = etude_jack_set_beats(p->jack, beats, n);
    free(frames);
    free(beats);
    return rc;
}

/* The sequencer playing now: the master's beats, the tempo-scaled map, or the preset. */
static etude_sequencer_t *active_seq(const etude_player_t *p)
{
    return p->ext_active ? p->bbt_seq : p->scaled_seq ? p->scaled_seq : p->seq;
}

static etude_practice_t *practice(const etude_player_t *p);
static double map_tempo_at(const etude_player_t *p, uint64_t pos);
static bool map_beat_at(const etude_player_t *p, uint64_t pos, etude_tempomap_beat_t *b);
static void fold_reached(etude_player_t *p);
static void reach(etude_player_t *p, double bpm);

/* The click material's map as written, or as its timeline rewrote it (before any tempo scale). */
static const etude_tempomap_t *base_map(const etude_player_t *p)
{
    return p->timeline_map ? p->timeline_map : p->preset ? etude_preset_tempomap(p->preset) : NULL;
}

/* Practice material (MIDI presets): the first bar played (etude_practice_bar_info()) at or after
 * material position pos, or UINT64_MAX. An endless practice's position stays inside pass 0. */
static uint64_t practice_bar_at(const etude_player_t *p, uint64_t pos)
{
    const etude_practice_t *pr = practice(p);
    uint64_t f;
    for (uint32_t i = 0; pr && etude_practice_bar_info(pr, i, &f, NULL, NULL) == 0; i++)
        if (f >= pos)
            return i;
    return UINT64_MAX;
}

/* The bar at or after material position pos. */
static uint64_t bar_at(const etude_player_t *p, uint64_t pos)
{
    if (!p->map)
        return practice_bar_at(p, pos);
    uint64_t beat = etude_tempomap_beat_at_frame(p->map, pos, p->rate);
    etude_tempomap_beat_t b;
    if (etude_tempomap_beat(p->map, beat, &b) < 0)
        return UINT64_MAX;
    return b.beat_in_bar == 0 ? b.bar : b.bar + 1;
}

/* Announce the practice's bars the audio has reached, and a loop at each new pass of a laid-out
 * loop or speed trainer (an endless loop's jumps are announced from the sequencer's count). */
static void announce_practice_bars(etude_player_t *p)
{
    const etude_practice_t *pr = practice(p);
    if (!pr || !p->playing || p->ext_active || !etude_sequencer_rolling(active_seq(p)))
        return;
    uint64_t pos = etude_sequencer_position(active_seq(p)), f;
    double bpm;
    int pass;
    for (int guard = 0; guard < 64 && p->next_bar != UINT64_MAX; guard++) {
        if (p->next_bar > UINT32_MAX || etude_practice_bar_info(pr, (uint32_t)p->next_bar, &f, &bpm, &pass)) {
            p->next_bar = UINT64_MAX;
            return;
        }
        if (f > pos)
            return;
        char json[200];
        if (etude_practice_passes(pr) != UINT32_MAX && pass > p->last_pass && pass > 0) {
            snprintf(json, sizeof json, "{\"count\":%d}", pass);
            publish(p, "transport", "loop", json);
        }
        p->last_pass = pass;
        uint64_t eng = etude_engine_now(p->engine) - (pos - f);
        snprintf(json, sizeof json, "{\"bar\":%llu,\"bpm\":%.6g,\"section\":\"%s\",\"frame\":%llu}",
                 (unsigned long long)p->next_bar, bpm, pass < 0 ? "count-in" : "", (unsigned long long)eng);
        publish(p, "transport", "bar", json);
        p->next_bar++;
    }
}

static void announce_bars(etude_player_t *p)
{
    if (!p->map) {
        announce_practice_bars(p);
        return;
    }
    if (!p->playing || p->ext_active || !etude_sequencer_rolling(active_seq(p)))
        return;
    uint64_t pos = etude_sequencer_position(active_seq(p));
    for (int guard = 0; guard < 64 && p->next_bar != UINT64_MAX; guard++) {
        uint64_t first = etude_tempomap_bar_first_beat(p->map, p->next_bar);
        if (first == UINT64_MAX) {
            p->next_bar = UINT64_MAX;
            return;
        }
        uint64_t f = etude_tempomap_beat_frame(p->map, first, p->rate);
        if (f > pos)
            return;
        etude_tempomap_beat_t b;
        if (etude_tempomap_beat(p->map, first, &b) < 0)
            return;
        char sec[160], json[400];
        /* a timeline's count-in bars are named as practice material names them */
        json_str(sec, sizeof sec, p->next_bar < p->timeline_cin_bars ? "count-in" : b.section ? b.section : "");
        uint64_t eng = etude_engine_now(p->engine) - (pos - f);
        snprintf(json, sizeof json, "{\"bar\":%llu,\"bpm\":%.6g,\"section\":%s,\"frame\":%llu}",
                 (unsigned long long)p->next_bar, b.bpm, sec, (unsigned long long)eng);
        publish(p, "transport", "bar", json);
        p->next_bar++;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Following another timebase master: a source of clicks on the master's beats, extrapolated from
 * the BBT position of the latest period (beat length from its BPM, the current beat's start from
 * its tick, so within one tick of the master's beat). Material frames are transport frames. */

typedef struct bbt_source {
    etude_jack_t *jack;
    uint32_t rate;
} bbt_source_t;

/* The master's beat grid from the latest period: *b0 the current beat's start, *len the beat length. */
static bool bbt_grid(etude_jack_t *jack, uint32_t rate, etude_jack_transport_t *t, double *b0, double *len)
{
    if (!etude_jack_transport(jack, t) || !t->bbt_valid || t->bbt_ours || !(t->bpm > 0) ||
        !(t->ticks_per_beat > 0) || !(t->beats_per_bar >= 1))
        return false;
    *len = 60.0 * rate / t->bpm;
    *b0 = (double)t->frame - (double)t->tick / t->ticks_per_beat * *len;
    return true;
}

static int bbt_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    bbt_source_t *b = self;
    etude_jack_transport_t t;
    double b0, len;
    if (!bbt_grid(b->jack, b->rate, &t, &b0, &len))
        return ETUDE_OK;
    int64_t bpb = (int64_t)t.beats_per_bar;
    for (int64_t k = (int64_t)ceil(((double)from - b0) / len - 1e-9);; k++) {
        double pos = b0 + (double)k * len;
        if (pos < 0)
            continue;
        uint64_t f = (uint64_t)llround(pos);
        if (f >= to)
            break;
        if (f < from)
            continue;
        int64_t in_bar = ((t.beat - 1 + k) % bpb + bpb) % bpb;
        etude_event_t ev = {.kind = ETUDE_EV_CLICK};
        ev.u.click.level = in_bar == 0 ? ETUDE_CLICK_ACCENT : ETUDE_CLICK_NORMAL;
        ev.u.click.gain = 1.0f;
        int rc = emit(ctx, f, &ev);
        if (rc < 0)
            return rc;
    }
    return ETUDE_OK;
}

static uint64_t bbt_length(void *self)
{
    (void)self;
    return UINT64_MAX;
}

static void bbt_destroy(void *self)
{
    free(self);
}

static const etude_source_class_t bbt_source_class = {
    .kind = "jack-bbt", .expand = bbt_expand, .length = bbt_length, .destroy = bbt_destroy};

/* In follow mode, with a click voice: the second sequencer that clicks on a master's beats. */
static int setup_bbt(etude_player_t *p)
{
    if (p->mode != ETUDE_JACK_TRANSPORT_FOLLOW)
        return ETUDE_OK;
    etude_voice_id_t click = 0;
    for (size_t i = 0; i < p->nvoices && !click; i++)
        if (!strcmp(p->voices[i].kind, "click"))
            click = p->voices[i].id;
    if (!click)
        return ETUDE_OK;
    bbt_source_t *b = calloc(1, sizeof *b);
    if (!b)
        return ETUDE_ENOMEM;
    b->jack = p->jack;
    b->rate = p->rate;
    int rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &p->bbt_seq);
    if (rc == ETUDE_OK)
        rc = etude_sequencer_add_source(p->bbt_seq, &bbt_source_class, b, click, NULL);
    else
        free(b);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Transport messages. */

static void publish_start(etude_player_t *p)
{
    if (p->playing)
        return;
    char mat[600], pre[600], voices[MAX_VOICES * 160 + 4];
    json_str(mat, sizeof mat, p->material);
    if (p->preset_path[0])
        json_str(pre, sizeof pre, p->preset_path);
    else
        snprintf(pre, sizeof pre, "null");
    size_t o = 0;
    voices[o++] = '[';
    for (size_t i = 0; i < p->nvoices; i++) {
        char nm[160];
        json_str(nm, sizeof nm, p->voices[i].name);
        o += (size_t)snprintf(voices + o, sizeof voices - o, "%s{\"name\":%s,\"kind\":\"%s\",\"mute\":%s}",
                              i ? "," : "", nm, p->voices[i].kind, p->voices[i].mute ? "true" : "false");
    }
    snprintf(voices + o, sizeof voices - o, "]");
    char bpm[32] = "null";
    etude_tempomap_beat_t b;
    double first_bpm;
    const etude_practice_t *pr = practice(p);
    if (p->map && etude_tempomap_beat(p->map, 0, &b) == 0)
        snprintf(bpm, sizeof bpm, "%.6g", b.bpm);
    else if (pr && etude_practice_bar_info(pr, 0, NULL, &first_bpm, NULL) == 0)
        snprintf(bpm, sizeof bpm, "%.6g", first_bpm);
    size_t len = strlen(mat) + strlen(pre) + strlen(voices) + 200;
    char *json = malloc(len);
    if (!json)
        return;
    snprintf(json, len,
             "{\"command\":\"%s\",\"preset\":%s,\"material\":%s,\"tempo_bpm\":%s,\"rate\":%u,"
             "\"voices\":%s}",
             p->command, pre, mat, bpm, p->rate, voices);
    publish(p, "transport", "start", json);
    free(json);
    p->playing = true;
    p->start_engine_frame = etude_engine_now(p->engine);
    p->reached_lo = p->reached_hi = 0;
    p->span_pos = etude_sequencer_position(active_seq(p)); /* the tempo reached is folded from here */
    p->span_valid = etude_sequencer_rolling(active_seq(p));
    p->fold_next = 0;
    if (p->span_valid)
        reach(p, map_tempo_at(p, p->span_pos));
}

static void publish_stop(etude_player_t *p, const char *reason)
{
    if (!p->playing)
        return;
    p->frames_played += etude_engine_now(p->engine) - p->start_engine_frame;
    fold_reached(p);
    char json[192];
    snprintf(json, sizeof json, "{\"frames\":%llu,\"reason\":\"%s\",\"bpm_min\":%.6g,\"bpm_max\":%.6g}",
             (unsigned long long)(etude_engine_now(p->engine) - p->start_engine_frame), reason, p->reached_lo,
             p->reached_hi);
    publish(p, "transport", "stop", json);
    p->playing = false;
}

static void publish_locate(etude_player_t *p, uint64_t pos)
{
    char json[64];
    snprintf(json, sizeof json, "{\"pos\":%llu}", (unsigned long long)pos);
    publish(p, "transport", "locate", json);
    p->next_bar = bar_at(p, pos);
    p->span_valid = false; /* the tempo reached goes on from the new position */
}

static void publish_timing(etude_player_t *p)
{
    if (!p->jack)
        return; /* no MIDI input: no timing to report */
    etude_timing_result_t r;
    etude_timing_result(p->timing, &r);
    char json[256];
    etude_timing_json(&r, json, sizeof json);
    publish(p, "session", "timing", json);
    p->last_timing_pub = now_s();
}

/* ---------------------------------------------------------------------------------------------
 * Voices. */

static pvoice_t *voice_by_name(etude_player_t *p, const char *name)
{
    for (size_t i = 0; i < p->nvoices; i++)
        if (!strcmp(p->voices[i].name, name))
            return &p->voices[i];
    return NULL;
}

static void voice_msg(etude_player_t *p, const pvoice_t *v, const char *what, const char *value)
{
    char nm[160], json[320];
    json_str(nm, sizeof nm, v->name);
    snprintf(json, sizeof json, "{\"voice\":%s,\"kind\":\"%s\",\"value\":%s}", nm, v->kind, value);
    publish(p, "voice", what, json);
}

/* Instantiate the preset's voices and ports. */
static int add_material(etude_player_t *p, char *err, size_t errlen)
{
    size_t n = etude_preset_voice_count(p->preset);
    if (n > MAX_VOICES) {
        seterr(err, errlen, "%s: %zu voices (at most %d)", p->material, n, MAX_VOICES);
        return ETUDE_EINVAL;
    }
    etude_voice_id_t ids[MAX_VOICES];
    int rc = etude_preset_instantiate_practice(p->preset, p->engine, p->seq, ids, &p->practice, err, errlen);
    if (rc < 0)
        return rc;
    p->nvoices = n;
    for (size_t i = 0; i < n; i++) {
        const etude_preset_voice_t *pv = etude_preset_voice(p->preset, i);
        pvoice_t *v = &p->voices[i];
        memset(v, 0, sizeof *v);
        v->id = ids[i];
        snprintf(v->name, sizeof v->name, "%s", pv->name);
        snprintf(v->kind, sizeof v->kind, "%s", pv->kind ? pv->kind->kind : "voice");
        v->gain = pv->volume;
        v->mute = pv->mute;
        v->solo = pv->solo;
        if (p->volume != 1.0f)
            etude_voice_set_gain(p->engine, v->id, v->gain * p->volume);
        if (p->jack && (rc = etude_jack_add_voice_port(p->jack, v->id, v->name, err, errlen)) < 0)
            return rc;
    }
    p->map = etude_preset_tempomap(p->preset);
    return setup_grids(p);
}

/* ---------------------------------------------------------------------------------------------
 * Transport. */

int etude_player_start(etude_player_t *p, char *err, size_t len)
{
    if (p->mode != ETUDE_JACK_TRANSPORT_OFF)
        return etude_jack_transport_start(p->jack);
    if (etude_sequencer_rolling(active_seq(p)))
        return ETUDE_OK;
    int rc = etude_sequencer_start(active_seq(p), 0);
    if (rc < 0)
        seterr(err, len, "/etude/start: %s", etude_strerror(rc));
    else
        publish_start(p);
    return rc;
}

int etude_player_stop(etude_player_t *p, char *err, size_t len)
{
    if (p->mode != ETUDE_JACK_TRANSPORT_OFF)
        return etude_jack_transport_stop(p->jack);
    int rc = etude_sequencer_stop(active_seq(p));
    if (rc < 0) {
        seterr(err, len, "/etude/stop: %s", etude_strerror(rc));
    } else {
        if (p->playing) /* the notes played up to the stop belong to the session that ends */
            publish_timing(p);
        publish_stop(p, "stopped");
    }
    return rc;
}

int etude_player_locate(etude_player_t *p, double seconds, char *err, size_t len)
{
    uint64_t pos = (uint64_t)llround(seconds * p->rate);
    if (p->mode != ETUDE_JACK_TRANSPORT_OFF)
        return etude_jack_transport_locate(p->jack, pos);
    int rc = etude_sequencer_locate(active_seq(p), pos);
    if (rc < 0)
        seterr(err, len, "/etude/locate: %s", etude_strerror(rc));
    else
        publish_locate(p, pos);
    return rc;
}

/* The map's text with every tempo multiplied by f (an endless last entry gets as many bars as fit
 * in 900 hours). malloc'd; NULL when out of memory. */
static char *scaled_map_text(const etude_tempomap_t *m, double f)
{
    size_t cap = 4096, o = 0;
    char *t = malloc(cap);
    for (size_t i = 0; t && i < etude_tempomap_entry_count(m); i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(m, i);
        uint64_t nbeats = (uint64_t)(e->bars ? e->bars : 1) * e->beats;
        size_t need = 256 + (e->tempi ? nbeats * 24 : 0) + e->beats + sizeof e->label;
        if (o + need > cap) {
            cap = (o + need) * 2;
            char *nt = realloc(t, cap);
            if (!nt) {
                free(t);
                return NULL;
            }
            t = nt;
        }
        uint32_t bars = e->bars;
        if (!bars) {
            double bar_s = e->beats * 240.0 / (e->denom * e->tempo * f);
            double fit = floor(900.0 * 3600.0 / bar_s);
            bars = fit > ETUDE_TEMPOMAP_MAX_BARS ? ETUDE_TEMPOMAP_MAX_BARS : fit < 1 ? 1 : (uint32_t)fit;
        }
        if (e->label[0])
            o += (size_t)snprintf(t + o, cap - o, "%s: ", e->label);
        o += (size_t)snprintf(t + o, cap - o, "%u %u/%u ", bars, e->beats, e->denom);
        if (e->tempi) {
            for (uint64_t b = 0; b < nbeats; b++)
                o += (size_t)snprintf(t + o, cap - o, "%s%.9g", b ? "," : "", e->tempi[b] * f);
        } else {
            o += (size_t)snprintf(t + o, cap - o, "%.9g", e->tempo * f);
            if (e->tempo2 != 0)
                o += (size_t)snprintf(t + o, cap - o, "-%.9g", e->tempo2 * f);
        }
        t[o++] = ' ';
        for (uint32_t b = 0; b < e->beats; b++)
            t[o++] = e->pattern ? ".xX"[e->pattern[b] % 3] : b ? 'x' : 'X';
        o += (size_t)snprintf(t + o, cap - o, " %.9g\n", e->volume);
    }
    return t;
}

/* Material frame in map b of material frame pos of map a (same beats, other tempi): the same
 * fraction of the same beat. */
static uint64_t map_pos(const etude_tempomap_t *a, const etude_tempomap_t *b, uint64_t pos, uint32_t rate)
{
    uint64_t k = etude_tempomap_beat_at_frame(a, pos, rate); /* first beat at or after pos */
    if (k == 0)
        return pos;
    uint64_t fa0 = etude_tempomap_beat_frame(a, k - 1, rate), fa1 = etude_tempomap_beat_frame(a, k, rate);
    uint64_t fb0 = etude_tempomap_beat_frame(b, k - 1, rate), fb1 = etude_tempomap_beat_frame(b, k, rate);
    if (fa1 == UINT64_MAX || fb1 == UINT64_MAX || fa1 <= fa0)
        return fb0 == UINT64_MAX ? pos : fb0 + (pos - fa0);
    return fb0 + (uint64_t)llround((double)(pos - fa0) * (double)(fb1 - fb0) / (double)(fa1 - fa0));
}

/* The sequencer's practice (MIDI, sample, drone and practice voices), when the material has one. */
static etude_practice_t *practice(const etude_player_t *p)
{
    return p->seq ? p->practice : NULL;
}

/* Play the material at tempo scale. Practice material re-anchors its passes at the current
 * position (etude_practice_set_tempo_scale()), so the material frame stays the transport frame.
 * Click material is replaced by its map with every tempo scaled, on a second sequencer, at the same
 * fraction of the same beat: in off mode the sequencer moves there; in follow and master mode the
 * JACK transport is located there (the old material stops at once, the new one is armed by the
 * slow-sync handshake like any relocation), and in master mode the published BBT and BPM follow
 * the scaled map. Under another client's timebase the tempo is the transport's: refused. */
static uint64_t same_bar(const void *ctx, uint64_t bar)
{
    (void)ctx;
    return bar;
}

/* How the bars of map, a rewrite of the preset's tempo map (a tempo scale over the timeline's map,
 * if any), are the preset map's bars. */
static etude_drone_bar_map_t rewritten_bars(const etude_player_t *p)
{
    etude_drone_bar_map_t m = {same_bar, NULL, 0};
    if (p->timeline_map)
        m = (etude_drone_bar_map_t){etude_timeline_bar_of, &p->timeline_layout, sizeof p->timeline_layout};
    return m;
}

/* The source of voice i of click material over map, a rewrite of the preset's tempo map whose bars
 * are the preset map's by bars: a click plays map, a drone following the preset map changes note at
 * the bars its changes name. ETUDE_EUNSUPPORTED for a voice that does not follow that map. */
static int map_voice_source(const etude_player_t *p, size_t i, const etude_tempomap_t *map,
                            const etude_drone_bar_map_t *bars, const etude_source_class_t **cls, void **src)
{
    *src = NULL;
    if (!strcmp(p->voices[i].kind, "click")) {
        *cls = &etude_click_source_class;
        return etude_click_source_create(map, p->rate, src);
    }
    const etude_tempomap_t *base = etude_preset_tempomap(p->preset);
    const etude_preset_voice_t *v = i < etude_preset_voice_count(p->preset) ? etude_preset_voice(p->preset, i) : NULL;
    if (!base || !v || strcmp(v->name, p->voices[i].name) || !v->kind->map_source)
        return ETUDE_EUNSUPPORTED;
    return v->kind->map_source(v->config, base, map, bars, p->rate, cls, src);
}

/* Whether every voice follows the preset's tempo map (rewritten), or which does not. */
static const pvoice_t *map_voice_astray(const etude_player_t *p)
{
    const etude_tempomap_t *base = etude_preset_tempomap(p->preset);
    etude_drone_bar_map_t same = {same_bar, NULL, 0};
    for (size_t i = 0; i < p->nvoices; i++) {
        const etude_source_class_t *cls = NULL;
        void *src = NULL;
        int rc = base ? map_voice_source(p, i, base, &same, &cls, &src) : ETUDE_EUNSUPPORTED;
        if (src)
            cls->destroy(src);
        if (rc == ETUDE_EUNSUPPORTED)
            return &p->voices[i];
    }
    return NULL;
}

/* A sequencer playing every voice over map (map_voice_source()). */
static int map_sequencer(const etude_player_t *p, const etude_tempomap_t *map, etude_sequencer_t **out)
{
    etude_drone_bar_map_t bars = rewritten_bars(p);
    etude_sequencer_t *ns = NULL;
    int rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &ns);
    for (size_t i = 0; rc == ETUDE_OK && i < p->nvoices; i++) {
        const etude_source_class_t *cls = NULL;
        void *src = NULL;
        rc = map_voice_source(p, i, map, &bars, &cls, &src);
        if (rc == ETUDE_OK && (rc = etude_sequencer_add_source(ns, cls, src, p->voices[i].id, NULL)) < 0)
            cls->destroy(src);
    }
    if (rc < 0) {
        etude_sequencer_destroy(ns);
        ns = NULL;
    }
    *out = ns;
    return rc;
}

/* The sequencer loop of an endless timeline over click material, on seq playing map. */
static int set_timeline_loop(const etude_player_t *p, etude_sequencer_t *seq, const etude_tempomap_t *map)
{
    if (p->timeline_loop_bar == UINT64_MAX)
        return ETUDE_OK;
    uint64_t a = etude_tempomap_beat_frame(map, etude_tempomap_bar_first_beat(map, p->timeline_loop_bar), p->rate);
    uint64_t b = etude_tempomap_frames(map, p->rate);
    return a < b && b != UINT64_MAX ? etude_sequencer_set_loop(seq, a, b) : ETUDE_EINVAL;
}

static int apply_scale(etude_player_t *p, const char *path, double scale, char *err, size_t len)
{
    const etude_tempomap_t *base = base_map(p);
    etude_practice_t *pr = practice(p);
    if (!(scale >= 0.1 && scale <= 4)) {
        seterr(err, len, "%s %g: expected a tempo scale of 0.1 .. 4", path, scale);
        return ETUDE_EINVAL;
    }
    etude_jack_transport_t t;
    bool ext = p->mode != ETUDE_JACK_TRANSPORT_OFF && etude_jack_transport(p->jack, &t) && t.bbt_valid &&
               !t.bbt_ours; /* also without a click voice, which is when ext_active stays false */
    if (p->ext_active || ext) {
        double bpm = ext ? t.bpm : 0;
        seterr(err, len, "%s: another JACK client is timebase master (%.6g bpm); the tempo is the transport's",
               path, bpm);
        return ETUDE_ESTATE;
    }
    if (pr) {
        if (base) {
            seterr(err, len, "%s: this preset mixes a click tempo map with practice material; "
                             "live tempo changes need one or the other", path);
            return ETUDE_EUNSUPPORTED;
        }
        int rc = etude_practice_set_tempo_scale(pr, p->seq, scale);
        if (rc == ETUDE_ESTATE)
            seterr(err, len, "%s: the speed trainer plans its own tempi", path);
        else if (rc < 0)
            seterr(err, len, "%s: %s", path, etude_strerror(rc));
        else
            p->scale = scale;
        return rc;
    }
    if (!base || !p->nvoices) {
        seterr(err, len, "%s: this material has no tempo map", path);
        return ETUDE_EUNSUPPORTED;
    }
    if (p->timeline_trainer) {
        seterr(err, len, "%s: the speed trainer plans its own tempi", path);
        return ETUDE_ESTATE;
    }
    const pvoice_t *astray = map_voice_astray(p);
    if (astray) {
        seterr(err, len, "%s: voice '%s' (%s) has no tempo map to scale", path, astray->name, astray->kind);
        return ETUDE_EUNSUPPORTED;
    }
    etude_tempomap_t *nm = NULL;
    etude_sequencer_t *ns = NULL;
    int rc = ETUDE_OK;
    if (fabs(scale - 1.0) > 1e-9) {
        char *text = scaled_map_text(base, scale);
        if (!text)
            return ETUDE_ENOMEM;
        rc = etude_tempomap_parse(text, strlen(text), path, &nm, err, len);
        free(text);
        if (rc < 0)
            return rc;
        rc = map_sequencer(p, nm, &ns);
        if (rc == ETUDE_OK)
            rc = set_timeline_loop(p, ns, nm);
        if (rc < 0) {
            etude_sequencer_destroy(ns);
            etude_tempomap_destroy(nm);
            seterr(err, len, "%s: %s", path, etude_strerror(rc));
            return rc;
        }
    }
    fold_reached(p); /* up to the change, on the old map */
    etude_sequencer_t *cur = active_seq(p);
    const etude_tempomap_t *cur_map = p->map;
    bool was = etude_sequencer_rolling(cur);
    uint64_t from = etude_sequencer_position(cur);
    if (p->mode != ETUDE_JACK_TRANSPORT_OFF && etude_jack_transport(p->jack, &t))
        from = t.frame; /* material frames are transport frames */
    uint64_t pos = map_pos(cur_map, nm ? nm : base, from, p->rate);
    etude_sequencer_stop(cur);
    etude_sequencer_t *next = ns ? ns : p->seq;
    rc = etude_sequencer_locate(next, pos);
    if (rc == ETUDE_OK && was && p->mode == ETUDE_JACK_TRANSPORT_OFF)
        rc = etude_sequencer_start(next, 0);
    /* the old scaled material goes once nothing refers to it */
    etude_sequencer_destroy(p->scaled_seq);
    etude_tempomap_destroy(p->scaled_map);
    p->scaled_seq = ns;
    p->scaled_map = nm;
    p->map = nm ? nm : base;
    p->scale = scale;
    p->span_valid = false;
    p->next_bar = bar_at(p, pos);
    int g = setup_grids(p);
    if (rc == ETUDE_OK)
        rc = g;
    if (rc == ETUDE_OK && p->mode != ETUDE_JACK_TRANSPORT_OFF)
        rc = etude_jack_transport_locate(p->jack, pos);
    if (rc < 0)
        seterr(err, len, "%s: %s", path, etude_strerror(rc));
    return rc;
}

int etude_player_tempo(etude_player_t *p, double bpm, char *err, size_t len)
{
    etude_tempomap_beat_t b;
    const etude_tempomap_t *base = base_map(p);
    etude_practice_t *pr = practice(p);
    if (!base && pr && etude_practice_pass_scale(pr, 0) > 0) {
        /* practice material: its tempo at bar A as written (quarter notes per minute) */
        b.bpm = etude_practice_pass_bpm(pr, 0) / etude_practice_pass_scale(pr, 0);
    } else if (!base || etude_tempomap_beat(base, 0, &b) < 0 || !(b.bpm > 0)) {
        seterr(err, len, "/etude/tempo: this material has no tempo map");
        return ETUDE_EUNSUPPORTED;
    }
    double scale = bpm / b.bpm;
    if (scale < 0.1 || scale > 4) {
        seterr(err, len, "/etude/tempo %g: a tempo scale of %.3g (expected %g .. %g bpm)", bpm, scale,
               0.1 * b.bpm, 4 * b.bpm);
        return ETUDE_EINVAL;
    }
    return apply_scale(p, "/etude/tempo", scale, err, len);
}

int etude_player_tempo_scale(etude_player_t *p, double scale, char *err, size_t len)
{
    return apply_scale(p, "/etude/tempo_scale", scale, err, len);
}

int etude_player_volume(etude_player_t *p, double gain, char *err, size_t len)
{
    (void)err;
    (void)len;
    p->volume = (float)gain;
    for (size_t i = 0; i < p->nvoices; i++)
        etude_voice_set_gain(p->engine, p->voices[i].id, p->voices[i].gain * p->volume);
    return ETUDE_OK;
}

static int voice_op(etude_player_t *p, const char *path, const char *name, char *err, size_t len, pvoice_t **v)
{
    *v = voice_by_name(p, name);
    if (*v)
        return ETUDE_OK;
    size_t o = (size_t)snprintf(err, len, "%s: no voice named '%s' (voices:", path, name);
    for (size_t i = 0; i < p->nvoices && o < len; i++)
        o += (size_t)snprintf(err + o, len - o, " %s", p->voices[i].name);
    if (o < len)
        snprintf(err + o, len - o, ")");
    return ETUDE_EINVAL;
}

int etude_player_voice_mute(etude_player_t *p, const char *name, bool on, char *err, size_t len)
{
    pvoice_t *v;
    int rc = voice_op(p, "/etude/voice/mute", name, err, len, &v);
    if (rc == ETUDE_OK && (rc = etude_voice_set_mute(p->engine, v->id, on)) == ETUDE_OK) {
        v->mute = on;
        voice_msg(p, v, "mute", on ? "true" : "false");
    }
    return rc;
}

int etude_player_voice_solo(etude_player_t *p, const char *name, bool on, char *err, size_t len)
{
    pvoice_t *v;
    int rc = voice_op(p, "/etude/voice/solo", name, err, len, &v);
    if (rc == ETUDE_OK && (rc = etude_voice_set_solo(p->engine, v->id, on)) == ETUDE_OK) {
        v->solo = on;
        voice_msg(p, v, "solo", on ? "true" : "false");
    }
    return rc;
}

int etude_player_voice_gain(etude_player_t *p, const char *name, double gain, char *err, size_t len)
{
    pvoice_t *v;
    int rc = voice_op(p, "/etude/voice/gain", name, err, len, &v);
    if (rc == ETUDE_OK && (rc = etude_voice_set_gain(p->engine, v->id, (float)gain * p->volume)) == ETUDE_OK) {
        char val[32];
        v->gain = (float)gain;
        snprintf(val, sizeof val, "%.6g", gain);
        voice_msg(p, v, "gain", val);
    }
    return rc;
}

int etude_player_voice_check(etude_player_t *p, const char *what, const char *name, char *err, size_t len)
{
    pvoice_t *v;
    return voice_op(p, what, name, err, len, &v);
}

int etude_player_voice_gain_db(etude_player_t *p, const char *name, double db, char *err, size_t len)
{
    pvoice_t *v;
    int rc = voice_op(p, "--gain", name, err, len, &v);
    if (rc < 0)
        return rc;
    double g = v->gain * pow(10.0, db / 20.0);
    if (!(db >= -120 && g <= 4)) {
        seterr(err, len, "--gain %s=%g: the voice's gain would be %.3g (expected -120 dB .. a gain of 4)", name, db, g);
        return ETUDE_EINVAL;
    }
    return etude_player_voice_gain(p, name, g, err, len);
}

/* Dispose of the material's voices and sequencers; wait up to wait_ms for the voices to be freed. */
static void remove_material(etude_player_t *p, uint32_t wait_ms)
{
    etude_sequencer_destroy(p->bbt_seq);
    p->bbt_seq = NULL;
    p->ext_active = false;
    etude_sequencer_destroy(p->scaled_seq);
    p->scaled_seq = NULL;
    etude_tempomap_destroy(p->scaled_map);
    p->scaled_map = NULL;
    p->scale = 1.0;
    etude_sequencer_destroy(p->seq); /* cancels its events, destroys its sources */
    p->seq = NULL;
    etude_tempomap_destroy(p->timeline_map);
    p->timeline_map = NULL;
    p->timeline_loop_bar = UINT64_MAX;
    p->timeline_trainer = false;
    p->timeline_endless = false;
    p->timeline_cin_bars = 0;
    etude_practice_unref(p->practice);
    p->practice = NULL;
    for (size_t i = 0; i < p->nvoices; i++) {
        if (p->jack)
            etude_jack_remove_voice_port(p->jack, p->voices[i].id);
        etude_voice_dispose(p->engine, p->voices[i].id);
    }
    p->nvoices = 0;
    etude_engine_dispose_all(p->engine, wait_ms);
}

int etude_player_load_preset(etude_player_t *p, etude_preset_t *np, const char *preset_path, const char *material,
                             char *err, size_t len)
{
    if (!np) {
        seterr(err, len, "no material");
        return ETUDE_EINVAL;
    }
    int rc;
    if (p->jack && (rc = etude_preset_check_realtime(np, err, len)) < 0) { /* live: nothing may allocate */
        etude_preset_destroy(np);
        return rc;
    }
    if (p->playing)
        publish_stop(p, "stopped");
    bool reload = p->seq || p->nvoices;
    if (reload)
        remove_material(p, 500);
    etude_preset_destroy(p->preset);
    p->preset = np;
    p->map = NULL;
    snprintf(p->preset_path, sizeof p->preset_path, "%s", preset_path ? preset_path : "");
    snprintf(p->material, sizeof p->material, "%s", material ? material : etude_preset_title(np));
    rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &p->seq);
    if (rc == ETUDE_OK)
        rc = add_material(p, err, len);
    else
        seterr(err, len, "%s: %s", p->material, etude_strerror(rc));
    if (rc == ETUDE_OK && (rc = setup_bbt(p)) < 0)
        seterr(err, len, "%s: cannot set up transport follow: %s", p->material, etude_strerror(rc));
    if (rc < 0)
        return rc;
    if (p->jack && reload) /* the new material follows the transport from where it is */
        etude_jack_follow_reset(p->jack);
    etude_timing_reset(p->timing);
    p->next_bar = 0;
    p->last_pass = -1;
    p->loops_seen = 0;
    p->end_at = 0;
    p->ntaps = 0;
    p->span_valid = false;
    return ETUDE_OK;
}

int etude_player_material_preset(const etude_player_material_t *m, etude_preset_t **out, char *err, size_t len)
{
    *out = NULL;
    int n = !!m->preset_path + !!m->map_path + !!m->click_line;
    if (n != 1) {
        seterr(err, len, "give one of a preset, a tempo map or a click line");
        return ETUDE_EINVAL;
    }
    if (m->preset_path && etude_presets_is_name(m->preset_path)) {
        char path[4400];
        int rc = etude_presets_find(m->preset_path, path, sizeof path, err, len);
        return rc < 0 ? rc : etude_preset_load(path, out, err, len);
    }
    const char *map_path = m->map_path;
    if (m->preset_path) {
        etude_material_kind_t kind;
        int rc = etude_material_kind(m->preset_path, &kind, err, len);
        if (rc < 0)
            return rc;
        if (m->soundfont && kind != ETUDE_MATERIAL_MIDI) {
            seterr(err, len, "--soundfont %s: only for MIDI files (%s is not one; a preset names its SoundFonts)",
                   m->soundfont, m->preset_path);
            return ETUDE_EINVAL;
        }
        if (kind == ETUDE_MATERIAL_PRESET)
            return etude_preset_load(m->preset_path, out, err, len);
        if (kind == ETUDE_MATERIAL_MIDI)
            return etude_material_midi_preset(m->preset_path, m->soundfont, out, err, len);
        map_path = m->preset_path;
    }
    etude_tempomap_t *map = NULL;
    int rc = map_path ? etude_tempomap_load(map_path, &map, err, len)
                         : etude_tempomap_parse_line(m->click_line, "--click", &map, err, len);
    if (rc < 0)
        return rc;
    const char *name = map_path ? map_path : m->click_line;
    const char *base = map_path ? strrchr(map_path, '/') : NULL; /* a map file is titled by its name */
    rc = etude_preset_from_tempomap(map, base && base[1] ? base + 1 : name, out);
    if (rc < 0) {
        etude_tempomap_destroy(map);
        seterr(err, len, "%s: %s", name, etude_strerror(rc));
    }
    return rc;
}

int etude_player_load(etude_player_t *p, const etude_player_material_t *m, char *err, size_t len)
{
    etude_preset_t *np = NULL;
    char path[4400];
    etude_player_material_t rm = *m;
    if (m->preset_path && etude_presets_is_name(m->preset_path)) { /* a preset by name: its file */
        int rc = etude_presets_find(m->preset_path, path, sizeof path, err, len);
        if (rc < 0)
            return rc;
        rm.preset_path = path;
    }
    int rc = etude_player_material_preset(&rm, &np, err, len);
    if (rc < 0)
        return rc;
    return etude_player_load_preset(p, np, rm.preset_path ? rm.preset_path : rm.map_path, NULL, err, len);
}

/* ---------------------------------------------------------------------------------------------
 * The practice timeline: count-in, loop, start bar, trainer. */

/* Instantiate the preset again (its practice override changed), keeping the voices' mute, solo
 * and gain as they were set. */
static int reinstantiate(etude_player_t *p, char *err, size_t len)
{
    pvoice_t saved[MAX_VOICES];
    size_t nsaved = p->nvoices;
    memcpy(saved, p->voices, nsaved * sizeof *saved);
    /* Offline, before the render, the old voices never sounded: the render's first periods fade
     * them out (silently) and the engine frees them; nothing to wait for. */
    remove_material(p, p->jack ? 500 : 0);
    int rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &p->seq);
    if (rc == ETUDE_OK)
        rc = add_material(p, err, len);
    else
        seterr(err, len, "%s: %s", p->material, etude_strerror(rc));
    if (rc == ETUDE_OK && (rc = setup_bbt(p)) < 0)
        seterr(err, len, "%s: cannot set up transport follow: %s", p->material, etude_strerror(rc));
    for (size_t i = 0; rc == ETUDE_OK && i < p->nvoices; i++) {
        pvoice_t *v = &p->voices[i];
        for (size_t k = 0; k < nsaved; k++) {
            if (strcmp(saved[k].name, v->name))
                continue;
            v->gain = saved[k].gain;
            v->mute = saved[k].mute;
            v->solo = saved[k].solo;
            etude_voice_set_gain(p->engine, v->id, v->gain * p->volume);
            etude_voice_set_mute(p->engine, v->id, v->mute);
            etude_voice_set_solo(p->engine, v->id, v->solo);
        }
    }
    return rc;
}

/* Practice material without a practice voice (a MIDI file) has no click for a count-in: add one,
 * a voice "count-in" that clicks the count-in only. */
static int add_count_in_voice(etude_player_t *p, char *err, size_t len)
{
    for (size_t i = 0; i < p->nvoices; i++)
        if (!strcmp(p->voices[i].kind, "practice"))
            return ETUDE_OK;
    if (p->nvoices == MAX_VOICES) {
        seterr(err, len, "--count-in: %s has %d voices already (no room for a count-in click)", p->material,
               MAX_VOICES);
        return ETUDE_EINVAL;
    }
    etude_click_config_t cc;
    etude_click_config_default(&cc);
    void *click = NULL;
    etude_voice_id_t id = 0;
    int rc = etude_click_create(&cc, p->rate, &click, err, len);
    if (rc < 0)
        return rc;
    if ((rc = etude_voice_add(p->engine, &etude_click_voice_class, click, "count-in", &id)) < 0) {
        etude_click_free(click);
        seterr(err, len, "--count-in: cannot add its click: %s", etude_strerror(rc));
        return rc;
    }
    pvoice_t *v = &p->voices[p->nvoices++];
    memset(v, 0, sizeof *v);
    v->id = id;
    snprintf(v->name, sizeof v->name, "count-in");
    snprintf(v->kind, sizeof v->kind, "click");
    v->gain = 1.0f;
    if (p->volume != 1.0f)
        etude_voice_set_gain(p->engine, id, p->volume);
    void *src = etude_practice_click_source(p->practice, false);
    rc = src ? etude_sequencer_add_source(p->seq, &etude_practice_source_class, src, id, NULL) : ETUDE_ENOMEM;
    if (rc < 0) {
        if (src)
            etude_practice_source_class.destroy(src);
        seterr(err, len, "--count-in: cannot add its click: %s", etude_strerror(rc));
        return rc;
    }
    if (p->jack && (rc = etude_jack_add_voice_port(p->jack, id, v->name, err, len)) < 0)
        return rc;
    return ETUDE_OK;
}

/* Practice material (MIDI files, practice presets): the preset's practice config overridden. */
static int timeline_practice(etude_player_t *p, const etude_timeline_t *t, char *err, size_t len)
{
    etude_practice_t *pr = practice(p);
    etude_timeline_bars_t b;
    int rc = etude_timeline_resolve(t, NULL, etude_practice_bars(pr), &b, err, len);
    if (rc < 0)
        return rc;
    etude_practice_override_t o;
    memset(&o, 0, sizeof o);
    o.count_in_set = t->count_in >= 0;
    o.count_in = t->count_in > 0 ? (uint32_t)t->count_in : 0;
    o.loop_set = b.loop;
    o.from_bar = b.from;
    o.to_bar = b.to;
    o.start_set = t->start[0] != 0;
    o.start_bar = b.start;
    o.times_set = t->loops >= 0;
    o.times = t->loops > 0 ? (uint32_t)t->loops : 0;
    o.trainer_set = t->trainer;
    o.start_bpm = t->start_bpm;
    o.step_bpm = t->step_bpm;
    o.target_bpm = t->target_bpm;
    o.every = t->every;
    if ((rc = etude_preset_set_practice_override(p->preset, &o)) < 0)
        return rc;
    char why[600];
    rc = reinstantiate(p, why, sizeof why);
    if (rc == ETUDE_OK && o.count_in > 0)
        rc = add_count_in_voice(p, why, sizeof why);
    if (rc == ETUDE_OK)
        return rc;
    /* the practice's own words name its config fields: name the flag instead */
    const char *m = strstr(why, "start_bar ") ? "--start" : strstr(why, "trainer") || strstr(why, "BPM") ? "--trainer"
                    : strstr(why, "from_bar") || strstr(why, "to_bar")                                 ? "--loop"
                    : strstr(why, "count_in")                                                           ? "--count-in"
                    : strstr(why, "times ")                                                             ? "--loops"
                                                                                                        : NULL;
    const char *at = strstr(why, "start_bar ");
    if (at && !b.loop)
        seterr(err, len, "--start '%s': bar %u is outside the preset's loop%s", t->start, b.start,
               strstr(at, " (bars") ? strstr(at, " (bars") : "");
    else if (m)
        seterr(err, len, "%s: %s", m, why);
    else
        seterr(err, len, "%s", why);
    /* leave the material as it was */
    etude_preset_set_practice_override(p->preset, NULL);
    char ignored[300];
    reinstantiate(p, ignored, sizeof ignored);
    return rc;
}

/* Click material: the map rewritten to play the timeline, on a sequencer of its own. */
static int timeline_click(etude_player_t *p, const etude_timeline_t *t, char *err, size_t len)
{
    const etude_tempomap_t *base = p->preset ? etude_preset_tempomap(p->preset) : NULL;
    if (!base || !p->nvoices) {
        seterr(err, len, "%s: this material has no bars to count", p->material);
        return ETUDE_EUNSUPPORTED;
    }
    const pvoice_t *astray = map_voice_astray(p);
    if (astray) {
        seterr(err, len, "%s: voice '%s' (%s) does not follow the tempo map", p->material, astray->name,
               astray->kind);
        return ETUDE_EUNSUPPORTED;
    }
    uint64_t nb = etude_tempomap_bar_count(base);
    etude_timeline_bars_t b;
    int rc = etude_timeline_resolve(t, base, nb >= UINT32_MAX ? UINT32_MAX : (uint32_t)nb, &b, err, len);
    if (rc < 0)
        return rc;
    etude_tempomap_t *nm = NULL;
    uint64_t loop_bar;
    if ((rc = etude_timeline_map(base, t, &b, p->material, &nm, &loop_bar, err, len)) < 0)
        return rc;
    etude_sequencer_t *ns = NULL;
    /* the drone's bars are those of the timeline's map (the one set before stays until this one is) */
    etude_tempomap_t *old_map = p->timeline_map;
    etude_timeline_layout_t old_layout = p->timeline_layout;
    p->timeline_map = nm;
    etude_timeline_layout(t, &b, &p->timeline_layout);
    rc = map_sequencer(p, nm, &ns);
    p->timeline_map = old_map;
    uint64_t old_loop = p->timeline_loop_bar;
    p->timeline_loop_bar = loop_bar;
    if (rc == ETUDE_OK)
        rc = set_timeline_loop(p, ns, nm);
    if (rc < 0) {
        p->timeline_loop_bar = old_loop;
        p->timeline_layout = old_layout;
        etude_sequencer_destroy(ns);
        etude_tempomap_destroy(nm);
        seterr(err, len, "%s: %s", p->material, etude_strerror(rc));
        return rc;
    }
    etude_sequencer_destroy(p->scaled_seq);
    p->scaled_seq = NULL;
    etude_tempomap_destroy(p->scaled_map);
    p->scaled_map = NULL;
    p->scale = 1.0;
    etude_sequencer_destroy(p->seq);
    p->seq = ns;
    etude_tempomap_destroy(p->timeline_map);
    p->timeline_map = nm;
    p->timeline_trainer = t->trainer;
    p->timeline_endless = b.to == UINT32_MAX;
    p->timeline_cin_bars = t->count_in > 0 ? (uint32_t)t->count_in : 0;
    p->map = nm;
    p->next_bar = 0;
    return setup_grids(p);
}

int etude_player_set_timeline(etude_player_t *p, const etude_timeline_t *t, char *err, size_t len)
{
    if (!p->preset || !p->seq) {
        seterr(err, len, "no material loaded");
        return ETUDE_ESTATE;
    }
    int rc = etude_timeline_check(t, err, len);
    if (rc < 0 || etude_timeline_empty(t))
        return rc;
    if (p->playing || etude_sequencer_rolling(active_seq(p))) {
        seterr(err, len, "the timeline is set before playing (stop first)");
        return ETUDE_ESTATE;
    }
    if (practice(p) && etude_preset_tempomap(p->preset)) {
        seterr(err, len, "%s: this preset mixes a click tempo map with practice material; "
                         "a count-in, loop, start or trainer needs one or the other", p->material);
        return ETUDE_EUNSUPPORTED;
    }
    double scale = p->scale;
    rc = practice(p) ? timeline_practice(p, t, err, len) : timeline_click(p, t, err, len);
    if (rc == ETUDE_OK && fabs(scale - 1.0) > 1e-9)
        rc = apply_scale(p, "--tempo-scale", scale, err, len);
    return rc;
}

bool etude_player_endless(etude_player_t *p)
{
    return p->timeline_loop_bar != UINT64_MAX || p->timeline_endless ||
           etude_sequencer_length(active_seq(p)) == UINT64_MAX;
}

void etude_player_quit(etude_player_t *p, const char *reason)
{
    p->quit = true;
    p->reason = reason;
}

bool etude_player_done(const etude_player_t *p, const char **reason)
{
    if (reason)
        *reason = p->reason;
    return p->quit;
}

static int timing_json(etude_player_t *p, char *json, size_t len, bool wrap)
{
    etude_jack_timing_t t;
    memset(&t, 0, sizeof t);
    if (p->jack)
        etude_jack_timing(p->jack, &t);
    etude_timing_result_t r;
    etude_timing_result(p->timing, &r);
    char notes[256];
    etude_timing_json(&r, notes, sizeof notes);
    return snprintf(json, len,
                    "%s\"callback\":{\"periods\":%llu,\"mean_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,"
                    "\"period_us\":%.3f,\"mean_share\":%.5f,\"p99_share\":%.5f,\"max_share\":%.5f},"
                    "\"notes\":%s%s",
                    wrap ? "{" : "", (unsigned long long)t.periods, t.mean_us, t.p99_us, t.max_us,
                    t.period_us, t.mean_share, t.p99_share, t.max_share, notes, wrap ? "}" : "");
}

int etude_player_timing_json(etude_player_t *p, char *json, size_t len)
{
    return timing_json(p, json, len, true);
}

static const char *mode_name(int mode)
{
    return mode == ETUDE_JACK_TRANSPORT_FOLLOW ? "follow" : mode == ETUDE_JACK_TRANSPORT_MASTER ? "master" : "off";
}

/* Where position pos of the material is: bar and beat (1-based; 0 before the first) and the tempo
 * there as played (quarter notes per minute, tempo scale included). */
static void where(etude_player_t *p, uint64_t pos, uint64_t *bar, uint32_t *beat, double *bpm)
{
    *bar = 0;
    *beat = 0;
    *bpm = 0;
    etude_tempomap_beat_t b;
    if (p->map) {
        uint64_t k = etude_tempomap_beat_at_frame(p->map, pos, p->rate); /* first beat at or after pos */
        uint64_t nb = etude_tempomap_beat_count(p->map);
        if (k >= nb) /* past the end: its last beat */
            k = nb ? nb - 1 : UINT64_MAX;
        else if (etude_tempomap_beat_frame(p->map, k, p->rate) > pos && k > 0)
            k--;
        if (k != UINT64_MAX && etude_tempomap_beat(p->map, k, &b) == 0) {
            *bar = b.bar + 1;
            *beat = b.beat_in_bar + 1;
            *bpm = map_tempo_at(p, pos);
        }
        return;
    }
    const etude_practice_t *pr = practice(p);
    uint64_t f, prev_f = 0, next_f = UINT64_MAX;
    double bbpm;
    uint32_t bpb = pr ? etude_practice_beats_per_bar(pr) : 0;
    for (uint32_t i = 0; pr && etude_practice_bar_info(pr, i, &f, &bbpm, NULL) == 0; i++) {
        if (f > pos) {
            next_f = f;
            break;
        }
        *bar = i + 1ull;
        *bpm = bbpm;
        prev_f = f;
    }
    if (*bar && bpb) { /* beats split the bar evenly */
        double bar_frames = next_f != UINT64_MAX ? (double)(next_f - prev_f)
                                                 : 60.0 * p->rate / *bpm * bpb; /* quarter-note beats */
        uint64_t k = (uint64_t)((double)(pos - prev_f) * bpb / bar_frames);
        *beat = (uint32_t)(k < bpb ? k : bpb - 1) + 1;
    }
}

int etude_player_status_json(etude_player_t *p, char *json, size_t len)
{
    etude_jack_status_t st;
    memset(&st, 0, sizeof st);
    if (p->jack)
        etude_jack_status(p->jack, &st);
    char mat[600];
    json_str(mat, sizeof mat, p->material);
    uint64_t pos = etude_sequencer_position(active_seq(p)), bar;
    uint32_t beat;
    double bpm;
    where(p, pos, &bar, &beat, &bpm);
    char sec[160] = "\"\"";
    etude_tempomap_beat_t sb;
    if (p->map && map_beat_at(p, pos, &sb) && sb.section)
        json_str(sec, sizeof sec, sb.section);
    static char big[MAX_VOICES * 200 + 2048]; /* [control] only: one caller at a time */
    size_t cap = sizeof big;
    size_t o = (size_t)snprintf(
        big, cap,
        "{\"client\":\"%s\",\"rate\":%u,\"period\":%u,\"transport\":\"%s\",\"rolling\":%s,"
        "\"position\":%llu,\"seconds\":%.3f,\"bar\":%llu,\"beat\":%u,\"bpm\":%.6g,\"section\":%s,"
        "\"material\":%s,\"tempo_scale\":%.6g,\"xruns\":%llu,\"volume\":%.4g,\"voices\":[",
        p->jack ? etude_jack_client_name(p->jack) : "offline", p->rate, st.buffer_size, mode_name(p->mode),
        etude_sequencer_rolling(active_seq(p)) ? "true" : "false", (unsigned long long)pos,
        (double)pos / p->rate, (unsigned long long)bar, beat, bpm, sec, mat, p->scale, (unsigned long long)st.xruns,
        p->volume);
    for (size_t i = 0; i < p->nvoices && o < cap; i++) {
        char nm[160];
        json_str(nm, sizeof nm, p->voices[i].name);
        o += (size_t)snprintf(big + o, cap - o, "%s{\"name\":%s,\"kind\":\"%s\",\"gain\":%.4g,\"mute\":%s,\"solo\":%s}",
                              i ? "," : "", nm, p->voices[i].kind, p->voices[i].gain,
                              p->voices[i].mute ? "true" : "false", p->voices[i].solo ? "true" : "false");
    }
    if (o < cap)
        snprintf(big + o, cap - o, "]}");
    return snprintf(json, len, "%s", big);
}

/* ---------------------------------------------------------------------------------------------
 * Live position, locating by bar or label, tap tempo, the tempo reached. */

/* The beat of the map that frame pos lies in (the last one at or before it; past the end, the last
 * beat). False when the map has no beat there. */
static bool map_beat_at(const etude_player_t *p, uint64_t pos, etude_tempomap_beat_t *b)
{
    uint64_t nb = etude_tempomap_beat_count(p->map);
    uint64_t k = etude_tempomap_beat_at_frame(p->map, pos, p->rate);
    if (k >= nb)
        k = nb ? nb - 1 : 0;
    else if (k > 0 && etude_tempomap_beat_frame(p->map, k, p->rate) > pos)
        k--;
    return nb && etude_tempomap_beat(p->map, k, b) == 0;
}

/* The tempo at the end of beat b: the next beat's start tempo within a ramp, else its own. The
 * arithmetic is the map's (etude_tempomap.c): single-precision tempo difference, linear in beats. */
static double beat_end_bpm(const etude_tempomap_t *m, const etude_tempomap_beat_t *b)
{
    const etude_tempomap_entry_t *e = etude_tempomap_entry(m, b->entry);
    if (!e || e->tempi || e->tempo2 == 0 || !e->bars)
        return b->bpm;
    double n = (double)e->bars * e->beats;
    double tdiff = (double)(float)(e->tempo2 - e->tempo);
    return e->tempo + tdiff * ((double)(b->index - e->first_beat + 1) / n);
}

/* The tempo reached at frame pos. Inside a ramp the tempo is linear in beats, so within a beat it
 * goes from T0 to T1 as T0 * (T1 / T0)^f at the fraction f of the beat's time. */
static double map_tempo_at(const etude_player_t *p, uint64_t pos)
{
    etude_tempomap_beat_t b;
    if (!p->map || !map_beat_at(p, pos, &b))
        return 0;
    double t1 = beat_end_bpm(p->map, &b);
    if (t1 == b.bpm || !(b.bpm > 0))
        return b.bpm;
    uint64_t f0 = etude_tempomap_beat_frame(p->map, b.index, p->rate);
    uint64_t f1 = etude_tempomap_beat_frame(p->map, b.index + 1, p->rate);
    double f = f1 != UINT64_MAX && f1 > f0 ? (double)(pos > f0 ? pos - f0 : 0) / (double)(f1 - f0) : 1.0;
    return b.bpm * pow(t1 / b.bpm, f < 1.0 ? f : 1.0);
}

static void reach(etude_player_t *p, double bpm)
{
    if (!(bpm > 0))
        return;
    if (p->reached_lo == 0 || bpm < p->reached_lo)
        p->reached_lo = bpm;
    if (bpm > p->reached_hi)
        p->reached_hi = bpm;
}

/* Fold the tempi of the frames played since the last fold into the range reached: the two ends,
 * and both sides of every beat start between them (a ramp's extremes lie at its ends). A jump
 * (locate, loop, tempo change) restarts from the new position. */
static void fold_reached(etude_player_t *p)
{
    etude_sequencer_t *s = active_seq(p);
    if (!p->map || !p->playing || p->ext_active || !s) {
        p->span_valid = false;
        return;
    }
    bool rolling = etude_sequencer_rolling(s);
    if (!rolling && !p->span_valid)
        return;
    uint64_t b = etude_sequencer_position(s); /* stopped: where it stopped */
    /* Rolling on inside the beat folded last: nothing new until its end (a beat's extremes lie at
     * its ends, and the stop folds the position it stopped at), so a render's every period does
     * not search the map. */
    if (rolling && p->span_valid && b >= p->span_pos && b < p->fold_next)
        return;
    if (!p->span_valid || b < p->span_pos) {
        reach(p, map_tempo_at(p, b));
    } else {
        uint64_t a = p->span_pos, nb = etude_tempomap_beat_count(p->map);
        reach(p, map_tempo_at(p, a));
        reach(p, map_tempo_at(p, b));
        uint64_t k = etude_tempomap_beat_at_frame(p->map, a + 1, p->rate);
        for (int guard = 0; guard < 4096 && k < nb; guard++, k++) {
            etude_tempomap_beat_t bt, prev;
            if (etude_tempomap_beat_frame(p->map, k, p->rate) > b || etude_tempomap_beat(p->map, k, &bt) < 0)
                break;
            reach(p, bt.bpm);
            if (k > 0 && etude_tempomap_beat(p->map, k - 1, &prev) == 0)
                reach(p, beat_end_bpm(p->map, &prev));
        }
    }
    p->span_pos = b;
    p->span_valid = rolling;
    p->fold_next = 0;
    if (rolling) {
        uint64_t nb = etude_tempomap_beat_count(p->map);
        uint64_t k = etude_tempomap_beat_at_frame(p->map, b + 1, p->rate); /* first beat start after b */
        p->fold_next = k < nb ? etude_tempomap_beat_frame(p->map, k, p->rate) : UINT64_MAX;
    }
}

void etude_player_tempo_reached(const etude_player_t *p, double *lo, double *hi)
{
    *lo = p->reached_lo;
    *hi = p->reached_hi;
}

void etude_player_position(etude_player_t *p, etude_player_position_t *out)
{
    memset(out, 0, sizeof *out);
    etude_sequencer_t *s = active_seq(p);
    out->frame = etude_sequencer_position(s);
    out->seconds = (double)out->frame / p->rate;
    out->rolling = etude_sequencer_rolling(s);
    where(p, out->frame, &out->bar, &out->beat, &out->bpm);
    out->title = p->material;
    etude_tempomap_beat_t b;
    out->section = p->map && map_beat_at(p, out->frame, &b) && b.section ? b.section : "";
}

int etude_player_locate_bar(etude_player_t *p, uint64_t bar, uint32_t beat, char *err, size_t len)
{
    const etude_practice_t *pr = practice(p);
    uint64_t frame;
    if (p->map) {
        uint64_t bars = etude_tempomap_bar_count(p->map);
        uint64_t first = bar >= 1 ? etude_tempomap_bar_first_beat(p->map, bar - 1) : UINT64_MAX;
        etude_tempomap_beat_t b;
        if (first == UINT64_MAX || etude_tempomap_beat(p->map, first, &b) < 0) {
            seterr(err, len, "/etude/locate: no bar %llu (the material has bars 1 .. %llu)", (unsigned long long)bar,
                   (unsigned long long)bars);
            return ETUDE_EINVAL;
        }
        const etude_tempomap_entry_t *e = etude_tempomap_entry(p->map, b.entry);
        if (beat < 1 || beat > e->beats) {
            seterr(err, len, "/etude/locate: no beat %u in bar %llu (it has beats 1 .. %u)", beat,
                   (unsigned long long)bar, e->beats);
            return ETUDE_EINVAL;
        }
        frame = etude_tempomap_beat_frame(p->map, first + beat - 1, p->rate);
        if (frame >= (1ull << 53)) { /* an endless map's bar beyond any frame count */
            seterr(err, len, "/etude/locate: bar %llu is too far to play", (unsigned long long)bar);
            return ETUDE_EINVAL;
        }
    } else if (pr) {
        uint64_t f, next;
        double bpm;
        uint32_t n = 0, bpb = etude_practice_beats_per_bar(pr);
        while (n < UINT32_MAX && etude_practice_bar_info(pr, n, NULL, NULL, NULL) == 0)
            n++;
        if (bar < 1 || bar > n || etude_practice_bar_info(pr, (uint32_t)(bar - 1), &f, &bpm, NULL) < 0) {
            seterr(err, len, "/etude/locate: no bar %llu (the material has bars 1 .. %u)", (unsigned long long)bar, n);
            return ETUDE_EINVAL;
        }
        if (beat < 1 || beat > (bpb ? bpb : 1)) {
            seterr(err, len, "/etude/locate: no beat %u in bar %llu (it has beats 1 .. %u)", beat,
                   (unsigned long long)bar, bpb ? bpb : 1);
            return ETUDE_EINVAL;
        }
        double bar_frames = etude_practice_bar_info(pr, (uint32_t)bar, &next, NULL, NULL) == 0 && next > f
                                ? (double)(next - f)
                                : 60.0 * p->rate / bpm * (bpb ? bpb : 1);
        frame = f + (uint64_t)llround(bar_frames * (beat - 1) / (bpb ? bpb : 1));
    } else {
        seterr(err, len, "/etude/locate: this material has no bars");
        return ETUDE_EUNSUPPORTED;
    }
    return etude_player_locate(p, (double)frame / p->rate, err, len);
}

int etude_player_locate_mark(etude_player_t *p, const char *mark, char *err, size_t len)
{
    for (size_t i = 0; p->map && i < etude_tempomap_entry_count(p->map); i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(p->map, i);
        if (e->label[0] && !strcmp(e->label, mark))
            return etude_player_locate_bar(p, e->first_bar + 1, 1, err, len);
    }
    char *end;
    errno = 0;
    unsigned long long bar = mark[0] >= '0' && mark[0] <= '9' ? strtoull(mark, &end, 10) : 0;
    unsigned long beat = 1;
    if (bar && !errno && *end == '.' && end[1] >= '0' && end[1] <= '9')
        beat = strtoul(end + 1, &end, 10);
    if (bar && !errno && !*end && beat <= UINT32_MAX)
        return etude_player_locate_bar(p, bar, (uint32_t)beat, err, len);
    size_t o = (size_t)snprintf(err, len, "/etude/locate '%s': no such label (expected a label, BAR or BAR.BEAT; ",
                                mark);
    bool any = false;
    for (size_t i = 0; p->map && i < etude_tempomap_entry_count(p->map) && o < len; i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(p->map, i);
        if (e->label[0]) {
            o += (size_t)snprintf(err + o, len - o, "%s%s", any ? " " : "labels: ", e->label);
            any = true;
        }
    }
    if (o < len)
        snprintf(err + o, len - o, "%s)", any ? "" : "the material has no labels");
    return ETUDE_EINVAL;
}

int etude_player_tap(etude_player_t *p, double t, double *bpm, char *err, size_t len)
{
    if (bpm)
        *bpm = 0;
    if (!isfinite(t)) {
        seterr(err, len, "/etude/tap: the tap's time is not a number");
        return ETUDE_EINVAL;
    }
    int n = 0;
    if (p->ntaps && t >= p->taps[p->ntaps - 1]) /* a clock going back starts afresh */
        for (int i = 0; i < p->ntaps; i++)
            if (p->taps[i] >= t - ETUDE_PLAYER_TAP_AGE)
                p->taps[n++] = p->taps[i];
    if (n == ETUDE_PLAYER_TAPS) {
        memmove(p->taps, p->taps + 1, (ETUDE_PLAYER_TAPS - 1) * sizeof *p->taps);
        n--;
    }
    p->taps[n++] = t;
    p->ntaps = n;
    if (n < 2)
        return ETUDE_OK;
    double span = p->taps[n - 1] - p->taps[0];
    if (!(span > 0)) {
        p->taps[0] = t;
        p->ntaps = 1;
        seterr(err, len, "/etude/tap: taps at the same time (%g s)", t);
        return ETUDE_EINVAL;
    }
    double tapped = 60.0 * (n - 1) / span;
    /* the rate of the beat playing now, in beats of its meter per minute */
    uint64_t pos = etude_sequencer_position(active_seq(p)), bar;
    uint32_t beat;
    double q;
    where(p, pos, &bar, &beat, &q);
    double per_quarter = 1.0;
    etude_tempomap_beat_t b;
    if (p->map && map_beat_at(p, pos, &b)) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(p->map, b.entry);
        per_quarter = e ? e->denom / 4.0 : 1.0;
    }
    if (!(q > 0)) {
        seterr(err, len, "/etude/tap: this material has no tempo");
        return ETUDE_EUNSUPPORTED;
    }
    double scale = p->scale * tapped / (q * per_quarter);
    if (!(scale >= 0.1 && scale <= 4)) {
        seterr(err, len, "/etude/tap: %.4g taps per minute would be a tempo scale of %.3g (expected 0.1 .. 4: "
                         "%.4g .. %.4g taps per minute here)",
               tapped, scale, tapped * 0.1 / scale, tapped * 4 / scale);
        return ETUDE_EINVAL;
    }
    int rc = apply_scale(p, "/etude/tap", scale, err, len);
    if (rc == ETUDE_OK && bpm)
        *bpm = tapped;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The control loop. */

static void handle_notes(etude_player_t *p)
{
    etude_jack_note_t notes[256];
    size_t n;
    while ((n = etude_jack_read_notes(p->jack, notes, 256)) > 0) {
        for (size_t i = 0; i < n; i++) {
            uint64_t pos;
            etude_jack_transport_t t;
            double b0, len;
            if (p->ext_active && notes[i].rolling && bbt_grid(p->jack, p->rate, &t, &b0, &len)) {
                /* against the master's beats */
                double x = (double)notes[i].transport_frame;
                double k = floor((x - b0) / len + 0.5);
                etude_timing_add_offset(p->timing, (x - (b0 + k * len)) * 1000.0 / p->rate);
                continue;
            }
            if (p->mode != ETUDE_JACK_TRANSPORT_OFF) {
                if (!notes[i].rolling) {
                    p->notes_unmatched++;
                    continue;
                }
                pos = notes[i].transport_frame;
            } else {
                if (!etude_sequencer_rolling(active_seq(p))) {
                    p->notes_unmatched++;
                    continue;
                }
                /* the sequencer maps engine to material frames linearly between jumps */
                uint64_t now = etude_engine_now(p->engine), cur = etude_sequencer_position(active_seq(p));
                uint64_t back = now - notes[i].engine_frame;
                if (notes[i].engine_frame > now)
                    back = 0;
                pos = cur >= back ? cur - back : 0;
            }
            if (etude_timing_note(p->timing, pos, NULL) < 0)
                p->notes_unmatched++;
        }
    }
}

static void handle_follow(etude_player_t *p)
{
    etude_jack_follow_event_t ev;
    if (p->bbt_seq) {
        etude_jack_transport_t t;
        bool ext = etude_jack_transport(p->jack, &t) && t.bbt_valid && !t.bbt_ours;
        if (ext != p->ext_active) {
            /* another client became (or stopped being) timebase master: switch material */
            etude_sequencer_stop(active_seq(p));
            p->ext_active = ext;
            etude_jack_follow_reset(p->jack);
            char json[96];
            snprintf(json, sizeof json, "{\"external_master\":%s,\"bpm\":%.6g}", ext ? "true" : "false",
                     ext ? t.bpm : 0.0);
            publish(p, "transport", "timebase", json);
        }
    }
    int rc = etude_jack_follow(p->jack, active_seq(p), &ev);
    if (rc < 0) {
        char json[160];
        snprintf(json, sizeof json, "{\"message\":\"transport follow: %s\"}", etude_strerror(rc));
        publish(p, "error", "transport", json);
        return;
    }
    if (rc == 0)
        return;
    switch (ev.kind) {
    case ETUDE_JACK_FOLLOW_START:
        p->next_bar = bar_at(p, ev.pos);
        publish_start(p);
        break;
    case ETUDE_JACK_FOLLOW_STOP:
        if (p->playing) /* the notes played up to the stop belong to the session that ends */
            publish_timing(p);
        publish_stop(p, "stopped");
        p->next_bar = bar_at(p, ev.pos);
        break;
    case ETUDE_JACK_FOLLOW_LOCATE:
        publish_locate(p, ev.pos);
        break;
    }
}

/* Publish the xrun count if it grew since the last publication. */
static void publish_xruns(etude_player_t *p, const etude_jack_status_t *st)
{
    if (st->xruns != p->xruns_seen) {
        char json[96];
        snprintf(json, sizeof json, "{\"count\":%llu,\"delay_us\":%.1f}", (unsigned long long)st->xruns,
                 st->last_xrun_delay_us);
        publish(p, "xrun", "xrun", json);
        p->xruns_seen = st->xruns;
    }
}

static void handle_status(etude_player_t *p)
{
    etude_jack_status_t st;
    etude_jack_status(p->jack, &st);
    publish_xruns(p, &st);
    if (st.buffer_changes != p->buffer_changes_seen) {
        char json[96];
        snprintf(json, sizeof json, "{\"period\":%u}", st.buffer_size);
        publish(p, "debug", "jack:buffer-size", json);
        p->buffer_changes_seen = st.buffer_changes;
        etude_jack_timing_reset(p->jack); /* the share of the period changed meaning */
    }
    if (st.shutdown) {
        seterr(p->message, sizeof p->message, "the JACK server went away (%s); stopping", st.shutdown_reason);
        p->quit = true;
        p->reason = "server-gone";
    } else if (st.rate_changed) {
        seterr(p->message, sizeof p->message,
               "the JACK server changed its sample rate to %u Hz (etude runs at %u Hz); stopping", st.sample_rate,
               p->rate);
        p->quit = true;
        p->reason = "error";
    }
}

/* Off mode: how long the control loop may sleep. Work comes from the sequencer's horizon (ticked a
 * third of its lookahead ahead), the next bar's start (announced when it sounds), the end of the
 * material, the periodic timing figures, or an OSC datagram or a signal (they end the wait).
 * Nothing here needs polling at the period rate: the transport is etude's own. */
static int idle_wait_ms(etude_player_t *p, double end_at)
{
    double wait = IDLE_WAIT_MS / 1000.0, now = now_s();
    if (end_at > 0 && end_at - now < wait)
        wait = end_at - now;
    if (p->playing && p->last_timing_pub + TIMING_EVERY_S - now < wait)
        wait = p->last_timing_pub + TIMING_EVERY_S - now;
    etude_sequencer_t *s = active_seq(p);
    if (p->map && p->playing && p->next_bar != UINT64_MAX && etude_sequencer_rolling(s)) {
        uint64_t first = etude_tempomap_bar_first_beat(p->map, p->next_bar);
        uint64_t f = first == UINT64_MAX ? UINT64_MAX : etude_tempomap_beat_frame(p->map, first, p->rate);
        uint64_t pos = etude_sequencer_position(s);
        if (f != UINT64_MAX && f >= pos && (double)(f - pos) / p->rate < wait)
            wait = (double)(f - pos) / p->rate + 0.001; /* just past the bar's first period */
    }
    return wait <= 0 ? 0 : (int)ceil(wait * 1000.0);
}

void etude_player_report(etude_player_t *p)
{
    announce_bars(p);
    uint64_t loops = etude_sequencer_loops(active_seq(p));
    if (loops == p->loops_seen)
        fold_reached(p);
    else
        p->span_valid = false;
    if (loops != p->loops_seen) {
        char json[64];
        snprintf(json, sizeof json, "{\"count\":%llu}", (unsigned long long)loops);
        publish(p, "transport", "loop", json);
        p->loops_seen = loops;
        /* an endless loop jumped back: its bars come round again */
        p->next_bar = bar_at(p, etude_sequencer_position(active_seq(p)));
    }
}

int etude_player_tick(etude_player_t *p)
{
    if (p->quit)
        return 0;
    if (p->jack) {
        handle_status(p);
        if (p->quit)
            return 0;
        if (p->mode != ETUDE_JACK_TRANSPORT_OFF)
            handle_follow(p);
    }
    int rc = etude_sequencer_tick(active_seq(p));
    if (rc < 0 && rc != ETUDE_EFULL) {
        char json[128];
        snprintf(json, sizeof json, "{\"message\":\"sequencer: %s\"}", etude_strerror(rc));
        publish(p, "error", "sequencer", json);
    }
    etude_engine_tick(p->engine);
    if (p->jack)
        handle_notes(p);
    etude_player_report(p);
    if (p->playing && now_s() - p->last_timing_pub >= TIMING_EVERY_S)
        publish_timing(p);
    if (p->mode == ETUDE_JACK_TRANSPORT_OFF && p->playing && etude_sequencer_finished(active_seq(p))) {
        if (p->end_at == 0) {
            p->end_at = now_s() + END_TAIL_S;
        } else if (now_s() >= p->end_at) {
            p->quit = true;
            p->reason = "end";
            return 0;
        }
    }
    return p->mode == ETUDE_JACK_TRANSPORT_OFF ? idle_wait_ms(p, p->end_at) : LOOP_SLEEP_US / 1000;
}

void etude_player_finish(etude_player_t *p, const char *reason)
{
    if (p->playing && p->seq)
        etude_sequencer_stop(active_seq(p));
    publish_timing(p);
    if (p->jack) { /* the xruns up to the stop belong to the session and to the report alike */
        etude_jack_status_t last;
        etude_jack_status(p->jack, &last);
        publish_xruns(p, &last);
    }
    publish_stop(p, reason);
}

const char *etude_player_message(const etude_player_t *p)
{
    return p->message;
}

int etude_player_transport(const etude_player_t *p)
{
    return p->mode;
}

etude_sequencer_t *etude_player_sequencer(etude_player_t *p)
{
    return active_seq(p);
}

const etude_preset_t *etude_player_preset(const etude_player_t *p)
{
    return p->preset;
}

uint64_t etude_player_frames_played(const etude_player_t *p)
{
    return p->frames_played;
}

uint64_t etude_player_xruns(const etude_player_t *p)
{
    return p->xruns_seen;
}

void etude_player_timing_result(const etude_player_t *p, etude_timing_result_t *out)
{
    etude_timing_result(p->timing, out);
}

int etude_player_create(const etude_player_config_t *cfg, etude_player_t **out)
{
    *out = NULL;
    if (!cfg || !cfg->engine || (!cfg->jack && cfg->transport != ETUDE_JACK_TRANSPORT_OFF))
        return ETUDE_EINVAL;
    etude_player_t *p = calloc(1, sizeof *p);
    if (!p)
        return ETUDE_ENOMEM;
    p->engine = cfg->engine;
    p->jack = cfg->jack;
    p->bus = cfg->bus;
    p->mode = cfg->transport;
    p->rate = etude_engine_sample_rate(cfg->engine);
    snprintf(p->command, sizeof p->command, "%s", cfg->command ? cfg->command : "play");
    p->volume = 1.0f;
    p->scale = 1.0;
    p->reason = "stopped";
    p->last_pass = -1;
    p->timeline_loop_bar = UINT64_MAX;
    p->last_timing_pub = now_s();
    int rc = etude_timing_create(p->rate, &p->timing);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return ETUDE_OK;
}

void etude_player_destroy(etude_player_t *p)
{
    if (!p)
        return;
    etude_sequencer_destroy(p->bbt_seq);
    etude_sequencer_destroy(p->scaled_seq);
    etude_sequencer_destroy(p->seq);
    etude_practice_unref(p->practice);
    etude_tempomap_destroy(p->timeline_map);
    etude_tempomap_destroy(p->scaled_map);
    etude_preset_destroy(p->preset);
    etude_timing_destroy(p->timing);
    free(p);
}
