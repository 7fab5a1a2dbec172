# Scenario 1: login with no entries anywhere: synced state, nothing transferred.
. "$(dirname "$0")/sync_lib.sh"
start_server
out=$(login a) || fail "login: $out"
echo "$out"
echo "$out" | grep -q "synced: 0 uploaded, 0 downloaded, 0 conflict(s), 0 duplicate(s), 0 pending" ||
    fail "login output: $out"
st=$(dev a sync status --json) || fail "status"
echo "$st"
echo "$st" | grep -q '"state":"idle"' || fail "state not idle: $st"
echo "$st" | grep -q '"pending":0' || fail "pending not 0: $st"
echo "$st" | grep -q '"lastSyncAt":"20' || fail "no lastSyncAt: $st"
echo "$st" | grep -q '"user":"alice"' || fail "user: $st"
[ "$(sq 'SELECT count(*) FROM entities')" = 0 ] || fail "server holds entities"
[ "$(q a 'SELECT count(*) FROM entities')" = 0 ] || fail "device holds entities"
# Nothing was uploaded: the server saw no uploadBatch at all.
[ "$(sq "SELECT count(*) FROM audit WHERE operation='uploadBatch'")" = 0 ] || fail "an upload happened"
# The token file is its user's only.
[ "$(stat -c %a "$T/a/sync-token.json")" = 600 ] || fail "token file mode $(stat -c %a "$T/a/sync-token.json")"
integrity a
echo PASS
