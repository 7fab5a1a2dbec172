#!/bin/sh
# log_summary.sh - `etude log summary` over sessions on past days, brought in the way a user brings
# another device's log: `etude import` of an export file (sessions of 2026-10-30 .. 2026-11-04,
# two with MIDI timing figures, one render), and a real render today. Checks the printed minutes per
# day, tempo progress per material and timing trend exactly (the pooled figures worked out by
# hand below), that renders never count, --material by title and by a file named another way,
# --week and --month spans, and one-line errors naming the flag with nothing written.
# Checked to fail on 5ea0c9c: "etude log: unknown subcommand 'summary'".
#   usage: log_summary.sh ETUDE_BIN
set -eu
E=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-log-summary.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset XDG_DATA_HOME
export ETUDE_HOME="$T/home"
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$T"

# bad flags first, on a home that does not exist yet: one line naming the flag, exit 2, no store
bad() {
    want=$1
    shift
    if "$E" log summary "$@" >"$T/out" 2>"$T/err"; then fail "log summary $* succeeded"; else rc=$?; fi
    [ $rc = 2 ] || fail "log summary $*: exit $rc, want 2"
    [ "$(cat "$T/err")" = "$want" ] || fail "log summary $*: got '$(cat "$T/err")', want '$want'"
    [ ! -s "$T/out" ] || fail "log summary $*: printed $(cat "$T/out")"
}
bad "etude log summary: --since '2026-02-30': expected a date YYYY-MM-DD (UTC)" --since 2026-02-30
bad "etude log summary: --since '11/02/2026': expected a date YYYY-MM-DD (UTC)" --since 11/02/2026
bad "etude log summary: --since needs a DATE (YYYY-MM-DD)" --since
bad "etude log summary: --month: give only one of --week, --month and --since (--week given)" --week --month
bad "etude log summary: unknown option '--year' (expected --week, --month, --since DATE or --material M)" --year
bad "etude log summary: --material needs a file, title or click line" --material
[ ! -e "$ETUDE_HOME/etude.db" ] || fail "a refused summary created the store"

mkdir m
echo "4 4/4 90" >m/scales.map
hash=$(b2sum -l 256 m/scales.map | cut -d' ' -f1)
real=$(cd m && pwd -P)/scales.map
n=0
sum() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# session START COMMAND MATERIAL SECONDS BPM TIMING [IDENTITY]: one export line (data in canonical
# form: keys sorted, no spaces)
session() {
    n=$((n + 1))
    ident=""
    [ -n "${7:-}" ] && ident=',"materialHash":"'$hash'","materialPath":"'$real'"'
    d='{"activeSeconds":'$4',"command":"'$2'","endedAt":"'$1'","material":"'$3'"'$ident',"preset":null,"startedAt":"'$1'","tempoMaxBpm":'$5',"tempoMinBpm":'$5',"timing":'${6:-null}'}'
    printf '{"id":"00000000-0000-4000-8000-%012d","localId":%d,"remoteId":null,"entityType":"practiceSession","createdAt":"%s","updatedAt":"%s","deletedAt":null,"syncStatus":"synced","syncVersion":1,"checksum":"%s","data":%s}\n' \
        $n $n "$1" "$1" "$(sum "$d")" "$d"
}
{
    echo '{"etudeExport":1,"schemaVersion":2}'
    # listed out of order: the summary goes by start time
    session 2026-11-04T08:00:00.000Z play Chorale 450 80 '{"mean_ms":2,"notes":300,"sd_ms":3,"within_10ms":0.9,"within_25ms":0.99}'
    session 2026-11-02T18:00:00.000Z play Chorale 600 72 '{"mean_ms":10,"notes":100,"sd_ms":5,"within_10ms":0.5,"within_25ms":0.9}'
    session 2026-11-02T19:00:00.000Z play "Scales in D" 300 90 null 1
    session 2026-11-03T10:00:00.000Z render Chorale 1200 200 null
    session 2026-10-30T09:00:00.000Z play Chorale 60 60 null
} >"$T/log.ndjson"
"$E" import "$T/log.ndjson" >/dev/null || fail "import"
"$E" render --click "2 4/4 120" -o "$T/r.wav" --rate 8000 >/dev/null 2>&1 || fail "render"

