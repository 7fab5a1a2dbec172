/* syncd_store_copy.c - etude-syncd db copy: a SQLite server's whole database into PostgreSQL in one
 * target transaction, verified table by table before it commits. Part of the store module (it
 * issues SQL on both backends through syncd_db.c; the PostgreSQL schema is the store's own).
 *
 * The tables come from the source's sqlite_master, the columns from its table_info, and both must
 * match the PostgreSQL schema the store creates: a table of either schema that is neither copied nor
 * named below as transient stops the copy, so a new table cannot be forgotten silently.
 *
 * Canonical rows (what the checksums cover, the same bytes from either engine): per row, per column
 * in the source's column order, NULL as "n", an integer as "i" LEN ":" decimal, text as "t" LEN ":"
 * its bytes, a blob as "b" LEN ":" lowercase hex (LEN: the byte count that follows, in decimal),
 * then "\n". A table's checksum is BLAKE2b-256 (libsodium crypto_generichash) of its rows in primary
 * key order, text keys compared bytewise. */
#include "syncd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "etude_canon.h"
#include "syncd_db.h"
#include "syncd_store_int.h"

#define MAX_TABLES ETUDE_SYNCD_COPY_MAX_TABLES
#define MAX_COLS 16 /* the driver's parameter limit: one INSERT per row */
#define NAME_LEN 64

/* Tables skipped by name: state that matters for minutes only and belongs to the running server.
 * None is today. login_throttle (failed-login counters) is copied: its windows are wall-clock
 * times, so a lockout in progress stays in force across the move. */
static const struct {
    const char *name;
    const char *why;
} transient[] = {
    {NULL, NULL},
};

enum { COL_INT, COL_TEXT, COL_BLOB };

typedef struct {
    char name[NAME_LEN];
    int ncols;
    char col[MAX_COLS][NAME_LEN];
    int type[MAX_COLS];
    int pk[MAX_COLS]; /* position in the primary key from 1, 0 if not part of it */
    char ref[MAX_TABLES][NAME_LEN]; /* tables its foreign keys reference */
    int nref;
    const char *skip_why;
    int done; /* placed in the copy order */
} table_t;

typedef struct {
    int null;
    int64_t i;
    const char *p;
    size_t n;
} value_t;

typedef struct {
    const char *from;
    char shown_to[512];
    syncd_db_t *src, *dst;
    table_t t[MAX_TABLES];
    int nt;
    int order[MAX_TABLES];
    int norder;
    char *err;
    size_t err_len;
} copy_t;

