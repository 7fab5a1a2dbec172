# Retry-After is a monotonic deadline (kept with the boot id for the next process), capped at one
# hour: a wall clock that jumps (ETUDE_TEST_CLOCK_SKEW_MS: the process that met the 429 ran 6 h
# ahead, the next one does not) does not make `sync now` sleep for hours, and `sync now --timeout`
# bounds a long Retry-After.
# Fails on c276f6a: the Retry-After of 100000 s is not capped ("retry after 86399.4 s"), and on
# fd82c7f `sync now` has no --timeout and sleeps it in full. (The wall-clock part passed there only
# because that client read CLOCK_REALTIME itself, which the skew knob does not move; a real clock
# jump between the two processes stretched its wall-clock deadline by the jump.)
. "$(dirname "$0")/sync_lib.sh"
start_server
proxy() {
    rm -f "$T/proxy.ready"
    node "$ETUDE_TESTS_DIR/support/fault_proxy.mjs" --target "$SERVER_ADDR" --ready "$T/proxy.ready" \
        --faults "pass,429" --retry-after "$1" --stats "$T/proxy.stats" 2>"$T/proxy.log" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/proxy.ready" ]; do i=$((i + 1)); [ $i -gt 200 ] && fail "proxy did not start"; sleep 0.05; done
    PROXY="http://$(cat "$T/proxy.ready")"
}
proxy 3
settings a '{"maxRetries": 0, "backoffBaseMs": 10}'
ETUDE_TEST_CLOCK_SKEW_MS=21600000 login a "$PROXY" >/dev/null 2>&1
[ -e "$T/a/sync-token.json" ] || fail "login did not get through"
dev a sync status --json >"$T/st1"
grep -q '"retryAfter":"20' "$T/st1" || fail "status does not show the pending Retry-After: $(cat "$T/st1")"
start=$(date +%s)
dev a sync now --timeout 30 >"$T/out" 2>&1 || fail "sync after the clock jumped back: $(cat "$T/out")"
took=$(($(date +%s) - start))
[ $took -lt 25 ] || fail "sync now took $took s"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const t429 = s.times.find((x) => x[0] === "429")[1];
const after = s.times.filter((x) => x[1] > t429);
if (!after.length) { console.error("no request after the 429"); process.exit(1); }
const gap = after[0][1] - t429;
console.log(`next request ${gap} ms after the 429 (Retry-After: 3 s)`);
if (gap < 2900) { console.error("the Retry-After was not honoured"); process.exit(1); }
' "$T/proxy.stats" || fail "Retry-After across processes"
# A Retry-After of 100000 s: capped at one hour, and --timeout ends the command at once.
kill -9 $(echo $PIDS | awk '{print $NF}') 2>/dev/null
dev a sync logout >/dev/null 2>&1
proxy 100000
login a "$PROXY" >/dev/null 2>&1
dev a log note "queued" >/dev/null
start=$(date +%s)
dev a sync now --timeout 5 >"$T/out" 2>&1 && fail "sync now succeeded despite the Retry-After"
took=$(($(date +%s) - start))
cat "$T/out"
[ $took -le 8 ] || fail "sync now --timeout 5 took $took s"
grep -q "Retry-After" "$T/out" || fail "the error does not name the Retry-After: $(cat "$T/out")"
grep -q "retry after 3[56][0-9][0-9]\.[0-9] s" "$T/out" || fail "Retry-After not capped at one hour: $(cat "$T/out")"
[ "$(q a "SELECT count(*) FROM outbox")" -ge 1 ] || fail "the change was dropped"
echo PASS
