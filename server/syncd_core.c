/* syncd_core.c - etude-syncd GraphQL-over-HTTP core: envelope, trusted documents, auth, handlers. */
#include "syncd.h"

#include "etude_canon.h"
#include "etude_time.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

typedef struct known_doc {
    char hash[65];
    const etude_syncd_document_t *doc;
} known_doc_t;

struct etude_syncd {
    etude_syncd_config_t cfg;
    etude_syncd_store_t *st;
    etude_syncd_metrics_t *m;
    etude_syncd_hub_t *hub;
    known_doc_t docs[16];
    size_t ndocs;
    unsigned char csrf_key[32]; /* the database's secret "csrf": the same for every process */
};

etude_syncd_t *etude_syncd_create(const etude_syncd_config_t *cfg, etude_syncd_store_t *st,
                                  etude_syncd_metrics_t *m, etude_syncd_hub_t *h)
{
    if (sodium_init() < 0)
        return NULL;
    etude_syncd_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->st = st;
    s->m = m;
    s->hub = h;
    if (etude_syncd_store_secret(st, "csrf", s->csrf_key) != 0) {
        free(s);
        return NULL;
    }
    /* Hashes are computed from the embedded bytes at start-up, so they cannot drift from them. */
    for (size_t i = 0; i < etude_syncd_document_count && s->ndocs < 16; i++) {
        etude_syncd_sha256_hex(etude_syncd_documents[i].text, etude_syncd_documents[i].len,
                               s->docs[s->ndocs].hash);
        s->docs[s->ndocs++].doc = &etude_syncd_documents[i];
    }
    return s;
}

void etude_syncd_destroy(etude_syncd_t *s)
{
    if (!s)
        return;
    sodium_memzero(s->csrf_key, sizeof s->csrf_key);
    free(s);
}

/* ---- replies ---- */

/* Every /graphql answer tells the client the server's clock, so devices can correct their own. */
void etude_syncd_add_server_time(cJSON *root)
{
    cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "extensions");
    if (!x)
        x = cJSON_AddObjectToObject(root, "extensions");
    if (x)
        cJSON_AddNumberToObject(x, "serverTimeMs", (double)etude_syncd_now_ms());
}

static void finish(etude_syncd_t *s, etude_syncd_reply_t *r, int status, cJSON *root)
{
    etude_syncd_add_server_time(root);
    r->status = status;
    char *text = etude_canon_print(root); /* exact numbers, unlike cJSON's printer */
    cJSON_Delete(root);
    if (!text) {
        r->status = 500;
        text = strdup("{\"errors\":[{\"message\":\"out of memory\",\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}]}");
    }
    r->body = text;
    r->len = text ? strlen(text) : 0;
    (void)s;
}

static cJSON *error_object(const char *code, const char *message, const char *path)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "message", message);
    if (path) {
        cJSON *p = cJSON_AddArrayToObject(e, "path");
        cJSON_AddItemToArray(p, cJSON_CreateString(path));
    }
    cJSON *x = cJSON_AddObjectToObject(e, "extensions");
    cJSON_AddStringToObject(x, "code", code);
    return e;
}

/* A request error: no data entry, 4xx (or 200 for a well-formed request under application/json). */
static void request_error(etude_syncd_t *s, etude_syncd_reply_t *r, int status, int media,
                          int well_formed, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
#include <stdarg.h>
static void request_error(etude_syncd_t *s, etude_syncd_reply_t *r, int status, int media,
                          int well_formed, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *errs = cJSON_AddArrayToObject(root, "errors");
    cJSON_AddItemToArray(errs, error_object(code, msg, NULL));
    if (media == ETUDE_SYNCD_MEDIA_JSON && well_formed && status == 400)
        status = 200; /* the spec: application/json answers well-formed requests with 200 */
    etude_syncd_metrics_error(s->m, code);
    finish(s, r, status, root);
}

/* A field error: data.<field> is null and errors carries the path; always 200. */
static void field_error(etude_syncd_t *s, etude_syncd_reply_t *r, const char *field,
                        const char *code, const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *errs = cJSON_AddArrayToObject(root, "errors");
    cJSON_AddItemToArray(errs, error_object(code, msg, field));
    cJSON *data = cJSON_AddObjectToObject(root, "data");
    cJSON_AddNullToObject(data, field);
    etude_syncd_metrics_error(s->m, code);
    etude_syncd_metrics_operation(s->m, r->operation, code);
    finish(s, r, 200, root);
}

static void data_reply(etude_syncd_t *s, etude_syncd_reply_t *r, const char *field, cJSON *value)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddObjectToObject(root, "data");
    cJSON_AddItemToObject(data, field, value);
    etude_syncd_metrics_operation(s->m, r->operation, "ok");
    finish(s, r, 200, root);
}

/* ---- auth ---- */

