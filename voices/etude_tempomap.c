/* etude_tempomap.c - klick's tempo-map format: parser and beat positions from the start of the map. */
#include "etude_tempomap.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_engine.h"
#include "etude_buf.h"

typedef struct entry {
    etude_tempomap_entry_t pub;
    float tempo_f, tempo2_f; /* klick keeps tempi as floats; positions use exactly these values */
    float *tempi_f;          /* per-beat tempi, or NULL */
    double *tempi;           /* the same as doubles, for the public view */
    double *cum;             /* per-beat list: onset seconds of each beat from the entry start */
    uint8_t *pattern;
    uint64_t nbeats;         /* bars * beats; UINT64_MAX when endless */
    double seconds;          /* duration; INFINITY when endless */
    char section[ETUDE_TEMPOMAP_LABEL_MAX];
} entry_t;

struct etude_tempomap {
    entry_t *e;
    size_t n, cap;
    bool endless;
    uint64_t beats, bars;
    double seconds;
};

/* ------------------------------------------------------------------------------------------------
 * Position maths
 */

/* Seconds from the start of entry e to its beat k (0 <= k <= nbeats). */
static double entry_offset(const entry_t *e, uint64_t k)
{
    if (k == 0)
        return 0.0;
    double denom = e->pub.denom;
    if (e->cum)
        return e->cum[k];
    if (e->tempo2_f == 0.0f || e->tempo2_f == e->tempo_f) {
        /* klick multiplies tempo and denominator in single precision. */
        double qpm = (double)(e->tempo_f * (float)e->pub.denom);
        return (double)k * 240.0 / qpm;
    }
    /* Tempo linear in the beat position: T(b) = T1 + d*b with d = (T2-T1)/N; a beat of b lasts
     * 240/(denom*T(b)) seconds, so the time to beat k is 240/denom * ln(T(k)/T1) / d. */
    double n = (double)e->pub.bars * e->pub.beats;
    double tdiff = (double)(float)(e->tempo2_f - e->tempo_f);
    double t1 = e->tempo_f;
    double dt = tdiff * ((double)k / n);
    double logratio = log1p(dt / t1);
    if (dt == 0.0 || logratio == 0.0)
        return (double)k * 240.0 / (t1 * denom);
    return (double)k * 240.0 / (denom * (dt / logratio));
}

static double entry_bpm(const entry_t *e, uint64_t k)
{
    if (e->tempi_f)
        return e->tempi_f[k];
    if (e->tempo2_f == 0.0f)
        return e->tempo_f;
    double n = (double)e->pub.bars * e->pub.beats;
    double tdiff = (double)(float)(e->tempo2_f - e->tempo_f);
    return (double)e->tempo_f + tdiff * ((double)k / n);
}

uint64_t etude_tempomap_frame(double seconds, uint32_t rate)
{
    if (!(seconds >= 0.0))
        return 0;
    double f = seconds * (double)rate;
    if (f >= 1.8e19)
        return UINT64_MAX;
    /* A position that is an exact frame in theory may land a hair below it in binary (0.6 s at
     * 44100 Hz): snap by far less than a frame so such beats fall on their frame. */
    return (uint64_t)floor(f + 1e-6);
}

/* Index of the entry holding beat index (entries sorted by first_beat). */
static size_t entry_of_beat(const etude_tempomap_t *m, uint64_t index)
{
    size_t lo = 0, hi = m->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->e[mid].pub.first_beat <= index)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

size_t etude_tempomap_entry_count(const etude_tempomap_t *map) { return map->n; }

const etude_tempomap_entry_t *etude_tempomap_entry(const etude_tempomap_t *map, size_t i)
{
    return i < map->n ? &map->e[i].pub : NULL;
}

