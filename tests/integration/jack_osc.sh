#!/bin/sh
# jack_osc.sh - OSC control of etude play: status and timing queries, voice mute/solo/gain, volume,
# stop/start, locate, load; every malformed, unknown or mistyped message gets an /etude/error reply
# and etude keeps running; /etude/quit ends it cleanly; a second --osc on a busy port says it is in use.
# Every wait is bounded (timeout, jack_wait): a hung etude fails the test instead of stalling it.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
Q="$ETUDE_TEST_BIN/jack_oscq"
export ETUDE_HOME="$T/home"
jack_start 256

# --connect: the mix goes where asked, a port that does not exist is named in one line
timeout 20 "$ETUDE_BIN" play --click "4/4 120" --name con1 --connect system:playback_1 nosuch:port --no-session \
    >"$T/con1.out" 2>"$T/con1.err" && fail "--connect to a missing port succeeded"
grep -q "^etude: --connect: no JACK port named 'nosuch:port'" "$T/con1.err" || fail "bad --connect message: $(cat "$T/con1.err")"
jack_bg con2 "$ETUDE_BIN" play --click "4/4 120" --name con2 --connect system:playback_1 system:playback_2 --no-session
wait_for 10 sh -c "timeout 5 jack_lsp -c con2:mix_R | grep -q 'system:playback_2'" || fail "--connect did not connect mix_R"
timeout 5 jack_lsp -c con2:mix_L | grep -q 'system:playback_1' || fail "--connect did not connect mix_L"
timeout 5 jack_lsp -c con2:click | grep -q 'system:' && fail "the voice port was connected without being asked"
kill -TERM "$(jack_pid con2)"
jack_wait con2 20 || fail "etude play (--connect) exited non-zero"
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --click "4/4 120" --name osc1 --osc 0 --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/play.err" || fail "etude did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/play.err")
echo "OSC port $port"
# a second etude on the same port is told the port is in use, in one line, and exits non-zero
timeout 20 "$ETUDE_BIN" play --click "4/4 120" --name osc2 --osc "$port" --no-session >"$T/osc2.out" 2>"$T/osc2.err" \
    && fail "a second --osc $port succeeded"
grep -q "^etude: --osc $port: UDP port $port is in use" "$T/osc2.err" || fail "busy --osc message: $(cat "$T/osc2.err")"
[ "$(wc -l <"$T/osc2.err")" -eq 1 ] || fail "busy --osc: $(wc -l <"$T/osc2.err") lines on stderr"

expect() { # pattern path [types args...]
    pat=$1
    shift
    out=$("$Q" "$port" "$@") || fail "no reply to $*"
    echo "$* -> $out"
    echo "$out" | grep -q -- "$pat" || fail "reply to $* was '$out', expected '$pat'"
}
expect '^/etude/status {"client":"osc1","rate":48000,"period":256,"transport":"off","rolling":true' /etude/status
expect '"voices":\[{"name":"click","kind":"click","gain":1,"mute":false,"solo":false}\]' /etude/status
expect '^/etude/timing {"callback":{"periods":[1-9]' /etude/timing
expect '^/etude/ok /etude/voice/mute$' /etude/voice/mute si click 1
expect '"mute":true' /etude/status
expect '^/etude/ok /etude/voice/solo$' /etude/voice/solo sT click
expect '^/etude/ok /etude/voice/gain$' /etude/voice/gain sf click 0.5
expect '^/etude/ok /etude/volume$' /etude/volume d 0.8
expect '"gain":0.5,"mute":true,"solo":true' /etude/status
expect '"volume":0.8' /etude/status
expect "^/etude/error /etude/voice/mute /etude/voice/mute: no voice named 'drums' (voices: click)" /etude/voice/mute si drums 1
expect '^/etude/error /etude/voice/gain .*out of range' /etude/voice/gain sf click 9
expect '^/etude/error /etude/voice/mute .*bad arguments' /etude/voice/mute i 1
expect "^/etude/error /etude/nonsense unknown address '/etude/nonsense'" /etude/nonsense
expect "^/etude/error /etude/locate /etude/locate 'abc': no such label" /etude/locate s abc
expect '^/etude/error /etude/locate .*bad arguments .ss.' /etude/locate ss abc def
expect '^/etude/error /etude/status .*bad arguments' /etude/status i 3
expect '^/etude/error /etude/tempo .*(expected 12 .. 480 bpm)' /etude/tempo f 900
expect '^raw: /etude/error  malformed OSC message' --raw "hello, not OSC"
expect '^raw: /etude/error  malformed OSC' --raw "/etude/start"
expect "^/etude/error /etude/load .*$T/missing.json" /etude/load s "$T/missing.json"
expect '^/etude/ok /etude/stop$' /etude/stop
expect '"rolling":false' /etude/status
expect '^/etude/ok /etude/locate$' /etude/locate f 2.5
expect '"position":120000' /etude/status
expect '^/etude/ok /etude/start$' /etude/start
expect '"rolling":true' /etude/status
kill -0 "$(jack_pid play)" || fail "etude died"
expect '^/etude/ok /etude/quit$' /etude/quit
jack_wait play 20 || fail "etude play exited non-zero after /etude/quit"
grep -q '"topic":"voice","name":"mute","payload":{"voice":"click","kind":"click","value":true}' "$T/bus.jsonl" \
    || fail "no voice mute message on the bus"
grep -q '"name":"locate","payload":{"pos":120000}' "$T/bus.jsonl" || fail "no locate message"
seq=$(sed -n 's/^{"topic":"transport","name":"\([a-z]*\)".*/\1/p' "$T/bus.jsonl" | grep -v '^bar$' | tr '\n' ' ')
echo "transport messages: $seq"
[ "$seq" = "start stop locate start stop " ] || fail "transport messages were '$seq'"
echo PASS
