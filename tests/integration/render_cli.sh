#!/bin/sh
# render_cli.sh - `etude render` end to end: outputs (formats, rates, durations) and every bad input
# (one line naming the file, line, field or flag; non-zero exit; no output file, no temp file left;
# an existing output left untouched), an interrupted render, and the progress bar on a terminal.
# usage: render_cli.sh ETUDE SOURCE_DIR
set -u
etude=$1 src=$2
case $etude in /*) ;; *) etude=$(pwd)/$etude ;; esac
case $src in /*) ;; *) src=$(pwd)/$src ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-render-cli.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
cd "$tmp" || exit 1
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# expect_error CODE MESSAGE ARGS...: exit code CODE, stderr exactly MESSAGE, no out.* or temp file
expect_error() {
    want_rc=$1 want=$2; shift 2
    "$etude" render "$@" > stdout.txt 2> stderr.txt; rc=$?
    got=$(cat stderr.txt)
    [ "$rc" -eq "$want_rc" ] || fail "render $*: exit $rc, expected $want_rc"
    [ "$got" = "$want" ] || fail "render $*:
   got: $got
  want: $want"
    [ "$(wc -l < stderr.txt)" -eq 1 ] || fail "render $*: not one line on stderr"
    for f in out.wav out.flac out.wav.part-* out.flac.part-*; do
        [ -e "$f" ] && fail "render $*: left $f behind"
    done
    rm -f out.wav out.flac out.wav.part-* out.flac.part-*
    echo "ok   rejected: $want"
}

printf '# a map\nintro: 2 120\n8 abc\n' > badtempo.txt
printf '4 4/4 0\n' > zerotempo.txt
printf '4 4/4 120\n2 3/4 100 X.xx\n' > badpattern.txt
printf '\177ELF\002\001\001\000\000\000\000binary' > garbage.bin
printf '{\n  "title": "cut",\n  "click": {"map": ["4 120"]\n' > truncated.json
printf '{\n  "title": "x",\n  "tempo": 120,\n  "click": {"map": ["4 120"]}\n}\n' > unknown.json
printf '{"click": {"map": ["4 120"],\n  "sound": "cowbell"}}\n' > badsound.json
printf '{"click": {"map": [\n "4 120",\n "2 7/8 -90"]}}\n' > badinline.json
printf 'not json' > file.txt

expect_error 2 "etude render: unknown flag '--bogus' (see 'etude render --help')" --click "4 120" -o out.wav --bogus
expect_error 2 "etude render: -o needs a value (see 'etude render --help')" --click "4 120" -o
expect_error 2 "etude render: missing -o OUT.wav (or OUT.flac)" --click "4 120"
expect_error 2 "etude render: nothing to render (give PRESET.json, --tempo-map FILE or --click \"...\")" -o out.wav
expect_error 2 "etude render: give one of PRESET.json, --tempo-map FILE or --click \"...\", not several" unknown.json --click "4 120" -o out.wav
expect_error 2 "etude render: bad --rate 'abc' (expected an integer from 8000 to 384000)" --click "4 120" -o out.wav --rate abc
expect_error 2 "etude render: bad --rate '1000' (expected an integer from 8000 to 384000)" --click "4 120" -o out.wav --rate 1000
expect_error 2 "etude render: bad --duration '-1' (expected seconds > 0, at most 360000)" --click "4 120" -o out.wav --duration -1
expect_error 2 "etude render: bad --format 'mp3' (expected float, pcm24 or pcm16)" --click "4 120" -o out.wav --format mp3
expect_error 2 "etude render: -o 'out.mp3': unknown output format '.mp3' (expected .wav or .flac)" --click "4 120" -o out.mp3
expect_error 2 "etude render: -o 'out.flac': FLAC holds integer samples (use --format pcm24 or pcm16)" --click "4 120" -o out.flac --format float
expect_error 1 "etude render: badtempo.txt:3: bad tempo 'abc' (expected a number > 0)" --tempo-map badtempo.txt -o out.wav
expect_error 1 "etude render: zerotempo.txt:1: bad tempo '0' (expected a number > 0)" --tempo-map zerotempo.txt -o out.wav
expect_error 1 "etude render: badpattern.txt:2: bad pattern 'X.xx' (4 beats; the meter has 3)" --tempo-map badpattern.txt -o out.wav
expect_error 1 "etude render: --click: bad tempo '-120' (expected a number > 0)" --click "8 4/4 -120" -o out.wav
expect_error 1 "etude render: --click: bad pattern 'X.y' (expected X, x or . for each beat)" --click "4 3/4 120 X.y" -o out.wav
expect_error 1 "etude render: --click: the map never ends (no bar count): give --duration SECONDS" --click "120" -o out.wav
printf '{"voices": [\n {"kind": "practice", "name": "click", "midi": "%s/presets/assets/chorale.mid",\n  "loop": {"from_bar": 1, "to_bar": 2, "times": 0}},\n {"kind": "midi", "name": "choir", "file": "%s/presets/assets/chorale.mid"}]}\n' "$src" "$src" > endless.json
expect_error 1 "etude render: endless.json: the material never ends (an endless loop or map): give --duration SECONDS" endless.json -o out.wav
expect_error 1 "etude render: garbage.bin:1: binary data (a NUL byte), not a tempo map" --tempo-map garbage.bin -o out.wav
expect_error 1 "etude render: garbage.bin:1: binary data (a NUL byte), not a JSON preset" garbage.bin -o out.wav
expect_error 1 "etude render: file.txt:1: malformed JSON near 'not json'" file.txt -o out.wav
expect_error 1 "etude render: truncated.json:3: malformed JSON: unexpected end of file (truncated?)" truncated.json -o out.wav
expect_error 1 "etude render: unknown.json:3: tempo: unknown field (a preset has: \$schema, title, description, voices, click, render)" unknown.json -o out.wav
expect_error 1 "etude render: badsound.json:2: click.sound: unknown built-in sound 'cowbell' (expected beep, wood, square, or {\"normal\": FILE, \"accent\": FILE})" badsound.json -o out.wav
expect_error 1 "etude render: badinline.json:3: click.map[1]: bad tempo '-90' (expected a number > 0)" badinline.json -o out.wav
expect_error 1 "etude render: missing.json: cannot read: No such file or directory" missing.json -o out.wav
expect_error 1 "etude render: missing.txt: cannot read: No such file or directory" --tempo-map missing.txt -o out.wav
expect_error 1 "etude render: cannot write 'nodir/out.wav': No such file or directory" --click "4 120" -o nodir/out.wav
expect_error 1 "etude render: cannot write 'file.txt/out.wav': Not a directory" --click "4 120" -o file.txt/out.wav
mkdir -p adir.wav
expect_error 1 "etude render: cannot write 'adir.wav': Is a directory" --click "4 120" -o adir.wav

# a failed render leaves an existing output untouched
echo "previous render" > keep.wav
"$etude" render --no-session --tempo-map badtempo.txt -o keep.wav 2> /dev/null
[ "$(cat keep.wav)" = "previous render" ] && echo "ok   an existing output survives a failed render" \
    || fail "a failed render changed keep.wav"

# outputs: format, rate, channels, exact length
check_output() { # FILE WANT_SUMMARY ARGS...
    f=$1 want=$2; shift 2
    if ! "$etude" render --no-session "$@" -o "$f" 2> stderr.txt; then
        fail "render $* -o $f: $(cat stderr.txt)"; return
    fi
    got=$(soxi "$f" 2>/dev/null | awk -F' *: ' '/^Channels/{c=$2} /^Sample Rate/{r=$2} /^Duration/{split($2,a," = "); split(a[2],b," "); d=b[1]} /^Sample Encoding/{e=$2} END{print c, r, d, e}')
    [ "$got" = "$want" ] && echo "ok   $f: $got" || fail "$f: got '$got', want '$want'"
    ls ./*.part-* > /dev/null 2>&1 && fail "$f: temp file left"
    rm -f "$f"
}
# 4 bars of 4/4 at 120 = 8 s
check_output out.wav "2 48000 384000 32-bit Floating Point PCM" --click "4 4/4 120"
check_output out.wav "2 44100 352800 24-bit Signed Integer PCM" --click "4 4/4 120" --rate 44100 --format pcm24
check_output out.wav "2 48000 48000 16-bit Signed Integer PCM" --click "120" --duration 1 --format pcm16
check_output out.flac "2 96000 768000 24-bit FLAC" --click "4 4/4 120" --rate 96000
check_output out.wav "2 48000 2546400 32-bit Floating Point PCM" "$src/presets/metronome-accented.json"

# the preset's render defaults: rate 48000 and a 0.25 s tail after 22 bars at 100 (52.8 s)
"$etude" render --no-session "$src/presets/metronome-accented.json" -o out.wav --duration 2.5 2>/dev/null
[ "$(soxi -s out.wav 2>/dev/null)" = 120000 ] && echo "ok   --duration overrides the preset" || fail "--duration"
rm -f out.wav

# the transport messages on the bus, as the session recorder saw them: one session, every bar
# (song.txt has 43 bars, 2:01.7 long), the material named. The record is in the store's database
# when the store plugin is built, else it waits in the recorder's journal.
if command -v sqlite3 > /dev/null; then
    "$etude" render --tempo-map "$src/tests/integration/click_vs_klick_maps/song.txt" -o song.wav 2> /dev/null
    j=$(ls "$ETUDE_HOME"/journal/*.json 2> /dev/null | head -n 1)
    fields="json_extract(d, '\$.bars'), json_extract(d, '\$.activeSeconds'), json_extract(d, '\$.endReason'),
            json_extract(d, '\$.material') like '%song.txt'"
    if [ -n "$j" ]; then
        got=$(sqlite3 :memory: "select $fields from (select json_extract(readfile('$j'), '\$.record.data') as d)" 2>&1)
    else
        got=$(sqlite3 "$ETUDE_HOME/etude.db" "select $fields from (select data as d from entities
              where entity_type = 'practiceSession')" 2>&1)
    fi
    [ "$got" = "43|121.728|end|1" ] && echo "ok   transport start, 43 bars and stop reach the session recorder" \
        || fail "session from the bus: got '$got', want '43|121.728|end|1'"
    rm -f song.wav
fi

# interrupted: exit 130, nothing written (or, on a very fast machine, a complete file)
awk 'BEGIN { for (i = 0; i < 200; i++) print "12 7/8 133.3-171.7 X.xX.x." }' > long.txt
"$etude" render --no-session --tempo-map long.txt -o long.wav 2> int.txt &
pid=$!
while kill -0 "$pid" 2> /dev/null && [ ! -e long.wav ] && ! ls long.wav.part-* > /dev/null 2>&1; do
    sleep 0.05
done
kill -TERM "$pid" 2> /dev/null
wait "$pid"; rc=$?
pid=
if [ "$rc" -eq 130 ]; then
    [ -e long.wav ] && fail "interrupted render left long.wav"
    ls long.wav.part-* > /dev/null 2>&1 && fail "interrupted render left its temp file"
    grep -q "interrupted by signal 15; nothing written" int.txt && echo "ok   interrupted: exit 130, no file" \
        || fail "interrupted: $(cat int.txt)"
elif [ "$rc" -eq 0 ]; then
    [ -s long.wav ] && echo "ok   (finished before the signal)" || fail "no output after exit 0"
else
    fail "interrupted render: exit $rc: $(cat int.txt)"
fi
rm -f long.wav

# the progress bar, on a terminal only
if command -v script > /dev/null; then
    script -qec "'$etude' render --no-session --click '60 4/4 240' -o tty.wav" /dev/null > tty.txt 2>&1
    grep -q '100% 1:00 / 1:00' tty.txt && echo "ok   progress bar on a terminal" || fail "no progress bar: $(cat tty.txt)"
    "$etude" render --no-session --click '60 4/4 240' -o tty.wav 2> notty.txt
    [ ! -s notty.txt ] && echo "ok   no progress bar off a terminal" || fail "progress bar off a terminal"
fi

exit $failed
