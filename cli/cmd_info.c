/* cmd_info.c - `etude info FILE|NAME`: what a MIDI file, a preset or a tempo map holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "etude_material.h"

const char etude_cmd_info_usage[] = "  info (FILE.mid | PRESET | MAP)              parts, voices, bars, tempi and length\n";

int etude_cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: etude info (FILE.mid | PRESET | MAP)\n"
                   "Describes practice material: a MIDI file's parts (names, channels, programs, notes), bars,\n"
                   "tempi and length; a preset's title and voices (a file, or a name 'etude presets' lists);\n"
                   "a klick tempo map's bars, labels, tempi and length.\n");
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "etude info: unknown option '%s' (expected a file or preset name)\n", argv[i]);
            return 2;
        }
        if (path) {
            fprintf(stderr, "etude info: one file at a time ('%s' and '%s')\n", path, argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "etude info: give a MIDI file, a preset or a tempo map\n");
        return 2;
    }
    char found[4400], err[2048];
    if (!(path = cli_preset_path("info", path, found, sizeof found)))
        return 1;
    char *text = NULL;
    if (etude_material_describe(path, &text, err, sizeof err) < 0) {
        fprintf(stderr, "etude info: %s\n", err);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}
