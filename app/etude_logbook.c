/* etude_logbook.c - material identity, goal and summary matching, timing accuracy and summaries
 * over the practice log. */
#include "etude_logbook.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "etude_error.h"
#include "etude_presets.h"
#include "etude_time.h"

static void seterr(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
    if (err && len)
        snprintf(err, len, fmt, a, b);
}

int etude_material_identify(const char *path, etude_material_id_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? ETUDE_ENOTFOUND : ETUDE_EIO;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat stt;
    if (fd < 0 || fstat(fd, &stt) || !S_ISREG(stt.st_mode)) {
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        seterr(err, errlen, "%s: %s", path, e ? strerror(e) : "not a regular file");
        return e && e != ENOENT ? ETUDE_EIO : ETUDE_ENOTFOUND;
    }
    if (sodium_init() < 0) {
        close(fd);
        seterr(err, errlen, "%s: %s", path, "libsodium could not be initialised");
        return ETUDE_EIO;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            seterr(err, errlen, "%s: %s", path, strerror(e));
            return ETUDE_EIO;
        }
        if (n == 0)
            break;
        crypto_generichash_update(&st, buf, (unsigned long long)n);
    }
    close(fd);
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out->hash, sizeof out->hash, h, sizeof h);
    snprintf(out->path, sizeof out->path, "%s", real);
    return ETUDE_OK;
}

int etude_material_hash_valid(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* ---- filters ---------------------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int etude_logbook_filter_typed(etude_logbook_filter_t *f, const char *text, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->text = text;
    if (!text)
        return ETUDE_OK;
    char found[4400];
    const char *path = text;
    if (etude_presets_is_name(text)) {
        char ignored[256];
        if (etude_presets_find(text, found, sizeof found, ignored, sizeof ignored) < 0)
            return ETUDE_OK; /* a title or a click line: matched as text */
        path = found;
    }
    int rc = etude_material_identify(path, &f->id, err, errlen);
    if (rc == ETUDE_ENOTFOUND)
        return ETUDE_OK;
    if (rc < 0)
        return rc;
    f->has_id = 1;
    return ETUDE_OK;
}

void etude_logbook_filter_goal(etude_logbook_filter_t *f, const cJSON *g)
{
    memset(f, 0, sizeof *f);
    const char *path = jstr(g, "materialPath"), *hash = jstr(g, "materialHash");
    const char *preset = jstr(g, "preset"), *material = jstr(g, "material");
    f->text = preset ? preset : material;
    if (path && etude_material_hash_valid(hash) && strlen(path) < sizeof f->id.path) {
        f->has_id = 1;
        snprintf(f->id.path, sizeof f->id.path, "%s", path);
        snprintf(f->id.hash, sizeof f->id.hash, "%s", hash);
    }
}

static int str_is(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

int etude_logbook_matches(const etude_logbook_filter_t *f, const cJSON *d)
{
    if (!f || (!f->text && !f->has_id))
        return 1;
    const char *sp = jstr(d, "preset"), *sm = jstr(d, "material");
    if (!f->has_id)
        return str_is(sp, f->text) || str_is(sm, f->text);
    const char *path = jstr(d, "materialPath"), *hash = jstr(d, "materialHash");
    if (path && hash)
        return str_is(path, f->id.path) && str_is(hash, f->id.hash);
    /* written before sessions carried an identity: its name, if it was the resolved path */
    return str_is(sp, f->id.path) || str_is(sm, f->id.path);
}

int etude_logbook_is_practice(const cJSON *d)
{
    return !str_is(jstr(d, "command"), "render");
}

/* ---- accuracy --------------------------------------------------------------------------------- */

int etude_logbook_accuracy(const cJSON *d, etude_logbook_accuracy_t *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "timing");
    if (!cJSON_IsObject(t) || !(jnum(t, "notes") > 0))
        return 0;
    out->notes = jnum(t, "notes");
    out->mean_ms = jnum(t, "mean_ms");
    out->sd_ms = jnum(t, "sd_ms");
    out->within_25ms = jnum(t, "within_25ms");
    return 1;
}

void etude_logbook_accuracy_pool(etude_logbook_accuracy_t *a, const etude_logbook_accuracy_t *b)
{
    double n = a->notes + b->notes;
    if (!(b->notes > 0) || !(n > 0))
        return;
    double mean = (a->notes * a->mean_ms + b->notes * b->mean_ms) / n;
    /* E[x^2] of each part is sd^2 + mean^2 */
    double ex2 = (a->notes * (a->sd_ms * a->sd_ms + a->mean_ms * a->mean_ms) +
                  b->notes * (b->sd_ms * b->sd_ms + b->mean_ms * b->mean_ms)) /
                 n;
    double var = ex2 - mean * mean;
    a->within_25ms = (a->notes * a->within_25ms + b->notes * b->within_25ms) / n;
    a->mean_ms = mean;
    a->sd_ms = var > 0 ? sqrt(var) : 0;
    a->notes = n;
}

/* ---- time ------------------------------------------------------------------------------------- */

int etude_logbook_parse_date(const char *s, int64_t *unix_ms)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return ETUDE_EINVAL;
    char iso[32];
    snprintf(iso, sizeof iso, "%sT00:00:00.000Z", s);
    return etude_time_parse_ms(iso, unix_ms) ? ETUDE_EINVAL : ETUDE_OK;
}

