/* syncd_util.c - etude-syncd helpers: cursors, content negotiation, and the server's names for the
 * canonical JSON, hashing, time and gzip of libetude-common. */
#include "syncd.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "etude_canon.h"
#include "etude_gzip.h"
#include "etude_time.h"

void etude_syncd_config_defaults(etude_syncd_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->db_path = "etude-syncd.db";
    cfg->token_ttl = 3600;
    cfg->refresh_ttl = 30L * 24 * 3600;
    cfg->max_body = 8u << 20;
    cfg->max_batch = 500;
    cfg->max_page = 500;
    cfg->default_page = 100;
    cfg->max_entity_bytes = 64u << 10;
    cfg->pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    cfg->pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    cfg->refresh_grace = 30;
    cfg->login_fail_user = 10;
    cfg->login_fail_ip = 30;
    cfg->login_window = 300;
    cfg->session_ttl = 43200;
}

static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Cookie: name=value; name2=value2 (RFC 6265 5.4). Names compare exactly; a value may be quoted.
 * The first pair with the name counts (the browser sends the most specific path first). */
int etude_syncd_cookie_find(const char *header, const char *name, char *out, size_t len)
{
    if (!header || !name || !out || len == 0)
        return ETUDE_SYNCD_ENOENT;
    out[0] = '\0';
    size_t nl = strlen(name);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (!*p)
            break;
        const char *eq = p;
        while (*eq && *eq != '=' && *eq != ';')
            eq++;
        const char *end = eq;
        while (*end && *end != ';')
            end++;
        const char *ne = eq;
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        if (*eq == '=' && (size_t)(ne - p) == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq + 1, *ve = end;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            size_t n = (size_t)(ve - v);
            if (n == 0 || n >= len)
                return ETUDE_SYNCD_EINVAL;
            for (size_t i = 0; i < n; i++)
                if (!b64url_char((unsigned char)v[i]))
                    return ETUDE_SYNCD_EINVAL;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = end;
    }
    return ETUDE_SYNCD_ENOENT;
}

/* Cursors are "c2." + base64url(8-byte epoch, 8-byte seq, 6-byte tag), all big-endian: opaque to
 * clients, cheap to validate, and tied to the database (epoch) and the batch that assigned seq (tag). */
