/* test_logbook.c - app/etude_logbook: material identity (resolved path, BLAKE2b-256 of the
 * content), which sessions a filter counts (new and old entities), timing accuracy and its pooling,
 * dates and periods, and a summary over a store in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "etude_error.h"
#include "etude_logbook.h"
#include "etude_store.h"

/* BLAKE2b-256 of "abc" (RFC 7693's test vector, truncated output: as `printf abc | b2sum -l 256`) */
#define ABC_HASH "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"

static char dir[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/etude-logbook.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/a", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/a/tune.map", dir);
    write_file(p, "abc");
    snprintf(q, sizeof q, "%s/link.map", dir);
    return symlink("a/tune.map", q);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static void test_identify(void **state)
{
    (void)state;
    char p[512], real[4096], err[512];
    etude_material_id_t a, b;
    snprintf(p, sizeof p, "%s/a/../a/tune.map", dir);
    assert_int_equal(etude_material_identify(p, &a, err, sizeof err), 0);
    assert_string_equal(a.hash, ABC_HASH);
    snprintf(p, sizeof p, "%s/a/tune.map", dir);
    assert_non_null(realpath(p, real));
    assert_string_equal(a.path, real);
    snprintf(p, sizeof p, "%s/link.map", dir);
    assert_int_equal(etude_material_identify(p, &b, err, sizeof err), 0);
    assert_string_equal(b.path, a.path);
    assert_string_equal(b.hash, a.hash);
    assert_true(etude_material_hash_valid(a.hash));
    /* missing, and not a regular file */
    snprintf(p, sizeof p, "%s/nothing.map", dir);
    assert_int_equal(etude_material_identify(p, &b, err, sizeof err), ETUDE_ENOTFOUND);
    assert_non_null(strstr(err, "nothing.map: "));
    assert_int_equal(etude_material_identify(dir, &b, err, sizeof err), ETUDE_ENOTFOUND);
    assert_non_null(strstr(err, "not a regular file"));
    assert_false(etude_material_hash_valid("ABC"));
    assert_false(etude_material_hash_valid(NULL));
}

static cJSON *session(const char *json)
{
    cJSON *d = cJSON_Parse(json);
    assert_non_null(d);
    return d;
}