# Pooled over both days' notes: n = 400, mean = (100*10 + 300*2)/400 = 4.0 ms,
# E[x^2] = (100*(5^2+10^2) + 300*(3^2+2^2))/400 = 41, sd = sqrt(41 - 16) = 5.0 ms,
# within 25 ms = (100*0.9 + 300*0.99)/400 = 0.9675 -> 97%.
"$E" log summary --since 2026-11-01 >"$T/s.txt" || fail "log summary --since"
cat "$T/s.txt"
cat >"$T/want.txt" <<EOF
since 2026-11-01: 3 sessions, 22m30s (2 renders not counted)

minutes per day:
  2026-11-02 Mon    15.0 min   2 sessions  ##############################
  2026-11-04 Wed     7.5 min   1 session   ###############

tempo progress:
  Chorale                          72 -> 80 bpm (best 80), 2 sessions, 2026-11-02 .. 2026-11-04
  Scales in D                      90 -> 90 bpm (best 90), 1 session, 2026-11-02 .. 2026-11-02

timing trend (MIDI played):
  2026-11-02  mean +10.0 ms, sd 5.0 ms, 90% within ±25 ms (100 notes)
  2026-11-04  mean +2.0 ms, sd 3.0 ms, 99% within ±25 ms (300 notes)
  all         mean +4.0 ms, sd 5.0 ms, 97% within ±25 ms (400 notes)
EOF
diff "$T/want.txt" "$T/s.txt" || fail "log summary --since 2026-11-01 differs"

# all of the log: the session of 2026-10-30 too
"$E" log summary >"$T/all.txt" || fail "log summary"
head -1 "$T/all.txt" | grep -qx "all practice: 4 sessions, 23m30s (2 renders not counted)" || fail "log summary (all): $(head -1 "$T/all.txt")"
grep -qx "  Chorale  *60 -> 80 bpm (best 80), 3 sessions, 2026-10-30 .. 2026-11-04" "$T/all.txt" || fail "all: Chorale tempo progress"

# --material by title, and by the file the session's identity names, spelled another way
"$E" log summary --since 2026-11-01 --material Chorale >"$T/c.txt" || fail "--material Chorale"
head -1 "$T/c.txt" | grep -qx "since 2026-11-01, Chorale: 2 sessions, 17m30s (1 render not counted)" || fail "--material Chorale: $(head -1 "$T/c.txt")"
grep -q "Scales" "$T/c.txt" && fail "--material Chorale counted Scales"
ln -s m link
"$E" log summary --material ./link/../m/scales.map >"$T/f.txt" || fail "--material FILE"
head -1 "$T/f.txt" | grep -qx "all practice, ./link/../m/scales.map: 1 session, 5m00s" || fail "--material FILE: $(head -1 "$T/f.txt")"
grep -qx "  Scales in D  *90 -> 90 bpm (best 90), 1 session, 2026-11-02 .. 2026-11-02" "$T/f.txt" || fail "--material FILE: tempo"
echo "4 4/4 100" >m/scales.map
"$E" log summary --material m/scales.map | head -1 | grep -qx "all practice, m/scales.map: 0 sessions, 0m00s" ||
    fail "--material: a file whose content changed still matched"

# --week and --month start on this week's Monday and this month's first day (UTC); nothing of
# November counts, the render of today is listed as not counted
today=$(date -u +%F)
monday=$(date -u -d "$today -$(($(date -u +%u) - 1)) days" +%F)
"$E" log summary --week | head -1 | grep -qx "since $monday: 0 sessions, 0m00s (1 render not counted)" || fail "--week: $("$E" log summary --week | head -1)"
"$E" log summary --month | head -1 | grep -qx "since $(date -u +%Y-%m)-01: 0 sessions, 0m00s (1 render not counted)" || fail "--month"
echo "log_summary: ok"