int etude_syncd_authenticate(etude_syncd_t *s, const char *authorization, etude_syncd_user_t *user,
                             const char **why)
{
    *why = "missing";
    if (!authorization)
        return ETUDE_SYNCD_EAUTH;
    if (strncasecmp(authorization, "Bearer ", 7) != 0) {
        *why = "malformed";
        return ETUDE_SYNCD_EAUTH;
    }
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strlen(tok);
    if (n == 0 || n > 128) {
        *why = "malformed";
        return ETUDE_SYNCD_EAUTH;
    }
    int rc = etude_syncd_store_auth(s->st, tok, user, why);
    return rc == 0 ? 0 : ETUDE_SYNCD_EAUTH;
}

/* ---- variables ---- */

static const cJSON *var(const cJSON *vars, const char *name)
{
    const cJSON *v = vars ? cJSON_GetObjectItemCaseSensitive(vars, name) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int is_int(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) <= 2147483647.0;
}

static int is_id(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= 128;
}

/* ---- handlers ---- */

static void tokens_reply(etude_syncd_t *s, etude_syncd_reply_t *r, const char *field,
                         const etude_syncd_tokens_t *t, const etude_syncd_user_t *u)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "accessToken", t->access);
    cJSON_AddStringToObject(o, "refreshToken", t->refresh);
    cJSON_AddStringToObject(o, "tokenType", "Bearer");
    char buf[48];
    etude_syncd_format_time(t->access_expires, buf, sizeof buf);
    cJSON_AddStringToObject(o, "expiresAt", buf);
    etude_syncd_format_time(t->refresh_expires, buf, sizeof buf);
    cJSON_AddStringToObject(o, "refreshExpiresAt", buf);
    cJSON *uo = cJSON_AddObjectToObject(o, "user");
    cJSON_AddStringToObject(uo, "id", u->uuid);
    cJSON_AddStringToObject(uo, "name", u->name);
    data_reply(s, r, field, o);
}

/* The password check of Login and of the dashboard's POST /session, behind the same failed-login
 * counters: refused before the password is checked while throttled (ETUDE_SYNCD_ELIMIT, *wait
 * seconds, *by_user set when the user name's counter is the one at its limit). A device login
 * fills *t, a dashboard login token[64]. */
static int throttled_login(etude_syncd_t *s, const char *name, const char *password, const char *client,
                           int web, etude_syncd_tokens_t *t, char token[64], etude_syncd_user_t *user,
                           int *wait, int *by_user)
{
    const char *audit_op = web ? "webLogin" : "login";
    char ukey[144], ikey[144];
    snprintf(ukey, sizeof ukey, "u:%.128s", name);
    snprintf(ikey, sizeof ikey, "i:%.128s", client ? client : "");
    int64_t now = etude_syncd_now_ms();
    /* The counters live in the database: failures through one process count for all of them. */
    int wait_user = etude_syncd_store_throttle_wait(s->st, ukey, s->cfg.login_fail_user, s->cfg.login_window, now);
    int wait_ip = client ? etude_syncd_store_throttle_wait(s->st, ikey, s->cfg.login_fail_ip, s->cfg.login_window, now)
                         : 0;
    if (wait_user || wait_ip) {
        /* Refused before the password is checked, so guessing costs the server nothing. */
        *wait = wait_user > wait_ip ? wait_user : wait_ip;
        *by_user = wait_user != 0;
        etude_syncd_store_audit(s->st, 0, audit_op, name, "RATE_LIMITED");
        return ETUDE_SYNCD_ELIMIT;
    }
    int rc;
    if (strlen(name) > 127 || strlen(password) > 4096)
        rc = ETUDE_SYNCD_EAUTH;
    else if (web)
        rc = etude_syncd_store_login_web(s->st, name, password, s->cfg.session_ttl, token, user);
    else
        rc = etude_syncd_store_login(s->st, name, password, t, user);
    etude_syncd_store_audit(s->st, rc == 0 ? user->id : 0, audit_op, name, rc == 0 ? "ok" : "INVALID_CREDENTIALS");
    if (rc == ETUDE_SYNCD_EAUTH) {
        etude_syncd_store_throttle_fail(s->st, ukey, s->cfg.login_window, now);
        if (client)
            etude_syncd_store_throttle_fail(s->st, ikey, s->cfg.login_window, now);
    } else if (rc == 0) {
        etude_syncd_store_throttle_clear(s->st, ukey);
    }
    return rc;
}

int etude_syncd_web_login(etude_syncd_t *s, const char *name, const char *password, const char *client,
                          char token[64], etude_syncd_user_t *user, int *retry_after)
{
    int by_user = 0;
    *retry_after = 0;
    int rc = throttled_login(s, name, password, client, 1, NULL, token, user, retry_after, &by_user);
    etude_syncd_metrics_operation(s->m, "webLogin",
                                  rc == 0                      ? "ok"
                                  : rc == ETUDE_SYNCD_ELIMIT   ? "RATE_LIMITED"
                                  : rc == ETUDE_SYNCD_EAUTH    ? "INVALID_CREDENTIALS"
                                                               : "INTERNAL_SERVER_ERROR");
    return rc;
}

