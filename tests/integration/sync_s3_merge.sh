# Scenario 3: login with entries on both sides: merged both ways, tokens updated.
. "$(dirname "$0")/sync_lib.sh"
start_server
for i in 1 2 3; do dev a log note "from a $i" >/dev/null; done
login a >/dev/null || fail "login a"
for i in 1 2 3 4; do dev b log note "from b $i" >/dev/null; done
dev a log note "a while b was away" >/dev/null
tok_before=$(cat "$T/a/sync-token.json")
out=$(login b) || fail "login b: $out"
echo "$out"
echo "$out" | grep -q "synced: 4 uploaded, 3 downloaded" || fail "login b output: $out"
out=$(dev a sync now) || fail "sync a"
echo "$out"
echo "$out" | grep -q "synced: 1 uploaded, 4 downloaded" || fail "sync a: $out"
dev b sync now >/dev/null || fail "sync b"
converged a b
[ "$(q a "SELECT count(*) FROM entities")" = 8 ] || fail "expected 8 entities"
# Both devices' sync cursors name the server's latest change.
latest=$(sq "SELECT seq FROM users WHERE name='alice'")
[ "$latest" = 8 ] || fail "server sequence $latest"
ca=$(q a "SELECT value FROM sync_meta WHERE key LIKE 'cursor@%'")
cb=$(q b "SELECT value FROM sync_meta WHERE key LIKE 'cursor@%'")
[ -n "$ca" ] && [ "$ca" = "$cb" ] || fail "cursors differ: '$ca' '$cb'"
# Login on b did not disturb a's token; each device has its own.
[ "$(cat "$T/a/sync-token.json")" = "$tok_before" ] || fail "a's token file changed"
ta=$(grep accessToken "$T/a/sync-token.json"); tb=$(grep accessToken "$T/b/sync-token.json")
[ "$ta" != "$tb" ] || fail "devices share a token"
for d in a b; do
    [ "$(q $d "SELECT value FROM sync_meta WHERE key='user_name'")" = alice ] || fail "$d: user not adopted"
done
integrity a b
echo PASS
