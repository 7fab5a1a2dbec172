/* syncd_metrics.c - etude-syncd counters, gauges and latency histogram in Prometheus text format,
 * and the same figures per minute for the last hours (the dashboard's operator charts). */
#include "syncd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 64
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* Per-minute latency histogram: bucket i holds samples up to LAT_BASE_MS * LAT_RATIO^i ms (the last
 * one everything above), 0.05 ms to about a minute in steps of 25%, so a quantile read from it is
 * within 25% of the true one. */
#define LAT_BUCKETS 64
#define LAT_BASE_MS 0.05
#define LAT_RATIO 1.25

typedef struct slot {
    int64_t minute; /* unix minute of this slot */
    unsigned long long requests, errors, uploads, pulls, graphql;
    unsigned lat[LAT_BUCKETS];
    double lat_max_ms;
    long sse;
    int64_t db_bytes;
} slot_t;

typedef struct series {
    char a[48], b[48];
    unsigned long long n;
} series_t;

struct etude_syncd_metrics {
    pthread_mutex_t lock;
    series_t requests[MAX_SERIES];  /* path, code */
    series_t operations[MAX_SERIES]; /* operation, result */
    series_t errors[MAX_SERIES];     /* code */
    unsigned long long hist[NBUCKETS + 1];
    double hist_sum;
    unsigned long long hist_count;
    unsigned long long accepted, conflicts, duplicates, rejected, replays, batches;
    long gauges[2];
    int64_t db_bytes;
    /* The ring: slot of minute k is ring[k % ETUDE_SYNCD_RING_MINUTES]; first_minute is when the
     * counters were created, cur_minute the newest slot opened. */
    slot_t ring[ETUDE_SYNCD_RING_MINUTES];
    int64_t first_minute, cur_minute;
    int64_t (*clock)(void);
};

static int64_t minute_now(etude_syncd_metrics_t *m)
{
    int64_t ms = m->clock ? m->clock() : etude_syncd_now_ms();
    return ms >= 0 ? ms / 60000 : (ms - 59999) / 60000;
}

/* The slot of the current minute, opening it (and any minutes skipped with no call, empty but for
 * the gauges carried over) when the minute changed. Caller holds the lock. A clock that went back
 * keeps writing to the newest slot. */
static slot_t *slot_now(etude_syncd_metrics_t *m)
{
    int64_t now = minute_now(m);
    if (now > m->cur_minute) {
        int64_t from = m->cur_minute + 1;
        if (now - from >= ETUDE_SYNCD_RING_MINUTES)
            from = now - ETUDE_SYNCD_RING_MINUTES + 1;
        for (int64_t k = from; k <= now; k++) {
            slot_t *sl = &m->ring[k % ETUDE_SYNCD_RING_MINUTES];
            memset(sl, 0, sizeof *sl);
            sl->minute = k;
            sl->sse = m->gauges[ETUDE_SYNCD_GAUGE_SSE];
            sl->db_bytes = m->db_bytes;
        }
        m->cur_minute = now;
    }
    return &m->ring[m->cur_minute % ETUDE_SYNCD_RING_MINUTES];
}

etude_syncd_metrics_t *etude_syncd_metrics_create(void)
{
    etude_syncd_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->first_minute = m->cur_minute = minute_now(m);
    m->ring[m->cur_minute % ETUDE_SYNCD_RING_MINUTES].minute = m->cur_minute;
    return m;
}

void etude_syncd_metrics_set_clock(etude_syncd_metrics_t *m, int64_t (*fn)(void))
{
    pthread_mutex_lock(&m->lock);
    m->clock = fn;
    memset(m->ring, 0, sizeof m->ring);
    m->first_minute = m->cur_minute = minute_now(m);
    m->ring[m->cur_minute % ETUDE_SYNCD_RING_MINUTES].minute = m->cur_minute;
    pthread_mutex_unlock(&m->lock);
}

void etude_syncd_metrics_db_bytes(etude_syncd_metrics_t *m, int64_t bytes)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->db_bytes = bytes;
    slot_now(m)->db_bytes = bytes;
    pthread_mutex_unlock(&m->lock);
}

/* The upper bound of the histogram bucket holding quantile q (0..1) of sl, capped at the largest
 * sample seen; -1 when the minute had none. */
static double slot_quantile(const slot_t *sl, double q)
{
    unsigned long long total = 0;
    for (int i = 0; i < LAT_BUCKETS; i++)
        total += sl->lat[i];
    if (total == 0)
        return -1;
    unsigned long long rank = (unsigned long long)(q * (double)total + 0.999999);
    if (rank < 1)
        rank = 1;
    unsigned long long cum = 0;
    double bound = LAT_BASE_MS;
    for (int i = 0; i < LAT_BUCKETS; i++, bound *= LAT_RATIO) {
        cum += sl->lat[i];
        if (cum >= rank)
            return i == LAT_BUCKETS - 1 || bound > sl->lat_max_ms ? sl->lat_max_ms : bound;
    }
    return sl->lat_max_ms;
}

