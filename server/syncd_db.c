/* syncd_db.c - the SQL driver under etude-syncd's store: SQLite (sqlite3) or PostgreSQL (libpq). */
#include "syncd_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#define BYTEA_OID 17
#define MAX_PARAMS 16

struct syncd_db {
    int kind;
    sqlite3 *lite;
    PGconn *pg;
    char err[512];
    int retry; /* the last error was a serialization failure or deadlock */
};

struct syncd_stmt {
    syncd_db_t *db;
    sqlite3_stmt *ls;
    /* PostgreSQL: the statement with $n parameters, its bound values (text, or binary for blobs),
     * and the result being stepped through. */
    char *sql;
    int nparams;
    char *vals[MAX_PARAMS];
    int lens[MAX_PARAMS];
    int fmts[MAX_PARAMS];
    Oid types[MAX_PARAMS];
    PGresult *res;
    int row, nrows, ran;
    unsigned char *blob; /* the last unescaped bytea column */
    size_t blob_len;
    int blob_row, blob_col;
};

int syncd_db_is_uri(const char *t)
{
    return t && (strncmp(t, "postgresql://", 13) == 0 || strncmp(t, "postgres://", 11) == 0);
}

static void set_err(syncd_db_t *db, const char *msg)
{
    snprintf(db->err, sizeof db->err, "%s", msg ? msg : "unknown error");
    for (char *p = db->err; *p; p++) /* libpq's messages may span lines: one line for our errors */
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    size_t n = strlen(db->err);
    while (n && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
        db->err[--n] = '\0';
}

int syncd_db_open(const char *target, syncd_db_t **out, char *err, size_t err_len)
{
    *out = NULL;
    syncd_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, err_len, "out of memory");
        return SYNCD_ERROR;
    }
    if (syncd_db_is_uri(target)) {
        db->kind = SYNCD_DB_PG;
        db->pg = PQconnectdb(target);
        if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
            set_err(db, db->pg ? PQerrorMessage(db->pg) : "out of memory");
            snprintf(err, err_len, "%s", db->err);
            syncd_db_close(db);
            return SYNCD_ERROR;
        }
        /* Quiet NOTICEs (CREATE ... IF NOT EXISTS) and UTC for anything time-related. */
        PGresult *r = PQexec(db->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
        PQclear(r);
    } else {
        db->kind = SYNCD_DB_SQLITE;
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
        if (sqlite3_open_v2(target, &db->lite, flags, NULL) != SQLITE_OK) {
            snprintf(err, err_len, "%s", db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
            syncd_db_close(db);
            return SYNCD_ERROR;
        }
        sqlite3_busy_timeout(db->lite, 10000);
    }
    *out = db;
    return 0;
}

void syncd_db_close(syncd_db_t *db)
{
    if (!db)
        return;
    if (db->lite)
        sqlite3_close_v2(db->lite);
    if (db->pg)
        PQfinish(db->pg);
    free(db);
}

int syncd_db_kind(const syncd_db_t *db)
{
    return db->kind;
}

void *syncd_db_sqlite(syncd_db_t *db)
{
    return db->lite;
}

int syncd_db_check(syncd_db_t *db)
{
    if (db->kind != SYNCD_DB_PG || PQstatus(db->pg) == CONNECTION_OK)
        return 0;
    PQreset(db->pg);
    if (PQstatus(db->pg) != CONNECTION_OK) {
        set_err(db, PQerrorMessage(db->pg));
        return SYNCD_ERROR;
    }
    PGresult *r = PQexec(db->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    PQclear(r);
    return 0;
}

int syncd_db_socket(syncd_db_t *db)
{
    return db->kind == SYNCD_DB_PG && db->pg ? PQsocket(db->pg) : -1;
}

int syncd_db_notification(syncd_db_t *db, char *buf, size_t len)
{
    if (db->kind != SYNCD_DB_PG)
        return 0;
    if (PQstatus(db->pg) != CONNECTION_OK || !PQconsumeInput(db->pg) || PQstatus(db->pg) != CONNECTION_OK) {
        set_err(db, PQerrorMessage(db->pg));
        return SYNCD_ERROR;
    }
    PGnotify *n = PQnotifies(db->pg);
    if (!n)
        return 0;
    snprintf(buf, len, "%s", n->extra ? n->extra : "");
    PQfreemem(n);
    return 1;
}

int syncd_db_begin(syncd_db_t *db)
{
    db->retry = 0;
    return syncd_db_exec(db, db->kind == SYNCD_DB_PG ? "BEGIN" : "BEGIN IMMEDIATE");
}

int syncd_db_retryable(const syncd_db_t *db)
{
    return db->retry;
}

const char *syncd_db_errmsg(syncd_db_t *db)
{
    if (db->kind == SYNCD_DB_SQLITE)
        return sqlite3_errmsg(db->lite);
    return db->err;
}

/* Maps a failed libpq result to a SYNCD_* code by its SQLSTATE. */
static int pg_fail(syncd_db_t *db, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    set_err(db, r ? PQresultErrorMessage(r) : PQerrorMessage(db->pg));
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        db->retry = 1;
        return SYNCD_RETRY;
    }
    if (state && strncmp(state, "23", 2) == 0)
        return SYNCD_CONSTRAINT;
    return SYNCD_ERROR;
}