int etude_tempomap_apply_pattern(etude_tempomap_t *map, const char *pattern)
{
    size_t len = pattern ? strlen(pattern) : 0;
    if (!map || len == 0 || len > ETUDE_TEMPOMAP_MAX_BEATS || strspn(pattern, "Xx.") != len)
        return ETUDE_EINVAL;
    int applied = 0;
    for (size_t i = 0; i < map->n; i++) {
        entry_t *e = &map->e[i];
        if (e->pattern || e->pub.beats != len)
            continue;
        if (!(e->pattern = malloc(len)))
            return ETUDE_ENOMEM;
        for (size_t k = 0; k < len; k++)
            e->pattern[k] = pattern[k] == 'X'   ? ETUDE_BEAT_ACCENT
                            : pattern[k] == 'x' ? ETUDE_BEAT_NORMAL
                                                : ETUDE_BEAT_SILENT;
        e->pub.pattern = e->pattern;
        applied++;
    }
    return applied;
}

bool etude_tempomap_endless(const etude_tempomap_t *map) { return map->endless; }
uint64_t etude_tempomap_beat_count(const etude_tempomap_t *map) { return map->beats; }
uint64_t etude_tempomap_bar_count(const etude_tempomap_t *map) { return map->bars; }
double etude_tempomap_seconds(const etude_tempomap_t *map) { return map->seconds; }

double etude_tempomap_beat_seconds(const etude_tempomap_t *map, uint64_t index)
{
    if (index >= map->beats)
        return index == map->beats ? map->seconds : INFINITY;
    const entry_t *e = &map->e[entry_of_beat(map, index)];
    return e->pub.start_seconds + entry_offset(e, index - e->pub.first_beat);
}

int etude_tempomap_beat(const etude_tempomap_t *map, uint64_t index, etude_tempomap_beat_t *out)
{
    if (index >= map->beats)
        return ETUDE_EINVAL;
    size_t i = entry_of_beat(map, index);
    const entry_t *e = &map->e[i];
    uint64_t k = index - e->pub.first_beat;
    uint32_t b = (uint32_t)(k % e->pub.beats);
    out->index = index;
    out->bar = e->pub.first_bar + k / e->pub.beats;
    out->entry = (uint32_t)i;
    out->beat_in_bar = b;
    out->seconds = e->pub.start_seconds + entry_offset(e, k);
    out->bpm = entry_bpm(e, k);
    out->type = e->pattern ? e->pattern[b] : (b == 0 ? ETUDE_BEAT_ACCENT : ETUDE_BEAT_NORMAL);
    out->volume = e->pub.volume;
    out->section = e->section;
    return 0;
}

uint64_t etude_tempomap_bar_first_beat(const etude_tempomap_t *map, uint64_t bar)
{
    if (bar >= map->bars)
        return UINT64_MAX;
    size_t lo = 0, hi = map->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->e[mid].pub.first_bar <= bar)
            lo = mid;
        else
            hi = mid;
    }
    const entry_t *e = &map->e[lo];
    return e->pub.first_beat + (bar - e->pub.first_bar) * e->pub.beats;
}

uint64_t etude_tempomap_beat_frame(const etude_tempomap_t *map, uint64_t index, uint32_t rate)
{
    if (index > map->beats || (index == map->beats && map->endless))
        return UINT64_MAX;
    return etude_tempomap_frame(etude_tempomap_beat_seconds(map, index), rate);
}

uint64_t etude_tempomap_frames(const etude_tempomap_t *map, uint32_t rate)
{
    if (map->endless)
        return UINT64_MAX;
    return etude_tempomap_frame(map->seconds, rate);
}

uint64_t etude_tempomap_beat_at_frame(const etude_tempomap_t *map, uint64_t frame, uint32_t rate)
{
    /* The entry: the last one whose first beat's frame is <= frame. */
    size_t lo = 0, hi = map->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (etude_tempomap_frame(map->e[mid].pub.start_seconds, rate) <= frame)
            lo = mid;
        else
            hi = mid;
    }
    const entry_t *e = &map->e[lo];
    uint64_t a = 0, b; /* search k in [a, b]: the first k with frame(k) >= frame */
    if (e->nbeats != UINT64_MAX) {
        b = e->nbeats;
    } else {
        double beat = entry_offset(e, 1);
        double want = (double)frame / rate - e->pub.start_seconds;
        double est = want > 0 ? want / beat : 0;
        b = est > 9e15 ? (uint64_t)9e15 : (uint64_t)est + 2;
    }
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        uint64_t f = etude_tempomap_frame(e->pub.start_seconds + entry_offset(e, mid), rate);
        if (f >= frame)
            b = mid;
        else
            a = mid + 1;
    }
    uint64_t idx = e->pub.first_beat + a;
    return idx > map->beats ? map->beats : idx;
}

