/* etude_midifile.h - Standard MIDI File (type 0 and 1) parser, and the MIDI part source that feeds
 * a file's notes to the sequencer.
 *
 * Parsing is strict about structure (chunk lengths, variable-length quantities, running status,
 * data bytes) and every error reports the byte offset at fault, so a truncated or damaged file is
 * refused with a message such as "byte 812: track 2 declares 400 bytes but only 37 remain".
 *
 * Parts: a type 1 file gives one part per track that carries channel messages, named from the
 * track's name (or "track N"); a type 0 file gives one part per MIDI channel used ("channel N").
 * Each part becomes one voice when the file is played.
 *
 * Threads: every function is [control]; a parsed file is immutable and may be read from several
 * control threads at once.
 */
#ifndef ETUDE_MIDIFILE_H
#define ETUDE_MIDIFILE_H

#include <stddef.h>
#include <stdint.h>

#include "etude_sequencer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_midifile etude_midifile_t;

/* Where and why parsing failed. offset is the byte offset in the file of the fault. */
typedef struct etude_midifile_error {
    size_t offset;
    char message[160];
} etude_midifile_error_t;

/* One channel message of a part, in file order. */
typedef struct etude_midi_msg {
    uint64_t tick;  /* absolute tick from the start of the file */
    uint8_t status; /* 0x80..0xEF; a note-on with velocity 0 is stored as note-off (0x80) */
    uint8_t d1, d2;
} etude_midi_msg_t;

/* @startlifecycle midifile
 * [control] Parse len bytes of data. Returns 0 and *out, ETUDE_EPARSE (err filled in: offset and
 * a one-line message), ETUDE_EUNSUPPORTED (type 2 files; err filled in) or ETUDE_ENOMEM.
 * err may be NULL. The data is not kept. Free with etude_midifile_free(). */
int etude_midifile_parse(const uint8_t *data, size_t len, etude_midifile_t **out,
                         etude_midifile_error_t *err);

/* [control] Read and parse a file. ETUDE_EIO when it cannot be read (err says why). */
int etude_midifile_load(const char *path, etude_midifile_t **out, etude_midifile_error_t *err);

/* [control] NULL accepted. */
void etude_midifile_free(etude_midifile_t *mf);
/* @endlifecycle */

/* [control] Header fields: format (0 or 1), the number of track chunks, and the division
 * (ticks per quarter note; for SMPTE files, ticks per second rounded, and smpte set to 1). */
int etude_midifile_format(const etude_midifile_t *mf);
size_t etude_midifile_tracks(const etude_midifile_t *mf);
uint32_t etude_midifile_division(const etude_midifile_t *mf, int *smpte);

/* [control] Tick at which the last track ends (its end-of-track event or last event). */
uint64_t etude_midifile_length_ticks(const etude_midifile_t *mf);

/* [control] Seconds from the start of the file at tick, through the file's tempo map (tempo
 * events from every track; 120 BPM until the first). Monotonic in tick. */
double etude_midifile_seconds(const etude_midifile_t *mf, uint64_t tick);

/* [control] Tempo (microseconds per quarter note) in force at tick. */
uint32_t etude_midifile_tempo_at(const etude_midifile_t *mf, uint64_t tick);

/* [control] Time signature in force at tick (4/4 until the first time-signature event), and the
 * tick at which it took effect. */
void etude_midifile_meter_at(const etude_midifile_t *mf, uint64_t tick, uint32_t *num,
                             uint32_t *den, uint64_t *since);

/* [control] The file's title: the name (meta event 0x03) of its first track, which is the
 * sequence name in a type 0 or 1 file, as UTF-8 without control characters (bytes that are not
 * UTF-8 are read as Latin-1), at most 127 bytes; "" when the first track has none. Valid until the
 * file is freed. */
const char *etude_midifile_title(const etude_midifile_t *mf);

/* [control] Parts (see the top of the file). Pointers stay valid until the file is freed. */
size_t etude_midifile_parts(const etude_midifile_t *mf);
const char *etude_midifile_part_name(const etude_midifile_t *mf, size_t part);
const etude_midi_msg_t *etude_midifile_part_msgs(const etude_midifile_t *mf, size_t part,
                                                 size_t *count);
/* [control] Number of note-on messages in a part. */
size_t etude_midifile_part_notes(const etude_midifile_t *mf, size_t part);

/* ---------------------------------------------------------------------------------------------
 * The MIDI part source: emits a part's messages to the sequencer as ETUDE_EV_NOTE_ON / NOTE_OFF
 * (u.note) and ETUDE_EV_PARAM (u.param.id = ETUDE_MIDI_PARAM_ID(status, d1), value = d2, for
 * control change, program change, pitch bend (value = 14-bit), channel pressure).
 * Positions come from a tick map, so tempo scaling, count-ins and loops are decided elsewhere
 * (etude_practice.h) without copying the material.
 */

/* Maps a tick to a material position (frames); must be monotonic non-decreasing in tick.
 * Returns a negative value for ticks that must not play (before the start of what is played). */
typedef struct etude_tickmap {
    int64_t (*pos)(void *ctx, uint64_t tick);
    void *ctx;
} etude_tickmap_t;

#define ETUDE_MIDI_PARAM_ID(status, d1) (((uint32_t)(status) << 8) | (uint32_t)(d1))

/* [control] The source class; self is created by etude_midifile_source_create(). */
extern const etude_source_class_t etude_midifile_source_class;

/* [control] A source for one part. The file and the tick map's ctx must outlive the source (the
 * sequencer destroys the source through the class's destroy()). Returns NULL when out of memory
 * or for a bad part index. */
void *etude_midifile_source_create(const etude_midifile_t *mf, size_t part, etude_tickmap_t map);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_MIDIFILE_H */
