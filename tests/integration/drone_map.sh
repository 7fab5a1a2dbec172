#!/bin/sh
# drone_map.sh - a drone under a click voice's tempo map, rendered offline: it starts with the map,
# its note changes at the bar a label names and at a bar number, it is silent from a change to
# "off" until the next change, and it ends with the map. The map, at 240 quarter notes a minute:
#   intro: 1 4/4 (0-1 s)   verse: 2 4/4 (1-3 s)   2 3/4 (3-3.75, 3.75-4.5 s)   coda: 1 4/4 (4.5-5.5 s)
# The click is muted (it still drives the bars); each window's pitch and level are measured on the
# render (drone_pitch). The same changes by bar number under a practice voice's bars, and a change
# past the last bar refused. Fails without the drone's "changes" and its following a click voice's map
# (checked on c5885a7: "drone.json:4: voices[1].changes: unknown field").
# usage: drone_map.sh ETUDE DRONE_PITCH ONSETS_TOOL
set -eu
etude=$1 pitch=$2 onsets=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-drone-map.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
failed=0

cat > "$tmp/drone.json" <<'JSON'
{"title": "drone under a map", "voices": [
  {"kind": "click", "mute": true, "map": ["intro: 1 4/4 240", "verse: 2 4/4 240", "2 3/4 240", "coda: 1 4/4 240"]},
  {"kind": "drone", "note": "A3", "wave": "sine", "level": 0.5,
   "changes": [{"at": "verse", "note": "D3"}, {"at": 5, "note": "off"}, {"at": "coda", "note": "E3"}]}
], "render": {"tail": 0.5}}
JSON
"$etude" render --no-session "$tmp/drone.json" -o "$tmp/d.wav"

# window, what it should hold (a pitch in Hz, or 0 for silence), why
while read -r win want why; do
    set -- $("$pitch" "$tmp/d.wav" "$win")
    hz=$1 rms=$2
    if ! awk -v hz="$hz" -v rms="$rms" -v want="$want" 'BEGIN {
            if (want == 0) exit !(rms < 0.001)
            exit !(rms > 0.33 && rms < 0.37 && hz > want * 0.995 && hz < want * 1.005) }'; then
        echo "FAIL $win s ($why): $hz Hz, RMS $rms; want $want Hz"
        failed=1
    else
        echo "ok   $win s ($why): $hz Hz, RMS $rms"
    fi
done <<'EOF2'
0.05-0.95 220.00 intro: A3 from the map's start
0.90-0.995 220.00 the end of bar 1
1.005-1.1 146.83 verse: D3 from the label's bar
1.9-2.1 146.83 across the bar line 2|3, no change
3.05-3.7 146.83 bar 4 (3/4)
3.8-4.45 0 bar 5: off
4.55-5.45 164.81 coda: E3
5.55-5.95 0 after the map's end
EOF2

# The note comes back on the exact frame of the coda's first beat (4.5 s = 216000 frames), rising
# from silence (a 30 ms ramp: the first frame above 0.0005 is within 2 ms of it).
on=$("$onsets" "$tmp/d.wav" 0.0005 24000 | tail -n 1)
if [ "$on" -lt 216000 ] || [ "$on" -gt 216096 ]; then
    echo "FAIL the coda's E3 starts at frame $on, want 216000..216096"
    failed=1
else
    echo "ok   the coda's E3 starts at frame $on (bar 6 at 216000)"
fi
# Under a practice voice the changes count the practice's bars (a count-in bar sounds bar 1's note):
# count-in 0-1 s, bar 1 1-2 s A3, bar 2 2-3 s off, bar 3 3-4 s D3, then the end.
cat > "$tmp/practice.json" <<'JSON'
{"title": "drone over practice bars", "voices": [
  {"kind": "practice", "tempo": 240, "bars": 3, "count_in": 1, "volume": 0},
  {"kind": "drone", "note": "A3", "wave": "sine", "level": 0.5,
   "changes": [{"at": 2, "note": "off"}, {"at": 3, "note": "D3"}]}
], "render": {"tail": 0.5}}
JSON
"$etude" render --no-session "$tmp/practice.json" -o "$tmp/p.wav"
while read -r win want why; do
    set -- $("$pitch" "$tmp/p.wav" "$win")
    if ! awk -v hz="$1" -v rms="$2" -v want="$want" 'BEGIN {
            if (want == 0) exit !(rms < 0.001)
            exit !(rms > 0.33 && rms < 0.37 && hz > want * 0.995 && hz < want * 1.005) }'; then
        echo "FAIL practice $win s ($why): $1 Hz, RMS $2; want $want Hz"
        failed=1
    else
        echo "ok   practice $win s ($why): $1 Hz, RMS $2"
    fi
done <<'EOF2'
0.05-0.95 220.00 count-in: bar 1's A3
1.05-1.95 220.00 bar 1: A3
2.05-2.95 0 bar 2: off
3.05-3.95 146.83 bar 3: D3
4.05-4.45 0 after the end
EOF2

# A change past the practice's last bar is refused at load, in one line naming the file, line and field.
sed 's/"at": 3/"at": 5/' "$tmp/practice.json" > "$tmp/past.json"
if "$etude" render --no-session "$tmp/past.json" -o "$tmp/past.wav" 2> "$tmp/err"; then
    echo "FAIL a change at bar 5 of 3 was accepted"
    failed=1
elif [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -qF "past.json:4: voices[1].changes[1]: at: expected a bar number from 1 to 3 (the practice's bars)" "$tmp/err" ||
     [ -e "$tmp/past.wav" ]; then
    echo "FAIL a change past the end: $(cat "$tmp/err")"
    failed=1
else
    echo "ok   refused: $(cat "$tmp/err")"
fi
exit $failed
