# An offline deletion does not come back after sync, even when another device edited the entity
# meanwhile (a deletion wins over an edit whatever the strategy), and a stale remote copy never
# revives a local tombstone.
. "$(dirname "$0")/sync_lib.sh"
start_server
id=$(dev a log note "to be deleted") || fail note
keep=$(dev a log note "to be kept") || fail note
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
# b deletes while offline; a edits the same note and syncs first.
dev b log delete "$id" >/dev/null || fail "delete"
dev a log edit "$id" "edited elsewhere" >/dev/null || fail "edit"
dev a sync now >/dev/null || fail "sync a"
for strategy in last-write-wins server-wins; do
    settings b "{\"conflictStrategy\": \"$strategy\"}"
    dev b sync now >/dev/null || fail "sync b"
done
dev a sync now >/dev/null || fail "sync a 2"
for d in a b; do
    [ -n "$(q $d "SELECT deleted_at FROM entities WHERE id='$id'")" ] || fail "$d: the deletion came back"
    dev $d log list | grep -q "edited elsewhere" && fail "$d lists the deleted note"
done
[ -n "$(sq "SELECT deleted_at FROM entities WHERE id='$id'")" ] || fail "server: not deleted"
# Deletion on a synced device, then an edit of the same note on the other: still deleted.
dev a log delete "$keep" >/dev/null
dev a sync now >/dev/null
dev b log edit "$keep" "late edit" >/dev/null || fail "edit b"
dev b sync now >/dev/null || fail "sync b 3"
dev a sync now >/dev/null
for d in a b; do
    [ -n "$(q $d "SELECT deleted_at FROM entities WHERE id='$keep'")" ] || fail "$d: the second deletion came back"
done
converged a b
# Many syncs later, still gone.
for i in 1 2 3; do dev a sync now >/dev/null; dev b sync now >/dev/null; done
[ "$(q b "SELECT count(*) FROM entities WHERE deleted_at IS NULL")" = 0 ] || fail "something came back"
integrity a b
echo PASS
