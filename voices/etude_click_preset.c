/* etude_click_preset.c - the preset kind "click": a click voice playing a klick tempo map (inline
 * lines or a map file), with a beat pattern for the map's lines, built-in or sampled sounds and
 * accent levels. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "etude_click.h"
#include "etude_preset_kinds.h"
#include "etude_tempomap.h"

typedef struct click_preset {
    etude_tempomap_t *map;
    char *sound, *normal_file, *accent_file;
    float accent_gain, normal_gain;
    int emphasis;
} click_preset_t;

static void preset_free(void *config)
{
    click_preset_t *p = config;
    if (!p)
        return;
    etude_tempomap_destroy(p->map);
    free(p->sound);
    free(p->normal_file);
    free(p->accent_file);
    free(p);
}

static click_preset_t *preset_new(void)
{
    click_preset_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->accent_gain = p->normal_gain = 1.0f;
    p->sound = strdup("beep");
    if (!p->sound) {
        free(p);
        return NULL;
    }
    return p;
}

static void *preset_from_tempomap(etude_tempomap_t *map)
{
    click_preset_t *p = preset_new();
    if (p)
        p->map = map;
    return p;
}

/* The tempo-map parser's message ":LINE: text" or ": text" split into line and text. */
static const char *split_map_error(const char *e, unsigned *line)
{
    *line = 0;
    if (e[0] == ':' && e[1] >= '0' && e[1] <= '9') {
        char *end;
        *line = (unsigned)strtoul(e + 1, &end, 10);
        e = end;
    }
    if (e[0] == ':')
        e++;
    while (*e == ' ')
        e++;
    return e;
}

static int parse_inline_map(const etude_preset_ctx_t *ctx, const cJSON *map, click_preset_t *p)
{
    char *text;
    if (cJSON_IsString(map)) {
        text = strdup(map->valuestring);
        if (!text)
            return ETUDE_ENOMEM;
    } else if (cJSON_IsArray(map)) {
        size_t len = 1;
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, map) {
            if (!cJSON_IsString(it))
                return etude_preset_error(ctx, "map", i, "expected a string (one tempo-map line)");
            if (strchr(it->valuestring, '\n'))
                return etude_preset_error(ctx, "map", i, "one tempo-map line per string, without newlines");
            len += strlen(it->valuestring) + 1;
            i++;
        }
        text = malloc(len);
        if (!text)
            return ETUDE_ENOMEM;
        size_t o = 0;
        cJSON_ArrayForEach(it, map) {
            size_t l = strlen(it->valuestring);
            memcpy(text + o, it->valuestring, l);
            text[o + l] = '\n';
            o += l + 1;
        }
        text[o] = 0;
    } else {
        return etude_preset_error(ctx, "map", -1, "expected an array of tempo-map lines or a string");
    }
    char merr[512];
    int rc = etude_tempomap_parse(text, strlen(text), "", &p->map, merr, sizeof merr);
    free(text);
    if (rc == ETUDE_EPARSE) {
        unsigned line;
        const char *msg = split_map_error(merr, &line);
        if (cJSON_IsArray(map) && line > 0)
            return etude_preset_error(ctx, "map", (int)line - 1, "%s", msg);
        if (line > 0)
            return etude_preset_error(ctx, "map", -1, "line %u: %s", line, msg);
        return etude_preset_error(ctx, "map", -1, "%s", msg);
    }
    return rc;
}

static int parse_gain(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0) || v->valuedouble > 100.0) {
        char field[32];
        snprintf(field, sizeof field, "accents.%s", name);
        return etude_preset_error(ctx, field, -1, "expected a number from 0 to 100 (linear gain)");
    }
    *out = (float)v->valuedouble;
    return 0;
}

static int check_readable(const etude_preset_ctx_t *ctx, const char *field, const char *file,
                          char **out)
{
    *out = etude_preset_resolve(ctx, file);
    if (!*out)
        return ETUDE_ENOMEM;
    if (access(*out, R_OK) != 0)
        return etude_preset_error(ctx, field, -1, "'%s': cannot read: %s", *out, strerror(errno));
    return 0;
}

