/* test_preset.c - unit tests of the preset loader: the shipped presets, every field, every error
 * message with its line, and instantiating a preset into a real engine. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "etude_engine.h"
#include "etude_offline.h"
#include "etude_preset.h"
#include "etude_sequencer.h"
#include "etude_tempomap.h"

#ifndef ETUDE_SOURCE_DIR
#error "ETUDE_SOURCE_DIR must name the source tree (tests/unit/test_preset.cmake)"
#endif

static char tmpdir[64];

static etude_preset_t *parse_ok(const char *text)
{
    char err[512] = "";
    etude_preset_t *p = NULL;
    if (etude_preset_parse(text, strlen(text), "/presets/p.json", &p, err, sizeof err) != 0)
        fail_msg("parse failed: %s", err);
    return p;
}

static void parse_err(const char *text, int want_rc, const char *want)
{
    char err[512] = "";
    etude_preset_t *p = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/p.json", tmpdir);
    int rc = etude_preset_parse(text, strlen(text), path, &p, err, sizeof err);
    assert_null(p);
    /* {P} is the preset path, {D} its directory, {K} the voice kinds */
    char full[600];
    size_t o = 0;
    for (const char *w = want; *w && o < sizeof full - 1;) {
        const char *sub = !strncmp(w, "{P}", 3) ? path : !strncmp(w, "{D}", 3) ? tmpdir
                        : !strncmp(w, "{K}", 3) ? etude_preset_kind_names() : NULL;
        if (sub) {
            o += (size_t)snprintf(full + o, sizeof full - o, "%s", sub);
            w += 3;
        } else {
            full[o++] = *w++;
        }
    }
    full[o < sizeof full ? o : sizeof full - 1] = 0;
    if (rc != want_rc || strcmp(err, full))
        fail_msg("for %s\n got %d '%s'\nwant %d '%s'", text, rc, err, want_rc, full);
}

static void test_shipped(void **state)
{
    (void)state;
    const char *names[] = {"metronome-accented.json", "odd-meters.json", "speed-trainer.json"};
    for (size_t i = 0; i < 3; i++) {
        char path[512], err[512];
        snprintf(path, sizeof path, "%s/presets/%s", ETUDE_SOURCE_DIR, names[i]);
        etude_preset_t *p = NULL;
        if (etude_preset_load(path, &p, err, sizeof err))
            fail_msg("%s", err);
        assert_true(etude_preset_voice_count(p) >= 1);
        assert_non_null(etude_preset_tempomap(p));
        assert_true(etude_tempomap_seconds(etude_preset_tempomap(p)) > 10);
        etude_preset_destroy(p);
    }
}