int etude_syncd_metrics_points(etude_syncd_metrics_t *m, int minutes, etude_syncd_metrics_point_t *out)
{
    if (!m || minutes < 1)
        return 0;
    if (minutes > ETUDE_SYNCD_RING_MINUTES)
        minutes = ETUDE_SYNCD_RING_MINUTES;
    pthread_mutex_lock(&m->lock);
    slot_now(m);
    int64_t from = m->cur_minute - minutes + 1;
    if (from < m->first_minute)
        from = m->first_minute;
    int n = 0;
    for (int64_t k = from; k <= m->cur_minute; k++) {
        const slot_t *sl = &m->ring[k % ETUDE_SYNCD_RING_MINUTES];
        etude_syncd_metrics_point_t *p = &out[n++];
        memset(p, 0, sizeof *p);
        p->at_ms = k * 60000;
        if (sl->minute != k) /* not opened (cannot happen once slot_now ran; kept safe) */
            continue;
        p->requests = sl->requests;
        p->errors = sl->errors;
        p->uploads = sl->uploads;
        p->pulls = sl->pulls;
        p->graphql = sl->graphql;
        p->p50_ms = slot_quantile(sl, 0.50);
        p->p99_ms = slot_quantile(sl, 0.99);
        p->sse_streams = sl->sse;
        p->db_bytes = sl->db_bytes;
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

void etude_syncd_metrics_destroy(etude_syncd_metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Label values come from a fixed set chosen by the server, never from request input. */
static void bump(series_t *tab, const char *a, const char *b)
{
    for (int i = 0; i < MAX_SERIES; i++) {
        if (tab[i].n == 0 && !tab[i].a[0]) {
            snprintf(tab[i].a, sizeof tab[i].a, "%s", a);
            snprintf(tab[i].b, sizeof tab[i].b, "%s", b ? b : "");
            tab[i].n = 1;
            return;
        }
        if (strcmp(tab[i].a, a) == 0 && strcmp(tab[i].b, b ? b : "") == 0) {
            tab[i].n++;
            return;
        }
    }
}

void etude_syncd_metrics_request(etude_syncd_metrics_t *m, const char *path, int status,
                                 double seconds)
{
    if (!m)
        return;
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    pthread_mutex_lock(&m->lock);
    bump(m->requests, path, code);
    slot_t *sl = slot_now(m);
    sl->requests++;
    if (status >= 400)
        sl->errors++;
    if (strcmp(path, "/graphql") == 0) {
        double ms = seconds * 1000.0;
        double bound = LAT_BASE_MS;
        int b = 0;
        while (b < LAT_BUCKETS - 1 && ms > bound) {
            bound *= LAT_RATIO;
            b++;
        }
        sl->lat[b]++;
        sl->graphql++;
        if (ms > sl->lat_max_ms)
            sl->lat_max_ms = ms;
    }
    size_t i = 0;
    while (i < NBUCKETS && seconds > buckets[i])
        i++;
    m->hist[i]++;
    m->hist_sum += seconds;
    m->hist_count++;
    pthread_mutex_unlock(&m->lock);
}

void etude_syncd_metrics_operation(etude_syncd_metrics_t *m, const char *op, const char *result)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(m->operations, op, result);
    if (strcmp(op, "SyncChanges") == 0 && result && strcmp(result, "ok") == 0)
        slot_now(m)->pulls++;
    pthread_mutex_unlock(&m->lock);
}

void etude_syncd_metrics_error(etude_syncd_metrics_t *m, const char *code)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(m->errors, code, NULL);
    pthread_mutex_unlock(&m->lock);
}

void etude_syncd_metrics_upload(etude_syncd_metrics_t *m, const etude_syncd_upload_stats_t *s)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->batches++;
    slot_now(m)->uploads++;
    if (s->replayed) {
        m->replays++;
    } else {
        m->accepted += (unsigned)s->accepted;
        m->conflicts += (unsigned)s->conflicts;
        m->duplicates += (unsigned)s->duplicates;
        m->rejected += (unsigned)s->rejected;
    }
    pthread_mutex_unlock(&m->lock);
}

