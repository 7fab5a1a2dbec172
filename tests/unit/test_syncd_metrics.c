/* test_syncd_metrics.c - the ring of one-minute slots behind AdminMetrics: counts per minute from
 * the same calls as /metrics, skipped minutes empty with the gauges carried, p50/p99 from the
 * per-minute histogram, 360 minutes kept, a clock going back, and concurrent writers.
 * Shown to fail: with slot_now() not carrying the gauges into new minutes, test_skipped_minutes
 * fails; with etude_syncd_metrics_request() taking no lock, the TSan build reports a data race in
 * test_concurrent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>

#include "syncd.h"

static int64_t fake_ms;
static int64_t fake_clock(void)
{
    return fake_ms;
}

#define T0 (29000000LL * 60000LL) /* a minute boundary */

static etude_syncd_metrics_t *fresh(void)
{
    etude_syncd_metrics_t *m = etude_syncd_metrics_create();
    assert_non_null(m);
    fake_ms = T0 + 1500;
    etude_syncd_metrics_set_clock(m, fake_clock);
    return m;
}

static void test_one_minute(void **state)
{
    (void)state;
    etude_syncd_metrics_t *m = fresh();
    etude_syncd_metrics_request(m, "/graphql", 200, 0.010);
    etude_syncd_metrics_request(m, "/healthz", 404, 0.001);
    etude_syncd_metrics_request(m, "/graphql", 500, 0.100);
    etude_syncd_metrics_operation(m, "SyncChanges", "ok");
    etude_syncd_metrics_operation(m, "SyncChanges", "ok");
    etude_syncd_metrics_operation(m, "SyncChanges", "INVALID_CURSOR"); /* not a page served */
    etude_syncd_metrics_operation(m, "Login", "ok");
    etude_syncd_upload_stats_t up = {.accepted = 3};
    etude_syncd_metrics_upload(m, &up);
    etude_syncd_metrics_gauge_add(m, ETUDE_SYNCD_GAUGE_SSE, 2);
    etude_syncd_metrics_gauge_add(m, ETUDE_SYNCD_GAUGE_IN_FLIGHT, 5); /* not the SSE gauge */
    etude_syncd_metrics_db_bytes(m, 4096);
    etude_syncd_metrics_point_t p[ETUDE_SYNCD_RING_MINUTES];
    assert_int_equal(etude_syncd_metrics_points(m, 60, p), 1); /* nothing before the start */
    assert_int_equal(p[0].at_ms, T0);
    assert_int_equal(p[0].requests, 3);
    assert_int_equal(p[0].errors, 2);
    assert_int_equal(p[0].pulls, 2);
    assert_int_equal(p[0].uploads, 1);
    assert_int_equal(p[0].graphql, 2);
    assert_int_equal(p[0].sse_streams, 2);
    assert_int_equal(p[0].db_bytes, 4096);
    /* p50 of {10 ms, 100 ms} is 10 ms: the bucket's bound is within 25% above it. */
    assert_true(p[0].p50_ms >= 10.0 && p[0].p50_ms <= 12.5);
    assert_true(p[0].p99_ms > 99.99 && p[0].p99_ms < 100.01); /* capped at the largest sample */
    etude_syncd_metrics_destroy(m);
}

static void test_skipped_minutes(void **state)
{
    (void)state;
    etude_syncd_metrics_t *m = fresh();
    etude_syncd_metrics_gauge_add(m, ETUDE_SYNCD_GAUGE_SSE, 3);
    etude_syncd_metrics_db_bytes(m, 777);
    etude_syncd_metrics_request(m, "/graphql", 200, 0.002);
    fake_ms += 3 * 60000; /* minutes 1 and 2 see no call */
    etude_syncd_metrics_request(m, "/graphql", 401, 0.004);
    etude_syncd_metrics_point_t p[ETUDE_SYNCD_RING_MINUTES];
    assert_int_equal(etude_syncd_metrics_points(m, 10, p), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p[i].at_ms, T0 + i * 60000LL);
        assert_int_equal(p[i].sse_streams, 3); /* carried into the empty minutes */
        assert_int_equal(p[i].db_bytes, 777);
    }
    assert_int_equal(p[0].requests, 1);
    assert_int_equal(p[1].requests, 0);
    assert_int_equal(p[2].requests, 0);
    assert_true(p[1].p50_ms < 0 && p[1].p99_ms < 0); /* no sample: no latency */
    assert_int_equal(p[3].requests, 1);
    assert_int_equal(p[3].errors, 1);
    /* The newest minutes only, oldest first. */
    assert_int_equal(etude_syncd_metrics_points(m, 2, p), 2);
    assert_int_equal(p[0].at_ms, T0 + 2 * 60000LL);
    /* A gauge change later in a minute is the value at its end. */
    etude_syncd_metrics_gauge_add(m, ETUDE_SYNCD_GAUGE_SSE, -1);
    assert_int_equal(etude_syncd_metrics_points(m, 1, p), 1);
    assert_int_equal(p[0].sse_streams, 2);
    etude_syncd_metrics_destroy(m);
}

