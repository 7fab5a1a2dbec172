/* bench_pg_scale.c - load generator of bench.pg_scale: many simulated users, each one device, log in
 * and then sync (uploadBatch of a few practiceSession entities, then syncChanges pulls from the
 * user's cursor until hasMore is false) against one or more etude-syncd processes over loopback
 * HTTP. Requests go round-robin over the given servers, as a load balancer would spread them.
 * Prints entities stored per second and the sync latency (upload + pulls) p50/p99, and counts every
 * HTTP or GraphQL error; exits 1 when anything failed, so a run cannot report failed requests as
 * throughput. Timing figures are printed only, never judged.
 *
 *   bench_pg_scale users FROM TO PASSWORD
 *       prints SQL (for sqlite3 and psql alike) inserting users uFROM..uTO, all with PASSWORD,
 *       hashed with argon2id at libsodium's minimum cost (see below).
 *   bench_pg_scale run LABEL OPS_DIR USERS SYNCS ENTITIES CONCURRENCY PASSWORD URL...
 *       users u1..uUSERS log in (setup, not timed), then each makes SYNCS syncs of ENTITIES
 *       entities; CONCURRENCY worker threads, each driving its own share of the users in rounds
 *       (every user syncs once per round; a user's syncs never overlap). Prints one summary line
 *       and a "RESULT LABEL ENTITIES_PER_S P99_MS ACCEPTED ERRORS" line for the script.
 *
 * Why the users' password hashes are cheap: etude-syncd hashes with argon2id at libsodium's
 * "interactive" cost (64 MiB, 2 passes; about 0.3 s a hash here) and has no option to lower it, so
 * `etude-syncd user add` for 1,000 users and their 1,000 logins would take minutes per
 * configuration. The login path still runs the server's own crypto_pwhash_str_verify(), which
 * takes its cost from the stored hash string. Logins are setup; only syncs are measured. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

#include "etude_canon.h"
#include "etude_time.h"
#include "etude_uuid.h"

#include "bench_http.h"

#define MAX_SERVERS 16

static const char *urls[MAX_SERVERS];
static int nurls;
static atomic_uint rr;                         /* the round-robin position */
static atomic_long per_server[MAX_SERVERS];    /* requests sent to each server */
static char *doc_upload, *doc_changes, *doc_login;
static const char *password;
static int n_users, n_syncs, n_entities, n_workers;
static pthread_barrier_t start_line;

typedef struct user {
    char name[16];
    char auth[160]; /* "Authorization: Bearer ..." or "" when the login failed */
    char *cursor;   /* syncChanges cursor, NULL before the first pull */
} user_t;

static user_t *users;

typedef struct worker {
    int id;
    CURL *c;
    char **bodies; /* prebuilt upload bodies of this worker's syncs, in the order they are sent */
    double *lat;   /* sync latencies (ms) */
    size_t nlat;
    long accepted;
    long http_errors;  /* transport failures and non-200 answers */
    long other_errors; /* GraphQL errors, entities not accepted, pulls not matching the upload */
    char first_error[300];
} worker_t;

static void note_error(worker_t *w, const char *fmt, const char *a, const char *b)
{
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof w->first_error, fmt, a, b);
}

/* POSTs body to the next server in turn. Returns the parsed answer, or NULL after counting the
 * failure (transport, status, unparsable body, or a GraphQL errors array). */