static int preset_parse(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config)
{
    click_preset_t *p = preset_new();
    if (!p)
        return ETUDE_ENOMEM;
    int rc = 0;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(obj, "map");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(obj, "map_file");
    const cJSON *sound = cJSON_GetObjectItemCaseSensitive(obj, "sound");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(obj, "accents");
    if (map && file)
        rc = etude_preset_error(ctx, "map_file", -1, "give 'map' or 'map_file', not both");
    else if (!map && !file)
        rc = etude_preset_error(ctx, NULL, -1, "missing 'map' (tempo-map lines) or 'map_file'");
    else if (map)
        rc = parse_inline_map(ctx, map, p);
    else if (!cJSON_IsString(file) || !file->valuestring[0])
        rc = etude_preset_error(ctx, "map_file", -1, "expected a file name");
    else {
        char *path = etude_preset_resolve(ctx, file->valuestring);
        char merr[512];
        rc = path ? etude_tempomap_load(path, &p->map, merr, sizeof merr) : ETUDE_ENOMEM;
        free(path);
        if (rc == ETUDE_EIO)
            rc = etude_preset_error(ctx, "map_file", -1, "%s", merr);
        else if (rc == ETUDE_EPARSE && ctx->err && ctx->errsize)
            snprintf(ctx->err, ctx->errsize, "%s", merr); /* names the map file and its line (one line) */
    }
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(obj, "pattern");
    if (rc == 0 && pattern) {
        if (!cJSON_IsString(pattern))
            rc = etude_preset_error(ctx, "pattern", -1, "expected klick's beat pattern: X (accent), x (normal) or "
                                    ". (silent) for each beat of a bar, e.g. \"X..x..\" to count 6/8 in two");
        else if ((rc = etude_tempomap_apply_pattern(p->map, pattern->valuestring)) == ETUDE_EINVAL)
            rc = etude_preset_error(ctx, "pattern", -1, "expected 1 to %u characters, each X (accent), x (normal) "
                                    "or . (silent), e.g. \"X..x..\" to count 6/8 in two", ETUDE_TEMPOMAP_MAX_BEATS);
        else if (rc == 0)
            rc = etude_preset_error(ctx, "pattern", -1, "no line of the map has %zu beats without a pattern of its "
                                    "own (the pattern gives one character per beat of a bar)",
                                    strlen(pattern->valuestring));
        else if (rc > 0)
            rc = 0;
    }
    if (rc == 0 && sound) {
        if (cJSON_IsString(sound)) {
            if (!etude_click_builtin_exists(sound->valuestring))
                rc = etude_preset_error(ctx, "sound", -1, "unknown built-in sound '%.40s' (expected "
                                        "beep, wood, square, or {\"normal\": FILE, \"accent\": FILE})",
                                        sound->valuestring);
            else {
                free(p->sound);
                p->sound = strdup(sound->valuestring);
                rc = p->sound ? 0 : ETUDE_ENOMEM;
            }
        } else if (cJSON_IsObject(sound)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, sound) {
                if (strcmp(it->string, "normal") && strcmp(it->string, "accent")) {
                    rc = etude_preset_error(ctx, "sound", -1, "unknown field '%.40s' (expected normal, accent)",
                                            it->string);
                    break;
                }
                if (!cJSON_IsString(it) || !it->valuestring[0]) {
                    char field[32];
                    snprintf(field, sizeof field, "sound.%s", it->string);
                    rc = etude_preset_error(ctx, field, -1, "expected a sound file name");
                    break;
                }
            }
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(sound, "normal");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(sound, "accent");
            if (rc == 0 && !n)
                rc = etude_preset_error(ctx, "sound", -1, "missing 'normal' (the sound file of normal clicks)");
            if (rc == 0)
                rc = check_readable(ctx, "sound.normal", n->valuestring, &p->normal_file);
            if (rc == 0 && a)
                rc = check_readable(ctx, "sound.accent", a->valuestring, &p->accent_file);
        } else {
            rc = etude_preset_error(ctx, "sound", -1, "expected a built-in sound name or "
                                    "{\"normal\": FILE, \"accent\": FILE}");
        }
    }
    if (rc == 0 && acc) {
        if (!cJSON_IsObject(acc)) {
            rc = etude_preset_error(ctx, "accents", -1, "expected {\"accent\": GAIN, \"normal\": GAIN, "
                                    "\"mode\": \"pattern\"|\"none\"|\"all\"}");
        } else {
            const cJSON *it;
            cJSON_ArrayForEach(it, acc) {
                if (strcmp(it->string, "accent") && strcmp(it->string, "normal") && strcmp(it->string, "mode")) {
                    rc = etude_preset_error(ctx, "accents", -1,
                                            "unknown field '%.40s' (expected accent, normal, mode)", it->string);
                    break;
                }
            }
            if (rc == 0)
                rc = parse_gain(ctx, acc, "accent", &p->accent_gain);
            if (rc == 0)
                rc = parse_gain(ctx, acc, "normal", &p->normal_gain);
            const cJSON *mode = cJSON_GetObjectItemCaseSensitive(acc, "mode");
            if (rc == 0 && mode) {
                const char *m = cJSON_IsString(mode) ? mode->valuestring : "";
                if (!strcmp(m, "pattern"))
                    p->emphasis = ETUDE_CLICK_EMPHASIS_PATTERN;
                else if (!strcmp(m, "none"))
                    p->emphasis = ETUDE_CLICK_EMPHASIS_NONE;
                else if (!strcmp(m, "all"))
                    p->emphasis = ETUDE_CLICK_EMPHASIS_ALL;
                else
                    rc = etude_preset_error(ctx, "accents.mode", -1,
                                            "expected \"pattern\", \"none\" or \"all\"");
            }
        }
    }
    if (rc) {
        preset_free(p);
        return rc;
    }
    *config = p;
    return 0;
}

