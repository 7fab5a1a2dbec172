/* syncclient_core.c - the sync orchestrator: login and tokens, batched upload of the outbox,
 * paged pull with the cursor stored in the page's transaction, conflicts, duplicates, retries with
 * full-jitter backoff and a persisted Retry-After, dead letters and status. */
#include "syncclient_int.h"

#include "etude_canon.h"
#include "etude_entity.h"
#include "etude_store.h"
#include "store_sync.h"
#include "etude_time.h"
#include "etude_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

struct etude_syncclient {
    char home[4096];
    char token_path[4200];
    etude_sync_config_t cfg;
    etude_store_t *store;  /* the one store connection: every read and write of the local tables */
    char device_id[64];
    /* token */
    int logged_in;
    char server[1024];
    char user[128];
    char user_id[64];
    char access[160];
    char refresh[160];
    char cacert[1024];
    int allow_insecure_http; /* remembered with the token: plain http to a non-loopback host */
    etude_sync_publish_fn publish;
    void *publish_ctx;
    etude_sync_stats_t *st; /* stats of the running sync */
    int64_t deadline_us;
    atomic_int cancel;
    int reconcile; /* a full pull after INVALID_CURSOR is recording what the server holds */
    int keep_retry_after; /* a request's Retry-After is not kept for later syncs (the status report's) */
    void (*after_send)(void *); /* test hook: runs after an upload left, before its answer is applied */
    void *after_send_ctx;
    char err[1024];
};

static int fail(etude_syncclient_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(etude_syncclient_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return code;
}

/* A store failure, with the store's message. */
static int sfail(etude_syncclient_t *c, int rc)
{
    return fail(c, rc == ETUDE_STORE_ENOMEM ? ETUDE_SYNC_ENOMEM : ETUDE_SYNC_EIO, "%s", etude_store_errmsg(c->store));
}

const char *etude_syncclient_errmsg(const etude_syncclient_t *c)
{
    return c ? c->err : "";
}

int64_t etude_sync_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}


/* ---- configuration ------------------------------------------------------------------------ */

void etude_sync_config_defaults(etude_sync_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->strategy = ETUDE_SYNC_LAST_WRITE_WINS;
    cfg->batch_max = 250;
    cfg->batch_bytes = 1u << 20;
    cfg->page_size = 500;
    cfg->max_retries = 6;
    cfg->backoff_base_ms = 250;
    cfg->backoff_multiplier = 2.0;
    cfg->backoff_max_ms = 30000;
    cfg->past_limit = ETUDE_SYNC_PAST_LIMIT_KEEP;
    cfg->request_timeout_s = 30;
    cfg->wait_while_playing = 1;
    cfg->interval_s = 300;
    cfg->debounce_ms = 2000;
}

/* The numeric settings of sync.json: range, whether only whole numbers, where each is kept. */
typedef enum { NUM_INT, NUM_SIZE, NUM_I64, NUM_LONG, NUM_DOUBLE } num_type_t;
typedef struct num_setting {
    const char *key;
    double lo, hi;
    int whole;
    const char *expect; /* the error's text */
    num_type_t type;
    size_t off; /* in etude_sync_config_t */
} num_setting_t;

static const num_setting_t num_settings[] = {
    {"batchSize", 1, 250, 1, "expected an integer from 1 to 250", NUM_INT, offsetof(etude_sync_config_t, batch_max)},
    {"batchBytes", 4096, 64e6, 0, "expected a number of bytes from 4096 to 64000000", NUM_SIZE,
     offsetof(etude_sync_config_t, batch_bytes)},
    {"pageSize", 1, 10000, 1, "expected an integer from 1 to 10000", NUM_INT, offsetof(etude_sync_config_t, page_size)},
    {"maxRetries", 0, 1000, 1, "expected an integer from 0 to 1000", NUM_INT, offsetof(etude_sync_config_t, max_retries)},
    {"backoffBaseMs", 1, 3600e3, 0, "expected milliseconds from 1 to 3600000", NUM_I64,
     offsetof(etude_sync_config_t, backoff_base_ms)},
    {"backoffMultiplier", 1, 100, 0, "expected a number from 1 to 100", NUM_DOUBLE,
     offsetof(etude_sync_config_t, backoff_multiplier)},
    {"maxBackoffMs", 1, 86400e3, 0, "expected milliseconds from 1 to 86400000", NUM_I64,
     offsetof(etude_sync_config_t, backoff_max_ms)},
    {"requestTimeoutSeconds", 1, 3600, 0, "expected seconds from 1 to 3600", NUM_LONG,
     offsetof(etude_sync_config_t, request_timeout_s)},
    {"intervalSeconds", 1, 86400, 0, "expected seconds from 1 to 86400", NUM_INT, offsetof(etude_sync_config_t, interval_s)},
    {"debounceMs", 0, 3600e3, 0, "expected milliseconds from 0 to 3600000", NUM_INT,
     offsetof(etude_sync_config_t, debounce_ms)},
};

static const num_setting_t *num_setting(const char *key)
{
    for (size_t i = 0; i < sizeof num_settings / sizeof *num_settings; i++)
        if (!strcmp(num_settings[i].key, key))
            return &num_settings[i];
    return NULL;
}

/* d is within the setting's range (so it fits its type). */
static void num_set(etude_sync_config_t *cfg, const num_setting_t *n, double d)
{
    char *at = (char *)cfg + n->off;
    switch (n->type) {
    case NUM_INT:
        *(int *)(void *)at = (int)d;
        break;
    case NUM_SIZE:
        *(size_t *)(void *)at = (size_t)d;
        break;
    case NUM_I64:
        *(int64_t *)(void *)at = (int64_t)d;
        break;
    case NUM_LONG:
        *(long *)(void *)at = (long)d;
        break;
    case NUM_DOUBLE:
        *(double *)(void *)at = d;
        break;
    }
}

int etude_sync_config_load(const char *home, etude_sync_config_t *cfg, char *err, size_t errsize)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sync.json", home);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0; /* no sync.json: the defaults */
    char *text = NULL;
    int rd = etude_read_stream(f, (size_t)1 << 16, &text, NULL);
    fclose(f);
    if (rd == ETUDE_ELIMIT) {
        snprintf(err, errsize, "%s: larger than 64 KiB", path);
        return ETUDE_SYNC_EINVAL;
    }
    if (rd) {
        snprintf(err, errsize, "%s: cannot read: %s", path, rd == ETUDE_EIO ? strerror(errno) : etude_strerror(rd));
        return rd;
    }
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(err, errsize, "%s: not a JSON object", path);
        return ETUDE_SYNC_EINVAL;
    }
    int rc = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, o)
    {
        const char *k = v->string;
        int isnum = cJSON_IsNumber(v);
        double d = isnum ? v->valuedouble : 0;
        const char *bad = NULL;
        const num_setting_t *num;
        if (!strcmp(k, "conflictStrategy")) {
            const char *s = cJSON_IsString(v) ? v->valuestring : "";
            if (!strcmp(s, "last-write-wins"))
                cfg->strategy = ETUDE_SYNC_LAST_WRITE_WINS;
            else if (!strcmp(s, "server-wins"))
                cfg->strategy = ETUDE_SYNC_SERVER_WINS;
            else if (!strcmp(s, "client-wins"))
                cfg->strategy = ETUDE_SYNC_CLIENT_WINS;
            else if (!strcmp(s, "manual"))
                cfg->strategy = ETUDE_SYNC_MANUAL;
            else
                bad = "expected \"last-write-wins\", \"server-wins\", \"client-wins\" or \"manual\"";
        } else if (!strcmp(k, "pastLimit")) {
            const char *s = cJSON_IsString(v) ? v->valuestring : "";
            if (!strcmp(s, "keep"))
                cfg->past_limit = ETUDE_SYNC_PAST_LIMIT_KEEP;
            else if (!strcmp(s, "dead-letter"))
                cfg->past_limit = ETUDE_SYNC_PAST_LIMIT_DEAD_LETTER;
            else
                bad = "expected \"keep\" or \"dead-letter\"";
        } else if ((num = num_setting(k)) != NULL) {
            if (!isnum || d < num->lo || d > num->hi || (num->whole && d != floor(d)))
                bad = num->expect;
            else
                num_set(cfg, num, d);
        } else if (!strcmp(k, "waitWhilePlaying")) {
            if (!cJSON_IsBool(v))
                bad = "expected true or false";
            else
                cfg->wait_while_playing = cJSON_IsTrue(v);
        } else {
            bad = "unknown setting (known: conflictStrategy, pastLimit, batchSize, batchBytes, pageSize, "
                  "maxRetries, backoffBaseMs, backoffMultiplier, maxBackoffMs, requestTimeoutSeconds, "
                  "waitWhilePlaying, intervalSeconds, debounceMs)";
        }
        if (bad) {
            snprintf(err, errsize, "%s: field '%s': %s", path, k, bad);
            rc = ETUDE_SYNC_EINVAL;
            break;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* ---- sync_meta on the client's connection ------------------------------------------------- */

static int meta_get(etude_syncclient_t *c, const char *key, char *buf, size_t size)
{
    buf[0] = 0;
    int rc = etude_store_meta_get(c->store, key, buf, size);
    if (rc == ETUDE_STORE_ENOTFOUND)
        return ETUDE_SYNC_ENOTFOUND;
    return rc ? sfail(c, rc) : 0;
}

static int meta_set(etude_syncclient_t *c, const char *key, const char *value)
{
    int rc = etude_store_meta_set(c->store, key, value);
    return rc ? sfail(c, rc) : 0;
}

static int64_t meta_int(etude_syncclient_t *c, const char *key, int64_t dflt)
{
    char b[64];
    if (meta_get(c, key, b, sizeof b))
        return dflt;
    return strtoll(b, NULL, 10);
}

static int meta_set_int(etude_syncclient_t *c, const char *key, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return meta_set(c, key, b);
}

static int begin(etude_syncclient_t *c)
{
    int rc = etude_store_tx_begin(c->store);
    return rc ? sfail(c, rc) : 0;
}

static int commit_or_rollback(etude_syncclient_t *c, int rc)
{
    int r = etude_store_tx_finish(c->store, rc);
    if (r && !rc)
        return sfail(c, r);
    return r;
}

static void set_state(etude_syncclient_t *c, const char *state, const char *error)
{
    meta_set(c, "sync_state", state);
    if (error)
        meta_set(c, "last_error", error[0] ? error : NULL);
}

static void publish(etude_syncclient_t *c, const char *name, cJSON *o)
{
    if (c->publish) {
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            c->publish(c->publish_ctx, "sync", name, t);
        free(t);
    }
    cJSON_Delete(o);
}

/* ---- Retry-After: a monotonic deadline ------------------------------------------------------ */

/* A Retry-After longer than this is taken as this: a server (or a proxy) cannot park a device for
 * days. */
#define RETRY_AFTER_CAP_MS INT64_C(3600000)

static void retry_after_store(etude_syncclient_t *c, long seconds)
{
    int64_t ms = (int64_t)seconds * 1000;
    if (ms > RETRY_AFTER_CAP_MS)
        ms = RETRY_AFTER_CAP_MS;
    char boot[64];
    etude_time_boot_id(boot);
    meta_set_int(c, "retry_not_before_mono_ms", etude_time_mono_ms() + ms);
    meta_set(c, "retry_boot_id", boot);
}

/* Milliseconds left of a stored Retry-After (0 when none, from another boot, or passed). Wall
 * clock jumps and skews cannot stretch it; it never exceeds the cap. */
static int64_t retry_after_left(etude_syncclient_t *c)
{
    int64_t deadline = meta_int(c, "retry_not_before_mono_ms", 0);
    if (!deadline)
        return 0;
    char stored[64] = "", boot[64];
    meta_get(c, "retry_boot_id", stored, sizeof stored);
    etude_time_boot_id(boot);
    if (strcmp(stored, boot))
        return 0;
    int64_t left = deadline - etude_time_mono_ms();
    if (left < 0)
        return 0;
    return left > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS : left;
}

static void retry_after_clear(etude_syncclient_t *c)
{
    meta_set(c, "retry_not_before_mono_ms", NULL);
    meta_set(c, "retry_boot_id", NULL);
    meta_set(c, "retry_not_before_ms", NULL); /* the wall-clock form of older versions */
}

/* ---- token file --------------------------------------------------------------------------- */

static int token_load(etude_syncclient_t *c)
{
    c->logged_in = 0;
    FILE *f = fopen(c->token_path, "rb");
    if (!f)
        return 0;
    char *text = NULL; /* a token file is well under 4 KiB: read into one buffer, never moved */
    int rd = etude_read_stream(f, (size_t)1 << 16, &text, NULL);
    fclose(f);
    if (rd == ETUDE_ELIMIT)
        return fail(c, ETUDE_SYNC_EINVAL, "%s: not a token file written by etude (run 'etude sync login' again)",
                    c->token_path);
    if (rd)
        return fail(c, rd, "%s: cannot read: %s", c->token_path, rd == ETUDE_EIO ? strerror(errno) : etude_strerror(rd));
    cJSON *o = cJSON_Parse(text);
    sodium_memzero(text, strlen(text));
    free(text);
    const char *keys[] = {"server", "user", "userId", "accessToken", "refreshToken"};
    char *dst[] = {c->server, c->user, c->user_id, c->access, c->refresh};
    size_t sz[] = {sizeof c->server, sizeof c->user, sizeof c->user_id, sizeof c->access, sizeof c->refresh};
    int ok = cJSON_IsObject(o);
    for (int i = 0; ok && i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= sz[i])
            ok = 0;
        else
            snprintf(dst[i], sz[i], "%s", v->valuestring);
    }
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(o, "cacert");
    c->cacert[0] = 0;
    if (ok && cJSON_IsString(ca))
        snprintf(c->cacert, sizeof c->cacert, "%s", ca->valuestring);
    c->allow_insecure_http = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "allowInsecureHttp"));
    cJSON_Delete(o);
    if (!ok)
        return fail(c, ETUDE_SYNC_EINVAL, "%s: not a token file written by etude (run 'etude sync login' again)",
                    c->token_path);
    c->logged_in = 1;
    return 0;
}

