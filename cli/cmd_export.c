/* cmd_export.c - `etude export`: write every entity of the local store as NDJSON or CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_store.h"
#include "etude_store.h"

const char etude_cmd_export_usage[] = "  export [--format ndjson|csv] [-o FILE]   write every session, log, goal and note\n";

int etude_cmd_export(int argc, char **argv)
{
    int format = ETUDE_EXPORT_NDJSON;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: etude%s", etude_cmd_export_usage);
            return 0;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!strcmp(f, "ndjson"))
                format = ETUDE_EXPORT_NDJSON;
            else if (!strcmp(f, "csv"))
                format = ETUDE_EXPORT_CSV;
            else {
                fprintf(stderr, "etude export: --format '%s': expected ndjson or csv\n", f);
                return 2;
            }
        } else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else {
            fprintf(stderr, "etude export: unexpected argument '%s' (usage:%s)", argv[i], etude_cmd_export_usage + 1);
            return 2;
        }
    }
    etude_store_t *st;
    if (cli_store_open("export", &st))
        return 1;
    FILE *f = stdout;
    char tmp[4096];
    if (out) {
        /* Nothing half-written: a temporary file renamed into place when complete. */
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid());
        f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "etude export: %s: %s\n", out, strerror(errno));
            etude_store_close(st);
            return 1;
        }
    }
    int rc = etude_store_export(st, f, format);
    if (out) {
        if (fclose(f) && !rc)
            rc = ETUDE_STORE_EIO;
        if (!rc && rename(tmp, out))
            rc = ETUDE_STORE_EIO;
        if (rc)
            unlink(tmp);
    }
    if (rc)
        fprintf(stderr, "etude export: %s\n", etude_store_errmsg(st)[0] ? etude_store_errmsg(st) : strerror(errno));
    etude_store_close(st);
    return rc ? 1 : 0;
}
