#!/bin/bash
# server_db_copy.sh - etude-syncd db copy: a SQLite server built by real traffic (the `etude` CLI on
# four devices of two users: uploads, a tombstone, a logout, a refused login) moves into PostgreSQL, and its devices
# keep syncing against a server started on the copy without logging in again.
#   usage: pg_harness.sh run bash server_db_copy.sh   (ETUDE_SYNCD, ETUDE_BIN, ETUDE_TESTS_DIR set)
#
# Checked: each table's row count and checksum as printed against this script's own sqlite3 and
# psql queries (the canonical rows of syncd_store_copy.c, hashed with b2sum -l 256); every table of
# a freshly created server database is either copied or skipped by name as transient (a table the
# copy does not know makes this fail: see "coverage"); identities, tokens, epoch and the per-user
# sequence continue on PostgreSQL; refusals (bad flags and URIs, missing, foreign, old and
# drifted sources, a target holding users) leave the target as it was; so do failures after rows
# were written: a row PostgreSQL refuses (an orphan device row), a copy killed mid-way, and the
# verification itself. The verification is shown able to fail through the test hook
# ETUDE_SYNCD_TEST_COPY_TAMPER (a value changed, or a row left out, as the copy writes it): the
# copy must then stop naming the table, and leave the target empty. The source file's bytes are
# the same at the end (the copy opens it read-only).
# This script's own checks were shown to fail too: with the copy's canonical form changed by one
# letter (text as "T" LEN instead of "t" LEN in syncd_store_copy.c) it stops at "audit: checksum ...
# printed, sqlite3 rows hash to ...".
set -u
ETUDE_PG_SOURCED=1 . "$ETUDE_TESTS_DIR/support/pg_harness.sh"
. "$ETUDE_TESTS_DIR/integration/sync_lib.sh"
B=$ETUDE_SYNCD
[ -n "$ETUDE_PG_PORT" ] || fail "run under tests/support/pg_harness.sh run"

# ---- a SQLite server with real traffic. Access tokens live 3 s, so the devices refresh on the copy.
start_server --token-ttl 3
login a >/dev/null || fail "login a"
login_a_at=$(date +%s)
for i in 1 2 3; do dev a log note "a note $i" >/dev/null || fail "note a $i"; done
dev a sync now >/dev/null || fail "sync a"
login b >/dev/null || fail "login b"
gone=$(dev b log note "soon deleted") || fail "note b"
dev b sync now >/dev/null || fail "sync b"
dev b log delete "$gone" >/dev/null || fail "delete"
dev b sync now >/dev/null || fail "sync b 2"
printf '%s\n' "other $PASSWORD" | dev c sync login --server "$SERVER_URL" --user bob --password-stdin >/dev/null ||
    fail "login c (bob)"
dev c log note "bob's note" >/dev/null && dev c sync now >/dev/null || fail "sync c"
login d >/dev/null || fail "login d"
dev d sync logout >/dev/null || fail "logout d"
printf 'wrong\n' | dev e sync login --server "$SERVER_URL" --user alice --password-stdin >/dev/null 2>&1 &&
    fail "a wrong password was accepted"
# a's access token (3 s) has expired by now, so this sync refreshes it: one more session row, however
# fast the machine ran the traffic above (a quiet CI run got there within 3 s: 4 sessions, not 5)
while [ $(($(date +%s) - login_a_at)) -le 3 ]; do sleep 0.2; done
dev a sync now >/dev/null || fail "sync a 2"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
traffic_done=$(date +%s)
S=$SERVER_DB
[ "$(sq "SELECT count(*) FROM entities WHERE deleted_at IS NOT NULL")" = 1 ] || fail "no tombstone on the server"
[ "$(sq "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")" -ge 1 ] || fail "no revoked session"
[ "$(sq "SELECT count(*) FROM meta WHERE key='secret.csrf'")" = 1 ] || fail "no CSRF secret in meta"
src_sum=$(sha256sum <"$S")
alice_seq=$(sq "SELECT seq FROM users WHERE name='alice'")

