/* schemadoc.c - the GraphQL schema reference generator: reads sync/schema/sync.graphql and the
 * trusted documents in sync/schema/operations/ and writes docs/graphql-schema.md (types, fields,
 * arguments, enums, inputs with their descriptions; each document with its SHA-256 and text).
 * A host tool run by the build (sync/schemadoc/CMakeLists.txt); `--check FILE` compares instead
 * of writing, for the test unit.schema_reference.
 *
 *   schemadoc --schema FILE --operations DIR [--manifest FILE] (-o OUT | --check FILE) [--hint TEXT]
 *
 * Exit status: 0; 1 for bad input (one line "schemadoc: FILE:LINE:COL: what") or a check that
 * found a difference; 2 for a usage error. -o writes a temp file and renames it: a failed run
 * leaves the old file whole. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etude_buf.h"
#include "etude_canon.h"
#include "etude_error.h"
#include "sdl.h"

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("schemadoc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* The whole file at path (NULL with errno set on failure); *len its length. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    int rc = etude_read_stream(f, (size_t)64 << 20, &text, len);
    int e = errno;
    fclose(f);
    errno = rc == ETUDE_ENOMEM ? ENOMEM : rc == ETUDE_ELIMIT ? EFBIG : e;
    return text;
}

/* ---- Markdown pieces ---------------------------------------------------------------------- */

/* GitHub's heading anchor: lowercase; letters, digits, '-' and '_' kept; spaces become '-'. */
static void anchor(const char *heading, char *buf, size_t size)
{
    size_t k = 0;
    for (const char *p = heading; *p && k + 1 < size; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            buf[k++] = (char)(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
            buf[k++] = c;
        else if (c == ' ')
            buf[k++] = '-';
    }
    buf[k] = 0;
}

/* Text for a table cell: '|' escaped, line breaks as <br>. */
static void cell(etude_buf_t *o, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            etude_buf_puts(o, "\\|");
        else if (*s == '\n')
            etude_buf_puts(o, "<br>");
        else
            etude_buf_put(o, s, 1);
    }
}

/* A type reference with its named type linked: \[[DeadLetter](#deadletter)!\]! */
static void typeref(etude_buf_t *o, const sdl_schema_t *s, const sdl_typeref_t *t)
{
    const char *base = strstr(t->text, t->base);
    for (const char *p = t->text; p < base; p++)
        etude_buf_puts(o, *p == '[' ? "\\[" : "");
    if (sdl_find_type(s, t->base)) {
        char a[256];
        anchor(t->base, a, sizeof a);
        etude_buf_printf(o, "[%s](#%s)", t->base, a);
    } else {
        etude_buf_puts(o, t->base);
    }
    for (const char *p = base + strlen(t->base); *p; p++)
        etude_buf_puts(o, *p == ']' ? "\\]" : *p == '!' ? "!" : "");
}

static void description_cell(etude_buf_t *o, const char *desc, const char *deprecated)
{
    cell(o, desc);
    if (deprecated) {
        etude_buf_puts(o, desc && *desc ? "<br>" : "");
        etude_buf_puts(o, "**Deprecated**");
        if (*deprecated) {
            etude_buf_puts(o, ": ");
            cell(o, deprecated);
        }
    }
}

static void paragraph(etude_buf_t *o, const char *desc)
{
    if (desc && *desc)
        etude_buf_printf(o, "%s\n\n", desc);
}

static void args_cell(etude_buf_t *o, const sdl_schema_t *s, const sdl_field_t *f)
{
    for (int a = 0; a < f->nargs; a++) {
        const sdl_value_def_t *ar = &f->args[a];
        if (a)
            etude_buf_puts(o, "<br>");
        etude_buf_printf(o, "`%s`: ", ar->name);
        typeref(o, s, &ar->type);
        if (ar->dflt) {
            etude_buf_puts(o, " = `");
            cell(o, ar->dflt);
            etude_buf_puts(o, "`");
        }
        if (ar->desc && *ar->desc) {
            etude_buf_puts(o, " (");
            cell(o, ar->desc);
            etude_buf_puts(o, ")");
        }
    }
}

static int type_cmp(const void *a, const void *b)
{
    return strcmp((*(const sdl_type_t *const *)a)->name, (*(const sdl_type_t *const *)b)->name);
}

static const char *root_name(const sdl_schema_t *s, int i)
{
    static const char *const dflt[] = {"Query", "Mutation", "Subscription"};
    return s->root[i] ? s->root[i] : dflt[i];
}

