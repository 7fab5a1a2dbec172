/* test_timing.c - unit tests of the MIDI note timing analysis (engine/etude_timing.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "etude_engine.h"
#include "etude_timing.h"

static void test_offsets_and_shares(void **state)
{
    (void)state;
    etude_timing_t *t;
    assert_int_equal(etude_timing_create(48000, &t), ETUDE_OK);
    uint64_t grid[8];
    for (int i = 0; i < 8; i++)
        grid[i] = 1000 + (uint64_t)i * 24000; /* 120 bpm at 48 kHz */
    assert_int_equal(etude_timing_set_grid(t, grid, 8), ETUDE_OK);

    /* offsets in frames against beats 0..5; 48 frames = 1 ms */
    const int64_t off[] = {0, 240, -720, 1440, 480, -1200};
    const double want_ms[] = {0.0, 5.0, -15.0, 30.0, 10.0, -25.0};
    for (int i = 0; i < 6; i++) {
        double ms = 99;
        assert_int_equal(etude_timing_note(t, (uint64_t)((int64_t)grid[i] + off[i]), &ms), ETUDE_OK);
        assert_float_equal(ms, want_ms[i], 1e-9);
    }
    /* two-pass reference */
    double sum = 0, sq = 0;
    for (int i = 0; i < 6; i++)
        sum += want_ms[i];
    double mean = sum / 6;
    for (int i = 0; i < 6; i++)
        sq += (want_ms[i] - mean) * (want_ms[i] - mean);
    etude_timing_result_t r;
    etude_timing_result(t, &r);
    assert_int_equal(r.notes, 6);
    assert_float_equal(r.mean_ms, mean, 1e-9);
    assert_float_equal(r.sd_ms, sqrt(sq / 6), 1e-9);
    assert_float_equal(r.within_10ms, 3.0 / 6, 1e-12); /* 0, 5, 10 (bound included) */
    assert_float_equal(r.within_25ms, 5.0 / 6, 1e-12); /* all but 30 */

    char buf[256];
    assert_true(etude_timing_json(&r, buf, sizeof buf) < (int)sizeof buf);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "notes")->valueint, 6);
    assert_float_equal(cJSON_GetObjectItem(j, "mean_ms")->valuedouble, mean, 1e-4);
    assert_float_equal(cJSON_GetObjectItem(j, "within_25ms")->valuedouble, 5.0 / 6, 1e-4);
    cJSON_Delete(j);

    etude_timing_reset(t);
    etude_timing_result(t, &r);
    assert_int_equal(r.notes, 0);
    assert_float_equal(r.sd_ms, 0.0, 0.0);
    assert_int_equal(etude_timing_grid_size(t), 8);
    etude_timing_destroy(t);
}

static void test_nearest_edges(void **state)
{
    (void)state;
    etude_timing_t *t;
    assert_int_equal(etude_timing_create(1000, &t), ETUDE_OK); /* 1 frame = 1 ms */
    double ms;
    assert_int_equal(etude_timing_note(t, 5, &ms), ETUDE_ESTATE);
    const uint64_t bad[] = {10, 5};
    assert_int_equal(etude_timing_set_grid(t, bad, 2), ETUDE_EINVAL);
    const uint64_t g[] = {100, 200, 200, 300};
    assert_int_equal(etude_timing_set_grid(t, g, 4), ETUDE_OK);
    assert_int_equal(etude_timing_note(t, 0, &ms), ETUDE_OK); /* before the grid */
    assert_float_equal(ms, -100.0, 0);
    assert_int_equal(etude_timing_note(t, 150, &ms), ETUDE_OK); /* tie: the earlier click */
    assert_float_equal(ms, 50.0, 0);
    assert_int_equal(etude_timing_note(t, 151, &ms), ETUDE_OK);
    assert_float_equal(ms, -49.0, 0);
    assert_int_equal(etude_timing_note(t, 200, &ms), ETUDE_OK); /* duplicate grid point */
    assert_float_equal(ms, 0.0, 0);
    assert_int_equal(etude_timing_note(t, 10000, &ms), ETUDE_OK); /* past the end */
    assert_float_equal(ms, 9700.0, 0);
    etude_timing_result_t r;
    etude_timing_result(t, &r);
    assert_int_equal(r.notes, 5);
    assert_float_equal(r.within_10ms, 1.0 / 5, 1e-12);
    etude_timing_destroy(t);
    assert_int_equal(etude_timing_create(0, &t), ETUDE_EINVAL);
}

/* A ramped grid and random notes against a brute-force nearest search and two-pass statistics. */
static void test_random_against_brute_force(void **state)
{
    (void)state;
    enum { NG = 500, NN = 5000 };
    static uint64_t g[NG];
    double pos = 0;
    for (int i = 0; i < NG; i++) {
        g[i] = (uint64_t)floor(pos);
        double bpm = 60.0 + 120.0 * i / NG;
        pos += 44100.0 * 60.0 / bpm;
    }
    etude_timing_t *t;
    assert_int_equal(etude_timing_create(44100, &t), ETUDE_OK);
    assert_int_equal(etude_timing_set_grid(t, g, NG), ETUDE_OK);
    srand(7);
    static double ref[NN];
    uint64_t in10 = 0, in25 = 0;
    for (int k = 0; k < NN; k++) {
        uint64_t p = (uint64_t)((double)rand() / RAND_MAX * (double)(g[NG - 1] + 20000));
        int64_t best = INT64_MAX;
        for (int i = 0; i < NG; i++) {
            int64_t d = (int64_t)p - (int64_t)g[i];
            if (llabs(d) < llabs(best) || (llabs(d) == llabs(best) && d > best))
                best = d;
        }
        ref[k] = (double)best * 1000.0 / 44100.0;
        in10 += fabs(ref[k]) <= 10.0;
        in25 += fabs(ref[k]) <= 25.0;
        double ms;
        assert_int_equal(etude_timing_note(t, p, &ms), ETUDE_OK);
        assert_float_equal(ms, ref[k], 1e-9);
    }
    double sum = 0, sq = 0;
    for (int k = 0; k < NN; k++)
        sum += ref[k];
    double mean = sum / NN;
    for (int k = 0; k < NN; k++)
        sq += (ref[k] - mean) * (ref[k] - mean);
    etude_timing_result_t r;
    etude_timing_result(t, &r);
    assert_int_equal(r.notes, NN);
    assert_float_equal(r.mean_ms, mean, 1e-6);
    assert_float_equal(r.sd_ms, sqrt(sq / NN), 1e-6);
    assert_float_equal(r.within_10ms, (double)in10 / NN, 1e-12);
    assert_float_equal(r.within_25ms, (double)in25 / NN, 1e-12);
    etude_timing_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_and_shares),
        cmocka_unit_test(test_nearest_edges),
        cmocka_unit_test(test_random_against_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
