/* syncd_main.c - the etude-syncd command: serve the sync protocol, or manage users. */
#include "syncd.h"
#include "syncd_http.h"
#include "etude_buf.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

static const char usage[] =
    "usage: etude-syncd [--listen ADDR:PORT] [--db PATH|URI] [--token-ttl SECONDS] [--refresh-ttl SECONDS]\n"
    "                   [--tls-cert FILE --tls-key FILE] [--max-body BYTES] [--max-batch N]\n"
    "                   [--max-page N] [--max-entity-bytes BYTES] [--shutdown-timeout SECONDS]\n"
    "                   [--refresh-grace SECONDS] [--threads N] [--max-connections N]\n"
    "                   [--max-connections-per-ip N] [--idle-timeout SECONDS] [--header-timeout SECONDS]\n"
    "                   [--body-timeout SECONDS] [--max-streams-per-user N] [--login-failures-per-user N]\n"
    "                   [--login-failures-per-ip N] [--login-window SECONDS] [--session-ttl SECONDS]\n"
    "                   [--ready-file PATH] [--exit-with-parent]\n"
    "       etude-syncd user add NAME [--admin] [--password-stdin] [--db PATH|URI]\n"
    "       etude-syncd db new-epoch [--db PATH|URI]\n"
    "       etude-syncd db migrate [--db PATH|URI]\n"
    "       etude-syncd db copy --from PATH --to URI\n"
    "  --db is a SQLite file (default etude-syncd.db) or a PostgreSQL connection URI\n"
    "  (postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DBNAME[?PARAM=VALUE...], also postgres://).\n";

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "etude-syncd: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

