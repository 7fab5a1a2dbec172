/* test_voices.c - the voice pool: lifecycle and its errors, click-free disposal fade, the disposal
 * bound, pool overflow, gain/pan/mute/solo on the mix, per-voice outputs, shutdown and destroy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_bus.h"
#include "etude_engine.h"

/* A test voice: a constant (DC) or a sine, mono or stereo. prepare allocates a table so that
 * LeakSanitizer sees it if dispose is never called. */
typedef struct tvoice {
    float dc_l, dc_r;  /* DC levels (stereo: left/right) */
    float sine_amp;    /* > 0: a sine instead of DC */
    double phase, inc;
    int fail_prepare;
    int released, events;
    float *table;      /* allocated by prepare */
    int *dispose_count;
} tvoice_t;

static int tv_prepare(void *self, uint32_t rate, uint32_t max_period)
{
    tvoice_t *v = self;
    (void)max_period;
    if (v->fail_prepare)
        return ETUDE_EIO;
    v->table = malloc(1024 * sizeof(float));
    if (!v->table)
        return ETUDE_ENOMEM;
    v->inc = 2.0 * M_PI * 1000.0 / rate;
    return 0;
}

static void tv_event(void *self, const etude_event_t *ev)
{
    (void)ev;
    ((tvoice_t *)self)->events++;
}

static void tv_render(void *self, float *const out[2], uint32_t n)
{
    tvoice_t *v = self;
    for (uint32_t i = 0; i < n; i++) {
        if (v->sine_amp > 0) {
            out[0][i] += v->sine_amp * (float)sin(v->phase);
            out[1][i] += v->sine_amp * (float)sin(v->phase);
            v->phase += v->inc;
        } else {
            out[0][i] += v->dc_l;
            out[1][i] += v->dc_r;
        }
    }
}

static void tv_release(void *self) { ((tvoice_t *)self)->released++; }

static void tv_dispose(void *self)
{
    tvoice_t *v = self;
    if (v->dispose_count)
        (*v->dispose_count)++;
    free(v->table);
    free(v);
}

static const etude_voice_class_t mono_class = {.kind = "dc", .prepare = tv_prepare, .event = tv_event,
    .render = tv_render, .release = tv_release, .dispose = tv_dispose, .mono = true};
static const etude_voice_class_t stereo_class = {.kind = "dc2", .prepare = tv_prepare, .event = tv_event,
    .render = tv_render, .release = tv_release, .dispose = tv_dispose, .mono = false};

static int g_disposed;

static tvoice_t *tv_new(float dc)
{
    tvoice_t *v = calloc(1, sizeof *v);
    v->dc_l = v->dc_r = dc;
    v->dispose_count = &g_disposed;
    return v;
}

#define BUF (1 << 16)
static float g_l[BUF], g_r[BUF];
static float *const g_mix[2] = {g_l, g_r};

static etude_engine_t *engine_new(uint32_t voices, uint32_t max_period, uint32_t fade)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    cfg.voice_capacity = voices;
    cfg.max_period = max_period;
    cfg.event_capacity = 256;
    cfg.fade_frames = fade;
    etude_engine_t *e = NULL;
    assert_int_equal(etude_engine_create(&cfg, &e), 0);
    g_disposed = 0;
    return e;
}

static int state_of(etude_engine_t *e, etude_voice_id_t id)
{
    etude_voice_info_t info;
    int r = etude_voice_info(e, id, &info);
    return r < 0 ? r : info.state;
}

