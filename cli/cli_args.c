/* cli_args.c - flags and output shared by the playing commands. */
#include "cli_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_player.h"
#include "etude_presets.h"

int cli_practice_args(const char *cmd, int *argc, char **argv, cli_practice_t *pr)
{
    memset(pr, 0, sizeof *pr);
    etude_timeline_init(&pr->timeline);
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        static const char *const flags[] = {"--tempo-scale", "--mute", "--solo", "--gain", "--count-in",
                                            "--loops", "--loop", "--start", "--trainer", NULL};
        const char *flag = NULL;
        for (size_t k = 0; flags[k] && !flag; k++) {
            size_t l = strlen(flags[k]);
            if (!strncmp(a, flags[k], l) && (a[l] == 0 || a[l] == '='))
                flag = flags[k];
        }
        if (!flag) {
            argv[out++] = argv[i];
            continue;
        }
        const char *v = a[strlen(flag)] == '=' ? eq + 1 : i + 1 < *argc ? argv[i + 1] : NULL;
        if (v && v == argv[i + 1 < *argc ? i + 1 : i]) {
            if (v[0] == '-' && !(v[1] >= '0' && v[1] <= '9') && v[1] != '.')
                v = NULL; /* the next flag, not a value */
            else
                i++;
        }
        if (!v || !*v) {
            fprintf(stderr, "etude %s: %s needs a value (%s)\n", cmd, flag,
                    !strcmp(flag, "--tempo-scale") ? "a factor from 0.1 to 4"
                    : !strcmp(flag, "--gain")      ? "PART=DB"
                    : !strcmp(flag, "--count-in")  ? "bars of click, 0 to 16"
                    : !strcmp(flag, "--loop")      ? "bars A-B, or tempo-map labels"
                    : !strcmp(flag, "--loops")     ? "passes, or 0 for ever"
                    : !strcmp(flag, "--start")     ? "a bar or a tempo-map label"
                    : !strcmp(flag, "--trainer")   ? "START:STEP:EVERY:TARGET"
                                                   : "a part or voice name");
            return 2;
        }
        char terr[512];
        int trc = 1; /* not a timeline flag */
        if (!strcmp(flag, "--count-in"))
            trc = etude_timeline_set_count_in(&pr->timeline, v, terr, sizeof terr);
        else if (!strcmp(flag, "--loop"))
            trc = etude_timeline_set_loop(&pr->timeline, v, terr, sizeof terr);
        else if (!strcmp(flag, "--loops"))
            trc = etude_timeline_set_loops(&pr->timeline, v, terr, sizeof terr);
        else if (!strcmp(flag, "--start"))
            trc = etude_timeline_set_start(&pr->timeline, v, terr, sizeof terr);
        else if (!strcmp(flag, "--trainer"))
            trc = etude_timeline_set_trainer(&pr->timeline, v, terr, sizeof terr);
        if (trc < 0) {
            fprintf(stderr, "etude %s: %s\n", cmd, terr);
            return 2;
        }
        if (trc == 0)
            continue;
        if (!strcmp(flag, "--tempo-scale")) {
            char *end;
            double x = strtod(v, &end);
            if (*end || !(x >= 0.1 && x <= 4)) {
                fprintf(stderr, "etude %s: --tempo-scale '%s': expected a factor from 0.1 to 4 (1 = as written)\n", cmd,
                        v);
                return 2;
            }
            pr->tempo_scale = x;
            continue;
        }
        const char **slot = !strcmp(flag, "--mute") ? pr->mute : !strcmp(flag, "--solo") ? pr->solo : pr->gain;
        size_t *n = !strcmp(flag, "--mute") ? &pr->nmute : !strcmp(flag, "--solo") ? &pr->nsolo : &pr->ngain;
        if (!strcmp(flag, "--gain")) {
            const char *e = strrchr(v, '=');
            char *end;
            if (!e || e == v || !e[1] || (strtod(e + 1, &end), *end)) {
                fprintf(stderr, "etude %s: --gain '%s': expected PART=DB, e.g. Bass=-6\n", cmd, v);
                return 2;
            }
        }
        if (*n == CLI_MAX_VOICE_FLAGS) {
            fprintf(stderr, "etude %s: %s: at most %d times\n", cmd, flag, CLI_MAX_VOICE_FLAGS);
            return 2;
        }
        slot[(*n)++] = v;
    }
    argv[out] = NULL;
    *argc = out;
    etude_timeline_t *t = &pr->timeline;
    char terr[512];
    if (etude_timeline_check(t, terr, sizeof terr) < 0) {
        fprintf(stderr, "etude %s: %s\n", cmd, terr);
        return 2;
    }
    if (t->loop[0] && t->loops < 0 && !t->trainer) /* as in a DAW: play loops for ever, render once */
        t->loops = !strcmp(cmd, "play") ? 0 : 1;
    return 0;
}

