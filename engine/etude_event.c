/* etude_event.c - the scheduled-event table: lock-free scheduling and cancelling on the control
 * side; on the audio side the intake of new events, the wheel and the heap they wait in, and their
 * dispatch at exact frames (see docs/engine.md, "The scheduled-event table"). */
#include <sched.h>
#include <stdlib.h>
#ifdef __linux__
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "etude_engine_internal.h"

/* The asymmetric fence between cancellers and the audio thread: membarrier(2) makes every
 * running thread of the process execute a full memory barrier before it returns. */
#if defined(__linux__) && defined(SYS_membarrier)
static bool membarrier_register(void)
{
    long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return false;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

static void membarrier_heavy(void)
{
    /* Registered at create, so this cannot fail with EPERM; were it to fail for another reason,
     * abort rather than break the cancel promise. */
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        abort();
}
#else
static bool membarrier_register(void) { return false; }
static void membarrier_heavy(void) {}
#endif

int ev_table_init(etude_engine_t *e)
{
    e->ev = aligned_alloc(64, (size_t)e->ev_cap * sizeof *e->ev);
    uint32_t fring_n = ring_size_for(e->ev_cap);
    e->fring = calloc(fring_n, sizeof *e->fring);
    e->fmask = fring_n - 1;
    e->holes = calloc(e->ev_cap, sizeof *e->holes);
    e->heap = calloc(e->ev_cap, sizeof *e->heap);
    e->hpos = calloc(e->ev_cap, sizeof *e->hpos);
    e->rtst = calloc(e->ev_cap, 1);
    uint32_t wheel = WHEEL_MIN_FRAMES;
    while (wheel < 2 * e->cfg.max_period)
        wheel <<= 1;
    e->wmask = wheel - 1;
    e->wnext = malloc(e->ev_cap * sizeof *e->wnext);
    e->wprev = malloc(e->ev_cap * sizeof *e->wprev);
    e->whead = malloc(wheel * sizeof *e->whead);
    e->wtail = malloc(wheel * sizeof *e->wtail);
    e->wbits = calloc(wheel / 64, sizeof *e->wbits);
    if (!e->ev || !e->fring || !e->holes || !e->heap || !e->hpos || !e->rtst || !e->wnext ||
        !e->wprev || !e->whead || !e->wtail || !e->wbits)
        return ETUDE_ENOMEM;
    for (uint32_t i = 0; i < e->ev_cap; i++) {
        struct ev_slot *s = &e->ev[i];
        memset(s, 0, sizeof *s);
        atomic_init(&s->state, sw_make(1, EV_FREE));
        atomic_init(&e->fring[i], i);
        atomic_init(&s->cancel_next, NIL);
        e->hpos[i] = NIL;
        e->wnext[i] = e->wprev[i] = NIL;
    }
    for (uint32_t b = 0; b <= e->wmask; b++)
        e->whead[b] = e->wtail[b] = NIL;
    atomic_init(&e->claimed, 0);
    atomic_init(&e->freed, e->ev_cap);
    e->freed_local = e->ev_cap;
    atomic_init(&e->cancel_head, NIL);
    e->cancel_local = NIL;
    e->hole_pos = UINT64_MAX;
    e->wheel_end = (uint64_t)e->wmask + 1;
    e->fire_asym = !etude_event_force_cas && membarrier_register();
    return ETUDE_OK;
}

void ev_table_fini(etude_engine_t *e)
{
    free(e->ev);
    free((void *)e->fring);
    free(e->holes);
    free(e->heap);
    free(e->hpos);
    free(e->wnext);
    free(e->wprev);
    free(e->whead);
    free(e->wtail);
    free(e->wbits);
    free(e->rtst);
}

/* ------------------------------------------------------------------------------------------ */
/* control side */

etude_event_claim_hook_t etude_event_claim_hook = NULL;
etude_event_fire_hook_t etude_event_fire_hook = NULL;
bool etude_event_force_cas = false;

static inline bool kind_ok(uint16_t k) { return (k >= ETUDE_EV_NOTE_ON && k <= ETUDE_EV_MARKER) || k >= ETUDE_EV_USER; }

/* Take the next free-ring entry: one CAS. *seq gets the arrival number. NIL when the table is
 * full. The entry is read before the CAS: once claimed has moved past a position the audio thread
 * may reuse it (see ring_size_for()). */
static inline uint32_t slot_claim(etude_engine_t *e, uint64_t *seq)
{
    uint64_t c = atomic_load_explicit(&e->claimed, memory_order_relaxed);
    for (;;) {
        /* Acquire: the entry and the slot's FREE state word were written before freed moved. */
        uint64_t f = atomic_load_explicit(&e->freed, memory_order_acquire);
        if (c >= f)
            return NIL; /* claimed >= c >= freed at this load: every slot is in use */
        uint32_t idx = atomic_load_explicit(&e->fring[c & e->fmask], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&e->claimed, &c, c + 1, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *seq = c;
            return idx;
        }
    }
}

/* Push onto an intrusive stack of slot indices (the cancel stack). A stack that is only pushed to
 * and emptied as a whole (never popped one by one) has no ABA problem. */
static inline void stack_push(_Atomic uint32_t *head, _Atomic uint32_t *link, uint32_t idx)
{
    uint32_t old = atomic_load_explicit(head, memory_order_relaxed);
    do {
        atomic_store_explicit(link, old, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(head, &old, idx, memory_order_release,
                                                    memory_order_relaxed));
}

/* The checks etude_event_schedule() makes before it takes a slot. */
static inline int event_check(const etude_engine_t *e, const etude_event_t *ev)
{
    if (!kind_ok(ev->kind))
        return ETUDE_EINVAL;
    if (ev->voice == 0)
        return ev->kind == ETUDE_EV_MARKER ? 0 : ETUDE_EINVAL;
    /* The common case in one word compare: the handle's generation with PREPARED or ACTIVE. */
    uint32_t i = ETUDE_ID_SLOT(ev->voice);
    if (__builtin_expect(i < e->v_cap, 1)) {
        uint64_t w = atomic_load_explicit(&e->vs[i].state, memory_order_acquire);
        if (__builtin_expect((w ^ (ev->voice & ~(uint64_t)0xffffffffu)) - 1 <= 1, 1))
            return 0;
    }
    struct voice_slot *v;
    return vp_live(e, ev->voice, &v);
}

/* Fill a slot this producer has popped and mark it PENDING; returns its handle. */
static inline etude_event_id_t slot_fill(etude_engine_t *e, uint32_t idx, const etude_event_t *ev,
                                         uint64_t seq)
{
    struct ev_slot *s = &e->ev[idx];
    uint32_t gen = SW_GEN(atomic_load_explicit(&s->state, memory_order_relaxed));
    s->ev.frame = ev->frame;
    __atomic_store_n(&s->ev.voice, ev->voice, __ATOMIC_RELAXED);
    s->ev.kind = ev->kind;
    s->ev.flags = ev->flags;
    __atomic_store_n(&s->ev.tag, ev->tag, __ATOMIC_RELAXED);
    memcpy(&s->ev.u, &ev->u, sizeof s->ev.u);
    s->seq = seq;
    atomic_store_explicit(&s->state, sw_make(gen, EV_PENDING), memory_order_release);
    return ((uint64_t)gen << 32) | idx;
}

int etude_event_schedule(etude_engine_t *e, const etude_event_t *ev, etude_event_id_t *out)
{
    if (!e || !ev)
        return ETUDE_EINVAL;
    int r = event_check(e, ev);
    if (r)
        return r;
    uint64_t seq;
    uint32_t idx = slot_claim(e, &seq);
    if (idx == NIL) {
        add_u64(&e->st_full, 1);
        return ETUDE_EFULL;
    }
    if (__builtin_expect(etude_event_claim_hook != NULL, 0))
        etude_event_claim_hook(e, seq, 0);
    etude_event_id_t id = slot_fill(e, idx, ev, seq);
    if (out)
        *out = id;
    return ETUDE_OK;
}

int etude_event_schedule_many(etude_engine_t *e, const etude_event_t *evs, size_t n,
                              etude_event_id_t *out)
{
    if (!e || (!evs && n) || n > ETUDE_EVENT_BATCH_MAX)
        return ETUDE_EINVAL;
    for (size_t k = 0; k < n; k++) {
        int r = event_check(e, &evs[k]);
        if (r)
            return r;
    }
    if (n == 0)
        return ETUDE_OK;
    /* n consecutive free-ring entries with one CAS; the entries are read before it (as in
     * slot_claim()). */
    uint32_t idx[ETUDE_EVENT_BATCH_MAX];
    uint64_t c = atomic_load_explicit(&e->claimed, memory_order_relaxed);
    for (;;) {
        uint64_t f = atomic_load_explicit(&e->freed, memory_order_acquire);
        if (c + n > f) {
            add_u64(&e->st_full, 1);
            return ETUDE_EFULL; /* fewer than n free at that load, whatever c's age */
        }
        for (size_t k = 0; k < n; k++)
            idx[k] = atomic_load_explicit(&e->fring[(c + k) & e->fmask], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&e->claimed, &c, c + n, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    for (size_t k = 0; k < n; k++) {
        if (__builtin_expect(etude_event_claim_hook != NULL, 0))
            etude_event_claim_hook(e, c + k, k);
        etude_event_id_t id = slot_fill(e, idx[k], &evs[k], c + k);
        if (out)
            out[k] = id;
    }
    return ETUDE_OK;
}

/* Who won a cancel's CAS race with the audio thread's fire(), once the CAS PENDING -> CANCELLED
 * has succeeded and a membarrier has run since. The audio thread fires without a locked
 * instruction: it stores fire_mark = gen, then loads state again (program order kept by a
 * compiler fence), and fires only if that load finds PENDING. The membarrier between our CAS and
 * our load of fire_mark orders the two sides as a full fence on both would (asymmetric Dekker):
 * either we see its mark, or its load sees our CANCELLED. So:
 *   - mark != gen: it had not reached this incarnation; it will find CANCELLED: we won;
 *   - mark == gen: it is deciding, or has decided; wait for the outcome: state leaves
 *     CANCELLED(gen) (it fired with a plain store over our word: we lost, it delivers the event
 *     and frees the slot), or mark goes back to 0 with state still CANCELLED(gen) (it saw our
 *     cancel: we won). The wait lasts the few instructions between its mark and its decision
 *     (longer only if the audio thread is preempted exactly there).
 * Mark is loaded before state: a mark of a later incarnation implies state has left
 * CANCELLED(gen) (the audio thread stored FREE before that mark, both with release). */
static bool cancel_resolve(etude_engine_t *e, uint32_t idx, uint32_t gen)
{
    struct ev_slot *s = &e->ev[idx];
    const uint64_t cancelled = sw_make(gen, EV_CANCELLED);
    for (unsigned spin = 0;; spin++) {
        uint32_t m = atomic_load_explicit(&s->fire_mark, memory_order_acquire);
        uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
        if (w != cancelled)
            return false;
        if (m != gen)
            return true;
        if (spin >= 64)
            sched_yield();
    }
}

/* PENDING -> CANCELLED for the incarnation in w: the CAS alone. */
static inline bool cancel_cas(etude_engine_t *e, uint32_t idx, uint64_t w)
{
    return atomic_compare_exchange_strong_explicit(&e->ev[idx].state, &w,
                                                   sw_make(SW_GEN(w), EV_CANCELLED),
                                                   memory_order_seq_cst, memory_order_relaxed);
}

/* Hand a cancelled slot to the audio thread, which frees it. */
static inline void cancel_push(etude_engine_t *e, uint32_t idx)
{
    stack_push(&e->cancel_head, &e->ev[idx].cancel_next, idx);
}

/* Cancel the incarnation in w: true if this call cancelled it (it will not fire). */
static bool cancel_slot(etude_engine_t *e, uint32_t idx, uint64_t w)
{
    if (!cancel_cas(e, idx, w))
        return false;
    if (e->fire_asym) {
        membarrier_heavy();
        if (!cancel_resolve(e, idx, SW_GEN(w)))
            return false;
    }
    cancel_push(e, idx);
    return true;
}

int etude_event_cancel(etude_engine_t *e, etude_event_id_t id)
{
    uint32_t idx = ETUDE_ID_SLOT(id), gen = ETUDE_ID_GEN(id);
    if (!e)
        return ETUDE_EINVAL;
    if (gen == 0 || idx >= e->ev_cap)
        return ETUDE_ESTALE;
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
    for (;;) {
        uint32_t g = SW_GEN(w), st = SW_ST(w);
        if (g == gen) {
            if (st == EV_PENDING) {
                if (cancel_slot(e, idx, w)) {
                    add_u64(&e->st_canc, 1);
                    return ETUDE_OK;
                }
                w = atomic_load_explicit(&s->state, memory_order_acquire);
                continue;
            }
            return st == EV_CANCELLED ? ETUDE_EDONE : ETUDE_ESTALE;
        }
        /* Freed after firing or cancelling, and not reused yet. */
        if (g == gen_next(gen) && st == EV_FREE)
            return ETUDE_EDONE;
        return ETUDE_ESTALE;
    }
}

enum { MATCH_ALL, MATCH_VOICE, MATCH_TAG };

/* Slots a scan cancels between two membarriers (one fence per chunk, not per slot). */
#define SCAN_CHUNK 1024u

static uint32_t scan_settle(etude_engine_t *e, const uint32_t *idx, const uint32_t *gen, uint32_t k)
{
    uint32_t n = 0;
    if (k && e->fire_asym)
        membarrier_heavy();
    for (uint32_t j = 0; j < k; j++)
        if (!e->fire_asym || cancel_resolve(e, idx[j], gen[j])) {
            cancel_push(e, idx[j]);
            n++;
        }
    return n;
}

static uint32_t cancel_scan(etude_engine_t *e, int how, uint64_t key)
{
    uint32_t n = 0, k = 0;
    uint32_t idx[SCAN_CHUNK], gen[SCAN_CHUNK];
    for (uint32_t i = 0; i < e->ev_cap; i++) {
        struct ev_slot *s = &e->ev[i];
        uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
        if (SW_ST(w) != EV_PENDING)
            continue;
        /* The copies may belong to a newer incarnation; then the CAS on w fails. */
        if (how == MATCH_VOICE && __atomic_load_n(&s->ev.voice, __ATOMIC_RELAXED) != key)
            continue;
        if (how == MATCH_TAG && __atomic_load_n(&s->ev.tag, __ATOMIC_RELAXED) != (uint32_t)key)
            continue;
        if (!cancel_cas(e, i, w))
            continue;
        idx[k] = i;
        gen[k++] = SW_GEN(w);
        if (k == SCAN_CHUNK) {
            n += scan_settle(e, idx, gen, k);
            k = 0;
        }
    }
    n += scan_settle(e, idx, gen, k);
    if (n)
        add_u64(&e->st_canc, n);
    return n;
}

int etude_event_cancel_voice(etude_engine_t *e, etude_voice_id_t voice, uint32_t *ncancelled)
{
    if (!e || voice == 0)
        return ETUDE_EINVAL;
    uint32_t n = cancel_scan(e, MATCH_VOICE, voice);
    if (ncancelled)
        *ncancelled = n;
    return ETUDE_OK;
}

int etude_event_cancel_tag(etude_engine_t *e, uint32_t tag, uint32_t *ncancelled)
{
    if (!e)
        return ETUDE_EINVAL;
    uint32_t n = cancel_scan(e, MATCH_TAG, tag);
    if (ncancelled)
        *ncancelled = n;
    return ETUDE_OK;
}

int etude_event_clear(etude_engine_t *e, uint32_t *ncancelled)
{
    if (!e)
        return ETUDE_EINVAL;
    uint32_t n = cancel_scan(e, MATCH_ALL, 0);
    if (ncancelled)
        *ncancelled = n;
    return ETUDE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* audio side: the heap of pending events, keyed by (frame, seq) */

static inline bool ent_less(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->frame < b->frame || (a->frame == b->frame && a->seq < b->seq);
}

static void heap_sift_up(etude_engine_t *e, uint32_t i, struct heap_ent x)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ent_less(&x, &e->heap[p]))
            break;
        e->heap[i] = e->heap[p];
        e->hpos[e->heap[i].idx] = i;
        i = p;
    }
    e->heap[i] = x;
    e->hpos[x.idx] = i;
}

static void heap_sift_down(etude_engine_t *e, uint32_t i, struct heap_ent x)
{
    uint32_t n = e->heap_n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ent_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!ent_less(&e->heap[c], &x))
            break;
        e->heap[i] = e->heap[c];
        e->hpos[e->heap[i].idx] = i;
        i = c;
    }
    e->heap[i] = x;
    e->hpos[x.idx] = i;
}

