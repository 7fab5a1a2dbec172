/* etude_midifile.c - Standard MIDI File (type 0 and 1) parser and the MIDI part source. */
#include "etude_midifile.h"
#include "etude_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tempo_pt {
    uint64_t tick;
    uint32_t usq;   /* microseconds per quarter note */
    size_t seq;     /* file order, to sort stably */
    double seconds; /* at tick */
} tempo_pt_t;

typedef struct meter_pt {
    uint64_t tick;
    size_t seq;
    uint32_t num, den;
} meter_pt_t;

typedef struct part {
    char name[64];
    etude_midi_msg_t *msgs;
    size_t count;
    size_t notes;
} part_t;

struct etude_midifile {
    int format;
    size_t ntracks;
    uint32_t division; /* ticks per quarter, or ticks per second for SMPTE */
    int smpte;
    double smpte_tps;
    uint64_t length;
    tempo_pt_t *tempos;
    size_t ntempos;
    meter_pt_t *meters;
    size_t nmeters;
    part_t *parts;
    size_t nparts;
    char title[128]; /* the first track's name, sanitised UTF-8; "" when it has none */
};

/* A growable array of the messages of one track while parsing. */
typedef struct track_buf {
    char name[64];
    int named;
    etude_midi_msg_t *msgs;
    size_t count, cap;
    uint64_t end_tick;
} track_buf_t;

typedef struct parser {
    char title[128]; /* the first track's first non-empty name (see sanitise_text()) */
    const uint8_t *d;
    size_t len;
    etude_midifile_error_t *err;
    tempo_pt_t *tempos;
    size_t ntempos, captempos;
    meter_pt_t *meters;
    size_t nmeters, capmeters;
} parser_t;

