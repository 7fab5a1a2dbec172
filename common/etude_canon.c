/* etude_canon.c - RFC 8785 canonical JSON: a strict RFC 8259 scanner, cJSON for the tree, and a
 * writer with ECMAScript number formatting and UTF-16 key order; SHA-256 through libsodium. */
#include "etude_canon.h"

#include "etude_buf.h"

#include "etude_error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* Decodes one well-formed UTF-8 sequence at s (n bytes available): its length, or -1. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return -1; /* continuation byte, overlong lead (c0, c1) or beyond U+10FFFF (f5..ff) */
    }
    if ((size_t)len > n)
        return -1;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return -1;
    *cp = v;
    return len;
}

int etude_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int len = utf8_next(p + i, n - i, &cp);
        if (len < 0)
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- strict RFC 8259 scanner (cJSON accepts "01", "1.", raw control characters, bad UTF-8) ---- */

typedef struct scan {
    const unsigned char *p, *end;
} scan_t;

static void scan_ws(scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, uint32_t *v)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= c - '0';
        else if (c >= 'a' && c <= 'f')
            x |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            x |= c - 'A' + 10;
        else
            return -1;
    }
    *v = x;
    return 0;
}

static int scan_string(scan_t *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (s->end - s->p < 2)
                return -1;
            unsigned e = s->p[1];
            if (e == 'u') {
                uint32_t u, lo;
                if (s->end - s->p < 6 || hex4(s->p + 2, &u))
                    return -1;
                s->p += 6;
                if (u == 0 || (u >= 0xdc00 && u <= 0xdfff))
                    return -1; /* NUL, or a low surrogate alone */
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return -1; /* a high surrogate without its low half */
                    s->p += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", (int)e) || e == 0)
                return -1;
            s->p += 2;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            int len = utf8_next(s->p, (size_t)(s->end - s->p), &cp);
            if (len < 0)
                return -1;
            s->p += len;
            continue;
        }
        s->p++;
    }
    return -1;
}

static int is_digit(const scan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int scan_number(scan_t *s)
{
    const unsigned char *start = s->p;
    if (*s->p == '-')
        s->p++;
    if (!is_digit(s))
        return -1;
    if (*s->p == '0')
        s->p++;
    else
        while (is_digit(s))
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!is_digit(s))
            return -1;
        while (is_digit(s))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!is_digit(s))
            return -1;
        while (is_digit(s))
            s->p++;
    }
    /* cJSON reads at most 63 characters of a number; longer literals are refused rather than
     * misread (any double is exactly written in 25). */
    return s->p - start <= 63 ? 0 : -1;
}

static int scan_literal(scan_t *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
        return -1;
    s->p += n;
    return 0;
}

static int scan_value(scan_t *s, int depth)
{
    scan_ws(s);
    if (s->p >= s->end)
        return -1;
    unsigned c = *s->p;
    if (c == '{' || c == '[') {
        if (depth >= ETUDE_CANON_MAX_DEPTH)
            return -1;
        unsigned close = c == '{' ? '}' : ']';
        s->p++;
        scan_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                scan_ws(s);
                if (s->p >= s->end || *s->p != '"' || scan_string(s))
                    return -1;
                scan_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return -1;
                s->p++;
            }
            if (scan_value(s, depth + 1))
                return -1;
            scan_ws(s);
            if (s->p >= s->end)
                return -1;
            if (*s->p == ',') {
                s->p++;
                continue;
            }
            if (*s->p == close) {
                s->p++;
                return 0;
            }
            return -1;
        }
    }
    if (c == '"')
        return scan_string(s);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_number(s);
    if (c == 't')
        return scan_literal(s, "true");
    if (c == 'f')
        return scan_literal(s, "false");
    if (c == 'n')
        return scan_literal(s, "null");
    return -1;
}

/* ---- writer --------------------------------------------------------------------------------- */

