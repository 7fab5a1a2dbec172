/* sync_model.c - the model-based random test of the whole sync: K devices (3 to 5) run random
 * histories against a real etude-syncd on loopback, through a fault-injecting proxy
 * (tests/support/model_proxy.c), and a checker holds the sync's promises after quiescence.
 *
 * One device is one $ETUDE_HOME. Its local writes run in this process through the store API
 * (etude_store.h), each with the device's own clock offset; every network operation (login, sync,
 * logout) runs in a forked child through the sync client API (etude_syncclient.h), so a sync can be
 * killed with SIGKILL in the middle and nothing of a device's state lives in the driver between
 * steps. The server can be killed with SIGKILL and restarted on the same port, with or without a
 * sync in flight.
 *
 * A history: 2 or 3 fresh accounts, K devices with clock offsets up to +-6 h, then random steps:
 * notes (often with equal texts), goals with hard numbers, edits of the same entity on several
 * devices (also while an upload of it is in flight), deletions, login, logout and account
 * switches, syncs, syncs killed mid-way, proxy faults (refuse, cut request, answer cut mid-body,
 * delay, 500, 429 + Retry-After), server kill + restart, pauses and clock jumps. Quiescence: the
 * faults stop, every device logs in to each account it may hold queued changes for and syncs until
 * nothing is pending, then all devices sync in rounds until a round changes nothing (bounded).
 *
 * Invariants checked (each violation has a class; see docs/sync.md):
 *   converge   every device logged in to an account holds exactly the server's entities of that
 *              account (ids, live data by checksum, tombstones), nothing left queued (pending)
 *   lost       every acknowledged write (committed locally) is present on the server, or superseded:
 *              by a later write of its own lineage, or in a conflict by a write that is not
 *              earlier in real time (clock: an earlier write won) and then kept and listed as a
 *              conflict (unlisted); merged: a note or goal vanished into another with equal content
 *   leak       no entity crosses accounts: never listed on a device logged in to another account,
 *              never on the server under another user
 *   deadletter nothing the server accepts is dead-lettered (every write of the model is valid)
 *   revived    deletions stick: a tombstone never comes back on a device or on the server
 *   hang       no operation runs past its bound
 *
 * Server side (ETUDE_MODEL_TOPOLOGY): unset, one etude-syncd on a SQLite file; "two", two
 * etude-syncd processes on one PostgreSQL database (made in the cluster that
 * tests/support/pg_harness.sh runs: ETUDE_PG_HOST, ETUDE_PG_PORT, ETUDE_PG_USER), each device k
 * talking to process k % 2 through its own fault proxy; "haproxy", the same two processes behind
 * haproxy run with docs/haproxy.cfg (ETUDE_HAPROXY_CFG; ETUDE_HAPROXY, default /usr/sbin/haproxy),
 * both proxies pointing to haproxy. A server kill then kills the device's process (two) or process
 * k % 2 behind haproxy, which restarts on its port. The checker reads the server's rows from
 * PostgreSQL (libpq) there, with the same queries; the tampering writes there too. One database
 * for the run, as the SQLite file is one: each history has accounts of its own (m<seed>u<n>), and
 * the checker reads only those.
 *
 * Environment: ETUDE_MODEL_SEED=N replays history N alone (printing its steps);
 * ETUDE_MODEL_HISTORIES=N runs N histories (seeds from ETUDE_MODEL_BASE_SEED, default 1);
 * ETUDE_MODEL_STEPS (default 28); ETUDE_MODEL_TOL_MS (default 150): two writes closer than this in
 * real time may be ordered either way (the clock correction is only as good as a round trip);
 * ETUDE_MODEL_KNOWN_FAILING=class,...: violations of these classes are reported but do not fail
 * the run (for the CI entry while a fix is outstanding: listed loudly, never silently);
 * ETUDE_MODEL_SECONDS=S stops starting new histories after S seconds; ETUDE_MODEL_VERBOSE=1
 * prints every history; KEEP_TMP=1 keeps the work directory.
 *
 *   sync_model ETUDE_SYNCD_PATH
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etude_store.h"
#include "etude_syncclient.h"
#include "model_proxy.h"

/* ---- clocks ------------------------------------------------------------------------------- */

/* A device's clock offset reaches the library through ETUDE_TEST_CLOCK_SKEW_MS, which
 * etude_time_wall_ms() (common/etude_time.h) reads on every call; this process sets it before each
 * device's step (checked at start-up by calibrate_skew). */

/* Real (unskewed) wall time in ms, and monotonic time in ms. */
static int64_t real_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static void set_skew(int64_t ms)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, ms);
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", b, 1);
}

/* ---- random numbers (splitmix64: a history is a function of its seed) ---------------------- */

static uint64_t g_rng;
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int rn(int n) { return n > 0 ? (int)(rnd() % (uint64_t)n) : 0; }
static int chance(int percent) { return rn(100) < percent; }

/* ---- model -------------------------------------------------------------------------------- */

#define MAXDEV 5
#define MAXACC 3
#define MAXENT 400
#define MAXW 2000

enum { T_NOTE = 0, T_GOAL = 1 };
static const char *type_name[] = {"logbookEntry", "goal"};
enum { W_CREATE = 0, W_UPDATE, W_DELETE };
static const char *wkind_name[] = {"create", "edit", "delete"};

typedef struct {
    char id[37];
    int type;
    int owner;    /* account index, -1 while anonymous (then anon_dev holds it) */
    int anon_dev;
    int leaked;   /* written or listed under another account (reported as leak) */
    unsigned dead_lettered; /* devices that dead-lettered a change of it */
    unsigned char dead_seen[MAXDEV];
} ment_t;

typedef struct {
    int ent, dev, acc, kind;
    int parent;       /* the write whose content the device held; -1 none; -2 not a known write */
    char sum[65];     /* checksum after the write; "" for a tombstone */
    char data[200];   /* the data sent to the store */
    int64_t t0, t1;   /* real time around the call */
    int step;
} mwrite_t;

typedef struct {
    char home[PATH_MAX + 64];
    int64_t skew_ms;
    int acc;            /* logged-in account, -1 when not */
    int ever;           /* has logged in once */
    int last_acc;
    unsigned maybe_pending; /* accounts this device may hold queued changes for */
    int clock_unsure;   /* its clock jumped and no sync has told it the server's time since */
    int need_relogin;   /* the server refused its tokens although nobody logged it out */
} mdev_t;

typedef struct {
    int acc, ent;
    char sum[65];
} mconf_t;

enum {
    V_CONVERGE = 0, V_PENDING, V_LOST, V_MERGED, V_CLOCK, V_UNLISTED, V_LEAK, V_DEADLETTER, V_REVIVED,
    V_FOREIGN, V_HANG, V_QUIESCE, V_LOGIN, V_AUTH, V_NCLASSES
};
static const char *vclass_name[] = {"converge", "pending", "lost", "merged", "clock", "unlisted", "leak",
                                    "deadletter", "revived", "foreign", "hang", "quiesce", "login", "auth"};

typedef struct {
    uint64_t seed;
    int ndev, nacc, step;
    char acc_name[MAXACC][40], acc_pw[MAXACC][48];
    mdev_t dev[MAXDEV];
    ment_t ent[MAXENT];
    int nent;
    mwrite_t w[MAXW];
    int nw;
    mconf_t *conf;
    int nconf, capconf;
    char **log;
    int nlog, caplog;
    int nviol[V_NCLASSES];
    char **viol;
    int nv, capv;
    int kills_landed, kills_missed, server_kills, inflight;
    int server_kill_step; /* the one step of this history that may kill the server, or 0 */
    int64_t t_start;      /* real time at the start, for the log */
} hist_t;

static hist_t *H;

/* ---- run configuration -------------------------------------------------------------------- */

static const char *g_syncd;
static char g_work[PATH_MAX - 200];
static char g_srv_db[PATH_MAX + 16], g_srv_log[PATH_MAX + 16];
/* Server processes (1, or 2 on PostgreSQL) and fault proxies (one per process, or two in front of
 * haproxy); device d talks to proxy d % g_nproxy. */
enum { TOPO_SQLITE = 0, TOPO_TWO, TOPO_HAPROXY };
static int g_topo, g_nsrv = 1, g_nproxy = 1;
static char g_srv_ready[2][PATH_MAX + 16];
static pid_t g_srv_pid[2] = {-1, -1};
static int g_srv_port[2];
static model_proxy_ctl_t *g_proxy[2];
static int g_proxy_port[2];
static pid_t g_proxy_pid[2] = {-1, -1};
static char g_url[2][64];
static pid_t g_haproxy_pid = -1;
static int g_haproxy_port, g_haproxy_stats;
static char g_haproxy_log[PATH_MAX + 16];
static PGconn *g_pg; /* the checker's connection to the servers' PostgreSQL database */
static int g_steps = 28, g_tol_ms = 150, g_verbose;
static unsigned g_known_failing;
static int g_kill_max_us = 10000;
static int g_conflicts_api; /* 1: the library lists settled conflicts too (conflicts --all) */

static int64_t g_t_server, g_t_child, g_n_child, g_last_child_ms;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sync_model: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void hlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hlog(const char *fmt, ...)
{
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (H->nlog == H->caplog) {
        H->caplog = H->caplog ? H->caplog * 2 : 128;
        H->log = realloc(H->log, sizeof *H->log * (size_t)H->caplog);
        if (!H->log)
            die("out of memory");
    }
    char *s = malloc(strlen(b) + 16);
    if (!s)
        die("out of memory");
    sprintf(s, "%3d. %s", H->step, b);
    H->log[H->nlog++] = s;
    if (g_verbose > 1)
        fprintf(stderr, "%s\n", s);
}

