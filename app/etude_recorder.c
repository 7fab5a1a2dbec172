/* etude_recorder.c - the session recorder: bus messages -> practice sessions -> plugins, with a
 * crash-safe journal under $ETUDE_HOME/journal. */
#include "etude_recorder.h"
#include "etude_canon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "etude_error.h"
#include "etude_logbook.h"
#include "etude_plugins.h"
#include "etude_store.h"

#define CHECKPOINT_SECONDS 10.0

typedef struct segment {
    char id[37];
    uint64_t start_frame;
    int start_bar, end_bar;
    double bpm;
    char section[64];
    int64_t start_us;
} segment_t;

struct etude_recorder {
    pthread_mutex_t mu;
    etude_bus_t *bus;
    etude_plugins_t *plugins;
    etude_app_log_t log;
    int disabled;
    char command[16];
    char journal_dir[PATH_MAX];
    char (*pending)[37]; /* journals to remove once the plugins have flushed */
    size_t npending, cappending;
    int64_t pace_us, idle_us;
    etude_material_id_t ident_buf;
    int64_t xrun_total;
    char last_id[37];
    /* publications collected under the lock, published after it */
    struct { char name[16]; char json[96]; } pub[4];
    int npub;

    /* the session in progress */
    int active;
    char id[37];
    int64_t started_us, last_msg_us, last_ckpt_us;
    char *preset, *material;
    etude_material_id_t *ident; /* the material file's identity, NULL for a click line */
    double rate, first_bpm;
    double reached_lo, reached_hi; /* the tempo range the player reached (stop message), 0: unknown */
    cJSON *voices;
    int have_frame;
    uint64_t first_frame, last_frame, ckpt_frame, total_frames;
    int64_t last_bar_us; /* wall time of the last bar message, to estimate the live position */
    int have_total;
    int bars;
    segment_t *segs;
    size_t nsegs, capsegs;
    int64_t loops, xrun_base;
    cJSON *timing;
};

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *etude_recorder_id(etude_recorder_t *s)
{
    return s && s->active ? s->id : s ? s->last_id : "";
}

static void queue_pub(etude_recorder_t *s, const char *name, const char *id)
{
    if (s->npub >= 4)
        return;
    snprintf(s->pub[s->npub].name, sizeof s->pub[0].name, "%s", name);
    snprintf(s->pub[s->npub].json, sizeof s->pub[0].json, "{\"id\":\"%s\"}", id);
    s->npub++;
}

/* Call with the lock released. */
static void flush_pubs(etude_recorder_t *s, int n, const char names[][16], const char jsons[][96])
{
    for (int i = 0; i < n; i++)
        if (s->bus)
            etude_bus_publish(s->bus, "session", names[i], jsons[i]);
}

/* ---- the record --------------------------------------------------------------------------- */

static uint64_t played_frames(const etude_recorder_t *s)
{
    if (s->have_total)
        return s->total_frames;
    return s->have_frame ? s->last_frame - s->first_frame : 0;
}

static double seg_end_seconds(const etude_recorder_t *s, size_t i)
{
    uint64_t end = i + 1 < s->nsegs ? s->segs[i + 1].start_frame : s->first_frame + played_frames(s);
    if (end < s->segs[i].start_frame)
        end = s->segs[i].start_frame;
    return s->rate > 0 ? (double)(end - s->segs[i].start_frame) / s->rate : 0;
}

static double round3(double x)
{
    return round(x * 1000.0) / 1000.0;
}