static void test_fields(void **state)
{
    (void)state;
    etude_preset_t *p = parse_ok("{\n"
                                 " \"$schema\": \"./preset.schema.json\",\n"
                                 " \"title\": \"T\", \"description\": \"d\",\n"
                                 " \"voices\": [\n"
                                 "  {\"kind\": \"click\", \"name\": \"a\", \"map\": [\"x: 2 3/4 90\", \"4 90-120 X.x.\"],\n"
                                 "   \"volume\": 0.5, \"pan\": -0.25, \"mute\": true, \"solo\": false,\n"
                                 "   \"sound\": \"wood\", \"accents\": {\"accent\": 2, \"normal\": 0.25, \"mode\": \"all\"}},\n"
                                 "  {\"kind\": \"click\", \"name\": \"b\", \"map\": \"1 120\\n1 7/8 100\"}\n"
                                 " ],\n"
                                 " \"render\": {\"rate\": 44100, \"duration\": 12.5, \"tail\": 1, \"sample_format\": \"pcm24\"}\n"
                                 "}\n");
    assert_string_equal(etude_preset_title(p), "T");
    assert_int_equal(etude_preset_voice_count(p), 2);
    const etude_preset_voice_t *v = etude_preset_voice(p, 0);
    assert_string_equal(v->name, "a");
    assert_string_equal(v->kind->kind, "click");
    assert_true(v->volume == 0.5f && v->pan == -0.25f && v->mute && !v->solo);
    const etude_tempomap_t *m = etude_preset_tempomap(p);
    assert_int_equal(etude_tempomap_entry_count(m), 2);
    assert_string_equal(etude_tempomap_entry(m, 0)->label, "x");
    assert_true(etude_tempomap_entry(m, 1)->tempo2 == 120.0);
    assert_int_equal(etude_tempomap_entry(m, 1)->line, 2);
    v = etude_preset_voice(p, 1);
    assert_string_equal(v->name, "b");
    assert_true(v->volume == 1.0f && v->pan == 0.0f && !v->mute);
    const etude_preset_render_t *r = etude_preset_render(p);
    assert_int_equal(r->rate, 44100);
    assert_true(r->duration == 12.5 && r->tail == 1.0);
    assert_string_equal(r->sample_format, "pcm24");
    assert_null(etude_preset_voice(p, 2));
    etude_preset_destroy(p);

    /* the "click" shorthand; title defaults to the file name */
    p = parse_ok("{\"click\": {\"map\": [\"4 120\"]}}");
    assert_string_equal(etude_preset_title(p), "p.json");
    assert_int_equal(etude_preset_voice_count(p), 1);
    assert_string_equal(etude_preset_voice(p, 0)->name, "click");
    assert_int_equal(etude_preset_render(p)->rate, 0);
    etude_preset_destroy(p);

    /* from a tempo map (etude render --click / --tempo-map) */
    char err[128];
    etude_tempomap_t *map = NULL;
    assert_int_equal(etude_tempomap_parse_line("8 4/4 120", "--click", &map, err, sizeof err), 0);
    assert_int_equal(etude_preset_from_tempomap(map, "8 4/4 120", &p), 0);
    assert_string_equal(etude_preset_title(p), "8 4/4 120");
    assert_ptr_equal(etude_preset_tempomap(p), map);
    etude_preset_destroy(p);

    assert_non_null(etude_preset_kind_find("click"));
    assert_null(etude_preset_kind_find("kazoo"));
    /* the kind table lists click first; other kinds follow as they are added */
    assert_memory_equal(etude_preset_kind_names(), "click", 5);
}

static void test_json_line(void **state)
{
    (void)state;
    const char *t = "{\n \"a\": {\"b\": [1,\n  \"x\\\"]\",\n  {\"c\": 3}]},\n \"d\": \"e\"\n}";
    const char *p1[] = {"a", "b", "#2", "c"};
    assert_int_equal(etude_json_line(t, p1, 4), 4);
    const char *p2[] = {"a", "b", "#1"};
    assert_int_equal(etude_json_line(t, p2, 3), 3);
    const char *p3[] = {"d"};
    assert_int_equal(etude_json_line(t, p3, 1), 5);
    const char *p4[] = {"a", "b", "#3"};
    assert_int_equal(etude_json_line(t, p4, 3), 0);
    const char *p5[] = {"zz"};
    assert_int_equal(etude_json_line(t, p5, 1), 0);
}

