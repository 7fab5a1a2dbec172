# A token that expires mid-sync recovers by refresh: access tokens live 1 s, so every sync after a
# pause meets a 401, refreshes (the refresh token rotates) and retries. An unusable refresh token
# ends in a clear "log in again" error, with nothing lost.
. "$(dirname "$0")/sync_lib.sh"
start_server --token-ttl 1
settings a '{"batchSize": 1}'
login a >/dev/null || fail "login"
r0=$(grep refreshToken "$T/a/sync-token.json")
for i in 1 2 3 4 5 6; do dev a log note "n$i" >/dev/null; done
sleep 1.5
# Six one-entity batches: the token runs out on the way and is refreshed in place.
out=$(dev a sync now) || fail "sync after expiry: $out"
echo "$out"
echo "$out" | grep -q "6 uploaded" || fail "sync: $out"
[ "$(sq "SELECT count(*) FROM audit WHERE operation='refreshToken' AND result='ok'")" -ge 1 ] || fail "no refresh"
r1=$(grep refreshToken "$T/a/sync-token.json")
[ "$r0" != "$r1" ] || fail "the refresh token was not rotated in the token file"
[ "$(stat -c %a "$T/a/sync-token.json")" = 600 ] || fail "token file mode after refresh"
converged a
# A revoked session: the refresh is refused; the sync fails clearly, the change stays queued.
sq "UPDATE sessions SET revoked_at=1"
sleep 1.2
dev a log note "after revocation" >/dev/null
dev a sync now 2>"$T/err" && fail "sync worked with a revoked session"
cat "$T/err"
grep -q "login" "$T/err" || fail "error does not say to log in again: $(cat "$T/err")"
[ "$(q a "SELECT count(*) FROM outbox")" = 1 ] || fail "the change was dropped"
dev a sync status --json | grep -q '"state":"error"' || fail "state not error"
login a >/dev/null || fail "login again"
converged a
echo PASS
