# Two processes meet one expired access token at once: the refresh (single-use refresh tokens,
# rotated by etude-syncd) is serialised by a lock on the token file and re-read after taking it,
# so both commands succeed and nobody is told to log in again.
# ETUDE_SYNC_TEST_REFRESH_PAUSE_MS widens the window between reading the token and refreshing it.
# Fails on fd82c7f (no lock): run with ETUDE_BIN=<fd82c7f build>/etude, every round has one
# process refused with "the refresh token is unknown, expired or already used ... log in again".
. "$(dirname "$0")/sync_lib.sh"
start_server --token-ttl 1
login a >/dev/null || fail "login"
for round in 1 2 3; do
    dev a log note "round $round" >/dev/null
    sleep 1.3 # the access token has expired
    ETUDE_SYNC_TEST_REFRESH_PAUSE_MS=300 dev a sync now >"$T/o1" 2>&1 &
    p1=$!
    ETUDE_SYNC_TEST_REFRESH_PAUSE_MS=300 dev a sync now >"$T/o2" 2>&1 &
    p2=$!
    PIDS="$PIDS $p1 $p2"
    wait $p1 || fail "round $round: first sync: $(cat "$T/o1")"
    wait $p2 || fail "round $round: second sync: $(cat "$T/o2")"
    dev a sync status --json | grep -q '"loggedIn":true' || fail "round $round: logged out"
done
[ "$(sq "SELECT count(*) FROM audit WHERE operation='refreshToken' AND result='ok'")" -ge 3 ] || fail "no refresh"
converged a
echo PASS
