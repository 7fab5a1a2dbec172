/* cli_args.h - flags and output shared by the playing commands (render, play): the recorder's
 * flags, and the stderr sink for the app library's warnings. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include "etude_recorder.h"

/* [control] Remove the recorder's flags from argv (--plugin-path P, --plugin-path=P, --no-session)
 * and fill opts (its log prints to stderr). Returns 0, or -1 after printing a one-line error (a
 * flag without its value). */
int cli_recorder_args(int *argc, char **argv, etude_recorder_opts_t *opts);

/* [control] A preset argument as a file: an existing file or a path as given, else the preset of
 * that name (etude_presets.h) written to buf. Returns the path, or NULL after printing a one-line
 * error prefixed with "etude CMD: ". */
const char *cli_preset_path(const char *cmd, const char *arg, char *buf, size_t len);

/* [any] An etude_app_log_fn printing "etude: LINE" to stderr. */
void cli_log_stderr(void *user, const char *line);

#endif /* CLI_ARGS_H */
