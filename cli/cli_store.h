/* cli_store.h - how the `etude` commands open the local store and report a failure to open it. */
#ifndef CLI_STORE_H
#define CLI_STORE_H

#include "etude_store.h"

/* [control] Open the store under $ETUDE_HOME. On failure prints one line, "etude CMD: REASON", and
 * returns 1 with *st NULL; on success returns 0 and *st, closed by the caller with
 * etude_store_close(). */
int cli_store_open(const char *cmd, etude_store_t **st);

#endif /* CLI_STORE_H */