static void test_quantiles(void **state)
{
    (void)state;
    etude_syncd_metrics_t *m = fresh();
    for (int i = 0; i < 99; i++)
        etude_syncd_metrics_request(m, "/graphql", 200, 0.001);
    etude_syncd_metrics_request(m, "/graphql", 200, 1.0);
    etude_syncd_metrics_request(m, "/events", 200, 30.0); /* streams are not GraphQL latency */
    etude_syncd_metrics_point_t p[1];
    assert_int_equal(etude_syncd_metrics_points(m, 1, p), 1);
    assert_true(p[0].p50_ms >= 1.0 && p[0].p50_ms <= 1.25);
    assert_true(p[0].p99_ms >= 1.0 && p[0].p99_ms <= 1.25); /* 99 of 100 are 1 ms */
    etude_syncd_metrics_request(m, "/graphql", 200, 1.0);
    assert_int_equal(etude_syncd_metrics_points(m, 1, p), 1);
    assert_true(p[0].p99_ms > 999.0 && p[0].p99_ms < 1001.0); /* now 2 of 101 are 1 s */
    etude_syncd_metrics_destroy(m);
}

static void test_wrap_and_clock_back(void **state)
{
    (void)state;
    etude_syncd_metrics_t *m = fresh();
    etude_syncd_metrics_request(m, "/graphql", 200, 0.001);
    fake_ms += 400 * 60000LL;
    etude_syncd_metrics_request(m, "/graphql", 200, 0.001);
    etude_syncd_metrics_point_t p[ETUDE_SYNCD_RING_MINUTES];
    assert_int_equal(etude_syncd_metrics_points(m, 1000, p), ETUDE_SYNCD_RING_MINUTES);
    assert_int_equal(p[0].at_ms, T0 + (400 - 359) * 60000LL);
    assert_int_equal(p[ETUDE_SYNCD_RING_MINUTES - 1].at_ms, T0 + 400 * 60000LL);
    unsigned long long total = 0;
    for (int i = 0; i < ETUDE_SYNCD_RING_MINUTES; i++)
        total += p[i].requests;
    assert_int_equal(total, 1); /* the first minute fell out of the ring */
    fake_ms -= 5 * 60000LL; /* the wall clock stepped back: counted in the newest minute */
    etude_syncd_metrics_request(m, "/graphql", 200, 0.001);
    assert_int_equal(etude_syncd_metrics_points(m, 1, p), 1);
    assert_int_equal(p[0].at_ms, T0 + 400 * 60000LL);
    assert_int_equal(p[0].requests, 2);
    etude_syncd_metrics_destroy(m);
}

#define THREADS 4
#define PER_THREAD 20000
static void *writer(void *arg)
{
    etude_syncd_metrics_t *m = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        etude_syncd_metrics_request(m, i % 2 ? "/graphql" : "/events", i % 5 ? 200 : 500, 0.001 * (i % 7));
        if (i % 100 == 0)
            etude_syncd_metrics_gauge_add(m, ETUDE_SYNCD_GAUGE_SSE, i % 200 ? -1 : 1);
    }
    return NULL;
}

static void *reader(void *arg)
{
    etude_syncd_metrics_t *m = arg;
    etude_syncd_metrics_point_t *p = calloc(ETUDE_SYNCD_RING_MINUTES, sizeof *p);
    for (int i = 0; i < 200 && p; i++) {
        etude_syncd_metrics_points(m, ETUDE_SYNCD_RING_MINUTES, p);
        char *text = etude_syncd_metrics_render(m);
        free(text);
    }
    free(p);
    return NULL;
}

/* The real clock: all writers' requests are counted once, whatever minute they fell in. */
static void test_concurrent(void **state)
{
    (void)state;
    etude_syncd_metrics_t *m = etude_syncd_metrics_create();
    assert_non_null(m);
    pthread_t t[THREADS + 1];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, m), 0);
    assert_int_equal(pthread_create(&t[THREADS], NULL, reader, m), 0);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(t[i], NULL);
    etude_syncd_metrics_point_t p[ETUDE_SYNCD_RING_MINUTES];
    int n = etude_syncd_metrics_points(m, ETUDE_SYNCD_RING_MINUTES, p);
    unsigned long long req = 0, err = 0, gql = 0;
    for (int i = 0; i < n; i++) {
        req += p[i].requests;
        err += p[i].errors;
        gql += p[i].graphql;
    }
    assert_int_equal(req, THREADS * PER_THREAD);
    assert_int_equal(err, THREADS * PER_THREAD / 5);
    assert_int_equal(gql, THREADS * PER_THREAD / 2);
    assert_int_equal(p[n - 1].sse_streams, 0); /* +1 and -1 balance out per thread */
    etude_syncd_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_minute),
        cmocka_unit_test(test_skipped_minutes),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_wrap_and_clock_back),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
