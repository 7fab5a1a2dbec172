/* store_int.h - the store's handle as its own files (store.c, store_sync.c) see it; not installed,
 * not part of the public contract. Threads and errors as etude_store.h. */
#ifndef ETUDE_STORE_INT_H
#define ETUDE_STORE_INT_H

#include <sqlite3.h>

#include "etude_store.h"

#define STMT_CACHE 32

struct etude_store {
    sqlite3 *db; /* the one connection of this handle: every statement on the store's tables */
    char *path;
    char err[512];
    /* The learned offset of the server's clock to this machine's wall clock (sync_meta
     * clock_offset_ms), added to every timestamp the store writes. */
    int64_t clock_offset_ms;
    int clock_known;
    /* The offset's uncertainty (half the round trip of the answer it came from, ms) and this
     * machine's wall clock when it was measured (sync_meta clock_uncertainty_ms, clock_at_ms). */
    int64_t clock_unc_ms, clock_at_ms;
    /* The monotonic clock at that moment and the boot it was read in (clock_mono_ms,
     * clock_boot_id): within one boot, corrected time runs on the monotonic clock from the
     * measurement, so setting this machine's wall clock does not move it. */
    int64_t clock_mono_ms;
    char clock_boot[64], boot[64];
    /* The active account (sync_meta user_id): every row of entities, outbox, conflicts and
     * dead_letter carries one, and every statement filters on etude_account(), which returns this. */
    char account[128];
    /* Prepared statements of the write and sync paths, keyed by their (static) SQL text: parsing
     * SQL was most of the cost of a write (tests/bench/bench_store). Each is stepped to completion
     * and reset within one call, so no caller ever finds one in use. */
    struct { const char *sql; sqlite3_stmt *st; } cache[STMT_CACHE];
};

/* [any] Corrected wall-clock time as a timestamp (etude_time.h form) into out. */
void etude_store_i_now(etude_store_t *s, char out[32]);

/* Set the handle's message to msg; returns code. */
int etude_store_i_fail(etude_store_t *s, int code, const char *msg);
/* ETUDE_STORE_EIO with "<path>: <what>: <sqlite message>". */
int etude_store_i_dbfail(etude_store_t *s, const char *what);
/* A cached prepared statement for static SQL text (pointer identity), or a fresh one. */
int etude_store_i_prep(etude_store_t *s, const char *sql, sqlite3_stmt **out);
/* Reset a cached statement, finalize an uncached one. */
void etude_store_i_done(etude_store_t *s, sqlite3_stmt *st);

#endif
