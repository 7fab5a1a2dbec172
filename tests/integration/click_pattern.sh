#!/bin/sh
# click_pattern.sh - a preset's "pattern" (klick's notation: X accent, x normal, . silent) on the
# click kind and on the practice kind, so 6/8 is counted in two: clicks only on beats 1 and 4 of each
# 6/8 bar, an accent on beat 1 and a normal click on beat 4, on the frames klick -W puts them for the
# same map and pattern; bars of another meter keep their own clicks. Offline renders of a few seconds.
# Fails without the "pattern" field (checked on e50f8ca: "voices[0].pattern: unknown field").
# usage: click_pattern.sh ETUDE ONSETS_TOOL
set -eu
etude=$1 onsets=$2
command -v klick >/dev/null || { echo "click_pattern: klick is not installed (scripts/install-deps)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-click-pattern.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
failed=0

# check NAME WANT: etude's onsets ($tmp/e.wav) are klick's ($tmp/k.wav) within 1 frame, and etude's
# levels read WANT, one letter per onset: A accented (louder than the normal ones), n normal.
check() {
    "$onsets" -l "$tmp/e.wav" 0.02 > "$tmp/e.txt"
    "$onsets" "$tmp/k.wav" 0.1 > "$tmp/k.txt"
    ne=$(wc -l < "$tmp/e.txt"); nk=$(wc -l < "$tmp/k.txt")
    if [ "$ne" -ne "$nk" ] || [ "$ne" -ne ${#2} ]; then
        echo "FAIL $1: etude has $ne onsets, klick $nk, the pattern says ${#2}"
        failed=1
        return
    fi
    if ! paste -d ' ' "$tmp/e.txt" "$tmp/k.txt" | awk -v name="$1" -v want="$2" '
        { f[NR] = $1; lv[NR] = $2; k[NR] = $3; if ($2 > max) max = $2 }
        END {
            for (i = 1; i <= NR; i++) {
                d = f[i] - k[i]; if (d < 0) d = -d
                got = lv[i] > 0.8 * max ? "A" : "n"
                if (d > 1) { printf "FAIL %s: onset %d at frame %d, klick %d\n", name, i, f[i], k[i]; bad++ }
                if (got != substr(want, i, 1)) { printf "FAIL %s: onset %d (frame %d) level %.3f reads %s, want %s\n", name, i, f[i], lv[i], got, substr(want, i, 1); bad++ }
            }
            printf "%s %s: %d onsets as klick places them, levels %s\n", bad ? "FAIL" : "ok  ", name, NR, want
            exit bad ? 1 : 0
        }'; then
        failed=1
    fi
}

# The click kind: the pattern goes to the map's 6/8 lines; the 4/4 line and a 6/8 line with a
# pattern of its own keep theirs.
cat > "$tmp/click.json" <<'JSON'
{"title": "6/8 in two", "voices": [{"kind": "click", "pattern": "X..x..",
  "map": ["2 6/8 120", "1 4/4 120", "1 6/8 120 X.xX.x"]}]}
JSON
printf '2 6/8 120 X..x..\n1 4/4 120\n1 6/8 120 X.xX.x\n' > "$tmp/map.txt"
"$etude" render --no-session "$tmp/click.json" -o "$tmp/e.wav"
klick -W "$tmp/k.wav" -f "$tmp/map.txt" > /dev/null
check "click kind, pattern X..x.." AnAnAnnnAnAn

# The practice kind: one bar of count-in and two bars of 6/8, counted in two throughout.
cat > "$tmp/practice.json" <<'JSON'
{"title": "6/8 in two", "voices": [{"kind": "practice", "tempo": 120, "meter": "6/8", "bars": 2,
  "count_in": 1, "pattern": "X..x.."}]}
JSON
"$etude" render --no-session "$tmp/practice.json" -o "$tmp/e.wav"
klick -W "$tmp/k.wav" 3 6/8 120 X..x.. > /dev/null
check "practice kind, pattern X..x.. with a count-in" AnAnAn

exit $failed
