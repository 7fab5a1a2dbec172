/* jack_onsets.c - checks the click onsets in a recording of etude's output against a tempo map's
 * expected frames, for etude's live tests.
 *
 *   jack_onsets REC.wav (--click LINE | --tempo-map FILE) [--marks MARKS.txt] [--skip FRAMES]
 *               [--tolerance FRAMES]
 *   jack_onsets REC.wav --list               print the onsets (sample indices), one a line
 *   jack_onsets REC.wav --notes              print the note onsets of an instrument (sample indices)
 *
 * An onset is the first sample above 1e-4 in magnitude after at least 5 ms below it (also at the
 * start of the recording, so a click cut by the start does not count; etude's click
 * sounds start at full level on their event's frame). Without --marks, recordings start at an
 * arbitrary moment, so the onsets are aligned with the map at the expected beat that matches the
 * most of them; every sounding beat inside the recording must then have an onset at exactly its
 * frame plus that shift, and no onset may be left over. With --marks (jack_tclient record's period
 * file: "sample transport_frame state", 1 meaning rolling), each onset is converted to a transport frame and must be
 * exactly the frame of a sounding beat; expected beats from the first rolling frame + FRAMES to the
 * end of the rolling recording must all be there. --tolerance allows that many frames of error in
 * --marks mode (following another timebase master, whose BBT has a tick's resolution).
 * Prints a summary line and the first mismatches; exits 0 when everything matches, 1 otherwise.
 *
 * --notes is for sounds that need not fall silent between notes (an instrument's release overlaps
 * the next note): the recording is cut in 64-frame blocks from its start; a note onset is a block
 * whose peak is above 1e-3 and at least four times the highest peak of the four blocks before it
 * (onsets within 50 ms of the previous one count once); printed is that block's first sample
 * above the earlier blocks' peak, so an onset is exact where the sound starts on a silent frame
 * and within one block otherwise.
 */
#include <sndfile.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_tempomap.h"

#define THRESH 1e-4f

typedef struct { uint64_t sample, tframe; int rolling; } mark_t;

static uint64_t tol; /* --tolerance: frames an onset may be off (0: exact) */

/* Whether sorted v[0..n) holds a value within tol of x. */
static bool near(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && v[lo] - x <= tol)
        return true;
    return lo > 0 && x - v[lo - 1] <= tol;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define NOTE_BLOCK 64
static int list_notes(const char *wav)
{
    SF_INFO li = {0};
    SNDFILE *lf = sf_open(wav, SFM_READ, &li);
    if (!lf) {
        fprintf(stderr, "jack_onsets: %s: %s\n", wav, sf_strerror(NULL));
        return 1;
    }
    float *v = malloc((size_t)li.frames * (size_t)li.channels * sizeof *v + 4);
    if (!v) {
        sf_close(lf);
        fprintf(stderr, "jack_onsets: out of memory\n");
        return 1;
    }
    sf_count_t n = sf_readf_float(lf, v, li.frames);
    sf_close(lf);
    size_t nb = (size_t)n / NOTE_BLOCK;
    float hist[4] = {0};
    long long last = -1000000000;
    for (size_t b = 0; b < nb; b++) {
        float peak = 0, before = 0;
        for (size_t i = 0; i < NOTE_BLOCK; i++) {
            float x = fabsf(v[(b * NOTE_BLOCK + i) * (size_t)li.channels]);
            if (x > peak)
                peak = x;
        }
        for (int k = 0; k < 4; k++)
            if (hist[k] > before)
                before = hist[k];
        if (b >= 4 && peak > 1e-3f && peak >= 4 * before) {
            size_t i = 0;
            while (i < NOTE_BLOCK && fabsf(v[(b * NOTE_BLOCK + i) * (size_t)li.channels]) <= before)
                i++;
            long long at = (long long)(b * NOTE_BLOCK + i);
            if (at - last >= li.samplerate / 20)
                printf("%lld\n", at);
            last = at;
        }
        hist[b % 4] = peak;
    }
    free(v);
    return 0;
}

