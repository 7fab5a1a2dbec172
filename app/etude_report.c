/* etude_report.c - the offline practice report: the store's sessions, notes and goals with the
 * dashboard's charts (web/assets/charts.js) in one self-contained HTML file. */
#include "etude_report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "etude_error.h"
#include "etude_logbook.h"
#include "etude_web.h"

static void seterr(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
    if (err && len)
        snprintf(err, len, fmt, a, b);
}

/* ---- the data ----------------------------------------------------------------------------- */

typedef struct collect {
    cJSON *array;
    const char *since; /* ISO; entities before it are left out */
    const char *time_field; /* data field holding the time compared with since, or NULL: createdAt */
    int oom;
} collect_t;

static int collect_entity(void *user, const etude_entity_t *e)
{
    collect_t *c = user;
    cJSON *d = cJSON_Parse(e->data ? e->data : "null");
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        return 0;
    }
    if (c->since) {
        const char *t = c->time_field ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, c->time_field))
                                      : e->created_at;
        if (!t || strcmp(t, c->since) < 0) {
            cJSON_Delete(d);
            return 0;
        }
    }
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", e->id) || !cJSON_AddStringToObject(o, "entityType", e->entity_type) ||
        !cJSON_AddStringToObject(o, "createdAt", e->created_at) ||
        !cJSON_AddStringToObject(o, "updatedAt", e->updated_at)) {
        cJSON_Delete(o);
        cJSON_Delete(d);
        c->oom = 1;
        return 1;
    }
    cJSON_AddItemToObject(o, "data", d);
    cJSON_AddItemToArray(c->array, o);
    return 0;
}

static int list_into(etude_store_t *st, cJSON *root, const char *name, const char *type, const char *since,
                     const char *time_field, char *err, size_t errlen)
{
    collect_t c = {cJSON_CreateArray(), since, time_field, 0};
    if (!c.array || !cJSON_AddItemToObject(root, name, c.array)) {
        cJSON_Delete(c.array);
        seterr(err, errlen, "%s%s", "out of memory", "");
        return ETUDE_ENOMEM;
    }
    int rc = etude_store_list(st, type, NULL, 0, collect_entity, &c);
    if (c.oom) {
        seterr(err, errlen, "%s%s", "out of memory", "");
        return ETUDE_ENOMEM;
    }
    if (rc)
        seterr(err, errlen, "%s%s", etude_store_errmsg(st), "");
    return rc;
}

/* Each goal's progress as `etude goal progress --json` prints it (cli/cmd_goal.c). */
static int add_progress(etude_store_t *st, cJSON *goals, int64_t now_ms, char *err, size_t errlen)
{
    cJSON *g;
    cJSON_ArrayForEach(g, goals)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(g, "data");
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "kind"));
        const cJSON *tv = cJSON_GetObjectItemCaseSensitive(d, "target");
        double target = cJSON_IsNumber(tv) ? tv->valuedouble : 0, value = 0;
        char since[32] = "";
        if (kind) {
            int rc = etude_logbook_goal_progress(st, d, now_ms, &value, since);
            if (rc) {
                seterr(err, errlen, "%s%s", etude_store_errmsg(st), "");
                return rc;
            }
        }
        cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddNumberToObject(p, "value", round(value * 100) / 100) ||
            !cJSON_AddNumberToObject(p, "ratio", target > 0 ? round(value / target * 1000) / 1000 : 0) ||
            !cJSON_AddBoolToObject(p, "reached", value >= target) ||
            (kind && !strcmp(kind, "minutes") && !cJSON_AddStringToObject(p, "since", since))) {
            cJSON_Delete(p);
            seterr(err, errlen, "%s%s", "out of memory", "");
            return ETUDE_ENOMEM;
        }
        cJSON_AddItemToObject(g, "progress", p);
    }
    return ETUDE_OK;
}

static int build_data(etude_store_t *st, const etude_report_opts_t *opts, char **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *since_day = opts ? opts->since : NULL;
    int64_t now = opts && opts->now_ms ? opts->now_ms : etude_time_wall_ms();
    char since[32] = "", gen[32];
    if (since_day) {
        int64_t ms;
        if (etude_logbook_parse_date(since_day, &ms)) {
            seterr(err, errlen, "--since '%s': expected a date YYYY-MM-DD (UTC)%s", since_day, "");
            return ETUDE_EINVAL;
        }
        etude_time_format_ms(ms, since);
    }
    etude_time_format_ms(now, gen);
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddNumberToObject(root, "etudeReport", 1) || !cJSON_AddStringToObject(root, "generatedAt", gen) ||
        !(since_day ? cJSON_AddStringToObject(root, "since", since_day) : cJSON_AddNullToObject(root, "since"))) {
        cJSON_Delete(root);
        seterr(err, errlen, "%s%s", "out of memory", "");
        return ETUDE_ENOMEM;
    }
    const char *sc = since_day ? since : NULL;
    int rc = list_into(st, root, "sessions", "practiceSession", sc, "startedAt", err, errlen);
    if (!rc)
        rc = list_into(st, root, "notes", "logbookEntry", sc, NULL, err, errlen);
    if (!rc)
        rc = list_into(st, root, "goals", "goal", NULL, NULL, err, errlen);
    if (!rc)
        rc = add_progress(st, cJSON_GetObjectItemCaseSensitive(root, "goals"), now, err, errlen);
    char *text = rc ? NULL : cJSON_PrintUnformatted(root);
    if (!rc && !text) {
        seterr(err, errlen, "%s%s", "out of memory", "");
        rc = ETUDE_ENOMEM;
    }
    cJSON_Delete(root);
    *out = text;
    return rc;
}

