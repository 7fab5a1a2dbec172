/* drone_pitch.c - the pitch and level of a steady tone in windows of an audio file (first channel).
 *
 * For each window FROM-TO (seconds) prints "HZ RMS": HZ from the rising zero crossings inside the
 * window (interpolated between samples: crossings - 1 periods between the first and the last),
 * 0 when there are fewer than two; RMS over the window. Used by the drone-under-a-map test.
 * usage: drone_pitch FILE FROM-TO...
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <sndfile.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE FROM-TO...\n", argv[0]);
        return 2;
    }
    SF_INFO info = {0};
    SNDFILE *f = sf_open(argv[1], SFM_READ, &info);
    if (!f) {
        fprintf(stderr, "%s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    float *x = malloc(sizeof(float) * (size_t)info.frames * (size_t)info.channels);
    if (!x || sf_readf_float(f, x, info.frames) != info.frames) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    sf_close(f);
    for (int a = 2; a < argc; a++) {
        double t0, t1;
        if (sscanf(argv[a], "%lf-%lf", &t0, &t1) != 2 || t0 < 0 || t1 <= t0) {
            fprintf(stderr, "%s: bad window (FROM-TO in seconds)\n", argv[a]);
            return 2;
        }
        long i0 = (long)(t0 * info.samplerate), i1 = (long)(t1 * info.samplerate);
        if (i1 > info.frames)
            i1 = (long)info.frames;
        double sum = 0, first = -1, last = -1;
        long crossings = 0;
        for (long i = i0; i < i1; i++) {
            double v = x[(size_t)i * (size_t)info.channels];
            sum += v * v;
            double prev = i > i0 ? x[(size_t)(i - 1) * (size_t)info.channels] : v;
            if (i > i0 && prev < 0 && v >= 0) {
                double t = (i - 1) + prev / (prev - v);
                if (first < 0)
                    first = t;
                last = t;
                crossings++;
            }
        }
        double hz = crossings >= 2 ? (crossings - 1) * info.samplerate / (last - first) : 0;
        printf("%.2f %.4f\n", hz, i1 > i0 ? sqrt(sum / (double)(i1 - i0)) : 0.0);
    }
    free(x);
    return 0;
}
