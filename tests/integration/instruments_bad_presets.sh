#!/bin/sh
# instruments_bad_presets.sh - bad presets for the instruments' voice kinds: `etude render` exits
# non-zero with one line naming the file and the field (or the MIDI file's byte offset), and writes
# no output file, not even half of one.
# usage: instruments_bad_presets.sh ETUDE SRCDIR
set -eu
etude=$1 src=$2
tmp=$(mktemp -d /tmp/etude-instr-bad-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
export ETUDE_HOME="$tmp/home"
assets="$src/presets/assets"
ch="$assets/chorale.mid"
fail() { echo "FAIL: $*" >&2; exit 1; }
head -c 300 "$ch" > "$tmp/truncated.mid"
printf 'not a soundfont\n' > "$tmp/fake.sf2"
n=0

expect() { # name want-substring voices-json
    n=$((n + 1))
    printf '{\n  "title": "bad %s",\n  "voices": [\n    %s\n  ]\n}\n' "$1" "$3" > "$tmp/$1.json"
    mkdir -p "$tmp/out$n"
    if "$etude" render "$tmp/$1.json" -o "$tmp/out$n/x.wav" --no-session 2>"$tmp/err" >/dev/null; then
        fail "$1: accepted"
    fi
    lines=$(wc -l < "$tmp/err")
    [ "$lines" -eq 1 ] || fail "$1: $lines lines on stderr: $(cat "$tmp/err")"
    grep -qF "$tmp/$1.json" "$tmp/err" || fail "$1: the message does not name the preset: $(cat "$tmp/err")"
    grep -qF -- "$2" "$tmp/err" || fail "$1: expected '$2' in: $(cat "$tmp/err")"
    [ -z "$(ls -A "$tmp/out$n")" ] || fail "$1: left files behind: $(ls -A "$tmp/out$n")"
    echo "ok $1: $(cat "$tmp/err")"
}

P="{ \"kind\": \"practice\", \"midi\": \"$ch\" }"
expect unknown-field ':5: voices[1].progam: unknown field' \
    "$P,
    { \"kind\": \"midi\", \"file\": \"$ch\", \"progam\": 3 }"
expect wrong-type 'voices[1].program: expected an integer from 0 to 127' \
    "$P,
    { \"kind\": \"midi\", \"file\": \"$ch\", \"program\": \"piano\" }"
expect missing-soundfont "voices[1].soundfont: $tmp/nope.sf2: cannot open SoundFont" \
    "$P,
    { \"kind\": \"midi\", \"file\": \"$ch\", \"soundfont\": \"nope.sf2\" }"
expect fake-soundfont "voices[1].soundfont: $tmp/fake.sf2: not a SoundFont 2 file" \
    "$P,
    { \"kind\": \"midi\", \"file\": \"$ch\", \"soundfont\": \"fake.sf2\" }"
expect missing-midi "voices[0].file: $tmp/nope.mid: cannot open" \
    "{ \"kind\": \"midi\", \"file\": \"nope.mid\" }"
expect truncated-midi "voices[0].midi: $tmp/truncated.mid: byte " \
    "{ \"kind\": \"practice\", \"midi\": \"truncated.mid\" }"
grep -q "truncated" "$tmp/err" || fail "truncated-midi: the message does not say truncated"
expect truncated-midi-voice "voices[0].file: $tmp/truncated.mid: byte " \
    "{ \"kind\": \"midi\", \"file\": \"truncated.mid\" }"
expect unknown-part "voices[1].part: no such part" \
    "$P,
    { \"kind\": \"midi\", \"file\": \"$ch\", \"part\": \"Descant\" }"
expect missing-sample "voices[1].file: $tmp/nope.wav: cannot read sample" \
    "{ \"kind\": \"practice\", \"tempo\": 90, \"bars\": 2 },
    { \"kind\": \"sample\", \"file\": \"nope.wav\", \"pattern\": \"x.x.\" }"
expect bad-pattern 'voices[1].pattern: expected 1 to 256 steps' \
    "{ \"kind\": \"practice\", \"tempo\": 90, \"bars\": 2 },
    { \"kind\": \"sample\", \"file\": \"$assets/kick.wav\", \"pattern\": \"x-x-\" }"
expect bar-past-end 'voices[0].loop.to_bar: to_bar 12 is past the last bar (8)' \
    "{ \"kind\": \"practice\", \"midi\": \"$ch\", \"loop\": { \"from_bar\": 2, \"to_bar\": 12 } }"
expect loop-unknown 'voices[0].loop.until: unknown field' \
    "{ \"kind\": \"practice\", \"tempo\": 90, \"bars\": 4, \"loop\": { \"until\": 3 } }"
expect trainer-down 'voices[0].trainer.target: target 60 is below start 80' \
    "{ \"kind\": \"practice\", \"tempo\": 90, \"bars\": 4, \"trainer\": { \"start\": 80, \"step\": 5, \"target\": 60 } }"
expect bad-note 'voices[1].note: expected a note name' \
    "{ \"kind\": \"practice\", \"tempo\": 60, \"bars\": 4 },
    { \"kind\": \"drone\", \"note\": \"H2\" }"
expect drone-alone ":4: voices[0]: a drone follows the bars of a practice (or midi) voice" \
    "{ \"kind\": \"drone\", \"note\": \"A2\" }"
expect sample-alone ":4: voices[0]: a sample pattern follows the bars of a practice" \
    "{ \"kind\": \"sample\", \"file\": \"$assets/kick.wav\", \"pattern\": \"x.x.\" }"
echo "ok: $n bad presets refused"
