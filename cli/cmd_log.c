/* cmd_log.c - `etude log`: the practice log (recorded sessions) and the logbook (notes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "etude_canon.h"
#include "cli_store.h"
#include "etude_logbook.h"
#include "etude_store.h"

const char etude_cmd_log_usage[] =
    "  log list [--json] [--all]                 recorded sessions (played or rendered, MIDI timing) and notes\n"
    "  log show ID [--json]                      one entry as text with its segments and notes (--json: raw)\n"
    "  log summary [--week|--month|--since DATE] [--material M]\n"
    "                                            practice minutes per day, tempo progress per material and the\n"
    "                                            timing trend (renders never count; DATE is YYYY-MM-DD, UTC)\n"
    "  log note TEXT [--session ID]              add a logbook note, optionally tied to a session\n"
    "  log edit ID TEXT                          change a note's text (or a session's note)\n"
    "  log delete ID                             delete an entry (a tombstone that syncs)\n";

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "mean +3.2 ms, sd 8.1 ms, 89% within +-25 ms (9 notes)" */
static void accuracy_text(const etude_logbook_accuracy_t *a, char *buf, size_t len)
{
    snprintf(buf, len, "mean %+.1f ms, sd %.1f ms, %.0f%% within \u00b125 ms (%.0f note%s)", a->mean_ms, a->sd_ms,
             a->within_25ms * 100, a->notes, a->notes == 1 ? "" : "s");
}

static int usage_error(const char *what)
{
    fprintf(stderr, "etude log: %s (see 'etude log --help')\n", what);
    return 2;
}

typedef struct list_ctx {
    int json;
    cJSON *array;
    int n;
} list_ctx_t;

static int list_one(void *user, const etude_entity_t *e)
{
    list_ctx_t *x = user;
    if (strcmp(e->entity_type, "practiceSession") && strcmp(e->entity_type, "logbookEntry"))
        return 0;
    x->n++;
    if (x->json) {
        char *t = etude_entity_json(e);
        cJSON *o = t ? cJSON_Parse(t) : NULL;
        free(t);
        if (o)
            cJSON_AddItemToArray(x->array, o);
        return 0;
    }
    cJSON *d = cJSON_Parse(e->data);
    char when[20];
    snprintf(when, sizeof when, "%.10s %.5s", e->created_at, e->created_at + 11);
    if (!strcmp(e->entity_type, "practiceSession")) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "startedAt");
        if (cJSON_IsString(s) && strlen(s->valuestring) >= 16)
            snprintf(when, sizeof when, "%.10s %.5s", s->valuestring, s->valuestring + 11);
        double secs = jnum(d, "activeSeconds"), lo = jnum(d, "tempoMinBpm"), hi = jnum(d, "tempoMaxBpm");
        const char *mat = jstr(d, "material");
        etude_logbook_accuracy_t acc;
        char timing[128] = "";
        if (etude_logbook_accuracy(d, &acc)) {
            memcpy(timing, "  timing ", 10);
            accuracy_text(&acc, timing + 9, sizeof timing - 9);
        }
        char tempo[48];
        if (lo == hi)
            snprintf(tempo, sizeof tempo, "%g bpm", lo);
        else
            snprintf(tempo, sizeof tempo, "%g-%g bpm", lo, hi);
        printf("%.8s  %s  %-8s %3dm%02ds  %-14s %s%s%s%s\n", e->id, when,
               etude_logbook_is_practice(d) ? "played" : "rendered", (int)(secs / 60), (int)secs % 60, tempo,
               mat ? mat : "", timing,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "interrupted")) ? "  [interrupted]" : "",
               e->deleted_at[0] ? "  [deleted]" : "");
    } else {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "text"));
        const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "sessionId"));
        printf("%.8s  %s  note     %s%s%.8s%s%s\n", e->id, when, text ? text : "", sid ? "  (session " : "",
               sid ? sid : "", sid ? ")" : "", e->deleted_at[0] ? "  [deleted]" : "");
    }
    cJSON_Delete(d);
    return 0;
}

