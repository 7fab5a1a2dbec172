#!/bin/sh
# bench_server.sh - starts etude-syncd on a free loopback port with a fresh database and runs the
# bench_server load generator against it. ETUDE_BENCH_BATCHES (default 20 per client) and
# ETUDE_BENCH_CLIENTS (default 2) size the run.
#   usage: bench_server.sh ETUDE_SYNCD BENCH_SERVER SOURCE_DIR
set -eu
syncd=$1
bench=$2
src=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/etude-syncd-bench.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
printf 'bench-pw\n' | "$syncd" user add bench --password-stdin --db "$dir/syncd.db" 2>/dev/null
"$syncd" --listen 127.0.0.1:0 --db "$dir/syncd.db" --ready-file "$dir/ready" --exit-with-parent 2>"$dir/log" &
pid=$!
i=0
while [ ! -f "$dir/ready" ]; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then cat "$dir/log" >&2; exit 1; fi
    sleep 0.05
done
"$bench" "http://$(cat "$dir/ready")/graphql" bench bench-pw "$src/sync/schema/operations" \
    "${ETUDE_BENCH_BATCHES:-20}" "${ETUDE_BENCH_CLIENTS:-2}"
kill -TERM "$pid"
wait "$pid"
pid=
