/* test_midifile.c - the Standard MIDI File parser: structure, timing, parts, exact error offsets,
 * and agreement with abcmidi's mftext on a file written by abc2midi. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etude_midifile.h"

typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->d);
    if (!n)
        return;
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put8(buf_t *b, uint8_t v) { put(b, &v, 1); }
static void put32(buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}
static void put16(buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 2);
}
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
static void header(buf_t *b, int format, int ntracks, int division)
{
    put(b, "MThd", 4);
    put32(b, 6);
    put16(b, (uint16_t)format);
    put16(b, (uint16_t)ntracks);
    put16(b, (uint16_t)division);
}
static void track(buf_t *b, const buf_t *body)
{
    put(b, "MTrk", 4);
    put32(b, (uint32_t)body->n);
    put(b, body->d, body->n);
}
static void meta(buf_t *t, uint32_t delta, uint8_t type, const void *data, size_t n)
{
    vlq(t, delta);
    put8(t, 0xff);
    put8(t, type);
    vlq(t, (uint32_t)n);
    put(t, data, n);
}

/* A type 1 file: conductor track (tempo 120 then 60 BPM at tick 960, 3/4), "Melody" on channel 1
 * using running status and note-on velocity 0, and an unnamed track on channel 10. */
static size_t build_type1(buf_t *f)
{
    memset(f, 0, sizeof *f);
    header(f, 1, 3, 480);
    buf_t t = {0};
    uint8_t tempo120[3] = {0x07, 0xa1, 0x20}, tempo60[3] = {0x0f, 0x42, 0x40}, ts[4] = {3, 2, 24, 8};
    meta(&t, 0, 0x51, tempo120, 3);
    meta(&t, 0, 0x58, ts, 4);
    meta(&t, 960, 0x51, tempo60, 3);
    meta(&t, 0, 0x2f, NULL, 0);
    track(f, &t);
    memset(&t, 0, sizeof t);
    meta(&t, 0, 0x03, "Melody", 6);
    vlq(&t, 0), put8(&t, 0xc0), put8(&t, 40);                    /* program change */
    vlq(&t, 0), put8(&t, 0x90), put8(&t, 60), put8(&t, 100);      /* note on */
    vlq(&t, 480), put8(&t, 60), put8(&t, 0);                      /* running status, vel 0 = off */
    vlq(&t, 0), put8(&t, 64), put8(&t, 90);                       /* running status note on */
    vlq(&t, 960), put8(&t, 0x80), put8(&t, 64), put8(&t, 0);      /* note off at 1440 */
    uint8_t sysex[3] = {0x7e, 0x7f, 0xf7};
    vlq(&t, 0), put8(&t, 0xf0), vlq(&t, 3), put(&t, sysex, 3);    /* sysex, skipped */
    meta(&t, 0, 0x2f, NULL, 0);
    track(f, &t);
    memset(&t, 0, sizeof t);
    vlq(&t, 240), put8(&t, 0x99), put8(&t, 36), put8(&t, 127);
    vlq(&t, 10), put8(&t, 0x89), put8(&t, 36), put8(&t, 0);
    meta(&t, 0, 0x2f, NULL, 0);
    track(f, &t);
    return f->n;
}

static void test_type1_parts_and_timing(void **state)
{
    (void)state;
    buf_t f;
    build_type1(&f);
    etude_midifile_t *mf = NULL;
    etude_midifile_error_t err;
    assert_int_equal(etude_midifile_parse(f.d, f.n, &mf, &err), 0);
    assert_int_equal(etude_midifile_format(mf), 1);
    assert_int_equal(etude_midifile_tracks(mf), 3);
    int smpte = -1;
    assert_int_equal(etude_midifile_division(mf, &smpte), 480);
    assert_int_equal(smpte, 0);
    assert_int_equal(etude_midifile_parts(mf), 2); /* the conductor track has no channel messages */
    assert_string_equal(etude_midifile_part_name(mf, 0), "Melody");
    assert_string_equal(etude_midifile_part_name(mf, 1), "track 3");
    size_t n;
    const etude_midi_msg_t *m = etude_midifile_part_msgs(mf, 0, &n);
    assert_int_equal(n, 5);
    assert_int_equal(m[0].status, 0xc0);
    assert_int_equal(m[1].status, 0x90);
    assert_int_equal(m[2].status, 0x80); /* velocity-0 note-on became a note-off */
    assert_int_equal(m[2].tick, 480);
    assert_int_equal(m[3].status, 0x90);
    assert_int_equal(m[3].d1, 64);
    assert_int_equal(m[4].tick, 1440);
    assert_int_equal(etude_midifile_part_notes(mf, 0), 2);
    assert_int_equal(etude_midifile_length_ticks(mf), 1440);
    /* 120 BPM for 960 ticks = 1 s, then 60 BPM: 480 more ticks = 0.5 quarter... = 1 s */
    assert_float_equal(etude_midifile_seconds(mf, 480), 0.5, 1e-12);
    assert_float_equal(etude_midifile_seconds(mf, 960), 1.0, 1e-12);
    assert_float_equal(etude_midifile_seconds(mf, 1440), 2.0, 1e-12);
    assert_int_equal(etude_midifile_tempo_at(mf, 959), 500000);
    assert_int_equal(etude_midifile_tempo_at(mf, 960), 1000000);
    uint32_t num, den;
    etude_midifile_meter_at(mf, 100, &num, &den, NULL);
    assert_int_equal(num, 3);
    assert_int_equal(den, 4);
    etude_midifile_free(mf);
}

