/* jack_tclient.c - a small JACK test client for etude's live tests: drives and reads the transport,
 * sends MIDI note-ons at known transport frames, records a port with the transport frame of every
 * sample, and hogs the process thread to cause xruns.
 *
 *   jack_tclient start | stop | locate FRAME
 *   jack_tclient frametime                   the server's frame time now
 *   jack_tclient query                       one line: state frame bbt_valid bar beat tick bpm bpb
 *   jack_tclient wait-rolling SECONDS        exit 0 once the transport rolls, 1 on timeout
 *   jack_tclient wait-frame FRAME SECONDS    exit 0 once it rolls at FRAME or later, 1 on timeout
 *   jack_tclient midi DEST_PORT FRAME...     note-on (key 60 + i) at each transport frame, in order
 *   jack_tclient record SRC_PORT SECONDS OUT.wav OUT.txt
 *                                            samples placed by the server's frame time (a missed
 *                                            cycle is a silent gap); OUT.txt: "sample
 *                                            transport_frame state" per period
 *                                            (state: 1 rolling, 0 stopped, 3 starting)
 *   jack_tclient record-raw SRC_PORT SECONDS OUT.wav OUT.txt
 *                                            the same, samples back to back as delivered (for a
 *                                            period-size change, where the frame time jumps)
 *   jack_tclient hog MS COUNT                busy-wait MS ms in COUNT process callbacks; prints
 *                                            "xruns N", the xruns this client was told of
 *   jack_tclient master BPM BEATS SECONDS    be timebase master (constant tempo, BEATS/4) for a while
 *
 * The server is $JACK_DEFAULT_SERVER; no server is ever started. Exit 0 on success, 1 on failure,
 * 2 on bad usage.
 */
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/transport.h>
#include <sndfile.h>

#include <math.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static jack_client_t *client;
static jack_port_t *port;
static atomic_int done;
static atomic_bool gone;

/* midi */
static uint64_t *midi_frames;
static int midi_n;
static atomic_int midi_sent;

/* record */
static float *rec;
static uint64_t rec_cap;
static atomic_uint_fast64_t rec_len;
typedef struct { uint64_t sample, tframe; int rolling; } period_mark_t;
static period_mark_t *marks;
static uint64_t marks_cap;
static atomic_uint_fast64_t marks_len;

/* hog */
static double hog_ms;
static atomic_int hog_left;

/* master */
static double m_bpm;
static float m_beats;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int midi_process(jack_nframes_t n, void *arg)
{
    (void)arg;
    void *buf = jack_port_get_buffer(port, n);
    jack_midi_clear_buffer(buf);
    jack_position_t pos;
    if (jack_transport_query(client, &pos) != JackTransportRolling)
        return 0;
    int i = atomic_load(&midi_sent);
    while (i < midi_n && midi_frames[i] < (uint64_t)pos.frame + n) {
        if (midi_frames[i] >= pos.frame) {
            jack_midi_data_t *d = jack_midi_event_reserve(buf, (jack_nframes_t)(midi_frames[i] - pos.frame), 3);
            if (d) {
                d[0] = 0x90;
                d[1] = (jack_midi_data_t)(60 + i % 60);
                d[2] = 100;
            }
        }
        i++; /* a frame already passed is skipped, and the test sees the note missing */
    }
    atomic_store(&midi_sent, i);
    return 0;
}

/* Samples are placed by the server's frame time, so a cycle this client missed leaves a silent gap
 * instead of shifting everything after it. */
static uint64_t rec_t0;
static bool rec_contiguous;
static atomic_bool rec_started;
static atomic_uint_fast64_t rec_gaps;

static int record_process(jack_nframes_t n, void *arg)
{
    (void)arg;
    const float *in = jack_port_get_buffer(port, n);
    jack_position_t pos;
    jack_transport_state_t st = jack_transport_query(client, &pos);
    uint64_t t = jack_last_frame_time(client);
    if (!atomic_load(&rec_started)) {
        rec_t0 = t;
        atomic_store(&rec_started, true);
    }
    uint64_t off = rec_contiguous ? atomic_load(&rec_len) : t - rec_t0;
    uint64_t len = atomic_load(&rec_len);
    uint64_t ml = atomic_load(&marks_len);
    if (off + n > rec_cap || ml >= marks_cap) {
        atomic_store(&done, 1);
        return 0;
    }
    if (off != len)
        atomic_fetch_add(&rec_gaps, 1);
    marks[ml] = (period_mark_t){off, pos.frame, (int)st}; /* 1 rolling, 0 stopped, 3 starting */
    memcpy(rec + off, in, n * sizeof *in);
    atomic_store(&marks_len, ml + 1);
    atomic_store(&rec_len, off + n);
    return 0;
}

