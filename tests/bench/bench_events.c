/* bench_events.c - benchmark: schedule and dispatch 10^6 events through etude's event table and
 * through FluidSynth's sequencer in the same run, and print ns/event for both and their ratio.
 *
 * All runs share one load: events at 4 per frame (48 kHz), scheduled 8192 frames (171 ms, within
 * the sequencer's 100-200 ms lookahead) ahead of 256-frame periods, each delivered to a callback
 * that counts it. Ours goes through etude_event_schedule() (one call per event, like FluidSynth's)
 * and etude_engine_process() (one voice, silent render); a second etude run schedules the same
 * events with etude_event_schedule_many() in batches of BATCH. FluidSynth's goes through
 * fluid_sequencer_send_at() and fluid_sequencer_process() with a client callback
 * (new_fluid_sequencer2(0), time scale 48000 ticks/s so one tick is one frame).
 *
 * Time: the thread's CPU time of each whole run (time spent preempted is not the code's), best of
 * ROUNDS rounds that alternate the runs. The schedule/dispatch split is taken with the monotonic
 * clock (a vDSO call, ~40 ns) and scaled to the CPU total: reading the thread CPU clock is a system
 * call of about 1 us, which per period would add some 3 ns/event of the clock's own cost.
 * Instructions: user-space instructions per event of each run from a perf_event_open() counter,
 * when the machine exposes one (virtual machines often do not; then it says so, and callgrind gives
 * repeatable counts: valgrind --tool=callgrind --toggle-collect='run_etude*' bench_events 100000).
 * Usage: bench_events [EVENTS] (default 1000000). Exits non-zero only if an event goes missing.
 */
#include <errno.h>
#include <fluidsynth.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "etude_engine.h"

#define RATE 48000u
#define PERIOD 256u
#define LOOKAHEAD 8192u /* 171 ms at 48 kHz: the sequencer's lookahead (100-200 ms) */
#define PER_FRAME 4u
#define ROUNDS 7
#define BATCH 64u

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The instruction counter: -1 when perf_event_open() is not available here. */
static int g_perf_fd = -1;
static char g_perf_why[160];

static void perf_open(void)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_HARDWARE;
    a.config = PERF_COUNT_HW_INSTRUCTIONS;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    if (fd < 0) {
        snprintf(g_perf_why, sizeof g_perf_why, "perf_event_open: %s", strerror(errno));
        return;
    }
    g_perf_fd = (int)fd;
}

static uint64_t perf_read(void)
{
    uint64_t v = 0;
    if (g_perf_fd >= 0 && read(g_perf_fd, &v, sizeof v) != (ssize_t)sizeof v)
        v = 0;
    return v;
}

struct run {
    double cpu;     /* thread CPU seconds, whole run */
    double w_sched; /* monotonic seconds in the schedule loops */
    double w_total; /* monotonic seconds, whole run */
    uint64_t instr; /* user instructions, whole run (0: not counted) */
};

static uint64_t g_count;

static void count_event(void *self, const etude_event_t *ev)
{
    (void)self;
    (void)ev;
    g_count++;
}

static void silent_render(void *self, float *const out[2], uint32_t n)
{
    (void)self;
    (void)out;
    (void)n;
}

static const etude_voice_class_t counter_class = {.kind = "counter", .event = count_event,
                                                  .render = silent_render, .mono = true};

/* batch == 0: one etude_event_schedule() per event; else etude_event_schedule_many() by batch.
 * Returns 0, or -1 if an event went missing. */
static __attribute__((noinline)) int run_etude(uint64_t n, unsigned batch, struct run *out)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = PERIOD;
    cfg.voice_capacity = 1;
    etude_engine_t *e;
    if (etude_engine_create(&cfg, &e) != 0)
        return -1;
    etude_voice_id_t vid;
    if (etude_voice_add(e, &counter_class, NULL, "counter", &vid) != 0)
        return -1;
    static float l[PERIOD], r[PERIOD];
    static etude_event_t evs[BATCH];
    float *const mix[2] = {l, r};
    etude_engine_process(e, PERIOD, mix, NULL);
    uint64_t base = etude_engine_now(e);
    g_count = 0;
    uint64_t sent = 0;
    double w_sched = 0;
    uint64_t i0 = perf_read();
    double c0 = cpu_s(), w0 = mono_s();
    while (g_count < n) {
        uint64_t horizon = etude_engine_now(e) + LOOKAHEAD;
        double ts = mono_s();
        if (!batch) {
            while (sent < n && base + sent / PER_FRAME < horizon) {
                etude_event_t ev = {.frame = base + sent / PER_FRAME, .voice = vid,
                                    .kind = ETUDE_EV_TRIGGER};
                ev.u.i64[0] = (int64_t)sent;
                if (etude_event_schedule(e, &ev, NULL) != 0)
                    return -1;
                sent++;
            }
        } else {
            for (;;) {
                unsigned k = 0;
                while (k < batch && sent < n && base + sent / PER_FRAME < horizon) {
                    evs[k] = (etude_event_t){.frame = base + sent / PER_FRAME, .voice = vid,
                                             .kind = ETUDE_EV_TRIGGER};
                    evs[k].u.i64[0] = (int64_t)sent;
                    k++;
                    sent++;
                }
                if (!k)
                    break;
                if (etude_event_schedule_many(e, evs, k, NULL) != 0)
                    return -1;
            }
        }
        w_sched += mono_s() - ts;
        etude_engine_process(e, PERIOD, mix, NULL);
    }
    out->cpu = cpu_s() - c0;
    out->w_total = mono_s() - w0;
    out->instr = perf_read() - i0;
    out->w_sched = w_sched;
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    etude_engine_destroy(e);
    return st.events_dispatched == n && st.events_late == 0 ? 0 : -1;
}

