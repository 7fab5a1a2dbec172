/* cmd_log.c - `etude log`: the practice log (recorded sessions) and the logbook (notes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_canon.h"
#include "cli_store.h"
#include "etude_store.h"

const char etude_cmd_log_usage[] =
    "  log list [--json] [--all]                 recorded sessions and logbook notes (--all: with deleted)\n"
    "  log show ID                               one entry with its segments and notes (ID or a prefix)\n"
    "  log note TEXT [--session ID]              add a logbook note, optionally tied to a session\n"
    "  log edit ID TEXT                          change a note's text (or a session's note)\n"
    "  log delete ID                             delete an entry (a tombstone that syncs)\n";

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
        double secs = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "activeSeconds"));
        double lo = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "tempoMinBpm"));
        double hi = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "tempoMaxBpm"));
        const char *mat = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "material"));
        char tempo[48];
        if (lo == hi)
            snprintf(tempo, sizeof tempo, "%g bpm", lo);
        else
            snprintf(tempo, sizeof tempo, "%g-%g bpm", lo, hi);
        const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "command"));
        printf("%.8s  %s  %-8s %3dm%02ds  %-14s %s%s%s\n", e->id, when,
               cmd && !strcmp(cmd, "render") ? "rendered" : "played", (int)(secs / 60), (int)secs % 60, tempo,
               mat ? mat : "", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "interrupted")) ? "  [interrupted]" : "",
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

static int cmd_show(etude_store_t *st, const char *ref)
{
    char id[37];
    etude_entity_t e;
    if (etude_store_resolve(st, ref, id) || etude_store_get(st, id, &e)) {
        fprintf(stderr, "etude log show: %s\n", etude_store_errmsg(st));
        return 1;
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
        return usage_error("missing subcommand: list, show, note, edit or delete");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        printf("usage:\n%s", etude_cmd_log_usage);
        return 0;
    }
    int known = !strcmp(sub, "list") || !strcmp(sub, "show") || !strcmp(sub, "note") || !strcmp(sub, "edit") ||
                !strcmp(sub, "delete");
    if (!known) {
        fprintf(stderr, "etude log: unknown subcommand '%s' (expected list, show, note, edit or delete)\n", sub);
        return 2;
    }
    if ((!strcmp(sub, "show") || !strcmp(sub, "delete")) && argc != 3)
        return usage_error(!strcmp(sub, "show") ? "log show: expected one ID" : "log delete: expected one ID");
    if (!strcmp(sub, "edit") && argc != 4)
        return usage_error("log edit: expected ID and TEXT");
    etude_store_t *st;
    if (cli_store_open("log", &st))
        return 1;
    int rc;
    if (!strcmp(sub, "list"))
        rc = cmd_list(st, argc, argv);
    else if (!strcmp(sub, "show"))
        rc = cmd_show(st, argv[2]);
    else if (!strcmp(sub, "note"))
        rc = cmd_note(st, argc, argv);
    else if (!strcmp(sub, "edit"))
        rc = cmd_edit(st, argv[2], argv[3]);
    else
        rc = cmd_delete(st, argv[2]);
    etude_store_close(st);
    return rc;
}
