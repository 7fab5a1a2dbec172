/* cmd_import.c - `etude import FILE`: merge an NDJSON export into the local store, in one
 * transaction. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli_store.h"
#include "etude_store.h"

const char etude_cmd_import_usage[] = "  import FILE                               merge an NDJSON export ('-': stdin), all or nothing\n";

int etude_cmd_import(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: etude%s", etude_cmd_import_usage);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "etude import: expected exactly one FILE (usage:%s)", etude_cmd_import_usage + 1);
        return 2;
    }
    const char *name = argv[1];
    FILE *in = strcmp(name, "-") ? fopen(name, "r") : stdin;
    if (!in) {
        fprintf(stderr, "etude import: %s: %s\n", name, strerror(errno));
        return 1;
    }
    etude_store_t *st;
    if (cli_store_open("import", &st)) {
        if (in != stdin)
            fclose(in);
        return 1;
    }
    etude_import_stats_t stats;
    int rc = etude_store_import(st, in, strcmp(name, "-") ? name : "<stdin>", &stats);
    if (in != stdin)
        fclose(in);
    if (rc)
        fprintf(stderr, "etude import: %s (nothing was imported)\n", etude_store_errmsg(st));
    else
        printf("imported %s: %d created, %d updated, %d unchanged\n", name, stats.created, stats.updated,
               stats.skipped);
    etude_store_close(st);
    return rc ? 1 : 0;
}
