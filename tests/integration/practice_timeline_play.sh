#!/bin/sh
# practice_timeline_play.sh - the practice timeline live: `etude play` of a tempo map with
# --count-in 1 --loop verse-chorus --start chorus --loops 2, following the JACK transport (private
# jackd, dummy driver). Recorded with the transport frame of every period, every click must sit
# exactly on a beat of the timeline written out by hand (the count-in in the chorus's 4/4 at 240,
# the chorus, then verse and chorus), none missing, none extra; the bar messages name the passes'
# sections; a label the map lacks is one line naming the flag, exit 2, before anything plays.
# Checked to fail on 5ea0c9c: etude play refused --count-in as an unknown option.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
TC="$ETUDE_TEST_BIN/jack_tclient"
export ETUDE_HOME="$T/home"
printf 'intro: 1 4/4 120\nverse: 1 3/4 180\nchorus: 1 4/4 240\n' >"$T/song.map"
printf '1 4/4 240\n1 4/4 240\n1 3/4 180\n1 4/4 240\n' >"$T/want.map"
jack_start 256

ETUDE_BUS_LOG="$T/bus.jsonl" jack_bg play "$ETUDE_BIN" play "$T/song.map" --name tl --transport follow \
    --count-in 1 --loop verse-chorus --start chorus --loops 2 --no-session
wait_for 10 sh -c "jack_lsp | grep -q '^tl:mix_L\$'" || fail "etude's port never appeared"
jack_bg rec "$TC" record tl:mix_L 4.6 "$T/rec.wav" "$T/marks.txt"
sleep 0.3
"$TC" locate 0 && "$TC" start
wait "$(jack_pid rec)"
"$TC" stop
kill -TERM "$(jack_pid play)"
wait "$(jack_pid play)" || fail "etude play exited non-zero"
"$ETUDE_TEST_BIN/jack_onsets" "$T/rec.wav" --tempo-map "$T/want.map" --marks "$T/marks.txt" \
    >"$T/onsets.out" || { cat "$T/onsets.out"; fail "clicks off the timeline's beats"; }
cat "$T/onsets.out"
n=$(sed -n 's/^onsets \([0-9]*\),.*/\1/p' "$T/onsets.out")
[ "$n" = 15 ] || fail "$n clicks, expected 15 (4 count-in, 4 chorus, 3 verse, 4 chorus)"
# (following the transport, the bar under way when etude sees the transport roll is not
# announced, and that may be the count-in's)
secs=$(sed -n 's/.*"name":"bar".*"section":"\([^"]*\)".*/\1/p' "$T/bus.jsonl" | tr '\n' ' ')
case "$secs" in
"count-in chorus verse chorus " | "chorus verse chorus ") ;;
*) fail "bar sections '$secs', expected 'count-in chorus verse chorus '" ;;
esac

# a label the map does not have
"$ETUDE_BIN" play "$T/song.map" --name tl2 --loop bridge --no-session >"$T/bad.out" 2>"$T/bad.err"; rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/bad.err")" = "etude play: --loop 'bridge': no label 'bridge' in the tempo map (labels: intro verse chorus)" ] \
    || fail "play --loop bridge: exit $rc, '$(cat "$T/bad.err")'"
echo "PASS (15 clicks on the timeline's beats, sections $secs)"