static int cmd_list(etude_store_t *st, int argc, char **argv)
{
    list_ctx_t x = {0};
    int all = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            x.json = 1;
        else if (!strcmp(argv[i], "--all"))
            all = 1;
        else {
            fprintf(stderr, "etude log list: unknown option '%s' (expected --json or --all)\n", argv[i]);
            return 2;
        }
    }
    if (x.json)
        x.array = cJSON_CreateArray();
    int rc = etude_store_list(st, NULL, NULL, all, list_one, &x);
    if (rc) {
        fprintf(stderr, "etude log list: %s\n", etude_store_errmsg(st));
        cJSON_Delete(x.array);
        return 1;
    }
    if (x.json) {
        char *t = cJSON_PrintUnformatted(x.array);
        printf("%s\n", t ? t : "[]");
        free(t);
        cJSON_Delete(x.array);
    } else if (!x.n) {
        printf("no sessions or notes yet\n");
    }
    return 0;
}

static int collect(void *user, const etude_entity_t *e)
{
    char *t = etude_entity_json(e);
    cJSON *o = t ? cJSON_Parse(t) : NULL;
    free(t);
    if (o)
        cJSON_AddItemToArray((cJSON *)user, o);
    return 0;
}

/* "2026-12-06 07:30:12" from an ISO time; "?" when there is none */
static void when_text(const char *iso, char out[24])
{
    if (iso && strlen(iso) >= 19)
        snprintf(out, 24, "%.10s %.8s", iso, iso + 11);
    else
        snprintf(out, 24, "?");
}

static void duration_text(double secs, char out[32])
{
    if (!(secs >= 0))
        secs = 0;
    int s = (int)floor(secs + 0.5);
    if (s >= 3600)
        snprintf(out, 32, "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, 32, "%dm%02ds", s / 60, s % 60);
}

typedef struct show_ctx {
    int n;
} show_ctx_t;

static int show_segment(void *user, const etude_entity_t *e)
{
    show_ctx_t *x = user;
    cJSON *d = cJSON_Parse(e->data);
    if (!d)
        return 0;
    if (!x->n++)
        printf("segments:\n");
    char dur[32];
    duration_text(jnum(d, "seconds"), dur);
    const char *section = jstr(d, "section");
    printf("  bars %g-%g  %g bpm  %s%s%s\n", jnum(d, "startBar") + 1, jnum(d, "endBar"), jnum(d, "bpm"), dur,
           section && *section ? "  " : "", section && *section ? section : "");
    cJSON_Delete(d);
    return 0;
}

static int show_note(void *user, const etude_entity_t *e)
{
    show_ctx_t *x = user;
    cJSON *d = cJSON_Parse(e->data);
    if (!d)
        return 0;
    if (!x->n++)
        printf("notes:\n");
    char when[24];
    when_text(e->created_at, when);
    printf("  %.8s  %.16s  %s\n", e->id, when, jstr(d, "text") ? jstr(d, "text") : "");
    cJSON_Delete(d);
    return 0;
}

static void show_session(etude_store_t *st, const etude_entity_t *e, const cJSON *d)
{
    char when[24], until[24], dur[32];
    when_text(jstr(d, "startedAt"), when);
    when_text(jstr(d, "endedAt"), until);
    duration_text(jnum(d, "activeSeconds"), dur);
    printf("session %s%s\n", e->id, e->deleted_at[0] ? "  [deleted]" : "");
    printf("date:      %s UTC, to %s\n", when, strlen(until) > 11 ? until + 11 : until);
    printf("kind:      %s%s\n", etude_logbook_is_practice(d) ? "played" : "rendered (not practice)",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "interrupted")) ? ", interrupted" : "");
    printf("duration:  %s\n", dur);
    const char *mat = jstr(d, "material"), *preset = jstr(d, "preset"), *path = jstr(d, "materialPath");
    printf("material:  %s\n", mat && *mat ? mat : "?");
    if (path || preset)
        printf("file:      %s\n", path ? path : preset);
    double lo = jnum(d, "tempoMinBpm"), hi = jnum(d, "tempoMaxBpm");
    if (lo == hi)
        printf("tempo:     %g bpm\n", lo);
    else
        printf("tempo:     %g-%g bpm\n", lo, hi);
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(d, "tempoTime"), *t;
    if (cJSON_GetArraySize(tt) > 1) {
        printf("at tempo: ");
        cJSON_ArrayForEach(t, tt)
        {
            duration_text(jnum(t, "seconds"), dur);
            printf(" %g bpm %s%s", jnum(t, "bpm"), dur, t->next ? "," : "\n");
        }
    }
    etude_logbook_accuracy_t acc;
    char timing[128];
    if (etude_logbook_accuracy(d, &acc))
        accuracy_text(&acc, timing, sizeof timing);
    else
        snprintf(timing, sizeof timing, "no MIDI played");
    printf("accuracy:  %s\n", timing);
    double loops = jnum(d, "loops"), xruns = jnum(d, "xruns");
    printf("bars:      %g%s", jnum(d, "bars"), loops > 0 ? "" : "\n");
    if (loops > 0)
        printf(", %g loop%s\n", loops, loops == 1 ? "" : "s");
    const cJSON *voices = cJSON_GetObjectItemCaseSensitive(d, "voices"), *v;
    if (cJSON_GetArraySize(voices) > 0) {
        printf("voices:   ");
        cJSON_ArrayForEach(v, voices)
        printf(" %s%s%s", jstr(v, "name") ? jstr(v, "name") : "?",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "mute")) ? " (muted)" : "", v->next ? "," : "\n");
    }
    const char *reason = jstr(d, "endReason");
    if (reason)
        printf("ended:     %s\n", reason);
    if (xruns > 0)
        printf("xruns:     %g\n", xruns);
    const char *note = jstr(d, "note");
    if (note)
        printf("note:      %s\n", note);
    show_ctx_t x = {0};
    etude_store_list(st, "practiceLog", e->id, 0, show_segment, &x);
    x.n = 0;
    etude_store_list(st, "logbookEntry", e->id, 0, show_note, &x);
}

