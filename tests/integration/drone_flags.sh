#!/bin/sh
# drone_flags.sh - the practice flags over a preset whose drone follows a click voice's tempo map,
# rendered offline: the drone follows the rewritten map and sounds, in each bar played, the note of
# the bar of the preset's map it plays (a count-in bar sounds the first bar played). The map, at 240
# quarter notes a minute, 4/4 (1 s a bar, 48000 frames):
#   one: bar 1 A3   two: bar 2 D3   three: bar 3 E3   four: bar 4 G3
# The click is muted (it still drives the bars); each window's pitch and level are measured on the
# render (drone_pitch), the render's length by soxi. Flags: --count-in with --loop/--loops, --tempo-scale,
# --start LABEL with a tempo scale, --trainer. Fails before the drone followed a rewritten map
# (checked on 55e3764: "voice 'drone' (drone) does not follow the tempo map" and "... has no tempo
# map to scale", and no render).
# usage: drone_flags.sh ETUDE DRONE_PITCH
set -eu
etude=$1 pitch=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-drone-flags.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
failed=0

cat > "$tmp/drone.json" <<'JSON'
{"title": "drone under flags", "voices": [
  {"kind": "click", "mute": true, "map": ["one: 1 4/4 240", "two: 1 4/4 240", "three: 1 4/4 240", "four: 1 4/4 240"]},
  {"kind": "drone", "name": "drone", "note": "A3", "wave": "sine", "level": 0.5,
   "changes": [{"at": "two", "note": "D3"}, {"at": 3, "note": "E3"}, {"at": "four", "note": "G3"}]}
], "render": {"rate": 48000, "tail": 0.5}}
JSON

# render NAME FRAMES FLAGS...: render with FLAGS, expect FRAMES frames (the map's and the 0.5 s tail)
render() {
    name=$1 want=$2
    shift 2
    if ! "$etude" render --no-session "$tmp/drone.json" -o "$tmp/$name.wav" "$@" 2> "$tmp/$name.err"; then
        echo "FAIL $name ($*) refused: $(cat "$tmp/$name.err")"
        failed=1
        return 1
    fi
    got=$(soxi -s "$tmp/$name.wav" 2>/dev/null)
    if [ "$got" != "$want" ]; then
        echo "FAIL $name ($*): $got frames, want $want"
        failed=1
    else
        echo "ok   $name ($*): $got frames"
    fi
}
# check NAME < lines "WINDOW HZ WHY": each window holds that pitch (0: silence)
check() {
    name=$1
    while read -r win want why; do
        set -- $("$pitch" "$tmp/$name.wav" "$win")
        if ! awk -v hz="$1" -v rms="$2" -v want="$want" 'BEGIN {
                if (want == 0) exit !(rms < 0.001)
                exit !(rms > 0.33 && rms < 0.37 && hz > want * 0.995 && hz < want * 1.005) }'; then
            echo "FAIL $name $win s ($why): $1 Hz, RMS $2; want $want Hz"
            failed=1
        else
            echo "ok   $name $win s ($why): $1 Hz, RMS $2"
        fi
    done
}

# A count-in bar, then bars 2-3 twice: 5 bars.
if render loop 264000 --count-in 1 --loop 2-3 --loops 2; then
    check loop <<'EOF2'
0.05-0.95 146.83 count-in: bar 2's D3
1.05-1.95 146.83 pass 1, bar 2: D3
2.05-2.95 164.81 pass 1, bar 3: E3
3.05-3.95 146.83 pass 2, bar 2: D3 again
4.05-4.95 164.81 pass 2, bar 3: E3
5.05-5.45 0 after the map's end
EOF2
fi
# At half the tempo: 2 s a bar.
if render half 408000 --tempo-scale 0.5; then
    check half <<'EOF2'
0.05-1.95 220.00 bar 1: A3
2.05-3.95 146.83 bar 2: D3
4.05-5.95 164.81 bar 3: E3
6.05-7.95 196.00 bar 4: G3
8.05-8.45 0 after the map's end
EOF2
fi
# From the label "three", at half the tempo: bars 3-4, 2 s each.
if render start 216000 --start three --tempo-scale 0.5; then
    check start <<'EOF2'
0.05-1.95 164.81 bar 3: E3
2.05-3.95 196.00 bar 4: G3
4.05-4.45 0 after the map's end
EOF2
fi
# The trainer over bar 4: a pass at 120, then one at 240 (2 s, then 1 s), both G3.
if render trainer 168000 --loop four --trainer 120:120:1:240; then
    check trainer <<'EOF2'
0.05-1.95 196.00 pass 1 at 120: bar 4's G3
2.05-2.95 196.00 pass 2 at 240: G3
3.05-3.45 0 after the map's end
EOF2
fi
exit $failed