static void heap_insert(etude_engine_t *e, uint32_t idx)
{
    struct heap_ent x = {e->ev[idx].ev.frame, e->ev[idx].seq, idx};
    heap_sift_up(e, e->heap_n++, x);
}

static void heap_remove_at(etude_engine_t *e, uint32_t i)
{
    uint32_t gone = e->heap[i].idx;
    struct heap_ent last = e->heap[--e->heap_n];
    e->hpos[gone] = NIL;
    if (i == e->heap_n)
        return;
    if (i > 0 && ent_less(&last, &e->heap[(i - 1) / 2]))
        heap_sift_up(e, i, last);
    else
        heap_sift_down(e, i, last);
}

/* Append to the bucket of its frame. Appending keeps every bucket in arrival (seq) order because
 * events reach a bucket in that order (see wheel_end in ev_rt_dispatch()): first the ones that
 * waited in the heap, moved in (frame, seq) order, then the ones intake takes in, in arrival
 * order. Only an event whose producer stalled past the hole wait arrives out of turn; it is
 * appended too (after the events already there: the documented behaviour past the bound). */
static inline void wheel_append(etude_engine_t *e, uint32_t idx, uint64_t frame)
{
    uint32_t b = (uint32_t)frame & e->wmask;
    uint32_t tail = e->wtail[b];
    e->rtst[idx] = RT_IN_WHEEL;
    e->wnext[idx] = NIL;
    e->wprev[idx] = tail;
    if (tail == NIL) {
        e->whead[b] = idx;
        e->wbits[b >> 6] |= 1ull << (b & 63);
    } else {
        e->wnext[tail] = idx;
    }
    e->wtail[b] = idx;
}