/* The worst period under a burst: BURST far-future schedules made at once (at pseudo-random frames
 * 10 to 20 s ahead, so the heap they wait in is not fed in order)
 * against a table of that capacity, then the periods that take them in, and, in a second phase,
 * an etude_event_clear() of the full table and the periods that apply it. Each period's cost is the
 * thread's CPU time of its process() call (preemption is not the code's). Returns 0 or -1. */
#define BURST 65536u
static __attribute__((noinline)) int run_burst(double *worst_sched, double *worst_clear)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = PERIOD;
    cfg.event_capacity = BURST;
    cfg.voice_capacity = 1;
    etude_engine_t *e;
    if (etude_engine_create(&cfg, &e) != 0)
        return -1;
    etude_voice_id_t vid;
    if (etude_voice_add(e, &counter_class, NULL, "counter", &vid) != 0)
        return -1;
    static float l[PERIOD], r[PERIOD];
    float *const mix[2] = {l, r};
    etude_engine_process(e, PERIOD, mix, NULL);
    for (int phase = 0; phase < 2; phase++) {
        uint64_t base = etude_engine_now(e) + 10u * RATE;
        uint32_t x = 12345u + (uint32_t)phase;
        for (uint32_t i = 0; i < BURST; i++) {
            x = x * 1103515245u + 12345u;
            etude_event_t ev = {.frame = base + (x >> 8) % (10u * RATE), .voice = vid,
                                .kind = ETUDE_EV_TRIGGER};
            if (etude_event_schedule(e, &ev, NULL) != 0)
                return -1;
        }
        double worst = 0;
        /* phase 0: the periods that take the burst in; phase 1: clear once it is in, then the
         * periods that apply the cancels */
        for (int p = 0; p < 64; p++) {
            if (phase == 1 && p == 32) {
                uint32_t n = 0;
                etude_event_clear(e, &n);
                if (n != BURST)
                    return -1;
            }
            double c0 = cpu_s();
            etude_engine_process(e, PERIOD, mix, NULL);
            double c = cpu_s() - c0;
            if ((phase == 0 || p >= 32) && c > worst)
                worst = c;
        }
        if (phase == 0) {
            *worst_sched = worst;
            g_count = 0;
            while (etude_engine_now(e) < base + 10u * RATE + PERIOD)
                etude_engine_process(e, PERIOD, mix, NULL);
            if (g_count != BURST)
                return -1;
        } else {
            *worst_clear = worst;
        }
    }
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    etude_engine_destroy(e);
    return st.events_pending == 0 && st.events_cancelled == BURST ? 0 : -1;
}

static void fluid_count(unsigned int time, fluid_event_t *event, fluid_sequencer_t *seq, void *data)
{
    (void)time;
    (void)seq;
    (void)data;
    if (fluid_event_get_type(event) == FLUID_SEQ_TIMER) /* not the unregistering call at delete */
        g_count++;
}

