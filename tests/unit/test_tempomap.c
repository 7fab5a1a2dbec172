/* test_tempomap.c - unit tests of the klick tempo-map parser and its beat positions. */
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

#include "etude_engine.h"
#include "etude_tempomap.h"

static etude_tempomap_t *parse_ok(const char *text)
{
    char err[512] = "";
    etude_tempomap_t *m = NULL;
    int r = etude_tempomap_parse(text, strlen(text), "map.txt", &m, err, sizeof err);
    if (r != 0)
        fail_msg("parse failed for '%s': %s", text, err);
    return m;
}

/* Parse must fail with exactly this message. */
static void parse_err(const char *text, const char *want)
{
    char err[512] = "";
    etude_tempomap_t *m = NULL;
    int r = etude_tempomap_parse(text, strlen(text), "map.txt", &m, err, sizeof err);
    assert_int_equal(r, ETUDE_EPARSE);
    assert_null(m);
    assert_string_equal(err, want);
}

static void line_err(const char *line, const char *want)
{
    char err[512] = "";
    etude_tempomap_t *m = NULL;
    int r = etude_tempomap_parse_line(line, "--click", &m, err, sizeof err);
    assert_int_equal(r, ETUDE_EPARSE);
    assert_null(m);
    assert_string_equal(err, want);
}

static void test_fields(void **state)
{
    (void)state;
    etude_tempomap_t *m = parse_ok("# header comment\n"
                                   "\n"
                                   "intro: 8 120            # comment\n"
                                   "verse1:12 7/8 133.5 X.xX.x. 0.5\n"
                                   "   \t4 6/8 90-120\n"
                                   "x-y_Z9: 1 3/4 100,110,120 ..X #c\n"
                                   "2 5/4 60#glued comment\r\n");
    assert_int_equal(etude_tempomap_entry_count(m), 5);
    const etude_tempomap_entry_t *e = etude_tempomap_entry(m, 0);
    assert_string_equal(e->label, "intro");
    assert_int_equal(e->line, 3);
    assert_int_equal(e->bars, 8);
    assert_int_equal(e->beats, 4);
    assert_int_equal(e->denom, 4);
    assert_true(e->tempo == 120.0 && e->tempo2 == 0.0);
    assert_null(e->pattern);
    assert_null(e->tempi);
    assert_true(e->volume == 1.0f);

    e = etude_tempomap_entry(m, 1);
    assert_string_equal(e->label, "verse1");
    assert_int_equal(e->bars, 12);
    assert_int_equal(e->beats, 7);
    assert_int_equal(e->denom, 8);
    assert_true(e->tempo == 133.5);
    uint8_t want[7] = {ETUDE_BEAT_ACCENT, ETUDE_BEAT_SILENT, ETUDE_BEAT_NORMAL, ETUDE_BEAT_ACCENT,
                       ETUDE_BEAT_SILENT, ETUDE_BEAT_NORMAL, ETUDE_BEAT_SILENT};
    assert_memory_equal(e->pattern, want, 7);
    assert_true(e->volume == 0.5f);

    e = etude_tempomap_entry(m, 2);
    assert_string_equal(e->label, "");
    assert_int_equal(e->line, 5);
    assert_true(e->tempo == 90.0 && e->tempo2 == 120.0);

    e = etude_tempomap_entry(m, 3);
    assert_string_equal(e->label, "x-y_Z9");
    assert_non_null(e->tempi);
    assert_true(e->tempi[0] == 100.0 && e->tempi[1] == 110.0 && e->tempi[2] == 120.0);

    e = etude_tempomap_entry(m, 4);
    assert_int_equal(e->beats, 5);
    assert_true(e->tempo == 60.0);
    assert_int_equal(e->line, 7);

    assert_int_equal(etude_tempomap_bar_count(m), 8 + 12 + 4 + 1 + 2);
    assert_int_equal(etude_tempomap_beat_count(m), 32 + 84 + 24 + 3 + 10);
    assert_false(etude_tempomap_endless(m));

    /* beats: types and sections (an unlabelled line belongs to the last label) */
    etude_tempomap_beat_t b;
    assert_int_equal(etude_tempomap_beat(m, 0, &b), 0);
    assert_int_equal(b.type, ETUDE_BEAT_ACCENT);
    assert_string_equal(b.section, "intro");
    assert_int_equal(etude_tempomap_beat(m, 1, &b), 0);
    assert_int_equal(b.type, ETUDE_BEAT_NORMAL);
    assert_int_equal(etude_tempomap_beat(m, 32 + 1, &b), 0);
    assert_int_equal(b.type, ETUDE_BEAT_SILENT);
    assert_true(b.volume == 0.5f);
    assert_int_equal(b.bar, 8);
    assert_int_equal(b.beat_in_bar, 1);
    assert_int_equal(etude_tempomap_beat(m, 32 + 84, &b), 0);
    assert_string_equal(b.section, "verse1");
    assert_true(b.bpm == 90.0);
    assert_int_equal(etude_tempomap_beat(m, 32 + 84 + 24 + 2, &b), 0);
    assert_int_equal(b.type, ETUDE_BEAT_ACCENT);
    assert_true(b.bpm == 120.0);
    assert_int_equal(etude_tempomap_beat(m, etude_tempomap_beat_count(m), &b), ETUDE_EINVAL);
    etude_tempomap_destroy(m);
}

