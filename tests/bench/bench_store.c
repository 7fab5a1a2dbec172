/* bench_store.c - the local store and the default plugin, measured: session records stored per
 * second (each with 4 practiceLogs, one transaction each, on a real WAL file), export and import
 * throughput, and how long on_record of the real etude.sync/1 plugin holds the caller (the control
 * thread) against how long the plugin's worker takes to store the same record: the ratio is why
 * the store work lives on the worker. Prints figures; fails only if records go missing.
 *   usage: bench_store PLUGIN_DIR [RECORDS]    (default 2000) */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etude_plugin.h"
#include "etude_store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *record(void)
{
    char sid[37], lid[37], *r = malloc(4096);
    etude_uuid_new(sid);
    int n = snprintf(r, 4096,
                     "{\"id\":\"%s\",\"data\":{\"startedAt\":\"2026-01-01T10:00:00.000Z\",\"endedAt\":"
                     "\"2026-01-01T10:20:00.000Z\",\"command\":\"play\",\"material\":\"32 4/4 120-160\","
                     "\"activeSeconds\":1200.5,\"tempoMinBpm\":120,\"tempoMaxBpm\":160,\"interrupted\":false,"
                     "\"voices\":[{\"name\":\"click\",\"kind\":\"click\",\"mute\":false}]},\"logs\":[",
                     sid);
    for (int i = 0; i < 4; i++) {
        etude_uuid_new(lid);
        n += snprintf(r + n, 4096 - (size_t)n,
                      "%s{\"id\":\"%s\",\"data\":{\"sessionId\":\"%s\",\"index\":%d,\"bpm\":%d,\"seconds\":300.1}}",
                      i ? "," : "", lid, sid, i, 120 + 10 * i);
    }
    snprintf(r + n, 4096 - (size_t)n, "]}");
    return r;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store PLUGIN_DIR [RECORDS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    char dir[] = "/tmp/etude-bench-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[128], path2[128], cmd[160];
    snprintf(path, sizeof path, "%s/a.db", dir);
    snprintf(path2, sizeof path2, "%s/b.db", dir);
    char **recs = malloc((size_t)n * sizeof *recs);
    for (int i = 0; i < n; i++)
        recs[i] = record();
    int fails = 0;

    /* 1. put_session directly */
    etude_store_t *st;
    if (etude_store_open(path, &st)) {
        fprintf(stderr, "open: %s\n", etude_store_errmsg(st));
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (etude_store_put_session(st, recs[i], NULL))
            fails++;
    double put = now_s() - t0;
    printf("put_session: %d records (5 entities, 5 outbox and 5 audit rows each) in %.3f s: %.0f records/s, "
           "%.3f ms/record\n",
           n, put, n / put, put / n * 1e3);

    /* 2. export and import */
    char exp[160];
    snprintf(exp, sizeof exp, "%s/export.ndjson", dir);
    FILE *f = fopen(exp, "w");
    t0 = now_s();
    etude_store_export(st, f, ETUDE_EXPORT_NDJSON);
    fclose(f);
    double ex = now_s() - t0;
    int64_t ents = etude_store_count(st, NULL, 1);
    etude_store_t *st2;
    etude_store_open(path2, &st2);
    f = fopen(exp, "r");
    etude_import_stats_t is;
    t0 = now_s();
    if (etude_store_import(st2, f, exp, &is))
        fprintf(stderr, "import: %s\n", etude_store_errmsg(st2)), fails++;
    double im = now_s() - t0;
    fclose(f);
    printf("export: %lld entities in %.3f s: %.0f entities/s\n", (long long)ents, ex, ents / ex);
    printf("import: %d entities in %.3f s (one transaction): %.0f entities/s\n", is.created, im, is.created / im);
    if (is.created != ents)
        fails++;
    etude_store_close(st2);
    etude_store_close(st);

    /* 3. the real plugin: time on_record holds the caller vs the worker's time to store */
    char so[600];
    snprintf(so, sizeof so, "%s/etude-sync.so", argv[1]);
    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    const etude_plugin_entry_t *en = dl ? dlsym(dl, ETUDE_PLUGIN_ENTRY_SYMBOL) : NULL;
    if (!en) {
        fprintf(stderr, "%s: %s\n", so, dlerror());
        return 1;
    }
    etude_plugin_host_t host = {ETUDE_PLUGIN_ABI_VERSION, sizeof host, dir, NULL, NULL, NULL};
    void *inst;
    char cfg[200];
    snprintf(cfg, sizeof cfg, "{\"db\":\"%s/plugin.db\"}", dir);
    if (en->create(cfg, &host, &inst))
        return 1;
    int batch = n < 200 ? n : 200; /* fits the plugin's queue: no EFULL */
    double *lat = malloc((size_t)n * sizeof *lat);
    int m = 0;
    t0 = now_s();
    for (int i = 0; i < n; i += batch) {
        for (int j = i; j < i + batch && j < n; j++) {
            double a = now_s();
            if (en->on_record(inst, recs[j]))
                fails++;
            lat[m++] = now_s() - a;
        }
        en->flush(inst, INT64_MAX);
    }
    double total = now_s() - t0;
    qsort(lat, (size_t)m, sizeof *lat, cmp_d);
    double sum = 0;
    for (int i = 0; i < m; i++)
        sum += lat[i];
    printf("etude.sync/1 on_record (control thread): mean %.1f us, p99 %.1f us, max %.1f us\n", sum / m * 1e6,
           lat[(int)(m * 0.99)] * 1e6, lat[m - 1] * 1e6);
    printf("etude.sync/1 worker: %d records stored in %.3f s (%.3f ms/record); on_record holds the caller "
           "%.0fx less than storing would\n",
           m, total, total / m * 1e3, (total / m) / (sum / m));
    en->destroy(inst);
    dlclose(dl);
    char pdb[160];
    snprintf(pdb, sizeof pdb, "%s/plugin.db", dir);
    etude_store_open(pdb, &st);
    if (etude_store_count(st, "practiceSession", 0) != n)
        fails++;
    etude_store_close(st);
    for (int i = 0; i < n; i++)
        free(recs[i]);
    free(recs);
    free(lat);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fails++;
    if (fails)
        fprintf(stderr, "bench_store: %d failures (records missing)\n", fails);
    return fails ? 1 : 0;
}