/* Written to a temp file created with mode 0600 and renamed, so no reader sees half a token and
 * no other user can ever read one. */
static int token_save(etude_syncclient_t *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "server", c->server);
    cJSON_AddStringToObject(o, "user", c->user);
    cJSON_AddStringToObject(o, "userId", c->user_id);
    cJSON_AddStringToObject(o, "accessToken", c->access);
    cJSON_AddStringToObject(o, "refreshToken", c->refresh);
    if (c->cacert[0])
        cJSON_AddStringToObject(o, "cacert", c->cacert);
    if (c->allow_insecure_http)
        cJSON_AddBoolToObject(o, "allowInsecureHttp", 1);
    char *t = cJSON_Print(o);
    cJSON_Delete(o);
    if (!t)
        return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", c->token_path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = fail(c, ETUDE_SYNC_EIO, "%s: %s", tmp, strerror(errno));
    } else {
        size_t n = strlen(t);
        if (fchmod(fd, 0600) != 0 || write(fd, t, n) != (ssize_t)n || fsync(fd) != 0)
            rc = fail(c, ETUDE_SYNC_EIO, "%s: %s", tmp, strerror(errno));
        close(fd);
        if (!rc && rename(tmp, c->token_path) != 0)
            rc = fail(c, ETUDE_SYNC_EIO, "%s: %s", c->token_path, strerror(errno));
        if (rc)
            unlink(tmp);
    }
    sodium_memzero(t, strlen(t));
    free(t);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------------- */

int etude_syncclient_open(const char *home, const etude_sync_config_t *cfg, etude_syncclient_t **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return ETUDE_SYNC_EIO;
    etude_syncclient_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_SYNC_ENOMEM;
    *out = c;
    if (home)
        snprintf(c->home, sizeof c->home, "%s", home);
    else if (etude_store_home(c->home, sizeof c->home, 1, c->err, sizeof c->err))
        return ETUDE_SYNC_EINVAL;
    mkdir(c->home, 0700);
    snprintf(c->token_path, sizeof c->token_path, "%s/sync-token.json", c->home);
    if (cfg) {
        c->cfg = *cfg;
    } else {
        etude_sync_config_defaults(&c->cfg);
        int rc = etude_sync_config_load(c->home, &c->cfg, c->err, sizeof c->err);
        if (rc)
            return rc;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/etude.db", c->home);
    int rc = etude_store_open(path, &c->store);
    if (rc) {
        fail(c, ETUDE_SYNC_EIO, "%s", c->store ? etude_store_errmsg(c->store) : etude_store_strerror(rc));
        etude_store_close(c->store);
        c->store = NULL;
        return ETUDE_SYNC_EIO;
    }
    if (meta_get(c, "device_id", c->device_id, sizeof c->device_id))
        return fail(c, ETUDE_SYNC_EIO, "%s: sync_meta has no device_id", path);
    return token_load(c);
}

void etude_syncclient_close(etude_syncclient_t *c)
{
    if (!c)
        return;
    etude_store_close(c->store);
    sodium_memzero(c->access, sizeof c->access);
    sodium_memzero(c->refresh, sizeof c->refresh);
    free(c);
}

void etude_syncclient_set_publish(etude_syncclient_t *c, etude_sync_publish_fn fn, void *ctx)
{
    c->publish = fn;
    c->publish_ctx = ctx;
}

int etude_syncclient_logged_in(const etude_syncclient_t *c)
{
    return c && c->logged_in;
}

/* ---- one GraphQL request with retries ------------------------------------------------------ */

typedef struct gql_result {
    cJSON *root;        /* whole answer (owned) */
    const cJSON *data;  /* data.<field>, NULL when null */
    const char *code;   /* first error's extensions.code, or NULL */
    const char *message;
    long status;
} gql_result_t;

static void gql_clear(gql_result_t *r)
{
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}

static void sleep_plain(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* Sleeps in slices so a cancel ends the wait. */
static void sleep_ms_c(etude_syncclient_t *c, int64_t ms)
{
    while (ms > 0 && !atomic_load(&c->cancel)) {
        int64_t step = ms < 50 ? ms : 50;
        sleep_plain(step);
        ms -= step;
    }
}

void etude_syncclient_cancel(etude_syncclient_t *c)
{
    atomic_store(&c->cancel, 1);
}

int64_t etude_sync_data_version(etude_syncclient_t *c)
{
    return etude_store_data_version(c->store);
}

static int token_load(etude_syncclient_t *c);
int etude_sync_reload_token(etude_syncclient_t *c)
{
    int rc = token_load(c);
    etude_store_reload_account(c->store); /* another process may have logged in as someone else */
    return rc;
}

/* Full jitter: a uniform delay in [0, min(max, base * multiplier^attempt)]. */
static int64_t backoff_ms(const etude_sync_config_t *cfg, int attempt)
{
    double ceil_ms = (double)cfg->backoff_base_ms * pow(cfg->backoff_multiplier, attempt);
    if (ceil_ms > (double)cfg->backoff_max_ms)
        ceil_ms = (double)cfg->backoff_max_ms;
    return (int64_t)((double)randombytes_uniform(1000001) / 1e6 * ceil_ms);
}

static int refresh_tokens(etude_syncclient_t *c);

/* Classifies one HTTP exchange: 0 usable, 1 transient (retry), 2 unauthenticated, <0 permanent. */
static int classify(etude_syncclient_t *c, const char *field, etude_sync_http_resp_t *rs, gql_result_t *out)
{
    out->status = rs->status;
    if (rs->status == 429 || rs->status >= 500) {
        fail(c, ETUDE_SYNC_ESERVER, "%s: HTTP %ld from %s", field, rs->status, c->server);
        return 1;
    }
    cJSON *root = rs->body ? cJSON_ParseWithLength(rs->body, rs->len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        /* A cut or garbled answer is a transport accident: ask again (uploads replay by batchId). */
        fail(c, ETUDE_SYNC_EPROTOCOL, "%s: HTTP %ld with a body that is not a JSON object (%zu bytes)", field,
             rs->status, rs->len);
        return 1;
    }
    out->root = root;
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
    const cJSON *e0 = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
    if (e0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e0, "message");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(e0, "extensions");
        const cJSON *code = x ? cJSON_GetObjectItemCaseSensitive(x, "code") : NULL;
        out->message = cJSON_IsString(m) ? m->valuestring : "(no message)";
        out->code = cJSON_IsString(code) ? code->valuestring : "UNKNOWN";
    }
    if (rs->status == 401 || (out->code && !strcmp(out->code, "UNAUTHENTICATED")))
        return 2;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *f = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, field) : NULL;
    out->data = f && !cJSON_IsNull(f) ? f : NULL;
    if (rs->status != 200 || !out->data) {
        if (out->code && !strcmp(out->code, "INTERNAL_SERVER_ERROR"))
            return fail(c, ETUDE_SYNC_ESERVER, "%s: %s", field, out->message), 1;
        if (!out->code)
            return fail(c, ETUDE_SYNC_EPROTOCOL, "%s: HTTP %ld without data or errors", field, rs->status), 1;
        return fail(c, ETUDE_SYNC_EPROTOCOL, "%s: HTTP %ld %s: %s", field, rs->status, out->code, out->message);
    }
    return 0;
}