int main(int argc, char **argv)
{
    const char *wav = NULL, *click = NULL, *mapfile = NULL, *marksfile = NULL;
    uint64_t skip = 0;
    bool list = false, notes = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--click") && i + 1 < argc)
            click = argv[++i];
        else if (!strcmp(argv[i], "--tempo-map") && i + 1 < argc)
            mapfile = argv[++i];
        else if (!strcmp(argv[i], "--marks") && i + 1 < argc)
            marksfile = argv[++i];
        else if (!strcmp(argv[i], "--skip") && i + 1 < argc)
            skip = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--list"))
            list = true;
        else if (!strcmp(argv[i], "--notes"))
            notes = true;
        else if (!strcmp(argv[i], "--tolerance") && i + 1 < argc)
            tol = strtoull(argv[++i], NULL, 10);
        else if (!wav && argv[i][0] != '-')
            wav = argv[i];
        else {
            fprintf(stderr, "usage: jack_onsets REC.wav (--click LINE | --tempo-map FILE) [--marks F] [--skip N]\n");
            return 2;
        }
    }
    if (wav && notes)
        return list_notes(wav);
    if (wav && list) {
        /* just the onsets, one sample index a line */
        SF_INFO li = {0};
        SNDFILE *lf = sf_open(wav, SFM_READ, &li);
        if (!lf) {
            fprintf(stderr, "jack_onsets: %s: %s\n", wav, sf_strerror(NULL));
            return 1;
        }
        float *v = malloc((size_t)li.frames * (size_t)li.channels * sizeof *v + 4);
        sf_count_t n = sf_readf_float(lf, v, li.frames);
        sf_close(lf);
        uint64_t q = 0, g = (uint64_t)li.samplerate / 200;
        for (sf_count_t i = 0; i < n; i++) {
            if (fabsf(v[(size_t)i * (size_t)li.channels]) > THRESH) {
                if (q >= g)
                    printf("%lld\n", (long long)i);
                q = 0;
            } else {
                q++;
            }
        }
        free(v);
        return 0;
    }
    if (!wav || !!click == !!mapfile) {
        fprintf(stderr, "jack_onsets: need a recording and one of --click, --tempo-map\n");
        return 2;
    }
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(wav, SFM_READ, &info);
    if (!sf) {
        fprintf(stderr, "jack_onsets: %s: %s\n", wav, sf_strerror(NULL));
        return 1;
    }
    float *x = malloc((size_t)info.frames * (size_t)info.channels * sizeof *x + 4);
    sf_count_t nf = sf_readf_float(sf, x, info.frames);
    sf_close(sf);
    uint32_t rate = (uint32_t)info.samplerate;

    char err[256];
    etude_tempomap_t *map = NULL;
    int rc = click ? etude_tempomap_parse_line(click, "--click", &map, err, sizeof err)
                   : etude_tempomap_load(mapfile, &map, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "jack_onsets: %s\n", err);
        return 1;
    }

    /* onsets, in samples of the recording */
    size_t cap = 1024, no = 0;
    uint64_t *on = malloc(cap * sizeof *on);
    uint64_t quiet = 0, gap = rate / 200; /* a click cut by the recording's start is no onset */
    for (sf_count_t i = 0; i < nf; i++) {
        float v = fabsf(x[(size_t)i * (size_t)info.channels]);
        if (v > THRESH) {
            if (quiet >= gap) {
                if (no == cap)
                    on = realloc(on, (cap *= 2) * sizeof *on);
                on[no++] = (uint64_t)i;
            }
            quiet = 0;
        } else {
            quiet++;
        }
    }

    /* sounding beats */
    uint64_t nb = etude_tempomap_beat_count(map);
    size_t ecap = 1024, ne = 0;
    uint64_t *ex = malloc(ecap * sizeof *ex);
    for (uint64_t b = 0; b < nb && b < 1000000; b++) {
        etude_tempomap_beat_t bt;
        if (etude_tempomap_beat(map, b, &bt) < 0)
            break;
        uint64_t f = etude_tempomap_beat_frame(map, b, rate);
        if (marksfile == NULL && f > (uint64_t)nf * 4 + 10 * (uint64_t)rate)
            break;
        if (bt.type == ETUDE_BEAT_SILENT)
            continue;
        if (ne == ecap)
            ex = realloc(ex, (ecap *= 2) * sizeof *ex);
        ex[ne++] = f;
    }

    size_t bad = 0, matched = 0, missing = 0;
    if (!marksfile) {
        if (no == 0 || ne == 0) {
            printf("onsets %zu, expected %zu: nothing to compare\n", no, ne);
            return 1;
        }
        /* align onset 0 with the expected beat that explains the most onsets */
        int64_t best_shift = 0;
        size_t best = 0;
        for (size_t k = 0; k < ne && k < 64; k++) {
            int64_t shift = (int64_t)on[0] - (int64_t)ex[k];
            size_t m = 0, j = 0;
            for (size_t i = 0; i < no; i++) {
                while (j < ne && (int64_t)ex[j] + shift < (int64_t)on[i])
                    j++;
                if (j < ne && (int64_t)ex[j] + shift == (int64_t)on[i])
                    m++;
            }
            if (m > best) {
                best = m;
                best_shift = shift;
            }
        }
        uint64_t tail = rate / 20; /* a click cut by the end of the recording may still show */
        for (size_t k = 0; k < ne; k++) {
            int64_t s = (int64_t)ex[k] + best_shift;
            if (s < (int64_t)on[0] || s >= (int64_t)nf - (int64_t)tail)
                continue;
            uint64_t want = (uint64_t)s;
            bool found = bsearch(&want, on, no, sizeof *on, cmp_u64) != NULL;
            if (found)
                matched++;
            else if (missing++ < 5)
                printf("missing: beat frame %llu expected at sample %llu\n", (unsigned long long)ex[k],
                       (unsigned long long)want);
        }
        for (size_t i = 0; i < no; i++) {
            uint64_t f = (uint64_t)((int64_t)on[i] - best_shift);
            if (!bsearch(&f, ex, ne, sizeof *ex, cmp_u64) && bad++ < 5)
                printf("stray onset at sample %llu (map frame %lld)\n", (unsigned long long)on[i],
                       (long long)((int64_t)on[i] - best_shift));
        }
        printf("onsets %zu, matched %zu, missing %zu, stray %zu, shift %lld, rate %u\n", no, matched,
               missing, bad, (long long)best_shift, rate);
    } else {
        FILE *f = fopen(marksfile, "r");
        if (!f) {
            fprintf(stderr, "jack_onsets: %s: cannot open\n", marksfile);
            return 1;
        }
        size_t mcap = 4096, nm = 0;
        mark_t *mk = malloc(mcap * sizeof *mk);
        unsigned long long a, b;
        int r;
        while (fscanf(f, "%llu %llu %d", &a, &b, &r) == 3) {
            if (nm == mcap)
                mk = realloc(mk, (mcap *= 2) * sizeof *mk);
            mk[nm++] = (mark_t){a, b, r == 1}; /* JackTransportRolling */
        }
        fclose(f);
        /* transport frame of every onset */
        size_t m = 0;
        for (size_t i = 0; i < no; i++) {
            while (m + 1 < nm && mk[m + 1].sample <= on[i])
                m++;
            if (!nm || !mk[m].rolling) {
                if (bad++ < 5)
                    printf("onset at sample %llu while the transport was stopped\n", (unsigned long long)on[i]);
                continue;
            }
            uint64_t tf = mk[m].tframe + (on[i] - mk[m].sample);
            if (near(ex, ne, tf))
                matched++;
            else if (bad++ < 5)
                printf("onset at transport frame %llu is no beat of the map\n", (unsigned long long)tf);
        }
        /* every expected beat inside each rolling stretch (after skip) */
        size_t s = 0;
        while (s < nm) {
            if (!mk[s].rolling) {
                s++;
                continue;
            }
            size_t e = s;
            while (e + 1 < nm && mk[e + 1].rolling && mk[e + 1].tframe == mk[e].tframe + (mk[e + 1].sample - mk[e].sample))
                e++;
            uint64_t from = mk[s].tframe + skip;
            uint64_t to = mk[e].tframe + (e + 1 < nm ? mk[e + 1].sample - mk[e].sample : 0);
            if (to > rate / 20)
                to -= rate / 20;
            for (size_t k = 0; k < ne; k++) {
                if (ex[k] < from || ex[k] >= to)
                    continue;
                uint64_t want = mk[s].sample + (ex[k] - mk[s].tframe);
                if (!near(on, no, want) && missing++ < 5)
                    printf("missing: beat at transport frame %llu\n", (unsigned long long)ex[k]);
            }
            s = e + 1;
        }
        printf("onsets %zu, on beats %zu, missing %zu, wrong %zu, rate %u\n", no, matched, missing, bad, rate);
        free(mk);
    }
    free(on);
    free(ex);
    free(x);
    etude_tempomap_destroy(map);
    return (bad == 0 && missing == 0 && matched > 0) ? 0 : 1;
}
