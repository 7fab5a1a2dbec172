#!/bin/sh
# report.sh - `etude report` over a store with known sessions: played sessions of past days and of
# today brought in through `etude import` (two with MIDI timing figures, one identified by its file),
# two imported renders and a real `etude render`, notes (one with "</script>" in it) and four goals
# added with `etude goal add`. The written file is checked with the charts' own model
# (web/assets/charts.js under node, report_model.js): the embedded data, charts.js and app.css
# inlined byte for byte and allowed by the CSP's hashes, minutes per day (in UTC and in Asia/Tokyo,
# where a session of 19:00 UTC falls on the next day) and per week, renders apart, tempo per
# material, the timing trend, and each goal's progress equal in the report (libetude-app), in
# charts.js, in `etude goal progress --json` and to the value worked out below; the days also equal
# `etude log summary`'s. Then --since, bad flags (one line, exit 2, no store), and a file that
# cannot be written (exit 1, the old report untouched, no temporary file left).
# Checked to fail before cli/cmd_report.c existed: "etude: unknown command 'report'".
#   usage: report.sh ETUDE_BIN WEB_ASSETS_DIR
set -eu
E=$1
W=$2
M=$(cd "$(dirname "$0")" && pwd)/report_model.js
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-report.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset XDG_DATA_HOME
export ETUDE_HOME="$T/home"
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$T"

# bad flags first, on a home that does not exist yet: one line naming the flag, exit 2, no store
bad() {
    want=$1
    shift
    if "$E" report "$@" >"$T/out" 2>"$T/err"; then fail "report $* succeeded"; else rc=$?; fi
    [ $rc = 2 ] || fail "report $*: exit $rc, want 2"
    [ "$(cat "$T/err")" = "$want" ] || fail "report $*: got '$(cat "$T/err")', want '$want'"
    [ ! -s "$T/out" ] || fail "report $*: printed $(cat "$T/out")"
}
bad "etude report: missing -o FILE (the HTML file to write)"
bad "etude report: missing -o FILE (the HTML file to write)" --since 2026-11-01
bad "etude report: -o needs a FILE (the HTML file to write)" -o
bad "etude report: --since '2026-02-30': expected a date YYYY-MM-DD (UTC)" --since 2026-02-30 -o x.html
bad "etude report: --since '11/02/2026': expected a date YYYY-MM-DD (UTC)" -o x.html --since 11/02/2026
bad "etude report: --since needs a DATE (YYYY-MM-DD)" -o x.html --since
bad "etude report: unknown argument '--week' (expected --since DATE or -o FILE)" --week -o x.html
bad "etude report: -o: given twice" -o x.html -o y.html
[ ! -e "$ETUDE_HOME" ] || fail "a refused report created $ETUDE_HOME"
[ ! -e x.html ] || fail "a refused report wrote x.html"

mkdir m
echo "4 4/4 90" >m/scales.map
ln -s m link
hash=$(b2sum -l 256 m/scales.map | cut -d' ' -f1)
real=$(cd m && pwd -P)/scales.map
today=$(date -u +%F)
monday=$(date -u -d "$today -$(($(date -u +%u) - 1)) days" +%F)
n=0
sum() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# session START COMMAND MATERIAL SECONDS BPM TIMING [IDENTITY]: one export line (data in canonical
# form: keys sorted, no spaces), as in log_summary.sh
session() {
    n=$((n + 1))
    ident=""
    [ -n "${7:-}" ] && ident=',"materialHash":"'$hash'","materialPath":"'$real'"'
    d='{"activeSeconds":'$4',"command":"'$2'","endedAt":"'$1'","material":"'$3'"'$ident',"preset":null,"startedAt":"'$1'","tempoMaxBpm":'$5',"tempoMinBpm":'$5',"timing":'${6:-null}'}'
    printf '{"id":"00000000-0000-4000-8000-%012d","localId":%d,"remoteId":null,"entityType":"practiceSession","createdAt":"%s","updatedAt":"%s","deletedAt":null,"syncStatus":"synced","syncVersion":1,"checksum":"%s","data":%s}\n' \
        $n $n "$1" "$1" "$(sum "$d")" "$d"
}
t0="${today}T00:00:00.000Z"
{
    echo '{"etudeExport":1,"schemaVersion":2}'
    session 2026-11-04T08:00:00.000Z play Chorale 450 80 '{"mean_ms":2,"notes":300,"sd_ms":3,"within_10ms":0.9,"within_25ms":0.99}'
    session 2026-11-02T18:00:00.000Z play Chorale 600 72 '{"mean_ms":10,"notes":100,"sd_ms":5,"within_10ms":0.5,"within_25ms":0.9}'
    session 2026-11-02T19:00:00.000Z play "Scales in D" 300 90 null 1
    session 2026-11-03T10:00:00.000Z render Chorale 1200 200 null
    session 2026-10-30T09:00:00.000Z play Chorale 60 60 null
    session "$t0" play Chorale 300 76 null
    session "$t0" play "Scales in D" 150 84 '{"mean_ms":-4,"notes":50,"sd_ms":6,"within_10ms":0.7,"within_25ms":0.96}' 1
    session "$t0" render "Scales in D" 600 120 null 1
} >"$T/log.ndjson"
"$E" import "$T/log.ndjson" >/dev/null || fail "import"
"$E" render --click "2 4/4 120" -o "$T/r.wav" --rate 8000 >/dev/null 2>&1 || fail "render"
"$E" log note 'left hand slow </script><b>x</b> & "quoted"' >/dev/null || fail "log note"
"$E" log note "bars 9-12 again tomorrow" >/dev/null || fail "log note 2"
gday=$("$E" goal add minutes 10 --per day) || fail "goal add minutes day"
gweek=$("$E" goal add minutes 60 --per week) || fail "goal add minutes week"
gfile=$("$E" goal add tempo 100 --material ./link/../m/scales.map) || fail "goal add tempo file"
gtitle=$("$E" goal add tempo 100 --material Chorale) || fail "goal add tempo title"

