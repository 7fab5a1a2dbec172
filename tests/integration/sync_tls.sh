# Transport security: etude-syncd over TLS with a certificate from a CA made here with certtool;
# `--cacert` trusts it, and without it the certificate is refused (verification is on by default).
. "$(dirname "$0")/sync_lib.sh"
cd "$T"
cat >ca.tmpl <<'E'
cn = "etude test CA"
ca
cert_signing_key
expiration_days = 2
E
cat >srv.tmpl <<'E'
cn = "127.0.0.1"
ip_address = "127.0.0.1"
dns_name = "localhost"
tls_www_server
encryption_key
signing_key
expiration_days = 2
E
certtool --generate-privkey --key-type ecdsa --outfile ca.key 2>/dev/null || fail "certtool ca key"
certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem 2>/dev/null || fail "ca"
certtool --generate-privkey --key-type ecdsa --outfile srv.key 2>/dev/null || fail "certtool srv key"
certtool --generate-certificate --load-privkey srv.key --load-ca-certificate ca.pem --load-ca-privkey ca.key \
    --template srv.tmpl --outfile srv.pem 2>/dev/null || fail "server cert"
# A second, unrelated CA: a client trusting it must refuse the server.
certtool --generate-privkey --key-type ecdsa --outfile other.key 2>/dev/null
certtool --generate-self-signed --load-privkey other.key --template ca.tmpl --outfile other.pem 2>/dev/null
start_server --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
URL="https://$SERVER_ADDR"
dev a log note "over tls" >/dev/null
printf '%s\n' "$PASSWORD" | dev a sync login --server "$URL" --user alice --password-stdin 2>"$T/err" &&
    fail "login without --cacert trusted a private CA"
cat "$T/err"
grep -qi "certificate\|SSL" "$T/err" || fail "error does not name the certificate: $(cat "$T/err")"
[ ! -e "$T/a/sync-token.json" ] || fail "token written after a failed login"
printf '%s\n' "$PASSWORD" | dev a sync login --server "$URL" --user alice --password-stdin --cacert "$T/other.pem" 2>"$T/err" &&
    fail "login trusted the wrong CA"
printf '%s\n' "$PASSWORD" | dev a sync login --server "$URL" --user alice --password-stdin --cacert "$T/missing.pem" 2>"$T/err" &&
    fail "login accepted a missing --cacert file"
grep -q -- "--cacert" "$T/err" || fail "missing CA error does not name --cacert"
out=$(printf '%s\n' "$PASSWORD" | dev a sync login --server "$URL" --user alice --password-stdin --cacert "$T/ca.pem") ||
    fail "login with --cacert: $out"
echo "$out" | grep -q "1 uploaded" || fail "login: $out"
dev a log note "second" >/dev/null
dev a sync now >/dev/null || fail "sync now over tls (the CA is remembered)"
converged a
echo PASS
