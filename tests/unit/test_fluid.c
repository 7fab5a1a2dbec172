/* test_fluid.c - the FluidSynth voice in the real engine with a real SoundFont: onsets within
 * FluidSynth's 64-frame granularity, mute / solo / gain checked on the rendered audio, nothing left
 * sounding after all-notes-off (with the sustain pedal down), and clear errors for bad SoundFonts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_engine.h"
#include "etude_fluid.h"
#include "etude_offline.h"

#define RATE 44100u

typedef struct capture {
    float *l, *r;
    size_t n, cap;
} capture_t;

static int cap_write(void *user, const float *const mix[2], uint32_t n)
{
    capture_t *c = user;
    if (c->n + n > c->cap) {
        size_t nc = (c->cap + n) * 2;
        float *l = realloc(c->l, nc * sizeof *l), *r;
        if (!l)
            return -1;
        c->l = l;
        r = realloc(c->r, nc * sizeof *r);
        if (!r)
            return -1;
        c->r = r;
        c->cap = nc;
    }
    memcpy(c->l + c->n, mix[0], n * sizeof(float));
    memcpy(c->r + c->n, mix[1], n * sizeof(float));
    c->n += n;
    return 0;
}

static etude_engine_t *engine_new(void)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    etude_engine_t *e = NULL;
    assert_int_equal(etude_engine_create(&cfg, &e), 0);
    return e;
}

static etude_voice_id_t fluid_add(etude_engine_t *e, int program, bool effects, const char *name, etude_fluid_t **out)
{
    etude_fluid_config_t fc;
    etude_fluid_config_default(&fc);
    fc.program = program;
    fc.effects = effects;
    etude_fluid_t *f = etude_fluid_create(&fc);
    assert_non_null(f);
    etude_voice_id_t id = 0;
    int rc = etude_voice_add(e, &etude_fluid_class, f, name, &id);
    if (rc)
        fail_msg("voice add: %s (%s)", etude_strerror(rc), etude_fluid_error(f));
    if (out)
        *out = f;
    return id;
}

static void note(etude_engine_t *e, etude_voice_id_t v, uint64_t frame, int kind, int key, int vel)
{
    etude_event_t ev = {.frame = frame, .voice = v, .kind = (uint16_t)kind};
    ev.u.note.channel = 0;
    ev.u.note.key = (uint8_t)key;
    ev.u.note.velocity = (uint8_t)vel;
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
}

static void run(etude_engine_t *e, capture_t *c, uint64_t frames, uint32_t period)
{
    etude_offline_config_t oc = {.period = period, .total_frames = frames, .write = cap_write, .user = c};
    assert_int_equal(etude_offline_run(e, NULL, &oc), 0);
}

/* Frames from a note-on at a block boundary (FluidSynth's own frame 0) until the sound first exceeds
 * thr: the instrument's attack, measured on a bare voice of the same class outside the engine. */
static long attack_latency(int key, int vel, float thr)
{
    etude_fluid_config_t fc;
    etude_fluid_config_default(&fc);
    fc.program = 0;
    fc.effects = false;
    etude_fluid_t *f = etude_fluid_create(&fc);
    assert_non_null(f);
    assert_int_equal(etude_fluid_class.prepare(f, RATE, 1024), 0);
    etude_event_t ev = {.kind = ETUDE_EV_NOTE_ON};
    ev.u.note.key = (uint8_t)key;
    ev.u.note.velocity = (uint8_t)vel;
    etude_fluid_class.event(f, &ev);
    float l[1024] = {0}, r[1024] = {0};
    float *const out[2] = {l, r};
    etude_fluid_class.render(f, out, 1024);
    long k = 0;
    while (k < 1024 && fabsf(l[k]) <= thr)
        k++;
    etude_fluid_free(f);
    return k;
}

/* Notes scheduled at frames that fall anywhere inside a period start within [frame, frame + 64),
 * less the instrument's own attack latency. */
