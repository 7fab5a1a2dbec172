/* cmd_render.c - `etude render`: the offline front end of the player (app/etude_player.h): plays a
 * preset, tempo map or click line through the engine with the offline driver and writes the mix to a
 * WAV or FLAC file (temp file + rename: never half-written). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "cli_args.h"
#include "cli_sparse.h"
#include "etude_bus.h"
#include "etude_engine.h"
#include "etude_fluid.h"
#include "etude_offline.h"
#include "etude_player.h"
#include "etude_preset.h"
#include "etude_recorder.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"

const char etude_cmd_render_usage[] =
    "  render (PRESET | FILE.mid | MAP | --tempo-map FILE | --click \"BARS METER TEMPO[-TEMPO2] [PATTERN]\")\n"
    "         -o OUT.(wav|flac) [--rate HZ] [--duration SECONDS] [--format float|pcm24|pcm16]\n"
    "         [--soundfont FILE.sf2] [--tempo-scale X] [--mute PART] [--solo PART] [--gain PART=DB]\n"
    "         [--count-in BARS] [--loop A-B [--loops N]] [--start BAR|LABEL] [--trainer START:STEP:EVERY:TARGET]\n";

#define RENDER_PERIOD 512
#define DEFAULT_RATE 48000
#define OUT_BUFFER_FRAMES 32768

static volatile sig_atomic_t render_signal;

static void on_signal(int sig)
{
    render_signal = sig;
}

static struct sigaction old_int, old_term;

/* From the moment the temp file exists until it is renamed or removed, SIGINT and SIGTERM end the
 * render cleanly (a background job starts with SIGINT ignored: it is caught here too). */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

static void restore_signals(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

typedef struct render {
    const char *out_path;
    char *tmp_path;
    SNDFILE *snd;
    float *inter;
    etude_player_t *player;
    uint32_t rate;
    uint64_t done;       /* frames rendered */
    uint32_t buffered;   /* frames in inter not yet written */
    bool show_progress;
    bool progress_drawn;
    int write_error;
    cli_sparse_t io; /* the output's virtual I/O (silence left as holes) */
    int fd;
} render_t;

static int usage_error(const char *fmt, const char *a)
{
    fprintf(stderr, "etude render: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 2;
}

/* Write what is buffered (libsndfile writes in small pieces; batching saves most system calls). */
static int flush_output(render_t *r)
{
    if (r->buffered && sf_writef_float(r->snd, r->inter, r->buffered) != (sf_count_t)r->buffered) {
        r->write_error = 1;
        return 1;
    }
    r->buffered = 0;
    return 0;
}

static int write_period(void *user, const float *const mix[2], uint32_t n)
{
    render_t *r = user;
    if (r->buffered + n > OUT_BUFFER_FRAMES && flush_output(r))
        return 1;
    float *o = r->inter + 2 * (size_t)r->buffered;
    for (uint32_t i = 0; i < n; i++) {
        o[2 * i] = mix[0][i];
        o[2 * i + 1] = mix[1][i];
    }
    r->buffered += n;
    r->done += n;
    etude_player_report(r->player);
    return render_signal ? 2 : 0;
}

static void progress(void *user, uint64_t done, uint64_t total)
{
    render_t *r = user;
    if (!r->show_progress || total == 0)
        return;
    int width = 40, fill = (int)(done * (uint64_t)width / total);
    if (fill > width)
        fill = width;
    char bar[64];
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(width - fill));
    bar[width] = 0;
    double s = (double)done / r->rate, t = (double)total / r->rate;
    fprintf(stderr, "\r[%s] %3d%% %d:%02d / %d:%02d", bar, (int)(done * 100 / total), (int)s / 60,
            (int)s % 60, (int)t / 60, (int)t % 60);
    r->progress_drawn = true;
}

/* Positive number with strtod, whole string. */
static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!s[0] || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int format_of(const char *path, const char *sample_format, int *format, char *err, size_t errsize)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) {
        snprintf(err, errsize, "-o '%s': no file extension (expected .wav or .flac)", path);
        return -1;
    }
    bool flac = !strcasecmp(dot, ".flac");
    if (!flac && strcasecmp(dot, ".wav")) {
        snprintf(err, errsize, "-o '%s': unknown output format '%s' (expected .wav or .flac)", path, dot);
        return -1;
    }
    const char *sf = sample_format && sample_format[0] ? sample_format : (flac ? "pcm24" : "float");
    int sub = !strcmp(sf, "pcm16") ? SF_FORMAT_PCM_16 : !strcmp(sf, "pcm24") ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT;
    if (flac && sub == SF_FORMAT_FLOAT) {
        snprintf(err, errsize, "-o '%s': FLAC holds integer samples (use --format pcm24 or pcm16)", path);
        return -1;
    }
    *format = (flac ? SF_FORMAT_FLAC : SF_FORMAT_WAV) | sub;
    return 0;
}

