/* rt_safety_render.c - a render through the real engine, sequencer, offline driver, click and drone
 * voices, with the control side busy (locate, loop, stop/start, invalidate, voice churn, mix
 * changes) between periods; run under tests/support/rt_interpose.c to prove the audio path
 * allocation-, lock- and syscall-free, and under valgrind for leaks.
 *
 *   rt_safety_render [--seconds S] [--bad KIND (tests/support/rt_sins.h)]
 *                    [-o OUT.wav] [--leak] [--fluid]
 * --bad adds a voice whose render commits that sin, to show the interposer catches it; --leak
 * loses one block on purpose, to show the valgrind check catches leaks; --fluid adds a FluidSynth
 * voice (the default SoundFont) playing the drone's notes.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etude_bus.h"
#include "etude_click.h"
#include "etude_drone.h"
#include "etude_engine.h"
#include "etude_fluid.h"
#include "etude_offline.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"
#include "rt_sins.h"

#define RATE 48000u

/* ---- a voice that breaks the audio-thread rules on purpose */

static const char *bad_kind;

static void bad_event(void *self, const etude_event_t *ev)
{
    (void)self;
    (void)ev;
}

static void bad_render(void *self, float *const out[2], uint32_t nframes)
{
    (void)self;
    (void)out;
    (void)nframes;
    etude_rt_sin(bad_kind);
}

static void bad_dispose(void *self)
{
    (void)self;
}

static const etude_voice_class_t bad_class = {
    .kind = "bad", .event = bad_event, .render = bad_render, .dispose = bad_dispose, .mono = true};

/* ---- a source for the drone: a note on at every 2 s, off 1.5 s later */

static int drone_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    (void)self;
    const uint64_t every = 2 * RATE, len = 3 * RATE / 2;
    uint64_t k = from / every;
    for (;; k++) {
        uint64_t on = k * every, off = on + len;
        if (on >= to)
            return 0;
        etude_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.u.note.key = (uint8_t)(45 + k % 12);
        ev.u.note.velocity = 90;
        if (on >= from) {
            ev.kind = ETUDE_EV_NOTE_ON;
            int rc = emit(ctx, on, &ev);
            if (rc < 0)
                return rc;
        }
        if (off >= from && off < to) {
            ev.kind = ETUDE_EV_NOTE_OFF;
            int rc = emit(ctx, off, &ev);
            if (rc < 0)
                return rc;
        }
    }
}

static uint64_t endless(void *self)
{
    (void)self;
    return UINT64_MAX;
}

static const etude_source_class_t drone_source = {.kind = "drone-notes", .expand = drone_expand,
                                                  .length = endless};

/* ---- the control side, between periods */

typedef struct run {
    etude_engine_t *engine;
    etude_sequencer_t *seq;
    SNDFILE *out;
    uint64_t frames;
    double peak;
    etude_voice_id_t churn; /* a click voice added and disposed over and over */
    uint64_t churned;
    int failed;
} run_t;

static int add_click(etude_engine_t *e, const char *name, etude_voice_id_t *id)
{
    etude_click_config_t cc;
    etude_click_config_default(&cc);
    void *click;
    char err[256];
    int rc = etude_click_create(&cc, RATE, &click, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "rt_safety_render: click: %s\n", err);
        return rc;
    }
    rc = etude_voice_add(e, &etude_click_voice_class, click, name, id);
    if (rc < 0)
        etude_click_free(click);
    return rc;
}

