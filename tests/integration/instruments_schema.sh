#!/bin/sh
# instruments_schema.sh - every shipped preset validates against presets/preset.schema.json (ajv, run
# by node), and presets with an unknown field, a wrong type or a bad pattern are refused by the
# schema too. ajv (pinned: 8.20.0) comes from the npm registry, installed once into the build tree.
# usage: instruments_schema.sh SRCDIR AJV_DIR
set -eu
src=$1 dir=$2
if [ ! -f "$dir/node_modules/ajv/dist/2020.js" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --silent ajv@8.20.0 >/dev/null) || { echo "FAIL: npm install ajv" >&2; exit 1; }
fi
tmp=$(mktemp -d /tmp/etude-instr-schema-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
printf '{"title": "x", "voices": [{"kind": "midi", "file": "a.mid", "progam": 3}]}' > "$tmp/unknown-field.json"
printf '{"title": "x", "voices": [{"kind": "midi", "file": "a.mid", "program": "piano"}]}' > "$tmp/wrong-type.json"
printf '{"title": "x", "voices": [{"kind": "sample", "file": "k.wav", "pattern": "x-x-"}]}' > "$tmp/bad-pattern.json"
printf '{"title": "x", "voices": [{"kind": "practice", "tempo": 90, "bars": 4, "loop": {"until": 2}}]}' > "$tmp/loop-field.json"
printf '{"title": "x", "voices": [{"kind": "drone", "note": "H2"}]}' > "$tmp/bad-note.json"
export NODE_PATH="$dir/node_modules"
presets=$(ls "$src"/presets/*.json | grep -v '/preset\.schema\.json$')
# shellcheck disable=SC2086
node "$src/tests/integration/instruments_schema.js" "$src/presets/preset.schema.json" valid $presets
node "$src/tests/integration/instruments_schema.js" "$src/presets/preset.schema.json" invalid "$tmp"/*.json
