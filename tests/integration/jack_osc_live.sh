#!/bin/sh
# jack_osc_live.sh - the live details of OSC control: /etude/locate to a bar and beat, to a label or
# to "BAR.BEAT" lands on that beat's frame (status: position, bar, beat, section, BPM), also while
# rolling (the transport/locate message's frame); /etude/tap sets the tempo from the taps' times;
# the status names the material by its title; a ramp's status gives the tempo reached mid-beat, and
# a session that plays a ramp through logs the tempo range reached (its end tempo included); bad
# places and arguments get one /etude/error naming them and etude plays on; a long status comes
# whole (it was cut at 2 KiB: fails on 076de23).
# Every wait is bounded (timeout, jack_wait, jack_oscq's own 3 s). The replies go to a file the
# harness shows after a failure, so the FAIL line comes first in a cut log.
#
# Fails before the player's locate-by-bar/label and tap (a string or two numbers to /etude/locate
# and any /etude/tap were refused), before the tempo reached inside a ramp (the status gave the
# beat's start tempo, 130; a played-through 200-240 ramp logged 200-200) and before maps were
# titled by their file name (the status gave the whole path); checked on 5ea0c9c.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
Q="$ETUDE_TEST_BIN/jack_oscq"
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
jack_start 256

# 6 bars: intro 2 at 100 (28800-frame beats, 230400 in all), a ramp 100-140 over 2 bars (beat k of
# it at 12 ln(1 + k/20) s, tempo 100 + 5k at its start), verse 2 bars of 3/4 at 90 (32000 a beat)
cat >"$T/song.txt" <<'MAP'
intro: 2 4/4 100
ramp:  2 4/4 100-140
verse: 2 3/4 90
MAP
# 24 voices with long names: a status longer than 2 KiB
{
    printf '{"title": "Many voices", "voices": ['
    for i in $(seq 1 24); do
        [ "$i" = 1 ] || printf ','
        printf '{"kind": "click", "name": "a-click-voice-with-a-long-name-%02d", "map": "64 4/4 120"}' "$i"
    done
    printf ']}\n'
} >"$T/many.json"
rampf() { awk -v k="$1" 'BEGIN { printf "%d", int((4.8 + 12 * log(1 + k / 20)) * 48000 + 1e-6) }'; }
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --tempo-map "$T/song.txt" --name live1 --osc 0
wait_for 10 grep -q "OSC on UDP port" "$T/play.err" || fail "etude did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/play.err")

expect() { # pattern path [types args...]
    pat=$1
    shift
    out=$("$Q" "$port" "$@") || fail "no reply to $*"
    echo "$* -> $out" >>"$T/replies.out" # shown after a failure; the failure comes first
    echo "$out" | grep -q -- "$pat" || fail "reply to $* was '$out', expected '$pat'"
}
expect '"material":"song.txt"' /etude/status
expect '^/etude/ok /etude/stop$' /etude/stop

# locate while stopped: the position is exactly the beat's frame
expect '^/etude/ok /etude/locate$' /etude/locate ii 3 1
expect '"position":230400,.*"bar":3,"beat":1,"bpm":100,"section":"ramp"' /etude/status
f6=$(rampf 6)
expect '^/etude/ok /etude/locate$' /etude/locate s 4.3
expect "\"position\":$f6,.*\"bar\":4,\"beat\":3,\"bpm\":130,\"section\":\"ramp\"" /etude/status
# half way through the ramp's beat from 130 to 135: the tempo reached there, sqrt(130 * 135)
f7=$(rampf 7)
mid=$(((f6 + f7) / 2))
expect '^/etude/ok /etude/locate$' /etude/locate d "$(awk -v f="$mid" 'BEGIN { printf "%.9f", f / 48000 }')"
bpm=$("$Q" "$port" /etude/status | sed -n 's/.*"position":'"$mid"',.*"bpm":\([0-9.]*\),.*/\1/p')
echo "mid-beat of the ramp at frame $mid: $bpm bpm"
awk -v b="$bpm" 'BEGIN { w = sqrt(130 * 135); exit !(b != "" && b - w < 0.01 && w - b < 0.01) }' \
    || fail "tempo mid-beat in the ramp was '$bpm', expected $(awk 'BEGIN { print sqrt(130 * 135) }')"
