/* cmd_play.c - `etude play`: the live front end of the player (app/etude_player.h) as a JACK client:
 * flags in, the JACK client, engine, player, recorder and OSC server set up, the control loop
 * ticking them, and the report out. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cli_osc.h"
#include "etude_bus.h"
#include "etude_engine.h"
#include "etude_fluid.h"
#include "etude_jack.h"
#include "etude_player.h"
#include "etude_recorder.h"
#include "etude_timing.h"

const char etude_cmd_play_usage[] =
    "  play   (PRESET | FILE.mid | MAP | --tempo-map FILE | --click \"BARS METER TEMPO[-TEMPO2] [PATTERN]\")\n"
    "         [--name CLIENT] [--connect PORT...] [--transport follow|master|off] [--osc PORT]\n"
    "         [--soundfont FILE.sf2] [--tempo-scale X] [--mute PART] [--solo PART] [--gain PART=DB]\n"
    "         [--count-in BARS] [--loop A-B [--loops N]] [--start BAR|LABEL] [--trainer START:STEP:EVERY:TARGET]\n";

#define MAX_CONNECT 16

typedef struct play_args {
    const char *preset_path, *map_path, *click_line, *client_name, *osc_port, *soundfont;
    const char *connect[MAX_CONNECT];
    size_t nconnect;
    int mode;
} play_args_t;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void bus_log_cb(void *user, const etude_bus_msg_t *m)
{
    FILE *f = user;
    fprintf(f, "{\"topic\":\"%s\",\"name\":\"%s\",\"payload\":%s}\n", m->topic, m->name, m->json ? m->json : "{}");
    fflush(f);
}

static const char *mode_name(int mode)
{
    return mode == ETUDE_JACK_TRANSPORT_FOLLOW ? "follow" : mode == ETUDE_JACK_TRANSPORT_MASTER ? "master" : "off";
}

static void print_report(etude_player_t *pl, etude_jack_t *jack, uint32_t rate, const char *reason)
{
    etude_jack_timing_t t;
    etude_jack_timing(jack, &t);
    etude_jack_status_t st;
    etude_jack_status(jack, &st);
    etude_timing_result_t r;
    etude_player_timing_result(pl, &r);
    uint64_t frames = etude_player_frames_played(pl);
    printf("etude: stopped (%s) after %.3f s played (%llu frames)\n", reason, (double)frames / rate,
           (unsigned long long)frames);
    printf("callback: %llu periods of %u frames (%.1f us): mean %.1f us (%.1f%%), p99 %.1f us (%.1f%%), "
           "max %.1f us (%.1f%%)\n",
           (unsigned long long)t.periods, st.buffer_size, t.period_us, t.mean_us, 100 * t.mean_share,
           t.p99_us, 100 * t.p99_share, t.max_us, 100 * t.max_share);
    printf("xruns: %llu\n", (unsigned long long)etude_player_xruns(pl)); /* up to the stop, as published */
    printf("timing: %llu notes, mean %+.3f ms, sd %.3f ms, within 10 ms %.1f%%, within 25 ms %.1f%%\n",
           (unsigned long long)r.notes, r.mean_ms, r.sd_ms, 100 * r.within_10ms, 100 * r.within_25ms);
    char json[1024];
    etude_player_timing_json(pl, json, sizeof json);
    printf("timing-json: %s\n", json);
    fflush(stdout);
}

/* ---------------------------------------------------------------------------------------------
 * Arguments. */

static void help(FILE *f)
{
    fprintf(f, "usage: etude play (PRESET | FILE.mid | MAP | --tempo-map FILE | --click \"BARS METER TEMPO[-TEMPO2] [PATTERN]\")\n"
               "                  [--name CLIENT] [--connect PORT...] [--transport follow|master|off]\n"
               "                  [--osc PORT] [--soundfont FILE.sf2] [--plugin-path DIR] [--no-session]\n"
               "                  [--tempo-scale X] [--mute PART] [--solo PART] [--gain PART=DB]\n"
               "                  [--count-in BARS] [--loop A-B [--loops N]] [--start BAR|LABEL]\n"
               "                  [--trainer START:STEP:EVERY:TARGET]\n"
               "Practice flags apply over the material and override a preset: --tempo-scale plays every tempo\n"
               "times X (0.1 .. 4, like klick -x), --mute/--solo a voice or part (repeatable), --gain PART=DB;\n"
               "--count-in BARS (0 .. 16 bars of click at the tempo and meter of the first bar played);\n"
               "--loop A-B (bars, 1-based, B included; or a tempo map's labels: 'chorus' is its section,\n"
               "  'verse-chorus' from one to the other), played for ever unless --loops N passes;\n"
               "--start BAR|LABEL (the first pass starts there, like klick -l);\n"
               "--trainer START:STEP:EVERY:TARGET (from START bpm at the loop's first bar, STEP bpm faster every\n"
               "  EVERY passes, up to TARGET, then stop: e.g. --loop 1-4 --trainer 60:5:2:80). See docs/practice.md.\n"
               "PRESET is a preset file or a name 'etude presets' lists; FILE.mid plays one FluidSynth voice\n"
               "per part (on the default SoundFont, or --soundfont); MAP is a klick tempo map file.\n"
               "Plays live as a JACK client (one output port per voice, mix_L/mix_R, midi_in).\n"
               "Never starts a JACK server. SIGINT/SIGTERM stop cleanly. See docs/jack.md.\n");
}