/* Flags first, before the store is opened. */
static int parse_show(int argc, char **argv, const char **ref, int *json)
{
    *ref = NULL;
    *json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "etude log show: unknown option '%s' (expected --json)\n", argv[i]);
            return 2;
        } else if (*ref)
            return usage_error("log show: expected one ID");
        else
            *ref = argv[i];
    }
    return *ref ? 0 : usage_error("log show: expected one ID");
}

static int cmd_show(etude_store_t *st, const char *ref, int json)
{
    char id[37];
    etude_entity_t e;
    if (etude_store_resolve(st, ref, id) || etude_store_get(st, id, &e)) {
        fprintf(stderr, "etude log show: %s\n", etude_store_errmsg(st));
        return 1;
    }
    if (!json) {
        cJSON *d = cJSON_Parse(e.data ? e.data : "null");
        char when[24];
        when_text(e.created_at, when);
        if (!strcmp(e.entity_type, "practiceSession") && d) {
            show_session(st, &e, d);
        } else if (!strcmp(e.entity_type, "logbookEntry")) {
            printf("note %s%s\n", e.id, e.deleted_at[0] ? "  [deleted]" : "");
            printf("date:      %s UTC\n", when);
            printf("text:      %s\n", jstr(d, "text") ? jstr(d, "text") : "");
            if (jstr(d, "sessionId"))
                printf("session:   %s\n", jstr(d, "sessionId"));
        } else if (!strcmp(e.entity_type, "goal") && d) {
            const char *kind = jstr(d, "kind"), *what = jstr(d, "preset") ? jstr(d, "preset") : jstr(d, "material");
            printf("goal %s%s\n", e.id, e.deleted_at[0] ? "  [deleted]" : "");
            printf("date:      %s UTC\n", when);
            if (kind && !strcmp(kind, "minutes"))
                printf("target:    %g minutes per %s\n", jnum(d, "target"), jstr(d, "period") ? jstr(d, "period") : "day");
            else
                printf("target:    %g bpm\n", jnum(d, "target"));
            if (what)
                printf("material:  %s\n", what);
            if (jstr(d, "materialPath"))
                printf("file:      %s (BLAKE2b-256 %.16s...)\n", jstr(d, "materialPath"),
                       jstr(d, "materialHash") ? jstr(d, "materialHash") : "?");
            printf("progress:  etude goal progress %.8s\n", e.id);
        } else {
            /* segments: their fields as they are */
            printf("%s %s%s\n", e.entity_type, e.id, e.deleted_at[0] ? "  [deleted]" : "");
            printf("date:      %s UTC\n", when);
            const cJSON *f;
            cJSON_ArrayForEach(f, d)
            {
                char *v = cJSON_IsString(f) ? NULL : cJSON_PrintUnformatted(f);
                printf("%-14s %s\n", f->string, v ? v : f->valuestring);
                free(v);
            }
        }
        cJSON_Delete(d);
        etude_entity_clear(&e);
        return 0;
    }
    char *t = etude_entity_json(&e);
    cJSON *o = t ? cJSON_Parse(t) : NULL;
    free(t);
    if (o && !strcmp(e.entity_type, "practiceSession")) {
        cJSON *logs = cJSON_CreateArray(), *notes = cJSON_CreateArray();
        etude_store_list(st, "practiceLog", e.id, 0, collect, logs);
        etude_store_list(st, "logbookEntry", e.id, 0, collect, notes);
        cJSON_AddItemToObject(o, "logs", logs);
        cJSON_AddItemToObject(o, "notes", notes);
    }
    char *out = o ? cJSON_Print(o) : NULL;
    if (out)
        printf("%s\n", out);
    free(out);
    cJSON_Delete(o);
    etude_entity_clear(&e);
    return out ? 0 : 1;
}

