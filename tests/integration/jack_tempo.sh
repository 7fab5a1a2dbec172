#!/bin/sh
# jack_tempo.sh - live tempo changes over OSC: a click at 120 bpm gets /etude/tempo 90 and then
# /etude/tempo_scale 1.25 while recorded; the intervals between clicks are exactly 24000 frames
# before, 32000 after the first change and 19200 after the second (one transitional interval
# each), and nothing is lost or doubled. In master mode another client reads the scaled BPM and BBT;
# in follow mode without a timebase master the scale applies; under another client's timebase it is
# refused with the reason.
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

TC="$ETUDE_TEST_BIN/jack_tclient"
# --- master: etude's map is the tempo source; the BPM another client reads follows the scale, and
# the transport is located to the same fraction of the same beat
jack_bg mas "$ETUDE_BIN" play --click "4/4 120" --name tmpm --osc 0 --transport master --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/mas.err" || fail "etude (master) did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/mas.err")
wait_for 10 "$TC" wait-rolling 0.1 || fail "master: etude did not start the transport"
sleep 1
# query: state frame bbt bar beat tick bpm beats_per_bar; beats of the map at a frame and rate
check_bbt() { # BEAT_FRAMES BPM LABEL -> prints the musical position in beats
    line=$("$TC" query)
    echo "master $3: $line" >&2
    set -- $line "$1" "$2" "$3"
    [ "$1" = rolling ] && [ "$3" = 1 ] || fail "master $11: not rolling with BBT ($line)"
    awk -v f="$2" -v bar="$4" -v beat="$5" -v tick="$6" -v bpm="$7" -v len="$9" -v want="${10}" 'BEGIN {
        b = int(f / len); t = int((f - b * len) * 1920 / len)
        if (bar != int(b / 4) + 1 || beat != b % 4 + 1 || tick - t > 1 || t - tick > 1) exit 1
        if (bpm - want > 0.01 || want - bpm > 0.01) exit 1
        printf "%.4f\n", f / len }' || fail "master $11: BBT or BPM not those of $10 bpm ($line)"
}
b0=$(check_bbt 24000 120 "as written")
"$Q" "$port" /etude/tempo_scale f 0.5 | grep -q '^/etude/ok' || fail "master: /etude/tempo_scale 0.5 refused"
sleep 0.3
b1=$(check_bbt 48000 60 "at scale 0.5")
awk -v a="$b0" -v b="$b1" 'BEGIN { exit !(b > a && b - a < 1.5) }' || fail "master: the position in beats jumped ($b0, $b1)"
# and the clicks sound exactly on the scaled map's beats at their transport frames
"$TC" record tmpm:mix_L 2.5 "$T/recm.wav" "$T/marksm.txt" >/dev/null
"$ETUDE_TEST_BIN/jack_onsets" "$T/recm.wav" --click "4/4 60" --marks "$T/marksm.txt" --skip 4800 \
    >"$T/onsetsm.out" || { cat "$T/onsetsm.out"; fail "master: clicks not on the scaled map's beats"; }
cat "$T/onsetsm.out"
n=$(sed -n 's/^onsets \([0-9]*\),.*/\1/p' "$T/onsetsm.out")
[ "$n" -ge 2 ] || fail "master: only $n clicks recorded at scale 0.5"
b1=$(check_bbt 48000 60 "at scale 0.5, later")
"$Q" "$port" /etude/tempo d 90 | grep -q '^/etude/ok' || fail "master: /etude/tempo 90 refused"
sleep 0.3
b2=$(check_bbt 32000 90 "at 90 bpm")
# the musical position goes on (about 0.3 s and a query's start-up between readings)
awk -v a="$b0" -v b="$b1" -v c="$b2" 'BEGIN { exit !(b > a && c > b && c - b < 1.5) }' \
    || fail "master: the position in beats jumped ($b0, $b1, $b2)"
kill -TERM "$(jack_pid mas)"
wait "$(jack_pid mas)" || fail "etude play (master) exited non-zero"

# --- follow without a timebase master: etude's map is the tempo source
jack_bg fol "$ETUDE_BIN" play --click "4/4 120" --name tmp2 --osc 0 --transport follow --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/fol.err" || fail "etude (follow) did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/fol.err")
"$Q" "$port" /etude/tempo d 90 | grep -q '^/etude/ok' || fail "follow: /etude/tempo 90 refused"
"$Q" "$port" /etude/status | grep -q '"tempo_scale":0.75' || fail "follow: status does not show the scale 0.75"
kill -TERM "$(jack_pid fol)"
wait "$(jack_pid fol)" || fail "etude play (follow) exited non-zero"

# --- follow under another client's timebase: the transport's tempo; refused with the reason
jack_bg ext "$TC" master 100 3 30
sleep 0.3
ETUDE_BUS_LOG="$T/bus3.jsonl" jack_bg fol3 "$ETUDE_BIN" play --click "4/4 120" --name tmp3 --osc 0 \
    --transport follow --no-session
wait_for 10 grep -q "OSC on UDP port" "$T/fol3.err" || fail "etude (follow 3) did not report its OSC port"
port=$(sed -n 's/^etude: OSC on UDP port \([0-9]*\)$/\1/p' "$T/fol3.err")
"$TC" locate 0 && "$TC" start
wait_for 10 grep -q '"external_master":true' "$T/bus3.jsonl" || fail "etude did not see the external master"
"$Q" "$port" /etude/tempo d 90 | grep -q "^/etude/error /etude/tempo /etude/tempo: another JACK client is timebase master (100 bpm)" \
    || fail "/etude/tempo under another timebase master was not refused"
"$TC" stop
kill -TERM "$(jack_pid fol3)"
wait "$(jack_pid fol3)" || fail "etude play (follow 3) exited non-zero"
kill -TERM "$(jack_pid ext)"
echo PASS
