#!/bin/sh
# session_play.sh - live `etude play` runs (private jackd, dummy driver) recorded as sessions:
# a complete run checked field by field against play's own report, then a run killed with -9
# after 11.5 s recovered at the next start, marked interrupted, having lost at most 10 s.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
jack_start 256

# 1. a complete live run: 2 bars at 240 bpm, transport off, ends by itself
"$ETUDE_BIN" play --click "2 4/4 240" --name sp1 >"$T/p1.out" 2>"$T/p1.err" || fail "play 1 exited non-zero"
frames=$(sed -n 's/^etude: stopped (end) after .* s played (\([0-9]*\) frames)$/\1/p' "$T/p1.out")
[ -n "$frames" ] || fail "no 'stopped (end)' report: $(cat "$T/p1.out")"
notes=$(sed -n 's/^timing: \([0-9]*\) notes.*/\1/p' "$T/p1.out")
S="select json_extract(data,'\$.X') from entities where entity_type='practiceSession'"
f() { db "$(echo "$S" | sed "s/X/$1/")"; }
eq "$(db "select count(*) from entities where entity_type='practiceSession'")" 1 "sessions"
eq "$(f command)" play "command"
eq "$(f material)" "2 4/4 240" "material"
eq "$(f endReason)" end "endReason"
eq "$(f interrupted)" 0 "interrupted"
eq "$(f rate)" 48000 "rate"
eq "$(f activeSeconds | awk '{ printf "%.3f", $1 }')" "$(echo "$frames" | awk '{ printf "%.3f", $1 / 48000 }')" "activeSeconds = frames played / rate"
eq "$(f tempoMinBpm)-$(f tempoMaxBpm)" "240-240" "tempo range"
eq "$(f bars)" 2 "bars"
xr=$(sed -n 's/^xruns: \([0-9]*\)$/\1/p' "$T/p1.out")
[ "$(f xruns)" -le "$xr" ] || fail "session xruns $(f xruns) > the $xr play reported over its whole run"
eq "$(f notes)" "$notes" "notes (from the timing analysis)"
eq "$(db "select count(*) from entities where entity_type='practiceLog'")" 1 "practiceLogs"
[ -z "$(ls "$ETUDE_HOME/journal")" ] || fail "journal left behind"

# 2. kill -9 after 11.5 s of a long run: recovered at the next start, at most 10 s lost
jack_bg p2 "$ETUDE_BIN" play --click "64 4/4 120" --name sp2
wait_for 10 sh -c "jack_lsp | grep -q '^sp2:mix_L\$'" || fail "play 2 never registered"
sleep 11.5
kill -9 "$(jack_pid p2)"
wait "$(jack_pid p2)" 2>/dev/null || true
[ -n "$(ls "$ETUDE_HOME/journal")" ] || fail "no journal after kill -9"
"$ETUDE_BIN" play --click "1 4/4 240" --name sp3 >"$T/p3.out" 2>"$T/p3.err" || fail "play 3 exited non-zero"
[ -z "$(ls "$ETUDE_HOME/journal")" ] || fail "journal left after recovery"
R="from entities where entity_type='practiceSession' and json_extract(data,'\$.material')='64 4/4 120'"
eq "$(db "select count(*) $R")" 1 "recovered sessions"
eq "$(db "select json_extract(data,'\$.interrupted') || ',' || json_extract(data,'\$.endReason') $R")" "1,interrupted" "recovered flags"
secs=$(db "select json_extract(data,'\$.activeSeconds') $R")
awk -v s="$secs" 'BEGIN { exit !(s >= 1.5 && s <= 11.5) }' || fail "recovered activeSeconds $secs: more than 10 s of 11.5 lost"
eq "$(db "select count(*) from entities where entity_type='practiceSession'")" 3 "sessions in all"

# 3. MIDI material through a practice (no tempo map): bars, tempo and loops come from the practice.
# One count-in bar, then bar 1 of the chorale twice, at twice its written 72 bpm: 3 bars, 1 loop.
mid="$ETUDE_TESTS_DIR/../presets/assets/chorale.mid"
cat >"$T/practice.json" <<JSON
{"voices": [
  {"kind": "practice", "name": "click", "midi": "$mid", "count_in": 1, "tempo_scale": 2,
   "loop": {"from_bar": 1, "to_bar": 1, "times": 2}},
  {"kind": "midi", "name": "choir", "file": "$mid"}]}
JSON
"$ETUDE_BIN" play "$T/practice.json" --name sp4 >"$T/p4.out" 2>"$T/p4.err" || fail "play 4 exited non-zero: $(cat "$T/p4.err")"
P="from entities where entity_type='practiceSession' and json_extract(data,'\$.preset')='$T/practice.json'"
eq "$(db "select json_extract(data,'\$.bars') || ',' || json_extract(data,'\$.loops') || ',' || json_extract(data,'\$.endReason') $P")" "3,1,end" "practice bars,loops,endReason"
eq "$(db "select json_extract(data,'\$.tempoMinBpm') || '-' || json_extract(data,'\$.tempoMaxBpm') $P")" "144-144" "practice tempo range"
eq "$(db "pragma integrity_check")" ok "integrity_check"
echo "session_play: ok (recovered $secs s of 11.5 s)"
