/* cmd_sync.c - `etude sync`: log in to etude-syncd, sync now, show status, conflicts and dead
 * letters, settle a conflict, log out with a final bounded sync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "etude_syncclient.h"

const char etude_cmd_sync_usage[] =
    "  sync login --server URL --user NAME [--password-stdin] [--cacert FILE] [--allow-insecure-http]\n"
    "  sync now [--timeout SECONDS] | status [--json] | conflicts [--all] [--json]\n"
    "  sync resolve ID --keep local|remote\n"
    "  sync logout [--timeout SECONDS]           final sync within the deadline, then log out\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "etude sync: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'etude sync --help')\n");
    return 2;
}

static int open_client(etude_syncclient_t **c)
{
    int rc = etude_syncclient_open(NULL, NULL, c);
    if (rc) {
        fprintf(stderr, "etude sync: %s\n", *c ? etude_syncclient_errmsg(*c) : etude_sync_strerror(rc));
        etude_syncclient_close(*c);
        *c = NULL;
        return 1;
    }
    return 0;
}

static int read_password(char *buf, size_t size)
{
    if (!fgets(buf, (int)size, stdin))
        return -1;
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    return 0;
}

static int cmd_login(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *cacert = NULL;
    int pw_stdin = 0;
    unsigned flags = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--password-stdin"))
            pw_stdin = 1;
        else if (!strcmp(a, "--allow-insecure-http"))
            flags |= ETUDE_SYNC_LOGIN_ALLOW_INSECURE_HTTP;
        else if (!strcmp(a, "--server") || !strcmp(a, "--user") || !strcmp(a, "--cacert")) {
            if (i + 1 >= argc)
                return usage_error("login: %s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--server"))
                server = v;
            else if (!strcmp(a, "--user"))
                user = v;
            else
                cacert = v;
        } else
            return usage_error("login: unknown option '%s' (expected --server, --user, --password-stdin, --cacert, "
                               "--allow-insecure-http)", a);
    }
    if (!server)
        return usage_error("login: --server URL is required%s", "");
    if (!user)
        return usage_error("login: --user NAME is required%s", "");
    char pw[4200] = "";
    if (pw_stdin || !isatty(0)) {
        if (read_password(pw, sizeof pw)) {
            fprintf(stderr, "etude sync login: --password-stdin: no password on standard input\n");
            return 2;
        }
    } else {
        char *p = getpass("password: ");
        if (!p) {
            fprintf(stderr, "etude sync login: cannot read the password from the terminal\n");
            return 2;
        }
        snprintf(pw, sizeof pw, "%s", p);
    }
    etude_syncclient_t *c;
    if (open_client(&c))
        return 1;
    int rc = etude_syncclient_login_opts(c, server, user, pw, cacert, flags);
    memset(pw, 0, sizeof pw);
    if (rc) {
        fprintf(stderr, "etude sync login: %s\n", etude_syncclient_errmsg(c));
        etude_syncclient_close(c);
        return rc == ETUDE_SYNC_EINVAL ? 2 : 1;
    }
    printf("logged in to %s as %s\n", server, user);
    /* The full sync at login: the anonymous local data is adopted and uploaded. */
    etude_sync_stats_t st;
    rc = etude_syncclient_sync(c, 1, 0, &st);
    if (rc)
        fprintf(stderr, "etude sync login: logged in, but the first sync failed: %s\n", etude_syncclient_errmsg(c));
    else
        printf("synced: %d uploaded, %d downloaded, %d conflict(s), %d duplicate(s), %lld pending\n", st.uploaded,
               st.downloaded, st.conflicts, st.duplicates, (long long)st.pending);
    etude_syncclient_close(c);
    return rc ? 1 : 0;
}

static int cmd_now(int argc, char **argv)
{
    double timeout = 60;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--timeout")) {
            if (i + 1 >= argc)
                return usage_error("now: --timeout needs SECONDS%s", "");
            char *end;
            errno = 0;
            timeout = strtod(argv[++i], &end);
            if (errno || *end || end == argv[i] || !(timeout > 0) || timeout > 86400)
                return usage_error("now: --timeout '%s': expected seconds from 0 (exclusive) to 86400", argv[i]);
        } else {
            return usage_error("now: unknown option '%s' (expected --timeout SECONDS)", argv[i]);
        }
    }
    etude_syncclient_t *c;
    if (open_client(&c))
        return 1;
    etude_sync_stats_t st;
    /* Bounded: a stalled server or a long Retry-After never holds the command past the timeout. */
    int rc = etude_syncclient_sync(c, 0, etude_sync_now_us() + (int64_t)(timeout * 1e6), &st);
    if (rc)
        fprintf(stderr, "etude sync now: %s (%lld change(s) still queued)\n", etude_syncclient_errmsg(c),
                (long long)st.pending);
    else
        printf("synced: %d uploaded, %d downloaded, %d conflict(s), %d duplicate(s), %d dead letter(s), "
               "%lld pending\n",
               st.uploaded, st.downloaded, st.conflicts, st.duplicates, st.dead_letters, (long long)st.pending);
    etude_syncclient_close(c);
    return rc ? 1 : 0;
}