#define CURSOR_RAW 22
void etude_syncd_cursor_encode(uint64_t epoch, int64_t seq, uint64_t tag, char *buf, size_t len)
{
    unsigned char raw[CURSOR_RAW];
    for (int i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(epoch >> (56 - 8 * i));
        raw[8 + i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
    }
    for (int i = 0; i < 6; i++)
        raw[16 + i] = (unsigned char)(tag >> (40 - 8 * i));
    char b64[48];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(buf, len, "c2.%s", b64);
}

int etude_syncd_cursor_decode(const char *text, uint64_t *epoch, int64_t *seq, uint64_t *tag)
{
    if (!text || strncmp(text, "c2.", 3) != 0 || strlen(text) != 3 + 30)
        return ETUDE_SYNCD_EINVAL;
    unsigned char raw[CURSOR_RAW];
    size_t n = 0;
    if (sodium_base642bin(raw, sizeof raw, text + 3, 30, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n != CURSOR_RAW)
        return ETUDE_SYNCD_EINVAL;
    uint64_t e = 0, v = 0, t = 0;
    for (int i = 0; i < 8; i++) {
        e = (e << 8) | raw[i];
        v = (v << 8) | raw[8 + i];
    }
    for (int i = 0; i < 6; i++)
        t = (t << 8) | raw[16 + i];
    if (v > (uint64_t)INT64_MAX)
        return ETUDE_SYNCD_EINVAL;
    char again[ETUDE_SYNCD_CURSOR_LEN];
    etude_syncd_cursor_encode(e, (int64_t)v, t, again, sizeof again);
    if (strcmp(again, text) != 0) /* reject non-canonical encodings */
        return ETUDE_SYNCD_EINVAL;
    *epoch = e;
    *seq = (int64_t)v;
    *tag = t;
    return 0;
}

/* The formats live in libetude-common; these names stay for the server's call sites. */

char *etude_syncd_canonical_json(const cJSON *v)
{
    char *out = NULL;
    if (!v)
        return strdup("null");
    return etude_canon_cjson(v, &out) == 0 ? out : NULL;
}

void etude_syncd_sha256_hex(const void *data, size_t len, char hex[65])
{
    etude_sha256_hex(data, len, hex);
}

int64_t etude_syncd_now_ms(void)
{
    return etude_time_wall_ms();
}

void etude_syncd_format_time(int64_t unix_ms, char *buf, size_t len)
{
    char t[ETUDE_TIME_LEN];
    etude_time_format_ms(unix_ms, t);
    snprintf(buf, len, "%s", t);
}

int etude_syncd_gunzip(const void *in, size_t in_len, size_t max, char **out, size_t *out_len)
{
    int rc = etude_gunzip(in, in_len, max, out, out_len);
    return rc == ETUDE_EPARSE ? ETUDE_SYNCD_EINVAL : rc;
}

int etude_syncd_gzip(const void *in, size_t in_len, char **out, size_t *out_len)
{
    return etude_gzip(in, in_len, out, out_len);
}

/* One element of a comma-separated header list: token and its q value (1000 = q=1). */
static const char *next_element(const char *p, char *tok, size_t toklen, int *q)
{
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (!*p)
        return NULL;
    size_t n = 0;
    while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
        if (n + 1 < toklen)
            tok[n++] = (char)tolower((unsigned char)*p);
        p++;
    }
    tok[n] = '\0';
    *q = 1000;
    while (*p && *p != ',') {
        if (*p != ';') {
            p++;
            continue;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            int v = 0, scale = 1000;
            if (*p == '1') {
                v = 1000;
                p++;
            } else if (*p == '0') {
                p++;
            } else {
                v = -1;
            }
            if (v >= 0 && *p == '.') {
                p++;
                while (isdigit((unsigned char)*p)) {
                    scale /= 10;
                    if (v < 1000)
                        v += (*p - '0') * scale;
                    p++;
                }
            }
            *q = v < 0 ? 0 : v > 1000 ? 1000 : v;
        }
    }
    return p;
}

int etude_syncd_negotiate_accept(const char *accept)
{
    if (!accept)
        return ETUDE_SYNCD_MEDIA_JSON;
    const char *p = accept;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return ETUDE_SYNCD_MEDIA_JSON;
    int best = -1, best_q = 0;
    char tok[96];
    int q;
    while ((p = next_element(p, tok, sizeof tok, &q)) != NULL) {
        int kind = -1, rank = 0;
        if (strcmp(tok, "application/graphql-response+json") == 0)
            kind = ETUDE_SYNCD_MEDIA_GRAPHQL_RESPONSE, rank = 3;
        else if (strcmp(tok, "application/json") == 0)
            kind = ETUDE_SYNCD_MEDIA_JSON, rank = 2;
        else if (strcmp(tok, "application/*") == 0 || strcmp(tok, "*/*") == 0)
            kind = ETUDE_SYNCD_MEDIA_JSON, rank = 1;
        if (kind < 0 || q <= 0)
            continue;
        int score = q * 4 + rank;
        if (score > best_q) {
            best_q = score;
            best = kind;
        }
    }
    return best;
}

int etude_syncd_accepts_gzip(const char *ae)
{
    if (!ae)
        return 0;
    char tok[64];
    int q, gz = -1, star = -1;
    const char *p = ae;
    while ((p = next_element(p, tok, sizeof tok, &q)) != NULL) {
        if (strcmp(tok, "gzip") == 0 || strcmp(tok, "x-gzip") == 0)
            gz = q;
        else if (strcmp(tok, "*") == 0)
            star = q;
    }
    if (gz >= 0)
        return gz > 0;
    return star > 0;
}
