#!/bin/sh
# crash_kill.sh - kill -9 `etude render` at random moments, many times, against one store:
# every completed session is stored exactly once and not marked interrupted, every session whose
# journal a killed run left behind is recovered (at the next start) exactly once, nothing else
# appears, no journal is left at the end, and the database passes PRAGMA integrity_check.
#
# `etude render` of a short click is faster than a kill can aim, so the runs use the recorder's
# test hook ETUDE_SESSION_TEST_PACE_US (a sleep per bar; see cli/cli_session.h), which paces the
# render to about 0.1 s of wall time for 32 bars while every write path stays the real one.
# Each run plays unique material ("32 4/4 T" with T = 150 + run), so each session maps to its run.
#   usage: crash_kill.sh ETUDE_BIN      ETUDE_CRASH_RUNS (default 50), ETUDE_CRASH_SEED
set -eu
E=$1
RUNS=${ETUDE_CRASH_RUNS:-50}
SEED=${ETUDE_CRASH_SEED:-$(date +%s)}
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-crash.XXXXXX")
PID=""
cleanup() {
    rc=$?
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
    [ "$rc" = 0 ] || echo "crash_kill: failed with seed $SEED (ETUDE_CRASH_SEED=$SEED reproduces the delays)" >&2
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset XDG_DATA_HOME
export ETUDE_HOME="$T/home"
export ETUDE_SESSION_TEST_PACE_US=${ETUDE_SESSION_TEST_PACE_US:-3000}
fail() { echo "FAIL: $*" >&2; exit 1; }
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
mkdir -p "$ETUDE_HOME/journal"

# delays in ms, uniform in [0, 200)
awk -v seed="$SEED" -v n="$RUNS" 'BEGIN { srand(seed); for (i = 1; i <= n; i++) printf "%d\n", rand() * 200 }' >"$T/delays"
i=0
completed=0
killed=0
while read -r ms; do
    i=$((i + 1))
    "$E" render --click "32 4/4 $((150 + i))" -o "$T/out.wav" --rate 8000 >"$T/run.out" 2>"$T/run.err" &
    PID=$!
    sleep "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -9 "$PID" 2>/dev/null || true
    rc=0
    wait "$PID" 2>/dev/null || rc=$?
    PID=""
    if [ "$rc" = 0 ]; then
        echo "$i" >>"$T/completed"
        completed=$((completed + 1))
    elif [ "$rc" = 137 ]; then
        killed=$((killed + 1))
        echo "$i" >>"$T/killed"
        # the journals left now: this run's session (or an older one it had not yet recovered)
        for j in "$ETUDE_HOME"/journal/*.json; do
            [ -e "$j" ] || continue
            sqlite3 -batch :memory: "select json_extract(readfile('$j'), '\$.record.data.material')" >>"$T/journaled"
        done
    else
        cat "$T/run.err" >&2
        fail "run $i exited $rc"
    fi
done <"$T/delays"
# one last complete run recovers whatever the last kills left
"$E" render --click "4 4/4 100" -o "$T/out.wav" --rate 8000 2>"$T/run.err" || { cat "$T/run.err" >&2; fail "final run"; }
[ -z "$(ls "$ETUDE_HOME/journal")" ] || fail "journals left after recovery: $(ls "$ETUDE_HOME/journal")"
[ "$(db "pragma integrity_check")" = ok ] || fail "integrity_check: $(db "pragma integrity_check")"

touch "$T/completed" "$T/killed" "$T/journaled"
recovered=0
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    m="32 4/4 $((150 + i))"
    n=$(db "select count(*) from entities where entity_type='practiceSession' and json_extract(data,'\$.material')='$m'")
    intr=$(db "select count(*) from entities where entity_type='practiceSession' and json_extract(data,'\$.material')='$m' and json_extract(data,'\$.interrupted')")
    logs=$(db "select count(*) from entities l join entities s on json_extract(l.data,'\$.sessionId') = s.id where l.entity_type='practiceLog' and json_extract(s.data,'\$.material')='$m'")
    if grep -qx "$i" "$T/completed"; then
        [ "$n" = 1 ] || fail "run $i completed but is stored $n times"
        [ "$intr" = 0 ] || fail "run $i completed but is marked interrupted"
        [ "$logs" = 1 ] || fail "run $i: $logs practiceLog rows, want 1"
    elif grep -qx "$m" "$T/journaled"; then
        [ "$n" = 1 ] || fail "run $i was killed mid-session and is stored $n times (want 1, recovered)"
        [ "$intr" = 1 ] && recovered=$((recovered + 1))
        [ "$logs" -le 1 ] || fail "run $i: $logs practiceLog rows"
    else
        # killed before the session started (nothing), or after it was stored and its journal removed
        [ "$n" -le 1 ] || fail "run $i stored $n times"
        [ "$intr" = 0 ] || fail "run $i: an interrupted session without a journal"
    fi
done
others=$(db "select count(*) from entities where entity_type='practiceSession' and json_extract(data,'\$.material') not like '32 4/4 %' and json_extract(data,'\$.material') != '4 4/4 100'")
[ "$others" = 0 ] || fail "$others sessions of unknown material"
# the outbox has exactly one row per stored change and every entity is queued
[ "$(db "select count(*) from entities where id not in (select entity_id from outbox)")" = 0 ] || fail "an entity without an outbox row"
echo "crash_kill: $RUNS runs (seed $SEED): $completed completed, $killed killed, $recovered recovered as interrupted; integrity ok"
[ "$recovered" -gt 0 ] || echo "crash_kill: warning: no kill landed mid-session this time" >&2
