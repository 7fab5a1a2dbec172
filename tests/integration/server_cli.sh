#!/bin/sh
# server_cli.sh - etude-syncd's command line: every bad flag or argument exits non-zero with one line
# naming it, `user add` hashes with argon2id and refuses duplicates, and nothing is half-written.
#   usage: server_cli.sh ETUDE_SYNCD
#   ETUDE_SYNCD_BACKEND=postgresql (under tests/support/pg_harness.sh run): `user add` and
#   `db migrate` against a database of the harness's PostgreSQL.
set -eu
bin=$1
ETUDE_PG_SOURCED=1 . "$(cd "$(dirname "$0")/../support" && pwd)/pg_harness.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/etude-syncd-cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
cd "$dir"
fails=0
U=$(syncd_db "$dir" u)
# expect_error PATTERN CMD... : CMD must exit non-zero and print exactly one line matching PATTERN.
expect_error() {
    pat=$1; shift
    if "$@" </dev/null >out 2>err; then echo "FAIL: accepted: $*"; fails=$((fails + 1)); return; fi
    if [ "$(wc -l <err)" -ne 1 ] || ! grep -q -- "$pat" err; then
        echo "FAIL: $*: wanted one line matching '$pat', got:"; cat err; fails=$((fails + 1))
    fi
}
expect_error "unknown argument '--bogus'" "$bin" --bogus
expect_error "--listen: 'nohost' is not ADDR:PORT" "$bin" --listen nohost --db x.db
expect_error "--listen: '127.0.0.1:99999' is not ADDR:PORT" "$bin" --listen 127.0.0.1:99999 --db x.db
expect_error "--listen: missing value" "$bin" --listen
expect_error "--token-ttl: expected an integer" "$bin" --token-ttl abc
expect_error "--token-ttl: expected an integer" "$bin" --token-ttl 0
expect_error "--max-batch: expected an integer" "$bin" --max-batch -5
expect_error "--max-body: expected an integer" "$bin" --max-body 10
expect_error "--session-ttl: expected an integer" "$bin" --session-ttl 0
expect_error "--session-ttl: expected an integer" "$bin" --session-ttl 12h
expect_error "--tls-key: needs --tls-cert" "$bin" --tls-key k.pem
expect_error "--tls-cert: cannot read nope.pem" "$bin" --tls-cert nope.pem --tls-key nope.key
expect_error "--db: .*cannot open database" "$bin" --db /nonexistent-dir/x.db --listen 127.0.0.1:0
expect_error "user: expected 'user add NAME" "$bin" user
expect_error "user: expected 'user add NAME" "$bin" user remove bob
expect_error "NAME 'bad name' must be" "$bin" user add 'bad name' --password-stdin --db "$U"
expect_error "unknown or incomplete flag '--pw'" "$bin" user add ann --pw x --db "$U"
expect_error "password: nothing on stdin" "$bin" user add ann --password-stdin --db "$U"
expect_error "--password-stdin is required" "$bin" user add ann --db "$U"
if syncd_pg; then # the refused commands did not even create the schema
    [ "$(syncd_sql "$U" "SELECT count(*) FROM information_schema.tables WHERE table_name='users'")" = 0 ] ||
        { echo "FAIL: refused commands wrote to $U"; fails=$((fails + 1)); }
else
    [ -e u.db ] && { echo "FAIL: refused commands created u.db"; fails=$((fails + 1)); }