/* Every answer of etude-syncd carries extensions.serverTimeMs, stamped by the server between our
 * send and our receipt: the offset of its clock to ours is serverTimeMs - (sent + received) / 2,
 * within +- (received - sent) / 2 however the round trip splits between the two ways. The store
 * keeps the most certain such measurement (etude_store_clock_sample()) and stamps with it. */
static void learn_clock(etude_syncclient_t *c, const cJSON *root, int64_t sent_ms, int64_t recv_ms)
{
    const cJSON *x = root ? cJSON_GetObjectItemCaseSensitive(root, "extensions") : NULL;
    const cJSON *t = x ? cJSON_GetObjectItemCaseSensitive(x, "serverTimeMs") : NULL;
    if (!cJSON_IsNumber(t) || t->valuedouble < 1e12 || t->valuedouble > (double)ETUDE_TIME_MAX_MS)
        return;
    if (recv_ms < sent_ms)
        return; /* this clock was set during the request: the measurement means nothing */
    int64_t offset = (int64_t)t->valuedouble - (sent_ms + recv_ms) / 2;
    int64_t uncertainty = (recv_ms - sent_ms + 1) / 2 + 1; /* + 1: the server's ms rounding */
    etude_store_clock_sample(c->store, offset, uncertainty); /* best effort: a failure keeps the old one */
}

/* Sends op with variables (owned: deleted here). On 0, *out holds the answer. Retries transient
 * failures with backoff within the deadline and max_retries; refreshes the token once on 401. */
static int gql(etude_syncclient_t *c, const char *op, const char *field, cJSON *vars, int auth, gql_result_t *out)
{
    memset(out, 0, sizeof *out);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "operationName", op);
    cJSON_AddItemToObject(req, "variables", vars ? vars : cJSON_CreateObject());
    cJSON *ext = cJSON_AddObjectToObject(req, "extensions");
    cJSON *pq = cJSON_AddObjectToObject(ext, "persistedQuery");
    cJSON_AddNumberToObject(pq, "version", 1);
    cJSON_AddStringToObject(pq, "sha256Hash", etude_sync_op_hash(op));
    char *body = etude_canon_print(req); /* exact numbers, unlike cJSON's printer */
    cJSON_Delete(req);
    if (!body)
        return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    int attempt = 0, refreshed = 0, rc;
    for (;;) {
        if (atomic_load(&c->cancel)) {
            rc = fail(c, ETUDE_SYNC_ETIMEOUT, "cancelled");
            break;
        }
        etude_sync_http_req_t rq = {.base_url = c->server, .path = "/graphql", .body = body,
                                    .token = auth ? c->access : NULL, .cacert = c->cacert,
                                    .timeout_s = c->cfg.request_timeout_s, .cancel = &c->cancel};
        if (c->deadline_us) {
            /* One request never outlives the deadline (a stalled server cannot hold a logout). */
            int64_t left = (c->deadline_us - etude_sync_now_us()) / 1000000 + 1;
            if (left < rq.timeout_s)
                rq.timeout_s = left < 1 ? 1 : (long)left;
        }
        etude_sync_http_resp_t rs;
        int64_t sent_ms = etude_time_wall_ms();
        int hr = etude_sync_http_post(&rq, &rs);
        int64_t recv_ms = etude_time_wall_ms();
        if (c->st) {
            c->st->requests++;
            c->st->bytes_sent += rs.bytes_sent;
            c->st->bytes_received += rs.bytes_received;
        }
        int k;
        if (hr == ETUDE_SYNC_ENETWORK) {
            fail(c, ETUDE_SYNC_ENETWORK, "%s", rs.error);
            k = rs.tls ? -1 : 1;
            rc = ETUDE_SYNC_ENETWORK;
        } else if (hr) {
            fail(c, hr, "%s", rs.error);
            k = 1;
            rc = ETUDE_SYNC_ESERVER;
        } else {
            k = classify(c, field, &rs, out);
            rc = k < 0 ? k : k == 1 ? ETUDE_SYNC_ESERVER : 0;
            learn_clock(c, out->root, sent_ms, recv_ms);
        }
        long retry_after = rs.retry_after;
        etude_sync_http_resp_clear(&rs);
        if (k == 0)
            break;
        if (k == 2) {
            gql_clear(out);
            if (!auth || refreshed || !c->refresh[0]) {
                rc = fail(c, ETUDE_SYNC_EAUTH, "%s: the server refused the token; run 'etude sync login' again",
                          c->server);
                break;
            }
            refreshed = 1;
            rc = refresh_tokens(c);
            if (rc)
                break;
            continue;
        }
        if (k < 0)
            break; /* a refusal, or TLS: retrying would not change the answer */
        gql_clear(out);
        if (retry_after >= 0 && !c->keep_retry_after) /* kept in the store, so a restarted process honours it too */
            retry_after_store(c, retry_after);
        if (attempt >= c->cfg.max_retries) {
            char prev[sizeof c->err];
            snprintf(prev, sizeof prev, "%s", c->err);
            fail(c, rc, "%s (gave up after %d retries)", prev, attempt);
            break;
        }
        int64_t wait = backoff_ms(&c->cfg, attempt);
        if (retry_after >= 0) {
            int64_t ra = (int64_t)retry_after * 1000;
            if (ra > RETRY_AFTER_CAP_MS)
                ra = RETRY_AFTER_CAP_MS;
            if (ra > wait)
                wait = ra;
        }
        if (c->deadline_us && etude_sync_now_us() + wait * 1000 > c->deadline_us) {
            char prev[sizeof c->err];
            snprintf(prev, sizeof prev, "%s", c->err);
            rc = fail(c, retry_after >= 0 ? ETUDE_SYNC_EBACKOFF : ETUDE_SYNC_ETIMEOUT,
                      "%s (the next retry, in %lld ms, is past the deadline)", prev, (long long)wait);
            break;
        }
        attempt++;
        if (c->st)
            c->st->retries++;
        sleep_ms_c(c, wait);
    }
    free(body);
    if (rc)
        gql_clear(out);
    return rc;
}

static int store_tokens(etude_syncclient_t *c, const cJSON *auth)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(auth, "accessToken");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(auth, "refreshToken");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(auth, "user");
    const cJSON *uid = u ? cJSON_GetObjectItemCaseSensitive(u, "id") : NULL;
    const cJSON *un = u ? cJSON_GetObjectItemCaseSensitive(u, "name") : NULL;
    if (!cJSON_IsString(a) || !cJSON_IsString(r) || !cJSON_IsString(uid) || !cJSON_IsString(un) ||
        strlen(a->valuestring) >= sizeof c->access || strlen(r->valuestring) >= sizeof c->refresh ||
        strlen(uid->valuestring) >= sizeof c->user_id || strlen(un->valuestring) >= sizeof c->user)
        return fail(c, ETUDE_SYNC_EPROTOCOL, "%s: the token answer lacks accessToken, refreshToken or user",
                    c->server);
    snprintf(c->access, sizeof c->access, "%s", a->valuestring);
    snprintf(c->refresh, sizeof c->refresh, "%s", r->valuestring);
    snprintf(c->user_id, sizeof c->user_id, "%s", uid->valuestring);
    snprintf(c->user, sizeof c->user, "%s", un->valuestring);
    return token_save(c);
}

static int token_lock(etude_syncclient_t *c);
static void token_unlock(int fd);

static int refresh_tokens(etude_syncclient_t *c)
{
    /* Read, refresh and rewrite under the token lock, re-reading after taking it: another process
     * (the plugin, a second command) may have refreshed meanwhile, and the refresh token it used is
     * spent; its new tokens are in the file. */
    char mine[sizeof c->access];
    snprintf(mine, sizeof mine, "%s", c->access);
    int lk = token_lock(c);
    if (token_load(c) == 0 && !c->logged_in) {
        token_unlock(lk);
        return fail(c, ETUDE_SYNC_ENOTLOGGEDIN, "logged out meanwhile");
    }
    if (c->logged_in && strcmp(mine, c->access)) {
        token_unlock(lk);
        return 0;
    }
    const char *pause = getenv("ETUDE_SYNC_TEST_REFRESH_PAUSE_MS"); /* tests: widen the race window */
    if (pause && atoi(pause) > 0)
        sleep_ms_c(c, atoi(pause));
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "refreshToken", c->refresh);
    gql_result_t r;
    int rc = gql(c, "RefreshToken", "refreshToken", vars, 0, &r);
    if (rc) {
        token_unlock(lk);
        if (rc == ETUDE_SYNC_EPROTOCOL || rc == ETUDE_SYNC_EAUTH) {
            char why[sizeof c->err];
            snprintf(why, sizeof why, "%s", c->err);
            rc = fail(c, ETUDE_SYNC_EAUTH, "%.600s; run 'etude sync login' again", why);
        }
        return rc;
    }
    rc = store_tokens(c, r.data);
    token_unlock(lk);
    gql_clear(&r);
    return rc;
}

/* Nonzero when url is http:// to a host that is not loopback (127.0.0.0/8, ::1, localhost): tokens
 * and practice data would cross the network in clear text. */
static int insecure_http(const char *url)
{
    if (strncmp(url, "http://", 7))
        return 0;
    const char *h = url + 7, *at = NULL;
    for (const char *p = h; *p && *p != '/'; p++)
        if (*p == '@')
            at = p;
    if (at)
        h = at + 1;
    char host[256];
    size_t n = 0;
    if (*h == '[') {
        h++;
        while (h[n] && h[n] != ']' && n < sizeof host - 1)
            n++;
    } else {
        while (h[n] && h[n] != ':' && h[n] != '/' && h[n] != '?' && h[n] != '#' && n < sizeof host - 1)
            n++;
    }
    memcpy(host, h, n);
    host[n] = 0;
    if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
        return 0;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) != 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return !IN6_IS_ADDR_LOOPBACK(&a6);
    return 1;
}

/* An exclusive lock on home/sync-token.lock: one process at a time reads, refreshes and rewrites
 * the token (a refresh token is single-use). Returns the fd to pass to token_unlock, or -1. */
static int token_lock(etude_syncclient_t *c)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/sync-token.lock", c->home);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void token_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* ---- login -------------------------------------------------------------------------------- */