static void test_errors(void **state)
{
    (void)state;
    parse_err("{\"title\": \"x\",\n \"click\": {\"map\": [\"1 120\"]", ETUDE_EPARSE,
              "{P}:2: malformed JSON: unexpected end of file (truncated?)");
    parse_err("{\"title\": \"x\",\n\n \"click\": {\"map\": [\"1 120\"] }} trailing", ETUDE_EPARSE,
              "{P}:3: malformed JSON near 'trailing'");
    parse_err("\x89PNG\r\n\x1a\n", ETUDE_EPARSE, "{P}:1: malformed JSON near '?PNG?'");
    parse_err("", ETUDE_EPARSE, "{P}:1: malformed JSON: unexpected end of file (truncated?)");
    {
        char err[256], path[128];
        etude_preset_t *p = NULL;
        snprintf(path, sizeof path, "%s/p.json", tmpdir);
        assert_int_equal(etude_preset_parse("{\n\"a\0", 5, path, &p, err, sizeof err), ETUDE_EPARSE);
        char want[256];
        snprintf(want, sizeof want, "%s:2: binary data (a NUL byte), not a JSON preset", path);
        assert_string_equal(err, want);
    }
    parse_err("[1, 2]", ETUDE_EPARSE, "{P}:1: expected a JSON object {\"title\": ..., \"voices\": [...]}");
    parse_err("{\"title\": \"x\"}", ETUDE_EPARSE,
              "{P}:1: no voices (give \"voices\": [{\"kind\": \"click\", ...}] or \"click\": {...})");
    parse_err("{\n\"title\": \"x\",\n\"tempo\": 120}", ETUDE_EPARSE,
              "{P}:3: tempo: unknown field (a preset has: $schema, title, description, voices, click, render)");
    parse_err("{\"title\": 5, \"click\": {}}", ETUDE_EPARSE, "{P}:1: title: expected a non-empty string");
    parse_err("{\"voices\": []}", ETUDE_EPARSE, "{P}:1: voices: expected a non-empty array of voices");
    parse_err("{\"voices\": [\n 3]}", ETUDE_EPARSE,
              "{P}:2: voices[0]: expected an object {\"kind\": ..., ...}");
    parse_err("{\"voices\": [\n {\"map\": [\"1 120\"]}]}", ETUDE_EPARSE,
              "{P}:2: voices[0]: missing 'kind' (one of: {K})");
    parse_err("{\"voices\": [\n {\"kind\":\n \"kazoo\"}]}", ETUDE_EPARSE,
              "{P}:3: voices[0].kind: unknown voice kind 'kazoo' (expected one of: {K})");
    parse_err("{\"voices\": [{\"kind\": \"click\", \"map\": [\"1 120\"]},\n"
              " {\"kind\": \"click\", \"map\": [\"1 120\"],\n  \"tempo\": 120}]}",
              ETUDE_EPARSE,
              "{P}:3: voices[1].tempo: unknown field (a click voice has: kind, name, volume, pan, mute, "
              "solo, map, map_file, pattern, sound, accents)");
    parse_err("{\"voices\": [{\"kind\": \"click\", \"map\": [\"1 120\"]},\n"
              " {\"kind\": \"click\", \"map\": [\"1 120\"]}]}",
              ETUDE_EPARSE,
              "{P}:2: voices[1]: a second voice named 'click' (give each voice its own 'name')");
    parse_err("{\"click\": {\"map\": [\"1 120\"],\n \"volume\": \"loud\"}}", ETUDE_EPARSE,
              "{P}:2: click.volume: expected a number from 0 to 100 (linear gain)");
    parse_err("{\"click\": {\"map\": [\"1 120\"],\n \"volume\": -1}}", ETUDE_EPARSE,
              "{P}:2: click.volume: expected a number from 0 to 100 (linear gain)");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"pan\": 2}}", ETUDE_EPARSE,
              "{P}:1: click.pan: expected a number from -1 (left) to 1 (right)");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"mute\": 1}}", ETUDE_EPARSE,
              "{P}:1: click.mute: expected true or false");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"name\": \"\"}}", ETUDE_EPARSE,
              "{P}:1: click.name: expected a name of 1 to 63 characters");
    parse_err("{\"click\": {\"kind\": \"kazoo\", \"map\": [\"1 120\"]}}", ETUDE_EPARSE,
              "{P}:1: click.kind: unknown voice kind 'kazoo' (expected one of: {K})");
    /* the tempo map inline: the element's line, the map's own message */
    parse_err("{\"click\": {\"map\": [\n  \"intro: 2 120\",\n  \"4 3/4 abc\"\n]}}", ETUDE_EPARSE,
              "{P}:3: click.map[1]: bad tempo 'abc' (expected a number > 0)");
    parse_err("{\"click\": {\n \"map\": \"2 120\\n4 3/4 120 X.xx\"}}", ETUDE_EPARSE,
              "{P}:2: click.map: line 2: bad pattern 'X.xx' (4 beats; the meter has 3)");
    parse_err("{\"click\": {\"map\": [\"2 120\", 3]}}", ETUDE_EPARSE,
              "{P}:1: click.map[1]: expected a string (one tempo-map line)");
    parse_err("{\"click\": {\"map\": 3}}", ETUDE_EPARSE,
              "{P}:1: click.map: expected an array of tempo-map lines or a string");
    parse_err("{\"click\": {\"map\": []}}", ETUDE_EPARSE,
              "{P}:1: click.map: no entries (expected lines like '8 4/4 120', see docs/click.md)");
    parse_err("{\"click\": {\"sound\": \"beep\"}}", ETUDE_EPARSE,
              "{P}:1: click: missing 'map' (tempo-map lines) or 'map_file'");
    parse_err("{\"click\": {\"map\": [\"1 120\"],\n \"map_file\": \"m.txt\"}}", ETUDE_EPARSE,
              "{P}:2: click.map_file: give 'map' or 'map_file', not both");
    parse_err("{\"click\": {\"map_file\":\n \"missing.txt\"}}", ETUDE_EPARSE,
              "{P}:2: click.map_file: {D}/missing.txt: cannot read: No such file or directory");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"sound\": \"cowbell\"}}", ETUDE_EPARSE,
              "{P}:1: click.sound: unknown built-in sound 'cowbell' (expected beep, wood, square, or "
              "{\"normal\": FILE, \"accent\": FILE})");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"sound\": {\"normal\": \"t.wav\"}}}", ETUDE_EPARSE,
              "{P}:1: click.sound.normal: '{D}/t.wav': cannot read: No such file or directory");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"sound\": {\"normal\": \"t.wav\", \"loud\": 1}}}", ETUDE_EPARSE,
              "{P}:1: click.sound: unknown field 'loud' (expected normal, accent)");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"sound\": {}}}", ETUDE_EPARSE,
              "{P}:1: click.sound: missing 'normal' (the sound file of normal clicks)");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"accents\": {\"mode\": \"some\"}}}", ETUDE_EPARSE,
              "{P}:1: click.accents.mode: expected \"pattern\", \"none\" or \"all\"");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"accents\": {\"accent\": -2}}}", ETUDE_EPARSE,
              "{P}:1: click.accents.accent: expected a number from 0 to 100 (linear gain)");
    parse_err("{\"click\": {\"map\": [\"1 120\"], \"accents\": {\"first\": 1}}}", ETUDE_EPARSE,
              "{P}:1: click.accents: unknown field 'first' (expected accent, normal, mode)");
    parse_err("{\"click\": {\"map\": [\"1 120\"]},\n \"render\": {\n \"rate\": 44100.5}}", ETUDE_EPARSE,
              "{P}:3: render.rate: expected an integer from 8000 to 384000 (Hz)");
    parse_err("{\"click\": {\"map\": [\"1 120\"]}, \"render\": {\"duration\": 0}}", ETUDE_EPARSE,
              "{P}:1: render.duration: expected seconds > 0 (at most 100 hours)");
    parse_err("{\"click\": {\"map\": [\"1 120\"]}, \"render\": {\"tail\": -1}}", ETUDE_EPARSE,
              "{P}:1: render.tail: expected seconds from 0 to 60");
    parse_err("{\"click\": {\"map\": [\"1 120\"]}, \"render\": {\"sample_format\": \"mp3\"}}", ETUDE_EPARSE,
              "{P}:1: render.sample_format: expected \"float\", \"pcm24\" or \"pcm16\"");
    parse_err("{\"click\": {\"map\": [\"1 120\"]}, \"render\": {\n\"bits\": 24}}", ETUDE_EPARSE,
              "{P}:2: render: unknown field 'bits' (expected one of: rate, duration, tail, sample_format)");

    char err[256];
    etude_preset_t *p = NULL;
    assert_int_equal(etude_preset_load("/nonexistent/p.json", &p, err, sizeof err), ETUDE_EIO);
    assert_string_equal(err, "/nonexistent/p.json: cannot read: No such file or directory");
}

