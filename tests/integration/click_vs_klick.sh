#!/bin/sh
# click_vs_klick.sh - the click onsets of `etude render` must equal those of `klick -W` (Debian's
# klick 0.12, the reference) within 1 frame through every section of several maps: labels,
# comments, odd meters, patterns, volumes, ramps up and down, per-beat tempi, klick's command-line
# form, and an hour-long map (no drift).
# usage: click_vs_klick.sh ETUDE ONSETS_TOOL MAPS_DIR
set -eu
etude=$1 onsets=$2 maps=$3
command -v klick >/dev/null || { echo "click_vs_klick: klick is not installed (scripts/install-deps)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-click-vs-klick.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
failed=0

# compare NAME: the onsets in $tmp/e.wav and $tmp/k.wav
compare() {
    # klick resamples its samples at other rates (ringing before the edge): 0.1 is above that.
    "$onsets" "$tmp/e.wav" 0.1 > "$tmp/e.txt"
    "$onsets" "$tmp/k.wav" 0.1 > "$tmp/k.txt"
    ne=$(wc -l < "$tmp/e.txt"); nk=$(wc -l < "$tmp/k.txt")
    if [ "$ne" -ne "$nk" ] || [ "$nk" -eq 0 ]; then
        echo "FAIL $1: etude has $ne onsets, klick $nk"
        failed=1
        return
    fi
    if ! paste "$tmp/e.txt" "$tmp/k.txt" | awk -v name="$1" '
        { d = $1 - $2; if (d < 0) d = -d; if (d > max) max = d
          if (d > 1 && bad < 5) { printf "FAIL %s: onset %d at frame %d, klick %d\n", name, NR, $1, $2; bad++ } }
        END { printf "%s %s: %d onsets, largest difference %d frame(s)\n", bad ? "FAIL" : "ok  ", name, NR, max
              exit bad ? 1 : 0 }'; then
        failed=1
    fi
}

# map files at several rates
for spec in song.txt:48000 song.txt:44100 ramps.txt:48000 ramps.txt:96000 hour.txt:22050; do
    map=${spec%%:*} rate=${spec##*:}
    klick -r "$rate" -W "$tmp/k.wav" -f "$maps/$map" > /dev/null
    "$etude" render --no-session --tempo-map "$maps/$map" --rate "$rate" -o "$tmp/e.wav"
    compare "$map@$rate"
done

# a --click line is a one-line map
line="12 7/8 90-150 X.xX.x."
echo "$line" > "$tmp/line.txt"
klick -W "$tmp/k.wav" -f "$tmp/line.txt" > /dev/null
"$etude" render --no-session --click "$line" -o "$tmp/e.wav"
compare "--click '$line'"

# klick's command-line speed trainer (T1-T2/ACCEL), passed the same way to both
for line in "16 4/4 80-120/0.5 Xxx." "20 3/4 132-100/1"; do
    # shellcheck disable=SC2086
    klick -W "$tmp/k.wav" $line > /dev/null
    "$etude" render --no-session --click "$line" -o "$tmp/e.wav"
    compare "--click '$line' (klick command line)"
done

exit $failed
