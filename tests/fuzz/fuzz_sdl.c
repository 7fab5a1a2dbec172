/* fuzz_sdl.c - libFuzzer over the schema reference generator's reader (sync/schemadoc/sdl.h): each
 * input is parsed as a schema and checked, then as an operation document checked against the
 * project's schema (sync/schema/sync.graphql, read once) and against the input's own schema when
 * that one is valid. Invariants (a failure traps): the result is 0 or -1 (-2 only when out of
 * memory); a refusal leaves a one-line message starting with the file name and a line:column; a
 * success fills every name and type the reference prints. ASan finds leaks and overruns. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdl.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static sdl_schema_t project;
static int have_project;

static void check_refusal(int rc, const char *err, const char *file)
{
    CHECK(rc == -1 || rc == -2);
    if (rc == -1) {
        size_t n = strlen(file);
        CHECK(!strncmp(err, file, n) && err[n] == ':' && err[n + 1] >= '1' && err[n + 1] <= '9');
        CHECK(!strchr(err, '\n'));
    }
}

static void check_schema(const sdl_schema_t *s)
{
    for (int i = 0; i < s->ntypes; i++) {
        const sdl_type_t *t = &s->types[i];
        CHECK(t->name && t->name[0]);
        for (int f = 0; f < t->nfields; f++) {
            CHECK(t->fields[f].name);
            if (t->kind != SDL_ENUM)
                CHECK(t->fields[f].type.text && t->fields[f].type.base && strstr(t->fields[f].type.text, t->fields[f].type.base));
            for (int a = 0; a < t->fields[f].nargs; a++)
                CHECK(t->fields[f].args[a].name && t->fields[f].args[a].type.base);
        }
        for (int m = 0; m < t->nmembers; m++)
            CHECK(t->members[m]);
    }
}

static void operation(const char *text, size_t len, const sdl_schema_t *s)
{
    sdl_operation_t op;
    char err[600] = "";
    int rc = sdl_parse_operation(text, len, "op.graphql", &op, err, sizeof err);
    if (!rc) {
        CHECK(op.kind && op.name && op.nroots > 0);
        for (int i = 0; i < op.nroots; i++)
            CHECK(op.roots[i] && op.roots[i][0]);
        for (int i = 0; i < op.nvars; i++)
            CHECK(op.vars[i].name && op.vars[i].type.base);
        rc = sdl_check_operation(s, &op, "op.graphql", err, sizeof err);
    }
    if (rc)
        check_refusal(rc, err, "op.graphql");
    sdl_operation_free(&op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!have_project) {
        FILE *f = fopen(ETUDE_SCHEMA, "rb");
        CHECK(f);
        static char buf[1 << 17];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        char err[600];
        CHECK(sdl_parse_schema(buf, n, "sync.graphql", &project, err, sizeof err) == 0);
        CHECK(sdl_check_schema(&project, "sync.graphql", err, sizeof err) == 0);
        have_project = 1;
    }
    if (size > 1 << 16)
        return 0;
    const char *text = (const char *)data; /* not NUL-terminated: the reader must keep to size */
    sdl_schema_t s;
    char err[600] = "";
    int rc = sdl_parse_schema(text, size, "in.graphql", &s, err, sizeof err);
    if (!rc) {
        check_schema(&s);
        rc = sdl_check_schema(&s, "in.graphql", err, sizeof err);
    }
    if (rc)
        check_refusal(rc, err, "in.graphql");
    operation(text, size, &project);
    if (!rc)
        operation(text, size, &s);
    sdl_schema_free(&s);
    return 0;
}