static void test_lifecycle(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new(4, 128, 240);
    tvoice_t *tv = tv_new(0.5f);
    etude_voice_id_t id;
    assert_int_equal(etude_voice_add(e, &mono_class, tv, "drone", &id), 0);
    assert_true(ETUDE_ID_GEN(id) >= 1);
    assert_int_equal(state_of(e, id), ETUDE_VOICE_PREPARED);
    etude_voice_info_t info;
    assert_int_equal(etude_voice_info(e, id, &info), 0);
    assert_string_equal(info.name, "drone");
    assert_string_equal(info.kind, "dc");
    assert_ptr_equal(info.self, tv);
    assert_float_equal(info.gain, 1.0f, 0);
    assert_int_equal(etude_engine_voices(e, NULL, 0), 1);

    etude_engine_process(e, 128, g_mix, NULL);
    assert_int_equal(state_of(e, id), ETUDE_VOICE_ACTIVE);
    assert_float_equal(g_l[0], 0.5f, 1e-6);
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    assert_int_equal(st.voices_in_use, 1);
    assert_int_equal(st.voices_active, 1);

    etude_event_t ev = {.frame = 100000, .voice = id, .kind = ETUDE_EV_TRIGGER};
    etude_event_id_t eid;
    assert_int_equal(etude_event_schedule(e, &ev, &eid), 0);

    assert_int_equal(etude_voice_dispose(e, id), 0);
    assert_int_equal(state_of(e, id), ETUDE_VOICE_DISPOSING);
    /* the voice's events were cancelled by dispose */
    assert_int_equal(etude_event_cancel(e, eid), ETUDE_EDONE);
    etude_engine_stats(e, &st);
    assert_int_equal(st.events_cancelled, 1);
    /* every operation on a disposing voice is refused */
    assert_int_equal(etude_voice_dispose(e, id), ETUDE_EDISPOSED);
    assert_int_equal(etude_voice_set_gain(e, id, 0.5f), ETUDE_EDISPOSED);
    assert_int_equal(etude_voice_set_pan(e, id, 0.5f), ETUDE_EDISPOSED);
    assert_int_equal(etude_voice_set_mute(e, id, true), ETUDE_EDISPOSED);
    assert_int_equal(etude_voice_set_solo(e, id, true), ETUDE_EDISPOSED);
    assert_int_equal(etude_event_schedule(e, &ev, NULL), ETUDE_EDISPOSED);
    assert_int_equal(etude_engine_voices(e, NULL, 0), 0);
    assert_int_equal(tv->released, 0);

    /* fade 240 frames at 128 per period: released after the second period */
    etude_engine_process(e, 128, g_mix, NULL);
    assert_int_equal(tv->released, 1);
    assert_int_equal(state_of(e, id), ETUDE_VOICE_DISPOSING);
    assert_int_equal(etude_engine_tick(e), 0);
    etude_engine_process(e, 128, g_mix, NULL);
    assert_int_equal(state_of(e, id), ETUDE_VOICE_RELEASED);
    assert_int_equal(g_disposed, 0);
    etude_engine_stats(e, &st);
    assert_int_equal(st.voices_active, 0);
    assert_int_equal(st.voices_in_use, 1);

    assert_int_equal(etude_engine_tick(e), 1);
    assert_int_equal(g_disposed, 1);
    /* freed: the handle is stale for everything */
    assert_int_equal(state_of(e, id), ETUDE_ESTALE);
    assert_int_equal(etude_voice_dispose(e, id), ETUDE_ESTALE);
    assert_int_equal(etude_voice_set_gain(e, id, 0.5f), ETUDE_ESTALE);
    assert_int_equal(etude_voice_set_mute(e, id, true), ETUDE_ESTALE);
    assert_int_equal(etude_event_schedule(e, &ev, NULL), ETUDE_ESTALE);
    etude_engine_stats(e, &st);
    assert_int_equal(st.voices_in_use, 0);
    /* the slot comes back with a new generation */
    etude_voice_id_t id2;
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.1f), "again", &id2), 0);
    assert_int_equal(ETUDE_ID_SLOT(id2), ETUDE_ID_SLOT(id));
    assert_int_not_equal(ETUDE_ID_GEN(id2), ETUDE_ID_GEN(id));
    assert_int_equal(state_of(e, id), ETUDE_ESTALE);
    etude_engine_destroy(e);
    assert_int_equal(g_disposed, 2);
}

