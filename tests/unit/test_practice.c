/* test_practice.c - tempo scale, A-B loop with count-in and the speed trainer, rendered through the
 * real engine, sequencer and offline driver; onsets are measured on the rendered audio of sample
 * voices (which start on the exact frame of their event). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "etude_engine.h"
#include "etude_midifile.h"
#include "etude_offline.h"
#include "etude_practice.h"
#include "etude_sample.h"
#include "etude_sequencer.h"

#define RATE 48000u

static char tmpdir[64];
static char burst_path[128];

/* A 5 ms burst at 0.5 that starts at full level on its first frame, so the onset is exact. */
static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/etude-test-practice-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(burst_path, sizeof burst_path, "%s/burst.wav", tmpdir);
    SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(burst_path, SFM_WRITE, &info);
    if (!sf)
        return -1;
    float b[240];
    for (int i = 0; i < 240; i++)
        b[i] = 0.5f * (float)cos(2 * M_PI * 1000.0 * i / RATE);
    sf_writef_float(sf, b, 240);
    sf_close(sf);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(burst_path);
    rmdir(tmpdir);
    return 0;
}

typedef struct capture {
    float *l;
    size_t n, cap;
    etude_sequencer_t *seq;
    uint64_t max_loops_seen;
} capture_t;

static int cap_write(void *user, const float *const mix[2], uint32_t n)
{
    capture_t *c = user;
    if (c->n + n > c->cap) {
        size_t nc = (c->cap + n) * 2;
        float *x = realloc(c->l, nc * sizeof *x);
        if (!x)
            return -1;
        c->l = x;
        c->cap = nc;
    }
    memcpy(c->l + c->n, mix[0], n * sizeof(float));
    c->n += n;
    if (c->seq) {
        uint64_t l = etude_sequencer_loops(c->seq);
        if (l > c->max_loops_seen)
            c->max_loops_seen = l;
    }
    return 0;
}

/* Frames where the signal rises above 0.01 after at least 1000 frames below it. */
static size_t onsets(const float *x, size_t n, uint64_t *out, size_t max)
{
    size_t k = 0, quiet = 1000;
    for (size_t i = 0; i < n; i++) {
        if (fabsf(x[i]) > 0.01f) {
            if (quiet >= 1000 && k < max)
                out[k++] = i;
            quiet = 0;
        } else {
            quiet++;
        }
    }
    return k;
}

typedef struct rig {
    etude_engine_t *engine;
    etude_sequencer_t *seq;
    etude_voice_id_t voice;
} rig_t;

static void rig_open(rig_t *r)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    assert_int_equal(etude_engine_create(&cfg, &r->engine), 0);
    assert_int_equal(etude_sequencer_create(r->engine, RATE / 10, &r->seq), 0);
    etude_sample_config_t sc = {.path = burst_path, .loop = false, .key = -1};
    etude_sample_t *s = etude_sample_create(&sc);
    assert_non_null(s);
    assert_int_equal(etude_sample_probe(s), 0);
    assert_int_equal(etude_voice_add(r->engine, etude_sample_class(s), s, "burst", &r->voice), 0);
}

static void rig_close(rig_t *r)
{
    etude_sequencer_destroy(r->seq);
    etude_engine_destroy(r->engine);
}

static void render(rig_t *r, capture_t *c, uint64_t frames)
{
    etude_offline_config_t oc = {.period = 256, .total_frames = frames, .tail_frames = RATE / 2,
                                 .write = cap_write, .user = c};
    c->seq = r->seq;
    assert_int_equal(etude_offline_run(r->engine, r->seq, &oc), 0);
}

/* Speed trainer: 60 -> 100 BPM in steps of 20, two passes each, over 2 bars of 4/4 written at 120,
 * after one bar of count-in: 6 passes, 12 bars, 48 beats, each at its pass's tempo to the frame. */
