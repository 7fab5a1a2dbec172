/* etude_tempomap.h - klick's tempo-map format: the parser and the double-precision beat positions.
 *
 * A map is a list of entries, one per line:   [label:] bars [meter] tempo [pattern] [volume]
 *   meter    BEATS/DENOMINATOR, default 4/4
 *   tempo    quarter notes per minute (a 6/8 beat is an eighth, so it lasts half a quarter);
 *            T1-T2 ramps from T1 to T2 across the entry, T1,T2,... gives one tempo per beat
 *   pattern  one character per beat: X accent, x normal, . silent; default X then x...
 *   volume   linear, default 1.0
 * '#' starts a comment. The semantics are those of klick 0.12 (see docs/click.md): tempi are
 * single-precision values, a ramp's tempo changes linearly with the beat position (each beat
 * lasts 240 / (denominator * logarithmic mean of its start and end tempo) seconds), and a beat
 * sounds at floor(seconds * rate). Every position is computed from the start of the map in
 * double precision, never accumulated, so nothing drifts however long the map is.
 *
 * Threads: parsing and destroy are [control]; every const query is [any] (a map is immutable
 * once parsed, so several threads may read it at once).
 */
#ifndef ETUDE_TEMPOMAP_H
#define ETUDE_TEMPOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits, so that every position fits a double exactly enough and a uint64 frame count. */
#define ETUDE_TEMPOMAP_MAX_BARS 1000000u   /* per entry */
#define ETUDE_TEMPOMAP_MAX_BEATS 256u      /* beats per bar and meter denominator */
#define ETUDE_TEMPOMAP_MAX_TEMPO 100000.0  /* quarter notes per minute */
#define ETUDE_TEMPOMAP_MAX_HOURS 1000.0    /* whole map */
#define ETUDE_TEMPOMAP_LABEL_MAX 64        /* bytes, with the terminating NUL */

enum etude_beat_type {
    ETUDE_BEAT_SILENT = 0, /* '.' */
    ETUDE_BEAT_NORMAL = 1, /* 'x' */
    ETUDE_BEAT_ACCENT = 2  /* 'X' */
};

typedef struct etude_tempomap etude_tempomap_t;

/* One line of the map, as parsed. Pointers stay valid while the map lives. */
typedef struct etude_tempomap_entry {
    char label[ETUDE_TEMPOMAP_LABEL_MAX]; /* "" when the line has none */
    uint32_t line;            /* 1-based source line */
    uint32_t bars;            /* 0 only for the endless last entry of a command-line map */
    uint32_t beats, denom;    /* the meter */
    double tempo, tempo2;     /* tempo2 == 0: constant (or per-beat list) */
    const double *tempi;      /* per-beat tempi (bars * beats values), or NULL */
    const uint8_t *pattern;   /* beats values of enum etude_beat_type, or NULL for the default */
    float volume;
    double start_seconds;     /* from the start of the map */
    uint64_t first_beat;      /* index of the entry's first beat in the whole map */
    uint64_t first_bar;
} etude_tempomap_entry_t;

/* What a beat is. */
typedef struct etude_tempomap_beat {
    uint64_t index;         /* beat from the start of the map, 0-based */
    uint64_t bar;           /* bar from the start of the map, 0-based */
    uint32_t entry;         /* entry index */
    uint32_t beat_in_bar;   /* 0-based */
    double seconds;         /* onset time from the start of the map */
    double bpm;             /* tempo at the beat's start, quarter notes per minute */
    uint8_t type;           /* enum etude_beat_type, after the pattern */
    float volume;           /* the entry's volume */
    const char *section;    /* the entry's label, or the last label before it, or "" */
} etude_tempomap_beat_t;

/* @startlifecycle tempomap
 * [control] Parse a map from text (len bytes; NUL bytes are refused). name is the file name used in
 * messages. On failure returns ETUDE_EPARSE (or ETUDE_ENOMEM) and writes one line to err (if not
 * NULL): "NAME:LINE: bad tempo 'abc' (expected a number > 0)". Destroy with etude_tempomap_destroy(). */