/* Dispose a DC voice and a sine voice mid-signal; the largest sample-to-sample step during the
 * fade stays within what the raised-cosine fade allows (a hard cut would be a step of the full
 * level), and the signal ends at exactly zero. */
static void check_fade(float dc, float sine, uint32_t fade, uint32_t period)
{
    etude_engine_t *e = engine_new(2, period, fade);
    tvoice_t *tv = tv_new(dc);
    tv->sine_amp = sine;
    etude_voice_id_t id;
    assert_int_equal(etude_voice_add(e, &mono_class, tv, "v", &id), 0);
    uint32_t pos = 0;
    for (int i = 0; i < 4; i++, pos += period)
        etude_engine_process(e, period, (float *const[2]){g_l + pos, g_r + pos}, NULL);
    uint32_t disposed_at = pos;
    assert_int_equal(etude_voice_dispose(e, id), 0);
    while (pos + period < BUF && state_of(e, id) != ETUDE_VOICE_RELEASED) {
        etude_engine_process(e, period, (float *const[2]){g_l + pos, g_r + pos}, NULL);
        pos += period;
    }
    for (int i = 0; i < 4; i++, pos += period)
        etude_engine_process(e, period, (float *const[2]){g_l + pos, g_r + pos}, NULL);
    assert_int_equal(etude_engine_tick(e), 1);
    /* the signal itself steps by at most this much */
    double sig_step = sine > 0 ? sine * 2.0 * M_PI * 1000.0 / 48000.0 : 0.0;
    double level = dc > sine ? dc : sine;
    double allowed = sig_step + level * M_PI / (2.0 * fade) * 1.01 + 1e-6;
    double max_step = 0;
    for (uint32_t i = 1; i < pos; i++) {
        double d = fabs((double)g_l[i] - (double)g_l[i - 1]);
        if (d > max_step)
            max_step = d;
    }
    assert_true(max_step <= allowed);
    assert_true(max_step < level * 0.5); /* far from a hard cut */
    /* it had been sounding at full level up to the dispose, and is exactly silent after the fade */
    assert_true(fabs(g_l[disposed_at - 1]) > 0 || sine > 0);
    for (uint32_t i = disposed_at + fade; i < pos; i++)
        assert_true(g_l[i] == 0.0f && g_r[i] == 0.0f);
    /* and the fade really is fade frames long: half level near its middle */
    if (sine == 0)
        assert_float_equal(g_l[disposed_at + fade / 2], dc * 0.5f, dc * 0.05f);
    etude_engine_destroy(e);
}

static void test_fade_no_click(void **state)
{
    (void)state;
    check_fade(1.0f, 0.0f, 240, 128);
    check_fade(1.0f, 0.0f, 240, 64);
    check_fade(0.8f, 0.0f, 1000, 300);
    check_fade(0.0f, 0.9f, 240, 128);
    check_fade(0.0f, 0.9f, 480, 256);
}

/* dispose -> RELEASED within fade_frames + 2 periods of audio, RELEASED -> FREE at the next tick,
 * for several period sizes (including ones that do not divide the fade, and periods larger than
 * max_period), with dispose called at different moments. */
static void test_disposal_bound(void **state)
{
    (void)state;
    const uint32_t periods[] = {32, 64, 100, 128, 240, 1000, 4096};
    const uint32_t fade = 240;
    for (size_t p = 0; p < sizeof periods / sizeof periods[0]; p++) {
        for (int warm = 0; warm < 3; warm++) {
            uint32_t P = periods[p];
            etude_engine_t *e = engine_new(2, 256, fade);
            etude_voice_id_t id;
            assert_int_equal(etude_voice_add(e, &mono_class, tv_new(1.0f), "v", &id), 0);
            for (int i = 0; i < warm; i++)
                etude_engine_process(e, P, g_mix, NULL);
            assert_int_equal(etude_voice_dispose(e, id), 0);
            uint64_t frames = 0;
            int freed = 0;
            while (!freed) {
                etude_engine_process(e, P, g_mix, NULL);
                frames += P;
                int st = state_of(e, id);
                freed = etude_engine_tick(e);
                if (st != ETUDE_VOICE_RELEASED) {
                    assert_int_equal(freed, 0);
                    assert_int_equal(st, ETUDE_VOICE_DISPOSING);
                }
                assert_true(frames <= fade + 2ull * P);
            }
            assert_int_equal(freed, 1);
            assert_int_equal(g_disposed, 1);
            assert_int_equal(state_of(e, id), ETUDE_ESTALE);
            etude_engine_destroy(e);
        }
    }
}