static int lite_code(int r)
{
    if (r == SQLITE_ROW)
        return SYNCD_ROW;
    if (r == SQLITE_DONE)
        return SYNCD_DONE;
    if ((r & 0xff) == SQLITE_CONSTRAINT)
        return SYNCD_CONSTRAINT;
    return SYNCD_ERROR;
}

int syncd_db_exec(syncd_db_t *db, const char *sql)
{
    if (db->kind == SYNCD_DB_SQLITE)
        return sqlite3_exec(db->lite, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : SYNCD_ERROR;
    PGresult *r = PQexec(db->pg, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : pg_fail(db, r);
    PQclear(r);
    return rc;
}

/* ? -> $1, $2, ... outside quoted strings; returns the count or -1. */
static int pg_translate(const char *sql, char **out)
{
    size_t n = strlen(sql);
    char *o = malloc(n * 4 + 1);
    if (!o)
        return -1;
    size_t k = 0;
    int count = 0, quoted = 0;
    for (size_t i = 0; i < n; i++) {
        char c = sql[i];
        if (c == '\'')
            quoted = !quoted;
        if (!quoted && strncmp(sql + i, " INDEXED BY ", 12) == 0) { /* SQLite's planner hint */
            i += 12;
            while (i < n && sql[i] != ' ')
                i++;
            i--;
            continue;
        }
        if (c == '?' && !quoted) {
            if (++count > MAX_PARAMS) {
                free(o);
                return -1;
            }
            k += (size_t)sprintf(o + k, "$%d", count);
        } else {
            o[k++] = c;
        }
    }
    o[k] = '\0';
    *out = o;
    return count;
}

int syncd_db_prepare(syncd_db_t *db, const char *sql, syncd_stmt_t **out)
{
    *out = NULL;
    syncd_stmt_t *st = calloc(1, sizeof *st);
    if (!st)
        return SYNCD_ERROR;
    st->db = db;
    if (db->kind == SYNCD_DB_SQLITE) {
        if (sqlite3_prepare_v2(db->lite, sql, -1, &st->ls, NULL) != SQLITE_OK) {
            free(st);
            return SYNCD_ERROR;
        }
    } else {
        st->nparams = pg_translate(sql, &st->sql);
        if (st->nparams < 0) {
            set_err(db, "too many parameters");
            free(st);
            return SYNCD_ERROR;
        }
    }
    *out = st;
    return 0;
}

static void pg_set(syncd_stmt_t *st, int i, char *v, int len, int fmt, Oid type)
{
    if (i < 1 || i > st->nparams) {
        free(v);
        return;
    }
    free(st->vals[i - 1]);
    st->vals[i - 1] = v;
    st->lens[i - 1] = len;
    st->fmts[i - 1] = fmt;
    st->types[i - 1] = type;
}

void syncd_db_bind_int64(syncd_stmt_t *st, int i, int64_t v)
{
    if (!st)
        return;
    if (st->ls) {
        sqlite3_bind_int64(st->ls, i, v);
        return;
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    pg_set(st, i, strdup(buf), 0, 0, 0);
}

void syncd_db_bind_text(syncd_stmt_t *st, int i, const char *v)
{
    if (!st)
        return;
    if (st->ls) {
        if (v)
            sqlite3_bind_text(st->ls, i, v, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st->ls, i);
        return;
    }
    pg_set(st, i, v ? strdup(v) : NULL, 0, 0, 0);
}

void syncd_db_bind_blob(syncd_stmt_t *st, int i, const void *p, size_t n)
{
    if (!st)
        return;
    if (st->ls) {
        sqlite3_bind_blob(st->ls, i, p, (int)n, SQLITE_TRANSIENT);
        return;
    }
    char *copy = malloc(n ? n : 1);
    if (copy)
        memcpy(copy, p, n);
    pg_set(st, i, copy, (int)n, 1, BYTEA_OID);
}

void syncd_db_bind_null(syncd_stmt_t *st, int i)
{
    if (!st)
        return;
    if (st->ls)
        sqlite3_bind_null(st->ls, i);
    else
        pg_set(st, i, NULL, 0, 0, 0);
}

static void pg_clear(syncd_stmt_t *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->ran = 0;
    st->row = -1;
    st->nrows = 0;
    PQfreemem(st->blob);
    st->blob = NULL;
}

int syncd_db_step(syncd_stmt_t *st)
{
    if (!st)
        return SYNCD_ERROR;
    if (st->ls)
        return lite_code(sqlite3_step(st->ls));
    if (!st->ran) {
        st->ran = 1;
        st->row = -1;
        st->res = PQexecParams(st->db->pg, st->sql, st->nparams, st->types, (const char *const *)st->vals,
                               st->lens, st->fmts, 0);
        ExecStatusType s = st->res ? PQresultStatus(st->res) : PGRES_FATAL_ERROR;
        if (s == PGRES_COMMAND_OK) {
            st->nrows = 0;
        } else if (s == PGRES_TUPLES_OK) {
            st->nrows = PQntuples(st->res);
        } else {
            int rc = pg_fail(st->db, st->res);
            PQclear(st->res);
            st->res = NULL;
            return rc;
        }
    }
    if (!st->res)
        return SYNCD_ERROR;
    if (st->row + 1 < st->nrows) {
        st->row++;
        return SYNCD_ROW;
    }
    st->row = st->nrows;
    return SYNCD_DONE;
}

static int pg_has(syncd_stmt_t *st, int i)
{
    return st->res && st->row >= 0 && st->row < st->nrows && i >= 0 && i < PQnfields(st->res);
}

int64_t syncd_db_column_int64(syncd_stmt_t *st, int i)
{
    if (!st)
        return 0;
    if (st->ls)
        return sqlite3_column_int64(st->ls, i);
    if (!pg_has(st, i) || PQgetisnull(st->res, st->row, i))
        return 0;
    return strtoll(PQgetvalue(st->res, st->row, i), NULL, 10);
}

const unsigned char *syncd_db_column_text(syncd_stmt_t *st, int i)
{
    if (!st)
        return NULL;
    if (st->ls)
        return sqlite3_column_text(st->ls, i);
    if (!pg_has(st, i) || PQgetisnull(st->res, st->row, i))
        return NULL;
    return (const unsigned char *)PQgetvalue(st->res, st->row, i);
}

static void pg_blob(syncd_stmt_t *st, int i)
{
    if (st->blob && st->blob_row == st->row && st->blob_col == i)
        return;
    PQfreemem(st->blob);
    st->blob = NULL;
    st->blob_len = 0;
    if (!pg_has(st, i) || PQgetisnull(st->res, st->row, i))
        return;
    st->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, i), &st->blob_len);
    st->blob_row = st->row;
    st->blob_col = i;
}

const void *syncd_db_column_blob(syncd_stmt_t *st, int i)
{
    if (!st)
        return NULL;
    if (st->ls)
        return sqlite3_column_blob(st->ls, i);
    pg_blob(st, i);
    return st->blob;
}

size_t syncd_db_column_bytes(syncd_stmt_t *st, int i)
{
    if (!st)
        return 0;
    if (st->ls)
        return (size_t)sqlite3_column_bytes(st->ls, i);
    pg_blob(st, i);
    return st->blob ? st->blob_len : 0;
}

int syncd_db_column_null(syncd_stmt_t *st, int i)
{
    if (!st)
        return 1;
    if (st->ls)
        return sqlite3_column_type(st->ls, i) == SQLITE_NULL;
    return !pg_has(st, i) || PQgetisnull(st->res, st->row, i);
}

void syncd_db_reset(syncd_stmt_t *st)
{
    if (!st)
        return;
    if (st->ls)
        sqlite3_reset(st->ls);
    else
        pg_clear(st);
}

void syncd_db_finalize(syncd_stmt_t *st)
{
    if (!st)
        return;
    if (st->ls) {
        sqlite3_finalize(st->ls);
    } else {
        pg_clear(st);
        for (int i = 0; i < MAX_PARAMS; i++)
            free(st->vals[i]);
        free(st->sql);
    }
    free(st);
}
