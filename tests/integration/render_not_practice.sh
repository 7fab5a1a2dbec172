#!/bin/sh
# render_not_practice.sh - renders are not practice, checked through goal progress: a live `etude
# play` of 8 s counts towards "0.1 minutes per day" (6 s) and a tempo goal; 8 s of `etude render`
# of the same material counts towards neither, and `log list` shows each as played or rendered. A
# render interrupted before it wrote its file records no session and leaves no journal.
# Checked to fail on bb43ecf (cmd_goal.c and cmd_render.c before the fix): the render counted
# "1.0 min 100% reached", and the interrupted render was recorded as a 6-second session.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
E=$ETUDE_BIN
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
sessions() { db "select count(*) from entities where entity_type='practiceSession'"; }

"$E" goal add minutes 0.1 --per day >/dev/null || fail "goal add minutes"
"$E" goal add tempo 200 --material "7 4/4 210" >/dev/null || fail "goal add tempo"

# 8 s of render: no progress
"$E" render --click "7 4/4 210" -o "$T/r.wav" --rate 8000 >/dev/null 2>"$T/r.err" || fail "render: $(cat "$T/r.err")"
[ "$(sessions)" = 1 ] || fail "the render was not recorded"
"$E" goal progress >"$T/g1.out" || fail "goal progress"
cat "$T/g1.out"
grep -q '0\.1 minutes per day .* 0\.0 min  *0%' "$T/g1.out" || fail "a render counted towards the minutes goal"
grep -q '200 bpm with 7 4/4 210  *0\.0 bpm  *0%' "$T/g1.out" || fail "a render counted towards the tempo goal: $(grep bpm "$T/g1.out")"
"$E" log list | grep -q ' rendered  *0m08s  *210 bpm  *7 4/4 210$' || fail "log list: $("$E" log list)"

# a render interrupted before it wrote anything: no session, no journal
ETUDE_SESSION_TEST_PACE_US=200000 "$E" render --click "55 4/4 210" -o "$T/x.wav" --rate 8000 >/dev/null 2>"$T/x.err" &
rp=$!
wait_for 10 sh -c 'ls "$0"/*.json' "$ETUDE_HOME/journal" || fail "the interrupted render never started its session"
kill -INT $rp
wait $rp
rc=$?
[ $rc = 130 ] || fail "interrupted render: exit $rc, expected 130"
[ -e "$T/x.wav" ] && fail "interrupted render wrote its file"
[ "$(sessions)" = 1 ] || fail "the interrupted render was recorded ($(sessions) sessions)"
ls "$ETUDE_HOME/journal/"*.json >/dev/null 2>&1 && fail "the interrupted render left a journal: $(ls "$ETUDE_HOME/journal")"

# 8 s of live play count: the minutes goal is met, the tempo goal reached
jack_start 256
"$E" play --click "7 4/4 210" --name rnp >"$T/p.out" 2>"$T/p.err" || fail "play exited non-zero"
[ "$(sessions)" = 2 ] || fail "the play was not recorded"
"$E" goal progress >"$T/g2.out" || fail "goal progress"
cat "$T/g2.out"
grep -q '0\.1 minutes per day .* 100%' "$T/g2.out" || fail "the live session did not count: $(grep minutes "$T/g2.out")"
grep -q '200 bpm with 7 4/4 210 .*210' "$T/g2.out" || fail "the live session's tempo did not count: $(grep bpm "$T/g2.out")"
"$E" log list | grep -q ' played  *0m0[89]s  *210 bpm  *7 4/4 210$' || fail "log list: no played session"
echo "render_not_practice: ok"