static void test_trainer_bars_and_tempi(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r);
    etude_practice_config_t pc;
    etude_practice_config_default(&pc);
    pc.count_in = 1;
    pc.trainer = true;
    pc.start_bpm = 60;
    pc.step_bpm = 20;
    pc.target_bpm = 100;
    pc.every = 2;
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_fixed(120, 4, 4, 2, &pc, RATE, &p, err, sizeof err), 0);
    assert_int_equal(etude_practice_passes(p), 6);
    void *src = etude_practice_pattern_source(p, "xxxx", 60);
    assert_non_null(src);
    assert_int_equal(etude_sequencer_add_source(r.seq, &etude_practice_source_class, src, r.voice, NULL), 0);
    assert_int_equal(etude_practice_attach(p, r.seq), 0);
    uint64_t len = etude_practice_length(p);
    /* count-in 4 beats at 60, then 2 passes x 8 beats at 60, 80, 100 */
    double want_len = (4 + 16) * 60.0 / 60 * RATE + 16 * 60.0 / 80 * RATE + 16 * 60.0 / 100 * RATE;
    assert_true(llabs((long long)len - llround(want_len)) <= 1);
    capture_t c = {0};
    etude_offline_config_t oc = {.period = 256, .tail_frames = RATE / 2, .write = cap_write, .user = &c};
    assert_int_equal(etude_offline_run(r.engine, r.seq, &oc), 0);
    assert_int_equal(c.n, len + RATE / 2);
    uint64_t on[64];
    size_t n = onsets(c.l, c.n, on, 64);
    assert_int_equal(n, 48);
    double t = 4 * RATE; /* count-in: one bar at 60 */
    size_t i = 0;
    const double bpm[3] = {60, 80, 100};
    for (int step = 0; step < 3; step++)
        for (int beat = 0; beat < 16; beat++, i++) {
            if (llabs((long long)on[i] - llround(t)) > 1)
                fail_msg("beat %zu at %llu, expected %.1f (%.0f BPM)", i, (unsigned long long)on[i], t, bpm[step]);
            assert_float_equal(etude_practice_pass_bpm(p, (uint32_t)(step * 2 + beat / 8)), bpm[step], 1e-9);
            t += 60.0 / bpm[step] * RATE;
        }
    free(c.l);
    etude_practice_unref(p);
    rig_close(&r);
}

/* A MIDI file (written here): 4 bars of 4/4 at 100 BPM, a note on every beat with key = 60 + bar.
 * Loop bars 2-3 three times at 75 %, one bar of count-in: every note lands where the file puts it,
 * scaled, pass after pass, and only notes of bars 2 and 3 sound. */
static etude_midifile_t *four_bar_file(void)
{
    uint8_t f[1024];
    size_t n = 0;
    const uint8_t head[] = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xe0}; /* type 0, 480 ppq */
    memcpy(f, head, sizeof head);
    n = sizeof head;
    uint8_t t[600];
    size_t m = 0;
    const uint8_t tempo[] = {0x00, 0xff, 0x51, 0x03, 0x09, 0x27, 0xc0}; /* 600000 us = 100 BPM */
    memcpy(t, tempo, sizeof tempo);
    m = sizeof tempo;
    for (int bar = 0; bar < 4; bar++)
        for (int beat = 0; beat < 4; beat++) {
            t[m++] = 0x00, t[m++] = 0x90, t[m++] = (uint8_t)(60 + bar), t[m++] = 100;
            t[m++] = 0x81, t[m++] = 0x70, t[m++] = 0x80, t[m++] = (uint8_t)(60 + bar), t[m++] = 0; /* 240 later */
            t[m++] = 0x81, t[m++] = 0x70, t[m++] = 0xff, t[m++] = 0x01, t[m++] = 0; /* 240: empty text event */
        }
    t[m++] = 0x00, t[m++] = 0xff, t[m++] = 0x2f, t[m++] = 0x00;
    memcpy(f + n, "MTrk", 4);
    f[n + 4] = 0, f[n + 5] = 0, f[n + 6] = (uint8_t)(m >> 8), f[n + 7] = (uint8_t)m;
    memcpy(f + n + 8, t, m);
    n += 8 + m;
    etude_midifile_t *mf = NULL;
    etude_midifile_error_t e;
    assert_int_equal(etude_midifile_parse(f, n, &mf, &e), 0);
    return mf;
}