int etude_syncclient_login(etude_syncclient_t *c, const char *server_url, const char *user,
                           const char *password, const char *cacert)
{
    return etude_syncclient_login_opts(c, server_url, user, password, cacert, 0);
}

int etude_syncclient_login_opts(etude_syncclient_t *c, const char *server_url, const char *user,
                                const char *password, const char *cacert, unsigned flags)
{
    if (!server_url || (strncmp(server_url, "http://", 7) && strncmp(server_url, "https://", 8)))
        return fail(c, ETUDE_SYNC_EINVAL, "--server '%s': expected an http:// or https:// URL",
                    server_url ? server_url : "");
    int insecure_ok = (flags & ETUDE_SYNC_LOGIN_ALLOW_INSECURE_HTTP) != 0;
    if (insecure_http(server_url) && !insecure_ok)
        return fail(c, ETUDE_SYNC_EINVAL,
                    "--server '%s': plain http:// to a host that is not loopback would send the password and data "
                    "in clear text; use https:// or pass --allow-insecure-http",
                    server_url);
    if (strlen(server_url) >= sizeof c->server - 1)
        return fail(c, ETUDE_SYNC_EINVAL, "--server: URL too long");
    if (!user || !*user || strlen(user) >= sizeof c->user)
        return fail(c, ETUDE_SYNC_EINVAL, "--user: expected a name of 1 to %zu bytes", sizeof c->user - 1);
    if (cacert && *cacert) {
        if (access(cacert, R_OK) != 0)
            return fail(c, ETUDE_SYNC_EINVAL, "--cacert %s: %s", cacert, strerror(errno));
        char abs[1024];
        if (!realpath(cacert, abs))
            return fail(c, ETUDE_SYNC_EINVAL, "--cacert %s: %s", cacert, strerror(errno));
        snprintf(c->cacert, sizeof c->cacert, "%s", abs);
    } else {
        c->cacert[0] = 0;
    }
    snprintf(c->server, sizeof c->server, "%s", server_url);
    size_t n = strlen(c->server);
    while (n && c->server[n - 1] == '/')
        c->server[--n] = 0;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "username", user);
    cJSON_AddStringToObject(vars, "password", password ? password : "");
    gql_result_t r;
    int rc = gql(c, "Login", "login", vars, 0, &r);
    if (rc) {
        if (rc == ETUDE_SYNC_EPROTOCOL && strstr(c->err, "INVALID_CREDENTIALS"))
            rc = fail(c, ETUDE_SYNC_EAUTH, "login to %s as '%s': unknown username or wrong password",
                      c->server, user);
        c->logged_in = 0;
        return rc;
    }
    /* Accounts are partitioned in the store: logging in as another user makes that user's data the
     * visible one (the first account adopts the anonymous data); the previous account's queue, cursor,
     * conflicts and dead letters wait in its own partition for its next login. */
    char prev_server[1024] = "";
    meta_get(c, "server_url", prev_server, sizeof prev_server);
    c->allow_insecure_http = insecure_ok && insecure_http(c->server);
    int lk = token_lock(c);
    rc = store_tokens(c, r.data);
    token_unlock(lk);
    gql_clear(&r);
    if (rc)
        return rc;
    if ((rc = etude_store_set_account(c->store, c->user_id)))
        return sfail(c, rc);
    if (strcmp(prev_server, c->server))
        meta_set(c, "cursor", NULL); /* another server: pull from the start */
    meta_set(c, "user_name", c->user);
    meta_set(c, "server_url", c->server);
    retry_after_clear(c);
    set_state(c, "idle", "");
    c->logged_in = 1;
    return 0;
}

/* ---- local writes applied by sync ---------------------------------------------------------- */

/* A remote entity, checked field by field: a hostile or garbled server cannot write anything else. */
typedef struct remote {
    const char *id, *type, *created, *updated, *deleted;
    int64_t version;
    char *data; /* canonical text, malloc'd; NULL for a tombstone */
    char checksum[65];
} remote_t;

static int parse_remote(etude_syncclient_t *c, const cJSON *o, remote_t *r)
{
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(o))
        return fail(c, ETUDE_SYNC_EPROTOCOL, "entity: not an object");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"),
                *ty = cJSON_GetObjectItemCaseSensitive(o, "entityType"),
                *cr = cJSON_GetObjectItemCaseSensitive(o, "createdAt"),
                *up = cJSON_GetObjectItemCaseSensitive(o, "updatedAt"),
                *de = cJSON_GetObjectItemCaseSensitive(o, "deletedAt"),
                *ve = cJSON_GetObjectItemCaseSensitive(o, "syncVersion"),
                *cs = cJSON_GetObjectItemCaseSensitive(o, "checksum"),
                *da = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (!cJSON_IsString(id) || !etude_uuid_valid(id->valuestring))
        return fail(c, ETUDE_SYNC_EPROTOCOL, "entity.id: not a lowercase UUID");
    if (de && !cJSON_IsNull(de) && !cJSON_IsString(de))
        return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: deletedAt: not null or a string", id->valuestring);
    /* The same checks the server applied (etude_entity.h); never "too far ahead": the server's
     * clock decided that. */
    etude_entity_view_t view = {id->valuestring,
                                cJSON_GetStringValue(ty),
                                cJSON_GetStringValue(cr),
                                cJSON_GetStringValue(up),
                                cJSON_IsString(de) ? de->valuestring : NULL,
                                cJSON_IsString(de) ? NULL : da};
    etude_entity_fault_t fault;
    int vr = etude_entity_check(&view, 0, &fault);
    if (vr == ETUDE_ENOMEM)
        return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    if (vr)
        return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: %s: %s", id->valuestring, fault.field, fault.reason);
    if (!cJSON_IsNumber(ve) || ve->valuedouble < 1 || ve->valuedouble > 9e15 ||
        ve->valuedouble != floor(ve->valuedouble))
        return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: syncVersion: not a positive integer", id->valuestring);
    if (!cJSON_IsString(cs) || strlen(cs->valuestring) != 64)
        return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: checksum: not a SHA-256", id->valuestring);
    r->id = id->valuestring;
    r->type = ty->valuestring;
    r->created = cr->valuestring;
    r->updated = up->valuestring;
    r->deleted = cJSON_IsString(de) ? de->valuestring : NULL;
    r->version = (int64_t)ve->valuedouble;
    if (!r->deleted) {
        if (!cJSON_IsObject(da))
            return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: data: not an object", r->id);
        int cr2 = etude_canon_checksum(da, r->checksum, &r->data);
        if (cr2 == ETUDE_ENOMEM)
            return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
        if (cr2)
            return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: data: cannot be canonicalised", r->id);
        if (strcmp(r->checksum, cs->valuestring)) {
            free(r->data);
            r->data = NULL;
            return fail(c, ETUDE_SYNC_EPROTOCOL, "entity %s: checksum does not match its data", r->id);
        }
    }
    return 0;
}

static int has_outbox(etude_syncclient_t *c, const char *id)
{
    int n = etude_store_sync_outbox_rows(c->store, id);
    return n < 0 ? 0 : n;
}

/* Write the remote version as the local row (synced). Inside the caller's transaction. */
static int write_remote(etude_syncclient_t *c, const remote_t *r, int *applied)
{
    etude_remote_t x = {r->id, r->type, r->created, r->updated, r->deleted, r->version, r->data};
    int rc = etude_store_sync_write_remote(c->store, &x, applied);
    return rc ? sfail(c, rc) : 0;
}

static int delete_outbox(etude_syncclient_t *c, const char *id, int64_t max_seq)
{
    int rc = etude_store_sync_settle(c->store, id, max_seq);
    return rc ? sfail(c, rc) : 0;
}

/* Local changes of id queued after the upload that carried changes up to max_seq (edits made while
 * the request was in flight). */
static int newer_outbox(etude_syncclient_t *c, const char *id, int64_t max_seq)
{
    int n = etude_store_sync_newer_rows(c->store, id, max_seq);
    return n < 0 ? 0 : n;
}

static int record_conflict(etude_syncclient_t *c, const char *id, const char *type, const char *local_payload,
                           const char *remote_payload, int64_t local_version, int64_t remote_version,
                           const char *resolution)
{
    int rc = etude_store_sync_record_conflict(c->store, id, type, local_payload, remote_payload, local_version,
                                              remote_version, resolution);
    return rc ? sfail(c, rc) : 0;
}

static int dead_letter(etude_syncclient_t *c, const char *id, int64_t max_seq, const char *reason, long status)
{
    int rc = etude_store_sync_dead_letter(c->store, id, max_seq, reason, status, NULL);
    if (rc)
        return sfail(c, rc);
    if (c->st)
        c->st->dead_letters++;
    return 0;
}

/* ---- push --------------------------------------------------------------------------------- */

typedef struct item {
    char id[37];
    char type[16];
    int64_t max_seq;
    int64_t version;
    char updated[32];
    char checksum[65];
    int deleted;
    char *payload; /* local entity as export JSON (for conflict records) */
} item_t;

typedef struct batch {
    item_t *items;
    int n;
    cJSON *vars;
} batch_t;

static void batch_clear(batch_t *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->items[i].payload);
    free(b->items);
    cJSON_Delete(b->vars);
    memset(b, 0, sizeof *b);
}