int etude_syncd_web_session(etude_syncd_t *s, const char *token, etude_syncd_user_t *user, const char **why)
{
    *why = "missing";
    if (!token || !token[0])
        return ETUDE_SYNCD_EAUTH;
    return etude_syncd_store_auth_web(s->st, token, user, why) == 0 ? 0 : ETUDE_SYNCD_EAUTH;
}

int etude_syncd_web_logout(etude_syncd_t *s, const etude_syncd_user_t *user)
{
    int rc = etude_syncd_store_logout(s->st, user);
    etude_syncd_store_audit(s->st, user->id, "webLogout", "", rc == 0 ? "ok" : "INTERNAL_SERVER_ERROR");
    return rc;
}

void etude_syncd_csrf_token(etude_syncd_t *s, const char *token, char out[64])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), s->csrf_key, sizeof s->csrf_key);
    sodium_bin2base64(out, 64, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(h, sizeof h);
}

int etude_syncd_csrf_ok(etude_syncd_t *s, const char *token, const char *header)
{
    if (!token || !header)
        return 0;
    char want[64];
    etude_syncd_csrf_token(s, token, want);
    size_t n = strlen(want);
    int ok = strlen(header) == n && sodium_memcmp(want, header, n) == 0;
    sodium_memzero(want, sizeof want);
    return ok;
}

int etude_syncd_parse_login_body(const char *body, size_t len, cJSON **doc, const char **name,
                                 const char **password, const char **why)
{
    *doc = NULL;
    *name = *password = NULL;
    cJSON *d = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    if (!d) {
        *why = "body: not valid JSON (expected {\"username\": \"...\", \"password\": \"...\"})";
        return ETUDE_SYNCD_EINVAL;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(d, "username");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "password");
    if (!cJSON_IsObject(d))
        *why = "body: expected a JSON object {\"username\": \"...\", \"password\": \"...\"}";
    else if (!cJSON_IsString(u))
        *why = "username: expected a string";
    else if (!cJSON_IsString(p))
        *why = "password: expected a string";
    else {
        *doc = d;
        *name = u->valuestring;
        *password = p->valuestring;
        return 0;
    }
    cJSON_Delete(d);
    return ETUDE_SYNCD_EINVAL;
}

static void do_login(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars,
                     const char *client)
{
    const cJSON *u = var(vars, "username"), *p = var(vars, "password");
    if (!cJSON_IsString(u) || !cJSON_IsString(p)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT",
                      "variables.%s: expected a String", cJSON_IsString(u) ? "password" : "username");
        return;
    }
    etude_syncd_tokens_t t;
    etude_syncd_user_t user;
    int wait = 0, by_user = 0;
    int rc = throttled_login(s, u->valuestring, p->valuestring, client, 0, &t, NULL, &user, &wait, &by_user);
    if (rc == ETUDE_SYNCD_ELIMIT) {
        request_error(s, r, 429, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, 1, "RATE_LIMITED",
                      "login: too many failed logins %s; retry in %d s",
                      by_user ? "for this user" : "from this address", wait);
        r->retry_after = wait;
        etude_syncd_metrics_operation(s->m, "Login", "RATE_LIMITED");
        return;
    }
    if (rc == ETUDE_SYNCD_EAUTH) {
        field_error(s, r, "login", "INVALID_CREDENTIALS", "login: unknown username or wrong password");
        return;
    }
    if (rc) {
        field_error(s, r, "login", "INTERNAL_SERVER_ERROR", "login: the database failed");
        return;
    }
    tokens_reply(s, r, "login", &t, &user);
    sodium_memzero(&t, sizeof t);
}

static void do_refresh(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars)
{
    const cJSON *rt = var(vars, "refreshToken");
    if (!cJSON_IsString(rt)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT",
                      "variables.refreshToken: expected a String");
        return;
    }
    etude_syncd_tokens_t t;
    etude_syncd_user_t user;
    int rc = strlen(rt->valuestring) > 128 ? ETUDE_SYNCD_EAUTH
                                           : etude_syncd_store_refresh(s->st, rt->valuestring, &t, &user);
    etude_syncd_store_audit(s->st, rc == 0 ? user.id : 0, "refreshToken", "",
                            rc == 0 ? "ok" : "INVALID_REFRESH_TOKEN");
    if (rc == ETUDE_SYNCD_EAUTH) {
        field_error(s, r, "refreshToken", "INVALID_REFRESH_TOKEN",
                    "refreshToken: the refresh token is unknown, expired or already used");
        return;
    }
    if (rc) {
        field_error(s, r, "refreshToken", "INTERNAL_SERVER_ERROR", "refreshToken: the database failed");
        return;
    }
    tokens_reply(s, r, "refreshToken", &t, &user);
    sodium_memzero(&t, sizeof t);
}