/* ------------------------------------------------------------------------------------------------
 * Parser
 */

typedef struct parse {
    const char *name;
    bool cmdline;
    uint32_t line;
    char *err;
    size_t errsize;
} parse_t;

static int fail(parse_t *p, const char *fmt, ...)
{
    if (p->err && p->errsize) {
        char msg[384];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (p->cmdline || p->line == 0)
            snprintf(p->err, p->errsize, "%s: %s", p->name, msg);
        else
            snprintf(p->err, p->errsize, "%s:%u: %s", p->name, p->line, msg);
        for (char *c = p->err; *c; c++) /* one line, whatever the file name holds */
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
    }
    return ETUDE_EPARSE;
}

/* A token quoted for a message: non-printable bytes escaped, long ones cut. */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 40) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}

typedef struct tok {
    const char *s;
    size_t len;
} tok_t;

static bool is_int(tok_t t)
{
    if (t.len == 0)
        return false;
    for (size_t i = 0; i < t.len; i++)
        if (t.s[i] < '0' || t.s[i] > '9')
            return false;
    return true;
}

/* klick's number syntax: digits with an optional fraction, or a fraction alone. No sign, no exponent. */
static bool is_float(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    return i == len && digits > 0;
}

static double to_double(const char *s, size_t len)
{
    char buf[64];
    if (len >= sizeof buf)
        return HUGE_VAL;
    memcpy(buf, s, len);
    buf[len] = 0;
    return strtod(buf, NULL);
}

/* A positive integer up to max, or 0 when malformed or out of range. */
static uint32_t to_uint(const char *s, size_t len, uint32_t max)
{
    uint64_t v = 0;
    if (len == 0 || len > 10)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v > max ? 0 : (uint32_t)v;
}

static bool is_pattern(tok_t t)
{
    if (t.len == 0)
        return false;
    for (size_t i = 0; i < t.len; i++)
        if (t.s[i] != 'X' && t.s[i] != 'x' && t.s[i] != '.')
            return false;
    return true;
}

static bool looks_numeric(tok_t t)
{
    return t.len && ((t.s[0] >= '0' && t.s[0] <= '9') || t.s[0] == '.' || t.s[0] == '-' ||
                     t.s[0] == '+');
}

static bool is_meter_like(tok_t t)
{
    return memchr(t.s, '/', t.len) && !memchr(t.s, '-', t.len) && !memchr(t.s, ',', t.len);
}

/* One tempo value: klick's number syntax, > 0 once rounded to single precision. */
static bool tempo_value(const char *s, size_t len, float *out)
{
    if (!is_float(s, len))
        return false;
    double d = to_double(s, len);
    float f = (float)d;
    if (!(f > 0.0f) || d > ETUDE_TEMPOMAP_MAX_TEMPO)
        return false;
    *out = f;
    return true;
}

#define TEMPO_EXPECTED "(expected a number > 0)"

typedef struct parsed_line {
    char label[ETUDE_TEMPOMAP_LABEL_MAX];
    bool has_bars;
    uint32_t bars, beats, denom;
    float tempo, tempo2, accel;
    bool has_accel;
    float *tempi;
    size_t ntempi;
    uint8_t *pattern;
    float volume;
} parsed_line_t;

static void parsed_free(parsed_line_t *l)
{
    free(l->tempi);
    free(l->pattern);
}

