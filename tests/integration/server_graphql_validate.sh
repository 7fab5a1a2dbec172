#!/bin/sh
# server_graphql_validate.sh - installs graphql-js (npm ci, pinned by package-lock.json) into a scratch
# directory and validates the shipped operation documents and their manifest against the schema.
#   usage: server_graphql_validate.sh SOURCE_ROOT WORK_DIR
set -eu
src=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cp "$src/tests/integration/graphql/package.json" "$src/tests/integration/graphql/package-lock.json" \
   "$src/tests/integration/graphql/validate.mjs" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
node "$work/validate.mjs" "$src"