/* The next batch: distinct entities with queued changes, oldest first, their current state. */
static int build_batch(etude_syncclient_t *c, int max, batch_t *b)
{
    memset(b, 0, sizeof *b);
    b->items = calloc((size_t)max, sizeof *b->items);
    if (!b->items)
        return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    char (*ids)[37] = calloc((size_t)max, 37);
    if (!ids)
        return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    int nids = 0;
    int rc = etude_store_sync_queued_ids(c->store, max, ids, &nids);
    if (rc) {
        free(ids);
        return sfail(c, rc);
    }
    int next_id = 0;
    cJSON *vars = cJSON_CreateObject();
    cJSON *batch = cJSON_AddObjectToObject(vars, "batch");
    cJSON *ents = cJSON_CreateArray();
    size_t bytes = 256;
    while (next_id < nids) {
        etude_sync_row_t row;
        int r = etude_store_sync_row(c->store, ids[next_id++], &row);
        if (r == ETUDE_STORE_ENOTFOUND)
            continue;
        if (r) {
            rc = sfail(c, r);
            break;
        }
        item_t *it = &b->items[b->n];
        snprintf(it->id, sizeof it->id, "%s", row.id);
        it->max_seq = row.max_seq;
        snprintf(it->type, sizeof it->type, "%s", row.type);
        snprintf(it->updated, sizeof it->updated, "%s", row.updated_at);
        it->deleted = row.deleted_at[0] != 0;
        it->version = row.version;
        snprintf(it->checksum, sizeof it->checksum, "%s", row.checksum);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", it->id);
        cJSON_AddStringToObject(e, "entityType", it->type);
        cJSON_AddStringToObject(e, "createdAt", row.created_at);
        cJSON_AddStringToObject(e, "updatedAt", it->updated);
        if (it->deleted)
            cJSON_AddStringToObject(e, "deletedAt", row.deleted_at);
        else
            cJSON_AddNullToObject(e, "deletedAt");
        cJSON_AddNumberToObject(e, "baseVersion", (double)it->version);
        cJSON_AddStringToObject(e, "checksum", it->checksum);
        cJSON *d = it->deleted ? cJSON_CreateNull() : cJSON_Parse(row.data);
        free(row.data);
        cJSON_AddItemToObject(e, "data", d ? d : cJSON_CreateObject());
        char *pl = etude_canon_print(e);
        size_t sz = pl ? strlen(pl) : 0;
        if (b->n > 0 && bytes + sz > c->cfg.batch_bytes) {
            free(pl);
            cJSON_Delete(e);
            break;
        }
        it->payload = pl;
        bytes += sz + 1;
        cJSON_AddItemToArray(ents, e);
        b->n++;
        if (b->n >= max)
            break;
    }
    free(ids);
    char bid[37];
    etude_uuid_new(bid);
    cJSON_AddStringToObject(batch, "batchId", bid);
    cJSON_AddStringToObject(batch, "deviceId", c->device_id);
    cJSON_AddNumberToObject(batch, "mutationSeq", 0); /* set when sent */
    cJSON_AddItemToObject(batch, "entities", ents);
    b->vars = vars;
    return rc;
}

static item_t *find_item(batch_t *b, const char *id)
{
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->items[i].id, id))
            return &b->items[i];
    return NULL;
}

static int mark_accepted(etude_syncclient_t *c, const item_t *it, int64_t version)
{
    int rc = etude_store_sync_mark_accepted(c->store, it->id, version, it->max_seq);
    return rc ? sfail(c, rc) : 0;
}

static int set_version(etude_syncclient_t *c, const char *id, int64_t version)
{
    int rc = etude_store_sync_set_version(c->store, id, version);
    return rc ? sfail(c, rc) : 0;
}

/* Which side wins a conflict: 1 local, 0 remote, -1 manual. A deletion always wins over an edit,
 * so an offline deletion never comes back. */
static int decide(etude_syncclient_t *c, const item_t *it, const remote_t *srv)
{
    if (srv->deleted && !it->deleted)
        return 0;
    if (it->deleted && !srv->deleted)
        return 1;
    switch (c->cfg.strategy) {
    case ETUDE_SYNC_SERVER_WINS: return 0;
    case ETUDE_SYNC_CLIENT_WINS: return 1;
    case ETUDE_SYNC_MANUAL: return -1;
    default: break;
    }
    int64_t lu = 0, ru = 0;
    etude_time_parse(it->updated, &lu);
    etude_time_parse(srv->updated, &ru);
    if (lu != ru)
        return lu > ru;
    /* Equal times: a deterministic tie-break both devices agree on. */
    return strcmp(it->checksum, srv->checksum) > 0;
}

static int settle_conflict(etude_syncclient_t *c, item_t *it, const cJSON *conf)
{
    remote_t srv;
    int rc = parse_remote(c, cJSON_GetObjectItemCaseSensitive(conf, "server"), &srv);
    if (rc)
        return rc;
    if (strcmp(srv.id, it->id)) {
        free(srv.data);
        return fail(c, ETUDE_SYNC_EPROTOCOL, "conflict for %s carries entity %s", it->id, srv.id);
    }
    char *remote_payload = etude_canon_print(cJSON_GetObjectItemCaseSensitive(conf, "server"));
    if (c->st)
        c->st->conflicts++;
    /* Our own earlier write (a reply lost to a crash or a cut connection): not a conflict. */
    int same = (srv.deleted && it->deleted) || (!srv.deleted && !it->deleted && !strcmp(srv.checksum, it->checksum));
    int who = same ? 2 : decide(c, it, &srv);
    if (same) {
        if (c->st)
            c->st->conflicts--;
        rc = mark_accepted(c, it, srv.version);
    } else if (who == 1) {
        /* Local wins: rebase on the server's version; it goes up in the next batch. */
        rc = set_version(c, it->id, srv.version);
        if (!rc)
            rc = record_conflict(c, it->id, it->type, it->payload, remote_payload ? remote_payload : "{}",
                                 it->version, srv.version, "local");
    } else if (who == 0 && !srv.deleted && newer_outbox(c, it->id, it->max_seq)) {
        /* The server's version beats what was sent, but the row was edited again while the request
         * was in flight: that newer edit is kept, rebased on the server's version and sent next;
         * only the changes the upload carried are settled. The sent version is the loser. */
        rc = set_version(c, it->id, srv.version);
        if (!rc)
            rc = delete_outbox(c, it->id, it->max_seq);
        if (!rc)
            rc = record_conflict(c, it->id, it->type, it->payload, remote_payload ? remote_payload : "{}",
                                 it->version, srv.version, "remote");
    } else if (who == 0) {
        int applied = 0;
        /* A remote tombstone wins over every local edit, the ones made during the request too
         * (a deletion never comes back): each of those is kept as a losing version. */
        if (srv.deleted && newer_outbox(c, it->id, it->max_seq)) {
            etude_entity_t cur;
            memset(&cur, 0, sizeof cur);
            if (etude_store_get(c->store, it->id, &cur) == 0) {
                char *pl = etude_entity_json(&cur);
                if (pl)
                    rc = record_conflict(c, it->id, it->type, pl, remote_payload ? remote_payload : "{}",
                                         it->version, srv.version, "remote");
                free(pl);
            }
            etude_entity_clear(&cur);
        }
        /* Make room for an older-or-equal remote version to land. */
        if (!rc && (rc = etude_store_sync_clear_for_remote(c->store, it->id)))
            rc = sfail(c, rc);
        if (!rc)
            rc = write_remote(c, &srv, &applied);
        if (!rc)
            rc = delete_outbox(c, it->id, srv.deleted ? INT64_MAX : it->max_seq);
        if (!rc)
            rc = record_conflict(c, it->id, it->type, it->payload, remote_payload ? remote_payload : "{}",
                                 it->version, srv.version, "remote");
    } else {
        if ((rc = etude_store_sync_mark_conflict(c->store, it->id)))
            rc = sfail(c, rc);
        if (!rc)
            rc = record_conflict(c, it->id, it->type, it->payload, remote_payload ? remote_payload : "{}",
                                 it->version, srv.version, NULL);
    }
    free(remote_payload);
    free(srv.data);
    return rc;
}

/* Give id the earlier creation time created (a merged duplicate's), queued for upload like any
 * local change. Inside the caller's transaction. */
static int merge_created_at(etude_syncclient_t *c, const char *id, const char *created)
{
    int rc = etude_store_sync_merge_created_at(c->store, id, created);
    return rc ? sfail(c, rc) : 0;
}

/* Merges whose kept entity had not arrived yet (see merge_duplicate), applied once it has. */
static int apply_pending_merges(etude_syncclient_t *c)
{
    char ids[32][37], created[32][32];
    int n = 0;
    int rc = etude_store_sync_waiting_merges(c->store, 32, ids, created, &n);
    if (rc)
        return sfail(c, rc);
    for (int i = 0; !rc && i < n; i++) {
        if ((rc = begin(c)))
            break;
        rc = merge_created_at(c, ids[i], created[i]);
        if (!rc) {
            char key[80];
            snprintf(key, sizeof key, "merge_created:%s", ids[i]);
            rc = meta_set(c, key, NULL);
        }
        rc = commit_or_rollback(c, rc);
    }
    return rc;
}

typedef struct dup {
    char id[37], of[37], type[16];
    int64_t version;
    int64_t max_seq; /* the last outbox row the upload carried */
} dup_t;

/* After the batch: the duplicate is folded into the entity the server already holds. Entities
 * whose data.sessionId names it are repointed (local edits, queued as usual); it is removed
 * locally, or tombstoned when the server already knows it. */
static int merge_duplicate(etude_syncclient_t *c, const dup_t *d)
{
    char ids[64][37];
    char *datas[64];
    int nref = 0, rc = 0;
    if (newer_outbox(c, d->id, d->max_seq))
        return 0; /* edited since the upload: sent again next, never removed under the edit */
    do {
        if ((rc = etude_store_sync_refs(c->store, d->id, 64, ids, datas, &nref)))
            return sfail(c, rc);
        for (int i = 0; i < nref; i++) {
            cJSON *o = datas[i] ? cJSON_Parse(datas[i]) : NULL;
            if (o) {
                cJSON_ReplaceItemInObjectCaseSensitive(o, "sessionId", cJSON_CreateString(d->of));
                char *t = etude_canon_print(o);
                if (!t && !rc)
                    rc = fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
                if (t && !rc && etude_store_update(c->store, ids[i], t))
                    rc = fail(c, ETUDE_SYNC_EIO, "repointing %s: %s", ids[i], etude_store_errmsg(c->store));
                free(t);
                cJSON_Delete(o);
            } else if (!rc) {
                rc = fail(c, ETUDE_SYNC_EIO, "repointing %s: its data is not JSON", ids[i]);
            }
            free(datas[i]);
        }
        if (rc)
            return rc;
    } while (nref == 64); /* the updated ones no longer match */
    if (d->version > 0) {
        /* The server holds this id too: a tombstone keeps the server's copy from coming back. */
        if (etude_store_delete(c->store, d->id))
            return fail(c, ETUDE_SYNC_EIO, "merging duplicate %s: %s", d->id, etude_store_errmsg(c->store));
        return 0;
    }
    if ((rc = begin(c)))
        return rc;
    /* The kept entity inherits the earlier creation time: now if it is here, else once pulled. */
    char created[32] = "";
    int kept_here = 0;
    if ((rc = etude_store_sync_dup_state(c->store, d->id, d->of, created, &kept_here)))
        rc = sfail(c, rc);
    if (!rc && created[0] && kept_here) {
        rc = merge_created_at(c, d->of, created);
    } else if (!rc && created[0]) {
        char key[80];
        snprintf(key, sizeof key, "merge_created:%s", d->of);
        rc = meta_set(c, key, created);
    }
    if (!rc && newer_outbox(c, d->id, d->max_seq))
        return commit_or_rollback(c, rc);
    if (!rc && (rc = etude_store_sync_drop_unsynced(c->store, d->id, d->type)))
        rc = sfail(c, rc);
    if (!rc)
        rc = delete_outbox(c, d->id, d->max_seq);
    rc = commit_or_rollback(c, rc);
    if (!rc && c->st)
        c->st->duplicates++;
    return rc;
}

