/* etude_material.c - material given directly: file kinds, MIDI files as presets, descriptions. */
#include "etude_material.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "etude_error.h"
#include "etude_fluid.h"
#include "etude_midifile.h"
#include "etude_tempomap.h"

int etude_material_kind(const char *path, etude_material_kind_t *kind, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return ETUDE_EIO;
    }
    unsigned char b[4];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    size_t pl = strlen(path);
    if (n >= 4 && !memcmp(b, "MThd", 4))
        *kind = ETUDE_MATERIAL_MIDI;
    else if (pl >= 4 && !strcasecmp(path + pl - 4, ".map"))
        *kind = ETUDE_MATERIAL_TEMPOMAP;
    else /* a preset: the loader says what is wrong with anything else */
        *kind = ETUDE_MATERIAL_PRESET;
    return ETUDE_OK;
}

static int load_midi(const char *path, etude_midifile_t **mf, char *err, size_t errlen)
{
    etude_midifile_error_t me = {0};
    int rc = etude_midifile_load(path, mf, &me);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s%s(byte %zu)", path, me.message, me.message[0] ? " " : "", me.offset);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int etude_material_midi_preset(const char *path, const char *soundfont, etude_preset_t **out, char *err,
                               size_t errlen)
{
    *out = NULL;
    etude_midifile_t *mf = NULL;
    int rc = load_midi(path, &mf, err, errlen);
    if (rc < 0)
        return rc;
    size_t parts = etude_midifile_parts(mf);
    if (parts == 0) {
        etude_midifile_free(mf);
        snprintf(err, errlen, "%s: no notes to play", path);
        return ETUDE_EINVAL;
    }
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        snprintf(abs, sizeof abs, "%s", path);
    cJSON *root = cJSON_CreateObject(), *voices = cJSON_AddArrayToObject(root, "voices");
    /* titled by the file's sequence name, else by its file name */
    const char *title = etude_midifile_title(mf);
    cJSON_AddStringToObject(root, "title", title[0] ? title : base_name(path));
    for (size_t i = 0; i < parts; i++) {
        cJSON *v = cJSON_CreateObject();
        const char *pn = etude_midifile_part_name(mf, i);
        char name[64];
        /* voice names are unique: a repeated or empty part name gets its number */
        bool dup = !pn || !*pn || strlen(pn) >= 48;
        for (size_t k = 0; k < i && !dup; k++)
            dup = !strcmp(pn, etude_midifile_part_name(mf, k));
        for (size_t k = i + 1; k < parts && !dup; k++)
            dup = !strcmp(pn, etude_midifile_part_name(mf, k));
        if (dup)
            snprintf(name, sizeof name, "part %zu", i + 1);
        else
            snprintf(name, sizeof name, "%s", pn);
        cJSON_AddStringToObject(v, "kind", "midi");
        cJSON_AddStringToObject(v, "name", name);
        cJSON_AddStringToObject(v, "file", abs);
        cJSON_AddNumberToObject(v, "part", (double)(i + 1));
        if (soundfont)
            cJSON_AddStringToObject(v, "soundfont", soundfont);
        cJSON_AddItemToArray(voices, v);
    }
    etude_midifile_free(mf);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return ETUDE_ENOMEM;
    rc = etude_preset_parse(text, strlen(text), path, out, err, errlen);
    free(text);
    return rc;
}

/* ---- descriptions ------------------------------------------------------------------------- */

typedef struct buf {
    char *s;
    size_t n, cap;
    bool oom;
} buf_t;

