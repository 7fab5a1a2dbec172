#!/bin/sh
# report_web.sh - the dashboard's assets (web/assets) keep their side of the contract that does not
# need a browser: the SHA-256 of each trusted document app.js sends as a persisted query equals
# sync/schema/operations.sha256 (a document edited without app.js would answer
# PERSISTED_QUERY_NOT_FOUND), nothing breaks the Content-Security-Policy (no inline script, style
# attribute, event handler attribute, eval or innerHTML), nothing is fetched from another origin,
# the scripts parse, the page holds the hooks the browser tests use, and charts.js's model takes
# entities of any shape without an exception and with figures that agree (report_fuzz.js). Checked to fail with one
# digit of the AdminMetrics hash in app.js changed, and with style="" added to index.html.
#   usage: report_web.sh SOURCE_DIR
set -eu
S=$1
A=$S/web/assets
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

for f in "$A/app.js" "$A/charts.js"; do
    node --check "$f" || fail "$f does not parse"
done

# persisted queries: every document app.js names, with the hash operations.sha256 gives
n=0
for doc in DashboardEntities DeviceSyncStatus AdminMetrics; do
    want=$(sed -n "s|^\([0-9a-f]\{64\}\)  operations/$doc.graphql\$|\1|p" "$S/sync/schema/operations.sha256")
    [ -n "$want" ] || { fail "$doc is not in sync/schema/operations.sha256"; continue; }
    got=$(sed -n "s|^ *$doc: \"\([0-9a-f]\{64\}\)\",\{0,1\}\$|\1|p" "$A/app.js")
    [ "$got" = "$want" ] || fail "app.js sends $doc as '$got'; operations.sha256 says $want"
    n=$((n + 1))
done
[ $n = 3 ] || fail "checked $n documents"

# CSP: script only from files, no style attribute, no handler attribute, no eval, no innerHTML
grep -n '<script' "$A/index.html" | grep -v '<script src="/static/[a-z]*\.js" defer></script>' && fail "index.html: an inline script"
grep -n -i '[[:space:]]style=\|<style\|[[:space:]]on[a-z]*=' "$A/index.html" && fail "index.html: inline style or handler"
grep -n 'eval(\|new Function\|innerHTML\|outerHTML\|insertAdjacentHTML\|document\.write\|setAttribute("style"\|\.style\.' \
    "$A/app.js" "$A/charts.js" && fail "a script uses what the CSP forbids or that parses HTML"
# nothing from another origin: the only absolute URL is the SVG namespace
grep -n -o 'https\{0,1\}://[^"'"'"' )]*' "$A"/* | grep -v 'http://www.w3.org/2000/svg$' && fail "an absolute URL in web/assets"

# the page's hooks (DASHBOARD.md)
for hook in '<form id="login"' '<label for="username">Username</label>' '<input id="username"' \
    '<label for="password">Password</label>' '<input id="password" name="password" type="password"' \
    'id="login-error" class="error" role="alert"' '<span id="user-name">' '<button id="logout" type="button">' \
    '<table id="devices">' '<div id="admin" class="grid" hidden>' 'id="chart-requests"' 'id="chart-latency"' \
    'id="chart-sse"' 'id="chart-db"' 'id="chart-traffic"' '<body data-state="loading">'; do
    grep -q -F "$hook" "$A/index.html" || fail "index.html lacks $hook"
done
for hook in '"chart-days"' '"chart-weeks"' '"chart-tempo"' '"chart-timing"' 'id: "goals"' 'id: "sessions"' \
    'id: "notes"' 'id: "renders"' 'class: "bar"' '"data-key": it.key' '"data-minutes"' '"data-material"' '"data-bpm"' \
    '"data-ms"' '"data-progress"' 'class: "goal"' 'class: "session"' 'class: "note"'; do
    grep -q -F -- "$hook" "$A/charts.js" || fail "charts.js lacks $hook"
done
grep -q -F '"tr", { class: "device", "data-device"' "$A/app.js" || fail "app.js lacks tr.device[data-device]"
# the model on entities of any shape, in zones with daylight saving (half an hour in Lord Howe)
for tz in America/New_York Australia/Lord_Howe; do
    TZ=$tz node "$(cd "$(dirname "$0")" && pwd)/report_fuzz.js" "$A/charts.js" 300 || fail "report_fuzz.js in $tz"
done
[ $failed = 0 ] && echo "report_web: ok"
exit $failed
