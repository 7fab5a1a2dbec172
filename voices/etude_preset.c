/* etude_preset.c - the preset loader: top-level fields, the voices list and the table of voice kinds. */
#include "etude_preset.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etude_practice.h"
#include "etude_preset_kinds.h"
#include "etude_buf.h"

/* ------------------------------------------------------------------------------------------------
 * The table of voice kinds: the one place a new kind is listed (declared in etude_preset_kinds.h,
 * each defined in its own etude_<kind>_preset.c).
 */
static const etude_preset_kind_t *const kinds[] = {
    &etude_preset_kind_click,
    &etude_preset_kind_practice,
    &etude_preset_kind_midi,
    &etude_preset_kind_drone,
    &etude_preset_kind_sample,
    NULL,
};

const etude_preset_kind_t *etude_preset_kind_find(const char *kind)
{
    for (size_t i = 0; kind && kinds[i]; i++)
        if (!strcmp(kinds[i]->kind, kind))
            return kinds[i];
    return NULL;
}

const char *etude_preset_kind_names(void)
{
    static char names[256];
    if (!names[0]) {
        size_t o = 0;
        for (size_t i = 0; kinds[i] && o < sizeof names; i++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", kinds[i]->kind);
    }
    return names;
}

/* ------------------------------------------------------------------------------------------------
 * Line numbers: cJSON keeps none, so a small walker finds the value at a path in the (valid) text.
 */

static const char *skip_ws(const char *s, unsigned *line)
{
    for (; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
        if (*s == '\n')
            (*line)++;
    return s;
}

static const char *skip_string(const char *s)
{
    for (s++; *s && *s != '"'; s++)
        if (*s == '\\' && s[1])
            s++;
    return *s ? s + 1 : s;
}

static const char *skip_value(const char *s, unsigned *line)
{
    s = skip_ws(s, line);
    if (*s == '"')
        return skip_string(s);
    if (*s == '{' || *s == '[') {
        int depth = 0;
        while (*s) {
            if (*s == '"') {
                s = skip_string(s);
                continue;
            }
            if (*s == '\n')
                (*line)++;
            if (*s == '{' || *s == '[')
                depth++;
            else if ((*s == '}' || *s == ']') && --depth == 0)
                return s + 1;
            s++;
        }
        return s;
    }
    while (*s && *s != ',' && *s != '}' && *s != ']' && *s != ' ' && *s != '\n' && *s != '\t' &&
           *s != '\r')
        s++;
    return s;
}

unsigned etude_json_line(const char *text, const char *const *path, size_t depth)
{
    unsigned line = 1;
    const char *s = skip_ws(text, &line);
    for (size_t d = 0; d < depth; d++) {
        const char *seg = path[d];
        if (*s == '{' && seg[0] != '#') {
            size_t klen = strlen(seg);
            s = skip_ws(s + 1, &line);
            bool found = false;
            while (*s == '"') {
                const char *k = s + 1;
                const char *end = skip_string(s);
                bool match = (size_t)(end - 1 - k) == klen && !memcmp(k, seg, klen);
                s = skip_ws(end, &line);
                if (*s != ':')
                    return 0;
                s = skip_ws(s + 1, &line);
                if (match) {
                    found = true;
                    break;
                }
                s = skip_ws(skip_value(s, &line), &line);
                if (*s == ',')
                    s = skip_ws(s + 1, &line);
            }
            if (!found)
                return 0;
        } else if (*s == '[' && seg[0] == '#') {
            long want = strtol(seg + 1, NULL, 10);
            s = skip_ws(s + 1, &line);
            for (long i = 0; i < want; i++) {
                if (*s == ']' || !*s)
                    return 0;
                s = skip_ws(skip_value(s, &line), &line);
                if (*s == ',')
                    s = skip_ws(s + 1, &line);
            }
            if (*s == ']' || !*s)
                return 0;
        } else {
            return 0;
        }
    }
    return line;
}

static int vreport(const etude_preset_ctx_t *ctx, const char *const *path, size_t depth,
                   const char *where, const char *fmt, va_list ap)
{
    if (!ctx->err || !ctx->errsize)
        return ETUDE_EPARSE;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* the deepest part of the path that exists */
    unsigned line = etude_json_line(ctx->text, path, depth);
    while (line == 0 && depth > 0)
        line = etude_json_line(ctx->text, path, --depth);
    if (line)
        snprintf(ctx->err, ctx->errsize, "%s:%u: %s%s%s", ctx->path, line, where, where[0] ? ": " : "", msg);
    else
        snprintf(ctx->err, ctx->errsize, "%s: %s%s%s", ctx->path, where, where[0] ? ": " : "", msg);
    /* one line, whatever bytes the keys or values held */
    for (char *c = ctx->err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return ETUDE_EPARSE;
}

static int report(const etude_preset_ctx_t *ctx, const char *const *path, size_t depth,
                  const char *where, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int report(const etude_preset_ctx_t *ctx, const char *const *path, size_t depth,
                  const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(ctx, path, depth, where, fmt, ap);
    va_end(ap);
    return rc;
}

int etude_preset_error(const etude_preset_ctx_t *ctx, const char *field, int sub, const char *fmt, ...)
{
    /* path: key [#index] field-parts... [#sub] */
    char idx[24], subs[24], fbuf[128], where[192];
    const char *path[10];
    size_t depth = 0;
    path[depth++] = ctx->key;
    size_t o = (size_t)snprintf(where, sizeof where, "%s", ctx->key);
    if (ctx->index >= 0) {
        snprintf(idx, sizeof idx, "#%d", ctx->index);
        path[depth++] = idx;
        o += (size_t)snprintf(where + o, sizeof where - o, "[%d]", ctx->index);
    }
    if (field) {
        snprintf(fbuf, sizeof fbuf, "%s", field);
        o += (size_t)snprintf(where + o, sizeof where - o, ".%s", field);
        for (char *p = fbuf; p && depth < 8;) {
            path[depth++] = p;
            p = strchr(p, '.');
            if (p)
                *p++ = 0;
        }
    }
    if (sub >= 0) {
        snprintf(subs, sizeof subs, "#%d", sub);
        path[depth++] = subs;
        if (o < sizeof where)
            snprintf(where + o, sizeof where - o, "[%d]", sub);
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(ctx, path, depth, where, fmt, ap);
    va_end(ap);
    return rc;
}

char *etude_preset_resolve(const etude_preset_ctx_t *ctx, const char *file)
{
    if (file[0] == '/' || !ctx->dir || !ctx->dir[0])
        return strdup(file);
    size_t n = strlen(ctx->dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", ctx->dir, file);
    return p;
}

/* ------------------------------------------------------------------------------------------------
 * The preset
 */

struct etude_preset {
    char *title;
    etude_preset_render_t render;
    etude_preset_voice_t *voices;
    size_t nvoices;
    etude_practice_override_t *override; /* NULL: none */
};

void etude_preset_destroy(etude_preset_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nvoices; i++)
        if (p->voices[i].kind && p->voices[i].config)
            p->voices[i].kind->free(p->voices[i].config);
    free(p->voices);
    free(p->override);
    free(p->title);
    free(p);
}

const char *etude_preset_title(const etude_preset_t *p) { return p->title; }
const etude_preset_render_t *etude_preset_render(const etude_preset_t *p) { return &p->render; }
size_t etude_preset_voice_count(const etude_preset_t *p) { return p->nvoices; }

const etude_preset_voice_t *etude_preset_voice(const etude_preset_t *p, size_t i)
{
    return i < p->nvoices ? &p->voices[i] : NULL;
}

const etude_tempomap_t *etude_preset_tempomap(const etude_preset_t *p)
{
    for (size_t i = 0; i < p->nvoices; i++) {
        const etude_preset_voice_t *v = &p->voices[i];
        if (v->kind->tempomap && v->kind->tempomap(v->config))
            return v->kind->tempomap(v->config);
    }
    return NULL;
}

static const char *const common_fields[] = {"kind", "name", "volume", "pan", "mute", "solo", NULL};
static const char *const top_fields[] = {"$schema", "title", "description", "voices", "click", "render", NULL};
static const char *const render_fields[] = {"rate", "duration", "tail", "sample_format", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

static void join(char *buf, size_t size, const char *const *a, const char *const *b)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; (k ? b : a) && (k ? b : a)[i] && o < size; i++)
            o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", (k ? b : a)[i]);
}

static int parse_voice(etude_preset_t *p, const etude_preset_ctx_t *ctx, const cJSON *obj,
                       bool implied_click)
{
    if (!cJSON_IsObject(obj))
        return etude_preset_error(ctx, NULL, -1, "expected an object {\"kind\": ..., ...}");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const etude_preset_kind_t *k;
    if (implied_click && !kind) {
        k = &etude_preset_kind_click;
    } else {
        if (!kind)
            return etude_preset_error(ctx, NULL, -1, "missing 'kind' (one of: %s)", etude_preset_kind_names());
        if (!cJSON_IsString(kind) || !(k = etude_preset_kind_find(kind->valuestring)))
            return etude_preset_error(ctx, "kind", -1, "unknown voice kind '%.40s' (expected one of: %s)",
                                      cJSON_IsString(kind) ? kind->valuestring : "?",
                                      etude_preset_kind_names());
        if (implied_click && k != &etude_preset_kind_click)
            return etude_preset_error(ctx, "kind", -1, "'click' holds a click voice; use 'voices' for others");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (!in_list(common_fields, it->string) && !in_list(k->fields, it->string)) {
            char allowed[512];
            join(allowed, sizeof allowed, common_fields, k->fields);
            return etude_preset_error(ctx, it->string, -1, "unknown field (a %s voice has: %s)",
                                      k->kind, allowed);
        }
    }
    etude_preset_voice_t v;
    memset(&v, 0, sizeof v);
    v.kind = k;
    v.volume = 1.0f;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (name && (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 63))
        return etude_preset_error(ctx, "name", -1, "expected a name of 1 to 63 characters");
    snprintf(v.name, sizeof v.name, "%s", name ? name->valuestring : k->kind);
    for (size_t i = 0; i < p->nvoices; i++)
        if (!strcmp(p->voices[i].name, v.name))
            return etude_preset_error(ctx, name ? "name" : NULL, -1,
                                      "a second voice named '%s' (give each voice its own 'name')", v.name);
    const cJSON *vol = cJSON_GetObjectItemCaseSensitive(obj, "volume");
    if (vol) {
        if (!cJSON_IsNumber(vol) || !(vol->valuedouble >= 0.0) || vol->valuedouble > 100.0)
            return etude_preset_error(ctx, "volume", -1, "expected a number from 0 to 100 (linear gain)");
        v.volume = (float)vol->valuedouble;
    }
    const cJSON *pan = cJSON_GetObjectItemCaseSensitive(obj, "pan");
    if (pan) {
        if (!cJSON_IsNumber(pan) || !(pan->valuedouble >= -1.0 && pan->valuedouble <= 1.0))
            return etude_preset_error(ctx, "pan", -1, "expected a number from -1 (left) to 1 (right)");
        v.pan = (float)pan->valuedouble;
    }
    const cJSON *mute = cJSON_GetObjectItemCaseSensitive(obj, "mute");
    if (mute) {
        if (!cJSON_IsBool(mute))
            return etude_preset_error(ctx, "mute", -1, "expected true or false");
        v.mute = cJSON_IsTrue(mute);
    }
    const cJSON *solo = cJSON_GetObjectItemCaseSensitive(obj, "solo");
    if (solo) {
        if (!cJSON_IsBool(solo))
            return etude_preset_error(ctx, "solo", -1, "expected true or false");
        v.solo = cJSON_IsTrue(solo);
    }
    int rc = k->parse(ctx, obj, &v.config);
    if (rc)
        return rc;
    etude_preset_voice_t *nv = realloc(p->voices, (p->nvoices + 1) * sizeof *nv);
    if (!nv) {
        k->free(v.config);
        return ETUDE_ENOMEM;
    }
    p->voices = nv;
    p->voices[p->nvoices++] = v;
    return 0;
}

static int parse_render(etude_preset_t *p, const etude_preset_ctx_t *top, const cJSON *r)
{
    const char *path[2] = {"render", NULL};
    if (!cJSON_IsObject(r))
        return report(top, path, 1, "render", "expected an object {\"rate\": HZ, \"duration\": SECONDS, ...}");
    const cJSON *it;
    cJSON_ArrayForEach(it, r) {
        path[1] = it->string;
        if (!in_list(render_fields, it->string))
            return report(top, path, 2, "render", "unknown field '%.40s' (expected one of: rate, "
                          "duration, tail, sample_format)", it->string);
    }
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(r, "rate"))) {
        path[1] = "rate";
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 8000 ||
            v->valuedouble > 384000)
            return report(top, path, 2, "render.rate", "expected an integer from 8000 to 384000 (Hz)");
        p->render.rate = (uint32_t)v->valuedouble;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(r, "duration"))) {
        path[1] = "duration";
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 360000)
            return report(top, path, 2, "render.duration", "expected seconds > 0 (at most 100 hours)");
        p->render.duration = v->valuedouble;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(r, "tail"))) {
        path[1] = "tail";
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 60)
            return report(top, path, 2, "render.tail", "expected seconds from 0 to 60");
        p->render.tail = v->valuedouble;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(r, "sample_format"))) {
        path[1] = "sample_format";
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "float") && strcmp(v->valuestring, "pcm24") &&
                                   strcmp(v->valuestring, "pcm16")))
            return report(top, path, 2, "render.sample_format", "expected \"float\", \"pcm24\" or \"pcm16\"");
        snprintf(p->render.sample_format, sizeof p->render.sample_format, "%s", v->valuestring);
    }
    return 0;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static int parse_text(const char *text, size_t len, const char *path, etude_preset_t **out, char *err,
                      size_t errsize);

