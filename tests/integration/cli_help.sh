#!/bin/sh
# cli_help.sh - `--help` and `-h` print usage and exit 0 on every command and subcommand, with no
# side effect: nothing on stderr, and $ETUDE_HOME left untouched (no store, no note, no session).
# Every command `etude --help` lists is checked, and each subcommand, also with other arguments
# around the flag. Checked to fail on bb43ecf: `etude log note --help` stored a note "--help".
# usage: cli_help.sh ETUDE
set -u
E=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-help.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ETUDE_HOME="$tmp/home"
unset XDG_DATA_HOME
failed=0 n=0
fail() { echo "FAIL: $*"; failed=1; }
check() { # args...
    "$E" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    n=$((n + 1))
    [ $rc -eq 0 ] || fail "etude $*: exit $rc"
    grep -q '^usage:' "$tmp/out" || fail "etude $*: no usage on stdout: $(head -c 200 "$tmp/out")"
    [ -s "$tmp/err" ] && fail "etude $*: stderr: $(head -c 200 "$tmp/err")"
    [ -e "$ETUDE_HOME" ] && { fail "etude $*: created $(find "$ETUDE_HOME" | tr '\n' ' ')"; rm -rf "$ETUDE_HOME"; }
}
cmds=$("$E" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort -u)
[ "$(echo "$cmds" | wc -l)" -ge 9 ] || fail "etude --help lists only: $(echo $cmds)"
for c in $cmds; do
    for h in --help -h; do check "$c" "$h"; done
done
for sub in "log list" "log show" "log summary" "log note" "log edit" "log delete" "goal add" "goal list" "goal progress" \
           "goal delete" "sync login" "sync now" "sync status" "sync conflicts" "sync resolve" "sync logout"; do
    for h in --help -h; do check $sub "$h"; done
done
# with other arguments around the flag
check log note "left hand" --help
check log edit 1234 -h
check log summary --since 2026-01-01 --material Chorale --help
check goal add minutes 5 --per day --help
check render --click "4 4/4 120" -o out.wav -h
[ -e out.wav ] && fail "render -h wrote out.wav"
check play chorale --tempo-scale 0.8 --help
check export --format csv -h
check import some.ndjson --help
[ $failed -eq 0 ] && echo "cli_help: ok ($n runs)"
exit $failed