static int is_root(const sdl_schema_t *s, const sdl_type_t *t)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(t->name, root_name(s, i)))
            return 1;
    return 0;
}

/* The fields table of an object, interface or root type. */
static void fields_table(etude_buf_t *o, const sdl_schema_t *s, const sdl_type_t *t)
{
    int any_args = 0;
    for (int f = 0; f < t->nfields; f++)
        any_args |= t->fields[f].nargs > 0;
    etude_buf_puts(o, any_args ? "| field | arguments | type | description |\n|---|---|---|---|\n"
                      : "| field | type | description |\n|---|---|---|\n");
    for (int f = 0; f < t->nfields; f++) {
        const sdl_field_t *fd = &t->fields[f];
        etude_buf_printf(o, "| `%s` | ", fd->name);
        if (any_args) {
            args_cell(o, s, fd);
            etude_buf_puts(o, " | ");
        }
        typeref(o, s, &fd->type);
        etude_buf_puts(o, " | ");
        description_cell(o, fd->desc, fd->deprecated);
        etude_buf_puts(o, " |\n");
    }
    etude_buf_puts(o, "\n");
}

static void input_table(etude_buf_t *o, const sdl_schema_t *s, const sdl_type_t *t)
{
    int any_dflt = 0;
    for (int f = 0; f < t->nfields; f++)
        any_dflt |= t->fields[f].dflt != NULL;
    etude_buf_puts(o, any_dflt ? "| field | type | default | description |\n|---|---|---|---|\n"
                      : "| field | type | description |\n|---|---|---|\n");
    for (int f = 0; f < t->nfields; f++) {
        const sdl_field_t *fd = &t->fields[f];
        etude_buf_printf(o, "| `%s` | ", fd->name);
        typeref(o, s, &fd->type);
        if (any_dflt) {
            etude_buf_puts(o, " | ");
            if (fd->dflt) {
                etude_buf_puts(o, "`");
                cell(o, fd->dflt);
                etude_buf_puts(o, "`");
            }
        }
        etude_buf_puts(o, " | ");
        description_cell(o, fd->desc, fd->deprecated);
        etude_buf_puts(o, " |\n");
    }
    etude_buf_puts(o, "\n");
}

static void members_line(etude_buf_t *o, const sdl_type_t *t, const char *label)
{
    if (!t->nmembers)
        return;
    etude_buf_printf(o, "%s ", label);
    for (int m = 0; m < t->nmembers; m++) {
        char a[256];
        anchor(t->members[m], a, sizeof a);
        etude_buf_printf(o, "%s[%s](#%s)", m ? ", " : "", t->members[m], a);
    }
    etude_buf_puts(o, ".\n\n");
}

typedef struct doc {
    char *file;  /* "operations/Login.graphql" */
    char *text;
    size_t len;
    char sha[65];
    sdl_operation_t op;
} doc_t;

/* A fence longer than any run of backticks in text (at least three). */
static void fence(etude_buf_t *o, const char *text, size_t len)
{
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        run = text[i] == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    for (size_t i = 0; i < (longest < 3 ? 3 : longest + 1); i++)
        etude_buf_puts(o, "`");
}

