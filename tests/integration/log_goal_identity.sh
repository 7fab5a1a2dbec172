#!/bin/sh
# log_goal_identity.sh - goals count material by what it is (resolved path plus content hash), not
# by the string typed, checked through `etude goal progress` over real live sessions (a private
# jackd, one-bar tempo maps, about 1.5 s each). a/tune.map played as ./a/../a/tune.map and through
# a symlink counts towards goals set on "a/tune.map" and on its absolute path; b/tune.map (same
# name, other directory) and a/tune.map after its content was replaced do not. The recorder's
# materialHash is BLAKE2b-256 of the file (checked against coreutils' b2sum). Entities written
# before the identity existed still count: an old session by its resolved path, an old goal by
# its typed string.
# Checked to fail on 5ea0c9c (goals matched the typed string): the tempo goal on a/tune.map showed
# 280 bpm (only the replaced file, typed the same way), the absolute-path minutes goal 0, and
# --material ./b/tune.map 0 bpm.
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
E=$ETUDE_BIN
cd "$T" || fail "cd $T"
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# goal progress --json: "value" of goal $1
value() { sqlite3 :memory: "select json_extract(value,'\$.value') from json_each(readfile('$T/p.json')) where json_extract(value,'\$.id')='$1'"; }

mkdir a b
echo "1 4/4 200" >a/tune.map
echo "1 4/4 300" >b/tune.map
ln -s a/tune.map link.map
hash_a=$(b2sum -l 256 a/tune.map | cut -d' ' -f1)

G1=$("$E" goal add tempo 1000 --preset a/tune.map) || fail "goal add --preset a/tune.map"
G2=$("$E" goal add minutes 30 --per day --preset "$T/a/tune.map") || fail "goal add --preset (absolute)"
G3=$("$E" goal add tempo 1000 --material ./b/tune.map) || fail "goal add --material ./b/tune.map"
eq "$(db "select json_extract(data,'\$.materialPath') || ' ' || json_extract(data,'\$.materialHash') from entities where id='$G1'")" \
   "$(cd a && pwd -P)/tune.map $hash_a" "goal identity"
"$E" log show "$G1" >"$T/g1.txt" || fail "log show of a goal"
grep -qx "file: *$(cd a && pwd -P)/tune.map (BLAKE2b-256 $(echo "$hash_a" | cut -c1-16)...)" "$T/g1.txt" ||
    fail "log show of the goal: $(cat "$T/g1.txt")"
if "$E" goal add tempo 90 --preset c/tune.map 2>"$T/err"; then fail "a goal on a missing preset file was accepted"; fi
eq "$(cat "$T/err")" "etude goal add: --preset c/tune.map: no such file or preset" "missing preset message"

jack_start 256
play() { "$E" play "$@" --name gid >>"$T/play.out" 2>&1 || fail "etude play $*"; }
play ./a/../a/tune.map                    # 200 bpm: counts for G1, G2
play link.map --tempo-scale 1.2           # 240 bpm: counts for G1, G2
play b/tune.map                           # 300 bpm: G3 only
echo "1 4/4 200 X.x." >a/tune.map         # same path, other content
play a/tune.map --tempo-scale 1.4         # 280 bpm: counts for nothing
eq "$(db "select count(*) from entities where entity_type='practiceSession' and json_extract(data,'\$.command')='play'")" 4 "played sessions"
eq "$(db "select count(distinct json_extract(data,'\$.materialHash')) from entities where entity_type='practiceSession'")" 3 "distinct material hashes"
eq "$(db "select json_extract(data,'\$.materialHash') from entities where entity_type='practiceSession' and json_extract(data,'\$.preset')='link.map'")" \
   "$hash_a" "the recorder's hash of a/tune.map through the symlink"

"$E" goal progress >"$T/p.txt" || fail "goal progress"
cat "$T/p.txt"
grep -q "^${G1%"${G1#????????}"}  1000 bpm with a/tune.map  *240.0 bpm  *24%\$" "$T/p.txt" || fail "tempo goal on a/tune.map: $(grep a/tune "$T/p.txt")"
"$E" goal progress --json >"$T/p.json" || fail "goal progress --json"
want=$(db "select round(sum(json_extract(data,'\$.activeSeconds')) / 60.0, 2) from entities where entity_type='practiceSession' and json_extract(data,'\$.tempoMaxBpm') in (200, 240)")
[ "$want" != "0.0" ] && [ -n "$want" ] || fail "no active seconds recorded"
awk -v a="$(value "$G2")" -v b="$want" 'BEGIN { exit !(a - b < 0.0051 && b - a < 0.0051) }' ||
    fail "minutes goal on the absolute path: $(value "$G2") min, want $want"
eq "$(value "$G3")" 300 "tempo goal on ./b/tune.map"

# Entities from before the identity (imported as an older etude exported them): an old session
# whose preset is the resolved path counts for G1; an old goal matches by its typed string.
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
real_a=$(cd a && pwd -P)/tune.map
sdata='{"activeSeconds":60,"command":"play","endedAt":"'$now'","material":"'$real_a'","preset":"'$real_a'","startedAt":"'$now'","tempoMaxBpm":260,"tempoMinBpm":260}'
gdata='{"kind":"tempo","preset":"link.map","target":1000}'
sum() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
{
    echo '{"etudeExport":1,"schemaVersion":2}'
    echo '{"id":"0b8f2f0e-4d3c-4a5b-9c6d-7e8f9a0b1c2d","localId":900,"remoteId":null,"entityType":"practiceSession","createdAt":"'$now'","updatedAt":"'$now'","deletedAt":null,"syncStatus":"synced","syncVersion":1,"checksum":"'$(sum "$sdata")'","data":'$sdata'}'
    echo '{"id":"1c9f3f1e-5d4c-4b6c-8d7e-8f9a0b1c2d3e","localId":901,"remoteId":null,"entityType":"goal","createdAt":"'$now'","updatedAt":"'$now'","deletedAt":null,"syncStatus":"synced","syncVersion":1,"checksum":"'$(sum "$gdata")'","data":'$gdata'}'
} >"$T/old.ndjson"
"$E" import "$T/old.ndjson" >"$T/import.out" || fail "import of old entities: $(cat "$T/import.out")"
"$E" goal progress --json >"$T/p.json" || fail "goal progress --json"
eq "$(value "$G1")" 260 "tempo goal with an old session named by its resolved path"
eq "$(value 1c9f3f1e-5d4c-4b6c-8d7e-8f9a0b1c2d3e)" 240 "old goal (typed link.map) over the session played as link.map"
echo "log_goal_identity: ok"
