/* bench_sync.c - sync figures against a real etude-syncd on loopback: a full sync of N entities to
 * an empty account (time, requests, bytes), the bytes an incremental sync sends after 1 % changed
 * compared with that full upload, and batched uploads compared with one entity per request.
 *
 *   bench_sync PATH/TO/etude-syncd [DEFAULT_N]
 * N is $ETUDE_BENCH_SYNC_N, else DEFAULT_N, else 100000 (the figure); ctest passes a
 * smaller default so CI stays short. Prints figures and ratios only; it asserts nothing about time. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etude_store.h"
#include "etude_syncclient.h"

extern char **environ;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char tmp[256], url[128];
static pid_t server = -1;

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = -1;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (tmp[0] && system(cmd) != 0)
        fprintf(stderr, "bench_sync: could not remove %s\n", tmp);
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_sync: %s: %s\n", what, detail);
    stop_server();
    exit(1);
}

static void add_user(const char *syncd, const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf 'bench password\\n' | '%s' user add %s --password-stdin --db '%s/s.db' >/dev/null 2>&1",
             syncd, name, tmp);
    if (system(cmd) != 0)
        die("etude-syncd user add", name);
}

static void fill(const char *home, const char *tag, long n)
{
    char p[400];
    snprintf(p, sizeof p, "%s/etude.db", home);
    etude_store_t *st;
    if (etude_store_open(p, &st))
        die("store", p);
    for (long i = 0; i < n; i++) {
        char data[256];
        snprintf(data, sizeof data,
                 "{\"bpm\":%ld,\"minutes\":%ld,\"text\":\"%s practice note %ld: slow practice, then a tempo ramp\"}",
                 60 + i % 120, 5 + i % 55, tag, i);
        if (etude_store_create(st, "logbookEntry", NULL, data, NULL))
            die("store create", etude_store_errmsg(st));
    }
    etude_store_close(st);
}

static etude_syncclient_t *device(const char *name, const char *user, int batch)
{
    char home[400];
    snprintf(home, sizeof home, "%s/%s", tmp, name);
    mkdir(home, 0700);
    etude_sync_config_t cfg;
    etude_sync_config_defaults(&cfg);
    cfg.batch_max = batch;
    cfg.page_size = 1000;
    etude_syncclient_t *c;
    if (etude_syncclient_open(home, &cfg, &c))
        die("client", c ? etude_syncclient_errmsg(c) : "open");
    if (etude_syncclient_login(c, url, user, "bench password", NULL))
        die("login", etude_syncclient_errmsg(c));
    return c;
}

static void sync_or_die(etude_syncclient_t *c, int full, etude_sync_stats_t *st, double *secs)
{
    double t0 = now_s();
    if (etude_syncclient_sync(c, full, 0, st))
        die("sync", etude_syncclient_errmsg(c));
    *secs = now_s() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sync PATH/TO/etude-syncd [DEFAULT_N]\n");
        return 2;
    }
    const char *syncd = argv[1];
    const char *env = getenv("ETUDE_BENCH_SYNC_N");
    long n = env ? atol(env) : argc > 2 ? atol(argv[2]) : 100000;
    if (n < 100)
        n = 100;
    snprintf(tmp, sizeof tmp, "/tmp/etude-bench-sync-XXXXXX");
    if (!mkdtemp(tmp))
        die("mkdtemp", strerror(errno));
    add_user(syncd, "bench");
    add_user(syncd, "batched");
    add_user(syncd, "single");
    char db[300], ready[300];
    snprintf(db, sizeof db, "%s/s.db", tmp);
    snprintf(ready, sizeof ready, "%s/ready", tmp);
    char *sargv[] = {(char *)syncd, "--listen", "127.0.0.1:0", "--db", db, "--ready-file", ready, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&server, syncd, &fa, NULL, sargv, environ) != 0)
        die("spawn", syncd);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; access(ready, R_OK) != 0; i++) {
        if (i > 400)
            die("etude-syncd", "did not start");
        usleep(50000);
    }
    FILE *f = fopen(ready, "r");
    char addr[80] = "";
    if (!f || !fgets(addr, sizeof addr, f))
        die("ready file", ready);
    fclose(f);
    addr[strcspn(addr, "\n")] = 0;
    snprintf(url, sizeof url, "http://%s", addr);

    printf("bench_sync: N = %ld entities%s\n", n,
           n == 100000 ? " (the issue's figure)" : " (set ETUDE_BENCH_SYNC_N=100000 for the issue's figure)");
    char home[400];
    snprintf(home, sizeof home, "%s/a", tmp);
    mkdir(home, 0700);
    double t0 = now_s();
    fill(home, "a", n);
    printf("  local store: %ld entities written in %.2f s\n", n, now_s() - t0);
    etude_syncclient_t *a = device("a", "bench", 250);
    etude_sync_stats_t full, inc;
    double tf, ti;
    sync_or_die(a, 1, &full, &tf);
    printf("  full sync to an empty account: %.2f s, %.0f entities/s, %d requests, %lld bytes sent (gzip), "
           "%lld bytes received\n",
           tf, (double)full.uploaded / tf, full.requests, (long long)full.bytes_sent,
           (long long)full.bytes_received);
    if (full.uploaded != n)
        die("full sync", "not every entity was uploaded");

    /* 1 % changed */
    char p[500];
    snprintf(p, sizeof p, "%s/etude.db", home);
    etude_store_t *st;
    if (etude_store_open(p, &st))
        die("store", p);
    typedef struct ids {
        char (*id)[37];
        long n, max;
    } ids_t;
    ids_t ids = {.id = calloc((size_t)n, 37), .max = n};
    int collect(void *u, const etude_entity_t *e);
    etude_store_list(st, NULL, NULL, 0, collect, &ids);
    long changed = n / 100;
    for (long i = 0; i < changed; i++) {
        char data[128];
        snprintf(data, sizeof data, "{\"text\":\"changed note %ld\",\"minutes\":%ld}", i, i % 60);
        if (etude_store_update(st, ids.id[(i * 97) % ids.n], data))
            die("update", etude_store_errmsg(st));
    }
    etude_store_close(st);
    free(ids.id);
    sync_or_die(a, 0, &inc, &ti);
    printf("  incremental sync after %ld changes (1 %%): %.2f s, %d requests, %lld bytes sent\n", changed, ti,
           inc.requests, (long long)inc.bytes_sent);
    printf("  incremental / full upload bytes: %.4f -> %.1f %% less than a full re-upload (aim >= 95 %%)\n",
           (double)inc.bytes_sent / (double)full.bytes_sent,
           100.0 * (1.0 - (double)inc.bytes_sent / (double)full.bytes_sent));
    etude_syncclient_close(a);

    /* Batched against one entity per request, each on its own empty account. */
    long m = n < 2000 ? n : 2000;
    snprintf(home, sizeof home, "%s/batched", tmp);
    mkdir(home, 0700);
    fill(home, "batched", m);
    snprintf(home, sizeof home, "%s/single", tmp);
    mkdir(home, 0700);
    fill(home, "single", m);
    etude_syncclient_t *b = device("batched", "batched", 250);
    etude_syncclient_t *s = device("single", "single", 1);
    etude_sync_stats_t sb, ss;
    double tb, ts;
    sync_or_die(b, 1, &sb, &tb);
    sync_or_die(s, 1, &ss, &ts);
    printf("  %ld entities batched (250): %.2f s, %d requests, %lld bytes sent\n", m, tb, sb.requests,
           (long long)sb.bytes_sent);
    printf("  %ld entities one per request: %.2f s, %d requests, %lld bytes sent\n", m, ts, ss.requests,
           (long long)ss.bytes_sent);
    printf("  batched is %.1fx faster and sends %.1fx fewer bytes\n", ts / tb,
           (double)ss.bytes_sent / (double)sb.bytes_sent);
    etude_syncclient_close(b);
    etude_syncclient_close(s);
    stop_server();
    return 0;
}

int collect(void *u, const etude_entity_t *e)
{
    struct {
        char (*id)[37];
        long n, max;
    } *ids = u;
    if (ids->n < ids->max)
        memcpy(ids->id[ids->n++], e->id, 37);
    return 0;
}
