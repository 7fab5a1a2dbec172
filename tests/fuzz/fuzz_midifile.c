/* fuzz_midifile.c - libFuzzer target for the Standard MIDI File parser and its part source. */
#include <stddef.h>
#include <stdint.h>

#include "etude_midifile.h"

static int64_t scaled(void *ctx, uint64_t tick)
{
    (void)ctx;
    return (int64_t)(tick & 0xffffffffffull) * 3 - 100; /* some ticks map before the start */
}

static int sink(void *ctx, uint64_t pos, const etude_event_t *ev)
{
    (void)pos;
    (*(size_t *)ctx) += ev->kind;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etude_midifile_t *mf = NULL;
    etude_midifile_error_t err;
    if (etude_midifile_parse(data, size, &mf, &err) != 0)
        return 0;
    uint64_t len = etude_midifile_length_ticks(mf);
    (void)etude_midifile_seconds(mf, len);
    for (size_t p = 0; p < etude_midifile_parts(mf); p++) {
        void *src = etude_midifile_source_create(mf, p, (etude_tickmap_t){scaled, NULL});
        if (!src)
            continue;
        size_t acc = 0;
        uint64_t end = etude_midifile_source_class.length(src);
        uint64_t step = end / 7 + 1;
        for (uint64_t from = 0; from <= end && from < end + step; from += step)
            etude_midifile_source_class.expand(src, from, from + step, sink, &acc);
        etude_midifile_source_class.expand(src, 0, end + 1, sink, &acc);
        etude_midifile_source_class.destroy(src);
    }
    etude_midifile_free(mf);
    return 0;
}
