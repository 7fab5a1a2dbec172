/* cmd_play.c - `etude play`: plays practice material live as a JACK client, follows or leads the
 * JACK transport, analyses the timing of the notes played on its MIDI input, takes OSC control,
 * and publishes the bus messages of docs/bus-topics.md for the session recorder. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_osc.h"
#include "cli_session.h"
#include "etude_bus.h"
#include "etude_click.h"
#include "etude_engine.h"
#include "etude_jack.h"
#include "etude_practice.h"
#include "etude_preset.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"
#include "etude_timing.h"

const char etude_cmd_play_usage[] =
    "  play   (PRESET.json | --tempo-map FILE | --click \"BARS METER TEMPO[-TEMPO2] [PATTERN]\")\n"
    "         [--name CLIENT] [--connect PORT...] [--transport follow|master|off] [--osc PORT]\n";

#define MAX_VOICES 64
#define MAX_CONNECT 16
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

typedef struct player {
    /* options */
    const char *preset_path, *map_path, *click_line, *client_name, *osc_port;
    const char *connect[MAX_CONNECT];
    size_t nconnect;
    int mode;
    char material[512];
    char loaded_path[512];

    etude_jack_t *jack;
    etude_engine_t *engine;
    etude_engine_config_t ecfg;
    etude_sequencer_t *seq;
    etude_bus_t *bus;
    cli_session_t *session;
    etude_timing_t *timing;
    etude_preset_t *preset;
    const etude_tempomap_t *map;
    etude_osc_t *osc;
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
    bool quit;
    const char *reason;

    /* OSC tempo changes (off mode, click material): the map rewritten at a tempo scale, played by
     * its own sequencer while the scale is not 1 */
    double scale;
    etude_tempomap_t *scaled_map;
    etude_sequencer_t *scaled_seq;

    /* follow mode under another timebase master: clicks on its beats, from a second sequencer */
    etude_sequencer_t *bbt_seq;
    bool ext_active;
    FILE *bus_log;
} player_t;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
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

static void publish(player_t *p, const char *topic, const char *name, const char *json)
{
    etude_bus_publish(p->bus, topic, name, json);
}

static void bus_log_cb(void *user, const etude_bus_msg_t *m)
{
    player_t *p = user;
    fprintf(p->bus_log, "{\"topic\":\"%s\",\"name\":\"%s\",\"payload\":%s}\n", m->topic, m->name,
            m->json ? m->json : "{}");
    fflush(p->bus_log);
}

/* ---------------------------------------------------------------------------------------------
 * Material: the tempo map's beats for timing analysis, bars and the timebase master. */

static double beat_bpm_jack(const etude_tempomap_t *map, const etude_tempomap_beat_t *b)
{
    const etude_tempomap_entry_t *e = etude_tempomap_entry(map, b->entry);
    return b->bpm * (e ? e->denom : 4) / 4.0; /* JACK counts beats of beat_type, klick quarters */
}

static int setup_grids(player_t *p)
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
    if (rc == ETUDE_OK && p->mode == ETUDE_JACK_TRANSPORT_MASTER)
        rc = etude_jack_set_beats(p->jack, beats, n);
    free(frames);
    free(beats);
    return rc;
}

/* The sequencer playing now: the master's beats, the tempo-scaled map, or the preset. */
static etude_sequencer_t *active_seq(const player_t *p)
{
    return p->ext_active ? p->bbt_seq : p->scaled_seq ? p->scaled_seq : p->seq;
}

static etude_practice_t *practice(const player_t *p);

/* Practice material (MIDI presets): the first bar played (etude_practice_bar_info()) at or after
 * material position pos, or UINT64_MAX. An endless practice's position stays inside pass 0. */
static uint64_t practice_bar_at(const player_t *p, uint64_t pos)
{
    const etude_practice_t *pr = practice(p);
    uint64_t f;
    for (uint32_t i = 0; pr && etude_practice_bar_info(pr, i, &f, NULL, NULL) == 0; i++)
        if (f >= pos)
            return i;
    return UINT64_MAX;
}