static int on_period(void *user, const float *const mix[2], uint32_t n)
{
    run_t *r = user;
    for (uint32_t i = 0; i < n; i++) {
        double a = fabs(mix[0][i]) > fabs(mix[1][i]) ? fabs(mix[0][i]) : fabs(mix[1][i]);
        if (a > r->peak)
            r->peak = a;
    }
    if (r->out) {
        float inter[2 * 4096];
        for (uint32_t done = 0; done < n;) {
            uint32_t c = n - done > 4096 ? 4096 : n - done;
            for (uint32_t i = 0; i < c; i++) {
                inter[2 * i] = mix[0][done + i];
                inter[2 * i + 1] = mix[1][done + i];
            }
            if (sf_writef_float(r->out, inter, c) != (sf_count_t)c)
                return 3;
            done += c;
        }
    }
    uint64_t before = r->frames;
    r->frames += n;
    /* Control work at fixed points of the render (seconds crossed in this period). */
#define CROSSED(sec) (before < (uint64_t)((sec) * RATE) && r->frames >= (uint64_t)((sec) * RATE))
    if (CROSSED(1.0))
        etude_sequencer_locate(r->seq, 5 * RATE);
    if (CROSSED(2.0))
        etude_sequencer_set_loop(r->seq, 6 * RATE, 7 * RATE);
    if (CROSSED(4.5))
        etude_sequencer_set_loop(r->seq, 0, 0);
    if (CROSSED(5.0))
        etude_sequencer_stop(r->seq);
    if (CROSSED(5.5))
        etude_sequencer_start(r->seq, 0);
    if (CROSSED(6.0))
        etude_sequencer_invalidate(r->seq);
    /* Voice churn and mix changes every quarter second. */
    if (r->frames / (RATE / 4) != before / (RATE / 4)) {
        if (r->churn)
            etude_voice_dispose(r->engine, r->churn);
        r->churn = 0;
        char name[32];
        snprintf(name, sizeof name, "churn-%llu", (unsigned long long)r->churned++);
        if (add_click(r->engine, name, &r->churn) < 0) {
            r->failed = 1;
            return 4;
        }
        etude_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.frame = etude_engine_now(r->engine) + RATE / 10;
        ev.voice = r->churn;
        ev.kind = ETUDE_EV_CLICK;
        ev.u.click.level = ETUDE_CLICK_ACCENT;
        ev.u.click.gain = 0.5f;
        etude_event_schedule(r->engine, &ev, NULL);
        etude_voice_set_gain(r->engine, r->churn, 0.3f + 0.1f * (float)(r->churned % 5));
        etude_voice_set_pan(r->engine, r->churn, (float)((int)(r->churned % 3) - 1) * 0.5f);
        etude_voice_set_mute(r->engine, r->churn, r->churned % 7 == 0);
        etude_voice_set_solo(r->engine, r->churn, r->churned % 11 == 0);
    }
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 8.0;
    const char *out_path = NULL;
    int leak = 0, fluid = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--bad") && i + 1 < argc) {
            bad_kind = argv[++i];
        } else if (!strcmp(argv[i], "--fluid")) {
            fluid = 1;
        } else if (!strcmp(argv[i], "--leak")) {
            leak = 1;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out_path = argv[++i];
        } else {
            fprintf(stderr, "rt_safety_render: unknown argument '%s' (expected --seconds S, "
                            "--bad KIND, -o OUT.wav, --leak, --fluid)\n", argv[i]);
            return 2;
        }
    }
    if (!(seconds > 0 && seconds < 100000)) {
        fprintf(stderr, "rt_safety_render: --seconds must be > 0\n");
        return 2;
    }

    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = 256;
    cfg.event_capacity = 4096;
    cfg.voice_capacity = 16;
    etude_engine_t *engine;
    if (etude_engine_create(&cfg, &engine) < 0)
        return 1;
    etude_bus_t *bus = etude_bus_create();
    etude_engine_set_bus(engine, bus);
    etude_sequencer_t *seq;
    if (etude_sequencer_create(engine, RATE / 8, &seq) < 0)
        return 1;

    /* A map with labels, a ramp, an odd meter and accent patterns. */
    static const char map_text[] = "intro: 2 4/4 100 X.x. 0.8\n"
                                   "verse: 4 7/8 160 X.x.x..\n"
                                   "ramp: 8 4/4 120-200 Xxxx\n"
                                   "out: 64 6/8 90\n";
    char err[256];
    etude_tempomap_t *map;
    if (etude_tempomap_parse(map_text, strlen(map_text), "rt_safety.map", &map, err, sizeof err) < 0) {
        fprintf(stderr, "rt_safety_render: %s\n", err);
        return 1;
    }
    etude_voice_id_t click_id, drone_id;
    if (add_click(engine, "click", &click_id) < 0)
        return 1;
    void *src;
    if (etude_click_source_create(map, RATE, &src) < 0 ||
        etude_sequencer_add_source(seq, &etude_click_source_class, src, click_id, NULL) < 0)
        return 1;
    etude_drone_config_t dc;
    etude_drone_config_default(&dc);
    etude_drone_t *drone = etude_drone_create(&dc);
    if (!drone || etude_voice_add(engine, &etude_drone_class, drone, "drone", &drone_id) < 0)
        return 1;
    if (etude_sequencer_add_source(seq, &drone_source, NULL, drone_id, NULL) < 0)
        return 1;
    if (fluid) {
        etude_fluid_config_t fc;
        etude_fluid_config_default(&fc);
        etude_fluid_t *fl = etude_fluid_create(&fc);
        etude_voice_id_t fluid_id;
        if (!fl)
            return 1;
        if (etude_voice_add(engine, &etude_fluid_class, fl, "piano", &fluid_id) < 0) {
            fprintf(stderr, "rt_safety_render: fluid: %s\n", etude_fluid_error(fl));
            etude_fluid_free(fl);
            return 1;
        }
        if (etude_sequencer_add_source(seq, &drone_source, NULL, fluid_id, NULL) < 0)
            return 1;
    }
    if (bad_kind) {
        etude_voice_id_t bad_id;
        if (etude_rt_sins_prepare() || etude_rt_sin_known(bad_kind) < 0) {
            fprintf(stderr, "rt_safety_render: --bad %s: unknown kind or cannot prepare\n", bad_kind);
            return 2;
        }
        if (etude_voice_add(engine, &bad_class, NULL, "bad", &bad_id) < 0)
            return 1;
    }

    if (leak) {
        static void *volatile lost;
        lost = malloc(4096);
        memset(lost, 1, 4096);
        lost = NULL;
    }
    run_t r = {.engine = engine, .seq = seq};
    if (out_path) {
        SF_INFO info = {.samplerate = RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
        r.out = sf_open(out_path, SFM_WRITE, &info);
        if (!r.out) {
            fprintf(stderr, "rt_safety_render: %s: cannot write: %s\n", out_path, sf_strerror(NULL));
            return 1;
        }
    }
    etude_sequencer_start(seq, 0);
    etude_offline_config_t oc = {.period = 256, .total_frames = (uint64_t)(seconds * RATE),
                                 .write = on_period, .user = &r};
    int rc = etude_offline_run(engine, seq, &oc);

    etude_engine_stats_t st;
    etude_engine_stats(engine, &st);
    printf("rendered %llu frames; events dispatched %llu, cancelled %llu, late %llu; voices churned %llu; "
           "bus messages %zu; peak %.3f\n",
           (unsigned long long)st.frames, (unsigned long long)st.events_dispatched,
           (unsigned long long)st.events_cancelled, (unsigned long long)st.events_late,
           (unsigned long long)r.churned, etude_bus_count(bus, NULL), r.peak);
    if (r.out)
        sf_close(r.out);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(engine);
    etude_tempomap_destroy(map);
    etude_bus_destroy(bus);
    if (rc != 0) {
        fprintf(stderr, "rt_safety_render: render failed: %s\n", rc < 0 ? etude_strerror(rc) : "write");
        return 1;
    }
    if (st.events_dispatched == 0 || r.peak < 0.01 || r.churned < 4) {
        fprintf(stderr, "rt_safety_render: the render did not exercise the engine (no events or silence)\n");
        return 1;
    }
    return 0;
}
