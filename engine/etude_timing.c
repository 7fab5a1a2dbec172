/* etude_timing.c - MIDI note timing analysis against a click grid (see etude_timing.h). */
#include "etude_timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_engine.h"

struct etude_timing {
    uint32_t rate;
    uint64_t *grid;
    size_t n;
    uint64_t notes, in10, in25;
    double mean, m2; /* Welford's running mean and sum of squared deviations */
};

int etude_timing_create(uint32_t sample_rate, etude_timing_t **out)
{
    *out = NULL;
    if (sample_rate == 0)
        return ETUDE_EINVAL;
    etude_timing_t *t = calloc(1, sizeof *t);
    if (!t)
        return ETUDE_ENOMEM;
    t->rate = sample_rate;
    *out = t;
    return ETUDE_OK;
}

void etude_timing_destroy(etude_timing_t *t)
{
    if (!t)
        return;
    free(t->grid);
    free(t);
}

int etude_timing_set_grid(etude_timing_t *t, const uint64_t *frames, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (frames[i] < frames[i - 1])
            return ETUDE_EINVAL;
    uint64_t *g = NULL;
    if (n) {
        g = malloc(n * sizeof *g);
        if (!g)
            return ETUDE_ENOMEM;
        memcpy(g, frames, n * sizeof *g);
    }
    free(t->grid);
    t->grid = g;
    t->n = n;
    return ETUDE_OK;
}

size_t etude_timing_grid_size(const etude_timing_t *t) { return t->n; }

void etude_timing_add_offset(etude_timing_t *t, double ms)
{
    t->notes++;
    double d = ms - t->mean;
    t->mean += d / (double)t->notes;
    t->m2 += d * (ms - t->mean);
    if (fabs(ms) <= 10.0)
        t->in10++;
    if (fabs(ms) <= 25.0)
        t->in25++;
}

int etude_timing_note(etude_timing_t *t, uint64_t pos, double *offset_ms)
{
    if (t->n == 0)
        return ETUDE_ESTATE;
    size_t lo = 0, hi = t->n; /* first grid point > pos */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->grid[mid] <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    double best;
    if (lo == 0) {
        best = -(double)(t->grid[0] - pos);
    } else {
        double before = (double)(pos - t->grid[lo - 1]);
        best = before;
        if (lo < t->n) {
            double after = (double)(t->grid[lo] - pos);
            if (after < before)
                best = -after;
        }
    }
    double ms = best * 1000.0 / (double)t->rate;
    etude_timing_add_offset(t, ms);
    if (offset_ms)
        *offset_ms = ms;
    return ETUDE_OK;
}

void etude_timing_result(const etude_timing_t *t, etude_timing_result_t *o)
{
    memset(o, 0, sizeof *o);
    o->notes = t->notes;
    if (!t->notes)
        return;
    o->mean_ms = t->mean;
    o->sd_ms = sqrt(t->m2 / (double)t->notes);
    o->within_10ms = (double)t->in10 / (double)t->notes;
    o->within_25ms = (double)t->in25 / (double)t->notes;
}

void etude_timing_reset(etude_timing_t *t)
{
    t->notes = t->in10 = t->in25 = 0;
    t->mean = t->m2 = 0.0;
}

int etude_timing_json(const etude_timing_result_t *r, char *buf, size_t len)
{
    return snprintf(buf, len,
                    "{\"notes\":%llu,\"mean_ms\":%.4f,\"sd_ms\":%.4f,\"within_10ms\":%.4f,"
                    "\"within_25ms\":%.4f}",
                    (unsigned long long)r->notes, r->mean_ms, r->sd_ms, r->within_10ms, r->within_25ms);
}
