#!/bin/bash
# valgrind_check.sh [--expect-leak BYTES] COMMAND ARGS... - run a render under valgrind's leak
# checker and require zero bytes definitely and indirectly lost and no memory errors; with
# --expect-leak, require instead that valgrind reports exactly BYTES definitely lost in 1 block
# (the check's own negative control).
# @TMP@ in the arguments is replaced by a private temporary directory, removed at the end.
set -u
expect_leak=
if [ "${1:-}" = --expect-leak ]; then
    expect_leak=$2
    shift 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etude-vg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
args=()
for a in "$@"; do args+=("${a//@TMP@/$tmp}"); done
# Commands that keep data (etude's session log) keep it in the temporary directory.
export ETUDE_HOME="$tmp/home" XDG_DATA_HOME="$tmp/data"
mkdir -p "$ETUDE_HOME" "$XDG_DATA_HOME"
valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=1 --log-file="$tmp/vg.log" "${args[@]}"
rc=$?
cat "$tmp/vg.log" >&2
if [ -n "$expect_leak" ]; then
    if [ $rc -eq 1 ] && grep -q "definitely lost: $expect_leak bytes in 1 blocks" "$tmp/vg.log"; then
        echo "PASS: the planted leak of $expect_leak bytes was caught"
        exit 0
    fi
    echo "FAIL: the planted leak of $expect_leak bytes was not reported (exit status $rc)" >&2
    exit 1
fi
if [ $rc -ne 0 ]; then
    echo "FAIL: exit status $rc under valgrind (1: memory errors or leaks)" >&2
    exit 1
fi
if grep -q 'All heap blocks were freed -- no leaks are possible' "$tmp/vg.log"; then
    echo "PASS: all heap blocks freed"
    exit 0
fi
if grep -q 'definitely lost: 0 bytes in 0 blocks' "$tmp/vg.log" &&
   grep -q 'indirectly lost: 0 bytes in 0 blocks' "$tmp/vg.log"; then
    echo "PASS: 0 bytes in 0 blocks definitely and indirectly lost"
    exit 0
fi
echo "FAIL: valgrind's leak summary does not show 0 bytes definitely and indirectly lost" >&2
exit 1
