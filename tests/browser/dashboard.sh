#!/bin/sh
# dashboard.sh - the dashboard and the offline report in a real headless Chromium (Debian's
# chromium, driven by playwright-core from tests/browser/node_modules, put there by
# scripts/install-deps). Everything runs on 127.0.0.1 and stops by itself:
#
#  - alice's device (the etude command, its own ETUDE_HOME, the sync plugin): practice sessions of
#    today and earlier days through the store's import (seed.mjs), a render, a goal, a logbook note
#    with known text, and one live `etude play` on a private jackd (dummy driver) with four MIDI
#    notes played 5, 10, 15 and 20 ms late;
#  - meanwhile a real etude-syncd on a free loopback port with a fresh database and users alice
#    (admin) and bob, and bob's device with a session and a note of his own and a note the server
#    refuses as too big (a dead letter with its reason), synced as bob;
#  - then alice's device logs in as alice and syncs, and writes `etude report -o report.html`;
#  - dashboard.mjs, started first (Chromium and its contexts start while the devices get their
#    data): the login page once the server answers, then (once the devices'
#    data is in) log in through the page, the data and charts, the device rows (bob's with his
#    dead letter's reason), the admin charts,
#    a live update, bob's isolation, logout and the dead cookie, keyboard order, phone width, no
#    console errors, and the report opened as a file:// page. Screenshots go to
#    $ETUDE_SCREENSHOT_DIR and their paths are printed.
#
# Needs: ETUDE_BIN (etude), ETUDE_SYNCD (etude-syncd), ETUDE_TEST_BIN (jack_tclient),
# ETUDE_TESTS_DIR, ETUDE_SCREENSHOT_DIR; jackd, sqlite3, node, /usr/bin/chromium.
: "${ETUDE_BIN:?set ETUDE_BIN}" "${ETUDE_SYNCD:?set ETUDE_SYNCD}" "${ETUDE_TEST_BIN:?set ETUDE_TEST_BIN}"
: "${ETUDE_TESTS_DIR:?set ETUDE_TESTS_DIR}" "${ETUDE_SCREENSHOT_DIR:?set ETUDE_SCREENSHOT_DIR}"
. "$ETUDE_TESTS_DIR/support/jack_harness.sh"
HERE="$ETUDE_TESTS_DIR/browser"
E=$ETUDE_BIN
unset XDG_DATA_HOME ETUDE_HOME

# ETUDE_TEST_BROWSER=firefox: the same checks in Debian's firefox-esr (browser.dashboard_firefox)
if [ "${ETUDE_TEST_BROWSER:-chromium}" = firefox ]; then
    [ -x /usr/bin/firefox-esr ] || fail "no /usr/bin/firefox-esr: run scripts/install-deps (Debian's firefox-esr)"
else
    [ -x /usr/bin/chromium ] || fail "no /usr/bin/chromium: run scripts/install-deps (Debian's chromium)"
fi
[ -f "$HERE/node_modules/playwright-core/package.json" ] ||
    fail "no playwright-core in $HERE/node_modules: run scripts/install-deps (npm ci from tests/browser/package-lock.json)"

START=$(date +%s%N)
say() { echo "-- $(( ($(date +%s%N) - START) / 1000000 )) ms: $*"; }
# on NAME ARGS...: run etude as device NAME (its own ETUDE_HOME under $T)
on() {
    d=$1
    shift
    ETUDE_HOME="$T/$d" "$E" "$@"
}
sql() { sqlite3 -batch -noheader "$T/$1/etude.db" "$2"; }

APW="a-pw-$$"
BPW="b-pw-$$"
NOTE='left hand cleaner at 72 <b>not bold</b> & "quoted"'
mkdir -p "$T/alice" "$T/bob" "$ETUDE_SCREENSHOT_DIR" || fail "cannot create $ETUDE_SCREENSHOT_DIR"

# The browser starts first: Chromium and its three contexts while the devices get their data,
# then the login page as soon as the server's ready file names its address. dashboard.mjs waits
# for $T/go before it logs in; it is killed with the rest if this script fails first.
ETUDE_READY="$T/ready" ETUDE_ALICE_PW="$APW" ETUDE_BOB_PW="$BPW" ETUDE_NOTE="$NOTE" ETUDE_GO="$T/go" \
    ETUDE_ALICE="$T/alice.json" ETUDE_BOB="$T/bob.json" ETUDE_REPORT="$T/report.html" \
    ETUDE_ALICE_HOME="$T/alice" TZ=UTC \
    node "$HERE/dashboard.mjs" &
BROWSER_PID=$!
JACK_PIDS="$JACK_PIDS $BROWSER_PID"

# Alice's device: sessions of earlier days, a render, a goal, a note.
node "$HERE/seed.mjs" alice "$T/alice.ndjson" || fail "seed.mjs alice"
on alice import "$T/alice.ndjson" >/dev/null || fail "etude import (alice)"
on alice log note "$NOTE" >/dev/null || fail "etude log note (alice)"
on alice goal add minutes 30 --per day >/dev/null || fail "etude goal add (alice)"
on alice render --click "2 4/4 120" -o "$T/render.wav" --rate 8000 >/dev/null 2>"$T/render.err" ||
    fail "etude render: $(cat "$T/render.err")"

