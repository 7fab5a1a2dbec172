/* etude_sample.c - the sample voice: sound files through libsndfile, resampled with libsamplerate. */
#include "etude_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <samplerate.h>
#include <sndfile.h>

typedef struct playhead {
    int on;
    uint64_t pos;    /* frame in the sample */
    float gain;
    uint32_t fade;   /* frames left of a fade-out, 0 = none */
    uint64_t order;  /* start order, to cut the oldest */
} playhead_t;

struct etude_sample {
    char path[1024];
    bool loop;
    int key;
    int channels; /* 1 or 2 after probe */
    uint32_t file_rate;
    float *data;  /* interleaved, channels per frame, at the engine's rate */
    uint64_t frames;
    uint32_t fade_len;
    uint64_t starts;
    playhead_t ph[ETUDE_SAMPLE_POLYPHONY];
    char error[1200];
};

etude_sample_t *etude_sample_create(const etude_sample_config_t *cfg)
{
    etude_sample_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->path, sizeof s->path, "%s", cfg && cfg->path ? cfg->path : "");
    s->loop = cfg ? cfg->loop : false;
    s->key = cfg ? cfg->key : -1;
    return s;
}

void etude_sample_free(etude_sample_t *s)
{
    if (!s)
        return;
    free(s->data);
    free(s);
}

const char *etude_sample_error(const etude_sample_t *s) { return s->error; }
uint64_t etude_sample_frames(const etude_sample_t *s) { return s->frames; }
int etude_sample_channels(const etude_sample_t *s) { return s->channels; }
uint32_t etude_sample_file_rate(const etude_sample_t *s) { return s->file_rate; }

int etude_sample_check_file(const char *path, char *err, size_t errlen)
{
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        if (err)
            snprintf(err, errlen, "cannot read sample: %s", sf_strerror(NULL));
        return ETUDE_EIO;
    }
    sf_close(sf);
    if (info.frames <= 0) {
        if (err)
            snprintf(err, errlen, "sample has no audio frames");
        return ETUDE_EIO;
    }
    return 0;
}

int etude_sample_probe(etude_sample_t *s)
{
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(s->path, SFM_READ, &info);
    if (!sf) {
        snprintf(s->error, sizeof s->error, "%s: cannot read sample: %s", s->path, sf_strerror(NULL));
        return ETUDE_EIO;
    }
    sf_close(sf);
    s->channels = info.channels >= 2 ? 2 : 1;
    s->file_rate = (uint32_t)info.samplerate;
    return 0;
}

const etude_voice_class_t *etude_sample_class(const etude_sample_t *s)
{
    return s->channels == 2 ? &etude_sample_class_stereo : &etude_sample_class_mono;
}

static int sample_prepare(void *self, uint32_t sample_rate, uint32_t max_period)
{
    (void)max_period;
    etude_sample_t *s = self;
    s->error[0] = 0;
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(s->path, SFM_READ, &info);
    if (!sf) {
        snprintf(s->error, sizeof s->error, "%s: cannot read sample: %s", s->path, sf_strerror(NULL));
        return ETUDE_EIO;
    }
    if (info.frames <= 0 || info.channels <= 0 || info.samplerate <= 0 || info.frames > (sf_count_t)1 << 28) {
        sf_close(sf);
        snprintf(s->error, sizeof s->error, "%s: sample has no usable audio (frames %lld)", s->path,
                 (long long)info.frames);
        return ETUDE_EIO;
    }
    int keep = info.channels >= 2 ? 2 : 1;
    if (s->channels && s->channels != keep) {
        sf_close(sf);
        snprintf(s->error, sizeof s->error, "%s: the file changed since it was probed", s->path);
        return ETUDE_EIO;
    }
    s->channels = keep;
    s->file_rate = (uint32_t)info.samplerate;
    float *raw = malloc((size_t)info.frames * (size_t)info.channels * sizeof *raw);
    float *in = malloc((size_t)info.frames * (size_t)keep * sizeof *in);
    if (!raw || !in) {
        free(raw);
        free(in);
        sf_close(sf);
        snprintf(s->error, sizeof s->error, "%s: out of memory reading the sample", s->path);
        return ETUDE_ENOMEM;
    }
    sf_count_t got = sf_readf_float(sf, raw, info.frames);
    sf_close(sf);
    if (got <= 0) {
        free(raw);
        free(in);
        snprintf(s->error, sizeof s->error, "%s: cannot read the sample's audio", s->path);
        return ETUDE_EIO;
    }
    for (sf_count_t i = 0; i < got; i++)
        for (int c = 0; c < keep; c++)
            in[i * keep + c] = raw[i * info.channels + c];
    free(raw);
    if ((uint32_t)info.samplerate == sample_rate) {
        s->data = in;
        s->frames = (uint64_t)got;
    } else {
        double ratio = (double)sample_rate / info.samplerate;
        long outcap = (long)((double)got * ratio) + 16;
        float *outbuf = malloc((size_t)outcap * (size_t)keep * sizeof *outbuf);
        if (!outbuf) {
            free(in);
            snprintf(s->error, sizeof s->error, "%s: out of memory resampling the sample", s->path);
            return ETUDE_ENOMEM;
        }
        SRC_DATA d = {.data_in = in, .data_out = outbuf, .input_frames = (long)got,
                      .output_frames = outcap, .src_ratio = ratio, .end_of_input = 1};
        int e = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, keep);
        free(in);
        if (e) {
            free(outbuf);
            snprintf(s->error, sizeof s->error, "%s: resampling from %d Hz failed: %s", s->path,
                     info.samplerate, src_strerror(e));
            return ETUDE_EIO;
        }
        s->data = outbuf;
        s->frames = (uint64_t)d.output_frames_gen;
    }
    s->fade_len = sample_rate / 200; /* 5 ms */
    if (s->fade_len == 0)
        s->fade_len = 1;
    return 0;
}