/* Parses a positive integer flag value within [lo, hi]; returns -1 and reports on error. */
static int num_flag(const char *flag, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || *end || v[0] == '\0' || n < lo || n > hi) {
        fprintf(stderr, "etude-syncd: %s: expected an integer from %lld to %lld, got '%s'\n", flag, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = n;
    return 0;
}

static char *read_file(const char *flag, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "etude-syncd: %s: cannot read %s: %s\n", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    int rc = etude_read_stream(f, (size_t)1 << 20, &buf, NULL);
    if (rc == ETUDE_ELIMIT)
        fprintf(stderr, "etude-syncd: %s: %s is larger than 1 MiB\n", flag, path);
    else if (rc == ETUDE_EIO)
        fprintf(stderr, "etude-syncd: %s: cannot read %s: %s\n", flag, path, strerror(errno));
    else if (rc)
        fprintf(stderr, "etude-syncd: %s: %s\n", flag, etude_strerror(rc));
    fclose(f);
    return buf;
}

static int write_ready_file(const char *path, const char *address)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%s\n", address) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Whether the host part of ADDR:PORT is a loopback address (127.0.0.0/8 or ::1). */
static int loopback(const char *listen)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    if (n >= sizeof host)
        return 0;
    memcpy(host, listen, n);
    host[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return 0;
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

static int cmd_user(int argc, char **argv)
{
    etude_syncd_config_t cfg;
    etude_syncd_config_defaults(&cfg);
    if (argc < 3 || strcmp(argv[1], "add") != 0)
        return fail("user: expected 'user add NAME [--admin] [--password-stdin] [--db PATH]'%s%s", "", "");
    const char *name = argv[2];
    int from_stdin = 0, admin = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = 1;
        else if (strcmp(argv[i], "--admin") == 0)
            admin = 1;
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            cfg.db_path = argv[++i];
        else
            return fail("user add: unknown or incomplete flag '%s'%s", argv[i], "");
    }
    if (!valid_name(name))
        return fail("user add: NAME '%s' must be 1-64 characters of A-Z a-z 0-9 . _ - @%s", name, "");
    char pw[1100];
    struct termios old, quiet;
    int tty = !from_stdin && isatty(STDIN_FILENO);
    if (!from_stdin && !tty)
        return fail("user add: --password-stdin is required when stdin is not a terminal%s%s", "", "");
    if (tty) {
        fprintf(stderr, "password for %s: ", name);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *got = fgets(pw, sizeof pw, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return fail("user add: password: nothing on stdin%s%s", "", "");
    size_t n = strlen(pw);
    if (n && pw[n - 1] != '\n' && n >= sizeof pw - 1)
        return fail("user add: password: longer than 1024 bytes%s%s", "", "");
    while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        pw[--n] = '\0';
    if (n == 0)
        return fail("user add: password: empty%s%s", "", "");
    etude_syncd_store_t *st = NULL;
    char err[512];
    if (etude_syncd_store_open(&cfg, &st, err, sizeof err) != 0) {
        sodium_memzero(pw, sizeof pw);
        return fail("%s%s", err, "");
    }
    int rc = etude_syncd_store_user_add_admin(st, name, pw, admin);
    sodium_memzero(pw, sizeof pw);
    if (rc == 0)
        etude_syncd_store_audit(st, 0, admin ? "userAddAdmin" : "userAdd", name, "ok");
    etude_syncd_store_close(st);
    char shown[512];
    etude_syncd_db_display(cfg.db_path, shown, sizeof shown);
    if (rc == ETUDE_SYNCD_EEXIST)
        return fail("user add: NAME '%s' already exists in %s", name, shown);
    if (rc)
        return fail("user add: %s: %s", shown, etude_syncd_strerror(rc));
    fprintf(stderr, "etude-syncd: %s %s added to %s\n", admin ? "operator (admin)" : "user", name, shown);
    return 0;
}

/* Moving to PostgreSQL: a stopped SQLite server's database into an empty PostgreSQL database,
 * in one transaction, verified before it commits; one line per table on stdout. */
static int cmd_db_copy(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--from") == 0 ? &from : strcmp(argv[i], "--to") == 0 ? &to : NULL;
        if (!slot || i + 1 >= argc)
            return fail("db copy: unknown or incomplete flag '%s' (expected --from PATH --to URI)%s", argv[i], "");
        if (*slot)
            return fail("db copy: %s given twice%s", argv[i], "");
        *slot = argv[++i];
    }
    if (!from || !to)
        return fail("db copy: %s is required (db copy --from PATH --to postgresql://...)%s", from ? "--to URI" : "--from PATH",
                    "");
    etude_syncd_copy_result_t *res = malloc(sizeof *res);
    if (!res)
        return fail("db copy: out of memory%s%s", "", "");
    char err[768];
    int rc = etude_syncd_store_copy(from, to, res, err, sizeof err);
    if (rc) {
        free(res);
        return fail("db copy: %s%s", err, "");
    }
    int copied = 0;
    for (int i = 0; i < res->n; i++) {
        const etude_syncd_copy_table_t *t = &res->table[i];
        if (t->skipped) {
            printf("%s: skipped, transient (%s); %lld row(s) not copied\n", t->name, t->why, (long long)t->rows);
            continue;
        }
        copied++;
        printf("%s: %lld rows, checksum %s", t->name, (long long)t->rows, t->checksum);
        if (t->next_id)
            printf(", next id %lld", (long long)t->next_id);
        if (t->fixed)
            printf(", %lld detail(s) not UTF-8 stored with ? for their non-ASCII bytes", (long long)t->fixed);
        putchar('\n');
    }
    char shown[512];
    etude_syncd_db_display(to, shown, sizeof shown);
    printf("total: %d tables, %lld rows copied from %s to %s, counts and checksums verified; epoch %s kept\n", copied,
           (long long)res->rows, from, shown, res->epoch[0] ? res->epoch : "(none)");
    free(res);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* After restoring a backup: a new epoch makes every device's cursor invalid, so each reconciles
 * fully with what the restored database holds. */
static int cmd_db(int argc, char **argv)
{
    const char *db = "etude-syncd.db";
    if (argc >= 2 && strcmp(argv[1], "copy") == 0)
        return cmd_db_copy(argc, argv);
    int migrate = argc >= 2 && strcmp(argv[1], "migrate") == 0;
    if (argc < 2 || (!migrate && strcmp(argv[1], "new-epoch") != 0))
        return fail("db: expected 'db new-epoch [--db PATH|URI]', 'db migrate [--db PATH|URI]' or"
                    " 'db copy --from PATH --to URI'%s%s", "", "");
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else
            return fail("db %s: unknown or incomplete flag '%s'", argv[1], argv[i]);
    }
    char shown[512], err[512];
    etude_syncd_db_display(db, shown, sizeof shown);
    if (migrate) {
        /* The server migrates at open as well; this is for doing it ahead of a rolling start. */
        int from = 0, to = 0;
        int rc = etude_syncd_store_migrate(db, &from, &to, err, sizeof err);
        if (rc)
            return fail("db migrate: --db %s%s", err, "");
        if (from == to)
            fprintf(stderr, "etude-syncd: %s is at schema version %d already\n", shown, to);
        else
            fprintf(stderr, "etude-syncd: %s migrated from schema version %d to %d\n", shown, from, to);
        return 0;
    }
    char epoch[17];
    int rc = etude_syncd_store_new_epoch(db, epoch, err, sizeof err);
    if (rc)
        return fail("db new-epoch: --db %s%s", err, "");
    fprintf(stderr, "etude-syncd: %s has the new epoch %s; cursors issued before are now refused\n", shown, epoch);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "user") == 0)
        return cmd_user(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "db") == 0)
        return cmd_db(argc - 1, argv + 1);
    etude_syncd_config_t cfg;
    etude_syncd_config_defaults(&cfg);
    etude_syncd_http_config_t hc;
    etude_syncd_http_config_defaults(&hc);
    const char *cert_path = NULL, *key_path = NULL, *ready = NULL;
    long long shutdown_timeout = 30, v;
    int with_parent = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        int takes = 1;
        if (strcmp(f, "--exit-with-parent") == 0) {
            with_parent = 1;
            continue;
        }
        if (strcmp(f, "--listen") == 0 && val)
            hc.listen = val;
        else if (strcmp(f, "--db") == 0 && val)
            cfg.db_path = val;
        else if (strcmp(f, "--tls-cert") == 0 && val)
            cert_path = val;
        else if (strcmp(f, "--tls-key") == 0 && val)
            key_path = val;
        else if (strcmp(f, "--ready-file") == 0 && val)
            ready = val;
        else if (strcmp(f, "--token-ttl") == 0) {
            if (num_flag(f, val, 1, 365LL * 24 * 3600, &v))
                return 2;
            cfg.token_ttl = (long)v;
        } else if (strcmp(f, "--refresh-ttl") == 0) {
            if (num_flag(f, val, 1, 3650LL * 24 * 3600, &v))
                return 2;
            cfg.refresh_ttl = (long)v;
        } else if (strcmp(f, "--max-body") == 0) {
            if (num_flag(f, val, 1024, 1LL << 30, &v))
                return 2;
            cfg.max_body = (size_t)v;
        } else if (strcmp(f, "--max-batch") == 0) {
            if (num_flag(f, val, 1, 100000, &v))
                return 2;
            cfg.max_batch = (int)v;
        } else if (strcmp(f, "--max-page") == 0) {
            if (num_flag(f, val, 1, 100000, &v))
                return 2;
            cfg.max_page = (int)v;
            if (cfg.default_page > cfg.max_page)
                cfg.default_page = cfg.max_page;
        } else if (strcmp(f, "--max-entity-bytes") == 0) {
            if (num_flag(f, val, 64, 1LL << 26, &v))
                return 2;
            cfg.max_entity_bytes = (size_t)v;
        } else if (strcmp(f, "--threads") == 0) {
            if (num_flag(f, val, 1, 256, &v))
                return 2;
            hc.threads = (unsigned)v;
        } else if (strcmp(f, "--max-connections") == 0) {
            if (num_flag(f, val, 16, 1000000, &v))
                return 2;
            hc.max_connections = (unsigned)v;
        } else if (strcmp(f, "--max-connections-per-ip") == 0) {
            if (num_flag(f, val, 0, 1000000, &v))
                return 2;
            hc.max_per_ip = (unsigned)v;
        } else if (strcmp(f, "--idle-timeout") == 0) {
            if (num_flag(f, val, 1, 86400, &v))
                return 2;
            hc.idle_timeout = (unsigned)v;
        } else if (strcmp(f, "--header-timeout") == 0) {
            if (num_flag(f, val, 1, 86400, &v))
                return 2;
            hc.header_timeout = (unsigned)v;
        } else if (strcmp(f, "--body-timeout") == 0) {
            if (num_flag(f, val, 1, 86400, &v))
                return 2;
            hc.body_timeout = (unsigned)v;
        } else if (strcmp(f, "--max-streams-per-user") == 0) {
            if (num_flag(f, val, 0, 1000000, &v))
                return 2;
            hc.max_streams_per_user = (int)v;
        } else if (strcmp(f, "--login-failures-per-user") == 0) {
            if (num_flag(f, val, 0, 1000000, &v))
                return 2;
            cfg.login_fail_user = (int)v;
        } else if (strcmp(f, "--login-failures-per-ip") == 0) {
            if (num_flag(f, val, 0, 1000000, &v))
                return 2;
            cfg.login_fail_ip = (int)v;
        } else if (strcmp(f, "--login-window") == 0) {
            if (num_flag(f, val, 1, 86400, &v))
                return 2;
            cfg.login_window = (long)v;
        } else if (strcmp(f, "--session-ttl") == 0) {
            if (num_flag(f, val, 1, 365LL * 24 * 3600, &v))
                return 2;
            cfg.session_ttl = (long)v;
        } else if (strcmp(f, "--refresh-grace") == 0) {
            if (num_flag(f, val, 0, 600, &v))
                return 2;
            cfg.refresh_grace = (long)v;
        } else if (strcmp(f, "--shutdown-timeout") == 0) {
            if (num_flag(f, val, 0, 3600, &v))
                return 2;
            shutdown_timeout = v;
        } else {
            if (f[0] == '-' && !val && (strcmp(f, "--listen") == 0 || strcmp(f, "--db") == 0 ||
                                        strcmp(f, "--tls-cert") == 0 || strcmp(f, "--tls-key") == 0 ||
                                        strcmp(f, "--ready-file") == 0))
                return fail("%s: missing value%s", f, "");
            fprintf(stderr, "etude-syncd: unknown argument '%s' (see etude-syncd --help)\n", f);
            return 2;
        }
        i += takes;
    }
    if (!cert_path != !key_path)
        return fail("%s: needs %s as well", cert_path ? "--tls-cert" : "--tls-key",
                    cert_path ? "--tls-key" : "--tls-cert");
    if (cert_path) {
        hc.tls_cert = read_file("--tls-cert", cert_path);
        hc.tls_key = hc.tls_cert ? read_file("--tls-key", key_path) : NULL;
        if (!hc.tls_cert || !hc.tls_key) {
            free(hc.tls_cert);
            return 2;
        }
    }

    /* Signals are taken synchronously by the main thread; every server thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* For test harnesses: a parent that dies without cleaning up still stops the server. */
    pid_t parent = getppid();
    if (with_parent && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent))
        return fail("--exit-with-parent: the parent is already gone%s%s", "", "");

    /* Every connection is a descriptor: raise the soft limit as far as allowed, and keep the
     * connection limit below it (SQLite and the listening socket need a few). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)hc.max_connections + 64) {
            unsigned fit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
            fprintf(stderr, "etude-syncd: warning: --max-connections %u lowered to %u (open file limit %llu)\n",
                    hc.max_connections, fit, (unsigned long long)rl.rlim_cur);
            hc.max_connections = fit;
        }
    }

    char err[512];
    etude_syncd_store_t *st = NULL;
    if (etude_syncd_store_open(&cfg, &st, err, sizeof err) != 0) {
        free(hc.tls_cert);
        free(hc.tls_key);
        return fail("--db: %s%s", err, "");
    }
    etude_syncd_metrics_t *m = etude_syncd_metrics_create();
    etude_syncd_hub_t *hub = etude_syncd_hub_create();
    etude_syncd_t *core = m && hub ? etude_syncd_create(&cfg, st, m, hub) : NULL;
    etude_syncd_http_t *http = NULL;
    int rc = core ? etude_syncd_http_start(&hc, &cfg, core, st, m, hub, &http, err, sizeof err)
                  : ETUDE_SYNCD_ENOMEM;
    if (hc.tls_key)
        sodium_memzero(hc.tls_key, strlen(hc.tls_key));
    free(hc.tls_cert);
    free(hc.tls_key);
    if (rc != 0) {
        if (rc == ETUDE_SYNCD_ENOMEM)
            snprintf(err, sizeof err, "out of memory");
        etude_syncd_destroy(core);
        etude_syncd_hub_destroy(hub);
        etude_syncd_metrics_destroy(m);
        etude_syncd_store_close(st);
        return fail("%s%s", err, "");
    }
    char shown[512];
    etude_syncd_db_display(cfg.db_path, shown, sizeof shown);
    fprintf(stderr, "etude-syncd: listening on %s://%s (db %s)\n", cert_path ? "https" : "http",
            etude_syncd_http_address(http), shown);
    if (!cert_path && !loopback(hc.listen))
        fprintf(stderr, "etude-syncd: warning: serving plain HTTP on the non-loopback address %s: passwords and"
                        " tokens cross the network unencrypted (use --tls-cert/--tls-key, or a TLS proxy on"
                        " this host)\n", hc.listen);
    if (ready && write_ready_file(ready, etude_syncd_http_address(http)) != 0)
        fprintf(stderr, "etude-syncd: --ready-file: cannot write %s: %s\n", ready, strerror(errno));

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "etude-syncd: %s received, finishing in-flight requests\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    int left = etude_syncd_http_stop(http, (int)shutdown_timeout);
    etude_syncd_destroy(core);
    etude_syncd_hub_destroy(hub);
    etude_syncd_metrics_destroy(m);
    etude_syncd_store_close(st);
    if (left)
        fprintf(stderr, "etude-syncd: stopped with %d request(s) cut off after %llds\n", left, shutdown_timeout);
    else
        fprintf(stderr, "etude-syncd: stopped cleanly\n");
    return left ? 1 : 0;
}