/* Parse the tokens of one line (comments already cut). */
static int parse_tokens(parse_t *p, tok_t *t, size_t n, parsed_line_t *l)
{
    char q[200];
    size_t i = 0;
    memset(l, 0, sizeof *l);
    l->beats = l->denom = 4;
    l->volume = 1.0f;

    /* label: "name:" (klick also accepts "name:8", the bars glued on) */
    const char *colon = n ? memchr(t[0].s, ':', t[0].len) : NULL;
    if (colon) {
        size_t ll = (size_t)(colon - t[0].s);
        bool ok = ll > 0 && ll < ETUDE_TEMPOMAP_LABEL_MAX;
        for (size_t k = 0; ok && k < ll; k++) {
            char c = t[0].s[k];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        }
        if (!ok)
            return fail(p, "bad label '%s' (expected letters, digits, '_' or '-' before ':')",
                        quote(t[0].s, ll + 1, q, sizeof q));
        memcpy(l->label, t[0].s, ll);
        l->label[ll] = 0;
        size_t rest = t[0].len - ll - 1;
        if (rest) {
            t[0].s = colon + 1;
            t[0].len = rest;
        } else {
            i++;
        }
    }

    /* bars (optional on the command line: left out when the first token is the tempo) */
    bool bars_here = i < n;
    if (p->cmdline && bars_here)
        bars_here = is_int(t[i]) && i + 1 < n && !is_pattern(t[i + 1]) && looks_numeric(t[i + 1]);
    if (bars_here) {
        l->bars = to_uint(t[i].s, t[i].len, ETUDE_TEMPOMAP_MAX_BARS);
        if (!l->bars)
            return fail(p, "bad bars '%s' (expected an integer from 1 to %u)",
                        quote(t[i].s, t[i].len, q, sizeof q), ETUDE_TEMPOMAP_MAX_BARS);
        l->has_bars = true;
        i++;
    } else if (!p->cmdline) {
        return fail(p, "missing bars (expected '[label:] bars [meter] tempo [pattern] [volume]')");
    }

    /* meter */
    if (i < n && is_meter_like(t[i])) {
        const char *slash = memchr(t[i].s, '/', t[i].len);
        size_t a = (size_t)(slash - t[i].s);
        l->beats = to_uint(t[i].s, a, ETUDE_TEMPOMAP_MAX_BEATS);
        l->denom = to_uint(slash + 1, t[i].len - a - 1, ETUDE_TEMPOMAP_MAX_BEATS);
        if (!l->beats || !l->denom)
            return fail(p, "bad meter '%s' (expected BEATS/DENOMINATOR, integers from 1 to %u)",
                        quote(t[i].s, t[i].len, q, sizeof q), ETUDE_TEMPOMAP_MAX_BEATS);
        i++;
    }

    /* tempo: T, T1-T2, T1-T2/ACCEL (command line), T1,T2,... */
    if (i >= n)
        return fail(p, "missing tempo (expected '[label:] bars [meter] tempo [pattern] [volume]')");
    {
        tok_t tt = t[i];
        const char *dash = memchr(tt.s, '-', tt.len);
        const char *comma = memchr(tt.s, ',', tt.len);
        quote(tt.s, tt.len, q, sizeof q);
        if (dash && !comma) {
            size_t a = (size_t)(dash - tt.s);
            const char *s2 = dash + 1;
            size_t l2 = tt.len - a - 1;
            const char *slash = memchr(s2, '/', l2);
            if (!tempo_value(tt.s, a, &l->tempo))
                return fail(p, "bad tempo '%s' " TEMPO_EXPECTED, q);
            if (slash) {
                if (!p->cmdline)
                    return fail(p, "bad tempo '%s' (T1-T2/ACCEL is for the command line; in a map "
                                   "write T1-T2 over the bars of the ramp)", q);
                size_t l3 = (size_t)(s2 + l2 - slash - 1);
                if (!is_float(slash + 1, l3) || !((l->accel = (float)to_double(slash + 1, l3)) > 0))
                    return fail(p, "bad tempo '%s' (ACCEL in T1-T2/ACCEL must be a number > 0: "
                                   "bars per bpm)", q);
                l->has_accel = true;
                l2 = (size_t)(slash - s2);
            }
            if (!tempo_value(s2, l2, &l->tempo2))
                return fail(p, "bad tempo '%s' " TEMPO_EXPECTED, q);
        } else if (comma && !dash) {
            size_t cap = 1;
            for (size_t k = 0; k < tt.len; k++)
                cap += tt.s[k] == ',';
            l->tempi = malloc(cap * sizeof *l->tempi);
            if (!l->tempi)
                return ETUDE_ENOMEM;
            const char *s = tt.s, *end = tt.s + tt.len;
            while (s <= end) {
                const char *c = memchr(s, ',', (size_t)(end - s));
                size_t len = c ? (size_t)(c - s) : (size_t)(end - s);
                if (!tempo_value(s, len, &l->tempi[l->ntempi]))
                    return fail(p, "bad tempo '%s' " TEMPO_EXPECTED, q);
                l->ntempi++;
                s += len + 1;
            }
            l->tempo = l->tempi[0];
        } else if (!tempo_value(tt.s, tt.len, &l->tempo)) {
            return fail(p, "bad tempo '%s' " TEMPO_EXPECTED, q);
        }
        i++;
    }

    /* pattern */
    if (i < n && !is_pattern(t[i]) && !looks_numeric(t[i]))
        return fail(p, "bad pattern '%s' (expected X, x or . for each beat)",
                    quote(t[i].s, t[i].len, q, sizeof q));
    if (i < n && is_pattern(t[i])) {
        if (t[i].len != l->beats)
            return fail(p, "bad pattern '%s' (%zu beats; the meter has %u)",
                        quote(t[i].s, t[i].len, q, sizeof q), t[i].len, l->beats);
        l->pattern = malloc(l->beats);
        if (!l->pattern)
            return ETUDE_ENOMEM;
        for (size_t k = 0; k < t[i].len; k++)
            l->pattern[k] = t[i].s[k] == 'X'   ? ETUDE_BEAT_ACCENT
                            : t[i].s[k] == 'x' ? ETUDE_BEAT_NORMAL
                                               : ETUDE_BEAT_SILENT;
        i++;
    }

    /* volume */
    if (i < n) {
        if (!is_float(t[i].s, t[i].len) || !isfinite(to_double(t[i].s, t[i].len)))
            return fail(p, "bad volume '%s' (expected a number >= 0)",
                        quote(t[i].s, t[i].len, q, sizeof q));
        l->volume = (float)to_double(t[i].s, t[i].len);
        i++;
    }
    if (i < n)
        return fail(p, "unexpected '%s' after the entry (expected '[label:] bars [meter] tempo "
                       "[pattern] [volume]')", quote(t[i].s, t[i].len, q, sizeof q));

    uint64_t nbeats = (uint64_t)l->bars * l->beats;
    if (l->tempi && !l->has_bars)
        return fail(p, "bad tempo (a per-beat tempo list needs a bar count)");
    if (l->tempi && l->ntempi != nbeats)
        return fail(p, "bad tempo: %zu tempo values for %llu beats (expected one per beat: bars x "
                       "beats)", l->ntempi, (unsigned long long)nbeats);
    if (l->tempo2 != 0.0f && !l->has_bars && !l->has_accel)
        return fail(p, "bad tempo (a ramp T1-T2 needs a bar count, or T1-T2/ACCEL)");
    return 0;
}

