/* etude_jack.h - the JACK driver: runs an etude engine as a JACK client, with one output port per
 * voice, a stereo mix pair, transport follow / master, a MIDI input port and callback timing
 * statistics.
 *
 * Order of use (all [control]): etude_jack_open() (connects, learns rate and period; never starts a
 * server), etude_engine_create() with that rate, etude_jack_attach(), etude_jack_add_voice_port()
 * per voice, etude_jack_activate(), then the control loop polls etude_jack_poll_*() and
 * etude_jack_transport(); etude_jack_close() last, before etude_engine_destroy().
 *
 * The process callback (the [audio] thread) calls etude_engine_process() and, besides, only reads
 * port buffers, queries the transport and writes preallocated rings and counters: no malloc, free,
 * locks, I/O or printf. Every callback JACK runs on its notification thread (xrun, shutdown, sample
 * rate) only stores into atomics.
 *
 * Errors: 0 or a negative ETUDE_E* code (etude_engine.h); functions taking err/errlen also write a
 * one-line reason there.
 */
#ifndef ETUDE_JACK_H
#define ETUDE_JACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_engine.h"
#include "etude_sequencer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_jack etude_jack_t;

enum etude_jack_transport_mode {
    ETUDE_JACK_TRANSPORT_OFF = 0,    /* free-running: the JACK transport is ignored */
    ETUDE_JACK_TRANSPORT_FOLLOW = 1, /* start, stop and locate with the JACK transport */
    ETUDE_JACK_TRANSPORT_MASTER = 2  /* follow, and publish BBT and BPM as timebase master */
};

typedef struct etude_jack_config {
    const char *client_name; /* NULL: "etude"; JACK may append a suffix if the name is taken */
    const char *server_name; /* NULL: $JACK_DEFAULT_SERVER, else the default server */
    int transport;           /* enum etude_jack_transport_mode */
    bool midi_input;         /* register the MIDI input port "midi_in" */
    uint32_t midi_ring;      /* note-ons buffered between audio and control; 0 picks 4096 */
} etude_jack_config_t;

/* @startlifecycle jack
 * [control] Open a JACK client (JackNoStartServer). ETUDE_EIO when no server answers (err says so),
 * ETUDE_ENOMEM. Close with etude_jack_close(). */
int etude_jack_open(const etude_jack_config_t *cfg, etude_jack_t **out, char *err, size_t errlen);

/* [control] Deactivate, unregister every port and close the client (also after the server went
 * away). The engine attached is not destroyed. NULL accepted. */
void etude_jack_close(etude_jack_t *jack);
/* @endlifecycle */

/* [any] The client's actual name (valid until close), the server's rate and the current period. */
const char *etude_jack_client_name(const etude_jack_t *jack);
uint32_t etude_jack_sample_rate(const etude_jack_t *jack);
uint32_t etude_jack_buffer_size(const etude_jack_t *jack);

/* [control] Attach the engine the process callback renders (before activate; its sample rate must
 * equal the server's: ETUDE_EINVAL otherwise) and register the ports mix_L, mix_R (and midi_in).
 * voice_capacity: the engine's etude_engine_config_t.voice_capacity (voice slots are below it). */
int etude_jack_attach(etude_jack_t *jack, etude_engine_t *engine, uint32_t voice_capacity, char *err,
                      size_t errlen);

/* [control] Register an output port carrying voice's own signal, named name (JACK's port-name
 * rules; at most 63 bytes used). Allowed before or after activate. ETUDE_ESTALE for a dead voice,
 * ETUDE_EIO when JACK refuses the port. */
int etude_jack_add_voice_port(etude_jack_t *jack, etude_voice_id_t voice, const char *name,
                              char *err, size_t errlen);

/* [control] Unregister the port of a voice. Waits until the audio thread no longer uses it (at most
 * two periods; immediately when not active). ETUDE_EINVAL if the voice has no port. */
int etude_jack_remove_voice_port(etude_jack_t *jack, etude_voice_id_t voice);

/* [control] Start processing (and, in master mode, take the timebase). */
int etude_jack_activate(etude_jack_t *jack, char *err, size_t errlen);

/* [control] Connect mix_L and mix_R to the given ports: with one port both go there; with two or
 * more, mix_L to ports[0] and mix_R to ports[1], and further ports alternate L, R. ETUDE_EINVAL
 * (err names the port) when a port does not exist or the connection is refused. */
int etude_jack_connect_mix(etude_jack_t *jack, const char *const *ports, size_t nports, char *err,
                           size_t errlen);

