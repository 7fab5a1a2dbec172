#!/bin/sh
# bench_jack.sh - etude play and klick side by side under jackd's dummy driver at 64 frames, both
# playing the same click map, in several alternating runs (which of the two starts first swaps each
# run; same jackd, same map, same period): prints for each run both processes' CPU time per second
# of audio (the run time of all their threads from /proc/PID/task/*/schedstat) and the ratio, then
# the median ratio (aim: etude <= klick) over order-balanced pairs of runs (JACK's graph order
# favours the client that started first, so runs alternate and each pair sums one run of each
# order), the ratio of the totals, the geometric mean of the single-run ratios, and etude's
# process-callback mean, p99 and max.
# A benchmark: it prints figures and fails only if something did not run.
#   ETUDE_BENCH_RUNS     runs (default 6; pairs of one run of each order)
#   ETUDE_BENCH_SECONDS  measuring window of each run (default 2)
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
runs=${ETUDE_BENCH_RUNS:-6}
secs=${ETUDE_BENCH_SECONDS:-2}
export ETUDE_HOME="$T/home"
jack_start 64
map="4/4 120"   # endless: both play for the whole window

# run time in ns of every thread of a process (schedstat): finer than utime + stime's clock ticks
ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
# per thread: "tid run_ns timeslices", to tell the audio thread from the control and JACK threads
threads() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(awk '{ print $1, $3 }' "$t/schedstat" 2>/dev/null)"; done | sort; }
start_etude() {
    jack_bg etude "$ETUDE_BIN" play --click "$map" --name bench-etude --no-session
    wait_for 10 sh -c "jack_lsp | grep -q '^bench-etude:mix_L\$'" || fail "etude did not start"
}
start_klick() {
    jack_bg klick klick -n bench-klick $map
    wait_for 10 sh -c "jack_lsp | grep -q '^bench-klick:'" || fail "klick did not start"
}

: >"$T/ratios"
r=1
while [ $r -le "$runs" ]; do
    if [ $((r % 2)) = 1 ]; then start_etude; start_klick; first=etude; else start_klick; start_etude; first=klick; fi
    sleep 1 # warm-up
    ep=$(jack_pid etude); kp=$(jack_pid klick)
    threads "$ep" >"$T/et0"; threads "$kp" >"$T/kt0"
    e0=$(ns "$ep"); k0=$(ns "$kp"); f0=$("$TC" frametime)
    sleep "$secs"
    e1=$(ns "$ep"); k1=$(ns "$kp"); f1=$("$TC" frametime)
    threads "$ep" >"$T/et1"; threads "$kp" >"$T/kt1"
    kill -TERM "$ep"
    wait "$ep" || fail "etude play failed (run $r)"
    kill -TERM "$kp" 2>/dev/null
    wait "$kp" 2>/dev/null
    sed -n "s/^callback: /bench_jack: run $r etude callback: /p; s/^xruns: /bench_jack: run $r etude xruns: /p" "$T/etude.out"
    awk -v e="$((e1 - e0))" -v k="$((k1 - k0))" -v f="$((f1 - f0))" -v r="$r" -v first="$first" 'BEGIN {
        audio = (f < 0 ? f + 4294967296 : f) / 48000.0
        de = e / 1e6 / audio; dk = k / 1e6 / audio; ratio = dk > 0 ? de / dk : 0
        printf "bench_jack: run %d (%s started first): %.2f s of audio; CPU per audio second: etude %.2f ms, klick %.2f ms, ratio %.3f\n",
            r, first, audio, de, dk, ratio }'
    for who in etude klick; do
        w=$(echo "$who" | cut -c1)
        join "$T/${w}t0" "$T/${w}t1" | awk -v f="$((f1 - f0))" -v who="$who" -v r="$r" '{
            audio = (f < 0 ? f + 4294967296 : f) / 48000.0
            if ($4 > $2) s = s sprintf(" %.2f ms (%d wake-ups/s)", ($4 - $2) / 1e6 / audio, ($5 - $3) / audio) }
            END { printf "bench_jack: run %d %s threads, CPU per audio second:%s\n", r, who, s }'
    done
    awk -v e="$((e1 - e0))" -v k="$((k1 - k0))" 'BEGIN { if (k > 0) printf "%.4f %s %s\n", e / k, e, k }' >>"$T/ratios"
    r=$((r + 1))
done
n=$(wc -l <"$T/ratios")
[ "$n" -gt 0 ] || fail "no run measured"
# runs 2i-1 and 2i are one of each order: their summed CPU gives an order-balanced pair ratio
awk 'NR % 2 == 1 { e = $2; k = $3 } NR % 2 == 0 { printf "%.4f\n", (e + $2) / (k + $3) }' "$T/ratios" \
    | sort -n >"$T/pairs"
np=$(wc -l <"$T/pairs")
[ "$np" -gt 0 ] && awk -v n="$np" '{ v[NR] = $1; s = s sprintf(" %.3f", $1) } END {
    m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf "bench_jack: order-balanced pair ratios etude/klick:%s\n", s
    printf "bench_jack: median CPU ratio etude/klick (order-balanced pairs, %d): %.3f (aim <= 1)\n", n, m }' "$T/pairs"
sort -n "$T/ratios" | awk -v n="$n" '{ v[NR] = $1; e += $2; k += $3; g += log($1) } END {
    m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf "bench_jack: median of the %d single-run ratios: %.3f (min %.3f, max %.3f)\n", n, m, v[1], v[n]
    printf "bench_jack: CPU ratio etude/klick of the totals over all runs: %.3f; geometric mean of the run ratios: %.3f\n", e / k, exp(g / n) }'
# In each run one of the two pays JACK's costlier role (about twice the CPU); compare like roles.
awk '{ if ($2 >= $3) { eb += $2; kb_o += $3; nb++ } else { ks += $3; es_o += $2; ns++ } } END {
    if (nb && ns) printf "bench_jack: like roles: the busier process: etude %.1f ms/run (%d runs), klick %.1f ms/run (%d runs), ratio %.3f; the other: etude %.1f, klick %.1f, ratio %.3f\n",
        eb / nb / 1e6, nb, ks / ns / 1e6, ns, (eb / nb) / (ks / ns), es_o / ns / 1e6, kb_o / nb / 1e6, (es_o / ns) / (kb_o / nb)
    else printf "bench_jack: like roles: %s was the busier process in every run\n", nb ? "etude" : "klick" }' "$T/ratios"