static void viol(int cls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void viol(int cls, const char *fmt, ...)
{
    char b[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    H->nviol[cls]++;
    if (H->nviol[cls] > 12)
        return; /* counted, not all printed */
    if (H->nv == H->capv) {
        H->capv = H->capv ? H->capv * 2 : 32;
        H->viol = realloc(H->viol, sizeof *H->viol * (size_t)H->capv);
        if (!H->viol)
            die("out of memory");
    }
    char *s = malloc(strlen(b) + 32);
    if (!s)
        die("out of memory");
    sprintf(s, "[%s] %s", vclass_name[cls], b);
    H->viol[H->nv++] = s;
}

static const char *short_id(const char *id)
{
    static char b[8][12];
    static int k;
    k = (k + 1) % 8;
    snprintf(b[k], sizeof b[k], "%.8s", id);
    return b[k];
}

static int ent_find(const char *id)
{
    for (int i = 0; i < H->nent; i++)
        if (!strcmp(H->ent[i].id, id))
            return i;
    return -1;
}

static const char *acc_label(int a) { return a >= 0 ? H->acc_name[a] : "anonymous"; }

/* The account whose data device d shows and writes. A store that partitions accounts keeps the
 * last login's account active after a logout (etude_store_account()); without partitions, a
 * logged-out device is left alone by the model. -1: anonymous (before the first login). */
static int view_acc(int d)
{
#ifdef MODEL_STORE_ACCOUNTS
    return H->dev[d].acc >= 0 ? H->dev[d].acc : H->dev[d].ever ? H->dev[d].last_acc : -1;
#else
    return H->dev[d].acc;
#endif
}

/* ---- the server and the proxy ------------------------------------------------------------- */


static void haproxy_wait_up(void);

/* Server process k (0 or 1): started on its port of the previous start (any free port the first
 * time); its proxy (or haproxy) reaches it there. */
static void server_start(int k)
{
    int64_t tstart = mono_ms();
    unlink(g_srv_ready[k]);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", g_srv_port[k]);
    pid_t p = fork();
    if (p < 0)
        die("fork: %s", strerror(errno));
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(g_srv_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        unsetenv("ETUDE_TEST_CLOCK_SKEW_MS"); /* the devices' clocks are off, the server's is not */
        execl(g_syncd, g_syncd, "--listen", listen, "--db", g_srv_db, "--ready-file", g_srv_ready[k],
              "--exit-with-parent", (char *)NULL);
        _exit(127);
    }
    g_srv_pid[k] = p;
    int64_t end = mono_ms() + 60000;
    for (;;) {
        FILE *f = fopen(g_srv_ready[k], "r");
        if (f) {
            char b[64] = "";
            int ok = fgets(b, sizeof b, f) != NULL;
            fclose(f);
            char *c = strrchr(b, ':');
            if (ok && c) {
                g_srv_port[k] = atoi(c + 1);
                break;
            }
        }
        int st;
        if (waitpid(p, &st, WNOHANG) == p)
            die("etude-syncd exited at start (see %s)", g_srv_log);
        if (mono_ms() > end)
            die("etude-syncd did not start within 60 s");
        sleep_ms(2);
    }
    if (g_topo != TOPO_HAPROXY && g_proxy[k])
        atomic_store(&g_proxy[k]->target_port, g_srv_port[k]);
    g_t_server += mono_ms() - tstart;
}

static void server_kill(int k)
{
    if (g_srv_pid[k] > 0) {
        kill(g_srv_pid[k], SIGKILL);
        waitpid(g_srv_pid[k], NULL, 0);
    }
    g_srv_pid[k] = -1;
}

/* ---- PostgreSQL (the servers' database in the two-process topologies) --------------------- */

/* SQL written with ? parameters, as for SQLite, numbered $1, $2 for libpq. */
static void pg_params(const char *sql, char *out, size_t n)
{
    size_t o = 0;
    int k = 0;
    for (const char *c = sql; *c && o + 8 < n; c++) {
        if (*c == '?')
            o += (size_t)snprintf(out + o, n - o, "$%d", ++k);
        else
            out[o++] = *c;
    }
    out[o] = 0;
}

/* Runs sql (? parameters) on the servers' database; dies on an error. The result is the caller's. */
static PGresult *pg_run(const char *sql, int nargs, const char *const *args)
{
    char q[2048];
    pg_params(sql, q, sizeof q);
    PGresult *r = PQexecParams(g_pg, q, nargs, NULL, args, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die("PostgreSQL: %s: %s", q, PQerrorMessage(g_pg));
    return r;
}

/* Connects to the cluster of pg_harness.sh, makes a database for this run and sets g_srv_db to
 * its URI (for etude-syncd) and g_pg to a connection (for the checker). */
static void pg_setup(void)
{
    const char *host = getenv("ETUDE_PG_HOST"), *port = getenv("ETUDE_PG_PORT"), *user = getenv("ETUDE_PG_USER");
    if (!host || !*host || !port || !*port)
        die("ETUDE_MODEL_TOPOLOGY needs PostgreSQL: run under tests/support/pg_harness.sh run (ETUDE_PG_HOST, ETUDE_PG_PORT)");
    if (!user || !*user)
        user = "postgres";
    char name[64], uri[PATH_MAX];
    snprintf(name, sizeof name, "etude_model_%d", (int)getpid());
    snprintf(uri, sizeof uri, "postgresql:///postgres?host=%s&port=%s&user=%s", host, port, user);
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK)
        die("PostgreSQL %s: %s", uri, PQerrorMessage(c));
    char q[128];
    snprintf(q, sizeof q, "CREATE DATABASE \"%s\"", name);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("PostgreSQL: %s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(g_srv_db, sizeof g_srv_db, "postgresql:///%s?host=%s&port=%s&user=%s", name, host, port, user);
    g_pg = PQconnectdb(g_srv_db);
    if (PQstatus(g_pg) != CONNECTION_OK)
        die("PostgreSQL %s: %s", g_srv_db, PQerrorMessage(g_pg));
}

/* ---- haproxy ------------------------------------------------------------------------------ */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &al) != 0)
        die("free port: %s", strerror(errno));
    close(s);
    return ntohs(a.sin_port);
}

/* The number of servers of backend etude_graphql that haproxy's checks see up (stats CSV), or -1
 * when the stats page does not answer. */
static int haproxy_up(void)
{
    char cmd[2 * PATH_MAX + 256];
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 2 -o %s/stats.csv 'http://127.0.0.1:%d/;csv' 2>/dev/null && awk -F, '$1 == "
             "\"etude_graphql\" && $2 ~ /^s[0-9]/ && $18 == \"UP\"' %s/stats.csv | wc -l",
             g_work, g_haproxy_stats, g_work);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    int up;
    if (fscanf(f, "%d", &up) != 1)
        up = -1;
    pclose(f);
    return up;
}

static void haproxy_wait_up(void)
{
    int64_t end = mono_ms() + 20000;
    while (haproxy_up() < g_nsrv) {
        if (mono_ms() > end)
            die("haproxy does not see %d servers up within 20 s (see %s)", g_nsrv, g_haproxy_log);
        sleep_ms(20);
    }
}

/* haproxy in front of the two processes, with the very configuration the documentation shows. */
static void haproxy_start(void)
{
    const char *cfg = getenv("ETUDE_HAPROXY_CFG"), *bin = getenv("ETUDE_HAPROXY");
    if (!cfg || !*cfg)
        die("ETUDE_MODEL_TOPOLOGY=haproxy needs ETUDE_HAPROXY_CFG (docs/haproxy.cfg)");
    if (!bin || !*bin)
        bin = "/usr/sbin/haproxy";
    if (access(bin, X_OK) != 0)
        die("%s: %s (Debian package haproxy)", bin, strerror(errno));
    snprintf(g_haproxy_log, sizeof g_haproxy_log, "%s/haproxy.log", g_work);
    g_haproxy_port = free_port();
    g_haproxy_stats = free_port();
    char v[4][64];
    snprintf(v[0], sizeof v[0], "127.0.0.1:%d", g_haproxy_port);
    snprintf(v[1], sizeof v[1], "127.0.0.1:%d", g_haproxy_stats);
    snprintf(v[2], sizeof v[2], "127.0.0.1:%d", g_srv_port[0]);
    snprintf(v[3], sizeof v[3], "127.0.0.1:%d", g_srv_port[1]);
    pid_t p = fork();
    if (p < 0)
        die("fork: %s", strerror(errno));
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(g_haproxy_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setenv("ETUDE_HAPROXY_LISTEN", v[0], 1);
        setenv("ETUDE_HAPROXY_STATS", v[1], 1);
        setenv("ETUDE_SYNCD_1", v[2], 1);
        setenv("ETUDE_SYNCD_2", v[3], 1);
        execl(bin, bin, "-db", "-f", cfg, (char *)NULL);
        _exit(127);
    }
    g_haproxy_pid = p;
    int64_t end = mono_ms() + 20000;
    while (haproxy_up() < 0) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p)
            die("haproxy exited at start (see %s)", g_haproxy_log);
        if (mono_ms() > end)
            die("haproxy did not start within 20 s (see %s)", g_haproxy_log);
        sleep_ms(20);
    }
    haproxy_wait_up();
}

/* A fresh account: created with `etude-syncd user add` semantics, but with argon2id's minimum
 * cost so that a login takes about a millisecond (the verification path is the same; the cost is
 * read from the stored hash). Rows go in through SQLite as `user add` writes them. */
