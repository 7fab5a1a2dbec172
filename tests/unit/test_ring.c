/* test_ring.c - the engine's single-reader/single-writer ring: FIFO order, full and empty,
 * wrap-around, and a two-thread transfer checked record by record (also run under TSan). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "etude_ring.h"

typedef struct rec {
    uint64_t seq;
    uint64_t check;
} rec_t;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static void test_fifo_full_empty(void **state)
{
    (void)state;
    etude_ring_t r;
    assert_int_equal(etude_ring_init(&r, 5, sizeof(rec_t)), 0); /* rounds up to 8 */
    rec_t x = {0, 0};
    assert_false(etude_ring_pop(&r, &x));
    for (uint64_t i = 0; i < 8; i++) {
        rec_t in = {i, mix64(i)};
        assert_true(etude_ring_push(&r, &in));
    }
    rec_t extra = {99, 99};
    assert_false(etude_ring_push(&r, &extra)); /* full: refused, nothing overwritten */
    assert_int_equal(etude_ring_count(&r), 8);
    for (uint64_t i = 0; i < 8; i++) {
        assert_true(etude_ring_pop(&r, &x));
        assert_int_equal(x.seq, i);
        assert_int_equal(x.check, mix64(i));
    }
    assert_false(etude_ring_pop(&r, &x));
    /* wrap around many times with a varying fill level */
    uint64_t w = 0, rd = 0;
    for (int round = 0; round < 1000; round++) {
        int n = round % 9;
        for (int k = 0; k < n; k++) {
            rec_t in = {w, mix64(w)};
            if (etude_ring_push(&r, &in))
                w++;
        }
        int m = (round * 7) % 9;
        for (int k = 0; k < m && etude_ring_pop(&r, &x); k++) {
            assert_int_equal(x.seq, rd);
            assert_int_equal(x.check, mix64(rd));
            rd++;
        }
        assert_true(w - rd <= 8);
        assert_int_equal(etude_ring_count(&r), w - rd);
    }
    etude_ring_fini(&r);
}

#define TRANSFER 1000000u

typedef struct xfer {
    etude_ring_t ring;
    uint64_t bad;
} xfer_t;

static void *writer(void *arg)
{
    xfer_t *t = arg;
    for (uint64_t i = 0; i < TRANSFER;) {
        rec_t in = {i, mix64(i)};
        if (etude_ring_push(&t->ring, &in))
            i++;
        else
            sched_yield();
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    xfer_t t = {.bad = 0};
    assert_int_equal(etude_ring_init(&t.ring, 64, sizeof(rec_t)), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer, &t), 0);
    uint64_t next = 0;
    rec_t x;
    while (next < TRANSFER) {
        if (!etude_ring_pop(&t.ring, &x)) {
            sched_yield();
            continue;
        }
        if (x.seq != next || x.check != mix64(next))
            t.bad++;
        next++;
    }
    pthread_join(th, NULL);
    assert_int_equal(t.bad, 0);
    assert_false(etude_ring_pop(&t.ring, &x));
    etude_ring_fini(&t.ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_full_empty),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
