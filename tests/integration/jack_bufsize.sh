#!/bin/sh
# jack_bufsize.sh - the server's period changes from 64 to 256 frames (jack_bufsize) while etude
# plays: it keeps playing, every click is still exactly where the map puts it relative to the
# others (recorded across the change), and the report gives the new period.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
jack_start 64
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --click "6 4/4 150" --name bs --no-session
wait_for 10 sh -c "jack_lsp | grep -q '^bs:mix_L\$'" || fail "etude's port never appeared"
jack_bg rec "$TC" record-raw bs:mix_L 7 "$T/rec.wav" "$T/marks.txt"
sleep 1.5
jack_bufsize 256 >/dev/null || fail "jack_bufsize refused"
wait "$(jack_pid play)" || fail "etude play exited non-zero"
kill -TERM "$(jack_pid rec)" 2>/dev/null
wait "$(jack_pid rec)"
cat "$T/play.out"
grep -q "periods of 256 frames" "$T/play.out" || fail "the report does not give the new period"
grep -q '"name":"jack:buffer-size","payload":{"period":256}' "$T/bus.jsonl" || fail "no buffer-size message"
grep -q "stopped (end)" "$T/play.out" || fail "etude did not play to the end"
"$ETUDE_TEST_BIN/jack_onsets" "$T/rec.wav" --click "6 4/4 150" >"$T/onsets.out" \
    || { cat "$T/onsets.out"; fail "clicks moved across the period change"; }
cat "$T/onsets.out"
echo PASS