static void test_type0_split_by_channel(void **state)
{
    (void)state;
    buf_t f = {0}, t = {0};
    header(&f, 0, 1, 96);
    vlq(&t, 0), put8(&t, 0x91), put8(&t, 60), put8(&t, 100);
    vlq(&t, 0), put8(&t, 0x90), put8(&t, 48), put8(&t, 100);
    vlq(&t, 96), put8(&t, 0x81), put8(&t, 60), put8(&t, 0);
    vlq(&t, 0), put8(&t, 0x80), put8(&t, 48), put8(&t, 0);
    meta(&t, 0, 0x2f, NULL, 0);
    track(&f, &t);
    etude_midifile_t *mf = NULL;
    assert_int_equal(etude_midifile_parse(f.d, f.n, &mf, NULL), 0);
    assert_int_equal(etude_midifile_parts(mf), 2);
    assert_string_equal(etude_midifile_part_name(mf, 0), "channel 1");
    assert_string_equal(etude_midifile_part_name(mf, 1), "channel 2");
    size_t n;
    const etude_midi_msg_t *m = etude_midifile_part_msgs(mf, 1, &n);
    assert_int_equal(n, 2);
    assert_int_equal(m[0].d1, 60);
    assert_int_equal(m[1].tick, 96);
    etude_midifile_free(mf);
}

/* Every proper prefix of a valid file is refused with a message naming a byte offset inside the
 * prefix, and never crashes or leaks (the sanitizer builds run this too). */
static void test_every_truncation_refused(void **state)
{
    (void)state;
    buf_t f;
    build_type1(&f);
    for (size_t len = 0; len < f.n; len++) {
        etude_midifile_t *mf = NULL;
        etude_midifile_error_t err;
        int rc = etude_midifile_parse(f.d, len, &mf, &err);
        if (rc != ETUDE_EPARSE)
            fail_msg("prefix of %zu bytes: rc %d", len, rc);
        assert_null(mf);
        assert_true(err.offset <= len);
        char want[32];
        snprintf(want, sizeof want, "byte %zu: ", err.offset);
        assert_memory_equal(err.message, want, strlen(want));
    }
}

static void expect_error(const buf_t *f, int code, size_t offset, const char *needle)
{
    etude_midifile_t *mf = NULL;
    etude_midifile_error_t err;
    int rc = etude_midifile_parse(f->d, f->n, &mf, &err);
    assert_int_equal(rc, code);
    assert_null(mf);
    if (err.offset != offset || !strstr(err.message, needle))
        fail_msg("got offset %zu '%s', wanted %zu and '%s'", err.offset, err.message, offset, needle);
}

