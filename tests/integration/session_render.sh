#!/bin/sh
# session_render.sh - real `etude render` runs recorded as sessions: every stored field checked
# against the render itself (frames written, the map's tempos and sections), segments as
# practiceLog entities, the jsonl plugin receiving the same records, plugin refusals.
#   usage: session_render.sh ETUDE_BIN PRESETS_DIR
set -eu
E=$1
PRESETS=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-session-render.XXXXXX")
trap 'rm -rf "$T"' EXIT
export ETUDE_HOME="$T/home"
unset XDG_DATA_HOME
fail() { echo "FAIL: $*" >&2; exit 1; }
db() { sqlite3 -batch "$ETUDE_HOME/etude.db" "$1"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
frames() { soxi -s "$1" 2>/dev/null; }

mkdir -p "$ETUDE_HOME"
printf '{"plugins": {"enable": ["etude.sync/1", "etude.jsonl/1"]}}\n' >"$ETUDE_HOME/config.json"

# 1. a click line: one tempo, one segment
"$E" render --click "8 4/4 120" -o "$T/a.wav" --rate 44100 || fail "render a"
n=$(frames "$T/a.wav")
eq "$(db "select count(*) from entities where entity_type='practiceSession'")" 1 "sessions after a"
S="select json_extract(data,'\$.X') from entities where entity_type='practiceSession'"
f() { db "$(echo "$S" | sed "s/X/$1/") ${2-}"; }
eq "$(f command)" render "command"
eq "$(f material)" "8 4/4 120" "material"
eq "$(f preset)" "" "preset (null)"
eq "$(f rate)" 44100 "rate"
want=$(echo "$n" | awk '{ printf "%.3f", $1 / 44100 }')
got=$(f activeSeconds | awk '{ printf "%.3f", $1 }')
eq "$got" "$want" "activeSeconds = frames written / rate"
eq "$(f tempoMinBpm)" 120 "tempoMinBpm"
eq "$(f tempoMaxBpm)" 120 "tempoMaxBpm"
eq "$(db "select json_extract(data,'\$.tempoTime[0].bpm') || ':' || printf('%.3f', json_extract(data,'\$.tempoTime[0].seconds')) || ':' || json_array_length(data,'\$.tempoTime') from entities where entity_type='practiceSession'")" "120:$got:1" "tempoTime"
eq "$(f bars)" 8 "bars"
eq "$(f segments)" 1 "segments"
eq "$(f loops)" 0 "loops"
eq "$(f xruns)" 0 "xruns"
eq "$(f interrupted)" 0 "interrupted"
eq "$(f endReason)" end "endReason"
eq "$(db "select json_extract(data,'\$.voices[0].kind') || ',' || json_extract(data,'\$.voices[0].mute') from entities where entity_type='practiceSession'")" "click,0" "voices"
start=$(f startedAt)
end=$(f endedAt)
[ "$end" \> "$start" ] || [ "$end" = "$start" ] || fail "endedAt $end before startedAt $start"
echo "$start" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' || fail "startedAt '$start' is not UTC ISO-8601"
A=$(db "select id from entities where entity_type='practiceSession'")
eq "$(db "select count(*) from entities where entity_type='practiceLog' and json_extract(data,'\$.sessionId')='$A'")" 1 "logs of a"
eq "$(db "select json_extract(data,'\$.bpm') || ',' || json_extract(data,'\$.bars') || ',' || printf('%.3f', json_extract(data,'\$.seconds')) from entities where entity_type='practiceLog'")" "120,8,$got" "log of a"
eq "$(db "select count(*) from outbox")" 2 "outbox rows (session + log)"
eq "$(db "select count(*) from audit")" 2 "audit rows"
[ -z "$(ls "$ETUDE_HOME/journal")" ] || fail "journal left behind: $(ls "$ETUDE_HOME/journal")"

# 2. a tempo map with sections: a section or tempo change starts a segment
cat >"$T/map.txt" <<'MAP'
intro:  2 4/4 100
verse:  4 4/4 100
chorus: 2 3/4 140
MAP
"$E" render --tempo-map "$T/map.txt" -o "$T/b.wav" || fail "render b"
B=$(db "select id from entities where entity_type='practiceSession' and id != '$A'")
L="select json_extract(data,'\$.section') || ',' || json_extract(data,'\$.bpm') || ',' || json_extract(data,'\$.startBar') || ',' || json_extract(data,'\$.endBar') || ',' || json_extract(data,'\$.seconds') from entities where entity_type='practiceLog' and json_extract(data,'\$.sessionId')='$B' order by json_extract(data,'\$.index')"
n=$(frames "$T/b.wav")
last=$(echo "$n" | awk '{ printf "%.3f", $1 / 48000 - 14.4 }')
eq "$(db "$L" | tr '\n' ' ')" "intro,100,0,2,4.8 verse,100,2,6,9.6 chorus,140,6,8,$last " "segments of b"
eq "$(db "select json_extract(data,'\$.tempoMinBpm') || '-' || json_extract(data,'\$.tempoMaxBpm') || ' ' || json_extract(data,'\$.tempoTime') from entities where id='$B'")" \
   "100-140 [{\"bpm\":100,\"seconds\":14.4},{\"bpm\":140,\"seconds\":$last}]" "tempo range and time at each tempo of b"
eq "$(db "select json_extract(data,'\$.material') from entities where id='$B'")" "map.txt" "material of b (its title)"
eq "$(db "select json_extract(data,'\$.preset') from entities where id='$B'")" "$T/map.txt" "file of b"

# 3. a preset: preset path and its title
"$E" render "$PRESETS/metronome-accented.json" -o "$T/c.wav" || fail "render c"
eq "$(db "select count(*) from entities where entity_type='practiceSession' and json_extract(data,'\$.preset')='$PRESETS/metronome-accented.json'")" 1 "preset session"

# 4. the jsonl plugin got the same three records (ids and data)
eq "$(wc -l <"$ETUDE_HOME/sessions.jsonl" | tr -d ' ')" 3 "jsonl lines"
for id in $(db "select id from entities where entity_type='practiceSession'"); do
    line=$(grep "\"id\":\"$id\"" "$ETUDE_HOME/sessions.jsonl") || fail "session $id missing from sessions.jsonl"
    printf '%s' "$line" >"$T/line.json"
    # every leaf of the data, in key order
    flat="select group_concat(fullkey || '=' || ifnull(atom, 'null'), ' ') from (select fullkey, atom from json_tree(X) where type not in ('object', 'array') order by fullkey)"
    from_jsonl=$(sqlite3 -batch :memory: "$(echo "$flat" | sed "s|X|json_extract(readfile('$T/line.json'),'\$.data')|")")
    from_store=$(db "$(echo "$flat" | sed "s|X|(select data from entities where id='$id')|")")
    [ -n "$from_store" ] || fail "no data for $id"
    eq "$from_jsonl" "$from_store" "jsonl data of $id"
done

# 5. log list / show over these sessions
"$E" log list | grep -q "8 4/4 120" || fail "log list lacks the click session"
"$E" log show "$(echo "$B" | cut -c1-8)" --json >"$T/show.json" || fail "log show --json"
grep -q '"section":	"chorus"' "$T/show.json" || fail "log show lacks the segments: $(cat "$T/show.json")"

# 6. plugin refusals stop the render with a clear message and write nothing
echo "not a plugin" >"$T/junk.so"
if "$E" render --click "2 4/4 120" -o "$T/d.wav" --plugin-path "$T/junk.so" 2>"$T/err"; then fail "a junk plugin was accepted"; fi
grep -q "plugin $T/junk.so: cannot load" "$T/err" || fail "refusal message: $(cat "$T/err")"
[ ! -e "$T/d.wav" ] || fail "output written despite the refused plugin"
eq "$(db "select count(*) from entities where entity_type='practiceSession'")" 3 "sessions after the refusal"
# --no-session records nothing
"$E" render --click "2 4/4 120" -o "$T/e.wav" --no-session || fail "render --no-session"
eq "$(db "select count(*) from entities where entity_type='practiceSession'")" 3 "sessions after --no-session"

# 7. a speed trainer over a MIDI file (no tempo map: bars, tempi and loops come from the practice):
# one count-in bar at 50, then bars 1-4 twice at 50, twice at 61, twice at 72
"$E" render "$PRESETS/chorale-trainer.json" -o "$T/t.wav" || fail "render trainer"
T_SQL="from entities where entity_type='practiceSession' and json_extract(data,'\$.preset')='$PRESETS/chorale-trainer.json'"
eq "$(db "select json_extract(data,'\$.bars') || ',' || json_extract(data,'\$.loops') $T_SQL")" "25,5" "trainer bars,loops"
eq "$(db "select json_extract(data,'\$.tempoMinBpm') || '-' || json_extract(data,'\$.tempoMaxBpm') $T_SQL")" "50-72" "trainer tempo range"
eq "$(db "select group_concat(json_extract(value,'\$.bpm')) from entities, json_each(json_extract(data,'\$.tempoTime')) where entity_type='practiceSession' and json_extract(data,'\$.preset')='$PRESETS/chorale-trainer.json'")" "50,61,72" "trainer tempoTime"
eq "$(db "pragma integrity_check")" ok "integrity_check"
echo "session_render: ok"
