/* etude_midi_preset.c - the preset kind "midi": one FluidSynth voice playing one part (or every
 * part) of a MIDI file through the practice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_fluid.h"
#include "etude_midifile.h"
#include "etude_practice.h"
#include "etude_preset_kinds.h"

typedef struct midi_preset {
    char *file;
    char *soundfont;
    long part; /* index, or -1 for every part */
    etude_fluid_config_t fc;
    char *rt_refusal; /* why the voice cannot play live ("p.json:9: voices[1].effects: ..."), or NULL */
} midi_preset_t;

static void midi_preset_free(void *config)
{
    midi_preset_t *c = config;
    if (!c)
        return;
    free(c->file);
    free(c->soundfont);
    free(c->rt_refusal);
    free(c);
}

static int load_midi(const char *path, etude_midifile_t **mf, char *err, size_t errsize)
{
    etude_midifile_error_t me;
    int rc = etude_midifile_load(path, mf, &me);
    if (rc)
        snprintf(err, errsize, "%s: %s", path, me.message);
    return rc;
}

static int midi_parse(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config)
{
    midi_preset_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_ENOMEM;
    etude_fluid_config_default(&c->fc);
    c->part = -1;
    int rc = etude_preset_json_file(ctx, obj, "file", "file", &c->file);
    if (!rc && !c->file)
        rc = etude_preset_error(ctx, NULL, -1, "missing 'file' (a Standard MIDI File, type 0 or 1)");
    etude_midifile_t *mf = NULL;
    if (!rc) {
        char why[400];
        if ((rc = load_midi(c->file, &mf, why, sizeof why)))
            rc = etude_preset_error(ctx, "file", -1, "%s", why);
    }
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(obj, "part");
    if (!rc && part) {
        size_t n = etude_midifile_parts(mf);
        if (cJSON_IsNumber(part) && part->valuedouble == floor(part->valuedouble) && part->valuedouble >= 1 &&
            part->valuedouble <= (double)n) {
            c->part = (long)part->valuedouble - 1;
        } else if (cJSON_IsString(part)) {
            for (size_t i = 0; i < n && c->part < 0; i++)
                if (!strcmp(etude_midifile_part_name(mf, i), part->valuestring))
                    c->part = (long)i;
        }
        if (c->part < 0) {
            char names[400];
            size_t o = 0;
            names[0] = 0;
            for (size_t i = 0; i < n && o < sizeof names; i++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%zu '%s'", i ? ", " : "", i + 1,
                                      etude_midifile_part_name(mf, i));
            rc = etude_preset_error(ctx, "part", -1, "no such part in %s (it has: %s)", c->file, names);
        }
    }
    if (!rc && etude_midifile_parts(mf) == 0)
        rc = etude_preset_error(ctx, "file", -1, "%s has no notes", c->file);
    etude_midifile_free(mf);
    if (!rc)
        rc = etude_preset_json_file(ctx, obj, "soundfont", "soundfont", &c->soundfont);
    if (!rc) {
        char why[300];
        const char *sf = c->soundfont ? c->soundfont : etude_fluid_default_soundfont();
        if (!sf)
            rc = etude_preset_error(ctx, NULL, -1, "no 'soundfont' given and none installed at /usr/share/sounds/sf2 "
                                    "(install timgm6mb-soundfont or fluid-soundfont-gm)");
        else if (etude_fluid_check_soundfont(sf, why, sizeof why))
            rc = etude_preset_error(ctx, c->soundfont ? "soundfont" : NULL, -1, "%s: %s", sf, why);
    }
    double v = 0;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "bank", "bank", 0, 16383, true, &v)))
        c->fc.bank = (int)v;
    v = -1;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "program", "program", 0, 127, true, &v)))
        c->fc.program = (int)v;
    v = 0;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "polyphony", "polyphony", 1, 65535, true, &v)))
        c->fc.polyphony = (int)v;
    if (!rc)
        rc = etude_preset_json_bool(ctx, obj, "effects", "effects", &c->fc.effects);
    if (!rc && c->fc.effects) {
        /* Debian's libfluidsynth mixes reverb and chorus inside an OpenMP parallel region, and
         * libgomp allocates and frees its team in every fluid_synth_write_float(): fine for a
         * render, a broken rule on a real-time thread. The message is written now, while the
         * text is at hand for the line number; etude play asks for it before it plays. */
        char why[512];
        etude_preset_ctx_t at = *ctx;
        at.err = why;
        at.errsize = sizeof why;
        etude_preset_error(&at, "effects", -1, "FluidSynth's reverb and chorus allocate memory on the audio thread "
                           "in every period (libfluidsynth mixes them through OpenMP); etude play refuses them, "
                           "etude render accepts them: set it to false to play live");
        if (!(c->rt_refusal = strdup(why)))
            rc = ETUDE_ENOMEM;
    }
    if (rc) {
        midi_preset_free(c);
        return rc;
    }
    *config = c;
    return 0;
}

