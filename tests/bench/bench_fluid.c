/* bench_fluid.c - FluidSynth through etude against FluidSynth's own renderer, and the number of
 * FluidSynth voices etude sustains at a 64-frame period.
 *
 *   bench_fluid ETUDE MKCHORALE [MINUTES]
 *
 * 1. Writes a MINUTES-long (default 10) four-track MIDI file with mkchorale, renders it with
 *    `etude render` (one midi voice with every part, so one synth like FluidSynth's) and with
 *    `fluidsynth -F out.wav -r RATE -i -n SF2 MID`, same SoundFont and rate (and, like fluidsynth's
 *    defaults, reverb and chorus on), and prints both wall times and the ratio; then the same with
 *    one etude voice per track (four synths).
 * 2. In an engine at 48000 Hz, holds more and more notes on a FluidSynth voice and times
 *    etude_engine_process() of 64 frames (median over 400 periods): prints the largest number of
 *    sounding FluidSynth voices whose median period time stays under half the period (667 us).
 * Figures only: no pass/fail on timing (machines are shared); it fails only if a render fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "etude_engine.h"
#include "etude_fluid.h"

#define RATE 48000u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double last_cpu; /* CPU seconds (user + system) of the last timed() command */

static double timed(const char *cmd)
{
    fflush(stdout);
    double t0 = now_s(), c0 = children_cpu();
    int rc = system(cmd);
    double t = now_s() - t0;
    last_cpu = children_cpu() - c0;
    if (rc != 0) {
        fprintf(stderr, "bench_fluid: failed (%d): %s\n", rc, cmd);
        exit(1);
    }
    return t;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median time of one 64-frame process() with `notes` held notes (the voice's defaults: effects off,
 * as live); *voices gets FluidSynth's count. */
static double period_time(int notes, int *voices)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, RATE);
    cfg.max_period = 64;
    etude_engine_t *e = NULL;
    if (etude_engine_create(&cfg, &e))
        exit(1);
    etude_fluid_config_t fc;
    etude_fluid_config_default(&fc);
    fc.program = 48; /* strings: sustained, looped samples */
    fc.polyphony = 4096;
    fc.effects = false; /* the default: nothing allocates on the audio path */
    etude_fluid_t *f = etude_fluid_create(&fc);
    etude_voice_id_t v;
    if (etude_voice_add(e, &etude_fluid_class, f, "bench", &v)) {
        fprintf(stderr, "bench_fluid: %s\n", etude_fluid_error(f));
        exit(1);
    }
    for (int i = 0; i < notes; i++) {
        etude_event_t ev = {.frame = 64 + (uint64_t)(i / 64), .voice = v, .kind = ETUDE_EV_NOTE_ON};
        ev.u.note.channel = (uint8_t)(i % 16 == 9 ? 0 : i % 16);
        ev.u.note.key = (uint8_t)(24 + i % 84);
        ev.u.note.velocity = 100;
        if (etude_event_schedule(e, &ev, NULL))
            exit(1);
    }
    float l[64], r[64];
    float *const mix[2] = {l, r};
    for (int i = 0; i < 200; i++) { /* all notes started, attacks settled */
        etude_engine_process(e, 64, mix, NULL);
        etude_engine_tick(e);
    }
    enum { N = 400 };
    double t[N];
    for (int i = 0; i < N; i++) {
        double t0 = now_s();
        etude_engine_process(e, 64, mix, NULL);
        t[i] = now_s() - t0;
        etude_engine_tick(e);
    }
    *voices = etude_fluid_active_voices(f);
    qsort(t, N, sizeof *t, cmp_d);
    etude_engine_destroy(e);
    return t[N / 2];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_fluid ETUDE MKCHORALE [MINUTES]\n");
        return 2;
    }
    char etude[4096], mk[4096];
    if (!realpath(argv[1], etude) || !realpath(argv[2], mk)) {
        fprintf(stderr, "bench_fluid: cannot find %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    double minutes = argc > 3 ? atof(argv[3]) : 10;
    if (!(minutes > 0 && minutes <= 600)) {
        fprintf(stderr, "bench_fluid: MINUTES must be from 0 to 600\n");
        return 2;
    }
    const char *sf = etude_fluid_default_soundfont();
    if (!sf) {
        fprintf(stderr, "bench_fluid: no SoundFont installed\n");
        return 1;
    }
    char dir[] = "/tmp/etude-bench-fluid-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char cmd[12288], path[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s/long.mid' --minutes %g", mk, dir, minutes);
    timed(cmd);
    snprintf(path, sizeof path, "%s/one.json", dir);
    FILE *p = fopen(path, "w");
    fprintf(p, "{\"title\": \"bench\", \"voices\": [{\"kind\": \"midi\", \"file\": \"long.mid\", \"soundfont\": \"%s\", \"effects\": true}]}\n", sf);
    fclose(p);
    snprintf(path, sizeof path, "%s/four.json", dir);
    p = fopen(path, "w");
    fprintf(p, "{\"title\": \"bench\", \"voices\": [{\"kind\": \"practice\", \"midi\": \"long.mid\", \"beats\": false}");
    for (int i = 1; i <= 4; i++)
        fprintf(p, ", {\"kind\": \"midi\", \"name\": \"v%d\", \"file\": \"long.mid\", \"part\": %d, \"soundfont\": \"%s\", \"effects\": true}", i, i, sf);
    fprintf(p, "]}\n");
    fclose(p);

    printf("bench_fluid: %.1f-minute four-track MIDI file (mkchorale --minutes %g)%s, %s, %u Hz\n", minutes, minutes,
           minutes < 10 ? " [shortened: the full benchmark is 10 minutes]" : "", sf, RATE);
    snprintf(cmd, sizeof cmd, "cd %s && fluidsynth -F fs.wav -r %u -i -n '%s' long.mid >/dev/null 2>&1", dir, RATE, sf);
    double t_fs = timed(cmd), c_fs = last_cpu;
    snprintf(cmd, sizeof cmd, "cd %s && ETUDE_HOME=%s/home '%s' render one.json -o etude1.wav --rate %u --no-session >/dev/null",
             dir, dir, etude, RATE);
    double t_one = timed(cmd), c_one = last_cpu;
    snprintf(cmd, sizeof cmd, "cd %s && ETUDE_HOME=%s/home '%s' render four.json -o etude4.wav --rate %u --no-session >/dev/null",
             dir, dir, etude, RATE);
    double t_four = timed(cmd), c_four = last_cpu;
    printf("  %-36s %8s %8s %12s %11s\n", "", "wall s", "cpu s", "wall ratio", "cpu ratio");
    printf("  %-36s %8.2f %8.2f\n", "fluidsynth -F", t_fs, c_fs);
    printf("  %-36s %8.2f %8.2f %12.3f %11.3f   (aim <= 1.10)\n", "etude render, one voice (1 synth)", t_one, c_one,
           t_one / t_fs, c_one / c_fs);
    printf("  %-36s %8.2f %8.2f %12.3f %11.3f   (4x reverb and chorus)\n", "etude render, 4 voices (4 synths)", t_four,
           c_four, t_four / t_fs, c_four / c_fs);

    /* Voices at a 64-frame period: double the held notes until over budget, then bisect. */
    const double budget = 0.5 * 64.0 / RATE;
    int lo = 0, hi = 16, lo_voices = 0, v = 0;
    double lo_t = 0, t;
    fflush(stdout);
    printf("  64-frame period = %.0f us, budget (half) = %.0f us; median process() time per period:\n",
           64e6 / RATE, budget * 1e6);
    for (;;) {
        t = period_time(hi, &v);
        printf("    %5d notes, %5d FluidSynth voices: %7.1f us\n", hi, v, t * 1e6);
        if (t > budget || hi >= 4096)
            break;
        lo = hi, lo_t = t, lo_voices = v;
        hi *= 2;
    }
    while (hi - lo > 8 && t > budget) {
        int mid = (lo + hi) / 2;
        double tm = period_time(mid, &v);
        printf("    %5d notes, %5d FluidSynth voices: %7.1f us\n", mid, v, tm * 1e6);
        if (tm > budget)
            hi = mid;
        else
            lo = mid, lo_t = tm, lo_voices = v;
    }
    printf("  sustained at a 64-frame period within half the period: %d FluidSynth voices (%d notes, %.1f us)\n",
           lo_voices, lo, lo_t * 1e6);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