/* Apply an UploadBatchResult to the batch's entities in one transaction. */
static int apply_upload(etude_syncclient_t *c, batch_t *b, const cJSON *res, dup_t **dups, int *ndups)
{
    *dups = NULL;
    *ndups = 0;
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(res, "accepted"),
                *con = cJSON_GetObjectItemCaseSensitive(res, "conflicts"),
                *dup = cJSON_GetObjectItemCaseSensitive(res, "duplicates"),
                *rej = cJSON_GetObjectItemCaseSensitive(res, "rejected");
    if (!cJSON_IsArray(acc) || !cJSON_IsArray(con) || !cJSON_IsArray(dup) || !cJSON_IsArray(rej))
        return fail(c, ETUDE_SYNC_EPROTOCOL, "uploadBatch: the answer lacks accepted/conflicts/duplicates/rejected");
    int rc = begin(c);
    if (rc)
        return rc;
    const cJSON *x;
    cJSON_ArrayForEach(x, acc)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "syncVersion");
        item_t *it = cJSON_IsString(id) ? find_item(b, id->valuestring) : NULL;
        if (!it || !cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9e15)
            continue; /* not ours, or garbled: left queued, sent again */
        if ((rc = mark_accepted(c, it, (int64_t)v->valuedouble)))
            break;
        if (c->st)
            c->st->uploaded++;
    }
    cJSON_ArrayForEach(x, con)
    {
        if (rc)
            break;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
        item_t *it = cJSON_IsString(id) ? find_item(b, id->valuestring) : NULL;
        if (!it)
            continue;
        int r2 = settle_conflict(c, it, x);
        if (r2 == ETUDE_SYNC_EPROTOCOL)
            continue; /* a garbled conflict: left queued */
        rc = r2;
    }
    int nd = cJSON_GetArraySize(dup);
    if (!rc && nd > 0) {
        *dups = calloc((size_t)nd, sizeof **dups);
        if (!*dups)
            rc = fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    }
    cJSON_ArrayForEach(x, dup)
    {
        if (rc)
            break;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(x, "duplicateOf");
        item_t *it = cJSON_IsString(id) ? find_item(b, id->valuestring) : NULL;
        if (!it || !cJSON_IsString(of) || !etude_uuid_valid(of->valuestring) || !strcmp(of->valuestring, it->id))
            continue;
        if (strcmp(it->type, "practiceSession")) {
            /* Only a practice session recorded twice is one real-world thing (etude_entity.h);
             * notes, goals and logs with equal contents stay distinct. A server that says
             * otherwise did not store the change: it is kept, with the reason, never merged. */
            rc = dead_letter(c, it->id, it->max_seq,
                             "duplicateOf: the server merged a distinct entity (only practice sessions are "
                             "duplicates); kept here",
                             200);
            continue;
        }
        if (newer_outbox(c, it->id, it->max_seq)) {
            /* Edited while the upload was in flight: the sent changes are settled, the newer
             * edit is sent next (and merged then if it still is the same session). */
            rc = delete_outbox(c, it->id, it->max_seq);
            continue;
        }
        dup_t *d = &(*dups)[(*ndups)++];
        snprintf(d->id, sizeof d->id, "%s", it->id);
        snprintf(d->of, sizeof d->of, "%s", of->valuestring);
        snprintf(d->type, sizeof d->type, "%s", it->type);
        d->version = it->version;
        d->max_seq = it->max_seq;
        /* Its queued changes are settled by the merge. */
        rc = delete_outbox(c, it->id, it->max_seq);
    }
    cJSON_ArrayForEach(x, rej)
    {
        if (rc)
            break;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(x, "field");
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(x, "reason");
        item_t *it = cJSON_IsString(id) ? find_item(b, id->valuestring) : NULL;
        if (!it)
            continue;
        char reason[600];
        snprintf(reason, sizeof reason, "%s: %s", cJSON_IsString(f) ? f->valuestring : "entity",
                 cJSON_IsString(why) ? why->valuestring : "rejected");
        rc = dead_letter(c, it->id, it->max_seq, reason, 200);
    }
    return commit_or_rollback(c, rc);
}

/* The device's batch sequence: bumped and committed before a batch leaves, so a restarted client
 * never reuses one. */
static int64_t next_upload_seq(etude_syncclient_t *c)
{
    int64_t v = meta_int(c, "upload_seq", 0) + 1;
    if (meta_set_int(c, "upload_seq", v))
        return -1;
    return v;
}

static int push(etude_syncclient_t *c)
{
    int max = c->cfg.batch_max;
    for (int round = 0; round < 100000; round++) {
        batch_t b;
        int rc = build_batch(c, max, &b);
        if (rc || b.n == 0) {
            batch_clear(&b);
            return rc;
        }
        int64_t seq = next_upload_seq(c);
        if (seq < 0) {
            batch_clear(&b);
            return ETUDE_SYNC_EIO; /* meta_set said why */
        }
        cJSON *batch = cJSON_GetObjectItemCaseSensitive(b.vars, "batch");
        cJSON_ReplaceItemInObjectCaseSensitive(batch, "mutationSeq", cJSON_CreateNumber((double)seq));
        cJSON *vars = b.vars;
        b.vars = NULL;
        gql_result_t r;
        rc = gql(c, "UploadBatch", "uploadBatch", vars, 1, &r);
        if (c->after_send)
            c->after_send(c->after_send_ctx);
        if (rc == ETUDE_SYNC_EPROTOCOL) {
            if (strstr(c->err, "BATCH_TOO_LARGE") || strstr(c->err, "PAYLOAD_TOO_LARGE")) {
                if (b.n > 1) {
                    max = b.n / 2;
                    batch_clear(&b);
                    continue;
                }
            } else if (strstr(c->err, "MUTATION_SEQ_NOT_INCREASING")) {
                const char *p = strstr(c->err, "last sequence ");
                if (p)
                    meta_set_int(c, "upload_seq", strtoll(p + 14, NULL, 10));
                batch_clear(&b);
                continue;
            }
            /* A 4xx for the whole batch: its changes go to the dead letters with the reason. */
            char reason[sizeof c->err];
            snprintf(reason, sizeof reason, "%s", c->err);
            int r2 = begin(c);
            for (int i = 0; !r2 && i < b.n; i++)
                r2 = dead_letter(c, b.items[i].id, b.items[i].max_seq, reason, 400);
            r2 = commit_or_rollback(c, r2);
            batch_clear(&b);
            if (r2)
                return r2;
            continue;
        }
        if (rc) {
            if ((rc == ETUDE_SYNC_ESERVER || rc == ETUDE_SYNC_ENETWORK) &&
                c->cfg.past_limit == ETUDE_SYNC_PAST_LIMIT_DEAD_LETTER && strstr(c->err, "gave up after")) {
                char reason[sizeof c->err];
                snprintf(reason, sizeof reason, "%s", c->err);
                int r2 = begin(c);
                for (int i = 0; !r2 && i < b.n; i++)
                    r2 = dead_letter(c, b.items[i].id, b.items[i].max_seq, reason, 0);
                commit_or_rollback(c, r2);
            }
            batch_clear(&b);
            return rc;
        }
        dup_t *dups = NULL;
        int nd = 0;
        rc = apply_upload(c, &b, r.data, &dups, &nd);
        gql_clear(&r);
        batch_clear(&b);
        for (int i = 0; !rc && i < nd; i++)
            rc = merge_duplicate(c, &dups[i]);
        free(dups);
        if (rc)
            return rc;
        if (c->deadline_us && etude_sync_now_us() > c->deadline_us)
            return fail(c, ETUDE_SYNC_ETIMEOUT, "the deadline passed with %lld change(s) still queued",
                        (long long)etude_store_outbox_count(c->store));
    }
    return 0;
}

/* ---- pull --------------------------------------------------------------------------------- */

static int apply_page(etude_syncclient_t *c, const cJSON *page, int *more)
{
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(page, "changes");
    const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(page, "cursor");
    const cJSON *hm = cJSON_GetObjectItemCaseSensitive(page, "hasMore");
    if (!cJSON_IsArray(changes) || !cJSON_IsString(cursor) || !cursor->valuestring[0] ||
        strlen(cursor->valuestring) > 200 || !cJSON_IsBool(hm))
        return fail(c, ETUDE_SYNC_EPROTOCOL, "syncChanges: the page lacks changes, cursor or hasMore");
    *more = cJSON_IsTrue(hm);
    char prev[256] = "";
    meta_get(c, "cursor", prev, sizeof prev);
    if (*more && !strcmp(prev, cursor->valuestring) && cJSON_GetArraySize(changes) == 0)
        return fail(c, ETUDE_SYNC_EPROTOCOL, "syncChanges: hasMore without progress");
    int rc = begin(c);
    if (rc)
        return rc;
    const cJSON *x;
    cJSON_ArrayForEach(x, changes)
    {
        remote_t r;
        if (parse_remote(c, x, &r)) {
            free(r.data);
            continue; /* an entity this client cannot trust is skipped, never written */
        }
        if (c->reconcile && (rc = etude_store_sync_seen_add(c->store, r.id, r.version))) {
            free(r.data);
            rc = sfail(c, rc);
            break;
        }
        int applied = 0;
        /* Local changes still queued are settled by the next upload's conflict answer; an open
         * (manual) conflict learns the newer remote version, so resolving it never installs a stale one. */
        if (!has_outbox(c, r.id)) {
            rc = write_remote(c, &r, &applied);
        } else {
            char *payload = cJSON_PrintUnformatted(x);
            if (payload && (rc = etude_store_sync_conflict_learn(c->store, r.id, payload, r.version)))
                rc = sfail(c, rc);
            free(payload);
        }
        free(r.data);
        if (rc)
            break;
        if (applied && c->st)
            c->st->downloaded++;
    }
    if (!rc)
        rc = meta_set(c, "cursor", cursor->valuestring);
    return commit_or_rollback(c, rc);
}

