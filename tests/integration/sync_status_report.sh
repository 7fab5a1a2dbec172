# After each completed sync a device reports its own state (ReportSyncStatus, with its Bearer
# token): a device with a change waiting in a manual conflict and a dead letter syncs, and
# DeviceSyncStatus, asked with curl and the device's own token, shows its pending change, its open
# conflict and its dead letter with the server's reason; the same report is not sent again
# unchanged (the server's audit rows and /metrics count the requests); a changed state is; another
# user sees none of it; a report the server refuses (429 with Retry-After, through the fault proxy)
# leaves the sync successful, is noted in `sync status`, holds no later sync back, and goes again
# on the next sync; a report the proxy holds for 30 s is cut at `sync now --timeout 3`.
# Checked to fail without the report: with the call taken out of etude_syncclient_sync (as the
# client was on b66ee80) it stops at "b was not reported", and DeviceSyncStatus lists no device;
# with the report's request not cut at the sync's deadline, the held report kept `sync now
# --timeout 3` for 10086 ms (the report's own timeout) and the test failed there.
. "$(dirname "$0")/sync_lib.sh"
start_server --max-entity-bytes 300
HASH_STATUS=$(grep DeviceSyncStatus.graphql "$ETUDE_SOURCE_DIR/sync/schema/operations.sha256" | cut -d' ' -f1)
token() { sed -n 's/^[[:space:]]*"accessToken":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/$1/sync-token.json"; }
# device_status DEVICE [URL]: DeviceSyncStatus with DEVICE's own token, as JSON.
device_status() {
    curl -sS -H "Authorization: Bearer $(token "$1")" -H 'Content-Type: application/json' \
        --data "{\"operationName\":\"DeviceSyncStatus\",\"variables\":{},\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"$HASH_STATUS\"}}}" \
        "${2:-$SERVER_URL}/graphql"
}
reports() { sq "SELECT count(*) FROM audit WHERE operation='reportSyncStatus'"; }
metric_reports() {
    curl -sS "$SERVER_URL/metrics" |
        awk '/^etude_syncd_graphql_operations_total\{operation="ReportSyncStatus"/ { n += $2 } END { print n + 0 }'
}
devid() { q "$1" "SELECT value FROM sync_meta WHERE key='device_id'"; }

settings b '{"conflictStrategy": "manual"}'
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
dev a log note "scales in thirds" >/dev/null
dev a sync now >/dev/null || fail "sync a"
dev b sync now >/dev/null || fail "sync b"
nid=$(q b "SELECT id FROM entities WHERE json_extract(data,'\$.text')='scales in thirds'")
[ -n "$nid" ] || fail "the note did not reach b"
# Both edit the note: a first, so b's upload meets a conflict it keeps for the user (manual).
dev a log edit "$nid" "scales in thirds, slowly" >/dev/null || fail "edit on a"
dev a sync now >/dev/null || fail "sync a (edit)"
dev b log edit "$nid" "scales in thirds, legato" >/dev/null || fail "edit on b"
# And a note the server refuses (data over --max-entity-bytes): a dead letter.
dev b log note "$(head -c 400 /dev/zero | tr '\0' x)" >/dev/null
dev b sync now >"$T/out" || fail "sync b with a conflict and a dead letter: $(cat "$T/out")"
cat "$T/out"
dev b sync status --json >"$T/st"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (s.pending !== 1 || s.conflicts !== 1 || s.deadLetters.length !== 1) throw new Error("b: " + JSON.stringify(s));
if (!s.statusReport.at || s.statusReport.error !== null) throw new Error("b was not reported: " + JSON.stringify(s.statusReport));
' "$T/st" || fail "b's own status"

device_status b >"$T/ds"
node -e '
const [file, devB, devA, host, lastB, nid] = process.argv.slice(1);
const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
const list = r.data && r.data.deviceSyncStatus;
if (!Array.isArray(list)) throw new Error("no deviceSyncStatus: " + JSON.stringify(r));
const b = list.find((d) => d.deviceId === devB), a = list.find((d) => d.deviceId === devA);
if (!b || !a) throw new Error("devices missing: " + JSON.stringify(list));
if (b.pending !== 1 || b.conflicts !== 1) throw new Error("b: pending/conflicts " + JSON.stringify(b));
if (b.name !== host) throw new Error(`b: name ${b.name}, expected ${host}`);
if (b.lastSyncAt !== lastB) throw new Error(`b: lastSyncAt ${b.lastSyncAt}, expected ${lastB}`);
if (b.deadLetters.length !== 1 || !b.deadLetters[0].reason.startsWith("data: oversized") ||
    b.deadLetters[0].entityType !== "logbookEntry" || !b.deadLetters[0].at || b.deadLetters[0].id === nid)
  throw new Error("b: dead letters " + JSON.stringify(b.deadLetters));
if (a.pending !== 0 || a.conflicts !== 0 || a.deadLetters.length !== 0) throw new Error("a: " + JSON.stringify(a));
console.log("device b as the server shows it:", JSON.stringify(b));
' "$T/ds" "$(devid b)" "$(devid a)" "$(hostname)" "$(q b "SELECT value FROM sync_meta WHERE key LIKE 'last_sync_at@%'")" "$nid" ||
    fail "DeviceSyncStatus: $(cat "$T/ds")"

# Unchanged: not sent again (neither accepted nor even asked, by the server's own counts).
n0=$(reports)
m0=$(metric_reports)
# So far: a's and b's at login, b's after the conflict; a's later syncs and b's pull of the note
# changed nothing they report (no pending change, conflict or dead letter), so they sent none.
[ "$n0" = 3 ] || fail "expected 3 reports so far, the audit has $n0"
[ "$m0" = "$n0" ] || fail "/metrics counts $m0 ReportSyncStatus requests, the audit $n0"
dev b sync now >/dev/null || fail "sync b again"
dev b sync now >/dev/null || fail "sync b a third time"
[ "$(reports)" = "$n0" ] || fail "an unchanged report was sent again ($(reports) audit rows, were $n0)"
[ "$(metric_reports)" = "$m0" ] || fail "an unchanged report was requested again"
echo "unchanged: $n0 reports before and after two more syncs of b"
# Changed: the conflict settled (keeping the remote version), and the next sync says so.
dev b sync resolve "$nid" --keep remote >/dev/null || fail "resolve"
dev b sync now >/dev/null || fail "sync b after resolve"
[ "$(reports)" = $((n0 + 1)) ] || fail "the changed state was not reported ($(reports) audit rows, were $n0)"
device_status a >"$T/ds2" # a's token: the same user's other device sees b's new state
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const b = r.data.deviceSyncStatus.find((d) => d.deviceId === process.argv[2]);
if (!b || b.pending !== 0 || b.conflicts !== 0 || b.deadLetters.length !== 1) throw new Error(JSON.stringify(b));
' "$T/ds2" "$(devid b)" || fail "b's settled state as a sees it: $(cat "$T/ds2")"

# Another user, bob, logs in through the fault proxy, which refuses his first report with 429 and
# Retry-After 30 (requests: 1 the login, 2 the pull, 3 the report): the sync still succeeds, the
# refusal is noted, no later sync is held back, and the next one (4 the pull, 5 the report)
# reports. Bob then sees his own device only, none of alice's.
node "$ETUDE_TESTS_DIR/support/fault_proxy.mjs" --target "$SERVER_ADDR" --ready "$T/proxy.ready" \
    --faults "pass,pass,429,pass,pass,pass,pass,delay" --delay-ms 30000 --retry-after 30 \
    --stats "$T/proxy.stats" 2>"$T/proxy.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/proxy.ready" ]; do i=$((i + 1)); [ $i -gt 200 ] && fail "proxy did not start"; sleep 0.05; done