int etude_preset_parse(const char *text, size_t len, const char *path, etude_preset_t **out, char *err,
                       size_t errsize)
{
    /* A NUL-terminated copy: cJSON checks that the value ends the text, and the line finder walks it. */
    *out = NULL;
    char *copy = malloc(len + 1);
    if (!copy)
        return ETUDE_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = 0;
    int rc = parse_text(copy, len, path, out, err, errsize);
    free(copy);
    return rc;
}

static int parse_text(const char *text, size_t len, const char *path, etude_preset_t **out, char *err,
                      size_t errsize)
{
    if (memchr(text, 0, len)) {
        unsigned line = 1;
        for (const char *s = text; *s; s++)
            line += *s == '\n';
        if (err && errsize)
            snprintf(err, errsize, "%s:%u: binary data (a NUL byte), not a JSON preset", path, line);
        return ETUDE_EPARSE;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
    if (!root) {
        if (!end)
            end = cJSON_GetErrorPtr();
        unsigned line = 1;
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        size_t rest = at;
        while (rest < len && (text[rest] == ' ' || text[rest] == '\t' || text[rest] == '\r' || text[rest] == '\n'))
            rest++;
        if (rest >= len) /* truncated: name the last line that has something on it */
            while (at > 0 && (text[at - 1] == ' ' || text[at - 1] == '\t' || text[at - 1] == '\r' ||
                              text[at - 1] == '\n'))
                at--;
        for (size_t i = 0; i < at; i++)
            line += text[i] == '\n';
        if (err && errsize) {
            if (rest >= len)
                snprintf(err, errsize, "%s:%u: malformed JSON: unexpected end of file (truncated?)", path, line);
            else {
                char near[24];
                size_t n = 0;
                for (size_t i = at; i < len && n < 16 && text[i] != '\n'; i++)
                    near[n++] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
                near[n] = 0;
                snprintf(err, errsize, "%s:%u: malformed JSON near '%s'", path, line, near);
            }
        }
        return ETUDE_EPARSE;
    }
    char *dir = dir_of(path);
    etude_preset_t *p = calloc(1, sizeof *p);
    if (!dir || !p) {
        free(dir);
        free(p);
        cJSON_Delete(root);
        return ETUDE_ENOMEM;
    }
    etude_preset_ctx_t top = {path, dir, text, "", -1, err, errsize, p};
    const char *fpath[1];
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = report(&top, fpath, 0, "", "expected a JSON object {\"title\": ..., \"voices\": [...]}");
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!in_list(top_fields, it->string)) {
            fpath[0] = it->string;
            rc = report(&top, fpath, 1, it->string, "unknown field (a preset has: $schema, title, "
                        "description, voices, click, render)");
            goto done;
        }
    }
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(root, "title");
    if (title && (!cJSON_IsString(title) || !title->valuestring[0])) {
        fpath[0] = "title";
        rc = report(&top, fpath, 1, "title", "expected a non-empty string");
        goto done;
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        fpath[0] = "description";
        rc = report(&top, fpath, 1, "description", "expected a string");
        goto done;
    }
    if (title) {
        p->title = strdup(title->valuestring);
    } else {
        const char *base = strrchr(path, '/');
        p->title = strdup(base ? base + 1 : path);
    }
    if (!p->title) {
        rc = ETUDE_ENOMEM;
        goto done;
    }
    const cJSON *voices = cJSON_GetObjectItemCaseSensitive(root, "voices");
    const cJSON *click = cJSON_GetObjectItemCaseSensitive(root, "click");
    if (!voices && !click) {
        rc = report(&top, fpath, 0, "", "no voices (give \"voices\": [{\"kind\": \"click\", ...}] or "
                    "\"click\": {...})");
        goto done;
    }
    if (click) {
        etude_preset_ctx_t c = top;
        c.key = "click";
        if ((rc = parse_voice(p, &c, click, true)))
            goto done;
    }
    if (voices) {
        fpath[0] = "voices";
        if (!cJSON_IsArray(voices) || cJSON_GetArraySize(voices) == 0) {
            rc = report(&top, fpath, 1, "voices", "expected a non-empty array of voices");
            goto done;
        }
        int i = 0;
        cJSON_ArrayForEach(it, voices) {
            etude_preset_ctx_t c = top;
            c.key = "voices";
            c.index = i++;
            if ((rc = parse_voice(p, &c, it, false)))
                goto done;
        }
    }
    const cJSON *render = cJSON_GetObjectItemCaseSensitive(root, "render");
    if (render)
        rc = parse_render(p, &top, render);