static int preset_instantiate(void *config, const etude_preset_env_t *env, etude_voice_id_t *out,
                              char *err, size_t errsize)
{
    click_preset_t *p = config;
    etude_click_config_t cfg;
    etude_click_config_default(&cfg);
    cfg.sound = p->sound;
    cfg.normal_file = p->normal_file;
    cfg.accent_file = p->accent_file;
    cfg.accent_gain = p->accent_gain;
    cfg.normal_gain = p->normal_gain;
    cfg.emphasis = p->emphasis;
    void *voice = NULL, *src = NULL;
    int rc = etude_click_create(&cfg, env->rate, &voice, err, errsize);
    if (rc)
        return rc;
    rc = etude_voice_add(env->engine, &etude_click_voice_class, voice, env->name, out);
    if (rc) {
        etude_click_free(voice);
        snprintf(err, errsize, "voice '%s': cannot add: %s", env->name, etude_strerror(rc));
        return rc;
    }
    rc = etude_click_source_create(p->map, env->rate, &src);
    if (rc == 0)
        rc = etude_sequencer_add_source(env->seq, &etude_click_source_class, src, *out, NULL);
    if (rc) {
        etude_click_source_free(src);
        snprintf(err, errsize, "voice '%s': cannot add its click source: %s", env->name,
                 etude_strerror(rc));
    }
    return rc;
}

static const etude_tempomap_t *preset_tempomap(const void *config)
{
    return ((const click_preset_t *)config)->map;
}

static const char *const click_fields[] = {"map", "map_file", "pattern", "sound", "accents", NULL};

const etude_preset_kind_t etude_preset_kind_click = {
    .kind = "click",
    .fields = click_fields,
    .parse = preset_parse,
    .instantiate = preset_instantiate,
    .tempomap = preset_tempomap,
    .free = preset_free,
    .config_from_tempomap = preset_from_tempomap,
};