static int add_entry(parse_t *p, etude_tempomap_t *m, const parsed_line_t *l, uint32_t bars,
                     bool endless, float tempo, float tempo2)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        entry_t *ne = realloc(m->e, cap * sizeof *ne);
        if (!ne)
            return ETUDE_ENOMEM;
        m->e = ne;
        m->cap = cap;
    }
    entry_t *e = &m->e[m->n];
    memset(e, 0, sizeof *e);
    m->n++;
    snprintf(e->pub.label, sizeof e->pub.label, "%s", l->label);
    const char *prev = m->n > 1 ? m->e[m->n - 2].section : "";
    snprintf(e->section, sizeof e->section, "%s", l->label[0] ? l->label : prev);
    e->pub.line = p->line;
    e->pub.bars = endless ? 0 : bars;
    e->pub.beats = l->beats;
    e->pub.denom = l->denom;
    e->tempo_f = tempo;
    e->tempo2_f = tempo2 == tempo ? 0.0f : tempo2;
    e->pub.tempo = tempo;
    e->pub.tempo2 = e->tempo2_f;
    e->pub.volume = l->volume;
    e->nbeats = endless ? UINT64_MAX : (uint64_t)bars * l->beats;
    if (l->pattern) {
        if (!(e->pattern = malloc(l->beats)))
            return ETUDE_ENOMEM;
        memcpy(e->pattern, l->pattern, l->beats);
        e->pub.pattern = e->pattern;
    }
    if (l->tempi) {
        size_t nb = l->ntempi;
        e->tempi_f = malloc(nb * sizeof *e->tempi_f);
        e->tempi = malloc(nb * sizeof *e->tempi);
        e->cum = malloc((nb + 1) * sizeof *e->cum);
        if (!e->tempi_f || !e->tempi || !e->cum)
            return ETUDE_ENOMEM;
        e->cum[0] = 0.0;
        for (size_t k = 0; k < nb; k++) {
            e->tempi_f[k] = l->tempi[k];
            e->tempi[k] = l->tempi[k];
            e->cum[k + 1] = e->cum[k] + 240.0 / (double)(l->tempi[k] * (float)l->denom);
        }
        e->pub.tempi = e->tempi;
        e->tempo_f = e->tempo2_f = 0.0f;
        e->pub.tempo = e->pub.tempo2 = 0.0;
    }
    e->pub.start_seconds = m->seconds;
    e->pub.first_beat = m->beats;
    e->pub.first_bar = m->bars;
    if (endless) {
        e->seconds = INFINITY;
        m->endless = true;
        m->seconds = INFINITY;
        m->beats = m->bars = UINT64_MAX;
        return 0;
    }
    e->seconds = entry_offset(e, e->nbeats);
    m->seconds += e->seconds;
    m->beats += e->nbeats;
    m->bars += bars;
    if (m->seconds > ETUDE_TEMPOMAP_MAX_HOURS * 3600.0)
        return fail(p, "the map is longer than %.0f hours by this entry", ETUDE_TEMPOMAP_MAX_HOURS);
    return 0;
}