static void test_pool_full(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new(3, 64, 64);
    etude_voice_id_t ids[3], extra;
    for (int i = 0; i < 3; i++)
        assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.1f), "v", &ids[i]), 0);
    tvoice_t *spare = tv_new(0.1f);
    assert_int_equal(etude_voice_add(e, &mono_class, spare, "x", &extra), ETUDE_EFULL);
    assert_null(spare->table); /* prepare did not run: the pool was full */
    assert_int_equal(etude_engine_voices(e, NULL, 0), 3);
    etude_voice_id_t list[3];
    assert_int_equal(etude_engine_voices(e, list, 2), 3);
    assert_true(list[0] == ids[0] && list[1] == ids[1]);
    /* a disposing voice still holds its slot until freed */
    assert_int_equal(etude_voice_dispose(e, ids[1]), 0);
    assert_int_equal(etude_voice_add(e, &mono_class, spare, "x", &extra), ETUDE_EFULL);
    assert_int_equal(etude_engine_dispose_all(e, 0), 3); /* (timeout 0: only starts them) */
    etude_engine_process(e, 64, g_mix, NULL);
    etude_engine_process(e, 64, g_mix, NULL);
    assert_int_equal(etude_engine_tick(e), 3);
    assert_int_equal(etude_voice_add(e, &mono_class, spare, "x", &extra), 0);
    /* a failing prepare leaves the slot free and self with the caller */
    tvoice_t *bad = tv_new(0.1f);
    bad->fail_prepare = 1;
    etude_voice_id_t bid;
    assert_int_equal(etude_voice_add(e, &mono_class, bad, "bad", &bid), ETUDE_EIO);
    free(bad);
    assert_int_equal(etude_engine_voices(e, NULL, 0), 1);
    assert_int_equal(etude_voice_add(e, NULL, spare, "x", &bid), ETUDE_EINVAL);
    etude_engine_destroy(e);
    assert_int_equal(g_disposed, 4);
}

/* Steady-state mix after a parameter change (the first period after it is a ramp). */
static void settle(etude_engine_t *e)
{
    etude_engine_process(e, 256, g_mix, NULL);
    etude_engine_process(e, 256, g_mix, NULL);
}