static void do_logout(etude_syncd_t *s, etude_syncd_reply_t *r, const etude_syncd_user_t *u)
{
    int rc = etude_syncd_store_logout(s->st, u);
    etude_syncd_store_audit(s->st, u->id, "logout", "", rc == 0 ? "ok" : "INTERNAL_SERVER_ERROR");
    if (rc)
        field_error(s, r, "logout", "INTERNAL_SERVER_ERROR", "logout: the database failed");
    else
        data_reply(s, r, "logout", cJSON_CreateTrue());
}

static void do_metadata(etude_syncd_t *s, etude_syncd_reply_t *r, const etude_syncd_user_t *u)
{
    cJSON *m = NULL;
    if (etude_syncd_store_metadata(s->st, u, &m) != 0) {
        field_error(s, r, "syncMetadata", "INTERNAL_SERVER_ERROR", "syncMetadata: the database failed");
        return;
    }
    data_reply(s, r, "syncMetadata", m);
}

/* The page size a paged query asked for (variables.limit; absent or null: the default), capped at
 * the server's maximum. -1 when it was refused, the answer then given. */
static int page_limit(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const char *field, const cJSON *limit,
                      int *n)
{
    if (limit && !is_int(limit)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.limit: expected an Int or null");
        return -1;
    }
    *n = s->cfg.default_page;
    if (limit) {
        if (limit->valuedouble < 1) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s: limit must be at least 1", field);
            field_error(s, r, field, "BAD_USER_INPUT", msg);
            return -1;
        }
        *n = limit->valuedouble > s->cfg.max_page ? s->cfg.max_page : (int)limit->valuedouble;
    }
    return 0;
}

static void do_changes(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars,
                       const etude_syncd_user_t *u)
{
    const cJSON *since = var(vars, "since"), *limit = var(vars, "limit");
    if (since && !cJSON_IsString(since)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.since: expected a String or null");
        return;
    }
    int n;
    if (page_limit(s, r, media, "syncChanges", limit, &n) != 0)
        return;
    cJSON *page = NULL;
    int64_t seq = 0;
    const char *why = NULL;
    int rc = etude_syncd_store_changes(s->st, u, since ? since->valuestring : NULL, n, &page, &seq, &why);
    if (rc == ETUDE_SYNCD_EINVAL) {
        etude_syncd_store_audit(s->st, u->id, "syncChanges", why, "INVALID_CURSOR");
        field_error(s, r, "syncChanges", "INVALID_CURSOR", why);
        return;
    }
    if (rc != 0) {
        field_error(s, r, "syncChanges", "INTERNAL_SERVER_ERROR", "syncChanges: the database failed");
        return;
    }
    char detail[96];
    snprintf(detail, sizeof detail, "since=%lld limit=%d returned=%d", (long long)seq, n,
             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "changes")));
    etude_syncd_store_audit(s->st, u->id, "syncChanges", detail, "ok");
    data_reply(s, r, "syncChanges", page);
}

static void do_upload(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars,
                      const etude_syncd_user_t *u)
{
    const cJSON *b = var(vars, "batch");
    if (!cJSON_IsObject(b)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.batch: expected an UploadBatchInput object");
        return;
    }
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(b, "batchId"),
                *dev = cJSON_GetObjectItemCaseSensitive(b, "deviceId"),
                *seq = cJSON_GetObjectItemCaseSensitive(b, "mutationSeq"),
                *ents = cJSON_GetObjectItemCaseSensitive(b, "entities");
    /* IDs are stored as text: bytes that are not UTF-8 are refused here, the same on either backend
     * (PostgreSQL's text would refuse them only in the database). */
    const char *bad = !is_id(bid) || !etude_utf8_valid(bid->valuestring, strlen(bid->valuestring))
                          ? "batchId: expected a non-empty UTF-8 ID of at most 128 bytes"
                      : !is_id(dev) || !etude_utf8_valid(dev->valuestring, strlen(dev->valuestring))
                          ? "deviceId: expected a non-empty UTF-8 ID of at most 128 bytes"
                      : !is_int(seq) || seq->valuedouble < 1 ? "mutationSeq: expected an Int >= 1"
                      : !cJSON_IsArray(ents)               ? "entities: expected a list of EntityInput"
                                                           : NULL;
    if (bad) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.batch.%s", bad);
        return;
    }
    int n = cJSON_GetArraySize(ents);
    if (n > s->cfg.max_batch) {
        /* The issue asks for 400 whatever the media type: the whole batch is refused. */
        request_error(s, r, 400, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, 1, "BATCH_TOO_LARGE",
                      "variables.batch.entities: %d entities, the limit is %d", n, s->cfg.max_batch);
        etude_syncd_store_audit(s->st, u->id, "uploadBatch", bid->valuestring, "BATCH_TOO_LARGE");
        return;
    }
    cJSON *res = NULL;
    etude_syncd_upload_stats_t stats;
    const char *code = NULL;
    char msg[256] = "";
    int rc = etude_syncd_store_upload(s->st, u, b, &res, &stats, &code, msg, sizeof msg);
    if (rc) {
        etude_syncd_store_audit(s->st, u->id, "uploadBatch", bid->valuestring, code);
        field_error(s, r, "uploadBatch", code, msg);
        return;
    }
    etude_syncd_metrics_upload(s->m, &stats);
    if (stats.replayed)
        etude_syncd_store_audit(s->st, u->id, "uploadBatch", bid->valuestring, "replayed");
    if (!stats.replayed && stats.accepted > 0)
        etude_syncd_hub_publish(s->hub, u->id, dev->valuestring, stats.latest_seq, stats.latest_cursor,
                                stats.accepted);
    data_reply(s, r, "uploadBatch", res);
}