fi
printf '\n' | "$bin" user add ann --password-stdin --db "$U" 2>err && { echo "FAIL: empty password accepted"; fails=$((fails + 1)); }
grep -q 'password: empty' err || { echo "FAIL: empty password message: $(cat err)"; fails=$((fails + 1)); }
printf 'pw one\n' | "$bin" user add ann --password-stdin --db "$U" 2>err || { echo "FAIL: user add: $(cat err)"; fails=$((fails + 1)); }
printf 'pw two\n' | "$bin" user add ann --password-stdin --db "$U" 2>err && { echo "FAIL: duplicate user accepted"; fails=$((fails + 1)); }
grep -q "NAME 'ann' already exists" err || { echo "FAIL: duplicate message: $(cat err)"; fails=$((fails + 1)); }
[ "$(syncd_sql "$U" "SELECT count(*) FROM users")" = 1 ] || { echo "FAIL: user rows"; fails=$((fails + 1)); }
[ "$(syncd_sql "$U" "SELECT admin FROM users WHERE name='ann'")" = 0 ] || { echo "FAIL: ann is an admin"; fails=$((fails + 1)); }
printf 'pw ops\n' | "$bin" user add ops --admin --password-stdin --db "$U" 2>err || { echo "FAIL: user add --admin: $(cat err)"; fails=$((fails + 1)); }
[ "$(syncd_sql "$U" "SELECT admin FROM users WHERE name='ops'")" = 1 ] || { echo "FAIL: --admin not stored"; fails=$((fails + 1)); }
syncd_sql "$U" "SELECT pwhash FROM users" | grep -q '^\$argon2id\$' || { echo "FAIL: not argon2id"; fails=$((fails + 1)); }
syncd_sql "$U" "SELECT pwhash FROM users" | grep -q 'pw one' && { echo "FAIL: plain password stored"; fails=$((fails + 1)); }
syncd_pg || [ "$(syncd_sql "$U" 'PRAGMA journal_mode')" = wal ] || { echo "FAIL: not WAL"; fails=$((fails + 1)); }
# The schema version table, and db migrate: current already; a newer database refused, untouched.
[ "$(syncd_sql "$U" "SELECT max(version) FROM schema_version")" = 5 ] || { echo "FAIL: schema_version"; fails=$((fails + 1)); }
"$bin" db migrate --db "$U" 2>err || { echo "FAIL: db migrate: $(cat err)"; fails=$((fails + 1)); }
grep -q 'at schema version 5 already' err || { echo "FAIL: db migrate message: $(cat err)"; fails=$((fails + 1)); }
expect_error "unknown or incomplete flag '--bogus'" "$bin" db migrate --bogus
expect_error "db migrate: --db /nonexistent-dir/x.db: No such file" "$bin" db migrate --db /nonexistent-dir/x.db
N=$(syncd_db "$dir" newer)
syncd_pg || printf 'pw\n' | "$bin" user add nat --password-stdin --db "$N" 2>/dev/null
"$bin" db migrate --db "$N" 2>err || { echo "FAIL: db migrate of a new database: $(cat err)"; fails=$((fails + 1)); }
if syncd_pg; then
    grep -q 'migrated from schema version 0 to 5' err || { echo "FAIL: db migrate (new): $(cat err)"; fails=$((fails + 1)); }
    syncd_sql "$N" "INSERT INTO schema_version VALUES(6, 0)"
else
    grep -q 'at schema version 5 already' err || { echo "FAIL: db migrate (new): $(cat err)"; fails=$((fails + 1)); }
    syncd_sql "$N" "INSERT INTO schema_version VALUES(6, 0); PRAGMA user_version = 6"
fi
expect_error "made by a newer etude-syncd" "$bin" db migrate --db "$N"
printf 'pw\n' | "$bin" user add zed --password-stdin --db "$N" 2>err && { echo "FAIL: user add into a newer database"; fails=$((fails + 1)); }
grep -q 'made by a newer etude-syncd' err || { echo "FAIL: user add into a newer database: $(cat err)"; fails=$((fails + 1)); }
[ "$(syncd_sql "$N" "SELECT max(version) FROM schema_version")" = 6 ] || { echo "FAIL: newer database changed"; fails=$((fails + 1)); }
# Version 4 to 5 (the failed-login counters shared by every process) in place, by db migrate.
O=$(syncd_db "$dir" older)
printf 'pw\n' | "$bin" user add olga --password-stdin --db "$O" 2>/dev/null
syncd_sql "$O" "DROP TABLE login_throttle" && syncd_sql "$O" "UPDATE schema_version SET version=4 WHERE version=5"
syncd_pg || syncd_sql "$O" "PRAGMA user_version = 4"
"$bin" db migrate --db "$O" 2>err || { echo "FAIL: db migrate from 4: $(cat err)"; fails=$((fails + 1)); }
grep -q 'migrated from schema version 4 to 5' err || { echo "FAIL: db migrate from 4: $(cat err)"; fails=$((fails + 1)); }
[ "$(syncd_sql "$O" "SELECT count(*) FROM login_throttle")" = 0 ] || { echo "FAIL: login_throttle after 4 to 5"; fails=$((fails + 1)); }
[ "$(syncd_sql "$O" "SELECT max(version) FROM schema_version")" = 5 ] || { echo "FAIL: schema_version after 4 to 5"; fails=$((fails + 1)); }
# A connection URI's password is never shown (the port is closed: the connection fails).
expect_error "--db: postgresql://ann@127.0.0.1:1/x: cannot open database" "$bin" --listen 127.0.0.1:0 --db postgresql://ann:s3cret@127.0.0.1:1/x
grep -q s3cret err && { echo "FAIL: the password in --db was printed"; fails=$((fails + 1)); }

"$bin" --help | grep -q 'etude-syncd user add NAME' || { echo "FAIL: --help"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok: command line"
