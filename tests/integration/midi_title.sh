#!/bin/sh
# midi_title.sh - a MIDI file is named by its title, the sequence name (meta event 0x03) of its first
# track, in `etude info`, in the session an `etude render` records, and in `log list` / `log show`;
# invalid UTF-8 is read as Latin-1, control characters become spaces; a file without a title is
# named by its file name. Offline (no jackd).
# Checked to fail on 55e3764: info printed no title, and the log named the material "titled.mid".
# usage: midi_title.sh ETUDE
set -u
etude=$1
case $etude in /*) ;; *) etude=$(pwd)/$etude ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-midi-title.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
unset XDG_DATA_HOME
cd "$tmp" || exit 1
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# format 1, 480 ticks per quarter: track 1 holds the title and the tempo (120 bpm), track 2
# ("Piano") two quarter notes. The title's 16 bytes: "Étude" in UTF-8, a tab, "in", a lone 0xff,
# " C ", a Latin-1 "é", "t", and a control character (0x01).
{
    printf 'MThd\000\000\000\006\000\001\000\002\001\340'
    printf 'MTrk\000\000\000\037'
    printf '\000\377\003\020\303\211tude\tin\377 C \351t\001'
    printf '\000\377\121\003\007\241\040\000\377\057\000'
    printf 'MTrk\000\000\000\037'
    printf '\000\377\003\005Piano\000\220\074\144\203\140\200\074\000\000\220\100\144\203\140\200\100\000\000\377\057\000'
} >titled.mid
# the same as format 0 without any name: titled by its file name
{
    printf 'MThd\000\000\000\006\000\000\000\001\001\340'
    printf 'MTrk\000\000\000\026'
    printf '\000\220\074\144\203\140\200\074\000\000\220\100\144\203\140\200\100\000\000\377\057\000'
} >plain.mid
want='Étude inÿ C ét'

"$etude" info titled.mid >info.txt 2>info.err || fail "info titled.mid: $(cat info.err)"
cat info.txt
grep -qx "title: $want" info.txt || fail "info: no line 'title: $want'"
grep -qx '  1  Piano                channel 1  program -  2 notes' info.txt || fail "info: the part Piano"
"$etude" info plain.mid >plain.txt 2>info.err || fail "info plain.mid: $(cat info.err)"
grep -q '^title:' plain.txt && fail "info plain.mid printed a title: $(grep '^title:' plain.txt)"

"$etude" render titled.mid -o titled.wav --rate 8000 >/dev/null 2>r.err || fail "render titled.mid: $(cat r.err)"
"$etude" render plain.mid -o plain.wav --rate 8000 >/dev/null 2>r.err || fail "render plain.mid: $(cat r.err)"
"$etude" log list >list.txt 2>l.err || fail "log list: $(cat l.err)"
cat list.txt
[ "$(wc -l <list.txt)" -eq 2 ] || fail "log list: $(wc -l <list.txt) lines, want 2"
grep -q " rendered .*  $want\$" list.txt || fail "log list: no render of '$want'"
grep -q " rendered .*  plain\.mid\$" list.txt || fail "log list: no render of plain.mid"
id=$(grep "  $want\$" list.txt | cut -d' ' -f1)
[ -n "$id" ] && "$etude" log show "$id" >show.txt 2>s.err || fail "log show $id: $(cat s.err 2>/dev/null)"
cat show.txt
grep -qx "material: *$want" show.txt || fail "log show: material"
grep -qx "file: *$tmp/titled.mid" show.txt || grep -qx "file: *$(pwd -P)/titled.mid" show.txt || fail "log show: file"
[ $failed -eq 0 ] && echo "midi_title: ok"
exit $failed
