#!/bin/bash
# rt_safety.sh - run a command with the audio-thread interposer (tests/support/rt_interpose.c)
# preloaded and judge the result.
#   rt_safety.sh clean INTERPOSER -- COMMAND ARGS...   must exit 0 and report 0 violations
#   rt_safety.sh FUNC  INTERPOSER -- COMMAND ARGS...   must be caught: exit 86 naming FUNC
# @TMP@ in the arguments is replaced by a private temporary directory, removed at the end.
set -u
expect=$1 lib=$2
shift 3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-rt.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
args=()
for a in "$@"; do args+=("${a//@TMP@/$tmp}"); done
# Commands that keep data (etude's session log) keep it in the temporary directory.
export ETUDE_HOME="$tmp/home" XDG_DATA_HOME="$tmp/data"
mkdir -p "$ETUDE_HOME" "$XDG_DATA_HOME"

LD_PRELOAD=$lib ETUDE_RT_REQUIRE=1 "${args[@]}" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
cat "$tmp/stdout"
cat "$tmp/stderr" >&2
if [ "$expect" = clean ]; then
    if [ $rc -ne 0 ]; then
        echo "FAIL: exit status $rc (86: audio-thread violations, 87: interposer not armed)" >&2
        exit 1
    fi
    if ! grep -q '^rt-interpose: armed, 0 violations' "$tmp/stderr"; then
        echo "FAIL: the interposer did not report an armed, clean run" >&2
        exit 1
    fi
    if grep -q '^rt-interpose: suppressed' "$tmp/stderr"; then
        echo "PASS: no allocation, lock or blocking call on the audio thread, apart from the suppressed ones listed"
    else
        echo "PASS: no allocation, lock or blocking call on the audio thread"
    fi
else
    if [ $rc -ne 86 ]; then
        echo "FAIL: expected the interposer to catch $expect (exit 86), got exit status $rc" >&2
        exit 1
    fi
    if ! grep -q "^rt-interpose: violation: $expect called" "$tmp/stderr"; then
        echo "FAIL: the interposer did not name $expect" >&2
        exit 1
    fi
    echo "PASS: the interposer caught $expect on the audio thread"
fi