/* A map file next to the preset: relative names resolve against the preset's folder, and the map's
 * own errors name the map file and its line. */
static void test_map_file(void **state)
{
    (void)state;
    char map[128], preset[128], err[512];
    snprintf(map, sizeof map, "%s/song.txt", tmpdir);
    snprintf(preset, sizeof preset, "%s/p.json", tmpdir);
    FILE *f = fopen(map, "w");
    fputs("intro: 2 4/4 120\nverse: 4 7/8 140 X.xX.x.\n", f);
    fclose(f);
    f = fopen(preset, "w");
    fputs("{\"title\": \"song\", \"click\": {\"map_file\": \"song.txt\"}}\n", f);
    fclose(f);
    etude_preset_t *p = NULL;
    assert_int_equal(etude_preset_load(preset, &p, err, sizeof err), 0);
    assert_int_equal(etude_tempomap_bar_count(etude_preset_tempomap(p)), 6);
    etude_preset_destroy(p);
    f = fopen(map, "w");
    fputs("intro: 2 4/4 120\nverse: 4 7/8 140 X.xX.x\n", f);
    fclose(f);
    assert_int_equal(etude_preset_load(preset, &p, err, sizeof err), ETUDE_EPARSE);
    char want[512];
    snprintf(want, sizeof want, "%s:2: bad pattern 'X.xX.x' (6 beats; the meter has 7)", map);
    assert_string_equal(err, want);
    unlink(map);
    unlink(preset);
}

