/* etude_entity.c - entity validators shared by client and server, and the duplicate rule. */
#include "etude_entity.h"

#include "etude_canon.h"
#include "etude_error.h"
#include "etude_time.h"
#include "etude_uuid.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_53 9007199254740992.0

static const char *const entity_types[] = {"practiceSession", "practiceLog", "goal", "logbookEntry"};

int etude_entity_type_known(const char *type)
{
    if (!type)
        return 0;
    for (size_t i = 0; i < sizeof entity_types / sizeof *entity_types; i++)
        if (!strcmp(type, entity_types[i]))
            return 1;
    return 0;
}

static int refuse(etude_entity_fault_t *f, const char *field, const char *fmt, ...)
{
    if (f) {
        snprintf(f->field, sizeof f->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->reason, sizeof f->reason, fmt, ap);
        va_end(ap);
    }
    return ETUDE_EINVAL;
}

/* ---- generic data rules: UTF-8, finite numbers, depth ---- */

static int walk(const cJSON *v, int depth, const char *path, etude_entity_fault_t *f)
{
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
        return refuse(f, path, "not a finite number");
    if (cJSON_IsString(v) && (!v->valuestring || !etude_utf8_valid(v->valuestring, strlen(v->valuestring))))
        return refuse(f, path, "not valid UTF-8");
    if (cJSON_IsRaw(v) || cJSON_IsInvalid(v))
        return refuse(f, path, "not a JSON value");
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return 0;
    if (depth > ETUDE_ENTITY_MAX_DEPTH)
        return refuse(f, path, "nested deeper than %d levels", ETUDE_ENTITY_MAX_DEPTH);
    for (const cJSON *c = v->child; c; c = c->next) {
        char sub[64];
        if (cJSON_IsObject(v)) {
            if (!c->string || !etude_utf8_valid(c->string, strlen(c->string)))
                return refuse(f, path, "a key is not valid UTF-8");
            /* The path names top-level fields; deeper ones are reported by their top field. */
            if (depth == 1)
                snprintf(sub, sizeof sub, "data.%.58s", c->string);
            else
                snprintf(sub, sizeof sub, "%s", path);
        } else {
            snprintf(sub, sizeof sub, "%s", path);
        }
        int rc = walk(c, depth + 1, sub, f);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- known fields ---- */

enum kind { K_STRING, K_STRING_OR_NULL, K_BOOL, K_TIME, K_UUID, K_NUMBER, K_NUMBER_OR_NULL, K_INTEGER, K_ARRAY,
            K_OBJECT_OR_NULL, K_HASH };

typedef struct field_rule {
    const char *type, *name;
    enum kind kind;
    double lo, hi;  /* for numbers: lo <= x <= hi */
    int lo_open;    /* lo < x instead */
} field_rule_t;

static const field_rule_t rules[] = {
    {"practiceSession", "startedAt", K_TIME, 0, 0, 0},
    {"practiceSession", "endedAt", K_TIME, 0, 0, 0},
    {"practiceSession", "command", K_STRING, 0, 0, 0},
    {"practiceSession", "material", K_STRING, 0, 0, 0},
    {"practiceSession", "materialPath", K_STRING, 0, 0, 0},
    {"practiceSession", "materialHash", K_HASH, 0, 0, 0},
    {"practiceSession", "endReason", K_STRING, 0, 0, 0},
    {"practiceSession", "note", K_STRING, 0, 0, 0},
    {"practiceSession", "preset", K_STRING_OR_NULL, 0, 0, 0},
    {"practiceSession", "interrupted", K_BOOL, 0, 0, 0},
    {"practiceSession", "rate", K_NUMBER, 0, 10000000, 0},
    {"practiceSession", "activeSeconds", K_NUMBER, 0, TWO_53, 0},
    {"practiceSession", "bars", K_NUMBER, 0, TWO_53, 0},
    {"practiceSession", "segments", K_NUMBER, 0, TWO_53, 0},
    {"practiceSession", "loops", K_NUMBER, 0, TWO_53, 0},
    {"practiceSession", "xruns", K_NUMBER, 0, TWO_53, 0},
    {"practiceSession", "tempoMinBpm", K_NUMBER, 0, 100000, 0},
    {"practiceSession", "tempoMaxBpm", K_NUMBER, 0, 100000, 0},
    {"practiceSession", "notes", K_NUMBER_OR_NULL, 0, TWO_53, 0},
    {"practiceSession", "tempoTime", K_ARRAY, 0, 0, 0},
    {"practiceSession", "voices", K_ARRAY, 0, 0, 0},
    {"practiceSession", "timing", K_OBJECT_OR_NULL, 0, 0, 0},
    {"practiceLog", "sessionId", K_UUID, 0, 0, 0},
    {"practiceLog", "index", K_INTEGER, 0, TWO_53, 0},
    {"practiceLog", "startedAt", K_TIME, 0, 0, 0},
    {"practiceLog", "startBar", K_INTEGER, -TWO_53, TWO_53, 0},
    {"practiceLog", "endBar", K_INTEGER, -TWO_53, TWO_53, 0},
    {"practiceLog", "bars", K_INTEGER, -TWO_53, TWO_53, 0},
    {"practiceLog", "bpm", K_NUMBER, 0, 100000, 0},
    {"practiceLog", "startSeconds", K_NUMBER, 0, TWO_53, 0},
    {"practiceLog", "seconds", K_NUMBER, 0, TWO_53, 0},
    {"practiceLog", "section", K_STRING, 0, 0, 0},
    {"goal", "kind", K_STRING, 0, 0, 0},
    {"goal", "period", K_STRING, 0, 0, 0},
    {"goal", "preset", K_STRING, 0, 0, 0},
    {"goal", "material", K_STRING, 0, 0, 0},
    {"goal", "materialPath", K_STRING, 0, 0, 0},
    {"goal", "materialHash", K_HASH, 0, 0, 0},
    {"goal", "target", K_NUMBER, 0, HUGE_VAL, 1},
    {"logbookEntry", "text", K_STRING, 0, 0, 0},
    {"logbookEntry", "sessionId", K_UUID, 0, 0, 0},
};

static int check_rule(const field_rule_t *r, const cJSON *v, etude_entity_fault_t *f)
{
    char field[64];
    snprintf(field, sizeof field, "data.%s", r->name);
    switch (r->kind) {
    case K_STRING_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        /* fall through */
    case K_STRING:
        return cJSON_IsString(v) ? 0 : refuse(f, field, r->kind == K_STRING ? "must be a string" : "must be a string or null");
    case K_BOOL:
        return cJSON_IsBool(v) ? 0 : refuse(f, field, "must be true or false");
    case K_TIME:
        if (!cJSON_IsString(v) || etude_time_parse_ms(v->valuestring, NULL))
            return refuse(f, field, "must be a UTC time like 2026-01-31T12:00:00.000Z");
        return 0;
    case K_UUID:
        return cJSON_IsString(v) && etude_uuid_valid(v->valuestring) ? 0 : refuse(f, field, "must be a lowercase UUID");
    case K_ARRAY:
        return cJSON_IsArray(v) ? 0 : refuse(f, field, "must be an array");
    case K_HASH: {
        int ok = cJSON_IsString(v) && strlen(v->valuestring) == 64;
        for (const char *c = ok ? v->valuestring : ""; ok && *c; c++)
            ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
        return ok ? 0 : refuse(f, field, "must be 64 lowercase hex digits (a BLAKE2b-256 hash)");
    }
    case K_OBJECT_OR_NULL:
        return cJSON_IsObject(v) || cJSON_IsNull(v) ? 0 : refuse(f, field, "must be an object or null");
    case K_NUMBER_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        /* fall through */
    case K_NUMBER:
    case K_INTEGER: {
        if (!cJSON_IsNumber(v))
            return refuse(f, field, r->kind == K_INTEGER ? "must be an integer" : "must be a number");
        double x = v->valuedouble;
        if (r->kind == K_INTEGER && x != floor(x))
            return refuse(f, field, "must be an integer");
        if ((r->lo_open ? !(x > r->lo) : !(x >= r->lo)) || !(x <= r->hi)) {
            char lo[ETUDE_CANON_NUMBER_LEN], hi[ETUDE_CANON_NUMBER_LEN];
            etude_canon_number(r->lo, lo);
            if (isinf(r->hi))
                return refuse(f, field, "must be a number %s %s", r->lo_open ? ">" : ">=", lo);
            etude_canon_number(r->hi, hi);
            return refuse(f, field, "out of range (accepted: %s%s, %s])", r->lo_open ? "(" : "[", lo, hi);
        }
        return 0;
    }
    }
    return 0;
}

int etude_entity_check_data(const char *type, const cJSON *data, etude_entity_fault_t *f)
{
    if (!cJSON_IsObject(data))
        return refuse(f, "data", data && !cJSON_IsNull(data) ? "must be a JSON object" : "missing");
    int rc = walk(data, 1, "data", f);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        if (!type || strcmp(rules[i].type, type))
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, rules[i].name);
        if (v && (rc = check_rule(&rules[i], v, f)))
            return rc;
    }
    char *canon = NULL;
    rc = etude_canon_cjson(data, &canon);
    if (rc == ETUDE_ENOMEM)
        return rc;
    if (rc)
        return refuse(f, "data", "cannot be canonicalised (duplicate keys?)");
    size_t n = strlen(canon);
    free(canon);
    if (n > ETUDE_ENTITY_MAX_DATA_BYTES)
        return refuse(f, "data", "oversized: %zu bytes of canonical JSON, limit %d", n, ETUDE_ENTITY_MAX_DATA_BYTES);
    return 0;
}