int64_t etude_logbook_period_start(const char *period, int64_t now_ms)
{
    time_t now = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (period && !strcmp(period, "month"))
        tm.tm_mday = 1;
    time_t t = timegm(&tm);
    if (period && !strcmp(period, "week"))
        t -= (time_t)((tm.tm_wday + 6) % 7) * 86400; /* weeks start on Monday */
    return (int64_t)t * 1000;
}

/* ---- goals ------------------------------------------------------------------------------------ */

typedef struct goal_walk {
    etude_logbook_filter_t filter;
    int minutes;
    char since[32];
    double value;
} goal_walk_t;

static int goal_session(void *user, const etude_entity_t *e)
{
    goal_walk_t *g = user;
    cJSON *d = cJSON_Parse(e->data);
    if (!d)
        return 0;
    if (etude_logbook_is_practice(d) && etude_logbook_matches(&g->filter, d)) {
        const char *started = jstr(d, "startedAt");
        if (!g->minutes) {
            double hi = jnum(d, "tempoMaxBpm");
            if (hi > g->value)
                g->value = hi;
        } else if (started && strcmp(started, g->since) >= 0) {
            g->value += jnum(d, "activeSeconds") / 60.0;
        }
    }
    cJSON_Delete(d);
    return 0;
}

int etude_logbook_goal_progress(etude_store_t *st, const cJSON *goal, int64_t now_ms, double *value, char since[32])
{
    goal_walk_t g = {0};
    etude_logbook_filter_goal(&g.filter, goal);
    const char *kind = jstr(goal, "kind"), *period = jstr(goal, "period");
    g.minutes = str_is(kind, "minutes");
    etude_time_format_ms(etude_logbook_period_start(str_is(period, "week") ? "week" : "day", now_ms), g.since);
    int rc = etude_store_list(st, "practiceSession", NULL, 0, goal_session, &g);
    *value = g.value;
    if (since)
        memcpy(since, g.since, 32);
    return rc;
}

/* ---- summary ---------------------------------------------------------------------------------- */

typedef struct srow {
    char started[32];
    int64_t local_id;
    cJSON *data;
} srow_t;

typedef struct collect {
    const etude_logbook_filter_t *filter;
    char since[32];
    srow_t *rows;
    size_t n, cap;
    int renders, oom;
} collect_t;

static int collect_session(void *user, const etude_entity_t *e)
{
    collect_t *c = user;
    cJSON *d = cJSON_Parse(e->data);
    if (!d)
        return 0;
    const char *started = jstr(d, "startedAt");
    if (!started || strlen(started) < 10 || strcmp(started, c->since) < 0 || !etude_logbook_matches(c->filter, d)) {
        cJSON_Delete(d);
        return 0;
    }
    if (!etude_logbook_is_practice(d)) {
        c->renders++;
        cJSON_Delete(d);
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        srow_t *r = realloc(c->rows, cap * sizeof *r);
        if (!r) {
            cJSON_Delete(d);
            c->oom = 1;
            return 1;
        }
        c->rows = r;
        c->cap = cap;
    }
    srow_t *r = &c->rows[c->n++];
    snprintf(r->started, sizeof r->started, "%s", started);
    r->local_id = e->local_id;
    r->data = d;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const srow_t *x = a, *y = b;
    int c = strcmp(x->started, y->started);
    return c ? c : (x->local_id > y->local_id) - (x->local_id < y->local_id);
}