static void test_mix_params(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new(4, 256, 64);
    etude_voice_id_t a, b;
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(1.0f), "a", &a), 0);
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.25f), "b", &b), 0);
    settle(e);
    assert_float_equal(g_l[255], 1.25f, 1e-6);
    assert_float_equal(g_r[255], 1.25f, 1e-6);

    /* gain: ramped over one period, no step */
    assert_int_equal(etude_voice_set_gain(e, a, 0.5f), 0);
    etude_engine_process(e, 256, g_mix, NULL);
    assert_true(g_l[0] < 1.25f && g_l[0] > 1.24f);
    for (int i = 1; i < 256; i++)
        assert_true(g_l[i] <= g_l[i - 1] && g_l[i - 1] - g_l[i] < 0.01f);
    assert_float_equal(g_l[255], 0.75f, 1e-6);
    settle(e);
    assert_float_equal(g_l[100], 0.75f, 1e-6);
    assert_int_equal(etude_voice_set_gain(e, a, -1.0f), ETUDE_EINVAL);
    assert_int_equal(etude_voice_set_gain(e, a, NAN), ETUDE_EINVAL);

    /* pan: hard left silences a's right side */
    assert_int_equal(etude_voice_set_pan(e, a, -1.0f), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.75f, 1e-6);
    assert_float_equal(g_r[100], 0.25f, 1e-6);
    assert_int_equal(etude_voice_set_pan(e, a, 0.5f), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.25f + 0.25f, 1e-6);
    assert_float_equal(g_r[100], 0.75f, 1e-6);
    assert_int_equal(etude_voice_set_pan(e, a, 1.5f), ETUDE_EINVAL);
    assert_int_equal(etude_voice_set_pan(e, a, 0.0f), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.75f, 1e-6);

    /* mute: ramped out, then gone */
    assert_int_equal(etude_voice_set_mute(e, b, true), 0);
    etude_engine_process(e, 256, g_mix, NULL);
    assert_true(g_l[0] > 0.74f && g_l[0] < 0.75f + 0.25f);
    assert_float_equal(g_l[255], 0.5f, 1e-6);
    settle(e);
    assert_float_equal(g_l[100], 0.5f, 1e-6);
    etude_voice_info_t info;
    assert_int_equal(etude_voice_info(e, b, &info), 0);
    assert_true(info.mute);
    assert_int_equal(etude_voice_set_mute(e, b, false), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.75f, 1e-6);

    /* solo: only soloed voices reach the mix */
    assert_int_equal(etude_voice_set_solo(e, b, true), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.25f, 1e-6);
    assert_int_equal(etude_voice_set_solo(e, a, true), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.75f, 1e-6);
    assert_int_equal(etude_voice_set_solo(e, a, false), 0);
    assert_int_equal(etude_voice_set_solo(e, b, false), 0);
    settle(e);
    assert_float_equal(g_l[100], 0.75f, 1e-6);
    /* a voice added while another is soloed starts silent, without a blip */
    assert_int_equal(etude_voice_set_solo(e, b, true), 0);
    settle(e);
    etude_voice_id_t c;
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(2.0f), "c", &c), 0);
    etude_engine_process(e, 256, g_mix, NULL);
    for (int i = 0; i < 256; i++)
        assert_float_equal(g_l[i], 0.25f, 1e-6);
    etude_engine_destroy(e);
    assert_int_equal(g_disposed, 3);

    /* voices added in one batch, the later one soloed before the first period: the earlier one is
     * silent from its first frame (no fade-out of a voice that never should have sounded) */
    g_disposed = 0;
    e = engine_new(4, 256, 64);
    etude_voice_id_t d, f;
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.5f), "d", &d), 0);
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.25f), "f", &f), 0);
    assert_int_equal(etude_voice_set_solo(e, f, true), 0);
    etude_engine_process(e, 256, g_mix, NULL);
    for (int i = 0; i < 256; i++)
        assert_float_equal(g_l[i], 0.25f, 1e-6);
    etude_engine_destroy(e);
    assert_int_equal(g_disposed, 2);
}

/* Stereo voices keep their sides; per-voice outputs carry gain and fade but not pan or mute. */
static void test_stereo_and_voice_out(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new(3, 128, 64);
    tvoice_t *s = tv_new(0);
    s->dc_l = 0.2f;
    s->dc_r = 0.6f;
    etude_voice_id_t sid, mid;
    assert_int_equal(etude_voice_add(e, &stereo_class, s, "st", &sid), 0);
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.5f), "mo", &mid), 0);
    static float o0[128], o1[128], o2[128];
    for (int i = 0; i < 128; i++)
        o2[i] = 9.0f;
    float *outs[3] = {o0, o1, o2};
    uint32_t ss = ETUDE_ID_SLOT(sid), ms = ETUDE_ID_SLOT(mid);
    assert_int_equal(etude_voice_set_mute(e, mid, true), 0);
    assert_int_equal(etude_voice_set_gain(e, sid, 0.5f), 0);
    for (int i = 0; i < 3; i++)
        etude_engine_process(e, 128, g_mix, outs);
    assert_float_equal(g_l[64], 0.1f, 1e-6);
    assert_float_equal(g_r[64], 0.3f, 1e-6);
    assert_float_equal(outs[ss][64], 0.5f * (0.1f + 0.3f), 1e-6);
    assert_float_equal(outs[ms][64], 0.5f, 1e-6); /* muted in the mix, not in its own output */
    assert_float_equal(o2[64], 0.0f, 0);          /* an unused slot's buffer is silence */
    etude_engine_destroy(e);
}

