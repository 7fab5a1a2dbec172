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
