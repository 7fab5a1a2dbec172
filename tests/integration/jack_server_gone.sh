#!/bin/sh
# jack_server_gone.sh - the JACK server goes away under a playing etude: it says so in one line,
# finishes the session (transport stop, reason server-gone; the session log is saved) and
# exits by itself with status 1, without crashing.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
export ETUDE_HOME="$T/home"
jack_start 64
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --click "4/4 100" --name gone
wait_for 10 sh -c "jack_lsp | grep -q '^gone:mix_L\$'" || fail "etude's port never appeared"
sleep 1
jack_stop
i=0
while kill -0 "$(jack_pid play)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "etude play still running 10 s after the server went away"
    sleep 0.1
done
wait "$(jack_pid play)"
rc=$?
cat "$T/play.err"
[ $rc -eq 1 ] || fail "exit status $rc, expected 1"
grep -q '^etude: the JACK server went away' "$T/play.err" || fail "no 'server went away' message"
grep -q '"name":"stop","payload":{"frames":[0-9]*,"reason":"server-gone"[,}]' "$T/bus.jsonl" \
    || fail "no transport stop with reason server-gone on the bus"
grep -q '"topic":"session","name":"ended"' "$T/bus.jsonl" || fail "the session was not ended"
grep -q '^callback:' "$T/play.out" || fail "no exit report"
# the session log is saved: in the store when a plugin took it, else still in the journal
saved=0
grep -rqs '"server-gone"' "$ETUDE_HOME/journal" && saved=1
if [ -f "$ETUDE_HOME/etude.db" ] && sqlite3 "$ETUDE_HOME/etude.db" \
    "select data from entities where entity_type = 'practiceSession'" 2>/dev/null | grep -q '"endReason":"server-gone"'; then
    saved=1
fi
[ $saved = 1 ] || fail "no saved session log ending with server-gone"
echo PASS
