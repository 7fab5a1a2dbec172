/* etude_ring.h - internal: a bounded single-reader/single-writer ring of fixed-size records.
 *
 * Exactly one thread may call etude_ring_push() (the writer) and exactly one thread may call
 * etude_ring_pop() (the reader) at a time; each ring in the engine names its reader and writer
 * where it is declared. The writer publishes a record with a release store of head after copying
 * it in; the reader acquires head before copying out and releases tail after, so the writer never
 * overwrites a record that is still being read. Push and pop never block, allocate or make a
 * system call: both are [audio]-safe. Init and fini are [control] (they allocate).
 */
#ifndef ETUDE_RING_H
#define ETUDE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct etude_ring {
    _Alignas(64) _Atomic size_t head; /* next record to write; stored by the writer only */
    _Alignas(64) _Atomic size_t tail; /* next record to read; stored by the reader only */
    _Alignas(64) size_t mask;         /* capacity - 1; capacity is a power of two */
    size_t elem;                      /* bytes per record */
    unsigned char *buf;
} etude_ring_t;

/* [control] Room for at least min_records records of elem bytes. Returns 0 or -1 (out of memory). */
static inline int etude_ring_init(etude_ring_t *r, size_t min_records, size_t elem)
{
    size_t cap = 1;
    while (cap < min_records)
        cap <<= 1;
    r->buf = calloc(cap, elem);
    if (!r->buf)
        return -1;
    r->mask = cap - 1;
    r->elem = elem;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

/* [control] Free the ring's buffer. Neither side may use it afterwards. */
static inline void etude_ring_fini(etude_ring_t *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* [writer] Copy one record in. Returns false (and copies nothing) when the ring is full. */
static inline bool etude_ring_push(etude_ring_t *r, const void *rec)
{
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h - t > r->mask)
        return false;
    memcpy(r->buf + (h & r->mask) * r->elem, rec, r->elem);
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return true;
}

/* [reader] Copy the oldest record out. Returns false when the ring is empty. */
static inline bool etude_ring_pop(etude_ring_t *r, void *rec)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t == h)
        return false;
    memcpy(rec, r->buf + (t & r->mask) * r->elem, r->elem);
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

/* [any] Records waiting (a snapshot). */
static inline size_t etude_ring_count(etude_ring_t *r)
{
    return atomic_load_explicit(&r->head, memory_order_acquire) -
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif /* ETUDE_RING_H */