static int check_time(const char *field, const char *text, int64_t now_ms, int64_t *ms, etude_entity_fault_t *f)
{
    if (!text)
        return refuse(f, field, "missing");
    if (etude_time_parse_ms(text, ms))
        return refuse(f, field, "must be a UTC time with milliseconds like 2026-01-31T12:00:00.000Z (a real date, "
                                "years 1970-9999, Z offset)");
    if (now_ms > 0 && *ms > now_ms + ETUDE_ENTITY_MAX_AHEAD_MS)
        return refuse(f, field, "%lld s ahead of the clock of the side checking (at most %lld s accepted)",
                      (long long)((*ms - now_ms) / 1000), (long long)(ETUDE_ENTITY_MAX_AHEAD_MS / 1000));
    return 0;
}

int etude_entity_check(const etude_entity_view_t *e, int64_t now_ms, etude_entity_fault_t *f)
{
    if (!e->id)
        return refuse(f, "id", "missing");
    if (!etude_uuid_valid(e->id))
        return refuse(f, "id", "must be a lowercase UUID (8-4-4-4-12 hex digits)");
    if (!e->type)
        return refuse(f, "entityType", "missing");
    if (!etude_entity_type_known(e->type))
        return refuse(f, "entityType", "unknown entity type (accepted: practiceSession, practiceLog, goal, logbookEntry)");
    int64_t c, u, d;
    int rc;
    if ((rc = check_time("createdAt", e->created_at, now_ms, &c, f)) ||
        (rc = check_time("updatedAt", e->updated_at, now_ms, &u, f)))
        return rc;
    if (u < c)
        return refuse(f, "updatedAt", "before createdAt");
    if (e->deleted_at) {
        if ((rc = check_time("deletedAt", e->deleted_at, now_ms, &d, f)))
            return rc;
        if (d < c)
            return refuse(f, "deletedAt", "before createdAt");
        if (!e->data || cJSON_IsNull(e->data))
            return 0; /* a tombstone keeps no data */
    }
    return etude_entity_check_data(e->type, e->data, f);
}

