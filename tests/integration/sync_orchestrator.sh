# The sync plugin's orchestrator end to end: `etude render` stores its session through etude.sync/1
# and the session is on the server when the command returns; a running orchestrator pulls when
# etude-syncd's /events announces another device's upload (no local change, no timer involved),
# and syncs a change another process made to its store after the debounce.
. "$(dirname "$0")/sync_lib.sh"
start_server
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
dev a render --click "2 4/4 120" -o "$T/out.wav" >/dev/null 2>"$T/render.err" || fail "render: $(cat "$T/render.err")"
[ "$(sq "SELECT count(*) FROM entities WHERE entity_type='practiceSession'")" = 1 ] ||
    fail "the rendered session did not reach the server"
[ "$(q a "SELECT count(*) FROM outbox")" = 0 ] || fail "a still has queued changes"

settings b '{"intervalSeconds": 3600, "debounceMs": 200}'
"$ETUDE_TEST_BIN/sync_orch_driver" "$T/b" "$T/stop" 120 >"$T/driver.out" 2>&1 &
DRIVER=$!
PIDS="$PIDS $DRIVER"
# Wait for its first sync (it pulls a's session), then for the event stream to be open.
i=0
until [ "$(q b "SELECT count(*) FROM entities WHERE entity_type='practiceSession'")" = 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "the orchestrator's first sync did not pull"; sleep 0.1
done
i=0
until [ "$(sq "SELECT count(*) FROM audit WHERE operation='events'")" -ge 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "the orchestrator did not open /events"; sleep 0.1
done
id=$(dev a log note "pushed by a") || fail note
dev a sync now >/dev/null || fail "sync a"
i=0
until [ "$(q b "SELECT count(*) FROM entities WHERE id='$id'")" = 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "b's orchestrator did not pull after the event"; sleep 0.1
done
# Another process writes into b's store: the orchestrator uploads it after the debounce.
nb=$(dev b log note "written by the CLI on b") || fail note
i=0
until [ "$(sq "SELECT count(*) FROM entities WHERE id='$nb'")" = 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "b's orchestrator did not upload the change"; sleep 0.1
done
# While the engine plays, nothing is uploaded; once it stops, the change goes up.
touch "$T/b/playing"
sleep 0.3
np=$(dev b log note "written while playing") || fail note
sleep 2 # ten times the debounce: an orchestrator ignoring "playing" would have uploaded by now
[ "$(sq "SELECT count(*) FROM entities WHERE id='$np'")" = 0 ] || fail "uploaded while playing"
rm "$T/b/playing"
i=0
until [ "$(sq "SELECT count(*) FROM entities WHERE id='$np'")" = 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "not uploaded after playing stopped"; sleep 0.1
done
# The network goes away: the sync fails (sync:error on the bus, state offline); when the server is
# back on the same address, the orchestrator's probing uploads what was queued meanwhile.
stop_server
no=$(dev b log note "written while offline") || fail note
i=0
until grep -q "^sync sync:error" "$T/driver.out"; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "no sync:error while the server was down"; sleep 0.1
done
dev b sync status --json | grep -q '"state":"offline"' || fail "state is not offline"
LISTEN=$SERVER_ADDR start_server
i=0
until [ "$(sq "SELECT count(*) FROM entities WHERE id='$no'")" = 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "not uploaded after the network came back"; sleep 0.1
done
touch "$T/stop"
wait $DRIVER || fail "driver exit"
cat "$T/driver.out"
grep -q "^sync sync:completed" "$T/driver.out" || fail "no sync:completed on the bus"
grep -q "^sync sync:started" "$T/driver.out" || fail "no sync:started on the bus"
dev a sync now >/dev/null
converged a b
echo PASS
