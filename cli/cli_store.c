/* cli_store.c - how the `etude` commands open the local store and report a failure to open it. */
#include "cli_store.h"

#include <stdio.h>

int cli_store_open(const char *cmd, etude_store_t **st)
{
    int rc = etude_store_open(NULL, st);
    if (rc == 0)
        return 0;
    fprintf(stderr, "etude %s: %s\n", cmd, *st ? etude_store_errmsg(*st) : etude_store_strerror(rc));
    etude_store_close(*st);
    *st = NULL;
    return 1;
}
