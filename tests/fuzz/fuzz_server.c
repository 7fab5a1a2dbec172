/* fuzz_server.c - libFuzzer target over etude-syncd's request handling: the JSON envelope, trusted
 * document lookup, variables and every handler, against an in-memory SQLite store with a real user.
 * The first input byte picks the path: 0 authenticated GraphQL, 1 anonymous (application/json),
 * 2 gzip body inflated then executed, 3 header parsers (Accept, Accept-Encoding, cursor),
 * 4 the Cookie header parser, 5 the dashboard's login body parser, 6 GraphQL by a dashboard
 * session cookie (the next byte: bit 0 sends the session's right CSRF token, else the input's
 * first line is the X-CSRF-Token header; bit 1 a foreign Origin; bit 2 a forged cookie). With the
 * CSRF test removed from etude_syncd_execute_req, the seed web_csrf_wrong aborts at once. */
#include "syncd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static etude_syncd_t *core;
static char auth[128];
static char web_token[64], web_csrf[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static etude_syncd_config_t cfg;
    etude_syncd_config_defaults(&cfg);
    cfg.db_path = ":memory:";
    cfg.max_batch = 20;
    cfg.max_page = 20;
    cfg.max_entity_bytes = 4096;
    cfg.max_body = 1 << 16;
    cfg.pw_ops = crypto_pwhash_OPSLIMIT_MIN; /* keeps Login fast enough to fuzz */
    cfg.pw_mem = crypto_pwhash_MEMLIMIT_MIN;
    etude_syncd_store_t *st = NULL;
    char err[256];
    if (etude_syncd_store_open(&cfg, &st, err, sizeof err) != 0 ||
        etude_syncd_store_user_add(st, "fuzz", "fuzz-pw") != 0 ||
        etude_syncd_store_user_add(st, "other", "other-pw") != 0) {
        fprintf(stderr, "fuzz_server: setup failed: %s\n", err);
        abort();
    }
    etude_syncd_tokens_t tok;
    etude_syncd_user_t user;
    if (etude_syncd_store_login(st, "fuzz", "fuzz-pw", &tok, &user) != 0)
        abort();
    snprintf(auth, sizeof auth, "Bearer %s", tok.access);
    core = etude_syncd_create(&cfg, st, etude_syncd_metrics_create(), etude_syncd_hub_create());
    if (!core)
        abort();
    if (etude_syncd_store_login_web(st, "fuzz", "fuzz-pw", 3600, web_token, &user) != 0)
        abort();
    etude_syncd_csrf_token(core, web_token, web_csrf);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size == 0)
        return 0;
    int mode = data[0] % 7;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    etude_syncd_reply_t r;
    switch (mode) {
    case 0:
        etude_syncd_execute(core, body, len, auth, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, &r);
        break;
    case 1:
        etude_syncd_execute(core, body, len, NULL, ETUDE_SYNCD_MEDIA_JSON, &r);
        break;
    case 2: {
        char *out = NULL;
        size_t n = 0;
        if (etude_syncd_gunzip(body, len, 1 << 16, &out, &n) != 0)
            return 0;
        etude_syncd_execute(core, out, n, auth, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, &r);
        free(out);
        break;
    }
    case 4: {
        char *h = malloc(len + 1);
        if (!h)
            return 0;
        memcpy(h, body, len);
        h[len] = '\0';
        char out[128];
        int rc = etude_syncd_cookie_find(h, ETUDE_SYNCD_COOKIE, out, sizeof out);
        if (rc == 0) {
            /* A found value is a non-empty base64url token that fitted. */
            size_t n = strlen(out);
            if (n == 0 || n >= sizeof out || strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
                abort();
        } else if (rc != ETUDE_SYNCD_ENOENT && rc != ETUDE_SYNCD_EINVAL) {
            abort();
        }
        /* The same bytes as a --db connection URI, as messages show it: never the parameters
         * (which may hold a password), whatever the text. */
        char *uri = malloc(len + 14);
        if (uri) {
            memcpy(uri, "postgresql://", 13);
            memcpy(uri + 13, h, len + 1);
            char shown[64];
            etude_syncd_db_display(uri, shown, sizeof shown);
            if (strchr(shown, '?') || strlen(shown) >= sizeof shown)
                abort();
            free(uri);
        }
        free(h);
        return 0;
    }
    case 5: {
        cJSON *doc = NULL;
        const char *name = NULL, *pw = NULL, *why = NULL;
        if (etude_syncd_parse_login_body(body, len, &doc, &name, &pw, &why) == 0) {
            if (!doc || !name || !pw)
                abort();
        } else if (doc || !why) {
            abort();
        }
        cJSON_Delete(doc);
        return 0;
    }
    case 6: {
        if (len < 1)
            return 0;
        int flags = (unsigned char)body[0];
        body++;
        len--;
        char csrf[256] = "";
        const char *nl = memchr(body, '\n', len < sizeof csrf ? len : sizeof csrf - 1);
        if (!(flags & 1) && nl) {
            memcpy(csrf, body, (size_t)(nl - body));
            csrf[nl - body] = '\0';
            len -= (size_t)(nl - body) + 1;
            body = nl + 1;
        }
        etude_syncd_request_t rq = {
            .session = flags & 4 ? "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : web_token,
            .csrf = flags & 1 ? web_csrf : (nl ? csrf : NULL),
            .client = "127.0.0.1",
            .foreign_origin = (flags & 2) != 0,
        };
        etude_syncd_execute_req(core, body, len, &rq, ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, &r);
        /* Without the right token, from the right origin, a cookie never reaches a handler (Login
         * and RefreshToken need no credentials at all). */
        if (r.status == 200 && (!(flags & 1) || (flags & 6)) && strstr(r.body, "\"data\"") &&
            strcmp(r.operation, "Login") != 0 && strcmp(r.operation, "RefreshToken") != 0)
            abort();
        break;
    }
    default: {
        char *s = malloc(len + 1);
        if (!s)
            return 0;
        memcpy(s, body, len);
        s[len] = '\0';
        int64_t seq;
        uint64_t epoch, tag;
        (void)etude_syncd_negotiate_accept(s);
        (void)etude_syncd_accepts_gzip(s);
        (void)etude_syncd_cursor_decode(s, &epoch, &seq, &tag);
        free(s);
        return 0;
    }
    }
    /* Every reply is a JSON object with a status the HTTP layer can send. */
    if (!r.body || r.status < 200 || r.status > 599 || r.body[0] != '{')
        abort();
    free(r.body);
    return 0;
}