static void write_reference(etude_buf_t *o, const sdl_schema_t *s, doc_t *docs, int ndocs)
{
    etude_buf_puts(o, "# GraphQL schema reference\n\n"
             "<!-- Generated from sync/schema/sync.graphql and sync/schema/operations/*.graphql by "
             "sync/schemadoc at build time.\n"
             "     Do not edit: change the schema, then run "
             "`cmake --build build --target graphql-schema-doc-update`. -->\n\n"
             "etude-syncd speaks GraphQL over HTTP at `POST /graphql`. [docs/server.md](server.md) is the "
             "contract: requests, authentication, errors, limits and what each operation does. This page "
             "lists the schema's types with their descriptions and the trusted documents, generated from "
             "`sync/schema/` when etude is built; the test `unit.schema_reference` fails when this copy "
             "differs from the schema.\n\n"
             "The server has no general GraphQL executor: it accepts exactly the documents below, sent as "
             "text (`query`), or by hash only (`\"extensions\": {\"persistedQuery\": {\"version\": 1, "
             "\"sha256Hash\": \"...\"}}`, the SHA-256 of the document file's exact bytes), or both.\n\n");

    const sdl_type_t **sorted = malloc(((size_t)s->ntypes + 1) * sizeof *sorted);
    if (!sorted) {
        o->oom = 1;
        return;
    }
    int n = 0;
    for (int i = 0; i < s->ntypes; i++)
        sorted[n++] = &s->types[i];
    qsort(sorted, (size_t)n, sizeof *sorted, type_cmp);

    static const struct {
        sdl_kind_t kind;
        const char *title;
    } sections[] = {
        {SDL_OBJECT, "Object types"}, {SDL_INTERFACE, "Interfaces"}, {SDL_UNION, "Unions"},
        {SDL_INPUT, "Input types"},   {SDL_ENUM, "Enums"},           {SDL_SCALAR, "Scalars"},
    };
    etude_buf_puts(o, "## Contents\n\n- [Trusted documents](#trusted-documents)\n");
    for (int i = 0; i < 3; i++) {
        const sdl_type_t *r = sdl_find_type(s, root_name(s, i));
        if (r) {
            char a[256];
            anchor(r->name, a, sizeof a);
            etude_buf_printf(o, "- [%s](#%s)\n", r->name, a);
        }
    }
    for (size_t k = 0; k < sizeof sections / sizeof *sections; k++) {
        int any = sections[k].kind == SDL_SCALAR;
        for (int i = 0; i < n && !any; i++)
            any = sorted[i]->kind == sections[k].kind && !is_root(s, sorted[i]);
        if (any) {
            char a[256];
            anchor(sections[k].title, a, sizeof a);
            etude_buf_printf(o, "- [%s](#%s)\n", sections[k].title, a);
        }
    }
    etude_buf_puts(o, "\n## Trusted documents\n\n| document | kind | root field | variables | SHA-256 |\n|---|---|---|---|---|\n");
    for (int d = 0; d < ndocs; d++) {
        const sdl_operation_t *op = &docs[d].op;
        char h[300], a[300];
        snprintf(h, sizeof h, "Document: %s", op->name);
        anchor(h, a, sizeof a);
        etude_buf_printf(o, "| [%s](#%s) | %s | ", op->name, a, op->kind);
        for (int r = 0; r < op->nroots; r++)
            etude_buf_printf(o, "%s`%s`", r ? ", " : "", op->roots[r]);
        etude_buf_puts(o, " | ");
        for (int v = 0; v < op->nvars; v++)
            etude_buf_printf(o, "%s`$%s: %s`", v ? ", " : "", op->vars[v].name, op->vars[v].type.text);
        etude_buf_printf(o, " | `%s` |\n", docs[d].sha);
    }
    etude_buf_puts(o, "\n");
    for (int d = 0; d < ndocs; d++) {
        const sdl_operation_t *op = &docs[d].op;
        int k = !strcmp(op->kind, "query") ? 0 : !strcmp(op->kind, "mutation") ? 1 : 2;
        char a[256];
        anchor(root_name(s, k), a, sizeof a);
        etude_buf_printf(o, "### Document: %s\n\n`%s` (%s) selects ", op->name, docs[d].file, op->kind);
        for (int r = 0; r < op->nroots; r++)
            etude_buf_printf(o, "%s[`%s.%s`](#%s)", r ? ", " : "", root_name(s, k), op->roots[r], a);
        etude_buf_printf(o, ".\n\nSHA-256: `%s`\n\n", docs[d].sha);
        if (op->nvars) {
            int any_dflt = 0;
            for (int v = 0; v < op->nvars; v++)
                any_dflt |= op->vars[v].dflt != NULL;
            etude_buf_puts(o, any_dflt ? "| variable | type | default |\n|---|---|---|\n" : "| variable | type |\n|---|---|\n");
            for (int v = 0; v < op->nvars; v++) {
                etude_buf_printf(o, "| `$%s` | ", op->vars[v].name);
                typeref(o, s, &op->vars[v].type);
                if (any_dflt) {
                    etude_buf_puts(o, " | ");
                    if (op->vars[v].dflt) {
                        etude_buf_puts(o, "`");
                        cell(o, op->vars[v].dflt);
                        etude_buf_puts(o, "`");
                    }
                }
                etude_buf_puts(o, " |\n");
            }
            etude_buf_puts(o, "\n");
        }
        fence(o, docs[d].text, docs[d].len);
        etude_buf_puts(o, "graphql\n");
        etude_buf_put(o, docs[d].text, docs[d].len);
        if (docs[d].len && docs[d].text[docs[d].len - 1] != '\n')
            etude_buf_puts(o, "\n");
        fence(o, docs[d].text, docs[d].len);
        etude_buf_puts(o, "\n\n");
    }

    for (int i = 0; i < 3; i++) {
        const sdl_type_t *r = sdl_find_type(s, root_name(s, i));
        if (!r)
            continue;
        etude_buf_printf(o, "## %s\n\n", r->name);
        paragraph(o, r->desc);
        fields_table(o, s, r);
    }
    for (size_t k = 0; k < sizeof sections / sizeof *sections; k++) {
        int any = sections[k].kind == SDL_SCALAR;
        for (int i = 0; i < n && !any; i++)
            any = sorted[i]->kind == sections[k].kind && !is_root(s, sorted[i]);
        if (!any)
            continue;
        etude_buf_printf(o, "## %s\n\n", sections[k].title);
        for (int i = 0; i < n; i++) {
            const sdl_type_t *t = sorted[i];
            if (t->kind != sections[k].kind || is_root(s, t))
                continue;
            etude_buf_printf(o, "### %s\n\n", t->name);
            paragraph(o, t->desc);
            switch (t->kind) {
            case SDL_OBJECT:
            case SDL_INTERFACE:
                members_line(o, t, "Implements");
                if (t->nfields)
                    fields_table(o, s, t);
                break;
            case SDL_UNION: members_line(o, t, "One of"); break;
            case SDL_INPUT:
                if (t->nfields)
                    input_table(o, s, t);
                break;
            case SDL_ENUM:
                etude_buf_puts(o, "| value | description |\n|---|---|\n");
                for (int f = 0; f < t->nfields; f++) {
                    etude_buf_printf(o, "| `%s` | ", t->fields[f].name);
                    description_cell(o, t->fields[f].desc, t->fields[f].deprecated);
                    etude_buf_puts(o, " |\n");
                }
                etude_buf_puts(o, "\n");
                break;
            case SDL_SCALAR: break;
            }
        }
        if (sections[k].kind == SDL_SCALAR)
            etude_buf_puts(o, "GraphQL's built-in scalars: `Int` (32-bit signed), `Float` (double), `String` (UTF-8), "
                     "`Boolean`, `ID` (a string).\n");
    }
    free(sorted);
}

