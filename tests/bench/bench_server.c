/* bench_server.c - load generator for etude-syncd: uploadBatch throughput (batches of 250, gzip) and
 * syncChanges page rate over loopback with libcurl keep-alive connections. Prints figures, fails only
 * when the server answers wrongly.
 *   usage: bench_server URL USER PASSWORD OPERATIONS_DIR [BATCHES_PER_CLIENT] [CLIENTS] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>
#include <zlib.h>

#include "bench_http.h"

#define BATCH 250

static const char *url;
static char *doc_upload, *doc_changes, *doc_login;
static char auth[160];

static void die(const char *what, const etude_buf_t *b)
{
    fprintf(stderr, "bench_server: %s: %.300s\n", what, b && b->p ? b->p : "(no body)");
    exit(1);
}

/* POSTs body (gzip-compressed when gz) and returns the parsed JSON answer (inflated by libcurl). */
static cJSON *post(CURL *c, const char *body, int gz, size_t *wire)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/graphql-response+json");
    if (auth[0])
        h = curl_slist_append(h, auth);
    unsigned char *z = NULL;
    size_t zlen = strlen(body);
    if (gz) {
        h = curl_slist_append(h, "Content-Encoding: gzip");
        z_stream s;
        memset(&s, 0, sizeof s);
        deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        size_t cap = deflateBound(&s, (uLong)zlen) + 32;
        z = malloc(cap);
        s.next_in = (Bytef *)body;
        s.avail_in = (uInt)zlen;
        s.next_out = z;
        s.avail_out = (uInt)cap;
        if (deflate(&s, Z_FINISH) != Z_STREAM_END)
            die("deflate", NULL);
        zlen = cap - s.avail_out;
        deflateEnd(&s);
    }
    if (wire)
        *wire = zlen;
    etude_buf_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, gz ? (const char *)z : body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)zlen);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    free(z);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "bench_server: HTTP %ld (%s)\n", status, curl_easy_strerror(rc));
        die("request failed", &b);
    }
    cJSON *j = cJSON_Parse(b.p);
    if (!j)
        die("unparsable answer", &b);
    free(b.p);
    return j;
}

/* One entity whose data keys are already in canonical (sorted) order. */
static cJSON *make_entity(int client, int batch, int i)
{
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    rnd[6] = (unsigned char)((rnd[6] & 0x0f) | 0x40);
    rnd[8] = (unsigned char)((rnd[8] & 0x3f) | 0x80);
    char id[37];
    snprintf(id, sizeof id, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10], rnd[11],
             rnd[12], rnd[13], rnd[14], rnd[15]);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "bpm", 60 + (i % 120));
    cJSON_AddNumberToObject(data, "client", client);
    cJSON_AddStringToObject(data, "material", "4 4/4 120 X.x.");
    cJSON_AddNumberToObject(data, "minutes", 5 + batch % 40);
    cJSON_AddStringToObject(data, "note", "slow practice, even sixteenths, relaxed wrist");
    cJSON_AddNumberToObject(data, "seq", batch * BATCH + i);
    char *canon = cJSON_PrintUnformatted(data);
    unsigned char h[32];
    crypto_hash_sha256(h, (unsigned char *)canon, strlen(canon));
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    cJSON_free(canon);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", id);
    cJSON_AddStringToObject(e, "entityType", "practiceSession");
    cJSON_AddStringToObject(e, "createdAt", "2026-11-25T10:00:00.000Z");
    cJSON_AddStringToObject(e, "updatedAt", "2026-11-25T10:00:00.000Z");
    cJSON_AddNumberToObject(e, "baseVersion", 0);
    cJSON_AddStringToObject(e, "checksum", hex);
    cJSON_AddItemToObject(e, "data", data);
    return e;
}

typedef struct job {
    int client, batches;
    long accepted;
    size_t raw_bytes, wire_bytes;
    double seconds;
} job_t;

static void *upload_client(void *arg)
{
    job_t *j = arg;
    CURL *c = curl_easy_init();
    char device[32];
    snprintf(device, sizeof device, "bench-%d", j->client);
    /* Bodies are built before the clock starts: the figure is the server's, not the generator's. */
    char **bodies = calloc((size_t)j->batches, sizeof *bodies);
    for (int b = 0; b < j->batches; b++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "query", doc_upload);
        cJSON *vars = cJSON_AddObjectToObject(req, "variables");
        cJSON *batch = cJSON_AddObjectToObject(vars, "batch");
        char bid[64];
        snprintf(bid, sizeof bid, "bench-%d-%d-%ld", j->client, b, (long)time(NULL));
        cJSON_AddStringToObject(batch, "batchId", bid);
        cJSON_AddStringToObject(batch, "deviceId", device);
        cJSON_AddNumberToObject(batch, "mutationSeq", b + 1);
        cJSON *ents = cJSON_AddArrayToObject(batch, "entities");
        for (int i = 0; i < BATCH; i++)
            cJSON_AddItemToArray(ents, make_entity(j->client, b, i));
        bodies[b] = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
    }
    double t0 = bench_now();
    for (int b = 0; b < j->batches; b++) {
        size_t wire = 0;
        cJSON *ans = post(c, bodies[b], 1, &wire);
        j->raw_bytes += strlen(bodies[b]);
        j->wire_bytes += wire;
        cJSON *res = cJSON_GetObjectItem(cJSON_GetObjectItem(ans, "data"), "uploadBatch");
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(res, "accepted"));
        if (n != BATCH) {
            char *t = cJSON_PrintUnformatted(ans);
            etude_buf_t bb = {.p = t, .n = strlen(t)};
            die("uploadBatch did not accept the whole batch", &bb);
        }
        j->accepted += n;
        cJSON_Delete(ans);
    }
    j->seconds = bench_now() - t0;
    for (int b = 0; b < j->batches; b++)
        cJSON_free(bodies[b]);
    free(bodies);
    curl_easy_cleanup(c);
    return NULL;
}

