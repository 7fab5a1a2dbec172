#!/bin/sh
# jack_tempo.sh - live tempo changes over OSC: a click at 120 bpm gets /etude/tempo 90 and then
# /etude/tempo_scale 1.25 while recorded; the intervals between clicks are exactly 24000 frames
# before, 32000 after the first change and 19200 after the second (one transitional interval
# each), and nothing is lost or doubled. Refused where it cannot apply (follow mode).
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
Q="$ETUDE_TEST_BIN/jack_oscq"
export ETUDE_HOME="$T/home"
jack_start 256
jack_bg play "$ETUDE_BIN" play --click "4/4 120" --name tmp --osc 0 --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/play.err" || fail "etude did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/play.err")
jack_bg rec "$ETUDE_TEST_BIN/jack_tclient" record-raw tmp:mix_L 9 "$T/rec.wav" "$T/marks.txt"
sleep 2.5
"$Q" "$port" /etude/tempo d 90 | grep -q '^/etude/ok' || fail "/etude/tempo 90 refused"
"$Q" "$port" /etude/status | grep -q '"tempo_scale":0.75' || fail "status does not show the scale 0.75"
sleep 3
"$Q" "$port" /etude/tempo_scale f 1.25 | grep -q '^/etude/ok' || fail "/etude/tempo_scale 1.25 refused"
"$Q" "$port" /etude/tempo_scale f 9 | grep -q '^/etude/error' || fail "/etude/tempo_scale 9 accepted"
wait "$(jack_pid rec)"
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero"
"$ETUDE_TEST_BIN/jack_onsets" "$T/rec.wav" --list >"$T/onsets.txt"
awk 'NR > 1 { print $1 - prev } { prev = $1 }' "$T/onsets.txt" | tr '\n' ' ' >"$T/intervals.txt"
echo "intervals: $(cat "$T/intervals.txt")"
# runs of 24000, then (after at most one other interval) 32000, then 19200
awk '{ phase = 0; odd = 0; n24 = n32 = n19 = 0
       for (i = 1; i <= NF; i++) {
           if (phase == 0 && $i == 24000) { n24++; continue }
           if (phase <= 1 && $i == 32000) { phase = 1; n32++; continue }
           if (phase >= 1 && $i == 19200) { phase = 2; n19++; continue }
           odd++; if (phase == 0) phase = 1; else if (phase == 1) phase = 2; else bad = 1 }
       exit !(n24 >= 3 && n32 >= 3 && n19 >= 3 && odd <= 2 && !bad) }' "$T/intervals.txt" \
    || fail "click intervals do not follow the tempo changes"

jack_bg fol "$ETUDE_BIN" play --click "4/4 120" --name tmp2 --osc 0 --transport follow --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/fol.err" || fail "etude (follow) did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/fol.err")
"$Q" "$port" /etude/tempo d 90 | grep -q "^/etude/error /etude/tempo /etude/tempo: with --transport follow" \
    || fail "/etude/tempo in follow mode was not refused"
kill -TERM "$(jack_pid fol)"
wait "$(jack_pid fol)" || fail "etude play (follow) exited non-zero"
echo PASS
