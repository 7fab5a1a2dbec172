/* etude_logbook.h - reading the practice log: which material a session played (its identity, the
 * resolved path plus a hash of the file's content), which sessions count towards a goal or a
 * summary, MIDI timing accuracy, and the summary of a span of days. `etude log` and `etude goal`
 * print what this computes; any other front end can do the same.
 *
 * Material identity. A file is identified by its resolved path (realpath(3): symlinks, "." and
 * ".." resolved) and the BLAKE2b-256 hash (libsodium's crypto_generichash) of its content, in
 * lowercase hex. Sessions carry it as data.materialPath and data.materialHash (the recorder writes
 * them when the material came from a file: a preset, a MIDI file, a tempo map); goals carry the
 * same two fields for the file their --preset (or --material) named. The same file named another
 * way has the same identity; a file of the same name elsewhere, or one whose content was replaced,
 * has another.
 *
 * Matching a session against a filter (a goal's, or a summary's --material):
 *   - a filter with an identity matches a session with one when both path and hash are equal; a
 *     session without one (written by an older etude) when its preset or material string equals
 *     the filter's resolved path;
 *   - a filter without one (a click line, a title, a goal written by an older etude) matches
 *     sessions whose preset or material string equals its text, as typed.
 * Renders are never practice: etude_logbook_is_practice() is false for them, and goals and
 * summaries skip them.
 *
 * Threads: every function is [any] on its own arguments; nothing is shared. Errors are the ETUDE_E*
 * codes of etude_error.h, with a one-line message in err where there is one.
 */
#ifndef ETUDE_LOGBOOK_H
#define ETUDE_LOGBOOK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "etude_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ETUDE_LOGBOOK_PATH_MAX 4096
#define ETUDE_LOGBOOK_HASH_LEN 65 /* 64 hex digits and the NUL */

typedef struct etude_material_id {
    char path[ETUDE_LOGBOOK_PATH_MAX];  /* resolved, absolute */
    char hash[ETUDE_LOGBOOK_HASH_LEN];  /* BLAKE2b-256 of the content, lowercase hex */
} etude_material_id_t;

/* [any] Identify the regular file at path (relative paths against the working directory).
 * Returns 0 and fills *out; ETUDE_ENOTFOUND (no such file, or not a regular file) or ETUDE_EIO
 * (unreadable) with "PATH: REASON" in err. */
int etude_material_identify(const char *path, etude_material_id_t *out, char *err, size_t errlen);

/* [any] Nonzero if s is 64 lowercase hex digits (the form of a material hash). */
int etude_material_hash_valid(const char *s);

/* ---- filters: what a goal or a summary counts --------------------------------------------- */

typedef struct etude_logbook_filter {
    const char *text;        /* as typed (a path, a title, a click line); NULL: matches every session */
    int has_id;
    etude_material_id_t id;  /* valid when has_id */
} etude_logbook_filter_t;

/* [any] A filter for what the user typed: a preset by name (etude_presets.h) or an existing file
 * gets that file's identity; anything else (a title, a click line) is matched as text. text is
 * referenced, not copied: it must outlive the filter. Returns 0, or ETUDE_EIO with err when the
 * file exists but cannot be read. */
int etude_logbook_filter_typed(etude_logbook_filter_t *f, const char *text, char *err, size_t errlen);

/* [any] The filter a goal's data describes: its materialPath and materialHash when present, else its
 * preset or material text (as typed when the goal was added). References data: keep it alive. */
void etude_logbook_filter_goal(etude_logbook_filter_t *f, const cJSON *goal_data);

/* [any] Nonzero if the session (its data object) played what f names (rules above). */
int etude_logbook_matches(const etude_logbook_filter_t *f, const cJSON *session_data);

/* [any] Nonzero if the session was practice: anything but a render. */
int etude_logbook_is_practice(const cJSON *session_data);

/* ---- timing accuracy ----------------------------------------------------------------------- */