/* The bar at or after material position pos. */
static uint64_t bar_at(const player_t *p, uint64_t pos)
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
static void announce_practice_bars(player_t *p)
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

static void announce_bars(player_t *p)
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
        json_str(sec, sizeof sec, b.section ? b.section : "");
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
static int setup_bbt(player_t *p)
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

static void publish_start(player_t *p)
{
    if (p->playing)
        return;
    char mat[600], pre[600], voices[MAX_VOICES * 160 + 4];
    json_str(mat, sizeof mat, p->material);
    if (p->preset_path)
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
    double bpm = 0;
    etude_tempomap_beat_t b;
    if (p->map && etude_tempomap_beat(p->map, 0, &b) == 0)
        bpm = b.bpm;
    size_t len = strlen(mat) + strlen(pre) + strlen(voices) + 200;
    char *json = malloc(len);
    if (!json)
        return;
    snprintf(json, len,
             "{\"command\":\"play\",\"preset\":%s,\"material\":%s,\"tempo_bpm\":%.6g,\"rate\":%u,"
             "\"voices\":%s}",
             pre, mat, bpm, p->rate, voices);
    publish(p, "transport", "start", json);
    free(json);
    p->playing = true;
    p->start_engine_frame = etude_engine_now(p->engine);
}

static void publish_stop(player_t *p, const char *reason)
{
    if (!p->playing)
        return;
    p->frames_played += etude_engine_now(p->engine) - p->start_engine_frame;
    char json[128];
    snprintf(json, sizeof json, "{\"frames\":%llu,\"reason\":\"%s\"}",
             (unsigned long long)(etude_engine_now(p->engine) - p->start_engine_frame), reason);
    publish(p, "transport", "stop", json);
    p->playing = false;
}

static void publish_locate(player_t *p, uint64_t pos)
{
    char json[64];
    snprintf(json, sizeof json, "{\"pos\":%llu}", (unsigned long long)pos);
    publish(p, "transport", "locate", json);
    p->next_bar = bar_at(p, pos);
}

static void publish_timing(player_t *p)
{
    etude_timing_result_t r;
    etude_timing_result(p->timing, &r);
    char json[256];
    etude_timing_json(&r, json, sizeof json);
    publish(p, "session", "timing", json);
    p->last_timing_pub = now_s();
}

/* ---------------------------------------------------------------------------------------------
 * Voices. */

static pvoice_t *voice_by_name(player_t *p, const char *name)
{
    for (size_t i = 0; i < p->nvoices; i++)
        if (!strcmp(p->voices[i].name, name))
            return &p->voices[i];
    return NULL;
}

static void voice_msg(player_t *p, const pvoice_t *v, const char *what, const char *value)
{
    char nm[160], json[320];
    json_str(nm, sizeof nm, v->name);
    snprintf(json, sizeof json, "{\"voice\":%s,\"kind\":\"%s\",\"value\":%s}", nm, v->kind, value);
    publish(p, "voice", what, json);
}

/* Instantiate the preset's voices and ports. */
static int add_material(player_t *p, char *err, size_t errlen)
{
    size_t n = etude_preset_voice_count(p->preset);
    if (n > MAX_VOICES) {
        seterr(err, errlen, "%s: %zu voices (at most %d)", p->material, n, MAX_VOICES);
        return ETUDE_EINVAL;
    }
    etude_voice_id_t ids[MAX_VOICES];
    int rc = etude_preset_instantiate(p->preset, p->engine, p->seq, ids, err, errlen);
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
        rc = etude_jack_add_voice_port(p->jack, v->id, v->name, err, errlen);
        if (rc < 0)
            return rc;
    }
    p->map = etude_preset_tempomap(p->preset);
    snprintf(p->material, sizeof p->material, "%s",
             p->click_line ? p->click_line : p->map_path ? p->map_path : etude_preset_title(p->preset));
    return setup_grids(p);
}

