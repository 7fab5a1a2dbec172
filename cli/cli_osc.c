/* cli_osc.c - the OSC control of `etude play` (liblo); the address space is in docs/osc.md. */
#include "cli_osc.h"

#include <lo/lo.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <unistd.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etude_engine.h"
#include "etude_player.h"

struct etude_osc {
    lo_server server;
    etude_player_t *player;
    unsigned long handled, errors;
    int handled_now;
    lo_address cur_src;
    unsigned char buf[65536];
    char bind_err[256];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Where replies go: the sender of the datagram being handled (also inside bundles). */
static lo_address reply_to(etude_osc_t *o, lo_message msg)
{
    if (o->cur_src)
        return o->cur_src;
    return msg ? lo_message_get_source(msg) : NULL;
}

static void reply_error(etude_osc_t *o, lo_message msg, const char *path, const char *what)
{
    o->errors++;
    lo_address to = reply_to(o, msg);
    if (to)
        lo_send_from(to, o->server, LO_TT_IMMEDIATE, "/etude/error", "ss", path ? path : "", what);
}

static void reply_ok(etude_osc_t *o, lo_message msg, const char *path)
{
    lo_address to = reply_to(o, msg);
    if (to)
        lo_send_from(to, o->server, LO_TT_IMMEDIATE, "/etude/ok", "s", path);
}

/* A numeric argument of any OSC number type. liblo's argument pointers are only 4-byte aligned,
 * so values are copied out rather than read through union lo_arg. */
static bool num_arg(char type, const lo_arg *a, double *out)
{
    int32_t i;
    float f;
    double d;
    int64_t h;
    switch (type) {
    case LO_INT32: memcpy(&i, a, sizeof i); *out = i; return true;
    case LO_FLOAT: memcpy(&f, a, sizeof f); *out = f; return true;
    case LO_DOUBLE: memcpy(&d, a, sizeof d); *out = d; return true;
    case LO_INT64: memcpy(&h, a, sizeof h); *out = (double)h; return true;
    case LO_TRUE: *out = 1; return true;
    case LO_FALSE: *out = 0; return true;
    default: return false;
    }
}

typedef enum { A_NONE, A_NUM, A_STR, A_STR_NUM, A_LOCATE, A_OPT_NUM } argspec_t;

static const struct route {
    const char *path;
    argspec_t args;
    const char *want; /* for the error reply */
} routes[] = {
    {"/etude/start", A_NONE, "no arguments"},
    {"/etude/stop", A_NONE, "no arguments"},
    {"/etude/locate", A_LOCATE, "seconds from the start of the material (one number, 0 .. 1e9), a bar and a beat "
                                "(two whole numbers >= 1), or a label of the tempo map, BAR or BAR.BEAT (a string)"},
    {"/etude/tap", A_OPT_NUM, "nothing (the tap is when it arrives) or one number: the tap's time in seconds on "
                              "the sender's clock"},
    {"/etude/tempo", A_NUM, "one number: beats per minute, > 0"},
    {"/etude/tempo_scale", A_NUM, "one number: the tempo factor, 0.1 .. 4"},
    {"/etude/volume", A_NUM, "one number: linear gain, 0 .. 4"},
    {"/etude/voice/mute", A_STR_NUM, "a voice name and 0 or 1"},
    {"/etude/voice/solo", A_STR_NUM, "a voice name and 0 or 1"},
    {"/etude/voice/gain", A_STR_NUM, "a voice name and a linear gain, 0 .. 4"},
    {"/etude/load", A_STR, "one string: a preset file path"},
    {"/etude/status", A_NONE, "no arguments"},
    {"/etude/timing", A_NONE, "no arguments"},
    {"/etude/quit", A_NONE, "no arguments"},
};

static int dispatch(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                    void *user)
{
    etude_osc_t *o = user;
    o->handled++;
    o->handled_now++;
    const struct route *r = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (path && !strcmp(path, routes[i].path))
            r = &routes[i];
    char err[256] = "";
    if (!r) {
        snprintf(err, sizeof err, "unknown address '%s' (see docs/osc.md)", path ? path : "");
        reply_error(o, msg, path, err);
        return 0;
    }
    double num = 0, num2 = 0;
    const char *str = NULL;
    bool ok;
    switch (r->args) {
    case A_NONE: ok = argc == 0; break;
    case A_OPT_NUM: ok = argc == 0 || (argc == 1 && num_arg(types[0], argv[0], &num) && isfinite(num)); break;
    case A_LOCATE:
        if (argc == 1 && (types[0] == LO_STRING || types[0] == LO_SYMBOL)) {
            ok = true;
            str = (const char *)argv[0];
        } else {
            ok = (argc == 1 || argc == 2) && num_arg(types[0], argv[0], &num) && isfinite(num) &&
                 (argc == 1 || (num_arg(types[1], argv[1], &num2) && isfinite(num2)));
        }
        break;
    case A_NUM: ok = argc == 1 && num_arg(types[0], argv[0], &num) && isfinite(num); break;
    case A_STR: ok = argc == 1 && (types[0] == LO_STRING || types[0] == LO_SYMBOL); break;
    case A_STR_NUM:
        ok = argc == 2 && (types[0] == LO_STRING || types[0] == LO_SYMBOL) &&
             num_arg(types[1], argv[1], &num) && isfinite(num);
        break;
    default: ok = false;
    }
    if (ok && (r->args == A_STR || r->args == A_STR_NUM))
        str = (const char *)argv[0];
    if (!ok) {
        snprintf(err, sizeof err, "%s: bad arguments '%s' (expected %s)", r->path, types ? types : "",
                 r->want);
        reply_error(o, msg, path, err);
        return 0;
    }
    etude_player_t *pl = o->player;
    int rc = ETUDE_EUNSUPPORTED;
    if (!strcmp(path, "/etude/status") || !strcmp(path, "/etude/timing")) {
        /* the status grows with the voices: measured first, so the reply is never cut */
        bool status = !strcmp(path, "/etude/status");
        char small[2048], *json = small;
        int n = status ? etude_player_status_json(pl, small, sizeof small)
                       : etude_player_timing_json(pl, small, sizeof small);
        if (n >= (int)sizeof small && (json = malloc((size_t)n + 1)) != NULL) {
            if (status)
                etude_player_status_json(pl, json, (size_t)n + 1);
            else
                etude_player_timing_json(pl, json, (size_t)n + 1);
        }
        lo_address to = reply_to(o, msg);
        if (to && json)
            lo_send_from(to, o->server, LO_TT_IMMEDIATE, path, "s", json);
        else if (to)
            reply_error(o, msg, path, "out of memory");
        if (json != small)
            free(json);
        return 0;
    }
    if (!strcmp(path, "/etude/start"))
        rc = etude_player_start(pl, err, sizeof err);
    else if (!strcmp(path, "/etude/stop"))
        rc = etude_player_stop(pl, err, sizeof err);
    else if (!strcmp(path, "/etude/quit")) {
        etude_player_quit(pl, "stopped");
        rc = ETUDE_OK;
    } else if (!strcmp(path, "/etude/locate") && str) {
        rc = etude_player_locate_mark(pl, str, err, sizeof err);
    } else if (!strcmp(path, "/etude/locate") && argc == 2) {
        if (num >= 1 && num2 >= 1 && num == floor(num) && num2 == floor(num2) && num < 1e15 && num2 <= UINT32_MAX) {
            rc = etude_player_locate_bar(pl, (uint64_t)num, (uint32_t)num2, err, sizeof err);
        } else {
            snprintf(err, sizeof err, "/etude/locate %g %g: expected a bar and a beat, whole numbers >= 1", num, num2);
            rc = ETUDE_EINVAL;
        }
    } else if (!strcmp(path, "/etude/locate"))
        rc = num >= 0 && num <= 1e9 ? etude_player_locate(pl, num, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/tap"))
        rc = etude_player_tap(pl, argc ? num : now_s(), NULL, err, sizeof err);
    else if (!strcmp(path, "/etude/tempo"))
        rc = num > 0 ? etude_player_tempo(pl, num, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/tempo_scale"))
        rc = num >= 0.1 && num <= 4 ? etude_player_tempo_scale(pl, num, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/volume"))
        rc = num >= 0 && num <= 4 ? etude_player_volume(pl, num, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/voice/mute"))
        rc = num == 0 || num == 1 ? etude_player_voice_mute(pl, str, num != 0, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/voice/solo"))
        rc = num == 0 || num == 1 ? etude_player_voice_solo(pl, str, num != 0, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/voice/gain"))
        rc = num >= 0 && num <= 4 ? etude_player_voice_gain(pl, str, num, err, sizeof err) : ETUDE_EINVAL;
    else if (!strcmp(path, "/etude/load")) {
        etude_player_material_t m = {.preset_path = str};
        rc = etude_player_load(pl, &m, err, sizeof err);
        /* with etude's own transport the new material plays at once; a JACK transport starts it */
        if (rc == ETUDE_OK && etude_player_transport(pl) == ETUDE_JACK_TRANSPORT_OFF)
            rc = etude_player_start(pl, err, sizeof err);
    }
    if (rc < 0) {
        if (!err[0]) {
            if (rc == ETUDE_EINVAL)
                snprintf(err, sizeof err, "%s: value %g out of range (expected %s)", path, num, r->want);
            else
                snprintf(err, sizeof err, "%s: %s", path, etude_strerror(rc));
        }
        reply_error(o, msg, path, err);
        return 0;
    }
    reply_ok(o, msg, path);
    return 0;
}

/* Whether binding UDP port (on any address, as liblo does) fails because it is taken. */
static bool port_in_use(const char *port)
{
    if (!port || !strcmp(port, "0"))
        return false;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    bool used = bind(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno == EADDRINUSE;
    close(fd);
    return used;
}

static etude_osc_t *bind_target; /* liblo's error handler has no user pointer */

static void on_error(int num, const char *msg, const char *where)
{
    (void)num;
    if (bind_target)
        snprintf(bind_target->bind_err, sizeof bind_target->bind_err, "%s%s%s", msg ? msg : "error",
                 where ? ": " : "", where ? where : "");
}

int etude_osc_create(const char *port, etude_player_t *player, etude_osc_t **out, char *err, size_t errlen)
{
    *out = NULL;
    etude_osc_t *o = calloc(1, sizeof *o);
    if (!o)
        return ETUDE_ENOMEM;
    o->player = player;
    bind_target = o;
    o->server = lo_server_new_with_proto(port && strcmp(port, "0") ? port : NULL, LO_UDP, on_error);
    if (!o->server) {
        if (err && port_in_use(port))
            snprintf(err, errlen, "--osc %s: UDP port %s is in use (another etude play --osc, or another program); "
                     "choose another port, or --osc 0 for a free one", port, port);
        else if (err)
            snprintf(err, errlen, "--osc %s: cannot listen on this UDP port (%s)", port ? port : "0",
                     o->bind_err[0] ? o->bind_err : "in use or invalid");
        bind_target = NULL;
        free(o);
        return ETUDE_EIO;
    }
    lo_server_add_method(o->server, NULL, NULL, dispatch, o);
    *out = o;
    return ETUDE_OK;
}

void etude_osc_destroy(etude_osc_t *o)
{
    if (!o)
        return;
    lo_server_free(o->server);
    if (bind_target == o)
        bind_target = NULL;
    free(o);
}

int etude_osc_port(const etude_osc_t *o) { return lo_server_get_port(o->server); }

/* One datagram: a malformed one gets an error, a good one goes to liblo's dispatcher. liblo may
 * write into the buffer while it deserialises, so it is ours (o->buf). */
static void handle(etude_osc_t *o, unsigned char *buf, size_t n)
{
    if (n >= 8 && !memcmp(buf, "#bundle", 8)) {
        if (lo_server_dispatch_data(o->server, buf, n) < 0) {
            o->handled_now++;
            o->handled++;
            reply_error(o, NULL, "", "malformed OSC bundle");
        }
    } else {
        int result = 0;
        lo_message m = lo_message_deserialise(buf, n, &result);
        if (!m) {
            o->handled_now++;
            o->handled++;
            char what[128];
            snprintf(what, sizeof what, "malformed OSC message (%zu bytes, liblo error %d)", n, result);
            reply_error(o, NULL, "", what);
        } else {
            lo_message_free(m);
            lo_server_dispatch_data(o->server, buf, n);
        }
    }
}

/* Receive one datagram ourselves (liblo's receive path drops malformed packets without telling the
 * sender), answer a malformed one with an error, hand a good one to liblo's dispatcher. */
static int recv_one(etude_osc_t *o, int timeout_ms)
{
    int fd = lo_server_get_socket_fd(o->server);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return 0;
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    ssize_t n = recvfrom(fd, o->buf, sizeof o->buf, MSG_DONTWAIT, (struct sockaddr *)&sa, &salen);
    if (n < 0)
        return 0;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    o->cur_src = NULL;
    if (getnameinfo((struct sockaddr *)&sa, salen, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        o->cur_src = lo_address_new(host, serv);
    handle(o, o->buf, (size_t)n);
    if (o->cur_src)
        lo_address_free(o->cur_src);
    o->cur_src = NULL;
    return 1;
}

int etude_osc_handle(etude_osc_t *o, const void *data, size_t n)
{
    int before = o->handled_now;
    if (n > sizeof o->buf)
        n = sizeof o->buf;
    if (data != o->buf)
        memcpy(o->buf, data, n);
    handle(o, o->buf, n);
    return o->handled_now - before;
}

int etude_osc_poll(etude_osc_t *o, int timeout_ms)
{
    o->handled_now = 0;
    int r = recv_one(o, timeout_ms);
    for (int i = 0; r > 0 && i < 256; i++)
        r = recv_one(o, 0);
    return o->handled_now;
}

unsigned long etude_osc_handled(const etude_osc_t *o) { return o->handled; }
unsigned long etude_osc_errors(const etude_osc_t *o) { return o->errors; }
