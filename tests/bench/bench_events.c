/* bench_events.c - benchmark: schedule and dispatch 10^6 events through etude's event table and
 * through FluidSynth's sequencer in the same run, and print ns/event for both and their ratio.
 *
 * Both run the same load: events at 4 per frame (48 kHz), scheduled 8192 frames (171 ms, within
 * the sequencer's 100-200 ms lookahead) ahead of 256-frame periods, each delivered to a callback
 * that counts it. Ours goes through
 * etude_event_schedule() and etude_engine_process() (one voice, silent render); FluidSynth's
 * through fluid_sequencer_send_at() and fluid_sequencer_process() with a client callback
 * (new_fluid_sequencer2(0), time scale 48000 ticks/s so one tick is one frame).
 * Times are the thread's CPU time (best of 5 rounds), so other load on the machine counts less.
 * Usage: bench_events [EVENTS] (default 1000000). Exits non-zero only if an event goes missing.
 */
#include <fluidsynth.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "etude_engine.h"

#define RATE 48000u
#define PERIOD 256u
#define LOOKAHEAD 8192u /* 171 ms at 48 kHz: the sequencer's lookahead (100-200 ms) */
#define PER_FRAME 4u
#define ROUNDS 5

/* Thread CPU time: the machine is shared, and time spent preempted is not the code's. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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

/* Returns seconds, or a negative value on failure. */
static double run_etude(uint64_t n, double *sched_s)
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
    float *const mix[2] = {l, r};
    etude_engine_process(e, PERIOD, mix, NULL);
    uint64_t base = etude_engine_now(e);
    g_count = 0;
    uint64_t sent = 0;
    double in_sched = 0;
    double t0 = now_s();
    while (g_count < n) {
        uint64_t horizon = etude_engine_now(e) + LOOKAHEAD;
        double ts = now_s();
        while (sent < n && base + sent / PER_FRAME < horizon) {
            etude_event_t ev = {.frame = base + sent / PER_FRAME, .voice = vid, .kind = ETUDE_EV_TRIGGER};
            ev.u.i64[0] = (int64_t)sent;
            if (etude_event_schedule(e, &ev, NULL) != 0)
                return -1;
            sent++;
        }
        in_sched += now_s() - ts;
        etude_engine_process(e, PERIOD, mix, NULL);
    }
    double t = now_s() - t0;
    etude_engine_stats_t st;
    etude_engine_stats(e, &st);
    etude_engine_destroy(e);
    if (st.events_dispatched != n || st.events_late != 0)
        return -1;
    *sched_s = in_sched;
    return t;
}

static void fluid_count(unsigned int time, fluid_event_t *event, fluid_sequencer_t *seq, void *data)
{
    (void)time;
    (void)seq;
    (void)data;
    if (fluid_event_get_type(event) == FLUID_SEQ_TIMER) /* not the unregistering call at delete */
        g_count++;
}

static double run_fluid(uint64_t n, double *sched_s)
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
    double in_sched = 0;
    double t0 = now_s();
    while (g_count < n) {
        uint64_t horizon = frame + LOOKAHEAD;
        double ts = now_s();
        while (sent < n && sent / PER_FRAME < horizon) {
            if (fluid_sequencer_send_at(seq, evt, (unsigned int)(sent / PER_FRAME), 1) != FLUID_OK)
                return -1;
            sent++;
        }
        in_sched += now_s() - ts;
        frame += PERIOD;
        /* msec since start; ticks = msec * 48 */
        fluid_sequencer_process(seq, (unsigned int)(frame * 1000u / RATE));
        if (frame > 4 * (n / PER_FRAME + LOOKAHEAD + PERIOD) + 1000000u)
            break; /* events went missing */
    }
    double t = now_s() - t0;
    uint64_t got = g_count;
    delete_fluid_event(evt);
    delete_fluid_sequencer(seq);
    if (got != n)
        return -1;
    *sched_s = in_sched;
    return t;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000u;
    if (n == 0) {
        fprintf(stderr, "bench_events: EVENTS must be a positive number, not '%s'\n", argv[1]);
        return 2;
    }
    double best_e = 1e30, best_f = 1e30, sched_e = 0, sched_f = 0;
    for (int round = 0; round < ROUNDS; round++) {
        double se = 0, sf = 0;
        double te = run_etude(n, &se);
        double tf = run_fluid(n, &sf);
        if (te < 0 || tf < 0) {
            fprintf(stderr, "bench_events: %s lost events\n", te < 0 ? "etude" : "FluidSynth");
            return 1;
        }
        printf("round %d: etude %.1f ns/event (schedule %.1f), FluidSynth sequencer %.1f ns/event "
               "(send_at %.1f)\n",
               round + 1, te * 1e9 / (double)n, se * 1e9 / (double)n, tf * 1e9 / (double)n,
               sf * 1e9 / (double)n);
        if (te < best_e) {
            best_e = te;
            sched_e = se;
        }
        if (tf < best_f) {
            best_f = tf;
            sched_f = sf;
        }
    }
    printf("events: %llu, scheduled %u frames ahead, %u-frame periods, %u events per frame\n",
           (unsigned long long)n, LOOKAHEAD, PERIOD, PER_FRAME);
    printf("etude event table:    %8.1f ns/event (schedule %.1f + dispatch %.1f), best of %d\n",
           best_e * 1e9 / (double)n, sched_e * 1e9 / (double)n, (best_e - sched_e) * 1e9 / (double)n,
           ROUNDS);
    printf("FluidSynth sequencer: %8.1f ns/event (send_at %.1f + process %.1f), best of %d\n",
           best_f * 1e9 / (double)n, sched_f * 1e9 / (double)n, (best_f - sched_f) * 1e9 / (double)n,
           ROUNDS);
    printf("ratio (FluidSynth / etude): %.1fx %s\n", best_f / best_e,
           best_f / best_e >= 10.0 ? "(aim >= 10x: met)" : "(aim >= 10x: NOT met)");
    return 0;
}
