/* etude_player.h - the player: loads practice material (a preset, a klick tempo map, a click line)
 * into an engine, starts, stops and locates it, changes its tempo and its voices' mute, solo and
 * gain, follows or leads the JACK transport, measures the timing of the notes played on JACK MIDI,
 * and publishes the bus messages of docs/bus-topics.md (transport start/stop/locate/bar/loop,
 * voice, session timing, xrun) that the session recorder turns into practice sessions.
 *
 * One player drives either a JACK client (etude play) or the offline driver (etude render, tests):
 *     live:    etude_player_create(&{engine, jack, bus, transport}) ... load ... start;
 *              loop { wait = etude_player_tick(p); poll OSC or sleep wait ms } until done
 *     offline: etude_player_create(&{engine, NULL, bus}) ... load ... start;
 *              etude_offline_run(engine, etude_player_sequencer(p), cfg) with
 *              etude_player_report(p) after every period; etude_player_finish(p, reason)
 *
 * Threads: every function is [control]: call them all from one thread, the one that ticks the
 * engine. The audio thread (JACK callback or offline driver) only renders the engine's voices.
 *
 * Ownership: the engine, the JACK client and the bus are borrowed; they must outlive the player.
 * The player owns its sequencers, the loaded preset and the timing analysis, and frees them in
 * etude_player_destroy(). The voices it adds stay in the engine after destroy; the engine's owner
 * disposes them (etude_engine_dispose_all() or etude_engine_destroy()).
 *
 * Errors: 0 or a negative ETUDE_E* code (common/etude_error.h); the functions taking err write a
 * one-line reason there, naming the file, OSC address or voice at fault.
 */
#ifndef ETUDE_PLAYER_H
#define ETUDE_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etude_bus.h"
#include "etude_engine.h"
#include "etude_jack.h"
#include "etude_preset.h"
#include "etude_sequencer.h"
#include "etude_timing.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etude_player etude_player_t;

typedef struct etude_player_config {
    etude_engine_t *engine; /* required */
    etude_jack_t *jack;     /* NULL: no JACK (offline driver, tests); transport must be OFF */
    etude_bus_t *bus;       /* may be NULL: nothing published */
    int transport;          /* ETUDE_JACK_TRANSPORT_OFF, _FOLLOW or _MASTER */
    const char *command;    /* the start message's "command": "play" (default) or "render" */
} etude_player_config_t;

/* What to load: exactly one of the three. */
typedef struct etude_player_material {
    const char *preset_path; /* a file: a preset (JSON), a MIDI file or a klick tempo map (by content,
                                etude_material.h); or a preset's name (etude_presets.h) */
    const char *map_path;    /* a klick tempo map file */
    const char *click_line;  /* a click line "BARS METER TEMPO[-TEMPO2] [PATTERN]" */
    const char *soundfont;   /* MIDI files: the SoundFont (NULL: the default one) */
} etude_player_material_t;

/* @startlifecycle player
 * Returns 0 and *out, ETUDE_EINVAL (no engine; FOLLOW/MASTER without jack) or ETUDE_ENOMEM. */
int etude_player_create(const etude_player_config_t *cfg, etude_player_t **out);
/* Destroys the sequencers (cancelling their events), the preset and the timing analysis. NULL
 * accepted. Publishes nothing: call etude_player_finish() first to end a session. */
void etude_player_destroy(etude_player_t *p);
/* @endlifecycle */

/* Load material, replacing what is loaded (a playing session is stopped first, its voices and
 * ports removed). Does not start. Errors name the file or flag at fault (etude_preset_load()). */
int etude_player_load(etude_player_t *p, const etude_player_material_t *m, char *err, size_t errlen);
/* [any] The preset for m without a player (a tempo map or click line becomes a one-click-voice
 * preset): *out is freed with etude_preset_destroy() or handed to etude_player_load_preset(). */
int etude_player_material_preset(const etude_player_material_t *m, etude_preset_t **out, char *err, size_t errlen);
/* The same with a preset already loaded: the player takes it (also on failure). preset_path is the
 * file it came from or NULL; material is the name shown in status and the log (NULL: its title). */
int etude_player_load_preset(etude_player_t *p, etude_preset_t *preset, const char *preset_path,
                             const char *material, char *err, size_t errlen);

