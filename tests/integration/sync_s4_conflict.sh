# Scenario 4: local and remote changed the same entity: the configured strategy decides and the
# losing version is recorded. Runs last-write-wins, server-wins, client-wins and manual (+ resolve).
. "$(dirname "$0")/sync_lib.sh"
start_server
login a >/dev/null || fail "login a"
login b >/dev/null || fail "login b"

# one_conflict STRATEGY: a note synced to both devices, then edited on a (first) and b (later);
# a syncs first, b meets the conflict. Prints the note id.
one_conflict() {
    settings b "{\"conflictStrategy\": \"$1\"}"
    id=$(dev a log note "base $1") || fail "note"
    dev a sync now >/dev/null || fail "sync a"
    dev b sync now >/dev/null || fail "sync b"
    dev a log edit "$id" "a's edit $1" >/dev/null || fail "edit a"
    sleep 0.01
    dev b log edit "$id" "b's edit $1" >/dev/null || fail "edit b"
    dev a sync now >/dev/null || fail "sync a 2"
    out=$(dev b sync now) || fail "sync b 2: $out"
    echo "$out" | grep -q "1 conflict(s)" || fail "$1: no conflict reported: $out"
}
text_of() { q "$1" "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$2'"; }

# last-write-wins: b's edit is later.
one_conflict last-write-wins
[ "$(text_of b "$id")" = "b's edit last-write-wins" ] || fail "lww: b holds '$(text_of b "$id")'"
[ "$(q b "SELECT resolution || ' ' || json_extract(remote_payload,'\$.data.text') FROM conflicts WHERE entity_id='$id'")" = "local a's edit last-write-wins" ] ||
    fail "lww: losing version not recorded: $(q b "SELECT * FROM conflicts WHERE entity_id='$id'")"
dev a sync now >/dev/null
converged a b
[ "$(text_of a "$id")" = "b's edit last-write-wins" ] || fail "lww: a holds '$(text_of a "$id")'"

# server-wins: a's edit (on the server) stays; b's edit is recorded as the loser.
one_conflict server-wins
[ "$(text_of b "$id")" = "a's edit server-wins" ] || fail "server-wins: b holds '$(text_of b "$id")'"
[ "$(q b "SELECT resolution || ' ' || json_extract(local_payload,'\$.data.text') FROM conflicts WHERE entity_id='$id'")" = "remote b's edit server-wins" ] ||
    fail "server-wins: losing version not recorded"
dev a sync now >/dev/null
converged a b

# client-wins: b's edit replaces a's.
one_conflict client-wins
[ "$(text_of b "$id")" = "b's edit client-wins" ] || fail "client-wins: b holds '$(text_of b "$id")'"
dev a sync now >/dev/null
[ "$(text_of a "$id")" = "b's edit client-wins" ] || fail "client-wins: a holds '$(text_of a "$id")'"
converged a b

# manual: kept open, listed, settled by `etude sync resolve`.
one_conflict manual
dev b sync conflicts | grep -q "$id" || fail "manual: not listed by sync conflicts"
dev b sync status --json | grep -q '"conflicts":1' || fail "manual: status does not count it"
[ "$(q b "SELECT sync_status FROM entities WHERE id='$id'")" = conflict ] || fail "manual: not marked conflict"
dev b sync resolve "$id" --keep nonsense 2>"$T/err" && fail "resolve accepted --keep nonsense"
grep -q -- "--keep" "$T/err" || fail "resolve error does not name --keep"
cid=$(q b "SELECT id FROM conflicts WHERE resolved_at IS NULL")
dev b sync resolve "$cid" --keep local || fail "resolve"
dev b sync now >/dev/null || fail "sync after resolve"
dev a sync now >/dev/null || fail "sync a after resolve"
[ "$(text_of a "$id")" = "b's edit manual" ] || fail "manual/local: a holds '$(text_of a "$id")'"
converged a b
[ "$(q b "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL")" = 0 ] || fail "conflict left open"

# manual, keep remote; a edits again while the conflict is open: resolving takes the newest.
one_conflict manual
dev a log edit "$id" "a's second edit" >/dev/null || fail "edit a"
dev a sync now >/dev/null || fail "sync a"
dev b sync now >/dev/null || fail "sync b (conflict open)"
dev b sync resolve "${id%%-*}" --keep remote || fail "resolve remote"
dev b sync now >/dev/null || fail "sync"
[ "$(text_of b "$id")" = "a's second edit" ] || fail "manual/remote: b holds '$(text_of b "$id")'"
converged a b
integrity a b
echo PASS