static void test_errors(void **state)
{
    (void)state;
    parse_err("8 120\n8 abc\n", "map.txt:2: bad tempo 'abc' (expected a number > 0)");
    parse_err("# c\n\n8 4/4 abc\n", "map.txt:3: bad tempo 'abc' (expected a number > 0)");
    parse_err("8 -120\n", "map.txt:1: bad tempo '-120' (expected a number > 0)");
    parse_err("8 0\n", "map.txt:1: bad tempo '0' (expected a number > 0)");
    parse_err("8 0.0-120\n", "map.txt:1: bad tempo '0.0-120' (expected a number > 0)");
    parse_err("8 120-\n", "map.txt:1: bad tempo '120-' (expected a number > 0)");
    parse_err("8 1e3\n", "map.txt:1: bad tempo '1e3' (expected a number > 0)");
    parse_err("8 200000\n", "map.txt:1: bad tempo '200000' (expected a number > 0)");
    parse_err("2 3/4 100,x,120,1,1,1\n",
              "map.txt:1: bad tempo '100,x,120,1,1,1' (expected a number > 0)");
    parse_err("1 3/4 100,110\n",
              "map.txt:1: bad tempo: 2 tempo values for 3 beats (expected one per beat: bars x beats)");
    parse_err("8 120-140/4\n", "map.txt:1: bad tempo '120-140/4' (T1-T2/ACCEL is for the command "
                               "line; in a map write T1-T2 over the bars of the ramp)");
    parse_err("0 120\n", "map.txt:1: bad bars '0' (expected an integer from 1 to 1000000)");
    parse_err("abc 120\n", "map.txt:1: bad bars 'abc' (expected an integer from 1 to 1000000)");
    parse_err("2000000 120\n", "map.txt:1: bad bars '2000000' (expected an integer from 1 to 1000000)");
    parse_err("intro:\n", "map.txt:1: missing bars (expected '[label:] bars [meter] tempo [pattern] [volume]')");
    parse_err("8\n", "map.txt:1: missing tempo (expected '[label:] bars [meter] tempo [pattern] [volume]')");
    parse_err("8 7/0 120\n", "map.txt:1: bad meter '7/0' (expected BEATS/DENOMINATOR, integers from 1 to 256)");
    parse_err("8 x/4 120\n", "map.txt:1: bad meter 'x/4' (expected BEATS/DENOMINATOR, integers from 1 to 256)");
    parse_err("8 3/4 120 X.xY\n", "map.txt:1: bad pattern 'X.xY' (expected X, x or . for each beat)");
    parse_err("8 3/4 120 X.xx\n", "map.txt:1: bad pattern 'X.xx' (4 beats; the meter has 3)");
    parse_err("8 120 X.x. -1\n", "map.txt:1: bad volume '-1' (expected a number >= 0)");
    parse_err("8 120 X.x. 0.5 extra\n", "map.txt:1: unexpected 'extra' after the entry (expected "
                                        "'[label:] bars [meter] tempo [pattern] [volume]')");
    parse_err("in tro: 8 120\n", "map.txt:1: bad bars 'in' (expected an integer from 1 to 1000000)");
    parse_err("in!tro: 8 120\n", "map.txt:1: bad label 'in!tro:' (expected letters, digits, '_' or '-' before ':')");
    parse_err("\n# nothing\n", "map.txt: no entries (expected lines like '8 4/4 120', see docs/click.md)");
    parse_err("", "map.txt: no entries (expected lines like '8 4/4 120', see docs/click.md)");
    parse_err("8 \x89PNG\n", "map.txt:1: bad tempo '\\x89PNG' (expected a number > 0)");
    parse_err("1 1/1 10000 X\n1 1/1 10000 X\n1000000 1/1 0.001\n",
              "map.txt:3: the map is longer than 1000 hours by this entry");
    {
        char bin[] = "8 120\n\x7f" "ELF\0\x01\x02";
        char err[256];
        etude_tempomap_t *m = NULL;
        assert_int_equal(etude_tempomap_parse(bin, sizeof bin - 1, "map.txt", &m, err, sizeof err),
                         ETUDE_EPARSE);
        assert_string_equal(err, "map.txt:2: binary data (a NUL byte), not a tempo map");
    }
    line_err("8 4/4 abc", "--click: bad tempo 'abc' (expected a number > 0)");
    line_err("", "--click: empty (expected '[bars] [meter] tempo[-tempo2] [pattern]', e.g. '8 4/4 120')");
    line_err("4/4 80-120", "--click: bad tempo (a ramp T1-T2 needs a bar count, or T1-T2/ACCEL)");
    line_err("8 80-120/0", "--click: bad tempo '80-120/0' (ACCEL in T1-T2/ACCEL must be a number > 0: bars per bpm)");
    line_err("8 120\n8 120", "--click: bad map line (one line expected, without a newline)");
    line_err("8 1-90000/100", "--click: bad tempo: the ramp T1-T2/ACCEL would last 8999900 bars (at most 1000000)");

    /* a missing file */
    char err[512];
    etude_tempomap_t *m = NULL;
    assert_int_equal(etude_tempomap_load("/nonexistent/map.txt", &m, err, sizeof err), ETUDE_EIO);
    assert_string_equal(err, "/nonexistent/map.txt: cannot read: No such file or directory");
}

