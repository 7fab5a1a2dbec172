#!/bin/sh
# jack_tempo_practice.sh - live tempo change of practice material: the chorale preset (count-in
# click on every beat, the Bass part on a percussive program so its note onsets stand out) gets
# /etude/tempo 108 (a tempo scale of 1.5 on its 72 bpm) while two recorders take the click's and
# the Bass's own ports. The click's intervals are exactly 40000 frames before and 26666 or 26667
# after (one transitional interval); every Bass interval is one or two beats of the tempo then in
# force, within FluidSynth's 64-frame granularity (one transitional interval). Under another
# client's timebase the change is refused with the reason.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
Q="$ETUDE_TEST_BIN/jack_oscq"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
assets="$ETUDE_PRESETS/assets"
[ -f "$assets/chorale.mid" ] || fail "$assets/chorale.mid missing (built with the presets)"
sed -e "s|assets/chorale.mid|$assets/chorale.mid|g" \
    -e 's|"beats": false|"beats": true|' \
    -e 's|"part": "Bass", "program": 52|"part": "Bass", "program": 12|' \
    "$ETUDE_PRESETS/chorale.json" >"$T/chorale.json"
grep -q '"beats": true' "$T/chorale.json" && grep -q '"program": 12' "$T/chorale.json" \
    || fail "presets/chorale.json changed shape; adapt this test"
jack_start 256
jack_bg play "$ETUDE_BIN" play "$T/chorale.json" --name chp --osc 0 --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/play.err" || fail "etude did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/play.err")
jack_bg recc "$TC" record-raw chp:count-in 10.5 "$T/click.wav" "$T/click.txt"
jack_bg recb "$TC" record-raw chp:Bass 10.5 "$T/bass.wav" "$T/bass.txt"
sleep 6.5
"$Q" "$port" /etude/tempo d 108 | grep -q '^/etude/ok' || fail "/etude/tempo 108 refused"
"$Q" "$port" /etude/status | grep -q '"tempo_scale":1.5' || fail "status does not show the scale 1.5"
wait "$(jack_pid recc)"
wait "$(jack_pid recb)"
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero"

"$ETUDE_TEST_BIN/jack_onsets" "$T/click.wav" --list | awk 'NR > 1 { printf "%d ", $1 - p } { p = $1 }' >"$T/ci.txt"
echo "click intervals: $(cat "$T/ci.txt")"
awk '{ phase = 0; odd = 0; a = b = 0
       for (i = 1; i <= NF; i++) {
           if (phase == 0 && $i == 40000) { a++; continue }
           if ($i == 26666 || $i == 26667) { phase = 1; b++; continue }
           odd++; if (phase == 1) bad = 1; phase = 1 }
       exit !(a >= 3 && b >= 3 && odd <= 1 && !bad) }' "$T/ci.txt" \
    || fail "practice click intervals do not follow the tempo change"

"$ETUDE_TEST_BIN/jack_onsets" "$T/bass.wav" --notes | awk 'NR > 1 { printf "%d ", $1 - p } { p = $1 }' >"$T/bi.txt"
echo "Bass intervals: $(cat "$T/bi.txt")"
# one or two beats: 40000 frames at 72 bpm, 26666.7 at 108, within 64 frames
awk 'function is(x, beat) { return (x - beat <= 64 && beat - x <= 64) || (x - 2 * beat <= 64 && 2 * beat - x <= 64) }
     { phase = 0; odd = 0; a = b = 0
       for (i = 1; i <= NF; i++) {
           if (phase == 0 && is($i, 40000)) { a++; continue }
           if (is($i, 80000 / 3)) { phase = 1; b++; continue }
           odd++; if (phase == 1) bad = 1; phase = 1 }
       exit !(a >= 2 && b >= 3 && odd <= 1 && !bad) }' "$T/bi.txt" \
    || fail "Bass note intervals do not follow the tempo change"

# under another client's timebase (follow mode) the tempo is the transport's: refused with the reason
jack_bg ext "$TC" master 100 3 30
jack_bg fol "$ETUDE_BIN" play "$T/chorale.json" --name chf --osc 0 --transport follow --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/fol.err" || fail "etude (follow) did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/fol.err")
"$TC" locate 0 && "$TC" start
wait_for 10 sh -c "'$Q' $port /etude/tempo_scale f 0.8 | grep -q '^/etude/error /etude/tempo_scale /etude/tempo_scale: another JACK client is timebase master (100 bpm)'" \
    || fail "/etude/tempo_scale under another timebase master was not refused"
"$TC" stop
kill -TERM "$(jack_pid fol)"
wait "$(jack_pid fol)" || fail "etude play (follow) exited non-zero"
echo PASS