/* ---- summary ---------------------------------------------------------------------------------- */

typedef struct summary_args {
    const char *span, *since, *material;
    int64_t since_ms;
} summary_args_t;

/* Flags first, before the store is opened: a bad one changes nothing. */
static int parse_summary(int argc, char **argv, summary_args_t *o)
{
    const char *span = NULL, *since = NULL, *material = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--week") || !strcmp(a, "--month") || !strcmp(a, "--since")) {
            if (span) {
                fprintf(stderr, "etude log summary: %s: give only one of --week, --month and --since (%s given)\n", a,
                        span);
                return 2;
            }
            span = a;
            if (!strcmp(a, "--since")) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "etude log summary: --since needs a DATE (YYYY-MM-DD)\n");
                    return 2;
                }
                since = argv[++i];
            }
        } else if (!strcmp(a, "--material")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "etude log summary: --material needs a file, title or click line\n");
                return 2;
            }
            if (material) {
                fprintf(stderr, "etude log summary: --material: given twice\n");
                return 2;
            }
            material = argv[++i];
        } else {
            fprintf(stderr, "etude log summary: unknown option '%s' (expected --week, --month, --since DATE or "
                            "--material M)\n",
                    a);
            return 2;
        }
    }
    int64_t now = etude_time_wall_ms(), since_ms = 0;
    if (since && etude_logbook_parse_date(since, &since_ms)) {
        fprintf(stderr, "etude log summary: --since '%s': expected a date YYYY-MM-DD (UTC)\n", since);
        return 2;
    }
    if (span && !strcmp(span, "--week"))
        since_ms = etude_logbook_period_start("week", now);
    else if (span && !strcmp(span, "--month"))
        since_ms = etude_logbook_period_start("month", now);
    *o = (summary_args_t){span, since, material, since_ms};
    return 0;
}

