/* test_click.c - unit tests of the click voice, its sounds and the tempo-map click source, run
 * through the real engine, sequencer and offline driver. */
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

#include "etude_click.h"
#include "etude_engine.h"
#include "etude_offline.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"

#define RATE 48000

static void *make_click(const char *sound, float accent_gain, float normal_gain, int emphasis)
{
    etude_click_config_t cfg;
    etude_click_config_default(&cfg);
    cfg.sound = sound;
    cfg.accent_gain = accent_gain;
    cfg.normal_gain = normal_gain;
    cfg.emphasis = emphasis;
    void *c = NULL;
    char err[256];
    assert_int_equal(etude_click_create(&cfg, RATE, &c, err, sizeof err), 0);
    return c;
}

static void test_builtin_sounds(void **state)
{
    (void)state;
    for (size_t i = 0; etude_click_builtin_names[i]; i++) {
        void *c = make_click(etude_click_builtin_names[i], 1, 1, 0);
        static float acc[RATE], nor[RATE];
        uint32_t na = etude_click_copy_sound(c, ETUDE_CLICK_ACCENT, acc, RATE);
        uint32_t nn = etude_click_copy_sound(c, ETUDE_CLICK_NORMAL, nor, RATE);
        /* short */
        assert_true(na > 0 && na < RATE / 10);
        assert_true(nn > 0 && nn < RATE / 10);
        /* the first frame is the loudest: the onset is the event's own frame */
        float pa = 0, pn = 0;
        for (uint32_t k = 0; k < na; k++)
            pa = fmaxf(pa, fabsf(acc[k]));
        for (uint32_t k = 0; k < nn; k++)
            pn = fmaxf(pn, fabsf(nor[k]));
        assert_true(fabsf(acc[0]) == pa && fabsf(nor[0]) == pn);
        /* clean: no clipping, ends in silence */
        assert_true(pa <= 1.0f && pn <= 1.0f);
        assert_true(fabsf(acc[na - 1]) < 1e-3f && fabsf(nor[nn - 1]) < 1e-3f);
        /* the accent is distinct: louder, and a different sound */
        assert_true(pa > pn * 1.2f);
        double diff = 0;
        for (uint32_t k = 0; k < (na < nn ? na : nn); k++)
            diff += fabs(acc[k] / pa - nor[k] / pn);
        assert_true(diff > 10.0);
        assert_int_equal(etude_click_sound_frames(c), na > nn ? na : nn);
        etude_click_free(c);
    }
    etude_click_config_t cfg;
    etude_click_config_default(&cfg);
    cfg.sound = "cowbell";
    void *c = NULL;
    char err[256];
    assert_int_equal(etude_click_create(&cfg, RATE, &c, err, sizeof err), ETUDE_EINVAL);
    assert_null(c);
    assert_string_equal(err, "unknown built-in click sound 'cowbell' (expected beep, wood or square)");
    assert_true(etude_click_builtin_exists("wood"));
    assert_false(etude_click_builtin_exists("Wood"));
}

static void write_wav(const char *path, int rate, int channels, int frames, double freq)
{
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    float *buf = malloc(sizeof(float) * (size_t)frames * (size_t)channels);
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            buf[i * channels + c] = (float)(0.5 * cos(2 * M_PI * freq * i / rate)) * (c == 0 ? 1.0f : 0.0f);
    assert_int_equal(sf_writef_float(f, buf, frames), frames);
    free(buf);
    sf_close(f);
}

