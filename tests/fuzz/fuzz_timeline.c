/* fuzz_timeline.c - libFuzzer target for the practice timeline's flag parsers (--count-in, --loop,
 * --loops, --start, --trainer) and, on what they accept, bar and label resolution against a tempo
 * map and the map rewritten to play the timeline. The input is five lines of flag values (an empty
 * line: the flag not given) and then a tempo map. Invariants are checked with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etude_error.h"
#include "etude_tempomap.h"
#include "etude_timeline.h"

typedef int (*setter_t)(etude_timeline_t *, const char *, char *, size_t);

/* An error message is one non-empty line. */
static void check_err(int rc, const char *err)
{
    if (rc < 0 && (!err[0] || strchr(err, '\n')))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const setter_t set[5] = {etude_timeline_set_count_in, etude_timeline_set_loop, etude_timeline_set_loops,
                                    etude_timeline_set_start, etude_timeline_set_trainer};
    etude_timeline_t t;
    etude_timeline_init(&t);
    char err[600];
    size_t off = 0;
    for (int k = 0; k < 5; k++) {
        char v[160];
        size_t n = 0;
        while (off < size && data[off] != '\n') {
            if (n < sizeof v - 1)
                v[n++] = (char)data[off];
            off++;
        }
        off += off < size;
        v[n] = 0;
        if (!n || memchr(v, 0, n))
            continue;
        err[0] = 0;
        int rc = set[k](&t, v, err, sizeof err);
        check_err(rc, err);
        if (rc != 0 && rc != ETUDE_EINVAL)
            abort();
    }
    if (t.count_in > 16 || t.loops > 10000 || (t.trainer && !(t.target_bpm >= t.start_bpm && t.step_bpm > 0)))
        abort();
    err[0] = 0;
    if (etude_timeline_check(&t, err, sizeof err) < 0) {
        check_err(-1, err);
        return 0;
    }
    etude_tempomap_t *m = NULL;
    if (etude_tempomap_parse((const char *)data + off, size - off, "fuzz.map", &m, err, sizeof err) < 0)
        return 0;
    uint64_t nb = etude_tempomap_bar_count(m);
    uint32_t bars = nb >= UINT32_MAX ? UINT32_MAX : (uint32_t)nb;
    etude_timeline_bars_t b;
    err[0] = 0;
    int rc = etude_timeline_resolve(&t, m, bars, &b, err, sizeof err);
    check_err(rc, err);
    if (rc == 0) {
        if (b.from < 1 || b.from > b.to || b.start < b.from || b.start > b.to || (bars != UINT32_MAX && b.to > bars))
            abort();
        uint32_t passes = etude_timeline_passes(&t);
        uint64_t span = b.to == UINT32_MAX ? 1 : (uint64_t)(b.to - b.from + 1);
        if ((uint64_t)(passes ? passes : 2) * span <= 4096) { /* keep each run short */
            etude_tempomap_t *out = NULL;
            uint64_t loop_bar;
            err[0] = 0;
            rc = etude_timeline_map(m, &t, &b, "fuzz.map", &out, &loop_bar, err, sizeof err);
            check_err(rc, err);
            if (rc == 0) {
                uint64_t cin = t.count_in > 0 ? (uint64_t)t.count_in : 0;
                if (b.to != UINT32_MAX) {
                    uint64_t want = cin + (b.to - b.start + 1) +
                                    (uint64_t)((passes ? passes : (b.start > b.from ? 2 : 1)) - 1) * span;
                    if (etude_tempomap_bar_count(out) != want)
                        abort();
                }
                if ((passes == 0) != (loop_bar != UINT64_MAX))
                    abort();
                if (loop_bar != UINT64_MAX && etude_tempomap_bar_first_beat(out, loop_bar) == UINT64_MAX)
                    abort();
                etude_tempomap_destroy(out);
            }
        }
    }
    etude_tempomap_destroy(m);
    return 0;
}
