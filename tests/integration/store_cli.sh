#!/bin/sh
# store_cli.sh - the logbook, goals, export and import commands on a real store: field values,
# edits and tombstones, goal progress from real rendered sessions, export -> import into an empty
# store round-tripping every entity exactly, a second import creating nothing, a bad line in the
# middle importing nothing, a newer-version store refused, flag errors.
#   usage: store_cli.sh ETUDE_BIN
set -eu
E=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-store-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset XDG_DATA_HOME
export ETUDE_HOME="$T/one"
fail() { echo "FAIL: $*" >&2; exit 1; }
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

"$E" log list | grep -q "no sessions or notes yet" || fail "empty log list"
"$E" render --click "8 4/4 120" -o "$T/a.wav" || fail "render"
"$E" render --click "4 4/4 90" -o "$T/b.wav" || fail "render"
S=$(db "select id from entities where entity_type='practiceSession' and json_extract(data,'\$.material')='8 4/4 120'")
secs=$(db "select sum(json_extract(data,'\$.activeSeconds')) from entities where entity_type='practiceSession'")

# notes
N1=$("$E" log note "long tones, slow")
N2=$("$E" log note "ramp felt rushed" --session "$(echo "$S" | cut -c1-8)")
eq "$(db "select json_extract(data,'\$.text') || '|' || ifnull(json_extract(data,'\$.sessionId'),'-') from entities where id='$N1'")" "long tones, slow|-" "note 1"
eq "$(db "select json_extract(data,'\$.sessionId') from entities where id='$N2'")" "$S" "note 2 session"
"$E" log show "$S" | grep -q "ramp felt rushed" || fail "log show of the session lacks its note"
before=$(db "select updated_at from entities where id='$N1'")
"$E" log edit "$N1" "long tones, slower" || fail "log edit"
eq "$(db "select json_extract(data,'\$.text') from entities where id='$N1'")" "long tones, slower" "edited text"
[ "$(db "select updated_at from entities where id='$N1'")" \> "$before" ] || fail "edit did not bump updatedAt"
eq "$(db "select count(*) from outbox where entity_id='$N1'")" 2 "outbox rows for create + edit"
"$E" log delete "$N1" || fail "log delete"
[ -n "$(db "select deleted_at from entities where id='$N1'")" ] || fail "no tombstone"
"$E" log list | grep -q "long tones" && fail "deleted note still listed"
"$E" log list --all | grep -q "long tones, slower  \[deleted\]" || fail "log list --all lacks the tombstone"
if "$E" log edit "$N1" "again" 2>"$T/err"; then fail "edited a tombstone"; fi
grep -q "was deleted" "$T/err" || fail "tombstone edit message: $(cat "$T/err")"
"$E" log list --json >"$T/list.json"
eq "$(sqlite3 :memory: "select json_array_length(readfile('$T/list.json'))")" 3 "log list --json entries (2 sessions + 1 note)"
if "$E" log show zzzz 2>"$T/err"; then fail "log show of a bad id"; fi
grep -q "not an entity id" "$T/err" || fail "bad id message: $(cat "$T/err")"
if "$E" log frobnicate 2>"$T/err"; then fail "unknown subcommand"; fi
grep -q "unknown subcommand 'frobnicate'" "$T/err" || fail "unknown subcommand message"