static void wheel_unlink(etude_engine_t *e, uint32_t idx)
{
    uint32_t b = (uint32_t)e->ev[idx].ev.frame & e->wmask;
    uint32_t p = e->wprev[idx], n = e->wnext[idx];
    if (p == NIL)
        e->whead[b] = n;
    else
        e->wnext[p] = n;
    if (n == NIL)
        e->wtail[b] = p;
    else
        e->wprev[n] = p;
    if (e->whead[b] == NIL)
        e->wbits[b >> 6] &= ~(1ull << (b & 63));
}

/* Queue a slot already marked FREE (under its next generation) for the free ring. */
static inline void slot_chain(etude_engine_t *e, uint32_t idx)
{
    atomic_store_explicit(&e->fring[e->freed_local & e->fmask], idx, memory_order_relaxed);
    e->freed_local++;
}

/* Retire a slot: bump its generation, mark it FREE and queue it for the free ring. */
static void slot_free(etude_engine_t *e, uint32_t idx)
{
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);
    atomic_store_explicit(&s->state, sw_make(gen_next(SW_GEN(w)), EV_FREE), memory_order_release);
    e->rtst[idx] = RT_NONE;
    slot_chain(e, idx);
}

/* Give this chunk's retired slots back to the producers: one release store, no CAS. */
void ev_rt_flush(etude_engine_t *e)
{
    uint64_t f = atomic_load_explicit(&e->freed, memory_order_relaxed);
    if (f == e->freed_local)
        return;
    bump_u64(&e->st_freed, e->freed_local - f);
    atomic_store_explicit(&e->freed, e->freed_local, memory_order_release);
}