static int pull(etude_syncclient_t *c)
{
    for (int pages = 0; pages < 1000000; pages++) {
        char cur[256] = "";
        int have = meta_get(c, "cursor", cur, sizeof cur) == 0;
        cJSON *vars = cJSON_CreateObject();
        if (have)
            cJSON_AddStringToObject(vars, "since", cur);
        else
            cJSON_AddNullToObject(vars, "since");
        cJSON_AddNumberToObject(vars, "limit", c->cfg.page_size);
        gql_result_t r;
        int rc = gql(c, "SyncChanges", "syncChanges", vars, 1, &r);
        if (rc == ETUDE_SYNC_EPROTOCOL && strstr(c->err, "INVALID_CURSOR") && !c->reconcile) {
            /* The server lost history (a restored backup, another epoch): pull everything, noting
             * what it holds, then queue what it lacks or holds older (both directions). */
            if ((rc = meta_set(c, "cursor", NULL)))
                return rc;
            if ((rc = etude_store_sync_seen_reset(c->store)))
                return sfail(c, rc);
            c->reconcile = 1;
            continue;
        }
        if (rc) {
            c->reconcile = 0;
            return rc;
        }
        int more = 0;
        rc = apply_page(c, r.data, &more);
        gql_clear(&r);
        if (!rc && !more && c->reconcile) {
            int queued = 0;
            c->reconcile = 0;
            if (!(rc = begin(c))) {
                if ((rc = etude_store_sync_requeue_unseen(c->store, &queued)))
                    rc = sfail(c, rc);
                rc = commit_or_rollback(c, rc);
            }
            if (!rc && c->st)
                c->st->reconciled += queued;
        }
        if (rc)
            c->reconcile = 0;
        if (rc || !more)
            return rc;
        if (c->deadline_us && etude_sync_now_us() > c->deadline_us)
            return fail(c, ETUDE_SYNC_ETIMEOUT, "the deadline passed during the pull");
    }
    return 0;
}

/* ---- the device's own sync status, reported after each sync ------------------------------------- */

/* The dead letters a report carries (the newest), the length of a reason, how old an unchanged
 * report may get before it is sent again, and the one request's timeout. */
#define STATUS_REPORT_MAX_DEAD 50
#define STATUS_REPORT_REASON_CHARS 500
#define STATUS_REPORT_EVERY_MS INT64_C(300000)
#define STATUS_REPORT_TIMEOUT_S 10

/* A copy of s (malloc'd) of at most max_chars code points of valid UTF-8: the bytes of an invalid
 * sequence become '?'. */
static char *utf8_cut(const char *s, size_t max_chars)
{
    size_t n = strlen(s), k = 0, chars = 0;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n && chars < max_chars; chars++) {
        unsigned char b = (unsigned char)s[i];
        size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
        if (len && i + len <= n && etude_utf8_valid(s + i, len)) {
            memcpy(out + k, s + i, len);
            k += len;
            i += len;
        } else {
            out[k++] = '?';
            i++;
        }
    }
    out[k] = 0;
    return out;
}

char *etude_sync_status_report_json(etude_syncclient_t *c, char sig[65])
{
    char last[64] = "";
    if (meta_get(c, "last_sync_at", last, sizeof last))
        etude_time_format_ms(etude_store_now_ms(c->store), last);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !etude_utf8_valid(host, strlen(host)))
        host[0] = 0;
    int64_t pending = etude_store_outbox_count(c->store);
    int64_t conflicts = etude_store_sync_open_conflicts(c->store);
    cJSON *dead = etude_store_sync_dead_letters_newest(c->store, STATUS_REPORT_MAX_DEAD);
    if (pending < 0 || conflicts < 0 || !dead) {
        cJSON_Delete(dead);
        fail(c, ETUDE_SYNC_EIO, "status report: %s", etude_store_errmsg(c->store));
        return NULL;
    }
    cJSON *d;
    cJSON_ArrayForEach(d, dead)
    {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(d, "reason");
        char *cut = utf8_cut(cJSON_GetStringValue(why) ? why->valuestring : "", STATUS_REPORT_REASON_CHARS);
        if (!cut) {
            cJSON_Delete(dead);
            return NULL;
        }
        cJSON_ReplaceItemInObjectCaseSensitive(d, "reason", cJSON_CreateString(cut));
        free(cut);
    }
    cJSON *vars = cJSON_CreateObject();
    cJSON *st = cJSON_AddObjectToObject(vars, "status");
    cJSON_AddStringToObject(st, "deviceId", c->device_id);
    if (host[0])
        cJSON_AddStringToObject(st, "name", host);
    else
        cJSON_AddNullToObject(st, "name");
    cJSON_AddStringToObject(st, "lastSyncAt", last);
    cJSON_AddNumberToObject(st, "pending", (double)pending);
    cJSON_AddNumberToObject(st, "conflicts", (double)conflicts);
    cJSON_AddItemToObject(st, "deadLetters", dead);
    /* What the dashboard shows apart from the time: an unchanged state is not sent again (until it
     * is STATUS_REPORT_EVERY_MS old); the server is part of it, so a new server gets a report. */
    cJSON *same = cJSON_Duplicate(st, 1);
    if (same) {
        cJSON_DeleteItemFromObjectCaseSensitive(same, "lastSyncAt");
        cJSON_AddStringToObject(same, "server", c->server);
    }
    char *sig_text = same ? etude_canon_print(same) : NULL;
    cJSON_Delete(same);
    char *text = sig_text ? etude_canon_print(vars) : NULL;
    cJSON_Delete(vars);
    if (!text) {
        free(sig_text);
        fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
        return NULL;
    }
    etude_sha256_hex(sig_text, strlen(sig_text), sig);
    free(sig_text);
    return text;
}

int etude_sync_status_report_due(etude_syncclient_t *c, const char sig[65])
{
    char prev[80] = "";
    meta_get(c, "status_report_sig", prev, sizeof prev);
    int64_t at = meta_int(c, "status_report_at_ms", 0);
    int64_t age = etude_store_now_ms(c->store) - at;
    /* A clock set back (age < 0) does not hold a report back. */
    if (prev[0] && at > 0 && age >= 0 && age < STATUS_REPORT_EVERY_MS &&
        (!strcmp(prev, sig) || !strcmp(prev, "unsupported")))
        return 0;
    return 1;
}

/* After a completed sync: report this device's state to the server (ReportSyncStatus) unless the
 * same was reported less than STATUS_REPORT_EVERY_MS ago. One request, no retry, a short timeout
 * cut at the sync's deadline (none when it has passed), no Retry-After kept: whatever happens, the
 * sync's result and message stay as they were. A server
 * without the document (an older etude-syncd) is asked again only after STATUS_REPORT_EVERY_MS.
 * The outcome is noted in sync_meta (status_report_error). Returns 1 sent, 0 not due, -1 failed. */
static int status_report(etude_syncclient_t *c, int64_t deadline_us)
{
    if (deadline_us && etude_sync_now_us() >= deadline_us)
        return 0; /* the caller's time is up: the next sync reports */
    char acct[128] = "";
    etude_store_account(c->store, acct, sizeof acct);
    if (strcmp(acct, c->user_id))
        return 0; /* another account is active in the store now: never sent under this one's token */
    char keep_err[sizeof c->err];
    snprintf(keep_err, sizeof keep_err, "%s", c->err);
    char sig[65];
    char *text = etude_sync_status_report_json(c, sig);
    int out = -1;
    if (!text) {
        meta_set(c, "status_report_error", c->err);
    } else if (!etude_sync_status_report_due(c, sig)) {
        out = 0;
    } else {
        cJSON *req = cJSON_Parse(text);
        cJSON *vars = req ? cJSON_DetachItemFromObjectCaseSensitive(req, "status") : NULL;
        cJSON_Delete(req);
        cJSON *v = cJSON_CreateObject();
        if (v && vars)
            cJSON_AddItemToObject(v, "status", vars);
        else
            cJSON_Delete(vars);
        long keep_timeout = c->cfg.request_timeout_s;
        int keep_retries = c->cfg.max_retries;
        c->cfg.request_timeout_s = keep_timeout < STATUS_REPORT_TIMEOUT_S ? keep_timeout : STATUS_REPORT_TIMEOUT_S;
        c->cfg.max_retries = 0;
        c->keep_retry_after = 1;
        c->deadline_us = deadline_us; /* the request is cut at the sync's deadline too */
        gql_result_t r;
        int rc = gql(c, "ReportSyncStatus", "reportSyncStatus", v, 1, &r);
        c->deadline_us = 0;
        c->keep_retry_after = 0;
        c->cfg.request_timeout_s = keep_timeout;
        c->cfg.max_retries = keep_retries;
        int64_t now = etude_store_now_ms(c->store);
        if (rc == 0) {
            gql_clear(&r);
            meta_set(c, "status_report_sig", sig);
            meta_set_int(c, "status_report_at_ms", now);
            meta_set(c, "status_report_error", NULL);
            out = 1;
        } else {
            if (strstr(c->err, "PERSISTED_QUERY_NOT_FOUND")) {
                /* an etude-syncd from before the dashboard: it does not know the document */
                meta_set(c, "status_report_sig", "unsupported");
                meta_set_int(c, "status_report_at_ms", now);
            }
            meta_set(c, "status_report_error", c->err);
        }
    }
    free(text);
    snprintf(c->err, sizeof c->err, "%s", keep_err);
    return out;
}

/* ---- sync --------------------------------------------------------------------------------- */

int etude_syncclient_sync(etude_syncclient_t *c, int full, int64_t deadline_us, etude_sync_stats_t *stats)
{
    etude_sync_stats_t local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    c->err[0] = 0;
    if (!c->logged_in)
        return fail(c, ETUDE_SYNC_ENOTLOGGEDIN, "not logged in (run 'etude sync login --server URL --user NAME')");
    if (insecure_http(c->server) && !c->allow_insecure_http)
        return fail(c, ETUDE_SYNC_EINVAL,
                    "%s: plain http:// to a host that is not loopback; log in again with https:// or "
                    "--allow-insecure-http",
                    c->server);
    int64_t wait = retry_after_left(c);
    if (wait > 0) {
        if (deadline_us && etude_sync_now_us() + wait * 1000 > deadline_us) {
            stats->pending = etude_store_outbox_count(c->store);
            return fail(c, ETUDE_SYNC_EBACKOFF, "the server asked to retry after %.1f s (Retry-After)",
                        (double)wait / 1000.0);
        }
        sleep_ms_c(c, wait);
    }
    retry_after_clear(c);
    /* Times a wrong clock put ahead of corrected now do not go up as they are. */
    if (etude_store_clamp_queued_times(c->store))
        return sfail(c, ETUDE_STORE_EIO);
    c->st = stats;
    c->deadline_us = deadline_us;
    set_state(c, "syncing", NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "full", full);
    cJSON_AddNumberToObject(o, "pending", (double)etude_store_outbox_count(c->store));
    publish(c, "sync:started", o);
    int rc = 0;
    if (full)
        rc = meta_set(c, "cursor", NULL);
    /* Push first (our changes become conflicts, not overwrites), pull, and push again what the
     * pull's merges queued (repointed references). */
    for (int round = 0; !rc && round < 3; round++) {
        rc = push(c);
        if (!rc)
            rc = pull(c);
        if (!rc)
            rc = apply_pending_merges(c);
        if (!rc && etude_store_outbox_count(c->store) == 0)
            break;
    }
    stats->pending = etude_store_outbox_count(c->store);
    c->st = NULL;
    c->deadline_us = 0;
    if (rc) {
        set_state(c, rc == ETUDE_SYNC_ENETWORK ? "offline" : "error", c->err);
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", c->err);
        cJSON_AddStringToObject(o, "code", etude_sync_strerror(rc));
        cJSON_AddNumberToObject(o, "pending", (double)stats->pending);
        publish(c, "sync:error", o);
        return rc;
    }
    char iso[32];
    etude_time_format_ms(etude_store_now_ms(c->store), iso);
    meta_set(c, "last_sync_at", iso);
    set_state(c, "idle", "");
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "uploaded", stats->uploaded);
    cJSON_AddNumberToObject(o, "downloaded", stats->downloaded);
    cJSON_AddNumberToObject(o, "conflicts", stats->conflicts);
    cJSON_AddNumberToObject(o, "duplicates", stats->duplicates);
    cJSON_AddNumberToObject(o, "pending", (double)stats->pending);
    publish(c, "sync:completed", o);
    stats->status_report = status_report(c, deadline_us);
    return 0;
}