/* ---- the dashboard's documents and the devices' reports ---- */

static int entity_type_name(const char *t)
{
    return strcmp(t, "practiceSession") == 0 || strcmp(t, "practiceLog") == 0 || strcmp(t, "goal") == 0 ||
           strcmp(t, "logbookEntry") == 0;
}

static void do_dashboard(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars,
                         const etude_syncd_user_t *u)
{
    const cJSON *type = var(vars, "entityType"), *after = var(vars, "after"), *limit = var(vars, "limit");
    if (!cJSON_IsString(type) || !entity_type_name(type->valuestring)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT",
                      "variables.entityType: expected one of practiceSession, practiceLog, goal, logbookEntry");
        return;
    }
    if (after && (!cJSON_IsString(after) || strlen(after->valuestring) > 64)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.after: expected a String (a page's next) or null");
        return;
    }
    int n;
    if (page_limit(s, r, media, "dashboardEntities", limit, &n) != 0)
        return;
    cJSON *page = NULL;
    const char *why = NULL;
    int rc = etude_syncd_store_dashboard(s->st, u, type->valuestring, after ? after->valuestring : NULL, n, &page, &why);
    if (rc == ETUDE_SYNCD_EINVAL) {
        field_error(s, r, "dashboardEntities", "INVALID_CURSOR", why);
        return;
    }
    if (rc) {
        field_error(s, r, "dashboardEntities", "INTERNAL_SERVER_ERROR", "dashboardEntities: the database failed");
        return;
    }
    data_reply(s, r, "dashboardEntities", page);
}

static void do_device_status(etude_syncd_t *s, etude_syncd_reply_t *r, const etude_syncd_user_t *u)
{
    cJSON *list = NULL;
    if (etude_syncd_store_device_status(s->st, u, &list) != 0) {
        field_error(s, r, "deviceSyncStatus", "INTERNAL_SERVER_ERROR", "deviceSyncStatus: the database failed");
        return;
    }
    data_reply(s, r, "deviceSyncStatus", list);
}

#define MAX_DEAD_LETTERS 50
#define MAX_REASON_CHARS 500

static size_t utf8_chars(const char *t)
{
    size_t n = 0;
    for (; *t; t++)
        n += ((unsigned char)*t & 0xc0) != 0x80;
    return n;
}

/* A string of 1..max bytes of valid UTF-8 (max_chars > 0: at most that many characters instead). */
static int text_ok(const cJSON *v, size_t max_bytes, size_t max_chars, int may_be_empty)
{
    if (!cJSON_IsString(v))
        return 0;
    size_t n = strlen(v->valuestring);
    if ((!may_be_empty && n == 0) || !etude_utf8_valid(v->valuestring, n))
        return 0;
    return max_chars ? utf8_chars(v->valuestring) <= max_chars : n <= max_bytes;
}

static int time_ok(const cJSON *v)
{
    int64_t t;
    return cJSON_IsString(v) && etude_time_parse_ms(v->valuestring, &t) == 0;
}