static int cmd_summary(etude_store_t *st, const summary_args_t *o)
{
    const char *span = o->span, *material = o->material;
    int64_t since_ms = o->since_ms;
    etude_logbook_filter_t f;
    char err[4400];
    if (etude_logbook_filter_typed(&f, material, err, sizeof err) < 0) {
        fprintf(stderr, "etude log summary: --material %s\n", err);
        return 1;
    }
    etude_logbook_summary_t s;
    int rc = etude_logbook_summarize(st, since_ms, material ? &f : NULL, &s);
    if (rc) {
        fprintf(stderr, "etude log summary: %s\n", rc == ETUDE_ENOMEM ? "out of memory" : etude_store_errmsg(st));
        return 1;
    }
    char dur[32], from[40];
    if (span)
        snprintf(from, sizeof from, "since %.10s", s.since);
    else
        snprintf(from, sizeof from, "all practice");
    duration_text(s.minutes * 60, dur);
    printf("%s%s%s: %d session%s, %s", from, material ? ", " : "", material ? material : "", s.sessions,
           s.sessions == 1 ? "" : "s", dur);
    if (s.renders)
        printf(" (%d render%s not counted)", s.renders, s.renders == 1 ? "" : "s");
    printf("\n");
    if (!s.sessions) {
        etude_logbook_summary_clear(&s);
        return 0;
    }
    double most = 0;
    for (size_t i = 0; i < s.ndays; i++)
        most = fmax(most, s.days[i].minutes);
    printf("\nminutes per day:\n");
    for (size_t i = 0; i < s.ndays; i++) {
        const etude_logbook_day_t *d = &s.days[i];
        int64_t ms;
        char wd[4] = "";
        if (!etude_logbook_parse_date(d->date, &ms)) {
            time_t t = (time_t)(ms / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(wd, sizeof wd, "%a", &tm);
        }
        int bar = most > 0 ? (int)lround(d->minutes / most * 30) : 0;
        printf("  %s %s %7.1f min  %2d session%s  ", d->date, wd, d->minutes, d->sessions, d->sessions == 1 ? " " : "s");
        for (int k = 0; k < bar; k++)
            putchar('#');
        putchar('\n');
    }
    printf("\ntempo progress:\n");
    for (size_t i = 0; i < s.nmaterials; i++) {
        const etude_logbook_material_t *m = &s.materials[i];
        printf("  %-32s %g -> %g bpm (best %g), %d session%s, %s .. %s\n", m->name, m->first_bpm, m->last_bpm,
               m->best_bpm, m->sessions, m->sessions == 1 ? "" : "s", m->first_date, m->last_date);
    }
    printf("\ntiming trend (MIDI played):\n");
    int any = 0;
    for (size_t i = 0; i < s.ndays; i++) {
        char t[128];
        if (!(s.days[i].acc.notes > 0))
            continue;
        accuracy_text(&s.days[i].acc, t, sizeof t);
        printf("  %s  %s\n", s.days[i].date, t);
        any = 1;
    }
    if (any) {
        char t[128];
        accuracy_text(&s.acc, t, sizeof t);
        printf("  all         %s\n", t);
    } else {
        printf("  no MIDI played\n");
    }
    etude_logbook_summary_clear(&s);
    return 0;
}

static int cmd_note(etude_store_t *st, int argc, char **argv)
{
    const char *text = NULL, *session = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--session")) {
            if (i + 1 >= argc)
                return usage_error("log note: --session needs a session ID");
            session = argv[++i];
        } else if (!text) {
            text = argv[i];
        } else {
            return usage_error("log note: give the TEXT as one argument (quote it)");
        }
    }
    if (!text || !*text)
        return usage_error("log note: missing TEXT");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "text", text);
    if (session) {
        char sid[37];
        etude_entity_t e;
        if (etude_store_resolve(st, session, sid) || etude_store_get(st, sid, &e)) {
            fprintf(stderr, "etude log note: --session: %s\n", etude_store_errmsg(st));
            cJSON_Delete(d);
            return 1;
        }
        int ok = !strcmp(e.entity_type, "practiceSession");
        etude_entity_clear(&e);
        if (!ok) {
            fprintf(stderr, "etude log note: --session %s: not a practice session\n", session);
            cJSON_Delete(d);
            return 1;
        }
        cJSON_AddStringToObject(d, "sessionId", sid);
    }
    char *json = etude_canon_print(d);
    cJSON_Delete(d);
    char id[37];
    int rc = etude_store_create(st, "logbookEntry", NULL, json, id);
    free(json);
    if (rc) {
        fprintf(stderr, "etude log note: %s\n", etude_store_errmsg(st));
        return 1;
    }
    printf("%s\n", id);
    return 0;
}