static void account_add(const char *name, const char *pw)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN) != 0)
        die("crypto_pwhash_str failed");
    char uuid[37];
    etude_uuid_new(uuid);
    if (g_pg) {
        char at[32];
        snprintf(at, sizeof at, "%" PRId64, real_ms());
        const char *args[] = {uuid, name, hash, at};
        PQclear(pg_run("INSERT INTO users(uuid, name, pwhash, created_at) VALUES(?,?,?,?)", 4, args));
        return;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(g_srv_db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die("%s: %s", g_srv_db, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "INSERT INTO users(uuid, name, pwhash, created_at) VALUES(?,?,?,?)", -1, &s, NULL) !=
        SQLITE_OK)
        die("%s: users table: %s", g_srv_db, sqlite3_errmsg(db));
    sqlite3_bind_text(s, 1, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, real_ms());
    if (sqlite3_step(s) != SQLITE_DONE)
        die("%s: adding user %s: %s", g_srv_db, name, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* ---- child operations (network) ----------------------------------------------------------- */

enum { OP_SYNC = 0, OP_LOGIN, OP_LOGOUT };

typedef struct {
    int done;
    int rc;       /* of the operation (login: of the login itself) */
    int sync_rc;  /* login: of the full sync after it */
    etude_sync_stats_t st;
    int64_t pending;
    char err[480];
} cres_t;

static int g_started_fd = -1;

/* The network operation itself, in whichever process runs it. */
static void net_op(int d, int op, int acc, cres_t *r)
{
    memset(r, 0, sizeof *r);
    etude_syncclient_t *c = NULL;
    r->rc = etude_syncclient_open(H->dev[d].home, NULL, &c);
    if (g_started_fd >= 0) {
        ssize_t wr = write(g_started_fd, "s", 1); /* the killer's clock starts here */
        (void)wr;
    }
    int64_t deadline = etude_sync_now_us() + 6000000;
    if (r->rc == 0) {
        if (op == OP_LOGIN) {
            r->rc = etude_syncclient_login(c, g_url[d % g_nproxy], H->acc_name[acc], H->acc_pw[acc], NULL);
            if (r->rc == 0)
                r->sync_rc = etude_syncclient_sync(c, 1, deadline, &r->st);
        } else if (op == OP_SYNC) {
            r->rc = etude_syncclient_sync(c, 0, deadline, &r->st);
        } else {
            r->rc = etude_syncclient_logout(c, deadline, &r->pending);
        }
    }
    if (c)
        snprintf(r->err, sizeof r->err, "%s", etude_syncclient_errmsg(c));
    etude_syncclient_close(c);
    r->done = 1;
}

/* A network operation in a child process, so that it can be killed -9 in the middle. No SQLite
 * connection of this process is open across the fork (the driver opens one per step). */
static pid_t child_spawn(int d, int op, int acc, int *rfd, int *sfd)
{
    int pfd[2], spd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0 || pipe2(spd, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    set_skew(H->dev[d].skew_ms);
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p < 0)
        die("fork: %s", strerror(errno));
    if (p == 0) {
        close(pfd[0]);
        close(spd[0]);
        g_started_fd = spd[1];
        cres_t r;
        net_op(d, op, acc, &r);
        ssize_t wr = write(pfd[1], &r, sizeof r);
        (void)wr;
        close(pfd[1]);
        exit(0);
    }
    close(pfd[1]);
    close(spd[1]);
    *rfd = pfd[0];
    if (sfd)
        *sfd = spd[0];
    else
        close(spd[0]);
    return p;
}

/* A network operation in this process (bounded by its deadline). */
static int run_op(int d, int op, int acc, cres_t *r)
{
    set_skew(H->dev[d].skew_ms);
    int64_t t0 = mono_ms();
    net_op(d, op, acc, r);
    g_last_child_ms = mono_ms() - t0;
    g_t_child += g_last_child_ms;
    g_n_child++;
    if (g_last_child_ms > 30000)
        viol(V_HANG, "%s took %" PRId64 " ms", op == OP_SYNC ? "sync" : op == OP_LOGIN ? "login" : "logout",
             g_last_child_ms);
    return 0;
}

/* Wait for a child's answer: 0 when it finished, 1 when it died by a signal, -1 past the bound
 * (then it is killed and a hang is reported). */
static int child_wait(pid_t p, int fd, cres_t *r, const char *what)
{
    memset(r, 0, sizeof *r);
    struct pollfd pf = {fd, POLLIN, 0};
    int64_t tstart = mono_ms(), end = tstart + 30000;
    size_t got = 0;
    int timed_out = 0;
    while (got < sizeof *r) {
        int64_t left = end - mono_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int n = poll(&pf, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        ssize_t k = read(fd, (char *)r + got, sizeof *r - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (timed_out) {
        kill(p, SIGKILL);
        viol(V_HANG, "%s did not finish within 30 s (killed)", what);
    }
    int st = 0;
    waitpid(p, &st, 0);
    g_t_child += mono_ms() - tstart;
    g_last_child_ms = mono_ms() - tstart;
    g_n_child++;
    if (timed_out)
        return -1;
    if (WIFSIGNALED(st) || got < sizeof *r || !r->done) {
        r->done = 0;
        return 1;
    }
    return 0;
}

/* ---- device-side views (in this process) -------------------------------------------------- */

static int store_open_dev(int d, etude_store_t **st)
{
    set_skew(H->dev[d].skew_ms);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/etude.db", H->dev[d].home);
    int rc = etude_store_open(path, st);
    if (rc) {
        hlog("d%d: store open failed: %s %s", d, etude_store_strerror(rc), *st ? etude_store_errmsg(*st) : "");
        etude_store_close(*st);
        *st = NULL;
    }
    return rc;
}

typedef struct {
    char id[37];
    int deleted;
    char sum[65];
    char status[12];
} row_t;

typedef struct {
    row_t *r;
    int n, cap;
} rows_t;

static int rows_cb(void *user, const etude_entity_t *e)
{
    rows_t *rs = user;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->r = realloc(rs->r, sizeof *rs->r * (size_t)rs->cap);
        if (!rs->r)
            die("out of memory");
    }
    row_t *r = &rs->r[rs->n++];
    snprintf(r->id, sizeof r->id, "%s", e->id);
    r->deleted = e->deleted_at[0] != 0;
    snprintf(r->sum, sizeof r->sum, "%s", r->deleted ? "" : e->checksum);
    snprintf(r->status, sizeof r->status, "%s", e->sync_status);
    return 0;
}

/* What device d lists (tombstones included), as the CLI would show it. Also the listing monitors:
 * a tombstone seen once never comes back, and nothing of another account is shown. */
static int dev_list(int d, rows_t *rs, const char *when)
{
    memset(rs, 0, sizeof *rs);
    etude_store_t *st;
    if (store_open_dev(d, &st))
        return -1;
    int rc = etude_store_list(st, NULL, NULL, 1, rows_cb, rs);
    etude_store_close(st);
    if (rc)
        return -1;
    int acc = view_acc(d);
    for (int i = 0; i < rs->n; i++) {
        int e = ent_find(rs->r[i].id);
        if (e < 0)
            continue;
        ment_t *m = &H->ent[e];
        if (rs->r[i].deleted) {
            m->dead_seen[d] = 1;
        } else if (m->dead_seen[d]) {
            viol(V_REVIVED, "d%d lists %s %s live again %s after it had shown its tombstone", d,
                 type_name[m->type], short_id(m->id), when);
            m->dead_seen[d] = 0;
        }
        if (acc >= 0 && m->owner >= 0 && m->owner != acc) {
            if (!m->leaked)
                viol(V_LEAK, "d%d showing %s lists %s %s of account %s %s", d, acc_label(acc),
                     type_name[m->type], short_id(m->id), acc_label(m->owner), when);
            m->leaked = 1;
        }
    }
    return 0;
}

/* The checksum device d holds for entity id ("" for a tombstone); -1 when it has none. */
static int dev_get(int d, const char *id, char sum[65], char *data, size_t dsize)
{
    etude_store_t *st;
    if (store_open_dev(d, &st))
        return -1;
    etude_entity_t e;
    memset(&e, 0, sizeof e);
    int rc = etude_store_get(st, id, &e);
    if (rc == 0) {
        snprintf(sum, 65, "%s", e.deleted_at[0] ? "" : e.checksum);
        if (data)
            snprintf(data, dsize, "%s", e.data ? e.data : "");
    }
    etude_entity_clear(&e);
    etude_store_close(st);
    return rc ? -1 : 0;
}

static int write_find(int ent, const char *sum)
{
    for (int i = H->nw - 1; i >= 0; i--)
        if (H->w[i].ent == ent && !strcmp(H->w[i].sum, sum))
            return i;
    return -2;
}

/* Conflicts as the library lists them (settled ones too, when it can), remembered per account. */
static void conf_add(int acc, const char *id, const char *sum)
{
    int e = ent_find(id);
    if (e < 0 || !sum)
        return;
    if (H->nconf == H->capconf) {
        H->capconf = H->capconf ? H->capconf * 2 : 64;
        H->conf = realloc(H->conf, sizeof *H->conf * (size_t)H->capconf);
        if (!H->conf)
            die("out of memory");
    }
    mconf_t *c = &H->conf[H->nconf++];
    c->acc = acc;
    c->ent = e;
    snprintf(c->sum, sizeof c->sum, "%s", sum);
}

static const char *payload_sum(const cJSON *p)
{
    if (!cJSON_IsObject(p))
        return NULL;
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(p, "deletedAt");
    if (cJSON_IsString(del))
        return "";
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "checksum");
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static void snapshot_conflicts(int d)
{
    int acc = view_acc(d);
    if (acc < 0)
        return;
    if (g_conflicts_api) {
        set_skew(H->dev[d].skew_ms);
        etude_syncclient_t *c = NULL;
        if (etude_syncclient_open(H->dev[d].home, NULL, &c) == 0) {
#ifdef MODEL_CONFLICTS_ALL
            char *j = MODEL_CONFLICTS_ALL(c);
#else
            char *j = etude_syncclient_conflicts_json(c);
#endif
            cJSON *a = j ? cJSON_Parse(j) : NULL;
            const cJSON *it;
            cJSON_ArrayForEach(it, a)
            {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "entityId");
                if (!cJSON_IsString(id))
                    continue;
                conf_add(acc, id->valuestring, payload_sum(cJSON_GetObjectItemCaseSensitive(it, "local")));
                conf_add(acc, id->valuestring, payload_sum(cJSON_GetObjectItemCaseSensitive(it, "remote")));
            }
            cJSON_Delete(a);
            free(j);
        }
        etude_syncclient_close(c);
        return;
    }
    /* No listing of settled conflicts in this library yet: read what the store kept. */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/etude.db", H->dev[d].home);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, "SELECT entity_id, local_payload, remote_payload FROM conflicts", -1, &s, NULL) ==
            SQLITE_OK) {
            while (sqlite3_step(s) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(s, 0);
                for (int k = 1; k <= 2; k++) {
                    cJSON *p = cJSON_Parse((const char *)sqlite3_column_text(s, k));
                    conf_add(acc, id, payload_sum(p));
                    cJSON_Delete(p);
                }
            }
            sqlite3_finalize(s);
        }
    }
    sqlite3_close(db);
}

/* Dead letters as `etude sync status` shows them. */
static void check_dead_letters(int d, const char *when)
{
    set_skew(H->dev[d].skew_ms);
    etude_syncclient_t *c = NULL;
    if (etude_syncclient_open(H->dev[d].home, NULL, &c) == 0) {
        char *j = etude_syncclient_status_json(c);
        cJSON *o = j ? cJSON_Parse(j) : NULL;
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(o, "deadLetters");
        const cJSON *it;
        cJSON_ArrayForEach(it, dl)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "entityId");
            const cJSON *reason = cJSON_GetObjectItemCaseSensitive(it, "reason");
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(it, "op");
            const char *ids = cJSON_IsString(id) ? id->valuestring : "?";
            int e = ent_find(ids);
            if (e >= 0 && (H->ent[e].dead_lettered & (1u << d)))
                continue; /* reported once per device and entity */
            if (e >= 0)
                H->ent[e].dead_lettered |= 1u << d;
            viol(V_DEADLETTER, "d%d (%s) %s: %s %s %s dead-lettered: %s", d, acc_label(H->dev[d].acc), when,
                 cJSON_IsString(op) ? op->valuestring : "?", e >= 0 ? type_name[H->ent[e].type] : "entity",
                 short_id(ids), cJSON_IsString(reason) ? reason->valuestring : "?");
        }
        cJSON_Delete(o);
        free(j);
    }
    etude_syncclient_close(c);
}

/* ---- data generation ---------------------------------------------------------------------- */

/* Equal texts: plain, UTF-8, a non-BMP character, and characters JSON must escape. */
static const char *equal_texts[] = {"long tones", "scales in thirds", "Hanon no. 1",
                                    "slow practice, \xc3\xa9tude 3", "bow \"d\xc3\xa9tach\xc3\xa9\" \\ \xf0\x9f\x8e\xbb\x01 end"};
#define N_EQUAL_TEXTS 5
/* Numbers whose canonical form is easy to get wrong (RFC 8785 / ECMAScript formatting). */
static const double hard_numbers[] = {1e15, 1.5e15, 0.1234567890123456, 720.0 / 97.0, 9007199254740991.0, 1e-7,
                                      1e21, 4.35, 9007199254740992.0, 30, 45.5};
static const char *hard_names[] = {"1e15", "1.5e15", "0.1234567890123456", "720/97", "2^53-1", "1e-7",
                                   "1e21", "4.35", "2^53", "30", "45.5"};
#define N_HARD 11

static int data_used(int ent, const char *data)
{
    for (int i = 0; i < H->nw; i++)
        if (H->w[i].ent == ent && !strcmp(H->w[i].data, data))
            return 1;
    return 0;
}

static int g_text_serial;

/* A note's data: often one of a few equal texts, or the text of another note (other_text). */
/* {"text": text} with JSON escapes where needed. */
static void note_json(const char *text, char *out, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "text", text);
    char *t = cJSON_PrintUnformatted(o);
    snprintf(out, n, "%s", t ? t : "{}");
    free(t);
    cJSON_Delete(o);
}