static cJSON *post(worker_t *w, const char *auth, const char *body)
{
    unsigned k = atomic_fetch_add(&rr, 1) % (unsigned)nurls;
    atomic_fetch_add(&per_server[k], 1);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/graphql-response+json");
    if (auth && auth[0])
        h = curl_slist_append(h, auth);
    etude_buf_t b = {0};
    curl_easy_setopt(w->c, CURLOPT_URL, urls[k]);
    curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(w->c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(w->c, CURLOPT_WRITEFUNCTION, bench_on_data);
    curl_easy_setopt(w->c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(w->c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(w->c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(w->c);
    long status = 0;
    curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    cJSON *j = NULL;
    if (rc != CURLE_OK || status != 200) {
        char st[96];
        snprintf(st, sizeof st, "HTTP %ld (%s) from %%s: %%.200s", status, curl_easy_strerror(rc));
        note_error(w, st, urls[k], b.p ? b.p : "");
        w->http_errors++;
    } else if (!(j = cJSON_Parse(b.p)) || cJSON_GetObjectItem(j, "errors")) {
        note_error(w, "GraphQL error from %s: %.200s", urls[k], b.p ? b.p : "");
        w->other_errors++;
        cJSON_Delete(j);
        j = NULL;
    }
    free(b.p);
    return j;
}

/* A practiceSession as the engine writes one, valid for the shared validators: start times an hour
 * apart per user, so none is a duplicate of another under the duplicate rule. */
static cJSON *make_entity(int user, int sync, int i, int64_t now_ms)
{
    char id[ETUDE_UUID_LEN], t0[ETUDE_TIME_LEN], t1[ETUDE_TIME_LEN], at[ETUDE_TIME_LEN];
    etude_uuid_new(id);
    int64_t start = now_ms - (int64_t)(1 + sync * n_entities + i) * 3600000;
    int64_t secs = 300 + (user * 7 + i * 13) % 1500;
    etude_time_format_ms(start, t0);
    etude_time_format_ms(start + secs * 1000, t1);
    etude_time_format_ms(start + secs * 1000 + 50, at);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "activeSeconds", (double)secs);
    cJSON_AddNumberToObject(data, "bars", (double)(secs / 2));
    cJSON_AddStringToObject(data, "command", "practice");
    cJSON_AddStringToObject(data, "endReason", "stopped");
    cJSON_AddStringToObject(data, "endedAt", t1);
    cJSON_AddFalseToObject(data, "interrupted");
    cJSON_AddStringToObject(data, "material", "4 4/4 120 X.x.");
    cJSON_AddStringToObject(data, "note", "slow practice, even sixteenths, relaxed wrist");
    cJSON_AddNullToObject(data, "preset");
    cJSON_AddNumberToObject(data, "rate", 1);
    cJSON_AddStringToObject(data, "startedAt", t0);
    cJSON_AddNumberToObject(data, "tempoMaxBpm", 120);
    cJSON_AddNumberToObject(data, "tempoMinBpm", 96);
    cJSON_AddArrayToObject(data, "voices");
    cJSON_AddNumberToObject(data, "xruns", 0);
    char sum[65];
    if (etude_canon_checksum(data, sum, NULL) != 0) {
        fprintf(stderr, "bench_pg_scale: cannot canonicalise an entity\n");
        exit(2);
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", id);
    cJSON_AddStringToObject(e, "entityType", "practiceSession");
    cJSON_AddStringToObject(e, "createdAt", at);
    cJSON_AddStringToObject(e, "updatedAt", at);
    cJSON_AddNumberToObject(e, "baseVersion", 0);
    cJSON_AddStringToObject(e, "checksum", sum);
    cJSON_AddItemToObject(e, "data", data);
    return e;
}

static char *upload_body(int user, int sync, int64_t now_ms)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "query", doc_upload);
    cJSON *batch = cJSON_AddObjectToObject(cJSON_AddObjectToObject(req, "variables"), "batch");
    char s[64];
    snprintf(s, sizeof s, "bench-%d-%d", user + 1, sync + 1);
    cJSON_AddStringToObject(batch, "batchId", s);
    snprintf(s, sizeof s, "bench-device-%d", user + 1);
    cJSON_AddStringToObject(batch, "deviceId", s);
    cJSON_AddNumberToObject(batch, "mutationSeq", sync + 1);
    cJSON *ents = cJSON_AddArrayToObject(batch, "entities");
    for (int i = 0; i < n_entities; i++)
        cJSON_AddItemToArray(ents, make_entity(user, sync, i, now_ms));
    char *body = etude_canon_print(req);
    cJSON_Delete(req);
    if (!body)
        exit(2);
    return body;
}

static void *login_worker(void *arg)
{
    worker_t *w = arg;
    for (int u = w->id; u < n_users; u += n_workers) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "query", doc_login);
        cJSON *vars = cJSON_AddObjectToObject(req, "variables");
        cJSON_AddStringToObject(vars, "username", users[u].name);
        cJSON_AddStringToObject(vars, "password", password);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        cJSON *ans = post(w, NULL, body);
        cJSON_free(body);
        cJSON *tok = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ans, "data"), "login"),
                                         "accessToken");
        if (cJSON_IsString(tok))
            snprintf(users[u].auth, sizeof users[u].auth, "Authorization: Bearer %s", tok->valuestring);
        else if (ans) {
            note_error(w, "login of %s answered without a token%s", users[u].name, "");
            w->other_errors++;
        }
        cJSON_Delete(ans);
    }
    return NULL;
}

