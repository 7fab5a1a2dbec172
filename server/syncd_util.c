/* syncd_util.c - etude-syncd helpers: cursors, canonical JSON, hashing, time, gzip, content negotiation. */
#include "syncd.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>
#include <zlib.h>

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

static int cmp_items(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int c = strcmp(x->string, y->string);
    if (c)
        return c;
    return x < y ? -1 : x > y; /* stable enough: keeps duplicates deterministic within one copy */
}

static int sort_keys(cJSON *v, int depth)
{
    if (depth > 64)
        return -1;
    if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (cJSON *c = v->child; c; c = c->next)
            n++;
        if (n > 1) {
            cJSON **arr = malloc(n * sizeof *arr);
            if (!arr)
                return -1;
            size_t i = 0;
            for (cJSON *c = v->child; c; c = c->next)
                arr[i++] = c;
            qsort(arr, n, sizeof *arr, cmp_items);
            for (i = 0; i < n; i++) {
                arr[i]->prev = i ? arr[i - 1] : arr[n - 1];
                arr[i]->next = i + 1 < n ? arr[i + 1] : NULL;
            }
            v->child = arr[0];
            free(arr);
        }
    }
    if (cJSON_IsObject(v) || cJSON_IsArray(v))
        for (cJSON *c = v->child; c; c = c->next)
            if (sort_keys(c, depth + 1) != 0)
                return -1;
    return 0;
}

char *etude_syncd_canonical_json(const cJSON *v)
{
    if (!v)
        return strdup("null");
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (!copy)
        return NULL;
    char *out = NULL;
    if (sort_keys(copy, 0) == 0)
        out = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return out;
}

void etude_syncd_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

/* Tests move the server's clock with ETUDE_TEST_CLOCK_SKEW_MS (read once). */
static pthread_once_t skew_once = PTHREAD_ONCE_INIT;
static int64_t clock_skew_ms;
static void read_skew(void)
{
    const char *e = getenv("ETUDE_TEST_CLOCK_SKEW_MS");
    clock_skew_ms = e ? strtoll(e, NULL, 10) : 0;
}

int64_t etude_syncd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_once(&skew_once, read_skew);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_skew_ms;
}

void etude_syncd_format_time(int64_t unix_ms, char *buf, size_t len)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(unix_ms % 1000));
}

int etude_syncd_gunzip(const void *in, size_t in_len, size_t max, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return ETUDE_SYNCD_ENOMEM;
    size_t cap = in_len * 4 + 1024;
    if (cap > max + 1)
        cap = max + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        inflateEnd(&zs);
        return ETUDE_SYNCD_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    size_t used = 0;
    int rc = ETUDE_SYNCD_EINVAL;
    for (;;) {
        if (used == cap) {
            if (cap > max) { /* already holds max + 1 bytes: the body is over the limit */
                rc = ETUDE_SYNCD_ELIMIT;
                break;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = ETUDE_SYNCD_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        zs.next_out = (Bytef *)buf + used;
        zs.avail_out = (uInt)(cap - used);
        int z = inflate(&zs, Z_NO_FLUSH);
        used = cap - zs.avail_out;
        if (z == Z_STREAM_END) {
            /* Trailing bytes after the gzip member are not a body we understand. */
            rc = zs.avail_in == 0 ? 0 : ETUDE_SYNCD_EINVAL;
            if (rc == 0 && used > max)
                rc = ETUDE_SYNCD_ELIMIT;
            break;
        }
        if (z == Z_BUF_ERROR && zs.avail_in == 0 && zs.avail_out > 0)
            break; /* truncated stream */
        if (z != Z_OK && z != Z_BUF_ERROR)
            break;
    }
    inflateEnd(&zs);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[used] = '\0';
    *out = buf;
    *out_len = used;
    return 0;
}

int etude_syncd_gzip(const void *in, size_t in_len, char **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ETUDE_SYNCD_ENOMEM;
    size_t cap = deflateBound(&zs, (uLong)in_len) + 32;
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return ETUDE_SYNCD_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int z = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (z != Z_STREAM_END) {
        free(buf);
        return ETUDE_SYNCD_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
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
