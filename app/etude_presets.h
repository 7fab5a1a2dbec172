/* etude_presets.h - presets by name: the preset directories in search order, finding a preset by its
 * name (the file name without .json), and listing every preset a name reaches.
 *
 * Search order (the first directory holding NAME.json wins; a later one's NAME is shadowed):
 *   1. $ETUDE_HOME/presets (ETUDE_HOME defaults to $XDG_DATA_HOME/etude, then ~/.local/share/etude)
 *   2. DIR/etude/presets for each DIR of $XDG_DATA_DIRS (default /usr/local/share:/usr/share)
 *   3. the install prefix's share/etude/presets, found from the running binary (BINDIR/../share/...)
 *   4. the checkout's presets/ when the running binary lies in the build tree it was built in
 *
 * Threads: every function is [control] (they read the environment and the file system).
 */
#ifndef ETUDE_PRESETS_H
#define ETUDE_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ETUDE_PRESETS_MAX_DIRS 32

/* The directories in search order (existing or not), each written to dirs[i] (len bytes each).
 * Returns how many. */
size_t etude_presets_dirs(char (*dirs)[4096], size_t max);

/* True when arg should be looked up by name: no '/', no ".json" ending (that is a file name), and
 * no file of that name in the working directory. */
bool etude_presets_is_name(const char *arg);

/* Find preset name (with or without ".json"). Returns 0 with its path in path; or ETUDE_ENOTFOUND
 * with a one-line message in err naming the directories searched. */
int etude_presets_find(const char *name, char *path, size_t len, char *err, size_t errlen);

/* Call fn once per preset name, in name order, with the path that name reaches (shadowed copies are
 * skipped; preset.schema.json and other *.schema.json are not presets). Returns the count. */
size_t etude_presets_list(void (*fn)(void *user, const char *name, const char *path), void *user);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_PRESETS_H */
