#!/bin/sh
# practice_timeline.sh - the practice timeline flags of `etude render` on the rendered audio, offline
# (no jackd), for a klick tempo map with labels, a MIDI file and a preset: the onsets fall where the
# bars say for --count-in (clicks at the first bar's tempo and meter), --start (the first pass from
# that bar), --loop A-B with --loops N (a looped render lasts count-in + passes x loop), and
# --trainer (the beat spacing changes at each pass's downbeat); flags override what a preset says;
# every bad value is one line naming the flag, a non-zero exit and no output file.
# Onsets are found by click_vs_klick_onsets (the first frame above 0.01 after 2400 quieter ones),
# lengths by soxi. The MIDI file is written by practice_timeline_mid.js: bar k holds ((k-1) % 4) + 1 wood-block hits,
# one per beat, so the onsets say which bars played in which order (a hit's onset is found 25-32
# frames after its note-on, the attack of the SoundFont's sample, and up to 57 frames when the hits
# are 12000 frames apart: tolerance 64 frames, 1.3 ms).
# Checked to fail without the timeline: on 5ea0c9c it reports 48 failures (every flag refused as unknown).
# usage: practice_timeline.sh ETUDE ONSETS SOURCE_DIR
set -u
etude=$1 onsets=$2 src=$3
case $etude in /*) ;; *) etude=$(pwd)/$etude ;; esac
case $onsets in /*) ;; *) onsets=$(pwd)/$onsets ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-timeline.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
cd "$tmp" || exit 1
failed=0
fail() { echo "FAIL: $*"; failed=1; }
render() { "$etude" render "$@" --no-session --rate 48000 2>err.txt || fail "render $*: $(cat err.txt)"; }
frames() { soxi -s "$1" 2>/dev/null; }
expect_frames() { # FILE FRAMES
    [ "$(frames "$1")" = "$2" ] || fail "$1: $(frames "$1") frames, expected $2"
}
# expect_onsets FILE TOL FRAME...: as many onsets as frames, each within TOL frames after its frame
expect_onsets() {
    f=$1 tol=$2; shift 2
    got=$("$onsets" "$f" 0.01 2400 | tr '\n' ' ')
    echo "$got" | awk -v want="$*" -v tol="$tol" '{
        n = split(want, w, " "); if (NF != n) exit 1
        for (i = 1; i <= n; i++) { d = $i - w[i]; if (d < 0 || d > tol) exit 1 } }' || fail "$f: onsets
   got: $got
  want: $* (each up to $tol frames later)"
}
# beats FIRST STEP N: N frames from FIRST, STEP apart
beats() { awk -v a="$1" -v s="$2" -v n="$3" 'BEGIN { for (i = 0; i < n; i++) printf "%d ", a + i * s }'; }

# A klick tempo map with labels: intro 1 bar of 4/4 at 120 (24000 frames a beat), verse 2 bars of
# 3/4 at 90 (32000), chorus 1 bar of 4/4 at 150 (19200).
printf 'intro: 1 4/4 120\nverse: 2 3/4 90\nchorus: 1 4/4 150\n' >song.map
# --loop with a label (its section) twice, after a count-in bar at the verse's tempo and meter
render song.map --count-in 1 --loop verse --loops 2 -o verse.wav
expect_onsets verse.wav 0 $(beats 0 32000 3) $(beats 96000 32000 12)
expect_frames verse.wav $(( (3 + 2 * 6) * 32000 ))
# labels at both ends, --start at a label inside the loop: chorus first, then verse-chorus
render song.map --loop verse-chorus --start chorus --loops 2 -o start.wav
expect_onsets start.wav 0 $(beats 0 19200 4) $(beats 76800 32000 6) $(beats 268800 19200 4)
expect_frames start.wav $(( 4 * 19200 + 6 * 32000 + 4 * 19200 ))
# --start alone (like klick -l): from the verse to the end, once
render song.map --start verse -o from.wav
expect_onsets from.wav 0 $(beats 0 32000 6) $(beats 192000 19200 4)
# bar numbers; --loops 0 loops for ever, so a render needs --duration: 3 s of bar 4 (1.6 s a pass)
render song.map --loop 4 --loops 0 --duration 3 -o forever.wav
expect_onsets forever.wav 0 $(beats 0 19200 8)
expect_frames forever.wav 144000
"$etude" render song.map --loop 4 --loops 0 -o never.wav --no-session 2>err.txt && fail "--loops 0 without --duration rendered"
grep -q 'never ends.*--duration' err.txt || fail "--loops 0 without --duration: '$(cat err.txt)'"
# the trainer on a map: bar 1 (4/4 at 120) at 60, 90 and 120 bpm, one pass each, after a count-in at 60
render song.map --count-in 1 --loop 1 --trainer 60:30:1:120 -o trainer.wav
expect_onsets trainer.wav 0 $(beats 0 48000 4) $(beats 192000 48000 4) $(beats 384000 32000 4) $(beats 512000 24000 4)
expect_frames trainer.wav 608000
# a click line and --tempo-scale together: 2 bars at 120 x 0.5, count-in 1, loop bar 2 twice
render --click "2 4/4 120" --count-in 1 --loop 2 --loops 2 --tempo-scale 0.5 -o line.wav
expect_onsets line.wav 0 $(beats 0 48000 12)
expect_frames line.wav $(( 12 * 48000 ))
# an endless click line (no bar count): a loop makes it finite; a start bar alone does not, and a
# render never runs for ever (this one rendered 900 hours before it was refused)
render --click "4/4 120" --loop 2-3 -o endless.wav
expect_onsets endless.wav 0 $(beats 0 24000 8)
expect_frames endless.wav 192000
timeout 20 "$etude" render --click "4/4 120" --start 3 -o never.wav --no-session 2>err.txt && fail "--start on an endless line rendered"
grep -q 'never ends.*--duration' err.txt || fail "--start on an endless line: '$(cat err.txt)'"

# A MIDI file (4 bars of 4/4 at 120: a bar is 96000 frames) with its own count-in click.
node "$src/tests/integration/practice_timeline_mid.js" bars.mid 120 4 || { echo "FAIL: writing bars.mid"; exit 1; }
render bars.mid --count-in 1 --loop 2-3 --loops 2 -o mid.wav
# count-in clicks (exact), then bars 2 (2 hits), 3 (3 hits), 2, 3
expect_onsets mid.wav 64 $(beats 0 24000 4) $(beats 96000 24000 2) $(beats 192000 24000 3) \
    $(beats 288000 24000 2) $(beats 384000 24000 3)
expect_frames mid.wav $(( (1 + 2 * 2) * 96000 ))
# --start inside a loop played for ever: bars 3, 4, then 2, 3, 4, 2, ... (10 s)
render bars.mid --loop 2-4 --start 3 --loops 0 --duration 10 -o midstart.wav
expect_onsets midstart.wav 64 $(beats 0 24000 3) $(beats 96000 24000 4) $(beats 192000 24000 2) \
    $(beats 288000 24000 3) $(beats 384000 24000 4)
# the trainer: bar 4 (four hits) at 60, 90, 120 bpm after a count-in at 60
render bars.mid --count-in 1 --loop 4 --trainer 60:30:1:120 -o midtrainer.wav
expect_onsets midtrainer.wav 64 $(beats 0 48000 4) $(beats 192000 48000 4) $(beats 384000 32000 4) \
    $(beats 512000 24000 4)
expect_frames midtrainer.wav 608000

# A preset with its own practice (count-in 2, bars 1-2 three times): the flags override it.
cat >bars.json <<'JSON'
{ "title": "bars", "voices": [
  { "kind": "practice", "name": "click", "midi": "bars.mid", "count_in": 2, "beats": false,
    "loop": { "from_bar": 1, "to_bar": 2, "times": 3 } },
  { "kind": "midi", "name": "wood", "file": "bars.mid" } ] }
JSON
render bars.json -o preset.wav # as written: 2 count-in bars, then bars 1, 2 three times
expect_onsets preset.wav 64 $(beats 0 24000 8) 192000 $(beats 288000 24000 2) 384000 $(beats 480000 24000 2) \
    576000 $(beats 672000 24000 2)
render bars.json --count-in 1 --loop 3-4 --loops 2 -o override.wav
expect_onsets override.wav 64 $(beats 0 24000 4) $(beats 96000 24000 3) $(beats 192000 24000 4) \
    $(beats 288000 24000 3) $(beats 384000 24000 4)
expect_frames override.wav $(( (1 + 2 * 2) * 96000 ))
# --start within the preset's loop: the first pass from bar 2
render bars.json --start 2 -o pstart.wav
expect_onsets pstart.wav 64 $(beats 0 24000 8) $(beats 192000 24000 2) 288000 $(beats 384000 24000 2) \
    480000 $(beats 576000 24000 2)
# the trainer over the preset's loop (1-2) at 120, 180, 240 bpm, no count-in
render bars.json --trainer 120:60:1:240 --count-in 0 -o ptrainer.wav
expect_onsets ptrainer.wav 64 0 $(beats 96000 24000 2) 192000 $(beats 256000 16000 2) 320000 $(beats 368000 12000 2)
expect_frames ptrainer.wav 416000

# Errors: one line naming the flag, exit 2, nothing written (the parsers' other refusals are in
# unit.test_timeline's table).
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
expect_error "etude render: --loop '8-5': the loop ends (bar 5) before it starts (bar 8)" song.map --loop 8-5
expect_error "etude render: --loop '3-9': bar 9 is past the end (the material has 4 bars)" song.map --loop 3-9
expect_error "etude render: --loop 'bridge': no label 'bridge' in the tempo map (labels: intro verse chorus)" song.map --loop bridge
expect_error "etude render: --start 'coda': no label 'coda' in the tempo map (labels: intro verse chorus)" song.map --start coda
expect_error "etude render: --start '1': bar 1 is outside the loop (bars 2 to 3)" song.map --loop 2-3 --start 1
expect_error "etude render: --start '3': bar 3 is outside the preset's loop (bars 1 to 2)" bars.json --start 3
expect_error "etude render: --loop 'verse': this material has no labels (labels name the entries of a tempo map); give bar numbers" bars.mid --loop verse
expect_error "etude render: --trainer '60:5:2': expected START:STEP:EVERY:TARGET, e.g. 60:5:2:90 (from 60 bpm, 5 bpm faster every 2 passes, up to 90)" song.map --trainer 60:5:2
# play checks the flags before it looks for JACK
"$etude" play song.map --loop 8-5 >/dev/null 2>err.txt; rc=$?
[ $rc -eq 2 ] && [ "$(cat err.txt)" = "etude play: --loop '8-5': the loop ends (bar 5) before it starts (bar 8)" ] \
    || fail "play --loop 8-5: exit $rc, '$(cat err.txt)'"
[ $failed -eq 0 ] && echo "practice_timeline: ok"
exit $failed