int etude_canon_number(double d, char buf[ETUDE_CANON_NUMBER_LEN])
{
    buf[0] = 0;
    if (!isfinite(d))
        return ETUDE_EINVAL;
    if (d == 0) { /* +0 and -0 */
        strcpy(buf, "0");
        return 1;
    }
    /* The shortest correctly rounded digit string that reads back to d: glibc's printf rounds
     * exactly (ties to even) and strtod reads exactly, so the first precision that round-trips
     * gives the digits ECMAScript's Number::toString picks (RFC 8785, section 3.2.2.3). */
    char tmp[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    const char *s = tmp;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    char dig[24];
    int k = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s >= '0' && *s <= '9' && k < 20)
            dig[k++] = *s;
    if (*s != 'e' && *s != 'E')
        return ETUDE_EINVAL; /* cannot happen with a finite double */
    int exp10 = atoi(s + 1);
    while (k > 1 && dig[k - 1] == '0')
        k--;
    int n = exp10 + 1; /* d = 0.dig x 10^n */
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, dig, (size_t)k);
        o += k;
        for (int i = 0; i < n - k; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, dig, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, dig + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, dig, (size_t)k);
        o += k;
    } else {
        *o++ = dig[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)(k - 1));
            o += k - 1;
        }
        int e = n - 1;
        o += snprintf(o, 8, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    *o = 0;
    return (int)(o - buf);
}

static void write_string(etude_buf_t *b, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    etude_buf_put(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = NULL;
        char u[7];
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (*c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hexd[*c >> 4], u[5] = hexd[*c & 15];
                u[6] = 0;
                esc = u;
            }
        }
        if (esc) {
            etude_buf_put(b, run, (size_t)((const char *)c - run));
            etude_buf_put(b, esc, strlen(esc));
            run = (const char *)c + 1;
        }
    }
    etude_buf_put(b, run, strlen(run));
    etude_buf_put(b, "\"", 1);
}

/* Sort key of a code point such that comparing keys compares UTF-16 code-unit sequences:
 * below U+D800 as is, supplementary planes (surrogate pairs D800..DBFF first) next, then
 * U+E000..U+FFFF last. */
static uint32_t utf16_key(uint32_t cp)
{
    if (cp < 0xd800)
        return cp;
    if (cp >= 0x10000)
        return 0xd800 + (cp - 0x10000);
    return cp + 0x100000;
}

static int cmp_utf16(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t nx = strlen(a), ny = strlen(b);
    while (nx && ny) {
        uint32_t cx, cy;
        int lx = utf8_next(x, nx, &cx), ly = utf8_next(y, ny, &cy);
        if (lx < 0 || ly < 0) /* validated before sorting; bytewise as a fallback */
            return memcmp(x, y, nx < ny ? nx : ny) ? memcmp(x, y, nx < ny ? nx : ny) : (nx > ny) - (nx < ny);
        uint32_t kx = utf16_key(cx), ky = utf16_key(cy);
        if (kx != ky)
            return kx < ky ? -1 : 1;
        x += lx, nx -= (size_t)lx;
        y += ly, ny -= (size_t)ly;
    }
    return (nx > 0) - (ny > 0);
}

static int cmp_members(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return cmp_utf16(x->string, y->string);
}

static int text_ok(const char *s)
{
    return s && etude_utf8_valid(s, strlen(s));
}

/* canon: the RFC 8785 form (sorted, validated); otherwise etude_canon_print()'s exact, lenient
 * writer (member order kept, strings as they are, non-finite numbers as null, raw text as is). */