/* The first field of a SyncStatusInput at fault, as "field: reason" into msg; 0 when valid. */
static int check_status(const cJSON *st, char *msg, size_t len)
{
    if (!cJSON_IsObject(st)) {
        snprintf(msg, len, "status: expected a SyncStatusInput object");
        return -1;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, "deviceId");
    if (!is_id(v) || !etude_utf8_valid(v->valuestring, strlen(v->valuestring))) {
        snprintf(msg, len, "status.deviceId: expected a non-empty ID of at most 128 bytes");
        return -1;
    }
    v = cJSON_GetObjectItemCaseSensitive(st, "name");
    if (v && !cJSON_IsNull(v) && !text_ok(v, 256, 0, 1)) {
        snprintf(msg, len, "status.name: expected null or a UTF-8 string of at most 256 bytes");
        return -1;
    }
    if (!time_ok(cJSON_GetObjectItemCaseSensitive(st, "lastSyncAt"))) {
        snprintf(msg, len, "status.lastSyncAt: expected an RFC 3339 UTC time (e.g. 2026-12-06T10:00:00.000Z)");
        return -1;
    }
    static const char *const counts[] = {"pending", "conflicts"};
    for (int i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(st, counts[i]);
        if (!is_int(v) || v->valuedouble < 0) {
            snprintf(msg, len, "status.%s: expected an Int >= 0", counts[i]);
            return -1;
        }
    }
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(st, "deadLetters");
    if (!cJSON_IsArray(dl)) {
        snprintf(msg, len, "status.deadLetters: expected a list of DeadLetterInput");
        return -1;
    }
    int n = cJSON_GetArraySize(dl);
    if (n > MAX_DEAD_LETTERS) {
        snprintf(msg, len, "status.deadLetters: %d entries, the limit is %d", n, MAX_DEAD_LETTERS);
        return -1;
    }
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, dl)
    {
        if (!cJSON_IsObject(d)) {
            snprintf(msg, len, "status.deadLetters[%d]: expected a DeadLetterInput object", i);
            return -1;
        }
        v = cJSON_GetObjectItemCaseSensitive(d, "id");
        if (!is_id(v) || !etude_utf8_valid(v->valuestring, strlen(v->valuestring))) {
            snprintf(msg, len, "status.deadLetters[%d].id: expected a non-empty ID of at most 128 bytes", i);
            return -1;
        }
        if (!text_ok(cJSON_GetObjectItemCaseSensitive(d, "entityType"), 64, 0, 0)) {
            snprintf(msg, len, "status.deadLetters[%d].entityType: expected a non-empty string of at most 64 bytes", i);
            return -1;
        }
        if (!text_ok(cJSON_GetObjectItemCaseSensitive(d, "reason"), 0, MAX_REASON_CHARS, 1)) {
            snprintf(msg, len, "status.deadLetters[%d].reason: expected a UTF-8 string of at most %d characters", i,
                     MAX_REASON_CHARS);
            return -1;
        }
        v = cJSON_GetObjectItemCaseSensitive(d, "at");
        if (v && !cJSON_IsNull(v) && !time_ok(v)) {
            snprintf(msg, len, "status.deadLetters[%d].at: expected null or an RFC 3339 UTC time", i);
            return -1;
        }
        i++;
    }
    return 0;
}

static void do_report_status(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars,
                             const etude_syncd_user_t *u)
{
    const cJSON *st = var(vars, "status");
    char msg[256];
    if (check_status(st, msg, sizeof msg) != 0) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.%s", msg);
        etude_syncd_store_audit(s->st, u->id, "reportSyncStatus", msg, "BAD_USER_INPUT");
        return;
    }
    if (etude_syncd_store_report_status(s->st, u, st) != 0) {
        field_error(s, r, "reportSyncStatus", "INTERNAL_SERVER_ERROR", "reportSyncStatus: the database failed");
        return;
    }
    etude_syncd_hub_publish_status(s->hub, u->id, cJSON_GetObjectItemCaseSensitive(st, "deviceId")->valuestring);
    data_reply(s, r, "reportSyncStatus", cJSON_CreateTrue());
}

static void do_admin_metrics(etude_syncd_t *s, etude_syncd_reply_t *r, int media, const cJSON *vars,
                             const etude_syncd_user_t *u)
{
    if (!u->admin) {
        etude_syncd_store_audit(s->st, u->id, "adminMetrics", "", "FORBIDDEN");
        field_error(s, r, "adminMetrics", "FORBIDDEN",
                    "adminMetrics: only operators may read the server's figures (etude-syncd user add NAME --admin)");
        return;
    }
    const cJSON *minutes = var(vars, "minutes");
    if (minutes && (!is_int(minutes) || minutes->valuedouble < 1)) {
        request_error(s, r, 400, media, 1, "BAD_USER_INPUT", "variables.minutes: expected an Int from 1 to %d or null",
                      ETUDE_SYNCD_RING_MINUTES);
        return;
    }
    int want = !minutes || minutes->valuedouble > ETUDE_SYNCD_RING_MINUTES ? ETUDE_SYNCD_RING_MINUTES
                                                                          : (int)minutes->valuedouble;
    etude_syncd_metrics_db_bytes(s->m, etude_syncd_store_bytes(s->st));
    etude_syncd_metrics_point_t *pts = calloc(ETUDE_SYNCD_RING_MINUTES, sizeof *pts);
    if (!pts) {
        field_error(s, r, "adminMetrics", "INTERNAL_SERVER_ERROR", "adminMetrics: out of memory");
        return;
    }
    int n = etude_syncd_metrics_points(s->m, want, pts);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char at[48];
        etude_syncd_format_time(pts[i].at_ms, at, sizeof at);
        cJSON_AddStringToObject(o, "at", at);
        cJSON_AddNumberToObject(o, "requests", (double)pts[i].requests);
        cJSON_AddNumberToObject(o, "errors", (double)pts[i].errors);
        cJSON_AddNumberToObject(o, "uploads", (double)pts[i].uploads);
        cJSON_AddNumberToObject(o, "pulls", (double)pts[i].pulls);
        if (pts[i].p50_ms >= 0) {
            cJSON_AddNumberToObject(o, "latencyP50Ms", round(pts[i].p50_ms * 1000) / 1000);
            cJSON_AddNumberToObject(o, "latencyP99Ms", round(pts[i].p99_ms * 1000) / 1000);
        } else {
            cJSON_AddNullToObject(o, "latencyP50Ms");
            cJSON_AddNullToObject(o, "latencyP99Ms");
        }
        cJSON_AddNumberToObject(o, "sseStreams", (double)pts[i].sse_streams);
        cJSON_AddNumberToObject(o, "dbBytes", (double)pts[i].db_bytes);
        cJSON_AddItemToArray(arr, o);
    }
    free(pts);
    data_reply(s, r, "adminMetrics", arr);
}