static void test_onsets_within_64_frames(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new();
    etude_voice_id_t v = fluid_add(e, 0, false, "piano", NULL);
    const uint64_t at[] = {1000, 45111, 90263, 135000, 180047, 225500, 270001, 315063};
    const size_t n = sizeof at / sizeof *at;
    for (size_t i = 0; i < n; i++) {
        note(e, v, at[i], ETUDE_EV_NOTE_ON, 60 + (int)i, 110);
        note(e, v, at[i] + 4410, ETUDE_EV_NOTE_OFF, 60 + (int)i, 0);
    }
    capture_t c = {0};
    run(e, &c, 360000, 256);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        /* the previous note has died away long before (1 s apart, released after 0.1 s) */
        size_t k = at[i] > 2000 ? at[i] - 2000 : 0;
        float pre = 0;
        for (size_t j = k; j < at[i]; j++)
            pre = fmaxf(pre, fabsf(c.l[j]));
        size_t j = k;
        while (j < c.n && fabsf(c.l[j]) <= fmaxf(1e-4f, 4 * pre))
            j++;
        float thr = fmaxf(1e-4f, 4 * pre);
        long d = (long)j - (long)at[i] - attack_latency(60 + (int)i, 110, thr);
        if (d < 0 || d >= 64)
            fail_msg("note %zu scheduled at %llu starts at %zu (%ld frames late; bound 64)", i,
                     (unsigned long long)at[i], j, d);
        found++;
    }
    assert_int_equal(found, n);
    free(c.l);
    free(c.r);
    etude_engine_destroy(e);
}

typedef struct mixcase {
    float gain_a;
    bool mute_a, solo_b;
} mixcase_t;

/* Two FluidSynth voices (an organ and a flute, different notes); returns the rendered left channel. */
static float *render_pair(mixcase_t mc, size_t *frames)
{
    etude_engine_t *e = engine_new();
    etude_voice_id_t a = fluid_add(e, 19, true, "organ", NULL);
    etude_voice_id_t b = fluid_add(e, 73, true, "flute", NULL);
    assert_int_equal(etude_voice_set_gain(e, a, mc.gain_a), 0);
    assert_int_equal(etude_voice_set_mute(e, a, mc.mute_a), 0);
    assert_int_equal(etude_voice_set_solo(e, b, mc.solo_b), 0);
    for (int i = 0; i < 4; i++) {
        note(e, a, 2000 + (uint64_t)i * 11025, ETUDE_EV_NOTE_ON, 48 + 2 * i, 100);
        note(e, a, 2000 + (uint64_t)i * 11025 + 9000, ETUDE_EV_NOTE_OFF, 48 + 2 * i, 0);
        note(e, b, 7000 + (uint64_t)i * 11025, ETUDE_EV_NOTE_ON, 72 + 3 * i, 90);
        note(e, b, 7000 + (uint64_t)i * 11025 + 8000, ETUDE_EV_NOTE_OFF, 72 + 3 * i, 0);
    }
    capture_t c = {0};
    run(e, &c, 60000, 256);
    etude_engine_destroy(e);
    free(c.r);
    *frames = c.n;
    return c.l;
}

static double energy(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s;
}

/* The engine's mix of FluidSynth voices is linear and deterministic, so: both at gain 0.5/1 equals
 * 0.5 x (a alone) + (b alone) sample by sample; muting a leaves b alone; soloing b leaves b alone. */
static void test_mute_solo_gain_on_audio(void **state)
{
    (void)state;
    size_t n1, n2, n3, n4, n5;
    /* a alone is full - (b alone): a is muted in the second render. */
    float *full = render_pair((mixcase_t){1.0f, false, false}, &n1);
    float *b_alone = render_pair((mixcase_t){1.0f, true, false}, &n2);
    float *half = render_pair((mixcase_t){0.5f, false, false}, &n3);
    float *solo = render_pair((mixcase_t){1.0f, false, true}, &n4);
    float *zero = render_pair((mixcase_t){0.0f, false, false}, &n5);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_int_equal(n1, n4);
    double e_full = energy(full, n1), e_b = energy(b_alone, n1);
    assert_true(e_b > 1e-3);
    assert_true(e_full > 1.5 * e_b); /* the organ carries real energy */
    double err_half = 0, err_solo = 0, err_zero = 0;
    for (size_t i = 0; i < n1; i++) {
        float a = full[i] - b_alone[i];
        float want = 0.5f * a + b_alone[i];
        err_half = fmax(err_half, fabs(half[i] - want));
        err_solo = fmax(err_solo, fabs(solo[i] - b_alone[i]));
        err_zero = fmax(err_zero, fabs(zero[i] - b_alone[i]));
    }
    if (err_half > 1e-4 || err_solo > 1e-6 || err_zero > 1e-6)
        fail_msg("mix errors: gain 0.5 %g, solo %g, gain 0 %g", err_half, err_solo, err_zero);
    free(full);
    free(b_alone);
    free(half);
    free(solo);
    free(zero);
}

