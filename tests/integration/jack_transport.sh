#!/bin/sh
# jack_transport.sh - etude play follows the JACK transport (start, locate while rolling, stop,
# locate while stopped, start again): every click it plays falls exactly on a beat of the map at
# the transport frame, none is missing (not even the one on the start frame), nothing plays while
# stopped, and the bus carries start/locate/stop. Then
# with --transport master another client reads etude's bar, beat and BPM at known frames.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
MAP="2 4/4 120
2 3/4 90
8 4/4 150"
printf '%s\n' "$MAP" >"$T/map.txt"
jack_start 64

# --- follow
ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play --tempo-map "$T/map.txt" --name fol \
    --transport follow --no-session
wait_for 10 sh -c "jack_lsp | grep -q '^fol:mix_L\$'" || fail "etude's port never appeared"
jack_bg rec "$TC" record fol:mix_L 9 "$T/rec.wav" "$T/marks.txt"
sleep 0.3
# Each rolling stretch lasts 76800 transport frames (1.6 s), counted on the transport, not on the
# wall clock: a start or relocation that etude holds longer on a loaded machine (slow sync) then
# costs no beats. (With sleeps, a loaded ASan run once recorded 6 clicks instead of 8 or more.)
"$TC" locate 0 && "$TC" start
"$TC" wait-frame 76800 6 || fail "follow: the transport did not roll to frame 76800"
"$TC" locate 200000          # while rolling: into the 3/4 section
"$TC" wait-frame 276800 6 || fail "follow: the transport did not roll to frame 276800"
"$TC" stop
sleep 0.8
"$TC" locate 400000          # while stopped: into the 150 bpm section
sleep 0.3
"$TC" start
"$TC" wait-frame 476800 6 || fail "follow: the transport did not roll to frame 476800"
"$TC" stop
wait "$(jack_pid rec)"
cat "$T/rec.out"
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play (follow) exited non-zero"
# etude holds each start and relocation (JACK slow sync) until its sequencer is placed, so every
# beat from the first frame of each rolling stretch on must be there, exactly on its frame
"$ETUDE_TEST_BIN/jack_onsets" "$T/rec.wav" --tempo-map "$T/map.txt" --marks "$T/marks.txt" \
    >"$T/onsets.out" || { cat "$T/onsets.out"; fail "follow: clicks off the transport's beats"; }
cat "$T/onsets.out"
n=$(sed -n 's/^onsets \([0-9]*\),.*/\1/p' "$T/onsets.out")
[ "$n" -ge 8 ] || fail "follow: only $n clicks recorded"
sed -n 's/^{"topic":"transport","name":"\([a-z]*\)".*/\1/p' "$T/bus.jsonl" | grep -v '^bar$' \
    | tr '\n' ' ' >"$T/seq.txt"
echo "transport messages: $(cat "$T/seq.txt")"
grep -q '^start locate stop locate start stop' "$T/seq.txt" \
    || fail "follow: transport messages were '$(cat "$T/seq.txt")'"
grep -q '"name":"locate","payload":{"pos":4000[0-9][0-9]}' "$T/bus.jsonl" || fail "follow: no locate to 400000"
grep -q '"name":"bar"' "$T/bus.jsonl" || fail "follow: no bar messages"

# --- master
jack_bg master "$ETUDE_BIN" play --tempo-map "$T/map.txt" --name mas --transport master --no-session
wait_for 10 "$TC" wait-rolling 0.1 || fail "master: etude did not start the transport"
ok=0
for target in 30000 100000 200000 300000; do
    "$TC" stop
    "$TC" locate $target
    sleep 0.2
    line=$("$TC" query)
    echo "query at $target: $line"
    set -- $line
    [ "$2" = "$target" ] || fail "master: transport at $2, expected $target"
    [ "$3" = 1 ] || fail "master: no BBT published at $target"
    # expected: 2 bars 4/4 @120 (24000-frame beats) then 2 bars 3/4 @90 (32000-frame beats)
    exp=$(awk -v f="$target" 'BEGIN {
        if (f < 192000) { b = int(f / 24000); printf "%d %d %d 120.0 4.0", int(b / 4) + 1, b % 4 + 1, int((f - b * 24000) * 1920 / 24000) }
        else { g = f - 192000; b = int(g / 32000); printf "%d %d %d 90.0 3.0", int(b / 3) + 3, b % 3 + 1, int((g - b * 32000) * 1920 / 32000) } }')
    set -- $exp
    want_bar=$1 want_beat=$2 want_tick=$3 want_bpm=$4 want_bpb=$5
    set -- $line
    [ "$4 $5" = "$want_bar $want_beat" ] || fail "master: at $target bar/beat $4/$5, expected $want_bar/$want_beat"
    d=$(( $6 - want_tick )); [ ${d#-} -le 1 ] || fail "master: at $target tick $6, expected $want_tick"
    awk -v a="$7" -v b="$want_bpm" 'BEGIN { exit (a - b > 0.01 || b - a > 0.01) }' \
        || fail "master: at $target bpm $7, expected $want_bpm"
    [ "$8" = "$want_bpb" ] || fail "master: at $target $8 beats per bar, expected $want_bpb"
    ok=$((ok + 1))
done
kill -TERM "$(jack_pid master)"
wait "$(jack_pid master)" || fail "etude play (master) exited non-zero"

# --- follow under another timebase master (100 bpm 3/4): clicks on its beats, not on the map's
jack_bg ext "$TC" master 100 3 30
sleep 0.3
ETUDE_BUS_LOG="$T/bus2.jsonl" jack_bg play2 "$ETUDE_BIN" play --tempo-map "$T/map.txt" --name fol2 \
    --transport follow --no-session
wait_for 10 sh -c "jack_lsp | grep -q '^fol2:mix_L\$'" || fail "etude's port never appeared"
jack_bg rec2 "$TC" record fol2:mix_L 6 "$T/rec2.wav" "$T/marks2.txt"
sleep 0.3
"$TC" locate 0 && "$TC" start
# five of the master's beats (28800 frames apart) rolled, however long the start was held
"$TC" wait-frame 124800 5 || fail "external master: the transport did not roll to frame 124800"
wait "$(jack_pid rec2)"
"$TC" stop
kill -TERM "$(jack_pid play2)"
wait "$(jack_pid play2)" || fail "etude play (follow, external master) exited non-zero"
# the master's beats are 28800 frames apart; its BBT ticks are 15 frames, so allow 16
"$ETUDE_TEST_BIN/jack_onsets" "$T/rec2.wav" --click "3/4 100" --marks "$T/marks2.txt" --skip 9600 \
    --tolerance 16 >"$T/onsets2.out" || { cat "$T/onsets2.out"; fail "clicks not on the master's beats"; }
cat "$T/onsets2.out"
n=$(sed -n 's/^onsets \([0-9]*\),.*/\1/p' "$T/onsets2.out")
[ "$n" -ge 4 ] || fail "external master: only $n clicks recorded"
grep -q '"name":"timebase","payload":{"external_master":true,"bpm":100}' "$T/bus2.jsonl" \
    || fail "no timebase message for the external master"
kill -TERM "$(jack_pid ext)"
echo "PASS ($ok BBT checks, external master followed)"
