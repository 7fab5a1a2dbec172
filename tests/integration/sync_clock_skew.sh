# Clock skew between devices loses no change: a's entities carry times nine minutes ahead (the
# server refuses more than ten minutes ahead of its own clock, etude_entity.h), b's six hours
# behind; the pull follows the server's sequence, never client clocks, so every change
# (creations, edits, a deletion) reaches the other device.
. "$(dirname "$0")/sync_lib.sh"
start_server
future=$(date -u -d '+9 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
past=$(date -u -d '-6 hours' +%Y-%m-%dT%H:%M:%S.000Z)
for i in 1 2 3; do
    import_entity a goal "$(uuid)" "{\"minutes\":$i,\"title\":\"future goal $i\"}" "$future" "$future"
    import_entity b goal "$(uuid)" "{\"minutes\":$i,\"title\":\"past goal $i\"}" "$past" "$past"
done
pa=$(uuid)
import_entity b goal "$pa" '{"minutes":9,"title":"edited later"}' "$past" "$past"
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
dev a sync now >/dev/null || fail "sync a"
converged a b
[ "$(q a "SELECT count(*) FROM entities")" = 7 ] || fail "expected 7 entities"
# b (clock behind) edits a goal after a (clock ahead) synced: the edit still arrives on a.
import_entity b goal "$pa" '{"minutes":10,"title":"edited later"}' "$past" "$(date -u -d '-5 hours' +%Y-%m-%dT%H:%M:%S.000Z)"
dev b sync now >/dev/null || fail "sync b"
dev a sync now >/dev/null || fail "sync a 2"
[ "$(q a "SELECT json_extract(data,'\$.minutes') FROM entities WHERE id='$pa'")" = 10 ] || fail "b's edit lost on a"
# A deletion from the device that lives in the past still propagates.
dev b log delete "$pa" >/dev/null || fail "delete"
dev b sync now >/dev/null; dev a sync now >/dev/null
[ -n "$(q a "SELECT deleted_at FROM entities WHERE id='$pa'")" ] || fail "deletion lost"
converged a b
integrity a b
echo PASS