static __attribute__((noinline)) int run_fluid(uint64_t n, struct run *out)
{
    fluid_sequencer_t *seq = new_fluid_sequencer2(0);
    if (!seq)
        return -1;
    fluid_sequencer_set_time_scale(seq, RATE);
    fluid_seq_id_t dest = fluid_sequencer_register_client(seq, "counter", fluid_count, NULL);
    fluid_event_t *evt = new_fluid_event();
    fluid_event_set_source(evt, -1);
    fluid_event_set_dest(evt, dest);
    fluid_event_timer(evt, NULL);
    g_count = 0;
    uint64_t sent = 0, frame = 0;
    double w_sched = 0;
    int rc = 0;
    uint64_t i0 = perf_read();
    double c0 = cpu_s(), w0 = mono_s();
    while (g_count < n) {
        uint64_t horizon = frame + LOOKAHEAD;
        double ts = mono_s();
        while (sent < n && sent / PER_FRAME < horizon) {
            if (fluid_sequencer_send_at(seq, evt, (unsigned int)(sent / PER_FRAME), 1) != FLUID_OK) {
                rc = -1;
                break;
            }
            sent++;
        }
        w_sched += mono_s() - ts;
        frame += PERIOD;
        /* msec since start; ticks = msec * 48 */
        fluid_sequencer_process(seq, (unsigned int)(frame * 1000u / RATE));
        if (rc || frame > 4 * (n / PER_FRAME + LOOKAHEAD + PERIOD) + 1000000u)
            break; /* events went missing */
    }
    out->cpu = cpu_s() - c0;
    out->w_total = mono_s() - w0;
    out->instr = perf_read() - i0;
    out->w_sched = w_sched;
    uint64_t got = g_count;
    delete_fluid_event(evt);
    delete_fluid_sequencer(seq);
    return got == n && rc == 0 ? 0 : -1;
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void keep_best(struct run *best, const struct run *r)
{
    if (r->cpu < best->cpu)
        *best = *r;
    /* Instruction counts barely vary; keep the lowest (least disturbed) one. */
    if (r->instr && (!best->instr || r->instr < best->instr))
        best->instr = r->instr;
}

static void print_run(const char *name, const char *sched, const char *disp, const struct run *b,
                      uint64_t n)
{
    double total = b->cpu * 1e9 / (double)n;
    double frac = b->w_total > 0 ? b->w_sched / b->w_total : 0;
    printf("%-34s %7.1f ns/event (%s %.1f + %s %.1f)", name, total, sched, total * frac, disp,
           total * (1 - frac));
    if (b->instr)
        printf(", %.0f instructions/event", (double)b->instr / (double)n);
    printf("\n");
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000u;
    if (n == 0) {
        fprintf(stderr, "bench_events: EVENTS must be a positive number, not '%s'\n", argv[1]);
        return 2;
    }
    perf_open();
    struct run best_e = {.cpu = 1e30}, best_b = {.cpu = 1e30}, best_f = {.cpu = 1e30};
    double burst_sched[ROUNDS], burst_clear[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        struct run re, rb, rf;
        int bad_e = run_etude(n, 0, &re);
        int bad_f = run_fluid(n, &rf);
        int bad_b = run_etude(n, BATCH, &rb);
        if (run_burst(&burst_sched[round], &burst_clear[round]) != 0) {
            fprintf(stderr, "bench_events: the burst run lost events\n");
            return 1;
        }
        if (bad_e || bad_b || bad_f) {
            fprintf(stderr, "bench_events: %s lost events\n",
                    bad_e ? "etude" : bad_b ? "etude (batched)" : "FluidSynth");
            return 1;
        }
        printf("round %d: etude %.1f ns/event, etude batched %.1f, FluidSynth sequencer %.1f\n",
               round + 1, re.cpu * 1e9 / (double)n, rb.cpu * 1e9 / (double)n,
               rf.cpu * 1e9 / (double)n);
        keep_best(&best_e, &re);
        keep_best(&best_b, &rb);
        keep_best(&best_f, &rf);
    }
    printf("events: %llu, scheduled %u frames ahead, %u-frame periods, %u events per frame; "
           "thread CPU time, best of %d\n",
           (unsigned long long)n, LOOKAHEAD, PERIOD, PER_FRAME, ROUNDS);
    print_run("etude, one schedule() per event:", "schedule", "dispatch", &best_e, n);
    char name[64];
    snprintf(name, sizeof name, "etude, schedule_many() by %u:", BATCH);
    print_run(name, "schedule", "dispatch", &best_b, n);
    print_run("FluidSynth sequencer:", "send_at", "process", &best_f, n);
    if (g_perf_fd < 0)
        printf("instructions/event: not counted here (%s)\n", g_perf_why);
    else if (best_e.instr && best_f.instr)
        printf("instruction ratio (FluidSynth / etude): %.1fx one by one, %.1fx batched\n",
               (double)best_f.instr / (double)best_e.instr,
               (double)best_f.instr / (double)best_b.instr);
    double r1 = best_f.cpu / best_e.cpu, rb = best_f.cpu / best_b.cpu;
    printf("ratio (FluidSynth / etude), one schedule() per event: %.1fx %s\n", r1,
           r1 >= 10.0 ? "(aim >= 10x: met)" : "(aim >= 10x: NOT met)");
    printf("ratio (FluidSynth / etude), schedule_many() by %u:    %.1fx %s\n", BATCH, rb,
           rb >= 10.0 ? "(aim >= 10x: met)" : "(aim >= 10x: NOT met)");
    /* The median over the rounds of each round's worst period: one preempted or cache-cold round on
     * this shared machine does not make the figure. */
    double period_s = (double)PERIOD / RATE;
    double ms = median(burst_sched, ROUNDS), mc = median(burst_clear, ROUNDS);
    printf("worst period under a %u-event burst: %.0f us = %.2f of the period (%u frames, %.0f us; "
           "median over %d rounds of each round's worst; aim <= 0.5: %s)\n",
           BURST, ms * 1e6, ms / period_s, PERIOD, period_s * 1e6, ROUNDS,
           ms / period_s <= 0.5 ? "met" : "NOT met");
    printf("worst period applying etude_event_clear() of %u events: %.0f us = %.2f of the period\n",
           BURST, mc * 1e6, mc / period_s);
    if (g_perf_fd >= 0)
        close(g_perf_fd);
    return 0;
}