void etude_syncd_metrics_gauge_add(etude_syncd_metrics_t *m, int which, int delta)
{
    if (!m || which < 0 || which > 1)
        return;
    pthread_mutex_lock(&m->lock);
    m->gauges[which] += delta;
    slot_now(m)->sse = m->gauges[ETUDE_SYNCD_GAUGE_SSE];
    pthread_mutex_unlock(&m->lock);
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_printf(sbuf_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void sb_printf(sbuf_t *s, const char *fmt, ...)
{
    if (s->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            s->oom = 1;
            return;
        }
        if ((size_t)k < s->cap - s->n) {
            s->n += (size_t)k;
            return;
        }
        size_t ncap = s->cap * 2 + (size_t)k;
        char *np = realloc(s->p, ncap);
        if (!np) {
            s->oom = 1;
            return;
        }
        s->p = np;
        s->cap = ncap;
    }
}

char *etude_syncd_metrics_render(etude_syncd_metrics_t *m)
{
    sbuf_t s = {malloc(4096), 0, 4096, 0};
    if (!s.p)
        return NULL;
    s.p[0] = '\0';
    pthread_mutex_lock(&m->lock);
    sb_printf(&s, "# HELP etude_syncd_http_requests_total HTTP requests answered, by path and status.\n"
                  "# TYPE etude_syncd_http_requests_total counter\n");
    for (int i = 0; i < MAX_SERIES && m->requests[i].n; i++)
        sb_printf(&s, "etude_syncd_http_requests_total{path=\"%s\",code=\"%s\"} %llu\n",
                  m->requests[i].a, m->requests[i].b, m->requests[i].n);
    sb_printf(&s, "# HELP etude_syncd_request_duration_seconds Time from request start to response.\n"
                  "# TYPE etude_syncd_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m->hist[i];
        sb_printf(&s, "etude_syncd_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i], cum);
    }
    cum += m->hist[NBUCKETS];
    sb_printf(&s, "etude_syncd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "etude_syncd_request_duration_seconds_sum %.6f\n"
                  "etude_syncd_request_duration_seconds_count %llu\n",
              cum, m->hist_sum, m->hist_count);
    sb_printf(&s, "# HELP etude_syncd_graphql_operations_total GraphQL operations, by result.\n"
                  "# TYPE etude_syncd_graphql_operations_total counter\n");
    for (int i = 0; i < MAX_SERIES && m->operations[i].n; i++)
        sb_printf(&s, "etude_syncd_graphql_operations_total{operation=\"%s\",result=\"%s\"} %llu\n",
                  m->operations[i].a, m->operations[i].b, m->operations[i].n);
    sb_printf(&s, "# HELP etude_syncd_errors_total Errors answered, by extensions.code.\n"
                  "# TYPE etude_syncd_errors_total counter\n");
    for (int i = 0; i < MAX_SERIES && m->errors[i].n; i++)
        sb_printf(&s, "etude_syncd_errors_total{code=\"%s\"} %llu\n", m->errors[i].a, m->errors[i].n);
    sb_printf(&s,
              "# HELP etude_syncd_batches_total uploadBatch requests applied or replayed.\n"
              "# TYPE etude_syncd_batches_total counter\netude_syncd_batches_total %llu\n"
              "# HELP etude_syncd_batch_replays_total uploadBatch replays answered from storage.\n"
              "# TYPE etude_syncd_batch_replays_total counter\netude_syncd_batch_replays_total %llu\n"
              "# HELP etude_syncd_entities_accepted_total Entities written.\n"
              "# TYPE etude_syncd_entities_accepted_total counter\netude_syncd_entities_accepted_total %llu\n"
              "# HELP etude_syncd_conflicts_total Entities reported as conflicts.\n"
              "# TYPE etude_syncd_conflicts_total counter\netude_syncd_conflicts_total %llu\n"
              "# HELP etude_syncd_duplicates_total Entities reported as duplicates.\n"
              "# TYPE etude_syncd_duplicates_total counter\netude_syncd_duplicates_total %llu\n"
              "# HELP etude_syncd_entities_rejected_total Entities rejected as invalid.\n"
              "# TYPE etude_syncd_entities_rejected_total counter\netude_syncd_entities_rejected_total %llu\n"
              "# HELP etude_syncd_requests_in_flight Requests being handled now.\n"
              "# TYPE etude_syncd_requests_in_flight gauge\netude_syncd_requests_in_flight %ld\n"
              "# HELP etude_syncd_event_streams Open /events streams.\n"
              "# TYPE etude_syncd_event_streams gauge\netude_syncd_event_streams %ld\n"
              "# HELP etude_syncd_database_bytes Size of the database file and its write-ahead log.\n"
              "# TYPE etude_syncd_database_bytes gauge\netude_syncd_database_bytes %lld\n",
              m->batches, m->replays, m->accepted, m->conflicts, m->duplicates, m->rejected,
              m->gauges[0], m->gauges[1], (long long)m->db_bytes);
    pthread_mutex_unlock(&m->lock);
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}