/* A held organ chord with the sustain pedal down; ETUDE_EV_ALL_NOTES_OFF (what stop, relocate and
 * loop jumps send) lifts the pedal and ends every note: within half a second the voice is silent
 * and FluidSynth has no voice left. */
static void test_nothing_sounds_after_all_notes_off(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new();
    etude_fluid_t *f = NULL;
    etude_voice_id_t v = fluid_add(e, 19, false, "organ", &f);
    etude_event_t pedal = {.frame = 100, .voice = v, .kind = ETUDE_EV_PARAM};
    pedal.u.param.id = (0xb0u << 8) | 64u;
    pedal.u.param.value = 127;
    assert_int_equal(etude_event_schedule(e, &pedal, NULL), 0);
    for (int k = 0; k < 4; k++)
        note(e, v, 200, ETUDE_EV_NOTE_ON, 48 + 4 * k, 100);
    for (int k = 0; k < 4; k++)
        note(e, v, 20000, ETUDE_EV_NOTE_OFF, 48 + 4 * k, 0); /* the pedal keeps them sounding */
    etude_event_t off = {.frame = 44100, .voice = v, .kind = ETUDE_EV_ALL_NOTES_OFF};
    assert_int_equal(etude_event_schedule(e, &off, NULL), 0);
    capture_t c = {0};
    run(e, &c, 40000, 256);
    assert_true(etude_fluid_active_voices(f) >= 4);
    assert_true(energy(c.l + 30000, 10000) > 1e-2); /* still held by the pedal */
    run(e, &c, 4410 + 22050 + 11025, 256);
    assert_int_equal(etude_fluid_active_voices(f), 0);
    float peak = 0;
    for (size_t i = 44100 + 22050; i < 44100 + 22050 + 11025; i++)
        peak = fmaxf(peak, fmaxf(fabsf(c.l[i]), fabsf(c.r[i])));
    if (peak > 1e-4f) /* -80 dB */
        fail_msg("peak %g half a second after all-notes-off", peak);
    free(c.l);
    free(c.r);
    etude_engine_destroy(e);
}

static void test_soundfont_errors(void **state)
{
    (void)state;
    assert_non_null(etude_fluid_default_soundfont());
    char err[200];
    assert_int_equal(etude_fluid_check_soundfont("/nonexistent/x.sf2", err, sizeof err), ETUDE_EIO);
    assert_non_null(strstr(err, "cannot open SoundFont"));
    assert_int_equal(etude_fluid_check_soundfont("/etc/passwd", err, sizeof err), ETUDE_EPARSE);
    assert_non_null(strstr(err, "not a SoundFont"));
    /* A voice naming a missing SoundFont fails to add, with the path in its message. */
    etude_engine_t *e = engine_new();
    etude_fluid_config_t fc;
    etude_fluid_config_default(&fc);
    fc.soundfont = "/nonexistent/x.sf2";
    etude_fluid_t *f = etude_fluid_create(&fc);
    etude_voice_id_t id;
    assert_int_equal(etude_voice_add(e, &etude_fluid_class, f, "x", &id), ETUDE_EIO);
    assert_non_null(strstr(etude_fluid_error(f), "/nonexistent/x.sf2: cannot open SoundFont"));
    etude_fluid_free(f);
    /* A program the SoundFont lacks. */
    etude_fluid_config_default(&fc);
    fc.bank = 77;
    fc.program = 5;
    f = etude_fluid_create(&fc);
    assert_int_equal(etude_voice_add(e, &etude_fluid_class, f, "x", &id), ETUDE_EINVAL);
    assert_non_null(strstr(etude_fluid_error(f), "no preset at bank 77 program 5"));
    etude_fluid_free(f);
    etude_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onsets_within_64_frames),
        cmocka_unit_test(test_mute_solo_gain_on_audio),
        cmocka_unit_test(test_nothing_sounds_after_all_notes_off),
        cmocka_unit_test(test_soundfont_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
