# A restored server is detected and reconciled in both directions: the server database is put back
# to an earlier backup while it is stopped (as an operator restoring one would); the devices'
# cursors are then ahead of the server's sequence, etude-syncd answers INVALID_CURSOR, and each
# device pulls everything again and re-uploads what the server lost (a note created after the
# backup, an edit made after it), so both devices and the server converge with nothing lost.
# Fails on fd82c7f: the cursor is reset and pulled again, but nothing is re-uploaded: the note and
# the edit made after the backup stay missing on the server and on the other device while both
# devices believe they are in sync.
. "$(dirname "$0")/sync_lib.sh"
start_server
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"
server_has_clock a
for i in 1 2 3; do dev a log note "before $i" >/dev/null; done
dev a sync now >/dev/null || fail "sync a"
dev b sync now >/dev/null || fail "sync b"
n1=$(q a "SELECT id FROM entities WHERE json_extract(data,'\$.text')='before 1'")
# The backup.
stop_server
backup() { rm -f "$2" "$2-wal"; cp "$1" "$2"; [ -f "$1-wal" ] && cp "$1-wal" "$2-wal"; rm -f "$2-shm"; true; }
backup "$SERVER_DB" "$T/backup.db"
LISTEN=$SERVER_ADDR start_server
# Work after the backup: a new note and an edit on a, pulled by b.
dev a log note "after backup" >/dev/null
dev a log edit "$n1" "before 1, edited after backup" >/dev/null
dev a sync now >/dev/null || fail "sync a after backup"
dev b sync now >/dev/null || fail "sync b after backup"
[ "$(q b "SELECT count(*) FROM entities WHERE json_extract(data,'\$.text')='after backup'")" = 1 ] || fail "b did not pull"
# The restore.
stop_server
backup "$T/backup.db" "$SERVER_DB"
LISTEN=$SERVER_ADDR start_server
[ "$(sq "SELECT count(*) FROM entities WHERE json_extract(data,'\$.text')='after backup'")" = 0 ] || fail "restore"
# b writes after the restore too.
dev b log note "after restore" >/dev/null
out=$(dev a sync now) || fail "sync a after restore: $out"
echo "a: $out"
out=$(dev b sync now) || fail "sync b after restore: $out"
echo "b: $out"
dev a sync now >/dev/null || fail "sync a again"
[ "$(sq "SELECT count(*) FROM entities WHERE json_extract(data,'\$.text')='after backup'")" = 1 ] ||
    fail "the note created after the backup was not re-uploaded"
[ "$(sq "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$n1'")" = "before 1, edited after backup" ] ||
    fail "the edit made after the backup was not re-uploaded"
[ "$(q a "SELECT count(*) FROM entities WHERE json_extract(data,'\$.text')='after restore'")" = 1 ] ||
    fail "b's change after the restore did not reach a"
converged a b
[ "$(sq "SELECT count(*) FROM entities")" = 5 ] || fail "server holds $(sq "SELECT count(*) FROM entities") entities"
integrity a b
echo PASS
