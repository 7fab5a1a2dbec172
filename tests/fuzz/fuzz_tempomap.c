/* fuzz_tempomap.c - libFuzzer target for the tempo-map parser (file form and command-line form) and
 * the position queries on whatever it accepts. Invariants are checked with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etude_engine.h"
#include "etude_tempomap.h"

static void check_map(const etude_tempomap_t *m)
{
    static const uint32_t rates[] = {8000, 44100, 192000};
    /* An endless map is checked over its first million beats (a week at 100 bpm). */
    uint64_t n = etude_tempomap_endless(m) ? 1000000 : etude_tempomap_beat_count(m);
    uint64_t step = n > 512 ? n / 512 : 1;
    for (size_t r = 0; r < 3; r++) {
        uint32_t rate = rates[r];
        uint64_t prev = 0;
        for (uint64_t i = 0; i < n && i < 512 * step; i += step) {
            etude_tempomap_beat_t b;
            if (etude_tempomap_beat(m, i, &b) != 0 || b.index != i || b.entry >= etude_tempomap_entry_count(m))
                abort();
            if (!(b.bpm > 0) || b.type > ETUDE_BEAT_ACCENT || !b.section)
                abort();
            uint64_t f = etude_tempomap_beat_frame(m, i, rate);
            if (f < prev) /* positions never go backwards */
                abort();
            prev = f;
            uint64_t k = etude_tempomap_beat_at_frame(m, f, rate);
            if (k > i || etude_tempomap_beat_frame(m, k, rate) != f) /* the first beat at that frame */
                abort();
            if (etude_tempomap_bar_first_beat(m, b.bar) > i)
                abort();
        }
        if (!etude_tempomap_endless(m) && etude_tempomap_frames(m, rate) < prev)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    etude_tempomap_t *m = NULL;
    int rc = etude_tempomap_parse((const char *)data, size, "fuzz.txt", &m, err, sizeof err);
    if (rc == 0) {
        check_map(m);
        etude_tempomap_destroy(m);
    } else if (rc == ETUDE_EPARSE && (!err[0] || strchr(err, '\n'))) {
        abort(); /* a message is one line */
    }
    /* the command-line form: the first line */
    char line[256];
    size_t n = 0;
    while (n < size && n < sizeof line - 1 && data[n] && data[n] != '\n')
        n++;
    memcpy(line, data, n);
    line[n] = 0;
    rc = etude_tempomap_parse_line(line, "--click", &m, err, sizeof err);
    if (rc == 0) {
        check_map(m);
        etude_tempomap_destroy(m);
    } else if (rc == ETUDE_EPARSE && (!err[0] || strchr(err, '\n'))) {
        abort();
    }
    return 0;
}
