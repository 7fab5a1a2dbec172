/* sdl.h - a reader of GraphQL schema (SDL) and operation documents, enough to document them: the
 * type system's definitions with their descriptions, and an operation's kind, name, variables and
 * root fields. It checks what a reference needs to be right (every name it links is defined, no
 * name defined twice, the documents' root fields and variable types exist) and leaves full
 * validation to graphql-js (server.graphql_documents). Used by the schema reference generator
 * (schemadoc.c) at build time, a host tool; not linked into etude or etude-syncd.
 *
 * Threads: [any]; no shared state. Errors: 0, or -1 with a one-line message "FILE:LINE:COL: what"
 * in the caller's err buffer (-2 when out of memory). Everything a parse returns is freed by the
 * matching *_free() function.
 */
#ifndef ETUDE_SDL_H
#define ETUDE_SDL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A reference to a type as written ("[DeadLetter!]!") and the named type under it ("DeadLetter"). */
typedef struct sdl_typeref {
    char *text;
    char *base;
} sdl_typeref_t;

/* An argument, an input field or a variable. */
typedef struct sdl_value_def {
    char *name;
    char *desc;     /* NULL when none */
    sdl_typeref_t type;
    char *dflt;     /* the default value as written (on one line), NULL when none */
    int line, col;
} sdl_value_def_t;

/* A field of an object or interface type, an input field (no args), or an enum value (no type). */
typedef struct sdl_field {
    char *name;
    char *desc;
    sdl_typeref_t type; /* text NULL for an enum value */
    sdl_value_def_t *args;
    int nargs;
    char *deprecated; /* @deprecated's reason ("" without one), NULL when not deprecated */
    char *dflt;       /* an input field's default, NULL when none */
    int line, col;
} sdl_field_t;

typedef enum sdl_kind {
    SDL_SCALAR,
    SDL_OBJECT,
    SDL_INTERFACE,
    SDL_UNION,
    SDL_ENUM,
    SDL_INPUT,
} sdl_kind_t;

typedef struct sdl_type {
    sdl_kind_t kind;
    char *name;
    char *desc;
    sdl_field_t *fields; /* fields, input fields or enum values */
    int nfields;
    char **members; /* union members, or the interfaces an object implements */
    int nmembers;
    int line, col;
} sdl_type_t;

typedef struct sdl_schema {
    sdl_type_t *types; /* in the order of the file */
    int ntypes;
    char *root[3];     /* query, mutation, subscription type names (NULL: none) */
} sdl_schema_t;

/* One executable document: its (first and only) operation. */
typedef struct sdl_operation {
    char *kind; /* "query", "mutation" or "subscription" */
    char *name;
    sdl_value_def_t *vars;
    int nvars;
    char **roots; /* the root fields it selects (field names, not aliases), in order */
    int nroots;
    int line, col;
} sdl_operation_t;

/* [any] Parse the SDL text (len bytes, need not be NUL-terminated) read from file (for messages)
 * into *out (zeroed first; free with sdl_schema_free() whatever the result). Schema extensions
 * and directive definitions are refused by name. */
int sdl_parse_schema(const char *text, size_t len, const char *file, sdl_schema_t *out, char *err, size_t errsize);

/* [any] Check a parsed schema: no type, field, argument or enum value defined twice, every type
 * referenced defined (or one of Int, Float, String, Boolean, ID), arguments and input fields of
 * input types, fields of output types, union members objects, implemented types interfaces, and
 * the root types objects. */
int sdl_check_schema(const sdl_schema_t *s, const char *file, char *err, size_t errsize);

/* [any] Free what a schema holds (not s itself). NULL accepted. */
void sdl_schema_free(sdl_schema_t *s);

/* [any] Parse one executable document (exactly one named operation; fragments allowed) into *out
 * (zeroed first; free with sdl_operation_free() whatever the result). */
int sdl_parse_operation(const char *text, size_t len, const char *file, sdl_operation_t *out, char *err,
                        size_t errsize);

/* [any] Check an operation against the schema: its root type exists, every root field is a field
 * of it, every variable's type is a defined input type. */
int sdl_check_operation(const sdl_schema_t *s, const sdl_operation_t *op, const char *file, char *err,
                        size_t errsize);

/* [any] Free what an operation holds (not op itself). NULL accepted. */
void sdl_operation_free(sdl_operation_t *op);

/* [any] The type named name, or NULL. */
const sdl_type_t *sdl_find_type(const sdl_schema_t *s, const char *name);

/* [any] Nonzero for the built-in scalars Int, Float, String, Boolean, ID. */
int sdl_builtin_scalar(const char *name);

#ifdef __cplusplus
}
#endif

#endif