/* The documents a dashboard session (cookie) may run: reads of its own user's data. */
static int web_document(const char *name)
{
    return strcmp(name, "DashboardEntities") == 0 || strcmp(name, "DeviceSyncStatus") == 0 ||
           strcmp(name, "AdminMetrics") == 0 || strcmp(name, "SyncMetadata") == 0;
}

/* ---- the envelope ---- */

static int hex_lower_64(const char *h)
{
    if (strlen(h) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    return 1;
}

void etude_syncd_execute(etude_syncd_t *s, const char *body, size_t len, const char *authorization,
                         int media, etude_syncd_reply_t *r)
{
    etude_syncd_execute_from(s, body, len, authorization, media, NULL, r);
}

void etude_syncd_execute_from(etude_syncd_t *s, const char *body, size_t len, const char *authorization,
                              int media, const char *client, etude_syncd_reply_t *r)
{
    etude_syncd_request_t rq = {authorization, NULL, NULL, client, 0};
    etude_syncd_execute_req(s, body, len, &rq, media, r);
}

void etude_syncd_execute_req(etude_syncd_t *s, const char *body, size_t len, const etude_syncd_request_t *rq,
                             int media, etude_syncd_reply_t *r)
{
    const char *authorization = rq->authorization, *client = rq->client;
    memset(r, 0, sizeof *r);
    r->operation = "unknown";
    cJSON *req = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(req)) {
        request_error(s, r, 400, media, 0, "BAD_REQUEST",
                      req ? "body: expected a JSON object {query, operationName, variables, extensions}"
                          : "body: not valid JSON");
        cJSON_Delete(req);
        return;
    }
    const cJSON *query = cJSON_GetObjectItemCaseSensitive(req, "query");
    const cJSON *opname = cJSON_GetObjectItemCaseSensitive(req, "operationName");
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(req, "variables");
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(req, "extensions");
    const char *bad = NULL;
    if (query && !cJSON_IsNull(query) && !cJSON_IsString(query))
        bad = "query: expected a string";
    else if (opname && !cJSON_IsNull(opname) && !cJSON_IsString(opname))
        bad = "operationName: expected a string or null";
    else if (vars && !cJSON_IsNull(vars) && !cJSON_IsObject(vars))
        bad = "variables: expected an object or null";
    else if (ext && !cJSON_IsNull(ext) && !cJSON_IsObject(ext))
        bad = "extensions: expected an object or null";
    if (bad) {
        request_error(s, r, 400, media, 0, "BAD_REQUEST", "%s", bad);
        cJSON_Delete(req);
        return;
    }
    const cJSON *pq = ext ? cJSON_GetObjectItemCaseSensitive(ext, "persistedQuery") : NULL;
    const char *want_hash = NULL;
    if (pq && !cJSON_IsNull(pq)) {
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(pq, "version");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(pq, "sha256Hash");
        if (!cJSON_IsObject(pq) || !cJSON_IsNumber(ver) || ver->valuedouble != 1) {
            request_error(s, r, 400, media, 0, "BAD_REQUEST", "extensions.persistedQuery.version: expected 1");
            cJSON_Delete(req);
            return;
        }
        if (!cJSON_IsString(h) || !hex_lower_64(h->valuestring)) {
            request_error(s, r, 400, media, 0, "BAD_REQUEST",
                          "extensions.persistedQuery.sha256Hash: expected 64 lowercase hex digits");
            cJSON_Delete(req);
            return;
        }
        want_hash = h->valuestring;
    }
    char qhash[65] = "";
    if (cJSON_IsString(query)) {
        etude_syncd_sha256_hex(query->valuestring, strlen(query->valuestring), qhash);
        if (want_hash && strcmp(want_hash, qhash) != 0) {
            request_error(s, r, 400, media, 0, "BAD_REQUEST",
                          "extensions.persistedQuery.sha256Hash: does not match the SHA-256 of query");
            cJSON_Delete(req);
            return;
        }
        want_hash = qhash;
    }
    if (!want_hash) {
        request_error(s, r, 400, media, 0, "BAD_REQUEST",
                      "query: missing (send a shipped document or extensions.persistedQuery.sha256Hash)");
        cJSON_Delete(req);
        return;
    }
    const etude_syncd_document_t *doc = NULL;
    for (size_t i = 0; i < s->ndocs; i++)
        if (strcmp(s->docs[i].hash, want_hash) == 0)
            doc = s->docs[i].doc;
    if (!doc) {
        if (qhash[0])
            request_error(s, r, 400, media, 1, "TRUSTED_DOCUMENT_REQUIRED",
                          "query: not one of the documents shipped in sync/schema/operations (sha256 %s)", qhash);
        else
            request_error(s, r, 400, media, 1, "PERSISTED_QUERY_NOT_FOUND",
                          "extensions.persistedQuery.sha256Hash: no shipped document has hash %s", want_hash);
        cJSON_Delete(req);
        return;
    }
    r->operation = doc->name;
    if (cJSON_IsString(opname) && strcmp(opname->valuestring, doc->name) != 0) {
        request_error(s, r, 400, media, 1, "BAD_REQUEST",
                      "operationName: '%.64s' is not the document's operation (%s)", opname->valuestring,
                      doc->name);
        cJSON_Delete(req);
        return;
    }
    if (strcmp(doc->name, "Login") == 0) {
        do_login(s, r, media, vars, client);
    } else if (strcmp(doc->name, "RefreshToken") == 0) {
        do_refresh(s, r, media, vars);
    } else {
        etude_syncd_user_t user;
        const char *why = NULL;
        int by_cookie = !authorization && rq->session;
        if (by_cookie && !web_document(doc->name)) {
            request_error(s, r, 401, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, 1, "UNAUTHENTICATED",
                          "Authorization: %s needs a device's access token (a dashboard session may run"
                          " DashboardEntities, DeviceSyncStatus, AdminMetrics and SyncMetadata only)",
                          doc->name);
            r->www_authenticate = "Bearer realm=\"etude-syncd\", error=\"invalid_token\"";
            etude_syncd_metrics_operation(s->m, doc->name, "UNAUTHENTICATED");
            etude_syncd_store_audit(s->st, 0, doc->name, "cookie", "UNAUTHENTICATED");
        } else if (by_cookie && etude_syncd_web_session(s, rq->session, &user, &why) != 0) {
            request_error(s, r, 401, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, 1, "UNAUTHENTICATED",
                          "Cookie: %s dashboard session (log in again: POST /session)", why ? why : "invalid");
            r->www_authenticate = "Bearer realm=\"etude-syncd\", error=\"invalid_token\"";
            etude_syncd_metrics_operation(s->m, doc->name, "UNAUTHENTICATED");
            etude_syncd_store_audit(s->st, 0, doc->name, why ? why : "", "UNAUTHENTICATED");
        } else if (by_cookie && (rq->foreign_origin || !etude_syncd_csrf_ok(s, rq->session, rq->csrf))) {
            request_error(s, r, 403, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, 1, "CSRF", "%s",
                          rq->foreign_origin ? "Origin: not this server's origin"
                          : rq->csrf         ? "X-CSRF-Token: not this session's token (GET /session gives it)"
                                             : "X-CSRF-Token: missing (a dashboard session must send the csrfToken of"
                                               " POST /session or GET /session)");
            etude_syncd_metrics_operation(s->m, doc->name, "CSRF");
            etude_syncd_store_audit(s->st, user.id, doc->name, "cookie", "CSRF");
        } else if (!by_cookie && etude_syncd_authenticate(s, authorization, &user, &why) != 0) {
            /* 401 for both media types: the client is not permitted to issue the request. */
            request_error(s, r, 401, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, 1, "UNAUTHENTICATED",
                          "Authorization: %s access token (send 'Authorization: Bearer <accessToken>')",
                          why ? why : "invalid");
            r->www_authenticate = "Bearer realm=\"etude-syncd\", error=\"invalid_token\"";
            etude_syncd_metrics_operation(s->m, doc->name, "UNAUTHENTICATED");
            etude_syncd_store_audit(s->st, 0, doc->name, why ? why : "", "UNAUTHENTICATED");
        } else if (strcmp(doc->name, "Logout") == 0) {
            do_logout(s, r, &user);
        } else if (strcmp(doc->name, "SyncMetadata") == 0) {
            do_metadata(s, r, &user);
        } else if (strcmp(doc->name, "SyncChanges") == 0) {
            do_changes(s, r, media, vars, &user);
        } else if (strcmp(doc->name, "UploadBatch") == 0) {
            do_upload(s, r, media, vars, &user);
        } else if (strcmp(doc->name, "DashboardEntities") == 0) {
            do_dashboard(s, r, media, vars, &user);
        } else if (strcmp(doc->name, "DeviceSyncStatus") == 0) {
            do_device_status(s, r, &user);
        } else if (strcmp(doc->name, "AdminMetrics") == 0) {
            do_admin_metrics(s, r, media, vars, &user);
        } else if (strcmp(doc->name, "ReportSyncStatus") == 0) {
            do_report_status(s, r, media, vars, &user);
        } else {
            request_error(s, r, 500, media, 1, "INTERNAL_SERVER_ERROR", "document %s has no handler", doc->name);
        }
    }
    if (r->status >= 400 && strcmp(r->operation, "unknown") != 0 && r->status != 401 && r->status != 403)
        etude_syncd_metrics_operation(s->m, r->operation, "REQUEST_ERROR");
    cJSON_Delete(req);
}
