#!/bin/sh
# server_web_data.sh - what a dashboard session reads from etude-syncd, and what devices report:
# DashboardEntities scoped to the session's user (paged, current entities only), ReportSyncStatus
# (Bearer only, every field checked, replacing the device's earlier report) shown by
# DeviceSyncStatus and waking the user's /events streams (opened with the cookie) with
# `event: status`, isolation between users, AdminMetrics for operators only, and the schema's
# version 3 and 4 migrations of a version 2 database (SQLite).
#   usage: ETUDE_SYNCD=... ETUDE_SOURCE_DIR=... server_web_data.sh
#
# The comments marked "fails if" name a defence removed from the code (on 0fae006); the test was
# run on each such mutant and failed where it says.
here=$(dirname "$0")
. "$here/server_web_lib.sh"

add_users

# ---- migration: a version 2 database (the schema before the dashboard) gets the current version
# (5: the dashboard's version 3, the schema_version table, the shared login counters). SQLite only:
# PostgreSQL databases start at version 5 (server_cli.sh checks db migrate, from 4 too, and the
# refusal of a newer one there). ----
if syncd_pg; then
start
else
sqlite3 "$DB" "ALTER TABLE users DROP COLUMN admin; ALTER TABLE sessions DROP COLUMN kind;
               DROP TABLE device_status; DROP TABLE schema_version; DROP TABLE login_throttle;
               PRAGMA user_version = 2;" || fail "making a version 2 database"
sqlite3 "$DB" "VACUUM INTO '$T/newer.db'" && sqlite3 "$T/newer.db" "PRAGMA user_version = 6" || fail "making a newer database"
if "$ETUDE_SYNCD" --listen 127.0.0.1:0 --db "$T/newer.db" 2>"$T/newer"; then fail "a newer database was served"; fi
grep -q 'made by a newer etude-syncd' "$T/newer" || fail "newer database message: $(cat "$T/newer")"
# One transaction: a migration failing half-way (sessions.kind already there, so its ALTER fails
# after users.admin was added) leaves the version 2 database as it was. Fails when migrate()
# commits what it did before the failure ("not one transaction").
sqlite3 "$DB" "VACUUM INTO '$T/half.db'" && sqlite3 "$T/half.db" "ALTER TABLE sessions ADD COLUMN kind INTEGER" || fail "half.db"
if "$ETUDE_SYNCD" --listen 127.0.0.1:0 --db "$T/half.db" 2>"$T/half"; then fail "a database the migration fails on was served"; fi
grep -q 'cannot initialise database' "$T/half" || fail "failed migration message: $(cat "$T/half")"
[ "$(sqlite3 "$T/half.db" 'PRAGMA user_version')" = 2 ] || fail "failed migration changed user_version"
[ "$(sqlite3 "$T/half.db" "SELECT count(*) FROM pragma_table_info('users') WHERE name='admin'")" = 0 ] ||
    fail "failed migration left users.admin behind (not one transaction)"
start
[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = 5 ] || fail "not migrated to version 5"
[ "$(sqlite3 "$DB" 'SELECT max(version) FROM schema_version')" = 5 ] || fail "schema_version not 5"
sqlite3 "$DB" "SELECT admin FROM users LIMIT 1; SELECT kind FROM sessions LIMIT 1; SELECT count(*) FROM device_status;
               SELECT count(*) FROM login_throttle" >/dev/null ||
    fail "version 3 columns or table missing after the migration"
# The test dropped root's flag with the column: set it again as `user add --admin` did.
sqlite3 "$DB" "UPDATE users SET admin=1 WHERE name='root'"
ok "version 2 database migrated to 5 (all or nothing); a newer one refused"
fi

A=$(bearer_login alice "$PW_ALICE")
B=$(bearer_login bob "$PW_BOB")

