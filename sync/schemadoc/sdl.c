/* sdl.c - GraphQL SDL and operation documents: a lexer after the GraphQL specification's
 * (October 2021) lexical grammar, a recursive descent parser of the type system and of one
 * executable document, and the checks a reference needs. */
#include "sdl.h"

#include "etude_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of list types, values and selection sets accepted (a bound for hostile input). */
#define SDL_MAX_DEPTH 64

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* ---- lexer -------------------------------------------------------------------------------- */

typedef enum tk {
    TK_EOF,
    TK_PUNCT,  /* one of ! $ & ( ) : = @ [ ] { | } ; c holds it */
    TK_SPREAD, /* ... */
    TK_NAME,
    TK_INT,
    TK_FLOAT,
    TK_STRING, /* "..." or """...""": str holds the value */
} tk_t;

typedef struct tok {
    tk_t k;
    char c;
    const char *s; /* source bytes of the token */
    size_t n;
    size_t pos;    /* offset of the token in the source */
    int line, col;
    int block;     /* a block string */
    char *str;     /* decoded string value (owned by the lexer until taken) */
} tok_t;

typedef struct lx {
    const char *src;
    size_t len, pos;
    int line;
    size_t line_start;
    const char *file;
    char *err;
    size_t errsize;
    int rc; /* 0, -1 (syntax or check), -2 (memory) */
    tok_t t;
    size_t prev_end; /* end offset of the previous token */
    int depth;
} lx_t;

static int lfail(lx_t *l, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int lfail(lx_t *l, int line, int col, const char *fmt, ...)
{
    if (l->rc)
        return l->rc;
    l->rc = -1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->err && l->errsize)
        snprintf(l->err, l->errsize, "%s:%d:%d: %s", l->file, line, col, msg);
    return -1;
}

static int loom(lx_t *l)
{
    if (!l->rc) {
        l->rc = -2;
        if (l->err && l->errsize)
            snprintf(l->err, l->errsize, "%s: out of memory", l->file);
    }
    return -2;
}

static int at_col(const lx_t *l, size_t pos)
{
    return (int)(pos - l->line_start) + 1;
}

static void newline(lx_t *l, size_t next)
{
    l->line++;
    l->line_start = next;
}

/* Skips ignored tokens: BOM, white space, line terminators, commas, comments. */
static void skip_ignored(lx_t *l)
{
    while (l->pos < l->len) {
        unsigned char c = (unsigned char)l->src[l->pos];
        if (c == ' ' || c == '\t' || c == ',') {
            l->pos++;
        } else if (c == '\n') {
            l->pos++;
            newline(l, l->pos);
        } else if (c == '\r') {
            l->pos++;
            if (l->pos < l->len && l->src[l->pos] == '\n')
                l->pos++;
            newline(l, l->pos);
        } else if (c == 0xef && l->pos + 2 < l->len && (unsigned char)l->src[l->pos + 1] == 0xbb &&
                   (unsigned char)l->src[l->pos + 2] == 0xbf) {
            l->pos += 3;
        } else if (c == '#') {
            while (l->pos < l->len && l->src[l->pos] != '\n' && l->src[l->pos] != '\r')
                l->pos++;
        } else {
            break;
        }
    }
}

