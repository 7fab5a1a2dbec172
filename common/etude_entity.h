/* etude_entity.h - the checks every synced entity passes, on the client (local writes, import,
 * pull) and on etude-syncd (upload) alike, and the rule that says when two entities are one.
 *
 * An entity is valid when:
 *   - id is a lowercase UUID (etude_uuid.h);
 *   - entityType is practiceSession, practiceLog, goal or logbookEntry;
 *   - createdAt, updatedAt and deletedAt (if any) are strict timestamps (etude_time.h), with
 *     updatedAt >= createdAt and deletedAt >= createdAt;
 *   - none of them is more than ETUDE_ENTITY_MAX_AHEAD_MS ahead of now_ms (the checker's own
 *     clock; now_ms 0 skips this, which the client does for what the server sends);
 *   - data is a JSON object (a tombstone may carry none); every string in it, keys included, is
 *     well-formed UTF-8; every number is finite; nesting is at most ETUDE_ENTITY_MAX_DEPTH levels
 *     and the canonical text (etude_canon.h) at most ETUDE_ENTITY_MAX_DATA_BYTES bytes;
 *   - the fields etude itself writes have their documented type and range (below); other fields
 *     are free within the limits above, so newer versions can add fields.
 *
 * Known data fields (a field that is absent is fine; JSON null only where "or null"):
 *   practiceSession: startedAt, endedAt: timestamps (not compared: a wall clock stepped back
 *     during a session must not lose it); command, material, materialPath, endReason, note:
 *     strings; materialHash: 64 lowercase hex digits; preset:
 *     string or null; interrupted: boolean; rate: number in [0, 10000000]; activeSeconds, bars, segments, loops, xruns: numbers in
 *     [0, 2^53]; tempoMinBpm, tempoMaxBpm: numbers in [0, 100000]; notes: number >= 0 or null;
 *     tempoTime, voices: arrays; timing: object or null.
 *   practiceLog: sessionId: UUID; index: integer in [0, 2^53]; startedAt: timestamp;
 *     startBar, endBar, bars: integers (a loop may run backwards); bpm: number in [0, 100000];
 *     startSeconds, seconds: numbers in [0, 2^53]; section: string.
 *   goal: kind, period, preset, material, materialPath: strings; materialHash: 64 lowercase hex
 *     digits; target: number > 0. (materialPath and materialHash identify material by what it is:
 *     the resolved path and the BLAKE2b-256 hash of its content, app/etude_logbook.h; entities
 *     written before them lack both.)
 *   logbookEntry: text: string; sessionId: UUID.
 *
 * Duplicates (etude_entity_same_thing): identity is always the UUID; two different ids denote the
 * same real-world thing only for practiceSession: the same practice recorded twice (by two
 * devices listening to one performance, or a recorder retried after a crash). They are duplicates
 * when material and preset are equal (both strings, or preset null on both), their startedAt lie
 * within ETUDE_ENTITY_DUP_START_MS of each other and their durations (endedAt - startedAt) within
 * ETUDE_ENTITY_DUP_DURATION_MS. practiceLog, goal and logbookEntry are NEVER duplicates: two notes
 * with the same text, two equal goals or two equal log segments written separately are distinct
 * things, whatever their contents.
 *
 * Threads: [any]; no shared state. Errors are the ETUDE_E* codes of etude_error.h.
 */
#ifndef ETUDE_ENTITY_H
#define ETUDE_ENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Timestamps further ahead of the checker's clock than this are refused (10 minutes). */
#define ETUDE_ENTITY_MAX_AHEAD_MS INT64_C(600000)
/* Nesting of arrays and objects in data, the data object itself being level 1. */
#define ETUDE_ENTITY_MAX_DEPTH 16
/* Size of data's canonical text. */
#define ETUDE_ENTITY_MAX_DATA_BYTES 65536
/* Tolerances of the practiceSession duplicate rule. */
#define ETUDE_ENTITY_DUP_START_MS INT64_C(2000)
#define ETUDE_ENTITY_DUP_DURATION_MS INT64_C(1000)

/* The parts of an entity the checks read. Strings are NUL-terminated; NULL means absent.
 * Nothing is copied or freed: the caller owns all of it. */
typedef struct etude_entity_view {
    const char *id;
    const char *type;       /* entityType */
    const char *created_at; /* createdAt */
    const char *updated_at; /* updatedAt */
    const char *deleted_at; /* deletedAt: NULL for a live entity */
    const cJSON *data;      /* a JSON object; NULL or JSON null only for a tombstone */
} etude_entity_view_t;

/* Why an entity was refused: the field at fault ("updatedAt", "data.target", "data") and a
 * one-line reason ("before createdAt"). Shown to users as "FIELD: REASON". */
typedef struct etude_entity_fault {
    char field[64];
    char reason[160];
} etude_entity_fault_t;

/* [any] Nonzero if type is one of practiceSession, practiceLog, goal, logbookEntry. */
int etude_entity_type_known(const char *type);

/* [any] Check e as described above against the clock reading now_ms (unix ms; 0: no "ahead"
 * check). 0 when valid; ETUDE_EINVAL when refused, with *fault filled in (fault may be NULL);
 * ETUDE_ENOMEM when out of memory. */
int etude_entity_check(const etude_entity_view_t *e, int64_t now_ms, etude_entity_fault_t *fault);

/* [any] Check only the data object of an entity of type (the "data" rules above). Same returns. */
int etude_entity_check_data(const char *type, const cJSON *data, etude_entity_fault_t *fault);

/* [any] Nonzero if data_a and data_b (the data of two entities of type with different ids)
 * denote the same real-world thing by the duplicate rule above. Always 0 for types other than
 * practiceSession, and for data lacking what the rule compares. */
int etude_entity_same_thing(const char *type, const cJSON *data_a, const cJSON *data_b);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_ENTITY_H */
