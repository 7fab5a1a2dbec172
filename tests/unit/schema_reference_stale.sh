#!/bin/sh
# The schema reference check fails, with one line naming the file and how to regenerate it, once
# the schema no longer matches docs/graphql-schema.md; and it passes on an unchanged copy (so the
# failures below are the changes', not the copy's).
# Usage: schema_reference_stale.sh SCHEMADOC SOURCE_DIR
set -u
gen=$1
src=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-schemaref-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
fresh() {
    rm -rf "$T/schema"
    cp -r "$src/sync/schema" "$T/schema"
}
check() {
    "$gen" --schema "$T/schema/sync.graphql" --operations "$T/schema/operations" \
        --manifest "$T/schema/operations.sha256" --check "$src/docs/graphql-schema.md" --hint "regenerate it" 2>"$T/err"
}
fresh
check || fail "an unchanged copy of the schema does not match: $(cat "$T/err")"
# A field added to a type.
sed -i 's/^  maxEntityBytes: Int!$/  maxEntityBytes: Int!\n  maxStreams: Int!/' "$T/schema/sync.graphql"
grep -q maxStreams "$T/schema/sync.graphql" || fail "the test's edit did not apply"
check && fail "a new field passed the check"
[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line: $(cat "$T/err")"
grep -q "^schemadoc: .*docs/graphql-schema.md differs from the reference generated from .*sync.graphql (first at line [0-9]*); regenerate it$" "$T/err" ||
    fail "unexpected message: $(cat "$T/err")"
echo "new field: $(cat "$T/err")"
# Only a description changed.
fresh
sed -i 's/"Set for a tombstone (deletion); data is then null."/"Set for a tombstone; data is then null."/' "$T/schema/sync.graphql"
check && fail "a changed description passed the check"
echo "description: $(cat "$T/err")"
# A document changed without its manifest line: refused, naming the manifest.
fresh
sed -i 's/logout/logout # signed out/' "$T/schema/operations/Logout.graphql"
check && fail "a changed document passed the check"
grep -q "operations.sha256:[0-9]*: operations/Logout.graphql: the hash is not the document's" "$T/err" ||
    fail "unexpected message: $(cat "$T/err")"
echo "document: $(cat "$T/err")"
# A schema error names the file, line and column.
fresh
sed -i 's/^  pending: Int!$/  pending: Integer!/' "$T/schema/sync.graphql"
check && fail "an undefined type passed"
grep -q "sync.graphql:[0-9]*:[0-9]*: DeviceSyncStatus.pending: type 'Integer' is not defined" "$T/err" ||
    fail "unexpected message: $(cat "$T/err")"
echo "undefined type: $(cat "$T/err")"
echo PASS