static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "etude play: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'etude play --help')\n");
    va_end(ap);
    return 2;
}

static int parse_args(play_args_t *p, int argc, char **argv)
{
    p->mode = ETUDE_JACK_TRANSPORT_OFF;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return 1;
        } else if (!strcmp(a, "--tempo-map") || !strcmp(a, "--click") || !strcmp(a, "--name") ||
                   !strcmp(a, "--transport") || !strcmp(a, "--osc") || !strcmp(a, "--soundfont")) {
            if (!next)
                return bad("%s needs a value", a);
            i++;
            if (!strcmp(a, "--soundfont"))
                p->soundfont = next;
            else if (!strcmp(a, "--tempo-map"))
                p->map_path = next;
            else if (!strcmp(a, "--click"))
                p->click_line = next;
            else if (!strcmp(a, "--name")) {
                if (!*next || strlen(next) > 63)
                    return bad("--name '%s': expected 1 to 63 characters", next);
                p->client_name = next;
            } else if (!strcmp(a, "--osc")) {
                char *end;
                long port = strtol(next, &end, 10);
                if (*end || port < 0 || port > 65535 || !*next)
                    return bad("--osc '%s': expected a UDP port number 0..65535", next);
                p->osc_port = next;
            } else if (!strcmp(next, "follow"))
                p->mode = ETUDE_JACK_TRANSPORT_FOLLOW;
            else if (!strcmp(next, "master"))
                p->mode = ETUDE_JACK_TRANSPORT_MASTER;
            else if (!strcmp(next, "off"))
                p->mode = ETUDE_JACK_TRANSPORT_OFF;
            else
                return bad("--transport '%s': expected follow, master or off", next);
        } else if (!strcmp(a, "--connect")) {
            if (!next || next[0] == '-')
                return bad("--connect needs at least one JACK port (client:port)");
            while (i + 1 < argc && argv[i + 1][0] != '-' && strchr(argv[i + 1], ':')) {
                if (p->nconnect == MAX_CONNECT)
                    return bad("--connect: at most %d ports", MAX_CONNECT);
                p->connect[p->nconnect++] = argv[++i];
            }
            if (p->nconnect == 0)
                return bad("--connect '%s': expected a JACK port name such as system:playback_1", next);
        } else if (a[0] == '-' && a[1]) {
            return bad("unknown option '%s'", a);
        } else {
            if (p->preset_path)
                return bad("more than one preset ('%s' and '%s')", p->preset_path, a);
            p->preset_path = a;
        }
    }
    int sources = (p->preset_path != NULL) + (p->map_path != NULL) + (p->click_line != NULL);
    if (sources != 1)
        return bad(sources ? "give only one of PRESET.json, --tempo-map and --click"
                           : "nothing to play: give PRESET.json, --tempo-map FILE or --click \"...\"");
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Main. */