static void test_ab_loop_midi_count_in(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r);
    etude_practice_config_t pc;
    etude_practice_config_default(&pc);
    pc.tempo_scale = 0.75;
    pc.from_bar = 2;
    pc.to_bar = 3;
    pc.times = 3;
    pc.count_in = 1;
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_midi(four_bar_file(), &pc, RATE, &p, err, sizeof err), 0);
    assert_int_equal(etude_practice_bars(p), 4);
    void *src = etude_practice_midi_source(p, 0);
    assert_non_null(src);
    assert_int_equal(etude_sequencer_add_source(r.seq, &etude_practice_source_class, src, r.voice, NULL), 0);
    capture_t c = {0};
    etude_offline_config_t oc = {.period = 256, .tail_frames = RATE / 2, .write = cap_write, .user = &c};
    assert_int_equal(etude_offline_run(r.engine, r.seq, &oc), 0);
    uint64_t on[64];
    size_t n = onsets(c.l, c.n, on, 64);
    assert_int_equal(n, 3 * 2 * 4);
    double beat = 0.6 / 0.75 * RATE; /* 100 BPM at 75 % */
    for (size_t i = 0; i < n; i++) {
        double want = 4 * beat + (double)i * beat;
        if (llabs((long long)on[i] - llround(want)) > 1)
            fail_msg("note %zu at %llu, expected %.1f", i, (unsigned long long)on[i], want);
    }
    free(c.l);
    etude_practice_unref(p);
    rig_close(&r);
}

/* An endless loop (times 0) runs on the sequencer's own loop: passes are counted there, and the
 * notes repeat with the pass length as period. */
static void test_endless_loop_uses_sequencer_loop(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r);
    etude_practice_config_t pc;
    etude_practice_config_default(&pc);
    pc.from_bar = 3;
    pc.to_bar = 3;
    pc.times = 0;
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_midi(four_bar_file(), &pc, RATE, &p, err, sizeof err), 0);
    assert_int_equal(etude_practice_passes(p), UINT32_MAX);
    assert_int_equal(etude_practice_length(p), UINT64_MAX);
    void *src = etude_practice_midi_source(p, 0);
    assert_int_equal(etude_sequencer_add_source(r.seq, &etude_practice_source_class, src, r.voice, NULL), 0);
    assert_int_equal(etude_practice_attach(p, r.seq), 0);
    assert_int_equal(etude_sequencer_start(r.seq, 0), 0);
    capture_t c = {0};
    uint64_t bar = 4 * 0.6 * RATE;
    render(&r, &c, 5 * bar + bar / 2);
    assert_int_equal(c.max_loops_seen, 5);
    uint64_t on[64];
    size_t n = onsets(c.l, c.n, on, 64);
    assert_int_equal(n, 5 * 4 + 2);
    for (size_t i = 0; i < n; i++)
        assert_true(llabs((long long)on[i] - llround(i * 0.6 * RATE)) <= 1);
    free(c.l);
    etude_practice_unref(p);
    rig_close(&r);
}

/* A note held past the loop's end (bar 2 to the end of bar 4, looping bar 2 twice) drives a looped
 * sample: each pass ends its notes, so nothing sounds after the material's end. */