/* An event for a voice that is no longer PREPARED or ACTIVE under the handle's generation: its
 * schedule passed the voice check and then raced the voice's dispose, whose cancel scan could not
 * see it yet. Drop it now rather than let it hold its slot until its frame. Same CAS as firing, so
 * a cancel racing this is decided once. */
static __attribute__((noinline, cold)) void drop_at_intake(etude_engine_t *e, uint32_t idx)
{
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_acquire);
    if (SW_ST(w) == EV_PENDING &&
        atomic_compare_exchange_strong_explicit(&s->state, &w, sw_make(gen_next(SW_GEN(w)), EV_FREE),
                                                memory_order_acq_rel, memory_order_acquire)) {
        e->rtst[idx] = RT_NONE;
        slot_chain(e, idx);
        bump_u64(&e->st_drop, 1);
    } else {
        e->rtst[idx] = RT_WAIT_CANCEL; /* cancelled: its cancel record is on the way */
    }
}

/* A slot whose event has been published (PENDING, or already CANCELLED): freed if its cancel
 * record came first, dropped if its voice is gone, else into the wheel (due before wheel_end) or
 * the heap (later, or already late: the late ones fire at this chunk's start). */
static inline __attribute__((always_inline)) void take_in(etude_engine_t *e, uint32_t idx,
                                                          uint64_t start)
{
    if (__builtin_expect(e->rtst[idx] == RT_CANCEL_FIRST, 0)) {
        slot_free(e, idx);
        return;
    }
    struct ev_slot *s = &e->ev[idx];
    uint64_t voice = s->ev.voice;
    if (voice) {
        /* PREPARED or ACTIVE under the handle's generation (one word compare each). */
        uint64_t w = atomic_load_explicit(&e->vs[ETUDE_ID_SLOT(voice)].state, memory_order_acquire);
        uint64_t d = w ^ (voice & ~(uint64_t)0xffffffffu); /* the state alone if the generation matches */
        _Static_assert(ETUDE_VOICE_PREPARED == 1 && ETUDE_VOICE_ACTIVE == 2, "state values");
        if (__builtin_expect(d - 1 > 1, 0)) {
            drop_at_intake(e, idx);
            return;
        }
    }
    uint64_t f = s->ev.frame;
    if (f >= start && f < e->wheel_end) {
        wheel_append(e, idx, f);
    } else {
        e->rtst[idx] = RT_IN_HEAP;
        heap_insert(e, idx);
    }
}