typedef struct peak {
    float l, r;
    uint64_t first;
    uint64_t n;
} peak_t;

static int measure(void *user, const float *const mix[2], uint32_t n)
{
    peak_t *p = user;
    for (uint32_t i = 0; i < n; i++) {
        if (p->first == UINT64_MAX && (mix[0][i] != 0 || mix[1][i] != 0))
            p->first = p->n + i;
        p->l = fmaxf(p->l, fabsf(mix[0][i]));
        p->r = fmaxf(p->r, fabsf(mix[1][i]));
    }
    p->n += n;
    return 0;
}

/* "pattern" (klick's notation) on the click kind goes to the map's lines of as many beats that have
 * none of their own; on the practice kind it must fit a bar. Fails without the field (it was refused
 * as unknown on e50f8ca). */
static void test_pattern(void **state)
{
    (void)state;
    etude_preset_t *p = parse_ok("{\"click\": {\"pattern\": \"X..x..\",\n"
                                 " \"map\": [\"2 6/8 120\", \"1 4/4 120\", \"1 6/8 120 XxxXxx\", \"1 12/8 60\"]}}");
    const etude_tempomap_t *m = etude_preset_tempomap(p);
    static const uint8_t two[6] = {ETUDE_BEAT_ACCENT, ETUDE_BEAT_SILENT, ETUDE_BEAT_SILENT,
                                   ETUDE_BEAT_NORMAL, ETUDE_BEAT_SILENT, ETUDE_BEAT_SILENT};
    assert_non_null(etude_tempomap_entry(m, 0)->pattern);
    assert_memory_equal(etude_tempomap_entry(m, 0)->pattern, two, 6);
    assert_null(etude_tempomap_entry(m, 1)->pattern);                         /* 4 beats */
    assert_int_equal(etude_tempomap_entry(m, 2)->pattern[1], ETUDE_BEAT_NORMAL); /* its own */
    assert_null(etude_tempomap_entry(m, 3)->pattern);                         /* 12 beats */
    etude_tempomap_beat_t b;
    assert_int_equal(etude_tempomap_beat(m, 9, &b), 0); /* bar 2, beat 4 */
    assert_int_equal(b.type, ETUDE_BEAT_NORMAL);
    assert_int_equal(etude_tempomap_beat(m, 10, &b), 0);
    assert_int_equal(b.type, ETUDE_BEAT_SILENT);
    etude_preset_destroy(p);

    p = parse_ok("{\"voices\": [{\"kind\": \"practice\", \"tempo\": 120, \"meter\": \"6/8\", \"bars\": 2,"
                 " \"pattern\": \"X..x..\"}]}");
    etude_preset_destroy(p);

    parse_err("{\"click\": {\"map\": [\"2 6/8 120\"],\n \"pattern\": \"X..x\"}}", ETUDE_EPARSE,
              "{P}:2: click.pattern: no line of the map has 4 beats without a pattern of its own (the pattern gives "
              "one character per beat of a bar)");
    parse_err("{\"click\": {\"map\": [\"2 6/8 120\"], \"pattern\": \"X--x--\"}}", ETUDE_EPARSE,
              "{P}:1: click.pattern: expected 1 to 256 characters, each X (accent), x (normal) or . (silent), "
              "e.g. \"X..x..\" to count 6/8 in two");
    parse_err("{\"click\": {\"map\": [\"2 6/8 120\"], \"pattern\": 6}}", ETUDE_EPARSE,
              "{P}:1: click.pattern: expected klick's beat pattern: X (accent), x (normal) or . (silent) for each "
              "beat of a bar, e.g. \"X..x..\" to count 6/8 in two");
    parse_err("{\"voices\": [{\"kind\": \"practice\", \"tempo\": 120, \"meter\": \"6/8\", \"bars\": 2,\n"
              " \"pattern\": \"X.x.\"}]}", ETUDE_EPARSE,
              "{P}:2: voices[0].pattern: 4 beats, but no bar of the meter has 4 beats (the pattern gives one "
              "character per beat: \"X..x..\" for a bar of 6/8)");
    parse_err("{\"voices\": [{\"kind\": \"practice\", \"tempo\": 120, \"bars\": 2, \"pattern\": \"\"}]}",
              ETUDE_EPARSE,
              "{P}:1: voices[0].pattern: expected klick's beat pattern: 1 to 256 characters, each X (accent), x "
              "(normal) or . (silent), e.g. \"X..x..\" to count 6/8 in two");
}