# ---- entities: alice writes three notes and deletes one, bob writes one ----
# entity ID TEXT: a logbookEntry with its checksum (SHA-256 of the canonical data).
entity() {
    data=$(printf '{"text":"%s"}' "$2")
    sum=$(printf '%s' "$data" | sha256sum | cut -c1-64)
    printf '{"id":"%s","entityType":"logbookEntry","createdAt":"2026-12-01T10:00:00.000Z","updatedAt":"2026-12-01T10:00:00.000Z","checksum":"%s","data":%s}' "$1" "$sum" "$data"
}
A1=aaaaaaaa-0000-4000-8000-000000000001
A2=aaaaaaaa-0000-4000-8000-000000000002
A3=aaaaaaaa-0000-4000-8000-000000000003
A4=aaaaaaaa-0000-4000-8000-000000000004
B1=bbbbbbbb-0000-4000-8000-000000000001
batch="{\"batch\":{\"batchId\":\"ab1\",\"deviceId\":\"laptop\",\"mutationSeq\":1,\"entities\":[$(entity $A1 'alice one'),$(entity $A2 'alice two'),$(entity $A3 'alice three'),$(entity $A4 'alice gone')]}}"
[ "$(gql up1 UploadBatch "$batch" -H "Authorization: Bearer $A")" = 200 ] || fail "alice upload: $(bodyof up1)"
grep -q "\"rejected\":\[\]" "$T/up1.b" || fail "alice upload rejected: $(bodyof up1)"
null_sum=$(printf 'null' | sha256sum | cut -c1-64)
tomb="{\"batch\":{\"batchId\":\"ab2\",\"deviceId\":\"laptop\",\"mutationSeq\":2,\"entities\":[{\"id\":\"$A4\",\"entityType\":\"logbookEntry\",\"createdAt\":\"2026-12-01T10:00:00.000Z\",\"updatedAt\":\"2026-12-01T11:00:00.000Z\",\"deletedAt\":\"2026-12-01T11:00:00.000Z\",\"baseVersion\":1,\"checksum\":\"$null_sum\",\"data\":null}]}}"
[ "$(gql up2 UploadBatch "$tomb" -H "Authorization: Bearer $A")" = 200 ] || fail "alice delete: $(bodyof up2)"
grep -q '"accepted":\[{' "$T/up2.b" || fail "tombstone not accepted: $(bodyof up2)"
batch="{\"batch\":{\"batchId\":\"bb1\",\"deviceId\":\"phone\",\"mutationSeq\":1,\"entities\":[$(entity $B1 'bob secret')]}}"
[ "$(gql up3 UploadBatch "$batch" -H "Authorization: Bearer $B")" = 200 ] || fail "bob upload: $(bodyof up3)"

web_login wa alice "$PW_ALICE"
AC=$COOKIE AX=$CSRF
web_login wb bob "$PW_BOB"
BC=$COOKIE BX=$CSRF
web_login wr root "$PW_ROOT"
RC=$COOKIE RX=$CSRF
bodyof wr | grep -q '"admin":true' || fail "root's session does not say admin: $(bodyof wr)"
bodyof wa | grep -q '"admin":false' || fail "alice's session says admin"
asA() { gql "$@" -H "Cookie: etude_session=$AC" -H "X-CSRF-Token: $AX"; }
asB() { gql "$@" -H "Cookie: etude_session=$BC" -H "X-CSRF-Token: $BX"; }
asR() { gql "$@" -H "Cookie: etude_session=$RC" -H "X-CSRF-Token: $RX"; }