char *etude_report_data_json(etude_store_t *st, const etude_report_opts_t *opts, char *err, size_t errlen)
{
    char *text;
    build_data(st, opts, &text, err, errlen);
    return text;
}

/* ---- the page ----------------------------------------------------------------------------- */

/* The CSP source of an inline element's exact text: 'sha256-BASE64'. */
static void csp_hash(const unsigned char *text, size_t len, char out[64])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, text, len);
    char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, 64, "'sha256-%s'", b64);
}

/* Nonzero if text holds "</tag" in any case: it would end the element it is inlined in. */
static int holds_end_tag(const unsigned char *text, size_t len, const char *tag)
{
    size_t n = strlen(tag);
    for (size_t i = 0; i + 2 + n <= len; i++)
        if (text[i] == '<' && text[i + 1] == '/' && !strncasecmp((const char *)text + i + 2, tag, n))
            return 1;
    return 0;
}

/* The data JSON with every '<' written as \u003c (still the same JSON). */
static int put_json(FILE *f, const char *json)
{
    for (const char *p = json; *p; p++) {
        if (*p == '<') {
            if (fputs("\\u003c", f) == EOF)
                return -1;
        } else if (putc(*p, f) == EOF) {
            return -1;
        }
    }
    return 0;
}

static int write_page(FILE *f, const char *json, char *err, size_t errlen)
{
    const etude_web_asset_t *js = etude_web_asset_find("/charts.js"), *css = etude_web_asset_find("/app.css");
    if (!js || !css || holds_end_tag(js->data, js->len, "script") || holds_end_tag(css->data, css->len, "style")) {
        seterr(err, errlen, "%s%s", "the embedded charts.js or app.css is missing or cannot be inlined", "");
        return ETUDE_EINVAL;
    }
    if (sodium_init() < 0) {
        seterr(err, errlen, "%s%s", "libsodium could not be initialised", "");
        return ETUDE_EIO;
    }
    char hjs[64], hcss[64];
    csp_hash(js->data, js->len, hjs);
    csp_hash(css->data, css->len, hcss);
    fprintf(f,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src %s; style-src %s; "
            "img-src data:; base-uri 'none'; form-action 'none'\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>etude practice report</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>",
            hjs, hcss);
    fwrite(css->data, 1, css->len, f);
    fputs("</style>\n</head>\n<body data-mode=\"report\" data-state=\"loading\">\n"
          "<header class=\"top\"><h1>etude practice report</h1><p id=\"report-span\" class=\"sub\"></p></header>\n"
          "<main id=\"practice\" class=\"grid\"><noscript>The charts need JavaScript.</noscript></main>\n"
          "<script type=\"application/json\" id=\"etude-data\">",
          f);
    put_json(f, json);
    fputs("</script>\n<script>", f);
    fwrite(js->data, 1, js->len, f);
    fputs("</script>\n</body>\n</html>\n", f);
    return ferror(f) ? ETUDE_EIO : ETUDE_OK;
}

int etude_report_write_file(etude_store_t *st, const etude_report_opts_t *opts, const char *path, char *err,
                            size_t errlen)
{
    char *json;
    int brc = build_data(st, opts, &json, err, errlen);
    if (brc)
        return brc;
    size_t n = strlen(path) + 48;
    char *tmp = malloc(n);
    if (!tmp) {
        free(json);
        seterr(err, errlen, "%s%s", "out of memory", "");
        return ETUDE_ENOMEM;
    }
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        snprintf(tmp, n, "%s.tmp.%d.%d", path, (int)getpid(), i);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        free(tmp);
        free(json);
        return ETUDE_EIO;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        free(json);
        return ETUDE_EIO;
    }
    int rc = write_page(f, json, err, errlen);
    free(json);
    if (!rc && (fflush(f) || fsync(fileno(f)))) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        rc = ETUDE_EIO;
    }
    if (fclose(f) && !rc) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        rc = ETUDE_EIO;
    }
    if (!rc && rename(tmp, path)) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        rc = ETUDE_EIO;
    }
    if (rc && rc != ETUDE_EINVAL && err && errlen && !err[0])
        seterr(err, errlen, "%s: %s", path, "could not be written");
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