/* A drone follows the first voice before it that has bars: a click voice's tempo map too, where its
 * "changes" name bars or the map's labels. Fails on c5885a7 (a drone needed a practice voice and had
 * no "changes"). */
static void test_drone_changes(void **state)
{
    (void)state;
    const char *map = "{\"voices\": [{\"kind\": \"click\", \"map\": [\"intro: 1 4/4 120\", \"verse: 4 4/4 120\"]},\n";
    char text[1024];
    snprintf(text, sizeof text, "%s {\"kind\": \"drone\", \"changes\": [{\"at\": \"verse\", \"note\": \"D3\"},"
             " {\"at\": 4, \"note\": \"off\"}, {\"at\": 5, \"note\": 50}]}]}", map);
    etude_preset_t *p = parse_ok(text);
    assert_int_equal(etude_preset_voice_count(p), 2);
    etude_preset_destroy(p);
    /* the "click" shorthand is listed before the voices */
    p = parse_ok("{\"click\": {\"map\": [\"2 120\"]}, \"voices\": [{\"kind\": \"drone\", \"note\": \"A2\"}]}");
    etude_preset_destroy(p);

    struct { const char *change, *want; } bad[] = {
        {"{\"at\": \"bridge\", \"note\": \"D3\"}", "{P}:2: voices[1].changes[0]: at: no line of the tempo map is labelled 'bridge'"},
        {"{\"at\": 6, \"note\": \"D3\"}", "{P}:2: voices[1].changes[0]: at: expected a bar number from 1 to 5 (the bars of the click voice's map)"},
        {"{\"at\": 1.5, \"note\": \"D3\"}", "{P}:2: voices[1].changes[0]: at: expected a bar number from 1 to 5 (the bars of the click voice's map)"},
        {"{\"at\": true, \"note\": \"D3\"}", "{P}:2: voices[1].changes[0]: at: expected a bar number (1 is the map's first bar) or a label of the tempo map"},
        {"{\"at\": 3, \"note\": \"D3\"}, {\"at\": \"verse\", \"note\": \"E3\"}", "{P}:2: voices[1].changes[1]: at: bar 2 does not come after the previous change's bar 3 (list changes in the order they are played)"},
        {"{\"at\": 3, \"note\": \"H3\"}", "{P}:2: voices[1].changes[0]: note: expected a note name such as \"A3\" or \"F#2\", a MIDI key 0..127, or \"off\" (silent until the next change)"},
        {"{\"at\": 3}", "{P}:2: voices[1].changes[0]: missing 'note' (a change has: at, note)"},
        {"{\"at\": 3, \"note\": \"D3\", \"cents\": 5}", "{P}:2: voices[1].changes[0]: unknown field 'cents' (a change has: at, note)"},
        {"3", "{P}:2: voices[1].changes[0]: expected {\"at\": BAR or \"LABEL\", \"note\": NOTE or \"off\"}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s {\"kind\": \"drone\", \"changes\": [%s]}]}", map, bad[i].change);
        parse_err(text, ETUDE_EPARSE, bad[i].want);
    }
    snprintf(text, sizeof text, "%s {\"kind\": \"drone\", \"changes\": []}]}", map);
    parse_err(text, ETUDE_EPARSE, "{P}:2: voices[1].changes: expected an array of 1 to 10000 changes {\"at\": BAR or "
              "\"LABEL\", \"note\": NOTE or \"off\"}");
    /* under a practice, bars are the practice's, and labels belong to maps */
    parse_err("{\"voices\": [{\"kind\": \"practice\", \"tempo\": 90, \"bars\": 4},\n"
              " {\"kind\": \"drone\", \"changes\": [{\"at\": 5, \"note\": \"D3\"}]}]}", ETUDE_EPARSE,
              "{P}:2: voices[1].changes[0]: at: expected a bar number from 1 to 4 (the practice's bars)");
    parse_err("{\"voices\": [{\"kind\": \"practice\", \"tempo\": 90, \"bars\": 4},\n"
              " {\"kind\": \"drone\", \"changes\": [{\"at\": \"verse\", \"note\": \"D3\"}]}]}", ETUDE_EPARSE,
              "{P}:2: voices[1].changes[0]: at: expected a bar number (1 is the first bar; labels name the lines of a "
              "click voice's tempo map)");
    parse_err("{\"voices\": [{\"kind\": \"drone\"}]}", ETUDE_EPARSE,
              "{P}:1: voices[0]: a drone follows the bars of a practice (or midi) voice, or a click voice's tempo map: "
              "list one before it");
}

