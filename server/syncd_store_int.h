/* syncd_store_int.h - what the store's two files share: syncd_store.c (the schema, serving) and
 * syncd_store_copy.c (db copy). Internal to the store module: nothing else includes it. */
#ifndef ETUDE_SYNCD_STORE_INT_H
#define ETUDE_SYNCD_STORE_INT_H

#include "syncd_db.h"

/* [control] The schema version this etude-syncd creates and serves (the version table's and SQLite's
 * PRAGMA user_version). */
int syncd_store_schema_version(void);

/* [control] PostgreSQL: create the schema on db, or bring it to the current version, inside the
 * caller's open transaction (nothing is committed here; the caller commits or rolls back) and under
 * the store's advisory lock. *found is the version the database had (0: no etude-syncd tables, -1:
 * tables of something else). 0, or ETUDE_SYNCD_EDB (also for a newer database: *found tells). */
int syncd_store_pg_schema_tx(syncd_db_t *db, int *found);

#endif