int etude_cmd_play(int argc, char **argv)
{
    play_args_t args;
    memset(&args, 0, sizeof args);
    etude_recorder_opts_t so;
    if (cli_recorder_args(&argc, argv, &so))
        return 2;
    cli_practice_t practice;
    if (cli_practice_args("play", &argc, argv, &practice))
        return 2;
    int rc = parse_args(&args, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    char found[4400];
    if (args.preset_path && !(args.preset_path = cli_preset_path("play", args.preset_path, found, sizeof found)))
        return 1;

    char err[1024] = "";
    int exit_code = 1;
    etude_jack_t *jack = NULL;
    etude_engine_t *engine = NULL;
    etude_bus_t *bus = NULL;
    etude_player_t *pl = NULL;
    etude_recorder_t *rec = NULL;
    etude_osc_t *osc = NULL;
    FILE *bus_log = NULL;

    /* the material first: a bad preset is reported without touching JACK */
    etude_preset_t *preset = NULL;
    if (args.soundfont && etude_fluid_check_soundfont(args.soundfont, err, sizeof err) < 0) {
        fprintf(stderr, "etude play: --soundfont %s: %s\n", args.soundfont, err);
        return 2;
    }
    etude_player_material_t m = {args.preset_path, args.map_path, args.click_line, args.soundfont};
    if (etude_player_material_preset(&m, &preset, err, sizeof err) < 0 ||
        etude_preset_check_realtime(preset, err, sizeof err) < 0) {
        etude_preset_destroy(preset);
        fprintf(stderr, "etude: %s\n", err);
        return 1;
    }
    etude_jack_config_t jc = {
        .client_name = args.client_name ? args.client_name : "etude",
        .transport = args.mode,
        .midi_input = true,
    };
    if (etude_jack_open(&jc, &jack, err, sizeof err) < 0) {
        fprintf(stderr, "etude: %s\n", err);
        etude_preset_destroy(preset);
        return 1;
    }
    uint32_t rate = etude_jack_sample_rate(jack);
    etude_engine_config_t ecfg;
    etude_engine_config_default(&ecfg, rate);
    if ((rc = etude_engine_create(&ecfg, &engine)) < 0 || !(bus = etude_bus_create())) {
        fprintf(stderr, "etude: cannot set up the engine: %s\n", etude_strerror(rc < 0 ? rc : ETUDE_ENOMEM));
        etude_preset_destroy(preset);
        goto out;
    }
    etude_engine_set_bus(engine, bus);
    const char *log_path = getenv("ETUDE_BUS_LOG");
    if (log_path && *log_path) {
        bus_log = fopen(log_path, "w");
        if (!bus_log) {
            fprintf(stderr, "etude: ETUDE_BUS_LOG=%s: cannot open: %s\n", log_path, strerror(errno));
            etude_preset_destroy(preset);
            goto out;
        }
        etude_bus_subscribe(bus, "*", bus_log_cb, bus_log, bus_log);
    }
    if (etude_jack_attach(jack, engine, ecfg.voice_capacity, err, sizeof err) < 0) {
        fprintf(stderr, "etude: %s\n", err);
        etude_preset_destroy(preset);
        goto out;
    }
    etude_player_config_t pc = {.engine = engine, .jack = jack, .bus = bus, .transport = args.mode, .command = "play"};
    if ((rc = etude_player_create(&pc, &pl)) < 0) {
        fprintf(stderr, "etude: cannot set up the player: %s\n", etude_strerror(rc));
        etude_preset_destroy(preset);
        goto out;
    }
    rc = etude_player_load_preset(pl, preset, args.preset_path ? args.preset_path : args.map_path, NULL, err,
                                  sizeof err);
    if (rc < 0) {
        fprintf(stderr, "etude: %s\n", err);
        goto out;
    }
    if (cli_practice_apply("play", &practice, pl)) {
        exit_code = 2;
        goto out;
    }
    if (args.osc_port && etude_osc_create(args.osc_port, pl, &osc, err, sizeof err) < 0) {
        fprintf(stderr, "etude: %s\n", err);
        goto out;
    }
    if (etude_recorder_open(bus, "play", &so, &rec, err, sizeof err) < 0) {
        fprintf(stderr, "etude play: %s\n", err);
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (etude_jack_activate(jack, err, sizeof err) < 0 ||
        (args.nconnect && etude_jack_connect_mix(jack, args.connect, args.nconnect, err, sizeof err) < 0)) {
        fprintf(stderr, "etude: %s\n", err);
        goto out;
    }
    fprintf(stderr, "etude: playing %s as JACK client '%s' (%u Hz, %u frames, transport %s)\n",
            args.click_line ? args.click_line : args.map_path ? args.map_path
                                                              : etude_preset_title(etude_player_preset(pl)),
            etude_jack_client_name(jack), rate, etude_jack_buffer_size(jack), mode_name(args.mode));
    if (osc)
        fprintf(stderr, "etude: OSC on UDP port %d\n", etude_osc_port(osc));

    if (args.mode == ETUDE_JACK_TRANSPORT_OFF) {
        if (etude_player_start(pl, err, sizeof err) < 0) {
            fprintf(stderr, "etude: cannot start: %s\n", err);
            goto out;
        }
    } else if (args.mode == ETUDE_JACK_TRANSPORT_MASTER) {
        etude_jack_transport_locate(jack, 0);
        etude_jack_transport_start(jack);
    }
    const char *reason = "stopped";
    while (!etude_player_done(pl, &reason)) {
        if (got_signal) {
            etude_player_quit(pl, "signal");
            break;
        }
        int wait_ms = etude_player_tick(pl);
        etude_recorder_tick(rec);
        if (etude_player_done(pl, &reason))
            break;
        /* a signal interrupts either wait (no SA_RESTART), an OSC datagram ends the poll */
        if (osc)
            etude_osc_poll(osc, wait_ms);
        else if (wait_ms > 0)
            sleep_ms(wait_ms);
    }
    etude_player_done(pl, &reason);
    if (etude_player_message(pl)[0])
        fprintf(stderr, "etude: %s\n", etude_player_message(pl));
    exit_code = !strcmp(reason, "error") || !strcmp(reason, "server-gone") ? 1 : 0;
    etude_player_finish(pl, reason);
    print_report(pl, jack, rate, reason);

out:
    etude_recorder_close(rec);
    etude_osc_destroy(osc);
    etude_player_destroy(pl); /* its sequencers: no events scheduled from here on */
    if (engine && jack) {
        etude_jack_status_t st;
        etude_jack_status(jack, &st);
        if (!st.shutdown) /* let the audio thread fade the voices out */
            etude_engine_dispose_all(engine, 500);
    }
    etude_jack_close(jack); /* the audio thread stops here */
    etude_engine_destroy(engine);
    if (bus) {
        etude_bus_unsubscribe_owner(bus, bus_log);
        etude_bus_destroy(bus);
    }
    if (bus_log)
        fclose(bus_log);
    return exit_code;
}