/* ---- documents and the manifest ----------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void docs_free(doc_t *docs, int n)
{
    for (int i = 0; i < n; i++) {
        free(docs[i].file);
        free(docs[i].text);
        sdl_operation_free(&docs[i].op);
    }
    free(docs);
}

/* Reads every DIR/NAME.graphql in name order, parses and checks it against s. */
static int read_docs(const char *dir, const sdl_schema_t *s, doc_t **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(dir);
    if (!d)
        return die("%s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 8 || strcmp(e->d_name + l - 8, ".graphql"))
            continue;
        char **p = realloc(names, (size_t)(n + 1) * sizeof *names);
        if (!p || !(p[n] = strdup(e->d_name))) {
            names = p ? p : names;
            rc = die("out of memory");
            break;
        }
        names = p;
        n++;
    }
    closedir(d);
    if (!rc && n == 0)
        rc = die("%s: no *.graphql documents", dir);
    if (rc) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    doc_t *docs = calloc((size_t)n, sizeof *docs);
    for (int i = 0; docs && !rc && i < n; i++) {
        char path[4096], err[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        doc_t *dc = &docs[i];
        *nout = i + 1;
        size_t fl = strlen(names[i]) + 12;
        dc->file = malloc(fl);
        if (dc->file)
            snprintf(dc->file, fl, "operations/%s", names[i]);
        dc->text = slurp(path, &dc->len);
        if (!dc->file || !dc->text) {
            rc = die("%s: %s", path, strerror(errno));
            break;
        }
        etude_sha256_hex(dc->text, dc->len, dc->sha);
        if (sdl_parse_operation(dc->text, dc->len, path, &dc->op, err, sizeof err) ||
            sdl_check_operation(s, &dc->op, path, err, sizeof err)) {
            rc = die("%s", err);
            break;
        }
        size_t stem = strlen(names[i]) - 8;
        if (strlen(dc->op.name) != stem || strncmp(dc->op.name, names[i], stem))
            rc = die("%s:%d:%d: the operation is named '%s'; a trusted document's operation is named as its file",
                     path, dc->op.line, dc->op.col, dc->op.name);
    }
    if (!docs)
        rc = die("out of memory");
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    *out = docs;
    return rc;
}

/* Every document has its line in the manifest (sha256sum format) with the same hash, and the
 * manifest names no other. */
static int check_manifest(const char *path, const doc_t *docs, int n)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        return die("%s: %s", path, strerror(errno));
    int *seen = calloc((size_t)n + 1, sizeof *seen);
    int rc = seen ? 0 : die("out of memory"), line = 0;
    static const char regen[] = "regenerate it with (cd sync/schema && sha256sum operations/*.graphql > operations.sha256)";
    for (char *p = text, *nl; !rc && p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        line++;
        if (!*p)
            continue;
        char hash[65], file[300];
        if (sscanf(p, "%64[0-9a-f]  %299s", hash, file) != 2 || strlen(hash) != 64) {
            rc = die("%s:%d: expected 'SHA256  operations/NAME.graphql'", path, line);
            break;
        }
        int found = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(docs[i].file, file))
                found = i;
        if (found < 0)
            rc = die("%s:%d: %s: no such document; %s", path, line, file, regen);
        else if (strcmp(docs[found].sha, hash))
            rc = die("%s:%d: %s: the hash is not the document's (%s); %s", path, line, file, docs[found].sha, regen);
        else
            seen[found] = 1;
    }
    for (int i = 0; !rc && i < n; i++)
        if (!seen[i])
            rc = die("%s: %s is not listed; %s", path, docs[i].file, regen);
    free(seen);
    free(text);
    return rc;
}

