/* fuzz_midifile.c - libFuzzer target for the Standard MIDI File parser and its part source. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etude_canon.h"
#include "etude_midifile.h"

/* The title is printable UTF-8: valid, short, without C0, DEL or C1 control characters. */
static void check_title(const char *t)
{
    size_t n = strlen(t);
    if (n > 127 || !etude_utf8_valid(t, n))
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char)t[i + 1] < 0xa0))
            abort();
    }
    if (n && (t[0] == ' ' || t[n - 1] == ' '))
        abort();
}

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
    check_title(etude_midifile_title(mf));
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