static int cmd_edit(etude_store_t *st, const char *ref, const char *text)
{
    char id[37];
    etude_entity_t e;
    if (etude_store_resolve(st, ref, id) || etude_store_get(st, id, &e)) {
        fprintf(stderr, "etude log edit: %s\n", etude_store_errmsg(st));
        return 1;
    }
    const char *field = !strcmp(e.entity_type, "logbookEntry") ? "text"
                        : !strcmp(e.entity_type, "practiceSession") ? "note"
                                                                    : NULL;
    if (!field) {
        fprintf(stderr, "etude log edit: %s is a %s: only notes and sessions can be edited here\n", ref, e.entity_type);
        etude_entity_clear(&e);
        return 1;
    }
    cJSON *d = cJSON_Parse(e.data);
    etude_entity_clear(&e);
    if (!d) {
        fprintf(stderr, "etude log edit: out of memory\n");
        return 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(d, field);
    cJSON_AddStringToObject(d, field, text);
    char *json = etude_canon_print(d);
    cJSON_Delete(d);
    int rc = etude_store_update(st, id, json);
    free(json);
    if (rc) {
        fprintf(stderr, "etude log edit: %s\n", etude_store_errmsg(st));
        return 1;
    }
    return 0;
}

typedef struct ids {
    char (*v)[37];
    size_t n;
} ids_t;

static int collect_id(void *user, const etude_entity_t *e)
{
    ids_t *x = user;
    void *p = realloc(x->v, (x->n + 1) * sizeof *x->v);
    if (!p)
        return 1;
    x->v = p;
    memcpy(x->v[x->n++], e->id, 37);
    return 0;
}

static int cmd_delete(etude_store_t *st, const char *ref)
{
    char id[37];
    etude_entity_t e;
    if (etude_store_resolve(st, ref, id) || etude_store_get(st, id, &e)) {
        fprintf(stderr, "etude log delete: %s\n", etude_store_errmsg(st));
        return 1;
    }
    int session = !strcmp(e.entity_type, "practiceSession");
    etude_entity_clear(&e);
    int rc = etude_store_delete(st, id);
    if (!rc && session) {
        /* a session's segments go with it */
        ids_t x = {0};
        rc = etude_store_list(st, "practiceLog", id, 0, collect_id, &x);
        for (size_t i = 0; !rc && i < x.n; i++)
            rc = etude_store_delete(st, x.v[i]);
        free(x.v);
    }
    if (rc) {
        fprintf(stderr, "etude log delete: %s\n", etude_store_errmsg(st));
        return 1;
    }
    return 0;
}

int etude_cmd_log(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("missing subcommand: list, show, summary, note, edit or delete");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        printf("usage:\n%s", etude_cmd_log_usage);
        return 0;
    }
    int known = !strcmp(sub, "list") || !strcmp(sub, "show") || !strcmp(sub, "summary") || !strcmp(sub, "note") ||
                !strcmp(sub, "edit") || !strcmp(sub, "delete");
    if (!known) {
        fprintf(stderr, "etude log: unknown subcommand '%s' (expected list, show, summary, note, edit or delete)\n",
                sub);
        return 2;
    }
    if (!strcmp(sub, "delete") && argc != 3)
        return usage_error("log delete: expected one ID");
    const char *show_ref = NULL;
    int show_json = 0;
    summary_args_t sum;
    if (!strcmp(sub, "show") && parse_show(argc, argv, &show_ref, &show_json))
        return 2;
    if (!strcmp(sub, "summary") && parse_summary(argc, argv, &sum))
        return 2;
    if (!strcmp(sub, "edit") && argc != 4)
        return usage_error("log edit: expected ID and TEXT");
    etude_store_t *st;
    if (cli_store_open("log", &st))
        return 1;
    int rc;
    if (!strcmp(sub, "list"))
        rc = cmd_list(st, argc, argv);
    else if (!strcmp(sub, "show"))
        rc = cmd_show(st, show_ref, show_json);
    else if (!strcmp(sub, "summary"))
        rc = cmd_summary(st, &sum);
    else if (!strcmp(sub, "note"))
        rc = cmd_note(st, argc, argv);
    else if (!strcmp(sub, "edit"))
        rc = cmd_edit(st, argv[2], argv[3]);
    else
        rc = cmd_delete(st, argv[2]);
    etude_store_close(st);
    return rc;
}