static void test_error_offsets(void **state)
{
    (void)state;
    buf_t f = {0}, t = {0};
    /* Data byte with no running status: the track data starts at 14 + 8 = 22, delta at 22, the data byte at 23. */
    header(&f, 0, 1, 96);
    vlq(&t, 0), put8(&t, 0x40);
    track(&f, &t);
    expect_error(&f, ETUDE_EPARSE, 23, "no running status");

    /* A status byte where a data byte belongs: 0x90 at 23, its first data byte 60 at 24, then 0x90 at 25. */
    memset(&f, 0, sizeof f), memset(&t, 0, sizeof t);
    header(&f, 0, 1, 96);
    vlq(&t, 0), put8(&t, 0x90), put8(&t, 60), put8(&t, 0x90);
    track(&f, &t);
    expect_error(&f, ETUDE_EPARSE, 25, "expected a data byte");

    /* A delta time of five bytes. */
    memset(&f, 0, sizeof f), memset(&t, 0, sizeof t);
    header(&f, 0, 1, 96);
    uint8_t big[5] = {0x81, 0x81, 0x81, 0x81, 0x01};
    put(&t, big, 5);
    track(&f, &t);
    expect_error(&f, ETUDE_EPARSE, 22, "longer than 4 bytes");

    /* A track declaring more bytes than the file holds: reported at the chunk. */
    memset(&f, 0, sizeof f);
    header(&f, 1, 1, 96);
    put(&f, "MTrk", 4);
    put32(&f, 100);
    put8(&f, 0);
    expect_error(&f, ETUDE_EPARSE, 14, "declares 100 bytes but only 1 remain");

    /* Fewer track chunks than the header says. */
    memset(&f, 0, sizeof f), memset(&t, 0, sizeof t);
    header(&f, 1, 2, 96);
    meta(&t, 0, 0x2f, NULL, 0);
    track(&f, &t);
    expect_error(&f, ETUDE_EPARSE, f.n, "after 1 of 2 tracks");

    /* A meta event longer than its track. */
    memset(&f, 0, sizeof f), memset(&t, 0, sizeof t);
    header(&f, 1, 1, 96);
    vlq(&t, 0), put8(&t, 0xff), put8(&t, 0x03), put8(&t, 50), put(&t, "ab", 2);
    track(&f, &t);
    expect_error(&f, ETUDE_EPARSE, 23, "meta event 0x03 declares 50 bytes");

    /* Type 2 is refused as unsupported, at the format field. */
    memset(&f, 0, sizeof f), memset(&t, 0, sizeof t);
    header(&f, 2, 1, 96);
    meta(&t, 0, 0x2f, NULL, 0);
    track(&f, &t);
    expect_error(&f, ETUDE_EUNSUPPORTED, 8, "type 2");

    /* Not a MIDI file at all. */
    memset(&f, 0, sizeof f);
    put(&f, "RIFF0000WAVEfmt ", 16);
    expect_error(&f, ETUDE_EPARSE, 0, "not a Standard MIDI File");
}

static void test_unknown_chunks_skipped_and_smpte(void **state)
{
    (void)state;
    buf_t f = {0}, t = {0};
    /* SMPTE 25 fps x 40 ticks = 1000 ticks per second. */
    header(&f, 0, 1, (uint16_t)((uint8_t)-25 << 8 | 40));
    put(&f, "XFIH", 4);
    put32(&f, 3);
    put(&f, "abc", 3);
    vlq(&t, 0), put8(&t, 0x90), put8(&t, 60), put8(&t, 1);
    vlq(&t, 500), put8(&t, 0x80), put8(&t, 60), put8(&t, 0);
    track(&f, &t);
    etude_midifile_t *mf = NULL;
    assert_int_equal(etude_midifile_parse(f.d, f.n, &mf, NULL), 0);
    int smpte = 0;
    assert_int_equal(etude_midifile_division(mf, &smpte), 1000);
    assert_int_equal(smpte, 1);
    assert_float_equal(etude_midifile_seconds(mf, 500), 0.5, 1e-12);
    etude_midifile_free(mf);
}

static int64_t identity_pos(void *ctx, uint64_t tick)
{
    (void)ctx;
    return (int64_t)tick * 10;
}

typedef struct got {
    uint64_t pos[16];
    etude_event_t ev[16];
    int n;
} got_t;

static int collect(void *ctx, uint64_t pos, const etude_event_t *ev)
{
    got_t *g = ctx;
    assert_true(g->n < 16);
    g->pos[g->n] = pos;
    g->ev[g->n++] = *ev;
    return 0;
}

/* The part source emits exactly the events inside each window, in order, whatever the windows. */
static void test_part_source_windows(void **state)
{
    (void)state;
    buf_t f;
    build_type1(&f);
    etude_midifile_t *mf = NULL;
    assert_int_equal(etude_midifile_parse(f.d, f.n, &mf, NULL), 0);
    void *src = etude_midifile_source_create(mf, 0, (etude_tickmap_t){identity_pos, NULL});
    assert_non_null(src);
    assert_int_equal(etude_midifile_source_class.length(src), 14400);
    got_t g = {0};
    assert_int_equal(etude_midifile_source_class.expand(src, 0, 4800, collect, &g), 0);
    assert_int_equal(g.n, 2); /* program change and note on at 0 */
    assert_int_equal(g.ev[0].kind, ETUDE_EV_PARAM);
    assert_int_equal(g.ev[0].u.param.id, ETUDE_MIDI_PARAM_ID(0xc0, 40));
    assert_int_equal(g.ev[1].kind, ETUDE_EV_NOTE_ON);
    assert_int_equal(etude_midifile_source_class.expand(src, 4800, 4801, collect, &g), 0);
    assert_int_equal(g.n, 4); /* off 60 and on 64 at tick 480 */
    assert_int_equal(g.pos[2], 4800);
    assert_int_equal(g.ev[2].kind, ETUDE_EV_NOTE_OFF);
    assert_int_equal(g.ev[3].u.note.key, 64);
    /* A jump back (a loop) re-seeks. */
    assert_int_equal(etude_midifile_source_class.expand(src, 1, 14401, collect, &g), 0);
    assert_int_equal(g.n, 7);
    assert_int_equal(g.pos[6], 14400);
    etude_midifile_source_class.destroy(src);
    etude_midifile_free(mf);
}

