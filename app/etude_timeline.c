/* etude_timeline.c - count-in, loops, start bar and trainer: the flags' parsers and the tempo-map
 * rewrite for click material. */
#include "etude_timeline.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_error.h"

#define MAX_TEXT (64u << 20) /* a rewritten map's text */

static int fail(char *err, size_t len, const char *fmt, ...)
{
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return ETUDE_EINVAL;
}

void etude_timeline_init(etude_timeline_t *t)
{
    memset(t, 0, sizeof *t);
    t->count_in = -1;
    t->loops = -1;
    t->every = 1;
}

bool etude_timeline_empty(const etude_timeline_t *t)
{
    return t->count_in < 0 && !t->loop[0] && t->loops < 0 && !t->start[0] && !t->trainer;
}

/* A whole decimal number from 0 to max (no sign, no spaces). */
static bool whole(const char *s, size_t n, uint32_t max, uint32_t *out)
{
    if (n == 0 || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A finite number, the whole string. */
static bool number(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf || isspace((unsigned char)s[0]))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Letters, digits, '_' and '-', as klick's labels. */
static bool label_chars(const char *s, size_t n)
{
    if (n == 0 || n >= ETUDE_TEMPOMAP_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

int etude_timeline_set_count_in(etude_timeline_t *t, const char *s, char *err, size_t len)
{
    uint32_t v;
    if (!s || !whole(s, strlen(s), ETUDE_TIMELINE_MAX_COUNT_IN, &v))
        return fail(err, len, "--count-in '%s': expected a number of bars from 0 to %u", s ? s : "",
                    ETUDE_TIMELINE_MAX_COUNT_IN);
    t->count_in = (int)v;
    return 0;
}

int etude_timeline_set_loops(etude_timeline_t *t, const char *s, char *err, size_t len)
{
    uint32_t v;
    if (!s || !whole(s, strlen(s), ETUDE_TIMELINE_MAX_PASSES, &v))
        return fail(err, len, "--loops '%s': expected a number of passes from 1 to %u, or 0 for ever", s ? s : "",
                    ETUDE_TIMELINE_MAX_PASSES);
    t->loops = (int32_t)v;
    return 0;
}

int etude_timeline_set_loop(etude_timeline_t *t, const char *s, char *err, size_t len)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n < sizeof t->loop && s[0] != '-' && s[n - 1] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-';
    if (!ok)
        return fail(err, len, "--loop '%s': expected bars A-B (1-based, B included, e.g. 5-8), a bar, "
                    "or tempo-map labels (verse, or verse-chorus)", s ? s : "");
    const char *dash = strchr(s, '-');
    uint32_t a, b;
    bool num_a = whole(s, dash ? (size_t)(dash - s) : n, UINT32_MAX - 1, &a);
    if (num_a && !dash && a == 0)
        return fail(err, len, "--loop '%s': bars count from 1", s);
    if (num_a && dash) {
        if (!whole(dash + 1, strlen(dash + 1), UINT32_MAX - 1, &b)) {
            if (strspn(dash + 1, "0123456789-") == strlen(dash + 1))
                return fail(err, len, "--loop '%s': expected bars A-B (1-based, B included, e.g. 5-8)", s);
        } else if (a == 0 || b == 0) {
            return fail(err, len, "--loop '%s': bars count from 1", s);
        } else if (b < a) {
            return fail(err, len, "--loop '%s': the loop ends (bar %u) before it starts (bar %u)", s, b, a);
        }
    }
    snprintf(t->loop, sizeof t->loop, "%s", s);
    return 0;
}

int etude_timeline_set_start(etude_timeline_t *t, const char *s, char *err, size_t len)
{
    size_t n = s ? strlen(s) : 0;
    uint32_t v;
    bool num = n && strspn(s, "0123456789") == n;
    if (n == 0 || (num && (!whole(s, n, UINT32_MAX - 1, &v) || v == 0)) || (!num && !label_chars(s, n)))
        return fail(err, len, "--start '%s': expected a bar number (from 1) or a tempo-map label", s ? s : "");
    snprintf(t->start, sizeof t->start, "%s", s);
    return 0;
}

int etude_timeline_set_trainer(etude_timeline_t *t, const char *s, char *err, size_t len)
{
    const char *f[4];
    size_t fl[4];
    size_t k = 0;
    const char *p = s ? s : "";
    for (;;) {
        const char *c = strchr(p, ':');
        if (k == 4)
            goto bad;
        f[k] = p;
        fl[k] = c ? (size_t)(c - p) : strlen(p);
        k++;
        if (!c)
            break;
        p = c + 1;
    }
    if (k != 4)
        goto bad;
    double start, step, target;
    uint32_t every;
    if (!number(f[0], fl[0], &start) || !number(f[1], fl[1], &step) || !whole(f[2], fl[2], 1000, &every) ||
        !number(f[3], fl[3], &target))
        goto bad;
    if (!(start >= 1 && start <= 1000) || !(target >= 1 && target <= 1000))
        return fail(err, len, "--trainer '%s': START and TARGET are tempi from 1 to 1000 bpm", s);
    if (!(step >= 0.01 && step <= 1000))
        return fail(err, len, "--trainer '%s': STEP is the bpm added each time, from 0.01 to 1000", s);
    if (every < 1)
        return fail(err, len, "--trainer '%s': EVERY is the passes at each tempo, at least 1", s);
    if (target < start)
        return fail(err, len, "--trainer '%s': TARGET %g is below START %g", s, target, start);
    double tempi = floor((target - start) / step + 1e-9) + 1;
    if (start + (tempi - 1) * step < target - 1e-9)
        tempi++;
    if (tempi * every > ETUDE_TIMELINE_MAX_PASSES)
        return fail(err, len, "--trainer '%s': %.0f passes (at most %u)", s, tempi * every, ETUDE_TIMELINE_MAX_PASSES);
    t->trainer = true;
    t->start_bpm = start;
    t->step_bpm = step;
    t->target_bpm = target;
    t->every = every;
    return 0;
bad:
    return fail(err, len, "--trainer '%s': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, "
                "5 bpm faster every 2 passes, up to 90)", s ? s : "");
}

int etude_timeline_check(const etude_timeline_t *t, char *err, size_t len)
{
    if (t->trainer && t->loops >= 0)
        return fail(err, len, "--loops %d: the trainer decides the passes (leave --loops out)", (int)t->loops);
    return 0;
}

uint32_t etude_timeline_passes(const etude_timeline_t *t)
{
    if (t->trainer) {
        double tempi = floor((t->target_bpm - t->start_bpm) / t->step_bpm + 1e-9) + 1;
        if (t->start_bpm + (tempi - 1) * t->step_bpm < t->target_bpm - 1e-9)
            tempi++;
        return (uint32_t)tempi * t->every;
    }
    return t->loops < 0 ? 1 : (uint32_t)t->loops;
}

double etude_timeline_pass_bpm(const etude_timeline_t *t, uint32_t k)
{
    double bpm = t->start_bpm + floor((double)(k / (t->every ? t->every : 1))) * t->step_bpm;
    return bpm > t->target_bpm ? t->target_bpm : bpm;
}

/* ---- bars and labels ---------------------------------------------------------------------- */

/* The entry labelled name (the first one), or -1. */
static long find_label(const etude_tempomap_t *map, const char *name, size_t n)
{
    for (size_t i = 0; map && i < etude_tempomap_entry_count(map); i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(map, i);
        if (strlen(e->label) == n && !strncmp(e->label, name, n))
            return (long)i;
    }
    return -1;
}

/* The labels of map, for messages. */
static void label_list(const etude_tempomap_t *map, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; map && i < etude_tempomap_entry_count(map) && o + 1 < len; i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(map, i);
        if (e->label[0])
            o += (size_t)snprintf(out + o, len - o, "%s%s", o ? " " : "", e->label);
    }
}

/* One end of a loop or a start: a bar number or a label. first: the label's first bar, otherwise
 * the last bar of its section. Returns 1-based bars (UINT32_MAX: an endless section's end), 0 if
 * the text is neither. */
static uint32_t bar_of(const etude_tempomap_t *map, const char *s, size_t n, bool first)
{
    uint32_t v;
    if (whole(s, n, UINT32_MAX - 1, &v))
        return v;
    long e = find_label(map, s, n);
    if (e < 0)
        return 0;
    const etude_tempomap_entry_t *en = etude_tempomap_entry(map, (size_t)e);
    if (first)
        return (uint32_t)en->first_bar + 1;
    for (size_t i = (size_t)e + 1; i < etude_tempomap_entry_count(map); i++) {
        const etude_tempomap_entry_t *x = etude_tempomap_entry(map, i);
        if (x->label[0])
            return (uint32_t)x->first_bar; /* the bar before the next section, 1-based */
    }
    uint64_t bars = etude_tempomap_bar_count(map);
    return bars >= UINT32_MAX ? UINT32_MAX : (uint32_t)bars;
}

static int unknown_label(const etude_tempomap_t *map, const char *flag, const char *text, const char *name,
                         size_t n, char *err, size_t len)
{
    if (!map)
        return fail(err, len, "%s '%s': this material has no labels (labels name the entries of a tempo map); "
                    "give bar numbers", flag, text);
    char labels[512];
    label_list(map, labels, sizeof labels);
    return fail(err, len, "%s '%s': no label '%.*s' in the tempo map (%s%s)", flag, text, (int)n, name,
                labels[0] ? "labels: " : "it has no labels", labels);
}

int etude_timeline_resolve(const etude_timeline_t *t, const etude_tempomap_t *map, uint32_t bars,
                           etude_timeline_bars_t *out, char *err, size_t len)
{
    memset(out, 0, sizeof *out);
    out->from = 1;
    out->to = bars;
    const char *s = t->loop;
    size_t n = strlen(s);
    if (n) {
        out->loop = true;
        uint32_t a = 0, b = 0;
        /* the whole text a label (its section), else A-B split at a dash both sides of which resolve */
        if (find_label(map, s, n) >= 0) {
            a = bar_of(map, s, n, true);
            b = bar_of(map, s, n, false);
        } else if (!strchr(s, '-')) {
            a = b = bar_of(map, s, n, true);
            if (!a)
                return unknown_label(map, "--loop", s, s, n, err, len);
        } else {
            for (const char *d = strchr(s, '-'); d && !a; d = strchr(d + 1, '-')) {
                uint32_t x = bar_of(map, s, (size_t)(d - s), true), y = bar_of(map, d + 1, strlen(d + 1), false);
                if (x && y) {
                    a = x;
                    b = y;
                }
            }
            if (!a) {
                const char *d = strchr(s, '-');
                if (!bar_of(map, s, (size_t)(d - s), true))
                    return unknown_label(map, "--loop", s, s, (size_t)(d - s), err, len);
                return unknown_label(map, "--loop", s, d + 1, strlen(d + 1), err, len);
            }
        }
        if (a > bars && bars != UINT32_MAX)
            return fail(err, len, "--loop '%s': bar %u is past the end (the material has %u bars)", s, a, bars);
        if (b > bars && b != UINT32_MAX)
            return fail(err, len, "--loop '%s': bar %u is past the end (the material has %u bars)", s, b, bars);
        if (b < a)
            return fail(err, len, "--loop '%s': the loop ends (bar %u) before it starts (bar %u)", s, b, a);
        if (b == UINT32_MAX)
            return fail(err, len, "--loop '%s': the section never ends (the map's last entry has no bar count)", s);
        out->from = a;
        out->to = b;
    }
    out->start = out->from;
    if (t->start[0]) {
        size_t m = strlen(t->start);
        uint32_t v = bar_of(map, t->start, m, true);
        if (!v)
            return unknown_label(map, "--start", t->start, t->start, m, err, len);
        if (v > bars && bars != UINT32_MAX)
            return fail(err, len, "--start '%s': bar %u is past the end (the material has %u bars)", t->start, v,
                        bars);
        if (out->loop && (v < out->from || v > out->to))
            return fail(err, len, "--start '%s': bar %u is outside the loop (bars %u to %u)", t->start, v, out->from,
                        out->to);
        out->start = v;
    }
    if (t->trainer && out->to == UINT32_MAX)
        return fail(err, len, "--trainer: the material never ends; give --loop A-B");
    if (t->loops != 1 && t->loops >= 0 && out->to == UINT32_MAX)
        return fail(err, len, "--loops %d: the material never ends; give --loop A-B", (int)t->loops);
    return 0;
}

/* ---- the rewritten map -------------------------------------------------------------------- */

typedef struct text {
    char *s;
    size_t n, cap;
    int rc;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...)
{
    if (t->rc)
        return;
    if (!t->s) {
        if (!(t->s = malloc(4096))) {
            t->rc = ETUDE_ENOMEM;
            return;
        }
        t->cap = 4096;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if (w < 0) {
            t->rc = ETUDE_EINVAL;
            return;
        }
        if ((size_t)w < t->cap - t->n) {
            t->n += (size_t)w;
            return;
        }
        size_t cap = (t->cap + (size_t)w + 1) * 2;
        if (cap > MAX_TEXT) {
            t->rc = ETUDE_ELIMIT;
            return;
        }
        char *s = realloc(t->s, cap);
        if (!s) {
            t->rc = ETUDE_ENOMEM;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* The tempo at beat k of entry e (0 <= k <= its beats), as the map says (klick: linear in beats). */
static double entry_tempo(const etude_tempomap_entry_t *e, uint64_t k)
{
    uint64_t nb = (uint64_t)e->bars * e->beats;
    if (e->tempi)
        return e->tempi[k < nb ? k : nb - 1];
    if (e->tempo2 == 0 || nb == 0)
        return e->tempo;
    return e->tempo + (e->tempo2 - e->tempo) * ((double)k / (double)nb);
}

/* Bars x..y (1-based, inclusive; y UINT32_MAX: to the end) of map, every tempo times f. */
static void put_bars(text_t *t, const etude_tempomap_t *map, uint32_t x, uint32_t y, double f)
{
    for (size_t i = 0; i < etude_tempomap_entry_count(map); i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(map, i);
        uint64_t e0 = e->first_bar + 1, e1 = e->bars ? e->first_bar + e->bars : UINT64_MAX; /* 1-based */
        uint64_t lo = x > e0 ? x : e0, hi = y < e1 ? y : e1;
        if (lo > hi)
            continue;
        uint64_t skip = lo - e0, bars;
        if (hi == UINT64_MAX || hi == UINT32_MAX) { /* an endless entry: as many bars as fit in 900 hours */
            double bar_s = e->beats * 240.0 / (e->denom * e->tempo * f);
            double fit = floor(900.0 * 3600.0 / bar_s);
            bars = fit > ETUDE_TEMPOMAP_MAX_BARS ? ETUDE_TEMPOMAP_MAX_BARS : fit < 1 ? 1 : (uint64_t)fit;
        } else {
            bars = hi - lo + 1;
        }
        etude_tempomap_beat_t b;
        const char *section = "";
        if (etude_tempomap_beat(map, e->first_beat + skip * e->beats, &b) == 0 && b.section)
            section = b.section;
        if (section[0])
            put(t, "%s: ", section);
        put(t, "%llu %u/%u ", (unsigned long long)bars, e->beats, e->denom);
        uint64_t k0 = skip * e->beats, nbeats = bars * e->beats;
        if (e->tempi) {
            for (uint64_t k = 0; k < nbeats; k++)
                put(t, "%s%.9g", k ? "," : "", e->tempi[k0 + k] * f);
        } else if (e->tempo2 != 0 && e->bars) {
            put(t, "%.9g-%.9g", entry_tempo(e, k0) * f, entry_tempo(e, k0 + nbeats) * f);
        } else {
            put(t, "%.9g", e->tempo * f);
        }
        put(t, " ");
        for (uint32_t k = 0; k < e->beats; k++)
            put(t, "%c", e->pattern ? ".xX"[e->pattern[k] % 3] : k ? 'x' : 'X');
        put(t, " %.9g\n", e->volume);
    }
}

/* The tempo at the first beat of bar (1-based) and its entry. */
static const etude_tempomap_entry_t *bar_entry(const etude_tempomap_t *map, uint32_t bar, double *bpm)
{
    uint64_t k = etude_tempomap_bar_first_beat(map, bar - 1);
    etude_tempomap_beat_t b;
    if (k == UINT64_MAX || etude_tempomap_beat(map, k, &b) < 0)
        return NULL;
    *bpm = b.bpm;
    return etude_tempomap_entry(map, b.entry);
}

int etude_timeline_map(const etude_tempomap_t *map, const etude_timeline_t *t, const etude_timeline_bars_t *b,
                       const char *name, etude_tempomap_t **out, uint64_t *loop_bar, char *err, size_t len)
{
    *out = NULL;
    *loop_bar = UINT64_MAX;
    double bpm_a, bpm_s;
    const etude_tempomap_entry_t *ea = bar_entry(map, b->from, &bpm_a), *es = bar_entry(map, b->start, &bpm_s);
    if (!ea || !es)
        return fail(err, len, "%s: bar %u is past the end", name, !ea ? b->from : b->start);
    uint32_t passes = etude_timeline_passes(t);
    bool endless = passes == 0;
    uint32_t laid = endless ? (b->start > b->from ? 2 : 1) : passes;
    text_t tx = {0};
    double f0 = t->trainer ? etude_timeline_pass_bpm(t, 0) / bpm_a : 1.0;
    uint32_t cin = t->count_in > 0 ? (uint32_t)t->count_in : 0;
    uint64_t bars_out = 0;
    if (cin) {
        put(&tx, "%u %u/%u %.9g ", cin, es->beats, es->denom, bpm_s * f0);
        for (uint32_t k = 0; k < es->beats; k++) /* the first bar's beat pattern, as its click plays it */
            put(&tx, "%c", es->pattern ? ".xX"[es->pattern[k] % 3] : k ? 'x' : 'X');
        put(&tx, " 1\n");
        bars_out += cin;
    }
    for (uint32_t k = 0; k < laid && !tx.rc; k++) {
        double f = t->trainer ? etude_timeline_pass_bpm(t, k) / bpm_a : 1.0;
        uint32_t first = k == 0 ? b->start : b->from;
        if (endless && k + 1 == laid)
            *loop_bar = bars_out;
        put_bars(&tx, map, first, b->to, f);
        bars_out += (uint64_t)(b->to - first) + 1;
    }
    if (tx.rc) {
        free(tx.s);
        return tx.rc == ETUDE_ELIMIT ? fail(err, len, "%s: the timeline is too long (%u passes)", name, passes)
                                    : tx.rc;
    }
    int rc = etude_tempomap_parse(tx.s, tx.n, name, out, err, len);
    free(tx.s);
    return rc;
}

void etude_timeline_layout(const etude_timeline_t *t, const etude_timeline_bars_t *b, etude_timeline_layout_t *out)
{
    out->count_in = t->count_in > 0 ? (uint32_t)t->count_in : 0;
    out->start = b->start;
    out->from = b->from;
    out->to = b->to;
}

uint64_t etude_timeline_bar_of(const void *layout, uint64_t bar)
{
    const etude_timeline_layout_t *l = layout;
    if (bar < l->count_in)
        return l->start - 1u;
    bar -= l->count_in;
    if (l->to == UINT32_MAX || bar <= (uint64_t)(l->to - l->start)) /* the first pass, from start */
        return l->start - 1u + bar;
    bar -= (uint64_t)(l->to - l->start) + 1;
    return l->from - 1u + bar % ((uint64_t)(l->to - l->from) + 1); /* later passes, from `from` */
}