static char *material_key(const cJSON *d)
{
    const char *path = jstr(d, "materialPath"), *hash = jstr(d, "materialHash");
    const char *name = jstr(d, "material");
    if (path && hash) {
        size_t n = strlen(path) + strlen(hash) + 2;
        char *k = malloc(n);
        if (k)
            snprintf(k, n, "%s|%s", path, hash);
        return k;
    }
    return strdup(name ? name : "");
}

int etude_logbook_summarize(etude_store_t *st, int64_t since_ms, const etude_logbook_filter_t *filter,
                            etude_logbook_summary_t *out)
{
    memset(out, 0, sizeof *out);
    collect_t c = {.filter = filter};
    etude_time_format_ms(since_ms, c.since);
    memcpy(out->since, c.since, sizeof out->since);
    int rc = etude_store_list(st, "practiceSession", NULL, 0, collect_session, &c);
    if (c.oom)
        rc = ETUDE_ENOMEM;
    if (!rc && c.n)
        qsort(c.rows, c.n, sizeof *c.rows, by_start);
    out->renders = c.renders;
    for (size_t i = 0; !rc && i < c.n; i++) {
        const cJSON *d = c.rows[i].data;
        double minutes = jnum(d, "activeSeconds") / 60.0, bpm = jnum(d, "tempoMaxBpm");
        etude_logbook_accuracy_t acc;
        etude_logbook_accuracy(d, &acc);
        char date[11];
        snprintf(date, sizeof date, "%.10s", c.rows[i].started);
        if (!out->ndays || strcmp(out->days[out->ndays - 1].date, date)) {
            etude_logbook_day_t *days = realloc(out->days, (out->ndays + 1) * sizeof *days);
            if (!days) {
                rc = ETUDE_ENOMEM;
                break;
            }
            out->days = days;
            memset(&days[out->ndays], 0, sizeof *days);
            memcpy(days[out->ndays++].date, date, sizeof date);
        }
        etude_logbook_day_t *day = &out->days[out->ndays - 1];
        day->minutes += minutes;
        day->sessions++;
        etude_logbook_accuracy_pool(&day->acc, &acc);
        out->minutes += minutes;
        out->sessions++;
        etude_logbook_accuracy_pool(&out->acc, &acc);

        char *key = material_key(d);
        if (!key) {
            rc = ETUDE_ENOMEM;
            break;
        }
        size_t m = 0;
        while (m < out->nmaterials && strcmp(out->materials[m].key, key))
            m++;
        if (m == out->nmaterials) {
            etude_logbook_material_t *ms = realloc(out->materials, (m + 1) * sizeof *ms);
            const char *name = jstr(d, "material");
            char *nm = strdup(name && *name ? name : jstr(d, "preset") ? jstr(d, "preset") : "(no name)");
            if (!ms || !nm) {
                if (ms)
                    out->materials = ms;
                free(nm);
                free(key);
                rc = ETUDE_ENOMEM;
                break;
            }
            out->materials = ms;
            memset(&ms[m], 0, sizeof *ms);
            ms[m].key = key;
            ms[m].name = nm;
            ms[m].first_bpm = bpm;
            memcpy(ms[m].first_date, date, sizeof date);
            out->nmaterials++;
        } else {
            free(key);
        }
        etude_logbook_material_t *mt = &out->materials[m];
        mt->sessions++;
        mt->minutes += minutes;
        mt->last_bpm = bpm;
        if (bpm > mt->best_bpm)
            mt->best_bpm = bpm;
        memcpy(mt->last_date, date, sizeof date);
    }
    for (size_t i = 0; i < c.n; i++)
        cJSON_Delete(c.rows[i].data);
    free(c.rows);
    if (rc)
        etude_logbook_summary_clear(out);
    return rc;
}

void etude_logbook_summary_clear(etude_logbook_summary_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nmaterials; i++) {
        free(s->materials[i].name);
        free(s->materials[i].key);
    }
    free(s->materials);
    free(s->days);
    memset(s, 0, sizeof *s);
}
