# Scenario 6: logout with unsynced changes: a final sync with a deadline; what did not make it stays
# queued for that user's next login, local data is kept, and the command says what is pending.
. "$(dirname "$0")/sync_lib.sh"
start_server
login a >/dev/null || fail "login a"
for i in 1 2 3; do dev a log note "synced $i" >/dev/null; done
# Reachable server: the final sync sends everything.
dev a log note "last one" >/dev/null
out=$(dev a sync logout --timeout 20) || fail "logout: $out"
echo "$out"
echo "$out" | grep -q "0 changes pending" || fail "logout output: $out"
[ ! -e "$T/a/sync-token.json" ] || fail "token file kept"
[ "$(sq "SELECT count(*) FROM entities")" = 4 ] || fail "final sync did not upload"

# Stalled server: the final sync runs out of time, the changes stay queued.
login a >/dev/null || fail "login a again"
for i in 1 2 3 4 5; do dev a log note "offline $i" >/dev/null; done
# The server is gone: the final sync retries until the deadline, then gives up.
stop_server
out=$(dev a sync logout --timeout 2) || fail "logout (server down): $out"
echo "$out"
echo "$out" | grep -q "logged out; 5 change(s) still pending" || fail "logout output: $out"
[ "$(echo "$out" | grep -c "^  pending: logbookEntry ")" = 5 ] || fail "logout does not list the 5 pending changes"
for id in $(q a "SELECT entity_id FROM outbox"); do
    echo "$out" | grep -q "pending: logbookEntry $id (create" || fail "logout does not name $id"
done
[ ! -e "$T/a/sync-token.json" ] || fail "token file kept"
[ "$(q a "SELECT count(*) FROM entities")" = 9 ] || fail "local data not kept"
[ "$(q a "SELECT count(*) FROM outbox")" = 5 ] || fail "queue not kept"
dev a sync now 2>"$T/err" && fail "sync now worked while logged out"
grep -q "not logged in" "$T/err" || fail "sync now error: $(cat "$T/err")"
dev a sync status --json | grep -q '"pending":5' || fail "status pending"
LISTEN=$SERVER_ADDR start_server
# Another account never takes this store's queued changes: bob sees and sends none of alice's.
printf '%s\n' "other $PASSWORD" | dev a sync login --server "$SERVER_URL" --user bob --password-stdin >"$T/out" 2>&1 ||
    fail "bob's login: $(cat "$T/out")"
grep -q "0 uploaded" "$T/out" || fail "bob's login uploaded alice's changes: $(cat "$T/out")"
[ "$(sq "SELECT count(*) FROM entities")" = 4 ] || fail "alice's queue went up under bob"
dev a sync logout >/dev/null || fail "logout bob"
# The same user's next login sends them.
out=$(login a) || fail "login a: $out"
echo "$out" | grep -q "5 uploaded" || fail "next login: $out"
[ "$(sq "SELECT count(*) FROM entities")" = 9 ] || fail "server count"
converged a
integrity a
echo PASS