static void test_sample_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/etude-test-click-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char normal[256], accent[256], longf[256], junk[256], missing[256];
    snprintf(normal, sizeof normal, "%s/tick.wav", dir);
    snprintf(accent, sizeof accent, "%s/tock.flac", dir);
    snprintf(longf, sizeof longf, "%s/long.wav", dir);
    snprintf(junk, sizeof junk, "%s/junk.wav", dir);
    snprintf(missing, sizeof missing, "%s/missing.wav", dir);
    write_wav(normal, 44100, 2, 4410, 441.0); /* stereo, 0.1 s, at another rate */
    {
        SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
        SNDFILE *f = sf_open(accent, SFM_WRITE, &info);
        assert_non_null(f);
        float s[960];
        for (int i = 0; i < 960; i++)
            s[i] = 0.75f * (float)exp(-i / 200.0);
        sf_writef_float(f, s, 960);
        sf_close(f);
    }
    write_wav(longf, 8000, 1, 8000 * 11, 100.0);
    FILE *j = fopen(junk, "w");
    fputs("this is not audio at all, just text pretending to be a wav file\n", j);
    fclose(j);

    etude_click_config_t cfg;
    etude_click_config_default(&cfg);
    cfg.normal_file = normal;
    cfg.accent_file = accent;
    void *c = NULL;
    char err[512];
    assert_int_equal(etude_click_create(&cfg, RATE, &c, err, sizeof err), 0);
    static float buf[RATE];
    /* resampled 44100 -> 48000: 0.1 s stays 0.1 s; stereo (left only) mixed to mono: half level */
    uint32_t n = etude_click_copy_sound(c, ETUDE_CLICK_NORMAL, buf, RATE);
    assert_true(n >= 4790 && n <= 4810);
    float peak = 0;
    for (uint32_t k = 100; k < n - 100; k++)
        peak = fmaxf(peak, fabsf(buf[k]));
    assert_true(fabsf(peak - 0.25f) < 0.01f);
    /* same rate: taken as is (FLAC, 16 bits) */
    n = etude_click_copy_sound(c, ETUDE_CLICK_ACCENT, buf, RATE);
    assert_int_equal(n, 960);
    assert_true(fabsf(buf[0] - 0.75f) < 1e-3f);
    etude_click_free(c);

    /* only a normal file: accents use it too */
    cfg.accent_file = NULL;
    assert_int_equal(etude_click_create(&cfg, 44100, &c, err, sizeof err), 0);
    assert_int_equal(etude_click_copy_sound(c, ETUDE_CLICK_ACCENT, buf, RATE), 4410);
    etude_click_free(c);

    char want[512];
    cfg.normal_file = missing;
    assert_int_equal(etude_click_create(&cfg, RATE, &c, err, sizeof err), ETUDE_EIO);
    assert_null(c);
    snprintf(want, sizeof want, "%s: cannot open as a sound file: ", missing);
    assert_memory_equal(err, want, strlen(want));
    cfg.normal_file = junk;
    assert_int_equal(etude_click_create(&cfg, RATE, &c, err, sizeof err), ETUDE_EIO);
    snprintf(want, sizeof want, "%s: cannot open as a sound file: ", junk);
    assert_memory_equal(err, want, strlen(want));
    cfg.normal_file = longf;
    assert_int_equal(etude_click_create(&cfg, RATE, &c, err, sizeof err), ETUDE_EPARSE);
    snprintf(want, sizeof want, "%s: longer than 10 seconds (a click sample must be short)", longf);
    assert_string_equal(err, want);

    unlink(normal);
    unlink(accent);
    unlink(longf);
    unlink(junk);
    rmdir(dir);
}

/* Run the engine for frames, collecting the left mix. */
static void run(etude_engine_t *e, float *out, uint32_t frames, uint32_t period)
{
    static float l[4096], r[4096];
    float *const mix[2] = {l, r};
    for (uint32_t done = 0; done < frames; done += period) {
        uint32_t n = frames - done < period ? frames - done : period;
        etude_engine_process(e, n, mix, NULL);
        assert_true(etude_engine_tick(e) >= 0);
        memcpy(out + done, l, n * sizeof *l);
        for (uint32_t i = 0; i < n; i++)
            assert_true(l[i] == r[i]); /* a mono voice in the centre */
    }
}

static void test_voice_in_engine(void **state)
{
    (void)state;
    etude_engine_config_t ec;
    etude_engine_config_default(&ec, RATE);
    etude_engine_t *e = NULL;
    assert_int_equal(etude_engine_create(&ec, &e), 0);
    void *c = make_click("beep", 1.0f, 0.5f, ETUDE_CLICK_EMPHASIS_PATTERN);
    static float acc[RATE], nor[RATE];
    uint32_t na = etude_click_copy_sound(c, ETUDE_CLICK_ACCENT, acc, RATE);
    uint32_t nn = etude_click_copy_sound(c, ETUDE_CLICK_NORMAL, nor, RATE);
    etude_voice_id_t v;
    assert_int_equal(etude_voice_add(e, &etude_click_voice_class, c, "click", &v), 0);

    etude_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.voice = v;
    ev.kind = ETUDE_EV_CLICK;
    ev.frame = 1000;
    ev.u.click.level = ETUDE_CLICK_ACCENT;
    ev.u.click.gain = 0.8f;
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    ev.frame = 10007;
    ev.u.click.level = ETUDE_CLICK_NORMAL;
    ev.u.click.gain = 1.0f;
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    /* overlapping the accent: both sound, summed */
    ev.frame = 1100;
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);

    static float out[20000];
    run(e, out, 20000, 256); /* events fall inside periods, not on their edges */
    for (uint32_t i = 0; i < 1000; i++)
        assert_true(out[i] == 0.0f);
    for (uint32_t i = 0; i < 20000 - 1000; i++) {
        double want = 0;
        if (i < na)
            want += acc[i] * 0.8 * 1.0;               /* event gain x accent gain */
        if (i >= 100 && i - 100 < nn)
            want += nor[i - 100] * 1.0 * 0.5;         /* x normal gain */
        if (i >= 9007 && i - 9007 < nn)
            want += nor[i - 9007] * 0.5;
        assert_true(fabs(out[1000 + i] - want) < 1e-5);
    }

    /* ALL_NOTES_OFF fades a sounding click out within 1 ms */
    ev.frame = 30000;
    ev.u.click.level = ETUDE_CLICK_ACCENT;
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    ev.frame = 30100;
    ev.kind = ETUDE_EV_ALL_NOTES_OFF;
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    run(e, out, 20000, 512);
    for (uint32_t i = 30000 - 20000 + 100 + RATE / 1000; i < 20000; i++)
        assert_true(out[i] == 0.0f);
    assert_true(out[30000 - 20000] != 0.0f);

    /* disposal: the engine frees the voice (the class's dispose) */
    assert_int_equal(etude_voice_dispose(e, v), 0);
    run(e, out, 4096, 512);
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    assert_int_equal(st.voices_in_use, 0);
    etude_engine_destroy(e);
}