static int is_name_start(int c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_name_char(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(etude_buf_t *b, uint32_t cp)
{
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        etude_buf_put(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        etude_buf_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        etude_buf_put(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        etude_buf_put(b, u, 4);
    }
}

/* Four hex digits at p (within the source); -1 when not. */
static int32_t hex4(const lx_t *l, size_t p)
{
    if (p + 4 > l->len)
        return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)l->src[p + i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static int lex_string(lx_t *l, tok_t *t)
{
    etude_buf_t b = {0};
    size_t p = l->pos + 1;
    for (;;) {
        if (p >= l->len || l->src[p] == '\n' || l->src[p] == '\r') {
            etude_buf_free(&b);
            return lfail(l, t->line, t->col, "unterminated string");
        }
        unsigned char c = (unsigned char)l->src[p];
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20 && c != '\t') {
            etude_buf_free(&b);
            return lfail(l, t->line, at_col(l, p), "control character 0x%02x in a string", c);
        }
        if (c != '\\') {
            etude_buf_putc(&b, (char)c);
            p++;
            continue;
        }
        if (p + 1 >= l->len) {
            etude_buf_free(&b);
            return lfail(l, t->line, t->col, "unterminated string");
        }
        char e = l->src[p + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            etude_buf_putc(&b, out[simple - "\"\\/bfnrt"]);
            p += 2;
            continue;
        }
        if (e != 'u') {
            etude_buf_free(&b);
            return lfail(l, t->line, at_col(l, p), "invalid escape sequence in a string");
        }
        int32_t cp = hex4(l, p + 2);
        p += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int32_t lo = p + 1 < l->len && l->src[p] == '\\' && l->src[p + 1] == 'u' ? hex4(l, p + 2) : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                cp = -1;
            else {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            cp = -1;
        }
        if (cp <= 0) {
            etude_buf_free(&b);
            return lfail(l, t->line, at_col(l, p - 6), "invalid \\u escape in a string");
        }
        put_utf8(&b, (uint32_t)cp);
    }
    t->str = etude_buf_take(&b);
    if (!t->str)
        return loom(l);
    l->pos = p;
    return 0;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* The block string's raw text (escapes undone, line terminators made \n) to its value: the common indentation of
 * the lines after the first removed, leading and trailing blank lines dropped (spec 2.9.4). */
static char *block_value(const char *raw, size_t n)
{
    size_t nl = 1;
    for (size_t i = 0; i < n; i++)
        if (raw[i] == '\n')
            nl++;
    const char **ls = malloc(nl * sizeof *ls);
    size_t *ln = malloc(nl * sizeof *ln);
    if (!ls || !ln) {
        free(ls);
        free(ln);
        return NULL;
    }
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || raw[i] == '\n') {
            ls[k] = raw + start;
            ln[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    size_t common = SIZE_MAX;
    for (size_t i = 1; i < k; i++) {
        size_t ind = 0;
        while (ind < ln[i] && (ls[i][ind] == ' ' || ls[i][ind] == '\t'))
            ind++;
        if (ind < ln[i] && ind < common)
            common = ind;
    }
    for (size_t i = 1; i < k && common != SIZE_MAX; i++) {
        size_t cut = ln[i] < common ? ln[i] : common;
        ls[i] += cut;
        ln[i] -= cut;
    }
    size_t first = 0, last = k;
    while (first < k && is_blank(ls[first], ln[first]))
        first++;
    while (last > first && is_blank(ls[last - 1], ln[last - 1]))
        last--;
    etude_buf_t b = {0};
    for (size_t i = first; i < last; i++) {
        if (i > first)
            etude_buf_putc(&b, '\n');
        etude_buf_put(&b, ls[i], ln[i]);
    }
    free(ls);
    free(ln);
    return etude_buf_take(&b);
}

static int lex_block_string(lx_t *l, tok_t *t)
{
    etude_buf_t raw = {0};
    size_t p = l->pos + 3;
    for (;;) {
        if (p >= l->len) {
            etude_buf_free(&raw);
            return lfail(l, t->line, t->col, "unterminated block string");
        }
        if (p + 2 < l->len && !memcmp(l->src + p, "\"\"\"", 3)) {
            p += 3;
            break;
        }
        if (p + 3 < l->len && !memcmp(l->src + p, "\\\"\"\"", 4)) {
            etude_buf_put(&raw, "\"\"\"", 3);
            p += 4;
            continue;
        }
        unsigned char c = (unsigned char)l->src[p];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            etude_buf_free(&raw);
            return lfail(l, l->line, at_col(l, p), "control character 0x%02x in a block string", c);
        }
        if (c == '\n' || c == '\r') {
            /* line terminators (\n, \r\n, \r) become \n */
            if (c == '\r' && p + 1 < l->len && l->src[p + 1] == '\n')
                p++;
            etude_buf_putc(&raw, '\n');
            p++;
            newline(l, p);
            continue;
        }
        etude_buf_putc(&raw, (char)c);
        p++;
    }
    if (raw.oom)
        return etude_buf_free(&raw), loom(l);
    t->str = block_value(raw.p ? raw.p : "", raw.n);
    etude_buf_free(&raw);
    if (!t->str)
        return loom(l);
    t->block = 1;
    l->pos = p;
    return 0;
}

static int lex_number(lx_t *l, tok_t *t)
{
    size_t p = l->pos;
    int is_float = 0;
    if (l->src[p] == '-')
        p++;
    if (p >= l->len || l->src[p] < '0' || l->src[p] > '9')
        return lfail(l, t->line, t->col, "expected a digit after '-'");
    if (l->src[p] == '0' && p + 1 < l->len && l->src[p + 1] >= '0' && l->src[p + 1] <= '9')
        return lfail(l, t->line, t->col, "a number cannot start with 0");
    while (p < l->len && l->src[p] >= '0' && l->src[p] <= '9')
        p++;
    if (p < l->len && l->src[p] == '.') {
        is_float = 1;
        p++;
        if (p >= l->len || l->src[p] < '0' || l->src[p] > '9')
            return lfail(l, t->line, at_col(l, p), "expected a digit after '.'");
        while (p < l->len && l->src[p] >= '0' && l->src[p] <= '9')
            p++;
    }
    if (p < l->len && (l->src[p] == 'e' || l->src[p] == 'E')) {
        is_float = 1;
        p++;
        if (p < l->len && (l->src[p] == '+' || l->src[p] == '-'))
            p++;
        if (p >= l->len || l->src[p] < '0' || l->src[p] > '9')
            return lfail(l, t->line, at_col(l, p), "expected a digit in the exponent");
        while (p < l->len && l->src[p] >= '0' && l->src[p] <= '9')
            p++;
    }
    if (p < l->len && (is_name_start((unsigned char)l->src[p]) || l->src[p] == '.'))
        return lfail(l, t->line, at_col(l, p), "unexpected character after a number");
    t->k = is_float ? TK_FLOAT : TK_INT;
    l->pos = p;
    return 0;
}

/* Reads the next token into l->t (the previous one's string, if not taken, is freed). */
static int next(lx_t *l)
{
    if (l->rc)
        return l->rc;
    free(l->t.str);
    l->prev_end = l->t.s ? (size_t)(l->t.s - l->src) + l->t.n : 0;
    memset(&l->t, 0, sizeof l->t);
    skip_ignored(l);
    tok_t *t = &l->t;
    t->pos = l->pos;
    t->line = l->line;
    t->col = at_col(l, l->pos);
    t->s = l->src + l->pos;
    if (l->pos >= l->len) {
        t->k = TK_EOF;
        return 0;
    }
    unsigned char c = (unsigned char)l->src[l->pos];
    int rc = 0;
    if (strchr("!$&():=@[]{|}", c) && c) {
        t->k = TK_PUNCT;
        t->c = (char)c;
        l->pos++;
    } else if (c == '.') {
        if (l->pos + 2 < l->len && l->src[l->pos + 1] == '.' && l->src[l->pos + 2] == '.') {
            t->k = TK_SPREAD;
            l->pos += 3;
        } else {
            return lfail(l, t->line, t->col, "unexpected '.' (did you mean '...'?)");
        }
    } else if (is_name_start(c)) {
        t->k = TK_NAME;
        while (l->pos < l->len && is_name_char((unsigned char)l->src[l->pos]))
            l->pos++;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        rc = lex_number(l, t);
    } else if (c == '"') {
        t->k = TK_STRING;
        if (l->pos + 2 < l->len && l->src[l->pos + 1] == '"' && l->src[l->pos + 2] == '"')
            rc = lex_block_string(l, t);
        else
            rc = lex_string(l, t);
    } else if (c >= 0x20 && c < 0x7f) {
        return lfail(l, t->line, t->col, "unexpected character '%c'", c);
    } else {
        return lfail(l, t->line, t->col, "unexpected byte 0x%02x", c);
    }
    if (rc)
        return rc;
    t->n = (size_t)(l->src + l->pos - t->s);
    return 0;
}

static int is_punct(const lx_t *l, char c)
{
    return l->t.k == TK_PUNCT && l->t.c == c;
}

static int is_kw(const lx_t *l, const char *kw)
{
    return l->t.k == TK_NAME && strlen(kw) == l->t.n && !memcmp(l->t.s, kw, l->t.n);
}

static const char *tok_desc(const lx_t *l, char *buf, size_t size)
{
    switch (l->t.k) {
    case TK_EOF: return "the end of the file";
    case TK_PUNCT: snprintf(buf, size, "'%c'", l->t.c); return buf;
    case TK_SPREAD: return "'...'";
    case TK_STRING: return "a string";
    case TK_INT:
    case TK_FLOAT: return "a number";
    case TK_NAME: snprintf(buf, size, "'%.*s'", l->t.n > 40 ? 40 : (int)l->t.n, l->t.s); return buf;
    }
    return "?";
}

static int expect_punct(lx_t *l, char c, const char *what)
{
    if (l->rc)
        return l->rc;
    if (!is_punct(l, c)) {
        char b[64];
        return lfail(l, l->t.line, l->t.col, "expected '%c' %s, found %s", c, what, tok_desc(l, b, sizeof b));
    }
    return next(l);
}

/* Takes the current name token (malloc'd copy) and advances. */
static char *take_name(lx_t *l, const char *what)
{
    if (l->rc)
        return NULL;
    if (l->t.k != TK_NAME) {
        char b[64];
        lfail(l, l->t.line, l->t.col, "expected %s, found %s", what, tok_desc(l, b, sizeof b));
        return NULL;
    }
    char *s = dupn(l->t.s, l->t.n);
    if (!s) {
        loom(l);
        return NULL;
    }
    if (next(l)) {
        free(s);
        return NULL;
    }
    return s;
}

/* An optional description (a string before a definition). */
static char *take_description(lx_t *l)
{
    if (l->rc || l->t.k != TK_STRING)
        return NULL;
    char *s = l->t.str;
    l->t.str = NULL;
    if (next(l)) {
        free(s);
        return NULL;
    }
    return s;
}

/* A value; constant when cst (no variables). Only its extent in the source is kept. */
static int parse_value(lx_t *l, int cst)
{
    if (l->rc)
        return l->rc;
    if (++l->depth > SDL_MAX_DEPTH)
        return lfail(l, l->t.line, l->t.col, "values nested deeper than %d", SDL_MAX_DEPTH);
    int rc = 0;
    char b[64];
    if (is_punct(l, '$')) {
        if (cst)
            rc = lfail(l, l->t.line, l->t.col, "a variable is not allowed in a constant value");
        else if (!next(l)) {
            free(take_name(l, "a variable name after '$'"));
        }
    } else if (l->t.k == TK_INT || l->t.k == TK_FLOAT || l->t.k == TK_STRING || l->t.k == TK_NAME) {
        rc = next(l);
    } else if (is_punct(l, '[')) {
        rc = next(l);
        while (!rc && !l->rc && !is_punct(l, ']')) {
            if (l->t.k == TK_EOF)
                rc = lfail(l, l->t.line, l->t.col, "expected ']' to close a list value");
            else
                rc = parse_value(l, cst);
        }
        if (!rc)
            rc = next(l);
    } else if (is_punct(l, '{')) {
        rc = next(l);
        while (!rc && !l->rc && !is_punct(l, '}')) {
            free(take_name(l, "a field name in an object value"));
            if (!l->rc)
                expect_punct(l, ':', "after the field name in an object value");
            if (!l->rc)
                parse_value(l, cst);
        }
        if (!l->rc)
            rc = next(l);
    } else {
        rc = lfail(l, l->t.line, l->t.col, "expected a value, found %s", tok_desc(l, b, sizeof b));
    }
    l->depth--;
    return l->rc ? l->rc : rc;
}

/* Parses a value and returns its source text on one line (malloc'd). */
static char *take_value_text(lx_t *l, int cst)
{
    size_t start = l->t.pos;
    if (parse_value(l, cst))
        return NULL;
    size_t end = l->prev_end;
    etude_buf_t b = {0};
    int space = 0;
    for (size_t i = start; i < end; i++) {
        char c = l->src[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (c == ' ') {
            space = 1;
            continue;
        }
        if (space && b.n)
            etude_buf_putc(&b, ' ');
        space = 0;
        etude_buf_putc(&b, c);
    }
    char *s = etude_buf_take(&b);
    if (!s)
        loom(l);
    return s;
}

static void typeref_free(sdl_typeref_t *t)
{
    free(t->text);
    free(t->base);
    t->text = t->base = NULL;
}

static int parse_type_into(lx_t *l, etude_buf_t *text, char **base)
{
    if (l->rc)
        return l->rc;
    if (++l->depth > SDL_MAX_DEPTH)
        return lfail(l, l->t.line, l->t.col, "list types nested deeper than %d", SDL_MAX_DEPTH);
    if (is_punct(l, '[')) {
        etude_buf_putc(text, '[');
        if (!next(l) && !parse_type_into(l, text, base) && !expect_punct(l, ']', "to close a list type"))
            etude_buf_putc(text, ']');
    } else {
        char *n = take_name(l, "a type name");
        if (n) {
            etude_buf_put(text, n, strlen(n));
            free(*base);
            *base = n;
        }
    }
    if (!l->rc && is_punct(l, '!')) {
        etude_buf_putc(text, '!');
        next(l);
    }
    l->depth--;
    return l->rc;
}

static int parse_type(lx_t *l, sdl_typeref_t *out)
{
    etude_buf_t text = {0};
    char *base = NULL;
    parse_type_into(l, &text, &base);
    if (l->rc) {
        free(text.p);
        free(base);
        return l->rc;
    }
    out->text = etude_buf_take(&text);
    out->base = base;
    if (!out->text)
        return loom(l);
    return 0;
}

/* Directives after a definition: @deprecated's reason is kept (into *deprecated, may be NULL),
 * others are read and passed over. */
static int parse_directives(lx_t *l, int cst, char **deprecated)
{
    while (!l->rc && is_punct(l, '@')) {
        if (next(l))
            break;
        int dep = is_kw(l, "deprecated");
        char *name = take_name(l, "a directive name after '@'");
        if (!name)
            break;
        free(name);
        char *reason = NULL;
        if (is_punct(l, '(')) {
            next(l);
            while (!l->rc && !is_punct(l, ')')) {
                int is_reason = is_kw(l, "reason");
                free(take_name(l, "an argument name"));
                expect_punct(l, ':', "after the argument name");
                if (!l->rc && dep && is_reason && l->t.k == TK_STRING && !reason) {
                    reason = l->t.str;
                    l->t.str = NULL;
                }
                parse_value(l, cst);
            }
            if (!l->rc)
                next(l);
        }
        if (dep && deprecated && !l->rc) {
            free(*deprecated);
            *deprecated = reason ? reason : calloc(1, 1);
            if (!*deprecated)
                loom(l);
        } else {
            free(reason);
        }
    }
    return l->rc;
}

static void value_def_free(sdl_value_def_t *v)
{
    free(v->name);
    free(v->desc);
    typeref_free(&v->type);
    free(v->dflt);
}

static void field_free(sdl_field_t *f)
{
    free(f->name);
    free(f->desc);
    typeref_free(&f->type);
    for (int i = 0; i < f->nargs; i++)
        value_def_free(&f->args[i]);
    free(f->args);
    free(f->deprecated);
    free(f->dflt);
}

static void type_free(sdl_type_t *t)
{
    free(t->name);
    free(t->desc);
    for (int i = 0; i < t->nfields; i++)
        field_free(&t->fields[i]);
    free(t->fields);
    for (int i = 0; i < t->nmembers; i++)
        free(t->members[i]);
    free(t->members);
}

void sdl_schema_free(sdl_schema_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->ntypes; i++)
        type_free(&s->types[i]);
    free(s->types);
    for (int i = 0; i < 3; i++)
        free(s->root[i]);
    memset(s, 0, sizeof *s);
}

/* Grows *arr (of *n elements of size sz) by one zeroed element; returns it, NULL when out of memory. */
static void *grow(lx_t *l, void **arr, int *n, size_t sz)
{
    if (*n >= 1 << 20) {
        lfail(l, l->t.line, l->t.col, "too many definitions");
        return NULL;
    }
    void *p = realloc(*arr, (size_t)(*n + 1) * sz);
    if (!p) {
        loom(l);
        return NULL;
    }
    *arr = p;
    void *e = (char *)p + (size_t)*n * sz;
    memset(e, 0, sz);
    (*n)++;
    return e;
}

/* An input value definition (an argument or an input field): description? Name ':' Type
 * ('=' Value)? Directives?; or, for a variable (var set), '$' Name ':' Type ('=' Value)?. */
static int parse_value_def(lx_t *l, sdl_value_def_t *v, int var, char **deprecated)
{
    if (!var)
        v->desc = take_description(l);
    v->line = l->t.line;
    v->col = l->t.col;
    if (var && expect_punct(l, '$', "before a variable name"))
        return l->rc;
    v->name = take_name(l, var ? "a variable name" : "an argument or field name");
    if (!v->name)
        return l->rc;
    expect_punct(l, ':', "after the name (then its type)");
    parse_type(l, &v->type);
    if (!l->rc && is_punct(l, '=')) {
        next(l);
        v->dflt = take_value_text(l, 1);
    }
    parse_directives(l, 1, deprecated);
    return l->rc;
}

static int parse_args_def(lx_t *l, sdl_value_def_t **args, int *nargs)
{
    if (!is_punct(l, '('))
        return 0;
    next(l);
    if (is_punct(l, ')'))
        return lfail(l, l->t.line, l->t.col, "an argument list cannot be empty");
    while (!l->rc && !is_punct(l, ')')) {
        sdl_value_def_t *v = grow(l, (void **)args, nargs, sizeof *v);
        if (v)
            parse_value_def(l, v, 0, NULL);
    }
    if (!l->rc)
        next(l);
    return l->rc;
}

static int parse_fields(lx_t *l, sdl_type_t *t, int input)
{
    if (expect_punct(l, '{', input ? "to open the input fields" : "to open the fields"))
        return l->rc;
    if (is_punct(l, '}'))
        return lfail(l, l->t.line, l->t.col, "'%s' has no fields", t->name);
    while (!l->rc && !is_punct(l, '}')) {
        if (l->t.k == TK_EOF)
            return lfail(l, l->t.line, l->t.col, "expected '}' to close '%s'", t->name);
        sdl_field_t *f = grow(l, (void **)&t->fields, &t->nfields, sizeof *f);
        if (!f)
            break;
        if (input) {
            sdl_value_def_t v = {0};
            parse_value_def(l, &v, 0, &f->deprecated);
            f->name = v.name;
            f->desc = v.desc;
            f->type = v.type;
            f->dflt = v.dflt;
            f->line = v.line;
            f->col = v.col;
            continue;
        }
        f->desc = take_description(l);
        f->line = l->t.line;
        f->col = l->t.col;
        f->name = take_name(l, "a field name");
        parse_args_def(l, &f->args, &f->nargs);
        expect_punct(l, ':', "after the field name (then its type)");
        parse_type(l, &f->type);
        parse_directives(l, 1, &f->deprecated);
    }
    if (!l->rc)
        next(l);
    return l->rc;
}

static int parse_enum_values(lx_t *l, sdl_type_t *t)
{
    if (expect_punct(l, '{', "to open the enum values"))
        return l->rc;
    if (is_punct(l, '}'))
        return lfail(l, l->t.line, l->t.col, "enum '%s' has no values", t->name);
    while (!l->rc && !is_punct(l, '}')) {
        if (l->t.k == TK_EOF)
            return lfail(l, l->t.line, l->t.col, "expected '}' to close enum '%s'", t->name);
        sdl_field_t *f = grow(l, (void **)&t->fields, &t->nfields, sizeof *f);
        if (!f)
            break;
        f->desc = take_description(l);
        f->line = l->t.line;
        f->col = l->t.col;
        if (is_kw(l, "true") || is_kw(l, "false") || is_kw(l, "null"))
            return lfail(l, l->t.line, l->t.col, "'%.*s' cannot be an enum value", (int)l->t.n, l->t.s);
        f->name = take_name(l, "an enum value");
        parse_directives(l, 1, &f->deprecated);
    }
    if (!l->rc)
        next(l);
    return l->rc;
}

static int add_member(lx_t *l, sdl_type_t *t, const char *what)
{
    char **m = grow(l, (void **)&t->members, &t->nmembers, sizeof *m);
    if (m)
        *m = take_name(l, what);
    return l->rc;
}

static int parse_schema_def(lx_t *l, sdl_schema_t *s)
{
    int line = l->t.line, col = l->t.col;
    next(l);
    parse_directives(l, 1, NULL);
    if (expect_punct(l, '{', "to open the schema definition"))
        return l->rc;
    for (int i = 0; i < 3; i++)
        if (s->root[i])
            return lfail(l, line, col, "a second schema definition");
    while (!l->rc && !is_punct(l, '}')) {
        static const char *const ops[] = {"query", "mutation", "subscription"};
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (is_kw(l, ops[i]))
                which = i;
        if (which < 0) {
            char b[64];
            return lfail(l, l->t.line, l->t.col, "expected query, mutation or subscription, found %s",
                         tok_desc(l, b, sizeof b));
        }
        if (s->root[which])
            return lfail(l, l->t.line, l->t.col, "the %s root type is named twice", ops[which]);
        next(l);
        expect_punct(l, ':', "after the operation type");
        s->root[which] = take_name(l, "a root type name");
    }
    if (!l->rc)
        next(l);
    return l->rc;
}

static void lx_init(lx_t *l, const char *text, size_t len, const char *file, char *err, size_t errsize)
{
    memset(l, 0, sizeof *l);
    l->src = text;
    l->len = len;
    l->line = 1;
    l->file = file;
    l->err = err;
    l->errsize = errsize;
    if (err && errsize)
        err[0] = 0;
}

int sdl_parse_schema(const char *text, size_t len, const char *file, sdl_schema_t *out, char *err, size_t errsize)
{
    memset(out, 0, sizeof *out);
    lx_t l;
    lx_init(&l, text, len, file, err, errsize);
    next(&l);
    while (!l.rc && l.t.k != TK_EOF) {
        char *desc = take_description(&l);
        if (l.rc) {
            free(desc);
            break;
        }
        if (is_kw(&l, "schema")) {
            free(desc);
            parse_schema_def(&l, out);
            continue;
        }
        static const char *const kws[] = {"scalar", "type", "interface", "union", "enum", "input"};
        static const sdl_kind_t kinds[] = {SDL_SCALAR, SDL_OBJECT, SDL_INTERFACE, SDL_UNION, SDL_ENUM, SDL_INPUT};
        int which = -1;
        for (int i = 0; i < 6; i++)
            if (is_kw(&l, kws[i]))
                which = i;
        if (which < 0) {
            free(desc);
            char b[64];
            if (is_kw(&l, "extend") || is_kw(&l, "directive"))
                lfail(&l, l.t.line, l.t.col, "%s is not supported here (define the type whole)",
                      is_kw(&l, "extend") ? "a schema extension" : "a directive definition");
            else
                lfail(&l, l.t.line, l.t.col, "expected a definition (type, input, enum, scalar, interface, union, "
                      "schema), found %s", tok_desc(&l, b, sizeof b));
            break;
        }
        sdl_type_t *t = grow(&l, (void **)&out->types, &out->ntypes, sizeof *t);
        if (!t) {
            free(desc);
            break;
        }
        t->kind = kinds[which];
        t->desc = desc;
        t->line = l.t.line;
        t->col = l.t.col;
        next(&l);
        t->name = take_name(&l, "a type name");
        if (l.rc)
            break;
        if (t->kind == SDL_OBJECT || t->kind == SDL_INTERFACE) {
            if (is_kw(&l, "implements")) {
                next(&l);
                if (is_punct(&l, '&'))
                    next(&l);
                add_member(&l, t, "an interface name");
                while (!l.rc && is_punct(&l, '&')) {
                    next(&l);
                    add_member(&l, t, "an interface name");
                }
            }
            parse_directives(&l, 1, NULL);
            if (!l.rc && is_punct(&l, '{'))
                parse_fields(&l, t, 0);
        } else if (t->kind == SDL_INPUT) {
            parse_directives(&l, 1, NULL);
            if (!l.rc && is_punct(&l, '{'))
                parse_fields(&l, t, 1);
        } else if (t->kind == SDL_ENUM) {
            parse_directives(&l, 1, NULL);
            if (!l.rc && is_punct(&l, '{'))
                parse_enum_values(&l, t);
        } else if (t->kind == SDL_UNION) {
            parse_directives(&l, 1, NULL);
            if (!l.rc && is_punct(&l, '=')) {
                next(&l);
                if (is_punct(&l, '|'))
                    next(&l);
                add_member(&l, t, "a member type name");
                while (!l.rc && is_punct(&l, '|')) {
                    next(&l);
                    add_member(&l, t, "a member type name");
                }
            }
        } else {
            parse_directives(&l, 1, NULL);
        }
    }
    free(l.t.str);
    return l.rc;
}

/* ---- checks ------------------------------------------------------------------------------- */

int sdl_builtin_scalar(const char *name)
{
    static const char *const b[] = {"Int", "Float", "String", "Boolean", "ID"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, b[i]))
            return 1;
    return 0;
}

const sdl_type_t *sdl_find_type(const sdl_schema_t *s, const char *name)
{
    for (int i = 0; name && i < s->ntypes; i++)
        if (s->types[i].name && !strcmp(s->types[i].name, name))
            return &s->types[i];
    return NULL;
}

static int cfail(const char *file, int line, int col, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int cfail(const char *file, int line, int col, char *err, size_t errsize, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errsize)
        snprintf(err, errsize, "%s:%d:%d: %s", file, line, col, msg);
    return -1;
}

/* 1 input type, 2 output type, 3 both (scalar, enum), 0 undefined. */
static int type_use(const sdl_schema_t *s, const char *name)
{
    if (sdl_builtin_scalar(name))
        return 3;
    const sdl_type_t *t = sdl_find_type(s, name);
    if (!t)
        return 0;
    switch (t->kind) {
    case SDL_SCALAR:
    case SDL_ENUM: return 3;
    case SDL_INPUT: return 1;
    default: return 2;
    }
}

static int check_ref(const sdl_schema_t *s, const sdl_typeref_t *r, int want, const char *what, const char *file,
                     int line, int col, char *err, size_t errsize)
{
    int u = type_use(s, r->base);
    if (!u)
        return cfail(file, line, col, err, errsize, "%s: type '%s' is not defined", what, r->base);
    if (!(u & want))
        return cfail(file, line, col, err, errsize, "%s: '%s' is an %s type, not allowed here", what, r->base,
                     want == 1 ? "output" : "input");
    return 0;
}

int sdl_check_schema(const sdl_schema_t *s, const char *file, char *err, size_t errsize)
{
    for (int i = 0; i < s->ntypes; i++) {
        const sdl_type_t *t = &s->types[i];
        if (sdl_builtin_scalar(t->name))
            return cfail(file, t->line, t->col, err, errsize, "'%s' is a built-in scalar; it cannot be defined",
                         t->name);
        if (!strncmp(t->name, "__", 2))
            return cfail(file, t->line, t->col, err, errsize, "'%s': names starting with '__' are reserved", t->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->types[j].name, t->name))
                return cfail(file, t->line, t->col, err, errsize, "type '%s' is defined twice (first on line %d)",
                             t->name, s->types[j].line);
        for (int f = 0; f < t->nfields; f++) {
            const sdl_field_t *fd = &t->fields[f];
            char what[300];
            snprintf(what, sizeof what, "%s.%s", t->name, fd->name);
            for (int g = 0; g < f; g++)
                if (!strcmp(t->fields[g].name, fd->name))
                    return cfail(file, fd->line, fd->col, err, errsize, "%s is defined twice", what);
            if (t->kind == SDL_ENUM)
                continue;
            int rc = check_ref(s, &fd->type, t->kind == SDL_INPUT ? 1 : 2, what, file, fd->line, fd->col, err,
                               errsize);
            if (rc)
                return rc;
            for (int a = 0; a < fd->nargs; a++) {
                const sdl_value_def_t *ar = &fd->args[a];
                char w2[400];
                snprintf(w2, sizeof w2, "%s(%s:)", what, ar->name);
                for (int b = 0; b < a; b++)
                    if (!strcmp(fd->args[b].name, ar->name))
                        return cfail(file, ar->line, ar->col, err, errsize, "%s is defined twice", w2);
                if ((rc = check_ref(s, &ar->type, 1, w2, file, ar->line, ar->col, err, errsize)))
                    return rc;
            }
        }
        for (int m = 0; m < t->nmembers; m++) {
            const sdl_type_t *mt = sdl_find_type(s, t->members[m]);
            sdl_kind_t want = t->kind == SDL_UNION ? SDL_OBJECT : SDL_INTERFACE;
            if (!mt || mt->kind != want)
                return cfail(file, t->line, t->col, err, errsize, "%s: '%s' is not %s", t->name, t->members[m],
                             want == SDL_OBJECT ? "a defined object type" : "a defined interface");
        }
    }
    static const char *const dflt[] = {"Query", "Mutation", "Subscription"};
    for (int i = 0; i < 3; i++) {
        const char *name = s->root[i] ? s->root[i] : dflt[i];
        const sdl_type_t *t = sdl_find_type(s, name);
        if (i == 0 && !t)
            return cfail(file, 1, 1, err, errsize, "no query root type ('%s' is not defined)", name);
        if (t && t->kind != SDL_OBJECT)
            return cfail(file, t->line, t->col, err, errsize, "root type '%s' is not an object type", name);
        if (!t && s->root[i])
            return cfail(file, 1, 1, err, errsize, "root type '%s' is not defined", name);
    }
    return 0;
}

/* ---- operations --------------------------------------------------------------------------- */

void sdl_operation_free(sdl_operation_t *op)
{
    if (!op)
        return;
    free(op->kind);
    free(op->name);
    for (int i = 0; i < op->nvars; i++)
        value_def_free(&op->vars[i]);
    free(op->vars);
    for (int i = 0; i < op->nroots; i++)
        free(op->roots[i]);
    free(op->roots);
    memset(op, 0, sizeof *op);
}

/* A selection set; the names of its fields are added to op's roots when roots is set. */
static int parse_selection_set(lx_t *l, sdl_operation_t *roots)
{
    if (++l->depth > SDL_MAX_DEPTH)
        return lfail(l, l->t.line, l->t.col, "selections nested deeper than %d", SDL_MAX_DEPTH);
    if (expect_punct(l, '{', "to open a selection set"))
        return l->rc;
    if (is_punct(l, '}'))
        return lfail(l, l->t.line, l->t.col, "a selection set cannot be empty");
    while (!l->rc && !is_punct(l, '}')) {
        if (l->t.k == TK_EOF)
            return lfail(l, l->t.line, l->t.col, "expected '}' to close a selection set");
        if (l->t.k == TK_SPREAD) {
            int line = l->t.line, col = l->t.col;
            next(l);
            if (is_kw(l, "on")) {
                next(l);
                free(take_name(l, "a type name after 'on'"));
            } else if (l->t.k == TK_NAME) {
                if (roots)
                    return lfail(l, line, col, "a fragment spread among the operation's root fields (name them "
                                 "in the operation)");
                free(take_name(l, "a fragment name"));
                parse_directives(l, 0, NULL);
                continue;
            }
            parse_directives(l, 0, NULL);
            parse_selection_set(l, roots); /* an inline fragment's fields are at the same level */
            continue;
        }
        char *name = take_name(l, "a field name");
        if (!name)
            break;
        if (is_punct(l, ':')) {
            free(name);
            next(l);
            name = take_name(l, "a field name after the alias");
            if (!name)
                break;
        }
        if (roots) {
            char **r = grow(l, (void **)&roots->roots, &roots->nroots, sizeof *r);
            if (!r) {
                free(name);
                break;
            }
            *r = name;
        } else {
            free(name);
        }
        if (is_punct(l, '(')) {
            next(l);
            if (is_punct(l, ')'))
                return lfail(l, l->t.line, l->t.col, "an argument list cannot be empty");
            while (!l->rc && !is_punct(l, ')')) {
                free(take_name(l, "an argument name"));
                expect_punct(l, ':', "after the argument name");
                parse_value(l, 0);
            }
            if (!l->rc)
                next(l);
        }
        parse_directives(l, 0, NULL);
        if (!l->rc && is_punct(l, '{'))
            parse_selection_set(l, NULL);
    }
    if (!l->rc)
        next(l);
    l->depth--;
    return l->rc;
}

int sdl_parse_operation(const char *text, size_t len, const char *file, sdl_operation_t *out, char *err,
                        size_t errsize)
{
    memset(out, 0, sizeof *out);
    lx_t l;
    lx_init(&l, text, len, file, err, errsize);
    next(&l);
    if (!l.rc && l.t.k == TK_EOF)
        lfail(&l, 1, 1, "no operation in the document");
    while (!l.rc && l.t.k != TK_EOF) {
        int line = l.t.line, col = l.t.col;
        if (is_kw(&l, "fragment")) {
            next(&l);
            if (is_kw(&l, "on")) {
                lfail(&l, l.t.line, l.t.col, "a fragment cannot be named 'on'");
                break;
            }
            free(take_name(&l, "a fragment name"));
            if (!l.rc && !is_kw(&l, "on")) {
                char b[64];
                lfail(&l, l.t.line, l.t.col, "expected 'on' after the fragment name, found %s",
                      tok_desc(&l, b, sizeof b));
                break;
            }
            next(&l);
            free(take_name(&l, "a type name after 'on'"));
            parse_directives(&l, 0, NULL);
            parse_selection_set(&l, NULL);
            continue;
        }
        if (!is_kw(&l, "query") && !is_kw(&l, "mutation") && !is_kw(&l, "subscription")) {
            char b[64];
            lfail(&l, line, col, "expected query, mutation, subscription or fragment, found %s%s",
                  tok_desc(&l, b, sizeof b), is_punct(&l, '{') ? " (a trusted document names its operation)" : "");
            break;
        }
        if (out->kind) {
            lfail(&l, line, col, "a second operation ('%s' is the document's one)", out->name);
            break;
        }
        out->line = line;
        out->col = col;
        out->kind = take_name(&l, "an operation type");
        if (!out->kind)
            break;
        out->name = take_name(&l, "the operation's name");
        if (!out->name)
            break;
        if (is_punct(&l, '(')) {
            next(&l);
            if (is_punct(&l, ')')) {
                lfail(&l, l.t.line, l.t.col, "a variable list cannot be empty");
                break;
            }
            while (!l.rc && !is_punct(&l, ')')) {
                sdl_value_def_t *v = grow(&l, (void **)&out->vars, &out->nvars, sizeof *v);
                if (v)
                    parse_value_def(&l, v, 1, NULL);
            }
            if (!l.rc)
                next(&l);
        }
        parse_directives(&l, 0, NULL);
        parse_selection_set(&l, out);
    }
    if (!l.rc && !out->kind)
        lfail(&l, 1, 1, "no operation in the document (only fragments)");
    free(l.t.str);
    return l.rc;
}

int sdl_check_operation(const sdl_schema_t *s, const sdl_operation_t *op, const char *file, char *err,
                        size_t errsize)
{
    static const char *const kinds[] = {"query", "mutation", "subscription"};
    static const char *const dflt[] = {"Query", "Mutation", "Subscription"};
    int k = 0;
    while (k < 3 && strcmp(op->kind, kinds[k]))
        k++;
    if (k == 3)
        return cfail(file, op->line, op->col, err, errsize, "'%s' is not an operation type", op->kind);
    const char *rname = s->root[k] ? s->root[k] : dflt[k];
    const sdl_type_t *root = sdl_find_type(s, rname);
    if (!root)
        return cfail(file, op->line, op->col, err, errsize, "the schema has no %s root type", op->kind);
    for (int i = 0; i < op->nvars; i++) {
        const sdl_value_def_t *v = &op->vars[i];
        for (int j = 0; j < i; j++)
            if (!strcmp(op->vars[j].name, v->name))
                return cfail(file, v->line, v->col, err, errsize, "variable $%s is defined twice", v->name);
        char what[300];
        snprintf(what, sizeof what, "variable $%s", v->name);
        int rc = check_ref(s, &v->type, 1, what, file, v->line, v->col, err, errsize);
        if (rc)
            return rc;
    }
    for (int i = 0; i < op->nroots; i++) {
        int found = !strcmp(op->roots[i], "__typename");
        for (int f = 0; !found && f < root->nfields; f++)
            found = !strcmp(root->fields[f].name, op->roots[i]);
        if (!found)
            return cfail(file, op->line, op->col, err, errsize, "%s %s: '%s' is not a field of %s", op->kind,
                         op->name, op->roots[i], rname);
    }
    return 0;
}
