# server_web_lib.sh - shared by the dashboard tests of etude-syncd (server_web_*.sh): a real
# etude-syncd on a free loopback port with a fresh database, curl for HTTP, node for JSON.
#   sourced with: ETUDE_SYNCD=... ETUDE_SOURCE_DIR=... . server_web_lib.sh
set -eu
: "${ETUDE_SYNCD:?set ETUDE_SYNCD}" "${ETUDE_SOURCE_DIR:?set ETUDE_SOURCE_DIR}"
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-syncd-web.XXXXXX")
SERVER_PID=
ETUDE_PG_SOURCED=1 . "$ETUDE_SOURCE_DIR/tests/support/pg_harness.sh"
DB=$(syncd_db "$T" syncd) # a SQLite file, or a PostgreSQL database (ETUDE_SYNCD_BACKEND=postgresql)
OPS="$ETUDE_SOURCE_DIR/sync/schema/operations"
PW_ALICE="alice pw $$"
PW_BOB="bob pw $$"
PW_ROOT="root pw $$"
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    for p in ${EXTRA_PIDS:-}; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
    echo "FAIL: $*" >&2
    [ -f "$T/log" ] && tail -5 "$T/log" >&2
    exit 1
}
ok() { echo "ok: $* ($(date +%s.%N | cut -c1-14))"; }

# users: alice and bob (plain), root (--admin).
add_users() {
    printf '%s\n' "$PW_ALICE" | "$ETUDE_SYNCD" user add alice --password-stdin --db "$DB" 2>/dev/null || fail "user add alice"
    printf '%s\n' "$PW_BOB" | "$ETUDE_SYNCD" user add bob --password-stdin --db "$DB" 2>/dev/null &
    b=$!
    printf '%s\n' "$PW_ROOT" | "$ETUDE_SYNCD" user add root --admin --password-stdin --db "$DB" 2>/dev/null &
    r=$!
    wait $b || fail "user add bob"
    wait $r || fail "user add root"
}

# start [flags...]: serve $DB; sets ADDR and URL.
start() {
    rm -f "$T/ready"
    "$ETUDE_SYNCD" --listen 127.0.0.1:0 --db "$DB" --ready-file "$T/ready" --exit-with-parent "$@" >>"$T/log" 2>&1 &
    SERVER_PID=$!
    i=0
    while [ ! -s "$T/ready" ]; do
        i=$((i + 1))
        [ $i -gt 600 ] && fail "etude-syncd did not start"
        kill -0 "$SERVER_PID" 2>/dev/null || fail "etude-syncd exited at start"
        sleep 0.05
    done
    ADDR=$(cat "$T/ready")
    URL="http://$ADDR"
}

# stop: SIGTERM; the server must stop cleanly (exit 0: under the sanitizer builds a leak or a race
# makes it exit non-zero or abort).
stop() {
    kill "$SERVER_PID" 2>/dev/null
    st=0
    wait "$SERVER_PID" 2>/dev/null || st=$?
    SERVER_PID=
    [ $st = 0 ] || fail "etude-syncd exited with status $st after SIGTERM"
    if grep -q 'Sanitizer' "$T/log"; then fail "sanitizer report in the server's log"; fi
}

# js EXPR: evaluates EXPR with d = the JSON on stdin, prints the result (strings bare).
js() {
    node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const d=JSON.parse(s);const v=(0,eval)("(d)=>("+process.argv[1]+")")(d);process.stdout.write(typeof v==="string"?v:JSON.stringify(v));});' "$1"
}

# jstr KEY: the last string member KEY of the JSON on stdin (no escapes in it).
jstr() { sed -n "s/^[^\"]*\(\"[^\"]*\"[^\"]*\)*\"$1\":\"\([^\"]*\)\".*/\2/p" | head -n 1; }
jcode() { jstr code; }

# body DOC [VARIABLES_JSON]: a GraphQL-over-HTTP request body naming a shipped document by its
# SHA-256 (the persisted-query form), with the variables given.
body() {
    printf '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"%s"}},"variables":%s}' \
        "$(sha256sum <"$OPS/$1.graphql" | cut -c1-64)" "${2:-{\}}"
}
# login_json USER PASSWORD (no quotes or backslashes in either).
login_json() { printf '{"username":"%s","password":"%s"}' "$1" "$2"; }

# req NAME CURL_ARGS...: curl with headers to $T/NAME.h and body to $T/NAME.b; prints the status.
req() {
    n=$1
    shift
    curl -sS --path-as-is -D "$T/$n.h" -o "$T/$n.b" -w '%{http_code}' "$@"
}
# hdr NAME HEADER: the value of a response header (first one), without CR.
hdr() { grep -i "^$2:" "$T/$1.h" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
bodyof() { cat "$T/$1.b"; }

# gql NAME DOC VARS [CURL_ARGS...]: POST /graphql; prints the status.
gql() {
    n=$1 d=$2 v=$3
    shift 3
    body "$d" "$v" >"$T/$n.req"
    req "$n" -H 'Content-Type: application/json' -H 'Accept: application/graphql-response+json' \
        --data-binary "@$T/$n.req" "$@" "$URL/graphql"
}

# web_login NAME USER PASSWORD: POST /session; sets COOKIE (the etude_session value) and CSRF.
web_login() {
    code=$(req "$1" -H 'Content-Type: application/json' --data-binary "$(login_json "$2" "$3")" "$URL/session")
    [ "$code" = 200 ] || fail "POST /session as $2: $code $(bodyof "$1")"
    COOKIE=$(hdr "$1" Set-Cookie | sed -n 's/^etude_session=\([^;]*\);.*/\1/p')
    [ -n "$COOKIE" ] || fail "no etude_session cookie: $(hdr "$1" Set-Cookie)"
    CSRF=$(bodyof "$1" | jstr csrfToken)
}

# bearer_login USER PASSWORD: GraphQL Login; prints the access token.
bearer_login() {
    code=$(gql blogin Login "$(login_json "$1" "$2")")
    [ "$code" = 200 ] || fail "Login $1: $code $(bodyof blogin)"
    bodyof blogin | jstr accessToken
}
