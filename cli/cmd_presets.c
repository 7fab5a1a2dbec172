/* cmd_presets.c - `etude presets`: the presets reachable by name, with their titles and voices. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "etude_preset.h"
#include "etude_presets.h"

const char etude_cmd_presets_usage[] = "  presets [--paths]                         the presets 'render NAME' and 'play NAME' find\n";

typedef struct list {
    bool paths;
    int bad;
} list_t;

static void show(void *user, const char *name, const char *path)
{
    list_t *l = user;
    etude_preset_t *p = NULL;
    char err[1024];
    if (etude_preset_load(path, &p, err, sizeof err) < 0) {
        printf("%-22s (unreadable: %s)\n", name, err);
        l->bad++;
        return;
    }
    char voices[512];
    size_t o = 0;
    voices[0] = 0;
    for (size_t i = 0; i < etude_preset_voice_count(p) && o < sizeof voices; i++) {
        const etude_preset_voice_t *v = etude_preset_voice(p, i);
        o += (size_t)snprintf(voices + o, sizeof voices - o, "%s%s (%s)", i ? ", " : "", v->name, v->kind->kind);
    }
    printf("%-22s %-36s %s\n", name, etude_preset_title(p), voices);
    if (l->paths)
        printf("%-22s %s\n", "", path);
    etude_preset_destroy(p);
}

int etude_cmd_presets(int argc, char **argv)
{
    list_t l = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: etude presets [--paths]\n"
                   "Lists the presets 'etude render NAME' and 'etude play NAME' find: name, title and voices\n"
                   "(--paths: and the file). Searched in order: $ETUDE_HOME/presets, $XDG_DATA_DIRS/etude/presets,\n"
                   "the install's share/etude/presets, and the checkout's presets/ from a build tree.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--paths")) {
            l.paths = true;
            continue;
        }
        fprintf(stderr, "etude presets: unknown argument '%s' (expected --paths)\n", argv[i]);
        return 2;
    }
    if (etude_presets_list(show, &l) == 0) {
        char dirs[ETUDE_PRESETS_MAX_DIRS][4096];
        size_t n = etude_presets_dirs(dirs, ETUDE_PRESETS_MAX_DIRS);
        fprintf(stderr, "etude presets: no presets found in");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s %s", i ? "," : "", dirs[i]);
        fprintf(stderr, "\n");
    }
    return 0;
}