PROXY="http://$(cat "$T/proxy.ready")"
n1=$(reports)
printf '%s\n' "other $PASSWORD" | dev c sync login --server "$PROXY" --user bob --password-stdin >"$T/out" ||
    fail "login bob (his report refused): $(cat "$T/out")"
dev c sync status --json >"$T/st"
grep -q '"statusReport":{"at":null,"error":"reportSyncStatus: HTTP 429' "$T/st" || fail "the refusal is not noted: $(cat "$T/st")"
grep -q '"retryAfter":null' "$T/st" || fail "the report's Retry-After was kept: $(cat "$T/st")"
[ "$(reports)" = "$n1" ] || fail "the refused report reached the server"
dev c sync now --timeout 5 >"$T/out" || fail "the next sync was held back: $(cat "$T/out")"
[ "$(reports)" = $((n1 + 1)) ] || fail "the next sync did not report again"
dev c sync status --json | grep -q '"error":null}' || fail "the note of the refusal stayed"
device_status c >"$T/ds3"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const l = r.data.deviceSyncStatus;
if (l.length !== 1 || l[0].deviceId !== process.argv[2]) throw new Error(JSON.stringify(l));
' "$T/ds3" "$(devid c)" || fail "bob sees: $(cat "$T/ds3")"
# A report that hangs (the proxy holds request 8, the report after 6 the upload and 7 the pull,
# for 30 s) is cut at the sync's deadline: the sync succeeds within it, not after the report's
# own 10 s timeout. (Were the machine so slow that the sync itself used the deadline up, the
# report would be skipped, which holds nothing back either.)
dev c log note "$(head -c 400 /dev/zero | tr '\0' y)" >/dev/null # a dead letter: the report is due
t0=$(date +%s%N)
dev c sync now --timeout 3 >"$T/out" || fail "the sync with a hanging report failed: $(cat "$T/out")"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "sync now --timeout 3 with its report held by the proxy: $ms ms"
[ "$ms" -lt 9000 ] || fail "the hanging report held the sync $ms ms, past its 3 s deadline"
dev c sync status --json >"$T/st"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const held = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8")).delay === 1;
if (s.deadLetters.length !== 1) throw new Error("no dead letter: " + JSON.stringify(s));
if (held && s.statusReport.error === null) throw new Error("the held report is not noted: " + JSON.stringify(s.statusReport));
console.log(held ? "noted: " + s.statusReport.error : "the sync used its deadline up; the report was skipped");
' "$T/st" "$T/proxy.stats" || fail "bob's status after the hanging report"
integrity a b c
echo PASS