static void test_emphasis(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        etude_engine_config_t ec;
        etude_engine_config_default(&ec, RATE);
        etude_engine_t *e = NULL;
        assert_int_equal(etude_engine_create(&ec, &e), 0);
        void *c = make_click("wood", 1.0f, 1.0f, mode);
        static float acc[RATE], nor[RATE];
        etude_click_copy_sound(c, ETUDE_CLICK_ACCENT, acc, RATE);
        etude_click_copy_sound(c, ETUDE_CLICK_NORMAL, nor, RATE);
        etude_voice_id_t v;
        assert_int_equal(etude_voice_add(e, &etude_click_voice_class, c, "click", &v), 0);
        etude_event_t ev = {.voice = v, .kind = ETUDE_EV_CLICK, .frame = 0};
        ev.u.click.gain = 1.0f;
        ev.u.click.level = ETUDE_CLICK_ACCENT;
        assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
        ev.frame = 10000;
        ev.u.click.level = ETUDE_CLICK_NORMAL;
        assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
        static float out[12000];
        run(e, out, 12000, 1024);
        float first = mode == ETUDE_CLICK_EMPHASIS_NONE ? nor[0] : acc[0];
        float second = mode == ETUDE_CLICK_EMPHASIS_ALL ? acc[0] : nor[0];
        assert_true(out[0] == first);
        assert_true(out[10000] == second);
        etude_engine_destroy(e);
    }
}

/* The source on its own: a collecting emit. */
typedef struct collected {
    uint64_t pos[4096];
    int level[4096];
    float gain[4096];
    size_t n;
} collected_t;

static int collect(void *ctx, uint64_t pos, const etude_event_t *ev)
{
    collected_t *c = ctx;
    assert_int_equal(ev->kind, ETUDE_EV_CLICK);
    c->pos[c->n] = pos;
    c->level[c->n] = ev->u.click.level;
    c->gain[c->n] = ev->u.click.gain;
    c->n++;
    return 0;
}

static void test_source(void **state)
{
    (void)state;
    const char *text = "2 3/4 100 X.x 0.5\n1 7/8 90-150\n1 2/4 60,120\n";
    char err[256];
    etude_tempomap_t *m = NULL;
    assert_int_equal(etude_tempomap_parse(text, strlen(text), "t", &m, err, sizeof err), 0);
    void *s = NULL;
    assert_int_equal(etude_click_source_create(m, 44100, &s), 0);
    assert_int_equal(etude_click_source_class.length(s), etude_tempomap_frames(m, 44100));

    static collected_t all, parts;
    memset(&all, 0, sizeof all);
    memset(&parts, 0, sizeof parts);
    assert_int_equal(etude_click_source_class.expand(s, 0, UINT64_MAX / 2, collect, &all), 0);
    /* 6 beats with 2 silent, 7, 2: 13 clicks */
    assert_int_equal(all.n, 4 + 7 + 2);
    size_t k = 0;
    for (uint64_t b = 0; b < etude_tempomap_beat_count(m); b++) {
        etude_tempomap_beat_t bt;
        etude_tempomap_beat(m, b, &bt);
        if (bt.type == ETUDE_BEAT_SILENT)
            continue;
        assert_int_equal(all.pos[k], etude_tempomap_beat_frame(m, b, 44100));
        assert_int_equal(all.level[k], bt.type == ETUDE_BEAT_ACCENT ? ETUDE_CLICK_ACCENT : ETUDE_CLICK_NORMAL);
        assert_true(all.gain[k] == bt.volume);
        k++;
    }
    assert_true(all.gain[0] == 0.5f && all.gain[4] == 1.0f);
    /* windows of any size, in order or after a jump, give the same events */
    for (uint64_t from = 0; from < all.pos[all.n - 1] + 1; from += 1237)
        assert_int_equal(etude_click_source_class.expand(s, from, from + 1237, collect, &parts), 0);
    assert_int_equal(parts.n, all.n);
    assert_memory_equal(parts.pos, all.pos, all.n * sizeof all.pos[0]);
    parts.n = 0;
    assert_int_equal(etude_click_source_class.expand(s, all.pos[5], all.pos[5] + 1, collect, &parts), 0);
    assert_int_equal(parts.n, 1);
    assert_int_equal(parts.pos[0], all.pos[5]);
    etude_click_source_class.destroy(s);
    etude_tempomap_destroy(m);
}