static void test_cmdline(void **state)
{
    (void)state;
    char err[256];
    etude_tempomap_t *m = NULL;
    /* the one-line map form */
    assert_int_equal(etude_tempomap_parse_line("8 3/4 100-120 X.x", "--click", &m, err, sizeof err), 0);
    assert_int_equal(etude_tempomap_entry_count(m), 1);
    assert_true(etude_tempomap_entry(m, 0)->tempo2 == 120.0);
    assert_int_equal(etude_tempomap_bar_count(m), 8);
    etude_tempomap_destroy(m);

    /* no bars: endless */
    assert_int_equal(etude_tempomap_parse_line("6/8 90 X..x..", "--click", &m, err, sizeof err), 0);
    assert_true(etude_tempomap_endless(m));
    assert_int_equal(etude_tempomap_entry(m, 0)->beats, 6);
    assert_int_equal(etude_tempomap_frames(m, 48000), UINT64_MAX);
    /* 6/8 at 90 quarter notes per minute: an eighth lasts 1/3 s */
    assert_int_equal(etude_tempomap_beat_frame(m, 1000000, 48000), 16000ull * 1000000);
    assert_int_equal(etude_tempomap_beat_at_frame(m, 16000ull * 1000000, 48000), 1000000);
    assert_int_equal(etude_tempomap_beat_at_frame(m, 16000ull * 1000000 + 1, 48000), 1000001);
    etude_tempomap_destroy(m);

    assert_int_equal(etude_tempomap_parse_line("120", "--click", &m, err, sizeof err), 0);
    assert_true(etude_tempomap_endless(m));
    assert_int_equal(etude_tempomap_entry(m, 0)->beats, 4);
    etude_tempomap_destroy(m);

    /* klick's speed trainer: 80 -> 120 changing 1 bpm every 0.5 bars: a 20-bar ramp, then 120 */
    assert_int_equal(etude_tempomap_parse_line("32 80-120/0.5", "--click", &m, err, sizeof err), 0);
    assert_int_equal(etude_tempomap_entry_count(m), 2);
    assert_int_equal(etude_tempomap_entry(m, 0)->bars, 20);
    assert_true(etude_tempomap_entry(m, 0)->tempo2 == 120.0);
    assert_int_equal(etude_tempomap_entry(m, 1)->bars, 12);
    assert_true(etude_tempomap_entry(m, 1)->tempo == 120.0);
    etude_tempomap_destroy(m);
    /* ... shorter than the ramp: stops part-way, at 80 + 40 * 10/20 */
    assert_int_equal(etude_tempomap_parse_line("10 80-120/0.5", "--click", &m, err, sizeof err), 0);
    assert_int_equal(etude_tempomap_entry_count(m), 1);
    assert_true(etude_tempomap_entry(m, 0)->tempo2 == 100.0);
    etude_tempomap_destroy(m);
}

