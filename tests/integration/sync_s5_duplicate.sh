# Scenario 5: the same practice session on both sides: detected as a duplicate, one kept,
# references (a note's sessionId) repointed.
. "$(dirname "$0")/sync_lib.sh"
start_server
# One performance recorded by both devices: same material and preset, same start and duration
# (the duplicate rule of common/etude_entity.h).
data='{"endedAt":"2026-11-24T09:25:00.000Z","material":"etude no. 3","preset":"presets/metronome-accented.json","startedAt":"2026-11-24T09:00:00.000Z"}'
sa=$(uuid); sb=$(uuid)
import_entity a practiceSession "$sa" "$data" 2026-11-24T09:00:00.000Z 2026-11-24T09:25:00.000Z
import_entity b practiceSession "$sb" "$data" 2026-11-24T08:59:00.000Z 2026-11-24T09:25:00.000Z
na=$(dev a log note "note on a" --session "$sa") || fail "note a"
nb=$(dev b log note "note on b" --session "$sb") || fail "note b"
login a >/dev/null || fail "login a"
out=$(login b) || fail "login b: $out"
echo "$out"
echo "$out" | grep -q "1 duplicate(s)" || fail "duplicate not reported: $out"
dev a sync now >/dev/null || fail "sync a"
dev b sync now >/dev/null || fail "sync b"
converged a b
for d in a b; do
    [ "$(q $d "SELECT count(*) FROM entities WHERE entity_type='practiceSession' AND deleted_at IS NULL")" = 1 ] ||
        fail "$d: expected one live session"
    [ "$(q $d "SELECT id FROM entities WHERE entity_type='practiceSession' AND deleted_at IS NULL")" = "$sa" ] ||
        fail "$d: kept the wrong session"
    [ "$(q $d "SELECT json_extract(data,'\$.sessionId') FROM entities WHERE id='$nb'")" = "$sa" ] ||
        fail "$d: b's note not repointed to the kept session"
    [ "$(q $d "SELECT json_extract(data,'\$.sessionId') FROM entities WHERE id='$na'")" = "$sa" ] ||
        fail "$d: a's note lost its session"
done
[ "$(q b "SELECT count(*) FROM entities WHERE id='$sb'")" = 0 ] || fail "b still holds its duplicate"
# Metadata merged: the kept session has the earlier creation time.
[ "$(q b "SELECT created_at FROM entities WHERE id='$sa'")" = 2026-11-24T08:59:00.000Z ] ||
    fail "creation time not merged: $(q b "SELECT created_at FROM entities WHERE id='$sa'")"
[ "$(sq "SELECT count(*) FROM entities WHERE entity_type='practiceSession' AND deleted_at IS NULL")" = 1 ] ||
    fail "server holds two sessions"
dev b log show "$sa" | grep -q "note on b" || fail "b: the kept session does not list b's note"
integrity a b
echo PASS