# ---- DashboardEntities: own current entities only, in server order, paged ----
# fails if the store's query does not bind the user ("user_id>=?": alice's first page holds bob's
# note) or drops "deleted_at IS NULL" (the second page holds the deleted note).
[ "$(asA d1 DashboardEntities '{"entityType":"logbookEntry","limit":2}')" = 200 ] || fail "DashboardEntities: $(bodyof d1)"
ids=$(grep -o '"id":"[^"]*"' "$T/d1.b" | tr '\n' ' ')
[ "$ids" = "\"id\":\"$A1\" \"id\":\"$A2\" " ] || fail "first page: $ids"
next=$(bodyof d1 | jstr next)
[ -n "$next" ] || fail "no next after a full page: $(bodyof d1)"
[ "$(asA d2 DashboardEntities "{\"entityType\":\"logbookEntry\",\"limit\":2,\"after\":\"$next\"}")" = 200 ] || fail "second page"
ids=$(grep -o '"id":"[^"]*"' "$T/d2.b" | tr '\n' ' ')
[ "$ids" = "\"id\":\"$A3\" " ] || fail "second page (the deleted note must be absent): $ids"
grep -q '"next":null' "$T/d2.b" || fail "next not null at the end: $(bodyof d2)"
grep -q '"text":"alice three"' "$T/d2.b" || fail "data not returned: $(bodyof d2)"
[ "$(asB d3 DashboardEntities '{"entityType":"logbookEntry"}')" = 200 ] || fail "bob's DashboardEntities"
grep -q "$B1" "$T/d3.b" || fail "bob does not see his note"
if grep -q 'aaaaaaaa-' "$T/d3.b"; then fail "bob sees alice's notes: $(bodyof d3)"; fi
# Bob cannot page into alice's data with her position either: positions select only his rows.
[ "$(asB d4 DashboardEntities "{\"entityType\":\"logbookEntry\",\"after\":\"$next\"}")" = 200 ] || fail "bob with alice's next"
if grep -q 'aaaaaaaa-' "$T/d4.b"; then fail "alice's next showed bob her notes"; fi
[ "$(asA d5 DashboardEntities '{"entityType":"practiceSession"}')" = 200 ] || fail "empty type"
grep -q '"entities":\[\],"next":null' "$T/d5.b" || fail "practiceSession page: $(bodyof d5)"
[ "$(asA d6 DashboardEntities '{"entityType":"banana"}')" = 400 ] || fail "bad entityType not 400"
bodyof d6 | grep -q 'variables.entityType' || fail "bad entityType message: $(bodyof d6)"
[ "$(asA d7 DashboardEntities '{"entityType":"goal","after":"d1.garbage"}')" = 200 ] || fail "bad after"
[ "$(bodyof d7 | jcode)" = INVALID_CURSOR ] || fail "bad after code: $(bodyof d7)"
[ "$(asA d8 DashboardEntities '{"entityType":"goal","limit":0}')" = 200 ] || fail "limit 0"
[ "$(bodyof d8 | jcode)" = BAD_USER_INPUT ] || fail "limit 0 code: $(bodyof d8)"
[ "$(gql d9 DashboardEntities '{"entityType":"logbookEntry"}' -H "Authorization: Bearer $A")" = 200 ] || fail "DashboardEntities by Bearer"
grep -q "$A1" "$T/d9.b" || fail "Bearer DashboardEntities"
ok "DashboardEntities: own, current, paged; bob never sees alice's entities"

# ---- ReportSyncStatus -> DeviceSyncStatus and the `status` event ----
curl -sS -N --max-time 20 -H "Cookie: etude_session=$AC" "$URL/events" >"$T/ev_alice" 2>/dev/null &
EV_A=$!
curl -sS -N --max-time 20 -H "Cookie: etude_session=$BC" "$URL/events" >"$T/ev_bob" 2>/dev/null &
EV_B=$!
EXTRA_PIDS="$EV_A $EV_B"
i=0
until grep -q 'event: ready' "$T/ev_alice" 2>/dev/null && grep -q 'event: ready' "$T/ev_bob" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "event streams by cookie did not open: $(cat "$T/ev_alice")"
    sleep 0.05
done
report='{"status":{"deviceId":"laptop","name":"alice-laptop","lastSyncAt":"2026-12-06T10:00:00.000Z","pending":3,"conflicts":1,"deadLetters":[{"id":"dead-1","entityType":"goal","reason":"data.title: must be a string","at":"2026-12-06T09:59:00.000Z"}]}}'
[ "$(gql r1 ReportSyncStatus "$report" -H "Authorization: Bearer $A")" = 200 ] || fail "ReportSyncStatus: $(bodyof r1)"
grep -q '"reportSyncStatus":true' "$T/r1.b" || fail "ReportSyncStatus answer: $(bodyof r1)"
# fails if do_report_status does not call etude_syncd_hub_publish_status ("no 'event: status'").
i=0
until grep -q '^event: status' "$T/ev_alice"; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "no 'event: status' on alice's stream: $(cat "$T/ev_alice")"
    sleep 0.05
done
grep -A1 '^event: status' "$T/ev_alice" | grep -q '"deviceId":"laptop"' || fail "status event data: $(cat "$T/ev_alice")"
[ "$(asA s1 DeviceSyncStatus '{}')" = 200 ] || fail "DeviceSyncStatus: $(bodyof s1)"
for want in '"deviceId":"laptop"' '"name":"alice-laptop"' '"pending":3' '"conflicts":1' '"reason":"data.title: must be a string"' \
    '"lastSyncAt":"2026-12-06T10:00:00.000Z"' '"reportedAt":"20'; do
    grep -qF "$want" "$T/s1.b" || fail "DeviceSyncStatus lacks $want: $(bodyof s1)"
done
# A second report replaces the first.
report2='{"status":{"deviceId":"laptop","lastSyncAt":"2026-12-06T10:05:00.000Z","pending":0,"conflicts":0,"deadLetters":[]}}'
[ "$(gql r2 ReportSyncStatus "$report2" -H "Authorization: Bearer $A")" = 200 ] || fail "second report"
asA s2 DeviceSyncStatus '{}' >/dev/null
[ "$(grep -o '"deviceId"' "$T/s2.b" | wc -l)" = 1 ] || fail "reports not replaced: $(bodyof s2)"
grep -q '"pending":0,' "$T/s2.b" && grep -q '"deadLetters":\[\]' "$T/s2.b" && grep -q '"name":null' "$T/s2.b" ||
    fail "second report not shown: $(bodyof s2)"
# Isolation: bob sees no device of alice, and his stream got no status event.
# fails if the device_status query does not bind the user ("bob sees alice's device"), or the hub's
# publish_status skips its user test ("bob's stream got alice's status event").
[ "$(asB s3 DeviceSyncStatus '{}')" = 200 ] || fail "bob's DeviceSyncStatus"
grep -q '"deviceSyncStatus":\[\]' "$T/s3.b" || fail "bob sees alice's device: $(bodyof s3)"
if grep -q 'event: status' "$T/ev_bob"; then fail "bob's stream got alice's status event"; fi
# Devices report with their token; a dashboard session cannot.
[ "$(gql r3 ReportSyncStatus "$report" -H "Cookie: etude_session=$AC" -H "X-CSRF-Token: $AX")" = 401 ] || fail "ReportSyncStatus by cookie not 401"
ok "ReportSyncStatus shown in DeviceSyncStatus, wakes /events (event: status), invisible to bob"

# ---- bad reports name the field and change nothing ----
# bad VARS FIELD: refused with 400 and a message naming FIELD.
n=0
bad() {
    n=$((n + 1))
    code=$(gql bad$n ReportSyncStatus "$1" -H "Authorization: Bearer $A")
    [ "$code" = 400 ] || fail "bad report $n ($2) answered $code: $(bodyof bad$n)"
    msg=$(bodyof bad$n | jstr message)
    case "$msg" in "variables.status.$2:"*) ;; *) fail "bad report $n: message '$msg' does not name status.$2" ;; esac
}
ok_dl='{"id":"x","entityType":"goal","reason":"r"}'
st() { printf '{"status":{"deviceId":"laptop","lastSyncAt":"2026-12-06T10:00:00.000Z","pending":0,"conflicts":0,"deadLetters":[%s]%s}}' "$1" "$2"; }
bad '{"status":{"deviceId":"","lastSyncAt":"2026-12-06T10:00:00.000Z","pending":0,"conflicts":0,"deadLetters":[]}}' deviceId
bad '{"status":{"lastSyncAt":"2026-12-06T10:00:00.000Z","pending":0,"conflicts":0,"deadLetters":[]}}' deviceId
bad '{"status":{"deviceId":"laptop","lastSyncAt":"yesterday","pending":0,"conflicts":0,"deadLetters":[]}}' lastSyncAt
bad '{"status":{"deviceId":"laptop","lastSyncAt":"2026-12-06T10:00:00.000Z","pending":-1,"conflicts":0,"deadLetters":[]}}' pending
bad '{"status":{"deviceId":"laptop","lastSyncAt":"2026-12-06T10:00:00.000Z","pending":0,"conflicts":1.5,"deadLetters":[]}}' conflicts
bad '{"status":{"deviceId":"laptop","lastSyncAt":"2026-12-06T10:00:00.000Z","pending":0,"conflicts":0}}' deadLetters
bad "$(st "$ok_dl" ',"name":7')" name
many=$(for i in $(seq 51); do printf '%s,' "$ok_dl"; done)
bad "$(st "${many%,}" '')" deadLetters
long=$(head -c 501 /dev/zero | tr '\0' 'x')
bad "$(st "{\"id\":\"x\",\"entityType\":\"goal\",\"reason\":\"$long\"}" '')" 'deadLetters[0].reason'
bad "$(st "$ok_dl,{\"id\":\"\",\"entityType\":\"goal\",\"reason\":\"r\"}" '')" 'deadLetters[1].id'
bad "$(st "{\"id\":\"x\",\"entityType\":\"\",\"reason\":\"r\"}" '')" 'deadLetters[0].entityType'
bad "$(st "{\"id\":\"x\",\"entityType\":\"goal\",\"reason\":\"r\",\"at\":\"soon\"}" '')" 'deadLetters[0].at'
bad "$(st '7' '')" 'deadLetters[0]'
# 50 dead letters of 500 characters each (multi-byte ones) are the limit, and accepted.
long500=$(for i in $(seq 500); do printf 'é'; done)
fifty=$(for i in $(seq 50); do printf '{"id":"d%s","entityType":"goal","reason":"%s"},' "$i" "$long500"; done)
[ "$(gql lim ReportSyncStatus "$(st "${fifty%,}" '')" -H "Authorization: Bearer $A")" = 200 ] || fail "50 dead letters of 500 characters refused: $(bodyof lim | head -c 300)"
[ "$(syncd_sql "$DB" "SELECT count(*) FROM device_status")" = 1 ] || fail "bad reports wrote rows"
ok "bad ReportSyncStatus inputs refused naming the field ($n cases); the limits themselves accepted"