/* Time of beat k of a ramp, by summing klick's per-beat log-mean durations in long double. */
static long double ramp_sum(double t1, double t2, unsigned n, unsigned k, unsigned denom)
{
    long double s = 0;
    for (unsigned j = 0; j < k; j++) {
        long double a = t1 + (t2 - t1) * (long double)j / n;
        long double b = t1 + (t2 - t1) * (long double)(j + 1) / n;
        long double avg = (a - b) / (logl(a) - logl(b));
        s += 240.0L / (avg * denom);
    }
    return s;
}

static void test_positions(void **state)
{
    (void)state;
    etude_tempomap_t *m = parse_ok("2 4/4 120\n"      /* 8 beats of 0.5 s */
                                   "1 6/8 120\n"      /* eighths: 0.25 s */
                                   "1 7/8 90-150\n"   /* a ramp */
                                   "1 3/2 60,120,240\n"); /* halves: 2, 1, 0.5 s */
    assert_true(etude_tempomap_beat_seconds(m, 0) == 0.0);
    assert_true(etude_tempomap_beat_seconds(m, 7) == 3.5);
    assert_true(etude_tempomap_beat_seconds(m, 8) == 4.0);
    assert_true(etude_tempomap_beat_seconds(m, 14) == 5.5);
    for (unsigned k = 0; k <= 7; k++) {
        long double want = 5.5L + ramp_sum(90, 150, 7, k, 8);
        assert_true(fabsl(etude_tempomap_beat_seconds(m, 14 + k) - want) < 1e-12L);
    }
    double r0 = etude_tempomap_beat_seconds(m, 21);
    assert_true(fabs(etude_tempomap_beat_seconds(m, 22) - (r0 + 2.0)) < 1e-12);
    assert_true(fabs(etude_tempomap_beat_seconds(m, 23) - (r0 + 3.0)) < 1e-12);
    assert_true(fabs(etude_tempomap_seconds(m) - (r0 + 3.5)) < 1e-12);
    assert_int_equal(etude_tempomap_beat_count(m), 24);

    /* frames: floor, as klick; first beat at or after a frame */
    assert_int_equal(etude_tempomap_beat_frame(m, 8, 48000), 192000);
    assert_int_equal(etude_tempomap_beat_frame(m, 9, 44100), (uint64_t)floor(4.25 * 44100));
    assert_int_equal(etude_tempomap_beat_at_frame(m, 0, 48000), 0);
    assert_int_equal(etude_tempomap_beat_at_frame(m, 1, 48000), 1);
    assert_int_equal(etude_tempomap_beat_at_frame(m, 192000, 48000), 8);
    assert_int_equal(etude_tempomap_beat_at_frame(m, 192001, 48000), 9);
    for (uint64_t i = 0; i < 24; i++) {
        uint64_t f = etude_tempomap_beat_frame(m, i, 44100);
        assert_int_equal(etude_tempomap_beat_at_frame(m, f, 44100), i);
        assert_int_equal(etude_tempomap_beat_at_frame(m, f + 1, 44100), i + 1);
    }
    assert_int_equal(etude_tempomap_beat_at_frame(m, UINT64_MAX / 2, 48000), 24);
    assert_int_equal(etude_tempomap_frames(m, 48000),
                     etude_tempomap_frame(etude_tempomap_seconds(m), 48000));

    /* bars */
    assert_int_equal(etude_tempomap_bar_first_beat(m, 0), 0);
    assert_int_equal(etude_tempomap_bar_first_beat(m, 2), 8);
    assert_int_equal(etude_tempomap_bar_first_beat(m, 3), 14);
    assert_int_equal(etude_tempomap_bar_first_beat(m, 4), 21);
    assert_int_equal(etude_tempomap_bar_first_beat(m, 5), UINT64_MAX);
    etude_tempomap_destroy(m);
}

