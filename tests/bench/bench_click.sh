#!/bin/sh
# bench_click.sh - a benchmark, not a timed test: renders the same one-hour tempo map with
# `etude render` and with `klick -W` in the same run and prints both wall times and their ratio, and
# the CPU times of the same runs.
# klick writes mono 16-bit; etude writes stereo, so it is timed both as 32-bit float (its default)
# and as 16-bit PCM. Each is run RUNS times (default 3), interleaved, and the best time is kept; the
# best CPU time (user + system) is printed too, as the wall time moves with the machine's load. etude leaves
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

# timed NAME CMD...: run CMD once; keep the shortest wall time and the shortest CPU time (user +
# system, which time spent waiting for the other processes of a loaded machine does not count) in
# $tmp/NAME.wall and $tmp/NAME.cpu
timed() {
    name=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$tmp/t" "$@" > /dev/null 2>&1 || { echo "bench_click: failed: $*" >&2; exit 1; }
    rm -f "$tmp"/*.wav
    read -r w u sy < "$tmp/t"
    c=$(awk -v u="$u" -v s="$sy" 'BEGIN { print u + s }')
    for k in wall cpu; do
        v=$w
        [ "$k" = cpu ] && v=$c
        if [ ! -f "$tmp/$name.$k" ] || awk -v a="$v" -v b="$(cat "$tmp/$name.$k")" 'BEGIN { exit !(a < b) }'; then
            echo "$v" > "$tmp/$name.$k"
        fi
    done
}

# The three are interleaved, run after run, so a change in the machine's load falls on all three.
i=0
while [ "$i" -lt "$runs" ]; do
    timed klick klick -W "$tmp/k.wav" -f "$map"
    timed float "$etude" render --no-session --tempo-map "$map" -o "$tmp/e.wav"
    timed pcm16 "$etude" render --no-session --tempo-map "$map" --format pcm16 -o "$tmp/e.wav"
    i=$((i + 1))
done
ke=$(cat "$tmp/klick.wall") ef=$(cat "$tmp/float.wall") e16=$(cat "$tmp/pcm16.wall")
kc=$(cat "$tmp/klick.cpu") fc=$(cat "$tmp/float.cpu") pc=$(cat "$tmp/pcm16.cpu")
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
awk -v k="$kc" -v f="$fc" -v p="$pc" 'BEGIN {
    printf "  CPU time (user + system), best of the same runs: klick %.3f s, etude float %.3f s (ratio %.2f), etude 16-bit %.3f s (ratio %.2f)\n", k, f, (k > 0 ? f / k : 0), p, (k > 0 ? p / k : 0)
}'
awk -v d="$disk" -v k="$kdisk" -v l="$len" 'BEGIN {
    printf "  files: etude float %.0f MB long, %.0f MB on disk; klick %.0f MB on disk\n", l / 1e6, d * 1.024e-3, k * 1.024e-3
}'
