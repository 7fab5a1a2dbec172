#!/bin/sh
# server_tls.sh - etude-syncd over HTTPS: generates a test CA and a server certificate for 127.0.0.1
# with certtool, serves with --tls-cert/--tls-key, and checks curl trusts it only with --cacert.
#   usage: server_tls.sh ETUDE_SYNCD SOURCE_DIR
set -eu
bin=$1
src=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/etude-syncd-tls.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; [ -f "$dir/log" ] && cat "$dir/log" >&2; exit 1; }
cd "$dir"
ETUDE_PG_SOURCED=1 . "$src/tests/support/pg_harness.sh"
DB=$(syncd_db "$dir" syncd) # a SQLite file, or a PostgreSQL database (ETUDE_SYNCD_BACKEND=postgresql)

cat > ca.tmpl <<T
cn = "etude test CA"
ca
cert_signing_key
expiration_days = 2
T
cat > server.tmpl <<T
cn = "127.0.0.1"
ip_address = "127.0.0.1"
dns_name = "localhost"
tls_www_server
encryption_key
signing_key
expiration_days = 2
T
certtool --generate-privkey --key-type=ecdsa --outfile ca.key 2>/dev/null
certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem 2>/dev/null
certtool --generate-privkey --key-type=ecdsa --outfile server.key 2>/dev/null
certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem \
    --load-ca-privkey ca.key --template server.tmpl --outfile server.pem 2>/dev/null
# A second, unrelated CA the client must not accept the server with.
certtool --generate-privkey --key-type=ecdsa --outfile other.key 2>/dev/null
certtool --generate-self-signed --load-privkey other.key --template ca.tmpl --outfile other.pem 2>/dev/null

printf 'tls-pw\n' | "$bin" user add erin --password-stdin --db "$DB" 2>/dev/null || fail "user add"

# Flag errors name the flag and exit non-zero.
if "$bin" --db "$DB" --tls-cert server.pem 2>err; then fail "--tls-cert without --tls-key accepted"; fi
grep -q -- '--tls-cert: needs --tls-key' err || fail "unclear error: $(cat err)"
if "$bin" --db "$DB" --tls-cert server.pem --tls-key missing.key 2>err; then fail "missing key file accepted"; fi
grep -q -- '--tls-key: cannot read missing.key' err || fail "unclear error: $(cat err)"

"$bin" --listen 127.0.0.1:0 --db "$DB" --tls-cert server.pem --tls-key server.key --ready-file ready --exit-with-parent 2>log &
pid=$!
i=0
while [ ! -f ready ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "server did not start"
    kill -0 "$pid" 2>/dev/null || fail "server exited"
    sleep 0.05
done
addr=$(cat ready)
grep -q "listening on https://$addr" log || fail "log does not say https"

out=$(curl -sS --cacert ca.pem "https://$addr/healthz") || fail "curl --cacert failed"
[ "$out" = '{"status":"ok"}' ] || fail "healthz over TLS: $out"
query=$(node -e 'const fs=require("fs");process.stdout.write(JSON.stringify({query:fs.readFileSync(process.argv[1],"utf8"),variables:{username:"erin",password:"tls-pw"}}))' "$src/sync/schema/operations/Login.graphql")
resp=$(curl -sS --cacert ca.pem -H 'Content-Type: application/json' -H 'Accept: application/graphql-response+json' \
    --data-binary "$query" -w '\n%{http_code}' "https://$addr/graphql") || fail "login over TLS"
[ "$(echo "$resp" | tail -n 1)" = 200 ] || fail "login status: $resp"
echo "$resp" | head -n 1 | grep -q '"accessToken":"' || fail "no token: $resp"

# The dashboard's session cookie is Secure under TLS (fails on 0fae006 with the "; Secure" of
# set_cookie() removed: "cookie over TLS not Secure"),
# and the page's origin is https://ADDR: the same host over http is another origin.
code=$(curl -sS --cacert ca.pem -D h -o b -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Origin: https://$addr" --data-binary '{"username":"erin","password":"tls-pw"}' "https://$addr/session") || fail "POST /session over TLS"
[ "$code" = 200 ] || fail "POST /session over TLS: $code $(cat b)"
sc=$(grep -i '^set-cookie: etude_session=' h | tr -d '\r')
echo "$sc" | grep -q '; HttpOnly; SameSite=Strict; Max-Age=[0-9]*; Secure$' || fail "cookie over TLS not Secure: $sc"
grep -qi '^content-security-policy: ' h || fail "no CSP over TLS"
code=$(curl -sS --cacert ca.pem -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Origin: http://$addr" --data-binary '{"username":"erin","password":"tls-pw"}' "https://$addr/session") || true
[ "$code" = 403 ] || fail "login from http://$addr (another origin than https://$addr) answered $code"

# Untrusted without the CA, or with the wrong CA; plain HTTP to the TLS port gets no answer.
if curl -sS -o /dev/null "https://$addr/healthz" 2>/dev/null; then fail "trusted without --cacert"; fi
if curl -sS -o /dev/null --cacert other.pem "https://$addr/healthz" 2>/dev/null; then fail "trusted with another CA"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$addr/healthz" || true)
[ "$code" = 000 ] || fail "plain HTTP answered $code on the TLS port"

kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
grep -q 'stopped cleanly' log || fail "no clean stop"
echo "ok: TLS with a generated CA ($addr)"