static void test_no_note_outlives_the_loop(void **state)
{
    (void)state;
    uint8_t f[] = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xe0,
                   'M', 'T', 'r', 'k', 0, 0, 0, 21,
                   0x00, 0xff, 0x51, 0x03, 0x09, 0x27, 0xc0,  /* 100 BPM */
                   0x8f, 0x00, 0x90, 60, 100,                 /* delta 1920: bar 2 */
                   0xad, 0x00, 0x80, 60, 0,                   /* delta 5760: end of bar 4 */
                   0x00, 0xff, 0x2f, 0x00};
    etude_midifile_t *mf = NULL;
    assert_int_equal(etude_midifile_parse(f, sizeof f, &mf, NULL), 0);
    etude_engine_t *engine;
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    assert_int_equal(etude_engine_create(&cfg, &engine), 0);
    etude_sequencer_t *seq;
    assert_int_equal(etude_sequencer_create(engine, RATE / 10, &seq), 0);
    etude_sample_config_t sc = {.path = burst_path, .loop = true, .key = -1};
    etude_sample_t *s = etude_sample_create(&sc);
    assert_int_equal(etude_sample_probe(s), 0);
    etude_voice_id_t v;
    assert_int_equal(etude_voice_add(engine, etude_sample_class(s), s, "held", &v), 0);
    etude_practice_config_t pc;
    etude_practice_config_default(&pc);
    pc.from_bar = 2, pc.to_bar = 2, pc.times = 2;
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_midi(mf, &pc, RATE, &p, err, sizeof err), 0);
    assert_int_equal(etude_practice_bars(p), 4);
    assert_int_equal(etude_sequencer_add_source(seq, &etude_practice_source_class, etude_practice_midi_source(p, 0), v, NULL), 0);
    capture_t c = {0};
    etude_offline_config_t oc = {.period = 256, .tail_frames = RATE, .write = cap_write, .user = &c};
    assert_int_equal(etude_offline_run(engine, seq, &oc), 0);
    uint64_t end = (uint64_t)llround(2 * 2.4 * RATE);
    assert_int_equal(c.n, end + RATE);
    /* sounding through both passes, silent from the end's 5 ms fade on */
    for (uint64_t t = 1000; t < end; t += RATE / 10) {
        float pk = 0;
        for (uint64_t i = t; i < t + 48; i++)
            pk = fmaxf(pk, fabsf(c.l[i]));
        if (pk < 0.1f)
            fail_msg("silent at %llu, inside the loop", (unsigned long long)t);
    }
    for (size_t i = end + RATE / 200 + 256; i < c.n; i++)
        if (fabsf(c.l[i]) > 1e-6f)
            fail_msg("still sounding at frame %zu, %zu frames after the material's end", i, (size_t)(i - end));
    free(c.l);
    etude_practice_unref(p);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(engine);
}

typedef struct change {
    capture_t c;
    etude_sequencer_t *seq;
    etude_practice_t *p;
    uint64_t at, done_at;
} change_t;

static int change_write(void *user, const float *const mix[2], uint32_t n)
{
    change_t *ch = user;
    int rc = cap_write(&ch->c, mix, n);
    if (!rc && !ch->done_at && ch->c.n >= ch->at) {
        ch->done_at = etude_sequencer_position(ch->seq);
        rc = etude_practice_set_tempo_scale(ch->p, ch->seq, 0.5);
    }
    return rc;
}

/* Halving the tempo scale while playing (as etude play's control does): beats already played stay,
 * the rest of the material follows the new scale from the frame of the change on, to the frame. */
static void test_tempo_change_while_playing(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r);
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_fixed(120, 4, 4, 2, NULL, RATE, &p, err, sizeof err), 0);
    void *src = etude_practice_pattern_source(p, "xxxx", 60);
    assert_int_equal(etude_sequencer_add_source(r.seq, &etude_practice_source_class, src, r.voice, NULL), 0);
    change_t ch = {.seq = r.seq, .p = p, .at = 60000};
    etude_offline_config_t oc = {.period = 256, .tail_frames = RATE / 2, .write = change_write, .user = &ch};
    assert_int_equal(etude_offline_run(r.engine, r.seq, &oc), 0);
    uint64_t F = ch.done_at;
    assert_true(F >= 60000 && F < 60000 + 256);
    uint64_t on[16];
    size_t n = onsets(ch.c.l, ch.c.n, on, 16);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        double rel = i * 0.5; /* seconds at the written tempo */
        double want = i * 0.5 * RATE <= F ? rel * RATE : F + (rel - (double)F / RATE) * RATE / 0.5;
        if (llabs((long long)on[i] - llround(want)) > 1)
            fail_msg("beat %zu at %llu, expected %.1f (change at %llu)", i, (unsigned long long)on[i], want,
                     (unsigned long long)F);
    }
    double end = F + (4.0 - (double)F / RATE) * RATE / 0.5;
    assert_true(llabs((long long)ch.c.n - llround(end) - RATE / 2) <= 1);
    assert_int_equal(etude_practice_set_tempo_scale(p, r.seq, 9), ETUDE_EINVAL);
    free(ch.c.l);
    etude_practice_unref(p);
    rig_close(&r);
}

