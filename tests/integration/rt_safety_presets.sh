#!/bin/sh
# rt_safety_presets.sh - no preset field may make the live audio thread break its rules.
# A "midi" voice with "effects": true turns on FluidSynth's reverb and chorus, which Debian's
# libfluidsynth mixes through OpenMP, allocating in every fluid_synth_write_float(). `etude play`
# must refuse such a preset before it opens a JACK client: exit 1, one line naming the file, line
# and field. `etude render` (no real-time thread) still accepts it.
# Fails on fd82c7f: etude play accepted the preset and went on to look for a JACK server ("no JACK
# server is running", no mention of the field).
# usage: rt_safety_presets.sh ETUDE PRESETS_DIR
set -u
etude=$1 presets=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-rt-presets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export ETUDE_HOME="$tmp/home" JACK_DEFAULT_SERVER="etude-rt-presets-none-$$" JACK_NO_START_SERVER=1
fail() { echo "FAIL: $*" >&2; exit 1; }

# the shipped chorale trainer, with effects on its midi voice (voices[1], on line 16)
sed -e "s#\"assets/#\"$presets/assets/#g" \
    -e 's#"program": 19 }#"program": 19, "effects": true }#' "$presets/chorale-trainer.json" >"$tmp/fx.json"
grep -q '"effects": true' "$tmp/fx.json" || fail "could not derive the test preset"
line=$(grep -n '"effects": true' "$tmp/fx.json" | cut -d: -f1)

"$etude" play "$tmp/fx.json" --no-session >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/err"
[ "$rc" -eq 1 ] || fail "etude play exit status $rc, expected 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected exactly one line on stderr"
grep -q "^etude: $tmp/fx.json:$line: voices\[1\]\.effects: .*audio thread" "$tmp/err" ||
    fail "the message does not name $tmp/fx.json:$line: voices[1].effects"
[ ! -s "$tmp/out" ] || fail "etude play wrote to stdout"

# effects off (the shipped preset, and explicitly false): not refused for that reason
sed -e 's#"effects": true#"effects": false#' "$tmp/fx.json" >"$tmp/nofx.json"
for p in "$tmp/nofx.json" "$presets/chorale-trainer.json"; do
    "$etude" play "$p" --no-session >"$tmp/out" 2>"$tmp/err"
    grep -q 'effects' "$tmp/err" && fail "$p: refused for its effects: $(cat "$tmp/err")"
    grep -q 'no JACK server is running' "$tmp/err" || fail "$p: expected to get as far as JACK: $(cat "$tmp/err")"
done

# offline the preset renders, with its reverb
"$etude" render "$tmp/fx.json" --no-session --duration 2 -o "$tmp/fx.wav" >"$tmp/out" 2>"$tmp/err" ||
    fail "etude render refused the effects preset: $(cat "$tmp/err")"
[ -s "$tmp/fx.wav" ] || fail "etude render wrote no file"
echo "PASS: etude play refuses \"effects\": true with one line naming the field; render accepts it"
