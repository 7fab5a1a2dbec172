/* fuzz_preset.c - libFuzzer target for the preset loader (JSON, voice kinds, inline tempo maps). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etude_engine.h"
#include "etude_preset.h"
#include "etude_tempomap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    etude_preset_t *p = NULL;
    /* relative file names resolve against a folder that does not exist */
    int rc = etude_preset_parse((const char *)data, size, "/nonexistent-etude-fuzz/p.json", &p, err, sizeof err);
    if (rc == 0) {
        if (!etude_preset_title(p) || etude_preset_voice_count(p) == 0)
            abort();
        for (size_t i = 0; i < etude_preset_voice_count(p); i++) {
            const etude_preset_voice_t *v = etude_preset_voice(p, i);
            if (!v->kind || !v->name[0] || !(v->volume >= 0) || !(v->pan >= -1 && v->pan <= 1))
                abort();
        }
        const etude_tempomap_t *m = etude_preset_tempomap(p);
        if (m && etude_tempomap_beat_count(m) == 0)
            abort();
        etude_preset_destroy(p);
    } else if (rc == ETUDE_EPARSE && (!err[0] || strchr(err, '\n'))) {
        abort();
    }
    return 0;
}
