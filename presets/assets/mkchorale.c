/* mkchorale.c - writes the shipped four-voice chorale as a Standard MIDI File (type 1, one named
 * track per voice), and the long four-track file the FluidSynth benchmark renders.
 *
 *   mkchorale OUT.mid                 the 8-bar chorale at 72 BPM (Soprano, Alto, Tenor, Bass)
 *   mkchorale OUT.mid --minutes M     the chorale repeated at 120 BPM, with passing eighths in the
 *                                     inner voices, for at least M minutes
 * Written to OUT.mid.tmp and renamed, so a failed run leaves nothing half-written.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PPQ 480

/* One chord per row: soprano, alto, tenor, bass (MIDI keys) and its length in beats. G major. */
static const int chorale[][5] = {
    {67, 62, 59, 43, 1}, {67, 62, 59, 47, 1}, {66, 62, 57, 50, 1}, {64, 60, 55, 48, 1},
    {62, 57, 54, 50, 2}, {67, 62, 59, 43, 1}, {69, 62, 57, 42, 1},
    {71, 67, 62, 43, 2}, {71, 67, 64, 52, 1}, {71, 67, 62, 50, 1},
    {69, 66, 62, 50, 2}, {67, 62, 59, 43, 2},
    {71, 67, 62, 43, 1}, {71, 67, 64, 52, 1}, {72, 67, 64, 48, 1}, {71, 67, 62, 50, 1},
    {69, 64, 60, 45, 1}, {66, 62, 57, 50, 1}, {67, 62, 59, 43, 2},
    {64, 60, 55, 48, 1}, {62, 59, 55, 47, 1}, {64, 60, 57, 45, 1}, {66, 62, 57, 50, 1},
    {67, 62, 59, 43, 4},
};
#define NCHORDS (sizeof chorale / sizeof *chorale)
static const char *const names[4] = {"Soprano", "Alto", "Tenor", "Bass"};

typedef struct buf {
    uint8_t *d;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->cap + n) * 2;
        b->d = realloc(b->d, b->cap);
        if (!b->d) {
            fprintf(stderr, "mkchorale: out of memory\n");
            exit(1);
        }
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put8(buf_t *b, int v) { uint8_t x = (uint8_t)v; put(b, &x, 1); }
static void vlq(buf_t *b, uint32_t v)
{
    uint8_t t[5];
    int n = 0;
    t[n++] = v & 0x7f;
    while (v >>= 7)
        t[n++] = (uint8_t)(0x80 | (v & 0x7f));
    while (n)
        put8(b, t[--n]);
}
static void be32(buf_t *b, uint32_t v) { put8(b, (int)(v >> 24)), put8(b, (int)(v >> 16)), put8(b, (int)(v >> 8)), put8(b, (int)v); }

static void chunk(buf_t *out, const char *id, const buf_t *body)
{
    put(out, id, 4);
    be32(out, (uint32_t)body->n);
    put(out, body->d, body->n);
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "--minutes"))) {
        fprintf(stderr, "usage: mkchorale OUT.mid [--minutes M]\n");
        return 2;
    }
    double minutes = argc == 4 ? atof(argv[3]) : 0;
    if (argc == 4 && !(minutes > 0 && minutes <= 600)) {
        fprintf(stderr, "mkchorale: --minutes: expected a number from 0 to 600, got '%s'\n", argv[3]);
        return 2;
    }
    int bpm = minutes > 0 ? 120 : 72;
    int reps = 1;
    if (minutes > 0) {
        double one = 32.0 * 60.0 / bpm; /* seconds per chorale */
        while (reps * one < minutes * 60)
            reps++;
    }
    buf_t file = {0}, t = {0};
    put(&file, "MThd", 4);
    be32(&file, 6);
    put8(&file, 0), put8(&file, 1), put8(&file, 0), put8(&file, 5), put8(&file, PPQ >> 8), put8(&file, PPQ & 0xff);
    /* conductor: name, 4/4, tempo */
    const char *title = minutes > 0 ? "Chorale (long)" : "Chorale in G";
    vlq(&t, 0), put8(&t, 0xff), put8(&t, 0x03), vlq(&t, (uint32_t)strlen(title)), put(&t, title, strlen(title));
    vlq(&t, 0), put8(&t, 0xff), put8(&t, 0x58), put8(&t, 4), put8(&t, 4), put8(&t, 2), put8(&t, 24), put8(&t, 8);
    uint32_t usq = 60000000u / (uint32_t)bpm;
    vlq(&t, 0), put8(&t, 0xff), put8(&t, 0x51), put8(&t, 3), put8(&t, (int)(usq >> 16)), put8(&t, (int)(usq >> 8)), put8(&t, (int)usq);
    vlq(&t, 0), put8(&t, 0xff), put8(&t, 0x2f), put8(&t, 0);
    chunk(&file, "MTrk", &t);
    for (int v = 0; v < 4; v++) {
        t.n = 0;
        vlq(&t, 0), put8(&t, 0xff), put8(&t, 0x03), vlq(&t, (uint32_t)strlen(names[v])), put(&t, names[v], strlen(names[v]));
        vlq(&t, 0), put8(&t, 0xc0 | v), put8(&t, 52); /* choir */
        vlq(&t, 0), put8(&t, 0xb0 | v), put8(&t, 10), put8(&t, 64 + (v - 1) * 20 + (v == 0 ? 10 : 0)); /* spread pan */
        uint32_t gap = 0; /* ticks since the last event */
        for (int r = 0; r < reps; r++)
            for (size_t c = 0; c < NCHORDS; c++) {
                int key = chorale[c][v];
                uint32_t len = (uint32_t)chorale[c][4] * PPQ;
                int vel = v == 0 ? 96 : 80;
                /* the long file moves the inner voices in eighths: the chord note, then a step above */
                int split = minutes > 0 && (v == 1 || v == 2) && chorale[c][4] == 1;
                uint32_t first = split ? len / 2 : len;
                vlq(&t, gap), put8(&t, 0x90 | v), put8(&t, key), put8(&t, vel);
                vlq(&t, first - 10), put8(&t, 0x80 | v), put8(&t, key), put8(&t, 0); /* a short breath */
                gap = 10;
                if (split) {
                    vlq(&t, gap), put8(&t, 0x90 | v), put8(&t, key + 2), put8(&t, vel - 10);
                    vlq(&t, len / 2 - 10), put8(&t, 0x80 | v), put8(&t, key + 2), put8(&t, 0);
                }
            }
        vlq(&t, gap), put8(&t, 0xff), put8(&t, 0x2f), put8(&t, 0);
        chunk(&file, "MTrk", &t);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(file.d, 1, file.n, f) != file.n || fclose(f) != 0) {
        fprintf(stderr, "mkchorale: %s: cannot write\n", tmp);
        remove(tmp);
        return 1;
    }
    if (rename(tmp, argv[1]) != 0) {
        fprintf(stderr, "mkchorale: %s: cannot rename into place\n", argv[1]);
        remove(tmp);
        return 1;
    }
    free(file.d);
    free(t.d);
    return 0;
}