/* ---------------------------------------------------------------------------------------------
 * Status the control loop polls.
 */

typedef struct etude_jack_status {
    bool shutdown;            /* the server went away or shut the client down */
    char shutdown_reason[128];
    uint32_t sample_rate;     /* as the server reports it now */
    bool rate_changed;        /* the server's rate differs from the engine's */
    uint32_t buffer_size;     /* current period in frames */
    uint64_t buffer_changes;  /* buffer-size callbacks after activation */
    uint64_t xruns;           /* xrun callbacks so far */
    float last_xrun_delay_us; /* jack_get_xrun_delayed_usecs() at the last xrun */
    uint64_t periods;         /* process callbacks so far */
    uint64_t midi_dropped;    /* note-ons that did not fit the ring */
} etude_jack_status_t;

/* [control] Snapshot of the driver's state. */
void etude_jack_status(etude_jack_t *jack, etude_jack_status_t *out);

typedef struct etude_jack_timing {
    uint64_t periods;    /* callbacks measured since the last reset */
    double mean_us;      /* time spent in the process callback */
    double p99_us;       /* 99th percentile, 1 us resolution (below 32 ms) */
    double max_us;
    double period_us;    /* the current period's length */
    double mean_share;   /* mean_us / period_us, and so on */
    double p99_share;
    double max_share;
} etude_jack_timing_t;

/* [control] Process-callback timing statistics. */
void etude_jack_timing(etude_jack_t *jack, etude_jack_timing_t *out);
/* [control] Restart the statistics (the audio thread sees it at its next period). */
void etude_jack_timing_reset(etude_jack_t *jack);

/* ---------------------------------------------------------------------------------------------
 * MIDI input. The audio thread stamps every note-on of midi_in with the engine frame and, when
 * the JACK transport rolls, the transport frame it arrived at.
 */

typedef struct etude_jack_note {
    uint64_t engine_frame;    /* etude_engine_now() at the period start + the event's offset */
    uint64_t transport_frame; /* transport frame of the event; valid when rolling is true */
    bool rolling;             /* the JACK transport was rolling in that period */
    uint8_t channel, key, velocity;
} etude_jack_note_t;

/* [control] Move up to max pending note-ons into out, oldest first; returns how many. */
size_t etude_jack_read_notes(etude_jack_t *jack, etude_jack_note_t *out, size_t max);

/* ---------------------------------------------------------------------------------------------
 * Transport.
 */

typedef struct etude_jack_transport {
    bool rolling;             /* JackTransportRolling */
    bool starting;            /* JackTransportStarting: a start or relocation waits for sync */
    uint64_t frame;           /* transport frame at the start of the period sampled */
    uint64_t engine_frame;    /* etude_engine_now() at the start of that period */
    uint64_t epoch;           /* bumps at every start, stop and discontinuity (relocation) */
    bool bbt_valid;           /* another client (or etude as master) publishes BBT */
    bool bbt_ours;            /* ... and it is etude */
    int32_t bar, beat, tick;  /* JACK's 1-based bar and beat, 0-based tick */
    float beats_per_bar, beat_type;
    double ticks_per_beat, bpm;
} etude_jack_transport_t;

/* [control] The transport as the audio thread last saw it. Not valid (false) before the first
 * period. */
bool etude_jack_transport(etude_jack_t *jack, etude_jack_transport_t *out);

/* [control] Tell the driver the control side has re-anchored the sequencer for transport epoch
 * epoch. In follow and master mode the audio thread outputs silence from the period where the
 * transport stopped or jumped until this acknowledgement, so no stale event is heard. */
void etude_jack_transport_ack(etude_jack_t *jack, uint64_t epoch);

/* [control] Ask the JACK transport to start, stop or locate to a frame (any client may). */
int etude_jack_transport_start(etude_jack_t *jack);
int etude_jack_transport_stop(etude_jack_t *jack);
int etude_jack_transport_locate(etude_jack_t *jack, uint64_t frame);

enum etude_jack_follow_kind {
    ETUDE_JACK_FOLLOW_NONE = 0,
    ETUDE_JACK_FOLLOW_START = 1,  /* the transport started rolling */
    ETUDE_JACK_FOLLOW_STOP = 2,   /* it stopped */
    ETUDE_JACK_FOLLOW_LOCATE = 3  /* it jumped (rolling or stopped) */
};

typedef struct etude_jack_follow_event {
    int kind;     /* enum etude_jack_follow_kind */
    uint64_t pos; /* material (= transport) frame the sequencer now starts from */
    uint64_t at;  /* engine frame pos plays at (rolling only) */
} etude_jack_follow_event_t;

