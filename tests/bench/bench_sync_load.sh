# bench_sync_load.sh - sync latency of real etude devices with and without hostile idle load on
# etude-syncd: DEVICES devices (real `etude` processes, one $ETUDE_HOME each, one account) write two
# notes and run `etude sync now` all at once, ROUNDS times; half the rounds before and half after
# the loaded rounds run with nothing else, the loaded ones while IDLE idle TCP connections and SSE
# event streams of the same user are held open (tests/bench/bench_sync_load_hold.mjs) and /healthz
# is asked every 250 ms. Everything on loopback; bounded in count and time; stops by itself.
# Prints p50 and p99 of the sync latency in both conditions and their ratio (loaded / quiet).
#
# Env: ETUDE_BENCH_LOAD_DEVICES (20), ETUDE_BENCH_LOAD_ROUNDS (10), ETUDE_BENCH_LOAD_IDLE (2000),
# ETUDE_BENCH_LOAD_SSE (500); plus sync_lib.sh's ETUDE_BIN, ETUDE_SYNCD, ETUDE_TESTS_DIR.
. "$(dirname "$0")/../integration/sync_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
DEVICES=${ETUDE_BENCH_LOAD_DEVICES:-20}
ROUNDS=${ETUDE_BENCH_LOAD_ROUNDS:-10}
IDLE=${ETUDE_BENCH_LOAD_IDLE:-2000}
SSE=${ETUDE_BENCH_LOAD_SSE:-500}
# Each held connection is a descriptor on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE + SSE + 500)) ] ||
    fail "open-file limit $(ulimit -n) is below the $((IDLE + SSE + 500)) this benchmark needs"

# The server's defences are raised only where they would cut the load this benchmark holds on
# purpose: every connection comes from loopback, and the idle ones must stay for the whole run.
start_server --max-connections-per-ip 0 --max-streams-per-user 0 --idle-timeout 3600 \
    --header-timeout 3600 --max-connections $((IDLE + SSE + 1000))
i=0
while [ $i -lt "$DEVICES" ]; do
    i=$((i + 1))
    login "d$i" >/dev/null || fail "login d$i"
done

# One round: every device writes two notes, then all sync at once; latencies in ms into $1.
round() {
    i=0
    jobs_=""
    while [ $i -lt "$DEVICES" ]; do
        i=$((i + 1))
        (
            dev "d$i" log note "round $2 device $i first" >/dev/null || exit 1
            dev "d$i" log note "round $2 device $i second" >/dev/null || exit 1
            t0=$(date +%s%N)
            dev "d$i" sync now >/dev/null 2>>"$T/sync.err" || { echo "d$i round $2" >>"$T/failed"; exit 1; }
            t1=$(date +%s%N)
            echo $(((t1 - t0) / 1000000)) >>"$1"
        ) &
        jobs_="$jobs_ $!"
    done
    for j in $jobs_; do wait "$j"; done # not a bare wait: the server is a job of this shell too
}

pct() { # pct FILE Q(0-100): nearest-rank percentile
    n=$(wc -l <"$1")
    k=$(((n * $2 + 99) / 100))
    [ "$k" -lt 1 ] && k=1
    sort -n "$1" | sed -n "${k}p"
}

: >"$T/quiet"
: >"$T/loaded"
: >"$T/failed"
half=$((ROUNDS / 2))
[ $half -lt 1 ] && half=1
r=0
while [ $r -lt $half ]; do r=$((r + 1)); round "$T/quiet" "q$r"; done

node "$HERE/bench_sync_load_hold.mjs" "$SERVER_URL" alice "$PASSWORD" "$IDLE" "$SSE" "$T/hold.ready" \
    "$T/hold.json" 900 &
HOLD=$!
PIDS="$PIDS $HOLD"
n=0
while [ ! -f "$T/hold.ready" ]; do
    n=$((n + 1))
    [ $n -gt 1200 ] && fail "the load holder did not get its connections open within 120 s"
    kill -0 $HOLD 2>/dev/null || fail "the load holder died"
    sleep 0.1
done
say "held open: $(cat "$T/hold.ready" | awk '{print $1 " idle connections, " $2 " event streams"}')"
r=0
while [ $r -lt "$ROUNDS" ]; do r=$((r + 1)); round "$T/loaded" "l$r"; done
kill -TERM $HOLD
wait $HOLD 2>/dev/null
[ -s "$T/hold.json" ] || fail "the load holder wrote no summary"
r=0
while [ $r -lt $half ]; do r=$((r + 1)); round "$T/quiet" "q2-$r"; done

[ -s "$T/failed" ] && fail "syncs failed: $(tr '\n' ' ' <"$T/failed") $(tail -3 "$T/sync.err")"
expect=$((DEVICES * (2 * half + ROUNDS) * 2))
got=$(sq "SELECT count(*) FROM entities")
[ "$got" = "$expect" ] || fail "the server holds $got notes, $expect were written and synced"
summary=$(cat "$T/hold.json")
echo "load holder: $summary"
ok() { node -e "const s=JSON.parse(process.argv[1]); process.exit($1 ? 0 : 1)" "$summary"; }
ok "s.idleOpen === s.idleWanted && s.streamsOpen === s.streamsWanted" ||
    fail "the held connections did not all stay open"
ok "s.healthzFailed === 0 && s.healthzOk > 0" || fail "/healthz failed under load"

q50=$(pct "$T/quiet" 50); q99=$(pct "$T/quiet" 99)
l50=$(pct "$T/loaded" 50); l99=$(pct "$T/loaded" 99)
echo "devices $DEVICES, rounds $ROUNDS loaded + $((2 * half)) quiet, idle $IDLE, event streams $SSE"
echo "sync latency quiet:  p50 ${q50} ms  p99 ${q99} ms  ($(wc -l <"$T/quiet") syncs)"
echo "sync latency loaded: p50 ${l50} ms  p99 ${l99} ms  ($(wc -l <"$T/loaded") syncs)"
awk -v a="$l50" -v b="$q50" -v c="$l99" -v d="$q99" \
    'BEGIN { printf "ratio loaded/quiet: p50 %.2f  p99 %.2f\n", a / (b ? b : 1), c / (d ? d : 1) }'
echo PASS