static int load_preset(player_t *p, const char *path, etude_preset_t **out, char *err, size_t errlen)
{
    if (path) {
        int rc = etude_preset_load(path, out, err, errlen);
        if (rc == 0 && (rc = etude_preset_check_realtime(*out, err, errlen)) < 0) {
            etude_preset_destroy(*out);
            *out = NULL;
        }
        return rc;
    }
    etude_tempomap_t *map = NULL;
    int rc = p->map_path ? etude_tempomap_load(p->map_path, &map, err, errlen)
                         : etude_tempomap_parse_line(p->click_line, "--click", &map, err, errlen);
    if (rc < 0)
        return rc;
    rc = etude_preset_from_tempomap(map, p->map_path ? p->map_path : p->click_line, out);
    if (rc < 0) {
        etude_tempomap_destroy(map);
        seterr(err, errlen, "%s", etude_strerror(rc));
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Transport control from OSC. */

static int op_start(void *u, char *err, size_t len)
{
    player_t *p = u;
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

static int op_stop(void *u, char *err, size_t len)
{
    player_t *p = u;
    if (p->mode != ETUDE_JACK_TRANSPORT_OFF)
        return etude_jack_transport_stop(p->jack);
    int rc = etude_sequencer_stop(active_seq(p));
    if (rc < 0)
        seterr(err, len, "/etude/stop: %s", etude_strerror(rc));
    else
        publish_stop(p, "stopped");
    return rc;
}

static int op_locate(void *u, double seconds, char *err, size_t len)
{
    player_t *p = u;
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
static etude_practice_t *practice(const player_t *p)
{
    return p->seq ? etude_practice_of(p->seq) : NULL;
}

/* Play the material at tempo scale. Practice material re-anchors its passes at the current
 * position (etude_practice_set_tempo_scale()), so the material frame stays the transport frame.
 * Click material is replaced by its map with every tempo scaled, on a second sequencer, at the same
 * fraction of the same beat: in off mode the sequencer moves there; in follow and master mode the
 * JACK transport is located there (the old material stops at once, the new one is armed by the
 * slow-sync handshake like any relocation), and in master mode the published BBT and BPM follow
 * the scaled map. Under another client's timebase the tempo is the transport's: refused. */
static int apply_scale(player_t *p, const char *path, double scale, char *err, size_t len)
{
    const etude_tempomap_t *base = etude_preset_tempomap(p->preset);
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
    for (size_t i = 0; i < p->nvoices; i++)
        if (strcmp(p->voices[i].kind, "click")) {
            seterr(err, len, "%s: voice '%s' (%s) has no tempo map to scale", path, p->voices[i].name,
                   p->voices[i].kind);
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
        rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &ns);
        for (size_t i = 0; rc == ETUDE_OK && i < p->nvoices; i++) {
            void *src = NULL;
            rc = etude_click_source_create(nm, p->rate, &src);
            if (rc == ETUDE_OK && (rc = etude_sequencer_add_source(ns, &etude_click_source_class, src,
                                                                   p->voices[i].id, NULL)) < 0)
                etude_click_source_free(src);
        }
        if (rc < 0) {
            etude_sequencer_destroy(ns);
            etude_tempomap_destroy(nm);
            seterr(err, len, "%s: %s", path, etude_strerror(rc));
            return rc;
        }
    }
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

static int op_tempo(void *u, double bpm, char *err, size_t len)
{
    player_t *p = u;
    etude_tempomap_beat_t b;
    const etude_tempomap_t *base = p->preset ? etude_preset_tempomap(p->preset) : NULL;
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

static int op_tempo_scale(void *u, double scale, char *err, size_t len)
{
    return apply_scale(u, "/etude/tempo_scale", scale, err, len);
}

static int op_volume(void *u, double gain, char *err, size_t len)
{
    (void)err;
    (void)len;
    player_t *p = u;
    p->volume = (float)gain;
    for (size_t i = 0; i < p->nvoices; i++)
        etude_voice_set_gain(p->engine, p->voices[i].id, p->voices[i].gain * p->volume);
    return ETUDE_OK;
}

static int voice_op(player_t *p, const char *path, const char *name, char *err, size_t len, pvoice_t **v)
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

static int op_mute(void *u, const char *name, bool on, char *err, size_t len)
{
    player_t *p = u;
    pvoice_t *v;
    int rc = voice_op(p, "/etude/voice/mute", name, err, len, &v);
    if (rc == ETUDE_OK && (rc = etude_voice_set_mute(p->engine, v->id, on)) == ETUDE_OK) {
        v->mute = on;
        voice_msg(p, v, "mute", on ? "true" : "false");
    }
    return rc;
}

static int op_solo(void *u, const char *name, bool on, char *err, size_t len)
{
    player_t *p = u;
    pvoice_t *v;
    int rc = voice_op(p, "/etude/voice/solo", name, err, len, &v);
    if (rc == ETUDE_OK && (rc = etude_voice_set_solo(p->engine, v->id, on)) == ETUDE_OK) {
        v->solo = on;
        voice_msg(p, v, "solo", on ? "true" : "false");
    }
    return rc;
}

static int op_gain(void *u, const char *name, double gain, char *err, size_t len)
{
    player_t *p = u;
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

static void remove_material(player_t *p)
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
    for (size_t i = 0; i < p->nvoices; i++) {
        etude_jack_remove_voice_port(p->jack, p->voices[i].id);
        etude_voice_dispose(p->engine, p->voices[i].id);
    }
    p->nvoices = 0;
    etude_engine_dispose_all(p->engine, 500);
}

static int op_load(void *u, const char *path, char *err, size_t len)
{
    player_t *p = u;
    etude_preset_t *np = NULL;
    int rc = etude_preset_load(path, &np, err, len);
    if (rc == 0 && (rc = etude_preset_check_realtime(np, err, len)) < 0)
        etude_preset_destroy(np);
    if (rc < 0)
        return rc;
    bool was = p->playing;
    if (was)
        publish_stop(p, "stopped");
    remove_material(p);
    etude_preset_destroy(p->preset);
    p->preset = np;
    snprintf(p->loaded_path, sizeof p->loaded_path, "%s", path);
    p->preset_path = p->loaded_path;
    p->map_path = p->click_line = NULL;
    rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &p->seq);
    if (rc == ETUDE_OK)
        rc = add_material(p, err, len);
    if (rc == ETUDE_OK && (rc = setup_bbt(p)) < 0)
        seterr(err, len, "/etude/load: %s", etude_strerror(rc));
    if (rc < 0)
        return rc;
    etude_jack_follow_reset(p->jack);
    snprintf(p->material, sizeof p->material, "%s", path);
    etude_timing_reset(p->timing);
    p->next_bar = 0;
    p->last_pass = -1;
    if (p->mode == ETUDE_JACK_TRANSPORT_OFF) {
        rc = etude_sequencer_start(p->seq, 0);
        if (rc == ETUDE_OK)
            publish_start(p);
    }
    return rc;
}

static int op_quit(void *u, char *err, size_t len)
{
    (void)err;
    (void)len;
    player_t *p = u;
    p->quit = true;
    p->reason = "stopped";
    return ETUDE_OK;
}

static int timing_json(player_t *p, char *json, size_t len, bool wrap)
{
    etude_jack_timing_t t;
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

static int op_timing(void *u, char *json, size_t len)
{
    timing_json(u, json, len, true);
    return ETUDE_OK;
}

static const char *mode_name(int mode)
{
    return mode == ETUDE_JACK_TRANSPORT_FOLLOW ? "follow" : mode == ETUDE_JACK_TRANSPORT_MASTER ? "master" : "off";
}

static int op_status(void *u, char *json, size_t len)
{
    player_t *p = u;
    etude_jack_status_t st;
    etude_jack_status(p->jack, &st);
    char mat[600];
    json_str(mat, sizeof mat, p->material);
    uint64_t pos = etude_sequencer_position(active_seq(p));
    size_t o = (size_t)snprintf(
        json, len,
        "{\"client\":\"%s\",\"rate\":%u,\"period\":%u,\"transport\":\"%s\",\"rolling\":%s,"
        "\"position\":%llu,\"seconds\":%.3f,\"material\":%s,\"tempo_scale\":%.6g,\"xruns\":%llu,"
        "\"volume\":%.4g,\"voices\":[",
        etude_jack_client_name(p->jack), p->rate, st.buffer_size, mode_name(p->mode),
        etude_sequencer_rolling(active_seq(p)) ? "true" : "false", (unsigned long long)pos,
        (double)pos / p->rate, mat, p->scale, (unsigned long long)st.xruns, p->volume);
    for (size_t i = 0; i < p->nvoices && o < len; i++) {
        char nm[160];
        json_str(nm, sizeof nm, p->voices[i].name);
        o += (size_t)snprintf(json + o, len - o, "%s{\"name\":%s,\"kind\":\"%s\",\"gain\":%.4g,\"mute\":%s,\"solo\":%s}",
                              i ? "," : "", nm, p->voices[i].kind, p->voices[i].gain,
                              p->voices[i].mute ? "true" : "false", p->voices[i].solo ? "true" : "false");
    }
    if (o < len)
        snprintf(json + o, len - o, "]}");
    return ETUDE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The control loop. */

static void handle_notes(player_t *p)
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

static void handle_follow(player_t *p)
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
        publish_stop(p, "stopped");
        p->next_bar = bar_at(p, ev.pos);
        break;
    case ETUDE_JACK_FOLLOW_LOCATE:
        publish_locate(p, ev.pos);
        break;
    }
}

/* Publish the xrun count if it grew since the last publication. */
static void publish_xruns(player_t *p, const etude_jack_status_t *st)
{
    if (st->xruns != p->xruns_seen) {
        char json[96];
        snprintf(json, sizeof json, "{\"count\":%llu,\"delay_us\":%.1f}", (unsigned long long)st->xruns,
                 st->last_xrun_delay_us);
        publish(p, "xrun", "xrun", json);
        p->xruns_seen = st->xruns;
    }
}

static void handle_status(player_t *p)
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
        fprintf(stderr, "etude: the JACK server went away (%s); stopping\n", st.shutdown_reason);
        p->quit = true;
        p->reason = "server-gone";
    } else if (st.rate_changed) {
        fprintf(stderr, "etude: the JACK server changed its sample rate to %u Hz (etude runs at %u Hz); "
                        "stopping\n", st.sample_rate, p->rate);
        p->quit = true;
        p->reason = "error";
    }
}

/* Off mode: how long the control loop may sleep. Work comes from the sequencer's horizon (ticked a
 * third of its lookahead ahead), the next bar's start (announced when it sounds), the end of the
 * material, the periodic timing figures, or an OSC datagram or a signal (they end the wait).
 * Nothing here needs polling at the period rate: the transport is etude's own. */
static int idle_wait_ms(player_t *p, double end_at)
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

static void run_loop(player_t *p)
{
    double end_at = 0;
    while (!p->quit) {
        if (got_signal) {
            p->quit = true;
            p->reason = "signal";
            break;
        }
        handle_status(p);
        if (p->quit)
            break;
        if (p->mode != ETUDE_JACK_TRANSPORT_OFF)
            handle_follow(p);
        int rc = etude_sequencer_tick(active_seq(p));
        if (rc < 0 && rc != ETUDE_EFULL) {
            char json[128];
            snprintf(json, sizeof json, "{\"message\":\"sequencer: %s\"}", etude_strerror(rc));
            publish(p, "error", "sequencer", json);
        }
        etude_engine_tick(p->engine);
        handle_notes(p);
        announce_bars(p);
        uint64_t loops = etude_sequencer_loops(active_seq(p));
        if (loops != p->loops_seen) {
            char json[64];
            snprintf(json, sizeof json, "{\"count\":%llu}", (unsigned long long)loops);
            publish(p, "transport", "loop", json);
            p->loops_seen = loops;
            if (!p->map) /* an endless practice loop jumped back: its bars come round again */
                p->next_bar = bar_at(p, etude_sequencer_position(active_seq(p)));
        }
        if (p->playing && now_s() - p->last_timing_pub >= TIMING_EVERY_S)
            publish_timing(p);
        if (p->session)
            cli_session_tick(p->session);
        if (p->mode == ETUDE_JACK_TRANSPORT_OFF && p->playing && etude_sequencer_finished(active_seq(p))) {
            if (end_at == 0)
                end_at = now_s() + END_TAIL_S;
            else if (now_s() >= end_at) {
                p->reason = "end";
                break;
            }
        }
        int wait_ms = p->mode == ETUDE_JACK_TRANSPORT_OFF ? idle_wait_ms(p, end_at) : LOOP_SLEEP_US / 1000;
        /* a signal interrupts either wait (no SA_RESTART), an OSC datagram ends the poll */
        if (p->osc)
            etude_osc_poll(p->osc, wait_ms);
        else if (wait_ms > 0)
            sleep_us(wait_ms * 1000L);
    }
}

static void print_report(player_t *p)
{
    etude_jack_timing_t t;
    etude_jack_timing(p->jack, &t);
    etude_jack_status_t st;
    etude_jack_status(p->jack, &st);
    etude_timing_result_t r;
    etude_timing_result(p->timing, &r);
    printf("etude: stopped (%s) after %.3f s played (%llu frames)\n", p->reason,
           (double)p->frames_played / p->rate, (unsigned long long)p->frames_played);
    printf("callback: %llu periods of %u frames (%.1f us): mean %.1f us (%.1f%%), p99 %.1f us (%.1f%%), "
           "max %.1f us (%.1f%%)\n",
           (unsigned long long)t.periods, st.buffer_size, t.period_us, t.mean_us, 100 * t.mean_share,
           t.p99_us, 100 * t.p99_share, t.max_us, 100 * t.max_share);
    printf("xruns: %llu\n", (unsigned long long)p->xruns_seen); /* up to the stop, as published */
    printf("timing: %llu notes, mean %+.3f ms, sd %.3f ms, within 10 ms %.1f%%, within 25 ms %.1f%%\n",
           (unsigned long long)r.notes, r.mean_ms, r.sd_ms, 100 * r.within_10ms, 100 * r.within_25ms);
    char json[1024];
    timing_json(p, json, sizeof json, true);
    printf("timing-json: %s\n", json);
    fflush(stdout);
}

/* ---------------------------------------------------------------------------------------------
 * Arguments. */

static void help(FILE *f)
{
    fprintf(f, "usage: etude play (PRESET.json | --tempo-map FILE | --click \"BARS METER TEMPO[-TEMPO2] [PATTERN]\")\n"
               "                  [--name CLIENT] [--connect PORT...] [--transport follow|master|off]\n"
               "                  [--osc PORT] [--plugin-path DIR] [--no-session]\n"
               "Plays live as a JACK client (one output port per voice, mix_L/mix_R, midi_in).\n"
               "Never starts a JACK server. SIGINT/SIGTERM stop cleanly. See docs/jack.md.\n");
}

static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "etude play: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'etude play --help')\n");
    va_end(ap);
    return 2;
}

