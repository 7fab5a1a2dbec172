/* fuzz_preset_instruments.c - libFuzzer target for the preset loader's instrument kinds (practice,
 * midi, drone, sample): their parsers, the practice layout they build at load time, and the MIDI
 * files they read. Relative names resolve against presets/, so seeds can name the generated assets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etude_engine.h"
#include "etude_preset.h"

#ifndef ETUDE_FUZZ_PRESET_PATH
#error "ETUDE_FUZZ_PRESET_PATH: a preset path inside presets/"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    etude_preset_t *p = NULL;
    int rc = etude_preset_parse((const char *)data, size, ETUDE_FUZZ_PRESET_PATH, &p, err, sizeof err);
    if (rc == 0) {
        for (size_t i = 0; i < etude_preset_voice_count(p); i++)
            if (!etude_preset_voice(p, i)->kind)
                abort();
        etude_preset_destroy(p);
    } else if ((rc == ETUDE_EPARSE || rc == ETUDE_EIO) && (!err[0] || strchr(err, '\n'))) {
        abort(); /* every refusal is one non-empty line */
    }
    return 0;
}
