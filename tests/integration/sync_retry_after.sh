# Retries and refusals: a 429's Retry-After is honoured by the next process too (it is kept in the
# store), what happens past maxRetries is configurable ("dead-letter" moves the batch aside), and a
# server's 4xx refusal of one entity lands in the dead-letter table with its reason, shown by
# `etude sync status` and never dropped.
. "$(dirname "$0")/sync_lib.sh"
start_server --max-entity-bytes 300
node "$ETUDE_TESTS_DIR/support/fault_proxy.mjs" --target "$SERVER_ADDR" --ready "$T/proxy.ready" \
    --faults "pass,429,500,500,500" --retry-after 3 --stats "$T/proxy.stats" 2>"$T/proxy.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/proxy.ready" ]; do i=$((i + 1)); [ $i -gt 200 ] && fail "proxy did not start"; sleep 0.05; done
PROXY="http://$(cat "$T/proxy.ready")"
settings a '{"maxRetries": 0, "backoffBaseMs": 10}'
login a "$PROXY" >/dev/null 2>&1 # request 1 passes (login); the full sync meets the 429 and gives up
[ -e "$T/a/sync-token.json" ] || fail "login did not get through"
dev a sync status --json >"$T/st1"
grep -q '"retryAfter":"20' "$T/st1" || fail "status does not show the pending Retry-After: $(cat "$T/st1")"
# A new process waits out the Retry-After before its next request (the proxy saw the 429 at t0).
dev a sync now >/dev/null 2>&1
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const t429 = s.times.find((x) => x[0] === "429")[1];
const after = s.times.filter((x) => x[1] > t429);
if (!after.length) { console.error("no request after the 429"); process.exit(1); }
const gap = after[0][1] - t429;
console.log(`next request ${gap} ms after the 429 (Retry-After: 3 s)`);
if (gap < 2900) { console.error("the Retry-After was not honoured"); process.exit(1); }
' "$T/proxy.stats" || fail "Retry-After across processes"
# Past the limit with pastLimit "dead-letter": the batch that met the 500s is moved aside.
settings a '{"maxRetries": 1, "backoffBaseMs": 10, "pastLimit": "dead-letter"}'
for i in 1 2 3; do dev a log note "note $i" >/dev/null; done
dev a sync now >/dev/null 2>&1
dev a sync status --json >"$T/st2"
grep -q '"httpStatus":0' "$T/st2" || fail "past-limit batch not dead-lettered: $(cat "$T/st2")"
[ "$(q a "SELECT count(*) FROM dead_letter")" = 3 ] || fail "expected 3 dead letters"
# A 4xx refusal of one entity: oversized data.
settings a '{}'
big=$(head -c 400 /dev/zero | tr '\0' x)
dev a log note "$big" >/dev/null
dev a log note "small" >/dev/null
out=$(dev a sync now) || fail "sync now: $out"
echo "$out"
echo "$out" | grep -q "1 dead letter(s)" || fail "oversized entity not dead-lettered: $out"
dev a sync status >"$T/st3"
cat "$T/st3"
grep -q "data: oversized" "$T/st3" || fail "status does not show the server's reason"
[ "$(q a "SELECT count(*) FROM dead_letter")" = 4 ] || fail "dead letters lost"
[ "$(sq "SELECT count(*) FROM entities WHERE json_extract(data,'\$.text')='small'")" = 1 ] || fail "the good entity did not upload"
echo PASS