/* Turn one parsed line into entries (a command-line T1-T2/ACCEL ramp becomes two, as in klick). */
static int add_line(parse_t *p, etude_tempomap_t *m, const parsed_line_t *l)
{
    if (m->endless)
        return fail(p, "an entry after an endless one (only the last entry may leave out bars)");
    if (!l->has_accel)
        return add_entry(p, m, l, l->bars, !l->has_bars, l->tempo, l->tempo2);
    /* klick: bars_accel = ceil(accel * |T2 - T1|), all in single precision. */
    float t1 = l->tempo, t2 = l->tempo2;
    float ramp_bars = ceilf(l->accel * fabsf(t2 - t1));
    if (!(ramp_bars <= (float)ETUDE_TEMPOMAP_MAX_BARS))
        return fail(p, "bad tempo: the ramp T1-T2/ACCEL would last %.0f bars (at most %u)", ramp_bars,
                    ETUDE_TEMPOMAP_MAX_BARS);
    int bars_accel = (int)ramp_bars;
    if (bars_accel <= 0)
        return add_entry(p, m, l, l->bars, !l->has_bars, t1, 0.0f);
    if (!l->has_bars || l->bars > (uint32_t)bars_accel) {
        int r = add_entry(p, m, l, (uint32_t)bars_accel, false, t1, t2);
        if (r)
            return r;
        return add_entry(p, m, l, l->has_bars ? l->bars - (uint32_t)bars_accel : 0, !l->has_bars,
                         t2, 0.0f);
    }
    float reached = t1 + (t2 - t1) * (float)l->bars / (float)bars_accel;
    return add_entry(p, m, l, l->bars, false, t1, reached);
}

