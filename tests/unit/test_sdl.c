/* test_sdl.c - the schema reference generator's reader (sync/schemadoc/sdl.h): the project's own
 * schema and documents, descriptions (block strings dedented), the GraphQL constructs the schema
 * does not use yet, and bad input refused with FILE:LINE:COL and what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sdl.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *b = malloc(1 << 20);
    assert_non_null(b);
    *len = fread(b, 1, (1 << 20) - 1, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

static void parse_ok(const char *text, sdl_schema_t *s)
{
    char err[600];
    int rc = sdl_parse_schema(text, strlen(text), "t.graphql", s, err, sizeof err);
    if (!rc)
        rc = sdl_check_schema(s, "t.graphql", err, sizeof err);
    if (rc)
        fail_msg("%s", err);
}

/* The schema must fail with exactly this message. */
static void parse_bad(const char *text, const char *want)
{
    sdl_schema_t s;
    char err[600] = "";
    int rc = sdl_parse_schema(text, strlen(text), "t.graphql", &s, err, sizeof err);
    if (!rc)
        rc = sdl_check_schema(&s, "t.graphql", err, sizeof err);
    sdl_schema_free(&s);
    if (rc != -1)
        fail_msg("accepted (rc %d): %s", rc, text);
    if (strcmp(err, want))
        fail_msg("got  '%s'\nwant '%s'", err, want);
}

static void test_project_schema(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(ETUDE_SOURCE_DIR "/sync/schema/sync.graphql", &len);
    sdl_schema_t s;
    char err[600];
    assert_int_equal(sdl_parse_schema(text, len, "sync.graphql", &s, err, sizeof err), 0);
    assert_int_equal(sdl_check_schema(&s, "sync.graphql", err, sizeof err), 0);
    const sdl_type_t *t = sdl_find_type(&s, "DeviceSyncStatus");
    assert_non_null(t);
    assert_int_equal(t->kind, SDL_OBJECT);
    assert_string_equal(t->desc, "What one device last reported of its own sync state (reportSyncStatus).");
    assert_string_equal(t->fields[t->nfields - 1].name, "deadLetters");
    assert_string_equal(t->fields[t->nfields - 1].type.text, "[DeadLetter!]!");
    assert_string_equal(t->fields[t->nfields - 1].type.base, "DeadLetter");
    t = sdl_find_type(&s, "Query");
    assert_non_null(t);
    const sdl_field_t *f = NULL;
    for (int i = 0; i < t->nfields; i++)
        if (!strcmp(t->fields[i].name, "dashboardEntities"))
            f = &t->fields[i];
    assert_non_null(f);
    assert_int_equal(f->nargs, 3);
    assert_string_equal(f->args[0].type.text, "EntityType!");
    assert_int_equal(sdl_find_type(&s, "EntityType")->kind, SDL_ENUM);
    assert_int_equal(sdl_find_type(&s, "SyncStatusInput")->kind, SDL_INPUT);
    assert_int_equal(sdl_find_type(&s, "JSON")->kind, SDL_SCALAR);

    static const char *const ops[] = {"Login", "ReportSyncStatus", "UploadBatch", "SyncChanges", "DeviceSyncStatus"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        char path[512];
        snprintf(path, sizeof path, ETUDE_SOURCE_DIR "/sync/schema/operations/%s.graphql", ops[i]);
        size_t ol;
        char *ot = slurp(path, &ol);
        sdl_operation_t op;
        int rc = sdl_parse_operation(ot, ol, path, &op, err, sizeof err);
        if (!rc)
            rc = sdl_check_operation(&s, &op, path, err, sizeof err);
        if (rc)
            fail_msg("%s", err);
        assert_string_equal(op.name, ops[i]);
        assert_int_equal(op.nroots, 1);
        if (!strcmp(ops[i], "ReportSyncStatus")) {
            assert_string_equal(op.kind, "mutation");
            assert_string_equal(op.roots[0], "reportSyncStatus");
            assert_int_equal(op.nvars, 1);
            assert_string_equal(op.vars[0].name, "status");
            assert_string_equal(op.vars[0].type.text, "SyncStatusInput!");
        }
        sdl_operation_free(&op);
        free(ot);
    }
    sdl_schema_free(&s);
    free(text);
}

