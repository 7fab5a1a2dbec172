/* syncd_db.h - the SQL driver under etude-syncd's store: one connection to SQLite or PostgreSQL
 * (libpq), statements with ? parameters numbered from 1 and rows stepped one at a time.
 *
 * Internal to server/: only syncd_store.c issues SQL. No ORM: the store writes its SQL, this layer
 * only carries it to the one engine or the other. A connection is used by one thread at a time (the
 * store hands connections out); none of these functions lock. [any] for the thread holding it. */
#ifndef ETUDE_SYNCD_DB_H
#define ETUDE_SYNCD_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct syncd_db syncd_db_t;
typedef struct syncd_stmt syncd_stmt_t;

enum { SYNCD_DB_SQLITE = 0, SYNCD_DB_PG = 1 };

/* Step and exec results. */
enum {
    SYNCD_OK = 0,
    SYNCD_ROW = 100,
    SYNCD_DONE = 101,
    SYNCD_ERROR = -1,      /* anything else; syncd_db_errmsg() says what */
    SYNCD_CONSTRAINT = -2, /* a unique, foreign key or not-null constraint refused the write */
    SYNCD_RETRY = -3,      /* PostgreSQL: serialization failure or deadlock; retry the transaction */
};

/* Whether target is a libpq connection URI (postgresql:// or postgres://) rather than a path. */
int syncd_db_is_uri(const char *target);

/* Open a connection: a SQLite file (created if missing, ":memory:" allowed) or a PostgreSQL URI.
 * On failure returns SYNCD_ERROR with err naming what failed (*out NULL). Close with
 * syncd_db_close(). */
int syncd_db_open(const char *target, syncd_db_t **out, char *err, size_t err_len);
/* Close the connection. NULL is a no-op. */
void syncd_db_close(syncd_db_t *db);
/* SYNCD_DB_SQLITE or SYNCD_DB_PG. */
int syncd_db_kind(const syncd_db_t *db);
/* PostgreSQL: reconnect if the connection was lost (0 when usable). SQLite: always 0. */
int syncd_db_check(syncd_db_t *db);
/* PostgreSQL: the connection's socket, to poll() for notifications (-1 when there is none or for
 * SQLite). */
int syncd_db_socket(syncd_db_t *db);
/* PostgreSQL: read what arrived on the socket without blocking and take the next notification of a
 * channel this connection LISTENs to: 1 with its payload copied into buf (truncated to len), 0 when
 * none is waiting, SYNCD_ERROR when the connection is lost (syncd_db_errmsg() says why). SQLite:
 * always 0. */
int syncd_db_notification(syncd_db_t *db, char *buf, size_t len);
/* The SQLite handle (NULL for PostgreSQL), for the few SQLite-only calls of the store. */
void *syncd_db_sqlite(syncd_db_t *db);

/* Run one or more statements without parameters or rows. 0 or a negative SYNCD_* code. */
int syncd_db_exec(syncd_db_t *db, const char *sql);
/* Begin a write transaction: SQLite BEGIN IMMEDIATE (the database's one writer), PostgreSQL BEGIN
 * (read committed; the store locks the rows it serialises on with SELECT ... FOR UPDATE). */
int syncd_db_begin(syncd_db_t *db);
/* Whether the transaction begun last failed with a serialization failure or deadlock (PostgreSQL
 * SQLSTATE 40001, 40P01): roll back and run it again. */
int syncd_db_retryable(const syncd_db_t *db);
/* The last error's text (valid until the next call on db). */
const char *syncd_db_errmsg(syncd_db_t *db);

/* Prepare one statement (? parameters; SQLite's INDEXED BY hints are dropped for PostgreSQL). 0 or SYNCD_ERROR (*st NULL). Free with syncd_db_finalize. */
int syncd_db_prepare(syncd_db_t *db, const char *sql, syncd_stmt_t **st);
/* Bind parameter i (from 1); values are copied. */
void syncd_db_bind_int64(syncd_stmt_t *st, int i, int64_t v);
void syncd_db_bind_text(syncd_stmt_t *st, int i, const char *v); /* NULL binds SQL NULL */
void syncd_db_bind_blob(syncd_stmt_t *st, int i, const void *p, size_t n);
void syncd_db_bind_null(syncd_stmt_t *st, int i);
/* Run (first call) or advance: SYNCD_ROW, SYNCD_DONE or a negative SYNCD_* code. */
int syncd_db_step(syncd_stmt_t *st);
/* Columns of the current row, from 0. Text and blobs stay valid until the next step or reset. */
int64_t syncd_db_column_int64(syncd_stmt_t *st, int i);
const unsigned char *syncd_db_column_text(syncd_stmt_t *st, int i); /* NULL for SQL NULL */
const void *syncd_db_column_blob(syncd_stmt_t *st, int i);
size_t syncd_db_column_bytes(syncd_stmt_t *st, int i);
int syncd_db_column_null(syncd_stmt_t *st, int i);
/* Make the statement runnable again (bindings kept). */
void syncd_db_reset(syncd_stmt_t *st);
/* Free the statement. NULL is a no-op. */
void syncd_db_finalize(syncd_stmt_t *st);

#endif