done:
    cJSON_Delete(root);
    free(dir);
    if (rc) {
        if (rc == ETUDE_ENOMEM && err && errsize)
            snprintf(err, errsize, "%s: out of memory", path);
        etude_preset_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

int etude_preset_load(const char *path, etude_preset_t **out, char *err, size_t errsize)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = etude_read_file(path, (size_t)16 << 20, "preset", &buf, &len, err, errsize);
    if (rc == ETUDE_ELIMIT)
        rc = ETUDE_EPARSE;
    if (rc == 0)
        rc = etude_preset_parse(buf, len, path, out, err, errsize);
    free(buf);
    return rc;
}

int etude_preset_from_tempomap(etude_tempomap_t *map, const char *material, etude_preset_t **out)
{
    *out = NULL;
    etude_preset_t *p = calloc(1, sizeof *p);
    if (!p)
        return ETUDE_ENOMEM;
    p->title = strdup(material ? material : "click");
    p->voices = calloc(1, sizeof *p->voices);
    const etude_preset_kind_t *click = etude_preset_kind_find("click");
    void *cfg = p->title && p->voices && click && click->config_from_tempomap ? click->config_from_tempomap(map) : NULL;
    if (!cfg) {
        etude_preset_destroy(p);
        return ETUDE_ENOMEM;
    }
    p->nvoices = 1;
    snprintf(p->voices[0].name, sizeof p->voices[0].name, "click");
    p->voices[0].kind = click;
    p->voices[0].config = cfg;
    p->voices[0].volume = 1.0f;
    *out = p;
    return 0;
}