/* A note's data: often one of a few equal texts, or the text of another note (other_text). */
static void gen_note(int ent, const char *other_text, char *out, size_t n)
{
    char b[160];
    for (int tries = 0; tries < 8; tries++) {
        if (other_text && tries == 0) {
            note_json(other_text, out, n);
        } else if (chance(55)) {
            note_json(equal_texts[rn(N_EQUAL_TEXTS)], out, n);
        } else {
            snprintf(b, sizeof b, "note %d of history %" PRIu64, ++g_text_serial, H->seed);
            note_json(b, out, n);
        }
        if (ent < 0 || !data_used(ent, out))
            return;
    }
    snprintf(b, sizeof b, "note %d of history %" PRIu64, ++g_text_serial, H->seed);
    note_json(b, out, n);
}

static void gen_goal(int ent, char *out, size_t n, char *label, size_t ln)
{
    for (int tries = 0; tries < 12; tries++) {
        int k = rn(N_HARD);
        const char *period = chance(50) ? "day" : "week";
        char num[40];
        snprintf(num, sizeof num, "%.17g", hard_numbers[k]);
        if (tries < 10)
            snprintf(out, n, "{\"kind\":\"minutes\",\"period\":\"%s\",\"target\":%s}", period, num);
        else
            snprintf(out, n, "{\"kind\":\"minutes\",\"material\":\"rev %d\",\"period\":\"%s\",\"target\":%s}",
                     ++g_text_serial, period, num);
        snprintf(label, ln, "minutes %s per %s", hard_names[k], period);
        if (ent < 0 || !data_used(ent, out))
            return;
    }
}

/* ---- steps -------------------------------------------------------------------------------- */

/* Writes happen logged in, or before the first login (anonymous data, adopted at login); not
 * between a logout and the next login, nor after a clock jump before a sync has told the device
 * the server's time again (nothing can correct a clock it has not yet compared). */
static int can_write(int d)
{
#ifdef MODEL_STORE_ACCOUNTS
    return !H->dev[d].clock_unsure;
#else
    return (H->dev[d].acc >= 0 || !H->dev[d].ever) && !H->dev[d].clock_unsure;
#endif
}

static int add_write(int ent, int d, int kind, int parent, const char *sum, const char *data, int64_t t0, int64_t t1)
{
    if (H->nw == MAXW)
        return -1;
    mwrite_t *w = &H->w[H->nw];
    w->ent = ent;
    w->dev = d;
    w->acc = view_acc(d);
    w->kind = kind;
    w->parent = parent;
    snprintf(w->sum, sizeof w->sum, "%s", sum);
    snprintf(w->data, sizeof w->data, "%s", data);
    w->t0 = t0;
    w->t1 = t1;
    w->step = H->step;
    if (view_acc(d) >= 0)
        H->dev[d].maybe_pending |= 1u << view_acc(d);
    return H->nw++;
}

static void op_create(int d, int type)
{
    if (H->nent == MAXENT)
        return;
    char data[200], label[80] = "";
    if (type == T_NOTE)
        gen_note(-1, NULL, data, sizeof data);
    else
        gen_goal(-1, data, sizeof data, label, sizeof label);
    etude_store_t *st;
    if (store_open_dev(d, &st))
        return;
    char id[37];
    int64_t t0 = real_ms();
    int rc = etude_store_create(st, type_name[type], NULL, data, id);
    int64_t t1 = real_ms();
    if (rc) {
        hlog("d%d: create %s %s refused by the store: %s", d, type_name[type], data, etude_store_errmsg(st));
        etude_store_close(st);
        return;
    }
    etude_entity_t e;
    memset(&e, 0, sizeof e);
    etude_store_get(st, id, &e);
    ment_t *m = &H->ent[H->nent];
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", id);
    m->type = type;
    m->owner = view_acc(d);
    m->anon_dev = d;
    int wi = add_write(H->nent, d, W_CREATE, -1, e.checksum, data, t0, t1);
    H->nent++;
    hlog("d%d (%s): create %s %s %s -> w%d %.8s at %s (real +%" PRId64 " ms)", d, acc_label(view_acc(d)),
         type_name[type], short_id(id), data, wi, e.checksum, e.updated_at, t0 - H->t_start);
    etude_entity_clear(&e);
    etude_store_close(st);
}

/* Pick an entity device d lists live; prefer ones still queued when pending_first. */
static int pick_live(int d, int pending_first, char id[37])
{
    rows_t rs;
    if (dev_list(d, &rs, "when picking an entity"))
        return -1;
    int live = 0, pend = 0;
    for (int i = 0; i < rs.n; i++) {
        live += !rs.r[i].deleted;
        pend += !rs.r[i].deleted && !strcmp(rs.r[i].status, "pending");
    }
    int found = -1;
    if (live) {
        int want_pending = pending_first && pend;
        int k = rn(want_pending ? pend : live);
        for (int i = 0; i < rs.n; i++) {
            if (rs.r[i].deleted || (want_pending && strcmp(rs.r[i].status, "pending")))
                continue;
            if (k-- == 0) {
                snprintf(id, 37, "%s", rs.r[i].id);
                found = 0;
                break;
            }
        }
    }
    free(rs.r);
    return found;
}

static int text_of(const char *data, char *out, size_t n)
{
    cJSON *o = cJSON_Parse(data);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
    int ok = cJSON_IsString(t) && strlen(t->valuestring) < n;
    if (ok)
        snprintf(out, n, "%s", t->valuestring);
    cJSON_Delete(o);
    return ok ? 0 : -1;
}

/* Edit (or delete) entity id on device d. */
static void op_write_existing(int d, const char *id, int kind)
{
    int e = ent_find(id);
    if (e < 0) {
        hlog("d%d: lists %s, which no device of this history created", d, short_id(id));
        return;
    }
    ment_t *m = &H->ent[e];
    char pre[65], data[200] = "", label[80] = "";
    if (dev_get(d, id, pre, NULL, 0))
        return;
    int parent = write_find(e, pre);
    if (kind == W_UPDATE) {
        if (m->type == T_NOTE) {
            /* Sometimes the text of another note this device lists. */
            char other[160], *op = NULL;
            if (chance(30)) {
                char oid[37], od[400], osum[65];
                if (pick_live(d, 0, oid) == 0 && strcmp(oid, id) && dev_get(d, oid, osum, od, sizeof od) == 0 &&
                    text_of(od, other, sizeof other) == 0)
                    op = other;
            }
            gen_note(e, op, data, sizeof data);
        } else {
            gen_goal(e, data, sizeof data, label, sizeof label);
        }
    }
    if (m->owner >= 0 && view_acc(d) >= 0 && m->owner != view_acc(d))
        m->leaked = 1;
    etude_store_t *st;
    if (store_open_dev(d, &st))
        return;
    int64_t t0 = real_ms();
    int rc = kind == W_UPDATE ? etude_store_update(st, id, data) : etude_store_delete(st, id);
    int64_t t1 = real_ms();
    if (rc) {
        hlog("d%d: %s %s refused: %s", d, wkind_name[kind], short_id(id), etude_store_strerror(rc));
        etude_store_close(st);
        return;
    }
    etude_entity_t en;
    memset(&en, 0, sizeof en);
    etude_store_get(st, id, &en);
    const char *sum = en.deleted_at[0] ? "" : en.checksum;
    int wi = add_write(e, d, kind, parent, sum, kind == W_DELETE ? "(tombstone)" : data, t0, t1);
    char par[16];
    snprintf(par, sizeof par, parent >= 0 ? "w%d" : parent == -1 ? "none" : "unknown", parent);
    hlog("d%d (%s): %s %s %s %s (over %s) -> w%d %.8s at %s (real +%" PRId64 " ms)", d, acc_label(view_acc(d)),
         wkind_name[kind], type_name[m->type], short_id(id), kind == W_DELETE ? "" : data, par, wi, sum, en.updated_at,
         t0 - H->t_start);
    etude_entity_clear(&en);
    etude_store_close(st);
}

static void op_edit(int d, int kind, int pending_first)
{
    char id[37];
    if (pick_live(d, pending_first, id))
        return;
    op_write_existing(d, id, kind);
}

static void after_sync(int d, const cres_t *r, int outcome, const char *what)
{
    if (outcome == 0 && r->rc == 0 && r->st.pending == 0 && H->dev[d].acc >= 0)
        H->dev[d].maybe_pending &= ~(1u << H->dev[d].acc);
    if (outcome == 0 && r->rc == 0)
        H->dev[d].clock_unsure = 0;
    if (outcome == 0 && r->rc == ETUDE_SYNC_EAUTH && H->dev[d].acc >= 0 && !H->dev[d].need_relogin) {
        viol(V_AUTH, "d%d (%s) was told to log in again at step %d: %s", d, acc_label(H->dev[d].acc), H->step,
             r->err);
        H->dev[d].need_relogin = 1;
    }
    if (outcome == 0)
        hlog("d%d (%s): %s -> %s: %d up, %d down, %d conflicts, %d dups, %d dead, %" PRId64 " pending, %" PRId64
             " ms%s%s", d, acc_label(H->dev[d].acc), what, r->rc ? etude_sync_strerror(r->rc) : "ok", r->st.uploaded,
             r->st.downloaded, r->st.conflicts, r->st.duplicates, r->st.dead_letters, r->st.pending,
             g_last_child_ms, r->rc ? ": " : "", r->rc ? r->err : "");
    else
        hlog("d%d (%s): %s -> %s", d, acc_label(H->dev[d].acc), what, outcome > 0 ? "killed" : "hung");
    rows_t rs;
    if (dev_list(d, &rs, "after a sync") == 0)
        free(rs.r);
}

/* mode 0: plain; 1: kill -9 mid-way; 2: a local edit while the upload is in flight;
 * 3: the server is killed -9 and restarted while the sync runs. */
static void op_sync(int d, int mode)
{
    if (H->dev[d].acc < 0)
        return;
    cres_t r;
    if (mode == 0) {
        int o = run_op(d, OP_SYNC, 0, &r);
        after_sync(d, &r, o, "sync");
        return;
    }
    if (mode == 2)
        model_proxy_push(g_proxy[d % g_nproxy], MF_DELAY, 60 + rn(60));
    int fd, sfd;
    pid_t p = child_spawn(d, OP_SYNC, 0, &fd, &sfd);
    /* Wait until the child has opened its store: the kill and the edit are timed from there. */
    char sb;
    ssize_t sr = read(sfd, &sb, 1);
    (void)sr;
    close(sfd);
    if (mode == 1) {
        int us = rn(g_kill_max_us);
        struct timespec t = {0, (long)us * 1000};
        nanosleep(&t, NULL);
        kill(p, SIGKILL);
        int o = child_wait(p, fd, &r, "sync");
        if (o == 1) {
            H->kills_landed++;
            if (g_kill_max_us < 60000)
                g_kill_max_us = g_kill_max_us * 11 / 10;
        } else {
            H->kills_missed++;
            if (g_kill_max_us > 1000)
                g_kill_max_us = g_kill_max_us * 3 / 4;
        }
        after_sync(d, &r, o, o == 1 ? "sync killed -9 mid-way" : "sync (finished before its kill)");
        return;
    }
    if (mode == 2) {
        sleep_ms(10 + rn(25));
        H->inflight++;
        hlog("d%d: a local edit while its sync's upload is in flight:", d);
        op_edit(d, W_UPDATE, 1);
    }
    if (mode == 3) {
        sleep_ms(rn(20));
        server_kill(d % g_nsrv);
        H->server_kills++;
        hlog("server process %d killed -9 during d%d's sync; restarting it", d % g_nsrv, d);
        server_start(d % g_nsrv);
    }
    int o = child_wait(p, fd, &r, "sync");
    after_sync(d, &r, o, mode == 2 ? "sync (edit in flight)" : mode == 3 ? "sync (server killed)" : "sync");
}