/* Take in the events scheduled since the last look, in arrival order, at most budget positions.
 *
 * A position whose slot is still FREE belongs to a producer between its claim and its PENDING
 * store (a hole). Intake stops there and waits for it, so no later arrival can overtake it: events
 * at one frame keep their arrival order even across a stalled producer, and a batch stalled in the
 * middle of publishing keeps its order. The wait is bounded by hole_wait_frames, counted from the
 * chunk in which intake first stopped at that position; past it the slot is set aside (looked at
 * again every chunk, within the budget) and intake goes on, also past every other hole claimed
 * before that wait began (their producers have had as long). A set-aside event keeps no place in
 * arrival order: it is taken in when published, after the events already at its frame. */
void ev_rt_intake(etude_engine_t *e, uint64_t start)
{
    uint32_t budget = e->rt_budget;
    /* The set-aside slots, round robin from where the last chunk stopped. */
    for (uint32_t h = 0; h < e->holes_n && budget;) {
        if (e->holes_rr >= e->holes_n)
            e->holes_rr = 0;
        uint32_t idx = e->holes[e->holes_rr];
        budget--;
        e->rt_work.intake++;
        if (SW_ST(atomic_load_explicit(&e->ev[idx].state, memory_order_acquire)) == EV_FREE) {
            e->holes_rr++;
            h++;
            continue;
        }
        e->holes[e->holes_rr] = e->holes[--e->holes_n];
        take_in(e, idx, start);
    }
    uint64_t end = atomic_load_explicit(&e->claimed, memory_order_acquire);
    uint64_t t = e->drained;
    if (end - t > budget)
        end = t + budget;
    e->rt_work.intake += (uint32_t)(end - t);
    for (; t < end; t++) {
        uint32_t idx = atomic_load_explicit(&e->fring[t & e->fmask], memory_order_relaxed);
        /* Acquire: the event's fields were written before its PENDING store. */
        if (__builtin_expect(SW_ST(atomic_load_explicit(&e->ev[idx].state, memory_order_acquire)) ==
                                 EV_FREE,
                             0)) {
            if (t >= e->hole_skip_below) {
                if (t != e->hole_pos) { /* a new hole: start waiting for it */
                    e->hole_pos = t;
                    e->hole_since = start;
                    e->hole_claimed = atomic_load_explicit(&e->claimed, memory_order_relaxed);
                    e->rt_work.intake -= (uint32_t)(end - t - 1);
                    break;
                }
                if (start - e->hole_since < e->cfg.hole_wait_frames) {
                    e->rt_work.intake -= (uint32_t)(end - t - 1);
                    break;
                }
                /* waited long enough: set it and every hole claimed before the wait aside */
                e->hole_skip_below = e->hole_claimed;
            }
            e->holes[e->holes_n++] = idx;
            continue;
        }
        take_in(e, idx, start);
    }
    e->drained = t;
}