/* Pages through everything with the given page size; returns pages and entities seen. */
static void page_all(CURL *c, int limit, long *pages, long *entities)
{
    char *since = NULL;
    *pages = *entities = 0;
    for (;;) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "query", doc_changes);
        cJSON *vars = cJSON_AddObjectToObject(req, "variables");
        if (since)
            cJSON_AddStringToObject(vars, "since", since);
        else
            cJSON_AddNullToObject(vars, "since");
        cJSON_AddNumberToObject(vars, "limit", limit);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        cJSON *ans = post(c, body, 0, NULL);
        cJSON_free(body);
        cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(ans, "data"), "syncChanges");
        cJSON *cur = cJSON_GetObjectItem(p, "cursor");
        if (!cJSON_IsString(cur))
            die("syncChanges answered without a cursor", NULL);
        (*pages)++;
        *entities += cJSON_GetArraySize(cJSON_GetObjectItem(p, "changes"));
        free(since);
        since = strdup(cur->valuestring);
        int more = cJSON_IsTrue(cJSON_GetObjectItem(p, "hasMore"));
        cJSON_Delete(ans);
        if (!more)
            break;
    }
    free(since);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_server URL USER PASSWORD OPERATIONS_DIR [BATCHES_PER_CLIENT] [CLIENTS]\n");
        return 2;
    }
    url = argv[1];
    int batches = argc > 5 ? atoi(argv[5]) : 20;
    int clients = argc > 6 ? atoi(argv[6]) : 2;
    if (batches < 1 || clients < 1 || clients > 16 || sodium_init() < 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    doc_upload = bench_read_doc("bench_server", argv[4], "UploadBatch");
    doc_changes = bench_read_doc("bench_server", argv[4], "SyncChanges");
    doc_login = bench_read_doc("bench_server", argv[4], "Login");

    CURL *c = curl_easy_init();
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "query", doc_login);
    cJSON *vars = cJSON_AddObjectToObject(req, "variables");
    cJSON_AddStringToObject(vars, "username", argv[2]);
    cJSON_AddStringToObject(vars, "password", argv[3]);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    cJSON *ans = post(c, body, 0, NULL);
    cJSON_free(body);
    cJSON *tok = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ans, "data"), "login"), "accessToken");
    if (!cJSON_IsString(tok))
        die("login failed", NULL);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok->valuestring);
    cJSON_Delete(ans);

    /* Upload: one client alone, then `clients` concurrent clients. */
    long total_accepted = 0;
    double rate[2] = {0, 0};
    for (int round = 0; round < 2; round++) {
        int n = round == 0 ? 1 : clients;
        job_t *jobs = calloc((size_t)n, sizeof *jobs);
        pthread_t *th = calloc((size_t)n, sizeof *th);
        for (int i = 0; i < n; i++) {
            jobs[i].client = round * 100 + i;
            jobs[i].batches = batches;
            pthread_create(&th[i], NULL, upload_client, &jobs[i]);
        }
        long acc = 0;
        double worst = 0;
        size_t raw = 0, wire = 0;
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            acc += jobs[i].accepted;
            raw += jobs[i].raw_bytes;
            wire += jobs[i].wire_bytes;
            if (jobs[i].seconds > worst)
                worst = jobs[i].seconds;
        }
        total_accepted += acc;
        rate[round] = (double)acc / worst;
        printf("uploadBatch  clients=%d batches=%d x %d entities: %.0f entities/s (%.1f batches/s, %.2f ms/batch per client), gzip %zu -> %zu bytes (ratio %.3f)\n",
               n, n * batches, BATCH, (double)acc / worst, (double)(n * batches) / worst,
               1000.0 * worst / batches, raw, wire, (double)wire / (double)raw);
        free(jobs);
        free(th);
    }

    printf("uploadBatch  scaling: %d clients / 1 client = %.2f x\n", clients, rate[1] / rate[0]);

    /* syncChanges: page through every entity at two page sizes. */
    for (int k = 0; k < 2; k++) {
        int limit = k == 0 ? 100 : 500;
        long pages, ents;
        double t0 = bench_now();
        page_all(c, limit, &pages, &ents);
        double dt = bench_now() - t0;
        if (ents != total_accepted) {
            fprintf(stderr, "bench_server: syncChanges returned %ld entities, %ld were accepted\n", ents, total_accepted);
            return 1;
        }
        printf("syncChanges  limit=%d: %ld pages in %.3f s: %.1f pages/s, %.0f entities/s\n", limit, pages, dt,
               (double)pages / dt, (double)ents / dt);
    }
    curl_easy_cleanup(c);
    free(doc_upload);
    free(doc_changes);
    free(doc_login);
    curl_global_cleanup();
    return 0;
}