static int write_value(etude_buf_t *b, const cJSON *v, int depth, int canon)
{
    if (!v)
        return ETUDE_EINVAL;
    if (!canon && (v->type & 0xff) == cJSON_Number && !isfinite(v->valuedouble)) {
        etude_buf_put(b, "null", 4);
        return b->oom ? ETUDE_ENOMEM : 0;
    }
    if (!canon && (v->type & 0xff) == cJSON_Raw) {
        if (!v->valuestring)
            return ETUDE_EINVAL;
        etude_buf_put(b, v->valuestring, strlen(v->valuestring));
        return b->oom ? ETUDE_ENOMEM : 0;
    }
    switch (v->type & 0xff) {
    case cJSON_NULL:
        etude_buf_put(b, "null", 4);
        break;
    case cJSON_True:
        etude_buf_put(b, "true", 4);
        break;
    case cJSON_False:
        etude_buf_put(b, "false", 5);
        break;
    case cJSON_Number: {
        char num[ETUDE_CANON_NUMBER_LEN];
        int n = etude_canon_number(v->valuedouble, num);
        if (n < 0)
            return ETUDE_EINVAL;
        etude_buf_put(b, num, (size_t)n);
        break;
    }
    case cJSON_String:
        if (!v->valuestring || (canon && !text_ok(v->valuestring)))
            return ETUDE_EINVAL;
        write_string(b, v->valuestring);
        break;
    case cJSON_Array:
        if (canon && depth >= ETUDE_CANON_MAX_DEPTH)
            return ETUDE_EINVAL;
        etude_buf_put(b, "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                etude_buf_put(b, ",", 1);
            int rc = write_value(b, c, depth + 1, canon);
            if (rc)
                return rc;
        }
        etude_buf_put(b, "]", 1);
        break;
    case cJSON_Object: {
        if (!canon) {
            etude_buf_put(b, "{", 1);
            for (const cJSON *c = v->child; c; c = c->next) {
                if (!c->string)
                    return ETUDE_EINVAL;
                if (c != v->child)
                    etude_buf_put(b, ",", 1);
                write_string(b, c->string);
                etude_buf_put(b, ":", 1);
                int rc = write_value(b, c, depth + 1, canon);
                if (rc)
                    return rc;
            }
            etude_buf_put(b, "}", 1);
            break;
        }
        if (depth >= ETUDE_CANON_MAX_DEPTH)
            return ETUDE_EINVAL;
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next) {
            if (!text_ok(c->string))
                return ETUDE_EINVAL;
            n++;
        }
        const cJSON **kids = n ? malloc(n * sizeof *kids) : NULL;
        if (n && !kids)
            return ETUDE_ENOMEM;
        size_t i = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            kids[i++] = c;
        if (n > 1)
            qsort(kids, n, sizeof *kids, cmp_members);
        etude_buf_put(b, "{", 1);
        for (i = 0; i < n; i++) {
            /* Duplicate keys have no single meaning (RFC 8785 section 3.1): refuse them. */
            if (i && !strcmp(kids[i]->string, kids[i - 1]->string)) {
                free(kids);
                return ETUDE_EINVAL;
            }
            if (i)
                etude_buf_put(b, ",", 1);
            write_string(b, kids[i]->string);
            etude_buf_put(b, ":", 1);
            int rc = write_value(b, kids[i], depth + 1, canon);
            if (rc) {
                free(kids);
                return rc;
            }
        }
        free(kids);
        etude_buf_put(b, "}", 1);
        break;
    }
    default: /* cJSON_Raw, cJSON_Invalid */
        return ETUDE_EINVAL;
    }
    return b->oom ? ETUDE_ENOMEM : 0;
}

static int write_all(const cJSON *v, char **out, int canon)
{
    *out = NULL;
    etude_buf_t b = {0};
    int rc = write_value(&b, v, 0, canon);
    if (rc) {
        etude_buf_free(&b);
        return rc;
    }
    *out = etude_buf_take(&b);
    return *out ? 0 : ETUDE_ENOMEM;
}

int etude_canon_cjson(const cJSON *v, char **out)
{
    return write_all(v, out, 1);
}

char *etude_canon_print(const cJSON *v)
{
    char *out = NULL;
    write_all(v, &out, 0);
    return out;
}

int etude_canon_json(const char *json, char **out)
{
    *out = NULL;
    if (!json)
        return ETUDE_EINVAL;
    size_t len = strlen(json);
    scan_t s = {(const unsigned char *)json, (const unsigned char *)json + len};
    if (scan_value(&s, 0))
        return ETUDE_EINVAL;
    scan_ws(&s);
    if (s.p != s.end)
        return ETUDE_EINVAL;
    cJSON *v = cJSON_ParseWithOpts(json, NULL, 1);
    if (!v) /* strict text cJSON cannot hold: only a failed allocation is left */
        return ETUDE_ENOMEM;
    int rc = etude_canon_cjson(v, out);
    cJSON_Delete(v);
    return rc;
}

void etude_sha256_hex(const void *data, size_t n, char hex[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, n);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

int etude_canon_checksum(const cJSON *v, char hex[65], char **canon_out)
{
    char *canon = NULL;
    int rc = v ? etude_canon_cjson(v, &canon) : ((canon = strdup("null")) ? 0 : ETUDE_ENOMEM);
    if (canon_out)
        *canon_out = NULL;
    if (rc)
        return rc;
    etude_sha256_hex(canon, strlen(canon), hex);
    if (canon_out)
        *canon_out = canon;
    else
        free(canon);
    return 0;
}