static void test_constructs(void **state)
{
    (void)state;
    sdl_schema_t s;
    parse_ok("\xef\xbb\xbf# comment\n"
             "schema { query: Root mutation: Change }\n"
             "\"\"\"\n    A root.\n\n      Indented line.\n    \"\"\"\n"
             "type Root implements Node & Named { id: ID! name: String names(\"how many\" first: Int = 10, "
             "filter: Filter = {kind: A, tags: [\"x\", \"y\"]}): [[String!]]! @deprecated(reason: \"use \\u00e9 \\\"x\\\"\") }\n"
             "interface Node { id: ID! }\ninterface Named { name: String }\n"
             "type Change { ok: Boolean old: Int @deprecated }\n"
             "union Any = | Root | Change\n"
             "enum Kind { \"the first\" A B @deprecated(reason: \"gone\") }\n"
             "input Filter { kind: Kind = A, tags: [String!], limit: Float = -1.5e3 }\n"
             "scalar Time @specifiedBy(url: \"https://example.org\")\n",
             &s);
    assert_string_equal(s.root[0], "Root");
    assert_string_equal(s.root[1], "Change");
    const sdl_type_t *r = sdl_find_type(&s, "Root");
    assert_string_equal(r->desc, "A root.\n\n  Indented line.");
    assert_int_equal(r->nmembers, 2);
    assert_string_equal(r->members[1], "Named");
    const sdl_field_t *names = &r->fields[2];
    assert_string_equal(names->type.text, "[[String!]]!");
    assert_string_equal(names->type.base, "String");
    assert_string_equal(names->deprecated, "use \xc3\xa9 \"x\"");
    assert_string_equal(names->args[0].dflt, "10");
    assert_string_equal(names->args[0].desc, "how many");
    assert_string_equal(names->args[1].dflt, "{kind: A, tags: [\"x\", \"y\"]}");
    assert_string_equal(sdl_find_type(&s, "Change")->fields[1].deprecated, "");
    assert_null(sdl_find_type(&s, "Change")->fields[0].deprecated);
    const sdl_type_t *u = sdl_find_type(&s, "Any");
    assert_int_equal(u->kind, SDL_UNION);
    assert_int_equal(u->nmembers, 2);
    const sdl_type_t *k = sdl_find_type(&s, "Kind");
    assert_string_equal(k->fields[0].desc, "the first");
    assert_string_equal(k->fields[1].deprecated, "gone");
    assert_string_equal(sdl_find_type(&s, "Filter")->fields[2].dflt, "-1.5e3");
    sdl_schema_free(&s);

    /* An operation with fragments, aliases, directives, nested arguments and variables. */
    parse_ok("type Query { a(x: Int, y: [In]): A b: Int }\ntype A { c: Int d: A }\ninput In { v: Int }\n", &s);
    static const char op_text[] =
        "query Q($x: Int = 3, $y: [In!]) @live {\n  first: a(x: $x, y: [{v: 1}]) { ...F d @skip(if: true) { c } "
        "... on A { c } }\n  b\n}\nfragment F on A { c }\n";
    sdl_operation_t op;
    char err[600];
    assert_int_equal(sdl_parse_operation(op_text, strlen(op_text), "q.graphql", &op, err, sizeof err), 0);
    assert_int_equal(sdl_check_operation(&s, &op, "q.graphql", err, sizeof err), 0);
    assert_int_equal(op.nroots, 2);
    assert_string_equal(op.roots[0], "a");
    assert_string_equal(op.roots[1], "b");
    sdl_operation_free(&op);
    /* An inline fragment's fields at the root are root fields. */
    static const char inline_text[] = "query R { ... on Query { b } }";
    assert_int_equal(sdl_parse_operation(inline_text, strlen(inline_text), "r.graphql", &op, err, sizeof err), 0);
    assert_int_equal(op.nroots, 1);
    assert_string_equal(op.roots[0], "b");
    sdl_operation_free(&op);
    assert_int_equal(sdl_parse_operation(op_text, strlen(op_text), "q.graphql", &op, err, sizeof err), 0);
    assert_string_equal(op.vars[0].dflt, "3");
    assert_string_equal(op.vars[1].type.text, "[In!]");
    sdl_operation_free(&op);
    sdl_schema_free(&s);
}