/* Pulls everything since the user's cursor; returns the number of changes, or -1 on failure. */
static long pull(worker_t *w, user_t *u)
{
    long got = 0;
    for (int pages = 0; pages < 1000; pages++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "query", doc_changes);
        cJSON *vars = cJSON_AddObjectToObject(req, "variables");
        if (u->cursor)
            cJSON_AddStringToObject(vars, "since", u->cursor);
        else
            cJSON_AddNullToObject(vars, "since");
        cJSON_AddNumberToObject(vars, "limit", 100);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        cJSON *ans = post(w, u->auth, body);
        cJSON_free(body);
        if (!ans)
            return -1;
        cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(ans, "data"), "syncChanges");
        cJSON *cur = cJSON_GetObjectItem(p, "cursor");
        if (!cJSON_IsString(cur)) {
            note_error(w, "syncChanges for %s answered without a cursor%s", u->name, "");
            w->other_errors++;
            cJSON_Delete(ans);
            return -1;
        }
        got += cJSON_GetArraySize(cJSON_GetObjectItem(p, "changes"));
        free(u->cursor);
        u->cursor = strdup(cur->valuestring);
        int more = cJSON_IsTrue(cJSON_GetObjectItem(p, "hasMore"));
        cJSON_Delete(ans);
        if (!more)
            return got;
    }
    return got;
}