static int parse_args(player_t *p, int argc, char **argv)
{
    p->mode = ETUDE_JACK_TRANSPORT_OFF;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return 1;
        } else if (!strcmp(a, "--tempo-map") || !strcmp(a, "--click") || !strcmp(a, "--name") ||
                   !strcmp(a, "--transport") || !strcmp(a, "--osc")) {
            if (!next)
                return bad("%s needs a value", a);
            i++;
            if (!strcmp(a, "--tempo-map"))
                p->map_path = next;
            else if (!strcmp(a, "--click"))
                p->click_line = next;
            else if (!strcmp(a, "--name")) {
                if (!*next || strlen(next) > 63)
                    return bad("--name '%s': expected 1 to 63 characters", next);
                p->client_name = next;
            } else if (!strcmp(a, "--osc")) {
                char *end;
                long port = strtol(next, &end, 10);
                if (*end || port < 0 || port > 65535 || !*next)
                    return bad("--osc '%s': expected a UDP port number 0..65535", next);
                p->osc_port = next;
            } else if (!strcmp(next, "follow"))
                p->mode = ETUDE_JACK_TRANSPORT_FOLLOW;
            else if (!strcmp(next, "master"))
                p->mode = ETUDE_JACK_TRANSPORT_MASTER;
            else if (!strcmp(next, "off"))
                p->mode = ETUDE_JACK_TRANSPORT_OFF;
            else
                return bad("--transport '%s': expected follow, master or off", next);
        } else if (!strcmp(a, "--connect")) {
            if (!next || next[0] == '-')
                return bad("--connect needs at least one JACK port (client:port)");
            while (i + 1 < argc && argv[i + 1][0] != '-' && strchr(argv[i + 1], ':')) {
                if (p->nconnect == MAX_CONNECT)
                    return bad("--connect: at most %d ports", MAX_CONNECT);
                p->connect[p->nconnect++] = argv[++i];
            }
            if (p->nconnect == 0)
                return bad("--connect '%s': expected a JACK port name such as system:playback_1", next);
        } else if (a[0] == '-' && a[1]) {
            return bad("unknown option '%s'", a);
        } else {
            if (p->preset_path)
                return bad("more than one preset ('%s' and '%s')", p->preset_path, a);
            p->preset_path = a;
        }
    }
    int sources = (p->preset_path != NULL) + (p->map_path != NULL) + (p->click_line != NULL);
    if (sources != 1)
        return bad(sources ? "give only one of PRESET.json, --tempo-map and --click"
                           : "nothing to play: give PRESET.json, --tempo-map FILE or --click \"...\"");
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Main. */

