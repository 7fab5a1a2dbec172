/* main.c - the `etude` command: dispatches to one cli/cmd_NAME.c per subcommand. */
#include <stdio.h>
#include <string.h>

#include "etude_commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: etude COMMAND [ARGS...]\n\ncommands:\n");
    for (const etude_cli_command_t *c = etude_cli_commands; c->name; c++)
        fprintf(f, "%s", c->usage);
    fprintf(f, "\nRun 'etude COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("etude " ETUDE_VERSION "\n");
        return 0;
    }
    for (const etude_cli_command_t *c = etude_cli_commands; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "etude: unknown command '%s' (try 'etude --help')\n", argv[1]);
    return 2;
}