say "alice's device holds its imported sessions, a render, a goal and a note"
# One live session: etude play on a private jackd, four notes into its midi_in 5, 10, 15 and 20 ms
# after beats 2 to 5 (120 bpm at 48 kHz: a beat every 24000 frames, 48 frames a millisecond).
# The server and bob's device are set up while it plays.
jack_start 256
jack_bg play env ETUDE_HOME="$T/alice" "$E" play --click "16 4/4 120" --name bt --transport follow
wait_for 10 sh -c "jack_lsp | grep -q '^bt:midi_in\$'" || fail "etude's midi_in never appeared"
jack_bg midi "$ETUDE_TEST_BIN/jack_tclient" midi bt:midi_in 48240 72480 96720 120960
sleep 0.3
"$ETUDE_TEST_BIN/jack_tclient" locate 0 && "$ETUDE_TEST_BIN/jack_tclient" start || fail "transport start"

# The server, with alice (admin) and bob.
printf '%s\n' "$APW" | "$ETUDE_SYNCD" user add alice --admin --password-stdin --db "$T/syncd.db" >"$T/useradd.out" 2>&1 ||
    fail "etude-syncd user add alice --admin: $(cat "$T/useradd.out")"
printf '%s\n' "$BPW" | "$ETUDE_SYNCD" user add bob --password-stdin --db "$T/syncd.db" >"$T/useradd.out" 2>&1 ||
    fail "etude-syncd user add bob: $(cat "$T/useradd.out")"
# --max-entity-bytes 8192: bob's oversized note below is refused and becomes a dead letter.
jack_bg syncd "$ETUDE_SYNCD" --listen 127.0.0.1:0 --db "$T/syncd.db" --ready-file "$T/ready" --exit-with-parent \
    --max-entity-bytes 8192
wait_for 15 test -s "$T/ready" || fail "etude-syncd did not start: $(tail -3 "$T/syncd.err")"
URL="http://$(cat "$T/ready")"
say "etude-syncd at $URL"


# Bob's device: a session and a note of his own, and a note too big for the server (a dead
# letter with the server's reason), synced as bob.
node "$HERE/seed.mjs" bob "$T/bob.ndjson" || fail "seed.mjs bob"
on bob import "$T/bob.ndjson" >/dev/null || fail "etude import (bob)"
on bob log note "bob keeps this note to himself" >/dev/null || fail "etude log note (bob)"
on bob log note "$(head -c 9000 /dev/zero | tr '\0' x)" >/dev/null || fail "etude log note (bob, oversized)"
printf '%s\n' "$BPW" | on bob sync login --server "$URL" --user bob --password-stdin >"$T/login.out" 2>&1 ||
    fail "etude sync login (bob): $(cat "$T/login.out")"

say "bob's device synced"
# The live session ends while rolling: etude publishes its timing figures, then ends the session.
jack_wait midi 15 || fail "the MIDI sender could not send every note"
kill -TERM "$(jack_pid play)"
jack_wait play 15 || fail "etude play exited non-zero"
jack_stop
[ "$(sql alice "select count(*) from entities where entity_type='practiceSession' and json_extract(data,'\$.command')='play' and json_extract(data,'\$.timing.notes')=4")" = 1 ] ||
    fail "the live session was not recorded with its four notes"

say "the live session is recorded; alice's device logs in and syncs"
printf '%s\n' "$APW" | on alice sync login --server "$URL" --user alice --password-stdin >"$T/login.out" 2>&1 ||
    fail "etude sync login (alice): $(cat "$T/login.out")"
cat "$T/login.out"

for d in alice bob; do
    [ "$(sql $d "select count(*) from outbox")" = 0 ] || fail "$d's device still has changes queued after its sync"
done
[ "$(sql bob "select count(*) from dead_letter")" = 1 ] || fail "bob's oversized note did not become a dead letter"
[ "$(sql alice "select count(*) from dead_letter")" = 0 ] || fail "alice's device has dead letters"

# What each device holds: the page must show exactly this.
dump() {
    {
        printf '{"deviceId":"%s","entities":' "$(sql "$1" "select value from sync_meta where key='device_id'")"
        rows=$(sqlite3 -batch -json "$T/$1/etude.db" \
            "select id, entity_type as entityType, json(data) as data from entities where deleted_at is null order by id")
        printf '%s,"deadLetters":' "${rows:-[]}"
        rows=$(sqlite3 -batch -json "$T/$1/etude.db" "select entity_id as id, reason from dead_letter order by id")
        printf '%s}\n' "${rows:-[]}"
    } >"$T/$1.json"
}
dump alice
dump bob

say "etude report"
on alice report -o "$T/report.html" >"$T/report.out" 2>&1 || fail "etude report -o: $(cat "$T/report.out")"

touch "$T/go"
say "the devices' data is in; the browser goes on"
wait "$BROWSER_PID" || fail "dashboard.mjs"
echo PASS
