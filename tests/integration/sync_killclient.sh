# kill -9 of the client at random points during sync, ETUDE_SYNC_KILL_RUNS times (default 30, 15 in
# sanitizer builds, for CI time; longer runs: ETUDE_SYNC_KILL_RUNS=500):
# afterwards no entity is lost or duplicated and both databases pass integrity checks. Small
# batches (2) make every sync many requests and transactions long, so kills land everywhere. The
# kill delay is drawn from [0, maxms); maxms shrinks whenever a sync finishes before its kill, so
# kills keep landing inside syncs however fast the machine is.
. "$(dirname "$0")/sync_lib.sh"
if [ -n "${ETUDE_SANITIZE:-}" ]; then RUNS=${ETUDE_SYNC_KILL_RUNS:-15}; else RUNS=${ETUDE_SYNC_KILL_RUNS:-30}; fi
start_server
settings a '{"batchSize": 2, "pageSize": 3, "backoffBaseMs": 10, "maxBackoffMs": 50}'
settings b '{"batchSize": 2, "pageSize": 3, "backoffBaseMs": 10, "maxBackoffMs": 50}'
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
: >"$T/created"
killed=0
run=0
maxms=120
# Until RUNS syncs have died by the signal (a run whose sync finished first does not count).
while [ $killed -lt "$RUNS" ]; do
    run=$((run + 1))
    [ $run -gt $((RUNS * 8)) ] && fail "only $killed of $run runs were killed mid-sync"
    d=a; [ $((run % 3)) = 0 ] && d=b
    dev $d log note "$d run $run" >>"$T/created" || fail "note"
    if [ $((run % 4)) = 0 ]; then
        old=$(q $d "SELECT id FROM entities WHERE deleted_at IS NULL ORDER BY random() LIMIT 1")
        dev $d log edit "$old" "$d edit in run $run" >/dev/null 2>&1
    fi
    ETUDE_HOME="$T/$d" "$ETUDE_BIN" sync now >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % maxms)))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    if [ $? = 137 ]; then
        killed=$((killed + 1)) # died by the signal, not finished before it
    elif [ $maxms -gt 8 ]; then
        maxms=$((maxms * 3 / 4)) # the sync was faster than the kill: aim earlier
    fi
    [ $((run % 10)) = 0 ] && integrity a b
done
echo "$run runs, $killed killed mid-sync (kill delays below ${maxms} ms at the end)"
n=0
until dev a sync now >/dev/null 2>&1 && dev b sync now >/dev/null 2>&1 && dev a sync now >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -gt 10 ] && fail "devices did not settle: $(dev a sync now 2>&1)"
done
converged a b
while read -r id; do
    [ "$(sq "SELECT count(*) FROM entities WHERE id='$id' AND deleted_at IS NULL")" = 1 ] || fail "$id lost"
done <"$T/created"
[ "$(sq "SELECT count(*) FROM entities")" = "$(wc -l <"$T/created")" ] || fail "server holds $(sq "SELECT count(*) FROM entities") entities, $(wc -l <"$T/created") were created"
integrity a b
echo PASS