/* Apply cancel records, at most budget of them. The audio side takes the cancel stack whole and
 * works through it over as many chunks as it needs; it takes the stack again once that list is
 * done. A cancelled event whose record is still waiting cannot fire: firing needs the PENDING ->
 * FREE CAS, which the cancel's PENDING -> CANCELLED has made fail; only its slot stays in use. */
void ev_rt_cancels(etude_engine_t *e)
{
    uint32_t budget = e->rt_budget;
    uint32_t i = e->cancel_local;
    if (i == NIL)
        i = atomic_exchange_explicit(&e->cancel_head, NIL, memory_order_acquire);
    for (; i != NIL && budget; budget--) {
        uint32_t next = atomic_load_explicit(&e->ev[i].cancel_next, memory_order_relaxed);
        e->rt_work.cancels++;
        switch (e->rtst[i]) {
        case RT_IN_HEAP:
            heap_remove_at(e, e->hpos[i]);
            slot_free(e, i);
            break;
        case RT_IN_WHEEL:
            wheel_unlink(e, i);
            slot_free(e, i);
            break;
        case RT_WAIT_CANCEL:
            slot_free(e, i);
            break;
        default: /* cancelled before intake reached it: freed when it does */
            e->rtst[i] = RT_CANCEL_FIRST;
            break;
        }
        i = next;
    }
    e->cancel_local = i;
}

