#!/bin/sh
# jack_click.sh - etude play's click onsets, recorded with jack-record from mix_L and with a test
# client from the voice's own port, against the tempo map's expected frames at 64- and 256-frame
# periods (tempo changes, a ramp, odd meters, silent beats).
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
cat >"$T/map.txt" <<'MAP'
# a short map: constant, ramp, odd meter with a pattern
intro: 2 4/4 132
ramp: 2 3/4 100-170
odd: 1 7/8 210 X.xX.xx
MAP
export ETUDE_HOME="$T/home"
for period in 64 256; do
    jack_start "$period"
    jack_bg play$period "$ETUDE_BIN" play --tempo-map "$T/map.txt" --name "et$period" --no-session
    # jack-record connects at its start, so the port must exist; the first clicks may be missed
    # (the check aligns on the beats recorded). The map lasts about 7.5 s.
    wait_for 10 sh -c "jack_lsp | grep -q '^et$period:mix_L\$'" || fail "etude's port never appeared"
    jack_bg rec$period jack-record -p "et$period:mix_L" -n 1 -t 9 "$T/rec$period.wav"
    # the voice's own port (what a DAW records on the click's track), with a frame-time recorder
    jack_bg own$period "$ETUDE_TEST_BIN/jack_tclient" record "et$period:click" 9 "$T/own$period.wav" "$T/own$period.txt"
    wait "$(jack_pid play$period)" || fail "etude play exited non-zero at period $period"
    wait "$(jack_pid rec$period)"
    wait "$(jack_pid own$period)"
    "$ETUDE_TEST_BIN/jack_onsets" "$T/own$period.wav" --tempo-map "$T/map.txt" >"$T/ownonsets$period.out" \
        || { cat "$T/ownonsets$period.out"; fail "click onsets on the voice port differ from the map at period $period"; }
    cat "$T/ownonsets$period.out"
    [ -s "$T/rec$period.wav" ] || fail "jack-record wrote nothing at period $period"
    "$ETUDE_TEST_BIN/jack_onsets" "$T/rec$period.wav" --tempo-map "$T/map.txt" >"$T/onsets$period.out" \
        || { cat "$T/onsets$period.out"; fail "click onsets differ from the map at period $period"; }
    cat "$T/onsets$period.out"
    grep -q "stopped (end)" "$T/play$period.out" || fail "no end report at period $period"
    jack_stop
done
echo PASS
