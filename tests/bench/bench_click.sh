#!/bin/sh
# bench_click.sh - a benchmark, not a timed test: renders the same one-hour tempo map with
# `etude render` and with `klick -W` in the same run and prints both wall times and their ratio.
# klick writes mono 16-bit; etude writes stereo, so it is timed both as 32-bit float (its default)
# and as 16-bit PCM. Each is run RUNS times (default 3) and the best time is kept. etude leaves
# silence as holes in the file (cli/cli_sparse.c), so its files are listed with the disk space they
# take besides their length.
# usage: bench_click.sh ETUDE MAP [RUNS]
set -eu
etude=$1 map=$2 runs=${3:-3}
command -v klick > /dev/null || { echo "bench_click: klick is not installed"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-bench-click.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"

now() { date +%s.%N; }
# best CMD...: the shortest wall time of $runs runs, in seconds
best() {
    b=
    i=0
    while [ "$i" -lt "$runs" ]; do
        t0=$(now)
        "$@" > /dev/null 2>&1 || { echo "bench_click: failed: $*" >&2; exit 1; }
        t1=$(now)
        b=$(echo "$t0 $t1 ${b:-}" | awk '{ d = $2 - $1; if ($3 == "" || d < $3) print d; else print $3 }')
        rm -f "$tmp"/*.wav
        i=$((i + 1))
    done
    echo "$b"
}

ke=$(best klick -W "$tmp/k.wav" -f "$map")
ef=$(best "$etude" render --no-session --tempo-map "$map" -o "$tmp/e.wav")
e16=$(best "$etude" render --no-session --tempo-map "$map" --format pcm16 -o "$tmp/e.wav")
"$etude" render --no-session --tempo-map "$map" -o "$tmp/e.wav" > /dev/null 2>&1
secs=$(soxi -D "$tmp/e.wav")
klick -W "$tmp/k.wav" -f "$map" > /dev/null 2>&1
disk=$(du -k "$tmp/e.wav" | cut -f1) kdisk=$(du -k "$tmp/k.wav" | cut -f1) len=$(stat -c %s "$tmp/e.wav")
echo "bench_click: one tempo map of $(awk -v s="$secs" 'BEGIN { printf "%.1f", s / 60 }') minutes at 48000 Hz, best of $runs runs"
awk -v k="$ke" -v f="$ef" -v p="$e16" -v s="$secs" 'BEGIN {
    printf "  klick -W (mono, 16-bit)              %7.3f s  %6.0fx real time\n", k, s / k
    printf "  etude render (stereo, 32-bit float)  %7.3f s  %6.0fx real time  ratio etude/klick %.2f\n", f, s / f, f / k
    printf "  etude render (stereo, 16-bit)        %7.3f s  %6.0fx real time  ratio etude/klick %.2f\n", p, s / p, p / k
}'
awk -v d="$disk" -v k="$kdisk" -v l="$len" 'BEGIN {
    printf "  files: etude float %.0f MB long, %.0f MB on disk; klick %.0f MB on disk\n", l / 1e6, d * 1.024e-3, k * 1.024e-3
}'
