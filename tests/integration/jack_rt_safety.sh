#!/bin/sh
# jack_rt_safety.sh - the audio-thread safety check of the core, live under jackd: etude play runs
# every shipped preset at 64-frame periods with the interposer (tests/support/rt_interpose.c)
# preloaded, and loads another preset over OSC while playing (voices disposed and added while the
# audio thread runs). The interposer must be armed and count 0 allocations, locks or blocking calls
# inside etude_engine_process() on the JACK process thread.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
Q="$ETUDE_TEST_BIN/jack_oscq"
export ETUDE_HOME="$T/home"
[ -f "$ETUDE_RT_LIB" ] || fail "interposer $ETUDE_RT_LIB not built"
jack_start 64
# a preset with FluidSynth's effects on (they allocate per period): /etude/load must refuse it
sed -e "s#\"assets/#\"$ETUDE_PRESETS/assets/#g" \
    -e 's#"program": 19 }#"program": 19, "effects": true }#' "$ETUDE_PRESETS/chorale-trainer.json" >"$T/fx.json"
presets=$(ls "$ETUDE_PRESETS"/*.json | grep -v '\.schema\.json$')
last=$(echo "$presets" | tail -n 1)
n=0
for preset in $presets; do
    name=$(basename "$preset" .json)
    env LD_PRELOAD="$ETUDE_RT_LIB" ETUDE_RT_REQUIRE=1 "$ETUDE_BIN" play "$preset" --name "rt-$name" \
        --osc 0 --no-session >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    JACK_PIDS="$JACK_PIDS $pid"
    wait_for 20 grep -q "OSC on UDP port" "$T/$name.err" || { cat "$T/$name.err"; fail "$name: etude did not start"; }
    port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/$name.err")
    # one output port per voice, besides mix_L, mix_R and midi_in
    voices=$("$Q" "$port" /etude/status | sed 's/.*"voices":\[//' | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
    [ -n "$voices" ] || fail "$name: no voices in /etude/status"
    jack_lsp >"$T/ports.txt" 2>&1 || jack_lsp >"$T/ports.txt" 2>&1 # jack_lsp itself may fail under load
    for v in $voices mix_L mix_R midi_in; do
        grep -qx "rt-$name:$v" "$T/ports.txt" || { cat "$T/ports.txt"; fail "$name: no port rt-$name:$v"; }
    done
    sleep 1.5
    if [ $n -eq 0 ]; then
        # swap the material while playing: the first preset loads the last one
        "$Q" "$port" /etude/load s "$last" | grep -q '^/etude/ok' || fail "$name: /etude/load $last failed"
        sleep 1.5
        # refused, and playback goes on (fails on fd82c7f: the load succeeded and the interposer
        # counted libgomp's allocations on the JACK thread)
        "$Q" "$port" /etude/load s "$T/fx.json" >"$T/fx.reply"
        grep -q "^/etude/error.*voices\[1\]\.effects" "$T/fx.reply" || { cat "$T/fx.reply"; fail "$name: /etude/load of effects not refused"; }
        "$Q" "$port" /etude/status | grep -q '"voices"' || fail "$name: no status after the refused load"
        sleep 0.5
    fi
    kill -TERM $pid
    wait $pid
    rc=$?
    grep '^rt-interpose' "$T/$name.err"
    [ $rc -eq 0 ] || { cat "$T/$name.err"; fail "$name: exit status $rc (86: violations, 87: not armed)"; }
    grep -q '^rt-interpose: armed, 0 violations' "$T/$name.err" || fail "$name: no clean, armed interposer summary"
    n=$((n + 1))
done
[ $n -gt 0 ] || fail "no presets in $ETUDE_PRESETS"
echo "PASS ($n presets)"
