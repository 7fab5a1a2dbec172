/* test_timeline.c - unit tests of the practice timeline: the --count-in, --loop, --loops, --start
 * and --trainer parsers (a table of bad inputs, each refused with one line naming its flag), bars
 * and labels resolved against material, the tempo map rewritten to play a timeline, and the player's
 * etude_player_set_timeline() as a front end other than the command line calls it (offline driver,
 * no jackd). */
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

#include "etude_bus.h"
#include "etude_engine.h"
#include "etude_error.h"
#include "etude_offline.h"
#include "etude_player.h"
#include "etude_tempomap.h"
#include "etude_timeline.h"

typedef int (*setter_t)(etude_timeline_t *, const char *, char *, size_t);

typedef struct bad {
    setter_t set;
    const char *text;
    const char *want; /* the whole message */
} bad_t;

static void bad_inputs(void **state)
{
    (void)state;
    static const bad_t bad[] = {
        {etude_timeline_set_count_in, "", "--count-in '': expected a number of bars from 0 to 16"},
        {etude_timeline_set_count_in, "17", "--count-in '17': expected a number of bars from 0 to 16"},
        {etude_timeline_set_count_in, "-1", "--count-in '-1': expected a number of bars from 0 to 16"},
        {etude_timeline_set_count_in, "1.5", "--count-in '1.5': expected a number of bars from 0 to 16"},
        {etude_timeline_set_count_in, " 1", "--count-in ' 1': expected a number of bars from 0 to 16"},
        {etude_timeline_set_count_in, "99999999999", "--count-in '99999999999': expected a number of bars from 0 to 16"},
        {etude_timeline_set_loops, "10001", "--loops '10001': expected a number of passes from 1 to 10000, or 0 for ever"},
        {etude_timeline_set_loops, "x", "--loops 'x': expected a number of passes from 1 to 10000, or 0 for ever"},
        {etude_timeline_set_loops, "2x", "--loops '2x': expected a number of passes from 1 to 10000, or 0 for ever"},
        {etude_timeline_set_loop, "8-5", "--loop '8-5': the loop ends (bar 5) before it starts (bar 8)"},
        {etude_timeline_set_loop, "0-4", "--loop '0-4': bars count from 1"},
        {etude_timeline_set_loop, "0", "--loop '0': bars count from 1"},
        {etude_timeline_set_loop, "5-", "--loop '5-': expected bars A-B (1-based, B included, e.g. 5-8), a bar, or tempo-map labels (verse, or verse-chorus)"},
        {etude_timeline_set_loop, "-5", "--loop '-5': expected bars A-B (1-based, B included, e.g. 5-8), a bar, or tempo-map labels (verse, or verse-chorus)"},
        {etude_timeline_set_loop, "", "--loop '': expected bars A-B (1-based, B included, e.g. 5-8), a bar, or tempo-map labels (verse, or verse-chorus)"},
        {etude_timeline_set_loop, "5 8", "--loop '5 8': expected bars A-B (1-based, B included, e.g. 5-8), a bar, or tempo-map labels (verse, or verse-chorus)"},
        {etude_timeline_set_loop, "5:8", "--loop '5:8': expected bars A-B (1-based, B included, e.g. 5-8), a bar, or tempo-map labels (verse, or verse-chorus)"},
        {etude_timeline_set_loop, "5-8-9", "--loop '5-8-9': expected bars A-B (1-based, B included, e.g. 5-8)"},
        {etude_timeline_set_start, "0", "--start '0': expected a bar number (from 1) or a tempo-map label"},
        {etude_timeline_set_start, "", "--start '': expected a bar number (from 1) or a tempo-map label"},
        {etude_timeline_set_start, "a b", "--start 'a b': expected a bar number (from 1) or a tempo-map label"},
        {etude_timeline_set_start, "99999999999", "--start '99999999999': expected a bar number (from 1) or a tempo-map label"},
        {etude_timeline_set_trainer, "60:5:2", "--trainer '60:5:2': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)"},
        {etude_timeline_set_trainer, "60:5:2:90:1", "--trainer '60:5:2:90:1': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)"},
        {etude_timeline_set_trainer, "60:5:x:90", "--trainer '60:5:x:90': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)"},
        {etude_timeline_set_trainer, "60:5:1.5:90", "--trainer '60:5:1.5:90': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)"},
        {etude_timeline_set_trainer, "::::", "--trainer '::::': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)"},
        {etude_timeline_set_trainer, "nan:5:1:90", "--trainer 'nan:5:1:90': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)"},
        {etude_timeline_set_trainer, "90:5:1:60", "--trainer '90:5:1:60': TARGET 60 is below START 90"},
        {etude_timeline_set_trainer, "0:5:1:60", "--trainer '0:5:1:60': START and TARGET are tempi from 1 to 1000 bpm"},
        {etude_timeline_set_trainer, "60:5:1:1001", "--trainer '60:5:1:1001': START and TARGET are tempi from 1 to 1000 bpm"},
        {etude_timeline_set_trainer, "60:0:1:90", "--trainer '60:0:1:90': STEP is the bpm added each time, from 0.01 to 1000"},
        {etude_timeline_set_trainer, "60:-5:1:90", "--trainer '60:-5:1:90': STEP is the bpm added each time, from 0.01 to 1000"},
        {etude_timeline_set_trainer, "60:5:0:90", "--trainer '60:5:0:90': EVERY is the passes at each tempo, at least 1"},
        {etude_timeline_set_trainer, "1:0.01:1000:1000", "--trainer '1:0.01:1000:1000': 99901000 passes (at most 10000)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        etude_timeline_t t;
        etude_timeline_init(&t);
        char err[512] = "";
        int rc = bad[i].set(&t, bad[i].text, err, sizeof err);
        if (rc != ETUDE_EINVAL || strcmp(err, bad[i].want))
            fail_msg("'%s': rc %d, '%s' (want '%s')", bad[i].text, rc, err, bad[i].want);
        assert_true(etude_timeline_empty(&t)); /* nothing half-set */
    }
}

static void good_inputs(void **state)
{
    (void)state;
    etude_timeline_t t;
    etude_timeline_init(&t);
    char err[512];
    assert_true(etude_timeline_empty(&t));
    assert_int_equal(etude_timeline_set_count_in(&t, "2", err, sizeof err), 0);
    assert_int_equal(t.count_in, 2);
    assert_int_equal(etude_timeline_set_loop(&t, "5-8", err, sizeof err), 0);
    assert_string_equal(t.loop, "5-8");
    assert_int_equal(etude_timeline_set_loop(&t, "verse-chorus", err, sizeof err), 0);
    assert_int_equal(etude_timeline_set_loops(&t, "0", err, sizeof err), 0);
    assert_int_equal(t.loops, 0);
    assert_int_equal(etude_timeline_set_start(&t, "intro_2", err, sizeof err), 0);
    assert_int_equal(etude_timeline_set_trainer(&t, "60:7.5:2:80", err, sizeof err), 0);
    assert_true(t.trainer && t.start_bpm == 60 && t.step_bpm == 7.5 && t.every == 2 && t.target_bpm == 80);
    /* 60, 67.5, 75, then the target itself: 4 tempi, 2 passes each */
    assert_int_equal(etude_timeline_passes(&t), 8);
    assert_true(etude_timeline_pass_bpm(&t, 1) == 60 && etude_timeline_pass_bpm(&t, 2) == 67.5 &&
                etude_timeline_pass_bpm(&t, 7) == 80);
    /* --loops with --trainer: the trainer decides */
    assert_int_equal(etude_timeline_check(&t, err, sizeof err), ETUDE_EINVAL);
    assert_string_equal(err, "--loops 0: the trainer decides the passes (leave --loops out)");
}

static const char *const song = "intro: 2 4/4 120\nverse: 2 3/4 90\n 1 3/4 90-120\nchorus: 2 4/4 150\n";

static etude_tempomap_t *song_map(void)
{
    etude_tempomap_t *m = NULL;
    char err[256];
    assert_int_equal(etude_tempomap_parse(song, strlen(song), "song.map", &m, err, sizeof err), 0);
    return m;
}

static void resolve_err(const etude_tempomap_t *m, uint32_t bars, const char *loop, const char *start,
                        const char *want)
{
    etude_timeline_t t;
    etude_timeline_init(&t);
    char err[512] = "";
    etude_timeline_bars_t b;
    if (loop)
        snprintf(t.loop, sizeof t.loop, "%s", loop);
    if (start)
        snprintf(t.start, sizeof t.start, "%s", start);
    int rc = etude_timeline_resolve(&t, m, bars, &b, err, sizeof err);
    if (rc != ETUDE_EINVAL || strcmp(err, want))
        fail_msg("loop '%s' start '%s': rc %d, '%s' (want '%s')", loop ? loop : "", start ? start : "", rc, err,
                 want);
}

static void resolve(void **state)
{
    (void)state;
    etude_tempomap_t *m = song_map();
    etude_timeline_t t;
    etude_timeline_init(&t);
    etude_timeline_bars_t b;
    char err[512];
    /* a label as a loop is its section: up to the next labelled entry */
    snprintf(t.loop, sizeof t.loop, "verse");
    assert_int_equal(etude_timeline_resolve(&t, m, 7, &b, err, sizeof err), 0);
    assert_true(b.loop && b.from == 3 && b.to == 5 && b.start == 3);
    snprintf(t.loop, sizeof t.loop, "intro-verse");
    snprintf(t.start, sizeof t.start, "verse");
    assert_int_equal(etude_timeline_resolve(&t, m, 7, &b, err, sizeof err), 0);
    assert_true(b.from == 1 && b.to == 5 && b.start == 3);
    snprintf(t.loop, sizeof t.loop, "4-chorus");
    t.start[0] = 0;
    assert_int_equal(etude_timeline_resolve(&t, m, 7, &b, err, sizeof err), 0);
    assert_true(b.from == 4 && b.to == 7 && b.start == 4);
    resolve_err(m, 7, "bridge", NULL, "--loop 'bridge': no label 'bridge' in the tempo map (labels: intro verse chorus)");
    resolve_err(m, 7, "verse-bridge", NULL, "--loop 'verse-bridge': no label 'bridge' in the tempo map (labels: intro verse chorus)");
    resolve_err(m, 7, "5-8", NULL, "--loop '5-8': bar 8 is past the end (the material has 7 bars)");
    resolve_err(m, 7, "9", NULL, "--loop '9': bar 9 is past the end (the material has 7 bars)");
    resolve_err(m, 7, "chorus-verse", NULL, "--loop 'chorus-verse': the loop ends (bar 5) before it starts (bar 6)");
    resolve_err(m, 7, NULL, "8", "--start '8': bar 8 is past the end (the material has 7 bars)");
    resolve_err(m, 7, NULL, "coda", "--start 'coda': no label 'coda' in the tempo map (labels: intro verse chorus)");
    resolve_err(m, 7, "verse", "chorus", "--start 'chorus': bar 6 is outside the loop (bars 3 to 5)");
    resolve_err(NULL, 8, "verse", NULL, "--loop 'verse': this material has no labels (labels name the entries of a "
                                         "tempo map); give bar numbers");
    etude_tempomap_destroy(m);
}

/* The rewritten map's beats: frames at 48 kHz and bars, against the map as written. */
static void rewritten_map(void **state)
{
    (void)state;
    etude_tempomap_t *m = song_map(), *out = NULL;
    etude_timeline_t t;
    etude_timeline_init(&t);
    char err[512];
    t.count_in = 1;
    t.loops = 2;
    snprintf(t.loop, sizeof t.loop, "4-6"); /* 3/4 at 90, the 90-120 ramp bar, a 4/4 bar at 150 */
    snprintf(t.start, sizeof t.start, "5");
    etude_timeline_bars_t b;
    assert_int_equal(etude_timeline_resolve(&t, m, 7, &b, err, sizeof err), 0);
    uint64_t loop_bar;
    assert_int_equal(etude_timeline_map(m, &t, &b, "song.map", &out, &loop_bar, err, sizeof err), 0);
    assert_true(loop_bar == UINT64_MAX);
    /* count-in 1 bar (3/4 at 90, bar 5's) + bars 5-6 + bars 4-6 */
    assert_int_equal(etude_tempomap_bar_count(out), 1 + 2 + 3);
    /* bar 4 of the written map, played as bar 4 of the rewritten one: same beat lengths */
    double w0 = etude_tempomap_beat_seconds(m, etude_tempomap_bar_first_beat(m, 3));
    double r0 = etude_tempomap_beat_seconds(out, etude_tempomap_bar_first_beat(out, 3));
    for (uint64_t k = 0; k < 3 + 3 + 4; k++) {
        double w = etude_tempomap_beat_seconds(m, etude_tempomap_bar_first_beat(m, 3) + k) - w0;
        double r = etude_tempomap_beat_seconds(out, etude_tempomap_bar_first_beat(out, 3) + k) - r0;
        if (fabs(w - r) > 1e-6)
            fail_msg("beat %llu of the loop: %.9f s in the rewritten map, %.9f s as written", (unsigned long long)k,
                     r, w);
    }
    /* the count-in: 3 beats at 90 (bar 5's start tempo, its meter) */
    assert_true(fabs(etude_tempomap_beat_seconds(out, 3) - 3 * 60.0 / 90) < 1e-9);
    etude_tempomap_destroy(out);
    /* which written bar each rewritten bar plays (a drone's changes): the count-in plays bar 5 */
    etude_timeline_layout_t lay;
    etude_timeline_layout(&t, &b, &lay);
    static const uint64_t written[] = {4, 4, 5, 3, 4, 5, 3, 4, 5}; /* 0-based; a third pass too */
    for (uint64_t k = 0; k < sizeof written / sizeof *written; k++)
        if (etude_timeline_bar_of(&lay, k) != written[k])
            fail_msg("rewritten bar %llu plays bar %llu, want %llu", (unsigned long long)k,
                     (unsigned long long)etude_timeline_bar_of(&lay, k), (unsigned long long)written[k]);
    /* an endless map played from its start: bar k is bar k */
    etude_timeline_bars_t all = {.loop = false, .from = 1, .to = UINT32_MAX, .start = 1};
    etude_timeline_t none;
    etude_timeline_init(&none);
    etude_timeline_layout(&none, &all, &lay);
    assert_int_equal(etude_timeline_bar_of(&lay, 0), 0);
    assert_int_equal(etude_timeline_bar_of(&lay, 4000000000ull), 4000000000ull);

    /* for ever: the first pass from bar 5, then one pass from bar 4 to loop over */
    t.loops = 0;
    assert_int_equal(etude_timeline_map(m, &t, &b, "song.map", &out, &loop_bar, err, sizeof err), 0);
    assert_int_equal(loop_bar, 3);
    assert_int_equal(etude_tempomap_bar_count(out), 6);
    etude_tempomap_destroy(out);

    /* the trainer: passes of bar 7 (4/4 at 150) at 100, 125, 150 bpm */
    etude_timeline_init(&t);
    snprintf(t.loop, sizeof t.loop, "7");
    assert_int_equal(etude_timeline_set_trainer(&t, "100:25:1:150", err, sizeof err), 0);
    assert_int_equal(etude_timeline_resolve(&t, m, 7, &b, err, sizeof err), 0);
    assert_int_equal(etude_timeline_map(m, &t, &b, "song.map", &out, &loop_bar, err, sizeof err), 0);
    assert_int_equal(etude_tempomap_bar_count(out), 3);
    etude_timeline_layout(&t, &b, &lay);
    for (uint64_t k = 0; k < 3; k++)
        assert_int_equal(etude_timeline_bar_of(&lay, k), 6); /* each pass plays bar 7 */
    static const double bpm[] = {100, 125, 150};
    for (uint64_t k = 0; k < 12; k++) {
        etude_tempomap_beat_t beat;
        assert_int_equal(etude_tempomap_beat(out, k, &beat), 0);
        assert_true(fabs(beat.bpm - bpm[k / 4]) < 1e-6);
        assert_string_equal(beat.section, "chorus");
    }
    etude_tempomap_destroy(out);
    etude_tempomap_destroy(m);
}

/* ---- the player ---------------------------------------------------------------------------- */

#define RATE 48000u
#define MAX_FRAMES (RATE * 8u)

typedef struct rig {
    etude_player_t *player;
    float *mix;
    uint64_t n;
    int bars;
    char sections[256]; /* the bar messages' sections, each followed by a space */
} rig_t;

static void on_bar(void *user, const etude_bus_msg_t *m)
{
    rig_t *r = user;
    if (strcmp(m->name, "bar"))
        return;
    r->bars++;
    const char *s = strstr(m->json, "\"section\":\"");
    size_t o = strlen(r->sections);
    if (s && o < sizeof r->sections - 64)
        snprintf(r->sections + o, sizeof r->sections - o, "%.*s ", (int)strcspn(s + 11, "\""), s + 11);
}

static int capture(void *user, const float *const mix[2], uint32_t n)
{
    rig_t *r = user;
    for (uint32_t i = 0; i < n && r->n < MAX_FRAMES; i++)
        r->mix[r->n++] = mix[0][i];
    etude_player_report(r->player);
    return 0;
}

static void player_api(void **state)
{
    (void)state;
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    etude_engine_t *engine = NULL;
    assert_int_equal(etude_engine_create(&cfg, &engine), 0);
    etude_bus_t *bus = etude_bus_create();
    assert_non_null(bus);
    etude_engine_set_bus(engine, bus);
    rig_t r = {0};
    assert_non_null(etude_bus_subscribe(bus, "transport", on_bar, &r, &r));
    etude_player_config_t pc = {.engine = engine, .bus = bus, .command = "render"};
    assert_int_equal(etude_player_create(&pc, &r.player), 0);
    r.mix = calloc(MAX_FRAMES, sizeof *r.mix);
    assert_non_null(r.mix);

    char path[] = "/tmp/etude-test-timeline-XXXXXX.map";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    const char *map = "intro: 1 4/4 120\nverse: 1 3/4 90\n";
    assert_int_equal(write(fd, map, strlen(map)), (ssize_t)strlen(map));
    close(fd);
    char err[512] = "";
    etude_player_material_t m = {.preset_path = path};
    int rc = etude_player_load(r.player, &m, err, sizeof err);
    unlink(path);
    if (rc < 0)
        fail_msg("load: %s", err);

    etude_timeline_t t;
    etude_timeline_init(&t);
    assert_int_equal(etude_player_set_timeline(r.player, &t, err, sizeof err), 0); /* empty: nothing */
    /* a label the map lacks: refused, the material left as it was */
    assert_int_equal(etude_timeline_set_loop(&t, "bridge", err, sizeof err), 0);
    assert_int_equal(etude_player_set_timeline(r.player, &t, err, sizeof err), ETUDE_EINVAL);
    assert_string_equal(err, "--loop 'bridge': no label 'bridge' in the tempo map (labels: intro verse)");
    /* for ever, then twice: the later call replaces the earlier */
    assert_int_equal(etude_timeline_set_loop(&t, "verse", err, sizeof err), 0);
    assert_int_equal(etude_timeline_set_loops(&t, "0", err, sizeof err), 0);
    assert_int_equal(etude_player_set_timeline(r.player, &t, err, sizeof err), 0);
    assert_true(etude_player_endless(r.player));
    assert_int_equal(etude_timeline_set_loops(&t, "2", err, sizeof err), 0);
    assert_int_equal(etude_timeline_set_count_in(&t, "1", err, sizeof err), 0);
    assert_int_equal(etude_player_set_timeline(r.player, &t, err, sizeof err), 0);
    assert_false(etude_player_endless(r.player));

    assert_int_equal(etude_player_start(r.player, err, sizeof err), 0);
    assert_int_equal(etude_player_set_timeline(r.player, &t, err, sizeof err), ETUDE_ESTATE);
    etude_offline_config_t oc = {.period = 256, .write = capture, .user = &r};
    assert_int_equal(etude_offline_run(engine, etude_player_sequencer(r.player), &oc), 0);
    /* a count-in bar in the verse's 3/4 at 90, then the verse twice: 9 beats 32000 frames apart */
    uint64_t quiet = RATE, k = 0;
    for (uint64_t i = 0; i < r.n; i++) {
        if (fabsf(r.mix[i]) > 0.01f) {
            if (quiet >= RATE / 20) {
                if (i != k * 32000)
                    fail_msg("onset %llu at frame %llu, expected %llu", (unsigned long long)k,
                             (unsigned long long)i, (unsigned long long)(k * 32000));
                k++;
            }
            quiet = 0;
        } else {
            quiet++;
        }
    }
    assert_int_equal(k, 9);
    assert_int_equal(r.n, 9 * 32000);
    assert_int_equal(r.bars, 3);
    assert_string_equal(r.sections, "count-in verse verse ");
    etude_player_finish(r.player, "end");

    etude_player_destroy(r.player);
    etude_engine_destroy(engine);
    etude_bus_unsubscribe_owner(bus, &r);
    etude_bus_destroy(bus);
    free(r.mix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(good_inputs),
        cmocka_unit_test(resolve),
        cmocka_unit_test(rewritten_map),
        cmocka_unit_test(player_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