int etude_cmd_play(int argc, char **argv)
{
    player_t pl;
    memset(&pl, 0, sizeof pl);
    player_t *p = &pl;
    p->volume = 1.0f;
    p->scale = 1.0;
    p->reason = "stopped";
    cli_session_opts_t so;
    if (cli_session_take_args(&argc, argv, &so))
        return 2;
    int rc = parse_args(p, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;

    char err[512] = "";
    int exit_code = 1;
    if (load_preset(p, p->preset_path, &p->preset, err, sizeof err) < 0) {
        fprintf(stderr, "etude: %s\n", err);
        return 1;
    }

    etude_jack_config_t jc = {
        .client_name = p->client_name ? p->client_name : "etude",
        .transport = p->mode,
        .midi_input = true,
    };
    if (etude_jack_open(&jc, &p->jack, err, sizeof err) < 0) {
        fprintf(stderr, "etude: %s\n", err);
        etude_preset_destroy(p->preset);
        return 1;
    }
    p->rate = etude_jack_sample_rate(p->jack);
    etude_engine_config_default(&p->ecfg, p->rate);
    if ((rc = etude_engine_create(&p->ecfg, &p->engine)) < 0 ||
        (rc = etude_timing_create(p->rate, &p->timing)) < 0 ||
        (rc = etude_sequencer_create(p->engine, p->rate / 1000u * LOOKAHEAD_MS, &p->seq)) < 0 ||
        !(p->bus = etude_bus_create())) {
        fprintf(stderr, "etude: cannot set up the engine: %s\n", etude_strerror(rc < 0 ? rc : ETUDE_ENOMEM));
        goto out;
    }
    etude_engine_set_bus(p->engine, p->bus);
    const char *log_path = getenv("ETUDE_BUS_LOG");
    if (log_path && *log_path) {
        p->bus_log = fopen(log_path, "w");
        if (!p->bus_log) {
            fprintf(stderr, "etude: ETUDE_BUS_LOG=%s: cannot open: %s\n", log_path, strerror(errno));
            goto out;
        }
        etude_bus_subscribe(p->bus, "*", bus_log_cb, p, p);
    }
    if (etude_jack_attach(p->jack, p->engine, p->ecfg.voice_capacity, err, sizeof err) < 0 ||
        add_material(p, err, sizeof err) < 0) {
        fprintf(stderr, "etude: %s\n", err);
        goto out;
    }
    if ((rc = setup_bbt(p)) < 0) {
        fprintf(stderr, "etude: cannot set up transport follow: %s\n", etude_strerror(rc));
        goto out;
    }
    if (p->osc_port) {
        etude_osc_ops_t ops = {
            .user = p, .start = op_start, .stop = op_stop, .locate = op_locate, .tempo = op_tempo,
            .tempo_scale = op_tempo_scale, .volume = op_volume, .voice_mute = op_mute,
            .voice_solo = op_solo, .voice_gain = op_gain, .load = op_load, .quit = op_quit,
            .status = op_status, .timing = op_timing,
        };
        if (etude_osc_create(p->osc_port, &ops, &p->osc, err, sizeof err) < 0) {
            fprintf(stderr, "etude: %s\n", err);
            goto out;
        }
    }
    p->session = cli_session_open(p->bus, "play", &so);
    if (!p->session)
        goto out;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (etude_jack_activate(p->jack, err, sizeof err) < 0 ||
        (p->nconnect && etude_jack_connect_mix(p->jack, p->connect, p->nconnect, err, sizeof err) < 0)) {
        fprintf(stderr, "etude: %s\n", err);
        goto out;
    }
    fprintf(stderr, "etude: playing %s as JACK client '%s' (%u Hz, %u frames, transport %s)\n",
            p->material, etude_jack_client_name(p->jack), p->rate, etude_jack_buffer_size(p->jack),
            mode_name(p->mode));
    if (p->osc)
        fprintf(stderr, "etude: OSC on UDP port %d\n", etude_osc_port(p->osc));

    p->next_bar = 0;
    p->last_pass = -1;
    if (p->mode == ETUDE_JACK_TRANSPORT_OFF) {
        rc = etude_sequencer_start(p->seq, 0);
        if (rc < 0) {
            fprintf(stderr, "etude: cannot start: %s\n", etude_strerror(rc));
            goto out;
        }
        publish_start(p);
    } else if (p->mode == ETUDE_JACK_TRANSPORT_MASTER) {
        etude_jack_transport_locate(p->jack, 0);
        etude_jack_transport_start(p->jack);
    }
    p->last_timing_pub = now_s();
    run_loop(p);
    exit_code = !strcmp(p->reason, "error") || !strcmp(p->reason, "server-gone") ? 1 : 0;

    if (p->playing)
        etude_sequencer_stop(active_seq(p));
    publish_timing(p);
    /* the xruns up to the stop belong to the session and to the report alike */
    etude_jack_status_t last;
    etude_jack_status(p->jack, &last);
    publish_xruns(p, &last);
    publish_stop(p, p->reason);
    print_report(p);

out:
    if (p->session)
        cli_session_close(p->session);
    if (p->osc)
        etude_osc_destroy(p->osc);
    etude_sequencer_destroy(p->bbt_seq);
    etude_sequencer_destroy(p->scaled_seq);
    etude_sequencer_destroy(p->seq);
    if (p->engine && p->jack) {
        etude_jack_status_t st;
        etude_jack_status(p->jack, &st);
        if (!st.shutdown) /* let the audio thread fade the voices out */
            etude_engine_dispose_all(p->engine, 500);
    }
    etude_jack_close(p->jack); /* the audio thread stops here */
    etude_engine_destroy(p->engine);
    if (p->bus) {
        etude_bus_unsubscribe_owner(p->bus, p);
        etude_bus_destroy(p->bus);
    }
    if (p->bus_log)
        fclose(p->bus_log);
    etude_timing_destroy(p->timing);
    etude_tempomap_destroy(p->scaled_map);
    etude_preset_destroy(p->preset);
    return exit_code;
}