/* The same change on an endless loop (the sequencer's loop): the pass keeps its start, stretches to
 * twice its length, and playback continues from the same musical point; passes go on looping. */
static void test_tempo_change_endless_loop(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r);
    etude_practice_config_t pc;
    etude_practice_config_default(&pc);
    pc.from_bar = 3, pc.to_bar = 3, pc.times = 0;
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_midi(four_bar_file(), &pc, RATE, &p, err, sizeof err), 0);
    void *src = etude_practice_midi_source(p, 0);
    assert_int_equal(etude_sequencer_add_source(r.seq, &etude_practice_source_class, src, r.voice, NULL), 0);
    assert_int_equal(etude_practice_attach(p, r.seq), 0);
    assert_int_equal(etude_sequencer_start(r.seq, 0), 0);
    const uint64_t beat = (uint64_t)(0.6 * RATE); /* 28800 */
    change_t ch = {.seq = r.seq, .p = p, .at = beat + 5000};
    etude_offline_config_t oc = {.period = 256, .total_frames = 4 * beat + 10 * beat, .write = change_write, .user = &ch};
    assert_int_equal(etude_offline_run(r.engine, r.seq, &oc), 0);
    uint64_t F = ch.done_at;
    assert_int_equal(etude_practice_pass_start(p, 1), 8 * beat);
    uint64_t on[32];
    size_t n = onsets(ch.c.l, ch.c.n, on, 32);
    /* beats 0 and 1 at the written tempo; beat 2 of the pass at F + (1.2 s - F/rate) x 2; then every
     * 2 beats of material, looping after 8 beats */
    assert_true(n >= 6);
    assert_int_equal(on[0], 0);
    assert_int_equal(on[1], beat);
    double b2 = F + (2 * 0.6 - (double)F / RATE) * RATE / 0.5;
    assert_true(llabs((long long)on[2] - llround(b2)) <= 1);
    for (size_t i = 3; i < n; i++)
        if (llabs((long long)(on[i] - on[i - 1]) - (long long)(2 * beat)) > 1)
            fail_msg("onset %zu: %llu frames after the previous, expected %llu", i,
                     (unsigned long long)(on[i] - on[i - 1]), (unsigned long long)(2 * beat));
    assert_true(etude_sequencer_loops(r.seq) >= 1);
    free(ch.c.l);
    etude_practice_unref(p);
    rig_close(&r);
}

static int collect(void *ctx, uint64_t pos, const etude_event_t *ev)
{
    capture_t *c = ctx; /* l[] holds position, level pairs */
    if (c->n + 2 > c->cap)
        return ETUDE_EFULL;
    c->l[c->n++] = (float)pos;
    c->l[c->n++] = ev->kind == ETUDE_EV_CLICK ? ev->u.click.level : -1;
    return 0;
}

/* A beat pattern on the practice click, klick's notation: 6/8 counted in two (beats 1 and 4 only,
 * accent then normal), count-in included; bars of another length keep an accent and normal beats;
 * a bad pattern gives no source. Fails without etude_practice_pattern_click_source() (e50f8ca has
 * every beat of every bar). */
