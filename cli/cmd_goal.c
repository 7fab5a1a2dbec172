/* cmd_goal.c - `etude goal`: practice goals and their progress, computed from the logged sessions. */
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

const char etude_cmd_goal_usage[] =
    "  goal add minutes N --per day|week [--preset P]   practise N minutes per UTC day or week\n"
    "  goal add tempo BPM --preset P | --material M     reach BPM with a preset or material\n"
    "  goal list [--json] | goal progress [ID] [--json] | goal delete ID\n"
    "                                            a file (preset, MIDI file, tempo map) counts by what it is,\n"
    "                                            however it is named; renders never count\n";

static int bad(const char *msg)
{
    fprintf(stderr, "etude goal: %s (see 'etude goal --help')\n", msg);
    return 2;
}

static int parse_positive(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int cmd_add(etude_store_t *st, int argc, char **argv)
{
    if (argc < 4)
        return bad("goal add: expected 'minutes N --per day|week' or 'tempo BPM --preset P'");
    const char *kind = argv[2];
    double target;
    if (strcmp(kind, "minutes") && strcmp(kind, "tempo")) {
        fprintf(stderr, "etude goal add: kind '%s': expected minutes or tempo\n", kind);
        return 2;
    }
    if (parse_positive(argv[3], &target)) {
        fprintf(stderr, "etude goal add %s: '%s' is not a positive number\n", kind, argv[3]);
        return 2;
    }
    const char *per = NULL, *preset = NULL, *material = NULL;
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "etude goal add: option '%s' needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--per"))
            per = argv[++i];
        else if (!strcmp(a, "--preset"))
            preset = argv[++i];
        else if (!strcmp(a, "--material"))
            material = argv[++i];
        else {
            fprintf(stderr, "etude goal add: unknown option '%s'\n", a);
            return 2;
        }
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "kind", kind);
    cJSON_AddNumberToObject(d, "target", target);
    if (!strcmp(kind, "minutes")) {
        if (!per || (strcmp(per, "day") && strcmp(per, "week"))) {
            cJSON_Delete(d);
            fprintf(stderr, "etude goal add minutes: --per %s: expected day or week\n", per ? per : "(missing)");
            return 2;
        }
        cJSON_AddStringToObject(d, "period", per);
    } else if (per) {
        cJSON_Delete(d);
        return bad("goal add tempo: --per applies to minutes goals only");
    } else if (!preset && !material) {
        cJSON_Delete(d);
        return bad("goal add tempo: give --preset P or --material M");
    }
    if (preset)
        cJSON_AddStringToObject(d, "preset", preset);
    if (material)
        cJSON_AddStringToObject(d, "material", material);
    /* The material by what it is: the file --preset names (it must exist), else the file --material
     * names if it is one (a title or a click line is matched as typed). */
    etude_logbook_filter_t f;
    char err[4400];
    int frc = etude_logbook_filter_typed(&f, preset ? preset : material, err, sizeof err);
    if (frc < 0 || (preset && !f.has_id)) {
        cJSON_Delete(d);
        fprintf(stderr, "etude goal add: --%s %s: %s\n", preset ? "preset" : "material", preset ? preset : material,
                frc < 0 ? err : "no such file or preset");
        return 2;
    }
    if (f.has_id) {
        cJSON_AddStringToObject(d, "materialPath", f.id.path);
        cJSON_AddStringToObject(d, "materialHash", f.id.hash);
    }
    char *json = etude_canon_print(d);
    cJSON_Delete(d);
    char id[37];
    int rc = etude_store_create(st, "goal", NULL, json, id);
    free(json);
    if (rc) {
        fprintf(stderr, "etude goal add: %s\n", etude_store_errmsg(st));
        return 1;
    }
    printf("%s\n", id);
    return 0;
}

/* ---- progress ------------------------------------------------------------------------------ */

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

typedef struct goal_ctx {
    etude_store_t *st;
    int json, progress, n, failed;
    cJSON *array;
} goal_ctx_t;

