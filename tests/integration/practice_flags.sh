#!/bin/sh
# practice_flags.sh - the practice flags of `etude render` on the rendered audio, for each kind of
# material: --tempo-scale on a click line, a tempo map file and MIDI practice material (onsets where
# the scaled bars say, lengths); --mute, --solo and --gain PART=DB over a preset (muted parts silent,
# solo equal to muting the others, gain as the same render scaled); every flag error is one line
# naming the flag, exit 2, and no output file.
# usage: practice_flags.sh ETUDE SOURCE_DIR
set -u
etude=$1 src=$2
case $etude in /*) ;; *) etude=$(pwd)/$etude ;; esac
tool="node $src/tests/integration/instruments_wavtool.js"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-practice-flags.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
cd "$tmp" || exit 1
failed=0
fail() { echo "FAIL: $*"; failed=1; }
render() { "$etude" render "$@" --no-session --rate 48000 2>err.txt || fail "render $*: $(cat err.txt)"; }
frames() { $tool info "$1" | cut -d' ' -f3; }
# expect_onsets FILE FRAME...: the click onsets, exactly
expect_onsets() {
    f=$1; shift
    got=$($tool onsets "$f" 0.01 2400 | tr '\n' ' ')
    want="$* "
    [ "$got" = "$want" ] || fail "$f: onsets
   got: $got
  want: $want"
}

# --tempo-scale on a click line: 2 bars of 4/4 at 120 played at 0.5 -> a beat every second
render --click "2 4/4 120" --tempo-scale 0.5 -o line.wav
expect_onsets line.wav 0 48000 96000 144000 192000 240000 288000 336000
[ "$(frames line.wav)" = 384000 ] || fail "line.wav: $(frames line.wav) frames, expected 384000"

# --tempo-scale on a tempo map file (like klick -x): 100 bpm 4/4 then 150 bpm 3/4, at 1.5
printf 'a: 1 4/4 100\nb: 1 3/4 150\n' >song.map
render song.map --tempo-scale 1.5 -o map.wav
# 60/150 s = 19200 frames a beat, then 60/225 s = 12800
expect_onsets map.wav 0 19200 38400 57600 76800 89600 102400
# the same by --tempo-map
render --tempo-map song.map --tempo-scale 1.5 -o map2.wav
r=$($tool residual map.wav map2.wav 0 map.wav) # (not cmp: a float WAV's PEAK chunk holds a timestamp)
[ "$r" = "0.000e+0" ] || fail "--tempo-map and FILE.map render differently ($r)"

# --tempo-scale on MIDI practice material: the chorale (1 bar count-in + 8 bars at 72, 1.5 s tail)
render chorale --tempo-scale 0.5 -o slow.wav
want=$(( (30 * 2) * 48000 + 72000 ))
got=$(frames slow.wav)
[ $(( got - want )) -le 2 ] && [ $(( want - got )) -le 2 ] || fail "chorale at 0.5: $got frames, expected $want"

# --mute: with every part muted (the Soprano is muted by the preset) only the count-in clicks
render chorale --mute Alto --mute Tenor --mute Bass -o muted.wav
p=$($tool peak muted.wav 3.5 30)
awk -v p="$p" 'BEGIN { exit !(p == 0) }' || fail "muted parts not silent: peak $p after the count-in"
p=$($tool peak muted.wav 0 3.3)
awk -v p="$p" 'BEGIN { exit !(p > 0.05) }' || fail "count-in silent: peak $p"
# --solo Bass is the same audio as muting every other voice
render chorale --solo Bass -o solo.wav
render chorale --mute count-in --mute Alto --mute Tenor -o bass.wav
r=$($tool residual solo.wav bass.wav 0 bass.wav)
awk -v r="$r" 'BEGIN { exit !(r == 0) }' || fail "--solo Bass differs from muting the others by $r"
p=$($tool peak solo.wav 3.5 30)
awk -v p="$p" 'BEGIN { exit !(p > 0.01) }' || fail "--solo Bass: silent (peak $p)"
# --gain Bass=-6: the solo render times 10^(-6/20)
render chorale --solo Bass --gain Bass=-6 -o quiet.wav
r=$($tool residual quiet.wav solo.wav -0.498813 solo.wav)
awk -v r="$r" 'BEGIN { exit !(r < 1e-5) }' || fail "--gain Bass=-6: residual $r against the solo render at -6 dB"
# flags override the preset: the Soprano, muted by the preset, sounds when soloed
render chorale --solo Soprano -o sop.wav
p=$($tool peak sop.wav 3.5 30)
awk -v p="$p" 'BEGIN { exit !(p > 0.01) }' || fail "--solo Soprano (muted by the preset): silent (peak $p)"

# flag errors: one line naming the flag, exit 2, no output left
expect_error() { # message args...
    want=$1; shift
    "$etude" render "$@" -o bad.wav --no-session >/dev/null 2>err.txt; rc=$?
    [ $rc -eq 2 ] || fail "render $*: exit $rc, expected 2"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "render $*: $(wc -l <err.txt) lines on stderr"
    [ "$(cat err.txt)" = "$want" ] || fail "render $*:
   got: $(cat err.txt)
  want: $want"
    ls bad.wav* >/dev/null 2>&1 && fail "render $*: left $(ls bad.wav*)"
}
expect_error "etude render: --tempo-scale '9': expected a factor from 0.1 to 4 (1 = as written)" chorale --tempo-scale 9
expect_error "etude render: --tempo-scale 'fast': expected a factor from 0.1 to 4 (1 = as written)" chorale --tempo-scale fast
expect_error "etude render: --tempo-scale needs a value (a factor from 0.1 to 4)" chorale --tempo-scale
expect_error "etude render: --mute: no voice named 'Basso' (voices: count-in Soprano Alto Tenor Bass)" chorale --mute Basso
expect_error "etude render: --solo: no voice named 'x' (voices: click)" --click "1 4/4 120" --solo x
expect_error "etude render: --gain 'Bass': expected PART=DB, e.g. Bass=-6" chorale --gain Bass
expect_error "etude render: --gain 'Bass=loud': expected PART=DB, e.g. Bass=-6" chorale --gain Bass=loud
[ $failed -eq 0 ] && echo "practice_flags: ok"
exit $failed
