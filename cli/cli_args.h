/* cli_args.h - flags and output shared by the playing commands (render, play): the recorder's
 * flags, and the stderr sink for the app library's warnings. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include "etude_recorder.h"
#include "etude_timeline.h"

/* [control] Remove the recorder's flags from argv (--plugin-path P, --plugin-path=P, --no-session)
 * and fill opts (its log prints to stderr). Returns 0, or -1 after printing a one-line error (a
 * flag without its value). */
int cli_recorder_args(int *argc, char **argv, etude_recorder_opts_t *opts);

/* [control] A preset argument as a file: an existing file or a path as given, else the preset of
 * that name (etude_presets.h) written to buf. Returns the path, or NULL after printing a one-line
 * error prefixed with "etude CMD: ". */
const char *cli_preset_path(const char *cmd, const char *arg, char *buf, size_t len);

/* The practice flags of render and play, applied over the material (they override a preset). */
#define CLI_MAX_VOICE_FLAGS 32
typedef struct cli_practice {
    double tempo_scale; /* 0: not given */
    const char *mute[CLI_MAX_VOICE_FLAGS], *solo[CLI_MAX_VOICE_FLAGS], *gain[CLI_MAX_VOICE_FLAGS];
    size_t nmute, nsolo, ngain;
    etude_timeline_t timeline; /* --count-in, --loop, --loops, --start, --trainer */
} cli_practice_t;

/* [control] Remove the practice flags from argv (--tempo-scale X, --mute PART, --solo PART,
 * --gain PART=DB, --count-in BARS, --loop A-B, --loops N, --start BAR|LABEL,
 * --trainer START:STEP:EVERY:TARGET; also as --flag=value) and fill pr. A --loop without --loops
 * loops for ever on play and plays once on render. Returns 0, or 2 after printing a one-line error
 * naming the flag and what it accepts. */
int cli_practice_args(const char *cmd, int *argc, char **argv, cli_practice_t *pr);

struct etude_player;
/* [control] Apply pr to the loaded material. Returns 0, or 2 after printing a one-line error (an
 * unknown part names the parts there are). */
int cli_practice_apply(const char *cmd, const cli_practice_t *pr, struct etude_player *player);

/* [any] An etude_app_log_fn printing "etude: LINE" to stderr. */
void cli_log_stderr(void *user, const char *line);

#endif /* CLI_ARGS_H */