/* [control] Follow mode's control half (call every few ms). While the transport waits in Starting,
 * it arms seq: located to the requested frame and started at a period boundary ahead, which the
 * driver's slow-sync callback then lets the transport roll at, so material frame m plays exactly
 * where the transport frame is m from the first frame on. When the audio thread saw a start, stop
 * or jump that was not armed (another slow client, a sync timeout, an xrun), it stops / locates /
 * restarts seq two periods plus 1 ms ahead (what comes before is skipped, silently) and
 * acknowledges the epoch. Returns 1 with *ev filled when a start, stop or relocation is to be
 * reported, 0 when not, or a negative ETUDE_E* from the sequencer. */
int etude_jack_follow(etude_jack_t *jack, etude_sequencer_t *seq, etude_jack_follow_event_t *ev);

/* [control] Make the next etude_jack_follow() handle the current transport state again (after
 * switching to another sequencer). */
void etude_jack_follow_reset(etude_jack_t *jack);

/* One beat of the material for the timebase master: its transport (material) frame, 1-based bar
 * and beat, the bar's meter and the tempo at the beat. Frames strictly increase. */
typedef struct etude_jack_beat {
    uint64_t frame;
    int32_t bar, beat;
    float beats_per_bar, beat_type;
    double bpm;
} etude_jack_beat_t;

/* [control] Replace the beat grid the timebase callback publishes from (copied). Past the last beat
 * the last tempo and meter continue. The old grid is freed once the audio thread stopped using it.
 * n == 0 clears it (the callback then publishes nothing valid). */
int etude_jack_set_beats(etude_jack_t *jack, const etude_jack_beat_t *beats, size_t n);

/* [any] Position for a transport frame from a beat grid (what the timebase callback computes):
 * fills bar, beat, tick (ticks_per_beat 1920), bar_start_tick, bpm. Returns false if n == 0. */
bool etude_jack_bbt_at(const etude_jack_beat_t *beats, size_t n, uint64_t frame, uint32_t rate,
                       int32_t *bar, int32_t *beat, int32_t *tick, double *bar_start_tick,
                       double *bpm);

/* The beat grid the timebase callback reads, handed from the control thread to the JACK thread
 * without a lock: one writer ([control]) swaps in a new grid and frees the old one once the reader
 * no longer uses it; one reader ([audio]) uses the current grid for the length of one call. The
 * driver keeps one; it is public so that the hand-over can be stress-tested without a JACK server. */
typedef struct etude_jack_grid etude_jack_grid_t;

/* What etude_jack_grid_bbt() fills: JACK's BBT fields for one transport frame. */
typedef struct etude_jack_bbt {
    int32_t bar, beat, tick;        /* 1-based bar and beat, tick of 1920 per beat */
    double bar_start_tick, bpm;
    float beats_per_bar, beat_type;
} etude_jack_bbt_t;

/* @startlifecycle grid
 * [control] An empty grid; NULL when out of memory. Free with etude_jack_grid_destroy() once no
 * reader can be inside etude_jack_grid_bbt() (the driver: after jack_client_close()). */
etude_jack_grid_t *etude_jack_grid_create(void);
void etude_jack_grid_destroy(etude_jack_grid_t *grid);
/* @endlifecycle */

/* [control] Replace the grid (beats copied; frames strictly increasing, else ETUDE_EINVAL; n == 0
 * empties it; ETUDE_ENOMEM). Frees the old grid before returning, waiting (sleeping 0.1 ms at a
 * time) while a reader still uses it, which is at most one etude_jack_grid_bbt() call. */
int etude_jack_grid_set(etude_jack_grid_t *grid, const etude_jack_beat_t *beats, size_t n);

/* [audio] The position at a transport frame from the current grid (see etude_jack_bbt_at()); also
 * the meter of the beat it falls in. False when the grid is empty, or when it is being replaced
 * at this very moment (the caller then publishes nothing for this period). Bounded: a binary
 * search. No allocation, lock or system call. One reader at a time. */
bool etude_jack_grid_bbt(etude_jack_grid_t *grid, uint64_t frame, uint32_t rate, etude_jack_bbt_t *out);

/* [any] Nonzero while the calling thread runs one of the driver's JACK-thread callbacks (process,
 * slow-sync, timebase), all of it: the audio-thread safety test's interposer judges every call
 * made there, libjack's included, not only those inside etude_engine_process(). */
int etude_jack_in_audio(void);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_JACK_H */
