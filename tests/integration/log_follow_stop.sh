#!/bin/sh
# log_follow_stop.sh - `etude play --transport follow` whose session ends because the JACK transport
# stops: the notes played up to the stop count in the session's timing. Three notes go into its
# midi_in at known offsets from the beat within the first two seconds (less than the 5 s between
# periodic timing publications), then the transport stops; log list must give their figures.
# Checked to fail on 55e3764: the session ended at the stop with no timing ("timing" null).
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
E=$ETUDE_BIN
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1" 2>/dev/null; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

jack_start 64
jack_bg play "$E" play --click "16 4/4 120" --name fs --transport follow
wait_for 10 sh -c "jack_lsp | grep -q '^fs:midi_in\$'" || fail "etude's midi_in never appeared"
# 120 bpm at 48 kHz: a beat every 24000 frames; offsets in frames (48 per ms): 0, +5 ms, -10 ms
frames="48000 72240 95520"
jack_bg midi "$TC" midi fs:midi_in $frames
sleep 0.3
"$TC" locate 0 && "$TC" start
wait "$(jack_pid midi)" || fail "the MIDI sender could not send every note"
"$TC" stop
wait_for 10 sh -c "[ \"\$(sqlite3 -batch '$ETUDE_HOME/etude.db' \"select count(*) from entities where entity_type='practiceSession'\" 2>/dev/null)\" = 1 ]" \
    || fail "no session stored after the transport stopped"
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero"
eq "$(db "select count(*) from entities where entity_type='practiceSession'")" 1 "sessions"
eq "$(db "select json_extract(data,'\$.endReason') || ' ' || ifnull(json_extract(data,'\$.timing.notes'),'null') from entities where entity_type='practiceSession'")" \
   "stopped 3" "end reason and notes timed"
"$E" log list >"$T/list.txt" || fail "log list"
cat "$T/list.txt"
grep -q " played .*  timing mean -1\.7 ms, sd 6\.2 ms, 100% within ±25 ms (3 notes)\$" "$T/list.txt" \
    || fail "log list: the timing of the three notes"
echo "log_follow_stop: ok"
