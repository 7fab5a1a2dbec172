#!/bin/sh
# material_midi.sh - material given directly: a tune from the ABC examples Debian ships with abcmidi,
# converted by abc2midi, is described by `etude info`, rendered by `etude render FILE.mid` (one
# FluidSynth voice per part) and compared with `fluidsynth -F` on the same file and SoundFont: every
# note onset the two renders share lies within 2 ms. Also: the default SoundFont, --soundfont errors,
# `etude info` on a preset and on a tempo map, and a tempo map given as a plain file.
# usage: material_midi.sh ETUDE SOURCE_DIR
set -u
etude=$1 src=$2
case $etude in /*) ;; *) etude=$(pwd)/$etude ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-material.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
cd "$tmp" || exit 1
failed=0
fail() { echo "FAIL: $*"; failed=1; }
sf=/usr/share/sounds/sf2/TimGM6mb.sf2

abc=$(dpkg -L abcmidi | grep '/examples/araber\.abc$' | head -n 1)
[ -n "$abc" ] && [ -f "$abc" ] || { echo "FAIL: abcmidi's examples/araber.abc not found (dpkg -L abcmidi)"; exit 1; }
abc2midi "$abc" -o tune.mid >abc.log 2>&1 || { cat abc.log; echo "FAIL: abc2midi"; exit 1; }

# info: parts with names, channels and programs; bars, tempo, length
"$etude" info tune.mid >info.txt 2>info.err || fail "info tune.mid: $(cat info.err)"
cat info.txt
grep -q '^tune.mid: Standard MIDI File, format 1, ' info.txt || fail "info: header"
grep -q '^length 1:00\.0[0-9]*, 37 bars (4/4 from bar 1), tempo 144 bpm$' info.txt || fail "info: length, bars, tempo"
grep -q '^  1  Araber tants  \[D\] *channel 1  program 25  190 notes$' info.txt || fail "info: part 1"
grep -q '^  3  track 4 *channel 10  program -  144 notes$' info.txt || fail "info: part 3 (drums)"

# the render against fluidsynth -F (reverb and chorus off on both sides; etude's midi voices have
# no effects unless a preset asks)
"$etude" render tune.mid -o etude.wav --rate 48000 --soundfont "$sf" --no-session 2>r.err || { cat r.err; fail "render tune.mid"; }
fluidsynth -q -n -i -R 0 -C 0 -r 48000 -F fluid.wav "$sf" tune.mid >fs.log 2>&1 || { cat fs.log; fail "fluidsynth -F"; }
node "$src/tests/integration/material_onsets.js" etude.wav fluid.wav 2 >onsets.txt || fail "onsets differ from fluidsynth -F by more than 2 ms"
cat onsets.txt

# the default SoundFont
"$etude" render tune.mid -o default.wav --duration 2 --no-session 2>r.err || fail "render with the default SoundFont: $(cat r.err)"
# --soundfont errors: one line naming the flag, non-zero, nothing written
"$etude" render tune.mid -o x.wav --soundfont nope.sf2 --no-session 2>err.txt; rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q '^etude render: --soundfont nope.sf2: ' err.txt \
    || fail "--soundfont nope.sf2: exit $rc, '$(cat err.txt)'"
[ -e x.wav ] && fail "--soundfont nope.sf2 wrote x.wav"
"$etude" render "$src/presets/metronome-accented.json" -o x.wav --soundfont "$sf" --no-session 2>err.txt && fail "--soundfont with a preset accepted"
grep -q -- '--soundfont .*only for MIDI files' err.txt || fail "--soundfont with a preset: '$(cat err.txt)'"

# a tempo map as a plain file, and info on it and on a preset by name
printf 'intro: 2 4/4 100\nverse: 4 3/4 120-140\n' >song.map
"$etude" render song.map -o map.wav --no-session 2>r.err || fail "render song.map: $(cat r.err)"
"$etude" info song.map >map.txt || fail "info song.map"
grep -q '^song.map: klick tempo map, 2 lines, 6 bars, length ' map.txt || fail "info map: '$(head -n 1 map.txt)'"
grep -q '^  bar 3 *verse *4 bars of 3/4 at 120 to 140 bpm$' map.txt || fail "info map: the verse"
"$etude" info chorale >preset.txt || fail "info chorale"
grep -q 'preset "Chorale in G, four voices", 5 voices' preset.txt || fail "info preset: '$(head -n 1 preset.txt)'"
grep -q '^  Soprano *midi *volume 1, muted$' preset.txt || fail "info preset: Soprano"
[ $failed -eq 0 ] && echo "material_midi: ok"
exit $failed