static int fail(copy_t *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(copy_t *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->err_len, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *transient_why(const char *name)
{
    for (size_t i = 0; transient[i].name; i++)
        if (strcmp(transient[i].name, name) == 0)
            return transient[i].why;
    return NULL;
}

static table_t *find(copy_t *c, const char *name)
{
    for (int i = 0; i < c->nt; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return &c->t[i];
    return NULL;
}

/* "name" with embedded quotes doubled, into buf. */
static void quote(const char *name, char *buf, size_t len)
{
    size_t k = 0;
    if (len < 3)
        return;
    buf[k++] = '"';
    for (const char *p = name; *p && k + 3 < len; p++) {
        if (*p == '"')
            buf[k++] = '"';
        buf[k++] = *p;
    }
    buf[k++] = '"';
    buf[k] = '\0';
}

/* "file:PATH?mode=ro" with the path's reserved characters percent-encoded: SQLite opens it
 * read-only and never creates it. Caller frees. */
static char *ro_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(n * 3 + 16);
    if (!u)
        return NULL;
    size_t k = (size_t)sprintf(u, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '/' ||
            *p == '.' || *p == '-' || *p == '_' || *p == '~')
            u[k++] = (char)*p;
        else
            k += (size_t)sprintf(u + k, "%%%02X", *p);
    }
    strcpy(u + k, "?mode=ro");
    return u;
}

static int query_int(syncd_db_t *db, const char *sql, int64_t *out)
{
    syncd_stmt_t *q = NULL;
    int rc = SYNCD_ERROR;
    if (syncd_db_prepare(db, sql, &q) == 0 && syncd_db_step(q) == SYNCD_ROW) {
        *out = syncd_db_column_int64(q, 0);
        rc = 0;
    }
    syncd_db_finalize(q);
    return rc;
}

/* The source: an etude-syncd SQLite database at the current schema version. */
static int open_source(copy_t *c)
{
    struct stat sb;
    if (stat(c->from, &sb) != 0)
        return fail(c, errno == ENOENT ? ETUDE_SYNCD_ENOENT : ETUDE_SYNCD_EDB, "--from %s: %s", c->from,
                    strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return fail(c, ETUDE_SYNCD_EINVAL, "--from %s: not a file", c->from);
    if (access(c->from, R_OK) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--from %s: %s", c->from, strerror(errno));
    char *uri = ro_uri(c->from), dberr[400];
    if (!uri)
        return fail(c, ETUDE_SYNCD_ENOMEM, "out of memory");
    int r = syncd_db_open(uri, &c->src, dberr, sizeof dberr);
    free(uri);
    if (r != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--from %s: cannot open: %s", c->from, dberr);
    int64_t n = 0, v = 0;
    /* One read transaction: every table is read from the same snapshot. */
    if (syncd_db_exec(c->src, "BEGIN") != 0 ||
        query_int(c->src, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('users','entities','meta')",
                  &n) != 0)
        return fail(c, ETUDE_SYNCD_EINVAL, "--from %s: not a SQLite database (%s)", c->from, syncd_db_errmsg(c->src));
    if (n != 3)
        return fail(c, ETUDE_SYNCD_EINVAL, "--from %s: not an etude-syncd database (no users, entities and meta tables)",
                    c->from);
    if (query_int(c->src, "PRAGMA user_version", &v) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--from %s: %s", c->from, syncd_db_errmsg(c->src));
    int cur = syncd_store_schema_version();
    if (v < cur)
        return fail(c, ETUDE_SYNCD_EINVAL,
                    "--from %s: schema version %" PRId64 ", db copy needs version %d: run `etude-syncd db migrate --db %s` first",
                    c->from, v, cur, c->from);
    if (v > cur)
        return fail(c, ETUDE_SYNCD_EINVAL, "--from %s: schema version %" PRId64 ", made by a newer etude-syncd (this one has %d)",
                    c->from, v, cur);
    return 0;
}

/* The source's tables, their columns and the tables their foreign keys reference. */
static int read_source_schema(copy_t *c)
{
    syncd_stmt_t *q = NULL, *ti = NULL, *fk = NULL;
    int rc = 0;
    if (syncd_db_prepare(c->src, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                                 " ORDER BY name", &q) != 0 ||
        syncd_db_prepare(c->src, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", &ti) != 0 ||
        syncd_db_prepare(c->src, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)", &fk) != 0) {
        rc = fail(c, ETUDE_SYNCD_EDB, "--from %s: %s", c->from, syncd_db_errmsg(c->src));
        goto out;
    }
    int r = SYNCD_DONE;
    while (!rc && (r = syncd_db_step(q)) == SYNCD_ROW) {
        const char *name = (const char *)syncd_db_column_text(q, 0);
        if (c->nt >= MAX_TABLES || strlen(name) >= NAME_LEN) {
            rc = fail(c, ETUDE_SYNCD_EINVAL, "--from %s: table %s: too many tables or too long a name", c->from, name);
            break;
        }
        table_t *t = &c->t[c->nt++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->skip_why = transient_why(name);
        syncd_db_reset(ti);
        syncd_db_bind_text(ti, 1, name);
        while ((r = syncd_db_step(ti)) == SYNCD_ROW) {
            const char *col = (const char *)syncd_db_column_text(ti, 0);
            if (t->ncols >= MAX_COLS || strlen(col) >= NAME_LEN) {
                rc = fail(c, ETUDE_SYNCD_EINVAL, "--from %s: table %s: more than %d columns or too long a name",
                          c->from, name, MAX_COLS);
                break;
            }
            snprintf(t->col[t->ncols], NAME_LEN, "%s", col);
            t->pk[t->ncols++] = (int)syncd_db_column_int64(ti, 1);
        }
        syncd_db_reset(fk);
        syncd_db_bind_text(fk, 1, name);
        while (!rc && (r = syncd_db_step(fk)) == SYNCD_ROW && t->nref < MAX_TABLES)
            snprintf(t->ref[t->nref++], NAME_LEN, "%s", (const char *)syncd_db_column_text(fk, 0));
        r = SYNCD_ROW;
    }
    if (!rc && r != SYNCD_DONE)
        rc = fail(c, ETUDE_SYNCD_EDB, "--from %s: %s", c->from, syncd_db_errmsg(c->src));
out:
    syncd_db_finalize(q);
    syncd_db_finalize(ti);
    syncd_db_finalize(fk);
    return rc;
}

/* Every copied table of the source must be a table of the target with the same columns, and every
 * table of the target one of the source; each column's type is the target's. */
static int match_target_schema(copy_t *c)
{
    syncd_stmt_t *q = NULL, *cols = NULL;
    int rc = 0, r;
    if (syncd_db_prepare(c->dst, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                                 " AND table_type = 'BASE TABLE' ORDER BY table_name", &q) != 0 ||
        syncd_db_prepare(c->dst, "SELECT column_name, data_type FROM information_schema.columns"
                                 " WHERE table_schema = current_schema() AND table_name = ?", &cols) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--to %s: %s", c->shown_to, syncd_db_errmsg(c->dst));
    while (!rc && (r = syncd_db_step(q)) == SYNCD_ROW) {
        const char *name = (const char *)syncd_db_column_text(q, 0);
        if (!find(c, name) && !transient_why(name))
            rc = fail(c, ETUDE_SYNCD_EINVAL,
                      "table %s of the PostgreSQL schema is not in --from %s and not named transient: db copy cannot fill it",
                      name, c->from);
    }
    if (!rc && r != SYNCD_DONE)
        rc = fail(c, ETUDE_SYNCD_EDB, "--to %s: %s", c->shown_to, syncd_db_errmsg(c->dst));
    for (int i = 0; !rc && i < c->nt; i++) {
        table_t *t = &c->t[i];
        if (t->skip_why)
            continue;
        int seen = 0;
        syncd_db_reset(cols);
        syncd_db_bind_text(cols, 1, t->name);
        while (!rc && (r = syncd_db_step(cols)) == SYNCD_ROW) {
            const char *col = (const char *)syncd_db_column_text(cols, 0);
            const char *type = (const char *)syncd_db_column_text(cols, 1);
            int k = 0;
            while (k < t->ncols && strcmp(t->col[k], col) != 0)
                k++;
            if (k == t->ncols) {
                rc = fail(c, ETUDE_SYNCD_EINVAL, "table %s: column %s of the PostgreSQL schema is not in --from %s",
                          t->name, col, c->from);
                break;
            }
            seen++;
            if (strcmp(type, "bigint") == 0 || strcmp(type, "integer") == 0 || strcmp(type, "smallint") == 0)
                t->type[k] = COL_INT;
            else if (strcmp(type, "text") == 0 || strcmp(type, "character varying") == 0)
                t->type[k] = COL_TEXT;
            else if (strcmp(type, "bytea") == 0)
                t->type[k] = COL_BLOB;
            else
                rc = fail(c, ETUDE_SYNCD_EINVAL, "table %s: column %s has the type %s, which db copy does not handle",
                          t->name, col, type);
        }
        if (!rc && seen == 0)
            rc = fail(c, ETUDE_SYNCD_EINVAL,
                      "table %s of --from %s is not in the PostgreSQL schema and not named transient: db copy cannot copy it",
                      t->name, c->from);
        else if (!rc && seen != t->ncols)
            rc = fail(c, ETUDE_SYNCD_EINVAL, "table %s: --from %s has %d columns, the PostgreSQL schema %d", t->name,
                      c->from, t->ncols, seen);
    }
    syncd_db_finalize(q);
    syncd_db_finalize(cols);
    return rc;
}

/* Copy order: a table after every table its foreign keys reference. */
static int plan(copy_t *c)
{
    for (int placed = 1; placed;) {
        placed = 0;
        for (int i = 0; i < c->nt; i++) {
            table_t *t = &c->t[i];
            if (t->done || t->skip_why)
                continue;
            int ready = 1;
            for (int k = 0; k < t->nref; k++) {
                table_t *r = find(c, t->ref[k]);
                if (r && r != t && !r->done && !r->skip_why)
                    ready = 0;
            }
            if (ready) {
                t->done = 1;
                c->order[c->norder++] = i;
                placed = 1;
            }
        }
    }
    for (int i = 0; i < c->nt; i++)
        if (!c->t[i].done && !c->t[i].skip_why)
            return fail(c, ETUDE_SYNCD_EINVAL, "table %s: its foreign keys form a cycle db copy cannot order", c->t[i].name);
    return 0;
}

/* "SELECT cols FROM t ORDER BY key" for either engine (PostgreSQL: text keys bytewise, as SQLite). */
static void select_sql(const table_t *t, int pg, char *sql, size_t len)
{
    char q[NAME_LEN * 2 + 3];
    size_t k = (size_t)snprintf(sql, len, "SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        quote(t->col[i], q, sizeof q);
        k += (size_t)snprintf(sql + k, len - k, "%s%s", i ? ", " : "", q);
    }
    quote(t->name, q, sizeof q);
    k += (size_t)snprintf(sql + k, len - k, " FROM %s ORDER BY ", q);
    int any = 0;
    for (int pos = 1; pos <= t->ncols; pos++)
        for (int i = 0; i < t->ncols; i++)
            if (t->pk[i] == pos) {
                quote(t->col[i], q, sizeof q);
                k += (size_t)snprintf(sql + k, len - k, "%s%s%s", any ? ", " : "", q,
                                      pg && t->type[i] == COL_TEXT ? " COLLATE \"C\"" : "");
                any = 1;
            }
    for (int i = 0; !any && i < t->ncols; i++) { /* no primary key: every column */
        quote(t->col[i], q, sizeof q);
        k += (size_t)snprintf(sql + k, len - k, "%s%s%s", i ? ", " : "", q,
                              pg && t->type[i] == COL_TEXT ? " COLLATE \"C\"" : "");
    }
}

/* Reads column i of the current row as its column type says. */
static void read_value(syncd_stmt_t *s, int i, int type, value_t *v)
{
    memset(v, 0, sizeof *v);
    v->null = syncd_db_column_null(s, i);
    if (v->null)
        return;
    if (type == COL_INT) {
        v->i = syncd_db_column_int64(s, i);
    } else if (type == COL_TEXT) {
        v->p = (const char *)syncd_db_column_text(s, i);
        v->n = v->p ? strlen(v->p) : 0;
    } else {
        v->p = syncd_db_column_blob(s, i);
        v->n = syncd_db_column_bytes(s, i);
    }
}

static void hash_str(crypto_generichash_state *h, const char *s)
{
    crypto_generichash_update(h, (const unsigned char *)s, strlen(s));
}

/* Adds one value's canonical form to h. */
static void hash_value(crypto_generichash_state *h, int type, const value_t *v)
{
    char head[48];
    if (v->null) {
        hash_str(h, "n");
        return;
    }
    if (type == COL_INT) {
        char num[24];
        snprintf(num, sizeof num, "%" PRId64, v->i);
        snprintf(head, sizeof head, "i%zu:", strlen(num));
        hash_str(h, head);
        hash_str(h, num);
    } else if (type == COL_TEXT) {
        snprintf(head, sizeof head, "t%zu:", v->n);
        hash_str(h, head);
        crypto_generichash_update(h, (const unsigned char *)v->p, v->n);
    } else {
        snprintf(head, sizeof head, "b%zu:", v->n * 2);
        hash_str(h, head);
        char hex[129];
        for (size_t off = 0; off < v->n; off += 64) {
            size_t k = v->n - off < 64 ? v->n - off : 64;
            sodium_bin2hex(hex, sizeof hex, (const unsigned char *)v->p + off, k);
            hash_str(h, hex);
        }
    }
}

static void hash_hex(crypto_generichash_state *h, char out[65])
{
    unsigned char d[32];
    crypto_generichash_final(h, d, sizeof d);
    sodium_bin2hex(out, 65, d, sizeof d);
}

/* The source's values must be of their column's type (SQLite does not insist). */
static int check_types(copy_t *c, const table_t *t)
{
    char sql[4096], q[NAME_LEN * 2 + 3];
    size_t k = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        quote(t->col[i], q, sizeof q);
        k += (size_t)snprintf(sql + k, sizeof sql - k, "%scoalesce(sum(typeof(%s) NOT IN ('null', '%s')), 0)", i ? ", " : "",
                              q, t->type[i] == COL_INT ? "integer" : t->type[i] == COL_TEXT ? "text" : "blob");
    }
    quote(t->name, q, sizeof q);
    snprintf(sql + k, sizeof sql - k, " FROM %s", q);
    syncd_stmt_t *s = NULL;
    int rc = 0;
    if (syncd_db_prepare(c->src, sql, &s) != 0 || syncd_db_step(s) != SYNCD_ROW) {
        rc = fail(c, ETUDE_SYNCD_EDB, "--from %s: table %s: %s", c->from, t->name, syncd_db_errmsg(c->src));
    } else {
        for (int i = 0; i < t->ncols; i++)
            if (syncd_db_column_int64(s, i) > 0) {
                rc = fail(c, ETUDE_SYNCD_EINVAL, "--from %s: table %s: %" PRId64 " value(s) of column %s are not %s",
                          c->from, t->name, syncd_db_column_int64(s, i), t->col[i],
                          t->type[i] == COL_INT ? "integers" : t->type[i] == COL_TEXT ? "text" : "blobs");
                break;
            }
    }
    syncd_db_finalize(s);
    return rc;
}

/* Tests only: ETUDE_SYNCD_TEST_COPY_TAMPER=TABLE changes one value of TABLE's first row as it is
 * written (TABLE:drop leaves the row out), so the verification has something to find;
 * ETUDE_SYNCD_TEST_COPY_PAUSE=TABLE stops for 60 s after TABLE's rows are written (a test kills the
 * copy then). */
static const char *test_hook(const char *var, const char *table, int *drop)
{
    const char *v = getenv(var);
    size_t n = strlen(table);
    if (!v || strncmp(v, table, n) != 0 || (v[n] != '\0' && v[n] != ':'))
        return NULL;
    if (drop)
        *drop = strcmp(v + n, ":drop") == 0;
    return v;
}

/* Copies table t's rows in key order; *rows and src_sum (hex) describe what was read. */
static int copy_rows(copy_t *c, table_t *t, etude_syncd_copy_table_t *out, char src_sum[65])
{
    char sql[4096], q[NAME_LEN * 2 + 3];
    select_sql(t, 0, sql, sizeof sql);
    syncd_stmt_t *rd = NULL, *wr = NULL;
    if (syncd_db_prepare(c->src, sql, &rd) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--from %s: table %s: %s", c->from, t->name, syncd_db_errmsg(c->src));
    quote(t->name, q, sizeof q);
    size_t k = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s(", q);
    for (int i = 0; i < t->ncols; i++) {
        quote(t->col[i], q, sizeof q);
        k += (size_t)snprintf(sql + k, sizeof sql - k, "%s%s", i ? ", " : "", q);
    }
    k += (size_t)snprintf(sql + k, sizeof sql - k, ") VALUES(");
    for (int i = 0; i < t->ncols; i++)
        k += (size_t)snprintf(sql + k, sizeof sql - k, "%s?", i ? ", " : "");
    snprintf(sql + k, sizeof sql - k, ")");
    if (syncd_db_prepare(c->dst, sql, &wr) != 0) {
        syncd_db_finalize(rd);
        return fail(c, ETUDE_SYNCD_EDB, "--to %s: table %s: %s", c->shown_to, t->name, syncd_db_errmsg(c->dst));
    }
    int drop = 0;
    int tamper = test_hook("ETUDE_SYNCD_TEST_COPY_TAMPER", t->name, &drop) != NULL;
    int audit_detail = -1; /* the one text column the server itself stores with ? when not UTF-8 */
    for (int i = 0; strcmp(t->name, "audit") == 0 && i < t->ncols; i++)
        if (strcmp(t->col[i], "detail") == 0)
            audit_detail = i;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    int rc = 0, r;
    char *fixed = NULL;
    while (!rc && (r = syncd_db_step(rd)) == SYNCD_ROW) {
        value_t v[MAX_COLS];
        out->rows++;
        for (int i = 0; !rc && i < t->ncols; i++) {
            read_value(rd, i, t->type[i], &v[i]);
            if (t->type[i] != COL_TEXT || v[i].null)
                continue;
            if (v[i].n != syncd_db_column_bytes(rd, i)) {
                rc = fail(c, ETUDE_SYNCD_EINVAL, "--from %s: table %s, row %" PRId64 " in key order: column %s holds a NUL byte,"
                          " which PostgreSQL's text refuses", c->from, t->name, out->rows, t->col[i]);
            } else if (!etude_utf8_valid(v[i].p, v[i].n)) {
                if (i != audit_detail) {
                    rc = fail(c, ETUDE_SYNCD_EINVAL, "--from %s: table %s, row %" PRId64 " in key order: column %s is not UTF-8,"
                              " which PostgreSQL's text refuses", c->from, t->name, out->rows, t->col[i]);
                    break;
                }
                free(fixed);
                fixed = strdup(v[i].p);
                if (!fixed) {
                    rc = fail(c, ETUDE_SYNCD_ENOMEM, "out of memory");
                    break;
                }
                for (char *p = fixed; *p; p++)
                    if ((unsigned char)*p >= 0x80)
                        *p = '?';
                v[i].p = fixed;
                out->fixed++;
            }
        }
        if (rc)
            break;
        for (int i = 0; i < t->ncols; i++)
            hash_value(&h, t->type[i], &v[i]);
        hash_str(&h, "\n");
        int64_t bump = 0;
        if (tamper && out->rows == 1) {
            if (drop)
                continue;
            /* The last text column outside the key, else the last integer one (the later columns
             * carry no foreign or unique key in this schema). */
            for (int i = t->ncols - 1; i >= 0 && !bump; i--)
                if (!t->pk[i] && !v[i].null && t->type[i] == COL_TEXT) {
                    v[i].p = v[i].n == 8 && strcmp(v[i].p, "tampered") == 0 ? "TAMPERED" : "tampered";
                    v[i].n = 8;
                    bump = 1;
                }
            for (int i = t->ncols - 1; i >= 0 && !bump; i--)
                if (!t->pk[i] && !v[i].null && t->type[i] == COL_INT) {
                    v[i].i++;
                    bump = 1;
                }
        }
        syncd_db_reset(wr);
        for (int i = 0; i < t->ncols; i++) {
            if (v[i].null)
                syncd_db_bind_null(wr, i + 1);
            else if (t->type[i] == COL_INT)
                syncd_db_bind_int64(wr, i + 1, v[i].i);
            else if (t->type[i] == COL_TEXT)
                syncd_db_bind_text(wr, i + 1, v[i].p);
            else
                syncd_db_bind_blob(wr, i + 1, v[i].n ? v[i].p : "", v[i].n);
        }
        if (syncd_db_step(wr) != SYNCD_DONE)
            rc = fail(c, ETUDE_SYNCD_EDB, "table %s, row %" PRId64 " in key order: PostgreSQL refused it: %s", t->name,
                      out->rows, syncd_db_errmsg(c->dst));
    }
    if (!rc && r != SYNCD_DONE)
        rc = fail(c, ETUDE_SYNCD_EDB, "--from %s: table %s: %s", c->from, t->name, syncd_db_errmsg(c->src));
    free(fixed);
    hash_hex(&h, src_sum);
    syncd_db_finalize(rd);
    syncd_db_finalize(wr);
    if (!rc && test_hook("ETUDE_SYNCD_TEST_COPY_PAUSE", t->name, NULL)) {
        fprintf(stderr, "etude-syncd: db copy: paused after %s (test hook)\n", t->name);
        sleep(60);
    }
    return rc;
}

/* Identity columns continue after the copied ids. */
static int set_identity(copy_t *c, table_t *t, etude_syncd_copy_table_t *out)
{
    char qt[NAME_LEN * 2 + 3], qc[NAME_LEN * 2 + 3], sql[512];
    quote(t->name, qt, sizeof qt);
    for (int i = 0; i < t->ncols; i++) {
        if (t->type[i] != COL_INT)
            continue;
        syncd_stmt_t *s = NULL;
        char seq[300] = "";
        if (syncd_db_prepare(c->dst, "SELECT pg_get_serial_sequence(?, ?)", &s) == 0) {
            syncd_db_bind_text(s, 1, qt);
            syncd_db_bind_text(s, 2, t->col[i]);
            if (syncd_db_step(s) == SYNCD_ROW && !syncd_db_column_null(s, 0))
                snprintf(seq, sizeof seq, "%s", (const char *)syncd_db_column_text(s, 0));
        }
        syncd_db_finalize(s);
        if (!seq[0])
            continue;
        quote(t->col[i], qc, sizeof qc);
        snprintf(sql, sizeof sql, "SELECT setval(?, (SELECT coalesce(max(%s), 0) + 1 FROM %s), false)", qc, qt);
        s = NULL;
        int ok = syncd_db_prepare(c->dst, sql, &s) == 0;
        if (ok) {
            syncd_db_bind_text(s, 1, seq);
            ok = syncd_db_step(s) == SYNCD_ROW;
            out->next_id = syncd_db_column_int64(s, 0);
        }
        syncd_db_finalize(s);
        if (!ok)
            return fail(c, ETUDE_SYNCD_EDB, "table %s: cannot set the sequence of %s: %s", t->name, t->col[i],
                        syncd_db_errmsg(c->dst));
    }
    return 0;
}

/* Counts and hashes the target's rows of t in key order, inside the copy's transaction, through a
 * cursor fetched VERIFY_PAGE rows at a time (a table's rows are never all in memory at once). */
#define VERIFY_PAGE 5000
#define VERIFY_PAGE_TEXT "5000"
static int verify(copy_t *c, table_t *t, const etude_syncd_copy_table_t *out, const char *src_sum)
{
    char sql[4200], sum[65];
    int n = snprintf(sql, sizeof sql, "DECLARE etude_copy_verify NO SCROLL CURSOR FOR ");
    select_sql(t, 1, sql + n, sizeof sql - (size_t)n);
    syncd_stmt_t *rd = NULL;
    if (syncd_db_exec(c->dst, sql) != 0 ||
        syncd_db_prepare(c->dst, "FETCH " VERIFY_PAGE_TEXT " FROM etude_copy_verify", &rd) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--to %s: table %s: %s", c->shown_to, t->name, syncd_db_errmsg(c->dst));
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    int64_t rows = 0;
    int r, page;
    do {
        page = 0;
        syncd_db_reset(rd);
        while ((r = syncd_db_step(rd)) == SYNCD_ROW) {
            rows++;
            page++;
            for (int i = 0; i < t->ncols; i++) {
                value_t v;
                read_value(rd, i, t->type[i], &v);
                hash_value(&h, t->type[i], &v);
            }
            hash_str(&h, "\n");
        }
    } while (r == SYNCD_DONE && page == VERIFY_PAGE);
    hash_hex(&h, sum);
    syncd_db_finalize(rd);
    if (r != SYNCD_DONE || syncd_db_exec(c->dst, "CLOSE etude_copy_verify") != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--to %s: table %s: %s", c->shown_to, t->name, syncd_db_errmsg(c->dst));
    if (rows != out->rows)
        return fail(c, ETUDE_SYNCD_EDB, "table %s: %" PRId64 " rows in --from, %" PRId64 " in the copy: rolled back",
                    t->name, out->rows, rows);
    if (strcmp(sum, src_sum) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "table %s: checksum %.16s... of the copy differs from %.16s... of --from: rolled back",
                    t->name, sum, src_sum);
    return 0;
}

/* Everything inside the target's transaction; any error leaves it for the caller to roll back. */
static int copy_tx(copy_t *c, etude_syncd_copy_result_t *res)
{
    int found = 0, cur = syncd_store_schema_version();
    if (syncd_store_pg_schema_tx(c->dst, &found) != 0)
        return fail(c, ETUDE_SYNCD_EINVAL, "--to %s: cannot create the schema: %s", c->shown_to,
                    found > cur  ? "made by a newer etude-syncd"
                    : found < 0 ? "holds tables of something else (no schema_version)"
                                : syncd_db_errmsg(c->dst));
    int64_t users = 0, entities = 0;
    if (query_int(c->dst, "SELECT count(*) FROM users", &users) != 0 ||
        query_int(c->dst, "SELECT count(*) FROM entities", &entities) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--to %s: %s", c->shown_to, syncd_db_errmsg(c->dst));
    if (users || entities)
        return fail(c, ETUDE_SYNCD_EEXIST,
                    "--to %s already holds etude-syncd data (%" PRId64 " users, %" PRId64 " entities): copy only into a"
                    " database without any; nothing written", c->shown_to, users, entities);
    int rc = match_target_schema(c);
    if (!rc)
        rc = plan(c);
    if (rc)
        return rc;
    /* Nobody else writes these tables until the copy commits; what the target holds without any
     * user (its new epoch and version rows, audit rows of refused logins) gives way to the source's. */
    char sql[4096], q[NAME_LEN * 2 + 3];
    size_t k = (size_t)snprintf(sql, sizeof sql, "LOCK TABLE ");
    for (int o = 0; o < c->norder; o++) {
        quote(c->t[c->order[o]].name, q, sizeof q);
        k += (size_t)snprintf(sql + k, sizeof sql - k, "%s%s", o ? ", " : "", q);
    }
    snprintf(sql + k, sizeof sql - k, " IN ACCESS EXCLUSIVE MODE");
    if (syncd_db_exec(c->dst, sql) != 0)
        return fail(c, ETUDE_SYNCD_EDB, "--to %s: %s", c->shown_to, syncd_db_errmsg(c->dst));
    for (int o = c->norder - 1; o >= 0; o--) {
        quote(c->t[c->order[o]].name, q, sizeof q);
        snprintf(sql, sizeof sql, "DELETE FROM %s", q);
        if (syncd_db_exec(c->dst, sql) != 0)
            return fail(c, ETUDE_SYNCD_EDB, "--to %s: table %s: %s", c->shown_to, c->t[c->order[o]].name,
                        syncd_db_errmsg(c->dst));
    }
    char sums[MAX_TABLES][65];
    for (int o = 0; o < c->norder && !rc; o++) {
        table_t *t = &c->t[c->order[o]];
        etude_syncd_copy_table_t *out = &res->table[res->n++];
        snprintf(out->name, sizeof out->name, "%s", t->name);
        rc = check_types(c, t);
        if (!rc)
            rc = copy_rows(c, t, out, sums[o]);
        if (!rc)
            rc = set_identity(c, t, out);
        if (!rc)
            memcpy(out->checksum, sums[o], sizeof out->checksum);
        res->rows += out->rows;
    }
    for (int o = 0; o < c->norder && !rc; o++)
        rc = verify(c, &c->t[c->order[o]], &res->table[o], sums[o]);
    return rc;
}

int etude_syncd_store_copy(const char *from_path, const char *to_uri, etude_syncd_copy_result_t *res,
                           char *err_msg, size_t err_len)
{
    memset(res, 0, sizeof *res);
    if (sodium_init() < 0) {
        snprintf(err_msg, err_len, "libsodium failed to initialise");
        return ETUDE_SYNCD_EINVAL;
    }
    copy_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err_msg, err_len, "out of memory");
        return ETUDE_SYNCD_ENOMEM;
    }
    c->from = from_path;
    c->err = err_msg;
    c->err_len = err_len;
    etude_syncd_db_display(to_uri, c->shown_to, sizeof c->shown_to);
    int rc = 0;
    if (!syncd_db_is_uri(to_uri))
        rc = fail(c, ETUDE_SYNCD_EINVAL, "--to %s: not a PostgreSQL connection URI (postgresql://... or postgres://...)",
                  c->shown_to);
    if (!rc)
        rc = open_source(c);
    if (!rc)
        rc = read_source_schema(c);
    syncd_stmt_t *e = NULL;
    if (!rc && syncd_db_prepare(c->src, "SELECT value FROM meta WHERE key='epoch'", &e) == 0 &&
        syncd_db_step(e) == SYNCD_ROW && syncd_db_column_text(e, 0))
        snprintf(res->epoch, sizeof res->epoch, "%s", (const char *)syncd_db_column_text(e, 0));
    syncd_db_finalize(e);
    char dberr[400];
    if (!rc && syncd_db_open(to_uri, &c->dst, dberr, sizeof dberr) != 0)
        rc = fail(c, ETUDE_SYNCD_EDB, "--to %s: cannot connect: %s", c->shown_to, dberr);
    if (!rc && syncd_db_exec(c->dst, "BEGIN") != 0)
        rc = fail(c, ETUDE_SYNCD_EDB, "--to %s: %s", c->shown_to, syncd_db_errmsg(c->dst));
    if (!rc) {
        rc = copy_tx(c, res);
        if (!rc && syncd_db_exec(c->dst, "COMMIT") != 0)
            rc = fail(c, ETUDE_SYNCD_EDB, "--to %s: the commit failed: %s", c->shown_to, syncd_db_errmsg(c->dst));
        if (rc)
            syncd_db_exec(c->dst, "ROLLBACK");
    }
    if (!rc)
        for (int i = 0; i < c->nt && res->n < MAX_TABLES; i++)
            if (c->t[i].skip_why) {
                etude_syncd_copy_table_t *out = &res->table[res->n++];
                snprintf(out->name, sizeof out->name, "%s", c->t[i].name);
                out->skipped = 1;
                out->why = c->t[i].skip_why;
                char q[NAME_LEN * 2 + 3], sql[200];
                quote(c->t[i].name, q, sizeof q);
                snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", q);
                query_int(c->src, sql, &out->rows);
            }
    if (c->src)
        syncd_db_exec(c->src, "COMMIT");
    syncd_db_close(c->src);
    syncd_db_close(c->dst);
    free(c);
    return rc;
}
