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
    for (const etude_cli_command_t *c = etude_cli_commands; c->name; c++) {
        if (strcmp(argv[1], c->name))
            continue;
        /* --help or -h anywhere before "--" (`etude log note --help`, `etude goal add -h`) asks for
         * the command's usage, never for data: the command sees only the flag, and exits 0 having
         * touched nothing. */
        for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                char *help[] = {argv[1], argv[i], NULL};
                return c->run(2, help);
            }
        return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "etude: unknown command '%s' (try 'etude --help')\n", argv[1]);
    return 2;
}