int etude_syncclient_logout(etude_syncclient_t *c, int64_t deadline_us, int64_t *pending)
{
    *pending = etude_store_outbox_count(c->store);
    if (!c->logged_in)
        return fail(c, ETUDE_SYNC_ENOTLOGGEDIN, "not logged in");
    int src = etude_syncclient_sync(c, 0, deadline_us, NULL);
    char sync_err[sizeof c->err];
    snprintf(sync_err, sizeof sync_err, "%s", c->err);
    /* Ending the server session is best effort: an offline logout still forgets the token. */
    long keep = c->cfg.request_timeout_s;
    int keep_retries = c->cfg.max_retries;
    c->cfg.request_timeout_s = 5;
    c->cfg.max_retries = 0;
    gql_result_t r;
    if (gql(c, "Logout", "logout", NULL, 1, &r) == 0)
        gql_clear(&r);
    c->cfg.request_timeout_s = keep;
    c->cfg.max_retries = keep_retries;
    if (unlink(c->token_path) != 0 && errno != ENOENT)
        return fail(c, ETUDE_SYNC_EIO, "%s: %s", c->token_path, strerror(errno));
    sodium_memzero(c->access, sizeof c->access);
    sodium_memzero(c->refresh, sizeof c->refresh);
    c->logged_in = 0;
    set_state(c, "idle", NULL);
    *pending = etude_store_outbox_count(c->store);
    snprintf(c->err, sizeof c->err, "%s", src ? sync_err : "");
    return src;
}

/* ---- status, conflicts, resolve ----------------------------------------------------------- */

char *etude_syncclient_status_json(etude_syncclient_t *c)
{
    cJSON *o = cJSON_CreateObject();
    char b[1024];
    const char *state = meta_get(c, "sync_state", b, sizeof b) ? "idle" : b;
    if (!c->logged_in && !strcmp(state, "idle"))
        state = "idle";
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddBoolToObject(o, "loggedIn", c->logged_in);
    if (c->logged_in) {
        cJSON_AddStringToObject(o, "server", c->server);
        cJSON_AddStringToObject(o, "user", c->user);
    } else {
        cJSON_AddNullToObject(o, "server");
        cJSON_AddNullToObject(o, "user");
    }
    cJSON_AddStringToObject(o, "deviceId", c->device_id);
    if (meta_get(c, "last_sync_at", b, sizeof b) == 0)
        cJSON_AddStringToObject(o, "lastSyncAt", b);
    else
        cJSON_AddNullToObject(o, "lastSyncAt");
    if (meta_get(c, "last_error", b, sizeof b) == 0)
        cJSON_AddStringToObject(o, "lastError", b);
    else
        cJSON_AddNullToObject(o, "lastError");
    cJSON_AddNumberToObject(o, "pending", (double)etude_store_outbox_count(c->store));
    cJSON_AddNumberToObject(o, "conflicts", (double)etude_store_sync_open_conflicts(c->store));
    int64_t left = retry_after_left(c);
    if (left > 0) {
        char iso[32];
        etude_time_format_ms(etude_store_now_ms(c->store) + left, iso);
        cJSON_AddStringToObject(o, "retryAfter", iso);
    } else {
        cJSON_AddNullToObject(o, "retryAfter");
    }
    cJSON *dead = etude_store_sync_dead_letters(c->store);
    if (!dead) {
        cJSON_Delete(o);
        sfail(c, ETUDE_SYNC_EIO);
        return NULL;
    }
    cJSON_AddItemToObject(o, "deadLetters", dead);
    /* The last report of this device's status to the server (ReportSyncStatus). */
    cJSON *rep = cJSON_AddObjectToObject(o, "statusReport");
    int64_t rep_at = meta_int(c, "status_report_at_ms", 0);
    if (rep_at > 0) {
        char iso[32];
        etude_time_format_ms(rep_at, iso);
        cJSON_AddStringToObject(rep, "at", iso);
    } else {
        cJSON_AddNullToObject(rep, "at");
    }
    if (meta_get(c, "status_report_error", b, sizeof b) == 0)
        cJSON_AddStringToObject(rep, "error", b);
    else
        cJSON_AddNullToObject(rep, "error");
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

static char *conflicts_json(etude_syncclient_t *c, int all)
{
    cJSON *a = etude_store_sync_conflicts(c->store, all);
    if (!a) {
        sfail(c, ETUDE_SYNC_EIO);
        return NULL;
    }
    char *t = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return t;
}

char *etude_syncclient_conflicts_json(etude_syncclient_t *c)
{
    return conflicts_json(c, 0);
}

char *etude_syncclient_conflicts_all_json(etude_syncclient_t *c)
{
    return conflicts_json(c, 1);
}

int etude_syncclient_resolve(etude_syncclient_t *c, const char *id, int keep_local)
{
    if (!id || !*id)
        return fail(c, ETUDE_SYNC_EINVAL, "resolve: missing ID");
    int n = 0;
    int64_t cid = 0, rver = 0;
    char eid[37] = "";
    char *payload = NULL;
    int rc = etude_store_sync_find_conflict(c->store, id, &n, &cid, eid, &rver, &payload);
    if (rc)
        return sfail(c, rc);
    if (n != 1) {
        free(payload);
        return fail(c, ETUDE_SYNC_ENOTFOUND, "resolve %s: %s", id,
                    n ? "matches more than one open conflict (give more of the id)" : "no open conflict with this id");
    }
    rc = begin(c);
    if (!rc && keep_local) {
        if ((rc = etude_store_sync_set_pending(c->store, eid, rver)))
            rc = sfail(c, rc);
    } else if (!rc) {
        cJSON *o = cJSON_Parse(payload ? payload : "");
        remote_t r;
        rc = parse_remote(c, o, &r);
        if (!rc) {
            int applied = 0;
            if ((rc = etude_store_sync_clear_for_remote(c->store, eid)))
                rc = sfail(c, rc);
            if (!rc)
                rc = write_remote(c, &r, &applied);
            if (!rc)
                rc = delete_outbox(c, eid, INT64_MAX);
        }
        free(r.data);
        cJSON_Delete(o);
    }
    if (!rc && (rc = etude_store_sync_conflict_resolved(c->store, cid, keep_local ? "local" : "remote")))
        rc = sfail(c, rc);
    free(payload);
    return commit_or_rollback(c, rc);
}

void etude_sync_set_after_send(etude_syncclient_t *c, void (*fn)(void *), void *ctx)
{
    c->after_send = fn;
    c->after_send_ctx = ctx;
}

int etude_syncclient_wait_events(etude_syncclient_t *c, int64_t deadline_us, volatile int *stop)
{
    if (!c->logged_in)
        return fail(c, ETUDE_SYNC_ENOTLOGGEDIN, "not logged in");
    long status = 0;
    int rc = etude_sync_http_events(c->server, c->access, c->device_id, c->cacert, deadline_us, stop, &c->cancel,
                                    &status);
    if (status == 401) {
        int r2 = refresh_tokens(c);
        if (r2)
            return r2;
    }
    if (rc < 0)
        return fail(c, rc, "%s/events: cannot follow the event stream", c->server);
    return rc;
}

int etude_syncclient_apply_answer(etude_syncclient_t *c, const char *op, const char *body, size_t len)
{
    int is_page = !strcmp(op, "SyncChanges");
    if (!is_page && strcmp(op, "UploadBatch"))
        return fail(c, ETUDE_SYNC_EINVAL, "apply_answer: unknown operation '%s'", op);
    char *copy = malloc(len + 1);
    if (!copy)
        return fail(c, ETUDE_SYNC_ENOMEM, "out of memory");
    memcpy(copy, body, len);
    copy[len] = 0;
    etude_sync_http_resp_t rs = {.status = 200, .retry_after = -1, .body = copy, .len = len};
    gql_result_t r;
    memset(&r, 0, sizeof r);
    int k = classify(c, is_page ? "syncChanges" : "uploadBatch", &rs, &r);
    free(copy);
    if (k != 0) {
        gql_clear(&r);
        return k < 0 ? k : fail(c, ETUDE_SYNC_EPROTOCOL, "%s", c->err[0] ? c->err : "unusable answer");
    }
    int rc;
    if (is_page) {
        int more = 0;
        rc = apply_page(c, r.data, &more);
    } else {
        batch_t b;
        rc = build_batch(c, c->cfg.batch_max, &b);
        if (!rc && c->after_send)
            c->after_send(c->after_send_ctx);
        dup_t *dups = NULL;
        int nd = 0;
        if (!rc)
            rc = apply_upload(c, &b, r.data, &dups, &nd);
        batch_clear(&b);
        for (int i = 0; !rc && i < nd; i++)
            rc = merge_duplicate(c, &dups[i]);
        free(dups);
    }
    gql_clear(&r);
    return rc;
}

char *etude_syncclient_pending_json(etude_syncclient_t *c)
{
    cJSON *a = etude_store_sync_pending(c->store);
    if (!a) {
        sfail(c, ETUDE_SYNC_EIO);
        return NULL;
    }
    char *t = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return t;
}