static atomic_uint_fast64_t xruns;

static int xrun_cb(void *arg)
{
    (void)arg;
    atomic_fetch_add(&xruns, 1);
    return 0;
}

static int hog_process(jack_nframes_t n, void *arg)
{
    (void)n;
    (void)arg;
    if (atomic_load(&hog_left) > 0) {
        double t0 = now_s();
        while ((now_s() - t0) * 1000.0 < hog_ms)
            ;
        atomic_fetch_sub(&hog_left, 1);
    }
    return 0;
}

static void master_cb(jack_transport_state_t state, jack_nframes_t nframes, jack_position_t *pos,
                      int new_pos, void *arg)
{
    (void)state;
    (void)nframes;
    (void)new_pos;
    (void)arg;
    double beats = (double)pos->frame * m_bpm / 60.0 / pos->frame_rate;
    uint64_t whole = (uint64_t)floor(beats);
    pos->valid = JackPositionBBT;
    pos->beats_per_bar = m_beats;
    pos->beat_type = 4;
    pos->ticks_per_beat = 1920;
    pos->beats_per_minute = m_bpm;
    pos->bar = (int32_t)(whole / (uint64_t)m_beats) + 1;
    pos->beat = (int32_t)(whole % (uint64_t)m_beats) + 1;
    pos->tick = (int32_t)((beats - (double)whole) * 1920);
    pos->bar_start_tick = (double)(pos->bar - 1) * m_beats * 1920;
}

static void on_shutdown(void *arg)
{
    (void)arg;
    atomic_store(&gone, true);
}

static int usage(void)
{
    fprintf(stderr, "usage: jack_tclient start|stop|locate FRAME|query|wait-rolling S|midi PORT FRAME...|"
                    "record PORT S OUT.wav OUT.txt|hog MS COUNT|master BPM BEATS S\n");
    return 2;
}

