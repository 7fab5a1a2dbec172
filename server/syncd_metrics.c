/* syncd_metrics.c - etude-syncd counters, gauges and latency histogram in Prometheus text format. */
#include "syncd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 64
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

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
};

etude_syncd_metrics_t *etude_syncd_metrics_create(void)
{
    etude_syncd_metrics_t *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
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
              "# TYPE etude_syncd_event_streams gauge\netude_syncd_event_streams %ld\n",
              m->batches, m->replays, m->accepted, m->conflicts, m->duplicates, m->rejected,
              m->gauges[0], m->gauges[1]);
    pthread_mutex_unlock(&m->lock);
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}