/* Whether two parsed files carry the same parts (the practice's file and a voice's file). */
static bool same_material(const etude_midifile_t *a, const etude_midifile_t *b)
{
    if (etude_midifile_parts(a) != etude_midifile_parts(b))
        return false;
    for (size_t i = 0; i < etude_midifile_parts(a); i++) {
        size_t na, nb;
        const etude_midi_msg_t *ma = etude_midifile_part_msgs(a, i, &na), *mb = etude_midifile_part_msgs(b, i, &nb);
        if (na != nb)
            return false;
        for (size_t k = 0; k < na; k++) /* field by field: the struct has padding */
            if (ma[k].tick != mb[k].tick || ma[k].status != mb[k].status || ma[k].d1 != mb[k].d1 || ma[k].d2 != mb[k].d2)
                return false;
    }
    return true;
}

static int midi_instantiate(void *config, const etude_preset_env_t *env, etude_voice_id_t *out, char *err,
                            size_t errsize)
{
    midi_preset_t *c = config;
    etude_midifile_t *mf = NULL;
    int rc = load_midi(c->file, &mf, err, errsize);
    if (rc)
        return rc;
    etude_practice_t *p = etude_preset_env_practice(env);
    if (p) {
        const etude_midifile_t *pm = etude_practice_midifile(p);
        bool same = pm && same_material(pm, mf);
        etude_midifile_free(mf);
        if (!same) {
            snprintf(err, errsize, "voice '%s': %s is not the practice voice's material (name it in the practice's "
                     "'midi' field)", env->name, c->file);
            return ETUDE_EINVAL;
        }
        etude_practice_ref(p);
    } else {
        /* No practice voice: the file plays once, as written (or as the front end's override says). */
        etude_practice_config_t pc;
        etude_preset_env_practice_config(env, NULL, &pc);
        if ((rc = etude_practice_create_midi(mf, &pc, env->rate, &p, err, errsize)))
            return rc;
        if ((rc = etude_preset_env_set_practice(env, p)) || (rc = etude_practice_attach(p, env->seq))) {
            etude_practice_unref(p);
            snprintf(err, errsize, "voice '%s': cannot register its practice: %s", env->name, etude_strerror(rc));
            return rc;
        }
    }
    etude_fluid_config_t fc = c->fc;
    fc.soundfont = c->soundfont;
    etude_fluid_t *f = etude_fluid_create(&fc);
    rc = f ? etude_voice_add(env->engine, &etude_fluid_class, f, env->name, out) : ETUDE_ENOMEM;
    if (rc) {
        snprintf(err, errsize, "voice '%s': %s", env->name, f && etude_fluid_error(f)[0] ? etude_fluid_error(f) : etude_strerror(rc));
        etude_fluid_free(f);
        etude_practice_unref(p);
        return rc;
    }
    size_t first = c->part < 0 ? 0 : (size_t)c->part;
    size_t last = c->part < 0 ? etude_midifile_parts(etude_practice_midifile(p)) : first + 1;
    for (size_t i = first; i < last && !rc; i++) {
        void *src = etude_practice_midi_source(p, i);
        rc = src ? etude_sequencer_add_source(env->seq, &etude_practice_source_class, src, *out, NULL) : ETUDE_ENOMEM;
        if (rc) {
            etude_practice_source_class.destroy(src);
            snprintf(err, errsize, "voice '%s': cannot add its part: %s", env->name, etude_strerror(rc));
        }
    }
    etude_practice_unref(p);
    return rc;
}

static const char *midi_realtime_refusal(const void *config)
{
    return ((const midi_preset_t *)config)->rt_refusal;
}

static const char *const midi_fields[] = {"file", "part", "soundfont", "bank", "program", "polyphony", "effects", NULL};

const etude_preset_kind_t etude_preset_kind_midi = {
    .kind = "midi",
    .fields = midi_fields,
    .parse = midi_parse,
    .instantiate = midi_instantiate,
    .tempomap = NULL,
    .free = midi_preset_free,
    .realtime_refusal = midi_realtime_refusal,
};
