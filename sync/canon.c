/* canon.c - canonical JSON writer and SHA-256 checksum (libsodium). */
#include "etude_canon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                sb_put(b, esc, 6);
            } else {
                sb_put(b, (const char *)c, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int write_value(sbuf_t *b, const cJSON *v, int depth)
{
    char num[40];
    if (depth > 200)
        return -2;
    if (cJSON_IsNull(v)) {
        sb_put(b, "null", 4);
    } else if (cJSON_IsTrue(v)) {
        sb_put(b, "true", 4);
    } else if (cJSON_IsFalse(v)) {
        sb_put(b, "false", 5);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!isfinite(d))
            return -2;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            snprintf(num, sizeof num, "%lld", (long long)d);
        else
            for (int prec = 15; prec <= 17; prec++) { /* the shortest text that reads back exactly */
                snprintf(num, sizeof num, "%.*g", prec, d);
                if (strtod(num, NULL) == d)
                    break;
            }
        sb_put(b, num, strlen(num));
    } else if (cJSON_IsString(v)) {
        sb_str(b, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        sb_put(b, "[", 1);
        int first = 1;
        for (const cJSON *c = v->child; c; c = c->next) {
            if (!first)
                sb_put(b, ",", 1);
            first = 0;
            int rc = write_value(b, c, depth + 1);
            if (rc)
                return rc;
        }
        sb_put(b, "]", 1);
    } else if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            n++;
        const cJSON **kids = n ? malloc(n * sizeof *kids) : NULL;
        if (n && !kids)
            return -1;
        size_t i = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            kids[i++] = c;
        if (n > 1)
            qsort(kids, n, sizeof *kids, cmp_keys);
        sb_put(b, "{", 1);
        for (i = 0; i < n; i++) {
            /* Duplicate keys have no single meaning: refuse them. */
            if (i && !strcmp(kids[i]->string, kids[i - 1]->string)) {
                free(kids);
                return -2;
            }
            if (i)
                sb_put(b, ",", 1);
            sb_str(b, kids[i]->string);
            sb_put(b, ":", 1);
            int rc = write_value(b, kids[i], depth + 1);
            if (rc) {
                free(kids);
                return rc;
            }
        }
        free(kids);
        sb_put(b, "}", 1);
    } else {
        return -2;
    }
    return b->oom ? -1 : 0;
}

int etude_canon_json(const char *json, char **out)
{
    *out = NULL;
    if (!json)
        return -2;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(json, &end, 1);
    if (!v)
        return -2;
    sbuf_t b = {0};
    int rc = write_value(&b, v, 0);
    cJSON_Delete(v);
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

void etude_canon_sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, n);
    sodium_bin2hex(out, 65, h, sizeof h);
}