say "traffic done after ${SECONDS} s"
# ---- refusals: one line naming what is wrong, non-zero, the target as it was
P=$(pg_newdb copy_$$) || fail "pg_newdb"
pg_tables() { pg_sql "$1" "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"; }
untouched() { [ "$(pg_tables copy_$$)" = 0 ] || fail "$1: the target was written"; }
fails=0
# expect_error PATTERN CMD... : CMD exits non-zero with one line on stderr matching PATTERN, nothing on stdout.
expect_error() {
    pat=$1; shift
    if "$@" </dev/null >"$T/out" 2>"$T/err"; then echo "FAIL: accepted: $*"; fails=$((fails + 1)); return; fi
    if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q -- "$pat" "$T/err" || [ -s "$T/out" ]; then
        echo "FAIL: $*: wanted one line matching '$pat', got:"; cat "$T/err" "$T/out"; fails=$((fails + 1))
    fi
}
expect_error "db copy: --to URI is required" "$B" db copy --from "$S"
expect_error "db copy: --from PATH is required" "$B" db copy --to "$P"
expect_error "db copy: unknown or incomplete flag '--bogus'" "$B" db copy --from "$S" --to "$P" --bogus
expect_error "db copy: unknown or incomplete flag '--to'" "$B" db copy --from "$S" --to
expect_error "db copy: --from given twice" "$B" db copy --from "$S" --from "$S" --to "$P"
expect_error "db copy: --to $T/x.db: not a PostgreSQL connection URI" "$B" db copy --from "$S" --to "$T/x.db"
expect_error "db copy: --to postgresql://ann@127.0.0.1:1/x: cannot connect" "$B" db copy --from "$S" --to postgresql://ann:s3cret@127.0.0.1:1/x
grep -q s3cret "$T/err" && { echo "FAIL: the password in --to was printed"; fails=$((fails + 1)); }
expect_error "db copy: --to postgresql:///x%zz: cannot connect" "$B" db copy --from "$S" --to 'postgresql:///x%zz'
expect_error "db copy: --from $T/none.db: No such file or directory" "$B" db copy --from "$T/none.db" --to "$P"
[ -e "$T/none.db" ] && fail "the copy created its missing source"
expect_error "db copy: --from $T: not a file" "$B" db copy --from "$T" --to "$P"
echo "not a database at all, just some text that is long enough to be read as a header" >"$T/text.db"
expect_error "db copy: --from $T/text.db: not a SQLite database" "$B" db copy --from "$T/text.db" --to "$P"
sqlite3 "$T/other.db" "CREATE TABLE notes(x)"
expect_error "db copy: --from $T/other.db: not an etude-syncd database" "$B" db copy --from "$T/other.db" --to "$P"
cp "$S" "$T/old.db"
sqlite3 "$T/old.db" "PRAGMA user_version = 3"
expect_error "schema version 3, db copy needs version .*: run \`etude-syncd db migrate --db $T/old.db\` first" \
    "$B" db copy --from "$T/old.db" --to "$P"
cp "$S" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99"
expect_error "db copy: --from $T/newer.db: schema version 99, made by a newer etude-syncd" "$B" db copy --from "$T/newer.db" --to "$P"
# Schema drift: a table the copy would not know of stops it, by name.
cp "$S" "$T/drift.db"
sqlite3 "$T/drift.db" "CREATE TABLE login_notes(id INTEGER PRIMARY KEY, note TEXT)"
expect_error "table login_notes of --from $T/drift.db is not in the PostgreSQL schema and not named transient" \
    "$B" db copy --from "$T/drift.db" --to "$P"
untouched "refusals"
# A row PostgreSQL refuses after others were written (a device row of no user: SQLite's command line
# does not check foreign keys): the whole copy is rolled back, the schema it created included.
cp "$S" "$T/orphan.db"
sqlite3 "$T/orphan.db" "INSERT INTO devices(user_id, device_id, last_seq) VALUES(999, 'ghost', 1)"
expect_error "db copy: table devices, row .* in key order: PostgreSQL refused it: .*foreign key" \
    "$B" db copy --from "$T/orphan.db" --to "$P"
untouched "a refused row"
# The verification: a changed value and a missing row are found, named, rolled back.
ETUDE_SYNCD_TEST_COPY_TAMPER=sessions expect_error "db copy: table sessions: checksum .* of the copy differs from .* of --from: rolled back" \
    "$B" db copy --from "$S" --to "$P"
