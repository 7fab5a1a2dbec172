# Failover behind haproxy: four real `etude` devices of two users (alice: a, c; bob: b, d) write
# notes and run `etude sync now` all at once, round after round, through haproxy (docs/haproxy.cfg)
# in front of two etude-syncd processes on one PostgreSQL database. In round 2, as soon as the
# round's first upload is on the server and while syncs are still running, process 1 is killed -9;
# the devices go on through process 2 alone (a round), then process 1 comes back on its port and
# a last round runs over both. After quiescence:
#   - every note written on any device is on the server exactly once, under its own user (ids and
#     counts, per user and in all), and nothing else is;
#   - every device of a user holds exactly that user's server set (ids and checksums), nothing
#     queued, no dead letter;
#   - each user's change sequence is gap-free and strictly increasing: the batches' ranges tile
#     1..users.seq without gap or overlap, and the entities' server_seq (one create each) are
#     exactly 1..users.seq;
#   - amcheck finds every index of the schema sound.
# Then the same checks run against damaged copies of the server database (a note dropped, a note
# moved to the other user, a sequence number reassigned, a batch's range given out twice, a gap
# at the end of a sequence) and must fail on each: shown on every run, so the checks cannot
# silently pass. Run with
#   ETUDE_SYNC_TOPOLOGY=haproxy sh tests/support/pg_harness.sh run bash tests/integration/sync_failover.sh
# (ctest: integration.sync_failover). Bounded: 6 rounds, every sync with a 20 s deadline.
. "$(dirname "$0")/sync_lib.sh"
[ "$TOPOLOGY" = haproxy ] || fail "sync_failover runs behind haproxy: ETUDE_SYNC_TOPOLOGY=haproxy"
# docs/server.md shows the routing part of docs/haproxy.cfg: every line of that block must be in the
# file this test runs (shown to fail with "balance source" in the block).
DOC=$ETUDE_TESTS_DIR/../docs
awk '/^```haproxy$/ { on = 1; next } /^```$/ { on = 0 } on' "$DOC/server.md" >"$T/doc-block"
[ -s "$T/doc-block" ] || fail "docs/server.md has no haproxy block"
while IFS= read -r line; do
    grep -qxF -- "$line" "$DOC/haproxy.cfg" || fail "docs/server.md shows '$line', which docs/haproxy.cfg lacks"
done <"$T/doc-block"
T0=$(date +%s)
start_server

ALICE="a c" BOB="b d" DEVICES="a b c d"
user_of() { case "$1" in a | c) echo alice ;; *) echo bob ;; esac; }
for d in $DEVICES; do
    # Small batches: a sync is many requests, so the kill lands among them; quick retries.
    settings $d '{"batchSize": 1, "pageSize": 5, "backoffBaseMs": 50, "maxBackoffMs": 400, "maxRetries": 8, "requestTimeoutSeconds": 5}'
done
pids=""
for d in $DEVICES; do
    if [ "$(user_of $d)" = alice ]; then pw=$PASSWORD; else pw="other $PASSWORD"; fi
    printf '%s\n' "$pw" | dev $d sync login --server "$SERVER_URL" --user "$(user_of $d)" --password-stdin >"$T/login.$d" 2>&1 &
    pids="$pids $!"
done
for p in $pids; do wait $p || fail "a login failed: $(cat "$T"/login.*)"; done
: >"$T/created.alice"
: >"$T/created.bob"
uploads() { sq "SELECT count(*) FROM audit WHERE operation='uploadBatch'"; }
# write_notes DEVICE ROUND N: N new notes in one import (devices in parallel); ids to created.DEVICE.ROUND.
write_notes() {
    now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
    f="$T/notes.$1.ndjson"
    echo '{"etudeExport":1,"schemaVersion":1}' >"$f"
    : >"$T/created.$1.$2"
    k=0
    while [ $k -lt "$3" ]; do
        k=$((k + 1))
        nid=$(uuid)
        data="{\"text\":\"$1 round $2 note $k\"}"
        sum=$(printf '%s' "$data" | sha256sum | cut -d' ' -f1)
        printf '{"id":"%s","remoteId":null,"entityType":"logbookEntry","createdAt":"%s","updatedAt":"%s","deletedAt":null,"syncStatus":"pending","syncVersion":0,"checksum":"%s","data":%s}\n' \
            "$nid" "$now" "$now" "$sum" "$data" >>"$f"
        echo "$nid" >>"$T/created.$1.$2"
    done
    dev "$1" import "$f" >/dev/null
}

