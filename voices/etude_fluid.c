/* etude_fluid.c - the FluidSynth voice. */
#include "etude_fluid.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fluidsynth.h>

#include "etude_midifile.h"

struct etude_fluid {
    etude_fluid_config_t cfg;
    char soundfont[512];
    char error[1024];
    fluid_settings_t *settings;
    fluid_synth_t *synth;
    float *buf[2];
    uint32_t max_period;
    atomic_int active;
};

static const char *const default_paths[] = {
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
};

void etude_fluid_config_default(etude_fluid_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->program = -1;
    cfg->effects = false;
}

const char *etude_fluid_default_soundfont(void)
{
    for (size_t i = 0; i < sizeof default_paths / sizeof *default_paths; i++)
        if (access(default_paths[i], R_OK) == 0)
            return default_paths[i];
    return NULL;
}

int etude_fluid_check_soundfont(const char *path, char *err, size_t errlen)
{
    char dummy[1];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open SoundFont: %s", strerror(errno));
        return ETUDE_EIO;
    }
    unsigned char h[12];
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < sizeof h || memcmp(h, "RIFF", 4) || memcmp(h + 8, "sfbk", 4)) {
        snprintf(err, errlen, "not a SoundFont 2 file (no RIFF 'sfbk' header)");
        return ETUDE_EPARSE;
    }
    return 0;
}

/* FluidSynth reports through a global log hook; etude reports its own one-line errors instead, so
 * FluidSynth's warnings and messages are kept quiet. */
static void quiet_log(int level, const char *message, void *data)
{
    (void)level;
    (void)message;
    (void)data;
}

etude_fluid_t *etude_fluid_create(const etude_fluid_config_t *cfg)
{
    etude_fluid_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (cfg)
        f->cfg = *cfg;
    else
        etude_fluid_config_default(&f->cfg);
    const char *sf = f->cfg.soundfont && f->cfg.soundfont[0] ? f->cfg.soundfont : NULL;
    snprintf(f->soundfont, sizeof f->soundfont, "%s", sf ? sf : "");
    f->cfg.soundfont = f->soundfont;
    return f;
}

static void release_synth(etude_fluid_t *f)
{
    if (f->synth)
        delete_fluid_synth(f->synth);
    if (f->settings)
        delete_fluid_settings(f->settings);
    f->synth = NULL;
    f->settings = NULL;
    free(f->buf[0]);
    free(f->buf[1]);
    f->buf[0] = f->buf[1] = NULL;
}

void etude_fluid_free(etude_fluid_t *f)
{
    if (!f)
        return;
    release_synth(f);
    free(f);
}

const char *etude_fluid_error(const etude_fluid_t *f) { return f->error; }

int etude_fluid_active_voices(const etude_fluid_t *f)
{
    return atomic_load_explicit(&((etude_fluid_t *)f)->active, memory_order_relaxed);
}

static int fluid_prepare(void *self, uint32_t sample_rate, uint32_t max_period)
{
    etude_fluid_t *f = self;
    f->error[0] = 0;
    if (!f->soundfont[0]) {
        const char *d = etude_fluid_default_soundfont();
        if (!d) {
            snprintf(f->error, sizeof f->error,
                     "no SoundFont given and none installed (install timgm6mb-soundfont or fluid-soundfont-gm)");
            return ETUDE_EIO;
        }
        snprintf(f->soundfont, sizeof f->soundfont, "%s", d);
    }
    char why[160];
    int rc = etude_fluid_check_soundfont(f->soundfont, why, sizeof why);
    if (rc) {
        snprintf(f->error, sizeof f->error, "%s: %s", f->soundfont, why);
        return rc;
    }
    if (f->cfg.bank < 0 || f->cfg.bank > 16383 || f->cfg.program < -1 || f->cfg.program > 127 ||
        f->cfg.polyphony < 0 || f->cfg.polyphony > 65535) {
        snprintf(f->error, sizeof f->error, "bank, program or polyphony out of range");
        return ETUDE_EINVAL;
    }
    fluid_set_log_function(FLUID_WARN, quiet_log, NULL);
    fluid_set_log_function(FLUID_INFO, quiet_log, NULL);
    fluid_set_log_function(FLUID_DBG, quiet_log, NULL);
    fluid_set_log_function(FLUID_ERR, quiet_log, NULL);
    rc = ETUDE_ENOMEM;
    f->settings = new_fluid_settings();
    if (!f->settings)
        goto fail;
    /* Nothing on the audio path may lock, allocate or read the disk. */
    fluid_settings_setint(f->settings, "synth.threadsafe-api", 0);
    fluid_settings_setint(f->settings, "synth.dynamic-sample-loading", 0);
    fluid_settings_setnum(f->settings, "synth.sample-rate", (double)sample_rate);
    fluid_settings_setint(f->settings, "synth.cpu-cores", 1);
    if (f->cfg.polyphony)
        fluid_settings_setint(f->settings, "synth.polyphony", f->cfg.polyphony);
    fluid_settings_setint(f->settings, "synth.reverb.active", f->cfg.effects ? 1 : 0);
    fluid_settings_setint(f->settings, "synth.chorus.active", f->cfg.effects ? 1 : 0);
    f->synth = new_fluid_synth(f->settings);
    if (!f->synth)
        goto fail;
    int sfid = fluid_synth_sfload(f->synth, f->soundfont, 1);
    if (sfid == FLUID_FAILED) {
        snprintf(f->error, sizeof f->error, "%s: FluidSynth could not load this SoundFont", f->soundfont);
        rc = ETUDE_EPARSE;
        goto fail;
    }
    if (f->cfg.program >= 0) {
        for (int ch = 0; ch < 16; ch++) {
            if (ch == 9 && f->cfg.bank != 128)
                continue; /* the GM percussion channel keeps its drum kit */
            if (fluid_synth_program_select(f->synth, ch, sfid, (unsigned)f->cfg.bank, (unsigned)f->cfg.program) != FLUID_OK) {
                snprintf(f->error, sizeof f->error, "%s has no preset at bank %d program %d", f->soundfont,
                         f->cfg.bank, f->cfg.program);
                rc = ETUDE_EINVAL;
                goto fail;
            }
        }
    }
    f->max_period = max_period;
    f->buf[0] = calloc(max_period, sizeof(float));
    f->buf[1] = calloc(max_period, sizeof(float));
    if (!f->buf[0] || !f->buf[1])
        goto fail;
    return 0;
fail:
    if (rc == ETUDE_ENOMEM && !f->error[0])
        snprintf(f->error, sizeof f->error, "out of memory creating the FluidSynth synth");
    release_synth(f);
    return rc;
}