/* The record handed to plugins: {"id", "data", "logs"}. Caller frees with free(). */
static char *build_record(etude_recorder_t *s, int interrupted, const char *reason, int64_t end_us)
{
    char iso[32];
    cJSON *r = cJSON_CreateObject(), *d = cJSON_CreateObject(), *logs = cJSON_CreateArray();
    cJSON_AddStringToObject(r, "id", s->id);
    cJSON_AddItemToObject(r, "data", d);
    cJSON_AddItemToObject(r, "logs", logs);
    etude_time_iso(s->started_us, iso);
    cJSON_AddStringToObject(d, "startedAt", iso);
    etude_time_iso(end_us, iso);
    cJSON_AddStringToObject(d, "endedAt", iso);
    cJSON_AddStringToObject(d, "command", s->command);
    if (s->preset)
        cJSON_AddStringToObject(d, "preset", s->preset);
    else
        cJSON_AddNullToObject(d, "preset");
    cJSON_AddStringToObject(d, "material", s->material ? s->material : "");
    if (s->ident) {
        cJSON_AddStringToObject(d, "materialPath", s->ident->path);
        cJSON_AddStringToObject(d, "materialHash", s->ident->hash);
    }
    cJSON_AddNumberToObject(d, "rate", s->rate);
    cJSON_AddNumberToObject(d, "activeSeconds", round3(s->rate > 0 ? (double)played_frames(s) / s->rate : 0));
    double lo = s->first_bpm, hi = s->first_bpm;
    cJSON *tt = cJSON_CreateArray();
    double *bpms = calloc(s->nsegs + 1, sizeof *bpms), *secs = calloc(s->nsegs + 1, sizeof *secs);
    size_t nb = 0;
    for (size_t i = 0; i < s->nsegs && bpms && secs; i++) {
        const segment_t *g = &s->segs[i];
        double sec = seg_end_seconds(s, i);
        if (i == 0 || g->bpm < lo)
            lo = g->bpm;
        if (i == 0 || g->bpm > hi)
            hi = g->bpm;
        size_t k = 0;
        while (k < nb && bpms[k] != g->bpm)
            k++;
        if (k == nb)
            bpms[nb++] = g->bpm;
        secs[k] += sec;
        cJSON *l = cJSON_CreateObject(), *ld = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "id", g->id);
        cJSON_AddItemToObject(l, "data", ld);
        cJSON_AddStringToObject(ld, "sessionId", s->id);
        cJSON_AddNumberToObject(ld, "index", (double)i);
        etude_time_iso(g->start_us, iso);
        cJSON_AddStringToObject(ld, "startedAt", iso);
        cJSON_AddNumberToObject(ld, "startBar", g->start_bar);
        int end_bar = i + 1 < s->nsegs ? s->segs[i + 1].start_bar : g->end_bar + 1;
        cJSON_AddNumberToObject(ld, "endBar", end_bar);
        cJSON_AddNumberToObject(ld, "bars", end_bar - g->start_bar);
        cJSON_AddNumberToObject(ld, "bpm", g->bpm);
        cJSON_AddStringToObject(ld, "section", g->section);
        cJSON_AddNumberToObject(ld, "startSeconds",
                                round3(s->rate > 0 ? (double)(g->start_frame - s->first_frame) / s->rate : 0));
        cJSON_AddNumberToObject(ld, "seconds", round3(sec));
        cJSON_AddItemToArray(logs, l);
    }
    /* time at each tempo, slowest first */
    for (size_t i = 0; i < nb; i++)
        for (size_t j = i + 1; j < nb; j++)
            if (bpms[j] < bpms[i]) {
                double t = bpms[i];
                bpms[i] = bpms[j];
                bpms[j] = t;
                t = secs[i];
                secs[i] = secs[j];
                secs[j] = t;
            }
    for (size_t i = 0; i < nb; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "bpm", bpms[i]);
        cJSON_AddNumberToObject(e, "seconds", round3(secs[i]));
        cJSON_AddItemToArray(tt, e);
    }
    free(bpms);
    free(secs);
    if (s->reached_hi > 0) { /* inside ramps the tempo goes beyond the bars' first beats */
        lo = s->nsegs == 0 || s->reached_lo < lo ? s->reached_lo : lo;
        hi = s->nsegs == 0 || s->reached_hi > hi ? s->reached_hi : hi;
    }
    cJSON_AddNumberToObject(d, "tempoMinBpm", lo);
    cJSON_AddNumberToObject(d, "tempoMaxBpm", hi);
    cJSON_AddItemToObject(d, "tempoTime", tt);
    cJSON_AddItemToObject(d, "voices", s->voices ? cJSON_Duplicate(s->voices, 1) : cJSON_CreateArray());
    cJSON_AddNumberToObject(d, "bars", s->bars);
    cJSON_AddNumberToObject(d, "segments", (double)s->nsegs);
    cJSON_AddNumberToObject(d, "loops", (double)s->loops);
    cJSON_AddNumberToObject(d, "xruns", (double)(s->xrun_total - s->xrun_base));
    if (s->timing) {
        cJSON_AddItemToObject(d, "timing", cJSON_Duplicate(s->timing, 1));
        const cJSON *notes = cJSON_GetObjectItemCaseSensitive(s->timing, "notes");
        if (cJSON_IsNumber(notes))
            cJSON_AddNumberToObject(d, "notes", notes->valuedouble);
    } else {
        cJSON_AddNullToObject(d, "timing");
        cJSON_AddNullToObject(d, "notes");
    }
    cJSON_AddBoolToObject(d, "interrupted", interrupted);
    cJSON_AddStringToObject(d, "endReason", reason);
    char *text = etude_canon_print(r);
    cJSON_Delete(r);
    return text;
}

