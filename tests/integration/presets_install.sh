#!/bin/sh
# presets_install.sh - presets by name after `cmake --install`: install to a temporary prefix, then
# the installed etude lists the presets (name, title, voices), renders one by name (same audio as
# the checkout's file), lets $ETUDE_HOME/presets and $XDG_DATA_DIRS shadow it in that order, renders
# a preset whose assets are relative paths, and names the directories searched when a name is
# unknown. The installed binary is outside the build tree, so the checkout's presets/ is not seen.
# usage: presets_install.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-presets-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
failed=0
fail() { echo "FAIL: $*"; failed=1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1; }
E="$tmp/prefix/bin/etude"
[ -x "$E" ] || { echo "FAIL: no installed etude"; exit 1; }
[ -f "$tmp/prefix/share/etude/presets/metronome-accented.json" ] || fail "presets not installed"
export ETUDE_HOME="$tmp/home" XDG_DATA_DIRS="$tmp/xdg"
cd "$tmp" || exit 1

"$E" presets >list.txt 2>list.err || fail "etude presets: exit $?"
cat list.txt
grep -q '^metronome-accented  *Accented metronome  *click (click)$' list.txt || fail "metronome-accented not listed with title and voices"
grep -q '^groove  *Sample groove at 96 BPM  *count-in (practice), kick (sample), snare (sample), hat (sample)$' list.txt \
    || fail "groove not listed"
grep -q 'schema' list.txt && fail "the schema is listed as a preset"
[ "$(wc -l <list.txt)" -ge 7 ] || fail "fewer than 7 presets listed"

# by name, the same audio as the checkout's file
"$E" render metronome-accented -o byname.wav --no-session 2>r.err || { cat r.err; fail "render by name"; }
"$E" render "$src/presets/metronome-accented.json" -o byfile.wav --no-session 2>r.err || fail "render by file"
# the same samples (not cmp: a float WAV's PEAK chunk holds a timestamp)
r=$(node "$src/tests/integration/instruments_wavtool.js" residual byname.wav byfile.wav 0 byfile.wav)
[ "$r" = "0.000e+0" ] || fail "render by name differs from the checkout's preset ($r)"
# NAME.json is a file name, not looked up: the file's own error
"$E" render metronome-accented.json -o byname2.wav --no-session 2>err.txt && fail "NAME.json looked up by name"
grep -q "^etude render: metronome-accented.json: cannot read" err.txt || fail "NAME.json: '$(cat err.txt)'"
# a preset with relative assets, from the install
"$E" render groove -o groove.wav --no-session --duration 2 2>r.err || { cat r.err; fail "render groove by name"; }

# $XDG_DATA_DIRS shadows the install, $ETUDE_HOME/presets shadows both
mkdir -p "$tmp/xdg/etude/presets" "$ETUDE_HOME/presets"
printf '{"title": "From XDG", "click": {"map": "1 4/4 120"}}\n' >"$tmp/xdg/etude/presets/metronome-accented.json"
"$E" presets | grep -q '^metronome-accented  *From XDG ' || fail "XDG_DATA_DIRS does not shadow the install"
printf '{"title": "From home", "click": {"map": "1 4/4 60"}}\n' >"$ETUDE_HOME/presets/metronome-accented.json"
"$E" presets | grep -q '^metronome-accented  *From home ' || fail "ETUDE_HOME/presets does not shadow XDG"
"$E" render metronome-accented -o home.wav --no-session 2>/dev/null || fail "render the home preset"
# one bar of 4/4 at 60 bpm: 4 s (plus no tail)
frames=$(soxi -s home.wav 2>/dev/null)
[ "$frames" = "$((4 * 48000))" ] || fail "the home preset rendered $frames frames, expected $((4 * 48000))"

# an unknown name: one line naming the directories searched, no file
"$E" render no-such-preset -o x.wav --no-session 2>err.txt; rc=$?
[ $rc -ne 0 ] || fail "unknown preset: exit 0"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "unknown preset: not one line"
grep -q "no preset file or preset named 'no-such-preset' (searched $ETUDE_HOME/presets, $tmp/xdg/etude/presets, $tmp/prefix/share/etude/presets;" err.txt \
    || fail "unknown preset: '$(cat err.txt)'"
[ -e x.wav ] && fail "unknown preset: output written"
[ $failed -eq 0 ] && echo "presets_install: ok"
exit $failed