int etude_cmd_render(int argc, char **argv)
{
    const char *preset_path = NULL, *map_path = NULL, *click_line = NULL, *out = NULL;
    const char *rate_arg = NULL, *dur_arg = NULL, *fmt_arg = NULL, *sf_arg = NULL;
    etude_recorder_opts_t session_opts;
    if (cli_recorder_args(&argc, argv, &session_opts))
        return 2;
    cli_practice_t practice;
    if (cli_practice_args("render", &argc, argv, &practice))
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        const char *name = a, *eq = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: etude %s", etude_cmd_render_usage + 2);
            printf("\nRenders practice material offline, through the same engine as live playback: a preset\n"
                   "(a file, or a name 'etude presets' lists), a MIDI file (one FluidSynth voice per part, on\n"
                   "the default SoundFont or --soundfont), or a klick tempo map (a file, --tempo-map or --click).\n"
                   ".wav is 32-bit float unless --format says otherwise; .flac is\n"
                   "24-bit. The file appears only when the render has succeeded.\n"
                   "Practice flags over any material (overriding a preset): --tempo-scale X (0.1 .. 4, like klick -x),\n"
                   "--mute PART, --solo PART (repeatable), --gain PART=DB;\n"
                   "--count-in BARS (0 .. 16 bars of click at the tempo and meter of the first bar played);\n"
                   "--loop A-B (bars, 1-based, B included; or a tempo map's labels: 'chorus' is its section,\n"
                   "  'verse-chorus' from one to the other) with --loops N passes (default 1 on render; 0 = for\n"
                   "  ever, which needs --duration); --start BAR|LABEL (the first pass starts there, like klick -l);\n"
                   "--trainer START:STEP:EVERY:TARGET (from START bpm at the loop's first bar, STEP bpm faster every\n"
                   "  EVERY passes, up to TARGET: e.g. --loop 1-4 --trainer 60:5:2:80). See docs/practice.md.\n"
                   "Session recording: --no-session, --plugin-path DIR|FILE[:...] (docs/plugins.md).\n");
            return 0;
        }
        if (a[0] == '-' && a[1] == '-' && (eq = strchr(a, '='))) {
            static char flag[64];
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            name = flag;
        }
        if (!strcmp(name, "-o") || !strcmp(name, "--output"))
            slot = &out;
        else if (!strcmp(name, "--rate"))
            slot = &rate_arg;
        else if (!strcmp(name, "--duration"))
            slot = &dur_arg;
        else if (!strcmp(name, "--tempo-map"))
            slot = &map_path;
        else if (!strcmp(name, "--click"))
            slot = &click_line;
        else if (!strcmp(name, "--format"))
            slot = &fmt_arg;
        else if (!strcmp(name, "--soundfont"))
            slot = &sf_arg;
        else if (a[0] == '-' && a[1])
            return usage_error("unknown flag '%s' (see 'etude render --help')", a);
        if (slot) {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return usage_error("%s needs a value (see 'etude render --help')", name);
            if (*slot)
                return usage_error("%s given twice", name);
            *slot = v;
            continue;
        }
        if (preset_path)
            return usage_error("unexpected argument '%s' (one PRESET.json at most)", a);
        preset_path = a;
    }
    int sources = !!preset_path + !!map_path + !!click_line;
    if (sources == 0)
        return usage_error("%s", "nothing to render (give PRESET.json, --tempo-map FILE or --click \"...\")");
    if (sources > 1)
        return usage_error("%s", "give one of PRESET.json, --tempo-map FILE or --click \"...\", not several");
    if (!out)
        return usage_error("%s", "missing -o OUT.wav (or OUT.flac)");
    char found[4400];
    if (preset_path && !(preset_path = cli_preset_path("render", preset_path, found, sizeof found)))
        return 1;
    double rate_d = 0, duration = 0;
    if (rate_arg && (!parse_number(rate_arg, &rate_d) || rate_d != floor(rate_d) || rate_d < 8000 ||
                     rate_d > 384000))
        return usage_error("bad --rate '%s' (expected an integer from 8000 to 384000)", rate_arg);
    if (dur_arg && (!parse_number(dur_arg, &duration) || !(duration > 0) || duration > 360000))
        return usage_error("bad --duration '%s' (expected seconds > 0, at most 360000)", dur_arg);
    if (fmt_arg && strcmp(fmt_arg, "float") && strcmp(fmt_arg, "pcm24") && strcmp(fmt_arg, "pcm16"))
        return usage_error("bad --format '%s' (expected float, pcm24 or pcm16)", fmt_arg);

    /* The material */
    char err[1024] = "";
    etude_preset_t *preset = NULL;
    int rc;
    if (sf_arg && etude_fluid_check_soundfont(sf_arg, err, sizeof err) < 0) {
        fprintf(stderr, "etude render: --soundfont %s: %s\n", sf_arg, err);
        return 2;
    }
    etude_player_material_t material = {preset_path, map_path, click_line, sf_arg};
    rc = etude_player_material_preset(&material, &preset, err, sizeof err);
    if (rc) {
        fprintf(stderr, "etude render: %s\n", err);
        return 1;
    }
    const etude_preset_render_t *defaults = etude_preset_render(preset);
    uint32_t rate = rate_arg ? (uint32_t)rate_d : defaults->rate ? defaults->rate : DEFAULT_RATE;
    if (!dur_arg)
        duration = defaults->duration;
    const etude_tempomap_t *map = etude_preset_tempomap(preset);
    if (duration == 0 && map && etude_tempomap_endless(map) && etude_timeline_empty(&practice.timeline)) {
        fprintf(stderr, "etude render: %s: the map never ends (no bar count): give --duration SECONDS\n",
                click_line ? "--click" : preset_path ? preset_path : map_path);
        etude_preset_destroy(preset);
        return 1;
    }
    int format;
    if (format_of(out, fmt_arg ? fmt_arg : defaults->sample_format, &format, err, sizeof err)) {
        fprintf(stderr, "etude render: %s\n", err);
        etude_preset_destroy(preset);
        return 2;
    }
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "etude render: cannot write '%s': Is a directory\n", out);
        etude_preset_destroy(preset);
        return 1;
    }

    /* The output: a temp file next to OUT, renamed over it once complete. */
    render_t r;
    memset(&r, 0, sizeof r);
    r.out_path = out;
    r.rate = rate;
    size_t tl = strlen(out) + 16;
    r.tmp_path = malloc(tl);
    r.inter = malloc(2 * (size_t)OUT_BUFFER_FRAMES * sizeof *r.inter);
    if (!r.tmp_path || !r.inter) {
        fprintf(stderr, "etude render: out of memory\n");
        free(r.tmp_path);
        free(r.inter);
        etude_preset_destroy(preset);
        return 1;
    }
    snprintf(r.tmp_path, tl, "%s.part-XXXXXX", out);
    catch_signals();
    int fd = mkstemp(r.tmp_path);
    if (fd < 0) {
        restore_signals();
        fprintf(stderr, "etude render: cannot write '%s': %s\n", out, strerror(errno));
        free(r.tmp_path);
        free(r.inter);
        etude_preset_destroy(preset);
        return 1;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = (int)rate;
    info.channels = 2;
    info.format = format;
    /* silence is left as holes in the file: the bytes read back are the same, the copying is not */
    cli_sparse_init(&r.io, fd);
    r.fd = fd;
    r.snd = sf_open_virtual(cli_sparse_io(), SFM_WRITE, &info, &r.io);
    if (!r.snd) {
        fprintf(stderr, "etude render: cannot write '%s': %s\n", out, sf_strerror(NULL));
        close(fd);
        unlink(r.tmp_path);
        restore_signals();
        free(r.tmp_path);
        free(r.inter);
        etude_preset_destroy(preset);
        return 1;
    }
    sf_command(r.snd, SFC_SET_CLIPPING, NULL, SF_TRUE);

    /* Engine, bus, player, voices */
    etude_engine_config_t ecfg;
    etude_engine_config_default(&ecfg, rate);
    etude_engine_t *engine = NULL;
    etude_bus_t *bus = NULL;
    etude_recorder_t *session = NULL;
    const char *reason = "error";
    int exit_code = 1;
    bus = etude_bus_create();
    rc = bus ? etude_engine_create(&ecfg, &engine) : ETUDE_ENOMEM;
    if (rc == 0) {
        etude_engine_set_bus(engine, bus);
        etude_player_config_t pc = {.engine = engine, .bus = bus, .transport = ETUDE_JACK_TRANSPORT_OFF,
                                    .command = "render"};
        rc = etude_player_create(&pc, &r.player);
    }
    if (rc) {
        fprintf(stderr, "etude render: cannot start the engine: %s\n", etude_strerror(rc));
        goto cleanup;
    }
    rc = etude_player_load_preset(r.player, preset, preset_path ? preset_path : map_path, NULL, err, sizeof err);
    preset = NULL; /* the player's now */
    if (rc) {
        fprintf(stderr, "etude render: %s\n", err);
        goto cleanup;
    }
    if (cli_practice_apply("render", &practice, r.player)) {
        exit_code = 2;
        goto cleanup;
    }
    if (duration == 0 && etude_player_endless(r.player)) {
        fprintf(stderr, "etude render: %s: the material never ends (an endless loop or map): "
                "give --duration SECONDS\n",
                click_line ? "--click" : preset_path ? preset_path : map_path);
        goto cleanup;
    }
    if (etude_recorder_open(bus, "render", &session_opts, &session, err, sizeof err) < 0) {
        fprintf(stderr, "etude render: %s\n", err);
        goto cleanup;
    }

    etude_offline_config_t ocfg;
    memset(&ocfg, 0, sizeof ocfg);
    ocfg.period = RENDER_PERIOD;
    ocfg.total_frames = duration > 0 ? (uint64_t)llround(duration * rate) : 0;
    ocfg.tail_frames = (uint32_t)llround(defaults->tail * rate);
    ocfg.write = write_period;
    ocfg.progress = progress;
    ocfg.user = &r;
    uint64_t len = etude_sequencer_length(etude_player_sequencer(r.player)); /* the timeline's, if any */
    uint64_t expect = ocfg.total_frames ? ocfg.total_frames
                                        : (len != UINT64_MAX ? len : map ? etude_tempomap_frames(map, rate) : 0) +
                                              ocfg.tail_frames;
    r.show_progress = isatty(2) && expect > rate;
    rc = etude_player_start(r.player, err, sizeof err);
    if (rc == 0)
        rc = etude_offline_run(engine, etude_player_sequencer(r.player), &ocfg);
    if (r.progress_drawn)
        fprintf(stderr, "\n");

    if (rc == 0 && flush_output(&r))
        rc = 1;
    if (rc == 0) {
        reason = "end";
        exit_code = 0;
    } else if (r.write_error) {
        fprintf(stderr, "etude render: cannot write '%s': %s\n", out, sf_strerror(r.snd));
    } else if (rc == 2 && render_signal) {
        fprintf(stderr, "etude render: interrupted by signal %d; nothing written\n", (int)render_signal);
        reason = "signal";
        exit_code = 130;
    } else {
        fprintf(stderr, "etude render: render failed: %s\n", etude_strerror(rc));
    }
    if (exit_code != 0) /* nothing written: no session either */
        etude_recorder_discard(session);
    etude_player_finish(r.player, reason);

cleanup:
    etude_player_destroy(r.player);
    etude_engine_destroy(engine);
    if (r.snd) {
        int serr = sf_error(r.snd);
        if (sf_close(r.snd) != 0 || serr) {
            if (exit_code == 0)
                fprintf(stderr, "etude render: cannot write '%s': %s\n", out, sf_error_number(serr));
            exit_code = exit_code ? exit_code : 1;
        }
        if ((cli_sparse_finish(&r.io) != 0 || close(r.fd) != 0) && exit_code == 0) {
            fprintf(stderr, "etude render: cannot write '%s': %s\n", out, strerror(errno));
            exit_code = 1;
        }
    }
    if (exit_code == 0 && rename(r.tmp_path, out) != 0) {
        fprintf(stderr, "etude render: cannot write '%s': %s\n", out, strerror(errno));
        exit_code = 1;
    }
    if (exit_code != 0)
        unlink(r.tmp_path);
    restore_signals();
    etude_recorder_close(session);
    etude_bus_destroy(bus);
    etude_preset_destroy(preset);
    free(r.tmp_path);
    free(r.inter);
    return exit_code;
}