static void adopt_anonymous(int d, int acc)
{
    for (int i = 0; i < H->nent; i++)
        if (H->ent[i].owner < 0 && H->ent[i].anon_dev == d)
            H->ent[i].owner = acc;
    for (int i = 0; i < H->nw; i++)
        if (H->w[i].acc < 0 && H->w[i].dev == d)
            H->w[i].acc = acc;
}

static int op_login(int d, int acc)
{
    if (H->dev[d].acc >= 0)
        return -1;
    cres_t r;
    int o = run_op(d, OP_LOGIN, acc, &r);
    if (o != 0) {
        hlog("d%d: login as %s -> %s", d, acc_label(acc), o > 0 ? "killed" : "hung");
        return -1;
    }
    if (r.rc) {
        hlog("d%d: login as %s -> %s: %s", d, acc_label(acc), etude_sync_strerror(r.rc), r.err);
        return r.rc;
    }
    if (!H->dev[d].ever)
        adopt_anonymous(d, acc);
    H->dev[d].ever = 1;
    H->dev[d].acc = acc;
    H->dev[d].last_acc = acc;
    H->dev[d].maybe_pending |= 1u << acc;
    r.rc = r.sync_rc;
    after_sync(d, &r, 0, "login + full sync");
    return 0;
}

static void op_logout(int d)
{
    if (H->dev[d].acc < 0)
        return;
    snapshot_conflicts(d);
    check_dead_letters(d, "before logout");
    cres_t r;
    int o = run_op(d, OP_LOGOUT, 0, &r);
    int acc = H->dev[d].acc;
    if (o == 0 && r.rc == 0 && r.pending == 0)
        H->dev[d].maybe_pending &= ~(1u << acc);
    hlog("d%d (%s): logout -> %s, %" PRId64 " pending%s%s", d, acc_label(acc),
         o ? "killed" : r.rc ? etude_sync_strerror(r.rc) : "ok", r.pending, r.rc ? ": " : "", r.rc ? r.err : "");
    H->dev[d].acc = -1;
    /* The logout's final sync may have met conflicts and dead letters of its own; a store with
     * account partitions still shows that account's. */
    snapshot_conflicts(d);
    if (view_acc(d) >= 0)
        check_dead_letters(d, "after logout");
}

static void op_faults(void)
{
    int n = 1 + rn(4);
    char b[200] = "";
    for (int i = 0; i < n; i++) {
        int k = rn(100);
        int kind = k < 18 ? MF_REFUSE : k < 32 ? MF_CUTREQ : k < 62 ? MF_DROP : k < 78 ? MF_DELAY : k < 96 ? MF_500 : MF_429;
        int arg = kind == MF_DELAY ? 20 + rn(80) : kind == MF_429 ? 1 : 0;
        /* With two proxies, each fault meets a request of the devices behind one of them. */
        model_proxy_push(g_proxy[g_nproxy > 1 ? rn(g_nproxy) : 0], kind, arg);
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, "%s%s", i ? "," : "", model_fault_name(kind));
    }
    hlog("proxy: the next requests meet %s", b);
}

static int64_t pick_skew(void)
{
    int k = rn(10);
    if (k < 3)
        return 0;
    if (k < 5)
        return (int64_t)rn(10001) - 5000;
    return ((int64_t)rn(12 * 3600 + 1) - 6 * 3600) * 1000 + rn(1000);
}

/* Two devices logged in to the same account (writable), or -1. */
static int pick_pair(int *d1, int *d2)
{
    int n = 0, pairs[MAXDEV * MAXDEV][2];
    for (int a = 0; a < H->ndev; a++)
        for (int b = 0; b < H->ndev; b++)
            if (a != b && H->dev[a].acc >= 0 && H->dev[a].acc == H->dev[b].acc && can_write(a) && can_write(b)) {
                pairs[n][0] = a;
                pairs[n][1] = b;
                n++;
            }
    if (!n)
        return -1;
    int k = rn(n);
    *d1 = pairs[k][0];
    *d2 = pairs[k][1];
    return 0;
}

/* Two devices of one account edit the same entity, then both sync. */
static void op_conflict(void)
{
    int d1, d2;
    if (pick_pair(&d1, &d2))
        return;
    char id[37], s2[65];
    if (pick_live(d1, 0, id))
        return;
    if (dev_get(d2, id, s2, NULL, 0) != 0 || !s2[0]) {
        op_sync(d2, 0);
        if (dev_get(d2, id, s2, NULL, 0) != 0 || !s2[0])
            return;
    }
    hlog("concurrent edits of %s on d%d and d%d", short_id(id), d1, d2);
    op_write_existing(d1, id, chance(85) ? W_UPDATE : W_DELETE);
    if (chance(60)) {
        hlog("pause %d ms", g_tol_ms + 20);
        sleep_ms(g_tol_ms + 20);
    }
    op_write_existing(d2, id, chance(85) ? W_UPDATE : W_DELETE);
    if (chance(50)) {
        op_sync(d1, 0);
        op_sync(d2, 0);
    } else {
        op_sync(d2, 0);
        op_sync(d1, 0);
    }
}

/* The server's version wins a conflict while a newer local edit is made during the upload. */
static void op_inflight_conflict(void)
{
    int d1, d2;
    if (pick_pair(&d1, &d2))
        return;
    char id[37], s2[65];
    if (pick_live(d1, 0, id))
        return;
    if (dev_get(d2, id, s2, NULL, 0) != 0 || !s2[0]) {
        op_sync(d2, 0);
        if (dev_get(d2, id, s2, NULL, 0) != 0 || !s2[0])
            return;
    }
    hlog("edit of %s on d%d, a later one on d%d (synced), then d%d syncs with an edit in flight", short_id(id), d1,
         d2, d1);
    op_write_existing(d1, id, W_UPDATE);
    sleep_ms(g_tol_ms + 20);
    op_write_existing(d2, id, W_UPDATE);
    op_sync(d2, 0);
    /* Far enough apart that the edit in flight is the latest write beyond doubt. */
    sleep_ms(g_tol_ms + 20);
    model_proxy_push(g_proxy[d1 % g_nproxy], MF_DELAY, 80 + rn(60));
    int fd, sfd;
    pid_t p = child_spawn(d1, OP_SYNC, 0, &fd, &sfd);
    char sb;
    ssize_t sr = read(sfd, &sb, 1);
    (void)sr;
    close(sfd);
    sleep_ms(20);
    H->inflight++;
    op_write_existing(d1, id, W_UPDATE);
    cres_t r;
    int o = child_wait(p, fd, &r, "sync");
    after_sync(d1, &r, o, "sync (edit in flight)");
}

/* A device told to log in again does so (what its user would do), so the data checks go on. */
static void fix_auth(void)
{
    for (int d = 0; d < H->ndev; d++) {
        mdev_t *v = &H->dev[d];
        if (!v->need_relogin || v->acc < 0)
            continue;
        int acc = v->acc;
        v->need_relogin = 0;
        v->acc = -1;
        hlog("d%d logs in again as %s", d, acc_label(acc));
        if (op_login(d, acc) != 0) {
            v->acc = acc; /* still holds the refused token; quiescence tries again */
            v->need_relogin = 1;
        }
    }
}

static void op_sync_or_server_kill(void)
{
    int d = rn(H->ndev);
    if (H->dev[d].acc >= 0 && chance(60)) {
        op_sync(d, 3);
    } else {
        server_kill(d % g_nsrv);
        H->server_kills++;
        hlog("server process %d killed -9; restarting it", d % g_nsrv);
        server_start(d % g_nsrv);
    }
}

static void one_step(void)
{
    fix_auth();
    int d = rn(H->ndev);
    mdev_t *v = &H->dev[d];
    int k = rn(100);
    if (k < 11) {
        if (can_write(d))
            op_create(d, T_NOTE);
    } else if (k < 17) {
        if (can_write(d))
            op_create(d, T_GOAL);
    } else if (k < 30) {
        if (can_write(d))
            op_edit(d, W_UPDATE, 0);
    } else if (k < 34) {
        if (can_write(d))
            op_edit(d, W_DELETE, 0);
    } else if (k < 48) {
        if (v->acc < 0) {
            int a = v->ever && chance(60) ? v->last_acc : rn(H->nacc);
            op_login(d, a);
        } else {
            op_sync(d, 0);
        }
    } else if (k < 53) {
        op_sync(d, 1);
    } else if (k < 57) {
        if (v->acc >= 0 && can_write(d)) {
            if (chance(50))
                op_edit(d, W_UPDATE, 0);
            op_sync(d, 2);
        }
    } else if (k < 66) {
        op_conflict();
    } else if (k < 70) {
        op_inflight_conflict();
    } else if (k < 74) {
        if (v->acc >= 0)
            op_logout(d);
        else
            op_login(d, v->ever && chance(50) ? v->last_acc : rn(H->nacc));
    } else if (k < 78) {
        /* account switch */
        if (v->acc >= 0) {
            int a = (v->acc + 1 + rn(H->nacc - 1)) % H->nacc;
            hlog("d%d: switch from %s to %s", d, acc_label(v->acc), acc_label(a));
            op_logout(d);
            op_login(d, a);
            if (v->acc == a && chance(70)) {
                if (chance(60))
                    op_edit(d, W_UPDATE, 0);
                else
                    op_create(d, T_NOTE);
            }
        }
    } else if (k < 86) {
        op_faults();
    } else if (k < 88) {
        if (can_write(d))
            op_create(d, T_NOTE);
    } else if (k < 92) {
        hlog("pause %d ms", g_tol_ms + 20);
        sleep_ms(g_tol_ms + 20);
    } else if (k < 94) {
        /* A logged-in device's clock jumps (say NTP sets it right), then it syncs. */
        if (v->acc >= 0) {
            v->skew_ms = pick_skew();
            v->clock_unsure = 1;
            hlog("d%d: clock jumps to offset %+.1f s", d, (double)v->skew_ms / 1000.0);
            op_sync(d, 0);
        }
    } else {
        if (can_write(d))
            op_create(d, chance(60) ? T_NOTE : T_GOAL);
    }
}

/* ---- quiescence and the checker ----------------------------------------------------------- */

static int sync_clean(int d, int tries)
{
    for (int i = 0; i < tries; i++) {
        fix_auth();
        cres_t r;
        int o = run_op(d, OP_SYNC, 0, &r);
        after_sync(d, &r, o, "quiescence sync");
        if (o == 0 && r.rc == 0 && r.st.pending == 0)
            return 0;
    }
    return -1;
}