/* ------------------------------------------------------------------------------------------ */
/* audio side: dispatch */

/* Per-chunk tallies of the dispatch loop, published once per chunk (single-writer counters). */
struct tally {
    uint64_t disp, drop, late;
};

/* Deliver a fired event to its voice (or only notify, for a voiceless MARKER). The voice must be
 * ACTIVE under the handle's generation and not fading; otherwise the event is counted dropped. */
static inline __attribute__((always_inline)) void deliver(etude_engine_t *e, const etude_event_t *ev,
                                                         uint64_t at, bool late, struct tally *t)
{
    e->rt_frame = at;
    if (ev->voice) {
        /* The slot was checked by the schedule call. The handle's generation and ACTIVE, compared
         * as one word; ACTIVE implies rendering and not fading (a dispose leaves ACTIVE first). */
        struct voice_slot *v = &e->vs[ETUDE_ID_SLOT(ev->voice)];
        uint64_t want = (ev->voice & ~(uint64_t)0xffffffffu) | ETUDE_VOICE_ACTIVE;
        if (__builtin_expect(atomic_load_explicit(&v->state, memory_order_acquire) != want, 0)) {
            t->drop++;
            t->late += late;
            return;
        }
        if (v->cls->event)
            v->cls->event(v->self, ev);
    }
    t->disp++;
    t->late += late;
    if (__builtin_expect(ev->flags & ETUDE_EVF_NOTIFY, 0))
        nt_post(e, ev, at, late);
}

/* Fire a slot's event unless it was cancelled. Either side's decision is final once made:
 *   - fire_asym (membarrier registered): no locked instruction here. Store the mark, then load
 *     state again; PENDING: fire with a plain release store of FREE (a canceller whose CAS came
 *     after that load sees our mark and waits for this store, see cancel_resolve()); CANCELLED:
 *     clear the mark, the cancel record is on its way.
 *   - otherwise: one CAS PENDING -> FREE, which a cancelled slot fails. */
