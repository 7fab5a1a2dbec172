/* etude_sample_preset.c - the preset kind "sample": a sound file, played by a step pattern over the
 * practice's bars. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_practice.h"
#include "etude_preset_kinds.h"
#include "etude_sample.h"

typedef struct sample_preset {
    char *file;
    bool loop;
    char *pattern;
    int key;
} sample_preset_t;

static void sample_preset_free(void *config)
{
    sample_preset_t *c = config;
    if (!c)
        return;
    free(c->file);
    free(c->pattern);
    free(c);
}

static int sample_parse(const etude_preset_ctx_t *ctx, const cJSON *obj, void **config)
{
    sample_preset_t *c = calloc(1, sizeof *c);
    if (!c)
        return ETUDE_ENOMEM;
    c->key = 60;
    int rc = etude_preset_json_has_clock(ctx) ? 0
             : etude_preset_error(ctx, NULL, -1, "a sample pattern follows the bars of a practice (or midi) voice: list one before it");
    if (!rc)
        rc = etude_preset_json_file(ctx, obj, "file", "file", &c->file);
    if (!rc && !c->file)
        rc = etude_preset_error(ctx, NULL, -1, "missing 'file' (a sound file)");
    char why[300];
    if (!rc && etude_sample_check_file(c->file, why, sizeof why))
        rc = etude_preset_error(ctx, "file", -1, "%s: %s", c->file, why);
    if (!rc)
        rc = etude_preset_json_bool(ctx, obj, "loop", "loop", &c->loop);
    double k = c->key;
    if (!rc && !(rc = etude_preset_json_number(ctx, obj, "key", "key", 0, 127, true, &k)))
        c->key = (int)k;
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(obj, "pattern");
    if (!rc && pat) {
        bool ok = cJSON_IsString(pat) && pat->valuestring[0] && strlen(pat->valuestring) <= 256;
        for (const char *s = ok ? pat->valuestring : ""; *s && ok; s++)
            ok = *s == 'X' || *s == 'x' || *s == '.';
        if (!ok)
            rc = etude_preset_error(ctx, "pattern", -1, "expected 1 to 256 steps per bar of X (accent), x (hit) or . (rest)");
        else if (!(c->pattern = strdup(pat->valuestring)))
            rc = ETUDE_ENOMEM;
    }
    if (!rc && !c->pattern)
        rc = etude_preset_error(ctx, NULL, -1, "missing 'pattern' (steps per bar, e.g. \"X...x...\")");
    if (rc) {
        sample_preset_free(c);
        return rc;
    }
    *config = c;
    return 0;
}

static int sample_instantiate(void *config, const etude_preset_env_t *env, etude_voice_id_t *out, char *err,
                              size_t errsize)
{
    sample_preset_t *c = config;
    etude_practice_t *p = etude_preset_env_practice(env);
    if (!p) {
        snprintf(err, errsize, "voice '%s': a sample pattern follows the bars of a practice voice; list one before it",
                 env->name);
        return ETUDE_ESTATE;
    }
    etude_sample_config_t sc = {.path = c->file, .loop = c->loop, .key = -1};
    etude_sample_t *s = etude_sample_create(&sc);
    if (!s)
        return ETUDE_ENOMEM;
    int rc = etude_sample_probe(s);
    if (!rc)
        rc = etude_voice_add(env->engine, etude_sample_class(s), s, env->name, out);
    if (rc) {
        snprintf(err, errsize, "voice '%s': %s", env->name, etude_sample_error(s)[0] ? etude_sample_error(s) : etude_strerror(rc));
        etude_sample_free(s);
        return rc;
    }
    void *src = etude_practice_pattern_source(p, c->pattern, (uint8_t)c->key);
    rc = src ? etude_sequencer_add_source(env->seq, &etude_practice_source_class, src, *out, NULL) : ETUDE_ENOMEM;
    if (rc) {
        etude_practice_source_class.destroy(src);
        snprintf(err, errsize, "voice '%s': cannot add its source: %s", env->name, etude_strerror(rc));
    }
    return rc;
}

static const char *const sample_fields[] = {"file", "loop", "pattern", "key", NULL};

const etude_preset_kind_t etude_preset_kind_sample = {
    .kind = "sample",
    .fields = sample_fields,
    .parse = sample_parse,
    .instantiate = sample_instantiate,
    .tempomap = NULL,
    .free = sample_preset_free,
};