static int goal_one(void *user, const etude_entity_t *e)
{
    goal_ctx_t *x = user;
    cJSON *d = cJSON_Parse(e->data);
    if (!d)
        return 0;
    x->n++;
    const char *kind = jstr(d, "kind"), *period = jstr(d, "period");
    double target = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "target"));
    struct {
        char since[32];
        double value;
    } p = {{0}, 0};
    if (x->progress && kind &&
        etude_logbook_goal_progress(x->st, d, etude_time_wall_ms(), &p.value, p.since) < 0) {
        fprintf(stderr, "etude goal progress: %s\n", etude_store_errmsg(x->st));
        x->failed = 1;
        cJSON_Delete(d);
        return 1;
    }
    const char *preset = jstr(d, "preset"), *material = jstr(d, "material");
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", e->id);
        cJSON_AddItemToObject(o, "goal", cJSON_Duplicate(d, 1));
        if (x->progress) {
            cJSON_AddNumberToObject(o, "value", round(p.value * 100) / 100);
            cJSON_AddNumberToObject(o, "ratio", target > 0 ? round(p.value / target * 1000) / 1000 : 0);
            cJSON_AddBoolToObject(o, "reached", p.value >= target);
            if (kind && !strcmp(kind, "minutes"))
                cJSON_AddStringToObject(o, "since", p.since);
        }
        cJSON_AddItemToArray(x->array, o);
    } else {
        char what[300];
        if (kind && !strcmp(kind, "minutes"))
            snprintf(what, sizeof what, "%g minutes per %s%s%s", target, period ? period : "day",
                     preset ? " with " : "", preset ? preset : "");
        else
            snprintf(what, sizeof what, "%g bpm with %s", target, preset ? preset : material ? material : "?");
        if (x->progress) {
            const char *unit = kind && !strcmp(kind, "minutes") ? " min" : " bpm";
            printf("%.8s  %-48s %7.1f%s  %3.0f%%%s\n", e->id, what, p.value, unit,
                   target > 0 ? fmin(100.0, p.value / target * 100) : 0, p.value >= target ? "  reached" : "");
        } else {
            printf("%.8s  %s\n", e->id, what);
        }
    }
    cJSON_Delete(d);
    return 0;
}

static int cmd_list(etude_store_t *st, int argc, char **argv, int progress)
{
    goal_ctx_t x = {.st = st, .progress = progress};
    const char *only = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            x.json = 1;
        else if (progress && !only && argv[i][0] != '-')
            only = argv[i];
        else {
            fprintf(stderr, "etude goal %s: unexpected argument '%s'\n", argv[1], argv[i]);
            return 2;
        }
    }
    if (x.json)
        x.array = cJSON_CreateArray();
    int rc = 0;
    if (only) {
        char id[37];
        etude_entity_t e;
        if (etude_store_resolve(st, only, id) || etude_store_get(st, id, &e)) {
            fprintf(stderr, "etude goal progress: %s\n", etude_store_errmsg(st));
            cJSON_Delete(x.array);
            return 1;
        }
        if (strcmp(e.entity_type, "goal") || e.deleted_at[0]) {
            fprintf(stderr, "etude goal progress: %s is not a goal%s\n", only, e.deleted_at[0] ? " (deleted)" : "");
            etude_entity_clear(&e);
            cJSON_Delete(x.array);
            return 1;
        }
        goal_one(&x, &e);
        etude_entity_clear(&e);
    } else {
        rc = etude_store_list(st, "goal", NULL, 0, goal_one, &x);
    }
    if (rc || x.failed) {
        if (!x.failed)
            fprintf(stderr, "etude goal: %s\n", etude_store_errmsg(st));
        cJSON_Delete(x.array);
        return 1;
    }
    if (x.json) {
        char *t = cJSON_PrintUnformatted(x.array);
        printf("%s\n", t ? t : "[]");
        free(t);
        cJSON_Delete(x.array);
    } else if (!x.n) {
        printf("no goals yet (etude goal add ...)\n");
    }
    return 0;
}

static int cmd_delete(etude_store_t *st, const char *ref)
{
    char id[37];
    etude_entity_t e;
    if (etude_store_resolve(st, ref, id) || etude_store_get(st, id, &e)) {
        fprintf(stderr, "etude goal delete: %s\n", etude_store_errmsg(st));
        return 1;
    }
    int is_goal = !strcmp(e.entity_type, "goal");
    etude_entity_clear(&e);
    if (!is_goal) {
        fprintf(stderr, "etude goal delete: %s is not a goal\n", ref);
        return 1;
    }
    if (etude_store_delete(st, id)) {
        fprintf(stderr, "etude goal delete: %s\n", etude_store_errmsg(st));
        return 1;
    }
    return 0;
}

int etude_cmd_goal(int argc, char **argv)
{
    if (argc < 2)
        return bad("missing subcommand: add, list, progress or delete");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        printf("usage:\n%s", etude_cmd_goal_usage);
        return 0;
    }
    if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "progress") && strcmp(sub, "delete")) {
        fprintf(stderr, "etude goal: unknown subcommand '%s' (expected add, list, progress or delete)\n", sub);
        return 2;
    }
    if (!strcmp(sub, "delete") && argc != 3)
        return bad("goal delete: expected one ID");
    etude_store_t *st;
    if (cli_store_open("goal", &st))
        return 1;
    int rc;
    if (!strcmp(sub, "add"))
        rc = cmd_add(st, argc, argv);
    else if (!strcmp(sub, "list"))
        rc = cmd_list(st, argc, argv, 0);
    else if (!strcmp(sub, "progress"))
        rc = cmd_list(st, argc, argv, 1);
    else
        rc = cmd_delete(st, argv[2]);
    etude_store_close(st);
    return rc;
}