/* The practice timeline (etude_timeline.h): a count-in, a loop of bars played N times or for ever,
 * the start bar and the speed trainer, over the loaded material, overriding what a preset says.
 * Practice material (MIDI files, presets with practice or midi voices) is laid out again by its
 * practice (a MIDI file without a practice voice gets a click voice "count-in" for the count-in);
 * click material (tempo maps, click lines) plays its map rewritten to the timeline. Set it after
 * load and before start (ETUDE_ESTATE while playing); a tempo scale set before is kept. Bars past
 * the end, unknown labels and the like give ETUDE_EINVAL with err naming the flag
 * ("--loop '5-12': bar 12 is past the end (the material has 8 bars)"); the material is then left
 * as it was. An empty timeline changes nothing. */
struct etude_timeline;
int etude_player_set_timeline(etude_player_t *p, const struct etude_timeline *t, char *err, size_t errlen);
/* Whether the material plays for ever (an endless loop or map): a renderer needs a duration. */
bool etude_player_endless(etude_player_t *p);

/* Transport. OFF: the player's own sequencer; FOLLOW/MASTER: the JACK transport (the player follows
 * it in etude_player_tick()). start publishes transport/start, stop transport/stop. */
int etude_player_start(etude_player_t *p, char *err, size_t errlen);
int etude_player_stop(etude_player_t *p, char *err, size_t errlen);
/* Relocate to seconds of material (>= 0). */
int etude_player_locate(etude_player_t *p, double seconds, char *err, size_t errlen);

/* Tempo: play every tempo of the material times scale (0.1 .. 4), or so that its first tempo is
 * bpm. Refused (ETUDE_ESTATE) under another client's timebase and by the speed trainer. */
int etude_player_tempo_scale(etude_player_t *p, double scale, char *err, size_t errlen);
int etude_player_tempo(etude_player_t *p, double bpm, char *err, size_t errlen);

/* Voices by name (ETUDE_EINVAL naming the voices there are when none has that name). gain and
 * volume are linear, 0 .. 4; volume scales every voice's gain. Each publishes a voice message. */
int etude_player_volume(etude_player_t *p, double gain, char *err, size_t errlen);
int etude_player_voice_mute(etude_player_t *p, const char *voice, bool on, char *err, size_t errlen);
int etude_player_voice_solo(etude_player_t *p, const char *voice, bool on, char *err, size_t errlen);
int etude_player_voice_gain(etude_player_t *p, const char *voice, double gain, char *err, size_t errlen);

/* ETUDE_EINVAL with "WHAT NAME: no voice named 'NAME' (voices: ...)" in err unless the material has
 * a voice called name; 0 if it has. */
int etude_player_voice_check(etude_player_t *p, const char *what, const char *voice, char *err, size_t errlen);
/* Multiply a voice's gain by db decibels (-120 .. a resulting gain of 4). */
int etude_player_voice_gain_db(etude_player_t *p, const char *voice, double db, char *err, size_t errlen);

/* A JSON object: client, rate, period, transport, rolling, position, seconds, material, tempo_scale,
 * xruns, volume, voices [{name, kind, gain, mute, solo}]. Returns what snprintf would (the length
 * needed); the text is cut at len - 1. */
int etude_player_status_json(etude_player_t *p, char *json, size_t len);
/* A JSON object: callback statistics (zero without JACK) and the MIDI timing figures. */
int etude_player_timing_json(etude_player_t *p, char *json, size_t len);

/* ---- Live position, locating by bar or label, tap tempo -------------------------------------
 * What a live front end (OSC, a GUI) shows and sets while playing. The tempo reported is the one
 * reached at that very frame as played: inside a ramp of a tempo map (klick's T1-T2) it lies
 * between the beat's start and end tempo (geometrically in time, as the ramp's beats are laid
 * out), never the ramp's nominal end; with the tempo scale applied; in quarter notes per minute. */

