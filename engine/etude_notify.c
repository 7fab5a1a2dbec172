/* etude_notify.c - the engine's notifications: the records the audio thread posts for NOTIFY
 * events, and the JSON that tick() and the voice functions publish on the event bus (topics
 * "voice", "position", "error"; see docs/bus-topics.md). */
#include <stdio.h>

#include "etude_engine_internal.h"

static void json_str(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3)
        return;
    dst[n++] = '"';
    for (; s && *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n++] = '"';
    dst[n] = 0;
}

void nt_voice(etude_engine_t *e, const char *what, const char *name, const char *kind,
              const char *value_json)
{
    etude_bus_t *bus = atomic_load(&e->bus);
    if (!bus)
        return;
    char n[160], k[160], json[400];
    json_str(n, sizeof n, name);
    json_str(k, sizeof k, kind ? kind : "");
    snprintf(json, sizeof json, "{\"voice\":%s,\"kind\":%s,\"value\":%s}", n, k,
             value_json ? value_json : "null");
    etude_bus_publish(bus, "voice", what, json);
}

/* Kept out of line (and cold) so that the common path of delivery needs no stack frame for it. */
__attribute__((noinline, cold)) void nt_post(etude_engine_t *e, const etude_event_t *ev, uint64_t at,
                                             bool late)
{
    struct note nt = {.type = NOTE_EVENT, .kind = ev->kind, .flags = ev->flags, .tag = ev->tag,
                      .late = late, .frame = ev->frame, .fired_at = at, .voice = ev->voice,
                      .i64 = {ev->u.i64[0], ev->u.i64[1]}};
    if (!etude_ring_push(&e->notes, &nt))
        bump_u64(&e->st_notes_lost, 1);
}

void nt_publish(etude_engine_t *e)
{
    etude_bus_t *bus = atomic_load(&e->bus);
    struct note nt;
    while (etude_ring_pop(&e->notes, &nt)) {
        if (!bus)
            continue;
        char json[320];
        snprintf(json, sizeof json,
                 "{\"kind\":%u,\"tag\":%u,\"frame\":%llu,\"fired_at\":%llu,\"late\":%s,"
                 "\"voice\":%llu,\"i64\":[%lld,%lld]}",
                 (unsigned)nt.kind, (unsigned)nt.tag, (unsigned long long)nt.frame,
                 (unsigned long long)nt.fired_at, nt.late ? "true" : "false",
                 (unsigned long long)nt.voice, (long long)nt.i64[0], (long long)nt.i64[1]);
        etude_bus_publish(bus, "position", "event", json);
    }
    uint64_t late = atomic_load(&e->st_late), lost = atomic_load(&e->st_notes_lost);
    if (bus && late != e->late_reported) {
        char json[160];
        snprintf(json, sizeof json, "{\"message\":\"%llu event(s) fired late\",\"new\":%llu,\"total\":%llu}",
                 (unsigned long long)(late - e->late_reported),
                 (unsigned long long)(late - e->late_reported), (unsigned long long)late);
        etude_bus_publish(bus, "error", "events-late", json);
    }
    if (bus && lost != e->notes_lost_reported) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"message\":\"%llu notification(s) lost: tick() not called often enough\",\"total\":%llu}",
                 (unsigned long long)(lost - e->notes_lost_reported), (unsigned long long)lost);
        etude_bus_publish(bus, "error", "notifications-lost", json);
    }
    e->late_reported = late;
    e->notes_lost_reported = lost;
}