/* ---- journal ------------------------------------------------------------------------------ */

static int journal_write(etude_recorder_t *s, const char *id, const char *state, const char *record)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/%s.json", s->journal_dir, id);
    snprintf(tmp, sizeof tmp, "%s/.%s.json.%d.tmp", s->journal_dir, id, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        etude_app_logf(&s->log, "%s: cannot write the session journal: %s", tmp, strerror(errno));
        return -1;
    }
    char head[96];
    int hn = snprintf(head, sizeof head, "{\"pid\":%d,\"state\":\"%s\",\"record\":", (int)getpid(), state);
    size_t rn = strlen(record);
    int ok = write(fd, head, (size_t)hn) == hn && write(fd, record, rn) == (ssize_t)rn && write(fd, "}\n", 2) == 2 &&
             fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path)) {
        etude_app_logf(&s->log, "%s: cannot write the session journal: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int dfd = open(s->journal_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static void add_pending(etude_recorder_t *s, const char *id)
{
    if (s->npending == s->cappending) {
        size_t cap = s->cappending ? s->cappending * 2 : 8;
        void *p = realloc(s->pending, cap * sizeof *s->pending);
        if (!p)
            return; /* the journal stays; the next start delivers it again, idempotently */
        s->pending = p;
        s->cappending = cap;
    }
    memcpy(s->pending[s->npending++], id, 37);
}

static void remove_pending(etude_recorder_t *s)
{
    for (size_t i = 0; i < s->npending; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.json", s->journal_dir, s->pending[i]);
        unlink(path);
    }
    s->npending = 0;
}

static void checkpoint(etude_recorder_t *s, int64_t now_us)
{
    char *rec = build_record(s, 1, "interrupted", now_us);
    if (rec) {
        journal_write(s, s->id, "playing", rec);
        free(rec);
    }
    s->last_ckpt_us = now_us;
    s->ckpt_frame = s->have_frame ? s->last_frame : 0;
    queue_pub(s, "checkpoint", s->id);
}

static void reset_session(etude_recorder_t *s)
{
    free(s->preset);
    free(s->material);
    s->ident = NULL;
    cJSON_Delete(s->voices);
    cJSON_Delete(s->timing);
    free(s->segs);
    s->preset = s->material = NULL;
    s->voices = s->timing = NULL;
    s->segs = NULL;
    s->nsegs = s->capsegs = 0;
    s->have_frame = s->have_total = 0;
    s->first_frame = s->last_frame = s->ckpt_frame = s->total_frames = 0;
    s->bars = 0;
    s->loops = 0;
    s->reached_lo = s->reached_hi = 0;
    s->active = 0;
}

static void end_session(etude_recorder_t *s, const char *reason, int64_t now_us)
{
    if (!s->active)
        return;
    char *rec = build_record(s, 0, reason, now_us);
    if (rec) {
        int journaled = !journal_write(s, s->id, "ended", rec);
        /* A refused record keeps its journal: the next start delivers it again. */
        if (etude_plugins_count(s->plugins) && !etude_plugins_record(s->plugins, rec) && journaled)
            add_pending(s, s->id);
        free(rec);
    }
    queue_pub(s, "ended", s->id);
    memcpy(s->last_id, s->id, sizeof s->id);
    reset_session(s);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* What the session played, by what it is (etude_logbook.h): the preset, MIDI file or tempo map the
 * player loaded, resolved and hashed, so that goals count it however it was named. A click line
 * names no file and gets no identity. Read at every start: the file may have been edited and
 * loaded again since the last session. */
static void identify(etude_recorder_t *s, const char *file)
{
    char err[256];
    s->ident = NULL;
    if (file && *file && etude_material_identify(file, &s->ident_buf, err, sizeof err) == 0)
        s->ident = &s->ident_buf;
}

static void start_session(etude_recorder_t *s, const cJSON *p, int64_t now_us)
{
    if (s->active)
        end_session(s, "restarted", now_us);
    reset_session(s);
    s->active = 1;
    etude_uuid_new(s->id);
    s->started_us = s->last_msg_us = now_us;
    const char *cmd = jstr(p, "command");
    snprintf(s->command, sizeof s->command, "%s", cmd ? cmd : s->command);
    const char *preset = jstr(p, "preset"), *material = jstr(p, "material");
    s->preset = preset ? strdup(preset) : NULL;
    s->material = strdup(material ? material : "");
    identify(s, preset ? preset : material);
    s->rate = jnum(p, "rate", 48000);
    s->first_bpm = jnum(p, "tempo_bpm", 0);
    const cJSON *voices = cJSON_GetObjectItemCaseSensitive(p, "voices");
    s->voices = cJSON_CreateArray();
    const cJSON *v;
    cJSON_ArrayForEach(v, voices)
    {
        cJSON *o = cJSON_CreateObject();
        const char *name = jstr(v, "name"), *kind = jstr(v, "kind");
        cJSON_AddStringToObject(o, "name", name ? name : "");
        cJSON_AddStringToObject(o, "kind", kind ? kind : "");
        cJSON_AddBoolToObject(o, "mute", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "mute")));
        cJSON_AddItemToArray(s->voices, o);
    }
    s->xrun_base = s->xrun_total;
    queue_pub(s, "started", s->id);
    checkpoint(s, now_us);
}

static void on_bar(etude_recorder_t *s, const cJSON *p, int64_t now_us)
{
    uint64_t frame = (uint64_t)jnum(p, "frame", 0);
    int bar = (int)jnum(p, "bar", 0);
    double bpm = jnum(p, "bpm", s->first_bpm);
    const char *section = jstr(p, "section");
    if (!section)
        section = "";
    if (!s->have_frame) {
        s->have_frame = 1;
        s->first_frame = s->ckpt_frame = frame;
    }
    if (frame > s->last_frame)
        s->last_frame = frame;
    s->last_bar_us = now_us;
    s->bars++;
    segment_t *cur = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (!cur || cur->bpm != bpm || strcmp(cur->section, section)) {
        if (s->nsegs == s->capsegs) {
            size_t cap = s->capsegs ? s->capsegs * 2 : 16;
            segment_t *g = realloc(s->segs, cap * sizeof *g);
            if (!g)
                return;
            s->segs = g;
            s->capsegs = cap;
        }
        cur = &s->segs[s->nsegs++];
        memset(cur, 0, sizeof *cur);
        etude_uuid_new(cur->id);
        cur->start_frame = frame;
        cur->start_bar = bar;
        cur->bpm = bpm;
        snprintf(cur->section, sizeof cur->section, "%s", section);
        cur->start_us = now_us;
    }
    cur->end_bar = bar;
    if (s->rate > 0 && (double)(s->last_frame - s->ckpt_frame) >= CHECKPOINT_SECONDS * s->rate)
        checkpoint(s, now_us);
}

static void on_message(void *user, const etude_bus_msg_t *msg)
{
    etude_recorder_t *s = user;
    if (!strcmp(msg->topic, "session") && strcmp(msg->name, "timing"))
        return; /* our own started/checkpoint/ended */
    cJSON *p = cJSON_Parse(msg->json ? msg->json : "{}");
    int64_t now = msg->time_us ? msg->time_us : wall_us();
    int pace = 0;
    pthread_mutex_lock(&s->mu);
    if (!strcmp(msg->topic, "transport")) {
        if (s->active)
            s->last_msg_us = now;
        if (!strcmp(msg->name, "start")) {
            start_session(s, p, now);
        } else if (!strcmp(msg->name, "bar") && s->active) {
            on_bar(s, p, now);
            pace = 1;
        } else if (!strcmp(msg->name, "loop") && s->active) {
            s->loops = (int64_t)jnum(p, "count", (double)s->loops + 1);
        } else if (!strcmp(msg->name, "stop") && s->active) {
            const cJSON *frames = cJSON_GetObjectItemCaseSensitive(p, "frames");
            if (cJSON_IsNumber(frames) && frames->valuedouble > 0) {
                s->have_total = 1;
                s->total_frames = (uint64_t)frames->valuedouble;
                if (!s->have_frame) {
                    s->have_frame = 1;
                    s->first_frame = 0;
                }
            }
            s->reached_lo = jnum(p, "bpm_min", 0);
            s->reached_hi = jnum(p, "bpm_max", 0);
            const char *reason = jstr(p, "reason");
            end_session(s, reason ? reason : "stopped", now);
        }
    } else if (!strcmp(msg->topic, "voice") && s->active) {
        const char *name = jstr(p, "voice");
        cJSON *v = NULL, *it;
        cJSON_ArrayForEach(it, s->voices)
        if (name && jstr(it, "name") && !strcmp(jstr(it, "name"), name))
            v = it;
        if (!strcmp(msg->name, "mute") && v) {
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(p, "value");
            int mute = cJSON_IsTrue(val) || (cJSON_IsNumber(val) && val->valuedouble != 0);
            cJSON_ReplaceItemInObjectCaseSensitive(v, "mute", cJSON_CreateBool(mute));
        } else if (!strcmp(msg->name, "added") && !v && name) {
            cJSON *o = cJSON_CreateObject();
            const char *kind = jstr(p, "kind");
            cJSON_AddStringToObject(o, "name", name);
            cJSON_AddStringToObject(o, "kind", kind ? kind : "");
            cJSON_AddBoolToObject(o, "mute", 0);
            cJSON_AddItemToArray(s->voices, o);
        }
    } else if (!strcmp(msg->topic, "xrun")) {
        double count = jnum(p, "count", (double)s->xrun_total + 1);
        if (count > (double)s->xrun_total)
            s->xrun_total = (int64_t)count;
    } else if (!strcmp(msg->topic, "session") && !strcmp(msg->name, "timing") && s->active) {
        cJSON_Delete(s->timing);
        s->timing = cJSON_Duplicate(p, 1);
    }
    int n = s->npub;
    char names[4][16], jsons[4][96];
    for (int i = 0; i < n; i++) {
        memcpy(names[i], s->pub[i].name, 16);
        memcpy(jsons[i], s->pub[i].json, 96);
    }
    s->npub = 0;
    pthread_mutex_unlock(&s->mu);
    cJSON_Delete(p);
    flush_pubs(s, n, (const char(*)[16])names, (const char(*)[96])jsons);
    if (pace && s->pace_us > 0)
        usleep((useconds_t)s->pace_us);
}

/* ---- recovery ------------------------------------------------------------------------------ */

static void recover(etude_recorder_t *s)
{
    DIR *d = opendir(s->journal_dir);
    if (!d)
        return;
    struct dirent *de;
    int delivered = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", s->journal_dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *text = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&text, &cap, 0, f);
        fclose(f);
        cJSON *j = n > 0 ? cJSON_Parse(text) : NULL;
        free(text);
        cJSON *rec = cJSON_GetObjectItemCaseSensitive(j, "record");
        cJSON *data = cJSON_GetObjectItemCaseSensitive(rec, "data");
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
        const char *state = jstr(j, "state"), *id = jstr(rec, "id");
        if (!cJSON_IsNumber(pid) || !state || !cJSON_IsObject(data) || !id || !etude_uuid_valid(id)) {
            char bad[PATH_MAX + 310];
            snprintf(bad, sizeof bad, "%s.bad", path);
            etude_app_logf(&s->log, "%s: unreadable session journal, moved to %s", path, bad);
            rename(path, bad);
            cJSON_Delete(j);
            continue;
        }
        pid_t owner = (pid_t)pid->valuedouble;
        if (owner != getpid() && (kill(owner, 0) == 0 || errno == EPERM)) {
            cJSON_Delete(j); /* another etude is still playing this session */
            continue;
        }
        if (strcmp(state, "ended")) {
            cJSON_ReplaceItemInObjectCaseSensitive(data, "interrupted", cJSON_CreateBool(1));
            cJSON_ReplaceItemInObjectCaseSensitive(data, "endReason", cJSON_CreateString("interrupted"));
        }
        char *out = cJSON_PrintUnformatted(rec);
        if (out && etude_plugins_count(s->plugins) && !etude_plugins_record(s->plugins, out)) {
            add_pending(s, id);
            delivered++;
        }
        free(out);
        cJSON_Delete(j);
    }
    closedir(d);
    if (delivered) {
        int rc = etude_plugins_flush(s->plugins, etude_plugins_now_us() + 5000000);
        if (rc)
            etude_app_logf(&s->log, "recovered sessions not yet stored (%d); they will be retried at the next start",
                           rc);
        else
            remove_pending(s);
        s->npending = 0;
    }
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int etude_recorder_open(etude_bus_t *bus, const char *command, const etude_recorder_opts_t *opts,
                        etude_recorder_t **out, char *err, size_t errlen)
{
    *out = NULL;
    etude_recorder_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return ETUDE_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->bus = bus;
    if (opts)
        s->log = opts->log;
    snprintf(s->command, sizeof s->command, "%s", command ? command : "");
    if (opts && opts->disabled) {
        s->disabled = 1;
        *out = s;
        return ETUDE_OK;
    }
    const char *pace = getenv("ETUDE_SESSION_TEST_PACE_US");
    s->pace_us = pace ? strtoll(pace, NULL, 10) : 0;
    const char *idle = getenv("ETUDE_SESSION_IDLE_SECONDS");
    s->idle_us = (idle && atof(idle) > 0 ? atof(idle) : 300.0) * 1e6;

    int rc = ETUDE_EINVAL;
    if (etude_plugins_load(opts ? opts->plugin_path : NULL, bus, &s->log, &s->plugins, err, errlen))
        goto fail;
    snprintf(s->journal_dir, sizeof s->journal_dir, "%.*s/journal", PATH_MAX - 16, etude_plugins_home(s->plugins));
    if (mkdir(s->journal_dir, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the session journal directory: %s", s->journal_dir, strerror(errno));
        rc = ETUDE_EIO;
        goto fail;
    }
    if (!etude_plugins_count(s->plugins))
        etude_app_logf(&s->log, "warning: no session plugin loaded; sessions stay in %s until one is", s->journal_dir);
    recover(s);
    if (bus) {
        const char *topics[] = {"transport", "voice", "xrun", "session"};
        for (size_t i = 0; i < 4; i++)
            if (!etude_bus_subscribe(bus, topics[i], on_message, s, s)) {
                etude_bus_unsubscribe_owner(bus, s);
                snprintf(err, errlen, "out of memory");
                rc = ETUDE_ENOMEM;
                goto fail;
            }
    }
    *out = s;
    return ETUDE_OK;
fail:
    etude_plugins_unload(s->plugins);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}

void etude_recorder_discard(etude_recorder_t *s)
{
    if (!s || s->disabled)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->active) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.json", s->journal_dir, s->id);
        unlink(path);
        reset_session(s);
    }
    pthread_mutex_unlock(&s->mu);
}

