#!/bin/sh
# jack_midi.sh - a test client sends note-ons into etude's midi_in at known transport frames; the
# timing figures etude reports at exit (and on the bus) must be those computed here from the
# offsets: notes, mean, population sd, shares within +-10 ms and +-25 ms.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
jack_start 64
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --click "16 4/4 120" --name mid \
    --transport follow --no-session
wait_for 10 sh -c "jack_lsp | grep -q '^mid:midi_in\$'" || fail "etude's midi_in never appeared"
# 120 bpm at 48 kHz: a beat every 24000 frames; offsets in frames (48 per ms)
offsets="0 240 -480 960 -1200 1440 48 -2400 600"
frames=$(k=2; for o in $offsets; do echo $((k * 24000 + o)); k=$((k + 1)); done | tr '\n' ' ')
jack_bg midi "$TC" midi mid:midi_in $frames
sleep 0.3
"$TC" locate 0 && "$TC" start
wait "$(jack_pid midi)" || { cat "$T/midi.out"; fail "the MIDI sender could not send every note"; }
"$TC" stop
sleep 0.2
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero"
cat "$T/play.out"
want=$(echo $offsets | awk '{ n = NF; for (i = 1; i <= n; i++) { x[i] = $i / 48.0; s += x[i] }
    m = s / n; for (i = 1; i <= n; i++) { v += (x[i] - m) ^ 2; a = x[i] < 0 ? -x[i] : x[i]
    if (a <= 10) w10++; if (a <= 25) w25++ }
    printf "%d %.4f %.4f %.4f %.4f", n, m, sqrt(v / n), w10 / n, w25 / n }')
echo "expected: notes mean_ms sd_ms within_10ms within_25ms = $want"
got=$(sed -n 's/^timing-json: .*"notes":{"notes":\([0-9]*\),"mean_ms":\([-0-9.]*\),"sd_ms":\([0-9.]*\),"within_10ms":\([0-9.]*\),"within_25ms":\([0-9.]*\)}}$/\1 \2 \3 \4 \5/p' "$T/play.out")
echo "reported: $got"
[ -n "$got" ] || fail "no timing-json line in etude's report"
awk -v w="$want" -v g="$got" 'BEGIN { split(w, a); split(g, b)
    if (a[1] != b[1]) exit 1
    for (i = 2; i <= 5; i++) if (a[i] - b[i] > 0.0002 || b[i] - a[i] > 0.0002) exit 1 }' \
    || fail "reported timing differs from the offsets sent"
last=$(grep '"topic":"session","name":"timing"' "$T/bus.jsonl" | tail -n 1)
echo "bus: $last"
echo "$last" | grep -q "\"notes\":$(echo $want | cut -d' ' -f1)," || fail "the bus's last session/timing has other figures"
echo PASS
