# Scenario 2: login with local entries and an empty account: all uploaded, marked synced.
. "$(dirname "$0")/sync_lib.sh"
start_server
settings a '{"batchSize": 4}'
for i in 1 2 3 4 5 6 7 8 9 10; do dev a log note "note $i" >/dev/null || fail "note"; done
sid=$(uuid)
import_entity a practiceSession "$sid" '{"minutes":20,"title":"scales"}' 2026-11-20T10:00:00.000Z 2026-11-20T10:20:00.000Z
dev a log note "about the scales" --session "$sid" >/dev/null || fail "note on session"
before=$(live_set a)
[ "$(q a "SELECT count(*) FROM outbox")" -ge 12 ] || fail "outbox not filled"
out=$(login a) || fail "login: $out"
echo "$out"
echo "$out" | grep -q "synced: 12 uploaded, 0 downloaded" || fail "login output: $out"
[ "$(q a "SELECT count(*) FROM entities WHERE sync_status<>'synced' OR sync_version<>1 OR remote_id<>id")" = 0 ] ||
    fail "entities not marked synced: $(q a "SELECT id, sync_status, sync_version FROM entities")"
[ "$(live_set a)" = "$before" ] || fail "local data changed by the upload"
converged a
# Batches of at most 4: 12 entities took 3 uploads.
[ "$(sq "SELECT count(*) FROM audit WHERE operation='uploadBatch'")" = 3 ] || fail "expected 3 batches"
# A second sync transfers nothing.
out=$(dev a sync now) || fail "sync now"
echo "$out" | grep -q "synced: 0 uploaded, 0 downloaded" || fail "second sync: $out"
integrity a
echo PASS
