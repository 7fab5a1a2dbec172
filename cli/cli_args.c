/* cli_args.c - flags and output shared by the playing commands. */
#include "cli_args.h"

#include <stdio.h>
#include <string.h>

#include "etude_presets.h"

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