static void test_pattern_click(void **state)
{
    (void)state;
    etude_practice_config_t pc;
    etude_practice_config_default(&pc);
    pc.count_in = 1;
    etude_practice_t *p = NULL;
    char err[200];
    assert_int_equal(etude_practice_create_fixed(120, 6, 8, 2, &pc, RATE, &p, err, sizeof err), 0);
    assert_int_equal(etude_practice_bar_beats(p, 1), 6);
    assert_int_equal(etude_practice_bar_beats(p, 2), 0);
    assert_null(etude_practice_pattern_click_source(p, true, "X..y.."));
    float buf[64];
    capture_t c = {.l = buf, .cap = 64};
    void *src = etude_practice_pattern_click_source(p, true, "X..x..");
    assert_non_null(src);
    assert_int_equal(etude_practice_source_class.expand(src, 0, 10 * RATE, collect, &c), 0);
    /* an eighth at 120 quarter notes a minute: 12000 frames; beat 4 is 36000 frames into the bar */
    static const float want[] = {0, ETUDE_CLICK_ACCENT, 36000, ETUDE_CLICK_NORMAL,     /* count-in */
                                 72000, ETUDE_CLICK_ACCENT, 108000, ETUDE_CLICK_NORMAL,
                                 144000, ETUDE_CLICK_ACCENT, 180000, ETUDE_CLICK_NORMAL,
                                 216000, -1 /* ALL_NOTES_OFF at the end */};
    assert_int_equal(c.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < c.n; i++)
        assert_true(c.l[i] == want[i]);
    etude_practice_source_class.destroy(src);

    /* a pattern of another length leaves the bars as they were: six clicks a bar, accent first */
    c.n = 0;
    src = etude_practice_pattern_click_source(p, true, "X.x.");
    assert_non_null(src);
    assert_int_equal(etude_practice_source_class.expand(src, 0, 10 * RATE, collect, &c), 0);
    assert_int_equal(c.n, 2 * (18 + 1));
    assert_true(c.l[1] == ETUDE_CLICK_ACCENT && c.l[3] == ETUDE_CLICK_NORMAL && c.l[13] == ETUDE_CLICK_ACCENT);
    etude_practice_source_class.destroy(src);
    etude_practice_unref(p);
}

static void test_bad_configs(void **state)
{
    (void)state;
    etude_practice_config_t pc;
    etude_practice_t *p = NULL;
    char err[200];
    etude_practice_config_default(&pc);
    pc.to_bar = 9;
    assert_int_equal(etude_practice_create_fixed(100, 4, 4, 8, &pc, RATE, &p, err, sizeof err), ETUDE_EINVAL);
    assert_non_null(strstr(err, "to_bar 9 is past the last bar (8)"));
    etude_practice_config_default(&pc);
    pc.from_bar = 5, pc.to_bar = 4;
    assert_int_equal(etude_practice_create_fixed(100, 4, 4, 8, &pc, RATE, &p, err, sizeof err), ETUDE_EINVAL);
    assert_non_null(strstr(err, "comes before"));
    etude_practice_config_default(&pc);
    pc.tempo_scale = 0;
    assert_int_equal(etude_practice_create_midi(four_bar_file(), &pc, RATE, &p, err, sizeof err), ETUDE_EINVAL);
    assert_non_null(strstr(err, "tempo_scale"));
    etude_practice_config_default(&pc);
    pc.trainer = true, pc.start_bpm = 100, pc.target_bpm = 90, pc.step_bpm = 5;
    assert_int_equal(etude_practice_create_fixed(100, 4, 4, 8, &pc, RATE, &p, err, sizeof err), ETUDE_EINVAL);
    assert_non_null(strstr(err, "trainer"));
    assert_int_equal(etude_practice_create_fixed(100, 4, 3, 8, NULL, RATE, &p, err, sizeof err), ETUDE_EINVAL);
    assert_non_null(strstr(err, "meter 4/3"));
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trainer_bars_and_tempi),
        cmocka_unit_test(test_ab_loop_midi_count_in),
        cmocka_unit_test(test_endless_loop_uses_sequencer_loop),
        cmocka_unit_test(test_no_note_outlives_the_loop),
        cmocka_unit_test(test_tempo_change_while_playing),
        cmocka_unit_test(test_tempo_change_endless_loop),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_pattern_click),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