static int cmd_status(int argc, char **argv)
{
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return usage_error("status: unknown option '%s' (expected --json)", argv[i]);
    }
    etude_syncclient_t *c;
    if (open_client(&c))
        return 1;
    char *t = etude_syncclient_status_json(c);
    etude_syncclient_close(c);
    if (!t) {
        fprintf(stderr, "etude sync status: out of memory\n");
        return 1;
    }
    if (json) {
        printf("%s\n", t);
        free(t);
        return 0;
    }
    cJSON *o = cJSON_Parse(t);
    free(t);
#define S(k) (cJSON_IsString(cJSON_GetObjectItem(o, k)) ? cJSON_GetObjectItem(o, k)->valuestring : "-")
#define N(k) (cJSON_GetObjectItem(o, k) ? cJSON_GetObjectItem(o, k)->valuedouble : 0)
    printf("state:        %s\n", S("state"));
    printf("server:       %s\n", S("server"));
    printf("user:         %s\n", S("user"));
    printf("last sync:    %s\n", S("lastSyncAt"));
    printf("last error:   %s\n", S("lastError"));
    printf("pending:      %.0f\n", N("pending"));
    printf("conflicts:    %.0f\n", N("conflicts"));
    if (cJSON_IsString(cJSON_GetObjectItem(o, "retryAfter")))
        printf("retry after:  %s\n", S("retryAfter"));
    const cJSON *dl = cJSON_GetObjectItem(o, "deadLetters");
    printf("dead letters: %d\n", cJSON_GetArraySize(dl));
    const cJSON *d;
    cJSON_ArrayForEach(d, dl)
    {
        printf("  %s %s %s: %s\n", cJSON_GetObjectItem(d, "entityType")->valuestring,
               cJSON_GetObjectItem(d, "entityId")->valuestring, cJSON_GetObjectItem(d, "op")->valuestring,
               cJSON_GetObjectItem(d, "reason")->valuestring);
    }
#undef S
#undef N
    cJSON_Delete(o);
    return 0;
}

static int cmd_conflicts(int argc, char **argv)
{
    int json = 0, all = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--all"))
            all = 1;
        else
            return usage_error("conflicts: unknown option '%s' (expected --json, --all)", argv[i]);
    }
    etude_syncclient_t *c;
    if (open_client(&c))
        return 1;
    char *t = all ? etude_syncclient_conflicts_all_json(c) : etude_syncclient_conflicts_json(c);
    etude_syncclient_close(c);
    if (!t)
        return 1;
    if (json) {
        printf("%s\n", t);
        free(t);
        return 0;
    }
    cJSON *a = cJSON_Parse(t);
    free(t);
    if (cJSON_GetArraySize(a) == 0)
        printf(all ? "no conflicts\n" : "no open conflicts\n");
    const cJSON *x;
    cJSON_ArrayForEach(x, a)
    {
        const cJSON *l = cJSON_GetObjectItem(x, "local"), *r = cJSON_GetObjectItem(x, "remote");
        char *ld = cJSON_PrintUnformatted(cJSON_GetObjectItem(l, "data"));
        char *rd = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "data"));
        const cJSON *kept = cJSON_GetObjectItem(x, "kept");
        printf("%.0f %s %s local v%.0f %s  remote v%.0f %s", cJSON_GetObjectItem(x, "id")->valuedouble,
               cJSON_GetObjectItem(x, "entityType")->valuestring, cJSON_GetObjectItem(x, "entityId")->valuestring,
               cJSON_GetObjectItem(x, "localVersion")->valuedouble, ld ? ld : "null",
               cJSON_GetObjectItem(x, "remoteVersion")->valuedouble, rd ? rd : "null");
        if (all)
            printf("  %s", cJSON_IsString(kept) ? (!strcmp(kept->valuestring, "local") ? "kept local"
                                                   : !strcmp(kept->valuestring, "remote") ? "kept remote"
                                                                                          : "merged")
                                                 : "open");
        printf("\n");
        free(ld);
        free(rd);
    }
    cJSON_Delete(a);
    return 0;
}