# goals: the two sessions are renders, and renders are not practice (render_not_practice.sh shows a
# live session counting), so no goal has progress from them
G1=$("$E" goal add minutes 1 --per day)
G2=$("$E" goal add tempo 120 --material "8 4/4 120")
G3=$("$E" goal add tempo 200 --material "8 4/4 120")
"$E" goal progress --json >"$T/p.json"
want=0.00
got=$(sqlite3 :memory: "select json_extract(value,'\$.value') from json_each(readfile('$T/p.json')) where json_extract(value,'\$.id')='$G1'" | awk '{ printf "%.2f", $1 }')
eq "$got" "$want" "minutes today"
eq "$(sqlite3 :memory: "select json_extract(value,'\$.value') || ',' || json_extract(value,'\$.reached') from json_each(readfile('$T/p.json')) where json_extract(value,'\$.id')='$G2'")" "0,0" "tempo goal not reached by renders"
eq "$(sqlite3 :memory: "select json_extract(value,'\$.ratio') || ',' || json_extract(value,'\$.reached') from json_each(readfile('$T/p.json')) where json_extract(value,'\$.id')='$G3'")" "0,0" "tempo goal not reached"
"$E" goal list | grep -q "120 bpm with 8 4/4 120" || fail "goal list"
"$E" goal delete "$G3" || fail "goal delete"
"$E" goal list --json >"$T/goals.json"
eq "$(sqlite3 :memory: "select json_array_length(readfile('$T/goals.json'))")" 2 "goals after delete"
if "$E" goal add minutes x --per day 2>"$T/err"; then fail "bad number accepted"; fi
grep -q "'x' is not a positive number" "$T/err" || fail "goal number message"
if "$E" goal add minutes 5 --per month 2>"$T/err"; then fail "bad period accepted"; fi
grep -q "\-\-per month: expected day or week" "$T/err" || fail "goal period message"
if "$E" goal delete "$S" 2>"$T/err"; then fail "deleted a session as a goal"; fi

# export -> import into an empty store: identical
"$E" export >"$T/one.ndjson"
"$E" export --format csv | head -1 | grep -q "^id,localId,remoteId,entityType,createdAt,updatedAt,deletedAt,syncStatus,syncVersion,checksum,data" || fail "csv header"
"$E" export -o "$T/one-o.ndjson"
cmp -s "$T/one.ndjson" "$T/one-o.ndjson" || fail "export -o differs from stdout"
total=$(db "select count(*) from entities")
export ETUDE_HOME="$T/two"
"$E" import "$T/one.ndjson" >"$T/imp1" || fail "import"
grep -q "$total created, 0 updated, 0 unchanged" "$T/imp1" || fail "first import: $(cat "$T/imp1")"
"$E" export >"$T/two.ndjson"
cmp "$T/one.ndjson" "$T/two.ndjson" || fail "round trip differs"
"$E" import "$T/one.ndjson" >"$T/imp2" || fail "second import"
grep -q "0 created, 0 updated, $total unchanged" "$T/imp2" || fail "second import: $(cat "$T/imp2")"
"$E" export >"$T/two-again.ndjson"
cmp "$T/one.ndjson" "$T/two-again.ndjson" || fail "second import changed the store"

# one bad line in the middle: nothing imported
export ETUDE_HOME="$T/three"
awk 'NR == 4 { print "{\"entityType\":\"goal\",\"id\":\"oops\"}" } { print }' "$T/one.ndjson" >"$T/bad.ndjson"
if "$E" import "$T/bad.ndjson" 2>"$T/err"; then fail "bad import accepted"; fi
grep -q "$T/bad.ndjson:4: field 'id': must be a lowercase UUID (8-4-4-4-12 hex digits) (nothing was imported)" "$T/err" || fail "bad import message: $(cat "$T/err")"
eq "$(db "select count(*) from entities")" 0 "entities after the failed import"
eq "$(db "select count(*) from outbox")" 0 "outbox after the failed import"
if "$E" import "$T/missing.ndjson" 2>"$T/err"; then fail "missing file accepted"; fi
grep -q "missing.ndjson: No such file" "$T/err" || fail "missing file message"

# a store from a newer etude is refused, untouched
sqlite3 "$ETUDE_HOME/etude.db" "pragma user_version = 42"
if "$E" log list 2>"$T/err"; then fail "newer store opened"; fi
grep -q "etude.db: store schema version 42 was written by a newer etude" "$T/err" || fail "newer store message: $(cat "$T/err")"
eq "$(db "pragma user_version")" 42 "user_version untouched"
echo "store_cli: ok"
