# Faults between client and server (tests/support/fault_proxy.mjs: refused connections, answers
# dropped mid-body, delays, 500, 429 with Retry-After, truncated JSON): both devices keep working
# through them, and once the faults stop they converge to the same set, nothing lost and nothing
# duplicated.
. "$(dirname "$0")/sync_lib.sh"
start_server
sched=""
for k in 1 2 3 4; do
    sched="$sched,refuse,pass,drop,trunc,pass,500,429,pass,drop,delay,trunc,refuse,500,pass,drop,drop,trunc"
done
node "$ETUDE_TESTS_DIR/support/fault_proxy.mjs" --target "$SERVER_ADDR" --ready "$T/proxy.ready" \
    --faults "${sched#,}" --retry-after 1 --delay-ms 800 --stats "$T/proxy.stats" 2>"$T/proxy.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/proxy.ready" ]; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "proxy did not start"; sleep 0.05
done
PROXY="http://$(cat "$T/proxy.ready")"
for d in a b; do
    settings $d '{"batchSize": 3, "backoffBaseMs": 20, "maxBackoffMs": 200, "maxRetries": 2, "pageSize": 4}'
done
# Login goes through the proxy too: retried until it gets through.
for d in a b; do
    n=0
    until login $d "$PROXY" >/dev/null 2>&1; do
        n=$((n + 1)); [ $n -gt 30 ] && fail "login $d never got through"
    done
done
: >"$T/created"
for round in 1 2 3 4 5 6; do
    for d in a b; do
        for k in 1 2 3; do
            dev $d log note "$d round $round note $k" >>"$T/created" || fail "note"
        done
        # Edit and delete something older of this device's.
        old=$(q $d "SELECT id FROM entities WHERE deleted_at IS NULL AND json_extract(data,'\$.text') LIKE '$d round %' ORDER BY local_id LIMIT 1 OFFSET $round")
        [ -n "$old" ] && dev $d log edit "$old" "$d edited in round $round" >/dev/null
        if [ $round = 3 ] || [ $round = 5 ]; then
            del=$(q $d "SELECT id FROM entities WHERE deleted_at IS NULL AND json_extract(data,'\$.text') LIKE '$d round %' ORDER BY local_id LIMIT 1")
            dev $d log delete "$del" >/dev/null && echo "$del" >>"$T/deleted"
        fi
        dev $d sync now >/dev/null 2>>"$T/sync-errors" || true
    done
done
echo "errors seen while faults were on (expected):"
sort "$T/sync-errors" | cut -c1-160 | sort | uniq -c | sort -rn | head -8
# Faults over: sync until both are clean.
n=0
until dev a sync now >/dev/null 2>&1 && dev b sync now >/dev/null 2>&1 && dev a sync now >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -gt 20 ] && fail "devices did not settle after the faults stopped"
done
cat "$T/proxy.stats"; echo
for f in refuse drop delay 500 429 trunc; do
    grep -q "\"$f\":" "$T/proxy.stats" || fail "fault $f was never injected"
done
converged a b
# Nothing lost: every created note is on the server, live unless deleted; nothing duplicated.
while read -r id; do
    [ "$(sq "SELECT count(*) FROM entities WHERE id='$id'")" = 1 ] || fail "$id lost on the server"
done <"$T/created"
want=$(($(wc -l <"$T/created") - $(wc -l <"$T/deleted")))
[ "$(sq "SELECT count(*) FROM entities WHERE deleted_at IS NULL")" = "$want" ] || fail "server holds $(sq "SELECT count(*) FROM entities WHERE deleted_at IS NULL") live, expected $want"
[ "$(sq "SELECT count(*) FROM entities")" = "$(wc -l <"$T/created")" ] || fail "server holds extra entities"
[ "$(sq "SELECT count(*) FROM (SELECT checksum FROM entities WHERE deleted_at IS NULL GROUP BY checksum HAVING count(*)>1)")" = 0 ] ||
    fail "duplicated content on the server"
while read -r id; do
    [ -n "$(q a "SELECT deleted_at FROM entities WHERE id='$id'")" ] || fail "deleted $id came back"
done <"$T/deleted"
# Every edit survived: each device's last text for an edited note is what both hold.
[ "$(q a "SELECT count(*) FROM entities WHERE json_extract(data,'\$.text') LIKE '% edited in round %'")" -ge 8 ] ||
    fail "edits lost"
integrity a b
echo PASS
