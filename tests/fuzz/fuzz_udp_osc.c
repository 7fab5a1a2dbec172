/* fuzz_udp_osc.c - libFuzzer target for the OSC control of `etude play` (cli/cli_osc.c) over a player
 * on the offline driver (no jackd): each input is one datagram handled as if it had arrived
 * (messages, bundles, garbage), then the same bytes as a place for etude_player_locate_mark(); the
 * player carries its state from input to input (a tempo map with labels, a ramp and a meter change).
 * Invariants are checked with abort(): the status stays JSON-shaped with a bar inside the map, the
 * counters move. /etude/load is left out (it would open whatever file an input names). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_osc.h"
#include "etude_engine.h"
#include "etude_player.h"

static etude_engine_t *engine;
static etude_player_t *player;
static etude_osc_t *osc;

static void setup(void)
{
    etude_engine_config_t cfg;
    etude_engine_config_default(&cfg, 48000);
    char path[] = "/tmp/etude-fuzz-osc-XXXXXX";
    int fd = mkstemp(path);
    const char *map = "intro: 2 4/4 100\nramp: 2 4/4 100-140\nverse: 2 3/4 90 X.x\n";
    char err[512];
    etude_player_config_t pc = {.command = "render"};
    if (etude_engine_create(&cfg, &engine) < 0 || fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map))
        abort();
    close(fd);
    pc.engine = engine;
    etude_player_material_t m = {.map_path = path};
    if (etude_player_create(&pc, &player) < 0 || etude_player_load(player, &m, err, sizeof err) < 0 ||
        etude_osc_create("0", player, &osc, err, sizeof err) < 0)
        abort();
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!osc)
        setup();
    if (memmem(data, size, "load", 4))
        return 0;
    unsigned long before = etude_osc_handled(osc);
    int n = etude_osc_handle(osc, data, size);
    if (n < 0 || etude_osc_handled(osc) != before + (unsigned long)n)
        abort();
    char *mark = malloc(size + 1), err[256];
    if (!mark)
        return 0;
    memcpy(mark, data, size);
    mark[size] = 0;
    int rc = etude_player_locate_mark(player, mark, err, sizeof err);
    free(mark);
    if (rc != 0 && rc != ETUDE_EINVAL)
        abort();
    etude_player_report(player);
    char json[8192];
    int len = etude_player_status_json(player, json, sizeof json);
    if (len <= 0 || (size_t)len >= sizeof json || json[0] != '{' || json[len - 1] != '}')
        abort();
    etude_player_position_t pos;
    etude_player_position(player, &pos);
    if (pos.bar > 6 || (pos.bar && (pos.beat < 1 || pos.beat > 4)) || !pos.title || !pos.section)
        abort();
    return 0;
}