void etude_recorder_tick(etude_recorder_t *s)
{
    if (!s || s->disabled)
        return;
    int64_t now = wall_us();
    pthread_mutex_lock(&s->mu);
    if (s->active && now - s->last_msg_us >= s->idle_us)
        end_session(s, "idle", now);
    else if (s->active && now - s->last_ckpt_us >= (int64_t)(CHECKPOINT_SECONDS * 1e6)) {
        /* Live, the audio has moved on since the last bar: count that time too. */
        if (s->have_frame && s->rate > 0 && now > s->last_bar_us)
            s->last_frame += (uint64_t)((double)(now - s->last_bar_us) * s->rate / 1e6);
        s->last_bar_us = now;
        checkpoint(s, now);
    }
    if (s->npending && !etude_plugins_flush(s->plugins, 0))
        remove_pending(s);
    int n = s->npub;
    char names[4][16], jsons[4][96];
    for (int i = 0; i < n; i++) {
        memcpy(names[i], s->pub[i].name, 16);
        memcpy(jsons[i], s->pub[i].json, 96);
    }
    s->npub = 0;
    pthread_mutex_unlock(&s->mu);
    flush_pubs(s, n, (const char(*)[16])names, (const char(*)[96])jsons);
}

void etude_recorder_close(etude_recorder_t *s)
{
    if (!s)
        return;
    if (!s->disabled) {
        if (s->bus)
            etude_bus_unsubscribe_owner(s->bus, s);
        pthread_mutex_lock(&s->mu);
        end_session(s, "exit", wall_us());
        s->npub = 0;
        if (s->npending) {
            int rc = etude_plugins_flush(s->plugins, etude_plugins_now_us() + 5000000);
            if (rc)
                etude_app_logf(&s->log, "the session plugins did not finish storing (%d); the session journal is "
                                        "kept and delivered again at the next start",
                               rc);
            else
                remove_pending(s);
        }
        pthread_mutex_unlock(&s->mu);
        etude_plugins_unload(s->plugins);
    }
    reset_session(s);
    free(s->pending);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
