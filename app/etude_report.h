/* etude_report.h - the offline practice report: one self-contained HTML file with the dashboard's
 * charts, drawn from the local store (`etude report`; docs/dashboard.md).
 *
 * The file inlines web/assets/charts.js and app.css from libetude-web (nothing is fetched when it
 * is opened) and carries the data as <script type="application/json" id="etude-data">:
 *
 *   {"etudeReport":1, "generatedAt": ISO, "since": "YYYY-MM-DD"|null,
 *    "sessions": [entity...], "notes": [entity...], "goals": [entity + "progress"...]}
 *
 * an entity being {"id","entityType","createdAt","updatedAt","data"} as the dashboard reads it from
 * etude-syncd (DashboardEntities), and a goal's "progress" {"value","ratio","reached"[,"since"]}
 * computed by etude_logbook_goal_progress() at generatedAt, so the report agrees with
 * `etude goal progress`. Every '<' inside the JSON is written as \u003c, so no text of the store can
 * end the script element. A Content-Security-Policy meta element allows exactly the inlined script
 * and style (by their SHA-256) and nothing else.
 *
 * Threads: [any] on its own arguments (the store handle is the caller's, as etude_store.h says).
 * Errors are the ETUDE_E* codes of etude_error.h, with a one-line message in err.
 */
#ifndef ETUDE_REPORT_H
#define ETUDE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "etude_store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_report_opts {
    const char *since; /* "YYYY-MM-DD" (UTC): sessions started and notes written from that day on;
                          NULL: everything. Checked: a bad date is ETUDE_EINVAL. */
    int64_t now_ms;    /* the clock goal progress is computed at (unix ms); 0: the wall clock */
} etude_report_opts_t;

/* [any] The report's data object as JSON text (above; '<' not yet escaped). Returns a malloc'd
 * string the caller frees with free(), or NULL with err filled (ETUDE_EINVAL: a bad since, a store
 * error, out of memory). */
char *etude_report_data_json(etude_store_t *st, const etude_report_opts_t *opts, char *err, size_t errlen);

/* [any] Write the whole HTML report to path: into a temporary file next to it, flushed to disk,
 * then renamed over path, so path is either the complete new report or untouched. Returns 0, or
 * ETUDE_EINVAL (bad since), ETUDE_EIO (the file could not be written: "PATH: REASON" in err),
 * ETUDE_ENOMEM, or a store error; on failure nothing is left behind. */
int etude_report_write_file(etude_store_t *st, const etude_report_opts_t *opts, const char *path, char *err,
                            size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_REPORT_H */
