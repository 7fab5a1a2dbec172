/* click_vs_klick_onsets.c - prints the click onsets of an audio file, one frame number a line.
 *
 * An onset is the first frame whose absolute sample value (any channel) exceeds THRESHOLD after at
 * least GAP frames at or below it. Used by the click-vs-klick test to compare renders.
 * usage: click_vs_klick_onsets FILE [THRESHOLD [GAP]]     (defaults 0.02 and 240)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <sndfile.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s FILE [THRESHOLD [GAP]]\n", argv[0]);
        return 2;
    }
    double thr = argc > 2 ? atof(argv[2]) : 0.02;
    long gap = argc > 3 ? atol(argv[3]) : 240;
    SF_INFO info = {0};
    SNDFILE *f = sf_open(argv[1], SFM_READ, &info);
    if (!f) {
        fprintf(stderr, "%s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    enum { CHUNK = 4096 };
    float *buf = malloc(sizeof(float) * CHUNK * (size_t)info.channels);
    if (!buf)
        return 1;
    long quiet = gap; /* the file starts in silence */
    long long frame = 0;
    sf_count_t got;
    while ((got = sf_readf_float(f, buf, CHUNK)) > 0) {
        for (sf_count_t i = 0; i < got; i++, frame++) {
            float peak = 0;
            for (int c = 0; c < info.channels; c++)
                peak = fmaxf(peak, fabsf(buf[i * info.channels + c]));
            if (peak > thr) {
                if (quiet >= gap)
                    printf("%lld\n", frame);
                quiet = 0;
            } else {
                quiet++;
            }
        }
    }
    free(buf);
    sf_close(f);
    return 0;
}
