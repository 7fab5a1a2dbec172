/* fuzz_import.c - libFuzzer over `etude import`'s parser and merge (etude_store_import): any input
 * either imports or fails with a one-line message naming the input, and a failure changes nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_store.h"

static etude_store_t *st;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_import: %s: %s\n", what, detail);
    abort();
}

static void seed(void)
{
    char id[37];
    if (etude_store_open(":memory:", &st))
        die("open", etude_store_errmsg(st));
    if (etude_store_create(st, "goal", "0aaaaaaa-0000-4000-8000-000000000001", "{\"kind\":\"minutes\",\"target\":20}", id) ||
        etude_store_create(st, "logbookEntry", NULL, "{\"text\":\"seed\"}", id))
        die("seed", etude_store_errmsg(st));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st || etude_store_count(st, NULL, 1) > 2000) {
        etude_store_close(st);
        seed();
    }
    if (size == 0)
        return 0;
    int64_t before = etude_store_count(st, NULL, 1), outbox = etude_store_outbox_count(st);
    FILE *in = fmemopen((void *)data, size, "r");
    if (!in)
        return 0;
    etude_import_stats_t stats;
    int rc = etude_store_import(st, in, "fuzz.ndjson", &stats);
    fclose(in);
    int64_t after = etude_store_count(st, NULL, 1);
    if (rc) {
        const char *msg = etude_store_errmsg(st);
        if (after != before || etude_store_outbox_count(st) != outbox)
            die("a failed import changed the store", msg);
        if (!msg[0] || strchr(msg, '\n'))
            die("error message is empty or not one line", msg);
        if ((rc == ETUDE_STORE_EPARSE || rc == ETUDE_STORE_ENEWER) && strncmp(msg, "fuzz.ndjson", 11))
            die("error message does not name the input", msg);
    } else if (after != before + stats.created) {
        die("created count", "does not match the entities added");
    }
    if (etude_store_check(st))
        die("integrity_check", etude_store_errmsg(st));
    return 0;
}