int etude_preset_check_realtime(const etude_preset_t *p, char *err, size_t errsize)
{
    for (size_t i = 0; i < p->nvoices; i++) {
        const etude_preset_voice_t *v = &p->voices[i];
        const char *why = v->kind && v->kind->realtime_refusal ? v->kind->realtime_refusal(v->config) : NULL;
        if (why) {
            if (err && errsize)
                snprintf(err, errsize, "%s", why);
            return ETUDE_EINVAL;
        }
    }
    return 0;
}

int etude_preset_set_practice_override(etude_preset_t *p, const etude_practice_override_t *o)
{
    if (!o) {
        free(p->override);
        p->override = NULL;
        return 0;
    }
    if (!p->override && !(p->override = malloc(sizeof *p->override)))
        return ETUDE_ENOMEM;
    *p->override = *o;
    return 0;
}

int etude_preset_instantiate(const etude_preset_t *p, etude_engine_t *engine, etude_sequencer_t *seq,
                             etude_voice_id_t *ids, char *err, size_t errsize)
{
    struct etude_practice *practice = NULL;
    int rc = etude_preset_instantiate_practice(p, engine, seq, ids, &practice, err, errsize);
    etude_practice_unref(practice); /* the sources hold their own references */
    return rc;
}

int etude_preset_instantiate_practice(const etude_preset_t *p, etude_engine_t *engine, etude_sequencer_t *seq,
                                      etude_voice_id_t *ids, struct etude_practice **practice, char *err,
                                      size_t errsize)
{
    *practice = NULL;
    uint32_t rate = etude_engine_sample_rate(engine);
    if (err && errsize)
        err[0] = 0;
    for (size_t i = 0; i < p->nvoices; i++) {
        const etude_preset_voice_t *v = &p->voices[i];
        etude_preset_env_t env = {engine, seq, rate, v->name, practice, p->override};
        etude_voice_id_t id = 0;
        int rc = v->kind->instantiate(v->config, &env, &id, err, errsize);
        if (rc == 0)
            rc = etude_voice_set_gain(engine, id, v->volume);
        if (rc == 0 && v->pan != 0.0f)
            rc = etude_voice_set_pan(engine, id, v->pan);
        if (rc == 0 && v->mute)
            rc = etude_voice_set_mute(engine, id, true);
        if (rc == 0 && v->solo)
            rc = etude_voice_set_solo(engine, id, true);
        if (rc) {
            if (err && errsize && !err[0])
                snprintf(err, errsize, "voice '%s': %s", v->name, etude_strerror(rc));
            return rc;
        }
        if (ids)
            ids[i] = id;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * What the kinds share: the instantiation's practice and the JSON field helpers.
 */

etude_practice_t *etude_preset_env_practice(const etude_preset_env_t *env)
{
    return env && env->practice ? *env->practice : NULL;
}

void etude_preset_env_practice_config(const etude_preset_env_t *env, const etude_practice_config_t *cfg,
                                      etude_practice_config_t *out)
{
    if (cfg)
        *out = *cfg;
    else
        etude_practice_config_default(out);
    etude_practice_override_apply(env ? env->override : NULL, out);
}

int etude_preset_env_set_practice(const etude_preset_env_t *env, etude_practice_t *p)
{
    if (!env || !env->practice)
        return ETUDE_EINVAL;
    if (*env->practice)
        return ETUDE_ESTATE;
    *env->practice = etude_practice_ref(p);
    return ETUDE_OK;
}

int etude_preset_json_number(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name,
                             const char *field, double min, double max, bool integer, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max) ||
        (integer && v->valuedouble != floor(v->valuedouble)))
        return etude_preset_error(ctx, field, -1, "expected %s from %g to %g", integer ? "an integer" : "a number",
                                  min, max);
    *out = v->valuedouble;
    return 0;
}