/* An hour and more: positions are computed from the start, so the last beat sits exactly where the
 * closed form puts it, with no error accumulated over thousands of beats. */
static void test_no_drift(void **state)
{
    (void)state;
    etude_tempomap_t *m = parse_ok("1800 4/4 120\n"); /* 7200 beats: one hour */
    assert_int_equal(etude_tempomap_beat_frame(m, 7199, 48000), 7199ull * 24000);
    assert_int_equal(etude_tempomap_frames(m, 48000), 3600ull * 48000);
    assert_int_equal(etude_tempomap_beat_frame(m, 7199, 44100), 7199ull * 22050);
    etude_tempomap_destroy(m);

    /* 133.3 (single precision, as in klick): beat k at k * 60 / 133.3f s, for 2 hours of beats */
    m = parse_ok("4000 4/4 133.3\n");
    long double beat = 60.0L / (long double)133.3f;
    uint64_t n = etude_tempomap_beat_count(m);
    for (uint64_t k = 0; k < n; k += 997) {
        long double want = k * beat * 48000.0L;
        uint64_t f = etude_tempomap_beat_frame(m, k, 48000);
        assert_true(fabsl((long double)f - floorl(want)) <= 1.0L);
    }
    long double last = (n - 1) * beat;
    assert_true(fabsl(etude_tempomap_beat_seconds(m, n - 1) - last) < 1e-9L);
    etude_tempomap_destroy(m);

    /* many entries: the start of each is the exact sum of the ones before */
    char *text = malloc(64 * 1000);
    size_t o = 0;
    for (int i = 0; i < 1000; i++)
        o += (size_t)sprintf(text + o, "%s\n", i % 2 ? "3 7/8 140" : "2 4/4 100-140");
    m = parse_ok(text);
    free(text);
    long double t = 0;
    for (size_t i = 0; i < etude_tempomap_entry_count(m); i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(m, i);
        assert_true(fabsl(e->start_seconds - t) < 1e-9L);
        t += i % 2 ? 3 * 7 * 240.0L / (140 * 8) : ramp_sum(100, 140, 8, 8, 4);
    }
    etude_tempomap_destroy(m);
}

static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/etude-tempomap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "a: 4 3/4 100\nb: 4 3/4 100 Xx. 0.25\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[256];
    etude_tempomap_t *m = NULL;
    assert_int_equal(etude_tempomap_load(path, &m, err, sizeof err), 0);
    assert_int_equal(etude_tempomap_entry_count(m), 2);
    assert_string_equal(etude_tempomap_entry(m, 1)->label, "b");
    etude_tempomap_destroy(m);
    /* errors name the file given */
    FILE *f = fopen(path, "w");
    fputs("4 3/4 100\n4 3/4 fast\n", f);
    fclose(f);
    assert_int_equal(etude_tempomap_load(path, &m, err, sizeof err), ETUDE_EPARSE);
    char want[256];
    snprintf(want, sizeof want, "%s:2: bad tempo 'fast' (expected a number > 0)", path);
    assert_string_equal(err, want);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cmdline),   cmocka_unit_test(test_positions),
        cmocka_unit_test(test_no_drift),  cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
