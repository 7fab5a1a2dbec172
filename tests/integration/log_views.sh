#!/bin/sh
# log_views.sh - `log list` and `log show` on real sessions: a live `etude play` on a private jackd
# with nine notes sent into its midi_in at known offsets from the beat (as jack_midi.sh does), and
# an offline render. log list says played or rendered and, for the played one, the timing figures
# computed here from the offsets (mean, sd, share within +-25 ms, notes); log show prints them as
# text with the date, duration, material and tempo, and --json the raw entity.
# Checked to fail on 5ea0c9c: log list printed no timing, and log show printed JSON.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
E=$ETUDE_BIN
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

"$E" render --click "2 4/4 120" -o "$T/r.wav" --rate 8000 >/dev/null 2>"$T/r.err" || fail "render: $(cat "$T/r.err")"

jack_start 64
jack_bg play "$E" play --click "16 4/4 120" --name lv --transport follow
wait_for 10 sh -c "jack_lsp | grep -q '^lv:midi_in\$'" || fail "etude's midi_in never appeared"
# 120 bpm at 48 kHz: a beat every 24000 frames; offsets in frames (48 per ms)
offsets="0 240 -480 960 -1200 1440 48 -2400 600"
frames=$(k=2; for o in $offsets; do echo $((k * 24000 + o)); k=$((k + 1)); done | tr '\n' ' ')
jack_bg midi "$TC" midi lv:midi_in $frames
sleep 0.3
"$TC" locate 0 && "$TC" start
wait "$(jack_pid midi)" || fail "the MIDI sender could not send every note"
# end while rolling: etude publishes its last timing figures, then ends the session
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero"
# the figures as log list and log show must print them, from the offsets sent
acc=$(echo $offsets | awk '{ n = NF; for (i = 1; i <= n; i++) { x[i] = $i / 48.0; s += x[i] }
    m = s / n; for (i = 1; i <= n; i++) { v += (x[i] - m) ^ 2; a = x[i] < 0 ? -x[i] : x[i]; if (a <= 25) w++ }
    printf "mean %+.1f ms, sd %.1f ms, %.0f%% within \302\26125 ms (%d notes)", m, sqrt(v / n), w / n * 100, n }')
echo "expected: $acc"
eq "$acc" "mean -1.8 ms, sd 22.8 ms, 78% within ±25 ms (9 notes)" "the figures worked out here"

"$E" log list >"$T/list.txt" || fail "log list"
cat "$T/list.txt"
P=$(db "select substr(id,1,8) from entities where entity_type='practiceSession' and json_extract(data,'\$.command')='play'")
R=$(db "select substr(id,1,8) from entities where entity_type='practiceSession' and json_extract(data,'\$.command')='render'")
grep -q "^$R  .* rendered   0m04s  120 bpm  *2 4/4 120\$" "$T/list.txt" || fail "log list: the render"
grep -q "^$P  .* played  .* 120 bpm  *16 4/4 120  timing $acc\$" "$T/list.txt" || fail "log list: the played session's timing"

"$E" log show "$P" >"$T/show.txt" || fail "log show"
cat "$T/show.txt"
started=$(db "select json_extract(data,'\$.startedAt') from entities where id like '$P%'")
secs=$(db "select cast(round(json_extract(data,'\$.activeSeconds')) as int) from entities where id like '$P%'")
grep -q "^date: *$(echo "$started" | cut -c1-10) $(echo "$started" | cut -c12-19) UTC, to " "$T/show.txt" || fail "log show: date"
grep -q "^kind: *played\$" "$T/show.txt" || fail "log show: kind"
grep -q "^duration: *$((secs / 60))m$(printf %02d $((secs % 60)))s\$" "$T/show.txt" || fail "log show: duration (${secs}s)"
grep -q "^material: *16 4/4 120\$" "$T/show.txt" || fail "log show: material"
grep -q "^tempo: *120 bpm\$" "$T/show.txt" || fail "log show: tempo"
grep -q "^accuracy: *$acc\$" "$T/show.txt" || fail "log show: accuracy"
grep -q '^[{"]' "$T/show.txt" && fail "log show printed JSON"
"$E" log show "$R" | grep -q "^kind: *rendered (not practice)\$" || fail "log show of the render"
"$E" log show "$R" | grep -q "^accuracy: *no MIDI played\$" || fail "log show of the render: accuracy"
"$E" log show --json "$P" >"$T/show.json" || fail "log show --json"
eq "$(sqlite3 :memory: "select json_extract(readfile('$T/show.json'),'\$.entityType') || ' ' || json_extract(readfile('$T/show.json'),'\$.data.timing.notes') || ' ' || json_extract(readfile('$T/show.json'),'\$.checksum')")" \
   "practiceSession 9 $(db "select checksum from entities where id like '$P%'")" "log show --json: the raw entity"
if "$E" log show "$P" --yaml 2>"$T/err"; then fail "log show --yaml accepted"; fi
eq "$(cat "$T/err")" "etude log show: unknown option '--yaml' (expected --json)" "log show bad flag"
echo "log_views: ok"