/* Shutdown with no audio thread: dispose_all drives the fades itself. */
static void test_dispose_all_offline(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new(8, 256, 240);
    for (int i = 0; i < 5; i++)
        assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.1f), "v", NULL), 0);
    etude_engine_process(e, 256, g_mix, NULL);
    assert_int_equal(etude_engine_dispose_all(e, 10000), 0);
    assert_int_equal(g_disposed, 5);
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    assert_int_equal(st.voices_in_use, 0);
    assert_int_equal(st.voices_active, 0);
    etude_engine_destroy(e);
    assert_int_equal(g_disposed, 5);
}

/* Destroy with voices in every state frees them all (LeakSanitizer checks the tables). */
static void test_destroy_live(void **state)
{
    (void)state;
    etude_engine_t *e = engine_new(8, 128, 240);
    etude_voice_id_t ids[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.1f), "v", &ids[i]), 0);
    etude_engine_process(e, 128, g_mix, NULL); /* 0..5 active */
    etude_event_t ev = {.frame = 5000, .voice = ids[0], .kind = ETUDE_EV_NOTE_ON};
    for (int i = 0; i < 20; i++)
        assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    assert_int_equal(etude_voice_dispose(e, ids[1]), 0); /* disposing */
    assert_int_equal(etude_voice_dispose(e, ids[2]), 0);
    etude_engine_process(e, 128, g_mix, NULL);
    etude_engine_process(e, 128, g_mix, NULL); /* 2 released, not ticked */
    assert_int_equal(etude_voice_dispose(e, ids[3]), 0);
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.1f), "prepared", NULL), 0);
    etude_engine_destroy(e);
    assert_int_equal(g_disposed, 7);
}

static size_t count_topic(etude_bus_t *bus, const char *name)
{
    etude_bus_msg_t msgs[32];
    size_t n = etude_bus_history(bus, "voice", msgs, 32), hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += strcmp(msgs[i].name, name) == 0;
    etude_bus_msgs_free(msgs, n);
    return hits;
}

static void test_bus_notifications(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    assert_non_null(bus);
    etude_engine_t *e = engine_new(2, 128, 64);
    etude_engine_set_bus(e, bus);
    etude_voice_id_t id;
    assert_int_equal(etude_voice_add(e, &mono_class, tv_new(0.1f), "quote\"name", &id), 0);
    assert_int_equal(etude_voice_set_mute(e, id, true), 0);
    assert_int_equal(count_topic(bus, "added"), 1);
    assert_int_equal(count_topic(bus, "mute"), 1);
    etude_event_t ev = {.frame = 10, .voice = id, .kind = ETUDE_EV_MARKER, .flags = ETUDE_EVF_NOTIFY,
                        .tag = 77};
    assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    etude_engine_process(e, 128, g_mix, NULL);
    assert_int_equal(etude_voice_dispose(e, id), 0);
    etude_engine_process(e, 128, g_mix, NULL);
    assert_int_equal(etude_engine_tick(e), 1);
    assert_int_equal(count_topic(bus, "disposed"), 1);
    etude_bus_msg_t m[4];
    size_t n = etude_bus_history(bus, "position", m, 4);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].name, "event");
    assert_non_null(strstr(m[0].json, "\"tag\":77"));
    assert_non_null(strstr(m[0].json, "\"frame\":10"));
    etude_bus_msgs_free(m, n);
    n = etude_bus_history(bus, "voice", m, 1);
    assert_non_null(strstr(m[0].json, "quote\\\"name"));
    etude_bus_msgs_free(m, n);
    etude_engine_destroy(e);
    etude_bus_destroy(bus);
}

