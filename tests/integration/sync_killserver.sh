# kill -9 of etude-syncd at random points during sync, ETUDE_SYNC_KILL_RUNS times (default 50),
# restarting it on the same port each time: no entity lost or duplicated, and the client's and
# the server's databases pass integrity checks.
. "$(dirname "$0")/sync_lib.sh"
RUNS=${ETUDE_SYNC_KILL_RUNS:-50}
start_server
for d in a b; do
    settings $d '{"batchSize": 2, "pageSize": 3, "backoffBaseMs": 10, "maxBackoffMs": 50, "maxRetries": 1}'
done
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
: >"$T/created"
for run in $(seq 1 "$RUNS"); do
    d=a; [ $((run % 2)) = 0 ] && d=b
    dev $d log note "$d run $run" >>"$T/created" || fail "note"
    ETUDE_HOME="$T/$d" "$ETUDE_BIN" sync now >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % 150)))"
    stop_server
    wait $pid 2>/dev/null
    r=$(sq "PRAGMA integrity_check")
    [ "$r" = ok ] || fail "run $run: server db integrity_check: $r"
    LISTEN=$SERVER_ADDR start_server
done
n=0
until dev a sync now >/dev/null 2>&1 && dev b sync now >/dev/null 2>&1 && dev a sync now >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -gt 10 ] && fail "devices did not settle: $(dev a sync now 2>&1)"
done
converged a b
while read -r id; do
    [ "$(sq "SELECT count(*) FROM entities WHERE id='$id'")" = 1 ] || fail "$id lost"
done <"$T/created"
[ "$(sq "SELECT count(*) FROM entities")" = "$(wc -l <"$T/created")" ] || fail "server holds $(sq "SELECT count(*) FROM entities") entities, $(wc -l <"$T/created") were created"
integrity a b
echo "$RUNS server kills"
echo PASS