static void test_bad_schemas(void **state)
{
    (void)state;
    parse_bad("type Query { a: Int }\ntype A {\n  b: Nope\n}\n", "t.graphql:3:3: A.b: type 'Nope' is not defined");
    parse_bad("type Query { a: Int }\ntype Query { b: Int }\n",
              "t.graphql:2:1: type 'Query' is defined twice (first on line 1)");
    parse_bad("type Query { a: Int a: Int }", "t.graphql:1:21: Query.a is defined twice");
    parse_bad("type Query { a(x: Out): Int }\ntype Out { b: Int }",
              "t.graphql:1:16: Query.a(x:): 'Out' is an output type, not allowed here");
    parse_bad("type Query { a: In }\ninput In { b: Int }", "t.graphql:1:14: Query.a: 'In' is an input type, not allowed here");
    parse_bad("type A { a: Int }", "t.graphql:1:1: no query root type ('Query' is not defined)");
    parse_bad("type Query { a: Int\n", "t.graphql:2:1: expected '}' to close 'Query'");
    parse_bad("type Query { a Int }", "t.graphql:1:16: expected ':' after the field name (then its type), found 'Int'");
    parse_bad("type Query { a: [Int }", "t.graphql:1:22: expected ']' to close a list type, found '}'");
    parse_bad("type Query {}", "t.graphql:1:13: 'Query' has no fields");
    parse_bad("\"unterminated\ntype Query { a: Int }", "t.graphql:1:1: unterminated string");
    parse_bad("\"\"\"never closed\ntype Query { a: Int }", "t.graphql:1:1: unterminated block string");
    parse_bad("\"bad \\q\" type Query { a: Int }", "t.graphql:1:6: invalid escape sequence in a string");
    parse_bad("\"lone \\ud800\" type Query { a: Int }", "t.graphql:1:7: invalid \\u escape in a string");
    parse_bad("type Query { a: Int = 01 }", "t.graphql:1:21: expected a field name, found '='");
    parse_bad("input I { a: Int = 01 }", "t.graphql:1:20: a number cannot start with 0");
    parse_bad("type Query { a: Int }\nextend type Query { b: Int }",
              "t.graphql:2:1: a schema extension is not supported here (define the type whole)");
    parse_bad("type Query { a: Int } ?", "t.graphql:1:23: unexpected character '?'");
    parse_bad("type Query { a: Int } \x01", "t.graphql:1:23: unexpected byte 0x01");
    parse_bad("enum E { true }\ntype Query { a: E }", "t.graphql:1:10: 'true' cannot be an enum value");
    parse_bad("type Query { a: Int }\nunion U = Query | In\ninput In { a: Int }",
              "t.graphql:2:1: U: 'In' is not a defined object type");
    parse_bad("type Query implements Query { a: Int }", "t.graphql:1:1: Query: 'Query' is not a defined interface");
    parse_bad("scalar String\ntype Query { a: Int }", "t.graphql:1:1: 'String' is a built-in scalar; it cannot be defined");
    parse_bad("schema { query: Q }\ntype Query { a: Int }", "t.graphql:1:1: no query root type ('Q' is not defined)");
    parse_bad("input I { a: I = {a: {a: {a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]"
              "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}} }\ntype Query { a: Int }",
              "t.graphql:1:91: values nested deeper than 64");
}

static void test_bad_operations(void **state)
{
    (void)state;
    sdl_schema_t s;
    parse_ok("type Query { a(x: Int): Int b: B }\ntype B { c: Int }\ntype Mutation { m: Int }", &s);
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "o.graphql:1:1: no operation in the document"},
        {"{ a }", "o.graphql:1:1: expected query, mutation, subscription or fragment, found '{' (a trusted document names its operation)"},
        {"query Q { a }\nquery R { a }", "o.graphql:2:1: a second operation ('Q' is the document's one)"},
        {"query Q { }", "o.graphql:1:11: a selection set cannot be empty"},
        {"query Q { a(x: $v }", "o.graphql:1:19: expected an argument name, found '}'"},
        {"query Q($v: Int) { a(x: $v) ", "o.graphql:1:29: expected '}' to close a selection set"},
        {"query Q { nope }", "o.graphql:1:1: query Q: 'nope' is not a field of Query"},
        {"mutation M { a }", "o.graphql:1:1: mutation M: 'a' is not a field of Mutation"},
        {"subscription S { a }", "o.graphql:1:1: the schema has no subscription root type"},
        {"query Q($v: B) { a }", "o.graphql:1:9: variable $v: 'B' is an output type, not allowed here"},
        {"query Q($v: Int, $v: Int) { a }", "o.graphql:1:18: variable $v is defined twice"},
        {"query Q($v: Nope) { a }", "o.graphql:1:9: variable $v: type 'Nope' is not defined"},
        {"fragment F on B { c }", "o.graphql:1:1: no operation in the document (only fragments)"},
        {"query Q { a .. }", "o.graphql:1:13: unexpected '.' (did you mean '...'?)"},
        /* found by fuzz.sdl (tests/fuzz/corpus_sdl/op_root_fragments.graphql): root fields only inside
         * fragments left the operation with none; on e395305 these two were accepted so */
        {"query Q { ...F }\nfragment F on Query { a }",
         "o.graphql:1:11: a fragment spread among the operation's root fields (name them in the operation)"},
        {"query Q { ... on Query { ...F } }\nfragment F on Query { a }",
         "o.graphql:1:26: a fragment spread among the operation's root fields (name them in the operation)"},
        {"query Q { ... on Query { nope } }", "o.graphql:1:1: query Q: 'nope' is not a field of Query"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sdl_operation_t op;
        char err[600] = "";
        int rc = sdl_parse_operation(cases[i].text, strlen(cases[i].text), "o.graphql", &op, err, sizeof err);
        if (!rc)
            rc = sdl_check_operation(&s, &op, "o.graphql", err, sizeof err);
        sdl_operation_free(&op);
        if (rc != -1)
            fail_msg("accepted: %s", cases[i].text);
        if (strcmp(err, cases[i].want))
            fail_msg("%s\ngot  '%s'\nwant '%s'", cases[i].text, err, cases[i].want);
    }
    sdl_schema_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_project_schema),
        cmocka_unit_test(test_constructs),
        cmocka_unit_test(test_bad_schemas),
        cmocka_unit_test(test_bad_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
