/* etude_presets.c - presets by name: search directories, lookup, listing. */
#include "etude_presets.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etude_error.h"

#define DIRLEN 4096

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void add(char (*dirs)[DIRLEN], size_t max, size_t *n, const char *a, const char *b)
{
    if (*n >= max || !a || !*a)
        return;
    char d[DIRLEN];
    if (snprintf(d, sizeof d, "%s%s", a, b) >= (int)sizeof d)
        return;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(dirs[i], d))
            return;
    memcpy(dirs[(*n)++], d, sizeof d);
}

size_t etude_presets_dirs(char (*dirs)[DIRLEN], size_t max)
{
    size_t n = 0;
    const char *eh = getenv("ETUDE_HOME"), *xh = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (eh && *eh)
        add(dirs, max, &n, eh, "/presets");
    else if (xh && *xh)
        add(dirs, max, &n, xh, "/etude/presets");
    else if (home && *home)
        add(dirs, max, &n, home, "/.local/share/etude/presets");

    const char *xd = getenv("XDG_DATA_DIRS");
    char *list = strdup(xd && *xd ? xd : "/usr/local/share:/usr/share"), *save = NULL;
    for (char *t = list ? strtok_r(list, ":", &save) : NULL; t; t = strtok_r(NULL, ":", &save))
        if (t[0] == '/')
            add(dirs, max, &n, t, "/etude/presets");
    free(list);

    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0; /* BINDIR */
            char *up = strrchr(exe, '/');
            if (up) {
                char prefix[PATH_MAX];
                snprintf(prefix, sizeof prefix, "%.*s", (int)(up - exe), exe);
                add(dirs, max, &n, prefix[0] ? prefix : "", "/share/etude/presets");
            }
#if defined(ETUDE_BUILD_DIR) && defined(ETUDE_SOURCE_DIR)
            size_t bl = strlen(ETUDE_BUILD_DIR);
            if (!strncmp(exe, ETUDE_BUILD_DIR, bl) && (exe[bl] == '/' || exe[bl] == 0))
                add(dirs, max, &n, ETUDE_SOURCE_DIR, "/presets");
#endif
        }
    }
    return n;
}

bool etude_presets_is_name(const char *arg)
{
    size_t l = arg ? strlen(arg) : 0;
    return l && !strchr(arg, '/') && !(l >= 5 && !strcmp(arg + l - 5, ".json")) && !is_file(arg);
}

static bool schema_file(const char *name)
{
    size_t l = strlen(name);
    return l >= 12 && !strcmp(name + l - 12, ".schema.json");
}

int etude_presets_find(const char *name, char *path, size_t len, char *err, size_t errlen)
{
    static char dirs[ETUDE_PRESETS_MAX_DIRS][DIRLEN];
    size_t n = etude_presets_dirs(dirs, ETUDE_PRESETS_MAX_DIRS);
    size_t nl = strlen(name);
    const char *ext = nl > 5 && !strcmp(name + nl - 5, ".json") ? "" : ".json";
    if (!*name || strchr(name, '/') || schema_file(name)) {
        snprintf(err, errlen, "'%s' is not a preset name", name);
        return ETUDE_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char p[DIRLEN + 300];
        snprintf(p, sizeof p, "%s/%s%s", dirs[i], name, ext);
        if (is_file(p)) {
            if (snprintf(path, len, "%s", p) >= (int)len) {
                snprintf(err, errlen, "%s: path too long", p);
                return ETUDE_EINVAL;
            }
            return ETUDE_OK;
        }
    }
    size_t o = (size_t)snprintf(err, errlen, "no preset file or preset named '%s' (searched", name);
    for (size_t i = 0; i < n && o < errlen; i++)
        o += (size_t)snprintf(err + o, errlen - o, "%s %s", i ? "," : "", dirs[i]);
    if (o < errlen)
        snprintf(err + o, errlen - o, "; 'etude presets' lists them)");
    return ETUDE_ENOTFOUND;
}

typedef struct entry {
    char name[256];
    char path[DIRLEN + 300];
} entry_t;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

size_t etude_presets_list(void (*fn)(void *user, const char *name, const char *path), void *user)
{
    static char dirs[ETUDE_PRESETS_MAX_DIRS][DIRLEN];
    size_t nd = etude_presets_dirs(dirs, ETUDE_PRESETS_MAX_DIRS);
    entry_t *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < nd; i++) {
        if (!is_dir(dirs[i]))
            continue;
        DIR *d = opendir(dirs[i]);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l <= 5 || l >= 256 + 5 || strcmp(de->d_name + l - 5, ".json") || schema_file(de->d_name) ||
                de->d_name[0] == '.')
                continue;
            entry_t e;
            snprintf(e.name, sizeof e.name, "%.*s", (int)(l - 5), de->d_name);
            snprintf(e.path, sizeof e.path, "%s/%s", dirs[i], de->d_name);
            if (!is_file(e.path))
                continue;
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = !strcmp(v[k].name, e.name);
            if (seen)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 32;
                entry_t *nv = realloc(v, nc * sizeof *nv);
                if (!nv)
                    break;
                v = nv;
                cap = nc;
            }
            v[n++] = e;
        }
        if (d)
            closedir(d);
    }
    if (n)
        qsort(v, n, sizeof *v, by_name);
    for (size_t i = 0; i < n; i++)
        fn(user, v[i].name, v[i].path);
    free(v);
    return n;
}