mkdir rep
"$E" report -o rep/report.html >"$T/out" 2>"$T/err" || fail "report: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "report printed on stderr: $(cat "$T/err")"
[ "$(ls rep)" = report.html ] || fail "report left $(ls rep | tr '\n' ' ')"
"$E" goal progress --json >"$T/goals.json" || fail "goal progress"
"$E" log summary >"$T/summary.txt" || fail "log summary"
[ "$(date -u +%F)" = "$today" ] || { echo "report: the UTC day changed during the test; run it again"; exit 1; }

# What the charts must show. Played: 450+600+300+60+300+150 s = 31 min; renders: 2 imported and
# the real one. Goals: today's played minutes (300+150 s = 7.5; the render of today does not count)
# for the day and for this week; the best tempo of played sessions of scales.map (90; its render at
# 120 does not count) and of Chorale (80; its render at 200 does not count).
summary_days=$(sed -n 's/^  \([0-9-]\{10\}\) [A-Z][a-z][a-z] *\([0-9.]*\) min.*/"\1":\2/p' "$T/summary.txt" | paste -sd, -)
[ -n "$summary_days" ] || fail "no days in etude log summary: $(cat "$T/summary.txt")"
expect() { # TZ DAYS WEEKS
    cat <<EOF
{"since": null, "sessions": 9, "notes": ["left hand slow </script><b>x</b> & \"quoted\"", "bars 9-12 again tomorrow"],
 "days": {$2}, "weeks": {$3}, "played": 6, "minutes": 31, "renders": 3,
 "tempo": {"Chorale": [60, 76, 80, 4], "Scales in D": [90, 84, 90, 2]},
 "timing": [10, 2, -4],
 "goals": {"$gday": 7.5, "$gweek": 7.5, "$gfile": 90, "$gtitle": 80},
 "summaryDays": {$summary_days},
 "goalCli": $(node -e 'const g = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(JSON.stringify(g.map((x) => ({id: x.id, value: x.value, ratio: x.ratio}))))' "$T/goals.json")}
EOF
}
# In UTC. Weeks: 2026-10-30 is a Friday (week of 10-26), 11-02 a Monday.
expect UTC '"2026-10-30": 1, "2026-11-02": 15, "2026-11-04": 7.5, "'$today'": 7.5' \
    '"2026-10-26": 1, "2026-11-02": 22.5, "'$monday'": 7.5' >"$T/utc.json"
TZ=UTC node "$M" rep/report.html "$W/charts.js" "$W/app.css" "$T/utc.json" || fail "report model (UTC)"
# In Tokyo (UTC+9, no daylight saving): 18:00 and 19:00 UTC of 11-02 are 11-03; today's 00:00 UTC
# is 09:00 of the same day.
expect Asia/Tokyo '"2026-10-30": 1, "2026-11-03": 15, "2026-11-04": 7.5, "'$today'": 7.5' \
    '"2026-10-26": 1, "2026-11-02": 22.5, "'$monday'": 7.5' >"$T/tokyo.json"
TZ=Asia/Tokyo node "$M" rep/report.html "$W/charts.js" "$W/app.css" "$T/tokyo.json" || fail "report model (Asia/Tokyo)"

# --since: sessions started from that UTC day on (the ones of 11-04, the render of 11-03, today's
# three and the real render); notes written from then on; goals as they are today.
"$E" report --since 2026-11-03 -o rep/since.html || fail "report --since"
expect UTC '"2026-11-04": 7.5, "'$today'": 7.5' '"2026-11-02": 7.5, "'$monday'": 7.5' |
    sed 's/"since": null, "sessions": 9/"since": "2026-11-03", "sessions": 6/; s/"played": 6, "minutes": 31/"played": 3, "minutes": 15/;
         s/"Chorale": \[60, 76, 80, 4\], "Scales in D": \[90, 84, 90, 2\]/"Chorale": [80, 76, 80, 2], "Scales in D": [84, 84, 84, 1]/;
         s/"timing": \[10, 2, -4\]/"timing": [2, -4]/; s/"summaryDays": {[^}]*},//' >"$T/since.json"
TZ=UTC node "$M" rep/since.html "$W/charts.js" "$W/app.css" "$T/since.json" || fail "report model (--since)"

# A file that cannot be written: a missing directory, and a directory in the way of the rename.
# Exit 1, one line naming the file, the earlier report untouched, no temporary file left.
cp rep/report.html "$T/before.html"
if "$E" report -o nodir/r.html 2>"$T/err"; then fail "report into a missing directory succeeded"; fi
[ "$(wc -l <"$T/err")" = 1 ] && grep -q "^etude report: nodir/r.html: No such file or directory$" "$T/err" ||
    fail "missing directory: $(cat "$T/err")"
mkdir rep/dir.html
if "$E" report -o rep/dir.html 2>"$T/err"; then fail "report over a directory succeeded"; fi
grep -q "^etude report: rep/dir.html: " "$T/err" || fail "directory in the way: $(cat "$T/err")"
[ "$(ls rep | tr '\n' ' ')" = "dir.html report.html since.html " ] || fail "left behind: $(ls rep | tr '\n' ' ')"
cmp -s rep/report.html "$T/before.html" || fail "a failed report changed the earlier one"
echo "report: ok"