ROUNDS=4 KILL_ROUND=2 BACK_ROUND=4
killed_mid=0 failed_syncs=0
r=0
while [ $r -lt $ROUNDS ]; do
    r=$((r + 1))
    [ $r = $BACK_ROUND ] && { start_server; say "round $r: process 1 is back on ${BACKEND_ADDR}"; }
    say "round $r at $(($(date +%s) - T0)) s"
    # The kill round carries 24 notes a device (96 uploads of one note): on a fast, quiet machine 4
    # a device were all on the server before the poll below saw the first (a CI run: "0 of 4 syncs
    # running, 16 uploads of the round on the server").
    n=4
    [ $r = $KILL_ROUND ] && n=24
    pids=""
    for d in $DEVICES; do write_notes $d $r $n & pids="$pids $!"; done
    for p in $pids; do wait $p || fail "round $r: writing notes"; done
    for d in $DEVICES; do cat "$T/created.$d.$r" >>"$T/created.$(user_of $d)"; done
    u0=$(uploads)
    pids=""
    for d in $DEVICES; do
        (ETUDE_HOME="$T/$d" "$ETUDE_BIN" sync now --timeout 20 >"$T/sync.$d.$r" 2>&1; echo $? >"$T/rc.$d.$r") &
        pids="$pids $!"
    done
    if [ $r = $KILL_ROUND ]; then
        # The moment the round's first upload is committed, with syncs still running: kill -9.
        i=0
        until [ "$(uploads)" -gt "$u0" ]; do
            i=$((i + 1)); [ $i -gt 400 ] && fail "round $r: no upload reached the server"
            sleep 0.02
        done
        running=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
        kill -9 "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
        at=$(uploads)
        say "round $r: process 1 killed -9 with $running of 4 syncs running, $((at - u0)) uploads of the round on the server"
        [ "$running" -gt 0 ] || fail "the kill came after every sync had finished"
        killed_mid=$running
    fi
    for p in $pids; do wait "$p"; done
    for d in $DEVICES; do
        rc=$(cat "$T/rc.$d.$r")
        if [ "$rc" != 0 ]; then
            failed_syncs=$((failed_syncs + 1))
            echo "round $r: device $d's sync ended $rc: $(tail -1 "$T/sync.$d.$r")"
            # Only the syncs cut by the kill may fail; the survivor serves every later one.
            [ $r = $KILL_ROUND ] || fail "round $r: device $d's sync failed: $(cat "$T/sync.$d.$r")"
        fi
    done
    if [ $r = $KILL_ROUND ]; then
        # haproxy takes it out: at the first refused connection of live traffic, or by its checks
        # (fall 2 at inter 1s) when the round ended before a request reached it.
        i=0
        until [ "$(haproxy_backends | grep -c '^s1 DOWN')" = 1 ]; do
            i=$((i + 1)); [ $i -gt 100 ] && fail "haproxy does not see process 1 down: $(haproxy_backends | tr '\n' ' ')"
            sleep 0.1
        done
    fi
done
say "haproxy per server (name status retries redispatches):"
curl -sS "http://$HAPROXY_STATS/;csv" | awk -F, '$1 == "etude_graphql" { print "  " $2, $18, "wretr=" $16, "wredis=" $17 }'

# Quiescence: every device syncs (all at once) until a sync succeeds with nothing pending, twice
# over (the second pass pulls what the others sent in the first).
settle() {
    n=0
    until dev $1 sync now --timeout 20 >"$T/settle.$1" 2>&1 && grep -q " 0 pending" "$T/settle.$1"; do
        n=$((n + 1)); [ $n -gt 3 ] && { echo "device $1 does not settle: $(cat "$T/settle.$1")"; return 1; }
    done
}
for _ in 1 2; do
    pids=""
    for d in $DEVICES; do settle $d & pids="$pids $!"; done
    for p in $pids; do wait $p || fail "quiescence"; done
done
say "quiet after $(($(date +%s) - T0)) s"

# ids_of USER: the user's entity ids on the server, sorted.
ids_of() {
    sq "SELECT e.id FROM entities e JOIN users u ON u.id = e.user_id WHERE u.name = '$1' ORDER BY e.id COLLATE \"C\""
}
set_of() {
    sq "SELECT e.id || ' ' || CASE WHEN e.deleted_at IS NULL THEN e.checksum ELSE 'deleted' END FROM entities e
        JOIN users u ON u.id = e.user_id WHERE u.name = '$1' ORDER BY e.id COLLATE \"C\""
}