static void *sync_worker(void *arg)
{
    worker_t *w = arg;
    /* Bodies are built before the clock starts: the figure is the servers', not the generator's. */
    int64_t now_ms = etude_time_wall_ms();
    size_t n = 0;
    for (int s = 0; s < n_syncs; s++)
        for (int u = w->id; u < n_users; u += n_workers)
            w->bodies[n++] = upload_body(u, s, now_ms);
    pthread_barrier_wait(&start_line);
    n = 0;
    for (int s = 0; s < n_syncs; s++) {
        for (int ui = w->id; ui < n_users; ui += n_workers) {
            user_t *u = &users[ui];
            const char *body = w->bodies[n];
            n++;
            if (!u->auth[0])
                continue; /* its login failed, counted there */
            double t0 = bench_now();
            cJSON *ans = post(w, u->auth, body);
            if (!ans)
                continue;
            cJSON *res = cJSON_GetObjectItem(cJSON_GetObjectItem(ans, "data"), "uploadBatch");
            int acc = cJSON_GetArraySize(cJSON_GetObjectItem(res, "accepted"));
            w->accepted += acc;
            if (acc != n_entities) {
                char *t = cJSON_PrintUnformatted(res);
                note_error(w, "uploadBatch did not accept the whole batch: %.200s%s", t ? t : "(none)", "");
                cJSON_free(t);
                w->other_errors++;
            }
            cJSON_Delete(ans);
            long got = pull(w, u);
            double t1 = bench_now();
            if (got < 0)
                continue;
            if (got != acc) {
                char m[64];
                snprintf(m, sizeof m, "%ld changes after %d accepted", got, acc);
                note_error(w, "syncChanges for %s: %s", u->name, m);
                w->other_errors++;
                continue;
            }
            w->lat[w->nlat++] = (t1 - t0) * 1000.0;
        }
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static double pct(const double *v, size_t n, int q)
{
    if (n == 0)
        return 0;
    size_t k = (n * (size_t)q + 99) / 100;
    return v[k ? k - 1 : 0];
}

static int cmd_users(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    int from = atoi(argv[2]), to = atoi(argv[3]);
    const char *pw = argv[4];
    if (from < 1 || to < from)
        return 2;
    int64_t now = etude_time_wall_ms();
    printf("BEGIN;\n");
    for (int i = from; i <= to; i++) {
        char hash[crypto_pwhash_STRBYTES], uuid[ETUDE_UUID_LEN];
        if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN) != 0)
            return 1;
        etude_uuid_new(uuid);
        printf("INSERT INTO users(uuid, name, pwhash, created_at) VALUES('%s', 'u%d', '%s', %lld);\n", uuid, i,
               hash, (long long)now);
    }
    printf("COMMIT;\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 2;
    if (argc > 1 && strcmp(argv[1], "users") == 0)
        return cmd_users(argc, argv);
    if (argc < 10 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: bench_pg_scale users FROM TO PASSWORD\n"
                        "       bench_pg_scale run LABEL OPS_DIR USERS SYNCS ENTITIES CONCURRENCY PASSWORD URL...\n");
        return 2;
    }
    const char *label = argv[2];
    n_users = atoi(argv[4]);
    n_syncs = atoi(argv[5]);
    n_entities = atoi(argv[6]);
    n_workers = atoi(argv[7]);
    password = argv[8];
    nurls = argc - 9;
    if (n_users < 1 || n_syncs < 1 || n_entities < 1 || n_entities > 500 || n_workers < 1 ||
        nurls > MAX_SERVERS) {
        fprintf(stderr, "bench_pg_scale: USERS, SYNCS, CONCURRENCY >= 1, ENTITIES 1-500, at most %d URLs\n",
                MAX_SERVERS);
        return 2;
    }
    if (n_workers > n_users)
        n_workers = n_users;
    for (int i = 0; i < nurls; i++)
        urls[i] = argv[9 + i];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    doc_upload = bench_read_doc("bench_pg_scale", argv[3], "UploadBatch");
    doc_changes = bench_read_doc("bench_pg_scale", argv[3], "SyncChanges");
    doc_login = bench_read_doc("bench_pg_scale", argv[3], "Login");
    users = calloc((size_t)n_users, sizeof *users);
    worker_t *ws = calloc((size_t)n_workers, sizeof *ws);
    pthread_t *th = calloc((size_t)n_workers, sizeof *th);
    if (!users || !ws || !th)
        return 2;
    for (int u = 0; u < n_users; u++)
        snprintf(users[u].name, sizeof users[u].name, "u%d", u + 1);
    for (int i = 0; i < n_workers; i++) {
        ws[i].id = i;
        ws[i].c = curl_easy_init();
        size_t mine = (size_t)((n_users - i + n_workers - 1) / n_workers) * (size_t)n_syncs;
        ws[i].bodies = calloc(mine, sizeof *ws[i].bodies);
        ws[i].lat = calloc(mine, sizeof *ws[i].lat);
        if (!ws[i].c || !ws[i].bodies || !ws[i].lat)
            return 2;
    }

    /* Setup: every user logs in a device (through the servers in turn, like the syncs). */
    double l0 = bench_now();
    for (int i = 0; i < n_workers; i++)
        pthread_create(&th[i], NULL, login_worker, &ws[i]);
    for (int i = 0; i < n_workers; i++)
        pthread_join(th[i], NULL);
    double login_s = bench_now() - l0;
    int logged_in = 0;
    for (int u = 0; u < n_users; u++)
        logged_in += users[u].auth[0] != '\0';

    /* Measured: the syncs, from the moment every worker has its bodies ready. */
    pthread_barrier_init(&start_line, NULL, (unsigned)n_workers + 1);
    for (int i = 0; i < n_workers; i++)
        pthread_create(&th[i], NULL, sync_worker, &ws[i]);
    pthread_barrier_wait(&start_line);
    double t0 = bench_now();
    for (int i = 0; i < n_workers; i++)
        pthread_join(th[i], NULL);
    double secs = bench_now() - t0;
    pthread_barrier_destroy(&start_line);

    long accepted = 0, http_errors = 0, other_errors = 0;
    size_t nlat = 0;
    for (int i = 0; i < n_workers; i++) {
        accepted += ws[i].accepted;
        http_errors += ws[i].http_errors;
        other_errors += ws[i].other_errors;
        nlat += ws[i].nlat;
    }
    double *lat = calloc(nlat ? nlat : 1, sizeof *lat);
    size_t k = 0;
    for (int i = 0; i < n_workers; i++) {
        memcpy(lat + k, ws[i].lat, ws[i].nlat * sizeof *lat);
        k += ws[i].nlat;
    }
    qsort(lat, nlat, sizeof *lat, cmp_double);
    double rate = secs > 0 ? (double)accepted / secs : 0;
    double p50 = pct(lat, nlat, 50), p99 = pct(lat, nlat, 99);
    char spread[256] = "";
    for (int i = 0; i < nurls; i++) {
        size_t l = strlen(spread);
        snprintf(spread + l, sizeof spread - l, "%s%ld", i ? "/" : "", atomic_load(&per_server[i]));
    }
    printf("%-9s %d users (%d logged in in %.2f s, not timed), %zu syncs of %d entities by %d workers in %.2f s: "
           "%.0f entities/s, sync latency p50 %.1f ms p99 %.1f ms; HTTP errors %ld, other failures %ld; "
           "requests per process %s\n",
           label, n_users, logged_in, login_s, nlat, n_entities, n_workers, secs, rate, p50, p99, http_errors,
           other_errors, spread);
    for (int i = 0; i < n_workers; i++)
        if (ws[i].first_error[0]) {
            fprintf(stderr, "bench_pg_scale: %s: first failure: %s\n", label, ws[i].first_error);
            break;
        }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("CPU %s %.2f\n", label, (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    printf("RESULT %s %.3f %.3f %ld %ld\n", label, rate, p99, accepted, http_errors + other_errors);

    for (int i = 0; i < n_workers; i++) {
        curl_easy_cleanup(ws[i].c);
        size_t mine = (size_t)((n_users - i + n_workers - 1) / n_workers) * (size_t)n_syncs;
        for (size_t b = 0; b < mine; b++)
            free(ws[i].bodies[b]);
        free(ws[i].bodies);
        free(ws[i].lat);
    }
    for (int u = 0; u < n_users; u++)
        free(users[u].cursor);
    free(users);
    free(ws);
    free(th);
    free(lat);
    free(doc_upload);
    free(doc_changes);
    free(doc_login);
    curl_global_cleanup();
    return http_errors + other_errors ? 1 : 0;
}