# ---- AdminMetrics ----
# fails if do_admin_metrics skips its admin test ("alice not FORBIDDEN").
[ "$(asA m1 AdminMetrics '{}')" = 200 ] || fail "AdminMetrics as alice: $(bodyof m1)"
[ "$(bodyof m1 | jcode)" = FORBIDDEN ] || fail "alice not FORBIDDEN: $(bodyof m1)"
grep -q '"adminMetrics":null' "$T/m1.b" || fail "data.adminMetrics not null for alice"
[ "$(gql m2 AdminMetrics '{}' -H "Authorization: Bearer $B")" = 200 ] && [ "$(bodyof m2 | jcode)" = FORBIDDEN ] || fail "bob's Bearer not FORBIDDEN"
[ "$(asR m3 AdminMetrics '{"minutes":60}')" = 200 ] || fail "AdminMetrics as root: $(bodyof m3)"
bodyof m3 | node -e '
let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{
  const p=JSON.parse(s).data.adminMetrics; const sum=k=>p.reduce((a,x)=>a+x[k],0);
  const bad=[];
  if(!Array.isArray(p)||p.length<1||p.length>60) bad.push("points "+(p&&p.length));
  if(sum("requests")<20) bad.push("requests "+sum("requests"));
  if(sum("errors")<15) bad.push("errors "+sum("errors"));
  if(sum("uploads")<3) bad.push("uploads "+sum("uploads"));
  const last=p[p.length-1];
  if(last.sseStreams<2) bad.push("sseStreams "+last.sseStreams);
  if(!(last.dbBytes>0)) bad.push("dbBytes "+last.dbBytes);
  if(!p.some(x=>x.latencyP50Ms>0&&x.latencyP99Ms>=x.latencyP50Ms)) bad.push("latency");
  if(!p.every(x=>/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/.test(x.at))) bad.push("at");
  if(bad.length){console.error("adminMetrics: "+bad.join(", ")+"\n"+s);process.exit(1);}
});' || fail "AdminMetrics points"
[ "$(asR m4 AdminMetrics '{"minutes":0}')" = 400 ] || fail "minutes 0 not 400"
ok "AdminMetrics: FORBIDDEN for plain users, points with traffic for the operator"
stop
