/* click_vs_klick_onsets.c - prints the click onsets of an audio file, one frame number a line.
 *
 * An onset is the first frame whose absolute sample value (any channel) exceeds THRESHOLD after at
 * least GAP frames at or below it. Used by the click-vs-klick test to compare renders. With -l, each
 * line also gives the onset's level: the largest absolute sample value in its first 64 frames
 * (an accented click is louder than a normal one).
 * usage: click_vs_klick_onsets [-l] FILE [THRESHOLD [GAP]]     (defaults 0.02 and 240)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

int main(int argc, char **argv)
{
    const char *prog = argv[0];
    int levels = argc > 1 && !strcmp(argv[1], "-l");
    argc -= levels;
    argv += levels;
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s [-l] FILE [THRESHOLD [GAP]]\n", prog);
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
    long long frame = 0, since = -1; /* frames since the last onset while its level is measured */
    float level = 0;
    sf_count_t got;
    while ((got = sf_readf_float(f, buf, CHUNK)) > 0) {
        for (sf_count_t i = 0; i < got; i++, frame++) {
            float peak = 0;
            for (int c = 0; c < info.channels; c++)
                peak = fmaxf(peak, fabsf(buf[i * info.channels + c]));
            if (since >= 0 && ++since <= 64 && peak > level)
                level = peak;
            if (since == 64) {
                printf(" %.4f\n", level);
                since = -1;
            }
            if (peak > thr) {
                if (quiet >= gap) {
                    if (since >= 0)
                        printf(" %.4f\n", level);
                    printf(levels ? "%lld" : "%lld\n", frame);
                    if (levels)
                        since = 0, level = peak;
                }
                quiet = 0;
            } else {
                quiet++;
            }
        }
    }
    if (since >= 0)
        printf(" %.4f\n", level);
    free(buf);
    sf_close(f);
    return 0;
}