/* A real file from abc2midi, compared note by note with abcmidi's own dump (mftext). */
static void test_agrees_with_mftext(void **state)
{
    (void)state;
    char dir[] = "/tmp/etude-test-midifile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], path[512];
    snprintf(path, sizeof path, "%s/c.abc", dir);
    FILE *a = fopen(path, "w");
    assert_non_null(a);
    fputs("X:1\nT:Check\nM:3/4\nL:1/8\nQ:1/4=100\nK:G\nV:1\nd2 B2 G2|A>B c2 e2|d6|]\n"
          "V:2\nB,2 D2 D2|F2 A2 c2|B6|]\n", a);
    fclose(a);
    snprintf(cmd, sizeof cmd, "cd %s && abc2midi c.abc -o c.mid >/dev/null 2>&1 && mftext c.mid > c.txt", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/c.mid", dir);
    etude_midifile_t *mf = NULL;
    etude_midifile_error_t err;
    int rc = etude_midifile_load(path, &mf, &err);
    if (rc)
        fail_msg("%s", err.message);
    /* Collect mftext's note events per track, in order. */
    snprintf(path, sizeof path, "%s/c.txt", dir);
    FILE *t = fopen(path, "r");
    assert_non_null(t);
    char line[256];
    int trk = -1;
    size_t checked = 0, idx[16] = {0};
    size_t part_of_track[16];
    for (size_t i = 0; i < 16; i++)
        part_of_track[i] = SIZE_MAX;
    /* Tracks with channel messages map to parts in order. */
    size_t nextpart = 0;
    while (fgets(line, sizeof line, t)) {
        if (!strncmp(line, "Track start", 11)) {
            trk++;
            continue;
        }
        unsigned long time;
        int ch, key, vel;
        int on = sscanf(line, "Time=%lu Note on, chan=%d pitch=%d vol=%d", &time, &ch, &key, &vel) == 4;
        int off = !on && sscanf(line, "Time=%lu Note off, chan=%d pitch=%d vol=%d", &time, &ch, &key, &vel) == 4;
        if (!on && !off)
            continue;
        assert_true(trk >= 0 && trk < 16);
        if (part_of_track[trk] == SIZE_MAX)
            part_of_track[trk] = nextpart++;
        size_t part = part_of_track[trk];
        size_t n;
        const etude_midi_msg_t *m = etude_midifile_part_msgs(mf, part, &n);
        /* skip non-note messages (program changes) on our side */
        while (idx[part] < n && (m[idx[part]].status & 0xe0) != 0x80)
            idx[part]++;
        assert_true(idx[part] < n);
        const etude_midi_msg_t *x = &m[idx[part]++];
        int is_on = (x->status & 0xf0) == 0x90;
        if (on && vel == 0)
            on = 0, off = 1;
        assert_int_equal(is_on, on);
        assert_int_equal(x->tick, time);
        assert_int_equal((x->status & 0x0f) + 1, ch);
        assert_int_equal(x->d1, key);
        if (on)
            assert_int_equal(x->d2, vel);
        checked++;
    }
    fclose(t);
    assert_true(checked >= 20);
    assert_int_equal(nextpart, etude_midifile_parts(mf));
    etude_midifile_free(mf);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    etude_midifile_t *mf = NULL;
    etude_midifile_error_t err;
    assert_int_equal(etude_midifile_load("/nonexistent/etude.mid", &mf, &err), ETUDE_EIO);
    assert_non_null(strstr(err.message, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type1_parts_and_timing),
        cmocka_unit_test(test_type0_split_by_channel),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_error_offsets),
        cmocka_unit_test(test_unknown_chunks_skipped_and_smpte),
        cmocka_unit_test(test_part_source_windows),
        cmocka_unit_test(test_agrees_with_mftext),
        cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