int etude_tempomap_parse(const char *text, size_t len, const char *name, etude_tempomap_t **out,
                         char *err, size_t errsize);

/* [control] Read and parse a map file. ETUDE_EIO with "PATH: cannot read: <reason>" if it cannot be
 * read; otherwise as etude_tempomap_parse(). */
int etude_tempomap_load(const char *path, etude_tempomap_t **out, char *err, size_t errsize);

/* [control] Parse a one-line map as given on the command line (`--click "..."`): a map line, where
 * also, as on klick's command line, the bar count may be left out (the entry then never ends) and a
 * ramp may be written T1-T2/ACCEL (reach T2 changing ACCEL bars per bpm, then go on at T2).
 * name names the flag in messages ("--click"). */
int etude_tempomap_parse_line(const char *line, const char *name, etude_tempomap_t **out,
                              char *err, size_t errsize);

/* [control] NULL accepted. */
void etude_tempomap_destroy(etude_tempomap_t *map);
/* @endlifecycle */

/* [control] Give pattern (klick's notation: one character per beat, X accent, x normal, . silent,
 * e.g. "X..x.." to count 6/8 in two) to every entry whose meter has as many beats as the pattern
 * has characters and that has no pattern of its own (an entry's own pattern wins). Only before the
 * map is shared with other threads (a source, the audio thread). Returns how many entries took it
 * (0: no entry has that many beats without a pattern of its own), ETUDE_EINVAL for an empty pattern,
 * one longer than ETUDE_TEMPOMAP_MAX_BEATS or one with other characters, ETUDE_ENOMEM. */
int etude_tempomap_apply_pattern(etude_tempomap_t *map, const char *pattern);

/* [any] Entries, in order. */
size_t etude_tempomap_entry_count(const etude_tempomap_t *map);
const etude_tempomap_entry_t *etude_tempomap_entry(const etude_tempomap_t *map, size_t i);

/* [any] Whether the last entry never ends (command-line form without a bar count). */
bool etude_tempomap_endless(const etude_tempomap_t *map);
/* [any] Beats and bars in all; UINT64_MAX when endless. */
uint64_t etude_tempomap_beat_count(const etude_tempomap_t *map);
uint64_t etude_tempomap_bar_count(const etude_tempomap_t *map);
/* [any] Length in seconds (the end of the last beat); INFINITY when endless. */
double etude_tempomap_seconds(const etude_tempomap_t *map);

/* [any] Onset of beat index in seconds from the start; INFINITY past the end. */
double etude_tempomap_beat_seconds(const etude_tempomap_t *map, uint64_t index);
/* [any] Describe beat index. ETUDE_EINVAL past the end. */
int etude_tempomap_beat(const etude_tempomap_t *map, uint64_t index, etude_tempomap_beat_t *out);
/* [any] Index of the first beat of bar (0-based); UINT64_MAX past the end. */
uint64_t etude_tempomap_bar_first_beat(const etude_tempomap_t *map, uint64_t bar);

/* [any] The frame a time falls on at rate: floor(seconds * rate), as klick places its clicks. */
uint64_t etude_tempomap_frame(double seconds, uint32_t rate);
/* [any] Frame of beat index at rate; UINT64_MAX past the end. */
uint64_t etude_tempomap_beat_frame(const etude_tempomap_t *map, uint64_t index, uint32_t rate);
/* [any] The first beat whose frame at rate is >= frame (etude_tempomap_beat_count() if none).
 * O(log beats). */
uint64_t etude_tempomap_beat_at_frame(const etude_tempomap_t *map, uint64_t frame, uint32_t rate);
/* [any] The map's length in frames at rate (frame of its end); UINT64_MAX when endless. */
uint64_t etude_tempomap_frames(const etude_tempomap_t *map, uint32_t rate);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_TEMPOMAP_H */