static int open_client(const char *name)
{
    jack_status_t st;
    client = jack_client_open(name, JackNoStartServer, &st);
    if (!client) {
        fprintf(stderr, "jack_tclient: no JACK server (status 0x%x)\n", (unsigned)st);
        return -1;
    }
    jack_on_shutdown(client, on_shutdown, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    if (open_client("tclient") < 0)
        return 1;
    int rc = 0;
    if (!strcmp(cmd, "start")) {
        jack_transport_start(client);
    } else if (!strcmp(cmd, "stop")) {
        jack_transport_stop(client);
    } else if (!strcmp(cmd, "locate") && argc == 3) {
        rc = jack_transport_locate(client, (jack_nframes_t)strtoull(argv[2], NULL, 10)) ? 1 : 0;
    } else if (!strcmp(cmd, "frametime")) {
        printf("%u\n", jack_frame_time(client));
    } else if (!strcmp(cmd, "query")) {
        jack_position_t pos;
        jack_transport_state_t st = jack_transport_query(client, &pos);
        int bbt = (pos.valid & JackPositionBBT) != 0;
        printf("%s %u %d %d %d %d %.6f %.1f\n",
               st == JackTransportRolling ? "rolling" : st == JackTransportStarting ? "starting" : "stopped",
               pos.frame, bbt, bbt ? pos.bar : 0, bbt ? pos.beat : 0, bbt ? pos.tick : 0,
               bbt ? pos.beats_per_minute : 0.0, bbt ? pos.beats_per_bar : 0.0f);
    } else if (!strcmp(cmd, "wait-rolling") && argc == 3) {
        double until = now_s() + atof(argv[2]);
        rc = 1;
        while (now_s() < until) {
            if (jack_transport_query(client, NULL) == JackTransportRolling) {
                rc = 0;
                break;
            }
            sleep_ms(5);
        }
    } else if (!strcmp(cmd, "wait-frame") && argc == 4) {
        jack_nframes_t frame = (jack_nframes_t)strtoull(argv[2], NULL, 10);
        double until = now_s() + atof(argv[3]);
        rc = 1;
        while (now_s() < until) {
            jack_position_t pos;
            if (jack_transport_query(client, &pos) == JackTransportRolling && pos.frame >= frame) {
                rc = 0;
                break;
            }
            sleep_ms(5);
        }
    } else if (!strcmp(cmd, "midi") && argc >= 4) {
        midi_n = argc - 3;
        midi_frames = calloc((size_t)midi_n, sizeof *midi_frames);
        for (int i = 0; i < midi_n; i++)
            midi_frames[i] = strtoull(argv[3 + i], NULL, 10);
        port = jack_port_register(client, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
        jack_set_process_callback(client, midi_process, NULL);
        if (!port || jack_activate(client) ||
            jack_connect(client, jack_port_name(port), argv[2])) {
            fprintf(stderr, "jack_tclient: cannot connect MIDI to %s\n", argv[2]);
            rc = 1;
        } else {
            double until = now_s() + 60.0;
            while (atomic_load(&midi_sent) < midi_n && !atomic_load(&gone) && now_s() < until)
                sleep_ms(5);
            sleep_ms(50); /* let the last period reach the receiver */
            rc = atomic_load(&midi_sent) == midi_n ? 0 : 1;
            printf("sent %d\n", atomic_load(&midi_sent));
            jack_deactivate(client);
        }
        free(midi_frames);
    } else if ((!strcmp(cmd, "record") || !strcmp(cmd, "record-raw")) && argc == 6) {
        rec_contiguous = !strcmp(cmd, "record-raw");
        double secs = atof(argv[3]);
        jack_nframes_t rate = jack_get_sample_rate(client);
        rec_cap = (uint64_t)(secs * rate) + 8192;
        marks_cap = rec_cap / 16 + 16;
        rec = calloc(rec_cap, sizeof *rec);
        marks = calloc(marks_cap, sizeof *marks);
        port = jack_port_register(client, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        jack_set_process_callback(client, record_process, NULL);
        jack_set_xrun_callback(client, xrun_cb, NULL);
        if (!port || jack_activate(client) || jack_connect(client, argv[2], jack_port_name(port))) {
            fprintf(stderr, "jack_tclient: cannot record from %s\n", argv[2]);
            rc = 1;
        } else {
            uint64_t want = (uint64_t)(secs * rate);
            double until = now_s() + secs * 4 + 10;
            while (atomic_load(&rec_len) < want && !atomic_load(&done) && !atomic_load(&gone) && now_s() < until)
                sleep_ms(10);
            jack_deactivate(client);
            uint64_t len = atomic_load(&rec_len);
            SF_INFO info = {.samplerate = (int)rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
            SNDFILE *sf = sf_open(argv[4], SFM_WRITE, &info);
            FILE *f = fopen(argv[5], "w");
            if (!sf || !f || sf_writef_float(sf, rec, (sf_count_t)len) != (sf_count_t)len) {
                fprintf(stderr, "jack_tclient: cannot write %s / %s\n", argv[4], argv[5]);
                rc = 1;
            }
            if (f) {
                uint64_t ml = atomic_load(&marks_len);
                for (uint64_t i = 0; i < ml; i++)
                    fprintf(f, "%llu %llu %d\n", (unsigned long long)marks[i].sample,
                            (unsigned long long)marks[i].tframe, marks[i].rolling);
                fclose(f);
            }
            if (sf)
                sf_close(sf);
            printf("recorded %llu frames, %llu gaps, %llu xruns\n", (unsigned long long)len,
                   (unsigned long long)atomic_load(&rec_gaps), (unsigned long long)atomic_load(&xruns));
        }
        free(rec);
        free(marks);
    } else if (!strcmp(cmd, "hog") && argc == 4) {
        hog_ms = atof(argv[2]);
        atomic_store(&hog_left, atoi(argv[3]));
        jack_set_process_callback(client, hog_process, NULL);
        jack_set_xrun_callback(client, xrun_cb, NULL);
        if (jack_activate(client)) {
            rc = 1;
        } else {
            double until = now_s() + 30;
            while (atomic_load(&hog_left) > 0 && !atomic_load(&gone) && now_s() < until)
                sleep_ms(5);
            sleep_ms(200); /* the last xrun notifications */
            jack_deactivate(client);
            printf("xruns %llu\n", (unsigned long long)atomic_load(&xruns));
        }
    } else if (!strcmp(cmd, "master") && argc == 5) {
        m_bpm = atof(argv[2]);
        m_beats = (float)atof(argv[3]);
        if (m_bpm <= 0 || m_beats < 1 || jack_activate(client) ||
            jack_set_timebase_callback(client, 0, master_cb, NULL)) {
            rc = 1;
        } else {
            double until = now_s() + atof(argv[4]);
            while (now_s() < until && !atomic_load(&gone))
                sleep_ms(10);
            jack_release_timebase(client);
            jack_deactivate(client);
        }
    } else {
        jack_client_close(client);
        return usage();
    }
    if (!atomic_load(&gone))
        jack_client_close(client);
    return rc;
}