static void start(etude_sample_t *s, float gain)
{
    playhead_t *slot = NULL;
    for (int i = 0; i < ETUDE_SAMPLE_POLYPHONY && !slot; i++)
        if (!s->ph[i].on)
            slot = &s->ph[i];
    if (!slot) { /* cut the oldest */
        slot = &s->ph[0];
        for (int i = 1; i < ETUDE_SAMPLE_POLYPHONY; i++)
            if (s->ph[i].order < slot->order)
                slot = &s->ph[i];
    }
    *slot = (playhead_t){.on = 1, .pos = 0, .gain = gain, .fade = 0, .order = ++s->starts};
}

static void stop_all(etude_sample_t *s)
{
    for (int i = 0; i < ETUDE_SAMPLE_POLYPHONY; i++)
        if (s->ph[i].on && !s->ph[i].fade)
            s->ph[i].fade = s->fade_len;
}

static void sample_event(void *self, const etude_event_t *ev)
{
    etude_sample_t *s = self;
    switch (ev->kind) {
    case ETUDE_EV_NOTE_ON:
        if (s->key >= 0 && ev->u.note.key != s->key)
            break;
        if (ev->u.note.velocity == 0) {
            if (s->loop)
                stop_all(s);
            break;
        }
        start(s, ev->u.note.velocity / 127.0f);
        break;
    case ETUDE_EV_TRIGGER:
        start(s, ev->u.trigger.value > 0 ? ev->u.trigger.value : 1.0f);
        break;
    case ETUDE_EV_NOTE_OFF:
        if (s->loop && (s->key < 0 || ev->u.note.key == s->key))
            stop_all(s);
        break;
    case ETUDE_EV_ALL_NOTES_OFF:
        stop_all(s);
        break;
    default:
        break;
    }
}

static void sample_render(void *self, float *const out[2], uint32_t nframes)
{
    etude_sample_t *s = self;
    int ch = s->channels;
    for (int k = 0; k < ETUDE_SAMPLE_POLYPHONY; k++) {
        playhead_t *p = &s->ph[k];
        if (!p->on)
            continue;
        for (uint32_t i = 0; i < nframes; i++) {
            if (p->pos >= s->frames) {
                if (!s->loop) {
                    p->on = 0;
                    break;
                }
                p->pos = 0;
            }
            float g = p->gain;
            if (p->fade) {
                g *= (float)p->fade / (float)s->fade_len;
                if (--p->fade == 0) {
                    p->on = 0;
                    break;
                }
            }
            const float *fr = s->data + p->pos * (uint64_t)ch;
            out[0][i] += g * fr[0];
            if (ch == 2)
                out[1][i] += g * fr[1];
            p->pos++;
        }
    }
}

static void sample_release(void *self) { stop_all(self); }
static void sample_dispose(void *self) { etude_sample_free(self); }

const etude_voice_class_t etude_sample_class_mono = {
    .kind = "sample",
    .prepare = sample_prepare,
    .event = sample_event,
    .render = sample_render,
    .release = sample_release,
    .dispose = sample_dispose,
    .mono = true,
};

const etude_voice_class_t etude_sample_class_stereo = {
    .kind = "sample",
    .prepare = sample_prepare,
    .event = sample_event,
    .render = sample_render,
    .release = sample_release,
    .dispose = sample_dispose,
    .mono = false,
};