int cli_practice_apply(const char *cmd, const cli_practice_t *pr, struct etude_player *p)
{
    char err[1024];
    if (etude_player_set_timeline(p, &pr->timeline, err, sizeof err) < 0)
        goto bad;
    for (size_t i = 0; i < pr->nmute; i++)
        if (etude_player_voice_check(p, "--mute", pr->mute[i], err, sizeof err) < 0 ||
            etude_player_voice_mute(p, pr->mute[i], true, err, sizeof err) < 0)
            goto bad;
    for (size_t i = 0; i < pr->nsolo; i++)
        if (etude_player_voice_check(p, "--solo", pr->solo[i], err, sizeof err) < 0 ||
            etude_player_voice_mute(p, pr->solo[i], false, err, sizeof err) < 0 || /* hear it, whatever the preset says */
            etude_player_voice_solo(p, pr->solo[i], true, err, sizeof err) < 0)
            goto bad;
    for (size_t i = 0; i < pr->ngain; i++) {
        char name[256];
        const char *e = strrchr(pr->gain[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(e - pr->gain[i]), pr->gain[i]);
        if (etude_player_voice_gain_db(p, name, strtod(e + 1, NULL), err, sizeof err) < 0)
            goto bad;
    }
    if (pr->tempo_scale > 0 && etude_player_tempo_scale(p, pr->tempo_scale, err, sizeof err) < 0) {
        /* the player speaks of its OSC address; the user typed the flag */
        const char *colon = strchr(err, ':');
        fprintf(stderr, "etude %s: --tempo-scale %g%s\n", cmd, pr->tempo_scale, colon ? colon : err);
        return 2;
    }
    return 0;
bad:
    fprintf(stderr, "etude %s: %s\n", cmd, err);
    return 2;
}

const char *cli_preset_path(const char *cmd, const char *arg, char *buf, size_t len)
{
    if (!arg || !etude_presets_is_name(arg))
        return arg;
    char err[2048];
    if (etude_presets_find(arg, buf, len, err, sizeof err) < 0) {
        fprintf(stderr, "etude %s: %s\n", cmd, err);
        return NULL;
    }
    return buf;
}

void cli_log_stderr(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "etude: %s\n", line);
}

int cli_recorder_args(int *argc, char **argv, etude_recorder_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->log.fn = cli_log_stderr;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--plugin-path")) {
            if (i + 1 >= *argc || !argv[i + 1][0]) {
                fprintf(stderr, "etude %s: --plugin-path needs a value (directories or .so files, ':'-separated)\n",
                        argv[0]);
                return -1;
            }
            opts->plugin_path = argv[++i];
        } else if (!strncmp(a, "--plugin-path=", 14)) {
            if (!a[14]) {
                fprintf(stderr, "etude %s: --plugin-path needs a value (directories or .so files, ':'-separated)\n",
                        argv[0]);
                return -1;
            }
            opts->plugin_path = a + 14;
        } else if (!strcmp(a, "--no-session")) {
            opts->disabled = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