/* Where the material is now. title and section stay valid until the next load or tempo change. */
typedef struct etude_player_position {
    uint64_t frame;      /* material frame of the playing sequencer */
    double seconds;      /* frame / rate */
    uint64_t bar;        /* 1-based; 0 when the material has no bars */
    uint32_t beat;       /* 1-based within the bar; 0 when the material has no bars */
    double bpm;          /* the tempo reached at frame (see above); 0 when the material has none */
    bool rolling;
    const char *title;   /* the material's title (a preset's title, a file's base name, a click line) */
    const char *section; /* the tempo map's label in force there, or "" */
} etude_player_position_t;
void etude_player_position(etude_player_t *p, etude_player_position_t *out);

/* Relocate to beat (1-based) of bar (1-based) of the material: the bar numbers of the status (a
 * tempo map's bars; practice material's bars as played, its count-in first). ETUDE_EINVAL with err
 * naming the bar and the bars there are when bar or beat is outside the material. Follow/master:
 * locates the JACK transport there. */
int etude_player_locate_bar(etude_player_t *p, uint64_t bar, uint32_t beat, char *err, size_t errlen);
/* Relocate to where: the label of a tempo map entry (its first bar), else "BAR" or "BAR.BEAT".
 * ETUDE_EINVAL with err naming where and the labels there are when nothing matches. */
int etude_player_locate_mark(etude_player_t *p, const char *where, char *err, size_t errlen);

/* Tap tempo, as klick's: the taps of the last ETUDE_PLAYER_TAP_AGE seconds count, at most
 * ETUDE_PLAYER_TAPS of them (an older one, or a tap earlier than the last, starts afresh); from the
 * second on, the taps per minute, 60 * (n - 1) / (last - first), become the tempo of the beat
 * playing now (the beat of its meter: in 6/8 a tap is an eighth note), through the tempo scale
 * (etude_player_tempo_scale(), its range and refusals). t is the tap's time in seconds on any
 * steady clock (the same for all taps). *bpm (may be NULL) gets the tapped taps per minute, 0 after
 * a first tap. */
#define ETUDE_PLAYER_TAPS 5
#define ETUDE_PLAYER_TAP_AGE 3.0
int etude_player_tap(etude_player_t *p, double t, double *bpm, char *err, size_t errlen);

/* The lowest and highest tempo reached in the frames played since the last start (0 and 0 before
 * anything played; tempo maps only, practice material reports its bars' tempi). The transport
 * stop message carries them as bpm_min and bpm_max. */
void etude_player_tempo_reached(const etude_player_t *p, double *lo, double *hi);

/* Live work between waits: JACK status and transport following, sequencer and engine tick, notes
 * from MIDI input, bar/loop/timing publication, and the end of the material (OFF: END_TAIL after
 * it). Returns how many ms the caller may wait before the next tick (an OSC datagram or a signal
 * may end the wait earlier). */
int etude_player_tick(etude_player_t *p);
/* Publish the transport bars and loops the audio has reached (part of tick; the offline driver's
 * caller calls it after each period). */
void etude_player_report(etude_player_t *p);
/* Ask the player to finish: etude_player_done() becomes true with this reason (a string literal
 * such as "signal" or "stopped"). */
void etude_player_quit(etude_player_t *p, const char *reason);
/* True once the material ended (reason "end"), quit was asked, or JACK went away ("server-gone")
 * or changed its rate ("error"). *reason may be NULL. */
bool etude_player_done(const etude_player_t *p, const char **reason);
/* Why the player stopped by itself ("" if it did not): a one-line message for the user. */
const char *etude_player_message(const etude_player_t *p);
/* The transport mode it was created with. */
int etude_player_transport(const etude_player_t *p);
/* Stop and end the session: the last timing figures and xruns, then transport/stop with reason. */
void etude_player_finish(etude_player_t *p, const char *reason);

/* The sequencer playing now (for the offline driver). Valid until the next load or tempo change. */
etude_sequencer_t *etude_player_sequencer(etude_player_t *p);
/* The loaded preset, or NULL. Owned by the player, valid until the next load. */
const etude_preset_t *etude_player_preset(const etude_player_t *p);
/* Frames played in the sessions so far (between starts and stops). */
uint64_t etude_player_frames_played(const etude_player_t *p);
/* The xrun count last published. */
uint64_t etude_player_xruns(const etude_player_t *p);
/* The timing analysis of the notes played on MIDI input. */
void etude_player_timing_result(const etude_player_t *p, etude_timing_result_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PLAYER_H */