static int cmd_resolve(int argc, char **argv)
{
    const char *id = NULL, *keep = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) {
            if (i + 1 >= argc)
                return usage_error("resolve: --keep needs 'local' or 'remote'%s", "");
            keep = argv[++i];
        } else if (!id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            return usage_error("resolve: unexpected argument '%s'", argv[i]);
        }
    }
    if (!id)
        return usage_error("resolve: missing the conflict ID (see 'etude sync conflicts')%s", "");
    if (!keep || (strcmp(keep, "local") && strcmp(keep, "remote")))
        return usage_error("resolve: --keep must be 'local' or 'remote', not '%s'", keep ? keep : "");
    etude_syncclient_t *c;
    if (open_client(&c))
        return 1;
    int rc = etude_syncclient_resolve(c, id, !strcmp(keep, "local"));
    if (rc)
        fprintf(stderr, "etude sync resolve: %s\n", etude_syncclient_errmsg(c));
    else
        printf("resolved %s: kept the %s version%s\n", id, keep,
               strcmp(keep, "local") ? "" : " (queued for upload)");
    etude_syncclient_close(c);
    return rc ? 1 : 0;
}

static int cmd_logout(int argc, char **argv)
{
    double timeout = 30;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--timeout")) {
            if (i + 1 >= argc)
                return usage_error("logout: --timeout needs SECONDS%s", "");
            char *end;
            errno = 0;
            timeout = strtod(argv[++i], &end);
            if (errno || *end || end == argv[i] || timeout < 0 || timeout > 86400)
                return usage_error("logout: --timeout '%s': expected seconds from 0 to 86400", argv[i]);
        } else {
            return usage_error("logout: unknown option '%s' (expected --timeout SECONDS)", argv[i]);
        }
    }
    etude_syncclient_t *c;
    if (open_client(&c))
        return 1;
    if (!etude_syncclient_logged_in(c)) {
        fprintf(stderr, "etude sync logout: not logged in\n");
        etude_syncclient_close(c);
        return 1;
    }
    int64_t pending = 0;
    int64_t deadline = etude_sync_now_us() + (int64_t)(timeout * 1e6);
    int rc = etude_syncclient_logout(c, deadline ? deadline : 1, &pending);
    if (pending > 0) {
        printf("logged out; %lld change(s) still pending, kept locally and queued for this account's next login",
               (long long)pending);
        if (rc)
            printf(" (final sync: %s)", etude_syncclient_errmsg(c));
        printf("\n");
        char *pj = etude_syncclient_pending_json(c);
        cJSON *pa = pj ? cJSON_Parse(pj) : NULL;
        free(pj);
        const cJSON *x;
        cJSON_ArrayForEach(x, pa)
        {
            printf("  pending: %s %s (%s, queued %s)\n", cJSON_GetObjectItem(x, "entityType")->valuestring,
                   cJSON_GetObjectItem(x, "entityId")->valuestring, cJSON_GetObjectItem(x, "op")->valuestring,
                   cJSON_GetObjectItem(x, "queuedAt")->valuestring);
        }
        cJSON_Delete(pa);
    } else if (rc == ETUDE_SYNC_ENOTLOGGEDIN || rc == ETUDE_SYNC_EIO) {
        fprintf(stderr, "etude sync logout: %s\n", etude_syncclient_errmsg(c));
        etude_syncclient_close(c);
        return 1;
    } else {
        printf("logged out; everything was synced, 0 changes pending\n");
    }
    etude_syncclient_close(c);
    return 0;
}

int etude_cmd_sync(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: etude%s", etude_cmd_sync_usage);
        printf("  settings: $ETUDE_HOME/sync.json (docs/sync.md); token: $ETUDE_HOME/sync-token.json (mode 0600)\n");
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "login"))
        return cmd_login(argc, argv);
    if (!strcmp(sub, "now"))
        return cmd_now(argc, argv);
    if (!strcmp(sub, "status"))
        return cmd_status(argc, argv);
    if (!strcmp(sub, "conflicts"))
        return cmd_conflicts(argc, argv);
    if (!strcmp(sub, "resolve"))
        return cmd_resolve(argc, argv);
    if (!strcmp(sub, "logout"))
        return cmd_logout(argc, argv);
    return usage_error("unknown subcommand '%s' (expected login, now, status, conflicts, resolve, logout)", sub);
}
