#!/bin/sh
# report_goals.sh - the dashboard computes goal progress, minutes per day and tempo per material in
# charts.js; the report, `etude goal progress` and `etude log summary` compute them in
# libetude-app. This runs both on the same random stores (report_goals.js gen: sessions and goals
# that mix titles, presets, file identities, renders and period boundaries; three fixed seeds, or
# ETUDE_REPORT_SEEDS) and requires them equal. Checked to fail with charts.js's matching of a
# session without identity against a goal's path removed (seed 1: a tempo goal by identity).
#   usage: report_goals.sh ETUDE_BIN WEB_ASSETS_DIR
set -eu
E=$1
W=$2
J=$(cd "$(dirname "$0")" && pwd)/report_goals.js
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-report-goals.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset XDG_DATA_HOME
for seed in ${ETUDE_REPORT_SEEDS:-1 2 3}; do
    export ETUDE_HOME="$T/home$seed"
    now=$(date +%s)000
    node "$J" gen "$seed" "$now" >"$T/s$seed.ndjson"
    "$E" import "$T/s$seed.ndjson" >/dev/null || { echo "FAIL: seed $seed: import" >&2; exit 1; }
    # goals count UTC days: should one end between the report and `goal progress`, ask both again
    for try in 1 2; do
        day=$(date -u +%F)
        "$E" report -o "$T/r$seed.html" || { echo "FAIL: seed $seed: report" >&2; exit 1; }
        "$E" goal progress --json >"$T/g$seed.json"
        "$E" log summary >"$T/m$seed.txt"
        [ "$(date -u +%F)" = "$day" ] && break
    done
    if ! TZ=UTC node "$J" check "$W/charts.js" "$T/r$seed.html" "$T/g$seed.json" "$T/m$seed.txt"; then
        echo "FAIL: seed $seed (ETUDE_REPORT_SEEDS=$seed repeats it today)" >&2
        exit 1
    fi
done
echo "report_goals: ok"
