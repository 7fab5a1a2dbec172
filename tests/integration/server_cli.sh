#!/bin/sh
# server_cli.sh - etude-syncd's command line: every bad flag or argument exits non-zero with one line
# naming it, `user add` hashes with argon2id and refuses duplicates, and nothing is half-written.
#   usage: server_cli.sh ETUDE_SYNCD
set -eu
bin=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/etude-syncd-cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
cd "$dir"
fails=0
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
expect_error "NAME 'bad name' must be" "$bin" user add 'bad name' --password-stdin --db u.db
expect_error "unknown or incomplete flag '--pw'" "$bin" user add ann --pw x --db u.db
expect_error "password: nothing on stdin" "$bin" user add ann --password-stdin --db u.db
expect_error "--password-stdin is required" "$bin" user add ann --db u.db
[ -e u.db ] && { echo "FAIL: refused commands created u.db"; fails=$((fails + 1)); }
printf '\n' | "$bin" user add ann --password-stdin --db u.db 2>err && { echo "FAIL: empty password accepted"; fails=$((fails + 1)); }
grep -q 'password: empty' err || { echo "FAIL: empty password message: $(cat err)"; fails=$((fails + 1)); }
printf 'pw one\n' | "$bin" user add ann --password-stdin --db u.db 2>err || { echo "FAIL: user add: $(cat err)"; fails=$((fails + 1)); }
printf 'pw two\n' | "$bin" user add ann --password-stdin --db u.db 2>err && { echo "FAIL: duplicate user accepted"; fails=$((fails + 1)); }
grep -q "NAME 'ann' already exists" err || { echo "FAIL: duplicate message: $(cat err)"; fails=$((fails + 1)); }
[ "$(sqlite3 u.db "SELECT count(*) FROM users")" = 1 ] || { echo "FAIL: user rows"; fails=$((fails + 1)); }
[ "$(sqlite3 u.db "SELECT admin FROM users WHERE name='ann'")" = 0 ] || { echo "FAIL: ann is an admin"; fails=$((fails + 1)); }
printf 'pw ops\n' | "$bin" user add ops --admin --password-stdin --db u.db 2>err || { echo "FAIL: user add --admin: $(cat err)"; fails=$((fails + 1)); }
[ "$(sqlite3 u.db "SELECT admin FROM users WHERE name='ops'")" = 1 ] || { echo "FAIL: --admin not stored"; fails=$((fails + 1)); }
sqlite3 u.db "SELECT pwhash FROM users" | grep -q '^\$argon2id\$' || { echo "FAIL: not argon2id"; fails=$((fails + 1)); }
sqlite3 u.db "SELECT pwhash FROM users" | grep -q 'pw one' && { echo "FAIL: plain password stored"; fails=$((fails + 1)); }
[ "$(sqlite3 u.db 'PRAGMA journal_mode')" = wal ] || { echo "FAIL: not WAL"; fails=$((fails + 1)); }
"$bin" --help | grep -q 'etude-syncd user add NAME' || { echo "FAIL: --help"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok: command line"