static void silence(etude_fluid_t *f)
{
    for (int ch = 0; ch < 16; ch++) {
        fluid_synth_cc(f->synth, ch, 64, 0); /* sustain */
        fluid_synth_cc(f->synth, ch, 66, 0); /* sostenuto */
    }
    fluid_synth_all_notes_off(f->synth, -1);
}

static void fluid_event(void *self, const etude_event_t *ev)
{
    etude_fluid_t *f = self;
    switch (ev->kind) {
    case ETUDE_EV_NOTE_ON:
        if (ev->u.note.velocity)
            fluid_synth_noteon(f->synth, ev->u.note.channel & 15, ev->u.note.key & 127, ev->u.note.velocity & 127);
        else
            fluid_synth_noteoff(f->synth, ev->u.note.channel & 15, ev->u.note.key & 127);
        break;
    case ETUDE_EV_NOTE_OFF:
        fluid_synth_noteoff(f->synth, ev->u.note.channel & 15, ev->u.note.key & 127);
        break;
    case ETUDE_EV_ALL_NOTES_OFF:
        silence(f);
        break;
    case ETUDE_EV_PARAM: {
        uint32_t id = ev->u.param.id;
        int status = (int)(id >> 8) & 0xff, d1 = (int)(id & 0x7f), ch = status & 15;
        int v = (int)ev->u.param.value;
        switch (status & 0xf0) {
        case 0xb0:
            fluid_synth_cc(f->synth, ch, d1, v & 127);
            break;
        case 0xc0:
            if (f->cfg.program < 0)
                fluid_synth_program_change(f->synth, ch, v & 127);
            break;
        case 0xd0:
            fluid_synth_channel_pressure(f->synth, ch, v & 127);
            break;
        case 0xe0:
            fluid_synth_pitch_bend(f->synth, ch, v & 16383);
            break;
        default:
            break;
        }
        break;
    }
    default:
        break;
    }
}

static void fluid_render(void *self, float *const out[2], uint32_t nframes)
{
    etude_fluid_t *f = self;
    for (uint32_t done = 0; done < nframes;) {
        uint32_t n = nframes - done < f->max_period ? nframes - done : f->max_period;
        fluid_synth_write_float(f->synth, (int)n, f->buf[0], 0, 1, f->buf[1], 0, 1);
        float *l = out[0] + done, *r = out[1] + done;
        for (uint32_t i = 0; i < n; i++) {
            l[i] += f->buf[0][i];
            r[i] += f->buf[1][i];
        }
        done += n;
    }
    atomic_store_explicit(&f->active, fluid_synth_get_active_voice_count(f->synth), memory_order_relaxed);
}

static void fluid_release(void *self) { silence(self); }

static void fluid_dispose(void *self) { etude_fluid_free(self); }

const etude_voice_class_t etude_fluid_class = {
    .kind = "fluid",
    .prepare = fluid_prepare,
    .event = fluid_event,
    .render = fluid_render,
    .release = fluid_release,
    .dispose = fluid_dispose,
    .mono = false,
};

/* ---------------------------------------------------------------------------------------------
 * The "midi" preset kind: one FluidSynth voice playing one part (or every part) of a MIDI file
 * through the sequencer's practice.
 */

#include <cjson/cJSON.h>

#include "etude_practice.h"
#include "etude_preset.h"

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
    int rc = etude_practice_json_file(ctx, obj, "file", "file", &c->file);
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
        rc = etude_practice_json_file(ctx, obj, "soundfont", "soundfont", &c->soundfont);
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
    if (!rc && !(rc = etude_practice_json_number(ctx, obj, "bank", "bank", 0, 16383, true, &v)))
        c->fc.bank = (int)v;
    v = -1;
    if (!rc && !(rc = etude_practice_json_number(ctx, obj, "program", "program", 0, 127, true, &v)))
        c->fc.program = (int)v;
    v = 0;
    if (!rc && !(rc = etude_practice_json_number(ctx, obj, "polyphony", "polyphony", 1, 65535, true, &v)))
        c->fc.polyphony = (int)v;
    if (!rc)
        rc = etude_practice_json_bool(ctx, obj, "effects", "effects", &c->fc.effects);
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
    etude_practice_t *p = etude_practice_of_env(env);
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
        etude_practice_config_for_env(env, NULL, &pc);
        if ((rc = etude_practice_create_midi(mf, &pc, env->rate, &p, err, errsize)))
            return rc;
        if ((rc = etude_practice_set_env(env, p)) || (rc = etude_practice_attach(p, env->seq))) {
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
        snprintf(err, errsize, "voice '%s': %s", env->name, f && f->error[0] ? f->error : etude_strerror(rc));
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