static int fail(parser_t *p, size_t off, int code, const char *fmt, ...)
{
    if (p->err) {
        p->err->offset = off;
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(p->err->message, sizeof p->err->message, "byte %zu: ", off);
        if (n < 0)
            n = 0;
        if ((size_t)n < sizeof p->err->message)
            vsnprintf(p->err->message + n, sizeof p->err->message - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }
static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return ETUDE_ENOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* Reads a variable-length quantity at *pos, bounded by end. */
static int read_vlq(parser_t *p, size_t *pos, size_t end, uint32_t *out, const char *what, size_t tracknum)
{
    uint32_t v = 0;
    size_t start = *pos;
    for (int i = 0; i < 4; i++) {
        if (*pos >= end)
            return fail(p, start, ETUDE_EPARSE, "track %zu: %s runs past the end of the track", tracknum, what);
        uint8_t b = p->d[(*pos)++];
        v = (v << 7) | (b & 0x7f);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail(p, start, ETUDE_EPARSE, "track %zu: %s is longer than 4 bytes", tracknum, what);
}

/* Text of a meta event as a printable UTF-8 string in out (cap bytes, cap >= 1): valid UTF-8 is
 * kept whole; a byte that starts no valid sequence is read as Latin-1 (the older files' usual
 * encoding) when printable (0xA0..0xFF), else dropped; control characters (C0, DEL, C1) become a
 * space; runs of spaces become one, and the ends are trimmed. A character that does not fit is
 * dropped with all that follows, so the result is never cut inside a sequence. */
static void sanitise_text(const uint8_t *m, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c[4];
        size_t cl = 0, used = 1;
        uint8_t b = m[i];
        if (b < 0x80) {
            c[0] = b < 0x20 || b == 0x7f ? ' ' : b;
            cl = 1;
        } else {
            size_t need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
            int ok = need && i + need <= n;
            for (size_t j = 1; ok && j < need; j++)
                ok = (m[i + j] & 0xc0) == 0x80;
            if (ok && need == 3) /* no overlong forms, no surrogates */
                ok = !(b == 0xe0 && m[i + 1] < 0xa0) && !(b == 0xed && m[i + 1] >= 0xa0);
            if (ok && need == 4) /* no overlong forms, nothing past U+10FFFF */
                ok = !(b == 0xf0 && m[i + 1] < 0x90) && !(b == 0xf4 && m[i + 1] >= 0x90);
            if (ok && need == 2 && b == 0xc2 && m[i + 1] < 0xa0) { /* C1 control */
                c[0] = ' ';
                cl = 1;
                used = 2;
            } else if (ok) {
                memcpy(c, m + i, need);
                cl = used = need;
            } else if (b >= 0xa0) { /* Latin-1 */
                c[0] = (uint8_t)(0xc0 | b >> 6);
                c[1] = (uint8_t)(0x80 | (b & 0x3f));
                cl = 2;
            }
        }
        i += used;
        if (cl == 1 && c[0] == ' ' && (k == 0 || out[k - 1] == ' '))
            continue;
        if (k + cl >= cap)
            break;
        memcpy(out + k, c, cl);
        k += cl;
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = 0;
}

static int parse_track(parser_t *p, size_t start, size_t end, size_t tracknum, track_buf_t *tb)
{
    size_t pos = start;
    uint64_t tick = 0;
    uint8_t running = 0;
    int ended = 0;
    while (pos < end && !ended) {
        uint32_t delta;
        int rc = read_vlq(p, &pos, end, &delta, "delta time", tracknum);
        if (rc)
            return rc;
        tick += delta;
        if (pos >= end)
            return fail(p, pos, ETUDE_EPARSE, "track %zu: event missing after delta time", tracknum);
        size_t evpos = pos;
        uint8_t b = p->d[pos];
        if (b == 0xff) { /* meta event */
            pos++;
            if (pos >= end)
                return fail(p, evpos, ETUDE_EPARSE, "track %zu: meta event type missing", tracknum);
            uint8_t type = p->d[pos++];
            uint32_t mlen;
            if ((rc = read_vlq(p, &pos, end, &mlen, "meta event length", tracknum)))
                return rc;
            if (mlen > end - pos)
                return fail(p, evpos, ETUDE_EPARSE, "track %zu: meta event 0x%02x declares %u bytes but only %zu remain in the track",
                            tracknum, type, mlen, end - pos);
            const uint8_t *m = p->d + pos;
            if (type == 0x2f) {
                ended = 1;
            } else if (type == 0x03 && !tb->named) {
                size_t n = mlen < sizeof tb->name - 1 ? mlen : sizeof tb->name - 1;
                size_t k = 0;
                for (size_t i = 0; i < n; i++) /* keep printable ASCII so names are safe to print */
                    if (m[i] >= 0x20 && m[i] < 0x7f)
                        tb->name[k++] = (char)m[i];
                tb->name[k] = 0;
                /* trim trailing spaces */
                while (k > 0 && tb->name[k - 1] == ' ')
                    tb->name[--k] = 0;
                tb->named = k > 0;
            }
            if (type == 0x03 && tracknum == 1 && !p->title[0]) {
                sanitise_text(m, mlen, p->title, sizeof p->title);
            } else if (type == 0x51) {
                if (mlen != 3)
                    return fail(p, evpos, ETUDE_EPARSE, "track %zu: tempo event has length %u, expected 3", tracknum, mlen);
                uint32_t usq = (uint32_t)m[0] << 16 | (uint32_t)m[1] << 8 | m[2];
                if (usq == 0)
                    return fail(p, evpos, ETUDE_EPARSE, "track %zu: tempo event of 0 microseconds per quarter note", tracknum);
                if ((rc = grow((void **)&p->tempos, &p->captempos, p->ntempos + 1, sizeof *p->tempos)))
                    return rc;
                p->tempos[p->ntempos++] = (tempo_pt_t){.tick = tick, .usq = usq, .seq = p->ntempos};
            } else if (type == 0x58) {
                if (mlen < 2)
                    return fail(p, evpos, ETUDE_EPARSE, "track %zu: time signature event has length %u, expected 4", tracknum, mlen);
                if (m[0] == 0 || m[1] > 6)
                    return fail(p, evpos, ETUDE_EPARSE, "track %zu: time signature %u/2^%u is not usable", tracknum, m[0], m[1]);
                if ((rc = grow((void **)&p->meters, &p->capmeters, p->nmeters + 1, sizeof *p->meters)))
                    return rc;
                p->meters[p->nmeters++] = (meter_pt_t){.tick = tick, .seq = p->nmeters, .num = m[0], .den = 1u << m[1]};
            }
            pos += mlen;
            continue;
        }
        if (b == 0xf0 || b == 0xf7) { /* sysex or escape: skipped */
            pos++;
            uint32_t slen;
            if ((rc = read_vlq(p, &pos, end, &slen, "sysex length", tracknum)))
                return rc;
            if (slen > end - pos)
                return fail(p, evpos, ETUDE_EPARSE, "track %zu: sysex declares %u bytes but only %zu remain in the track",
                            tracknum, slen, end - pos);
            pos += slen;
            running = 0;
            continue;
        }
        if (b >= 0xf1)
            return fail(p, evpos, ETUDE_EPARSE, "track %zu: status byte 0x%02x is not allowed in a MIDI file", tracknum, b);
        uint8_t status;
        if (b & 0x80) {
            status = b;
            pos++;
            running = status;
        } else {
            if (!running)
                return fail(p, evpos, ETUDE_EPARSE, "track %zu: data byte 0x%02x with no running status", tracknum, b);
            status = running;
        }
        int ndata = ((status & 0xf0) == 0xc0 || (status & 0xf0) == 0xd0) ? 1 : 2;
        uint8_t data[2] = {0, 0};
        for (int i = 0; i < ndata; i++) {
            if (pos >= end)
                return fail(p, evpos, ETUDE_EPARSE, "track %zu: channel message 0x%02x cut short by the end of the track",
                            tracknum, status);
            if (p->d[pos] & 0x80)
                return fail(p, pos, ETUDE_EPARSE, "track %zu: expected a data byte, found status 0x%02x", tracknum, p->d[pos]);
            data[i] = p->d[pos++];
        }
        etude_midi_msg_t msg = {.tick = tick, .status = status, .d1 = data[0], .d2 = data[1]};
        if ((status & 0xf0) == 0x90 && data[1] == 0)
            msg.status = (uint8_t)(0x80 | (status & 0x0f));
        if ((rc = grow((void **)&tb->msgs, &tb->cap, tb->count + 1, sizeof *tb->msgs)))
            return rc;
        tb->msgs[tb->count++] = msg;
    }
    tb->end_tick = tick;
    return 0;
}

static int cmp_tempo(const void *a, const void *b)
{
    const tempo_pt_t *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_meter(const void *a, const void *b)
{
    const meter_pt_t *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static size_t dedupe_tempos(tempo_pt_t *t, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && t[k - 1].tick == t[i].tick)
            t[k - 1] = t[i];
        else
            t[k++] = t[i];
    }
    return k;
}

static void free_tracks(track_buf_t *tb, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tb[i].msgs);
    free(tb);
}

static int add_part(etude_midifile_t *mf, const char *name, etude_midi_msg_t *msgs, size_t count)
{
    part_t *np = realloc(mf->parts, (mf->nparts + 1) * sizeof *np);
    if (!np)
        return ETUDE_ENOMEM;
    mf->parts = np;
    part_t *pt = &mf->parts[mf->nparts];
    memset(pt, 0, sizeof *pt);
    snprintf(pt->name, sizeof pt->name, "%s", name);
    /* Names identify voices, so they must be unique within the file. */
    for (int dup = 2;; dup++) {
        int clash = 0;
        for (size_t i = 0; i < mf->nparts; i++)
            if (!strcmp(mf->parts[i].name, pt->name))
                clash = 1;
        if (!clash)
            break;
        snprintf(pt->name, sizeof pt->name, "%.50s (%d)", name, dup);
    }
    pt->msgs = msgs;
    pt->count = count;
    for (size_t i = 0; i < count; i++)
        if ((msgs[i].status & 0xf0) == 0x90)
            pt->notes++;
    mf->nparts++;
    return 0;
}

int etude_midifile_parse(const uint8_t *data, size_t len, etude_midifile_t **out, etude_midifile_error_t *err)
{
    if (!out || (!data && len))
        return ETUDE_EINVAL;
    *out = NULL;
    if (err) {
        err->offset = 0;
        err->message[0] = 0;
    }
    parser_t p = {.d = data, .len = len, .err = err};
    if (len < 14 || memcmp(data, "MThd", 4))
        return fail(&p, 0, ETUDE_EPARSE, "not a Standard MIDI File (no 'MThd' header of 14 bytes)");
    uint32_t hlen = be32(data + 4);
    if (hlen < 6)
        return fail(&p, 4, ETUDE_EPARSE, "header length %u is shorter than 6", hlen);
    if (hlen > len - 8)
        return fail(&p, 4, ETUDE_EPARSE, "header declares %u bytes but only %zu remain", hlen, len - 8);
    int format = be16(data + 8);
    size_t ntracks = be16(data + 10);
    uint16_t division = be16(data + 12);
    if (format == 2)
        return fail(&p, 8, ETUDE_EUNSUPPORTED, "MIDI file type 2 (independent sequences) is not supported; use type 0 or 1");
    if (format > 2)
        return fail(&p, 8, ETUDE_EPARSE, "unknown MIDI file type %d", format);
    if (ntracks == 0)
        return fail(&p, 10, ETUDE_EPARSE, "the header declares no tracks");
    if (format == 0 && ntracks != 1)
        return fail(&p, 10, ETUDE_EPARSE, "a type 0 file must have exactly 1 track, the header declares %zu", ntracks);
    if (division == 0)
        return fail(&p, 12, ETUDE_EPARSE, "division of 0 ticks per quarter note");
    int smpte = (division & 0x8000) != 0;
    double smpte_tps = 0;
    if (smpte) {
        int fps = -(int)(int8_t)(division >> 8);
        int tpf = division & 0xff;
        if ((fps != 24 && fps != 25 && fps != 29 && fps != 30) || tpf == 0)
            return fail(&p, 12, ETUDE_EPARSE, "SMPTE division %d frames/s x %d ticks is not valid", fps, tpf);
        smpte_tps = (fps == 29 ? 29.97 : fps) * tpf;
    }

    track_buf_t *tracks = calloc(ntracks, sizeof *tracks);
    if (!tracks)
        return ETUDE_ENOMEM;
    int rc = 0;
    size_t pos = 8 + (size_t)hlen;
    size_t found = 0;
    while (found < ntracks) {
        if (pos >= len) {
            rc = fail(&p, pos, ETUDE_EPARSE, "file ends after %zu of %zu tracks (truncated)", found, ntracks);
            goto out;
        }
        if (len - pos < 8) {
            rc = fail(&p, pos, ETUDE_EPARSE, "chunk header cut short: %zu of 8 bytes (truncated)", len - pos);
            goto out;
        }
        uint32_t clen = be32(data + pos + 4);
        if (clen > len - pos - 8) {
            rc = fail(&p, pos, ETUDE_EPARSE, "%s %zu declares %u bytes but only %zu remain (truncated)",
                      memcmp(data + pos, "MTrk", 4) ? "chunk" : "track", found + 1, clen, len - pos - 8);
            goto out;
        }
        if (!memcmp(data + pos, "MTrk", 4)) {
            if ((rc = parse_track(&p, pos + 8, pos + 8 + clen, found + 1, &tracks[found])))
                goto out;
            found++;
        } /* other chunk types are skipped, as the standard asks */
        pos += 8 + (size_t)clen;
    }

    etude_midifile_t *mf = calloc(1, sizeof *mf);
    if (!mf) {
        rc = ETUDE_ENOMEM;
        goto out;
    }
    mf->format = format;
    mf->ntracks = ntracks;
    memcpy(mf->title, p.title, sizeof mf->title);
    mf->smpte = smpte;
    mf->smpte_tps = smpte_tps;
    mf->division = smpte ? (uint32_t)(smpte_tps + 0.5) : division;
    for (size_t i = 0; i < ntracks; i++)
        if (tracks[i].end_tick > mf->length)
            mf->length = tracks[i].end_tick;

    /* Tempo map by tick; of several tempo events at one tick the last in the file wins. */
    if (p.ntempos)
        qsort(p.tempos, p.ntempos, sizeof *p.tempos, cmp_tempo);
    p.ntempos = dedupe_tempos(p.tempos, p.ntempos);
    if (p.ntempos == 0 || p.tempos[0].tick != 0) { /* 120 BPM until the first tempo event */
        if ((rc = grow((void **)&p.tempos, &p.captempos, p.ntempos + 1, sizeof *p.tempos))) {
            free(mf);
            goto out;
        }
        memmove(p.tempos + 1, p.tempos, p.ntempos * sizeof *p.tempos);
        p.tempos[0] = (tempo_pt_t){.tick = 0, .usq = 500000};
        p.ntempos++;
    }
    p.tempos[0].seconds = 0;
    for (size_t i = 1; i < p.ntempos; i++)
        p.tempos[i].seconds = p.tempos[i - 1].seconds +
                              (double)(p.tempos[i].tick - p.tempos[i - 1].tick) * p.tempos[i - 1].usq / 1e6 / division;
    mf->tempos = p.tempos;
    mf->ntempos = p.ntempos;
    p.tempos = NULL;

    if (p.nmeters)
        qsort(p.meters, p.nmeters, sizeof *p.meters, cmp_meter);
    mf->meters = p.meters;
    mf->nmeters = p.nmeters;
    p.meters = NULL;

    if (format == 1) {
        for (size_t i = 0; i < ntracks && !rc; i++) {
            if (tracks[i].count == 0)
                continue;
            char name[64];
            if (tracks[i].named)
                snprintf(name, sizeof name, "%s", tracks[i].name);
            else
                snprintf(name, sizeof name, "track %zu", i + 1);
            rc = add_part(mf, name, tracks[i].msgs, tracks[i].count);
            if (!rc)
                tracks[i].msgs = NULL;
        }
    } else {
        track_buf_t *t = &tracks[0];
        for (int ch = 0; ch < 16 && !rc; ch++) {
            size_t n = 0;
            for (size_t i = 0; i < t->count; i++)
                if ((t->msgs[i].status & 0x0f) == ch)
                    n++;
            if (!n)
                continue;
            etude_midi_msg_t *msgs = malloc(n * sizeof *msgs);
            if (!msgs) {
                rc = ETUDE_ENOMEM;
                break;
            }
            size_t k = 0;
            for (size_t i = 0; i < t->count; i++)
                if ((t->msgs[i].status & 0x0f) == ch)
                    msgs[k++] = t->msgs[i];
            char name[64];
            snprintf(name, sizeof name, "channel %d", ch + 1);
            rc = add_part(mf, name, msgs, n);
            if (rc)
                free(msgs);
        }
    }
    if (rc) {
        etude_midifile_free(mf);
        goto out;
    }
    *out = mf;
out:
    free(p.tempos);
    free(p.meters);
    free_tracks(tracks, ntracks);
    return rc;
}

int etude_midifile_load(const char *path, etude_midifile_t **out, etude_midifile_error_t *err)
{
    if (!path || !out)
        return ETUDE_EINVAL;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err) {
            err->offset = 0;
            snprintf(err->message, sizeof err->message, "cannot open: %s", strerror(errno));
        }
        return ETUDE_EIO;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = etude_read_stream(f, (size_t)1 << 30, &buf, &len);
    if (rc == ETUDE_ELIMIT) {
        rc = ETUDE_EIO;
        if (err)
            snprintf(err->message, sizeof err->message, "file is larger than 1 GiB");
    } else if (rc == ETUDE_EIO && err) {
        snprintf(err->message, sizeof err->message, "read error: %s", strerror(errno));
    }
    fclose(f);
    if (!rc)
        rc = etude_midifile_parse((const uint8_t *)buf, len, out, err);
    free(buf);
    return rc;
}

void etude_midifile_free(etude_midifile_t *mf)
{
    if (!mf)
        return;
    for (size_t i = 0; i < mf->nparts; i++)
        free(mf->parts[i].msgs);
    free(mf->parts);
    free(mf->tempos);
    free(mf->meters);
    free(mf);
}

int etude_midifile_format(const etude_midifile_t *mf) { return mf->format; }
size_t etude_midifile_tracks(const etude_midifile_t *mf) { return mf->ntracks; }
uint64_t etude_midifile_length_ticks(const etude_midifile_t *mf) { return mf->length; }

uint32_t etude_midifile_division(const etude_midifile_t *mf, int *smpte)
{
    if (smpte)
        *smpte = mf->smpte;
    return mf->division;
}

static size_t tempo_index(const etude_midifile_t *mf, uint64_t tick)
{
    size_t lo = 0, hi = mf->ntempos; /* last index with tempos[i].tick <= tick; tempos[0].tick == 0 */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (mf->tempos[mid].tick <= tick)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

double etude_midifile_seconds(const etude_midifile_t *mf, uint64_t tick)
{
    if (mf->smpte)
        return (double)tick / mf->smpte_tps;
    const tempo_pt_t *t = &mf->tempos[tempo_index(mf, tick)];
    return t->seconds + (double)(tick - t->tick) * t->usq / 1e6 / mf->division;
}

uint32_t etude_midifile_tempo_at(const etude_midifile_t *mf, uint64_t tick)
{
    return mf->tempos[tempo_index(mf, tick)].usq;
}

void etude_midifile_meter_at(const etude_midifile_t *mf, uint64_t tick, uint32_t *num, uint32_t *den, uint64_t *since)
{
    uint32_t n = 4, d = 4;
    uint64_t s = 0;
    for (size_t i = 0; i < mf->nmeters && mf->meters[i].tick <= tick; i++) {
        n = mf->meters[i].num;
        d = mf->meters[i].den;
        s = mf->meters[i].tick;
    }
    if (num)
        *num = n;
    if (den)
        *den = d;
    if (since)
        *since = s;
}

size_t etude_midifile_parts(const etude_midifile_t *mf) { return mf->nparts; }

const char *etude_midifile_part_name(const etude_midifile_t *mf, size_t part)
{
    return part < mf->nparts ? mf->parts[part].name : NULL;
}

const char *etude_midifile_title(const etude_midifile_t *mf) { return mf->title; }

const etude_midi_msg_t *etude_midifile_part_msgs(const etude_midifile_t *mf, size_t part, size_t *count)
{
    if (part >= mf->nparts) {
        if (count)
            *count = 0;
        return NULL;
    }
    if (count)
        *count = mf->parts[part].count;
    return mf->parts[part].msgs;
}

size_t etude_midifile_part_notes(const etude_midifile_t *mf, size_t part)
{
    return part < mf->nparts ? mf->parts[part].notes : 0;
}

/* ---------------------------------------------------------------------------------------------
 * MIDI part source
 */

typedef struct midi_source {
    const etude_midifile_t *mf;
    const part_t *part;
    etude_tickmap_t map;
    size_t cursor; /* index of the first message not yet known to be before the last 'from' */
} midi_source_t;

static int64_t msg_pos(midi_source_t *s, size_t i) { return s->map.pos(s->map.ctx, s->part->msgs[i].tick); }

/* First message index whose position is >= from (positions are monotonic in index). */
static size_t seek(midi_source_t *s, uint64_t from)
{
    size_t n = s->part->count;
    /* Sequential playback asks for consecutive windows: try the cursor first. */
    size_t c = s->cursor;
    if (c <= n && (c == 0 || msg_pos(s, c - 1) < (int64_t)from) && (c == n || msg_pos(s, c) >= (int64_t)from))
        return c;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (msg_pos(s, mid) < (int64_t)from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int midi_expand(void *self, uint64_t from, uint64_t to, etude_emit_fn emit, void *ctx)
{
    midi_source_t *s = self;
    if (to <= from)
        return 0;
    size_t i = seek(s, from);
    for (; i < s->part->count; i++) {
        int64_t pos = msg_pos(s, i);
        if (pos < 0)
            continue;
        if ((uint64_t)pos >= to)
            break;
        const etude_midi_msg_t *m = &s->part->msgs[i];
        etude_event_t ev = {0};
        uint8_t kind = m->status & 0xf0;
        if (kind == 0x90 || kind == 0x80) {
            ev.kind = kind == 0x90 ? ETUDE_EV_NOTE_ON : ETUDE_EV_NOTE_OFF;
            ev.u.note.channel = m->status & 0x0f;
            ev.u.note.key = m->d1;
            ev.u.note.velocity = m->d2;
        } else {
            ev.kind = ETUDE_EV_PARAM;
            ev.u.param.id = ETUDE_MIDI_PARAM_ID(m->status, kind == 0xe0 ? 0 : m->d1);
            ev.u.param.value = kind == 0xe0 ? (float)(m->d1 | m->d2 << 7) : (kind == 0xc0 || kind == 0xd0) ? m->d1 : m->d2;
        }
        int rc = emit(ctx, (uint64_t)pos, &ev);
        if (rc) {
            s->cursor = i;
            return rc;
        }
    }
    s->cursor = i;
    return 0;
}

static uint64_t midi_length(void *self)
{
    midi_source_t *s = self;
    int64_t end = s->map.pos(s->map.ctx, s->mf->length);
    return end < 0 ? 0 : (uint64_t)end;
}

static void midi_destroy(void *self) { free(self); }

const etude_source_class_t etude_midifile_source_class = {
    .kind = "midi",
    .expand = midi_expand,
    .length = midi_length,
    .destroy = midi_destroy,
};

void *etude_midifile_source_create(const etude_midifile_t *mf, size_t part, etude_tickmap_t map)
{
    if (!mf || part >= mf->nparts || !map.pos)
        return NULL;
    midi_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->mf = mf;
    s->part = &mf->parts[part];
    s->map = map;
    return s;
}