static int write_atomic(const char *path, const char *text, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return die("%s: %s", tmp, strerror(errno));
    int ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return die("%s: %s", path, strerror(e));
    }
    return 0;
}

static int usage(const char *why)
{
    fprintf(stderr,
            "schemadoc: %s\nusage: schemadoc --schema FILE --operations DIR [--manifest FILE] "
            "(-o OUT | --check FILE) [--hint TEXT]\n",
            why);
    return 2;
}

int main(int argc, char **argv)
{
    const char *schema = NULL, *ops = NULL, *manifest = NULL, *outp = NULL, *check = NULL, *hint = NULL;
    for (int i = 1; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--schema")       ? &schema
                           : !strcmp(argv[i], "--operations") ? &ops
                           : !strcmp(argv[i], "--manifest")   ? &manifest
                           : !strcmp(argv[i], "-o")           ? &outp
                           : !strcmp(argv[i], "--check")      ? &check
                           : !strcmp(argv[i], "--hint")       ? &hint
                                                              : NULL;
        if (!dst) {
            char b[300];
            snprintf(b, sizeof b, "unknown argument '%.200s'", argv[i]);
            return usage(b);
        }
        if (i + 1 >= argc) {
            char b[300];
            snprintf(b, sizeof b, "%.200s needs a value", argv[i]);
            return usage(b);
        }
        *dst = argv[++i];
    }
    if (!schema || !ops)
        return usage("--schema and --operations are required");
    if (!outp == !check)
        return usage("give exactly one of -o and --check");

    size_t len;
    char *text = slurp(schema, &len);
    if (!text)
        return die("%s: %s", schema, strerror(errno));
    sdl_schema_t s;
    char err[600];
    int rc = sdl_parse_schema(text, len, schema, &s, err, sizeof err);
    if (!rc)
        rc = sdl_check_schema(&s, schema, err, sizeof err);
    free(text);
    if (rc) {
        sdl_schema_free(&s);
        return die("%s", err);
    }
    doc_t *docs = NULL;
    int ndocs = 0;
    rc = read_docs(ops, &s, &docs, &ndocs);
    if (!rc && manifest)
        rc = check_manifest(manifest, docs, ndocs);
    etude_buf_t o = {0};
    if (!rc) {
        write_reference(&o, &s, docs, ndocs);
        if (o.oom)
            rc = die("out of memory");
    }
    docs_free(docs, ndocs);
    sdl_schema_free(&s);
    if (!rc && outp)
        rc = write_atomic(outp, o.p, o.n);
    if (!rc && check) {
        size_t have_len = 0;
        char *have = slurp(check, &have_len);
        if (!have) {
            rc = die("%s: %s; %s", check, strerror(errno), hint ? hint : "regenerate it");
        } else if (have_len != o.n || memcmp(have, o.p, o.n)) {
            int line = 1;
            for (size_t i = 0; i < have_len && i < o.n && have[i] == o.p[i]; i++)
                line += have[i] == '\n';
            rc = die("%s differs from the reference generated from %s (first at line %d); %s", check, schema, line,
                     hint ? hint : "regenerate it");
        }
        free(have);
    }
    etude_buf_free(&o);
    return rc;
}