static void test_matches(void **state)
{
    (void)state;
    char p[512], err[512], json[9000];
    etude_logbook_filter_t f;
    snprintf(p, sizeof p, "%s/link.map", dir);
    assert_int_equal(etude_logbook_filter_typed(&f, p, err, sizeof err), 0);
    assert_true(f.has_id);
    /* same identity; other hash; other path */
    snprintf(json, sizeof json, "{\"command\":\"play\",\"preset\":\"x\",\"materialPath\":\"%s\",\"materialHash\":\"%s\"}",
             f.id.path, ABC_HASH);
    cJSON *s1 = session(json);
    assert_true(etude_logbook_matches(&f, s1));
    snprintf(json, sizeof json, "{\"preset\":\"%s\",\"materialPath\":\"%s\",\"materialHash\":\"%064d\"}", p, f.id.path, 0);
    cJSON *s2 = session(json);
    assert_false(etude_logbook_matches(&f, s2));
    snprintf(json, sizeof json, "{\"materialPath\":\"/elsewhere/tune.map\",\"materialHash\":\"%s\"}", ABC_HASH);
    cJSON *s3 = session(json);
    assert_false(etude_logbook_matches(&f, s3));
    /* an old session: by its resolved path only */
    snprintf(json, sizeof json, "{\"preset\":\"%s\"}", f.id.path);
    cJSON *s4 = session(json);
    assert_true(etude_logbook_matches(&f, s4));
    snprintf(json, sizeof json, "{\"preset\":\"%s\"}", p);
    cJSON *s5 = session(json);
    assert_false(etude_logbook_matches(&f, s5));
    /* a text filter (no such file): the typed string against preset or material */
    etude_logbook_filter_t t;
    assert_int_equal(etude_logbook_filter_typed(&t, "8 4/4 120", err, sizeof err), 0);
    assert_false(t.has_id);
    cJSON *s6 = session("{\"preset\":null,\"material\":\"8 4/4 120\",\"command\":\"render\"}");
    assert_true(etude_logbook_matches(&t, s6));
    assert_false(etude_logbook_matches(&t, s1));
    assert_false(etude_logbook_is_practice(s6));
    assert_true(etude_logbook_is_practice(s1));
    assert_true(etude_logbook_matches(NULL, s6));
    /* a goal's filter: identity when it has one, else its typed preset */
    snprintf(json, sizeof json, "{\"kind\":\"tempo\",\"preset\":\"link.map\",\"materialPath\":\"%s\",\"materialHash\":\"%s\"}",
             f.id.path, ABC_HASH);
    cJSON *g1 = session(json), *g2 = session("{\"kind\":\"tempo\",\"preset\":\"x\"}");
    etude_logbook_filter_t gf;
    etude_logbook_filter_goal(&gf, g1);
    assert_true(gf.has_id && etude_logbook_matches(&gf, s1) && !etude_logbook_matches(&gf, s2));
    etude_logbook_filter_goal(&gf, g2);
    assert_true(!gf.has_id && etude_logbook_matches(&gf, s1) && !etude_logbook_matches(&gf, s4));
    /* half an identity is none: the session falls back to its name */
    snprintf(json, sizeof json, "{\"preset\":\"%s\",\"materialPath\":\"%s\"}", f.id.path, f.id.path);
    cJSON *s7 = session(json), *s8 = session("{\"preset\":7,\"material\":null,\"materialHash\":3}");
    assert_true(etude_logbook_matches(&f, s7));
    assert_false(etude_logbook_matches(&f, s8) || etude_logbook_matches(&t, s8));
    cJSON *all[] = {s1, s2, s3, s4, s5, s6, s7, s8, g1, g2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        cJSON_Delete(all[i]);
}

static void test_accuracy(void **state)
{
    (void)state;
    etude_logbook_accuracy_t a, b;
    cJSON *d = session("{\"timing\":{\"notes\":100,\"mean_ms\":10,\"sd_ms\":5,\"within_25ms\":0.9}}");
    assert_int_equal(etude_logbook_accuracy(d, &a), 1);
    cJSON_Delete(d);
    d = session("{\"timing\":{\"notes\":0,\"mean_ms\":0,\"sd_ms\":0,\"within_25ms\":0}}");
    assert_int_equal(etude_logbook_accuracy(d, &b), 0);
    cJSON_Delete(d);
    d = session("{\"timing\":null}");
    assert_int_equal(etude_logbook_accuracy(d, &b), 0);
    cJSON_Delete(d);
    /* what another device synced may carry other types (unknown to the validator inside timing) */
    d = session("{\"timing\":{\"notes\":\"9\",\"mean_ms\":1}}");
    assert_int_equal(etude_logbook_accuracy(d, &b), 0);
    cJSON_Delete(d);
    d = session("{\"timing\":{\"notes\":2,\"mean_ms\":\"x\",\"sd_ms\":[1],\"within_25ms\":null}}");
    assert_int_equal(etude_logbook_accuracy(d, &b), 1);
    assert_true(b.notes == 2 && b.mean_ms == 0 && b.sd_ms == 0 && b.within_25ms == 0);
    cJSON_Delete(d);
    assert_int_equal(etude_logbook_accuracy(NULL, &b), 0);
    /* pooled: the figures of the union of the notes (values -> 4 ms, 5 ms, 0.9675, 400) */
    b = (etude_logbook_accuracy_t){300, 2, 3, 0.99};
    etude_logbook_accuracy_pool(&a, &b);
    assert_float_equal(a.notes, 400, 1e-9);
    assert_float_equal(a.mean_ms, 4, 1e-9);
    assert_float_equal(a.sd_ms, 5, 1e-9);
    assert_float_equal(a.within_25ms, 0.9675, 1e-9);
    /* pooling into nothing copies; pooling nothing changes nothing */
    etude_logbook_accuracy_t z = {0};
    etude_logbook_accuracy_pool(&z, &b);
    assert_memory_equal(&z, &b, sizeof z);
    etude_logbook_accuracy_t none = {0};
    etude_logbook_accuracy_pool(&a, &none);
    assert_float_equal(a.notes, 400, 1e-9);
    /* one set of values pooled piecewise equals it computed at once: {1, 3} and {5, 7, 9} */
    etude_logbook_accuracy_t p = {2, 2, 1, 1}, q = {3, 7, sqrt(8.0 / 3), 1};
    etude_logbook_accuracy_pool(&p, &q);
    assert_float_equal(p.mean_ms, 5, 1e-9);
    assert_float_equal(p.sd_ms, sqrt(8.0), 1e-9);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(etude_logbook_parse_date("2026-11-02", &ms), 0);
    assert_int_equal(ms, INT64_C(1793577600000));
    const char *bad[] = {"2026-02-30", "2026-1-01", "", "2026-11-02T00:00:00.000Z", "11/02/2026", "2026-13-01", "20261102xx"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(etude_logbook_parse_date(bad[i], &ms), ETUDE_EINVAL);
    assert_int_equal(etude_logbook_parse_date(NULL, &ms), ETUDE_EINVAL);
    int64_t sun = INT64_C(1796540400000); /* 2026-12-06T07:00:00Z, a Sunday */
    int64_t d, w, m;
    etude_logbook_parse_date("2026-12-06", &d);
    etude_logbook_parse_date("2026-11-30", &w);
    etude_logbook_parse_date("2026-12-01", &m);
    assert_int_equal(etude_logbook_period_start("day", sun), d);
    assert_int_equal(etude_logbook_period_start("week", sun), w);
    assert_int_equal(etude_logbook_period_start("month", sun), m);
    assert_int_equal(etude_logbook_period_start("week", w), w); /* Monday 00:00 is its own week */
}

static void test_summary(void **state)
{
    (void)state;
    etude_store_t *st;
    assert_int_equal(etude_store_open(":memory:", &st), 0);
    const char *data[] = {
        "{\"startedAt\":\"2026-11-04T08:00:00.000Z\",\"command\":\"play\",\"material\":\"Chorale\",\"activeSeconds\":450,"
        "\"tempoMaxBpm\":80,\"timing\":{\"notes\":300,\"mean_ms\":2,\"sd_ms\":3,\"within_25ms\":0.99}}",
        "{\"startedAt\":\"2026-11-02T18:00:00.000Z\",\"command\":\"play\",\"material\":\"Chorale\",\"activeSeconds\":600,"
        "\"tempoMaxBpm\":72,\"timing\":{\"notes\":100,\"mean_ms\":10,\"sd_ms\":5,\"within_25ms\":0.9}}",
        "{\"startedAt\":\"2026-11-03T10:00:00.000Z\",\"command\":\"render\",\"material\":\"Chorale\",\"activeSeconds\":1200,"
        "\"tempoMaxBpm\":200,\"timing\":null}",
        "{\"startedAt\":\"2026-10-30T09:00:00.000Z\",\"command\":\"play\",\"material\":\"Scales\",\"activeSeconds\":60,"
        "\"tempoMaxBpm\":60,\"timing\":null}",
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(etude_store_create(st, "practiceSession", NULL, data[i], NULL), 0);
    int64_t since;
    etude_logbook_parse_date("2026-11-01", &since);
    etude_logbook_summary_t s;
    assert_int_equal(etude_logbook_summarize(st, since, NULL, &s), 0);
    assert_int_equal(s.sessions, 2);
    assert_int_equal(s.renders, 1);
    assert_float_equal(s.minutes, 17.5, 1e-9);
    assert_int_equal(s.ndays, 2);
    assert_string_equal(s.days[0].date, "2026-11-02");
    assert_string_equal(s.days[1].date, "2026-11-04");
    assert_int_equal(s.nmaterials, 1);
    assert_string_equal(s.materials[0].name, "Chorale");
    assert_float_equal(s.materials[0].first_bpm, 72, 0);
    assert_float_equal(s.materials[0].last_bpm, 80, 0);
    assert_float_equal(s.acc.mean_ms, 4, 1e-9);
    etude_logbook_summary_clear(&s);
    etude_logbook_filter_t f = {.text = "Scales"};
    assert_int_equal(etude_logbook_summarize(st, 0, &f, &s), 0);
    assert_int_equal(s.sessions, 1);
    assert_int_equal(s.renders, 0);
    assert_string_equal(s.materials[0].name, "Scales");
    etude_logbook_summary_clear(&s);
    etude_logbook_summary_clear(NULL);
    etude_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify), cmocka_unit_test(test_matches), cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_dates),    cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