void etude_tempomap_destroy(etude_tempomap_t *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->n; i++) {
        free(map->e[i].tempi_f);
        free(map->e[i].tempi);
        free(map->e[i].cum);
        free(map->e[i].pattern);
    }
    free(map->e);
    free(map);
}

#define MAX_TOKENS 16

/* Split a line (comment cut) into blank-separated tokens. Returns the count, or MAX_TOKENS + 1. */
static size_t tokenize(const char *s, size_t len, tok_t *t)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        if (n == MAX_TOKENS)
            return MAX_TOKENS + 1;
        t[n].s = s + start;
        t[n].len = i - start;
        n++;
    }
    return n;
}

static int parse_one(parse_t *p, etude_tempomap_t *m, const char *s, size_t len)
{
    tok_t t[MAX_TOKENS];
    const char *hash = memchr(s, '#', len);
    if (hash)
        len = (size_t)(hash - s);
    size_t n = tokenize(s, len, t);
    if (n == 0)
        return 1; /* blank */
    if (n > MAX_TOKENS)
        return fail(p, "too many fields (expected '[label:] bars [meter] tempo [pattern] [volume]')");
    parsed_line_t l;
    int r = parse_tokens(p, t, n, &l);
    if (r == 0)
        r = add_line(p, m, &l);
    parsed_free(&l);
    return r;
}

int etude_tempomap_parse(const char *text, size_t len, const char *name, etude_tempomap_t **out,
                         char *err, size_t errsize)
{
    parse_t p = {name ? name : "tempo map", false, 0, err, errsize};
    *out = NULL;
    etude_tempomap_t *m = calloc(1, sizeof *m);
    if (!m)
        return ETUDE_ENOMEM;
    int r = 0;
    size_t pos = 0;
    while (pos < len && r >= 0) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + 1;
        p.line++;
        if (memchr(s, 0, l)) {
            r = fail(&p, "binary data (a NUL byte), not a tempo map");
            break;
        }
        if (l && s[l - 1] == '\r')
            l--;
        r = parse_one(&p, m, s, l);
    }
    if (r >= 0 && m->n == 0) {
        p.line = 0;
        r = fail(&p, "no entries (expected lines like '8 4/4 120', see docs/click.md)");
    }
    if (r < 0) {
        if (r == ETUDE_ENOMEM && err && errsize)
            snprintf(err, errsize, "%s: out of memory", p.name);
        etude_tempomap_destroy(m);
        return r;
    }
    *out = m;
    return 0;
}

int etude_tempomap_parse_line(const char *line, const char *name, etude_tempomap_t **out,
                              char *err, size_t errsize)
{
    parse_t p = {name ? name : "--click", true, 1, err, errsize};
    *out = NULL;
    size_t len = strlen(line);
    if (memchr(line, '\n', len))
        return fail(&p, "bad map line (one line expected, without a newline)");
    etude_tempomap_t *m = calloc(1, sizeof *m);
    if (!m)
        return ETUDE_ENOMEM;
    int r = parse_one(&p, m, line, len);
    if (r == 1)
        r = fail(&p, "empty (expected '[bars] [meter] tempo[-tempo2] [pattern]', e.g. '8 4/4 120')");
    if (r < 0) {
        etude_tempomap_destroy(m);
        return r;
    }
    *out = m;
    return 0;
}

int etude_tempomap_load(const char *path, etude_tempomap_t **out, char *err, size_t errsize)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int r = etude_read_file(path, (size_t)64 << 20, "tempo map", &buf, &len, err, errsize);
    if (r == ETUDE_ELIMIT)
        r = ETUDE_EPARSE;
    if (r == 0)
        r = etude_tempomap_parse(buf, len, path, out, err, errsize);
    free(buf);
    return r;
}
