/* test_jack_grid.c - the beat-grid hand-over of the JACK timebase callback (etude_jack_grid_*), under
 * stress: one thread replaces the grid over and over (and frees the old one) while another reads it
 * the way timebase_cb does every period. Run it under ASan (a read of a freed grid is a
 * heap-use-after-free) and TSan (the free and the read race); the plain build checks that every
 * read saw one whole grid.
 *
 * The defect it guards against is a memory-order one: with release/acquire on the two "store one
 * variable, then load the other" sides (the store-buffering pattern), the writer could see no
 * reader and free the grid the reader had just taken. Before the fix the hand-over lived inside
 * etude_jack.c's timebase callback and could not be driven without jackd, so this test cannot
 * fail on fd82c7f as such. It was run with fd82c7f's memory orders put back into
 * etude_jack_grid_set/_bbt (acq_rel exchange, release store, acquire loads), 20000 swaps each
 * under ASan and TSan on x86-64: it passed. The reordering needs the reader's store to sit in
 * the store buffer while the writer's exchange, load and free all happen, a window of a few
 * nanoseconds that this machine did not hit; the fix rests on the ordering argument written at
 * etude_jack_grid_set() in etude_jack.c, and this test guards the hand-over's other properties
 * (no torn grid, no use after free, the writer never frees a grid in use as the reader runs).
 * ETUDE_GRID_SWAPS sets the number of replacements (default 10000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "etude_engine.h"
#include "etude_jack.h"

#define RATE 48000u
#define SPACING 1000u

typedef struct {
    etude_jack_grid_t *grid;
    atomic_bool done;
    uint64_t reads, misses, bad;
    long swaps;
} stress_t;

/* Grid number k: n beats SPACING frames apart, every beat saying k (bar) and k % 13 + 1 (meter). */
static void fill(etude_jack_beat_t *b, size_t n, int32_t k)
{
    for (size_t i = 0; i < n; i++) {
        b[i].frame = (uint64_t)i * SPACING;
        b[i].bar = k;
        b[i].beat = 1;
        b[i].beats_per_bar = (float)(k % 13 + 1);
        b[i].beat_type = 4;
        b[i].bpm = 120;
    }
}

static void *reader(void *arg)
{
    stress_t *s = arg;
    uint64_t frame = 0;
    while (!atomic_load_explicit(&s->done, memory_order_acquire)) {
        etude_jack_bbt_t o;
        frame = (frame + 7919) % (64u * SPACING); /* inside the smallest grid */
        if (!etude_jack_grid_bbt(s->grid, frame, RATE, &o)) {
            s->misses++;
            continue;
        }
        s->reads++;
        /* one whole grid: its number and meter agree, and the frame is on a beat's first bar */
        if (o.bar < 1 || o.beats_per_bar != (float)(o.bar % 13 + 1) || o.beat != 1 || o.beat_type != 4)
            s->bad++;
    }
    return NULL;
}

static void test_swap_under_reader(void **state)
{
    (void)state;
    stress_t s = {.grid = etude_jack_grid_create()};
    assert_non_null(s.grid);
    const char *env = getenv("ETUDE_GRID_SWAPS");
    s.swaps = env ? atol(env) : 10000;
    static etude_jack_beat_t beats[4096];
    fill(beats, 64, 1);
    assert_int_equal(etude_jack_grid_set(s.grid, beats, 64), ETUDE_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader, &s), 0);
    for (long k = 2; k < s.swaps + 2; k++) {
        size_t n = 64 + (size_t)(k * 37) % 4000; /* sizes vary, so freed blocks are not reused alike */
        fill(beats, n, (int32_t)k);
        assert_int_equal(etude_jack_grid_set(s.grid, beats, n), ETUDE_OK);
    }
    atomic_store_explicit(&s.done, true, memory_order_release);
    pthread_join(t, NULL);
    print_message("%ld swaps against %llu reads (%llu backed off during a swap)\n", s.swaps,
                  (unsigned long long)s.reads, (unsigned long long)s.misses);
    assert_int_equal(s.bad, 0);
    assert_true(s.reads > 0);
    /* an empty grid publishes nothing; a bad grid is refused and the old one stays */
    etude_jack_bbt_t o;
    assert_true(etude_jack_grid_bbt(s.grid, 0, RATE, &o));
    etude_jack_beat_t two[2] = {{.frame = 5, .bar = 1, .beat = 1}, {.frame = 5, .bar = 1, .beat = 2}};
    assert_int_equal(etude_jack_grid_set(s.grid, two, 2), ETUDE_EINVAL);
    assert_true(etude_jack_grid_bbt(s.grid, 0, RATE, &o));
    assert_int_equal(etude_jack_grid_set(s.grid, NULL, 0), ETUDE_OK);
    assert_false(etude_jack_grid_bbt(s.grid, 0, RATE, &o));
    etude_jack_grid_destroy(s.grid);
}

/* The grid answers what etude_jack_bbt_at() computes from the same beats. */
static void test_grid_matches_bbt_at(void **state)
{
    (void)state;
    etude_jack_grid_t *g = etude_jack_grid_create();
    assert_non_null(g);
    etude_jack_beat_t b[7];
    for (int i = 0; i < 7; i++)
        b[i] = (etude_jack_beat_t){.frame = (uint64_t)i * 24000, .bar = 1 + i / 3, .beat = 1 + i % 3,
                                   .beats_per_bar = 3, .beat_type = 4, .bpm = 120};
    assert_int_equal(etude_jack_grid_set(g, b, 7), ETUDE_OK);
    for (uint64_t f = 0; f < 400000; f += 5011) {
        etude_jack_bbt_t o;
        int32_t bar, beat, tick;
        double bst, bpm;
        assert_true(etude_jack_grid_bbt(g, f, RATE, &o));
        assert_true(etude_jack_bbt_at(b, 7, f, RATE, &bar, &beat, &tick, &bst, &bpm));
        assert_int_equal(o.bar, bar);
        assert_int_equal(o.beat, beat);
        assert_int_equal(o.tick, tick);
        assert_true(o.bar_start_tick == bst && o.bpm == bpm);
        assert_true(o.beats_per_bar == 3 && o.beat_type == 4);
    }
    etude_jack_grid_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_matches_bbt_at),
        cmocka_unit_test(test_swap_under_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
