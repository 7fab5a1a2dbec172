# Accounts are partitioned on a device: after `sync logout` and a login as another user, nothing of
# the first account is listed (log list, export, goals), edited or uploaded; switching back shows the
# first account's data again; data written before any login is adopted by the first account.
# Fails on fd82c7f: bob's `log list` shows alice's notes and an edit of one is uploaded into bob's
# account (and with alice's changes still queued, bob's login is refused outright).
. "$(dirname "$0")/sync_lib.sh"
start_server
login_bob() { printf '%s\n' "other $PASSWORD" | dev "$1" sync login --server "$SERVER_URL" --user bob --password-stdin; }
dev a log note "anonymous note" >/dev/null || fail "note before login"
login a >/dev/null || fail "login alice"
dev a log note "alice note" >/dev/null
dev a goal add minutes 30 --per day >/dev/null || fail "goal"
na=$(dev a log list --json | node -e 'const a=JSON.parse(require("fs").readFileSync(0));const n=a.find(e=>e.data&&e.data.text==="alice note");console.log(n?n.id:"")')
[ -n "$na" ] || fail "alice's note not listed"
dev a sync now >/dev/null || fail "sync alice"
# The anonymous note went up under alice.
[ "$(sq "SELECT count(*) FROM entities e JOIN users u ON u.id=e.user_id WHERE u.name='alice' AND json_extract(e.data,'\$.text')='anonymous note'")" = 1 ] ||
    fail "the anonymous note was not adopted by alice"
dev a sync logout >/dev/null || fail "logout alice"
# Logged out, the device still shows alice's data; an edit now is queued for alice's next login.
dev a log list | grep -q "alice note" || fail "alice's data hidden after logout"
dev a log edit "$na" "alice edited offline" >/dev/null || fail "edit"
# bob on the same device
login_bob a >/dev/null || fail "login bob"
dev a log list >"$T/list"
grep -q "alice\|anonymous note" "$T/list" && fail "bob sees alice's data: $(cat "$T/list")"
dev a export >"$T/exp"
[ "$(grep -c '"entityType"' "$T/exp")" = 0 ] || fail "bob's export holds alice's entities"
dev a goal list | grep -q 30 && fail "bob sees alice's goal"
dev a log edit "${na%%-*}" "bob writes over alice" >/dev/null 2>&1 && fail "bob edited alice's note"
dev a log note "bob note" >/dev/null
dev a sync now >/dev/null || fail "sync bob"
[ "$(sq "SELECT count(*) FROM entities e JOIN users u ON u.id=e.user_id WHERE u.name='bob'")" = 1 ] ||
    fail "bob's account holds $(sq "SELECT count(*) FROM entities e JOIN users u ON u.id=e.user_id WHERE u.name='bob'") entities"
[ "$(sq "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$na'")" = "alice note" ] ||
    fail "alice's offline edit went up while bob was logged in"
dev a sync logout >/dev/null
# back to alice: her data again, and her queued edit goes up now
login a >"$T/out" || fail "login alice again"
grep -q "1 uploaded" "$T/out" || fail "alice's queued edit not sent: $(cat "$T/out")"
dev a log list >"$T/list"
grep -q "alice edited offline" "$T/list" || fail "alice's data not shown again"
grep -q "bob note" "$T/list" && fail "alice sees bob's note"
[ "$(sq "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$na'")" = "alice edited offline" ] || fail "server"
# a second device of bob's sees only bob's
login_bob b >/dev/null || fail "login bob on b"
[ "$(dev b log list | grep -c note)" = 1 ] || fail "b: $(dev b log list)"
integrity a b
echo PASS