static void visit(int d, int acc)
{
    mdev_t *v = &H->dev[d];
    if (v->acc != acc) {
        if (v->acc >= 0)
            op_logout(d);
        int rc = -1;
        for (int i = 0; i < 3 && rc; i++)
            rc = op_login(d, acc);
        if (rc) {
            viol(V_LOGIN, "d%d cannot log in as %s at quiescence", d, acc_label(acc));
            return;
        }
    }
    if (sync_clean(d, 4))
        viol(V_PENDING, "d%d (%s) still has changes queued after 4 syncs without faults", d, acc_label(acc));
    snapshot_conflicts(d);
    check_dead_letters(d, "at quiescence");
}

static void quiesce(void)
{
    H->step++;
    hlog("quiescence: faults off");
    for (int k = 0; k < g_nproxy; k++)
        model_proxy_clear(g_proxy[k]);
    for (int d = 0; d < H->ndev; d++) {
        mdev_t *v = &H->dev[d];
        int final = v->acc >= 0 ? v->acc : v->ever ? v->last_acc : rn(H->nacc);
        for (int a = 0; a < H->nacc; a++)
            if (a != final && (v->maybe_pending & (1u << a)))
                visit(d, a);
        visit(d, final);
    }
    int quiet = 0;
    for (int round = 0; round < 5 && !quiet; round++) {
        quiet = 1;
        fix_auth();
        for (int d = 0; d < H->ndev; d++) {
            if (H->dev[d].acc < 0)
                continue;
            cres_t r;
            int o = run_op(d, OP_SYNC, 0, &r);
            after_sync(d, &r, o, "quiescence round");
            if (o || r.rc || r.st.uploaded || r.st.downloaded || r.st.pending || r.st.conflicts || r.st.duplicates)
                quiet = 0;
        }
    }
    if (!quiet)
        viol(V_QUIESCE, "5 rounds of syncs without faults still changed something");
    for (int d = 0; d < H->ndev; d++) {
        snapshot_conflicts(d);
        check_dead_letters(d, "at quiescence");
    }
}

typedef struct {
    int acc;
    char id[37];
    int deleted;
    char sum[65];
    char type[16];
} srow_t;

static srow_t *g_srv;
static int g_nsrv_rows;

/* The query the checker reads the server's rows with (both backends). */
static const char *server_rows_sql =
    "SELECT u.name, e.id, CASE WHEN e.deleted_at IS NOT NULL THEN 1 ELSE 0 END, e.checksum, e.entity_type"
    " FROM entities e JOIN users u ON u.id = e.user_id WHERE u.name LIKE ?";

static void server_row_add(int *cap, const char *name, const char *id, int deleted, const char *sum, const char *type)
{
    if (g_nsrv_rows == *cap) {
        *cap = *cap ? *cap * 2 : 128;
        g_srv = realloc(g_srv, sizeof *g_srv * (size_t)*cap);
        if (!g_srv)
            die("out of memory");
    }
    srow_t *r = &g_srv[g_nsrv_rows++];
    r->acc = -1;
    for (int a = 0; a < H->nacc; a++)
        if (!strcmp(name, H->acc_name[a]))
            r->acc = a;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->deleted = deleted;
    snprintf(r->sum, sizeof r->sum, "%s", deleted ? "" : sum);
    snprintf(r->type, sizeof r->type, "%s", type);
}

