/* cmd_report.c - `etude report`: the practice charts as one self-contained HTML file, from the local
 * store (app/etude_report.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli_store.h"
#include "etude_logbook.h"
#include "etude_report.h"

const char etude_cmd_report_usage[] =
    "  report [--since DATE] -o FILE             the practice charts (minutes per day and week, tempo,\n"
    "                                            timing, goals, sessions, notes) as one self-contained\n"
    "                                            HTML file from the local store (DATE: YYYY-MM-DD, UTC)\n";

/* One line naming the flag at fault; exit status 2. */
__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "etude report: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

int etude_cmd_report(int argc, char **argv)
{
    const char *out = NULL, *since = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: etude%s", etude_cmd_report_usage);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc || !*argv[i + 1])
                return bad("%s needs a FILE (the HTML file to write)", a);
            if (out)
                return bad("%s: given twice", a);
            out = argv[++i];
        } else if (!strcmp(a, "--since")) {
            if (i + 1 >= argc)
                return bad("%s needs a DATE (YYYY-MM-DD)", a);
            if (since)
                return bad("%s: given twice", a);
            since = argv[++i];
        } else {
            return bad("unknown argument '%s' (expected --since DATE or -o FILE)", a);
        }
    }
    int64_t ms;
    if (since && etude_logbook_parse_date(since, &ms))
        return bad("--since '%s': expected a date YYYY-MM-DD (UTC)", since);
    if (!out)
        return bad("%s", "missing -o FILE (the HTML file to write)");
    etude_store_t *st;
    if (cli_store_open("report", &st))
        return 1;
    etude_report_opts_t opts = {.since = since};
    char err[4400] = "";
    int rc = etude_report_write_file(st, &opts, out, err, sizeof err);
    etude_store_close(st);
    if (rc) {
        fprintf(stderr, "etude report: %s\n", err[0] ? err : etude_strerror(rc));
        return 1;
    }
    return 0;
}