static void count_msg(void *user, const etude_bus_msg_t *msg)
{
    (void)msg;
    (*(size_t *)user)++;
}

/* NOTIFY events beyond the notification ring's room (4096 between two ticks) are counted and
 * reported on the error topic, never silently lost; the ones that fit all reach the bus. */
static void test_notify_overflow(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    assert_non_null(bus);
    size_t got = 0;
    assert_true(etude_bus_subscribe(bus, "position", count_msg, &got, NULL) > 0);
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    cfg.event_capacity = 8192;
    cfg.max_period = 256;
    cfg.work_per_frame = 32; /* intake may take all 5000 in one 256-frame period */
    etude_engine_t *e = NULL;
    assert_int_equal(etude_engine_create(&cfg, &e), 0);
    etude_engine_set_bus(e, bus);
    etude_event_t ev = {.frame = 100, .kind = ETUDE_EV_MARKER, .flags = ETUDE_EVF_NOTIFY};
    for (int i = 0; i < 5000; i++)
        assert_int_equal(etude_event_schedule(e, &ev, NULL), 0);
    etude_engine_process(e, 256, g_mix, NULL);
    assert_int_equal(etude_engine_tick(e), 0);
    assert_int_equal(got, 4096);
    etude_bus_msg_t m[4];
    size_t n = etude_bus_history(bus, "error", m, 4);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].name, "notifications-lost");
    assert_non_null(strstr(m[0].json, "904 notification(s) lost"));
    etude_bus_msgs_free(m, n);
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    assert_int_equal(st.events_dispatched, 5000);
    etude_engine_destroy(e);
    etude_bus_destroy(bus);
}

/* Every call taking an engine refuses NULL with ETUDE_EINVAL (and a NULL voice class or info
 * pointer too) instead of dereferencing it. Fails on fd82c7f: etude_voice_dispose(NULL, ...) took
 * the engine's lock through a NULL pointer (SIGSEGV). */
static void test_null_engine(void **state)
{
    (void)state;
    etude_voice_id_t id = ((uint64_t)1 << 32) | 0;
    assert_int_equal(etude_voice_dispose(NULL, id), ETUDE_EINVAL);
    assert_int_equal(etude_voice_add(NULL, NULL, NULL, "x", NULL), ETUDE_EINVAL);
    assert_int_equal(etude_voice_set_gain(NULL, id, 1.0f), ETUDE_EINVAL);
    assert_int_equal(etude_voice_set_mute(NULL, id, true), ETUDE_EINVAL);
    etude_voice_info_t info;
    assert_int_equal(etude_voice_info(NULL, id, &info), ETUDE_EINVAL);
    assert_int_equal(etude_engine_voices(NULL, NULL, 0), 0);
    assert_int_equal(etude_engine_dispose_all(NULL, 0), 0);
    assert_int_equal(etude_engine_tick(NULL), ETUDE_EINVAL);
    assert_int_equal(etude_event_cancel(NULL, id), ETUDE_EINVAL);
    assert_int_equal(etude_event_clear(NULL, NULL), ETUDE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),        cmocka_unit_test(test_fade_no_click),
        cmocka_unit_test(test_disposal_bound),   cmocka_unit_test(test_pool_full),
        cmocka_unit_test(test_mix_params),       cmocka_unit_test(test_stereo_and_voice_out),
        cmocka_unit_test(test_dispose_all_offline), cmocka_unit_test(test_destroy_live),
        cmocka_unit_test(test_bus_notifications), cmocka_unit_test(test_notify_overflow),
        cmocka_unit_test(test_null_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