static void server_rows(void)
{
    free(g_srv);
    g_srv = NULL;
    g_nsrv_rows = 0;
    int cap = 0;
    char like[48];
    snprintf(like, sizeof like, "m%" PRIu64 "u%%", H->seed);
    if (g_pg) {
        const char *args[] = {like};
        PGresult *r = pg_run(server_rows_sql, 1, args);
        for (int i = 0; i < PQntuples(r); i++)
            server_row_add(&cap, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), atoi(PQgetvalue(r, i, 2)),
                           PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
        PQclear(r);
        return;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(g_srv_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("%s: %s", g_srv_db, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, server_rows_sql, -1, &s, NULL) != SQLITE_OK)
        die("%s: reading entities: %s", g_srv_db, sqlite3_errmsg(db));
    sqlite3_bind_text(s, 1, like, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW)
        server_row_add(&cap, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                       sqlite3_column_int(s, 2), (const char *)sqlite3_column_text(s, 3),
                       (const char *)sqlite3_column_text(s, 4));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static srow_t *server_row(int acc, const char *id)
{
    for (int i = 0; i < g_nsrv_rows; i++)
        if (g_srv[i].acc == acc && !strcmp(g_srv[i].id, id))
            return &g_srv[i];
    return NULL;
}

static int is_ancestor(int a, int w)
{
    for (int p = H->w[w].parent, guard = 0; p >= 0 && guard < MAXW; p = H->w[p].parent, guard++)
        if (p == a)
            return 1;
    return 0;
}

static int listed(int acc, int ent, const char *sum)
{
    for (int i = 0; i < H->nconf; i++)
        if (H->conf[i].acc == acc && H->conf[i].ent == ent && !strcmp(H->conf[i].sum, sum))
            return 1;
    return 0;
}

static const char *wdesc(int w)
{
    static char b[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(b[k], sizeof b[k], "w%d (%s on d%d at step %d%s%s)", w, wkind_name[H->w[w].kind], H->w[w].dev,
             H->w[w].step, H->w[w].kind == W_DELETE ? "" : ": ",
             H->w[w].kind == W_DELETE ? "" : H->w[w].data);
    return b[k];
}

/* Every acknowledged write of entity e is present or superseded, and a loser is listed. */
static void check_writes(int e)
{
    ment_t *m = &H->ent[e];
    srow_t *s = server_row(m->owner, m->id);
    int ws[MAXW], n = 0, ndel = 0;
    for (int i = 0; i < H->nw; i++)
        if (H->w[i].ent == e) {
            ws[n++] = i;
            ndel += H->w[i].kind == W_DELETE;
        }
    if (!s) {
        /* Gone: merged into another entity of equal content, or simply lost. */
        int twin = 0;
        for (int i = 0; i < g_nsrv_rows; i++)
            if (g_srv[i].acc == m->owner && !g_srv[i].deleted && strcmp(g_srv[i].id, m->id))
                for (int k = 0; k < n; k++)
                    if (H->w[ws[k]].sum[0] && !strcmp(g_srv[i].sum, H->w[ws[k]].sum))
                        twin = 1;
        viol(twin ? V_MERGED : V_LOST, "%s %s of %s is not on the server%s; its last write %s%s", type_name[m->type],
             short_id(m->id), acc_label(m->owner), twin ? " while another entity with equal content is" : "",
             wdesc(ws[n - 1]), m->dead_lettered ? " (dead-lettered)" : "");
        return;
    }
    int final = -1;
    if (s->deleted) {
        if (!ndel) {
            /* A tombstone nobody wrote: taken for a duplicate of another entity of equal content? */
            int twin = 0;
            for (int i = 0; i < g_nsrv_rows; i++)
                if (g_srv[i].acc == m->owner && !g_srv[i].deleted && strcmp(g_srv[i].id, m->id))
                    for (int k = 0; k < n; k++)
                        if (!strcmp(g_srv[i].sum, H->w[ws[k]].sum))
                            twin = 1;
            viol(twin ? V_MERGED : V_LOST, "%s %s of %s is a tombstone on the server, but no device deleted it%s;"
                 " last write %s", type_name[m->type], short_id(m->id), acc_label(m->owner),
                 twin ? " (another entity holds equal content)" : "", wdesc(ws[n - 1]));
            return;
        }
        /* Deletion wins over edits: every edit that is no ancestor of a deletion lost to it. */
        for (int k = 0; k < n; k++) {
            int w = ws[k];
            if (H->w[w].kind == W_DELETE)
                continue;
            int anc = 0, later = 0;
            for (int j = 0; j < n; j++)
                if (H->w[ws[j]].kind == W_DELETE && is_ancestor(w, ws[j]))
                    anc = 1;
            for (int j = 0; j < n && !anc; j++)
                if (is_ancestor(w, ws[j]))
                    later = 1; /* superseded by its own lineage first */
            if (!anc && !later && !listed(m->owner, e, H->w[w].sum))
                viol(V_UNLISTED, "%s %s: %s lost to a deletion and is not listed as a conflict%s",
                     type_name[m->type], short_id(m->id), wdesc(w), m->dead_lettered ? " (dead-lettered)" : "");
        }
        return;
    }
    if (ndel) {
        for (int k = 0; k < n; k++)
            if (H->w[ws[k]].kind == W_DELETE) {
                viol(V_REVIVED, "%s %s: deleted by %s, live on the server (checksum %.8s)", type_name[m->type],
                     short_id(m->id), wdesc(ws[k]), s->sum);
                break;
            }
        return;
    }
    for (int k = 0; k < n; k++)
        if (!strcmp(H->w[ws[k]].sum, s->sum))
            final = ws[k];
    if (final < 0) {
        viol(V_FOREIGN, "%s %s: the server holds content (checksum %.8s) that no write produced",
             type_name[m->type], short_id(m->id), s->sum);
        return;
    }
    for (int k = 0; k < n; k++) {
        int w = ws[k];
        if (w == final || is_ancestor(w, final))
            continue;
        /* Only the head of a losing lineage is judged: its ancestors are superseded by it. */
        int head = 1;
        for (int j = 0; j < n; j++)
            if (ws[j] != final && is_ancestor(w, ws[j]) && !is_ancestor(ws[j], final))
                head = 0;
        if (!head)
            continue;
        /* It lost to the final lineage: some write there that it did not know must be later. */
        int later = 0;
        for (int j = 0; j < n; j++) {
            int v = ws[j];
            if ((v == final || is_ancestor(v, final)) && !is_ancestor(v, w) && H->w[v].t1 + g_tol_ms >= H->w[w].t0)
                later = 1;
        }
        int lst = listed(m->owner, e, H->w[w].sum);
        if (!later && !lst)
            viol(V_LOST, "%s %s: %s vanished: the server holds %s, made %" PRId64 " ms earlier, and no conflict"
                 " lists it%s", type_name[m->type], short_id(m->id), wdesc(w), wdesc(final), H->w[w].t0 - H->w[final].t1,
                 m->dead_lettered ? " (dead-lettered)" : "");
        else if (!later)
            viol(V_CLOCK, "%s %s: %s lost to writes all earlier in real time (the server holds %s, %" PRId64
                 " ms earlier)%s", type_name[m->type], short_id(m->id), wdesc(w), wdesc(final),
                 H->w[w].t0 - H->w[final].t1, m->dead_lettered ? " (dead-lettered)" : "");
        else if (!lst)
            viol(V_UNLISTED, "%s %s: %s lost to %s and is not listed as a conflict%s", type_name[m->type],
                 short_id(m->id), wdesc(w), wdesc(final), m->dead_lettered ? " (dead-lettered)" : "");
    }
}

/* ---- the checker's own test: spoil the server's state after quiescence ------------------- */

static int g_tamper = -1;     /* the violation class this history's tampering must produce, or -1 */
static unsigned g_tamper_set; /* the classes to tamper with, one per history in turn */
static long g_tamper_caught[V_NCLASSES];

static int sql_exec(const char *sql, int nargs, const char *a1, const char *a2)
{
    if (g_pg) {
        /* As on SQLite, a change the schema refuses (a unique key) is -1: the next row is tried. */
        char q[1024];
        pg_params(sql, q, sizeof q);
        const char *args[] = {a1, a2};
        PGresult *r = PQexecParams(g_pg, q, nargs, NULL, args, NULL, NULL, 0);
        int n = PQresultStatus(r) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(r)) : -1;
        PQclear(r);
        return n;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(g_srv_db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die("%s: %s", g_srv_db, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("tamper: %s: %s", sql, sqlite3_errmsg(db));
    if (nargs > 0)
        sqlite3_bind_text(st, 1, a1, -1, SQLITE_TRANSIENT);
    if (nargs > 1)
        sqlite3_bind_text(st, 2, a2, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    int n = sqlite3_changes(db);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? n : -1;
}

/* What a broken sync would leave behind, written straight into the server's database: the
 * checker must report it with the expected class. Returns 0 when something was spoilt. */
static int tamper(void)
{
    server_rows();
    char like[48];
    snprintf(like, sizeof like, "m%" PRIu64 "u%%", H->seed);
    for (int i = 0; i < g_nsrv_rows; i++) {
        srow_t *r = &g_srv[i];
        int e = ent_find(r->id), n = 0, deleted_by_model = 0;
        if (e < 0 || H->ent[e].leaked || H->ent[e].owner != r->acc)
            continue; /* already reported otherwise */
        for (int k = 0; k < H->nw; k++)
            deleted_by_model |= H->w[k].ent == e && H->w[k].kind == W_DELETE;
        if (g_tamper == V_REVIVED && r->deleted && deleted_by_model) {
            n = sql_exec("UPDATE entities SET deleted_at = NULL WHERE id = ?", 1, r->id, NULL);
        } else if (g_tamper == V_LOST && !r->deleted) {
            n = sql_exec("DELETE FROM entities WHERE id = ?", 1, r->id, NULL);
        } else if (g_tamper == V_LEAK && H->nacc > 1) {
            char other[40];
            snprintf(other, sizeof other, "%s", H->acc_name[(r->acc + 1) % H->nacc]);
            n = sql_exec("UPDATE entities SET user_id = (SELECT id FROM users WHERE name = ?) WHERE id = ?", 2, other,
                         r->id);
        } else if (g_tamper == V_FOREIGN && !r->deleted) {
            n = sql_exec("UPDATE entities SET checksum = '0000000000000000000000000000000000000000000000000000000000000000'"
                         " WHERE id = ?", 1, r->id, NULL);
        }
        if (n > 0) {
            hlog("tampering (%s): server row %s of %s spoilt", vclass_name[g_tamper], short_id(r->id),
                 acc_label(r->acc));
            return 0;
        }
    }
    return -1;
}

static void check(void)
{
    server_rows();
    /* Nothing crosses accounts on the server; nothing appears from nowhere. */
    for (int i = 0; i < g_nsrv_rows; i++) {
        int e = ent_find(g_srv[i].id);
        if (e < 0)
            viol(V_FOREIGN, "the server holds %s %s under %s, which no device created", g_srv[i].type,
                 short_id(g_srv[i].id), acc_label(g_srv[i].acc));
        else if (H->ent[e].owner != g_srv[i].acc) {
            viol(V_LEAK, "the server holds %s %s of %s under %s", type_name[H->ent[e].type], short_id(g_srv[i].id),
                 acc_label(H->ent[e].owner), acc_label(g_srv[i].acc));
            H->ent[e].leaked = 1;
        }
    }
    for (int e = 0; e < H->nent; e++)
        if (H->ent[e].owner >= 0 && !H->ent[e].leaked)
            check_writes(e);
    /* Every device converges to its account's server state. */
    for (int d = 0; d < H->ndev; d++) {
        int acc = H->dev[d].acc;
        if (acc < 0)
            continue;
        rows_t rs;
        if (dev_list(d, &rs, "at quiescence"))
            continue;
        int bad = 0;
        for (int i = 0; i < rs.n && bad < 4; i++) {
            srow_t *s = server_row(acc, rs.r[i].id);
            int e = ent_find(rs.r[i].id);
            if (e >= 0 && H->ent[e].owner != acc)
                continue; /* reported as a leak */
            if (!s) {
                bad++;
                viol(V_CONVERGE, "d%d (%s) lists %s %s, which the server does not hold for %s", d, acc_label(acc),
                     rs.r[i].deleted ? "the tombstone of" : "live", short_id(rs.r[i].id), acc_label(acc));
            } else if (s->deleted != rs.r[i].deleted || strcmp(s->sum, rs.r[i].sum)) {
                bad++;
                viol(V_CONVERGE, "d%d (%s) holds %s %s as %s, the server as %s", d, acc_label(acc), s->type,
                     short_id(s->id), rs.r[i].deleted ? "a tombstone" : rs.r[i].sum,
                     s->deleted ? "a tombstone" : s->sum);
            }
        }
        for (int i = 0; i < g_nsrv_rows && bad < 4; i++) {
            if (g_srv[i].acc != acc)
                continue;
            int found = 0;
            for (int j = 0; j < rs.n && !found; j++)
                found = !strcmp(rs.r[j].id, g_srv[i].id);
            if (!found) {
                bad++;
                viol(V_CONVERGE, "d%d (%s) does not hold %s %s of the server", d, acc_label(acc), g_srv[i].type,
                     short_id(g_srv[i].id));
            }
        }
        free(rs.r);
    }
}

/* ---- one history -------------------------------------------------------------------------- */

static void rm_rf(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[PATH_MAX + 300];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            struct stat sb;
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                rm_rf(p);
            else
                unlink(p);
        }
        closedir(dir);
    }
    rmdir(path);
}

static void hist_free(void)
{
    for (int i = 0; i < H->nlog; i++)
        free(H->log[i]);
    for (int i = 0; i < H->nv; i++)
        free(H->viol[i]);
    free(H->log);
    free(H->viol);
    free(H->conf);
    free(H);
    H = NULL;
}

static long g_totals[V_NCLASSES], g_kills_landed, g_kills_missed, g_server_kills, g_inflight, g_failed_hist;
static int g_print_all;

/* Runs one history; returns nonzero when a violation outside the known-failing classes was found. */
static int run_history(uint64_t seed, int keep)
{
    H = calloc(1, sizeof *H);
    if (!H)
        die("out of memory");
    H->seed = seed;
    H->t_start = real_ms();
    g_rng = seed * 0x2545f4914f6cdd1dULL + 1;
    H->ndev = 3 + rn(3);
    H->nacc = 2 + rn(2);
    for (int a = 0; a < H->nacc; a++) {
        snprintf(H->acc_name[a], sizeof H->acc_name[a], "m%" PRIu64 "u%d", seed, a);
        snprintf(H->acc_pw[a], sizeof H->acc_pw[a], "pw %" PRIu64 " %d", seed, a);
        account_add(H->acc_name[a], H->acc_pw[a]);
    }
    hlog("history %" PRIu64 ": %d devices, accounts %s, %s%s%s", seed, H->ndev, H->acc_name[0], H->acc_name[1],
         H->nacc > 2 ? ", " : "", H->nacc > 2 ? H->acc_name[2] : "");
    for (int d = 0; d < H->ndev; d++) {
        mdev_t *v = &H->dev[d];
        snprintf(v->home, sizeof v->home, "%s/h%" PRIu64 "/d%d", g_work, seed, d);
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/h%" PRIu64, g_work, seed);
        mkdir(p, 0700);
        mkdir(v->home, 0700);
        v->skew_ms = pick_skew();
        v->acc = -1;
        v->last_acc = -1;
        /* Small batches and pages make a sync many requests, so faults and kills land inside. */
        int batch = chance(50) ? 1 + rn(4) : 250, page = chance(50) ? 2 + rn(4) : 500;
        snprintf(p, sizeof p, "%s/sync.json", v->home);
        FILE *f = fopen(p, "w");
        if (!f)
            die("%s: %s", p, strerror(errno));
        fprintf(f,
                "{\"batchSize\": %d, \"pageSize\": %d, \"backoffBaseMs\": 5, \"maxBackoffMs\": 40,"
                " \"maxRetries\": 3, \"requestTimeoutSeconds\": 5}\n",
                batch, page);
        fclose(f);
        hlog("d%d: clock offset %+.1f s, batch %d, page %d", d, (double)v->skew_ms / 1000.0, batch, page);
    }
    /* Most devices log in at once; the others start anonymous (their data is adopted at login). */
    for (int d = 0; d < H->ndev; d++) {
        if (chance(70)) {
            H->step++;
            op_login(d, rn(H->nacc));
        }
    }
    /* About one history in six kills the server once (a restart costs etude-syncd's start-up). */
    H->server_kill_step = 0;
    int first = H->step + 1;
    for (H->step = first; H->step <= g_steps + H->ndev; H->step++) {
        if (H->step == first && chance(16))
            H->server_kill_step = first + rn(g_steps);
        if (H->step == H->server_kill_step)
            op_sync_or_server_kill();
        else
            one_step();
    }
    quiesce();
    int tampered = g_tamper >= 0 && tamper() == 0;
    check();
    int failing = 0, known = 0;
    if (g_tamper >= 0) {
        /* The checker's test: a spoilt history must be reported with the expected class. */
        /* A dropped row whose content another entity shares is reported as merged. */
        int found = H->nviol[g_tamper] + (g_tamper == V_LOST ? H->nviol[V_MERGED] : 0);
        int missed = tampered && !found;
        if (missed)
            viol(V_NCLASSES - 1, "the checker missed the tampering (%s)", vclass_name[g_tamper]);
        printf("tamper %s (seed %" PRIu64 "): %s\n", vclass_name[g_tamper], seed,
               !tampered ? "nothing to spoil" : missed ? "MISSED" : "caught");
        if (tampered && !missed)
            g_tamper_caught[g_tamper]++;
        for (int c = 0; c < V_NCLASSES; c++)
            g_totals[c] += H->nviol[c];
        if (missed) {
            g_failed_hist++;
            for (int i = 0; i < H->nlog; i++)
                printf("  %s\n", H->log[i]);
            for (int i = 0; i < H->nv; i++)
                printf("  VIOLATION %s\n", H->viol[i]);
        }
        hist_free();
        return missed;
    }
    for (int c = 0; c < V_NCLASSES; c++) {
        g_totals[c] += H->nviol[c];
        if (H->nviol[c] && !(g_known_failing & (1u << c)))
            failing = 1;
        if (H->nviol[c] && (g_known_failing & (1u << c)))
            known = 1;
    }
    g_kills_landed += H->kills_landed;
    g_kills_missed += H->kills_missed;
    g_server_kills += H->server_kills;
    g_inflight += H->inflight;
    if (failing || known || g_print_all) {
        printf("=== history seed %" PRIu64 ": %s", seed, failing ? "FAILED" : known ? "known failures only" : "ok");
        for (int c = 0; c < V_NCLASSES; c++)
            if (H->nviol[c])
                printf(" %s=%d", vclass_name[c], H->nviol[c]);
        printf("\n");
        if (failing || g_print_all || g_verbose) {
            printf("replay: ETUDE_MODEL_SEED=%" PRIu64 " sync_model ETUDE_SYNCD_PATH\n", seed);
            for (int i = 0; i < H->nlog; i++)
                printf("  %s\n", H->log[i]);
        }
        for (int i = 0; i < H->nv; i++)
            printf("  VIOLATION %s\n", H->viol[i]);
        fflush(stdout);
    }
    if (failing)
        g_failed_hist++;
    if (!keep) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/h%" PRIu64, g_work, seed);
        rm_rf(p);
    }
    hist_free();
    return failing;
}

/* ---- start-up ----------------------------------------------------------------------------- */

/* The clock offset must reach the store's timestamps: a +3 h offset, one write, its updatedAt. */
static void calibrate_skew(void)
{
    char path[PATH_MAX + 32];
    const int64_t off = 3 * 3600 * 1000;
    snprintf(path, sizeof path, "%s/calibrate.db", g_work);
    set_skew(off);
    etude_store_t *st = NULL;
    if (etude_store_open(path, &st))
        die("calibration store %s: %s", path, st ? etude_store_errmsg(st) : "");
    char id[37];
    int64_t before = real_ms();
    if (etude_store_create(st, "logbookEntry", NULL, "{\"text\":\"calibration\"}", id))
        die("calibration write: %s", etude_store_errmsg(st));
    etude_entity_t e;
    memset(&e, 0, sizeof e);
    etude_store_get(st, id, &e);
    int64_t us = 0;
    etude_time_parse(e.updated_at, &us);
    etude_entity_clear(&e);
    etude_store_close(st);
    set_skew(0);
    int64_t got = us / 1000 - before;
    if (got < off - 60000 || got > off + 60000)
        die("calibration: ETUDE_TEST_CLOCK_SKEW_MS=%" PRId64 " moved the store's timestamps by %" PRId64
            " ms; the clock offsets of devices cannot be simulated", off, got);
}

static unsigned parse_classes(const char *s)
{
    unsigned m = 0;
    if (!s)
        return 0;
    char b[512];
    snprintf(b, sizeof b, "%s", s);
    for (char *save = NULL, *t = strtok_r(b, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int c = 0; c < V_NCLASSES; c++)
            if (!strcmp(t, vclass_name[c])) {
                m |= 1u << c;
                found = 1;
            }
        if (!found)
            die("ETUDE_MODEL_KNOWN_FAILING: unknown class '%s'", t);
    }
    return m;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sync_model ETUDE_SYNCD_PATH\n");
        return 2;
    }
    g_syncd = argv[1];
    if (access(g_syncd, X_OK) != 0)
        die("%s: %s", g_syncd, strerror(errno));
    const char *e;
    int histories = (e = getenv("ETUDE_MODEL_HISTORIES")) ? atoi(e) : 30;
    uint64_t base = (e = getenv("ETUDE_MODEL_BASE_SEED")) ? strtoull(e, NULL, 10) : 1;
    int replay = (e = getenv("ETUDE_MODEL_SEED")) != NULL && *e;
    if (replay) {
        base = strtoull(e, NULL, 10);
        histories = 1;
        g_print_all = 1;
    }
    if ((e = getenv("ETUDE_MODEL_STEPS")))
        g_steps = atoi(e);
    if ((e = getenv("ETUDE_MODEL_TOL_MS")))
        g_tol_ms = atoi(e);
    g_verbose = (e = getenv("ETUDE_MODEL_VERBOSE")) ? atoi(e) : 0;
    double seconds = (e = getenv("ETUDE_MODEL_SECONDS")) ? atof(e) : 0;
    g_known_failing = parse_classes(getenv("ETUDE_MODEL_KNOWN_FAILING"));
    if ((e = getenv("ETUDE_MODEL_TAMPER")) && *e) {
        g_tamper_set = parse_classes(e);
        if (g_tamper_set & ~((1u << V_REVIVED) | (1u << V_LOST) | (1u << V_LEAK) | (1u << V_FOREIGN)))
            die("ETUDE_MODEL_TAMPER: classes among revived, lost, leak, foreign");
    }
    int keep = (e = getenv("KEEP_TMP")) && !strcmp(e, "1");
    if ((e = getenv("ETUDE_MODEL_TOPOLOGY")) && *e) {
        if (!strcmp(e, "two"))
            g_topo = TOPO_TWO;
        else if (!strcmp(e, "haproxy"))
            g_topo = TOPO_HAPROXY;
        else if (strcmp(e, "sqlite"))
            die("ETUDE_MODEL_TOPOLOGY: unknown topology '%s' (sqlite, two, haproxy)", e);
    }
    if (histories < 1 || g_steps < 1)
        die("ETUDE_MODEL_HISTORIES and ETUDE_MODEL_STEPS must be positive");
    if (sodium_init() < 0)
        die("sodium_init failed");
#ifdef MODEL_CONFLICTS_ALL
    g_conflicts_api = 1;
#endif
    signal(SIGPIPE, SIG_IGN);
    /* tmpfs when nothing else is asked for: SQLite's fsyncs cost nothing there, and kill -9 (not
     * power loss) is what the test simulates. */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_work, sizeof g_work, "%s/etude-model-XXXXXX", tmp);
    if (!mkdtemp(g_work))
        die("mkdtemp: %s", strerror(errno));
    snprintf(g_srv_db, sizeof g_srv_db, "%s/syncd.db", g_work);
    for (int k = 0; k < 2; k++)
        snprintf(g_srv_ready[k], sizeof g_srv_ready[k], "%s/syncd%d.ready", g_work, k + 1);
    snprintf(g_srv_log, sizeof g_srv_log, "%s/syncd.log", g_work);
    calibrate_skew();
    printf("conflict listing: %s\n", g_conflicts_api ? "the library's listing of all conflicts (conflicts --all)"
                                                     : "the store's conflicts table (this library lists only open"
                                                       " conflicts)");
    if (g_known_failing) {
        printf("KNOWN FAILING (reported, not failing the run):");
        for (int c = 0; c < V_NCLASSES; c++)
            if (g_known_failing & (1u << c))
                printf(" %s", vclass_name[c]);
        printf("\n");
    }
    if (g_topo != TOPO_SQLITE) {
        pg_setup();
        g_nsrv = g_nproxy = 2;
    }
    for (int k = 0; k < g_nsrv; k++)
        server_start(k);
    if (g_topo == TOPO_HAPROXY)
        haproxy_start();
    for (int k = 0; k < g_nproxy; k++) {
        g_proxy[k] = model_proxy_start(g_topo == TOPO_HAPROXY ? g_haproxy_port : g_srv_port[k], &g_proxy_port[k],
                                       &g_proxy_pid[k]);
        if (!g_proxy[k])
            die("proxy: %s", strerror(errno));
        snprintf(g_url[k], sizeof g_url[k], "http://127.0.0.1:%d", g_proxy_port[k]);
    }
    if (g_topo == TOPO_SQLITE)
        printf("etude-syncd on 127.0.0.1:%d, proxy on 127.0.0.1:%d, work in %s\n", g_srv_port[0], g_proxy_port[0],
               g_work);
    else if (g_topo == TOPO_TWO)
        printf("two etude-syncd on 127.0.0.1:%d and :%d (PostgreSQL), devices 0, 2, 4 through the proxy on :%d, "
               "1, 3 through :%d, work in %s\n", g_srv_port[0], g_srv_port[1], g_proxy_port[0], g_proxy_port[1], g_work);
    else
        printf("two etude-syncd on 127.0.0.1:%d and :%d (PostgreSQL) behind haproxy on :%d (stats :%d), devices "
               "0, 2, 4 through the proxy on :%d, 1, 3 through :%d, work in %s\n", g_srv_port[0], g_srv_port[1],
               g_haproxy_port, g_haproxy_stats, g_proxy_port[0], g_proxy_port[1], g_work);
    fflush(stdout);
    int64_t t0 = mono_ms();
    int ran = 0;
    for (int i = 0; i < histories; i++) {
        if (seconds > 0 && (double)(mono_ms() - t0) / 1000.0 > seconds)
            break;
        if (g_tamper_set) {
            int k = 0, want = i % __builtin_popcount(g_tamper_set);
            for (int c = 0; c < V_NCLASSES; c++)
                if (g_tamper_set & (1u << c) && k++ == want)
                    g_tamper = c;
        }
        run_history(base + (uint64_t)i, keep);
        ran++;
        if (g_verbose && ran % 20 == 0) {
            printf("... %d histories, %ld failed, %.1f s\n", ran, g_failed_hist, (double)(mono_ms() - t0) / 1000.0);
            fflush(stdout);
        }
    }
    double el = (double)(mono_ms() - t0) / 1000.0;
    printf("%d histories (seeds %" PRIu64 "..%" PRIu64 ") in %.1f s: %.2f histories/s, %.0f ms each\n", ran, base,
           base + (uint64_t)ran - 1, el, ran / el, el * 1000.0 / ran);
    long reqs = 0, inj[MF_NKINDS] = {0};
    for (int p = 0; p < g_nproxy; p++) {
        reqs += atomic_load(&g_proxy[p]->requests);
        for (int k = 1; k < MF_NKINDS; k++)
            inj[k] += atomic_load(&g_proxy[p]->injected[k]);
    }
    printf("proxy: %ld requests; faults injected:", reqs);
    for (int k = 1; k < MF_NKINDS; k++)
        printf(" %s %ld", model_fault_name(k), inj[k]);
    printf("\nclient kills landed mid-sync %ld (missed %ld), server kills %ld, edits while an upload was in flight"
           " %ld\n",
           g_kills_landed, g_kills_missed, g_server_kills, g_inflight);
    printf("time: %.1f s in %ld network operations (%.1f ms each), %.1f s starting etude-syncd\n",
           (double)g_t_child / 1000.0, (long)g_n_child, g_n_child ? (double)g_t_child / (double)g_n_child : 0.0,
           (double)g_t_server / 1000.0);
    printf("violations:");
    int any = 0;
    for (int c = 0; c < V_NCLASSES; c++)
        if (g_totals[c]) {
            printf(" %s=%ld%s", vclass_name[c], g_totals[c], (g_known_failing & (1u << c)) ? " (known failing)" : "");
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    for (int c = 0; c < V_NCLASSES; c++)
        if ((g_tamper_set & (1u << c)) && !g_tamper_caught[c]) {
            printf("tampering with %s was never caught (nothing to spoil in these histories?)\n", vclass_name[c]);
            g_failed_hist++;
        }
    printf("%s: %ld of %d histories failed\n", g_failed_hist ? "FAIL" : "PASS", g_failed_hist, ran);
    for (int k = 0; k < g_nproxy; k++) {
        kill(g_proxy_pid[k], SIGKILL);
        waitpid(g_proxy_pid[k], NULL, 0);
    }
    if (g_haproxy_pid > 0) {
        kill(g_haproxy_pid, SIGKILL);
        waitpid(g_haproxy_pid, NULL, 0);
    }
    for (int k = 0; k < g_nsrv; k++)
        server_kill(k);
    if (g_pg)
        PQfinish(g_pg); /* the database goes with the harness's cluster */
    if (keep)
        fprintf(stderr, "kept %s\n", g_work);
    else
        rm_rf(g_work);
    return g_failed_hist ? 1 : 0;
}
