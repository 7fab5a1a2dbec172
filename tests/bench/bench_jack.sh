#!/bin/sh
# bench_jack.sh - etude play and klick side by side under jackd's dummy driver at 64 frames, both
# playing the same click map: prints each process's CPU time (utime + stime from /proc/PID/stat) per
# second of audio the server ran, their ratio (aim: etude <= klick), and etude's process-callback
# mean, p99 and max. A benchmark: it prints figures and fails only if something did not run.
#   ETUDE_BENCH_SECONDS  measuring window (default 10)
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
secs=${ETUDE_BENCH_SECONDS:-10}
export ETUDE_HOME="$T/home"
jack_start 64
map="4/4 120"   # endless: both play for the whole window
jack_bg etude "$ETUDE_BIN" play --click "$map" --name bench-etude --no-session
jack_bg klick klick -n bench-klick $map
wait_for 10 sh -c "jack_lsp | grep -q '^bench-etude:mix_L\$'" || fail "etude did not start"
wait_for 10 sh -c "jack_lsp | grep -q '^bench-klick:'" || fail "klick did not start"
sleep 1 # warm-up

ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run time in ns of every thread (schedstat): finer than the clock ticks of utime + stime
ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
e0=$(cpu "$(jack_pid etude)")
k0=$(cpu "$(jack_pid klick)")
en0=$(ns "$(jack_pid etude)")
kn0=$(ns "$(jack_pid klick)")
f0=$("$TC" frametime)
sleep "$secs"
e1=$(cpu "$(jack_pid etude)")
k1=$(cpu "$(jack_pid klick)")
en1=$(ns "$(jack_pid etude)")
kn1=$(ns "$(jack_pid klick)")
f1=$("$TC" frametime)
kill -TERM "$(jack_pid etude)"
wait "$(jack_pid etude)" || fail "etude play failed"
kill -TERM "$(jack_pid klick)" 2>/dev/null

awk -v e="$((e1 - e0))" -v k="$((k1 - k0))" -v en="$en0" -v en1="$en1" -v kn="$kn0" -v kn1="$kn1" \
    -v f="$((f1 - f0))" -v hz="$ticks" -v w="$secs" 'BEGIN {
    audio = (f < 0 ? f + 4294967296 : f) / 48000.0
    printf "bench_jack: %.2f s of audio in %d s wall at 64 frames / 48 kHz\n", audio, w
    printf "bench_jack: utime+stime per audio second: etude %.2f ms, klick %.2f ms (resolution %.0f ms)\n",
        e * 1000.0 / hz / audio, k * 1000.0 / hz / audio, 1000.0 / hz
    if (k > 0) printf "bench_jack: utime+stime ratio etude/klick %.2f (aim <= 1)\n", e / k
    de = (en1 - en) / 1e6 / audio; dk = (kn1 - kn) / 1e6 / audio
    printf "bench_jack: run time per audio second (schedstat, all threads): etude %.2f ms, klick %.2f ms\n", de, dk
    if (dk > 0) printf "bench_jack: run time ratio etude/klick %.2f (aim <= 1)\n", de / dk }'
sed -n 's/^callback: /bench_jack: etude callback: /p; s/^xruns: /bench_jack: xruns: /p' "$T/etude.out"