ETUDE_SYNCD_TEST_COPY_TAMPER=meta expect_error "db copy: table meta: checksum .* differs" "$B" db copy --from "$S" --to "$P"
n=$(sq "SELECT count(*) FROM entities")
ETUDE_SYNCD_TEST_COPY_TAMPER=entities:drop expect_error "db copy: table entities: $n rows in --from, $((n - 1)) in the copy: rolled back" \
    "$B" db copy --from "$S" --to "$P"
untouched "a failed verification"
# Killed mid-way (paused by the test hook after entities): nothing of it is visible, then or after.
ETUDE_SYNCD_TEST_COPY_PAUSE=entities "$B" db copy --from "$S" --to "$P" >"$T/out" 2>"$T/err" &
cp_pid=$!
PIDS="$PIDS $cp_pid"
i=0
until grep -q 'paused after entities' "$T/err"; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "the copy did not reach entities: $(cat "$T/err")"; sleep 0.05
done
untouched "a copy in progress"
{ kill -9 $cp_pid; wait $cp_pid; } 2>/dev/null
untouched "a killed copy"
# A target that holds a user: refused, its tables exactly as they were.
N=$(pg_newdb busy_$$) || fail "pg_newdb"
"$B" db migrate --db "$N" 2>/dev/null || fail "db migrate $N"
pg_sql busy_$$ "INSERT INTO users(uuid, name, pwhash, created_at) VALUES('u', 'zoe', 'x', 0)"
pg_state() { # every table's rows, hashed (one query built from the table list)
    q=""
    for t in $(pg_sql "$1" "SELECT table_name FROM information_schema.tables WHERE table_schema='public' ORDER BY 1"); do
        q="$q${q:+ UNION ALL }SELECT '$t', count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM \"$t\" x"
    done
    pg_sql "$1" "$q"
}
before=$(pg_state busy_$$)
expect_error "db copy: --to postgresql:///busy_$$ already holds etude-syncd data (1 users, 0 entities)" \
    "$B" db copy --from "$S" --to "$N"
[ "$(pg_state busy_$$)" = "$before" ] || fail "the refused copy changed the target holding a user"
[ $fails -eq 0 ] || fail "$fails refusal check(s) failed"

say "refusals done after ${SECONDS} s"
# ---- the copy
"$B" db copy --from "$S" --to "$P" >"$T/copy.out" 2>"$T/copy.err" || fail "db copy: $(cat "$T/copy.err")"
cat "$T/copy.out"
[ -s "$T/copy.err" ] && fail "db copy wrote to stderr: $(cat "$T/copy.err")"
[ "$(sha256sum <"$S")" = "$src_sum" ] || fail "the source file changed"
# coverage: every table of a freshly created server database is copied or skipped by name.
: >"$T/fresh.db"
"$B" db migrate --db "$T/fresh.db" 2>/dev/null || fail "fresh database"
tables=$(sqlite3 "$T/fresh.db" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
[ "$(echo "$tables" | wc -l)" -ge 9 ] || fail "fresh database tables: $tables"
for t in $tables; do
    grep -q "^$t: [0-9]* rows, checksum [0-9a-f]\{64\}\|^$t: skipped, transient (" "$T/copy.out" ||
        fail "table $t of the schema is neither copied nor skipped by name"
done
[ "$(grep -v '^total: ' "$T/copy.out" | cut -d: -f1 | sort)" = "$(echo "$tables" | sort)" ] ||
    fail "the tables printed are not those of the schema: $(cut -d: -f1 "$T/copy.out" | tr '\n' ' ')"
total=0
# canon_sql TABLE: this script's own canonical rows (see syncd_store_copy.c) as SQL: $lite_q for
# sqlite3 by SQLite's declared types, $pg_q for psql by PostgreSQL's types, in key order.
canon_sql() {
    t=$1 le="" pe="" lo="" po=""
    types=$(echo "$all_types" | sed -n "s/^$t\.//p")
    info=$(echo "$all_info" | sed -n "s/^$t|//p")
    while IFS='|' read -r name type pk; do
        case $type in
        INTEGER) x="'i' || length(CAST(\"$name\" AS TEXT)) || ':' || \"$name\"" ;;
        TEXT) x="'t' || length(CAST(\"$name\" AS BLOB)) || ':' || \"$name\"" ;;
        BLOB) x="'b' || (2 * length(\"$name\")) || ':' || lower(hex(\"$name\"))" ;;
        *) fail "$t.$name: declared type $type" ;;
        esac
        le="$le${le:+ || }CASE WHEN \"$name\" IS NULL THEN 'n' ELSE $x END"
        case $(echo "$types" | sed -n "s/^$name=//p") in
        bigint | integer) x="'i' || length(\"$name\"::text) || ':' || \"$name\"::text" ;;
        text) x="'t' || octet_length(\"$name\") || ':' || \"$name\"" ;;
        bytea) x="'b' || (2 * octet_length(\"$name\")) || ':' || encode(\"$name\", 'hex')" ;;
        *) fail "$t.$name: PostgreSQL type" ;;
        esac
        pe="$pe${pe:+ || }CASE WHEN \"$name\" IS NULL THEN 'n' ELSE $x END"
    done <<EOF