# check_all: the checks above on the database SERVER_DB; 1 with a message at the first failure.
check_all() {
    total=0
    for u in alice bob; do
        want=$(LC_ALL=C sort "$T/created.$u")
        n=$(printf '%s\n' "$want" | grep -c .)
        total=$((total + n))
        [ "$(ids_of $u)" = "$want" ] || { echo "check: $u: the server's ids differ from the $n written"; return 1; }
        # One query: the user's sequence; the batches' ranges in order (gap-free and strictly
        # increasing: each starts right after the one before, from 1, and the last ends at seq);
        # the notes' server_seq (one create each, applied once: exactly 1..seq).
        r=$(sq "WITH u AS (SELECT id, seq FROM users WHERE name = '$u'),
                b AS (SELECT first_seq, last_seq, lag(last_seq, 1, 0::bigint) OVER (ORDER BY first_seq, last_seq) AS prev
                      FROM batches WHERE user_id = (SELECT id FROM u) AND last_seq IS NOT NULL),
                e AS (SELECT count(*) AS n, count(DISTINCT server_seq) AS d, coalesce(min(server_seq), 0) AS lo,
                      coalesce(max(server_seq), 0) AS hi FROM entities WHERE user_id = (SELECT id FROM u))
                SELECT (SELECT seq FROM u), (SELECT count(*) FROM b WHERE first_seq <> prev + 1 OR last_seq < first_seq),
                       (SELECT coalesce(max(last_seq), 0) FROM b), n, d, lo, hi FROM e") || return 1
        IFS='|' read -r seq badtiles lastend en ed lo hi <<EOF2
$r
EOF2
        [ "$badtiles" = 0 ] && [ "$lastend" = "$seq" ] ||
            { echo "check: $u: batch ranges do not tile 1..$seq ($badtiles out of order or overlapping, the last ends at $lastend)"; return 1; }
        [ "$en $ed $lo $hi" = "$n $n 1 $seq" ] && [ "$seq" = "$n" ] ||
            { echo "check: $u: count, distinct seqs, min, max of server_seq '$en $ed $lo $hi', want '$n $n 1 $n' (users.seq $seq)"; return 1; }
        # Every device of the user holds the same set as the server; nothing queued or dead.
        srv=$(set_of $u)
        devs=$ALICE; [ $u = bob ] && devs=$BOB
        for d in $devs; do
            [ "$(live_set $d)" = "$srv" ] || { echo "check: device $d does not hold $u's server set"; return 1; }
            [ "$(q $d "SELECT count(*) FROM outbox")" = 0 ] || { echo "check: device $d still has changes queued"; return 1; }
            st=$(dev $d sync status --json)
            echo "$st" | grep -q '"deadLetters":\[\]' || { echo "check: device $d has dead letters: $st"; return 1; }
        done
    done
    [ "$(sq "SELECT count(*) FROM entities")" = "$total" ] || { echo "check: the server holds $(sq "SELECT count(*) FROM entities") entities, $total were written"; return 1; }
    return 0
}
check_all || fail "after failover: see above"
server_integrity
say "$(sq "SELECT count(*) FROM entities") notes of $(wc -l <"$T/created.alice") + $(wc -l <"$T/created.bob") written, each once; sequences gap-free; $failed_syncs sync(s) cut by the kill, $killed_mid running at it"

# The checks must fail on a damaged server: each damage on a copy of the database (processes
# stopped, so the copy can be made), the checks run there and must say no.
stop_server
SRC_DB=$SERVER_DB
k=0
for damage in \
    "DELETE FROM entities WHERE id = (SELECT min(id) FROM entities)" \
    "UPDATE entities SET server_seq = server_seq + 100000, user_id = (SELECT id FROM users WHERE name = 'bob') WHERE id = (SELECT min(e.id) FROM entities e JOIN users u ON u.id = e.user_id WHERE u.name = 'alice')" \
    "UPDATE entities SET server_seq = server_seq + 1000 WHERE id = (SELECT min(id) FROM entities)" \
    "INSERT INTO batches(user_id, batch_id, device_id, mutation_seq, result, created_at, first_seq, last_seq)
        SELECT id, 'again', 'x', 1, '{}', 0, seq, seq FROM users WHERE name = 'bob'" \
    "UPDATE users SET seq = seq + 1 WHERE name = 'bob'"; do
    k=$((k + 1))
    i=0 # the killed processes' database sessions may take a moment to end
    until pg_sql postgres "CREATE DATABASE damaged_$k TEMPLATE \"sync_$$\"" >/dev/null 2>"$T/err"; do
        i=$((i + 1)); [ $i -gt 50 ] && fail "copy of the database: $(cat "$T/err")"
        sleep 0.1
    done
    SERVER_DB="postgresql:///damaged_$k?host=$ETUDE_PG_HOST&port=$ETUDE_PG_PORT&user=$ETUDE_PG_USER"
    sq "$damage" >/dev/null || fail "damage $k"
    if out=$(check_all); then fail "the checks passed on a damaged database: $damage"; fi
    echo "damaged copy $k caught: $out"
done
SERVER_DB=$SRC_DB
echo PASS