static inline __attribute__((always_inline)) void fire(etude_engine_t *e, uint32_t idx, uint64_t at,
                                                       bool late, struct tally *t)
{
    struct ev_slot *s = &e->ev[idx];
    uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);
    uint32_t gen = SW_GEN(w);
    uint64_t pending = sw_make(gen, EV_PENDING);
    bool won;
    if (__builtin_expect(e->fire_asym, 1)) {
        won = false;
        if (w == pending) {
            atomic_store_explicit(&s->fire_mark, gen, memory_order_relaxed);
            /* The compiler keeps the store before the load; the canceller's membarrier orders
             * them for the CPU. */
            atomic_signal_fence(memory_order_seq_cst);
            if (__builtin_expect(etude_event_fire_hook != NULL, 0))
                etude_event_fire_hook(e, ((uint64_t)gen << 32) | idx, 0);
            if (atomic_load_explicit(&s->state, memory_order_acquire) == pending) {
                if (__builtin_expect(etude_event_fire_hook != NULL, 0))
                    etude_event_fire_hook(e, ((uint64_t)gen << 32) | idx, 1);
                atomic_store_explicit(&s->state, sw_make(gen_next(gen), EV_FREE), memory_order_release);
                won = true;
            } else {
                atomic_store_explicit(&s->fire_mark, 0, memory_order_release);
            }
        }
    } else {
        won = atomic_compare_exchange_strong_explicit(&s->state, &pending,
                                                      sw_make(gen_next(gen), EV_FREE),
                                                      memory_order_acq_rel, memory_order_relaxed);
    }
    if (won) {
        e->rtst[idx] = RT_NONE;
        deliver(e, &s->ev, at, late, t);
        slot_chain(e, idx);
    } else {
        e->rtst[idx] = RT_WAIT_CANCEL; /* its cancel record is on the way */
    }
}

/* Publish a chunk's tallies. */
static inline void tally_flush(etude_engine_t *e, const struct tally *t)
{
    if (t->disp)
        bump_u64(&e->st_disp, t->disp);
    if (t->drop)
        bump_u64(&e->st_drop, t->drop);
    if (t->late)
        bump_u64(&e->st_late, t->late);
}


void ev_rt_dispatch(etude_engine_t *e, uint64_t start, uint32_t n)
{
    uint64_t end = start + n;
    struct tally t = {0, 0, 0};
    /* Late events first, at offset 0, in (frame, seq) order. Only intake puts late events in the
     * heap (the moves below keep every event due in a chunk out of it by then), so there are at
     * most the intake's budget of them. */
    while (e->heap_n && e->heap[0].frame < start) {
        uint32_t idx = e->heap[0].idx;
        heap_remove_at(e, 0);
        e->rtst[idx] = RT_NONE;
        fire(e, idx, start, true, &t);
        e->rt_work.due++;
    }
    /* Heap -> wheel, in (frame, seq) order: every event due in this chunk whatever it costs (they
     * are due), then later ones within the wheel's span up to the budget. wheel_end is the frame
     * below which the heap holds nothing: intake appends events due before it to their bucket
     * directly, and sends later ones to the heap, so a bucket always receives its heap events
     * before intake's and each group in arrival order. It only grows. */
    uint64_t span_end = start + e->wmask + 1;
    uint32_t budget = e->rt_budget;
    while (e->heap_n && e->heap[0].frame < span_end) {
        uint64_t hf = e->heap[0].frame;
        if (hf >= end) {
            if (!budget)
                break;
            budget--;
            e->rt_work.moves++;
        } else {
            e->rt_work.due++;
        }
        uint32_t idx = e->heap[0].idx;
        heap_remove_at(e, 0);
        wheel_append(e, idx, hf);
    }
    uint64_t we = e->heap_n && e->heap[0].frame < span_end ? e->heap[0].frame : span_end;
    if (we > e->wheel_end)
        e->wheel_end = we;

    /* Walk the chunk's buckets through the bitmap: render up to each busy frame, fire its events. */
    uint32_t pos = 0;
    uint64_t f = start;
    while (f < end) {
        uint32_t b = (uint32_t)f & e->wmask;
        uint64_t bits = e->wbits[b >> 6] >> (b & 63);
        if (!bits) {
            f += 64 - (b & 63);
            continue;
        }
        f += (uint64_t)__builtin_ctzll(bits);
        if (f >= end)
            break;
        b = (uint32_t)f & e->wmask;
        uint32_t at = (uint32_t)(f - start);
        if (at > pos) {
            vp_rt_render(e, pos, at, start);
            pos = at;
        }
        /* Take the whole bucket: nothing else touches the wheel until the next chunk's intake. */
        uint32_t idx = e->whead[b];
        e->whead[b] = e->wtail[b] = NIL;
        e->wbits[b >> 6] &= ~(1ull << (b & 63));
        do {
            uint32_t next = e->wnext[idx];
            fire(e, idx, f, false, &t);
            e->rt_work.due++;
            idx = next;
        } while (idx != NIL);
        f++;
    }
    if (pos < n)
        vp_rt_render(e, pos, n, start);
    tally_flush(e, &t);
}
