#!/bin/sh
# canon_property.sh - integration.canon_property: random JSON values (seeded; the seed is printed,
# ETUDE_CANON_SEED replays) canonicalised by libetude-common, by etude-syncd's path, by the store's
# path (canon_property.c) and by the npm package canonicalize under node (canonicalize/check.mjs,
# installed with npm ci from the lock file into a scratch directory), byte for byte.
#   usage: canon_property.sh DRIVER SOURCE_ROOT WORK_DIR
set -eu
driver=$1
src=$2
work=$3
rm -rf "$work"
mkdir -p "$work/store"
[ -n "${ETUDE_KEEP_TMP:-}" ] || trap 'rm -rf "$work"' EXIT
cp "$src/tests/integration/canonicalize/package.json" "$src/tests/integration/canonicalize/package-lock.json" \
   "$src/tests/integration/canonicalize/check.mjs" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL: npm ci canonicalize" >&2; exit 1; }
"$driver" "$work/store" "$work/inputs.txt" "$work/canon.txt"
node "$work/check.mjs" "$work/inputs.txt" "$work/canon.txt"
echo PASS
