#!/bin/sh
# jack_rt_safety.sh - the audio-thread safety check of the core, live under jackd: etude play runs
# every shipped preset at 64-frame periods with the interposer (tests/support/rt_interpose.c)
# preloaded, and loads another preset over OSC while playing (voices disposed and added while the
# audio thread runs). The interposer must be armed and count 0 allocations, locks or blocking calls
# on the JACK process thread, anywhere in etude's process, slow-sync and timebase callbacks (libjack's
# calls made from them included). Then: tempo changes in master mode (each swaps the beat grid the
# timebase callback is reading) under the interposer, and proof that each callback is judged: a
# test hook (ETUDE_RT_INJECT, in the interposer) makes the process, sync or timebase callback commit
# every kind of forbidden call once, and each must be reported. Each run prints the callback's
# worst time per period as a share of the period (printed, not judged: the machine is shared).
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
np=0
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
    if [ $np -eq 0 ]; then
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
    sed -n "s/^callback: .*max \([0-9.]* us ([0-9.]*%)\).*/  $name: worst period: \1 of the period/p" "$T/$name.out"
    [ $rc -eq 0 ] || { cat "$T/$name.err"; fail "$name: exit status $rc (86: violations, 87: not armed)"; }
    grep -q '^rt-interpose: armed, 0 violations' "$T/$name.err" || fail "$name: no clean, armed interposer summary"
    np=$((np + 1))
done
[ $np -gt 0 ] || fail "no presets in $ETUDE_PRESETS"

# Master mode: every tempo change replaces the beat grid under the running timebase callback.
env LD_PRELOAD="$ETUDE_RT_LIB" ETUDE_RT_REQUIRE=1 "$ETUDE_BIN" play --click "16 4/4 120" --transport master \
    --name rt-master --osc 0 --no-session >"$T/master.out" 2>"$T/master.err" &
pid=$!
JACK_PIDS="$JACK_PIDS $pid"
wait_for 20 grep -q "OSC on UDP port" "$T/master.err" || { cat "$T/master.err"; fail "master: etude did not start"; }
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/master.err")
sleep 0.5
for s in 1.25 0.5 2 0.8 1.5 1 0.75 1.1 3 0.6; do
    "$Q" "$port" /etude/tempo_scale f "$s" | grep -q '^/etude/ok' || fail "master: /etude/tempo_scale $s refused"
    sleep 0.2
done
kill -TERM $pid
wait $pid
rc=$?
grep '^rt-interpose' "$T/master.err"
sed -n 's/^callback: .*max \([0-9.]* us ([0-9.]*%)\).*/  master, tempo changes: worst period: \1 of the period/p' "$T/master.out"
[ $rc -eq 0 ] || fail "master with tempo changes: exit status $rc"
grep -q '^rt-interpose: armed, 0 violations' "$T/master.err" || fail "master: no clean, armed interposer summary"

# Each JACK-thread callback is judged, for every kind of call the interposer knows (fails on
# fd82c7f: only etude_engine_process() was judged, and the driver had no hook, so 0 violations).
kinds=malloc,mutex,write,sleep,open,clocklock,condclock,semclock,rwtimedrd,rwtimedwr,rwclockrd,rwclockwr,mtx,futex,fopen64,fputc,fgets,mremap,madvise
fns="malloc pthread_mutex_lock write nanosleep open pthread_mutex_clocklock pthread_cond_clockwait sem_clockwait
pthread_rwlock_timedrdlock pthread_rwlock_timedwrlock pthread_rwlock_clockrdlock pthread_rwlock_clockwrlock mtx_lock
syscall_futex fopen64 fputc fgets mremap madvise"
for at in process sync timebase; do
    env LD_PRELOAD="$ETUDE_RT_LIB" ETUDE_RT_REQUIRE=1 ETUDE_RT_INJECT=$kinds ETUDE_RT_INJECT_AT=$at \
        "$ETUDE_BIN" play --click "16 4/4 120" --transport master --name "rt-$at" --osc 0 --no-session \
        >"$T/inject-$at.out" 2>"$T/inject-$at.err" &
    pid=$!
    JACK_PIDS="$JACK_PIDS $pid"
    wait_for 20 grep -q "OSC on UDP port" "$T/inject-$at.err" || { cat "$T/inject-$at.err"; fail "$at: etude did not start"; }
    sleep 1
    kill -TERM $pid
    wait $pid
    rc=$?
    [ $rc -eq 86 ] || { cat "$T/inject-$at.err"; fail "injected into the $at callback: exit status $rc, expected 86"; }
    for f in $fns; do
        grep -q "^rt-interpose: violation: $f called 1 times" "$T/inject-$at.err" ||
            { cat "$T/inject-$at.err"; fail "injected into the $at callback: $f not reported"; }
    done
    echo "$at callback: every injected kind reported ($(echo $fns | wc -w) functions)"
done
echo "PASS ($np presets, master-mode tempo changes, injection into 3 callbacks)"