/* Notes played on JACK MIDI, timed against the beat (engine/etude_timing.h). */
typedef struct etude_logbook_accuracy {
    double notes;       /* notes analysed; 0: no MIDI was played */
    double mean_ms;     /* mean offset, ms (positive: late) */
    double sd_ms;       /* population standard deviation, ms */
    double within_25ms; /* share of notes with |offset| <= 25 ms, 0..1 */
} etude_logbook_accuracy_t;

/* [any] The session's accuracy from its data.timing. Returns 1 when MIDI notes were played (and
 * fills *out), 0 when not (no timing, or no note; *out zeroed). */
int etude_logbook_accuracy(const cJSON *session_data, etude_logbook_accuracy_t *out);

/* [any] Pool b into a: the figures of all their notes together (means weighted by note counts, the
 * population sd of the union). */
void etude_logbook_accuracy_pool(etude_logbook_accuracy_t *a, const etude_logbook_accuracy_t *b);

/* ---- goals ---------------------------------------------------------------------------------- */

/* [any] Progress of a goal (its data object) over the sessions in st: a minutes goal sums the
 * activeSeconds (in minutes) of matching practice sessions started at or after the start of the
 * current UTC day or ISO week (Monday), whose ISO time goes to since (may be NULL); a tempo goal
 * takes the highest tempoMaxBpm of matching practice sessions. now_ms is the clock (unix ms).
 * Returns 0 with *value, or an ETUDE_E* code from the store. */
int etude_logbook_goal_progress(etude_store_t *st, const cJSON *goal_data, int64_t now_ms, double *value,
                                char since[32]);

/* ---- summary -------------------------------------------------------------------------------- */

typedef struct etude_logbook_day {
    char date[11];                /* YYYY-MM-DD, UTC */
    double minutes;               /* practice time started that day */
    int sessions;
    etude_logbook_accuracy_t acc; /* that day's notes pooled */
} etude_logbook_day_t;

typedef struct etude_logbook_material {
    char *name;                   /* the material as the first session named it (its title) */
    char *key;                    /* its identity: "path|hash", or the material text */
    int sessions;
    double minutes;
    double first_bpm, last_bpm, best_bpm; /* tempoMaxBpm of the first and last session, and the highest */
    char first_date[11], last_date[11];
} etude_logbook_material_t;

typedef struct etude_logbook_summary {
    char since[32];                   /* the span's start, ISO UTC */
    etude_logbook_day_t *days;        /* days with practice, oldest first */
    size_t ndays;
    etude_logbook_material_t *materials; /* in the order first practised */
    size_t nmaterials;
    int sessions;
    int renders;                      /* renders in the span: listed as skipped, never counted */
    double minutes;
    etude_logbook_accuracy_t acc;     /* every note of the span pooled */
} etude_logbook_summary_t;

/* [any] Summarise the practice sessions of st started at or after since_ms (unix ms) that match
 * filter (NULL: all), in start order. Fills *out (free with etude_logbook_summary_clear()).
 * Returns 0, ETUDE_ENOMEM, or a store error. */
int etude_logbook_summarize(etude_store_t *st, int64_t since_ms, const etude_logbook_filter_t *filter,
                            etude_logbook_summary_t *out);

/* [any] Free what a summary holds; the struct stays the caller's (zeroed). NULL accepted. */
void etude_logbook_summary_clear(etude_logbook_summary_t *s);

/* [any] Parse a date "YYYY-MM-DD" (a real calendar date, UTC midnight) into unix ms. 0 or
 * ETUDE_EINVAL. */
int etude_logbook_parse_date(const char *s, int64_t *unix_ms);

/* [any] The start (unix ms) of the UTC day, ISO week (Monday) or calendar month containing now_ms;
 * period is "day", "week" or "month" (anything else: day). */
int64_t etude_logbook_period_start(const char *period, int64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_LOGBOOK_H */