f8=$(rampf 8)
expect '^/etude/ok /etude/locate$' /etude/locate s verse
expect "\"position\":$f8,.*\"bar\":5,\"beat\":1,\"bpm\":90,\"section\":\"verse\"" /etude/status
expect '^/etude/ok /etude/locate$' /etude/locate hd 6 3
expect "\"position\":$((f8 + 5 * 32000)),.*\"bar\":6,\"beat\":3," /etude/status

# while rolling: the relocation lands on the beat's frame (bar 1, beat 3: 57600)
expect '^/etude/ok /etude/start$' /etude/start
expect '^/etude/ok /etude/locate$' /etude/locate ii 1 3
expect '^/etude/ok /etude/stop$' /etude/stop

# bad places and arguments: one error each, naming them
expect "^/etude/error /etude/locate /etude/locate: no bar 9 (the material has bars 1 .. 6)" /etude/locate ii 9 1
expect "^/etude/error /etude/locate /etude/locate: no beat 4 in bar 5 (it has beats 1 .. 3)" /etude/locate ii 5 4
expect "^/etude/error /etude/locate /etude/locate 'chorus': no such label .*labels: intro ramp verse" /etude/locate s chorus
expect '^/etude/error /etude/locate /etude/locate 2.5 1: expected a bar and a beat, whole numbers' /etude/locate fi 2.5 1
expect '^/etude/error /etude/locate /etude/locate: value 1e+300 out of range' /etude/locate d 1e300
expect '^/etude/error /etude/tap .*bad arguments .s.' /etude/tap s now

# tap tempo at the intro (100 bpm): taps 0.5 s apart on the sender's clock make it 120
expect '^/etude/ok /etude/locate$' /etude/locate s intro
for t in 100 100.5 101 101.5; do
    expect '^/etude/ok /etude/tap$' /etude/tap d "$t"
done
expect '"position":0,.*"bar":1,"beat":1,"bpm":120,.*"tempo_scale":1.2,' /etude/status
# too fast for the tempo range: refused, the tempo stays
expect '^/etude/ok /etude/tap$' /etude/tap d 200
expect '^/etude/error /etude/tap .*expected 0.1 .. 4' /etude/tap d 200.05
expect '"bpm":120,.*"tempo_scale":1.2,' /etude/status
kill -0 "$(jack_pid play)" || fail "etude died"
# a status longer than 2 KiB comes whole (it was cut at 2047 bytes)
expect '^/etude/ok /etude/load$' /etude/load s "$T/many.json"
expect '"material":"Many voices",.*"name":"a-click-voice-with-a-long-name-24","kind":"click","gain":1,"mute":false,"solo":false}\]}$' /etude/status
expect '^/etude/ok /etude/quit$' /etude/quit
jack_wait play 20 || fail "etude play exited non-zero after /etude/quit"
grep -q '"name":"locate","payload":{"pos":57600}' "$T/bus.jsonl" || fail "no locate to frame 57600 while rolling"

# the sessions (the first start, and the start after the stop) name the map by its title, the file apart
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
S="from entities where entity_type='practiceSession'"
[ "$(db "select distinct json_extract(data,'\$.material') || ' ' || json_extract(data,'\$.preset') $S and json_extract(data,'\$.material') != 'Many voices'")" = "song.txt $T/song.txt" ] \
    || fail "session material/preset: $(db "select json_extract(data,'\$.material'), json_extract(data,'\$.preset') $S")"

# a ramp played through: the session's tempo range is the range reached, its end tempo included
timeout 30 "$ETUDE_BIN" play --click "1 4/4 200-240" --name ramp >"$T/ramp.out" 2>"$T/ramp.err" \
    || fail "etude play of a ramp failed"
range=$(db "select json_extract(data,'\$.tempoMinBpm') || '-' || json_extract(data,'\$.tempoMaxBpm') $S and json_extract(data,'\$.material')='1 4/4 200-240'")
echo "ramp 200-240 played through: tempo range $range"
[ "$range" = "200-240" ] || fail "tempo range of the ramp was '$range', expected 200-240"
echo PASS