$info
EOF
    for name in $(echo "$info" | awk -F'|' '$3 > 0 { print $3 "|" $1 }' | sort -n | cut -d'|' -f2); do
        c=""
        [ "$(echo "$types" | sed -n "s/^$name=//p")" = text ] && c=' COLLATE "C"'
        lo="$lo${lo:+, }\"$name\""
        po="$po${po:+, }\"$name\"$c"
    done
    lite_q="SELECT $le FROM \"$t\" ORDER BY $lo"
    pg_q="SELECT $pe FROM \"$t\" ORDER BY $po"
}
# every column's type on either side, read once: "table.column=type" and "table|column|type|pk"
all_types=$(pg_sql copy_$$ "SELECT table_name || '.' || column_name || '=' || data_type FROM information_schema.columns
                            WHERE table_schema = 'public'")
all_info=$(sqlite3 "$S" "SELECT m.name, p.name, p.type, p.pk FROM sqlite_master m, pragma_table_info(m.name) p
                         WHERE m.type = 'table' ORDER BY m.name, p.cid")
psql_c() { "$ETUDE_PG_BIN/psql" -X -q -At -h "$ETUDE_PG_HOST" -p "$ETUDE_PG_PORT" -U "$ETUDE_PG_USER" -d "$1" -v ON_ERROR_STOP=1 -c "$2" -c "$3"; }
while read -r line; do
    case $line in
    *": skipped, transient"*) continue ;;
    total:*) continue ;;
    esac
    t=${line%%:*}
    rows=$(echo "$line" | sed -n 's/^[a-z_]*: \([0-9]*\) rows, .*/\1/p')
    sum=$(echo "$line" | sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p')
    canon_sql "$t"
    sqlite3 -batch -noheader "$S" "SELECT count(*) FROM \"$t\"; $lite_q" >"$T/lite.rows" || fail "$t: sqlite3"
    psql_c copy_$$ "SELECT count(*) FROM \"$t\"" "$pg_q" >"$T/pg.rows" || fail "$t: psql"
    [ "$rows" = "$(head -n 1 "$T/lite.rows")" ] || fail "$t: $rows rows printed, sqlite3 counts $(head -n 1 "$T/lite.rows")"
    [ "$rows" = "$(head -n 1 "$T/pg.rows")" ] || fail "$t: $rows rows printed, psql counts $(head -n 1 "$T/pg.rows")"
    lsum=$(tail -n +2 "$T/lite.rows" | b2sum -l 256 | cut -d' ' -f1)
    psum=$(tail -n +2 "$T/pg.rows" | b2sum -l 256 | cut -d' ' -f1)
    [ "$lsum" = "$sum" ] || fail "$t: checksum $sum printed, sqlite3 rows hash to $lsum"
    [ "$psum" = "$sum" ] || fail "$t: checksum $sum printed, psql rows hash to $psum"
    total=$((total + rows))
done <"$T/copy.out"
grep -q "^total: .* $total rows copied from $S to postgresql:///copy_$$, counts and checksums verified; epoch $(sq "SELECT value FROM meta WHERE key='epoch'") kept$" \
    "$T/copy.out" || fail "total line: $(tail -n 1 "$T/copy.out")"
[ "$(sq "SELECT count(*) FROM entities")" -ge 5 ] && [ "$(sq "SELECT count(*) FROM sessions")" -ge 5 ] ||
    fail "too little traffic to show anything"
# The failed-login counters (the wrong password above) are copied, not skipped as transient.
grep -q "^login_throttle: [1-9][0-9]* rows, checksum" "$T/copy.out" || fail "login_throttle not copied with its rows"
grep -q "^sessions: .*, next id $(($(sq "SELECT max(id) FROM sessions") + 1))$" "$T/copy.out" || fail "sessions' next id"
grep -q "^audit: .*, next id $(($(sq "SELECT max(id) FROM audit") + 1))$" "$T/copy.out" || fail "audit's next id"
# A second copy into the same target: refused, as it now holds users.
expect_error "already holds etude-syncd data ($(sq "SELECT count(*) FROM users") users, $n entities)" "$B" db copy --from "$S" --to "$P"
[ $fails -eq 0 ] || fail "the second copy was not refused"

say "copy checked after ${SECONDS} s"
# ---- devices continue on PostgreSQL: no login, same epoch and cursors, tokens refreshed, next seq
audit_max=$(sq "SELECT max(id) FROM audit")
session_max=$(sq "SELECT max(id) FROM sessions")
left=$((traffic_done + 4 - $(date +%s)))
[ $left -gt 0 ] && sleep $left # the access tokens issued by the SQLite server have expired
rm -f "$T/ready"
"$B" --listen "$SERVER_ADDR" --db "$P" --ready-file "$T/ready" >>"$T/syncd.log" 2>&1 &
SERVER_PID=$!
PIDS="$PIDS $SERVER_PID"
i=0
until [ -s "$T/ready" ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "etude-syncd on PostgreSQL did not start"; sleep 0.05
done
new=$(dev a log note "after the move") || fail "note after the move"
out=$(dev a sync now 2>&1) || fail "sync a on PostgreSQL: $out"
dev b sync now >/dev/null 2>&1 || fail "sync b on PostgreSQL"
dev c sync now >/dev/null 2>&1 || fail "sync c (bob) on PostgreSQL"
[ "$(pg_sql copy_$$ "SELECT server_seq FROM entities WHERE id='$new'")" = $((alice_seq + 1)) ] ||
    fail "the next upload got seq $(pg_sql copy_$$ "SELECT server_seq FROM entities WHERE id='$new'"), not $((alice_seq + 1))"
[ "$(pg_sql copy_$$ "SELECT seq FROM users WHERE name='alice'")" = $((alice_seq + 1)) ] || fail "alice's counter"
dev b log list | grep -q "after the move" || fail "b did not get a's note through PostgreSQL"
pg_sql copy_$$ "SELECT operation, detail, result FROM audit WHERE id > $audit_max" >"$T/audit"
# An access token issued by the SQLite server is known here (expired, not unknown), its refresh token
# rotates.
grep -v '^[A-Za-z]*|expired|UNAUTHENTICATED$' "$T/audit" | grep -q '|INVALID_CURSOR$\|UNAUTHENTICATED\|INVALID_CREDENTIALS' &&
    fail "a device was refused: $(cat "$T/audit")"
grep -q '|expired|UNAUTHENTICATED$' "$T/audit" || fail "no expired access token was seen: $(cat "$T/audit")"
grep -q '^refreshToken||ok$' "$T/audit" || fail "no token refresh on the copy: $(cat "$T/audit")"
grep -q '^login|' "$T/audit" && fail "a device logged in again"
# Cursors of the SQLite server were taken as they were (no pull from the beginning).
pg_sql copy_$$ "SELECT detail FROM audit WHERE id > $audit_max AND operation='syncChanges'" | grep -q '^since=0 ' &&
    fail "a device pulled from the beginning: $(cat "$T/audit")"
# Identities continue after the copied ones.
[ "$(pg_sql copy_$$ "SELECT min(id) FROM audit WHERE id > $audit_max")" = $((audit_max + 1)) ] || fail "audit ids"
[ "$(pg_sql copy_$$ "SELECT min(id) FROM sessions WHERE id > $session_max")" = $((session_max + 1)) ] || fail "session ids"
for d in a b; do
    [ "$(q $d "SELECT id || ' ' || coalesce(deleted_at, checksum) FROM entities ORDER BY id" | wc -l)" = \
        "$(pg_sql copy_$$ "SELECT count(*) FROM entities e JOIN users u ON u.id = e.user_id WHERE u.name='alice'")" ] ||
        fail "device $d does not hold alice's entities"
    [ "$(q $d "SELECT count(*) FROM outbox")" = 0 ] || fail "device $d has queued changes"
done
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
[ "$(sha256sum <"$S")" = "$src_sum" ] || fail "the source file changed"
echo PASS