int etude_preset_json_bool(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name,
                           const char *field, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return etude_preset_error(ctx, field, -1, "expected true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

int etude_preset_json_file(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *name,
                           const char *field, char **out)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return etude_preset_error(ctx, field, -1, "expected a file name");
    *out = etude_preset_resolve(ctx, v->valuestring);
    return *out ? 0 : ETUDE_ENOMEM;
}

bool etude_preset_json_has_clock(const etude_preset_ctx_t *ctx)
{
    if (strcmp(ctx->key, "voices") || ctx->index < 0)
        return false;
    cJSON *root = cJSON_Parse(ctx->text);
    const cJSON *voices = root ? cJSON_GetObjectItemCaseSensitive(root, "voices") : NULL;
    bool found = false;
    for (int i = 0; i < ctx->index && !found; i++) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(voices, i), "kind");
        found = cJSON_IsString(k) && (!strcmp(k->valuestring, "practice") || !strcmp(k->valuestring, "midi"));
    }
    cJSON_Delete(root);
    return found;
}

int etude_preset_json_only(const etude_preset_ctx_t *ctx, const cJSON *obj, const char *field,
                           const char *const *allowed, const char *list)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || !strcmp(allowed[i], it->string);
        if (!ok) {
            char f[96];
            snprintf(f, sizeof f, "%s.%.40s", field, it->string);
            return etude_preset_error(ctx, f, -1, "unknown field (expected %s)", list);
        }
    }
    return 0;
}