static int session_times(const cJSON *d, int64_t *start, int64_t *dur)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "startedAt"), *e = cJSON_GetObjectItemCaseSensitive(d, "endedAt");
    int64_t a, b;
    if (!cJSON_IsString(s) || !cJSON_IsString(e) || etude_time_parse_ms(s->valuestring, &a) ||
        etude_time_parse_ms(e->valuestring, &b))
        return -1;
    *start = a;
    *dur = b - a;
    return 0;
}

static int same_string_or_null(const cJSON *a, const cJSON *b)
{
    if ((!a || cJSON_IsNull(a)) && (!b || cJSON_IsNull(b)))
        return 1;
    return cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
}

int etude_entity_same_thing(const char *type, const cJSON *a, const cJSON *b)
{
    if (!type || strcmp(type, "practiceSession") || !cJSON_IsObject(a) || !cJSON_IsObject(b))
        return 0;
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(a, "material"), *mb = cJSON_GetObjectItemCaseSensitive(b, "material");
    if (!cJSON_IsString(ma) || !cJSON_IsString(mb) || strcmp(ma->valuestring, mb->valuestring))
        return 0;
    if (!same_string_or_null(cJSON_GetObjectItemCaseSensitive(a, "preset"), cJSON_GetObjectItemCaseSensitive(b, "preset")))
        return 0;
    int64_t sa, da, sb, db;
    if (session_times(a, &sa, &da) || session_times(b, &sb, &db))
        return 0;
    return llabs(sa - sb) <= ETUDE_ENTITY_DUP_START_MS && llabs(da - db) <= ETUDE_ENTITY_DUP_DURATION_MS;
}