typedef struct capture {
    float *buf;
    uint64_t n, cap;
} capture_t;

static int capture(void *user, const float *const mix[2], uint32_t n)
{
    capture_t *c = user;
    assert_true(c->n + n <= c->cap);
    memcpy(c->buf + c->n, mix[0], n * sizeof(float));
    c->n += n;
    return 0;
}

/* Map -> source -> sequencer -> engine -> click voice -> offline driver: every click starts at its
 * beat's frame. */
static void test_offline_render(void **state)
{
    (void)state;
    const char *text = "a: 2 7/8 140-90 X.xX.x.\nb: 2 6/8 120 X..x.. 0.5\n";
    char err[256];
    etude_tempomap_t *m = NULL;
    assert_int_equal(etude_tempomap_parse(text, strlen(text), "t", &m, err, sizeof err), 0);
    etude_engine_config_t ec;
    etude_engine_config_default(&ec, RATE);
    etude_engine_t *e = NULL;
    etude_sequencer_t *seq = NULL;
    assert_int_equal(etude_engine_create(&ec, &e), 0);
    assert_int_equal(etude_sequencer_create(e, RATE / 10, &seq), 0);
    void *c = make_click("beep", 1, 1, 0);
    etude_voice_id_t v;
    assert_int_equal(etude_voice_add(e, &etude_click_voice_class, c, "click", &v), 0);
    void *s = NULL;
    assert_int_equal(etude_click_source_create(m, RATE, &s), 0);
    assert_int_equal(etude_sequencer_add_source(seq, &etude_click_source_class, s, v, NULL), 0);

    uint64_t total = etude_tempomap_frames(m, RATE);
    capture_t cap = {calloc(total + RATE, sizeof(float)), 0, total + RATE};
    etude_offline_config_t oc = {.period = 300, .write = capture, .user = &cap};
    assert_int_equal(etude_sequencer_start(seq, 0), 0);
    assert_int_equal(etude_offline_run(e, seq, &oc), 0);
    assert_int_equal(cap.n, total);

    static float acc[RATE], nor[RATE];
    void *ref = make_click("beep", 1, 1, 0);
    etude_click_copy_sound(ref, ETUDE_CLICK_ACCENT, acc, RATE);
    etude_click_copy_sound(ref, ETUDE_CLICK_NORMAL, nor, RATE);
    etude_click_free(ref);
    size_t clicks = 0;
    uint64_t prev_end = 0;
    for (uint64_t b = 0; b < etude_tempomap_beat_count(m); b++) {
        etude_tempomap_beat_t bt;
        etude_tempomap_beat(m, b, &bt);
        uint64_t f = etude_tempomap_beat_frame(m, b, RATE);
        if (bt.type == ETUDE_BEAT_SILENT) {
            assert_true(f < prev_end || cap.buf[f] == 0.0f);
            continue;
        }
        /* silence right up to the onset, then the right sound at the entry's volume */
        assert_true(f == 0 || f - 1 < prev_end || cap.buf[f - 1] == 0.0f);
        float want = (bt.type == ETUDE_BEAT_ACCENT ? acc[0] : nor[0]) * bt.volume;
        assert_true(fabsf(cap.buf[f] - want) < 1e-6f);
        prev_end = f + 2000;
        clicks++;
    }
    assert_int_equal(clicks, 2 * 4 + 2 * 2);
    free(cap.buf);
    etude_sequencer_destroy(seq);
    etude_engine_destroy(e);
    etude_tempomap_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_sounds), cmocka_unit_test(test_sample_files),
        cmocka_unit_test(test_voice_in_engine), cmocka_unit_test(test_emphasis),
        cmocka_unit_test(test_source),          cmocka_unit_test(test_offline_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