static void put(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || b->oom)
        return;
    size_t need = b->n + (size_t)k + 1;
    if (need > b->cap) {
        size_t nc = need * 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
    b->n += (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1;
    b->s[b->n] = 0;
}

static void put_length(buf_t *b, double s)
{
    put(b, "%d:%06.3f", (int)(s / 60), fmod(s, 60));
}

static void describe_midi(buf_t *b, const char *path, etude_midifile_t *mf)
{
    int smpte = 0;
    uint32_t div = etude_midifile_division(mf, &smpte);
    uint64_t len = etude_midifile_length_ticks(mf);
    double secs = etude_midifile_seconds(mf, len);
    put(b, "%s: Standard MIDI File, format %d, %zu tracks, %u ticks per %s\n", path, etude_midifile_format(mf),
        etude_midifile_tracks(mf), div, smpte ? "second" : "quarter note");
    if (etude_midifile_title(mf)[0])
        put(b, "title: %s\n", etude_midifile_title(mf));
    /* bars: walk the meters from tick 0 */
    uint64_t bars = 0;
    double lo = 0, hi = 0;
    char meters[256] = "";
    size_t mo = 0;
    uint32_t last_num = 0, last_den = 0;
    for (uint64_t t = 0; t < len && div && !smpte && bars < 100000; bars++) {
        uint32_t num, den;
        uint64_t since;
        etude_midifile_meter_at(mf, t, &num, &den, &since);
        if ((num != last_num || den != last_den) && mo < sizeof meters - 32)
            mo += (size_t)snprintf(meters + mo, sizeof meters - mo, "%s%u/%u from bar %llu", mo ? ", " : "", num, den,
                                   (unsigned long long)bars + 1);
        last_num = num;
        last_den = den;
        double bpm = 60e6 / etude_midifile_tempo_at(mf, t);
        if (bars == 0 || bpm < lo)
            lo = bpm;
        if (bars == 0 || bpm > hi)
            hi = bpm;
        uint64_t bar_ticks = (uint64_t)num * div * 4 / (den ? den : 4);
        t += bar_ticks ? bar_ticks : 1;
    }
    put(b, "length ");
    put_length(b, secs);
    if (!smpte)
        put(b, ", %llu bars (%s)", (unsigned long long)bars, meters);
    if (fabs(hi - lo) < 1e-6)
        put(b, ", tempo %.6g bpm\n", lo);
    else
        put(b, ", tempi %.6g to %.6g bpm (at bar starts)\n", lo, hi);
    put(b, "parts (voices of 'etude play/render %s'):\n", base_name(path));
    for (size_t i = 0; i < etude_midifile_parts(mf); i++) {
        size_t n = 0;
        const etude_midi_msg_t *m = etude_midifile_part_msgs(mf, i, &n);
        unsigned chans = 0;
        int programs[16];
        size_t np = 0;
        for (size_t k = 0; k < n; k++) {
            chans |= 1u << (m[k].status & 0x0F);
            if ((m[k].status & 0xF0) == 0xC0 && np < 16) {
                bool seen = false;
                for (size_t q = 0; q < np && !seen; q++)
                    seen = programs[q] == m[k].d1;
                if (!seen)
                    programs[np++] = m[k].d1;
            }
        }
        put(b, "  %zu  %-20s channel", i + 1, etude_midifile_part_name(mf, i)[0] ? etude_midifile_part_name(mf, i) : "-");
        for (int c = 0, first = 1; c < 16; c++)
            if (chans & (1u << c)) {
                put(b, "%s%d", first ? " " : ",", c + 1);
                first = 0;
            }
        put(b, "  program");
        if (!np)
            put(b, " -");
        for (size_t q = 0; q < np; q++)
            put(b, "%s%d", q ? "," : " ", programs[q]);
        put(b, "  %zu notes\n", etude_midifile_part_notes(mf, i));
    }
}

static void describe_map(buf_t *b, const char *path, const etude_tempomap_t *map)
{
    put(b, "%s: klick tempo map, %zu lines, ", path, etude_tempomap_entry_count(map));
    if (etude_tempomap_endless(map))
        put(b, "endless\n");
    else {
        put(b, "%llu bars, length ", (unsigned long long)etude_tempomap_bar_count(map));
        put_length(b, etude_tempomap_seconds(map));
        put(b, "\n");
    }
    for (size_t i = 0; i < etude_tempomap_entry_count(map); i++) {
        const etude_tempomap_entry_t *e = etude_tempomap_entry(map, i);
        put(b, "  bar %-5llu %-16s %u bars of %u/%u at ", (unsigned long long)e->first_bar + 1,
            e->label[0] ? e->label : "-", e->bars, e->beats, e->denom);
        if (e->tempi)
            put(b, "per-beat tempi from %.6g", e->tempi[0]);
        else if (e->tempo2 != 0)
            put(b, "%.6g to %.6g bpm", e->tempo, e->tempo2);
        else
            put(b, "%.6g bpm", e->tempo);
        put(b, "\n");
    }
}

static void describe_preset(buf_t *b, const char *path, const etude_preset_t *p)
{
    put(b, "%s: preset \"%s\", %zu voices\n", path, etude_preset_title(p), etude_preset_voice_count(p));
    for (size_t i = 0; i < etude_preset_voice_count(p); i++) {
        const etude_preset_voice_t *v = etude_preset_voice(p, i);
        put(b, "  %-20s %-9s volume %.3g%s%s\n", v->name, v->kind->kind, v->volume, v->mute ? ", muted" : "",
            v->solo ? ", solo" : "");
    }
    const etude_tempomap_t *map = etude_preset_tempomap(p);
    if (map)
        describe_map(b, "  its tempo map", map);
}

int etude_material_describe(const char *path, char **text, char *err, size_t errlen)
{
    *text = NULL;
    etude_material_kind_t kind;
    int rc = etude_material_kind(path, &kind, err, errlen);
    if (rc < 0)
        return rc;
    buf_t b = {0};
    if (kind == ETUDE_MATERIAL_MIDI) {
        etude_midifile_t *mf = NULL;
        if ((rc = load_midi(path, &mf, err, errlen)) < 0)
            return rc;
        describe_midi(&b, path, mf);
        etude_midifile_free(mf);
    } else if (kind == ETUDE_MATERIAL_PRESET) {
        etude_preset_t *p = NULL;
        if ((rc = etude_preset_load(path, &p, err, errlen)) < 0)
            return rc;
        describe_preset(&b, path, p);
        etude_preset_destroy(p);
    } else {
        etude_tempomap_t *map = NULL;
        if ((rc = etude_tempomap_load(path, &map, err, errlen)) < 0)
            return rc;
        describe_map(&b, path, map);
        etude_tempomap_destroy(map);
    }
    if (b.oom || !b.s) {
        free(b.s);
        snprintf(err, errlen, "out of memory");
        return ETUDE_ENOMEM;
    }
    *text = b.s;
    return ETUDE_OK;
}
