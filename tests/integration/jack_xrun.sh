#!/bin/sh
# jack_xrun.sh - xruns are counted and reported: a client that hogs the process cycle causes
# xruns; etude counts them (JACK does not promise every client every notification, so the check
# is that etude saw some while the hog saw some), publishes each new count on the bus, and its
# exit report (after SIGINT: a clean stop) agrees with the bus.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
JACKD_OPTS="" jack_start 64   # asynchronous mode: a late client makes the server report xruns
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --click "4/4 120" --name xr --no-session
wait_for 10 sh -c "jack_lsp | grep -q '^xr:mix_L\$'" || fail "etude's port never appeared"
"$TC" hog 30 6 >"$T/hog.txt" || fail "the hog client failed"
hog=$(sed -n 's/^xruns \([0-9]*\)$/\1/p' "$T/hog.txt")
echo "hog client saw $hog xruns"
[ "${hog:-0}" -ge 1 ] || fail "hogging the cycle caused no xrun (the test proves nothing)"
sleep 0.3
kill -INT "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero after SIGINT"
cat "$T/play.out"
n=$(sed -n 's/^xruns: \([0-9]*\)$/\1/p' "$T/play.out")
[ -n "$n" ] || fail "no xrun line in the report"
[ "$n" -ge 1 ] || fail "etude counted no xrun while the hog client was told of $hog"
last=$(grep '"topic":"xrun"' "$T/bus.jsonl" | tail -n 1 | sed -n 's/.*"count":\([0-9]*\),.*/\1/p')
[ "$last" = "$n" ] || fail "the last xrun bus message says $last, the report $n"
grep -q '"name":"stop","payload":{"frames":[0-9]*,"reason":"signal"[,}]' "$T/bus.jsonl" \
    || fail "no transport stop with reason signal on the bus"
echo "PASS ($n xruns counted)"
