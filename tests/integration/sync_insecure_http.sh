# Plain http:// to a host that is not loopback is refused unless --allow-insecure-http is given
# (remembered with the token); loopback (127.0.0.0/8, ::1, localhost) is accepted as before.
# Fails on fd82c7f: the login to http://192.0.2.1 is attempted (a network error after the request
# timeout, not a refusal naming the flag), and the flag is an unknown option.
. "$(dirname "$0")/sync_lib.sh"
start_server
settings a '{"requestTimeoutSeconds": 1, "maxRetries": 0}'
dev a sync login --server http://192.0.2.1:9 --user alice --password-stdin </dev/null 2>"$T/err" <<<"x" &&
    fail "login over plain http to a non-loopback host was accepted"
cat "$T/err"
[ "$(wc -l <"$T/err")" = 1 ] || fail "expected a one-line error"
grep -q -- "--allow-insecure-http" "$T/err" || fail "error does not name --allow-insecure-http"
[ ! -f "$T/a/sync-token.json" ] || fail "a token was written"
dev a sync login --server "http://[2001:db8::1]:9/" --user alice --password-stdin <<<"x" 2>"$T/err" &&
    fail "IPv6 non-loopback accepted"
grep -q -- "--allow-insecure-http" "$T/err" || fail "IPv6: error does not name the flag"
# With the flag the login is attempted (and fails only because nothing listens there).
dev a sync login --server http://192.0.2.1:9 --user alice --password-stdin --allow-insecure-http <<<"x" 2>"$T/err" &&
    fail "login to a blackhole address succeeded"
grep -q -- "--allow-insecure-http" "$T/err" && fail "refused despite the flag: $(cat "$T/err")"
# Loopback spelled three ways works without the flag.
port=${SERVER_ADDR##*:}
login a "http://localhost:$port" >/dev/null || fail "login via localhost"
login a "http://127.0.0.1:$port/" >/dev/null || fail "login via 127.0.0.1"
dev a log note "over loopback" >/dev/null
dev a sync now >/dev/null || fail "sync over loopback"
converged a
echo PASS