/* instantiate(): voices with their volume, pan and mute in a real engine. */
static void test_instantiate(void **state)
{
    (void)state;
    const char *cases[] = {
        "{\"voices\": [{\"kind\": \"click\", \"map\": [\"1 1/4 120\"], \"volume\": 0.5, \"pan\": 1,"
        " \"accents\": {\"accent\": 0.5}}]}",
        "{\"voices\": [{\"kind\": \"click\", \"map\": [\"1 1/4 120\"], \"mute\": true}]}",
    };
    for (int c = 0; c < 2; c++) {
        etude_preset_t *p = parse_ok(cases[c]);
        etude_engine_config_t ec;
        etude_engine_config_default(&ec, 48000);
        etude_engine_t *e = NULL;
        etude_sequencer_t *seq = NULL;
        assert_int_equal(etude_engine_create(&ec, &e), 0);
        assert_int_equal(etude_sequencer_create(e, 4800, &seq), 0);
        char err[256];
        etude_voice_id_t ids[1];
        assert_int_equal(etude_preset_instantiate(p, e, seq, ids, err, sizeof err), 0);
        etude_voice_info_t info;
        assert_int_equal(etude_voice_info(e, ids[0], &info), 0);
        assert_string_equal(info.name, "click");
        assert_string_equal(info.kind, "click");
        peak_t pk = {0, 0, UINT64_MAX, 0};
        etude_offline_config_t oc = {.period = 256, .write = measure, .user = &pk};
        assert_int_equal(etude_sequencer_start(seq, 0), 0);
        assert_int_equal(etude_offline_run(e, seq, &oc), 0);
        assert_int_equal(pk.n, 24000);
        if (c == 0) {
            /* beep accent 0.9 x accent gain 0.5 x volume 0.5, panned hard right */
            assert_int_equal(pk.first, 0);
            assert_true(fabsf(pk.r - 0.225f) < 1e-4f);
            assert_true(pk.l == 0.0f);
        } else {
            assert_true(pk.l == 0.0f && pk.r == 0.0f);
        }
        etude_sequencer_destroy(seq);
        etude_engine_destroy(e);
        etude_preset_destroy(p);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/etude-test-preset-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped),  cmocka_unit_test(test_fields),
        cmocka_unit_test(test_json_line), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_map_file), cmocka_unit_test(test_instantiate),
        cmocka_unit_test(test_pattern), cmocka_unit_test(test_drone_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
