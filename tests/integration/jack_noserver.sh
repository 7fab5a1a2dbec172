#!/bin/sh
# jack_noserver.sh - with no JACK server etude play says so in one line and exits non-zero (it never
# starts one); bad arguments get one line naming the flag or file at fault.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
export ETUDE_HOME="$T/home"
export JACK_DEFAULT_SERVER="etude-none-$$-$(date +%s%N)"
"$ETUDE_BIN" play --click "4 4/4 120" >"$T/out" 2>"$T/err"
rc=$?
cat "$T/err"
[ $rc -ne 0 ] || fail "exit status 0 without a server"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected exactly one line on stderr"
grep -q "^etude: no JACK server is running (server '$JACK_DEFAULT_SERVER'" "$T/err" || fail "wrong message"
[ ! -s "$T/out" ] || fail "something on stdout"
pgrep -f "jackd.*$JACK_DEFAULT_SERVER" >/dev/null && fail "a JACK server was started"

check() { # expected-status pattern args...
    want=$1 pat=$2
    shift 2
    "$ETUDE_BIN" play "$@" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq "$want" ] || fail "etude play $*: status $rc, expected $want ($(cat "$T/err"))"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "etude play $*: expected one line, got: $(cat "$T/err")"
    grep -q -- "$pat" "$T/err" || fail "etude play $*: '$(cat "$T/err")' does not match '$pat'"
    echo "ok: $(cat "$T/err")"
}
check 2 "unknown option '--bogus'" --click "4 4/4 120" --bogus
check 2 "^etude play: --transport 'sideways'" --click "4 4/4 120" --transport sideways
check 2 "^etude play: --osc '70000'" --click "4 4/4 120" --osc 70000
check 2 "^etude play: --connect" --click "4 4/4 120" --connect
check 2 "nothing to play" --name x
check 2 "only one of" --click "4 4/4 120" --tempo-map "$T/nope.txt"
check 1 "$T/nope.txt" --tempo-map "$T/nope.txt"
printf '4 4/4 120\n2 4/4 abc\n' >"$T/bad.txt"
check 1 "$T/bad.txt:2" --tempo-map "$T/bad.txt"
check 1 "^etude: --click" --click "4 4/4 zero"
echo PASS
